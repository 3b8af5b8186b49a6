//! `pods/log`: plausible, reproducible container output, and `follow=true` streaming
//! that ends when the pod goes.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::Params;
use crate::cluster::ClusterSim;
use crate::registry::{KINDS, ids};
use crate::status::ApiError;

/// Simulated seconds between two log lines of a container.
const LINE_EVERY_SECS: i64 = 7;
/// Lines a log starts with when no tail is asked for, like a container that ran a while.
const HISTORY: i64 = 200;

fn hash(s: &str) -> u64 {
    crate::hash::fnv64(s.as_bytes())
}

/// A line of the log of run `run` of a container (its restart count when it ran): each
/// run logs its own lines, so a previous run's log differs from the current one.
fn log_line(
    pod: &str,
    container: &str,
    crashing: bool,
    (run, n): (i64, i64),
    at: DateTime<Utc>,
    stamps: bool,
) -> String {
    let h = hash(&format!("{pod}/{container}/{run}/{n}"));
    let text = if crashing && n % 5 == 4 {
        "level=error msg=\"fatal: could not connect to database: connection refused\"".to_string()
    } else {
        const PATHS: &[&str] = &[
            "/healthz",
            "/api/v1/orders",
            "/api/v1/users",
            "/metrics",
            "/",
        ];
        // Path and duration from different bits of the hash: taken from the same ones,
        // the path would follow from the duration, and two containers' logs would share
        // most of their few hundred lines.
        let path = PATHS[((h >> 32) % PATHS.len() as u64) as usize];
        let ms = 1 + h % 250;
        format!(
            "level=info msg=\"request handled\" method=GET path={path} status=200 duration={ms}ms"
        )
    };
    if stamps {
        format!("{} {text}\n", at.format("%Y-%m-%dT%H:%M:%S%.9fZ"))
    } else {
        format!("{text}\n")
    }
}

/// Serves a container log. Errors mirror the real server's: an unknown pod is 404, an
/// unknown container 400.
pub fn serve(cluster: Arc<ClusterSim>, (ns, name): &(String, String), params: &Params) -> Response {
    match prepare(&cluster, ns, name, params) {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

fn prepare(
    cluster: &Arc<ClusterSim>,
    ns: &str,
    name: &str,
    params: &Params,
) -> Result<Response, ApiError> {
    let k = &KINDS[*ids::PODS];
    let pod = cluster
        .store
        .get(*ids::PODS, ns, name)
        .ok_or_else(|| ApiError::not_found(k.group, k.plural, name))?;
    let names = |field: &str| -> Vec<String> {
        pod["spec"][field]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str().map(String::from))
            .collect()
    };
    let (containers, init) = (names("containers"), names("initContainers"));
    let container = match params.get("container") {
        // An init container's log may be asked for by name too, never by default.
        Some(c) if containers.contains(c) || init.contains(c) => c.clone(),
        Some(c) => {
            return Err(ApiError::bad_request(format!(
                "container {c} is not valid for pod {name}"
            )));
        }
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            let mut said = format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            );
            if !init.is_empty() {
                said.push_str(&format!(
                    " or one of the init containers: [{}]",
                    init.join(" ")
                ));
            }
            return Err(ApiError::bad_request(said));
        }
    };
    if pod["status"]["phase"] == "Pending" {
        return Err(ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{name}\" is waiting to start: ContainerCreating"
        )));
    }
    let crashing = pod["metadata"]["annotations"]["sim.ck8s.io/crashloop"] == "true";
    let restarts = pod["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["name"] == container.as_str())
        .and_then(|s| s["restartCount"].as_i64())
        .unwrap_or(0);
    let stamps = super::param_bool(params, "timestamps");
    // As the apiserver's validation: positive numbers only.
    for p in ["limitBytes", "sinceSeconds", "tailLines"] {
        let bad = params.get(p).is_some_and(|v| {
            v.parse::<i64>()
                .map_or(true, |n| n < 0 || (n == 0 && p != "tailLines"))
        });
        if bad {
            return Err(ApiError::invalid(
                "PodLogOptions",
                "",
                format!("{p}: Invalid value: {}: must be greater than 0", params[p]),
            ));
        }
    }
    if super::param_bool(params, "previous") {
        // As the kubelet: only a container that restarted has a previous log.
        if restarts == 0 {
            return Err(ApiError::bad_request(format!(
                "previous terminated container \"{container}\" in pod \"{name}\" not found"
            )));
        }
        let text = previous_log(name, &container, restarts - 1, cluster.clock.now(), stamps);
        return Ok((
            [(header::CONTENT_TYPE, "text/plain")],
            limited(text, params),
        )
            .into_response());
    }
    let tail = params
        .get("tailLines")
        .and_then(|t| t.parse::<i64>().ok())
        .unwrap_or(HISTORY)
        .clamp(0, HISTORY);
    let now = cluster.clock.now();
    let n_now = now.timestamp() / LINE_EVERY_SECS;
    let at = move |n: i64| DateTime::from_timestamp(n * LINE_EVERY_SECS, 0).unwrap_or(now);
    let since = params
        .get("sinceSeconds")
        .and_then(|s| s.parse::<i64>().ok())
        .and_then(chrono::TimeDelta::try_seconds)
        .and_then(|d| now.checked_sub_signed(d));
    let mut text = String::new();
    for n in (n_now - tail + 1)..=n_now {
        if since.is_some_and(|since| at(n) < since) {
            continue;
        }
        text.push_str(&log_line(
            name,
            &container,
            crashing,
            (restarts, n),
            at(n),
            stamps,
        ));
    }
    let follow = super::param_bool(params, "follow");
    if !follow {
        return Ok((
            [(header::CONTENT_TYPE, "text/plain")],
            limited(text, params),
        )
            .into_response());
    }
    let cluster = cluster.clone();
    let (ns, name) = (ns.to_string(), name.to_string());
    let uid = pod["metadata"]["uid"].clone();
    let stream = async_stream::stream! {
        yield Ok::<_, std::convert::Infallible>(Bytes::from(text));
        let mut n = n_now;
        loop {
            cluster.clock.sleep(Duration::from_secs(LINE_EVERY_SECS as u64)).await;
            let alive = cluster.store.get(*ids::PODS, &ns, &name).is_some_and(|p: Arc<Value>| p["metadata"]["uid"] == uid);
            if !alive {
                break;
            }
            n += 1;
            yield Ok(Bytes::from(log_line(&name, &container, crashing, (restarts, n), at(n), stamps)));
        }
    };
    Ok((
        [(header::CONTENT_TYPE, "text/plain")],
        Body::from_stream(stream),
    )
        .into_response())
}

