//! Runs and audit: every journaled workflow run (this console's, other consoles' and
//! scripts'), the selected run's steps with their log, and the audit history. The data
//! is re-read from the journals by a task when a run changes; this only draws it.

use std::time::Instant;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::super::app::App;
use super::super::ctx::Ctx;
use super::super::format;
use super::super::modals::details::Details;
use super::super::theme::Theme;
use super::super::widgets::put_lines;
use super::super::widgets::table::{
    Align, Column, TableRow, cell, put_line, render_window, styled,
};
use super::{Now, PaneView};
use crate::engine::journal::{Outcome, RunSummary, StepState};
use crate::state::FleetState;

const COLUMNS: [Column; 7] = [
    Column::new("STARTED", 5, 11),
    Column::new("WORKFLOW", 18, 30).flex(),
    Column::new("CLUSTER", 7, 24),
    Column::new("STEPS", 3, 5).right(),
    Column::new("STATE", 7, 10),
    Column::new("BY", 4, 24).priority(2),
    Column::new("RUN", 10, 44).priority(3).middle(),
];

const AUDIT_COLUMNS: [Column; 6] = [
    Column::new("TIME", 8, 19),
    Column::new("ACTOR", 4, 24).priority(2),
    Column::new("ACTION", 6, 12),
    Column::new("CLUSTER", 7, 24),
    Column::new("WHAT", 30, 90).flex(),
    Column::new("RUN", 10, 44).priority(3).middle(),
];

pub fn state_of(run: &RunSummary, local: bool, theme: &Theme) -> (&'static str, Style) {
    match run.outcome {
        Some(Outcome::Succeeded) => ("succeeded", theme.s.ok),
        Some(Outcome::Failed) => ("failed", theme.s.critical),
        Some(Outcome::Cancelled) => ("cancelled", theme.s.warning),
        // A run nobody here drives may be driven by another console, or its process died:
        // either way it is not known to be running.
        None if local => ("running", theme.s.info),
        None => ("open", theme.s.warning),
    }
}

fn params(run: &RunSummary) -> String {
    let p: Vec<String> = run.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{} {}", run.workflow, p.join(" "))
}

fn started(t: DateTime<Utc>, ctx: &Ctx<'_>) -> String {
    let local = t.with_timezone(&ctx.tz);
    if ctx.now - t < chrono::TimeDelta::hours(20) {
        local.format("%H:%M:%S").to_string()
    } else {
        local.format("%b %d %H:%M").to_string()
    }
}

fn run_cells<'a>(run: &'a RunSummary, local: bool, ctx: &Ctx<'_>) -> Vec<Line<'a>> {
    let (state, style) = state_of(run, local, ctx.theme);
    vec![
        cell(started(run.started_at, ctx)),
        cell(params(run)),
        cell(format!("{}-{}", run.env, run.cluster)),
        cell(format!("{}/{}", run.done_steps(), run.steps.len())),
        styled(state, style),
        styled(run.actor.as_str(), ctx.theme.s.muted),
        styled(run.id.as_str(), ctx.theme.s.muted),
    ]
}

/// The runs come from the journals, which a task re-reads into the console's state when
/// a run changes (`App::runs`), so the pane keeps no copy of its own.
#[derive(Debug, Default)]
pub struct RunsView;

impl PaneView for RunsView {
    fn refresh(&mut self, _: &mut App, _: &FleetState, _: Now) -> Option<Instant> {
        None
    }

    /// The list shares the pane with the selected run's details.
    fn shows_position(&self) -> bool {
        false
    }

    fn render(&self, f: &mut Frame, area: Rect, app: &App, ctx: &Ctx<'_>) {
        render(f, area, app, ctx);
    }

