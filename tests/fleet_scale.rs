//! A fleet larger than the open-file limit would allow over HTTP/1.1: the console reaches
//! every cluster over one HTTP/2 connection each, and `bench --environments` reports every
//! figure of the fleet-scale targets. The simulated fleet runs in-process; the console is
//! the binary, under a lowered `RLIMIT_NOFILE` (soft and hard, as `ulimit -n` sets them, so
//! that it cannot raise it again).

mod common;

use std::os::unix::process::CommandExt;
use std::process::{Command, Output};

use ck8s_sim::SimOptions;
use serde_json::Value;

/// Environments of the test fleet: 24 clusters.
const ENVIRONMENTS: u32 = 12;
/// The limit the console runs under: below even what it reckons the fleet needs, so it asks
/// Prometheus and Alertmanager one request at a time, with no connection kept idle (before
/// it did, this failed at every run). Over HTTP/1.1 every watch holds a connection of its
/// own, well over 130 in all.
const NOFILE: u64 = 72;

fn fleet(http1_only: bool) -> common::Sim {
    common::start(SimOptions {
        environments: ENVIRONMENTS,
        pods_per_cluster: 10,
        http1_only,
        ..SimOptions::default()
    })
}

/// `status -o json` on `sim`'s fleet with the open-file limit at `limit`.
fn status_limited(sim: &common::Sim, limit: u64) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ck8s-console"));
    cmd.arg("--config")
        .arg(&sim.fleet_file)
        .arg("--state-dir")
        .arg(sim.dir.path().join("state"))
        .args(["status", "-o", "json"])
        .env_remove("CK8S_CONSOLE_CONFIG")
        .env_remove("CK8S_CONSOLE_STATE_DIR");
    // SAFETY: setrlimit is async-signal-safe and touches nothing of the parent's.
    unsafe {
        cmd.pre_exec(move || {
            let rl = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &rl) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.output().expect("ck8s-console runs")
}

fn document(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "status prints JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn status_reaches_every_cluster_within_a_file_limit_http1_would_exceed() {
    let sim = fleet(false);
    let out = status_limited(&sim, NOFILE);
    let doc = document(&out);
    assert_eq!(
        doc["errors"],
        serde_json::json!([]),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));
    let environments = doc["environments"].as_array().unwrap();
    assert_eq!(environments.len(), ENVIRONMENTS as usize);
    for env in environments {
        for cluster in env["clusters"].as_array().unwrap() {
            assert_eq!(cluster["api"]["reachable"], true, "{}", cluster["name"]);
            assert!(
                cluster["slo"]["budget_left_fraction"].is_number(),
                "{cluster}"
            );
        }
    }
    // The same fleet behind servers without HTTP/2 needs more than the limit: connections
    // fail, and status says which sources did not answer.
    drop(sim);
    let sim = fleet(true);
    let out = status_limited(&sim, NOFILE);
    let doc = document(&out);
    assert_eq!(out.status.code(), Some(1));
    let errors = doc["errors"].as_array().unwrap();
    assert!(!errors.is_empty(), "{doc}");
}

/// The fleet bench prints every figure with its target and verdict.
#[test]
fn the_fleet_bench_reports_every_figure_against_its_target() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ck8s-console"))
        .args(["--state-dir"])
        .arg(dir.path())
        .args([
            "bench",
            "--environments",
            "2",
            "--pods-per-cluster",
            "10",
            "--idle",
            "1",
            "--json",
        ])
        .env("HOME", dir.path())
        .output()
        .expect("the bench runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(report["environments"], 2);
    assert_eq!(report["clusters"], 4);
    assert_eq!(report["sources_failed"], 0, "{report}");
    assert_eq!(report["status_exit"], 0, "{report}");
    for figure in [
        "overview_seconds",
        "rss_mib",
        "descriptors_per_cluster",
        "idle_cpu_percent",
        "status_seconds",
    ] {
        assert!(
            report[figure].as_f64().is_some_and(|v| v >= 0.0),
            "{figure}: {report}"
        );
        assert!(report["targets"][figure].is_number(), "{figure}");
    }
    for met in ["overview", "rss", "descriptors", "idle_cpu", "status"] {
        assert!(report["met"][met].is_boolean(), "{met}: {report}");
    }
    assert!(report["overview_seconds"].as_f64().unwrap() > 0.0);
}
