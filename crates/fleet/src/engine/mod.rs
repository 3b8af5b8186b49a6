//! The workflow engine: plans a run against the policy, locks the cluster, runs the
//! workflow's steps in a background task, journals every step and audits every change.
//! The console and the headless `run` share it; it never draws and never prints.

mod anchor;
pub mod audit;
pub mod journal;
mod lease;
pub mod ops;
pub mod policy;
pub mod readiness;
mod run;
pub mod workflows;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;
use tokio::sync::{broadcast, watch};

use self::audit::{AuditError, AuditLog, NewRecord};
use self::journal::{Entry, JournalError, Journals, Outcome, RunSummary};
use self::lease::LockError;
use self::policy::Decision;
use self::workflows::{Target, WorkflowKind};
use crate::config::{ClusterRole, Fleet};
use crate::exit;
use crate::paths::Paths;
use crate::sources::kube::{self as kube_source, KubeSourceError};
use ck8s_model::access::Permission;

/// What to run, as a user asked for it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRequest {
    pub workflow: WorkflowKind,
    pub env: String,
    pub role: ClusterRole,
    pub params: BTreeMap<String, String>,
    /// Facts the caller already knows better than the engine can cheaply find out.
    pub hints: Hints,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hints {
    /// SLO targets with no error budget left, from the console's SLO reports.
    pub budget_exhausted: Option<Vec<String>>,
    /// The run being resumed: its own lock is not another run's.
    pub own_run: Option<String>,
}

/// A planned run: what it would do, and what the policy says about it now.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Plan {
    pub workflow: &'static str,
    pub env: String,
    pub cluster: ClusterRole,
    pub params: BTreeMap<String, String>,
    pub steps: Vec<&'static str>,
    /// The change, in words.
    pub change: String,
    pub decision: Decision,
    /// What was checked, and what could not be.
    pub checked: Vec<String>,
    #[serde(skip)]
    request: RunRequest,
}

impl Plan {
    /// A plan for `request`; the engine builds them from what it observed, the console's
    /// tests from fixtures.
    pub fn new(
        request: RunRequest,
        change: String,
        decision: Decision,
        checked: Vec<String>,
    ) -> Plan {
        Plan {
            workflow: request.workflow.name(),
            env: request.env.clone(),
            cluster: request.role,
            params: request.params.clone(),
            steps: request.workflow.steps().to_vec(),
            change,
            decision,
            checked,
            request,
        }
    }

    pub fn needs_override(&self) -> bool {
        matches!(self.decision, Decision::NeedsOverride { .. })
    }

    pub fn denied(&self) -> bool {
        matches!(self.decision, Decision::Deny { .. })
    }

    /// Whether [`Engine::start`] would take this plan with `reason`, and if not, why: a dry
    /// run answers with the same check as the real one.
    pub fn admits(&self, reason: Option<String>) -> Result<(), EngineError> {
        check_reason(&self.decision, reason).map(drop)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Wrong input: unknown environment, workflow or parameter.
    #[error("{0}")]
    Usage(String),
    #[error("the policy refuses this run ({}); nothing was changed", rules(.0))]
    Denied(Decision),
    #[error("the policy allows this run only with an override reason ({}): {problem}", rules(.decision))]
    NeedsReason { decision: Decision, problem: String },
    #[error(transparent)]
    Locked(#[from] LockError),
    #[error("{0}")]
    Observe(String),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error("run {id} {why}")]
    NotResumable { id: String, why: String },
    /// What the plan showed is no longer what would be done.
    #[error("{0}")]
    Stale(String),
    /// The engine runs read-only (`--read-only`), or the environment is read-only in the
    /// fleet config: it plans, lists and shows, and changes nothing.
    #[error("read-only: {0}; nothing was changed")]
    ReadOnly(String),
    /// A SelfSubjectAccessReview said no (or could not say yes) for an action's object.
    #[error("{0}; nothing was changed")]
    Forbidden(String),
}

/// The findings of a verdict, each as its rule id and its full sentence. A refusal at
/// start comes from a fresh plan, which may differ from the one printed before (another
/// run took the lock meanwhile), so the error itself says who holds what.
fn rules(d: &Decision) -> String {
    match d {
        Decision::Allow => "no rule".into(),
        Decision::NeedsOverride { findings } | Decision::Deny { findings } => findings
            .iter()
            .map(|f| format!("{}: {}", f.rule, f.message))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

impl EngineError {
    /// Exit codes of `run`: refusals are 3 and a held lock 4, so scripts can tell "not
    /// allowed now" and "busy, try later" from "broken input" (2) and "tried and failed"
    /// (1).
    pub fn exit_code(&self) -> i32 {
        match self {
            EngineError::Usage(_)
            | EngineError::NotResumable { .. }
            | EngineError::Journal(JournalError::UnknownRun(_)) => exit::USAGE,
            EngineError::Locked(LockError::Held { .. }) => exit::LOCKED,
            EngineError::Denied(decision) if decision.only_locked() => exit::LOCKED,
            EngineError::Denied(_)
            | EngineError::NeedsReason { .. }
            | EngineError::Stale(_)
            | EngineError::ReadOnly(_)
            | EngineError::Forbidden(_) => exit::REFUSED,
            _ => exit::FAILURE,
        }
    }
}

/// What a cancel did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancelled {
    /// The driver was asked to stop at its next safe point.
    Requested,
    /// No live process drove the run; it is marked cancelled now.
    Ended,
}

/// How the engine paces itself; tests shorten the waits.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    pub poll: Duration,
    pub patience: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            poll: Duration::from_secs(2),
            patience: Duration::from_secs(30 * 60),
        }
    }
}

