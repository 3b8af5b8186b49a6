pub mod alertmanager;
pub mod kube;
pub mod live;
pub mod prometheus;

/// The HTTP client behind the Prometheus and Alertmanager clients. One is meant to be
/// shared (it pools connections per host); timeouts and credentials go on each request.
pub fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    // reqwest is built without a rustls crypto provider and panics at `build()` when none
    // is installed, even for plain http. The binary installs ring first; this covers
    // library users such as tests, and a second install is a harmless error.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .user_agent(concat!("ck8s-console/", env!("CARGO_PKG_VERSION")))
        .build()
}
