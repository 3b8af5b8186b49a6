//! The running simulated fleet: per cluster an API server, a Prometheus and an
//! Alertmanager on their own loopback ports, its controllers, and the kubeconfig and
//! fleet config that point the console (or kubectl) at them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use anyhow::Context;
use rand::Rng;
use serde_json::json;
use tokio::task::JoinHandle;

use super::alertmanager::{self, AlertmanagerSim};
use super::apiserver::{self, ApiState};
use super::clock::SimClock;
use super::cluster::{ClusterSim, Credentials, FleetOps, ProbeSpec};
use super::controllers;
use super::demo::{self, EnvPlan};
use super::faults::{FaultSpec, GatedListener, Service, guard};
use super::hash;
use super::http_auth::require_bearer;
use super::object_storage::{self, Endpoint};
use super::prometheus;
use super::store::Store;
use super::tls::FleetTls;
use crate::config::{self, ClusterRole, Policy};

/// How to build the simulated fleet.
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub environments: u32,
    pub pods_per_cluster: u32,
    pub seed: u64,
    pub speed: f64,
    /// Incidents to inject while the fleet runs.
    pub scenario: Option<super::scenario::Scenario>,
    /// A bearer token every Prometheus and Alertmanager requires, as behind an
    /// authenticating proxy; the fleet config then names the credential [`SIM_CREDENTIAL`].
    /// Off (`None`) by default.
    pub metrics_token: Option<String>,
    /// The API servers offer only HTTP/1.1, as one behind a proxy that does not speak
    /// HTTP/2 would: clients get a connection per open request.
    pub http1_only: bool,
}

/// The credential the simulated fleet's config names when it requires a token.
pub const SIM_CREDENTIAL: &str = "sim-metrics";

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            environments: 3,
            pods_per_cluster: 150,
            seed: 1,
            speed: 1.0,
            scenario: None,
            metrics_token: None,
            http1_only: false,
        }
    }
}

/// One cluster with its servers running.
#[derive(Debug)]
pub struct RunningCluster {
    pub sim: Arc<ClusterSim>,
    pub api: SocketAddr,
    pub prometheus: SocketAddr,
    pub alertmanager: SocketAddr,
    pub am: Arc<AlertmanagerSim>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for RunningCluster {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[derive(Debug)]
struct Inner {
    clock: SimClock,
    tls: FleetTls,
    clusters: Mutex<BTreeMap<String, Arc<RunningCluster>>>,
    /// Lets provisioning start controllers that hold the fleet themselves.
    me: Weak<Inner>,
    policy: Policy,
    scenario: Mutex<Option<JoinHandle<()>>>,
    /// The object storage of every cluster's Velero, and its server.
    object_storage: Endpoint,
    storage_server: Mutex<Option<JoinHandle<()>>>,
    /// See [`SimOptions::metrics_token`].
    metrics_token: Option<String>,
    /// How often each cluster's alert rules run when nothing changes, and how long
    /// changes are gathered before they run.
    rules_every: std::time::Duration,
}

/// Alert rules run every second in a small fleet; a large one spreads them out, as its
/// Prometheus would, so that a thousand clusters' rules do not keep a core busy.
fn rules_every(environments: u32) -> std::time::Duration {
    std::time::Duration::from_secs(u64::from(environments / 50).clamp(1, 10))
}

impl Drop for Inner {
    fn drop(&mut self) {
        for task in [&self.scenario, &self.storage_server] {
            if let Some(t) = task.lock().unwrap_or_else(|e| e.into_inner()).take() {
                t.abort();
            }
        }
    }
}

/// The running fleet. Dropping it stops every server and controller.
#[derive(Debug, Clone)]
pub struct SimFleet {
    inner: Arc<Inner>,
    plans: Arc<Vec<EnvPlan>>,
}

fn token() -> String {
    let b: [u8; 24] = rand::rng().random();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn credentials() -> Credentials {
    Credentials {
        admin: token(),
        operator: token(),
        read_only: token(),
    }
}

/// Binds a loopback listener on a free port.
fn bind() -> anyhow::Result<tokio::net::TcpListener> {
    let std = std::net::TcpListener::bind("127.0.0.1:0").context("binding a loopback port")?;
    std.set_nonblocking(true)?;
    Ok(tokio::net::TcpListener::from_std(std)?)
}

fn serve<L>(listener: L, app: axum::Router) -> JoinHandle<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "simulated server stopped");
        }
    })
}

