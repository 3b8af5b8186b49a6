//! How numbers, ages and times read on screen: short, fixed-width friendly, and the same
//! in every pane.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use ratatui::text::Span;

pub use ck8s_model::format::age;

/// The first 8 characters of a silence id, as Alertmanager's UI shows them.
pub fn short_id(id: &str) -> &str {
    &id[..id.len().min(8)]
}

/// The age of something created at unix second `t`, or `-` when unknown.
pub fn age_at(t: Option<i64>, now: DateTime<Utc>) -> String {
    match t {
        Some(t) if t > 0 => age(now.timestamp() - t),
        _ => "-".to_string(),
    }
}

/// Cores as Kubernetes writes them: `250m` below one core, `1.5` above.
pub fn cpu(cores: f64) -> String {
    if cores < 1.0 {
        format!("{}m", (cores * 1000.0).round() as u64)
    } else {
        format!("{cores:.1}")
    }
}

/// Bytes in binary units: `512Mi`, `1.2Gi`.
pub fn bytes(b: f64) -> String {
    const UNITS: [&str; 5] = ["", "Ki", "Mi", "Gi", "Ti"];
    let mut v = b.max(0.0);
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit >= 3 && v < 10.0 {
        format!("{v:.1}{}", UNITS[unit])
    } else {
        format!("{}{}", v.round() as u64, UNITS[unit])
    }
}

/// A wall-clock time in the policy time zone, e.g. `12:03:04`.
pub fn clock(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%H:%M:%S").to_string()
}

/// A moment as the details views give it: its wall-clock time in `tz` and how far it is
/// from `now`, `12:03:04 (3m ago)` or `12:03:04 (in 2d)`.
pub fn moment(t: DateTime<Utc>, now: DateTime<Utc>, tz: Tz) -> String {
    let clock = clock(t, tz);
    if t > now {
        format!("{clock} (in {})", age((t - now).num_seconds()))
    } else {
        format!("{clock} ({} ago)", age((now - t).num_seconds()))
    }
}

/// Minutes as an error budget reads: `21.6 min`, `-3.0 min`, `3h 12m`.
pub fn minutes(m: f64) -> String {
    if m.abs() < 120.0 {
        format!("{m:.1} min")
    } else {
        let total = m.abs().round() as i64;
        let sign = if m < 0.0 { "-" } else { "" };
        format!("{sign}{}h {}m", total / 60, total % 60)
    }
}

/// Display width in terminal cells.
pub fn width(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        Span::raw(s).width()
    }
}

/// `s` cut to `max` cells, ending in `…` when cut.
pub fn truncate(s: &str, max: usize) -> Cow<'_, str> {
    if width(s) <= max {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(cut(s, max))
    }
}

/// The first `max - 1` cells of `s` and `…`, whether or not `s` would have fit: for text
/// that more text follows.
pub fn cut(s: &str, max: usize) -> String {
    if max == 0 {
        return String::new();
    }
    let mut used = 0;
    let mut end = 0;
    for (i, c) in s.char_indices() {
        let w = if c.is_ascii() {
            1
        } else {
            Span::raw(&s[i..i + c.len_utf8()]).width()
        };
        if used + w > max - 1 {
            break;
        }
        used += w;
        end = i + c.len_utf8();
    }
    format!("{}…", &s[..end])
}

/// Word-wraps `text` to `width` cells; a word longer than a line (a URL) is broken
/// across lines rather than cut, so none of it is lost.
/// `s` in at most `max` cells, with `…` in the middle when it is longer: the start and
/// the end stay, the end a little longer (a generated suffix tells names apart).
pub fn cut_middle(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    if max <= 2 {
        return cut(s, max);
    }
    let keep = max - 1;
    let tail_w = keep.div_ceil(2);
    let head_w = keep - tail_w;
    let mut head = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if w + cw > head_w {
            break;
        }
        head.push(c);
        w += cw;
    }
    let mut tail: Vec<char> = Vec::new();
    let mut w = 0;
    for c in s.chars().rev() {
        let cw = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if w + cw > tail_w {
            break;
        }
        tail.push(c);
        w += cw;
    }
    tail.reverse();
    format!("{head}…{}", tail.into_iter().collect::<String>())
}

pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    for paragraph in text.lines() {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let needed = usize::from(!line.is_empty()) + self::width(word);
            if !line.is_empty() && self::width(&line) + needed > width {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            for c in word.chars() {
                if self::width(&line) >= width {
                    lines.push(std::mem::take(&mut line));
                }
                line.push(c);
            }
        }
        lines.push(line);
    }
    if lines.is_empty() {
        lines.push(String::new());
    }
    lines
}

/// Ends a wrapped line: the blanks after its last word stay behind, so a line of exactly
/// `width` cells is not cut.
fn finish_line(line: Vec<ratatui::text::Span<'static>>) -> ratatui::text::Line<'static> {
    let mut line = line;
    while line.len() > 1
        && line
            .last()
            .is_some_and(|l| l.content.trim_end_matches(' ').is_empty())
    {
        line.pop();
    }
    if let Some(last) = line.last_mut() {
        let kept = last.content.trim_end_matches(' ').len();
        if kept != last.content.len() {
            last.content = last.content[..kept].to_owned().into();
        }
    }
    ratatui::text::Line::from(line)
}

/// A line wrapped to `width` cells (see [`wrap_spans`]), keeping its own style; a blank
/// line stays one blank line.
pub fn wrap_line(
    line: ratatui::text::Line<'static>,
    width: usize,
    indent: usize,
) -> Vec<ratatui::text::Line<'static>> {
    let style = line.style;
    let mut wrapped = wrap_spans(line.spans, width, indent);
    if wrapped.is_empty() {
        wrapped.push(ratatui::text::Line::raw(""));
    }
    wrapped.into_iter().map(|l| l.style(style)).collect()
}

