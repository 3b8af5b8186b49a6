//! The credential store: the bearer tokens and user names and passwords that a cluster's
//! Prometheus and Alertmanager ask for. The fleet config only names a credential
//! (`prometheus_credential = "acme-metrics"`); the secret itself lives here, and nowhere
//! else: never in logs, journals, audit records, snapshots or on the screen. [`Secret`]
//! prints as `<redacted>` whichever way it is formatted.
//!
//! A [`SecretStore`] is a chain of [`Backend`]s, asked in order; the first that holds a
//! name wins:
//! 1. the environment variable `CK8S_CONSOLE_SECRET_<NAME>` (the name upper-cased, every
//!    character but a letter or digit turned into `_`), for CI and headless use. Read-only.
//! 2. the Secret Service (GNOME Keyring, KWallet) over D-Bus, when `DBUS_SESSION_BUS_ADDRESS`
//!    is set and the service answers (cargo feature `secret-service`, on by default);
//! 3. the kernel keyring (keyutils), through the per-user persistent keyring: it survives
//!    logouts, but not a reboot, and expires after 3 days without use. A process that only
//!    has the user-default session keyring (no login session, e.g. started by cron or a
//!    container runtime) joins an anonymous session keyring first, or the kernel refuses to
//!    link the key into the persistent keyring;
//! 4. the file `$XDG_CONFIG_HOME/ck8s-console/credentials.toml`: plain text, mode 0600,
//!    written only with an explicit `--insecure-storage`, read whenever it is there (and
//!    refused when group or others can access it).
//!
//! `set` stores in the first writable store of the chain. `CK8S_CONSOLE_KEYRING` narrows the
//! chain: `auto` (the default, as above), `secret-service` or `keyutils` (only that keyring),
//! `file` (no keyring: the file is the only writable store), `none` (environment variables
//! only). Tests pin it so they never touch a real keyring.
//!
//! A secret is stored as a small JSON value: `{"token":"..."}` for a bearer token, or
//! `{"username":"...","password":"..."}` for basic auth. An environment variable holds either
//! such a JSON object or a bare bearer token.

mod keyring;

pub use keyring::keyutils_lifetime;

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

use serde::{Deserialize, Serialize};

use ck8s_model::paths::{PathEnv, Paths};

/// The service name under which the keyrings hold ck8s-console's credentials; the
/// credential's name is the entry's user.
pub const SERVICE: &str = "ck8s-console";

/// Prefix of the environment variables that hold credentials.
pub const ENV_PREFIX: &str = "CK8S_CONSOLE_SECRET_";

/// The environment variable that narrows the chain of stores.
pub const KEYRING_ENV: &str = "CK8S_CONSOLE_KEYRING";

/// The file store's name under the config dir.
pub use ck8s_model::paths::CREDENTIALS_FILE_NAME as FILE_NAME;

// ---------------------------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------------------------

