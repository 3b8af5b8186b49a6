//! Scale the workers of a cluster: Cluster API scales by `MachineDeployment.spec.replicas`
//! in the service cluster; the run is done when the machines it added run and their nodes
//! are Ready in the cluster itself, and the machines it removed are gone.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::json;

use super::{Progress, StepCtx, StepError, Target, kube_err, post_event, resource, wait_for};
use crate::engine::policy::Intent;

pub const STEPS: &[&str] = &[
    "find the MachineDeployment",
    "set the worker count",
    "wait for the machines",
    "wait for the nodes",
];

/// What its steps change, for the plan's permission check.
const NEEDS: &[super::Need] = &[super::Need::new(
    super::Place::ServiceCluster,
    "patch",
    "cluster.x-k8s.io",
    "machinedeployments",
    None,
)];

pub const PARAMS: &[(&str, &str, bool)] = &[
    ("workers", "the number of workers to have, 0 or more", true),
    (
        "machinedeployment",
        "which MachineDeployment, when the cluster has several",
        false,
    ),
];

const ABOUT: super::About = super::About {
    name: "scale",
    summary: "scale the workers of a cluster (workers=N): patch its MachineDeployment, wait for the nodes",
    params: PARAMS,
    steps: STEPS,
    needs: NEEDS,
};

/// Scale the workers of a cluster (workers=N): patch its MachineDeployment, wait for the nodes.
pub struct Scale;

impl super::Workflow for Scale {
    fn about(&self) -> &'static super::About {
        &ABOUT
    }

    fn check(&self, params: &super::Params) -> Result<(), super::ParamError> {
        super::name_param(
            params,
            "machinedeployment",
            "give the MachineDeployment's name, e.g. machinedeployment=acme-wc-md-0",
        )?;
        workers(params).map(|_| ())
    }

    fn intent<'a>(
        &'a self,
        target: &'a super::Target,
        params: &'a super::Params,
    ) -> super::WorkflowFuture<'a, Result<Intent, StepError>> {
        Box::pin(intent(target, params))
    }

    fn step<'a>(
        &'a self,
        index: usize,
        ctx: &'a StepCtx<'a>,
    ) -> super::WorkflowFuture<'a, Result<String, StepError>> {
        Box::pin(step(index, ctx))
    }
}

const API_VERSION: &str = "cluster.x-k8s.io/v1beta1";
const CLUSTER_LABEL: &str = "cluster.x-k8s.io/cluster-name";
const MD_LABEL: &str = "cluster.x-k8s.io/deployment-name";

pub fn workers(params: &BTreeMap<String, String>) -> Result<u32, super::ParamError> {
    let raw = params.get("workers").map(String::as_str).unwrap_or("");
    raw.trim().parse::<u32>().map_err(|_| super::ParamError {
        param: "workers".into(),
        problem: format!("{raw:?} is not a worker count; give a whole number such as workers=5"),
    })
}

fn mds(sc: &kube::Client) -> Api<DynamicObject> {
    Api::all_with(
        sc.clone(),
        &resource(
            "cluster.x-k8s.io",
            "v1beta1",
            "MachineDeployment",
            "machinedeployments",
        ),
    )
}

fn machines(sc: &kube::Client, ns: &str) -> Api<DynamicObject> {
    Api::namespaced_with(
        sc.clone(),
        ns,
        &resource("cluster.x-k8s.io", "v1beta1", "Machine", "machines"),
    )
}

fn int(obj: &DynamicObject, section: &str, field: &str) -> i64 {
    obj.data[section][field].as_i64().unwrap_or(0)
}

fn label(obj: &DynamicObject) -> String {
    format!(
        "MachineDeployment {}/{}",
        obj.metadata.namespace.as_deref().unwrap_or(""),
        obj.metadata.name.as_deref().unwrap_or("")
    )
}

/// The MachineDeployment of the target cluster, found by the Cluster API cluster label.
async fn find(
    target: &Target,
    params: &BTreeMap<String, String>,
) -> Result<DynamicObject, StepError> {
    let cluster = target.name();
    let lp = ListParams::default().labels(&format!("{CLUSTER_LABEL}={cluster}"));
    let list = mds(&target.sc).list(&lp).await.map_err(kube_err(format!(
        "listing the MachineDeployments of {cluster}"
    )))?;
    let mut found: Vec<DynamicObject> = list.items;
    if let Some(want) = params.get("machinedeployment") {
        found.retain(|md| md.metadata.name.as_deref() == Some(want.as_str()));
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(StepError::Failed(format!(
            "no MachineDeployment labelled {CLUSTER_LABEL}={cluster}{} in the service cluster",
            params
                .get("machinedeployment")
                .map(|m| format!(" named {m}"))
                .unwrap_or_default()
        ))),
        _ => {
            let names: Vec<_> = found
                .iter()
                .filter_map(|m| m.metadata.name.clone())
                .collect();
            Err(StepError::Failed(format!(
                "{cluster} has {} MachineDeployments ({}); say which with machinedeployment=NAME",
                names.len(),
                names.join(", ")
            )))
        }
    }
}

