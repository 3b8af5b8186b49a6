//! Test support: a simulated fleet on loopback, and kubectl pointed at it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;
use std::time::{Duration, Instant};

use ck8s_console::sim::{SimFleet, SimOptions};

/// A running simulated fleet with its kubeconfig in a temporary directory.
pub struct Sim {
    pub fleet: SimFleet,
    pub kubeconfig: PathBuf,
    pub fleet_file: PathBuf,
    pub dir: tempfile::TempDir,
    // Declared last so the fleet's tasks are dropped before the runtime shuts down.
    pub rt: tokio::runtime::Runtime,
}

pub fn start(opts: SimOptions) -> Sim {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let fleet = rt
        .block_on(SimFleet::start(opts))
        .expect("simulated fleet starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let (kubeconfig, fleet_file) = fleet.write_files(dir.path()).expect("sim files written");
    Sim {
        fleet,
        kubeconfig,
        fleet_file,
        dir,
        rt,
    }
}

/// A small fleet: one environment, quick to build.
pub fn small() -> Sim {
    start(SimOptions {
        environments: 1,
        ..SimOptions::default()
    })
}

impl Sim {
    /// Runs kubectl with this fleet's kubeconfig and a private cache dir.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_command(args)
            .output()
            .expect("kubectl runs (is it installed? scripts/setup-test-deps installs it)")
    }

    /// A kubectl command for this fleet, not yet started (for long-running watches).
    pub fn kubectl_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("kubectl");
        cmd.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", self.dir.path().join("kube-cache"))
            .env("HOME", self.dir.path());
        cmd
    }

    /// kubectl that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// Polls `f` until it returns Some, or panics after `timeout` naming `what`.
pub fn eventually<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The admin bearer token and API server URL of a context in the sim's kubeconfig.
pub fn admin_endpoint(sim: &Sim, context: &str) -> (String, String) {
    let text = std::fs::read_to_string(&sim.kubeconfig).expect("kubeconfig");
    let doc: serde_json::Value = serde_yaml_ng::from_str(&text).expect("kubeconfig is YAML");
    let find = |list: &str, name: &str| {
        doc[list]
            .as_array()
            .and_then(|l| l.iter().find(|e| e["name"] == name))
            .cloned()
            .unwrap_or_default()
    };
    let server = find("clusters", context)["cluster"]["server"]
        .as_str()
        .expect("server")
        .to_string();
    let token = find("users", context)["user"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    (server, token)
}

/// An HTTPS client that trusts the sim's CA.
pub fn sim_http(sim: &Sim) -> reqwest::Client {
    let text = std::fs::read_to_string(&sim.kubeconfig).expect("kubeconfig");
    let doc: serde_json::Value = serde_yaml_ng::from_str(&text).expect("kubeconfig is YAML");
    let ca_b64 = doc["clusters"][0]["cluster"]["certificate-authority-data"]
        .as_str()
        .expect("CA data");
    use base64::Engine;
    let ca = base64::engine::general_purpose::STANDARD
        .decode(ca_b64)
        .expect("CA is base64");
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA is PEM"))
        .build()
        .expect("http client")
}

/// POSTs a fault-injection endpoint of a cluster's API server.
pub async fn inject(sim: &Sim, context: &str, fault: &str) {
    let (server, token) = admin_endpoint(sim, context);
    let resp = sim_http(sim)
        .post(format!("{server}/sim/v1/{fault}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("fault endpoint answers");
    assert!(resp.status().is_success(), "{fault}: {}", resp.status());
}

/// A kube client for a context of the sim's kubeconfig.
pub async fn kube_client(sim: &Sim, context: &str) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(&sim.kubeconfig).expect("kubeconfig");
    let opts = kube::config::KubeConfigOptions {
        context: Some(context.to_string()),
        ..Default::default()
    };
    let cfg = kube::Config::from_custom_kubeconfig(kc, &opts)
        .await
        .expect("kube config");
    kube::Client::try_from(cfg).expect("kube client")
}

/// The console binary on `sim`'s fleet config with its own state dir and actor, and
/// nothing inherited from the test's environment but `PATH`.
pub fn console_command(sim: &Sim, state: &std::path::Path, actor: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ck8s-console"));
    cmd.arg("--config")
        .arg(&sim.fleet_file)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", sim.dir.path())
        .env("CK8S_CONSOLE_STATE_DIR", state)
        .env("CK8S_CONSOLE_ACTOR", actor)
        .env("NO_COLOR", "1");
    cmd
}

// JSON and process output of the binary, for the tests that drive it: the exit code
// (a death by signal fails the test), everything it printed, and stdout as JSON.

pub fn code(out: &Output) -> i32 {
    out.status
        .code()
        .unwrap_or_else(|| panic!("ended by a signal: {}", show(out)))
}

pub fn show(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        stdout(out),
        stderr(out)
    )
}

pub fn parse(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON on stdout ({e}): {}", show(out)))
}

pub fn text<'v>(v: &'v Value, what: &str) -> &'v str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v}"))
}

pub fn array<'v>(v: &'v Value, what: &str) -> &'v Vec<Value> {
    v.as_array()
        .unwrap_or_else(|| panic!("{what} is not an array: {v}"))
}
