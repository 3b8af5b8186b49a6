//! Pods from a pod template, with the defaults the apiserver and its admission plugins
//! would fill in.

use serde_json::{Value, json};

use crate::cluster::ClusterSim;
use crate::controllers::objects::owner_ref;
use crate::registry::ids;
use crate::store::namespace_of;

/// A pod for `owner` from a pod template, with the defaults the apiserver and its
/// admission plugins would fill in.
pub(super) fn new_pod(owner: &Value, template: &Value, name: &str) -> Value {
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

pub(super) fn create_pod(cluster: &ClusterSim, pod: Value) -> bool {
    cluster.store.create(*ids::PODS, pod).is_ok()
}
