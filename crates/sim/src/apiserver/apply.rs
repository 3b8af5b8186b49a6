//! Field ownership as the apiserver tracks it (`metadata.managedFields`, FieldsV1):
//! server-side apply merges what a manager applies, prunes what it applied before and
//! applies no more (unless another manager owns it too), and answers a change of a field
//! another manager owns with a 409 naming the fields and managers, unless `force=true`
//! takes them over. Other writes through the API (create, update, the other patches)
//! make their manager (`fieldManager`, else the client's name from its User-Agent) the
//! owner of what they set or changed.
//!
//! Lists with a merge key (containers by name, ports by containerPort...) are owned per
//! element (`k:{"name":"web"}`); other lists are atomic, owned whole.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::patch::merge_key;
use crate::status::ApiError;

/// A field's path: `f:spec`, `f:containers`, `k:{"name":"web"}`, `f:image`.
type FieldPath = Vec<String>;
type FieldSet = BTreeSet<FieldPath>;

/// Fields no manager owns: the object's identity and what the server sets.
fn unowned(path: &[String]) -> bool {
    matches!(
        path.iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice(),
        ["f:apiVersion"]
            | ["f:kind"]
            | ["f:status", ..]
            | ["f:metadata", "f:name"]
            | ["f:metadata", "f:namespace"]
            | ["f:metadata", "f:uid"]
            | ["f:metadata", "f:resourceVersion"]
            | ["f:metadata", "f:generation"]
            | ["f:metadata", "f:creationTimestamp"]
            | ["f:metadata", "f:deletionTimestamp"]
            | ["f:metadata", "f:deletionGracePeriodSeconds"]
            | ["f:metadata", "f:managedFields", ..]
            | ["f:metadata", "f:selfLink"]
    )
}

/// The leaf fields `v` sets.
fn leaves(v: &Value) -> FieldSet {
    let mut out = FieldSet::new();
    walk(v, &mut Vec::new(), &mut out);
    out.retain(|p| !unowned(p));
    out
}

fn walk(v: &Value, path: &mut FieldPath, out: &mut FieldSet) {
    let Some(map) = v.as_object().filter(|m| !m.is_empty()) else {
        out.insert(path.clone());
        return;
    };
    for (k, child) in map {
        path.push(format!("f:{k}"));
        match (child, merge_key(k)) {
            (Value::Array(items), Some(key)) if items.iter().all(Value::is_object) => {
                for item in items {
                    path.push(format!("k:{}", json!({ key: item[key] })));
                    walk(item, path, out);
                    path.pop();
                }
            }
            _ => walk(child, path, out),
        }
        path.pop();
    }
}

/// The value at `path` in `v`.
fn get<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    let Some((first, rest)) = path.split_first() else {
        return Some(v);
    };
    let next = match first.split_once(':') {
        Some(("f", name)) => v.get(name)?,
        Some(("k", key)) => {
            let key: Map<String, Value> = serde_json::from_str(key).ok()?;
            v.as_array()?
                .iter()
                .find(|item| key.iter().all(|(k, want)| &item[k] == want))?
        }
        _ => return None,
    };
    get(next, rest)
}

/// Sets `value` at `path` in `v`, making what leads there.
fn set(v: &mut Value, path: &[String], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        *v = value;
        return;
    };
    match first.split_once(':') {
        Some(("f", name)) => {
            if !v.is_object() {
                *v = Value::Object(Map::new());
            }
            let next = v
                .as_object_mut()
                .expect("made an object above")
                .entry(name.to_owned())
                .or_insert(Value::Null);
            set(next, rest, value);
        }
        Some(("k", key)) => {
            let Ok(key) = serde_json::from_str::<Map<String, Value>>(key) else {
                return;
            };
            if !v.is_array() {
                *v = Value::Array(Vec::new());
            }
            let list = v.as_array_mut().expect("made an array above");
            let at = match list
                .iter()
                .position(|item| key.iter().all(|(k, want)| &item[k] == want))
            {
                Some(i) => i,
                None => {
                    list.push(Value::Object(key));
                    list.len() - 1
                }
            };
            set(&mut list[at], rest, value);
        }
        _ => {}
    }
}

