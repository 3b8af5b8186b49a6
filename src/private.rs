//! The state dir holds run journals, the audit log and logs: who changed what in which
//! customer's cluster. Only the user may read them: what the process creates is private
//! (umask 077: directories 0700, files 0600) whatever the login shell's umask, and a state
//! dir left readable by an older version loses the group's and others' rights at start.

use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// What the console keeps in the state dir, and tightens; nothing else there is touched
/// (a state dir may be shared with other things, even be `$HOME`).
const OURS: [&str; 4] = ["runs", "logs", "demo", "audit.jsonl"];

/// How deep the tightening walks below those (`demo/runs/<id>.jsonl`).
const MAX_DEPTH: usize = 3;

/// Makes every file and directory this process creates private to the user, and takes
/// the group's and others' rights away from what the console already keeps in
/// `state_dir`. Only the user's own entries are changed; a problem with one entry is
/// reported and the rest are still done.
pub fn restrict(state_dir: &Path) -> io::Result<()> {
    // SAFETY: umask only sets the process's file mode creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
    match std::fs::symlink_metadata(state_dir) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    let mut first_error = tighten(state_dir).err();
    for name in OURS {
        let path = state_dir.join(name);
        if let Err(e) = tighten_tree(&path, 0) {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Clears the group and other bits of `path` if it is the user's own, not a symlink.
fn tighten(path: &Path) -> io::Result<std::fs::Metadata> {
    let meta = std::fs::symlink_metadata(path)?;
    // SAFETY: geteuid only reads the process's effective user id.
    let me = unsafe { libc::geteuid() };
    if meta.file_type().is_symlink() || meta.uid() != me {
        return Ok(meta);
    }
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & !0o077))?;
    }
    Ok(meta)
}

fn tighten_tree(path: &Path, depth: usize) -> io::Result<()> {
    let meta = match tighten(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        other => other?,
    };
    if !meta.is_dir() || meta.file_type().is_symlink() || depth >= MAX_DEPTH {
        return Ok(());
    }
    let mut first_error = None;
    for entry in std::fs::read_dir(path)? {
        if let Err(e) = entry.and_then(|e| tighten_tree(&e.path(), depth + 1)) {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn an_open_state_dir_is_tightened_and_new_files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir_all(state.join("runs")).unwrap();
        std::fs::write(state.join("runs/r.jsonl"), "{}\n").unwrap();
        std::fs::write(state.join("audit.jsonl"), "{}\n").unwrap();
        for p in [&state, &state.join("runs")] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::set_permissions(
            state.join("audit.jsonl"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        std::fs::write(state.join("script.sh"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(
            state.join("script.sh"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        restrict(&state).unwrap();
        assert_eq!(mode(&state), 0o700);
        assert_eq!(
            mode(&state.join("script.sh")),
            0o755,
            "what the console does not keep there is left alone"
        );
        assert_eq!(mode(&state.join("runs")), 0o700);
        assert_eq!(mode(&state.join("runs/r.jsonl")), 0o600);
        assert_eq!(mode(&state.join("audit.jsonl")), 0o600);
        std::fs::write(state.join("new.log"), "x").unwrap();
        assert_eq!(
            mode(&state.join("new.log")),
            0o600,
            "the umask holds for new files"
        );
    }
}
