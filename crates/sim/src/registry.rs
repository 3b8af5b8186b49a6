//! The one table of resource kinds the simulated API server serves. A new kind is a
//! row here (plus, at most, a controller); the HTTP handlers are generic over it.

/// Subresources a kind may expose under `/<name>/<sub>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sub {
    Status,
    Scale,
    Log,
    Eviction,
    Exec,
    Attach,
    PortForward,
}

impl Sub {
    pub fn name(self) -> &'static str {
        match self {
            Sub::Status => "status",
            Sub::Scale => "scale",
            Sub::Log => "log",
            Sub::Eviction => "eviction",
            Sub::Exec => "exec",
            Sub::Attach => "attach",
            Sub::PortForward => "portforward",
        }
    }
}

/// Printed columns for `kubectl get` (server-side Table output).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Columns {
    /// NAME and AGE only.
    Generic,
    Pod,
    Node,
    Deployment,
    Namespace,
    /// Velero Backup/Restore style: NAME, STATUS (status.phase), AGE.
    Phase,
    /// Cluster API Machine: NAME, CLUSTER, NODENAME, PHASE, VERSION, AGE.
    Machine,
    /// Replica-counted objects (ReplicaSet, MachineDeployment, KCP): NAME, DESIRED, READY, AGE.
    Replicas,
    // The columns kubectl prints for these kinds (pkg/printers/internalversion).
    Event,
    ConfigMap,
    Secret,
    Service,
    DisruptionBudget,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
    Lease,
    ServiceAccount,
}

/// What a cluster-scoped or namespaced resource is and how it is served.
#[derive(Debug)]
pub struct Kind {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub subresources: &'static [Sub],
    /// Create-only kinds (reviews) are answered, not stored.
    pub virtual_create: bool,
    pub columns: Columns,
    /// Listed in the `all` category (`kubectl get all`).
    pub in_all: bool,
}

/// Index of a kind in [`KINDS`]; cheap to copy and hash.
pub type KindId = usize;

impl Kind {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn has(&self, sub: Sub) -> bool {
        self.subresources.contains(&sub)
    }

    pub fn verbs(&self) -> &'static [&'static str] {
        if self.virtual_create {
            &["create"]
        } else {
            &[
                "create",
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "update",
                "watch",
            ]
        }
    }
}

const fn kind(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    singular: &'static str,
    namespaced: bool,
) -> Kind {
    Kind {
        group,
        version,
        kind,
        plural,
        singular,
        namespaced,
        short_names: &[],
        subresources: &[Sub::Status],
        virtual_create: false,
        columns: Columns::Generic,
        in_all: false,
    }
}

const CORE: &str = "";
const APPS: &str = "apps";
const VELERO: &str = "velero.io";
const CAPI: &str = "cluster.x-k8s.io";
const CAPI_CP: &str = "controlplane.cluster.x-k8s.io";
const CAPI_INFRA: &str = "infrastructure.cluster.x-k8s.io";

