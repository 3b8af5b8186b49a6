//! Alerts: both clusters' Alertmanagers (or the whole fleet's) merged by fingerprint,
//! grouped by alert name or severity and coloured by severity; and the silences.

use std::time::Instant;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::super::app::{App, Modal, Pane, Scope};
use super::super::ctx::Ctx;
use super::super::filter::Filter;
use super::super::format;
use super::super::modals::details::Details;
use super::super::widgets::table::{Column, TableRow, TableView, cell, scroll, styled};
use super::{Now, PaneView};
use crate::config::ClusterRole;
use crate::state::FleetState;
use crate::state::health::Source;
use ck8s_model::alert::{AlertState, MergedAlert, Severity, Silence, SilenceState, merge_alerts};

/// Alerts that fire all the time on purpose (dead man's switches); listing them on
/// every cluster would bury the real ones.
const ALWAYS_FIRING: [&str; 2] = ["Watchdog", "InfoInhibitor"];

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Grouping {
    #[default]
    Name,
    Severity,
}

impl Grouping {
    pub fn next(self) -> Grouping {
        match self {
            Grouping::Name => Grouping::Severity,
            Grouping::Severity => Grouping::Name,
        }
    }
}

/// A silence and where it lives.
#[derive(Debug, Clone)]
pub struct SilenceEntry {
    pub env: String,
    pub role: ClusterRole,
    pub silence: Silence,
}

#[derive(Debug, Clone)]
struct Group {
    /// Index of its first alert.
    start: usize,
    label: String,
    worst: Severity,
    count: usize,
}

#[derive(Debug, Clone, PartialEq)]
struct Key {
    generation: u64,
    env: Option<String>,
    scope: Scope,
    filter: String,
    grouping: Grouping,
}

/// The alerts and silences of the current place, recomputed when the data, the place,
/// the filter or the grouping change.
#[derive(Debug, Default)]
pub struct AlertsView {
    key: Option<Key>,
    all: Vec<MergedAlert>,
    /// Filtered, in display order.
    shown: Vec<usize>,
    groups: Vec<Group>,
    silences: Vec<SilenceEntry>,
    shown_silences: Vec<usize>,
    pub hidden_always_firing: usize,
    pub filter_error: Option<String>,
}

impl AlertsView {
    fn update(&mut self, app: &App, state: &FleetState) {
        let key = Key {
            generation: state.changes.generation(),
            env: app.env.clone(),
            scope: app.scope,
            filter: app.filter_of(Pane::Alerts).to_string(),
            grouping: app.grouping,
        };
        if self.key.as_ref() == Some(&key) {
            return;
        }
        let mut per_cluster = Vec::new();
        let mut silences = Vec::new();
        for env in state
            .envs
            .iter()
            .filter(|e| key.env.as_ref().is_none_or(|n| *n == e.name))
        {
            for role in key.scope.roles() {
                let s = env.cluster(*role).read();
                per_cluster.push((env.name.clone(), *role, s.alerts.clone()));
                silences.extend(s.silences.iter().map(|sil| SilenceEntry {
                    env: env.name.clone(),
                    role: *role,
                    silence: sil.clone(),
                }));
            }
        }
        let merged = merge_alerts(per_cluster);
        let (noise, all): (Vec<_>, Vec<_>) = merged
            .into_iter()
            .partition(|m| ALWAYS_FIRING.contains(&m.alert.alertname()));
        self.hidden_always_firing = noise.len();
        self.all = all;
        silences.sort_by_key(|s| (silence_rank(s.silence.status.state), s.silence.ends_at));
        self.silences = silences;
        let filter = match Filter::parse(&key.filter) {
            Ok(f) => {
                self.filter_error = None;
                f
            }
            Err(e) => {
                self.filter_error = Some(e);
                Filter::default()
            }
        };
        self.group(&filter, key.grouping);
        self.shown_silences = (0..self.silences.len())
            .filter(|i| {
                let s = &self.silences[*i].silence;
                let matchers: Vec<String> = s.matchers.iter().map(|m| m.to_string()).collect();
                let mut fields: Vec<&str> = matchers.iter().map(String::as_str).collect();
                fields.extend([s.comment.as_str(), s.created_by.as_str(), s.id.as_str()]);
                filter.matches_fields(&fields)
            })
            .collect();
        self.key = Some(key);
    }

