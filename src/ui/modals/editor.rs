//! The in-app editor, for when neither `$VISUAL` nor `$EDITOR` names one: an object's YAML
//! in a multi-line text area (ratatui-textarea, with its emacs-like keys; Tab indents two
//! spaces, as YAML wants). Ctrl-S asks the server for a dry run, as saving in an editor
//! does; Esc closes it and keeps the text for the next `e` (or `:create`), so nothing
//! typed is lost.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui_textarea::TextArea;

use super::super::ctx::Ctx;
use super::super::panes::objects::Edit;

#[derive(Debug)]
pub struct EditorModal {
    /// The edit under way; its `text` is what was opened, the area holds what is typed.
    pub edit: Edit,
    area: TextArea<'static>,
}

impl EditorModal {
    pub fn new(edit: Edit) -> EditorModal {
        let mut area = TextArea::new(edit.text.lines().map(str::to_owned).collect());
        area.set_tab_length(2);
        area.set_hard_tab_indent(false);
        EditorModal { edit, area }
    }

    /// The edit with the text as typed now.
    pub fn edited(&self) -> Edit {
        let mut text = self.area.lines().join("\n");
        text.push('\n');
        Edit {
            text,
            ..self.edit.clone()
        }
    }

    /// A key for the text (every key but the two the editor keeps: Ctrl-S and Esc).
    pub fn input(&mut self, ev: KeyEvent) {
        self.area.input(ev);
    }

    /// Pasted text, all its lines, at the cursor.
    pub fn paste(&mut self, text: &str) {
        self.area
            .insert_str(text.replace("\r\n", "\n").replace('\r', "\n"));
    }

    pub fn render(&self, f: &mut Frame, area: Rect, ctx: &Ctx<'_>) {
        let s = &ctx.theme.s;
        let area = super::large(area, 94, 90);
        let title = Line::from(vec![
            Span::styled(" Edit ", s.title),
            Span::styled(self.edit.key.clone(), s.title),
            Span::styled(" · Ctrl-S dry run · Esc keeps your text ", s.muted),
        ]);
        let inner = super::frame(f, area, title, ctx.theme);
        let mut text = self.area.clone();
        text.set_style(s.text);
        text.set_line_number_style(s.muted);
        text.set_cursor_line_style(Style::default());
        text.set_cursor_style(s.text.add_modifier(Modifier::REVERSED));
        f.render_widget(&text, inner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyModifiers};

    #[test]
    fn typing_backspace_tab_and_paste_edit_the_text() {
        let mut m = EditorModal::new(Edit::sample("data:\n  a: '1'\n"));
        let key = |c| KeyEvent::new(c, KeyModifiers::NONE);
        assert_eq!(m.edited().text, "data:\n  a: '1'\n", "opened as it was");
        for c in [
            KeyCode::Down,
            KeyCode::End,
            KeyCode::Backspace,
            KeyCode::Backspace,
        ] {
            m.input(key(c));
        }
        for c in "2'".chars() {
            m.input(key(KeyCode::Char(c)));
        }
        m.input(key(KeyCode::Enter));
        m.input(key(KeyCode::Tab));
        m.paste("b: '3'\r\n  c: '4'");
        assert_eq!(m.edited().text, "data:\n  a: '2'\n  b: '3'\n  c: '4'\n");
        assert_eq!(
            m.edited().original,
            "data:\n  a: '1'\n",
            "what was read stays"
        );
    }
}
