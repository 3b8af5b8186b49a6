//! ReplicaSet → Pods: creates and deletes pods to match `spec.replicas`, surplus pods
//! chosen as the real controller ranks them.

use std::cmp::Reverse;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::pod_template::{create_pod, new_pod};
use super::{BURST, namespace_terminating, put_nonzero, reconcile_owners};
use crate::cluster::{ClusterSim, FleetOps};
use crate::controllers::Controller;
use crate::controllers::objects::{created, delete, replicas_of, write_status};
use crate::controllers::pacing::{Pacer, Pass};
use crate::controllers::readiness::{is_active, is_ready};
use crate::registry::ids;
use crate::store::{Obj, name_of, namespace_of};

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
            let name = cluster.store.names.child(name_of(rs));
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

fn labels_contain(labels: &Value, wanted: &Value) -> bool {
    wanted
        .as_object()
        .is_none_or(|m| m.iter().all(|(k, v)| labels.get(k) == Some(v)))
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::controllers::testkit::*;
    use crate::store::DeleteOptions;

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
                    ..DeleteOptions::default()
                },
            )
            .unwrap();
        settle(&c, &ctl);
        let pods = pods_of(&c, "web-");
        assert_eq!(pods.len(), 2);
        assert!(pods.iter().all(|p| name_of(p) != name_of(&victim)));
        assert_eq!(running(&c, "web-"), 2);
    }
}
