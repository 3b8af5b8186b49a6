//! Where a pod may run: taints and tolerations, `nodeSelector` and required node
//! affinity. Shared by the scheduler, the DaemonSet controller and taint-based eviction;
//! it imports no controller.

use serde_json::Value;

use crate::labels::Requirement;
use crate::store::name_of;

/// Whether one toleration tolerates one taint; `operator: Exists` without a key
/// tolerates every taint (of its effect, or of all effects when none is given).
pub fn tolerates(toleration: &Value, taint: &Value) -> bool {
    let effect_ok = toleration["effect"]
        .as_str()
        .is_none_or(|e| e.is_empty() || taint["effect"] == e);
    let key = toleration["key"].as_str().unwrap_or("");
    let key_ok = key.is_empty() && toleration["operator"] == "Exists" || taint["key"] == key;
    let value_ok = match toleration["operator"].as_str() {
        Some("Exists") => true,
        _ => toleration["value"].as_str().unwrap_or("") == taint["value"].as_str().unwrap_or(""),
    };
    effect_ok && key_ok && value_ok
}

/// Whether every taint with one of `effects` is tolerated by one of `tolerations`.
pub fn tolerates_all(tolerations: &Value, taints: &Value, effects: &[&str]) -> bool {
    untolerated(tolerations, taints, effects).is_none()
}

/// The first taint with one of `effects` that none of `tolerations` tolerates.
pub fn untolerated<'a>(
    tolerations: &Value,
    taints: &'a Value,
    effects: &[&str],
) -> Option<&'a Value> {
    let tols = tolerations.as_array().map_or(&[][..], Vec::as_slice);
    taints.as_array()?.iter().find(|taint| {
        effects.iter().any(|e| taint["effect"] == *e) && !tols.iter().any(|t| tolerates(t, taint))
    })
}

/// `nodeSelector` and required node affinity (label expressions and the
/// `metadata.name` field DaemonSet pods are pinned with).
pub fn node_selected(pod_spec: &Value, node: &Value) -> bool {
    let labels = &node["metadata"]["labels"];
    let by_selector = pod_spec["nodeSelector"]
        .as_object()
        .is_none_or(|m| m.iter().all(|(k, v)| labels.get(k) == Some(v)));
    let terms = pod_spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        .as_array();
    let by_affinity = match terms {
        Some(terms) if !terms.is_empty() => terms.iter().any(|term| {
            let exprs = |field: &str| term[field].as_array().map_or(&[][..], Vec::as_slice).iter();
            // A requirement that cannot be converted fails its term, as in the real
            // scheduler.
            let holds = |e: &Value, value: Option<&str>| {
                Requirement::from_expression(e).is_ok_and(|r| r.matches(value))
            };
            exprs("matchExpressions")
                .all(|e| holds(e, labels[e["key"].as_str().unwrap_or("")].as_str()))
                && exprs("matchFields")
                    .all(|e| e["key"] == "metadata.name" && holds(e, Some(name_of(node))))
        }),
        _ => true,
    };
    by_selector && by_affinity
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn tolerations_match_taints() {
        let cp = json!({"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"});
        assert!(tolerates(&json!({"operator": "Exists"}), &cp));
        assert!(tolerates(
            &json!({"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"}),
            &cp
        ));
        assert!(!tolerates(
            &json!({"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoExecute"}),
            &cp
        ));
        assert!(tolerates(
            &json!({"key": "node-role.kubernetes.io/control-plane", "value": "", "effect": "NoSchedule"}),
            &cp
        ));
        let dedicated = json!({"key": "dedicated", "value": "db", "effect": "NoSchedule"});
        assert!(!tolerates(
            &json!({"key": "dedicated", "value": "web"}),
            &dedicated
        ));
        assert!(tolerates_all(
            &json!([]),
            &json!([{"key": "x", "effect": "PreferNoSchedule"}]),
            &["NoSchedule"]
        ));
    }
}
