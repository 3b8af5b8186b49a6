//! Every node's kubelet at once.
//!
//! Conventions: pods start about two simulated seconds after they are bound; pods with
//! `restartPolicy` Never or OnFailure run to completion after [`RUN_SECONDS`] (default
//! 3) and fail instead when annotated [`FAIL_POD`]; pods annotated [`CRASHLOOP`]
//! crash-loop; pods on a node that is not Ready lose readiness and, being out of reach,
//! are neither started nor finished off when deleted.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::{pod_condition, with_condition};
use crate::clock::{k8s_time, parse_time};
use crate::cluster::{ClusterSim, FleetOps};
use crate::controllers::Controller;
use crate::controllers::events;
use crate::controllers::objects::{find_condition, is_terminating, patch, write_status};
use crate::controllers::pacing::{Pacer, Pass};
use crate::controllers::readiness::{is_finished, is_ready, node_ready};
use crate::hash::fnv64;
use crate::registry::ids;
use crate::store::{DeleteOptions, Obj, name_of, namespace_of, uid_of};

/// Pod annotation: its containers crash-loop (`"true"`).
pub const CRASHLOOP: &str = "sim.ck8s.io/crashloop";
/// Pod annotation: a run-to-completion pod ends Failed (exit code 1) instead of Succeeded.
pub const FAIL_POD: &str = "sim.ck8s.io/fail";
/// Pod annotation: seconds a run-to-completion pod runs before it ends (default 3).
pub const RUN_SECONDS: &str = "sim.ck8s.io/run-seconds";
/// Time from binding to Running.
const START_DELAY: Duration = Duration::seconds(2);
/// A crash-looping container restarts this often.
const CRASH_EVERY: Duration = Duration::seconds(30);
/// How long a pod bound to an unknown node survives (the pod GC's node quarantine).
const ORPHAN_QUARANTINE: Duration = Duration::seconds(40);
/// The longest a deleted pod takes to go, whatever its grace period.
const MAX_GRACE_SECS: i64 = 2;

/// Every node's kubelet at once: starts bound pods, runs jobs to completion, crash-loops
/// pods on request, reflects node outages and removes deleted pods.
#[derive(Debug, Default)]
pub struct Kubelet {
    pacer: Pacer,
}

impl Controller for Kubelet {
    fn name(&self) -> &'static str {
        "kubelet"
    }

    fn reconcile(&self, cluster: &ClusterSim, _fleet: &dyn FleetOps) -> bool {
        self.pacer.run(cluster, |pass| {
            let (pods, _) = cluster.store.list(*ids::PODS, None);
            let (nodes, _) = cluster.store.list(*ids::NODES, None);
            let nodes: HashMap<&str, &Obj> = nodes.iter().map(|n| (name_of(n), n)).collect();
            let mut changed = false;
            for pod in &pods {
                changed |= sync_pod(cluster, pod, &nodes, pass);
            }
            changed
        })
    }
}

fn sync_pod(cluster: &ClusterSim, pod: &Obj, nodes: &HashMap<&str, &Obj>, pass: &mut Pass) -> bool {
    let node = pod["spec"]["nodeName"]
        .as_str()
        .filter(|n| !n.is_empty())
        .map(|n| nodes.get(n).copied());
    if is_terminating(pod) {
        return finish_deletion(cluster, pod, node, pass);
    }
    let node = match node {
        None => return false,
        Some(None) => return collect_orphan(cluster, pod, pass),
        Some(Some(n)) => n,
    };
    if !node_ready(node) {
        return mark_not_ready(cluster, pod, pass.now);
    }
    match pod["status"]["phase"].as_str() {
        Some("Pending") | None => {
            let bound = find_condition(&pod["status"]["conditions"], "PodScheduled")
                .and_then(|c| c["lastTransitionTime"].as_str())
                .or(pod["metadata"]["creationTimestamp"].as_str())
                .and_then(parse_time);
            pass.elapsed(bound, START_DELAY) && refresh(cluster, pod, node, pass)
        }
        Some("Running") if runs_to_completion(pod) => {
            let started = pod["status"]["startTime"].as_str().and_then(parse_time);
            let secs = pod["metadata"]["annotations"][RUN_SECONDS]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(3);
            if pass.elapsed(started, Duration::seconds(secs)) {
                write_status(
                    &cluster.store,
                    *ids::PODS,
                    pod,
                    completed_status(pod, pass.now),
                )
            } else {
                false
            }
        }
        Some("Running") if settled(pod) => false,
        Some("Running") => refresh(cluster, pod, node, pass),
        _ => false,
    }
}