/// Whether `path` is a key field of a list element (`k:{"name":"web"}`, then `f:name`).
fn is_key_field(path: &[String]) -> bool {
    let [.., item, field] = path else {
        return false;
    };
    let (Some(("k", key)), Some(("f", name))) = (item.split_once(':'), field.split_once(':'))
    else {
        return false;
    };
    serde_json::from_str::<Map<String, Value>>(key).is_ok_and(|k| k.contains_key(name))
}

/// Removes the field at `path`, and a list element left with its key alone.
fn remove(v: &mut Value, path: &[String]) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    // A key field is not removed on its own: its element goes once nothing else is left.
    let key_field = is_key_field(path);
    let Some(holder) = get_mut(v, parent) else {
        return;
    };
    if let (Some(("f", name)), Some(map)) = (last.split_once(':'), holder.as_object_mut())
        && !key_field
    {
        map.remove(name);
    }
    // An element of a keyed list left with only its key goes with its last field.
    if let Some((item_key, list_path)) = parent.split_last()
        && let Some(("k", key)) = item_key.split_once(':')
        && let Ok(key) = serde_json::from_str::<Map<String, Value>>(key)
        && holder
            .as_object()
            .is_some_and(|m| m.keys().all(|k| key.contains_key(k)))
        && let Some(list) = get_mut(v, list_path).and_then(Value::as_array_mut)
    {
        list.retain(|item| !key.iter().all(|(k, want)| &item[k] == want));
    }
}

fn get_mut<'a>(v: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    let Some((first, rest)) = path.split_first() else {
        return Some(v);
    };
    let next = match first.split_once(':') {
        Some(("f", name)) => v.get_mut(name)?,
        Some(("k", key)) => {
            let key: Map<String, Value> = serde_json::from_str(key).ok()?;
            v.as_array_mut()?
                .iter_mut()
                .find(|item| key.iter().all(|(k, want)| &item[k] == want))?
        }
        _ => return None,
    };
    get_mut(next, rest)
}

/// A field set as FieldsV1: nested maps, `{}` at each leaf, `.` marking a list element.
fn to_fields_v1(set: &FieldSet) -> Value {
    let mut root = Map::new();
    for path in set {
        let mut node = &mut root;
        for segment in path {
            let entry = node
                .entry(segment.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            node = entry.as_object_mut().expect("FieldsV1 nodes are objects");
            if segment.starts_with("k:") {
                node.entry(".".to_owned()).or_insert_with(|| json!({}));
            }
        }
    }
    Value::Object(root)
}

fn from_fields_v1(v: &Value) -> FieldSet {
    fn go(v: &Value, path: &mut FieldPath, out: &mut FieldSet) {
        let children: Vec<(&String, &Value)> = v
            .as_object()
            .map(|m| m.iter().filter(|(k, _)| k.as_str() != ".").collect())
            .unwrap_or_default();
        if children.is_empty() {
            if !path.is_empty() {
                out.insert(path.clone());
            }
            return;
        }
        for (k, child) in children {
            path.push(k.clone());
            go(child, path, out);
            path.pop();
        }
    }
    let mut out = FieldSet::new();
    go(v, &mut Vec::new(), &mut out);
    out
}

/// One entry of `metadata.managedFields`.
#[derive(Debug, Clone)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    time: String,
    fields: FieldSet,
}

impl Entry {
    fn is(&self, manager: &str, operation: &str) -> bool {
        self.manager == manager && self.operation == operation
    }
}

