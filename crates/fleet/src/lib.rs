//! ck8s-fleet: the live fleet behind the console and the headless commands.
//!
//! - [`state`]: the one live model of the fleet, compact rows per cluster.
//! - [`sources`]: what fills it: Kubernetes watchers (kube-rs), Prometheus and Alertmanager
//!   clients (reqwest), and the credentials they use.
//! - [`engine`]: workflows as background runs, with policy, lock, journal and audit.
//! - [`backup`]: the backup picture of a cluster, assessed from its state.
//! - [`inspect`]: reads on demand: one pod in full, a log stream, a permission check.
//!
//! Everything that talks to a cluster lives here and returns domain types, so the console
//! and the headless commands never speak HTTP themselves. Nothing here draws.

// The domain's modules, under the names this crate has always used for them.
pub(crate) use ck8s_model::{config, exit, paths, slo};

pub mod access;
pub mod backup;
pub mod describe;
pub mod engine;
pub mod failure;
pub mod inspect;
pub mod kinds;
pub mod limits;
pub mod objects;
pub mod secrets;
pub mod sources;
pub mod state;
pub mod velero;

/// Installs the one TLS crypto provider (ring) for kube and reqwest alike: both would
/// otherwise try to pick one and panic at client creation. Call once at start; a second
/// call changes nothing.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
