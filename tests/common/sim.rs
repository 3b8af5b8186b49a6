//! The simulated fleet as a test fixture: started on loopback with its kubeconfig in a
//! temporary directory, kubectl pointed at it, and polling until something holds. Shared by
//! the console's tests and ck8s-fleet's (which include this file by path), so it names
//! neither the console's binary nor a Kubernetes client crate.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use ck8s_sim::{SimFleet, SimOptions};

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
    ck8s_fleet::install_crypto_provider();
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
