//! Job → pods until `completions` succeeded or `backoffLimit` failures, with
//! deadlines, suspension and TTL after finishing.

use chrono::Duration;
use serde_json::{Value, json};

use super::pod_template::{create_pod, new_pod};
use super::{BURST, FAIL_JOBS, namespace_terminating, put_nonzero, reconcile_owners};
use crate::clock::{k8s_time, parse_time};
use crate::cluster::{ClusterSim, FleetOps};
use crate::controllers::Controller;
use crate::controllers::events::{self, normal_event};
use crate::controllers::objects::{
    annotation, condition, condition_true, controller_of, delete, delete_all, find_condition,
    write_status,
};
use crate::controllers::pacing::{Pacer, Pass};
use crate::controllers::pods::FAIL_POD;
use crate::controllers::readiness::{is_active, is_ready};
use crate::registry::ids;
use crate::store::{Obj, name_of, namespace_of, uid_of};

/// Job → pods until `completions` succeeded or `backoffLimit` failures.
#[derive(Debug, Default)]
pub struct Jobs {
    pacer: Pacer,
}

impl Controller for Jobs {
    fn name(&self) -> &'static str {
        "jobs"
    }

    fn reconcile(&self, cluster: &ClusterSim, _fleet: &dyn FleetOps) -> bool {
        reconcile_owners(&self.pacer, cluster, (*ids::JOBS, *ids::PODS), sync_job)
    }
}

/// A Job has finished when it carries a True Complete or Failed condition.
pub fn job_finished(job: &Value) -> Option<&'static str> {
    ["Complete", "Failed"]
        .into_iter()
        .find(|t| condition_true(job, t))
}

fn sync_job(cluster: &ClusterSim, job: &Obj, pods: &[&Obj], pass: &mut Pass) -> bool {
    let phase_count = |ph: &str| pods.iter().filter(|p| p["status"]["phase"] == ph).count() as i64;
    let (succeeded, failed) = (phase_count("Succeeded"), phase_count("Failed"));
    let active: Vec<&Obj> = pods.iter().copied().filter(|p| is_active(p)).collect();
    let spec = &job["spec"];
    let prev_conds = &job["status"]["conditions"];
    let now = pass.now;
    let mut changed = false;
    if let Some(outcome) = job_finished(job) {
        changed |= delete_all(&cluster.store, *ids::PODS, &active);
        if let Some(ttl) = spec["ttlSecondsAfterFinished"].as_i64() {
            let done = job["status"]["completionTime"]
                .as_str()
                .or_else(|| {
                    find_condition(prev_conds, outcome)
                        .and_then(|c| c["lastTransitionTime"].as_str())
                })
                .and_then(parse_time);
            if done.is_none_or(|t| pass.reached(t + Duration::seconds(ttl))) {
                return delete(&cluster.store, *ids::JOBS, job) | changed;
            }
        }
        let mut status = job["status"].clone();
        let _ = status.as_object_mut().map(|s| s.remove("active"));
        status["ready"] = json!(0);
        put_nonzero(&mut status, "succeeded", succeeded);
        put_nonzero(&mut status, "failed", failed);
        return changed | write_status(&cluster.store, *ids::JOBS, job, status);
    }
    let completions = spec["completions"].as_i64().unwrap_or(1).max(1);
    let parallelism = spec["parallelism"].as_i64().unwrap_or(1).max(0);
    let backoff = spec["backoffLimit"].as_i64().unwrap_or(6).max(0);
    let suspended = spec["suspend"] == true;
    let start = job["status"]["startTime"].as_str().and_then(parse_time);
    let deadline = spec["activeDeadlineSeconds"]
        .as_i64()
        .map(Duration::seconds);
    let mut conditions: Vec<Value> = Vec::new();
    let mut completion_time = None;
    let failure = if failed > backoff {
        Some((
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
        ))
    } else if let (Some(s), Some(d)) = (start, deadline)
        && !suspended
        && pass.reached(s + d)
    {
        Some((
            "DeadlineExceeded",
            "Job was active longer than specified deadline",
        ))
    } else {
        None
    };
    if let Some((reason, message)) = failure {
        changed |= delete_all(&cluster.store, *ids::PODS, &active);
        conditions.push(condition(
            prev_conds,
            ("Failed", "True", reason, message),
            now,
            None,
        ));
        events::record(cluster, job, "Warning", reason, message);
    } else if succeeded >= completions {
        conditions.push(condition(
            prev_conds,
            (
                "Complete",
                "True",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
            ),
            now,
            None,
        ));
        completion_time = Some(json!(k8s_time(now)));
        normal_event(cluster, job, "Completed", "Job completed");
    } else if suspended {
        changed |= delete_all(&cluster.store, *ids::PODS, &active);
        conditions.push(condition(
            prev_conds,
            ("Suspended", "True", "JobSuspended", "Job suspended"),
            now,
            None,
        ));
    } else {
        let want = parallelism.min(completions - succeeded) - active.len() as i64;
        if want > 0 && !namespace_terminating(cluster, namespace_of(job)) {
            let fail = job_should_fail(cluster, job);
            for _ in 0..want.min(BURST) {
                changed |= create_job_pod(cluster, job, fail);
            }
        }
    }
    let mut status = json!({
        "ready": active.iter().filter(|p| is_ready(p)).count(),
    });
    if let Some(t) = start
        .map(k8s_time)
        .or_else(|| (!suspended).then(|| k8s_time(now)))
    {
        status["startTime"] = json!(t);
    }
    if !conditions.is_empty() {
        for c in &mut conditions {
            c["lastProbeTime"] = c["lastTransitionTime"].clone();
        }
        status["conditions"] = json!(conditions);
    }
    if let Some(t) = completion_time {
        status["completionTime"] = t;
    }
    put_nonzero(
        &mut status,
        "active",
        if failure.is_some() {
            0
        } else {
            active.len() as i64
        },
    );
    put_nonzero(&mut status, "succeeded", succeeded);
    put_nonzero(&mut status, "failed", failed);
    changed | write_status(&cluster.store, *ids::JOBS, job, status)
}