    fn group(&mut self, filter: &Filter, grouping: Grouping) {
        let matching: Vec<usize> = (0..self.all.len())
            .filter(|i| {
                let a = &self.all[*i].alert;
                let values: Vec<&str> = a.labels.values().map(String::as_str).collect();
                let mut fields = values;
                fields.extend(a.summary());
                filter.matches(&fields, |k| a.label(k))
            })
            .collect();
        let label = |m: &MergedAlert| match grouping {
            Grouping::Name => m.alert.alertname().to_string(),
            Grouping::Severity => severity_name(m.alert.severity()).to_string(),
        };
        // Groups in order of their worst alert, then by name; alerts keep the merge order
        // (severity, then oldest first) inside their group.
        let mut groups: Vec<(String, Severity, Vec<usize>)> = Vec::new();
        for i in matching {
            let l = label(&self.all[i]);
            let sev = self.all[i].alert.severity();
            match groups.iter_mut().find(|g| g.0 == l) {
                Some(g) => {
                    if sev.urgency_rank() < g.1.urgency_rank() {
                        g.1 = sev;
                    }
                    g.2.push(i);
                }
                None => groups.push((l, sev, vec![i])),
            }
        }
        groups.sort_by(|a, b| (a.1.urgency_rank(), &a.0).cmp(&(b.1.urgency_rank(), &b.0)));
        // Inside a group, what still notifies comes before what is silenced.
        let all = &self.all;
        for g in &mut groups {
            g.2.sort_by_key(|i| {
                let a = &all[*i].alert;
                (
                    a.status.state == AlertState::Suppressed,
                    a.severity().urgency_rank(),
                    a.starts_at,
                )
            });
        }
        self.shown.clear();
        self.groups.clear();
        for (label, worst, members) in groups {
            self.groups.push(Group {
                start: self.shown.len(),
                label,
                worst,
                count: members.len(),
            });
            self.shown.extend(members);
        }
    }

    pub fn len(&self) -> usize {
        self.shown.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shown.is_empty()
    }

    pub fn silences_len(&self) -> usize {
        self.shown_silences.len()
    }

    /// The `i`-th alert shown.
    pub fn alert(&self, i: usize) -> Option<&MergedAlert> {
        self.shown.get(i).and_then(|j| self.all.get(*j))
    }

    pub fn by_fingerprint(&self, fingerprint: &str) -> Option<&MergedAlert> {
        self.all.iter().find(|a| a.alert.fingerprint == fingerprint)
    }

    pub fn silence(&self, i: usize) -> Option<&SilenceEntry> {
        self.shown_silences
            .get(i)
            .and_then(|j| self.silences.get(*j))
    }

    /// Firing (not suppressed) alerts per severity, for the title.
    pub fn counts(&self) -> [(Severity, usize); 4] {
        let mut c = [
            (Severity::Critical, 0),
            (Severity::High, 0),
            (Severity::Warning, 0),
            (Severity::Info, 0),
        ];
        for a in &self.all {
            if a.alert.status.state == AlertState::Suppressed {
                continue;
            }
            let sev = a.alert.severity();
            if let Some(slot) = c.iter_mut().find(|(s, _)| *s == sev) {
                slot.1 += 1;
            }
        }
        c
    }
}

fn silence_rank(s: SilenceState) -> u8 {
    match s {
        SilenceState::Active => 0,
        SilenceState::Pending => 1,
        SilenceState::Expired => 2,
    }
}

pub use super::super::alert_text::{severity_name, sources, state_name, subject};

