//! A row shown whole: Enter on a node, backup, SLO target, run, audit record or silence
//! opens its every field, with nothing cut. The pane builds the lines from its current
//! data each frame (so they stay live); this overlay scrolls them, wraps them (`w`),
//! searches them (`/`, `n`/`N`), and says on its border what is above and below the view.

use std::cell::Cell;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::super::ctx::Ctx;
use super::super::format;
use super::super::nav::Pane;
use super::super::widgets::search::Search;
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
    /// What `/` searches for. The lines are only known when drawn, so `n`/`N` are
    /// carried out there.
    pub search: Search,
    /// The line `n`/`N` went to last.
    found: Cell<Option<usize>>,
    /// `n` (true) or `N` asked for and not yet carried out.
    seek: Cell<Option<bool>>,
}

impl DetailsModal {
    pub fn new(pane: Pane, key: String) -> DetailsModal {
        DetailsModal {
            pane,
            key,
            scroll: Scroll::default(),
            wrap: true,
            fresh: Cell::new(true),
            search: Search::default(),
            found: Cell::new(None),
            seek: Cell::new(None),
        }
    }

    /// Searches for `text` from now on (empty: no search).
    pub fn set_search(&mut self, text: &str) {
        self.search.set(text);
        self.found.set(None);
    }

    /// `n` (forward) or `N`: goes to the next line holding the search text at the next
    /// frame; false when nothing is searched for.
    pub fn seek(&self, forward: bool) -> bool {
        self.seek.set(Some(forward));
        self.search.is_active()
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
        let text = Text::layout(d.lines, inner.width as usize, self.wrap);
        let mut notes = Vec::new();
        let lines = self.searched(text, &mut notes, ctx);
        let (above, below) = lines.draw(f, inner, &self.scroll);
        // The border's bottom row: what is out of view, and the keys that change it.
        if above > 0 {
            notes.insert(0, format!("↑ {above}"));
        }
        if below > 0 {
            notes.insert(usize::from(above > 0), format!("↓ {below} more"));
        }
        notes.push(format!("w wrap {}", if self.wrap { "on" } else { "off" }));
        if let Some(enter) = d.enter {
            notes.push(format!("Enter {enter}"));
        }
        put_border_notes(f, area, notes, ctx);
    }

    /// `text` with the search's matches marked and the line `n`/`N` asked for brought
    /// to the top of the view; what was found goes into `notes`.
    fn searched(&self, mut text: Text, notes: &mut Vec<String>, ctx: &Ctx<'_>) -> Text {
        let Some(what) = self.search.text() else {
            self.seek.set(None);
            return text;
        };
        let hits: Vec<bool> = text
            .lines
            .iter()
            .map(|l| self.search.line_matches(l))
            .collect();
        if let Some(forward) = self.seek.take() {
            let top = text.line_at_row(self.scroll.offset());
            let found = Search::next(hits.len(), self.found.get(), top, forward, |i| hits[i]);
            self.found.set(found);
            if let Some(i) = found {
                self.scroll.set_offset(text.starts[i]);
            }
        }
        let count = hits.iter().filter(|h| **h).count();
        notes.push(match count {
            0 => format!("/{what}: no line holds it"),
            1 => format!("/{what}: 1 line"),
            n => format!("/{what}: {n} lines · n/N"),
        });
        let found = self.found.get();
        text.mark(|i, line| {
            let line = self.search.highlight(line);
            if found == Some(i) {
                line.patch_style(ctx.theme.s.selection)
            } else {
                line
            }
        });
        text
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

/// Lines as drawn: wrapped to the width or not, and where each line starts.
pub struct Text {
    lines: Vec<Line<'static>>,
    /// Per line, its rows when drawn.
    rows: Vec<Vec<Line<'static>>>,
    /// Per line, the row it starts on.
    starts: Vec<usize>,
}

impl Text {
    /// `lines` drawn `width` wide: wrapped under their label or indentation, or cut.
    pub fn layout(lines: Vec<Line<'static>>, width: usize, wrap: bool) -> Text {
        let mut text = Text {
            lines,
            rows: Vec::new(),
            starts: Vec::new(),
        };
        text.wrap(width, wrap);
        text
    }

    fn wrap(&mut self, width: usize, wrap: bool) {
        self.rows = self
            .lines
            .iter()
            .map(|l| {
                if wrap {
                    // Narrow screens: a deep label column would leave no room for values.
                    let indent = hanging_indent(l).min(width / 3);
                    format::wrap_line(l.clone(), width, indent)
                } else {
                    vec![l.clone()]
                }
            })
            .collect();
        let mut at = 0;
        self.starts = self
            .rows
            .iter()
            .map(|r| {
                let start = at;
                at += r.len();
                start
            })
            .collect();
    }

    /// Changes each line's rows (`f` gets the line's index and a row); the rows stay
    /// where they are.
    fn mark(&mut self, f: impl Fn(usize, Line<'static>) -> Line<'static>) {
        for (i, rows) in self.rows.iter_mut().enumerate() {
            *rows = std::mem::take(rows).into_iter().map(|r| f(i, r)).collect();
        }
    }

    /// The line drawn on `row`.
    fn line_at_row(&self, row: usize) -> usize {
        self.starts.partition_point(|&s| s <= row).saturating_sub(1)
    }

    /// Draws the rows in `area` from the scroll position; returns how many rows are
    /// above and below the view.
    pub fn draw(self, f: &mut Frame, area: Rect, scroll: &Scroll) -> (usize, usize) {
        let rows: Vec<Line<'static>> = self.rows.into_iter().flatten().collect();
        let height = area.height as usize;
        let skip = scroll.fit(rows.len(), height);
        for (i, line) in rows.iter().skip(skip).take(height).enumerate() {
            put_line(
                f.buffer_mut(),
                area.x,
                area.y + i as u16,
                area.width,
                line,
                Align::Left,
            );
        }
        (skip, rows.len().saturating_sub(skip + height))
    }
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
