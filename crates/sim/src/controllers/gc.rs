//! Garbage collection: dependents whose owners are all gone are deleted (background
//! propagation); an owner deleted in the foreground waits, with its `foregroundDeletion`
//! finalizer, until its dependents are deleted and gone, and one deleted with `Orphan`
//! lets its dependents go (their owner reference to it removed) before its `orphan`
//! finalizer is; a terminating Namespace is emptied and then released from its
//! `kubernetes` finalizer, and Events expire after an hour as with the real apiserver.

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::Controller;
use super::objects::{delete, is_terminating, patch};
use super::pacing::{Pacer, Pass};
use crate::clock::parse_time;
use crate::cluster::{ClusterSim, FleetOps};
use crate::registry::{KINDS, KindId, find_kind, ids};
use crate::store::{DeleteOptions, Obj, Propagation, name_of, namespace_of, uid_of};

/// Events are dropped this long after they last happened (the apiserver's event TTL).
const EVENT_TTL: Duration = Duration::hours(1);
/// Expired events are looked for at most this often.
const SWEEP_EVERY: Duration = Duration::minutes(1);
const NAMESPACE_FINALIZER: &str = "kubernetes";

#[derive(Debug, Default)]
pub struct GarbageCollector {
    /// Skips a pass when the store has not changed (and no event sweep is due).
    pacer: Pacer,
    last_sweep_ms: AtomicI64,
}

impl Controller for GarbageCollector {
    fn name(&self) -> &'static str {
        "garbage-collector"
    }

    fn reconcile(&self, cluster: &ClusterSim, _fleet: &dyn FleetOps) -> bool {
        self.pacer.run(cluster, |pass| {
            // Dependents are listed before the uid set is built, so an owner created after
            // its dependent was listed is still seen alive.
            let lists: Vec<(KindId, Vec<Obj>)> = stored_kinds()
                .map(|k| (k, cluster.store.list(k, None).0))
                .collect();
            let mut changed = self.collect_orphans(cluster, &lists);
            changed |= propagate(cluster, &lists);
            let (namespaces, _) = cluster.store.list(*ids::NAMESPACES, None);
            for ns in namespaces.iter().filter(|n| is_terminating(n)) {
                changed |= drain_namespace(cluster, ns);
            }
            changed | self.sweep_events(cluster, pass)
        })
    }
}

fn stored_kinds() -> impl Iterator<Item = KindId> {
    (0..KINDS.len()).filter(|k| !KINDS[*k].virtual_create)
}

impl GarbageCollector {
    fn collect_orphans(&self, cluster: &ClusterSim, lists: &[(KindId, Vec<Obj>)]) -> bool {
        let dependents: Vec<(KindId, &Obj)> = lists
            .iter()
            .flat_map(|(k, objs)| objs.iter().map(move |o| (*k, o)))
            .filter(|(_, o)| has_owners(o) && !is_terminating(o))
            .collect();
        if dependents.is_empty() {
            return false;
        }
        let live: HashSet<&str> = lists
            .iter()
            .flat_map(|(_, objs)| objs.iter().map(|o| uid_of(o)))
            .collect();
        let mut changed = false;
        for (kind, obj) in dependents {
            let refs = obj["metadata"]["ownerReferences"]
                .as_array()
                .map_or(&[][..], Vec::as_slice);
            let orphaned = refs
                .iter()
                .all(|r| !live.contains(r["uid"].as_str().unwrap_or("")));
            // Check again against the store before deleting: the lists above are not
            // one snapshot.
            if orphaned && refs.iter().all(|r| !owner_exists(cluster, obj, r)) {
                changed |= delete(&cluster.store, kind, obj);
            }
        }
        changed
    }

