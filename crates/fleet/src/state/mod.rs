//! The one live model of the fleet: environments, their two clusters, and per cluster
//! compact tables fed by watchers and pollers. Sources write; the console and the
//! reports read snapshots. Nothing here does I/O.

pub mod health;
pub mod rows;
pub mod table;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use chrono::{DateTime, Utc};

use self::health::{Source, SourceHealth};
use self::rows::*;
use self::table::Table;
use crate::config::{self, ClusterRole};

/// Shares repeated strings (namespaces, node names, statuses, label keys and values)
/// between rows, so 30 000 pods cost a few hundred bytes each.
#[derive(Debug, Default)]
pub struct Interner(HashSet<Str>);

impl Interner {
    pub fn get(&mut self, s: &str) -> Str {
        if let Some(v) = self.0.get(s) {
            return v.clone();
        }
        let v: Str = Arc::from(s);
        self.0.insert(v.clone());
        v
    }
}

/// The Velero, Harbor and OpenSearch backup picture of a cluster.
#[derive(Debug, Default)]
pub struct BackupTables {
    pub backups: Table<BackupRow>,
    pub schedules: Table<ScheduleRow>,
    pub restores: Table<RestoreRow>,
    pub locations: Table<StorageLocationRow>,
    pub cronjobs: Table<CronJobRow>,
    pub jobs: Table<JobRow>,
}

/// The Cluster API objects a service cluster holds (for itself and its wc).
#[derive(Debug, Default)]
pub struct CapiTables {
    pub clusters: Table<CapiClusterRow>,
    pub control_planes: Table<MachineSetRow>,
    pub machine_deployments: Table<MachineSetRow>,
    pub machines: Table<MachineRow>,
}

/// Everything known about one cluster.
#[derive(Debug, Default)]
pub struct ClusterState {
    /// Per source name ("pods", "nodes", "alertmanager", ...).
    pub health: BTreeMap<Source, SourceHealth>,
    /// The API server's reported version (`/version`).
    pub version: Option<String>,
    /// `kube-system` ConfigMaps; only the Welkin apps ones carry data.
    pub welkin_config: Table<std::collections::BTreeMap<String, String>>,
    pub nodes: Table<NodeRow>,
    pub pods: Table<PodRow>,
    // One table per watched kind: a watcher's relist replaces its whole table, so two
    // watchers must never share one.
    pub deployments: Table<WorkloadRow>,
    pub statefulsets: Table<WorkloadRow>,
    pub daemonsets: Table<WorkloadRow>,
    pub events: Table<EventRow>,
    pub pvcs: Table<PvcRow>,
    pub backup: BackupTables,
    pub capi: CapiTables,
    pub node_usage: HashMap<String, Usage>,
    pub pod_usage: HashMap<(Str, Box<str>), Usage>,
    pub alerts: Vec<ck8s_model::alert::Alert>,
    /// Alertmanager has answered at least once: `alerts` is what it said, not a default.
    pub alerts_known: bool,
    pub silences: Vec<ck8s_model::alert::Silence>,
    pub slo: Vec<crate::slo::SloReport>,
    /// cert-manager's certificates; `None` until Prometheus has answered.
    pub certificates: Option<Vec<rows::CertificateRow>>,
    pub interner: Interner,
}

/// Where one source of one cluster stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Pending,
    Ok,
    /// Failed: the source to blame (itself, or the client it needs) and the error.
    Failed(Source, String),
}

/// Whether a cluster's API server answers. One judgement for the status report and the
/// fleet overview, so the two never disagree.
#[derive(Debug, Clone, PartialEq)]
pub enum Api {
    Up,
    Down(String),
    /// No answer yet either way.
    Unknown,
}

impl ClusterState {
    /// Where `source` stands: it answered, it failed (or the client it needs did), or
    /// neither yet.
    pub fn answer(&self, source: Source) -> Answer {
        let failed = |h: &SourceHealth| match h {
            SourceHealth::Stale { error, .. } | SourceHealth::Unauthorized { error, .. } => {
                Some(error.clone())
            }
            _ => None,
        };
        match self.health.get(&source) {
            Some(SourceHealth::Connected { .. }) => Answer::Ok,
            Some(h) if failed(h).is_some() => Answer::Failed(source, failed(h).unwrap_or_default()),
            _ => match self.health.get(&source.client()).and_then(failed) {
                Some(error) => Answer::Failed(source.client(), error),
                None => Answer::Pending,
            },
        }
    }

    /// Whether the API server answers, judged by the node watch: every cluster runs it,
    /// and it fails when the server or the Kubernetes client does.
    pub fn api(&self) -> Api {
        match self.answer(Source::Nodes) {
            Answer::Ok => Api::Up,
            Answer::Failed(_, error) => Api::Down(error),
            Answer::Pending => Api::Unknown,
        }
    }

    /// The worst health of its sources, for one-glance summaries.
    pub fn overall_health(&self) -> SourceHealth {
        self.health
            .values()
            .max_by_key(|h| h.severity())
            .cloned()
            .unwrap_or(SourceHealth::Idle)
    }

