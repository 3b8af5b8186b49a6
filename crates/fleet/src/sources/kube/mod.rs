//! Kubernetes sources: one kube-rs watcher per kind and cluster, feeding compact rows
//! into the cluster's state. The watchers list in pages, resume from bookmarks, relist
//! after 410 Gone without blanking the table, and reconnect with capped, jittered
//! backoff; each reports its health.

pub mod exec;
pub mod project;
pub mod transport;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};
use tokio::task::JoinHandle;

use self::project::Watched;
use self::transport::Protocol;
use crate::config::{ClusterConfig, ClusterRole};
use crate::failure;
use crate::state::ClusterHandle;
use crate::state::health::{Source, SourceHealth};

/// Objects per list page: small pages keep the peak memory of a big initial list low
/// (kube-rs found 50-500 the useful range).
pub const PAGE_SIZE: u32 = 250;

#[derive(Debug, thiserror::Error)]
pub enum KubeSourceError {
    #[error("reading kubeconfig {path}: {source}")]
    Kubeconfig {
        path: String,
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// Not a file to read as a kubeconfig: a device, a FIFO, a directory, or too large.
    #[error(
        "kubeconfig {path}: {why}; point `kubeconfig` in the fleet config at a kubeconfig file"
    )]
    NotAKubeconfig { path: String, why: String },
    /// The file is a kubeconfig, but not one that reaches the cluster the config names.
    #[error("kubeconfig {path}: {why}; fix `context` in the fleet config, or the kubeconfig")]
    NoContext { path: String, why: String },
    #[error("context {context:?} in {path}: {source}")]
    Context {
        path: String,
        context: String,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error("signing in to {context:?}: {source}")]
    Credential {
        context: String,
        #[source]
        source: exec::ExecError,
    },
    #[error("creating the Kubernetes client for {context:?}: {}", crate::failure::of_kube(.source))]
    Client {
        context: String,
        #[source]
        source: kube::Error,
    },
}

/// Parsed kubeconfig files by path: a fleet's clusters often share one file, and a
/// file with hundreds of contexts is worth parsing once, not once per cluster.
#[derive(Default)]
pub struct Kubeconfigs(
    std::sync::Mutex<std::collections::HashMap<std::path::PathBuf, Arc<kube::config::Kubeconfig>>>,
);

impl Kubeconfigs {
    fn get(
        &self,
        path: &std::path::Path,
    ) -> Result<Arc<kube::config::Kubeconfig>, KubeSourceError> {
        let mut cache = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(kc) = cache.get(path) {
            return Ok(kc.clone());
        }
        check_kubeconfig_file(path)?;
        let kc = kube::config::Kubeconfig::read_from(path).map_err(|source| {
            KubeSourceError::Kubeconfig {
                path: path.display().to_string(),
                source,
            }
        })?;
        let kc = Arc::new(kc);
        cache.insert(path.to_path_buf(), kc.clone());
        Ok(kc)
    }
}

/// The part of `kc` that `context` uses: the context, its cluster and its user. A client is
/// made from one context; copying a file of a thousand contexts for each of a thousand
/// clusters took seconds.
fn only_context(kc: &kube::config::Kubeconfig, context: &str) -> kube::config::Kubeconfig {
    let named = kc.contexts.iter().find(|c| c.name == context);
    let uses = named.and_then(|c| c.context.as_ref());
    let cluster = uses.map(|c| c.cluster.as_str());
    let user = uses.and_then(|c| c.user.as_deref());
    kube::config::Kubeconfig {
        preferences: kc.preferences.clone(),
        clusters: kc
            .clusters
            .iter()
            .filter(|c| Some(c.name.as_str()) == cluster)
            .cloned()
            .collect(),
        auth_infos: kc
            .auth_infos
            .iter()
            .filter(|u| Some(u.name.as_str()) == user)
            .cloned()
            .collect(),
        contexts: named.cloned().into_iter().collect(),
        current_context: Some(context.to_owned()),
        extensions: kc.extensions.clone(),
        kind: kc.kind.clone(),
        api_version: kc.api_version.clone(),
        other: kc.other.clone(),
    }
}

