//! Projection of slim wire objects into compact rows, and which table each goes to.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use serde::de::DeserializeOwned;

use super::wire;
use crate::state::health::Source;
use crate::state::rows::*;
use crate::state::table::{Key, Table};
use crate::state::{ClusterState, Interner};

/// A watched kind: where its rows live and how an object becomes a row.
pub trait Watched:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static
{
    type Row: Send + Sync + 'static;
    /// The source name used for health reporting.
    const SOURCE: Source;
    fn table(state: &mut ClusterState) -> &mut Table<Self::Row>;
    fn project(&self, i: &mut Interner) -> Self::Row;
    /// The row key; kinds sharing a table prefix the name to keep keys apart.
    fn key(&self, i: &mut Interner) -> Key {
        let m = self.meta();
        (
            i.get(m.namespace.as_deref().unwrap_or("")),
            Box::from(m.name.as_deref().unwrap_or("")),
        )
    }
}

fn created(m: &ObjectMeta) -> i64 {
    m.creation_timestamp.as_ref().map_or(0, |t| t.0.as_second())
}

fn ns(m: &ObjectMeta, i: &mut Interner) -> Str {
    i.get(m.namespace.as_deref().unwrap_or(""))
}

fn name(m: &ObjectMeta) -> Box<str> {
    Box::from(m.name.as_deref().unwrap_or(""))
}

/// RFC 3339 to unix seconds.
pub fn ts(s: &Option<String>) -> Option<i64> {
    s.as_deref()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.timestamp())
}

fn opt_box(s: &Option<String>) -> Option<Box<str>> {
    s.as_deref().map(Box::from)
}

fn interned(s: &Option<String>, i: &mut Interner) -> Option<Str> {
    s.as_deref().map(|s| i.get(s))
}

/// The STATUS word kubectl prints for a pod.
fn pod_status(p: &wire::Pod) -> String {
    crate::state::rows::pod_status_word(
        p.metadata.deletion_timestamp.is_some(),
        p.status.phase.as_deref(),
        p.status.container_statuses.iter().map(|cs| {
            (
                cs.state.waiting.as_ref().and_then(|w| w.reason.as_deref()),
                cs.state
                    .terminated
                    .as_ref()
                    .and_then(|t| t.reason.as_deref()),
            )
        }),
    )
}

fn phase(p: Option<&str>) -> PodPhase {
    match p {
        Some("Running") => PodPhase::Running,
        Some("Succeeded") => PodPhase::Succeeded,
        Some("Failed") => PodPhase::Failed,
        Some("Pending") | None => PodPhase::Pending,
        Some(_) => PodPhase::Unknown,
    }
}

impl Watched for wire::Pod {
    type Row = PodRow;
    const SOURCE: Source = Source::Pods;
    fn table(s: &mut ClusterState) -> &mut Table<PodRow> {
        &mut s.pods
    }
    fn project(&self, i: &mut Interner) -> PodRow {
        let m = &self.metadata;
        let statuses = &self.status.container_statuses;
        let owner = m.owner_references.as_ref().and_then(|o| {
            o.iter()
                .find(|r| r.controller == Some(true))
                .or(o.first())
                .map(|r| (i.get(&r.kind), Box::from(r.name.as_str())))
        });
        let labels = m
            .labels
            .iter()
            .flatten()
            .map(|(k, v)| (i.get(k), i.get(v)))
            .collect();
        PodRow {
            namespace: ns(m, i),
            name: name(m),
            phase: phase(self.status.phase.as_deref()),
            status: i.get(&pod_status(self)),
            ready: statuses.iter().filter(|c| c.ready).count() as u16,
            containers: self.spec.containers.len().max(statuses.len()) as u16,
            restarts: statuses.iter().map(|c| c.restart_count).sum(),
            created: created(m),
            node: interned(&self.spec.node_name, i),
            ip: opt_box(&self.status.pod_ip),
            owner,
            labels,
        }
    }
}

