//! Restore a Velero backup, as `velero restore create --from-backup` does: a Restore in the
//! `velero` namespace that names the backup (and, optionally, the namespaces to bring back),
//! then wait for Velero to finish. Velero never overwrites objects that exist, so what is
//! to come back must be deleted first. The result is measured against the service's
//! recovery objective (the policy's `recovery_within`).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kube::api::{Api, DynamicObject, PostParams};
use serde_json::{Value, json};

use super::{
    ParamError, Progress, StepCtx, StepError, VeleroStatus, kube_err, post_event, resource,
    wait_for,
};
use crate::config::format_duration;
use crate::engine::policy::Intent;

pub const STEPS: &[&str] = &[
    "check the backup",
    "create the restore",
    "wait for the restore",
];

/// What its steps change, for the plan's permission check.
const NEEDS: &[super::Need] = &[super::Need::new(
    super::Place::Target,
    "create",
    "velero.io",
    "restores",
    Some(NS),
)];

pub const PARAMS: &[(&str, &str, bool)] = &[
    (
        "backup",
        "the Velero Backup to restore, as `ck8s-console backups` names it",
        true,
    ),
    (
        "namespaces",
        "only these namespaces, comma-separated (default: everything the backup holds)",
        false,
    ),
];

const ABOUT: super::About = super::About {
    name: "restore",
    summary: "restore a Velero backup (backup=NAME, optionally namespaces=a,b) and wait for it; reports the time against the recovery objective",
    params: PARAMS,
    steps: STEPS,
    needs: NEEDS,
};

/// Restore a Velero backup (backup=NAME, optionally namespaces=a,b) and wait for it; reports the time against the recovery objective.
pub struct Restore;

impl super::Workflow for Restore {
    fn about(&self) -> &'static super::About {
        &ABOUT
    }

    fn check(&self, params: &super::Params) -> Result<(), ParamError> {
        check(params)
    }

    fn intent<'a>(
        &'a self,
        _target: &'a super::Target,
        params: &'a super::Params,
    ) -> super::WorkflowFuture<'a, Result<Intent, StepError>> {
        let intent = check(params)
            .map(|()| Intent::Restore {
                backup: params
                    .get("backup")
                    .map(|b| b.trim().to_owned())
                    .unwrap_or_default(),
            })
            .map_err(|e| StepError::Failed(e.to_string()));
        Box::pin(async { intent })
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

/// Checks `backup` and `namespaces`.
pub fn check(params: &BTreeMap<String, String>) -> Result<(), ParamError> {
    const HINT: &str = "give it as `ck8s-console backups` lists it, e.g. backup=velero-daily-backup-20261125010000";
    if super::name_param(params, "backup", HINT)?.is_none() {
        return Err(ParamError {
            param: "backup".into(),
            problem: format!("required: {HINT}"),
        });
    }
    if let Some(raw) = params.get("namespaces") {
        let list = namespaces(params);
        if list.is_empty() {
            return Err(ParamError {
                param: "namespaces".into(),
                problem: "is empty; leave it out to restore everything the backup holds, or list namespaces like namespaces=production,staging".into(),
            });
        }
        if let Some(bad) = list
            .iter()
            .find(|n| crate::config::check_dns_label(n).is_err())
        {
            return Err(ParamError {
                param: "namespaces".into(),
                problem: format!(
                    "{bad:?} in {raw:?} is not a namespace name; list them comma-separated, like namespaces=production,staging"
                ),
            });
        }
    }
    Ok(())
}

fn backup_name<'p>(ctx: &'p StepCtx<'_>) -> &'p str {
    ctx.params.get("backup").map(|s| s.trim()).unwrap_or("")
}

