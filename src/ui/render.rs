//! The frame: a bar with the breadcrumb, the pane tabs, the pane in its frame (with the
//! health of its sources), the footer with the focused pane's keys, and overlays.
//! Rendering reads the views and the clock it is given, never the wall clock, so
//! snapshots are stable.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph};

use super::app::{App, Availability, InputKind, Level, Modal, Pane, Scope};
pub use super::ctx::Ctx;
use super::format;
use super::keymap;
use super::panes;
use super::views::Views;
use super::widgets::table::{Align, put_line};

/// Below this the layout cannot work; the console says so instead of drawing garbage.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 12;

pub fn draw(f: &mut Frame, app: &App, views: &Views, ctx: &Ctx<'_>) {
    let area = f.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = format!(
            "The terminal is {}x{}; ck8s-console needs at least {MIN_WIDTH}x{MIN_HEIGHT}.",
            area.width, area.height
        );
        f.render_widget(
            Paragraph::new(msg).wrap(ratatui::widgets::Wrap { trim: true }),
            area,
        );
        return;
    }
    // The theme's base: a theme made for a light background paints it, so that its dark
    // text reads on any terminal (dark themes leave the terminal's own background).
    if ctx.theme.s.text.bg.is_some() {
        f.buffer_mut().set_style(area, ctx.theme.s.text);
    }
    let [bar, tabs, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(footer_height(app, area.width)),
    ])
    .areas(area);
    draw_bar(f, bar, app, views, ctx);
    draw_tabs(f, tabs, app, ctx);
    draw_pane(f, body, app, views, ctx);
    draw_footer(f, footer, app, views, ctx);
    // Overlays draw over the pane, bottom first.
    for m in &app.modals {
        match m {
            Modal::Help(h) => h.render(f, body, &app.help_view(), ctx),
            Modal::Pod(p) => p.render(f, body, ctx),
            Modal::Alert(a) => {
                let live = views.alerts.by_fingerprint(&a.fingerprint);
                a.render(f, body, live, ctx)
            }
            Modal::Details(d) => {
                let details = views.pane(d.pane).details(app, &d.key, ctx);
                d.render(f, body, details, ctx)
            }
            Modal::Silence(form) => form.render(f, body, ctx),
            Modal::Run(form) => form.render(f, body, ctx),
            Modal::Editor(e) => e.render(f, body, ctx),
            Modal::Confirm(c) => c.render(f, body, ctx),
        }
    }
}

fn accent_of<'a>(app: &App, views: &'a Views) -> Option<&'a str> {
    let env = app.env.as_deref()?;
    views.fleet.accents.get(env).map(String::as_str)
}

fn draw_bar(f: &mut Frame, area: Rect, app: &App, views: &Views, ctx: &Ctx<'_>) {
    let s = &ctx.theme.s;
    f.render_widget(Block::new().style(s.bar), area);
    let sep = || Span::styled(" › ", s.bar_muted);
    let mut crumbs = vec![
        Span::styled(" ck8s-console ", s.bar.add_modifier(Modifier::BOLD)),
        Span::styled("│ ", s.bar_muted),
    ];
    crumbs.push(Span::styled("Fleet", s.bar));
    if let Some(env) = &app.env {
        crumbs.push(sep());
        crumbs.push(Span::styled(
            format!(" {env} "),
            ctx.theme.env_accent(accent_of(app, views)),
        ));
    }
    if app.pane != Pane::Fleet {
        crumbs.push(sep());
        crumbs.push(Span::styled(views.title(app), s.bar));
        if app.env.is_some() && app.pane.scoped() {
            crumbs.push(Span::styled(
                format!(" ({})", app.scope.label()),
                s.bar_muted,
            ));
        }
    }
    match app.modals.first() {
        Some(Modal::Pod(p)) => {
            crumbs.push(sep());
            crumbs.push(Span::styled(
                format!("{}/{}", p.target.namespace, p.target.name),
                s.bar,
            ));
        }
        Some(Modal::Alert(_)) => {
            crumbs.push(sep());
            crumbs.push(Span::styled("alert", s.bar));
        }
        Some(Modal::Details(_)) => {
            crumbs.push(sep());
            crumbs.push(Span::styled("details", s.bar));
        }
        _ => {}
    }
    let mut right = Vec::new();
    if app.read_only
        || app
            .env
            .as_ref()
            .is_some_and(|e| app.read_only_envs.contains(e))
    {
        right.push(Span::styled(
            " READ-ONLY ",
            s.critical.add_modifier(Modifier::REVERSED),
        ));
        right.push(Span::styled(" ", s.bar));
    }
    let local = ctx.now.with_timezone(&ctx.tz);
    right.push(Span::styled(
        format!("{} ", local.format("%H:%M %Z")),
        s.bar_muted,
    ));
    let right = Line::from(right);
    let rw = right.width() as u16;
    put_line(
        f.buffer_mut(),
        area.x,
        area.y,
        area.width.saturating_sub(rw + 1),
        &Line::from(crumbs),
        Align::Left,
    );
    put_line(
        f.buffer_mut(),
        area.x + area.width.saturating_sub(rw),
        area.y,
        rw,
        &right,
        Align::Left,
    );
}

