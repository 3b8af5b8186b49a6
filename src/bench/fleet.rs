//! `ck8s-console bench --environments N`: the console's live fleet on a simulated fleet of
//! N environments (2N clusters) in a separate process: how soon the overview is whole,
//! what it holds then (memory, descriptors), what it costs while nothing happens, and how
//! long the headless `status` takes.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;

use super::{Lines, rss_mib, start_sim, tempfile_dir};
use crate::cli::BenchArgs;
use crate::config;
use crate::sources::live::{Intervals, LiveFleet, OVERVIEW};
use crate::state::Answer;

/// The targets of the fleet-scale issue, for 500 environments.
#[derive(Debug, Serialize)]
pub struct FleetTargets {
    pub overview_seconds: f64,
    pub rss_mib: f64,
    pub descriptors_per_cluster: f64,
    pub idle_cpu_percent: f64,
    pub status_seconds: f64,
}

const TARGETS: FleetTargets = FleetTargets {
    overview_seconds: 3.0,
    rss_mib: 300.0,
    descriptors_per_cluster: 1.5,
    idle_cpu_percent: 2.0,
    status_seconds: 3.0,
};

#[derive(Debug, Serialize)]
pub struct FleetReport {
    pub environments: u32,
    pub clusters: usize,
    pub pods_per_cluster: u32,
    /// The open-file limit the console ran under (`--nofile`, or the raised default).
    pub file_limit: Option<u64>,
    /// From starting the live fleet to every overview source of every cluster answering.
    pub overview_seconds: f64,
    /// Sources that answered with an error (they count as answered; a valid run has 0).
    pub sources_failed: usize,
    pub rss_mib: f64,
    /// Open descriptors at the end of the idle period.
    pub descriptors: usize,
    pub descriptors_per_cluster: f64,
    /// The most open at any look during the idle period (polls in flight).
    pub descriptors_peak: usize,
    /// CPU the console used while the fleet stood still, in percent of one core.
    pub idle_cpu_percent: f64,
    pub idle_seconds: u64,
    /// `ck8s-console status -o json` on the whole fleet, as a separate process.
    pub status_seconds: f64,
    pub status_exit: i32,
    pub targets: FleetTargets,
    pub met: FleetMet,
}

#[derive(Debug, Serialize)]
pub struct FleetMet {
    pub overview: bool,
    pub rss: bool,
    pub descriptors: bool,
    pub idle_cpu: bool,
    pub status: bool,
}

pub async fn run(args: &BenchArgs, environments: u32) -> anyhow::Result<FleetReport> {
    let dir = tempfile_dir()?;
    let _sim = start_sim(environments, args.pods_per_cluster, &dir)?;
    let fleet_file = dir.join("fleet.toml");
    let fleet = config::load(&fleet_file)?;
    // Lowered only now: the simulator, started above, needs far more than the console.
    if let Some(limit) = args.nofile {
        ck8s_fleet::limits::set_file_limit(limit).context("lowering the open-file limit")?;
    }

    let t0 = Instant::now();
    let live = LiveFleet::start(&fleet, Intervals::for_fleet(&fleet)).await;
    // Settled with failures is still settled (they are counted); only a timeout stops the
    // bench. A source a cluster does not run (a wc's Cluster API) has no health.
    let answers = |which: fn(&Answer) -> bool| -> usize {
        live.state
            .clusters()
            .map(|c| {
                let s = c.read();
                OVERVIEW
                    .iter()
                    .filter(|src| s.health.contains_key(src) && which(&s.answer(**src)))
                    .count()
            })
            .sum()
    };
    if !live.wait_settled(&OVERVIEW, Duration::from_secs(600)).await
        && answers(|a| *a == Answer::Pending) > 0
    {
        bail!("the overview's sources did not answer within 10 minutes");
    }
    let overview_seconds = t0.elapsed().as_secs_f64();
    let sources_failed = answers(|a| matches!(a, Answer::Failed(..)));
    let clusters = live.state.clusters().count();
    let rss_mib = rss_mib();

    // Idle: the fleet stands still while the sources keep polling. Descriptors are looked
    // at twice a second (a look costs next to nothing next to the CPU measured).
    let idle_for = Duration::from_secs(args.idle);
    let cpu0 = cpu_seconds()?;
    let mut descriptors_peak = open_descriptors()?;
    let idle_until = Instant::now() + idle_for;
    while Instant::now() < idle_until {
        tokio::time::sleep(Duration::from_millis(500)).await;
        descriptors_peak = descriptors_peak.max(open_descriptors()?);
    }
    let idle_cpu_percent = (cpu_seconds()? - cpu0) / idle_for.as_secs_f64() * 100.0;
    let descriptors = open_descriptors()?;
    drop(live);

    let (status_seconds, status_exit) = time_status(&fleet_file, &dir)?;
    let descriptors_per_cluster = descriptors as f64 / clusters.max(1) as f64;
    Ok(FleetReport {
        environments,
        clusters,
        pods_per_cluster: args.pods_per_cluster,
        file_limit: ck8s_fleet::limits::file_limit(),
        overview_seconds,
        sources_failed,
        rss_mib,
        descriptors,
        descriptors_per_cluster,
        descriptors_peak,
        idle_cpu_percent,
        idle_seconds: args.idle,
        status_seconds,
        status_exit,
        met: FleetMet {
            overview: overview_seconds <= TARGETS.overview_seconds && sources_failed == 0,
            rss: rss_mib <= TARGETS.rss_mib,
            descriptors: descriptors_per_cluster <= TARGETS.descriptors_per_cluster,
            idle_cpu: idle_cpu_percent <= TARGETS.idle_cpu_percent,
            status: status_seconds <= TARGETS.status_seconds && status_exit == 0,
        },
        targets: TARGETS,
    })
}

