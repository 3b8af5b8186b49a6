//! The credential store through the real binary: `ck8s-console credentials set | check |
//! delete`, and credentials in use by the reports against a simulated fleet whose
//! Prometheus and Alertmanager require a bearer token.
//!
//! Hermetic: every run gets an empty environment with a temporary HOME and
//! XDG_CONFIG_HOME, no D-Bus session, and `CK8S_CONSOLE_KEYRING` pinned to `file` or `none`,
//! so no test touches a real keyring (keyutils may be blocked in CI containers anyway).

mod common;

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use ck8s_sim::SimOptions;
use serde_json::Value;

const TOKEN: &str = "sim-t0ken-4b1d";

struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        Home {
            dir: tempfile::tempdir().expect("temp HOME"),
        }
    }

    fn credentials_file(&self) -> PathBuf {
        self.dir.path().join("config/ck8s-console/credentials.toml")
    }

    /// The binary with an empty environment but for PATH, this HOME and XDG_CONFIG_HOME,
    /// and `CK8S_CONSOLE_KEYRING=keyring`.
    fn command(&self, keyring: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ck8s-console"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("XDG_STATE_HOME", self.dir.path().join("state"))
            .env("NO_COLOR", "1")
            .env("CK8S_CONSOLE_KEYRING", keyring);
        cmd
    }

    /// Runs with `stdin` piped in.
    fn run_with_input(&self, keyring: &str, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .command(keyring, args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ck8s-console runs");
        let written = child.stdin.take().unwrap().write_all(stdin.as_bytes());
        // A command refused for bad input may exit before it reads its input at all.
        if let Err(e) = written {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        }
        child.wait_with_output().unwrap()
    }

    fn run(&self, keyring: &str, args: &[&str]) -> Output {
        self.run_with_input(keyring, args, "")
    }
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited, not killed")
}

fn all_output(out: &Output) -> String {
    format!("{}{}", common::stdout(out), common::stderr(out))
}

#[test]
fn set_check_and_delete_with_the_file_store() {
    let home = Home::new();
    let file = home.credentials_file();

    let out = home.run_with_input(
        "file",
        &["credentials", "set", "acme-metrics", "--insecure-storage"],
        "s3cr3t-token\n",
    );
    assert_eq!(code(&out), 0, "{}", all_output(&out));
    let stdout = common::stdout(&out);
    assert!(
        stdout.contains("stored credential `acme-metrics` (bearer token) in the file")
            && stdout.contains(&file.display().to_string()),
        "{stdout}"
    );
    assert!(common::stderr(&out).contains("plain text"), "a warning");
    assert!(!all_output(&out).contains("s3cr3t"));

    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the file is private");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("[credential.acme-metrics]"), "{text}");
    assert!(
        text.contains(r#"token = "s3cr3t-token""#),
        "the trailing newline is not part of the secret:\n{text}"
    );

    let out = home.run_with_input(
        "file",
        &[
            "credentials",
            "set",
            "acme-alerts",
            "--username",
            "ops",
            "--insecure-storage",
        ],
        "hunter2",
    );
    assert_eq!(code(&out), 0, "{}", all_output(&out));
    assert!(common::stdout(&out).contains("(basic auth)"));

    for (name, kind) in [
        ("acme-metrics", "bearer token"),
        ("acme-alerts", "basic auth"),
    ] {
        let out = home.run("file", &["credentials", "check", name]);
        assert_eq!(code(&out), 0, "{}", all_output(&out));
        let stdout = common::stdout(&out);
        assert!(
            stdout.contains(&format!("credential `{name}` ({kind}) is in the file")),
            "{stdout}"
        );
        assert!(!stdout.contains("s3cr3t") && !stdout.contains("hunter2"));
    }

    let out = home.run("file", &["credentials", "delete", "acme-metrics"]);
    assert_eq!(code(&out), 0, "{}", all_output(&out));
    assert!(common::stdout(&out).contains("deleted credential `acme-metrics` from the file"));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("acme-metrics") && text.contains("acme-alerts"));

    let out = home.run("file", &["credentials", "check", "acme-metrics"]);
    assert_eq!(code(&out), 1, "not found");
    let stderr = common::stderr(&out);
    assert!(
        stderr.contains("credential `acme-metrics` is not set")
            && stderr.contains("ck8s-console credentials set acme-metrics")
            && stderr.contains("CK8S_CONSOLE_SECRET_ACME_METRICS"),
        "{stderr}"
    );
    assert_eq!(
        code(&home.run("file", &["credentials", "delete", "acme-metrics"])),
        1,
        "nothing left to delete"
    );

    let out = home.run("file", &["credentials", "delete", "acme-alerts"]);
    assert_eq!(code(&out), 0, "{}", all_output(&out));
    assert!(!file.exists(), "the last credential takes the file with it");
}

