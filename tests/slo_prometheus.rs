//! SLO accounting end to end against the real Prometheus from Debian: 35 days of one-minute
//! `probe_success` are backfilled with `promtool tsdb create-blocks-from openmetrics`, read back
//! through `sources::prometheus`, and the reports' JSON must equal numbers worked out by hand
//! from the known outage, missing and excluded minutes.
//!
//! Needs `prometheus` and `promtool` on PATH (scripts/setup-test-deps installs them); without
//! them the test fails and says so.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use ck8s_fleet::sources::prometheus::{PrometheusClient, QueryData, slo_reports};
use ck8s_model::config::{Probe, ProbeKind};
use ck8s_model::slo::{Exclusion, ExclusionKind};
use serde_json::Value;

/// The fixed "now" of the fixture, so the expected numbers never move. A Friday.
const NOW: &str = "2026-11-20T12:00:00Z";
const SPAN_DAYS: i64 = 35;
const CLUSTER: &str = "demo-sc";

fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("fixture timestamp")
}

fn now() -> DateTime<Utc> {
    t(NOW)
}

// ---------------------------------------------------------------------------------------------
// The fixture
// ---------------------------------------------------------------------------------------------

/// One series: a sample every minute of `[from, to)`, 0 in the `bad` runs, absent in the
/// `absent` runs (each run: first minute, length in minutes).
struct Series {
    labels: String,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bad: Vec<(DateTime<Utc>, i64)>,
    absent: Vec<(DateTime<Utc>, i64)>,
}

