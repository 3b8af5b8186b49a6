//! Pod details: containers, conditions, events, owner, and a log tail that follows.
//!
//! The full pod is fetched when the overlay opens (the pods table keeps only compact
//! rows); the log tail keeps at most [`LOG_LINES`] lines, because an unbounded buffer
//! on a chatty pod is how k9s reached 30 GB (k9s#1188).

use std::collections::VecDeque;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::super::ctx::Ctx;
use super::super::format;
use super::super::keymap::Action;
use super::super::widgets::search::Search;
use super::Scroll;

/// The width a log is taken to have before it is first drawn.
const FIRST_WIDTH: usize = 80;

/// Lines of log kept per tail.
pub const LOG_LINES: usize = 2_000;

pub use ck8s_fleet::inspect::{
    ConditionInfo, ContainerInfo, EventInfo, LogOptions, PodDetails, PodTarget, TAIL_LINES,
    sanitize,
};

/// What `s` steps through in the logs: the last [`TAIL_LINES`] lines, then the lines of the
/// last minute, 5 and 15 minutes, hour and day.
pub const SINCE: [Option<i64>; 6] = [
    None,
    Some(60),
    Some(300),
    Some(900),
    Some(3600),
    Some(86_400),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodTab {
    Overview,
    Events,
    Logs,
    Yaml,
}

impl PodTab {
    const ALL: [PodTab; 4] = [PodTab::Overview, PodTab::Events, PodTab::Logs, PodTab::Yaml];

    pub fn next(self) -> PodTab {
        Self::ALL[(self.index() + 1) % Self::ALL.len()]
    }

    pub fn prev(self) -> PodTab {
        Self::ALL[(self.index() + Self::ALL.len() - 1) % Self::ALL.len()]
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }

    fn title(self) -> &'static str {
        match self {
            PodTab::Overview => "Overview",
            PodTab::Events => "Events",
            PodTab::Logs => "Logs",
            PodTab::Yaml => "YAML",
        }
    }
}

/// Something fetched in the background.
#[derive(Debug, Clone, PartialEq)]
pub enum Loading<T> {
    Pending,
    Ready(T),
    Failed(String),
}

