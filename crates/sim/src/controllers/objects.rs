//! Helpers on stored objects that every controller shares: ownership, conditions,
//! counts, generated names, and the one way a controller changes an existing object
//! ([`patch`]). It imports no controller, so every controller may import it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::clock::{k8s_time, parse_time};
use crate::registry::KindId;
use crate::status::ApiError;
use crate::store::{DeleteOptions, Obj, Store, name_of, namespace_of, uid_of};

// ---- Reading objects ----

/// Marked for deletion: finalizers or a grace period still hold it.
pub fn is_terminating(obj: &Value) -> bool {
    obj["metadata"]["deletionTimestamp"].is_string()
}

/// The value of an annotation, if set.
pub(crate) fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj["metadata"]["annotations"][key].as_str()
}

/// A string field, or empty.
pub(crate) fn str_at(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// `status.phase`, or empty.
pub(crate) fn phase(o: &Value) -> &str {
    str_at(&o["status"]["phase"])
}

/// `spec.replicas`, defaulting to 1 as the API does.
pub(crate) fn replicas_of(obj: &Value) -> i64 {
    obj["spec"]["replicas"].as_i64().unwrap_or(1).max(0)
}

/// An IntOrString (`3` or `"25%"`) scaled against `total`.
pub fn scaled(v: &Value, total: i64, round_up: bool) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => match s.strip_suffix('%') {
            Some(p) => {
                let x = total * p.trim().parse::<i64>().ok()?;
                Some(if round_up {
                    (x + 99).div_euclid(100)
                } else {
                    x.div_euclid(100)
                })
            }
            None => s.trim().parse().ok(),
        },
        _ => None,
    }
}

/// `metadata.creationTimestamp`, parsed.
pub(crate) fn created(obj: &Value) -> Option<DateTime<Utc>> {
    obj["metadata"]["creationTimestamp"]
        .as_str()
        .and_then(parse_time)
}

