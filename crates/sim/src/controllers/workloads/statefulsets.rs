//! StatefulSet → Pods `<name>-<ordinal>` with their PersistentVolumeClaims, created in
//! order and rolled from the highest ordinal.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::pod_template::{create_pod, new_pod};
use super::{REVISION_HASH, namespace_terminating, put_nonzero, reconcile_owners, template_hash};
use crate::cluster::{ClusterSim, FleetOps};
use crate::controllers::Controller;
use crate::controllers::objects::{delete, is_terminating, replicas_of, write_status};
use crate::controllers::pacing::{Pacer, Pass};
use crate::controllers::readiness::{is_active, is_ready};
use crate::hash::fnv64;
use crate::registry::ids;
use crate::store::{Obj, name_of, namespace_of};

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

#[cfg(test)]
mod tests {

    use super::*;
    use crate::controllers::testkit::*;

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
}
