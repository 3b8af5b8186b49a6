//! Label selectors, written once for everyone who selects by labels: the API server's
//! `labelSelector` queries, and the `metav1.LabelSelector` objects in specs that
//! controllers (and the API server's Scale and Table views) apply.
//!
//! Conversion follows `metav1.LabelSelectorAsSelector`: an operator other than `In`,
//! `NotIn`, `Exists` and `DoesNotExist` is an error, never a guess, so a controller whose
//! selector cannot be converted selects nothing.

use serde_json::Value;

/// Why a selector could not be parsed or converted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SelectorError {
    /// A `labelSelector` query term that does not parse.
    #[error("unable to parse requirement: invalid label selector {0:?}")]
    Syntax(String),
    /// A `matchExpressions` operator the API does not define.
    #[error("{0:?} is not a valid label selector operator")]
    UnknownOperator(String),
    /// A `matchLabels` value that is not a string (the real API would not decode it).
    #[error("matchLabels value of {0:?} is not a string")]
    NotAString(String),
}

/// One requirement on one label.
#[derive(Debug, Clone, PartialEq)]
pub enum Requirement {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

impl Requirement {
    /// One `matchExpressions` entry (a `LabelSelectorRequirement`, or the same shape in
    /// a node selector term).
    pub fn from_expression(expr: &Value) -> Result<Requirement, SelectorError> {
        let key = expr["key"].as_str().unwrap_or("").to_string();
        let values = || -> Vec<String> {
            expr["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        };
        match expr["operator"].as_str().unwrap_or("") {
            "In" => Ok(Requirement::In(key, values())),
            "NotIn" => Ok(Requirement::NotIn(key, values())),
            "Exists" => Ok(Requirement::Exists(key)),
            "DoesNotExist" => Ok(Requirement::NotExists(key)),
            op => Err(SelectorError::UnknownOperator(op.to_string())),
        }
    }

    pub fn key(&self) -> &str {
        match self {
            Requirement::Eq(k, _)
            | Requirement::NotEq(k, _)
            | Requirement::In(k, _)
            | Requirement::NotIn(k, _)
            | Requirement::Exists(k)
            | Requirement::NotExists(k) => k,
        }
    }

    /// Whether the label's value (`None` when the label is absent) satisfies this.
    pub fn matches(&self, value: Option<&str>) -> bool {
        match self {
            Requirement::Eq(_, v) => value == Some(v.as_str()),
            Requirement::NotEq(_, v) => value != Some(v.as_str()),
            Requirement::In(_, vs) => value.is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::NotIn(_, vs) => value.is_none_or(|x| vs.iter().all(|v| v != x)),
            Requirement::Exists(_) => value.is_some(),
            Requirement::NotExists(_) => value.is_none(),
        }
    }

    fn to_query(&self) -> String {
        match self {
            Requirement::Eq(k, v) => format!("{k}={v}"),
            Requirement::NotEq(k, v) => format!("{k}!={v}"),
            Requirement::In(k, vs) => format!("{k} in ({})", vs.join(",")),
            Requirement::NotIn(k, vs) => format!("{k} notin ({})", vs.join(",")),
            Requirement::Exists(k) => k.clone(),
            Requirement::NotExists(k) => format!("!{k}"),
        }
    }

    /// One term of a `labelSelector` query.
    fn parse(term: &str) -> Result<Requirement, SelectorError> {
        let bad = || SelectorError::Syntax(term.to_string());
        if let Some(key) = term.strip_prefix('!') {
            return Ok(Requirement::NotExists(key.trim().to_string()));
        }
        if let Some((k, v)) = term.split_once("!=") {
            return Ok(Requirement::NotEq(k.trim().into(), v.trim().into()));
        }
        if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            return Ok(Requirement::Eq(k.trim().into(), v.trim().into()));
        }
        let words: Vec<&str> = term.splitn(3, ' ').collect();
        match words.as_slice() {
            [key] => Ok(Requirement::Exists(key.to_string())),
            [key, op, rest] => {
                let values = set_values(rest).ok_or_else(bad)?;
                match *op {
                    "in" => Ok(Requirement::In(key.to_string(), values)),
                    "notin" => Ok(Requirement::NotIn(key.to_string(), values)),
                    _ => Err(bad()),
                }
            }
            _ => Err(bad()),
        }
    }
}

/// A selector: all of its requirements must hold. The empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector(Vec<Requirement>);

impl LabelSelector {
    /// A `labelSelector` query (`app=web,tier in (front),!canary`).
    pub fn parse(query: &str) -> Result<LabelSelector, SelectorError> {
        split_terms(query)
            .into_iter()
            .map(Requirement::parse)
            .collect::<Result<_, _>>()
            .map(LabelSelector)
    }

