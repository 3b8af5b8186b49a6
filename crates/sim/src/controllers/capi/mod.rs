//! Cluster API in a service cluster, which manages itself and its workload cluster
//! (ADR-0033): Clusters are provisioned and decommissioned through the fleet,
//! MachineDeployments roll MachineSets, KubeadmControlPlanes and MachineSets create and
//! delete Machines one at a time (maxSurge 1, maxUnavailable 0), and each Machine owns
//! a Node of the same name in its target cluster, cordoned and drained before it goes.

use std::sync::Arc;

use serde_json::{Value, json};

use self::conditions::{Cond, set_conditions};
use super::objects::{
    annotation, condition_true, delete, find_condition, is_terminating, patch, phase, status_mut,
};
use super::pacing::{self, Pacer};
use super::{Controller, PerCluster};
use crate::clock::k8s_time;
use crate::cluster::{ClusterSim, FleetOps};
use crate::config::ClusterRole;
use crate::registry::{KindId, ids};
use crate::store::{Obj, Store, name_of};

mod clusters;
mod conditions;
mod control_planes;
mod drain;
mod health_checks;
mod machine_deployments;
mod machine_sets;
mod machines;
mod nodes;
mod orphans;
#[cfg(test)]
mod tests;

pub const CLUSTER_LABEL: &str = "cluster.x-k8s.io/cluster-name";
pub const DEPLOYMENT_LABEL: &str = "cluster.x-k8s.io/deployment-name";
pub const SET_LABEL: &str = "cluster.x-k8s.io/set-name";
pub const CONTROL_PLANE_LABEL: &str = "cluster.x-k8s.io/control-plane";
pub const CONTROL_PLANE_NAME_LABEL: &str = "cluster.x-k8s.io/control-plane-name";
const PAUSED_ANNOTATION: &str = "cluster.x-k8s.io/paused";

#[derive(Default)]
pub struct Capi {
    /// Per cluster: what the last pass saw (see [`change_key`]), and when timed work is
    /// next due.
    pacers: PerCluster<Pacer<Vec<u64>>>,
}

impl Capi {
    pub fn new() -> Capi {
        Capi::default()
    }
}

impl Controller for Capi {
    fn name(&self) -> &'static str {
        "cluster-api"
    }

    fn reconcile(&self, cluster: &ClusterSim, fleet: &dyn FleetOps) -> bool {
        if cluster.role != ClusterRole::Sc {
            return false;
        }
        self.pacers.with(&cluster.store, |pacer| {
            let pace = pacing::Pass::start(change_key(cluster, fleet), cluster);
            // Never skipped while the fleet boots.
            if !pace.booting && pacer.skips(&pace) {
                return false;
            }
            let mut pass = Pass {
                sc: cluster,
                fleet,
                pace,
                changed: false,
            };
            pass.run();
            pacer.end(pass.pace);
            pass.changed
        })
    }
}

/// The resourceVersions of the sc and of every cluster it manages: machines react to
/// their nodes and drains to their pods.
fn change_key(sc: &ClusterSim, fleet: &dyn FleetOps) -> Vec<u64> {
    let mut key = vec![sc.store.resource_version()];
    let (clusters, _) = sc.store.list(*ids::CLUSTERS, None);
    key.extend(clusters.iter().map(|c| {
        fleet
            .cluster(name_of(c))
            .map_or(0, |t| t.store.resource_version())
    }));
    key
}

struct Pass<'a> {
    sc: &'a ClusterSim,
    fleet: &'a dyn FleetOps,
    pace: pacing::Pass<Vec<u64>>,
    changed: bool,
}

