//! `pods`: the pods of the selected clusters, narrowed by namespace, status, labels, node
//! or free text, as kubectl would list them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::output::{self, Cell, TextTable, Tone};
use super::{Built, Report, Selection, SourceError};
use crate::cli::PodsOptions;
use crate::config::ClusterRole;
use crate::state::FleetState;
use crate::state::rows::{PodPhase, PodRow};

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(super) struct PodsReport {
    items: Vec<PodItem>,
    #[serde(skip)]
    errors: Vec<SourceError>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct PodItem {
    env: String,
    cluster: ClusterRole,
    namespace: String,
    name: String,
    /// `Pending`, `Running`, `Succeeded`, `Failed` or `Unknown`.
    phase: PodPhase,
    /// What kubectl prints in STATUS, e.g. `CrashLoopBackOff`.
    status: String,
    /// Containers ready, and all containers.
    ready: u16,
    containers: u16,
    restarts: u32,
    node: Option<String>,
    ip: Option<String>,
    owner: Option<Owner>,
    created: DateTime<Utc>,
    age_seconds: i64,
    labels: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct Owner {
    kind: String,
    name: String,
}

pub(super) fn build(
    state: &FleetState,
    selection: &Selection,
    options: &PodsOptions,
    now: DateTime<Utc>,
    errors: Vec<SourceError>,
) -> Built {
    let mut items = Vec::new();
    for handle in selection.handles(state) {
        let cluster = handle.read();
        items.extend(
            cluster
                .pods
                .values()
                .filter(|p| matches(p, options))
                .map(|p| item(&handle.env, handle.role, p, now)),
        );
    }
    Built::new(now, PodsReport { items, errors })
}

fn matches(pod: &PodRow, o: &PodsOptions) -> bool {
    let eq =
        |want: &Option<String>, have: Option<&str>| want.as_deref().is_none_or(|w| have == Some(w));
    let status_ok = o
        .status
        .as_deref()
        .is_none_or(|s| pod.status.eq_ignore_ascii_case(s));
    let labels_ok = o
        .selector
        .as_ref()
        .is_none_or(|sel| sel.matches_with(|k| pod.label(k)));
    let text_ok = o.filter.as_ref().is_none_or(|filter| {
        let owner = pod.owner.as_ref().map(|(_, n)| n.as_ref()).unwrap_or("");
        let fields = [
            &*pod.namespace,
            &*pod.name,
            &*pod.status,
            pod.node.as_deref().unwrap_or(""),
            owner,
        ];
        filter.matches(&fields, |k| pod.label(k))
    });
    eq(&o.namespace, Some(&pod.namespace))
        && eq(&o.node, pod.node.as_deref())
        && status_ok
        && labels_ok
        && text_ok
}

fn item(env: &str, role: ClusterRole, p: &PodRow, now: DateTime<Utc>) -> PodItem {
    let created = DateTime::from_timestamp(p.created, 0).unwrap_or(now);
    PodItem {
        env: env.to_owned(),
        cluster: role,
        namespace: p.namespace.to_string(),
        name: p.name.to_string(),
        phase: p.phase,
        status: p.status.to_string(),
        ready: p.ready,
        containers: p.containers,
        restarts: p.restarts,
        node: p.node.as_deref().map(str::to_owned),
        ip: p.ip.as_deref().map(str::to_owned),
        owner: p.owner.as_ref().map(|(kind, name)| Owner {
            kind: kind.to_string(),
            name: name.to_string(),
        }),
        created,
        age_seconds: (now - created).num_seconds(),
        labels: p
            .labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

impl Report for PodsReport {
    fn names(&self) -> Vec<String> {
        self.items
            .iter()
            .map(|p| format!("{}-{}/{}/{}", p.env, p.cluster, p.namespace, p.name))
            .collect()
    }

    fn errors(&self) -> &[SourceError] {
        &self.errors
    }

    fn render(&self, out: &mut String, colour: bool) {
        if self.items.is_empty() {
            out.push_str("No pods match.\n");
            return;
        }
        let mut table = TextTable::new(&[
            "ENV",
            "CLUSTER",
            "NAMESPACE",
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "NODE",
        ]);
        for p in &self.items {
            table.row(vec![
                Cell::from(p.env.as_str()),
                Cell::from(p.cluster.as_str()),
                Cell::from(p.namespace.as_str()),
                Cell::from(p.name.as_str()),
                Cell::from(format!("{}/{}", p.ready, p.containers)),
                Cell::new(p.status.as_str(), status_tone(p)),
                Cell::from(p.restarts.to_string()),
                Cell::from(output::age(p.age_seconds)),
                Cell::from(p.node.as_deref().unwrap_or("<none>")),
            ]);
        }
        table.render(out, colour);
    }
}

fn status_tone(p: &PodItem) -> Tone {
    match (p.phase, p.status.as_str()) {
        (PodPhase::Succeeded, _) => Tone::Dim,
        (PodPhase::Running, "Running") if p.ready == p.containers => Tone::Plain,
        (PodPhase::Failed, _)
        | (_, "CrashLoopBackOff" | "ImagePullBackOff" | "ErrImagePull" | "Error") => Tone::Bad,
        _ => Tone::Warn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn pod(ns: &str, name: &str, status: &str, node: Option<&str>, app: &str) -> PodRow {
        PodRow {
            node: node.map(Arc::from),
            owner: Some((Arc::from("ReplicaSet"), Box::from(format!("{app}-7d4f")))),
            ..crate::testing::pod(ns, name, status, app)
        }
    }

    fn pods() -> Vec<PodRow> {
        vec![
            pod(
                "production",
                "payments-1",
                "Running",
                Some("w1"),
                "payments",
            ),
            pod(
                "production",
                "worker-1",
                "CrashLoopBackOff",
                Some("w2"),
                "worker",
            ),
            pod("staging", "web-1", "Pending", None, "web"),
        ]
    }

    fn kept(o: &PodsOptions) -> Vec<String> {
        pods()
            .iter()
            .filter(|p| matches(p, o))
            .map(|p| p.name.to_string())
            .collect()
    }

    #[test]
    fn no_filter_keeps_every_pod() {
        assert_eq!(kept(&PodsOptions::default()).len(), 3);
    }

    #[test]
    fn namespace_node_and_status_match_exactly_status_in_any_case() {
        let ns = PodsOptions {
            namespace: Some("production".into()),
            ..Default::default()
        };
        assert_eq!(kept(&ns), ["payments-1", "worker-1"]);
        let node = PodsOptions {
            node: Some("w2".into()),
            ..Default::default()
        };
        assert_eq!(
            kept(&node),
            ["worker-1"],
            "a pod on no node never matches --node"
        );
        let status = PodsOptions {
            status: Some("crashloopbackoff".into()),
            ..Default::default()
        };
        assert_eq!(kept(&status), ["worker-1"]);
        let prefix = PodsOptions {
            namespace: Some("prod".into()),
            ..Default::default()
        };
        assert!(
            kept(&prefix).is_empty(),
            "--namespace is not a prefix match"
        );
    }

    #[test]
    fn selector_and_filter_read_labels_and_owner() {
        let selector = PodsOptions {
            selector: Some("app in (web,worker)".parse().unwrap()),
            ..Default::default()
        };
        assert_eq!(kept(&selector), ["worker-1", "web-1"]);
        let by_owner = PodsOptions {
            filter: Some("payments-7d4f".parse().unwrap()),
            ..Default::default()
        };
        assert_eq!(kept(&by_owner), ["payments-1"]);
        let all_of = PodsOptions {
            namespace: Some("production".into()),
            filter: Some("app=web".parse().unwrap()),
            ..Default::default()
        };
        assert!(kept(&all_of).is_empty(), "every option given must match");
    }

    #[test]
    fn items_carry_the_cluster_owner_and_age() {
        let now = Utc::now();
        let p = &pods()[0];
        let i = item("globex", ClusterRole::Wc, p, now);
        assert_eq!((i.env.as_str(), i.cluster), ("globex", ClusterRole::Wc));
        let owner = i.owner.unwrap();
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str()),
            ("ReplicaSet", "payments-7d4f")
        );
        assert_eq!(i.age_seconds, now.timestamp());
        assert_eq!(i.labels["app"], "payments");
    }
}
