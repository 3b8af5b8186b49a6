//! The console's sources and drawing under every fault the simulator injects: nothing
//! panics, the panes keep drawing, the last data stays on screen marked stale with the time
//! and the error, and once the fault ends the data matches the simulator again, with no
//! duplicate or ghost rows. How fast frames are under faults is measured by
//! `ck8s-console bench` (a timed test would fail on a loaded machine, not on a slow frame).

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use ck8s_fleet::sources::live::{Intervals, LiveFleet};
use ck8s_fleet::state::health::{Source, SourceHealth};
use ck8s_model::config;
use ck8s_sim::faults::{FaultKind, FaultSpec, Service};

/// How long each fault is watched at least (the simulator runs at real speed here).
const FAULT: Duration = Duration::from_secs(3);
/// How long a fault that makes its source stale lasts at most, waiting for the console to
/// show it: a loaded machine may take longer than [`FAULT`] to reconnect a watch. The
/// fault is cleared as soon as it has been seen.
const FAULT_AT_MOST: Duration = Duration::from_secs(20);
/// How soon after a fault the data must match the simulator again.
const RECOVERY: Duration = Duration::from_secs(10);

fn fault(service: Service, kind: FaultKind) -> FaultSpec {
    FaultSpec {
        service,
        kind,
        duration: format!("{}s", FAULT_AT_MOST.as_secs()),
        latency_ms: 0,
        jitter_ms: 0,
        code: None,
        retry_after: None,
        fraction: 1.0,
    }
}

/// One fault, the source it must show on, and whether that source must go stale (a fault
/// that only slows or spoils some answers may be ridden out by retries).
struct Case {
    name: &'static str,
    spec: FaultSpec,
    source: Source,
    fails: bool,
}

fn cases() -> Vec<Case> {
    use FaultKind::*;
    let api = |kind| fault(Service::Api, kind);
    vec![
        Case {
            name: "api down",
            spec: api(Down),
            source: Source::Pods,
            fails: true,
        },
        Case {
            name: "api token revoked",
            spec: api(Revoked),
            source: Source::Pods,
            fails: true,
        },
        Case {
            name: "api 500 for every request",
            spec: FaultSpec {
                code: Some(500),
                ..api(Status)
            },
            source: Source::Pods,
            fails: true,
        },
        // The client retries 503 with backoff itself: a short burst is ridden out.
        Case {
            name: "api 503 for every request",
            spec: FaultSpec {
                code: Some(503),
                ..api(Status)
            },
            source: Source::Pods,
            fails: false,
        },
        Case {
            name: "api 429 with Retry-After for half",
            spec: FaultSpec {
                code: Some(429),
                retry_after: Some(1),
                fraction: 0.5,
                ..api(Status)
            },
            source: Source::Pods,
            fails: false,
        },
        Case {
            name: "api latency 1-2 s",
            spec: FaultSpec {
                latency_ms: 1_000,
                jitter_ms: 1_000,
                ..api(Latency)
            },
            source: Source::Pods,
            fails: false,
        },
        // A watch stream cut mid-line reads as a closed watch (clients drop the partial
        // line and watch again), so this one need not show; it must lose nothing.
        Case {
            name: "api answers truncated",
            spec: api(Truncate),
            source: Source::Pods,
            fails: false,
        },
        Case {
            name: "api answers malformed",
            spec: api(Malformed),
            source: Source::Pods,
            fails: true,
        },
        Case {
            name: "api connections reset mid-stream",
            spec: api(Reset),
            source: Source::Pods,
            fails: true,
        },
        Case {
            name: "alertmanager down",
            spec: fault(Service::Alertmanager, Down),
            source: Source::Alertmanager,
            fails: true,
        },
        Case {
            name: "alertmanager 500",
            spec: FaultSpec {
                code: Some(500),
                ..fault(Service::Alertmanager, Status)
            },
            source: Source::Alertmanager,
            fails: true,
        },
        Case {
            name: "alertmanager token revoked",
            spec: fault(Service::Alertmanager, Revoked),
            source: Source::Alertmanager,
            fails: true,
        },
        Case {
            name: "alertmanager answers malformed",
            spec: fault(Service::Alertmanager, Malformed),
            source: Source::Alertmanager,
            fails: true,
        },
    ]
}

/// `namespace/name` of every pod of `context`, as kubectl sees them; `None` while the
/// server does not answer yet.
fn sim_pods(sim: &common::Sim, context: &str) -> Option<BTreeSet<String>> {
    let out = sim.kubectl(&[
        "--context",
        context,
        "get",
        "pods",
        "-A",
        "-o",
        "jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{\"\\n\"}{end}",
    ]);
    out.status
        .success()
        .then(|| common::stdout(&out).lines().map(str::to_owned).collect())
}

