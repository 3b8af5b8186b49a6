//! Cluster API in a service cluster, which manages itself and its workload cluster
//! (ADR-0033): Clusters are provisioned and decommissioned through the fleet,
//! MachineDeployments roll MachineSets, KubeadmControlPlanes and MachineSets create and
//! delete Machines one at a time (maxSurge 1, maxUnavailable 0), and each Machine owns
//! a Node of the same name in its target cluster, cordoned and drained before it goes.

use std::sync::Arc;

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::disruption::evict;
use super::objects::{
    age_key, annotation, condition_true, delete, find_condition, is_terminating, owner_ref, patch,
    phase, safe_encode, status_mut, str_at,
};
use super::pacing::{self, Pacer};
use super::readiness::node_ready;
use super::{Controller, PerCluster};
use crate::clock::{k8s_time, parse_time};
use crate::cluster::{ClusterSim, FleetOps};
use crate::config::ClusterRole;
use crate::hash::fnv64;
use crate::labels::selector_matches;
use crate::registry::{KindId, ids};
use crate::store::{Obj, Store, name_of, namespace_of, random_suffix, uid_of};

pub const CLUSTER_LABEL: &str = "cluster.x-k8s.io/cluster-name";
pub const DEPLOYMENT_LABEL: &str = "cluster.x-k8s.io/deployment-name";
pub const SET_LABEL: &str = "cluster.x-k8s.io/set-name";
pub const CONTROL_PLANE_LABEL: &str = "cluster.x-k8s.io/control-plane";
pub const CONTROL_PLANE_NAME_LABEL: &str = "cluster.x-k8s.io/control-plane-name";
const HASH_LABEL: &str = "machine-template-hash";
pub const DELETE_MACHINE_ANNOTATION: &str = "cluster.x-k8s.io/delete-machine";
const EXCLUDE_DRAIN_ANNOTATION: &str = "machine.cluster.x-k8s.io/exclude-node-draining";
const PAUSED_ANNOTATION: &str = "cluster.x-k8s.io/paused";
pub const PROVISIONED_ANNOTATION: &str = "sim.ck8s.io/provisioned";
const CLUSTER_FINALIZER: &str = "cluster.cluster.x-k8s.io";
const MACHINE_FINALIZER: &str = "machine.cluster.x-k8s.io";
const NODE_ROLE_CONTROL_PLANE: &str = "node-role.kubernetes.io/control-plane";
/// Each of Pending, Provisioning and Provisioned (until the kubelet is ready) lasts this.
const PHASE_TIME: Duration = Duration::seconds(5);
/// A drain blocked by a PodDisruptionBudget retries after this.
const DRAIN_RETRY: Duration = Duration::seconds(5);
/// How long past its grace period a drain waits for an evicted pod before going on
/// (CAPI's SkipWaitForDeleteTimeout is the same idea).
const TERMINATION_SLACK: Duration = Duration::seconds(10);
const ZONES: [&str; 3] = ["zone-a", "zone-b", "zone-c"];

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

/// A condition in Cluster API's v1beta1 shape.
struct Cond {
    kind: &'static str,
    ok: bool,
    reason: String,
    severity: &'static str,
    message: String,
}

impl Cond {
    fn yes(kind: &'static str) -> Cond {
        Cond {
            kind,
            ok: true,
            reason: String::new(),
            severity: "",
            message: String::new(),
        }
    }

    fn no(
        kind: &'static str,
        reason: &str,
        severity: &'static str,
        message: impl Into<String>,
    ) -> Cond {
        Cond {
            kind,
            ok: false,
            reason: reason.to_string(),
            severity,
            message: message.into(),
        }
    }

    fn when(kind: &'static str, ok: bool, otherwise: impl FnOnce() -> Cond) -> Cond {
        if ok {
            Cond::yes(kind)
        } else {
            Cond {
                kind,
                ..otherwise()
            }
        }
    }

    /// `Ready`, summarising the others: the first false one says why.
    fn summary(conds: &[Cond]) -> Cond {
        match conds.iter().find(|c| !c.ok) {
            None => Cond::yes("Ready"),
            Some(c) => Cond::no("Ready", &c.reason, c.severity, c.message.clone()),
        }
    }
}

enum Drain {
    Done,
    Waiting(String),
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

    // ---- Clusters ----

    fn clusters(&mut self) {
        for c in self.list(*ids::CLUSTERS) {
            if is_terminating(&c) {
                self.delete_cluster(&c);
                continue;
            }
            if !has_finalizer(&c, CLUSTER_FINALIZER) {
                self.patch(*ids::CLUSTERS, &c, |o| add_finalizer(o, CLUSTER_FINALIZER));
            }
            if self.fleet.cluster(name_of(&c)).is_none()
                && annotation(&c, PROVISIONED_ANNOTATION).is_none()
            {
                self.provision(&c);
            }
        }
    }

    /// The control plane a Cluster points at (or the conventional name).
    fn kcp_of(&self, c: &Value) -> Option<Obj> {
        let r = &c["spec"]["controlPlaneRef"];
        let ns = match str_at(&r["namespace"]) {
            "" => namespace_of(c),
            ns => ns,
        };
        let name = match str_at(&r["name"]) {
            "" => format!("{}-control-plane", name_of(c)),
            n => n.to_string(),
        };
        self.store().get(*ids::KCPS, ns, &name)
    }

    fn provision(&mut self, c: &Obj) {
        let failed = phase(c) == "Failed"
            && c["status"]["observedGeneration"] == c["metadata"]["generation"];
        if failed {
            return; // until the spec changes
        }
        self.patch(*ids::CLUSTERS, c, |o| {
            status_mut(o).insert("phase".into(), json!("Provisioning"));
        });
        let version = self
            .kcp_of(c)
            .and_then(|k| k["spec"]["version"].as_str().map(String::from))
            .or_else(|| c["spec"]["topology"]["version"].as_str().map(String::from));
        let Some(version) = version else {
            return; // the control plane is not there yet
        };
        let name = name_of(c).to_string();
        match self.fleet.provision(self.sc, &name, &version) {
            Ok(kubeconfig) => {
                self.changed = true;
                self.write_kubeconfig(c, &kubeconfig);
                self.patch(*ids::CLUSTERS, c, |o| {
                    o["metadata"]["annotations"][PROVISIONED_ANNOTATION] = json!("true");
                    let st = status_mut(o);
                    st.remove("failureReason");
                    st.remove("failureMessage");
                });
            }
            Err(message) => {
                let generation = c["metadata"]["generation"].clone();
                self.patch(*ids::CLUSTERS, c, |o| {
                    let st = status_mut(o);
                    st.insert("phase".into(), json!("Failed"));
                    st.insert("failureReason".into(), json!("CreateError"));
                    st.insert("failureMessage".into(), json!(message));
                    st.insert("observedGeneration".into(), generation);
                });
            }
        }
    }

    fn write_kubeconfig(&mut self, c: &Obj, kubeconfig: &str) {
        let value = base64::engine::general_purpose::STANDARD.encode(kubeconfig);
        let name = format!("{}-kubeconfig", name_of(c));
        let ns = namespace_of(c);
        let secret = json!({
            "metadata": {"name": name, "namespace": ns,
                "labels": {CLUSTER_LABEL: name_of(c)},
                "ownerReferences": [owner_ref(c)]},
            "type": "cluster.x-k8s.io/secret",
            "data": {"value": value},
        });
        if self.create(*ids::SECRETS, secret).is_none()
            && let Some(existing) = self.store().get(*ids::SECRETS, ns, &name)
        {
            self.patch(*ids::SECRETS, &existing, |o| {
                o["data"]["value"] = json!(value);
            });
        }
    }

    fn belongs(o: &Value, cluster: &str) -> bool {
        o["metadata"]["labels"][CLUSTER_LABEL] == cluster || o["spec"]["clusterName"] == cluster
    }

    fn delete_cluster(&mut self, c: &Obj) {
        let (ns, name) = (namespace_of(c).to_string(), name_of(c).to_string());
        self.patch(*ids::CLUSTERS, c, |o| {
            status_mut(o).insert("phase".into(), json!("Deleting"));
        });
        if let Some(kcp) = self.kcp_of(c) {
            self.delete(*ids::KCPS, &kcp);
        }
        for kind in [
            *ids::KCPS,
            *ids::MACHINEDEPLOYMENTS,
            *ids::MACHINESETS,
            *ids::MHCS,
            *ids::MACHINES,
        ] {
            for o in self.store().list(kind, Some(&ns)).0 {
                if Self::belongs(&o, &name) {
                    self.delete(kind, &o);
                }
            }
        }
        // Machines go through their own deletion (nodes removed, no drain); the
        // cluster goes once they are gone.
        let (machines, _) = self.store().list(*ids::MACHINES, Some(&ns));
        if machines.iter().any(|m| Self::belongs(m, &name)) {
            return;
        }
        if self.fleet.cluster(&name).is_some() {
            self.fleet.decommission(&name);
            self.changed = true;
        }
        if let Some(s) = self
            .store()
            .get(*ids::SECRETS, &ns, &format!("{name}-kubeconfig"))
        {
            self.delete(*ids::SECRETS, &s);
        }
        self.patch(*ids::CLUSTERS, c, |o| {
            remove_finalizer(o, CLUSTER_FINALIZER)
        });
    }