/// "4" cores, "3500m" millicores.
fn cpu_millis(q: Option<&String>) -> u64 {
    let q = q.map(String::as_str).unwrap_or("0");
    match q.strip_suffix('m') {
        Some(m) => m.parse().unwrap_or(0),
        None => q.parse::<f64>().map(|c| (c * 1000.0) as u64).unwrap_or(0),
    }
}

/// "16Gi", "16000Mi", "17179869184", "16G".
pub fn bytes(q: Option<&String>) -> u64 {
    let q = q.map(String::as_str).unwrap_or("0");
    const UNITS: &[(&str, u64)] = &[
        ("Ki", 1 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("Ti", 1 << 40),
        ("k", 1_000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
        ("T", 1_000_000_000_000),
    ];
    for (suffix, mult) in UNITS {
        if let Some(n) = q.strip_suffix(suffix) {
            return n.parse::<u64>().map(|n| n * mult).unwrap_or(0);
        }
    }
    q.parse().unwrap_or(0)
}

impl Watched for wire::Node {
    type Row = NodeRow;
    const SOURCE: Source = Source::Nodes;
    fn table(s: &mut ClusterState) -> &mut Table<NodeRow> {
        &mut s.nodes
    }
    fn project(&self, i: &mut Interner) -> NodeRow {
        let m = &self.metadata;
        let mut roles: Vec<&str> = m
            .labels
            .iter()
            .flatten()
            .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/"))
            .collect();
        roles.sort_unstable();
        let ready = self
            .status
            .conditions
            .iter()
            .find(|c| c.kind == "Ready")
            .and_then(|c| match c.status.as_str() {
                "True" => Some(true),
                "False" => Some(false),
                _ => None,
            });
        let pressure = self
            .status
            .conditions
            .iter()
            .filter(|c| c.kind != "Ready" && c.status == "True")
            .map(|c| i.get(&c.kind))
            .collect();
        NodeRow {
            name: name(m),
            ready,
            roles: i.get(&roles.join(",")),
            version: i.get(
                self.status
                    .node_info
                    .kubelet_version
                    .as_deref()
                    .unwrap_or(""),
            ),
            unschedulable: self.spec.unschedulable,
            created: created(m),
            internal_ip: self
                .status
                .addresses
                .iter()
                .find(|a| a.kind == "InternalIP")
                .map(|a| Box::from(a.address.as_str())),
            cpu_millis: cpu_millis(self.status.capacity.get("cpu")),
            memory_bytes: bytes(self.status.capacity.get("memory")),
            pressure,
        }
    }
}

macro_rules! replicated_workload {
    ($ty:ty, $kind:expr, $table:ident, $source:ident) => {
        impl Watched for $ty {
            type Row = WorkloadRow;
            const SOURCE: Source = Source::$source;
            fn table(s: &mut ClusterState) -> &mut Table<WorkloadRow> {
                &mut s.$table
            }
            fn project(&self, i: &mut Interner) -> WorkloadRow {
                let s = &self.status;
                WorkloadRow {
                    kind: $kind,
                    namespace: ns(&self.metadata, i),
                    name: name(&self.metadata),
                    desired: self.spec.replicas.unwrap_or(1),
                    ready: s.ready_replicas.unwrap_or(0),
                    updated: s.updated_replicas.unwrap_or(0),
                    available: s.available_replicas.unwrap_or(0),
                    created: created(&self.metadata),
                }
            }
        }
    };
}

replicated_workload!(
    wire::Deployment,
    WorkloadKind::Deployment,
    deployments,
    Deployments
);
replicated_workload!(
    wire::StatefulSet,
    WorkloadKind::StatefulSet,
    statefulsets,
    StatefulSets
);

impl Watched for wire::DaemonSet {
    type Row = WorkloadRow;
    const SOURCE: Source = Source::DaemonSets;
    fn table(s: &mut ClusterState) -> &mut Table<WorkloadRow> {
        &mut s.daemonsets
    }
    fn project(&self, i: &mut Interner) -> WorkloadRow {
        let s = &self.status;
        WorkloadRow {
            kind: WorkloadKind::DaemonSet,
            namespace: ns(&self.metadata, i),
            name: name(&self.metadata),
            desired: s.desired_number_scheduled.unwrap_or(0),
            ready: s.number_ready.unwrap_or(0),
            updated: s.updated_number_scheduled.unwrap_or(0),
            available: s.number_available.unwrap_or(0),
            created: created(&self.metadata),
        }
    }
}

impl Watched for wire::Event {
    type Row = EventRow;
    const SOURCE: Source = Source::Events;
    fn table(s: &mut ClusterState) -> &mut Table<EventRow> {
        &mut s.events
    }
    fn project(&self, i: &mut Interner) -> EventRow {
        let last = ts(&self.last_timestamp)
            .or_else(|| ts(&self.event_time))
            .unwrap_or_else(|| created(&self.metadata));
        EventRow {
            namespace: ns(&self.metadata, i),
            warning: self.kind.as_deref() == Some("Warning"),
            reason: i.get(self.reason.as_deref().unwrap_or("")),
            message: Box::from(self.message.as_deref().unwrap_or("")),
            object_kind: i.get(self.involved_object.kind.as_deref().unwrap_or("")),
            object_name: Box::from(self.involved_object.name.as_deref().unwrap_or("")),
            count: self.count.unwrap_or(1),
            last_seen: last,
        }
    }
}

impl Watched for wire::PersistentVolumeClaim {
    type Row = PvcRow;
    const SOURCE: Source = Source::Pvcs;
    fn table(s: &mut ClusterState) -> &mut Table<PvcRow> {
        &mut s.pvcs
    }
    fn project(&self, i: &mut Interner) -> PvcRow {
        PvcRow {
            namespace: ns(&self.metadata, i),
            name: name(&self.metadata),
            phase: i.get(self.status.phase.as_deref().unwrap_or("Pending")),
            capacity: self
                .status
                .capacity
                .get("storage")
                .map(|s| Box::from(s.as_str())),
            storage_class: interned(&self.spec.storage_class_name, i),
        }
    }
}

/// Only the two Welkin ConfigMaps matter; others keep an empty row.
pub const APPS_META: &str = "welkin-apps-meta";
pub const APPS_UPGRADE: &str = "welkin-apps-upgrade";

impl Watched for wire::ConfigMap {
    type Row = std::collections::BTreeMap<String, String>;
    const SOURCE: Source = Source::ConfigMaps;
    fn table(s: &mut ClusterState) -> &mut Table<Self::Row> {
        &mut s.welkin_config
    }
    fn project(&self, _: &mut Interner) -> Self::Row {
        match self.metadata.name.as_deref() {
            Some(APPS_META | APPS_UPGRADE) => self.data.clone(),
            _ => Default::default(),
        }
    }
}

impl Watched for wire::Backup {
    type Row = BackupRow;
    const SOURCE: Source = Source::Backups;
    fn table(s: &mut ClusterState) -> &mut Table<BackupRow> {
        &mut s.backup.backups
    }
    fn project(&self, i: &mut Interner) -> BackupRow {
        let st = &self.status;
        let schedule = self
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("velero.io/schedule-name"))
            .map(|s| i.get(s));
        BackupRow {
            namespace: ns(&self.metadata, i),
            name: name(&self.metadata),
            schedule,
            phase: i.get(st.phase.as_deref().unwrap_or("New")),
            created: created(&self.metadata),
            started: ts(&st.start_timestamp),
            completed: ts(&st.completion_timestamp),
            expires: ts(&st.expiration),
            errors: st.errors.unwrap_or(0),
            warnings: st.warnings.unwrap_or(0),
            failure_reason: opt_box(&st.failure_reason),
            storage_location: interned(&self.spec.storage_location, i),
        }
    }
}

impl Watched for wire::Restore {
    type Row = RestoreRow;
    const SOURCE: Source = Source::Restores;
    fn table(s: &mut ClusterState) -> &mut Table<RestoreRow> {
        &mut s.backup.restores
    }
    fn project(&self, i: &mut Interner) -> RestoreRow {
        let st = &self.status;
        RestoreRow {
            namespace: ns(&self.metadata, i),
            name: name(&self.metadata),
            backup: opt_box(&self.spec.backup_name),
            schedule: opt_box(&self.spec.schedule_name),
            phase: i.get(st.phase.as_deref().unwrap_or("New")),
            created: created(&self.metadata),
            started: ts(&st.start_timestamp),
            completed: ts(&st.completion_timestamp),
            errors: st.errors.unwrap_or(0),
            warnings: st.warnings.unwrap_or(0),
            failure_reason: opt_box(&st.failure_reason),
        }
    }
}

impl Watched for wire::Schedule {
    type Row = ScheduleRow;
    const SOURCE: Source = Source::Schedules;
    fn table(s: &mut ClusterState) -> &mut Table<ScheduleRow> {
        &mut s.backup.schedules
    }
    fn project(&self, i: &mut Interner) -> ScheduleRow {
        ScheduleRow {
            namespace: ns(&self.metadata, i),
            name: name(&self.metadata),
            schedule: Box::from(self.spec.schedule.as_str()),
            paused: self.spec.paused,
            phase: i.get(self.status.phase.as_deref().unwrap_or("New")),
            last_backup: ts(&self.status.last_backup),
        }
    }
}

impl Watched for wire::BackupStorageLocation {
    type Row = StorageLocationRow;
    const SOURCE: Source = Source::BackupStorageLocations;
    fn table(s: &mut ClusterState) -> &mut Table<StorageLocationRow> {
        &mut s.backup.locations
    }
    fn project(&self, i: &mut Interner) -> StorageLocationRow {
        StorageLocationRow {
            namespace: ns(&self.metadata, i),
            name: name(&self.metadata),
            phase: i.get(self.status.phase.as_deref().unwrap_or("Unknown")),
            default: self.spec.default,
            last_validated: ts(&self.status.last_validation_time),
            message: opt_box(&self.status.message),
        }
    }
}

impl Watched for wire::CronJob {
    type Row = CronJobRow;
    const SOURCE: Source = Source::CronJobs;
    fn table(s: &mut ClusterState) -> &mut Table<CronJobRow> {
        &mut s.backup.cronjobs
    }
    fn project(&self, i: &mut Interner) -> CronJobRow {
        CronJobRow {
            namespace: ns(&self.metadata, i),
            name: name(&self.metadata),
            schedule: Box::from(self.spec.schedule.as_str()),
            suspended: self.spec.suspend,
            last_schedule: ts(&self.status.last_schedule_time),
            last_success: ts(&self.status.last_successful_time),
        }
    }
}

impl Watched for wire::Job {
    type Row = JobRow;
    const SOURCE: Source = Source::Jobs;
    fn table(s: &mut ClusterState) -> &mut Table<JobRow> {
        &mut s.backup.jobs
    }
    fn project(&self, i: &mut Interner) -> JobRow {
        let st = &self.status;
        let cronjob = self
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.kind == "CronJob")
            .map(|o| Box::from(o.name.as_str()));
        let failure = st
            .conditions
            .iter()
            .find(|c| c.kind == "Failed" && c.status == "True")
            .map(|c| Box::from(c.reason.as_deref().unwrap_or("Failed")));
        JobRow {
            namespace: ns(&self.metadata, i),
            name: name(&self.metadata),
            cronjob,
            succeeded: st.succeeded.unwrap_or(0),
            failed: st.failed.unwrap_or(0),
            active: st.active.unwrap_or(0),
            started: ts(&st.start_time),
            completed: ts(&st.completion_time),
            failure,
        }
    }
}

