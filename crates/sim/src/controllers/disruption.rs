//! PodDisruptionBudgets: the disruption controller's status, and the eviction check the
//! API server's `pods/eviction` handler runs (`kubectl drain` goes through it).

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

use super::Controller;
use super::objects::{condition, controller_of, is_terminating, patch, replicas_of, scaled};
use super::pacing::{Pacer, Pass};
use super::readiness::{is_healthy, is_ready};
use crate::clock::{k8s_time, parse_time};
use crate::cluster::{ClusterSim, FleetOps};
use crate::labels::{LabelSelector, selector_matches};
use crate::registry::ids;
use crate::status::ApiError;
use crate::store::{DeleteOptions, Obj, Write, name_of, namespace_of};

/// An eviction recorded in `disruptedPods` is forgotten after this long if the pod
/// never went (the real controller's DeletionTimeout).
const DISRUPTION_TIMEOUT: Duration = Duration::minutes(2);

/// Evictions check and decrement a budget in two steps (compute, then write); holding
/// this across both keeps concurrent drains from spending the same disruption twice.
static EVICTIONS: Mutex<()> = Mutex::new(());

#[derive(Debug, Default)]
pub struct Disruption {
    pacer: Pacer,
}

impl Controller for Disruption {
    fn name(&self) -> &'static str {
        "disruption"
    }

    fn reconcile(&self, cluster: &ClusterSim, _fleet: &dyn FleetOps) -> bool {
        self.pacer.run(cluster, |pass| {
            let (pdbs, _) = cluster.store.list(*ids::PDBS, None);
            let mut pods_by_ns: HashMap<String, Vec<Obj>> = HashMap::new();
            let mut changed = false;
            for pdb in pdbs.iter().filter(|p| !is_terminating(p)) {
                let ns = namespace_of(pdb);
                let pods = pods_by_ns
                    .entry(ns.to_string())
                    .or_insert_with(|| cluster.store.list(*ids::PODS, Some(ns)).0);
                changed |= sync_pdb(cluster, pdb, pods, pass);
            }
            changed
        })
    }
}

/// What a budget allows right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub expected: i64,
    pub current_healthy: i64,
    pub desired_healthy: i64,
    pub disruptions_allowed: i64,
    /// Evicted pods still on their way out: pod name → eviction time.
    pub disrupted: Map<String, Value>,
}

fn matching<'a>(pdb: &Value, pods: &'a [Obj]) -> Vec<&'a Obj> {
    let Some(selector) = LabelSelector::of_spec(&pdb["spec"]["selector"]) else {
        return Vec::new();
    };
    pods.iter().filter(|p| selector.matches(p)).collect()
}

/// The pods a budget is measured against: the matching pods for an integer
/// minAvailable, the workloads' scale otherwise.
fn expected_count(cluster: &ClusterSim, pdb: &Value, matching: &[&Obj]) -> i64 {
    let spec = &pdb["spec"];
    if spec["maxUnavailable"].is_null() && !spec["minAvailable"].is_string() {
        matching.len() as i64
    } else {
        expected_pods(cluster, matching)
    }
}