    fn sweep_events(&self, cluster: &ClusterSim, pass: &mut Pass) -> bool {
        let now = pass.now;
        let last = DateTime::from_timestamp_millis(self.last_sweep_ms.load(Ordering::Relaxed))
            .unwrap_or(DateTime::UNIX_EPOCH);
        if now < last + SWEEP_EVERY {
            pass.wake_at(last + SWEEP_EVERY);
            return false;
        }
        self.last_sweep_ms
            .store(now.timestamp_millis(), Ordering::Relaxed);
        pass.wake_at(now + SWEEP_EVERY);
        let (events, _) = cluster.store.list(*ids::EVENTS, None);
        let mut changed = false;
        for e in events
            .iter()
            .filter(|e| last_seen(e).is_some_and(|t| now >= t + EVENT_TTL))
        {
            changed |= delete(&cluster.store, *ids::EVENTS, e);
        }
        changed
    }
}

/// Owners deleted in the foreground or with Orphan: their dependents deleted (and waited
/// for) or let go, then the owner's own finalizer removed, so the store lets it go.
fn propagate(cluster: &ClusterSim, lists: &[(KindId, Vec<Obj>)]) -> bool {
    fn held(f: &'static str) -> impl Fn(&&Obj) -> bool {
        move |o| {
            is_terminating(o)
                && o["metadata"]["finalizers"]
                    .as_array()
                    .is_some_and(|l| l.iter().any(|x| x == f))
        }
    }
    let mut changed = false;
    for (kind, objs) in lists {
        for owner in objs.iter().filter(held(FOREGROUND)) {
            let dependents = dependents_of(lists, uid_of(owner));
            for (k, d) in dependents.iter().filter(|(_, d)| !is_terminating(d)) {
                // A dependent with dependents of its own goes in the foreground too (a
                // Deployment's ReplicaSet waits for its pods), as the real collector
                // deletes those that block their owner's deletion.
                let opts = DeleteOptions {
                    propagation: (!dependents_of(lists, uid_of(d)).is_empty())
                        .then_some(Propagation::Foreground),
                    ..DeleteOptions::default()
                };
                changed |= cluster
                    .store
                    .delete(*k, namespace_of(d), name_of(d), opts)
                    .is_ok();
            }
            // Only dependents that block their owner's deletion are waited for.
            let blocking = dependents.iter().any(|(_, d)| {
                d["metadata"]["ownerReferences"]
                    .as_array()
                    .is_some_and(|refs| {
                        refs.iter()
                            .any(|r| r["uid"] == uid_of(owner) && r["blockOwnerDeletion"] == true)
                    })
            });
            if !blocking {
                changed |= drop_finalizer(cluster, *kind, owner, FOREGROUND);
            }
        }
        for owner in objs.iter().filter(held(ORPHAN)) {
            let uid = uid_of(owner).to_owned();
            for (k, d) in dependents_of(lists, &uid) {
                changed |= patch(&cluster.store, k, d, |o| {
                    if let Some(refs) = o["metadata"]["ownerReferences"].as_array_mut() {
                        refs.retain(|r| r["uid"] != uid.as_str());
                    }
                    // With none left the field goes, as the apiserver leaves it out.
                    if o["metadata"]["ownerReferences"]
                        .as_array()
                        .is_some_and(Vec::is_empty)
                        && let Some(m) = o["metadata"].as_object_mut()
                    {
                        m.remove("ownerReferences");
                    }
                })
                .is_some();
            }
            changed |= drop_finalizer(cluster, *kind, owner, ORPHAN);
        }
    }
    changed
}

const FOREGROUND: &str = "foregroundDeletion";
const ORPHAN: &str = "orphan";

