//! Field selectors, with the real apiserver's syntax and errors; label selectors live in
//! [`crate::labels`], shared with the controllers.

use serde_json::Value;

use crate::labels::{SelectorError, split_terms};
use crate::registry::{KINDS, KindId};
use crate::status::ApiError;

impl From<SelectorError> for ApiError {
    /// A selector the client sent (or a stored object carries) that does not parse is
    /// the client's mistake: 400, as the real API server answers.
    fn from(e: SelectorError) -> ApiError {
        ApiError::bad_request(e.to_string())
    }
}

/// A parsed field selector: `field=value` and `field!=value` terms.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

/// Fields each kind may be selected by, beyond metadata.name and metadata.namespace.
fn extra_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "Pod" => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "status.phase",
            "status.podIP",
        ],
        "Node" => &["spec.unschedulable"],
        "Event" => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        "Secret" => &["type"],
        "Namespace" => &["status.phase"],
        "ReplicaSet" | "Job" => &["status.replicas", "status.successful"],
        _ => &[],
    }
}

fn field_value(obj: &Value, path: &str) -> String {
    let v = path.split('.').fold(obj, |v, seg| &v[seg]);
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        // Unset booleans select as "false", as in the real field label conversion.
        Value::Null if path == "spec.unschedulable" => "false".into(),
        _ => String::new(),
    }
}

impl FieldSelector {
    pub fn parse(s: &str, kind: KindId) -> Result<FieldSelector, ApiError> {
        let k = &KINDS[kind];
        let mut terms = Vec::new();
        for part in split_terms(s) {
            let (field, negate, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                (f, false, v)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{part}'; can't understand '{part}'"
                )));
            };
            let field = field.trim();
            let supported = matches!(field, "metadata.name" | "metadata.namespace")
                || extra_fields(k.kind).contains(&field);
            if !supported {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {field}"
                )));
            }
            terms.push((field.to_string(), negate, value.trim().to_string()));
        }
        Ok(FieldSelector(terms))
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.0
            .iter()
            .all(|(f, negate, v)| (field_value(obj, f) == *v) != *negate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::ids;
    use serde_json::json;

    fn obj(labels: Value) -> Value {
        json!({"metadata": {"name": "p", "namespace": "ns", "labels": labels}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}})
    }

    #[test]
    fn a_bad_label_selector_is_a_bad_request() {
        let err = ApiError::from(crate::labels::LabelSelector::parse("app in web").unwrap_err());
        assert_eq!(err.code, 400);
        assert_eq!(
            err.message,
            "unable to parse requirement: invalid label selector \"app in web\""
        );
    }

    #[test]
    fn field_selectors_check_support_and_match() {
        let o = obj(json!({}));
        let f = FieldSelector::parse("spec.nodeName=n1,status.phase!=Pending", *ids::PODS).unwrap();
        assert!(f.matches(&o));
        assert!(
            !FieldSelector::parse("metadata.name=q", *ids::PODS)
                .unwrap()
                .matches(&o)
        );
        let err = FieldSelector::parse("spec.foo=1", *ids::PODS).unwrap_err();
        assert_eq!(err.code, 400);
        assert!(err.message.contains("field label not supported: spec.foo"));
        assert!(FieldSelector::parse("spec.nodeName=x", *ids::DEPLOYMENTS).is_err());
    }
}