/// Kubeconfigs are small; one over this is not a kubeconfig, and reading it whole would
/// cost memory for nothing.
const MAX_KUBECONFIG_BYTES: u64 = 16 * 1024 * 1024;

/// Refuses what reading would hang on or grow without bound with (`/dev/zero`, a FIFO)
/// before reading: only a regular file of a sane size is a kubeconfig.
fn check_kubeconfig_file(path: &std::path::Path) -> Result<(), KubeSourceError> {
    let not = |why: String| KubeSourceError::NotAKubeconfig {
        path: path.display().to_string(),
        why,
    };
    let meta = std::fs::metadata(path).map_err(|e| not(e.to_string()))?;
    if !meta.is_file() {
        return Err(not("not a regular file".into()));
    }
    if meta.len() > MAX_KUBECONFIG_BYTES {
        return Err(not(format!(
            "{} bytes, more than a kubeconfig holds ({} MiB at most)",
            meta.len(),
            MAX_KUBECONFIG_BYTES / (1024 * 1024)
        )));
    }
    Ok(())
}

/// Every cluster of `fleet` whose kubeconfig cannot be used: the file is missing, is not a
/// readable kubeconfig, or lacks the context (or the context's cluster or user). Nothing is
/// contacted and no exec plugin runs: this is a check of the config, made before any
/// command reaches a cluster.
pub fn check_kubeconfigs(fleet: &crate::config::Fleet) -> Vec<(String, KubeSourceError)> {
    let cache = Kubeconfigs::default();
    let mut problems = Vec::new();
    for env in &fleet.environments {
        for (role, cfg) in env.clusters() {
            if let Err(e) = check_context(cfg, &cache) {
                problems.push((format!("{}-{role}", env.name), e));
            }
        }
    }
    problems
}

fn check_context(cfg: &ClusterConfig, cache: &Kubeconfigs) -> Result<(), KubeSourceError> {
    let kc = cache.get(&cfg.kubeconfig)?;
    let missing = |why: String| KubeSourceError::NoContext {
        path: cfg.kubeconfig.display().to_string(),
        why,
    };
    let Some(context) = kc
        .contexts
        .iter()
        .find(|c| c.name == cfg.context)
        .and_then(|c| c.context.as_ref())
    else {
        let names: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
        return Err(missing(format!(
            "it has no context {:?} (it has: {})",
            cfg.context,
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        )));
    };
    if !kc.clusters.iter().any(|c| c.name == context.cluster) {
        return Err(missing(format!(
            "context {:?} names cluster {:?}, which it does not define",
            cfg.context, context.cluster
        )));
    }
    if let Some(user) = &context.user
        && !kc.auth_infos.iter().any(|u| &u.name == user)
    {
        return Err(missing(format!(
            "context {:?} names user {:?}, which it does not define",
            cfg.context, user
        )));
    }
    Ok(())
}

/// A client for one cluster from its kubeconfig file and context, reading the kubeconfig
/// through `cache`. Exec-plugin tokens are the console's (see [`exec`]); token files are
/// re-read by kube-rs.
pub async fn client_from(
    cfg: &ClusterConfig,
    cache: &Kubeconfigs,
) -> Result<Client, KubeSourceError> {
    let config = config_from(cfg, cache).await?;
    client_of(cfg, config).await
}

/// The client configuration of a cluster, for callers that tune it (retries, timeouts)
/// before building a client with [`client_of`].
pub async fn config_from(
    cfg: &ClusterConfig,
    cache: &Kubeconfigs,
) -> Result<kube::Config, KubeSourceError> {
    let path = cfg.kubeconfig.display().to_string();
    let kubeconfig = only_context(cache.get(&cfg.kubeconfig)?.as_ref(), &cfg.context);
    let options = kube::config::KubeConfigOptions {
        context: Some(cfg.context.clone()),
        ..Default::default()
    };
    kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|source| KubeSourceError::Context {
            path,
            context: cfg.context.clone(),
            source,
        })
}