impl Inner {
    fn fleet_ops(&self) -> Arc<dyn FleetOps> {
        Arc::new(FleetRef(self.me.clone()))
    }

    /// Starts the servers and controllers of a cluster that is already seeded.
    fn launch(&self, sim: Arc<ClusterSim>) -> anyhow::Result<Arc<RunningCluster>> {
        let (api_l, prom_l, am_l) = (bind()?, bind()?, bind()?);
        let (api, prom, am_addr) = (
            api_l.local_addr()?,
            prom_l.local_addr()?,
            am_l.local_addr()?,
        );
        let am = AlertmanagerSim::new(sim.clone());
        let token = self.metrics_token.as_deref();
        let state = ApiState {
            cluster: sim.clone(),
        };
        // Every server can be made to misbehave (`faults`): its port closed, its answers
        // late, refused or spoiled.
        let gated =
            |l, service| GatedListener::new(l, sim.faults.clone(), sim.clock.clone(), service);
        let faulty =
            |router, service| guard(router, sim.faults.clone(), sim.clock.clone(), service);
        let tasks = vec![
            serve(
                self.tls.listener(gated(api_l, Service::Api)?),
                faulty(apiserver::router(state), Service::Api),
            ),
            serve(
                gated(prom_l, Service::Prometheus)?,
                faulty(
                    require_bearer(prometheus::router(sim.clone()), token),
                    Service::Prometheus,
                ),
            ),
            serve(
                gated(am_l, Service::Alertmanager)?,
                faulty(
                    require_bearer(alertmanager::router(am.clone()), token),
                    Service::Alertmanager,
                ),
            ),
            alertmanager::spawn_rules(am.clone(), self.rules_every),
            controllers::spawn(sim.clone(), self.fleet_ops()),
        ];
        let running = Arc::new(RunningCluster {
            sim: sim.clone(),
            api,
            prometheus: prom,
            alertmanager: am_addr,
            am,
            tasks,
        });
        self.clusters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(sim.name(), running.clone());
        Ok(running)
    }

    fn new_cluster(
        &self,
        env: &str,
        role: ClusterRole,
        seed: u64,
        probes: Vec<ProbeSpec>,
        pods: u32,
    ) -> Arc<ClusterSim> {
        let sim = ClusterSim::new(
            env,
            role,
            // Each cluster draws its names from its own stream, so the same deployment in
            // two environments does not get the same pod names.
            Store::with_capacities(
                self.clock.clone(),
                hash::fnv1a64(&[
                    &seed.to_le_bytes(),
                    env.as_bytes(),
                    role.as_str().as_bytes(),
                ]),
                crate::store::DEFAULT_LOG_CAPACITY,
                watch_buffer(pods),
            ),
            self.clock.clone(),
            seed,
            credentials(),
            probes,
        );
        let _ = sim.ca_pem.set(self.tls.ca_pem.clone());
        let _ = sim.object_storage.set(self.object_storage.clone());
        Arc::new(sim)
    }
}

/// The fleet as the controllers see it. Weak, so controllers do not keep a stopped
/// fleet alive.
#[derive(Debug)]
struct FleetRef(Weak<Inner>);

impl FleetOps for FleetRef {
    fn cluster(&self, capi_name: &str) -> Option<Arc<ClusterSim>> {
        let inner = self.0.upgrade()?;
        let map = inner.clusters.lock().unwrap_or_else(|e| e.into_inner());
        map.get(capi_name).map(|c| c.sim.clone())
    }

