//! ck8s-console: the terminal operations console for Compliant Kubernetes fleets.
//!
//! This package is the console (`ui`) and the headless commands (`headless`, `bench`) over
//! the workspace's library crates: ck8s-model (the domain), ck8s-fleet (state, sources,
//! engine) and ck8s-sim (the simulated fleet). It reaches clusters only through ck8s-fleet
//! and has no Kubernetes or HTTP client of its own. The binary in `main.rs` is a thin shell
//! over this library, so integration tests and benchmarks reach the same code paths the
//! user does.

pub mod bench;
pub mod cli;
pub mod credentials;
pub mod filter;
pub mod headless;
pub mod logging;
pub mod private;
pub mod terminal;
#[cfg(test)]
pub(crate) mod testing;
pub mod ui;

// The lower layers under the names the console has always used for them.
pub(crate) use ck8s_fleet::{
    backup, describe, engine, kinds, objects, secrets, sources, state, velero,
};
pub(crate) use ck8s_model::{config, exit, paths, slo};
