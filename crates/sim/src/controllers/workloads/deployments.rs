//! Deployment → ReplicaSets: one ReplicaSet per pod template, rolled over stepwise as
//! the real `reconcileNewReplicaSet` and `reconcileOldReplicaSets` do.

use chrono::Duration;
use serde_json::{Value, json};

use super::{put_nonzero, reconcile_owners, sort_by_age, status_count, template_hash};
use crate::clock::parse_time;
use crate::cluster::{ClusterSim, FleetOps};
use crate::controllers::Controller;
use crate::controllers::events::normal_event;
use crate::controllers::objects::{
    annotation, condition, delete_all, find_condition, is_terminating, owner_ref, patch,
    replicas_of, scaled,
};
use crate::controllers::pacing::{Pacer, Pass};
use crate::registry::ids;
use crate::store::{Obj, name_of, namespace_of};

/// Label tying a ReplicaSet and its pods to one Deployment template.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";
const REVISION: &str = "deployment.kubernetes.io/revision";
const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";

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

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::controllers::readiness::is_ready;
    use crate::controllers::testkit::*;
    use crate::store::Part;
    use crate::store::uid_of;

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
