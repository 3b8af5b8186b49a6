//! A one-line text field, edited as a shell line is: the `/` filter, the `:` line and
//! every form field use this one, so a key behaves the same in all of them.
//!
//! ratatui-textarea does the editing (undo-free, one line); the keys are mapped here to a
//! shell's (readline's emacs mode), because on-call engineers type into a console with
//! their shell's habits: Backspace, Delete, Ctrl-W, Ctrl-U, Ctrl-K, Home/End, the arrows.
//! Drawing is done here too, from `&self`, so the console draws from a shared view.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui_textarea::{CursorMove, TextArea};

/// What a key did to a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edited {
    /// The value changed.
    Changed,
    /// Only the cursor moved (or a deletion at an edge found nothing to delete).
    Moved,
    /// Not a key of the line: the caller gives it its own meaning.
    Ignored,
}

#[derive(Debug, Clone)]
pub struct TextField {
    text: TextArea<'static>,
}

impl Default for TextField {
    fn default() -> Self {
        TextField::new("")
    }
}

impl TextField {
    /// A field holding `text`, with the cursor at its end.
    pub fn new(text: &str) -> TextField {
        let mut area = TextArea::new(vec![text.to_string()]);
        area.move_cursor(CursorMove::End);
        TextField { text: area }
    }

    pub fn value(&self) -> &str {
        self.text.lines().first().map(String::as_str).unwrap_or("")
    }

    /// The cursor, in characters from the start.
    pub fn cursor(&self) -> usize {
        self.text.cursor().1
    }

    /// Inserts `text` at the cursor (a paste): its first line only, since the field has
    /// one. Returns whether the value changed.
    pub fn insert_str(&mut self, text: &str) -> bool {
        let line = text.lines().next().unwrap_or("");
        self.text.insert_str(line)
    }

    /// Edits the line with `key` as a shell would, and says what that did; keys that are
    /// not the line's (Enter, Tab, Esc, Ctrl-S) are left to the caller.
    pub fn edit(&mut self, key: KeyEvent) -> Edited {
        let before = self.value().to_string();
        if !self.apply(key) {
            return Edited::Ignored;
        }
        if self.value() == before {
            Edited::Moved
        } else {
            Edited::Changed
        }
    }

    fn apply(&mut self, key: KeyEvent) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        let t = &mut self.text;
        match key.code {
            KeyCode::Backspace if alt || ctrl => {
                t.delete_word();
            }
            KeyCode::Backspace => {
                t.delete_char();
            }
            KeyCode::Delete => {
                t.delete_next_char();
            }
            KeyCode::Left if ctrl || alt => t.move_cursor(CursorMove::WordBack),
            KeyCode::Right if ctrl || alt => t.move_cursor(CursorMove::WordForward),
            KeyCode::Left => t.move_cursor(CursorMove::Back),
            KeyCode::Right => t.move_cursor(CursorMove::Forward),
            KeyCode::Home => t.move_cursor(CursorMove::Head),
            KeyCode::End => t.move_cursor(CursorMove::End),
            KeyCode::Char(c) if ctrl => match c {
                // Some terminals send Ctrl-H for Backspace (stty erase ^H).
                'h' => {
                    t.delete_char();
                }
                'w' => {
                    t.delete_word();
                }
                'u' => {
                    t.delete_line_by_head();
                }
                'k' => {
                    t.delete_line_by_end();
                }
                'd' => {
                    t.delete_next_char();
                }
                'a' => t.move_cursor(CursorMove::Head),
                'e' => t.move_cursor(CursorMove::End),
                'b' => t.move_cursor(CursorMove::Back),
                'f' => t.move_cursor(CursorMove::Forward),
                _ => return false,
            },
            KeyCode::Char(c) if alt => match c {
                'b' => t.move_cursor(CursorMove::WordBack),
                'f' => t.move_cursor(CursorMove::WordForward),
                'd' => {
                    t.delete_next_word();
                }
                _ => return false,
            },
            KeyCode::Char(c) => t.insert_char(c),
            _ => return false,
        }
        true
    }

    /// Draws the field in `area` (one line): the text in `style`, and the cursor cell in
    /// `cursor` when the field has the focus. A value wider than the area scrolls so that
    /// the cursor stays in view.
    pub fn render(&self, f: &mut Frame, area: Rect, style: Style, cursor: Option<Style>) {
        let width = area.width as usize;
        if width == 0 || area.height == 0 {
            return;
        }
        let chars: Vec<char> = self.value().chars().collect();
        let at = self.cursor().min(chars.len());
        let start = window_start(&chars, at, width);
        let shown = |from: usize, to: usize| -> String {
            chars[from.min(chars.len())..to.min(chars.len())]
                .iter()
                .collect()
        };
        let spans = match cursor {
            Some(cursor_style) => {
                let under = chars.get(at).map_or(" ".to_string(), char::to_string);
                vec![
                    Span::styled(shown(start, at), style),
                    Span::styled(under, cursor_style),
                    Span::styled(shown(at + 1, chars.len()), style),
                ]
            }
            None => vec![Span::styled(shown(start, chars.len()), style)],
        };
        // The paragraph clips what does not fit at the right edge.
        f.render_widget(
            ratatui::widgets::Paragraph::new(Line::from(spans)).style(style),
            Rect { height: 1, ..area },
        );
    }
}