pub async fn intent(
    target: &Target,
    params: &BTreeMap<String, String>,
) -> Result<Intent, StepError> {
    let to = workers(params).map_err(|e| StepError::Failed(e.to_string()))?;
    let md = find(target, params).await?;
    Ok(Intent::ScaleWorkers {
        from: int(&md, "spec", "replicas").max(0) as u32,
        to,
    })
}

pub async fn step(index: usize, ctx: &StepCtx<'_>) -> Result<String, StepError> {
    let to = workers(ctx.params).map_err(|e| StepError::Failed(e.to_string()))?;
    let md = find(ctx.target, ctx.params).await?;
    match index {
        0 => Ok(format!(
            "{} has {} workers, {} ready",
            label(&md),
            int(&md, "spec", "replicas"),
            int(&md, "status", "readyReplicas")
        )),
        1 => set_replicas(ctx, &md, to).await,
        2 => wait_machines(ctx, &md, to).await,
        _ => wait_nodes(ctx, &md, to).await,
    }
}

async fn set_replicas(ctx: &StepCtx<'_>, md: &DynamicObject, to: u32) -> Result<String, StepError> {
    let from = int(md, "spec", "replicas");
    if from == i64::from(to) {
        return Ok(format!("{} already asks for {to} workers", label(md)));
    }
    let name = md.metadata.name.clone().unwrap_or_default();
    let ns = md.metadata.namespace.clone().unwrap_or_default();
    let api: Api<DynamicObject> = Api::namespaced_with(
        ctx.target.sc.clone(),
        &ns,
        &resource(
            "cluster.x-k8s.io",
            "v1beta1",
            "MachineDeployment",
            "machinedeployments",
        ),
    );
    let patch = json!({"spec": {"replicas": to}});
    api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(kube_err(format!("patching {}", label(md))))?;
    let message = format!("scaled from {from} to {to} workers");
    post_event(
        ctx,
        &ctx.target.sc,
        md,
        (API_VERSION, "MachineDeployment"),
        "ScaledByConsole",
        &message,
    )
    .await;
    Ok(format!("{}: {message}", label(md)))
}

/// The machines of the MachineDeployment, with whether each is Running and its node.
async fn machine_states(
    ctx: &StepCtx<'_>,
    md: &DynamicObject,
) -> Result<Vec<MachineState>, StepError> {
    let ns = md.metadata.namespace.clone().unwrap_or_default();
    let name = md.metadata.name.clone().unwrap_or_default();
    let lp = ListParams::default().labels(&format!("{MD_LABEL}={name}"));
    let list = machines(&ctx.target.sc, &ns)
        .list(&lp)
        .await
        .map_err(kube_err(format!("listing the machines of {}", label(md))))?;
    Ok(list
        .items
        .iter()
        .map(|m| MachineState {
            created: m
                .metadata
                .creation_timestamp
                .as_ref()
                .map(|t| DateTime::from_timestamp(t.0.as_second(), 0).unwrap_or_default()),
            deleting: m.metadata.deletion_timestamp.is_some(),
            running: m.data["status"]["phase"].as_str() == Some("Running"),
            node: m.data["status"]["nodeRef"]["name"]
                .as_str()
                .map(str::to_owned),
        })
        .collect())
}

struct MachineState {
    created: Option<DateTime<Utc>>,
    deleting: bool,
    running: bool,
    node: Option<String>,
}

/// The machines this run added: created after the run's worker count was set. A machine
/// that was broken before the run is not the run's to fix, so it does not hold it up.
fn added(states: &[MachineState], since: DateTime<Utc>) -> impl Iterator<Item = &MachineState> {
    states
        .iter()
        .filter(move |m| !m.deleting && m.created.is_some_and(|c| c >= since))
}

async fn wait_machines(
    ctx: &StepCtx<'_>,
    md: &DynamicObject,
    to: u32,
) -> Result<String, StepError> {
    let since = run_start(ctx);
    wait_for(ctx, "the machines", || async {
        let states = machine_states(ctx, md).await?;
        Ok(machines_progress(&states, since, to))
    })
    .await
}

/// Done when the MachineDeployment has exactly `to` machines, none being removed, and
/// every machine this run added is running.
fn machines_progress(states: &[MachineState], since: DateTime<Utc>, to: u32) -> Progress {
    let live = states.iter().filter(|m| !m.deleting).count();
    let going = states.len() - live;
    let (new, new_running) =
        added(states, since).fold((0, 0), |(n, r), m| (n + 1, r + usize::from(m.running)));
    let status = format!(
        "{live} of {to} machines, {new_running} of {new} new ones running, {going} being removed"
    );
    if live == to as usize && going == 0 && new_running == new {
        Progress::Done(status)
    } else {
        Progress::Waiting(status)
    }
}

