//! Server-side printing: `meta.k8s.io/v1 Table` answers, so `kubectl get` shows the
//! same columns it shows against a real cluster.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::clock::parse_time;
use crate::labels::LabelSelector;
use crate::registry::{Columns, KINDS, KindId};

struct Col {
    name: &'static str,
    ty: &'static str,
    priority: u8,
}

const fn col(name: &'static str, ty: &'static str, priority: u8) -> Col {
    Col { name, ty, priority }
}

fn columns(c: Columns) -> &'static [Col] {
    match c {
        Columns::Generic => {
            const C: &[Col] = &[col("Name", "string", 0), col("Age", "string", 0)];
            C
        }
        Columns::Pod => {
            const C: &[Col] = &[
                col("Name", "string", 0),
                col("Ready", "string", 0),
                col("Status", "string", 0),
                col("Restarts", "string", 0),
                col("Age", "string", 0),
                col("IP", "string", 1),
                col("Node", "string", 1),
                col("Nominated Node", "string", 1),
                col("Readiness Gates", "string", 1),
            ];
            C
        }
        Columns::Node => {
            const C: &[Col] = &[
                col("Name", "string", 0),
                col("Status", "string", 0),
                col("Roles", "string", 0),
                col("Age", "string", 0),
                col("Version", "string", 0),
                col("Internal-IP", "string", 1),
                col("External-IP", "string", 1),
                col("OS-Image", "string", 1),
                col("Kernel-Version", "string", 1),
                col("Container-Runtime", "string", 1),
            ];
            C
        }
        Columns::Deployment => {
            const C: &[Col] = &[
                col("Name", "string", 0),
                col("Ready", "string", 0),
                col("Up-to-date", "integer", 0),
                col("Available", "integer", 0),
                col("Age", "string", 0),
                col("Containers", "string", 1),
                col("Images", "string", 1),
                col("Selector", "string", 1),
            ];
            C
        }
        Columns::Namespace => {
            const C: &[Col] = &[
                col("Name", "string", 0),
                col("Status", "string", 0),
                col("Age", "string", 0),
            ];
            C
        }
        Columns::Phase => {
            const C: &[Col] = &[
                col("Name", "string", 0),
                col("Status", "string", 0),
                col("Age", "string", 0),
            ];
            C
        }
        Columns::Machine => {
            const C: &[Col] = &[
                col("Name", "string", 0),
                col("Cluster", "string", 0),
                col("NodeName", "string", 0),
                col("Phase", "string", 0),
                col("Age", "string", 0),
                col("Version", "string", 0),
            ];
            C
        }
        Columns::Replicas => {
            const C: &[Col] = &[
                col("Name", "string", 0),
                col("Desired", "integer", 0),
                col("Ready", "integer", 0),
                col("Age", "string", 0),
            ];
            C
        }
    }
}

/// kubectl's short human durations: 45s, 3m12s, 5h10m, 2d4h, 400d.
pub fn human_age(created: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let s = (now - created).num_seconds().max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86_400);
    match () {
        _ if s < 120 => format!("{s}s"),
        _ if m < 10 && s % 60 != 0 => format!("{m}m{}s", s % 60),
        _ if m < 180 => format!("{m}m"),
        _ if h < 8 && m % 60 != 0 => format!("{h}h{}m", m % 60),
        _ if h < 48 => format!("{h}h"),
        _ if h < 192 && h % 24 != 0 => format!("{d}d{}h", h % 24),
        _ if d < 730 => format!("{d}d"),
        _ => format!("{}y{}d", d / 365, d % 365),
    }
}

fn age(obj: &Value, now: DateTime<Utc>) -> Value {
    obj["metadata"]["creationTimestamp"]
        .as_str()
        .and_then(parse_time)
        .map(|t| json!(human_age(t, now)))
        .unwrap_or(json!("<unknown>"))
}

