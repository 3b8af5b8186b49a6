//! `kubectl describe` for any kind: the object's fields as an engineer reads them, its
//! conditions, what it owns, what owns it, and its events. Built from the object as JSON,
//! so it works for custom resources too; the kinds an on-call engineer describes most
//! (pods, workloads, nodes) get the fields kubectl shows for them.

use chrono::{DateTime, Utc};
use kube::api::{Api, DynamicObject, ListParams};
use serde_json::Value;

use crate::config::ClusterRole;
use crate::inspect::sanitize;
use crate::kinds::ServedKind;
use crate::objects::{LAST_APPLIED, api_of, client, timed};
use crate::sources::live::LiveFleet;

/// Events shown at most, the newest.
const MAX_EVENTS: usize = 50;
/// Objects listed under "Owns" at most.
const MAX_OWNED: usize = 50;
/// An annotation value is cut after this many characters.
const MAX_ANNOTATION: usize = 120;

/// An object another one names: its owner, or one it owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    /// The Kind (`ReplicaSet`).
    pub kind: String,
    /// The API group, empty for the core group.
    pub group: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl Related {
    /// The kind as the objects pane resolves it: `replicaset.apps`, or `pod` for the core
    /// group, so that a custom resource's Kind does not meet a built-in one of that name.
    pub fn kind_name(&self) -> String {
        match self.group.as_str() {
            "" => self.kind.to_lowercase(),
            g => format!("{}.{g}", self.kind.to_lowercase()),
        }
    }
}

/// The group of an `apiVersion` (`apps/v1` is `apps`, `v1` the core group).
fn group_of(api_version: &str) -> &str {
    api_version.split_once('/').map_or("", |(g, _)| g)
}

/// The controller among an object's owners (as `kubectl describe` shows "Controlled By"),
/// else its first owner.
pub fn owner_of(metadata: &Value) -> Option<Related> {
    let owners = metadata["ownerReferences"].as_array()?;
    let owner = owners
        .iter()
        .find(|o| o["controller"] == true)
        .or(owners.first())?;
    Some(Related {
        kind: sanitize(owner["kind"].as_str()?),
        group: group_of(owner["apiVersion"].as_str().unwrap_or_default()).to_owned(),
        // Owners live in their object's namespace (or are cluster-scoped).
        namespace: metadata["namespace"].as_str().map(sanitize),
        name: sanitize(owner["name"].as_str()?),
    })
}

/// One object, described.
#[derive(Debug, Clone, PartialEq)]
pub struct Description {
    pub lines: Vec<String>,
    pub owner: Option<Related>,
    pub owned: Vec<Related>,
}

/// The kinds a controller of `kind` makes, by the names the catalog resolves.
fn child_kinds(kind: &str) -> &'static [&'static str] {
    match kind {
        "Deployment" => &["replicasets.apps"],
        "ReplicaSet" | "StatefulSet" | "DaemonSet" | "Job" => &["pods"],
        "CronJob" => &["jobs.batch"],
        _ => &[],
    }
}

/// Describes one object of `kind`. What owns it comes from the object; what it owns is
/// listed (by its selector where it has one) and kept when it names this object as owner;
/// its events are those whose involved object it is. A Secret's values go no further than
/// this call: it is described by the size of each ([`sizes_only`]).
pub async fn describe(
    live: &LiveFleet,
    env: &str,
    role: ClusterRole,
    kind: &ServedKind,
    namespace: Option<&str>,
    name: &str,
) -> Result<Description, String> {
    let client = client(live, env, role).await?;
    let api = api_of(client.clone(), kind, namespace);
    let object = serde_json::to_value(timed(api.get(name)).await?).map_err(|e| e.to_string())?;
    // A Secret's values go no further than here: its keys are described by their sizes.
    let object = if kind.is_secret() {
        sizes_only(object)
    } else {
        object
    };
    let uid = object["metadata"]["uid"].as_str().unwrap_or_default();
    let events = events_of(&client, &kind.kind, namespace, name, uid).await;
    let owned = owned_by(&client, live, env, role, &object).await;
    Ok(description(&object, owned, &events, Utc::now()))
}

