//! Workload controllers: Deployment → ReplicaSet → Pod, StatefulSet, DaemonSet, Job and
//! CronJob, as the real kube-controller-manager runs them (simplified, but stepwise: a
//! rollout surges and drains pod by pod, a StatefulSet waits for each ordinal).
//!
//! Ownership is tracked through `ownerReferences` (controller=true), not by selector
//! adoption, so every pass indexes the dependents by owner uid once.

use std::cell::OnceCell;
use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::Controller;
use super::cron::Schedule;
use super::events::{self, normal_event};
use super::objects::{
    annotation, condition, condition_true, controller_of, created, delete, delete_all,
    find_condition, index_by_controller, is_terminating, owner_ref, patch, replicas_of,
    safe_encode, scaled, write_status,
};
use super::pacing::{Pacer, Pass};
use super::placement::{node_selected, tolerates_all};
use super::pods::FAIL_POD;
use super::readiness::{is_active, is_ready};
use crate::clock::{k8s_time, parse_time};
use crate::cluster::{ClusterSim, FleetOps};
use crate::hash::fnv64;
use crate::registry::{KindId, ids};
use crate::store::{Obj, name_of, namespace_of, random_suffix, uid_of};

/// Label tying a ReplicaSet and its pods to one Deployment template.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";
/// Label tying StatefulSet and DaemonSet pods to a template revision.
pub const REVISION_HASH: &str = "controller-revision-hash";
/// CronJob (or Job) annotation: pods of its new Jobs fail, for backup-failure drills.
pub const FAIL_JOBS: &str = "sim.ck8s.io/fail-jobs";
const REVISION: &str = "deployment.kubernetes.io/revision";
const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
/// Pods a controller creates in one pass at most, like the real slow-start burst.
const BURST: i64 = 500;

/// The workload controllers, in the order a pass runs them.
pub fn all() -> Vec<Box<dyn Controller>> {
    vec![
        Box::new(Deployments::default()),
        Box::new(ReplicaSets::default()),
        Box::new(StatefulSets::default()),
        Box::new(DaemonSets::default()),
        Box::new(CronJobs::default()),
        Box::new(Jobs::default()),
    ]
}

// ---------------------------------------------------------------------------------------
// Shared machinery for the controllers of this module and its siblings.

use crate::hash::feed;

/// Hashes JSON with object keys sorted, so the result does not depend on key order.
fn hash_json(v: &Value, h: &mut u64) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            feed(h, b"{");
            for k in keys {
                feed(h, k.as_bytes());
                feed(h, b":");
                hash_json(&m[k], h);
                feed(h, b",");
            }
            feed(h, b"}");
        }
        Value::Array(a) => {
            feed(h, b"[");
            for x in a {
                hash_json(x, h);
                feed(h, b",");
            }
            feed(h, b"]");
        }
        other => feed(h, other.to_string().as_bytes()),
    }
}

/// Ten safe characters derived from a pod template, as in `web-7d4b9c8f5x`.
pub fn template_hash(template: &Value) -> String {
    let mut h = crate::hash::start();
    hash_json(template, &mut h);
    safe_encode(h, 10)
}

fn owned<'a>(index: &'a HashMap<&str, Vec<&'a Obj>>, owner: &Value) -> &'a [&'a Obj] {
    index.get(uid_of(owner)).map_or(&[], Vec::as_slice)
}

/// One paced pass of an owner controller: `sync` runs for every live `owner` object with
/// the `dependent` objects it controls (listed only when there are owners).
fn reconcile_owners(
    pacer: &Pacer,
    cluster: &ClusterSim,
    (owner, dependent): (KindId, KindId),
    mut sync: impl FnMut(&ClusterSim, &Obj, &[&Obj], &mut Pass) -> bool,
) -> bool {
    pacer.run(cluster, |pass| {
        let (owners, _) = cluster.store.list(owner, None);
        let mut changed = false;
        if !owners.is_empty() {
            let (dependents, _) = cluster.store.list(dependent, None);
            let index = index_by_controller(&dependents);
            for o in owners.iter().filter(|o| !is_terminating(o)) {
                changed |= sync(cluster, o, owned(&index, o), pass);
            }
        }
        changed
    })
}

fn status_count(obj: &Value, field: &str) -> i64 {
    obj["status"][field].as_i64().unwrap_or(0)
}

/// Oldest first, by creation then name, as the real controllers order their sets.
fn sort_by_age(objs: &mut [&Obj]) {
    objs.sort_by(|a, b| {
        created(a)
            .cmp(&created(b))
            .then_with(|| name_of(a).cmp(name_of(b)))
    });
}

/// Sets `key` only when `n` is non-zero, as the `omitempty` counters of real statuses.
fn put_nonzero(status: &mut Value, key: &str, n: i64) {
    if n != 0 {
        status[key] = json!(n);
    }
}

/// New objects must not appear in a namespace that is being deleted.
fn namespace_terminating(cluster: &ClusterSim, ns: &str) -> bool {
    cluster
        .store
        .get(*ids::NAMESPACES, "", ns)
        .is_none_or(|n| is_terminating(&n))
}

/// A pod for `owner` from a pod template, with the defaults the apiserver and its
/// admission plugins would fill in.
pub(crate) fn new_pod(owner: &Value, template: &Value, name: &str) -> Value {
    let mut spec = template["spec"].clone();
    default_pod_spec(&mut spec);
    let mut meta = json!({
        "name": name,
        "namespace": namespace_of(owner),
        "ownerReferences": [owner_ref(owner)],
    });
    for field in ["labels", "annotations"] {
        if template["metadata"][field].is_object() {
            meta[field] = template["metadata"][field].clone();
        }
    }
    let qos = qos_class(&spec);
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": spec,
        "status": {"phase": "Pending", "qosClass": qos},
    })
}

fn default_pod_spec(spec: &mut Value) {
    if !spec.is_object() {
        *spec = json!({});
    }
    let defaults = [
        ("restartPolicy", json!("Always")),
        ("terminationGracePeriodSeconds", json!(30)),
        ("dnsPolicy", json!("ClusterFirst")),
        ("schedulerName", json!("default-scheduler")),
        ("serviceAccountName", json!("default")),
        ("securityContext", json!({})),
        ("containers", json!([])),
    ];
    for (k, v) in defaults {
        if spec.get(k).is_none_or(Value::is_null) {
            spec[k] = v;
        }
    }
    // The DefaultTolerationSeconds admission plugin: pods ride out a node outage of
    // five minutes before taint-based eviction moves them.
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        let has = spec["tolerations"].as_array().is_some_and(|ts| {
            ts.iter()
                .any(|t| t["key"] == key || (t["key"].is_null() && t["operator"] == "Exists"))
        });
        if !has {
            let t = json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300});
            match spec["tolerations"].as_array_mut() {
                Some(ts) => ts.push(t),
                None => spec["tolerations"] = json!([t]),
            }
        }
    }
}

/// Guaranteed when every container limits CPU and memory (requests equal), BestEffort
/// when nothing is requested or limited, Burstable otherwise.
fn qos_class(spec: &Value) -> &'static str {
    let containers: Vec<&Value> = ["initContainers", "containers"]
        .iter()
        .flat_map(|k| spec[*k].as_array().into_iter().flatten())
        .collect();
    let set = |c: &Value, part: &str, res: &str| !c["resources"][part][res].is_null();
    let any = containers.iter().any(|c| {
        ["cpu", "memory"]
            .iter()
            .any(|r| set(c, "requests", r) || set(c, "limits", r))
    });
    if !any {
        return "BestEffort";
    }
    let guaranteed = containers.iter().all(|c| {
        ["cpu", "memory"].iter().all(|r| {
            set(c, "limits", r)
                && (!set(c, "requests", r)
                    || c["resources"]["requests"][*r] == c["resources"]["limits"][*r])
        })
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

fn create_pod(cluster: &ClusterSim, pod: Value) -> bool {
    cluster.store.create(*ids::PODS, pod).is_ok()
}

fn labels_contain(labels: &Value, wanted: &Value) -> bool {
    wanted
        .as_object()
        .is_none_or(|m| m.iter().all(|(k, v)| labels.get(k) == Some(v)))
}

// ---------------------------------------------------------------------------------------
// Deployments

/// Deployment → ReplicaSets: one per template, rolled over stepwise.
#[derive(Debug, Default)]
pub struct Deployments {
    pacer: Pacer,
}

impl Controller for Deployments {
    fn name(&self) -> &'static str {
        "deployments"
    }

    fn reconcile(&self, cluster: &ClusterSim, _fleet: &dyn FleetOps) -> bool {
        reconcile_owners(
            &self.pacer,
            cluster,
            (*ids::DEPLOYMENTS, *ids::REPLICASETS),
            sync_deployment,
        )
    }
}

/// What a rollout step needs to know of one ReplicaSet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RsState {
    /// `spec.replicas`.
    pub spec: i64,
    /// `status.availableReplicas`.
    pub available: i64,
    /// `status.replicas` (pods that still exist).
    pub pods: i64,
}