    fn detail_key(&self, app: &App) -> Option<String> {
        if app.show_audit {
            // Newest first on screen.
            let audit = &app.runs.audit;
            let i = audit.len().checked_sub(app.lists.audit.selected + 1)?;
            return Some(format!("{AUDIT_PREFIX}{}", audit[i].seq));
        }
        Some(app.runs.runs.get(app.lists.runs.selected)?.id.clone())
    }

    fn details(&self, app: &App, key: &str, ctx: &Ctx<'_>) -> Option<Details> {
        if let Some(seq) = key.strip_prefix(AUDIT_PREFIX) {
            let r = app.runs.audit.iter().find(|r| r.seq.to_string() == seq)?;
            return Some(audit_details(r, ctx));
        }
        let run = app.runs.runs.iter().find(|r| r.id == key)?;
        let mut d = Details::new(format!("run {}", run.id));
        let local = app.runs.local.contains(&run.id);
        d.lines = detail_lines(run, local, ctx);
        d.from_end = true;
        Some(d)
    }
}

const AUDIT_PREFIX: &str = "audit:";

/// An audit record whole, its detail as indented JSON.
fn audit_details(r: &crate::engine::audit::AuditRecord, ctx: &Ctx<'_>) -> Details {
    let mut d = Details::new(format!("audit record {}", r.seq));
    d.field(
        "Time",
        r.ts.with_timezone(&ctx.tz)
            .format("%Y-%m-%d %H:%M:%S %Z")
            .to_string(),
        ctx,
    );
    d.field("Actor", r.actor.clone(), ctx);
    d.field("Action", r.action.clone(), ctx);
    d.field(
        "Where",
        format!("{}-{}", r.env, r.cluster.as_deref().unwrap_or("")),
        ctx,
    );
    d.field("What", audit_what(r), ctx);
    if let Some(target) = &r.target {
        d.field("Object", target.clone(), ctx);
    }
    if let Some(run) = &r.run_id {
        d.field("Run", run.clone(), ctx);
    }
    if let Some(reason) = &r.reason {
        d.styled_field("Override", reason.clone(), ctx.theme.s.warning, ctx);
    }
    d.field("Chain", format!("{} after {}", r.hash, r.prev), ctx);
    d.section("Detail", ctx);
    let json = serde_json::to_string_pretty(&r.detail).unwrap_or_default();
    for line in json.lines() {
        d.line(Line::raw(line.to_owned()));
    }
    d
}

fn render(f: &mut Frame, area: Rect, app: &App, ctx: &Ctx<'_>) {
    let s = &ctx.theme.s;
    let mut y = area.y;
    for e in app.runs.errors.iter().take(2) {
        put_line(
            f.buffer_mut(),
            area.x,
            y,
            area.width,
            &Line::styled(e.clone(), s.error),
            Align::Left,
        );
        y += 1;
    }
    let area = Rect::new(
        area.x,
        y,
        area.width,
        area.height.saturating_sub(y - area.y),
    );
    if app.show_audit {
        return render_audit(f, area, app, ctx);
    }
    if !app.runs.loaded {
        put_line(
            f.buffer_mut(),
            area.x,
            area.y,
            area.width,
            &Line::styled("Reading the run journals…", s.muted),
            Align::Left,
        );
        return;
    }
    if app.runs.runs.is_empty() {
        let lines = [
            Line::styled("No workflow runs yet.", s.title),
            Line::raw(""),
            Line::styled(
                "Start one with w (scale workers) in the Cluster pane, b (back up now) in the Backups pane, \
                 or :scale wc 5 / :backup sc. Runs of other consoles and of `ck8s-console run` show here too.",
                s.muted,
            ),
            Line::raw(""),
            Line::styled("a shows the audit history.", s.muted),
        ];
        let mut y = area.y;
        for l in lines {
            if l.spans.is_empty() {
                y += 1;
                continue;
            }
            for part in format::wrap_spans(l.spans, area.width as usize, 0) {
                if y < area.y + area.height {
                    put_line(f.buffer_mut(), area.x, y, area.width, &part, Align::Left);
                    y += 1;
                }
            }
        }
        return;
    }
    let wanted = app.runs.runs.len() as u16 + 1;
    let table_h = wanted
        .min(area.height.saturating_sub(8).max(area.height / 3))
        .max(2);
    let rows: Vec<TableRow> = app
        .runs
        .runs
        .iter()
        .map(|r| TableRow::Cells(run_cells(r, app.runs.local.contains(&r.id), ctx)))
        .collect();
    render_window(
        Rect::new(area.x, area.y, area.width, table_h),
        f.buffer_mut(),
        &COLUMNS,
        rows,
        &app.lists.runs,
        ctx.theme,
    );
    let detail = Rect::new(
        area.x,
        area.y + table_h + 1,
        area.width,
        area.height.saturating_sub(table_h + 1),
    );
    if let Some(run) = app.runs.runs.get(app.lists.runs.selected) {
        render_detail(f, detail, run, app.runs.local.contains(&run.id), ctx);
    }
}

