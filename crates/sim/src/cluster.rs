//! One simulated cluster: its object store, its clock, and the facts its Prometheus and
//! Alertmanager derive their answers from.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::clock::SimClock;
use super::store::Store;
use crate::config::{ClusterRole, ProbeKind};

/// A closed interval of simulated time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Interval {
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }
}

/// An uptime probe of this cluster, with the minutes it failed and the minutes the
/// prober recorded nothing, so `probe_success` history is reproducible.
#[derive(Debug, Clone)]
pub struct ProbeSpec {
    pub target: String,
    pub kind: ProbeKind,
    pub slo: f64,
    pub outages: Vec<Interval>,
    pub missing: Vec<Interval>,
}

/// Tokens and the roles they carry; the simulator's whole authentication story.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub admin: String,
    pub operator: String,
    pub read_only: String,
}

/// RBAC role of a bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Operator,
    ReadOnly,
}

impl Role {
    pub fn user(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::ReadOnly => "read-only",
        }
    }

    pub fn groups(self) -> &'static [&'static str] {
        match self {
            Role::Admin => &["system:masters", "system:authenticated"],
            Role::Operator => &["ck8s:operators", "system:authenticated"],
            Role::ReadOnly => &["ck8s:viewers", "system:authenticated"],
        }
    }
}