impl RsState {
    fn of(rs: &Value) -> RsState {
        RsState {
            spec: replicas_of(rs),
            available: status_count(rs, "availableReplicas"),
            pods: status_count(rs, "replicas"),
        }
    }
}

/// Rollout parameters of a Deployment spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Strategy {
    pub replicas: i64,
    pub max_surge: i64,
    pub max_unavailable: i64,
    pub recreate: bool,
}

impl Strategy {
    fn of(spec: &Value) -> Strategy {
        let replicas = spec["replicas"].as_i64().unwrap_or(1).max(0);
        let recreate = spec["strategy"]["type"] == "Recreate";
        if recreate {
            // Recreate has no surge and tolerates no unavailability while settled.
            return Strategy {
                replicas,
                max_surge: 0,
                max_unavailable: 0,
                recreate,
            };
        }
        let ru = &spec["strategy"]["rollingUpdate"];
        let pick = |v: &Value| if v.is_null() { json!("25%") } else { v.clone() };
        let surge = scaled(&pick(&ru["maxSurge"]), replicas, true)
            .unwrap_or(1)
            .max(0);
        let mut unavailable = scaled(&pick(&ru["maxUnavailable"]), replicas, false)
            .unwrap_or(1)
            .clamp(0, replicas);
        if surge == 0 && unavailable == 0 {
            unavailable = 1;
        }
        Strategy {
            replicas,
            max_surge: surge,
            max_unavailable: unavailable,
            recreate,
        }
    }
}

/// One step of a rollout: the new `spec.replicas` for the new ReplicaSet and for each
/// old one (oldest first), following the real `reconcileNewReplicaSet` and
/// `reconcileOldReplicaSets`: surge the new set up to `replicas + maxSurge` pods in
/// total, first drop old pods that are not available anyway, then scale old sets down
/// as far as `replicas - maxUnavailable` available pods allow.
pub fn plan_rollout(s: Strategy, new: RsState, olds: &[RsState]) -> (i64, Vec<i64>) {
    let mut old_targets: Vec<i64> = olds.iter().map(|o| o.spec).collect();
    if s.recreate {
        if olds.iter().any(|o| o.spec > 0 || o.pods > 0) {
            return (0, vec![0; olds.len()]);
        }
        return (s.replicas, old_targets);
    }
    let old_total: i64 = old_targets.iter().sum();
    let new_target = if new.spec > s.replicas {
        s.replicas
    } else {
        let room = s.replicas + s.max_surge - (new.spec + old_total);
        (new.spec + room.max(0)).min(s.replicas)
    };
    if old_total == 0 {
        return (new_target, old_targets);
    }
    let min_available = s.replicas - s.max_unavailable;
    let new_unavailable = (new_target - new.available).max(0);
    let mut max_down = new_target + old_total - min_available - new_unavailable;
    if max_down <= 0 {
        return (new_target, old_targets);
    }
    for (target, old) in old_targets.iter_mut().zip(olds) {
        let unhealthy = (*target - old.available).max(0);
        let down = unhealthy.min(max_down);
        *target -= down;
        max_down -= down;
    }
    let available: i64 = new.available + olds.iter().map(|o| o.available).sum::<i64>();
    let mut to_scale = (available - min_available).max(0);
    for target in old_targets.iter_mut() {
        let down = (*target).min(to_scale);
        *target -= down;
        to_scale -= down;
    }
    (new_target, old_targets)
}