    fn provision(
        &self,
        manager: &ClusterSim,
        capi_name: &str,
        _version: &str,
    ) -> Result<String, String> {
        let inner = self.0.upgrade().ok_or("the simulated fleet is stopping")?;
        let role = if capi_name.ends_with("-sc") {
            ClusterRole::Sc
        } else {
            ClusterRole::Wc
        };
        let env = capi_name.trim_end_matches("-sc").trim_end_matches("-wc");
        let sim = inner.new_cluster(env, role, manager.seed, Vec::new(), 0);
        for ns in ["default", "kube-system", "kube-public"] {
            let _ = sim.store.create(*super::registry::ids::NAMESPACES, json!({"metadata": {"name": ns}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}));
        }
        let running = inner.launch(sim).map_err(|e| format!("{e:#}"))?;
        Ok(kubeconfig_yaml(&[running], None, &inner.tls.ca_pem))
    }

    fn decommission(&self, capi_name: &str) {
        if let Some(inner) = self.0.upgrade() {
            inner
                .clusters
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(capi_name);
        }
    }
}

impl SimFleet {
    /// Builds the demo fleet, settles it (pods Running, backups with history), and
    /// starts serving it. Must run inside a tokio runtime.
    pub async fn start(opts: SimOptions) -> anyhow::Result<SimFleet> {
        let clock = SimClock::realtime(opts.speed);
        let policy = Policy::default();
        let tls = FleetTls::generate(opts.http1_only)?;
        let storage_l = bind()?;
        let object_storage = Endpoint::new(format!("https://{}", storage_l.local_addr()?));
        let inner = Arc::new_cyclic(|me| Inner {
            clock: clock.clone(),
            tls,
            clusters: Mutex::new(BTreeMap::new()),
            me: me.clone(),
            policy: policy.clone(),
            scenario: Mutex::new(None),
            object_storage: object_storage.clone(),
            storage_server: Mutex::new(None),
            metrics_token: opts.metrics_token.clone(),
            rules_every: rules_every(opts.environments),
        });
        let fleet = FleetRef(Arc::downgrade(&inner));
        let lookup: object_storage::Lookup = Arc::new(move |name| fleet.cluster(name));
        let storage_l =
            GatedListener::new(storage_l, Default::default(), clock.clone(), Service::Api)?;
        *inner
            .storage_server
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(serve(
            inner.tls.listener(storage_l),
            object_storage::router(object_storage, clock.clone(), lookup),
        ));
        let plans = demo::plan(opts.environments, opts.pods_per_cluster);
        let scenario = opts.scenario.clone();
        let inner2 = inner.clone();
        let plans2 = plans.clone();
        // Building and settling is CPU work; keep it off the async workers.
        tokio::task::spawn_blocking(move || build(&inner2, &plans2, &opts))
            .await
            .context("building the simulated fleet")??;
        if let Some(scenario) = scenario {
            let fleet = FleetRef(Arc::downgrade(&inner));
            super::scenario::check(&scenario, |name| fleet.cluster(name))?;
            let task = super::scenario::spawn(scenario, move |name| fleet.cluster(name));
            *inner.scenario.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
        }
        Ok(SimFleet {
            inner,
            plans: Arc::new(plans),
        })
    }

    /// Makes a server of cluster `name` (`acme-wc`) misbehave for a while (see `faults`).
    pub fn inject_fault(&self, name: &str, spec: FaultSpec) -> Result<(), String> {
        let c = self
            .cluster(name)
            .ok_or_else(|| format!("no cluster {name} in the simulated fleet"))?;
        c.sim.add_fault(spec)
    }

    /// Ends every open watch of cluster `name`'s API server, as a dropped connection does:
    /// the clients reconnect, through whatever faults are set.
    pub fn drop_watches(&self, name: &str) {
        if let Some(c) = self.cluster(name) {
            c.sim.store.drop_watches();
        }
    }

