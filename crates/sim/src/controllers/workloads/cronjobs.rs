//! CronJob → Jobs at each scheduled minute, with the concurrency policies and history
//! limits of the real controller.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::jobs::job_finished;
use super::{FAIL_JOBS, namespace_terminating, reconcile_owners, sort_by_age};
use crate::clock::{k8s_time, parse_time};
use crate::cluster::{ClusterSim, FleetOps};
use crate::controllers::Controller;
use crate::controllers::cron::Schedule;
use crate::controllers::events::normal_event;
use crate::controllers::objects::{
    annotation, created, delete, delete_all, is_terminating, owner_ref, write_status,
};
use crate::controllers::pacing::{Pacer, Pass};
use crate::registry::ids;
use crate::store::{Obj, name_of, namespace_of, uid_of};

/// CronJob → Jobs named `<cronjob>-<unix minutes>` at each scheduled minute, with the
/// history limits of the real controller.
#[derive(Debug, Default)]
pub struct CronJobs {
    pacer: Pacer,
}

impl Controller for CronJobs {
    fn name(&self) -> &'static str {
        "cronjobs"
    }

    fn reconcile(&self, cluster: &ClusterSim, _fleet: &dyn FleetOps) -> bool {
        reconcile_owners(
            &self.pacer,
            cluster,
            (*ids::CRONJOBS, *ids::JOBS),
            sync_cronjob,
        )
    }
}

fn object_ref(o: &Value) -> Value {
    json!({
        "apiVersion": o["apiVersion"],
        "kind": o["kind"],
        "name": name_of(o),
        "namespace": namespace_of(o),
        "uid": uid_of(o),
        "resourceVersion": o["metadata"]["resourceVersion"],
    })
}

fn sync_cronjob(cluster: &ClusterSim, cj: &Obj, jobs: &[&Obj], pass: &mut Pass) -> bool {
    let mut jobs: Vec<&Obj> = jobs
        .iter()
        .copied()
        .filter(|j| !is_terminating(j))
        .collect();
    sort_by_age(&mut jobs);
    let mut changed = false;
    let active: Vec<&Obj> = jobs
        .iter()
        .copied()
        .filter(|j| job_finished(j).is_none())
        .collect();
    let mut active_refs: Vec<Value> = active.iter().map(|j| object_ref(j)).collect();
    let mut last_schedule = cj["status"]["lastScheduleTime"]
        .as_str()
        .and_then(parse_time);
    let schedule = Schedule::parse(
        cj["spec"]["schedule"].as_str().unwrap_or(""),
        cj["spec"]["timeZone"].as_str(),
    );
    if let (Ok(schedule), false) = (&schedule, cj["spec"]["suspend"] == true) {
        let earliest = last_schedule.or_else(|| created(cj)).unwrap_or(pass.now);
        if let Some(due) = schedule.latest_between(earliest, pass.now) {
            let deadline = cj["spec"]["startingDeadlineSeconds"]
                .as_i64()
                .map(Duration::seconds);
            let too_late = deadline.is_some_and(|d| pass.now - due > d);
            let policy = cj["spec"]["concurrencyPolicy"].as_str().unwrap_or("Allow");
            if too_late {
                last_schedule = Some(due);
            } else if policy == "Forbid" && !active.is_empty() {
                // Not started, and not marked as scheduled: it runs when the active Job ends.
            } else {
                if policy == "Replace" {
                    changed |= delete_all(&cluster.store, *ids::JOBS, &active);
                    active_refs.clear();
                }
                if let Some(job) = create_scheduled_job(cluster, cj, due) {
                    active_refs.push(object_ref(&job));
                    changed = true;
                }
                last_schedule = Some(due);
            }
        }
        if let Some(next) = schedule.next_after(pass.now) {
            pass.wake_at(next);
        }
    }
    changed |= trim_history(cluster, cj, &jobs);
    let mut status = json!({});
    if !active_refs.is_empty() {
        status["active"] = Value::Array(active_refs);
    }
    if let Some(t) = last_schedule {
        status["lastScheduleTime"] = json!(k8s_time(t));
    }
    let last_success = jobs
        .iter()
        .filter(|j| job_finished(j) == Some("Complete"))
        .filter_map(|j| j["status"]["completionTime"].as_str().and_then(parse_time))
        .chain(
            cj["status"]["lastSuccessfulTime"]
                .as_str()
                .and_then(parse_time),
        )
        .max();
    if let Some(t) = last_success {
        status["lastSuccessfulTime"] = json!(k8s_time(t));
    }
    changed | write_status(&cluster.store, *ids::CRONJOBS, cj, status)
}