fn revision_of(rs: &Value) -> i64 {
    annotation(rs, REVISION)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn sync_deployment(cluster: &ClusterSim, d: &Obj, owned: &[&Obj], pass: &mut Pass) -> bool {
    let spec = &d["spec"];
    let strategy = Strategy::of(spec);
    let hash = template_hash(&spec["template"]);
    let paused = spec["paused"] == true;
    let mut rss: Vec<&Obj> = owned
        .iter()
        .copied()
        .filter(|rs| !is_terminating(rs))
        .collect();
    sort_by_age(&mut rss);
    let new_pos = rss
        .iter()
        .position(|rs| rs["metadata"]["labels"][POD_TEMPLATE_HASH] == hash);
    let new_rs = new_pos.map(|i| rss.remove(i).clone());
    let olds = rss;
    let max_old_rev = olds.iter().map(|r| revision_of(r)).max().unwrap_or(0);
    let revision = match &new_rs {
        Some(rs) if revision_of(rs) > max_old_rev => revision_of(rs),
        _ => max_old_rev + 1,
    };
    let mut changed = false;
    let mut scaled_any = false;
    let mut created_new = None;
    let new_rs = if paused {
        new_rs
    } else {
        let old_states: Vec<RsState> = olds.iter().map(|r| RsState::of(r)).collect();
        let new_state = new_rs.as_deref().map(RsState::of).unwrap_or_default();
        let (new_target, old_targets) = plan_rollout(strategy, new_state, &old_states);
        let annotations = rs_annotations(strategy, revision);
        for ((rs, target), state) in olds.iter().zip(old_targets).zip(&old_states) {
            if target != state.spec {
                scaled_any |= scale_rs(
                    cluster,
                    d,
                    rs,
                    target,
                    &json!({DESIRED_REPLICAS: annotations[DESIRED_REPLICAS], MAX_REPLICAS: annotations[MAX_REPLICAS]}),
                );
            }
        }
        match new_rs {
            Some(rs) => {
                let stale = annotations
                    .as_object()
                    .into_iter()
                    .flatten()
                    .any(|(k, v)| rs["metadata"]["annotations"][k] != *v);
                if new_target != new_state.spec || stale {
                    scaled_any |= scale_rs(cluster, d, &rs, new_target, &annotations);
                }
                Some(rs)
            }
            None => {
                let rs = create_rs(cluster, d, &hash, new_target, &annotations);
                if let Some(rs) = &rs {
                    created_new = Some(name_of(rs).to_string());
                    changed = true;
                    if new_target > 0 {
                        let msg = format!(
                            "Scaled up replica set {} from 0 to {new_target}",
                            name_of(rs)
                        );
                        normal_event(cluster, d, "ScalingReplicaSet", &msg);
                    }
                }
                rs
            }
        }
    };
    changed |= scaled_any;
    changed |= cleanup_history(cluster, d, &olds);
    let all: Vec<&Value> = new_rs
        .iter()
        .map(|r| r.as_ref())
        .chain(olds.iter().map(|r| r.as_ref()))
        .collect();
    let status = deployment_status(
        d,
        new_rs.as_deref(),
        &all,
        strategy,
        created_new,
        scaled_any,
        pass,
    );
    let rev = revision.to_string();
    let annotated = annotation(d, REVISION) == Some(rev.as_str()) || new_rs.is_none();
    if d.get("status") != Some(&status) || !annotated {
        changed |= patch(&cluster.store, *ids::DEPLOYMENTS, d, |next| {
            if !annotated {
                next["metadata"]["annotations"][REVISION] = json!(rev);
            }
            next["status"] = status;
        })
        .is_some();
    }
    changed
}

fn rs_annotations(s: Strategy, revision: i64) -> Value {
    json!({
        DESIRED_REPLICAS: s.replicas.to_string(),
        MAX_REPLICAS: (s.replicas + s.max_surge).to_string(),
        REVISION: revision.to_string(),
    })
}

fn create_rs(
    cluster: &ClusterSim,
    d: &Value,
    hash: &str,
    replicas: i64,
    annotations: &Value,
) -> Option<Obj> {
    let name = format!("{}-{hash}", name_of(d));
    let mut template = d["spec"]["template"].clone();
    template["metadata"]["labels"][POD_TEMPLATE_HASH] = json!(hash);
    let mut selector = d["spec"]["selector"].clone();
    if !selector.is_object() {
        selector = json!({"matchLabels": d["spec"]["template"]["metadata"]["labels"]});
    }
    selector["matchLabels"][POD_TEMPLATE_HASH] = json!(hash);
    let rs = json!({
        "metadata": {
            "name": name,
            "namespace": namespace_of(d),
            "labels": template["metadata"]["labels"],
            "annotations": annotations,
            "ownerReferences": [owner_ref(d)],
        },
        "spec": {
            "replicas": replicas,
            "minReadySeconds": d["spec"]["minReadySeconds"].as_i64().unwrap_or(0),
            "selector": selector,
            "template": template,
        },
    });
    match cluster.store.create(*ids::REPLICASETS, rs) {
        Ok(rs) => Some(rs),
        Err(_) => cluster.store.get(*ids::REPLICASETS, namespace_of(d), &name),
    }
}

fn scale_rs(cluster: &ClusterSim, d: &Value, rs: &Value, target: i64, annotations: &Value) -> bool {
    let from = replicas_of(rs);
    let wrote = patch(&cluster.store, *ids::REPLICASETS, rs, |next| {
        next["spec"]["replicas"] = json!(target);
        for (k, v) in annotations.as_object().into_iter().flatten() {
            next["metadata"]["annotations"][k] = v.clone();
        }
    })
    .is_some();
    if wrote && from != target {
        let dir = if target > from { "up" } else { "down" };
        let msg = format!(
            "Scaled {dir} replica set {} from {from} to {target}",
            name_of(rs)
        );
        normal_event(cluster, d, "ScalingReplicaSet", &msg);
    }
    wrote
}

/// Drops old, empty ReplicaSets beyond `revisionHistoryLimit` (default 10), oldest
/// revision first.
fn cleanup_history(cluster: &ClusterSim, d: &Value, olds: &[&Obj]) -> bool {
    let limit = d["spec"]["revisionHistoryLimit"]
        .as_i64()
        .unwrap_or(10)
        .max(0) as usize;
    let mut empty: Vec<&Obj> = olds
        .iter()
        .copied()
        .filter(|rs| replicas_of(rs) == 0 && status_count(rs, "replicas") == 0)
        .collect();
    if empty.len() <= limit {
        return false;
    }
    empty.sort_by_key(|rs| revision_of(rs));
    let surplus = empty.len() - limit;
    delete_all(&cluster.store, *ids::REPLICASETS, &empty[..surplus])
}

fn deployment_status(
    d: &Value,
    new_rs: Option<&Value>,
    all: &[&Value],
    s: Strategy,
    created_new: Option<String>,
    scaled: bool,
    pass: &mut Pass,
) -> Value {
    let sum = |f: &str| all.iter().map(|rs| status_count(rs, f)).sum::<i64>();
    let replicas = sum("replicas");
    let updated = new_rs.map_or(0, |rs| status_count(rs, "replicas"));
    let ready = sum("readyReplicas");
    let available = sum("availableReplicas");
    let prev = &d["status"];
    let prev_conds = &prev["conditions"];
    let now = pass.now;
    let available_cond = if available >= s.replicas - s.max_unavailable {
        (
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
        )
    } else {
        (
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        )
    };
    let rs_name = new_rs.map_or_else(
        || created_new.clone().unwrap_or_default(),
        |r| name_of(r).to_string(),
    );
    let complete = new_rs.is_some()
        && updated == s.replicas
        && replicas == s.replicas
        && available == s.replicas;
    let progressed = scaled
        || updated > status_count(d, "updatedReplicas")
        || replicas < status_count(d, "replicas")
        || ready > status_count(d, "readyReplicas")
        || available > status_count(d, "availableReplicas");
    let deadline = Duration::seconds(d["spec"]["progressDeadlineSeconds"].as_i64().unwrap_or(600));
    let prev_progress = find_condition(prev_conds, "Progressing");
    let updated_msg = format!("ReplicaSet \"{rs_name}\" is progressing.");
    let progressing = if d["spec"]["paused"] == true {
        condition(
            prev_conds,
            (
                "Progressing",
                "Unknown",
                "DeploymentPaused",
                "Deployment is paused",
            ),
            now,
            Some(false),
        )
    } else if complete {
        let msg = format!("ReplicaSet \"{rs_name}\" has successfully progressed.");
        condition(
            prev_conds,
            ("Progressing", "True", "NewReplicaSetAvailable", &msg),
            now,
            Some(false),
        )
    } else if let Some(name) = &created_new {
        let msg = format!("Created new replica set \"{name}\"");
        condition(
            prev_conds,
            ("Progressing", "True", "NewReplicaSetCreated", &msg),
            now,
            Some(true),
        )
    } else if progressed {
        condition(
            prev_conds,
            ("Progressing", "True", "ReplicaSetUpdated", &updated_msg),
            now,
            Some(true),
        )
    } else {
        match prev_progress {
            // First status, or resumed after a pause: the deadline starts now.
            None => condition(
                prev_conds,
                ("Progressing", "True", "ReplicaSetUpdated", &updated_msg),
                now,
                Some(true),
            ),
            Some(p) if p["reason"] == "DeploymentPaused" => condition(
                prev_conds,
                ("Progressing", "True", "ReplicaSetUpdated", &updated_msg),
                now,
                Some(true),
            ),
            // Neither complete nor progressing: the real controller leaves the
            // condition alone unless the progress deadline has passed.
            Some(p) if p["reason"] == "NewReplicaSetAvailable" || p["status"] != "True" => {
                p.clone()
            }
            Some(p) => match p["lastUpdateTime"].as_str().and_then(parse_time) {
                Some(t) if now >= t + deadline => {
                    let msg = format!("ReplicaSet \"{rs_name}\" has timed out progressing.");
                    condition(
                        prev_conds,
                        ("Progressing", "False", "ProgressDeadlineExceeded", &msg),
                        now,
                        Some(false),
                    )
                }
                _ => p.clone(),
            },
        }
    };
    if progressing["status"] == "True"
        && progressing["reason"] != "NewReplicaSetAvailable"
        && let Some(t) = progressing["lastUpdateTime"].as_str().and_then(parse_time)
    {
        pass.wake_at(t + deadline);
    }
    let mut status = json!({
        "observedGeneration": d["metadata"]["generation"],
        "conditions": [condition(prev_conds, available_cond, now, Some(false)), progressing],
    });
    put_nonzero(&mut status, "replicas", replicas);
    put_nonzero(&mut status, "updatedReplicas", updated);
    put_nonzero(&mut status, "readyReplicas", ready);
    put_nonzero(&mut status, "availableReplicas", available);
    put_nonzero(
        &mut status,
        "unavailableReplicas",
        (s.replicas - available).max(0),
    );
    status
}

// ---------------------------------------------------------------------------------------
// ReplicaSets

/// ReplicaSet → Pods: creates and deletes pods to match `spec.replicas`.
#[derive(Debug, Default)]
pub struct ReplicaSets {
    pacer: Pacer,
}

impl Controller for ReplicaSets {
    fn name(&self) -> &'static str {
        "replicasets"
    }

    fn reconcile(&self, cluster: &ClusterSim, _fleet: &dyn FleetOps) -> bool {
        reconcile_owners(
            &self.pacer,
            cluster,
            (*ids::REPLICASETS, *ids::PODS),
            sync_rs,
        )
    }
}

