//! Driving one run: its steps in order, each journaled before and after, the lock renewed
//! while it runs, and cancellation honoured between polls.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{DynamicObject, ListParams};
use tokio::sync::{mpsc, watch};

use super::audit::NewRecord;
use super::journal::{Entry, JournalError, JournalWriter, Journals, Outcome};
use super::lease::{self, ClusterLock};
use super::policy::{Facts, Intent};
use super::workflows::{self, StepCtx, StepError, Target, WorkflowKind};
use super::{Engine, Hints};
use crate::config::{Environment, Fleet};
use crate::failure;
use crate::sources::alertmanager::{AlertFilter, AlertmanagerClient};
use crate::sources::{prometheus, slo_counts};

/// `20261128T081502Z-scale-acme-wc-3f9a`: sorts by time, says what it is at a glance.
pub fn new_id(
    now: DateTime<Utc>,
    workflow: &str,
    env: &str,
    role: crate::config::ClusterRole,
) -> String {
    let tag: u16 = rand::random();
    format!(
        "{}-{workflow}-{env}-{role}-{tag:04x}",
        now.format("%Y%m%dT%H%M%SZ")
    )
}

/// Checks that `id` has the form [`new_id`] gives every run
/// (`20261207T071000Z-scale-acme-wc-1a2b`) before it names a file: an id is never a path.
pub fn check_id(id: &str) -> Result<(), super::EngineError> {
    if id_is_valid(id) {
        return Ok(());
    }
    let shown: String = id.chars().take(80).collect();
    Err(super::EngineError::Usage(format!(
        "{shown:?} is not a run id; ids look like 20261207T071000Z-scale-acme-wc-1a2b \
         (`ck8s-console runs` lists them)"
    )))
}