const ALERT_COLUMNS: [Column; 6] = [
    Column::new("SEVERITY", 8, 8).short("SEV"),
    Column::new("ALERT", 12, 34),
    Column::new("CLUSTER", 2, 30),
    Column::new("STATE", 5, 9),
    Column::new("AGE", 3, 5).right(),
    Column::new("SUBJECT", 12, 60).flex().priority(1),
];

const SUMMARY: Column = Column::new("SUMMARY", 20, 200).flex().priority(2);

const SILENCE_COLUMNS: [Column; 7] = [
    Column::new("STATE", 6, 8),
    Column::new("ID", 8, 8),
    Column::new("CLUSTER", 2, 20),
    Column::new("ENDS", 6, 14),
    Column::new("BY", 4, 16).priority(2),
    Column::new("MATCHERS", 16, 90).flex(),
    Column::new("COMMENT", 10, 80).flex().priority(1),
];

impl PaneView for AlertsView {
    fn sources(&self, _: ClusterRole) -> &'static [Source] {
        &[Source::Alertmanager]
    }

    fn refresh(&mut self, app: &mut App, state: &FleetState, _: Now) -> Option<Instant> {
        self.update(app, state);
        app.lists.alerts.set_len(self.len());
        app.lists.silences.set_len(self.silences_len());
        if let Some(Modal::Alert(m)) = app.modals.last_mut() {
            m.remember(self.by_fingerprint(&m.fingerprint));
        }
        None
    }

    fn has_data(&self) -> bool {
        !self.is_empty()
    }

    fn filter_error(&self) -> Option<&str> {
        self.filter_error.as_deref()
    }

    fn title(&self, app: &App) -> Option<&'static str> {
        app.show_silences.then_some("Silences")
    }

    fn summary(&self, app: &App, width: u16, ctx: &Ctx<'_>) -> Vec<Span<'static>> {
        if app.show_silences {
            return vec![Span::styled(
                match self.silences_len() {
                    1 => " 1 silence ".to_string(),
                    n => format!(" {n} silences "),
                },
                ctx.theme.s.muted,
            )];
        }
        let mut v = vec![Span::raw(" ")];
        v.extend(title_counts(self, ctx));
        // Marks of alerts that have stopped firing are not counted (`s` drops them).
        let marked = app
            .alert_marks
            .iter()
            .filter(|f| self.by_fingerprint(f).is_some())
            .count();
        if marked > 0 {
            v.push(Span::styled(format!(" · {marked} marked"), ctx.theme.s.key));
        }
        if self.hidden_always_firing > 0 && width >= 100 {
            v.push(Span::styled(
                format!(" · {} watchdog hidden", self.hidden_always_firing),
                ctx.theme.s.muted,
            ));
        }
        v.push(Span::raw(" "));
        v
    }

    fn render(&self, f: &mut Frame, area: Rect, app: &App, ctx: &Ctx<'_>) {
        render(f, area, app, self, ctx);
    }

    /// A silence (alerts have their own overlay).
    fn detail_key(&self, app: &App) -> Option<String> {
        Some(self.silence(app.lists.silences.selected)?.key())
    }

    fn details(&self, _: &App, key: &str, ctx: &Ctx<'_>) -> Option<Details> {
        let e = self.silences.iter().find(|e| e.key() == key)?;
        Some(silence_details(e, ctx))
    }
}

impl SilenceEntry {
    /// Where it lives and its id: `acme-wc/7f3a…`, unique in the fleet.
    fn key(&self) -> String {
        format!("{}-{}/{}", self.env, self.role, self.silence.id)
    }
}

