//! Node lifecycle, as the real node lifecycle controller (plus the bits of kubelet
//! status the simulation needs): cordon taints, readiness from the
//! [`NOT_READY`] annotation, condition taints, and taint-based eviction of pods from
//! nodes with NoExecute taints once their toleration runs out.
//!
//! Nodes are only rewritten when something about them changes: with 40 nodes and
//! 15 000 pods a per-tick heartbeat would flood every watch.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::Controller;
use super::events;
use super::objects::{delete, find_condition, is_terminating, patch};
use super::pacing::{Pacer, Pass};
use super::placement::tolerates;
use crate::clock::{k8s_time, parse_time};
use crate::cluster::{ClusterSim, FleetOps};
use crate::registry::ids;
use crate::store::{Obj, name_of, namespace_of};

/// Node annotation: the node's kubelet stops reporting (`"true"`).
pub const NOT_READY: &str = "sim.ck8s.io/not-ready";
const UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";
/// Taints this controller owns; others (control-plane, custom) are left alone.
const MANAGED: [&str; 3] = [UNSCHEDULABLE, UNREACHABLE, NOT_READY_TAINT];

const PRESSURE: [(&str, &str, &str); 3] = [
    (
        "MemoryPressure",
        "KubeletHasSufficientMemory",
        "kubelet has sufficient memory available",
    ),
    (
        "DiskPressure",
        "KubeletHasNoDiskPressure",
        "kubelet has no disk pressure",
    ),
    (
        "PIDPressure",
        "KubeletHasSufficientPID",
        "kubelet has sufficient PID available",
    ),
];

#[derive(Debug, Default)]
pub struct NodeLifecycle {
    pacer: Pacer,
}

impl Controller for NodeLifecycle {
    fn name(&self) -> &'static str {
        "node-lifecycle"
    }

    fn reconcile(&self, cluster: &ClusterSim, _fleet: &dyn FleetOps) -> bool {
        self.pacer.run(cluster, |pass| {
            let (nodes, _) = cluster.store.list(*ids::NODES, None);
            let mut changed = false;
            for node in &nodes {
                changed |= sync_node(cluster, node, pass.now);
            }
            let (nodes, _) = cluster.store.list(*ids::NODES, None);
            let no_execute: HashMap<&str, &Obj> = nodes
                .iter()
                .filter(|n| taints(n).iter().any(|t| t["effect"] == "NoExecute"))
                .map(|n| (name_of(n), n))
                .collect();
            if !no_execute.is_empty() {
                changed |= evict_by_taints(cluster, &no_execute, pass);
            }
            changed
        })
    }
}

fn taints(node: &Value) -> &[Value] {
    node["spec"]["taints"].as_array().map_or(&[], Vec::as_slice)
}

/// The Ready condition to report: Unknown while annotated, back to True when our own
/// Unknown is lifted, True when missing; anything else (a node still provisioning) is
/// someone else's to change.
fn desired_ready(node: &Value) -> Option<(&'static str, &'static str, &'static str)> {
    let ready = find_condition(&node["status"]["conditions"], "Ready");
    if node["metadata"]["annotations"][NOT_READY] == "true" {
        return Some((
            "Unknown",
            "NodeStatusUnknown",
            "Kubelet stopped posting node status.",
        ));
    }
    match ready {
        None => Some(("True", "KubeletReady", "kubelet is posting ready status")),
        Some(c) if c["reason"] == "NodeStatusUnknown" => {
            Some(("True", "KubeletReady", "kubelet is posting ready status"))
        }
        Some(_) => None,
    }
}