/// The client of `config`. A user whose exec plugin answers with a token gets it from
/// the process's [`exec::credentials`]: the plugin runs once (at the first client, so at
/// a console's start before the full screen) and every client of every cluster that uses
/// the same plugin reuses the token until it expires.
pub async fn client_of(
    cfg: &ClusterConfig,
    mut config: kube::Config,
) -> Result<Client, KubeSourceError> {
    let failed = |source| KubeSourceError::Client {
        context: cfg.context.clone(),
        source,
    };
    if let Some(exec) = config.auth_info.exec.clone() {
        let entry = exec::credentials().entry(&exec, &cfg.context);
        let token = entry
            .gives_token()
            .await
            .map_err(|source| KubeSourceError::Credential {
                context: cfg.context.clone(),
                source,
            })?;
        if token {
            config.auth_info.exec = None;
            let refused = entry.clone();
            // A token the server refuses is forgotten; the next request signs in again.
            let forget = tower::util::MapResponseLayer::new(
                move |response: http::Response<Box<kube::client::DynBody>>| {
                    if response.status() == http::StatusCode::UNAUTHORIZED {
                        refused.forget();
                    }
                    response
                },
            );
            let attach = tower::filter::AsyncFilterLayer::new(
                move |mut request: http::Request<kube::client::Body>| {
                    let entry = entry.clone();
                    async move {
                        let header = entry.header().await?;
                        request
                            .headers_mut()
                            .insert(http::header::AUTHORIZATION, header);
                        Ok::<_, exec::ExecError>(request)
                    }
                },
            );
            // The filter needs a service it can clone for each request: a buffer in
            // front of kube's stack (which the client buffers again on the outside).
            return Ok(transport::builder(&config)
                .map_err(failed)?
                .with_layer(&forget)
                .with_layer(&tower::buffer::BufferLayer::new(1024))
                .with_layer(&attach)
                .build());
        }
    }
    Ok(transport::builder(&config).map_err(failed)?.build())
}

/// Applies one watch event to the cluster's table for `K`.
pub fn apply<K: Watched>(handle: &ClusterHandle, event: Event<K>) {
    handle.update(|s| match event {
        Event::Init => K::table(s).begin_relist(),
        Event::InitApply(obj) => {
            let key = obj.key(&mut s.interner);
            let row = obj.project(&mut s.interner);
            K::table(s).stage(key, row);
        }
        Event::InitDone => {
            K::table(s).commit_relist();
            s.health
                .insert(K::SOURCE, SourceHealth::Connected { since: Utc::now() });
        }
        Event::Apply(obj) => {
            let key = obj.key(&mut s.interner);
            let row = obj.project(&mut s.interner);
            K::table(s).upsert(key, row);
        }
        Event::Delete(obj) => {
            let key = obj.key(&mut s.interner);
            K::table(s).remove(&key);
        }
    });
}

/// How many initial lists (and relists), and Prometheus and Alertmanager polls, may run at
/// once across the whole fleet, so that a console starting on a thousand clusters neither
/// stampedes their servers nor runs out of descriptors; later watch events do not count.
pub const CONCURRENT_LISTS: usize = 32;

/// The fleet-wide gate of [`CONCURRENT_LISTS`].
#[derive(Clone)]
pub struct Lists(Arc<tokio::sync::Semaphore>);

impl Default for Lists {
    fn default() -> Self {
        Lists(Arc::new(tokio::sync::Semaphore::new(CONCURRENT_LISTS)))
    }
}

impl Lists {
    /// A turn to list (or poll); it ends when the permit is dropped.
    pub(crate) async fn turn(&self) -> tokio::sync::OwnedSemaphorePermit {
        // The semaphore is never closed.
        self.0
            .clone()
            .acquire_owned()
            .await
            .expect("the list gate is never closed")
    }
}