/// A bearer token, or a user name and password for basic auth. `Debug` and `Display` print
/// `<redacted>`; the value leaves this type only as an HTTP header or into a store.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    Bearer(String),
    Basic { username: String, password: String },
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How a secret is stored: one JSON object, distinguished by its keys.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Wire {
    Bearer(WireBearer),
    Basic(WireBasic),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireBearer {
    token: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireBasic {
    username: String,
    password: String,
}

/// What a stored value must look like; parse errors say this instead of serde's message,
/// which could quote the value.
const FORMAT: &str = r#"a JSON object {"token": "..."} or {"username": "...", "password": "..."}"#;

impl Secret {
    pub fn bearer(token: impl Into<String>) -> Secret {
        Secret::Bearer(token.into())
    }

    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Secret {
        Secret::Basic {
            username: username.into(),
            password: password.into(),
        }
    }

    /// What kind of secret, for messages: "bearer token" or "basic auth".
    pub fn kind(&self) -> &'static str {
        match self {
            Secret::Bearer(_) => "bearer token",
            Secret::Basic { .. } => "basic auth",
        }
    }

    /// The JSON value a store keeps.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.to_wire()).expect("two strings always serialize")
    }

    /// Reads a stored JSON value. The error never quotes the value.
    pub fn from_json(text: &str) -> Result<Secret, String> {
        let wire: Wire = serde_json::from_str(text).map_err(|_| format!("not {FORMAT}"))?;
        let secret = Secret::from_wire(wire);
        secret.check()?;
        Ok(secret)
    }

    /// An environment variable's value: a JSON object as stores keep it, or a bare token.
    fn from_env_value(text: &str) -> Result<Secret, String> {
        let trimmed = text.trim();
        if trimmed.starts_with('{') {
            Secret::from_json(trimmed)
        } else {
            let secret = Secret::bearer(trimmed);
            secret.check()?;
            Ok(secret)
        }
    }

    /// Refuses empty values, and values that cannot travel in an HTTP header.
    pub fn check(&self) -> Result<(), String> {
        let parts: &[(&str, &str)] = match self {
            Secret::Bearer(token) => &[("token", token)],
            Secret::Basic { username, password } => {
                &[("username", username), ("password", password)]
            }
        };
        for (what, value) in parts {
            if value.is_empty() {
                return Err(format!("the {what} is empty"));
            }
            if value.chars().any(|c| c.is_control()) {
                return Err(format!(
                    "the {what} contains a control character (a line break?)"
                ));
            }
        }
        if let Secret::Basic { username, .. } = self
            && username.contains(':')
        {
            return Err("a basic-auth user name cannot contain ':'".to_owned());
        }
        Ok(())
    }

    fn to_wire(&self) -> Wire {
        match self {
            Secret::Bearer(token) => Wire::Bearer(WireBearer {
                token: token.clone(),
            }),
            Secret::Basic { username, password } => Wire::Basic(WireBasic {
                username: username.clone(),
                password: password.clone(),
            }),
        }
    }

    fn from_wire(wire: Wire) -> Secret {
        match wire {
            Wire::Bearer(b) => Secret::Bearer(b.token),
            Wire::Basic(b) => Secret::Basic {
                username: b.username,
                password: b.password,
            },
        }
    }

    /// Adds the `Authorization` header. reqwest marks it sensitive, so it never shows in
    /// reqwest's own debug output either.
    pub fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Secret::Bearer(token) => request.bearer_auth(token),
            Secret::Basic { username, password } => request.basic_auth(username, Some(password)),
        }
    }

    /// `text` with every piece of this secret that could have been echoed back (by a proxy
    /// quoting the request) replaced by `<redacted>`: the token, the password, and the
    /// base64 form of the basic-auth header.
    pub fn scrub(&self, text: &str) -> String {
        use base64::Engine as _;
        let pieces: Vec<String> = match self {
            Secret::Bearer(token) => vec![token.clone()],
            Secret::Basic { username, password } => vec![
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}")),
                password.clone(),
            ],
        };
        let mut out = text.to_owned();
        for piece in pieces.iter().filter(|p| !p.is_empty()) {
            out = out.replace(piece.as_str(), "<redacted>");
        }
        out
    }
}

/// A secret with the name it is stored under, as an HTTP client holds it: the name goes
/// into messages ("the credential `acme-metrics` was refused"), the secret only into headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    pub name: String,
    pub secret: Secret,
}

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

pub use ck8s_model::credential::check_name;

/// The environment variable that holds credential `name`: `CK8S_CONSOLE_SECRET_` and the
/// name upper-cased, with every character but an ASCII letter or digit turned into `_`.
pub fn env_var(name: &str) -> String {
    let mut var = String::from(ENV_PREFIX);
    var.extend(name.chars().map(|c| {
        if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        }
    }));
    var
}

/// How to set credential `name`, for messages.
pub fn how_to_set(name: &str) -> String {
    format!(
        "store it with `ck8s-console credentials set {name}`, or set the environment variable {}",
        env_var(name)
    )
}

// ---------------------------------------------------------------------------------------------
// Backends
// ---------------------------------------------------------------------------------------------

/// The kinds of store, in chain order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StoreKind {
    Env,
    SecretService,
    Keyutils,
    File,
}

impl StoreKind {
    /// A short name, as `CK8S_CONSOLE_KEYRING` spells it where it has one.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::Env => "env",
            StoreKind::SecretService => "secret-service",
            StoreKind::Keyutils => "keyutils",
            StoreKind::File => "file",
        }
    }
}

/// Why a store could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store does not exist here (no D-Bus session, keyutils blocked): skipped.
    #[error("not available: {0}")]
    Unavailable(String),
    /// Environment variables are read, never written.
    #[error("read-only")]
    ReadOnly,
    /// The store exists but failed, or refused (e.g. a credentials file others can read).
    #[error("{0}")]
    Failed(String),
}

/// One store of the chain. Implementations never put a secret into an error.
pub trait Backend: Send + Sync {
    fn kind(&self) -> StoreKind;

    /// Where `name` is kept, for messages: "the environment variable CK8S_...", "the Secret
    /// Service", "the kernel keyring (keyutils)", or the file's path.
    fn describe(&self, name: &str) -> String;

    fn get(&self, name: &str) -> Result<Option<Secret>, StoreError>;

    fn set(&self, name: &str, secret: &Secret) -> Result<(), StoreError>;

    /// Removes `name`; whether it was there.
    fn delete(&self, name: &str) -> Result<bool, StoreError>;
}