impl Credentials {
    /// The role of a bearer token at `now`. A token may carry an expiry, as short-lived
    /// OIDC tokens do: `<token>.exp<unix seconds>` is `<token>` until that second and
    /// refused from it on, so tests can prove that expired credentials are renewed, not
    /// merely re-sent.
    pub fn role_at(&self, token: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Role> {
        match token.rsplit_once(".exp") {
            Some((base, expiry)) => {
                let expiry: i64 = expiry.parse().ok()?;
                (now.timestamp() < expiry)
                    .then(|| self.role_of(base))
                    .flatten()
            }
            None => self.role_of(token),
        }
    }

    pub fn role_of(&self, token: &str) -> Option<Role> {
        // Comparing every candidate keeps timing independent of which one matches.
        let m = |a: &str| constant_time_eq(a.as_bytes(), token.as_bytes());
        let (a, o, r) = (m(&self.admin), m(&self.operator), m(&self.read_only));
        if a {
            Some(Role::Admin)
        } else if o {
            Some(Role::Operator)
        } else if r {
            Some(Role::ReadOnly)
        } else {
            None
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Everything about one simulated cluster that its servers and controllers share.
#[derive(Debug)]
pub struct ClusterSim {
    /// The environment's DNS label.
    pub env: String,
    pub role: ClusterRole,
    pub store: Arc<Store>,
    pub clock: SimClock,
    pub seed: u64,
    pub credentials: Credentials,
    /// Behind a lock so scenarios can add outages while the fleet runs.
    pub(crate) probes: std::sync::RwLock<Vec<ProbeSpec>>,
    /// While set, controllers skip their simulated delays, so a freshly built fleet
    /// starts settled (pods Running) instead of booting in front of the user.
    pub booting: std::sync::atomic::AtomicBool,
    /// Set when the cluster is stopped: connections already open answer 503 and close, as
    /// a dead API server's would fail, instead of serving on.
    pub stopped: std::sync::atomic::AtomicBool,
    /// Injected faults of its servers.
    pub faults: Arc<crate::faults::Faults>,
    /// The CA its API server's certificate chains to, published in every namespace as
    /// `kube-root-ca.crt`, as the real root-CA publisher does.
    pub ca_pem: std::sync::OnceLock<String>,
    /// The object storage its Velero's BackupStorageLocations point at.
    pub object_storage: std::sync::OnceLock<crate::object_storage::Endpoint>,
    /// Requests refused with 401 (an unknown or expired token).
    pub unauthorized: std::sync::atomic::AtomicU64,
}

impl ClusterSim {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        env: &str,
        role: ClusterRole,
        store: Arc<Store>,
        clock: SimClock,
        seed: u64,
        credentials: Credentials,
        probes: Vec<ProbeSpec>,
    ) -> ClusterSim {
        ClusterSim {
            env: env.to_string(),
            role,
            store,
            clock,
            seed,
            credentials,
            probes: std::sync::RwLock::new(probes),
            booting: Default::default(),
            stopped: Default::default(),
            faults: Default::default(),
            ca_pem: Default::default(),
            object_storage: Default::default(),
            unauthorized: Default::default(),
        }
    }

    /// Makes one of its servers misbehave from now (see `faults`). An API server that goes
    /// down also ends its open watches, as a dead server's connections end.
    pub fn add_fault(&self, spec: crate::faults::FaultSpec) -> Result<(), String> {
        let cuts_watches = spec.service == crate::faults::Service::Api
            && spec.kind == crate::faults::FaultKind::Down;
        self.faults.add(self.clock.now(), spec)?;
        if cuts_watches {
            self.store.drop_watches();
        }
        Ok(())
    }

    /// The uptime probes and their history (a snapshot; they are few).
    pub fn probes(&self) -> Vec<ProbeSpec> {
        self.probes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Adds an outage to a probe target; false if the cluster has no such target.
    pub fn add_outage(&self, target: &str, outage: Interval) -> bool {
        let mut probes = self.probes.write().unwrap_or_else(|e| e.into_inner());
        match probes.iter_mut().find(|p| p.target == target) {
            Some(p) => {
                p.outages.push(outage);
                true
            }
            None => false,
        }
    }
    pub fn is_booting(&self) -> bool {
        self.booting.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// `<env>-<sc|wc>`, the kubeconfig context and the `cluster` label of its metrics.
    pub fn name(&self) -> String {
        format!("{}-{}", self.env, self.role)
    }

    /// cert-manager's certificates as the cluster holds them: its TLS Secrets with a
    /// `cert-manager.io/expiry` annotation. The one source of the simulated Prometheus'
    /// expiry metric and of the alert rule built on it. Only metadata and type are read: a
    /// Secret's data never leaves the store.
    pub fn certificates(&self) -> Vec<SimCertificate> {
        let (secrets, _) = self.store.list(*super::registry::ids::SECRETS, None);
        secrets
            .iter()
            .filter(|s| s["type"] == "kubernetes.io/tls")
            .filter_map(|s| {
                let meta = &s["metadata"];
                let annotation = |key: &str| meta["annotations"][key].as_str();
                Some(SimCertificate {
                    namespace: meta["namespace"].as_str()?.to_owned(),
                    name: meta["name"].as_str()?.to_owned(),
                    issuer: annotation("cert-manager.io/issuer-name")
                        .unwrap_or_default()
                        .to_owned(),
                    expires: super::clock::parse_time(annotation("cert-manager.io/expiry")?)?,
                })
            })
            .collect()
    }
}

/// One of [`ClusterSim::certificates`]: named as its Secret.
#[derive(Debug, Clone, PartialEq)]
pub struct SimCertificate {
    pub namespace: String,
    pub name: String,
    pub issuer: String,
    pub expires: DateTime<Utc>,
}

#[cfg(any(test, feature = "testkit"))]
impl ClusterSim {
    /// A cluster for unit tests on its own store, with tokens `a`, `o` and `r`, seed 1
    /// and no probes.
    /// Replaces the probes the simulated Prometheus reports.
    pub fn set_probes(&self, probes: Vec<ProbeSpec>) {
        *self.probes.write().unwrap() = probes;
    }

    pub fn for_test(env: &str, role: ClusterRole, clock: SimClock, booting: bool) -> Self {
        let credentials = Credentials {
            admin: "a".into(),
            operator: "o".into(),
            read_only: "r".into(),
        };
        let store = Store::new(clock.clone(), 1);
        let c = ClusterSim::new(env, role, store, clock, 1, credentials, Vec::new());
        c.booting
            .store(booting, std::sync::atomic::Ordering::Relaxed);
        c
    }
}

/// What a cluster's controllers may ask of the rest of the simulated fleet. Cluster API
/// controllers in a service cluster manage other clusters' machines and nodes, and
/// bring whole clusters up and down.
pub trait FleetOps: Send + Sync + std::fmt::Debug {
    /// The simulated cluster a Cluster API `Cluster` object of this name stands for.
    fn cluster(&self, capi_name: &str) -> Option<Arc<ClusterSim>>;
    /// Starts a new simulated cluster for a Cluster API `Cluster` created in `manager`
    /// and returns the kubeconfig (YAML) that goes into its `<name>-kubeconfig` Secret.
    fn provision(
        &self,
        manager: &ClusterSim,
        capi_name: &str,
        kubernetes_version: &str,
    ) -> Result<String, String>;
    /// Stops and forgets the simulated cluster of a deleted `Cluster`.
    fn decommission(&self, capi_name: &str);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_with_an_expiry_is_refused_from_that_second() {
        let c = Credentials {
            admin: "a".into(),
            operator: "o".into(),
            read_only: "r".into(),
        };
        let now = chrono::DateTime::from_timestamp(1_000, 0).unwrap();
        assert_eq!(c.role_at("o.exp1001", now), Some(Role::Operator));
        assert_eq!(c.role_at("o.exp1000", now), None, "expired");
        assert_eq!(c.role_at("x.exp2000", now), None, "unknown");
        assert_eq!(c.role_at("o.expsoon", now), None, "malformed");
        assert_eq!(c.role_at("a", now), Some(Role::Admin), "no expiry");
    }
}