fn sync_rs(cluster: &ClusterSim, rs: &Obj, pods: &[&Obj], pass: &mut Pass) -> bool {
    let want = replicas_of(rs);
    let mut active: Vec<&Obj> = pods.iter().copied().filter(|p| is_active(p)).collect();
    let diff = active.len() as i64 - want;
    let mut changed = false;
    if diff < 0 && !namespace_terminating(cluster, namespace_of(rs)) {
        let template = &rs["spec"]["template"];
        for _ in 0..(-diff).min(BURST) {
            let name = format!("{}-{}", name_of(rs), random_suffix(5));
            let mut pod = new_pod(rs, template, &name);
            pod["metadata"]["generateName"] = json!(format!("{}-", name_of(rs)));
            changed |= create_pod(cluster, pod);
        }
    } else if diff > 0 {
        active.sort_by_key(|p| deletion_rank(p));
        for p in &active[..diff as usize] {
            changed |= delete(&cluster.store, *ids::PODS, p);
        }
    }
    let min_ready = rs["spec"]["minReadySeconds"].as_i64().unwrap_or(0);
    let template_labels = &rs["spec"]["template"]["metadata"]["labels"];
    let active: Vec<&Obj> = pods.iter().copied().filter(|p| is_active(p)).collect();
    let count = |f: &dyn Fn(&Obj) -> bool| active.iter().filter(|p| f(p)).count() as i64;
    let mut status = json!({
        "replicas": active.len(),
        "observedGeneration": rs["metadata"]["generation"],
    });
    put_nonzero(
        &mut status,
        "fullyLabeledReplicas",
        count(&|p| labels_contain(&p["metadata"]["labels"], template_labels)),
    );
    put_nonzero(&mut status, "readyReplicas", count(&|p| is_ready(p)));
    let available = active
        .iter()
        .filter(|p| pass.is_available(p, min_ready))
        .count() as i64;
    put_nonzero(&mut status, "availableReplicas", available);
    changed | write_status(&cluster.store, *ids::REPLICASETS, rs, status)
}

/// Sort key of surplus pods: (scheduled, phase, ready, fewer restarts, older).
type DeletionRank = (bool, u8, bool, Reverse<i64>, Reverse<Option<DateTime<Utc>>>);

/// Which surplus pod goes first: unscheduled, then pending, then not ready, then the
/// one restarting most, then the newest.
fn deletion_rank(p: &Value) -> DeletionRank {
    let phase = match p["status"]["phase"].as_str() {
        Some("Pending") | None => 0,
        Some("Unknown") => 1,
        _ => 2,
    };
    let restarts = p["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["restartCount"].as_i64().unwrap_or(0))
        .sum();
    (
        p["spec"]["nodeName"].is_string(),
        phase,
        is_ready(p),
        Reverse(restarts),
        Reverse(created(p)),
    )
}

// ---------------------------------------------------------------------------------------
// StatefulSets

/// StatefulSet → Pods `<name>-<ordinal>`, created in order, one at a time unless the
/// pod management policy is Parallel; template changes roll from the highest ordinal.
#[derive(Debug, Default)]
pub struct StatefulSets {
    pacer: Pacer,
}

impl Controller for StatefulSets {
    fn name(&self) -> &'static str {
        "statefulsets"
    }

    fn reconcile(&self, cluster: &ClusterSim, _fleet: &dyn FleetOps) -> bool {
        reconcile_owners(
            &self.pacer,
            cluster,
            (*ids::STATEFULSETS, *ids::PODS),
            sync_sts,
        )
    }
}

fn sync_sts(cluster: &ClusterSim, sts: &Obj, pods: &[&Obj], pass: &mut Pass) -> bool {
    let name = name_of(sts);
    let replicas = replicas_of(sts);
    let update_rev = format!("{name}-{}", template_hash(&sts["spec"]["template"]));
    let parallel = sts["spec"]["podManagementPolicy"] == "Parallel";
    let prefix = format!("{name}-");
    let by_ord: BTreeMap<i64, &Obj> = pods
        .iter()
        .filter_map(|p| Some((name_of(p).strip_prefix(&prefix)?.parse().ok()?, *p)))
        .collect();
    let healthy = |p: &Value| !is_terminating(p) && is_ready(p);
    let mut changed = false;
    // Finished pods are replaced, as the real controller restarts failed members.
    for p in by_ord
        .values()
        .filter(|p| !is_terminating(p) && !is_active(p))
    {
        changed |= delete(&cluster.store, *ids::PODS, p);
    }
    let mut all_healthy = true;
    for ord in 0..replicas {
        match by_ord.get(&ord) {
            Some(p) if healthy(p) => continue,
            Some(_) => all_healthy = false,
            None if all_healthy || parallel => {
                if !namespace_terminating(cluster, namespace_of(sts)) {
                    changed |= create_sts_pod(cluster, sts, ord, &update_rev);
                }
                all_healthy = false;
            }
            None => all_healthy = false,
        }
        if !all_healthy && !parallel {
            break;
        }
    }
    let condemned: Vec<&Obj> = by_ord.range(replicas..).rev().map(|(_, p)| *p).collect();
    let any_terminating = by_ord.values().any(|p| is_terminating(p));
    for p in condemned.iter().filter(|p| !is_terminating(p)) {
        if !parallel && (!all_healthy || any_terminating) {
            break;
        }
        changed |= delete(&cluster.store, *ids::PODS, p);
        if !parallel {
            break;
        }
    }
    if all_healthy
        && !any_terminating
        && condemned.is_empty()
        && sts["spec"]["updateStrategy"]["type"] != "OnDelete"
    {
        let partition = sts["spec"]["updateStrategy"]["rollingUpdate"]["partition"]
            .as_i64()
            .unwrap_or(0);
        let outdated = by_ord
            .range(partition.max(0)..replicas)
            .rev()
            .find(|(_, p)| p["metadata"]["labels"][REVISION_HASH] != update_rev.as_str());
        if let Some((_, p)) = outdated {
            changed |= delete(&cluster.store, *ids::PODS, p);
        }
    }
    changed
        | write_status(
            &cluster.store,
            *ids::STATEFULSETS,
            sts,
            sts_status(sts, &by_ord, &update_rev, pass),
        )
}

fn create_sts_pod(cluster: &ClusterSim, sts: &Value, ord: i64, revision: &str) -> bool {
    let name = format!("{}-{ord}", name_of(sts));
    let mut pod = new_pod(sts, &sts["spec"]["template"], &name);
    let labels = &mut pod["metadata"]["labels"];
    labels[REVISION_HASH] = json!(revision);
    labels["statefulset.kubernetes.io/pod-name"] = json!(name);
    labels["apps.kubernetes.io/pod-index"] = json!(ord.to_string());
    pod["spec"]["hostname"] = json!(name);
    if let Some(svc) = sts["spec"]["serviceName"].as_str() {
        pod["spec"]["subdomain"] = json!(svc);
    }
    for claim in sts["spec"]["volumeClaimTemplates"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let claim_name = format!("{}-{name}", name_of(claim));
        ensure_claim(cluster, sts, claim, &claim_name);
        let volume =
            json!({"name": name_of(claim), "persistentVolumeClaim": {"claimName": claim_name}});
        let volumes = &mut pod["spec"]["volumes"];
        match volumes.as_array_mut() {
            Some(vs) if !vs.iter().any(|v| v["name"] == volume["name"]) => vs.push(volume),
            Some(_) => {}
            None => *volumes = json!([volume]),
        }
    }
    create_pod(cluster, pod)
}

/// A bound PersistentVolumeClaim for one StatefulSet member; kept when the member goes,
/// as the real default retention policy does.
fn ensure_claim(cluster: &ClusterSim, sts: &Value, claim: &Value, name: &str) {
    let ns = namespace_of(sts);
    if cluster.store.get(*ids::PVCS, ns, name).is_some() {
        return;
    }
    let mut spec = claim["spec"].clone();
    spec["volumeName"] = json!(format!(
        "pvc-{:016x}",
        fnv64(format!("{ns}/{name}").as_bytes())
    ));
    let mut labels = sts["spec"]["selector"]["matchLabels"].clone();
    if !labels.is_object() {
        labels = json!({});
    }
    let pvc = json!({
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": spec,
        "status": {
            "phase": "Bound",
            "accessModes": claim["spec"]["accessModes"],
            "capacity": {"storage": claim["spec"]["resources"]["requests"]["storage"]},
        },
    });
    let _ = cluster.store.create(*ids::PVCS, pvc);
}

fn sts_status(
    sts: &Value,
    by_ord: &BTreeMap<i64, &Obj>,
    update_rev: &str,
    pass: &mut Pass,
) -> Value {
    let live: Vec<&Obj> = by_ord
        .values()
        .copied()
        .filter(|p| !is_terminating(p))
        .collect();
    let rev_count = |rev: &str| {
        live.iter()
            .filter(|p| p["metadata"]["labels"][REVISION_HASH] == rev)
            .count() as i64
    };
    let ready = live.iter().filter(|p| is_ready(p)).count() as i64;
    let min_ready = sts["spec"]["minReadySeconds"].as_i64().unwrap_or(0);
    let available = live
        .iter()
        .filter(|p| pass.is_available(p, min_ready))
        .count() as i64;
    let updated = rev_count(update_rev);
    let replicas = replicas_of(sts);
    let current_rev = match sts["status"]["currentRevision"].as_str() {
        Some(r) if !(updated == replicas && ready == replicas) => r.to_string(),
        _ => update_rev.to_string(),
    };
    let mut status = json!({
        "observedGeneration": sts["metadata"]["generation"],
        "replicas": live.len(),
        "availableReplicas": available,
        "currentRevision": current_rev,
        "updateRevision": update_rev,
        "collisionCount": 0,
    });
    put_nonzero(&mut status, "readyReplicas", ready);
    put_nonzero(&mut status, "currentReplicas", rev_count(&current_rev));
    put_nonzero(&mut status, "updatedReplicas", updated);
    status
}

