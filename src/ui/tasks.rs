//! The side effects of the console, each in its own tokio task so that drawing and
//! input never wait on the network: opening environments, permission checks, pod
//! details, log tails and silences. Results come back to the event loop as
//! [`UiEvent`]s.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::app::{Effect, Permission, RunsData, UiEvent};
use super::command::ObjectsQuery;
use super::handover;
use super::keymap::{self, Rbac};
use super::panes::backups::BackupRead;
use super::panes::objects::{self, Edit};
use crate::config::ClusterRole;
use crate::engine::ops::{ObjectRef, Op};
use crate::engine::readiness::{READ_EVERY, RolloutEnd};
use crate::engine::{Engine, audit};
use crate::kinds::ServedKind;
use crate::sources::live::LiveFleet;
use ck8s_fleet::inspect;

/// How many environments keep their heavy sources (every pod, event, workload) running.
/// Two lets an engineer flip between the troubled environment and a healthy one for
/// comparison without waiting for a relist; more would cost memory for little.
pub const KEEP_OPEN: usize = 2;
/// Permission answers are reused this long (k9s caches SSARs for 5 minutes too).
pub const PERMISSION_TTL: Duration = Duration::from_secs(300);

enum EnvOp {
    Open(String),
    Close(String),
}

pub struct Tasks {
    live: Arc<LiveFleet>,
    tx: mpsc::Sender<UiEvent>,
    env_ops: mpsc::UnboundedSender<EnvOp>,
    open: RecentEnvs,
    checked: Checked,
    log_tail: Option<JoinHandle<()>>,
    env_worker: JoinHandle<()>,
    engine: Option<Arc<Engine>>,
    runs_watcher: Option<JoinHandle<()>>,
    /// The poll of the objects pane's kind.
    objects_poll: Option<JoinHandle<()>>,
    /// The environment whose kinds were last discovered, for completion.
    kinds_of: Option<String>,
}

impl Drop for Tasks {
    fn drop(&mut self) {
        if let Some(t) = self.log_tail.take() {
            t.abort();
        }
        self.env_worker.abort();
        if let Some(t) = self.runs_watcher.take() {
            t.abort();
        }
        if let Some(t) = self.objects_poll.take() {
            t.abort();
        }
    }
}

impl Tasks {
    pub fn new(
        live: Arc<LiveFleet>,
        engine: Option<Arc<Engine>>,
        tx: mpsc::Sender<UiEvent>,
    ) -> Tasks {
        // Opening and closing run one at a time, in order, so a quick A→B→C→A leaves A
        // open rather than racing a close of A against its reopening.
        let (env_ops, mut ops) = mpsc::unbounded_channel();
        let worker_live = live.clone();
        let env_worker = tokio::spawn(async move {
            while let Some(op) = ops.recv().await {
                match op {
                    EnvOp::Open(env) => worker_live.open(&env).await,
                    EnvOp::Close(env) => worker_live.close(&env).await,
                }
            }
        });
        let runs_watcher = engine
            .clone()
            .map(|e| tokio::spawn(watch_runs(e, tx.clone())));
        Tasks {
            live,
            tx,
            env_ops,
            open: RecentEnvs::default(),
            checked: Checked::default(),
            log_tail: None,
            env_worker,
            runs_watcher,
            objects_poll: None,
            kinds_of: None,
            engine,
        }
    }

