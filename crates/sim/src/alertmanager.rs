//! The simulated Alertmanager API v2 of one cluster, shaped field by field after
//! prometheus/alertmanager `api/v2/openapi.yaml`, with the behaviour of its alert store
//! (merge by fingerprint, `resolve_timeout`) and silences (pending/active/expired, update in
//! place or replace, expire on DELETE).
//!
//! Alerts come from two places: clients may POST them, and built-in rules evaluated over
//! the cluster's state push them the way Prometheus does (stable `startsAt`, `endsAt`
//! refreshed a few minutes ahead, an explicit resolve when the condition ends). Times are
//! simulated (`cluster.clock`), so `--speed` ages silences and alerts too.
//!
//! Deliberate simplifications: one receiver (`default`); groups are by
//! `alertname` and `cluster`; no inhibition rules (`inhibitedBy` is always empty); rules
//! fire without a `for:` delay; malformed requests get 400 with a JSON string body, as the
//! real handlers answer (the real server's OpenAPI layer answers a few with 422 instead).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use chrono::{DateTime, TimeDelta, Utc};
use regex::Regex;
use serde::Deserialize;
use serde_json::{Value, json};

use super::cluster::ClusterSim;
use super::prometheus::{Params, decode_form, fnv1a64, probe_success_at};
use super::promql::{Labels, MatchOp, Matcher, is_label_name};
use super::registry::ids;
use super::store::{name_of, namespace_of};

/// The version this simulator mimics: Debian bookworm's Alertmanager.
pub const VERSION: &str = "0.25.0";

/// The only receiver; every alert routes to it.
pub const RECEIVER: &str = "default";

/// The route's `group_by`.
pub const GROUP_BY: [&str; 2] = ["alertname", "cluster"];

const RESOLVE_TIMEOUT: TimeDelta = TimeDelta::minutes(5);
/// How far ahead a rule alert's `endsAt` is pushed on each evaluation.
const RULE_HOLD: TimeDelta = TimeDelta::minutes(4);
/// Expired silences are kept this long (`--data.retention`).
const SILENCE_RETENTION: TimeDelta = TimeDelta::hours(120);
const CERT_WARNING: TimeDelta = TimeDelta::days(14);
const EVAL_INTERVAL: Duration = Duration::from_secs(1);

const RUNBOOKS: &str = "https://runbooks.prometheus-operator.dev/runbooks";
const WELKIN_OPS: &str = "https://elastisys.io/welkin/operator-manual";

// ---------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Alert {
    labels: Labels,
    annotations: Labels,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    generator_url: String,
    /// `endsAt` was filled in from `resolve_timeout`, so a later explicit one wins.
    timeout: bool,
}

impl Alert {
    fn resolved(&self, now: DateTime<Utc>) -> bool {
        self.ends_at <= now
    }

    /// Alertmanager's `Alert.Merge`: the younger update wins, keeping the earliest start.
    fn merge(self, newer: Alert, now: DateTime<Utc>) -> Alert {
        if newer.updated_at < self.updated_at {
            return newer.merge(self, now);
        }
        let mut res = newer.clone();
        res.starts_at = self.starts_at.min(newer.starts_at);
        if newer.resolved(now) {
            if self.resolved(now) && self.ends_at > newer.ends_at {
                res.ends_at = self.ends_at;
            }
        } else if self.ends_at > newer.ends_at && !self.timeout {
            res.ends_at = self.ends_at;
        }
        res
    }
}

#[derive(Debug, Clone)]
struct Silence {
    id: String,
    matchers: Vec<Matcher>,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    created_by: String,
    comment: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum SilenceState {
    Active,
    Pending,
    Expired,
}

impl SilenceState {
    fn as_str(self) -> &'static str {
        match self {
            SilenceState::Active => "active",
            SilenceState::Pending => "pending",
            SilenceState::Expired => "expired",
        }
    }
}

impl Silence {
    fn state(&self, now: DateTime<Utc>) -> SilenceState {
        if now < self.starts_at {
            SilenceState::Pending
        } else if now < self.ends_at {
            SilenceState::Active
        } else {
            SilenceState::Expired
        }
    }

    fn mutes(&self, labels: &Labels, now: DateTime<Utc>) -> bool {
        self.state(now) == SilenceState::Active
            && self.matchers.iter().all(|m| m.matches_labels(labels))
    }
}

#[derive(Debug, Default)]
struct AmState {
    alerts: HashMap<String, Alert>,
    /// When each currently firing rule alert first fired (Prometheus' `activeAt`).
    rule_active_since: HashMap<String, DateTime<Utc>>,
    silences: HashMap<String, Silence>,
}

impl AmState {
    /// Alertmanager's alert-store `Put`: merges with a stored alert whose activity overlaps.
    fn put(&mut self, alert: Alert, now: DateTime<Utc>) {
        let fp = fingerprint(&alert.labels);
        let alert = match self.alerts.remove(&fp) {
            Some(old) if alert.starts_at <= old.ends_at && alert.ends_at >= old.starts_at => {
                old.merge(alert, now)
            }
            _ => alert,
        };
        self.alerts.insert(fp, alert);
    }

    fn silenced_by(&self, labels: &Labels, now: DateTime<Utc>) -> Vec<String> {
        let mut ids: Vec<String> = self
            .silences
            .values()
            .filter(|s| s.mutes(labels, now))
            .map(|s| s.id.clone())
            .collect();
        ids.sort();
        ids
    }
}

/// The Alertmanager of one simulated cluster.
#[derive(Debug)]
pub struct AlertmanagerSim {
    cluster: Arc<ClusterSim>,
    started: DateTime<Utc>,
    state: Mutex<AmState>,
}

/// An API failure: the status code and the body the real server sends (a JSON string,
/// an OpenAPI error object, or nothing).
#[derive(Debug, Clone, PartialEq)]
pub struct AmError {
    pub code: StatusCode,
    pub body: Option<Value>,
}

impl AmError {
    fn bad_request(msg: impl Into<String>) -> AmError {
        AmError {
            code: StatusCode::BAD_REQUEST,
            body: Some(Value::String(msg.into())),
        }
    }

    fn not_found(body: Option<Value>) -> AmError {
        AmError {
            code: StatusCode::NOT_FOUND,
            body,
        }
    }
}

impl IntoResponse for AmError {
    fn into_response(self) -> Response {
        match self.body {
            Some(b) => (self.code, axum::Json(b)).into_response(),
            None => self.code.into_response(),
        }
    }
}

/// RFC 3339 with milliseconds, as go-openapi's `strfmt.DateTime` writes it.
fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// FNV-1a 64 over the sorted label names and values, each followed by 0xff: the
/// fingerprint Prometheus' `model.LabelSet.Fingerprint` computes, as 16 hex digits.
pub fn fingerprint(labels: &Labels) -> String {
    let mut parts: Vec<&[u8]> = Vec::with_capacity(labels.len() * 4);
    for (k, v) in labels {
        parts.extend([k.as_bytes(), &[0xff], v.as_bytes(), &[0xff]]);
    }
    format!("{:016x}", fnv1a64(&parts))
}

