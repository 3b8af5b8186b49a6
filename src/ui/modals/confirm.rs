//! "Are you sure?" for actions the registry marks `confirm`.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::super::ctx::Ctx;
use super::super::widgets::field::TextField;
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
    /// For what is hardest to undo (a namespace, anything cluster-scoped): the name that
    /// must be typed, and what has been typed. `y` is then just a letter.
    pub typed: Option<(String, TextField)>,
}

impl Confirm {
    pub fn new(title: &str, body: Vec<String>, pending: Pending) -> Confirm {
        Confirm {
            title: title.to_string(),
            body,
            pending,
            typed: None,
        }
    }

    /// Asks for `name` typed before acting.
    pub fn typing(mut self, name: &str) -> Confirm {
        self.typed = Some((name.to_owned(), TextField::new("")));
        self
    }

    /// Whether what was typed is the name asked for.
    pub fn typed_right(&self) -> bool {
        self.typed
            .as_ref()
            .is_none_or(|(want, got)| got.value() == want)
    }

    pub fn render(&self, f: &mut Frame, area: Rect, ctx: &Ctx<'_>) {
        let s = &ctx.theme.s;
        let width = (area.width * 60 / 100).max(50).min(area.width);
        let wrapped: usize = self
            .body
            .iter()
            .map(|l| super::super::format::wrap(l, width.saturating_sub(2) as usize).len())
            .sum();
        let typing = usize::from(self.typed.is_some()) * 2;
        let height = ((wrapped + typing) as u16 + 4).min(area.height);
        let outer = super::centered(area, 0, 0, width, height);
        let inner = super::frame(
            f,
            outer,
            Line::styled(format!(" {} ", self.title), s.title),
            ctx.theme,
        );
        let mut lines: Vec<Line> = self.body.iter().map(|l| Line::raw(l.clone())).collect();
        lines.push(Line::raw(""));
        if let Some((want, got)) = &self.typed {
            lines.push(Line::from(vec![
                Span::styled("Type ", s.hint),
                Span::styled(want.clone(), s.key),
                Span::styled(" and Enter to go on; Esc to keep it", s.hint),
            ]));
            let rows = |text: &str| {
                super::super::format::wrap(text, inner.width as usize)
                    .len()
                    .max(1)
            };
            let ask = format!("Type {want} and Enter to go on; Esc to keep it");
            let used = (self.body.iter().map(|l| rows(l)).sum::<usize>() + 1 + rows(&ask)) as u16;
            f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
            let field = Rect {
                y: inner.y + used.min(inner.height.saturating_sub(1)),
                height: 1,
                ..inner
            };
            got.render(f, field, s.input, Some(s.selection));
            return;
        }
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
