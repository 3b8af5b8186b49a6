//! `status`: one line of health per cluster: API, nodes, control plane and workers against
//! the policy, versions and the upgrade lock, firing alerts, backups, the SLO, staleness.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::openmetrics::{Metrics, severity};
use super::output::{self, Cell, TextTable, Tone};
use super::{Built, Report, Selection, SourceError};
use crate::backup;
use crate::config::{self, ClusterRole};
use crate::slo::SloStatus;
use crate::state::health::{Source, SourceHealth};
use crate::state::rows::{CertificateRow, UpgradeLock};
use crate::state::{self, ClusterHandle, ClusterState, FleetState};
use ck8s_model::alert::{AlertState, Severity};
use ck8s_model::format;

/// How a cluster or environment is doing, worst first when compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Ok,
    Warning,
    Critical,
}

impl Health {
    fn word(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Warning => "warning",
            Health::Critical => "critical",
        }
    }

    fn tone(self) -> Tone {
        match self {
            Health::Ok => Tone::Good,
            Health::Warning => Tone::Warn,
            Health::Critical => Tone::Bad,
        }
    }
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(super) struct StatusReport {
    environments: Vec<EnvStatus>,
    #[serde(skip)]
    errors: Vec<SourceError>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(super) struct EnvStatus {
    pub name: String,
    /// The worst of its clusters.
    pub status: Health,
    pub clusters: Vec<ClusterStatus>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(super) struct ClusterStatus {
    /// `sc` or `wc`.
    pub cluster: ClusterRole,
    /// `<env>-<sc|wc>`.
    pub name: String,
    pub status: Health,
    /// Why the status is not ok, one line each, worst first.
    problems: Vec<String>,
    /// The same, with what each is about and how bad it is.
    #[serde(skip)]
    pub findings: Vec<Finding>,
    api: Api,
    pub nodes: Nodes,
    control_plane: ControlPlane,
    workers: Workers,
    kubernetes_version: Option<String>,
    apps: Apps,
    /// Firing alerts that notify (neither silenced nor inhibited), by severity.
    /// `null` while Alertmanager has never answered.
    pub alerts: Option<AlertCounts>,
    pub backup: BackupSummary,
    /// `null` until the SLO poller has reported.
    pub slo: Option<SloSummary>,
    /// cert-manager's certificates, from Prometheus; `null` until it has answered.
    pub certificates: Option<Certificates>,
    /// Every source's health: `{"nodes": {"state": "connected", "since": ...}, ...}`.
    sources: BTreeMap<Source, SourceHealth>,
    /// Since when the oldest failing source has been failing; `null` when none fails.
    stale_since: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct Api {
    /// `null` when the node list has not answered yet.
    reachable: Option<bool>,
    error: Option<String>,
}

/// Counts are `null` (`?` in the table) until the node list has answered once: an
/// unknown is never shown as a zero.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(super) struct Nodes {
    pub ready: Option<usize>,
    pub total: Option<usize>,
    /// Names of the nodes that are not Ready.
    not_ready: Vec<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct ControlPlane {
    nodes: Option<usize>,
    ready: Option<usize>,
    /// The policy's `control_plane_nodes`.
    expected: u32,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct Workers {
    nodes: Option<usize>,
    ready: Option<usize>,
    /// The environment's worker limit (its override, else the policy's).
    max: u32,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct Apps {
    /// From `kube-system/welkin-apps-meta`.
    version: Option<String>,
    /// `kube-system/welkin-apps-upgrade`, while an apps upgrade holds it.
    upgrade_lock: Option<UpgradeLock>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(super) struct Certificates {
    /// How many certificates the cluster's cert-manager reports.
    pub total: usize,
    /// When the first of them expires.
    pub soonest_expires_at: Option<DateTime<Utc>>,
    /// The policy's `certificate_warning`: certificates expiring sooner are listed.
    pub warning_seconds: i64,
    /// Those expiring within `warning_seconds`, or expired, soonest first.
    pub expiring: Vec<ExpiringCertificate>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(super) struct ExpiringCertificate {
    pub namespace: String,
    pub name: String,
    pub expires_at: DateTime<Utc>,
    /// Negative once expired.
    pub seconds_left: i64,
}

#[derive(Debug, Default, Serialize, schemars::JsonSchema)]
pub(super) struct AlertCounts {
    pub critical: usize,
    pub high: usize,
    pub warning: usize,
    pub info: usize,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(super) struct BackupSummary {
    /// Whether the Backups have been listed; until then the rest is not a verdict.
    known: bool,
    /// `backup::assess`'s status: `ok`, `warning` or `critical`.
    status: backup::Status,
    last_completed: Option<DateTime<Utc>>,
    pub last_completed_age_seconds: Option<i64>,
    /// Set when the latest ended backup window holds no Completed backup.
    late_since: Option<DateTime<Utc>>,
    /// The codes of its warning and critical findings.
    findings: Vec<&'static str>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(super) struct SloSummary {
    /// The worst status of the cluster's targets: `page`, `ticket`, `no_data` or `ok`.
    status: SloStatus,
    /// The target with the least error budget left.
    pub target: String,
    pub budget_left_fraction: Option<f64>,
    /// How many targets the cluster has.
    targets: usize,
}

pub(super) fn build(
    state: &FleetState,
    selection: &Selection,
    now: DateTime<Utc>,
    errors: Vec<SourceError>,
) -> Built {
    let environments = environments(state, selection, now);
    Built::new(
        now,
        StatusReport {
            environments,
            errors,
        },
    )
}

/// Each selected environment's clusters, judged: the one judgment of `status` and `check`.
pub(super) fn environments(
    state: &FleetState,
    selection: &Selection,
    now: DateTime<Utc>,
) -> Vec<EnvStatus> {
    let roles = selection.roles();
    state
        .envs
        .iter()
        .filter_map(|env| {
            let config = selection.fleet.environment(&env.name)?;
            let clusters: Vec<ClusterStatus> = env
                .clusters()
                .into_iter()
                .filter(|c| roles.contains(&c.role))
                .map(|c| cluster_status(c, config, &selection.fleet.policy, now))
                .collect();
            Some(EnvStatus {
                name: env.name.clone(),
                status: clusters
                    .iter()
                    .map(|c| c.status)
                    .max()
                    .unwrap_or(Health::Ok),
                clusters,
            })
        })
        .collect()
}

fn cluster_status(
    handle: &ClusterHandle,
    env: &config::Environment,
    policy: &config::Policy,
    now: DateTime<Utc>,
) -> ClusterStatus {
    let state = handle.read();
    let known = state.nodes.synced();
    let (ready, total) = state.nodes_ready();
    // (nodes, ready) among control-plane nodes or among workers.
    let count = |control_plane: bool| {
        let nodes = state
            .nodes
            .values()
            .filter(|n| n.is_control_plane() == control_plane);
        let (all, ready) = nodes.fold((0, 0), |(all, ready), n| {
            (all + 1, ready + usize::from(n.ready == Some(true)))
        });
        (known.then_some(all), known.then_some(ready))
    };
    let (cp_nodes, cp_ready) = count(true);
    let (worker_nodes, workers_ready) = count(false);
    let assessment = backup::assess(&state, policy, now);
    let mut status = ClusterStatus {
        cluster: handle.role,
        name: handle.name(),
        status: Health::Ok,
        problems: Vec::new(),
        findings: Vec::new(),
        api: api(&state),
        nodes: Nodes {
            ready: known.then_some(ready),
            total: known.then_some(total),
            not_ready: state
                .nodes
                .values()
                .filter(|n| n.ready != Some(true))
                .map(|n| n.name.to_string())
                .collect(),
        },
        control_plane: ControlPlane {
            nodes: cp_nodes,
            ready: cp_ready,
            expected: policy.control_plane_nodes,
        },
        workers: Workers {
            nodes: worker_nodes,
            ready: workers_ready,
            max: env.max_workers(policy),
        },
        kubernetes_version: state.version.clone(),
        apps: Apps {
            version: state.apps_version().map(str::to_owned),
            upgrade_lock: state.upgrade_lock(),
        },
        alerts: alert_counts(&state),
        backup: BackupSummary {
            known: state.backup.backups.synced(),
            status: assessment.status,
            last_completed: assessment.last_completed.as_ref().and_then(|b| b.completed),
            last_completed_age_seconds: assessment.last_completed_age_seconds,
            late_since: assessment.window.late.map(|l| l.since),
            findings: assessment
                .findings
                .iter()
                .filter(|f| f.severity > backup::Severity::Info)
                .map(|f| f.code)
                .collect(),
        },
        slo: slo_summary(&state),
        certificates: state
            .certificates
            .as_deref()
            .map(|all| certificates(all, policy.certificate_warning, now)),
        sources: state.health.clone(),
        stale_since: state
            .health
            .values()
            .filter_map(|h| match h {
                SourceHealth::Stale { since, .. } | SourceHealth::Unauthorized { since, .. } => {
                    Some(*since)
                }
                _ => None,
            })
            .min(),
    };
    judge(&mut status);
    status
}

impl ClusterStatus {
    /// The API server did not answer: every source of the cluster fails with it.
    pub(super) fn api_down(&self) -> bool {
        self.api.reachable == Some(false)
    }

    /// The sources whose last attempt failed (stale or refused), by name.
    pub(super) fn failing_sources(&self) -> Vec<&'static str> {
        self.sources
            .iter()
            .filter(|(_, h)| h.severity() >= 2)
            .map(|(source, _)| source.name())
            .collect()
    }
}

fn api(state: &ClusterState) -> Api {
    match state.api() {
        state::Api::Up => Api {
            reachable: Some(true),
            error: None,
        },
        state::Api::Down(error) => Api {
            reachable: Some(false),
            error: Some(error),
        },
        state::Api::Unknown => Api {
            reachable: None,
            error: None,
        },
    }
}

/// `None` while Alertmanager has never answered: no alerts and no answer is not "none".
fn alert_counts(state: &ClusterState) -> Option<AlertCounts> {
    if !state.alerts_known {
        return None;
    }
    let mut counts = AlertCounts::default();
    let firing = state
        .alerts
        .iter()
        .filter(|a| a.status.state != AlertState::Suppressed);
    for alert in firing {
        match alert.severity() {
            Severity::Critical => counts.critical += 1,
            Severity::High => counts.high += 1,
            Severity::Warning => counts.warning += 1,
            Severity::Info => counts.info += 1,
            Severity::None => {}
        }
    }
    Some(counts)
}

/// The certificates that expire within `warning`, soonest first, and the soonest of all.
fn certificates(
    all: &[CertificateRow],
    warning: std::time::Duration,
    now: DateTime<Utc>,
) -> Certificates {
    let left = |c: &CertificateRow| (c.expires - now).num_seconds();
    let warning = warning.as_secs() as i64;
    let mut expiring: Vec<ExpiringCertificate> = all
        .iter()
        .filter(|c| left(c) < warning)
        .map(|c| ExpiringCertificate {
            namespace: c.namespace.clone(),
            name: c.name.clone(),
            expires_at: c.expires,
            seconds_left: left(c),
        })
        .collect();
    expiring.sort_by_key(|c| c.seconds_left);
    Certificates {
        total: all.len(),
        soonest_expires_at: all.iter().map(|c| c.expires).min(),
        warning_seconds: warning,
        expiring,
    }
}

fn slo_summary(state: &ClusterState) -> Option<SloSummary> {
    let least_budget = state.slo.iter().min_by(|a, b| {
        let left = |r: &crate::slo::SloReport| r.budget_left_fraction.unwrap_or(f64::INFINITY);
        left(a).total_cmp(&left(b))
    })?;
    let worst = state
        .slo
        .iter()
        .map(|r| r.status)
        .max_by_key(|s| SloStatus::rank(*s))?;
    Some(SloSummary {
        status: worst,
        target: least_budget.target.clone(),
        budget_left_fraction: least_budget.budget_left_fraction,
        targets: state.slo.len(),
    })
}

/// What a problem of a cluster is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Topic {
    Api,
    Nodes,
    Alerts,
    Backups,
    Slo,
    Certificates,
    /// Sources that failed and left their data stale.
    Stale,
}

/// One problem of a cluster: how bad, about what, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Finding {
    pub health: Health,
    pub topic: Topic,
    pub text: String,
}

/// Sets the status and its reasons. Critical: the API is down, a control-plane node is not
/// Ready, a critical alert fires, backups are critical, an SLO pages or its error budget
/// is spent. Warning: anything else off the policy or firing.
fn judge(c: &mut ClusterStatus) {
    let mut findings: Vec<Finding> = Vec::new();
    let mut add = |health: Health, topic: Topic, text: String| {
        findings.push(Finding {
            health,
            topic,
            text,
        })
    };
    if c.api.reachable == Some(false) {
        // The error is one sentence that says what failed: unreachable, refused
        // credentials, forbidden, a server error.
        let error = c.api.error.as_deref().unwrap_or("no answer");
        add(Health::Critical, Topic::Api, format!("API: {error}"));
    }
    let cp = &c.control_plane;
    if let (Some(nodes), Some(ready)) = (cp.nodes, cp.ready)
        && ready < nodes
    {
        let n = nodes - ready;
        add(
            Health::Critical,
            Topic::Nodes,
            format!("{n} control-plane node(s) not Ready"),
        );
    }
    let workers_down = c.workers.nodes.unwrap_or(0) - c.workers.ready.unwrap_or(0);
    if workers_down > 0 {
        let names = c.nodes.not_ready.join(", ");
        add(
            Health::Warning,
            Topic::Nodes,
            format!("{workers_down} worker node(s) not Ready: {names}"),
        );
    }
    if let Some(n) = cp.nodes
        && n != cp.expected as usize
    {
        let want = cp.expected;
        add(
            Health::Warning,
            Topic::Nodes,
            format!("{n} control-plane nodes, the policy says {want}"),
        );
    }
    if let Some(n) = c.workers.nodes
        && n > c.workers.max as usize
    {
        let max = c.workers.max;
        add(
            Health::Warning,
            Topic::Nodes,
            format!("{n} workers, above the limit of {max}"),
        );
    }
    let none = AlertCounts::default();
    let a = c.alerts.as_ref().unwrap_or(&none);
    if a.critical > 0 {
        add(
            Health::Critical,
            Topic::Alerts,
            format!("{} critical alert(s) firing", a.critical),
        );
    }
    let lesser: Vec<String> = [(a.high, "high"), (a.warning, "warning")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, label)| format!("{n} {label}"))
        .collect();
    if !lesser.is_empty() {
        add(
            Health::Warning,
            Topic::Alerts,
            format!("{} alert(s) firing", lesser.join(", ")),
        );
    }
    match c.backup.status {
        backup::Status::Ok => {}
        // Not listed yet: the API's own problem says why.
        _ if !c.backup.known => {}
        s => {
            let health = if s == backup::Status::Critical {
                Health::Critical
            } else {
                Health::Warning
            };
            add(
                health,
                Topic::Backups,
                format!("backups {} ({})", s.as_str(), c.backup.findings.join(", ")),
            );
        }
    }
    if let Some(slo) = &c.slo {
        let left = slo
            .budget_left_fraction
            .map(|f| format!(" ({} has {:.0}% of its budget left)", slo.target, f * 100.0))
            .unwrap_or_default();
        let mut slo_problem = |health, text| add(health, Topic::Slo, text);
        match slo.status {
            SloStatus::Page => slo_problem(Health::Critical, format!("SLO burn rate pages{left}")),
            SloStatus::Ticket => slo_problem(
                Health::Warning,
                format!("SLO burn rate opens a ticket{left}"),
            ),
            // The objective is missed for this 30-day window: that is the breach itself.
            SloStatus::BudgetSpent => slo_problem(
                Health::Critical,
                format!("SLO error budget spent on {}", slo.target),
            ),
            SloStatus::NoData => {
                slo_problem(Health::Warning, "SLO probes report no data".to_owned())
            }
            SloStatus::Ok => {}
        }
    }
    if let Some(certs) = &c.certificates {
        let (expired, soon): (Vec<_>, Vec<_>) =
            certs.expiring.iter().partition(|c| c.seconds_left <= 0);
        let named = |list: &[&ExpiringCertificate], when: &dyn Fn(i64) -> String| {
            list.iter()
                .map(|c| format!("{}/{} {}", c.namespace, c.name, when(c.seconds_left)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !expired.is_empty() {
            let text = named(&expired, &|s| format!("{} ago", format::age(-s)));
            add(
                Health::Critical,
                Topic::Certificates,
                format!("{} certificate(s) expired: {text}", expired.len()),
            );
        }
        if !soon.is_empty() {
            let text = named(&soon, &|s| format!("in {}", format::age(s)));
            let within = format::age(certs.warning_seconds);
            add(
                Health::Warning,
                Topic::Certificates,
                format!(
                    "{} certificate(s) expire within {within}: {text}",
                    soon.len()
                ),
            );
        }
    }
    if let Some(since) = c.stale_since {
        let failing = c.failing_sources();
        add(
            Health::Warning,
            Topic::Stale,
            format!(
                "stale since {}: {}",
                since.format("%Y-%m-%d %H:%M:%SZ"),
                failing.join(", ")
            ),
        );
    }
    findings.sort_by_key(|f| std::cmp::Reverse(f.health));
    c.status = findings.first().map_or(Health::Ok, |f| f.health);
    c.problems = findings.iter().map(|f| f.text.clone()).collect();
    c.findings = findings;
}

impl Report for StatusReport {
    fn names(&self) -> Vec<String> {
        let clusters = self.environments.iter().flat_map(|e| &e.clusters);
        clusters.map(|c| c.name.clone()).collect()
    }

    fn metrics(&self, m: &mut Metrics) -> bool {
        for env in &self.environments {
            for c in &env.clusters {
                cluster_metrics(m, &env.name, c);
            }
        }
        true
    }

    fn errors(&self) -> &[SourceError] {
        &self.errors
    }

    fn render(&self, out: &mut String, colour: bool) {
        let mut table = TextTable::new(&[
            "ENV",
            "CLUSTER",
            "STATUS",
            "API",
            "NODES",
            "CP",
            "WORKERS",
            "KUBERNETES",
            "APPS",
            "ALERTS",
            "BACKUP",
            "SLO",
        ]);
        for env in &self.environments {
            for c in &env.clusters {
                table.row(row(&env.name, c));
            }
        }
        if table.is_empty() {
            out.push_str("No environments selected.\n");
            return;
        }
        table.render(out, colour);
        let problems: Vec<(&str, &ClusterStatus)> = self
            .environments
            .iter()
            .flat_map(|e| e.clusters.iter().map(move |c| (e.name.as_str(), c)))
            .filter(|(_, c)| !c.problems.is_empty())
            .collect();
        if !problems.is_empty() {
            out.push('\n');
        }
        for (_, c) in problems {
            for p in &c.problems {
                output::line(out, &format!("{}: {p}", c.name), c.status.tone(), colour);
            }
        }
    }
}

fn cluster_metrics(m: &mut Metrics, env: &str, c: &ClusterStatus) {
    let at = [("env", env), ("cluster", c.cluster.as_str())];
    let count = |n: Option<usize>| n.map(|n| n as f64);
    // A cluster never heard from has no verdict to scrape, not an "ok".
    let heard = c.api.reachable.is_some();
    m.gauge(
        "ck8s_cluster_status",
        "How the cluster is doing: 0 ok, 1 warning, 2 critical, as status and check judge.",
        &at,
        severity(c.status.word()).filter(|_| heard),
    );
    m.gauge(
        "ck8s_api_up",
        "1 when the API server answered the node list, 0 when it failed.",
        &at,
        c.api.reachable.map(|up| f64::from(u8::from(up))),
    );
    m.gauge("ck8s_nodes", "Nodes.", &at, count(c.nodes.total));
    m.gauge(
        "ck8s_nodes_ready",
        "Nodes with Ready=True.",
        &at,
        count(c.nodes.ready),
    );
    if let Some(a) = &c.alerts {
        for (severity, n) in [
            ("critical", a.critical),
            ("high", a.high),
            ("warning", a.warning),
            ("info", a.info),
        ] {
            m.gauge(
                "ck8s_alerts_firing",
                "Firing alerts that notify (neither silenced nor inhibited).",
                &[at[0], at[1], ("severity", severity)],
                Some(n as f64),
            );
        }
    }
    m.gauge(
        "ck8s_backup_last_completed_age_seconds",
        "Age of the newest Completed Velero backup.",
        &at,
        c.backup.last_completed_age_seconds.map(|s| s as f64),
    );
    if let Some(soonest) = c.certificates.as_ref().and_then(|c| c.soonest_expires_at) {
        m.gauge(
            "ck8s_certificate_soonest_expiry_timestamp_seconds",
            "When the first of the cluster's cert-manager certificates expires.",
            &at,
            Some(soonest.timestamp() as f64),
        );
    }
    if let Some(slo) = &c.slo {
        m.gauge(
            "ck8s_slo_budget_left_least_ratio",
            "The error budget left of the cluster's target with the least (1 is all of it).",
            &[at[0], at[1], ("target", &slo.target)],
            slo.budget_left_fraction,
        );
    }
}

fn dash() -> Cell {
    Cell::new("-", Tone::Dim)
}

/// Not known yet (the source never answered): never a zero.
fn unknown() -> Cell {
    Cell::new("?", Tone::Warn)
}

fn row(env: &str, c: &ClusterStatus) -> Vec<Cell> {
    let api = match c.api.reachable {
        Some(true) => Cell::new("ok", Tone::Good),
        Some(false) => Cell::new("down", Tone::Bad),
        None => Cell::new("?", Tone::Warn),
    };
    let count = |ok: Option<usize>, all: Option<usize>, bad: bool| {
        let n = |v: Option<usize>| v.map_or("?".to_string(), |v| v.to_string());
        Cell::new(
            format!("{}/{}", n(ok), n(all)),
            if bad { Tone::Bad } else { Tone::Plain },
        )
    };
    let cp = &c.control_plane;
    let apps = match (&c.apps.version, &c.apps.upgrade_lock) {
        (v, Some(lock)) => Cell::new(
            format!(
                "{} -> {} (upgrading)",
                v.as_deref().unwrap_or("?"),
                lock.target_version
            ),
            Tone::Warn,
        ),
        (Some(v), None) => Cell::from(v.as_str()),
        (None, None) => dash(),
    };
    vec![
        Cell::from(env),
        Cell::from(c.cluster.as_str()),
        Cell::new(c.status.word(), c.status.tone()),
        api,
        count(
            c.nodes.ready,
            c.nodes.total,
            matches!((c.nodes.ready, c.nodes.total), (Some(r), Some(t)) if r < t),
        ),
        count(
            cp.ready,
            Some(cp.expected as usize),
            cp.ready.is_some_and(|r| r != cp.expected as usize),
        ),
        count(
            c.workers.nodes,
            Some(c.workers.max as usize),
            c.workers.nodes.is_some_and(|n| n > c.workers.max as usize),
        ),
        c.kubernetes_version
            .as_deref()
            .map_or_else(dash, Cell::from),
        apps,
        c.alerts.as_ref().map_or_else(unknown, alerts_cell),
        backup_cell(&c.backup),
        slo_cell(c.slo.as_ref()),
    ]
}

fn alerts_cell(a: &AlertCounts) -> Cell {
    let parts: Vec<String> = [
        (a.critical, "crit"),
        (a.high, "high"),
        (a.warning, "warn"),
        (a.info, "info"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, label)| format!("{n} {label}"))
    .collect();
    let tone = if a.critical > 0 {
        Tone::Bad
    } else if a.high + a.warning > 0 {
        Tone::Warn
    } else {
        Tone::Plain
    };
    if parts.is_empty() {
        dash()
    } else {
        Cell::new(parts.join(", "), tone)
    }
}

fn backup_cell(b: &BackupSummary) -> Cell {
    if !b.known {
        return unknown();
    }
    let tone = match b.status {
        backup::Status::Ok => Tone::Good,
        backup::Status::Warning => Tone::Warn,
        backup::Status::Critical => Tone::Bad,
    };
    let age = b
        .last_completed_age_seconds
        .map(|s| format!(", last {} ago", output::age(s)))
        .unwrap_or_else(|| ", none completed".to_owned());
    Cell::new(format!("{}{age}", b.status.as_str()), tone)
}

fn slo_cell(slo: Option<&SloSummary>) -> Cell {
    let Some(slo) = slo else { return dash() };
    let (word, tone) = match slo.status {
        SloStatus::Page => (SloStatus::Page.word(), Tone::Bad),
        SloStatus::Ok => (SloStatus::Ok.word(), Tone::Good),
        other => (other.word(), Tone::Warn),
    };
    let left = slo
        .budget_left_fraction
        .map(|f| format!(", {} {:.0}% left", slo.target, f * 100.0))
        .unwrap_or_default();
    Cell::new(format!("{word}{left}"), tone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headless::testing::selection;
    use crate::state::rows::NodeRow;
    use crate::state::test_fleet;
    use crate::testing::{alert, firing, listed_nodes, node, stale};

    /// The `status` JSON, as scripts read it, of globex after `fill` set each cluster.
    fn status_json(fill: impl Fn(&ClusterHandle, DateTime<Utc>)) -> serde_json::Value {
        let state = test_fleet("globex");
        let now = Utc::now();
        for cluster in state.clusters() {
            fill(cluster, now);
        }
        let built = build(&state, &selection("globex"), now, Vec::new());
        serde_json::from_str(&built.json("status").expect("the report serialises")).unwrap()
    }

    /// Three ready control-plane nodes and `workers` ready workers.
    fn healthy(workers: usize) -> Vec<NodeRow> {
        let mut nodes: Vec<NodeRow> = (1..=3)
            .map(|i| node(&format!("cp-{i}"), true, Some(true)))
            .collect();
        nodes.extend((1..=workers).map(|i| node(&format!("w-{i}"), false, Some(true))));
        nodes
    }

    /// The judged status of one cluster whose state `fill` set.
    fn judged(fill: impl FnOnce(&ClusterHandle, DateTime<Utc>)) -> ClusterStatus {
        let state = test_fleet("globex");
        let now = Utc::now();
        let sc = state
            .env("globex")
            .unwrap()
            .cluster(ClusterRole::Sc)
            .clone();
        fill(&sc, now);
        let sel = selection("globex");
        let env = sel.fleet.environment("globex").unwrap();
        cluster_status(&sc, env, &sel.fleet.policy, now)
    }

    #[test]
    fn a_cluster_with_every_node_ready_and_nothing_firing_is_ok() {
        let c = judged(|sc, now| {
            listed_nodes(sc, healthy(2), now);
            firing(sc, vec![alert("Watchdog", "none", false, &[])]);
        });
        assert_eq!(c.status, Health::Ok, "problems: {:?}", c.problems);
        assert!(c.problems.is_empty());
        assert_eq!((c.nodes.ready, c.nodes.total), (Some(5), Some(5)));
        assert_eq!((c.control_plane.nodes, c.workers.nodes), (Some(3), Some(2)));
        assert_eq!(c.api.reachable, Some(true));
    }

    #[test]
    fn counts_not_yet_listed_are_unknown_never_zero() {
        let c = judged(|_, _| {});
        assert_eq!(c.api.reachable, None);
        assert_eq!((c.nodes.ready, c.nodes.total), (None, None));
        assert_eq!((c.control_plane.nodes, c.workers.ready), (None, None));
        assert!(
            c.alerts.is_none(),
            "no answer from Alertmanager is not zero alerts"
        );
        // Nothing known is not a problem of its own: the sources' errors say why.
        assert_eq!(c.status, Health::Ok);
        let cells: Vec<String> = row("globex", &c).into_iter().map(|c| c.text).collect();
        assert!(cells.iter().any(|t| t == "?/?"), "node cell: {cells:?}");
        assert!(!cells.iter().any(|t| t.starts_with("0/")), "{cells:?}");
    }

    #[test]
    fn a_control_plane_node_not_ready_is_critical_and_a_worker_a_warning() {
        let c = judged(|sc, now| {
            let mut nodes = healthy(2);
            nodes[0].ready = Some(false);
            listed_nodes(sc, nodes, now);
        });
        assert_eq!(c.status, Health::Critical);
        assert_eq!(c.problems, ["1 control-plane node(s) not Ready"]);

        let c = judged(|sc, now| {
            let mut nodes = healthy(2);
            nodes[4].ready = None;
            listed_nodes(sc, nodes, now);
        });
        assert_eq!(c.status, Health::Warning);
        assert_eq!(c.problems, ["1 worker node(s) not Ready: w-2"]);
        assert_eq!(c.nodes.not_ready, ["w-2"]);
    }

    #[test]
    fn the_policy_bounds_control_plane_and_worker_counts() {
        let c = judged(|sc, now| {
            let mut nodes = healthy(21);
            nodes.remove(0);
            listed_nodes(sc, nodes, now);
        });
        assert_eq!(c.status, Health::Warning);
        assert_eq!(
            c.problems,
            [
                "2 control-plane nodes, the policy says 3",
                "21 workers, above the limit of 20"
            ]
        );
    }

    #[test]
    fn an_unreachable_api_is_critical_and_says_why() {
        let c = judged(|sc, now| stale(sc, Source::Nodes, now, "connection refused"));
        assert_eq!(c.api.reachable, Some(false));
        assert_eq!(c.status, Health::Critical);
        assert_eq!(c.problems[0], "API: connection refused");
        assert!(
            c.problems[1].starts_with("stale since") && c.problems[1].ends_with(": nodes"),
            "{:?}",
            c.problems
        );
        assert!(c.stale_since.is_some());
    }

    #[test]
    fn alerts_count_by_severity_leaving_out_the_suppressed_and_worst_comes_first() {
        let c = judged(|sc, now| {
            listed_nodes(sc, healthy(1), now);
            firing(
                sc,
                vec![
                    alert("KubeNodeNotReady", "warning", false, &[]),
                    alert("KubePodCrashLooping", "high", false, &[]),
                    alert("KubeAPIDown", "critical", true, &[]),
                    alert("TargetDown", "critical", false, &[]),
                ],
            );
        });
        let a = c.alerts.as_ref().unwrap();
        assert_eq!((a.critical, a.high, a.warning), (1, 1, 1));
        assert_eq!(c.status, Health::Critical);
        assert_eq!(
            c.problems,
            [
                "1 critical alert(s) firing",
                "1 high, 1 warning alert(s) firing"
            ]
        );
    }

    #[test]
    fn certificates_near_their_end_warn_and_expired_ones_are_critical() {
        let cert = |name: &str, days: i64| CertificateRow {
            namespace: "ingress-nginx".into(),
            name: name.into(),
            expires: Utc::now() + chrono::Duration::days(days) + chrono::Duration::hours(1),
        };
        let c = judged(|sc, now| {
            listed_nodes(sc, healthy(1), now);
            sc.update(|s| {
                s.certificates = Some(vec![cert("web-tls", 60), cert("api-tls", 5)]);
            });
        });
        assert_eq!(c.status, Health::Warning);
        assert_eq!(
            c.problems,
            ["1 certificate(s) expire within 14d: ingress-nginx/api-tls in 5d"]
        );
        let certs = c.certificates.as_ref().unwrap();
        assert_eq!((certs.total, certs.expiring.len()), (2, 1));

        let c = judged(|sc, now| {
            listed_nodes(sc, healthy(1), now);
            sc.update(|s| s.certificates = Some(vec![cert("old-tls", -3)]));
        });
        assert_eq!(c.status, Health::Critical);
        assert_eq!(
            c.problems,
            ["1 certificate(s) expired: ingress-nginx/old-tls 2d ago"]
        );
        // Not known yet is not "none expiring".
        let c = judged(|sc, now| listed_nodes(sc, healthy(1), now));
        assert!(c.certificates.is_none());
    }

    #[test]
    fn an_environment_is_as_bad_as_its_worst_cluster() {
        let doc = status_json(|cluster, now| {
            let mut nodes = healthy(1);
            if cluster.role == ClusterRole::Wc {
                nodes[3].ready = Some(false);
            }
            listed_nodes(cluster, nodes, now);
        });
        let env = &doc["environments"][0];
        assert_eq!(env["name"], "globex");
        assert_eq!(env["status"], "warning");
        assert_eq!(env["clusters"][0]["status"], "ok");
        assert_eq!(env["clusters"][1]["status"], "warning");
        assert_eq!(env["clusters"][1]["nodes"]["not_ready"][0], "w-1");
    }
}
