//! The simulated Prometheus HTTP API of one cluster (`/api/v1/query`, `/api/v1/query_range`),
//! answering the PromQL subset of [`super::promql`] over series computed on demand from the
//! cluster's state: never stored, so 40 days of one-minute `probe_success` per target cost
//! nothing until a query walks them.
//!
//! Series (all carry `cluster="<env>-<sc|wc>"`, as CK8s adds one):
//! - `probe_success{target, instance, job="blackbox"}` every minute from 40 days before the
//!   simulator started to now: 0 inside a `ProbeSpec` outage, absent in a missing interval.
//! - node-exporter `node_cpu_seconds_total{node, instance, job, cpu, mode}` (counters),
//!   `node_memory_MemTotal_bytes` and `node_memory_MemAvailable_bytes`, every 30 s, for
//!   every Node object now in the store.
//! - cAdvisor `container_cpu_usage_seconds_total` (counter) and
//!   `container_memory_working_set_bytes`, every 30 s, per container of every Running pod,
//!   plus the pod-level cgroup series without a `container` label, as the kubelet exports.
//!
//! Load follows a deterministic slow sine per object (seeded by cluster seed and name), so
//! the same query at the same simulated time always gives the same answer.

use std::f64::consts::TAU;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::cluster::{ClusterSim, Interval, ProbeSpec};
use super::promql::{self, Labels, Matcher, QueryError, Series, Storage};
use super::registry::ids;

/// The version this simulator mimics: Debian bookworm's Prometheus.
pub const VERSION: &str = "2.42.0";

/// Prometheus refuses range queries with more points per series than this.
pub const MAX_POINTS: i64 = 11_000;

/// How much `probe_success` history exists before the simulator started.
pub const HISTORY_DAYS: i64 = 40;

const PROBE_INTERVAL_MS: i64 = 60_000;
const SCRAPE_INTERVAL_MS: i64 = 30_000;
const MIB: f64 = 1024.0 * 1024.0;

/// Prometheus state of one cluster: the cluster it reads and where history begins.
#[derive(Debug)]
pub struct PromSim {
    cluster: Arc<ClusterSim>,
    history_start_ms: i64,
}

impl PromSim {
    /// History starts 40 days (whole minutes) before now; created when the simulator
    /// starts, so "now" is the simulated clock's start.
    pub fn new(cluster: Arc<ClusterSim>) -> PromSim {
        let origin = cluster.clock.now().timestamp_millis();
        let start = origin - HISTORY_DAYS * 86_400_000;
        PromSim {
            cluster,
            history_start_ms: start.div_euclid(PROBE_INTERVAL_MS) * PROBE_INTERVAL_MS,
        }
    }

    fn now_ms(&self) -> i64 {
        self.cluster.clock.now().timestamp_millis()
    }

    /// `/api/v1/query`: the `data` object, or the error to report.
    pub fn query(&self, params: &Params) -> Result<Value, QueryError> {
        let t = match params.get("time") {
            Some(s) if !s.is_empty() => parse_time(s).map_err(|e| param_error("time", e))?,
            _ => self.now_ms(),
        };
        check_timeout(params)?;
        let expr = parse_query(params)?;
        let value = promql::eval_instant(&expr, &self.storage(), t)?;
        Ok(data_json(value, t))
    }

    /// `/api/v1/query_range`: the `data` object, or the error to report.
    pub fn query_range(&self, params: &Params) -> Result<Value, QueryError> {
        let get = |k: &str| params.get(k).unwrap_or("");
        let start = parse_time(get("start")).map_err(|e| param_error("start", e))?;
        let end = parse_time(get("end")).map_err(|e| param_error("end", e))?;
        if end < start {
            return Err(param_error(
                "end",
                "end timestamp must not be before start time".into(),
            ));
        }
        let step = parse_step(get("step")).map_err(|e| param_error("step", e))?;
        if step <= 0 {
            return Err(param_error(
                "step",
                "zero or negative query resolution step widths are not accepted. Try a positive integer"
                    .into(),
            ));
        }
        if (end - start) / step > MAX_POINTS {
            return Err(QueryError::BadData(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the \
                 query resolution (?step=XX)"
                    .into(),
            ));
        }
        check_timeout(params)?;
        let expr = parse_query(params)?;
        let value = promql::eval_range(&expr, &self.storage(), start, end, step)?;
        Ok(data_json(value, end))
    }

    fn storage(&self) -> ClusterStorage<'_> {
        ClusterStorage {
            sim: self,
            now_ms: self.now_ms(),
        }
    }
}

/// Serves one cluster's Prometheus API.
pub fn router(cluster: Arc<ClusterSim>) -> Router {
    let sim = Arc::new(PromSim::new(cluster));
    Router::new()
        .route("/api/v1/query", get(query_handler).post(query_handler))
        .route(
            "/api/v1/query_range",
            get(range_handler).post(range_handler),
        )
        .route("/api/v1/status/buildinfo", get(buildinfo))
        .route(
            "/-/ready",
            get(|| async { "Prometheus Server is Ready.\n" }),
        )
        .route(
            "/-/healthy",
            get(|| async { "Prometheus Server is Healthy.\n" }),
        )
        .with_state(sim)
}

async fn query_handler(
    State(sim): State<Arc<PromSim>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let params = Params::from_request(&headers, q.as_deref(), &body);
    // Long windows walk many samples; keep that off the async workers.
    respond(tokio::task::spawn_blocking(move || sim.query(&params)).await)
}

async fn range_handler(
    State(sim): State<Arc<PromSim>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let params = Params::from_request(&headers, q.as_deref(), &body);
    respond(tokio::task::spawn_blocking(move || sim.query_range(&params)).await)
}

async fn buildinfo() -> Response {
    axum::Json(json!({
        "status": "success",
        "data": {
            "version": VERSION,
            "revision": "2.42.0+ds-5+deb12u1",
            "branch": "debian/sid",
            "buildUser": "team+pkg-go@tracker.debian.org",
            "buildDate": "20230502-10:00:00",
            "goVersion": "go1.19.8",
        }
    }))
    .into_response()
}