impl AlertmanagerSim {
    pub fn new(cluster: Arc<ClusterSim>) -> Arc<AlertmanagerSim> {
        Arc::new(AlertmanagerSim {
            started: cluster.clock.now(),
            cluster,
            state: Mutex::new(AmState::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, AmState> {
        // Every mutation leaves the state consistent, so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now(&self) -> DateTime<Utc> {
        self.cluster.clock.now()
    }

    /// How long a rule alert stays valid without re-evaluation: four evaluation
    /// intervals (at least 4 minutes), so a fast `--speed` does not make alerts flap.
    fn rule_hold(&self) -> TimeDelta {
        let sim_interval = EVAL_INTERVAL.as_secs_f64() * self.cluster.clock.speed();
        RULE_HOLD.max(TimeDelta::milliseconds(
            (4.0 * sim_interval * 1000.0) as i64,
        ))
    }

    /// Evaluates the built-in rules once and pushes the result into the alert store,
    /// as Prometheus does on each evaluation; also drops resolved alerts and old silences.
    pub fn evaluate_rules(&self) {
        let now = self.now();
        let firing = rules::evaluate(&self.cluster, now);
        let hold = self.rule_hold();
        let mut st = self.lock();
        let mut still_firing = HashSet::new();
        for r in firing {
            let fp = fingerprint(&r.labels);
            let since = *st.rule_active_since.entry(fp.clone()).or_insert(now);
            still_firing.insert(fp);
            st.put(r.into_alert(since, now + hold, now), now);
        }
        let ended: Vec<String> = st
            .rule_active_since
            .keys()
            .filter(|fp| !still_firing.contains(*fp))
            .cloned()
            .collect();
        for fp in ended {
            st.rule_active_since.remove(&fp);
            if let Some(a) = st.alerts.get_mut(&fp) {
                // Prometheus sends the resolve explicitly: endsAt is the resolve time.
                a.ends_at = now;
                a.updated_at = now;
                a.timeout = false;
            }
        }
        st.alerts.retain(|_, a| !a.resolved(now));
        st.silences.retain(|_, s| {
            s.state(now) != SilenceState::Expired || s.ends_at + SILENCE_RETENTION > now
        });
    }

    // -----------------------------------------------------------------------------------
    // Alerts
    // -----------------------------------------------------------------------------------

    /// POST /api/v2/alerts: stores every valid alert; 400 naming the invalid ones.
    pub fn post_alerts(&self, body: &[u8]) -> Result<(), AmError> {
        let posted: Vec<PostableAlert> = serde_json::from_slice(body)
            .map_err(|e| AmError::bad_request(format!("parsing alerts body failed: {e}")))?;
        let now = self.now();
        let mut errors = Vec::new();
        let mut st = self.lock();
        for p in posted {
            match p.into_alert(now) {
                Ok(a) => st.put(a, now),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(AmError::bad_request(errors.join("; ")))
        }
    }

    /// GET /api/v2/alerts.
    pub fn get_alerts(&self, params: &Params) -> Result<Value, AmError> {
        let filter = AlertFilter::parse(params)?;
        let now = self.now();
        let st = self.lock();
        Ok(Value::Array(
            self.visible_alerts(&st, &filter, now)
                .into_iter()
                .map(|(_, v)| v)
                .collect(),
        ))
    }

    /// GET /api/v2/alerts/groups: the visible alerts grouped by [`GROUP_BY`].
    pub fn get_groups(&self, params: &Params) -> Result<Value, AmError> {
        let filter = AlertFilter::parse(params)?;
        let now = self.now();
        let st = self.lock();
        let mut groups: BTreeMap<Labels, Vec<Value>> = BTreeMap::new();
        for (labels, alert) in self.visible_alerts(&st, &filter, now) {
            let key: Labels = GROUP_BY
                .iter()
                .filter_map(|g| labels.get(*g).map(|v| (g.to_string(), v.clone())))
                .collect();
            groups.entry(key).or_default().push(alert);
        }
        Ok(groups
            .into_iter()
            .map(|(labels, alerts)| json!({"labels": labels, "receiver": {"name": RECEIVER}, "alerts": alerts}))
            .collect())
    }

    /// Unresolved alerts passing the filter, sorted by fingerprint, with their labels.
    fn visible_alerts(
        &self,
        st: &AmState,
        filter: &AlertFilter,
        now: DateTime<Utc>,
    ) -> Vec<(Labels, Value)> {
        let mut fps: Vec<&String> = st.alerts.keys().collect();
        fps.sort();
        let mut out = Vec::new();
        for fp in fps {
            let a = &st.alerts[fp];
            if a.resolved(now) {
                continue;
            }
            let silenced_by = st.silenced_by(&a.labels, now);
            if filter.admits(a, &silenced_by) {
                out.push((a.labels.clone(), alert_json(fp, a, &silenced_by)));
            }
        }
        out
    }

    // -----------------------------------------------------------------------------------
    // Silences
    // -----------------------------------------------------------------------------------

    /// GET /api/v2/silences: active first (soonest end first), then pending (soonest
    /// start first), then expired (most recent first), as the real server sorts them.
    pub fn get_silences(&self, params: &Params) -> Result<Value, AmError> {
        let filter = parse_filters(params)?;
        let now = self.now();
        let st = self.lock();
        let mut sils: Vec<&Silence> = st
            .silences
            .values()
            .filter(|s| filter.iter().all(|f| silence_has_matcher(s, f)))
            .collect();
        sils.sort_by_key(|s| {
            let state = s.state(now);
            let key = match state {
                SilenceState::Active => s.ends_at.timestamp_millis(),
                SilenceState::Pending => s.starts_at.timestamp_millis(),
                SilenceState::Expired => -s.ends_at.timestamp_millis(),
            };
            (state, key, s.id.clone())
        });
        Ok(sils.into_iter().map(|s| silence_json(s, now)).collect())
    }

    /// GET /api/v2/silence/{id}.
    pub fn get_silence(&self, id: &str) -> Result<Value, AmError> {
        check_uuid(id)?;
        let now = self.now();
        let st = self.lock();
        st.silences
            .get(id)
            .map(|s| silence_json(s, now))
            .ok_or(AmError::not_found(None))
    }

    /// POST /api/v2/silences: creates a silence, or updates the one named by `id` (in
    /// place when only its end or comment changes, else by expiring it and creating a
    /// new one, as the real server does). Returns `{"silenceID": ...}`.
    pub fn post_silence(&self, body: &[u8]) -> Result<Value, AmError> {
        let p: PostableSilence = serde_json::from_slice(body)
            .map_err(|e| AmError::bad_request(format!("parsing silence body failed: {e}")))?;
        let now = self.now();
        let mut sil = p.to_silence(now)?;
        let mut st = self.lock();
        let prev = match p.id.as_deref().filter(|id| !id.is_empty()) {
            Some(id) => Some(
                st.silences
                    .get(id)
                    .cloned()
                    .ok_or_else(|| AmError::not_found(Some(Value::String("not found".into()))))?,
            ),
            None => None,
        };
        if let Some(prev) = prev {
            if can_update(&prev, &sil, now) {
                sil.id = prev.id;
                st.silences.insert(sil.id.clone(), sil.clone());
                return Ok(json!({"silenceID": sil.id}));
            }
            if prev.state(now) != SilenceState::Expired {
                expire(st.silences.get_mut(&prev.id).expect("looked up above"), now);
            }
        }
        sil.starts_at = sil.starts_at.max(now);
        st.silences.insert(sil.id.clone(), sil.clone());
        Ok(json!({"silenceID": sil.id}))
    }

    /// DELETE /api/v2/silence/{id}: expires it. An unknown id is 404; an already expired
    /// silence is 500 `silence <id> already expired`, as the real server answers.
    pub fn expire_silence(&self, id: &str) -> Result<(), AmError> {
        check_uuid(id)?;
        let now = self.now();
        let mut st = self.lock();
        let sil = st.silences.get_mut(id).ok_or(AmError::not_found(None))?;
        if sil.state(now) == SilenceState::Expired {
            return Err(AmError {
                code: StatusCode::INTERNAL_SERVER_ERROR,
                body: Some(Value::String(format!("silence {id} already expired"))),
            });
        }
        expire(sil, now);
        Ok(())
    }

    // -----------------------------------------------------------------------------------
    // Status
    // -----------------------------------------------------------------------------------

    /// GET /api/v2/status.
    pub fn status(&self) -> Value {
        let name = peer_name(&self.cluster.name());
        json!({
            "cluster": {"name": name, "status": "ready", "peers": []},
            "versionInfo": {
                "version": VERSION,
                "branch": "debian/sid",
                "buildDate": "20230502-10:00:00",
                "buildUser": "team+pkg-go@tracker.debian.org",
                "goVersion": "go1.19.8",
                "revision": "0.25.0-1+b4",
            },
            "config": {"original": config_yaml(&self.cluster.name())},
            "uptime": ts(self.started),
        })
    }
}

fn expire(sil: &mut Silence, now: DateTime<Utc>) {
    if sil.state(now) == SilenceState::Pending {
        sil.starts_at = now;
    }
    sil.ends_at = now;
    sil.updated_at = now;
}

/// Whether `next` may replace `prev` under the same id (Alertmanager's `canUpdate`).
fn can_update(prev: &Silence, next: &Silence, now: DateTime<Utc>) -> bool {
    let same = |a: &Matcher, b: &Matcher| a.name == b.name && a.op == b.op && a.value == b.value;
    if prev.matchers.len() != next.matchers.len()
        || !prev
            .matchers
            .iter()
            .zip(&next.matchers)
            .all(|(a, b)| same(a, b))
    {
        return false;
    }
    match prev.state(now) {
        SilenceState::Active => next.starts_at == prev.starts_at && next.ends_at >= now,
        SilenceState::Pending => next.starts_at >= now,
        SilenceState::Expired => false,
    }
}

/// A silence matches a filter matcher when it has a matcher with the same name, type and
/// value (`CheckSilenceMatchesFilterLabels`).
fn silence_has_matcher(s: &Silence, f: &Matcher) -> bool {
    s.matchers
        .iter()
        .any(|m| m.name == f.name && m.op == f.op && m.value == f.value)
}

fn check_uuid(id: &str) -> Result<(), AmError> {
    let ok = id.len() == 36
        && id.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        });
    if ok {
        Ok(())
    } else {
        Err(AmError {
            code: StatusCode::UNPROCESSABLE_ENTITY,
            body: Some(
                json!({"code": 601, "message": format!("silenceID in path must be of type uuid: {id:?}")}),
            ),
        })
    }
}

fn new_uuid() -> String {
    let b: [u8; 16] = rand::Rng::random(&mut rand::rng());
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    // Version 4, variant 10xx.
    let v = format!("4{}", &hex[13..16]);
    let var = format!("{:x}{}", (b[8] & 0x3f) | 0x80, &hex[18..20]);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        v,
        &var[..4],
        &hex[20..32]
    )
}

/// A stable, ULID-looking peer name, as a real cluster member reports.
fn peer_name(cluster: &str) -> String {
    const CROCKFORD: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut h = fnv1a64(&[cluster.as_bytes()]);
    let mut out = String::from("01");
    for i in 0..24 {
        if i == 12 {
            h = fnv1a64(&[cluster.as_bytes(), b"peer"]);
        }
        out.push(CROCKFORD[(h & 31) as usize] as char);
        h >>= 5;
    }
    out
}

fn config_yaml(cluster: &str) -> String {
    format!(
        "global:\n  resolve_timeout: 5m\n  http_config:\n    follow_redirects: true\n    enable_http2: true\n\
         route:\n  receiver: {RECEIVER}\n  group_by:\n  - alertname\n  - cluster\n  continue: false\n\
         \x20 group_wait: 30s\n  group_interval: 5m\n  repeat_interval: 4h\n\
         receivers:\n- name: {RECEIVER}\ntemplates: []\n# simulated Alertmanager of {cluster}\n"
    )
}

// ---------------------------------------------------------------------------------------
// Request parsing
// ---------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostableAlert {
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    starts_at: Option<String>,
    ends_at: Option<String>,
    #[serde(rename = "generatorURL", default)]
    generator_url: String,
}

/// Parses an optional API time; Go's zero time counts as absent.
fn opt_time(s: &Option<String>, field: &str) -> Result<Option<DateTime<Utc>>, String> {
    match s.as_deref() {
        None | Some("") => Ok(None),
        Some(s) => {
            let t = super::clock::parse_time(s)
                .ok_or_else(|| format!("{field} must be of type date-time: {s:?}"))?;
            Ok((t.timestamp() > -62_135_596_800).then_some(t))
        }
    }
}

impl PostableAlert {
    /// Fills in times as the real POST handler does, then validates.
    fn into_alert(self, now: DateTime<Utc>) -> Result<Alert, String> {
        let starts = opt_time(&self.starts_at, "startsAt")?;
        let ends = opt_time(&self.ends_at, "endsAt")?;
        let starts_at = starts.or(ends).unwrap_or(now);
        let (ends_at, timeout) = match ends {
            Some(e) => (e, false),
            None => (now + RESOLVE_TIMEOUT, true),
        };
        let labels: Labels = self
            .labels
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .collect();
        if labels.is_empty() {
            return Err("at least one label pair required".into());
        }
        if let Some(bad) = labels.keys().find(|k| !is_label_name(k)) {
            return Err(format!("invalid label set: invalid name {bad:?}"));
        }
        if ends_at < starts_at {
            return Err("start time must be before end time".into());
        }
        Ok(Alert {
            labels,
            annotations: self.annotations,
            starts_at,
            ends_at,
            updated_at: now,
            generator_url: self.generator_url,
            timeout,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostableSilence {
    id: Option<String>,
    matchers: Option<Vec<PostableMatcher>>,
    starts_at: Option<String>,
    ends_at: Option<String>,
    created_by: Option<String>,
    comment: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostableMatcher {
    name: Option<String>,
    value: Option<String>,
    is_regex: Option<bool>,
    is_equal: Option<bool>,
}

fn required<'a>(v: &'a Option<String>, field: &str) -> Result<&'a str, AmError> {
    match v.as_deref() {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(AmError::bad_request(format!("{field} in body is required"))),
    }
}

impl PostableSilence {
    /// Validates in the real server's order: required fields, then times, then matchers.
    fn to_silence(&self, now: DateTime<Utc>) -> Result<Silence, AmError> {
        let matchers = self
            .matchers
            .as_ref()
            .ok_or_else(|| AmError::bad_request("matchers in body is required"))?;
        let starts = required(&self.starts_at, "startsAt")?;
        let ends = required(&self.ends_at, "endsAt")?;
        let created_by = required(&self.created_by, "createdBy")?;
        let comment = required(&self.comment, "comment")?;
        let parse = |s: &str, field: &str| {
            super::clock::parse_time(s).ok_or_else(|| {
                AmError::bad_request(format!("{field} in body must be of type date-time: {s:?}"))
            })
        };
        let (starts_at, ends_at) = (parse(starts, "startsAt")?, parse(ends, "endsAt")?);
        if starts_at >= ends_at {
            return Err(AmError::bad_request(
                "Failed to create silence: start time must be before end time",
            ));
        }
        if ends_at < now {
            return Err(AmError::bad_request(
                "Failed to create silence: end time can't be in the past",
            ));
        }
        Ok(Silence {
            id: new_uuid(),
            matchers: silence_matchers(matchers)?,
            starts_at,
            ends_at,
            updated_at: now,
            created_by: created_by.to_string(),
            comment: comment.to_string(),
        })
    }
}

fn silence_matchers(posted: &[PostableMatcher]) -> Result<Vec<Matcher>, AmError> {
    let invalid = |msg: String| AmError::bad_request(format!("silence invalid: {msg}"));
    if posted.is_empty() {
        return Err(invalid("at least one matcher required".into()));
    }
    let mut out = Vec::new();
    for (i, m) in posted.iter().enumerate() {
        let field = |f: &str| AmError::bad_request(format!("matchers.{i}.{f} in body is required"));
        let name = m.name.as_deref().ok_or_else(|| field("name"))?;
        let value = m.value.as_deref().ok_or_else(|| field("value"))?;
        let is_regex = m.is_regex.ok_or_else(|| field("isRegex"))?;
        let op = match (is_regex, m.is_equal.unwrap_or(true)) {
            (false, true) => MatchOp::Equal,
            (false, false) => MatchOp::NotEqual,
            (true, true) => MatchOp::Regex,
            (true, false) => MatchOp::NotRegex,
        };
        if !is_label_name(name) {
            return Err(invalid(format!(
                "invalid label matcher {i}: invalid label name {name:?}"
            )));
        }
        let matcher = Matcher::new(name, op, value)
            .map_err(|e| invalid(format!("invalid label matcher {i}: {e}")))?;
        out.push(matcher);
    }
    // Negative matchers never count as matching everything, as in the real check.
    let all_match_empty = out
        .iter()
        .all(|m| matches!(m.op, MatchOp::Equal | MatchOp::Regex) && m.matches(""));
    if all_match_empty {
        return Err(invalid(
            "at least one matcher must not match the empty string".into(),
        ));
    }
    Ok(out)
}

/// Parses a matcher the way `amtool` and the API's `filter` accept it:
/// `name="value"`, `name=~"re"`, `name!=value` (quotes optional).
pub fn parse_matcher(s: &str) -> Result<Matcher, String> {
    let bad = || format!("bad matcher format: {s}");
    let t = s.trim();
    let name_len = t
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_alphabetic() || c == '_' || (i > 0 && c.is_ascii_digit())))
        .map_or(t.len(), |(i, _)| i);
    let (name, rest) = t.split_at(name_len);
    let rest = rest.trim_start();
    let (op, value) = [
        ("=~", MatchOp::Regex),
        ("!~", MatchOp::NotRegex),
        ("!=", MatchOp::NotEqual),
        ("=", MatchOp::Equal),
    ]
    .into_iter()
    .find_map(|(tok, op)| rest.strip_prefix(tok).map(|v| (op, v.trim())))
    .ok_or_else(bad)?;
    if name.is_empty() {
        return Err(bad());
    }
    let value = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => unescape(inner),
        None => value.to_string(),
    };
    Matcher::new(name, op, &value)
}

/// Alertmanager's matcher unescaping: `\\`, `\"` and `\n` are escapes; any other
/// backslash stays, so regexes such as `a\.b` need no doubling.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\\', Some('\\' | '"')) => out.extend(chars.next()),
            ('\\', Some('n')) => {
                chars.next();
                out.push('\n');
            }
            _ => out.push(c),
        }
    }
    out
}