    /// MachineSets and Machines whose owner is gone go too, whether or not a garbage
    /// collector runs (a Machine must go through its own deletion to free its node).
    fn collect_orphans(&mut self) {
        for ms in self.list(*ids::MACHINESETS) {
            if let Some(md) = label(&ms, DEPLOYMENT_LABEL)
                && self
                    .store()
                    .get(*ids::MACHINEDEPLOYMENTS, namespace_of(&ms), md)
                    .is_none()
            {
                self.delete(*ids::MACHINESETS, &ms);
            }
        }
        for m in self.list(*ids::MACHINES) {
            let ns = namespace_of(&m);
            let orphan = if let Some(kcp) = label(&m, CONTROL_PLANE_NAME_LABEL) {
                self.store().get(*ids::KCPS, ns, kcp).is_none()
            } else if let Some(ms) = label(&m, SET_LABEL) {
                self.store().get(*ids::MACHINESETS, ns, ms).is_none()
            } else {
                false
            };
            if orphan {
                self.delete(*ids::MACHINES, &m);
            }
        }
    }

    // ---- KubeadmControlPlanes ----

    fn kcp_cluster(&self, kcp: &Value) -> String {
        if let Some(c) = label(kcp, CLUSTER_LABEL) {
            return c.to_string();
        }
        let (clusters, _) = self.store().list(*ids::CLUSTERS, Some(namespace_of(kcp)));
        clusters
            .iter()
            .find(|c| c["spec"]["controlPlaneRef"]["name"] == name_of(kcp))
            .map(|c| name_of(c).to_string())
            .unwrap_or_else(|| name_of(kcp).trim_end_matches("-control-plane").to_string())
    }

    fn control_planes(&mut self) {
        for kcp in self.list(*ids::KCPS) {
            let cluster = self.kcp_cluster(&kcp);
            if is_terminating(&kcp) || !self.workable(namespace_of(&kcp), &cluster) {
                continue;
            }
            let owned = self.kcp_machines(&kcp);
            self.scale_control_plane(&kcp, &cluster, &owned);
        }
    }

    fn kcp_machines(&self, kcp: &Value) -> Vec<Obj> {
        let (machines, _) = self.store().list(*ids::MACHINES, Some(namespace_of(kcp)));
        machines
            .into_iter()
            .filter(|m| label(m, CONTROL_PLANE_NAME_LABEL) == Some(name_of(kcp)))
            .collect()
    }

    fn kcp_outdated(&self, kcp: &Value, m: &Value) -> bool {
        m["spec"]["version"] != kcp["spec"]["version"]
            || m["spec"]["infrastructureRef"]["name"]
                != kcp["spec"]["machineTemplate"]["infrastructureRef"]["name"]
            || self.rolled_out_after(kcp, m)
    }

    /// `spec.rolloutAfter` in the past makes older machines outdated.
    fn rolled_out_after(&self, owner: &Value, m: &Value) -> bool {
        let Some(after) = parse_time(str_at(&owner["spec"]["rolloutAfter"])) else {
            return false;
        };
        after <= self.pace.now
            && parse_time(str_at(&m["metadata"]["creationTimestamp"])).is_some_and(|c| c < after)
    }

    /// One step of the KCP algorithm: a rollout (create a new machine, then delete the
    /// oldest outdated one) takes precedence over scaling; both move one machine at a
    /// time and wait for the previous machine to be up or gone.
    fn scale_control_plane(&mut self, kcp: &Obj, cluster: &str, owned: &[Obj]) {
        let desired = replicas(kcp);
        let (deleting, active): (Vec<&Obj>, Vec<&Obj>) =
            owned.iter().partition(|m| is_terminating(m));
        if let Some(after) = parse_time(str_at(&kcp["spec"]["rolloutAfter"]))
            && after > self.pace.now
        {
            self.pace.wake_at(after);
        }
        if !deleting.is_empty()
            || (!self.pace.booting && active.iter().any(|m| phase(m) != "Running"))
        {
            return;
        }
        let outdated: Vec<&Obj> = active
            .iter()
            .copied()
            .filter(|m| self.kcp_outdated(kcp, m))
            .collect();
        let count = active.len() as i64;
        if !outdated.is_empty() {
            if count <= desired {
                self.create_cp_machine(kcp, cluster, &active);
            } else if let Some(victim) = victim(&outdated) {
                self.delete(*ids::MACHINES, victim);
            }
        } else if count < desired {
            self.add_machines(desired - count, &active, |p, siblings| {
                p.create_cp_machine(kcp, cluster, siblings)
            });
        } else if count > desired
            && let Some(victim) = victim(&active)
        {
            self.delete(*ids::MACHINES, victim);
        }
    }

    /// Creates `short` machines, all at once while booting and one at a time otherwise,
    /// each spread over the zones of `active` and of those made before it.
    fn add_machines(
        &mut self,
        short: i64,
        active: &[&Obj],
        mut create: impl FnMut(&mut Self, &[&Obj]) -> Option<Obj>,
    ) {
        let n = if self.pace.booting { short } else { 1 };
        let mut made: Vec<Obj> = Vec::new();
        for _ in 0..n {
            let siblings: Vec<&Obj> = active.iter().copied().chain(made.iter()).collect();
            made.extend(create(self, &siblings));
        }
    }

    fn create_cp_machine(&mut self, kcp: &Obj, cluster: &str, siblings: &[&Obj]) -> Option<Obj> {
        let labels = json!({
            CLUSTER_LABEL: cluster,
            CONTROL_PLANE_LABEL: "",
            CONTROL_PLANE_NAME_LABEL: name_of(kcp),
        });
        let spec = json!({
            "version": kcp["spec"]["version"],
            "infrastructureRef": kcp["spec"]["machineTemplate"]["infrastructureRef"],
            "bootstrap": {"configRef": {"apiVersion": "bootstrap.cluster.x-k8s.io/v1beta1", "kind": "KubeadmConfig"}},
        });
        self.create_machine(kcp, name_of(kcp), cluster, labels, spec, siblings)
    }

    /// A new Machine named `<prefix>-<5 random>`, spread over the zones of its siblings.
    fn create_machine(
        &mut self,
        owner: &Obj,
        prefix: &str,
        cluster: &str,
        labels: Value,
        template_spec: Value,
        siblings: &[&Obj],
    ) -> Option<Obj> {
        let ns = namespace_of(owner);
        let name = self.machine_name(ns, prefix, cluster);
        let mut spec = template_spec;
        spec["clusterName"] = json!(cluster);
        if spec["bootstrap"]["configRef"].is_object() {
            spec["bootstrap"]["configRef"]["kind"] = json!("KubeadmConfig");
            spec["bootstrap"]["configRef"]["name"] = json!(name);
            spec["bootstrap"]["configRef"]["namespace"] = json!(ns);
        }
        if !spec["failureDomain"].is_string() {
            spec["failureDomain"] = json!(least_used_zone(siblings));
        }
        let machine = json!({
            "metadata": {"name": name, "namespace": ns, "labels": labels,
                "ownerReferences": [owner_ref(owner)],
                "finalizers": [MACHINE_FINALIZER]},
            "spec": spec,
        });
        self.create(*ids::MACHINES, machine)
    }

    /// A machine name free both as a Machine and as a Node of the target cluster.
    fn machine_name(&self, ns: &str, prefix: &str, cluster: &str) -> String {
        let target = self.fleet.cluster(cluster);
        loop {
            let name = format!("{prefix}-{}", random_suffix(5));
            let node_taken = target
                .as_ref()
                .is_some_and(|t| t.store.get(*ids::NODES, "", &name).is_some());
            if !node_taken && self.store().get(*ids::MACHINES, ns, &name).is_none() {
                return name;
            }
        }
    }

    // ---- MachineDeployments and MachineSets ----

    fn machine_deployments(&mut self) {
        let sets = self.list(*ids::MACHINESETS);
        let machines = self.list(*ids::MACHINES);
        for md in self.list(*ids::MACHINEDEPLOYMENTS) {
            let ns = namespace_of(&md);
            let cluster = str_at(&md["spec"]["clusterName"]);
            if is_terminating(&md) || md["spec"]["paused"] == true || !self.workable(ns, cluster) {
                continue;
            }
            let owned = |o: &&Obj| {
                namespace_of(o) == ns && label(o, DEPLOYMENT_LABEL) == Some(name_of(&md))
            };
            let md_sets: Vec<&Obj> = sets
                .iter()
                .filter(owned)
                .filter(|s| !is_terminating(s))
                .collect();
            let md_machines: Vec<&Obj> = machines.iter().filter(owned).collect();
            self.roll_machine_deployment(&md, &md_sets, &md_machines);
        }
    }

    fn set_replicas(&mut self, ms: &Obj, n: i64) {
        if replicas(ms) != n {
            self.patch(*ids::MACHINESETS, ms, |o| o["spec"]["replicas"] = json!(n));
        }
    }

    /// One step of a MachineDeployment: make sure the MachineSet of the current
    /// template exists, then either scale it (nothing old left) or move one machine
    /// from the old sets to it (surge one, wait for it, remove one old).
    fn roll_machine_deployment(&mut self, md: &Obj, sets: &[&Obj], machines: &[&Obj]) {
        let desired = replicas(md);
        let hash = self.template_hash(md);
        let new_name = format!("{}-{hash}", name_of(md));
        let Some(new) = sets.iter().find(|s| name_of(s) == new_name) else {
            let rolling = sets.iter().any(|s| replicas(s) > 0);
            self.create_machine_set(md, &new_name, &hash, if rolling { 0 } else { desired });
            return;
        };
        let mut olds: Vec<&Obj> = sets
            .iter()
            .copied()
            .filter(|s| name_of(s) != new_name)
            .collect();
        olds.sort_by_key(|s| age_key(s));
        let old_total: i64 = olds.iter().map(|s| replicas(s)).sum();
        let new_replicas = replicas(new);
        if old_total == 0 {
            self.set_replicas(new, desired);
            for old in olds {
                if !machines
                    .iter()
                    .any(|m| label(m, SET_LABEL) == Some(name_of(old)))
                {
                    self.delete(*ids::MACHINESETS, old);
                }
            }
            return;
        }
        if machines
            .iter()
            .any(|m| is_terminating(m) || phase(m) != "Running")
        {
            return; // strictly one machine at a time
        }
        let (surge, unavailable) = rolling_params(md);
        if new_replicas > desired {
            self.set_replicas(new, desired);
        } else if new_replicas + old_total < desired + surge && new_replicas < desired {
            self.set_replicas(new, new_replicas + 1);
        } else {
            let ready = machines.iter().filter(|m| is_ready(m)).count() as i64;
            let in_old = |m: &&&Obj| olds.iter().any(|s| label(m, SET_LABEL) == Some(name_of(s)));
            // An unready old machine adds nothing to availability, so it may go anyway.
            let old_unready = machines.iter().filter(in_old).any(|m| !is_ready(m));
            if ready > desired - unavailable || old_unready {
                let old = olds.iter().find(|s| replicas(s) > 0).copied();
                if let Some(old) = old {
                    self.set_replicas(old, replicas(old) - 1);
                }
            }
        }
    }