// ---------------------------------------------------------------------------------------
// DaemonSets

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
                changed |= create_pod(cluster, daemon_pod(ds, &hash, &tolerations, name_of(node)))
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

fn daemon_pod(ds: &Value, hash: &str, tolerations: &Value, node: &str) -> Value {
    let name = format!("{}-{}", name_of(ds), random_suffix(5));
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

// ---------------------------------------------------------------------------------------
// Jobs

/// Job → pods until `completions` succeeded or `backoffLimit` failures.
#[derive(Debug, Default)]
pub struct Jobs {
    pacer: Pacer,
}

impl Controller for Jobs {
    fn name(&self) -> &'static str {
        "jobs"
    }

    fn reconcile(&self, cluster: &ClusterSim, _fleet: &dyn FleetOps) -> bool {
        reconcile_owners(&self.pacer, cluster, (*ids::JOBS, *ids::PODS), sync_job)
    }
}

/// A Job has finished when it carries a True Complete or Failed condition.
pub fn job_finished(job: &Value) -> Option<&'static str> {
    ["Complete", "Failed"]
        .into_iter()
        .find(|t| condition_true(job, t))
}

fn sync_job(cluster: &ClusterSim, job: &Obj, pods: &[&Obj], pass: &mut Pass) -> bool {
    let phase_count = |ph: &str| pods.iter().filter(|p| p["status"]["phase"] == ph).count() as i64;
    let (succeeded, failed) = (phase_count("Succeeded"), phase_count("Failed"));
    let active: Vec<&Obj> = pods.iter().copied().filter(|p| is_active(p)).collect();
    let spec = &job["spec"];
    let prev_conds = &job["status"]["conditions"];
    let now = pass.now;
    let mut changed = false;
    if let Some(outcome) = job_finished(job) {
        changed |= delete_all(&cluster.store, *ids::PODS, &active);
        if let Some(ttl) = spec["ttlSecondsAfterFinished"].as_i64() {
            let done = job["status"]["completionTime"]
                .as_str()
                .or_else(|| {
                    find_condition(prev_conds, outcome)
                        .and_then(|c| c["lastTransitionTime"].as_str())
                })
                .and_then(parse_time);
            if done.is_none_or(|t| pass.reached(t + Duration::seconds(ttl))) {
                return delete(&cluster.store, *ids::JOBS, job) | changed;
            }
        }
        let mut status = job["status"].clone();
        let _ = status.as_object_mut().map(|s| s.remove("active"));
        status["ready"] = json!(0);
        put_nonzero(&mut status, "succeeded", succeeded);
        put_nonzero(&mut status, "failed", failed);
        return changed | write_status(&cluster.store, *ids::JOBS, job, status);
    }
    let completions = spec["completions"].as_i64().unwrap_or(1).max(1);
    let parallelism = spec["parallelism"].as_i64().unwrap_or(1).max(0);
    let backoff = spec["backoffLimit"].as_i64().unwrap_or(6).max(0);
    let suspended = spec["suspend"] == true;
    let start = job["status"]["startTime"].as_str().and_then(parse_time);
    let deadline = spec["activeDeadlineSeconds"]
        .as_i64()
        .map(Duration::seconds);
    let mut conditions: Vec<Value> = Vec::new();
    let mut completion_time = None;
    let failure = if failed > backoff {
        Some((
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
        ))
    } else if let (Some(s), Some(d)) = (start, deadline)
        && !suspended
        && pass.reached(s + d)
    {
        Some((
            "DeadlineExceeded",
            "Job was active longer than specified deadline",
        ))
    } else {
        None
    };
    if let Some((reason, message)) = failure {
        changed |= delete_all(&cluster.store, *ids::PODS, &active);
        conditions.push(condition(
            prev_conds,
            ("Failed", "True", reason, message),
            now,
            None,
        ));
        events::record(cluster, job, "Warning", reason, message);
    } else if succeeded >= completions {
        conditions.push(condition(
            prev_conds,
            (
                "Complete",
                "True",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
            ),
            now,
            None,
        ));
        completion_time = Some(json!(k8s_time(now)));
        normal_event(cluster, job, "Completed", "Job completed");
    } else if suspended {
        changed |= delete_all(&cluster.store, *ids::PODS, &active);
        conditions.push(condition(
            prev_conds,
            ("Suspended", "True", "JobSuspended", "Job suspended"),
            now,
            None,
        ));
    } else {
        let want = parallelism.min(completions - succeeded) - active.len() as i64;
        if want > 0 && !namespace_terminating(cluster, namespace_of(job)) {
            let fail = job_should_fail(cluster, job);
            for _ in 0..want.min(BURST) {
                changed |= create_job_pod(cluster, job, fail);
            }
        }
    }
    let mut status = json!({
        "ready": active.iter().filter(|p| is_ready(p)).count(),
    });
    if let Some(t) = start
        .map(k8s_time)
        .or_else(|| (!suspended).then(|| k8s_time(now)))
    {
        status["startTime"] = json!(t);
    }
    if !conditions.is_empty() {
        for c in &mut conditions {
            c["lastProbeTime"] = c["lastTransitionTime"].clone();
        }
        status["conditions"] = json!(conditions);
    }
    if let Some(t) = completion_time {
        status["completionTime"] = t;
    }
    put_nonzero(
        &mut status,
        "active",
        if failure.is_some() {
            0
        } else {
            active.len() as i64
        },
    );
    put_nonzero(&mut status, "succeeded", succeeded);
    put_nonzero(&mut status, "failed", failed);
    changed | write_status(&cluster.store, *ids::JOBS, job, status)
}

/// Whether new pods of this Job should fail: the Job, or the CronJob that owns it,
/// carries [`FAIL_JOBS`]. Checking the owner too covers manual runs
/// (`kubectl create job --from=cronjob/...`).
fn job_should_fail(cluster: &ClusterSim, job: &Value) -> bool {
    let flagged = |o: &Value| annotation(o, FAIL_JOBS) == Some("true");
    flagged(job)
        || controller_of(job).is_some_and(|r| {
            r["kind"] == "CronJob"
                && cluster
                    .store
                    .get(
                        *ids::CRONJOBS,
                        namespace_of(job),
                        r["name"].as_str().unwrap_or(""),
                    )
                    .is_some_and(|cj| {
                        flagged(&cj) && uid_of(&cj) == r["uid"].as_str().unwrap_or("")
                    })
        })
}

fn create_job_pod(cluster: &ClusterSim, job: &Value, fail: bool) -> bool {
    let name = format!("{}-{}", name_of(job), random_suffix(5));
    let mut pod = new_pod(job, &job["spec"]["template"], &name);
    pod["metadata"]["generateName"] = json!(format!("{}-", name_of(job)));
    let labels = &mut pod["metadata"]["labels"];
    for key in ["batch.kubernetes.io/controller-uid", "controller-uid"] {
        labels[key] = json!(uid_of(job));
    }
    for key in ["batch.kubernetes.io/job-name", "job-name"] {
        labels[key] = json!(name_of(job));
    }
    if pod["spec"]["restartPolicy"] == "Always" {
        pod["spec"]["restartPolicy"] = json!("Never");
    }
    if fail {
        pod["metadata"]["annotations"][FAIL_POD] = json!("true");
    }
    let created = create_pod(cluster, pod);
    if created {
        normal_event(
            cluster,
            job,
            "SuccessfulCreate",
            &format!("Created pod: {name}"),
        );
    }
    created
}

// ---------------------------------------------------------------------------------------
// CronJobs

/// CronJob → Jobs named `<cronjob>-<unix minutes>` at each scheduled minute, with the
/// history limits of the real controller.
#[derive(Debug, Default)]
pub struct CronJobs {
    pacer: Pacer,
}

