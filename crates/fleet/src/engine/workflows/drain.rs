//! Drain a node the way `kubectl drain --ignore-daemonsets --delete-emptydir-data` does:
//! cordon it, evict its pods through the `policy/v1` Eviction subresource, so every
//! PodDisruptionBudget is honoured, and wait until only DaemonSet and mirror pods are left.
//! The node stays cordoned afterwards; uncordoning it is the engineer's call once the
//! maintenance is done.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DynamicObject, EvictParams, ListParams, Patch, PatchParams};
use serde_json::json;

use super::{
    ParamError, Progress, StepCtx, StepError, kube_err, patience_text, post_event, wait_for,
};
use crate::engine::policy::Intent;

pub const STEPS: &[&str] = &[
    "check the node",
    "cordon",
    "evict the pods",
    "wait for the node to empty",
];

/// What its steps change, for the plan's permission check.
const NEEDS: &[super::Need] = &[
    super::Need::new(super::Place::Target, "patch", "", "nodes", None),
    super::Need::new(super::Place::Target, "create", "", "pods", None).subresource("eviction"),
];

pub const PARAMS: &[(&str, &str, bool)] = &[
    (
        "node",
        "the node to drain, as `kubectl get nodes` names it",
        true,
    ),
    (
        "force",
        "true to evict pods that no controller recreates (they are lost), as kubectl drain --force",
        false,
    ),
];

const ABOUT: super::About = super::About {
    name: "drain",
    summary: "drain a node (node=NAME): cordon it, evict its pods within their disruption budgets, wait until it is empty",
    params: PARAMS,
    steps: STEPS,
    needs: NEEDS,
};

/// Drain a node (node=NAME): cordon it, evict its pods within their disruption budgets, wait until it is empty.
pub struct Drain;

impl super::Workflow for Drain {
    fn about(&self) -> &'static super::About {
        &ABOUT
    }

    fn check(&self, params: &super::Params) -> Result<(), ParamError> {
        node(params).and_then(|_| force(params).map(|_| ()))
    }

    fn intent<'a>(
        &'a self,
        _target: &'a super::Target,
        params: &'a super::Params,
    ) -> super::WorkflowFuture<'a, Result<Intent, StepError>> {
        let intent = node(params)
            .map(|node| Intent::Drain { node })
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

/// The `force` parameter: `true` or `false` (the default).
pub fn force(params: &BTreeMap<String, String>) -> Result<bool, ParamError> {
    match params.get("force").map(|s| s.trim()) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ParamError {
            param: "force".into(),
            problem: format!("{other:?} is neither true nor false"),
        }),
    }
}

/// Pods without a controller are gone for good once evicted; like `kubectl drain`, the
/// drain refuses them unless told `force=true`.
fn refuse_orphans(ctx: &StepCtx<'_>, pods: &[&Pod]) -> Result<(), StepError> {
    if force(ctx.params).unwrap_or(false) {
        return Ok(());
    }
    let orphans: Vec<String> = pods
        .iter()
        .filter(|p| !has_owner(p))
        .map(|p| pod_name(p))
        .collect();
    if orphans.is_empty() {
        return Ok(());
    }
    Err(StepError::Failed(format!(
        "{} no controller, so evicting {} would lose {} for good: {}. Move {} elsewhere, or \
         run the drain again with force=true",
        if orphans.len() == 1 {
            "1 pod has"
        } else {
            "some pods have"
        },
        if orphans.len() == 1 { "it" } else { "them" },
        if orphans.len() == 1 { "it" } else { "them" },
        names(&orphans),
        if orphans.len() == 1 { "it" } else { "them" },
    )))
}

/// Static pods as the API server shows them; the kubelet owns them, eviction cannot move them.
const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";
const CONTROL_PLANE_LABELS: [&str; 2] = [
    "node-role.kubernetes.io/control-plane",
    "node-role.kubernetes.io/master",
];
/// Pod names listed in a log line or message before "and N more".
const NAMES_SHOWN: usize = 8;

/// The `node` parameter: a DNS subdomain, as node names are.
pub fn node(params: &BTreeMap<String, String>) -> Result<String, ParamError> {
    const HINT: &str = "give it as `kubectl get nodes` shows it, e.g. node=acme-wc-md-0-x7k2p";
    match super::name_param(params, "node", HINT)? {
        Some(name) => Ok(name.to_owned()),
        None => Err(ParamError {
            param: "node".into(),
            problem: format!("required: {HINT}"),
        }),
    }
}

