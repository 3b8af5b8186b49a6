//! Pacing: controllers are called on every store change and every tick, and most calls
//! find nothing to do. A [`Pacer`] lets a controller skip a pass when what it watches
//! has not changed since its last pass and none of its timed work (a pod due to start,
//! a schedule due to fire) has fallen due; a [`Pass`] collects when that will be.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::readiness::{is_ready, ready_since};
use crate::cluster::ClusterSim;

/// What a paced controller's last pass saw, and when it must run again even if nothing
/// changes. `K` is what it watches: the store's resourceVersion, or more for a
/// controller that also watches other clusters.
#[derive(Debug, Default)]
pub(crate) struct Pacer<K = u64> {
    last: Mutex<Option<(K, Option<DateTime<Utc>>)>>,
}

/// One pass of a paced controller: what it watches as it started, the time it runs at,
/// and the earliest simulated time it must run again even if nothing changes.
#[derive(Debug)]
pub(crate) struct Pass<K = u64> {
    key: K,
    pub now: DateTime<Utc>,
    pub booting: bool,
    wake: Option<DateTime<Utc>>,
}

impl Pacer {
    /// A pass keyed by the store's resourceVersion, or `None` when it may be skipped.
    pub fn begin(&self, cluster: &ClusterSim) -> Option<Pass> {
        // Read the version before the clock: a change landing in between re-runs us.
        let pass = Pass::start(cluster.store.resource_version(), cluster);
        (!self.skips(&pass)).then_some(pass)
    }

    /// Runs a pass through `f` (which says whether it changed anything) unless it may
    /// be skipped.
    pub fn run(&self, cluster: &ClusterSim, f: impl FnOnce(&mut Pass) -> bool) -> bool {
        let Some(mut pass) = self.begin(cluster) else {
            return false;
        };
        let changed = f(&mut pass);
        self.end(pass);
        changed
    }
}

impl<K: PartialEq> Pacer<K> {
    /// Whether `pass` may be skipped: it watches what the last pass saw, and none of
    /// that pass's timed work is due.
    pub fn skips(&self, pass: &Pass<K>) -> bool {
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        last.as_ref()
            .is_some_and(|(key, wake)| *key == pass.key && wake.is_none_or(|w| pass.now < w))
    }

    pub fn end(&self, pass: Pass<K>) {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some((pass.key, pass.wake));
    }
}

impl<K> Pass<K> {
    /// A pass over `cluster` that watches `key`, read before anything is looked at so
    /// a change made during the pass is seen by the next.
    pub fn start(key: K, cluster: &ClusterSim) -> Pass<K> {
        Pass {
            key,
            now: cluster.clock.now(),
            booting: cluster.is_booting(),
            wake: None,
        }
    }

    pub fn wake_at(&mut self, t: DateTime<Utc>) {
        self.wake = Some(self.wake.map_or(t, |w| w.min(t)));
    }

    /// Whether a pod has been Ready for `min_ready` seconds, asking to run again when it
    /// will have been.
    pub fn is_available(&mut self, pod: &Value, min_ready: i64) -> bool {
        if min_ready <= 0 {
            return is_ready(pod);
        }
        match ready_since(pod) {
            Some(t) => self.elapsed(Some(t), Duration::seconds(min_ready.max(0))),
            None => false,
        }
    }

    /// Whether a simulated latency (a pod starting, a container running, a grace
    /// period) of `delay` since `since` has passed, asking to run again when it will
    /// have. Always true while booting, so a fresh fleet starts settled.
    pub fn elapsed(&mut self, since: Option<DateTime<Utc>>, delay: Duration) -> bool {
        let Some(since) = since else { return true };
        self.booting || self.reached(since + delay)
    }

    /// Whether the clock has reached `t`, asking to run again then if not. Policy
    /// timers (tolerations, TTLs, deadlines) use this: they follow the clock even
    /// while booting, so trouble injected at boot unfolds in simulated time.
    pub fn reached(&mut self, t: DateTime<Utc>) -> bool {
        if self.now >= t {
            return true;
        }
        self.wake_at(t);
        false
    }
}
