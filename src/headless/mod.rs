//! Headless reports: `status`, `pods`, `alerts`, `backups` and `slo`, read-only, from the
//! same live fleet state the console draws, printed once as a table or as JSON.
//!
//! A report starts the fleet's sources for the selected environments only, waits until the
//! sources it reads have answered (or failed, or `--timeout` passed), and builds itself from
//! one snapshot. A source that did not answer makes the report *partial*: what is known is
//! still printed, the failures are listed (`errors` in JSON, warning lines after a table),
//! and the exit code is 1. Exit codes say whether the report is complete, not whether the
//! fleet is healthy: read `status` fields for that. `docs/reports.md` documents every field.

/// `eprintln!` that cannot panic: after a hangup stderr is gone, and a run being followed
/// must still stop cleanly.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod alerts;
mod backups;
pub mod check;
pub mod objects;
mod openmetrics;
pub mod output;
mod pods;
mod progress;
pub mod runs;
pub mod schema;
mod slo;
mod status;
pub mod watch;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::cli::{
    AlertsOptions, BackupsOptions, OutputFormat, PodsOptions, Reach, ReportArgs, SloOptions,
};
use crate::config::{self, ClusterRole};
use crate::exit;
use crate::sources::live::{Intervals, LiveFleet};
use crate::state::health::Source;
use crate::state::{Answer, ClusterHandle, FleetState};

/// Which report, with its own options.
#[derive(Debug, Clone)]
pub enum ReportKind {
    Status,
    Pods(PodsOptions),
    Alerts(AlertsOptions),
    Backups(BackupsOptions),
    Slo(SloOptions),
}

impl ReportKind {
    /// The report's name, as in its subcommand and its JSON `schema`.
    pub fn name(&self) -> &'static str {
        match self {
            ReportKind::Status => "status",
            ReportKind::Pods(_) => "pods",
            ReportKind::Alerts(_) => "alerts",
            ReportKind::Backups(_) => "backups",
            ReportKind::Slo(_) => "slo",
        }
    }

    /// Whether `-o openmetrics` writes its figures.
    fn has_metrics(&self) -> bool {
        matches!(
            self,
            ReportKind::Status | ReportKind::Slo(_) | ReportKind::Backups(_)
        )
    }

    /// The live sources the report reads from a cluster of `role`.
    fn sources(&self, role: ClusterRole) -> Vec<Source> {
        let backups = |role| {
            let mut s = vec![
                Source::Backups,
                Source::Schedules,
                Source::BackupStorageLocations,
            ];
            if role == ClusterRole::Sc {
                s.extend([Source::CronJobs, Source::Jobs]);
            }
            s
        };
        match self {
            ReportKind::Status => {
                let mut s = vec![
                    Source::Nodes,
                    Source::ConfigMaps,
                    Source::Alertmanager,
                    Source::Slo,
                    Source::Certificates,
                ];
                s.extend(backups(role));
                s
            }
            ReportKind::Pods(_) => vec![Source::Pods],
            ReportKind::Alerts(_) => vec![Source::Alertmanager],
            ReportKind::Backups(_) => backups(role),
            ReportKind::Slo(_) => Vec::new(),
        }
    }
}

/// A source that did not answer, so the report misses its part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct SourceError {
    pub env: String,
    /// `sc` or `wc`.
    pub cluster: ClusterRole,
    /// The source, e.g. `nodes`, `alertmanager`, `prometheus`, or `kubernetes` when the
    /// cluster's client could not even be created.
    pub source: String,
    pub error: String,
}

