//! ck8s-model: the words of the domain, shared by every other crate of ck8s-console.
//!
//! The fleet config (parse, validate, errors, write), environments and their service and
//! workload clusters, probes and policy settings, alerts and silences, the XDG paths, exit
//! codes, and the pure SLO accounting. Nothing here does network I/O or needs an async
//! runtime, so it builds fast and its rules are tested without a cluster.

pub mod access;
pub mod alert;
pub mod colour;
pub mod config;
pub mod credential;
pub mod exit;
pub mod format;
pub mod labels;
pub mod paths;
pub mod slo;
