//! What the console reads from a cluster on demand, beside the watched tables: one pod in
//! full with its events, a pod's log as it is written, and whether the user may do an
//! action (SelfSubjectAccessReview). Each returns domain types, so the console never
//! handles Kubernetes objects itself.

use std::time::Duration;

use futures::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::{ContainerState, ContainerStatus, Event, Pod};
use kube::Api;
use kube::api::{ListParams, LogParams};

use crate::config::ClusterRole;
use crate::failure;
use crate::sources::live::LiveFleet;
use ck8s_model::access::{Permission, Rbac};

/// Lines the tail asks for when it starts.
pub const TAIL_LINES: i64 = 200;
/// How long one request may take before the answer is "timed out".
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Which pod, where.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PodTarget {
    pub env: String,
    pub role: ClusterRole,
    pub namespace: String,
    pub name: String,
}

impl PodTarget {
    pub fn cluster(&self) -> String {
        format!("{}-{}", self.env, self.role)
    }
}

/// What the overlay shows of a pod, projected from the full object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PodDetails {
    /// kubectl's STATUS word, as the pod list shows it (`CrashLoopBackOff`).
    pub status: String,
    pub phase: String,
    pub reason: Option<String>,
    pub node: Option<String>,
    pub ip: Option<String>,
    pub qos: Option<String>,
    pub created: Option<i64>,
    pub started: Option<i64>,
    pub owner: Option<String>,
    pub service_account: Option<String>,
    pub labels: Vec<(String, String)>,
    /// Init containers first, as they run.
    pub containers: Vec<ContainerInfo>,
    /// The container a log or shell uses when none is named ([`default_container`]).
    pub default_container: Option<String>,
    pub conditions: Vec<ConditionInfo>,
    pub events: Vec<EventInfo>,
    /// The pod as `kubectl get -o yaml` shows it, managedFields folded away.
    pub yaml: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerInfo {
    pub name: String,
    pub image: String,
    pub init: bool,
    pub ready: bool,
    pub restarts: i32,
    /// `running`, `waiting: CrashLoopBackOff`, `terminated: Error (exit 1)`.
    pub state: String,
    pub state_since: Option<i64>,
    pub problem: bool,
    /// The previous run's end, when it restarted.
    pub last: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConditionInfo {
    pub kind: String,
    pub status: String,
    pub reason: String,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventInfo {
    pub warning: bool,
    pub reason: String,
    pub message: String,
    pub count: i32,
    pub last_seen: Option<i64>,
}

fn secs(t: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>) -> Option<i64> {
    t.as_ref().map(|t| t.0.as_second())
}

/// An object as YAML lines, safe to print, with `metadata.managedFields` folded into one
/// comment line: they are server bookkeeping, often longer than the object itself.
pub fn yaml_lines(object: &impl serde::Serialize) -> Vec<String> {
    let mut value = match serde_json::to_value(object) {
        Ok(v) => v,
        Err(e) => return vec![format!("# the object could not be shown as YAML: {e}")],
    };
    let folded = value
        .get_mut("metadata")
        .and_then(|m| m.as_object_mut())
        .and_then(|m| m.remove("managedFields"))
        .and_then(|f| f.as_array().map(Vec::len));
    let text = serde_yaml_ng::to_string(&value)
        .unwrap_or_else(|e| format!("# the object could not be shown as YAML: {e}"));
    let mut lines: Vec<String> = text.lines().map(sanitize).collect();
    if let Some(n) = folded {
        lines.insert(
            0,
            format!("# metadata.managedFields: {n} entries folded away"),
        );
    }
    lines
}

impl PodDetails {
    /// Projects a pod and its events (newest first in the result).
    pub fn from_pod(pod: &Pod, events: &[Event]) -> PodDetails {
        let meta = &pod.metadata;
        let spec = pod.spec.as_ref();
        let status = pod.status.as_ref();
        let statuses = |init: bool| {
            status
                .and_then(|s| {
                    if init {
                        s.init_container_statuses.as_ref()
                    } else {
                        s.container_statuses.as_ref()
                    }
                })
                .cloned()
                .unwrap_or_default()
        };
        let mut containers = Vec::new();
        for (init, list) in [
            (true, spec.and_then(|s| s.init_containers.as_ref())),
            (false, spec.map(|s| &s.containers)),
        ] {
            let st = statuses(init);
            for c in list.into_iter().flatten() {
                let cs = st.iter().find(|s| s.name == c.name);
                containers.push(container(
                    &c.name,
                    c.image.as_deref().unwrap_or(""),
                    init,
                    cs,
                ));
            }
        }
        let mut labels: Vec<(String, String)> = meta
            .labels
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        labels.sort();
        let mut events: Vec<EventInfo> = events
            .iter()
            .map(|e| EventInfo {
                warning: e.type_.as_deref() == Some("Warning"),
                reason: e.reason.clone().unwrap_or_default(),
                message: e.message.clone().unwrap_or_default(),
                count: e.count.unwrap_or(1),
                last_seen: secs(&e.last_timestamp)
                    .or_else(|| e.event_time.as_ref().map(|t| t.0.as_second()))
                    .or_else(|| secs(&e.first_timestamp)),
            })
            .collect();
        events.sort_by_key(|e| std::cmp::Reverse(e.last_seen));
        let containers_state = status
            .and_then(|s| s.container_statuses.as_ref())
            .into_iter()
            .flatten()
            .map(|cs| {
                let state = cs.state.as_ref();
                (
                    state
                        .and_then(|s| s.waiting.as_ref())
                        .and_then(|w| w.reason.as_deref()),
                    state
                        .and_then(|s| s.terminated.as_ref())
                        .and_then(|t| t.reason.as_deref()),
                )
            });
        PodDetails {
            default_container: default_container(pod),
            status: crate::state::rows::pod_status_word(
                meta.deletion_timestamp.is_some(),
                status.and_then(|s| s.phase.as_deref()),
                containers_state,
            ),
            phase: status
                .and_then(|s| s.phase.clone())
                .unwrap_or_else(|| "Unknown".into()),
            reason: status.and_then(|s| s.reason.clone()),
            node: spec.and_then(|s| s.node_name.clone()),
            ip: status.and_then(|s| s.pod_ip.clone()),
            qos: status.and_then(|s| s.qos_class.clone()),
            created: secs(&meta.creation_timestamp),
            started: status.and_then(|s| secs(&s.start_time)),
            owner: meta
                .owner_references
                .iter()
                .flatten()
                .find(|o| o.controller == Some(true))
                .or_else(|| meta.owner_references.iter().flatten().next())
                .map(|o| format!("{}/{}", o.kind, o.name)),
            service_account: spec.and_then(|s| s.service_account_name.clone()),
            labels,
            containers,
            conditions: status
                .and_then(|s| s.conditions.as_ref())
                .into_iter()
                .flatten()
                .map(|c| ConditionInfo {
                    kind: c.type_.clone(),
                    status: c.status.clone(),
                    reason: c.reason.clone().unwrap_or_default(),
                    message: c.message.clone().unwrap_or_default(),
                })
                .collect(),
            events,
            yaml: yaml_lines(pod),
        }
    }
}

fn container(name: &str, image: &str, init: bool, cs: Option<&ContainerStatus>) -> ContainerInfo {
    let (state, since, problem) = cs
        .and_then(|s| s.state.as_ref())
        .map(describe_state)
        .unwrap_or_else(|| ("unknown".into(), None, false));
    ContainerInfo {
        name: name.to_string(),
        image: image.to_string(),
        init,
        ready: cs.is_some_and(|s| s.ready),
        restarts: cs.map_or(0, |s| s.restart_count),
        state,
        state_since: since,
        problem,
        last: cs
            .and_then(|s| s.last_state.as_ref())
            .and_then(|l| l.terminated.as_ref())
            .map(|t| {
                format!(
                    "last run ended: {} (exit {})",
                    t.reason.as_deref().unwrap_or("terminated"),
                    t.exit_code
                )
            }),
    }
}

fn describe_state(s: &ContainerState) -> (String, Option<i64>, bool) {
    if let Some(r) = &s.running {
        return ("running".into(), secs(&r.started_at), false);
    }
    if let Some(w) = &s.waiting {
        let reason = w.reason.as_deref().unwrap_or("waiting");
        return (
            format!("waiting: {reason}"),
            None,
            reason != "ContainerCreating" && reason != "PodInitializing",
        );
    }
    if let Some(t) = &s.terminated {
        let reason = t.reason.as_deref().unwrap_or("terminated");
        return (
            format!("terminated: {reason} (exit {})", t.exit_code),
            secs(&t.finished_at),
            t.exit_code != 0,
        );
    }
    ("unknown".into(), None, false)
}

/// Makes a log line safe to print: escape sequences removed (a log must not move the
/// cursor or change colours of the console), tabs expanded, other controls shown as `·`.
pub fn sanitize(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                // CSI: ESC [ params final-byte; other escapes: ESC + one char.
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for n in chars.by_ref() {
                        if ('@'..='~').contains(&n) {
                            break;
                        }
                    }
                } else {
                    chars.next();
                }
            }
            '\t' => out.push_str("    "),
            '\r' | '\n' => {}
            c if c.is_control() => out.push('·'),
            c => out.push(c),
        }
    }
    out
}