    /// Names the MachineSet of the current template: what a change of version, machine
    /// template or bootstrap config (or a passed `rolloutAfter`) rolls out.
    fn template_hash(&mut self, md: &Value) -> String {
        let t = &md["spec"]["template"]["spec"];
        let mut key = format!(
            "{}|{}|{}|{}|{}",
            t["version"],
            t["infrastructureRef"]["kind"],
            t["infrastructureRef"]["name"],
            t["bootstrap"]["configRef"]["name"],
            t["failureDomain"]
        );
        if let Some(after) = parse_time(str_at(&md["spec"]["rolloutAfter"]))
            && self.pace.reached(after)
        {
            key.push_str(&k8s_time(after));
        }
        safe_encode(fnv64(key.as_bytes()), 5)
    }

    fn create_machine_set(&mut self, md: &Obj, name: &str, hash: &str, replicas: i64) {
        let cluster = str_at(&md["spec"]["clusterName"]);
        let selector =
            json!({CLUSTER_LABEL: cluster, DEPLOYMENT_LABEL: name_of(md), HASH_LABEL: hash});
        let mut labels = md["metadata"]["labels"].clone();
        let mut template = md["spec"]["template"].clone();
        for (k, v) in selector.as_object().into_iter().flatten() {
            labels[k] = v.clone();
            template["metadata"]["labels"][k] = v.clone();
        }
        let ms = json!({
            "metadata": {"name": name, "namespace": namespace_of(md), "labels": labels,
                "ownerReferences": [owner_ref(md)]},
            "spec": {"clusterName": cluster, "replicas": replicas,
                "selector": {"matchLabels": selector}, "template": template},
        });
        self.create(*ids::MACHINESETS, ms);
    }

    fn machine_sets(&mut self) {
        let machines = self.list(*ids::MACHINES);
        for ms in self.list(*ids::MACHINESETS) {
            let ns = namespace_of(&ms);
            if is_terminating(&ms) || !self.workable(ns, str_at(&ms["spec"]["clusterName"])) {
                continue;
            }
            let owned: Vec<&Obj> = machines
                .iter()
                .filter(|m| namespace_of(m) == ns && label(m, SET_LABEL) == Some(name_of(&ms)))
                .collect();
            self.scale_machine_set(&ms, &owned);
        }
    }

    /// Creates one machine when short (all at once while booting) after the previous
    /// one is up, and deletes one when over, after the previous one is gone.
    fn scale_machine_set(&mut self, ms: &Obj, owned: &[&Obj]) {
        let desired = replicas(ms);
        let (deleting, active): (Vec<&Obj>, Vec<&Obj>) =
            owned.iter().partition(|m| is_terminating(m));
        let count = active.len() as i64;
        if count < desired {
            if !self.pace.booting
                && (!deleting.is_empty() || active.iter().any(|m| phase(m) != "Running"))
            {
                return;
            }
            self.add_machines(desired - count, &active, |p, siblings| {
                p.create_worker_machine(ms, siblings)
            });
        } else if count > desired
            && deleting.is_empty()
            && let Some(victim) = victim(&active)
        {
            self.delete(*ids::MACHINES, victim);
        }
    }

    fn create_worker_machine(&mut self, ms: &Obj, siblings: &[&Obj]) -> Option<Obj> {
        let cluster = str_at(&ms["spec"]["clusterName"]).to_string();
        let mut labels = ms["spec"]["template"]["metadata"]["labels"].clone();
        labels[CLUSTER_LABEL] = json!(cluster);
        labels[SET_LABEL] = json!(name_of(ms));
        let prefix = match label(ms, DEPLOYMENT_LABEL) {
            Some(md) => {
                labels[DEPLOYMENT_LABEL] = json!(md);
                md.to_string()
            }
            None => name_of(ms).to_string(),
        };
        let spec = ms["spec"]["template"]["spec"].clone();
        self.create_machine(ms, &prefix, &cluster, labels, spec, siblings)
    }

    // ---- Machines ----

    fn machines(&mut self) {
        for m in self.list(*ids::MACHINES) {
            if is_terminating(&m) {
                self.delete_machine(&m);
            } else {
                self.run_machine(m);
            }
        }
    }

    fn run_machine(&mut self, mut m: Obj) {
        let cluster = str_at(&m["spec"]["clusterName"]).to_string();
        if self.paused(namespace_of(&m), &cluster) {
            return;
        }
        let Some(target) = self.fleet.cluster(&cluster) else {
            return;
        };
        if !has_finalizer(&m, MACHINE_FINALIZER) {
            self.patch(*ids::MACHINES, &m, |o| add_finalizer(o, MACHINE_FINALIZER));
        }
        // While booting a machine goes through all its phases in one pass.
        for _ in 0..4 {
            if !self.advance_machine(&m, &target) {
                break;
            }
            match self
                .store()
                .get(*ids::MACHINES, namespace_of(&m), name_of(&m))
            {
                Some(next) => m = next,
                None => break,
            }
        }
    }

    /// Moves a machine one phase on when its time has come; true when it moved.
    fn advance_machine(&mut self, m: &Obj, target: &ClusterSim) -> bool {
        let since = parse_time(str_at(&m["status"]["lastUpdated"]))
            .or_else(|| parse_time(str_at(&m["metadata"]["creationTimestamp"])))
            .unwrap_or(self.pace.now);
        match phase(m) {
            "" => {
                self.set_machine_phase(m, "Pending", |_| {});
                true
            }
            "Pending" => {
                if !self.pace.elapsed(Some(since), PHASE_TIME) {
                    return false;
                }
                let secret = name_of(m).to_string();
                self.set_machine_phase(m, "Provisioning", |o| {
                    o["spec"]["bootstrap"]["dataSecretName"] = json!(secret);
                    status_mut(o).insert("bootstrapReady".into(), json!(true));
                });
                true
            }
            "Provisioning" => {
                if !self.pace.elapsed(Some(since), PHASE_TIME) {
                    return false;
                }
                let Some(node) = self.ensure_node(m, target) else {
                    return false;
                };
                let cluster = str_at(&m["spec"]["clusterName"]).to_string();
                self.set_machine_phase(m, "Provisioned", |o| {
                    o["spec"]["providerID"] = json!(format!("sim://{cluster}/{}", name_of(&node)));
                    let st = status_mut(o);
                    st.insert("infrastructureReady".into(), json!(true));
                    st.insert("addresses".into(), node["status"]["addresses"].clone());
                    st.insert("nodeRef".into(), node_ref(&node));
                });
                true
            }
            "Provisioned" => {
                let Some(node) = self.ensure_node(m, target) else {
                    return false;
                };
                if !node_ready(&node) {
                    if !self.pace.elapsed(Some(since), PHASE_TIME) {
                        return false;
                    }
                    self.mark_node_ready(target, &node);
                }
                let node = target
                    .store
                    .get(*ids::NODES, "", name_of(&node))
                    .unwrap_or(node);
                self.set_machine_phase(m, "Running", |o| {
                    let st = status_mut(o);
                    st.insert("nodeRef".into(), node_ref(&node));
                    st.insert("nodeInfo".into(), node["status"]["nodeInfo"].clone());
                });
                true
            }
            "Running" => {
                self.sync_machine_node(m, target);
                false
            }
            _ => false,
        }
    }

    /// Sets a machine's phase (stamping `lastUpdated`), applies `extra`, and derives its
    /// conditions from the result.
    fn set_machine_phase(&mut self, m: &Obj, phase: &'static str, extra: impl FnOnce(&mut Value)) {
        let now = self.now_str();
        let target = self.fleet.cluster(str_at(&m["spec"]["clusterName"]));
        let node = target.and_then(|t| t.store.get(*ids::NODES, "", name_of(m)));
        self.patch(*ids::MACHINES, m, |o| {
            extra(o);
            let st = status_mut(o);
            st.insert("phase".into(), json!(phase));
            st.insert("lastUpdated".into(), json!(now));
            st.entry("bootstrapReady").or_insert(json!(false));
            st.entry("infrastructureReady").or_insert(json!(false));
            let generation = o["metadata"]["generation"].clone();
            status_mut(o).insert("observedGeneration".into(), generation);
            let conds = machine_conditions(o, node.as_deref());
            set_conditions(o, &conds, &now);
        });
    }

    /// A running machine follows its node: health, and kubelet facts.
    fn sync_machine_node(&mut self, m: &Obj, target: &ClusterSim) {
        let node = target.store.get(*ids::NODES, "", name_of(m));
        let now = self.now_str();
        self.update(*ids::MACHINES, m, |o| {
            if let Some(n) = &node {
                status_mut(o).insert("nodeInfo".into(), n["status"]["nodeInfo"].clone());
            }
            let conds = machine_conditions(o, node.as_deref());
            set_conditions(o, &conds, &now);
        });
    }