fn parse_filters(params: &Params) -> Result<Vec<Matcher>, AmError> {
    params
        .all("filter")
        .into_iter()
        .map(|f| parse_matcher(f).map_err(AmError::bad_request))
        .collect()
}

/// Go's `strconv.ParseBool`, which the OpenAPI layer uses for boolean parameters.
fn parse_bool(params: &Params, name: &str) -> Result<bool, AmError> {
    match params.get(name) {
        None | Some("") => Ok(true),
        Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
        Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
        Some(other) => Err(AmError::bad_request(format!(
            "{name} in query must be of type boolean: {other:?}"
        ))),
    }
}

/// The query parameters of GET /alerts and /alerts/groups.
struct AlertFilter {
    active: bool,
    silenced: bool,
    matchers: Vec<Matcher>,
    receiver: Option<Regex>,
}

impl AlertFilter {
    fn parse(params: &Params) -> Result<AlertFilter, AmError> {
        // Validated but without effect: every alert here is processed and none inhibited.
        parse_bool(params, "unprocessed")?;
        parse_bool(params, "inhibited")?;
        let receiver = match params.get("receiver") {
            Some(r) => Some(Regex::new(&format!("^(?:{r})$")).map_err(|e| {
                AmError::bad_request(format!("failed to parse receiver param: {e}"))
            })?),
            None => None,
        };
        Ok(AlertFilter {
            active: parse_bool(params, "active")?,
            silenced: parse_bool(params, "silenced")?,
            matchers: parse_filters(params)?,
            receiver,
        })
    }

