//! Slim wire types: each decodes only the fields its row needs, so a 30 000-pod list
//! costs a fraction of full `k8s-openapi` objects to decode and nothing to keep.
//! Unknown fields are ignored; every field is optional on the wire.

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope};
use serde::Deserialize;

/// Implements `kube::Resource` for a slim type with a fixed group/version/kind.
macro_rules! resource {
    ($ty:ident, $group:literal, $version:literal, $kind:literal, $plural:literal, $scope:ty) => {
        impl kube::Resource for $ty {
            type DynamicType = ();
            type Scope = $scope;
            fn kind(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($kind)
            }
            fn group(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($group)
            }
            fn version(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($version)
            }
            fn plural(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($plural)
            }
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

/// A slim object: metadata plus `spec` and `status` as the type's own slim structs.
macro_rules! slim {
    // Kinds whose spec the console never reads: it is skipped while decoding, not kept.
    ($ty:ident, $status:ty) => {
        #[derive(Debug, Clone, Deserialize)]
        pub struct $ty {
            pub metadata: ObjectMeta,
            #[serde(default)]
            pub status: $status,
        }
    };
    ($ty:ident, $spec:ty, $status:ty) => {
        #[derive(Debug, Clone, Deserialize)]
        pub struct $ty {
            pub metadata: ObjectMeta,
            #[serde(default)]
            pub spec: $spec,
            #[serde(default)]
            pub status: $status,
        }
    };
}

// ---- core/v1 Pod ----------------------------------------------------------------------

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    pub node_name: Option<String>,
    /// Only counted: each container is skipped while decoding.
    #[serde(default)]
    pub containers: Vec<serde::de::IgnoredAny>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    pub phase: Option<String>,
    #[serde(rename = "podIP")]
    pub pod_ip: Option<String>,
    #[serde(default)]
    pub container_statuses: Vec<ContainerStatus>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStatus {
    #[serde(default)]
    pub ready: bool,
    #[serde(default)]
    pub restart_count: u32,
    #[serde(default)]
    pub state: ContainerState,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ContainerState {
    pub waiting: Option<Reason>,
    pub terminated: Option<Reason>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Reason {
    pub reason: Option<String>,
}

slim!(Pod, PodSpec, PodStatus);
resource!(Pod, "", "v1", "Pod", "pods", NamespaceResourceScope);

// ---- core/v1 Node ---------------------------------------------------------------------

#[derive(Debug, Clone, Default, Deserialize)]
pub struct NodeSpec {
    #[serde(default)]
    pub unschedulable: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatus {
    #[serde(default)]
    pub conditions: Vec<Condition>,
    #[serde(default)]
    pub addresses: Vec<Address>,
    #[serde(default)]
    pub capacity: BTreeMap<String, String>,
    #[serde(default)]
    pub node_info: NodeInfo,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeInfo {
    pub kubelet_version: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Address {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub address: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Condition {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub status: String,
    pub reason: Option<String>,
    pub message: Option<String>,
}

slim!(Node, NodeSpec, NodeStatus);
resource!(Node, "", "v1", "Node", "nodes", ClusterResourceScope);

// ---- apps/v1 workloads ------------------------------------------------------------------

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Replicas {
    pub replicas: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaStatus {
    pub ready_replicas: Option<u32>,
    pub updated_replicas: Option<u32>,
    pub available_replicas: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DaemonSetStatus {
    pub desired_number_scheduled: Option<u32>,
    pub number_ready: Option<u32>,
    pub updated_number_scheduled: Option<u32>,
    pub number_available: Option<u32>,
}

slim!(Deployment, Replicas, ReplicaStatus);
resource!(
    Deployment,
    "apps",
    "v1",
    "Deployment",
    "deployments",
    NamespaceResourceScope
);
slim!(StatefulSet, Replicas, ReplicaStatus);
resource!(
    StatefulSet,
    "apps",
    "v1",
    "StatefulSet",
    "statefulsets",
    NamespaceResourceScope
);
slim!(DaemonSet, DaemonSetStatus);
resource!(
    DaemonSet,
    "apps",
    "v1",
    "DaemonSet",
    "daemonsets",
    NamespaceResourceScope
);

// ---- core/v1 Event, PVC, ConfigMap ------------------------------------------------------

/// Events have no spec/status; their fields sit at the top level.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub metadata: ObjectMeta,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub count: Option<u32>,
    pub last_timestamp: Option<String>,
    pub event_time: Option<String>,
    #[serde(default)]
    pub involved_object: InvolvedObject,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct InvolvedObject {
    pub kind: Option<String>,
    pub name: Option<String>,
}

resource!(Event, "", "v1", "Event", "events", NamespaceResourceScope);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PvcSpec {
    pub storage_class_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PvcStatus {
    pub phase: Option<String>,
    #[serde(default)]
    pub capacity: BTreeMap<String, String>,
}

slim!(PersistentVolumeClaim, PvcSpec, PvcStatus);
resource!(
    PersistentVolumeClaim,
    "",
    "v1",
    "PersistentVolumeClaim",
    "persistentvolumeclaims",
    NamespaceResourceScope
);

#[derive(Debug, Clone, Deserialize)]
pub struct ConfigMap {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub data: BTreeMap<String, String>,
}

resource!(
    ConfigMap,
    "",
    "v1",
    "ConfigMap",
    "configmaps",
    NamespaceResourceScope
);

// ---- batch/v1 ---------------------------------------------------------------------------

#[derive(Debug, Clone, Default, Deserialize)]
pub struct CronJobSpec {
    #[serde(default)]
    pub schedule: String,
    #[serde(default)]
    pub suspend: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CronJobStatus {
    pub last_schedule_time: Option<String>,
    pub last_successful_time: Option<String>,
}

slim!(CronJob, CronJobSpec, CronJobStatus);
resource!(
    CronJob,
    "batch",
    "v1",
    "CronJob",
    "cronjobs",
    NamespaceResourceScope
);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobStatus {
    pub succeeded: Option<u32>,
    pub failed: Option<u32>,
    pub active: Option<u32>,
    pub start_time: Option<String>,
    pub completion_time: Option<String>,
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

slim!(Job, JobStatus);
resource!(Job, "batch", "v1", "Job", "jobs", NamespaceResourceScope);

// ---- velero.io/v1 -----------------------------------------------------------------------

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupSpec {
    pub storage_location: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VeleroRunStatus {
    pub phase: Option<String>,
    pub start_timestamp: Option<String>,
    pub completion_timestamp: Option<String>,
    pub expiration: Option<String>,
    pub errors: Option<u32>,
    pub warnings: Option<u32>,
    pub failure_reason: Option<String>,
}

slim!(Backup, BackupSpec, VeleroRunStatus);
resource!(
    Backup,
    "velero.io",
    "v1",
    "Backup",
    "backups",
    NamespaceResourceScope
);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreSpec {
    pub backup_name: Option<String>,
    pub schedule_name: Option<String>,
}

slim!(Restore, RestoreSpec, VeleroRunStatus);
resource!(
    Restore,
    "velero.io",
    "v1",
    "Restore",
    "restores",
    NamespaceResourceScope
);

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ScheduleSpec {
    #[serde(default)]
    pub schedule: String,
    #[serde(default)]
    pub paused: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleStatus {
    pub phase: Option<String>,
    pub last_backup: Option<String>,
}

slim!(Schedule, ScheduleSpec, ScheduleStatus);
resource!(
    Schedule,
    "velero.io",
    "v1",
    "Schedule",
    "schedules",
    NamespaceResourceScope
);

#[derive(Debug, Clone, Default, Deserialize)]
pub struct BslSpec {
    #[serde(default)]
    pub default: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BslStatus {
    pub phase: Option<String>,
    pub last_validation_time: Option<String>,
    pub message: Option<String>,
}

slim!(BackupStorageLocation, BslSpec, BslStatus);
resource!(
    BackupStorageLocation,
    "velero.io",
    "v1",
    "BackupStorageLocation",
    "backupstoragelocations",
    NamespaceResourceScope
);

// ---- Cluster API v1beta1 ----------------------------------------------------------------

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapiClusterStatus {
    pub phase: Option<String>,
    #[serde(default)]
    pub control_plane_ready: bool,
    #[serde(default)]
    pub infrastructure_ready: bool,
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

slim!(CapiCluster, CapiClusterStatus);
resource!(
    CapiCluster,
    "cluster.x-k8s.io",
    "v1beta1",
    "Cluster",
    "clusters",
    NamespaceResourceScope
);

#[derive(Debug, Clone, Default, Deserialize)]
pub struct KcpSpec {
    pub replicas: Option<u32>,
    pub version: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineSetStatus {
    pub replicas: Option<u32>,
    pub ready_replicas: Option<u32>,
    pub updated_replicas: Option<u32>,
    pub available_replicas: Option<u32>,
    pub version: Option<String>,
    pub phase: Option<String>,
    pub observed_generation: Option<i64>,
}

slim!(KubeadmControlPlane, KcpSpec, MachineSetStatus);
resource!(
    KubeadmControlPlane,
    "controlplane.cluster.x-k8s.io",
    "v1beta1",
    "KubeadmControlPlane",
    "kubeadmcontrolplanes",
    NamespaceResourceScope
);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MdSpec {
    pub cluster_name: Option<String>,
    pub replicas: Option<u32>,
    #[serde(default)]
    pub template: MdTemplate,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct MdTemplate {
    #[serde(default)]
    pub spec: MdTemplateSpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct MdTemplateSpec {
    pub version: Option<String>,
}

slim!(MachineDeployment, MdSpec, MachineSetStatus);
resource!(
    MachineDeployment,
    "cluster.x-k8s.io",
    "v1beta1",
    "MachineDeployment",
    "machinedeployments",
    NamespaceResourceScope
);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineSpec {
    pub cluster_name: Option<String>,
    pub version: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineStatus {
    pub phase: Option<String>,
    pub node_ref: Option<NodeRef>,
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct NodeRef {
    pub name: Option<String>,
}

slim!(Machine, MachineSpec, MachineStatus);
resource!(
    Machine,
    "cluster.x-k8s.io",
    "v1beta1",
    "Machine",
    "machines",
    NamespaceResourceScope
);
