//! Client for the Alertmanager API v2 (prometheus/alertmanager `api/v2/openapi.yaml`), and the
//! fleet view that merges the alerts of many Alertmanagers.
//!
//! The types follow the OpenAPI definitions field by field, camelCase on the wire. Unknown
//! fields are ignored and collections tolerate `null` (Go marshals a nil slice or map as
//! `null`), so a newer Alertmanager still decodes. Errors name the request's method and URL,
//! the HTTP status and the server's own message, and never carry the bearer token.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header;
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::secrets::{Credential, Secret};

/// How much of an error response body goes into an error message.
const ERROR_BODY_LIMIT: usize = 300;

use ck8s_model::alert::*;

// Wire types only the client reads.

/// The response to `POST /silences`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SilenceCreated {
    #[serde(rename = "silenceID")]
    silence_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawStatus {
    cluster: ClusterStatus,
    version_info: VersionInfo,
    #[serde(default)]
    uptime: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct VersionInfo {
    version: String,
}

impl From<InvalidSilence> for AmError {
    fn from(e: InvalidSilence) -> Self {
        AmError::InvalidSilence(e.0)
    }
}

// ---------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------

/// Which alerts `GET /alerts` returns. The default, like the API's, is every alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertFilter {
    pub active: bool,
    pub silenced: bool,
    pub inhibited: bool,
    pub unprocessed: bool,
    /// All must match (the repeatable `filter` parameter).
    pub matchers: Vec<Matcher>,
    /// A regex over receiver names.
    pub receiver: Option<String>,
}

impl Default for AlertFilter {
    fn default() -> Self {
        AlertFilter {
            active: true,
            silenced: true,
            inhibited: true,
            unprocessed: true,
            matchers: Vec::new(),
            receiver: None,
        }
    }
}

impl AlertFilter {
    /// Only alerts that notify: neither silenced, inhibited nor still unprocessed.
    pub fn active_only() -> Self {
        AlertFilter {
            silenced: false,
            inhibited: false,
            unprocessed: false,
            ..AlertFilter::default()
        }
    }

    pub fn with_matcher(mut self, matcher: Matcher) -> Self {
        self.matchers.push(matcher);
        self
    }

    fn apply(&self, url: &mut Url) {
        let mut query = url.query_pairs_mut();
        for (key, value) in [
            ("active", self.active),
            ("silenced", self.silenced),
            ("inhibited", self.inhibited),
            ("unprocessed", self.unprocessed),
        ] {
            query.append_pair(key, if value { "true" } else { "false" });
        }
        for matcher in &self.matchers {
            query.append_pair("filter", &matcher.to_string());
        }
        if let Some(receiver) = &self.receiver {
            query.append_pair("receiver", receiver);
        }
    }
}

/// Why a call to Alertmanager failed.
#[derive(Debug, thiserror::Error)]
pub enum AmError {
    #[error("invalid Alertmanager URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("cannot create the HTTP client for {url}: {reason}")]
    Client { url: String, reason: String },
    /// No HTTP response: connection refused, DNS, TLS, timeout.
    #[error("{method} {url}: {reason}")]
    Request {
        method: Method,
        url: String,
        reason: String,
    },
    /// 401 or 403: an authenticating proxy refused the credential, or wanted one.
    #[error("{method} {url}: HTTP {status}: {hint}")]
    Unauthorized {
        method: Method,
        url: String,
        status: StatusCode,
        hint: String,
    },
    #[error("{method} {url}: HTTP {status}: {body}")]
    Http {
        method: Method,
        url: String,
        status: StatusCode,
        /// The server's message, shortened.
        body: String,
    },
    #[error("{method} {url}: unexpected response: {reason}")]
    Decode {
        method: Method,
        url: String,
        reason: String,
    },
    /// Refused locally, before any request.
    #[error("invalid silence: {0}")]
    InvalidSilence(String),
}

/// An Alertmanager API v2 client for one Alertmanager.
pub struct AlertmanagerClient {
    http: reqwest::Client,
    requests: super::Requests,
    /// Everything up to, but without, `/api/v2`; may carry a path prefix of a proxy.
    base: Url,
    timeout: Duration,
    /// Sent with every request, and scrubbed from error bodies that a proxy might echo.
    auth: Option<Secret>,
    /// The name `auth` is stored under, for messages.
    credential: Option<String>,
}

