//! The fleet overview: one row per environment with its two clusters side by side, and
//! the selected environment's story underneath.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::super::app::{App, Pane};
use super::super::ctx::Ctx;
use super::super::filter::Filter;
use super::super::format;
use super::super::theme::Theme;
use super::super::widgets::put_lines;
use super::super::widgets::table::{Column, TableRow, cell, render_window, styled};
use super::{Now, PaneView};
use crate::backup;
use crate::config::{ClusterRole, Policy};
use crate::engine::journal::{RunSummary, StepState};
pub use crate::state::Api;
use crate::state::health::{Source, SourceHealth};
use crate::state::rows::UpgradeLock;
use crate::state::{ClusterState, EnvHandle, FleetState};
use ck8s_model::alert::{AlertState, Severity};
use ck8s_model::slo::SloStatus;

/// What the overview shows of one cluster.
#[derive(Debug, Clone)]
pub struct ClusterSummary {
    pub api: Api,
    pub nodes_ready: usize,
    pub nodes: usize,
    /// The nodes have been listed once; until then the counts are unknown, not zero.
    pub nodes_known: bool,
    pub kubernetes: Option<String>,
    pub apps: Option<String>,
    pub lock: Option<UpgradeLock>,
    /// The verdict of [`crate::backup::assess`].
    pub backup: BackupMark,
    /// The lowest error budget left among its SLO targets, with the target.
    pub budget: Option<(f64, String)>,
    /// A target burns its budget fast enough to page.
    pub slo_page: bool,
    pub health: SourceHealth,
    /// Sources that are not fresh, with their state.
    pub stale: Vec<(Source, SourceHealth)>,
}

/// The overview's share of a backup assessment.
#[derive(Debug, Clone)]
pub struct BackupMark {
    pub status: backup::Status,
    pub last_completed_age: Option<i64>,
    /// The most severe finding worth a look.
    pub headline: Option<String>,
    /// Still syncing: no verdict yet.
    pub unknown: bool,
}

#[derive(Debug, Clone)]
pub struct FleetRow {
    pub env: String,
    pub accent: Option<String>,
    pub tags: Vec<String>,
    pub sc: ClusterSummary,
    pub wc: ClusterSummary,
    /// Firing, unsilenced alerts: critical, high, warning.
    pub alerts: [usize; 3],
    pub alert_names: Vec<String>,
}

impl FleetRow {
    pub fn cluster(&self, role: ClusterRole) -> &ClusterSummary {
        match role {
            ClusterRole::Sc => &self.sc,
            ClusterRole::Wc => &self.wc,
        }
    }

    /// What most needs an on-call engineer's eyes here.
    pub fn attention(&self) -> Attention {
        let clusters = [&self.sc, &self.wc];
        if clusters.iter().any(|c| matches!(c.api, Api::Down(_))) {
            Attention::Unreachable
        } else if clusters.iter().any(|c| c.api == Api::Unknown) {
            Attention::NoAnswer
        } else if self.alerts[0] > 0 {
            Attention::Critical
        } else if clusters
            .iter()
            .any(|c| !c.backup.unknown && c.backup.status == backup::Status::Critical)
        {
            Attention::Backup
        } else if clusters.iter().any(|c| c.slo_page) {
            Attention::Burning
        } else {
            Attention::Rest
        }
    }
}

/// The states the overview sorts by and counts, most urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Attention {
    /// A cluster's API server cannot be reached.
    Unreachable,
    /// A cluster's API server has not answered yet: starting, or hanging.
    NoAnswer,
    /// A critical alert fires.
    Critical,
    /// A backup failed or is late.
    Backup,
    /// An SLO burns its budget fast enough to page.
    Burning,
    Rest,
}

impl Attention {
    const ALL: [Attention; 6] = [
        Attention::Unreachable,
        Attention::NoAnswer,
        Attention::Critical,
        Attention::Backup,
        Attention::Burning,
        Attention::Rest,
    ];

    fn word(self) -> &'static str {
        match self {
            Attention::Unreachable => "unreachable",
            Attention::NoAnswer => "no answer yet",
            Attention::Critical => "alerting critical",
            Attention::Backup => "backup failing",
            Attention::Burning => "burning budget",
            Attention::Rest => "ok or minor",
        }
    }
}

/// The overview's order: by attention (the default: the environments that need a look
/// first, each state by name), or by name alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum FleetSort {
    #[default]
    Attention,
    Name,
}

