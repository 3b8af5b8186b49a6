//! The workflows the engine runs. Each is a fixed list of steps; every step observes the
//! cluster before it acts, so re-running a step after a crash or a resume does no harm.

mod backup;
mod drain;
mod restore;
mod scale;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde_json::json;
use tokio::sync::mpsc;

use super::policy::Intent;
use crate::config::ClusterRole;
use ck8s_model::access::Rbac;

/// The parameters of a run, by name.
pub type Params = BTreeMap<String, String>;

/// A boxed future of a workflow's, so that workflows can sit behind one trait object.
pub type WorkflowFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One workflow: its name (what `run` takes and journals record), its parameters and
/// steps, what it asks the policy about, and each step's work. Adding a workflow is one
/// file in this folder with a type implementing this, and one line in [`REGISTRY`].
pub trait Workflow: Sync {
    /// What it is: name, summary, parameters, steps and the permissions they need.
    fn about(&self) -> &'static About;
    /// Checks the parameters' values (names and presence are checked for it).
    fn check(&self, _params: &Params) -> Result<(), ParamError> {
        Ok(())
    }
    /// What the policy gate is asked about, observed from the cluster.
    fn intent<'a>(
        &'a self,
        target: &'a Target,
        params: &'a Params,
    ) -> WorkflowFuture<'a, Result<Intent, StepError>>;
    /// Runs step `index`; returns what it did.
    fn step<'a>(
        &'a self,
        index: usize,
        ctx: &'a StepCtx<'a>,
    ) -> WorkflowFuture<'a, Result<String, StepError>>;
}

/// What a workflow is, as help, the form and the plan show it.
#[derive(Debug)]
pub struct About {
    /// What `run` takes and journals record.
    pub name: &'static str,
    /// One line for help texts.
    pub summary: &'static str,
    /// The parameters it takes: (name, what it is, required).
    pub params: &'static [(&'static str, &'static str, bool)],
    pub steps: &'static [&'static str],
    /// The permissions its steps need, beyond reading: the plan asks a
    /// SelfSubjectAccessReview for each, so a user who lacks one is refused before
    /// anything is locked or changed.
    pub needs: &'static [Need],
}

/// Which cluster a permission is needed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// The environment's service cluster (Cluster API objects, the run's lock).
    ServiceCluster,
    /// The cluster the run is about.
    Target,
}

/// A permission a run needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    pub place: Place,
    pub rbac: Rbac,
    /// Where in the cluster; `None` for cluster-wide.
    pub namespace: Option<&'static str>,
}

impl Need {
    pub const fn new(
        place: Place,
        verb: &'static str,
        group: &'static str,
        resource: &'static str,
        namespace: Option<&'static str>,
    ) -> Need {
        Need {
            place,
            rbac: Rbac {
                verb,
                group,
                resource,
                subresource: "",
            },
            namespace,
        }
    }

    /// The same need on a subresource (`pods` + `eviction`).
    pub const fn subresource(mut self, subresource: &'static str) -> Need {
        self.rbac.subresource = subresource;
        self
    }
}

/// What every run needs whatever its workflow: its lock, a Lease in the service cluster.
/// (The Events a run posts on what it changes are best effort, and releasing the lock is
/// too: a lease left behind lapses. Neither is a reason to refuse a run.)
pub const RUN_NEEDS: &[Need] = &[
    Need::new(
        Place::ServiceCluster,
        "create",
        "coordination.k8s.io",
        "leases",
        Some(super::lease::NAMESPACE),
    ),
    Need::new(
        Place::ServiceCluster,
        "update",
        "coordination.k8s.io",
        "leases",
        Some(super::lease::NAMESPACE),
    ),
];

/// Every workflow the engine runs, in the order help lists them.
pub static REGISTRY: [WorkflowKind; 4] = [
    WorkflowKind::Scale,
    WorkflowKind::Backup,
    WorkflowKind::Drain,
    WorkflowKind::Restore,
];