/// Whether the engine may change anything. Read-only is enforced here, for every caller
/// (console keys, `:` commands, headless `run` and `runs`), not only in the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    ReadWrite,
    ReadOnly,
}

pub struct Engine {
    fleet: Arc<Fleet>,
    mode: Mode,
    journals: Journals,
    audit_path: PathBuf,
    actor: String,
    tuning: Tuning,
    /// By environment, cluster and whether the client retries 429/503/504 itself.
    clients: tokio::sync::Mutex<HashMap<(String, ClusterRole, bool), kube::Client>>,
    /// Runs driven by this process, by id, with their cancel switch.
    running: Mutex<HashMap<String, watch::Sender<bool>>>,
    changed: broadcast::Sender<String>,
    /// Itself, for the tasks it spawns from `&self` (anchoring audit records).
    me: std::sync::Weak<Engine>,
    /// Anchor writes under way; [`Engine::settle`] waits for them before a process exits.
    anchoring: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// The kinds each cluster serves, for small actions on objects.
    catalogs: ops::Catalogs,
}

/// The anchors as read from the clusters: per environment, the anchor, none, or why it
/// could not be read.
#[derive(Debug, Clone)]
pub struct Anchors(Vec<(String, Result<Option<anchor::Anchor>, String>)>);

impl Anchors {
    /// Compares the local log (`records`, as read; `damaged` when a line after them is not
    /// a record) with every anchor.
    pub fn check(&self, records: &[audit::AuditRecord], damaged: bool) -> Vec<AnchorCheck> {
        self.0
            .iter()
            .map(|(env, found)| {
                let env = env.clone();
                match found {
                    Err(why) => AnchorCheck::Unchecked {
                        env,
                        why: why.clone(),
                    },
                    Ok(None) => AnchorCheck::Absent {
                        records: records.iter().filter(|r| r.env == env).count(),
                        env,
                    },
                    Ok(Some(a)) => match anchor::check(records, a, damaged) {
                        anchor::Checked::Holds => AnchorCheck::Holds { env, seq: a.seq },
                        anchor::Checked::Differs(why) => AnchorCheck::Broken { env, why },
                        anchor::Checked::Unreadable(why) => AnchorCheck::Unchecked { env, why },
                    },
                }
            })
            .collect()
    }
}

/// What one environment's service cluster says of the local audit log.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AnchorCheck {
    /// It anchors record `seq`, and the log holds that very record.
    Holds { env: String, seq: u64 },
    /// It anchors nothing of this log. Expected while no record concerned it; with
    /// `records` of it in the log, the anchoring failed when they were written, or the log
    /// came from elsewhere.
    Absent { env: String, records: usize },
    /// The log does not hold the anchored record: cut short or rewritten.
    Broken { env: String, why: String },
    /// It could not be asked.
    Unchecked { env: String, why: String },
}

/// How long anchoring may hold up the end of a command, and how long one cluster may take
/// to answer a check.
const ANCHOR_PATIENCE: Duration = Duration::from_secs(10);

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("runs", &self.journals.dir())
            .field("actor", &self.actor)
            .finish_non_exhaustive()
    }
}