fn id_is_valid(id: &str) -> bool {
    let Some((stamp, rest)) = id.split_once('-') else {
        return false;
    };
    let stamp_ok = stamp.len() == 16
        && stamp.char_indices().all(|(i, c)| match i {
            8 => c == 'T',
            15 => c == 'Z',
            _ => c.is_ascii_digit(),
        });
    let mut parts = rest.rsplitn(3, '-');
    let (Some(tag), Some(role), Some(middle)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let tag_ok = tag.len() == 4 && tag.chars().all(|c| c.is_ascii_hexdigit());
    let role_ok = role == "sc" || role == "wc";
    // The workflow and the environment (a DNS label, which may hold `--`, as punycode
    // does): lowercase letters, digits and dashes only, so neither `/` nor `.` can appear.
    let middle_ok = middle.len() <= 120
        && middle.contains('-')
        && !middle.starts_with('-')
        && !middle.ends_with('-')
        && middle
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    stamp_ok && tag_ok && role_ok && middle_ok
}

pub fn holder(id: &str) -> String {
    lease::holder_identity(id, &super::host_name())
}

fn cancel_path(journals: &Journals, id: &str) -> std::path::PathBuf {
    journals.dir().join(format!("{id}.cancel"))
}

pub fn request_cancel(journals: &Journals, id: &str) -> Result<(), JournalError> {
    let path = cancel_path(journals, id);
    std::fs::write(&path, b"").map_err(|source| JournalError::Io { path, source })
}

pub fn clear_cancel(journals: &Journals, id: &str) {
    let _ = std::fs::remove_file(cancel_path(journals, id));
}

/// Everything a background run owns.
pub struct Drive {
    pub id: String,
    pub kind: WorkflowKind,
    pub params: BTreeMap<String, String>,
    pub started_at: DateTime<Utc>,
    pub from: usize,
    pub target: Target,
    pub lock: ClusterLock,
    pub journal: JournalWriter,
}

enum StepEnd {
    Done(String),
    Failed(String),
    Cancelled,
}

pub async fn drive(engine: &Arc<Engine>, mut d: Drive, mut cancel: watch::Receiver<bool>) {
    let steps = d.kind.steps();
    let mut outcome = Outcome::Succeeded;
    for (index, step) in steps.iter().enumerate().skip(d.from) {
        if cancelled(engine, &d.id, &cancel) {
            outcome = Outcome::Cancelled;
            break;
        }
        record(
            engine,
            &d.id,
            &mut d.journal,
            Entry::StepStarted { step: index },
        );
        match run_one(engine, &mut d, index, &mut cancel).await {
            StepEnd::Done(message) => {
                audit_step(engine, &d, step, &message, None);
                record(
                    engine,
                    &d.id,
                    &mut d.journal,
                    Entry::StepDone {
                        step: index,
                        message,
                    },
                );
            }
            StepEnd::Failed(error) => {
                audit_step(engine, &d, step, "", Some(&error));
                record(
                    engine,
                    &d.id,
                    &mut d.journal,
                    Entry::StepFailed { step: index, error },
                );
                outcome = Outcome::Failed;
                break;
            }
            StepEnd::Cancelled => {
                record(
                    engine,
                    &d.id,
                    &mut d.journal,
                    Entry::Log {
                        step: index,
                        message: "cancelled; the step is re-run from the start on resume".into(),
                    },
                );
                outcome = Outcome::Cancelled;
                break;
            }
        }
    }
    record(engine, &d.id, &mut d.journal, Entry::Finished { outcome });
    let _ = engine.audit(NewRecord {
        actor: engine.actor.clone(),
        action: "run.finish".into(),
        env: d.target.env.clone(),
        cluster: Some(d.target.role.to_string()),
        run_id: Some(d.id.clone()),
        detail: serde_json::json!({"outcome": outcome.as_str()}),
        ..NewRecord::default()
    });
    clear_cancel(&engine.journals, &d.id);
    d.lock.release().await;
}

/// Runs one step while forwarding its log lines to the journal, renewing the lock and
/// watching for a cancel request.
async fn run_one(
    engine: &Arc<Engine>,
    d: &mut Drive,
    index: usize,
    cancel: &mut watch::Receiver<bool>,
) -> StepEnd {
    let (log_tx, mut log_rx) = mpsc::unbounded_channel();
    let mut ctx = StepCtx::new(
        &d.target,
        &d.params,
        &d.id,
        &engine.actor,
        d.started_at,
        log_tx,
    );
    ctx.poll = engine.tuning.poll;
    ctx.patience = engine.tuning.patience;
    ctx.recovery_within = engine.fleet.policy.recovery_within;
    let step = workflows::run_step(d.kind, index, &ctx);
    tokio::pin!(step);
    let mut renew = tokio::time::interval(lease::RENEW_EVERY);
    renew.tick().await;
    let mut renewed = tokio::time::Instant::now();
    let mut look = tokio::time::interval(Duration::from_millis(500));
    let end = loop {
        tokio::select! {
            res = &mut step => break match res {
                Ok(message) => StepEnd::Done(message),
                Err(e) => StepEnd::Failed(step_error(e)),
            },
            Some(message) = log_rx.recv() => {
                record(engine, &d.id, &mut d.journal, Entry::Log { step: index, message });
            }
            _ = renew.tick() => {
                match d.lock.renew(Utc::now()).await {
                    Ok(()) => renewed = tokio::time::Instant::now(),
                    Err(e @ lease::LockError::Held { .. }) => {
                        break StepEnd::Failed(format!("lost the cluster lock, so stopped: {e}"));
                    }
                    // A blip of the service cluster is not a reason to stop halfway; the
                    // lock is ours until it lapses, so give up only before it would.
                    Err(e) if renewed.elapsed() + lease::RENEW_EVERY >= lease::DURATION => {
                        break StepEnd::Failed(format!(
                            "could not renew the cluster lock before it lapses, so stopped: {e}"
                        ));
                    }
                    Err(e) => tracing::warn!(run = %d.id, error = %e, "renewing the run lock failed; retrying"),
                }
            }
            _ = look.tick() => {
                if cancelled(engine, &d.id, cancel) {
                    break StepEnd::Cancelled;
                }
            }
        }
    };
    while let Ok(message) = log_rx.try_recv() {
        record(
            engine,
            &d.id,
            &mut d.journal,
            Entry::Log {
                step: index,
                message,
            },
        );
    }
    end
}

fn step_error(e: StepError) -> String {
    match e {
        StepError::Failed(m) => m,
        StepError::Kube { what, source } => format!("{what}: {source}"),
    }
}

fn cancelled(engine: &Engine, id: &str, cancel: &watch::Receiver<bool>) -> bool {
    *cancel.borrow() || cancel_path(&engine.journals, id).exists()
}

/// Journals an entry. A journal that cannot be written is logged: stopping a half-done
/// change in a cluster because of a full disk would be worse.
fn record(engine: &Engine, id: &str, journal: &mut JournalWriter, entry: Entry) {
    if let Err(e) = journal.append(Utc::now(), entry) {
        tracing::error!(run = %id, error = %e, "journaling failed");
    }
    let _ = engine.changed.send(id.to_owned());
}

fn audit_step(engine: &Engine, d: &Drive, step: &str, message: &str, error: Option<&str>) {
    let detail = match error {
        None => serde_json::json!({"step": step, "result": message}),
        Some(e) => serde_json::json!({"step": step, "error": e}),
    };
    if let Err(e) = engine.audit(NewRecord {
        actor: engine.actor.clone(),
        action: "run.step".into(),
        env: d.target.env.clone(),
        cluster: Some(d.target.role.to_string()),
        run_id: Some(d.id.clone()),
        detail,
        ..NewRecord::default()
    }) {
        tracing::error!(run = %d.id, error = %e, "auditing failed");
    }
}

/// What the policy needs to know, read from the clusters now. What cannot be read is
/// said in `checked` and counts against the run (an override is then needed), never for.
pub async fn gather_facts(
    env: &Environment,
    fleet: &Fleet,
    target: &Target,
    intent: &Intent,
    hints: &Hints,
    checked: &mut Vec<String>,
) -> Facts {
    let now = Utc::now();
    let mut facts = Facts {
        now,
        max_workers: env.max_workers(&fleet.policy),
        ..Facts::default()
    };
    facts.firing_critical = critical_alerts(env, target, checked).await;
    facts.last_good_backup = last_good_backup(target, checked).await;
    let budgets = match &hints.budget_exhausted {
        Some(b) => Ok(b.clone()),
        None => exhausted_budgets(env, fleet, target, now).await,
    };
    match budgets {
        Ok(b) => {
            checked.push(match b.len() {
                0 => "error budget: left on every target".to_string(),
                n => format!("error budget: exhausted on {n} target(s): {}", b.join(", ")),
            });
            facts.budget_exhausted = b;
        }
        Err(e) => {
            checked.push(format!("error budget: could not be read: {e}"));
            facts.budget_exhausted = vec![format!("unknown: Prometheus could not be read ({e})")];
        }
    }
    facts.upgrade_in_progress = upgrade_lock(target, checked).await;
    if let Intent::Drain { node } = intent {
        facts.nodes_out = nodes_out(target, node, checked).await;
    }
    match lease::holder(target.sc.clone(), &target.env, target.role, now).await {
        Ok(h) => {
            // A resumed run's own lock, left by its dead process, is not another run.
            let own = |holder: &String| {
                hints
                    .own_run
                    .as_deref()
                    .is_some_and(|id| lease::holds_run(holder, id))
            };
            let h = h.filter(|holder| !own(holder));
            checked.push(match &h {
                Some(holder) => format!("cluster lock: held by {holder}"),
                None => "cluster lock: free".into(),
            });
            facts.another_run = h;
        }
        Err(e) => {
            checked.push(format!("cluster lock: could not be read: {e}"));
            facts.another_run = Some("unknown (the lock could not be read)".into());
            facts.lock_unreadable = Some(e.to_string());
        }
    }
    facts
}

/// The probe targets of the cluster whose 30-day error budget is spent, read from its
/// Prometheus as the `slo` report does.
async fn exhausted_budgets(
    env: &Environment,
    fleet: &Fleet,
    target: &Target,
    now: DateTime<Utc>,
) -> Result<Vec<String>, String> {
    let cluster = env.cluster(target.role);
    if cluster.probes.is_empty() {
        return Ok(Vec::new());
    }
    let client = prometheus::cluster_client(cluster, Duration::from_secs(10)).await?;
    let name = target.name();
    let probes = fleet.with_exclusions(&target.env, target.role, &cluster.probes);
    let reports = slo_counts::slo_reports_fast(&client, &name, &probes, now, fleet.policy.timezone);
    // 20 s a probe, as when each was read on its own.
    let wait = Duration::from_secs(20) * probes.len().max(1) as u32;
    let reports = tokio::time::timeout(wait, reports)
        .await
        .map_err(|_| format!("no answer within {} s", wait.as_secs()))?
        .map_err(|e| e.to_string())?;
    Ok(reports
        .iter()
        .filter(|r| r.budget_spent())
        .map(|r| r.target.clone())
        .collect())
}

async fn critical_alerts(
    env: &Environment,
    target: &Target,
    checked: &mut Vec<String>,
) -> Vec<String> {
    let url = &env.cluster(target.role).alertmanager;
    let credential = env.cluster(target.role).alertmanager_credential.as_deref();
    let read = async {
        let credential = crate::secrets::resolve(credential)
            .await
            .map_err(|e| e.to_string())?;
        let am = AlertmanagerClient::new(url, None, Duration::from_secs(5))
            .map_err(|e| e.to_string())?
            .with_credential(credential);
        am.alerts(&AlertFilter::active_only())
            .await
            .map_err(|e| e.to_string())
    };
    match read.await {
        Ok(alerts) => {
            let mut names: Vec<String> = alerts
                .iter()
                .filter(|a| a.label("severity") == Some("critical"))
                .map(|a| a.alertname().to_owned())
                .collect();
            names.sort();
            names.dedup();
            checked.push(format!(
                "alerts: {} critical firing in {}",
                names.len(),
                target.name()
            ));
            names
        }
        Err(e) => {
            checked.push(format!("alerts: Alertmanager {url} could not be read: {e}"));
            vec![format!("unknown: Alertmanager unreachable ({e})")]
        }
    }
}

async fn last_good_backup(target: &Target, checked: &mut Vec<String>) -> Option<DateTime<Utc>> {
    let api: Api<DynamicObject> = Api::namespaced_with(
        target.cluster.clone(),
        "velero",
        &workflows::resource("velero.io", "v1", "Backup", "backups"),
    );
    match api.list(&ListParams::default()).await {
        Ok(list) => {
            let newest = list
                .items
                .iter()
                .filter(|b| b.data["status"]["phase"].as_str() == Some("Completed"))
                .filter_map(|b| b.data["status"]["completionTimestamp"].as_str())
                .filter_map(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc))
                .max();
            checked.push(match newest {
                Some(t) => format!("backups: last good one {}", t.format("%Y-%m-%d %H:%M UTC")),
                None => "backups: none completed".into(),
            });
            newest
        }
        Err(e) => {
            let e = failure::of_kube(&e);
            checked.push(format!("backups: could not be read: {e}"));
            None
        }
    }
}