fn s(v: &Value) -> Value {
    json!(v.as_str().unwrap_or("<none>"))
}

fn int(v: &Value) -> Value {
    json!(v.as_i64().unwrap_or(0))
}

/// The status word kubectl prints for a pod.
pub fn pod_status(pod: &Value) -> String {
    if pod["metadata"]["deletionTimestamp"].is_string() {
        return "Terminating".into();
    }
    let statuses = pod["status"]["containerStatuses"].as_array();
    for cs in statuses.into_iter().flatten() {
        if let Some(r) = cs["state"]["waiting"]["reason"].as_str() {
            return r.to_string();
        }
        if let Some(r) = cs["state"]["terminated"]["reason"].as_str()
            && pod["status"]["phase"] != "Succeeded"
        {
            return r.to_string();
        }
    }
    match pod["status"]["phase"].as_str() {
        Some("Succeeded") => "Completed".into(),
        Some(p) => p.to_string(),
        None => "Pending".into(),
    }
}

fn pod_cells(pod: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let statuses = pod["status"]["containerStatuses"].as_array();
    let total = pod["spec"]["containers"].as_array().map_or(0, Vec::len);
    let ready = statuses
        .into_iter()
        .flatten()
        .filter(|c| c["ready"] == true)
        .count();
    let restarts: i64 = statuses
        .into_iter()
        .flatten()
        .map(|c| c["restartCount"].as_i64().unwrap_or(0))
        .sum();
    vec![
        json!(format!("{ready}/{total}")),
        json!(pod_status(pod)),
        json!(restarts.to_string()),
        age(pod, now),
        s(&pod["status"]["podIP"]),
        s(&pod["spec"]["nodeName"]),
        json!("<none>"),
        json!("<none>"),
    ]
}

fn node_cells(node: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let conds = node["status"]["conditions"].as_array();
    let ready = conds
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Ready")
        .is_some_and(|c| c["status"] == "True");
    let mut status = if ready { "Ready" } else { "NotReady" }.to_string();
    if node["spec"]["unschedulable"] == true {
        status.push_str(",SchedulingDisabled");
    }
    let mut roles: Vec<&str> = node["metadata"]["labels"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/"))
        .collect();
    roles.sort();
    let roles = if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.join(",")
    };
    let addr = |t: &str| {
        node["status"]["addresses"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["type"] == t)
            .and_then(|a| a["address"].as_str())
            .unwrap_or("<none>")
            .to_string()
    };
    let info = &node["status"]["nodeInfo"];
    vec![
        json!(status),
        json!(roles),
        age(node, now),
        s(&info["kubeletVersion"]),
        json!(addr("InternalIP")),
        json!(addr("ExternalIP")),
        s(&info["osImage"]),
        s(&info["kernelVersion"]),
        s(&info["containerRuntimeVersion"]),
    ]
}

fn deployment_cells(d: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let containers = d["spec"]["template"]["spec"]["containers"].as_array();
    let names = containers
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .collect::<Vec<_>>()
        .join(",");
    let images = containers
        .into_iter()
        .flatten()
        .filter_map(|c| c["image"].as_str())
        .collect::<Vec<_>>()
        .join(",");
    // One that cannot be converted selects nothing, which prints as nothing.
    let selector = LabelSelector::from_object(&d["spec"]["selector"])
        .map(|s| s.to_query())
        .unwrap_or_default();
    vec![
        json!(format!(
            "{}/{}",
            d["status"]["readyReplicas"].as_i64().unwrap_or(0),
            d["spec"]["replicas"].as_i64().unwrap_or(1)
        )),
        int(&d["status"]["updatedReplicas"]),
        int(&d["status"]["availableReplicas"]),
        age(d, now),
        json!(names),
        json!(images),
        json!(selector),
    ]
}