/// Runs one report and prints it; returns the exit code. Usage errors (an unknown
/// `--env`) are printed here and exit 2.
pub async fn run(
    kind: ReportKind,
    args: &ReportArgs,
    fleet: &config::Fleet,
) -> anyhow::Result<i32> {
    let selection = match Selection::new(&args.reach, fleet) {
        Ok(s) => s,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(exit::USAGE);
        }
    };
    let format = args.output.unwrap_or_else(output::default_format);
    if format == OutputFormat::Openmetrics && !kind.has_metrics() {
        eprintln!(
            "error: `-o openmetrics` is for the status, slo and backups reports, not {}",
            kind.name()
        );
        return Ok(exit::USAGE);
    }
    let colour = format == OutputFormat::Table && output::use_colour();
    let (sel, timeout) = (&selection, args.reach.timeout);
    let report = match &kind {
        ReportKind::Slo(options) => {
            if let Err(message) = slo::check_targets(sel, options) {
                eprintln!("error: {message}");
                return Ok(exit::USAGE);
            }
            slo::build(sel, options, timeout).await
        }
        ReportKind::Status => {
            from_live(&kind, sel, timeout, |s, now, e| {
                status::build(s, sel, now, e)
            })
            .await
        }
        ReportKind::Pods(o) => {
            from_live(&kind, sel, timeout, |s, now, e| {
                pods::build(s, sel, o, now, e)
            })
            .await
        }
        ReportKind::Alerts(o) => {
            from_live(&kind, sel, timeout, |s, now, e| {
                alerts::build(s, sel, o, now, e)
            })
            .await
        }
        ReportKind::Backups(o) => {
            from_live(&kind, sel, timeout, |s, now, e| {
                backups::build(s, sel, o, now, e)
            })
            .await
        }
    };
    output::print(&report.text(format, kind.name(), colour)?)?;
    Ok(if report.errors().is_empty() {
        exit::OK
    } else {
        exit::FAILURE
    })
}

/// A built report, ready to print either way.
pub(crate) struct Built {
    generated_at: DateTime<Utc>,
    body: Box<dyn Report>,
}

impl Built {
    fn new(generated_at: DateTime<Utc>, body: impl Report + 'static) -> Built {
        Built {
            generated_at,
            body: Box::new(body),
        }
    }

    fn errors(&self) -> &[SourceError] {
        self.body.errors()
    }

    /// The report as `format` has it; a table ends with the partial report's warnings.
    fn text(&self, format: OutputFormat, name: &str, colour: bool) -> anyhow::Result<String> {
        self.body.text(format, name, self.generated_at, colour)
    }

    #[cfg(test)]
    fn json(&self, name: &str) -> anyhow::Result<String> {
        self.text(OutputFormat::Json, name, false)
    }

    #[cfg(test)]
    fn table(&self, colour: bool) -> String {
        self.text(OutputFormat::Table, "", colour)
            .expect("a table is always written")
    }
}

/// What each report module provides.
trait Report: ReportText {
    fn render(&self, out: &mut String, colour: bool);
    fn errors(&self) -> &[SourceError];
    /// One name per object listed, for `-o name`.
    fn names(&self) -> Vec<String>;
    /// Its figures for `-o openmetrics`; `false` for a report that has none.
    fn metrics(&self, _: &mut openmetrics::Metrics) -> bool {
        false
    }
}

/// Every [`Report`] in every format, the documents from its `Serialize`.
trait ReportText {
    /// JSON and YAML hold the report's own fields (e.g. `items`) between `generated_at`
    /// and `errors`, through [`output::format`].
    fn text(
        &self,
        format: OutputFormat,
        name: &str,
        generated_at: DateTime<Utc>,
        colour: bool,
    ) -> anyhow::Result<String>;
}

impl<T: Report + serde::Serialize> ReportText for T {
    fn text(
        &self,
        format: OutputFormat,
        name: &str,
        generated_at: DateTime<Utc>,
        colour: bool,
    ) -> anyhow::Result<String> {
        let doc = output::Doc {
            report: name,
            generated_at,
            body: self,
            errors: self.errors(),
        };
        if format == OutputFormat::Openmetrics {
            let mut metrics = openmetrics::Metrics::default();
            if self.metrics(&mut metrics) {
                return Ok(metrics.text());
            }
        }
        let table = || {
            let mut out = String::new();
            self.render(&mut out, colour);
            output::errors(&mut out, self.errors(), colour);
            out
        };
        output::format(format, doc, table, || self.names())
    }
}

// ---------------------------------------------------------------------------------------------
// Which environments and clusters
// ---------------------------------------------------------------------------------------------

