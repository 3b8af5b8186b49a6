//! Workload controllers: Deployment → ReplicaSet → Pod, StatefulSet, DaemonSet, Job and
//! CronJob, as the real kube-controller-manager runs them (simplified, but stepwise: a
//! rollout surges and drains pod by pod, a StatefulSet waits for each ordinal).
//!
//! Ownership is tracked through `ownerReferences` (controller=true), not by selector
//! adoption, so every pass indexes the dependents by owner uid once.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::Controller;
use super::objects::{created, index_by_controller, is_terminating, safe_encode};
use super::pacing::{Pacer, Pass};
use crate::cluster::ClusterSim;
use crate::hash::feed;
use crate::registry::{KindId, ids};
use crate::store::{Obj, name_of, uid_of};

mod cronjobs;
mod daemonsets;
mod deployments;
mod jobs;
mod pod_template;
mod replicasets;
mod statefulsets;

/// Label tying StatefulSet and DaemonSet pods to a template revision.
pub const REVISION_HASH: &str = "controller-revision-hash";
/// CronJob (or Job) annotation: pods of its new Jobs fail, for backup-failure drills.
pub const FAIL_JOBS: &str = "sim.ck8s.io/fail-jobs";
/// Pods a controller creates in one pass at most, like the real slow-start burst.
const BURST: i64 = 500;

/// The workload controllers, in the order a pass runs them.
pub fn all() -> Vec<Box<dyn Controller>> {
    vec![
        Box::new(deployments::Deployments::default()),
        Box::new(replicasets::ReplicaSets::default()),
        Box::new(statefulsets::StatefulSets::default()),
        Box::new(daemonsets::DaemonSets::default()),
        Box::new(cronjobs::CronJobs::default()),
        Box::new(jobs::Jobs::default()),
    ]
}

// ---- Shared by the workload controllers ----

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

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::controllers::testkit::*;

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
}