    fn mark_node_ready(&mut self, target: &ClusterSim, node: &Value) {
        let now = self.now_str();
        self.changed |= patch(&target.store, *ids::NODES, node, |n| {
            set_node_condition(
                n,
                "Ready",
                true,
                "KubeletReady",
                "kubelet is posting ready status",
                &now,
            );
        })
        .is_some();
    }

    /// The machine's Node in its target cluster, created (not yet Ready) if missing.
    fn ensure_node(&mut self, m: &Obj, target: &ClusterSim) -> Option<Obj> {
        if let Some(n) = target.store.get(*ids::NODES, "", name_of(m)) {
            return Some(n);
        }
        let node = self.node_for(m, target);
        let created = target.store.create(*ids::NODES, node).ok();
        self.changed |= created.is_some();
        created
    }

    fn node_for(&self, m: &Obj, target: &ClusterSim) -> Value {
        let name = name_of(m);
        let control_plane = label(m, CONTROL_PLANE_LABEL).is_some();
        let infra = &m["spec"]["infrastructureRef"];
        let template = self.store().get(
            *ids::MACHINE_TEMPLATES,
            match str_at(&infra["namespace"]) {
                "" => namespace_of(m),
                ns => ns,
            },
            str_at(&infra["name"]),
        );
        let t = template
            .as_ref()
            .map_or(&Value::Null, |t| &t["spec"]["template"]["spec"]);
        let (cpu, memory) = if control_plane {
            ("4", "16Gi")
        } else {
            ("8", "32Gi")
        };
        let cpu = t["cpu"].as_str().unwrap_or(cpu);
        let memory = t["memory"].as_str().unwrap_or(memory);
        let instance = t["flavor"]
            .as_str()
            .or(t["instanceType"].as_str())
            .unwrap_or("sim.standard");
        let zone = str_at(&m["spec"]["failureDomain"]);
        let version = str_at(&m["spec"]["version"]);
        let cluster = str_at(&m["spec"]["clusterName"]);
        let now = self.now_str();
        let mut labels = json!({
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "node.kubernetes.io/instance-type": instance,
            "topology.kubernetes.io/zone": zone,
        });
        let mut taints = json!([]);
        if control_plane {
            labels[NODE_ROLE_CONTROL_PLANE] = json!("");
            taints = json!([{"key": NODE_ROLE_CONTROL_PLANE, "effect": "NoSchedule"}]);
        }
        let owner = m["metadata"]["ownerReferences"][0].clone();
        let resources =
            json!({"cpu": cpu, "memory": memory, "pods": "110", "ephemeral-storage": "100Gi"});
        let pressure = |kind: &str, reason: &str, message: &str| {
            json!({"type": kind, "status": "False", "reason": reason, "message": message,
                "lastHeartbeatTime": now, "lastTransitionTime": now})
        };
        json!({
            "metadata": {"name": name, "labels": labels, "annotations": {
                "cluster.x-k8s.io/machine": name,
                "cluster.x-k8s.io/cluster-name": cluster,
                "cluster.x-k8s.io/cluster-namespace": namespace_of(m),
                "cluster.x-k8s.io/owner-kind": owner["kind"],
                "cluster.x-k8s.io/owner-name": owner["name"],
            }},
            "spec": {"providerID": format!("sim://{cluster}/{name}"), "taints": taints},
            "status": {
                "capacity": resources,
                "allocatable": resources,
                "addresses": [
                    {"type": "InternalIP", "address": free_ip(target)},
                    {"type": "Hostname", "address": name},
                ],
                "conditions": [
                    pressure("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                    pressure("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                    pressure("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                    {"type": "Ready", "status": "False", "reason": "KubeletNotReady",
                        "message": "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized",
                        "lastHeartbeatTime": now, "lastTransitionTime": now},
                ],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {
                    "kubeletVersion": version,
                    "kubeProxyVersion": version,
                    "containerRuntimeVersion": "containerd://1.7.27",
                    "osImage": "Ubuntu 24.04.2 LTS",
                    "kernelVersion": "6.8.0-60-generic",
                    "operatingSystem": "linux",
                    "architecture": "amd64",
                    "machineID": format!("{:032x}", u128::from(fnv64(name.as_bytes())) << 64 | u128::from(fnv64(cluster.as_bytes()))),
                    "systemUUID": uid_of(m),
                    "bootID": uid_of(m),
                },
            },
        })
    }

    /// Machine deletion: cordon and drain the node (unless the cluster itself is going),
    /// delete it, then let the Machine go.
    fn delete_machine(&mut self, m: &Obj) {
        if phase(m) != "Deleting" {
            let now = self.now_str();
            self.patch(*ids::MACHINES, m, |o| {
                let st = status_mut(o);
                st.insert("phase".into(), json!("Deleting"));
                st.insert("lastUpdated".into(), json!(now));
            });
        }
        let cluster = str_at(&m["spec"]["clusterName"]);
        let node_name = match str_at(&m["status"]["nodeRef"]["name"]) {
            "" => name_of(m),
            n => n,
        };
        let target = self.fleet.cluster(cluster);
        let node = target
            .as_ref()
            .and_then(|t| t.store.get(*ids::NODES, "", node_name));
        if let (Some(target), Some(node)) = (target, node) {
            let cluster_going = self
                .cluster_obj(namespace_of(m), cluster)
                .is_some_and(|c| is_terminating(&c));
            if !cluster_going && annotation(m, EXCLUDE_DRAIN_ANNOTATION).is_none() {
                self.changed |= patch(&target.store, *ids::NODES, &node, |n| {
                    n["spec"]["unschedulable"] = json!(true);
                })
                .is_some();
                let now = self.now_str();
                let drained = self.drain(&target, name_of(&node));
                let cond = match &drained {
                    Drain::Done => Cond::yes("DrainingSucceeded"),
                    Drain::Waiting(msg) => {
                        Cond::no("DrainingSucceeded", "Draining", "Info", msg.clone())
                    }
                };
                self.patch(*ids::MACHINES, m, |o| set_conditions(o, &[cond], &now));
                if matches!(drained, Drain::Waiting(_)) {
                    return;
                }
            }
            if delete(&target.store, *ids::NODES, &node) {
                self.changed = true;
            }
        }
        self.patch(*ids::MACHINES, m, |o| {
            remove_finalizer(o, MACHINE_FINALIZER)
        });
    }

    /// Evicts the node's pods like `kubectl drain --ignore-daemonsets`; done when none
    /// is left (evicted pods are waited for, up to their grace period and some slack).
    fn drain(&mut self, target: &ClusterSim, node: &str) -> Drain {
        let (pods, _) = target.store.list(*ids::PODS, None);
        let mut blocked = Vec::new();
        let mut failed = Vec::new();
        let mut terminating = 0;
        for p in pods.iter().filter(|p| p["spec"]["nodeName"] == node) {
            if owned_by_daemonset(p) || annotation(p, "kubernetes.io/config.mirror").is_some() {
                continue;
            }
            let (ns, name) = (namespace_of(p), name_of(p));
            if !is_terminating(p) {
                match evict(target, ns, name, None) {
                    Ok(()) => self.changed = true,
                    Err(e) if e.code == 429 => {
                        blocked.push(format!("{ns}/{name}"));
                        continue;
                    }
                    Err(e) if e.code == 404 => continue,
                    Err(e) => {
                        failed.push(format!("{ns}/{name}: {}", e.message));
                        continue;
                    }
                }
            }
            if let Some(p) = target.store.get(*ids::PODS, ns, name)
                && let Some(deadline) = termination_deadline(&p)
                && !self.pace.reached(deadline)
            {
                terminating += 1;
            }
        }
        if blocked.is_empty() && failed.is_empty() && terminating == 0 {
            return Drain::Done;
        }
        let mut parts = Vec::new();
        if !blocked.is_empty() {
            self.pace.wake_at(self.pace.now + DRAIN_RETRY);
            parts.push(format!(
                "Cannot evict pod as it would violate the pod's disruption budget: {}",
                blocked.join(", ")
            ));
        }
        if !failed.is_empty() {
            self.pace.wake_at(self.pace.now + DRAIN_RETRY);
            parts.push(format!("Failed to evict pods: {}", failed.join("; ")));
        }
        if terminating > 0 {
            parts.push(format!("Waiting for {terminating} pods to terminate"));
        }
        Drain::Waiting(format!("Drain not completed yet: {}", parts.join("; ")))
    }

    // ---- Status ----

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

    fn machine_set_status(&mut self, ms: &Obj, machines: &[Obj]) {
        let owned: Vec<&Obj> = machines
            .iter()
            .filter(|m| {
                namespace_of(m) == namespace_of(ms) && label(m, SET_LABEL) == Some(name_of(ms))
            })
            .collect();
        let desired = replicas(ms);
        let active = owned.iter().filter(|m| !is_terminating(m)).count() as i64;
        let ready = owned.iter().filter(|m| is_ready(m)).count() as i64;
        let conds = vec![
            Cond::yes("MachinesCreated"),
            Cond::when("MachinesReady", ready == active, || {
                Cond::no(
                    "",
                    "WaitingForMachines",
                    "Info",
                    format!("{} of {active} machines are not ready", active - ready),
                )
            }),
            resized(active, desired, "machines"),
        ];
        let status = json!({
            "replicas": owned.len(),
            "fullyLabeledReplicas": owned.len(),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": ms["metadata"]["generation"],
            "selector": selector_string(&ms["spec"]["selector"]),
        });
        self.write_status(*ids::MACHINESETS, ms, status, conds);
    }

    fn machine_deployment_status(&mut self, md: &Obj, machines: &[Obj]) {
        let ns = namespace_of(md);
        let owned: Vec<&Obj> = machines
            .iter()
            .filter(|m| namespace_of(m) == ns && label(m, DEPLOYMENT_LABEL) == Some(name_of(md)))
            .collect();
        let (sets, _) = self.store().list(*ids::MACHINESETS, Some(ns));
        let sets: Vec<&Obj> = sets
            .iter()
            .filter(|s| label(s, DEPLOYMENT_LABEL) == Some(name_of(md)))
            .collect();
        let new_name = format!("{}-{}", name_of(md), self.template_hash(md));
        let desired = replicas(md);
        let spec_total: i64 = sets.iter().map(|s| replicas(s)).sum();
        let ready = owned.iter().filter(|m| is_ready(m)).count() as i64;
        let updated = owned
            .iter()
            .filter(|m| !is_terminating(m) && label(m, SET_LABEL) == Some(new_name.as_str()))
            .count();
        let (_, max_unavailable) = rolling_params(md);
        let phase = match ready.cmp(&desired) {
            std::cmp::Ordering::Less => "ScalingUp",
            std::cmp::Ordering::Greater => "ScalingDown",
            std::cmp::Ordering::Equal => "Running",
        };
        let new_ready = sets
            .iter()
            .find(|s| name_of(s) == new_name)
            .is_some_and(|s| condition_true(s, "Ready"));
        let conds = vec![
            Cond::when("Available", ready >= desired - max_unavailable, || {
                Cond::no(
                    "",
                    "WaitingForAvailableMachines",
                    "Warning",
                    format!(
                        "Minimum availability requires {} replicas, current {ready} available",
                        desired - max_unavailable
                    ),
                )
            }),
            Cond::when("MachineSetReady", new_ready, || {
                Cond::no(
                    "",
                    "WaitingForMachineSet",
                    "Info",
                    format!("MachineSet {new_name} is not ready"),
                )
            }),
        ];
        let status = json!({
            "replicas": owned.len(),
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "unavailableReplicas": (spec_total.max(desired) - ready).max(0),
            "observedGeneration": md["metadata"]["generation"],
            "phase": phase,
            "selector": selector_string(&md["spec"]["selector"]),
        });
        self.write_status(*ids::MACHINEDEPLOYMENTS, md, status, conds);
    }

    fn control_plane_status(&mut self, kcp: &Obj) {
        let owned = self.kcp_machines(kcp);
        let desired = replicas(kcp);
        let active: Vec<&Obj> = owned.iter().filter(|m| !is_terminating(m)).collect();
        let ready = owned.iter().filter(|m| is_ready(m)).count() as i64;
        let outdated = active.iter().filter(|m| self.kcp_outdated(kcp, m)).count() as i64;
        let count = active.len() as i64;
        let version = owned
            .iter()
            .filter_map(|m| m["spec"]["version"].as_str())
            .min_by_key(|v| semver(v));
        let initialized = kcp["status"]["initialized"] == true || ready > 0;
        let not_ready = owned.iter().find(|m| !is_ready(m));
        let conds = vec![
            Cond::when("Available", initialized, || {
                Cond::no("", "WaitingForKubeadmInit", "Info", "")
            }),
            Cond::yes("CertificatesAvailable"),
            match not_ready {
                None => Cond::yes("MachinesReady"),
                Some(m) => {
                    let reason = match str_at(&condition(m, "Ready")["reason"]) {
                        "" => "WaitingForMachines",
                        r => r,
                    };
                    Cond::no(
                        "MachinesReady",
                        reason,
                        "Info",
                        format!("Machine {} is not ready", name_of(m)),
                    )
                }
            },
            Cond::when("MachinesSpecUpToDate", outdated == 0, || {
                Cond::no(
                    "",
                    "RollingUpdateInProgress",
                    "Warning",
                    format!(
                        "Rolling {count} replicas with outdated spec ({} replicas up to date)",
                        count - outdated
                    ),
                )
            }),
            resized(count, desired, "control plane"),
        ];
        let cluster = self.kcp_cluster(kcp);
        let mut status = json!({
            "replicas": owned.len(),
            "updatedReplicas": count - outdated,
            "readyReplicas": ready,
            "unavailableReplicas": owned.len() as i64 - ready,
            "initialized": initialized,
            "ready": ready > 0,
            "observedGeneration": kcp["metadata"]["generation"],
            "selector": format!("{CLUSTER_LABEL}={cluster},{CONTROL_PLANE_LABEL}"),
        });
        if let Some(v) = version {
            status["version"] = json!(v);
        }
        self.write_status(*ids::KCPS, kcp, status, conds);
    }

    fn cluster_status(&mut self, c: &Obj) {
        if is_terminating(c) || phase(c) == "Failed" {
            return;
        }
        let provisioning = self.fleet.cluster(name_of(c)).is_none()
            && annotation(c, PROVISIONED_ANNOTATION).is_none();
        let kcp = self.kcp_of(c);
        let kcp_status = kcp.as_ref().map_or(&Value::Null, |k| &k["status"]);
        let initialized = kcp_status["initialized"] == true;
        let cp_ready = kcp_status["ready"] == true;
        let conds = vec![
            Cond::when("InfrastructureReady", !provisioning, || {
                Cond::no("", "WaitingForInfrastructure", "Info", "")
            }),
            Cond::when("ControlPlaneInitialized", initialized, || {
                Cond::no(
                    "",
                    "WaitingForControlPlaneProviderInitialized",
                    "Info",
                    "Waiting for control plane provider to indicate the control plane has been initialized",
                )
            }),
            Cond::when("ControlPlaneReady", cp_ready, || {
                Cond::no("", "WaitingForControlPlane", "Info", "")
            }),
        ];
        let status = json!({
            "phase": if provisioning { "Provisioning" } else { "Provisioned" },
            "infrastructureReady": !provisioning,
            "controlPlaneReady": cp_ready,
            "observedGeneration": c["metadata"]["generation"],
        });
        self.write_status(*ids::CLUSTERS, c, status, conds);
    }

    fn health_check_status(&mut self, mhc: &Obj, machines: &[Obj]) {
        let cluster = &mhc["spec"]["clusterName"];
        let targets: Vec<&Obj> = machines
            .iter()
            .filter(|m| {
                namespace_of(m) == namespace_of(mhc)
                    && !is_terminating(m)
                    && m["spec"]["clusterName"] == *cluster
                    && selects(&mhc["spec"]["selector"], &m["metadata"]["labels"])
            })
            .collect();
        let expected = targets.len() as i64;
        let healthy = targets.iter().filter(|m| is_ready(m)).count() as i64;
        // Machines still coming up are neither healthy nor counted against the budget.
        let unhealthy = targets
            .iter()
            .filter(|m| phase(m) == "Running" && !is_ready(m))
            .count() as i64;
        let max = max_unhealthy(&mhc["spec"]["maxUnhealthy"], expected);
        let mut names: Vec<&str> = targets.iter().map(|m| name_of(m)).collect();
        names.sort_unstable();
        let conds = vec![Cond::when("RemediationAllowed", unhealthy <= max, || {
            Cond::no(
                "",
                "TooManyUnhealthy",
                "Warning",
                format!(
                    "Remediation is not allowed, the number of not started or unhealthy machines exceeds maxUnhealthy (total: {expected}, unhealthy: {unhealthy}, maxUnhealthy: {})",
                    mhc["spec"]["maxUnhealthy"]
                        .as_str()
                        .map_or_else(|| max.to_string(), String::from)
                ),
            )
        })];
        let status = json!({
            "expectedMachines": expected,
            "currentHealthy": healthy,
            "remediationsAllowed": (max - unhealthy).max(0),
            "targets": names,
            "observedGeneration": mhc["metadata"]["generation"],
        });
        self.write_status(*ids::MHCS, mhc, status, conds);
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

// ---- Helpers on objects ----

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

/// A MachineHealthCheck's selector; a missing one is empty (the field is not optional
/// in Cluster API), so it matches every machine.
fn selects(selector: &Value, labels: &Value) -> bool {
    !selector.is_object() || selector_matches(selector, labels)
}

/// Running, not going away, and its node Ready.
fn is_ready(m: &Value) -> bool {
    !is_terminating(m) && phase(m) == "Running" && condition_true(m, "NodeHealthy")
}

/// The machine to delete first: marked with the delete annotation, then not ready,
/// then the oldest.
fn victim<'a>(machines: &[&'a Obj]) -> Option<&'a Obj> {
    machines.iter().copied().min_by_key(|m| {
        (
            annotation(m, DELETE_MACHINE_ANNOTATION).is_none(),
            is_ready(m),
            age_key(m),
        )
    })
}

