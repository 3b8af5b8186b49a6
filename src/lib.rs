//! ck8s-console: the terminal operations console for Compliant Kubernetes fleets.
//!
//! The binary in `main.rs` is a thin shell over this library, so integration tests and
//! benchmarks reach the same code paths the user does.

pub mod backup;
pub mod bench;
pub mod cli;
pub mod config;
pub mod engine;
pub mod exit;
pub mod headless;
pub mod logging;
pub mod paths;
pub mod secrets;
pub mod sim;
pub mod slo;
pub mod sources;
pub mod state;
pub mod terminal;
pub mod ui;