/// Whether new pods of this Job should fail: the Job, or the CronJob that owns it,
/// carries [`FAIL_JOBS`]. Checking the owner too covers manual runs
/// (`kubectl create job --from=cronjob/...`).
fn job_should_fail(cluster: &ClusterSim, job: &Value) -> bool {
    let flagged = |o: &Value| annotation(o, FAIL_JOBS) == Some("true");
    flagged(job)
        || controller_of(job).is_some_and(|r| {
            r["kind"] == "CronJob"
                && cluster
                    .store
                    .get(
                        *ids::CRONJOBS,
                        namespace_of(job),
                        r["name"].as_str().unwrap_or(""),
                    )
                    .is_some_and(|cj| {
                        flagged(&cj) && uid_of(&cj) == r["uid"].as_str().unwrap_or("")
                    })
        })
}

fn create_job_pod(cluster: &ClusterSim, job: &Value, fail: bool) -> bool {
    let name = cluster.store.names.child(name_of(job));
    let mut pod = new_pod(job, &job["spec"]["template"], &name);
    pod["metadata"]["generateName"] = json!(format!("{}-", name_of(job)));
    let labels = &mut pod["metadata"]["labels"];
    for key in ["batch.kubernetes.io/controller-uid", "controller-uid"] {
        labels[key] = json!(uid_of(job));
    }
    for key in ["batch.kubernetes.io/job-name", "job-name"] {
        labels[key] = json!(name_of(job));
    }
    if pod["spec"]["restartPolicy"] == "Always" {
        pod["spec"]["restartPolicy"] = json!("Never");
    }
    if fail {
        pod["metadata"]["annotations"][FAIL_POD] = json!("true");
    }
    let created = create_pod(cluster, pod);
    if created {
        normal_event(
            cluster,
            job,
            "SuccessfulCreate",
            &format!("Created pod: {name}"),
        );
    }
    created
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::controllers::testkit::*;

    #[test]
    fn job_runs_to_completion() {
        let c = cluster_at(start(), 200.0, 2);
        c.booting.store(false, Ordering::Relaxed);
        let ctl = controllers();
        let mut t = template("once");
        t["spec"]["restartPolicy"] = json!("Never");
        c.store
            .create(*ids::JOBS, json!({"metadata": {"name": "once", "namespace": "default"}, "spec": {"template": t, "completions": 2}}))
            .unwrap();
        run_until(&c, &ctl, 5_000, |c| {
            get(c, *ids::JOBS, "once")["status"]["succeeded"] == 2
                && job_finished(&get(c, *ids::JOBS, "once")).is_some()
        });
        let job = get(&c, *ids::JOBS, "once");
        assert_eq!(job_finished(&job), Some("Complete"));
        assert!(
            job["status"]["completionTime"].is_string() && job["status"]["startTime"].is_string()
        );
        assert!(job["status"].get("active").is_none());
        let pods = pods_of(&c, "once-");
        assert_eq!(pods.len(), 2);
        for p in &pods {
            assert_eq!(p["status"]["phase"], "Succeeded");
            assert_eq!(
                p["status"]["containerStatuses"][0]["state"]["terminated"]["reason"],
                "Completed"
            );
            assert_eq!(p["metadata"]["labels"]["job-name"], "once");
        }
    }
}