    pub fn run(&mut self, effect: Effect) {
        match effect {
            Effect::OpenEnv(env) => self.open_env(env),
            Effect::CheckPermissions(env) => self.check_permissions(env),
            Effect::FetchPod(target) => {
                let (live, tx) = (self.live.clone(), self.tx.clone());
                tokio::spawn(async move {
                    let result = inspect::pod_details(&live, &target).await.map(Box::new);
                    let _ = tx.send(UiEvent::PodLoaded { target, result }).await;
                });
            }
            Effect::TailLogs {
                id,
                target,
                options,
            } => {
                self.stop_logs();
                let (live, tx) = (self.live.clone(), self.tx.clone());
                self.log_tail = Some(tokio::spawn(async move {
                    let deliver = |lines| {
                        let tx = tx.clone();
                        async move { tx.send(UiEvent::LogLines { id, lines }).await.is_ok() }
                    };
                    let error = inspect::follow_log(&live, &target, &options, deliver)
                        .await
                        .err();
                    let _ = tx.send(UiEvent::LogEnded { id, error }).await;
                }));
            }
            Effect::StopLogs => self.stop_logs(),
            Effect::CreateSilence { id, silences } => {
                let (live, tx, engine) = (self.live.clone(), self.tx.clone(), self.engine.clone());
                tokio::spawn(async move {
                    let mut results = Vec::new();
                    let mut done = Vec::new();
                    let each: Vec<(
                        usize,
                        String,
                        ClusterRole,
                        ck8s_model::alert::PostableSilence,
                    )> = silences
                        .into_iter()
                        .enumerate()
                        .flat_map(|(i, (targets, silence))| {
                            targets
                                .into_iter()
                                .map(move |(e, r)| (i, e, r, silence.clone()))
                        })
                        .collect();
                    for (i, env, role, silence) in each {
                        let silence = &silence;
                        let cluster = format!("{env}-{role}");
                        // The console's gate checked already; this holds for any caller.
                        if let Some(why) = engine.as_ref().and_then(|e| e.read_only_reason(&env)) {
                            results.push((cluster, Err(format!("read-only: {why}"))));
                            continue;
                        }
                        let result = match live.alertmanager(&env, role) {
                            Some(am) => am.create_silence(silence).await.map_err(|e| e.to_string()),
                            None => Err(
                                "no Alertmanager client (see the alertmanager source status)"
                                    .into(),
                            ),
                        };
                        if let (Some(engine), Ok(sid)) = (&engine, &result) {
                            audit_silence(engine, "silence.create", &env, role, sid, silence);
                        }
                        if result.is_ok() {
                            done.push((i, cluster.clone()));
                        }
                        results.push((cluster, result));
                    }
                    let _ = tx.send(UiEvent::SilenceCreated { id, results, done }).await;
                });
            }
            Effect::ExpireSilence { env, role, id } => {
                let (live, tx, engine) = (self.live.clone(), self.tx.clone(), self.engine.clone());
                tokio::spawn(async move {
                    let refused = engine.as_ref().and_then(|e| e.read_only_reason(&env));
                    let result = match (refused, live.alertmanager(&env, role)) {
                        (Some(why), _) => Err(format!("read-only: {why}")),
                        (None, Some(am)) => am.expire_silence(&id).await.map_err(|e| e.to_string()),
                        (None, None) => Err("no Alertmanager client".into()),
                    };
                    if let (Some(engine), Ok(())) = (&engine, &result) {
                        let detail = serde_json::json!({});
                        audit_or_log(
                            engine,
                            silence_record(engine, "silence.expire", (&env, role), &id, detail),
                        );
                    }
                    let cluster = format!("{env}-{role}");
                    let _ = tx
                        .send(UiEvent::SilenceExpired {
                            cluster,
                            id,
                            result,
                        })
                        .await;
                });
            }
            Effect::WatchObjects { poll, env, query } => {
                if let Some(t) = self.objects_poll.take() {
                    t.abort();
                }
                let (live, tx) = (self.live.clone(), self.tx.clone());
                self.objects_poll = Some(tokio::spawn(poll_objects(live, tx, poll, env, query)));
            }
            Effect::StopObjects => {
                if let Some(t) = self.objects_poll.take() {
                    t.abort();
                }
            }
            Effect::FetchObjectYaml { key, env, object } => {
                let (live, tx) = (self.live.clone(), self.tx.clone());
                tokio::spawn(async move {
                    let result = crate::objects::yaml(
                        &live,
                        &env,
                        object.role,
                        &object.kind,
                        object.namespace.as_deref(),
                        &object.name,
                    )
                    .await;
                    let _ = tx.send(UiEvent::ObjectYaml { key, result }).await;
                });
            }
            Effect::ReadBackup {
                key,
                env,
                role,
                name,
                read,
            } => {
                let (live, tx, engine) = (self.live.clone(), self.tx.clone(), self.engine.clone());
                tokio::spawn(async move {
                    let backup = ObjectRef {
                        env: env.clone(),
                        role,
                        kind: "backups.velero.io".into(),
                        namespace: Some("velero".into()),
                        name: name.clone(),
                    };
                    // The engine's gate first: the request is an object in the cluster.
                    let what = match read {
                        BackupRead::Describe => "describe",
                        BackupRead::Log => "log",
                    };
                    let gate = match &engine {
                        Some(engine) => engine
                            .download(&backup, what)
                            .await
                            .map_err(|e| e.to_string()),
                        None => Err("reading Velero's files needs the workflow engine".into()),
                    };
                    let result = match (gate, read) {
                        (Err(e), _) => Err(e),
                        (Ok(()), BackupRead::Describe) => {
                            crate::velero::describe_backup(&live, &env, role, &name).await
                        }
                        (Ok(()), BackupRead::Log) => {
                            crate::velero::backup_log(&live, &env, role, &name).await
                        }
                    };
                    let _ = tx.send(UiEvent::BackupRead { key, env, result }).await;
                });
            }
            Effect::Describe { key, env, object } => {
                let (live, tx) = (self.live.clone(), self.tx.clone());
                tokio::spawn(async move {
                    let result = crate::describe::describe(
                        &live,
                        &env,
                        object.role,
                        &object.kind,
                        object.namespace.as_deref(),
                        &object.name,
                    )
                    .await;
                    let _ = tx.send(UiEvent::Described { key, env, result }).await;
                });
            }
            Effect::Act { op, objects } => {
                let (tx, engine) = (self.tx.clone(), self.engine.clone());
                tokio::spawn(async move {
                    let result = match &engine {
                        // The gate again, for every caller: read-only, lock, permission.
                        Some(engine) => engine
                            .act(op, &objects, true)
                            .await
                            .map_err(|e| e.to_string()),
                        None => Err("no workflow engine in this console".into()),
                    };
                    let started: Vec<(String, ObjectRef)> = match &result {
                        Ok(outcomes) if matches!(op, Op::Scale(_) | Op::Restart) => outcomes
                            .iter()
                            .zip(&objects)
                            .filter(|(o, _)| o.ok)
                            .map(|(o, object)| {
                                // Short enough for the status line of a narrow terminal.
                                let name = match &o.namespace {
                                    Some(ns) => format!("{ns}/{}", o.name),
                                    None => o.name.clone(),
                                };
                                (format!("{name}: {}", o.message), object.clone())
                            })
                            .collect(),
                        _ => Vec::new(),
                    };
                    let _ = tx.send(UiEvent::Acted { op, result }).await;
                    // Then the rollouts, as `kubectl rollout status` follows them.
                    if let Some(engine) = engine {
                        for (label, object) in started {
                            follow_rollout(&engine, &tx, label, &object).await;
                        }
                    }
                });
            }
            Effect::DryRunEdit(edit) => self.edit(edit, true),
            Effect::ApplyEdit(edit) => self.edit(edit, false),
            Effect::WriteFile {
                path,
                text,
                what,
                fresh,
            } => {
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    let result = match write_file(&path, text, fresh).await {
                        Ok(()) => Ok(format!("wrote {what} to {path}")),
                        Err(e) => Err(format!("{what} could not be written to {path}: {e}")),
                    };
                    let _ = tx.send(UiEvent::Written(result)).await;
                });
            }
            Effect::PortForward { target, ports } => {
                let (live, tx, engine) = (self.live.clone(), self.tx.clone(), self.engine.clone());
                tokio::spawn(async move {
                    let ready =
                        handover::prepare_port_forward(&live, engine.as_deref(), &target, &ports)
                            .await;
                    let _ = tx.send(handed(ready)).await;
                });
            }
            Effect::Shell { target, container } => {
                let (live, tx, engine) = (self.live.clone(), self.tx.clone(), self.engine.clone());
                tokio::spawn(async move {
                    let ready = handover::prepare_shell(
                        &live,
                        engine.as_deref(),
                        &target,
                        container.as_deref(),
                    )
                    .await;
                    let _ = tx.send(handed(ready)).await;
                });
            }
            Effect::Reveal {
                details_key,
                secret,
                key,
            } => {
                let (tx, engine) = (self.tx.clone(), self.engine.clone());
                tokio::spawn(async move {
                    let result = match engine {
                        Some(engine) => engine
                            .reveal(&secret, &key)
                            .await
                            .map_err(|e| e.to_string()),
                        None => Err("no workflow engine in this console".into()),
                    };
                    let _ = tx
                        .send(UiEvent::Revealed {
                            details_key,
                            result,
                        })
                        .await;
                });
            }
            Effect::OpenEditor(edit) => {
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    let _ = tx.send(editor_for(edit)).await;
                });
            }
            Effect::EditObject { env, object, kept } => {
                let (live, tx) = (self.live.clone(), self.tx.clone());
                tokio::spawn(async move {
                    let event = match handover::prepare_edit(&live, &env, object, kept).await {
                        Ok(handover::Handover::Editor(edit)) => editor_for(edit),
                        other => handed(other),
                    };
                    let _ = tx.send(event).await;
                });
            }
            // The event loop owns the theme and the terminal.
            Effect::SetTheme(_) | Effect::Copy(_) => {}
            Effect::PlanRun { .. }
            | Effect::StartRun { .. }
            | Effect::CancelRun(_)
            | Effect::ResumeRun(_) => self.run_workflow_effect(effect),
        }
    }

    fn run_workflow_effect(&self, effect: Effect) {
        let Some(engine) = self.engine.clone() else {
            return;
        };
        let (tx, live) = (self.tx.clone(), self.live.clone());
        tokio::spawn(async move {
            let event = match effect {
                Effect::PlanRun { id, mut request } => {
                    request.hints.budget_exhausted =
                        exhausted_budgets(&live.state, &request.env, request.role);
                    UiEvent::RunPlanned {
                        id,
                        result: engine.plan(request).await.map_err(|e| e.to_string()),
                    }
                }
                Effect::StartRun { id, plan, reason } => UiEvent::RunStarted {
                    id,
                    result: engine.start(*plan, reason).await.map_err(|e| e.to_string()),
                },
                Effect::CancelRun(run) => UiEvent::RunControl(
                    engine
                        .cancel(&run)
                        .await
                        .map(|how| match how {
                            crate::engine::Cancelled::Requested => {
                                format!("run {run} stops at its next safe point")
                            }
                            crate::engine::Cancelled::Ended => {
                                format!("run {run} had no live process; marked cancelled")
                            }
                        })
                        .map_err(|e| e.to_string()),
                ),
                Effect::ResumeRun(run) => UiEvent::RunControl(
                    engine
                        .resume(&run)
                        .await
                        .map(|()| format!("run {run} resumed"))
                        .map_err(|e| e.to_string()),
                ),
                _ => return,
            };
            let _ = tx.send(event).await;
        });
    }

    /// Asks the engine for an edit's dry run (and its diff against what was read), or
    /// makes the edit. Both pass the engine's gate.
    fn edit(&self, edit: Edit, dry_run: bool) {
        let (tx, engine) = (self.tx.clone(), self.engine.clone());
        tokio::spawn(async move {
            let (key, id) = (edit.key.clone(), edit.id);
            let result = match (engine, crate::objects::parse_edit(&edit.text)) {
                (None, _) => Err("no workflow engine in this console".to_owned()),
                (_, Err(e)) => Err(e),
                (Some(engine), Ok(value)) if edit.creating => {
                    let object = crate::objects::named_by(&edit.object, &value);
                    engine
                        .create(&object, value, dry_run)
                        .await
                        .map_err(|e| e.to_string())
                }
                (Some(engine), Ok(edited)) => engine
                    .edit(&edit.object, edited, dry_run)
                    .await
                    .map_err(|e| e.to_string()),
            };
            let event = if dry_run {
                // A new object's diff is against nothing.
                let before = if edit.creating { "" } else { &edit.original };
                let diff = result.and_then(|would| {
                    let would = crate::objects::edit_text(&would)?;
                    Ok(crate::objects::diff(before, &would))
                });
                UiEvent::EditPlanned { id, result: diff }
            } else {
                let done = if edit.creating { "created" } else { "edited" };
                let done = result.map(|_| format!("{done}: the server stored it"));
                UiEvent::Edited {
                    key,
                    creating: edit.creating,
                    result: done,
                }
            };
            let _ = tx.send(event).await;
        });
    }

    fn stop_logs(&mut self) {
        if let Some(t) = self.log_tail.take() {
            t.abort();
        }
    }

    fn open_env(&mut self, env: String) {
        if self.kinds_of.as_ref() != Some(&env) {
            self.kinds_of = Some(env.clone());
            let (live, tx, env) = (self.live.clone(), self.tx.clone(), env.clone());
            tokio::spawn(async move {
                let mut names = Vec::new();
                for role in ClusterRole::ALL {
                    // Only for completion: a cluster that does not answer offers none.
                    if let Ok(catalog) = crate::objects::catalog(&live, &env, role).await {
                        names.extend(catalog.names().map(str::to_owned));
                    }
                }
                names.sort();
                names.dedup();
                let _ = tx.send(UiEvent::Kinds { env, names }).await;
            });
        }
        let change = self.open.touch(&env);
        if change.opened {
            let _ = self.env_ops.send(EnvOp::Open(env));
        }
        for old in change.closed {
            let _ = self.env_ops.send(EnvOp::Close(old));
        }
    }

    fn check_permissions(&mut self, env: String) {
        if !self.checked.due(&env, Instant::now()) {
            return;
        }
        for role in ClusterRole::ALL {
            let (live, tx, env) = (self.live.clone(), self.tx.clone(), env.clone());
            tokio::spawn(async move {
                // One review per distinct permission; several actions may share one.
                let mut answers: HashMap<Rbac, Permission> = HashMap::new();
                for spec in keymap::with_rbac() {
                    let Some(rbac) = spec.rbac else { continue };
                    let result = match answers.get(&rbac) {
                        Some(r) => r.clone(),
                        None => {
                            let r = inspect::review(&live, &env, role, &rbac).await;
                            answers.insert(rbac, r.clone());
                            r
                        }
                    };
                    let event = UiEvent::Permission {
                        env: env.clone(),
                        role,
                        action: spec.id,
                        result,
                    };
                    if tx.send(event).await.is_err() {
                        return;
                    }
                }
            });
        }
    }
}