fn condition_true(conds: &[wire::Condition], kind: &str) -> bool {
    conds.iter().any(|c| c.kind == kind && c.status == "True")
}

fn cluster_label(m: &ObjectMeta, i: &mut Interner, fallback: &Option<String>) -> Str {
    let label = m
        .labels
        .as_ref()
        .and_then(|l| l.get("cluster.x-k8s.io/cluster-name"))
        .cloned();
    i.get(label.as_deref().or(fallback.as_deref()).unwrap_or(""))
}

impl Watched for wire::CapiCluster {
    type Row = CapiClusterRow;
    const SOURCE: Source = Source::CapiClusters;
    fn table(s: &mut ClusterState) -> &mut Table<CapiClusterRow> {
        &mut s.capi.clusters
    }
    fn project(&self, i: &mut Interner) -> CapiClusterRow {
        let st = &self.status;
        CapiClusterRow {
            namespace: ns(&self.metadata, i),
            name: name(&self.metadata),
            phase: i.get(st.phase.as_deref().unwrap_or("Pending")),
            control_plane_ready: st.control_plane_ready,
            infrastructure_ready: st.infrastructure_ready,
            ready: condition_true(&st.conditions, "Ready"),
        }
    }
}

fn machine_set_row(
    m: &ObjectMeta,
    i: &mut Interner,
    desired: Option<u32>,
    version: &Option<String>,
    cluster: Str,
    st: &wire::MachineSetStatus,
) -> MachineSetRow {
    let desired = desired.unwrap_or(1);
    let generation = m.generation.unwrap_or(0);
    let updated = st.updated_replicas.unwrap_or(0);
    let replicas = st.replicas.unwrap_or(0);
    let version_reached = st.version.is_none() || st.version == *version;
    let rolling = st.observed_generation.unwrap_or(0) < generation
        || updated != desired
        || replicas != desired
        || !version_reached;
    MachineSetRow {
        namespace: ns(m, i),
        name: name(m),
        cluster,
        desired,
        replicas,
        ready: st.ready_replicas.unwrap_or(0),
        updated,
        available: st.available_replicas.unwrap_or(0),
        version: interned(version, i),
        status_version: interned(&st.version, i),
        phase: interned(&st.phase, i),
        rolling,
    }
}