fn draw_tabs(f: &mut Frame, area: Rect, app: &App, ctx: &Ctx<'_>) {
    let s = &ctx.theme.s;
    let mut spans = vec![Span::raw(" ")];
    for (i, pane) in Pane::ALL.iter().enumerate() {
        let active = *pane == app.pane;
        let style = if active { s.tab_active } else { s.tab };
        spans.push(Span::styled(format!(" {} {} ", i + 1, pane.title()), style));
    }
    let tabs = Line::from(spans);
    let tabs_w = tabs.width() as u16;
    put_line(
        f.buffer_mut(),
        area.x,
        area.y,
        area.width,
        &tabs,
        Align::Left,
    );
    if app.env.is_some() {
        let mut scope = vec![Span::styled("cluster ", s.muted)];
        for sc in [Scope::Sc, Scope::Wc, Scope::Both] {
            let style = if sc == app.scope { s.tab_active } else { s.tab };
            scope.push(Span::styled(format!(" {} ", sc.label()), style));
        }
        scope.push(Span::raw(" "));
        let line = Line::from(scope);
        let w = line.width() as u16;
        if tabs_w + w + 2 <= area.width {
            put_line(
                f.buffer_mut(),
                area.x + area.width - w,
                area.y,
                w,
                &line,
                Align::Left,
            );
        }
    }
}

/// The pane's title: where, and with which filter; and its summary on the right.
fn titles(app: &App, views: &Views, width: u16, ctx: &Ctx<'_>) -> (Line<'static>, Line<'static>) {
    let s = &ctx.theme.s;
    let mut left = vec![Span::styled(format!(" {} ", views.title(app)), s.title)];
    if app.pane.scoped() {
        let place = app.env.as_deref().unwrap_or("whole fleet");
        left.push(Span::styled(
            format!("{place} · {} ", app.scope.label()),
            s.muted,
        ));
    }
    let filter = app.filter();
    if !filter.is_empty() {
        left.push(Span::styled(format!("/{filter} "), s.key));
    }
    let right = views.pane(app.pane).summary(app, width, ctx);
    (Line::from(left), Line::from(right).right_aligned())
}