/// Writes `text` to `path`; a `fresh` file must not exist yet and is made readable by its
/// owner alone.
async fn write_file(path: &str, text: String, fresh: bool) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    if !fresh {
        return tokio::fs::write(path, text).await;
    }
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .await?;
    file.write_all(text.as_bytes()).await?;
    file.flush().await
}

/// How long the console follows a rollout it started.
const ROLLOUT_PATIENCE: std::time::Duration = std::time::Duration::from_secs(300);

/// Follows `object`'s rollout until done or [`ROLLOUT_PATIENCE`], each change to the
/// status line after `label` (the object and what was done to it).
async fn follow_rollout(
    engine: &crate::engine::Engine,
    tx: &tokio::sync::mpsc::Sender<UiEvent>,
    label: String,
    object: &ObjectRef,
) {
    let progress = |r: &crate::engine::readiness::Readiness| {
        // A reading the loop has no room for is one the next replaces.
        let _ = tx.try_send(UiEvent::Rollout {
            label: label.clone(),
            text: format!("rolling out: {}", r.summary()),
            done: None,
        });
    };
    let waited = engine
        .wait_ready(object, ROLLOUT_PATIENCE, READ_EVERY, progress)
        .await;
    let Some(end) = RolloutEnd::of(waited, ROLLOUT_PATIENCE) else {
        return;
    };
    let _ = tx
        .send(UiEvent::Rollout {
            label,
            text: end.said,
            done: Some(end.rolled_out),
        })
        .await;
}