pub static KINDS: &[Kind] = &[
    Kind {
        short_names: &["ns"],
        columns: Columns::Namespace,
        ..kind(CORE, "v1", "Namespace", "namespaces", "namespace", false)
    },
    Kind {
        short_names: &["no"],
        columns: Columns::Node,
        ..kind(CORE, "v1", "Node", "nodes", "node", false)
    },
    Kind {
        short_names: &["po"],
        subresources: &[
            Sub::Status,
            Sub::Log,
            Sub::Eviction,
            Sub::Exec,
            Sub::Attach,
            Sub::PortForward,
        ],
        columns: Columns::Pod,
        in_all: true,
        ..kind(CORE, "v1", "Pod", "pods", "pod", true)
    },
    Kind {
        short_names: &["svc"],
        in_all: true,
        columns: Columns::Service,
        ..kind(CORE, "v1", "Service", "services", "service", true)
    },
    Kind {
        short_names: &["ep"],
        subresources: &[],
        ..kind(CORE, "v1", "Endpoints", "endpoints", "endpoints", true)
    },
    Kind {
        short_names: &["cm"],
        subresources: &[],
        columns: Columns::ConfigMap,
        ..kind(CORE, "v1", "ConfigMap", "configmaps", "configmap", true)
    },
    Kind {
        subresources: &[],
        columns: Columns::Secret,
        ..kind(CORE, "v1", "Secret", "secrets", "secret", true)
    },
    Kind {
        short_names: &["ev"],
        subresources: &[],
        columns: Columns::Event,
        ..kind(CORE, "v1", "Event", "events", "event", true)
    },
    Kind {
        short_names: &["pvc"],
        columns: Columns::Phase,
        ..kind(
            CORE,
            "v1",
            "PersistentVolumeClaim",
            "persistentvolumeclaims",
            "persistentvolumeclaim",
            true,
        )
    },
    Kind {
        short_names: &["sa"],
        subresources: &[],
        columns: Columns::ServiceAccount,
        ..kind(
            CORE,
            "v1",
            "ServiceAccount",
            "serviceaccounts",
            "serviceaccount",
            true,
        )
    },
    Kind {
        short_names: &["deploy"],
        subresources: &[Sub::Status, Sub::Scale],
        columns: Columns::Deployment,
        in_all: true,
        ..kind(APPS, "v1", "Deployment", "deployments", "deployment", true)
    },
    Kind {
        short_names: &["rs"],
        subresources: &[Sub::Status, Sub::Scale],
        columns: Columns::ReplicaSet,
        in_all: true,
        ..kind(APPS, "v1", "ReplicaSet", "replicasets", "replicaset", true)
    },
    Kind {
        short_names: &["sts"],
        subresources: &[Sub::Status, Sub::Scale],
        columns: Columns::StatefulSet,
        in_all: true,
        ..kind(
            APPS,
            "v1",
            "StatefulSet",
            "statefulsets",
            "statefulset",
            true,
        )
    },
    Kind {
        short_names: &["ds"],
        in_all: true,
        columns: Columns::DaemonSet,
        ..kind(APPS, "v1", "DaemonSet", "daemonsets", "daemonset", true)
    },
    Kind {
        short_names: &["pdb"],
        columns: Columns::DisruptionBudget,
        ..kind(
            "policy",
            "v1",
            "PodDisruptionBudget",
            "poddisruptionbudgets",
            "poddisruptionbudget",
            true,
        )
    },
    Kind {
        subresources: &[],
        columns: Columns::Lease,
        ..kind(
            "coordination.k8s.io",
            "v1",
            "Lease",
            "leases",
            "lease",
            true,
        )
    },
    Kind {
        in_all: true,
        columns: Columns::Job,
        ..kind("batch", "v1", "Job", "jobs", "job", true)
    },
    Kind {
        short_names: &["cj"],
        in_all: true,
        columns: Columns::CronJob,
        ..kind("batch", "v1", "CronJob", "cronjobs", "cronjob", true)
    },
    Kind {
        virtual_create: true,
        subresources: &[],
        ..kind(
            "authorization.k8s.io",
            "v1",
            "SelfSubjectAccessReview",
            "selfsubjectaccessreviews",
            "",
            false,
        )
    },
    Kind {
        virtual_create: true,
        subresources: &[],
        ..kind(
            "authorization.k8s.io",
            "v1",
            "SelfSubjectRulesReview",
            "selfsubjectrulesreviews",
            "",
            false,
        )
    },
    Kind {
        virtual_create: true,
        subresources: &[],
        ..kind(
            "authentication.k8s.io",
            "v1",
            "SelfSubjectReview",
            "selfsubjectreviews",
            "",
            false,
        )
    },
    Kind {
        columns: Columns::Phase,
        ..kind(VELERO, "v1", "Backup", "backups", "backup", true)
    },
    Kind {
        columns: Columns::Phase,
        ..kind(VELERO, "v1", "Restore", "restores", "restore", true)
    },
    Kind {
        columns: Columns::Phase,
        ..kind(VELERO, "v1", "Schedule", "schedules", "schedule", true)
    },
    Kind {
        columns: Columns::Phase,
        ..kind(
            VELERO,
            "v1",
            "DownloadRequest",
            "downloadrequests",
            "downloadrequest",
            true,
        )
    },
    Kind {
        short_names: &["bsl"],
        columns: Columns::Phase,
        ..kind(
            VELERO,
            "v1",
            "BackupStorageLocation",
            "backupstoragelocations",
            "backupstoragelocation",
            true,
        )
    },
    Kind {
        short_names: &["cl"],
        columns: Columns::Phase,
        ..kind(CAPI, "v1beta1", "Cluster", "clusters", "cluster", true)
    },
    Kind {
        short_names: &["ma"],
        columns: Columns::Machine,
        ..kind(CAPI, "v1beta1", "Machine", "machines", "machine", true)
    },
    Kind {
        short_names: &["ms"],
        subresources: &[Sub::Status, Sub::Scale],
        columns: Columns::Replicas,
        ..kind(
            CAPI,
            "v1beta1",
            "MachineSet",
            "machinesets",
            "machineset",
            true,
        )
    },
    Kind {
        short_names: &["md"],
        subresources: &[Sub::Status, Sub::Scale],
        columns: Columns::Replicas,
        ..kind(
            CAPI,
            "v1beta1",
            "MachineDeployment",
            "machinedeployments",
            "machinedeployment",
            true,
        )
    },
    Kind {
        short_names: &["mhc"],
        ..kind(
            CAPI,
            "v1beta1",
            "MachineHealthCheck",
            "machinehealthchecks",
            "machinehealthcheck",
            true,
        )
    },
    Kind {
        short_names: &["kcp"],
        subresources: &[Sub::Status, Sub::Scale],
        columns: Columns::Replicas,
        ..kind(
            CAPI_CP,
            "v1beta1",
            "KubeadmControlPlane",
            "kubeadmcontrolplanes",
            "kubeadmcontrolplane",
            true,
        )
    },
    Kind {
        subresources: &[],
        ..kind(
            CAPI_INFRA,
            "v1beta1",
            "SimMachineTemplate",
            "simmachinetemplates",
            "simmachinetemplate",
            true,
        )
    },
];

