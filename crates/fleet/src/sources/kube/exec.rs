//! Exec credential plugins (kubelogin for Dex, as Compliant Kubernetes signs people in),
//! run by the console rather than by kube-rs, for three reasons:
//!
//! - **The terminal.** A plugin that needs the person (a device code, a browser) prompts on
//!   the terminal. kube-rs hands it the terminal whenever `interactiveMode` is not `Never`,
//!   even while the console draws the full screen, where the prompt is unreadable and its
//!   keys go to the wrong reader. Here a plugin gets the terminal only while nothing else
//!   has it: at start, before the full screen, and in headless commands run from a shell.
//!   In the full screen it runs without one (stdin empty, stderr captured), and one that
//!   must ask the person fails with a message saying so.
//! - **Once per cluster.** kube-rs runs a plugin three times while building one client,
//!   and again for each client of the same cluster. Here each distinct plugin
//!   configuration runs once, and its token is reused by every client until it expires:
//!   the process-wide cache client-go keeps for the same reason.
//! - **Timeouts.** A plugin run without the person gets 30 s, then it is killed with
//!   whatever it started; one with the person gets 5 minutes. A failure is remembered for
//!   30 s, so the clients waiting for the plugin do not each run it again.
//! - **Refusals.** A token the server refuses (401) is forgotten, and the next request
//!   runs the plugin again, as client-go does.
//!
//! A plugin that answers with a client certificate instead of a token is left to kube-rs,
//! which builds its TLS identity from it.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use http::HeaderValue;
use kube::config::{ExecConfig, ExecInteractiveMode};
use serde::Deserialize;

/// How long a plugin may take when nobody can answer it.
const UNATTENDED: Duration = Duration::from_secs(30);
/// How long a person gets to sign in.
const ATTENDED: Duration = Duration::from_secs(300);
/// How long a failed run is the answer, before the plugin is asked again.
const REMEMBER_FAILURE: Duration = Duration::from_secs(30);
/// A token this close to its expiry is renewed before it is used: a request must not
/// reach the server with a token that lapses on the way.
const MARGIN: chrono::TimeDelta = chrono::TimeDelta::seconds(10);

#[derive(Debug, Clone, thiserror::Error)]
pub enum ExecError {
    #[error("the kubeconfig's exec credential plugin names no command")]
    NoCommand,
    #[error("credential plugin {command}: cannot start it ({why}){hint}")]
    Start {
        command: String,
        why: String,
        hint: String,
    },
    #[error(
        "credential plugin {command} needs you to sign in, and the console's screen has the \
         terminal; quit and start the console again to sign in, or sign in with \
         `kubectl --context {context} get ns` first"
    )]
    NeedsPerson { command: String, context: String },
    #[error(
        "credential plugin {command}: no answer within {}s{}; it was stopped. Quit and start \
         the console again to sign in",
        .waited.as_secs(),
        if *.attended { "" } else { " without a terminal (it may be waiting for you to sign in)" }
    )]
    Timeout {
        command: String,
        waited: Duration,
        attended: bool,
    },
    #[error("credential plugin {command} failed ({status}){last}")]
    Failed {
        command: String,
        status: String,
        last: String,
    },
    #[error("credential plugin {command}: its answer is not an ExecCredential: {why}")]
    Parse { command: String, why: String },
}

/// What a plugin answered with.
#[derive(Clone)]
enum Answer {
    /// A bearer token, valid until `expires` (`None`: until the server refuses it).
    Token {
        header: HeaderValue,
        expires: Option<DateTime<Utc>>,
    },
    /// A client certificate: kube-rs builds the TLS identity from the plugin itself.
    Certificate,
}

/// One distinct plugin configuration and its last answer.
pub struct Entry {
    exec: ExecConfig,
    /// The context it was first met in, for messages.
    context: String,
    answer: Mutex<Option<Answer>>,
    /// The last failed run, and when: the answer for [`REMEMBER_FAILURE`].
    failure: Mutex<Option<(std::time::Instant, ExecError)>>,
    /// Its registry's: whether the console's full screen has the terminal.
    terminal_taken: Arc<AtomicBool>,
    /// One run at a time; the others wait for its answer.
    running: tokio::sync::Mutex<()>,
    runs: AtomicU32,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("command", &self.exec.command)
            .field("runs", &self.runs.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Every plugin configuration the process has met, and whether the terminal is free.
#[derive(Default)]
pub struct ExecCredentials {
    entries: Mutex<HashMap<String, Arc<Entry>>>,
    /// The console's full screen has the terminal.
    terminal_taken: Arc<AtomicBool>,
}

static CREDENTIALS: LazyLock<ExecCredentials> = LazyLock::new(ExecCredentials::default);

/// The process's plugin credentials, shared by every client (the live sources and the
/// engine's), as client-go shares its authenticators.
pub fn credentials() -> &'static ExecCredentials {
    &CREDENTIALS
}

impl ExecCredentials {
    /// The console's full screen takes (`true`) or gives back the terminal.
    pub fn set_terminal_taken(&self, taken: bool) {
        self.terminal_taken.store(taken, Ordering::SeqCst);
    }

