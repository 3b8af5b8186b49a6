//! The controllers' test kit: a hand-built cluster, object templates, and pass runners.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};

use crate::clock::SimClock;
use crate::cluster::{ClusterSim, FleetOps};
use crate::config::ClusterRole;
use crate::controllers::objects::patch;
use crate::controllers::{Controller, all};
use crate::registry::{KindId, ids};
use crate::store::Obj;

#[derive(Debug)]
pub struct NoFleet;

impl FleetOps for NoFleet {
    fn cluster(&self, _: &str) -> Option<Arc<ClusterSim>> {
        None
    }
    fn provision(&self, _: &ClusterSim, _: &str, _: &str) -> Result<String, String> {
        Err("no fleet in tests".into())
    }
    fn decommission(&self, _: &str) {}
}

pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap()
}

/// A booting cluster (no delays) with three tainted control-plane nodes and
/// `workers` worker nodes.
pub fn cluster(workers: usize) -> ClusterSim {
    cluster_at(start(), 1.0, workers)
}

pub fn cluster_at(at: DateTime<Utc>, speed: f64, workers: usize) -> ClusterSim {
    let c = ClusterSim::for_test("test", ClusterRole::Wc, SimClock::new(at, speed), true);
    c.store
        .create(
            *ids::NAMESPACES,
            json!({"metadata": {"name": "default"}, "spec": {"finalizers": ["kubernetes"]}}),
        )
        .unwrap();
    for i in 1..=3 {
        c.store
            .create(*ids::NODES, node(&format!("cp-{i}"), true))
            .unwrap();
    }
    for i in 1..=workers {
        c.store
            .create(*ids::NODES, node(&format!("worker-{i}"), false))
            .unwrap();
    }
    c
}

pub fn node(name: &str, control_plane: bool) -> Value {
    let mut n = json!({
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": {},
        "status": {
            "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
            "allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"},
            "addresses": [{"type": "InternalIP", "address": format!("192.168.0.{}", 10 + name.len())}],
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}],
        },
    });
    if control_plane {
        n["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] = json!("");
        n["spec"]["taints"] =
            json!([{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]);
    }
    n
}

/// Read-modify-write of an object that must exist, as a client would edit it.
pub fn edit(c: &ClusterSim, kind: KindId, ns: &str, name: &str, f: impl FnOnce(&mut Value)) {
    let obj = c
        .store
        .get(kind, ns, name)
        .expect("the object to edit exists");
    patch(&c.store, kind, &obj, f);
}

pub fn cordon(c: &ClusterSim, node: &str, on: bool) {
    edit(c, *ids::NODES, "", node, |next| {
        next["spec"]["unschedulable"] = json!(on);
    });
}

pub fn pod(name: &str) -> Value {
    json!({"metadata": {"name": name, "namespace": "default"}, "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}})
}

pub fn template(app: &str) -> Value {
    json!({
        "metadata": {"labels": {"app": app}},
        "spec": {"containers": [{"name": app, "image": "nginx:1.27"}]},
    })
}

pub fn deployment(name: &str, replicas: i64) -> Value {
    json!({
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": template(name)},
    })
}

/// Runs full controller passes until nothing changes (or `max` passes).
pub fn settle_n(c: &ClusterSim, controllers: &[Box<dyn Controller>], max: usize) -> usize {
    for n in 0..max {
        let mut changed = false;
        for ctl in controllers {
            changed |= ctl.reconcile(c, &NoFleet);
        }
        if !changed {
            return n;
        }
    }
    max
}

pub fn settle(c: &ClusterSim, controllers: &[Box<dyn Controller>]) {
    settle_n(c, controllers, 200);
}

pub fn controllers() -> Vec<Box<dyn Controller>> {
    all()
}

/// Passes over real (sped-up) time until `done` holds, or panics after `real_ms`.
pub fn run_until(
    c: &ClusterSim,
    controllers: &[Box<dyn Controller>],
    real_ms: u64,
    done: impl Fn(&ClusterSim) -> bool,
) {
    let until = std::time::Instant::now() + std::time::Duration::from_millis(real_ms);
    while std::time::Instant::now() < until {
        for ctl in controllers {
            ctl.reconcile(c, &NoFleet);
        }
        if done(c) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    panic!("condition not reached within {real_ms} ms");
}

pub fn pods_of(c: &ClusterSim, prefix: &str) -> Vec<Arc<Value>> {
    let (pods, _) = c.store.list(*ids::PODS, None);
    pods.into_iter()
        .filter(|p| crate::store::name_of(p).starts_with(prefix))
        .collect()
}

pub fn running(c: &ClusterSim, prefix: &str) -> usize {
    pods_of(c, prefix)
        .iter()
        .filter(|p| {
            p["status"]["phase"] == "Running" && p["metadata"]["deletionTimestamp"].is_null()
        })
        .count()
}

/// An object of the `default` namespace that must exist.
pub fn get(c: &ClusterSim, kind: KindId, name: &str) -> Obj {
    c.store.get(kind, "default", name).unwrap()
}
