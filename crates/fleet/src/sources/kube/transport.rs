//! The HTTP stack under a cluster's kube-rs client.
//!
//! kube-rs builds an HTTP/1.1-only client, so every watch holds a TLS connection of its
//! own: a fleet of 200 clusters held over 3 000 descriptors. This stack offers HTTP/2
//! through ALPN, as client-go does, so every watch, list and poll of a cluster shares one
//! connection; a server that offers only HTTP/1.1 gets HTTP/1.1, with at most
//! [`HTTP1_CONNECTIONS`] connections. On top sit kube's own layers from the config (base
//! URI, authentication, extra headers, retries), as in kube's default stack. Unlike it, the
//! connect timeout covers the TLS handshake too, and a kubeconfig's `proxy-url` is refused
//! rather than gone around.
//!
//! Calls that upgrade the connection (exec, attach, port-forward) cannot run over HTTP/2;
//! the console hands those to kubectl, which opens its own connection.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use http::{Request, Response, Uri};
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioExecutor;
use kube::client::{Body, ClientBuilder, ConfigExt, DynBody};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};

/// The most connections a client holds to a server that speaks only HTTP/1.1, where each
/// open watch holds one. (Over HTTP/2 there is one.) A request beyond it waits for a
/// connection to come free, at most [`CONNECTION_WAIT`].
pub const HTTP1_CONNECTIONS: usize = 16;

/// How long a request waits for one of the [`HTTP1_CONNECTIONS`] before it fails.
const CONNECTION_WAIT: Duration = Duration::from_secs(30);

/// How often an idle HTTP/2 connection is pinged, and how long an answer may take before
/// the connection (and every watch on it) is taken for dead. A dead TCP peer would
/// otherwise hold every watch of the cluster silent until the kernel gives up.
const PING_EVERY: Duration = Duration::from_secs(30);
const PING_TIMEOUT: Duration = Duration::from_secs(15);

/// The protocol a response came over, as far as the console cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Every request of the cluster shares one connection.
    Http2,
    /// Each open request holds a connection.
    Http1,
}

impl Protocol {
    pub fn of<B>(response: &Response<B>) -> Protocol {
        if response.version() == http::Version::HTTP_2 {
            Protocol::Http2
        } else {
            Protocol::Http1
        }
    }
}

/// The boxed service stack under a client (kube's `GenericService`, which it does not export).
pub type Stack = tower::util::BoxService<Request<Body>, Response<Box<DynBody>>, BoxError>;

/// A client builder for `config`, offering HTTP/2 and HTTP/1.1, with kube's config
/// layers; callers may add layers before building.
pub fn builder(config: &kube::Config) -> Result<ClientBuilder<Stack>, kube::Error> {
    // kube's own stack would tunnel through it; this one cannot, and must not go around it.
    if let Some(proxy_url) = &config.proxy_url {
        return Err(kube::Error::ProxyProtocolUnsupported {
            proxy_url: Box::new(proxy_url.clone()),
        });
    }
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);

    let tls = config.rustls_client_config()?;
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http();
    let https = match &config.tls_server_name {
        Some(name) => https.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(
            name.clone()
                .try_into()
                .map_err(kube::client::RustlsTlsError::InvalidServerName)
                .map_err(kube::Error::RustlsTls)?,
        )),
        None => https,
    };
    let https = https.enable_all_versions().wrap_connector(tcp);
    // On the TLS connector, so that a server that accepts TCP and never finishes its
    // handshake (a balancer with a dead backend) fails too.
    let mut timed = hyper_timeout::TimeoutConnector::new(https);
    timed.set_connect_timeout(config.connect_timeout);
    timed.set_read_timeout(config.read_timeout);
    timed.set_write_timeout(config.write_timeout);
    let capped = Capped {
        inner: timed,
        permits: Arc::new(Semaphore::new(HTTP1_CONNECTIONS)),
    };
    let http = hyper_util::client::legacy::Builder::new(TokioExecutor::new())
        .http2_keep_alive_interval(PING_EVERY)
        .http2_keep_alive_timeout(PING_TIMEOUT)
        .http2_keep_alive_while_idle(true)
        .timer(hyper_util::rt::TokioTimer::new())
        .pool_timer(hyper_util::rt::TokioTimer::new())
        .build::<_, Body>(capped);

    let retry = config
        .default_retry
        .then(|| tower::retry::RetryLayer::new(kube::client::retry::RetryPolicy::server_retry()));
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(retry)
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .map_err(BoxError::from)
        .service(http)
        .map_response(|response: Response<hyper::body::Incoming>| {
            response.map(|body| {
                Box::new(http_body_util::BodyExt::map_err(body, BoxError::from)) as Box<DynBody>
            })
        })
        .boxed();
    Ok(ClientBuilder::new(
        service,
        config.default_namespace.clone(),
    ))
}

/// How long the protocol probe may take.
const PROBE_WAIT: Duration = Duration::from_secs(30);

/// The protocol the server at `client` answers with: one `GET /version`, which fails after
/// [`PROBE_WAIT`] (a server that never answers must not hold a start up).
pub async fn probe(client: &kube::Client) -> Result<Protocol, String> {
    let request = Request::get("/version")
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    match tokio::time::timeout(PROBE_WAIT, client.send(request.map(Body::from))).await {
        Ok(Ok(response)) => Ok(Protocol::of(&response)),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} s", PROBE_WAIT.as_secs())),
    }
}

/// A connector that holds a permit of a shared semaphore for each connection's life, so a
/// client never holds more connections than the semaphore has permits.
#[derive(Clone)]
struct Capped<C> {
    inner: C,
    permits: Arc<Semaphore>,
}

impl<C> Service<Uri> for Capped<C>
where
    C: Service<Uri> + Clone + Send + 'static,
    C::Future: Send,
    C::Error: Into<BoxError>,
{
    type Response = Held<C::Response>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Self::Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        // The ready inner service is the one to call; a fresh clone stays behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let permits = self.permits.clone();
        Box::pin(async move {
            let permit = tokio::time::timeout(CONNECTION_WAIT, permits.acquire_owned())
                .await
                .map_err(|_| {
                    format!(
                        "all {HTTP1_CONNECTIONS} connections to the API server are busy \
                         (it offers no HTTP/2, so each watch holds one)"
                    )
                })??;
            let io = inner.call(uri).await.map_err(Into::into)?;
            Ok(Held {
                io,
                _permit: permit,
            })
        })
    }
}

/// A connection and its permit: the permit goes back when the connection closes.
struct Held<T> {
    io: T,
    _permit: OwnedSemaphorePermit,
}

impl<T: Connection> Connection for Held<T> {
    fn connected(&self) -> Connected {
        self.io.connected()
    }
}

impl<T: Read + Unpin> Read for Held<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<T: Write + Unpin> Write for Held<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }
}
