//! Core/v1 Events, as controllers and the kubelet record them. A repeat (same involved
//! object, reason and message) within ten minutes bumps `count` and `lastTimestamp` of
//! the existing Event, so a crash-looping pod makes one growing Event rather than a
//! stream of new ones. Like the real event correlator, a different message is a new
//! Event, so `kubectl describe` keeps each scaling step of a rollout.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::objects::patch;
use crate::clock::{k8s_time, parse_time};
use crate::cluster::ClusterSim;
use crate::registry::ids;
use crate::store::{name_of, namespace_of, uid_of};

/// A repeat within this window bumps the existing Event instead of creating another.
const DEDUPE_WINDOW: Duration = Duration::minutes(10);

/// Names an involved object and reason may use; when all are taken by older Events,
/// the stalest is reused. Deterministic names make the dedupe lookup a few `get`s
/// instead of a scan over every Event of the namespace.
const SLOTS: u64 = 8;

/// Records an Event about `involved`, with the reporting component the real cluster
/// would name for that kind and reason.
pub fn record(cluster: &ClusterSim, involved: &Value, type_: &str, reason: &str, message: &str) {
    let component = component_for(involved["kind"].as_str().unwrap_or(""), reason);
    record_from(cluster, involved, component, None, type_, reason, message);
}

/// Records a Normal Event, unless the fleet is booting: a fresh simulator must not start
/// with tens of thousands of "Created pod" events.
pub fn normal_event(cluster: &ClusterSim, involved: &Value, reason: &str, message: &str) {
    if !cluster.is_booting() {
        record(cluster, involved, "Normal", reason, message);
    }
}

/// Records an Event with an explicit source (component, and the node for the kubelet).
pub fn record_from(
    cluster: &ClusterSim,
    involved: &Value,
    component: &str,
    host: Option<&str>,
    type_: &str,
    reason: &str,
    message: &str,
) {
    let now = cluster.clock.now();
    let ns = match namespace_of(involved) {
        "" => "default",
        ns => ns,
    };
    let uid = uid_of(involved);
    let names: Vec<String> = (0..SLOTS)
        .map(|s| event_name(involved, reason, message, s))
        .collect();
    let existing: Vec<_> = names
        .iter()
        .map(|n| cluster.store.get(*ids::EVENTS, ns, n))
        .collect();
    let fresh = existing.iter().flatten().find(|e| {
        e["involvedObject"]["uid"] == uid
            && e["reason"] == reason
            && e["message"] == message
            && last_seen(e).is_some_and(|t| now - t <= DEDUPE_WINDOW)
    });
    if let Some(e) = fresh {
        patch(&cluster.store, *ids::EVENTS, e, |next| {
            next["count"] = json!(next["count"].as_i64().unwrap_or(1) + 1);
            next["lastTimestamp"] = json!(k8s_time(now));
            next["involvedObject"]["resourceVersion"] =
                involved["metadata"]["resourceVersion"].clone();
        });
        return;
    }
    let slot = existing
        .iter()
        .position(Option::is_none)
        .unwrap_or_else(|| stalest(&existing));
    let name = &names[slot];
    let event = new_event(
        involved, ns, name, component, host, type_, reason, message, now,
    );
    if existing[slot].is_some() {
        let _ = cluster
            .store
            .delete(*ids::EVENTS, ns, name, Default::default());
    }
    // The namespace may be going away; an Event that cannot be stored is simply lost,
    // as with the real event broadcaster.
    let _ = cluster.store.create(*ids::EVENTS, event);
}

fn last_seen(event: &Value) -> Option<DateTime<Utc>> {
    event["lastTimestamp"]
        .as_str()
        .or(event["eventTime"].as_str())
        .and_then(parse_time)
}

fn stalest(existing: &[Option<crate::store::Obj>]) -> usize {
    existing
        .iter()
        .enumerate()
        .min_by_key(|(_, e)| e.as_ref().and_then(|e| last_seen(e)))
        .map_or(0, |(i, _)| i)
}