fn entries(obj: &Value) -> Vec<Entry> {
    obj["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| Entry {
            manager: e["manager"].as_str().unwrap_or_default().to_owned(),
            operation: e["operation"].as_str().unwrap_or("Update").to_owned(),
            api_version: e["apiVersion"].as_str().unwrap_or_default().to_owned(),
            time: e["time"].as_str().unwrap_or_default().to_owned(),
            fields: from_fields_v1(&e["fieldsV1"]),
        })
        .collect()
}

fn store_entries(obj: &mut Value, entries: Vec<Entry>) {
    let list: Vec<Value> = entries
        .into_iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            json!({
                "manager": e.manager, "operation": e.operation, "apiVersion": e.api_version,
                "time": e.time, "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(&e.fields),
            })
        })
        .collect();
    if list.is_empty() {
        if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("managedFields");
        }
    } else {
        obj["metadata"]["managedFields"] = Value::Array(list);
    }
}

/// A field's path as the apiserver prints it: `.spec.containers[name="web"].image`.
fn shown(path: &[String]) -> String {
    path.iter()
        .map(|s| match s.split_once(':') {
            Some(("f", name)) => format!(".{name}"),
            Some(("k", key)) => {
                let key: Map<String, Value> = serde_json::from_str(key).unwrap_or_default();
                let parts: Vec<String> = key.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("[{}]", parts.join(","))
            }
            _ => s.clone(),
        })
        .collect()
}

/// Who writes, and how: the manager, the apiVersion it writes in, the time.
pub struct Writer {
    pub manager: String,
    pub api_version: String,
    pub now: String,
}

/// Server-side apply of `config` by `writer` onto `current` (none: a create). A field
/// another manager owns with another value is a conflict: a 409 listing them all,
/// unless `force`, which takes them over.
pub fn apply(
    current: Option<&Value>,
    config: &Value,
    writer: &Writer,
    force: bool,
) -> Result<Value, ApiError> {
    let empty = json!({});
    let cur = current.unwrap_or(&empty);
    let mut owners = entries(cur);
    let mine = owners
        .iter()
        .position(|e| e.is(&writer.manager, "Apply"))
        .map(|i| owners.remove(i).fields)
        .unwrap_or_default();
    let wanted = leaves(config);
    let mut conflicts: BTreeMap<String, Vec<FieldPath>> = BTreeMap::new();
    for path in &wanted {
        let Some(have) = get(cur, path) else { continue };
        if Some(have) == get(config, path) {
            continue;
        }
        for e in owners.iter().filter(|e| e.fields.contains(path)) {
            conflicts.entry(printed(e)).or_default().push(path.clone());
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflict_error(&conflicts));
    }
    // A create starts from the config itself, with its name and kind.
    let mut out = current.cloned().unwrap_or_else(|| config.clone());
    // What this manager applied before and applies no more goes, unless another owns it.
    // A list element's key goes last, with the element, once nothing else is left of it.
    let mut gone: Vec<&FieldPath> = mine
        .difference(&wanted)
        .filter(|p| !owners.iter().any(|e| e.fields.contains(*p)))
        .collect();
    gone.sort_by_key(|p| is_key_field(p));
    for path in gone {
        remove(&mut out, path);
    }
    for path in &wanted {
        let Some(value) = get(config, path) else {
            continue;
        };
        // An empty map asks only that the map be there: what others set in it stays.
        let empty_map = value.as_object().is_some_and(Map::is_empty);
        if empty_map && get(&out, path).is_some_and(Value::is_object) {
            continue;
        }
        set(&mut out, path, value.clone());
    }
    // Forced: the conflicting fields are this manager's alone now.
    let taken: BTreeSet<&FieldPath> = conflicts.values().flatten().collect();
    for e in &mut owners {
        e.fields.retain(|p| !taken.contains(p));
    }
    owners.push(Entry {
        manager: writer.manager.clone(),
        operation: "Apply".into(),
        api_version: writer.api_version.clone(),
        time: writer.now.clone(),
        fields: wanted,
    });
    store_entries(&mut out, owners);
    Ok(out)
}