/// Reads one environment variable.
type EnvLookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Environment variables, `CK8S_CONSOLE_SECRET_<NAME>`. Read-only.
pub struct EnvStore {
    lookup: EnvLookup,
}

impl EnvStore {
    /// Reads the process environment at each lookup.
    pub fn from_process() -> EnvStore {
        EnvStore {
            lookup: Box::new(|var| std::env::var(var).ok()),
        }
    }

    /// A fixed set of variables, for tests.
    pub fn from_map(vars: BTreeMap<String, String>) -> EnvStore {
        EnvStore {
            lookup: Box::new(move |var| vars.get(var).cloned()),
        }
    }
}

impl Backend for EnvStore {
    fn kind(&self) -> StoreKind {
        StoreKind::Env
    }

    fn describe(&self, name: &str) -> String {
        format!("the environment variable {}", env_var(name))
    }

    fn get(&self, name: &str) -> Result<Option<Secret>, StoreError> {
        let var = env_var(name);
        match (self.lookup)(&var) {
            None => Ok(None),
            Some(value) if value.trim().is_empty() => Ok(None),
            Some(value) => Secret::from_env_value(&value)
                .map(Some)
                .map_err(|reason| StoreError::Failed(format!("{var}: {reason}"))),
        }
    }

    fn set(&self, _: &str, _: &Secret) -> Result<(), StoreError> {
        Err(StoreError::ReadOnly)
    }

    fn delete(&self, _: &str) -> Result<bool, StoreError> {
        Err(StoreError::ReadOnly)
    }
}

/// The plain-text file store, `credentials.toml`: one `[credential.NAME]` table per secret.
pub struct FileStore {
    path: PathBuf,
}

/// The file's shape.
#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialsFile {
    #[serde(default)]
    credential: BTreeMap<String, Wire>,
}

const FILE_HEADER: &str = "\
# ck8s-console credentials, in plain text: written only by
# `ck8s-console credentials set NAME --insecure-storage`. Keep this file private (mode 0600);
# ck8s-console refuses to read it when group or others can. `ck8s-console credentials delete
# NAME` removes one.
";

impl FileStore {
    pub fn new(path: impl Into<PathBuf>) -> FileStore {
        FileStore { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's credentials, or none when there is no file. Refuses a file that group or
    /// others can access.
    fn read(&self) -> Result<Option<CredentialsFile>, StoreError> {
        use std::os::unix::fs::PermissionsExt as _;
        let shown = self.path.display();
        let meta = match std::fs::metadata(&self.path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::Failed(format!("cannot read {shown}: {e}"))),
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(StoreError::Failed(format!(
                "refusing to read {shown}: group or others can access it (mode {mode:04o}); \
                 if nobody else has read it, run `chmod 600 {shown}`, otherwise also replace \
                 the secrets in it"
            )));
        }
        let text = std::fs::read_to_string(&self.path)
            .map_err(|e| StoreError::Failed(format!("cannot read {shown}: {e}")))?;
        // toml's messages quote the offending line, which may hold a secret: say only where.
        let file = toml::from_str::<CredentialsFile>(&text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            let at = line.map(|l| format!(" at line {l}")).unwrap_or_default();
            StoreError::Failed(format!(
                "{shown}{at}: not a credentials file (expected `[credential.NAME]` tables with \
                 `token`, or `username` and `password`)"
            ))
        })?;
        Ok(Some(file))
    }

