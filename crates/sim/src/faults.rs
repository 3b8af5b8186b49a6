//! Injected faults: what a real API server, Prometheus or Alertmanager does on a bad day,
//! per cluster and per service, each for a while.
//!
//! - `latency`: every answer is late by `latency_ms` (plus up to `jitter_ms`), at most 5 s;
//! - `status`: a `fraction` of requests get `code` (429 with `Retry-After`, 500 or 503);
//! - `down`: connections are refused (the port is closed), requests on open connections
//!   fail, and the API server's open watches end;
//! - `revoked`: every token is refused (401), as after a credential rotation;
//! - `truncate`, `malformed`, `reset`: a `fraction` of answers end early, are not JSON, or
//!   lose their connection mid-stream.
//!
//! A fault is set through the cluster's admin endpoint (`POST /sim/v1/faults`, cleared by
//! `DELETE`), a scenario file (`[[fault]]`) or [`crate::SimFleet::inject_fault`]. It ends by
//! itself after `duration` of simulated time (a day at most). The admin endpoint is not
//! faulted, so a fault can be cleared through it, except while its own API server is down:
//! then only the fault's end (or [`crate::SimFleet::clear_faults`]) brings it back.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::clock::SimClock;
use super::status::ApiError;
use crate::config;

/// Which server of a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Service {
    Api,
    Prometheus,
    Alertmanager,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    Latency,
    Status,
    Down,
    Revoked,
    Truncate,
    Malformed,
    Reset,
}

/// One fault, as the admin endpoint and the scenario file take it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    pub service: Service,
    pub kind: FaultKind,
    /// How long it lasts, in simulated time: `30s`, `2m`.
    pub duration: String,
    #[serde(default)]
    pub latency_ms: u64,
    #[serde(default)]
    pub jitter_ms: u64,
    /// For `status`: 429, 500 or 503.
    #[serde(default)]
    pub code: Option<u16>,
    /// For a 429: the `Retry-After` seconds.
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// The share of requests hit, 0 < fraction <= 1 (`status` and the body faults).
    #[serde(default = "all")]
    pub fraction: f64,
}

fn all() -> f64 {
    1.0
}

/// The most latency a fault adds: enough to trip every client timeout worth testing.
const MAX_LATENCY_MS: u64 = 5_000;
/// The longest a fault lasts.
const MAX_DURATION: Duration = Duration::from_secs(86_400);

impl FaultSpec {
    /// Checks the values; says which one is wrong and what it may be.
    pub fn check(&self) -> Result<Duration, String> {
        let duration = config::parse_duration(&self.duration)
            .map_err(|e| format!("`duration = {:?}`: {e}", self.duration))?;
        if duration > MAX_DURATION {
            return Err(format!("`duration = {:?}`: a day at most", self.duration));
        }
        let latency = self.latency_ms.saturating_add(self.jitter_ms);
        if !(self.fraction > 0.0 && self.fraction <= 1.0) {
            return Err(format!(
                "`fraction = {}`: give a share of requests above 0 and at most 1",
                self.fraction
            ));
        }
        match self.kind {
            FaultKind::Latency if latency == 0 => {
                Err("a latency fault needs `latency_ms` (and optionally `jitter_ms`)".into())
            }
            FaultKind::Latency if latency > MAX_LATENCY_MS => Err(format!(
                "`latency_ms` + `jitter_ms` is at most {MAX_LATENCY_MS}"
            )),
            FaultKind::Status if !matches!(self.code, Some(429 | 500 | 503)) => {
                Err("a status fault needs `code` = 429, 500 or 503".into())
            }
            _ => Ok(duration),
        }
    }
}

struct Active {
    spec: FaultSpec,
    until: DateTime<Utc>,
    /// Requests seen, for an exact `fraction` without randomness.
    seen: AtomicU64,
}

impl Active {
    /// Whether this request is among the `fraction` hit: the n-th request is hit when
    /// floor(n·f) moves, so over any run of requests the share is exact.
    fn fires(&self) -> bool {
        let n = self.seen.fetch_add(1, Ordering::Relaxed) as f64;
        let f = self.spec.fraction;
        ((n + 1.0) * f).floor() > (n * f).floor()
    }
}