    /// The installed Welkin apps version (`kube-system/welkin-apps-meta`).
    pub fn apps_version(&self) -> Option<&str> {
        self.welkin_config
            .get("kube-system", "welkin-apps-meta")
            .and_then(|d| d.get("version"))
            .map(String::as_str)
    }

    /// The apps upgrade lock (`kube-system/welkin-apps-upgrade`), while one is held.
    pub fn upgrade_lock(&self) -> Option<UpgradeLock> {
        let d = self
            .welkin_config
            .get("kube-system", "welkin-apps-upgrade")?;
        Some(UpgradeLock {
            target_version: d.get("version").cloned().unwrap_or_default(),
            since: d.get("timestamp").cloned(),
            last_apply_step: d.get("last_apply_step").cloned(),
        })
    }

    /// Deployments, StatefulSets and DaemonSets together.
    pub fn workloads(&self) -> impl Iterator<Item = &WorkloadRow> {
        self.deployments
            .values()
            .chain(self.statefulsets.values())
            .chain(self.daemonsets.values())
    }

    /// (ready, total) nodes.
    pub fn nodes_ready(&self) -> (usize, usize) {
        let ready = self
            .nodes
            .values()
            .filter(|n| n.ready == Some(true))
            .count();
        (ready, self.nodes.len())
    }
}

/// A cheap "something changed" signal: a counter the UI compares against the one it
/// last drew, plus a wake-up for tasks that wait.
#[derive(Debug, Default)]
pub struct Changes {
    generation: AtomicU64,
    notify: tokio::sync::Notify,
}

impl Changes {
    pub fn bump(&self) {
        self.generation.fetch_add(1, Ordering::Relaxed);
        self.notify.notify_waiters();
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    pub async fn wait(&self) {
        self.notify.notified().await;
    }

    /// For a waiter that looks at the whole fleet after each change: returns after the next
    /// change (or 200 ms without one), but no sooner than 25 ms after it was called. A fleet
    /// starting up changes thousands of times a second, and looking at every cluster after
    /// each change cost more than the changes.
    pub async fn next_look(&self) {
        let called = tokio::time::Instant::now();
        let _ = tokio::time::timeout(std::time::Duration::from_millis(200), self.wait()).await;
        tokio::time::sleep_until(called + std::time::Duration::from_millis(25)).await;
    }
}

/// One cluster's state behind a lock, with the fleet's change signal.
#[derive(Debug)]
pub struct ClusterHandle {
    pub env: String,
    pub role: ClusterRole,
    pub config: config::ClusterConfig,
    state: RwLock<ClusterState>,
    changes: Arc<Changes>,
}

impl ClusterHandle {
    pub fn new(
        env: &str,
        role: ClusterRole,
        config: config::ClusterConfig,
        changes: Arc<Changes>,
    ) -> ClusterHandle {
        ClusterHandle {
            env: env.to_string(),
            role,
            config,
            state: RwLock::new(ClusterState::default()),
            changes,
        }
    }

    /// `<env>-<sc|wc>`.
    pub fn name(&self) -> String {
        format!("{}-{}", self.env, self.role)
    }

    pub fn read(&self) -> RwLockReadGuard<'_, ClusterState> {
        // Writers never panic halfway through an update, so a poisoned lock still
        // holds consistent data.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` under the write lock and signals a change.
    pub fn update<T>(&self, f: impl FnOnce(&mut ClusterState) -> T) -> T {
        let out = {
            let mut guard: RwLockWriteGuard<'_, ClusterState> =
                self.state.write().unwrap_or_else(|e| e.into_inner());
            f(&mut guard)
        };
        self.changes.bump();
        out
    }

    pub fn set_health(&self, source: Source, health: SourceHealth) {
        self.update(|s| {
            s.health.insert(source, health);
        });
    }

    pub fn health(&self, source: Source) -> SourceHealth {
        self.read()
            .health
            .get(&source)
            .cloned()
            .unwrap_or(SourceHealth::Idle)
    }

    /// Records a failure of `source` (stale, or unauthorized).
    pub fn source_failed(
        &self,
        source: Source,
        now: DateTime<Utc>,
        error: String,
        unauthorized: bool,
    ) {
        self.update(|s| {
            let next = s
                .health
                .get(&source)
                .cloned()
                .unwrap_or(SourceHealth::Syncing)
                .failed(now, error, unauthorized);
            s.health.insert(source, next);
        });
    }
}

/// An environment: its two clusters.
#[derive(Debug)]
pub struct EnvHandle {
    pub name: String,
    pub accent: Option<String>,
    /// `read_only = true` in the fleet config: nothing may change in it from here.
    pub read_only: bool,
    /// The fleet config's tags, to filter the overview by.
    pub tags: Vec<String>,
    pub sc: Arc<ClusterHandle>,
    pub wc: Arc<ClusterHandle>,
}

impl EnvHandle {
    pub fn cluster(&self, role: ClusterRole) -> &Arc<ClusterHandle> {
        match role {
            ClusterRole::Sc => &self.sc,
            ClusterRole::Wc => &self.wc,
        }
    }