/// The environments and cluster roles a report covers: the fleet narrowed to `--env`, and
/// `--cluster`.
#[derive(Debug, Clone)]
pub(crate) struct Selection {
    pub fleet: config::Fleet,
    pub role: Option<ClusterRole>,
}

impl Selection {
    fn new(args: &Reach, fleet: &config::Fleet) -> Result<Selection, String> {
        for name in &args.envs {
            if fleet.environment(name).is_none() {
                return Err(unknown_environment(name, fleet));
            }
        }
        let mut narrowed = fleet.clone();
        if !args.envs.is_empty() {
            narrowed
                .environments
                .retain(|env| args.envs.contains(&env.name));
        }
        Ok(Selection {
            fleet: narrowed,
            role: args.cluster.map(ClusterRole::from),
        })
    }

    pub fn roles(&self) -> Vec<ClusterRole> {
        ClusterRole::ALL
            .into_iter()
            .filter(|r| self.role.is_none_or(|want| want == *r))
            .collect()
    }

    /// The selected clusters of a running fleet, in config order, sc before wc.
    pub fn handles<'a>(&self, state: &'a FleetState) -> Vec<&'a std::sync::Arc<ClusterHandle>> {
        let roles = self.roles();
        state
            .envs
            .iter()
            .flat_map(|env| env.clusters())
            .filter(|c| roles.contains(&c.role))
            .collect()
    }
}

fn unknown_environment(name: &str, fleet: &config::Fleet) -> String {
    let known: Vec<&str> = fleet.environments.iter().map(|e| e.name.as_str()).collect();
    if known.is_empty() {
        return format!(
            "unknown environment `{name}` (--env): the fleet config has no environments"
        );
    }
    let nearest = ck8s_model::format::closest(name, known.iter().copied())
        .map(|k| format!(" Did you mean `{k}`?"))
        .unwrap_or_default();
    format!(
        "unknown environment `{name}` (--env).{nearest} Known environments: {}",
        known.join(", ")
    )
}

// ---------------------------------------------------------------------------------------------
// The live fleet and waiting for it
// ---------------------------------------------------------------------------------------------

/// Builds a report from a snapshot of the live fleet, once its sources have settled. The
/// fleet's sources stop when it is dropped, on return.
async fn from_live(
    kind: &ReportKind,
    selection: &Selection,
    timeout: Duration,
    build: impl FnOnce(&FleetState, DateTime<Utc>, Vec<SourceError>) -> Built,
) -> Built {
    let live = start_live(kind, selection, timeout).await;
    let errors = settle(&live, kind, selection, timeout).await;
    build(&live.state, Utc::now(), errors)
}

async fn start_live(kind: &ReportKind, selection: &Selection, timeout: Duration) -> LiveFleet {
    let intervals = Intervals {
        // One poll is all a report reads; later ones would only add load.
        alerts: timeout * 2,
        metrics: timeout * 2,
        slo: timeout * 2,
        lists: timeout * 2,
        certificates: timeout * 2,
    };
    let live = LiveFleet::start(&selection.fleet, intervals).await;
    if let Some(text) = &live.shortfall {
        eprintln!("warning: {text}");
    }
    if matches!(kind, ReportKind::Pods(_)) {
        for env in &selection.fleet.environments {
            live.open(&env.name).await;
        }
    }
    live
}

/// Waits until every source the report reads has answered or failed in every selected
/// cluster, or `timeout` passes; returns what failed or never answered. (Not
/// `LiveFleet::wait_settled`: the sources differ by cluster role, and a cluster whose
/// client could not be created never reports its sources at all.)
async fn settle(
    live: &LiveFleet,
    kind: &ReportKind,
    selection: &Selection,
    timeout: Duration,
) -> Vec<SourceError> {
    let handles = selection.handles(&live.state);
    let deadline = tokio::time::Instant::now() + timeout;
    let pending = || {
        handles.iter().any(|h| {
            let state = h.read();
            kind.sources(h.role)
                .into_iter()
                .any(|s| state.answer(s) == Answer::Pending)
        })
    };
    while pending() && tokio::time::Instant::now() < deadline {
        live.state.changes.next_look().await;
    }
    let mut errors: Vec<SourceError> = Vec::new();
    for h in handles {
        let state = h.read();
        for source in kind.sources(h.role) {
            let (blamed, error) = match state.answer(source) {
                Answer::Ok => continue,
                Answer::Failed(blamed, error) => (blamed, error),
                Answer::Pending => (
                    source,
                    format!("no answer within {}", config::format_duration(timeout)),
                ),
            };
            let e = SourceError {
                env: h.env.clone(),
                cluster: h.role,
                source: blamed.name().to_owned(),
                error,
            };
            if !errors.contains(&e) {
                errors.push(e);
            }
        }
    }
    errors
}