impl FleetSort {
    pub fn next(self) -> FleetSort {
        match self {
            FleetSort::Attention => FleetSort::Name,
            FleetSort::Name => FleetSort::Attention,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            FleetSort::Attention => "by attention",
            FleetSort::Name => "by name",
        }
    }
}

fn summarize(s: &ClusterState, policy: &Policy, now: DateTime<Utc>) -> ClusterSummary {
    let api = s.api();
    let (nodes_ready, nodes) = s.nodes_ready();
    let assessment = backup::assess(s, policy, now);
    let backup = BackupMark {
        status: assessment.status,
        last_completed_age: assessment.last_completed_age_seconds,
        headline: assessment
            .findings
            .iter()
            .find(|f| f.severity > backup::Severity::Info)
            .map(|f| f.message.clone()),
        unknown: assessment
            .findings
            .iter()
            .any(|f| f.code == backup::code::DATA_UNAVAILABLE),
    };
    let budget = s
        .slo
        .iter()
        .filter_map(|r| r.budget_left_fraction.map(|f| (f, r.target.clone())))
        .min_by(|a, b| a.0.total_cmp(&b.0));
    let slo_page = s.slo.iter().any(|r| r.status == SloStatus::Page);
    let stale = s
        .health
        .iter()
        .filter(|(_, h)| h.severity() >= 2)
        .map(|(k, h)| (*k, h.clone()))
        .collect();
    ClusterSummary {
        api,
        nodes_ready,
        nodes,
        nodes_known: s.nodes.synced(),
        kubernetes: s.version.clone(),
        apps: s.apps_version().map(String::from),
        lock: s.upgrade_lock(),
        backup,
        budget,
        slo_page,
        health: s.overall_health(),
        stale,
    }
}

pub fn summarize_env(env: &EnvHandle, policy: &Policy, now: DateTime<Utc>) -> FleetRow {
    let mut seen = HashSet::new();
    let mut alerts = [0usize; 3];
    let mut names: Vec<(u8, String)> = Vec::new();
    let mut clusters = Vec::new();
    for c in env.clusters() {
        let s = c.read();
        clusters.push(summarize(&s, policy, now));
        for a in &s.alerts {
            if a.status.state == AlertState::Suppressed || !seen.insert(a.fingerprint.clone()) {
                continue;
            }
            let slot = match a.severity() {
                Severity::Critical => 0,
                Severity::High => 1,
                Severity::Warning => 2,
                _ => continue,
            };
            alerts[slot] += 1;
            let name = a.alertname().to_string();
            if !names.iter().any(|(_, n)| *n == name) {
                names.push((slot as u8, name));
            }
        }
    }
    names.sort();
    let wc = clusters.pop().expect("two clusters");
    let sc = clusters.pop().expect("two clusters");
    FleetRow {
        env: env.name.clone(),
        accent: env.accent.clone(),
        tags: env.tags.clone(),
        sc,
        wc,
        alerts,
        alert_names: names.into_iter().map(|(_, n)| n).collect(),
    }
}

/// The overview's data: the environments that match the filter, and what every pane
/// needs of the fleet (the accents, and the environments' names for Enter and `:`).
#[derive(Debug, Default)]
pub struct FleetView {
    /// The state's generation, the filter, the order, and the minute (ages and verdicts
    /// move with it).
    key: Option<(u64, String, FleetSort, i64)>,
    /// When the rows were last built.
    built: Option<Instant>,
    pub rows: Vec<FleetRow>,
    /// How many environments the fleet has, whatever the filter.
    pub environments: usize,
    /// The accent colour of each environment that has one.
    pub accents: HashMap<String, String>,
}

