//! Whether a workload has become what it was asked to be: after a scale or a restart, its
//! pods updated and ready, as `kubectl rollout status` waits for. Reading only: no gate.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::ops::ObjectRef;
use super::{Engine, EngineError};

/// A workload's rollout, from its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    pub desired: i64,
    pub updated: i64,
    pub ready: i64,
    /// The controller has seen the latest spec (`observedGeneration`): before that, its
    /// counts are of the old one.
    pub observed: bool,
}

impl Readiness {
    /// Every pod of the latest spec is there and ready, and no other is counted.
    pub fn done(&self) -> bool {
        self.observed && self.updated >= self.desired && self.ready >= self.desired
    }

    /// `3/5 ready` (and how many are updated while a rollout goes on).
    pub fn summary(&self) -> String {
        let mut text = format!("{}/{} ready", self.ready, self.desired);
        if self.updated < self.desired {
            text.push_str(&format!(", {} updated", self.updated));
        }
        if !self.observed {
            text.push_str(", not yet seen by its controller");
        }
        text
    }

    /// The rollout of `object` (a Deployment, StatefulSet, ReplicaSet or DaemonSet as JSON);
    /// `None` for any other kind, whose readiness has no common form.
    pub fn of(object: &Value) -> Option<Readiness> {
        let (spec, status) = (&object["spec"], &object["status"]);
        let n = |v: &Value| v.as_i64().unwrap_or(0);
        let observed = n(&status["observedGeneration"]) >= n(&object["metadata"]["generation"]);
        match object["kind"].as_str()? {
            "Deployment" | "StatefulSet" => Some(Readiness {
                desired: spec["replicas"].as_i64().unwrap_or(1),
                updated: n(&status["updatedReplicas"]),
                ready: n(&status["readyReplicas"]),
                observed,
            }),
            // A ReplicaSet's pods are all of its one template.
            "ReplicaSet" => Some(Readiness {
                desired: spec["replicas"].as_i64().unwrap_or(1),
                updated: n(&status["replicas"]),
                ready: n(&status["readyReplicas"]),
                observed,
            }),
            "DaemonSet" => Some(Readiness {
                desired: n(&status["desiredNumberScheduled"]),
                updated: n(&status["updatedNumberScheduled"]),
                ready: n(&status["numberReady"]),
                observed,
            }),
            _ => None,
        }
    }
}

impl Engine {
    /// The rollout of `object` now; `None` for a kind without one.
    pub async fn readiness(&self, object: &ObjectRef) -> Result<Option<Readiness>, EngineError> {
        let kind = self.kind(&object.env, object.role, &object.kind).await?;
        let client = self.client(&object.env, object.role).await?;
        let api = crate::objects::api_of(client, &kind, object.namespace.as_deref());
        let now = api
            .get(&object.name)
            .await
            .map_err(|e| EngineError::Observe(crate::failure::of_kube(&e).sentence))?;
        let value = serde_json::to_value(now).map_err(|e| EngineError::Observe(e.to_string()))?;
        Ok(Readiness::of(&value))
    }

    /// Waits until `object`'s rollout is done, reading it every `every` for at most
    /// `patience`, telling `progress` each reading that differs from the last. The last
    /// reading (done or not); `None` for a kind without a rollout.
    pub async fn wait_ready(
        &self,
        object: &ObjectRef,
        patience: Duration,
        every: Duration,
        mut progress: impl FnMut(&Readiness),
    ) -> Result<Option<Readiness>, EngineError> {
        let deadline = Instant::now() + patience;
        let mut last = None;
        loop {
            let Some(now) = self.readiness(object).await? else {
                return Ok(None);
            };
            if last != Some(now) {
                progress(&now);
                last = Some(now);
            }
            if now.done() || Instant::now() >= deadline {
                return Ok(Some(now));
            }
            tokio::time::sleep(every).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_rollout_is_done_when_the_latest_spec_is_ready_in_full() {
        let deploy = |generation, observed, updated, ready| {
            json!({"kind": "Deployment", "metadata": {"generation": generation},
                   "spec": {"replicas": 5},
                   "status": {"observedGeneration": observed, "updatedReplicas": updated,
                              "readyReplicas": ready}})
        };
        let r = Readiness::of(&deploy(2, 2, 5, 5)).unwrap();
        assert!(r.done());
        assert_eq!(r.summary(), "5/5 ready");
        let r = Readiness::of(&deploy(2, 2, 3, 5)).unwrap();
        assert!(!r.done(), "old pods count as ready while new ones come");
        assert_eq!(r.summary(), "5/5 ready, 3 updated");
        let r = Readiness::of(&deploy(3, 2, 5, 5)).unwrap();
        assert!(!r.done(), "the counts are of the spec before");
        let ds = json!({"kind": "DaemonSet", "metadata": {"generation": 1},
                        "status": {"observedGeneration": 1, "desiredNumberScheduled": 3,
                                   "updatedNumberScheduled": 3, "numberReady": 2}});
        assert_eq!(Readiness::of(&ds).unwrap().summary(), "2/3 ready");
        assert_eq!(Readiness::of(&json!({"kind": "ConfigMap"})), None);
    }
}