/// The cluster's nodes other than `except` that are cordoned or not Ready.
async fn nodes_out(target: &Target, except: &str, checked: &mut Vec<String>) -> Vec<String> {
    let api: Api<k8s_openapi::api::core::v1::Node> = Api::all(target.cluster.clone());
    let list = match api.list(&ListParams::default()).await {
        Ok(list) => list,
        Err(e) => {
            let e = failure::of_kube(&e);
            checked.push(format!("nodes: could not be read: {e}"));
            return vec![format!("unknown (the nodes could not be read: {e})")];
        }
    };
    let out: Vec<String> = list
        .items
        .iter()
        .filter(|n| n.metadata.name.as_deref() != Some(except))
        .filter_map(|n| {
            let name = n.metadata.name.as_deref()?;
            let cordoned = n.spec.as_ref().and_then(|s| s.unschedulable) == Some(true);
            let ready = n
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
            match (cordoned, ready) {
                (false, true) => None,
                (true, true) => Some(format!("{name} (cordoned)")),
                (_, false) => Some(format!("{name} (not Ready)")),
            }
        })
        .collect();
    checked.push(match out.len() {
        0 => "nodes: every other node Ready and schedulable".to_string(),
        _ => format!("nodes: out of service: {}", out.join(", ")),
    });
    out
}