pub async fn step(index: usize, ctx: &StepCtx<'_>) -> Result<String, StepError> {
    let name = node(ctx.params).map_err(|e| StepError::Failed(e.to_string()))?;
    match index {
        0 => check(ctx, &name).await,
        1 => cordon(ctx, &name).await,
        2 => evict_all(ctx, &name).await,
        _ => wait_empty(ctx, &name).await,
    }
}

// ---------------------------------------------------------------------------------------------
// Looking
// ---------------------------------------------------------------------------------------------

fn nodes(ctx: &StepCtx<'_>) -> Api<Node> {
    Api::all(ctx.target.cluster.clone())
}

async fn get_node(ctx: &StepCtx<'_>, name: &str) -> Result<Node, StepError> {
    let api = nodes(ctx);
    if let Some(n) = api
        .get_opt(name)
        .await
        .map_err(kube_err(format!("reading node {name}")))?
    {
        return Ok(n);
    }
    let all = api
        .list(&ListParams::default())
        .await
        .map_err(kube_err(format!(
            "listing the nodes of {}",
            ctx.target.name()
        )))?;
    let names: Vec<String> = all
        .items
        .iter()
        .filter_map(|n| n.metadata.name.clone())
        .collect();
    Err(StepError::Failed(format!(
        "{} has no node {name}; its nodes are {}",
        ctx.target.name(),
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    )))
}

fn is_ready(n: &Node) -> bool {
    n.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn is_cordoned(n: &Node) -> bool {
    n.spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false)
}

fn is_control_plane(n: &Node) -> bool {
    n.metadata
        .labels
        .as_ref()
        .is_some_and(|l| CONTROL_PLANE_LABELS.iter().any(|k| l.contains_key(*k)))
}

/// What a drain does with a pod on the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Evict,
    /// Owned by a DaemonSet, which would put it right back: left in place.
    DaemonSet,
    /// A static pod's mirror: the kubelet runs it from a file, left in place.
    Mirror,
    /// Already being deleted: waited for, not evicted again.
    Terminating,
}

fn classify(p: &Pod) -> Class {
    if p.metadata.deletion_timestamp.is_some() {
        Class::Terminating
    } else if p
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(MIRROR_ANNOTATION))
    {
        Class::Mirror
    } else if p
        .metadata
        .owner_references
        .as_ref()
        .is_some_and(|o| o.iter().any(|o| o.kind == "DaemonSet"))
    {
        Class::DaemonSet
    } else {
        Class::Evict
    }
}

fn pod_name(p: &Pod) -> String {
    format!(
        "{}/{}",
        p.metadata.namespace.as_deref().unwrap_or(""),
        p.metadata.name.as_deref().unwrap_or("")
    )
}

fn uses_empty_dir(p: &Pod) -> bool {
    p.spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .is_some_and(|v| v.iter().any(|v| v.empty_dir.is_some()))
}

fn has_owner(p: &Pod) -> bool {
    p.metadata
        .owner_references
        .as_ref()
        .is_some_and(|o| !o.is_empty())
}

/// The pods bound to the node, by field selector as `kubectl drain` lists them.
async fn pods_on(ctx: &StepCtx<'_>, node: &str) -> Result<Vec<Pod>, StepError> {
    let lp = ListParams::default().fields(&format!("spec.nodeName={node}"));
    Ok(Api::<Pod>::all(ctx.target.cluster.clone())
        .list(&lp)
        .await
        .map_err(kube_err(format!("listing the pods on node {node}")))?
        .items)
}

/// How many pods of each class, as counts.
fn census(pods: &[Pod]) -> BTreeMap<&'static str, usize> {
    let mut out = BTreeMap::new();
    for p in pods {
        let key = match classify(p) {
            Class::Evict => "evict",
            Class::DaemonSet => "daemonset",
            Class::Mirror => "mirror",
            Class::Terminating => "terminating",
        };
        *out.entry(key).or_insert(0) += 1;
    }
    out
}