/// A deleted pod goes after its (capped) grace period; unscheduled and finished pods at
/// once, and pods on an unreachable node not at all, until the node returns.
fn finish_deletion(
    cluster: &ClusterSim,
    pod: &Obj,
    node: Option<Option<&Obj>>,
    pass: &mut Pass,
) -> bool {
    match node {
        None | Some(None) => return force_delete(cluster, pod),
        Some(Some(n)) if !node_ready(n) => return mark_not_ready(cluster, pod, pass.now),
        Some(Some(_)) if is_finished(pod) => return force_delete(cluster, pod),
        Some(Some(_)) => {}
    }
    let since = pod["metadata"]["deletionTimestamp"]
        .as_str()
        .and_then(parse_time);
    let grace = pod["metadata"]["deletionGracePeriodSeconds"]
        .as_i64()
        .unwrap_or(30)
        .clamp(0, MAX_GRACE_SECS);
    pass.elapsed(since, Duration::seconds(grace)) && force_delete(cluster, pod)
}

/// Pod GC of pods bound to a node that does not exist: after a quarantine, as the real
/// one, so a pod created just before its node is not lost.
fn collect_orphan(cluster: &ClusterSim, pod: &Obj, pass: &mut Pass) -> bool {
    let created = pod["metadata"]["creationTimestamp"]
        .as_str()
        .and_then(parse_time)
        .unwrap_or(pass.now);
    pass.reached(created + ORPHAN_QUARANTINE) && force_delete(cluster, pod)
}

fn runs_to_completion(pod: &Value) -> bool {
    matches!(
        pod["spec"]["restartPolicy"].as_str(),
        Some("Never" | "OnFailure")
    )
}

fn crashlooping(pod: &Value) -> bool {
    pod["metadata"]["annotations"][CRASHLOOP] == "true"
}

/// A healthy running pod with nothing to do: the common case, checked without building
/// anything so 15 000 steady pods cost little.
fn settled(pod: &Value) -> bool {
    !crashlooping(pod)
        && is_ready(pod)
        && pod["status"]["containerStatuses"]
            .as_array()
            .is_some_and(|cs| cs.iter().all(|c| c["ready"] == true))
}

/// The kubelet of an unreachable node reports nothing; the node controller marks its
/// pods not Ready. Only the Ready condition changes, as the node lifecycle controller's
/// MarkPodsNotReady does: ContainersReady and the container statuses are the kubelet's
/// last report, which nobody can update while the node is gone.
fn mark_not_ready(cluster: &ClusterSim, pod: &Obj, now: DateTime<Utc>) -> bool {
    if !is_ready(pod) {
        return false;
    }
    let conds = &pod["status"]["conditions"];
    let cond = pod_condition(conds, "Ready", "False", None, None, now);
    let conditions = with_condition(conds, cond);
    patch(&cluster.store, *ids::PODS, pod, |next| {
        next["status"]["conditions"] = conditions
    })
    .is_some()
}

