//! "Are you sure?" for actions the registry marks `confirm`.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::super::ctx::Ctx;
use crate::config::ClusterRole;

/// What runs on yes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    ExpireSilence {
        env: String,
        role: ClusterRole,
        id: String,
    },
    CancelRun(String),
    ResumeRun(String),
    /// Quit although runs of this console are in progress (they are stopped first).
    Quit,
    /// A small action through the engine's gate.
    Act {
        op: crate::engine::ops::Op,
        objects: Vec<crate::engine::ops::ObjectRef>,
    },
}

#[derive(Debug)]
pub struct Confirm {
    pub title: String,
    pub body: Vec<String>,
    pub pending: Pending,
}

impl Confirm {
    pub fn new(title: &str, body: Vec<String>, pending: Pending) -> Confirm {
        Confirm {
            title: title.to_string(),
            body,
            pending,
        }
    }

    pub fn render(&self, f: &mut Frame, area: Rect, ctx: &Ctx<'_>) {
        let s = &ctx.theme.s;
        let width = (area.width * 60 / 100).max(50).min(area.width);
        let wrapped: usize = self
            .body
            .iter()
            .map(|l| super::super::format::wrap(l, width.saturating_sub(2) as usize).len())
            .sum();
        let height = (wrapped as u16 + 4).min(area.height);
        let outer = super::centered(area, 0, 0, width, height);
        let inner = super::frame(
            f,
            outer,
            Line::styled(format!(" {} ", self.title), s.title),
            ctx.theme,
        );
        let mut lines: Vec<Line> = self.body.iter().map(|l| Line::raw(l.clone())).collect();
        lines.push(Line::raw(""));
        lines.push(Line::from(vec![
            Span::styled("y", s.key),
            Span::styled(" yes   ", s.hint),
            Span::styled("n", s.key),
            Span::styled("/", s.hint),
            Span::styled("Esc", s.key),
            Span::styled(" no", s.hint),
        ]));
        f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
    }
}