    /// The entry of `exec`, as met in `context`.
    pub fn entry(&self, exec: &ExecConfig, context: &str) -> Arc<Entry> {
        // The whole configuration is the key: the same plugin with other arguments or
        // environment (another cluster, another identity) is another sign-in.
        let mut key = serde_json::to_string(exec).unwrap_or_else(|_| format!("{exec:?}"));
        if exec.provide_cluster_info
            && let Some(cluster) = &exec.cluster
        {
            key.push_str(&serde_json::to_string(cluster).unwrap_or_default());
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .entry(key)
            .or_insert_with(|| {
                Arc::new(Entry {
                    exec: exec.clone(),
                    context: context.to_owned(),
                    answer: Mutex::new(None),
                    failure: Mutex::new(None),
                    terminal_taken: self.terminal_taken.clone(),
                    running: tokio::sync::Mutex::new(()),
                    runs: AtomicU32::new(0),
                })
            })
            .clone()
    }
}

impl Entry {
    /// How many times the plugin ran.
    pub fn runs(&self) -> u32 {
        self.runs.load(Ordering::Relaxed)
    }

    /// Whether it answers with a token (and so the console, not kube-rs, attaches it).
    /// Runs the plugin if it has not answered yet.
    pub async fn gives_token(&self) -> Result<bool, ExecError> {
        Ok(matches!(self.answer().await?, Answer::Token { .. }))
    }

    /// The `Authorization` header to send: the last token while it is valid, else a
    /// new one from the plugin.
    pub async fn header(&self) -> Result<HeaderValue, ExecError> {
        match self.answer().await? {
            Answer::Token { header, .. } => Ok(header),
            // Never attached by the console: see `gives_token`.
            Answer::Certificate => Err(ExecError::Parse {
                command: self.command(),
                why: "it answers with a client certificate, not a token".into(),
            }),
        }
    }

    fn valid(&self) -> Option<Answer> {
        let answer = self.answer.lock().unwrap_or_else(|e| e.into_inner());
        match answer.as_ref()? {
            Answer::Token {
                expires: Some(t), ..
            } if *t - MARGIN <= Utc::now() => None,
            a => Some(a.clone()),
        }
    }

    /// The server refused the token (401): the next request asks the plugin again.
    pub fn forget(&self) {
        let mut answer = self.answer.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(*answer, Some(Answer::Token { .. })) {
            *answer = None;
        }
    }

    /// The last failure, while it is recent enough to stand for a new run.
    fn recent_failure(&self) -> Option<ExecError> {
        let failure = self.failure.lock().unwrap_or_else(|e| e.into_inner());
        match failure.as_ref() {
            Some((at, e)) if at.elapsed() < REMEMBER_FAILURE => Some(e.clone()),
            _ => None,
        }
    }

    async fn answer(&self) -> Result<Answer, ExecError> {
        if let Some(a) = self.valid() {
            return Ok(a);
        }
        let _one = self.running.lock().await;
        // Another caller may have run it while this one waited: take its answer, or its
        // failure, rather than run the plugin again.
        if let Some(a) = self.valid() {
            return Ok(a);
        }
        if let Some(e) = self.recent_failure() {
            return Err(e);
        }
        match self.run().await {
            Ok(answer) => {
                *self.answer.lock().unwrap_or_else(|e| e.into_inner()) = Some(answer.clone());
                *self.failure.lock().unwrap_or_else(|e| e.into_inner()) = None;
                Ok(answer)
            }
            Err(e) => {
                *self.failure.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some((std::time::Instant::now(), e.clone()));
                Err(e)
            }
        }
    }

    fn command(&self) -> String {
        self.exec.command.clone().unwrap_or_default()
    }