/// The objects with an owner reference to `uid`.
fn dependents_of<'a>(lists: &'a [(KindId, Vec<Obj>)], uid: &str) -> Vec<(KindId, &'a Obj)> {
    lists
        .iter()
        .flat_map(|(k, objs)| objs.iter().map(move |o| (*k, o)))
        .filter(|(_, o)| {
            o["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid))
        })
        .collect()
}

/// Removes `finalizer` from `obj`; with none left, the store deletes it.
fn drop_finalizer(cluster: &ClusterSim, kind: KindId, obj: &Value, finalizer: &str) -> bool {
    patch(&cluster.store, kind, obj, |o| {
        if let Some(list) = o["metadata"]["finalizers"].as_array_mut() {
            list.retain(|f| f != finalizer);
        }
    })
    .is_some()
}

fn has_owners(obj: &Value) -> bool {
    obj["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|r| !r.is_empty())
}

fn owner_exists(cluster: &ClusterSim, dependent: &Value, owner: &Value) -> bool {
    let group = owner["apiVersion"]
        .as_str()
        .unwrap_or("")
        .rsplit_once('/')
        .map_or("", |(g, _)| g);
    let Some(kind) = find_kind(group, owner["kind"].as_str().unwrap_or("")) else {
        // An owner of a kind this cluster does not serve cannot be checked; keep the
        // dependent rather than guess.
        return true;
    };
    let ns = if KINDS[kind].namespaced {
        namespace_of(dependent)
    } else {
        ""
    };
    cluster
        .store
        .get(kind, ns, owner["name"].as_str().unwrap_or(""))
        .is_some_and(|o| uid_of(&o) == owner["uid"].as_str().unwrap_or(""))
}

fn last_seen(event: &Value) -> Option<DateTime<Utc>> {
    ["lastTimestamp", "eventTime"]
        .iter()
        .find_map(|f| event[*f].as_str().and_then(parse_time))
        .or_else(|| {
            event["metadata"]["creationTimestamp"]
                .as_str()
                .and_then(parse_time)
        })
}

/// Deletes everything in a terminating namespace; once nothing is left, drops the
/// `kubernetes` finalizer so the namespace itself goes.
fn drain_namespace(cluster: &ClusterSim, ns: &Value) -> bool {
    let name = name_of(ns);
    let mut changed = false;
    let mut remaining: Vec<(&str, usize)> = Vec::new();
    for kind in stored_kinds().filter(|k| KINDS[*k].namespaced) {
        let (objs, _) = cluster.store.list(kind, Some(name));
        for o in objs.iter().filter(|o| !is_terminating(o)) {
            changed |= delete(&cluster.store, kind, o);
        }
        let left = cluster.store.list(kind, Some(name)).0.len();
        if left > 0 {
            remaining.push((KINDS[kind].plural, left));
        }
    }
    if remaining.is_empty() {
        return changed | release(cluster, ns);
    }
    let summary: Vec<String> = remaining
        .iter()
        .map(|(p, n)| format!("{p}. has {n} resource instances"))
        .collect();
    let message = format!("Some resources are remaining: {}", summary.join(", "));
    // The `kubernetes` finalizer is still there, so this write cannot finalize it.
    changed
        | patch(&cluster.store, *ids::NAMESPACES, ns, |next| {
            next["status"]["phase"] = json!("Terminating");
            let cond = json!({"type": "NamespaceContentRemaining", "status": "True", "reason": "SomeResourcesRemain", "message": message});
            let keep = next["status"]["conditions"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["type"] == "NamespaceContentRemaining"))
                .is_some_and(|c| c["message"] == cond["message"]);
            if !keep {
                let mut c = cond;
                c["lastTransitionTime"] = next["metadata"]["deletionTimestamp"].clone();
                next["status"]["conditions"] = json!([c]);
            }
        }).is_some()
}

fn release(cluster: &ClusterSim, ns: &Value) -> bool {
    let without = |v: &Value| -> Option<Value> {
        let list = v.as_array()?;
        Some(Value::Array(
            list.iter()
                .filter(|f| *f != NAMESPACE_FINALIZER)
                .cloned()
                .collect(),
        ))
    };
    patch(&cluster.store, *ids::NAMESPACES, ns, |next| {
        for path in [["spec", "finalizers"], ["metadata", "finalizers"]] {
            if let Some(v) = without(&next[path[0]][path[1]]) {
                next[path[0]][path[1]] = v;
            }
        }
    })
    .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::k8s_time;
    use crate::controllers::testkit::*;

    #[test]
    fn pods_of_a_deleted_replica_set_are_collected() {
        let c = cluster(2);
        let ctl = controllers();
        c.store
            .create(*ids::DEPLOYMENTS, deployment("web", 3))
            .unwrap();
        settle(&c, &ctl);
        assert_eq!(pods_of(&c, "web-").len(), 3);
        c.store
            .delete(
                *ids::DEPLOYMENTS,
                "default",
                "web",
                DeleteOptions::default(),
            )
            .unwrap();
        settle(&c, &ctl);
        assert_eq!(c.store.count(*ids::REPLICASETS), 0);
        assert!(pods_of(&c, "web-").is_empty());
    }

    /// Foreground: the Deployment stays, held by its finalizer, while its ReplicaSet (in
    /// the foreground too) waits for its pods; then all are gone.
    #[test]
    fn a_foreground_delete_waits_for_the_dependents() {
        let c = cluster(2);
        let ctl = controllers();
        c.store
            .create(*ids::DEPLOYMENTS, deployment("web", 2))
            .unwrap();
        settle(&c, &ctl);
        let foreground = DeleteOptions {
            propagation: Some(Propagation::Foreground),
            ..DeleteOptions::default()
        };
        let (held, gone) = c
            .store
            .delete(*ids::DEPLOYMENTS, "default", "web", foreground)
            .unwrap();
        assert!(!gone);
        assert_eq!(
            held["metadata"]["finalizers"],
            json!(["foregroundDeletion"])
        );
        assert!(is_terminating(&held));
        settle(&c, &ctl);
        assert!(c.store.get(*ids::DEPLOYMENTS, "default", "web").is_none());
        assert_eq!(c.store.count(*ids::REPLICASETS), 0);
        assert!(pods_of(&c, "web-").is_empty());
    }

    /// Orphan: the ReplicaSet stays and keeps its pods, without its owner reference.
    #[test]
    fn an_orphaning_delete_lets_the_dependents_go() {
        let c = cluster(2);
        let ctl = controllers();
        c.store
            .create(*ids::DEPLOYMENTS, deployment("web", 2))
            .unwrap();
        settle(&c, &ctl);
        let orphan = DeleteOptions {
            propagation: Some(Propagation::Orphan),
            ..DeleteOptions::default()
        };
        c.store
            .delete(*ids::DEPLOYMENTS, "default", "web", orphan)
            .unwrap();
        settle(&c, &ctl);
        assert!(c.store.get(*ids::DEPLOYMENTS, "default", "web").is_none());
        let (sets, _) = c.store.list(*ids::REPLICASETS, Some("default"));
        assert_eq!(sets.len(), 1);
        assert!(
            sets[0]["metadata"].get("ownerReferences").is_none(),
            "{}",
            sets[0]
        );
        assert_eq!(running(&c, "web-"), 2);
    }

    /// Preconditions: a uid or resourceVersion that no longer holds is a 409.
    #[test]
    fn a_delete_with_a_stale_precondition_is_a_conflict() {
        let c = cluster(1);
        c.store
            .create(
                *ids::CONFIGMAPS,
                json!({"metadata": {"name": "cm", "namespace": "default"}}),
            )
            .unwrap();
        for opts in [
            DeleteOptions {
                uid: Some("another".into()),
                ..DeleteOptions::default()
            },
            DeleteOptions {
                resource_version: Some("1".into()),
                ..DeleteOptions::default()
            },
        ] {
            let err = c
                .store
                .delete(*ids::CONFIGMAPS, "default", "cm", opts)
                .unwrap_err();
            assert_eq!(err.code, 409);
            assert!(
                err.message.contains("in the precondition"),
                "{}",
                err.message
            );
        }
        let cm = c.store.get(*ids::CONFIGMAPS, "default", "cm").unwrap();
        let right = DeleteOptions {
            uid: Some(uid_of(&cm).to_owned()),
            resource_version: cm["metadata"]["resourceVersion"]
                .as_str()
                .map(str::to_owned),
            ..DeleteOptions::default()
        };
        assert!(
            c.store
                .delete(*ids::CONFIGMAPS, "default", "cm", right)
                .unwrap()
                .1
        );
    }

    #[test]
    fn pods_of_a_deleted_bare_replica_set_are_collected() {
        let c = cluster(1);
        let ctl = controllers();
        let rs = json!({
            "metadata": {"name": "bare", "namespace": "default"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "bare"}}, "template": template("bare")},
        });
        c.store.create(*ids::REPLICASETS, rs).unwrap();
        settle(&c, &ctl);
        assert_eq!(running(&c, "bare-"), 2);
        c.store
            .delete(
                *ids::REPLICASETS,
                "default",
                "bare",
                DeleteOptions::default(),
            )
            .unwrap();
        settle(&c, &ctl);
        assert!(pods_of(&c, "bare-").is_empty());
    }

    #[test]
    fn unchanged_store_skips_the_pass() {
        let c = cluster(1);
        let gc = GarbageCollector::default();
        gc.reconcile(&c, &NoFleet);
        let rv = c.store.resource_version();
        assert!(
            gc.pacer.begin(&c).is_none(),
            "nothing changed, no sweep due"
        );
        assert_eq!(c.store.resource_version(), rv);
    }

    #[test]
    fn deleting_a_namespace_empties_it_then_removes_it() {
        let c = cluster(2);
        let ctl = controllers();
        c.store
            .create(
                *ids::NAMESPACES,
                json!({"metadata": {"name": "shop"}, "spec": {"finalizers": ["kubernetes"]}}),
            )
            .unwrap();
        let mut d = deployment("web", 2);
        d["metadata"]["namespace"] = json!("shop");
        c.store.create(*ids::DEPLOYMENTS, d).unwrap();
        c.store
            .create(
                *ids::CONFIGMAPS,
                json!({"metadata": {"name": "cfg", "namespace": "shop"}}),
            )
            .unwrap();
        settle(&c, &ctl);
        assert_eq!(c.store.list(*ids::PODS, Some("shop")).0.len(), 2);
        let (ns, gone) = c
            .store
            .delete(*ids::NAMESPACES, "", "shop", DeleteOptions::default())
            .unwrap();
        assert!(
            !gone && is_terminating(&ns),
            "held by the kubernetes finalizer"
        );
        settle(&c, &ctl);
        assert!(c.store.get(*ids::NAMESPACES, "", "shop").is_none());
        for kind in [
            *ids::PODS,
            *ids::REPLICASETS,
            *ids::DEPLOYMENTS,
            *ids::CONFIGMAPS,
        ] {
            assert!(c.store.list(kind, Some("shop")).0.is_empty());
        }
        assert!(c.store.get(*ids::NAMESPACES, "", "default").is_some());
    }

    #[test]
    fn old_events_expire() {
        let c = cluster(1);
        let gc = GarbageCollector::default();
        let old = k8s_time(c.clock.now() - Duration::hours(2));
        c.store.create(*ids::EVENTS, json!({"metadata": {"name": "old.1", "namespace": "default"}, "lastTimestamp": old})).unwrap();
        c.store.create(*ids::EVENTS, json!({"metadata": {"name": "new.1", "namespace": "default"}, "lastTimestamp": k8s_time(c.clock.now())})).unwrap();
        gc.reconcile(&c, &NoFleet);
        let names: Vec<String> = c
            .store
            .list(*ids::EVENTS, None)
            .0
            .iter()
            .map(|e| name_of(e).to_string())
            .collect();
        assert_eq!(names, ["new.1"]);
    }
}
