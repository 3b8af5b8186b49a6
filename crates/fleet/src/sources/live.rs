//! The live fleet: every cluster's sources running against its state. Light sources
//! (nodes, backups, Cluster API, versions, alerts, SLO) run for every cluster; heavy
//! ones (all pods, workloads, warning events, PVCs and pod metrics) only while an
//! environment is open, so the overview of hundreds of clusters stays small.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::Utc;
use tokio::task::JoinHandle;

use super::alertmanager::{AlertFilter, AlertmanagerClient};
use super::kube::ClusterSources;
use super::prometheus::{self, PrometheusClient};
use super::slo_counts;
use crate::config::{self, ClusterRole};
use crate::limits::{HttpBudget, http_budget};
use crate::state::health::{Source, SourceHealth};
use crate::state::rows::Usage;
use crate::state::{ClusterHandle, FleetState};

/// Every source the fleet overview reads. (A wc has no Cluster API or backup CronJob
/// sources; absent ones are not waited for.)
pub const OVERVIEW: [Source; 15] = [
    Source::Nodes,
    Source::Backups,
    Source::Schedules,
    Source::Restores,
    Source::BackupStorageLocations,
    Source::ConfigMaps,
    Source::CronJobs,
    Source::Jobs,
    Source::CapiClusters,
    Source::ControlPlanes,
    Source::MachineDeployments,
    Source::Machines,
    Source::Alertmanager,
    Source::Certificates,
    Source::Slo,
];

/// How often each poller asks. Alerts change fastest; certificates expire over days.
#[derive(Debug, Clone)]
pub struct Intervals {
    pub alerts: Duration,
    /// Node and pod usage, of open environments only.
    pub metrics: Duration,
    pub slo: Duration,
    /// The slowly changing kinds that are listed rather than watched (schedules, storage
    /// locations, CronJobs, the Welkin ConfigMaps) where a server has no HTTP/2.
    pub lists: Duration,
    pub certificates: Duration,
}

impl Default for Intervals {
    fn default() -> Self {
        Intervals {
            alerts: Duration::from_secs(10),
            metrics: Duration::from_secs(30),
            slo: Duration::from_secs(300),
            lists: super::kube::POLL_EVERY,
            certificates: Duration::from_secs(300),
        }
    }
}

/// Alertmanager polls a fleet may make per second: beyond 200 clusters the alerts interval
/// grows with the fleet (30 s at 1 000 clusters), so a large fleet costs the console a
/// steady trickle of work instead of a core.
const ALERT_POLLS_PER_SECOND: u64 = 20;
const ALERTS_AT_MOST: Duration = Duration::from_secs(30);

impl Intervals {
    /// The default intervals for `fleet`.
    pub fn for_fleet(fleet: &config::Fleet) -> Intervals {
        Intervals::for_clusters(fleet.environments.len() * 2)
    }

    /// The default intervals for a fleet of `clusters` clusters.
    fn for_clusters(clusters: usize) -> Intervals {
        let defaults = Intervals::default();
        let spread = Duration::from_secs(clusters as u64 / ALERT_POLLS_PER_SECOND);
        Intervals {
            alerts: defaults.alerts.max(spread.min(ALERTS_AT_MOST)),
            ..defaults
        }
    }
}

const HTTP_TIMEOUT: Duration = Duration::from_secs(15);

/// SLO reports are counted by Prometheus (`slo_counts`) where a probe has one series. A
/// probe with several is read as samples: a year of one-minute samples per target at the
/// first poll (later polls read a few days, see `prometheus::SloCache`); computing a few
/// clusters' at a time keeps memory flat however large the fleet (a fleet of 200 clusters
/// at once peaked at 500 MiB).
const SLO_CONCURRENCY: usize = 2;

