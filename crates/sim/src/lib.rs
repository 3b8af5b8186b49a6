//! The simulated fleet: per cluster, a Kubernetes API server, a Prometheus API and an
//! Alertmanager API on loopback, with small controllers that make the objects behave.
//! The console reaches it only over HTTP, exactly as it reaches real clusters.
//!
//! It uses ck8s-model to write the fleet config it serves, and nothing of ck8s-fleet: the
//! console's clients must prove themselves against it over the wire.

// The domain's config module, under the name the simulator has always used.
pub(crate) use ck8s_model::config;

pub mod apiserver;
pub mod clock;
pub mod cluster;
pub mod controllers;
pub mod demo;
pub mod fleet;
pub mod hash;
pub mod http_auth;
pub mod labels;
pub mod registry;
pub mod scenario;
pub mod status;
pub mod store;
pub mod tls;

pub use fleet::{SIM_CREDENTIAL, SimFleet, SimOptions};
pub mod alertmanager;
pub mod prometheus;
pub mod promql;