/// `<object>.<16 hex>`, like the real `<name>.<unix nanos in hex>`, but derived from
/// the object uid, reason, message and slot so a repeat finds the same Event.
fn event_name(involved: &Value, reason: &str, message: &str, slot: u64) -> String {
    let key = format!("{}/{reason}/{message}/{slot}", uid_of(involved));
    let mut name = name_of(involved).to_string();
    // Leave room for the suffix within the 253-character name limit.
    name.truncate(235);
    format!("{name}.{:016x}", crate::hash::fnv64(key.as_bytes()))
}

#[allow(clippy::too_many_arguments)]
fn new_event(
    involved: &Value,
    ns: &str,
    name: &str,
    component: &str,
    host: Option<&str>,
    type_: &str,
    reason: &str,
    message: &str,
    now: DateTime<Utc>,
) -> Value {
    let mut obj_ref = json!({
        "kind": involved["kind"],
        "name": name_of(involved),
        "uid": uid_of(involved),
        "apiVersion": involved["apiVersion"],
        "resourceVersion": involved["metadata"]["resourceVersion"],
    });
    if !namespace_of(involved).is_empty() {
        obj_ref["namespace"] = json!(namespace_of(involved));
    }
    let mut source = json!({"component": component});
    if let Some(h) = host {
        source["host"] = json!(h);
    }
    let t = k8s_time(now);
    json!({
        "metadata": {"name": name, "namespace": ns},
        "involvedObject": obj_ref,
        "reason": reason,
        "message": message,
        "type": type_,
        "source": source,
        "firstTimestamp": t,
        "lastTimestamp": t,
        "count": 1,
        "eventTime": null,
        "reportingComponent": component,
        "reportingInstance": host.unwrap_or(""),
    })
}

/// The component the real control plane reports these reasons from.
fn component_for(kind: &str, reason: &str) -> &'static str {
    match (kind, reason) {
        (_, "FailedScheduling" | "Scheduled") => "default-scheduler",
        ("Pod", _) => "kubelet",
        ("Deployment", _) => "deployment-controller",
        ("ReplicaSet", _) => "replicaset-controller",
        ("StatefulSet", _) => "statefulset-controller",
        ("DaemonSet", _) => "daemonset-controller",
        ("Job", _) => "job-controller",
        ("CronJob", _) => "cronjob-controller",
        ("Node", _) => "node-controller",
        ("PodDisruptionBudget", _) => "controllermanager",
        ("Namespace", _) => "namespace-controller",
        _ => "ck8s-sim",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::testkit::{cluster, pod};

    #[test]
    fn repeats_bump_one_event_and_warnings_land_in_the_object_namespace() {
        let c = cluster(2);
        let p = c.store.create(*ids::PODS, pod("web-1")).unwrap();
        record(
            &c,
            &p,
            "Warning",
            "BackOff",
            "Back-off restarting failed container",
        );
        record(
            &c,
            &p,
            "Warning",
            "BackOff",
            "Back-off restarting failed container",
        );
        let (events, _) = c.store.list(*ids::EVENTS, Some("default"));
        assert_eq!(events.len(), 1);
        let e = &events[0];
        assert_eq!(e["count"], 2);
        assert_eq!(e["source"]["component"], "kubelet");
        assert_eq!(e["involvedObject"]["name"], "web-1");
        assert!(name_of(e).starts_with("web-1."));
        record(&c, &p, "Warning", "Failed", "other reason");
        record(&c, &p, "Warning", "BackOff", "a different message");
        assert_eq!(c.store.count(*ids::EVENTS), 3);
    }

    #[test]
    fn cluster_scoped_objects_report_into_default() {
        let c = cluster(1);
        let (nodes, _) = c.store.list(*ids::NODES, None);
        record(&c, &nodes[0], "Normal", "NodeNotReady", "Node is not ready");
        let (events, _) = c.store.list(*ids::EVENTS, Some("default"));
        assert_eq!(events.len(), 1);
        assert!(events[0]["involvedObject"].get("namespace").is_none());
        assert_eq!(events[0]["source"]["component"], "node-controller");
    }
}