impl Series {
    fn new(cluster: &str, target: &str, extra: &str) -> Series {
        Series {
            labels: format!(r#"cluster="{cluster}",target="{target}"{extra}"#),
            from: now() - TimeDelta::days(SPAN_DAYS),
            to: now(),
            bad: Vec::new(),
            absent: Vec::new(),
        }
    }

    fn since(mut self, from: DateTime<Utc>) -> Series {
        self.from = from;
        self
    }

    fn bad(mut self, start: &str, minutes: i64) -> Series {
        self.bad.push((t(start), minutes));
        self
    }

    fn absent(mut self, start: &str, minutes: i64) -> Series {
        self.absent.push((t(start), minutes));
        self
    }

    fn in_runs(runs: &[(DateTime<Utc>, i64)], at: DateTime<Utc>) -> bool {
        runs.iter()
            .any(|&(start, len)| at >= start && at < start + TimeDelta::minutes(len))
    }

    fn write(&self, out: &mut impl Write) -> std::io::Result<()> {
        let mut at = self.from;
        while at < self.to {
            if !Self::in_runs(&self.absent, at) {
                let value = u8::from(!Self::in_runs(&self.bad, at));
                writeln!(
                    out,
                    "probe_success{{{}}} {value} {}",
                    self.labels,
                    at.timestamp()
                )?;
            }
            at += TimeDelta::minutes(1);
        }
        Ok(())
    }
}

/// Data starts 2026-10-16 12:00; the 30-day window 2026-10-21 12:00. Two exclusions: a
/// force-majeure interval straddling the window's start (120 of its 240 minutes inside), and
/// the Wednesday maintenance window 2026-11-11 07:00-12:00 Stockholm (CET, so 06:00-11:00 UTC).
fn series() -> Vec<Series> {
    vec![
        // Pages: 1 bad minute 3 minutes ago. Also 10 bad minutes 10 days ago, 30 bad minutes
        // inside the maintenance window, 2 missing minutes.
        Series::new(CLUSTER, "kube-apiserver", "")
            .bad("2026-11-20T11:57:00Z", 1)
            .bad("2026-11-10T03:00:00Z", 10)
            .bad("2026-11-11T07:00:00Z", 30)
            .absent("2026-11-15T00:00:00Z", 2),
        // Another cluster's apiserver, down for 2 days: must not leak into demo-sc.
        Series::new("demo-wc", "kube-apiserver", "")
            .since(now() - TimeDelta::days(2))
            .bad("2026-11-18T12:00:00Z", 2 * 1440),
        // Tickets: 20 bad minutes 20 hours ago and 3 bad minutes 90 minutes ago. Outages inside
        // the force-majeure interval (in and before the window) and one before the window.
        Series::new(CLUSTER, "grafana", "")
            .bad("2026-11-19T16:00:00Z", 20)
            .bad("2026-11-20T10:30:00Z", 3)
            .bad("2026-10-21T13:00:00Z", 30)
            .bad("2026-10-21T11:30:00Z", 10)
            .bad("2026-10-18T00:00:00Z", 4)
            .absent("2026-11-01T08:00:00Z", 5),
        // No data: the prober went silent 90 minutes ago. One bad minute 25 days ago.
        Series::new(CLUSTER, "harbor", "")
            .bad("2026-10-26T00:00:00Z", 1)
            .absent("2026-11-20T10:30:00Z", 90),
        // Ok, with two probers: prober-b (the last day only, always healthy) covers
        // prober-a's 2 bad and 3 absent minutes in that day; its 6 bad minutes on 11-05 stay.
        Series::new(CLUSTER, "dex", r#",instance="prober-a""#)
            .bad("2026-11-20T02:00:00Z", 2)
            .bad("2026-11-05T12:00:00Z", 6)
            .absent("2026-11-19T20:00:00Z", 3),
        Series::new(CLUSTER, "dex", r#",instance="prober-b""#).since(now() - TimeDelta::days(1)),
    ]
}

fn exclusions() -> Vec<Exclusion> {
    vec![
        Exclusion {
            start: t("2026-11-11T06:00:00Z"),
            end: t("2026-11-11T11:00:00Z"),
            kind: ExclusionKind::PlannedMaintenance,
            reason: "Kubernetes patch upgrade".into(),
        },
        Exclusion {
            start: t("2026-10-21T10:00:00Z"),
            end: t("2026-10-21T14:00:00Z"),
            kind: ExclusionKind::ForceMajeure,
            reason: "data-centre power loss".into(),
        },
    ]
}

fn probes() -> Vec<Probe> {
    let probe = |target: &str, kind, slo| Probe::for_cluster(CLUSTER, target, kind, slo);
    vec![
        probe("kube-apiserver", ProbeKind::Cluster, 99.95),
        probe("grafana", ProbeKind::External, 99.5),
        probe("harbor", ProbeKind::External, 99.5),
        probe("dex", ProbeKind::External, 99.5),
    ]
}

fn write_openmetrics(path: &Path) {
    let mut out = BufWriter::new(File::create(path).expect("create OpenMetrics file"));
    writeln!(out, "# TYPE probe_success gauge").unwrap();
    for s in series() {
        s.write(&mut out).expect("write OpenMetrics");
    }
    writeln!(out, "# EOF").unwrap();
    out.flush().expect("flush OpenMetrics");
}

// ---------------------------------------------------------------------------------------------
// The expected numbers, by hand
// ---------------------------------------------------------------------------------------------

/// Minutes of [2025-12-31 23:00 UTC (Jan 1 in Stockholm), 2026-11-20 12:00): 323 days 13 h.
const YEAR: u64 = 323 * 1440 + 13 * 60;
/// Minutes of the 30-day window.
const WINDOW: u64 = 30 * 1440;
/// Minutes with data: 35 days.
const DATA: u64 = 35 * 1440;
/// Excluded in the window: the maintenance window (300) and the force majeure's second half (120).
const EXCLUDED_30D: u64 = 300 + 120;
/// Excluded in the year: both intervals whole.
const EXCLUDED_YEAR: u64 = 300 + 240;

/// `[good, bad, missing, excluded]`.
type Minutes = [u64; 4];

struct Expected {
    target: &'static str,
    kind: &'static str,
    slo: f64,
    window: Minutes,
    year: Minutes,
    /// `(bad, good + bad)` for 5m, 30m, 1h, 2h, 6h, 1d, 3d.
    burn: [(u64, u64); 7],
    /// 1h/5m, 6h/30m, 1d/2h, 3d/6h.
    firing: [bool; 4],
    status: &'static str,
}

fn expected() -> Vec<Expected> {
    let full = [
        (0, 5),
        (0, 30),
        (0, 60),
        (0, 120),
        (0, 360),
        (0, 1440),
        (0, 4320),
    ];
    vec![
        Expected {
            target: "kube-apiserver",
            kind: "cluster",
            slo: 99.95,
            // Bad: 1 + 10 (the 30 in maintenance are excluded). Missing: 2.
            window: [WINDOW - EXCLUDED_30D - 11 - 2, 11, 2, EXCLUDED_30D],
            // Everything before the data is missing, too.
            year: [
                DATA - EXCLUDED_YEAR - 11 - 2,
                11,
                YEAR - DATA + 2,
                EXCLUDED_YEAR,
            ],
            // The minute at 11:57 is in every window; nothing else is within 3 days.
            burn: [
                (1, 5),
                (1, 30),
                (1, 60),
                (1, 120),
                (1, 360),
                (1, 1440),
                (1, 4320),
            ],
            // 1h: (1/60)/0.0005 = 33.3 and 5m: 400 > 14.4. 6h: 5.6 < 6. 1d: 1.4 < 3. 3d: 0.46 < 1.
            firing: [true, false, false, false],
            status: "page",
        },
        Expected {
            target: "grafana",
            kind: "external",
            slo: 99.5,
            // Bad: 20 + 3; the force-majeure outages are excluded, 10-18's 4 are before.
            window: [WINDOW - EXCLUDED_30D - 23 - 5, 23, 5, EXCLUDED_30D],
            year: [
                DATA - EXCLUDED_YEAR - 27 - 5,
                27,
                YEAR - DATA + 5,
                EXCLUDED_YEAR,
            ],
            burn: [
                (0, 5),
                (0, 30),
                (0, 60),
                (3, 120),
                (3, 360),
                (23, 1440),
                (23, 4320),
            ],
            // 1d: (23/1440)/0.005 = 3.19 > 3 and 2h: 5 > 3. 3d: 1.06 > 1 and 6h: 1.67 > 1.
            // 6h 1.67 < 6 and 5m/30m are clean: no page.
            firing: [false, false, true, true],
            status: "ticket",
        },
        Expected {
            target: "harbor",
            kind: "external",
            slo: 99.5,
            window: [WINDOW - EXCLUDED_30D - 1 - 90, 1, 90, EXCLUDED_30D],
            year: [
                DATA - EXCLUDED_YEAR - 1 - 90,
                1,
                YEAR - DATA + 90,
                EXCLUDED_YEAR,
            ],
            // Silent for the last 90 minutes: the 5m, 30m and 1h windows have no sample.
            burn: [
                (0, 0),
                (0, 0),
                (0, 0),
                (0, 30),
                (0, 270),
                (0, 1350),
                (0, 4230),
            ],
            firing: [false; 4],
            status: "no_data",
        },
        Expected {
            target: "dex",
            kind: "external",
            slo: 99.5,
            window: [WINDOW - EXCLUDED_30D - 6, 6, 0, EXCLUDED_30D],
            year: [DATA - EXCLUDED_YEAR - 6, 6, YEAR - DATA, EXCLUDED_YEAR],
            burn: full,
            firing: [false; 4],
            status: "ok",
        },
    ]
}

fn percent(part: u64, whole: u64) -> Value {
    if whole == 0 {
        return Value::Null;
    }
    (part as f64 / whole as f64 * 100.0).into()
}

fn minutes_json([good, bad, missing, excluded]: Minutes) -> Value {
    serde_json::json!({"good": good, "bad": bad, "missing": missing, "excluded": excluded})
}

fn assert_report(report: &Value, e: &Expected) {
    let at = |field: &str| &report[field];
    let what = |field: &str| format!("{} {field}", e.target);
    let [good, bad, missing, _] = e.window;
    assert_eq!(at("cluster"), CLUSTER);
    assert_eq!(at("target"), e.target);
    assert_eq!(at("kind"), e.kind, "{}", what("kind"));
    assert_eq!(at("slo_percent"), e.slo);
    assert_eq!(at("window_days"), 30);
    assert_eq!(at("evaluated_at"), NOW);
    assert_eq!(at("window_start"), "2026-10-21T12:00:00Z");
    assert_eq!(at("year_start"), "2025-12-31T23:00:00Z");
    assert_eq!(
        at("minutes_30d"),
        &minutes_json(e.window),
        "{}",
        what("minutes_30d")
    );
    assert_eq!(
        at("minutes_year"),
        &minutes_json(e.year),
        "{}",
        what("minutes_year")
    );
    assert_eq!(e.year.iter().sum::<u64>(), YEAR);

    assert_eq!(
        at("availability_30d"),
        &percent(good, good + bad),
        "{}",
        what("availability")
    );
    assert_eq!(
        at("availability_30d_lower_bound"),
        &percent(good, good + bad + missing)
    );
    let [ygood, ybad, ..] = e.year;
    assert_eq!(
        at("availability_year"),
        &percent(ygood, ygood + ybad),
        "{}",
        what("year")
    );

    let allowed = 1.0 - e.slo / 100.0;
    let total = allowed * (good + bad) as f64;
    let left = total - bad as f64;
    assert_eq!(
        at("budget_total_minutes"),
        &Value::from(total),
        "{}",
        what("budget")
    );
    assert_eq!(
        at("budget_left_minutes"),
        &Value::from(left),
        "{}",
        what("budget left")
    );
    assert_eq!(at("budget_left_fraction"), &Value::from(left / total));

    let windows = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"];
    for (window, &(bad, measured)) in windows.iter().zip(&e.burn) {
        let rate = if measured == 0 {
            Value::Null
        } else {
            ((bad as f64 / measured as f64) / allowed).into()
        };
        assert_eq!(
            at("burn_rates")[window],
            rate,
            "{} burn rate {window}",
            e.target
        );
    }

    let pairs = [("page", "1h", "5m", 14.4), ("page", "6h", "30m", 6.0)]
        .into_iter()
        .chain([("ticket", "1d", "2h", 3.0), ("ticket", "3d", "6h", 1.0)]);
    let alerts = at("alerts").as_array().expect("alerts array");
    assert_eq!(alerts.len(), 4);
    for ((alert, (severity, long, short, factor)), firing) in alerts.iter().zip(pairs).zip(e.firing)
    {
        assert_eq!(alert["severity"], severity);
        assert_eq!(alert["long_window"], long);
        assert_eq!(alert["short_window"], short);
        assert_eq!(alert["factor"], factor);
        assert_eq!(alert["firing"], firing, "{} {long}/{short}", e.target);
        assert_eq!(alert["long_burn_rate"], at("burn_rates")[long]);
        assert_eq!(alert["short_burn_rate"], at("burn_rates")[short]);
    }
    assert_eq!(at("status"), e.status, "{}", what("status"));

    let exclusions = at("exclusions").as_array().expect("exclusions array");
    let kinds: Vec<&Value> = exclusions.iter().map(|x| &x["kind"]).collect();
    assert_eq!(kinds, ["force_majeure", "planned_maintenance"]);
    assert_eq!(exclusions[0]["start"], "2026-10-21T10:00:00Z");

    let chart = at("chart").as_array().expect("chart array");
    assert_eq!(chart.len(), 30);
    assert_eq!(chart[0]["start"], "2026-10-21T12:00:00Z");
    assert_eq!(chart[29]["end"], NOW);
    let mut sum = [0u64; 4];
    for point in chart {
        for (i, key) in ["good", "bad", "missing", "excluded"].iter().enumerate() {
            sum[i] += point["minutes"][key].as_u64().expect("count");
        }
    }
    assert_eq!(sum, e.window, "{} chart adds up to the window", e.target);
}

fn assert_kube_apiserver_chart(report: &Value) {
    let day = |i: usize| {
        (
            &report["chart"][i]["minutes"],
            &report["chart"][i]["availability"],
        )
    };
    // [10-21 12:00, 10-22 12:00): the force majeure's 120 minutes inside the window.
    assert_eq!(
        day(0),
        (&minutes_json([1320, 0, 0, 120]), &Value::from(100.0))
    );
    // [11-09 12:00, 11-10 12:00): the 10-minute outage.
    assert_eq!(
        day(19),
        (&minutes_json([1430, 10, 0, 0]), &percent(1430, 1440))
    );
    // [11-10 12:00, 11-11 12:00): the maintenance window swallows its 30 bad minutes.
    assert_eq!(
        day(20),
        (&minutes_json([1140, 0, 0, 300]), &Value::from(100.0))
    );
    // [11-14 12:00, 11-15 12:00): the 2 missing minutes.
    assert_eq!(
        day(24),
        (&minutes_json([1438, 0, 2, 0]), &Value::from(100.0))
    );
    assert_eq!(
        day(29),
        (&minutes_json([1439, 1, 0, 0]), &percent(1439, 1440))
    );
}

// ---------------------------------------------------------------------------------------------
// Prometheus
// ---------------------------------------------------------------------------------------------

fn require(binary: &str) {
    match Command::new(binary).arg("--version").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "`{binary} --version` failed ({}); run scripts/setup-test-deps to install Debian's \
             prometheus package",
            out.status
        ),
        Err(e) => panic!(
            "`{binary}` is not runnable ({e}); run scripts/setup-test-deps to install Debian's \
             prometheus package (binaries prometheus and promtool)"
        ),
    }
}

fn backfill(openmetrics: &Path, data: &Path) {
    let out = Command::new("promtool")
        .args([
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--max-block-duration=24h",
        ])
        .arg(openmetrics)
        .arg(data)
        .output()
        .expect("promtool runs");
    assert!(
        out.status.success(),
        "promtool backfill failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A Prometheus child process, killed when dropped.
struct Prometheus {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    fn start(dir: &Path, data: &Path) -> Prometheus {
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            "global:\n  scrape_interval: 1m\nscrape_configs: []\n",
        )
        .expect("write prometheus.yml");
        let port = free_port();
        let log = dir.join("prometheus.log");
        let log_file = File::create(&log).expect("create prometheus.log");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            // Retention counts back from the newest block and the wall clock; be generous so
            // the fixed, past "now" stays visible.
            .arg("--storage.tsdb.retention.time=3650d")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log handle"))
            .stderr(log_file)
            .spawn()
            .expect("prometheus starts");
        Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let ready = format!("{}/-/ready", self.url);
        let http = ck8s_fleet::sources::http_client().expect("an HTTP client");
        loop {
            if let Ok(r) = http.get(&ready).send().await
                && r.status().is_success()
            {
                return;
            }
            let exited = self.child.try_wait().expect("poll prometheus");
            if exited.is_some() || Instant::now() > deadline {
                panic!(
                    "Prometheus not ready (exit: {exited:?}); log:\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free loopback port")
        .port()
}

/// Fails unless Prometheus serves the backfill: `count_over_time` over the whole span at
/// `now` must see every written kube-apiserver sample (35 days less 2 missing minutes).
async fn assert_backfill_visible(client: &PrometheusClient) {
    let query = format!(
        r#"count_over_time(probe_success{{cluster="{CLUSTER}",target="kube-apiserver"}}[{SPAN_DAYS}d])"#
    );
    let result = client
        .query(&query, Some(now()))
        .await
        .expect("count query");
    let QueryData::Vector(v) = result.data else {
        panic!("count_over_time returned {:?}", result.data)
    };
    let counts: Vec<f64> = v.iter().map(|s| s.value.value).collect();
    assert_eq!(
        counts,
        [(DATA - 2) as f64],
        "backfilled samples visible in Prometheus"
    );
}

#[test]
fn slo_reports_match_hand_computed_numbers_on_real_prometheus() {
    require("promtool");
    require("prometheus");
    ck8s_fleet::install_crypto_provider();
    let dir = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    let openmetrics = dir.path().join("probe.om");
    write_openmetrics(&openmetrics);
    let data = dir.path().join("data");
    backfill(&openmetrics, &data);
    let backfilled = started.elapsed();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut prometheus = Prometheus::start(dir.path(), &data);
    rt.block_on(prometheus.wait_ready());
    let client =
        PrometheusClient::new(&prometheus.url, None, Duration::from_secs(30)).expect("client");
    rt.block_on(assert_backfill_visible(&client));

    let queried = Instant::now();
    // Mid-minute on purpose: windows end at the minute's start.
    let at = now() + TimeDelta::seconds(25);
    let tz = chrono_tz::Europe::Stockholm;
    let reports = rt
        .block_on(slo_reports(
            &client,
            CLUSTER,
            &probes(),
            &exclusions(),
            at,
            tz,
        ))
        .expect("slo reports");
    let queried = queried.elapsed();
    let json = serde_json::to_value(&reports).expect("reports serialize");
    let json = json.as_array().expect("an array of reports");

    let expected = expected();
    assert_eq!(json.len(), expected.len());
    for (report, e) in json.iter().zip(&expected) {
        assert_report(report, e);
    }
    assert_kube_apiserver_chart(&json[0]);
    assert_selectors_reach_prometheus(&rt, &client, &reports, at, tz);

    let binary = Instant::now();
    assert_binary_report(dir.path(), &prometheus.url, &expected);
    eprintln!(
        "backfill {backfilled:?}, SLO queries {queried:?}, binary {:?}, total {:?}",
        binary.elapsed(),
        started.elapsed()
    );
}

/// A probe's own selector goes to Prometheus as written: other matchers for the same
/// series give the same report, and labels no series has give none.
fn assert_selectors_reach_prometheus(
    rt: &tokio::runtime::Runtime,
    client: &PrometheusClient,
    reports: &[ck8s_model::slo::SloReport],
    at: DateTime<Utc>,
    tz: chrono_tz::Tz,
) {
    let default = reports
        .iter()
        .find(|r| r.target == "dex")
        .expect("dex report");
    let with = |selector: &str| {
        let mut probe = Probe::for_cluster(CLUSTER, "dex", ProbeKind::External, 99.5);
        probe.selector = selector.to_owned();
        probe.custom_selector = true;
        rt.block_on(slo_reports(
            client,
            CLUSTER,
            &[probe],
            &exclusions(),
            at,
            tz,
        ))
        .expect("slo report")
        .remove(0)
    };
    let same = with(&format!(
        r#"{{__name__="probe_success",cluster=~"{}",target="dex"}}"#,
        CLUSTER.replace('-', ".")
    ));
    assert_eq!(
        serde_json::to_value(&same).unwrap(),
        serde_json::to_value(default).unwrap(),
        "the same series through other matchers"
    );
    let none = with(r#"probe_success{cluster="wc",target="dex"}"#);
    assert_eq!(
        none.minutes_30d.measured(),
        0,
        "no series has cluster=\"wc\""
    );
}

// ---------------------------------------------------------------------------------------------
// The same numbers through the binary
// ---------------------------------------------------------------------------------------------

/// A fleet config for this Prometheus. The exclusions of [`exclusions`] are declared with
/// scopes (the maintenance for demo's sc, the force majeure fleet-wide), plus one for
/// demo-wc's kube-apiserver that would hide demo-sc's page if it leaked.
fn write_fleet_config(dir: &Path, url: &str) -> PathBuf {
    let probes = |role: &str, list: &[(&str, &str)]| {
        list.iter()
            .map(|(target, kind)| {
                format!("[[environment.{role}.probe]]\ntarget = \"{target}\"\nkind = \"{kind}\"\n")
            })
            .collect::<String>()
    };
    let cluster = |role: &str| {
        format!(
            "[environment.{role}]\nkubeconfig = \"kubeconfig\"\ncontext = \"demo-{role}\"\n\
             prometheus = \"{url}\"\nalertmanager = \"{url}\"\n"
        )
    };
    let sc_probes = [
        ("kube-apiserver", "cluster"),
        ("grafana", "external"),
        ("harbor", "external"),
        ("dex", "external"),
    ];
    let text = format!(
        r#"version = 1

[[environment]]
name = "demo"
{sc}{sc_probes}{wc}{wc_probes}
[[exclusion]]
start = 2026-11-11T07:00:00+01:00
end = 2026-11-11T12:00:00+01:00
kind = "planned-maintenance"
reason = "Kubernetes patch upgrade"
environment = "demo"
cluster = "sc"

[[exclusion]]
start = "2026-10-21T10:00:00Z"
end = "2026-10-21T14:00:00Z"
kind = "force-majeure"
reason = "data-centre power loss"

[[exclusion]]
start = "2026-11-20T11:00:00Z"
end = "2026-11-20T12:00:00Z"
kind = "planned-maintenance"
reason = "demo-wc only"
environment = "demo"
cluster = "wc"
target = "kube-apiserver"
"#,
        sc = cluster("sc"),
        sc_probes = probes("sc", &sc_probes),
        wc = cluster("wc"),
        wc_probes = probes("wc", &[("kube-apiserver", "cluster")]),
    );
    let path = dir.join("fleet.toml");
    std::fs::write(&path, text).expect("write fleet.toml");
    // The kubeconfig it names: the SLO report reads only Prometheus, but a fleet config
    // whose kubeconfig is missing is refused whatever the command.
    let kubeconfig = "apiVersion: v1\nkind: Config\nclusters:\n- name: demo\n  cluster: {server: \"https://127.0.0.1:1\"}\nusers:\n- name: demo\n  user: {token: fixture}\ncontexts:\n- name: demo-sc\n  context: {cluster: demo, user: demo}\n- name: demo-wc\n  context: {cluster: demo, user: demo}\n";
    std::fs::write(dir.join("kubeconfig"), kubeconfig).expect("write kubeconfig");
    path
}

fn assert_binary_report(dir: &Path, url: &str, expected: &[Expected]) {
    let fleet = write_fleet_config(dir, url);
    let out = Command::new(env!("CARGO_BIN_EXE_ck8s-console"))
        .arg("--config")
        .arg(&fleet)
        .arg("--state-dir")
        .arg(dir.join("state"))
        // Mid-minute on purpose, as above.
        .args([
            "slo",
            "--output",
            "json",
            "--at",
            "2026-11-20T12:00:25Z",
            "--timeout",
            "60s",
        ])
        .output()
        .expect("ck8s-console runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "slo report failed: {stderr}");
    // Read through the YAML parser (JSON is YAML): it parses floats correctly rounded, as
    // std does, while serde_json's default fast path may land one ulp off, and the numbers
    // here are compared exactly.
    let json: Value = serde_yaml_ng::from_slice(&out.stdout).expect("the slo report is JSON");
    assert_eq!(json["schema"], "ck8s-console.slo/v1");
    assert_eq!(json["errors"], serde_json::json!([]));
    let items = json["items"].as_array().expect("items");
    assert_eq!(
        items.len(),
        expected.len() + 1,
        "demo-sc's targets, then demo-wc's"
    );
    for (item, e) in items.iter().zip(expected) {
        assert_eq!(
            (&item["env"], &item["cluster"]),
            (&"demo".into(), &"sc".into())
        );
        assert_report(&item["report"], e);
    }
    assert_kube_apiserver_chart(&items[0]["report"]);

    // demo-wc gets the fleet-wide force majeure (120 minutes in the window) and its own
    // hour, but not demo-sc's maintenance window.
    let wc = &items[expected.len()];
    assert_eq!(wc["cluster"], "wc");
    assert_eq!(wc["report"]["cluster"], "demo-wc");
    assert_eq!(wc["report"]["minutes_30d"]["excluded"], 120 + 60);
    let kinds: Vec<&Value> = wc["report"]["exclusions"]
        .as_array()
        .expect("exclusions")
        .iter()
        .map(|x| &x["kind"])
        .collect();
    assert_eq!(kinds, ["force_majeure", "planned_maintenance"]);
    assert_eq!(wc["report"]["exclusions"][1]["reason"], "demo-wc only");
}
