//! The workflow form: the workflow's inputs, then the engine's plan with the policy's
//! verdict, then (when the policy asks for one) an override reason. Enter moves it along:
//! check the plan, then start. Editing an input throws the plan away, so what starts is
//! always what was checked.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::super::ctx::Ctx;
use super::super::keymap::Action;
use super::super::widgets::field::{Edited, TextField};
use crate::config::ClusterRole;
use crate::engine::policy::{self, Decision};
use crate::engine::workflows::{self, WorkflowKind};
use crate::engine::{Hints, Plan, RunRequest};

/// Where the form is.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    Editing,
    /// The plan request in flight.
    Planning(u64),
    Planned(Box<Plan>),
    /// The start request in flight.
    Starting(u64),
}

#[derive(Debug)]
pub struct RunForm {
    pub kind: WorkflowKind,
    pub env: String,
    pub role: ClusterRole,
    /// One line per workflow parameter, in the workflow's order.
    inputs: Vec<TextField>,
    reason: TextField,
    /// Index into inputs, or `inputs.len()` for the reason.
    pub focus: usize,
    pub stage: Stage,
    pub error: Option<String>,
    tried: bool,
    /// Where the plan is scrolled to when it is longer than the form (at 80x24).
    plan_scroll: super::Scroll,
}

/// What Enter asks for.
pub enum Next {
    Nothing,
    Plan(RunRequest),
    Start(Box<Plan>, Option<String>),
}

fn line(text: &str) -> TextField {
    TextField::new(text)
}

fn value(t: &TextField) -> String {
    t.value().to_string()
}

