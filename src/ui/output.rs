//! The terminal backend wrapper that makes an idle console silent.
//!
//! ratatui's `Terminal::draw` always ends with the backend's draw (which emits a colour
//! reset even when no cell changed) and a cursor hide; over SSH that is traffic for
//! nothing. This wrapper skips an empty cell diff and repeated cursor commands, so a
//! frame that changes nothing writes zero bytes.

use ratatui::backend::{Backend, ClearType, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};

pub struct QuietBackend<B> {
    inner: B,
    cursor_visible: Option<bool>,
    cursor_at: Option<Position>,
}

impl<B> QuietBackend<B> {
    pub fn new(inner: B) -> Self {
        QuietBackend {
            inner,
            cursor_visible: None,
            cursor_at: None,
        }
    }

    pub fn inner(&self) -> &B {
        &self.inner
    }
}

impl<B: Backend> Backend for QuietBackend<B> {
    type Error = B::Error;

    fn draw<'a, I>(&mut self, content: I) -> Result<(), Self::Error>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        let mut content = content.peekable();
        if content.peek().is_none() {
            return Ok(());
        }
        // Drawing moves the terminal's cursor.
        self.cursor_at = None;
        self.inner.draw(content)
    }

    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        if self.cursor_visible != Some(false) {
            self.inner.hide_cursor()?;
            self.cursor_visible = Some(false);
        }
        Ok(())
    }

    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        if self.cursor_visible != Some(true) {
            self.inner.show_cursor()?;
            self.cursor_visible = Some(true);
        }
        Ok(())
    }

    fn get_cursor_position(&mut self) -> Result<Position, Self::Error> {
        self.inner.get_cursor_position()
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> Result<(), Self::Error> {
        let p = position.into();
        if self.cursor_at != Some(p) {
            self.inner.set_cursor_position(p)?;
            self.cursor_at = Some(p);
        }
        Ok(())
    }

    fn clear(&mut self) -> Result<(), Self::Error> {
        self.cursor_at = None;
        self.inner.clear()
    }

    fn clear_region(&mut self, clear_type: ClearType) -> Result<(), Self::Error> {
        self.cursor_at = None;
        self.inner.clear_region(clear_type)
    }

    fn size(&self) -> Result<Size, Self::Error> {
        self.inner.size()
    }

    fn window_size(&mut self) -> Result<WindowSize, Self::Error> {
        self.inner.window_size()
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::Terminal;
    use ratatui::backend::CrosstermBackend;
    use ratatui::widgets::Paragraph;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    /// A writer that counts what reaches the terminal.
    #[derive(Clone, Default)]
    struct Counter(Arc<Mutex<Vec<u8>>>);

    impl Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn an_unchanged_frame_writes_nothing() {
        let out = Counter::default();
        let backend = QuietBackend::new(CrosstermBackend::new(out.clone()));
        let viewport = ratatui::Viewport::Fixed(ratatui::layout::Rect::new(0, 0, 40, 5));
        let mut term =
            Terminal::with_options(backend, ratatui::TerminalOptions { viewport }).unwrap();
        let frame = |t: &mut Terminal<_>, text: &str| {
            let text = text.to_string();
            t.draw(|f| f.render_widget(Paragraph::new(text), f.area()))
                .unwrap();
        };
        frame(&mut term, "pods: 30 000");
        let first = out.0.lock().unwrap().len();
        assert!(first > 0);
        frame(&mut term, "pods: 30 000");
        frame(&mut term, "pods: 30 000");
        assert_eq!(
            out.0.lock().unwrap().len(),
            first,
            "idle frames must be silent"
        );
        frame(&mut term, "pods: 30 001");
        assert!(out.0.lock().unwrap().len() > first);
    }
}