/// Brings a pod to its running state (started, healthy or crash-looping) and writes it
/// if that differs from what is stored.
fn refresh(cluster: &ClusterSim, pod: &Obj, node: &Value, pass: &mut Pass) -> bool {
    let now = pass.now;
    let prev = &pod["status"];
    let crash = crashlooping(pod) && !runs_to_completion(pod);
    let mut restarted = Vec::new();
    let containers = pod["spec"]["containers"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    let statuses: Vec<Value> = containers
        .iter()
        .map(|c| {
            let prev_c = prev["containerStatuses"]
                .as_array()
                .and_then(|cs| cs.iter().find(|s| s["name"] == c["name"]));
            let (status, restart) = container_status(pod, c, prev_c, crash, now, pass);
            if restart {
                restarted.push((
                    c["name"].as_str().unwrap_or("").to_string(),
                    status["restartCount"].as_i64().unwrap_or(0),
                ));
            }
            status
        })
        .collect();
    let all_ready = statuses.iter().all(|s| s["ready"] == true);
    let status = running_status(pod, node, statuses, all_ready, now);
    let wrote = write_status(&cluster.store, *ids::PODS, pod, status);
    if wrote {
        for (c, count) in restarted {
            // Every other restart: at most one BackOff per simulated minute per pod.
            if count % 2 == 0 {
                let msg = format!(
                    "Back-off restarting failed container {c} in pod {}_{}({})",
                    name_of(pod),
                    namespace_of(pod),
                    uid_of(pod)
                );
                events::record_from(
                    cluster,
                    pod,
                    "kubelet",
                    node["metadata"]["name"].as_str(),
                    "Warning",
                    "BackOff",
                    &msg,
                );
            }
        }
    }
    wrote
}

fn running_status(
    pod: &Value,
    node: &Value,
    statuses: Vec<Value>,
    all_ready: bool,
    now: DateTime<Utc>,
) -> Value {
    let prev = &pod["status"];
    let conds = &prev["conditions"];
    let ready = if all_ready { "True" } else { "False" };
    let (reason, message) = if all_ready {
        (None, None)
    } else {
        let names: Vec<&str> = statuses
            .iter()
            .filter(|s| s["ready"] != true)
            .filter_map(|s| s["name"].as_str())
            .collect();
        (
            Some("ContainersNotReady"),
            Some(format!(
                "containers with unready status: [{}]",
                names.join(" ")
            )),
        )
    };
    let conditions = json!([
        pod_condition(conds, "PodReadyToStartContainers", "True", None, None, now),
        pod_condition(conds, "Initialized", "True", None, None, now),
        pod_condition(conds, "Ready", ready, reason, message.as_deref(), now),
        pod_condition(
            conds,
            "ContainersReady",
            ready,
            reason,
            message.as_deref(),
            now
        ),
        pod_condition(conds, "PodScheduled", "True", None, None, now),
    ]);
    let host_ip = node_ip(node);
    let pod_ip = if pod["spec"]["hostNetwork"] == true {
        host_ip.clone()
    } else {
        pod_ip(pod, node)
    };
    let mut status = json!({
        "phase": "Running",
        "conditions": conditions,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "startTime": prev["startTime"].as_str().map_or_else(|| k8s_time(now), str::to_string),
        "containerStatuses": statuses,
        "qosClass": prev["qosClass"].as_str().unwrap_or("BestEffort"),
    });
    if let Some(inits) = pod["spec"]["initContainers"].as_array() {
        let started = status["startTime"].clone();
        let done: Vec<Value> = inits
            .iter()
            .map(|c| {
                let mut s = base_container(pod, c, 0);
                s["state"] = json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started, "finishedAt": started, "containerID": s["containerID"]}});
                s["ready"] = json!(true);
                s["started"] = json!(false);
                s
            })
            .collect();
        status["initContainerStatuses"] = json!(done);
    }
    status
}

