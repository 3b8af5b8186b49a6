//! SLO reports from minutes Prometheus counts, instead of a year of samples read.
//!
//! A report needs the minutes of a few dozen windows ([`slo::Windows`]): 30 days, 6 hours
//! of 5-minute buckets, the year so far. Where a probe has one sample a minute on one
//! series, `count_over_time` and `sum_over_time` over a window are its measured and good
//! minutes, so six queries per cluster (all its targets at once, plus one for the server's
//! version) give every figure of every report, where the samples of one target are half a
//! million points. Minutes inside exclusions are counted the same way and taken off: two
//! queries per probe for each piece of an exclusion within a bucket.
//!
//! A probe whose answer does not fit that (several series, as with two probers; more
//! samples than minutes; values other than 0 and 1) is left to the sample path
//! ([`super::prometheus::slo_reports_cached`]), which merges samples minute by minute.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::prometheus::{PromError, PrometheusClient, QueryData};
use crate::config::Probe;
use crate::slo::{
    self, Exclusion, MinuteCounts, SloReport, WindowCounts, Windows, from_unix_minute,
    promql_string,
};

const MINUTE_MS: i64 = 60_000;

/// Measured and good minutes (sample count and sum) per bucket of [`Windows`].
#[derive(Clone, Debug, Default, PartialEq)]
struct Totals {
    days: Vec<[f64; 2]>,
    recent: Vec<[f64; 2]>,
    year: [f64; 2],
}

impl Totals {
    fn zero(windows: &Windows) -> Totals {
        Totals {
            days: vec![[0.0; 2]; windows.days.len()],
            recent: vec![[0.0; 2]; windows.recent.len()],
            year: [0.0; 2],
        }
    }
}

/// The reports of `probes` (each with its exclusions) of `cluster` at `now`, from counted
/// minutes; `None` for a probe whose series need the sample path.
pub async fn slo_reports_counted(
    client: &PrometheusClient,
    cluster: &str,
    probes: &[(Probe, Vec<Exclusion>)],
    now: DateTime<Utc>,
    tz: Tz,
) -> Result<Vec<Option<SloReport>>, PromError> {
    let windows = Windows::at(now, tz);
    let closed = client.closed_ranges().await?;
    let mut totals: Vec<Option<Totals>> = vec![None; probes.len()];
    for batch in batches(probes) {
        let Some(answer) = totals_by_series(client, &batch.selector, &windows, closed).await?
        else {
            // Points off the buckets' ends (a query frontend aligning the steps): the
            // buckets cannot be trusted, the samples can.
            continue;
        };
        for (i, target) in batch.probes {
            let mut matching = answer.iter().filter(|(labels, _)| {
                target.is_none_or(|t| labels.get("target").map(String::as_str) == Some(t))
            });
            totals[i] = match (matching.next(), matching.next()) {
                (None, _) => Some(Totals::zero(&windows)),
                (Some((_, t)), None) => Some(t.clone()),
                // Several series: a minute is good if any is, which only samples tell.
                (Some(_), Some(_)) => None,
            };
        }
    }
    let mut reports = Vec::with_capacity(probes.len());
    for ((probe, exclusions), totals) in probes.iter().zip(totals) {
        let counts = match totals {
            Some(t) => counts(client, probe, exclusions, &windows, t, closed).await?,
            None => None,
        };
        reports
            .push(counts.map(|c| slo::report_from_counts(cluster, probe, &c, exclusions, now, tz)));
    }
    Ok(reports)
}

/// The reports of `probes` (each with its exclusions) of `cluster` at `now`: counted where
/// the series allow, read as samples where they do not. Every report equals
/// [`super::prometheus::slo_reports`]'.
pub async fn slo_reports_fast(
    client: &PrometheusClient,
    cluster: &str,
    probes: &[(Probe, Vec<Exclusion>)],
    now: DateTime<Utc>,
    tz: Tz,
) -> Result<Vec<SloReport>, PromError> {
    let counted = slo_reports_counted(client, cluster, probes, now, tz).await?;
    let mut reports = Vec::with_capacity(probes.len());
    for ((probe, exclusions), counted) in probes.iter().zip(counted) {
        match counted {
            Some(report) => reports.push(report),
            None => reports.extend(
                super::prometheus::slo_reports(
                    client,
                    cluster,
                    std::slice::from_ref(probe),
                    exclusions,
                    now,
                    tz,
                )
                .await?,
            ),
        }
    }
    Ok(reports)
}

/// Probes asked about in one query: those whose selectors differ only in the target share
/// one, `target=~"a|b"`, and are told apart by the answer's `target` label (`Some`); a
/// probe with a selector of its own has every series of its answer (`None`).
struct Batch<'a> {
    selector: String,
    probes: Vec<(usize, Option<&'a str>)>,
}