/// The selected run under the table: who and why and each step, wrapped, then as many of
/// the newest log lines as fit, and a note of what was left out.
fn render_detail(f: &mut Frame, area: Rect, run: &RunSummary, local: bool, ctx: &Ctx<'_>) {
    let width = area.width as usize;
    let wrap = |lines: Vec<Line<'static>>| -> Vec<Line<'static>> {
        lines
            .into_iter()
            .flat_map(|l| format::wrap_line(l, width, 5))
            .collect()
    };
    let mut lines = wrap(run_head(run, local, ctx));
    let log = log_lines(run, ctx);
    // Newest first, whole lines only, in the rows left under the heading.
    let room = (area.height as usize).saturating_sub(lines.len() + 1);
    let mut tail: Vec<Vec<Line<'static>>> = Vec::new();
    let mut used = 0;
    for line in log.iter().rev() {
        let wrapped = wrap(vec![line.clone()]);
        if used + wrapped.len() > room {
            break;
        }
        used += wrapped.len();
        tail.push(wrapped);
    }
    if !tail.is_empty() {
        lines.push(log_heading(tail.len(), log.len(), ctx));
        lines.extend(tail.into_iter().rev().flatten());
    }
    put_lines(
        f.buffer_mut(),
        area,
        &lines,
        "Enter shows the whole run",
        ctx.theme,
    );
}

/// The whole run, for its details: head, heading and every log line.
fn detail_lines(run: &RunSummary, local: bool, ctx: &Ctx<'_>) -> Vec<Line<'static>> {
    let mut lines = run_head(run, local, ctx);
    let log = log_lines(run, ctx);
    if !log.is_empty() {
        lines.push(log_heading(log.len(), log.len(), ctx));
        lines.extend(log);
    }
    lines
}

/// `log`, or `log (newest 3 of 40)` when some are left out.
fn log_heading(shown: usize, all: usize, ctx: &Ctx<'_>) -> Line<'static> {
    let text = if shown < all {
        format!("log (newest {shown} of {all})")
    } else {
        "log".to_owned()
    };
    Line::styled(text, ctx.theme.s.header)
}

/// The run: its id and state, who and why, and each step with its result.
fn run_head(run: &RunSummary, local: bool, ctx: &Ctx<'_>) -> Vec<Line<'static>> {
    let s = &ctx.theme.s;
    let (state, style) = state_of(run, local, ctx.theme);
    let mut lines: Vec<Line<'static>> = vec![Line::from(vec![
        Span::styled(format!("{} ", run.id), s.title),
        Span::styled(format!("{state} "), style),
        Span::styled(format!("by {} · {}", run.actor, params(run)), s.muted),
    ])];
    if let Some(reason) = &run.reason {
        lines.push(Line::from(vec![
            Span::styled("override reason: ", s.warning),
            Span::raw(reason.clone()),
        ]));
    }
    for (i, step) in run.steps.iter().enumerate() {
        let (mark, style) = match step.state {
            StepState::Done => ("✓", s.ok),
            StepState::Failed => ("✗", s.critical),
            StepState::Running => ("›", s.info),
            StepState::Pending => ("·", s.muted),
        };
        // The mark and number as a span of their own: wrapped lines hang under the name.
        let mut spans = vec![
            Span::styled(format!("{mark} {}. ", i + 1), style),
            Span::styled(step.name.clone(), style),
        ];
        if let Some(m) = &step.message {
            spans.push(Span::styled("  ", s.muted));
            spans.push(Span::raw(m.clone()));
        }
        lines.push(Line::from(spans));
    }
    lines
}