/// Which workflow: a handle on its entry in [`REGISTRY`].
#[derive(Clone, Copy)]
pub struct WorkflowKind(&'static dyn Workflow);

// The workflows the console binds keys to, by name; the others are reached by name.
#[allow(non_upper_case_globals)]
impl WorkflowKind {
    pub const Scale: WorkflowKind = WorkflowKind(&scale::Scale);
    pub const Backup: WorkflowKind = WorkflowKind(&backup::Backup);
    pub const Drain: WorkflowKind = WorkflowKind(&drain::Drain);
    pub const Restore: WorkflowKind = WorkflowKind(&restore::Restore);
}

impl WorkflowKind {
    pub fn all() -> impl Iterator<Item = WorkflowKind> {
        REGISTRY.iter().copied()
    }

    pub fn name(self) -> &'static str {
        self.0.about().name
    }

    pub fn parse(name: &str) -> Option<WorkflowKind> {
        Self::all().find(|k| k.name() == name)
    }

    /// One line for help texts.
    pub fn summary(self) -> &'static str {
        self.0.about().summary
    }

    pub fn steps(self) -> &'static [&'static str] {
        self.0.about().steps
    }

    /// The parameters it takes: (name, what it is, required).
    pub fn params(self) -> &'static [(&'static str, &'static str, bool)] {
        self.0.about().params
    }

    /// Every permission a run of it needs: its own and every run's.
    pub fn needs(self) -> impl Iterator<Item = &'static Need> {
        RUN_NEEDS.iter().chain(self.0.about().needs)
    }
}

impl PartialEq for WorkflowKind {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for WorkflowKind {}

impl std::fmt::Debug for WorkflowKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Bad workflow input: names the parameter and what would be right.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{param}: {problem}")]
pub struct ParamError {
    pub param: String,
    pub problem: String,
}

/// A parameter that names a Kubernetes object (`node`, `backup`, `schedule`,
/// `machinedeployment`): its value, trimmed, when given. A value that is not an object
/// name is refused before it can reach a URL; `hint` says how to give a right one.
pub fn name_param<'p>(
    params: &'p Params,
    param: &str,
    hint: &str,
) -> Result<Option<&'p str>, ParamError> {
    let Some(raw) = params.get(param).map(|v| v.trim()) else {
        return Ok(None);
    };
    crate::config::check_object_name(raw)
        .map(|()| Some(raw))
        .map_err(|why| ParamError {
            param: param.to_owned(),
            problem: format!("{raw:?} is not a Kubernetes object name ({why}); {hint}"),
        })
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
    kind.0.check(params)
}

/// The clusters a run talks to: the environment's service cluster (Cluster API objects,
/// the lock) and the cluster the run is about.
#[derive(Clone)]
pub struct Target {
    pub env: String,
    pub role: ClusterRole,
    pub sc: Client,
    pub cluster: Client,
    /// The same cluster through a client that returns 429, 503 and 504 at once rather than
    /// retrying them itself: for evictions, whose 429 means "a disruption budget says not
    /// yet", which the workflow retries at its own pace and logs.
    pub cluster_no_retry: Client,
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
    /// The service's recovery objective (the fleet policy's `recovery_within`), which
    /// restores are measured against.
    pub recovery_within: Duration,
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
            recovery_within: crate::config::Policy::default().recovery_within,
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
    #[error("{what}: {}", crate::failure::of_kube(.source))]
    Kube {
        what: String,
        #[source]
        source: kube::Error,
    },
}

impl StepError {
    /// A failure that may pass by itself: no connection, no answer in time, a server
    /// error, throttling, a broken answer.
    pub fn is_transient(&self) -> bool {
        use crate::failure::Kind;
        match self {
            StepError::Kube { source, .. } => matches!(
                crate::failure::of_kube(source).kind,
                Kind::Unreachable
                    | Kind::Timeout
                    | Kind::ServerError
                    | Kind::Throttled
                    | Kind::BadResponse
                    | Kind::Expired
            ),
            StepError::Failed(_) => false,
        }
    }
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
    kind.0.step(index, ctx).await
}

