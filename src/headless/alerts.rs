//! `alerts`: the firing alerts of the selected clusters' Alertmanagers, one row per alert
//! even when several Alertmanagers report it, most urgent first.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::output::{self, Cell, TextTable, Tone};
use super::{Built, Report, Selection, SourceError};
use crate::cli::{AlertsOptions, SeverityArg};
use crate::config::ClusterRole;
use crate::state::FleetState;
use ck8s_model::alert::{AlertState, MergedAlert, Severity, merge_alerts};

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(super) struct AlertsReport {
    items: Vec<AlertItem>,
    #[serde(skip)]
    errors: Vec<SourceError>,
    #[serde(skip)]
    show_state: bool,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct AlertItem {
    alertname: String,
    /// `critical`, `high`, `warning`, `info` or `none`.
    severity: Severity,
    /// `active`, `suppressed` (silenced or inhibited) or `unprocessed`.
    state: AlertState,
    /// Silence ids.
    silenced_by: Vec<String>,
    /// Fingerprints of the inhibiting alerts.
    inhibited_by: Vec<String>,
    starts_at: DateTime<Utc>,
    age_seconds: i64,
    summary: Option<String>,
    runbook_url: Option<String>,
    /// What the alert is about, from its labels: `namespace/pod`, a node, a probe target...
    subject: Option<String>,
    fingerprint: String,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    /// The Alertmanagers that report it.
    sources: Vec<AlertSource>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct AlertSource {
    env: String,
    cluster: ClusterRole,
}

pub(super) fn build(
    state: &FleetState,
    selection: &Selection,
    options: &AlertsOptions,
    now: DateTime<Utc>,
    errors: Vec<SourceError>,
) -> Built {
    let per_cluster = selection
        .handles(state)
        .into_iter()
        .map(|h| (h.env.clone(), h.role, h.read().alerts.clone()))
        .collect();
    let least = options.severity.unwrap_or(SeverityArg::Info);
    let items = merge_alerts(per_cluster)
        .into_iter()
        .filter(|m| options.silenced || m.alert.status.state != AlertState::Suppressed)
        .filter(|m| rank(m.alert.severity()) <= least)
        .map(|m| item(m, now))
        .collect();
    Built::new(
        now,
        AlertsReport {
            items,
            errors,
            show_state: options.silenced,
        },
    )
}

/// Severity on the flag's scale, so `--severity warning` keeps warning and more urgent.
fn rank(severity: Severity) -> SeverityArg {
    match severity {
        Severity::Critical => SeverityArg::Critical,
        Severity::High => SeverityArg::High,
        Severity::Warning => SeverityArg::Warning,
        Severity::Info => SeverityArg::Info,
        Severity::None => SeverityArg::None,
    }
}

/// The label that best names what fires, for the table's SUBJECT column.
fn subject(m: &MergedAlert) -> Option<String> {
    let a = &m.alert;
    let namespaced = |key: &str| {
        a.label(key).map(|name| match a.label("namespace") {
            Some(ns) => format!("{ns}/{name}"),
            None => name.to_owned(),
        })
    };
    namespaced("pod")
        .or_else(|| a.label("node").map(|n| format!("node/{n}")))
        .or_else(|| a.label("target").map(|t| format!("target/{t}")))
        .or_else(|| a.label("backup").map(|b| format!("backup/{b}")))
        .or_else(|| namespaced("secret"))
        .or_else(|| namespaced("deployment"))
        .or_else(|| a.label("namespace").map(str::to_owned))
}

fn item(m: MergedAlert, now: DateTime<Utc>) -> AlertItem {
    let subject = subject(&m);
    let a = &m.alert;
    AlertItem {
        alertname: a.alertname().to_owned(),
        severity: a.severity(),
        state: a.status.state,
        silenced_by: a.status.silenced_by.clone(),
        inhibited_by: a.status.inhibited_by.clone(),
        starts_at: a.starts_at,
        age_seconds: (now - a.starts_at).num_seconds(),
        summary: a.summary().map(str::to_owned),
        runbook_url: a.runbook_url().map(str::to_owned),
        subject,
        fingerprint: a.fingerprint.clone(),
        labels: a.labels.clone(),
        annotations: a.annotations.clone(),
        sources: m
            .sources
            .iter()
            .map(|(env, cluster)| AlertSource {
                env: env.clone(),
                cluster: *cluster,
            })
            .collect(),
    }
}

fn severity_cell(s: Severity) -> Cell {
    let (word, tone) = match s {
        Severity::Critical => ("critical", Tone::Bad),
        Severity::High => ("high", Tone::Bad),
        Severity::Warning => ("warning", Tone::Warn),
        Severity::Info => ("info", Tone::Plain),
        Severity::None => ("none", Tone::Dim),
    };
    Cell::new(word, tone)
}

impl Report for AlertsReport {
    fn names(&self) -> Vec<String> {
        self.items
            .iter()
            .map(|a| format!("{}/{}", a.alertname, a.fingerprint))
            .collect()
    }

    fn errors(&self) -> &[SourceError] {
        &self.errors
    }

    fn render(&self, out: &mut String, colour: bool) {
        if self.items.is_empty() {
            out.push_str("No alerts firing.\n");
            return;
        }
        let mut headers = vec!["SEVERITY", "ALERT", "ENV", "CLUSTER", "SUBJECT", "AGE"];
        if self.show_state {
            headers.push("STATE");
        }
        headers.push("SUMMARY");
        let mut table = TextTable::new(&headers);
        for a in &self.items {
            let join = |f: &dyn Fn(&AlertSource) -> String| {
                let mut v: Vec<String> = a.sources.iter().map(f).collect();
                v.dedup();
                v.join(",")
            };
            let mut row = vec![
                severity_cell(a.severity),
                Cell::from(a.alertname.as_str()),
                Cell::from(join(&|s| s.env.clone())),
                Cell::from(join(&|s| s.cluster.to_string())),
                Cell::from(a.subject.as_deref().unwrap_or("-")),
                Cell::from(output::age(a.age_seconds)),
            ];
            if self.show_state {
                let state = match a.state {
                    AlertState::Active => Cell::from("active"),
                    AlertState::Unprocessed => Cell::from("unprocessed"),
                    AlertState::Suppressed if !a.silenced_by.is_empty() => {
                        Cell::new("silenced", Tone::Dim)
                    }
                    AlertState::Suppressed if !a.inhibited_by.is_empty() => {
                        Cell::new("inhibited", Tone::Dim)
                    }
                    AlertState::Suppressed => Cell::new("muted", Tone::Dim),
                };
                row.push(state);
            }
            row.push(Cell::from(a.summary.as_deref().unwrap_or("")));
            table.row(row);
        }
        table.render(out, colour);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headless::testing::selection;
    use crate::state::test_fleet;
    use crate::testing::{alert, firing};

    /// The `alerts` JSON items for globex, where the sc and the wc both fire `sc` and `wc`.
    fn items(options: &AlertsOptions, sc: Vec<Alert>, wc: Vec<Alert>) -> serde_json::Value {
        let state = test_fleet("globex");
        let env = state.env("globex").unwrap();
        firing(env.cluster(ClusterRole::Sc), sc);
        firing(env.cluster(ClusterRole::Wc), wc);
        let built = build(
            &state,
            &selection("globex"),
            options,
            Utc::now(),
            Vec::new(),
        );
        let doc: serde_json::Value = serde_json::from_str(&built.json("alerts").unwrap()).unwrap();
        doc["items"].clone()
    }

    use ck8s_model::alert::Alert;

    fn names(items: &serde_json::Value) -> Vec<&str> {
        items
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["alertname"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn one_row_per_alert_that_several_alertmanagers_report() {
        let shared = alert("KubeAPIErrorsHigh", "warning", false, &[]);
        let items = items(
            &AlertsOptions::default(),
            vec![shared.clone()],
            vec![shared, alert("TargetDown", "critical", false, &[])],
        );
        assert_eq!(
            names(&items),
            ["TargetDown", "KubeAPIErrorsHigh"],
            "most urgent first"
        );
        let sources = items[1]["sources"].as_array().unwrap();
        assert_eq!(sources.len(), 2, "{sources:?}");
    }

    #[test]
    fn severity_keeps_as_urgent_or_more_and_info_hides_heartbeats_by_default() {
        let wc = vec![
            alert("Watchdog", "none", false, &[]),
            alert("CPUThrottlingHigh", "info", false, &[]),
            alert("KubeNodeNotReady", "warning", false, &[]),
            alert("KubeAPIDown", "critical", false, &[]),
        ];
        let all = items(&AlertsOptions::default(), vec![], wc.clone());
        assert_eq!(
            names(&all),
            ["KubeAPIDown", "KubeNodeNotReady", "CPUThrottlingHigh"]
        );
        let warning = AlertsOptions {
            severity: Some(SeverityArg::Warning),
            ..Default::default()
        };
        assert_eq!(
            names(&items(&warning, vec![], wc)),
            ["KubeAPIDown", "KubeNodeNotReady"]
        );
    }

    #[test]
    fn silenced_alerts_show_only_when_asked_with_their_silence() {
        let wc = vec![alert("KubePodCrashLooping", "high", true, &[])];
        assert!(names(&items(&AlertsOptions::default(), vec![], wc.clone())).is_empty());
        let silenced = AlertsOptions {
            silenced: true,
            ..Default::default()
        };
        let items = items(&silenced, vec![], wc);
        assert_eq!(items[0]["state"], "suppressed");
        assert_eq!(items[0]["silenced_by"][0], "s1");
    }

    #[test]
    fn the_subject_names_what_fires() {
        let subject = |labels: &[(&str, &str)]| {
            let a = alert("A", "warning", false, labels);
            subject(&MergedAlert {
                alert: a,
                sources: vec![],
            })
        };
        assert_eq!(
            subject(&[("namespace", "shop"), ("pod", "web-1")]).as_deref(),
            Some("shop/web-1")
        );
        assert_eq!(subject(&[("node", "w1")]).as_deref(), Some("node/w1"));
        assert_eq!(
            subject(&[("namespace", "shop"), ("deployment", "web")]).as_deref(),
            Some("shop/web")
        );
        assert_eq!(subject(&[("namespace", "shop")]).as_deref(), Some("shop"));
        assert_eq!(subject(&[]), None);
    }
}