    /// A `metav1.LabelSelector` object (matchLabels and matchExpressions), converted as
    /// `metav1.LabelSelectorAsSelector` does. Anything but an object has no requirements.
    pub fn from_object(sel: &Value) -> Result<LabelSelector, SelectorError> {
        let mut reqs = Vec::new();
        for (k, v) in sel["matchLabels"].as_object().into_iter().flatten() {
            let v = v
                .as_str()
                .ok_or_else(|| SelectorError::NotAString(k.clone()))?;
            reqs.push(Requirement::Eq(k.clone(), v.to_string()));
        }
        for e in sel["matchExpressions"].as_array().into_iter().flatten() {
            reqs.push(Requirement::from_expression(e)?);
        }
        Ok(LabelSelector(reqs))
    }

    /// The selector of an object's spec as a controller applies it: `None`, selecting
    /// nothing, when it is missing or cannot be converted.
    pub fn of_spec(sel: &Value) -> Option<LabelSelector> {
        if !sel.is_object() {
            return None;
        }
        LabelSelector::from_object(sel).ok()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether an object's labels match.
    pub fn matches(&self, obj: &Value) -> bool {
        self.matches_labels(&obj["metadata"]["labels"])
    }

    /// Whether a label map matches.
    pub fn matches_labels(&self, labels: &Value) -> bool {
        self.0
            .iter()
            .all(|r| r.matches(labels.get(r.key()).and_then(Value::as_str)))
    }

    /// The `key=value,...` query form, for Scale.status.selector and Table columns.
    pub fn to_query(&self) -> String {
        self.0
            .iter()
            .map(Requirement::to_query)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Whether a spec's `metav1.LabelSelector` selects a label map, as a controller applies
/// it: a missing or unconvertible selector selects nothing; an empty one everything.
pub fn selector_matches(selector: &Value, labels: &Value) -> bool {
    LabelSelector::of_spec(selector).is_some_and(|s| s.matches_labels(labels))
}

/// Splits a selector query on commas that are not inside `( )`, dropping empty terms.
pub(crate) fn split_terms(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

fn set_values(raw: &str) -> Option<Vec<String>> {
    let inner = raw.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(inner.split(',').map(|v| v.trim().to_string()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(labels: Value) -> Value {
        json!({"metadata": {"name": "p", "namespace": "ns", "labels": labels}})
    }

    #[test]
    fn label_selector_operators() {
        let o = obj(json!({"app": "web", "tier": "front"}));
        for (sel, want) in [
            ("app=web", true),
            ("app==web,tier=front", true),
            ("app!=web", false),
            ("app in (db, web)", true),
            ("tier notin (front)", false),
            ("app", true),
            ("!app", false),
            ("!missing", true),
            ("missing notin (x)", true),
        ] {
            assert_eq!(
                LabelSelector::parse(sel).unwrap().matches(&o),
                want,
                "{sel}"
            );
        }
        assert!(LabelSelector::parse("app in web").is_err());
    }

    #[test]
    fn selector_from_object_matches_expressions() {
        let sel = LabelSelector::from_object(
            &json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]}]}),
        )
        .unwrap();
        assert!(sel.matches(&obj(json!({"app": "web", "tier": "front"}))));
        assert!(!sel.matches(&obj(json!({"app": "web"}))));
        assert_eq!(sel.to_query(), "app=web,tier in (front)");
    }

    #[test]
    fn an_unknown_operator_is_an_error_and_selects_nothing() {
        let sel = json!({"matchExpressions": [{"key": "app", "operator": "Exist"}]});
        let err = LabelSelector::from_object(&sel).unwrap_err();
        assert_eq!(err, SelectorError::UnknownOperator("Exist".into()));
        assert_eq!(
            err.to_string(),
            "\"Exist\" is not a valid label selector operator"
        );
        // Not "Exists" and not "ignore the requirement": nothing at all.
        assert!(!selector_matches(&sel, &json!({"app": "web"})));
        assert!(!selector_matches(&sel, &json!({})));
        let mixed = json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "x", "operator": "Gt", "values": ["1"]}]});
        assert!(!selector_matches(&mixed, &json!({"app": "web", "x": "2"})));
    }

    #[test]
    fn a_match_labels_value_that_is_not_a_string_is_an_error() {
        let sel = json!({"matchLabels": {"app": 1}});
        assert_eq!(
            LabelSelector::from_object(&sel).unwrap_err(),
            SelectorError::NotAString("app".into())
        );
        assert!(!selector_matches(&sel, &json!({})));
    }

    #[test]
    fn a_missing_selector_selects_nothing_and_an_empty_one_everything() {
        let labels = json!({"app": "web"});
        assert!(!selector_matches(&Value::Null, &labels));
        assert!(selector_matches(&json!({}), &labels));
        assert!(LabelSelector::from_object(&Value::Null).unwrap().is_empty());
    }
}