impl Controller for CronJobs {
    fn name(&self) -> &'static str {
        "cronjobs"
    }

    fn reconcile(&self, cluster: &ClusterSim, _fleet: &dyn FleetOps) -> bool {
        reconcile_owners(
            &self.pacer,
            cluster,
            (*ids::CRONJOBS, *ids::JOBS),
            sync_cronjob,
        )
    }
}

fn object_ref(o: &Value) -> Value {
    json!({
        "apiVersion": o["apiVersion"],
        "kind": o["kind"],
        "name": name_of(o),
        "namespace": namespace_of(o),
        "uid": uid_of(o),
        "resourceVersion": o["metadata"]["resourceVersion"],
    })
}

fn sync_cronjob(cluster: &ClusterSim, cj: &Obj, jobs: &[&Obj], pass: &mut Pass) -> bool {
    let mut jobs: Vec<&Obj> = jobs
        .iter()
        .copied()
        .filter(|j| !is_terminating(j))
        .collect();
    sort_by_age(&mut jobs);
    let mut changed = false;
    let active: Vec<&Obj> = jobs
        .iter()
        .copied()
        .filter(|j| job_finished(j).is_none())
        .collect();
    let mut active_refs: Vec<Value> = active.iter().map(|j| object_ref(j)).collect();
    let mut last_schedule = cj["status"]["lastScheduleTime"]
        .as_str()
        .and_then(parse_time);
    let schedule = Schedule::parse(
        cj["spec"]["schedule"].as_str().unwrap_or(""),
        cj["spec"]["timeZone"].as_str(),
    );
    if let (Ok(schedule), false) = (&schedule, cj["spec"]["suspend"] == true) {
        let earliest = last_schedule.or_else(|| created(cj)).unwrap_or(pass.now);
        if let Some(due) = schedule.latest_between(earliest, pass.now) {
            let deadline = cj["spec"]["startingDeadlineSeconds"]
                .as_i64()
                .map(Duration::seconds);
            let too_late = deadline.is_some_and(|d| pass.now - due > d);
            let policy = cj["spec"]["concurrencyPolicy"].as_str().unwrap_or("Allow");
            if too_late {
                last_schedule = Some(due);
            } else if policy == "Forbid" && !active.is_empty() {
                // Not started, and not marked as scheduled: it runs when the active Job ends.
            } else {
                if policy == "Replace" {
                    changed |= delete_all(&cluster.store, *ids::JOBS, &active);
                    active_refs.clear();
                }
                if let Some(job) = create_scheduled_job(cluster, cj, due) {
                    active_refs.push(object_ref(&job));
                    changed = true;
                }
                last_schedule = Some(due);
            }
        }
        if let Some(next) = schedule.next_after(pass.now) {
            pass.wake_at(next);
        }
    }
    changed |= trim_history(cluster, cj, &jobs);
    let mut status = json!({});
    if !active_refs.is_empty() {
        status["active"] = Value::Array(active_refs);
    }
    if let Some(t) = last_schedule {
        status["lastScheduleTime"] = json!(k8s_time(t));
    }
    let last_success = jobs
        .iter()
        .filter(|j| job_finished(j) == Some("Complete"))
        .filter_map(|j| j["status"]["completionTime"].as_str().and_then(parse_time))
        .chain(
            cj["status"]["lastSuccessfulTime"]
                .as_str()
                .and_then(parse_time),
        )
        .max();
    if let Some(t) = last_success {
        status["lastSuccessfulTime"] = json!(k8s_time(t));
    }
    changed | write_status(&cluster.store, *ids::CRONJOBS, cj, status)
}

