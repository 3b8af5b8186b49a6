//! SLO accounting: availability, error budget, burn rates and multi-window alerts for one
//! uptime probe, computed exactly from one-minute `probe_success` samples.
//!
//! Everything here is a pure function of the samples, the excluded intervals, the clock and the
//! policy time zone; fetching the samples is `sources::prometheus`'s job.
//!
//! # Definitions
//! Every minute of a window is exactly one of:
//! - **excluded**: it starts inside a planned-maintenance or force-majeure [`Exclusion`]; it
//!   is dropped from every count, numerator and denominator alike;
//! - **good**: a sample says the target was healthy;
//! - **bad**: a sample says it was not;
//! - **missing**: no sample. Unknown, not healthy: never counted as good.
//!
//! *Availability* is `good / (good + bad)`: "the number of healthy responses divided by the
//! total number of measurements" (service description, section 5). A missing minute is not a
//! measurement, so it is left out rather than guessed either way, and every report says how
//! many minutes were missing. The pessimistic reading, `good / (good + bad + missing)` (every
//! unknown minute an outage), is reported next to it as the lower bound.
//!
//! The *error budget* follows the same measure, so that the two can never disagree: over the
//! 30-day window the SLA allows `(1 - slo/100) × (good + bad)` bad minutes, and budget left
//! ≥ 0 exactly when availability ≥ the SLO. (Sizing the budget on all counted minutes,
//! missing included, would show budget left while the SLA is already breached whenever
//! samples are missing.) The fraction left equals Sloth's
//! `1 - period error ratio / (1 - slo)`.
//!
//! A *burn rate* over a window is the error ratio `bad / (good + bad)` divided by the budget
//! ratio `1 - slo/100`; it is `None` when the window holds no sample. Alerts are the SRE
//! workbook's multi-window pairs ([`ALERT_RULES`]); a pair fires when both of its burn rates
//! are above the factor, so an unknown window never fires.
//!
//! All windows end at `now` floored to the minute and are half-open, `[end - w, end)`: the
//! minute in progress is not counted yet. Nothing is rounded; floats are the plain formulas
//! written in the doc comments, in that order.

use std::collections::BTreeMap;
use std::ops::AddAssign;

use chrono::{DateTime, Datelike, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Length of the rolling SLO window, in days.
pub const WINDOW_DAYS: i64 = 30;

const MINUTE_SECS: i64 = 60;
const DAY_MINUTES: i64 = 24 * 60;

// ---------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------

/// An uptime probe (`probe_success`) that counts towards the SLO.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Probe {
    pub target: String,
    pub kind: ProbeKind,
    /// The SLO in percent, resolved: the probe's own value or the policy's for its kind.
    pub slo: f64,
    /// The PromQL instant-vector selector of its series, resolved: the probe's own
    /// `selector`, or `probe_success{<the cluster's labels>,target="<target>"}`.
    pub selector: String,
    /// Whether `selector` was written in the config (not derived from the labels).
    #[serde(skip)]
    pub custom_selector: bool,
}

impl Probe {
    /// A probe of the cluster CK8s labels `cluster="<name>"` (`acme-sc`), the default.
    pub fn for_cluster(cluster: &str, target: &str, kind: ProbeKind, slo: f64) -> Probe {
        Probe {
            target: target.to_owned(),
            kind,
            slo,
            selector: probe_selector(&default_cluster_labels(cluster), target),
            custom_selector: false,
        }
    }
}

/// The label matchers that pick a cluster's series when the config sets none: `cluster`
/// is the cluster's name (`<env>-<sc|wc>`), as CK8s labels every series.
pub fn default_cluster_labels(cluster: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("cluster".to_owned(), cluster.to_owned())])
}

/// `probe_success{<labels>,target="<target>"}`: the series of one probe target, with the
/// cluster's label matchers.
pub fn probe_selector(labels: &BTreeMap<String, String>, target: &str) -> String {
    let matchers: Vec<String> = labels
        .iter()
        .filter(|(name, _)| *name != "target")
        .map(|(name, value)| format!("{name}={}", promql_string(value)))
        .chain(std::iter::once(format!("target={}", promql_string(target))))
        .collect();
    format!("probe_success{{{}}}", matchers.join(","))
}

/// A PromQL string literal.
pub fn promql_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProbeKind {
    /// Kubernetes API and ingress: the cluster SLO.
    Cluster,
    /// External services and the UI (Dex, Grafana, Harbor, OpenSearch Dashboards).
    External,
}

/// Why an interval does not count towards the SLO.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExclusionKind {
    /// A recorded planned-maintenance interval.
    PlannedMaintenance,
    /// A declared force-majeure event.
    ForceMajeure,
}

/// An interval `[start, end)` left out of every SLO window. A minute is excluded when its
/// first instant lies inside.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Exclusion {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub kind: ExclusionKind,
    pub reason: String,
}

/// One target's probe results, one slot per minute of `[start, end)`: `Some(healthy)`, or
/// `None` when no sample arrived in that minute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Samples {
    start_minute: i64,
    values: Vec<Option<bool>>,
}

impl Samples {
    /// All minutes of `[start, end)` unknown; both ends are floored to the minute.
    pub fn missing(start: DateTime<Utc>, end: DateTime<Utc>) -> Samples {
        let start_minute = unix_minute(start);
        let len = (unix_minute(end) - start_minute).max(0);
        Samples {
            start_minute,
            values: vec![None; len as usize],
        }
    }

    /// Samples for consecutive minutes from `start` (floored to the minute).
    pub fn from_values(start: DateTime<Utc>, values: Vec<Option<bool>>) -> Samples {
        Samples {
            start_minute: unix_minute(start),
            values,
        }
    }

    /// Records a sample taken at `at` in the minute containing it. Several samples in one
    /// minute (several probers, or scrape jitter) merge as `max`: healthy if any says so, as
    /// the CK8s uptime dashboard's `max by (target)`. Returns false when `at` is outside.
    pub fn record(&mut self, at: DateTime<Utc>, healthy: bool) -> bool {
        let Some(slot) = self.slot(unix_minute(at)) else {
            return false;
        };
        let value = &mut self.values[slot];
        *value = Some(value.unwrap_or(false) || healthy);
        true
    }

    /// The sample of the minute containing `at`; `None` when missing or outside.
    pub fn get(&self, at: DateTime<Utc>) -> Option<bool> {
        self.slot(unix_minute(at)).and_then(|i| self.values[i])
    }

    pub fn start(&self) -> DateTime<Utc> {
        from_unix_minute(self.start_minute)
    }

    pub fn end(&self) -> DateTime<Utc> {
        from_unix_minute(self.end_minute())
    }

    /// Number of minutes covered, present or not.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    fn end_minute(&self) -> i64 {
        self.start_minute + self.values.len() as i64
    }

    fn slot(&self, minute: i64) -> Option<usize> {
        (self.start_minute..self.end_minute())
            .contains(&minute)
            .then(|| (minute - self.start_minute) as usize)
    }

    fn at_minute(&self, minute: i64) -> Option<bool> {
        self.slot(minute).and_then(|i| self.values[i])
    }

    /// Overwrites the minutes both cover with `other`'s, missing ones included.
    fn copy_from(&mut self, other: &Samples) {
        let from = self.start_minute.max(other.start_minute);
        let to = self.end_minute().min(other.end_minute());
        if from < to {
            let (at, from_other) = (
                (from - self.start_minute) as usize,
                (from - other.start_minute) as usize,
            );
            let len = (to - from) as usize;
            self.values[at..at + len].copy_from_slice(&other.values[from_other..from_other + len]);
        }
    }

    /// Whether `[from, to)` (Unix minutes) lies inside.
    fn covers(&self, from: i64, to: i64) -> bool {
        from >= self.start_minute && to <= self.end_minute()
    }
}

// ---------------------------------------------------------------------------------------------
// Counting
// ---------------------------------------------------------------------------------------------

/// How the minutes of one window split up. Serialized as `{good, bad, missing, excluded}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct MinuteCounts {
    /// Minutes with a healthy sample.
    pub good: u64,
    /// Minutes with an unhealthy sample.
    pub bad: u64,
    /// Counted minutes without a sample: unknown.
    pub missing: u64,
    /// Minutes inside an exclusion, whatever their sample said.
    pub excluded: u64,
}

impl MinuteCounts {
    /// Minutes with a sample: `good + bad`.
    pub fn measured(&self) -> u64 {
        self.good + self.bad
    }

    /// Minutes that count towards the SLO: `good + bad + missing`.
    pub fn counted(&self) -> u64 {
        self.measured() + self.missing
    }

    /// `good / (good + bad) × 100`, the availability in percent; `None` without samples.
    pub fn availability(&self) -> Option<f64> {
        ratio(self.good, self.measured()).map(|r| r * 100.0)
    }

    /// `good / (good + bad + missing) × 100`: availability if every missing minute had been
    /// an outage.
    pub fn availability_lower_bound(&self) -> Option<f64> {
        ratio(self.good, self.counted()).map(|r| r * 100.0)
    }

    /// `(bad / (good + bad)) / (1 - slo/100)`; `None` without samples.
    pub fn burn_rate(&self, slo_percent: f64) -> Option<f64> {
        ratio(self.bad, self.measured()).map(|r| r / budget_ratio(slo_percent))
    }

    fn add(&mut self, minute: Minute) {
        match minute {
            Minute::Good => self.good += 1,
            Minute::Bad => self.bad += 1,
            Minute::Missing => self.missing += 1,
            Minute::Excluded => self.excluded += 1,
        }
    }
}

