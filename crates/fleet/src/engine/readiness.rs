//! Whether a workload has become what it was asked to be: after a scale or a restart, its
//! pods updated and ready, as `kubectl rollout status` waits for. Reading only: no gate.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::ops::ObjectRef;
use super::{Engine, EngineError};

/// A workload's rollout, from its status, read as `kubectl rollout status` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    pub desired: i64,
    /// Pods of the latest spec.
    pub updated: i64,
    /// How many pods of the latest spec the rollout is to make: fewer than `desired` for
    /// a partitioned StatefulSet, none for an OnDelete one.
    pub to_update: i64,
    /// Ready pods (available ones, for a Deployment or DaemonSet: ready for as long as
    /// `minReadySeconds` asks).
    pub ready: i64,
    /// Pods of an older spec still running (a Deployment's old ReplicaSets).
    pub old: i64,
    /// The controller has seen the latest spec (`observedGeneration`): before that, its
    /// counts are of the old one.
    pub observed: bool,
    /// Why the rollout will not finish by waiting (a Deployment past its progress
    /// deadline).
    pub stuck: Option<String>,
}

impl Readiness {
    /// Every pod the rollout is to make is there and ready, and no old one is left.
    pub fn done(&self) -> bool {
        self.observed
            && self.stuck.is_none()
            && self.updated >= self.to_update
            && self.ready >= self.desired
            && self.old <= 0
    }

    /// Waiting will not change the answer: done, or stuck.
    pub fn settled(&self) -> bool {
        self.done() || self.stuck.is_some()
    }

    /// `3/5 ready`, and what else is awaited.
    pub fn summary(&self) -> String {
        let mut text = format!("{}/{} ready", self.ready, self.desired);
        if self.updated < self.to_update {
            text.push_str(&format!(", {}/{} updated", self.updated, self.to_update));
        }
        if self.old > 0 {
            text.push_str(&format!(", {} old still running", self.old));
        }
        if !self.observed {
            text.push_str(", not yet seen by its controller");
        }
        if let Some(why) = &self.stuck {
            text.push_str(&format!("; stuck: {why}"));
        }
        text
    }

    /// The rollout of `object` (a Deployment, StatefulSet, ReplicaSet or DaemonSet as JSON);
    /// `None` for any other kind, whose readiness has no common form.
    pub fn of(object: &Value) -> Option<Readiness> {
        let (spec, status) = (&object["spec"], &object["status"]);
        let n = |v: &Value| v.as_i64().unwrap_or(0);
        let observed = n(&status["observedGeneration"]) >= n(&object["metadata"]["generation"]);
        let replicas = spec["replicas"].as_i64().unwrap_or(1);
        let on_delete = spec["updateStrategy"]["type"] == "OnDelete";
        let base = Readiness {
            desired: replicas,
            updated: 0,
            to_update: 0,
            ready: 0,
            old: 0,
            observed,
            stuck: None,
        };
        Some(match object["kind"].as_str()? {
            "Deployment" => {
                let updated = n(&status["updatedReplicas"]);
                let stuck = status["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|c| {
                        c["type"] == "Progressing" && c["reason"] == "ProgressDeadlineExceeded"
                    })
                    .map(|c| {
                        c["message"]
                            .as_str()
                            .unwrap_or("progress deadline exceeded")
                            .to_owned()
                    });
                Readiness {
                    updated,
                    to_update: replicas,
                    ready: n(&status["availableReplicas"]),
                    old: n(&status["replicas"]) - updated,
                    stuck,
                    ..base
                }
            }
            "StatefulSet" => {
                let partition = n(&spec["updateStrategy"]["rollingUpdate"]["partition"]);
                Readiness {
                    updated: n(&status["updatedReplicas"]),
                    to_update: if on_delete {
                        0
                    } else {
                        (replicas - partition).max(0)
                    },
                    ready: n(&status["readyReplicas"]),
                    ..base
                }
            }
            // A ReplicaSet's pods are all of its one template.
            "ReplicaSet" => Readiness {
                updated: n(&status["replicas"]),
                to_update: replicas,
                ready: n(&status["readyReplicas"]),
                ..base
            },
            "DaemonSet" => {
                let desired = n(&status["desiredNumberScheduled"]);
                Readiness {
                    desired,
                    updated: n(&status["updatedNumberScheduled"]),
                    to_update: if on_delete { 0 } else { desired },
                    ready: n(&status["numberAvailable"]),
                    ..base
                }
            }
            _ => return None,
        })
    }
}

/// How often a wait reads the rollout.
pub const READ_EVERY: Duration = Duration::from_secs(1);

/// How a wait for a rollout ended: whether it rolled out, and the words for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutEnd {
    pub rolled_out: bool,
    pub said: String,
}