/// The description of `object`, with what it owns (`None`: a kind that owns nothing) and
/// its events in the order given (oldest first, as [`describe`] reads them), as of `now`.
pub fn description(
    object: &Value,
    owned: Option<Result<Vec<Related>, String>>,
    events: &Result<Vec<Value>, String>,
    now: DateTime<Utc>,
) -> Description {
    let mut lines = describe_lines(object, now);
    lines.extend(owned_lines(&owned));
    lines.extend(event_lines(events, now));
    Description {
        owner: owner_of(&object["metadata"]),
        owned: owned.and_then(Result::ok).unwrap_or_default(),
        lines,
    }
}

/// A Secret with each value replaced by its size in bytes, as `kubectl describe` shows
/// it, and nothing else that could hold a value (`stringData`, kubectl's last-applied
/// copy).
pub fn sizes_only(mut secret: Value) -> Value {
    use base64::Engine as _;
    if let Some(data) = secret["data"].as_object_mut() {
        for v in data.values_mut() {
            let size = v
                .as_str()
                .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
                .map_or(0, |b| b.len());
            *v = Value::from(size);
        }
    }
    if let Some(m) = secret.as_object_mut() {
        m.remove("stringData");
    }
    if let Some(a) = secret["metadata"]["annotations"].as_object_mut() {
        a.remove(LAST_APPLIED);
    }
    secret
}

/// The events of one object, oldest first (as kubectl lists them), at most the newest
/// [`MAX_EVENTS`]. They are matched by uid too, so an earlier object of the same name
/// (a StatefulSet's pod, a Job run again) lends none of its own; except a node's, which
/// the kubelet records under the node's name rather than its uid. A cluster-scoped
/// object's events are in the `default` namespace, hence the search in all.
async fn events_of(
    client: &kube::Client,
    kind: &str,
    namespace: Option<&str>,
    name: &str,
    uid: &str,
) -> Result<Vec<Value>, String> {
    let api: Api<DynamicObject> = match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &event_resource()),
        None => Api::all_with(client.clone(), &event_resource()),
    };
    let mut selector = format!("involvedObject.name={name},involvedObject.kind={kind}");
    if kind != "Node" && !uid.is_empty() {
        selector.push_str(&format!(",involvedObject.uid={uid}"));
    }
    let list = timed(api.list(&ListParams::default().fields(&selector))).await?;
    let mut events: Vec<Value> = list
        .items
        .into_iter()
        .filter_map(|e| serde_json::to_value(e).ok())
        .collect();
    events.sort_by_key(|e| event_time(e).map(|t| t.timestamp()));
    let skip = events.len().saturating_sub(MAX_EVENTS);
    Ok(events.split_off(skip))
}

fn event_resource() -> kube::api::ApiResource {
    kube::api::ApiResource {
        group: String::new(),
        version: "v1".into(),
        api_version: "v1".into(),
        kind: "Event".into(),
        plural: "events".into(),
    }
}

/// When an event last happened: its last timestamp, else its event time, else when it
/// was first seen.
fn event_time(event: &Value) -> Option<DateTime<Utc>> {
    ["lastTimestamp", "eventTime", "firstTimestamp"]
        .iter()
        .filter_map(|f| event[f].as_str())
        .find_map(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| {
            DateTime::parse_from_rfc3339(event["metadata"]["creationTimestamp"].as_str()?)
                .ok()
                .map(|t| t.with_timezone(&Utc))
        })
}