/// What the policy gate is asked about, observed from the cluster.
pub async fn intent(
    kind: WorkflowKind,
    target: &Target,
    params: &Params,
) -> Result<Intent, StepError> {
    kind.0.intent(target, params).await
}

/// What names the objects a run creates, so that a resumed run finds its own and no two
/// runs share one: the run id's start time and random tag, e.g. `20261128t090126z-e362`
/// (lower case, as object names must be).
pub fn run_tag(run_id: &str) -> String {
    let mut parts = run_id.split('-');
    let start = parts.next().unwrap_or(run_id);
    let tag = parts.next_back().unwrap_or("");
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase()
    };
    format!("{}-{}", clean(start), clean(tag))
}

/// The status fields Velero's Backup and Restore share.
pub(crate) struct VeleroStatus<'a> {
    status: &'a serde_json::Value,
    pub phase: &'a str,
    pub errors: u64,
    pub warnings: u64,
}

impl<'a> VeleroStatus<'a> {
    pub fn of(obj: &'a DynamicObject) -> Self {
        let status = &obj.data["status"];
        VeleroStatus {
            status,
            phase: status["phase"].as_str().unwrap_or("New"),
            errors: status["errors"].as_u64().unwrap_or(0),
            warnings: status["warnings"].as_u64().unwrap_or(0),
        }
    }

    /// `status.<path>` as a count, 0 when absent.
    pub fn count(&self, section: &str, field: &str) -> u64 {
        self.status[section][field].as_u64().unwrap_or(0)
    }

    /// Why it failed: Velero's failure reason, else its first validation error.
    pub fn failure(&self) -> &'a str {
        self.status["failureReason"]
            .as_str()
            .filter(|s| !s.is_empty())
            .or_else(|| self.status["validationErrors"][0].as_str())
            .unwrap_or("no reason given")
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
        let msg = match check().await {
            Ok(Progress::Done(msg)) => return Ok(msg),
            Ok(Progress::Waiting(msg)) => msg,
            // A server that is down, slow or failing for a while pauses the wait; it does
            // not end it. Refusals and bad requests do.
            Err(e) if e.is_transient() => format!("{e}; retrying"),
            Err(e) => return Err(e),
        };
        if msg != last {
            ctx.log(msg.clone());
            last = msg;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(StepError::Failed(format!(
                "gave up waiting for {what} after {}; last seen: {last}",
                patience_text(ctx.patience)
            )));
        }
        tokio::time::sleep(ctx.poll).await;
    }
}

/// A wait's length for messages: "30 min", "2s", "1m30s", or "200ms" for the short waits
/// of tests.
pub fn patience_text(patience: Duration) -> String {
    let secs = patience.as_secs();
    if secs == 0 {
        format!("{}ms", patience.as_millis())
    } else if secs >= 60 && secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        crate::config::format_duration(patience)
    }
}

pub enum Progress {
    Done(String),
    Waiting(String),
}

/// Records a run's action as a Kubernetes Event on the object, so `kubectl describe` shows
/// who changed it and through which run. Best effort: the audit log is the record of truth.
/// `client` is the cluster the object lives in.
pub async fn post_event(
    ctx: &StepCtx<'_>,
    client: &Client,
    obj: &DynamicObject,
    type_meta: (&str, &str),
    reason: &str,
    message: &str,
) {
    let message = format!("{message} (run {}, by {})", ctx.run_id, ctx.actor);
    record_event(client, &obj.metadata, type_meta, reason, &message).await;
}