#[test]
fn the_file_is_written_only_with_insecure_storage() {
    let home = Home::new();
    let out = home.run_with_input("file", &["credentials", "set", "acme"], "tok");
    assert_eq!(code(&out), 1, "{}", all_output(&out));
    let stderr = common::stderr(&out);
    assert!(
        stderr.contains("was not stored") && stderr.contains("--insecure-storage"),
        "{stderr}"
    );
    assert!(!home.credentials_file().exists());

    let out = home.run_with_input(
        "none",
        &["credentials", "set", "acme", "--insecure-storage"],
        "tok",
    );
    assert_eq!(code(&out), 1, "{}", all_output(&out));
    assert!(
        common::stderr(&out).contains("CK8S_CONSOLE_SECRET_ACME"),
        "{}",
        common::stderr(&out)
    );
    assert!(!home.credentials_file().exists());
}

#[test]
fn environment_variables_are_read_first_and_never_written() {
    let home = Home::new();
    let out = home
        .command("none", &["credentials", "check", "acme-metrics"])
        .env("CK8S_CONSOLE_SECRET_ACME_METRICS", "from-env")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", all_output(&out));
    assert!(
        common::stdout(&out)
            .contains("is in the environment variable CK8S_CONSOLE_SECRET_ACME_METRICS"),
        "{}",
        common::stdout(&out)
    );
    assert!(!all_output(&out).contains("from-env"));

    let out = home
        .command("none", &["credentials", "delete", "acme-metrics"])
        .env("CK8S_CONSOLE_SECRET_ACME_METRICS", "from-env")
        .output()
        .unwrap();
    assert_eq!(code(&out), 1);
    assert!(common::stderr(&out).contains("still set in this environment"));
}

#[test]
fn a_file_others_can_read_is_refused_with_the_fix() {
    let home = Home::new();
    let out = home.run_with_input(
        "file",
        &["credentials", "set", "acme", "--insecure-storage"],
        "tok",
    );
    assert_eq!(code(&out), 0, "{}", all_output(&out));
    let file = home.credentials_file();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = home.run("file", &["credentials", "check", "acme"]);
    assert_eq!(code(&out), 1);
    let stderr = common::stderr(&out);
    assert!(
        stderr.contains(&format!("chmod 600 {}", file.display())),
        "{stderr}"
    );
}

#[test]
fn bad_input_exits_2() {
    let home = Home::new();
    // Each says what is wrong and what would be right.
    let cases: [(&str, &[&str], &str, &str); 4] = [
        (
            "file",
            &["credentials", "set", "Acme_Prom"],
            "tok",
            "'A' is not allowed in a credential name (lowercase letters, digits and '-')",
        ),
        (
            "file",
            &["credentials", "check", "a.b"],
            "",
            "'.' is not allowed in a credential name",
        ),
        (
            "file",
            &["credentials", "set", "acme", "--insecure-storage"],
            "",
            "no bearer token on standard input",
        ),
        (
            "gnome",
            &["credentials", "check", "acme"],
            "",
            "\"gnome\" is not a credential store; use one of auto, secret-service",
        ),
    ];
    for (keyring, args, input, says) in cases {
        let out = home.run_with_input(keyring, args, input);
        assert_eq!(code(&out), 2, "{args:?}: {}", all_output(&out));
        assert!(
            common::stderr(&out).contains(says),
            "{args:?}: {}",
            all_output(&out)
        );
    }
    let out = home.run_with_input(
        "file",
        &["credentials", "set", "acme", "--insecure-storage"],
        "",
    );
    assert!(
        common::stderr(&out).contains("no bearer token on standard input"),
        "{}",
        common::stderr(&out)
    );
}

#[test]
fn help_and_info_mention_credentials() {
    let home = Home::new();
    let help = common::stdout(&home.run("file", &["credentials", "--help"]));
    for part in [
        "set",
        "check",
        "delete",
        "CK8S_CONSOLE_SECRET_",
        "CK8S_CONSOLE_KEYRING",
        "--insecure-storage",
    ] {
        assert!(help.contains(part), "{part}:\n{help}");
    }
    let info = common::stdout(&home.run("file", &["info"]));
    assert!(
        info.lines().any(|l| l.starts_with("credentials")
            && l.ends_with(&home.credentials_file().display().to_string())),
        "{info}"
    );
}