/// The objects `object` controls, of the kinds its controller makes. `None` for a kind
/// that makes nothing.
async fn owned_by(
    client: &kube::Client,
    live: &LiveFleet,
    env: &str,
    role: ClusterRole,
    object: &Value,
) -> Option<Result<Vec<Related>, String>> {
    let children = child_kinds(object["kind"].as_str().unwrap_or_default());
    if children.is_empty() {
        return None;
    }
    let uid = object["metadata"]["uid"].as_str().unwrap_or_default();
    let namespace = object["metadata"]["namespace"].as_str();
    let selector = match_labels(&object["spec"]["selector"]);
    let catalog = match crate::objects::catalog(live, env, role).await {
        Ok(c) => c,
        Err(e) => return Some(Err(e)),
    };
    let mut owned = Vec::new();
    for child in children {
        let Ok(kind) = catalog.resolve(child) else {
            continue;
        };
        let api = api_of(client.clone(), kind, namespace);
        let mut params = ListParams::default();
        if let Some(s) = &selector {
            params = params.labels(s);
        }
        let list = match timed(api.list_metadata(&params)).await {
            Ok(l) => l,
            Err(e) => return Some(Err(e)),
        };
        owned.extend(
            list.items
                .into_iter()
                .filter(|m| {
                    m.metadata
                        .owner_references
                        .iter()
                        .flatten()
                        .any(|o| o.uid == uid)
                })
                .map(|m| Related {
                    kind: sanitize(&kind.kind),
                    group: sanitize(&kind.group),
                    namespace: m.metadata.namespace.as_deref().map(sanitize),
                    name: sanitize(m.metadata.name.as_deref().unwrap_or_default()),
                }),
        );
    }
    Some(Ok(owned))
}

/// A label selector's `matchLabels` as `k=v,…`; `None` when it has none (a selector of
/// expressions alone is left to the owner check).
fn match_labels(selector: &Value) -> Option<String> {
    let labels = selector["matchLabels"].as_object()?;
    let terms: Vec<String> = labels
        .iter()
        .filter_map(|(k, v)| Some(format!("{k}={}", v.as_str()?)))
        .collect();
    (!terms.is_empty()).then(|| terms.join(","))
}

/// Where values start: after the longest key (`Service Account:`) and a space.
const KEY_WIDTH: usize = 17;

/// `Key:` padded to one column, as kubectl aligns them.
fn field(key: &str, value: impl std::fmt::Display) -> String {
    format!("{:<KEY_WIDTH$}{value}", format!("{key}:"))
}

fn str_of(v: &Value) -> String {
    match v {
        Value::String(s) => sanitize(s),
        Value::Null => "<none>".into(),
        other => sanitize(&other.to_string()),
    }
}

/// A time and how long ago it was.
fn when(v: &Value, now: DateTime<Utc>) -> String {
    match v
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    {
        Some(t) => format!(
            "{} ({} ago)",
            t.with_timezone(&Utc).format("%Y-%m-%d %H:%M:%S UTC"),
            ck8s_model::format::age((now - t.with_timezone(&Utc)).num_seconds())
        ),
        None => "<none>".into(),
    }
}

/// `key=value` lines under one field, `<none>` when empty.
fn map_field(key: &str, map: &Value, skip: &[&str], cut: usize) -> Vec<String> {
    let entries: Vec<String> = map
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .map(|(k, v)| {
            let value = str_of(v);
            let value = match value.char_indices().nth(cut) {
                Some((i, _)) => format!("{}…", &value[..i]),
                None => value,
            };
            format!("{}={value}", sanitize(k))
        })
        .collect();
    list_field(key, entries)
}

/// Values under one field, the first beside the key and the rest aligned under it.
fn list_field(key: &str, values: Vec<String>) -> Vec<String> {
    if values.is_empty() {
        return vec![field(key, "<none>")];
    }
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            if i == 0 {
                field(key, v)
            } else {
                format!("{:<KEY_WIDTH$}{v}", "")
            }
        })
        .collect()
}