fn least_used_zone(siblings: &[&Obj]) -> &'static str {
    ZONES
        .iter()
        .copied()
        .min_by_key(|z| {
            siblings
                .iter()
                .filter(|m| m["spec"]["failureDomain"] == *z)
                .count()
        })
        .unwrap_or(ZONES[0])
}

/// maxSurge and maxUnavailable as integers (percentages of the replicas, rounded as
/// Kubernetes does); never both zero.
fn rolling_params(md: &Value) -> (i64, i64) {
    let desired = replicas(md);
    let ru = &md["spec"]["strategy"]["rollingUpdate"];
    let scaled = |v: &Value, default: i64, round_up: bool| match (v.as_i64(), v.as_str()) {
        (Some(n), _) => n,
        (None, Some(p)) => match p.trim_end_matches('%').parse::<i64>() {
            Ok(p) if round_up => (p * desired + 99) / 100,
            Ok(p) => p * desired / 100,
            Err(_) => default,
        },
        _ => default,
    };
    let surge = scaled(&ru["maxSurge"], 1, true).max(0);
    let unavailable = scaled(&ru["maxUnavailable"], 0, false).max(0);
    if surge == 0 && unavailable == 0 {
        (1, 0)
    } else {
        (surge, unavailable)
    }
}

fn max_unhealthy(v: &Value, total: i64) -> i64 {
    match (v.as_i64(), v.as_str()) {
        (Some(n), _) => n,
        (None, Some(p)) => p
            .trim_end_matches('%')
            .parse::<i64>()
            .map_or(total, |p| p * total / 100),
        _ => total,
    }
}