/// A program the console hands the terminal to, as k9s hands it to kubectl for a shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handover {
    pub program: String,
    pub args: Vec<String>,
    /// What it is, for the audit log and the status line: `shell in acme-wc prod/web-1`.
    pub what: String,
}

/// `kubectl exec -it` into the pod with the cluster's own kubeconfig and context: bash
/// where the image has it, else sh. Without a container named, kubectl takes the pod's
/// default one (and says which).
pub fn shell(
    fleet: &crate::config::Fleet,
    target: &PodTarget,
    container: Option<&str>,
) -> Option<Handover> {
    let mut args = kubectl_on(fleet, target, "exec")?;
    args.extend([
        "-it".to_owned(),
        "-n".to_owned(),
        target.namespace.clone(),
        target.name.clone(),
    ]);
    if let Some(c) = container {
        args.extend(["-c".to_owned(), c.to_owned()]);
    }
    args.extend(
        [
            "--",
            "sh",
            "-c",
            "command -v bash >/dev/null && exec bash || exec sh",
        ]
        .map(String::from),
    );
    Some(Handover {
        program: "kubectl".to_owned(),
        args,
        what: format!(
            "shell in {} {}/{}",
            target.cluster(),
            target.namespace,
            target.name
        ),
    })
}

/// kubectl's arguments for `verb` on the cluster of `target`, with its own kubeconfig and
/// context.
fn kubectl_on(fleet: &crate::config::Fleet, target: &PodTarget, verb: &str) -> Option<Vec<String>> {
    let cluster = fleet.environment(&target.env)?.cluster(target.role);
    Some(vec![
        "--kubeconfig".to_owned(),
        cluster.kubeconfig.display().to_string(),
        "--context".to_owned(),
        cluster.context.clone(),
        verb.to_owned(),
    ])
}

