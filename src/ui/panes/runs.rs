//! Runs and audit. The workflow engine is not part of this version, so there are no
//! runs to show, cancel or resume, and no audit records; the pane says so plainly
//! rather than showing anything that looks like data.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::super::render::Ctx;

pub fn render(f: &mut Frame, area: Rect, ctx: &Ctx<'_>) {
    let s = &ctx.theme.s;
    let lines = vec![
        Line::styled(
            "No workflow runs yet — the workflow engine is not part of this version.",
            s.title,
        ),
        Line::raw(""),
        Line::styled(
            "When it is, this pane lists each run (provision, scale, upgrade, drain, backup, restore) \
             with its progress and step log, lets you cancel or resume it, and shows the audit history \
             of every change made through the console.",
            s.muted,
        ),
        Line::raw(""),
        Line::from(vec![
            Span::styled("Audit history: ", s.muted),
            Span::raw("no records — nothing has been changed through the console's engine."),
        ]),
        Line::from(vec![
            Span::styled("Silences ", s.muted),
            Span::raw(
                "created or expired from the Alerts pane go straight to Alertmanager, which records their author and comment.",
            ),
        ]),
    ];
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), area);
}
