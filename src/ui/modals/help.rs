//! Help, generated from the action registry: every key with what it does, how
//! dangerous it is, the permission it needs, and whether it is available here and now.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use std::collections::HashMap;

use super::super::command;
use super::super::ctx::Ctx;
use super::super::keymap::{self, ActionSpec, Context, Danger, REGISTRY};
use super::Scroll;

#[derive(Debug, Default)]
pub struct HelpModal {
    pub scroll: Scroll,
}

/// What help shows about where the user is, worked out by the state machine: the
/// sections, what applies here first, and per action whether it is on here and now.
#[derive(Debug, Clone, Default)]
pub struct HelpView {
    pub sections: Vec<Context>,
    /// By registry id: the "here" column's text, and whether the action is off.
    pub status: HashMap<&'static str, (String, bool)>,
    pub read_only: bool,
}

impl HelpView {
    fn status(&self, spec: &ActionSpec) -> (String, bool) {
        self.status.get(spec.id).cloned().unwrap_or_default()
    }

    /// The registry ids shown as off.
    pub fn off_ids(&self) -> Vec<&'static str> {
        keymap::REGISTRY
            .iter()
            .filter(|s| self.status(s).1)
            .map(|s| s.id)
            .collect()
    }
}

/// One section per context: its title, then one line per action.
/// `compact` (a narrow terminal) leaves out the permission column, so that what matters
/// here and now (the last column) still fits.
fn section_lines(
    view: &HelpView,
    ctx_: Context,
    compact: bool,
    ctx: &Ctx<'_>,
) -> Vec<Line<'static>> {
    let s = &ctx.theme.s;
    let specs: Vec<&ActionSpec> = REGISTRY.iter().filter(|sp| sp.context == ctx_).collect();
    if specs.is_empty() {
        return Vec::new();
    }
    let mut lines = vec![Line::styled(ctx_.title().to_string(), s.title)];
    for spec in specs {
        let (status, off) = view.status(spec);
        let label = if spec.confirm {
            format!("{} (asks first)", spec.label)
        } else {
            spec.label.to_string()
        };

        let danger = match spec.danger {
            Danger::Safe => Span::raw(format!("{:<8}", "")),
            d => Span::styled(
                format!("{:<8}", d.label()),
                if off { s.disabled } else { s.danger },
            ),
        };
        let rbac = spec.rbac.map(|r| r.describe()).unwrap_or_default();
        let label_w = if compact { 30 } else { 36 };
        let label = super::super::format::truncate(&label, label_w - 1).into_owned();
        let mut spans = vec![
            Span::styled(
                format!("  {:<14}", spec.keys_label()),
                if off { s.disabled } else { s.key },
            ),
            Span::styled(
                format!("{label:<label_w$}"),
                if off { s.disabled } else { s.text },
            ),
            danger,
        ];
        if !compact {
            spans.push(Span::styled(format!("{rbac:<14}"), s.muted));
        }
        if !status.is_empty() {
            spans.push(Span::styled(status, if off { s.error } else { s.muted }));
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::raw(""));
    lines
}

fn reference_lines(ctx: &Ctx<'_>) -> Vec<Line<'static>> {
    let s = &ctx.theme.s;
    let mut lines = vec![Line::styled(
        "Commands (type : then Tab completes)",
        s.title,
    )];
    for (name, what) in command::summary() {
        lines.push(Line::from(vec![
            Span::styled(format!("  :{name:<13}"), s.key),
            Span::raw(what),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "Keys that differ from k9s (k9s's key does something else here)",
        s.title,
    ));
    for spec in keymap::REGISTRY.iter() {
        if let Some(k9s) = spec.k9s {
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<14}", spec.keys_label()), s.key),
                Span::raw(format!("{:<34}", spec.label)),
                Span::styled(format!("k9s: {k9s}"), s.muted),
            ]));
        }
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled("Filters (/)", s.title));
    for (ex, what) in [
        ("pay", "text in namespace, name, node or status"),
        ("~^pay.*-7f", "a regex (or /regex/); lowercase ignores case"),
        ("app=web", "a label; -l app=web,tier!=db also works"),
        ("pay crash", "all terms must match"),
    ] {
        lines.push(Line::from(vec![
            Span::styled(format!("  {ex:<14}"), s.key),
            Span::raw(what),
        ]));
    }
    lines
}

/// Pads a line with spaces to `width` cells so another can follow it.
fn pad(mut line: Line<'static>, width: usize) -> Line<'static> {
    let w = line.width();
    if w > width {
        // Too long for its column: cut it (plainly; this is rare).
        let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
        return Line::raw(super::super::format::cut(&text, width));
    }
    line.spans.push(Span::raw(" ".repeat(width - w)));
    line
}

impl HelpModal {
    pub fn render(&self, f: &mut Frame, area: Rect, view: &HelpView, ctx: &Ctx<'_>) {
        let s = &ctx.theme.s;
        let outer = super::large(area, 92, 92);
        let title = Line::from(vec![
            Span::styled(" Help ", s.title),
            Span::styled("— every key from the action registry; Esc closes ", s.muted),
        ]);
        let inner = super::frame(f, outer, title, ctx.theme);
        let compact = inner.width < 100;
        let mut sections: Vec<Vec<Line>> = view
            .sections
            .iter()
            .map(|c| section_lines(view, *c, compact, ctx))
            .filter(|l| !l.is_empty())
            .collect();
        sections.push(reference_lines(ctx));
        let mut lines: Vec<Line> = Vec::new();
        if view.read_only {
            lines.push(Line::styled(
                "Read-only mode: actions marked caution or danger are off.",
                s.warning,
            ));
            lines.push(Line::raw(""));
        }
        let header = if compact {
            format!("  {:<14}{:<30}{:<8}{}", "KEY", "ACTION", "LEVEL", "HERE")
        } else {
            format!(
                "  {:<14}{:<36}{:<8}{:<14}{}",
                "KEY", "ACTION", "LEVEL", "NEEDS", "HERE"
            )
        };
        let header = Line::styled(header, s.header);
        // Two columns when there is room for two full ones, so that more fits at once.
        let col_w = (inner.width as usize).saturating_sub(2) / 2;
        if col_w >= 90 {
            let total: usize = sections.iter().map(Vec::len).sum();
            let (mut left, mut right): (Vec<Line>, Vec<Line>) =
                (vec![header.clone()], vec![header]);
            for sec in sections {
                if left.len() < total / 2 {
                    left.extend(sec);
                } else {
                    right.extend(sec);
                }
            }
            let rows = left.len().max(right.len());
            left.resize(rows, Line::raw(""));
            right.resize(rows, Line::raw(""));
            for (l, r) in left.into_iter().zip(right) {
                let mut line = pad(l, col_w + 2);
                line.spans.extend(r.spans);
                lines.push(line);
            }
        } else {
            lines.push(header);
            lines.extend(sections.into_iter().flatten());
        }
        let skip = self.scroll.fit(lines.len(), inner.height as usize);
        let shown: Vec<Line> = lines.into_iter().skip(skip).collect();
        f.render_widget(Paragraph::new(shown), inner);
    }
}