    /// Forgets the watch history of cluster `name`'s API server (etcd compacted it): a
    /// watch that resumes gets 410 Gone and must list again.
    pub fn compact(&self, name: &str) {
        if let Some(c) = self.cluster(name) {
            c.sim.store.compact();
        }
    }

    /// Ends every fault of cluster `name` now.
    pub fn clear_faults(&self, name: &str) {
        if let Some(c) = self.cluster(name) {
            c.sim.faults.clear();
        }
    }

    pub fn clusters(&self) -> Vec<Arc<RunningCluster>> {
        self.inner
            .clusters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    pub fn cluster(&self, name: &str) -> Option<Arc<RunningCluster>> {
        self.inner
            .clusters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Stops one cluster's servers and ends its open watches, as when a cluster becomes
    /// unreachable. Its objects are gone with it.
    pub fn stop_cluster(&self, name: &str) {
        let removed = self
            .inner
            .clusters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        if let Some(c) = removed {
            // Connections already accepted outlive the listener: refuse what they still
            // carry, and end their watches.
            c.sim
                .stopped
                .store(true, std::sync::atomic::Ordering::Relaxed);
            c.sim.store.drop_watches();
        }
    }

    pub fn plans(&self) -> &[EnvPlan] {
        &self.plans
    }

    pub fn clock(&self) -> &SimClock {
        &self.inner.clock
    }

    /// The fleet config the console reads, pointing at `kubeconfig`.
    pub fn fleet_config(&self, kubeconfig: &Path) -> config::Fleet {
        let clusters = self.clusters();
        let find = |name: &str| clusters.iter().find(|c| c.sim.name() == name).cloned();
        let credential = self
            .inner
            .metrics_token
            .as_ref()
            .map(|_| SIM_CREDENTIAL.to_owned());
        let environments = self
            .plans
            .iter()
            .filter_map(|p| {
                let sc = find(&format!("{}-sc", p.name))?;
                let wc = find(&format!("{}-wc", p.name))?;
                let cluster = |c: &RunningCluster| config::ClusterConfig {
                    kubeconfig: kubeconfig.to_path_buf(),
                    context: c.sim.name(),
                    prometheus: format!("http://{}", c.prometheus),
                    alertmanager: format!("http://{}", c.alertmanager),
                    prometheus_credential: credential.clone(),
                    alertmanager_credential: credential.clone(),
                    slo_labels: None,
                    probes: c
                        .sim
                        .probes()
                        .iter()
                        .map(|p| {
                            config::Probe::for_cluster(&c.sim.name(), &p.target, p.kind, p.slo)
                        })
                        .collect(),
                };
                Some(config::Environment {
                    name: p.name.clone(),
                    accent: None,
                    max_workers: None,
                    read_only: false,
                    tags: p.tags.clone(),
                    sc: cluster(&sc),
                    wc: cluster(&wc),
                })
            })
            .collect();
        config::Fleet {
            environments,
            policy: self.inner.policy.clone(),
            ..config::Fleet::default()
        }
    }

    /// Writes `kubeconfig` (mode 0600: it holds the tokens) and `fleet.toml` into
    /// `dir` and returns their paths.
    pub fn write_files(&self, dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let dir = dir
            .canonicalize()
            .with_context(|| format!("resolving {}", dir.display()))?;
        let kubeconfig = dir.join("kubeconfig");
        let first = self.plans.first().map(|p| format!("{}-sc", p.name));
        write_private(
            &kubeconfig,
            &kubeconfig_yaml(&self.clusters(), first.as_deref(), &self.inner.tls.ca_pem),
        )?;
        let fleet = dir.join("fleet.toml");
        std::fs::write(&fleet, config::to_toml(&self.fleet_config(&kubeconfig)))
            .with_context(|| format!("writing {}", fleet.display()))?;
        Ok((kubeconfig, fleet))
    }
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// The watch buffer of a cluster of about `pods` pods: room for every pod to change a few
/// times at once (a rollout, a node lost), at least 1 024 events, at most the default.
fn watch_buffer(pods: u32) -> usize {
    (pods as usize * 8)
        .next_power_of_two()
        .clamp(1024, crate::store::WATCH_BUFFER)
}

fn build(inner: &Arc<Inner>, plans: &[EnvPlan], opts: &SimOptions) -> anyhow::Result<()> {
    let now = inner.clock.now();
    let fleet = inner.fleet_ops();
    // One controller set per cluster: controllers pace themselves by their cluster's
    // resourceVersion, which means nothing for another cluster.
    let sets = std::cell::RefCell::new(BTreeMap::new());
    let settle = |c: &ClusterSim| {
        let mut sets = sets.borrow_mut();
        let set = sets.entry(c.name()).or_insert_with(controllers::all);
        controllers::settle(c, fleet.as_ref(), set);
    };
    for plan in plans {
        let mut sims = Vec::new();
        for role in ClusterRole::ALL {
            let probes = demo::probes(plan, role, opts.seed, now, &inner.policy);
            let sim = inner.new_cluster(&plan.name, role, opts.seed, probes, plan.pods_per_cluster);
            demo::seed_cluster(&sim, plan);
            if role == ClusterRole::Sc {
                demo::seed_capi(&sim, plan);
            }
            // Registered before settling, so the sc's Cluster API controllers find it.
            inner
                .clusters
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(
                    sim.name(),
                    Arc::new(RunningCluster::placeholder(sim.clone())),
                );
            sims.push(sim);
        }
        // The sc brings up every cluster's nodes; then each cluster schedules its pods.
        for sim in &sims {
            settle(sim);
        }
        for sim in &sims {
            settle(sim);
            if demo::top_up_pods(sim, plan) {
                settle(sim);
            }
            demo::seed_backup_history(sim, plan, &settle);
            demo::inject_trouble(sim, plan);
            // Aged before the last settle, so CronJobs run their latest slot at boot and
            // the fleet starts with job history.
            demo::age_fleet(sim);
            settle(sim);
        }
        for sim in sims {
            // Nothing watched it while it was built: the versions it went through would
            // only hold memory (7-9 MB a cluster).
            sim.store.forget_history();
            inner.launch(sim)?;
        }
    }
    Ok(())
}

impl RunningCluster {
    /// A cluster that is seeded but not serving yet.
    fn placeholder(sim: Arc<ClusterSim>) -> RunningCluster {
        let none = SocketAddr::from(([127, 0, 0, 1], 0));
        RunningCluster {
            am: AlertmanagerSim::new(sim.clone()),
            sim,
            api: none,
            prometheus: none,
            alertmanager: none,
            tasks: Vec::new(),
        }
    }
}

/// A kubeconfig with one context per cluster (admin token), plus users for the
/// operator and read-only roles of each cluster.
pub fn kubeconfig_yaml(
    clusters: &[Arc<RunningCluster>],
    current: Option<&str>,
    ca_pem: &str,
) -> String {
    use base64::Engine;
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let mut kc_clusters = Vec::new();
    let mut users = Vec::new();
    let mut contexts = Vec::new();
    for c in clusters {
        let name = c.sim.name();
        kc_clusters.push(json!({"name": name, "cluster": {"server": format!("https://{}", c.api), "certificate-authority-data": ca}}));
        let creds = &c.sim.credentials;
        for (suffix, tok) in [
            ("", &creds.admin),
            ("-operator", &creds.operator),
            ("-readonly", &creds.read_only),
        ] {
            users.push(json!({"name": format!("{name}{suffix}"), "user": {"token": tok}}));
        }
        contexts.push(json!({"name": name, "context": {"cluster": name, "user": name}}));
    }
    let current = current
        .map(String::from)
        .or_else(|| clusters.first().map(|c| c.sim.name()))
        .unwrap_or_default();
    let doc = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": kc_clusters,
        "users": users,
        "contexts": contexts,
        "current-context": current,
        "preferences": {},
    });
    serde_yaml_ng::to_string(&doc).unwrap_or_default()
}
