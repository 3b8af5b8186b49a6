//! `slo`: availability, error budget and burn rates per uptime target, computed directly
//! from each cluster's Prometheus at `--at` (default now), with the exclusions the fleet
//! config declares for that very target.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::join_all;
use serde::Serialize;

use super::openmetrics::Metrics;
use super::output::{Cell, TextTable, Tone};
use super::{Built, Report, Selection, SourceError};
use crate::cli::SloOptions;
use crate::config::{self, ClusterRole, Probe};
use crate::slo::{self, SloReport, SloStatus};
use crate::sources::{prometheus, slo_counts};
use crate::state::health::Source;

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(super) struct SloReportList {
    items: Vec<SloItem>,
    #[serde(skip)]
    errors: Vec<SourceError>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct SloItem {
    env: String,
    cluster: ClusterRole,
    /// One target's report, as `slo::SloReport` documents it.
    report: SloReport,
}

/// Every `--target` must be a probe of some selected cluster: a typo would otherwise give
/// an empty report that looks like "nothing to see".
pub(super) fn check_targets(selection: &Selection, options: &SloOptions) -> Result<(), String> {
    let mut known: Vec<&str> = clusters(selection)
        .flat_map(|(_, _, cluster)| cluster.probes.iter().map(|p| p.target.as_str()))
        .collect();
    known.sort_unstable();
    known.dedup();
    match options
        .targets
        .iter()
        .find(|t| !known.contains(&t.as_str()))
    {
        None => Ok(()),
        Some(t) if known.is_empty() => Err(format!(
            "unknown target `{t}` (--target): the selected clusters have no probes"
        )),
        Some(t) => Err(format!(
            "unknown target `{t}` (--target). Probe targets of the selected clusters: {}",
            known.join(", ")
        )),
    }
}

fn clusters(
    selection: &Selection,
) -> impl Iterator<Item = (&str, ClusterRole, &config::ClusterConfig)> {
    let roles = selection.roles();
    selection.fleet.environments.iter().flat_map(move |env| {
        env.clusters()
            .filter(|(role, _)| roles.contains(role))
            .map(move |(role, cluster)| (env.name.as_str(), role, cluster))
            .collect::<Vec<_>>()
    })
}

pub(super) async fn build(selection: &Selection, options: &SloOptions, timeout: Duration) -> Built {
    let now = Utc::now();
    let at = options.at.unwrap_or(now);
    let deadline = tokio::time::Instant::now() + timeout;
    let jobs = clusters(selection).map(|(env, role, cluster)| {
        let probes: Vec<&Probe> = cluster
            .probes
            .iter()
            .filter(|p| options.targets.is_empty() || options.targets.contains(&p.target))
            .collect();
        cluster_reports(
            &selection.fleet,
            env,
            role,
            cluster,
            probes,
            at,
            timeout,
            deadline,
        )
    });
    let mut items = Vec::new();
    let mut errors = Vec::new();
    for (reports, error) in join_all(jobs).await {
        items.extend(reports);
        errors.extend(error);
    }
    Built::new(now, SloReportList { items, errors })
}

/// The reports of one cluster's probes, each with its own exclusions, counted by Prometheus
/// where the series allow (see `slo_counts`). A probe whose query matched no series at all
/// is an error: its report would say "no data" where the truth is more likely a wrong
/// label or target.
#[allow(clippy::too_many_arguments)]
async fn cluster_reports(
    fleet: &config::Fleet,
    env: &str,
    role: ClusterRole,
    cluster: &config::ClusterConfig,
    probes: Vec<&Probe>,
    at: DateTime<Utc>,
    timeout: Duration,
    deadline: tokio::time::Instant,
) -> (Vec<SloItem>, Vec<SourceError>) {
    let fail = |error: String| SourceError {
        env: env.to_owned(),
        cluster: role,
        source: Source::Prometheus.name().to_owned(),
        error,
    };
    if probes.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let client = match prometheus::cluster_client(cluster, timeout).await {
        Ok(c) => c,
        Err(e) => return (Vec::new(), vec![fail(e)]),
    };
    let name = format!("{env}-{role}");
    let probes = fleet.with_exclusions(env, role, probes);
    let query = slo_counts::slo_reports_fast(&client, &name, &probes, at, fleet.policy.timezone);
    let reports = match tokio::time::timeout_at(deadline, query).await {
        Ok(Ok(reports)) => reports,
        Ok(Err(e)) => return (Vec::new(), vec![fail(e.to_string())]),
        Err(_) => {
            let waited = config::format_duration(timeout);
            return (Vec::new(), vec![fail(format!("no answer within {waited}"))]);
        }
    };
    let errors = probes
        .iter()
        .zip(&reports)
        .filter(|(_, r)| r.minutes_30d.measured() == 0 && r.minutes_year.measured() == 0)
        .map(|((probe, _), _)| {
            fail(format!(
                "no series matched {} in the report's span; check the probe's target, the \
                 cluster's `slo_labels` or the probe's `selector` in the fleet config",
                probe.selector
            ))
        })
        .collect();
    let items = reports
        .into_iter()
        .map(|report| SloItem {
            env: env.to_owned(),
            cluster: role,
            report,
        })
        .collect();
    (items, errors)
}

impl Report for SloReportList {
    fn metrics(&self, m: &mut Metrics) -> bool {
        for item in &self.items {
            let r = &item.report;
            let at = [
                ("env", item.env.as_str()),
                ("cluster", item.cluster.as_str()),
                ("target", r.target.as_str()),
            ];
            m.gauge(
                "ck8s_slo_objective_ratio",
                "The availability objective (0.9995 is 99.95 %).",
                &at,
                Some(r.slo_percent / 100.0),
            );
            m.gauge(
                "ck8s_slo_availability_30d_ratio",
                "Good minutes of all measured in the last 30 days.",
                &at,
                r.availability_30d.map(|a| a / 100.0),
            );
            m.gauge(
                "ck8s_slo_budget_left_ratio",
                "Error budget left of the 30-day window (1 is all of it; below 0 the SLO is missed).",
                &at,
                r.budget_left_fraction,
            );
            for window in slo::BurnWindow::ALL {
                m.gauge(
                    "ck8s_slo_burn_rate",
                    "How fast the error budget burns over the window (1 spends it in 30 days).",
                    &[at[0], at[1], at[2], ("window", window.label())],
                    r.burn_rates.get(window),
                );
            }
            m.gauge(
                "ck8s_slo_paging",
                "1 while a page-level burn rate alert pair fires.",
                &at,
                Some(f64::from(u8::from(r.status == SloStatus::Page))),
            );
        }
        true
    }

    fn names(&self) -> Vec<String> {
        self.items
            .iter()
            .map(|i| format!("{}-{}/{}", i.env, i.cluster, i.report.target))
            .collect()
    }

    fn errors(&self) -> &[SourceError] {
        &self.errors
    }

    fn render(&self, out: &mut String, colour: bool) {
        if self.items.is_empty() {
            out.push_str("No SLO targets.\n");
            return;
        }
        let mut table = TextTable::new(&[
            "ENV",
            "CLUSTER",
            "TARGET",
            "SLO",
            "AVAILABILITY 30D",
            "BUDGET LEFT",
            "BURN 1H",
            "BURN 6H",
            "STATUS",
        ]);
        for item in &self.items {
            let r = &item.report;
            let percent = |v: Option<f64>, digits: usize| {
                v.map_or_else(|| "-".to_owned(), |v| format!("{v:.digits$}%"))
            };
            let burn = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}x"));
            let budget = match r.budget_left_fraction {
                Some(f) => Cell::new(
                    format!("{:.0}% ({:.0}m)", f * 100.0, r.budget_left_minutes),
                    if f < 0.0 {
                        Tone::Bad
                    } else if f < 0.25 {
                        Tone::Warn
                    } else {
                        Tone::Plain
                    },
                ),
                None => Cell::new("-", Tone::Dim),
            };
            let (word, tone) = match r.status {
                SloStatus::Page => (SloStatus::Page.word(), Tone::Bad),
                SloStatus::Ok => (SloStatus::Ok.word(), Tone::Good),
                other => (other.word(), Tone::Warn),
            };
            table.row(vec![
                Cell::from(item.env.as_str()),
                Cell::from(item.cluster.as_str()),
                Cell::from(r.target.as_str()),
                Cell::from(format!("{}%", r.slo_percent)),
                Cell::from(percent(r.availability_30d, 3)),
                budget,
                Cell::from(burn(r.burn_rates.h1)),
                Cell::from(burn(r.burn_rates.h6)),
                Cell::new(word, tone),
            ]);
        }
        table.render(out, colour);
    }
}