/// Runs `status -o json` on the fleet as a user would, in a state dir of its own.
fn time_status(fleet_file: &Path, dir: &Path) -> anyhow::Result<(f64, i32)> {
    let exe = std::env::current_exe().context("finding this executable")?;
    let t = Instant::now();
    let status = Command::new(exe)
        .arg("--config")
        .arg(fleet_file)
        .arg("--state-dir")
        .arg(dir.join("status-state"))
        .args(["status", "-o", "json"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .context("running status")?;
    Ok((t.elapsed().as_secs_f64(), status.code().unwrap_or(-1)))
}

fn open_descriptors() -> anyhow::Result<usize> {
    Ok(std::fs::read_dir("/proc/self/fd")
        .context("reading /proc/self/fd")?
        .count())
}

/// User and system CPU time of this process so far.
fn cpu_seconds() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("reading /proc/self/stat")?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let (Some(user), Some(system)) = (ticks(11), ticks(12)) else {
        bail!("unexpected /proc/self/stat: {stat}");
    };
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Ok((user + system) / hz)
}

pub fn print(report: &FleetReport, json: bool) -> anyhow::Result<()> {
    super::print_report(report, json, lines)
}

fn lines(r: &FleetReport, out: &mut Lines) {
    let (t, m) = (&TARGETS, &r.met);
    out.line(
        "fleet",
        format!(
            "{} environments, {} clusters, {} pods per cluster, file limit {}",
            r.environments,
            r.clusters,
            r.pods_per_cluster,
            r.file_limit.map_or("unknown".into(), |l| l.to_string())
        ),
        String::new(),
        None,
    );
    out.line(
        "overview complete",
        format!(
            "{:.2} s, {} sources failed",
            r.overview_seconds, r.sources_failed
        ),
        format!("<= {} s, none failed", t.overview_seconds),
        Some(m.overview),
    );
    out.line(
        "RSS",
        format!("{:.1} MiB", r.rss_mib),
        format!("<= {} MiB", t.rss_mib),
        Some(m.rss),
    );
    out.line(
        "open descriptors",
        format!(
            "{} ({:.2} per cluster; at most {} while idle)",
            r.descriptors, r.descriptors_per_cluster, r.descriptors_peak
        ),
        format!("<= {} per cluster", t.descriptors_per_cluster),
        Some(m.descriptors),
    );
    out.line(
        "idle CPU",
        format!(
            "{:.2} % of a core over {} s",
            r.idle_cpu_percent, r.idle_seconds
        ),
        format!("<= {} %", t.idle_cpu_percent),
        Some(m.idle_cpu),
    );
    out.line(
        "status -o json",
        format!("{:.2} s, exit {}", r.status_seconds, r.status_exit),
        format!("<= {} s, exit 0", t.status_seconds),
        Some(m.status),
    );
}