impl AddAssign for MinuteCounts {
    fn add_assign(&mut self, other: MinuteCounts) {
        self.good += other.good;
        self.bad += other.bad;
        self.missing += other.missing;
        self.excluded += other.excluded;
    }
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The share of measurements that may fail: `1 - slo/100`.
pub fn budget_ratio(slo_percent: f64) -> f64 {
    1.0 - slo_percent / 100.0
}

/// Counts the minutes of `[from, to)` (both floored to the minute). Minutes the samples do
/// not cover are missing unless excluded.
pub fn count(
    samples: &Samples,
    exclusions: &[Exclusion],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> MinuteCounts {
    Timeline::new(samples, exclusions, unix_minute(from), unix_minute(to)).count_all()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Minute {
    Good,
    Bad,
    Missing,
    Excluded,
}

/// Every minute of a span classified once, so that each window is a plain slice count.
struct Timeline {
    start_minute: i64,
    minutes: Vec<Minute>,
}

impl Timeline {
    fn new(samples: &Samples, exclusions: &[Exclusion], start: i64, end: i64) -> Timeline {
        let mut minutes: Vec<Minute> = (start..end.max(start))
            .map(|m| match samples.at_minute(m) {
                Some(true) => Minute::Good,
                Some(false) => Minute::Bad,
                None => Minute::Missing,
            })
            .collect();
        for ex in exclusions {
            let (from, to) = (ceil_minute(ex.start), ceil_minute(ex.end));
            let clip = |m: i64| (m.clamp(start, end.max(start)) - start) as usize;
            minutes[clip(from)..clip(to).max(clip(from))].fill(Minute::Excluded);
        }
        Timeline {
            start_minute: start,
            minutes,
        }
    }

    fn count_all(&self) -> MinuteCounts {
        self.count(i64::MIN, i64::MAX)
    }
}

impl MinuteSource for Timeline {
    /// Counts `[from, to)`, clipped to the timeline.
    fn count(&self, from: i64, to: i64) -> MinuteCounts {
        let end = self.start_minute + self.minutes.len() as i64;
        let clip = |m: i64| (m.clamp(self.start_minute, end) - self.start_minute) as usize;
        let mut counts = MinuteCounts::default();
        for &m in &self.minutes[clip(from)..clip(to).max(clip(from))] {
            counts.add(m);
        }
        counts
    }
}

// ---------------------------------------------------------------------------------------------
// Burn-rate windows and alerts
// ---------------------------------------------------------------------------------------------

/// The burn-rate windows of the multi-window alerts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BurnWindow {
    M5,
    M30,
    H1,
    H2,
    H6,
    D1,
    D3,
}

impl BurnWindow {
    pub const ALL: [BurnWindow; 7] = [
        BurnWindow::M5,
        BurnWindow::M30,
        BurnWindow::H1,
        BurnWindow::H2,
        BurnWindow::H6,
        BurnWindow::D1,
        BurnWindow::D3,
    ];

    pub fn minutes(self) -> i64 {
        match self {
            BurnWindow::M5 => 5,
            BurnWindow::M30 => 30,
            BurnWindow::H1 => 60,
            BurnWindow::H2 => 120,
            BurnWindow::H6 => 360,
            BurnWindow::D1 => DAY_MINUTES,
            BurnWindow::D3 => 3 * DAY_MINUTES,
        }
    }

    /// The window as Prometheus writes durations, also its JSON key.
    pub fn label(self) -> &'static str {
        match self {
            BurnWindow::M5 => "5m",
            BurnWindow::M30 => "30m",
            BurnWindow::H1 => "1h",
            BurnWindow::H2 => "2h",
            BurnWindow::H6 => "6h",
            BurnWindow::D1 => "1d",
            BurnWindow::D3 => "3d",
        }
    }
}

/// Burn rates per window; `null` in JSON when the window holds no sample.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct BurnRates {
    #[serde(rename = "5m")]
    pub m5: Option<f64>,
    #[serde(rename = "30m")]
    pub m30: Option<f64>,
    #[serde(rename = "1h")]
    pub h1: Option<f64>,
    #[serde(rename = "2h")]
    pub h2: Option<f64>,
    #[serde(rename = "6h")]
    pub h6: Option<f64>,
    #[serde(rename = "1d")]
    pub d1: Option<f64>,
    #[serde(rename = "3d")]
    pub d3: Option<f64>,
}

impl BurnRates {
    pub fn get(&self, window: BurnWindow) -> Option<f64> {
        *self.slot(window)
    }

    fn slot(&self, window: BurnWindow) -> &Option<f64> {
        match window {
            BurnWindow::M5 => &self.m5,
            BurnWindow::M30 => &self.m30,
            BurnWindow::H1 => &self.h1,
            BurnWindow::H2 => &self.h2,
            BurnWindow::H6 => &self.h6,
            BurnWindow::D1 => &self.d1,
            BurnWindow::D3 => &self.d3,
        }
    }

    fn set(&mut self, window: BurnWindow, rate: Option<f64>) {
        let slot = match window {
            BurnWindow::M5 => &mut self.m5,
            BurnWindow::M30 => &mut self.m30,
            BurnWindow::H1 => &mut self.h1,
            BurnWindow::H2 => &mut self.h2,
            BurnWindow::H6 => &mut self.h6,
            BurnWindow::D1 => &mut self.d1,
            BurnWindow::D3 => &mut self.d3,
        };
        *slot = rate;
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Page,
    Ticket,
}

/// A multi-window burn-rate alert: fires when both windows burn faster than `factor`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AlertRule {
    pub severity: Severity,
    pub long: BurnWindow,
    pub short: BurnWindow,
    pub factor: f64,
}

/// The SRE workbook's pairs for a 30-day window (Sloth's `google-30d`): 2 % of the budget in
/// 1 h or 5 % in 6 h pages; 10 % in 1 d or 10 % in 3 d opens a ticket.
pub const ALERT_RULES: [AlertRule; 4] = [
    AlertRule {
        severity: Severity::Page,
        long: BurnWindow::H1,
        short: BurnWindow::M5,
        factor: 14.4,
    },
    AlertRule {
        severity: Severity::Page,
        long: BurnWindow::H6,
        short: BurnWindow::M30,
        factor: 6.0,
    },
    AlertRule {
        severity: Severity::Ticket,
        long: BurnWindow::D1,
        short: BurnWindow::H2,
        factor: 3.0,
    },
    AlertRule {
        severity: Severity::Ticket,
        long: BurnWindow::D3,
        short: BurnWindow::H6,
        factor: 1.0,
    },
];

impl AlertRule {
    pub fn evaluate(&self, rates: &BurnRates) -> AlertState {
        let long_burn_rate = rates.get(self.long);
        let short_burn_rate = rates.get(self.short);
        let above = |rate: Option<f64>| rate.is_some_and(|r| r > self.factor);
        AlertState {
            severity: self.severity,
            long_window: self.long.label(),
            short_window: self.short.label(),
            factor: self.factor,
            long_burn_rate,
            short_burn_rate,
            firing: above(long_burn_rate) && above(short_burn_rate),
        }
    }
}

/// One alert pair's state, as reported.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AlertState {
    /// `"page"` or `"ticket"`.
    pub severity: Severity,
    /// e.g. `"1h"`.
    pub long_window: &'static str,
    /// e.g. `"5m"`.
    pub short_window: &'static str,
    /// Both burn rates must be strictly above this.
    pub factor: f64,
    pub long_burn_rate: Option<f64>,
    pub short_burn_rate: Option<f64>,
    pub firing: bool,
}

/// The one-word summary of a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SloStatus {
    /// A page alert fires.
    Page,
    /// A ticket alert fires, no page.
    Ticket,
    /// No burn-rate alert fires, but the 30-day error budget is spent: the SLO is missed
    /// for the window even if nothing burns fast now.
    BudgetSpent,
    /// Nothing fires, but the last hour (or the whole 30-day window) has counted minutes and
    /// no sample: the prober or Prometheus is not reporting, so "ok" would be a guess.
    NoData,
    Ok,
}

impl SloStatus {
    /// The word the console and every report use for it.
    pub fn word(self) -> &'static str {
        match self {
            SloStatus::Page => "page",
            SloStatus::Ticket => "ticket",
            SloStatus::BudgetSpent => "budget spent",
            SloStatus::NoData => "no data",
            SloStatus::Ok => "ok",
        }
    }

    /// How bad, for picking the worst of several: page, ticket, budget spent, no data, ok.
    pub fn rank(self) -> u8 {
        match self {
            SloStatus::Page => 4,
            SloStatus::Ticket => 3,
            SloStatus::BudgetSpent => 2,
            SloStatus::NoData => 1,
            SloStatus::Ok => 0,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------------------------

/// One target's SLO state. Its JSON (`slo --output json`) is a public contract: field names
/// are stable and in snake_case, times are RFC 3339 UTC, percentages are 0..=100, and a value
/// that cannot be known (no sample in its window) is `null`.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct SloReport {
    /// Cluster name, as in the `cluster` label (e.g. `"acme-sc"`).
    pub cluster: String,
    /// The probe's `target` label.
    pub target: String,
    /// `"cluster"` or `"external"`.
    pub kind: ProbeKind,
    /// The objective, in percent (e.g. 99.95).
    pub slo_percent: f64,
    /// End of every window: `now` floored to the minute (exclusive).
    pub evaluated_at: DateTime<Utc>,
    /// Always 30.
    pub window_days: i64,
    /// Start of the 30-day window (inclusive).
    pub window_start: DateTime<Utc>,
    /// `good / (good + bad) × 100` over 30 days; `null` without samples.
    pub availability_30d: Option<f64>,
    /// `good / (good + bad + missing) × 100` over 30 days: as if every missing minute had
    /// been an outage.
    pub availability_30d_lower_bound: Option<f64>,
    /// The 30-day window's minutes: `{good, bad, missing, excluded}`.
    pub minutes_30d: MinuteCounts,
    /// Start of the calendar year in the policy time zone.
    pub year_start: DateTime<Utc>,
    /// `good / (good + bad) × 100` from `year_start`; `null` without samples.
    pub availability_year: Option<f64>,
    /// The year's minutes; minutes Prometheus has no sample for (e.g. past its retention)
    /// are missing.
    pub minutes_year: MinuteCounts,
    /// Bad minutes the 30-day window allows: `(1 - slo/100) × (good + bad)`.
    pub budget_total_minutes: f64,
    /// `budget_total_minutes - bad`; negative once the SLO is breached.
    pub budget_left_minutes: f64,
    /// `budget_left_minutes / budget_total_minutes`; `null` without samples.
    pub budget_left_fraction: Option<f64>,
    /// `{"5m", "30m", "1h", "2h", "6h", "1d", "3d"}`: `(bad / (good + bad)) / (1 - slo/100)`
    /// over each window; `null` when the window has no sample.
    pub burn_rates: BurnRates,
    /// The four multi-window alert pairs, pages first.
    pub alerts: Vec<AlertState>,
    /// `"page"`, `"ticket"`, `"no_data"` or `"ok"`, in that precedence.
    pub status: SloStatus,
    /// 30 one-day buckets ending at `evaluated_at`, oldest first; their minutes add up to
    /// `minutes_30d`.
    pub chart: Vec<ChartPoint>,
    /// Exclusions overlapping `[min(window_start, year_start), evaluated_at)`, by start.
    pub exclusions: Vec<Exclusion>,
}

impl SloReport {
    /// No error budget left: the SLO allows no more bad minutes in the window. A report
    /// without samples has no known budget, so it is not spent. The policy weighs this
    /// before a disruptive workflow, from the console's reports or read afresh.
    pub fn budget_spent(&self) -> bool {
        spent(self.budget_left_minutes, self.budget_left_fraction)
    }
}

/// One bucket of the availability chart.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ChartPoint {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// `good / (good + bad) × 100`; `null` without samples.
    pub availability: Option<f64>,
    pub minutes: MinuteCounts,
}

