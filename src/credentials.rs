//! `ck8s-console credentials set | check | delete`: the credential store from the command
//! line. Secrets come in on standard input (a prompt without echo on a terminal) and never
//! go out: `check` says where a credential is, not what it is.

use std::io::{self, BufRead as _, IsTerminal as _, Read as _, Write as _};

use crate::cli::{CredentialsAction, CredentialsArgs};
use crate::exit;
use crate::paths::Paths;
use crate::secrets::{CredentialError, Secret, SecretStore, StoreKind, env_var};

/// Runs one `credentials` action; returns the exit code. Messages go to stderr, results
/// (where a credential is) to stdout.
pub fn run(args: &CredentialsArgs, paths: &Paths) -> anyhow::Result<i32> {
    let store = match SecretStore::from_env(&paths.credentials_file) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::USAGE);
        }
    };
    Ok(match &args.action {
        CredentialsAction::Set {
            name,
            username,
            insecure_storage,
        } => set(&store, name, username.as_deref(), *insecure_storage),
        CredentialsAction::Check { name } => check(&store, name),
        CredentialsAction::Delete { name } => delete(&store, name),
    })
}

fn set(store: &SecretStore, name: &str, username: Option<&str>, insecure: bool) -> i32 {
    let what = if username.is_some() {
        "password"
    } else {
        "bearer token"
    };
    let text = match read_secret(name, what) {
        Ok(text) => text,
        Err(ReadError::Usage(message)) => {
            eprintln!("error: {message}");
            return exit::USAGE;
        }
        Err(ReadError::Io(e)) => {
            eprintln!("error: cannot read the {what} from standard input: {e}");
            return exit::FAILURE;
        }
    };
    let secret = match username {
        Some(user) => Secret::basic(user, text),
        None => Secret::bearer(text),
    };
    if let Err(reason) = secret.check() {
        eprintln!("error: credential `{name}` not stored: {reason}");
        return exit::USAGE;
    }
    match store.set(name, &secret, insecure) {
        Ok(stored) => {
            println!(
                "stored credential `{name}` ({}) in {}",
                secret.kind(),
                stored.store
            );
            match stored.kind {
                StoreKind::Keyutils => eprintln!("note: {}", crate::secrets::keyutils_lifetime()),
                StoreKind::File => eprintln!(
                    "warning: the secret is in plain text; only your user can read the file \
                     (mode 0600), but backups and anyone with root can"
                ),
                _ => {}
            }
            if std::env::var_os(env_var(name)).is_some() {
                eprintln!(
                    "note: {} is set in this environment and takes precedence over the stored \
                     credential",
                    env_var(name)
                );
            }
            exit::OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            if matches!(e, CredentialError::NoWritableStore { .. }) && !insecure {
                eprintln!(
                    "  help: pass --insecure-storage to keep it in {} (plain text, mode 0600), \
                     or set {} where the console runs",
                    store_file(store),
                    env_var(name)
                );
            }
            exit::FAILURE
        }
    }
}

fn store_file(store: &SecretStore) -> String {
    store
        .backends()
        .find(|b| b.kind() == StoreKind::File)
        .map_or_else(|| "the credentials file".to_owned(), |b| b.describe(""))
}

fn check(store: &SecretStore, name: &str) -> i32 {
    match store.get(name) {
        Ok(found) => {
            println!(
                "credential `{name}` ({}) is in {}",
                found.secret.kind(),
                found.store
            );
            exit::OK
        }
        Err(e) => {
            eprintln!("{e}");
            exit::FAILURE
        }
    }
}