/// The faults of one cluster.
#[derive(Default)]
pub struct Faults {
    active: Mutex<Vec<Active>>,
    /// Woken when faults are added or cleared, so a port closes or opens at once without
    /// polling.
    changed: tokio::sync::Notify,
    /// Connections each server accepted, for tests of how clients share them.
    accepted: [std::sync::atomic::AtomicU64; 3],
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faults").finish_non_exhaustive()
    }
}

/// What to do to one request.
#[derive(Debug, Default)]
struct Verdict {
    down: bool,
    delay: Duration,
    revoked: bool,
    status: Option<(u16, Option<u64>)>,
    body: Option<FaultKind>,
}

impl Faults {
    /// How many connections `service` has accepted since the cluster started.
    pub fn accepted(&self, service: Service) -> u64 {
        self.accepted[service as usize].load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Adds a fault from now for its duration.
    pub fn add(&self, now: DateTime<Utc>, spec: FaultSpec) -> Result<(), String> {
        let duration = spec.check()?;
        let until = now + chrono::Duration::from_std(duration).map_err(|e| e.to_string())?;
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        active.retain(|a| a.until > now);
        active.push(Active {
            spec,
            until,
            seen: AtomicU64::new(0),
        });
        drop(active);
        self.changed.notify_waiters();
        Ok(())
    }

    /// Ends every fault now.
    pub fn clear(&self) {
        self.active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.changed.notify_waiters();
    }

    /// Whether `service` is down now.
    pub fn is_down(&self, now: DateTime<Utc>, service: Service) -> bool {
        self.down_until(now, service).is_some()
    }

    /// Until when `service` is down, if it is down now.
    fn down_until(&self, now: DateTime<Utc>, service: Service) -> Option<DateTime<Utc>> {
        self.active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|a| {
                a.until > now && a.spec.service == service && a.spec.kind == FaultKind::Down
            })
            .map(|a| a.until)
            .max()
    }

    fn verdict(&self, now: DateTime<Utc>, service: Service) -> Verdict {
        let mut v = Verdict::default();
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        active.retain(|a| a.until > now);
        for a in active.iter().filter(|a| a.spec.service == service) {
            match a.spec.kind {
                FaultKind::Down => v.down = true,
                FaultKind::Revoked => v.revoked = true,
                FaultKind::Latency => {
                    let jitter = match a.spec.jitter_ms {
                        0 => 0,
                        j => rand::random_range(0..=j),
                    };
                    v.delay += Duration::from_millis(a.spec.latency_ms.saturating_add(jitter));
                }
                FaultKind::Status if a.fires() => {
                    v.status = a.spec.code.map(|c| (c, a.spec.retry_after));
                }
                kind @ (FaultKind::Truncate | FaultKind::Malformed | FaultKind::Reset)
                    if a.fires() =>
                {
                    v.body = Some(kind);
                }
                _ => {}
            }
        }
        v.delay = v.delay.min(Duration::from_millis(MAX_LATENCY_MS));
        v
    }
}

/// The state the guard needs: the cluster's faults and clock, and which service it guards.
#[derive(Clone)]
struct Guard {
    faults: std::sync::Arc<Faults>,
    clock: SimClock,
    service: Service,
}

/// `router`, with the faults of `service` applied to every request but the admin ones.
pub fn guard(
    router: Router,
    faults: std::sync::Arc<Faults>,
    clock: SimClock,
    service: Service,
) -> Router {
    router.layer(middleware::from_fn_with_state(
        Guard {
            faults,
            clock,
            service,
        },
        apply,
    ))
}

async fn apply(State(g): State<Guard>, req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/sim/v1/") {
        return next.run(req).await;
    }
    let v = g.faults.verdict(g.clock.now(), g.service);
    if v.down {
        // A connection opened before the port closed: it breaks.
        return broken_body(Vec::new());
    }
    if !v.delay.is_zero() {
        tokio::time::sleep(v.delay).await;
    }
    if v.revoked {
        return refusal(g.service, 401, None);
    }
    if let Some((code, retry_after)) = v.status {
        return refusal(g.service, code, retry_after);
    }
    let response = next.run(req).await;
    match v.body {
        Some(kind) => spoil(response, kind).await,
        None => response,
    }
}