fn batches(probes: &[(Probe, Vec<Exclusion>)]) -> Vec<Batch<'_>> {
    let mut shared: BTreeMap<&str, Vec<(usize, &str)>> = BTreeMap::new();
    let mut out = Vec::new();
    for (i, (probe, _)) in probes.iter().enumerate() {
        // `probe_selector` puts the target matcher last.
        let suffix = format!("target={}}}", promql_string(&probe.target));
        match probe.selector.strip_suffix(&suffix) {
            Some(prefix) if !probe.custom_selector => {
                shared.entry(prefix).or_default().push((i, &probe.target));
            }
            _ => out.push(Batch {
                selector: probe.selector.clone(),
                probes: vec![(i, None)],
            }),
        }
    }
    for (prefix, members) in shared {
        let targets: Vec<String> = members.iter().map(|(_, t)| regex_escape(t)).collect();
        out.push(Batch {
            selector: format!("{prefix}target=~{}}}", promql_string(&targets.join("|"))),
            probes: members.into_iter().map(|(i, t)| (i, Some(t))).collect(),
        });
    }
    out
}

/// `text` as a regular expression matching itself (Prometheus anchors it).
fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The range of a window of `minutes` evaluated 1 ms before its end, so that it holds the
/// samples of `[start, end)`: Prometheus 2 includes both ends of a range, 3 only the later.
fn range(minutes: i64, closed: bool) -> String {
    format!("{}ms", minutes * MINUTE_MS - i64::from(closed))
}

/// Just before the end of minute range `[.., end)`.
fn before(end_minute: i64) -> DateTime<Utc> {
    from_unix_minute(end_minute) - chrono::TimeDelta::milliseconds(1)
}

/// Sample counts and sums per bucket for every series of `selector`, by their labels;
/// `None` when the answer's points are not at the buckets' ends.
async fn totals_by_series(
    client: &PrometheusClient,
    selector: &str,
    windows: &Windows,
    closed: bool,
) -> Result<Option<Vec<(BTreeMap<String, String>, Totals)>>, PromError> {
    let mut by_series: BTreeMap<BTreeMap<String, String>, Totals> = BTreeMap::new();
    for (slot, function) in ["count_over_time", "sum_over_time"].into_iter().enumerate() {
        for (buckets, recent) in [(&windows.days, false), (&windows.recent, true)] {
            let (Some(first), Some(last)) = (buckets.first(), buckets.last()) else {
                continue;
            };
            let minutes = first.1 - first.0;
            let promql = format!("{function}({selector}[{}])", range(minutes, closed));
            let step = Duration::from_secs(minutes as u64 * 60);
            let answer = client
                .query_range(&promql, before(first.1), before(last.1), step)
                .await?;
            let QueryData::Matrix(series) = answer.data else {
                continue;
            };
            for s in series {
                let totals = by_series
                    .entry(s.metric.clone())
                    .or_insert_with(|| Totals::zero(windows));
                let cells = if recent {
                    &mut totals.recent
                } else {
                    &mut totals.days
                };
                for point in &s.values {
                    // The bucket whose end is 1 ms after the point.
                    let end_ms = (point.timestamp * 1000.0).round() as i64 + 1;
                    let after_first = end_ms - first.1 * MINUTE_MS;
                    if after_first.rem_euclid(minutes * MINUTE_MS) != 0 {
                        return Ok(None);
                    }
                    let i = after_first.div_euclid(minutes * MINUTE_MS);
                    if let Some(cell) = usize::try_from(i).ok().and_then(|i| cells.get_mut(i)) {
                        cell[slot] = point.value;
                    }
                }
            }
        }
        let (from, to) = windows.year;
        if to > from {
            let promql = format!("{function}({selector}[{}])", range(to - from, closed));
            if let QueryData::Vector(samples) = client.query(&promql, Some(before(to))).await?.data
            {
                for s in samples {
                    by_series
                        .entry(s.metric.clone())
                        .or_insert_with(|| Totals::zero(windows))
                        .year[slot] = s.value.value;
                }
            }
        }
    }
    Ok(Some(by_series.into_iter().collect()))
}