/// Registers `K`'s source as syncing before any task runs, so a waiter never mistakes a
/// source that has not started yet for one this cluster does not have.
fn register<K: Watched>(handle: &ClusterHandle) {
    if !handle.health(K::SOURCE).is_ok() {
        handle.set_health(K::SOURCE, SourceHealth::Syncing);
    }
}

/// Watches `K` until aborted. Errors never end the loop: after a failure (or a 410 Gone)
/// the watch starts again with a list, after a pause that grows from 0.5 s to 5 s while
/// failures keep coming (see `Backoff`).
fn spawn_api_watch<K: Watched>(
    api: Api<K>,
    config: watcher::Config,
    handle: Arc<ClusterHandle>,
    lists: Lists,
) -> JoinHandle<()> {
    register::<K>(&handle);
    tokio::spawn(async move {
        let mut backoff = Backoff::default();
        loop {
            // A fresh watcher lists first, so the source is known fresh again once the list
            // is done (one that only resumed its watch after a failure would say nothing
            // until the next change), and a 410 is answered by that list.
            let mut turn = Some(lists.turn().await);
            let mut stream =
                watcher::watcher(api.clone(), config.clone().page_size(PAGE_SIZE)).boxed();
            let mut expired = false;
            while let Some(item) = stream.next().await {
                match item {
                    Ok(event) => {
                        if matches!(event, Event::InitDone) {
                            // The list is done; the watch that follows is no load.
                            drop(turn.take());
                        }
                        apply(&handle, event)
                    }
                    Err(e) => {
                        drop(turn.take());
                        let failure = failure::of_watch(&e);
                        if failure.kind == failure::Kind::Expired {
                            // Routine (etcd compacted the history): list again; the rows
                            // stay until the new list replaces them, and the source does
                            // not read as failed.
                            tracing::debug!(cluster = %handle.name(), source = %K::SOURCE, error = %failure, "watch expired; relisting");
                            expired = true;
                        } else {
                            tracing::warn!(cluster = %handle.name(), source = %K::SOURCE, error = %failure, "watch failed; retrying");
                            handle.source_failed(
                                K::SOURCE,
                                Utc::now(),
                                failure.sentence,
                                failure.kind.is_denied(),
                            );
                        }
                        break;
                    }
                }
            }
            tokio::time::sleep(backoff.next(expired)).await;
        }
    })
}

/// The pause before a failed watch starts again: doubling from half a second to at most
/// five seconds while failures keep coming (so a cluster that comes back is shown fresh
/// within seconds), back to the start once a minute has passed without one, and spread by
/// up to a quarter so that many watchers of one cluster do not come back in step. An
/// expired watch (410) relists at once, unless expirations come back to back.
struct Backoff {
    pause: Duration,
    last_failure: Option<std::time::Instant>,
    last_expired: Option<std::time::Instant>,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            pause: RESTART_FIRST,
            last_failure: None,
            last_expired: None,
        }
    }
}

impl Backoff {
    fn next(&mut self, expired: bool) -> Duration {
        let now = std::time::Instant::now();
        if expired {
            let routine = self
                .last_expired
                .is_none_or(|t| now.duration_since(t) > CALM_AFTER);
            self.last_expired = Some(now);
            if routine {
                return Duration::ZERO;
            }
        }
        let calm = self
            .last_failure
            .is_none_or(|t| now.duration_since(t) > CALM_AFTER);
        self.pause = if calm {
            RESTART_FIRST
        } else {
            (self.pause * 2).min(RESTART_MAX)
        };
        self.last_failure = Some(now);
        self.pause + self.pause.mul_f64(rand::random_range(0.0..0.25))
    }
}

const RESTART_FIRST: Duration = Duration::from_millis(500);
const RESTART_MAX: Duration = Duration::from_secs(5);
/// How long without a failure before the pause starts small again.
const CALM_AFTER: Duration = Duration::from_secs(60);

/// How often slowly changing kinds are listed instead of watched, by default.
pub const POLL_EVERY: Duration = Duration::from_secs(15);

