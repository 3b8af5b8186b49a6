//! `ck8s-console bench`: the numbers behind the performance targets, measured against a
//! simulated fleet in a separate process so that only the console's own memory counts.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;

use crate::cli::BenchArgs;
use crate::config::{self, ClusterRole};
use crate::sources::live::{Intervals, LiveFleet};
use crate::state::ClusterHandle;
use crate::state::health::Source;
use ck8s_fleet::sources::bench;

pub mod fleet;

/// The targets from the design's quality bars.
#[derive(Debug, Serialize)]
pub struct Targets {
    pub sync_seconds: f64,
    pub rss_mib: f64,
    pub relist_peak_ratio: f64,
    pub events_per_sec: f64,
    pub frame_p99_ms: f64,
    pub keystroke_ms: f64,
    pub key_to_frame_p99_ms: f64,
    pub fault_frame_ms: f64,
}

const TARGETS: Targets = Targets {
    sync_seconds: 5.0,
    rss_mib: 120.0,
    relist_peak_ratio: 1.5,
    events_per_sec: 50_000.0,
    frame_p99_ms: 8.0,
    keystroke_ms: 50.0,
    key_to_frame_p99_ms: 16.0,
    fault_frame_ms: 50.0,
};

/// The faults drawing is measured under (the simulator's JSON), each for a few seconds on
/// the workload cluster's servers while its watchers reconnect through it.
const FAULTS: [&str; 6] = [
    r#"{"service":"api","kind":"down","duration":"3s"}"#,
    r#"{"service":"api","kind":"latency","latency_ms":1000,"jitter_ms":1000,"duration":"3s"}"#,
    r#"{"service":"api","kind":"status","code":500,"duration":"3s"}"#,
    r#"{"service":"api","kind":"revoked","duration":"3s"}"#,
    r#"{"service":"api","kind":"malformed","duration":"3s"}"#,
    r#"{"service":"alertmanager","kind":"reset","duration":"3s"}"#,
];
const FAULT_LASTS: Duration = Duration::from_secs(3);

/// Frames drawn for the render measurement, and the text typed into the pod filter.
const FRAMES: usize = 300;
/// Rounds of the key sequence of `key_to_frame`.
const KEY_ROUNDS: usize = 30;
const FILTER_TEXT: &str = "payments-";

#[derive(Debug, Serialize)]
pub struct BenchReport {
    pub pods_requested: u32,
    pub pods_synced: usize,
    /// From starting the sources to every pod, node and workload listed.
    pub sync_seconds: f64,
    pub rss_after_sync_mib: f64,
    /// Highest RSS while both clusters relist after a forced 410 Gone.
    pub relist_peak_rss_mib: f64,
    pub relist_peak_ratio: f64,
    pub relist_seconds: f64,
    /// Pod watch events decoded, projected and applied to the state, per second (one
    /// core), replaying real objects from the simulator.
    pub events_per_sec: f64,
    pub events_measured: u64,
    /// The pods pane of both clusters at 200x50, rendered into an off-screen buffer.
    pub frame_p50_ms: f64,
    pub frame_p99_ms: f64,
    /// Re-filtering all pods per typed character of the pod filter.
    pub keystroke_p50_ms: f64,
    pub keystroke_max_ms: f64,
    /// From a key (PageDown, j/k, End/Home, a typed filter) to its frame, as the event loop
    /// handles input: at once, not at the next frame tick.
    pub key_to_frame_p50_ms: f64,
    pub key_to_frame_p99_ms: f64,
    /// The slowest frame drawn while the simulator injected each of [`FAULTS`].
    pub fault_frame_max_ms: f64,
    pub targets: Targets,
    pub met: Met,
}

#[derive(Debug, Serialize)]
pub struct Met {
    pub sync: bool,
    pub rss: bool,
    pub relist_peak: bool,
    pub events: bool,
    pub frame: bool,
    pub keystroke: bool,
    pub key_to_frame: bool,
    pub fault_frame: bool,
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The value below which `q` of the samples fall (nearest rank).
fn percentile(samples: &[Duration], q: f64) -> f64 {
    let mut v: Vec<Duration> = samples.to_vec();
    v.sort_unstable();
    match v.len() {
        0 => 0.0,
        n => millis(v[((q * n as f64).ceil() as usize).clamp(1, n) - 1]),
    }
}

/// Resident set size of this process, in MiB.
pub fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// The simulator child process; killed when dropped.
struct SimProcess(Child);

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_sim(environments: u32, pods_per_cluster: u32, dir: &Path) -> anyhow::Result<SimProcess> {
    let exe = std::env::current_exe().context("finding this executable")?;
    let mut child = Command::new(exe)
        .args(["sim", "--environments"])
        .arg(environments.to_string())
        .arg("--pods-per-cluster")
        .arg(pods_per_cluster.to_string())
        .arg("--out")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting the simulator")?;
    let stdout = child.stdout.take().context("simulator output")?;
    let sim = SimProcess(child);
    // The simulator prints its fleet config path once it serves.
    for line in BufReader::new(stdout).lines() {
        if line?.starts_with("fleet config:") {
            return Ok(sim);
        }
    }
    bail!("the simulator exited before it was ready")
}

/// Samples RSS until stopped and keeps the peak.
fn peak_sampler(stop: Arc<AtomicBool>, peak: Arc<AtomicU64>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            peak.fetch_max(rss_mib().to_bits(), Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(5));
        }
    })
}

