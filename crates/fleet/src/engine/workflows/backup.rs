//! An on-demand Velero backup, made the way `velero backup create --from-schedule` makes
//! one: the schedule's template as the spec, its labels and annotations, and the
//! `velero.io/schedule-name` label, so retention and the backups pane treat it like the
//! schedule's own.

use kube::api::{Api, DynamicObject, PostParams};
use serde_json::json;

use super::{Progress, StepCtx, StepError, VeleroStatus, kube_err, post_event, resource, wait_for};
use crate::engine::policy::Intent;

pub const STEPS: &[&str] = &[
    "read the schedule",
    "create the backup",
    "wait for the backup",
];

/// What its steps change, for the plan's permission check.
const NEEDS: &[super::Need] = &[super::Need::new(
    super::Place::Target,
    "create",
    "velero.io",
    "backups",
    Some(NS),
)];

pub const PARAMS: &[(&str, &str, bool)] = &[(
    "schedule",
    "the Velero Schedule whose template to use (default velero-daily-backup)",
    false,
)];

const ABOUT: super::About = super::About {
    name: "backup",
    summary: "take an on-demand Velero backup from the daily schedule's template and wait for it",
    params: PARAMS,
    steps: STEPS,
    needs: NEEDS,
};

/// Take an on-demand Velero backup from the daily schedule's template and wait for it.
pub struct Backup;

impl super::Workflow for Backup {
    fn about(&self) -> &'static super::About {
        &ABOUT
    }

    fn check(&self, params: &super::Params) -> Result<(), super::ParamError> {
        super::name_param(
            params,
            "schedule",
            "give the Velero Schedule's name, e.g. schedule=velero-daily-backup",
        )
        .map(drop)
    }

    fn intent<'a>(
        &'a self,
        _target: &'a super::Target,
        params: &'a super::Params,
    ) -> super::WorkflowFuture<'a, Result<Intent, StepError>> {
        let _ = params;
        Box::pin(async { Ok(Intent::Backup) })
    }

    fn step<'a>(
        &'a self,
        index: usize,
        ctx: &'a StepCtx<'a>,
    ) -> super::WorkflowFuture<'a, Result<String, StepError>> {
        Box::pin(step(index, ctx))
    }
}

const NS: &str = "velero";
const API_VERSION: &str = "velero.io/v1";

fn schedule_name<'p>(ctx: &'p StepCtx<'_>) -> &'p str {
    ctx.params
        .get("schedule")
        .map(String::as_str)
        .unwrap_or("velero-daily-backup")
}

/// The backup's name comes from the run id, so a resumed run finds the backup it made.
fn backup_name(ctx: &StepCtx<'_>) -> String {
    name_for(schedule_name(ctx), ctx.run_id)
}

/// `<schedule>-console-<run tag>`, at most 63 characters (a Kubernetes name). A long
/// schedule name gives way, never the run's tag: two runs must not share a name.
fn name_for(schedule: &str, run_id: &str) -> String {
    let suffix = format!("-console-{}", super::run_tag(run_id));
    let room = 63usize.saturating_sub(suffix.len());
    let head: String = schedule.chars().take(room).collect();
    format!("{}{suffix}", head.trim_end_matches('-'))
}

fn api(ctx: &StepCtx<'_>, kind: &str, plural: &str) -> Api<DynamicObject> {
    Api::namespaced_with(
        ctx.target.cluster.clone(),
        NS,
        &resource("velero.io", "v1", kind, plural),
    )
}

pub async fn step(index: usize, ctx: &StepCtx<'_>) -> Result<String, StepError> {
    match index {
        0 => read_schedule(ctx).await.map(|s| {
            format!(
                "Schedule {NS}/{} (storage location {}, ttl {})",
                schedule_name(ctx),
                s.data["spec"]["template"]["storageLocation"]
                    .as_str()
                    .unwrap_or("default"),
                s.data["spec"]["template"]["ttl"]
                    .as_str()
                    .unwrap_or("the server's default")
            )
        }),
        1 => create(ctx).await,
        _ => wait(ctx).await,
    }
}