/// Any other write: `writer` owns every field it set or changed, which others no longer
/// do; fields it removed are nobody's. `next` keeps `current`'s managedFields when it
/// names none, as clients that read and write back an object may leave them out.
pub fn update(current: Option<&Value>, next: &mut Value, writer: &Writer) {
    let empty = json!({});
    let cur = current.unwrap_or(&empty);
    let mut owners = match next["metadata"].get("managedFields") {
        Some(Value::Array(given)) if !given.is_empty() => entries(next),
        _ => entries(cur),
    };
    let before = leaves(cur);
    let after = leaves(next);
    let changed: FieldSet = after
        .iter()
        .filter(|p| get(cur, p) != get(next, p))
        .cloned()
        .collect();
    let removed: FieldSet = before.difference(&after).cloned().collect();
    for e in &mut owners {
        e.fields
            .retain(|p| !changed.contains(p) && !removed.contains(p));
    }
    if !changed.is_empty() {
        match owners.iter_mut().find(|e| e.is(&writer.manager, "Update")) {
            Some(e) => {
                e.fields.extend(changed);
                e.time = writer.now.clone();
            }
            None => owners.push(Entry {
                manager: writer.manager.clone(),
                operation: "Update".into(),
                api_version: writer.api_version.clone(),
                time: writer.now.clone(),
                fields: changed,
            }),
        }
    }
    store_entries(next, owners);
}

/// A manager as the apiserver names it in a conflict: an applier by its name, an updater
/// with the apiVersion it wrote and when.
fn printed(e: &Entry) -> String {
    match (e.operation.as_str(), e.time.is_empty()) {
        ("Update", true) => format!("{:?} using {}", e.manager, e.api_version),
        ("Update", false) => format!("{:?} using {} at {}", e.manager, e.api_version, e.time),
        _ => format!("{:?}", e.manager),
    }
}

