//! A client for the Prometheus HTTP API (`/api/v1/query`, `/api/v1/query_range`), also
//! spoken by Thanos Query and the simulator, and the SLO source built on it.
//!
//! Raw probe samples are read with instant queries of range selectors
//! (`probe_success{...}[7d]` at the chunk's end), which return every stored sample with its
//! own timestamp. `query_range` would not do: it fills each step from the 5-minute lookback,
//! so a missing sample would look like its healthy neighbour.
//!
//! # Polling without re-reading the year
//!
//! A report needs the calendar year, but only its last 30 days minute by minute. The live
//! poller keeps an [`SloCache`]: per target a [`slo::History`] (whole policy-zone days before
//! the 30-day window as minute counts, the rest as samples) and a fingerprint of every UTC
//! day it read: each series' `count_over_time` and `sum_over_time` over the day, asked with
//! two `query_range` calls of one point per day. A poll reads raw samples only for
//! - days it does not hold yet (the first poll reads the whole span, as a one-shot report);
//! - the last [`slo::REREAD_DAYS`] complete days and today, always: samples arriving late
//!   (a remote-write backlog, or backfill) usually land there;
//! - older days whose fingerprint changed since the last poll: backfill further back, or
//!   samples deleted by retention, which the uncached report counts as missing.
//!
//! So a poll costs two small aggregate queries and about three days of samples instead of a
//! year, and its reports equal the uncached ones as long as every change to stored samples
//! changes some series' count or sum for a UTC day (Prometheus cannot overwrite a sample in
//! place; a deleted or added one changes the count). Exclusions are applied to the counts,
//! so a history is kept for one set of exclusions and time zone and rebuilt if either differs.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use futures::{StreamExt, TryStreamExt};
use reqwest::Url;
use serde::Deserialize;

use crate::config::Probe;
use crate::secrets::{Credential, Secret};
use crate::slo::{self, Exclusion, History, HistoryLayout, Samples, SloReport};
use crate::state::rows::CertificateRow;

/// Longest range one raw-sample query asks for: 10 080 one-minute samples per series.
const CHUNK: TimeDelta = TimeDelta::days(7);

/// Raw-sample queries in flight at once for one target.
const PARALLEL_CHUNKS: usize = 4;

/// Prometheus refuses range queries with more points per series than this.
pub const MAX_POINTS: i64 = 11_000;

/// How much of an error body goes into an error message.
const BODY_EXCERPT: usize = 300;

/// A failed Prometheus request. Messages name the endpoint (without credentials) and
/// Prometheus' own error text; the bearer token never appears.
#[derive(Debug, thiserror::Error)]
pub enum PromError {
    #[error("invalid Prometheus URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("cannot set up the HTTP client for Prometheus at {url}: {reason}")]
    Client { url: String, reason: String },
    #[error("cannot reach Prometheus at {url}: {reason}")]
    Transport { url: String, reason: String },
    /// Prometheus answered with its error envelope.
    #[error("Prometheus at {url} refused `{query}` (HTTP {status}, {error_type}): {message}")]
    Api {
        url: String,
        query: String,
        status: u16,
        error_type: String,
        message: String,
    },
    /// An HTTP error without an API envelope, e.g. from a proxy in front of Prometheus.
    #[error("Prometheus at {url} answered HTTP {status}: {body}")]
    Http {
        url: String,
        status: u16,
        body: String,
    },
    /// 401 or 403: an authenticating proxy refused the credential, or wanted one.
    #[error("Prometheus at {url} refused the request (HTTP {status}): {hint}")]
    Unauthorized {
        url: String,
        status: u16,
        hint: String,
    },
    #[error("unreadable answer from Prometheus at {url}: {reason}")]
    Decode { url: String, reason: String },
    #[error("Prometheus at {url} answered `{query}` with a {got}, expected a {expected}")]
    UnexpectedResult {
        url: String,
        query: String,
        expected: &'static str,
        got: &'static str,
    },
}

// ---------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------

/// A successful query's data and any warnings Prometheus attached.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryResult {
    pub data: QueryData,
    pub warnings: Vec<String>,
}

/// `data.result`, by `data.resultType`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
pub enum QueryData {
    Vector(Vec<InstantSample>),
    Matrix(Vec<RangeSeries>),
    Scalar(Point),
    String(StringPoint),
}

impl QueryData {
    pub fn type_name(&self) -> &'static str {
        match self {
            QueryData::Vector(_) => "vector",
            QueryData::Matrix(_) => "matrix",
            QueryData::Scalar(_) => "scalar",
            QueryData::String(_) => "string",
        }
    }
}

pub type Labels = BTreeMap<String, String>;

/// One series of an instant vector.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct InstantSample {
    pub metric: Labels,
    pub value: Point,
}

/// One series of a range vector.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct RangeSeries {
    pub metric: Labels,
    #[serde(default)]
    pub values: Vec<Point>,
}

/// `[<unix seconds>, "<value>"]`. Values travel as strings so that `NaN` and `±Inf` survive.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(try_from = "(f64, String)")]
pub struct Point {
    /// Unix seconds, with millisecond fraction.
    pub timestamp: f64,
    pub value: f64,
}

impl Point {
    pub fn time(&self) -> Option<DateTime<Utc>> {
        point_time(self.timestamp)
    }
}

/// A point's Unix seconds (with millisecond fraction) as a time.
fn point_time(timestamp: f64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis((timestamp * 1000.0).round() as i64)
}

impl TryFrom<(f64, String)> for Point {
    type Error = String;

    fn try_from((timestamp, value): (f64, String)) -> Result<Self, Self::Error> {
        Ok(Point {
            timestamp,
            value: parse_value(&value)?,
        })
    }
}

