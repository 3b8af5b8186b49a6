//! Test support: a simulated fleet on loopback, and kubectl pointed at it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};
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
        Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", self.dir.path().join("kube-cache"))
            .env("HOME", self.dir.path())
            .output()
            .expect("kubectl runs (is it installed? scripts/setup-test-deps installs it)")
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
