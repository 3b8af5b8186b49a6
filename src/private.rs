//! The state dir holds run journals, the audit log and logs: who changed what in which
//! customer's cluster. Only the user may read them: the state dir and the directories in
//! it are 0700, the files 0600, whatever the login shell's umask, and a state dir left
//! readable by an older version is tightened at start.

use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// How deep the tightening walks (state dir, `runs/`, `logs/`, `demo/runs/`, ...).
const MAX_DEPTH: usize = 4;

/// Makes every file and directory this process creates private to the user, and tightens
/// what `state_dir` already holds. A file owned by someone else is left alone.
pub fn restrict(state_dir: &Path) -> io::Result<()> {
    // SAFETY: umask only sets the process's file mode creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
    match std::fs::symlink_metadata(state_dir) {
        Ok(_) => tighten(state_dir, 0),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn tighten(path: &Path, depth: usize) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    // SAFETY: geteuid only reads the process's effective user id.
    let me = unsafe { libc::geteuid() };
    if meta.file_type().is_symlink() || meta.uid() != me {
        return Ok(());
    }
    let mode = if meta.is_dir() { 0o700 } else { 0o600 };
    if meta.permissions().mode() & 0o777 != mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    if meta.is_dir() && depth < MAX_DEPTH {
        for entry in std::fs::read_dir(path)? {
            tighten(&entry?.path(), depth + 1)?;
        }
    }
    Ok(())
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
        restrict(&state).unwrap();
        assert_eq!(mode(&state), 0o700);
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