/// One list of one kind into its table, through the same path a watch relist takes.
pub type ListStep = Box<dyn Fn() -> futures::future::BoxFuture<'static, ()> + Send + Sync>;

/// A step that lists `K` and replaces its table whole.
fn list_step<K: Watched>(api: Api<K>, handle: Arc<ClusterHandle>, lists: Lists) -> ListStep {
    register::<K>(&handle);
    Box::new(move || {
        let (api, handle, lists) = (api.clone(), handle.clone(), lists.clone());
        Box::pin(async move {
            let turn = lists.turn().await;
            let mut listed = list_all(&api).await;
            if matches!(&listed, Err(e) if failure::of_kube(e).kind == failure::Kind::Expired) {
                // The continue token of a long list expired: list again from the start.
                listed = list_all(&api).await;
            }
            drop(turn);
            match listed {
                Ok(items) => {
                    apply::<K>(&handle, Event::Init);
                    for obj in items {
                        apply(&handle, Event::InitApply(obj));
                    }
                    apply::<K>(&handle, Event::InitDone);
                }
                Err(e) => {
                    let failure = failure::of_kube(&e);
                    tracing::warn!(cluster = %handle.name(), source = %K::SOURCE, error = %failure, "list failed; retrying");
                    handle.source_failed(
                        K::SOURCE,
                        Utc::now(),
                        failure.sentence,
                        failure.kind.is_denied(),
                    );
                }
            }
        })
    })
}

/// Lists small, slowly changing kinds every `every`, one after another, over one pooled
/// connection: for a server that speaks only HTTP/1.1, where each watch would hold a
/// connection of its own (a fleet of 200 clusters held 5 000 connections when everything
/// was watched that way).
fn spawn_list_polls(steps: Vec<ListStep>, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            for step in &steps {
                step().await;
            }
            tokio::time::sleep(every).await;
        }
    })
}

/// Every object of a list, page by page.
async fn list_all<K: Watched>(api: &Api<K>) -> Result<Vec<K>, kube::Error> {
    let mut params = kube::api::ListParams::default().limit(PAGE_SIZE);
    let mut items = Vec::new();
    loop {
        let page = api.list(&params).await?;
        items.extend(page.items);
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(c) => params = params.continue_token(&c),
            None => return Ok(items),
        }
    }
}

/// The watchers of one cluster. Light sources (what the fleet overview needs) run
/// always; heavy ones (every pod, event and workload) only while the environment is
/// open, so a fleet of hundreds of clusters stays small.
pub struct ClusterSources {
    client: Client,
    handle: Arc<ClusterHandle>,
    lists: Lists,
    /// Turns true once the first request (the protocol probe) has been answered or has
    /// failed: sources wait for it, so that over HTTP/2 they all find its connection
    /// instead of racing to open their own.
    contacted: tokio::sync::watch::Receiver<bool>,
    light: Vec<JoinHandle<()>>,
    heavy: Vec<JoinHandle<()>>,
}

impl Drop for ClusterSources {
    fn drop(&mut self) {
        for t in self.light.iter().chain(&self.heavy) {
            t.abort();
        }
    }
}

/// A light source, registered at once and started by [`ClusterSources::run_light`] once
/// the cluster's protocol is known.
type Deferred = Box<dyn FnOnce() -> JoinHandle<()> + Send + Sync>;

/// A slowly changing kind: watched over HTTP/2, where a watch costs no connection, and
/// listed every so often over HTTP/1.1, where it would.
struct Followed {
    watch: Deferred,
    list: ListStep,
}

fn followed<K: Watched>(api: Api<K>, handle: Arc<ClusterHandle>, lists: &Lists) -> Followed {
    let list = list_step(api.clone(), handle.clone(), lists.clone());
    let lists = lists.clone();
    Followed {
        watch: Box::new(move || spawn_api_watch(api, watcher::Config::default(), handle, lists)),
        list,
    }
}

fn watched<K: Watched>(api: Api<K>, handle: Arc<ClusterHandle>, lists: &Lists) -> Deferred {
    watched_with(api, watcher::Config::default(), handle, lists)
}

