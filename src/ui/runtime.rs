//! The event loop: keys, task reports, state changes and signals in one `select!`, and
//! a frame drawn only when something changed, at most ~30 times a second. Input is read
//! while data loads; drawing reads copies and never waits on I/O.

use std::io::{self, BufWriter, Stdout};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use crossterm::event::{Event, EventStream, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use futures::StreamExt;
use ratatui::Terminal;
use ratatui::backend::{Backend, CrosstermBackend};
use tokio::sync::mpsc;
use tokio::time::sleep_until;

use super::UiOptions;
use super::app::{App, Effect, Level};
use super::ctx::Ctx;
use super::output::QuietBackend;
use super::render;
use super::tasks::Tasks;
use super::theme::Theme;
use super::views::Views;
use crate::sources::live::LiveFleet;
use crate::terminal::{self, TerminalGuard};

/// The shortest time between frames: about 30 per second.
const FRAME: Duration = Duration::from_millis(33);
/// A message in the footer stays this long unless a key dismisses it.
const FLASH: Duration = Duration::from_secs(6);
/// How often the loop looks at the clock and the change counter even when nothing woke
/// it, so that a missed wake-up or the minute changing is noticed. It draws only if the
/// screen would change.
const HEARTBEAT: Duration = Duration::from_secs(1);

type Term = Terminal<QuietBackend<CrosstermBackend<BufWriter<Stdout>>>>;

pub async fn run(live: Arc<LiveFleet>, opts: UiOptions, mut theme: Theme) -> anyhow::Result<i32> {
    let state = live.state.clone();
    let mut app = App::new(state.envs.iter().map(|e| e.name.clone()).collect());
    app.read_only = opts.read_only;
    app.read_only_envs = state
        .envs
        .iter()
        .filter(|e| e.read_only)
        .map(|e| e.name.clone())
        .collect();
    app.author = opts.author.clone().unwrap_or_else(crate::engine::user_name);
    app.themes = Theme::names(&opts.themes_dir);
    let (tx, mut rx) = mpsc::channel(1024);
    app.engine = opts.engine.is_some();
    let mut tasks = Tasks::new(live.clone(), opts.engine.clone(), tx);
    if let Some(env) = &opts.env {
        let effects = app.go(super::app::Pane::Cluster, Some(env.clone()));
        effects.into_iter().for_each(|e| tasks.run(e));
    }

    // The signal handlers are installed by the first poll; do it before the terminal is
    // taken, so that a SIGTERM arriving during the first frame is ours to handle (the
    // default action would kill the process with the terminal still in raw mode).
    let shutdown = terminal::shutdown_signal();
    tokio::pin!(shutdown);
    if let std::task::Poll::Ready(code) = futures::poll!(&mut shutdown) {
        return Ok(code);
    }

    let guard = TerminalGuard::enter()?;
    // One write per frame: crossterm issues a write per command, and an unbuffered
    // writer turns every cell change into a syscall.
    let backend = QuietBackend::new(CrosstermBackend::new(BufWriter::with_capacity(
        1 << 16,
        io::stdout(),
    )));
    let mut term: Term = Terminal::new(backend)?;
    // Not `Terminal::clear`: it asks the terminal where the cursor is, a round trip that
    // a slow SSH link or a terminal that never answers turns into a 2 s stall or an error.
    term.backend_mut()
        .clear_region(ratatui::backend::ClearType::All)?;

    let mut views = Views::default();
    let mut events = EventStream::new();

    let mut dirty = true;
    // Set by input: the next frame is drawn at once, not at the next frame tick, so a key
    // shows as fast as it can be drawn. The frame limit paces data-driven redraws only.
    let mut urgent = false;
    let mut drawn_generation = u64::MAX;
    let mut drawn_minute = i64::MIN;
    let mut last_frame: Option<Instant> = None;
    let mut due: Option<Instant> = None;
    let mut flash_until: Option<(u64, Instant)> = None;

    let code = loop {
        let now = Instant::now();
        let wall = Utc::now();
        if state.changes.generation() != drawn_generation
            || wall.timestamp() / 60 != drawn_minute
            || due.is_some_and(|d| now >= d)
        {
            dirty = true;
        }
        if let Some((seq, until)) = flash_until
            && now >= until
        {
            if app.flash.as_ref().is_some_and(|f| f.seq == seq) {
                app.flash = None;
                dirty = true;
            }
            flash_until = None;
        }
        let frame_ready = may_draw(urgent, last_frame, now);
        if dirty && frame_ready {
            urgent = false;
            drawn_generation = state.changes.generation();
            drawn_minute = wall.timestamp() / 60;
            due = views.refresh(&mut app, &state, wall, now);
            let ctx = Ctx::new(&state, &theme, wall);
            term.draw(|f| render::draw(f, &app, &views, &ctx))?;
            last_frame = Some(now);
            dirty = false;
        }
        if let Some(f) = &app.flash
            && flash_until.is_none_or(|(seq, _)| seq != f.seq)
        {
            flash_until = Some((f.seq, now + FLASH));
        }
        if let Some(code) = app.quit {
            break code;
        }
        let mut wake = now + HEARTBEAT;
        for t in [
            dirty.then(|| last_frame.map_or(now, |t| t + FRAME)),
            due,
            flash_until.map(|f| f.1),
        ]
        .into_iter()
        .flatten()
        {
            wake = wake.min(t);
        }
        tokio::select! {
            biased;
            code = &mut shutdown => break code,
            ev = events.next() => match ev {
                Some(Ok(Event::Key(k))) if k.kind != KeyEventKind::Release => {
                    for key in split_alt(k) {
                        let effects = app.on_key(key, &views);
                        apply(effects, &mut tasks, &mut app, &mut theme, &opts);
                        // A pane switched by the first key must be current for the second.
                        views.refresh(&mut app, &state, Utc::now(), Instant::now());
                    }
                    (dirty, urgent) = (true, true);
                }
                Some(Ok(Event::Paste(text))) => {
                    app.on_paste(&text);
                    (dirty, urgent) = (true, true);
                }
                Some(Ok(Event::Resize(..))) => {
                    term.autoresize()?;
                    (dirty, urgent) = (true, true);
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(anyhow::anyhow!("reading the terminal: {e}")),
                // The terminal is gone (hangup without a signal): nothing left to draw on.
                None => break crate::exit::OK,
            },
            Some(ev) = rx.recv() => {
                app.on_event(ev);
                dirty = true;
            }
            _ = state.changes.wait(), if !dirty => dirty = true,
            _ = sleep_until(tokio::time::Instant::from_std(wake)) => {}
        }
    };
    drop(tasks);
    drop(term);
    drop(guard);
    if let Some(engine) = &opts.engine {
        stop_runs(engine).await;
    }
    Ok(code)
}

/// Runs of this console stop at a safe point before it exits, however it exits (quit, a
/// signal, the terminal going away), so no cluster stays locked by a dead process.
async fn stop_runs(engine: &crate::engine::Engine) {
    let runs = engine.local_runs();
    if runs.is_empty() {
        return;
    }
    eprintln!(
        "stopping {} run(s) at their next safe point: {}",
        runs.len(),
        runs.join(", ")
    );
    let left = engine.shutdown(Duration::from_secs(60)).await;
    if left > 0 {
        eprintln!(
            "{left} run(s) did not stop in time; `ck8s-console runs resume ID` goes on with them"
        );
    }
}

fn apply(
    effects: Vec<Effect>,
    tasks: &mut Tasks,
    app: &mut App,
    theme: &mut Theme,
    opts: &UiOptions,
) {
    for effect in effects {
        match effect {
            Effect::SetTheme(name) => match Theme::load(&name, &opts.themes_dir) {
                Ok(t) => {
                    *theme = t;
                    app.flash(Level::Success, format!("theme {name}"));
                }
                Err(e) => app.flash(Level::Error, e.to_string()),
            },
            other => tasks.run(other),
        }
    }
}

/// A key typed right after Esc arrives as one Alt-key (`ESC q` is how terminals send
/// Alt-q); over a slow SSH link that happens to quick typists. The console binds no
/// Alt-keys, so it reads such a key as the Esc and the key it was.
fn split_alt(k: KeyEvent) -> Vec<KeyEvent> {
    if k.modifiers.contains(KeyModifiers::ALT) && matches!(k.code, KeyCode::Char(_)) {
        let mut plain = k;
        plain.modifiers.remove(KeyModifiers::ALT);
        vec![KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE), plain]
    } else {
        vec![k]
    }
}

/// Whether a frame may be drawn now: at once after input (`urgent`), else at most once per
/// [`FRAME`], so a burst of data changes costs a frame per tick, not one per change.
fn may_draw(urgent: bool, last_frame: Option<Instant>, now: Instant) -> bool {
    urgent || last_frame.is_none_or(|t| now >= t + FRAME)
}

#[cfg(test)]
mod frame_tests {
    use super::*;

    #[test]
    fn input_draws_at_once_and_data_waits_for_the_tick() {
        let now = Instant::now();
        let just_drawn = Some(now);
        assert!(may_draw(true, just_drawn, now), "a key is drawn at once");
        assert!(!may_draw(false, just_drawn, now), "a data change waits");
        assert!(may_draw(false, just_drawn, now + FRAME));
        assert!(may_draw(false, None, now), "the first frame");
    }
}
