//! The four patch types the apiserver accepts: JSON merge (RFC 7386), JSON patch
//! (RFC 6902), strategic merge (for the built-in kinds' keyed lists) and server-side
//! apply, whose field ownership is [`super::apply`]'s (here only a merge that never
//! deletes, for an apply to a subresource).

use serde_json::{Map, Value};

use crate::status::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    Merge,
    Json,
    Strategic,
    Apply,
}

/// The patch media types every kind takes.
const ACCEPTED: [&str; 3] = [
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
];
/// The one only built-in kinds take: a custom resource has no Go struct to tell the merge
/// keys of its lists.
const STRATEGIC: &str = "application/strategic-merge-patch+json";

impl PatchType {
    /// The patch type of content type `ct`, for a kind of API group `group`.
    pub fn from_content_type(ct: &str, group: &str) -> Result<PatchType, ApiError> {
        let base = ct.split(';').next().unwrap_or("").trim();
        let custom = is_custom_group(group);
        let mut accepted = ACCEPTED.to_vec();
        if !custom {
            accepted.push(STRATEGIC);
        }
        match base {
            "application/merge-patch+json" => Ok(PatchType::Merge),
            "application/json-patch+json" => Ok(PatchType::Json),
            STRATEGIC if !custom => Ok(PatchType::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => Ok(PatchType::Apply),
            _ => Err(ApiError::unsupported_media(&accepted)),
        }
    }
}

/// The API groups the apiserver serves itself; any other is a custom resource's.
const BUILT_IN_GROUPS: &[&str] = &[
    "",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "apps",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "events.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "internal.apiserver.k8s.io",
    "networking.k8s.io",
    "node.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "resource.k8s.io",
    "scheduling.k8s.io",
    "storage.k8s.io",
    "storagemigration.k8s.io",
];

/// Whether `group` is a custom resource's (a CRD's, such as `velero.io` or
/// `gateway.networking.k8s.io`), which takes no strategic merge patch.
pub fn is_custom_group(group: &str) -> bool {
    !BUILT_IN_GROUPS.contains(&group)
}

/// Parses a patch body: JSON for all types, YAML too for apply.
pub fn parse_body(kind: PatchType, body: &[u8]) -> Result<Value, ApiError> {
    let parsed = match kind {
        PatchType::Apply => serde_yaml_ng::from_slice::<Value>(body).map_err(|e| e.to_string()),
        _ => serde_json::from_slice::<Value>(body).map_err(|e| e.to_string()),
    };
    parsed.map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))
}

/// Applies `patch` of the given type to `target`.
pub fn apply(kind: PatchType, target: &Value, patch: &Value) -> Result<Value, ApiError> {
    let mut doc = target.clone();
    match kind {
        PatchType::Merge => json_patch::merge(&mut doc, patch),
        PatchType::Json => {
            let ops: json_patch::Patch = serde_json::from_value(patch.clone())
                .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
            json_patch::patch(&mut doc, &ops).map_err(|e| {
                ApiError::invalid("", "", format!("the JSON patch could not be applied: {e}"))
            })?;
        }
        PatchType::Strategic => strategic_merge(&mut doc, patch),
        PatchType::Apply => apply_merge(&mut doc, patch),
    }
    Ok(doc)
}

/// The merge key of the built-in lists that strategic merge patches merge by element
/// (and server-side apply owns by element).
pub(crate) fn merge_key(field: &str) -> Option<&'static str> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "containerStatuses" => "name",
        "volumeMounts" => "mountPath",
        "conditions" => "type",
        "taints" => "key",
        "ports" => "containerPort",
        "ownerReferences" => "uid",
        _ => return None,
    })
}

fn strategic_merge(target: &mut Value, patch: &Value) {
    let Some(p) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if p.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut replaced = patch.clone();
        strip_directives(&mut replaced);
        *target = replaced;
        return;
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let obj = target.as_object_mut().expect("made an object above");
    for (k, v) in p {
        if k.starts_with('$') {
            continue;
        }
        match v {
            Value::Null => {
                obj.remove(k);
            }
            Value::Array(items) => match merge_key(k) {
                Some(key) if items.iter().all(Value::is_object) => {
                    let current = obj.entry(k.clone()).or_insert(Value::Array(vec![]));
                    merge_keyed_list(current, items, key);
                }
                _ => {
                    obj.insert(k.clone(), v.clone());
                }
            },
            Value::Object(_) => {
                let entry = obj.entry(k.clone()).or_insert(Value::Null);
                strategic_merge(entry, v);
            }
            _ => {
                obj.insert(k.clone(), v.clone());
            }
        }
    }
}