impl PaneView for FleetView {
    fn refresh(&mut self, app: &mut App, state: &FleetState, now: Now) -> Option<Instant> {
        let key = (
            state.changes.generation(),
            app.filter_of(Pane::Fleet).to_string(),
            app.fleet_sort,
            now.wall.timestamp() / 60,
        );
        // Behind another pane the rows only back number keys, `:` names and accents: a
        // second old is fresh enough, and pod churn must not read every cluster each frame.
        let behind = app.pane != Pane::Fleet
            && self
                .key
                .as_ref()
                .is_some_and(|k| (&k.1, k.2) == (&key.1, key.2))
            && self
                .built
                .is_some_and(|b| now.clock.duration_since(b) < BEHIND_EVERY);
        if self.key.as_ref() != Some(&key) && !behind {
            self.built = Some(now.clock);
            // The order moves with the fleet's state: the cursor stays on the environment
            // the user picked (until one is picked, on the first row).
            let selected = self
                .rows
                .get(app.lists.fleet.selected)
                .filter(|_| app.fleet_chosen)
                .map(|r| r.env.clone());
            self.rows = rows(state, &key.1, key.2, now.wall);
            if let Some(at) = selected.and_then(|env| self.rows.iter().position(|r| r.env == env)) {
                app.lists.fleet.selected = at;
            }
            self.environments = state.envs.len();
            self.accents = state
                .envs
                .iter()
                .filter_map(|e| Some((e.name.clone(), e.accent.clone()?)))
                .collect();
            self.key = Some(key);
            app.fleet_names = self.rows.iter().map(|r| r.env.clone()).collect();
        }
        app.lists.fleet.set_len(self.rows.len());
        None
    }

    fn summary(&self, app: &App, width: u16, ctx: &Ctx<'_>) -> Vec<Span<'static>> {
        summary_spans(&self.rows, self.environments, app.fleet_sort, width, ctx)
    }

    fn render(&self, f: &mut Frame, area: Rect, app: &App, ctx: &Ctx<'_>) {
        render(f, area, app, &self.rows, self.environments, ctx);
    }
}

/// How often the overview's rows are rebuilt while another pane is open.
const BEHIND_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The rows of the environments matching `filter` (by name or tag), in `sort` order.
fn rows(state: &FleetState, filter: &str, sort: FleetSort, now: DateTime<Utc>) -> Vec<FleetRow> {
    let filter = Filter::parse(filter).unwrap_or_default();
    let mut rows: Vec<FleetRow> = state
        .envs
        .iter()
        .filter(|e| {
            let mut fields = vec![e.name.as_str()];
            fields.extend(e.tags.iter().map(String::as_str));
            filter.matches_fields(&fields)
        })
        .map(|e| summarize_env(e, &state.policy, now))
        .collect();
    sort_rows(&mut rows, sort);
    rows
}

fn sort_rows(rows: &mut [FleetRow], sort: FleetSort) {
    match sort {
        FleetSort::Attention => rows.sort_by_cached_key(|r| (r.attention(), r.env.clone())),
        FleetSort::Name => rows.sort_by(|a, b| a.env.cmp(&b.env)),
    }
}

/// The pane's heading: how many environments are in each state, and the order.
fn summary_spans(
    rows: &[FleetRow],
    environments: usize,
    sort: FleetSort,
    width: u16,
    ctx: &Ctx<'_>,
) -> Vec<Span<'static>> {
    let s = &ctx.theme.s;
    let n = rows.len();
    let of = if n < environments {
        format!(" of {environments}")
    } else {
        String::new()
    };
    let mut spans = vec![Span::styled(
        format!(
            " {n}{of} environment{}",
            if environments == 1 { "" } else { "s" }
        ),
        s.muted,
    )];
    let mut counts = [0usize; Attention::ALL.len()];
    for row in rows {
        counts[row.attention() as usize] += 1;
    }
    // On a narrow screen the states would crowd out the title: how many need a look.
    if width < 100 {
        let look = n - counts[Attention::Rest as usize];
        if look > 0 {
            spans.push(Span::styled(" · ", s.muted));
            spans.push(Span::styled(format!("{look} need a look"), s.warning));
        }
        spans.push(Span::styled(format!(" · {} ", sort.label()), s.muted));
        return spans;
    }
    for (state, count) in Attention::ALL.into_iter().zip(counts) {
        if count == 0 || state == Attention::Rest {
            continue;
        }
        let style = match state {
            Attention::Unreachable | Attention::Critical => s.critical,
            _ => s.warning,
        };
        spans.push(Span::styled(" · ", s.muted));
        spans.push(Span::styled(format!("{count} {}", state.word()), style));
    }
    let rest = counts[Attention::Rest as usize];
    spans.push(Span::styled(
        format!(" · {rest} {}", Attention::Rest.word()),
        s.muted,
    ));
    spans.push(Span::styled(format!(" · {} (s) ", sort.label()), s.muted));
    spans
}

