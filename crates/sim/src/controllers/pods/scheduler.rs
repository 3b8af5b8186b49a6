//! The scheduler: binds pending pods to the feasible node with the fewest pods, and
//! says why when none fits.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{pod_condition, with_condition};
use crate::cluster::{ClusterSim, FleetOps};
use crate::controllers::Controller;
use crate::controllers::events;
use crate::controllers::objects::{age_key, find_condition, is_terminating, patch};
use crate::controllers::pacing::Pacer;
use crate::controllers::placement::{node_selected, tolerates, untolerated};
use crate::controllers::readiness::{is_finished, node_ready};
use crate::registry::ids;
use crate::store::{Obj, name_of, namespace_of};

/// Binds pending pods to the feasible node with the fewest pods (ties by name).
#[derive(Debug, Default)]
pub struct Scheduler {
    pacer: Pacer,
}

impl Controller for Scheduler {
    fn name(&self) -> &'static str {
        "scheduler"
    }

    fn reconcile(&self, cluster: &ClusterSim, _fleet: &dyn FleetOps) -> bool {
        self.pacer.run(cluster, |pass| {
            let (pods, _) = cluster.store.list(*ids::PODS, None);
            let mut pending: Vec<&Obj> = pods.iter().filter(|p| wants_scheduling(p)).collect();
            let mut changed = false;
            if !pending.is_empty() {
                pending.sort_by_key(|p| age_key(p));
                let (nodes, _) = cluster.store.list(*ids::NODES, None);
                let mut load: BTreeMap<&str, usize> =
                    nodes.iter().map(|n| (name_of(n), 0)).collect();
                for p in pods.iter().filter(|p| !is_finished(p)) {
                    if let Some(n) = p["spec"]["nodeName"].as_str().and_then(|n| load.get_mut(n)) {
                        *n += 1;
                    }
                }
                for pod in pending {
                    changed |= schedule(cluster, pod, &nodes, &mut load, pass.now);
                }
            }
            changed
        })
    }
}

fn wants_scheduling(pod: &Value) -> bool {
    pod["spec"]["nodeName"].as_str().is_none_or(str::is_empty)
        && !is_terminating(pod)
        && pod["status"]["phase"]
            .as_str()
            .is_none_or(|p| p == "Pending")
        && pod["spec"]["schedulerName"]
            .as_str()
            .is_none_or(|s| s == "default-scheduler")
}

/// Why a node cannot take a pod, worded as the real scheduler's FailedScheduling.
fn misfit(spec: &Value, node: &Value) -> Option<String> {
    const UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
    let tolerations = &spec["tolerations"];
    if node["spec"]["unschedulable"] == true {
        let taint = json!({"key": UNSCHEDULABLE, "effect": "NoSchedule"});
        let tols = tolerations.as_array().map_or(&[][..], Vec::as_slice);
        if !tols.iter().any(|t| tolerates(t, &taint)) {
            return Some("node(s) were unschedulable".into());
        }
    }
    if let Some(t) = untolerated(
        tolerations,
        &node["spec"]["taints"],
        &["NoSchedule", "NoExecute"],
    ) {
        let (k, v) = (
            t["key"].as_str().unwrap_or(""),
            t["value"].as_str().unwrap_or(""),
        );
        return Some(format!("node(s) had untolerated taint {{{k}: {v}}}"));
    }
    if !node_selected(spec, node) {
        return Some("node(s) didn't match Pod's node affinity/selector".into());
    }
    if !node_ready(node) || is_terminating(node) {
        return Some("node(s) were not ready".into());
    }
    None
}

fn schedule(
    cluster: &ClusterSim,
    pod: &Obj,
    nodes: &[Obj],
    load: &mut BTreeMap<&str, usize>,
    now: DateTime<Utc>,
) -> bool {
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut best: Option<(usize, &str)> = None;
    for node in nodes {
        match misfit(&pod["spec"], node) {
            Some(r) => *reasons.entry(r).or_default() += 1,
            None => {
                let n = load.get(name_of(node)).copied().unwrap_or(0);
                // Nodes come sorted by name, so the first of equal load wins.
                if best.is_none_or(|(b, _)| n < b) {
                    best = Some((n, name_of(node)));
                }
            }
        }
    }
    match best {
        Some((_, node)) => bind(cluster, pod, node, load, now),
        None => mark_unschedulable(cluster, pod, nodes.len(), &reasons, now),
    }
}

