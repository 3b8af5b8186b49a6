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
        Columns::Event => {
            const C: &[Col] = &[
                col("Last Seen", "string", 0),
                col("Type", "string", 0),
                col("Reason", "string", 0),
                col("Object", "string", 0),
                col("Subobject", "string", 1),
                col("Source", "string", 1),
                col("Message", "string", 0),
                col("First Seen", "string", 1),
                col("Count", "string", 1),
                col("Name", "string", 1),
            ];
            C
        }
        Columns::ConfigMap => {
            const C: &[Col] = &[
                col("Name", "string", 0),
                col("Data", "string", 0),
                col("Age", "string", 0),
            ];
            C
        }
        Columns::Secret => {
            const C: &[Col] = &[
                col("Name", "string", 0),
                col("Type", "string", 0),
                col("Data", "string", 0),
                col("Age", "string", 0),
            ];
            C
        }
        Columns::Service => {
            const C: &[Col] = &[
                col("Name", "string", 0),
                col("Type", "string", 0),
                col("Cluster-IP", "string", 0),
                col("External-IP", "string", 0),
                col("Port(s)", "string", 0),
                col("Age", "string", 0),
                col("Selector", "string", 1),
            ];
            C
        }
        Columns::DisruptionBudget => {
            const C: &[Col] = &[
                col("Name", "string", 0),
                col("Min Available", "string", 0),
                col("Max Unavailable", "string", 0),
                col("Allowed Disruptions", "integer", 0),
                col("Age", "string", 0),
            ];
            C
        }
        Columns::ReplicaSet => {
            const C: &[Col] = &[
                col("Name", "string", 0),
                col("Desired", "integer", 0),
                col("Current", "integer", 0),
                col("Ready", "integer", 0),
                col("Age", "string", 0),
            ];
            C
        }
        Columns::StatefulSet => {
            const C: &[Col] = &[
                col("Name", "string", 0),
                col("Ready", "string", 0),
                col("Age", "string", 0),
            ];
            C
        }
        Columns::DaemonSet => {
            const C: &[Col] = &[
                col("Name", "string", 0),
                col("Desired", "integer", 0),
                col("Current", "integer", 0),
                col("Ready", "integer", 0),
                col("Up-to-date", "integer", 0),
                col("Available", "integer", 0),
                col("Node Selector", "string", 0),
                col("Age", "string", 0),
            ];
            C
        }
        Columns::Job => {
            const C: &[Col] = &[
                col("Name", "string", 0),
                col("Status", "string", 0),
                col("Completions", "string", 0),
                col("Duration", "string", 0),
                col("Age", "string", 0),
            ];
            C
        }
        Columns::CronJob => {
            const C: &[Col] = &[
                col("Name", "string", 0),
                col("Schedule", "string", 0),
                col("Timezone", "string", 0),
                col("Suspend", "boolean", 0),
                col("Active", "integer", 0),
                col("Last Schedule", "string", 0),
                col("Age", "string", 0),
            ];
            C
        }
        Columns::Lease => {
            const C: &[Col] = &[
                col("Name", "string", 0),
                col("Holder", "string", 0),
                col("Age", "string", 0),
            ];
            C
        }
        Columns::ServiceAccount => {
            const C: &[Col] = &[
                col("Name", "string", 0),
                col("Secrets", "integer", 0),
                col("Age", "string", 0),
            ];
            C
        }
    }
}

/// How long ago the time in `v` was, as kubectl prints it; `<unknown>` without one.
fn since(v: &Value, now: DateTime<Utc>) -> Value {
    v.as_str()
        .and_then(parse_time)
        .map(|t| json!(human_age(t, now)))
        .unwrap_or(json!("<unknown>"))
}

/// `<none>` for nothing, else the text, as kubectl prints empty cells.
fn or_none(text: String) -> Value {
    json!(if text.is_empty() {
        "<none>".into()
    } else {
        text
    })
}

/// How many entries a map has (`data` of a ConfigMap or Secret).
fn entries(v: &Value) -> usize {
    v.as_object().map_or(0, |m| m.len())
}