fn sync_node(cluster: &ClusterSim, node: &Obj, now: DateTime<Utc>) -> bool {
    let conditions = desired_conditions(node, now);
    let ready = conditions
        .as_ref()
        .and_then(|c| find_condition(c, "Ready"))
        .or_else(|| find_condition(&node["status"]["conditions"], "Ready"))
        .and_then(|c| c["status"].as_str())
        .unwrap_or("Unknown")
        .to_string();
    let taints = desired_taints(node, &ready, now);
    let taints_changed = taints.as_slice() != self::taints(node);
    if conditions.is_none() && !taints_changed {
        return false;
    }
    let became = conditions
        .as_ref()
        .and_then(|c| find_condition(c, "Ready"))
        .map(|c| c["status"].clone());
    let wrote = patch(&cluster.store, *ids::NODES, node, |next| {
        if let Some(c) = conditions {
            next["status"]["conditions"] = c;
        }
        if taints_changed {
            next["spec"]["taints"] = Value::Array(taints);
        }
    })
    .is_some();
    if wrote && let Some(status) = became {
        let (reason, msg) = if status == "True" {
            (
                "NodeReady",
                format!("Node {} status is now: NodeReady", name_of(node)),
            )
        } else {
            (
                "NodeNotReady",
                format!("Node {} status is now: NodeNotReady", name_of(node)),
            )
        };
        events::record(cluster, node, "Normal", reason, &msg);
    }
    wrote
}

/// New conditions when readiness must change; `None` when they stay as they are.
fn desired_conditions(node: &Value, now: DateTime<Utc>) -> Option<Value> {
    let (status, reason, message) = desired_ready(node)?;
    let current = find_condition(&node["status"]["conditions"], "Ready");
    if current.is_some_and(|c| c["status"] == status && c["reason"] == reason) {
        return None;
    }
    let stamp = json!(k8s_time(now));
    let prev = &node["status"]["conditions"];
    let cond = |type_: &str, status: &str, reason: &str, message: &str| {
        let before = find_condition(prev, type_);
        let transition = match before {
            Some(b) if b["status"] == status => b["lastTransitionTime"].clone(),
            _ => stamp.clone(),
        };
        // A dead kubelet posts no heartbeat; a live one just did.
        let heartbeat = match before {
            Some(b) if status == "Unknown" => b["lastHeartbeatTime"].clone(),
            _ => stamp.clone(),
        };
        json!({"type": type_, "status": status, "lastHeartbeatTime": heartbeat, "lastTransitionTime": transition, "reason": reason, "message": message})
    };
    let mut list: Vec<Value> = PRESSURE
        .iter()
        .map(|(t, r, m)| {
            if status == "Unknown" {
                cond(t, "Unknown", reason, message)
            } else {
                cond(t, "False", r, m)
            }
        })
        .collect();
    list.push(cond("Ready", status, reason, message));
    // Keep conditions we do not manage (NetworkUnavailable, custom ones).
    for c in prev.as_array().into_iter().flatten() {
        if !list.iter().any(|l| l["type"] == c["type"]) {
            list.insert(0, c.clone());
        }
    }
    Some(Value::Array(list))
}

/// The node's taints: its own ones, plus the cordon taint and the condition taints
/// (`unreachable` for Unknown, `not-ready` for False), keeping `timeAdded` of those that
/// stay.
fn desired_taints(node: &Value, ready: &str, now: DateTime<Utc>) -> Vec<Value> {
    let current = taints(node);
    let mut out: Vec<Value> = current
        .iter()
        .filter(|t| !MANAGED.iter().any(|k| t["key"] == *k))
        .cloned()
        .collect();
    let mut want = |key: &str, effect: &str, timed: bool| {
        let existing = current
            .iter()
            .find(|t| t["key"] == key && t["effect"] == effect);
        let mut t = json!({"key": key, "effect": effect});
        if timed {
            t["timeAdded"] =
                existing.map_or_else(|| json!(k8s_time(now)), |e| e["timeAdded"].clone());
        }
        out.push(t);
    };
    if node["spec"]["unschedulable"] == true {
        want(UNSCHEDULABLE, "NoSchedule", true);
    }
    let condition_taint = match ready {
        "Unknown" => Some(UNREACHABLE),
        "False" => Some(NOT_READY_TAINT),
        _ => None,
    };
    if let Some(key) = condition_taint {
        want(key, "NoSchedule", false);
        want(key, "NoExecute", true);
    }
    out
}