/// `[<unix seconds>, "<string>"]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct StringPoint(pub f64, pub String);

/// Go's float formatting: `NaN`, `+Inf`, `-Inf`, or a decimal.
fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "NaN" => Ok(f64::NAN),
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => s.parse().map_err(|_| format!("not a sample value: {s:?}")),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    status: String,
    data: Option<QueryData>,
    error_type: Option<String>,
    error: Option<String>,
    #[serde(default)]
    warnings: Vec<String>,
}

/// Reads an API answer: the envelope when there is one, whatever the HTTP status, since
/// Prometheus reports query errors as 400/422/503 with an error envelope.
fn parse_response(
    url: &str,
    query: &str,
    status: u16,
    body: &[u8],
) -> Result<QueryResult, PromError> {
    let envelope: Envelope = match serde_json::from_slice(body) {
        Ok(envelope) => envelope,
        Err(e) if (200..300).contains(&status) => {
            return Err(PromError::Decode {
                url: url.to_owned(),
                reason: e.to_string(),
            });
        }
        Err(_) => {
            return Err(PromError::Http {
                url: url.to_owned(),
                status,
                body: excerpt(body),
            });
        }
    };
    match (envelope.status.as_str(), envelope.data) {
        ("success", Some(data)) => Ok(QueryResult {
            data,
            warnings: envelope.warnings,
        }),
        ("success", None) => Err(PromError::Decode {
            url: url.to_owned(),
            reason: "status success without data".into(),
        }),
        _ => Err(PromError::Api {
            url: url.to_owned(),
            query: query.to_owned(),
            status,
            error_type: envelope.error_type.unwrap_or_else(|| "unknown".into()),
            message: envelope.error.unwrap_or_else(|| "no error message".into()),
        }),
    }
}

/// A successful matrix answer, read without buffering. [`QueryData`] is adjacently tagged,
/// so serde buffers every point before reading it, which for a year of raw samples costs more
/// than the rest of the report; this reads the points in place. Values travel as strings
/// without escapes, so they are borrowed.
#[derive(Deserialize)]
struct FastMatrix<'a> {
    #[serde(borrow)]
    status: &'a str,
    #[serde(borrow)]
    data: Option<FastMatrixData<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FastMatrixData<'a> {
    #[serde(borrow)]
    result_type: &'a str,
    #[serde(borrow)]
    result: Vec<FastSeries<'a>>,
}

#[derive(Deserialize)]
struct FastSeries<'a> {
    #[serde(default, borrow)]
    values: Vec<(f64, &'a str)>,
}

/// Every point of every series of a successful matrix answer as `(unix seconds, value)`;
/// `None` when the body is anything else (or unusual, e.g. escaped strings), for
/// [`parse_response`] to read or report.
fn fast_matrix_points(body: &[u8]) -> Option<Vec<(f64, f64)>> {
    let answer: FastMatrix = serde_json::from_slice(body).ok()?;
    let data = answer.data?;
    if answer.status != "success" || data.result_type != "matrix" {
        return None;
    }
    let mut points = Vec::with_capacity(data.result.iter().map(|s| s.values.len()).sum());
    for series in data.result {
        for (timestamp, value) in series.values {
            points.push((timestamp, parse_value(value).ok()?));
        }
    }
    Some(points)
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(BODY_EXCERPT) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------

/// CPU and memory of one node, from node-exporter.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeUsage {
    pub node: String,
    /// Busy cores (non-idle CPU seconds per second over 5 minutes).
    pub cpu_cores: Option<f64>,
    /// `MemTotal - MemAvailable`.
    pub memory_bytes: Option<f64>,
}

/// CPU and memory of one pod, from cAdvisor (containers only, not the pod cgroup).
#[derive(Clone, Debug, PartialEq)]
pub struct PodUsage {
    pub namespace: String,
    pub pod: String,
    pub cpu_cores: Option<f64>,
    /// Working set.
    pub memory_bytes: Option<f64>,
}

const NODE_CPU: &str = r#"sum by (node) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))"#;
const NODE_MEMORY: &str =
    "sum by (node) (node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes)";
const POD_CPU: &str =
    r#"sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{container!=""}[5m]))"#;
const CERT_EXPIRY: &str = "certmanager_certificate_expiration_timestamp_seconds";
const POD_MEMORY: &str =
    r#"sum by (namespace, pod) (container_memory_working_set_bytes{container!=""})"#;

/// A Prometheus (or Thanos Query) HTTP API client.
#[derive(Clone)]
pub struct PrometheusClient {
    base: Url,
    auth: Option<Secret>,
    /// The name `auth` is stored under, for messages.
    credential: Option<String>,
    timeout: Duration,
    http: reqwest::Client,
    requests: super::Requests,
    /// [`PrometheusClient::closed_ranges`], asked once.
    closed_ranges: tokio::sync::OnceCell<bool>,
}

impl fmt::Debug for PrometheusClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrometheusClient")
            .field("base", &display_url(&self.base))
            .field("auth", &self.auth)
            .field("credential", &self.credential)
            .finish()
    }
}

impl PrometheusClient {
    /// A client for the API under `base_url` (a path prefix such as a proxy's is kept).
    /// Every request gives up after `timeout`.
    pub fn new(
        base_url: &str,
        bearer_token: Option<String>,
        timeout: Duration,
    ) -> Result<PrometheusClient, PromError> {
        let base = parse_base(base_url)?;
        let http = super::http_client().map_err(|e| PromError::Client {
            url: display_url(&base),
            reason: error_chain(&e.without_url()),
        })?;
        PrometheusClient::with_http(base_url, bearer_token, timeout, http)
    }

