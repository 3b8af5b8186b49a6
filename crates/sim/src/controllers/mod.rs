//! Controllers that make a simulated cluster behave like a real one. Each watches the
//! store the way a real controller watches the API, and reconciles idempotently: it
//! observes, compares with the desired state, and makes one step towards it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::cluster::{ClusterSim, FleetOps};
use super::store::Store;

// Shared pieces first: they import no controller, so imports run one way, from the
// controllers down to these.
pub mod cron;
pub mod events;
pub mod objects;
mod pacing;
pub mod placement;
pub mod readiness;
mod root_ca;
#[cfg(test)]
pub(crate) mod testkit;

pub mod capi;
pub mod disruption;
pub mod gc;
pub mod nodes;
pub mod pods;
pub mod velero;
pub mod velero_files;
pub mod workloads;

/// One reconciler. `reconcile` does one pass over its objects and says whether it
/// changed anything; it must be safe to call any number of times.
pub trait Controller: Send + Sync {
    fn name(&self) -> &'static str;
    fn reconcile(&self, cluster: &ClusterSim, fleet: &dyn FleetOps) -> bool;
}

/// State a controller keeps for each cluster it serves (one set of controllers settles
/// every cluster of a fleet), keyed by the cluster's store. The Weak keeps the store's
/// allocation, so its address cannot be reused while the entry exists; entries of
/// dropped stores go when a new cluster shows up.
pub(crate) struct PerCluster<T>(Mutex<HashMap<usize, (Weak<Store>, T)>>);

impl<T> Default for PerCluster<T> {
    fn default() -> Self {
        PerCluster(Mutex::new(HashMap::new()))
    }
}

impl<T: Default> PerCluster<T> {
    /// Runs `f` on the state of `store`'s cluster, under this map's lock.
    pub fn with<R>(&self, store: &Arc<Store>, f: impl FnOnce(&mut T) -> R) -> R {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let key = Arc::as_ptr(store) as usize;
        if !map.contains_key(&key) {
            map.retain(|_, (s, _)| s.strong_count() > 0);
        }
        let (_, state) = map
            .entry(key)
            .or_insert_with(|| (Arc::downgrade(store), T::default()));
        f(state)
    }
}

/// The controllers every simulated cluster runs, in the order a pass runs them.
pub fn all() -> Vec<Box<dyn Controller>> {
    let mut list: Vec<Box<dyn Controller>> = vec![Box::new(nodes::NodeLifecycle::default())];
    list.extend(workloads::all());
    list.push(Box::new(pods::Scheduler::default()));
    list.push(Box::new(pods::Kubelet::default()));
    list.push(Box::new(disruption::Disruption::default()));
    list.push(Box::new(gc::GarbageCollector::default()));
    list.push(Box::new(root_ca::RootCaPublisher::default()));
    list.push(Box::new(velero::Velero::new()));
    list.push(Box::new(capi::Capi::new()));
    list
}

/// How often controllers run even when nothing changed, so time-based work (pods
/// starting, backups finishing) progresses.
const TICK: Duration = Duration::from_millis(250);

/// Runs passes until nothing changes (bounded), with the cluster in boot mode so
/// delays are skipped. Used once when a fleet is built.
pub fn settle(cluster: &ClusterSim, fleet: &dyn FleetOps, controllers: &[Box<dyn Controller>]) {
    cluster
        .booting
        .store(true, std::sync::atomic::Ordering::Relaxed);
    for _ in 0..2000 {
        let mut changed = false;
        for c in controllers {
            changed |= c.reconcile(cluster, fleet);
        }
        if !changed {
            break;
        }
    }
    cluster
        .booting
        .store(false, std::sync::atomic::Ordering::Relaxed);
}

/// Runs the controllers of one cluster until the task is aborted.
pub fn spawn(cluster: Arc<ClusterSim>, fleet: Arc<dyn FleetOps>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let controllers = all();
        loop {
            let store = cluster.store.clone();
            let changed = store.changed().notified();
            for c in &controllers {
                // A controller bug must not take the whole simulator down.
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    c.reconcile(&cluster, fleet.as_ref())
                }));
                if result.is_err() {
                    tracing::error!(controller = c.name(), cluster = %cluster.name(), "controller panicked");
                }
            }
            tokio::select! {
                _ = changed => tokio::time::sleep(Duration::from_millis(20)).await,
                _ = tokio::time::sleep(TICK) => {}
            }
        }
    })
}
