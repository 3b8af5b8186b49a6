//! Overlays drawn over the pane: help, pod and alert details, any row's details, the
//! silence form and confirmations. Each keeps its own state; the app keeps them on a stack.

pub mod alert;
pub mod confirm;
pub mod details;
pub mod editor;
pub mod help;
pub mod pod;
pub mod run;
pub mod silence;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Clear};
use std::cell::Cell;

use super::keymap::Action;
use super::theme::Theme;

/// What every form does the same way with its fields.
pub trait Form {
    fn focus_next(&mut self);
    fn focus_prev(&mut self);
    /// A key for the focused field.
    fn input(&mut self, ev: crossterm::event::KeyEvent);
}

/// A scroll position in text whose length is known only when it is drawn. Keys move it;
/// drawing (from a shared view) clamps it and records the page, hence the cells.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scroll {
    offset: Cell<usize>,
    /// The largest useful offset at the last frame.
    max: Cell<usize>,
    page: Cell<usize>,
}

impl Scroll {
    pub fn apply(&mut self, action: Action) -> bool {
        let (offset, max, page) = (self.offset(), self.max.get(), self.page.get().max(1));
        let next = match action {
            Action::Up => offset.saturating_sub(1),
            Action::Down => (offset + 1).min(max),
            Action::PageUp => offset.saturating_sub(page),
            Action::PageDown => (offset + page).min(max),
            Action::Top => 0,
            Action::Bottom => max,
            _ => return false,
        };
        self.offset.set(next);
        true
    }

    pub fn offset(&self) -> usize {
        self.offset.get()
    }

    pub fn set_offset(&self, offset: usize) {
        self.offset.set(offset);
    }

    /// Records the frame's geometry and returns the lines to skip.
    pub fn fit(&self, lines: usize, height: usize) -> usize {
        self.page.set(height);
        self.max.set(lines.saturating_sub(height));
        self.offset.set(self.offset().min(self.max.get()));
        self.offset()
    }
}

/// A centred area of `pct_w` x `pct_h` percent of `area`, at least `min_w` x `min_h`.
pub fn centered(area: Rect, pct_w: u16, pct_h: u16, min_w: u16, min_h: u16) -> Rect {
    let w = (area.width * pct_w / 100).max(min_w).min(area.width);
    let h = (area.height * pct_h / 100).max(min_h).min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// The area of a large overlay: most of `area`, or all of it on a small terminal,
/// where a margin would only show slivers of the pane beneath.
pub fn large(area: Rect, pct_w: u16, pct_h: u16) -> Rect {
    let w = if area.width < 120 {
        area.width
    } else {
        area.width * pct_w / 100
    };
    let h = if area.height < 40 {
        area.height
    } else {
        area.height * pct_h / 100
    };
    centered(area, 0, 0, w, h)
}

/// Clears `area` and draws the overlay's frame; returns the inside.
pub fn frame(f: &mut Frame, area: Rect, title: Line<'_>, theme: &Theme) -> Rect {
    f.render_widget(Clear, area);
    // Cleared to the theme's base, not the terminal's: a light theme stays light.
    if theme.s.text.bg.is_some() {
        f.buffer_mut().set_style(area, theme.s.text);
    }
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(theme.s.modal_border)
        .title(title);
    let inner = block.inner(area);
    f.render_widget(block, area);
    inner
}