async fn read_schedule(ctx: &StepCtx<'_>) -> Result<DynamicObject, StepError> {
    let name = schedule_name(ctx);
    api(ctx, "Schedule", "schedules")
        .get_opt(name)
        .await
        .map_err(kube_err(format!("reading Schedule {NS}/{name}")))?
        .ok_or_else(|| {
            StepError::Failed(format!(
                "{} has no Schedule {NS}/{name}; `ck8s-console backups --env {} --cluster {}` lists the schedules",
                ctx.target.name(),
                ctx.target.env,
                ctx.target.role
            ))
        })
}

async fn create(ctx: &StepCtx<'_>) -> Result<String, StepError> {
    let name = backup_name(ctx);
    let backups = api(ctx, "Backup", "backups");
    if backups
        .get_opt(&name)
        .await
        .map_err(kube_err(format!("reading Backup {NS}/{name}")))?
        .is_some()
    {
        return Ok(format!("Backup {NS}/{name} exists already"));
    }
    let schedule = read_schedule(ctx).await?;
    let mut labels = schedule.metadata.labels.clone().unwrap_or_default();
    labels.insert("velero.io/schedule-name".into(), schedule_name(ctx).into());
    labels.insert("app.kubernetes.io/managed-by".into(), "ck8s-console".into());
    let backup: DynamicObject = serde_json::from_value(json!({
        "apiVersion": API_VERSION,
        "kind": "Backup",
        "metadata": {"name": name, "namespace": NS, "labels": labels,
            "annotations": schedule.metadata.annotations.clone().unwrap_or_default()},
        "spec": schedule.data["spec"]["template"].clone(),
    }))
    .map_err(|e| StepError::Failed(format!("building the backup from the schedule: {e}")))?;
    let made = backups
        .create(&PostParams::default(), &backup)
        .await
        .map_err(kube_err(format!("creating Backup {NS}/{name}")))?;
    post_event(
        ctx,
        &ctx.target.cluster,
        &made,
        (API_VERSION, "Backup"),
        "BackupRequested",
        &format!("on-demand backup from schedule {}", schedule_name(ctx)),
    )
    .await;
    Ok(format!("created Backup {NS}/{name}"))
}

async fn wait(ctx: &StepCtx<'_>) -> Result<String, StepError> {
    let name = backup_name(ctx);
    let backups = api(ctx, "Backup", "backups");
    wait_for(ctx, "the backup", || async {
        let b = backups
            .get(&name)
            .await
            .map_err(kube_err(format!("reading Backup {NS}/{name}")))?;
        let st = VeleroStatus::of(&b);
        let (errors, warnings) = (st.errors, st.warnings);
        match st.phase {
            "Completed" => Ok(Progress::Done(format!(
                "Backup {NS}/{name} Completed ({} items, {warnings} warnings)",
                st.count("progress", "itemsBackedUp")
            ))),
            "PartiallyFailed" => Err(StepError::Failed(format!(
                "Backup {NS}/{name} PartiallyFailed with {errors} errors and {warnings} warnings; `velero backup logs {name}` says which items"
            ))),
            phase @ ("Failed" | "FailedValidation") => Err(StepError::Failed(format!(
                "Backup {NS}/{name} {phase}: {}",
                st.failure()
            ))),
            other => Ok(Progress::Waiting(format!("Backup {NS}/{name} is {other}"))),
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backups_name_is_a_kubernetes_name_that_keeps_the_runs_tag() {
        let id = "20261207T115024Z-backup-globex-wc-3450";
        assert_eq!(
            name_for("velero-daily-backup", id),
            "velero-daily-backup-console-20261207t115024z-3450"
        );
        let long = format!("{}-x", "a".repeat(40));
        for schedule in [long.as_str(), &"b-".repeat(40)] {
            let name = name_for(schedule, id);
            assert!(name.len() <= 63, "{name}");
            assert!(name.ends_with("-console-20261207t115024z-3450"), "{name}");
            assert!(!name.contains("--"), "no dash left hanging: {name}");
        }
        let other = "20261207T115024Z-backup-globex-wc-9999";
        assert_ne!(name_for(&long, id), name_for(&long, other));
    }
}