    fn admits(&self, a: &Alert, silenced_by: &[String]) -> bool {
        if self
            .receiver
            .as_ref()
            .is_some_and(|r| !r.is_match(RECEIVER))
        {
            return false;
        }
        let suppressed = !silenced_by.is_empty();
        if !self.active && !suppressed {
            return false;
        }
        if !self.silenced && suppressed {
            return false;
        }
        self.matchers.iter().all(|m| m.matches_labels(&a.labels))
    }
}

// ---------------------------------------------------------------------------------------
// Response shapes
// ---------------------------------------------------------------------------------------

fn alert_json(fp: &str, a: &Alert, silenced_by: &[String]) -> Value {
    let state = if silenced_by.is_empty() {
        "active"
    } else {
        "suppressed"
    };
    json!({
        "labels": a.labels,
        "annotations": a.annotations,
        "startsAt": ts(a.starts_at),
        "endsAt": ts(a.ends_at),
        "updatedAt": ts(a.updated_at),
        "fingerprint": fp,
        "receivers": [{"name": RECEIVER}],
        "generatorURL": a.generator_url,
        "status": {"state": state, "silencedBy": silenced_by, "inhibitedBy": [], "mutedBy": []},
    })
}

fn silence_json(s: &Silence, now: DateTime<Utc>) -> Value {
    let matchers: Vec<Value> = s
        .matchers
        .iter()
        .map(|m| {
            json!({
                "name": m.name,
                "value": m.value,
                "isRegex": matches!(m.op, MatchOp::Regex | MatchOp::NotRegex),
                "isEqual": matches!(m.op, MatchOp::Equal | MatchOp::Regex),
            })
        })
        .collect();
    json!({
        "id": s.id,
        "status": {"state": s.state(now).as_str()},
        "updatedAt": ts(s.updated_at),
        "matchers": matchers,
        "startsAt": ts(s.starts_at),
        "endsAt": ts(s.ends_at),
        "createdBy": s.created_by,
        "comment": s.comment,
    })
}

// ---------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------

/// Serves one cluster's Alertmanager API v2.
pub fn router(am: Arc<AlertmanagerSim>) -> Router {
    Router::new()
        .route("/api/v2/alerts", get(get_alerts).post(post_alerts))
        .route("/api/v2/alerts/groups", get(get_groups))
        .route("/api/v2/silences", get(get_silences).post(post_silences))
        .route(
            "/api/v2/silence/{id}",
            delete(delete_silence).get(get_silence),
        )
        .route(
            "/api/v2/status",
            get(|State(am): State<Arc<AlertmanagerSim>>| async move { axum::Json(am.status()) }),
        )
        .route(
            "/api/v2/receivers",
            get(|| async { axum::Json(json!([{"name": RECEIVER}])) }),
        )
        .route("/-/ready", get(|| async { "OK" }))
        .route("/-/healthy", get(|| async { "OK" }))
        .with_state(am)
}

fn query_params(q: Option<String>) -> Params {
    Params(decode_form(q.as_deref().unwrap_or("")))
}

