//! Backups: per cluster, the verdict of [`crate::backup::assess`] against the backup
//! window and the number kept, then the Velero backups, schedules and storage
//! locations, and the Harbor and OpenSearch backup jobs of the service cluster.

use std::time::Instant;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::super::app::{App, Pane, Scope};
use super::super::ctx::Ctx;
use super::super::format;
use super::super::modals::details::Details;
use super::super::modals::pod;
use super::super::theme::Theme;
use super::super::widgets::put_lines;
use super::super::widgets::share;
use super::super::widgets::table::{Column, TableRow, cell, render_window, styled};
use super::{EnvKey, Now, PaneView};
use crate::backup::{self, BackupAssessment, JobState, Status};
use crate::config::ClusterRole;
use crate::state::FleetState;
use crate::state::health::Source;
use crate::state::rows::{BackupRow, ScheduleRow, StorageLocationRow};

/// What `d` and `l` read of a backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupRead {
    /// As `velero backup describe --details`.
    Describe,
    /// As `velero backup logs`.
    Log,
}

impl BackupRead {
    /// The details key of what is read of backup `name` of the `role` cluster.
    pub fn key(self, role: ClusterRole, name: &str) -> String {
        match self {
            BackupRead::Describe => format!("describe:{role}/{name}"),
            BackupRead::Log => format!("log:{role}/{name}"),
        }
    }
}

/// A backup's description or log, and whether it has come.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// [`BackupRead::key`].
    pub key: String,
    pub env: String,
    /// `None` until Velero and the object storage answer.
    pub result: Option<Result<Vec<String>, String>>,
}

#[derive(Debug, Clone)]
pub struct ClusterBackups {
    pub role: ClusterRole,
    pub assessment: BackupAssessment,
    pub schedules: Vec<ScheduleRow>,
    pub locations: Vec<StorageLocationRow>,
}

#[derive(Debug, Default)]
pub struct BackupsView {
    /// `extra` is the minute.
    key: Option<EnvKey<i64>>,
    pub clusters: Vec<ClusterBackups>,
    /// Newest first, filtered.
    pub backups: Vec<(ClusterRole, BackupRow)>,
}

impl BackupsView {
    fn update(&mut self, app: &App, state: &FleetState, now: DateTime<Utc>) {
        // The verdict depends on the clock: re-judge at least every minute.
        let minute = now.timestamp() / 60;
        let Some((key, env, filter)) =
            EnvKey::changed(self.key.as_ref(), app, state, Pane::Backups, minute)
        else {
            return;
        };
        self.clusters.clear();
        self.backups.clear();
        for role in app.scope.roles() {
            let s = env.cluster(*role).read();
            self.clusters.push(ClusterBackups {
                role: *role,
                assessment: backup::assess(&s, &state.policy, now),
                schedules: s.backup.schedules.values().cloned().collect(),
                locations: s.backup.locations.values().cloned().collect(),
            });
            self.backups.extend(
                s.backup
                    .backups
                    .values()
                    .filter(|b| {
                        filter.matches_fields(&[
                            &b.name,
                            &b.phase,
                            b.schedule.as_deref().unwrap_or(""),
                        ])
                    })
                    .map(|b| (*role, b.clone())),
            );
        }
        self.backups
            .sort_by(|a, b| (b.1.created, a.0).cmp(&(a.1.created, b.0)));
        self.key = Some(key);
    }
}

fn status_style(status: Status, theme: &Theme) -> Style {
    match status {
        Status::Ok => theme.s.ok,
        Status::Warning => theme.s.warning,
        Status::Critical => theme.s.critical,
    }
}

fn finding_style(sev: backup::Severity, theme: &Theme) -> Style {
    match sev {
        backup::Severity::Info => theme.s.muted,
        backup::Severity::Warning => theme.s.warning,
        backup::Severity::Critical => theme.s.critical,
    }
}