impl Watched for wire::KubeadmControlPlane {
    type Row = MachineSetRow;
    const SOURCE: Source = Source::ControlPlanes;
    fn table(s: &mut ClusterState) -> &mut Table<MachineSetRow> {
        &mut s.capi.control_planes
    }
    fn project(&self, i: &mut Interner) -> MachineSetRow {
        let cluster = cluster_label(&self.metadata, i, &None);
        machine_set_row(
            &self.metadata,
            i,
            self.spec.replicas,
            &self.spec.version,
            cluster,
            &self.status,
        )
    }
}

impl Watched for wire::MachineDeployment {
    type Row = MachineSetRow;
    const SOURCE: Source = Source::MachineDeployments;
    fn table(s: &mut ClusterState) -> &mut Table<MachineSetRow> {
        &mut s.capi.machine_deployments
    }
    fn project(&self, i: &mut Interner) -> MachineSetRow {
        let cluster = cluster_label(&self.metadata, i, &self.spec.cluster_name);
        // A MachineDeployment reports no version of its own; its machines do.
        let status = wire::MachineSetStatus {
            version: None,
            ..self.status.clone()
        };
        machine_set_row(
            &self.metadata,
            i,
            self.spec.replicas,
            &self.spec.template.spec.version,
            cluster,
            &status,
        )
    }
}