/// Machines created after this are the run's. The margin absorbs clock skew between this
/// host and the API server, whose clock stamps `creationTimestamp`.
fn run_start(ctx: &StepCtx<'_>) -> DateTime<Utc> {
    ctx.started_at - chrono::TimeDelta::minutes(1)
}

/// Waits until the MachineDeployment has `to` ready replicas (whatever machines exist:
/// one broken before the run counts against it as much as one the run added), and the
/// nodes of the machines the run added are Ready.
async fn wait_nodes(ctx: &StepCtx<'_>, md: &DynamicObject, to: u32) -> Result<String, StepError> {
    let since = run_start(ctx);
    let nodes: Api<Node> = Api::all(ctx.target.cluster.clone());
    wait_for(ctx, "the nodes", || async {
        let fresh = find(ctx.target, ctx.params).await?;
        let ready_replicas = int(&fresh, "status", "readyReplicas");
        let states = machine_states(ctx, md).await?;
        let wanted: Vec<String> = added(&states, since)
            .filter_map(|m| m.node.clone())
            .collect();
        let list = nodes
            .list(&ListParams::default())
            .await
            .map_err(kube_err(format!(
                "listing the nodes of {}",
                ctx.target.name()
            )))?;
        let ready = |n: &Node| {
            n.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        };
        let missing: Vec<&str> = wanted
            .iter()
            .filter(|w| {
                !list
                    .items
                    .iter()
                    .any(|n| n.metadata.name.as_deref() == Some(w.as_str()) && ready(n))
            })
            .map(String::as_str)
            .collect();
        let workers_ready = list
            .items
            .iter()
            .filter(|n| {
                !n.metadata
                    .labels
                    .as_ref()
                    .is_some_and(|l| l.contains_key("node-role.kubernetes.io/control-plane"))
            })
            .filter(|n| ready(n))
            .count();
        Ok(if !missing.is_empty() {
            Progress::Waiting(format!(
                "waiting for node(s) {} to be Ready",
                missing.join(", ")
            ))
        } else if ready_replicas != i64::from(to) {
            Progress::Waiting(format!(
                "{} has {ready_replicas} of {to} workers ready",
                label(&fresh)
            ))
        } else {
            Progress::Done(format!(
                "{} has {to} of {to} workers ready; {workers_ready} workers Ready in {}",
                label(&fresh),
                ctx.target.name()
            ))
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + minute * 60, 0).unwrap()
    }

    fn machine(created: i64, running: bool, deleting: bool) -> MachineState {
        MachineState {
            created: Some(at(created)),
            deleting,
            running,
            node: None,
        }
    }

    fn done(p: &Progress) -> bool {
        matches!(p, Progress::Done(_))
    }

    #[test]
    fn the_machines_are_done_when_the_runs_new_ones_run_and_nothing_is_removed() {
        let since = at(10);
        let old = || machine(0, true, false);
        let waiting = [old(), old(), old(), machine(11, false, false)];
        let p = machines_progress(&waiting, since, 4);
        assert!(!done(&p));
        assert!(matches!(&p, Progress::Waiting(s)
            if s == "4 of 4 machines, 0 of 1 new ones running, 0 being removed"));
        let running = [old(), old(), old(), machine(11, true, false)];
        assert!(done(&machines_progress(&running, since, 4)));
        // A machine broken before the run is not the run's to fix.
        let broken = [
            old(),
            old(),
            machine(0, false, false),
            machine(11, true, false),
        ];
        assert!(done(&machines_progress(&broken, since, 4)));
        // A scale-down is done once the machines being removed are gone.
        let going = [old(), old(), old(), machine(0, true, true)];
        assert!(!done(&machines_progress(&going, since, 3)));
        assert!(done(&machines_progress(&going[..3], since, 3)));
        // Not enough machines yet.
        assert!(!done(&machines_progress(&[old(), old()], since, 3)));
    }

    #[test]
    fn a_worker_count_is_a_whole_number() {
        let params = |v: &str| BTreeMap::from([("workers".to_owned(), v.to_owned())]);
        assert_eq!(workers(&params("5")).unwrap(), 5);
        assert_eq!(workers(&params(" 7 ")).unwrap(), 7);
        for bad in ["", "-1", "five", "2.5"] {
            let e = workers(&params(bad)).unwrap_err();
            assert_eq!(e.param, "workers");
            assert!(e.problem.contains("workers=5"), "{bad}: {}", e.problem);
        }
    }
}
