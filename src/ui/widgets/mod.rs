//! Drawing pieces the panes share.

pub mod chart;
pub mod field;
pub mod search;
pub mod table;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::theme::Theme;
use table::{Align, put_line};

/// Draws `lines` top-down in `area`. When they do not all fit, the last row shows as much
/// of its line as leaves room for a note of how many lines are left out and where to see
/// them (`+3 more · Enter shows all`): a cut is never silent. Returns the rows used.
pub fn put_lines(
    buf: &mut Buffer,
    area: Rect,
    lines: &[Line<'_>],
    hint: &str,
    theme: &Theme,
) -> u16 {
    let rows = area.height as usize;
    if rows == 0 || lines.is_empty() {
        return 0;
    }
    let shown = lines.len().min(rows);
    for (i, line) in lines.iter().take(shown).enumerate() {
        put_line(
            buf,
            area.x,
            area.y + i as u16,
            area.width,
            line,
            Align::Left,
        );
    }
    let hidden = lines.len() - shown;
    if hidden > 0 {
        let note = more_line(hidden, hint, theme);
        let note_w = note.width() as u16 + 1;
        let y = area.y + shown as u16 - 1;
        let room = area.width.saturating_sub(note_w);
        // The last line, cut short (with `…`), then the note at the right.
        buf.set_stringn(
            area.x,
            y,
            " ".repeat(area.width as usize),
            area.width as usize,
            theme.s.text,
        );
        let mut last = lines[shown - 1].clone();
        if last.width() > room as usize {
            last.spans
                .push(ratatui::text::Span::raw(" ".repeat(area.width as usize)));
        }
        put_line(buf, area.x, y, room, &last, Align::Left);
        put_line(
            buf,
            area.x + room,
            y,
            area.width - room,
            &note,
            Align::Right,
        );
    }
    shown as u16
}

/// ` +3 more · Enter shows all`.
pub fn more_line(more: usize, hint: &str, theme: &Theme) -> Line<'static> {
    let mut text = format!(" +{more} more");
    if !hint.is_empty() {
        text.push_str(" · ");
        text.push_str(hint);
    }
    Line::from(Span::styled(text, theme.s.muted))
}

/// Splits `height` lines among stacked sections given as (minimum, wanted): every
/// section gets its minimum first (in order, while lines last), then its wanted height
/// in order, and section `rest` takes whatever is left.
pub fn share(height: u16, sections: &[(u16, u16)], rest: usize) -> Vec<u16> {
    let mut out = vec![0u16; sections.len()];
    let mut left = height;
    for (i, (min, _)) in sections.iter().enumerate() {
        let give = (*min).min(left);
        out[i] = give;
        left -= give;
    }
    for (i, (_, want)) in sections.iter().enumerate() {
        let give = want.saturating_sub(out[i]).min(left);
        out[i] += give;
        left -= give;
    }
    if let Some(r) = out.get_mut(rest) {
        *r += left;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(buf: &Buffer, y: u16) -> String {
        (0..buf.area.width)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect::<String>()
            .trim_end()
            .to_string()
    }

    #[test]
    fn lines_that_do_not_fit_say_how_many_are_left_out() {
        let theme = Theme::built_in("dark").expect("a built-in theme");
        let lines: Vec<Line> = (1..=5)
            .map(|i| Line::raw(format!("line {i} with some words")))
            .collect();
        let area = Rect::new(0, 0, 40, 3);
        let mut buf = Buffer::empty(area);
        assert_eq!(
            put_lines(&mut buf, area, &lines, "Enter shows all", &theme),
            3
        );
        assert_eq!(text(&buf, 1), "line 2 with some words");
        assert_eq!(text(&buf, 2), "line 3 with …  +2 more · Enter shows all");
        let area = Rect::new(0, 0, 40, 5);
        let mut buf = Buffer::empty(area);
        assert_eq!(put_lines(&mut buf, area, &lines, "x", &theme), 5);
        assert_eq!(text(&buf, 4), "line 5 with some words", "all fit: no note");
    }

    #[test]
    fn sections_get_minimums_then_wants_then_the_rest() {
        assert_eq!(
            super::share(20, &[(3, 12), (2, 6), (2, 4)], 2),
            vec![12, 6, 2]
        );
        assert_eq!(
            super::share(30, &[(3, 12), (2, 6), (2, 4)], 2),
            vec![12, 6, 12]
        );
        assert_eq!(
            super::share(6, &[(3, 12), (2, 6), (2, 4)], 0),
            vec![3, 2, 1]
        );
    }
}