/// A silence whole: its id, state, time span, author, comment and every matcher.
fn silence_details(e: &SilenceEntry, ctx: &Ctx<'_>) -> Details {
    let s = &ctx.theme.s;
    let sil = &e.silence;
    let mut d = Details::new(format!("silence {}", format::short_id(&sil.id)));
    let (state, style) = match sil.status.state {
        SilenceState::Active => ("active", s.ok),
        SilenceState::Pending => ("pending", s.warning),
        SilenceState::Expired => ("expired", s.muted),
    };
    let when = |t: DateTime<Utc>| format::moment(t, ctx.now, ctx.tz);
    d.field("Id", sil.id.clone(), ctx);
    d.field("Alertmanager", format!("{}-{}", e.env, e.role), ctx);
    d.styled_field("State", state, style, ctx);
    d.field("Starts", when(sil.starts_at), ctx);
    d.field("Ends", when(sil.ends_at), ctx);
    d.field("Created by", sil.created_by.clone(), ctx);
    d.field("Comment", sil.comment.clone(), ctx);
    d.section("Matchers", ctx);
    for m in &sil.matchers {
        d.line(Line::raw(format!("  {m}")));
    }
    d
}

fn render(f: &mut Frame, area: Rect, app: &App, view: &AlertsView, ctx: &Ctx<'_>) {
    if app.show_silences {
        render_silences(f, area, app, view, ctx);
    } else {
        render_alerts(f, area, app, view, ctx);
    }
}

fn render_alerts(f: &mut Frame, area: Rect, app: &App, view: &AlertsView, ctx: &Ctx<'_>) {
    let s = &ctx.theme.s;
    if view.is_empty() {
        let msg = if view.all.is_empty() {
            "No alerts are firing.".to_string()
        } else {
            format!("No alert matches the filter ({} firing).", view.all.len())
        };
        f.render_widget(Line::styled(msg, s.muted), area);
        return;
    }
    let mut columns: Vec<Column> = ALERT_COLUMNS.to_vec();
    if area.width >= 150 {
        columns.push(SUMMARY);
    }
    let in_env = app.env.is_some();
    let body = TableView::body_height(&columns, area.height) as usize;
    // Group headings take lines too: the window is over alerts and headings alike.
    let lines = view.len() + view.groups.len();
    let selected = app.lists.alerts.selected.min(view.len().saturating_sub(1));
    let display = |i: usize| i + view.groups.iter().filter(|g| g.start <= i).count();
    let list = &app.lists.alerts;
    let mut offset = scroll(list.offset(), display(selected), body, lines);
    // A group's heading stays in view above its first alert.
    if offset > 0 && view.groups.iter().any(|g| display(g.start) == offset) {
        offset -= 1;
    }
    list.drawn(offset, body);
    let mut rows = Vec::with_capacity(body);
    let mut sel_row = None;
    let mut d = 0;
    let now = ctx.now;
    for (gi, g) in view.groups.iter().enumerate() {
        let end = view.groups.get(gi + 1).map_or(view.len(), |n| n.start);
        if d >= offset + body {
            break;
        }
        if d >= offset {
            let noun = if g.count == 1 { "alert" } else { "alerts" };
            rows.push(TableRow::Banner(Line::from(vec![
                Span::styled(format!("▾ {}", g.label), ctx.theme.severity(g.worst)),
                Span::styled(format!("  {} {noun}", g.count), s.muted),
            ])));
        }
        d += 1;
        for i in g.start..end {
            if d >= offset && d < offset + body {
                if i == selected {
                    sel_row = Some(rows.len());
                }
                if let Some(a) = view.alert(i) {
                    let marked = app.alert_marks.contains(&a.alert.fingerprint);
                    rows.push(TableRow::Cells(alert_cells(
                        a,
                        (in_env, marked),
                        now,
                        ctx,
                        columns.len(),
                    )));
                }
            }
            d += 1;
        }
    }
    TableView::new(&columns, rows, ctx.theme)
        .selected(sel_row)
        .render(area, f.buffer_mut());
}