const COLUMNS: [Column; 14] = [
    Column::new("ENV", 6, 20),
    Column::new("API", 4, 4).group("sc"),
    Column::new("NODES", 5, 5).right().group("sc"),
    Column::new("API", 4, 4).group("wc"),
    Column::new("NODES", 5, 5).right().group("wc"),
    Column::new("K8S", 7, 17).priority(1),
    Column::new("APPS", 7, 24).priority(2),
    Column::new("ALERTS", 6, 24),
    Column::new("SC", 4, 5).right().group("backup"),
    Column::new("WC", 4, 5).right().group("backup"),
    Column::new("SC", 4, 5).right().group("budget"),
    Column::new("WC", 4, 5).right().group("budget"),
    Column::new("RUNS", 4, 4).right().priority(3),
    Column::new("DATA", 5, 12),
];

/// One version when both clusters run the same, else `sc/wc`.
fn pair(sc: &Option<String>, wc: &Option<String>) -> Option<String> {
    match (sc, wc) {
        (Some(a), Some(b)) if a == b => Some(a.clone()),
        (Some(a), Some(b)) => Some(format!("{a}/{b}")),
        (a, b) => a.clone().or_else(|| b.clone()),
    }
}

fn api_cell(api: &Api, theme: &Theme) -> Line<'static> {
    match api {
        Api::Up => styled("up", theme.s.ok),
        Api::Down(_) => styled("down", theme.s.critical),
        Api::Unknown => styled("…", theme.s.muted),
    }
}

fn nodes_cell(c: &ClusterSummary, theme: &Theme) -> Line<'static> {
    if !c.nodes_known {
        return styled("?", theme.s.muted);
    }
    if c.nodes == 0 {
        return styled("-", theme.s.muted);
    }
    let style = if c.nodes_ready < c.nodes {
        theme.s.warning
    } else {
        theme.s.text
    };
    styled(format!("{}/{}", c.nodes_ready, c.nodes), style)
}

fn version_cell(v: &Option<String>, theme: &Theme) -> Line<'static> {
    match v {
        Some(v) => cell(v.clone()),
        None => styled("-", theme.s.muted),
    }
}

/// The apps version, and where an upgrade is under way, its target.
fn apps_cell(row: &FleetRow, theme: &Theme) -> Line<'static> {
    let version = pair(&row.sc.apps, &row.wc.apps);
    match (version, row.wc.lock.as_ref().or(row.sc.lock.as_ref())) {
        (v, Some(l)) => styled(
            format!("{}→{}", v.unwrap_or_default(), l.target_version),
            theme.s.warning,
        ),
        (Some(v), None) => cell(v),
        (None, None) => styled("-", theme.s.muted),
    }
}

pub fn alerts_line(counts: [usize; 3], wide: bool, theme: &Theme) -> Line<'static> {
    let sevs = [
        (Severity::Critical, "c", "crit"),
        (Severity::High, "h", "high"),
        (Severity::Warning, "w", "warn"),
    ];
    let mut spans = Vec::new();
    for (n, (sev, short, long)) in counts.iter().zip(sevs) {
        if *n > 0 {
            if !spans.is_empty() {
                spans.push(Span::raw(" "));
            }
            let text = if wide {
                format!("{n} {long}")
            } else {
                format!("{n}{short}")
            };
            spans.push(Span::styled(text, theme.severity(sev)));
        }
    }
    if spans.is_empty() {
        spans.push(Span::styled("-", theme.s.muted));
    }
    Line::from(spans)
}

fn backup_cell(c: &ClusterSummary, theme: &Theme) -> Line<'static> {
    let b = &c.backup;
    let age = b.last_completed_age.map(format::age);
    if b.unknown {
        return styled(age.unwrap_or_else(|| "…".into()), theme.s.muted);
    }
    let (mark, style) = match b.status {
        backup::Status::Ok => ("", theme.s.text),
        backup::Status::Warning => ("?", theme.s.warning),
        backup::Status::Critical => ("!", theme.s.critical),
    };
    match age {
        Some(a) => styled(format!("{a}{mark}"), style),
        None => styled(format!("none{mark}"), theme.s.critical),
    }
}

pub fn budget_style(fraction: f64, theme: &Theme) -> Style {
    if fraction < 0.0 {
        theme.s.critical
    } else if fraction < 0.25 {
        theme.s.high
    } else if fraction < 0.5 {
        theme.s.warning
    } else {
        theme.s.ok
    }
}