/// Written by hand so that the token cannot end up in a log through `{:?}`.
impl fmt::Debug for AlertmanagerClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlertmanagerClient")
            .field("base", &redacted(&self.base))
            .field("timeout", &self.timeout)
            .field("auth", &self.auth)
            .field("credential", &self.credential)
            .finish()
    }
}

impl AlertmanagerClient {
    /// `base_url` is where the Alertmanager UI answers, e.g. `https://alertmanager.ops.example`
    /// or `http://127.0.0.1:9093/am` behind a path prefix. `timeout` bounds each request.
    pub fn new(base_url: &str, bearer: Option<String>, timeout: Duration) -> Result<Self, AmError> {
        let base = parse_base(base_url)?;
        let http = build_http().map_err(|reason| AmError::Client {
            url: redacted(&base),
            reason,
        })?;
        Ok(AlertmanagerClient {
            http,
            requests: super::Requests::default(),
            base,
            timeout,
            auth: bearer_secret(bearer),
            credential: None,
        })
    }

    /// As [`AlertmanagerClient::new`], sharing `http` (its connection pools and TLS
    /// set-up) with other clients, as a fleet of hundreds of clusters should.
    pub fn with_http(
        base_url: &str,
        bearer: Option<String>,
        timeout: Duration,
        http: reqwest::Client,
    ) -> Result<Self, AmError> {
        Ok(AlertmanagerClient {
            http,
            requests: super::Requests::default(),
            base: parse_base(base_url)?,
            timeout,
            auth: bearer_secret(bearer),
            credential: None,
        })
    }

    /// Sends `credential` (a bearer token or basic auth) with every request, and names it
    /// when Alertmanager refuses it. `None` keeps the client as it is.
    pub fn with_credential(mut self, credential: Option<Credential>) -> Self {
        if let Some(c) = credential {
            self.auth = Some(c.secret);
            self.credential = Some(c.name);
        }
        self
    }

    /// Takes a turn of `requests` for every request.
    pub fn with_requests(mut self, requests: super::Requests) -> Self {
        self.requests = requests;
        self
    }

    /// The base URL without credentials, for display.
    pub fn base_url(&self) -> String {
        redacted(&self.base)
    }

    /// `GET /api/v2/alerts`.
    pub async fn alerts(&self, filter: &AlertFilter) -> Result<Vec<Alert>, AmError> {
        let mut url = self.endpoint(&["alerts"]);
        filter.apply(&mut url);
        self.get(url).await
    }

    /// `GET /api/v2/alerts/groups`.
    pub async fn groups(&self) -> Result<Vec<AlertGroup>, AmError> {
        self.get(self.endpoint(&["alerts", "groups"])).await
    }

    /// `GET /api/v2/silences`, including expired ones that Alertmanager still retains.
    pub async fn silences(&self) -> Result<Vec<Silence>, AmError> {
        self.get(self.endpoint(&["silences"])).await
    }

    /// `POST /api/v2/silences` after [`PostableSilence::validate`]; returns the silence's id.
    pub async fn create_silence(&self, silence: &PostableSilence) -> Result<String, AmError> {
        silence.validate()?;
        let url = self.endpoint(&["silences"]);
        let _turn = self.requests.turn().await;
        let request = self.http.post(url.clone()).json(silence);
        let response = self.send(Method::POST, &url, request).await?;
        let created: SilenceCreated = self.decode(Method::POST, &url, response).await?;
        Ok(created.silence_id)
    }

    /// `DELETE /api/v2/silence/{id}`: ends the silence now. It stays listed as expired.
    pub async fn expire_silence(&self, id: &str) -> Result<(), AmError> {
        if id.trim().is_empty() {
            return Err(AmError::InvalidSilence("the silence id is empty".into()));
        }
        let url = self.endpoint(&["silence", id]);
        let _turn = self.requests.turn().await;
        let request = self.http.delete(url.clone());
        self.send(Method::DELETE, &url, request).await.map(drop)
    }