/// `edit` in `$VISUAL` or `$EDITOR`, handed the terminal, else in the console's own.
fn editor_for(edit: Edit) -> UiEvent {
    match crate::objects::editor() {
        Some(_) => UiEvent::HandOver(handover::Handover::Editor(edit)),
        None => UiEvent::EditInApp(edit),
    }
}

/// A prepared handover for the event loop, or why there is none.
fn handed(ready: Result<handover::Handover, String>) -> UiEvent {
    match ready {
        Ok(h) => UiEvent::HandOver(h),
        Err(why) => UiEvent::NotHandedOver(why),
    }
}

/// Lists `query`'s kind in both clusters of `env` now and every [`objects::POLL`], until
/// aborted. The kind is looked up once per cluster; an unknown kind is said once and not
/// asked again.
async fn poll_objects(
    live: Arc<LiveFleet>,
    tx: mpsc::Sender<UiEvent>,
    poll: u64,
    env: String,
    query: ObjectsQuery,
) {
    let mut kinds: HashMap<ClusterRole, Result<ServedKind, String>> = HashMap::new();
    let send = |role, result| UiEvent::Objects { poll, role, result };
    loop {
        for role in ClusterRole::ALL {
            // Discovery that fails is asked again next time; an unknown kind is kept.
            let kind = match kinds.get(&role) {
                Some(kind) => kind.clone(),
                None => match crate::objects::catalog(&live, &env, role).await {
                    Ok(catalog) => {
                        let kind = catalog.resolve(&query.kind).cloned();
                        let kind = kind.map_err(|e| e.to_string());
                        kinds.insert(role, kind.clone());
                        kind
                    }
                    Err(e) => {
                        if tx.send(send(role, Err(e))).await.is_err() {
                            return;
                        }
                        continue;
                    }
                },
            };
            let result = match kind {
                Ok(kind) => {
                    let namespace = query.namespace.as_deref();
                    crate::objects::table(&live, &env, role, &kind, namespace)
                        .await
                        .map(|table| (kind, table))
                }
                Err(unknown) => Err(unknown),
            };
            if tx.send(send(role, result)).await.is_err() {
                return;
            }
        }
        tokio::time::sleep(objects::POLL).await;
    }
}

