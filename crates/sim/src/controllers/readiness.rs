//! What pods and nodes say about themselves, as the controllers read it: finished,
//! active, ready (and since when), healthy. It imports no controller, so pacing and every
//! controller may use it.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::objects::{find_condition, is_terminating};
use crate::clock::parse_time;

/// Succeeded or Failed: the pod will not run again.
pub fn is_finished(pod: &Value) -> bool {
    matches!(
        pod["status"]["phase"].as_str(),
        Some("Succeeded" | "Failed")
    )
}

/// Counts towards a controller's replicas: not terminating and not finished.
pub fn is_active(pod: &Value) -> bool {
    !is_terminating(pod) && !is_finished(pod)
}

pub fn is_ready(pod: &Value) -> bool {
    find_condition(&pod["status"]["conditions"], "Ready").is_some_and(|c| c["status"] == "True")
}

/// When the pod became Ready, if it is.
pub fn ready_since(pod: &Value) -> Option<DateTime<Utc>> {
    let c =
        find_condition(&pod["status"]["conditions"], "Ready").filter(|c| c["status"] == "True")?;
    Some(
        c["lastTransitionTime"]
            .as_str()
            .and_then(parse_time)
            .unwrap_or(DateTime::UNIX_EPOCH),
    )
}

/// Healthy as a disruption budget counts it: Running, Ready and not being deleted.
pub fn is_healthy(pod: &Value) -> bool {
    !is_terminating(pod) && pod["status"]["phase"] == "Running" && is_ready(pod)
}

pub fn node_ready(node: &Value) -> bool {
    find_condition(&node["status"]["conditions"], "Ready").is_some_and(|c| c["status"] == "True")
}