/// The minute counts of every bucket of one probe: its totals less what its exclusions
/// cover; `None` when the totals do not fit one sample a minute.
async fn counts(
    client: &PrometheusClient,
    probe: &Probe,
    exclusions: &[Exclusion],
    windows: &Windows,
    mut totals: Totals,
    closed: bool,
) -> Result<Option<WindowCounts>, PromError> {
    // Excluded minutes, cut at every bucket edge so each piece lies inside one bucket of
    // each kind; their samples are counted and taken off.
    let mut excluded = Totals::zero(windows);
    for (from, to) in pieces(exclusions, windows) {
        let mut counted = [0.0; 2];
        for (slot, function) in ["count_over_time", "sum_over_time"].into_iter().enumerate() {
            let promql = format!(
                "{function}({}[{}])",
                probe.selector,
                range(to - from, closed)
            );
            if let QueryData::Vector(samples) = client.query(&promql, Some(before(to))).await?.data
            {
                // A probe with several series went to the sample path before this point.
                counted[slot] = samples.iter().map(|s| s.value.value).sum();
            }
        }
        let minutes = (to - from) as f64;
        let take_off = |buckets: &[(i64, i64)], totals: &mut [[f64; 2]], ex: &mut [[f64; 2]]| {
            if let Some(i) = buckets.iter().position(|b| b.0 <= from && from < b.1) {
                totals[i][0] -= counted[0];
                totals[i][1] -= counted[1];
                ex[i][0] += minutes;
            }
        };
        take_off(&windows.days, &mut totals.days, &mut excluded.days);
        take_off(&windows.recent, &mut totals.recent, &mut excluded.recent);
        take_off(
            std::slice::from_ref(&windows.year),
            std::slice::from_mut(&mut totals.year),
            std::slice::from_mut(&mut excluded.year),
        );
    }
    let count = |(from, to): (i64, i64), [measured, good]: [f64; 2], excluded: f64| {
        let whole = |v: f64| (v >= 0.0 && v.fract() == 0.0).then_some(v as u64);
        let (measured, good, excluded) = (whole(measured)?, whole(good)?, whole(excluded)?);
        let minutes = u64::try_from(to - from).ok()?;
        let missing = minutes.checked_sub(excluded)?.checked_sub(measured)?;
        (good <= measured).then_some(MinuteCounts {
            good,
            bad: measured - good,
            missing,
            excluded,
        })
    };
    let each = |buckets: &[(i64, i64)], totals: &[[f64; 2]], excluded: &[[f64; 2]]| {
        buckets
            .iter()
            .zip(totals)
            .zip(excluded)
            .map(|((b, t), e)| count(*b, *t, e[0]))
            .collect::<Option<Vec<MinuteCounts>>>()
    };
    let (Some(days), Some(recent), Some(year)) = (
        each(&windows.days, &totals.days, &excluded.days),
        each(&windows.recent, &totals.recent, &excluded.recent),
        count(windows.year, totals.year, excluded.year[0]),
    ) else {
        return Ok(None);
    };
    Ok(Some(WindowCounts { days, recent, year }))
}

/// The excluded minute ranges inside the windows, cut at every bucket edge.
fn pieces(exclusions: &[Exclusion], windows: &Windows) -> Vec<(i64, i64)> {
    let mut edges: Vec<i64> = windows
        .days
        .iter()
        .chain(&windows.recent)
        .chain(std::iter::once(&windows.year))
        .flat_map(|&(from, to)| [from, to])
        .collect();
    edges.sort_unstable();
    edges.dedup();
    let (Some(&start), Some(&end)) = (edges.first(), edges.last()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (from, to) in slo::excluded_minutes(exclusions) {
        let (mut from, to) = (from.max(start), to.min(end));
        while from < to {
            let next = edges
                .iter()
                .copied()
                .find(|&e| e > from)
                .map_or(to, |e| e.min(to));
            out.push((from, next));
            from = next;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProbeKind;

    #[test]
    fn probes_of_one_cluster_share_a_query_and_custom_selectors_have_their_own() {
        let probe = |target: &str| Probe::for_cluster("acme-sc", target, ProbeKind::Cluster, 99.9);
        let custom = Probe {
            selector: r#"probe_success{job="x"}"#.into(),
            custom_selector: true,
            ..probe("own")
        };
        let probes: Vec<(Probe, Vec<Exclusion>)> = [probe("dex"), custom, probe("a.b")]
            .into_iter()
            .map(|p| (p, Vec::new()))
            .collect();
        let batches = batches(&probes);
        assert_eq!(batches.len(), 2);
        assert_eq!(batches[0].selector, r#"probe_success{job="x"}"#);
        assert_eq!(batches[0].probes, [(1, None)]);
        assert_eq!(
            batches[1].selector,
            r#"probe_success{cluster="acme-sc",target=~"dex|a\\.b"}"#
        );
        assert_eq!(batches[1].probes, [(0, Some("dex")), (2, Some("a.b"))]);
    }

    #[test]
    fn exclusions_are_cut_at_every_bucket_edge_inside_the_windows() {
        let now: DateTime<Utc> = "2026-06-14T21:37:42Z".parse().unwrap();
        let windows = Windows::at(now, chrono_tz::UTC);
        let end = windows.days.last().unwrap().1;
        let ex = |from: i64, to: i64| Exclusion {
            start: from_unix_minute(from),
            end: from_unix_minute(to),
            kind: slo::ExclusionKind::PlannedMaintenance,
            reason: "t".into(),
        };
        // One across the edge of two days, one over the last 12 minutes (three 5-minute
        // buckets), one before every window.
        let day_edge = windows.days[10].1;
        let got = pieces(
            &[
                ex(day_edge - 30, day_edge + 30),
                ex(end - 12, end + 100),
                ex(0, 10),
            ],
            &windows,
        );
        assert_eq!(
            got,
            [
                (day_edge - 30, day_edge),
                (day_edge, day_edge + 30),
                (end - 12, end - 10),
                (end - 10, end - 5),
                (end - 5, end),
            ]
        );
    }
}