/// A row's cells; `in_env`: an environment is open (its name goes without saying),
/// `marked`: Space marked it.
fn alert_cells<'a>(
    a: &'a MergedAlert,
    (in_env, marked): (bool, bool),
    now: DateTime<Utc>,
    ctx: &Ctx<'_>,
    n: usize,
) -> Vec<Line<'a>> {
    let s = &ctx.theme.s;
    let sev = a.alert.severity();
    let suppressed = a.alert.status.state == AlertState::Suppressed;
    let sev_style = if suppressed {
        s.muted
    } else {
        ctx.theme.severity(sev)
    };
    let mut cells = vec![
        styled(severity_name(sev), sev_style),
        if marked {
            Line::from(vec![
                Span::styled(super::pods::MARK, s.key),
                Span::styled(a.alert.alertname(), s.key),
            ])
        } else {
            styled(
                a.alert.alertname(),
                if suppressed { s.muted } else { s.text },
            )
        },
        cell(sources(a, in_env)),
        styled(state_name(a), if suppressed { s.muted } else { s.text }),
        styled(
            format::age(now.timestamp() - a.alert.starts_at.timestamp()),
            s.muted,
        ),
        cell(subject(a)),
    ];
    if n > cells.len() {
        cells.push(styled(a.alert.summary().unwrap_or(""), s.muted));
    }
    cells
}

fn render_silences(f: &mut Frame, area: Rect, app: &App, view: &AlertsView, ctx: &Ctx<'_>) {
    let s = &ctx.theme.s;
    if view.silences_len() == 0 {
        f.render_widget(
            Line::styled(
                "No silences. Select an alert and press s to create one.",
                s.muted,
            ),
            area,
        );
        return;
    }
    let in_env = app.env.is_some();
    let body = TableView::body_height(&SILENCE_COLUMNS, area.height) as usize;
    let list = &app.lists.silences;
    let window = list.window(body);
    let now = ctx.now;
    let rows: Vec<TableRow> = window
        .clone()
        .filter_map(|i| view.silence(i))
        .map(|e| {
            let sil = &e.silence;
            let (state, style) = match sil.status.state {
                SilenceState::Active => ("active", s.ok),
                SilenceState::Pending => ("pending", s.warning),
                SilenceState::Expired => ("expired", s.muted),
            };
            let ends = if sil.ends_at > now {
                format!("in {}", format::age((sil.ends_at - now).num_seconds()))
            } else {
                format!("{} ago", format::age((now - sil.ends_at).num_seconds()))
            };
            let cluster = if in_env {
                e.role.to_string()
            } else {
                format!("{}-{}", e.env, e.role)
            };
            let matchers: Vec<String> = sil.matchers.iter().map(|m| m.to_string()).collect();
            TableRow::Cells(vec![
                styled(state, style),
                cell(super::super::format::short_id(&sil.id).to_string()),
                cell(cluster),
                styled(ends, s.muted),
                cell(sil.created_by.clone()),
                cell(matchers.join(", ")),
                styled(sil.comment.clone(), s.muted),
            ])
        })
        .collect();
    let selected = Some(list.selected - window.start);
    TableView::new(&SILENCE_COLUMNS, rows, ctx.theme)
        .selected(selected)
        .render(area, f.buffer_mut());
}