fn create_scheduled_job(cluster: &ClusterSim, cj: &Value, due: DateTime<Utc>) -> Option<Obj> {
    let ns = namespace_of(cj);
    if namespace_terminating(cluster, ns) {
        return None;
    }
    let name = format!("{}-{}", name_of(cj), due.timestamp().div_euclid(60));
    let tmpl = &cj["spec"]["jobTemplate"];
    let mut meta = json!({
        "name": name,
        "namespace": ns,
        "labels": tmpl["metadata"]["labels"].as_object().cloned().unwrap_or_default(),
        "annotations": tmpl["metadata"]["annotations"].as_object().cloned().unwrap_or_default(),
        "ownerReferences": [owner_ref(cj)],
    });
    meta["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] =
        json!(due.to_rfc3339());
    if annotation(cj, FAIL_JOBS) == Some("true") {
        meta["annotations"][FAIL_JOBS] = json!("true");
    }
    let job = json!({"metadata": meta, "spec": tmpl["spec"]});
    match cluster.store.create(*ids::JOBS, job) {
        Ok(job) => {
            normal_event(
                cluster,
                cj,
                "SuccessfulCreate",
                &format!("Created job {name}"),
            );
            Some(job)
        }
        // Already created for this minute (a retried pass): nothing new.
        Err(_) => None,
    }
}

/// Deletes the oldest finished Jobs beyond `successfulJobsHistoryLimit` (3) and
/// `failedJobsHistoryLimit` (1); their pods follow through garbage collection.
fn trim_history(cluster: &ClusterSim, cj: &Value, jobs: &[&Obj]) -> bool {
    let mut changed = false;
    for (outcome, field, default) in [
        ("Complete", "successfulJobsHistoryLimit", 3),
        ("Failed", "failedJobsHistoryLimit", 1),
    ] {
        let limit = cj["spec"][field].as_i64().unwrap_or(default).max(0) as usize;
        let done: Vec<&&Obj> = jobs
            .iter()
            .filter(|j| job_finished(j) == Some(outcome))
            .collect();
        for j in done.iter().take(done.len().saturating_sub(limit)) {
            if delete(&cluster.store, *ids::JOBS, j) {
                changed = true;
                normal_event(
                    cluster,
                    cj,
                    "SuccessfulDelete",
                    &format!("Deleted job {}", name_of(j)),
                );
            }
        }
    }
    changed
}

#[cfg(test)]
mod tests {

    use chrono::TimeZone;

    use super::*;
    use crate::controllers::objects::find_condition;
    use crate::controllers::testkit::*;

    fn cronjob(name: &str, schedule: &str) -> Value {
        let mut t = template(name);
        t["spec"]["restartPolicy"] = json!("OnFailure");
        json!({
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"schedule": schedule, "jobTemplate": {"spec": {"backoffLimit": 1, "template": t}}},
        })
    }

    #[test]
    fn cronjob_creates_a_job_at_its_minute() {
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 0, 29, 0).unwrap();
        let c = cluster_at(at, 100.0, 1);
        let ctl = controllers();
        c.store
            .create(*ids::CRONJOBS, cronjob("backup", "30 0 * * *"))
            .unwrap();
        settle(&c, &ctl);
        assert_eq!(c.store.count(*ids::JOBS), 0, "not before its minute");
        let due = Utc.with_ymd_and_hms(2026, 11, 25, 0, 30, 0).unwrap();
        let job_name = format!("backup-{}", due.timestamp() / 60);
        run_until(&c, &ctl, 3_000, |c| {
            c.store.get(*ids::JOBS, "default", &job_name).is_some()
        });
        settle(&c, &ctl);
        let cj = get(&c, *ids::CRONJOBS, "backup");
        assert_eq!(cj["status"]["lastScheduleTime"], "2026-11-25T00:30:00Z");
        let job = get(&c, *ids::JOBS, &job_name);
        assert_eq!(job["metadata"]["ownerReferences"][0]["kind"], "CronJob");
        assert_eq!(
            job_finished(&job),
            Some("Complete"),
            "booting: the job ran at once"
        );
        assert_eq!(
            cj["status"]["lastSuccessfulTime"],
            job["status"]["completionTime"]
        );
    }

    #[test]
    fn flagged_cronjob_jobs_fail_with_backoff_limit_exceeded() {
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 0, 29, 59).unwrap();
        let c = cluster_at(at, 60.0, 1);
        let ctl = controllers();
        let mut cj = cronjob("harbor-backup-cronjob", "30 0 * * *");
        cj["metadata"]["annotations"] = json!({FAIL_JOBS: "true"});
        c.store.create(*ids::CRONJOBS, cj).unwrap();
        run_until(&c, &ctl, 3_000, |c| {
            let (jobs, _) = c.store.list(*ids::JOBS, None);
            jobs.iter().any(|j| job_finished(j) == Some("Failed"))
        });
        let (jobs, _) = c.store.list(*ids::JOBS, None);
        let job = &jobs[0];
        let failed = find_condition(&job["status"]["conditions"], "Failed").unwrap();
        assert_eq!(failed["reason"], "BackoffLimitExceeded");
        assert_eq!(
            job["status"]["failed"], 2,
            "backoffLimit 1 allows one retry"
        );
        let pods = pods_of(&c, name_of(job));
        assert!(pods.iter().all(|p| p["status"]["phase"] == "Failed"));
        settle(&c, &ctl);
        assert!(
            get(&c, *ids::CRONJOBS, "harbor-backup-cronjob")["status"]
                .get("lastSuccessfulTime")
                .is_none()
        );
    }

    #[test]
    fn cronjob_history_is_trimmed() {
        let c = cluster(1);
        let ctl = controllers();
        c.store
            .create(*ids::CRONJOBS, cronjob("tick", "* * * * *"))
            .unwrap();
        let cj = get(&c, *ids::CRONJOBS, "tick");
        // Jobs of earlier minutes, all complete.
        for m in 1..=5 {
            let due = start() - Duration::minutes(m);
            create_scheduled_job(&c, &cj, due).unwrap();
        }
        settle(&c, &ctl);
        let (jobs, _) = c.store.list(*ids::JOBS, None);
        assert_eq!(jobs.len(), 3, "successfulJobsHistoryLimit");
    }
}