/// Every log line of the run, oldest first, each with its time and step.
fn log_lines(run: &RunSummary, ctx: &Ctx<'_>) -> Vec<Line<'static>> {
    run.steps
        .iter()
        .enumerate()
        .flat_map(|(i, st)| st.log.iter().map(move |l| (i, l)))
        .map(|(i, l)| {
            let ts = l.ts.with_timezone(&ctx.tz).format("%H:%M:%S");
            Line::from(vec![
                Span::styled(format!("{ts} [{}] ", i + 1), ctx.theme.s.muted),
                Span::raw(l.message.clone()),
            ])
        })
        .collect()
}

fn render_audit(f: &mut Frame, area: Rect, app: &App, ctx: &Ctx<'_>) {
    let s = &ctx.theme.s;
    if app.runs.audit.is_empty() {
        put_line(
            f.buffer_mut(),
            area.x,
            area.y,
            area.width,
            &Line::styled(
                "No audit records yet: nothing has been changed through the engine.",
                s.muted,
            ),
            Align::Left,
        );
        return;
    }
    // Newest first, like the runs.
    let rows: Vec<TableRow> = app
        .runs
        .audit
        .iter()
        .rev()
        .map(|r| {
            let what = audit_what(r);
            TableRow::Cells(vec![
                cell(
                    r.ts.with_timezone(&ctx.tz)
                        .format("%m-%d %H:%M:%S")
                        .to_string(),
                ),
                styled(r.actor.clone(), s.muted),
                cell(r.action.clone()),
                cell(format!("{}-{}", r.env, r.cluster.as_deref().unwrap_or(""))),
                cell(what),
                styled(r.run_id.clone().unwrap_or_default(), s.muted),
            ])
        })
        .collect();
    render_window(
        area,
        f.buffer_mut(),
        &AUDIT_COLUMNS,
        rows,
        &app.lists.audit,
        ctx.theme,
    );
}

/// One line for an audit record: the override reason, the step's result, the outcome, or
/// the object and comment of a change made outside a run.
fn audit_what(r: &crate::engine::audit::AuditRecord) -> String {
    let text = |key: &str| r.detail.get(key).and_then(|v| v.as_str()).unwrap_or("");
    if let Some(reason) = &r.reason {
        return format!("override: {reason}");
    }
    if r.detail.get("step").is_some() {
        let result = if text("error").is_empty() {
            text("result")
        } else {
            text("error")
        };
        return format!("{}: {result}", text("step"));
    }
    if r.detail.get("outcome").is_some() {
        return text("outcome").to_owned();
    }
    match &r.target {
        Some(target) if text("comment").is_empty() => target.clone(),
        Some(target) => format!("{target}: {}", text("comment")),
        None => text("workflow").to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClusterRole;
    use crate::engine::audit::AuditRecord;
    use crate::engine::journal::{StepState, StepSummary};
    use crate::ui::theme::Theme;

    fn run(id: &str, outcome: Option<Outcome>) -> RunSummary {
        RunSummary {
            id: id.into(),
            workflow: "scale".into(),
            env: "globex".into(),
            cluster: ClusterRole::Wc,
            params: [("workers".to_owned(), "5".to_owned())].into(),
            actor: "alice".into(),
            reason: None,
            started_at: Utc::now(),
            updated_at: Utc::now(),
            outcome,
            steps: vec![StepSummary {
                name: "check".into(),
                state: StepState::Done,
                message: None,
                log: Vec::new(),
            }],
        }
    }

    fn record(
        seq: u64,
        reason: Option<&str>,
        target: Option<&str>,
        detail: serde_json::Value,
    ) -> AuditRecord {
        AuditRecord {
            seq,
            ts: Utc::now(),
            actor: "alice".into(),
            action: "run.step".into(),
            env: "globex".into(),
            cluster: Some("wc".into()),
            target: target.map(str::to_owned),
            run_id: None,
            reason: reason.map(str::to_owned),
            detail,
            prev: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn a_run_nobody_here_drives_is_open_not_running() {
        let theme = Theme::built_in("dark").unwrap();
        let open = run("r1", None);
        assert_eq!(state_of(&open, true, &theme).0, "running");
        assert_eq!(state_of(&open, false, &theme).0, "open");
        for (outcome, word) in [
            (Outcome::Succeeded, "succeeded"),
            (Outcome::Failed, "failed"),
            (Outcome::Cancelled, "cancelled"),
        ] {
            assert_eq!(state_of(&run("r", Some(outcome)), true, &theme).0, word);
        }
        assert_eq!(params(&open), "scale workers=5");
    }

    #[test]
    fn an_audit_line_says_what_matters_most_about_the_record() {
        use serde_json::json;
        let what = |reason, target, detail| audit_what(&record(1, reason, target, detail));
        assert_eq!(
            what(Some("INC-9"), None, json!({"step": "scale"})),
            "override: INC-9",
            "an override reason comes first"
        );
        assert_eq!(
            what(
                None,
                None,
                json!({"step": "wait", "result": "5 ready", "error": "timed out"})
            ),
            "wait: timed out",
            "a step's error before its result"
        );
        assert_eq!(
            what(None, None, json!({"step": "wait", "result": "5 ready"})),
            "wait: 5 ready"
        );
        assert_eq!(
            what(None, None, json!({"outcome": "succeeded"})),
            "succeeded"
        );
        assert_eq!(
            what(None, Some("silence s-1"), json!({"comment": "INC-9"})),
            "silence s-1: INC-9"
        );
        assert_eq!(what(None, Some("silence s-1"), json!({})), "silence s-1");
        assert_eq!(what(None, None, json!({"workflow": "backup"})), "backup");
    }

    #[test]
    fn enter_opens_the_selected_run_at_its_end_or_the_selected_audit_record() {
        let state = crate::state::test_fleet("globex");
        let theme = Theme::built_in("dark").unwrap();
        let ctx = Ctx::new(&state, &theme, Utc::now());
        let mut app = App::new(vec!["globex".into()]);
        app.runs.runs = vec![run("r1", None), run("r2", Some(Outcome::Failed))];
        app.runs.audit = (1..=3)
            .map(|n| record(n, None, None, serde_json::json!({})))
            .collect();
        app.lists.runs.selected = 1;
        let view = RunsView;
        let key = view.detail_key(&app).unwrap();
        assert_eq!(key, "r2");
        let d = view.details(&app, &key, &ctx).unwrap();
        assert_eq!(d.title, "run r2");
        assert!(d.from_end, "a run's newest log lines matter most");

        app.show_audit = true;
        app.lists.audit.selected = 0;
        let key = view.detail_key(&app).unwrap();
        assert_eq!(key, "audit:3", "the audit list shows the newest first");
        assert!(view.details(&app, &key, &ctx).is_some());
        assert!(
            view.details(&app, "audit:9", &ctx).is_none(),
            "a record gone is no view"
        );
        app.lists.audit.selected = 5;
        assert_eq!(view.detail_key(&app), None);
    }
}