/// The log of a run that ended: a few lines, then the error it died of.
fn previous_log(pod: &str, container: &str, run: i64, now: DateTime<Utc>, stamps: bool) -> String {
    let ended = now - chrono::TimeDelta::seconds(30);
    let mut text = String::new();
    for n in 0..12 {
        let at = ended - chrono::TimeDelta::seconds((12 - n) * LINE_EVERY_SECS);
        text.push_str(&log_line(pod, container, false, (run, n), at, stamps));
    }
    let last = "level=fatal msg=\"could not connect to database: connection refused\" exit=1";
    if stamps {
        text.push_str(&format!(
            "{} {last}\n",
            ended.format("%Y-%m-%dT%H:%M:%S%.9fZ")
        ));
    } else {
        text.push_str(&format!("{last}\n"));
    }
    text
}

/// `limitBytes`: at most that many bytes of the log, cut at a character boundary.
fn limited(mut text: String, params: &Params) -> String {
    if let Some(limit) = params
        .get("limitBytes")
        .and_then(|l| l.parse::<usize>().ok())
    {
        let mut end = limit.min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_reproducible_and_crashers_log_errors() {
        let t = Utc::now();
        assert_eq!(
            log_line("p", "c", false, (0, 3), t, false),
            log_line("p", "c", false, (0, 3), t, false)
        );
        assert!(log_line("p", "c", true, (0, 4), t, false).contains("level=error"));
        assert!(
            log_line("p", "c", false, (0, 4), t, true)
                .starts_with(&t.format("%Y-%m-%dT").to_string())
        );
        // Every path with every duration: well over 250 different lines.
        let texts: std::collections::HashSet<String> = (0..5000)
            .map(|n| log_line("p", "c", false, (0, n), t, false))
            .collect();
        assert!(texts.len() > 900, "{} different lines", texts.len());
        let previous = previous_log("p", "c", 2, t, false);
        assert!(previous.ends_with("exit=1\n"), "{previous}");
        assert_ne!(
            previous,
            previous_log("p", "c", 1, t, false),
            "each run its own"
        );
    }
}
