//! Why a call to a cluster failed, as one sentence for people.
//!
//! kube-rs's own `Display` of an API error appends the whole `Status` in Debug form
//! (`ApiError: … (Status { status: Some(Failure), … })`), and a transport error is a chain
//! of wrappers. Everything the console, the headless reports and the run journals say about
//! a failed Kubernetes call goes through [`of_kube`] or [`of_watch`] instead.

use std::error::Error as _;
use std::fmt;

use kube::core::Status;
use kube::runtime::watcher;

/// What kind of failure, for the decisions that depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 401, or the credentials could not be obtained (an exec plugin failed).
    Unauthorized,
    /// 403: RBAC says no.
    Forbidden,
    /// 410: a resource version or continue token expired; a relist is the answer.
    Expired,
    NotFound,
    Conflict,
    /// 429: the server asks to slow down.
    Throttled,
    /// 5xx.
    ServerError,
    /// No answer in time.
    Timeout,
    /// No connection: refused, reset, name or TLS failure.
    Unreachable,
    /// An answer that could not be read (truncated or malformed).
    BadResponse,
    Other,
}

impl Kind {
    /// The credentials were refused: retrying as is will not help.
    pub fn is_denied(self) -> bool {
        matches!(self, Kind::Unauthorized | Kind::Forbidden)
    }
}

/// A failed call: its kind and one sentence without Debug text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: Kind,
    pub sentence: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sentence)
    }
}

fn failure(kind: Kind, sentence: impl Into<String>) -> Failure {
    Failure {
        kind,
        sentence: sentence.into(),
    }
}

/// A failed Kubernetes API call.
pub fn of_kube(e: &kube::Error) -> Failure {
    match e {
        kube::Error::Api(status) => of_status(status),
        kube::Error::HyperError(_) | kube::Error::Service(_) => of_transport(e),
        kube::Error::Auth(e) => failure(
            Kind::Unauthorized,
            format!("the credentials could not be obtained: {}", innermost(e)),
        ),
        kube::Error::SerdeError(_)
        | kube::Error::FromUtf8(_)
        | kube::Error::LinesCodecMaxLineLengthExceeded => failure(
            Kind::BadResponse,
            format!(
                "the API server's answer could not be read ({})",
                innermost(e)
            ),
        ),
        kube::Error::ReadEvents(io) => of_io(io).unwrap_or_else(|| {
            failure(
                Kind::Unreachable,
                format!("reading the API server's answer failed ({io})"),
            )
        }),
        _ => failure(Kind::Other, innermost(e)),
    }
}

/// A failed watch: the list, the start of the watch, or an error event in it.
pub fn of_watch(e: &watcher::Error) -> Failure {
    match e {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => of_kube(e),
        watcher::Error::WatchError(status) => of_status(status),
        watcher::Error::NoResourceVersion => failure(
            Kind::BadResponse,
            "the API server's list had no resourceVersion, so it cannot be watched",
        ),
    }
}

/// The API server's own answer: its code decides, its message says what.
fn of_status(s: &Status) -> Failure {
    let message = one_line(&s.message);
    let reason = one_line(&s.reason);
    match s.code {
        401 => failure(
            Kind::Unauthorized,
            "the API server refused the credentials (401 Unauthorized); log in again or \
             renew the token in the kubeconfig",
        ),
        403 => failure(Kind::Forbidden, format!("{message} (403 Forbidden)")),
        404 => failure(Kind::NotFound, format!("{message} (404 Not Found)")),
        409 => failure(Kind::Conflict, format!("{message} (409 Conflict)")),
        410 => failure(
            Kind::Expired,
            format!("the list or watch expired ({message}); it is read again"),
        ),
        429 => failure(
            Kind::Throttled,
            "the API server asked to slow down (429 Too Many Requests)",
        ),
        code @ 500..=599 => failure(
            Kind::ServerError,
            format!("the API server failed the request ({code} {reason}): {message}"),
        ),
        code => failure(
            Kind::Other,
            match (message.is_empty(), reason.is_empty()) {
                (true, true) => format!("the API server answered {code}"),
                (true, false) => format!("the API server answered {code} {reason}"),
                _ => format!("{message} ({code})"),
            },
        ),
    }
}

