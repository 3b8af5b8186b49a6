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
use super::Scroll;

/// Lines of log kept per tail.
pub const LOG_LINES: usize = 2_000;

pub use ck8s_fleet::inspect::{
    ConditionInfo, ContainerInfo, EventInfo, PodDetails, PodTarget, TAIL_LINES, sanitize,
};

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
    /// The previous run's log (a restarted container's), not the running one's.
    pub previous: bool,
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
            previous: false,
        }
    }
}

impl LogBuffer {
    /// An empty buffer for the previous run's log or the current one's, wrapping as the
    /// one it replaces did.
    pub fn of_run(previous: bool, wrap: bool) -> LogBuffer {
        LogBuffer {
            previous,
            wrap,
            ..LogBuffer::default()
        }
    }

    pub fn push(&mut self, lines: Vec<String>) {
        for line in lines {
            if self.lines.len() == LOG_LINES {
                self.lines.pop_front();
                self.dropped += 1;
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
                let max = self.logs.scroll.fit(lines.len(), height);
                if self.logs.follow {
                    self.logs.scroll.set_offset(max);
                }
                self.logs.scroll.offset()
            }
        };
        let shown: Vec<Line> = lines.into_iter().skip(skip).take(height).collect();
        f.render_widget(Paragraph::new(shown), body);
    }

    fn log_status(&self) -> String {
        let state = match &self.logs.state {
            _ if self.logs.previous && self.logs.state == LogState::Ended => {
                "previous run (p: the current one)".to_string()
            }
            LogState::Starting => "connecting…".to_string(),
            LogState::Streaming if self.logs.follow => "following".to_string(),
            LogState::Streaming => "paused (G or f follows)".to_string(),
            LogState::Ended => "stream ended".to_string(),
            LogState::Failed(e) => format!("failed: {e}"),
        };
        let dropped = if self.logs.dropped > 0 {
            format!(", {} older dropped", self.logs.dropped)
        } else {
            String::new()
        };
        format!(
            "{state} · {} lines (last {LOG_LINES} kept{dropped})",
            self.logs.len()
        )
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
        let style = |l: &str| log_style(l, ctx);
        if self.logs.wrap {
            self.logs
                .lines
                .iter()
                .flat_map(|l| {
                    let st = style(l);
                    format::wrap(l, width)
                        .into_iter()
                        .map(move |p| Line::styled(p, st))
                })
                .collect()
        } else {
            self.logs
                .lines
                .iter()
                .map(|l| Line::styled(l.clone(), style(l)))
                .collect()
        }
    }
}

/// Errors and warnings stand out in a log; the level words of the common formats
/// (logfmt, JSON, klog, plain) are enough to tell.
fn log_style(line: &str, ctx: &Ctx<'_>) -> ratatui::style::Style {
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
}