/// Oldest first, names breaking ties (timestamps have whole seconds), compared as
/// written.
pub(crate) fn age_key(o: &Value) -> (String, String) {
    (
        o["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        name_of(o).to_string(),
    )
}

// ---- Ownership ----

/// An ownerReference naming `owner` as the managing controller.
pub fn owner_ref(owner: &Value) -> Value {
    json!({
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": name_of(owner),
        "uid": uid_of(owner),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// The ownerReference with `controller: true`, if any.
pub fn controller_of(obj: &Value) -> Option<&Value> {
    obj["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == true)
}

/// The uid of the managing controller, if any.
pub fn controller_uid(obj: &Value) -> Option<&str> {
    controller_of(obj).and_then(|r| r["uid"].as_str())
}

/// Objects grouped by the uid of their managing controller.
pub(crate) fn index_by_controller(objs: &[Obj]) -> HashMap<&str, Vec<&Obj>> {
    let mut index: HashMap<&str, Vec<&Obj>> = HashMap::new();
    for o in objs {
        if let Some(uid) = controller_uid(o) {
            index.entry(uid).or_default().push(o);
        }
    }
    index
}

// ---- Conditions ----

/// The condition of this type in a `conditions` list.
pub(crate) fn find_condition<'a>(conditions: &'a Value, type_: &str) -> Option<&'a Value> {
    conditions.as_array()?.iter().find(|c| c["type"] == type_)
}

/// Whether a condition of this type is currently True.
pub(crate) fn condition_true(obj: &Value, type_: &str) -> bool {
    find_condition(&obj["status"]["conditions"], type_).is_some_and(|c| c["status"] == "True")
}

/// A condition as the real controllers write it. `lastTransitionTime` only moves when the
/// status flips. With `update`, the condition also carries `lastUpdateTime`
/// (Deployments), moved when anything about it changes or `update` is `Some(true)`.
pub(crate) fn condition(
    previous: &Value,
    (type_, status, reason, message): (&str, &str, &str, &str),
    now: DateTime<Utc>,
    update: Option<bool>,
) -> Value {
    let prev = find_condition(previous, type_);
    let same_status = prev.is_some_and(|p| p["status"] == status);
    let stamp = json!(k8s_time(now));
    let transition = match prev {
        Some(p) if same_status => p["lastTransitionTime"].clone(),
        _ => stamp.clone(),
    };
    let mut c = json!({
        "type": type_,
        "status": status,
        "lastTransitionTime": transition,
        "reason": reason,
        "message": message,
    });
    if let Some(bump) = update {
        let same =
            same_status && prev.is_some_and(|p| p["reason"] == reason && p["message"] == message);
        c["lastUpdateTime"] = match prev {
            Some(p) if same && !bump && p["lastUpdateTime"].is_string() => {
                p["lastUpdateTime"].clone()
            }
            _ => stamp,
        };
    }
    c
}

// ---- Generated names ----

/// Characters the apiserver uses for generated names (no vowels, no look-alikes).
const SAFE: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// `n` as `len` characters of the apiserver's generated-name alphabet.
pub(crate) fn safe_encode(mut n: u64, len: usize) -> String {
    (0..len)
        .map(|_| {
            let c = SAFE[(n % SAFE.len() as u64) as usize] as char;
            n /= SAFE.len() as u64;
            c
        })
        .collect()
}

// ---- Changing objects ----

/// `status` as a map, created when missing.
pub(crate) fn status_mut(o: &mut Value) -> &mut Map<String, Value> {
    if !o["status"].is_object() {
        o["status"] = json!({});
    }
    o["status"]
        .as_object_mut()
        .expect("status was just made an object")
}

/// Read-modify-write of the current version of `obj`: `f` changes a copy of what the
/// store holds now, and the result is written unless `obj` was deleted and recreated
/// under the same name meanwhile (its uid changed) or `f` changed nothing. `f` runs
/// under the store's lock, so it must not touch the store. Returns the object as
/// written, or `None` when nothing was.
///
/// Working on the current version rather than the listed copy is what makes a
/// controller's write safe without a resourceVersion precondition: what another
/// writer changed meanwhile is kept.
pub(crate) fn patch(
    store: &Store,
    kind: KindId,
    obj: &Value,
    f: impl FnOnce(&mut Value),
) -> Option<Obj> {
    let uid = uid_of(obj);
    let mut before = Value::Null;
    let written = store
        .replace(kind, namespace_of(obj), name_of(obj), |cur| {
            if uid_of(cur) != uid {
                return Err(ApiError::bad_request("object was replaced"));
            }
            before = cur["metadata"]["resourceVersion"].clone();
            let mut next = cur.clone();
            f(&mut next);
            Ok(next)
        })
        .ok()?;
    (written["metadata"]["resourceVersion"] != before).then_some(written)
}

/// Replaces the status of `obj` when it differs; true if it wrote.
pub(crate) fn write_status(store: &Store, kind: KindId, obj: &Value, status: Value) -> bool {
    if obj.get("status") == Some(&status) {
        return false;
    }
    patch(store, kind, obj, |next| next["status"] = status).is_some()
}

/// Deletes `obj` (gracefully, for pods); true if anything happened.
pub(crate) fn delete(store: &Store, kind: KindId, obj: &Value) -> bool {
    store
        .delete(
            kind,
            namespace_of(obj),
            name_of(obj),
            DeleteOptions::default(),
        )
        .is_ok()
}

/// Deletes all of `objs`; true if anything happened.
pub(crate) fn delete_all(store: &Store, kind: KindId, objs: &[&Obj]) -> bool {
    objs.iter()
        .fold(false, |acc, o| delete(store, kind, o) | acc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::selector_matches;

    #[test]
    fn selectors_and_percentages() {
        let labels = json!({"app": "web", "tier": "front"});
        assert!(selector_matches(&json!({}), &labels));
        assert!(!selector_matches(&Value::Null, &labels));
        assert!(selector_matches(
            &json!({"matchLabels": {"app": "web"}}),
            &labels
        ));
        assert!(!selector_matches(
            &json!({"matchLabels": {"app": "db"}}),
            &labels
        ));
        let expr = json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "back"]}, {"key": "canary", "operator": "DoesNotExist"}]});
        assert!(selector_matches(&expr, &labels));
        assert_eq!(scaled(&json!("25%"), 10, true), Some(3));
        assert_eq!(scaled(&json!("25%"), 10, false), Some(2));
        assert_eq!(scaled(&json!(2), 10, false), Some(2));
        assert_eq!(scaled(&json!("3"), 10, false), Some(3));
    }
}
