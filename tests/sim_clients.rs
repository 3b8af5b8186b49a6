//! The console's Prometheus and Alertmanager clients, proven against the real servers in
//! other tests, read the simulator's APIs too: the shapes match, the demo's trouble
//! shows, and a silence mutes an alert.

mod common;

use std::time::Duration;

use chrono::Utc;
use ck8s_fleet::sources::alertmanager::{AlertFilter, AlertmanagerClient};
use ck8s_fleet::sources::prometheus::PrometheusClient;
use ck8s_model::alert::{AlertState, PostableSilence, SilenceState};
use ck8s_model::slo;
use ck8s_sim::SimOptions;

fn demo() -> common::Sim {
    common::start(SimOptions::default())
}

#[test]
fn alertmanager_shows_the_trouble_and_a_silence_mutes_it() {
    let sim = demo();
    let url = format!(
        "http://{}",
        sim.fleet.cluster("globex-wc").unwrap().alertmanager
    );
    let am = AlertmanagerClient::new(&url, None, Duration::from_secs(5)).unwrap();
    sim.rt.block_on(async {
        let alerts = am.alerts(&AlertFilter::default()).await.unwrap();
        let failed = alerts
            .iter()
            .find(|a| a.alertname() == "VeleroBackupFailed")
            .expect("the failed backup alerts");
        assert_eq!(failed.label("severity"), Some("critical"));
        assert_eq!(failed.status.state, AlertState::Active);
        for name in [
            "KubeNodeNotReady",
            "KubePodCrashLooping",
            "FalcoRuntimeEvent",
            "Watchdog",
        ] {
            assert!(
                alerts.iter().any(|a| a.alertname() == name),
                "{name} missing"
            );
        }
        let silence = PostableSilence::for_alert(
            failed,
            chrono::TimeDelta::hours(2),
            "oncall",
            "restore in progress",
        );
        let id = am.create_silence(&silence).await.unwrap();
        let muted = am.alerts(&AlertFilter::default()).await.unwrap();
        let same = muted
            .iter()
            .find(|a| a.fingerprint == failed.fingerprint)
            .unwrap();
        assert_eq!(same.status.state, AlertState::Suppressed);
        assert_eq!(same.status.silenced_by, vec![id.clone()]);
        assert!(
            !am.alerts(&AlertFilter::active_only())
                .await
                .unwrap()
                .iter()
                .any(|a| a.fingerprint == failed.fingerprint),
            "silenced alerts are hidden from the active view"
        );
        am.expire_silence(&id).await.unwrap();
        let silences = am.silences().await.unwrap();
        assert_eq!(
            silences.iter().find(|s| s.id == id).unwrap().status.state,
            SilenceState::Expired
        );
        let back = am.alerts(&AlertFilter::default()).await.unwrap();
        assert_eq!(
            back.iter()
                .find(|a| a.fingerprint == failed.fingerprint)
                .unwrap()
                .status
                .state,
            AlertState::Active
        );
    });
}

#[test]
fn prometheus_serves_usage_and_a_month_of_probe_history() {
    let sim = demo();
    let sc = sim.fleet.cluster("globex-sc").unwrap();
    let prom = PrometheusClient::new(
        &format!("http://{}", sc.prometheus),
        None,
        Duration::from_secs(10),
    )
    .unwrap();
    sim.rt.block_on(async {
        let nodes = prom.node_usage().await.unwrap();
        let node_count = sim
            .ok(&["--context", "globex-sc", "get", "nodes", "-o", "name"])
            .lines()
            .count();
        assert_eq!(nodes.len(), node_count);
        assert!(
            nodes
                .iter()
                .all(|n| n.cpu_cores.unwrap_or(0.0) > 0.0 && n.memory_bytes.unwrap_or(0.0) > 0.0)
        );
        assert!(!prom.pod_usage().await.unwrap().is_empty());

        let now = Utc::now();
        let start = now - chrono::Duration::days(30);
        let samples = prom
            .probe_samples(
                r#"probe_success{cluster="globex-sc",target="grafana"}"#,
                start,
                now,
            )
            .await
            .unwrap();
        let counts = slo::count(&samples, &[], start, now);
        // The demo's long outage (170 minutes, nine days ago) plus the ongoing one.
        assert!(counts.bad >= 170, "{counts:?}");
        assert!(counts.good > 40_000, "{counts:?}");
        assert!(
            counts.missing >= 1,
            "the prober's gaps are missing, not healthy: {counts:?}"
        );
    });
}