/// One container's status, evolving from its previous one. Returns whether it
/// (re)crashed just now.
fn container_status(
    pod: &Value,
    c: &Value,
    prev: Option<&Value>,
    crash: bool,
    now: DateTime<Utc>,
    pass: &mut Pass,
) -> (Value, bool) {
    let restarts = prev.and_then(|p| p["restartCount"].as_i64()).unwrap_or(0);
    if !crash {
        let started_at = prev
            .and_then(|p| p["state"]["running"]["startedAt"].as_str())
            .map_or_else(|| k8s_time(now), str::to_string);
        let mut s = base_container(pod, c, restarts);
        s["state"] = json!({"running": {"startedAt": started_at}});
        s["lastState"] = prev.map_or(json!({}), |p| p["lastState"].clone());
        s["ready"] = json!(true);
        s["started"] = json!(true);
        return (s, false);
    }
    let waiting = prev.is_some_and(|p| p["state"]["waiting"]["reason"] == "CrashLoopBackOff");
    let last_crash = prev
        .and_then(|p| p["lastState"]["terminated"]["finishedAt"].as_str())
        .and_then(parse_time);
    // Crash timing follows the clock even while booting: a settling fleet must not
    // rack up restarts without simulated time passing.
    let due = match last_crash {
        Some(t) if waiting => {
            if now < t + CRASH_EVERY {
                pass.wake_at(t + CRASH_EVERY);
            }
            now >= t + CRASH_EVERY
        }
        _ => true,
    };
    if !due {
        return (prev.cloned().unwrap_or(Value::Null), false);
    }
    let restarts = restarts + 1;
    pass.wake_at(now + CRASH_EVERY);
    let mut s = base_container(pod, c, restarts);
    let name = c["name"].as_str().unwrap_or("");
    let message = format!(
        "back-off 30s restarting failed container={name} pod={}_{}({})",
        name_of(pod),
        namespace_of(pod),
        uid_of(pod)
    );
    s["state"] = json!({"waiting": {"reason": "CrashLoopBackOff", "message": message}});
    s["lastState"] = json!({"terminated": {
        "exitCode": 1,
        "reason": "Error",
        "startedAt": k8s_time(now - Duration::seconds(1)),
        "finishedAt": k8s_time(now),
        "containerID": container_id(pod, name, restarts - 1),
    }});
    s["ready"] = json!(false);
    s["started"] = json!(false);
    (s, true)
}

fn base_container(pod: &Value, c: &Value, restarts: i64) -> Value {
    let name = c["name"].as_str().unwrap_or("");
    let image = c["image"].as_str().unwrap_or("");
    json!({
        "name": name,
        "image": image,
        "imageID": image_id(image),
        "containerID": container_id(pod, name, restarts),
        "restartCount": restarts,
    })
}

/// Pods that ran to completion: Succeeded, or Failed when annotated [`FAIL_POD`].
fn completed_status(pod: &Value, now: DateTime<Utc>) -> Value {
    let fail = pod["metadata"]["annotations"][FAIL_POD] == "true";
    let (phase, code, reason, cond_reason) = if fail {
        ("Failed", 1, "Error", "PodFailed")
    } else {
        ("Succeeded", 0, "Completed", "PodCompleted")
    };
    let prev = &pod["status"];
    let statuses: Vec<Value> = prev["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let mut s = s.clone();
            let started = s["state"]["running"]["startedAt"].clone();
            s["state"] = json!({"terminated": {
                "exitCode": code,
                "reason": reason,
                "startedAt": started,
                "finishedAt": k8s_time(now),
                "containerID": s["containerID"],
            }});
            s["ready"] = json!(false);
            s["started"] = json!(false);
            s
        })
        .collect();
    let conds = &prev["conditions"];
    let mut status = prev.clone();
    status["phase"] = json!(phase);
    status["containerStatuses"] = json!(statuses);
    status["conditions"] = json!([
        pod_condition(conds, "PodReadyToStartContainers", "False", None, None, now),
        pod_condition(conds, "Initialized", "True", None, None, now),
        pod_condition(conds, "Ready", "False", Some(cond_reason), None, now),
        pod_condition(
            conds,
            "ContainersReady",
            "False",
            Some(cond_reason),
            None,
            now
        ),
        pod_condition(conds, "PodScheduled", "True", None, None, now),
    ]);
    status
}

