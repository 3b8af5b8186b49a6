//! Pods from Pending to gone: the scheduler binds them to nodes, the kubelet runs them.
//! The pod and node predicates they share with other controllers live in `readiness`
//! and `placement`.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::clock::k8s_time;
use crate::controllers::objects::find_condition;

mod kubelet;
mod scheduler;

pub use kubelet::{FAIL_POD, Kubelet};
pub use scheduler::Scheduler;

/// A pod condition as the kubelet and scheduler write it; the transition time only
/// moves when the status flips.
fn pod_condition(
    previous: &Value,
    type_: &str,
    status: &str,
    reason: Option<&str>,
    message: Option<&str>,
    now: DateTime<Utc>,
) -> Value {
    let prev = find_condition(previous, type_);
    let transition = match prev {
        Some(p) if p["status"] == status => p["lastTransitionTime"].clone(),
        _ => json!(k8s_time(now)),
    };
    let mut c = json!({"type": type_, "status": status, "lastProbeTime": null, "lastTransitionTime": transition});
    if let Some(r) = reason {
        c["reason"] = json!(r);
    }
    if let Some(m) = message {
        c["message"] = json!(m);
    }
    c
}

/// `conditions` with `cond` in place of the one of its type.
fn with_condition(conditions: &Value, cond: Value) -> Value {
    let mut list: Vec<Value> = conditions.as_array().cloned().unwrap_or_default();
    match list.iter_mut().find(|c| c["type"] == cond["type"]) {
        Some(c) => *c = cond,
        None => list.push(cond),
    }
    Value::Array(list)
}