/// The environments whose heavy sources run, least recently opened first.
#[derive(Debug, Default)]
struct RecentEnvs(VecDeque<String>);

/// What opening an environment changes.
#[derive(Debug, PartialEq)]
struct EnvChange {
    /// It was not open: start its heavy sources.
    opened: bool,
    /// Environments to close, beyond the [`KEEP_OPEN`] most recent.
    closed: Vec<String>,
}

impl RecentEnvs {
    fn touch(&mut self, env: &str) -> EnvChange {
        if let Some(i) = self.0.iter().position(|e| e == env) {
            let e = self.0.remove(i).unwrap_or_default();
            self.0.push_back(e);
            return EnvChange {
                opened: false,
                closed: Vec::new(),
            };
        }
        self.0.push_back(env.to_owned());
        let excess = self.0.len().saturating_sub(KEEP_OPEN);
        EnvChange {
            opened: true,
            closed: self.0.drain(..excess).collect(),
        }
    }
}

/// When each environment's permissions were last reviewed.
#[derive(Debug, Default)]
struct Checked(HashMap<String, Instant>);

impl Checked {
    /// Whether the permissions of `env` are to be reviewed (again) now; if so, notes it.
    fn due(&mut self, env: &str, now: Instant) -> bool {
        if self
            .0
            .get(env)
            .is_some_and(|t| now.duration_since(*t) < PERMISSION_TTL)
        {
            return false;
        }
        self.0.insert(env.to_owned(), now);
        true
    }
}