async fn upgrade_lock(target: &Target, checked: &mut Vec<String>) -> Option<String> {
    let api: Api<ConfigMap> = Api::namespaced(target.cluster.clone(), "kube-system");
    match api.get_opt("welkin-apps-upgrade").await {
        Ok(Some(cm)) => {
            let to = cm
                .data
                .as_ref()
                .and_then(|d| d.get("version").cloned())
                .unwrap_or_else(|| "a new version".into());
            checked.push(format!("apps upgrade: in progress to {to}"));
            Some(format!(
                "the Welkin apps upgrade to {to} holds the upgrade lock (kube-system/welkin-apps-upgrade)"
            ))
        }
        Ok(None) => {
            checked.push("apps upgrade: none in progress".into());
            None
        }
        Err(e) => {
            let e = failure::of_kube(&e);
            checked.push(format!("apps upgrade lock: could not be read: {e}"));
            Some(format!("unknown: the upgrade lock could not be read ({e})"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClusterRole;

    #[test]
    fn new_ids_pass_their_own_check() {
        let now = "2026-12-07T07:10:00Z".parse().unwrap();
        for (workflow, env, role) in [
            ("scale", "acme", ClusterRole::Wc),
            ("restore", "globex-prod-2", ClusterRole::Sc),
            // A DNS label may hold `--` (punycode does).
            ("drain", "xn--bcher-kva", ClusterRole::Wc),
        ] {
            let id = new_id(now, workflow, env, role);
            assert!(check_id(&id).is_ok(), "{id}");
        }
    }

    #[test]
    fn an_id_is_never_a_path() {
        for id in [
            "../../../outside/victim",
            "../audit",
            "",
            "20261207T071000Z-scale-acme-wc-1a2b/../../x",
            "20261207T071000Z-scale-..-wc-1a2b",
            "20261207T071000Z-scale-acme-wc-1a2",
            "20261207T071000Z-scale-acme-xc-1a2b",
            "20261207X071000Z-scale-acme-wc-1a2b",
            "20261207T071000Z-Scale-acme-wc-1a2b",
            "20261207T071000Z--scale-acme-wc-1a2b",
            "20261207T071000Z-scale.acme-wc-1a2b",
        ] {
            let err = check_id(id).unwrap_err();
            assert_eq!(err.exit_code(), crate::exit::USAGE, "{id}: {err}");
        }
    }
}