    /// As [`PrometheusClient::new`], sharing `http` (its connection pools and TLS set-up)
    /// with other clients, as a fleet of hundreds of clusters should.
    pub fn with_http(
        base_url: &str,
        bearer_token: Option<String>,
        timeout: Duration,
        http: reqwest::Client,
    ) -> Result<PrometheusClient, PromError> {
        Ok(PrometheusClient {
            base: parse_base(base_url)?,
            auth: bearer_token.map(Secret::Bearer),
            credential: None,
            timeout,
            http,
            requests: super::Requests::default(),
            closed_ranges: tokio::sync::OnceCell::new(),
        })
    }

    /// Takes a turn of `requests` for every request.
    pub fn with_requests(mut self, requests: super::Requests) -> PrometheusClient {
        self.requests = requests;
        self
    }

    /// Sends `credential` (a bearer token or basic auth) with every request, and names it
    /// when Prometheus refuses it. `None` keeps the client as it is.
    pub fn with_credential(mut self, credential: Option<Credential>) -> PrometheusClient {
        if let Some(c) = credential {
            self.auth = Some(c.secret);
            self.credential = Some(c.name);
        }
        self
    }

    /// The base URL, without credentials.
    pub fn base_url(&self) -> String {
        display_url(&self.base)
    }

    /// An instant query at `at`, or at the server's own "now" when `None` (which is what a
    /// live view wants: the server's clock, not ours).
    pub async fn query(
        &self,
        promql: &str,
        at: Option<DateTime<Utc>>,
    ) -> Result<QueryResult, PromError> {
        let mut params = vec![("query", promql.to_owned())];
        params.extend(at.map(|t| ("time", prom_time(t))));
        self.get("api/v1/query", promql, &params).await
    }

    /// A range query. Prometheus refuses more than [`MAX_POINTS`] steps per series; see
    /// [`min_step`].
    pub async fn query_range(
        &self,
        promql: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step: Duration,
    ) -> Result<QueryResult, PromError> {
        let params = [
            ("query", promql.to_owned()),
            ("start", prom_time(start)),
            ("end", prom_time(end)),
            ("step", format!("{}", step.as_secs_f64())),
        ];
        self.get("api/v1/query_range", promql, &params).await
    }

