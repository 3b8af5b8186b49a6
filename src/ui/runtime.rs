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
use super::handover;
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
    if let Some(text) = &live.shortfall {
        app.warn_until_acknowledged(text);
    }
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
    let mut term = new_terminal()?;

    let mut views = Views::default();
    let mut events = EventStream::new();

    let mut pacing = Pacing::new();

    let code = loop {
        let now = Instant::now();
        let wall = Utc::now();
        let generation = state.changes.generation();
        pacing.observe(generation, wall, now);
        pacing.expire_flash(&mut app, now);
        if pacing.should_draw(now) {
            let due = views.refresh(&mut app, &state, wall, now);
            let ctx = Ctx::new(&state, &theme, wall);
            term.draw(|f| render::draw(f, &app, &views, &ctx))?;
            pacing.drawn(generation, wall, due, now);
        }
        pacing.track_flash(&app, now);
        if let Some(code) = app.quit {
            break code;
        }
        if let Some(handover) = app.handover.take() {
            // The terminal goes to another program: nothing may read it meanwhile, and
            // the screen is drawn whole after.
            drop(events);
            let effects = match handover::run(handover, &mut app).await {
                Ok(effects) => effects,
                Err(e) => {
                    tracing::error!(error = %e, "taking the terminal back failed");
                    break crate::exit::FAILURE;
                }
            };
            term = match new_terminal() {
                Ok(t) => t,
                Err(e) => {
                    tracing::error!(error = %e, "drawing again failed");
                    break crate::exit::FAILURE;
                }
            };
            events = EventStream::new();
            // A Ctrl-C meant for the program (before it took the terminal raw, or at its
            // prompt) is not the console's; a hangup or SIGTERM still is.
            if let std::task::Poll::Ready(code) = futures::poll!(&mut shutdown) {
                if code != crate::exit::interrupted(libc::SIGINT) {
                    break code;
                }
                shutdown.set(terminal::shutdown_signal());
            }
            apply(effects, &mut tasks, &mut app, &mut theme, &opts);
            pacing.input();
            continue;
        }
        let wake = pacing.wake(now);
        tokio::select! {
            biased;
            code = &mut shutdown => break code,
            ev = events.next() => match ev {
                Some(Ok(Event::Key(k))) if k.kind != KeyEventKind::Release => {
                    let keys = if app.takes_alt_keys() {
                        vec![k]
                    } else {
                        split_alt(k)
                    };
                    for key in keys {
                        let effects = app.on_key(key, &views);
                        apply(effects, &mut tasks, &mut app, &mut theme, &opts);
                        // A pane switched by the first key must be current for the second.
                        views.refresh(&mut app, &state, Utc::now(), Instant::now());
                    }
                    pacing.input();
                }
                Some(Ok(Event::Paste(text))) => {
                    app.on_paste(&text);
                    pacing.input();
                }
                Some(Ok(Event::Resize(..))) => {
                    term.autoresize()?;
                    pacing.input();
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(anyhow::anyhow!("reading the terminal: {e}")),
                // The terminal is gone (hangup without a signal): nothing left to draw on.
                None => break crate::exit::OK,
            },
            Some(ev) = rx.recv() => {
                app.on_event(ev);
                pacing.changed();
            }
            _ = state.changes.wait(), if !pacing.dirty => pacing.changed(),
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

/// A terminal drawn from scratch on a cleared screen: at start, and after a program the
/// terminal was handed to. One write per frame: crossterm issues a write per command, and
/// an unbuffered writer turns every cell change into a syscall.
fn new_terminal() -> io::Result<Term> {
    let backend = QuietBackend::new(CrosstermBackend::new(BufWriter::with_capacity(
        1 << 16,
        io::stdout(),
    )));
    let mut term: Term = Terminal::new(backend)?;
    // Not `Terminal::clear`: it asks the terminal where the cursor is, a round trip that
    // a slow SSH link or a terminal that never answers turns into a 2 s stall or an error.
    // A new terminal's last frame is blank, as the cleared screen is: the first draw is
    // whole.
    term.backend_mut()
        .clear_region(ratatui::backend::ClearType::All)?;
    Ok(term)
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
            Effect::Copy(text) => {
                if let Err(e) = terminal::copy_to_clipboard(&text) {
                    app.flash(Level::Error, format!("copying failed: {e}"));
                }
            }
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
/// Alt-keys (its own editor aside, which takes them), so it reads such a key as the Esc
/// and the key it was.
fn split_alt(k: KeyEvent) -> Vec<KeyEvent> {
    if k.modifiers.contains(KeyModifiers::ALT) && matches!(k.code, KeyCode::Char(_)) {
        let mut plain = k;
        plain.modifiers.remove(KeyModifiers::ALT);
        vec![KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE), plain]
    } else {
        vec![k]
    }
}

/// When the loop draws and when it wakes, apart from its I/O: a frame only when something
/// changed, at once after input, at most once per [`FRAME`] for data, and nothing at all
/// while idle (a heartbeat looks, and draws only if the minute in the clock changed).
#[derive(Debug)]
struct Pacing {
    /// Something on screen may have changed since the last frame.
    dirty: bool,
    /// Set by input: the next frame is drawn at once, not at the next frame tick, so a key
    /// shows as fast as it can be drawn. The frame limit paces data-driven redraws only.
    urgent: bool,
    drawn_generation: u64,
    drawn_minute: i64,
    last_frame: Option<Instant>,
    /// When the views asked to be drawn again (a countdown, a spinner).
    due: Option<Instant>,
    /// The footer message shown and when it goes.
    flash_until: Option<(u64, Instant)>,
}

impl Pacing {
    fn new() -> Pacing {
        Pacing {
            dirty: true,
            urgent: false,
            drawn_generation: u64::MAX,
            drawn_minute: i64::MIN,
            last_frame: None,
            due: None,
            flash_until: None,
        }
    }

    /// Input arrived: draw at once.
    fn input(&mut self) {
        (self.dirty, self.urgent) = (true, true);
    }

    /// Data or a task report arrived: draw at the next frame tick.
    fn changed(&mut self) {
        self.dirty = true;
    }

    /// Looks at the fleet's change counter, the wall clock's minute and the views' due time.
    fn observe(&mut self, generation: u64, wall: chrono::DateTime<Utc>, now: Instant) {
        if generation != self.drawn_generation
            || wall.timestamp() / 60 != self.drawn_minute
            || self.due.is_some_and(|d| now >= d)
        {
            self.dirty = true;
        }
    }

    /// Clears the footer message once its time is up, unless a newer one replaced it.
    fn expire_flash(&mut self, app: &mut App, now: Instant) {
        if let Some((seq, until)) = self.flash_until
            && now >= until
        {
            if app.flash.as_ref().is_some_and(|f| f.seq == seq) {
                app.flash = None;
                self.dirty = true;
            }
            self.flash_until = None;
        }
    }

    fn should_draw(&self, now: Instant) -> bool {
        self.dirty && may_draw(self.urgent, self.last_frame, now)
    }

    fn drawn(
        &mut self,
        generation: u64,
        wall: chrono::DateTime<Utc>,
        due: Option<Instant>,
        now: Instant,
    ) {
        self.urgent = false;
        self.dirty = false;
        self.drawn_generation = generation;
        self.drawn_minute = wall.timestamp() / 60;
        self.due = due;
        self.last_frame = Some(now);
    }

    /// A new footer message starts its own timer.
    fn track_flash(&mut self, app: &App, now: Instant) {
        if let Some(f) = &app.flash
            && self.flash_until.is_none_or(|(seq, _)| seq != f.seq)
        {
            self.flash_until = Some((f.seq, now + FLASH));
        }
    }

    /// The next time the loop must look even if nothing wakes it.
    fn wake(&self, now: Instant) -> Instant {
        [
            self.dirty
                .then(|| self.last_frame.map_or(now, |t| t + FRAME)),
            self.due,
            self.flash_until.map(|f| f.1),
        ]
        .into_iter()
        .flatten()
        .fold(now + HEARTBEAT, Instant::min)
    }
}

/// Whether a frame may be drawn now: at once after input (`urgent`), else at most once per
/// [`FRAME`], so a burst of data changes costs a frame per tick, not one per change.
fn may_draw(urgent: bool, last_frame: Option<Instant>, now: Instant) -> bool {
    urgent || last_frame.is_none_or(|t| now >= t + FRAME)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn input_draws_at_once_and_data_waits_for_the_tick() {
        let now = Instant::now();
        let just_drawn = Some(now);
        assert!(may_draw(true, just_drawn, now), "a key is drawn at once");
        assert!(!may_draw(false, just_drawn, now), "a data change waits");
        assert!(may_draw(false, just_drawn, now + FRAME));
        assert!(may_draw(false, None, now), "the first frame");
    }

    /// A pacing that has drawn its first frame at `t0`, generation 1, 12:00:10.
    fn drawn_at(t0: Instant) -> (Pacing, chrono::DateTime<Utc>) {
        let wall = Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 10).unwrap();
        let mut p = Pacing::new();
        p.observe(1, wall, t0);
        assert!(p.should_draw(t0), "the first frame is drawn");
        p.drawn(1, wall, None, t0);
        (p, wall)
    }

    #[test]
    fn idle_draws_nothing_and_wakes_only_at_the_heartbeat() {
        let t0 = Instant::now();
        let (mut p, wall) = drawn_at(t0);
        assert_eq!(p.wake(t0), t0 + HEARTBEAT);
        let later = t0 + HEARTBEAT;
        p.observe(1, wall + chrono::Duration::seconds(1), later);
        assert!(!p.should_draw(later), "same data, same minute: no output");
        // The minute in the clock changed: the ages on screen did too.
        let next_minute = wall + chrono::Duration::seconds(50);
        p.observe(1, next_minute, later);
        assert!(p.should_draw(later));
    }

    #[test]
    fn data_changes_wait_for_the_frame_tick_and_input_does_not() {
        let t0 = Instant::now();
        let (mut p, wall) = drawn_at(t0);
        let soon = t0 + Duration::from_millis(5);
        p.observe(2, wall, soon);
        assert!(
            !p.should_draw(soon),
            "a burst of changes costs one frame per tick"
        );
        assert_eq!(p.wake(soon), t0 + FRAME, "and wakes for that tick");
        p.input();
        assert!(p.should_draw(soon), "a key is drawn at once");
        p.drawn(2, wall, None, soon);
        assert!(!p.urgent && !p.dirty);
        p.changed();
        assert!(!p.should_draw(soon + Duration::from_millis(1)));
        assert!(p.should_draw(soon + FRAME));
    }

    #[test]
    fn a_view_asking_to_be_drawn_again_wakes_the_loop_then() {
        let t0 = Instant::now();
        let (mut p, wall) = drawn_at(t0);
        let due = t0 + Duration::from_millis(200);
        p.drawn(1, wall, Some(due), t0);
        assert_eq!(p.wake(t0), due);
        p.observe(1, wall, due - Duration::from_millis(1));
        assert!(!p.dirty);
        p.observe(1, wall, due);
        assert!(p.should_draw(due));
    }

    #[test]
    fn a_footer_message_goes_after_its_time_unless_a_newer_one_replaced_it() {
        let t0 = Instant::now();
        let (mut p, wall) = drawn_at(t0);
        let mut app = App::new(vec!["globex".into()]);
        app.flash(Level::Info, "first");
        p.track_flash(&app, t0);
        assert_eq!(p.wake(t0), t0 + HEARTBEAT, "the heartbeat comes first");
        let half = t0 + FLASH / 2;
        app.flash(Level::Error, "second");
        p.expire_flash(&mut app, half);
        p.track_flash(&app, half);
        p.expire_flash(&mut app, t0 + FLASH);
        assert_eq!(app.flash.as_ref().map(|f| f.text.as_str()), Some("second"));
        p.drawn(1, wall, None, t0 + FLASH);
        // Within a heartbeat of its end, the message's end is what wakes the loop.
        assert_eq!(p.wake(half + FLASH - HEARTBEAT / 2), half + FLASH);
        p.expire_flash(&mut app, half + FLASH);
        assert!(app.flash.is_none());
        assert!(p.dirty, "its going is drawn");
    }

    #[test]
    fn alt_key_is_read_as_esc_then_the_key() {
        let alt_q = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::ALT);
        assert_eq!(
            split_alt(alt_q),
            [
                KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE),
                KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE)
            ]
        );
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(split_alt(ctrl_c), [ctrl_c]);
        let alt_enter = KeyEvent::new(KeyCode::Enter, KeyModifiers::ALT);
        assert_eq!(split_alt(alt_enter), [alt_enter]);
    }
}
