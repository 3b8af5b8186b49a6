//! The workflows the engine runs. Each is a fixed list of steps; every step observes the
//! cluster before it acts, so re-running a step after a crash or a resume does no harm.

mod backup;
mod scale;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde_json::json;
use tokio::sync::mpsc;

use super::policy::Intent;
use crate::config::ClusterRole;

/// Which workflow. Names are what `run` takes and what journals record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkflowKind {
    Scale,
    Backup,
}

impl WorkflowKind {
    pub const ALL: [WorkflowKind; 2] = [WorkflowKind::Scale, WorkflowKind::Backup];

    pub fn name(self) -> &'static str {
        match self {
            WorkflowKind::Scale => "scale",
            WorkflowKind::Backup => "backup",
        }
    }

    pub fn parse(name: &str) -> Option<WorkflowKind> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// One line for help texts.
    pub fn summary(self) -> &'static str {
        match self {
            WorkflowKind::Scale => {
                "scale the workers of a cluster (workers=N): patch its MachineDeployment, wait for the nodes"
            }
            WorkflowKind::Backup => {
                "take an on-demand Velero backup from the daily schedule's template and wait for it"
            }
        }
    }

    pub fn steps(self) -> &'static [&'static str] {
        match self {
            WorkflowKind::Scale => scale::STEPS,
            WorkflowKind::Backup => backup::STEPS,
        }
    }

    /// The parameters it takes: (name, what it is, required).
    pub fn params(self) -> &'static [(&'static str, &'static str, bool)] {
        match self {
            WorkflowKind::Scale => scale::PARAMS,
            WorkflowKind::Backup => backup::PARAMS,
        }
    }
}

/// Bad workflow input: names the parameter and what would be right.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{param}: {problem}")]
pub struct ParamError {
    pub param: String,
    pub problem: String,
}

/// Checks parameter names against the workflow's list, so a typo is an error and not a
/// silently ignored setting.
pub fn check_params(
    kind: WorkflowKind,
    params: &BTreeMap<String, String>,
) -> Result<(), ParamError> {
    let known = kind.params();
    for name in params.keys() {
        if !known.iter().any(|(k, _, _)| k == name) {
            let names: Vec<_> = known.iter().map(|(k, _, _)| *k).collect();
            return Err(ParamError {
                param: name.clone(),
                problem: format!(
                    "{} takes no such parameter; it takes {}",
                    kind.name(),
                    names.join(", ")
                ),
            });
        }
    }
    for (name, what, required) in known {
        if *required && !params.contains_key(*name) {
            return Err(ParamError {
                param: (*name).to_owned(),
                problem: format!("required: {what}"),
            });
        }
    }
    match kind {
        WorkflowKind::Scale => scale::workers(params).map(|_| ()),
        WorkflowKind::Backup => Ok(()),
    }
}

/// The clusters a run talks to: the environment's service cluster (Cluster API objects,
/// the lock) and the cluster the run is about.
#[derive(Clone)]
pub struct Target {
    pub env: String,
    pub role: ClusterRole,
    pub sc: Client,
    pub cluster: Client,
}

impl Target {
    pub fn name(&self) -> String {
        format!("{}-{}", self.env, self.role)
    }
}

/// What a step has to work with.
pub struct StepCtx<'a> {
    pub target: &'a Target,
    pub params: &'a BTreeMap<String, String>,
    pub run_id: &'a str,
    pub actor: &'a str,
    /// When the run started (not when it was resumed).
    pub started_at: DateTime<Utc>,
    /// How often waits look again.
    pub poll: Duration,
    /// How long a wait may take before the step fails.
    pub patience: Duration,
    log: mpsc::UnboundedSender<String>,
}