/// 64 hex digits derived from `seed`, for container IDs and image digests.
fn hex64(seed: &str) -> String {
    let h = fnv64(seed.as_bytes());
    (0..4u64)
        .map(|i| format!("{:016x}", splitmix(h.wrapping_add(i))))
        .collect()
}

/// A strong bit mixer, so adjacent inputs give unrelated-looking digits.
fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn container_id(pod: &Value, container: &str, restarts: i64) -> String {
    format!(
        "containerd://{}",
        hex64(&format!("{}/{container}/{restarts}", uid_of(pod)))
    )
}

/// `registry/repo@sha256:<digest>`, stable per image reference.
fn image_id(image: &str) -> String {
    let repo = match image.rsplit_once(':') {
        Some((r, tag)) if !tag.contains('/') => r,
        _ => image,
    };
    let repo = repo.split('@').next().unwrap_or(repo);
    let qualified = if repo.contains('/') {
        repo.to_string()
    } else {
        format!("docker.io/library/{repo}")
    };
    format!("{qualified}@sha256:{}", hex64(image))
}

fn node_ip(node: &Value) -> String {
    node["status"]["addresses"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["type"] == "InternalIP")
        .and_then(|a| a["address"].as_str())
        .unwrap_or("")
        .to_string()
}

/// An address in the node's /24 pod block (its `podCIDR`, or one of 10.244.0.0/16
/// picked by node name), the host part derived from the pod uid so it is stable.
fn pod_ip(pod: &Value, node: &Value) -> String {
    let host = 2 + splitmix(fnv64(uid_of(pod).as_bytes())) % 250;
    let prefix: Option<Vec<&str>> = node["spec"]["podCIDR"]
        .as_str()
        .and_then(|c| c.split('/').next())
        .map(|ip| ip.split('.').take(3).collect());
    match prefix {
        Some(p) if p.len() == 3 => format!("{}.{}.{}.{host}", p[0], p[1], p[2]),
        _ => {
            let block = splitmix(fnv64(name_of(node).as_bytes())) % 256;
            format!("10.244.{block}.{host}")
        }
    }
}