fn bind(
    cluster: &ClusterSim,
    pod: &Obj,
    node: &str,
    load: &mut BTreeMap<&str, usize>,
    now: DateTime<Utc>,
) -> bool {
    // Another scheduler pass (or a client) may have bound it meanwhile.
    let Some(bound) = patch(&cluster.store, *ids::PODS, pod, |next| {
        if !wants_scheduling(next) {
            return;
        }
        let cond = pod_condition(
            &next["status"]["conditions"],
            "PodScheduled",
            "True",
            None,
            None,
            now,
        );
        next["spec"]["nodeName"] = json!(node);
        if next["status"]["phase"].is_null() {
            next["status"]["phase"] = json!("Pending");
        }
        next["status"]["conditions"] = with_condition(&next["status"]["conditions"], cond);
    }) else {
        return false;
    };
    if let Some(n) = load.get_mut(node) {
        *n += 1;
    }
    let msg = format!(
        "Successfully assigned {}/{} to {node}",
        namespace_of(pod),
        name_of(pod)
    );
    events::normal_event(cluster, &bound, "Scheduled", &msg);
    true
}

fn mark_unschedulable(
    cluster: &ClusterSim,
    pod: &Obj,
    total: usize,
    reasons: &BTreeMap<String, usize>,
    now: DateTime<Utc>,
) -> bool {
    let mut parts: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
    parts.sort();
    let detail = if parts.is_empty() {
        String::new()
    } else {
        format!(" {}.", parts.join(", "))
    };
    let message = format!(
        "0/{total} nodes are available:{detail} preemption: 0/{total} nodes are available: {total} Preemption is not helpful for scheduling."
    );
    let prev = find_condition(&pod["status"]["conditions"], "PodScheduled");
    let already = prev.is_some_and(|c| c["status"] == "False" && c["reason"] == "Unschedulable");
    if already && prev.is_some_and(|c| c["message"] == message.as_str()) {
        return false;
    }
    let cond = pod_condition(
        &pod["status"]["conditions"],
        "PodScheduled",
        "False",
        Some("Unschedulable"),
        Some(&message),
        now,
    );
    let conditions = with_condition(&pod["status"]["conditions"], cond);
    let wrote = patch(&cluster.store, *ids::PODS, pod, |next| {
        next["status"]["phase"] = json!("Pending");
        next["status"]["conditions"] = conditions;
    })
    .is_some();
    if wrote && !already {
        events::record(cluster, pod, "Warning", "FailedScheduling", &message);
    }
    wrote
}

#[cfg(test)]
mod tests {

    use super::*;

    use crate::controllers::testkit::*;

    #[test]
    fn scheduler_spreads_by_load_and_skips_cordoned_nodes() {
        let c = cluster(3);
        let ctl = controllers();
        cordon(&c, "worker-2", true);
        settle(&c, &ctl);
        for i in 0..6 {
            c.store.create(*ids::PODS, pod(&format!("p{i}"))).unwrap();
        }
        settle(&c, &ctl);
        let (pods, _) = c.store.list(*ids::PODS, None);
        let on = |n: &str| pods.iter().filter(|p| p["spec"]["nodeName"] == n).count();
        assert_eq!((on("worker-1"), on("worker-2"), on("worker-3")), (3, 0, 3));
        let p = &pods[0];
        assert_eq!(p["status"]["phase"], "Running");
        assert_eq!(
            find_condition(&p["status"]["conditions"], "PodScheduled").unwrap()["status"],
            "True"
        );
        let node = c.store.get(*ids::NODES, "", "worker-2").unwrap();
        assert!(
            node["spec"]["taints"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["key"] == "node.kubernetes.io/unschedulable")
        );
    }

    #[test]
    fn unschedulable_pod_waits_with_one_warning() {
        let c = cluster(1);
        let ctl = controllers();
        cordon(&c, "worker-1", true);
        c.store.create(*ids::PODS, pod("stuck")).unwrap();
        settle(&c, &ctl);
        settle(&c, &ctl);
        let p = c.store.get(*ids::PODS, "default", "stuck").unwrap();
        assert_eq!(p["status"]["phase"], "Pending");
        let cond = find_condition(&p["status"]["conditions"], "PodScheduled").unwrap();
        assert_eq!(
            (cond["status"].as_str(), cond["reason"].as_str()),
            (Some("False"), Some("Unschedulable"))
        );
        let msg = cond["message"].as_str().unwrap();
        assert!(msg.starts_with("0/4 nodes are available: 1 node(s) were unschedulable, 3 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }."), "{msg}");
        let (events, _) = c.store.list(*ids::EVENTS, Some("default"));
        let warnings: Vec<_> = events
            .iter()
            .filter(|e| e["reason"] == "FailedScheduling")
            .collect();
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0]["count"], 1);
        assert_eq!(warnings[0]["type"], "Warning");
        cordon(&c, "worker-1", false);
        settle(&c, &ctl);
        assert_eq!(
            c.store.get(*ids::PODS, "default", "stuck").unwrap()["status"]["phase"],
            "Running"
        );
    }
}