/// `sc  ok · last completed 7h ago · in the 00:00-03:00 window · 3 kept of 3`.
fn verdict(c: &ClusterBackups, ctx: &Ctx<'_>) -> Line<'static> {
    let s = &ctx.theme.s;
    let a = &c.assessment;
    let sep = || Span::styled(" · ", s.muted);
    let mut spans = vec![
        Span::styled(format!("{}  ", c.role), s.title),
        Span::styled(
            a.status.as_str().to_string(),
            status_style(a.status, ctx.theme),
        ),
        sep(),
    ];
    match a.last_completed_age_seconds {
        Some(age) => spans.push(Span::raw(format!(
            "last completed {} ago",
            format::age(age)
        ))),
        None => spans.push(Span::styled("no completed backup", s.critical)),
    }
    spans.push(sep());
    let w = &a.window;
    let window = format!(
        "{}-{} window",
        w.start.with_timezone(&ctx.tz).format("%H:%M"),
        w.end.with_timezone(&ctx.tz).format("%H:%M")
    );
    match (&w.late, &w.backup) {
        (Some(late), _) => spans.push(Span::styled(
            format!(
                "LATE since {} ({} {window}{} missed)",
                late.since.with_timezone(&ctx.tz).format("%a %H:%M"),
                late.missed_windows,
                if late.missed_windows == 1 { "" } else { "s" },
            ),
            s.critical,
        )),
        (None, Some(_)) => spans.push(Span::styled(format!("made in the {window}"), s.ok)),
        (None, None) => spans.push(Span::styled(format!("{window}: not judged yet"), s.muted)),
    }
    spans.push(sep());
    let k = &a.kept;
    let kept_style = if k.completed < k.expected {
        s.warning
    } else {
        s.text
    };
    spans.push(Span::styled(
        format!("{} kept of {}", k.completed, k.expected),
        kept_style,
    ));
    if let Some(f) = a.failed_backups.first() {
        spans.push(sep());
        spans.push(Span::styled(
            format!(
                "newest failed {} ago",
                format::age((ctx.now - f.created).num_seconds())
            ),
            s.critical,
        ));
    }
    Line::from(spans)
}

const BACKUP_COLUMNS: [Column; 10] = [
    Column::new("CL", 2, 2),
    // Backup names share their schedule's prefix; the timestamp at the end is what
    // tells them apart, so the column does not shrink below a whole name.
    Column::new("BACKUP", 34, 60).flex().middle(),
    Column::new("PHASE", 6, 18),
    Column::new("AGE", 3, 5).right(),
    Column::new("TOOK", 3, 6).right().priority(2),
    Column::new("ERRORS", 3, 6).short("ERR").right(),
    Column::new("WARNINGS", 4, 8).short("WARN").right(),
    Column::new("EXPIRES", 4, 7)
        .short("EXP")
        .right()
        .priority(3),
    Column::new("LOCATION", 7, 16).priority(4),
    Column::new("REASON", 10, 80).flex().priority(1),
];

fn phase_style(phase: &str, theme: &Theme) -> Style {
    match phase {
        "Completed" => theme.s.ok,
        "Failed" | "FailedValidation" => theme.s.critical,
        "PartiallyFailed" => theme.s.high,
        _ => theme.s.warning,
    }
}

fn backup_cells(
    role: ClusterRole,
    b: &BackupRow,
    now: DateTime<Utc>,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let s = &theme.s;
    let took = match (b.started, b.completed) {
        (Some(a), Some(z)) => format::age(z - a),
        _ => "-".into(),
    };
    let expires = match b.expires {
        Some(t) if t > now.timestamp() => format::age(t - now.timestamp()),
        Some(_) => "due".into(),
        None => "-".into(),
    };
    vec![
        styled(role.as_str(), s.muted),
        cell(b.name.to_string()),
        styled(b.phase.to_string(), phase_style(&b.phase, theme)),
        styled(format::age(now.timestamp() - b.created), s.muted),
        styled(took, s.muted),
        styled(
            b.errors.to_string(),
            if b.errors > 0 { s.critical } else { s.muted },
        ),
        styled(
            b.warnings.to_string(),
            if b.warnings > 0 { s.warning } else { s.muted },
        ),
        styled(expires, s.muted),
        cell(b.storage_location.as_deref().unwrap_or("-").to_string()),
        styled(
            b.failure_reason.as_deref().unwrap_or("").to_string(),
            s.critical,
        ),
    ]
}

/// One line per schedule, location and job: small tables read best as sentences at
/// 80 columns.
fn inventory(c: &ClusterBackups, ctx: &Ctx<'_>) -> Vec<Line<'static>> {
    let s = &ctx.theme.s;
    let mut out = Vec::new();
    for sch in &c.schedules {
        let mut spans = vec![
            Span::styled(format!("{}  {:<11}", c.role, "schedule"), s.muted),
            Span::raw(format!("{} ", sch.name)),
            Span::styled(format!("“{}”", sch.schedule), s.muted),
        ];
        if sch.paused {
            spans.push(Span::styled("  PAUSED", s.critical));
        }
        spans.push(Span::styled(
            format!(
                "  last backup {} ago",
                format::age_at(sch.last_backup, ctx.now)
            ),
            s.muted,
        ));
        out.push(Line::from(spans));
    }
    for loc in &c.locations {
        let ok = loc.phase.as_ref() == "Available";
        let mut spans = vec![
            Span::styled(format!("{}  {:<11}", c.role, "storage"), s.muted),
            Span::raw(format!("{} ", loc.name)),
            Span::styled(loc.phase.to_string(), if ok { s.ok } else { s.critical }),
        ];
        if loc.default {
            spans.push(Span::styled(" (default)", s.muted));
        }
        spans.push(Span::styled(
            format!(
                "  validated {} ago",
                format::age_at(loc.last_validated, ctx.now)
            ),
            s.muted,
        ));
        if let Some(m) = &loc.message {
            spans.push(Span::styled(format!("  {m}"), s.warning));
        }
        out.push(Line::from(spans));
    }
    for job in &c.assessment.jobs {
        let mut spans = vec![
            Span::styled(format!("{}  {:<11}", c.role, job.backs_up), s.muted),
            Span::raw(format!("{} ", job.name)),
        ];
        if !job.present {
            spans.push(Span::styled("MISSING", s.critical));
            out.push(Line::from(spans));
            continue;
        }
        let late = job
            .last_success_age_seconds
            .is_none_or(|a| a > job.max_age_seconds);
        spans.push(Span::styled(
            match job.last_success_age_seconds {
                Some(a) => format!("last success {} ago", format::age(a)),
                None => "never succeeded".into(),
            },
            if late { s.critical } else { s.ok },
        ));
        if let Some(run) = &job.last_run {
            let (word, style) = match run.state {
                JobState::Succeeded => ("succeeded", s.muted),
                JobState::Failed => ("FAILED", s.critical),
                JobState::Running => ("running", s.warning),
                JobState::Pending => ("pending", s.warning),
            };
            spans.push(Span::styled(format!("  newest run {word}"), style));
            if let Some(f) = &run.failure {
                spans.push(Span::styled(format!(" ({f})"), s.critical));
            }
        }
        if job.suspended {
            spans.push(Span::styled("  SUSPENDED", s.critical));
        }
        out.push(Line::from(spans));
    }
    out
}

impl PaneView for BackupsView {
    fn sources(&self, role: ClusterRole) -> &'static [Source] {
        match role {
            // The service cluster's own backups also include the CronJobs that back up
            // Harbor and OpenSearch.
            ClusterRole::Sc => &[
                Source::Kubernetes,
                Source::Backups,
                Source::Schedules,
                Source::BackupStorageLocations,
                Source::CronJobs,
                Source::Jobs,
            ],
            ClusterRole::Wc => &[
                Source::Kubernetes,
                Source::Backups,
                Source::Schedules,
                Source::BackupStorageLocations,
            ],
        }
    }

    fn refresh(&mut self, app: &mut App, state: &FleetState, now: Now) -> Option<Instant> {
        self.update(app, state, now.wall);
        app.lists.backups.set_len(self.backups.len());
        None
    }

    fn has_data(&self) -> bool {
        !self.backups.is_empty()
    }

    fn summary(&self, _: &App, _: u16, ctx: &Ctx<'_>) -> Vec<Span<'static>> {
        let s = &ctx.theme.s;
        let mut v = vec![Span::raw(" ")];
        for c in &self.clusters {
            let st = c.assessment.status;
            let style = match st {
                Status::Ok => s.ok,
                Status::Warning => s.warning,
                Status::Critical => s.critical,
            };
            v.push(Span::styled(format!("{} ", c.role), s.muted));
            v.push(Span::styled(format!("{} ", st.as_str()), style));
        }
        v
    }

    fn render(&self, f: &mut Frame, area: Rect, app: &App, ctx: &Ctx<'_>) {
        render(f, area, app, self, ctx);
    }

    /// A backup, or (with none listed) the clusters' schedules, locations and jobs.
    fn detail_key(&self, app: &App) -> Option<String> {
        match self.backups.get(app.lists.backups.selected) {
            Some((role, b)) => Some(format!("{role}/{}", b.name)),
            None if !self.clusters.is_empty() => Some(INVENTORY_KEY.to_owned()),
            None => None,
        }
    }

    fn details(&self, app: &App, key: &str, ctx: &Ctx<'_>) -> Option<Details> {
        if key.starts_with("describe:") || key.starts_with("log:") {
            return read_details(app, key, ctx);
        }
        if key == INVENTORY_KEY {
            let mut d = Details::new("Backups");
            for c in &self.clusters {
                cluster_details(&mut d, c, ctx);
            }
            return Some(d);
        }
        let (role, name) = key.split_once('/')?;
        let (role, b) = self
            .backups
            .iter()
            .find(|(r, b)| r.as_str() == role && b.name.as_ref() == name)?;
        let mut d = Details::new(format!("backup {}", b.name));
        backup_details(&mut d, *role, b, ctx);
        if let Some(c) = self.clusters.iter().find(|c| c.role == *role) {
            cluster_details(&mut d, c, ctx);
        }
        Some(d)
    }
}

const INVENTORY_KEY: &str = "inventory";

/// A backup's description or log, as read ([`BackupRead`]).
fn read_details(app: &App, key: &str, ctx: &Ctx<'_>) -> Option<Details> {
    let s = &ctx.theme.s;
    let fetched = app.backup_read.as_ref().filter(|f| f.key == key)?;
    let (what, backup) = key.split_once(':')?;
    let log = what == "log";
    let mut d = Details::new(if log {
        format!("Log of backup {backup}")
    } else {
        format!("Describe backup {backup}")
    });
    match &fetched.result {
        None => d.line(Line::styled(
            "Asking Velero for it (a DownloadRequest), then reading the bucket…",
            s.muted,
        )),
        Some(Err(e)) => d.line(Line::styled(format!("Could not read it: {e}"), s.error)),
        Some(Ok(lines)) if log => {
            for l in lines {
                d.line(Line::styled(l.clone(), pod::log_style(l, ctx)));
            }
        }
        Some(Ok(lines)) => {
            for l in lines {
                // Section titles (`Errors:`, `Resource list:`) stand out; a field's label
                // is muted, and its value wraps under itself.
                match l.split_at_checked(ck8s_fleet::velero::LABEL_WIDTH) {
                    _ if l.ends_with(':') && !l.starts_with(' ') => {
                        d.line(Line::styled(l.clone(), s.title));
                    }
                    Some((label, value)) if label.trim_end().ends_with(':') => {
                        d.line(Line::from(vec![
                            Span::styled(label.to_owned(), s.muted),
                            Span::styled(value.to_owned(), s.text),
                        ]));
                    }
                    _ => d.line(Line::styled(l.clone(), s.text)),
                }
            }
        }
    }
    Some(d)
}

/// Every field of a backup, its failure reason whole.
fn backup_details(d: &mut Details, role: ClusterRole, b: &BackupRow, ctx: &Ctx<'_>) {
    let s = &ctx.theme.s;
    let when = |t: Option<i64>| match t.and_then(|t| DateTime::from_timestamp(t, 0)) {
        Some(t) => format::moment(t, ctx.now, ctx.tz),
        None => "-".into(),
    };
    d.field("Name", format!("{}/{}", b.namespace, b.name), ctx);
    d.field("Cluster", role.long_name(), ctx);
    d.styled_field(
        "Phase",
        b.phase.to_string(),
        phase_style(&b.phase, ctx.theme),
        ctx,
    );
    if let Some(reason) = &b.failure_reason {
        d.styled_field("Failure", reason.to_string(), s.critical, ctx);
    }
    d.field(
        "Schedule",
        b.schedule.as_deref().unwrap_or("- (on demand)"),
        ctx,
    );
    d.field("Created", when(Some(b.created)), ctx);
    d.field("Started", when(b.started), ctx);
    d.field("Completed", when(b.completed), ctx);
    if let (Some(a), Some(z)) = (b.started, b.completed) {
        d.field("Took", format::age(z - a), ctx);
    }
    let expires = match b.expires.and_then(|t| DateTime::from_timestamp(t, 0)) {
        Some(t) if t > ctx.now => format::moment(t, ctx.now, ctx.tz),
        Some(t) => format!("{} (due)", format::clock(t, ctx.tz)),
        None => "-".into(),
    };
    d.field("Expires", expires, ctx);
    d.styled_field(
        "Errors",
        b.errors.to_string(),
        if b.errors > 0 { s.critical } else { s.text },
        ctx,
    );
    d.styled_field(
        "Warnings",
        b.warnings.to_string(),
        if b.warnings > 0 { s.warning } else { s.text },
        ctx,
    );
    d.field(
        "Location",
        b.storage_location.as_deref().unwrap_or("-"),
        ctx,
    );
}

/// A cluster's verdict, every finding, and every schedule, location and job.
fn cluster_details(d: &mut Details, c: &ClusterBackups, ctx: &Ctx<'_>) {
    d.section(&format!("The {}", c.role.long_name()), ctx);
    d.line(verdict(c, ctx));
    for finding in &c.assessment.findings {
        let style = finding_style(finding.severity, ctx.theme);
        d.line(Line::from(vec![
            Span::styled(format!("{}  ! ", c.role), style),
            Span::styled(finding.message.clone(), style),
        ]));
    }
    for line in inventory(c, ctx) {
        d.line(line);
    }
}

fn render(f: &mut Frame, area: Rect, app: &App, view: &BackupsView, ctx: &Ctx<'_>) {
    let theme = ctx.theme;
    let width = area.width as usize;
    let mut verdicts: Vec<Line> = Vec::new();
    let mut findings: Vec<Line> = Vec::new();
    for c in &view.clusters {
        verdicts.extend(format::wrap_spans(verdict(c, ctx).spans, width, 4));
        for finding in c
            .assessment
            .findings
            .iter()
            .filter(|f| f.severity > backup::Severity::Info)
        {
            let style = finding_style(finding.severity, theme);
            let spans = vec![
                Span::styled(format!("{}  ! ", c.role), style),
                Span::styled(finding.message.clone(), style),
            ];
            findings.extend(format::wrap_spans(spans, width, 6));
        }
    }
    let inventory: Vec<Line> = view
        .clusters
        .iter()
        .flat_map(|c| inventory(c, ctx))
        .collect();
    // The verdicts always show; then the backups table gets a fair minimum, the details
    // of the findings, the schedules, locations and jobs what they need, and the table
    // the rest. On screen the findings follow the verdicts they explain.
    let verdict_h = (verdicts.len() as u16).min(area.height / 3);
    let table_need = view.backups.len() as u16 + 1;
    let [table_h, findings_h, inventory_h] = share(
        area.height.saturating_sub(verdict_h + 2),
        &[
            (table_need.min(4), table_need),
            // One row at least, to say that findings exist.
            ((findings.len() as u16).min(1), findings.len() as u16),
            ((inventory.len() as u16).min(2), inventory.len() as u16),
        ],
        // What is left stays blank below, so the inventory follows the table.
        usize::MAX,
    )[..] else {
        return;
    };
    let (gap1, gap2) = (1, u16::from(inventory_h > 0));
    // The findings follow the verdicts they explain; what does not fit says so, and
    // where it all is.
    let hint = "Enter shows all";
    let top: Vec<Line> = verdicts.into_iter().chain(findings).collect();
    let mut y = area.y;
    y += put_lines(
        f.buffer_mut(),
        Rect::new(area.x, y, area.width, verdict_h + findings_h),
        &top,
        hint,
        theme,
    );
    y += gap1;
    let table_area = Rect::new(area.x, y, area.width, table_h);
    if view.backups.is_empty() {
        f.render_widget(
            Line::styled("No Velero backups listed.", theme.s.muted),
            table_area,
        );
    } else {
        let skip = usize::from(app.scope != Scope::Both);
        let columns = &BACKUP_COLUMNS[skip..];
        let all: Vec<TableRow> = view
            .backups
            .iter()
            .map(|(role, b)| {
                TableRow::Cells(backup_cells(*role, b, ctx.now, theme).split_off(skip))
            })
            .collect();
        render_window(
            table_area,
            f.buffer_mut(),
            columns,
            all,
            &app.lists.backups,
            theme,
        );
    }
    y += table_h + gap2;
    put_lines(
        f.buffer_mut(),
        Rect::new(area.x, y, area.width, inventory_h),
        &inventory,
        hint,
        theme,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn backup(name: &str, phase: &str, created: i64) -> BackupRow {
        BackupRow {
            namespace: Arc::from("velero"),
            name: name.into(),
            schedule: Some(Arc::from("velero-daily-backup")),
            phase: Arc::from(phase),
            created,
            started: Some(created),
            completed: (phase == "Completed").then_some(created),
            expires: None,
            errors: 0,
            warnings: 0,
            failure_reason: (phase == "Failed").then(|| "node-agent gone".into()),
            storage_location: Some(Arc::from("default")),
        }
    }

    fn fleet(now: DateTime<Utc>) -> FleetState {
        let state = crate::state::test_fleet("globex");
        let env = state.env("globex").unwrap();
        let t = now.timestamp();
        for (role, rows) in [
            (
                ClusterRole::Sc,
                vec![backup("sc-1", "Completed", t - 3 * 3600)],
            ),
            (
                ClusterRole::Wc,
                vec![
                    backup("wc-1", "Completed", t - 26 * 3600),
                    backup("wc-2", "Failed", t - 2 * 3600),
                ],
            ),
        ] {
            env.cluster(role).update(|s| {
                for b in rows {
                    s.backup
                        .backups
                        .upsert((b.namespace.clone(), b.name.clone()), b);
                }
                s.backup.backups.commit_relist();
            });
        }
        state
    }

    fn names(v: &BackupsView) -> Vec<String> {
        v.backups
            .iter()
            .map(|(r, b)| format!("{r}/{}", b.name))
            .collect()
    }

    #[test]
    fn backups_of_both_clusters_newest_first_narrowed_by_the_filter() {
        let now = Utc::now();
        let state = fleet(now);
        let mut app = App::new(vec!["globex".into()]);
        app.env = Some("globex".into());
        let mut v = BackupsView::default();
        v.update(&app, &state, now);
        assert_eq!(names(&v), ["wc/wc-2", "sc/sc-1", "wc/wc-1"]);
        assert_eq!(v.clusters.len(), 2);
        assert_eq!(v.detail_key(&app).as_deref(), Some("wc/wc-2"));

        app.set_filter(Pane::Backups, "failed");
        v.update(&app, &state, now);
        assert_eq!(names(&v), ["wc/wc-2"]);
        app.set_filter(Pane::Backups, "nothing-like-it");
        v.update(&app, &state, now);
        assert_eq!(
            v.detail_key(&app).as_deref(),
            Some(INVENTORY_KEY),
            "with no backup shown, Enter shows the schedules and locations"
        );
    }

    #[test]
    fn the_verdict_says_when_the_last_backup_completed_or_that_none_did() {
        let now = Utc::now();
        let state = fleet(now);
        let theme = Theme::built_in("dark").unwrap();
        let ctx = Ctx::new(&state, &theme, now);
        let mut app = App::new(vec!["globex".into()]);
        app.env = Some("globex".into());
        let mut v = BackupsView::default();
        v.update(&app, &state, now);
        let sc = verdict(&v.clusters[0], &ctx).to_string();
        assert!(
            sc.starts_with("sc  ") && sc.contains("last completed 3h ago"),
            "{sc}"
        );

        state
            .env("globex")
            .unwrap()
            .cluster(ClusterRole::Sc)
            .update(|s| s.backup.backups = Default::default());
        v.update(&app, &state, now);
        let sc = verdict(&v.clusters[0], &ctx).to_string();
        assert!(sc.contains("no completed backup"), "{sc}");
    }
}