impl RunForm {
    /// `preset` fills parameters the user already gave (`:scale wc 5`).
    pub fn new(
        kind: WorkflowKind,
        env: &str,
        role: ClusterRole,
        preset: &[(&str, String)],
    ) -> RunForm {
        let inputs = kind
            .params()
            .iter()
            .map(|(name, _, _)| {
                let v = preset
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.as_str())
                    .unwrap_or("");
                line(v)
            })
            .collect();
        RunForm {
            kind,
            env: env.to_owned(),
            role,
            inputs,
            reason: line(""),
            focus: 0,
            stage: Stage::Editing,
            error: None,
            tried: false,
            plan_scroll: super::Scroll::default(),
        }
    }

    /// PgUp/PgDn over a plan longer than the form.
    pub fn scroll_plan(&mut self, action: Action) {
        self.plan_scroll.apply(action);
    }

    /// What the field of parameter `name` holds, as typed.
    pub fn param(&self, name: &str) -> String {
        self.kind
            .params()
            .iter()
            .position(|(n, _, _)| *n == name)
            .map(|i| value(&self.inputs[i]))
            .unwrap_or_default()
    }

    fn params(&self) -> std::collections::BTreeMap<String, String> {
        self.kind
            .params()
            .iter()
            .zip(&self.inputs)
            .map(|((name, _, _), t)| ((*name).to_owned(), value(t).trim().to_owned()))
            .filter(|(_, v)| !v.is_empty())
            .collect()
    }

    fn input_error(&self) -> Option<String> {
        workflows::check_params(self.kind, &self.params())
            .err()
            .map(|e| e.to_string())
    }

    fn needs_reason(&self) -> bool {
        matches!(&self.stage, Stage::Planned(p) if p.needs_override())
    }

    fn reason_error(&self) -> Option<String> {
        let r = value(&self.reason);
        if r.trim().is_empty() {
            return Some("required: why must the policy not apply now? (ticket, approval)".into());
        }
        policy::override_reason_problem(&r)
    }

    fn fields(&self) -> usize {
        self.inputs.len() + usize::from(self.needs_reason())
    }

    fn busy(&self) -> bool {
        matches!(self.stage, Stage::Planning(_) | Stage::Starting(_))
    }

    pub fn paste(&mut self, text: &str) {
        if self.busy() {
            return;
        }
        if self.focus < self.inputs.len() {
            if self.inputs[self.focus].insert_str(text) {
                self.stage = Stage::Editing;
            }
        } else {
            self.reason.insert_str(text);
        }
    }

    /// Enter: check the plan first, start it once checked.
    pub fn submit(&mut self) -> Next {
        self.tried = true;
        match &self.stage {
            Stage::Planning(_) | Stage::Starting(_) => Next::Nothing,
            Stage::Editing => {
                if let Some(e) = self.input_error() {
                    self.error = Some(e);
                    return Next::Nothing;
                }
                Next::Plan(RunRequest {
                    workflow: self.kind,
                    env: self.env.clone(),
                    role: self.role,
                    params: self.params(),
                    // Filled in from the live state when the plan is asked for.
                    hints: Hints::default(),
                })
            }
            Stage::Planned(plan) if plan.denied() => {
                self.error = Some("the policy refuses this run; change the inputs or wait".into());
                Next::Nothing
            }
            Stage::Planned(plan) => {
                let reason = if plan.needs_override() {
                    if self.reason_error().is_some() {
                        // The field shows why, under itself.
                        self.focus = self.inputs.len();
                        return Next::Nothing;
                    }
                    Some(value(&self.reason).trim().to_owned())
                } else {
                    None
                };
                Next::Start(plan.clone(), reason)
            }
        }
    }

    pub fn planned(&mut self, id: u64, result: Result<Plan, String>) {
        if self.stage != Stage::Planning(id) {
            return;
        }
        match result {
            Ok(plan) => {
                let needs_reason = plan.needs_override();
                // The reason field is new: quiet until it is typed in or submitted.
                self.tried = false;
                self.stage = Stage::Planned(Box::new(plan));
                if needs_reason {
                    self.focus = self.inputs.len();
                }
            }
            Err(e) => {
                self.stage = Stage::Editing;
                self.error = Some(e);
            }
        }
    }

    pub fn start_failed(&mut self, id: u64, error: String) {
        if self.stage == Stage::Starting(id) {
            self.stage = Stage::Editing;
            self.error = Some(error);
        }
    }

    pub fn render(&self, f: &mut Frame, area: Rect, ctx: &Ctx<'_>) {
        let s = &ctx.theme.s;
        let width = if area.width < 100 {
            area.width
        } else {
            area.width * 4 / 5
        };
        let outer = super::centered(area, 0, 0, width, area.height.min(26));
        let title = Line::from(vec![Span::styled(
            format!(" Run {} on {}-{} ", self.kind.name(), self.env, self.role),
            s.title,
        )]);
        let inner = super::frame(f, outer, title, ctx.theme);
        let label_w = 19u16;
        let mut y = inner.y;
        let bottom = inner.y + inner.height;
        let row = |y: u16| Rect::new(inner.x, y, inner.width, 1);
        let summary = vec![Span::styled(format!(" {}", self.kind.summary()), s.muted)];
        for line in super::super::format::wrap_spans(summary, inner.width as usize, 1)
            .into_iter()
            .take(2)
        {
            f.render_widget(line, row(y));
            y += 1;
        }
        y += 1;
        let focus = self.focus;
        let busy = self.busy();
        for (i, (name, what, _)) in self.kind.params().iter().enumerate() {
            if y + 1 >= bottom {
                break;
            }
            draw_field(
                f,
                Rect::new(inner.x, y, inner.width, 1),
                label_w,
                name,
                &self.inputs[i],
                focus == i && !busy,
                ctx,
            );
            let room = inner.width.saturating_sub(label_w).min(60);
            let hint_x = inner.x + label_w + input_width(&self.inputs[i], room) + 2;
            if hint_x < inner.x + inner.width {
                let room = inner.x + inner.width - hint_x;
                f.render_widget(
                    Span::styled(super::super::format::cut(what, room as usize), s.muted),
                    Rect::new(hint_x, y, room, 1),
                );
            }
            y += 1;
        }
        y += 1;
        let lines: Vec<Line> = self
            .plan_lines(ctx)
            .into_iter()
            .flat_map(|l| super::super::format::wrap_spans(l.spans, inner.width as usize, 10))
            .collect();
        let reason_rows = if self.needs_reason() { 2 } else { 0 };
        let plan_h = bottom.saturating_sub(y + 1 + reason_rows);
        self.draw_plan(f, lines, Rect::new(inner.x, y, inner.width, plan_h), ctx);
        y += plan_h;
        if self.needs_reason() && y < bottom {
            let reason_focus = focus == self.inputs.len() && !busy;
            draw_field(
                f,
                row(y),
                label_w,
                "override reason",
                &self.reason,
                reason_focus,
                ctx,
            );
            y += 1;
            if y < bottom
                && let Some(e) = (self.tried || !value(&self.reason).is_empty())
                    .then(|| self.reason_error())
                    .flatten()
            {
                f.render_widget(
                    Line::from(vec![
                        Span::raw(" ".repeat(label_w as usize)),
                        Span::styled(format!("! {e}"), s.input_error),
                    ]),
                    row(y),
                );
            }
        }
        let status_y = bottom.saturating_sub(1);
        if status_y >= inner.y {
            f.render_widget(Paragraph::new(self.status_line(ctx)), row(status_y));
        }
    }

    /// The plan in `area`; a plan longer than that scrolls (PgUp/PgDn), and its last row
    /// says how much more there is, so nothing is cut without a sign.
    fn draw_plan(&self, f: &mut Frame, lines: Vec<Line<'static>>, area: Rect, ctx: &Ctx<'_>) {
        let height = area.height as usize;
        if lines.len() <= height {
            self.plan_scroll.fit(lines.len(), height);
            f.render_widget(Paragraph::new(lines), area);
            return;
        }
        // One row for the sign.
        let rows = height.saturating_sub(1);
        let total = lines.len();
        let skip = self.plan_scroll.fit(total, rows);
        let below = total.saturating_sub(skip + rows);
        let sign = match (skip, below) {
            (0, n) => format!(" ↓ {n} more line(s): PgDn"),
            (n, 0) => format!(" ↑ {n} line(s) above: PgUp"),
            (up, down) => format!(" ↑ {up} above, ↓ {down} more: PgUp/PgDn"),
        };
        let mut shown: Vec<Line> = lines.into_iter().skip(skip).take(rows).collect();
        shown.push(Line::styled(sign, ctx.theme.s.hint));
        f.render_widget(Paragraph::new(shown), area);
    }

    fn plan_lines(&self, ctx: &Ctx<'_>) -> Vec<Line<'static>> {
        let s = &ctx.theme.s;
        let plan = match &self.stage {
            Stage::Editing => {
                return vec![Line::styled(
                    " Enter asks the engine for the plan and the policy's verdict; nothing changes yet.",
                    s.muted,
                )];
            }
            Stage::Planning(_) => {
                return vec![Line::styled(
                    " Checking the clusters and the policy…",
                    s.muted,
                )];
            }
            Stage::Starting(_) => return vec![Line::styled(" Starting the run…", s.muted)],
            Stage::Planned(p) => p,
        };
        let mut lines = vec![Line::from(vec![
            Span::styled(" Plan     ", s.muted),
            Span::styled(plan.change.clone(), s.text),
        ])];
        let (verdict, style) = match &plan.decision {
            Decision::Allow => ("allowed", s.ok),
            Decision::NeedsOverride { .. } => ("needs an override reason", s.warning),
            Decision::Deny { .. } => ("refused", s.critical),
        };
        lines.push(Line::from(vec![
            Span::styled(" Policy   ", s.muted),
            Span::styled(verdict, style.add_modifier(Modifier::BOLD)),
        ]));
        for finding in plan.decision.findings() {
            let style = if finding.is_deny() {
                s.critical
            } else {
                s.warning
            };
            lines.push(Line::from(vec![
                Span::styled(format!("   {} ", finding.rule), style),
                Span::raw(finding.message.clone()),
            ]));
        }
        // The verdict and every reason for it first: they decide what to do next, and on
        // a small terminal what comes after them may need scrolling.
        lines.push(Line::from(vec![
            Span::styled(" Steps    ", s.muted),
            Span::raw(plan.steps.join(" → ")),
        ]));
        for c in &plan.checked {
            lines.push(Line::from(vec![
                Span::styled(" Checked  ", s.muted),
                Span::raw(c.clone()),
            ]));
        }
        lines
    }

    fn status_line(&self, ctx: &Ctx<'_>) -> Line<'static> {
        let s = &ctx.theme.s;
        if let Some(e) = &self.error {
            return Line::styled(format!(" {e}"), s.error);
        }
        let enter = match &self.stage {
            Stage::Editing => "check plan",
            Stage::Planned(p) if p.denied() => "",
            Stage::Planned(_) => "start run",
            Stage::Planning(_) | Stage::Starting(_) => "",
        };
        let mut spans = Vec::new();
        if !enter.is_empty() {
            spans.extend([
                Span::styled(" Enter", s.key),
                Span::styled(format!(" {enter}  "), s.hint),
            ]);
        }
        spans.extend([
            Span::styled(" Tab", s.key),
            Span::styled(" next field  ", s.hint),
            Span::styled("Esc", s.key),
            Span::styled(" cancel", s.hint),
        ]);
        Line::from(spans)
    }
}

/// A parameter field is as wide as its value needs (a backup name is long, a worker count
/// short), at least 20 cells and at most `room`.
fn input_width(ta: &TextField, room: u16) -> u16 {
    let len = value(ta).chars().count() as u16 + 2;
    len.clamp(20, room.max(20)).min(room)
}

fn draw_field(
    f: &mut Frame,
    area: Rect,
    label_w: u16,
    label: &str,
    ta: &TextField,
    focused: bool,
    ctx: &Ctx<'_>,
) {
    let s = &ctx.theme.s;
    let label_style = if focused { s.title } else { s.muted };
    f.render_widget(
        Span::styled(
            format!(" {label:<w$}", w = label_w as usize - 1),
            label_style,
        ),
        Rect::new(area.x, area.y, label_w.min(area.width), 1),
    );
    let base = if focused { s.input } else { s.muted };
    let cursor = focused.then(|| Style::new().add_modifier(Modifier::REVERSED));
    let w = area.width.saturating_sub(label_w).min(60);
    let field_w = if label == "override reason" {
        w
    } else {
        input_width(ta, w)
    };
    ta.render(
        f,
        Rect::new(area.x + label_w, area.y, field_w, 1),
        base.add_modifier(Modifier::UNDERLINED),
        cursor,
    );
}

impl super::Form for RunForm {
    fn focus_next(&mut self) {
        self.focus = (self.focus + 1) % self.fields().max(1);
    }

    fn focus_prev(&mut self) {
        let n = self.fields().max(1);
        self.focus = (self.focus + n - 1) % n;
    }

    fn input(&mut self, ev: KeyEvent) {
        if self.busy() {
            return;
        }
        self.error = None;
        if self.focus < self.inputs.len() {
            if self.inputs[self.focus].edit(ev) == Edited::Changed {
                // What was checked is no longer what would run.
                self.stage = Stage::Editing;
            }
        } else {
            self.reason.edit(ev);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Form;
    use super::*;
    use crossterm::event::{KeyCode, KeyModifiers};

    fn type_text(form: &mut RunForm, text: &str) {
        for c in text.chars() {
            form.input(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
    }

    #[test]
    fn inputs_are_checked_before_the_engine_is_asked() {
        let mut form = RunForm::new(WorkflowKind::Scale, "acme", ClusterRole::Wc, &[]);
        assert!(matches!(form.submit(), Next::Nothing));
        assert!(
            form.error.as_deref().unwrap().contains("workers"),
            "{:?}",
            form.error
        );
        type_text(&mut form, "many");
        assert!(matches!(form.submit(), Next::Nothing));
        assert!(form.error.as_deref().unwrap().contains("whole number"));
        let mut form = RunForm::new(
            WorkflowKind::Scale,
            "acme",
            ClusterRole::Wc,
            &[("workers", "5".into())],
        );
        match form.submit() {
            Next::Plan(req) => {
                assert_eq!(req.params.get("workers").map(String::as_str), Some("5"));
                assert_eq!(req.role, ClusterRole::Wc);
            }
            _ => panic!("valid inputs must ask for a plan"),
        }
    }
}