impl<'a> StepCtx<'a> {
    pub fn new(
        target: &'a Target,
        params: &'a BTreeMap<String, String>,
        run_id: &'a str,
        actor: &'a str,
        started_at: DateTime<Utc>,
        log: mpsc::UnboundedSender<String>,
    ) -> Self {
        StepCtx {
            target,
            params,
            run_id,
            actor,
            started_at,
            poll: Duration::from_secs(2),
            patience: Duration::from_secs(30 * 60),
            log,
        }
    }

    /// A line for the step log (journaled by the runtime).
    pub fn log(&self, message: impl Into<String>) {
        let _ = self.log.send(message.into());
    }
}

/// A step that could not do its job; the message is for the on-call engineer.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("{0}")]
    Failed(String),
    #[error("{what}: {source}")]
    Kube {
        what: String,
        #[source]
        source: kube::Error,
    },
}

pub fn kube_err(what: impl Into<String>) -> impl FnOnce(kube::Error) -> StepError {
    let what = what.into();
    move |source| StepError::Kube { what, source }
}

/// Runs step `index` of `kind`; returns what it did.
pub async fn run_step(
    kind: WorkflowKind,
    index: usize,
    ctx: &StepCtx<'_>,
) -> Result<String, StepError> {
    match kind {
        WorkflowKind::Scale => scale::step(index, ctx).await,
        WorkflowKind::Backup => backup::step(index, ctx).await,
    }
}

/// What the policy gate is asked about, observed from the cluster.
pub async fn intent(
    kind: WorkflowKind,
    target: &Target,
    params: &BTreeMap<String, String>,
) -> Result<Intent, StepError> {
    match kind {
        WorkflowKind::Scale => scale::intent(target, params).await,
        WorkflowKind::Backup => Ok(Intent::Backup),
    }
}

pub(crate) fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

/// Waits until `check` says done (Some), logging each new progress line once. Fails after
/// the step's patience runs out, saying what it last saw.
pub async fn wait_for<F, Fut>(
    ctx: &StepCtx<'_>,
    what: &str,
    mut check: F,
) -> Result<String, StepError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Progress, StepError>>,
{
    let deadline = tokio::time::Instant::now() + ctx.patience;
    let mut last = String::new();
    loop {
        match check().await? {
            Progress::Done(msg) => return Ok(msg),
            Progress::Waiting(msg) => {
                if msg != last {
                    ctx.log(msg.clone());
                    last = msg;
                }
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(StepError::Failed(format!(
                "gave up waiting for {what} after {} min; last seen: {last}",
                ctx.patience.as_secs() / 60
            )));
        }
        tokio::time::sleep(ctx.poll).await;
    }
}

pub enum Progress {
    Done(String),
    Waiting(String),
}

/// Records an action as a Kubernetes Event on the object, so `kubectl describe` shows who
/// changed it and through which run. Best effort: the audit log is the record of truth.
/// `client` is the cluster the object lives in.
pub async fn post_event(
    ctx: &StepCtx<'_>,
    client: &Client,
    obj: &DynamicObject,
    (api_version, kind): (&str, &str),
    reason: &str,
    message: &str,
) {
    let ns = obj.metadata.namespace.clone().unwrap_or_default();
    let name = obj.metadata.name.clone().unwrap_or_default();
    let ts = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let event = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": format!("{name}."), "namespace": ns},
        "involvedObject": {"apiVersion": api_version, "kind": kind, "namespace": ns, "name": name,
            "uid": obj.metadata.uid},
        "reason": reason,
        "message": format!("{message} (run {}, by {})", ctx.run_id, ctx.actor),
        "type": "Normal",
        "source": {"component": "ck8s-console"},
        "firstTimestamp": ts,
        "lastTimestamp": ts,
        "count": 1,
    });
    let Ok(event) = serde_json::from_value::<DynamicObject>(event) else {
        return;
    };
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &ns, &resource("", "v1", "Event", "events"));
    if let Err(e) = api.create(&PostParams::default(), &event).await {
        tracing::warn!(object = %name, error = %e, "posting the audit Event failed");
    }
}