fn merge_keyed_list(current: &mut Value, patch_items: &[Value], key: &str) {
    if !current.is_array() {
        *current = Value::Array(vec![]);
    }
    let list = current.as_array_mut().expect("made an array above");
    for item in patch_items {
        let id = &item[key];
        let pos = list.iter().position(|e| &e[key] == id);
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (pos, delete) {
            (Some(i), true) => {
                list.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => strategic_merge(&mut list[i], item),
            (None, false) => {
                let mut fresh = item.clone();
                strip_directives(&mut fresh);
                list.push(fresh);
            }
        }
    }
}

fn strip_directives(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !k.starts_with('$'));
            m.values_mut().for_each(strip_directives);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_directives),
        _ => {}
    }
}

/// Server-side apply for a single manager: set every field the applied config names.
fn apply_merge(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(t), Some(p)) => {
            for (k, v) in p {
                apply_merge(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        _ => *target = patch.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn content_types_map_to_patch_types() {
        assert_eq!(
            PatchType::from_content_type("application/merge-patch+json; charset=utf-8", "apps")
                .unwrap(),
            PatchType::Merge
        );
        assert_eq!(
            PatchType::from_content_type("application/apply-patch+yaml", "velero.io").unwrap(),
            PatchType::Apply
        );
        let plain = PatchType::from_content_type("text/plain", "").unwrap_err();
        assert_eq!(plain.code, 415);
        assert!(
            plain
                .message
                .ends_with("application/strategic-merge-patch+json"),
            "{}",
            plain.message
        );
        // A custom resource takes no strategic merge patch, as the apiserver answers.
        assert_eq!(
            PatchType::from_content_type(STRATEGIC, "apps").unwrap(),
            PatchType::Strategic
        );
        assert_eq!(
            PatchType::from_content_type(STRATEGIC, "networking.k8s.io").unwrap(),
            PatchType::Strategic
        );
        assert_eq!(
            PatchType::from_content_type(STRATEGIC, "gateway.networking.k8s.io")
                .unwrap_err()
                .code,
            415,
            "a CRD's group under k8s.io is still a CRD's"
        );
        let cr = PatchType::from_content_type(STRATEGIC, "cluster.x-k8s.io").unwrap_err();
        assert_eq!(cr.code, 415);
        assert_eq!(
            cr.message,
            "the body of the request was in an unknown format - accepted media types include: \
             application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
        );
    }

    #[test]
    fn merge_patch_sets_and_removes() {
        let out = apply(
            PatchType::Merge,
            &json!({"spec": {"a": 1, "b": 2}}),
            &json!({"spec": {"a": null, "c": 3}}),
        )
        .unwrap();
        assert_eq!(out, json!({"spec": {"b": 2, "c": 3}}));
    }

    #[test]
    fn json_patch_ops_and_failures() {
        let out = apply(
            PatchType::Json,
            &json!({"spec": {"replicas": 1}}),
            &json!([{"op": "replace", "path": "/spec/replicas", "value": 4}]),
        )
        .unwrap();
        assert_eq!(out["spec"]["replicas"], 4);
        let err = apply(
            PatchType::Json,
            &json!({}),
            &json!([{"op": "remove", "path": "/nope"}]),
        )
        .unwrap_err();
        assert_eq!(err.code, 422);
    }

    #[test]
    fn strategic_merge_merges_containers_by_name_and_deletes() {
        let pod = json!({"spec": {"containers": [{"name": "a", "image": "x:1"}, {"name": "b", "image": "y:1"}]}});
        let patch = json!({"$setElementOrder/containers": [{"name": "a"}], "spec": {"containers": [{"name": "a", "image": "x:2"}, {"name": "b", "$patch": "delete"}, {"name": "c", "image": "z:1"}]}});
        let out = apply(PatchType::Strategic, &pod, &patch).unwrap();
        assert_eq!(
            out["spec"]["containers"],
            json!([{"name": "a", "image": "x:2"}, {"name": "c", "image": "z:1"}])
        );
    }

    #[test]
    fn strategic_merge_cordon_patch() {
        let out = apply(
            PatchType::Strategic,
            &json!({"spec": {}}),
            &json!({"spec": {"unschedulable": true}}),
        )
        .unwrap();
        assert_eq!(out["spec"]["unschedulable"], true);
    }

    #[test]
    fn apply_parses_yaml_and_merges_without_deleting() {
        let body = parse_body(PatchType::Apply, b"spec:\n  replicas: 2\n").unwrap();
        let out = apply(
            PatchType::Apply,
            &json!({"spec": {"replicas": 1, "paused": false}}),
            &body,
        )
        .unwrap();
        assert_eq!(out, json!({"spec": {"replicas": 2, "paused": false}}));
    }
}
