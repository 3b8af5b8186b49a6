//! DaemonSet → one pod per eligible node, pinned through node affinity, with the
//! tolerations the real controller adds and a rolling update.

use std::cell::OnceCell;
use std::collections::HashMap;

use serde_json::{Value, json};

use super::pod_template::{create_pod, new_pod};
use super::{
    REVISION_HASH, namespace_terminating, put_nonzero, reconcile_owners, sort_by_age, template_hash,
};
use crate::cluster::{ClusterSim, FleetOps};
use crate::controllers::Controller;
use crate::controllers::objects::{delete, delete_all, is_terminating, scaled, write_status};
use crate::controllers::pacing::{Pacer, Pass};
use crate::controllers::placement::{node_selected, tolerates_all};
use crate::controllers::readiness::{is_active, is_ready};
use crate::registry::ids;
use crate::store::{Obj, name_of, namespace_of};

/// DaemonSet → one pod per eligible node, bound through node affinity like the real one.
#[derive(Debug, Default)]
pub struct DaemonSets {
    pacer: Pacer,
}

impl Controller for DaemonSets {
    fn name(&self) -> &'static str {
        "daemonsets"
    }

    fn reconcile(&self, cluster: &ClusterSim, _fleet: &dyn FleetOps) -> bool {
        // Listed once, and only when there is a DaemonSet to place.
        let nodes = OnceCell::new();
        let kinds = (*ids::DAEMONSETS, *ids::PODS);
        reconcile_owners(&self.pacer, cluster, kinds, |cluster, ds, pods, pass| {
            let nodes = nodes.get_or_init(|| cluster.store.list(*ids::NODES, None).0);
            sync_ds(cluster, ds, pods, nodes, pass)
        })
    }
}

/// Tolerations the DaemonSet controller adds to every daemon pod, so node trouble and
/// cordons do not push daemons off their nodes.
fn daemon_tolerations(template_spec: &Value) -> Value {
    let mut ts: Vec<Value> = template_spec["tolerations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut add = |key: &str, effect: &str| {
        if !ts.iter().any(|t| t["key"] == key && t["effect"] == effect) {
            ts.push(json!({"key": key, "operator": "Exists", "effect": effect}));
        }
    };
    add("node.kubernetes.io/not-ready", "NoExecute");
    add("node.kubernetes.io/unreachable", "NoExecute");
    for key in [
        "disk-pressure",
        "memory-pressure",
        "pid-pressure",
        "unschedulable",
    ] {
        add(&format!("node.kubernetes.io/{key}"), "NoSchedule");
    }
    if template_spec["hostNetwork"] == true {
        add("node.kubernetes.io/network-unavailable", "NoSchedule");
    }
    Value::Array(ts)
}

/// Whether a daemon pod belongs on `node`: new ones only where every NoSchedule and
/// NoExecute taint is tolerated; existing ones stay unless a NoExecute taint evicts them.
fn daemon_fits(template_spec: &Value, tolerations: &Value, node: &Value, has_pod: bool) -> bool {
    let effects: &[&str] = if has_pod {
        &["NoExecute"]
    } else {
        &["NoSchedule", "NoExecute"]
    };
    !is_terminating(node)
        && node_selected(template_spec, node)
        && tolerates_all(tolerations, &node["spec"]["taints"], effects)
}

/// The node a daemon pod is for: where it runs, or where its affinity pins it.
fn daemon_node(pod: &Value) -> Option<&str> {
    pod["spec"]["nodeName"].as_str().or_else(|| {
        pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
            ["matchFields"][0]["values"][0]
            .as_str()
    })
}

fn sync_ds(cluster: &ClusterSim, ds: &Obj, pods: &[&Obj], nodes: &[Obj], pass: &mut Pass) -> bool {
    let template = &ds["spec"]["template"];
    let hash = template_hash(template);
    let tolerations = daemon_tolerations(&template["spec"]);
    let mut by_node: HashMap<&str, Vec<&Obj>> = HashMap::new();
    for p in pods.iter().copied().filter(|p| is_active(p)) {
        by_node
            .entry(daemon_node(p).unwrap_or(""))
            .or_default()
            .push(p);
    }
    let min_ready = ds["spec"]["minReadySeconds"].as_i64().unwrap_or(0);
    let mut changed = false;
    let mut placed: Vec<&Obj> = Vec::new();
    let (mut desired, mut scheduled, mut misscheduled) = (0i64, 0i64, 0i64);
    let can_create = !namespace_terminating(cluster, namespace_of(ds));
    for node in nodes {
        let mut here = by_node.remove(name_of(node)).unwrap_or_default();
        if !daemon_fits(&template["spec"], &tolerations, node, !here.is_empty()) {
            misscheduled += i64::from(here.iter().any(|p| p["spec"]["nodeName"].is_string()));
            changed |= delete_all(&cluster.store, *ids::PODS, &here);
            continue;
        }
        desired += 1;
        sort_by_age(&mut here);
        match here.split_first() {
            None if can_create => {
                changed |= create_pod(
                    cluster,
                    daemon_pod(cluster, ds, &hash, &tolerations, name_of(node)),
                )
            }
            None => {}
            Some((keep, extra)) => {
                scheduled += 1;
                placed.push(keep);
                changed |= delete_all(&cluster.store, *ids::PODS, extra);
            }
        }
    }
    // Daemon pods for nodes that no longer exist.
    for p in by_node.values().flatten() {
        changed |= delete(&cluster.store, *ids::PODS, p);
    }
    changed |= roll_daemons(cluster, ds, &placed, &hash, desired, min_ready, pass);
    let ready = placed.iter().filter(|p| is_ready(p)).count() as i64;
    let available = placed
        .iter()
        .filter(|p| pass.is_available(p, min_ready))
        .count() as i64;
    let updated = placed
        .iter()
        .filter(|p| p["metadata"]["labels"][REVISION_HASH] == hash)
        .count() as i64;
    let mut status = json!({
        "observedGeneration": ds["metadata"]["generation"],
        "desiredNumberScheduled": desired,
        "currentNumberScheduled": scheduled,
        "numberMisscheduled": misscheduled,
        "numberReady": ready,
    });
    put_nonzero(&mut status, "numberAvailable", available);
    put_nonzero(
        &mut status,
        "numberUnavailable",
        (desired - available).max(0),
    );
    put_nonzero(&mut status, "updatedNumberScheduled", updated);
    changed | write_status(&cluster.store, *ids::DAEMONSETS, ds, status)
}