/// "a, b, c and 4 more".
fn names(list: &[String]) -> String {
    let shown = list
        .iter()
        .take(NAMES_SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    match list.len().saturating_sub(NAMES_SHOWN) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

fn pods_word(n: usize) -> String {
    if n == 1 {
        "1 pod".to_owned()
    } else {
        format!("{n} pods")
    }
}

// ---------------------------------------------------------------------------------------------
// Steps
// ---------------------------------------------------------------------------------------------

async fn check(ctx: &StepCtx<'_>, name: &str) -> Result<String, StepError> {
    let node = get_node(ctx, name).await?;
    let control_plane = is_control_plane(&node);
    let all = nodes(ctx)
        .list(&ListParams::default())
        .await
        .map_err(kube_err(format!(
            "listing the nodes of {}",
            ctx.target.name()
        )))?;
    let others = || {
        all.items
            .iter()
            .filter(move |n| n.metadata.name.as_deref() != Some(name) && is_ready(n))
    };
    if control_plane && is_ready(&node) && !others().any(is_control_plane) {
        return Err(StepError::Failed(format!(
            "node {name} is the only Ready control-plane node of {}; draining it would leave \
             the control plane nowhere to run its pods. Bring another control-plane node back \
             to Ready first.",
            ctx.target.name()
        )));
    }
    if !control_plane && !others().any(|n| !is_control_plane(n) && !is_cordoned(n)) {
        ctx.log(format!(
            "warning: {} has no other Ready, schedulable worker; evicted pods stay Pending until one is back",
            ctx.target.name()
        ));
    }
    let pods = pods_on(ctx, name).await?;
    let count = census(&pods);
    let get = |k: &str| count.get(k).copied().unwrap_or(0);
    let to_evict: Vec<&Pod> = pods
        .iter()
        .filter(|p| classify(p) == Class::Evict)
        .collect();
    refuse_orphans(ctx, &to_evict)?;
    if !to_evict.is_empty() {
        let list: Vec<String> = to_evict.iter().map(|p| pod_name(p)).collect();
        ctx.log(format!("to evict: {}", names(&list)));
    }
    let empty_dir = to_evict.iter().filter(|p| uses_empty_dir(p)).count();
    Ok(format!(
        "node {name} ({}, {}, {}) runs {}: {} to evict{}, {} DaemonSet and {} mirror pods stay, {} already terminating",
        if control_plane {
            "control plane"
        } else {
            "worker"
        },
        if is_ready(&node) { "Ready" } else { "NotReady" },
        if is_cordoned(&node) {
            "already cordoned"
        } else {
            "schedulable"
        },
        pods_word(pods.len()),
        get("evict"),
        if empty_dir > 0 {
            format!(" ({empty_dir} with emptyDir data)")
        } else {
            String::new()
        },
        get("daemonset"),
        get("mirror"),
        get("terminating"),
    ))
}

/// Cordons the node unless it is already; says which it was.
async fn ensure_cordoned(ctx: &StepCtx<'_>, name: &str) -> Result<bool, StepError> {
    let node = get_node(ctx, name).await?;
    if is_cordoned(&node) {
        return Ok(false);
    }
    let patch = crate::engine::ops::cordon_patch(true);
    nodes(ctx)
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(kube_err(format!("cordoning node {name}")))?;
    let obj = DynamicObject {
        types: None,
        metadata: node.metadata.clone(),
        data: json!({}),
    };
    post_event(
        ctx,
        &ctx.target.cluster,
        &obj,
        ("v1", "Node"),
        "CordonedByConsole",
        "cordoned for a drain: no new pods are scheduled on it",
    )
    .await;
    Ok(true)
}

async fn cordon(ctx: &StepCtx<'_>, name: &str) -> Result<String, StepError> {
    Ok(if ensure_cordoned(ctx, name).await? {
        format!("cordoned node {name}: no new pods are scheduled on it")
    } else {
        format!("node {name} was already cordoned; left as it is")
    })
}

/// Why the API server refused an eviction with 429: the budget's own words when it says
/// them (real API servers and the simulator both do), else the status message.
fn refusal(status: &kube::core::Status) -> String {
    status
        .details
        .as_ref()
        .and_then(|d| {
            d.causes
                .iter()
                .find(|c| c.reason == "DisruptionBudget")
                .map(|c| c.message.clone())
        })
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| status.message.clone())
}

/// "production/a, production/b (The disruption budget a needs 2 healthy pods and has 2
/// currently); ...", grouped by budget.
fn blocked_text(blocked: &BTreeMap<String, Vec<String>>) -> String {
    blocked
        .iter()
        .map(|(why, pods)| format!("{} ({why})", names(pods)))
        .collect::<Vec<_>>()
        .join("; ")
}

async fn evict_all(ctx: &StepCtx<'_>, name: &str) -> Result<String, StepError> {
    if ensure_cordoned(ctx, name).await? {
        ctx.log(format!(
            "node {name} had been uncordoned since the cordon step; cordoned it again"
        ));
    }
    let deadline = tokio::time::Instant::now() + ctx.patience;
    let mut first = true;
    let mut evicted = 0usize;
    let mut waited = 0usize;
    let mut gone = 0usize;
    let mut ever_blocked: std::collections::BTreeSet<String> = Default::default();
    let mut last = String::new();
    loop {
        let pods = pods_on(ctx, name).await?;
        let to_evict: Vec<&Pod> = pods
            .iter()
            .filter(|p| classify(p) == Class::Evict)
            .collect();
        if first {
            first = false;
            refuse_orphans(ctx, &to_evict)?;
            let empty_dir: Vec<String> = to_evict
                .iter()
                .filter(|p| uses_empty_dir(p))
                .map(|p| pod_name(p))
                .collect();
            if !empty_dir.is_empty() {
                ctx.log(format!(
                    "{} with emptyDir volumes {} evicted too; their emptyDir data is lost: {}",
                    pods_word(empty_dir.len()),
                    if empty_dir.len() == 1 { "is" } else { "are" },
                    names(&empty_dir)
                ));
            }
            let orphans: Vec<String> = to_evict
                .iter()
                .filter(|p| !has_owner(p))
                .map(|p| pod_name(p))
                .collect();
            if !orphans.is_empty() {
                ctx.log(format!(
                    "{} {} no controller and will not be recreated elsewhere: {}",
                    pods_word(orphans.len()),
                    if orphans.len() == 1 { "has" } else { "have" },
                    names(&orphans)
                ));
            }
        }
        let mut now_evicted = Vec::new();
        let mut blocked: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for p in &to_evict {
            let ns = p.metadata.namespace.as_deref().unwrap_or("default");
            let pod = p.metadata.name.as_deref().unwrap_or("");
            let who = pod_name(p);
            match Api::<Pod>::namespaced(ctx.target.cluster_no_retry.clone(), ns)
                .evict(pod, &EvictParams::default())
                .await
            {
                Ok(_) => {
                    if ever_blocked.contains(&who) {
                        waited += 1;
                    }
                    now_evicted.push(who);
                }
                Err(kube::Error::Api(s)) if s.code == 404 => gone += 1,
                Err(kube::Error::Api(s)) if s.code == 429 => {
                    ever_blocked.insert(who.clone());
                    blocked.entry(refusal(&s)).or_default().push(who);
                }
                Err(e) => {
                    return Err(StepError::Failed(format!(
                        "evicting pod {who} failed after {evicted} evictions: {}; node {name} stays cordoned",
                        crate::failure::of_kube(&e)
                    )));
                }
            }
        }
        if !now_evicted.is_empty() {
            evicted += now_evicted.len();
            ctx.log(format!(
                "evicted {}: {}",
                pods_word(now_evicted.len()),
                names(&now_evicted)
            ));
        }
        if blocked.is_empty() {
            let mut msg = if evicted + gone == 0 {
                format!("nothing to evict on node {name}")
            } else {
                format!("evicted {} from node {name}", pods_word(evicted))
            };
            if waited > 0 {
                msg.push_str(&format!(
                    " ({waited} after waiting for their disruption budget)"
                ));
            }
            if gone > 0 {
                msg.push_str(&format!(
                    "; {} {} gone already",
                    pods_word(gone),
                    if gone == 1 { "was" } else { "were" }
                ));
            }
            let count = census(&pods);
            let get = |k: &str| count.get(k).copied().unwrap_or(0);
            msg.push_str(&format!(
                "; {} DaemonSet and {} mirror pods stay",
                get("daemonset"),
                get("mirror")
            ));
            return Ok(msg);
        }
        let n: usize = blocked.values().map(Vec::len).sum();
        let status = format!(
            "{} cannot be evicted yet without breaking a PodDisruptionBudget; retrying every {}: {}",
            pods_word(n),
            patience_text(ctx.poll),
            blocked_text(&blocked)
        );
        if status != last {
            ctx.log(status.clone());
            last = status;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(StepError::Failed(format!(
                "gave up after {}: {} still cannot be evicted without breaking their \
                 PodDisruptionBudget: {}. {} evicted so far; node {name} stays cordoned. Give \
                 the workload room (more replicas, or fix its unready pods) or relax the \
                 budget, then resume the run.",
                patience_text(ctx.patience),
                pods_word(n),
                blocked_text(&blocked),
                pods_word(evicted)
            )));
        }
        tokio::time::sleep(ctx.poll).await;
    }
}

async fn wait_empty(ctx: &StepCtx<'_>, name: &str) -> Result<String, StepError> {
    let node = get_node(ctx, name).await?;
    let done = wait_for(ctx, "the node to empty", || async {
        let pods = pods_on(ctx, name).await?;
        let left: Vec<&Pod> = pods
            .iter()
            .filter(|p| matches!(classify(p), Class::Evict | Class::Terminating))
            .collect();
        let count = census(&pods);
        let get = |k: &str| count.get(k).copied().unwrap_or(0);
        if left.is_empty() {
            return Ok(Progress::Done(format!(
                "node {name} is drained: only its {} DaemonSet and {} mirror pods are left; it \
                 stays cordoned (`kubectl uncordon {name}` when the maintenance is done)",
                get("daemonset"),
                get("mirror")
            )));
        }
        let list: Vec<String> = left.iter().map(|p| pod_name(p)).collect();
        let running = get("evict");
        Ok(Progress::Waiting(format!(
            "{} still on node {name} ({} terminating{}): {}",
            pods_word(left.len()),
            get("terminating"),
            if running > 0 {
                format!(", {running} not evicted: they arrived after the eviction step")
            } else {
                String::new()
            },
            names(&list)
        )))
    })
    .await?;
    let obj = DynamicObject {
        types: None,
        metadata: node.metadata,
        data: json!({}),
    };
    post_event(
        ctx,
        &ctx.target.cluster,
        &obj,
        ("v1", "Node"),
        "DrainedByConsole",
        "drained: only DaemonSet and mirror pods are left",
    )
    .await;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(value: serde_json::Value) -> Pod {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn pods_are_classified_like_kubectl_drain() {
        let app = pod(json!({"metadata": {"name": "a", "namespace": "p",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "a-1", "uid": "1", "controller": true}]}}));
        let ds = pod(json!({"metadata": {"name": "f", "namespace": "falco",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "falco", "uid": "2", "controller": true}]}}));
        let mirror = pod(
            json!({"metadata": {"name": "kube-apiserver-n", "namespace": "kube-system",
            "annotations": {"kubernetes.io/config.mirror": "abc"}}}),
        );
        let going = pod(json!({"metadata": {"name": "b", "namespace": "p",
            "deletionTimestamp": "2026-01-01T00:00:00Z"}}));
        assert_eq!(classify(&app), Class::Evict);
        assert_eq!(classify(&ds), Class::DaemonSet);
        assert_eq!(classify(&mirror), Class::Mirror);
        assert_eq!(classify(&going), Class::Terminating);
        assert!(has_owner(&app));
        assert!(!has_owner(&mirror));
        let scratch = pod(json!({"metadata": {"name": "c", "namespace": "p"},
            "spec": {"containers": [], "volumes": [{"name": "tmp", "emptyDir": {}}]}}));
        assert!(uses_empty_dir(&scratch));
        assert!(!uses_empty_dir(&app));
    }

    #[test]
    fn node_names_are_checked() {
        let p = |v: &str| BTreeMap::from([("node".to_owned(), v.to_owned())]);
        assert_eq!(node(&p(" acme-wc-md-0-x ")).unwrap(), "acme-wc-md-0-x");
        assert_eq!(
            node(&p("worker-1.example.net")).unwrap(),
            "worker-1.example.net"
        );
        for bad in ["", "Worker_1", "-a", "a b"] {
            let e = node(&p(bad)).unwrap_err();
            assert_eq!(e.param, "node");
            assert!(e.problem.contains("kubectl get nodes"), "{e}");
        }
    }

    #[test]
    fn long_lists_are_cut() {
        let list: Vec<String> = (0..11).map(|i| format!("p/{i}")).collect();
        assert_eq!(names(&list[..2]), "p/0, p/1");
        assert!(names(&list).ends_with("p/7 and 3 more"));
    }
}
