//! Fixtures for unit tests: rows and alerts as the sources would put them into the fleet
//! state, for the test fleet of `state::test_fleet`.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::state::ClusterHandle;
use crate::state::health::{Source, SourceHealth};
use crate::state::rows::{NodeRow, PodPhase, PodRow};
use ck8s_model::alert::Alert;

pub fn node(name: &str, control_plane: bool, ready: Option<bool>) -> NodeRow {
    NodeRow {
        name: name.into(),
        ready,
        roles: Arc::from(if control_plane {
            "control-plane"
        } else {
            "<none>"
        }),
        version: Arc::from("v1.31.4"),
        unschedulable: false,
        created: 0,
        internal_ip: None,
        cpu_millis: 2000,
        memory_bytes: 8 << 30,
        pressure: Vec::new(),
    }
}

/// The node watch has listed `nodes` and is connected.
pub fn listed_nodes(cluster: &ClusterHandle, nodes: Vec<NodeRow>, now: DateTime<Utc>) {
    cluster.update(|s| {
        s.nodes.begin_relist();
        for n in nodes {
            s.nodes.stage((Arc::from(""), n.name.clone()), n);
        }
        s.nodes.commit_relist();
        s.health
            .insert(Source::Nodes, SourceHealth::Connected { since: now });
    });
}

/// A stand-in for Alertmanager's fingerprint: one per label set.
fn fingerprint(labels: &serde_json::Value) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    labels.to_string().hash(&mut h);
    format!("{:016x}", h.finish())
}

/// An alert as Alertmanager's v2 API returns it; `suppressed` is silenced by `s1`.
pub fn alert(name: &str, severity: &str, suppressed: bool, labels: &[(&str, &str)]) -> Alert {
    let mut all = serde_json::json!({"alertname": name, "severity": severity});
    for (k, v) in labels {
        all[*k] = serde_json::json!(v);
    }
    let (state, silenced_by) = match suppressed {
        true => ("suppressed", vec!["s1"]),
        false => ("active", vec![]),
    };
    serde_json::from_value(serde_json::json!({
        "labels": all,
        "annotations": {"summary": format!("{name} fires")},
        "startsAt": "2026-12-07T10:00:00Z",
        "endsAt": "2026-12-07T11:00:00Z",
        "updatedAt": "2026-12-07T10:00:00Z",
        "fingerprint": fingerprint(&all),
        "receivers": [{"name": "default"}],
        "status": {"state": state, "silencedBy": silenced_by, "inhibitedBy": []},
    }))
    .expect("the alert fixture is an Alertmanager alert")
}

/// Alertmanager has answered with `alerts`.
pub fn firing(cluster: &ClusterHandle, alerts: Vec<Alert>) {
    cluster.update(|s| {
        s.alerts = alerts;
        s.alerts_known = true;
    });
}

/// The SLO report of `cluster`'s probe of `target` over 31 days of samples, all good or
/// all bad (which pages and spends the whole budget).
pub fn slo_report(cluster: &str, target: &str, good: bool) -> ck8s_model::slo::SloReport {
    use ck8s_model::slo::{self, ProbeKind, Samples};
    let now = Utc::now();
    let probe = slo::Probe::for_cluster(cluster, target, ProbeKind::Cluster, 99.95);
    let start = now - chrono::Duration::days(31);
    let minutes = (now - start).num_minutes() as usize;
    let samples = Samples::from_values(start, vec![Some(good); minutes]);
    slo::report(cluster, &probe, &samples, &[], now, chrono_tz::UTC)
}

/// A Running pod of one ready container on node `w1`, labelled `app=<app>`.
pub fn pod(ns: &str, name: &str, status: &str, app: &str) -> PodRow {
    PodRow {
        namespace: Arc::from(ns),
        name: Box::from(name),
        phase: PodPhase::Running,
        status: Arc::from(status),
        ready: 1,
        containers: 1,
        restarts: 0,
        created: 0,
        node: Some(Arc::from("w1")),
        ip: None,
        owner: None,
        labels: Box::new([(Arc::from("app"), Arc::from(app))]),
    }
}

/// `source` of `cluster` failed at `since` with `error`: its data is stale.
pub fn stale(cluster: &ClusterHandle, source: Source, since: DateTime<Utc>, error: &str) {
    cluster.set_health(
        source,
        SourceHealth::Stale {
            since,
            error: error.into(),
        },
    );
}
