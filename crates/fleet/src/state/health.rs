//! How fresh each source of a cluster is: the console marks stale data instead of
//! blanking it, and says since when and why.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// A source of a cluster's data: one watcher or poller, or (`Kubernetes`, `Prometheus`,
/// `Alertmanager`) the client the others need. Its name is the one shown on screen and
/// written in the reports' JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    Alertmanager,
    Backups,
    BackupStorageLocations,
    CapiClusters,
    /// cert-manager's certificate expiry, from Prometheus.
    Certificates,
    ConfigMaps,
    ControlPlanes,
    CronJobs,
    DaemonSets,
    Deployments,
    Events,
    Jobs,
    /// The Kubernetes client itself: a failure here is the failure of every watcher.
    Kubernetes,
    MachineDeployments,
    Machines,
    Metrics,
    Nodes,
    Pods,
    /// The Prometheus client itself, which `Metrics` and `Slo` need.
    Prometheus,
    Pvcs,
    Restores,
    Schedules,
    Slo,
    StatefulSets,
}

impl Source {
    pub const fn name(self) -> &'static str {
        match self {
            Source::Alertmanager => "alertmanager",
            Source::Backups => "backups",
            Source::BackupStorageLocations => "backupstoragelocations",
            Source::CapiClusters => "capi-clusters",
            Source::Certificates => "certificates",
            Source::ConfigMaps => "configmaps",
            Source::ControlPlanes => "control-planes",
            Source::CronJobs => "cronjobs",
            Source::DaemonSets => "daemonsets",
            Source::Deployments => "deployments",
            Source::Events => "events",
            Source::Jobs => "jobs",
            Source::Kubernetes => "kubernetes",
            Source::MachineDeployments => "machine-deployments",
            Source::Machines => "machines",
            Source::Metrics => "metrics",
            Source::Nodes => "nodes",
            Source::Pods => "pods",
            Source::Prometheus => "prometheus",
            Source::Pvcs => "pvcs",
            Source::Restores => "restores",
            Source::Schedules => "schedules",
            Source::Slo => "slo",
            Source::StatefulSets => "statefulsets",
        }
    }

    /// The client a source cannot start without: the Kubernetes watchers need a kube
    /// client, the metrics and SLO pollers a Prometheus client.
    pub const fn client(self) -> Source {
        match self {
            Source::Slo | Source::Metrics | Source::Certificates | Source::Prometheus => {
                Source::Prometheus
            }
            Source::Alertmanager => Source::Alertmanager,
            _ => Source::Kubernetes,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// By name, so that maps of sources list them alphabetically, as they always have.
impl Ord for Source {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.name().cmp(other.name())
    }
}

impl PartialOrd for Source {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// In the reports' schemas: a source by its name, as [`Source::name`] spells it.
impl schemars::JsonSchema for Source {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Source".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A source of the console, e.g. `nodes`, `backups`, `alertmanager`, `slo`."
        })
    }
}

impl Serialize for Source {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SourceHealth {
    /// Not started yet (a heavy source of an environment nobody has opened).
    Idle,
    /// The first list is under way.
    Syncing,
    /// Listed and watching.
    Connected { since: DateTime<Utc> },
    /// The data shown is from before `since`; the last attempt failed with `error`.
    Stale { since: DateTime<Utc>, error: String },
    /// The credentials were refused (401) or lack permission (403).
    Unauthorized { since: DateTime<Utc>, error: String },
}

impl SourceHealth {
    /// Orders health from best to worst, for summarising many sources as one.
    pub fn severity(&self) -> u8 {
        match self {
            SourceHealth::Connected { .. } | SourceHealth::Idle => 0,
            SourceHealth::Syncing => 1,
            SourceHealth::Stale { .. } => 2,
            SourceHealth::Unauthorized { .. } => 3,
        }
    }

    pub fn is_ok(&self) -> bool {
        matches!(self, SourceHealth::Connected { .. })
    }

    pub fn label(&self) -> &'static str {
        match self {
            SourceHealth::Idle => "idle",
            SourceHealth::Syncing => "syncing",
            SourceHealth::Connected { .. } => "connected",
            SourceHealth::Stale { .. } => "stale",
            SourceHealth::Unauthorized { .. } => "unauthorized",
        }
    }

    /// Moves to a failure state, keeping the original `since` if already failing, so
    /// "stale since" means since the data stopped being fresh.
    pub fn failed(&self, now: DateTime<Utc>, error: String, unauthorized: bool) -> SourceHealth {
        let since = match self {
            SourceHealth::Stale { since, .. } | SourceHealth::Unauthorized { since, .. } => *since,
            _ => now,
        };
        if unauthorized {
            SourceHealth::Unauthorized { since, error }
        } else {
            SourceHealth::Stale { since, error }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_again_keeps_the_first_failure_time() {
        let t0 = Utc::now();
        let t1 = t0 + chrono::Duration::seconds(30);
        let first = SourceHealth::Connected { since: t0 }.failed(t0, "refused".into(), false);
        let again = first.failed(t1, "timeout".into(), false);
        assert_eq!(
            again,
            SourceHealth::Stale {
                since: t0,
                error: "timeout".into()
            }
        );
        assert!(again.severity() > SourceHealth::Syncing.severity());
    }
}