    /// Replaces the file: a new file of mode 0600 renamed over the old one, so a crash
    /// leaves either the old file or the new one, and the secret is never in a file others
    /// can read.
    fn write(&self, file: &CredentialsFile) -> Result<(), StoreError> {
        use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
        let shown = self.path.display();
        let fail = |e: std::io::Error| StoreError::Failed(format!("cannot write {shown}: {e}"));
        if let Some(dir) = self.path.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(fail)?;
        }
        let body = toml::to_string(file)
            .map_err(|_| StoreError::Failed(format!("cannot write {shown}: encoding failed")))?;
        let tmp = self
            .path
            .with_file_name(format!(".{FILE_NAME}.{}.tmp", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let result = (|| {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(FILE_HEADER.as_bytes())?;
            f.write_all(body.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(fail)
    }
}

impl Backend for FileStore {
    fn kind(&self) -> StoreKind {
        StoreKind::File
    }

    fn describe(&self, _: &str) -> String {
        format!("the file {}", self.path.display())
    }

    fn get(&self, name: &str) -> Result<Option<Secret>, StoreError> {
        let Some(wire) = self.read()?.and_then(|mut f| f.credential.remove(name)) else {
            return Ok(None);
        };
        let secret = Secret::from_wire(wire);
        secret.check().map_err(|reason| {
            StoreError::Failed(format!(
                "{}: credential `{name}`: {reason}",
                self.path.display()
            ))
        })?;
        Ok(Some(secret))
    }

    fn set(&self, name: &str, secret: &Secret) -> Result<(), StoreError> {
        let mut file = self.read()?.unwrap_or_default();
        file.credential.insert(name.to_owned(), secret.to_wire());
        self.write(&file)
    }

    fn delete(&self, name: &str) -> Result<bool, StoreError> {
        let Some(mut file) = self.read()? else {
            return Ok(false);
        };
        if file.credential.remove(name).is_none() {
            return Ok(false);
        }
        if file.credential.is_empty() {
            std::fs::remove_file(&self.path).map_err(|e| {
                StoreError::Failed(format!("cannot remove {}: {e}", self.path.display()))
            })?;
            return Ok(true);
        }
        self.write(&file).map(|()| true)
    }
}

/// An in-memory store standing in for a keyring in tests; it can also play an unavailable
/// one.
pub struct MemoryStore {
    kind: StoreKind,
    entries: Mutex<BTreeMap<String, Secret>>,
    /// What every call answers instead, for tests of a chain with a bad store in it.
    broken: Option<StoreError>,
}

impl MemoryStore {
    pub fn new(kind: StoreKind) -> MemoryStore {
        MemoryStore {
            kind,
            entries: Mutex::new(BTreeMap::new()),
            broken: None,
        }
    }

    /// A store that answers every call with [`StoreError::Unavailable`].
    pub fn unavailable(kind: StoreKind, reason: &str) -> MemoryStore {
        MemoryStore {
            broken: Some(StoreError::Unavailable(reason.to_owned())),
            ..MemoryStore::new(kind)
        }
    }

    /// A store that exists but fails every call ([`StoreError::Failed`]), as a locked
    /// keyring does.
    pub fn failing(kind: StoreKind, reason: &str) -> MemoryStore {
        MemoryStore {
            broken: Some(StoreError::Failed(reason.to_owned())),
            ..MemoryStore::new(kind)
        }
    }

    pub fn with(self, name: &str, secret: Secret) -> MemoryStore {
        self.lock().insert(name.to_owned(), secret);
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Secret>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn available(&self) -> Result<(), StoreError> {
        match &self.broken {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

impl Backend for MemoryStore {
    fn kind(&self) -> StoreKind {
        self.kind
    }

    fn describe(&self, _: &str) -> String {
        format!("the in-memory {} store", self.kind.as_str())
    }

    fn get(&self, name: &str) -> Result<Option<Secret>, StoreError> {
        self.available()?;
        Ok(self.lock().get(name).cloned())
    }

    fn set(&self, name: &str, secret: &Secret) -> Result<(), StoreError> {
        self.available()?;
        self.lock().insert(name.to_owned(), secret.clone());
        Ok(())
    }

    fn delete(&self, name: &str) -> Result<bool, StoreError> {
        self.available()?;
        Ok(self.lock().remove(name).is_some())
    }
}

// ---------------------------------------------------------------------------------------------
// The chain
// ---------------------------------------------------------------------------------------------

/// Which keyring `CK8S_CONSOLE_KEYRING` allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyringChoice {
    /// The Secret Service when there is one, then keyutils.
    Auto,
    SecretService,
    Keyutils,
    /// No keyring: the file is the only writable store.
    File,
    /// Environment variables only: no keyring and no file.
    None,
}

impl FromStr for KeyringChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "" | "auto" => Ok(KeyringChoice::Auto),
            "secret-service" => Ok(KeyringChoice::SecretService),
            "keyutils" => Ok(KeyringChoice::Keyutils),
            "file" => Ok(KeyringChoice::File),
            "none" => Ok(KeyringChoice::None),
            other => Err(format!(
                "{KEYRING_ENV}={other:?} is not a credential store; use one of auto, \
                 secret-service, keyutils, file, none"
            )),
        }
    }
}

/// A secret found, and where.
#[derive(Debug)]
pub struct Found {
    pub secret: Secret,
    pub kind: StoreKind,
    /// The store as messages name it.
    pub store: String,
}

/// Where `set` put a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub kind: StoreKind,
    pub store: String,
}

/// Why a credential could not be had. Messages name the credential and where it was looked
/// for, never a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// No store holds it. `problems` are stores that failed on the way.
    #[error("{}", not_set_message(.name, .problems))]
    NotSet { name: String, problems: Vec<String> },
    /// `set` found no store that took it.
    #[error("credential `{name}` was not stored: no credential store took it: {}", .reasons.join("; "))]
    NoWritableStore { name: String, reasons: Vec<String> },
    /// The chain itself could not be set up (a bad `CK8S_CONSOLE_KEYRING`).
    #[error("{0}")]
    Setup(String),
}

fn not_set_message(name: &str, problems: &[String]) -> String {
    let mut text = format!("credential `{name}` is not set; {}", how_to_set(name));
    if !problems.is_empty() {
        text.push_str(" (");
        text.push_str(&problems.join("; "));
        text.push(')');
    }
    text
}

/// The chain of stores. `set` needs `allow_file` (`--insecure-storage`) to write the file.
pub struct SecretStore {
    backends: Vec<Box<dyn Backend>>,
}

impl SecretStore {
    /// A chain of these backends, asked in this order.
    pub fn new(backends: Vec<Box<dyn Backend>>) -> SecretStore {
        SecretStore { backends }
    }

    /// The chain for this process: its environment, `choice`'s keyrings and the file at
    /// `credentials_file`.
    pub fn standard(choice: KeyringChoice, credentials_file: &Path) -> SecretStore {
        let mut backends: Vec<Box<dyn Backend>> = vec![Box::new(EnvStore::from_process())];
        if matches!(choice, KeyringChoice::Auto | KeyringChoice::SecretService) {
            backends.push(Box::new(keyring::secret_service()));
        }
        if matches!(choice, KeyringChoice::Auto | KeyringChoice::Keyutils) {
            backends.push(Box::new(keyring::keyutils()));
        }
        if choice != KeyringChoice::None {
            backends.push(Box::new(FileStore::new(credentials_file)));
        }
        SecretStore { backends }
    }

    /// [`SecretStore::standard`] with the choice read from `CK8S_CONSOLE_KEYRING`.
    pub fn from_env(credentials_file: &Path) -> Result<SecretStore, CredentialError> {
        let choice = match std::env::var(KEYRING_ENV) {
            Ok(value) => value.parse().map_err(CredentialError::Setup)?,
            Err(_) => KeyringChoice::Auto,
        };
        Ok(SecretStore::standard(choice, credentials_file))
    }

    pub fn backends(&self) -> impl Iterator<Item = &dyn Backend> {
        self.backends.iter().map(|b| b.as_ref())
    }

    /// The first store that holds `name`. Stores that fail are passed over, and named in
    /// the error if no later store holds it.
    pub fn get(&self, name: &str) -> Result<Found, CredentialError> {
        let mut problems = Vec::new();
        for backend in &self.backends {
            match backend.get(name) {
                Ok(Some(secret)) => {
                    tracing::debug!(
                        credential = name,
                        store = backend.kind().as_str(),
                        "credential found"
                    );
                    return Ok(Found {
                        secret,
                        kind: backend.kind(),
                        store: backend.describe(name),
                    });
                }
                Ok(None) | Err(StoreError::Unavailable(_)) | Err(StoreError::ReadOnly) => {}
                Err(StoreError::Failed(reason)) => problems.push(reason),
            }
        }
        Err(CredentialError::NotSet {
            name: name.to_owned(),
            problems,
        })
    }

    /// Stores `secret` in the first writable store; the file only when `allow_file`.
    pub fn set(
        &self,
        name: &str,
        secret: &Secret,
        allow_file: bool,
    ) -> Result<Stored, CredentialError> {
        let mut reasons = Vec::new();
        for backend in &self.backends {
            let store = backend.describe(name);
            match backend.kind() {
                StoreKind::Env => continue,
                StoreKind::File if !allow_file => {
                    reasons.push(format!(
                        "{store}: plain text, written only with --insecure-storage"
                    ));
                    continue;
                }
                _ => {}
            }
            match backend.set(name, secret) {
                Ok(()) => {
                    return Ok(Stored {
                        kind: backend.kind(),
                        store,
                    });
                }
                Err(e) => reasons.push(format!("{store}: {e}")),
            }
        }
        if reasons.is_empty() {
            reasons.push(format!(
                "{KEYRING_ENV}=none allows only environment variables; set {}",
                env_var(name)
            ));
        }
        Err(CredentialError::NoWritableStore {
            name: name.to_owned(),
            reasons,
        })
    }

    /// Removes `name` from every writable store that holds it. Returns the stores it was
    /// removed from, and the stores that failed.
    pub fn delete(&self, name: &str) -> (Vec<Stored>, Vec<String>) {
        let (mut removed, mut problems) = (Vec::new(), Vec::new());
        for backend in self.backends.iter().filter(|b| b.kind() != StoreKind::Env) {
            let store = backend.describe(name);
            match backend.delete(name) {
                Ok(true) => removed.push(Stored {
                    kind: backend.kind(),
                    store,
                }),
                Ok(false) | Err(StoreError::Unavailable(_)) | Err(StoreError::ReadOnly) => {}
                Err(StoreError::Failed(reason)) => problems.push(reason),
            }
        }
        (removed, problems)
    }
}

// ---------------------------------------------------------------------------------------------
// The process's store, for the clients
// ---------------------------------------------------------------------------------------------

/// The credentials file the process's chain reads, as resolved from the command line
/// (`--config`) by [`use_credentials_file`]. Set once at start, before any client is built.
static CREDENTIALS_FILE: OnceLock<PathBuf> = OnceLock::new();

/// Points the process's store at the credentials file the command line resolved, so that
/// `--config` and `--state-dir` hold for credentials too. Call once at start; a later call
/// changes nothing.
pub fn use_credentials_file(path: &Path) {
    let _ = CREDENTIALS_FILE.set(path.to_owned());
}

/// The process's chain, built on first use from the environment (`CK8S_CONSOLE_KEYRING`)
/// and the credentials file [`use_credentials_file`] named (by default the one under
/// `XDG_CONFIG_HOME` or `HOME`).
fn process_store() -> Result<&'static SecretStore, CredentialError> {
    static STORE: OnceLock<Result<SecretStore, CredentialError>> = OnceLock::new();
    STORE
        .get_or_init(|| {
            let file = CREDENTIALS_FILE.get().cloned().unwrap_or_else(|| {
                Paths::resolve(None, None, &PathEnv::from_process()).credentials_file
            });
            SecretStore::from_env(&file)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The credential a cluster's config names (`None` when it names none), from the process's
/// store. Keyrings are asked on a blocking thread: the Secret Service client runs its own
/// runtime and must not be called from an async task.
pub async fn resolve(name: Option<&str>) -> Result<Option<Credential>, CredentialError> {
    let Some(name) = name else {
        return Ok(None);
    };
    let owned = name.to_owned();
    let found = tokio::task::spawn_blocking(move || process_store()?.get(&owned))
        .await
        .map_err(|e| CredentialError::Setup(format!("looking up credential `{name}`: {e}")))??;
    Ok(Some(Credential {
        name: name.to_owned(),
        secret: found.secret,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn memory(kind: StoreKind) -> Box<dyn Backend> {
        Box::new(MemoryStore::new(kind))
    }

    fn env(vars: &[(&str, &str)]) -> Box<dyn Backend> {
        Box::new(EnvStore::from_map(
            vars.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ))
    }

    #[test]
    fn secrets_never_print() {
        let secrets = [
            Secret::bearer("s3cr3t-token"),
            Secret::basic("ops", "hunter2-pass"),
        ];
        for secret in secrets {
            for shown in [
                format!("{secret:?}"),
                format!("{secret:#?}"),
                format!("{secret}"),
                format!(
                    "{:?}",
                    Credential {
                        name: "acme".into(),
                        secret: secret.clone()
                    }
                ),
                format!("{:?}", Some(&secret)),
            ] {
                assert!(!shown.contains("s3cr3t"), "{shown}");
                assert!(!shown.contains("hunter2"), "{shown}");
                assert!(!shown.contains("ops"), "{shown}");
                assert!(shown.contains("<redacted>"), "{shown}");
            }
        }
    }

    #[test]
    fn json_round_trips_and_errors_do_not_quote_the_value() {
        for secret in [Secret::bearer("t0k"), Secret::basic("u", "p w")] {
            assert_eq!(Secret::from_json(&secret.to_json()).unwrap(), secret);
        }
        assert_eq!(
            Secret::bearer("abc").to_json(),
            r#"{"token":"abc"}"#,
            "the stored form is a small JSON object"
        );
        let err = Secret::from_json(r#"{"tokn":"leaky-value"}"#).unwrap_err();
        assert!(!err.contains("leaky"), "{err}");
        assert!(err.contains("token"), "{err}");
        assert!(Secret::from_json(r#"{"token":""}"#).is_err());
        assert!(Secret::from_json(r#"{"username":"a:b","password":"p"}"#).is_err());
    }

    #[test]
    fn env_var_names() {
        assert_eq!(env_var("acme-metrics"), "CK8S_CONSOLE_SECRET_ACME_METRICS");
        assert_eq!(env_var("a1-b2-c3"), "CK8S_CONSOLE_SECRET_A1_B2_C3");
        assert_eq!(env_var("x.y z"), "CK8S_CONSOLE_SECRET_X_Y_Z");
    }

    #[test]
    fn names_are_lowercase_digits_and_dashes() {
        assert!(check_name("acme-sc-prometheus-2").is_ok());
        for bad in ["", "Acme", "acme_prom", "acme prom", "acme.prom", "äcme"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn env_values_are_tokens_or_json() {
        let store = env(&[
            ("CK8S_CONSOLE_SECRET_TOK", "abc\n"),
            (
                "CK8S_CONSOLE_SECRET_BASIC",
                r#"{"username":"ops","password":"pw"}"#,
            ),
            ("CK8S_CONSOLE_SECRET_BROKEN", r#"{"user":"leaky"}"#),
            ("CK8S_CONSOLE_SECRET_EMPTY", "  "),
        ]);
        assert_eq!(store.get("tok").unwrap(), Some(Secret::bearer("abc")));
        assert_eq!(
            store.get("basic").unwrap(),
            Some(Secret::basic("ops", "pw"))
        );
        assert_eq!(store.get("empty").unwrap(), None);
        assert_eq!(store.get("missing").unwrap(), None);
        let Err(StoreError::Failed(reason)) = store.get("broken") else {
            panic!("a malformed variable is an error");
        };
        assert!(reason.contains("CK8S_CONSOLE_SECRET_BROKEN"), "{reason}");
        assert!(!reason.contains("leaky"), "{reason}");
        assert_eq!(
            store.set("tok", &Secret::bearer("x")),
            Err(StoreError::ReadOnly)
        );
    }

    #[test]
    fn the_first_store_holding_a_name_wins() {
        let chain = SecretStore::new(vec![
            env(&[("CK8S_CONSOLE_SECRET_BOTH", "from-env")]),
            Box::new(
                MemoryStore::new(StoreKind::SecretService)
                    .with("both", Secret::bearer("from-ss"))
                    .with("ss", Secret::bearer("ss-only")),
            ),
            Box::new(
                MemoryStore::new(StoreKind::Keyutils)
                    .with("ss", Secret::bearer("shadowed"))
                    .with("ku", Secret::basic("u", "p")),
            ),
        ]);
        let found = chain.get("both").unwrap();
        assert_eq!(
            (found.kind, found.secret),
            (StoreKind::Env, Secret::bearer("from-env"))
        );
        let found = chain.get("ss").unwrap();
        assert_eq!(
            (found.kind, found.secret),
            (StoreKind::SecretService, Secret::bearer("ss-only"))
        );
        assert_eq!(chain.get("ku").unwrap().kind, StoreKind::Keyutils);
        let err = chain.get("nowhere").unwrap_err().to_string();
        assert!(
            err.contains("credential `nowhere` is not set")
                && err.contains("ck8s-console credentials set nowhere")
                && err.contains("CK8S_CONSOLE_SECRET_NOWHERE"),
            "{err}"
        );
    }

    #[test]
    fn unavailable_and_failing_stores_are_passed_over() {
        let chain = SecretStore::new(vec![
            env(&[]),
            Box::new(MemoryStore::unavailable(
                StoreKind::SecretService,
                "no D-Bus",
            )),
            Box::new(MemoryStore::failing(
                StoreKind::SecretService,
                "the collection is locked",
            )),
            Box::new(MemoryStore::new(StoreKind::Keyutils).with("x", Secret::bearer("k"))),
        ]);
        assert_eq!(chain.get("x").unwrap().kind, StoreKind::Keyutils);
        // A failure is named when nothing holds the credential; an absent store is not.
        match chain.get("missing") {
            Err(CredentialError::NotSet { problems, .. }) => {
                assert_eq!(problems, ["the collection is locked"]);
            }
            other => panic!("{other:?}"),
        }
        let stored = chain.set("y", &Secret::bearer("v"), false).unwrap();
        assert_eq!(
            stored.kind,
            StoreKind::Keyutils,
            "env is read-only, ss absent"
        );
    }

    #[test]
    fn set_uses_the_first_writable_store_and_the_file_only_when_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cfg/ck8s-console/credentials.toml");
        let chain = || {
            SecretStore::new(vec![
                env(&[]),
                Box::new(MemoryStore::unavailable(StoreKind::SecretService, "no bus")),
                Box::new(MemoryStore::unavailable(StoreKind::Keyutils, "seccomp")),
                Box::new(FileStore::new(&file)),
            ])
        };
        let err = chain()
            .set("acme", &Secret::bearer("t"), false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("--insecure-storage"), "{err}");
        assert!(err.contains("no bus") && err.contains("seccomp"), "{err}");
        assert!(!file.exists());

        let stored = chain().set("acme", &Secret::bearer("t"), true).unwrap();
        assert_eq!(stored.kind, StoreKind::File);
        assert!(stored.store.contains("credentials.toml"));
        assert_eq!(chain().get("acme").unwrap().secret, Secret::bearer("t"));

        // With a keyring available, it takes the secret even with --insecure-storage.
        let with_keyring = SecretStore::new(vec![
            env(&[]),
            memory(StoreKind::Keyutils),
            Box::new(FileStore::new(&file)),
        ]);
        let stored = with_keyring.set("b", &Secret::bearer("t"), true).unwrap();
        assert_eq!(stored.kind, StoreKind::Keyutils);
    }

    #[test]
    fn the_file_is_private_and_refused_when_others_can_read_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/credentials.toml");
        let store = FileStore::new(&path);
        store.set("one", &Secret::bearer("t1")).unwrap();
        store.set("two", &Secret::basic("u", "p")).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(store.get("two").unwrap(), Some(Secret::basic("u", "p")));

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let Err(StoreError::Failed(reason)) = store.get("one") else {
            panic!("a world-readable file must be refused");
        };
        assert!(reason.contains(&path.display().to_string()), "{reason}");
        assert!(
            reason.contains(&format!("chmod 600 {}", path.display())),
            "{reason}"
        );
        assert!(reason.contains("0644"), "{reason}");
        assert!(store.set("three", &Secret::bearer("t")).is_err());
        // Group-readable is refused too.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(store.get("one").is_err());

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(store.delete("one").unwrap());
        assert!(!store.delete("one").unwrap());
        assert_eq!(store.get("one").unwrap(), None);
        assert!(store.delete("two").unwrap());
        assert!(!path.exists(), "the last delete removes the file");
    }

    #[test]
    fn a_refused_file_is_named_when_the_secret_is_found_nowhere_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.toml");
        std::fs::write(&path, "[credential.acme]\ntoken = \"t\"\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o604)).unwrap();
        let chain = SecretStore::new(vec![
            env(&[("CK8S_CONSOLE_SECRET_OTHER", "x")]),
            Box::new(FileStore::new(&path)),
        ]);
        assert_eq!(chain.get("other").unwrap().kind, StoreKind::Env);
        let err = chain.get("acme").unwrap_err().to_string();
        assert!(
            err.contains("chmod 600") && err.contains("credential `acme` is not set"),
            "{err}"
        );
    }

    #[test]
    fn a_malformed_file_is_located_without_quoting_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.toml");
        std::fs::write(&path, "[credential.acme]\ntoken = leaky-secret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let Err(StoreError::Failed(reason)) = FileStore::new(&path).get("acme") else {
            panic!("malformed file");
        };
        assert!(reason.contains("line 2"), "{reason}");
        assert!(!reason.contains("leaky"), "{reason}");
    }

    #[test]
    fn delete_removes_from_every_writable_store() {
        let ss = MemoryStore::new(StoreKind::SecretService).with("x", Secret::bearer("a"));
        let ku = MemoryStore::new(StoreKind::Keyutils).with("x", Secret::bearer("b"));
        let chain = SecretStore::new(vec![
            env(&[("CK8S_CONSOLE_SECRET_X", "c")]),
            Box::new(ss),
            Box::new(ku),
        ]);
        let (removed, problems) = chain.delete("x");
        let kinds: Vec<StoreKind> = removed.iter().map(|s| s.kind).collect();
        assert_eq!(kinds, [StoreKind::SecretService, StoreKind::Keyutils]);
        assert!(problems.is_empty());
        // The environment variable is still there: it is read-only.
        assert_eq!(chain.get("x").unwrap().kind, StoreKind::Env);
    }

    #[test]
    fn keyring_choices() {
        assert_eq!("".parse(), Ok(KeyringChoice::Auto));
        assert_eq!("file".parse(), Ok(KeyringChoice::File));
        assert_eq!("none".parse(), Ok(KeyringChoice::None));
        let err = "gnome".parse::<KeyringChoice>().unwrap_err();
        assert!(
            err.contains("CK8S_CONSOLE_KEYRING") && err.contains("keyutils"),
            "{err}"
        );
        let kinds = |choice| {
            SecretStore::standard(choice, Path::new("/nonexistent/credentials.toml"))
                .backends()
                .map(|b| b.kind())
                .collect::<Vec<_>>()
        };
        use StoreKind::*;
        assert_eq!(
            kinds(KeyringChoice::Auto),
            [Env, SecretService, Keyutils, File]
        );
        assert_eq!(kinds(KeyringChoice::Keyutils), [Env, Keyutils, File]);
        assert_eq!(kinds(KeyringChoice::File), [Env, File]);
        assert_eq!(kinds(KeyringChoice::None), [Env]);
    }

    #[test]
    fn scrub_removes_every_form_of_the_secret() {
        let basic = Secret::basic("ops", "pw-123");
        // base64("ops:pw-123")
        let text = "echo: Authorization: Basic b3BzOnB3LTEyMw== and pw-123";
        let scrubbed = basic.scrub(text);
        assert!(!scrubbed.contains("b3BzOnB3LTEyMw"), "{scrubbed}");
        assert!(!scrubbed.contains("pw-123"), "{scrubbed}");
        assert_eq!(
            Secret::bearer("tok-9").scrub("Bearer tok-9"),
            "Bearer <redacted>"
        );
    }
}