    /// The raw one-minute samples of a probe's series (`selector`, an instant-vector
    /// selector) in `[start, end)`. When several series match (several probers or
    /// instances), a minute is healthy if any of them succeeded in it: the
    /// `max by (target)` of the CK8s uptime dashboard. Non-finite values are ignored.
    pub async fn probe_samples(
        &self,
        selector: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Samples, PromError> {
        let mut samples = Samples::missing(start, end);
        let queries = chunks(samples.start(), samples.end())
            .into_iter()
            .map(|(at, range)| {
                let promql = format!("{selector}[{}s]", range.num_seconds());
                async move { self.matrix_points(&promql, at).await }
            });
        let mut results = futures::stream::iter(queries).buffer_unordered(PARALLEL_CHUNKS);
        while let Some(points) = results.try_next().await? {
            record_points(&mut samples, &points);
        }
        Ok(samples)
    }

    /// A fingerprint of every whole UTC day of `[from, end)` for [`SloCache`]: a hash of each
    /// series' sample count and sum over the day. A day without samples has one too.
    pub async fn day_fingerprints(
        &self,
        selector: &str,
        from: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<DayFingerprints, PromError> {
        const DAY_SECS: i64 = 86_400;
        let (first, stop) = (
            from.timestamp().div_euclid(DAY_SECS),
            end.timestamp().div_euclid(DAY_SECS),
        );
        let mut days: BTreeMap<i64, BTreeMap<Labels, [u64; 2]>> =
            (first..stop).map(|day| (day, BTreeMap::new())).collect();
        if days.is_empty() {
            return Ok(DayFingerprints::default());
        }
        // One point per day, at its end: Prometheus 2 counts both ends of `[1d]`, 3 only the
        // later one; either way the same data gives the same answer, which is all a
        // fingerprint needs. The span is at most a year and 34 days, far below MAX_POINTS.
        let at = |day: i64| DateTime::from_timestamp(day * DAY_SECS, 0).unwrap_or(end);
        let (start, last) = (at(first + 1), at(stop));
        let step = Duration::from_secs(DAY_SECS as u64);
        let ask = |function: &str| {
            let promql = format!("{function}({selector}[1d])");
            async move {
                let result = self.query_range(&promql, start, last, step).await?;
                self.expect_matrix(&promql, result)
            }
        };
        let (counts, sums) = futures::try_join!(ask("count_over_time"), ask("sum_over_time"))?;
        for (slot, answer) in [(0, counts), (1, sums)] {
            for series in answer {
                for point in &series.values {
                    let day = (point.timestamp.round() as i64).div_euclid(DAY_SECS) - 1;
                    if let Some(day) = days.get_mut(&day) {
                        day.entry(series.metric.clone()).or_default()[slot] = point.value.to_bits();
                    }
                }
            }
        }
        Ok(DayFingerprints {
            first,
            hashes: days
                .into_values()
                .map(|series| {
                    let mut hasher = DefaultHasher::new();
                    series.hash(&mut hasher);
                    hasher.finish()
                })
                .collect(),
        })
    }

    /// Node CPU and memory now, sorted by node.
    pub async fn node_usage(&self) -> Result<Vec<NodeUsage>, PromError> {
        let (cpu, memory) = futures::try_join!(self.vector(NODE_CPU), self.vector(NODE_MEMORY))?;
        let usage = join_by(&cpu, &memory, &["node"]);
        Ok(usage
            .into_iter()
            .map(|(mut key, (cpu_cores, memory_bytes))| NodeUsage {
                node: key.remove(0),
                cpu_cores,
                memory_bytes,
            })
            .collect())
    }

    /// When each cert-manager Certificate's current certificate expires (cert-manager's
    /// own metric), sorted by namespace and name.
    pub async fn certificates(&self) -> Result<Vec<CertificateRow>, PromError> {
        let samples = self.vector(CERT_EXPIRY).await?;
        let mut rows: Vec<CertificateRow> = samples
            .into_iter()
            .filter_map(|s| {
                let label = |k: &str| s.metric.get(k).cloned().unwrap_or_default();
                Some(CertificateRow {
                    namespace: label("namespace"),
                    name: label("name"),
                    expires: DateTime::from_timestamp(s.value.value as i64, 0)?,
                })
            })
            .collect();
        rows.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        Ok(rows)
    }

    /// Pod CPU and memory now, sorted by namespace and pod.
    pub async fn pod_usage(&self) -> Result<Vec<PodUsage>, PromError> {
        let (cpu, memory) = futures::try_join!(self.vector(POD_CPU), self.vector(POD_MEMORY))?;
        let usage = join_by(&cpu, &memory, &["namespace", "pod"]);
        Ok(usage
            .into_iter()
            .map(|(key, (cpu_cores, memory_bytes))| {
                let [namespace, pod]: [String; 2] = key.try_into().unwrap_or_default();
                PodUsage {
                    namespace,
                    pod,
                    cpu_cores,
                    memory_bytes,
                }
            })
            .collect())
    }

    /// The points of an instant query's matrix answer, as `(unix seconds, value)`.
    async fn matrix_points(
        &self,
        promql: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<(f64, f64)>, PromError> {
        let params = [("query", promql.to_owned()), ("time", prom_time(at))];
        let (shown, status, body) = self.fetch("api/v1/query", &params).await?;
        if let Some(points) = fast_matrix_points(body.as_ref()) {
            return Ok(points);
        }
        let result = parse_response(&shown, promql, status, body.as_ref())?;
        let series = self.expect_matrix(promql, result)?;
        Ok(series
            .iter()
            .flat_map(|s| &s.values)
            .map(|p| (p.timestamp, p.value))
            .collect())
    }

    /// Whether a range selector includes both of its ends, as Prometheus 2 does (3 leaves
    /// out the start): from `/api/v1/status/buildinfo`, asked once per client. A server that
    /// does not say is taken for a 2.
    pub async fn closed_ranges(&self) -> Result<bool, PromError> {
        self.closed_ranges
            .get_or_try_init(|| self.ask_closed_ranges())
            .await
            .copied()
    }

    async fn ask_closed_ranges(&self) -> Result<bool, PromError> {
        #[derive(Deserialize)]
        struct Build {
            data: Option<Version>,
        }
        #[derive(Deserialize)]
        struct Version {
            version: String,
        }
        let (_, status, body) = self.fetch("api/v1/status/buildinfo", &[]).await?;
        let version = (200..300)
            .contains(&status)
            .then(|| serde_json::from_slice::<Build>(body.as_ref()).ok())
            .flatten()
            .and_then(|b| b.data)
            .map(|d| d.version);
        let major = version
            .as_deref()
            .and_then(|v| v.split('.').next())
            .and_then(|m| m.parse::<u32>().ok());
        Ok(major.is_none_or(|m| m < 3))
    }

    async fn vector(&self, promql: &str) -> Result<Vec<InstantSample>, PromError> {
        match self.query(promql, None).await?.data {
            QueryData::Vector(v) => Ok(v),
            other => Err(self.unexpected(promql, "vector", &other)),
        }
    }

    fn expect_matrix(
        &self,
        promql: &str,
        result: QueryResult,
    ) -> Result<Vec<RangeSeries>, PromError> {
        match result.data {
            QueryData::Matrix(m) => Ok(m),
            other => Err(self.unexpected(promql, "matrix", &other)),
        }
    }

    fn unexpected(&self, promql: &str, expected: &'static str, got: &QueryData) -> PromError {
        PromError::UnexpectedResult {
            url: self.base_url(),
            query: promql.to_owned(),
            expected,
            got: got.type_name(),
        }
    }

    async fn get(
        &self,
        path: &str,
        promql: &str,
        params: &[(&str, String)],
    ) -> Result<QueryResult, PromError> {
        let (shown, status, body) = self.fetch(path, params).await?;
        parse_response(&shown, promql, status, body.as_ref())
    }

    /// One GET: the URL as messages show it, the HTTP status and the body.
    async fn fetch(
        &self,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<(String, u16, impl AsRef<[u8]>), PromError> {
        let mut url = self.base.join(path).map_err(|e| PromError::BadUrl {
            url: display_url(&self.base),
            reason: e.to_string(),
        })?;
        let shown = display_url(&url);
        url.query_pairs_mut()
            .extend_pairs(params.iter().map(|(k, v)| (k, v.as_str())));
        let mut request = self.http.get(url).timeout(self.timeout);
        if let Some(auth) = &self.auth {
            request = auth.apply(request);
        }
        let transport = |e: reqwest::Error| PromError::Transport {
            url: shown.clone(),
            reason: error_chain(&e.without_url()),
        };
        let _turn = self.requests.turn().await;
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        if matches!(status, 401 | 403) {
            return Err(PromError::Unauthorized {
                url: shown,
                status,
                hint: crate::sources::unauthorized_hint("prometheus", self.credential.as_deref()),
            });
        }
        let mut body = response.bytes().await.map_err(transport)?;
        // A proxy may quote the request in an error; keep the secret out of messages.
        if let Some(auth) = self.auth.as_ref().filter(|_| !(200..300).contains(&status)) {
            body = auth
                .scrub(&String::from_utf8_lossy(&body))
                .into_bytes()
                .into();
        }
        Ok((shown, status, body))
    }
}

/// The smallest step that keeps a range query within Prometheus' points limit.
pub fn min_step(start: DateTime<Utc>, end: DateTime<Utc>) -> Duration {
    let span = (end - start).num_seconds().max(0);
    Duration::from_secs((span / MAX_POINTS + 1) as u64)
}

/// The Prometheus client of one cluster of the fleet config, with the credential the
/// config names, for one-shot reads (the headless reports, the policy). The live fleet
/// keeps its own clients, which share one connection pool.
pub async fn cluster_client(
    cluster: &crate::config::ClusterConfig,
    timeout: Duration,
) -> Result<PrometheusClient, String> {
    let client =
        PrometheusClient::new(&cluster.prometheus, None, timeout).map_err(|e| e.to_string())?;
    let credential = crate::secrets::resolve(cluster.prometheus_credential.as_deref())
        .await
        .map_err(|e| e.to_string())?;
    Ok(client.with_credential(credential))
}

/// SLO reports for `probes` of `cluster`, as of `now`, each read through the probe's
/// selector (by default the `cluster` label is `cluster`'s name). Reads each
/// target's raw samples once over [`slo::report_span`] (the calendar year or 30 days, whichever
/// is longer) and computes everything from that one set.
pub async fn slo_reports(
    client: &PrometheusClient,
    cluster: &str,
    probes: &[Probe],
    exclusions: &[Exclusion],
    now: DateTime<Utc>,
    tz: Tz,
) -> Result<Vec<SloReport>, PromError> {
    let (start, end) = slo::report_span(now, tz);
    let mut reports = Vec::with_capacity(probes.len());
    for probe in probes {
        let samples = client.probe_samples(&probe.selector, start, end).await?;
        reports.push(slo::report(cluster, probe, &samples, exclusions, now, tz));
    }
    Ok(reports)
}

/// [`PrometheusClient::day_fingerprints`]: one hash per UTC day from `first` (days since the
/// epoch) on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DayFingerprints {
    first: i64,
    hashes: Vec<u64>,
}

impl DayFingerprints {
    /// The fingerprint of UTC day `day` (days since the epoch), if it was asked for.
    pub fn get(&self, day: i64) -> Option<u64> {
        let i = usize::try_from(day.checked_sub(self.first)?).ok()?;
        self.hashes.get(i).copied()
    }

    /// The days, in order.
    pub fn days(&self) -> std::ops::Range<i64> {
        self.first..self.first + self.hashes.len() as i64
    }
}

/// SLO state kept between polls of one cluster's Prometheus: see the module documentation.
#[derive(Debug, Default)]
pub struct SloCache {
    /// By cluster and target.
    targets: HashMap<(String, String), TargetCache>,
}

impl SloCache {
    /// Minutes of raw samples the last poll of `cluster`'s `target` read, if it was polled.
    pub fn minutes_read(&self, cluster: &str, target: &str) -> Option<i64> {
        self.targets
            .get(&(cluster.to_owned(), target.to_owned()))
            .map(|t| t.read_minutes)
    }
}

#[derive(Debug)]
struct TargetCache {
    history: History,
    /// [`PrometheusClient::day_fingerprints`] as of the history's last refresh.
    fingerprints: DayFingerprints,
    /// Minutes of samples the last refresh read.
    read_minutes: i64,
}

impl TargetCache {
    fn new(tz: Tz, exclusions: &[Exclusion]) -> TargetCache {
        TargetCache {
            history: History::new(tz, exclusions.to_vec()),
            fingerprints: DayFingerprints::default(),
            read_minutes: 0,
        }
    }
}

/// As [`slo_reports`], with what `cache` kept from earlier calls for the same cluster: only
/// the days not held yet, the last few and those whose fingerprint changed are read again.
/// The reports are the same as [`slo_reports`]'.
pub async fn slo_reports_cached(
    client: &PrometheusClient,
    cluster: &str,
    probes: &[Probe],
    exclusions: &[Exclusion],
    now: DateTime<Utc>,
    tz: Tz,
    cache: &mut SloCache,
) -> Result<Vec<SloReport>, PromError> {
    let layout = HistoryLayout::new(now, tz);
    let mut reports = Vec::with_capacity(probes.len());
    for probe in probes {
        let entry = cache
            .targets
            .entry((cluster.to_owned(), probe.target.clone()))
            .or_insert_with(|| TargetCache::new(tz, exclusions));
        if !entry.history.is_for(tz, exclusions) {
            *entry = TargetCache::new(tz, exclusions);
        }
        // Fingerprints first: a change landing while the samples are read then shows as a
        // changed day next time, instead of slipping in unnoticed.
        let fingerprints = client
            .day_fingerprints(&probe.selector, layout.start(), layout.end())
            .await?;
        let changed = changed_days(&entry.fingerprints, &fingerprints, layout.reread_from());
        let refresh = entry.history.refresh(&layout, &changed);
        tracing::debug!(
            cluster,
            target = %probe.target,
            changed_days = changed.len(),
            minutes = refresh.minutes(),
            "reading SLO samples"
        );
        let read_minutes = refresh.minutes();
        let mut read = Vec::new();
        for (from, to) in refresh.reads() {
            read.push(client.probe_samples(&probe.selector, from, to).await?);
        }
        entry.history.apply(refresh, read);
        entry.fingerprints = fingerprints;
        entry.read_minutes = read_minutes;
        reports.push(entry.history.report(cluster, probe));
    }
    Ok(reports)
}

/// The UTC days before `before` whose fingerprint is new or differs, as closed intervals
/// (a range selector may include both of its ends).
fn changed_days(
    old: &DayFingerprints,
    new: &DayFingerprints,
    before: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let start = |day: i64| DateTime::from_timestamp(day * 86_400, 0).unwrap_or(before);
    new.days()
        .filter(|&day| start(day) < before && old.get(day) != new.get(day))
        .map(|day| (start(day), start(day + 1)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn parse_base(base_url: &str) -> Result<Url, PromError> {
    let bad = |reason: String| PromError::BadUrl {
        url: redact_text(base_url),
        reason,
    };
    let mut url = Url::parse(base_url).map_err(|e| bad(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https".into()));
    }
    // `join` replaces the last path segment unless the path ends in a slash.
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// A URL as errors and logs show it: without user info, query or fragment.
fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// An unparsable URL may still carry `user:password@`; drop everything up to the `@`.
fn redact_text(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://{}", &url[..scheme_end], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// An error with its causes, since reqwest's own message omits e.g. "connection refused".
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Unix seconds with milliseconds, as the API accepts.
fn prom_time(t: DateTime<Utc>) -> String {
    let ms = t.timestamp_millis();
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// `(evaluation time, range)` pairs covering `[start, end)` backwards from `end`. Prometheus 2
/// includes both ends of a range (3 drops the start), so neighbouring chunks may share a
/// sample; recording is idempotent, so that does no harm.
fn chunks(start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<(DateTime<Utc>, TimeDelta)> {
    let mut out = Vec::new();
    let mut at = end;
    while at > start {
        let range = CHUNK.min(at - start);
        out.push((at, range));
        at -= range;
    }
    out
}

#[cfg(test)]
fn record_series(samples: &mut Samples, series: &[RangeSeries]) {
    let points: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| &s.values)
        .map(|p| (p.timestamp, p.value))
        .collect();
    record_points(samples, &points);
}

/// Records `(unix seconds, value)` points: a value of at least 0.5 is healthy; non-finite
/// values are ignored.
fn record_points(samples: &mut Samples, points: &[(f64, f64)]) {
    for &(timestamp, value) in points {
        if let (Some(at), true) = (point_time(timestamp), value.is_finite()) {
            samples.record(at, value >= 0.5);
        }
    }
}

/// Joins two instant vectors on the values of `keys`, sorted by them.
fn join_by(
    left: &[InstantSample],
    right: &[InstantSample],
    keys: &[&str],
) -> BTreeMap<Vec<String>, (Option<f64>, Option<f64>)> {
    let key = |s: &InstantSample| -> Vec<String> {
        keys.iter()
            .map(|k| s.metric.get(*k).cloned().unwrap_or_default())
            .collect()
    };
    let mut out: BTreeMap<Vec<String>, (Option<f64>, Option<f64>)> = BTreeMap::new();
    for s in left {
        out.entry(key(s)).or_default().0 = Some(s.value.value);
    }
    for s in right {
        out.entry(key(s)).or_default().1 = Some(s.value.value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "http://prom.example:9090/api/v1/query";

    fn parse(status: u16, body: &str) -> Result<QueryResult, PromError> {
        parse_response(URL, "up", status, body.as_bytes())
    }

    #[test]
    fn parses_a_vector() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"__name__":"up","job":"prometheus","instance":"localhost:9090"},
             "value":[1435781451.781,"1"]},
            {"metric":{"__name__":"up","job":"node","instance":"localhost:9100"},
             "value":[1435781451.781,"0"]}]}}"#;
        let r = parse(200, body).expect("parses");
        let QueryData::Vector(v) = r.data else {
            panic!("not a vector: {:?}", r.data)
        };
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].metric["job"], "prometheus");
        assert_eq!(v[0].value.timestamp, 1435781451.781);
        assert_eq!(v[0].value.value, 1.0);
        assert_eq!(
            v[0].value.time(),
            Some("2015-07-01T20:10:51.781Z".parse().unwrap())
        );
        assert!(r.warnings.is_empty());
    }

    #[test]
    fn parses_a_matrix_with_warnings_and_special_values() {
        // As Prometheus 2.42 answers `probe_success[5m]` (whole-second timestamps as integers).
        let body = r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"__name__":"probe_success","target":"a"},
             "values":[[1795175700,"1"],[1795175760,"0"],[1795175820,"NaN"],
                       [1795175880,"+Inf"],[1795175940,"-Inf"]]}]},
            "warnings":["partial response"]}"#;
        let r = parse(200, body).expect("parses");
        assert_eq!(r.warnings, ["partial response"]);
        let QueryData::Matrix(m) = r.data else {
            panic!("not a matrix")
        };
        let values: Vec<f64> = m[0].values.iter().map(|p| p.value).collect();
        assert_eq!(values[..2], [1.0, 0.0]);
        assert!(values[2].is_nan());
        assert_eq!(values[3..], [f64::INFINITY, f64::NEG_INFINITY]);
        assert_eq!(
            m[0].values[0].time(),
            Some("2026-11-20T11:55:00Z".parse().unwrap())
        );
    }

    #[test]
    fn parses_scalar_and_string() {
        let r = parse(
            200,
            r#"{"status":"success","data":{"resultType":"scalar","result":[1795176000,"2"]}}"#,
        )
        .expect("scalar");
        assert_eq!(
            r.data,
            QueryData::Scalar(Point {
                timestamp: 1795176000.0,
                value: 2.0
            })
        );
        let r = parse(
            200,
            r#"{"status":"success","data":{"resultType":"string","result":[1795176000,"hi"]}}"#,
        )
        .expect("string");
        assert_eq!(
            r.data,
            QueryData::String(StringPoint(1795176000.0, "hi".into()))
        );
    }

    #[test]
    fn an_error_envelope_names_the_url_query_and_message() {
        let body = r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:17: parse error: unclosed left bracket"}"#;
        let err = parse(400, body).unwrap_err();
        let PromError::Api {
            status, error_type, ..
        } = &err
        else {
            panic!("not an API error: {err:?}")
        };
        assert_eq!((*status, error_type.as_str()), (400, "bad_data"));
        let text = err.to_string();
        assert!(text.contains(URL), "{text}");
        assert!(text.contains("`up`"), "{text}");
        assert!(text.contains("unclosed left bracket"), "{text}");
    }

    #[test]
    fn a_non_api_error_keeps_an_excerpt_of_the_body() {
        let err = parse(
            502,
            &format!("<html>Bad Gateway{}</html>", "x".repeat(1000)),
        )
        .unwrap_err();
        assert!(
            matches!(err, PromError::Http { status: 502, .. }),
            "{err:?}"
        );
        assert!(err.to_string().len() < 500);
        let err = parse(200, "not json").unwrap_err();
        assert!(matches!(err, PromError::Decode { .. }), "{err:?}");
        let err = parse(200, r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"x"]}]}}"#).unwrap_err();
        assert!(err.to_string().contains("not a sample value"), "{err}");
    }

    #[test]
    fn base_urls_keep_their_path_and_lose_credentials_in_messages() {
        let base = parse_base("https://user:secret@thanos.example/prometheus").unwrap();
        assert_eq!(
            base.join("api/v1/query").unwrap().path(),
            "/prometheus/api/v1/query"
        );
        assert_eq!(display_url(&base), "https://thanos.example/prometheus/");
        let err = parse_base("ftp://user:secret@host")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("secret"), "{err}");
        let err = parse_base("http://user:secret@[bad")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn the_token_is_not_in_debug_output() {
        let c = PrometheusClient::new(
            "http://127.0.0.1:9",
            Some("s3cr3t".into()),
            Duration::from_secs(1),
        )
        .unwrap();
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("s3cr3t") && shown.contains("redacted"),
            "{shown}"
        );
    }

    #[test]
    fn chunks_cover_the_span_backwards() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let c = chunks(t("2026-01-01T00:00:00Z"), t("2026-01-16T12:00:00Z"));
        assert_eq!(
            c,
            [
                (t("2026-01-16T12:00:00Z"), TimeDelta::days(7)),
                (t("2026-01-09T12:00:00Z"), TimeDelta::days(7)),
                (t("2026-01-02T12:00:00Z"), TimeDelta::hours(36)),
            ]
        );
        assert!(chunks(t("2026-01-01T00:00:00Z"), t("2026-01-01T00:00:00Z")).is_empty());
    }

    #[test]
    fn series_merge_per_minute_as_max() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let mut samples = Samples::missing(t("2026-11-20T11:55:00Z"), t("2026-11-20T12:00:00Z"));
        let series = |values: &[(f64, f64)]| RangeSeries {
            metric: Labels::new(),
            values: values
                .iter()
                .map(|&(timestamp, value)| Point { timestamp, value })
                .collect(),
        };
        let base = 1795175700.0; // 11:55
        record_series(
            &mut samples,
            &[
                series(&[(base, 0.0), (base + 60.0, 0.0), (base + 120.0, f64::NAN)]),
                series(&[(base + 60.5, 1.0), (base + 300.0, 1.0)]),
            ],
        );
        assert_eq!(samples.get(t("2026-11-20T11:55:00Z")), Some(false));
        assert_eq!(samples.get(t("2026-11-20T11:56:00Z")), Some(true));
        assert_eq!(
            samples.get(t("2026-11-20T11:57:00Z")),
            None,
            "NaN is unknown"
        );
    }

    #[test]
    fn join_by_keeps_one_sided_rows() {
        let s = |node: &str, v: f64| InstantSample {
            metric: [("node".to_owned(), node.to_owned())].into(),
            value: Point {
                timestamp: 0.0,
                value: v,
            },
        };
        let joined = join_by(&[s("b", 1.5), s("a", 0.5)], &[s("a", 1e9)], &["node"]);
        let rows: Vec<_> = joined.into_iter().collect();
        assert_eq!(
            rows,
            [
                (vec!["a".to_owned()], (Some(0.5), Some(1e9))),
                (vec!["b".to_owned()], (Some(1.5), None)),
            ]
        );
    }

    #[test]
    fn min_step_respects_the_points_limit() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let step = min_step(t("2026-01-01T00:00:00Z"), t("2026-01-31T00:00:00Z"));
        assert_eq!(step, Duration::from_secs(236));
        // Prometheus counts `span / step + 1` points.
        assert!(((30 * 86_400 / step.as_secs()) as i64) < MAX_POINTS);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cached_reports_equal_full_reads_on_the_simulator() {
        use crate::config::ProbeKind;
        use crate::slo::{ExclusionKind, unix_minute};
        use ck8s_sim::testkit::{self, Interval, ProbeSpec, prometheus_router as router};

        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let iv = |start: &str, end: &str| Interval {
            start: t(start),
            end: t(end),
        };
        // History starts 2026-10-19 12:00 UTC, 40 days before the simulator's start. Outages
        // across Stockholm midnights, in the 25-hour day of 2026-10-25 and a whole missing day.
        let dex = ProbeSpec {
            target: "dex".into(),
            kind: ProbeKind::External,
            slo: 99.5,
            outages: vec![
                iv("2026-10-20T21:50:00Z", "2026-10-20T22:20:00Z"),
                iv("2026-10-24T21:50:00Z", "2026-10-24T22:20:00Z"),
                iv("2026-10-25T00:30:00Z", "2026-10-25T02:10:00Z"),
                iv("2026-11-20T22:58:00Z", "2026-11-20T23:04:00Z"),
            ],
            missing: vec![
                iv("2026-10-30T23:00:00Z", "2026-10-31T23:00:00Z"),
                iv("2026-11-02T22:30:00Z", "2026-11-03T01:00:00Z"),
            ],
        };
        // A second target of the cluster, to be counted in the same queries as dex.
        let ingress = ProbeSpec {
            target: "wc-ingress".into(),
            kind: ProbeKind::Cluster,
            slo: 99.95,
            outages: vec![iv("2026-11-19T20:00:00Z", "2026-11-19T20:07:00Z")],
            missing: vec![iv("2026-11-19T20:30:00Z", "2026-11-19T20:32:00Z")],
        };
        let cluster = testkit::cluster();
        cluster.set_probes(vec![dex, ingress]);
        let url = testkit::serve(router(cluster.clone())).await;
        let client = PrometheusClient::new(&url, None, Duration::from_secs(30)).unwrap();
        let exclusion = |start: &str, end: &str| Exclusion {
            start: t(start),
            end: t(end),
            kind: ExclusionKind::PlannedMaintenance,
            reason: "test".into(),
        };
        let exclusions = [
            exclusion("2026-10-20T21:00:00Z", "2026-10-20T23:00:30Z"),
            exclusion("2026-11-10T22:30:00Z", "2026-11-11T00:30:00Z"),
        ];
        let probes = [
            Probe::for_cluster("acme-wc", "dex", ProbeKind::External, 99.5),
            Probe::for_cluster("acme-wc", "wc-ingress", ProbeKind::Cluster, 99.95),
        ];
        let tz = chrono_tz::Europe::Stockholm;
        let mut cache = SloCache::default();
        let poll = async |cache: &mut SloCache, now: DateTime<Utc>| {
            let cached =
                slo_reports_cached(&client, "acme-wc", &probes, &exclusions, now, tz, cache)
                    .await
                    .unwrap();
            let full = slo_reports(&client, "acme-wc", &probes, &exclusions, now, tz)
                .await
                .unwrap();
            assert_eq!(cached, full, "at {now}");
            assert!(full[0].minutes_30d.bad > 0 && full[0].minutes_year.missing > 0);
            // Counted by Prometheus, the same reports, to the last bit.
            let with_exclusions: Vec<(Probe, Vec<Exclusion>)> = probes
                .iter()
                .map(|p| (p.clone(), exclusions.to_vec()))
                .collect();
            let counted = crate::sources::slo_counts::slo_reports_counted(
                &client,
                "acme-wc",
                &with_exclusions,
                now,
                tz,
            )
            .await
            .unwrap();
            let counted: Vec<SloReport> = counted
                .into_iter()
                .map(|r| r.expect("one series a minute is counted"))
                .collect();
            assert_eq!(counted, full, "counted at {now}");
        };
        let mut now = t("2026-11-19T21:17:10Z");
        let mut previous: Option<DateTime<Utc>> = None;
        for _ in 0..8 {
            poll(&mut cache, now).await;
            let read = cache.minutes_read("acme-wc", "dex").unwrap();
            match previous {
                None => assert!(read > 300 * 1440, "the first poll reads the year: {read}"),
                Some(prev) => {
                    let since = unix_minute(now) - unix_minute(prev);
                    assert!(read <= since + 3 * 1500, "{read} minutes read at {now}");
                }
            }
            previous = Some(now);
            now += TimeDelta::minutes(13 * 60 + 7);
        }
        // An outage written into the past (Prometheus would see a backfill) is read again.
        cluster.add_outage("dex", iv("2026-11-12T10:00:00Z", "2026-11-12T10:45:00Z"));
        cluster.add_outage("dex", iv("2026-10-22T03:00:00Z", "2026-10-22T03:10:00Z"));
        poll(&mut cache, now).await;
        let read = cache.minutes_read("acme-wc", "dex").unwrap();
        assert!(
            read <= 8 * 1500,
            "only the changed days and the last ones: {read}"
        );
        now += TimeDelta::minutes(5);
        poll(&mut cache, now).await;
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Whatever a server sends back, reading it is an answer or an error.
        #[test]
        fn any_answer_is_read_without_panicking(
            status in 100u16..600,
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4_000),
        ) {
            let _ = parse_response("http://p", "up", status, &body);
            let _ = fast_matrix_points(&body);
        }

        /// A real matrix answer with bytes spoiled: still an answer or an error.
        #[test]
        fn spoiled_matrices_are_read_without_panicking(
            edits in proptest::collection::vec(
                (proptest::prelude::any::<proptest::sample::Index>(), proptest::prelude::any::<u8>()),
                1..6,
            ),
        ) {
            let mut body = br#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"target":"dex"},"values":[[1700000000,"1"],[1700000060,"NaN"],[1700000120,"+Inf"]]}]}}"#.to_vec();
            for (at, byte) in edits {
                let i = at.index(body.len());
                body[i] = byte;
            }
            let _ = parse_response("http://p", "up", 200, &body);
            let _ = fast_matrix_points(&body);
        }
    }
}
