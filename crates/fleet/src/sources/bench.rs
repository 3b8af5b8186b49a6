//! Measurements for `ck8s-console bench` that reach a cluster: forcing the simulator to
//! make every watcher relist, and replaying real pod objects through the watch path.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::runtime::watcher::Event;

use super::kube::{apply, wire};
use super::live::LiveFleet;
use crate::config::ClusterRole;
use crate::state::{Changes, ClusterHandle};

/// Why a measurement could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("no Kubernetes client for {0}")]
    NoClient(String),
    #[error("{what}: {reason}")]
    Request { what: String, reason: String },
    #[error("the simulator returned no pods")]
    NoPods,
}

async fn client(
    live: &LiveFleet,
    env: &str,
    role: ClusterRole,
) -> Result<kube::Client, BenchError> {
    live.kube_client(env, role)
        .await
        .ok_or_else(|| BenchError::NoClient(format!("{env}-{role}")))
}

fn request(what: &str) -> impl Fn(String) -> BenchError + '_ {
    move |reason| BenchError::Request {
        what: what.to_owned(),
        reason,
    }
}

/// Asks a cluster's simulated API server to forget its history and end its watches, so
/// that every watcher relists.
pub async fn force_relist(
    live: &LiveFleet,
    env: &str,
    role: ClusterRole,
) -> Result<(), BenchError> {
    let client = client(live, env, role).await?;
    for fault in ["compact", "drop-watches"] {
        let what = format!("injecting {fault}");
        let req = http::Request::post(format!("/sim/v1/{fault}"))
            .body(Vec::new())
            .map_err(|e| request(&what)(e.to_string()))?;
        client
            .request_text(req)
            .await
            .map_err(|e| request(&what)(e.to_string()))?;
    }
    Ok(())
}

/// Sets a fault on a cluster's simulated servers (`fault` is the simulator's JSON, e.g.
/// `{"service":"api","kind":"down","duration":"3s"}`) through its admin endpoint.
pub async fn inject_fault(
    live: &LiveFleet,
    env: &str,
    role: ClusterRole,
    fault: &serde_json::Value,
) -> Result<(), BenchError> {
    let client = client(live, env, role).await?;
    let fail = request("injecting a fault");
    let req = http::Request::post("/sim/v1/faults")
        .header("content-type", "application/json")
        .body(fault.to_string().into_bytes())
        .map_err(|e| fail(e.to_string()))?;
    client
        .request_text(req)
        .await
        .map_err(|e| fail(e.to_string()))?;
    Ok(())
}

/// Replays real pod objects of `cluster` as watch events through decode, projection and
/// apply, on a scratch copy of its state, for two seconds. Returns events per second and
/// how many were measured.
pub async fn pod_events_per_sec(
    live: &LiveFleet,
    cluster: &ClusterHandle,
) -> Result<(f64, u64), BenchError> {
    let client = client(live, &cluster.env, cluster.role).await?;
    let fail = request("listing pods");
    let req = http::Request::get("/api/v1/pods?limit=5000")
        .body(Vec::new())
        .map_err(|e| fail(e.to_string()))?;
    let text = client
        .request_text(req)
        .await
        .map_err(|e| fail(e.to_string()))?;
    let list: serde_json::Value = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
    let raw: Vec<Vec<u8>> = list["items"]
        .as_array()
        .ok_or_else(|| fail("not a pod list".into()))?
        .iter()
        .map(|p| serde_json::to_vec(p).unwrap_or_default())
        .collect();
    if raw.is_empty() {
        return Err(BenchError::NoPods);
    }
    let scratch = ClusterHandle::new(
        &cluster.env,
        cluster.role,
        cluster.config.clone(),
        Arc::new(Changes::default()),
    );
    let decode = request("decoding a pod");
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(2) {
        for bytes in &raw {
            let pod: wire::Pod =
                serde_json::from_slice(bytes).map_err(|e| decode(e.to_string()))?;
            apply(&scratch, Event::Apply(pod));
            n += 1;
        }
    }
    Ok((n as f64 / start.elapsed().as_secs_f64(), n))
}
