//! Controllers that make a simulated cluster behave like a real one. Each watches the
//! store the way a real controller watches the API, and reconciles idempotently: it
//! observes, compares with the desired state, and makes one step towards it.

use std::sync::Arc;
use std::time::Duration;

use super::cluster::{ClusterSim, FleetOps};

pub mod capi;
pub mod disruption;
pub mod events;
pub mod gc;
pub mod nodes;
pub mod pods;
pub mod velero;
pub mod workloads;

/// One reconciler. `reconcile` does one pass over its objects and says whether it
/// changed anything; it must be safe to call any number of times.
pub trait Controller: Send + Sync {
    fn name(&self) -> &'static str;
    fn reconcile(&self, cluster: &ClusterSim, fleet: &dyn FleetOps) -> bool;
}

/// The controllers every simulated cluster runs, in the order a pass runs them.
pub fn all() -> Vec<Box<dyn Controller>> {
    let mut list: Vec<Box<dyn Controller>> = vec![Box::new(nodes::NodeLifecycle::default())];
    list.extend(workloads::all());
    list.push(Box::new(pods::Scheduler::default()));
    list.push(Box::new(pods::Kubelet::default()));
    list.push(Box::new(disruption::Disruption::default()));
    list.push(Box::new(gc::GarbageCollector::default()));
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