/// Taint-based eviction: pods on a node with NoExecute taints are deleted at once when
/// they do not tolerate one, or when their `tolerationSeconds` run out.
fn evict_by_taints(cluster: &ClusterSim, nodes: &HashMap<&str, &Obj>, pass: &mut Pass) -> bool {
    let (pods, _) = cluster.store.list(*ids::PODS, None);
    let mut changed = false;
    for pod in pods.iter().filter(|p| !is_terminating(p)) {
        let Some(node) = pod["spec"]["nodeName"].as_str().and_then(|n| nodes.get(n)) else {
            continue;
        };
        let deadline = taints(node)
            .iter()
            .filter(|t| t["effect"] == "NoExecute")
            .filter_map(|t| eviction_time(pod, t))
            .min();
        if let Some(at) = deadline
            && pass.reached(at)
            && delete(&cluster.store, *ids::PODS, pod)
        {
            changed = true;
            let msg = format!(
                "Marking for deletion Pod {}/{}",
                namespace_of(pod),
                name_of(pod)
            );
            if !cluster.is_booting() {
                events::record_from(
                    cluster,
                    pod,
                    "taint-eviction-controller",
                    None,
                    "Normal",
                    "TaintManagerEviction",
                    &msg,
                );
            }
        }
    }
    changed
}

/// Toleration the DefaultTolerationSeconds admission plugin gives every pod for the
/// node-outage taints; applied here because pods may reach the store without it.
const DEFAULT_TOLERATION_SECS: i64 = 300;