fn cells(c: Columns, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let name = json!(obj["metadata"]["name"].as_str().unwrap_or(""));
    let rest = match c {
        Columns::Generic => vec![age(obj, now)],
        Columns::Pod => pod_cells(obj, now),
        Columns::Node => node_cells(obj, now),
        Columns::Deployment => deployment_cells(obj, now),
        Columns::Namespace => {
            let phase = if obj["metadata"]["deletionTimestamp"].is_string() {
                "Terminating"
            } else {
                "Active"
            };
            vec![json!(phase), age(obj, now)]
        }
        Columns::Phase => vec![s(&obj["status"]["phase"]), age(obj, now)],
        Columns::Machine => vec![
            s(&obj["spec"]["clusterName"]),
            s(&obj["status"]["nodeRef"]["name"]),
            s(&obj["status"]["phase"]),
            age(obj, now),
            s(&obj["spec"]["version"]),
        ],
        Columns::Replicas => vec![
            int(&obj["spec"]["replicas"]),
            int(&obj["status"]["readyReplicas"]),
            age(obj, now),
        ],
    };
    std::iter::once(name).chain(rest).collect()
}

/// The metadata-only view of an object (`PartialObjectMetadata`).
pub fn partial_metadata(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    })
}

/// A Table of the given objects of one kind.
pub fn table(kind: KindId, objs: &[&Value], rv: &str, now: DateTime<Utc>) -> Value {
    let c = KINDS[kind].columns;
    let defs: Vec<Value> = columns(c)
        .iter()
        .map(|col| {
            json!({
                "name": col.name,
                "type": col.ty,
                "format": if col.name == "Name" { "name" } else { "" },
                "description": "",
                "priority": col.priority,
            })
        })
        .collect();
    let rows: Vec<Value> = objs
        .iter()
        .map(|o| json!({"cells": cells(c, o, now), "object": partial_metadata(o)}))
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv},
        "columnDefinitions": defs,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::ids;

    #[test]
    fn ages_read_like_kubectl() {
        let t0 = parse_time("2026-01-01T00:00:00Z").unwrap();
        let at = |s: i64| human_age(t0, t0 + chrono::Duration::seconds(s));
        assert_eq!(at(45), "45s");
        assert_eq!(at(192), "3m12s");
        assert_eq!(at(600), "10m");
        assert_eq!(at(5 * 3600 + 600), "5h10m");
        assert_eq!(at(30 * 3600), "30h");
        assert_eq!(at(52 * 3600), "2d4h");
        assert_eq!(at(400 * 86_400), "400d");
    }

    #[test]
    fn pod_rows_show_ready_status_restarts_and_node() {
        let pod = json!({"metadata": {"name": "web-1", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"nodeName": "n1", "containers": [{"name": "a"}, {"name": "b"}]},
            "status": {"phase": "Running", "podIP": "10.0.0.1", "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 2, "state": {"running": {}}},
                {"name": "b", "ready": false, "restartCount": 5, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        let now = parse_time("2026-01-01T00:01:00Z").unwrap();
        let t = table(*ids::PODS, &[&pod], "7", now);
        assert_eq!(
            t["rows"][0]["cells"],
            json!([
                "web-1",
                "1/2",
                "CrashLoopBackOff",
                "7",
                "60s",
                "10.0.0.1",
                "n1",
                "<none>",
                "<none>"
            ])
        );
        assert_eq!(t["columnDefinitions"][6]["priority"], 1);
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    }

    #[test]
    fn cordoned_control_plane_node_row() {
        let node = json!({"metadata": {"name": "cp-1", "labels": {"node-role.kubernetes.io/control-plane": ""}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.33.4"}}});
        let now = Utc::now();
        let t = table(*ids::NODES, &[&node], "1", now);
        assert_eq!(t["rows"][0]["cells"][1], "Ready,SchedulingDisabled");
        assert_eq!(t["rows"][0]["cells"][2], "control-plane");
        assert_eq!(t["rows"][0]["cells"][4], "v1.33.4");
    }
}