fn draw_pane(f: &mut Frame, area: Rect, app: &App, views: &Views, ctx: &Ctx<'_>) {
    let (left, right) = titles(app, views, area.width, ctx);
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(ctx.theme.env_border(accent_of(app, views)))
        .title(left)
        .title_top(right);
    let inner = block.inner(area);
    f.render_widget(block, area);
    if inner.height == 0 {
        return;
    }
    let pane = views.pane(app.pane);
    let mut notes = panes::health_lines(&views.sources, ctx, !pane.has_data());
    if let Some(e) = pane.filter_error() {
        notes.insert(0, Line::styled(format!("filter: {e}"), ctx.theme.s.error));
    }
    // Stale data stays on screen under its notes; at most a third of the pane for them.
    let max_notes = (inner.height / 3).max(1) as usize;
    let shown = notes.len().min(max_notes);
    for (i, line) in notes.iter().take(shown).enumerate() {
        let line = if i + 1 == shown && notes.len() > shown {
            Line::styled(
                format!("… and {} more source problems", notes.len() - shown + 1),
                ctx.theme.s.stale,
            )
        } else {
            line.clone()
        };
        put_line(
            f.buffer_mut(),
            inner.x,
            inner.y + i as u16,
            inner.width,
            &line,
            Align::Left,
        );
    }
    let content = Rect {
        y: inner.y + shown as u16,
        height: inner.height - shown as u16,
        ..inner
    };
    pane.render(f, content, app, ctx);
    // Where the selection is, on the bottom border, when the list is longer than the pane.
    let list = app.list(app.pane);
    if pane.shows_position() && list.page() > 0 && list.len > list.page() {
        let pos = Line::styled(
            format!(
                " {}/{} ",
                format::count(list.selected + 1),
                format::count(list.len)
            ),
            ctx.theme.s.muted,
        );
        let w = pos.width() as u16;
        if w + 4 < area.width {
            put_line(
                f.buffer_mut(),
                area.x + area.width - w - 2,
                area.y + area.height - 1,
                w,
                &pos,
                Align::Left,
            );
        }
    }
}

/// The most lines a message in the status line takes; longer ones end in `…`.
const MESSAGE_LINES: usize = 3;

/// A message wraps onto up to [`MESSAGE_LINES`] lines instead of being cut at the edge;
/// everything else in the footer is one line.
fn footer_height(app: &App, width: u16) -> u16 {
    match (&app.input, &app.flash) {
        (None, Some(flash)) => message_lines(&flash.text, width).len() as u16,
        _ => 1,
    }
}

fn message_lines(text: &str, width: u16) -> Vec<String> {
    let mut lines = format::wrap(text, (width as usize).saturating_sub(2));
    if lines.len() > MESSAGE_LINES {
        lines.truncate(MESSAGE_LINES);
        let last = &mut lines[MESSAGE_LINES - 1];
        *last = format::cut(last, last.chars().count().max(2));
    }
    lines.truncate(MESSAGE_LINES);
    if lines.is_empty() {
        lines.push(String::new());
    }
    lines
}

