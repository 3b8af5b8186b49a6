//! `backups`: each selected cluster's backups judged by [`backup::assess`]: the newest
//! completed backup, the daily window, backups kept, failures, storage locations and the
//! Harbor and OpenSearch jobs, with the findings.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::openmetrics::{Metrics, severity};
use super::output::{self, Cell, TextTable, Tone};
use super::{Built, Report, Selection, SourceError};
use crate::backup::{self, BackupAssessment, Severity, Status};
use crate::cli::BackupsOptions;
use crate::config::ClusterRole;
use crate::state::FleetState;

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(super) struct BackupsReport {
    items: Vec<BackupItem>,
    #[serde(skip)]
    errors: Vec<SourceError>,
    #[serde(skip)]
    timezone: chrono_tz::Tz,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct BackupItem {
    env: String,
    cluster: ClusterRole,
    /// `<env>-<sc|wc>`.
    name: String,
    #[serde(flatten)]
    assessment: BackupAssessment,
    /// Whether the Backups have been listed: figures before that are not zeros.
    #[serde(skip)]
    listed: bool,
}

pub(super) fn build(
    state: &FleetState,
    selection: &Selection,
    options: &BackupsOptions,
    now: DateTime<Utc>,
    errors: Vec<SourceError>,
) -> Built {
    let policy = &selection.fleet.policy;
    let items = selection
        .handles(state)
        .into_iter()
        .map(|h| {
            let state = h.read();
            BackupItem {
                env: h.env.clone(),
                cluster: h.role,
                name: h.name(),
                assessment: backup::assess(&state, policy, now),
                listed: state.backup.backups.synced(),
            }
        })
        .filter(|item| !options.problems || item.assessment.status != Status::Ok)
        .collect();
    Built::new(
        now,
        BackupsReport {
            items,
            errors,
            timezone: policy.timezone,
        },
    )
}

fn status_cell(status: Status) -> Cell {
    let tone = match status {
        Status::Ok => Tone::Good,
        Status::Warning => Tone::Warn,
        Status::Critical => Tone::Bad,
    };
    Cell::new(status.as_str(), tone)
}

fn severity_tone(s: Severity) -> Tone {
    match s {
        Severity::Info => Tone::Dim,
        Severity::Warning => Tone::Warn,
        Severity::Critical => Tone::Bad,
    }
}

impl BackupsReport {
    fn row(&self, item: &BackupItem) -> Vec<Cell> {
        let a = &item.assessment;
        let local = |t: DateTime<Utc>| {
            t.with_timezone(&self.timezone)
                .format("%m-%d %H:%M")
                .to_string()
        };
        let last = match (&a.last_completed, a.last_completed_age_seconds) {
            (Some(b), Some(age)) => Cell::from(format!(
                "{} ({} ago)",
                b.completed.map(local).unwrap_or_else(|| "?".to_owned()),
                output::age(age)
            )),
            _ => Cell::new("none", Tone::Warn),
        };
        let window = match (&a.window.late, &a.window.backup) {
            (Some(late), _) => Cell::new(format!("late since {}", local(late.since)), Tone::Bad),
            (None, Some(_)) => Cell::new("ok", Tone::Good),
            (None, None) => Cell::new("?", Tone::Dim),
        };
        let kept = &a.kept;
        let kept_tone = if kept.completed < kept.expected || kept.completed > 2 * kept.expected {
            Tone::Warn
        } else {
            Tone::Plain
        };
        let failed = a.failed_backups.len();
        let locations = if a.storage_locations.is_empty() {
            Cell::new("none", Tone::Bad)
        } else if a.storage_locations.iter().all(|l| l.available) {
            Cell::new("available", Tone::Good)
        } else {
            Cell::new("unavailable", Tone::Bad)
        };
        let jobs = if a.jobs.is_empty() {
            Cell::new("-", Tone::Dim)
        } else {
            let ok = a
                .jobs
                .iter()
                .filter(|j| {
                    j.last_success_age_seconds
                        .is_some_and(|age| age <= j.max_age_seconds)
                })
                .count();
            Cell::new(
                format!("{ok}/{} ok", a.jobs.len()),
                if ok == a.jobs.len() {
                    Tone::Good
                } else {
                    Tone::Warn
                },
            )
        };
        vec![
            Cell::from(item.env.as_str()),
            Cell::from(item.cluster.as_str()),
            status_cell(a.status),
            last,
            window,
            Cell::new(format!("{}/{}", kept.completed, kept.expected), kept_tone),
            Cell::new(
                failed.to_string(),
                if failed > 0 { Tone::Warn } else { Tone::Plain },
            ),
            locations,
            jobs,
        ]
    }
}

impl Report for BackupsReport {
    fn names(&self) -> Vec<String> {
        self.items.iter().map(|i| i.name.clone()).collect()
    }

    fn metrics(&self, m: &mut Metrics) -> bool {
        for item in &self.items {
            let a = &item.assessment;
            let at = [
                ("env", item.env.as_str()),
                ("cluster", item.cluster.as_str()),
            ];
            m.gauge(
                "ck8s_backup_status",
                "The backups' verdict: 0 ok, 1 warning, 2 critical.",
                &at,
                severity(a.status.as_str()),
            );
            m.gauge(
                "ck8s_backup_last_completed_age_seconds",
                "Age of the newest Completed Velero backup.",
                &at,
                a.last_completed_age_seconds.map(|s| s as f64),
            );
            if !item.listed {
                continue;
            }
            m.gauge(
                "ck8s_backup_window_late",
                "1 when the latest ended backup window holds no Completed backup.",
                &at,
                Some(f64::from(u8::from(a.window.late.is_some()))),
            );
            m.gauge(
                "ck8s_backups_completed",
                "Completed backups kept.",
                &at,
                Some(f64::from(a.kept.completed)),
            );
            m.gauge(
                "ck8s_backups_expected",
                "Backups the policy keeps.",
                &at,
                Some(f64::from(a.kept.expected)),
            );
            m.gauge(
                "ck8s_backups_failed",
                "Failed or PartiallyFailed backups present.",
                &at,
                Some(a.failed_backups.len() as f64),
            );
        }
        true
    }

    fn errors(&self) -> &[SourceError] {
        &self.errors
    }

    fn render(&self, out: &mut String, colour: bool) {
        if self.items.is_empty() {
            out.push_str("No clusters match.\n");
            return;
        }
        let mut table = TextTable::new(&[
            "ENV",
            "CLUSTER",
            "STATUS",
            "LAST COMPLETED",
            "WINDOW",
            "KEPT",
            "FAILED",
            "STORAGE",
            "JOBS",
        ]);
        for item in &self.items {
            table.row(self.row(item));
        }
        table.render(out, colour);
        let findings: Vec<(&BackupItem, &backup::Finding)> = self
            .items
            .iter()
            .flat_map(|i| i.assessment.findings.iter().map(move |f| (i, f)))
            .collect();
        if findings.is_empty() {
            return;
        }
        out.push('\n');
        let mut table = TextTable::new(&["CLUSTER", "SEVERITY", "FINDING", "MESSAGE"]);
        for (item, f) in findings {
            let severity = match f.severity {
                Severity::Info => "info",
                Severity::Warning => "warning",
                Severity::Critical => "critical",
            };
            table.row(vec![
                Cell::from(item.name.as_str()),
                Cell::new(severity, severity_tone(f.severity)),
                Cell::from(f.code),
                Cell::from(f.message.as_str()),
            ]);
        }
        table.render(out, colour);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headless::testing::selection;
    use crate::state::rows::StorageLocationRow;
    use crate::state::test_fleet;
    use std::sync::Arc;

    /// globex, where the wc has listed no backups and one storage location in `phase`; the
    /// sc has listed nothing yet.
    fn report(options: &BackupsOptions, phase: &str) -> (serde_json::Value, String) {
        let state = test_fleet("globex");
        state
            .env("globex")
            .unwrap()
            .cluster(ClusterRole::Wc)
            .update(|s| {
                s.backup.backups.commit_relist();
                s.backup.schedules.commit_relist();
                s.backup.locations.upsert(
                    (Arc::from("velero"), Box::from("default")),
                    StorageLocationRow {
                        namespace: Arc::from("velero"),
                        name: Box::from("default"),
                        phase: Arc::from(phase),
                        default: true,
                        last_validated: None,
                        message: None,
                    },
                );
                s.backup.locations.commit_relist();
            });
        let built = build(
            &state,
            &selection("globex"),
            options,
            Utc::now(),
            Vec::new(),
        );
        let json = serde_json::from_str(&built.json("backups").unwrap()).unwrap();
        (json, built.table(false))
    }

    fn row<'a>(table: &'a str, cluster: &str) -> Vec<&'a str> {
        table
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|cells| cells.get(1) == Some(&cluster))
            .unwrap_or_else(|| panic!("no {cluster} row in\n{table}"))
    }

    #[test]
    fn figures_of_backups_not_listed_yet_are_left_out_not_zero() {
        let state = test_fleet("globex");
        let built = build(
            &state,
            &selection("globex"),
            &BackupsOptions::default(),
            Utc::now(),
            Vec::new(),
        );
        let text = built
            .text(crate::cli::OutputFormat::Openmetrics, "backups", false)
            .unwrap();
        let status = "ck8s_backup_status{env=\"globex\",cluster=\"wc\"}";
        assert!(text.contains(status), "the verdict is known: {text}");
        for unknown in [
            "ck8s_backups_completed",
            "ck8s_backups_failed",
            "ck8s_backup_window_late",
        ] {
            assert!(!text.contains(&format!("{unknown}{{")), "{unknown}: {text}");
        }
    }

    #[test]
    fn a_cluster_that_never_backed_up_is_critical_and_its_row_says_what_is_missing() {
        let (json, table) = report(&BackupsOptions::default(), "Unavailable");
        let wc = &json["items"][1];
        assert_eq!(
            (&wc["name"], &wc["status"]),
            (&"globex-wc".into(), &"critical".into())
        );
        let row = row(&table, "wc");
        assert_eq!(row[..4], ["globex", "wc", "critical", "none"], "{table}");
        assert!(row.contains(&"0/3"), "kept against the policy's 3: {table}");
        assert!(row.contains(&"unavailable"), "{table}");
    }
}
