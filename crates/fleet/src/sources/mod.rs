pub mod alertmanager;
pub mod bench;
pub(crate) mod kube;
/// Exec credential plugins: the console tells them when its screen has the terminal.
pub use self::kube::exec;

pub use self::kube::transport::HTTP1_CONNECTIONS;
pub use self::kube::{KubeSourceError, check_kubeconfigs};
pub mod live;
pub mod prometheus;
pub mod slo_counts;

/// How long connecting to a Prometheus or Alertmanager may take.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// How long an idle Prometheus or Alertmanager connection is kept.
const IDLE_CONNECTION: std::time::Duration = std::time::Duration::from_secs(1);

/// The HTTP client behind the Prometheus and Alertmanager clients. One is meant to be
/// shared (it pools connections per host); timeouts and credentials go on each request.
pub fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    http_client_keeping(true)
}

/// As [`http_client`]; `keep_idle` false closes each connection once its request is done
/// (under [`crate::limits::HttpBudget::Tight`]).
pub fn http_client_keeping(keep_idle: bool) -> Result<reqwest::Client, reqwest::Error> {
    http_client_builder()
        // Prometheus and Alertmanager are polled every 10 s or more: a connection kept
        // between polls would cost a descriptor per server (two per cluster, the largest
        // share of a big fleet's descriptors), so one is kept only across the requests of
        // one poll.
        .pool_idle_timeout(IDLE_CONNECTION)
        .pool_max_idle_per_host(usize::from(keep_idle))
        // An unreachable server fails its request within this, not the request's whole
        // timeout: under a tight open-file limit other polls wait for its turn.
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
}

/// What every HTTP client of the console starts from: its user agent, with a TLS crypto
/// provider installed.
pub(crate) fn http_client_builder() -> reqwest::ClientBuilder {
    // reqwest is built without a rustls crypto provider and panics at `build()` when none
    // is installed, even for plain http. The binary installs ring first; this covers
    // library users such as tests, and a second install is a harmless error.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().user_agent(concat!("ck8s-console/", env!("CARGO_PKG_VERSION")))
}

/// Requests to Prometheus and Alertmanager in flight at once, shared by every client of a
/// live fleet under [`crate::limits::HttpBudget::Tight`]; the default is no limit.
#[derive(Debug, Clone, Default)]
pub struct Requests(Option<std::sync::Arc<tokio::sync::Semaphore>>);

impl Requests {
    pub fn limited(at_once: usize) -> Requests {
        Requests(Some(std::sync::Arc::new(tokio::sync::Semaphore::new(
            at_once.max(1),
        ))))
    }

    /// A turn for one request, body included; it ends when the permit is dropped.
    pub(crate) async fn turn(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        match &self.0 {
            // The semaphore is never closed.
            Some(s) => s.acquire().await.ok(),
            None => None,
        }
    }
}

/// What to do about a 401 or 403 from `service` ("prometheus" or "alertmanager"), whose
/// client sent `credential` (by name), or none.
pub(crate) fn unauthorized_hint(service: &str, credential: Option<&str>) -> String {
    match credential {
        Some(name) => format!(
            "the credential `{name}` was refused; replace it with `ck8s-console credentials \
             set {name}` (`ck8s-console credentials check {name}` says where it is kept)"
        ),
        None => format!(
            "it needs a credential: name one for this cluster in the fleet config \
             (`{service}_credential = \"NAME\"`) and store it with `ck8s-console credentials \
             set NAME`"
        ),
    }
}

#[cfg(test)]
mod auth_tests {
    use std::time::Duration;

    use axum::Router;
    use axum::http::{HeaderMap, StatusCode, header};
    use axum::routing::get;

    use super::alertmanager::{AlertmanagerClient, AmError};
    use super::prometheus::{PromError, PrometheusClient};
    use crate::secrets::{Credential, Secret};

    /// `Authorization: Basic base64("ops:pw-9")`.
    const WANT: &str = "Basic b3BzOnB3LTk=";

    /// A Prometheus and an Alertmanager behind basic auth on one loopback port.
    async fn protected() -> String {
        let guard = |headers: HeaderMap, body: &'static str| async move {
            match headers.get(header::AUTHORIZATION) {
                Some(v) if v == WANT => (StatusCode::OK, body),
                // A proxy that quotes the request back: the client must scrub it.
                _ => (StatusCode::UNAUTHORIZED, "denied: Basic b3BzOnB3LTk= pw-9"),
            }
        };
        let app = Router::new()
            .route(
                "/api/v1/query",
                get(move |h: HeaderMap| {
                    guard(
                        h,
                        r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
                    )
                }),
            )
            .route("/api/v2/silences", get(move |h: HeaderMap| guard(h, "[]")));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    }

    fn credential(password: &str) -> Option<Credential> {
        Some(Credential {
            name: "acme-metrics".into(),
            secret: Secret::basic("ops", password),
        })
    }

    #[tokio::test]
    async fn both_clients_send_basic_auth_and_name_a_refused_credential() {
        let url = protected().await;
        let timeout = Duration::from_secs(5);
        let prom = || PrometheusClient::new(&url, None, timeout).unwrap();
        let am = || AlertmanagerClient::new(&url, None, timeout).unwrap();

        prom()
            .with_credential(credential("pw-9"))
            .query("up", None)
            .await
            .expect("Prometheus with the right credential");
        am().with_credential(credential("pw-9"))
            .silences()
            .await
            .expect("Alertmanager with the right credential");

        let err = prom()
            .with_credential(credential("wrong"))
            .query("up", None)
            .await
            .unwrap_err();
        assert!(matches!(err, PromError::Unauthorized { status: 401, .. }));
        let err = err.to_string();
        assert!(
            err.contains("the credential `acme-metrics` was refused"),
            "{err}"
        );
        assert!(!err.contains("wrong") && !err.contains("b3Bz"), "{err}");

        let err = am()
            .with_credential(credential("wrong"))
            .silences()
            .await
            .unwrap_err();
        assert!(matches!(err, AmError::Unauthorized { .. }), "{err}");
        assert!(err.to_string().contains("`acme-metrics`"), "{err}");

        // No credential at all: the hint says how to configure one.
        let err = prom().query("up", None).await.unwrap_err().to_string();
        assert!(
            err.contains("prometheus_credential = \"NAME\"")
                && err.contains("ck8s-console credentials set NAME"),
            "{err}"
        );
        let err = am().silences().await.unwrap_err().to_string();
        assert!(err.contains("alertmanager_credential"), "{err}");
    }
}