/// No answer: a timeout, a refused connection, or another transport failure, named by
/// its innermost cause.
fn of_transport(e: &kube::Error) -> Failure {
    let mut source: Option<&(dyn std::error::Error + 'static)> = e.source();
    while let Some(s) = source {
        if let Some(f) = s.downcast_ref::<std::io::Error>().and_then(of_io) {
            return f;
        }
        source = s.source();
    }
    failure(
        Kind::Unreachable,
        format!("the API server could not be reached ({})", innermost(e)),
    )
}

fn of_io(io: &std::io::Error) -> Option<Failure> {
    use std::io::ErrorKind as K;
    Some(match io.kind() {
        K::TimedOut => failure(Kind::Timeout, "the API server did not answer in time"),
        K::ConnectionRefused => failure(
            Kind::Unreachable,
            "the API server could not be reached (connection refused)",
        ),
        // The io text adds nothing a person can act on (rustls's names a web page).
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => failure(
            Kind::Unreachable,
            "the connection to the API server was reset",
        ),
        K::UnexpectedEof => failure(
            Kind::Unreachable,
            "the API server closed the connection mid-answer",
        ),
        _ => return None,
    })
}

/// The message of the innermost error of a chain: the one that says what happened,
/// without the wrappers' prefixes.
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e;
    while let Some(next) = last.source() {
        last = next;
    }
    one_line(&last.to_string())
}

/// Messages are shown on one line, and a server's are not trusted to be short.
fn one_line(text: &str) -> String {
    const MAX: usize = 300;
    let flat: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    match flat.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, reason: &str, message: &str) -> kube::Error {
        let mut s = Status::failure(message, reason);
        s.code = code;
        kube::Error::Api(Box::new(s))
    }

    #[test]
    fn api_errors_are_one_sentence_without_debug_text() {
        let forbidden = status(
            403,
            "Forbidden",
            "leases.coordination.k8s.io is forbidden: User \"read-only\" cannot create \
             resource \"leases\"",
        );
        // What kube-rs itself would print.
        assert!(forbidden.to_string().contains("Status {"));
        let f = of_kube(&forbidden);
        assert_eq!(f.kind, Kind::Forbidden);
        assert_eq!(
            f.sentence,
            "leases.coordination.k8s.io is forbidden: User \"read-only\" cannot create \
             resource \"leases\" (403 Forbidden)"
        );
        for (code, kind) in [
            (401, Kind::Unauthorized),
            (404, Kind::NotFound),
            (409, Kind::Conflict),
            (410, Kind::Expired),
            (429, Kind::Throttled),
            (500, Kind::ServerError),
            (503, Kind::ServerError),
            (418, Kind::Other),
        ] {
            let f = of_kube(&status(code, "Reason", "what happened"));
            assert_eq!(f.kind, kind, "{code}");
            for debris in ["Status {", "Some(", "ListMeta", "None"] {
                assert!(!f.sentence.contains(debris), "{code}: {}", f.sentence);
            }
        }
        assert!(of_kube(&status(401, "Unauthorized", "")).kind.is_denied());
    }

    #[test]
    fn a_watch_error_event_is_classified_by_its_status() {
        let mut s = Status::failure("too old resource version: 5 (9)", "Expired");
        s.code = 410;
        let f = of_watch(&watcher::Error::WatchError(Box::new(s)));
        assert_eq!(f.kind, Kind::Expired);
        assert!(f.sentence.contains("too old resource version"), "{f}");
    }

    #[test]
    fn transport_failures_name_their_innermost_cause() {
        let refused =
            kube::Error::ReadEvents(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(of_kube(&refused).kind, Kind::Unreachable);
        let timeout = kube::Error::ReadEvents(std::io::ErrorKind::TimedOut.into());
        assert_eq!(of_kube(&timeout).kind, Kind::Timeout);
        let bad = kube::Error::SerdeError(serde_json::from_str::<u8>("{").unwrap_err());
        let f = of_kube(&bad);
        assert_eq!(f.kind, Kind::BadResponse);
        assert!(
            f.sentence
                .starts_with("the API server's answer could not be read")
        );
    }

    #[test]
    fn a_server_message_is_one_bounded_line() {
        let long = format!("line one\nline two\t{}", "x".repeat(1000));
        let f = of_kube(&status(500, "InternalError", &long));
        assert!(!f.sentence.contains('\n') && !f.sentence.contains('\t'));
        assert!(f.sentence.chars().count() < 400, "{}", f.sentence.len());
    }
}