/// `kubectl port-forward` of the pod's `ports` (checked by [`forward_ports`]) with the
/// cluster's own kubeconfig and context.
pub fn port_forward(
    fleet: &crate::config::Fleet,
    target: &PodTarget,
    ports: &[String],
) -> Option<Handover> {
    let mut args = kubectl_on(fleet, target, "port-forward")?;
    args.extend([
        "-n".to_owned(),
        target.namespace.clone(),
        format!("pod/{}", target.name),
    ]);
    args.extend(ports.iter().cloned());
    Some(Handover {
        program: "kubectl".to_owned(),
        args,
        what: format!(
            "port-forward {} to {} {}/{}",
            ports.join(" "),
            target.cluster(),
            target.namespace,
            target.name
        ),
    })
}

/// The ports of a forward as typed: one or more `[LOCAL:]REMOTE` (an empty or 0 local
/// port lets kubectl pick one), each a port number 1-65535; or what is wrong with them.
pub fn forward_ports(text: &str) -> Result<Vec<String>, String> {
    let specs: Vec<&str> = text.split_whitespace().collect();
    if specs.is_empty() {
        return Err("no port: type LOCAL:REMOTE, e.g. 8080:80 (or :80 for any local port)".into());
    }
    // Digits only, as kubectl takes them (`+80` parses as a number, but is no port).
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    let port = |p: &str, local: bool| match p.parse::<u32>() {
        _ if local && p.is_empty() => Ok(()),
        _ if !digits(p) => Err(format!("{p:?} is not a port (1-65535)")),
        Ok(0) if local => Ok(()),
        Ok(1..=65535) => Ok(()),
        _ => Err(format!("{p:?} is not a port (1-65535)")),
    };
    for spec in &specs {
        let (local, remote) = spec.split_once(':').unwrap_or(("", spec));
        port(local, true)
            .and_then(|()| port(remote, false))
            .map_err(|e| format!("{spec}: {e}; type LOCAL:REMOTE, e.g. 8080:80"))?;
    }
    Ok(specs.iter().map(|s| s.to_string()).collect())
}