impl RolloutEnd {
    /// The end of [`Engine::wait_ready`] after `patience`; `None` for a kind without a
    /// rollout.
    pub fn of(
        waited: Result<Option<Readiness>, EngineError>,
        patience: Duration,
    ) -> Option<RolloutEnd> {
        let (rolled_out, said) = match waited {
            Ok(None) => return None,
            Ok(Some(r)) if r.done() => (true, format!("rolled out: {}", r.summary())),
            Ok(Some(r)) if r.settled() => (false, format!("not rolled out: {}", r.summary())),
            Ok(Some(r)) => (
                false,
                format!(
                    "not rolled out within {} s: {}",
                    patience.as_secs(),
                    r.summary()
                ),
            ),
            Err(e) => (false, format!("its rollout could not be read: {e}")),
        };
        Some(RolloutEnd { rolled_out, said })
    }
}

impl Engine {
    /// The rollout of `object` now; `None` for a kind without one.
    pub async fn readiness(&self, object: &ObjectRef) -> Result<Option<Readiness>, EngineError> {
        let kind = self.kind(&object.env, object.role, &object.kind).await?;
        let client = self.client(&object.env, object.role).await?;
        let api = crate::objects::api_of(client, &kind, object.namespace.as_deref());
        let now = crate::objects::timed(api.get(&object.name))
            .await
            .map_err(EngineError::Observe)?;
        let value = serde_json::to_value(now).map_err(|e| EngineError::Observe(e.to_string()))?;
        Ok(Readiness::of(&value))
    }

    /// Waits until `object`'s rollout is done (or will not be), reading it every `every`
    /// for at most `patience`, telling `progress` each reading that differs from the last.
    /// A reading that fails is tried again until the patience is spent. The last reading
    /// (settled or not); `None` for a kind without a rollout.
    pub async fn wait_ready(
        &self,
        object: &ObjectRef,
        patience: Duration,
        every: Duration,
        mut progress: impl FnMut(&Readiness),
    ) -> Result<Option<Readiness>, EngineError> {
        let start = Instant::now();
        let mut last = None;
        loop {
            let spent = start.elapsed() >= patience;
            match self.readiness(object).await {
                Ok(None) => return Ok(None),
                Ok(Some(now)) => {
                    if last.as_ref() != Some(&now) {
                        progress(&now);
                    }
                    if now.settled() || spent {
                        return Ok(Some(now));
                    }
                    last = Some(now);
                }
                Err(e) if spent => return Err(e),
                Err(e) => tracing::debug!(error = %e, "a rollout reading failed; trying again"),
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
        let deploy = |generation, observed, updated, available, replicas| {
            json!({"kind": "Deployment", "metadata": {"generation": generation},
                   "spec": {"replicas": 5},
                   "status": {"observedGeneration": observed, "updatedReplicas": updated,
                              "availableReplicas": available, "replicas": replicas}})
        };
        let r = Readiness::of(&deploy(2, 2, 5, 5, 5)).unwrap();
        assert!(r.done());
        assert_eq!(r.summary(), "5/5 ready");
        let r = Readiness::of(&deploy(2, 2, 3, 5, 7)).unwrap();
        assert!(!r.done(), "old pods count as available while new ones come");
        assert_eq!(r.summary(), "5/5 ready, 3/5 updated, 4 old still running");
        let r = Readiness::of(&deploy(2, 2, 5, 5, 10)).unwrap();
        assert!(
            !r.done(),
            "a surge: every new pod made, the old ones not gone yet"
        );
        let r = Readiness::of(&deploy(3, 2, 5, 5, 5)).unwrap();
        assert!(!r.done(), "the counts are of the spec before");
        let mut stuck = deploy(2, 2, 3, 3, 5);
        stuck["status"]["conditions"] = json!([{"type": "Progressing", "status": "False",
            "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet web-1 has timed out progressing."}]);
        let r = Readiness::of(&stuck).unwrap();
        assert!(r.settled() && !r.done(), "waiting will not help");
        assert!(
            r.summary()
                .ends_with("stuck: ReplicaSet web-1 has timed out progressing.")
        );

        let sts = |strategy: Value, updated| {
            json!({"kind": "StatefulSet", "metadata": {"generation": 1},
                   "spec": {"replicas": 3, "updateStrategy": strategy},
                   "status": {"observedGeneration": 1, "updatedReplicas": updated, "readyReplicas": 3}})
        };
        let partitioned = json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 2}});
        assert!(
            Readiness::of(&sts(partitioned, 1)).unwrap().done(),
            "a canary of one"
        );
        assert!(
            Readiness::of(&sts(json!({"type": "OnDelete"}), 0))
                .unwrap()
                .done()
        );
        assert!(
            !Readiness::of(&sts(json!({"type": "RollingUpdate"}), 2))
                .unwrap()
                .done()
        );

        let ds = json!({"kind": "DaemonSet", "metadata": {"generation": 1},
                        "status": {"observedGeneration": 1, "desiredNumberScheduled": 3,
                                   "updatedNumberScheduled": 3, "numberAvailable": 2}});
        assert_eq!(Readiness::of(&ds).unwrap().summary(), "2/3 ready");
        assert_eq!(Readiness::of(&json!({"kind": "ConfigMap"})), None);
    }
}