impl<T> From<Result<T, String>> for Loading<T> {
    fn from(r: Result<T, String>) -> Self {
        match r {
            Ok(v) => Loading::Ready(v),
            Err(e) => Loading::Failed(e),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogState {
    Starting,
    Streaming,
    Ended,
    Failed(String),
}

/// The last [`LOG_LINES`] lines of a log tail.
#[derive(Debug, Clone)]
pub struct LogBuffer {
    lines: VecDeque<String>,
    /// Lines pushed out of the buffer.
    pub dropped: u64,
    /// Keep the newest line in view.
    pub follow: bool,
    /// Wrap long lines instead of cutting them.
    pub wrap: bool,
    pub state: LogState,
    pub scroll: Scroll,
    /// Which log: the container, the previous run's or the current one, timestamps,
    /// since when. Changing them starts another tail.
    pub options: LogOptions,
    /// What `/` searches for, highlighted where it occurs.
    pub search: Search,
    /// The line of the match `n`/`N` went to, by its index among the lines kept.
    pub found: Option<usize>,
    /// A line to bring into view at the next frame (its row depends on the width when
    /// lines wrap).
    jump: std::cell::Cell<Option<usize>>,
    /// The width the log was last drawn at, to tell a row from a line.
    width: std::cell::Cell<usize>,
}

impl Default for LogBuffer {
    fn default() -> Self {
        LogBuffer {
            lines: VecDeque::new(),
            dropped: 0,
            follow: true,
            wrap: false,
            state: LogState::Starting,
            scroll: Scroll::default(),
            options: LogOptions::default(),
            search: Search::default(),
            found: None,
            jump: std::cell::Cell::new(None),
            width: std::cell::Cell::new(FIRST_WIDTH),
        }
    }
}

impl LogBuffer {
    /// An empty buffer for the log `options` name, wrapping and searching as the one it
    /// replaces did.
    pub fn restarted(&self, options: LogOptions) -> LogBuffer {
        LogBuffer {
            options,
            wrap: self.wrap,
            search: self.search.clone(),
            ..LogBuffer::default()
        }
    }

    /// Searches for `text` from now on (empty: no search); see [`Search`].
    pub fn set_search(&mut self, text: &str) {
        self.found = None;
        self.search.set(text);
    }

    fn matches(&self, line: &str) -> bool {
        self.search.is_match(line)
    }

    /// `n` (forward) or `N`: the next line holding the search text after the one gone to
    /// last (else from the top of the view), wrapping around; it comes into view.
    pub fn find(&mut self, forward: bool) -> bool {
        if !self.search.is_active() {
            return false;
        }
        let top = self.line_at_row(self.scroll.offset(), self.width.get());
        let hit = Search::next(self.lines.len(), self.found, top, forward, |i| {
            self.matches(&self.lines[i])
        });
        self.found = hit;
        if let Some(i) = hit {
            self.follow = false;
            self.jump.set(Some(i));
        }
        hit.is_some()
    }

    /// How many kept lines hold the search text.
    pub fn match_count(&self) -> usize {
        self.lines.iter().filter(|l| self.matches(l)).count()
    }

    /// The kept lines, as a file's text.
    pub fn text(&self) -> String {
        let mut text = String::new();
        for l in &self.lines {
            text.push_str(l);
            text.push('\n');
        }
        text
    }

    pub fn push(&mut self, lines: Vec<String>) {
        for line in lines {
            if self.lines.len() == LOG_LINES {
                self.lines.pop_front();
                self.dropped += 1;
                // The match gone to moved up one with the rest, or went.
                self.found = self.found.and_then(|i| i.checked_sub(1));
                // Keep what the reader is looking at in place while new lines arrive.
                if !self.follow {
                    self.scroll
                        .set_offset(self.scroll.offset().saturating_sub(1));
                }
            }
            self.lines.push_back(line);
        }
        if self.state == LogState::Starting {
            self.state = LogState::Streaming;
        }
    }

    pub fn ended(&mut self, error: Option<String>) {
        self.state = match error {
            Some(e) => LogState::Failed(e),
            None => LogState::Ended,
        };
    }

    pub fn toggle_follow(&mut self) {
        self.follow = !self.follow;
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    fn scroll(&mut self, action: Action) {
        match action {
            Action::Up | Action::PageUp | Action::Top => self.follow = false,
            Action::Bottom => self.follow = true,
            _ => {}
        }
        if self.follow && matches!(action, Action::Down | Action::PageDown) {
            return;
        }
        self.scroll.apply(action);
    }
}

/// The pod overlay.
#[derive(Debug)]
pub struct PodModal {
    pub target: PodTarget,
    pub tab: PodTab,
    pub details: Loading<Box<PodDetails>>,
    pub logs: LogBuffer,
    /// The id of the running log tail, once started.
    pub log_task: Option<u64>,
    overview: Scroll,
    events: Scroll,
    yaml: Scroll,
}

impl PodModal {
    pub fn new(target: PodTarget, tab: PodTab) -> PodModal {
        PodModal {
            target,
            tab,
            details: Loading::Pending,
            logs: LogBuffer::default(),
            log_task: None,
            overview: Scroll::default(),
            events: Scroll::default(),
            yaml: Scroll::default(),
        }
    }

    /// How many containers the pod has, init containers included; 0 until it is read.
    pub fn container_count(&self) -> usize {
        match &self.details {
            Loading::Ready(d) => d.containers.len(),
            _ => 0,
        }
    }

    /// The container after the one whose log is shown (the pod's default one at first),
    /// init containers included; the one shown until the pod is read.
    pub fn next_container(&self) -> Option<String> {
        let Loading::Ready(d) = &self.details else {
            return self.logs.options.container.clone();
        };
        let names: Vec<&str> = d.containers.iter().map(|c| c.name.as_str()).collect();
        let shown = self
            .logs
            .options
            .container
            .as_deref()
            .or(d.default_container.as_deref());
        let at = names.iter().position(|n| Some(*n) == shown);
        let next = at.map_or(0, |i| (i + 1) % names.len().max(1));
        names.get(next).map(|n| (*n).to_owned())
    }

    pub fn scroll(&mut self, action: Action) {
        match self.tab {
            PodTab::Overview => {
                self.overview.apply(action);
            }
            PodTab::Events => {
                self.events.apply(action);
            }
            PodTab::Logs => self.logs.scroll(action),
            PodTab::Yaml => {
                self.yaml.apply(action);
            }
        }
    }

    pub fn render(&self, f: &mut Frame, area: Rect, ctx: &Ctx<'_>) {
        let s = &ctx.theme.s;
        let area = super::large(area, 94, 90);
        let title = Line::from(vec![
            Span::styled(" Pod ", s.title),
            Span::styled(
                format!("{}/{}", self.target.namespace, self.target.name),
                s.title,
            ),
            Span::styled(format!(" · {} ", self.target.cluster()), s.muted),
        ]);
        let inner = super::frame(f, area, title, ctx.theme);
        if inner.height < 3 {
            return;
        }
        let mut tabs = vec![Span::raw(" ")];
        for t in PodTab::ALL {
            let style = if t == self.tab { s.tab_active } else { s.tab };
            tabs.push(Span::styled(format!(" {} ", t.title()), style));
            tabs.push(Span::raw(" "));
        }
        if self.tab == PodTab::Logs {
            tabs.push(Span::styled(self.log_status(), s.muted));
        }
        f.render_widget(Line::from(tabs), Rect { height: 1, ..inner });
        let body = Rect {
            y: inner.y + 2,
            height: inner.height - 2,
            ..inner
        };
        let lines = match (&self.details, self.tab) {
            (_, PodTab::Logs) => self.log_lines(body.width as usize, ctx),
            (Loading::Pending, _) => vec![Line::styled("Loading the pod…", s.muted)],
            (Loading::Failed(e), _) => vec![
                Line::styled("Could not load the pod:", s.error),
                Line::styled(e.clone(), s.error),
            ],
            (Loading::Ready(d), PodTab::Overview) => overview_lines(d, ctx),
            (Loading::Ready(d), PodTab::Events) => event_lines(d, ctx),
            (Loading::Ready(d), PodTab::Yaml) => yaml_lines(d, ctx),
        };
        let height = body.height as usize;
        let skip = match self.tab {
            PodTab::Overview => self.overview.fit(lines.len(), height),
            PodTab::Events => self.events.fit(lines.len(), height),
            PodTab::Yaml => self.yaml.fit(lines.len(), height),
            PodTab::Logs => {
                self.logs.width.set(body.width as usize);
                let max = self.logs.scroll.fit(lines.len(), height);
                if let Some(i) = self.logs.jump.take() {
                    // The match a third of the way down, with what led to it above.
                    let row = self.logs.row_of(i, body.width as usize);
                    self.logs
                        .scroll
                        .set_offset(row.saturating_sub(height / 3).min(max));
                } else if self.logs.follow {
                    self.logs.scroll.set_offset(max);
                }
                self.logs.scroll.offset()
            }
        };
        let shown: Vec<Line> = lines.into_iter().skip(skip).take(height).collect();
        f.render_widget(Paragraph::new(shown), body);
    }

    fn log_status(&self) -> String {
        let logs = &self.logs;
        let state = match &logs.state {
            _ if logs.options.previous && logs.state == LogState::Ended => {
                "previous run (p: the current one)".to_string()
            }
            LogState::Starting => "connecting…".to_string(),
            LogState::Streaming if logs.follow => "following".to_string(),
            LogState::Streaming => "paused (G or f follows)".to_string(),
            LogState::Ended => "stream ended".to_string(),
            LogState::Failed(e) => format!("failed: {e}"),
        };
        let mut parts = vec![state];
        // Which container, once the pod has several to choose from (`c`).
        let several = self.container_count() > 1;
        let default = match &self.details {
            Loading::Ready(d) => d.default_container.as_deref(),
            _ => None,
        };
        if let Some(c) = logs
            .options
            .container
            .as_deref()
            .or(default.filter(|_| several))
        {
            parts.push(format!("container {c}"));
        }
        if let Some(since) = logs.options.since_seconds {
            parts.push(format!("since {}", format::age(since)));
        }
        if logs.options.timestamps {
            parts.push("timestamps".into());
        }
        if let Some(text) = logs.search.text() {
            parts.push(format!("/{text}: in {} lines", logs.match_count()));
        }
        let dropped = if logs.dropped > 0 {
            format!(", {} older dropped", logs.dropped)
        } else {
            String::new()
        };
        parts.push(format!(
            "{} lines (last {LOG_LINES} kept{dropped})",
            logs.len()
        ));
        parts.join(" · ")
    }

    fn log_lines(&self, width: usize, ctx: &Ctx<'_>) -> Vec<Line<'static>> {
        if self.logs.is_empty() {
            let msg = match &self.logs.state {
                LogState::Failed(e) => {
                    return vec![Line::styled(
                        format!("The log could not be read: {e}"),
                        ctx.theme.s.error,
                    )];
                }
                LogState::Starting => "Waiting for the first lines…",
                _ => "The log is empty.",
            };
            return vec![Line::styled(msg, ctx.theme.s.muted)];
        }
        let logs = &self.logs;
        let mut out = Vec::with_capacity(logs.lines.len());
        for (i, l) in logs.lines.iter().enumerate() {
            let mut style = log_style(l, ctx);
            if logs.found == Some(i) {
                style = style.patch(ctx.theme.s.selection);
            }
            let pieces = if logs.wrap {
                format::wrap(l, width)
            } else {
                vec![l.clone()]
            };
            out.extend(
                pieces
                    .into_iter()
                    .map(|p| logs.search.highlight_text(p, style)),
            );
        }
        out
    }
}

impl LogBuffer {
    /// The line row `row` belongs to, as drawn `width` wide.
    fn line_at_row(&self, row: usize, width: usize) -> usize {
        if !self.wrap {
            return row;
        }
        let mut rows = 0;
        for (i, l) in self.lines.iter().enumerate() {
            rows += format::wrap(l, width).len().max(1);
            if rows > row {
                return i;
            }
        }
        self.lines.len()
    }

    /// The row line `i` starts on, as drawn `width` wide.
    fn row_of(&self, i: usize, width: usize) -> usize {
        if !self.wrap {
            return i;
        }
        self.lines
            .iter()
            .take(i)
            .map(|l| format::wrap(l, width).len().max(1))
            .sum()
    }
}

/// Errors and warnings stand out in a log; the level words of the common formats
/// (logfmt, JSON, klog, plain) are enough to tell.
pub(crate) fn log_style(line: &str, ctx: &Ctx<'_>) -> ratatui::style::Style {
    // The level sits near the start; a long line need not be searched to its end.
    let head = line
        .char_indices()
        .nth(160)
        .map_or(line, |(i, _)| &line[..i]);
    let has = |words: &[&str]| words.iter().any(|w| head.contains(w));
    if has(&[
        "level=error",
        "level=fatal",
        "\"level\":\"error",
        "ERROR",
        "FATAL",
        "panic:",
        "Traceback",
    ]) || head.starts_with('E')
        && head
            .get(1..5)
            .is_some_and(|d| d.bytes().all(|b| b.is_ascii_digit()))
    {
        ctx.theme.s.error
    } else if has(&["level=warn", "\"level\":\"warn", "WARN"]) {
        ctx.theme.s.warning
    } else {
        ctx.theme.s.text
    }
}

fn field<'a>(label: &'a str, value: String, ctx: &Ctx<'_>) -> Line<'a> {
    Line::from(vec![
        Span::styled(format!("{label:<16}"), ctx.theme.s.muted),
        Span::raw(value),
    ])
}

fn overview_lines(d: &PodDetails, ctx: &Ctx<'_>) -> Vec<Line<'static>> {
    let s = &ctx.theme.s;
    let now = ctx.now;
    let mut out: Vec<Line<'static>> = Vec::new();
    // The list's word first (`CrashLoopBackOff`), then the phase behind it when it says
    // more.
    let mut status = d.status.clone();
    if d.phase != d.status {
        status.push_str(&format!(" (phase {}", d.phase));
        if let Some(r) = &d.reason {
            status.push_str(&format!(", {r}"));
        }
        status.push(')');
    } else if let Some(r) = &d.reason {
        status.push_str(&format!(" ({r})"));
    }
    out.push(field("Status", status, ctx));
    out.push(field(
        "Node",
        d.node.clone().unwrap_or_else(|| "-".into()),
        ctx,
    ));
    out.push(field(
        "Pod IP",
        d.ip.clone().unwrap_or_else(|| "-".into()),
        ctx,
    ));
    out.push(field(
        "Owner",
        d.owner.clone().unwrap_or_else(|| "none".into()),
        ctx,
    ));
    out.push(field(
        "Service account",
        d.service_account.clone().unwrap_or_else(|| "-".into()),
        ctx,
    ));
    out.push(field(
        "QoS class",
        d.qos.clone().unwrap_or_else(|| "-".into()),
        ctx,
    ));
    out.push(field(
        "Created",
        format!("{} ago", format::age_at(d.created, now)),
        ctx,
    ));
    out.push(Line::raw(""));
    out.push(Line::styled("Containers", s.title));
    for c in &d.containers {
        let state_style = if c.problem {
            s.critical
        } else if c.ready || c.init {
            s.ok
        } else {
            s.warning
        };
        let since = c
            .state_since
            .map(|t| format!(" for {}", format::age(now.timestamp() - t)))
            .unwrap_or_default();
        out.push(Line::from(vec![
            Span::raw("  "),
            Span::styled(
                format!("{}{}", c.name, if c.init { " (init)" } else { "" }),
                s.title,
            ),
            Span::raw("  "),
            Span::styled(format!("{}{since}", c.state), state_style),
            Span::styled(
                format!(
                    "  ready {}  restarts {}",
                    if c.ready { "yes" } else { "no" },
                    c.restarts
                ),
                if c.restarts > 0 { s.warning } else { s.muted },
            ),
        ]));
        out.push(Line::from(vec![
            Span::raw("    "),
            Span::styled(c.image.clone(), s.muted),
        ]));
        if let Some(last) = &c.last {
            out.push(Line::from(vec![
                Span::raw("    "),
                Span::styled(last.clone(), s.warning),
            ]));
        }
    }
    out.push(Line::raw(""));
    out.push(Line::styled("Conditions", s.title));
    for c in &d.conditions {
        let style = if c.status == "True" { s.ok } else { s.warning };
        let mut spans = vec![
            Span::raw("  "),
            Span::raw(format!("{:<26}", c.kind)),
            Span::styled(format!("{:<6}", c.status), style),
        ];
        if !c.reason.is_empty() {
            spans.push(Span::styled(format!("{} ", c.reason), s.muted));
        }
        if !c.message.is_empty() {
            spans.push(Span::styled(c.message.clone(), s.muted));
        }
        out.push(Line::from(spans));
    }
    if !d.labels.is_empty() {
        out.push(Line::raw(""));
        out.push(Line::styled("Labels", s.title));
        for (k, v) in &d.labels {
            out.push(Line::from(vec![
                Span::raw("  "),
                Span::styled(format!("{k}="), s.muted),
                Span::raw(v.clone()),
            ]));
        }
    }
    out
}

/// The pod as YAML: keys muted, values plain, comments (what was folded) dim.
fn yaml_lines(d: &PodDetails, ctx: &Ctx<'_>) -> Vec<Line<'static>> {
    let s = &ctx.theme.s;
    d.yaml
        .iter()
        .map(|l| {
            if l.trim_start().starts_with('#') {
                return Line::styled(l.clone(), s.muted);
            }
            match l.split_once(": ") {
                Some((key, value)) => Line::from(vec![
                    Span::styled(format!("{key}:"), s.muted),
                    Span::raw(format!(" {value}")),
                ]),
                None => Line::raw(l.clone()),
            }
        })
        .collect()
}

fn event_lines(d: &PodDetails, ctx: &Ctx<'_>) -> Vec<Line<'static>> {
    let s = &ctx.theme.s;
    if d.events.is_empty() {
        return vec![Line::styled(
            "No events for this pod (events expire after an hour).",
            s.muted,
        )];
    }
    let mut out = vec![Line::styled(
        format!(
            "{:<8} {:<6} {:<5} {:<22} {}",
            "TYPE", "AGE", "COUNT", "REASON", "MESSAGE"
        ),
        s.header,
    )];
    for e in &d.events {
        let (kind, style) = if e.warning {
            ("Warning", s.warning)
        } else {
            ("Normal", s.text)
        };
        out.push(Line::from(vec![
            Span::styled(format!("{kind:<8} "), style),
            Span::styled(
                format!("{:<6} ", format::age_at(e.last_seen, ctx.now)),
                s.muted,
            ),
            Span::raw(format!("{:<5} ", e.count)),
            Span::styled(format!("{:<22} ", format::truncate(&e.reason, 22)), style),
            Span::raw(e.message.clone()),
        ]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_buffer_is_bounded_and_counts_what_it_drops() {
        let mut b = LogBuffer::default();
        b.push((0..LOG_LINES + 5).map(|i| i.to_string()).collect());
        assert_eq!(b.len(), LOG_LINES);
        assert_eq!(b.dropped, 5);
        assert_eq!(b.lines.front().map(String::as_str), Some("5"));
        assert_eq!(b.state, LogState::Streaming);
        b.scroll(Action::Up);
        assert!(!b.follow, "scrolling up stops following");
        b.scroll(Action::Bottom);
        assert!(b.follow);
        b.ended(Some("EOF".into()));
        assert_eq!(b.state, LogState::Failed("EOF".into()));
    }

    fn lines(b: &mut LogBuffer, lines: &[&str]) {
        b.push(lines.iter().map(|l| l.to_string()).collect());
    }

    /// Smart case, n and N wrapping around, the match kept as old lines drop, and the
    /// search kept when the tail starts again with other options.
    #[test]
    fn the_log_search_finds_as_less_does() {
        let mut b = LogBuffer::default();
        lines(&mut b, &["a Error", "ok", "error again", "ok", "ERROR"]);
        b.set_search("error");
        assert_eq!(b.match_count(), 3, "lower case is case-blind");
        assert!(b.find(true));
        assert_eq!(b.found, Some(0));
        assert!(!b.follow, "going to a match stops following");
        assert!(b.find(true));
        assert_eq!(b.found, Some(2));
        assert!(b.find(true));
        assert_eq!(b.found, Some(4));
        assert!(b.find(true), "wraps around");
        assert_eq!(b.found, Some(0));
        assert!(b.find(false), "N goes back, wrapping too");
        assert_eq!(b.found, Some(4));
        b.set_search("Error");
        assert_eq!(b.match_count(), 1, "a capital makes it exact");
        b.set_search("e.r");
        assert_eq!(b.match_count(), 0, "text, not a pattern");
        b.set_search("");
        assert!(!b.find(true));
        assert_eq!(b.search.text(), None);

        b.set_search("again");
        assert!(b.find(true));
        assert_eq!(b.found, Some(2));
        b.push((0..LOG_LINES - 4).map(|i| format!("filler {i}")).collect());
        assert_eq!(b.found, Some(1), "the line moved up with the rest");
        b.push(vec!["x".into(), "y".into()]);
        assert_eq!(b.found, None, "and went");

        let again = b.restarted(LogOptions {
            timestamps: true,
            ..LogOptions::default()
        });
        assert_eq!(again.search.text(), Some("again"));
        assert!(again.is_empty() && again.options.timestamps);
    }

    #[test]
    fn a_wrapped_line_is_found_on_its_row() {
        let mut b = LogBuffer::default();
        lines(&mut b, &["0123456789", "ab", "x"]);
        assert_eq!(b.row_of(2, 100), 2);
        b.wrap = true;
        assert_eq!(
            b.row_of(2, 4),
            4,
            "the first line takes three rows at width 4"
        );
    }
}