fn force_delete(cluster: &ClusterSim, pod: &Value) -> bool {
    let opts = DeleteOptions {
        grace_period_seconds: Some(0),
        ..DeleteOptions::default()
    };
    cluster
        .store
        .delete(*ids::PODS, namespace_of(pod), name_of(pod), opts)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;

    use crate::controllers::testkit::*;

    #[test]
    fn kubelet_starts_after_a_delay_with_full_status() {
        let c = cluster_at(start(), 20.0, 1);
        c.booting.store(false, Ordering::Relaxed);
        let ctl = controllers();
        c.store.create(*ids::PODS, pod("web")).unwrap();
        for k in &ctl {
            k.reconcile(&c, &NoFleet);
        }
        let p = c.store.get(*ids::PODS, "default", "web").unwrap();
        assert_eq!(p["spec"]["nodeName"], "worker-1");
        assert_eq!(p["status"]["phase"], "Pending", "not started right away");
        run_until(&c, &ctl, 2_000, |c| {
            c.store.get(*ids::PODS, "default", "web").unwrap()["status"]["phase"] == "Running"
        });
        let p = c.store.get(*ids::PODS, "default", "web").unwrap();
        let s = &p["status"];
        assert!(s["podIP"].as_str().unwrap().starts_with("10.244."));
        assert_eq!(s["hostIP"], "192.168.0.18");
        assert!(s["startTime"].is_string());
        let cs = &s["containerStatuses"][0];
        assert_eq!(
            (
                cs["name"].as_str(),
                cs["ready"].as_bool(),
                cs["started"].as_bool(),
                cs["restartCount"].as_i64()
            ),
            (Some("app"), Some(true), Some(true), Some(0))
        );
        assert!(
            cs["containerID"]
                .as_str()
                .unwrap()
                .starts_with("containerd://")
        );
        assert!(
            cs["imageID"]
                .as_str()
                .unwrap()
                .starts_with("docker.io/library/nginx@sha256:")
        );
        assert!(cs["state"]["running"]["startedAt"].is_string());
        for t in ["Initialized", "Ready", "ContainersReady", "PodScheduled"] {
            assert_eq!(
                find_condition(&s["conditions"], t).unwrap()["status"],
                "True",
                "{t}"
            );
        }
    }

    #[test]
    fn crash_loop_restart_count_grows_with_back_off_events() {
        let c = cluster_at(start(), 1000.0, 1);
        c.booting.store(false, Ordering::Relaxed);
        let ctl = controllers();
        let mut p = pod("crashy");
        p["metadata"]["annotations"] = json!({CRASHLOOP: "true"});
        c.store.create(*ids::PODS, p).unwrap();
        let restarts = |c: &ClusterSim| {
            c.store.get(*ids::PODS, "default", "crashy").unwrap()["status"]["containerStatuses"][0]
                ["restartCount"]
                .as_i64()
                .unwrap_or(0)
        };
        run_until(&c, &ctl, 5_000, |c| restarts(c) >= 4);
        let p = c.store.get(*ids::PODS, "default", "crashy").unwrap();
        let cs = &p["status"]["containerStatuses"][0];
        assert_eq!(p["status"]["phase"], "Running");
        assert_eq!(cs["state"]["waiting"]["reason"], "CrashLoopBackOff");
        assert_eq!(cs["lastState"]["terminated"]["exitCode"], 1);
        assert_eq!(cs["ready"], false);
        assert_eq!(
            find_condition(&p["status"]["conditions"], "Ready").unwrap()["status"],
            "False"
        );
        let (events, _) = c.store.list(*ids::EVENTS, Some("default"));
        let backoff = events
            .iter()
            .find(|e| e["reason"] == "BackOff")
            .expect("BackOff event");
        assert!(
            backoff["message"]
                .as_str()
                .unwrap()
                .starts_with("Back-off restarting failed container app in pod crashy")
        );
        // Simulated time between restarts is about 30 s, so the count tracks the clock.
        let elapsed = (c.clock.now() - start()).num_seconds();
        assert!(
            restarts(&c) <= elapsed / 30 + 2,
            "{} restarts in {elapsed}s",
            restarts(&c)
        );
    }

    #[test]
    fn deleted_pods_go_after_a_short_grace() {
        let c = cluster_at(start(), 20.0, 1);
        let ctl = controllers();
        c.store.create(*ids::PODS, pod("web")).unwrap();
        settle(&c, &ctl);
        c.booting.store(false, Ordering::Relaxed);
        c.store
            .delete(*ids::PODS, "default", "web", DeleteOptions::default())
            .unwrap();
        for k in &ctl {
            k.reconcile(&c, &NoFleet);
        }
        assert!(
            c.store.get(*ids::PODS, "default", "web").is_some(),
            "terminating first"
        );
        run_until(&c, &ctl, 2_000, |c| {
            c.store.get(*ids::PODS, "default", "web").is_none()
        });
    }

    #[test]
    fn pods_on_a_node_that_goes_not_ready_lose_readiness() {
        let c = cluster(1);
        let ctl = controllers();
        c.store.create(*ids::PODS, pod("web")).unwrap();
        settle(&c, &ctl);
        edit(&c, *ids::NODES, "", "worker-1", |next| {
            next["metadata"]["annotations"] = json!({"sim.ck8s.io/not-ready": "true"});
        });
        settle(&c, &ctl);
        let p = c.store.get(*ids::PODS, "default", "web").unwrap();
        assert!(!is_ready(&p));
        assert!(
            !is_terminating(&p),
            "the default 300 s toleration runs on the clock, even while booting"
        );
        // Deleting it now leaves it Terminating: nobody is there to stop it.
        c.store
            .delete(*ids::PODS, "default", "web", DeleteOptions::default())
            .unwrap();
        settle(&c, &ctl);
        assert!(
            c.store
                .get(*ids::PODS, "default", "web")
                .is_some_and(|p| is_terminating(&p))
        );
    }
}