fn reply(r: Result<Value, AmError>) -> Response {
    match r {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn get_alerts(State(am): State<Arc<AlertmanagerSim>>, RawQuery(q): RawQuery) -> Response {
    reply(am.get_alerts(&query_params(q)))
}

async fn get_groups(State(am): State<Arc<AlertmanagerSim>>, RawQuery(q): RawQuery) -> Response {
    reply(am.get_groups(&query_params(q)))
}

async fn post_alerts(State(am): State<Arc<AlertmanagerSim>>, body: Bytes) -> Response {
    match am.post_alerts(&body) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn get_silences(State(am): State<Arc<AlertmanagerSim>>, RawQuery(q): RawQuery) -> Response {
    reply(am.get_silences(&query_params(q)))
}

async fn post_silences(State(am): State<Arc<AlertmanagerSim>>, body: Bytes) -> Response {
    reply(am.post_silence(&body))
}

async fn get_silence(State(am): State<Arc<AlertmanagerSim>>, Path(id): Path<String>) -> Response {
    reply(am.get_silence(&id))
}

async fn delete_silence(
    State(am): State<Arc<AlertmanagerSim>>,
    Path(id): Path<String>,
) -> Response {
    match am.expire_silence(&id) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => e.into_response(),
    }
}

/// Runs the rules every `every` and after changes, until aborted: changes are gathered for a
/// tenth of a second when rules run every second (a small fleet), for half the interval
/// when less often.
pub fn spawn_rules(am: Arc<AlertmanagerSim>, every: Duration) -> tokio::task::JoinHandle<()> {
    let gather = if every <= EVAL_INTERVAL {
        Duration::from_millis(100)
    } else {
        every / 2
    };
    tokio::spawn(async move {
        let store = am.cluster.store.clone();
        loop {
            let changed = store.changed().notified();
            tokio::pin!(changed);
            // Register before evaluating so a change during evaluation is not missed.
            changed.as_mut().enable();
            am.evaluate_rules();
            tokio::select! {
                _ = &mut changed => {
                    // Coalesce bursts of changes (a rollout touches many pods).
                    tokio::time::sleep(gather).await;
                }
                _ = tokio::time::sleep(every) => {}
            }
        }
    })
}

// ---------------------------------------------------------------------------------------
// Built-in rules
// ---------------------------------------------------------------------------------------

mod rules {
    use super::*;

    /// One firing alert as a rule produces it.
    pub(super) struct Firing {
        pub labels: Labels,
        pub annotations: Labels,
        pub expr: &'static str,
    }

    impl Firing {
        pub fn into_alert(
            self,
            since: DateTime<Utc>,
            until: DateTime<Utc>,
            now: DateTime<Utc>,
        ) -> Alert {
            Alert {
                generator_url: format!(
                    "http://prometheus-operated.monitoring:9090/graph?g0.expr={}&g0.tab=1",
                    url_encode(self.expr)
                ),
                labels: self.labels,
                annotations: self.annotations,
                starts_at: since,
                ends_at: until,
                updated_at: now,
                timeout: false,
            }
        }
    }

    fn url_encode(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }

    struct Rule {
        name: &'static str,
        expr: &'static str,
        runbook: String,
    }

    impl Rule {
        fn fire(
            &self,
            severity: &str,
            specifics: &[(&str, &str)],
            summary: &str,
            description: String,
        ) -> Firing {
            let mut labels: Labels = specifics
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            labels.insert("alertname".into(), self.name.into());
            labels.insert("severity".into(), severity.into());
            let annotations = [
                ("summary", summary.to_string()),
                ("description", description),
                ("runbook_url", self.runbook.clone()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            Firing {
                labels,
                annotations,
                expr: self.expr,
            }
        }
    }

    /// Every alert the rules fire now, each labelled with the cluster.
    pub(super) fn evaluate(cluster: &ClusterSim, now: DateTime<Utc>) -> Vec<Firing> {
        let mut out = vec![watchdog()];
        out.extend(node_not_ready(cluster));
        out.extend(crash_looping(cluster));
        out.extend(backup_failed(cluster));
        out.extend(cert_expiring(cluster, now));
        out.extend(endpoint_down(cluster, now));
        out.extend(falco(cluster));
        let name = cluster.name();
        for f in &mut out {
            f.labels.insert("cluster".into(), name.clone());
        }
        out
    }

    fn watchdog() -> Firing {
        Rule {
            name: "Watchdog",
            expr: "vector(1)",
            runbook: format!("{RUNBOOKS}/general/watchdog"),
        }
        .fire(
            "none",
            &[],
            "An alert that should always be firing to certify that Alertmanager is working properly.",
            "This is an alert meant to ensure that the entire alerting pipeline is functional. \
             This alert is always firing."
                .into(),
        )
    }

    fn node_not_ready(cluster: &ClusterSim) -> Vec<Firing> {
        let rule = Rule {
            name: "KubeNodeNotReady",
            expr: "kube_node_status_condition{job=\"kube-state-metrics\",condition=\"Ready\",status=\"true\"} == 0",
            runbook: format!("{RUNBOOKS}/kubernetes/kubenodenotready"),
        };
        let (nodes, _) = cluster.store.list(*ids::NODES, None);
        nodes
            .iter()
            .filter(|n| {
                !n["status"]["conditions"].as_array().is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                })
            })
            .map(|n| {
                let name = name_of(n);
                let node_labels = &n["metadata"]["labels"];
                let control_plane = node_labels
                    .get("node-role.kubernetes.io/control-plane")
                    .is_some()
                    || node_labels.get("node-role.kubernetes.io/master").is_some();
                let severity = if control_plane { "critical" } else { "warning" };
                rule.fire(
                    severity,
                    &[("node", name)],
                    "Node is not ready.",
                    format!("{name} has been unready for more than 15 minutes."),
                )
            })
            .collect()
    }

    fn crash_looping(cluster: &ClusterSim) -> Vec<Firing> {
        let rule = Rule {
            name: "KubePodCrashLooping",
            expr: "max_over_time(kube_pod_container_status_waiting_reason{reason=\"CrashLoopBackOff\", job=\"kube-state-metrics\"}[5m]) >= 1",
            runbook: format!("{RUNBOOKS}/kubernetes/kubepodcrashlooping"),
        };
        let (pods, _) = cluster.store.list(*ids::PODS, None);
        let mut out = Vec::new();
        for pod in &pods {
            let (ns, name) = (namespace_of(pod), name_of(pod));
            let statuses = pod["status"]["containerStatuses"].as_array();
            for c in statuses.into_iter().flatten() {
                if c["state"]["waiting"]["reason"] != "CrashLoopBackOff" {
                    continue;
                }
                let container = c["name"].as_str().unwrap_or("");
                out.push(rule.fire(
                    "warning",
                    &[("namespace", ns), ("pod", name), ("container", container)],
                    "Pod is crash looping.",
                    format!(
                        "Pod {ns}/{name} ({container}) is in waiting state (reason: \"CrashLoopBackOff\")."
                    ),
                ));
            }
        }
        out
    }

    fn backup_failed(cluster: &ClusterSim) -> Vec<Firing> {
        let rule = Rule {
            name: "VeleroBackupFailed",
            expr: "velero_backup_last_status{schedule!=\"\"} != 1",
            runbook: format!("{WELKIN_OPS}/disaster-recovery/"),
        };
        let (backups, _) = cluster.store.list(*ids::BACKUPS, None);
        // The newest backup of each schedule decides; an older failure already retried
        // successfully is history, not an incident.
        let mut newest: BTreeMap<&str, &Value> = BTreeMap::new();
        for b in &backups {
            let Some(schedule) = b["metadata"]["labels"]["velero.io/schedule-name"].as_str() else {
                continue;
            };
            let key = |o: &Value| {
                (
                    o["metadata"]["creationTimestamp"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                    name_of(o).to_string(),
                )
            };
            let entry = newest.entry(schedule).or_insert(b);
            if key(b) > key(entry) {
                *entry = b;
            }
        }
        newest
            .into_iter()
            .filter_map(|(schedule, b)| {
                let phase = b["status"]["phase"].as_str()?;
                matches!(phase, "Failed" | "PartiallyFailed").then(|| {
                    let backup = name_of(b);
                    rule.fire(
                        "critical",
                        &[("schedule", schedule), ("backup", backup)],
                        "Velero backup failed.",
                        format!("The latest backup {backup} of schedule {schedule} ended in phase {phase}."),
                    )
                })
            })
            .collect()
    }

    fn cert_expiring(cluster: &ClusterSim, now: DateTime<Utc>) -> Vec<Firing> {
        let rule = Rule {
            name: "CertificateExpiringSoon",
            expr: "certmanager_certificate_expiration_timestamp_seconds - time() < 14 * 86400",
            runbook: format!("{WELKIN_OPS}/troubleshooting/"),
        };
        cluster
            .certificates()
            .into_iter()
            .filter_map(|c| {
                let (expiry, left) = (c.expires, c.expires - now);
                (left < CERT_WARNING).then(|| {
                    let (ns, name) = (c.namespace.as_str(), c.name.as_str());
                    let when = if left <= TimeDelta::zero() {
                        format!("expired at {}", ts(expiry))
                    } else {
                        // Days and hours, not whole days rounded down: a certificate due in
                        // 4 days 23 hours is not "4 days" away.
                        format!(
                            "expires in {}d {}h (at {})",
                            left.num_days(),
                            left.num_hours() % 24,
                            ts(expiry)
                        )
                    };
                    rule.fire(
                        "warning",
                        &[("namespace", ns), ("secret", name)],
                        "Certificate is about to expire.",
                        format!("The certificate in Secret {ns}/{name} {when}."),
                    )
                })
            })
            .collect()
    }

    fn endpoint_down(cluster: &ClusterSim, now: DateTime<Utc>) -> Vec<Firing> {
        let rule = Rule {
            name: "EndpointDown",
            expr: "probe_success == 0",
            runbook: format!("{WELKIN_OPS}/troubleshooting/"),
        };
        cluster
            .probes()
            .iter()
            .filter(|p| probe_success_at(p, now) == Some(0.0))
            .map(|p| {
                rule.fire(
                    "critical",
                    &[("target", &p.target)],
                    "Endpoint is down.",
                    format!("The blackbox probe of {} is failing.", p.target),
                )
            })
            .collect()
    }

    /// Falco's priority for the rules the scenarios use; other rules are Warning.
    fn falco_priority(rule: &str) -> &'static str {
        match rule {
            "Terminal shell in container" => "Notice",
            "Write below etc" | "Write below binary dir" => "Error",
            "Launch Privileged Container" => "Info",
            _ => "Warning",
        }
    }

    fn falco(cluster: &ClusterSim) -> Vec<Firing> {
        let rule = Rule {
            name: "FalcoRuntimeEvent",
            expr: "sum by (rule, priority, k8s_ns_name, k8s_pod_name) (rate(falco_events[5m])) > 0",
            runbook: format!("{WELKIN_OPS}/troubleshooting/"),
        };
        let (pods, _) = cluster.store.list(*ids::PODS, None);
        pods.iter()
            .filter_map(|pod| {
                let falco_rule =
                    pod["metadata"]["annotations"]["sim.ck8s.io/falco-rule"].as_str()?;
                let (ns, name) = (namespace_of(pod), name_of(pod));
                let priority = falco_priority(falco_rule);
                let severity = if falco_rule == "Terminal shell in container" {
                    "critical"
                } else {
                    "warning"
                };
                Some(rule.fire(
                    severity,
                    &[
                        ("rule", falco_rule),
                        ("priority", priority),
                        ("namespace", ns),
                        ("pod", name),
                    ],
                    "Falco detected a runtime security event.",
                    format!("{priority}: {falco_rule} (pod={ns}/{name})"),
                ))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use reqwest::Method;

    use super::super::prometheus::testkit::{self, get, send, start};
    use super::*;

    /// The test cluster plus objects that trip every rule.
    fn cluster() -> Arc<ClusterSim> {
        let c = testkit::cluster();
        testkit::node(&c, "cp-1", true, false, "4");
        testkit::node(&c, "w-1", false, false, "8");
        testkit::pod(
            &c,
            "apps",
            "shell-1",
            "Running",
            &["app"],
            None,
            Some("Terminal shell in container"),
        );
        testkit::pod(
            &c,
            "apps",
            "reader-1",
            "Running",
            &["app"],
            None,
            Some("Read sensitive file untrusted"),
        );
        let backup = |name: &str, schedule: &str, phase: &str| {
            c.store
                .create(
                    *ids::BACKUPS,
                    json!({
                        "metadata": {"name": name, "namespace": "velero", "labels": {"velero.io/schedule-name": schedule}},
                        "status": {"phase": phase},
                    }),
                )
                .unwrap();
        };
        backup("daily-20261127000000", "daily", "Completed");
        backup("daily-20261128000000", "daily", "Failed");
        backup("hourly-20261128100000", "hourly", "Failed");
        backup("hourly-20261128110000", "hourly", "Completed");
        let secret = |name: &str, kind: &str, expiry: DateTime<Utc>| {
            c.store
                .create(
                    *ids::SECRETS,
                    json!({
                        "metadata": {"name": name, "namespace": "apps", "annotations": {"cert-manager.io/expiry": ts(expiry)}},
                        "type": kind,
                        "data": {"tls.crt": "c2VjcmV0", "tls.key": "c2VjcmV0"},
                    }),
                )
                .unwrap();
        };
        secret("web-tls", "kubernetes.io/tls", start() + TimeDelta::days(5));
        secret(
            "api-tls",
            "kubernetes.io/tls",
            start() + TimeDelta::days(60),
        );
        secret("opaque", "Opaque", start() + TimeDelta::days(1));
        c
    }

    async fn am() -> (Arc<AlertmanagerSim>, String) {
        let am = AlertmanagerSim::new(cluster());
        am.evaluate_rules();
        let base = testkit::serve(router(am.clone())).await;
        (am, base)
    }

    fn keys(v: &Value) -> Vec<&str> {
        let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        k.sort();
        k
    }

    fn find<'a>(alerts: &'a Value, alertname: &str) -> Vec<&'a Value> {
        alerts
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["labels"]["alertname"] == alertname)
            .collect()
    }

    fn is_api_time(v: &Value) -> bool {
        let re = Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$").unwrap();
        v.as_str().is_some_and(|s| re.is_match(s))
    }

    fn silence_body(matchers: Value, from: DateTime<Utc>, to: DateTime<Utc>) -> Value {
        json!({"matchers": matchers, "startsAt": ts(from), "endsAt": ts(to), "createdBy": "oncall", "comment": "known issue"})
    }

    #[tokio::test]
    async fn rules_fire_from_cluster_state_with_the_documented_fields() {
        let (_, base) = am().await;
        let (code, alerts) = get(&format!("{base}/api/v2/alerts"), &[]).await;
        assert_eq!(code, 200);
        for a in alerts.as_array().unwrap() {
            assert_eq!(
                keys(a),
                [
                    "annotations",
                    "endsAt",
                    "fingerprint",
                    "generatorURL",
                    "labels",
                    "receivers",
                    "startsAt",
                    "status",
                    "updatedAt"
                ]
            );
            assert_eq!(
                keys(&a["status"]),
                ["inhibitedBy", "mutedBy", "silencedBy", "state"]
            );
            assert_eq!(a["status"]["state"], "active");
            assert_eq!(a["receivers"], json!([{"name": "default"}]));
            assert_eq!(a["labels"]["cluster"], "acme-wc");
            assert!(
                ["startsAt", "endsAt", "updatedAt"]
                    .iter()
                    .all(|k| is_api_time(&a[*k])),
                "{a}"
            );
            let labels: Labels = serde_json::from_value(a["labels"].clone()).unwrap();
            assert_eq!(a["fingerprint"], fingerprint(&labels));
            assert_eq!(
                keys(&a["annotations"]),
                ["description", "runbook_url", "summary"]
            );
            assert!(
                a["annotations"]["runbook_url"]
                    .as_str()
                    .unwrap()
                    .starts_with("https://")
            );
        }
        let fps: Vec<&str> = alerts
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["fingerprint"].as_str().unwrap())
            .collect();
        assert!(fps.windows(2).all(|w| w[0] < w[1]), "sorted by fingerprint");

        let nodes = find(&alerts, "KubeNodeNotReady");
        let sev: Vec<(&str, &str)> = nodes
            .iter()
            .map(|a| {
                (
                    a["labels"]["node"].as_str().unwrap(),
                    a["labels"]["severity"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(sev.len(), 2);
        assert!(
            sev.contains(&("cp-1", "critical")) && sev.contains(&("w-1", "warning")),
            "{sev:?}"
        );

        let crash = find(&alerts, "KubePodCrashLooping");
        assert_eq!(crash.len(), 1);
        assert_eq!(
            crash[0]["labels"],
            json!({"alertname": "KubePodCrashLooping", "severity": "warning", "cluster": "acme-wc", "namespace": "apps", "pod": "crash-1", "container": "app"})
        );

        let backups = find(&alerts, "VeleroBackupFailed");
        assert_eq!(
            backups.len(),
            1,
            "only the schedule whose newest backup failed"
        );
        assert_eq!(backups[0]["labels"]["backup"], "daily-20261128000000");
        assert_eq!(backups[0]["labels"]["severity"], "critical");

        let certs = find(&alerts, "CertificateExpiringSoon");
        assert_eq!(certs.len(), 1);
        assert_eq!(certs[0]["labels"]["secret"], "web-tls");
        assert!(
            !certs[0].to_string().contains("c2VjcmV0"),
            "secret data never leaks"
        );

        let down = find(&alerts, "EndpointDown");
        assert_eq!(down.len(), 1);
        assert_eq!(down[0]["labels"]["target"], "grafana");

        let falco = find(&alerts, "FalcoRuntimeEvent");
        let shell = falco
            .iter()
            .find(|a| a["labels"]["pod"] == "shell-1")
            .unwrap();
        assert_eq!(shell["labels"]["severity"], "critical");
        assert_eq!(shell["labels"]["rule"], "Terminal shell in container");
        assert_eq!(shell["labels"]["priority"], "Notice");
        let reader = falco
            .iter()
            .find(|a| a["labels"]["pod"] == "reader-1")
            .unwrap();
        assert_eq!(reader["labels"]["severity"], "warning");

        let watchdog = find(&alerts, "Watchdog");
        assert_eq!(watchdog[0]["labels"]["severity"], "none");
    }

    #[tokio::test]
    async fn rule_alerts_keep_their_start_and_resolve_when_the_condition_ends() {
        let (am, base) = am().await;
        let url = format!("{base}/api/v2/alerts");
        let filter = [
            ("filter", "alertname=\"KubeNodeNotReady\""),
            ("filter", "node=\"w-1\""),
        ];
        let (_, first) = get(&url, &filter).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        am.evaluate_rules();
        let (_, second) = get(&url, &filter).await;
        assert_eq!(first[0]["startsAt"], second[0]["startsAt"]);
        assert!(
            second[0]["endsAt"].as_str() > first[0]["endsAt"].as_str(),
            "endsAt is refreshed"
        );
        let ends = parse_time_ms(&second[0]["endsAt"]) - parse_time_ms(&second[0]["updatedAt"]);
        assert_eq!(ends, 4 * 60 * 1000);

        am.cluster
            .store
            .replace(*ids::NODES, "", "w-1", |n| {
                let mut n = n.clone();
                n["status"]["conditions"] = json!([{"type": "Ready", "status": "True"}]);
                Ok(n)
            })
            .unwrap();
        am.evaluate_rules();
        let (_, after) = get(&url, &filter).await;
        assert_eq!(after, json!([]));
    }

    fn parse_time_ms(v: &Value) -> i64 {
        super::super::clock::parse_time(v.as_str().unwrap())
            .unwrap()
            .timestamp_millis()
    }

    #[tokio::test]
    async fn a_silence_mutes_matching_alerts_until_it_is_expired() {
        let (_, base) = am().await;
        let body = silence_body(
            json!([{"name": "alertname", "value": "KubePodCrashLooping", "isRegex": false, "isEqual": true}]),
            start() - TimeDelta::minutes(1),
            start() + TimeDelta::hours(2),
        );
        let (code, created) =
            send(Method::POST, &format!("{base}/api/v2/silences"), Some(body)).await;
        assert_eq!(code, 200, "{created}");
        assert_eq!(keys(&created), ["silenceID"]);
        let id = created["silenceID"].as_str().unwrap().to_string();
        assert!(check_uuid(&id).is_ok(), "{id}");

        let alerts_url = format!("{base}/api/v2/alerts");
        let (_, alerts) = get(&alerts_url, &[]).await;
        let crash = find(&alerts, "KubePodCrashLooping")[0];
        assert_eq!(
            crash["status"],
            json!({"state": "suppressed", "silencedBy": [id], "inhibitedBy": [], "mutedBy": []})
        );
        assert_eq!(find(&alerts, "Watchdog")[0]["status"]["state"], "active");
        let (_, visible) = get(&alerts_url, &[("silenced", "false")]).await;
        assert!(find(&visible, "KubePodCrashLooping").is_empty());
        let (_, only_muted) = get(&alerts_url, &[("active", "false")]).await;
        assert_eq!(only_muted.as_array().unwrap().len(), 1);

        let (_, sils) = get(&format!("{base}/api/v2/silences"), &[]).await;
        let s = &sils[0];
        assert_eq!(
            keys(s),
            [
                "comment",
                "createdBy",
                "endsAt",
                "id",
                "matchers",
                "startsAt",
                "status",
                "updatedAt"
            ]
        );
        assert_eq!(s["status"], json!({"state": "active"}));
        assert_eq!(
            s["matchers"],
            json!([{"name": "alertname", "value": "KubePodCrashLooping", "isRegex": false, "isEqual": true}])
        );
        assert!(
            is_api_time(&s["startsAt"])
                && is_api_time(&s["endsAt"])
                && is_api_time(&s["updatedAt"])
        );
        let (code, one) = get(&format!("{base}/api/v2/silence/{id}"), &[]).await;
        assert_eq!((code, &one["id"]), (200, &json!(id)));

        let del = format!("{base}/api/v2/silence/{id}");
        let (code, _) = send(Method::DELETE, &del, None).await;
        assert_eq!(code, 200);
        let (_, alerts) = get(&alerts_url, &[]).await;
        assert_eq!(
            find(&alerts, "KubePodCrashLooping")[0]["status"]["state"],
            "active"
        );
        let (_, one) = get(&del, &[]).await;
        assert_eq!(one["status"]["state"], "expired");
        let (code, msg) = send(Method::DELETE, &del, None).await;
        assert_eq!(code, 500);
        assert_eq!(msg, json!(format!("silence {id} already expired")));
        let unknown = format!("{base}/api/v2/silence/{}", new_uuid());
        assert_eq!(send(Method::DELETE, &unknown, None).await.0, 404);
        assert_eq!(get(&unknown, &[]).await.0, 404);
        assert_eq!(
            send(Method::DELETE, &format!("{base}/api/v2/silence/nope"), None)
                .await
                .0,
            422
        );
    }

    #[tokio::test]
    async fn pending_silences_do_not_mute_and_updates_follow_the_real_rules() {
        let (_, base) = am().await;
        let url = format!("{base}/api/v2/silences");
        let matchers = json!([{"name": "severity", "value": "crit.*", "isRegex": true}]);
        let later = silence_body(
            matchers.clone(),
            start() + TimeDelta::hours(1),
            start() + TimeDelta::hours(2),
        );
        let (_, created) = send(Method::POST, &url, Some(later.clone())).await;
        let id = created["silenceID"].as_str().unwrap().to_string();
        let (_, sils) = get(&url, &[]).await;
        assert_eq!(sils[0]["status"]["state"], "pending");
        let (_, alerts) = get(&format!("{base}/api/v2/alerts"), &[("silenced", "false")]).await;
        assert!(
            !find(&alerts, "EndpointDown").is_empty(),
            "a pending silence mutes nothing"
        );

        // Same matchers, new end: updated in place.
        let mut update = later.clone();
        update["id"] = json!(id);
        update["endsAt"] = json!(ts(start() + TimeDelta::hours(3)));
        let (code, same) = send(Method::POST, &url, Some(update)).await;
        assert_eq!((code, same["silenceID"].as_str()), (200, Some(id.as_str())));

        // Different matchers: the old one is expired and a new id answers.
        let mut replace = later;
        replace["id"] = json!(id);
        replace["matchers"] = json!([{"name": "severity", "value": "critical", "isRegex": false}]);
        let (_, other) = send(Method::POST, &url, Some(replace)).await;
        assert_ne!(other["silenceID"].as_str(), Some(id.as_str()));
        let (_, old) = get(&format!("{base}/api/v2/silence/{id}"), &[]).await;
        assert_eq!(old["status"]["state"], "expired");

        let mut unknown = silence_body(matchers, start(), start() + TimeDelta::hours(1));
        unknown["id"] = json!(new_uuid());
        assert_eq!(send(Method::POST, &url, Some(unknown)).await.0, 404);

        let (_, filtered) = get(&url, &[("filter", "severity=\"critical\"")]).await;
        assert_eq!(filtered.as_array().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn invalid_silences_are_rejected_with_a_message() {
        let (_, base) = am().await;
        let url = format!("{base}/api/v2/silences");
        let m = json!([{"name": "alertname", "value": "X", "isRegex": false}]);
        let (from, to) = (start(), start() + TimeDelta::hours(1));
        let mut no_author = silence_body(m.clone(), from, to);
        no_author["createdBy"] = json!("");
        let mut no_comment = silence_body(m.clone(), from, to);
        no_comment.as_object_mut().unwrap().remove("comment");
        let cases = [
            (
                silence_body(json!([]), from, to),
                "at least one matcher required",
            ),
            (
                silence_body(m.clone(), to, from),
                "start time must be before end time",
            ),
            (
                silence_body(
                    m.clone(),
                    from - TimeDelta::hours(3),
                    from - TimeDelta::hours(2),
                ),
                "end time can't be in the past",
            ),
            (
                silence_body(
                    json!([{"name": "a", "value": ".*", "isRegex": true}]),
                    from,
                    to,
                ),
                "must not match the empty string",
            ),
            (
                silence_body(
                    json!([{"name": "a", "value": "(", "isRegex": true}]),
                    from,
                    to,
                ),
                "invalid label matcher 0",
            ),
            (
                silence_body(json!([{"name": "a", "value": "x"}]), from, to),
                "matchers.0.isRegex in body is required",
            ),
            (no_author, "createdBy in body is required"),
            (no_comment, "comment in body is required"),
        ];
        for (body, needle) in cases {
            let (code, msg) = send(Method::POST, &url, Some(body)).await;
            assert_eq!(code, 400, "{needle}: {msg}");
            assert!(
                msg.as_str().is_some_and(|m| m.contains(needle)),
                "{needle}: {msg}"
            );
        }
        let (_, sils) = get(&url, &[]).await;
        assert_eq!(sils, json!([]));
    }

    #[tokio::test]
    async fn filters_receivers_and_groups() {
        let (_, base) = am().await;
        let url = format!("{base}/api/v2/alerts");
        let (_, crit) = get(&url, &[("filter", "severity=~\"crit.*\"")]).await;
        assert!(
            crit.as_array()
                .unwrap()
                .iter()
                .all(|a| a["labels"]["severity"] == "critical")
        );
        assert_eq!(crit.as_array().unwrap().len(), 4, "{crit}");
        let (_, not_watchdog) = get(
            &url,
            &[
                ("filter", "alertname!=Watchdog"),
                ("filter", "severity!~\"warn.*\""),
            ],
        )
        .await;
        assert!(find(&not_watchdog, "Watchdog").is_empty());
        assert!(
            not_watchdog
                .as_array()
                .unwrap()
                .iter()
                .all(|a| a["labels"]["severity"] == "critical")
        );
        let (code, msg) = get(&url, &[("filter", "=broken")]).await;
        assert_eq!(code, 400);
        assert!(msg.as_str().unwrap().starts_with("bad matcher format"));
        assert_eq!(get(&url, &[("active", "maybe")]).await.0, 400);
        assert_eq!(get(&url, &[("receiver", "other")]).await.1, json!([]));
        assert!(
            !get(&url, &[("receiver", "def.*")])
                .await
                .1
                .as_array()
                .unwrap()
                .is_empty()
        );

        let (code, groups) = get(&format!("{base}/api/v2/alerts/groups"), &[]).await;
        assert_eq!(code, 200);
        for g in groups.as_array().unwrap() {
            assert_eq!(keys(g), ["alerts", "labels", "receiver"]);
            assert_eq!(keys(&g["labels"]), ["alertname", "cluster"]);
            assert_eq!(g["receiver"], json!({"name": "default"}));
            let name = &g["labels"]["alertname"];
            assert!(
                g["alerts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|a| &a["labels"]["alertname"] == name)
            );
        }
        let nodes = groups
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["labels"]["alertname"] == "KubeNodeNotReady")
            .unwrap();
        assert_eq!(nodes["alerts"].as_array().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn posted_alerts_follow_resolve_timeout_and_validation() {
        let (_, base) = am().await;
        let url = format!("{base}/api/v2/alerts");
        let r = testkit::client()
            .post(&url)
            .json(&json!([{"labels": {"alertname": "ProbeFailed", "severity": "critical", "empty": ""}, "annotations": {"summary": "x"}, "generatorURL": "http://g"}]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.text().await.unwrap(), "");
        let (_, alerts) = get(&url, &[("filter", "alertname=ProbeFailed")]).await;
        let a = &alerts[0];
        assert_eq!(
            a["labels"],
            json!({"alertname": "ProbeFailed", "severity": "critical"}),
            "empty labels dropped"
        );
        assert_eq!(a["generatorURL"], "http://g");
        assert_eq!(
            parse_time_ms(&a["endsAt"]) - parse_time_ms(&a["updatedAt"]),
            5 * 60 * 1000
        );

        let resolved = json!([{"labels": {"alertname": "Old"}, "startsAt": ts(start() - TimeDelta::hours(2)), "endsAt": ts(start() - TimeDelta::hours(1))}]);
        assert_eq!(send(Method::POST, &url, Some(resolved)).await.0, 200);
        assert_eq!(get(&url, &[("filter", "alertname=Old")]).await.1, json!([]));

        let (code, msg) = send(Method::POST, &url, Some(json!([{"labels": {}}]))).await;
        assert_eq!(code, 400);
        assert_eq!(msg, json!("at least one label pair required"));
        let (code, _) = send(Method::POST, &url, Some(json!({"not": "a list"}))).await;
        assert_eq!(code, 400);
    }

    #[tokio::test]
    async fn status_and_receivers_have_the_real_shape() {
        let (_, base) = am().await;
        let (code, s) = get(&format!("{base}/api/v2/status"), &[]).await;
        assert_eq!(code, 200);
        assert_eq!(keys(&s), ["cluster", "config", "uptime", "versionInfo"]);
        assert_eq!(keys(&s["cluster"]), ["name", "peers", "status"]);
        assert_eq!(s["cluster"]["status"], "ready");
        assert_eq!(s["cluster"]["peers"], json!([]));
        assert_eq!(s["cluster"]["name"].as_str().unwrap().len(), 26);
        assert_eq!(
            keys(&s["versionInfo"]),
            [
                "branch",
                "buildDate",
                "buildUser",
                "goVersion",
                "revision",
                "version"
            ]
        );
        assert_eq!(s["versionInfo"]["version"], VERSION);
        assert!(
            s["config"]["original"]
                .as_str()
                .unwrap()
                .contains("resolve_timeout: 5m")
        );
        assert!(is_api_time(&s["uptime"]));
        let (_, r) = get(&format!("{base}/api/v2/receivers"), &[]).await;
        assert_eq!(r, json!([{"name": "default"}]));
        assert_eq!(get(&format!("{base}/-/ready"), &[]).await.0, 200);
        assert_eq!(get(&format!("{base}/-/healthy"), &[]).await.0, 200);
    }

    #[test]
    fn fingerprint_is_fnv1a_over_sorted_labels() {
        assert_eq!(
            fnv1a64(&[b"a"]),
            0xaf63_dc4c_8601_ec8c,
            "FNV-1a 64 test vector"
        );
        assert_eq!(fingerprint(&Labels::new()), "cbf29ce484222325");
        let l = |pairs: &[(&str, &str)]| -> Labels {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let a = fingerprint(&l(&[("alertname", "X"), ("cluster", "c")]));
        assert_eq!(a.len(), 16);
        assert_ne!(a, fingerprint(&l(&[("alertname", "Xc"), ("cluster", "")])));
    }

    #[test]
    fn matchers_parse_like_amtool() {
        let m = parse_matcher("severity=~\"crit.*\"").unwrap();
        assert_eq!(
            (m.name.as_str(), m.op, m.value.as_str()),
            ("severity", MatchOp::Regex, "crit.*")
        );
        let m = parse_matcher(" alertname != Watchdog ").unwrap();
        assert_eq!((m.op, m.value.as_str()), (MatchOp::NotEqual, "Watchdog"));
        let m = parse_matcher("msg=\"a \\\"quoted\\\" value\"").unwrap();
        assert_eq!(m.value, "a \"quoted\" value");
        assert_eq!(parse_matcher("x=~\"a\\.b\"").unwrap().value, "a\\.b");
        assert!(parse_matcher("novalue").is_err());
        assert!(parse_matcher("x=~\"(\"").is_err());
    }
}