/// The reports' unit tests cover the one-environment test fleet.
#[cfg(test)]
pub(crate) mod testing {
    use super::Selection;
    use crate::state;

    /// Every cluster of the test fleet's environment `env`.
    pub fn selection(env: &str) -> Selection {
        Selection {
            fleet: state::test_config(env),
            role: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(envs: &[&str], cluster: Option<crate::cli::ClusterArg>) -> Reach {
        Reach {
            envs: envs.iter().map(|e| e.to_string()).collect(),
            cluster,
            timeout: Duration::from_secs(20),
        }
    }

    fn fleet() -> config::Fleet {
        let mut fleet = crate::state::test_config("globex");
        let mut acme = fleet.environments[0].clone();
        acme.name = "acme".into();
        fleet.environments.push(acme);
        fleet
    }

    #[test]
    fn env_narrows_the_fleet_and_cluster_the_roles() {
        let s = Selection::new(&args(&["acme"], None), &fleet()).unwrap();
        let names: Vec<&str> = s
            .fleet
            .environments
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(names, ["acme"]);
        assert_eq!(s.roles(), [ClusterRole::Sc, ClusterRole::Wc]);

        let s = Selection::new(&args(&[], Some(crate::cli::ClusterArg::Wc)), &fleet()).unwrap();
        assert_eq!(
            s.fleet.environments.len(),
            2,
            "no --env is every environment"
        );
        assert_eq!(s.roles(), [ClusterRole::Wc]);
        let state = FleetState::new(&s.fleet);
        let handles: Vec<String> = s.handles(&state).iter().map(|h| h.name()).collect();
        assert_eq!(handles, ["globex-wc", "acme-wc"], "config order");
    }

    #[test]
    fn an_unknown_env_is_named_with_the_nearest_and_every_known_one() {
        let e = Selection::new(&args(&["acme", "glbex"], None), &fleet()).unwrap_err();
        assert_eq!(
            e,
            "unknown environment `glbex` (--env). Did you mean `globex`? \
             Known environments: globex, acme"
        );
        let far = Selection::new(&args(&["initech"], None), &fleet()).unwrap_err();
        assert!(!far.contains("Did you mean"), "{far}");
        let mut empty = fleet();
        empty.environments.clear();
        let none = Selection::new(&args(&["acme"], None), &empty).unwrap_err();
        assert!(
            none.ends_with("the fleet config has no environments"),
            "{none}"
        );
    }

    #[test]
    fn each_report_waits_only_for_the_sources_it_reads() {
        use Source::*;
        assert_eq!(
            ReportKind::Pods(Default::default()).sources(ClusterRole::Wc),
            [Pods]
        );
        let backups = ReportKind::Backups(Default::default());
        assert!(
            backups.sources(ClusterRole::Sc).contains(&CronJobs),
            "Harbor and OpenSearch jobs run in the sc"
        );
        assert!(!backups.sources(ClusterRole::Wc).contains(&CronJobs));
        let status = ReportKind::Status.sources(ClusterRole::Wc);
        assert!(
            status.contains(&Nodes) && status.contains(&Alertmanager) && status.contains(&Backups)
        );
        assert!(!status.contains(&Pods), "status never lists every pod");
        assert!(
            ReportKind::Slo(Default::default())
                .sources(ClusterRole::Sc)
                .is_empty(),
            "slo asks Prometheus directly"
        );
    }
}