    pub fn clusters(&self) -> [&Arc<ClusterHandle>; 2] {
        [&self.sc, &self.wc]
    }
}

/// The whole fleet's live state.
#[derive(Debug)]
pub struct FleetState {
    pub envs: Vec<Arc<EnvHandle>>,
    pub policy: config::Policy,
    pub changes: Arc<Changes>,
}

impl FleetState {
    pub fn new(fleet: &config::Fleet) -> FleetState {
        let changes = Arc::new(Changes::default());
        let envs = fleet
            .environments
            .iter()
            .map(|e| {
                let handle = |role: ClusterRole| {
                    Arc::new(ClusterHandle::new(
                        &e.name,
                        role,
                        e.cluster(role).clone(),
                        changes.clone(),
                    ))
                };
                Arc::new(EnvHandle {
                    name: e.name.clone(),
                    accent: e.accent.clone(),
                    read_only: e.read_only,
                    tags: e.tags.clone(),
                    sc: handle(ClusterRole::Sc),
                    wc: handle(ClusterRole::Wc),
                })
            })
            .collect();
        FleetState {
            envs,
            policy: fleet.policy.clone(),
            changes,
        }
    }

    pub fn env(&self, name: &str) -> Option<&Arc<EnvHandle>> {
        self.envs.iter().find(|e| e.name == name)
    }

    pub fn clusters(&self) -> impl Iterator<Item = &Arc<ClusterHandle>> {
        self.envs.iter().flat_map(|e| e.clusters())
    }
}

/// A fleet state of one environment with no data, for tests that fill it by hand.
#[cfg(any(test, feature = "testkit"))]
pub fn test_fleet(env: &str) -> FleetState {
    FleetState::new(&test_config(env))
}

/// The fleet config behind [`test_fleet`]: one environment, default policy.
#[cfg(any(test, feature = "testkit"))]
pub fn test_config(env: &str) -> config::Fleet {
    let text = format!(
        "version = 1\n[[environment]]\nname = \"{env}\"\n\
         [environment.sc]\nkubeconfig = \"/k\"\ncontext = \"sc\"\nprometheus = \"http://p\"\nalertmanager = \"http://a\"\n\
         [environment.wc]\nkubeconfig = \"/k\"\ncontext = \"wc\"\nprometheus = \"http://p\"\nalertmanager = \"http://a\"\n"
    );
    config::parse(&text, std::path::Path::new("/f.toml")).expect("the test fleet parses")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interner_shares_one_allocation() {
        let mut i = Interner::default();
        let a = i.get("production");
        let b = i.get("production");
        assert!(Arc::ptr_eq(&a, &b));
    }

    #[test]
    fn overall_health_is_the_worst_source() {
        let mut s = ClusterState::default();
        s.health
            .insert(Source::Nodes, SourceHealth::Connected { since: Utc::now() });
        s.health.insert(Source::Pods, SourceHealth::Syncing);
        assert_eq!(s.overall_health(), SourceHealth::Syncing);
    }

    #[test]
    fn the_api_is_judged_by_the_node_watch_and_its_client() {
        let now = Utc::now();
        let stale = |error: &str| SourceHealth::Stale {
            since: now,
            error: error.into(),
        };
        let refused = SourceHealth::Unauthorized {
            since: now,
            error: "401".into(),
        };
        let mut s = ClusterState::default();
        assert_eq!(s.api(), Api::Unknown, "nothing answered yet");
        s.health.insert(Source::Nodes, SourceHealth::Syncing);
        assert_eq!(s.api(), Api::Unknown);
        // The client failing fails the watch that needs it, refused or stale alike (the
        // fleet overview used to miss the refused case and show the API as unknown).
        s.health.insert(Source::Kubernetes, refused);
        assert_eq!(s.api(), Api::Down("401".into()));
        s.health
            .insert(Source::Kubernetes, stale("connection refused"));
        assert_eq!(s.api(), Api::Down("connection refused".into()));
        s.health
            .insert(Source::Nodes, SourceHealth::Connected { since: now });
        assert_eq!(s.api(), Api::Up, "the watch answers: the API is up");
        s.health.insert(Source::Nodes, stale("410 Gone"));
        assert_eq!(
            s.answer(Source::Nodes),
            Answer::Failed(Source::Nodes, "410 Gone".into())
        );
        // A poller is blamed on the Prometheus client it needs, not on Kubernetes.
        s.health.insert(Source::Prometheus, stale("no route"));
        assert_eq!(
            s.answer(Source::Slo),
            Answer::Failed(Source::Prometheus, "no route".into())
        );
    }

    #[test]
    fn sources_list_by_name() {
        let mut names: Vec<Source> = vec![Source::Slo, Source::CapiClusters, Source::Alertmanager];
        names.sort();
        assert_eq!(
            names,
            [Source::Alertmanager, Source::CapiClusters, Source::Slo]
        );
        assert_eq!(
            serde_json::to_string(&Source::MachineDeployments).unwrap(),
            "\"machine-deployments\""
        );
    }
}
