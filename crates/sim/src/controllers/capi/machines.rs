//! Machines: created spread over zones, moved through their phases until their Node
//! is Ready, and deleted after their Node is drained and removed.

use chrono::Duration;
use serde_json::{Value, json};

use super::conditions::{Cond, set_conditions};
use super::drain::Drain;
use super::nodes::node_ref;
use super::{Pass, add_finalizer, has_finalizer, is_ready, remove_finalizer};
use crate::clock::parse_time;
use crate::cluster::ClusterSim;
use crate::controllers::objects::{
    age_key, annotation, delete, is_terminating, owner_ref, patch, phase, status_mut, str_at,
};
use crate::controllers::readiness::node_ready;
use crate::registry::ids;
use crate::store::{Obj, name_of, namespace_of};

const MACHINE_FINALIZER: &str = "machine.cluster.x-k8s.io";
/// Each of Pending, Provisioning and Provisioned (until the kubelet is ready) lasts this.
const PHASE_TIME: Duration = Duration::seconds(5);
const ZONES: [&str; 3] = ["zone-a", "zone-b", "zone-c"];
const EXCLUDE_DRAIN_ANNOTATION: &str = "machine.cluster.x-k8s.io/exclude-node-draining";
const DELETE_MACHINE_ANNOTATION: &str = "cluster.x-k8s.io/delete-machine";

impl Pass<'_> {
    pub(super) fn machines(&mut self) {
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

    /// Creates `short` machines, all at once while booting and one at a time otherwise,
    /// each spread over the zones of `active` and of those made before it.
    pub(super) fn add_machines(
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

    /// A new Machine named `<prefix>-<5 random>`, spread over the zones of its siblings.
    pub(super) fn create_machine(
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
            let name = self.store().names.child(prefix);
            let node_taken = target
                .as_ref()
                .is_some_and(|t| t.store.get(*ids::NODES, "", &name).is_some());
            if !node_taken && self.store().get(*ids::MACHINES, ns, &name).is_none() {
                return name;
            }
        }
    }
}

/// The machine to delete first: marked with the delete annotation, then not ready,
/// then the oldest.
pub(super) fn victim<'a>(machines: &[&'a Obj]) -> Option<&'a Obj> {
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
