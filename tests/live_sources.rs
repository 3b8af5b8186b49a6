//! The console's live sources as the README describes them: heavy sources (pods and the
//! like) only for the two most recently opened environments, and the slowly changing kinds
//! listed on an interval (15 s by default) rather than watched.

mod common;

use std::sync::Arc;
use std::time::Duration;

use ck8s_console::ui::app::Effect;
use ck8s_console::ui::tasks::Tasks;
use ck8s_fleet::sources::live::{Intervals, LiveFleet};
use ck8s_model::config;
use ck8s_sim::SimOptions;

const WAIT: Duration = Duration::from_secs(30);

/// Waits, polling the state, until `ok` holds.
async fn until(what: &str, ok: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited {WAIT:?} for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn only_the_two_most_recent_environments_keep_their_pods() {
    let sim = common::start(SimOptions {
        environments: 3,
        ..SimOptions::default()
    });
    let fleet = config::load(&sim.fleet_file).unwrap();
    sim.rt.block_on(async {
        let live = Arc::new(LiveFleet::start(&fleet, Intervals::default()).await);
        let (tx, _rx) = tokio::sync::mpsc::channel(1024);
        let mut tasks = Tasks::new(live.clone(), None, tx);
        let pods = |env: &str| live.state.env(env).unwrap().wc.read().pods.len();
        let open = |tasks: &mut Tasks, env: &str| tasks.run(Effect::OpenEnv(env.into()));
        assert_eq!(pods("acme"), 0, "nothing open yet");
        open(&mut tasks, "acme");
        until("acme's pods", || pods("acme") > 0).await;
        open(&mut tasks, "globex");
        until("globex's pods", || pods("globex") > 0).await;
        // Back to acme: it becomes the most recent, globex the older of the two.
        open(&mut tasks, "acme");
        open(&mut tasks, "initech");
        until("initech's pods, globex's freed", || {
            pods("initech") > 0 && pods("globex") == 0
        })
        .await;
        assert!(pods("acme") > 0, "the most recent stays open");
    });
}

/// From a server without HTTP/2, where each watch would hold a connection, the slowly
/// changing kinds are listed and follow changes at their interval: 15 s by default,
/// shortened here. (Over HTTP/2 they are watched.)
#[test]
fn listed_kinds_follow_changes_at_their_interval() {
    assert_eq!(Intervals::default().lists, Duration::from_secs(15));
    let sim = common::start(SimOptions {
        environments: 1,
        http1_only: true,
        ..SimOptions::default()
    });
    let fleet = config::load(&sim.fleet_file).unwrap();
    let intervals = Intervals {
        lists: Duration::from_millis(500),
        ..Intervals::default()
    };
    sim.rt.block_on(async {
        let live = LiveFleet::start(&fleet, intervals).await;
        let wc = live.state.env("acme").unwrap().wc.clone();
        let paused = || {
            wc.read()
                .backup
                .schedules
                .values()
                .any(|s| s.name.as_ref() == "velero-daily-backup" && s.paused)
        };
        until("the schedule listed", || {
            !wc.read().backup.schedules.is_empty()
        })
        .await;
        assert!(!paused());
        // Listed again and again at the interval: 4 more lists in 2.5 s (at 15 s, none).
        let lists = wc.read().backup.schedules.lists();
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        let more = wc.read().backup.schedules.lists() - lists;
        assert!((3..=6).contains(&more), "{more} lists in 2.5 s");
        sim.ok(&[
            "--context",
            "acme-wc",
            "-n",
            "velero",
            "patch",
            "schedules.velero.io",
            "velero-daily-backup",
            "--type=merge",
            "-p",
            r#"{"spec":{"paused":true}}"#,
        ]);
        until("the pause seen at the next list", paused).await;
    });
}