/// When a NoExecute taint evicts this pod: never if tolerated without a limit, after
/// `tolerationSeconds` from the taint's `timeAdded` if tolerated for a while, at once
/// otherwise.
fn eviction_time(pod: &Value, taint: &Value) -> Option<DateTime<Utc>> {
    let added = taint["timeAdded"]
        .as_str()
        .and_then(parse_time)
        .unwrap_or(DateTime::UNIX_EPOCH);
    let tolerations = pod["spec"]["tolerations"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    let matching: Vec<&Value> = tolerations.iter().filter(|t| tolerates(t, taint)).collect();
    if matching.is_empty() {
        let outage = taint["key"] == UNREACHABLE || taint["key"] == NOT_READY_TAINT;
        let grace = if outage { DEFAULT_TOLERATION_SECS } else { 0 };
        return Some(added + Duration::seconds(grace));
    }
    if matching.iter().any(|t| t["tolerationSeconds"].is_null()) {
        return None;
    }
    let secs = matching
        .iter()
        .filter_map(|t| t["tolerationSeconds"].as_i64())
        .min()
        .unwrap_or(0);
    Some(added + Duration::seconds(secs.max(0)))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::controllers::readiness::{is_ready, node_ready};
    use crate::controllers::testkit::*;

    fn annotate(c: &ClusterSim, node: &str, value: Option<&str>) {
        edit(c, *ids::NODES, "", node, |next| match value {
            Some(v) => next["metadata"]["annotations"][NOT_READY] = json!(v),
            None => next["metadata"]["annotations"] = json!({}),
        });
    }

    fn node(c: &ClusterSim, name: &str) -> Obj {
        c.store.get(*ids::NODES, "", name).unwrap()
    }

    #[test]
    fn cordon_adds_and_uncordon_removes_the_taint() {
        let c = cluster(1);
        let ctl = NodeLifecycle::default();
        cordon(&c, "worker-1", true);
        assert!(ctl.reconcile(&c, &NoFleet));
        let t = &node(&c, "worker-1")["spec"]["taints"][0];
        assert_eq!(
            (t["key"].as_str(), t["effect"].as_str()),
            (Some(UNSCHEDULABLE), Some("NoSchedule"))
        );
        assert!(t["timeAdded"].is_string());
        assert!(!ctl.reconcile(&c, &NoFleet), "nothing more to do");
        cordon(&c, "worker-1", false);
        ctl.reconcile(&c, &NoFleet);
        assert_eq!(node(&c, "worker-1")["spec"]["taints"], json!([]));
        // Control-plane taints are not ours to touch.
        assert_eq!(
            node(&c, "cp-1")["spec"]["taints"][0]["key"],
            "node-role.kubernetes.io/control-plane"
        );
    }

    #[test]
    fn not_ready_annotation_flips_ready_and_taints_and_back() {
        let c = cluster(1);
        let ctl = NodeLifecycle::default();
        ctl.reconcile(&c, &NoFleet);
        annotate(&c, "worker-1", Some("true"));
        ctl.reconcile(&c, &NoFleet);
        let n = node(&c, "worker-1");
        let ready = find_condition(&n["status"]["conditions"], "Ready").unwrap();
        assert_eq!(
            (ready["status"].as_str(), ready["reason"].as_str()),
            (Some("Unknown"), Some("NodeStatusUnknown"))
        );
        assert!(!node_ready(&n));
        let keys: Vec<(&str, &str)> = n["spec"]["taints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["key"].as_str().unwrap(), t["effect"].as_str().unwrap()))
            .collect();
        assert_eq!(
            keys,
            [(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")]
        );
        annotate(&c, "worker-1", None);
        ctl.reconcile(&c, &NoFleet);
        let n = node(&c, "worker-1");
        let ready = find_condition(&n["status"]["conditions"], "Ready").unwrap();
        assert_eq!(
            (ready["status"].as_str(), ready["reason"].as_str()),
            (Some("True"), Some("KubeletReady"))
        );
        assert_eq!(n["spec"]["taints"], json!([]));
        let rv = c.store.resource_version();
        ctl.reconcile(&c, &NoFleet);
        ctl.reconcile(&c, &NoFleet);
        assert_eq!(
            c.store.resource_version(),
            rv,
            "steady nodes are not rewritten"
        );
    }

    #[test]
    fn pods_are_evicted_from_an_unreachable_node_after_their_toleration() {
        let c = cluster_at(start(), 1.0, 2);
        let ctl = controllers();
        c.store
            .create(*ids::DEPLOYMENTS, deployment("web", 2))
            .unwrap();
        settle(&c, &ctl);
        let before = pods_of(&c, "web-");
        let victim_node = before[0]["spec"]["nodeName"].as_str().unwrap().to_string();
        c.booting.store(false, Ordering::Relaxed);
        annotate(&c, &victim_node, Some("true"));
        settle(&c, &ctl);
        // Default toleration of 300 s: nothing is evicted yet, the pod just is not ready.
        let on_node: Vec<_> = pods_of(&c, "web-")
            .into_iter()
            .filter(|p| p["spec"]["nodeName"] == victim_node.as_str())
            .collect();
        assert!(on_node.iter().all(|p| !is_terminating(p) && !is_ready(p)));
        // Back-date the taint as if five minutes had passed.
        edit(&c, *ids::NODES, "", &victim_node, |next| {
            for t in next["spec"]["taints"].as_array_mut().unwrap() {
                if t["effect"] == "NoExecute" {
                    t["timeAdded"] = json!(k8s_time(start() - Duration::minutes(6)));
                }
            }
        });
        settle(&c, &ctl);
        let pods = pods_of(&c, "web-");
        let evicted: Vec<_> = pods
            .iter()
            .filter(|p| p["spec"]["nodeName"] == victim_node.as_str())
            .collect();
        assert!(
            !evicted.is_empty() && evicted.iter().all(|p| is_terminating(p)),
            "stuck Terminating on the dead node"
        );
        let live: Vec<_> = pods.iter().filter(|p| !is_terminating(p)).collect();
        assert_eq!(live.len(), 2, "replaced elsewhere");
        assert!(
            live.iter()
                .all(|p| p["spec"]["nodeName"] != victim_node.as_str())
        );
    }
}
