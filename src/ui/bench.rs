//! Measurements for `ck8s-console bench`: the cost of a pods frame and of a filter
//! keystroke, on the real rendering path with a `TestBackend` in place of the terminal.

use std::time::{Duration, Instant};

use chrono::Utc;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::app::{App, Pane};
use super::keymap::Action;
use super::render::{self, Ctx};
use super::theme::Theme;
use super::views::Views;
use crate::state::FleetState;

fn setup(state: &FleetState, env: &str, width: u16, height: u16) -> (App, Views, Terminal<TestBackend>, Theme) {
    let mut app = App::new(state.envs.iter().map(|e| e.name.clone()).collect());
    let _ = app.go(Pane::Pods, Some(env.to_string()));
    let terminal = Terminal::new(TestBackend::new(width, height)).expect("a test backend never fails");
    let theme = Theme::built_in(super::theme::DEFAULT).expect("the default theme is built in");
    (app, Views::default(), terminal, theme)
}

/// One full frame of the pods pane of `env` (both clusters), `frames` times, scrolling
/// one row per frame so that every visible row changes. The first copy and sort of the
/// pods happen before the measured frames, as they do once per data change in use.
pub fn render_frames(state: &FleetState, env: &str, width: u16, height: u16, frames: usize) -> Vec<Duration> {
    let (mut app, mut views, mut term, theme) = setup(state, env, width, height);
    let now = Utc::now();
    let ctx = Ctx::new(state, &theme, now);
    views.refresh(&mut app, state, now, Instant::now());
    let _ = term.draw(|f| render::draw(f, &mut app, &views, &ctx));
    // Start at the bottom of the first page, so the very first step scrolls.
    app.lists.pods.selected = app.lists.pods.page;
    let mut times = Vec::with_capacity(frames);
    for _ in 0..frames {
        let start = Instant::now();
        if !app.lists.pods.apply(Action::Down) || app.lists.pods.selected + 1 >= app.lists.pods.len {
            app.lists.pods.selected = app.lists.pods.page;
        }
        views.refresh(&mut app, state, now, Instant::now());
        let _ = term.draw(|f| render::draw(f, &mut app, &views, &ctx));
        times.push(start.elapsed());
    }
    times
}

/// Types `text` into the pods filter of `env` one character at a time; each measured
/// keystroke includes re-filtering all pods and drawing the frame, at 200x50.
pub fn filter_keystrokes(state: &FleetState, env: &str, text: &str) -> Vec<Duration> {
    let (mut app, mut views, mut term, theme) = setup(state, env, 200, 50);
    let now = Utc::now();
    let ctx = Ctx::new(state, &theme, now);
    views.refresh(&mut app, state, now, Instant::now());
    let _ = term.draw(|f| render::draw(f, &mut app, &views, &ctx));
    let key = |c: char| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
    let _ = app.on_key(key('/'), &views);
    let mut times = Vec::with_capacity(text.len());
    for c in text.chars() {
        let start = Instant::now();
        let _ = app.on_key(key(c), &views);
        views.refresh(&mut app, state, now, Instant::now());
        let _ = term.draw(|f| render::draw(f, &mut app, &views, &ctx));
        times.push(start.elapsed());
    }
    times
}
