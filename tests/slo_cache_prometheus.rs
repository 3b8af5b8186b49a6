//! The live poller's cached SLO path against the real Prometheus from Debian: 40 days of
//! one-minute `probe_success` are backfilled with `promtool`, then a cluster is polled a
//! dozen times as the live poller does (with an `SloCache`), and every poll's reports must
//! equal the uncached `slo_reports` of the same instant, field for field. This is also where
//! the cache's `count_over_time`/`sum_over_time` day fingerprints meet a real PromQL engine.
//!
//! Needs `prometheus` and `promtool` on PATH (scripts/setup-test-deps installs them); without
//! them the test fails and says so.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use ck8s_fleet::sources::prometheus::{
    PrometheusClient, SloCache, slo_reports, slo_reports_cached,
};
use ck8s_fleet::sources::slo_counts::slo_reports_counted;
use ck8s_model::config::{Probe, ProbeKind};
use ck8s_model::slo::{Exclusion, ExclusionKind};

/// The end of the data. Stockholm's autumn DST change (2026-10-25, a 25-hour day) is 26 days
/// before it.
const END: &str = "2026-11-20T12:00:00Z";
const DAYS: i64 = 40;
const CLUSTER: &str = "demo-sc";

fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("fixture timestamp")
}

/// `(labels, bad runs, absent runs, first minute)`; runs are `(start, minutes)`.
type Series = (
    &'static str,
    Vec<(&'static str, i64)>,
    Vec<(&'static str, i64)>,
    i64,
);

/// Outages and gaps across Stockholm midnights (23:00 UTC in winter, 22:00 in summer), on
/// the 25-hour day, a whole missing day, and a second prober for one target that covers part
/// of the first one's gaps.
fn series() -> Vec<Series> {
    vec![
        (
            r#"cluster="demo-sc",target="kube-apiserver""#,
            vec![
                ("2026-10-20T21:50:00Z", 40),
                ("2026-10-25T00:30:00Z", 100),
                ("2026-11-12T22:58:00Z", 6),
                ("2026-11-19T16:00:00Z", 20),
            ],
            vec![
                ("2026-10-30T23:00:00Z", 1440),
                ("2026-11-02T22:30:00Z", 150),
            ],
            0,
        ),
        (
            r#"cluster="demo-sc",target="dex",instance="prober-a""#,
            vec![("2026-11-05T12:00:00Z", 6), ("2026-11-18T23:30:00Z", 45)],
            vec![("2026-11-17T20:00:00Z", 300)],
            0,
        ),
        // The second prober starts 5 days before the end.
        (
            r#"cluster="demo-sc",target="dex",instance="prober-b""#,
            vec![("2026-11-18T23:40:00Z", 10)],
            vec![],
            (DAYS - 5) * 1440,
        ),
        // Another cluster's series must not leak in.
        (
            r#"cluster="demo-wc",target="dex""#,
            vec![("2026-11-10T00:00:00Z", 3000)],
            vec![],
            0,
        ),
    ]
}

fn in_runs(runs: &[(&str, i64)], at: DateTime<Utc>) -> bool {
    runs.iter()
        .any(|&(start, len)| at >= t(start) && at < t(start) + TimeDelta::minutes(len))
}

fn write_openmetrics(path: &Path) {
    let mut out = BufWriter::new(File::create(path).expect("create OpenMetrics file"));
    writeln!(out, "# TYPE probe_success gauge").unwrap();
    let first = t(END) - TimeDelta::days(DAYS);
    for (labels, bad, absent, from) in series() {
        let mut at = first + TimeDelta::minutes(from);
        while at < t(END) {
            if !in_runs(&absent, at) {
                let value = u8::from(!in_runs(&bad, at));
                writeln!(out, "probe_success{{{labels}}} {value} {}", at.timestamp()).unwrap();
            }
            at += TimeDelta::minutes(1);
        }
    }
    writeln!(out, "# EOF").unwrap();
    out.flush().expect("flush OpenMetrics");
}

fn exclusions() -> Vec<Exclusion> {
    let exclusion = |start: &str, end: &str, kind| Exclusion {
        start: t(start),
        end: t(end),
        kind,
        reason: "test".into(),
    };
    vec![
        exclusion(
            "2026-10-20T21:30:00Z",
            "2026-10-20T22:10:30Z",
            ExclusionKind::ForceMajeure,
        ),
        exclusion(
            "2026-10-25T01:00:00Z",
            "2026-10-25T03:00:00Z",
            ExclusionKind::PlannedMaintenance,
        ),
        exclusion(
            "2026-11-18T23:00:00Z",
            "2026-11-19T00:15:00Z",
            ExclusionKind::PlannedMaintenance,
        ),
    ]
}

fn probes() -> Vec<Probe> {
    vec![
        Probe::for_cluster(CLUSTER, "kube-apiserver", ProbeKind::Cluster, 99.95),
        Probe::for_cluster(CLUSTER, "dex", ProbeKind::External, 99.5),
    ]
}

fn require(binary: &str) {
    match Command::new(binary).arg("--version").output() {
        Ok(out) if out.status.success() => {}
        other => panic!(
            "`{binary}` is not runnable ({other:?}); run scripts/setup-test-deps to install \
             Debian's prometheus package (binaries prometheus and promtool)"
        ),
    }
}

/// A Prometheus child process, killed when dropped.
struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_prometheus(dir: &Path, data: &Path) -> (Prometheus, String) {
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        "global:\n  scrape_interval: 1m\nscrape_configs: []\n",
    )
    .expect("write prometheus.yml");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free loopback port")
        .port();
    let log = File::create(dir.join("prometheus.log")).expect("create prometheus.log");
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg("--storage.tsdb.retention.time=3650d")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log handle"))
        .stderr(log)
        .spawn()
        .expect("prometheus starts");
    (Prometheus(child), format!("http://127.0.0.1:{port}"))
}

async fn wait_ready(prometheus: &mut Prometheus, url: &str, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let http = ck8s_fleet::sources::http_client().expect("an HTTP client");
    loop {
        if let Ok(r) = http.get(format!("{url}/-/ready")).send().await
            && r.status().is_success()
        {
            return;
        }
        let exited = prometheus.0.try_wait().expect("poll prometheus");
        if exited.is_some() || Instant::now() > deadline {
            panic!(
                "Prometheus not ready (exit: {exited:?}); log:\n{}",
                std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn cached_polls_equal_full_reads_on_real_prometheus() {
    require("promtool");
    require("prometheus");
    ck8s_fleet::install_crypto_provider();
    let dir = tempfile::tempdir().expect("temp dir");
    let openmetrics = dir.path().join("probe.om");
    write_openmetrics(&openmetrics);
    let data = dir.path().join("data");
    let out = Command::new("promtool")
        .args([
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--max-block-duration=24h",
        ])
        .arg(&openmetrics)
        .arg(&data)
        .output()
        .expect("promtool runs");
    assert!(
        out.status.success(),
        "promtool backfill failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (mut prometheus, url) = start_prometheus(dir.path(), &data);
    rt.block_on(wait_ready(&mut prometheus, &url, dir.path()));
    let client = PrometheusClient::new(&url, None, Duration::from_secs(30)).expect("client");
    let (probes, exclusions) = (probes(), exclusions());
    let tz = chrono_tz::Europe::Stockholm;

    // Polls every 9 h 41 min (mid-minute, as the clock would have it) over the last 6 days,
    // then two 5 minutes apart, as the live poller would.
    let mut polls = Vec::new();
    let mut at = t(END) - TimeDelta::days(6) + TimeDelta::seconds(17);
    while at <= t(END) {
        polls.push(at);
        at += TimeDelta::minutes(9 * 60 + 41);
    }
    polls.extend([
        t(END) - TimeDelta::minutes(9),
        t(END) - TimeDelta::minutes(4),
    ]);
    let mut cache = SloCache::default();
    let mut previous: Option<DateTime<Utc>> = None;
    for now in polls {
        let (cached, full) = rt.block_on(async {
            let cached =
                slo_reports_cached(&client, CLUSTER, &probes, &exclusions, now, tz, &mut cache)
                    .await
                    .expect("cached reports");
            let full = slo_reports(&client, CLUSTER, &probes, &exclusions, now, tz)
                .await
                .expect("full reports");
            (cached, full)
        });
        assert_eq!(cached, full, "reports at {now}");
        // Counted by Prometheus: the same reports, to the last bit, for a target with one
        // series; dex, once its second prober runs, needs the samples (a minute is good if
        // either prober says so).
        let with_exclusions: Vec<(Probe, Vec<Exclusion>)> = probes
            .iter()
            .map(|p| (p.clone(), exclusions.clone()))
            .collect();
        let counted = rt
            .block_on(slo_reports_counted(
                &client,
                CLUSTER,
                &with_exclusions,
                now,
                tz,
            ))
            .expect("counted reports");
        let two_probers = now > t(END) - TimeDelta::days(5);
        for ((counted, full), probe) in counted.iter().zip(&full).zip(&probes) {
            match counted {
                Some(c) => assert_eq!(c, full, "{} counted at {now}", probe.target),
                None => assert!(
                    probe.target == "dex" && two_probers,
                    "{} not counted at {now}",
                    probe.target
                ),
            }
        }
        assert_eq!(counted[1].is_none(), two_probers, "dex at {now}");
        // The first poll reads the whole span; later ones the time since the last poll, the
        // last two complete days and today (each at most 1500 minutes), nothing else: the
        // day fingerprints are stable on a real Prometheus.
        for p in &probes {
            let read = cache.minutes_read(CLUSTER, &p.target).expect("polled");
            match previous {
                None => assert!(read > 300 * 1440, "{} read {read} minutes", p.target),
                Some(prev) => {
                    let since = (now - prev).num_minutes() + 1;
                    assert!(
                        read <= since + 3 * 1500,
                        "{} read {read} minutes at {now}",
                        p.target
                    );
                }
            }
        }
        previous = Some(now);
        // The fixture is not trivial in any poll: outages, gaps and exclusions all count.
        let r = &full[0];
        assert!(
            r.minutes_30d.bad > 0 && r.minutes_30d.missing > 0 && r.minutes_30d.excluded > 0,
            "{:?} at {now}",
            r.minutes_30d
        );
    }
}