/// One cluster's running sources.
struct ClusterRuntime {
    handle: Arc<ClusterHandle>,
    kube: tokio::sync::Mutex<Option<ClusterSources>>,
    alertmanager: Option<Arc<AlertmanagerClient>>,
    open: Arc<AtomicBool>,
    /// Wakes the metrics poller early, so an opened environment gets pod usage at once.
    metrics_now: Arc<tokio::sync::Notify>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for ClusterRuntime {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The running sources of a whole fleet. Dropping it stops them.
pub struct LiveFleet {
    pub state: Arc<FleetState>,
    /// The fleet config it was started from: where each cluster's kubeconfig is.
    pub fleet: Arc<config::Fleet>,
    clusters: Vec<ClusterRuntime>,
    /// Set when the open-file limit is below what the fleet needs: what to tell the user.
    pub shortfall: Option<String>,
}

impl LiveFleet {
    /// Starts the light sources of every cluster. Failures to even start (an unreadable
    /// kubeconfig, a bad URL) are recorded as source health, never returned: the rest of
    /// the fleet must still show.
    pub async fn start(fleet: &config::Fleet, intervals: Intervals) -> LiveFleet {
        let state = Arc::new(FleetState::new(fleet));
        let limit = crate::limits::file_limit();
        let budget = http_budget(state.clusters().count(), limit);
        tracing::debug!(?limit, ?budget, "Prometheus and Alertmanager requests");
        let shared = Shared {
            intervals,
            fleet: Arc::new(fleet.clone()),
            slo_permits: Arc::new(tokio::sync::Semaphore::new(SLO_CONCURRENCY)),
            http: super::http_client_keeping(budget == HttpBudget::Plenty).ok(),
            requests: match budget {
                HttpBudget::Plenty => super::Requests::default(),
                HttpBudget::Tight { requests } => super::Requests::limited(requests),
            },
            kubeconfigs: super::kube::Kubeconfigs::default(),
            lists: super::kube::Lists::default(),
        };
        let mut clusters = Vec::new();
        for handle in state.clusters() {
            clusters.push(start_cluster(handle.clone(), &shared).await);
        }
        let shortfall = limit.and_then(|limit| crate::limits::shortfall(clusters.len(), limit));
        if let Some(text) = &shortfall {
            tracing::warn!("{text}");
        }
        LiveFleet {
            state,
            fleet: shared.fleet.clone(),
            clusters,
            shortfall,
        }
    }

    fn runtime(&self, env: &str, role: ClusterRole) -> Option<&ClusterRuntime> {
        self.clusters
            .iter()
            .find(|c| c.handle.env == env && c.handle.role == role)
    }

    /// Starts the heavy sources of an environment's clusters.
    pub async fn open(&self, env: &str) {
        for c in self.clusters.iter().filter(|c| c.handle.env == env) {
            c.open.store(true, Ordering::Relaxed);
            c.metrics_now.notify_one();
            if let Some(k) = c.kube.lock().await.as_mut() {
                k.open();
            }
        }
    }

    /// Stops an environment's heavy sources and frees their rows.
    pub async fn close(&self, env: &str) {
        for c in self.clusters.iter().filter(|c| c.handle.env == env) {
            c.open.store(false, Ordering::Relaxed);
            c.handle.update(|s| {
                s.node_usage.clear();
                s.pod_usage.clear();
            });
            if let Some(k) = c.kube.lock().await.as_mut() {
                k.close();
            }
        }
    }

    /// A Kubernetes client for one cluster, if its kubeconfig could be read.
    pub(crate) async fn kube_client(&self, env: &str, role: ClusterRole) -> Option<kube::Client> {
        let rt = self.runtime(env, role)?;
        rt.kube.lock().await.as_ref().map(|k| k.client().clone())
    }

    pub fn alertmanager(&self, env: &str, role: ClusterRole) -> Option<Arc<AlertmanagerClient>> {
        self.runtime(env, role)?.alertmanager.clone()
    }

    /// Waits until every source of interest has either synced or failed, or `timeout`
    /// passes. Returns whether all of them synced.
    pub async fn wait_settled(&self, sources: &[Source], timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // A source a cluster does not run (no entry) is not waited for: sources
            // register before they start, so absence means not applicable.
            let pending = self.state.clusters().any(|c| {
                let s = c.read();
                sources.iter().any(|src| {
                    matches!(
                        s.health.get(src),
                        Some(SourceHealth::Syncing) | Some(SourceHealth::Idle)
                    )
                })
            });
            if !pending {
                // A cluster whose client could not even be made has no Kubernetes sources.
                return self.state.clusters().all(|c| {
                    let s = c.read();
                    s.health
                        .get(&Source::Kubernetes)
                        .is_none_or(SourceHealth::is_ok)
                        && sources
                            .iter()
                            .all(|src| s.health.get(src).is_none_or(SourceHealth::is_ok))
                });
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            self.state.changes.next_look().await;
        }
    }
}

/// What every cluster's sources share.
struct Shared {
    intervals: Intervals,
    fleet: Arc<config::Fleet>,
    /// See [`SLO_CONCURRENCY`].
    slo_permits: Arc<tokio::sync::Semaphore>,
    /// One HTTP client for every Prometheus and Alertmanager: one TLS set-up and
    /// connection pool instead of one per cluster.
    http: Option<reqwest::Client>,
    /// Every Prometheus and Alertmanager request's turn, sized by the open-file limit.
    requests: super::Requests,
    kubeconfigs: super::kube::Kubeconfigs,
    lists: super::kube::Lists,
}

async fn start_cluster(handle: Arc<ClusterHandle>, shared: &Shared) -> ClusterRuntime {
    let Shared {
        intervals,
        fleet,
        slo_permits,
        http,
        requests,
        kubeconfigs,
        lists,
    } = shared;
    let (fleet, slo_permits) = (fleet.clone(), slo_permits.clone());
    let kube =
        match ClusterSources::start(handle.clone(), kubeconfigs, intervals.lists, lists.clone())
            .await
        {
            Ok(k) => Some(k),
            Err(e) => {
                handle.source_failed(Source::Kubernetes, Utc::now(), e.to_string(), false);
                None
            }
        };
    let open = Arc::new(AtomicBool::new(false));
    let metrics_now = Arc::new(tokio::sync::Notify::new());
    let cfg = &handle.config;
    let am = match &http {
        Some(http) => {
            AlertmanagerClient::with_http(&cfg.alertmanager, None, HTTP_TIMEOUT, http.clone())
        }
        None => AlertmanagerClient::new(&cfg.alertmanager, None, HTTP_TIMEOUT),
    };
    let am_credential = crate::secrets::resolve(cfg.alertmanager_credential.as_deref()).await;
    let alertmanager = match (am, am_credential) {
        (Ok(c), Ok(credential)) => Some(Arc::new(
            c.with_credential(credential)
                .with_requests(requests.clone()),
        )),
        (Err(e), _) => {
            handle.source_failed(Source::Alertmanager, Utc::now(), e.to_string(), false);
            None
        }
        (_, Err(e)) => {
            handle.source_failed(Source::Alertmanager, Utc::now(), e.to_string(), true);
            None
        }
    };
    let prom = match &http {
        Some(http) => {
            PrometheusClient::with_http(&cfg.prometheus, None, HTTP_TIMEOUT, http.clone())
        }
        None => PrometheusClient::new(&cfg.prometheus, None, HTTP_TIMEOUT),
    };
    let prom_credential = crate::secrets::resolve(cfg.prometheus_credential.as_deref()).await;
    let prom = match (prom, prom_credential) {
        (Ok(c), Ok(credential)) => Some(Arc::new(
            c.with_credential(credential)
                .with_requests(requests.clone()),
        )),
        (Err(e), _) => {
            handle.source_failed(Source::Prometheus, Utc::now(), e.to_string(), false);
            None
        }
        (_, Err(e)) => {
            handle.source_failed(Source::Prometheus, Utc::now(), e.to_string(), true);
            None
        }
    };
    let mut tasks = Vec::new();
    if let Some(am) = alertmanager.clone() {
        let lists = lists.clone();
        tasks.push(poll(
            handle.clone(),
            Source::Alertmanager,
            intervals.alerts,
            None,
            move |h| {
                let (am, lists) = (am.clone(), lists.clone());
                async move {
                    let _turn = lists.turn().await;
                    poll_alerts(&am, &h).await
                }
            },
        ));
    }
    if let Some(p) = prom {
        // Node and pod usage show only in an open environment's panes.
        let (p2, lists2, open2) = (p.clone(), lists.clone(), open.clone());
        tasks.push(poll_in_phase(
            handle.clone(),
            Source::Metrics,
            intervals.metrics,
            phase(&handle.name(), Source::Metrics, intervals.metrics),
            Some(metrics_now.clone()),
            Some(open.clone()),
            move |h| {
                let (p, lists, open) = (p2.clone(), lists2.clone(), open2.clone());
                async move {
                    let _turn = lists.turn().await;
                    poll_metrics(&p, &h, &open).await
                }
            },
        ));
        let (p3, lists3) = (p.clone(), lists.clone());
        tasks.push(poll(
            handle.clone(),
            Source::Certificates,
            intervals.certificates,
            None,
            move |h| {
                let (p, lists) = (p3.clone(), lists3.clone());
                async move {
                    let _turn = lists.turn().await;
                    let certificates = p.certificates().await.map_err(|e| e.to_string())?;
                    h.update(|s| s.certificates = Some(certificates));
                    Ok(())
                }
            },
        ));
        let tz = fleet.policy.timezone;
        // What earlier polls read, so that later ones read only the last few days.
        let cache = Arc::new(tokio::sync::Mutex::new(prometheus::SloCache::default()));
        let lists = lists.clone();
        tasks.push(poll(
            handle.clone(),
            Source::Slo,
            intervals.slo,
            None,
            move |h| {
                let (p, fleet, permits) = (p.clone(), fleet.clone(), slo_permits.clone());
                let (cache, lists) = (cache.clone(), lists.clone());
                async move {
                    // Exclusions may be scoped to one target, so each probe gets its own.
                    let probes = fleet.with_exclusions(&h.env, h.role, &h.config.probes);
                    let now = Utc::now();
                    let counted = {
                        let _turn = lists.turn().await;
                        slo_counts::slo_reports_counted(&p, &h.name(), &probes, now, tz).await
                    }
                    .map_err(|e| e.to_string())?;
                    let mut reports = Vec::with_capacity(probes.len());
                    for ((probe, ex), counted) in probes.iter().zip(counted) {
                        if let Some(report) = counted {
                            reports.push(report);
                            continue;
                        }
                        // Several series (probers): minute by minute from the samples, a
                        // few clusters at a time, kept between polls.
                        let _permit = permits.acquire().await.map_err(|e| e.to_string())?;
                        let mut cache = cache.lock().await;
                        let one = std::slice::from_ref(probe);
                        reports.extend(
                            prometheus::slo_reports_cached(
                                &p,
                                &h.name(),
                                one,
                                ex,
                                now,
                                tz,
                                &mut cache,
                            )
                            .await
                            .map_err(|e| e.to_string())?,
                        );
                    }
                    h.update(|s| s.slo = reports);
                    Ok(())
                }
            },
        ));
    }
    ClusterRuntime {
        handle,
        kube: tokio::sync::Mutex::new(kube),
        alertmanager,
        open,
        metrics_now,
        tasks,
    }
}

/// Runs `step` now and then every `every`, recording its health as `source`. A
/// failing source keeps its last data and is marked stale.
fn poll<F, Fut>(
    handle: Arc<ClusterHandle>,
    source: Source,
    every: Duration,
    wake: Option<Arc<tokio::sync::Notify>>,
    step: F,
) -> JoinHandle<()>
where
    F: Fn(Arc<ClusterHandle>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let phase = phase(&handle.name(), source, every);
    poll_in_phase(handle, source, every, phase, wake, None, step)
}

/// Where in its interval a cluster's poller of `source` runs after the first poll, the same
/// every time for the same cluster: spread over the interval, so that a fleet's pollers,
/// all started together, do not all ask (and hold connections) at the same instant.
fn phase(cluster: &str, source: Source, every: Duration) -> Duration {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    (cluster, source.name()).hash(&mut hasher);
    every.mul_f64((hasher.finish() % 1000) as f64 / 1000.0)
}

/// As [`poll`], with the second poll `phase` later than the interval says; with `active`,
/// only while it is true (the source is idle meanwhile, and `wake` starts it again).
fn poll_in_phase<F, Fut>(
    handle: Arc<ClusterHandle>,
    source: Source,
    every: Duration,
    phase: Duration,
    wake: Option<Arc<tokio::sync::Notify>>,
    active: Option<Arc<AtomicBool>>,
    step: F,
) -> JoinHandle<()>
where
    F: Fn(Arc<ClusterHandle>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    handle.set_health(source, SourceHealth::Syncing);
    tokio::spawn(async move {
        let mut phase = Some(phase);
        loop {
            if active.as_ref().is_some_and(|a| !a.load(Ordering::Relaxed)) {
                handle.set_health(source, SourceHealth::Idle);
                match &wake {
                    Some(w) => w.notified().await,
                    None => tokio::time::sleep(every).await,
                }
                continue;
            }
            match step(handle.clone()).await {
                Ok(()) => {
                    if !handle.health(source).is_ok() {
                        handle.set_health(source, SourceHealth::Connected { since: Utc::now() });
                    }
                }
                Err(e) => {
                    tracing::warn!(cluster = %handle.name(), %source, error = %e, "poll failed");
                    handle.source_failed(source, Utc::now(), e, false);
                }
            }
            let pause = every + phase.take().unwrap_or_default();
            match &wake {
                Some(w) => {
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = w.notified() => {}
                    }
                }
                None => tokio::time::sleep(pause).await,
            }
        }
    })
}

async fn poll_alerts(am: &AlertmanagerClient, h: &ClusterHandle) -> Result<(), String> {
    let filter = AlertFilter::default();
    let (alerts, silences) =
        futures::try_join!(am.alerts(&filter), am.silences()).map_err(|e| e.to_string())?;
    h.update(|s| {
        s.alerts = alerts;
        s.silences = silences;
        s.alerts_known = true;
    });
    Ok(())
}

/// Node and pod usage into the cluster's state, unless the environment was closed meanwhile
/// (which cleared them).
async fn poll_metrics(
    p: &PrometheusClient,
    h: &ClusterHandle,
    open: &AtomicBool,
) -> Result<(), String> {
    let nodes = p.node_usage().await.map_err(|e| e.to_string())?;
    let pods = p.pod_usage().await.map_err(|e| e.to_string())?;
    let usage = |cpu: Option<f64>, mem: Option<f64>| Usage {
        cpu: cpu.unwrap_or(0.0),
        memory_bytes: mem.unwrap_or(0.0),
    };
    h.update(|s| {
        if !open.load(Ordering::Relaxed) {
            return;
        }
        s.node_usage = nodes
            .into_iter()
            .map(|n| (n.node, usage(n.cpu_cores, n.memory_bytes)))
            .collect();
        let mut map = std::collections::HashMap::with_capacity(pods.len());
        for p in pods {
            let ns = s.interner.get(&p.namespace);
            map.insert(
                (ns, p.pod.into_boxed_str()),
                usage(p.cpu_cores, p.memory_bytes),
            );
        }
        s.pod_usage = map;
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A poller whose steps answer from `answers` in turn, and how many steps ran.
    fn poller(
        every: Duration,
        phase: Duration,
        wake: Option<Arc<tokio::sync::Notify>>,
        active: Option<Arc<AtomicBool>>,
        answers: Vec<Result<(), String>>,
    ) -> (Arc<ClusterHandle>, Arc<Mutex<usize>>, JoinHandle<()>) {
        let state = crate::state::test_fleet("globex");
        let handle = state.clusters().next().unwrap().clone();
        let calls = Arc::new(Mutex::new(0));
        let answers = Arc::new(answers);
        let counted = calls.clone();
        let task = poll_in_phase(
            handle.clone(),
            Source::Alertmanager,
            every,
            phase,
            wake,
            active,
            move |_| {
                let n = {
                    let mut c = counted.lock().unwrap();
                    *c += 1;
                    *c - 1
                };
                let answer = answers.get(n).cloned().unwrap_or(Ok(()));
                async move { answer }
            },
        );
        (handle, calls, task)
    }

    /// Lets the spawned poller run until it waits again.
    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_poller_marks_failures_stale_recovers_and_keeps_its_interval() {
        let every = Duration::from_secs(10);
        let (handle, calls, task) = poller(
            every,
            Duration::ZERO,
            None,
            None,
            vec![Err("refused".into()), Ok(())],
        );
        assert_eq!(handle.health(Source::Alertmanager), SourceHealth::Syncing);
        settle().await;
        assert_eq!(*calls.lock().unwrap(), 1, "the first poll runs at once");
        match handle.health(Source::Alertmanager) {
            SourceHealth::Stale { error, .. } => assert_eq!(error, "refused"),
            other => panic!("a failed poll is stale, not {other:?}"),
        }
        tokio::time::advance(every - Duration::from_millis(1)).await;
        settle().await;
        assert_eq!(*calls.lock().unwrap(), 1, "not before the interval");
        tokio::time::advance(Duration::from_millis(1)).await;
        settle().await;
        assert_eq!(*calls.lock().unwrap(), 2);
        assert!(handle.health(Source::Alertmanager).is_ok(), "recovered");
        task.abort();
    }

    /// A fleet's pollers, started together, spread over their interval after the first
    /// poll (at once), each in a phase of its own, and keep their interval from there.
    #[tokio::test(start_paused = true)]
    async fn pollers_spread_over_their_interval_after_the_first_poll() {
        let every = Duration::from_secs(10);
        let phase = Duration::from_secs(4);
        let (_, calls, task) = poller(every, phase, None, None, vec![]);
        settle().await;
        assert_eq!(*calls.lock().unwrap(), 1, "the first poll runs at once");
        tokio::time::advance(every + phase - Duration::from_millis(1)).await;
        settle().await;
        assert_eq!(
            *calls.lock().unwrap(),
            1,
            "the second waits out its phase too"
        );
        tokio::time::advance(Duration::from_millis(1)).await;
        settle().await;
        assert_eq!(*calls.lock().unwrap(), 2);
        tokio::time::advance(every).await;
        settle().await;
        assert_eq!(*calls.lock().unwrap(), 3, "then the interval alone");
        task.abort();
        // Phases differ between clusters and stay within the interval.
        let phases: std::collections::BTreeSet<Duration> = (0..20)
            .map(|i| super::phase(&format!("env{i}-sc"), Source::Alertmanager, every))
            .collect();
        assert!(
            phases.len() > 15 && phases.iter().all(|p| *p < every),
            "{phases:?}"
        );
    }

    /// An environment's usage is polled only while it is open: idle before, at once when
    /// it opens, idle again when it closes.
    #[tokio::test(start_paused = true)]
    async fn a_poller_for_open_environments_idles_until_woken_open() {
        let (open, wake) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(tokio::sync::Notify::new()),
        );
        let every = Duration::from_secs(30);
        let (handle, calls, task) = poller(
            every,
            Duration::ZERO,
            Some(wake.clone()),
            Some(open.clone()),
            vec![],
        );
        settle().await;
        tokio::time::advance(every * 3).await;
        settle().await;
        assert_eq!(*calls.lock().unwrap(), 0, "closed: no poll");
        assert_eq!(handle.health(Source::Alertmanager), SourceHealth::Idle);
        open.store(true, Ordering::Relaxed);
        wake.notify_one();
        settle().await;
        assert_eq!(*calls.lock().unwrap(), 1, "opened: at once");
        assert!(handle.health(Source::Alertmanager).is_ok());
        open.store(false, Ordering::Relaxed);
        tokio::time::advance(every * 3).await;
        settle().await;
        assert_eq!(*calls.lock().unwrap(), 1, "closed again");
        assert_eq!(handle.health(Source::Alertmanager), SourceHealth::Idle);
        task.abort();
    }

    #[test]
    fn a_large_fleet_polls_alerts_less_often_up_to_half_a_minute() {
        assert_eq!(Intervals::for_clusters(6).alerts, Duration::from_secs(10));
        assert_eq!(Intervals::for_clusters(200).alerts, Duration::from_secs(10));
        assert_eq!(Intervals::for_clusters(400).alerts, Duration::from_secs(20));
        assert_eq!(
            Intervals::for_clusters(1000).alerts,
            Duration::from_secs(30)
        );
        assert_eq!(
            Intervals::for_clusters(5000).alerts,
            Duration::from_secs(30)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_wake_polls_at_once_without_waiting_out_the_interval() {
        let wake = Arc::new(tokio::sync::Notify::new());
        let (_, calls, task) = poller(
            Duration::from_secs(30),
            Duration::ZERO,
            Some(wake.clone()),
            None,
            vec![],
        );
        settle().await;
        assert_eq!(*calls.lock().unwrap(), 1);
        wake.notify_one();
        settle().await;
        assert_eq!(
            *calls.lock().unwrap(),
            2,
            "opening an environment asks for metrics now"
        );
        task.abort();
    }
}
