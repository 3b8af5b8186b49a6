//! The two keyrings of the chain, through keyring-core: the Secret Service over D-Bus and
//! the kernel's keyutils. Each opens on first use, and reports itself unavailable (so the
//! chain passes it over) when this host has no such keyring. No test touches these: tests
//! use [`super::MemoryStore`].

use std::sync::{Arc, OnceLock};

use keyring_core::{CredentialStore, Entry, Error};

use super::{Backend, Secret, StoreError, StoreKind};

/// A keyring-core store, opened on first use.
pub(super) struct KeyringBackend {
    kind: StoreKind,
    open: fn() -> Result<Arc<CredentialStore>, String>,
    store: OnceLock<Result<Arc<CredentialStore>, String>>,
    /// Runs before every operation, on the calling thread.
    prepare: fn() -> Result<(), String>,
}

pub(super) fn secret_service() -> KeyringBackend {
    KeyringBackend {
        kind: StoreKind::SecretService,
        open: open_secret_service,
        store: OnceLock::new(),
        prepare: || Ok(()),
    }
}

pub(super) fn keyutils() -> KeyringBackend {
    KeyringBackend {
        kind: StoreKind::Keyutils,
        open: || {
            linux_keyutils_keyring_store::Store::new()
                .map(|s| s as Arc<CredentialStore>)
                .map_err(|e| describe(&e))
        },
        store: OnceLock::new(),
        prepare: session_keyring::ensure,
    }
}

#[cfg(feature = "secret-service")]
fn open_secret_service() -> Result<Arc<CredentialStore>, String> {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none_or(|v| v.is_empty()) {
        return Err("DBUS_SESSION_BUS_ADDRESS is not set (no desktop session)".to_owned());
    }
    zbus_secret_service_keyring_store::Store::new()
        .map(|s| s as Arc<CredentialStore>)
        .map_err(|e| describe(&e))
}

#[cfg(not(feature = "secret-service"))]
fn open_secret_service() -> Result<Arc<CredentialStore>, String> {
    Err("this ck8s-console was built without the cargo feature `secret-service`".to_owned())
}

/// keyring-core's message for `err`, leaving out anything that could hold secret bytes.
fn describe(err: &Error) -> String {
    match err {
        Error::PlatformFailure(e) | Error::NoStorageAccess(e) => e.to_string(),
        Error::BadEncoding(_) | Error::BadDataFormat(..) => {
            "the stored value is not in the expected format".to_owned()
        }
        Error::Ambiguous(items) => format!("{} entries match", items.len()),
        other => other.to_string(),
    }
}

fn classify(err: &Error) -> StoreError {
    match err {
        Error::NoStorageAccess(_) => StoreError::Unavailable(describe(err)),
        _ => StoreError::Failed(describe(err)),
    }
}

impl KeyringBackend {
    fn entry(&self, name: &str) -> Result<Entry, StoreError> {
        let store = self
            .store
            .get_or_init(self.open)
            .as_ref()
            .map_err(|reason| StoreError::Unavailable(reason.clone()))?;
        (self.prepare)().map_err(StoreError::Unavailable)?;
        Entry::new_in_store(store, super::SERVICE, name).map_err(|e| classify(&e))
    }
}

impl Backend for KeyringBackend {
    fn kind(&self) -> StoreKind {
        self.kind
    }

    fn describe(&self, _: &str) -> String {
        match self.kind {
            StoreKind::SecretService => "the Secret Service (desktop keyring)".to_owned(),
            _ => "the kernel keyring (keyutils)".to_owned(),
        }
    }

    fn get(&self, name: &str) -> Result<Option<Secret>, StoreError> {
        match self.entry(name)?.get_password() {
            Ok(text) => Secret::from_json(&text).map(Some).map_err(|reason| {
                StoreError::Failed(format!(
                    "{}: credential `{name}`: {reason}",
                    self.describe(name)
                ))
            }),
            Err(Error::NoEntry) => Ok(None),
            Err(e) => Err(classify(&e)),
        }
    }

