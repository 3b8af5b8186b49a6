//! A row shown whole: Enter on a node, backup, SLO target, run, audit record or silence
//! opens its every field, with nothing cut. The pane builds the lines from its current
//! data each frame (so they stay live); this overlay scrolls them, wraps them (`w`), and
//! says on its border what is above and below the view.

use std::cell::Cell;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::super::ctx::Ctx;
use super::super::format;
use super::super::nav::Pane;
use super::super::widgets::table::{Align, put_line};
use super::Scroll;

/// What a pane shows for one of its rows.
#[derive(Debug, Clone, Default)]
pub struct Details {
    pub title: String,
    pub lines: Vec<Line<'static>>,
    /// Open at the end: for a run's log, the newest lines matter most.
    pub from_end: bool,
    /// What Enter does from here (`pods on this node`), if anything.
    pub enter: Option<&'static str>,
}

impl Details {
    pub fn new(title: impl Into<String>) -> Details {
        Details {
            title: title.into(),
            ..Details::default()
        }
    }

    /// `Label           value`, the value wrapped under itself when long.
    pub fn field(&mut self, label: &str, value: impl Into<String>, ctx: &Ctx<'_>) {
        self.styled_field(label, value, ctx.theme.s.text, ctx);
    }

    pub fn styled_field(
        &mut self,
        label: &str,
        value: impl Into<String>,
        style: ratatui::style::Style,
        ctx: &Ctx<'_>,
    ) {
        self.lines.push(Line::from(vec![
            Span::styled(format!("{label:<LABEL$} "), ctx.theme.s.muted),
            Span::styled(value.into(), style),
        ]));
    }

    /// A blank line and a heading.
    pub fn section(&mut self, title: &str, ctx: &Ctx<'_>) {
        if !self.lines.is_empty() {
            self.lines.push(Line::raw(""));
        }
        self.lines
            .push(Line::styled(title.to_owned(), ctx.theme.s.title));
    }

    pub fn line(&mut self, line: Line<'static>) {
        self.lines.push(line);
    }
}

/// The width of a field's label column.
const LABEL: usize = 15;

/// The overlay: which pane's row, its scroll position and whether long lines wrap.
#[derive(Debug)]
pub struct DetailsModal {
    pub pane: Pane,
    /// The row, as the pane names it: it survives re-sorting and new rows.
    pub key: String,
    pub scroll: Scroll,
    pub wrap: bool,
    /// Until the first frame: a `from_end` view then starts at its end.
    fresh: Cell<bool>,
}

impl DetailsModal {
    pub fn new(pane: Pane, key: String) -> DetailsModal {
        DetailsModal {
            pane,
            key,
            scroll: Scroll::default(),
            wrap: true,
            fresh: Cell::new(true),
        }
    }

    /// Draws `details`, or says the row is gone when the pane no longer has it.
    pub fn render(&self, f: &mut Frame, area: Rect, details: Option<Details>, ctx: &Ctx<'_>) {
        let s = &ctx.theme.s;
        let area = super::large(area, 90, 90);
        let Some(d) = details else {
            let inner = super::frame(f, area, Line::styled(" Details ", s.title), ctx.theme);
            f.render_widget(
                Line::styled(
                    format!("{} is no longer listed. Esc closes.", self.key),
                    s.muted,
                ),
                inner,
            );
            return;
        };
        let title = Line::styled(format!(" {} ", d.title), s.title);
        let inner = super::frame(f, area, title, ctx.theme);
        if self.fresh.replace(false) && d.from_end {
            self.scroll.set_offset(usize::MAX);
        }
        let (above, below) = draw_text(f, inner, d.lines, &self.scroll, self.wrap);
        // The border's bottom row: what is out of view, and the keys that change it.
        let mut notes = Vec::new();
        if above > 0 {
            notes.push(format!("↑ {above}"));
        }
        if below > 0 {
            notes.push(format!("↓ {below} more"));
        }
        notes.push(format!("w wrap {}", if self.wrap { "on" } else { "off" }));
        if let Some(enter) = d.enter {
            notes.push(format!("Enter {enter}"));
        }
        put_border_notes(f, area, notes, ctx);
    }
}

/// Writes `notes` into the bottom border of `area`, right-aligned; on a narrow screen the
/// last ones give way first (what is out of view comes first and stays longest).
fn put_border_notes(f: &mut Frame, area: Rect, mut notes: Vec<String>, ctx: &Ctx<'_>) {
    if area.height < 2 {
        return;
    }
    let bottom = area.y + area.height - 1;
    loop {
        if notes.is_empty() {
            return;
        }
        let text = format!(" {} ", notes.join(" · "));
        let width = format::width(&text) as u16;
        if area.width >= width + 4 {
            let x = area.x + area.width - width - 2;
            let line = Line::styled(text, ctx.theme.s.muted);
            put_line(f.buffer_mut(), x, bottom, width, &line, Align::Left);
            return;
        }
        notes.pop();
    }
}

/// Draws `lines` in `area` from the scroll position, wrapped to its width or cut with
/// `…`; returns how many lines are above and below the view.
pub fn draw_text(
    f: &mut Frame,
    area: Rect,
    lines: Vec<Line<'static>>,
    scroll: &Scroll,
    wrap: bool,
) -> (usize, usize) {
    let width = area.width as usize;
    let lines: Vec<Line<'static>> = if wrap {
        lines
            .into_iter()
            .flat_map(|l| {
                // Narrow screens: a deep label column would leave no room for values.
                let indent = hanging_indent(&l).min(width / 3);
                format::wrap_line(l, width, indent)
            })
            .collect()
    } else {
        lines
    };
    let height = area.height as usize;
    let skip = scroll.fit(lines.len(), height);
    for (i, line) in lines.iter().skip(skip).take(height).enumerate() {
        put_line(
            f.buffer_mut(),
            area.x,
            area.y + i as u16,
            area.width,
            line,
            Align::Left,
        );
    }
    (skip, lines.len().saturating_sub(skip + height))
}

/// Where a wrapped line's continuation starts: under the value of a `Label   value`
/// field (its first span is the padded label), else under the text's own indentation.
fn hanging_indent(line: &Line<'_>) -> usize {
    match line.spans.first() {
        Some(first) if line.spans.len() > 1 && first.content.ends_with(' ') => {
            format::width(&first.content)
        }
        Some(first) => first.content.len() - first.content.trim_start_matches(' ').len(),
        None => 0,
    }
}