/// Looks a kind up by API group, version and plural resource name.
pub fn find(group: &str, version: &str, plural: &str) -> Option<KindId> {
    KINDS
        .iter()
        .position(|k| k.group == group && k.version == version && k.plural == plural)
}

/// Looks a kind up by group and `Kind` (as in an object's apiVersion/kind).
pub fn find_kind(group: &str, kind: &str) -> Option<KindId> {
    KINDS
        .iter()
        .position(|k| k.group == group && k.kind == kind)
}

/// The id of a kind known to exist; panics only on a typo in this crate.
pub fn id(group: &str, plural: &str) -> KindId {
    KINDS
        .iter()
        .position(|k| k.group == group && k.plural == plural)
        .unwrap_or_else(|| panic!("kind {group}/{plural} is not in the registry"))
}

/// API groups (other than core) with their single served version, in registry order.
pub fn groups() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for k in KINDS.iter().filter(|k| !k.group.is_empty()) {
        if !out.iter().any(|(g, _)| *g == k.group) {
            out.push((k.group, k.version));
        }
    }
    out
}

/// Well-known kind ids, resolved once, for controllers.
pub mod ids {
    use super::{KindId, id};
    use std::sync::LazyLock;

    macro_rules! kind_ids {
        ($($name:ident = ($g:expr, $p:expr);)*) => {
            $(pub static $name: LazyLock<KindId> = LazyLock::new(|| id($g, $p));)*
        };
    }

    kind_ids! {
        NAMESPACES = ("", "namespaces");
        NODES = ("", "nodes");
        PODS = ("", "pods");
        SERVICES = ("", "services");
        CONFIGMAPS = ("", "configmaps");
        SECRETS = ("", "secrets");
        EVENTS = ("", "events");
        PVCS = ("", "persistentvolumeclaims");
        SERVICEACCOUNTS = ("", "serviceaccounts");
        DEPLOYMENTS = ("apps", "deployments");
        REPLICASETS = ("apps", "replicasets");
        STATEFULSETS = ("apps", "statefulsets");
        DAEMONSETS = ("apps", "daemonsets");
        PDBS = ("policy", "poddisruptionbudgets");
        JOBS = ("batch", "jobs");
        CRONJOBS = ("batch", "cronjobs");
        SSR = ("authentication.k8s.io", "selfsubjectreviews");
        SSRR = ("authorization.k8s.io", "selfsubjectrulesreviews");
        BACKUPS = ("velero.io", "backups");
        RESTORES = ("velero.io", "restores");
        SCHEDULES = ("velero.io", "schedules");
        BSLS = ("velero.io", "backupstoragelocations");
        DOWNLOAD_REQUESTS = ("velero.io", "downloadrequests");
        CLUSTERS = ("cluster.x-k8s.io", "clusters");
        MACHINES = ("cluster.x-k8s.io", "machines");
        MACHINESETS = ("cluster.x-k8s.io", "machinesets");
        MACHINEDEPLOYMENTS = ("cluster.x-k8s.io", "machinedeployments");
        MHCS = ("cluster.x-k8s.io", "machinehealthchecks");
        KCPS = ("controlplane.cluster.x-k8s.io", "kubeadmcontrolplanes");
        MACHINE_TEMPLATES = ("infrastructure.cluster.x-k8s.io", "simmachinetemplates");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_are_unique_per_group_and_short_names_unique() {
        let mut seen = std::collections::HashSet::new();
        let mut shorts = std::collections::HashSet::new();
        for k in KINDS {
            assert!(seen.insert((k.group, k.plural)), "{} twice", k.plural);
            for s in k.short_names {
                assert!(shorts.insert(*s), "short name {s} twice");
            }
        }
    }

    #[test]
    fn every_well_known_id_resolves() {
        assert_eq!(KINDS[*ids::PODS].kind, "Pod");
        assert_eq!(KINDS[*ids::KCPS].group, "controlplane.cluster.x-k8s.io");
        assert_eq!(find("apps", "v1", "deployments"), Some(*ids::DEPLOYMENTS));
    }
}