fn daemon_pod(
    cluster: &ClusterSim,
    ds: &Value,
    hash: &str,
    tolerations: &Value,
    node: &str,
) -> Value {
    let name = cluster.store.names.child(name_of(ds));
    let mut pod = new_pod(ds, &ds["spec"]["template"], &name);
    pod["metadata"]["generateName"] = json!(format!("{}-", name_of(ds)));
    pod["metadata"]["labels"][REVISION_HASH] = json!(hash);
    pod["metadata"]["labels"]["pod-template-generation"] =
        json!(ds["metadata"]["generation"].to_string());
    pod["spec"]["tolerations"] = tolerations.clone();
    pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] = json!({
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}],
    });
    pod
}

/// RollingUpdate: replace outdated daemon pods, unavailable ones first, keeping at most
/// `maxUnavailable` (default 1) nodes without an available daemon.
fn roll_daemons(
    cluster: &ClusterSim,
    ds: &Value,
    placed: &[&Obj],
    hash: &str,
    desired: i64,
    min_ready: i64,
    pass: &mut Pass,
) -> bool {
    if ds["spec"]["updateStrategy"]["type"] == "OnDelete" {
        return false;
    }
    let max_unavailable = scaled(
        &ds["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"],
        desired,
        true,
    )
    .unwrap_or(1)
    .max(1);
    let unavailable = desired
        - placed
            .iter()
            .filter(|p| pass.is_available(p, min_ready))
            .count() as i64;
    let mut budget = max_unavailable - unavailable;
    let mut outdated: Vec<&&Obj> = placed
        .iter()
        .filter(|p| p["metadata"]["labels"][REVISION_HASH] != hash)
        .collect();
    outdated.sort_by_key(|p| pass.is_available(p, min_ready));
    let mut changed = false;
    for p in outdated {
        if pass.is_available(p, min_ready) {
            if budget <= 0 {
                break;
            }
            budget -= 1;
        }
        changed |= delete(&cluster.store, *ids::PODS, p);
    }
    changed
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::controllers::testkit::*;
    use crate::store::DeleteOptions;

    fn daemonset(tolerations: Value) -> Value {
        let mut t = template("agent");
        t["spec"]["tolerations"] = tolerations;
        json!({"metadata": {"name": "agent", "namespace": "default"}, "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": t}})
    }

    #[test]
    fn daemonset_covers_workers_and_control_plane_only_when_tolerated() {
        let c = cluster(3);
        let ctl = controllers();
        c.store
            .create(*ids::DAEMONSETS, daemonset(json!(null)))
            .unwrap();
        settle(&c, &ctl);
        let nodes: Vec<String> = pods_of(&c, "agent-")
            .iter()
            .map(|p| p["spec"]["nodeName"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(nodes.len(), 3);
        assert!(nodes.iter().all(|n| n.starts_with("worker-")));
        let s = &get(&c, *ids::DAEMONSETS, "agent")["status"];
        assert_eq!(
            (
                s["desiredNumberScheduled"].as_i64(),
                s["numberReady"].as_i64(),
                s["numberAvailable"].as_i64(),
                s["updatedNumberScheduled"].as_i64()
            ),
            (Some(3), Some(3), Some(3), Some(3))
        );

        c.store
            .delete(
                *ids::DAEMONSETS,
                "default",
                "agent",
                DeleteOptions::default(),
            )
            .unwrap();
        settle(&c, &ctl);
        assert!(pods_of(&c, "agent-").is_empty(), "garbage collected");
        c.store
            .create(*ids::DAEMONSETS, daemonset(json!([{"operator": "Exists"}])))
            .unwrap();
        settle(&c, &ctl);
        assert_eq!(
            running(&c, "agent-"),
            6,
            "tolerates everything: control plane too"
        );
        assert_eq!(
            get(&c, *ids::DAEMONSETS, "agent")["status"]["currentNumberScheduled"],
            6
        );
    }

    #[test]
    fn daemonset_keyed_toleration_admits_control_plane() {
        let c = cluster(1);
        let ctl = controllers();
        let tol = json!([{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}]);
        c.store.create(*ids::DAEMONSETS, daemonset(tol)).unwrap();
        settle(&c, &ctl);
        assert_eq!(running(&c, "agent-"), 4);
    }
}