fn budget_cell(c: &ClusterSummary, theme: &Theme) -> Line<'static> {
    match &c.budget {
        Some((f, _)) => styled(format!("{:.0}%", f * 100.0), budget_style(*f, theme)),
        None => styled("-", theme.s.muted),
    }
}

/// The fresher of the two clusters' worst source, as a word.
pub fn data_cell(row: &FleetRow, now: DateTime<Utc>, theme: &Theme) -> Line<'static> {
    let worst = [&row.sc.health, &row.wc.health]
        .into_iter()
        .max_by_key(|h| h.severity())
        .cloned()
        .unwrap_or(SourceHealth::Idle);
    match worst {
        SourceHealth::Connected { .. } | SourceHealth::Idle => styled("fresh", theme.s.ok),
        SourceHealth::Syncing => styled("syncing", theme.s.muted),
        SourceHealth::Stale { since, .. } => styled(
            format!("stale {}", format::age((now - since).num_seconds())),
            theme.s.stale,
        ),
        SourceHealth::Unauthorized { .. } => styled("no access", theme.s.critical),
    }
}

fn row_cells(
    row: &FleetRow,
    now: DateTime<Utc>,
    wide: bool,
    open_runs: usize,
    theme: &Theme,
) -> Vec<Line<'static>> {
    // An environment with an accent (production, say) shows in it here too.
    let env_style = theme.s.title.patch(theme.env_border(row.accent.as_deref()));
    let env_style = if row.accent.is_some() {
        env_style
    } else {
        theme.s.title
    };
    let mut cells = vec![Line::styled(row.env.clone(), env_style)];
    for c in [&row.sc, &row.wc] {
        cells.push(api_cell(&c.api, theme));
        cells.push(nodes_cell(c, theme));
    }
    cells.push(version_cell(
        &pair(&row.sc.kubernetes, &row.wc.kubernetes),
        theme,
    ));
    cells.push(apps_cell(row, theme));
    cells.push(alerts_line(row.alerts, wide, theme));
    cells.push(backup_cell(&row.sc, theme));
    cells.push(backup_cell(&row.wc, theme));
    cells.push(budget_cell(&row.sc, theme));
    cells.push(budget_cell(&row.wc, theme));
    cells.push(match open_runs {
        0 => styled("-", theme.s.muted),
        n => styled(n.to_string(), theme.s.info),
    });
    cells.push(data_cell(row, now, theme));
    cells
}

/// Draws the overview of `rows`, out of the fleet's `environments` (the rest are
/// filtered out).
fn render(
    f: &mut Frame,
    area: Rect,
    app: &App,
    rows: &[FleetRow],
    environments: usize,
    ctx: &Ctx<'_>,
) {
    let s = &ctx.theme.s;
    if rows.is_empty() {
        let msg = if environments == 0 {
            "The fleet has no environments yet. Add [[environment]] entries to the fleet config."
        } else {
            "No environment matches the filter. Esc clears it."
        };
        f.render_widget(Line::styled(msg, s.muted), area);
        return;
    }
    // The table gets what it needs; the selected environment's story gets the rest.
    let table_h = (rows.len() as u16 + 2).min(area.height.saturating_sub(6).max(area.height / 2));
    let table_area = Rect {
        height: table_h,
        ..area
    };
    let wide = area.width >= 120;
    let all: Vec<TableRow> = rows
        .iter()
        .map(|r| {
            let open = app
                .runs
                .runs
                .iter()
                .filter(|run| run.env == r.env && !run.finished())
                .count();
            TableRow::Cells(row_cells(r, ctx.now, wide, open, ctx.theme))
        })
        .collect();
    render_window(
        table_area,
        f.buffer_mut(),
        &COLUMNS,
        all,
        &app.lists.fleet,
        ctx.theme,
    );
    let detail = Rect {
        y: area.y + table_h + 1,
        height: area.height.saturating_sub(table_h + 1),
        ..area
    };
    if let Some(row) = rows.get(app.lists.fleet.selected)
        && detail.height > 0
    {
        let runs: Vec<(&RunSummary, bool)> = app
            .runs
            .runs
            .iter()
            .filter(|run| run.env == row.env && !run.finished())
            .map(|run| (run, app.runs.local.contains(&run.id)))
            .collect();
        let lines: Vec<Line> = detail_lines(row, &runs, ctx)
            .into_iter()
            .flat_map(|l| format::wrap_line(l, detail.width as usize, 13))
            .collect();
        put_lines(f.buffer_mut(), detail, &lines, "Enter opens it", ctx.theme);
    }
}