/// The interval a report reads samples from: the calendar year (in `tz`) or the 30-day
/// window, whichever starts first, up to `now` floored to the minute.
pub fn report_span(now: DateTime<Utc>, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let end = floor_minute(now);
    let start = year_start(end, tz).min(end - TimeDelta::days(WINDOW_DAYS));
    (start, end)
}

/// 00:00 on January 1 of `at`'s year, in `tz`.
pub fn year_start(at: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    let year = at.with_timezone(&tz).year();
    tz.with_ymd_and_hms(year, 1, 1, 0, 0, 0)
        .earliest()
        // Only a zone that skips midnight of January 1 gets here; its first instant follows.
        .or_else(|| tz.with_ymd_and_hms(year, 1, 1, 1, 0, 0).earliest())
        .map_or(at, |t| t.with_timezone(&Utc))
}

/// The SLO report of one probe of `cluster`. `samples` should cover [`report_span`]; minutes
/// they do not cover count as missing.
pub fn report(
    cluster: &str,
    probe: &Probe,
    samples: &Samples,
    exclusions: &[Exclusion],
    now: DateTime<Utc>,
    tz: Tz,
) -> SloReport {
    let (span_start, end) = report_span(now, tz);
    let timeline = Timeline::new(
        samples,
        exclusions,
        unix_minute(span_start),
        unix_minute(end),
    );
    let year = timeline.count(unix_minute(year_start(end, tz)), unix_minute(end));
    build_report(cluster, probe, &timeline, year, exclusions, now, tz)
}

/// The minutes of `[from, to)` (Unix minutes), exclusions applied, however they were
/// counted: from samples ([`Timeline`]) or by Prometheus ([`WindowCounts`]). A report asks
/// only for the windows of [`Windows`].
trait MinuteSource {
    fn count(&self, from: i64, to: i64) -> MinuteCounts;

    /// The window of `minutes` ending at `end`.
    fn last(&self, end: i64, minutes: i64) -> MinuteCounts {
        self.count(end - minutes, end)
    }
}

/// The report from the minutes of `source`, which must hold the 30-day window and the
/// windows under it; the year's are `minutes_year`.
fn build_report(
    cluster: &str,
    probe: &Probe,
    source: &dyn MinuteSource,
    minutes_year: MinuteCounts,
    exclusions: &[Exclusion],
    now: DateTime<Utc>,
    tz: Tz,
) -> SloReport {
    let (span_start, end) = report_span(now, tz);
    let end_minute = unix_minute(end);
    let window_minutes = WINDOW_DAYS * DAY_MINUTES;
    let minutes_30d = source.last(end_minute, window_minutes);
    let year_start = year_start(end, tz);
    let burn_rates = burn_rates(source, end_minute, probe.slo);
    let alerts: Vec<AlertState> = ALERT_RULES
        .iter()
        .map(|r| r.evaluate(&burn_rates))
        .collect();
    let budget = Budget::new(&minutes_30d, probe.slo);
    SloReport {
        cluster: cluster.to_owned(),
        target: probe.target.clone(),
        kind: probe.kind,
        slo_percent: probe.slo,
        evaluated_at: end,
        window_days: WINDOW_DAYS,
        window_start: end - TimeDelta::minutes(window_minutes),
        availability_30d: minutes_30d.availability(),
        availability_30d_lower_bound: minutes_30d.availability_lower_bound(),
        minutes_30d,
        year_start,
        availability_year: minutes_year.availability(),
        minutes_year,
        budget_total_minutes: budget.total,
        budget_left_minutes: budget.left,
        budget_left_fraction: budget.left_fraction,
        burn_rates,
        status: status(&alerts, &budget, &minutes_30d, &source.last(end_minute, 60)),
        alerts,
        chart: chart(source, end_minute),
        exclusions: overlapping(exclusions, span_start, end),
    }
}

// ---------------------------------------------------------------------------------------------
// Reports from minutes counted by Prometheus
// ---------------------------------------------------------------------------------------------

/// The minutes of the short buckets: every burn window up to 6 h is a whole number of them.
pub const RECENT_BUCKET_MINUTES: i64 = 5;
/// Short buckets before the end: 6 hours.
pub const RECENT_BUCKETS: i64 = 72;

/// The buckets, in Unix minutes `[from, to)` ending at `now` floored to the minute, whose
/// minutes make up every figure of a report: the 30 days of the chart (oldest first; the
/// 30-day window and the 1- and 3-day burn windows are sums of them), 6 hours of 5-minute
/// buckets (the shorter burn windows and the last hour), and the calendar year so far.
/// Counted by Prometheus instead of read as samples, a fleet's reports cost a few queries
/// per cluster instead of a year of samples per target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Windows {
    pub days: Vec<(i64, i64)>,
    pub recent: Vec<(i64, i64)>,
    pub year: (i64, i64),
}

impl Windows {
    pub fn at(now: DateTime<Utc>, tz: Tz) -> Windows {
        let end = floor_minute(now);
        let end_minute = unix_minute(end);
        let buckets = |count: i64, minutes: i64| -> Vec<(i64, i64)> {
            (0..count)
                .map(|i| {
                    let from = end_minute - (count - i) * minutes;
                    (from, from + minutes)
                })
                .collect()
        };
        Windows {
            days: buckets(WINDOW_DAYS, DAY_MINUTES),
            recent: buckets(RECENT_BUCKETS, RECENT_BUCKET_MINUTES),
            year: (unix_minute(year_start(end, tz)), end_minute),
        }
    }
}

/// The minutes of each bucket of [`Windows`], exclusions applied, in the same order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WindowCounts {
    pub days: Vec<MinuteCounts>,
    pub recent: Vec<MinuteCounts>,
    pub year: MinuteCounts,
}

/// A [`WindowCounts`] with the buckets it counts.
struct Counted<'a> {
    windows: &'a Windows,
    counts: &'a WindowCounts,
}

impl MinuteSource for Counted<'_> {
    /// The sum of the buckets `[from, to)` spans exactly; a report asks for no other span.
    fn count(&self, from: i64, to: i64) -> MinuteCounts {
        let sum = |buckets: &[(i64, i64)], counts: &[MinuteCounts]| {
            let first = buckets.iter().position(|b| b.0 == from)?;
            let last = buckets.iter().position(|b| b.1 == to)?;
            let mut total = MinuteCounts::default();
            for c in counts.get(first..=last)? {
                total += *c;
            }
            Some(total)
        };
        sum(&self.windows.days, &self.counts.days)
            .or_else(|| sum(&self.windows.recent, &self.counts.recent))
            .unwrap_or_else(|| {
                debug_assert!(false, "no buckets make up [{from}, {to})");
                MinuteCounts::default()
            })
    }
}

/// The report of one probe of `cluster` from the minutes of [`Windows::at`]`(now, tz)`,
/// counted elsewhere: the same as [`report`] over the samples those counts came from.
pub fn report_from_counts(
    cluster: &str,
    probe: &Probe,
    counts: &WindowCounts,
    exclusions: &[Exclusion],
    now: DateTime<Utc>,
    tz: Tz,
) -> SloReport {
    let windows = Windows::at(now, tz);
    let source = Counted {
        windows: &windows,
        counts,
    };
    build_report(cluster, probe, &source, counts.year, exclusions, now, tz)
}

/// The minute ranges `[from, to)` (Unix minutes) that exclusions cover, merged and sorted,
/// as a report counts them: from the minute after each start's to the one after its end's.
pub fn excluded_minutes(exclusions: &[Exclusion]) -> Vec<(i64, i64)> {
    merge_intervals(
        exclusions
            .iter()
            .map(|ex| (ceil_minute(ex.start), ceil_minute(ex.end))),
    )
}

/// Half-open intervals `[from, to)`, sorted, with overlapping or touching ones joined and
/// empty ones left out.
pub fn merge_intervals(intervals: impl IntoIterator<Item = (i64, i64)>) -> Vec<(i64, i64)> {
    let mut sorted: Vec<(i64, i64)> = intervals.into_iter().filter(|(f, t)| f < t).collect();
    sorted.sort_unstable();
    let mut merged: Vec<(i64, i64)> = Vec::with_capacity(sorted.len());
    for (from, to) in sorted {
        match merged.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(to),
            _ => merged.push((from, to)),
        }
    }
    merged
}

/// No error budget left; a budget without samples is unknown, not spent.
fn spent(left_minutes: f64, left_fraction: Option<f64>) -> bool {
    left_fraction.is_some() && left_minutes <= 0.0
}

/// The 30-day error budget in minutes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Budget {
    /// `(1 - slo/100) × (good + bad)`.
    pub total: f64,
    /// `total - bad`.
    pub left: f64,
    /// `left / total`; `None` without samples.
    pub left_fraction: Option<f64>,
}

impl Budget {
    pub fn new(counts: &MinuteCounts, slo_percent: f64) -> Budget {
        let total = budget_ratio(slo_percent) * counts.measured() as f64;
        let left = total - counts.bad as f64;
        Budget {
            total,
            left,
            left_fraction: (counts.measured() > 0).then(|| left / total),
        }
    }
}

fn burn_rates(source: &dyn MinuteSource, end_minute: i64, slo_percent: f64) -> BurnRates {
    let mut rates = BurnRates::default();
    for window in BurnWindow::ALL {
        let counts = source.last(end_minute, window.minutes());
        rates.set(window, counts.burn_rate(slo_percent));
    }
    rates
}