/// The budget from already gathered facts; touches no store, so it may run inside a
/// `replace` closure.
fn compute(pdb: &Value, matching: &[&Obj], expected: i64, now: DateTime<Utc>) -> Budget {
    // Evicted pods count as disrupted until they are terminating, gone, or too old.
    let disrupted: Map<String, Value> = pdb["status"]["disruptedPods"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(name, at)| {
            let fresh = at
                .as_str()
                .and_then(parse_time)
                .is_some_and(|t| now < t + DISRUPTION_TIMEOUT);
            fresh
                && matching
                    .iter()
                    .any(|p| name_of(p) == name.as_str() && !is_terminating(p))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let current_healthy = matching
        .iter()
        .filter(|p| is_healthy(p) && !disrupted.contains_key(name_of(p)))
        .count() as i64;
    let spec = &pdb["spec"];
    let desired = if !spec["maxUnavailable"].is_null() {
        let max = scaled(&spec["maxUnavailable"], expected, true).unwrap_or(0);
        (expected - max).max(0)
    } else {
        scaled(&spec["minAvailable"], expected, true).unwrap_or(0)
    };
    Budget {
        expected,
        current_healthy,
        desired_healthy: desired,
        disruptions_allowed: (current_healthy - desired).max(0),
        disrupted,
    }
}

/// Pods the budget's workloads want, from the scale of the pods' controllers, as the
/// real controller counts for percentages and maxUnavailable. Pods without a
/// scalable controller count as themselves.
fn expected_pods(cluster: &ClusterSim, pods: &[&Obj]) -> i64 {
    let mut scales: HashMap<String, i64> = HashMap::new();
    let mut loose = 0;
    for p in pods {
        match controller_of(p).and_then(|r| workload_scale(cluster, namespace_of(p), r)) {
            Some((uid, n)) => {
                scales.insert(uid, n);
            }
            None => loose += 1,
        }
    }
    scales.values().sum::<i64>() + loose
}

/// The uid and replicas of the workload behind a pod's controller reference: a
/// ReplicaSet's Deployment when it has one, the ReplicaSet or StatefulSet otherwise.
fn workload_scale(cluster: &ClusterSim, ns: &str, owner: &Value) -> Option<(String, i64)> {
    let name = owner["name"].as_str()?;
    let kind = match owner["kind"].as_str()? {
        "ReplicaSet" => *ids::REPLICASETS,
        "StatefulSet" => *ids::STATEFULSETS,
        _ => return None,
    };
    let obj = cluster.store.get(kind, ns, name)?;
    if let Some(d) = controller_of(&obj).filter(|r| r["kind"] == "Deployment")
        && let Some(d) = cluster
            .store
            .get(*ids::DEPLOYMENTS, ns, d["name"].as_str().unwrap_or(""))
    {
        return Some((d["metadata"]["uid"].as_str()?.to_string(), replicas_of(&d)));
    }
    Some((
        obj["metadata"]["uid"].as_str()?.to_string(),
        replicas_of(&obj),
    ))
}

fn status_of(pdb: &Value, b: &Budget, now: DateTime<Utc>) -> Value {
    let (status, reason) = if b.disruptions_allowed > 0 {
        ("True", "SufficientPods")
    } else {
        ("False", "InsufficientPods")
    };
    let cond = condition(
        &pdb["status"]["conditions"],
        ("DisruptionAllowed", status, reason, ""),
        now,
        None,
    );
    let mut s = json!({
        "observedGeneration": pdb["metadata"]["generation"],
        "currentHealthy": b.current_healthy,
        "desiredHealthy": b.desired_healthy,
        "disruptionsAllowed": b.disruptions_allowed,
        "expectedPods": b.expected,
        "conditions": [cond],
    });
    if !b.disrupted.is_empty() {
        s["disruptedPods"] = Value::Object(b.disrupted.clone());
    }
    s
}

fn sync_pdb(cluster: &ClusterSim, pdb: &Obj, pods: &[Obj], pass: &mut Pass) -> bool {
    let matching = matching(pdb, pods);
    let expected = expected_count(cluster, pdb, &matching);
    let b = compute(pdb, &matching, expected, pass.now);
    for at in b
        .disrupted
        .values()
        .filter_map(|v| v.as_str())
        .filter_map(parse_time)
    {
        pass.wake_at(at + DISRUPTION_TIMEOUT);
    }
    let status = status_of(pdb, &b, pass.now);
    if pdb.get("status") == Some(&status) {
        return false;
    }
    // An eviction may have recorded a disruption since we read the budget: recompute
    // against the current object inside the write.
    let now = pass.now;
    patch(&cluster.store, *ids::PDBS, pdb, |next| {
        let b = compute(next, &matching, expected, now);
        next["status"] = status_of(next, &b, now);
    })
    .is_some()
}

/// The `pods/eviction` subresource: deletes the pod (gracefully, with `grace` when
/// given) unless that would violate its PodDisruptionBudget.
pub fn evict(
    cluster: &ClusterSim,
    namespace: &str,
    pod: &str,
    grace: Option<i64>,
    write: Write,
) -> Result<(), ApiError> {
    let _guard = EVICTIONS.lock().unwrap_or_else(|e| e.into_inner());
    let store = &cluster.store;
    let target = store
        .get(*ids::PODS, namespace, pod)
        .ok_or_else(|| ApiError::not_found("", "pods", pod))?;
    let opts = DeleteOptions {
        grace_period_seconds: grace.filter(|g| *g >= 0),
        ..DeleteOptions::default()
    };
    let delete = || {
        store
            .delete_as(*ids::PODS, namespace, pod, opts, write)
            .map(|_| ())
    };
    // Pods that are not running, or already going, are never protected.
    let phase = target["status"]["phase"].as_str().unwrap_or("Pending");
    if is_terminating(&target) || matches!(phase, "Pending" | "Succeeded" | "Failed") {
        return delete();
    }
    let (pdbs, _) = store.list(*ids::PDBS, Some(namespace));
    let budgets: Vec<&Obj> = pdbs
        .iter()
        .filter(|p| selector_matches(&p["spec"]["selector"], &target["metadata"]["labels"]))
        .collect();
    let pdb = match budgets.as_slice() {
        [] => return delete(),
        [one] => *one,
        _ => {
            return Err(ApiError::internal(
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            ));
        }
    };
    let now = cluster.clock.now();
    let (pods, _) = store.list(*ids::PODS, Some(namespace));
    let matching = matching(pdb, &pods);
    let expected = expected_count(cluster, pdb, &matching);
    let b = compute(pdb, &matching, expected, now);
    if !is_ready(&target) {
        // IfHealthyBudget (the default): an unhealthy pod may go without spending a
        // disruption while the budget is met; AlwaysAllow lets it go regardless.
        let always = pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow";
        if always || (b.current_healthy >= b.desired_healthy && b.desired_healthy > 0) {
            return delete();
        }
    }
    if b.disruptions_allowed <= 0 {
        return Err(budget_exhausted(name_of(pdb), &b));
    }
    if write == Write::DryRun {
        // Allowed: said, and neither the budget nor the pod is touched.
        return Ok(());
    }
    let pod_name = pod.to_string();
    patch(&cluster.store, *ids::PDBS, pdb, |next| {
        let mut b = compute(next, &matching, expected, now);
        b.disrupted.insert(pod_name, json!(k8s_time(now)));
        b.disruptions_allowed -= 1;
        next["status"] = status_of(next, &b, now);
    });
    delete()
}

fn budget_exhausted(pdb: &str, b: &Budget) -> ApiError {
    let cause = format!(
        "The disruption budget {pdb} needs {} healthy pods and has {} currently",
        b.desired_healthy, b.current_healthy
    );
    ApiError {
        code: 429,
        reason: "TooManyRequests",
        message: "Cannot evict pod as it would violate the pod's disruption budget.".into(),
        details: Some(json!({"causes": [{"reason": "DisruptionBudget", "message": cause}]})),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::objects::find_condition;
    use crate::controllers::testkit::*;

    fn pdb(name: &str, spec: Value) -> Value {
        let mut s = spec;
        s["selector"] = json!({"matchLabels": {"app": "web"}});
        json!({"metadata": {"name": name, "namespace": "default"}, "spec": s})
    }

    fn get_pdb(c: &ClusterSim, name: &str) -> Obj {
        c.store.get(*ids::PDBS, "default", name).unwrap()
    }

    #[test]
    fn budget_status_for_min_available_and_max_unavailable() {
        let c = cluster(3);
        let ctl = controllers();
        c.store
            .create(*ids::DEPLOYMENTS, deployment("web", 4))
            .unwrap();
        c.store
            .create(*ids::PDBS, pdb("min", json!({"minAvailable": "50%"})))
            .unwrap();
        settle(&c, &ctl);
        let s = &get_pdb(&c, "min")["status"];
        assert_eq!(
            (
                s["expectedPods"].as_i64(),
                s["currentHealthy"].as_i64(),
                s["desiredHealthy"].as_i64(),
                s["disruptionsAllowed"].as_i64()
            ),
            (Some(4), Some(4), Some(2), Some(2))
        );
        let cond = find_condition(&s["conditions"], "DisruptionAllowed").unwrap();
        assert_eq!(
            (cond["status"].as_str(), cond["reason"].as_str()),
            (Some("True"), Some("SufficientPods"))
        );
        assert_eq!(s["observedGeneration"], 1);
        c.store
            .delete(*ids::PDBS, "default", "min", DeleteOptions::default())
            .unwrap();
        c.store
            .create(*ids::PDBS, pdb("max", json!({"maxUnavailable": "30%"})))
            .unwrap();
        settle(&c, &ctl);
        let s = &get_pdb(&c, "max")["status"];
        // 30 % of 4 rounds up to 2 unavailable.
        assert_eq!(
            (
                s["desiredHealthy"].as_i64(),
                s["disruptionsAllowed"].as_i64()
            ),
            (Some(2), Some(2))
        );
    }

    #[test]
    fn eviction_respects_the_budget_and_the_owner_replaces_the_pod() {
        let c = cluster(2);
        let ctl = controllers();
        c.store
            .create(*ids::DEPLOYMENTS, deployment("web", 2))
            .unwrap();
        c.store
            .create(*ids::PDBS, pdb("web", json!({"minAvailable": 2})))
            .unwrap();
        settle(&c, &ctl);
        let victim = pods_of(&c, "web-")[0].clone();
        let victim_node = victim["spec"]["nodeName"].as_str().unwrap().to_string();
        let err = evict(&c, "default", name_of(&victim), None, Write::Commit).unwrap_err();
        assert_eq!((err.code, err.reason), (429, "TooManyRequests"));
        assert_eq!(
            err.message,
            "Cannot evict pod as it would violate the pod's disruption budget."
        );
        assert_eq!(
            err.details.unwrap()["causes"][0],
            json!({"reason": "DisruptionBudget", "message": "The disruption budget web needs 2 healthy pods and has 2 currently"})
        );
        assert!(!is_terminating(
            &c.store
                .get(*ids::PODS, "default", name_of(&victim))
                .unwrap()
        ));

        // Drain-style: cordon the node, relax the budget, evict.
        cordon(&c, &victim_node, true);
        edit(&c, *ids::PDBS, "default", "web", |next| {
            next["spec"]["minAvailable"] = json!(1);
        });
        evict(&c, "default", name_of(&victim), Some(0), Write::Commit).unwrap();
        let s = &get_pdb(&c, "web")["status"];
        assert_eq!(
            s["disruptionsAllowed"], 0,
            "spent at once, before the controller runs"
        );
        assert!(s["disruptedPods"][name_of(&victim)].is_string());
        let second = pods_of(&c, "web-")
            .into_iter()
            .find(|p| name_of(p) != name_of(&victim))
            .unwrap();
        assert_eq!(
            evict(&c, "default", name_of(&second), None, Write::Commit)
                .unwrap_err()
                .code,
            429
        );

        settle(&c, &ctl);
        let pods = pods_of(&c, "web-");
        assert_eq!(pods.len(), 2);
        assert!(pods.iter().all(|p| name_of(p) != name_of(&victim)));
        assert!(
            pods.iter()
                .all(|p| p["spec"]["nodeName"] != victim_node.as_str()),
            "replacement avoided the cordoned node"
        );
        assert_eq!(running(&c, "web-"), 2);
        let s = &get_pdb(&c, "web")["status"];
        assert_eq!(
            (
                s["currentHealthy"].as_i64(),
                s["disruptionsAllowed"].as_i64()
            ),
            (Some(2), Some(1))
        );
        assert!(s.get("disruptedPods").is_none());
    }

    #[test]
    fn eviction_of_missing_pod_is_404_and_two_budgets_are_500() {
        let c = cluster(1);
        let ctl = controllers();
        assert_eq!(
            evict(&c, "default", "nope", None, Write::Commit)
                .unwrap_err()
                .code,
            404
        );
        c.store
            .create(*ids::DEPLOYMENTS, deployment("web", 1))
            .unwrap();
        c.store
            .create(*ids::PDBS, pdb("a", json!({"maxUnavailable": 1})))
            .unwrap();
        c.store
            .create(*ids::PDBS, pdb("b", json!({"maxUnavailable": 1})))
            .unwrap();
        settle(&c, &ctl);
        let p = pods_of(&c, "web-")[0].clone();
        let err = evict(&c, "default", name_of(&p), None, Write::Commit).unwrap_err();
        assert_eq!((err.code, err.reason), (500, "InternalError"));
        assert!(err.message.contains("more than one PodDisruptionBudget"));
    }

    #[test]
    fn pods_without_a_budget_are_evicted_gracefully() {
        let c = cluster(1);
        let ctl = controllers();
        c.store.create(*ids::PODS, pod("lonely")).unwrap();
        settle(&c, &ctl);
        evict(&c, "default", "lonely", None, Write::Commit).unwrap();
        let p = c.store.get(*ids::PODS, "default", "lonely").unwrap();
        assert!(is_terminating(&p));
        assert_eq!(p["metadata"]["deletionGracePeriodSeconds"], 30);
    }
}
