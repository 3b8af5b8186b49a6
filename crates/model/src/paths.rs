//! Where ck8s-console keeps its files, following the XDG base directory conventions.
//!
//! Precedence for each path: command-line flag, then environment variable, then XDG
//! variable, then the XDG default under `$HOME`.

use std::env;
use std::path::{Path, PathBuf};

use serde::Serialize;

const APP: &str = "ck8s-console";
/// The opt-in credentials file, beside the fleet config.
pub const CREDENTIALS_FILE_NAME: &str = "credentials.toml";

/// Every file location the console uses, resolved once at start-up.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Paths {
    pub config_file: PathBuf,
    pub config_dir: PathBuf,
    pub themes_dir: PathBuf,
    /// The plain-text credential store, used only after `--insecure-storage`
    /// (`src/secrets.rs`).
    pub credentials_file: PathBuf,
    pub state_dir: PathBuf,
    pub runs_dir: PathBuf,
    pub audit_log: PathBuf,
    pub log_dir: PathBuf,
    pub log_file: PathBuf,
}

/// The environment the paths are resolved from; a struct so tests need not touch the
/// process environment.
#[derive(Debug, Default, Clone)]
pub struct PathEnv {
    pub home: Option<PathBuf>,
    pub xdg_config_home: Option<PathBuf>,
    pub xdg_state_home: Option<PathBuf>,
}

impl PathEnv {
    pub fn from_process() -> Self {
        let var = |k: &str| env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        PathEnv {
            home: var("HOME"),
            xdg_config_home: var("XDG_CONFIG_HOME").filter(|p| p.is_absolute()),
            xdg_state_home: var("XDG_STATE_HOME").filter(|p| p.is_absolute()),
        }
    }

    fn home(&self) -> PathBuf {
        self.home.clone().unwrap_or_else(|| PathBuf::from("."))
    }
}

impl Paths {
    /// Resolves all paths. `config` and `state_dir` are the already-merged flag/env
    /// overrides (clap reads `CK8S_CONSOLE_CONFIG` and `CK8S_CONSOLE_STATE_DIR`).
    pub fn resolve(config: Option<&Path>, state_dir: Option<&Path>, env: &PathEnv) -> Paths {
        let xdg_config = env
            .xdg_config_home
            .clone()
            .unwrap_or_else(|| env.home().join(".config"));
        let xdg_state = env
            .xdg_state_home
            .clone()
            .unwrap_or_else(|| env.home().join(".local/state"));
        let config_dir = xdg_config.join(APP);
        let config_file = config
            .map(Path::to_path_buf)
            .unwrap_or_else(|| config_dir.join("fleet.toml"));
        let state_dir = state_dir
            .map(Path::to_path_buf)
            .unwrap_or_else(|| xdg_state.join(APP));
        let log_dir = state_dir.join("logs");
        Paths {
            themes_dir: config_dir.join("themes"),
            credentials_file: config_dir.join(CREDENTIALS_FILE_NAME),
            config_dir,
            config_file,
            runs_dir: state_dir.join("runs"),
            audit_log: state_dir.join("audit.jsonl"),
            // tracing-appender rotates daily on the UTC date and names files like this.
            log_file: log_dir.join(format!(
                "{APP}.{}.log",
                chrono::Utc::now().format("%Y-%m-%d")
            )),
            log_dir,
            state_dir,
        }
    }

    /// Label and path pairs, in the order `info` prints them.
    pub fn entries(&self) -> [(&'static str, &Path); 7] {
        [
            ("config file", &self.config_file),
            ("state dir", &self.state_dir),
            ("run journals", &self.runs_dir),
            ("audit log", &self.audit_log),
            ("log file", &self.log_file),
            ("user themes", &self.themes_dir),
            ("credentials", &self.credentials_file),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(home: &str) -> PathEnv {
        PathEnv {
            home: Some(home.into()),
            ..PathEnv::default()
        }
    }

    #[test]
    fn defaults_follow_xdg_under_home() {
        let p = Paths::resolve(None, None, &env("/home/op"));
        assert_eq!(
            p.config_file,
            Path::new("/home/op/.config/ck8s-console/fleet.toml")
        );
        assert_eq!(p.state_dir, Path::new("/home/op/.local/state/ck8s-console"));
        assert_eq!(
            p.log_dir,
            Path::new("/home/op/.local/state/ck8s-console/logs")
        );
        let file = p.log_file.file_name().unwrap().to_string_lossy();
        assert!(
            file.starts_with("ck8s-console.") && file.ends_with(".log"),
            "{file}"
        );
        assert_eq!(
            p.themes_dir,
            Path::new("/home/op/.config/ck8s-console/themes")
        );
        assert_eq!(
            p.credentials_file,
            Path::new("/home/op/.config/ck8s-console/credentials.toml")
        );
    }

    #[test]
    fn xdg_variables_move_config_and_state() {
        let e = PathEnv {
            xdg_config_home: Some("/cfg".into()),
            xdg_state_home: Some("/st".into()),
            ..env("/home/op")
        };
        let p = Paths::resolve(None, None, &e);
        assert_eq!(p.config_file, Path::new("/cfg/ck8s-console/fleet.toml"));
        assert_eq!(p.audit_log, Path::new("/st/ck8s-console/audit.jsonl"));
        assert_eq!(
            p.credentials_file,
            Path::new("/cfg/ck8s-console/credentials.toml")
        );
    }

    #[test]
    fn explicit_overrides_win_but_themes_stay_in_config_dir() {
        let p = Paths::resolve(
            Some(Path::new("/etc/fleet.toml")),
            Some(Path::new("/var/lib/c")),
            &env("/home/op"),
        );
        assert_eq!(p.config_file, Path::new("/etc/fleet.toml"));
        assert_eq!(p.runs_dir, Path::new("/var/lib/c/runs"));
        assert_eq!(
            p.themes_dir,
            Path::new("/home/op/.config/ck8s-console/themes")
        );
    }
}