/// Asks a SelfSubjectAccessReview for every permission a run of `kind` needs, and says
/// which the user lacks (a check that fails counts as lacking: default deny), so a plan
/// refuses what the API server would refuse halfway through the run.
async fn missing_permissions(
    kind: WorkflowKind,
    target: &Target,
    checked: &mut Vec<String>,
) -> Vec<String> {
    let needs: Vec<&workflows::Need> = kind.needs().collect();
    // One review per need, all at once: the plan waits for the slowest, not the sum.
    let answers = futures::future::join_all(needs.iter().map(|need| {
        let client = match need.place {
            workflows::Place::ServiceCluster => target.sc.clone(),
            workflows::Place::Target => target.cluster.clone(),
        };
        crate::access::review(client, &need.rbac, need.namespace)
    }))
    .await;
    let mut missing = Vec::new();
    for (need, answer) in needs.iter().zip(answers) {
        let cluster = match need.place {
            workflows::Place::ServiceCluster => format!("{}-sc", target.env),
            workflows::Place::Target => target.name(),
        };
        let what = need.rbac.describe();
        let place = match need.namespace {
            Some(ns) => format!("{cluster} (namespace {ns})"),
            None => cluster,
        };
        match answer {
            Permission::Allowed => {}
            Permission::Denied(reason) => missing.push(format!(
                "You may not {what} in {place}{}; the run needs it. Ask for it in RBAC, or run \
                 as a user who has it.",
                if reason.is_empty() {
                    String::new()
                } else {
                    format!(" ({reason})")
                }
            )),
            Permission::Failed(e) => missing.push(format!(
                "Whether you may {what} in {place} could not be checked ({e}); the run \
                 needs it."
            )),
        }
    }
    checked.push(match missing.len() {
        0 => format!("permissions: all {} the run needs are granted", needs.len()),
        n => format!(
            "permissions: {n} of {} the run needs are missing",
            needs.len()
        ),
    });
    missing
}

/// Who is acting, for journals, audit records and Kubernetes Events.
pub fn actor_from_env() -> String {
    if let Ok(a) = std::env::var("CK8S_CONSOLE_ACTOR")
        && !a.trim().is_empty()
    {
        return a.trim().to_owned();
    }
    let user = user_name();
    let user = if user.is_empty() {
        "unknown".into()
    } else {
        user
    };
    format!("{user}@{}", host_name())
}

/// `$USER`, else `$LOGNAME`, else the account name of the process's user (containers
/// often set neither), else empty: the form then asks for it.
pub fn user_name() -> String {
    ["USER", "LOGNAME"]
        .into_iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .or_else(account_name)
        .unwrap_or_default()
}