impl Watched for wire::Machine {
    type Row = MachineRow;
    const SOURCE: Source = Source::Machines;
    fn table(s: &mut ClusterState) -> &mut Table<MachineRow> {
        &mut s.capi.machines
    }
    fn project(&self, i: &mut Interner) -> MachineRow {
        let m = &self.metadata;
        let draining = self
            .status
            .conditions
            .iter()
            .find(|c| c.kind == "DrainingSucceeded" && c.status == "False")
            .map(|c| Box::from(c.message.as_deref().unwrap_or("draining")));
        let control_plane = m
            .labels
            .as_ref()
            .is_some_and(|l| l.contains_key("cluster.x-k8s.io/control-plane"))
            || m.owner_references
                .iter()
                .flatten()
                .any(|o| o.kind == "KubeadmControlPlane");
        MachineRow {
            namespace: ns(m, i),
            name: name(m),
            cluster: cluster_label(m, i, &self.spec.cluster_name),
            phase: i.get(self.status.phase.as_deref().unwrap_or("Pending")),
            node: self.status.node_ref.as_ref().and_then(|r| opt_box(&r.name)),
            version: interned(&self.spec.version, i),
            created: created(m),
            control_plane,
            draining,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode<T: DeserializeOwned>(v: serde_json::Value) -> T {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn pod_row_reads_like_kubectl() {
        let pod: wire::Pod = decode(json!({
            "metadata": {"name": "web-1", "namespace": "prod", "creationTimestamp": "2026-01-01T00:00:00Z",
                "labels": {"app": "web"}, "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc", "uid": "u", "controller": true}]},
            "spec": {"nodeName": "n1", "containers": [{"name": "a"}, {"name": "b"}]},
            "status": {"phase": "Running", "podIP": "10.0.0.9", "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 1, "state": {"running": {}}},
                {"name": "b", "ready": false, "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}));
        let mut i = Interner::default();
        let row = pod.project(&mut i);
        assert_eq!((row.ready, row.containers, row.restarts), (1, 2, 5));
        assert_eq!(&*row.status, "CrashLoopBackOff");
        assert_eq!(row.phase, PodPhase::Running);
        assert_eq!(row.node.as_deref(), Some("n1"));
        assert_eq!(
            row.owner.as_ref().map(|(k, n)| (k.as_ref(), n.as_ref())),
            Some(("ReplicaSet", "web-abc"))
        );
        assert_eq!(row.label("app"), Some("web"));
        assert_eq!(row.created, 1_767_225_600);
        assert!(!row.healthy());
    }

    #[test]
    fn node_row_roles_readiness_and_capacity() {
        let node: wire::Node = decode(json!({
            "metadata": {"name": "cp-1", "labels": {"node-role.kubernetes.io/control-plane": ""}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "Unknown"}, {"type": "DiskPressure", "status": "True"}],
                "capacity": {"cpu": "3500m", "memory": "16Gi"}, "nodeInfo": {"kubeletVersion": "v1.33.4"},
                "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}}));
        let row = node.project(&mut Interner::default());
        assert_eq!(row.ready, None);
        assert!(row.is_control_plane() && row.unschedulable);
        assert_eq!((row.cpu_millis, row.memory_bytes), (3500, 16 << 30));
        assert_eq!(&*row.pressure[0], "DiskPressure");
    }

    #[test]
    fn quantities_parse() {
        assert_eq!(bytes(Some(&"512Mi".to_string())), 512 << 20);
        assert_eq!(bytes(Some(&"2G".to_string())), 2_000_000_000);
        assert_eq!(cpu_millis(Some(&"8".to_string())), 8000);
    }

    #[test]
    fn kcp_mid_rollout_is_rolling_and_reports_the_oldest_version() {
        let kcp: wire::KubeadmControlPlane = decode(json!({
            "metadata": {"name": "acme-sc-control-plane", "namespace": "capi-clusters", "generation": 2,
                "labels": {"cluster.x-k8s.io/cluster-name": "acme-sc"}},
            "spec": {"replicas": 3, "version": "v1.34.1"},
            "status": {"replicas": 4, "readyReplicas": 4, "updatedReplicas": 1, "version": "v1.33.4", "observedGeneration": 2}}));
        let row = kcp.project(&mut Interner::default());
        assert!(row.rolling);
        assert_eq!(row.status_version.as_deref(), Some("v1.33.4"));
        assert_eq!(&*row.cluster, "acme-sc");
    }
}