/// Word-wraps styled text to `width` cells; lines after the first start with `indent`
/// spaces, so that a labelled value keeps its column.
pub fn wrap_spans(
    spans: Vec<ratatui::text::Span<'static>>,
    width: usize,
    indent: usize,
) -> Vec<ratatui::text::Line<'static>> {
    use ratatui::text::{Line, Span};
    let width = width.max(indent + 10);
    let mut lines: Vec<Line<'static>> = Vec::new();
    let mut line: Vec<Span<'static>> = Vec::new();
    let mut used = 0usize;
    for span in spans {
        // Keep runs of spaces with the word before them, so padding survives.
        let mut rest: &str = span.content.as_ref();
        while !rest.is_empty() {
            let word_end = rest.find(' ').map_or(rest.len(), |i| {
                rest[i..].find(|c| c != ' ').map_or(rest.len(), |j| i + j)
            });
            let word = &rest[..word_end];
            rest = &rest[word_end..];
            let w = self::width(word.trim_end());
            if used > indent && used + w > width {
                lines.push(finish_line(std::mem::take(&mut line)));
                line.push(Span::raw(" ".repeat(indent)));
                used = indent;
            }
            if used + w <= width {
                line.push(Span::styled(word.to_string(), span.style));
                used += self::width(word);
                continue;
            }
            // A word wider than a whole line (a URL, a long log token) is split where
            // the line ends, so nothing of it is cut.
            let mut piece = String::new();
            for c in word.chars() {
                let cw = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
                if used + cw > width && used > indent {
                    line.push(Span::styled(std::mem::take(&mut piece), span.style));
                    lines.push(finish_line(std::mem::take(&mut line)));
                    line.push(Span::raw(" ".repeat(indent)));
                    used = indent;
                }
                piece.push(c);
                used += cw;
            }
            line.push(Span::styled(piece, span.style));
        }
    }
    if !line.is_empty() {
        lines.push(Line::from(line));
    }
    lines
}

/// `30000` as `30 000`, the way people read pod counts.
pub fn count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_cut_in_the_middle_keeping_their_end() {
        let names = [
            "globex-wc-control-plane-4gnz7",
            "globex-wc-control-plane-t76cj",
        ];
        let cut: Vec<String> = names.iter().map(|n| super::cut_middle(n, 16)).collect();
        assert_eq!(cut[0], "globex-…ne-4gnz7");
        assert_ne!(cut[0], cut[1], "rows stay apart");
        assert_eq!(super::width(&cut[0]), 16);
        assert_eq!(super::cut_middle("short", 16), "short");
        assert_eq!(super::width(&super::cut_middle("ünïcödé-näme-x", 7)), 7);
    }

    #[test]
    fn counts_group_thousands() {
        assert_eq!(super::count(30000), "30 000");
        assert_eq!(super::count(999), "999");
        assert_eq!(super::count(1_234_567), "1 234 567");
    }

    use super::*;

    #[test]
    fn units_are_short() {
        assert_eq!(cpu(0.25), "250m");
        assert_eq!(cpu(2.0), "2.0");
        assert_eq!(bytes(512.0 * 1024.0 * 1024.0), "512Mi");
        assert_eq!(bytes(1.5 * 1024.0 * 1024.0 * 1024.0), "1.5Gi");
        assert_eq!(minutes(21.6), "21.6 min");
        assert_eq!(minutes(-200.0), "-3h 20m");
    }

    #[test]
    fn truncation_marks_the_cut() {
        assert_eq!(truncate("payments-worker", 20), "payments-worker");
        assert_eq!(truncate("payments-worker", 8), "payment…");
        assert_eq!(truncate("åäö-long-name", 5), "åäö-…");
        assert_eq!(truncate("x", 0), "");
    }

    #[test]
    fn wrapping_breaks_at_words() {
        assert_eq!(wrap("one two three", 7), ["one two", "three"]);
        assert_eq!(wrap("a\nb", 10), ["a", "b"]);
        assert_eq!(wrap("", 5), [""]);
        assert_eq!(
            wrap("see https://x.example/abc", 10),
            ["see", "https://x.", "example/ab", "c"]
        );
    }

    #[test]
    fn styled_wrapping_keeps_a_hanging_indent() {
        use ratatui::text::Span;
        let lines = wrap_spans(
            vec![
                Span::raw("  label   "),
                Span::raw("one two three four five six"),
            ],
            24,
            10,
        );
        let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        assert_eq!(text, ["  label   one two three", "          four five six"]);
    }

    #[test]
    fn a_moment_says_its_time_and_how_far_it_is() {
        let now: DateTime<Utc> = "2026-12-07T10:00:00Z".parse().unwrap();
        let tz = chrono_tz::Europe::Stockholm;
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            moment(at("2026-12-07T09:58:19Z"), now, tz),
            "10:58:19 (1m41s ago)"
        );
        assert_eq!(
            moment(at("2026-12-09T10:00:00Z"), now, tz),
            "11:00:00 (in 2d)"
        );
    }

    #[test]
    fn a_word_longer_than_a_line_is_split_not_cut() {
        use ratatui::text::Span;
        let token = "x".repeat(30);
        let lines = wrap_spans(vec![Span::raw(format!("log {token} end"))], 12, 2);
        let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        assert!(text.iter().all(|l| width(l) <= 12), "{text:?}");
        assert_eq!(text.concat().replace(' ', ""), format!("log{token}end"));
    }
}