fn status(
    alerts: &[AlertState],
    budget: &Budget,
    window: &MinuteCounts,
    last_hour: &MinuteCounts,
) -> SloStatus {
    let firing = |severity| alerts.iter().any(|a| a.severity == severity && a.firing);
    let silent = |c: &MinuteCounts| c.measured() == 0 && c.missing > 0;
    if firing(Severity::Page) {
        SloStatus::Page
    } else if firing(Severity::Ticket) {
        SloStatus::Ticket
    } else if spent(budget.left, budget.left_fraction) {
        SloStatus::BudgetSpent
    } else if window.measured() == 0 || silent(last_hour) {
        SloStatus::NoData
    } else {
        SloStatus::Ok
    }
}

fn chart(source: &dyn MinuteSource, end_minute: i64) -> Vec<ChartPoint> {
    let first = end_minute - WINDOW_DAYS * DAY_MINUTES;
    (0..WINDOW_DAYS)
        .map(|day| {
            let from = first + day * DAY_MINUTES;
            let minutes = source.count(from, from + DAY_MINUTES);
            ChartPoint {
                start: from_unix_minute(from),
                end: from_unix_minute(from + DAY_MINUTES),
                availability: minutes.availability(),
                minutes,
            }
        })
        .collect()
}

fn overlapping(
    exclusions: &[Exclusion],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Vec<Exclusion> {
    let mut out: Vec<Exclusion> = exclusions
        .iter()
        .filter(|ex| ex.start < end && ex.end > start)
        .cloned()
        .collect();
    out.sort_by_key(|ex| (ex.start, ex.end));
    out
}

// ---------------------------------------------------------------------------------------------
// History kept between reports
// ---------------------------------------------------------------------------------------------

/// How many complete days before today [`History`] reads again on every refresh, so that
/// samples Prometheus receives late (remote-write backlog, backfill) still count.
pub const REREAD_DAYS: usize = 2;

/// Where a report at one instant splits its span for a [`History`], in Unix minutes.
///
/// The span is cut into *days*: the policy zone's midnights (the earlier one where the clock
/// goes back over midnight; none on a date whose midnight the clock skips), plus the year's
/// start. A DST day is simply shorter or longer (1380 or 1500 minutes in Europe). Days are
/// never rounded or resampled; they only decide which minutes are kept as counts and which
/// are read again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryLayout {
    /// `now` floored to the minute: the end of every window.
    end: i64,
    /// The year's start in the policy zone.
    year_start: i64,
    /// The start of the day holding the 30-day window's start: minutes from here on are
    /// kept as samples, since the windows and chart buckets end at any minute.
    raw_from: i64,
    /// The start of the [`REREAD_DAYS`]th complete day before today: minutes from here on
    /// are read again on every refresh.
    reread_from: i64,
    /// Days tiling `[year_start, raw_from)`, empty when the year starts later.
    counted: Vec<(i64, i64)>,
    /// Days tiling `[raw_from, reread_from)`.
    kept: Vec<(i64, i64)>,
}

impl HistoryLayout {
    pub fn new(now: DateTime<Utc>, tz: Tz) -> HistoryLayout {
        let end_time = floor_minute(now);
        let end = unix_minute(end_time);
        let year_start = unix_minute(year_start(end_time, tz));
        let window_start = end - WINDOW_DAYS * DAY_MINUTES;
        // Reaching back three days before the span always finds a boundary at or before it;
        // `lo` itself is one too, so the tiling never has a hole.
        let lo = year_start.min(window_start) - 3 * DAY_MINUTES;
        let bounds = day_boundaries(lo, end, tz, &[lo, year_start]);
        let at_or_before = |m: i64| bounds.iter().rposition(|&b| b <= m).unwrap_or(0);
        let raw_from = bounds[at_or_before(window_start)];
        let reread_from = bounds[at_or_before(end).saturating_sub(REREAD_DAYS)].max(raw_from);
        let tile = |from: i64, to: i64| -> Vec<(i64, i64)> {
            bounds
                .windows(2)
                .filter(|w| w[0] >= from && w[1] <= to)
                .map(|w| (w[0], w[1]))
                .collect()
        };
        HistoryLayout {
            end,
            year_start,
            raw_from,
            reread_from,
            counted: if year_start < raw_from {
                tile(year_start, raw_from)
            } else {
                Vec::new()
            },
            kept: tile(raw_from, reread_from),
        }
    }

    /// The first instant the history reads: the year's start or the start of the day holding
    /// the 30-day window's start, whichever is earlier.
    pub fn start(&self) -> DateTime<Utc> {
        from_unix_minute(self.year_start.min(self.raw_from))
    }

    /// Samples from here on are read again on every refresh; before it, only days that
    /// changed are.
    pub fn reread_from(&self) -> DateTime<Utc> {
        from_unix_minute(self.reread_from)
    }

    /// `now` floored to the minute.
    pub fn end(&self) -> DateTime<Utc> {
        from_unix_minute(self.end)
    }
}

/// The policy zone's midnights in `[from, to]` (Unix minutes) and the `extra` ones there,
/// sorted.
fn day_boundaries(from: i64, to: i64, tz: Tz, extra: &[i64]) -> Vec<i64> {
    let date = |m: i64| from_unix_minute(m).with_timezone(&tz).date_naive();
    let mut out: Vec<i64> = extra
        .iter()
        .copied()
        .filter(|m| (from..=to).contains(m))
        .collect();
    let (mut day, last) = (date(from), date(to));
    while day <= last {
        let midnight = day
            .and_hms_opt(0, 0, 0)
            .and_then(|t| tz.from_local_datetime(&t).earliest());
        if let Some(m) = midnight.map(|t| unix_minute(t.with_timezone(&Utc)))
            && (from..=to).contains(&m)
        {
            out.push(m);
        }
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Where a day's minutes come from in a [`Refresh`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DaySource {
    /// The history's own count or samples, still valid.
    Kept,
    /// The samples read for this refresh.
    Read,
}

/// What a [`History`] needs read to report at one instant: see [`History::refresh`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refresh {
    layout: HistoryLayout,
    /// The counted days, each kept (as a count, or counted from the kept samples) or read.
    counted: Vec<(i64, i64, DaySource)>,
    /// Minute ranges to read, sorted, neighbours merged.
    read: Vec<(i64, i64)>,
}

impl Refresh {
    /// The intervals `[from, to)` whose samples must be read, in order; their samples go to
    /// [`History::apply`] in the same order.
    pub fn reads(&self) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        self.read
            .iter()
            .map(|&(from, to)| (from_unix_minute(from), from_unix_minute(to)))
            .collect()
    }

    /// Minutes to read in all.
    pub fn minutes(&self) -> i64 {
        self.read.iter().map(|(from, to)| to - from).sum()
    }
}

/// One target's minutes kept between reports, so that a refresh reads a few days of samples
/// instead of a year: whole days before the 30-day window (back to the year's start) as
/// [`MinuteCounts`], exclusions applied; the rest as samples.
///
/// A report from a refreshed history equals [`report`] over freshly read samples of the whole
/// span, provided that every day whose stored samples changed since it was read is named as
/// changed (see [`History::refresh`]) or lies in the last [`REREAD_DAYS`] complete days, which
/// are always read again. Counts depend on the exclusions, so a history is built for one set
/// of exclusions and one time zone ([`History::is_for`]).
#[derive(Clone, Debug)]
pub struct History {
    tz: Tz,
    exclusions: Vec<Exclusion>,
    /// Counted days, in order.
    days: Vec<CountedDay>,
    /// Samples from a day boundary to the end of the last refresh.
    samples: PackedSamples,
    /// The instant of the last refresh.
    now: Option<DateTime<Utc>>,
}

/// One counted day of a [`History`], small: a year of them takes 11 KiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct CountedDay {
    start: i64,
    minutes: u32,
    /// Good, bad, missing and excluded minutes.
    counts: [u32; 4],
}

impl CountedDay {
    fn new(start: i64, end: i64, c: MinuteCounts) -> CountedDay {
        // A day has at most a few thousand minutes.
        let small = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        CountedDay {
            start,
            minutes: small((end - start).max(0) as u64),
            counts: [c.good, c.bad, c.missing, c.excluded].map(small),
        }
    }

    fn end(&self) -> i64 {
        self.start + i64::from(self.minutes)
    }

    fn counts(&self) -> MinuteCounts {
        let [good, bad, missing, excluded] = self.counts.map(u64::from);
        MinuteCounts {
            good,
            bad,
            missing,
            excluded,
        }
    }
}

/// [`Samples`] at two bits a minute (0 missing, 1 bad, 2 good), as a [`History`] keeps them:
/// a month in 11 KiB instead of 44.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PackedSamples {
    start_minute: i64,
    len: usize,
    bits: Vec<u8>,
}

impl PackedSamples {
    fn pack(samples: &Samples) -> PackedSamples {
        let mut bits = vec![0u8; samples.values.len().div_ceil(4)];
        for (i, value) in samples.values.iter().enumerate() {
            let code = match value {
                None => 0,
                Some(false) => 1,
                Some(true) => 2,
            };
            bits[i / 4] |= code << (i % 4 * 2);
        }
        PackedSamples {
            start_minute: samples.start_minute,
            len: samples.values.len(),
            bits,
        }
    }

    fn unpack(&self) -> Samples {
        let values = (0..self.len)
            .map(|i| match self.bits[i / 4] >> (i % 4 * 2) & 3 {
                1 => Some(false),
                2 => Some(true),
                _ => None,
            })
            .collect();
        Samples {
            start_minute: self.start_minute,
            values,
        }
    }

    fn covers(&self, from: i64, to: i64) -> bool {
        from >= self.start_minute && to <= self.start_minute + self.len as i64
    }
}

impl History {
    pub fn new(tz: Tz, exclusions: Vec<Exclusion>) -> History {
        History {
            tz,
            exclusions,
            days: Vec::new(),
            samples: PackedSamples::pack(&Samples::missing(
                DateTime::UNIX_EPOCH,
                DateTime::UNIX_EPOCH,
            )),
            now: None,
        }
    }

    fn day(&self, start: i64) -> Option<&CountedDay> {
        self.days
            .binary_search_by_key(&start, |d| d.start)
            .ok()
            .map(|i| &self.days[i])
    }

    /// Whether this history was counted with these exclusions in this zone.
    pub fn is_for(&self, tz: Tz, exclusions: &[Exclusion]) -> bool {
        self.tz == tz && self.exclusions == exclusions
    }