/// The one-environment bench: `--pods` pods across its two clusters.
pub async fn run(args: &BenchArgs) -> anyhow::Result<BenchReport> {
    let dir = tempfile_dir()?;
    let _sim = start_sim(1, args.pods / 2, &dir)?;
    let fleet = config::load(&dir.join("fleet.toml"))?;
    let env = fleet
        .environments
        .first()
        .context("the simulated fleet has an environment")?
        .name
        .clone();
    let quiet = Intervals {
        alerts: Duration::from_secs(30),
        metrics: Duration::from_secs(300),
        slo: Duration::from_secs(3600),
        ..Intervals::default()
    };

    let t0 = Instant::now();
    let live = LiveFleet::start(&fleet, quiet).await;
    live.open(&env).await;
    if !live
        .wait_settled(
            &[
                Source::Pods,
                Source::Nodes,
                Source::Deployments,
                Source::StatefulSets,
                Source::DaemonSets,
            ],
            Duration::from_secs(600),
        )
        .await
    {
        bail!("the sources did not sync within 10 minutes");
    }
    let sync_seconds = t0.elapsed().as_secs_f64();
    let handles: Vec<Arc<ClusterHandle>> = live.state.clusters().cloned().collect();
    let pods_synced = handles.iter().map(|h| h.read().pods.len()).sum();
    let rss_after_sync_mib = rss_mib();

    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(rss_after_sync_mib.to_bits()));
    let sampler = peak_sampler(stop.clone(), peak.clone());
    let lists_before: Vec<u64> = handles.iter().map(|h| h.read().pods.lists()).collect();
    let t1 = Instant::now();
    for role in ClusterRole::ALL {
        bench::force_relist(&live, &env, role)
            .await
            .context("forcing a relist")?;
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    while handles
        .iter()
        .zip(&lists_before)
        .any(|(h, before)| h.read().pods.lists() <= *before)
    {
        if Instant::now() > deadline {
            bail!("the relist did not finish within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let relist_seconds = t1.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let relist_peak_rss_mib = f64::from_bits(peak.load(Ordering::Relaxed));

    let wc = live.state.env(&env).context("the environment")?.wc.clone();
    let (events_per_sec, events_measured) = bench::pod_events_per_sec(&live, &wc)
        .await
        .context("replaying pod events")?;

    let frames = crate::ui::bench::render_frames(&live.state, &env, 200, 50, FRAMES);
    let keys = crate::ui::bench::filter_keystrokes(&live.state, &env, FILTER_TEXT);
    let (frame_p50_ms, frame_p99_ms) = (percentile(&frames, 0.5), percentile(&frames, 0.99));
    let (keystroke_p50_ms, keystroke_max_ms) = (percentile(&keys, 0.5), percentile(&keys, 1.0));

    let keys = crate::ui::bench::key_to_frame(&live.state, &env, KEY_ROUNDS);
    let (key_to_frame_p50_ms, key_to_frame_p99_ms) =
        (percentile(&keys, 0.5), percentile(&keys, 0.99));
    let fault_frame_max_ms = frames_under_faults(&live, &env).await?;

    let relist_peak_ratio = relist_peak_rss_mib / rss_after_sync_mib.max(1.0);
    Ok(BenchReport {
        pods_requested: args.pods,
        pods_synced,
        sync_seconds,
        rss_after_sync_mib,
        relist_peak_rss_mib,
        relist_peak_ratio,
        relist_seconds,
        events_per_sec,
        events_measured,
        frame_p50_ms,
        frame_p99_ms,
        keystroke_p50_ms,
        keystroke_max_ms,
        key_to_frame_p50_ms,
        key_to_frame_p99_ms,
        fault_frame_max_ms,
        met: Met {
            sync: sync_seconds <= TARGETS.sync_seconds,
            rss: rss_after_sync_mib <= TARGETS.rss_mib,
            relist_peak: relist_peak_ratio <= TARGETS.relist_peak_ratio,
            events: events_per_sec >= TARGETS.events_per_sec,
            frame: frame_p99_ms <= TARGETS.frame_p99_ms,
            keystroke: keystroke_max_ms <= TARGETS.keystroke_ms,
            key_to_frame: key_to_frame_p99_ms <= TARGETS.key_to_frame_p99_ms,
            fault_frame: fault_frame_max_ms <= TARGETS.fault_frame_ms,
        },
        targets: TARGETS,
    })
}

/// The slowest frame while each fault is on: the console keeps drawing from its last data
/// whatever the clusters do.
async fn frames_under_faults(live: &LiveFleet, env: &str) -> anyhow::Result<f64> {
    let mut slowest = Duration::ZERO;
    for fault in FAULTS {
        let spec: serde_json::Value = serde_json::from_str(fault).context("a fault")?;
        // The previous fault may still be ending (a closed port reopens within 100 ms).
        let mut tries = 0;
        while let Err(e) = bench::inject_fault(live, env, ClusterRole::Wc, &spec).await {
            tries += 1;
            if tries == 50 {
                return Err(e).with_context(|| format!("injecting {fault}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Reconnect the watches through the fault; while the API server is down this
        // fails, and the fault's own effect is what is measured.
        let _ = bench::force_relist(live, env, ClusterRole::Wc).await;
        let until = Instant::now() + FAULT_LASTS;
        while Instant::now() < until {
            let frames = crate::ui::bench::render_frames(&live.state, env, 200, 50, 10);
            slowest = slowest.max(frames.into_iter().max().unwrap_or_default());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(millis(slowest))
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("ck8s-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// Prints a report as one JSON object, or as aligned lines through `lines`.
pub fn print_report<R: Serialize>(
    report: &R,
    json: bool,
    lines: impl FnOnce(&R, &mut Lines),
) -> anyhow::Result<()> {
    if json {
        return crate::headless::output::print(&format!("{}\n", serde_json::to_string(report)?));
    }
    let mut out = Lines::default();
    lines(report, &mut out);
    crate::headless::output::print(&out.0)
}

/// A bench report as text: one line per measurement with its target and verdict.
#[derive(Default)]
pub struct Lines(String);

impl Lines {
    pub fn line(&mut self, label: &str, measured: String, target: String, met: Option<bool>) {
        let verdict = match met {
            Some(true) => " ok",
            Some(false) => " MISSED",
            None => "",
        };
        let target = if target.is_empty() {
            String::new()
        } else {
            format!(" (target {target})")
        };
        self.0
            .push_str(&format!("{label:<20} {measured}{target}{verdict}\n"));
    }
}

/// Prints the report as one JSON object or as aligned lines.
pub fn print(report: &BenchReport, json: bool) -> anyhow::Result<()> {
    print_report(report, json, pods_lines)
}

fn pods_lines(r: &BenchReport, out: &mut Lines) {
    let t = &TARGETS;
    out.line(
        "pods synced",
        format!("{} of {}", r.pods_synced, r.pods_requested),
        String::new(),
        None,
    );
    let mut line = |label: &str, measured: String, target: String, met: Option<bool>| {
        out.line(label, measured, target, met)
    };
    let m = &r.met;
    line(
        "first sync",
        format!("{:.2} s", r.sync_seconds),
        format!("<= {} s", t.sync_seconds),
        Some(m.sync),
    );
    line(
        "RSS after sync",
        format!("{:.1} MiB", r.rss_after_sync_mib),
        format!("<= {} MiB", t.rss_mib),
        Some(m.rss),
    );
    line(
        "relist peak RSS",
        format!(
            "{:.1} MiB, {:.2}x",
            r.relist_peak_rss_mib, r.relist_peak_ratio
        ),
        format!("<= {}x", t.relist_peak_ratio),
        Some(m.relist_peak),
    );
    line(
        "relist took",
        format!("{:.2} s", r.relist_seconds),
        String::new(),
        None,
    );
    line(
        "events applied",
        format!(
            "{:.0}/s over {} events",
            r.events_per_sec, r.events_measured
        ),
        format!(">= {}", t.events_per_sec),
        Some(m.events),
    );
    line(
        "frame at 200x50",
        format!("p50 {:.2} ms, p99 {:.2} ms", r.frame_p50_ms, r.frame_p99_ms),
        format!("p99 <= {} ms", t.frame_p99_ms),
        Some(m.frame),
    );
    line(
        "filter keystroke",
        format!(
            "p50 {:.2} ms, max {:.2} ms",
            r.keystroke_p50_ms, r.keystroke_max_ms
        ),
        format!("<= {} ms", t.keystroke_ms),
        Some(m.keystroke),
    );
    line(
        "key to frame",
        format!(
            "p50 {:.2} ms, p99 {:.2} ms",
            r.key_to_frame_p50_ms, r.key_to_frame_p99_ms
        ),
        format!("p99 <= {} ms", t.key_to_frame_p99_ms),
        Some(m.key_to_frame),
    );
    line(
        "frame under faults",
        format!(
            "max {:.2} ms over {} faults",
            r.fault_frame_max_ms,
            FAULTS.len()
        ),
        format!("<= {} ms", t.fault_frame_ms),
        Some(m.fault_frame),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|m| Duration::from_millis(*m))
                .collect::<Vec<_>>()
        };
        let samples = ms(&[5, 1, 3, 2, 4, 100, 6, 7, 8, 9]);
        assert_eq!(percentile(&samples, 0.5), 5.0);
        assert_eq!(percentile(&samples, 0.99), 100.0);
        assert_eq!(percentile(&samples, 1.0), 100.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }
}