/// The label column of the story under the table.
fn label(text: &str, ctx: &Ctx<'_>) -> Span<'static> {
    Span::styled(format!("  {text:<11}"), ctx.theme.s.muted)
}

fn cluster_line(role: ClusterRole, c: &ClusterSummary, ctx: &Ctx<'_>) -> Line<'static> {
    let s = &ctx.theme.s;
    let mut spans = vec![label(role.as_str(), ctx)];
    let sep = || Span::styled(" · ", s.muted);
    match &c.api {
        Api::Up => spans.push(Span::styled("API up", s.ok)),
        Api::Down(e) => spans.push(Span::styled(format!("API: {e}"), s.critical)),
        Api::Unknown => spans.push(Span::styled("API not answered yet", s.muted)),
    }
    spans.push(sep());
    let nodes_style = if c.nodes_ready < c.nodes {
        s.warning
    } else {
        s.text
    };
    spans.push(if c.nodes_known {
        Span::styled(
            format!("{}/{} nodes ready", c.nodes_ready, c.nodes),
            nodes_style,
        )
    } else {
        Span::styled("nodes not listed yet", s.muted)
    });
    if let Some(k) = &c.kubernetes {
        spans.push(sep());
        spans.push(Span::raw(format!("Kubernetes {k}")));
    }
    if let Some(a) = &c.apps {
        spans.push(sep());
        spans.push(Span::raw(format!("apps {a}")));
    }
    Line::from(spans)
}

/// What is changing now, right under the environment's name so that it shows at 80x24,
/// where the APPS and RUNS columns do not: an apps upgrade in progress, and every run
/// that has not finished.
fn in_progress(row: &FleetRow, runs: &[(&RunSummary, bool)], ctx: &Ctx<'_>) -> Vec<Line<'static>> {
    let s = &ctx.theme.s;
    let mut out = Vec::new();
    for role in ClusterRole::ALL {
        let c = row.cluster(role);
        if let Some(l) = &c.lock {
            let from = c
                .apps
                .as_deref()
                .map(|a| format!("{a} → "))
                .unwrap_or_default();
            let step = l
                .last_apply_step
                .as_deref()
                .map(|s| format!(", at {s}"))
                .unwrap_or_default();
            out.push(Line::from(vec![
                label("upgrade", ctx),
                Span::styled(
                    format!("{role} apps {from}{}{step}", l.target_version),
                    s.warning,
                ),
            ]));
        }
    }
    for (run, local) in runs {
        let (state, style) = super::runs::state_of(run, *local, ctx.theme);
        let step = run
            .steps
            .iter()
            .position(|st| !matches!(st.state, StepState::Done))
            .map(|i| {
                format!(
                    " · step {}/{} {}",
                    i + 1,
                    run.steps.len(),
                    run.steps[i].name
                )
            })
            .unwrap_or_default();
        let what: Vec<String> = std::iter::once(run.workflow.to_string())
            .chain(run.params.iter().map(|(k, v)| format!("{k}={v}")))
            .collect();
        out.push(Line::from(vec![
            label("run", ctx),
            Span::styled(format!("{} on {}", what.join(" "), run.cluster), style),
            Span::styled(format!(" · {state}{step}"), s.muted),
        ]));
    }
    out
}

fn detail_lines(row: &FleetRow, runs: &[(&RunSummary, bool)], ctx: &Ctx<'_>) -> Vec<Line<'static>> {
    let s = &ctx.theme.s;
    let mut out = vec![Line::from(vec![
        Span::styled(
            format!(" {} ", row.env),
            ctx.theme.env_accent(row.accent.as_deref()),
        ),
        Span::styled("  Enter opens it; 2-6 open its panes", s.muted),
    ])];
    if !row.tags.is_empty() {
        out.push(Line::from(vec![
            label("tags", ctx),
            Span::styled(row.tags.join(" · "), s.text),
        ]));
    }
    out.extend(in_progress(row, runs, ctx));
    for role in ClusterRole::ALL {
        out.push(cluster_line(role, row.cluster(role), ctx));
    }
    let mut alerts = vec![label("alerts", ctx)];
    alerts.extend(alerts_line(row.alerts, true, ctx.theme).spans);
    if !row.alert_names.is_empty() {
        alerts.push(Span::styled(
            format!("  {}", row.alert_names.join(", ")),
            s.muted,
        ));
    }
    out.push(Line::from(alerts));
    for role in ClusterRole::ALL {
        let b = &row.cluster(role).backup;
        let age = b
            .last_completed_age
            .map_or("no completed backup".to_string(), |a| {
                format!("last completed {} ago", format::age(a))
            });
        let (style, verdict) = match (b.unknown, b.status) {
            (true, _) => (s.muted, "not listed yet"),
            (_, backup::Status::Ok) => (s.ok, "ok"),
            (_, backup::Status::Warning) => (s.warning, "warning"),
            (_, backup::Status::Critical) => (s.critical, "critical"),
        };
        let mut spans = vec![
            label(&format!("backup {role}"), ctx),
            Span::styled(verdict.to_string(), style),
            Span::styled(format!(" · {age}"), s.text),
        ];
        if let (false, Some(h)) = (b.unknown, &b.headline) {
            spans.push(Span::styled(format!(" · {h}"), style));
        }
        out.push(Line::from(spans));
    }
    let mut slo = vec![label("SLO budget", ctx)];
    for role in ClusterRole::ALL {
        match &row.cluster(role).budget {
            Some((f, target)) => slo.push(Span::styled(
                format!("{role} {target} {:.0}% left   ", f * 100.0),
                budget_style(*f, ctx.theme),
            )),
            None => slo.push(Span::styled(format!("{role} no data   "), s.muted)),
        }
    }
    out.push(Line::from(slo));
    for role in ClusterRole::ALL {
        for (source, h) in &row.cluster(role).stale {
            out.push(super::health_line(
                &format!("{}-{role}", row.env),
                *source,
                h,
                ctx,
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    /// A fleet of `names`, each tagged with `tags` (in order), every cluster's nodes
    /// listed and Ready.
    fn fleet(envs: &[(&str, &[&str])]) -> FleetState {
        let text: String = std::iter::once("version = 1\n".to_owned())
            .chain(envs.iter().map(|(name, tags)| {
                let cluster = |role: &str| {
                    format!(
                        "[environment.{role}]\nkubeconfig = \"/k\"\ncontext = \"{name}-{role}\"\n\
                         prometheus = \"http://p\"\nalertmanager = \"http://a\"\n"
                    )
                };
                format!(
                    "[[environment]]\nname = \"{name}\"\ntags = {tags:?}\n{}{}",
                    cluster("sc"),
                    cluster("wc")
                )
            }))
            .collect();
        let state =
            FleetState::new(&crate::config::parse(&text, std::path::Path::new("/f.toml")).unwrap());
        for c in state.clusters() {
            let nodes = vec![testing::node("n1", true, Some(true))];
            testing::listed_nodes(c, nodes, Utc::now());
        }
        state
    }

    fn names(rows: &[FleetRow]) -> Vec<&str> {
        rows.iter().map(|r| r.env.as_str()).collect()
    }

    /// Unreachable first, then critical alerts, a failed backup, a paging burn, then the
    /// rest; each state by name. `s` switches to names alone.
    #[test]
    fn the_overview_puts_what_needs_a_look_first_and_counts_it() {
        let state = fleet(&[
            ("alpha", &[]),
            ("burning", &[]),
            ("critical", &[]),
            ("down", &[]),
            ("zulu", &[]),
        ]);
        let env = |name: &str| state.env(name).unwrap();
        let now = Utc::now();
        testing::stale(&env("down").wc, Source::Nodes, now, "connection refused");
        testing::firing(
            &env("critical").sc,
            vec![testing::alert("KubeNodeNotReady", "critical", false, &[])],
        );
        // A worse state wins: a critical alert in an environment that also burns; a warning
        // alert does not outrank a burn.
        let burning = |name: &str| vec![testing::slo_report(name, "ingress", false)];
        env("critical")
            .wc
            .update(|s| s.slo = burning("critical-wc"));
        testing::firing(
            &env("burning").sc,
            vec![testing::alert("Minor", "warning", false, &[])],
        );
        env("burning").wc.update(|s| s.slo = burning("burning-wc"));
        let rows = rows(&state, "", FleetSort::Attention, now);
        assert_eq!(
            names(&rows),
            ["down", "critical", "burning", "alpha", "zulu"]
        );
        let by_name = super::rows(&state, "", FleetSort::Name, now);
        assert_eq!(
            names(&by_name),
            ["alpha", "burning", "critical", "down", "zulu"]
        );

        let theme = Theme::built_in("dark").unwrap();
        let ctx = Ctx::new(&state, &theme, now);
        let heading = |width| -> String {
            summary_spans(&rows, 5, FleetSort::Attention, width, &ctx)
                .iter()
                .map(|s| s.content.as_ref())
                .collect()
        };
        assert_eq!(
            heading(200),
            " 5 environments · 1 unreachable · 1 alerting critical · 1 burning budget \
             · 2 ok or minor · by attention (s) "
        );
        assert_eq!(
            heading(80),
            " 5 environments · 3 need a look · by attention "
        );
        // A cluster that has not answered yet is not counted as fine.
        let fresh = fleet(&[("quiet", &[]), ("started", &[])]);
        fresh.env("quiet").unwrap().sc.update(|s| {
            s.nodes = Default::default();
            s.health.clear();
        });
        let rows = super::rows(&fresh, "", FleetSort::Attention, now);
        assert_eq!(names(&rows), ["quiet", "started"]);
        assert_eq!(rows[0].attention(), Attention::NoAnswer);
    }

    /// The cursor stays on its environment when the order changes under it.
    #[test]
    fn the_cursor_follows_its_environment_when_the_order_changes() {
        let state = fleet(&[("acme", &[]), ("globex", &[]), ("initech", &[])]);
        let mut app = App::new(vec!["acme".into(), "globex".into(), "initech".into()]);
        let mut view = FleetView::default();
        let at = |view: &mut FleetView, app: &mut App| {
            let now = Now {
                wall: Utc::now(),
                clock: Instant::now(),
            };
            view.refresh(app, &state, now);
            view.rows[app.lists.fleet.selected].env.clone()
        };
        assert_eq!(at(&mut view, &mut app), "acme");
        // Until the user picks one, the first row stays selected, whatever it holds.
        testing::firing(
            &state.env("globex").unwrap().sc,
            vec![testing::alert("KubeNodeNotReady", "critical", false, &[])],
        );
        assert_eq!(at(&mut view, &mut app), "globex");
        app.apply(crate::ui::keymap::Action::Down, &Default::default());
        assert_eq!(at(&mut view, &mut app), "acme");
        app.lists.fleet.selected = 2;
        assert_eq!(at(&mut view, &mut app), "initech");
        // initech's critical alert moves it up, after globex: the cursor goes with it.
        testing::firing(
            &state.env("initech").unwrap().wc,
            vec![testing::alert("KubeNodeNotReady", "critical", false, &[])],
        );
        assert_eq!(at(&mut view, &mut app), "initech");
        assert_eq!(app.lists.fleet.selected, 1);
    }

    /// The filter matches names and tags; the heading says how many of the fleet show.
    #[test]
    fn the_filter_matches_tags_too() {
        let state = fleet(&[
            ("acme", &["gold", "eu-north"]),
            ("globex", &["silver", "eu-west"]),
            ("gold-rush", &[]),
        ]);
        let now = Utc::now();
        let rows = rows(&state, "gold", FleetSort::Name, now);
        assert_eq!(names(&rows), ["acme", "gold-rush"]);
        assert_eq!(
            names(&super::rows(&state, "eu-west", FleetSort::Name, now)),
            ["globex"]
        );
        let theme = Theme::built_in("dark").unwrap();
        let ctx = Ctx::new(&state, &theme, now);
        let heading: String = summary_spans(&rows, 3, FleetSort::Name, 80, &ctx)
            .iter()
            .map(|s| s.content.as_ref())
            .collect();
        assert_eq!(heading, " 2 of 3 environments · by name ");
    }

    /// Before the first node list, the overview says the count is unknown, not `0/0`.
    #[test]
    fn nodes_not_listed_yet_are_unknown_not_zero() {
        let theme = Theme::built_in("dark").expect("a built-in theme");
        let policy = Policy::default();
        let mut state = ClusterState::default();
        let c = summarize(&state, &policy, Utc::now());
        assert_eq!(nodes_cell(&c, &theme).to_string(), "?");
        state.nodes.begin_relist();
        state.nodes.commit_relist();
        let c = summarize(&state, &policy, Utc::now());
        assert_eq!(nodes_cell(&c, &theme).to_string(), "-", "listed, and empty");
    }
}
