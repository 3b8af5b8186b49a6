//! Help, generated from the action registry: every key with what it does, how
//! dangerous it is, the permission it needs, and whether it is available here and now.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::super::app::{App, Availability, Permission, Scope};
use super::super::command;
use super::super::keymap::{self, ActionSpec, Context, Danger, REGISTRY};
use super::super::render::Ctx;
use super::Scroll;
use crate::config::ClusterRole;

#[derive(Debug, Default)]
pub struct HelpModal {
    pub scroll: Scroll,
}

/// The order of the sections: what applies here first.
fn sections(app: &App) -> Vec<Context> {
    let mut here = app.contexts();
    here.retain(|c| !matches!(c, Context::Help | Context::Overlay));
    // Help itself covers the pane underneath it.
    if here.is_empty() || here == [Context::Navigation] {
        here = vec![
            Context::Pane(app.pane),
            Context::Navigation,
            Context::Global,
        ];
    }
    let mut all = here.clone();
    for s in REGISTRY {
        if !all.contains(&s.context) {
            all.push(s.context);
        }
    }
    all
}

/// Why an action is not available in the current environment, if it is not.
fn status(app: &App, spec: &ActionSpec) -> (String, bool) {
    match app.availability(spec, None) {
        Availability::ReadOnly => return ("off: read-only mode".into(), true),
        Availability::Unavailable(why) => return (format!("off: {why}"), true),
        _ => {}
    }
    let (Some(_), Some(env)) = (spec.rbac, app.env.as_deref()) else {
        return (String::new(), false);
    };
    let roles: &[ClusterRole] = Scope::Both.roles();
    let mut denied = Vec::new();
    let mut unknown = 0;
    for role in roles {
        match app.permissions.get(&(env.to_string(), *role, spec.id)) {
            Some(Permission::Allowed) => {}
            Some(Permission::Denied(_)) | Some(Permission::Failed(_)) => denied.push(role.as_str()),
            None => unknown += 1,
        }
    }
    if !denied.is_empty() {
        (format!("denied in {}", denied.join(", ")), true)
    } else if unknown > 0 {
        ("checking…".into(), false)
    } else {
        ("allowed".into(), false)
    }
}

/// One section per context: its title, then one line per action.
/// `compact` (a narrow terminal) leaves out the permission column, so that what matters
/// here and now (the last column) still fits.
fn section_lines(app: &App, ctx_: Context, compact: bool, ctx: &Ctx<'_>) -> Vec<Line<'static>> {
    let s = &ctx.theme.s;
    let specs: Vec<&ActionSpec> = REGISTRY.iter().filter(|sp| sp.context == ctx_).collect();
    if specs.is_empty() {
        return Vec::new();
    }
    let mut lines = vec![Line::styled(ctx_.title().to_string(), s.title)];
    for spec in specs {
        let (status, off) = status(app, spec);
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
    pub fn render(&mut self, f: &mut Frame, area: Rect, app: &App, ctx: &Ctx<'_>) {
        let s = &ctx.theme.s;
        let outer = super::large(area, 92, 92);
        let title = Line::from(vec![
            Span::styled(" Help ", s.title),
            Span::styled("— every key from the action registry; Esc closes ", s.muted),
        ]);
        let inner = super::frame(f, outer, title, ctx.theme);
        let compact = inner.width < 100;
        let mut sections: Vec<Vec<Line>> = sections(app)
            .into_iter()
            .map(|c| section_lines(app, c, compact, ctx))
            .filter(|l| !l.is_empty())
            .collect();
        sections.push(reference_lines(ctx));
        let mut lines: Vec<Line> = Vec::new();
        if app.read_only {
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

/// For tests: the registry ids whose rows help shows as off.
pub fn off_ids(app: &App) -> Vec<&'static str> {
    keymap::REGISTRY
        .iter()
        .filter(|s| status(app, s).1)
        .map(|s| s.id)
        .collect()
}