    /// `POST /api/v2/alerts`: push alerts the way Prometheus does. Tests use it to feed a real
    /// Alertmanager.
    pub async fn post_alerts(&self, alerts: &[PostableAlert]) -> Result<(), AmError> {
        let url = self.endpoint(&["alerts"]);
        let _turn = self.requests.turn().await;
        let request = self.http.post(url.clone()).json(alerts);
        self.send(Method::POST, &url, request).await.map(drop)
    }

    /// `GET /api/v2/status`: the version and the state of the gossip cluster.
    pub async fn status(&self) -> Result<AmStatus, AmError> {
        let raw: RawStatus = self.get(self.endpoint(&["status"])).await?;
        Ok(AmStatus {
            version: raw.version_info.version,
            cluster: raw.cluster,
            started_at: raw.uptime,
        })
    }

    fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        // `parse_base` refused URLs that cannot be a base, so this cannot fail.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(["api", "v2"]).extend(segments);
        }
        url
    }

    async fn get<T: DeserializeOwned>(&self, url: Url) -> Result<T, AmError> {
        // Held until the body is read: the connection is busy until then.
        let _turn = self.requests.turn().await;
        let request = self.http.get(url.clone());
        let response = self.send(Method::GET, &url, request).await?;
        self.decode(Method::GET, &url, response).await
    }

    /// Sends the request; any status but 2xx becomes [`AmError::Http`] with the body's message.
    async fn send(
        &self,
        method: Method,
        url: &Url,
        request: RequestBuilder,
    ) -> Result<Response, AmError> {
        let mut request = request
            .header(header::ACCEPT, "application/json")
            .timeout(self.timeout);
        if let Some(auth) = &self.auth {
            // reqwest marks the header sensitive, so it never shows in debug output.
            request = auth.apply(request);
        }
        let response = request.send().await.map_err(|err| AmError::Request {
            method: method.clone(),
            url: redacted(url),
            reason: self.transport_reason(err),
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        if matches!(status.as_u16(), 401 | 403) {
            return Err(AmError::Unauthorized {
                method,
                url: redacted(url),
                status,
                hint: super::unauthorized_hint("alertmanager", self.credential.as_deref()),
            });
        }
        let text = response.text().await.unwrap_or_default();
        Err(AmError::Http {
            method,
            url: redacted(url),
            status,
            body: error_body(&text, self.auth.as_ref()),
        })
    }

    async fn decode<T: DeserializeOwned>(
        &self,
        method: Method,
        url: &Url,
        response: Response,
    ) -> Result<T, AmError> {
        let fail = |reason: String| AmError::Decode {
            method: method.clone(),
            url: redacted(url),
            reason,
        };
        let body = response
            .bytes()
            .await
            .map_err(|err| fail(self.transport_reason(err)))?;
        serde_json::from_slice(&body).map_err(|err| fail(err.to_string()))
    }

    /// reqwest's own message is a generic "error sending request"; the cause is further down
    /// the source chain. The URL is left out here because the error names it already.
    fn transport_reason(&self, err: reqwest::Error) -> String {
        if err.is_timeout() {
            return format!("no response within {:?}", self.timeout);
        }
        let err = err.without_url();
        let mut reason = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            let text = cause.to_string();
            if !reason.contains(&text) {
                reason = format!("{reason}: {text}");
            }
            source = cause.source();
        }
        reason
    }
}

fn parse_base(base_url: &str) -> Result<Url, AmError> {
    let invalid = |reason: String| AmError::InvalidUrl {
        url: base_url.to_owned(),
        reason,
    };
    let url = Url::parse(base_url.trim()).map_err(|err| invalid(err.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "scheme {:?} is not http or https",
            url.scheme()
        )));
    }
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err(invalid("no host".into()));
    }
    Ok(url)
}

/// A bearer token as the constructors take it; blanks around it are dropped.
fn bearer_secret(bearer: Option<String>) -> Option<Secret> {
    bearer
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .map(Secret::Bearer)
}

fn build_http() -> Result<reqwest::Client, String> {
    super::http_client().map_err(|err| err.to_string())
}