fn watched_with<K: Watched>(
    api: Api<K>,
    config: watcher::Config,
    handle: Arc<ClusterHandle>,
    lists: &Lists,
) -> Deferred {
    register::<K>(&handle);
    let lists = lists.clone();
    Box::new(move || spawn_api_watch(api, config, handle, lists))
}

/// Starts `sources` once the cluster has been contacted; they end with the returned task.
fn start_after_contact(
    mut contacted: tokio::sync::watch::Receiver<bool>,
    sources: Vec<Deferred>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        // An error means the prober is gone, which happens only when the sources stop.
        if contacted.wait_for(|c| *c).await.is_err() {
            return;
        }
        let _children = Children(sources.into_iter().map(|start| start()).collect());
        std::future::pending::<()>().await;
    })
}

/// Aborts its tasks when dropped: the children of an aborted supervisor end with it.
struct Children(Vec<JoinHandle<()>>);

impl Drop for Children {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

impl ClusterSources {
    /// Makes the client (an exec credential plugin may run to sign in) and starts the
    /// light sources; the first request happens in them. `lists` is how often the kinds
    /// that are listed rather than watched are listed, and `gate` bounds the fleet's
    /// concurrent lists.
    pub async fn start(
        handle: Arc<ClusterHandle>,
        kubeconfigs: &Kubeconfigs,
        lists: Duration,
        gate: Lists,
    ) -> Result<ClusterSources, KubeSourceError> {
        let client = client_from(&handle.config, kubeconfigs).await?;
        let (contact, contacted) = tokio::sync::watch::channel(false);
        let mut me = ClusterSources {
            client,
            handle,
            lists: gate,
            contacted,
            light: Vec::new(),
            heavy: Vec::new(),
        };
        me.start_light(lists, contact);
        Ok(me)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    fn start_light(&mut self, every: Duration, contact: tokio::sync::watch::Sender<bool>) {
        let (c, h, g) = (&self.client, &self.handle, &self.lists);
        // Watched whatever the protocol: what the overview shows changing (node readiness,
        // backups finishing, rollouts).
        let mut always = vec![
            watched(Api::<wire::Node>::all(c.clone()), h.clone(), g),
            watched(
                Api::<wire::Backup>::namespaced(c.clone(), "velero"),
                h.clone(),
                g,
            ),
        ];
        let mut kinds = vec![
            followed(
                Api::<wire::ConfigMap>::namespaced(c.clone(), "kube-system"),
                h.clone(),
                g,
            ),
            followed(
                Api::<wire::Schedule>::namespaced(c.clone(), "velero"),
                h.clone(),
                g,
            ),
            followed(
                Api::<wire::Restore>::namespaced(c.clone(), "velero"),
                h.clone(),
                g,
            ),
            followed(
                Api::<wire::BackupStorageLocation>::namespaced(c.clone(), "velero"),
                h.clone(),
                g,
            ),
        ];
        if h.role == ClusterRole::Sc {
            always.push(watched(
                Api::<wire::KubeadmControlPlane>::all(c.clone()),
                h.clone(),
                g,
            ));
            always.push(watched(
                Api::<wire::MachineDeployment>::all(c.clone()),
                h.clone(),
                g,
            ));
            always.push(watched(Api::<wire::Machine>::all(c.clone()), h.clone(), g));
            // Harbor's and OpenSearch's backup CronJobs live in two namespaces; one list
            // over all of them (a service cluster has few) keeps one table whole.
            kinds.push(followed(Api::<wire::CronJob>::all(c.clone()), h.clone(), g));
            kinds.push(followed(Api::<wire::Job>::all(c.clone()), h.clone(), g));
            kinds.push(followed(
                Api::<wire::CapiCluster>::all(c.clone()),
                h.clone(),
                g,
            ));
        }
        self.light = vec![tokio::spawn(Self::run_light(
            c.clone(),
            h.clone(),
            g.clone(),
            contact,
            always,
            kinds,
            every,
        ))];
    }

    /// Asks the server which protocol it speaks before anything else, so that every
    /// source shares the connection the probe opened when it is HTTP/2; then starts the
    /// light sources accordingly. While the server cannot be reached, the listed kinds are
    /// listed every `every` (so their health says why) and the probe is tried again.
    async fn run_light(
        client: Client,
        handle: Arc<ClusterHandle>,
        gate: Lists,
        contact: tokio::sync::watch::Sender<bool>,
        always: Vec<Deferred>,
        kinds: Vec<Followed>,
        every: Duration,
    ) {
        let first = {
            let _turn = gate.turn().await;
            transport::probe(&client).await
        };
        contact.send_replace(true);
        let mut children = Children(always.into_iter().map(|start| start()).collect());
        children
            .0
            .push(spawn_version(client.clone(), handle.clone()));
        let mut probed = first;
        let protocol = loop {
            match probed {
                Ok(protocol) => break protocol,
                Err(e) => {
                    tracing::debug!(cluster = %handle.name(), error = %e, "protocol probe failed");
                    for kind in &kinds {
                        (kind.list)().await;
                    }
                    tokio::time::sleep(every).await;
                    probed = transport::probe(&client).await;
                }
            }
        };
        tracing::debug!(cluster = %handle.name(), ?protocol, "API server protocol");
        match protocol {
            Protocol::Http2 => children.0.extend(kinds.into_iter().map(|k| (k.watch)())),
            Protocol::Http1 => children.0.push(spawn_list_polls(
                kinds.into_iter().map(|k| k.list).collect(),
                every,
            )),
        }
        // The children run until this task is aborted, which drops them.
        std::future::pending::<()>().await;
        drop(children);
    }

    /// Starts pods, workloads, warning events and PVCs (idempotent).
    pub fn open(&mut self) {
        if !self.heavy.is_empty() {
            return;
        }
        let (c, h) = (self.client.clone(), self.handle.clone());
        let all = watcher::Config::default;
        let g = &self.lists;
        let sources = vec![
            watched(Api::<wire::Pod>::all(c.clone()), h.clone(), g),
            watched(Api::<wire::Deployment>::all(c.clone()), h.clone(), g),
            watched(Api::<wire::StatefulSet>::all(c.clone()), h.clone(), g),
            watched(Api::<wire::DaemonSet>::all(c.clone()), h.clone(), g),
            watched_with(
                Api::<wire::Event>::all(c.clone()),
                all().fields("type=Warning"),
                h.clone(),
                g,
            ),
            watched(Api::<wire::PersistentVolumeClaim>::all(c), h, g),
        ];
        self.heavy = vec![start_after_contact(self.contacted.clone(), sources)];
    }

    /// Stops the heavy sources and frees their rows.
    pub fn close(&mut self) {
        for t in self.heavy.drain(..) {
            t.abort();
        }
        self.handle.update(|s| {
            s.pods = Default::default();
            s.deployments = Default::default();
            s.statefulsets = Default::default();
            s.daemonsets = Default::default();
            s.events = Default::default();
            s.pvcs = Default::default();
            for src in [
                Source::Pods,
                Source::Deployments,
                Source::StatefulSets,
                Source::DaemonSets,
                Source::Events,
                Source::Pvcs,
            ] {
                s.health.insert(src, SourceHealth::Idle);
            }
        });
    }
}

/// Polls `/version` (it changes during upgrades) every minute.
fn spawn_version(client: Client, handle: Arc<ClusterHandle>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match client.apiserver_version().await {
                Ok(info) => handle.update(|s| s.version = Some(info.git_version)),
                Err(e) => {
                    tracing::debug!(cluster = %handle.name(), error = %e, "version poll failed")
                }
            }
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

        /// Whatever a kubeconfig file holds, checking it is an answer or an error naming
        /// the cluster.
        #[test]
        fn any_kubeconfig_is_checked_without_panicking(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..3_000),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("kubeconfig");
            std::fs::write(&path, &bytes).unwrap();
            let text = format!(
                "version = 1\n[[environment]]\nname = \"acme\"\n{}",
                ["sc", "wc"]
                    .map(|role| format!(
                        "[environment.{role}]\nkubeconfig = {:?}\ncontext = \"acme-{role}\"\n\
                         prometheus = \"http://p\"\nalertmanager = \"http://a\"\n",
                        path.display().to_string()
                    ))
                    .concat()
            );
            let fleet = crate::config::parse(&text, std::path::Path::new("f.toml")).unwrap();
            for (cluster, _) in check_kubeconfigs(&fleet) {
                proptest::prop_assert!(cluster.starts_with("acme-"));
            }
        }
    }

