//! Measurements for `ck8s-console bench`: the cost of a pods frame and of a filter
//! keystroke, on the real rendering path with a `TestBackend` in place of the terminal.

use std::time::{Duration, Instant};

use chrono::Utc;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::app::{App, Pane};
use super::ctx::Ctx;
use super::nav::Move;
use super::render;
use super::theme::Theme;
use super::views::Views;
use crate::state::FleetState;

fn setup(
    state: &FleetState,
    env: &str,
    width: u16,
    height: u16,
) -> (App, Views, Terminal<TestBackend>, Theme) {
    let mut app = App::new(state.envs.iter().map(|e| e.name.clone()).collect());
    let _ = app.go(Pane::Pods, Some(env.to_string()));
    let terminal =
        Terminal::new(TestBackend::new(width, height)).expect("a test backend never fails");
    let theme = Theme::built_in(super::theme::DEFAULT).expect("the default theme is built in");
    (app, Views::default(), terminal, theme)
}

/// One full frame of the pods pane of `env` (both clusters), `frames` times, scrolling
/// one row per frame so that every visible row changes. The first copy and sort of the
/// pods happen before the measured frames, as they do once per data change in use.
pub fn render_frames(
    state: &FleetState,
    env: &str,
    width: u16,
    height: u16,
    frames: usize,
) -> Vec<Duration> {
    let (mut app, mut views, mut term, theme) = setup(state, env, width, height);
    let now = Utc::now();
    let ctx = Ctx::new(state, &theme, now);
    views.refresh(&mut app, state, now, Instant::now());
    let _ = term.draw(|f| render::draw(f, &app, &views, &ctx));
    // Start at the bottom of the first page, so the very first step scrolls.
    app.lists.pods.selected = app.lists.pods.page();
    let mut times = Vec::with_capacity(frames);
    for _ in 0..frames {
        let start = Instant::now();
        app.lists.pods.apply(Move::Down);
        if app.lists.pods.selected + 1 >= app.lists.pods.len {
            app.lists.pods.selected = app.lists.pods.page();
        }
        views.refresh(&mut app, state, now, Instant::now());
        let _ = term.draw(|f| render::draw(f, &app, &views, &ctx));
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
    let _ = term.draw(|f| render::draw(f, &app, &views, &ctx));
    let key = |c: char| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
    let _ = app.on_key(key('/'), &views);
    let mut times = Vec::with_capacity(text.len());
    for c in text.chars() {
        let start = Instant::now();
        let _ = app.on_key(key(c), &views);
        views.refresh(&mut app, state, now, Instant::now());
        let _ = term.draw(|f| render::draw(f, &app, &views, &ctx));
        times.push(start.elapsed());
    }
    times
}

/// Keys as an on-call engineer presses them in the pods pane of `env` at 200x50 (PageDown,
/// j, k, End, Home, then a filter typed and cleared), each measured from the key to its
/// frame: the state machine, the copy out of the state, and the drawing, which is what the
/// event loop does at once after input.
pub fn key_to_frame(state: &FleetState, env: &str, rounds: usize) -> Vec<Duration> {
    let (mut app, mut views, mut term, theme) = setup(state, env, 200, 50);
    let now = Utc::now();
    let ctx = Ctx::new(state, &theme, now);
    views.refresh(&mut app, state, now, Instant::now());
    let _ = term.draw(|f| render::draw(f, &app, &views, &ctx));
    let plain = |code| KeyEvent::new(code, KeyModifiers::NONE);
    let mut keys = vec![
        plain(KeyCode::PageDown),
        plain(KeyCode::PageDown),
        plain(KeyCode::Char('j')),
        plain(KeyCode::Char('k')),
        plain(KeyCode::End),
        plain(KeyCode::Home),
        plain(KeyCode::Char('/')),
    ];
    keys.extend("pay".chars().map(|c| plain(KeyCode::Char(c))));
    keys.extend([plain(KeyCode::Enter), plain(KeyCode::Esc)]);
    let mut times = Vec::with_capacity(rounds * keys.len());
    for _ in 0..rounds {
        for key in &keys {
            let start = Instant::now();
            let _ = app.on_key(*key, &views);
            views.refresh(&mut app, state, now, Instant::now());
            let _ = term.draw(|f| render::draw(f, &app, &views, &ctx));
            times.push(start.elapsed());
        }
    }
    times
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClusterRole;
    use crate::state::rows::{PodPhase, PodRow, Usage};

    /// One environment with `per_cluster` pods in each cluster, named like real ones.
    fn fleet(per_cluster: usize) -> FleetState {
        let state = crate::state::test_fleet("big");
        let env = state.env("big").unwrap().clone();
        let apps = [
            "payments",
            "orders-api",
            "webshop-frontend",
            "search",
            "inventory",
            "auth-gateway",
        ];
        for role in ClusterRole::ALL {
            env.cluster(role).update(|s| {
                for i in 0..per_cluster {
                    let ns = s.interner.get(&format!("team-{:03}", i % 120));
                    let app = apps[i % apps.len()];
                    let name = format!("{app}-{:08x}-{:05x}", i * 2_654_435_761 % 0xffff_ffff, i);
                    let status = s.interner.get(if i % 97 == 0 {
                        "CrashLoopBackOff"
                    } else {
                        "Running"
                    });
                    let node = s.interner.get(&format!("{role}-worker-{:02}", i % 20));
                    let label = (s.interner.get("app"), s.interner.get(app));
                    let pod = PodRow {
                        namespace: ns.clone(),
                        name: Box::from(name.as_str()),
                        phase: PodPhase::Running,
                        status,
                        ready: 1,
                        containers: 1,
                        restarts: (i % 7) as u32,
                        created: 1_764_000_000 - i as i64,
                        node: Some(node),
                        ip: None,
                        owner: None,
                        labels: Box::new([label]),
                    };
                    s.pod_usage.insert(
                        (ns.clone(), Box::from(name.as_str())),
                        Usage {
                            cpu: 0.01 * (i % 50) as f64,
                            memory_bytes: 1e6 * (i % 300) as f64,
                        },
                    );
                    s.pods.upsert((ns, Box::from(name.as_str())), pod);
                }
                s.pods.commit_relist();
            });
        }
        state
    }

    fn percentile(times: &mut [Duration], p: f64) -> Duration {
        times.sort();
        times[((times.len() - 1) as f64 * p).round() as usize]
    }

    #[test]
    fn frames_and_keystrokes_are_measured() {
        let state = fleet(200);
        assert_eq!(render_frames(&state, "big", 80, 24, 5).len(), 5);
        assert_eq!(filter_keystrokes(&state, "big", "pay").len(), 3);
    }

    /// `cargo test --release --lib ui::bench -- --ignored --nocapture`: the numbers of
    /// the bars (p99 frame at 200x50 ≤ 8 ms, keystroke at 30 000 pods ≤ 50 ms).
    #[test]
    #[ignore = "a measurement, not a test: run it in release"]
    fn thirty_thousand_pods() {
        let state = fleet(15_000);
        let mut frames = render_frames(&state, "big", 200, 50, 600);
        let mut keys = filter_keystrokes(&state, "big", "payments-9");
        let regex = filter_keystrokes(&state, "big", "~crash|oomkill");
        // What a data change costs: copying, sorting and filtering all pods again.
        let mut rebuilds: Vec<Duration> = (0..10)
            .map(|_| {
                let mut app = App::new(vec!["big".into()]);
                app.env = Some("big".into());
                let mut index = super::super::panes::pods::PodsIndex::default();
                let start = Instant::now();
                index.update(&mut app, &state, Instant::now());
                start.elapsed()
            })
            .collect();
        println!(
            "frame 200x50: p50 {:?} p99 {:?} | keystroke: p50 {:?} max {:?} | regex keystroke max {:?}",
            percentile(&mut frames, 0.5),
            percentile(&mut frames, 0.99),
            percentile(&mut keys, 0.5),
            keys.iter().max().unwrap(),
            regex.iter().max().unwrap(),
        );
        println!(
            "copy + sort + filter of all pods on a data change: p50 {:?}",
            percentile(&mut rebuilds, 0.5)
        );
    }
}