// ---------------------------------------------------------------------------------------------
// In use: a simulated fleet behind a bearer token
// ---------------------------------------------------------------------------------------------

fn sim() -> &'static common::Sim {
    static SIM: OnceLock<common::Sim> = OnceLock::new();
    SIM.get_or_init(|| {
        common::start(SimOptions {
            environments: 1,
            metrics_token: Some(TOKEN.to_owned()),
            ..SimOptions::default()
        })
    })
}

/// A report as JSON, against the simulated fleet, with extra environment variables.
fn report(home: &Home, keyring: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, Value) {
    let fleet: &Path = &sim().fleet_file;
    let mut cmd = home.command(keyring, &[]);
    cmd.arg("--config")
        .arg(fleet)
        .args(args)
        .args(["--output", "json", "--timeout", "30s"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        !all_output(&out).contains(TOKEN),
        "the token was printed:\n{}",
        all_output(&out)
    );
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{args:?} printed no JSON ({e}):\n{}", all_output(&out));
    });
    (code(&out), json)
}

fn errors(json: &Value) -> Vec<String> {
    json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["error"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_fleet_config_names_the_credential() {
    let text = std::fs::read_to_string(&sim().fleet_file).unwrap();
    assert!(
        text.contains(r#"prometheus_credential = "sim-metrics""#)
            && text.contains(r#"alertmanager_credential = "sim-metrics""#),
        "{text}"
    );
    assert!(
        !text.contains(TOKEN),
        "the config names, never holds, the secret"
    );
}

#[test]
fn reports_reach_a_protected_prometheus_and_alertmanager_with_the_credential() {
    let home = Home::new();
    let with_token = [("CK8S_CONSOLE_SECRET_SIM_METRICS", TOKEN)];
    let (code, json) = report(&home, "none", &["slo"], &with_token);
    assert_eq!(errors(&json), Vec::<String>::new());
    assert_eq!(code, 0);
    assert!(!json["items"].as_array().unwrap().is_empty(), "{json:#}");

    let (code, json) = report(&home, "none", &["alerts"], &with_token);
    assert_eq!(errors(&json), Vec::<String>::new());
    assert_eq!(code, 0);
}

#[test]
fn reports_name_the_missing_credential_and_how_to_set_it() {
    let home = Home::new();
    for report_name in ["slo", "alerts"] {
        let (code, json) = report(&home, "none", &[report_name], &[]);
        assert_eq!(code, 1, "{report_name}: partial");
        let errors = errors(&json);
        assert!(!errors.is_empty(), "{report_name}: {json:#}");
        for error in errors {
            assert!(
                error.contains("credential `sim-metrics` is not set")
                    && error.contains("ck8s-console credentials set sim-metrics")
                    && error.contains("CK8S_CONSOLE_SECRET_SIM_METRICS"),
                "{report_name}: {error}"
            );
        }
    }
}

#[test]
fn a_wrong_token_is_refused_and_the_credential_named() {
    let home = Home::new();
    let wrong = [("CK8S_CONSOLE_SECRET_SIM_METRICS", "not-the-token")];
    for report_name in ["slo", "alerts"] {
        let (code, json) = report(&home, "none", &[report_name], &wrong);
        assert_eq!(code, 1, "{report_name}");
        let errors = errors(&json);
        assert!(!errors.is_empty(), "{report_name}: {json:#}");
        for error in errors {
            assert!(
                error.contains("HTTP 401")
                    && error.contains("the credential `sim-metrics` was refused"),
                "{report_name}: {error}"
            );
            assert!(!error.contains("not-the-token"), "{error}");
        }
    }
}

#[test]
fn a_credential_stored_with_the_cli_is_used_by_the_reports() {
    let home = Home::new();
    let out = home.run_with_input(
        "file",
        &["credentials", "set", "sim-metrics", "--insecure-storage"],
        TOKEN,
    );
    assert_eq!(code(&out), 0, "{}", all_output(&out));
    let (code, json) = report(&home, "file", &["slo"], &[]);
    assert_eq!(errors(&json), Vec::<String>::new());
    assert_eq!(code, 0);
}
