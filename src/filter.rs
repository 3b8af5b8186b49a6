//! The filter language of the console's `/` and of `pods --filter`: whitespace-separated
//! terms that must all match.
//! - `text`: a case-insensitive substring of any field (namespace, name, node, status...);
//! - `~regex` or `/regex/`: a regex over any field, case-insensitive unless it has capitals;
//! - `key=value`, `key!=value`, or `-l app=web,tier!=db`: label selectors (`-l key` and
//!   `-l !key` test presence), in Kubernetes' selector syntax without spaces (ck8s-model's
//!   `labels`).

use ck8s_model::labels::LabelSelector;
use regex::Regex;

#[derive(Debug, Clone)]
enum Term {
    /// Lowercased.
    Text(String),
    Regex(Regex),
    Labels(LabelSelector),
}

/// A parsed filter. The empty filter matches everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    raw: String,
    terms: Vec<Term>,
}

impl Filter {
    pub fn parse(raw: &str) -> Result<Filter, String> {
        let mut terms = Vec::new();
        let mut words = raw.split_whitespace();
        while let Some(word) = words.next() {
            if word == "-l" {
                let selector = words
                    .next()
                    .ok_or("`-l` needs a label selector, e.g. -l app=web")?;
                terms.push(label_term(selector)?);
            } else if let Some(selector) = word.strip_prefix("-l") {
                terms.push(label_term(selector)?);
            } else if let Some(pattern) = word.strip_prefix('~') {
                terms.push(Term::Regex(regex(pattern)?));
            } else if word.len() > 2 && word.starts_with('/') && word.ends_with('/') {
                terms.push(Term::Regex(regex(&word[1..word.len() - 1])?));
            } else if word.contains('=') {
                terms.push(label_term(word)?);
            } else {
                terms.push(Term::Text(word.to_lowercase()));
            }
        }
        Ok(Filter {
            raw: raw.to_string(),
            terms,
        })
    }

    pub fn raw(&self) -> &str {
        &self.raw
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Whether everything `self` matches was matched by `previous` too, so that the new
    /// result can be computed from the old one instead of from every row: true when a
    /// plain-text filter was only typed further.
    pub fn narrows(&self, previous: &Filter) -> bool {
        let plain = |f: &Filter| f.terms.iter().all(|t| matches!(t, Term::Text(_)));
        plain(self) && plain(previous) && self.raw.starts_with(previous.raw.as_str())
    }

    /// Whether a row with these searchable `fields` and `label` lookup matches.
    pub fn matches<'a>(&self, fields: &[&str], label: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.terms.iter().all(|term| match term {
            Term::Text(needle) => fields.iter().any(|f| contains_ci(f, needle)),
            Term::Regex(re) => fields.iter().any(|f| re.is_match(f)),
            Term::Labels(selector) => selector.matches_with(&label),
        })
    }

    /// For rows without labels.
    pub fn matches_fields(&self, fields: &[&str]) -> bool {
        self.matches(fields, |_| None)
    }
}

fn regex(pattern: &str) -> Result<Regex, String> {
    // Smart case, as in less and ripgrep: lowercase patterns ignore case.
    let smart = if pattern.chars().any(char::is_uppercase) {
        pattern.to_string()
    } else {
        format!("(?i){pattern}")
    };
    Regex::new(&smart).map_err(|e| {
        let msg = e.to_string();
        let last = msg.lines().last().unwrap_or("").trim().to_string();
        format!("invalid regex `{pattern}`: {last}")
    })
}

fn label_term(selector: &str) -> Result<Term, String> {
    // Rows here carry Kubernetes labels and alert labels alike, which need not be valid
    // Kubernetes labels (`instance=10.0.0.1:9100`): only the syntax is checked.
    LabelSelector::parse_any_labels(selector)
        .map(Term::Labels)
        .map_err(|e| format!("label selector `{selector}`: {e}"))
}

/// Case-insensitive substring test without allocating; `needle` must be lowercase.
pub fn contains_ci(haystack: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    if !needle.is_ascii() {
        return haystack.to_lowercase().contains(needle);
    }
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    if n.len() > h.len() {
        return false;
    }
    let first = n[0];
    (0..=h.len() - n.len())
        .any(|i| h[i].to_ascii_lowercase() == first && h[i..i + n.len()].eq_ignore_ascii_case(n))
}

impl std::str::FromStr for Filter {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Filter::parse(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::strategy::Strategy as _;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Any filter the user types is a filter or an error; matching with it never panics.
        #[test]
        fn any_filter_text_is_parsed_without_panicking(
            text in proptest::collection::vec(proptest::prelude::any::<char>(), 0..200)
                .prop_map(String::from_iter),
        ) {
            if let Ok(f) = Filter::parse(&text) {
                let _ = f.matches_fields(&["payments-worker", "production", "Running"]);
            }
        }
    }

    fn pod_matches(f: &str, fields: &[&str], labels: &[(&str, &str)]) -> bool {
        Filter::parse(f).unwrap().matches(fields, |k| {
            labels.iter().find(|(lk, _)| *lk == k).map(|(_, v)| *v)
        })
    }

    #[test]
    fn case_insensitive_contains() {
        assert!(contains_ci("CrashLoopBackOff", "loop"));
        assert!(contains_ci("payments", ""));
        assert!(!contains_ci("pay", "payments"));
        assert!(contains_ci("Ärende", "är"));
    }

    #[test]
    fn text_terms_are_substrings_of_any_field_and_all_must_match() {
        let fields = [
            "production",
            "payments-7f9c",
            "wc-worker-1",
            "CrashLoopBackOff",
        ];
        assert!(pod_matches("pay", &fields, &[]));
        assert!(pod_matches("PAY crash", &fields, &[]));
        assert!(!pod_matches("pay running", &fields, &[]));
        assert!(pod_matches("", &fields, &[]));
    }

    #[test]
    fn regex_terms_use_smart_case() {
        let fields = ["production", "payments-7f9c"];
        assert!(pod_matches("~^pay.*c$", &fields, &[]));
        assert!(pod_matches("/PROD|x/", &["PROD"], &[]));
        assert!(!pod_matches("/PROD/", &fields, &[]));
        let err = Filter::parse("~(").unwrap_err();
        assert!(err.starts_with("invalid regex `(`"), "{err}");
    }

    #[test]
    fn label_selectors() {
        let labels = [("app", "web"), ("tier", "front")];
        assert!(pod_matches("app=web", &[], &labels));
        assert!(pod_matches("-l app=web,tier!=db", &[], &labels));
        assert!(pod_matches("-lapp", &[], &labels));
        assert!(pod_matches("-l !team", &[], &labels));
        assert!(!pod_matches("app=api", &[], &labels));
        assert!(Filter::parse("-l").is_err());
        assert!(Filter::parse("=x").is_err());
    }

    #[test]
    fn typing_further_narrows_only_plain_text() {
        let p = |s| Filter::parse(s).unwrap();
        assert!(p("paym").narrows(&p("pay")));
        assert!(p("pay m").narrows(&p("pay")));
        assert!(!p("pa").narrows(&p("pay")));
        assert!(!p("app=w").narrows(&p("app")));
        assert!(!p("~pay").narrows(&p("~pa")));
    }
}
