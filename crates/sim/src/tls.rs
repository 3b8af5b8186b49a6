//! TLS for the simulated API servers. Real clients (kubectl among them) will not send
//! a bearer token over plain HTTP, so each fleet gets its own CA, whose certificate goes
//! into the kubeconfig as `certificate-authority-data`, and one server certificate for
//! 127.0.0.1 and localhost.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpStream;

use super::faults::GatedListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// The fleet's certificate authority and the server identity it signed.
#[derive(Clone)]
pub struct FleetTls {
    /// PEM of the CA certificate, for kubeconfigs.
    pub ca_pem: String,
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for FleetTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetTls").finish_non_exhaustive()
    }
}

impl FleetTls {
    /// A CA and a server identity; the servers offer HTTP/2 unless `http1_only`.
    pub fn generate(http1_only: bool) -> anyhow::Result<FleetTls> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "ck8s-console simulated fleet CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)
            .context("creating the simulated fleet's CA")?;

        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])?;
        params
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        let key = KeyPair::generate()?;
        let cert = params
            .signed_by(&key, &ca)
            .context("signing the API server certificate")?;

        let mut server = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .context("building the TLS server configuration")?;
        // As the real apiserver: HTTP/2 for clients that offer it through ALPN (client-go,
        // the console), HTTP/1.1 for those that ask for it or offer nothing.
        let offered = if http1_only { &ALPN[1..] } else { &ALPN[..] };
        server.alpn_protocols = offered.iter().map(|p| p.to_vec()).collect();
        Ok(FleetTls {
            ca_pem: ca.pem(),
            acceptor: TlsAcceptor::from(Arc::new(server)),
        })
    }

    /// A listener that speaks TLS on an already bound TCP listener.
    pub fn listener(&self, tcp: GatedListener) -> TlsListener {
        TlsListener {
            tcp,
            acceptor: self.acceptor.clone(),
        }
    }
}

/// The protocols the API servers offer, in order of preference.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// A TLS listener for `axum::serve`.
pub struct TlsListener {
    tcp: GatedListener,
    acceptor: TlsAcceptor,
}

/// A client that cannot finish its handshake in this long is dropped, so it cannot
/// hold up the ones behind it.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (stream, addr) = self.tcp.accept().await;
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(stream)).await {
                Ok(Ok(tls)) => return (tls, addr),
                Ok(Err(e)) => tracing::debug!(%addr, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.tcp.local_addr())
    }
}