fn draw_footer(f: &mut Frame, area: Rect, app: &App, views: &Views, ctx: &Ctx<'_>) {
    let s = &ctx.theme.s;
    if let Some(input) = app.input.as_ref() {
        let prompt = match input.kind {
            InputKind::Filter | InputKind::Search => "/",
            InputKind::Command => ":",
            InputKind::PortForward => ">",
        };
        f.render_widget(Span::styled(prompt, s.key), Rect { width: 1, ..area });
        // A command that fails closes the line and says why in the status line.
        let note = match (input.candidates.is_empty(), input.kind) {
            _ if input.error.is_some() => Line::styled(
                format!(" {}", input.error.as_deref().unwrap_or_default()),
                s.error,
            ),
            (false, _) => Line::styled(format!(" {}", input.candidates.join("  ")), s.muted),
            (true, InputKind::Filter) => {
                Line::styled(" Enter keeps · Esc restores · ~regex · app=web", s.muted)
            }
            (true, InputKind::Command) => {
                Line::styled(" Tab completes · Enter runs · Esc cancels", s.muted)
            }
            (true, InputKind::PortForward) => Line::styled(
                format!(
                    " ports of {} as LOCAL:REMOTE (8080:80, :80 any local) · Enter · Esc",
                    app.forward.0.as_ref().map_or("", |t| t.name.as_str())
                ),
                s.muted,
            ),
            (true, InputKind::Search) => Line::styled(
                " Enter goes to the next · n/N from match to match · Esc restores",
                s.muted,
            ),
        };
        let text_w = (input.value().len() as u16 + 2)
            .max(20)
            .min(area.width.saturating_sub(1) / 2 + 10);
        let text_area = Rect {
            x: area.x + 1,
            width: text_w.min(area.width - 1),
            ..area
        };
        let cursor = Style::new().add_modifier(Modifier::REVERSED);
        input.text.render(f, text_area, s.input, Some(cursor));
        let note_x = text_area.x + text_area.width;
        put_line(
            f.buffer_mut(),
            note_x,
            area.y,
            area.width.saturating_sub(note_x - area.x),
            &note,
            Align::Left,
        );
        return;
    }
    if let Some(flash) = &app.flash {
        let style = match flash.level {
            Level::Info => s.text,
            Level::Success => s.ok,
            Level::Error => s.error,
        };
        for (i, line) in message_lines(&flash.text, area.width).iter().enumerate() {
            put_line(
                f.buffer_mut(),
                area.x,
                area.y + i as u16,
                area.width,
                &Line::styled(format!(" {line}"), style),
                Align::Left,
            );
        }
        return;
    }
    if let Some(notice) = &app.notice {
        let style = match notice.level {
            Level::Success => s.ok,
            _ => s.error,
        };
        // The hint stays whole; the text gives way (the runs pane has it in full).
        let hint = "  7 runs · Esc dismisses";
        let room = (area.width as usize).saturating_sub(format::width(hint) + 3);
        let line = Line::from(vec![
            Span::styled(
                format!(" ! {}", format::truncate(&notice.text, room)),
                style,
            ),
            Span::styled(hint, s.muted),
        ]);
        put_line(
            f.buffer_mut(),
            area.x,
            area.y,
            area.width,
            &line,
            Align::Left,
        );
        return;
    }
    let contexts = app.contexts();
    let mut entries: Vec<(String, &str)> = Vec::new();
    for spec in keymap::footer(&contexts) {
        // The scope key means nothing outside an environment.
        if spec.action == keymap::Action::CycleScope
            && app.env.is_none()
            && app.pane != Pane::Alerts
        {
            continue;
        }
        // Left out when read-only mode, the engine or the selected object's cluster rules
        // it out: the footer offers what can be done (help lists the rest as off, and why).
        let target = app.action_target(spec, views);
        let target = target.as_ref().map(|(e, r)| (e.as_str(), *r));
        if app.availability(spec, target) != Availability::Available {
            continue;
        }
        entries.push((spec.first_key(), footer_label(spec)));
    }
    // What fits, in the registry's order; `? help` always, as the way to the rest.
    let width = |(key, label): &(String, &str)| key.chars().count() + label.chars().count() + 3;
    let help = entries.iter().position(|(key, _)| key == "?");
    let mut used = help.map_or(0, |i| width(&entries[i]));
    let mut shown = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        if Some(i) == help {
            continue;
        }
        if used + width(entry) > area.width as usize {
            break;
        }
        used += width(entry);
        shown.push(i);
    }
    if let Some(i) = help {
        // In its place when everything before it fits, else at the end.
        let at = shown.iter().position(|&j| j > i).unwrap_or(shown.len());
        shown.insert(at, i);
    }
    let mut spans: Vec<Span> = Vec::new();
    for (key, label) in shown.iter().map(|&i| &entries[i]) {
        spans.push(Span::raw(" "));
        spans.push(Span::styled(key.clone(), s.key));
        spans.push(Span::styled(format!(" {label} "), s.hint));
    }
    put_line(
        f.buffer_mut(),
        area.x,
        area.y,
        area.width,
        &Line::from(spans),
        Align::Left,
    );
}

/// Footer labels are the registry's, shortened where the footer is crowded.
fn footer_label(spec: &keymap::ActionSpec) -> &'static str {
    match spec.id {
        "global.scope" => "sc/wc",
        "global.command" => "cmd",
        "pods.sort" => "sort",
        "fleet.open" => "open",
        "cluster.node-pods" => "node's pods",
        "alerts.group" => "group",
        _ => spec.label,
    }
}