/// The URL for messages: without user name or password.
fn redacted(url: &Url) -> String {
    let mut shown = url.clone();
    // Both fail only for URLs that cannot have credentials in the first place.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

/// The useful part of an error response: Alertmanager answers with a JSON string or a
/// go-swagger `{"code", "message"}` object; anything else is shown as text. Shortened, and
/// scrubbed of the token in case a proxy echoed the request.
fn error_body(text: &str, auth: Option<&Secret>) -> String {
    let message = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::String(message)) => message,
        Ok(serde_json::Value::Object(object)) => match object.get("message") {
            Some(serde_json::Value::String(message)) => message.clone(),
            _ => text.to_owned(),
        },
        _ => text.to_owned(),
    };
    let mut message = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some(auth) = auth {
        message = auth.scrub(&message);
    }
    if message.is_empty() {
        return "(empty body)".into();
    }
    truncate(&message, ERROR_BODY_LIMIT)
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClusterRole;
    use chrono::TimeDelta;
    use serde_json::json;

    /// A response of Debian's Alertmanager 0.25, plus fields of newer versions and a `null`
    /// where Go marshalled a nil slice.
    fn alert_json(fingerprint: &str, severity: &str, starts_at: &str) -> serde_json::Value {
        json!({
            "annotations": {"summary": "Probe failed", "runbook_url": "https://runbooks.example/x"},
            "endsAt": "2026-11-28T04:56:04.234Z",
            "fingerprint": fingerprint,
            "receivers": [{"name": "null"}],
            "startsAt": starts_at,
            "status": {"inhibitedBy": null, "silencedBy": [], "state": "active", "mutedBy": []},
            "updatedAt": "2026-11-28T04:51:04.234Z",
            "labels": {"alertname": "ProbeFailed", "cluster": "east", "severity": severity},
            "someFutureField": {"x": 1}
        })
    }

    fn alert(fingerprint: &str, severity: &str, starts_at: &str) -> Alert {
        serde_json::from_value(alert_json(fingerprint, severity, starts_at)).unwrap()
    }

    #[test]
    fn decodes_a_real_alert_and_tolerates_new_and_null_fields() {
        let a = alert("90c6a1cea3fce8b4", "critical", "2026-11-28T04:51:04.234Z");
        assert_eq!(a.alertname(), "ProbeFailed");
        assert_eq!(a.severity(), Severity::Critical);
        assert_eq!(a.summary(), Some("Probe failed"));
        assert_eq!(a.runbook_url(), Some("https://runbooks.example/x"));
        assert_eq!(a.status.state, AlertState::Active);
        assert!(a.status.inhibited_by.is_empty());
        assert_eq!(a.generator_url, "");
        assert_eq!(
            a.receivers,
            vec![Receiver {
                name: "null".into()
            }]
        );
        // A round trip keeps the wire names.
        let back = serde_json::to_value(&a).unwrap();
        assert!(back.get("generatorURL").is_none());
        assert_eq!(back["startsAt"], "2026-11-28T04:51:04.234Z");
    }

    #[test]
    fn summary_falls_back_to_description() {
        let mut a = alert("1", "warning", "2026-11-28T04:51:04Z");
        a.annotations.remove("summary");
        assert_eq!(a.summary(), None);
        a.annotations
            .insert("description".into(), "Disk almost full".into());
        assert_eq!(a.summary(), Some("Disk almost full"));
    }

    #[test]
    fn decodes_a_silence_without_is_equal() {
        let s: Silence = serde_json::from_value(json!({
            "id": "52df43cf-dda9-4311-8c1d-697070e90c27",
            "status": {"state": "active"},
            "updatedAt": "2026-11-28T04:51:05.759Z",
            "comment": "c", "createdBy": "a",
            "endsAt": "2030-01-01T00:00:00.000Z",
            "matchers": [{"isRegex": false, "name": "alertname", "value": "ProbeFailed"}],
            "startsAt": "2026-11-28T04:51:05.759Z"
        }))
        .unwrap();
        assert_eq!(s.status.state, SilenceState::Active);
        assert_eq!(s.matchers, vec![Matcher::equal("alertname", "ProbeFailed")]);
    }

    #[test]
    fn severity_parses_case_insensitively_and_ranks() {
        assert_eq!(Severity::from_label(Some("Critical")), Severity::Critical);
        assert_eq!(Severity::from_label(Some("page")), Severity::None);
        assert_eq!(Severity::from_label(None), Severity::None);
        assert!(Severity::High.urgency_rank() < Severity::Warning.urgency_rank());
        assert_eq!(Severity::Info.urgency_rank(), Severity::None.urgency_rank());
    }

    #[test]
    fn merge_deduplicates_by_fingerprint_and_keeps_every_source() {
        let shared = alert("aaaaaaaaaaaaaaaa", "warning", "2026-11-28T01:00:00Z");
        let mut silenced_copy = shared.clone();
        silenced_copy.status.state = AlertState::Suppressed;
        silenced_copy.status.silenced_by = vec!["s1".into()];
        let critical = alert("bbbbbbbbbbbbbbbb", "critical", "2026-11-28T03:00:00Z");
        let older_warning = alert("cccccccccccccccc", "warning", "2026-11-28T00:00:00Z");

        let merged = merge_alerts(vec![
            ("acme".into(), ClusterRole::Wc, vec![silenced_copy]),
            (
                "acme".into(),
                ClusterRole::Sc,
                vec![shared.clone(), critical.clone()],
            ),
            ("beta".into(), ClusterRole::Sc, vec![older_warning.clone()]),
        ]);

        let fingerprints: Vec<&str> = merged
            .iter()
            .map(|m| m.alert.fingerprint.as_str())
            .collect();
        assert_eq!(
            fingerprints,
            ["bbbbbbbbbbbbbbbb", "cccccccccccccccc", "aaaaaaaaaaaaaaaa"]
        );
        let deduplicated = &merged[2];
        assert_eq!(
            deduplicated.sources,
            vec![
                ("acme".to_owned(), ClusterRole::Sc),
                ("acme".to_owned(), ClusterRole::Wc)
            ]
        );
        // Silenced in the wc's Alertmanager, still notifying through the sc's.
        assert_eq!(deduplicated.alert.status.state, AlertState::Active);
        assert_eq!(
            merged[0].sources,
            vec![("acme".to_owned(), ClusterRole::Sc)]
        );
    }

    #[test]
    fn merge_breaks_ties_by_alertname() {
        let mut b = alert("1111111111111111", "high", "2026-11-28T01:00:00Z");
        b.labels.insert("alertname".into(), "B".into());
        let mut a = alert("2222222222222222", "high", "2026-11-28T01:00:00Z");
        a.labels.insert("alertname".into(), "A".into());
        let merged = merge_alerts(vec![("e".into(), ClusterRole::Sc, vec![b, a])]);
        assert_eq!(merged[0].alert.alertname(), "A");
    }

    #[test]
    fn silence_for_alert_matches_every_label_alertname_first() {
        let a = alert("1", "critical", "2026-11-28T01:00:00Z");
        let s = PostableSilence::for_alert(&a, TimeDelta::hours(2), "alice", "deploying fix");
        let names: Vec<&str> = s.matchers.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["alertname", "cluster", "severity"]);
        assert!(s.matchers.iter().all(|m| m.is_equal && !m.is_regex));
        assert_eq!(s.ends_at - s.starts_at, TimeDelta::hours(2));
        assert!(s.validate().is_ok());
        let wire = serde_json::to_value(&s).unwrap();
        assert_eq!(wire["createdBy"], "alice");
        assert_eq!(wire["matchers"][0]["isEqual"], true);
        assert!(wire.get("id").is_none());
    }

    #[test]
    fn silence_validation_names_the_problem() {
        let a = alert("1", "critical", "2026-11-28T01:00:00Z");
        let good = PostableSilence::for_alert(&a, TimeDelta::hours(1), "alice", "why");
        type Breakage = fn(&mut PostableSilence);
        let cases: [(&str, Breakage); 5] = [
            ("matcher", |s| s.matchers.clear()),
            ("author", |s| s.created_by = " ".into()),
            ("comment", |s| s.comment.clear()),
            ("after the start", |s| s.ends_at = s.starts_at),
            ("label name", |s| s.matchers[0].name.clear()),
        ];
        for (expected, break_it) in cases {
            let mut s = good.clone();
            break_it(&mut s);
            let err = s.validate().unwrap_err().to_string();
            assert!(err.contains(expected), "{expected:?} not in {err:?}");
        }
        let mut past = good.clone();
        past.starts_at -= TimeDelta::hours(3);
        past.ends_at -= TimeDelta::hours(2);
        assert!(past.validate().unwrap_err().to_string().contains("past"));
    }

    #[test]
    fn matcher_filter_syntax_escapes_values() {
        assert_eq!(
            Matcher::equal("alertname", "X").to_string(),
            r#"alertname="X""#
        );
        let tricky = Matcher {
            is_equal: false,
            ..Matcher::regex("msg", "a\"b\\c\nd")
        };
        assert_eq!(tricky.to_string(), r#"msg!~"a\"b\\c\nd""#);
    }

    #[test]
    fn alert_filter_sets_every_flag_and_repeats_filter() {
        let mut url = Url::parse("http://am/api/v2/alerts").unwrap();
        AlertFilter::active_only()
            .with_matcher(Matcher::equal("cluster", "east"))
            .with_matcher(Matcher::equal("severity", "critical"))
            .apply(&mut url);
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let get = |k: &str| -> Vec<&str> {
            pairs
                .iter()
                .filter(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        assert_eq!(get("active"), ["true"]);
        assert_eq!(get("silenced"), ["false"]);
        assert_eq!(get("unprocessed"), ["false"]);
        assert_eq!(
            get("filter"),
            [r#"cluster="east""#, r#"severity="critical""#]
        );
    }

    #[test]
    fn endpoints_keep_a_path_prefix() {
        let timeout = Duration::from_secs(1);
        for (base, expected) in [
            (
                "http://127.0.0.1:9093",
                "http://127.0.0.1:9093/api/v2/silences",
            ),
            (
                "http://[::1]:9093/am/",
                "http://[::1]:9093/am/api/v2/silences",
            ),
            (
                "https://am.example/am",
                "https://am.example/am/api/v2/silences",
            ),
        ] {
            let client = AlertmanagerClient::new(base, None, timeout).unwrap();
            assert_eq!(client.endpoint(&["silences"]).as_str(), expected);
        }
        let client = AlertmanagerClient::new("http://am", None, timeout).unwrap();
        assert_eq!(
            client.endpoint(&["silence", "a/b"]).as_str(),
            "http://am/api/v2/silence/a%2Fb"
        );
    }

    #[test]
    fn bad_base_urls_are_refused() {
        for bad in ["am.example", "ftp://am.example", "http://", "mailto:x@y"] {
            let err = AlertmanagerClient::new(bad, None, Duration::from_secs(1)).unwrap_err();
            assert!(matches!(err, AmError::InvalidUrl { .. }), "{bad}: {err}");
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn secrets_stay_out_of_debug_and_messages() {
        let client = AlertmanagerClient::new(
            "https://user:pw@am.example",
            Some("s3cret-token".into()),
            Duration::from_secs(1),
        )
        .unwrap();
        let debug = format!("{client:?}");
        assert!(
            !debug.contains("s3cret") && !debug.contains("pw"),
            "{debug}"
        );
        assert_eq!(client.base_url(), "https://am.example/");
        assert_eq!(
            error_body(
                "denied for Bearer s3cret-token",
                Some(&Secret::bearer("s3cret-token"))
            ),
            "denied for Bearer <redacted>"
        );
    }

    #[test]
    fn error_bodies_are_unwrapped_and_shortened() {
        assert_eq!(
            error_body(r#""silence not found""#, None),
            "silence not found"
        );
        assert_eq!(
            error_body(
                r#"{"code":612,"message":"matchers in body should have at least 1 items"}"#,
                None
            ),
            "matchers in body should have at least 1 items"
        );
        assert_eq!(error_body("", None), "(empty body)");
        let long = "é".repeat(1000);
        let short = error_body(&long, None);
        assert_eq!(short.chars().count(), ERROR_BODY_LIMIT + 1);
        assert!(short.ends_with('…'));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Alert and silence lists and error bodies, whatever the bytes.
        #[test]
        fn any_answer_is_read_without_panicking(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4_000),
        ) {
            let _ = serde_json::from_slice::<Vec<Alert>>(&body);
            let _ = serde_json::from_slice::<Vec<Silence>>(&body);
            let _ = error_body(&String::from_utf8_lossy(&body), None);
        }
    }
}