fn delete(store: &SecretStore, name: &str) -> i32 {
    let (removed, problems) = store.delete(name);
    for stored in &removed {
        println!("deleted credential `{name}` from {}", stored.store);
    }
    for problem in &problems {
        eprintln!("error: {problem}");
    }
    let in_env = std::env::var_os(env_var(name)).is_some();
    if in_env {
        eprintln!(
            "note: {} is still set in this environment; unset it there",
            env_var(name)
        );
    }
    match (removed.is_empty(), problems.is_empty()) {
        (false, true) => exit::OK,
        (true, true) if !in_env => {
            eprintln!("credential `{name}` is not in any credential store");
            exit::FAILURE
        }
        _ => exit::FAILURE,
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the secret
// ---------------------------------------------------------------------------------------------

enum ReadError {
    /// Bad input: nothing given, not UTF-8.
    Usage(String),
    Io(io::Error),
}

/// The secret from standard input: one line from a terminal, typed without echo after a
/// prompt on stderr; otherwise everything, without the final line break.
fn read_secret(name: &str, what: &str) -> Result<String, ReadError> {
    let stdin = io::stdin();
    let mut bytes = Vec::new();
    if stdin.is_terminal() {
        eprint!("{what} for credential `{name}` (input hidden): ");
        let _ = io::stderr().flush();
        let echo_off = EchoOff::new(libc::STDIN_FILENO).map_err(ReadError::Io)?;
        let mut line = String::new();
        let read = stdin.lock().read_line(&mut line);
        drop(echo_off);
        read.map_err(ReadError::Io)?;
        bytes = line.into_bytes();
    } else {
        stdin
            .lock()
            .read_to_end(&mut bytes)
            .map_err(ReadError::Io)?;
    }
    let mut text = String::from_utf8(bytes)
        .map_err(|_| ReadError::Usage(format!("the {what} is not UTF-8 text")))?;
    for ending in ["\n", "\r"] {
        if text.ends_with(ending) {
            text.pop();
        }
    }
    if text.is_empty() {
        return Err(ReadError::Usage(format!(
            "no {what} on standard input; pipe it in, e.g. \
             `ck8s-console credentials set {name} < token.txt`"
        )));
    }
    Ok(text)
}

/// Turns the terminal's echo off until dropped, and back on if the process is interrupted
/// (SIGINT, SIGTERM, SIGHUP) while it is off: every exit path leaves a working terminal.
struct EchoOff {
    fd: libc::c_int,
    saved: libc::termios,
    signals: Option<(signal_hook::iterator::Handle, std::thread::JoinHandle<()>)>,
}

impl EchoOff {
    fn new(fd: libc::c_int) -> io::Result<EchoOff> {
        // SAFETY: tcgetattr writes one termios into the zeroed value.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut quiet = saved;
        quiet.c_lflag &= !libc::ECHO;
        // Still echo the Enter, so the next output starts on a new line.
        quiet.c_lflag |= libc::ECHONL;
        let signals = watch_signals(fd, saved);
        // SAFETY: `quiet` is a valid termios from tcgetattr.
        if unsafe { libc::tcsetattr(fd, libc::TCSAFLUSH, &quiet) } != 0 {
            let err = io::Error::last_os_error();
            if let Some((handle, thread)) = signals {
                handle.close();
                let _ = thread.join();
            }
            return Err(err);
        }
        Ok(EchoOff { fd, saved, signals })
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        // SAFETY: restores the termios read in `new`.
        unsafe { libc::tcsetattr(self.fd, libc::TCSAFLUSH, &self.saved) };
        if let Some((handle, thread)) = self.signals.take() {
            handle.close();
            let _ = thread.join();
        }
    }
}

/// A thread that restores `saved` and exits with 128 + the signal's number when the process
/// is interrupted during the prompt.
fn watch_signals(
    fd: libc::c_int,
    saved: libc::termios,
) -> Option<(signal_hook::iterator::Handle, std::thread::JoinHandle<()>)> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]).ok()?;
    let handle = signals.handle();
    let thread = std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            // SAFETY: restores the termios read before echo was turned off.
            unsafe { libc::tcsetattr(fd, libc::TCSAFLUSH, &saved) };
            eprintln!();
            std::process::exit(128 + signal);
        }
    });
    Some((handle, thread))
}