/// The first character to show in `width` cells: from the start while the cursor fits
/// there; otherwise as much of the end of the text as fits, as long as the cursor (one
/// past the end at most) stays in view. Measured in cells: a wide character takes two.
fn window_start(chars: &[char], at: usize, width: usize) -> usize {
    let cells = |c: &char| unicode_width::UnicodeWidthChar::width(*c).unwrap_or(0);
    let cursor_cell = chars.get(at).map_or(1, |c| cells(c).max(1));
    let before: usize = chars[..at].iter().map(cells).sum();
    if before + cursor_cell <= width {
        return 0;
    }
    // The end of the text in view (with a cell for a cursor past it)...
    let mut rest = chars.iter().map(cells).sum::<usize>() + usize::from(at >= chars.len());
    let mut start = 0;
    while rest > width && start < at {
        rest -= cells(&chars[start]);
        start += 1;
    }
    // ...unless that leaves the cursor out of it.
    let mut upto = chars[start..at].iter().map(cells).sum::<usize>() + cursor_cell;
    while upto > width && start < at {
        upto -= cells(&chars[start]);
        start += 1;
    }
    start
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn ctrl(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
    }

    fn typed(text: &str) -> TextField {
        let mut field = TextField::default();
        for c in text.chars() {
            field.edit(key(KeyCode::Char(c)));
        }
        field
    }

    #[test]
    fn backspace_and_delete_remove_one_character() {
        let mut f = typed("2hx");
        assert_eq!(f.edit(key(KeyCode::Backspace)), Edited::Changed);
        assert_eq!(f.value(), "2h");
        f.edit(ctrl('h'));
        assert_eq!(f.value(), "2");
        let mut f = typed("abc");
        f.edit(key(KeyCode::Home));
        f.edit(key(KeyCode::Delete));
        assert_eq!(f.value(), "bc");
    }

    #[test]
    fn shell_line_keys_edit_words_and_ends() {
        let mut f = typed("scale acme wc");
        f.edit(ctrl('w'));
        assert_eq!(f.value(), "scale acme ");
        assert_eq!(f.edit(key(KeyCode::Left)), Edited::Moved);
        f.edit(key(KeyCode::Left));
        f.edit(ctrl('k'));
        assert_eq!(f.value(), "scale acm");
        f.edit(key(KeyCode::End));
        f.edit(key(KeyCode::Char('e')));
        assert_eq!(f.value(), "scale acme");
        f.edit(ctrl('a'));
        f.edit(key(KeyCode::Char('x')));
        assert_eq!((f.value(), f.cursor()), ("xscale acme", 1));
        f.edit(key(KeyCode::End));
        f.edit(ctrl('u'));
        assert_eq!(f.value(), "");
    }

    #[test]
    fn other_keys_are_left_to_the_caller() {
        let mut f = typed("x");
        for k in [
            key(KeyCode::Enter),
            key(KeyCode::Tab),
            key(KeyCode::Esc),
            ctrl('s'),
        ] {
            assert_eq!(f.edit(k), Edited::Ignored, "{k:?}");
        }
        assert_eq!(f.value(), "x");
    }

    #[test]
    fn the_window_keeps_the_cursor_in_view_and_shows_what_fits() {
        let text: Vec<char> = "abcdefghijkl".chars().collect();
        // At the end: the tail, with a cell for the cursor.
        assert_eq!(window_start(&text, 12, 8), 5);
        // While the cursor fits from the start, nothing scrolls.
        assert_eq!(window_start(&text, 6, 8), 0);
        // Past that, the end of the text shows, with the cursor in view.
        let long: Vec<char> = "a".repeat(60).chars().collect();
        let start = window_start(&long, 45, 40);
        assert!(start <= 45 && 45 - start < 40, "the cursor is in view");
        assert_eq!(start, 20, "the text after the cursor shows, to its end");
        assert_eq!(window_start(&text, 1, 8), 0);
        // Short text starts at the beginning.
        assert_eq!(window_start(&['a', 'b'], 2, 8), 0);
        // Wide characters take two cells each.
        let wide: Vec<char> = "日本語テキスト".chars().collect();
        let start = window_start(&wide, 7, 8);
        let cells: usize = wide[start..].iter().map(|_| 2).sum::<usize>() + 1;
        assert!(cells <= 8, "start {start} leaves {cells} cells");
    }

    #[test]
    fn a_long_value_scrolls_to_keep_the_cursor_in_view() {
        let backend = ratatui::backend::TestBackend::new(8, 1);
        let mut term = ratatui::Terminal::new(backend).unwrap();
        let f = typed("abcdefghijkl");
        term.draw(|fr| f.render(fr, fr.area(), Style::default(), Some(Style::default())))
            .unwrap();
        assert_eq!(format!("{}", term.backend()), "\"fghijkl \"\n");
        let f = typed("abc");
        term.draw(|fr| f.render(fr, fr.area(), Style::default(), None))
            .unwrap();
        assert_eq!(format!("{}", term.backend()), "\"abc     \"\n");
    }
}
