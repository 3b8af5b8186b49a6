//! Draining a Machine's Node before it goes, like `kubectl drain --ignore-daemonsets`.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::Pass;
use crate::clock::parse_time;
use crate::cluster::ClusterSim;
use crate::controllers::disruption::evict;
use crate::controllers::objects::{annotation, is_terminating, str_at};
use crate::registry::ids;
use crate::store::{name_of, namespace_of};

/// A drain blocked by a PodDisruptionBudget retries after this.
const DRAIN_RETRY: Duration = Duration::seconds(5);
/// How long past its grace period a drain waits for an evicted pod before going on
/// (CAPI's SkipWaitForDeleteTimeout is the same idea).
const TERMINATION_SLACK: Duration = Duration::seconds(10);

pub(super) enum Drain {
    Done,
    Waiting(String),
}

fn owned_by_daemonset(p: &Value) -> bool {
    p["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|os| os.iter().any(|o| o["kind"] == "DaemonSet"))
}

fn termination_deadline(p: &Value) -> Option<DateTime<Utc>> {
    let since = parse_time(str_at(&p["metadata"]["deletionTimestamp"]))?;
    let grace = p["metadata"]["deletionGracePeriodSeconds"]
        .as_i64()
        .unwrap_or(30);
    Some(since + Duration::seconds(grace) + TERMINATION_SLACK)
}

impl Pass<'_> {
    /// Evicts the node's pods like `kubectl drain --ignore-daemonsets`; done when none
    /// is left (evicted pods are waited for, up to their grace period and some slack).
    pub(super) fn drain(&mut self, target: &ClusterSim, node: &str) -> Drain {
        let (pods, _) = target.store.list(*ids::PODS, None);
        let mut blocked = Vec::new();
        let mut failed = Vec::new();
        let mut terminating = 0;
        for p in pods.iter().filter(|p| p["spec"]["nodeName"] == node) {
            if owned_by_daemonset(p) || annotation(p, "kubernetes.io/config.mirror").is_some() {
                continue;
            }
            let (ns, name) = (namespace_of(p), name_of(p));
            if !is_terminating(p) {
                match evict(target, ns, name, None, crate::store::Write::Commit) {
                    Ok(()) => self.changed = true,
                    Err(e) if e.code == 429 => {
                        blocked.push(format!("{ns}/{name}"));
                        continue;
                    }
                    Err(e) if e.code == 404 => continue,
                    Err(e) => {
                        failed.push(format!("{ns}/{name}: {}", e.message));
                        continue;
                    }
                }
            }
            if let Some(p) = target.store.get(*ids::PODS, ns, name)
                && let Some(deadline) = termination_deadline(&p)
                && !self.pace.reached(deadline)
            {
                terminating += 1;
            }
        }
        if blocked.is_empty() && failed.is_empty() && terminating == 0 {
            return Drain::Done;
        }
        let mut parts = Vec::new();
        if !blocked.is_empty() {
            self.pace.wake_at(self.pace.now + DRAIN_RETRY);
            parts.push(format!(
                "Cannot evict pod as it would violate the pod's disruption budget: {}",
                blocked.join(", ")
            ));
        }
        if !failed.is_empty() {
            self.pace.wake_at(self.pace.now + DRAIN_RETRY);
            parts.push(format!("Failed to evict pods: {}", failed.join("; ")));
        }
        if terminating > 0 {
            parts.push(format!("Waiting for {terminating} pods to terminate"));
        }
        Drain::Waiting(format!("Drain not completed yet: {}", parts.join("; ")))
    }
}