/// The `namespaces` parameter as a list; empty when not given.
fn namespaces(params: &BTreeMap<String, String>) -> Vec<String> {
    params
        .get("namespaces")
        .map(|raw| {
            raw.split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The restore's name comes from the backup and the run id, so a resumed run finds the
/// restore it made: `<backup>-restore-<tag>`, the backup part cut to fit 63 characters.
fn restore_name(ctx: &StepCtx<'_>) -> String {
    let suffix = format!("-restore-{}", super::run_tag(ctx.run_id));
    let mut head: String = backup_name(ctx)
        .chars()
        .take(63usize.saturating_sub(suffix.len()))
        .collect();
    while head.ends_with(['-', '.']) {
        head.pop();
    }
    format!("{head}{suffix}")
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
        0 => check_backup(ctx).await,
        1 => create(ctx).await,
        _ => wait(ctx).await,
    }
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

async fn check_backup(ctx: &StepCtx<'_>) -> Result<String, StepError> {
    let name = backup_name(ctx);
    let backup = api(ctx, "Backup", "backups")
        .get_opt(name)
        .await
        .map_err(kube_err(format!("reading Backup {NS}/{name}")))?
        .ok_or_else(|| {
            StepError::Failed(format!(
                "{} has no Backup {NS}/{name}; `ck8s-console backups --env {} --cluster {}` lists the backups",
                ctx.target.name(),
                ctx.target.env,
                ctx.target.role
            ))
        })?;
    let st = &backup.data["status"];
    let phase = st["phase"].as_str().unwrap_or("New");
    let errors = st["errors"].as_u64().unwrap_or(0);
    let items = st["progress"]["itemsBackedUp"].as_u64().unwrap_or(0);
    let when = st["completionTimestamp"]
        .as_str()
        .unwrap_or("an unknown time");
    let mut message = match phase {
        "Completed" => format!("Backup {NS}/{name} Completed at {when} ({items} items)"),
        "PartiallyFailed" => {
            ctx.log(format!(
                "Backup {NS}/{name} PartiallyFailed with {errors} errors: the items it failed to back up cannot be restored; `velero backup logs {name}` lists them"
            ));
            format!(
                "Backup {NS}/{name} PartiallyFailed at {when} ({items} items, {errors} errors); restoring what it holds"
            )
        }
        other => {
            return Err(StepError::Failed(format!(
                "Backup {NS}/{name} is {other}; only Completed or PartiallyFailed backups can be restored{}",
                st["failureReason"]
                    .as_str()
                    .map(|r| format!(" (Velero says: {r})"))
                    .unwrap_or_default()
            )));
        }
    };
    // Namespaces the backup never held come back empty-handed; say so before restoring.
    let wanted = namespaces(ctx.params);
    let included = strings(&backup.data["spec"]["includedNamespaces"]);
    let excluded = strings(&backup.data["spec"]["excludedNamespaces"]);
    let missing: Vec<&str> = wanted
        .iter()
        .map(String::as_str)
        .filter(|n| {
            excluded.contains(n)
                || !(included.is_empty() || included.contains(&"*") || included.contains(n))
        })
        .collect();
    if !missing.is_empty() {
        ctx.log(format!(
            "warning: Backup {NS}/{name} does not hold namespace(s) {}; nothing of them will be restored",
            missing.join(", ")
        ));
    }
    if !wanted.is_empty() {
        message.push_str(&format!("; restoring namespace(s) {}", wanted.join(", ")));
    }
    Ok(message)
}

async fn create(ctx: &StepCtx<'_>) -> Result<String, StepError> {
    let name = restore_name(ctx);
    let backup = backup_name(ctx);
    let restores = api(ctx, "Restore", "restores");
    if restores
        .get_opt(&name)
        .await
        .map_err(kube_err(format!("reading Restore {NS}/{name}")))?
        .is_some()
    {
        return Ok(format!("Restore {NS}/{name} exists already"));
    }
    let mut spec = json!({"backupName": backup});
    let wanted = namespaces(ctx.params);
    if !wanted.is_empty() {
        spec["includedNamespaces"] = json!(wanted);
    }
    let restore: DynamicObject = serde_json::from_value(json!({
        "apiVersion": API_VERSION,
        "kind": "Restore",
        "metadata": {"name": name, "namespace": NS, "labels": {
            "velero.io/backup-name": backup,
            "app.kubernetes.io/managed-by": "ck8s-console",
        }},
        "spec": spec,
    }))
    .map_err(|e| StepError::Failed(format!("building the Restore: {e}")))?;
    let made = restores
        .create(&PostParams::default(), &restore)
        .await
        .map_err(kube_err(format!("creating Restore {NS}/{name}")))?;
    post_event(
        ctx,
        &ctx.target.cluster,
        &made,
        (API_VERSION, "Restore"),
        "RestoreRequested",
        &format!("restore of backup {backup}"),
    )
    .await;
    ctx.log(
        "Velero does not overwrite objects that exist; they are skipped and counted as warnings",
    );
    Ok(format!(
        "created Restore {NS}/{name} from Backup {NS}/{backup}{}",
        if wanted.is_empty() {
            String::new()
        } else {
            format!(" for namespace(s) {}", wanted.join(", "))
        }
    ))
}

fn parse_time(v: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// "Completed in 3m12s (recovery objective 4h: met)", from the Restore's creation to its
/// completion as the API server and Velero stamped them.
fn timing(r: &DynamicObject, objective: Duration) -> String {
    let created = r
        .metadata
        .creation_timestamp
        .as_ref()
        .and_then(|t| DateTime::from_timestamp(t.0.as_second(), 0))
        .or_else(|| parse_time(&r.data["status"]["startTimestamp"]));
    let completed = parse_time(&r.data["status"]["completionTimestamp"]);
    let objective_text = format_duration(objective);
    match created.zip(completed) {
        Some((from, to)) => {
            let took = (to - from).to_std().unwrap_or_default();
            let verdict = if took <= objective {
                "met".to_owned()
            } else {
                format!("missed by {}", format_duration(took - objective))
            };
            format!(
                "in {} (recovery objective {objective_text}: {verdict})",
                format_duration(took)
            )
        }
        None => format!(
            "(its timestamps are missing, so the recovery objective of {objective_text} could not be checked)"
        ),
    }
}

async fn wait(ctx: &StepCtx<'_>) -> Result<String, StepError> {
    let name = restore_name(ctx);
    let restores = api(ctx, "Restore", "restores");
    wait_for(ctx, "the restore", || async {
        let r = restores
            .get(&name)
            .await
            .map_err(kube_err(format!("reading Restore {NS}/{name}")))?;
        let st = VeleroStatus::of(&r);
        let (errors, warnings) = (st.errors, st.warnings);
        let restored = st.count("progress", "itemsRestored");
        let total = st.count("progress", "totalItems");
        match st.phase {
            "Completed" => Ok(Progress::Done(format!(
                "Restore {NS}/{name} Completed {}; {restored} of {total} items done, {warnings} warnings{}",
                timing(&r, ctx.recovery_within),
                if warnings > 0 {
                    format!(
                        " (objects that existed already were left as they are; `velero restore describe {name}` lists the warnings)"
                    )
                } else {
                    String::new()
                }
            ))),
            "PartiallyFailed" => Err(StepError::Failed(format!(
                "Restore {NS}/{name} PartiallyFailed {} with {errors} errors and {warnings} warnings; {restored} of {total} items done. `velero restore logs {name}` says which items failed",
                timing(&r, ctx.recovery_within)
            ))),
            phase @ ("Failed" | "FailedValidation") => Err(StepError::Failed(format!(
                "Restore {NS}/{name} {phase} ({errors} errors, {warnings} warnings): {}",
                st.failure()
            ))),
            other if total == 0 => Ok(Progress::Waiting(format!("Restore {NS}/{name} is {other}"))),
            other => Ok(Progress::Waiting(format!(
                "Restore {NS}/{name} is {other}: {restored} of {total} items done"
            ))),
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn parameters_are_checked() {
        assert!(check(&params(&[("backup", "velero-daily-backup-20261125010000")])).is_ok());
        assert!(
            check(&params(&[
                ("backup", "b1"),
                ("namespaces", "production, staging")
            ]))
            .is_ok()
        );
        let e = check(&params(&[("backup", "Not_A_Name")])).unwrap_err();
        assert_eq!(e.param, "backup");
        let e = check(&params(&[("backup", "b1"), ("namespaces", " , ")])).unwrap_err();
        assert_eq!(e.param, "namespaces");
        assert!(e.problem.contains("is empty"), "{e}");
        let e = check(&params(&[("backup", "b1"), ("namespaces", "prod,Bad_Ns")])).unwrap_err();
        assert!(e.problem.contains("\"Bad_Ns\""), "{e}");
        assert_eq!(
            namespaces(&params(&[("namespaces", "a, b,,c")])),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn timing_is_measured_against_the_objective() {
        let r = |from: &str, to: &str| -> DynamicObject {
            serde_json::from_value(json!({
                "apiVersion": "velero.io/v1", "kind": "Restore",
                "metadata": {"name": "r", "namespace": "velero", "creationTimestamp": from},
                "status": {"completionTimestamp": to},
            }))
            .unwrap()
        };
        let four_hours = Duration::from_secs(4 * 3600);
        assert_eq!(
            timing(
                &r("2026-11-26T10:00:00Z", "2026-11-26T10:03:12Z"),
                four_hours
            ),
            "in 3m12s (recovery objective 4h: met)"
        );
        assert_eq!(
            timing(
                &r("2026-11-26T10:00:00Z", "2026-11-26T15:30:00Z"),
                four_hours
            ),
            "in 5h30m (recovery objective 4h: missed by 1h30m)"
        );
    }
}