    fn set(&self, name: &str, secret: &Secret) -> Result<(), StoreError> {
        self.entry(name)?
            .set_password(&secret.to_json())
            .map_err(|e| classify(&e))
    }

    fn delete(&self, name: &str) -> Result<bool, StoreError> {
        match self.entry(name)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(Error::NoEntry) => Ok(false),
            Err(e) => Err(classify(&e)),
        }
    }
}

/// The session keyring keyutils needs. Without a login session (cron, systemd services,
/// containers, `su` without `-l`) a process has only the user-default session keyring
/// `_uid_ses.<uid>`, and the kernel refuses to link a key from it into the persistent
/// keyring (EACCES). Joining a new anonymous session keyring fixes that; the key itself
/// lives in the per-user persistent keyring, which every later session links in again.
mod session_keyring {
    const KEYCTL_GET_KEYRING_ID: libc::c_long = 0;
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    const KEYCTL_DESCRIBE: libc::c_long = 6;
    const KEY_SPEC_SESSION_KEYRING: libc::c_long = -3;

    /// Joins an anonymous session keyring if the calling thread has only the user-default
    /// one. Session keyrings belong to a thread's credentials, so this runs on the thread
    /// that is about to use keyutils.
    pub(super) fn ensure() -> Result<(), String> {
        if !is_user_default()? {
            return Ok(());
        }
        // SAFETY: keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL) takes no memory from us.
        let id = unsafe {
            libc::syscall(
                libc::SYS_keyctl,
                KEYCTL_JOIN_SESSION_KEYRING,
                std::ptr::null::<libc::c_char>(),
            )
        };
        if id < 0 {
            return Err(format!(
                "cannot join a session keyring: {}",
                std::io::Error::last_os_error()
            ));
        }
        tracing::debug!("joined an anonymous session keyring for keyutils");
        Ok(())
    }

    /// Whether the session keyring is the user-default `_uid_ses.<uid>` (which the kernel
    /// also answers with when there is no session keyring at all).
    fn is_user_default() -> Result<bool, String> {
        let os_error = |what: &str| format!("{what}: {}", std::io::Error::last_os_error());
        // SAFETY: plain integer arguments.
        let id = unsafe {
            libc::syscall(
                libc::SYS_keyctl,
                KEYCTL_GET_KEYRING_ID,
                KEY_SPEC_SESSION_KEYRING,
                0 as libc::c_long,
            )
        };
        if id < 0 {
            return Err(os_error("keyutils is not available"));
        }
        let mut buf = [0u8; 512];
        // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`.
        let n = unsafe {
            libc::syscall(
                libc::SYS_keyctl,
                KEYCTL_DESCRIBE,
                id,
                buf.as_mut_ptr(),
                buf.len(),
            )
        };
        if n < 0 {
            return Err(os_error("cannot describe the session keyring"));
        }
        let len = (n as usize).min(buf.len());
        let text = String::from_utf8_lossy(&buf[..len]);
        // "type;uid;gid;perm;description", NUL-terminated.
        let description = text.trim_end_matches('\0').rsplit(';').next().unwrap_or("");
        Ok(description.starts_with("_uid_ses."))
    }
}

/// How long a keyutils secret lasts, for the message `credentials set` prints.
pub fn keyutils_lifetime() -> String {
    let days = std::fs::read_to_string("/proc/sys/kernel/keys/persistent_keyring_expiry")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map_or(3, |secs| secs / 86_400);
    format!(
        "the kernel keeps it in memory only: it lasts until the next reboot, or until it has \
         not been used for {days} day{}; keep a copy elsewhere, or use --insecure-storage \
         with {}=file for a file that lasts",
        if days == 1 { "" } else { "s" },
        super::KEYRING_ENV
    )
}