/// The SLO targets of a cluster with no error budget left, from the console's SLO reports,
/// which the policy weighs before a disruptive workflow and the engine cannot cheaply work
/// out itself. `None` until the reports are in: the plan then says it was not checked.
fn exhausted_budgets(
    state: &crate::state::FleetState,
    env: &str,
    role: ClusterRole,
) -> Option<Vec<String>> {
    let cluster = state.env(env)?.cluster(role).read();
    if cluster.slo.is_empty() {
        return None;
    }
    Some(
        cluster
            .slo
            .iter()
            .filter(|r| r.budget_spent())
            .map(|r| r.target.clone())
            .collect(),
    )
}

/// Silences change what pages people, so they are audited like any other change; the
/// comment says why, the matchers what.
fn audit_silence(
    engine: &Engine,
    action: &str,
    env: &str,
    role: ClusterRole,
    id: &str,
    silence: &ck8s_model::alert::PostableSilence,
) {
    let matchers: Vec<String> = silence.matchers.iter().map(|m| m.to_string()).collect();
    let detail = serde_json::json!({
        "matchers": matchers,
        "comment": silence.comment,
        "created_by": silence.created_by,
        "ends_at": silence.ends_at,
    });
    audit_or_log(
        engine,
        silence_record(engine, action, (env, role), id, detail),
    );
}

fn silence_record(
    engine: &Engine,
    action: &str,
    (env, role): (&str, ClusterRole),
    id: &str,
    detail: serde_json::Value,
) -> audit::NewRecord {
    audit::NewRecord {
        actor: engine.actor().to_owned(),
        action: action.into(),
        env: env.into(),
        cluster: Some(role.to_string()),
        target: Some(format!("silence {id}")),
        detail,
        ..audit::NewRecord::default()
    }
}

/// An audit failure must not undo or hide the change that was made: it is logged.
fn audit_or_log(engine: &Engine, record: audit::NewRecord) {
    if let Err(e) = engine.record(record) {
        tracing::error!(error = %e, "auditing a silence failed");
    }
}

/// How many audit records the runs pane keeps.
const AUDIT_SHOWN: usize = 500;
/// Runs of other consoles and scripts change without telling this one; look this often.
const RUNS_POLL: Duration = Duration::from_secs(5);