/// The description's lines from the object alone, without what it owns and its events.
pub fn describe_lines(object: &Value, now: DateTime<Utc>) -> Vec<String> {
    let meta = &object["metadata"];
    let kind = object["kind"].as_str().unwrap_or_default();
    let mut lines = vec![field("Name", str_of(&meta["name"]))];
    if let Some(ns) = meta["namespace"].as_str() {
        lines.push(field("Namespace", sanitize(ns)));
    }
    lines.push(field(
        "Kind",
        format!("{} ({})", sanitize(kind), str_of(&object["apiVersion"])),
    ));
    lines.extend(map_field("Labels", &meta["labels"], &[], usize::MAX));
    lines.extend(map_field(
        "Annotations",
        &meta["annotations"],
        &[LAST_APPLIED],
        MAX_ANNOTATION,
    ));
    lines.push(field("Created", when(&meta["creationTimestamp"], now)));
    if let Some(owner) = owner_of(meta) {
        // kubectl says "Controlled By" of the controller only.
        let controlled = meta["ownerReferences"]
            .as_array()
            .is_some_and(|o| o.iter().any(|o| o["controller"] == true));
        lines.push(field(
            if controlled {
                "Controlled By"
            } else {
                "Owned By"
            },
            format!("{}/{}", owner.kind, owner.name),
        ));
    }
    if !meta["deletionTimestamp"].is_null() {
        lines.push(field("Terminating", when(&meta["deletionTimestamp"], now)));
    }
    if let Some(f) = meta["finalizers"].as_array().filter(|f| !f.is_empty()) {
        lines.extend(list_field("Finalizers", f.iter().map(str_of).collect()));
    }
    match kind {
        "Pod" => lines.extend(pod_lines(object, now)),
        "Deployment" | "StatefulSet" | "ReplicaSet" | "DaemonSet" => {
            lines.extend(workload_lines(kind, object))
        }
        "Node" => lines.extend(node_lines(object)),
        "Secret" => {
            lines.push(field("Type", str_of(&object["type"])));
            let sizes = object["data"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, n)| format!("{}: {} bytes", sanitize(k), n.as_u64().unwrap_or(0)))
                .collect();
            lines.extend(list_field("Data", sizes));
        }
        _ => lines.extend(generic_lines(object)),
    }
    lines.extend(condition_lines(&object["status"]["conditions"]));
    lines
}

fn pod_lines(pod: &Value, now: DateTime<Utc>) -> Vec<String> {
    let (spec, status) = (&pod["spec"], &pod["status"]);
    let mut lines = vec![
        field("Node", str_of(&spec["nodeName"])),
        field("Status", str_of(&status["phase"])),
        field("IP", str_of(&status["podIP"])),
        field("Service Account", str_of(&spec["serviceAccountName"])),
        "Containers:".to_owned(),
    ];
    let statuses = status["containerStatuses"].as_array();
    for c in spec["containers"].as_array().into_iter().flatten() {
        let name = c["name"].as_str().unwrap_or_default();
        let st = statuses
            .into_iter()
            .flatten()
            .find(|s| s["name"] == name)
            .unwrap_or(&Value::Null);
        lines.push(format!("  {}:", sanitize(name)));
        lines.push(format!("    {}", field("Image", str_of(&c["image"]))));
        lines.push(format!(
            "    {}",
            field("State", container_state(&st["state"], now))
        ));
        if st["lastState"].as_object().is_some_and(|m| !m.is_empty()) {
            lines.push(format!(
                "    {}",
                field("Last State", container_state(&st["lastState"], now))
            ));
        }
        lines.push(format!("    {}", field("Ready", str_of(&st["ready"]))));
        lines.push(format!(
            "    {}",
            field("Restart Count", st["restartCount"].as_u64().unwrap_or(0))
        ));
    }
    lines
}

/// A container state as kubectl words it: `Running (since …)`, `Waiting (reason)`,
/// `Terminated (reason, exit code N)`.
fn container_state(state: &Value, now: DateTime<Utc>) -> String {
    if let Some(r) = state.get("running") {
        return format!("Running, started {}", when(&r["startedAt"], now));
    }
    if let Some(w) = state.get("waiting") {
        return format!("Waiting ({})", str_of(&w["reason"]));
    }
    if let Some(t) = state.get("terminated") {
        return format!(
            "Terminated ({}, exit code {})",
            str_of(&t["reason"]),
            str_of(&t["exitCode"])
        );
    }
    "<unknown>".into()
}