/// The answer each service gives for `code`: a Kubernetes `Status` from the API server,
/// Prometheus's error JSON, Alertmanager's text.
fn refusal(service: Service, code: u16, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match (service, code) {
        (Service::Api, 401) => ApiError::unauthorized().into_response(),
        (Service::Api, 429) => {
            ApiError::too_many_requests("the simulated API server is throttling").into_response()
        }
        (Service::Api, _) => {
            let mut e = ApiError::internal("a simulated server fault");
            e.code = code;
            if code == 503 {
                e.reason = "ServiceUnavailable";
            }
            e.into_response()
        }
        (Service::Prometheus, _) if code != 401 => (
            status,
            axum::Json(serde_json::json!({
                "status": "error",
                "errorType": "unavailable",
                "error": "a simulated server fault",
            })),
        )
            .into_response(),
        (_, 401) => (
            status,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "Unauthorized\n",
        )
            .into_response(),
        _ => (status, "a simulated server fault\n").into_response(),
    };
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// The response with its body spoiled as `kind` says. A whole answer (it has a length) is
/// cut in half; a stream (a watch) is spoiled from its start, so that the client notices at
/// once rather than at the next event.
async fn spoil(response: Response, kind: FaultKind) -> Response {
    let (mut parts, body) = response.into_parts();
    let head = match parts.headers.remove(header::CONTENT_LENGTH) {
        Some(_) => match axum::body::to_bytes(body, MAX_SPOILED).await {
            Ok(whole) => whole[..whole.len() / 2].to_vec(),
            Err(_) => Vec::new(),
        },
        None => br#"{"type":"ADDED","object":{"kind":"#.to_vec(),
    };
    let body = match kind {
        FaultKind::Truncate => Body::from(head),
        // A syntax error, not an early end: clients skip a line that merely stops short.
        FaultKind::Malformed => Body::from(&b"{\"type\": \"ADDED\", \"object\": nope}\n"[..]),
        _ => broken_stream(head),
    };
    Response::from_parts(parts, body)
}

/// The largest answer a body fault reads whole before spoiling it.
const MAX_SPOILED: usize = 64 * 1024 * 1024;

/// A 200 whose body breaks after `head`: the server drops the connection.
fn broken_body(head: Vec<u8>) -> Response {
    (StatusCode::OK, broken_stream(head)).into_response()
}

fn broken_stream(head: Vec<u8>) -> Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![
        Ok(head),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "simulated connection reset",
        )),
    ];
    Body::from_stream(futures::stream::iter(chunks))
}

/// A listener that closes its port while its service is down, so that connections are
/// refused as by a dead server, and opens it again on the same port when the fault ends.
pub struct GatedListener {
    listener: Option<tokio::net::TcpListener>,
    /// While down: the port, bound but not listening, so that it refuses connections and
    /// no other server can take it meanwhile.
    reserved: Option<tokio::net::TcpSocket>,
    addr: std::net::SocketAddr,
    faults: std::sync::Arc<Faults>,
    clock: SimClock,
    service: Service,
}

/// How soon a port that could not be reopened tries again.
const REOPEN_RETRY: Duration = Duration::from_millis(100);

impl GatedListener {
    pub fn new(
        listener: tokio::net::TcpListener,
        faults: std::sync::Arc<Faults>,
        clock: SimClock,
        service: Service,
    ) -> std::io::Result<GatedListener> {
        Ok(GatedListener {
            addr: listener.local_addr()?,
            listener: Some(listener),
            reserved: None,
            faults,
            clock,
            service,
        })
    }

    /// The next connection, closing and reopening the port as the faults say.
    pub async fn accept(&mut self) -> (tokio::net::TcpStream, std::net::SocketAddr) {
        loop {
            // Registered before the faults are read, so a change in between still wakes.
            let changed = self.faults.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let now = self.clock.now();
            match (&self.listener, self.faults.down_until(now, self.service)) {
                (Some(_), Some(_)) => {
                    self.listener = None;
                    self.reserved = reserve(self.addr)
                        .inspect_err(|e| tracing::warn!(addr = %self.addr, error = %e, "holding the closed port failed"))
                        .ok();
                }
                (None, Some(until)) => {
                    let left = (until - now).to_std().unwrap_or_default();
                    tokio::select! {
                        _ = tokio::time::sleep(self.clock.real(left) + Duration::from_millis(1)) => {}
                        _ = changed => {}
                    }
                }
                (None, None) => {
                    let reopened = match self.reserved.take() {
                        Some(socket) => socket.listen(1024),
                        None => reserve(self.addr).and_then(|s| s.listen(1024)),
                    };
                    match reopened {
                        Ok(l) => self.listener = Some(l),
                        Err(e) => {
                            tracing::warn!(addr = %self.addr, error = %e, "reopening the port failed; retrying");
                            tokio::time::sleep(REOPEN_RETRY).await;
                        }
                    }
                }
                (Some(l), None) => {
                    tokio::select! {
                        accepted = l.accept() => match accepted {
                            Ok(conn) => {
                                self.faults.accepted[self.service as usize]
                                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                return conn;
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "accept failed");
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            }
                        },
                        // A fault that starts while nobody connects still closes the port.
                        _ = changed => {}
                    }
                }
            }
        }
    }

    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.addr
    }
}

