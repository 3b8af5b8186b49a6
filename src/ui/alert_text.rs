//! How an alert reads, in the alerts pane and in its details alike: the severity and
//! state words, where it fires, and what it is about.

use ck8s_model::alert::{AlertState, MergedAlert, Severity};

/// The severity as a word.
pub fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::High => "high",
        Severity::Warning => "warning",
        Severity::Info => "info",
        Severity::None => "none",
    }
}

pub fn state_name(a: &MergedAlert) -> &'static str {
    let st = &a.alert.status;
    match st.state {
        AlertState::Active => "firing",
        AlertState::Unprocessed => "pending",
        AlertState::Suppressed if !st.silenced_by.is_empty() => "silenced",
        AlertState::Suppressed if !st.inhibited_by.is_empty() => "inhibited",
        AlertState::Suppressed => "muted",
    }
}

/// Where an alert came from: `wc`, `sc+wc` inside an environment, `globex-wc` in the
/// fleet view.
pub fn sources(a: &MergedAlert, in_env: bool) -> String {
    let parts: Vec<String> = a
        .sources
        .iter()
        .map(|(env, role)| {
            if in_env {
                role.to_string()
            } else {
                format!("{env}-{role}")
            }
        })
        .collect();
    parts.join(if in_env { "+" } else { ", " })
}

/// The object an alert is about, from its usual labels.
pub fn subject(a: &MergedAlert) -> String {
    let l = |k: &str| a.alert.label(k);
    match (l("namespace"), l("pod"), l("node")) {
        (Some(ns), Some(pod), _) => format!("{ns}/{pod}"),
        (_, _, Some(node)) => node.to_string(),
        (Some(ns), None, None) => l("deployment")
            .or(l("statefulset"))
            .or(l("job_name"))
            .or(l("schedule"))
            .map(|o| format!("{ns}/{o}"))
            .unwrap_or_else(|| ns.to_string()),
        _ => l("target")
            .or(l("instance"))
            .or(l("schedule"))
            .or(l("job"))
            .unwrap_or("-")
            .to_string(),
    }
}
