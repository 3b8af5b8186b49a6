//! The simulated fleet: per cluster, a Kubernetes API server, a Prometheus API and an
//! Alertmanager API on loopback, with small controllers that make the objects behave.
//! The console reaches it only over HTTP, exactly as it reaches real clusters.
//!
//! It uses ck8s-model to write the fleet config it serves, and nothing of ck8s-fleet: the
//! console's clients must prove themselves against it over the wire.

// The domain's config module, under the name the simulator has always used.
pub(crate) use ck8s_model::{config, labels};

mod apiserver;
mod clock;
mod cluster;
mod controllers;
mod demo;
pub mod faults;
mod fleet;
mod hash;
mod http_auth;
mod names;
mod object_storage;
mod registry;
pub mod scenario;
mod shell;
mod status;
mod store;
mod tls;

pub use fleet::{SIM_CREDENTIAL, SimFleet, SimOptions};

/// What other crates' tests need of the simulator's insides: a hand-built cluster with an
/// HTTP harness (for the Prometheus and Alertmanager clients) and the store's kind ids.
#[cfg(feature = "testkit")]
pub mod testkit {
    pub use crate::cluster::{ClusterSim, Interval, ProbeSpec};
    pub use crate::prometheus::router as prometheus_router;
    pub use crate::prometheus::testkit::*;
    pub use crate::registry::ids;
}
mod alertmanager;
mod prometheus;
mod promql;