#[test]
fn every_fault_is_survived_shown_and_recovered_from() {
    let sim = common::small();
    let fleet = config::load(&sim.fleet_file).expect("the sim writes a valid fleet config");
    let intervals = Intervals {
        alerts: Duration::from_millis(500),
        metrics: Duration::from_secs(1),
        slo: Duration::from_secs(300),
        ..Intervals::default()
    };
    let live = sim.rt.block_on(async {
        let live = LiveFleet::start(&fleet, intervals).await;
        live.open("acme").await;
        assert!(
            live.wait_settled(
                &[Source::Pods, Source::Nodes, Source::Alertmanager],
                Duration::from_secs(60)
            )
            .await,
            "sources sync"
        );
        live
    });
    let wc = live.state.env("acme").expect("acme").wc.clone();
    for case in cases() {
        let rows_before = wc.read().pods.len();
        let alerts_before = wc.read().alerts.len();
        sim.fleet
            .inject_fault("acme-wc", case.spec.clone())
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        // Open watches were made before the fault: reconnect them through it. A spoiled
        // body must meet a list too, so for those the history is compacted as well.
        if matches!(
            case.spec.kind,
            FaultKind::Truncate | FaultKind::Malformed | FaultKind::Reset
        ) {
            sim.fleet.compact("acme-wc");
        }
        sim.fleet.drop_watches("acme-wc");
        let started = Instant::now();
        let mut seen_failed: Option<SourceHealth> = None;
        let watching = |seen: &Option<SourceHealth>| {
            let spent = started.elapsed();
            spent < FAULT || (case.fails && seen.is_none() && spent < FAULT_AT_MOST)
        };
        while watching(&seen_failed) {
            // Drawing goes on from the last data (how fast: `ck8s-console bench`).
            let frames = ck8s_console::ui::bench::render_frames(&live.state, "acme", 200, 50, 3);
            assert_eq!(frames.len(), 3);
            let s = wc.read();
            if std::env::var("FAULTS_DEBUG").is_ok() {
                eprintln!(
                    "{}: {:?} lists {}",
                    case.name,
                    s.health.get(&case.source),
                    s.pods.lists()
                );
            }
            // The last data stays on screen.
            assert!(
                s.pods.len() >= rows_before && s.alerts.len() >= alerts_before.min(1),
                "{}: rows dropped from {rows_before} to {} pods, {} alerts",
                case.name,
                s.pods.len(),
                s.alerts.len()
            );
            if let Some(h) = s.health.get(&case.source).filter(|h| !h.is_ok()) {
                seen_failed.get_or_insert_with(|| h.clone());
            }
            drop(s);
            std::thread::sleep(Duration::from_millis(100));
        }
        sim.fleet.clear_faults("acme-wc");
        if case.fails {
            match &seen_failed {
                Some(
                    SourceHealth::Stale { error, .. } | SourceHealth::Unauthorized { error, .. },
                ) => {
                    assert!(!error.is_empty(), "{}: a stale source says why", case.name);
                    for debris in ["Status {", "Some(", "ListMeta"] {
                        assert!(!error.contains(debris), "{}: {error}", case.name);
                    }
                }
                other => panic!(
                    "{}: {:?} never went stale: {other:?}",
                    case.name, case.source
                ),
            }
        }
        // Over: the data matches the simulator again, whole and without ghosts.
        let deadline = Instant::now() + RECOVERY;
        loop {
            let want = sim_pods(&sim, "acme-wc").unwrap_or_default();
            let s = wc.read();
            let health = (
                s.health.get(&case.source).cloned(),
                s.health.get(&Source::Pods).cloned(),
            );
            let ok = health.0.as_ref().is_some_and(SourceHealth::is_ok)
                && health.1.as_ref().is_some_and(SourceHealth::is_ok);
            let shown: BTreeSet<String> = s
                .pods
                .values()
                .map(|p| format!("{}/{}", p.namespace, p.name))
                .collect();
            let rows = s.pods.len();
            drop(s);
            if ok && !want.is_empty() && shown == want && rows == want.len() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{}: not recovered within {RECOVERY:?}: health {health:?}; {rows} rows, \
                 missing {:?}, ghosts {:?}",
                case.name,
                want.difference(&shown).collect::<Vec<_>>(),
                shown.difference(&want).collect::<Vec<_>>(),
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// A fault set in a scenario file happens at its time, and a bad one is refused at start.
#[test]
fn faults_come_from_the_scenario_file_too() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("faults.toml");
    std::fs::write(
        &file,
        "[[fault]]\nat = \"0s\"\nenvironment = \"acme\"\ncluster = \"wc\"\n\
         fault = { service = \"api\", kind = \"revoked\", duration = \"1h\" }\n",
    )
    .unwrap();
    let scenario = ck8s_sim::scenario::load(&file).expect("the scenario loads");
    let sim = common::start(ck8s_sim::SimOptions {
        environments: 1,
        scenario: Some(scenario),
        ..ck8s_sim::SimOptions::default()
    });
    common::eventually("the token to be refused", Duration::from_secs(10), || {
        let out = sim.kubectl(&["--context", "acme-wc", "get", "nodes"]);
        (!out.status.success() && common::stderr(&out).contains("provide credentials"))
            .then_some(())
    });
    let sc = sim.kubectl(&["--context", "acme-sc", "get", "nodes"]);
    assert!(sc.status.success(), "only acme-wc is faulted");

    std::fs::write(
        &file,
        "[[fault]]\nat = \"0s\"\nenvironment = \"acme\"\ncluster = \"wc\"\n\
         fault = { service = \"api\", kind = \"status\", duration = \"1m\" }\n",
    )
    .unwrap();
    let e = ck8s_sim::scenario::load(&file).unwrap_err().to_string();
    assert!(
        e.contains("fault 1") && e.contains("`code` = 429, 500 or 503"),
        "{e}"
    );
}
