//! Searching a text shown in an overlay (`/`, then `n`/`N`), as less and vim do it: the
//! text as typed, case-blind unless it has a capital (smart case), every match
//! highlighted. The log of a pod and every details view (YAML, a description, a
//! backup's log) share it.

use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use regex::{Regex, RegexBuilder};

#[derive(Debug, Clone, Default)]
pub struct Search {
    text: Option<String>,
    pattern: Option<Regex>,
}

impl Search {
    /// Searches for `text` from now on; an empty text ends the search.
    pub fn set(&mut self, text: &str) {
        if text.is_empty() {
            *self = Search::default();
            return;
        }
        self.text = Some(text.to_owned());
        // An escaped text always compiles; its size is bounded by the input line.
        self.pattern = RegexBuilder::new(&regex::escape(text))
            .case_insensitive(!text.chars().any(char::is_uppercase))
            .build()
            .ok();
    }

    /// What is searched for, if anything.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    pub fn is_active(&self) -> bool {
        self.pattern.is_some()
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.pattern.as_ref().is_some_and(|p| p.is_match(text))
    }

    /// Whether the text of `line`, all its spans together, holds a match.
    pub fn line_matches(&self, line: &Line<'_>) -> bool {
        self.is_active() && self.is_match(&line_text(line))
    }

    /// The next of `count` lines that `hit` says holds a match: after `from` (the one
    /// gone to last), or, when none was gone to yet, from `top` (the first in view)
    /// itself included; wrapping around at either end.
    pub fn next(
        count: usize,
        from: Option<usize>,
        top: usize,
        forward: bool,
        hit: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        if count == 0 {
            return None;
        }
        let top = top.min(count - 1);
        let from = from.unwrap_or(if forward {
            (top + count - 1) % count
        } else {
            top
        });
        (1..=count)
            .map(|k| {
                if forward {
                    (from + k) % count
                } else {
                    (from + count - k % count) % count
                }
            })
            .find(|&i| hit(i))
    }

    /// `text` in `style`, with every match reversed.
    pub fn highlight_text(&self, text: String, style: Style) -> Line<'static> {
        self.highlight(Line::styled(text, style))
    }

    /// `line` with every match reversed, span by span: the styles of the line stay, and
    /// a match across two spans is not marked (it still counts for `n`).
    pub fn highlight(&self, line: Line<'static>) -> Line<'static> {
        let Some(pattern) = self.pattern.as_ref() else {
            return line;
        };
        if !line.spans.iter().any(|s| pattern.is_match(&s.content)) {
            return line;
        }
        let mut spans = Vec::with_capacity(line.spans.len() + 2);
        for span in line.spans {
            let hit = span.style.add_modifier(Modifier::REVERSED);
            let mut at = 0;
            let text = span.content;
            for m in pattern.find_iter(&text) {
                if m.start() > at {
                    spans.push(Span::styled(text[at..m.start()].to_owned(), span.style));
                }
                spans.push(Span::styled(m.as_str().to_owned(), hit));
                at = m.end();
            }
            if at < text.len() || text.is_empty() {
                spans.push(Span::styled(text[at..].to_owned(), span.style));
            }
        }
        let mut out = Line::from(spans).style(line.style);
        out.alignment = line.alignment;
        out
    }
}

/// The text of a line, its spans joined.
pub fn line_text(line: &Line<'_>) -> String {
    line.spans.iter().map(|s| s.content.as_ref()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(text: &str) -> Search {
        let mut s = Search::default();
        s.set(text);
        s
    }

    #[test]
    fn smart_case_and_literal_text() {
        assert!(search("error").is_match("An ERROR here"));
        assert!(!search("Error").is_match("an error here"));
        assert!(search("Error").is_match("an Error here"));
        // What is typed is literal text, not a pattern.
        assert!(search("e.r").is_match("ce.rt"));
        assert!(!search("e.r").is_match("err"));
        let mut s = search("x");
        s.set("");
        assert_eq!(s.text(), None);
        assert!(!s.is_active());
    }

    #[test]
    fn next_goes_from_the_last_hit_or_the_view_and_wraps() {
        let hits = [false, true, false, true, false];
        let hit = |i: usize| hits[i];
        // Nothing gone to yet: from the top of the view, itself included.
        assert_eq!(Search::next(5, None, 1, true, hit), Some(1));
        assert_eq!(Search::next(5, None, 2, true, hit), Some(3));
        assert_eq!(Search::next(5, Some(3), 0, true, hit), Some(1));
        assert_eq!(Search::next(5, Some(1), 0, false, hit), Some(3));
        assert_eq!(Search::next(5, None, 2, false, hit), Some(1));
        assert_eq!(Search::next(5, None, 0, true, |_| false), None);
        assert_eq!(Search::next(0, None, 0, true, hit), None);
    }

    #[test]
    fn highlighting_keeps_the_styles_of_each_span() {
        let label = Style::default().add_modifier(Modifier::DIM);
        let line = Line::from(vec![
            Span::styled("Image:  ", label),
            Span::raw("web:1.2 and web:1.3"),
        ]);
        let out = search("web").highlight(line);
        let parts: Vec<(&str, bool)> = out
            .spans
            .iter()
            .map(|s| {
                (
                    s.content.as_ref(),
                    s.style.add_modifier.contains(Modifier::REVERSED),
                )
            })
            .collect();
        assert_eq!(
            parts,
            [
                ("Image:  ", false),
                ("web", true),
                (":1.2 and ", false),
                ("web", true),
                (":1.3", false)
            ]
        );
        assert_eq!(out.spans[0].style, label);
        // Across two spans: found, not marked.
        let split = Line::from(vec![Span::raw("we"), Span::raw("b")]);
        assert!(search("web").line_matches(&split));
        assert_eq!(search("web").highlight(split.clone()), split);
    }
}
