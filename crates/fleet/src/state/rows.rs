//! Compact rows: what the console keeps of each object. Small structs, interned
//! strings for the values many rows share (namespaces, nodes, statuses, label keys),
//! and only the fields a pane or a report shows. Times are unix seconds.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub type Str = Arc<str>;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "PascalCase")]
pub enum PodPhase {
    Pending,
    Running,
    Succeeded,
    Failed,
    Unknown,
}

#[derive(Debug, Clone, Serialize)]
pub struct PodRow {
    pub namespace: Str,
    pub name: Box<str>,
    pub phase: PodPhase,
    /// What kubectl prints in STATUS: the phase, or a waiting/terminated reason such as
    /// CrashLoopBackOff, or Terminating.
    pub status: Str,
    pub ready: u16,
    pub containers: u16,
    pub restarts: u32,
    pub created: i64,
    pub node: Option<Str>,
    pub ip: Option<Box<str>>,
    /// Owner kind and name (ReplicaSet, StatefulSet, DaemonSet, Job, ...).
    pub owner: Option<(Str, Box<str>)>,
    #[serde(serialize_with = "ser_labels")]
    pub labels: Box<[(Str, Str)]>,
}

fn ser_labels<S: serde::Serializer>(labels: &[(Str, Str)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(labels.len()))?;
    for (k, v) in labels {
        m.serialize_entry(k.as_ref(), v.as_ref())?;
    }
    m.end()
}

impl PodRow {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k.as_ref() == key)
            .map(|(_, v)| v.as_ref())
    }

    /// Running with every container ready, or finished successfully.
    pub fn healthy(&self) -> bool {
        (self.phase == PodPhase::Running && self.ready == self.containers)
            || self.phase == PodPhase::Succeeded
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeRow {
    pub name: Box<str>,
    /// None when the node reports no Ready condition (Unknown).
    pub ready: Option<bool>,
    pub roles: Str,
    pub version: Str,
    pub unschedulable: bool,
    pub created: i64,
    pub internal_ip: Option<Box<str>>,
    pub cpu_millis: u64,
    pub memory_bytes: u64,
    /// Conditions other than Ready that are True (MemoryPressure, DiskPressure, ...).
    pub pressure: Vec<Str>,
}

/// The STATUS word kubectl prints for a pod: `Terminating` while it is deleted, else the
/// first container's waiting reason (`CrashLoopBackOff`) or, for a pod not Succeeded, its
/// termination reason (`Error`), else the phase (`Completed` for Succeeded). The one
/// derivation of the pod list and the pod details.
pub fn pod_status_word<'a>(
    deleting: bool,
    phase: Option<&str>,
    containers: impl IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>,
) -> String {
    if deleting {
        return "Terminating".into();
    }
    let phase = phase.unwrap_or("Pending");
    for (waiting, terminated) in containers {
        if let Some(r) = waiting {
            return r.into();
        }
        if let Some(r) = terminated
            && phase != "Succeeded"
        {
            return r.into();
        }
    }
    if phase == "Succeeded" {
        "Completed".into()
    } else {
        phase.into()
    }
}

impl NodeRow {
    pub fn is_control_plane(&self) -> bool {
        self.roles.contains("control-plane")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
    DaemonSet,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkloadRow {
    pub kind: WorkloadKind,
    pub namespace: Str,
    pub name: Box<str>,
    pub desired: u32,
    pub ready: u32,
    pub updated: u32,
    pub available: u32,
    pub created: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventRow {
    pub namespace: Str,
    pub warning: bool,
    pub reason: Str,
    pub message: Box<str>,
    pub object_kind: Str,
    pub object_name: Box<str>,
    pub count: u32,
    pub last_seen: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PvcRow {
    pub namespace: Str,
    pub name: Box<str>,
    pub phase: Str,
    pub capacity: Option<Box<str>>,
    pub storage_class: Option<Str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BackupRow {
    pub namespace: Str,
    pub name: Box<str>,
    pub schedule: Option<Str>,
    pub phase: Str,
    pub created: i64,
    pub started: Option<i64>,
    pub completed: Option<i64>,
    pub expires: Option<i64>,
    pub errors: u32,
    pub warnings: u32,
    pub failure_reason: Option<Box<str>>,
    pub storage_location: Option<Str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScheduleRow {
    pub namespace: Str,
    pub name: Box<str>,
    pub schedule: Box<str>,
    pub paused: bool,
    pub phase: Str,
    pub last_backup: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RestoreRow {
    pub namespace: Str,
    pub name: Box<str>,
    pub backup: Option<Box<str>>,
    pub schedule: Option<Box<str>>,
    pub phase: Str,
    pub created: i64,
    pub started: Option<i64>,
    pub completed: Option<i64>,
    pub errors: u32,
    pub warnings: u32,
    pub failure_reason: Option<Box<str>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StorageLocationRow {
    pub namespace: Str,
    pub name: Box<str>,
    pub phase: Str,
    pub default: bool,
    pub last_validated: Option<i64>,
    pub message: Option<Box<str>>,
}

/// A CronJob that backs something up outside Velero (Harbor's database, OpenSearch
/// snapshots), with its latest Jobs.
#[derive(Debug, Clone, Serialize)]
pub struct CronJobRow {
    pub namespace: Str,
    pub name: Box<str>,
    pub schedule: Box<str>,
    pub suspended: bool,
    pub last_schedule: Option<i64>,
    pub last_success: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct JobRow {
    pub namespace: Str,
    pub name: Box<str>,
    pub cronjob: Option<Box<str>>,
    pub succeeded: u32,
    pub failed: u32,
    pub active: u32,
    pub started: Option<i64>,
    pub completed: Option<i64>,
    /// The Failed condition's reason, when the Job failed.
    pub failure: Option<Box<str>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CapiClusterRow {
    pub namespace: Str,
    pub name: Box<str>,
    pub phase: Str,
    pub control_plane_ready: bool,
    pub infrastructure_ready: bool,
    pub ready: bool,
}

/// A KubeadmControlPlane or a MachineDeployment: a replicated set of machines.
#[derive(Debug, Clone, Serialize)]
pub struct MachineSetRow {
    pub namespace: Str,
    pub name: Box<str>,
    pub cluster: Str,
    pub desired: u32,
    pub replicas: u32,
    pub ready: u32,
    pub updated: u32,
    pub available: u32,
    /// Wanted version (spec).
    pub version: Option<Str>,
    /// Reached version (KCP status.version: the oldest of its machines).
    pub status_version: Option<Str>,
    pub phase: Option<Str>,
    /// A rollout is under way (spec not yet reached).
    pub rolling: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct MachineRow {
    pub namespace: Str,
    pub name: Box<str>,
    pub cluster: Str,
    pub phase: Str,
    pub node: Option<Box<str>>,
    pub version: Option<Str>,
    pub created: i64,
    pub control_plane: bool,
    /// The DrainingSucceeded=False message while a drain is blocked.
    pub draining: Option<Box<str>>,
}

/// `kube-system/welkin-apps-upgrade`: an apps upgrade is in progress.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct UpgradeLock {
    pub target_version: String,
    pub since: Option<String>,
    pub last_apply_step: Option<String>,
}

/// A cert-manager Certificate's current certificate, from Prometheus'
/// `certmanager_certificate_expiration_timestamp_seconds`.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct CertificateRow {
    pub namespace: String,
    pub name: String,
    pub expires: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Usage {
    /// Cores in use.
    pub cpu: f64,
    pub memory_bytes: f64,
}