/// The title's right side: counts by severity.
pub fn title_counts(view: &AlertsView, ctx: &Ctx<'_>) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    for (sev, n) in view.counts() {
        if n > 0 {
            if !spans.is_empty() {
                spans.push(Span::styled(" · ", ctx.theme.s.muted));
            }
            spans.push(Span::styled(
                format!("{n} {}", severity_name(sev)),
                ctx.theme.severity(sev),
            ));
        }
    }
    if spans.is_empty() {
        spans.push(Span::styled("nothing firing", ctx.theme.s.ok));
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{alert, firing};

    /// globex: the sc fires a warning and the dead man's switch; the wc a critical, a
    /// silenced critical and the same warning as the sc.
    fn fleet() -> FleetState {
        let state = crate::state::test_fleet("globex");
        let env = state.env("globex").unwrap();
        let disk = alert(
            "NodeFilesystemFillingUp",
            "warning",
            false,
            &[("node", "w1")],
        );
        firing(
            env.cluster(ClusterRole::Sc),
            vec![disk.clone(), alert("Watchdog", "none", false, &[])],
        );
        firing(
            env.cluster(ClusterRole::Wc),
            vec![
                disk,
                alert("KubePodCrashLooping", "critical", true, &[("pod", "old")]),
                alert(
                    "KubePodCrashLooping",
                    "critical",
                    false,
                    &[("pod", "web-1")],
                ),
            ],
        );
        state
    }

    fn view(app: &App, state: &FleetState) -> AlertsView {
        let mut v = AlertsView::default();
        v.update(app, state);
        v
    }

    fn app() -> App {
        let mut app = App::new(vec!["globex".into()]);
        app.env = Some("globex".into());
        app
    }

    /// The shown rows as `alertname pod-or-node state`.
    fn rows(v: &AlertsView) -> Vec<String> {
        (0..v.len())
            .map(|i| {
                let a = &v.alert(i).unwrap().alert;
                let on = a.label("pod").or(a.label("node")).unwrap_or("-");
                format!("{} {on} {:?}", a.alertname(), a.status.state)
            })
            .collect()
    }

    #[test]
    fn groups_go_worst_first_and_what_still_notifies_leads_each_group() {
        let state = fleet();
        let v = view(&app(), &state);
        assert_eq!(
            rows(&v),
            [
                "KubePodCrashLooping web-1 Active",
                "KubePodCrashLooping old Suppressed",
                "NodeFilesystemFillingUp w1 Active",
            ]
        );
        let groups: Vec<(&str, usize)> = v
            .groups
            .iter()
            .map(|g| (g.label.as_str(), g.count))
            .collect();
        assert_eq!(
            groups,
            [("KubePodCrashLooping", 2), ("NodeFilesystemFillingUp", 1)]
        );
        assert_eq!(
            v.alert(2).unwrap().sources.len(),
            2,
            "one row for the alert both clusters fire"
        );
        assert_eq!(v.hidden_always_firing, 1, "Watchdog is counted, not listed");
        let counts = v.counts();
        assert_eq!(
            counts[0],
            (Severity::Critical, 1),
            "the silenced one is not counted"
        );
        assert_eq!(counts[2], (Severity::Warning, 1));
    }

    #[test]
    fn scope_filter_and_grouping_narrow_and_regroup() {
        let state = fleet();
        let mut app = app();
        app.scope = Scope::Sc;
        assert_eq!(
            rows(&view(&app, &state)),
            ["NodeFilesystemFillingUp w1 Active"]
        );

        app.scope = Scope::Both;
        app.set_filter(Pane::Alerts, "web-1");
        assert_eq!(
            rows(&view(&app, &state)),
            ["KubePodCrashLooping web-1 Active"]
        );

        app.set_filter(Pane::Alerts, "~(");
        let v = view(&app, &state);
        assert!(v.filter_error.is_some(), "a bad filter says why");
        assert_eq!(v.len(), 3, "and hides nothing");

        app.set_filter(Pane::Alerts, "");
        app.grouping = Grouping::Severity;
        let v = view(&app, &state);
        let labels: Vec<&str> = v.groups.iter().map(|g| g.label.as_str()).collect();
        assert_eq!(labels, ["critical", "warning"]);
    }

    #[test]
    fn a_view_is_rebuilt_only_when_its_inputs_change() {
        let state = fleet();
        let app = app();
        let mut v = view(&app, &state);
        // Without a change of data, place, filter or grouping the rows are kept as they are.
        v.shown.clear();
        v.update(&app, &state);
        assert!(v.is_empty());
        firing(
            state.env("globex").unwrap().cluster(ClusterRole::Sc),
            vec![],
        );
        v.update(&app, &state);
        assert_eq!(v.len(), 3, "new data rebuilds it");
    }
}