fn account_name() -> Option<String> {
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwuid_r writes only into `pwd` and `buf`, whose sizes are passed, and
    // sets `result` to `&pwd` on success; the name points into `buf`, read before return.
    unsafe {
        let rc = libc::getpwuid_r(
            libc::getuid(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        );
        if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        std::ffi::CStr::from_ptr(pwd.pw_name)
            .to_str()
            .ok()
            .map(String::from)
    }
}

pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

impl Engine {
    pub fn new(fleet: Arc<Fleet>, paths: &Paths, actor: String, tuning: Tuning) -> Arc<Engine> {
        Self::with_mode(fleet, paths, actor, tuning, Mode::ReadWrite)
    }

    /// As [`Engine::new`], read-only when `mode` says so.
    pub fn with_mode(
        fleet: Arc<Fleet>,
        paths: &Paths,
        actor: String,
        tuning: Tuning,
        mode: Mode,
    ) -> Arc<Engine> {
        Arc::new_cyclic(|me| Engine {
            fleet,
            mode,
            journals: Journals::new(&paths.runs_dir),
            audit_path: paths.audit_log.clone(),
            actor,
            tuning,
            clients: tokio::sync::Mutex::new(HashMap::new()),
            running: Mutex::new(HashMap::new()),
            changed: broadcast::channel(256).0,
            me: me.clone(),
            anchoring: Mutex::new(Vec::new()),
            catalogs: Default::default(),
        })
    }

    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// Bad input when the fleet config has no environment `env`, naming the nearest.
    pub fn known_env(&self, env: &str) -> Result<(), EngineError> {
        match self.fleet.environment(env) {
            Some(_) => Ok(()),
            None => Err(unknown_env(&self.fleet, env)),
        }
    }

    /// The time zone times are shown in: the policy's (Europe/Stockholm unless set).
    pub fn timezone(&self) -> chrono_tz::Tz {
        self.fleet.policy.timezone
    }

    /// Why nothing may change in `env`, if it may not: the engine runs read-only, or the
    /// fleet config makes the environment read-only. Says how to lift it.
    pub fn read_only_reason(&self, env: &str) -> Option<String> {
        if self.mode == Mode::ReadOnly {
            return Some("this console runs read-only (drop --read-only to act)".into());
        }
        self.fleet
            .environment(env)
            .is_some_and(|e| e.read_only)
            .then(|| {
                format!(
                    "environment {env} is read-only in the fleet config (`read_only = true`; \
                     remove it to act)"
                )
            })
    }

    /// Refuses `what` in `env` when nothing may change there.
    fn writable(&self, env: &str, what: &str) -> Result<(), EngineError> {
        match self.read_only_reason(env) {
            None => Ok(()),
            Some(why) => Err(EngineError::ReadOnly(format!("{why}; it may not {what}"))),
        }
    }

    /// Run ids whose journal changed; the receiver re-reads what it shows.
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.changed.subscribe()
    }

    /// Every journaled run, newest first, with the journals that could not be read.
    pub fn runs(&self) -> (Vec<RunSummary>, Vec<JournalError>) {
        self.journals.list()
    }

    pub fn run(&self, id: &str) -> Result<RunSummary, EngineError> {
        run::check_id(id)?;
        Ok(self.journals.read(id)?)
    }

    /// Whether this process drives the run (it can be cancelled here at once).
    pub fn is_local(&self, id: &str) -> bool {
        self.running.lock().expect("run table").contains_key(id)
    }

    pub fn audit_log(&self) -> &std::path::Path {
        &self.audit_path
    }

    async fn client(&self, env: &str, role: ClusterRole) -> Result<kube::Client, EngineError> {
        self.client_with(env, role, true).await
    }

    /// `retries: false` gives a client that hands 429, 503 and 504 back at once instead of
    /// retrying them with kube-rs's backoff (minutes, unlogged): for evictions, where 429
    /// means a disruption budget says "not yet" and the workflow paces its own retries.
    async fn client_with(
        &self,
        env: &str,
        role: ClusterRole,
        retries: bool,
    ) -> Result<kube::Client, EngineError> {
        let key = (env.to_owned(), role, retries);
        let mut clients = self.clients.lock().await;
        if let Some(c) = clients.get(&key) {
            return Ok(c.clone());
        }
        let cfg = self
            .fleet
            .environment(env)
            .ok_or_else(|| unknown_env(&self.fleet, env))?
            .cluster(role);
        let observe = |e: KubeSourceError| EngineError::Observe(format!("{env}-{role}: {e}"));
        let mut config = kube_source::config_from(cfg, &Default::default())
            .await
            .map_err(observe)?;
        config.default_retry = retries;
        let c = kube_source::client_of(cfg, config).await.map_err(observe)?;
        clients.insert(key, c.clone());
        Ok(c)
    }

    async fn target(&self, env: &str, role: ClusterRole) -> Result<Target, EngineError> {
        Ok(Target {
            env: env.to_owned(),
            role,
            sc: self.client(env, ClusterRole::Sc).await?,
            cluster: self.client(env, role).await?,
            cluster_no_retry: self.client_with(env, role, false).await?,
        })
    }

    /// Observes the cluster and asks the policy. Nothing is changed.
    pub async fn plan(&self, request: RunRequest) -> Result<Plan, EngineError> {
        let env = self
            .fleet
            .environment(&request.env)
            .ok_or_else(|| unknown_env(&self.fleet, &request.env))?;
        workflows::check_params(request.workflow, &request.params)
            .map_err(|e| EngineError::Usage(format!("{} {e}", request.workflow.name())))?;
        let target = self.target(&request.env, request.role).await?;
        let intent = workflows::intent(request.workflow, &target, &request.params)
            .await
            .map_err(|e| EngineError::Observe(e.to_string()))?;
        let mut checked = Vec::new();
        let facts = run::gather_facts(
            env,
            &self.fleet,
            &target,
            &intent,
            &request.hints,
            &mut checked,
        )
        .await;
        if let Some(e) = &facts.lock_unreadable {
            // Not a refusal: nothing is known to hold the cluster. The run cannot be
            // planned until the service cluster answers.
            return Err(EngineError::Observe(format!(
                "the cluster lock in {}-sc could not be read, so whether another run holds \
                 {} is unknown; is the API server reachable? ({e})",
                request.env,
                target.name()
            )));
        }
        let mut decision = policy::evaluate(&self.fleet.policy, &intent, &facts);
        let missing = missing_permissions(request.workflow, &target, &mut checked).await;
        decision = decision.refused_by("permission", missing);
        if let Some(why) = self.read_only_reason(&request.env) {
            decision = decision.read_only(why);
        }
        Ok(Plan::new(
            request,
            describe(&intent, &target),
            decision,
            checked,
        ))
    }

    /// Starts a planned run in the background and returns its id. A run the policy denies
    /// is refused; one that needs an override needs a reason that says why.
    pub async fn start(
        self: &Arc<Self>,
        plan: Plan,
        reason: Option<String>,
    ) -> Result<String, EngineError> {
        self.writable(&plan.request.env, "start a run")?;
        // What was approved may no longer hold: the window closed, an alert fired, someone
        // else scaled. The plan is made again, and must still say the same thing.
        check_reason(&plan.decision, reason.clone())?;
        let fresh = self.plan(plan.request.clone()).await?;
        // Another run that took the cluster since the plan is why it changed: the refusal
        // names that run (exit 4), rather than calling the plan stale.
        if let Some(locked) = fresh.decision.lock_refusal() {
            return Err(EngineError::Denied(locked));
        }
        if fresh.change != plan.change {
            // The plan reads the lease before the cluster: a run that took the lease
            // between the two reads changed the cluster under a lock it did not see. Asked
            // again, the lease names that run (exit 4).
            let (env, role) = (&plan.request.env, plan.request.role);
            if let Ok(target) = self.target(env, role).await
                && let Err(held @ LockError::Held { .. }) =
                    lease::ensure_free(target.sc.clone(), env, role, Utc::now()).await
            {
                return Err(held.into());
            }
            return Err(EngineError::Stale(format!(
                "the cluster changed since the plan: it was to {}, now it would {}; plan again",
                plan.change, fresh.change
            )));
        }
        let reason = check_reason(&fresh.decision, reason)?;
        let now = Utc::now();
        let req = plan.request;
        let id = run::new_id(now, req.workflow.name(), &req.env, req.role);
        let cancel = self.reserve(&id)?;
        let target = match self.target(&req.env, req.role).await {
            Ok(t) => t,
            Err(e) => return Err(self.unreserve(&id, e)),
        };
        let lock = match lease::acquire(
            target.sc.clone(),
            &req.env,
            req.role,
            &run::holder(&id),
            now,
        )
        .await
        {
            Ok(lock) => lock,
            Err(e) => return Err(self.unreserve(&id, e.into())),
        };
        // Without a journal and an audit record the run must not start: let go of the lock
        // at once rather than leave the cluster locked until the lease lapses.
        let journal = match self.record_start(&id, &req, reason, &fresh.decision, now) {
            Ok(journal) => journal,
            Err(e) => {
                lock.release().await;
                return Err(self.unreserve(&id, e));
            }
        };
        self.spawn(
            run::Drive {
                id: id.clone(),
                kind: req.workflow,
                params: req.params,
                started_at: now,
                from: 0,
                target,
                lock,
                journal,
            },
            cancel,
        );
        Ok(id)
    }

    /// The run's first journal line and its audit record.
    fn record_start(
        &self,
        id: &str,
        req: &RunRequest,
        reason: Option<String>,
        decision: &Decision,
        now: chrono::DateTime<Utc>,
    ) -> Result<journal::JournalWriter, EngineError> {
        let mut journal = self.journals.create(id)?;
        journal.append(
            now,
            Entry::Started {
                workflow: req.workflow.name().into(),
                env: req.env.clone(),
                cluster: req.role,
                params: req.params.clone(),
                actor: self.actor.clone(),
                reason: reason.clone(),
                steps: req.workflow.steps().iter().map(|s| s.to_string()).collect(),
            },
        )?;
        let audited = self.audit(NewRecord {
            actor: self.actor.clone(),
            action: "run.start".into(),
            env: req.env.clone(),
            cluster: Some(req.role.to_string()),
            target: None,
            run_id: Some(id.to_owned()),
            reason,
            detail: serde_json::json!({
                "workflow": req.workflow.name(),
                "params": req.params,
                "decision": decision,
            }),
        });
        if let Err(e) = audited {
            // An unaudited run must not be resumable later: it ends here, before any step.
            let _ = journal.append(
                now,
                Entry::Finished {
                    outcome: Outcome::Failed,
                },
            );
            return Err(e);
        }
        Ok(journal)
    }

    /// Resumes a run that stopped (its process died, it failed, or it was cancelled) at
    /// its first unfinished step. Steps observe before they act, so the step that was
    /// running is simply run again.
    pub async fn resume(self: &Arc<Self>, id: &str) -> Result<(), EngineError> {
        run::check_id(id)?;
        let run = self.journals.read(id)?;
        self.writable(&run.env, "resume a run")?;
        let not = |why: &str| EngineError::NotResumable {
            id: id.to_owned(),
            why: why.to_owned(),
        };
        if run.outcome == Some(Outcome::Succeeded) {
            return Err(not("succeeded already; there is nothing to resume"));
        }
        let kind = WorkflowKind::parse(&run.workflow)
            .ok_or_else(|| not("is of a workflow this version does not know"))?;
        let cancel = self.reserve(id)?;
        match self.resume_reserved(id, &run, kind).await {
            Ok(drive) => {
                self.spawn(drive, cancel);
                Ok(())
            }
            Err(e) => Err(self.unreserve(id, e)),
        }
    }

    /// Checks the policy again for a run being resumed, takes its lock and journals the
    /// resume; the run was approved when it started, but that may no longer hold.
    async fn resume_reserved(
        &self,
        id: &str,
        run: &RunSummary,
        kind: WorkflowKind,
    ) -> Result<run::Drive, EngineError> {
        let request = RunRequest {
            workflow: kind,
            env: run.env.clone(),
            role: run.cluster,
            params: run.params.clone(),
            hints: Hints {
                own_run: Some(id.to_owned()),
                ..Hints::default()
            },
        };
        let plan = self.plan(request).await?;
        check_reason(&plan.decision, run.reason.clone())?;
        let now = Utc::now();
        let target = self.target(&run.env, run.cluster).await?;
        let lock = lease::acquire(
            target.sc.clone(),
            &run.env,
            run.cluster,
            &run::holder(id),
            now,
        )
        .await?;
        let journal = match self.record_resume(id, run, now) {
            Ok(journal) => journal,
            Err(e) => {
                lock.release().await;
                return Err(e);
            }
        };
        Ok(run::Drive {
            id: id.to_owned(),
            kind,
            params: run.params.clone(),
            started_at: run.started_at,
            from: run.resume_point(),
            target,
            lock,
            journal,
        })
    }

    /// The resumed run's journal line and audit record.
    fn record_resume(
        &self,
        id: &str,
        run: &RunSummary,
        now: chrono::DateTime<Utc>,
    ) -> Result<journal::JournalWriter, EngineError> {
        run::clear_cancel(&self.journals, id);
        let mut journal = self.journals.reopen(id)?;
        journal.append(
            now,
            Entry::Resumed {
                actor: self.actor.clone(),
            },
        )?;
        self.audit(NewRecord {
            actor: self.actor.clone(),
            action: "run.resume".into(),
            env: run.env.clone(),
            cluster: Some(run.cluster.to_string()),
            run_id: Some(id.to_owned()),
            detail: serde_json::json!({"from_step": run.resume_point()}),
            ..NewRecord::default()
        })?;
        Ok(journal)
    }

    /// Asks a run to stop after the step it is in reaches a safe point. Works for runs of
    /// other processes too, through a cancel request file beside the journal; a run that no
    /// live process drives any more (its process was killed, its host rebooted) is marked
    /// cancelled at once, since nothing would ever read the request.
    pub async fn cancel(&self, id: &str) -> Result<Cancelled, EngineError> {
        run::check_id(id)?;
        let run = self.journals.read(id)?;
        self.writable(&run.env, "cancel a run")?;
        if run.finished() {
            return Err(EngineError::NotResumable {
                id: id.to_owned(),
                why: format!(
                    "has {} already",
                    run.outcome.map(Outcome::as_str).unwrap_or("ended")
                ),
            });
        }
        let local = self.running.lock().expect("run table").get(id).cloned();
        let how = match local {
            Some(tx) => {
                let _ = tx.send(true);
                Cancelled::Requested
            }
            None if self.orphaned(&run).await => {
                let mut journal = self.journals.reopen(id)?;
                journal.append(
                    Utc::now(),
                    Entry::Finished {
                        outcome: Outcome::Cancelled,
                    },
                )?;
                let _ = self.changed.send(id.to_owned());
                // Its dead process's lock would hold the cluster until it lapsed.
                self.release_dead_lock(&run).await;
                Cancelled::Ended
            }
            None => {
                run::request_cancel(&self.journals, id)?;
                Cancelled::Requested
            }
        };
        // Who stopped a run matters as much as who started it.
        self.audit(NewRecord {
            actor: self.actor.clone(),
            action: "run.cancel".into(),
            env: run.env.clone(),
            cluster: Some(run.cluster.to_string()),
            run_id: Some(id.to_owned()),
            detail: serde_json::json!({"done_steps": run.done_steps()}),
            ..NewRecord::default()
        })?;
        Ok(how)
    }

    /// Releases the lock a cancelled run's dead process left; a failure only means the
    /// lease lapses on its own, so it is logged.
    async fn release_dead_lock(&self, run: &RunSummary) {
        let released = match self.client(&run.env, ClusterRole::Sc).await {
            Ok(sc) => {
                let me = run::holder(&run.id);
                lease::release_dead(sc, &run.env, run.cluster, &run.id, &me, Utc::now())
                    .await
                    .map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = released {
            tracing::warn!(run = %run.id, error = %e, "releasing a dead run's lock failed; it lapses on its own");
        }
    }

    /// Whether no live process drives `run`: a driver holds the cluster's lock under the
    /// run's id, so a free lock, another run's lock, or the lock of the run's own dead
    /// process on this host all mean nobody does. When the lock cannot be read, assume a
    /// driver exists: the cancel request then waits for it.
    /// An open run nobody drives any more: not this process's, and its lock lapsed or its
    /// holder is gone (killed, or left by a second Ctrl-C). `runs resume` goes on with it.
    /// `false` when that cannot be told (the service cluster does not answer).
    pub async fn driverless(&self, run: &RunSummary) -> bool {
        !run.finished() && !self.is_local(&run.id) && self.orphaned(run).await
    }

    async fn orphaned(&self, run: &RunSummary) -> bool {
        let Ok(sc) = self.client(&run.env, ClusterRole::Sc).await else {
            return false;
        };
        match lease::holder(sc, &run.env, run.cluster, Utc::now()).await {
            Ok(None) => true,
            Ok(Some(holder)) => {
                !lease::holds_run(&holder, &run.id)
                    || lease::may_take_over(&holder, &run::holder(&run.id))
            }
            Err(_) => false,
        }
    }

    /// Marks `id` as driven by this process before anything else is awaited, so two
    /// resumes of one run (a double key press) cannot both start it.
    fn reserve(&self, id: &str) -> Result<watch::Receiver<bool>, EngineError> {
        let mut running = self.running.lock().expect("run table");
        if running.contains_key(id) {
            return Err(EngineError::NotResumable {
                id: id.to_owned(),
                why: "is running in this console".into(),
            });
        }
        let (tx, rx) = watch::channel(false);
        running.insert(id.to_owned(), tx);
        Ok(rx)
    }

    fn unreserve(&self, id: &str, e: EngineError) -> EngineError {
        self.running.lock().expect("run table").remove(id);
        e
    }

    /// Stops every run this process drives at its next safe point and waits for them, at
    /// most `within`: a console that quits (or loses its terminal) must not leave runs
    /// mid-step with their clusters locked. Returns how many were still running at the end.
    pub async fn shutdown(&self, within: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + within;
        for tx in self.running.lock().expect("run table").values() {
            let _ = tx.send(true);
        }
        loop {
            let left = self.running.lock().expect("run table").len();
            if left == 0 || tokio::time::Instant::now() >= deadline {
                return left;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Ids of the runs this process drives.
    pub fn local_runs(&self) -> Vec<String> {
        self.running
            .lock()
            .expect("run table")
            .keys()
            .cloned()
            .collect()
    }

    /// Waits until the run has finished and returns how it ended.
    pub async fn wait(&self, id: &str) -> Result<RunSummary, EngineError> {
        run::check_id(id)?;
        let mut rx = self.subscribe();
        loop {
            let run = self.journals.read(id)?;
            if run.finished() && !self.is_local(id) {
                return Ok(run);
            }
            // A missed message only delays the re-read by the timeout.
            let _ = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await;
        }
    }

    /// Appends to the audit log: for changes made outside a run (silences).
    pub fn record(&self, record: NewRecord) -> Result<(), EngineError> {
        self.audit(record)
    }

    fn audit(&self, record: NewRecord) -> Result<(), EngineError> {
        let mut log = AuditLog::open(&self.audit_path)?;
        let written = log.append(record, Utc::now())?;
        self.anchor(&written);
        Ok(())
    }

    /// Moves the chain head into the record's environment's service cluster, in the
    /// background: the record is on disk already, and a cluster that does not answer must
    /// not hold up the change. A failure is logged; the next record anchors again.
    fn anchor(&self, record: &audit::AuditRecord) {
        let (Some(engine), Ok(rt)) = (self.me.upgrade(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        if engine.fleet.environment(&record.env).is_none() {
            return;
        }
        let env = record.env.clone();
        let head = anchor::Anchor {
            seq: record.seq,
            hash: record.hash.clone(),
        };
        let task = rt.spawn(async move {
            let key = anchor::log_key(&engine.audit_path);
            let written = match engine.client(&env, ClusterRole::Sc).await {
                Ok(sc) => anchor::advance(sc, &key, &head).await,
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = written {
                tracing::warn!(env = %env, seq = head.seq, error = %e, "anchoring the audit log failed; the next record anchors again");
            }
        });
        let mut anchoring = self.anchoring.lock().expect("anchor tasks");
        anchoring.retain(|t| !t.is_finished());
        anchoring.push(task);
    }

    /// Waits (a bounded while) for the anchor writes under way, so that a command that
    /// changed something leaves its audit records anchored when it exits.
    pub async fn settle(&self) {
        let tasks = std::mem::take(&mut *self.anchoring.lock().expect("anchor tasks"));
        let all = futures::future::join_all(tasks);
        if tokio::time::timeout(ANCHOR_PATIENCE, all).await.is_err() {
            tracing::warn!("anchoring the audit log did not finish in time");
        }
    }

    /// The anchor of the local audit log in every environment's service cluster, as the
    /// clusters say now. Read before the log, so that a record appended meanwhile makes the
    /// log longer than its anchor, never shorter.
    pub async fn read_anchors(&self) -> Anchors {
        let key = anchor::log_key(&self.audit_path);
        let reads = self.fleet.environments.iter().map(|env| {
            let key = key.clone();
            async move {
                let env = env.name.clone();
                let read = async {
                    let sc = self
                        .client(&env, ClusterRole::Sc)
                        .await
                        .map_err(|e| e.to_string())?;
                    anchor::read(sc, &key).await
                };
                let found = match tokio::time::timeout(ANCHOR_PATIENCE, read).await {
                    Err(_) => Err(format!("no answer within {}s", ANCHOR_PATIENCE.as_secs())),
                    Ok(read) => read,
                };
                (env, found)
            }
        });
        Anchors(futures::future::join_all(reads).await)
    }

    fn spawn(self: &Arc<Self>, drive: run::Drive, rx: watch::Receiver<bool>) {
        let engine = Arc::clone(self);
        let _ = self.changed.send(drive.id.clone());
        tokio::spawn(async move {
            let id = drive.id.clone();
            run::drive(&engine, drive, rx).await;
            engine.running.lock().expect("run table").remove(&id);
            let _ = engine.changed.send(id);
        });
    }
}

fn unknown_env(fleet: &Fleet, env: &str) -> EngineError {
    let names: Vec<_> = fleet.environments.iter().map(|e| e.name.as_str()).collect();
    let nearest = ck8s_model::format::closest(env, names.iter().copied())
        .map(|n| format!(" Did you mean `{n}`?"))
        .unwrap_or_default();
    EngineError::Usage(format!(
        "no environment {env:?} in the fleet config.{nearest} It has {}",
        names.join(", ")
    ))
}

fn describe(intent: &policy::Intent, target: &Target) -> String {
    match intent {
        policy::Intent::ScaleWorkers { from, to } if from == to => {
            format!("{} keeps {to} workers (nothing to change)", target.name())
        }
        policy::Intent::ScaleWorkers { from, to } => {
            format!("scale {} from {from} to {to} workers", target.name())
        }
        policy::Intent::Backup => format!("take an on-demand Velero backup of {}", target.name()),
        policy::Intent::Restore { backup } => {
            format!("restore Velero backup {backup} into {}", target.name())
        }
        policy::Intent::Drain { node } => format!("drain node {node} of {}", target.name()),
        other => format!("{} {}", other.name(), target.name()),
    }
}

fn check_reason(
    decision: &Decision,
    reason: Option<String>,
) -> Result<Option<String>, EngineError> {
    let reason = reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    match decision {
        Decision::Deny { .. } => Err(EngineError::Denied(decision.clone())),
        Decision::Allow => Ok(reason),
        Decision::NeedsOverride { .. } => {
            let problem = match &reason {
                None => Some(
                    "give one with --reason (in the console: the override reason field)".to_owned(),
                ),
                Some(r) => policy::override_reason_problem(r),
            };
            match problem {
                Some(problem) => Err(EngineError::NeedsReason {
                    decision: decision.clone(),
                    problem,
                }),
                None => Ok(reason),
            }
        }
    }
}