fn event_cells(e: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let last = [
        &e["lastTimestamp"],
        &e["eventTime"],
        &e["metadata"]["creationTimestamp"],
    ]
    .into_iter()
    .find(|t| t.is_string())
    .cloned()
    .unwrap_or_default();
    let first = if e["firstTimestamp"].is_string() {
        &e["firstTimestamp"]
    } else {
        &last
    };
    let object = &e["involvedObject"];
    let kind = object["kind"].as_str().unwrap_or_default().to_lowercase();
    let name = object["name"].as_str().unwrap_or_default();
    let source = [&e["source"]["component"], &e["reportingComponent"]]
        .into_iter()
        .find_map(|s| s.as_str().filter(|s| !s.is_empty()))
        .unwrap_or_default();
    vec![
        since(&last, now),
        s(&e["type"]),
        s(&e["reason"]),
        json!(format!("{kind}/{name}")),
        json!(object["fieldPath"].as_str().unwrap_or_default()),
        json!(source),
        json!(e["message"].as_str().unwrap_or_default()),
        since(first, now),
        json!(e["count"].as_i64().unwrap_or(1).to_string()),
        json!(e["metadata"]["name"].as_str().unwrap_or_default()),
    ]
}

fn service_cells(svc: &Value) -> Vec<Value> {
    let spec = &svc["spec"];
    let ty = spec["type"].as_str().unwrap_or("ClusterIP");
    let external = match (spec["externalIPs"].as_array(), ty) {
        (Some(ips), _) if !ips.is_empty() => ips
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(","),
        (_, "LoadBalancer") => svc["status"]["loadBalancer"]["ingress"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["ip"].as_str().or(i["hostname"].as_str()))
            .collect::<Vec<_>>()
            .join(","),
        _ => String::new(),
    };
    let external = match (external.is_empty(), ty) {
        (true, "LoadBalancer") => "<pending>".to_string(),
        (true, _) => "<none>".to_string(),
        (false, _) => external,
    };
    let ports = spec["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let port = p["port"].as_i64().unwrap_or(0);
            let proto = p["protocol"].as_str().unwrap_or("TCP");
            match p["nodePort"].as_i64() {
                Some(node) => format!("{port}:{node}/{proto}"),
                None => format!("{port}/{proto}"),
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    let selector = spec["selector"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join(",");
    vec![
        json!(ty),
        json!(spec["clusterIP"].as_str().unwrap_or("<none>")),
        json!(external),
        or_none(ports),
        json!(selector),
    ]
}

fn job_cells(job: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let status = &job["status"];
    let conditions = status["conditions"].as_array().cloned().unwrap_or_default();
    let holds = |ty: &str| {
        conditions
            .iter()
            .any(|c| c["type"] == ty && c["status"] == "True")
    };
    let state = if holds("Complete") {
        "Complete"
    } else if holds("Failed") {
        "Failed"
    } else if job["spec"]["suspend"] == json!(true) {
        "Suspended"
    } else {
        "Running"
    };
    let duration = match (
        status["startTime"].as_str().and_then(parse_time),
        status["completionTime"].as_str().and_then(parse_time),
    ) {
        (Some(start), Some(end)) => human_age(start, end),
        (Some(start), None) => human_age(start, now),
        _ => String::new(),
    };
    vec![
        json!(state),
        json!(format!(
            "{}/{}",
            status["succeeded"].as_i64().unwrap_or(0),
            job["spec"]["completions"].as_i64().unwrap_or(1)
        )),
        json!(duration),
    ]
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
    if c == Columns::Event {
        return event_cells(obj, now);
    }
    let name = json!(obj["metadata"]["name"].as_str().unwrap_or(""));
    let ready_of = |want: &Value| {
        json!(format!(
            "{}/{}",
            obj["status"]["readyReplicas"].as_i64().unwrap_or(0),
            want.as_i64().unwrap_or(1)
        ))
    };
    let rest = match c {
        Columns::Event => Vec::new(),
        Columns::ConfigMap => vec![
            json!(entries(&obj["data"]) + entries(&obj["binaryData"])),
            age(obj, now),
        ],
        Columns::Secret => vec![s(&obj["type"]), json!(entries(&obj["data"])), age(obj, now)],
        Columns::Service => {
            let mut cells = service_cells(obj);
            cells.insert(4, age(obj, now));
            cells
        }
        Columns::DisruptionBudget => vec![
            json!(obj["spec"]["minAvailable"].as_i64().map_or_else(
                || {
                    obj["spec"]["minAvailable"]
                        .as_str()
                        .unwrap_or("N/A")
                        .to_string()
                },
                |n| n.to_string()
            )),
            json!(obj["spec"]["maxUnavailable"].as_i64().map_or_else(
                || {
                    obj["spec"]["maxUnavailable"]
                        .as_str()
                        .unwrap_or("N/A")
                        .to_string()
                },
                |n| n.to_string()
            )),
            int(&obj["status"]["disruptionsAllowed"]),
            age(obj, now),
        ],
        Columns::ReplicaSet => vec![
            int(&obj["spec"]["replicas"]),
            int(&obj["status"]["replicas"]),
            int(&obj["status"]["readyReplicas"]),
            age(obj, now),
        ],
        Columns::StatefulSet => vec![ready_of(&obj["spec"]["replicas"]), age(obj, now)],
        Columns::DaemonSet => {
            let st = &obj["status"];
            let selector = obj["spec"]["template"]["spec"]["nodeSelector"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",");
            vec![
                int(&st["desiredNumberScheduled"]),
                int(&st["currentNumberScheduled"]),
                int(&st["numberReady"]),
                int(&st["updatedNumberScheduled"]),
                int(&st["numberAvailable"]),
                or_none(selector),
                age(obj, now),
            ]
        }
        Columns::Job => {
            let mut cells = job_cells(obj, now);
            cells.push(age(obj, now));
            cells
        }
        Columns::CronJob => vec![
            s(&obj["spec"]["schedule"]),
            s(&obj["spec"]["timeZone"]),
            json!(obj["spec"]["suspend"].as_bool().unwrap_or(false)),
            json!(obj["status"]["active"].as_array().map_or(0, Vec::len)),
            match obj["status"]["lastScheduleTime"].as_str() {
                Some(_) => since(&obj["status"]["lastScheduleTime"], now),
                None => json!("<none>"),
            },
            age(obj, now),
        ],
        Columns::Lease => vec![s(&obj["spec"]["holderIdentity"]), age(obj, now)],
        Columns::ServiceAccount => vec![
            json!(obj["secrets"].as_array().map_or(0, Vec::len)),
            age(obj, now),
        ],
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

    /// Every kind's rows have as many cells as its Table has columns, whatever the
    /// object lacks.
    #[test]
    fn every_kinds_cells_line_up_with_its_columns() {
        let now = parse_time("2026-01-01T00:00:00Z").unwrap();
        for k in KINDS {
            for obj in [
                json!({}),
                json!({"metadata": {"name": "x"}, "spec": {}, "status": {}}),
            ] {
                assert_eq!(
                    cells(k.columns, &obj, now).len(),
                    columns(k.columns).len(),
                    "{}",
                    k.plural
                );
            }
        }
    }

    #[test]
    fn an_event_reads_as_kubectl_get_events() {
        let now = parse_time("2026-01-01T00:10:00Z").unwrap();
        let ev = json!({
            "metadata": {"name": "web-1.17a", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "involvedObject": {"kind": "Pod", "name": "web-1"},
            "type": "Warning", "reason": "BackOff", "message": "Back-off restarting",
            "source": {"component": "kubelet"}, "count": 7,
            "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:08:00Z",
        });
        let c = cells(Columns::Event, &ev, now);
        assert_eq!(c[0], "2m");
        assert_eq!(
            c[1..4],
            [json!("Warning"), json!("BackOff"), json!("pod/web-1")]
        );
        assert_eq!(c[6], "Back-off restarting");
        assert_eq!(c[7], "10m");
        assert_eq!(c[8], "7");
        let pdb = json!({"spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 2}});
        assert_eq!(
            cells(Columns::DisruptionBudget, &pdb, now)[1..4],
            [json!("50%"), json!("N/A"), json!(2)]
        );
    }

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