    /// What to read for a report at `layout`'s instant. `changed` are closed intervals
    /// `[from, to]` whose stored samples may differ from what was read before; every day
    /// touching one is read again, as is every day the history does not hold and the last
    /// [`REREAD_DAYS`] complete days and today.
    pub fn refresh(
        &self,
        layout: &HistoryLayout,
        changed: &[(DateTime<Utc>, DateTime<Utc>)],
    ) -> Refresh {
        let unchanged = |from: i64, to: i64| {
            let (from, to) = (from_unix_minute(from), from_unix_minute(to));
            !changed.iter().any(|&(a, b)| a < to && b >= from)
        };
        let mut read: Vec<(i64, i64)> = Vec::new();
        let mut add = |from: i64, to: i64| match read.last_mut() {
            Some(last) if last.1 == from => last.1 = to,
            _ => read.push((from, to)),
        };
        let mut counted = Vec::with_capacity(layout.counted.len());
        for &(from, to) in &layout.counted {
            let held =
                self.day(from).is_some_and(|d| d.end() == to) || self.samples.covers(from, to);
            if held && unchanged(from, to) {
                counted.push((from, to, DaySource::Kept));
            } else {
                counted.push((from, to, DaySource::Read));
                add(from, to);
            }
        }
        for &(from, to) in &layout.kept {
            if !(self.samples.covers(from, to) && unchanged(from, to)) {
                add(from, to);
            }
        }
        if layout.reread_from < layout.end {
            add(layout.reread_from, layout.end);
        }
        Refresh {
            layout: layout.clone(),
            counted,
            read,
        }
    }

    /// Brings the history to `refresh`'s instant with the samples read for it, one
    /// [`Samples`] per interval of [`Refresh::reads`], in order.
    pub fn apply(&mut self, refresh: Refresh, read: Vec<Samples>) {
        debug_assert_eq!(refresh.read.len(), read.len(), "one Samples per read");
        let layout = &refresh.layout;
        let count = |samples: &Samples, from: i64, to: i64| {
            Timeline::new(samples, &self.exclusions, from, to).count_all()
        };
        let kept = self.samples.unpack();
        let mut days = Vec::with_capacity(refresh.counted.len());
        for &(from, to, source) in &refresh.counted {
            let counts = match (source, self.day(from)) {
                (DaySource::Kept, Some(day)) if day.end() == to => day.counts(),
                (DaySource::Kept, _) => count(&kept, from, to),
                (DaySource::Read, _) => match read.iter().find(|s| s.covers(from, to)) {
                    Some(samples) => count(samples, from, to),
                    None => {
                        debug_assert!(false, "day {from}..{to} was not read");
                        count(
                            &Samples::missing(DateTime::UNIX_EPOCH, DateTime::UNIX_EPOCH),
                            from,
                            to,
                        )
                    }
                },
            };
            days.push(CountedDay::new(from, to, counts));
        }
        let mut samples = Samples::missing(
            from_unix_minute(layout.raw_from),
            from_unix_minute(layout.end),
        );
        samples.copy_from(&kept);
        for r in &read {
            samples.copy_from(r);
        }
        self.days = days;
        self.samples = PackedSamples::pack(&samples);
        self.now = Some(from_unix_minute(layout.end));
    }