/// One SelfSubjectAccessReview in a cluster: may the user do `rbac` there?
pub async fn review(live: &LiveFleet, env: &str, role: ClusterRole, rbac: &Rbac) -> Permission {
    match live.kube_client(env, role).await {
        Some(client) => crate::access::review(client, rbac, None).await,
        None => Permission::Failed("no Kubernetes client for this cluster".into()),
    }
}

async fn client_for(live: &LiveFleet, target: &PodTarget) -> Result<kube::Client, String> {
    live.kube_client(&target.env, target.role)
        .await
        .ok_or_else(|| {
            format!(
                "no Kubernetes client for {} (see the kubernetes source status)",
                target.cluster()
            )
        })
}

/// The pod in full, with the events about it.
pub async fn pod_details(live: &LiveFleet, target: &PodTarget) -> Result<PodDetails, String> {
    let client = client_for(live, target).await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &target.namespace);
    let events: Api<Event> = Api::namespaced(client, &target.namespace);
    let selector = format!("involvedObject.name={}", target.name);
    let params = ListParams::default().fields(&selector);
    let (pod, events) = tokio::time::timeout(REQUEST_TIMEOUT, async {
        futures::join!(pods.get(&target.name), events.list(&params))
    })
    .await
    .map_err(|_| "timed out".to_string())?;
    let pod = pod.map_err(|e| failure::of_kube(&e).sentence)?;
    // Events are a nicety: a failure to list them must not hide the pod.
    let mut events = events.map(|l| l.items).unwrap_or_default();
    events.retain(|e| e.involved_object.name.as_deref() == Some(target.name.as_str()));
    Ok(PodDetails::from_pod(&pod, &events))
}

/// Which log of a pod, and how: what `kubectl logs` takes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// The container; `None` is the pod's default, as kubectl picks it: the one its
    /// `kubectl.kubernetes.io/default-container` annotation names, else the first.
    pub container: Option<String>,
    /// The previous run's log of a restarted container, which ends, instead of following
    /// the current one.
    pub previous: bool,
    /// Each line begins with the time the runtime received it (RFC 3339).
    pub timestamps: bool,
    /// The lines of the last this many seconds, instead of the last [`TAIL_LINES`].
    pub since_seconds: Option<i64>,
}

/// The container kubectl takes when none is named.
const DEFAULT_CONTAINER: &str = "kubectl.kubernetes.io/default-container";

/// The container a log or shell uses when none is named: the annotated default, else the
/// first container.
pub fn default_container(pod: &Pod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    let annotated = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DEFAULT_CONTAINER))
        .filter(|name| spec.containers.iter().any(|c| &c.name == *name));
    annotated
        .cloned()
        .or_else(|| spec.containers.first().map(|c| c.name.clone()))
}