/// Posts a Normal Event about the object `meta` names. Events about cluster-scoped objects
/// (nodes) go to the `default` namespace, as the kubelet's do. Best effort: a failure is
/// logged, since the audit log already holds the record.
pub(crate) async fn record_event(
    client: &Client,
    meta: &kube::api::ObjectMeta,
    (api_version, kind): (&str, &str),
    reason: &str,
    message: &str,
) {
    let ns = meta.namespace.clone().unwrap_or_default();
    let name = meta.name.clone().unwrap_or_default();
    let event_ns = if ns.is_empty() {
        "default"
    } else {
        ns.as_str()
    };
    let ts = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let event = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": format!("{name}."), "namespace": event_ns},
        "involvedObject": {"apiVersion": api_version, "kind": kind, "namespace": ns, "name": name,
            "uid": meta.uid},
        "reason": reason,
        "message": message,
        "type": "Normal",
        "source": {"component": "ck8s-console"},
        "firstTimestamp": ts,
        "lastTimestamp": ts,
        "count": 1,
    });
    let Ok(event) = serde_json::from_value::<DynamicObject>(event) else {
        return;
    };
    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        event_ns,
        &resource("", "v1", "Event", "events"),
    );
    if let Err(e) = api.create(&PostParams::default(), &event).await {
        tracing::warn!(object = %name, error = %e, "posting the audit Event failed");
    }
}

#[cfg(test)]
mod registry_tests {
    use super::*;

    #[test]
    fn every_registered_workflow_is_found_by_its_name_and_says_what_it_takes() {
        let mut names = std::collections::BTreeSet::new();
        for kind in WorkflowKind::all() {
            assert!(
                names.insert(kind.name()),
                "{} is registered twice",
                kind.name()
            );
            assert_eq!(WorkflowKind::parse(kind.name()), Some(kind));
            assert!(
                !kind.steps().is_empty() && !kind.summary().is_empty(),
                "{kind:?}"
            );
            let params: std::collections::BTreeSet<_> = kind.params().iter().map(|p| p.0).collect();
            assert_eq!(
                params.len(),
                kind.params().len(),
                "{kind:?} names a parameter twice"
            );
        }
        assert_eq!(WorkflowKind::parse("frobnicate"), None);
    }
}

#[cfg(test)]
mod name_tests {
    use super::*;

    #[test]
    fn a_name_parameter_is_never_a_path() {
        let params = |v: &str| Params::from([("node".to_owned(), v.to_owned())]);
        for bad in ["../../etc", "a/b", "..", "a..b", "-a", "A", "a b", ""] {
            let err = name_param(&params(bad), "node", "w-1").unwrap_err();
            assert_eq!(err.param, "node", "{bad}");
        }
        for good in [
            "w-1",
            "acme-wc-md-0-x7k2p",
            "ip-10-0-1-2.eu-north-1.compute.internal",
        ] {
            assert_eq!(
                name_param(&params(good), "node", "w-1").unwrap(),
                Some(good)
            );
        }
        assert_eq!(name_param(&Params::new(), "node", "w-1").unwrap(), None);
    }

    use proptest::strategy::Strategy as _;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Any parameters to any workflow: accepted or refused, never a panic, and a value
        /// that could reach a URL as a path is never accepted as a name.
        #[test]
        fn any_parameters_are_checked_without_panicking(
            kind in proptest::sample::select(REGISTRY.to_vec()),
            pairs in proptest::collection::vec(
                (
                    proptest::sample::select(vec!["workers", "node", "backup", "schedule", "machinedeployment", "force", "x"]),
                    proptest::collection::vec(proptest::prelude::any::<char>(), 0..80)
                        .prop_map(String::from_iter),
                ),
                0..5,
            ),
        ) {
            let params: Params = pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
            if check_params(kind, &params).is_ok() {
                for name in ["node", "backup", "schedule", "machinedeployment"] {
                    if let Some(v) = params.get(name) {
                        proptest::prop_assert!(!v.contains('/') && !v.contains(".."), "{name}={v}");
                    }
                }
            }
        }
    }
}