    /// The report as of the last [`History::apply`]; the same as [`report`] over the samples
    /// of the whole span.
    pub fn report(&self, cluster: &str, probe: &Probe) -> SloReport {
        let now = self.now.unwrap_or(DateTime::UNIX_EPOCH);
        let end = unix_minute(floor_minute(now));
        let samples = self.samples.unpack();
        let timeline = Timeline::new(&samples, &self.exclusions, samples.start_minute, end);
        let mut year = MinuteCounts::default();
        for day in &self.days {
            year += day.counts();
        }
        year += timeline.count(unix_minute(year_start(from_unix_minute(end), self.tz)), end);
        build_report(
            cluster,
            probe,
            &timeline,
            year,
            &self.exclusions,
            now,
            self.tz,
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Minute arithmetic
// ---------------------------------------------------------------------------------------------

/// Minutes since the Unix epoch of the minute containing `at`.
pub fn unix_minute(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(MINUTE_SECS)
}

pub fn from_unix_minute(minute: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(minute * MINUTE_SECS, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

pub fn floor_minute(at: DateTime<Utc>) -> DateTime<Utc> {
    from_unix_minute(unix_minute(at))
}

/// The first minute starting at or after `at`: where an exclusion's minutes begin or end.
fn ceil_minute(at: DateTime<Utc>) -> i64 {
    let floor = unix_minute(at);
    if from_unix_minute(floor) == at {
        floor
    } else {
        floor + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().expect("test timestamp")
    }

    fn probe(target: &str, kind: ProbeKind, slo: f64) -> Probe {
        Probe::for_cluster("acme-sc", target, kind, slo)
    }

    #[test]
    fn selectors_quote_values_and_take_the_clusters_labels() {
        assert_eq!(
            Probe::for_cluster("acme-sc", r#"we"ird\"#, ProbeKind::Cluster, 99.95).selector,
            r#"probe_success{cluster="acme-sc",target="we\"ird\\"}"#
        );
        let labels = BTreeMap::from([
            ("cluster".to_owned(), "wc".to_owned()),
            ("tenant".to_owned(), "acme".to_owned()),
        ]);
        assert_eq!(
            probe_selector(&labels, "dex"),
            r#"probe_success{cluster="wc",tenant="acme",target="dex"}"#
        );
        assert_eq!(
            probe_selector(&BTreeMap::new(), "dex"),
            r#"probe_success{target="dex"}"#
        );
    }

    /// Reports from minutes counted per bucket (as Prometheus counts them) equal reports
    /// from the samples: outages, gaps and exclusions across bucket edges, in January
    /// (a year shorter than the 30-day window) and in June.
    #[test]
    fn reports_from_bucket_counts_equal_reports_from_samples() {
        let exclusions = [
            exclusion(
                "2026-06-10T06:59:30Z",
                "2026-06-10T12:00:00Z",
                ExclusionKind::PlannedMaintenance,
            ),
            exclusion(
                "2026-06-10T11:00:00Z",
                "2026-06-10T13:30:10Z",
                ExclusionKind::ForceMajeure,
            ),
            exclusion(
                "2026-06-14T21:02:00Z",
                "2026-06-14T21:13:00Z",
                ExclusionKind::PlannedMaintenance,
            ),
        ];
        for (start, now) in [
            ("2025-11-01T00:00:00Z", "2026-01-09T13:37:42Z"),
            ("2026-04-01T00:00:00Z", "2026-06-14T21:37:42Z"),
        ] {
            let end = unix_minute(t(now));
            let since = end - unix_minute(t(start));
            // Bad minutes within the last hours and days, gaps at bucket edges.
            let bad: Vec<i64> = [3, 17, 29, 61, 300, 1441, 5000]
                .iter()
                .map(|back| since - back)
                .chain(1000..1100)
                .collect();
            let absent: Vec<i64> = [1, 2, 360, 1440, 4321]
                .iter()
                .map(|back| since - back)
                .collect();
            let samples = samples(start, now, &bad, &absent);
            let tz = chrono_tz::Europe::Stockholm;
            let windows = Windows::at(t(now), tz);
            // Minutes before the samples count as missing, as for a report.
            let span = report_span(t(now), tz);
            let timeline = Timeline::new(&samples, &exclusions, unix_minute(span.0), end);
            let counts = WindowCounts {
                days: windows
                    .days
                    .iter()
                    .map(|&(f, to)| timeline.count(f, to))
                    .collect(),
                recent: windows
                    .recent
                    .iter()
                    .map(|&(f, to)| timeline.count(f, to))
                    .collect(),
                year: timeline.count(windows.year.0, windows.year.1),
            };
            let p = probe("grafana", ProbeKind::External, 99.5);
            let from_samples = report("acme-sc", &p, &samples, &exclusions, t(now), tz);
            let from_counts = report_from_counts("acme-sc", &p, &counts, &exclusions, t(now), tz);
            assert_eq!(from_counts, from_samples, "at {now}");
            assert!(from_samples.minutes_30d.bad > 0 && from_samples.minutes_30d.missing > 0);
        }
        assert_eq!(
            excluded_minutes(&exclusions),
            [
                (
                    unix_minute(t("2026-06-10T07:00:00Z")),
                    unix_minute(t("2026-06-10T13:31:00Z"))
                ),
                (
                    unix_minute(t("2026-06-14T21:02:00Z")),
                    unix_minute(t("2026-06-14T21:13:00Z"))
                ),
            ]
        );
    }

    fn exclusion(start: &str, end: &str, kind: ExclusionKind) -> Exclusion {
        Exclusion {
            start: t(start),
            end: t(end),
            kind,
            reason: "test".into(),
        }
    }

    /// Healthy samples for every minute of `[start, end)`, with the given minutes (offsets
    /// from `start`) bad or absent.
    fn samples(start: &str, end: &str, bad: &[i64], absent: &[i64]) -> Samples {
        let start = t(start);
        let len = unix_minute(t(end)) - unix_minute(start);
        let values = (0..len)
            .map(|i| (!absent.contains(&i)).then_some(!bad.contains(&i)))
            .collect();
        Samples::from_values(start, values)
    }

    const STOCKHOLM: Tz = chrono_tz::Europe::Stockholm;

    #[test]
    fn record_floors_to_the_minute_and_merges_as_max() {
        let mut s = Samples::missing(t("2026-03-01T10:00:00Z"), t("2026-03-01T10:03:00Z"));
        assert_eq!(s.len(), 3);
        assert!(s.record(t("2026-03-01T10:00:59.900Z"), false));
        assert!(s.record(t("2026-03-01T10:01:00Z"), false));
        assert!(s.record(t("2026-03-01T10:01:30Z"), true));
        assert!(s.record(t("2026-03-01T10:01:45Z"), false));
        assert!(
            !s.record(t("2026-03-01T10:03:00Z"), true),
            "the end is exclusive"
        );
        assert!(!s.record(t("2026-03-01T09:59:59Z"), true));
        assert_eq!(s.get(t("2026-03-01T10:00:00Z")), Some(false));
        assert_eq!(
            s.get(t("2026-03-01T10:01:00Z")),
            Some(true),
            "any healthy sample wins"
        );
        assert_eq!(s.get(t("2026-03-01T10:02:00Z")), None);
        assert_eq!(s.end(), t("2026-03-01T10:03:00Z"));
    }

    #[test]
    fn count_splits_good_bad_missing_and_excluded() {
        // 10:00-11:00: bad at 10:05 and 10:40, absent at 10:06 and 10:41..10:43;
        // excluded 10:40-10:50 (swallowing one bad and three absent minutes).
        let s = samples(
            "2026-03-01T10:00:00Z",
            "2026-03-01T11:00:00Z",
            &[5, 40],
            &[6, 41, 42, 43],
        );
        let ex = [exclusion(
            "2026-03-01T10:40:00Z",
            "2026-03-01T10:50:00Z",
            ExclusionKind::PlannedMaintenance,
        )];
        let c = count(
            &s,
            &ex,
            t("2026-03-01T10:00:00Z"),
            t("2026-03-01T11:00:00Z"),
        );
        assert_eq!(
            c,
            MinuteCounts {
                good: 48,
                bad: 1,
                missing: 1,
                excluded: 10
            }
        );
        assert_eq!(c.availability(), Some(48.0 / 49.0 * 100.0));
        assert_eq!(c.availability_lower_bound(), Some(48.0 / 50.0 * 100.0));
    }

    #[test]
    fn minutes_outside_the_samples_are_missing() {
        let s = samples("2026-03-01T10:00:00Z", "2026-03-01T10:10:00Z", &[], &[]);
        let c = count(
            &s,
            &[],
            t("2026-03-01T09:55:00Z"),
            t("2026-03-01T10:12:00Z"),
        );
        assert_eq!((c.good, c.missing), (10, 7));
    }

    #[test]
    fn an_unaligned_exclusion_covers_the_minutes_starting_inside_it() {
        let s = samples("2026-03-01T10:00:00Z", "2026-03-01T10:10:00Z", &[], &[]);
        // Minutes starting at 10:03, 10:04, 10:05 lie inside [10:02:30, 10:05:10).
        let ex = [exclusion(
            "2026-03-01T10:02:30Z",
            "2026-03-01T10:05:10Z",
            ExclusionKind::ForceMajeure,
        )];
        let c = count(
            &s,
            &ex,
            t("2026-03-01T10:00:00Z"),
            t("2026-03-01T10:10:00Z"),
        );
        assert_eq!((c.good, c.excluded), (7, 3));
    }

    #[test]
    fn exclusions_outside_or_inverted_change_nothing() {
        let s = samples("2026-03-01T10:00:00Z", "2026-03-01T10:10:00Z", &[1], &[]);
        let ex = [
            exclusion(
                "2026-02-01T00:00:00Z",
                "2026-02-02T00:00:00Z",
                ExclusionKind::ForceMajeure,
            ),
            exclusion(
                "2026-03-01T10:05:00Z",
                "2026-03-01T10:01:00Z",
                ExclusionKind::ForceMajeure,
            ),
        ];
        let c = count(
            &s,
            &ex,
            t("2026-03-01T10:00:00Z"),
            t("2026-03-01T10:10:00Z"),
        );
        assert_eq!((c.good, c.bad, c.excluded), (9, 1, 0));
    }

    #[test]
    fn burn_rate_divides_the_error_ratio_by_the_budget_ratio() {
        let c = MinuteCounts {
            good: 59,
            bad: 1,
            missing: 0,
            excluded: 0,
        };
        // 1/60 bad at 99.95 %: (1/60) / 0.0005 = 33.3...
        assert_eq!(
            c.burn_rate(99.95),
            Some((1.0 / 60.0) / (1.0 - 99.95 / 100.0))
        );
        assert!((c.burn_rate(99.95).unwrap() - 33.333_333).abs() < 1e-5);
        assert_eq!(MinuteCounts::default().burn_rate(99.95), None);
    }

    #[test]
    fn budget_is_sized_on_measured_minutes() {
        // 43 200 minutes, 20 missing, 11 bad at 99.95 %: allowed (1 - 0.9995) × 43 180.
        let c = MinuteCounts {
            good: 43_169,
            bad: 11,
            missing: 20,
            excluded: 0,
        };
        let b = Budget::new(&c, 99.95);
        let total = (1.0 - 99.95 / 100.0) * 43_180.0;
        assert_eq!(b.total, total);
        assert_eq!(b.left, total - 11.0);
        assert_eq!(b.left_fraction, Some((total - 11.0) / total));
        assert!((b.total - 21.59).abs() < 1e-9);
        // Budget left agrees with availability against the SLO.
        assert!(c.availability().unwrap() >= 99.95 && b.left >= 0.0);
        let breached = MinuteCounts { bad: 22, ..c };
        assert!(breached.availability().unwrap() < 99.95);
        assert!(Budget::new(&breached, 99.95).left < 0.0);
        assert_eq!(
            Budget::new(&MinuteCounts::default(), 99.95).left_fraction,
            None
        );
    }

    #[test]
    fn year_starts_at_midnight_in_the_policy_zone() {
        assert_eq!(
            year_start(t("2026-11-20T12:00:00Z"), STOCKHOLM),
            t("2025-12-31T23:00:00Z")
        );
        // 23:30 UTC on New Year's Eve is already next year in Stockholm.
        assert_eq!(
            year_start(t("2026-12-31T23:30:00Z"), STOCKHOLM),
            t("2026-12-31T23:00:00Z")
        );
        assert_eq!(
            report_span(t("2026-11-20T12:00:30Z"), STOCKHOLM),
            (t("2025-12-31T23:00:00Z"), t("2026-11-20T12:00:00Z"))
        );
        // In January the 30-day window reaches back further than the year.
        assert_eq!(
            report_span(t("2026-01-10T00:00:00Z"), STOCKHOLM).0,
            t("2025-12-11T00:00:00Z")
        );
    }

    /// A cluster probe at 99.95 % over the 30 days before 2026-03-31 12:00 UTC, healthy but for:
    /// one bad minute 3 minutes ago, 4 bad minutes 2 days ago inside a maintenance window,
    /// and 2 missing minutes 10 days ago.
    fn fixture() -> (Probe, Samples, Vec<Exclusion>, DateTime<Utc>) {
        let now = t("2026-03-31T12:00:30Z");
        let end = t("2026-03-31T12:00:00Z");
        let mut s = Samples::missing(end - TimeDelta::days(30), end);
        let mut at = s.start();
        while at < end {
            s.record(at, true);
            at += TimeDelta::minutes(1);
        }
        let mut bad = |at: DateTime<Utc>| {
            s.values[(unix_minute(at) - s.start_minute) as usize] = Some(false);
        };
        bad(t("2026-03-31T11:57:00Z"));
        for m in 0..4 {
            bad(t("2026-03-29T06:10:00Z") + TimeDelta::minutes(m));
        }
        s.values[(unix_minute(t("2026-03-21T00:00:00Z")) - s.start_minute) as usize] = None;
        s.values[(unix_minute(t("2026-03-21T00:01:00Z")) - s.start_minute) as usize] = None;
        let ex = vec![exclusion(
            "2026-03-29T06:00:00Z",
            "2026-03-29T11:00:00Z",
            ExclusionKind::PlannedMaintenance,
        )];
        (
            probe("kube-apiserver", ProbeKind::Cluster, 99.95),
            s,
            ex,
            now,
        )
    }

    #[test]
    fn report_matches_hand_computed_numbers() {
        let (probe, samples, ex, now) = fixture();
        let r = report("acme-sc", &probe, &samples, &ex, now, STOCKHOLM);
        // 43 200 minutes: 300 excluded, 1 bad, 2 missing, 42 897 good.
        assert_eq!(
            r.minutes_30d,
            MinuteCounts {
                good: 42_897,
                bad: 1,
                missing: 2,
                excluded: 300
            }
        );
        assert_eq!(r.evaluated_at, t("2026-03-31T12:00:00Z"));
        assert_eq!(r.window_start, t("2026-03-01T12:00:00Z"));
        assert_eq!(r.availability_30d, Some(42_897.0 / 42_898.0 * 100.0));
        assert_eq!(
            r.availability_30d_lower_bound,
            Some(42_897.0 / 42_900.0 * 100.0)
        );
        let b = 1.0 - 99.95 / 100.0;
        assert_eq!(r.budget_total_minutes, b * 42_898.0);
        assert_eq!(r.budget_left_minutes, b * 42_898.0 - 1.0);
        // The year (from 2025-12-31 23:00 UTC, 89 days 13 h = 128 940 minutes) has samples
        // for the last 30 days only; everything before is missing.
        assert_eq!(r.year_start, t("2025-12-31T23:00:00Z"));
        assert_eq!(
            r.minutes_year,
            MinuteCounts {
                good: 42_897,
                bad: 1,
                missing: 128_940 - 43_200 + 2,
                excluded: 300
            }
        );
        // The bad minute at 11:57 is in every window; each window is otherwise healthy.
        let rate = |minutes: f64| Some((1.0 / minutes) / b);
        assert_eq!(r.burn_rates.m5, rate(5.0));
        assert_eq!(r.burn_rates.m30, rate(30.0));
        assert_eq!(r.burn_rates.h1, rate(60.0));
        assert_eq!(r.burn_rates.h2, rate(120.0));
        assert_eq!(r.burn_rates.h6, rate(360.0));
        assert_eq!(r.burn_rates.d1, rate(1440.0));
        // 3 days hold the maintenance window: 4320 - 300 measured minutes.
        assert_eq!(r.burn_rates.d3, rate(4020.0));
        let firing: Vec<bool> = r.alerts.iter().map(|a| a.firing).collect();
        // 1h 33.3 and 5m 400 > 14.4; 6h 5.56 < 6; 1d 1.39 < 3; 3d 0.50 < 1.
        assert_eq!(firing, [true, false, false, false]);
        assert_eq!(r.status, SloStatus::Page);
        assert_eq!(r.exclusions, ex);
    }

    #[test]
    fn chart_buckets_add_up_to_the_window() {
        let (probe, samples, ex, now) = fixture();
        let r = report("acme-sc", &probe, &samples, &ex, now, STOCKHOLM);
        assert_eq!(r.chart.len(), 30);
        assert_eq!(r.chart[0].start, r.window_start);
        assert_eq!(r.chart[29].end, r.evaluated_at);
        let mut sum = MinuteCounts::default();
        for p in &r.chart {
            sum.good += p.minutes.good;
            sum.bad += p.minutes.bad;
            sum.missing += p.minutes.missing;
            sum.excluded += p.minutes.excluded;
        }
        assert_eq!(sum, r.minutes_30d);
        // The maintenance day [03-28 12:00, 03-29 12:00): 300 excluded, the rest healthy.
        assert_eq!(r.chart[27].minutes.excluded, 300);
        assert_eq!(r.chart[27].availability, Some(100.0));
        assert_eq!(r.chart[29].availability, Some(1439.0 / 1440.0 * 100.0));
    }

    #[test]
    fn an_external_probe_needs_more_bad_minutes_to_page() {
        let (_, samples, ex, now) = fixture();
        let probe = probe("grafana", ProbeKind::External, 99.5);
        let r = report("acme-sc", &probe, &samples, &ex, now, STOCKHOLM);
        // 1/60 / 0.005 = 3.33 < 14.4: one bad minute does not page at 99.5 %.
        assert!(r.alerts.iter().all(|a| !a.firing));
        assert_eq!(r.status, SloStatus::Ok);
    }

    #[test]
    fn the_second_page_pair_and_the_ticket_pairs_fire() {
        // External at 99.5 %: 24 bad minutes in the last 6 h, 2 of them in the last 30 m.
        // 6h: (24/360)/0.005 = 13.3 > 6, 30m: (2/30)/0.005 = 13.3 > 6 -> page.
        // 1h: 2/60 -> 6.67 < 14.4; 1d: (24/1440)/0.005 = 3.33 > 3, 2h: 2/120 -> 3.33 > 3.
        // 3d: (24/4320)/0.005 = 1.11 > 1 and 6h > 1.
        let end = t("2026-03-31T12:00:00Z");
        let mut bad: Vec<i64> = (0..22).map(|m| 4320 - 300 + m).collect();
        bad.extend([4320 - 20, 4320 - 10]);
        let s = samples("2026-03-28T12:00:00Z", "2026-03-31T12:00:00Z", &bad, &[]);
        let probe = probe("dex", ProbeKind::External, 99.5);
        let r = report("acme-sc", &probe, &s, &[], end, STOCKHOLM);
        let firing: Vec<bool> = r.alerts.iter().map(|a| a.firing).collect();
        assert_eq!(firing, [false, true, true, true]);
        assert_eq!(r.status, SloStatus::Page);
        // Minutes before the samples are missing, so the 30-day window mostly is.
        assert_eq!(r.minutes_30d.missing, 27 * 1440);
    }

    #[test]
    fn a_silent_prober_is_no_data_not_ok() {
        let end = t("2026-03-31T12:00:00Z");
        // Healthy until 90 minutes ago, nothing since.
        let absent: Vec<i64> = (1440 - 90..1440).collect();
        let s = samples("2026-03-30T12:00:00Z", "2026-03-31T12:00:00Z", &[], &absent);
        let probe = probe("harbor", ProbeKind::External, 99.5);
        let r = report("acme-sc", &probe, &s, &[], end, STOCKHOLM);
        assert_eq!(r.burn_rates.m5, None);
        assert_eq!(r.burn_rates.h1, None);
        assert_eq!(r.burn_rates.h2, Some(0.0));
        assert!(r.alerts.iter().all(|a| !a.firing));
        assert_eq!(r.status, SloStatus::NoData);

        let nothing = Samples::missing(end, end);
        let r = report("acme-sc", &probe, &nothing, &[], end, STOCKHOLM);
        assert_eq!(r.status, SloStatus::NoData);
        assert_eq!(r.availability_30d, None);
        assert_eq!(r.budget_total_minutes, 0.0);
        assert_eq!(r.budget_left_fraction, None);
    }

    #[test]
    fn maintenance_in_progress_is_not_no_data() {
        let end = t("2026-03-25T08:00:00Z");
        let absent: Vec<i64> = (1440 - 120..1440).collect();
        let s = samples("2026-03-24T08:00:00Z", "2026-03-25T08:00:00Z", &[], &absent);
        let ex = [exclusion(
            "2026-03-25T06:00:00Z",
            "2026-03-25T11:00:00Z",
            ExclusionKind::PlannedMaintenance,
        )];
        let probe = probe("harbor", ProbeKind::External, 99.5);
        let r = report("acme-sc", &probe, &s, &ex, end, STOCKHOLM);
        assert_eq!(r.burn_rates.h1, None);
        assert_eq!(r.status, SloStatus::Ok);
    }

    #[test]
    fn report_json_has_the_documented_shape() {
        let (probe, samples, ex, now) = fixture();
        let r = report("acme-sc", &probe, &samples, &ex, now, STOCKHOLM);
        let v = serde_json::to_value(&r).expect("serializes");
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected = vec![
            "cluster",
            "target",
            "kind",
            "slo_percent",
            "evaluated_at",
            "window_days",
            "window_start",
            "availability_30d",
            "availability_30d_lower_bound",
            "minutes_30d",
            "year_start",
            "availability_year",
            "minutes_year",
            "budget_total_minutes",
            "budget_left_minutes",
            "budget_left_fraction",
            "burn_rates",
            "alerts",
            "status",
            "chart",
            "exclusions",
        ];
        expected.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(v["kind"], "cluster");
        assert_eq!(v["status"], "page");
        assert_eq!(v["evaluated_at"], "2026-03-31T12:00:00Z");
        assert_eq!(v["minutes_30d"]["missing"], 2);
        let windows: Vec<&str> = v["burn_rates"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(windows.len(), 7);
        for w in BurnWindow::ALL {
            assert!(v["burn_rates"][w.label()].is_f64(), "{}", w.label());
        }
        assert_eq!(v["alerts"][0]["severity"], "page");
        assert_eq!(v["alerts"][0]["long_window"], "1h");
        assert_eq!(v["alerts"][0]["short_window"], "5m");
        assert_eq!(v["alerts"][0]["factor"], 14.4);
        assert_eq!(v["alerts"][3]["severity"], "ticket");
        assert_eq!(v["exclusions"][0]["kind"], "planned_maintenance");
        assert_eq!(v["chart"][0]["minutes"]["good"], 1440);
    }

    // -----------------------------------------------------------------------------------------
    // History: cached equals uncached
    // -----------------------------------------------------------------------------------------

    /// A year and more of one-minute samples for the history tests, from 2025-12-01 to
    /// 2027-01-15 UTC: healthy, but for outages and missing runs across Stockholm midnights
    /// (22:00/23:00 UTC), on both DST days (2026-03-29 has 1380 minutes, 2026-10-25 1500),
    /// two whole missing days, nothing before 2026-01-03 (as past a retention), and a
    /// scattering of single bad and missing minutes.
    fn year_fixture() -> Samples {
        let (start, end) = (t("2025-12-01T00:00:00Z"), t("2027-01-15T00:00:00Z"));
        let mut s = Samples::missing(start, end);
        let first = unix_minute(start);
        let mut set = |from: &str, to: &str, value: Option<bool>| {
            for m in unix_minute(t(from))..unix_minute(t(to)) {
                s.values[(m - first) as usize] = value;
            }
        };
        set("2026-01-03T00:00:00Z", "2027-01-15T00:00:00Z", Some(true));
        // Across midnight in Stockholm (23:00 UTC in winter, 22:00 in summer).
        set("2026-02-10T22:50:00Z", "2026-02-10T23:20:00Z", Some(false));
        set("2026-07-14T21:55:00Z", "2026-07-14T22:07:00Z", None);
        // The spring DST day: the clock skips 02:00-03:00 local (01:00 UTC).
        set("2026-03-28T22:58:00Z", "2026-03-28T23:03:00Z", Some(false));
        set("2026-03-29T00:50:00Z", "2026-03-29T01:30:00Z", Some(false));
        set("2026-03-29T21:50:00Z", "2026-03-29T22:10:00Z", None);
        // The autumn DST day: 02:00-03:00 local twice (00:00-02:00 UTC).
        set("2026-10-25T00:30:00Z", "2026-10-25T02:30:00Z", Some(false));
        set("2026-10-25T22:40:00Z", "2026-10-25T23:20:00Z", None);
        // Two whole Stockholm days without a sample.
        set("2026-06-01T22:00:00Z", "2026-06-03T22:00:00Z", None);
        // Across New Year's midnight in Stockholm.
        set("2026-12-31T22:45:00Z", "2026-12-31T23:30:00Z", Some(false));
        for m in unix_minute(t("2026-01-03T00:00:00Z"))..unix_minute(end) {
            // A fixed scramble of the minute (splitmix64), so the pattern never lines up
            // with days.
            let mut h = (m as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            match (h ^ (h >> 31)) % 1499 {
                0..=2 => s.values[(m - first) as usize] = Some(false),
                3 => s.values[(m - first) as usize] = None,
                _ => {}
            }
        }
        s
    }

    /// Exclusions across day boundaries, unaligned to minutes, on both DST days, over New
    /// Year and inside the two missing days.
    fn year_exclusions() -> Vec<Exclusion> {
        use ExclusionKind::{ForceMajeure, PlannedMaintenance};
        vec![
            exclusion("2026-02-10T22:30:30Z", "2026-02-11T00:10:00Z", ForceMajeure),
            exclusion(
                "2026-03-28T22:30:00Z",
                "2026-03-29T01:10:45Z",
                PlannedMaintenance,
            ),
            exclusion(
                "2026-10-25T01:30:00Z",
                "2026-10-25T03:00:00Z",
                PlannedMaintenance,
            ),
            exclusion(
                "2026-06-02T10:00:00Z",
                "2026-06-02T12:00:00Z",
                PlannedMaintenance,
            ),
            exclusion("2026-12-31T23:10:00Z", "2027-01-01T02:00:00Z", ForceMajeure),
            exclusion(
                "2026-11-10T06:00:00Z",
                "2026-11-10T11:00:00Z",
                PlannedMaintenance,
            ),
            // Inverted: changes nothing, wherever it is.
            exclusion("2026-05-05T12:00:00Z", "2026-05-05T10:00:00Z", ForceMajeure),
        ]
    }

    /// What Prometheus would answer for `[from, to)`: the fixture's minutes there.
    fn read(store: &Samples, from: DateTime<Utc>, to: DateTime<Utc>) -> Samples {
        let mut s = Samples::missing(from, to);
        s.copy_from(store);
        s
    }

    /// One refresh of `history` at `now` against `store`; returns the minutes it read.
    fn refresh_at(
        history: &mut History,
        store: &Samples,
        now: DateTime<Utc>,
        changed: &[(DateTime<Utc>, DateTime<Utc>)],
    ) -> i64 {
        let refresh = history.refresh(&HistoryLayout::new(now, STOCKHOLM), changed);
        let minutes = refresh.minutes();
        let reads = refresh
            .reads()
            .into_iter()
            .map(|(from, to)| read(store, from, to))
            .collect();
        history.apply(refresh, reads);
        minutes
    }

    fn set_minutes(store: &mut Samples, from: &str, to: &str, value: Option<bool>) {
        for m in unix_minute(t(from))..unix_minute(t(to)) {
            let i = (m - store.start_minute) as usize;
            store.values[i] = value;
        }
    }

    /// Poll instants over 2026 into 2027: every 2 days 7 h 13 min (so each lands at another
    /// time of day), and every few minutes around the instants where the layout turns: both
    /// DST changes, the 30-day window leaving the year's start, midnights and New Year.
    fn poll_instants() -> Vec<DateTime<Utc>> {
        let mut polls = Vec::new();
        let mut at = t("2026-01-05T10:17:23Z");
        while at < t("2027-01-12T00:00:00Z") {
            polls.push(at);
            at += TimeDelta::minutes(2 * 1440 + 7 * 60 + 13);
        }
        let dense = |from: &str, to: &str, step: i64| {
            let mut out = Vec::new();
            let mut at = t(from);
            while at <= t(to) {
                out.push(at);
                at += TimeDelta::minutes(step);
            }
            out
        };
        polls.extend(dense("2026-01-30T22:40:00Z", "2026-01-31T00:20:00Z", 5));
        polls.extend(dense("2026-03-28T22:40:00Z", "2026-03-29T01:30:00Z", 10));
        polls.extend(dense("2026-03-30T21:30:00Z", "2026-03-31T23:30:00Z", 120));
        polls.extend(dense("2026-04-27T21:30:00Z", "2026-04-28T23:30:00Z", 45));
        polls.extend(dense("2026-10-24T21:40:00Z", "2026-10-26T02:00:00Z", 110));
        polls.extend(dense("2026-11-24T22:40:00Z", "2026-11-25T00:20:00Z", 20));
        polls.extend(dense("2026-12-31T22:30:00Z", "2027-01-01T00:30:00Z", 10));
        polls.sort_unstable();
        polls.dedup();
        polls
    }

    #[test]
    fn a_refreshed_history_reports_exactly_what_a_full_read_does() {
        let store = year_fixture();
        let ex = year_exclusions();
        let probes = [
            probe("kube-apiserver", ProbeKind::Cluster, 99.95),
            probe("grafana", ProbeKind::External, 99.5),
        ];
        let mut history = History::new(STOCKHOLM, ex.clone());
        let mut previous: Option<DateTime<Utc>> = None;
        let (mut polls, mut dst_days) = (0, [false; 2]);
        for now in poll_instants() {
            let minutes = refresh_at(&mut history, &store, now, &[]);
            for p in &probes {
                let cached = history.report("acme-sc", p);
                let full = report("acme-sc", p, &store, &ex, now, STOCKHOLM);
                assert_eq!(cached, full, "{} at {now}", p.target);
            }
            // After the first refresh, only the days since the last one and the last two
            // complete days (at most 1500 minutes each) and today are read.
            if let Some(prev) = previous {
                let since = unix_minute(now) - unix_minute(prev);
                assert!(
                    minutes <= since + 3 * 1500,
                    "{minutes} minutes read at {now}"
                );
            }
            let lengths: Vec<i64> = history.days.iter().map(|d| d.end() - d.start).collect();
            dst_days[0] |= lengths.contains(&1380);
            dst_days[1] |= lengths.contains(&1500);
            assert!(
                lengths.iter().all(|l| [1380, 1440, 1500].contains(l)),
                "{lengths:?}"
            );
            previous = Some(now);
            polls += 1;
        }
        assert!(polls > 250, "{polls} polls");
        assert_eq!(dst_days, [true, true], "both DST days were counted days");
    }

    #[test]
    fn late_and_changed_samples_are_read_again() {
        let mut store = year_fixture();
        let ex = year_exclusions();
        let p = probe("kube-apiserver", ProbeKind::Cluster, 99.95);
        let mut history = History::new(STOCKHOLM, ex.clone());
        let check = |history: &History, store: &Samples, now: DateTime<Utc>| {
            assert_eq!(
                history.report("acme-sc", &p),
                report("acme-sc", &p, store, &ex, now, STOCKHOLM),
                "at {now}"
            );
        };
        let now = t("2026-09-20T10:00:00Z");
        refresh_at(&mut history, &store, now, &[]);
        check(&history, &store, now);

        // Samples arriving late for yesterday and the day before: always read again.
        set_minutes(
            &mut store,
            "2026-09-18T03:00:00Z",
            "2026-09-18T03:30:00Z",
            None,
        );
        set_minutes(
            &mut store,
            "2026-09-19T12:00:00Z",
            "2026-09-19T12:07:00Z",
            Some(false),
        );
        let now = t("2026-09-20T10:05:00Z");
        refresh_at(&mut history, &store, now, &[]);
        check(&history, &store, now);

        // Older changes count once named: a backfilled outage 10 days back (in the kept
        // samples) and samples gone past retention in February (in the counted days).
        set_minutes(
            &mut store,
            "2026-09-10T23:30:00Z",
            "2026-09-11T00:30:00Z",
            Some(false),
        );
        set_minutes(
            &mut store,
            "2026-01-03T00:00:00Z",
            "2026-02-15T00:00:00Z",
            None,
        );
        let now = t("2026-09-20T10:10:00Z");
        let unnamed = history.clone();
        let changed = [
            (t("2026-09-10T00:00:00Z"), t("2026-09-11T00:00:00Z")),
            (t("2026-09-11T00:00:00Z"), t("2026-09-12T00:00:00Z")),
            (t("2026-01-03T00:00:00Z"), t("2026-02-15T00:00:00Z")),
        ];
        let minutes = refresh_at(&mut history, &store, now, &changed);
        check(&history, &store, now);
        assert!(minutes < 60 * 1440, "{minutes}");

        // Unnamed, they would be missed: the test can tell.
        let mut stale = unnamed;
        refresh_at(&mut stale, &store, now, &[]);
        assert_ne!(
            stale.report("acme-sc", &p),
            report("acme-sc", &p, &store, &ex, now, STOCKHOLM)
        );
    }

    #[test]
    fn history_layout_tiles_the_year_in_policy_days() {
        let layout = HistoryLayout::new(t("2026-11-20T12:00:30Z"), STOCKHOLM);
        assert_eq!(layout.end(), t("2026-11-20T12:00:00Z"));
        assert_eq!(layout.start(), t("2025-12-31T23:00:00Z"));
        // The window starts 2026-10-21 12:00 UTC: samples are kept from that Stockholm day.
        assert_eq!(from_unix_minute(layout.raw_from), t("2026-10-20T22:00:00Z"));
        // Today started 2026-11-19 23:00 UTC; the two complete days before it are read again.
        assert_eq!(layout.reread_from(), t("2026-11-17T23:00:00Z"));
        let counted = &layout.counted;
        assert_eq!(counted.first().map(|d| d.0), Some(layout.year_start));
        assert_eq!(counted.last().map(|d| d.1), Some(layout.raw_from));
        assert!(counted.windows(2).all(|w| w[0].1 == w[1].0));
        let length = |days: &[(i64, i64)], day: &str| {
            let start = unix_minute(t(day));
            days.iter().find(|d| d.0 == start).map(|d| d.1 - d.0)
        };
        assert_eq!(length(counted, "2026-03-28T23:00:00Z"), Some(1380));
        assert_eq!(length(counted, "2026-06-01T22:00:00Z"), Some(1440));
        // The autumn DST day is in the 30-day window: its samples are kept.
        assert_eq!(length(&layout.kept, "2026-10-24T22:00:00Z"), Some(1500));
        assert_eq!(layout.kept.first().map(|d| d.0), Some(layout.raw_from));
        assert_eq!(layout.kept.last().map(|d| d.1), Some(layout.reread_from));

        // In January the 30-day window reaches into last year: nothing is counted.
        let january = HistoryLayout::new(t("2026-01-10T08:00:00Z"), STOCKHOLM);
        assert!(january.counted.is_empty());
        assert_eq!(
            from_unix_minute(january.raw_from),
            t("2025-12-10T23:00:00Z")
        );
        assert_eq!(january.start(), t("2025-12-10T23:00:00Z"));
    }

    #[test]
    fn a_spent_budget_is_a_status_of_its_own() {
        // 30 bad minutes three weeks ago: more than the 21.6-minute budget of 99.95 %, and
        // too old for any burn-rate window to see.
        let (probe, mut samples, ex, now) = fixture();
        // Without the fixture's recent bad minute, which pages.
        samples.values[(unix_minute(t("2026-03-31T11:57:00Z")) - samples.start_minute) as usize] =
            Some(true);
        let start = t("2026-03-10T08:00:00Z");
        for m in 0..30 {
            samples.values[(unix_minute(start) + m - samples.start_minute) as usize] = Some(false);
        }
        let r = report("acme-sc", &probe, &samples, &ex, now, STOCKHOLM);
        assert!(r.alerts.iter().all(|a| !a.firing), "{:?}", r.alerts);
        assert!(r.budget_left_minutes < 0.0);
        assert_eq!(r.status, SloStatus::BudgetSpent);
        assert!(r.budget_spent());
        assert_eq!(r.status.word(), "budget spent");
        assert_eq!(
            serde_json::to_value(r.status).unwrap(),
            serde_json::json!("budget_spent")
        );
        // With budget left and nothing burning, the same target is ok.
        let (probe, mut samples, ex, now) = fixture();
        samples.values[(unix_minute(t("2026-03-31T11:57:00Z")) - samples.start_minute) as usize] =
            Some(true);
        let r = report("acme-sc", &probe, &samples, &ex, now, STOCKHOLM);
        assert_eq!(r.status, SloStatus::Ok);
    }
}