impl Pass<'_> {
    fn run(&mut self) {
        self.clusters();
        self.collect_orphans();
        self.control_planes();
        self.machine_deployments();
        self.machine_sets();
        self.machines();
        self.statuses();
    }

    fn store(&self) -> &Arc<Store> {
        &self.sc.store
    }

    fn list(&self, kind: KindId) -> Vec<Obj> {
        self.store().list(kind, None).0
    }

    fn patch(&mut self, kind: KindId, o: &Value, f: impl FnOnce(&mut Value)) {
        self.changed |= patch(self.store(), kind, o, f).is_some();
    }

    /// Like `patch`, for work that usually finds the object current (status
    /// refreshes): that is found out on the listed copy, without the store's lock.
    fn update(&mut self, kind: KindId, o: &Obj, f: impl Fn(&mut Value)) {
        let mut probe = (**o).clone();
        f(&mut probe);
        if probe != **o {
            self.patch(kind, o, f);
        }
    }

    fn create(&mut self, kind: KindId, obj: Value) -> Option<Obj> {
        let created = self.store().create(kind, obj).ok();
        self.changed |= created.is_some();
        created
    }

    fn delete(&mut self, kind: KindId, o: &Value) {
        if !is_terminating(o) && delete(&self.sc.store, kind, o) {
            self.changed = true;
        }
    }

    fn now_str(&self) -> String {
        k8s_time(self.pace.now)
    }

    fn cluster_obj(&self, ns: &str, name: &str) -> Option<Obj> {
        self.store().get(*ids::CLUSTERS, ns, name)
    }

    /// Paused clusters (spec.paused or the annotation, as `clusterctl move` sets) are
    /// left alone.
    fn paused(&self, ns: &str, cluster: &str) -> bool {
        self.cluster_obj(ns, cluster).is_some_and(|c| {
            c["spec"]["paused"] == true || annotation(&c, PAUSED_ANNOTATION).is_some()
        })
    }

    /// Whether machines of this cluster may be created: it runs and is not paused.
    fn workable(&self, ns: &str, cluster: &str) -> bool {
        !cluster.is_empty() && !self.paused(ns, cluster) && self.fleet.cluster(cluster).is_some()
    }

    fn statuses(&mut self) {
        let machines = self.list(*ids::MACHINES);
        for ms in self.list(*ids::MACHINESETS) {
            self.machine_set_status(&ms, &machines);
        }
        for md in self.list(*ids::MACHINEDEPLOYMENTS) {
            self.machine_deployment_status(&md, &machines);
        }
        for kcp in self.list(*ids::KCPS) {
            self.control_plane_status(&kcp);
        }
        for c in self.list(*ids::CLUSTERS) {
            self.cluster_status(&c);
        }
        for mhc in self.list(*ids::MHCS) {
            self.health_check_status(&mhc, &machines);
        }
    }

    /// Merges `fields` into status and sets the conditions plus their `Ready` summary
    /// (for kinds other than the MachineHealthCheck).
    fn write_status(&mut self, kind: KindId, o: &Obj, fields: Value, mut conds: Vec<Cond>) {
        if kind != *ids::MHCS {
            let summary = Cond::summary(&conds);
            conds.push(summary);
        }
        let now = self.now_str();
        let apply = |o: &mut Value| {
            let st = status_mut(o);
            for (k, v) in fields.as_object().into_iter().flatten() {
                st.insert(k.clone(), v.clone());
            }
            set_conditions(o, &conds, &now);
        };
        self.update(kind, o, apply);
    }
}

fn label<'a>(o: &'a Value, key: &str) -> Option<&'a str> {
    o["metadata"]["labels"][key].as_str()
}

fn replicas(o: &Value) -> i64 {
    o["spec"]["replicas"].as_i64().unwrap_or(1)
}

/// The condition of this type, or null.
fn condition<'a>(o: &'a Value, kind: &str) -> &'a Value {
    find_condition(&o["status"]["conditions"], kind).unwrap_or(&Value::Null)
}

/// Running, not going away, and its node Ready.
fn is_ready(m: &Value) -> bool {
    !is_terminating(m) && phase(m) == "Running" && condition_true(m, "NodeHealthy")
}

fn has_finalizer(o: &Value, f: &str) -> bool {
    o["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|fs| fs.iter().any(|x| x == f))
}

fn add_finalizer(o: &mut Value, f: &str) {
    if !has_finalizer(o, f) {
        match o["metadata"]["finalizers"].as_array_mut() {
            Some(fs) => fs.push(json!(f)),
            None => o["metadata"]["finalizers"] = json!([f]),
        }
    }
}

fn remove_finalizer(o: &mut Value, f: &str) {
    if let Some(fs) = o["metadata"]["finalizers"].as_array_mut() {
        fs.retain(|x| x != f);
    }
}