fn workload_lines(kind: &str, object: &Value) -> Vec<String> {
    let (spec, status) = (&object["spec"], &object["status"]);
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let replicas = if kind == "ReplicaSet" {
        format!(
            "{} current / {} desired | {} ready",
            n(&status["replicas"]),
            spec["replicas"].as_u64().unwrap_or(1),
            n(&status["readyReplicas"])
        )
    } else if kind == "DaemonSet" {
        format!(
            "{} desired | {} current | {} ready | {} available",
            n(&status["desiredNumberScheduled"]),
            n(&status["currentNumberScheduled"]),
            n(&status["numberReady"]),
            n(&status["numberAvailable"])
        )
    } else {
        format!(
            "{} desired | {} updated | {} total | {} ready | {} available",
            spec["replicas"].as_u64().unwrap_or(1),
            n(&status["updatedReplicas"]),
            n(&status["replicas"]),
            n(&status["readyReplicas"]),
            n(&status["availableReplicas"])
        )
    };
    let mut lines = vec![
        field(
            "Selector",
            match_labels(&spec["selector"]).unwrap_or_else(|| "<none>".into()),
        ),
        field("Replicas", replicas),
    ];
    let strategy = &spec[if kind == "Deployment" {
        "strategy"
    } else {
        "updateStrategy"
    }]["type"];
    if !strategy.is_null() {
        lines.push(field("Strategy", str_of(strategy)));
    }
    if spec["paused"] == true {
        lines.push(field("Paused", "true (resume it to roll out changes)"));
    }
    let images = spec["template"]["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| format!("{}: {}", str_of(&c["name"]), str_of(&c["image"])))
        .collect();
    lines.extend(list_field("Images", images));
    lines
}

fn node_lines(node: &Value) -> Vec<String> {
    let (spec, status) = (&node["spec"], &node["status"]);
    let roles = node["metadata"]["labels"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/"))
        .map(sanitize)
        .collect::<Vec<_>>();
    let taints = spec["taints"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            let value = t["value"]
                .as_str()
                .map(|v| format!("={v}"))
                .unwrap_or_default();
            sanitize(&format!(
                "{}{value}:{}",
                t["key"].as_str().unwrap_or_default(),
                t["effect"].as_str().unwrap_or_default()
            ))
        })
        .collect();
    let addresses = status["addresses"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| format!("{}: {}", str_of(&a["type"]), str_of(&a["address"])))
        .collect();
    let resources = |v: &Value| {
        ["cpu", "memory", "pods"]
            .iter()
            .map(|r| format!("{r} {}", str_of(&v[r])))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut lines = vec![field(
        "Roles",
        if roles.is_empty() {
            "<none>".into()
        } else {
            roles.join(",")
        },
    )];
    lines.push(field(
        "Unschedulable",
        spec["unschedulable"].as_bool().unwrap_or(false),
    ));
    lines.extend(list_field("Taints", taints));
    lines.extend(list_field("Addresses", addresses));
    lines.push(field("Capacity", resources(&status["capacity"])));
    lines.push(field("Allocatable", resources(&status["allocatable"])));
    lines.push(field(
        "Kubelet",
        str_of(&status["nodeInfo"]["kubeletVersion"]),
    ));
    lines
}

/// Any other kind: its spec, data and status (conditions apart) as YAML, as kubectl
/// describes a custom resource.
fn generic_lines(object: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    for (key, title) in [("spec", "Spec"), ("data", "Data"), ("status", "Status")] {
        let mut value = object[key].clone();
        if let Some(m) = value.as_object_mut() {
            m.remove("conditions");
        }
        if value.as_object().is_none_or(|m| m.is_empty()) {
            continue;
        }
        lines.push(format!("{title}:"));
        let text = serde_yaml_ng::to_string(&value).unwrap_or_default();
        lines.extend(text.lines().map(|l| format!("  {}", sanitize(l))));
    }
    lines
}

fn condition_lines(conditions: &Value) -> Vec<String> {
    let Some(conditions) = conditions.as_array().filter(|c| !c.is_empty()) else {
        return Vec::new();
    };
    let rows: Vec<[String; 4]> = conditions
        .iter()
        .map(|c| {
            [
                str_of(&c["type"]),
                str_of(&c["status"]),
                c["reason"].as_str().map(sanitize).unwrap_or_default(),
                c["message"].as_str().map(sanitize).unwrap_or_default(),
            ]
        })
        .collect();
    let mut lines = vec!["Conditions:".to_owned()];
    lines.extend(table(["Type", "Status", "Reason", "Message"], &rows));
    lines
}

fn owned_lines(owned: &Option<Result<Vec<Related>, String>>) -> Vec<String> {
    match owned {
        None => Vec::new(),
        Some(Err(e)) => vec![field(
            "Owns",
            format!("could not be listed: {}", sanitize(e)),
        )],
        Some(Ok(o)) if o.is_empty() => vec![field("Owns", "<none>")],
        Some(Ok(o)) => {
            let mut lines = vec![format!("Owns ({}):", o.len())];
            lines.extend(
                o.iter()
                    .take(MAX_OWNED)
                    .map(|r| format!("  {}/{}", r.kind, r.name)),
            );
            if o.len() > MAX_OWNED {
                lines.push(format!("  … and {} more", o.len() - MAX_OWNED));
            }
            lines
        }
    }
}

fn event_lines(events: &Result<Vec<Value>, String>, now: DateTime<Utc>) -> Vec<String> {
    let events = match events {
        Err(e) => {
            return vec![field(
                "Events",
                format!("could not be read: {}", sanitize(e)),
            )];
        }
        Ok(e) if e.is_empty() => return vec![field("Events", "<none>")],
        Ok(e) => e,
    };
    let rows: Vec<[String; 4]> = events
        .iter()
        .map(|e| {
            let age = event_time(e)
                .map(|t| ck8s_model::format::age((now - t).num_seconds()))
                .unwrap_or_default();
            let from = e["source"]["component"]
                .as_str()
                .or(e["reportingComponent"].as_str())
                .unwrap_or_default();
            let count = e["count"].as_u64().filter(|c| *c > 1);
            let age = match count {
                Some(c) => format!("{age} (x{c})"),
                None => age,
            };
            [
                str_of(&e["type"]),
                str_of(&e["reason"]),
                age,
                format!("{} {}", sanitize(from), str_of(&e["message"]))
                    .trim()
                    .to_owned(),
            ]
        })
        .collect();
    let mut lines = vec!["Events:".to_owned()];
    lines.extend(table(["Type", "Reason", "Age", "From / Message"], &rows));
    lines
}

/// Rows under a header, each column as wide as its widest cell (the last not padded).
fn table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> Vec<String> {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::from(" ");
        for (i, cell) in cells.iter().enumerate() {
            out.push(' ');
            if i + 1 == N {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$} ", w = widths[i]));
            }
        }
        out.trim_end().to_owned()
    };
    let mut lines = vec![line(header.to_vec())];
    lines.extend(
        rows.iter()
            .map(|r| line(r.iter().map(String::as_str).collect())),
    );
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-07T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_pod_shows_its_owner_containers_and_conditions() {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": "web-1", "namespace": "shop",
                "creationTimestamp": "2026-12-07T10:00:00Z",
                "labels": {"app": "web", "tier": "front"},
                "annotations": {LAST_APPLIED: "{\"secret\":\"x\"}", "note": "a".repeat(200)},
                "ownerReferences": [
                    {"apiVersion": "v1", "kind": "Other", "name": "x", "uid": "1"},
                    {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d", "uid": "2", "controller": true}
                ]
            },
            "spec": {"nodeName": "n1", "containers": [{"name": "app", "image": "web:1"}]},
            "status": {
                "phase": "Running", "podIP": "10.0.0.1",
                "containerStatuses": [{"name": "app", "ready": false, "restartCount": 4,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"reason": "Error", "exitCode": 1}}}],
                "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}]
            }
        });
        let lines = describe_lines(&pod, now());
        let text = lines.join("\n");
        let labels = format!(
            "{}\n{:<KEY_WIDTH$}tier=front",
            field("Labels", "app=web"),
            ""
        );
        assert!(text.contains(&labels), "{text}");
        assert!(
            !text.contains("secret"),
            "kubectl's applied copy is left out: {text}"
        );
        assert!(
            text.contains(&format!("note={}…", "a".repeat(MAX_ANNOTATION))),
            "{text}"
        );
        for line in [
            field("Created", "2026-12-07 10:00:00 UTC (2h ago)"),
            field("Controlled By", "ReplicaSet/web-5d"),
            field("Service Account", "<none>"),
            format!("    {}", field("State", "Waiting (CrashLoopBackOff)")),
            format!(
                "    {}",
                field("Last State", "Terminated (Error, exit code 1)")
            ),
            format!("    {}", field("Restart Count", 4)),
        ] {
            assert!(lines.contains(&line), "{line:?} in {text}");
        }
        assert!(
            text.contains("  Ready  False   ContainersNotReady"),
            "{text}"
        );
        assert_eq!(
            owner_of(&pod["metadata"]),
            Some(Related {
                kind: "ReplicaSet".into(),
                group: "apps".into(),
                namespace: Some("shop".into()),
                name: "web-5d".into()
            })
        );
        assert_eq!(
            owner_of(&pod["metadata"]).unwrap().kind_name(),
            "replicaset.apps"
        );
    }

    #[test]
    fn a_custom_resource_shows_its_spec_and_status_and_a_secret_no_values() {
        let backup = json!({
            "apiVersion": "velero.io/v1", "kind": "Backup",
            "metadata": {"name": "daily", "namespace": "velero"},
            "spec": {"ttl": "720h0m0s"},
            "status": {"phase": "Completed", "conditions": []}
        });
        let text = describe_lines(&backup, now()).join("\n");
        assert!(
            text.contains(&field("Kind", "Backup (velero.io/v1)")),
            "{text}"
        );
        assert!(text.contains("Spec:\n  ttl: 720h0m0s"), "{text}");
        assert!(text.contains("Status:\n  phase: Completed"), "{text}");
        assert!(!text.contains("conditions"), "{text}");
        // A Secret: its keys and their sizes, no value anywhere.
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": "s", "namespace": "shop",
                "annotations": {LAST_APPLIED: "{\"stringData\":{\"password\":\"hunter22\"}}"}},
            "data": {"password": "aHVudGVyMjI=", "user": "YWRtaW4="},
            "stringData": {"token": "plain-text-token"}});
        let text = describe_lines(&sizes_only(secret), now()).join("\n");
        assert!(text.contains(&field("Kind", "Secret (v1)")), "{text}");
        assert!(text.contains(&field("Data", "password: 8 bytes")), "{text}");
        assert!(text.contains("user: 5 bytes"), "{text}");
        for value in [
            "hunter22",
            "aHVudGVyMjI",
            "admin",
            "YWRtaW4",
            "plain-text-token",
        ] {
            assert!(!text.contains(value), "{value} leaked: {text}");
        }
    }

    #[test]
    fn events_show_their_counts_and_owned_objects_are_listed() {
        let events = vec![json!({"type": "Warning", "reason": "BackOff", "count": 3,
                   "lastTimestamp": "2026-12-07T11:59:00Z", "source": {"component": "kubelet"},
                   "message": "Back-off restarting"})];
        let text = event_lines(&Ok(events), now()).join("\n");
        assert!(
            text.contains("Warning  BackOff  1m (x3)  kubelet Back-off restarting"),
            "{text}"
        );
        assert_eq!(
            event_lines(&Ok(vec![]), now()),
            vec![field("Events", "<none>")]
        );
        let owned = vec![Related {
            kind: "Pod".into(),
            group: String::new(),
            namespace: Some("shop".into()),
            name: "web-1".into(),
        }];
        assert_eq!(owned[0].kind_name(), "pod");
        let text = owned_lines(&Some(Ok(owned))).join("\n");
        assert!(text.contains("Owns (1):\n  Pod/web-1"), "{text}");
        assert!(owned_lines(&None).is_empty());
    }
}