fn respond(result: Result<Result<Value, QueryError>, tokio::task::JoinError>) -> Response {
    let (code, body) = match result {
        Ok(Ok(data)) => (StatusCode::OK, json!({"status": "success", "data": data})),
        Ok(Err(QueryError::BadData(e))) => (StatusCode::BAD_REQUEST, error_body("bad_data", &e)),
        Ok(Err(QueryError::Execution(e))) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            error_body("execution", &e),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            error_body("internal", &e.to_string()),
        ),
    };
    (code, axum::Json(body)).into_response()
}

fn error_body(kind: &str, msg: &str) -> Value {
    json!({"status": "error", "errorType": kind, "error": msg})
}

// ---------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------

/// Request parameters: a form-encoded POST body first, then the URL query, as Go's
/// `Request.FormValue` merges them.
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn from_request(headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> Params {
        let mut pairs = Vec::new();
        let form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        if form {
            pairs.extend(decode_form(&String::from_utf8_lossy(body)));
        }
        pairs.extend(decode_form(query.unwrap_or("")));
        Params(pairs)
    }

    /// The first value of a parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeatable parameter.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Decodes `application/x-www-form-urlencoded` text (also a URL query string).
pub fn decode_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn param_error(name: &str, msg: String) -> QueryError {
    QueryError::BadData(format!("invalid parameter \"{name}\": {msg}"))
}

fn parse_query(params: &Params) -> Result<promql::Expr, QueryError> {
    promql::parse(params.get("query").unwrap_or("")).map_err(|e| match e {
        QueryError::BadData(m) => param_error("query", m),
        other => other,
    })
}

fn check_timeout(params: &Params) -> Result<(), QueryError> {
    match params.get("timeout") {
        Some(s) if !s.is_empty() => parse_step(s)
            .map(drop)
            .map_err(|e| param_error("timeout", e)),
        _ => Ok(()),
    }
}

/// Unix seconds (with fraction) or RFC 3339, to milliseconds.
pub fn parse_time(s: &str) -> Result<i64, String> {
    if let Ok(secs) = s.parse::<f64>()
        && secs.is_finite()
    {
        return Ok((secs * 1000.0).round() as i64);
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .map_err(|_| format!("cannot parse {s:?} to a valid timestamp"))
}

/// Float seconds or a Prometheus duration, to milliseconds.
fn parse_step(s: &str) -> Result<i64, String> {
    if let Ok(secs) = s.parse::<f64>()
        && secs.is_finite()
    {
        return Ok((secs * 1000.0).round() as i64);
    }
    promql::parse_duration(s).map_err(|_| format!("cannot parse {s:?} to a valid duration"))
}

// ---------------------------------------------------------------------------------------
// Response shapes
// ---------------------------------------------------------------------------------------

fn data_json(value: promql::Value, t: i64) -> Value {
    match value {
        promql::Value::Scalar(v) => json!({"resultType": "scalar", "result": point(t, v)}),
        promql::Value::Vector(items) => json!({
            "resultType": "vector",
            "result": items.into_iter()
                .map(|(l, v)| json!({"metric": l, "value": point(t, v)}))
                .collect::<Vec<_>>(),
        }),
        promql::Value::Matrix(items) => json!({
            "resultType": "matrix",
            "result": items.into_iter()
                .map(|(l, samples)| json!({
                    "metric": l,
                    "values": samples.into_iter().map(|(t, v)| point(t, v)).collect::<Vec<_>>(),
                }))
                .collect::<Vec<_>>(),
        }),
    }
}

/// `[<unix seconds>, "<value>"]`, written as Prometheus writes them: whole seconds
/// without a fraction, values as Go's shortest decimal form.
fn point(t_ms: i64, v: f64) -> Value {
    let ts = if t_ms % 1000 == 0 {
        json!(t_ms / 1000)
    } else {
        json!(t_ms as f64 / 1000.0)
    };
    json!([ts, format_value(v)])
}

pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

// ---------------------------------------------------------------------------------------
// probe_success
// ---------------------------------------------------------------------------------------

/// `probe_success` of a target at time `t` (its minute's sample): `None` when the prober
/// recorded nothing, 0 during an outage, 1 otherwise.
pub fn probe_success_at(spec: &ProbeSpec, t: DateTime<Utc>) -> Option<f64> {
    let ms = t.timestamp_millis().div_euclid(PROBE_INTERVAL_MS) * PROBE_INTERVAL_MS;
    ProbeTimeline::new(spec).sample(ms)
}

/// A probe's outages and gaps as millisecond ranges, for fast per-minute checks.
#[derive(Debug)]
struct ProbeTimeline {
    outages: Vec<(i64, i64)>,
    missing: Vec<(i64, i64)>,
}

impl ProbeTimeline {
    fn new(spec: &ProbeSpec) -> ProbeTimeline {
        let ms = |iv: &Interval| (iv.start.timestamp_millis(), iv.end.timestamp_millis());
        ProbeTimeline {
            outages: spec.outages.iter().map(ms).collect(),
            missing: spec.missing.iter().map(ms).collect(),
        }
    }

    /// The number and sum of the samples at multiples of `every` in `from <= t <= to`, as
    /// [`ProbeTimeline::sample`] gives them, counted by interval rather than sample.
    fn totals(&self, every: i64, from: i64, to: i64) -> (u64, f64) {
        let points = |from: i64, to: i64| -> i64 {
            // Multiples of `every` in [from, to].
            (to.div_euclid(every) - (from + every - 1).div_euclid(every) + 1).max(0)
        };
        let missing = ck8s_model::slo::merge_intervals(self.missing.iter().copied());
        let outages = ck8s_model::slo::merge_intervals(self.outages.iter().copied());
        // Points inside [s, e) ∩ [from, to] of each (disjoint) interval.
        let within = |ivs: &[(i64, i64)]| -> i64 {
            ivs.iter()
                .map(|&(s, e)| points(s.max(from), (e - 1).min(to)))
                .sum()
        };
        let both: Vec<(i64, i64)> = outages
            .iter()
            .flat_map(|&(s, e)| {
                missing
                    .iter()
                    .map(move |&(ms, me)| (s.max(ms), e.min(me)))
                    .filter(|(a, b)| a < b)
            })
            .collect();
        let count = points(from, to) - within(&missing);
        let bad = within(&outages) - within(&both);
        (count.max(0) as u64, (count - bad) as f64)
    }

    fn sample(&self, t: i64) -> Option<f64> {
        let inside = |ivs: &[(i64, i64)]| ivs.iter().any(|&(s, e)| s <= t && t < e);
        if inside(&self.missing) {
            None
        } else if inside(&self.outages) {
            Some(0.0)
        } else {
            Some(1.0)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Deterministic load
// ---------------------------------------------------------------------------------------

pub use crate::hash::fnv1a64;

/// A uniform number in [0, 1) from a hash and a salt (splitmix64 finaliser).
fn unit(h: u64, salt: u64) -> f64 {
    let mut z = h.wrapping_add(salt.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// A slow sine between `lo` and `hi`, and its integral, so counters and gauges agree.
#[derive(Debug, Clone, Copy)]
struct Wave {
    mid: f64,
    amp: f64,
    period: f64,
    phase: f64,
}

impl Wave {
    /// `mid_frac` places the centre within [lo, hi]; the swing never leaves the range.
    fn new(h: u64, lo: f64, hi: f64, mid_frac: f64) -> Wave {
        let mid = lo + (hi - lo) * mid_frac;
        Wave {
            mid,
            amp: (mid - lo).min(hi - mid) * (0.2 + 0.7 * unit(h, 2)),
            period: 3600.0 * (4.0 + 8.0 * unit(h, 3)),
            phase: TAU * unit(h, 4),
        }
    }

    fn at(&self, t: f64) -> f64 {
        self.mid + self.amp * (TAU * t / self.period + self.phase).sin()
    }

    /// The integral from `t0` to `t`, which grows monotonically since the wave is positive.
    fn integral(&self, t0: f64, t: f64) -> f64 {
        let anti = |x: f64| {
            self.mid * x - self.amp * self.period / TAU * (TAU * x / self.period + self.phase).cos()
        };
        anti(t) - anti(t0)
    }
}

/// Parses a Kubernetes quantity (`4`, `3500m`, `16Gi`, `16G`) into a plain number.
pub fn parse_quantity(s: &str) -> Option<f64> {
    const SUFFIXES: [(&str, f64); 13] = [
        ("Ki", 1024.0),
        ("Mi", 1_048_576.0),
        ("Gi", 1_073_741_824.0),
        ("Ti", 1_099_511_627_776.0),
        ("Pi", 1_125_899_906_842_624.0),
        ("Ei", 1_152_921_504_606_846_976.0),
        ("m", 0.001),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    let s = s.trim();
    for (suffix, scale) in SUFFIXES {
        if let Some(num) = s.strip_suffix(suffix) {
            return num.parse::<f64>().ok().map(|n| n * scale);
        }
    }
    s.parse().ok()
}

fn quantity_at(obj: &Value, pointer: &str) -> Option<f64> {
    match obj.pointer(pointer)? {
        Value::String(s) => parse_quantity(s),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Series from cluster state
// ---------------------------------------------------------------------------------------

const NODE_CPU: &str = "node_cpu_seconds_total";
const NODE_MEM_TOTAL: &str = "node_memory_MemTotal_bytes";
const NODE_MEM_AVAILABLE: &str = "node_memory_MemAvailable_bytes";
const POD_CPU: &str = "container_cpu_usage_seconds_total";
const POD_MEM: &str = "container_memory_working_set_bytes";
const PROBE: &str = "probe_success";
/// cert-manager's own metric: when each Certificate's current certificate expires.
const CERT_EXPIRY: &str = "certmanager_certificate_expiration_timestamp_seconds";

const FAMILIES: [&str; 7] = [
    PROBE,
    NODE_CPU,
    NODE_MEM_TOTAL,
    NODE_MEM_AVAILABLE,
    POD_CPU,
    POD_MEM,
    CERT_EXPIRY,
];

/// Shares of busy CPU time per node-exporter mode; idle takes the rest.
const BUSY_MODES: [(&str, f64); 4] = [
    ("user", 0.65),
    ("system", 0.27),
    ("iowait", 0.05),
    ("softirq", 0.03),
];

struct ClusterStorage<'a> {
    sim: &'a PromSim,
    now_ms: i64,
}

impl Storage for ClusterStorage<'_> {
    fn select(&self, matchers: &[Matcher]) -> Vec<Series> {
        let names: Vec<&str> = FAMILIES
            .into_iter()
            .filter(|f| {
                matchers
                    .iter()
                    .filter(|m| m.name == "__name__")
                    .all(|m| m.matches(f))
            })
            .collect();
        let mut out = Vec::new();
        for name in names {
            let series = match name {
                PROBE => self.probe_series(),
                CERT_EXPIRY => self.certificate_series(),
                NODE_CPU | NODE_MEM_TOTAL | NODE_MEM_AVAILABLE => self.node_series(name),
                _ => self.pod_series(name),
            };
            out.extend(
                series
                    .into_iter()
                    .filter(|s| matchers.iter().all(|m| m.matches_labels(&s.labels))),
            );
        }
        out
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl ClusterStorage<'_> {
    fn cluster(&self) -> &ClusterSim {
        &self.sim.cluster
    }

    fn series(&self, labels: Labels, interval_ms: i64, value: promql::SampleFn) -> Series {
        Series {
            labels,
            interval_ms,
            first_ms: self.sim.history_start_ms,
            last_ms: self.now_ms,
            value,
            totals: None,
        }
    }

    fn hash(&self, parts: &[&str]) -> u64 {
        let seed = self.cluster().seed.to_le_bytes();
        let mut all: Vec<&[u8]> = vec![&seed];
        for p in parts {
            all.push(p.as_bytes());
            all.push(&[0xff]);
        }
        fnv1a64(&all)
    }

    /// One series per cert-manager certificate (the demo's are named as their Secrets).
    fn certificate_series(&self) -> Vec<Series> {
        let cluster = self.cluster().name();
        self.cluster()
            .certificates()
            .into_iter()
            .map(|c| {
                let l = labels(&[
                    ("__name__", CERT_EXPIRY),
                    ("cluster", &cluster),
                    ("namespace", &c.namespace),
                    ("name", &c.name),
                    ("issuer_name", &c.issuer),
                    ("issuer_kind", "ClusterIssuer"),
                ]);
                let at = c.expires.timestamp() as f64;
                self.series(l, PROBE_INTERVAL_MS, Arc::new(move |_| Some(at)))
            })
            .collect()
    }

    fn probe_series(&self) -> Vec<Series> {
        let cluster = self.cluster().name();
        self.cluster()
            .probes()
            .iter()
            .map(|spec| {
                let timeline = Arc::new(ProbeTimeline::new(spec));
                let l = labels(&[
                    ("__name__", PROBE),
                    ("cluster", &cluster),
                    ("instance", &spec.target),
                    ("job", "blackbox"),
                    ("target", &spec.target),
                ]);
                let sampled = timeline.clone();
                Series {
                    totals: Some(Arc::new(move |from, to| {
                        timeline.totals(PROBE_INTERVAL_MS, from, to)
                    })),
                    ..self.series(l, PROBE_INTERVAL_MS, Arc::new(move |t| sampled.sample(t)))
                }
            })
            .collect()
    }

    fn node_series(&self, family: &str) -> Vec<Series> {
        let cluster = self.cluster().name();
        let t0 = self.sim.history_start_ms as f64 / 1000.0;
        let (nodes, _) = self.cluster().store.list(*ids::NODES, None);
        let mut out = Vec::new();
        for node in nodes {
            let name = super::store::name_of(&node).to_string();
            let ip = node["status"]["addresses"]
                .as_array()
                .and_then(|a| a.iter().find(|a| a["type"] == "InternalIP"))
                .and_then(|a| a["address"].as_str())
                .unwrap_or(name.as_str())
                .to_string();
            let base = labels(&[
                ("__name__", family),
                ("cluster", &cluster),
                ("instance", &format!("{ip}:9100")),
                ("job", "node-exporter"),
                ("node", &name),
            ]);
            let h = self.hash(&["node", &name]);
            match family {
                NODE_CPU => {
                    let cores = quantity_at(&node, "/status/capacity/cpu")
                        .unwrap_or(2.0)
                        .max(0.001);
                    let wave = Wave::new(h, 0.10, 0.80, 0.2 + 0.6 * unit(h, 1));
                    out.extend(self.node_cpu_series(&base, cores, wave, t0));
                }
                _ => {
                    let total =
                        quantity_at(&node, "/status/capacity/memory").unwrap_or(8.0 * 1024.0 * MIB);
                    let wave = Wave::new(h ^ 0x5a5a, 0.20, 0.85, 0.2 + 0.6 * unit(h, 5));
                    let value: promql::SampleFn = if family == NODE_MEM_TOTAL {
                        Arc::new(move |_| Some(total))
                    } else {
                        Arc::new(move |t| Some(pages(total * (1.0 - wave.at(t as f64 / 1000.0)))))
                    };
                    out.push(self.series(base, SCRAPE_INTERVAL_MS, value));
                }
            }
        }
        out
    }

    /// Per-CPU, per-mode counters whose non-idle rates sum to `wave × cores`.
    fn node_cpu_series(&self, base: &Labels, cores: f64, wave: Wave, t0: f64) -> Vec<Series> {
        let ncpu = cores.ceil().max(1.0) as usize;
        let per_cpu = cores / ncpu as f64;
        let mut out = Vec::new();
        for cpu in 0..ncpu {
            let modes = BUSY_MODES.iter().copied().chain([("idle", f64::NAN)]);
            for (mode, share) in modes {
                let mut l = base.clone();
                l.insert("cpu".into(), cpu.to_string());
                l.insert("mode".into(), mode.into());
                let value: promql::SampleFn = Arc::new(move |t| {
                    let t = t as f64 / 1000.0;
                    let busy = per_cpu * wave.integral(t0, t);
                    Some(if share.is_nan() {
                        (t - t0) - busy
                    } else {
                        share * busy
                    })
                });
                out.push(self.series(l, SCRAPE_INTERVAL_MS, value));
            }
        }
        out
    }

    fn pod_series(&self, family: &str) -> Vec<Series> {
        let cluster = self.cluster().name();
        let t0 = self.sim.history_start_ms as f64 / 1000.0;
        let (pods, _) = self.cluster().store.list(*ids::PODS, None);
        let mut out = Vec::new();
        for pod in pods.iter().filter(|p| p["status"]["phase"] == "Running") {
            let (ns, name) = (super::store::namespace_of(pod), super::store::name_of(pod));
            let node = pod["spec"]["nodeName"].as_str().unwrap_or("");
            let containers: Vec<&str> = pod["spec"]["containers"]
                .as_array()
                .map(|cs| cs.iter().filter_map(|c| c["name"].as_str()).collect())
                .unwrap_or_default();
            let h = self.hash(&["pod", ns, name]);
            let load = pod_load(family, h, crash_looping(pod), t0);
            let base = labels(&[
                ("__name__", family),
                ("cluster", &cluster),
                ("instance", &format!("{node}:10250")),
                ("job", "kubelet"),
                ("metrics_path", "/metrics/cadvisor"),
                ("namespace", ns),
                ("node", node),
                ("pod", name),
            ]);
            // The pod's own cgroup has no container label; `container!=""` filters it out.
            out.push(self.series(base.clone(), SCRAPE_INTERVAL_MS, load.scaled(1.0)));
            let weights = container_weights(containers.len());
            for (c, w) in containers.iter().zip(weights) {
                let mut l = base.clone();
                l.insert("container".into(), c.to_string());
                out.push(self.series(l, SCRAPE_INTERVAL_MS, load.scaled(w)));
            }
        }
        out
    }
}

/// Memory is accounted in 4 KiB pages.
fn pages(bytes: f64) -> f64 {
    (bytes / 4096.0).round() * 4096.0
}

/// The first container does most of the work, as app containers beside sidecars do.
fn container_weights(n: usize) -> Vec<f64> {
    let raw: Vec<f64> = (0..n).map(|i| 1.0 / (i as f64 + 1.0).powi(2)).collect();
    let total: f64 = raw.iter().sum();
    raw.into_iter().map(|w| w / total).collect()
}

fn crash_looping(pod: &Value) -> bool {
    pod["status"]["containerStatuses"]
        .as_array()
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["state"]["waiting"]["reason"] == "CrashLoopBackOff")
        })
}

/// One pod's CPU (a counter of seconds) or memory (a gauge of bytes).
#[derive(Clone, Copy)]
enum PodLoad {
    Cpu { wave: Wave, t0: f64 },
    Mem { wave: Wave },
}

fn pod_load(family: &str, h: u64, crashing: bool, t0: f64) -> PodLoad {
    // Most pods are small: skew the centre towards the low end.
    let skew = |salt| 0.02 + 0.6 * unit(h, salt).powi(3);
    if family == POD_CPU {
        let wave = if crashing {
            // A container that keeps dying barely uses the CPU.
            Wave {
                mid: 0.0002,
                amp: 0.0,
                period: 3600.0,
                phase: 0.0,
            }
        } else {
            Wave::new(h, 0.001, 0.5, skew(1))
        };
        PodLoad::Cpu { wave, t0 }
    } else {
        PodLoad::Mem {
            wave: Wave::new(h ^ 0xa5a5, 20.0 * MIB, 800.0 * MIB, skew(5)),
        }
    }
}

impl PodLoad {
    fn scaled(self, w: f64) -> promql::SampleFn {
        match self {
            PodLoad::Cpu { wave, t0 } => {
                Arc::new(move |t| Some(w * wave.integral(t0, t as f64 / 1000.0)))
            }
            PodLoad::Mem { wave } => Arc::new(move |t| Some(pages(w * wave.at(t as f64 / 1000.0)))),
        }
    }
}

/// A hand-built cluster and an HTTP harness, shared by the Prometheus and Alertmanager tests.
#[cfg(any(test, feature = "testkit"))]
pub mod testkit {
    use std::sync::Arc;

    use chrono::{DateTime, Duration, Utc};
    use serde_json::{Value, json};

    use crate::clock::SimClock;
    use crate::cluster::{ClusterSim, Interval, ProbeSpec};
    use crate::config::{ClusterRole, ProbeKind};
    use crate::registry::ids;

    /// The simulated start: a whole minute, so minute samples line up with it.
    pub fn start() -> DateTime<Utc> {
        "2026-11-28T12:00:00Z".parse().unwrap()
    }

    pub fn secs(t: DateTime<Utc>) -> String {
        t.timestamp().to_string()
    }

    fn iv(from_min: i64, to_min: i64) -> Interval {
        Interval {
            start: start() + Duration::minutes(from_min),
            end: start() + Duration::minutes(to_min),
        }
    }

    fn probe(target: &str, outages: Vec<Interval>, missing: Vec<Interval>) -> ProbeSpec {
        ProbeSpec {
            target: target.into(),
            kind: ProbeKind::Cluster,
            slo: 99.95,
            outages,
            missing,
        }
    }

    /// `dex`: down 10 minutes (start-30m..-20m), one minute unrecorded (-10m).
    /// `grafana`: down from start-2m for an hour, so it is down now.
    /// `harbor`: ten unrecorded minutes (-30m..-20m).
    pub fn probes() -> Vec<ProbeSpec> {
        vec![
            probe("dex", vec![iv(-30, -20)], vec![iv(-10, -9)]),
            probe("grafana", vec![iv(-2, 60)], vec![]),
            probe("harbor", vec![], vec![iv(-30, -20)]),
        ]
    }

    pub fn cluster() -> Arc<ClusterSim> {
        let c = Arc::new(ClusterSim {
            seed: 7,
            probes: std::sync::RwLock::new(probes()),
            ..ClusterSim::for_test("acme", ClusterRole::Wc, SimClock::new(start(), 1.0), false)
        });
        for ns in ["default", "velero", "apps"] {
            c.store
                .create(*ids::NAMESPACES, json!({"metadata": {"name": ns}}))
                .unwrap();
        }
        node(&c, "cp-0", true, true, "4");
        node(&c, "w-0", false, true, "8");
        pod(
            &c,
            "apps",
            "web-1",
            "Running",
            &["app", "istio-proxy"],
            None,
            None,
        );
        pod(
            &c,
            "apps",
            "crash-1",
            "Running",
            &["app"],
            Some("CrashLoopBackOff"),
            None,
        );
        pod(&c, "apps", "pending-1", "Pending", &["app"], None, None);
        c
    }

    pub fn node(c: &ClusterSim, name: &str, control_plane: bool, ready: bool, cpu: &str) {
        let labels = if control_plane {
            json!({"node-role.kubernetes.io/control-plane": ""})
        } else {
            json!({"node-role.kubernetes.io/worker": ""})
        };
        let status = if ready { "True" } else { "Unknown" };
        c.store
            .create(
                *ids::NODES,
                json!({
                    "metadata": {"name": name, "labels": labels},
                    "status": {
                        "capacity": {"cpu": cpu, "memory": "16Gi", "pods": "110"},
                        "conditions": [{"type": "Ready", "status": status}],
                        "addresses": [{"type": "InternalIP", "address": "10.0.0.10"}],
                    },
                }),
            )
            .unwrap();
    }

    pub fn pod(
        c: &ClusterSim,
        ns: &str,
        name: &str,
        phase: &str,
        containers: &[&str],
        waiting: Option<&str>,
        falco_rule: Option<&str>,
    ) {
        let specs: Vec<Value> = containers
            .iter()
            .map(|n| json!({"name": n, "image": "x"}))
            .collect();
        let statuses: Vec<Value> = containers
            .iter()
            .map(|n| match waiting {
                Some(reason) => {
                    json!({"name": n, "ready": false, "state": {"waiting": {"reason": reason}}})
                }
                None => json!({"name": n, "ready": true, "state": {"running": {}}}),
            })
            .collect();
        let mut annotations = json!({});
        if let Some(r) = falco_rule {
            annotations["sim.ck8s.io/falco-rule"] = json!(r);
        }
        c.store
            .create(
                *ids::PODS,
                json!({
                    "metadata": {"name": name, "namespace": ns, "annotations": annotations},
                    "spec": {"nodeName": "w-0", "containers": specs},
                    "status": {"phase": phase, "containerStatuses": statuses},
                }),
            )
            .unwrap();
    }

    /// Serves a router on a free loopback port; returns its base URL.
    pub async fn serve(app: axum::Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    }

    pub fn client() -> reqwest::Client {
        // reqwest is built without a default crypto provider; plain http never uses it,
        // but building a client wants one installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::new()
    }

    pub async fn get(url: &str, params: &[(&str, &str)]) -> (u16, Value) {
        let url = reqwest::Url::parse_with_params(url, params).unwrap();
        let r = client().get(url).send().await.unwrap();
        let code = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            code,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn send(method: reqwest::Method, url: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = client().request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let code = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            code,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::testkit::{self, get, secs, start};
    use super::*;

    async fn prom() -> String {
        testkit::serve(router(testkit::cluster())).await
    }

    fn result(body: &Value) -> &Vec<Value> {
        body["data"]["result"]
            .as_array()
            .expect("data.result is an array")
    }

    fn keys(v: &Value) -> Vec<&str> {
        let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        k.sort();
        k
    }

    fn num(v: &Value) -> f64 {
        v.as_str()
            .expect("sample values are strings")
            .parse()
            .unwrap()
    }

    #[tokio::test]
    async fn certificate_expiry_comes_from_tls_secrets_and_never_their_data() {
        let c = testkit::cluster();
        let _ = c
            .store
            .create(*ids::NAMESPACES, json!({"metadata": {"name": "harbor"}}));
        let annotations = json!({"cert-manager.io/expiry": "2026-12-12T00:00:00Z",
            "cert-manager.io/issuer-name": "letsencrypt-prod"});
        for (name, kind) in [("harbor-tls", "kubernetes.io/tls"), ("other", "Opaque")] {
            c.store
                .create(
                    *ids::SECRETS,
                    json!({"metadata": {"name": name, "namespace": "harbor", "annotations": annotations},
                        "type": kind, "data": {"tls.key": "c2VjcmV0LWtleQ=="}}),
                )
                .unwrap();
        }
        let base = testkit::serve(router(c)).await;
        let (status, body) = get(&format!("{base}/api/v1/query"), &[("query", CERT_EXPIRY)]).await;
        assert_eq!(status, 200, "{body}");
        let series = result(&body);
        assert_eq!(series.len(), 1, "TLS Secrets only: {body}");
        assert_eq!(series[0]["metric"]["namespace"], "harbor");
        assert_eq!(series[0]["metric"]["name"], "harbor-tls");
        assert_eq!(series[0]["metric"]["issuer_name"], "letsencrypt-prod");
        let expiry = DateTime::parse_from_rfc3339("2026-12-12T00:00:00Z").unwrap();
        assert_eq!(num(&series[0]["value"][1]), expiry.timestamp() as f64);
        assert!(
            !body.to_string().contains("c2VjcmV0"),
            "secret data never leaks"
        );
    }

    #[tokio::test]
    async fn raw_range_selector_returns_exact_samples_with_outage_and_gap() {
        let base = prom().await;
        let (code, body) = get(
            &format!("{base}/api/v1/query"),
            &[
                ("query", "probe_success{target=\"dex\"}[1h]"),
                ("time", &secs(start())),
            ],
        )
        .await;
        assert_eq!(code, 200, "{body}");
        assert_eq!(keys(&body), ["data", "status"]);
        assert_eq!(body["status"], "success");
        assert_eq!(keys(&body["data"]), ["result", "resultType"]);
        assert_eq!(body["data"]["resultType"], "matrix");
        let series = result(&body);
        assert_eq!(series.len(), 1);
        assert_eq!(keys(&series[0]), ["metric", "values"]);
        assert_eq!(
            series[0]["metric"],
            json!({"__name__": "probe_success", "cluster": "acme-wc", "instance": "dex", "job": "blackbox", "target": "dex"})
        );
        let values = series[0]["values"].as_array().unwrap();
        // [start-1h, start] holds 61 minutes; one is unrecorded, ten are failures.
        assert_eq!(values.len(), 60);
        assert_eq!(values.iter().filter(|p| p[1] == "0").count(), 10);
        assert!(values.iter().all(|p| p[0].as_i64().unwrap() % 60 == 0));
        let missing = (start() - chrono::Duration::minutes(10)).timestamp();
        assert!(values.iter().all(|p| p[0].as_i64() != Some(missing)));
    }

    #[tokio::test]
    async fn over_time_functions_are_exact_over_raw_samples() {
        let base = prom().await;
        let q = |query: &str| {
            let base = base.clone();
            let query = query.to_string();
            async move {
                let (code, body) = get(
                    &format!("{base}/api/v1/query"),
                    &[("query", query.as_str()), ("time", &secs(start()))],
                )
                .await;
                assert_eq!(code, 200, "{body}");
                assert_eq!(body["data"]["resultType"], "vector");
                num(&result(&body)[0]["value"][1])
            }
        };
        assert_eq!(
            q("count_over_time(probe_success{target=\"dex\"}[1d])").await,
            1440.0
        );
        assert_eq!(
            q("sum_over_time(probe_success{target=\"dex\"}[1d])").await,
            1430.0
        );
        // 30 days hold 43,201 one-minute samples; 35 days of history are all there.
        assert_eq!(
            q("count_over_time(probe_success{target=\"grafana\"}[30d])").await,
            43201.0
        );
        assert_eq!(
            q("count_over_time(probe_success{target=\"grafana\"}[35d])").await,
            50401.0
        );
        // grafana has been down since start-2m: three failed minutes so far.
        assert_eq!(
            q("sum_over_time(probe_success{target=\"grafana\"}[30d])").await,
            43198.0
        );
        let err = q("1 - avg_over_time(probe_success{target=\"dex\"}[1d])").await;
        assert!((err - 10.0 / 1440.0).abs() < 1e-12, "{err}");
    }

    #[tokio::test]
    async fn vector_result_shape_and_node_cpu_within_capacity() {
        let base = prom().await;
        for query in [
            "sum by (node) (rate(node_cpu_seconds_total{mode!=\"idle\"}[5m]))",
            "sum by(node)(rate(node_cpu_seconds_total{cluster=\"acme-wc\",mode!=\"idle\"}[5m]))",
        ] {
            let (code, body) = get(
                &format!("{base}/api/v1/query"),
                &[("query", query), ("time", &secs(start()))],
            )
            .await;
            assert_eq!(code, 200, "{body}");
            let items = result(&body);
            assert_eq!(items.len(), 2, "{body}");
            for (item, cap) in items.iter().zip([4.0, 8.0]) {
                assert_eq!(keys(item), ["metric", "value"]);
                assert_eq!(keys(&item["metric"]), ["node"]);
                assert_eq!(item["value"][0], json!(start().timestamp()));
                let used = num(&item["value"][1]);
                assert!(
                    (0.1 * cap - 1e-9..=0.8 * cap + 1e-9).contains(&used),
                    "{used} of {cap}"
                );
            }
        }
        let (_, body) = get(
            &format!("{base}/api/v1/query"),
            &[(
                "query",
                "sum by (node) (rate(node_cpu_seconds_total{cluster=\"other\"}[5m]))",
            )],
        )
        .await;
        assert!(result(&body).is_empty());
    }

    #[tokio::test]
    async fn node_memory_difference_matches_series_by_labels() {
        let base = prom().await;
        let query = "sum by (node) (node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes)";
        let (code, body) = get(&format!("{base}/api/v1/query"), &[("query", query)]).await;
        assert_eq!(code, 200, "{body}");
        let total = 16.0 * 1024.0 * MIB;
        let items = result(&body);
        assert_eq!(items.len(), 2);
        for item in items {
            let used = num(&item["value"][1]);
            assert!(
                (0.2 * total - 4096.0..=0.85 * total + 4096.0).contains(&used),
                "{used}"
            );
        }
    }

    #[tokio::test]
    async fn pod_metrics_cover_running_pods_and_filter_the_pod_cgroup() {
        let base = prom().await;
        let cpu = "sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{container!=\"\"}[5m]))";
        let (_, body) = get(&format!("{base}/api/v1/query"), &[("query", cpu)]).await;
        let items = result(&body);
        let pods: Vec<&str> = items
            .iter()
            .map(|i| i["metric"]["pod"].as_str().unwrap())
            .collect();
        assert_eq!(pods, ["crash-1", "web-1"], "only Running pods");
        assert!(
            num(&items[0]["value"][1]) < 0.001,
            "a crash-looping pod is idle"
        );
        let web = num(&items[1]["value"][1]);
        assert!((0.001..=0.5).contains(&web), "{web}");

        let mem = "sum by (namespace, pod) (container_memory_working_set_bytes{container!=\"\"})";
        let (_, body) = get(&format!("{base}/api/v1/query"), &[("query", mem)]).await;
        for item in result(&body) {
            let bytes = num(&item["value"][1]);
            assert!(
                (20.0 * MIB - 8192.0..=800.0 * MIB + 8192.0).contains(&bytes),
                "{bytes}"
            );
            assert_eq!(keys(&item["metric"]), ["namespace", "pod"]);
        }
        let count = "count(container_memory_working_set_bytes{pod=\"web-1\"})";
        let (_, body) = get(&format!("{base}/api/v1/query"), &[("query", count)]).await;
        assert_eq!(
            result(&body)[0]["value"][1],
            "3",
            "two containers plus the pod cgroup"
        );
        let labels = "container_cpu_usage_seconds_total{container=\"app\",pod=\"web-1\"}";
        let (_, body) = get(&format!("{base}/api/v1/query"), &[("query", labels)]).await;
        let m = &result(&body)[0]["metric"];
        for l in ["namespace", "pod", "container", "node", "cluster"] {
            assert!(m[l].is_string(), "{l} in {m}");
        }
    }

    #[tokio::test]
    async fn query_range_evaluates_each_step_with_lookback() {
        let base = prom().await;
        let from = start() - chrono::Duration::minutes(40);
        let (code, body) = get(
            &format!("{base}/api/v1/query_range"),
            &[
                ("query", "probe_success{target=\"harbor\"}"),
                ("start", &from.to_rfc3339()),
                ("end", &secs(start())),
                ("step", "1m"),
            ],
        )
        .await;
        assert_eq!(code, 200, "{body}");
        assert_eq!(body["data"]["resultType"], "matrix");
        let values = result(&body)[0]["values"].as_array().unwrap();
        // 41 steps; in the 10-minute gap the first 5 still see the last sample.
        assert_eq!(values.len(), 36);
        assert!(
            values
                .iter()
                .all(|p| p.as_array().unwrap().len() == 2 && p[1].is_string())
        );
    }

    #[tokio::test]
    async fn query_range_enforces_the_resolution_limit() {
        let base = prom().await;
        let from = secs(start() - chrono::Duration::days(30));
        let url = format!("{base}/api/v1/query_range");
        let (code, body) = get(
            &url,
            &[
                ("query", "probe_success"),
                ("start", &from),
                ("end", &secs(start())),
                ("step", "60"),
            ],
        )
        .await;
        assert_eq!(code, 400);
        assert_eq!(
            body,
            json!({"status": "error", "errorType": "bad_data", "error": "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"})
        );
        let (code, body) = get(
            &url,
            &[
                ("query", "probe_success"),
                ("start", &from),
                ("end", &secs(start())),
                ("step", "300"),
            ],
        )
        .await;
        assert_eq!(code, 200);
        let series = result(&body);
        assert_eq!(series.len(), 3);
        let lens: Vec<usize> = series
            .iter()
            .map(|s| s["values"].as_array().unwrap().len())
            .collect();
        // harbor's 10-minute gap swallows the step at start-25m (nothing in the 5m lookback).
        assert_eq!(lens, [8641, 8641, 8640]);
    }

    #[tokio::test]
    async fn post_form_queries_work_like_get() {
        let base = prom().await;
        let form = reqwest::Url::parse_with_params(
            "http://x/",
            &[
                (
                    "query",
                    "count_over_time(probe_success{target=\"dex\"}[1d])",
                ),
                ("time", &secs(start())),
            ],
        )
        .unwrap();
        let r = testkit::client()
            .post(format!("{base}/api/v1/query"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.query().unwrap().to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let body: Value = r.json().await.unwrap();
        assert_eq!(result(&body)[0]["value"][1], "1440");
    }

    #[tokio::test]
    async fn bad_queries_and_parameters_are_reported_like_prometheus() {
        let base = prom().await;
        let url = format!("{base}/api/v1/query");
        for (params, code, kind, needle) in [
            (
                vec![("query", "sum(")],
                400,
                "bad_data",
                "invalid parameter \"query\": 1:5: parse error",
            ),
            (
                vec![("query", "rate(probe_success)")],
                400,
                "bad_data",
                "expected type range vector",
            ),
            (
                vec![("query", "histogram_quantile(0.9, x)")],
                400,
                "bad_data",
                "not supported",
            ),
            (
                vec![("query", "probe_success"), ("time", "yesterday")],
                400,
                "bad_data",
                "invalid parameter \"time\"",
            ),
            (
                vec![("query", "probe_success"), ("timeout", "soon")],
                400,
                "bad_data",
                "invalid parameter \"timeout\"",
            ),
            (
                vec![(
                    "query",
                    "node_memory_MemTotal_bytes - {job=\"node-exporter\"}",
                )],
                422,
                "execution",
                "duplicate series",
            ),
        ] {
            let (c, body) = get(&url, &params).await;
            assert_eq!(c, code, "{params:?}: {body}");
            assert_eq!(keys(&body), ["error", "errorType", "status"]);
            assert_eq!(body["status"], "error");
            assert_eq!(body["errorType"], kind);
            assert!(body["error"].as_str().unwrap().contains(needle), "{body}");
        }
        let range = format!("{base}/api/v1/query_range");
        let (c, body) = get(
            &range,
            &[
                ("query", "probe_success[5m]"),
                ("start", "0"),
                ("end", "60"),
                ("step", "15"),
            ],
        )
        .await;
        assert_eq!(c, 400, "{body}");
        let (c, _) = get(
            &range,
            &[
                ("query", "up"),
                ("start", "60"),
                ("end", "0"),
                ("step", "15"),
            ],
        )
        .await;
        assert_eq!(c, 400);
        let (c, _) = get(
            &range,
            &[
                ("query", "up"),
                ("start", "0"),
                ("end", "60"),
                ("step", "0"),
            ],
        )
        .await;
        assert_eq!(c, 400);
    }

    #[tokio::test]
    async fn scalar_results_buildinfo_and_health() {
        let base = prom().await;
        let (_, body) = get(
            &format!("{base}/api/v1/query"),
            &[("query", "1 - 0.25"), ("time", "1700000000.5")],
        )
        .await;
        assert_eq!(
            body["data"],
            json!({"resultType": "scalar", "result": [1700000000.5, "0.75"]})
        );
        let (code, body) = get(&format!("{base}/api/v1/status/buildinfo"), &[]).await;
        assert_eq!(code, 200);
        assert_eq!(body["data"]["version"], VERSION);
        for k in ["revision", "branch", "buildUser", "buildDate", "goVersion"] {
            assert!(body["data"][k].is_string(), "{k}");
        }
        let (code, _) = get(&format!("{base}/-/ready"), &[]).await;
        assert_eq!(code, 200);
    }

    #[test]
    fn probe_success_at_uses_the_minute_sample() {
        let spec = &testkit::probes()[0];
        let t = start() - chrono::Duration::minutes(25) + chrono::Duration::seconds(30);
        assert_eq!(probe_success_at(spec, t), Some(0.0));
        assert_eq!(
            probe_success_at(spec, start() - chrono::Duration::minutes(10)),
            None
        );
        assert_eq!(probe_success_at(spec, start()), Some(1.0));
    }

    #[test]
    fn quantities_and_values_format_like_the_real_apis() {
        assert_eq!(parse_quantity("16Gi"), Some(17_179_869_184.0));
        assert_eq!(parse_quantity("3500m"), Some(3.5));
        assert_eq!(parse_quantity("8"), Some(8.0));
        assert_eq!(format_value(1.0), "1");
        assert_eq!(format_value(0.000_1), "0.0001");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(
            decode_form("a=1+2&b=%22x%22&c"),
            vec![
                ("a".into(), "1 2".into()),
                ("b".into(), "\"x\"".into()),
                ("c".into(), String::new())
            ]
        );
    }
}

#[cfg(test)]
mod totals {
    use super::ProbeTimeline;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// A probe's count and sum over any window, counted by interval, equal those of
        /// its samples one by one, whatever its outages and gaps (overlapping ones too).
        #[test]
        fn counted_totals_equal_the_samples(
            outages in proptest::collection::vec((0i64..600, 1i64..120), 0..5),
            missing in proptest::collection::vec((0i64..600, 1i64..120), 0..5),
            from in -30i64..700,
            len in 0i64..800,
        ) {
            const EVERY: i64 = 60_000;
            let ms = |ivs: &[(i64, i64)]| -> Vec<(i64, i64)> {
                // Minutes to milliseconds, with edges off the minute as well.
                ivs.iter().map(|&(s, l)| (s * EVERY + 7, (s + l) * EVERY - 13)).collect()
            };
            let timeline = ProbeTimeline { outages: ms(&outages), missing: ms(&missing) };
            let (from, to) = (from * EVERY + 500, (from + len) * EVERY);
            let (mut count, mut sum) = (0u64, 0.0);
            let mut t = from.div_euclid(EVERY) * EVERY;
            while t <= to {
                if t >= from && let Some(v) = timeline.sample(t) {
                    count += 1;
                    sum += v;
                }
                t += EVERY;
            }
            proptest::prop_assert_eq!(timeline.totals(EVERY, from, to), (count, sum));
        }
    }
}