/// Re-reads the journals and the audit log whenever a run of this console changes, and
/// every few seconds for the others'. Reading files stays off the event loop.
async fn watch_runs(engine: Arc<Engine>, tx: mpsc::Sender<UiEvent>) {
    let mut changes = engine.subscribe();
    loop {
        let e = engine.clone();
        let Ok(data) = tokio::task::spawn_blocking(move || load_runs(&e)).await else {
            return;
        };
        if tx.send(UiEvent::RunsLoaded(Box::new(data))).await.is_err() {
            return;
        }
        let _ = tokio::time::timeout(RUNS_POLL, changes.recv()).await;
        // A step journals several lines in a burst; one re-read covers them.
        tokio::time::sleep(Duration::from_millis(150)).await;
        while changes.try_recv().is_ok() {}
    }
}

fn load_runs(engine: &Engine) -> RunsData {
    let (runs, errors) = engine.runs();
    let mut errors: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    let audit = match audit::read(engine.audit_log()) {
        Ok(mut records) => {
            let skip = records.len().saturating_sub(AUDIT_SHOWN);
            records.drain(..skip);
            records
        }
        Err(e) => {
            errors.push(e.to_string());
            Vec::new()
        }
    };
    // In progress here: driven by this process and not yet ended. (A run's task lets go
    // a moment after it journals its end; in between it is over, not in progress.)
    let local = runs
        .iter()
        .filter(|r| !r.finished() && engine.is_local(&r.id))
        .map(|r| r.id.clone())
        .collect();
    RunsData {
        runs,
        audit,
        errors,
        local,
        loaded: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Fleet;
    use crate::engine::{Mode, Tuning};
    use crate::paths::{PathEnv, Paths};
    use crate::testing::slo_report;
    use chrono::{Duration as Span, Utc};
    use ck8s_model::alert::{Matcher, PostableSilence};

    #[test]
    fn the_two_most_recently_opened_environments_stay_open() {
        let mut recent = RecentEnvs::default();
        let opened = |closed: &[&str]| EnvChange {
            opened: true,
            closed: closed.iter().map(|c| c.to_string()).collect(),
        };
        assert_eq!(recent.touch("acme"), opened(&[]));
        assert_eq!(recent.touch("globex"), opened(&[]));
        assert_eq!(
            recent.touch("acme"),
            EnvChange {
                opened: false,
                closed: vec![]
            },
            "opening an open one only makes it the most recent"
        );
        assert_eq!(recent.touch("initech"), opened(&["globex"]));
        assert_eq!(recent.touch("globex"), opened(&["acme"]));
        assert_eq!(recent.0, ["initech", "globex"]);
    }

    #[test]
    fn permissions_are_reviewed_again_only_after_their_time_to_live() {
        let mut checked = Checked::default();
        let t0 = Instant::now();
        assert!(checked.due("globex", t0));
        assert!(!checked.due("globex", t0 + PERMISSION_TTL - Duration::from_secs(1)));
        assert!(checked.due("acme", t0), "each environment on its own");
        assert!(checked.due("globex", t0 + PERMISSION_TTL));
        assert!(!checked.due("globex", t0 + PERMISSION_TTL));
    }

    #[test]
    fn spent_budgets_are_named_and_unknown_until_reports_are_in() {
        let state = crate::state::test_fleet("globex");
        assert_eq!(exhausted_budgets(&state, "globex", ClusterRole::Wc), None);
        let wc = state.env("globex").unwrap().cluster(ClusterRole::Wc);
        wc.update(|s| {
            s.slo = vec![
                slo_report("globex-wc", "grafana", false),
                slo_report("globex-wc", "harbor", true),
            ]
        });
        assert_eq!(
            exhausted_budgets(&state, "globex", ClusterRole::Wc),
            Some(vec!["grafana".to_owned()])
        );
        assert_eq!(exhausted_budgets(&state, "initech", ClusterRole::Wc), None);
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        engine: Arc<Engine>,
        fleet: Fleet,
    }

    fn engine(mode: Mode) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let env = PathEnv {
            home: Some(dir.path().to_owned()),
            xdg_config_home: None,
            xdg_state_home: None,
        };
        let paths = Paths::resolve(None, None, &env);
        let fleet = crate::state::test_config("globex");
        let engine = Engine::with_mode(
            Arc::new(fleet.clone()),
            &paths,
            "alice".into(),
            Tuning::default(),
            mode,
        );
        Fixture {
            _dir: dir,
            engine,
            fleet,
        }
    }

    fn record(action: &str, n: usize) -> audit::NewRecord {
        audit::NewRecord {
            actor: "alice".into(),
            action: action.into(),
            env: "globex".into(),
            detail: serde_json::json!({"n": n}),
            ..Default::default()
        }
    }

    #[test]
    fn the_runs_pane_gets_the_newest_audit_records_and_the_errors() {
        let f = engine(Mode::ReadWrite);
        let empty = load_runs(&f.engine);
        assert!(empty.loaded && empty.runs.is_empty() && empty.audit.is_empty());
        assert!(
            empty.errors.is_empty(),
            "no log yet is no error: {:?}",
            empty.errors
        );

        for n in 0..AUDIT_SHOWN + 3 {
            f.engine.record(record("silence.create", n)).unwrap();
        }
        let data = load_runs(&f.engine);
        assert_eq!(data.audit.len(), AUDIT_SHOWN);
        assert_eq!(data.audit[0].detail["n"], 3, "the oldest go first");
        assert_eq!(data.audit.last().unwrap().detail["n"], AUDIT_SHOWN + 2);

        std::fs::write(f.engine.audit_log(), "not json\n").unwrap();
        let broken = load_runs(&f.engine);
        assert!(broken.audit.is_empty());
        assert_eq!(broken.errors.len(), 1);
        assert!(broken.errors[0].contains("audit"), "{:?}", broken.errors);
    }

    #[test]
    fn a_silence_audit_record_says_who_what_where_and_why() {
        let f = engine(Mode::ReadWrite);
        let now = Utc::now();
        let silence = PostableSilence {
            id: None,
            matchers: vec![Matcher {
                name: "alertname".into(),
                value: "KubePodCrashLooping".into(),
                is_regex: false,
                is_equal: true,
            }],
            starts_at: now,
            ends_at: now + Span::hours(2),
            created_by: "alice".into(),
            comment: "INC-42 being fixed".into(),
        };
        audit_silence(
            &f.engine,
            "silence.create",
            "globex",
            ClusterRole::Wc,
            "s-1",
            &silence,
        );
        let records = audit::read(f.engine.audit_log()).unwrap();
        let r = &records[0];
        assert_eq!(
            (r.actor.as_str(), r.action.as_str()),
            ("alice", "silence.create")
        );
        assert_eq!(
            (r.env.as_str(), r.cluster.as_deref()),
            ("globex", Some("wc"))
        );
        assert_eq!(r.target.as_deref(), Some("silence s-1"));
        assert_eq!(r.detail["matchers"][0], "alertname=\"KubePodCrashLooping\"");
        assert_eq!(r.detail["comment"], "INC-42 being fixed");
    }

    #[tokio::test]
    async fn a_read_only_console_refuses_silences_without_asking_alertmanager() {
        let f = engine(Mode::ReadOnly);
        let live = Arc::new(LiveFleet::start(&f.fleet, Default::default()).await);
        let (tx, mut rx) = mpsc::channel(8);
        let mut tasks = Tasks::new(live, Some(f.engine.clone()), tx);
        let silence = PostableSilence {
            id: None,
            matchers: vec![],
            starts_at: Utc::now(),
            ends_at: Utc::now(),
            created_by: "alice".into(),
            comment: "x".into(),
        };
        tasks.run(Effect::CreateSilence {
            id: 7,
            silences: vec![(
                vec![
                    ("globex".into(), ClusterRole::Sc),
                    ("globex".into(), ClusterRole::Wc),
                ],
                silence,
            )],
        });
        tasks.run(Effect::ExpireSilence {
            env: "globex".into(),
            role: ClusterRole::Wc,
            id: "s-1".into(),
        });
        let mut created = None;
        let mut expired = None;
        while created.is_none() || expired.is_none() {
            match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
                Ok(Some(UiEvent::SilenceCreated { id, results, .. })) => {
                    created = Some((id, results))
                }
                Ok(Some(UiEvent::SilenceExpired { result, .. })) => expired = Some(result),
                Ok(Some(_)) => {}
                other => panic!("no silence answer: {other:?}"),
            }
        }
        let (id, results) = created.unwrap();
        assert_eq!(id, 7);
        assert_eq!(results.len(), 2);
        for (cluster, result) in results {
            let why = result.unwrap_err();
            assert!(
                why.starts_with("read-only: this console runs read-only"),
                "{cluster}: {why}"
            );
        }
        assert!(expired.unwrap().unwrap_err().starts_with("read-only"));
        let records = audit::read(f.engine.audit_log()).unwrap();
        assert!(
            records.is_empty(),
            "nothing changed, nothing audited: {records:?}"
        );
    }
}