/// Follows the pod's log as `options` say, from its last [`TAIL_LINES`] lines (or those of
/// the last `since_seconds`), handing `deliver` the lines (made safe to print) in batches,
/// until the stream ends or `deliver` says stop.
pub async fn follow_log<F, Fut>(
    live: &LiveFleet,
    target: &PodTarget,
    options: &LogOptions,
    mut deliver: F,
) -> Result<(), String>
where
    F: FnMut(Vec<String>) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let client = client_for(live, target).await?;
    let pods: Api<Pod> = Api::namespaced(client, &target.namespace);
    let container = match &options.container {
        Some(c) => Some(c.clone()),
        // A pod with several containers needs one named.
        None => default_container(
            &tokio::time::timeout(REQUEST_TIMEOUT, pods.get(&target.name))
                .await
                .map_err(|_| "timed out".to_string())?
                .map_err(|e| failure::of_kube(&e).sentence)?,
        ),
    };
    let params = LogParams {
        follow: !options.previous,
        previous: options.previous,
        tail_lines: options.since_seconds.is_none().then_some(TAIL_LINES),
        since_seconds: options.since_seconds,
        timestamps: options.timestamps,
        container,
        ..LogParams::default()
    };
    let stream = pods
        .log_stream(&target.name, &params)
        .await
        .map_err(|e| failure::of_kube(&e).sentence)?;
    // Whatever arrived together goes in one batch, so a chatty pod cannot flood the
    // console's event loop with one message per line.
    let mut batches = std::pin::pin!(stream.lines().ready_chunks(256));
    while let Some(batch) = batches.next().await {
        let mut lines = Vec::with_capacity(batch.len());
        for line in batch {
            lines.push(sanitize(&line.map_err(|e| e.to_string())?));
        }
        if !deliver(lines).await {
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_container_is_the_annotated_one_else_the_first() {
        let pod = |annotation: Option<&str>| -> Pod {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "p", "annotations": annotation
                    .map(|a| serde_json::json!({DEFAULT_CONTAINER: a}))},
                "spec": {"containers": [{"name": "proxy"}, {"name": "app"}]}
            }))
            .unwrap()
        };
        assert_eq!(default_container(&pod(None)).as_deref(), Some("proxy"));
        assert_eq!(default_container(&pod(Some("app"))).as_deref(), Some("app"));
        // An annotation naming no container of the pod is ignored, as kubectl does.
        assert_eq!(
            default_container(&pod(Some("gone"))).as_deref(),
            Some("proxy")
        );
    }

    #[test]
    fn log_lines_cannot_drive_the_terminal() {
        assert_eq!(sanitize("\u{1b}[31mred\u{1b}[0m\tend\r"), "red    end");
        assert_eq!(sanitize("bell\u{7}"), "bell·");
        assert_eq!(sanitize("\u{1b}]0;title"), "0;title");
    }

    #[test]
    fn a_crash_looping_pod_projects_its_state_and_events() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "n", "creationTimestamp": "2026-11-28T10:00:00Z",
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "p-1", "uid": "u", "controller": true}],
                "labels": {"app": "p"}},
            "spec": {"nodeName": "w1", "containers": [{"name": "app", "image": "img:1"}]},
            "status": {"phase": "Running", "podIP": "10.0.0.1",
                "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
                "containerStatuses": [{"name": "app", "image": "img:1", "imageID": "", "ready": false, "restartCount": 4,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}
        }))
        .unwrap();
        let ev: Event = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "e"}, "involvedObject": {}, "type": "Warning", "reason": "BackOff",
            "message": "Back-off restarting failed container", "count": 9, "lastTimestamp": "2026-11-28T10:05:00Z"
        }))
        .unwrap();
        let d = PodDetails::from_pod(&pod, &[ev]);
        // The list's word, not the phase: the details and the list say the same.
        assert_eq!(
            (d.status.as_str(), d.phase.as_str()),
            ("CrashLoopBackOff", "Running")
        );
        assert_eq!(d.owner.as_deref(), Some("ReplicaSet/p-1"));
        let c = &d.containers[0];
        assert_eq!(
            (c.state.as_str(), c.problem, c.restarts),
            ("waiting: CrashLoopBackOff", true, 4)
        );
        assert_eq!(c.last.as_deref(), Some("last run ended: Error (exit 1)"));
        assert_eq!(d.events[0].count, 9);
        assert!(d.events[0].warning);
        assert!(d.yaml.iter().any(|l| l == "kind: Pod"), "{:?}", d.yaml);
        assert!(d.yaml.iter().any(|l| l == "  nodeName: w1"), "{:?}", d.yaml);
    }

    #[test]
    fn yaml_folds_managed_fields_and_cannot_drive_the_terminal() {
        let obj = serde_json::json!({
            "metadata": {"name": "p\u{1b}[2J", "managedFields": [{"manager": "kubectl"}, {"manager": "kubelet"}]},
            "spec": {"replicas": 2},
        });
        let lines = yaml_lines(&obj);
        assert_eq!(lines[0], "# metadata.managedFields: 2 entries folded away");
        assert!(!lines.iter().any(|l| l.contains("manager")), "{lines:?}");
        assert!(lines.iter().any(|l| l == "  replicas: 2"), "{lines:?}");
        assert!(!lines.iter().any(|l| l.contains('\u{1b}')), "{lines:?}");
    }

    #[test]
    fn forward_ports_are_checked_as_kubectl_takes_them() {
        assert_eq!(forward_ports("8080:80").unwrap(), ["8080:80"]);
        assert_eq!(
            forward_ports(" :80  9090 0:443 ").unwrap(),
            [":80", "9090", "0:443"]
        );
        for (bad, why) in [
            ("", "no port"),
            ("8080:99999", "\"99999\" is not a port"),
            ("http:80", "\"http\" is not a port"),
            ("8080:", "\"\" is not a port"),
            ("80 x", "x: \"x\" is not a port"),
            ("+80", "\"+80\" is not a port"),
        ] {
            let e = forward_ports(bad).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }
}