fn conflict_error(conflicts: &BTreeMap<String, Vec<FieldPath>>) -> ApiError {
    let count: usize = conflicts.values().map(Vec::len).sum();
    let mut causes = Vec::new();
    let mut lines = Vec::new();
    for (manager, paths) in conflicts {
        let with = format!("conflict with {manager}");
        for p in paths {
            causes
                .push(json!({"type": "FieldManagerConflict", "message": with, "field": shown(p)}));
        }
        lines.push(match paths.as_slice() {
            [one] if count == 1 => format!("{with}: {}", shown(one)),
            _ => format!(
                "conflicts with {manager}:\n{}",
                paths
                    .iter()
                    .map(|p| format!("- {}", shown(p)))
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        });
    }
    let plural = if count == 1 { "conflict" } else { "conflicts" };
    ApiError::field_conflict(
        format!("Apply failed with {count} {plural}: {}", lines.join("\n")),
        causes,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer(manager: &str) -> Writer {
        Writer {
            manager: manager.into(),
            api_version: "apps/v1".into(),
            now: "2026-12-08T02:00:00Z".into(),
        }
    }

    fn deploy(replicas: i64, image: &str, labels: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": labels},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "web", "image": image}]}}}})
    }

    #[test]
    fn fields_are_owned_by_element_of_keyed_lists_and_round_trip_through_fields_v1() {
        let set = leaves(&deploy(2, "nginx", json!({"app": "web"})));
        let paths: Vec<String> = set.iter().map(|p| shown(p)).collect();
        assert_eq!(
            paths,
            [
                ".metadata.labels.app",
                ".spec.replicas",
                ".spec.template.spec.containers[name=\"web\"].image",
                ".spec.template.spec.containers[name=\"web\"].name",
            ]
        );
        let v1 = to_fields_v1(&set);
        assert_eq!(
            v1["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"]["."],
            json!({})
        );
        assert_eq!(from_fields_v1(&v1), set);
    }

    #[test]
    fn apply_records_the_manager_prunes_what_it_dropped_and_shares_equal_values() {
        let first = apply(
            None,
            &deploy(2, "nginx", json!({"app": "web", "tier": "front"})),
            &writer("ci"),
            false,
        )
        .unwrap();
        assert_eq!(first["metadata"]["managedFields"][0]["manager"], "ci");
        assert_eq!(first["metadata"]["managedFields"][0]["operation"], "Apply");
        // The label dropped from the config goes.
        let second = apply(
            Some(&first),
            &deploy(2, "nginx", json!({"app": "web"})),
            &writer("ci"),
            false,
        )
        .unwrap();
        assert_eq!(second["metadata"]["labels"], json!({"app": "web"}));
        // Another manager applying the same value shares it: no conflict.
        let shared = apply(
            Some(&second),
            &deploy(2, "nginx", json!({})),
            &writer("other"),
            false,
        )
        .unwrap();
        assert_eq!(entries(&shared).len(), 2);
        // ci drops replicas; other still owns it, so it stays.
        let kept = apply(Some(&shared), &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}}, "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}), &writer("ci"), false).unwrap();
        assert_eq!(kept["spec"]["replicas"], 2);
    }

    #[test]
    fn a_changed_field_of_another_manager_conflicts_unless_forced() {
        let mut edited = apply(None, &deploy(2, "nginx", json!({})), &writer("ci"), false).unwrap();
        let before = edited.clone();
        edited["spec"]["replicas"] = json!(5);
        update(Some(&before), &mut edited, &writer("kubectl-edit"));
        let e = entries(&edited);
        assert!(e.iter().any(|e| e.is("kubectl-edit", "Update")));
        let err = apply(
            Some(&edited),
            &deploy(3, "nginx", json!({})),
            &writer("ci"),
            false,
        )
        .unwrap_err();
        assert_eq!(err.code, 409);
        assert_eq!(
            err.message,
            "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1 at \
             2026-12-08T02:00:00Z: .spec.replicas"
        );
        let forced = apply(
            Some(&edited),
            &deploy(3, "nginx", json!({})),
            &writer("ci"),
            true,
        )
        .unwrap();
        assert_eq!(forced["spec"]["replicas"], 3);
        assert!(
            !entries(&forced).iter().any(|e| e.manager == "kubectl-edit"),
            "taken over"
        );
    }

    /// The element goes whole, whichever of its fields sorts first (`value` after
    /// `name`, `image` before it).
    #[test]
    fn removing_the_last_field_of_a_list_element_removes_the_element() {
        let two = json!({"spec": {"containers": [
            {"name": "a", "image": "x", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]},
            {"name": "b", "image": "y"}]}});
        let first = apply(None, &two, &writer("ci"), false).unwrap();
        let one = json!({"spec": {"containers": [{"name": "a", "image": "x", "env": [{"name": "X", "value": "1"}]}]}});
        let pruned = apply(Some(&first), &one, &writer("ci"), false).unwrap();
        assert_eq!(pruned["spec"]["containers"], one["spec"]["containers"]);
    }

    /// `resources: {}` asks for the map, and takes nothing another manager set in it.
    #[test]
    fn an_empty_map_keeps_what_others_set_in_it() {
        let first = apply(
            None,
            &json!({"spec": {"resources": {"limits": {"cpu": "1"}}}}),
            &writer("other"),
            false,
        )
        .unwrap();
        let applied = apply(
            Some(&first),
            &json!({"spec": {"resources": {}}}),
            &writer("ci"),
            false,
        )
        .unwrap();
        assert_eq!(
            applied["spec"]["resources"],
            json!({"limits": {"cpu": "1"}})
        );
    }

    #[test]
    fn an_appliers_conflict_names_it_alone() {
        let first = apply(
            None,
            &json!({"data": {"mode": "fast"}}),
            &writer("kubectl"),
            false,
        )
        .unwrap();
        let err = apply(
            Some(&first),
            &json!({"data": {"mode": "slow"}}),
            &writer("other"),
            false,
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "Apply failed with 1 conflict: conflict with \"kubectl\": .data.mode"
        );
    }
}