    /// A relist that a dropped connection cuts short, then a whole one: the table shows
    /// every row it had at every step, and the whole relist's rows at the end.
    #[test]
    fn a_relist_cut_short_never_shows_a_partial_table() {
        let text = "version = 1\n[[environment]]\nname = \"acme\"\n[environment.sc]\n\
            kubeconfig = \"/k\"\ncontext = \"a\"\nprometheus = \"http://p\"\n\
            alertmanager = \"http://a\"\n[environment.wc]\nkubeconfig = \"/k\"\n\
            context = \"b\"\nprometheus = \"http://p\"\nalertmanager = \"http://a\"\n";
        let fleet = crate::config::parse(text, std::path::Path::new("f.toml")).unwrap();
        let handle = ClusterHandle::new(
            "acme",
            ClusterRole::Wc,
            fleet.environments[0].wc.clone(),
            Arc::new(crate::state::Changes::default()),
        );
        let pod = |i: usize| -> wire::Pod {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": format!("p{i}"), "namespace": "default", "uid": format!("u{i}")},
                "spec": {}, "status": {"phase": "Running"},
            }))
            .unwrap()
        };
        let len = || handle.read().pods.len();
        apply(&handle, Event::<wire::Pod>::Init);
        (0..10).for_each(|i| apply(&handle, Event::InitApply(pod(i))));
        apply(&handle, Event::<wire::Pod>::InitDone);
        assert_eq!(len(), 10);
        // Cut short halfway: the rows stay.
        apply(&handle, Event::<wire::Pod>::Init);
        for i in 0..5 {
            apply(&handle, Event::InitApply(pod(i)));
            assert_eq!(len(), 10);
        }
        // The next relist, in which p9 is gone and p10 is new.
        apply(&handle, Event::<wire::Pod>::Init);
        for i in (0..9).chain([10]) {
            apply(&handle, Event::InitApply(pod(i)));
            assert_eq!(len(), 10, "while relisting");
        }
        apply(&handle, Event::<wire::Pod>::InitDone);
        let names: Vec<String> = handle
            .read()
            .pods
            .values()
            .map(|p| p.name.to_string())
            .collect();
        assert_eq!(names.len(), 10);
        assert!(names.contains(&"p10".to_owned()) && !names.contains(&"p9".to_owned()));
    }

    #[test]
    fn only_a_regular_file_of_a_sane_size_is_read_as_a_kubeconfig() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo reads a NUL-terminated path and creates a FIFO there.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let big = dir.path().join("big");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(MAX_KUBECONFIG_BYTES + 1).unwrap();
        for (path, why) in [
            (std::path::Path::new("/dev/zero"), "not a regular file"),
            (fifo.as_path(), "not a regular file"),
            (dir.path(), "not a regular file"),
            (big.as_path(), "more than a kubeconfig holds"),
            (&dir.path().join("missing"), "No such file"),
        ] {
            let err = check_kubeconfig_file(path).unwrap_err().to_string();
            assert!(err.contains(why), "{}: {err}", path.display());
        }
        let ok = dir.path().join("kubeconfig");
        std::fs::write(&ok, "apiVersion: v1\nkind: Config\n").unwrap();
        assert!(check_kubeconfig_file(&ok).is_ok());
    }
}