fn create_scheduled_job(cluster: &ClusterSim, cj: &Value, due: DateTime<Utc>) -> Option<Obj> {
    let ns = namespace_of(cj);
    if namespace_terminating(cluster, ns) {
        return None;
    }
    let name = format!("{}-{}", name_of(cj), due.timestamp().div_euclid(60));
    let tmpl = &cj["spec"]["jobTemplate"];
    let mut meta = json!({
        "name": name,
        "namespace": ns,
        "labels": tmpl["metadata"]["labels"].as_object().cloned().unwrap_or_default(),
        "annotations": tmpl["metadata"]["annotations"].as_object().cloned().unwrap_or_default(),
        "ownerReferences": [owner_ref(cj)],
    });
    meta["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] =
        json!(due.to_rfc3339());
    if annotation(cj, FAIL_JOBS) == Some("true") {
        meta["annotations"][FAIL_JOBS] = json!("true");
    }
    let job = json!({"metadata": meta, "spec": tmpl["spec"]});
    match cluster.store.create(*ids::JOBS, job) {
        Ok(job) => {
            normal_event(
                cluster,
                cj,
                "SuccessfulCreate",
                &format!("Created job {name}"),
            );
            Some(job)
        }
        // Already created for this minute (a retried pass): nothing new.
        Err(_) => None,
    }
}

/// Deletes the oldest finished Jobs beyond `successfulJobsHistoryLimit` (3) and
/// `failedJobsHistoryLimit` (1); their pods follow through garbage collection.
fn trim_history(cluster: &ClusterSim, cj: &Value, jobs: &[&Obj]) -> bool {
    let mut changed = false;
    for (outcome, field, default) in [
        ("Complete", "successfulJobsHistoryLimit", 3),
        ("Failed", "failedJobsHistoryLimit", 1),
    ] {
        let limit = cj["spec"][field].as_i64().unwrap_or(default).max(0) as usize;
        let done: Vec<&&Obj> = jobs
            .iter()
            .filter(|j| job_finished(j) == Some(outcome))
            .collect();
        for j in done.iter().take(done.len().saturating_sub(limit)) {
            if delete(&cluster.store, *ids::JOBS, j) {
                changed = true;
                normal_event(
                    cluster,
                    cj,
                    "SuccessfulDelete",
                    &format!("Deleted job {}", name_of(j)),
                );
            }
        }
    }
    changed
}

// ---------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use chrono::TimeZone;

    use super::*;
    use crate::controllers::testkit::*;
    use crate::labels::selector_matches;
    use crate::store::DeleteOptions;
    use crate::store::Part;

    fn get(c: &ClusterSim, kind: KindId, name: &str) -> Obj {
        c.store.get(kind, "default", name).unwrap()
    }

    fn set_replicas(c: &ClusterSim, name: &str, n: i64) {
        edit(c, *ids::DEPLOYMENTS, "default", name, |next| {
            next["spec"]["replicas"] = json!(n);
        });
    }

    #[test]
    fn deployment_reaches_replicas_and_reports_status() {
        let c = cluster(3);
        let ctl = controllers();
        c.store
            .create(*ids::DEPLOYMENTS, deployment("web", 3))
            .unwrap();
        settle(&c, &ctl);
        assert_eq!(running(&c, "web-"), 3);
        let d = get(&c, *ids::DEPLOYMENTS, "web");
        let s = &d["status"];
        assert_eq!(
            (
                s["replicas"].as_i64(),
                s["readyReplicas"].as_i64(),
                s["availableReplicas"].as_i64()
            ),
            (Some(3), Some(3), Some(3))
        );
        assert_eq!(s["updatedReplicas"], 3);
        assert!(s.get("unavailableReplicas").is_none());
        assert_eq!(s["observedGeneration"], 1);
        assert_eq!(
            find_condition(&s["conditions"], "Available").unwrap()["reason"],
            "MinimumReplicasAvailable"
        );
        assert_eq!(
            find_condition(&s["conditions"], "Progressing").unwrap()["reason"],
            "NewReplicaSetAvailable"
        );
        assert_eq!(d["metadata"]["annotations"][REVISION], "1");
        let (rss, _) = c.store.list(*ids::REPLICASETS, None);
        assert_eq!(rss.len(), 1);
        let rs = &rss[0];
        let hash = template_hash(&d["spec"]["template"]);
        assert_eq!(hash.len(), 10);
        assert_eq!(name_of(rs), format!("web-{hash}"));
        assert_eq!(rs["metadata"]["labels"][POD_TEMPLATE_HASH], hash.as_str());
        assert_eq!(rs["metadata"]["ownerReferences"][0]["controller"], true);
        assert_eq!(
            rs["metadata"]["ownerReferences"][0]["blockOwnerDeletion"],
            true
        );
        assert_eq!(rs["status"]["fullyLabeledReplicas"], 3);
        for p in pods_of(&c, "web-") {
            assert_eq!(p["metadata"]["labels"][POD_TEMPLATE_HASH], hash.as_str());
            assert_eq!(p["metadata"]["ownerReferences"][0]["uid"], uid_of(rs));
            assert_eq!(name_of(&p).len(), format!("web-{hash}-").len() + 5);
            assert!(
                !p["spec"]["nodeName"].as_str().unwrap().starts_with("cp-"),
                "control plane is tainted"
            );
        }
        assert_eq!(
            settle_n(&c, &ctl, 10),
            0,
            "a settled cluster writes nothing"
        );
    }

    #[test]
    fn scaling_up_and_down() {
        let c = cluster(3);
        let ctl = controllers();
        c.store
            .create(*ids::DEPLOYMENTS, deployment("web", 3))
            .unwrap();
        settle(&c, &ctl);
        set_replicas(&c, "web", 5);
        settle(&c, &ctl);
        assert_eq!(running(&c, "web-"), 5);
        assert_eq!(
            get(&c, *ids::DEPLOYMENTS, "web")["status"]["availableReplicas"],
            5
        );
        set_replicas(&c, "web", 1);
        settle(&c, &ctl);
        assert_eq!(pods_of(&c, "web-").len(), 1);
        let d = get(&c, *ids::DEPLOYMENTS, "web");
        assert_eq!(
            (
                d["status"]["replicas"].as_i64(),
                d["status"]["availableReplicas"].as_i64()
            ),
            (Some(1), Some(1))
        );
        assert_eq!(d["status"]["observedGeneration"], 3);
        // Out of boot, scaling is announced as events.
        c.booting.store(false, Ordering::Relaxed);
        set_replicas(&c, "web", 2);
        settle(&c, &ctl);
        let (events, _) = c.store.list(*ids::EVENTS, Some("default"));
        let scaled = events
            .iter()
            .find(|e| e["reason"] == "ScalingReplicaSet")
            .expect("ScalingReplicaSet event");
        assert!(scaled["message"].as_str().unwrap().ends_with("from 1 to 2"));
        assert_eq!(scaled["source"]["component"], "deployment-controller");
    }

    #[test]
    fn template_change_rolls_to_a_new_replica_set_stepwise() {
        let c = cluster(3);
        let ctl = controllers();
        c.store
            .create(*ids::DEPLOYMENTS, deployment("web", 4))
            .unwrap();
        settle(&c, &ctl);
        let old_hash = template_hash(&get(&c, *ids::DEPLOYMENTS, "web")["spec"]["template"]);
        edit(&c, *ids::DEPLOYMENTS, "default", "web", |next| {
            next["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.28");
        });
        // Watch every pass: never more than replicas + maxSurge (1) pods, never fewer
        // than replicas - maxUnavailable (1) available.
        let mut passes = 0;
        loop {
            let mut changed = false;
            for k in &ctl {
                changed |= k.reconcile(&c, &NoFleet);
            }
            let live: Vec<_> = pods_of(&c, "web-")
                .into_iter()
                .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
                .collect();
            assert!(live.len() <= 5, "surge exceeded: {}", live.len());
            let ready = live.iter().filter(|p| is_ready(p)).count();
            assert!(ready >= 3, "too many unavailable: {ready}");
            passes += 1;
            if !changed || passes > 200 {
                break;
            }
        }
        let d = get(&c, *ids::DEPLOYMENTS, "web");
        let new_hash = template_hash(&d["spec"]["template"]);
        assert_ne!(old_hash, new_hash);
        let pods = pods_of(&c, "web-");
        assert_eq!(pods.len(), 4);
        assert!(
            pods.iter()
                .all(|p| p["metadata"]["labels"][POD_TEMPLATE_HASH] == new_hash.as_str())
        );
        assert!(
            pods.iter()
                .all(|p| p["spec"]["containers"][0]["image"] == "nginx:1.28")
        );
        let old = get(&c, *ids::REPLICASETS, &format!("web-{old_hash}"));
        assert_eq!(old["spec"]["replicas"], 0);
        let new = get(&c, *ids::REPLICASETS, &format!("web-{new_hash}"));
        assert_eq!(new["metadata"]["annotations"][REVISION], "2");
        assert_eq!(d["metadata"]["annotations"][REVISION], "2");
        assert_eq!(d["status"]["updatedReplicas"], 4);
        assert_eq!(
            find_condition(&d["status"]["conditions"], "Progressing").unwrap()["reason"],
            "NewReplicaSetAvailable"
        );
    }

    #[test]
    fn rollout_plan_surges_and_respects_availability() {
        let s = Strategy {
            replicas: 4,
            max_surge: 1,
            max_unavailable: 1,
            recreate: false,
        };
        let old = RsState {
            spec: 4,
            available: 4,
            pods: 4,
        };
        // Fresh rollout: surge one new pod, and drop one old pod (4 available, 3 needed).
        assert_eq!(plan_rollout(s, RsState::default(), &[old]), (1, vec![3]));
        // Plain scale with nothing old.
        assert_eq!(
            plan_rollout(
                s,
                RsState {
                    spec: 2,
                    available: 2,
                    pods: 2
                },
                &[]
            ),
            (4, vec![])
        );
        // Old pods that are unavailable go first, regardless of the budget.
        let sick = RsState {
            spec: 4,
            available: 1,
            pods: 4,
        };
        assert_eq!(
            plan_rollout(
                s,
                RsState {
                    spec: 1,
                    available: 0,
                    pods: 1
                },
                &[sick]
            )
            .1,
            vec![3]
        );
        let recreate = Strategy {
            recreate: true,
            ..s
        };
        assert_eq!(
            plan_rollout(recreate, RsState::default(), &[old]),
            (0, vec![0])
        );
        assert_eq!(
            plan_rollout(recreate, RsState::default(), &[RsState::default()]),
            (4, vec![0])
        );
    }

    #[test]
    fn deleted_pod_is_recreated_by_its_replica_set() {
        let c = cluster(2);
        let ctl = controllers();
        c.store
            .create(*ids::DEPLOYMENTS, deployment("web", 2))
            .unwrap();
        settle(&c, &ctl);
        let victim = pods_of(&c, "web-")[0].clone();
        c.store
            .delete(
                *ids::PODS,
                "default",
                name_of(&victim),
                DeleteOptions {
                    grace_period_seconds: Some(0),
                },
            )
            .unwrap();
        settle(&c, &ctl);
        let pods = pods_of(&c, "web-");
        assert_eq!(pods.len(), 2);
        assert!(pods.iter().all(|p| name_of(p) != name_of(&victim)));
        assert_eq!(running(&c, "web-"), 2);
    }

    #[test]
    fn statefulset_creates_ordinals_in_order_with_claims() {
        let c = cluster(2);
        let ctl = controllers();
        let sts = json!({
            "metadata": {"name": "db", "namespace": "default"},
            "spec": {
                "replicas": 3, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}}, "template": template("db"),
                "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}],
            },
        });
        c.store.create(*ids::STATEFULSETS, sts).unwrap();
        // OrderedReady: the first pass creates db-0 only.
        StatefulSets::default().reconcile(&c, &NoFleet);
        assert_eq!(
            pods_of(&c, "db-")
                .iter()
                .map(|p| name_of(p).to_string())
                .collect::<Vec<_>>(),
            ["db-0"]
        );
        settle(&c, &ctl);
        let names: Vec<String> = pods_of(&c, "db-")
            .iter()
            .map(|p| name_of(p).to_string())
            .collect();
        assert_eq!(names, ["db-0", "db-1", "db-2"]);
        assert!(
            c.store
                .get(*ids::PVCS, "default", "data-db-2")
                .is_some_and(|p| p["status"]["phase"] == "Bound")
        );
        let s = &get(&c, *ids::STATEFULSETS, "db")["status"];
        assert_eq!(
            (
                s["replicas"].as_i64(),
                s["readyReplicas"].as_i64(),
                s["currentReplicas"].as_i64(),
                s["updatedReplicas"].as_i64(),
                s["availableReplicas"].as_i64()
            ),
            (Some(3), Some(3), Some(3), Some(3), Some(3))
        );
        edit(&c, *ids::STATEFULSETS, "default", "db", |next| {
            next["spec"]["replicas"] = json!(1);
        });
        settle(&c, &ctl);
        assert_eq!(pods_of(&c, "db-").len(), 1);
        assert_eq!(get(&c, *ids::STATEFULSETS, "db")["status"]["replicas"], 1);
    }

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

    #[test]
    fn job_runs_to_completion() {
        let c = cluster_at(start(), 200.0, 2);
        c.booting.store(false, Ordering::Relaxed);
        let ctl = controllers();
        let mut t = template("once");
        t["spec"]["restartPolicy"] = json!("Never");
        c.store
            .create(*ids::JOBS, json!({"metadata": {"name": "once", "namespace": "default"}, "spec": {"template": t, "completions": 2}}))
            .unwrap();
        run_until(&c, &ctl, 5_000, |c| {
            get(c, *ids::JOBS, "once")["status"]["succeeded"] == 2
                && job_finished(&get(c, *ids::JOBS, "once")).is_some()
        });
        let job = get(&c, *ids::JOBS, "once");
        assert_eq!(job_finished(&job), Some("Complete"));
        assert!(
            job["status"]["completionTime"].is_string() && job["status"]["startTime"].is_string()
        );
        assert!(job["status"].get("active").is_none());
        let pods = pods_of(&c, "once-");
        assert_eq!(pods.len(), 2);
        for p in &pods {
            assert_eq!(p["status"]["phase"], "Succeeded");
            assert_eq!(
                p["status"]["containerStatuses"][0]["state"]["terminated"]["reason"],
                "Completed"
            );
            assert_eq!(p["metadata"]["labels"]["job-name"], "once");
        }
    }

    fn cronjob(name: &str, schedule: &str) -> Value {
        let mut t = template(name);
        t["spec"]["restartPolicy"] = json!("OnFailure");
        json!({
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"schedule": schedule, "jobTemplate": {"spec": {"backoffLimit": 1, "template": t}}},
        })
    }

    #[test]
    fn cronjob_creates_a_job_at_its_minute() {
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 0, 29, 0).unwrap();
        let c = cluster_at(at, 100.0, 1);
        let ctl = controllers();
        c.store
            .create(*ids::CRONJOBS, cronjob("backup", "30 0 * * *"))
            .unwrap();
        settle(&c, &ctl);
        assert_eq!(c.store.count(*ids::JOBS), 0, "not before its minute");
        let due = Utc.with_ymd_and_hms(2026, 11, 25, 0, 30, 0).unwrap();
        let job_name = format!("backup-{}", due.timestamp() / 60);
        run_until(&c, &ctl, 3_000, |c| {
            c.store.get(*ids::JOBS, "default", &job_name).is_some()
        });
        settle(&c, &ctl);
        let cj = get(&c, *ids::CRONJOBS, "backup");
        assert_eq!(cj["status"]["lastScheduleTime"], "2026-11-25T00:30:00Z");
        let job = get(&c, *ids::JOBS, &job_name);
        assert_eq!(job["metadata"]["ownerReferences"][0]["kind"], "CronJob");
        assert_eq!(
            job_finished(&job),
            Some("Complete"),
            "booting: the job ran at once"
        );
        assert_eq!(
            cj["status"]["lastSuccessfulTime"],
            job["status"]["completionTime"]
        );
    }

    #[test]
    fn flagged_cronjob_jobs_fail_with_backoff_limit_exceeded() {
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 0, 29, 59).unwrap();
        let c = cluster_at(at, 60.0, 1);
        let ctl = controllers();
        let mut cj = cronjob("harbor-backup-cronjob", "30 0 * * *");
        cj["metadata"]["annotations"] = json!({FAIL_JOBS: "true"});
        c.store.create(*ids::CRONJOBS, cj).unwrap();
        run_until(&c, &ctl, 3_000, |c| {
            let (jobs, _) = c.store.list(*ids::JOBS, None);
            jobs.iter().any(|j| job_finished(j) == Some("Failed"))
        });
        let (jobs, _) = c.store.list(*ids::JOBS, None);
        let job = &jobs[0];
        let failed = find_condition(&job["status"]["conditions"], "Failed").unwrap();
        assert_eq!(failed["reason"], "BackoffLimitExceeded");
        assert_eq!(
            job["status"]["failed"], 2,
            "backoffLimit 1 allows one retry"
        );
        let pods = pods_of(&c, name_of(job));
        assert!(pods.iter().all(|p| p["status"]["phase"] == "Failed"));
        settle(&c, &ctl);
        assert!(
            get(&c, *ids::CRONJOBS, "harbor-backup-cronjob")["status"]
                .get("lastSuccessfulTime")
                .is_none()
        );
    }

    #[test]
    fn cronjob_history_is_trimmed() {
        let c = cluster(1);
        let ctl = controllers();
        c.store
            .create(*ids::CRONJOBS, cronjob("tick", "* * * * *"))
            .unwrap();
        let cj = get(&c, *ids::CRONJOBS, "tick");
        // Jobs of earlier minutes, all complete.
        for m in 1..=5 {
            let due = start() - Duration::minutes(m);
            create_scheduled_job(&c, &cj, due).unwrap();
        }
        settle(&c, &ctl);
        let (jobs, _) = c.store.list(*ids::JOBS, None);
        assert_eq!(jobs.len(), 3, "successfulJobsHistoryLimit");
    }

    /// Scale check, not a timed assertion: `cargo test --lib scale_pass_cost -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn scale_pass_cost() {
        let c = cluster(37);
        let ctl = controllers();
        for i in 0..300 {
            let mut d = deployment(&format!("app{i}"), 50);
            d["metadata"]["name"] = json!(format!("app{i}"));
            c.store.create(*ids::DEPLOYMENTS, d).unwrap();
        }
        let t = std::time::Instant::now();
        let passes = settle_n(&c, &ctl, 2000);
        println!(
            "boot: {} pods in {:?} over {passes} passes",
            c.store.count(*ids::PODS),
            t.elapsed()
        );
        c.booting.store(false, Ordering::Relaxed);
        let t = std::time::Instant::now();
        for k in &ctl {
            k.reconcile(&c, &NoFleet);
        }
        println!("idle pass: {:?}", t.elapsed());
        let t = std::time::Instant::now();
        let (pods, _) = c.store.list(*ids::PODS, None);
        let index = index_by_controller(&pods);
        println!(
            "list + index of {} pods: {:?} ({} owners)",
            pods.len(),
            t.elapsed(),
            index.len()
        );
        // One unrelated write forces every controller through a full pass.
        c.store
            .create(
                *ids::CONFIGMAPS,
                json!({"metadata": {"name": "poke", "namespace": "default"}}),
            )
            .unwrap();
        for k in &ctl {
            let t = std::time::Instant::now();
            k.reconcile(&c, &NoFleet);
            println!("{:>18}: {:?}", k.name(), t.elapsed());
        }
    }

    #[test]
    fn selectors_and_percentages() {
        let labels = json!({"app": "web", "tier": "front"});
        assert!(selector_matches(&json!({}), &labels));
        assert!(!selector_matches(&Value::Null, &labels));
        assert!(selector_matches(
            &json!({"matchLabels": {"app": "web"}}),
            &labels
        ));
        assert!(!selector_matches(
            &json!({"matchLabels": {"app": "db"}}),
            &labels
        ));
        let expr = json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "back"]}, {"key": "canary", "operator": "DoesNotExist"}]});
        assert!(selector_matches(&expr, &labels));
        assert_eq!(scaled(&json!("25%"), 10, true), Some(3));
        assert_eq!(scaled(&json!("25%"), 10, false), Some(2));
        assert_eq!(scaled(&json!(2), 10, false), Some(2));
        assert_eq!(scaled(&json!("3"), 10, false), Some(3));
    }

    #[test]
    fn status_only_updates_keep_spec_untouched() {
        // Status writes go through replace; a main update must not clobber them.
        let c = cluster(1);
        let ctl = controllers();
        c.store
            .create(*ids::DEPLOYMENTS, deployment("web", 1))
            .unwrap();
        settle(&c, &ctl);
        let d = get(&c, *ids::DEPLOYMENTS, "web");
        let mut v = (*d).clone();
        v["status"] = json!({});
        c.store.update(*ids::DEPLOYMENTS, v, Part::Main).unwrap();
        assert_eq!(get(&c, *ids::DEPLOYMENTS, "web")["status"], d["status"]);
    }
}