/// The port bound again, not yet listening: connections to it are refused.
fn reserve(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpSocket> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    Ok(socket)
}

impl axum::serve::Listener for GatedListener {
    type Io = tokio::net::TcpStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        GatedListener::accept(self).await
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: FaultKind) -> FaultSpec {
        FaultSpec {
            service: Service::Api,
            kind,
            duration: "1m".into(),
            latency_ms: 0,
            jitter_ms: 0,
            code: None,
            retry_after: None,
            fraction: 1.0,
        }
    }

    #[test]
    fn a_fraction_hits_exactly_that_share_of_requests() {
        let faults = Faults::default();
        let now = Utc::now();
        faults
            .add(
                now,
                FaultSpec {
                    code: Some(503),
                    fraction: 0.3,
                    ..spec(FaultKind::Status)
                },
            )
            .unwrap();
        let hit = (0..100)
            .filter(|_| faults.verdict(now, Service::Api).status.is_some())
            .count();
        assert_eq!(hit, 30);
        assert!(faults.verdict(now, Service::Prometheus).status.is_none());
    }

    #[test]
    fn a_fault_ends_after_its_duration() {
        let faults = Faults::default();
        let now = Utc::now();
        faults.add(now, spec(FaultKind::Down)).unwrap();
        assert!(faults.is_down(now, Service::Api));
        assert!(!faults.is_down(now + chrono::Duration::seconds(61), Service::Api));
        faults.add(now, spec(FaultKind::Revoked)).unwrap();
        faults.clear();
        assert!(!faults.verdict(now, Service::Api).revoked);
    }

    #[test]
    fn bad_values_are_refused_saying_which() {
        for (bad, says) in [
            (
                FaultSpec {
                    fraction: 0.0,
                    ..spec(FaultKind::Reset)
                },
                "fraction",
            ),
            (spec(FaultKind::Status), "code"),
            (
                FaultSpec {
                    latency_ms: 9_000,
                    ..spec(FaultKind::Latency)
                },
                "at most",
            ),
            (
                FaultSpec {
                    duration: "soon".into(),
                    ..spec(FaultKind::Down)
                },
                "duration",
            ),
            (
                FaultSpec {
                    duration: "100000000d".into(),
                    ..spec(FaultKind::Down)
                },
                "a day at most",
            ),
            (
                FaultSpec {
                    latency_ms: u64::MAX,
                    jitter_ms: u64::MAX,
                    ..spec(FaultKind::Latency)
                },
                "at most",
            ),
        ] {
            let e = bad.check().unwrap_err();
            assert!(e.contains(says), "{e}");
        }
    }

    #[tokio::test]
    async fn a_down_port_refuses_connections_and_reopens() {
        let faults = std::sync::Arc::new(Faults::default());
        let clock = SimClock::realtime(1.0);
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut gated = GatedListener::new(l, faults.clone(), clock.clone(), Service::Api).unwrap();
        let addr = gated.local_addr();
        let server = tokio::spawn(async move {
            loop {
                let _ = gated.accept().await;
            }
        });
        assert!(tokio::net::TcpStream::connect(addr).await.is_ok());
        faults
            .add(
                clock.now(),
                FaultSpec {
                    duration: "1s".into(),
                    ..spec(FaultKind::Down)
                },
            )
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let refused = tokio::net::TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert!(tokio::net::TcpStream::connect(addr).await.is_ok(), "back");
        server.abort();
    }
}