fn semver(v: &str) -> (u64, u64, u64) {
    let mut parts = v
        .trim_start_matches('v')
        .split(['.', '-', '+'])
        .map(|p| p.parse::<u64>().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

fn selector_string(selector: &Value) -> String {
    let mut pairs: Vec<String> = selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", str_at(v)))
        .collect();
    pairs.sort();
    pairs.join(",")
}

fn resized(actual: i64, desired: i64, what: &str) -> Cond {
    Cond::when("Resized", actual == desired, || {
        let reason = if actual < desired {
            "ScalingUp"
        } else {
            "ScalingDown"
        };
        let verb = if actual < desired { "up" } else { "down" };
        Cond::no(
            "",
            reason,
            "Warning",
            format!("Scaling {verb} {what} to {desired} replicas (actual {actual})"),
        )
    })
}

fn node_ref(node: &Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Node", "name": name_of(node), "uid": uid_of(node)})
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

fn owned_by_daemonset(p: &Value) -> bool {
    p["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|os| os.iter().any(|o| o["kind"] == "DaemonSet"))
}

fn termination_deadline(p: &Value) -> Option<DateTime<Utc>> {
    let since = parse_time(str_at(&p["metadata"]["deletionTimestamp"]))?;
    let grace = p["metadata"]["deletionGracePeriodSeconds"]
        .as_i64()
        .unwrap_or(30);
    Some(since + Duration::seconds(grace) + TERMINATION_SLACK)
}

/// An unused 10.0.x.y address in the target cluster.
fn free_ip(target: &ClusterSim) -> String {
    let (nodes, _) = target.store.list(*ids::NODES, None);
    let used: Vec<&str> = nodes
        .iter()
        .flat_map(|n| n["status"]["addresses"].as_array().into_iter().flatten())
        .filter_map(|a| a["address"].as_str())
        .collect();
    loop {
        let ip = format!(
            "10.0.{}.{}",
            rand::random_range(0..=255u8),
            rand::random_range(2..=254u8)
        );
        if !used.contains(&ip.as_str()) {
            return ip;
        }
    }
}

/// A machine's v1beta1 conditions, from what its status and node say.
fn machine_conditions(m: &Value, node: Option<&Value>) -> Vec<Cond> {
    let st = &m["status"];
    let running = matches!(str_at(&st["phase"]), "Provisioned" | "Running");
    let node_healthy = match node {
        Some(n) if node_ready(n) => Cond::yes("NodeHealthy"),
        Some(_) if running => Cond::no(
            "NodeHealthy",
            "NodeConditionsFailed",
            "Warning",
            "Node is not ready",
        ),
        None if str_at(&st["phase"]) == "Running" => {
            Cond::no("NodeHealthy", "NodeNotFound", "Error", "Node not found")
        }
        _ => Cond::no("NodeHealthy", "WaitingForNodeRef", "Info", ""),
    };
    let conds = vec![
        Cond::when("BootstrapReady", st["bootstrapReady"] == true, || {
            Cond::no("", "WaitingForDataSecret", "Info", "")
        }),
        Cond::when(
            "InfrastructureReady",
            st["infrastructureReady"] == true,
            || Cond::no("", "WaitingForInfrastructure", "Info", ""),
        ),
        node_healthy,
    ];
    let mut all = conds;
    let summary = Cond::summary(&all);
    all.push(summary);
    all
}

/// Sets conditions by type, keeping `lastTransitionTime` when the status did not
/// change (so an unchanged object is not rewritten), `Ready` first then by type.
fn set_conditions(o: &mut Value, conds: &[Cond], now: &str) {
    let mut list: Vec<Value> = o["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for c in conds {
        let status = if c.ok { "True" } else { "False" };
        let prev = list.iter().position(|e| e["type"] == c.kind);
        let since = match prev {
            Some(i) if list[i]["status"] == status => list[i]["lastTransitionTime"].clone(),
            _ => json!(now),
        };
        let mut v = json!({"type": c.kind, "status": status, "lastTransitionTime": since});
        if !c.ok {
            v["reason"] = json!(&c.reason);
            v["severity"] = json!(c.severity);
            if !c.message.is_empty() {
                v["message"] = json!(&c.message);
            }
        }
        match prev {
            Some(i) => list[i] = v,
            None => list.push(v),
        }
    }
    list.sort_by_key(|c| (c["type"] != "Ready", str_at(&c["type"]).to_string()));
    status_mut(o).insert("conditions".into(), Value::Array(list));
}

fn set_node_condition(n: &mut Value, kind: &str, ok: bool, reason: &str, message: &str, now: &str) {
    let status = if ok { "True" } else { "False" };
    let v = json!({"type": kind, "status": status, "reason": reason, "message": message,
        "lastHeartbeatTime": now, "lastTransitionTime": now});
    let conds = status_mut(n)
        .entry("conditions")
        .or_insert_with(|| json!([]));
    if let Some(list) = conds.as_array_mut() {
        match list.iter().position(|c| c["type"] == kind) {
            Some(i) if list[i]["status"] == status => {}
            Some(i) => list[i] = v,
            None => list.push(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};
    use std::sync::Mutex;
    use std::sync::atomic::Ordering;

    use chrono::TimeZone;

    use super::*;
    use crate::clock::SimClock;
    use crate::store::{DeleteOptions, EventType};

    const NS: &str = "capi-clusters";
    const MD: &str = "acme-wc-md-0";
    const KCP: &str = "acme-wc-control-plane";

    #[derive(Debug, Default)]
    struct TestFleet {
        clusters: Mutex<HashMap<String, Arc<ClusterSim>>>,
        decommissioned: Mutex<Vec<String>>,
        refuse: bool,
    }

    impl TestFleet {
        fn add(&self, name: &str, c: Arc<ClusterSim>) {
            self.clusters.lock().unwrap().insert(name.into(), c);
        }
    }

    impl FleetOps for TestFleet {
        fn cluster(&self, name: &str) -> Option<Arc<ClusterSim>> {
            self.clusters.lock().unwrap().get(name).cloned()
        }
        fn provision(
            &self,
            manager: &ClusterSim,
            name: &str,
            version: &str,
        ) -> Result<String, String> {
            if self.refuse {
                return Err("quota exceeded".into());
            }
            let env = name.trim_end_matches("-wc");
            self.add(
                name,
                Arc::new(sim(env, ClusterRole::Wc, manager.clock.clone(), false)),
            );
            Ok(format!(
                "apiVersion: v1\nkind: Config\n# {name} {version}\n"
            ))
        }
        fn decommission(&self, name: &str) {
            self.clusters.lock().unwrap().remove(name);
            self.decommissioned.lock().unwrap().push(name.into());
        }
    }

    fn sim(env: &str, role: ClusterRole, clock: SimClock, booting: bool) -> ClusterSim {
        let c = ClusterSim::for_test(env, role, clock, booting);
        for ns in ["default", "kube-system", NS] {
            c.store
                .create(*ids::NAMESPACES, json!({"metadata": {"name": ns}}))
                .unwrap();
        }
        c
    }

    fn infra_ref(template: &str) -> Value {
        json!({"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "SimMachineTemplate", "name": template, "namespace": NS})
    }

    /// The Cluster API objects of a cluster `name` (3 control-plane machines at
    /// v1.33.4, `workers` workers), as the fleet builder makes them.
    fn seed(sc: &ClusterSim, name: &str, workers: i64, provisioned: bool) {
        let labels = json!({CLUSTER_LABEL: name});
        let annotations = if provisioned {
            json!({PROVISIONED_ANNOTATION: "true"})
        } else {
            json!({})
        };
        let md = format!("{name}-md-0");
        let objects = [
            (
                *ids::MACHINE_TEMPLATES,
                json!({"metadata": {"name": "tmpl-v1", "namespace": NS},
                "spec": {"template": {"spec": {"flavor": "v2c-8gb"}}}}),
            ),
            (
                *ids::CLUSTERS,
                json!({"metadata": {"name": name, "namespace": NS, "labels": labels, "annotations": annotations},
                "spec": {"controlPlaneRef": {"kind": "KubeadmControlPlane", "name": format!("{name}-control-plane"), "namespace": NS}}}),
            ),
            (
                *ids::KCPS,
                json!({"metadata": {"name": format!("{name}-control-plane"), "namespace": NS, "labels": labels},
                "spec": {"replicas": 3, "version": "v1.33.4", "machineTemplate": {"infrastructureRef": infra_ref("tmpl-v1")}}}),
            ),
            (
                *ids::MACHINEDEPLOYMENTS,
                json!({"metadata": {"name": md, "namespace": NS, "labels": labels},
                "spec": {"clusterName": name, "replicas": workers,
                    "selector": {"matchLabels": {CLUSTER_LABEL: name, DEPLOYMENT_LABEL: md}},
                    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                    "template": {"metadata": {"labels": {CLUSTER_LABEL: name, DEPLOYMENT_LABEL: md}},
                        "spec": {"clusterName": name, "version": "v1.33.4", "infrastructureRef": infra_ref("tmpl-v1"),
                            "bootstrap": {"configRef": {"kind": "KubeadmConfigTemplate", "name": md}}}}}}),
            ),
            (
                *ids::MHCS,
                json!({"metadata": {"name": format!("{name}-workers"), "namespace": NS, "labels": labels},
                "spec": {"clusterName": name, "maxUnhealthy": "40%", "selector": {"matchLabels": {DEPLOYMENT_LABEL: md}}}}),
            ),
        ];
        for (kind, o) in objects {
            let _ = sc.store.create(kind, o);
        }
    }

    /// An sc managing `acme-wc` (3 control-plane machines, 2 workers), booted.
    fn booted(speed: f64) -> (Arc<ClusterSim>, Arc<ClusterSim>, TestFleet, Capi) {
        let clock = SimClock::new(Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap(), speed);
        let sc = Arc::new(sim("acme", ClusterRole::Sc, clock.clone(), true));
        let wc = Arc::new(sim("acme", ClusterRole::Wc, clock, true));
        let fleet = TestFleet::default();
        fleet.add("acme-sc", sc.clone());
        fleet.add("acme-wc", wc.clone());
        seed(&sc, "acme-wc", 2, true);
        let capi = Capi::new();
        settle(&capi, &sc, &fleet);
        sc.booting.store(false, Ordering::Relaxed);
        wc.booting.store(false, Ordering::Relaxed);
        (sc, wc, fleet, capi)
    }

    fn settle(capi: &Capi, sc: &ClusterSim, fleet: &TestFleet) {
        for _ in 0..50 {
            if !capi.reconcile(sc, fleet) {
                return;
            }
        }
        panic!("did not settle");
    }

    /// Passes over sped-up real time until `done` holds; `check` runs after each pass.
    fn run_until(
        capi: &Capi,
        sc: &ClusterSim,
        fleet: &TestFleet,
        mut check: impl FnMut(),
        done: impl Fn() -> bool,
    ) {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !done() {
            assert!(std::time::Instant::now() < until, "condition not reached");
            capi.reconcile(sc, fleet);
            check();
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    fn get(c: &ClusterSim, kind: KindId, ns: &str, name: &str) -> Obj {
        c.store
            .get(kind, ns, name)
            .unwrap_or_else(|| panic!("{name} missing"))
    }

    fn machines(sc: &ClusterSim, owner_label: &str, owner: &str) -> Vec<Obj> {
        let (all, _) = sc.store.list(*ids::MACHINES, Some(NS));
        all.into_iter()
            .filter(|m| label(m, owner_label) == Some(owner))
            .collect()
    }

    fn ready_nodes(wc: &ClusterSim, control_plane: bool) -> usize {
        let (nodes, _) = wc.store.list(*ids::NODES, None);
        nodes
            .iter()
            .filter(|n| {
                label(n, NODE_ROLE_CONTROL_PLANE).is_some() == control_plane && node_ready(n)
            })
            .count()
    }

    fn set_spec(sc: &ClusterSim, kind: KindId, name: &str, f: impl FnOnce(&mut Value)) {
        let o = get(sc, kind, NS, name);
        assert!(patch(&sc.store, kind, &o, f).is_some());
    }

    #[test]
    fn boot_brings_up_machines_nodes_and_statuses_then_stays_quiet() {
        let (sc, wc, fleet, capi) = booted(1.0);
        let cps = machines(&sc, CONTROL_PLANE_NAME_LABEL, KCP);
        let workers = machines(&sc, DEPLOYMENT_LABEL, MD);
        assert_eq!((cps.len(), workers.len()), (3, 2));
        for m in cps.iter().chain(&workers) {
            assert_eq!(phase(m), "Running");
            assert!(is_ready(m), "{m}");
            let node = get(&wc, *ids::NODES, "", name_of(m));
            assert_eq!(m["status"]["nodeRef"]["name"], name_of(&node));
            assert_eq!(node["status"]["nodeInfo"]["kubeletVersion"], "v1.33.4");
            assert_eq!(
                node["metadata"]["labels"]["kubernetes.io/hostname"],
                name_of(m)
            );
            assert!(
                node["status"]["addresses"][0]["address"]
                    .as_str()
                    .unwrap()
                    .starts_with("10.0.")
            );
        }
        assert!(
            name_of(&cps[0]).starts_with("acme-wc-control-plane-")
                && name_of(&workers[0]).starts_with("acme-wc-md-0-")
        );
        let cp_node = get(&wc, *ids::NODES, "", name_of(&cps[0]));
        assert_eq!(cp_node["metadata"]["labels"][NODE_ROLE_CONTROL_PLANE], "");
        assert_eq!(cp_node["spec"]["taints"][0]["effect"], "NoSchedule");
        assert_eq!(cp_node["status"]["capacity"]["cpu"], "4");
        let worker_node = get(&wc, *ids::NODES, "", name_of(&workers[0]));
        assert_eq!(worker_node["status"]["allocatable"]["memory"], "32Gi");
        assert_eq!(
            worker_node["metadata"]["labels"]["node.kubernetes.io/instance-type"],
            "v2c-8gb"
        );
        let zones: HashSet<&str> = cps
            .iter()
            .map(|m| str_at(&m["spec"]["failureDomain"]))
            .collect();
        assert_eq!(zones.len(), 3, "control plane spread over the zones");

        let kcp = get(&sc, *ids::KCPS, NS, KCP);
        assert_eq!(kcp["status"]["version"], "v1.33.4");
        assert_eq!(
            (
                kcp["status"]["readyReplicas"].as_i64(),
                kcp["status"]["ready"].as_bool()
            ),
            (Some(3), Some(true))
        );
        assert!(condition_true(&kcp, "Ready") && condition_true(&kcp, "MachinesSpecUpToDate"));
        let md = get(&sc, *ids::MACHINEDEPLOYMENTS, NS, MD);
        assert_eq!(md["status"]["phase"], "Running");
        assert_eq!(md["status"]["updatedReplicas"], 2);
        assert_eq!(md["status"]["unavailableReplicas"], 0);
        let cluster = get(&sc, *ids::CLUSTERS, NS, "acme-wc");
        assert_eq!(cluster["status"]["phase"], "Provisioned");
        assert!(
            condition_true(&cluster, "Ready") && cluster["status"]["controlPlaneReady"] == true
        );
        assert!(has_finalizer(&cluster, CLUSTER_FINALIZER));
        let mhc = get(&sc, *ids::MHCS, NS, "acme-wc-workers");
        assert_eq!(
            (
                mhc["status"]["expectedMachines"].as_i64(),
                mhc["status"]["currentHealthy"].as_i64()
            ),
            (Some(2), Some(2))
        );
        assert_eq!(mhc["status"]["targets"].as_array().unwrap().len(), 2);

        let (rv_sc, rv_wc) = (sc.store.resource_version(), wc.store.resource_version());
        assert!(!capi.reconcile(&sc, &fleet));
        assert_eq!(
            (sc.store.resource_version(), wc.store.resource_version()),
            (rv_sc, rv_wc)
        );
        assert!(
            !capi.reconcile(&wc, &fleet),
            "a workload cluster runs no Cluster API"
        );
    }

    #[test]
    fn scaling_a_machine_deployment_up_adds_one_machine_and_node() {
        let (sc, wc, fleet, capi) = booted(2000.0);
        set_spec(&sc, *ids::MACHINEDEPLOYMENTS, MD, |o| {
            o["spec"]["replicas"] = json!(3)
        });
        let before: Vec<String> = machines(&sc, DEPLOYMENT_LABEL, MD)
            .iter()
            .map(|m| name_of(m).to_string())
            .collect();
        let mut phases = Vec::new();
        run_until(
            &capi,
            &sc,
            &fleet,
            || {
                let machines = machines(&sc, DEPLOYMENT_LABEL, MD);
                for m in machines
                    .iter()
                    .filter(|m| !before.contains(&name_of(m).to_string()))
                {
                    let p = phase(m).to_string();
                    if !phases.contains(&p) {
                        phases.push(p);
                    }
                }
            },
            || get(&sc, *ids::MACHINEDEPLOYMENTS, NS, MD)["status"]["readyReplicas"] == 3,
        );
        assert_eq!(machines(&sc, DEPLOYMENT_LABEL, MD).len(), 3);
        assert_eq!(ready_nodes(&wc, false), 3);
        assert_eq!(
            phases,
            ["Pending", "Provisioning", "Provisioned", "Running"]
        );
        run_until(
            &capi,
            &sc,
            &fleet,
            || {},
            || get(&sc, *ids::MACHINEDEPLOYMENTS, NS, MD)["status"]["phase"] == "Running",
        );
    }

    /// A pod on each worker: one the drain evicts, one of a DaemonSet it leaves.
    fn worker_pods(wc: &ClusterSim) {
        let (nodes, _) = wc.store.list(*ids::NODES, None);
        for n in nodes
            .iter()
            .filter(|n| label(n, NODE_ROLE_CONTROL_PLANE).is_none())
        {
            let node = name_of(n);
            wc.store
                .create(*ids::PODS, json!({"metadata": {"name": format!("app-{node}"), "namespace": "default"},
                    "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0, "containers": [{"name": "c", "image": "x"}]}}))
                .unwrap();
            wc.store
                .create(*ids::PODS, json!({"metadata": {"name": format!("ds-{node}"), "namespace": "default",
                        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "ds", "uid": "1", "controller": true}]},
                    "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x"}]}}))
                .unwrap();
        }
    }

    #[test]
    fn a_version_change_replaces_workers_one_at_a_time_with_cordon_and_drain() {
        let (sc, wc, fleet, capi) = booted(2000.0);
        worker_pods(&wc);
        let old: Vec<String> = machines(&sc, DEPLOYMENT_LABEL, MD)
            .iter()
            .map(|m| name_of(m).to_string())
            .collect();
        let mut events = wc.store.subscribe();
        set_spec(&sc, *ids::MACHINEDEPLOYMENTS, MD, |o| {
            o["spec"]["template"]["spec"]["version"] = json!("v1.33.5")
        });
        let done = || {
            let md = get(&sc, *ids::MACHINEDEPLOYMENTS, NS, MD);
            let st = &md["status"];
            st["observedGeneration"] == md["metadata"]["generation"]
                && st["updatedReplicas"] == 2
                && st["readyReplicas"] == 2
                && st["replicas"] == 2
                && st["phase"] == "Running"
        };
        let mut max_machines = 0;
        run_until(
            &capi,
            &sc,
            &fleet,
            || {
                let n = machines(&sc, DEPLOYMENT_LABEL, MD).len();
                max_machines = max_machines.max(n);
                assert!(n <= 3, "more than replicas + 1 machines");
                assert!(
                    ready_nodes(&wc, false) >= 2,
                    "fewer than replicas Ready nodes"
                );
            },
            done,
        );
        assert_eq!(max_machines, 3);
        let now: Vec<Obj> = machines(&sc, DEPLOYMENT_LABEL, MD);
        assert!(
            now.iter().all(
                |m| m["spec"]["version"] == "v1.33.5" && !old.contains(&name_of(m).to_string())
            )
        );
        for m in &now {
            assert_eq!(
                get(&wc, *ids::NODES, "", name_of(m))["status"]["nodeInfo"]["kubeletVersion"],
                "v1.33.5"
            );
        }
        let (sets, _) = sc.store.list(*ids::MACHINESETS, Some(NS));
        assert_eq!(sets.iter().filter(|s| replicas(s) > 0).count(), 1);
        capi.reconcile(&sc, &fleet);
        assert_eq!(
            sc.store.count(*ids::MACHINESETS),
            1,
            "the old MachineSet is gone"
        );

        // Each old node was cordoned before it was deleted, and replaced one at a time.
        let mut cordoned = HashSet::new();
        let mut order = Vec::new();
        while let Ok(e) = events.try_recv() {
            if e.kind != *ids::NODES {
                continue;
            }
            let name = name_of(&e.object).to_string();
            match e.etype {
                EventType::Modified if e.object["spec"]["unschedulable"] == true => {
                    cordoned.insert(name);
                }
                EventType::Deleted => {
                    assert!(cordoned.contains(&name), "{name} deleted without cordon");
                    order.push(format!("-{name}"));
                }
                EventType::Added => order.push(format!("+{name}")),
                _ => {}
            }
        }
        let signs: String = order.iter().map(|o| &o[..1]).collect();
        assert_eq!(signs, "+-+-");
        for node in &old {
            assert!(
                wc.store
                    .get(*ids::PODS, "default", &format!("app-{node}"))
                    .is_none(),
                "app pod evicted"
            );
            let ds = get(&wc, *ids::PODS, "default", &format!("ds-{node}"));
            assert!(!is_terminating(&ds), "DaemonSet pods are not evicted");
        }
    }

    #[test]
    fn a_drain_blocked_by_a_disruption_budget_waits_and_says_why() {
        let (sc, wc, fleet, capi) = booted(2000.0);
        let victim = name_of(&machines(&sc, DEPLOYMENT_LABEL, MD)[0]).to_string();
        wc.store
            .create(*ids::PODS, json!({"metadata": {"name": "db-0", "namespace": "default", "labels": {"app": "db"}},
                "spec": {"nodeName": victim, "terminationGracePeriodSeconds": 0, "containers": [{"name": "c", "image": "x"}]},
                "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}))
            .unwrap();
        wc.store
            .create(*ids::PDBS, json!({"metadata": {"name": "db", "namespace": "default"},
                "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "db"}}},
                "status": {"disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 1, "expectedPods": 1}}))
            .unwrap();
        sc.store
            .delete(*ids::MACHINES, NS, &victim, DeleteOptions::default())
            .unwrap();
        run_until(
            &capi,
            &sc,
            &fleet,
            || {},
            || {
                let m = get(&sc, *ids::MACHINES, NS, &victim);
                condition(&m, "DrainingSucceeded")["status"] == "False"
            },
        );
        let m = get(&sc, *ids::MACHINES, NS, &victim);
        let drained = condition(&m, "DrainingSucceeded");
        assert_eq!(drained["reason"], "Draining");
        assert!(
            str_at(&drained["message"]).contains("default/db-0"),
            "{drained}"
        );
        assert_eq!(phase(&m), "Deleting");
        let node = get(&wc, *ids::NODES, "", &victim);
        assert_eq!(node["spec"]["unschedulable"], true);

        wc.store
            .delete(*ids::PDBS, "default", "db", DeleteOptions::default())
            .unwrap();
        run_until(
            &capi,
            &sc,
            &fleet,
            || {},
            || sc.store.get(*ids::MACHINES, NS, &victim).is_none(),
        );
        assert!(wc.store.get(*ids::NODES, "", &victim).is_none());
        // The MachineSet replaces it.
        run_until(
            &capi,
            &sc,
            &fleet,
            || {},
            || get(&sc, *ids::MACHINEDEPLOYMENTS, NS, MD)["status"]["readyReplicas"] == 2,
        );
    }

    #[test]
    fn a_control_plane_upgrade_rolls_one_machine_at_a_time_reporting_the_minimum_version() {
        let (sc, wc, fleet, capi) = booted(2000.0);
        set_spec(&sc, *ids::KCPS, KCP, |o| {
            o["spec"]["version"] = json!("v1.34.1")
        });
        let mut saw_rolling = false;
        let done = || {
            let kcp = get(&sc, *ids::KCPS, NS, KCP);
            kcp["status"]["version"] == "v1.34.1"
                && kcp["status"]["updatedReplicas"] == 3
                && kcp["status"]["replicas"] == 3
                && condition_true(&kcp, "Ready")
        };
        run_until(
            &capi,
            &sc,
            &fleet,
            || {
                let ms = machines(&sc, CONTROL_PLANE_NAME_LABEL, KCP);
                assert!(ms.len() <= 4);
                assert!(ready_nodes(&wc, true) >= 3);
                let kcp = get(&sc, *ids::KCPS, NS, KCP);
                if ms.iter().any(|m| m["spec"]["version"] == "v1.33.4")
                    && kcp["status"]["replicas"].as_u64() == Some(ms.len() as u64)
                {
                    assert_eq!(
                        kcp["status"]["version"], "v1.33.4",
                        "the minimum while old machines remain"
                    );
                }
                let up_to_date = condition(&kcp, "MachinesSpecUpToDate");
                if up_to_date["status"] == "False" {
                    assert_eq!(up_to_date["reason"], "RollingUpdateInProgress");
                    saw_rolling = true;
                }
            },
            done,
        );
        assert!(saw_rolling);
        let (nodes, _) = wc.store.list(*ids::NODES, None);
        let versions: Vec<&str> = nodes
            .iter()
            .filter(|n| label(n, NODE_ROLE_CONTROL_PLANE).is_some())
            .map(|n| str_at(&n["status"]["nodeInfo"]["kubeletVersion"]))
            .collect();
        assert_eq!(versions, ["v1.34.1"; 3]);
    }

    #[test]
    fn a_new_cluster_is_provisioned_through_the_fleet_with_a_kubeconfig_secret() {
        let (sc, _wc, fleet, capi) = booted(1.0);
        sc.booting.store(true, Ordering::Relaxed);
        seed(&sc, "beta-wc", 1, false);
        settle(&capi, &sc, &fleet);
        let new = fleet.cluster("beta-wc").expect("provisioned");
        let secret = get(&sc, *ids::SECRETS, NS, "beta-wc-kubeconfig");
        assert_eq!(secret["type"], "cluster.x-k8s.io/secret");
        assert_eq!(secret["metadata"]["labels"][CLUSTER_LABEL], "beta-wc");
        let kubeconfig = base64::engine::general_purpose::STANDARD
            .decode(str_at(&secret["data"]["value"]))
            .unwrap();
        assert!(
            String::from_utf8(kubeconfig)
                .unwrap()
                .contains("# beta-wc v1.33.4")
        );
        let cluster = get(&sc, *ids::CLUSTERS, NS, "beta-wc");
        assert_eq!(annotation(&cluster, PROVISIONED_ANNOTATION), Some("true"));
        assert_eq!(cluster["status"]["phase"], "Provisioned");
        assert_eq!(
            new.store.count(*ids::NODES),
            4,
            "3 control-plane nodes and a worker"
        );

        let refusing = TestFleet {
            refuse: true,
            ..TestFleet::default()
        };
        seed(&sc, "gamma-wc", 1, false);
        settle(&capi, &sc, &refusing);
        let gamma = get(&sc, *ids::CLUSTERS, NS, "gamma-wc");
        assert_eq!(gamma["status"]["phase"], "Failed");
        assert_eq!(gamma["status"]["failureMessage"], "quota exceeded");
    }

    #[test]
    fn deleting_a_cluster_removes_its_machines_and_decommissions_it() {
        let (sc, wc, fleet, capi) = booted(1.0);
        sc.booting.store(true, Ordering::Relaxed);
        sc.store
            .delete(*ids::CLUSTERS, NS, "acme-wc", DeleteOptions::default())
            .unwrap();
        settle(&capi, &sc, &fleet);
        assert!(sc.store.get(*ids::CLUSTERS, NS, "acme-wc").is_none());
        for kind in [
            *ids::MACHINES,
            *ids::MACHINESETS,
            *ids::MACHINEDEPLOYMENTS,
            *ids::KCPS,
            *ids::MHCS,
        ] {
            assert_eq!(
                sc.store.count(kind),
                0,
                "{}",
                crate::registry::KINDS[kind].kind
            );
        }
        assert_eq!(wc.store.count(*ids::NODES), 0);
        assert_eq!(*fleet.decommissioned.lock().unwrap(), ["acme-wc"]);
    }
}