    /// Runs the plugin: with the terminal when its mode allows and the terminal is free,
    /// else without, and within [`UNATTENDED`].
    async fn run(&self) -> Result<Answer, ExecError> {
        let command = self.exec.command.as_deref().ok_or(ExecError::NoCommand)?;
        // The terminal is free when the console's screen does not have it, and there is
        // one: a cron job has nobody to ask.
        let free = !self.terminal_taken.load(Ordering::SeqCst) && std::io::stdin().is_terminal();
        let interactive = match self.exec.interactive_mode {
            Some(ExecInteractiveMode::Never) => false,
            Some(ExecInteractiveMode::Always) if !free => {
                return Err(ExecError::NeedsPerson {
                    command: command.to_owned(),
                    context: self.context.clone(),
                });
            }
            _ => free,
        };
        let mut cmd = tokio::process::Command::new(command);
        cmd.args(self.exec.args.iter().flatten());
        for var in self.exec.env.iter().flatten() {
            if let (Some(name), Some(value)) = (var.get("name"), var.get("value")) {
                cmd.env(name, value);
            }
        }
        cmd.env("KUBERNETES_EXEC_INFO", exec_info(&self.exec, interactive));
        cmd.stdout(Stdio::piped()).kill_on_drop(true);
        if interactive {
            cmd.stdin(Stdio::inherit()).stderr(Stdio::inherit());
            eprintln!(
                "ck8s-console: signing in for {} with {command}; it may ask you below",
                self.context
            );
        } else {
            // A group of its own, so a timeout kills what it started too (a browser
            // helper, a shell's children). Not with the terminal: a process outside the
            // terminal's foreground group is stopped when it reads from it.
            cmd.stdin(Stdio::null())
                .stderr(Stdio::piped())
                .process_group(0);
        }
        self.runs.fetch_add(1, Ordering::Relaxed);
        let child = cmd.spawn().map_err(|e| ExecError::Start {
            command: command.to_owned(),
            why: e.to_string(),
            hint: self
                .exec
                .install_hint
                .as_deref()
                .map(|h| format!("; {}", h.trim()))
                .unwrap_or_default(),
        })?;
        let group = (!interactive).then(|| child.id()).flatten();
        let waited = if interactive { ATTENDED } else { UNATTENDED };
        let output = match tokio::time::timeout(waited, child.wait_with_output()).await {
            Ok(output) => output,
            Err(_) => {
                // The child itself dies with its handle (`kill_on_drop`); its group here.
                if let Some(pid) = group.and_then(|p| i32::try_from(p).ok()) {
                    // SAFETY: kill(2) on a process group this process created; no memory
                    // is touched.
                    unsafe { libc::kill(-pid, libc::SIGKILL) };
                }
                return Err(ExecError::Timeout {
                    command: command.to_owned(),
                    waited,
                    attended: interactive,
                });
            }
        }
        .map_err(|e| ExecError::Start {
            command: command.to_owned(),
            why: e.to_string(),
            hint: String::new(),
        })?;
        if !output.status.success() {
            return Err(ExecError::Failed {
                command: command.to_owned(),
                status: output.status.to_string(),
                last: last_line(&output.stderr),
            });
        }
        parse(&output.stdout).map_err(|why| ExecError::Parse {
            command: command.to_owned(),
            why,
        })
    }
}

/// `KUBERNETES_EXEC_INFO`: what the plugin is told about its run.
fn exec_info(exec: &ExecConfig, interactive: bool) -> String {
    let mut spec = serde_json::json!({ "interactive": interactive });
    if exec.provide_cluster_info
        && let Some(cluster) = &exec.cluster
    {
        spec["cluster"] = serde_json::to_value(cluster).unwrap_or_default();
    }
    serde_json::json!({
        "apiVersion": exec.api_version.as_deref().unwrap_or("client.authentication.k8s.io/v1"),
        "kind": "ExecCredential",
        "spec": spec,
    })
    .to_string()
}

/// The last line a failed plugin wrote, for the message: short, since a plugin may be
/// chatty, and only one line of it, since a careless one may print more than it should.
fn last_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    match text.lines().rev().map(str::trim).find(|l| !l.is_empty()) {
        Some(line) => {
            let cut: String = line.chars().take(200).collect();
            format!(": {cut}")
        }
        None => String::new(),
    }
}

#[derive(Deserialize)]
struct ExecCredential {
    status: Option<ExecStatus>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecStatus {
    token: Option<String>,
    expiration_timestamp: Option<DateTime<Utc>>,
    client_certificate_data: Option<String>,
}

/// An ExecCredential, in JSON or (as client-go tolerates) YAML. The parser's own message
/// is not passed on: it quotes what it read, and a plugin that prints a bare token would
/// put the token on the screen and in the log.
fn parse(stdout: &[u8]) -> Result<Answer, String> {
    let cred: ExecCredential = serde_yaml_ng::from_slice(stdout).map_err(|_| {
        "not JSON or YAML of the form {\"kind\": \"ExecCredential\", \"status\": {\"token\": ...}}"
            .to_string()
    })?;
    let status = cred.status.ok_or("it has no status")?;
    match (status.token, status.client_certificate_data) {
        (Some(token), _) if !token.is_empty() => {
            let mut header = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| "the token is not valid in an HTTP header".to_string())?;
            header.set_sensitive(true);
            Ok(Answer::Token {
                header,
                expires: status.expiration_timestamp,
            })
        }
        (_, Some(_)) => Ok(Answer::Certificate),
        _ => Err("it has neither a token nor a client certificate".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plugin(script: &str, mode: Option<ExecInteractiveMode>) -> ExecConfig {
        ExecConfig {
            api_version: Some("client.authentication.k8s.io/v1".into()),
            command: Some("sh".into()),
            args: Some(vec!["-c".into(), script.into()]),
            interactive_mode: mode,
            ..Default::default()
        }
    }

    fn token_json(token: &str, expires: &str) -> String {
        format!(
            r#"printf '{{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{{"token":"{token}","expirationTimestamp":"{expires}"}}}}'"#
        )
    }

    /// Without the terminal (as in the console's full screen, or under cron) the plugin
    /// is told so, reads an empty stdin, and its stderr is not passed through.
    #[tokio::test]
    async fn without_the_terminal_a_plugin_is_told_so_and_gets_no_stdin() {
        let creds = ExecCredentials::default();
        creds.set_terminal_taken(true);
        let script = format!(
            r#"case "$KUBERNETES_EXEC_INFO" in *'"interactive":false'*) ;; *) exit 3;; esac
               read line && exit 4
               echo "this goes nowhere" >&2
               {}"#,
            token_json("t0k", "2099-01-01T00:00:00Z")
        );
        let entry = creds.entry(&plugin(&script, None), "acme-wc");
        let header = entry.header().await.expect("a token");
        assert_eq!(header.to_str().unwrap(), "Bearer t0k");
        assert!(header.is_sensitive());
    }

    #[tokio::test]
    async fn a_token_is_reused_until_it_expires_and_one_run_serves_all() {
        let creds = ExecCredentials::default();
        let exec = plugin(&token_json("a", "2099-01-01T00:00:00Z"), None);
        let entry = creds.entry(&exec, "acme-sc");
        assert!(
            Arc::ptr_eq(&entry, &creds.entry(&exec, "acme-wc")),
            "one entry"
        );
        let (a, b) = tokio::join!(entry.header(), entry.header());
        assert_eq!(a.unwrap(), b.unwrap());
        entry.header().await.unwrap();
        assert_eq!(entry.runs(), 1);

        // A token the server refused is asked for again.
        entry.forget();
        entry.header().await.unwrap();
        assert_eq!(entry.runs(), 2);

        let expired = plugin(&token_json("b", "2020-01-01T00:00:00Z"), None);
        let entry = creds.entry(&expired, "acme-sc");
        entry.header().await.unwrap();
        entry.header().await.unwrap();
        assert_eq!(entry.runs(), 2, "an expired token is renewed before use");
    }

    #[tokio::test]
    async fn always_interactive_without_a_terminal_fails_at_once_naming_the_way_out() {
        let creds = ExecCredentials::default();
        creds.set_terminal_taken(true);
        let entry = creds.entry(
            &plugin("sleep 60", Some(ExecInteractiveMode::Always)),
            "globex-wc",
        );
        let err = entry.header().await.unwrap_err();
        assert!(matches!(err, ExecError::NeedsPerson { .. }), "{err}");
        assert!(err.to_string().contains("--context globex-wc"), "{err}");
        assert_eq!(entry.runs(), 0);
    }

    #[tokio::test]
    async fn failures_and_certificates_are_told_apart() {
        let creds = ExecCredentials::default();
        let failing = creds.entry(
            &plugin(
                "echo secret-ish noise >&2; echo 'login required' >&2; exit 1",
                None,
            ),
            "c",
        );
        let err = failing.header().await.unwrap_err().to_string();
        assert!(err.ends_with(": login required"), "{err}");
        assert!(!err.contains("noise"), "only the last line: {err}");
        // The clients waiting for it take the failure instead of running it again.
        failing.header().await.unwrap_err();
        assert_eq!(failing.runs(), 1);
        let bare = creds.entry(&plugin("echo eyJhbGciOiJSUzI1NiJ9.secret", None), "c");
        let err = bare.header().await.unwrap_err().to_string();
        assert!(
            !err.contains("eyJhbGci"),
            "the token stays out of the message: {err}"
        );
        let cert = creds.entry(
            &plugin(
                r#"printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"clientCertificateData":"x","clientKeyData":"y"}}'"#,
                None,
            ),
            "c",
        );
        assert!(!cert.gives_token().await.unwrap());
        let missing = creds.entry(
            &ExecConfig {
                command: Some("/nonexistent/kubelogin".into()),
                install_hint: Some("install kubelogin: https://github.com/int128/kubelogin".into()),
                ..Default::default()
            },
            "c",
        );
        let err = missing.header().await.unwrap_err().to_string();
        assert!(err.contains("install kubelogin"), "{err}");
    }
}
