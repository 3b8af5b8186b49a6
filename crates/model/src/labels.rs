//! Label selectors, written once for everyone who selects by labels: the console's
//! `pods --selector` and `/ -l` filters, the simulated API server's `labelSelector`
//! queries, and the `metav1.LabelSelector` objects in specs that its controllers (and its
//! Scale and Table views) apply.
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
    /// A key or value the API server's validation refuses.
    #[error("{0}")]
    Invalid(String),
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
        let req = Requirement::parse_unchecked(term)?;
        req.validate()?;
        Ok(req)
    }

    /// The syntax alone: any non-empty key, any value.
    fn parse_unchecked(term: &str) -> Result<Requirement, SelectorError> {
        let term = term.trim();
        let bad = || SelectorError::Syntax(term.to_string());
        let req = if let Some(key) = term.strip_prefix('!') {
            Requirement::NotExists(key.trim().to_string())
        } else if let Some((k, v)) = term.split_once("!=") {
            Requirement::NotEq(k.trim().into(), v.trim().into())
        } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            Requirement::Eq(k.trim().into(), v.trim().into())
        } else {
            match term.split_once(char::is_whitespace) {
                None => Requirement::Exists(term.to_string()),
                Some((key, rest)) => {
                    let rest = rest.trim_start();
                    let (op, values) = if let Some(v) = rest.strip_prefix("notin") {
                        ("notin", v)
                    } else if let Some(v) = rest.strip_prefix("in") {
                        ("in", v)
                    } else {
                        return Err(bad());
                    };
                    let values = set_values(values).ok_or_else(bad)?;
                    if op == "in" {
                        Requirement::In(key.to_string(), values)
                    } else {
                        Requirement::NotIn(key.to_string(), values)
                    }
                }
            }
        };
        if req.key().is_empty() {
            return Err(SelectorError::Invalid(format!(
                "{term:?}: a label selector needs a key"
            )));
        }
        Ok(req)
    }

    /// The API server's checks: a qualified-name key, and values of at most 63
    /// characters of letters, digits, `-`, `_` and `.`.
    fn validate(&self) -> Result<(), SelectorError> {
        check_key(self.key())?;
        match self {
            Requirement::Eq(_, v) | Requirement::NotEq(_, v) => check_value(v),
            Requirement::In(_, vs) | Requirement::NotIn(_, vs) => {
                vs.iter().try_for_each(|v| check_value(v))
            }
            Requirement::Exists(_) | Requirement::NotExists(_) => Ok(()),
        }
    }
}

/// A label key: an optional DNS-subdomain prefix and `/`, then a name of 1-63 letters,
/// digits, `-`, `_` and `.` that starts and ends with a letter or digit.
fn check_key(key: &str) -> Result<(), SelectorError> {
    let invalid = |why: &str| {
        Err(SelectorError::Invalid(format!(
            "invalid label key {key:?}: {why}"
        )))
    };
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix
        && crate::config::check_object_name(p).is_err()
    {
        return invalid("the prefix must be a DNS subdomain");
    }
    if name.is_empty() {
        return invalid("the name is empty");
    }
    if !is_label_token(name) {
        return invalid(
            "1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
        );
    }
    Ok(())
}

/// A label value: empty, or a name as in a key.
fn check_value(value: &str) -> Result<(), SelectorError> {
    if value.is_empty() || is_label_token(value) {
        Ok(())
    } else {
        Err(SelectorError::Invalid(format!(
            "invalid label value {value:?}: at most 63 letters, digits, '-', '_' or '.', \
             starting and ending with a letter or digit"
        )))
    }
}

fn is_label_token(s: &str) -> bool {
    s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// A selector: all of its requirements must hold. The empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector(Vec<Requirement>);

impl std::str::FromStr for LabelSelector {
    type Err = SelectorError;

    fn from_str(query: &str) -> Result<Self, Self::Err> {
        LabelSelector::parse(query)
    }
}

impl LabelSelector {
    /// A `labelSelector` query (`app=web,tier in (front),!canary`), with keys and values
    /// checked as the API server checks Kubernetes labels.
    pub fn parse(query: &str) -> Result<LabelSelector, SelectorError> {
        split_terms(query)
            .into_iter()
            .map(Requirement::parse)
            .collect::<Result<_, _>>()
            .map(LabelSelector)
    }

    /// The same syntax over labels that are not Kubernetes labels (Prometheus and
    /// Alertmanager labels: `__name__`, `instance=10.0.0.1:9100`): keys and values are not
    /// checked, only that every term has a key.
    pub fn parse_any_labels(query: &str) -> Result<LabelSelector, SelectorError> {
        split_terms(query)
            .into_iter()
            .map(Requirement::parse_unchecked)
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

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether labels looked up by `label` match: for rows that keep labels their own way.
    pub fn matches_with<'a>(&self, label: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.0.iter().all(|r| r.matches(label(r.key())))
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
pub fn split_terms(s: &str) -> Vec<&str> {
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
    // The API server refuses an empty set: `in ()` would select nothing, `notin ()` all.
    if inner.trim().is_empty() {
        return None;
    }
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

    #[test]
    fn keys_and_values_are_checked_as_the_api_server_does() {
        for bad in [
            "=x", "!", "a b=c", "app=we b", "x/=1", "in (a)", "app in a", "app=-x",
        ] {
            assert!(LabelSelector::parse(bad).is_err(), "{bad:?} parsed");
        }
        for good in [
            "app=web",
            "app.kubernetes.io/name=dex",
            "app in (dex)",
            "app  in  (dex, harbor)",
            "tier notin (db)",
            "env in(prod)",
            "!canary",
            "app=",
        ] {
            assert!(LabelSelector::parse(good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn other_labels_than_kubernetes_ones_parse_unchecked() {
        let sel = LabelSelector::parse_any_labels("instance=10.0.0.1:9100,__name__").unwrap();
        let labels = json!({"instance": "10.0.0.1:9100", "__name__": "up"});
        assert!(sel.matches_labels(&labels));
        assert!(LabelSelector::parse("instance=10.0.0.1:9100").is_err());
        assert!(
            LabelSelector::parse_any_labels("=x").is_err(),
            "a key is still needed"
        );
    }
}
