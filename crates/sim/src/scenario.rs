//! Scenarios: incidents injected into a running simulated fleet at set simulated times,
//! for training and for demos ("at 2 minutes, a worker of acme's wc stops reporting").
//!
//! ```toml
//! [[incident]]
//! at = "2m"                    # simulated time after the fleet starts
//! kind = "node-not-ready"      # see IncidentKind
//! environment = "acme"
//! cluster = "wc"
//! name = "worker"              # a node name, or "worker" for the first worker
//! ```

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::cluster::{ClusterSim, Interval};
use super::faults::FaultSpec;
use super::registry::{KindId, ids};
use super::status::ApiError;
use crate::config::{self, ClusterRole};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IncidentKind {
    /// The pods of a Deployment (`namespace`, `name`) start crash-looping.
    Crashloop,
    /// A node (`name`, or "worker") stops reporting.
    NodeNotReady,
    /// A node reports again.
    NodeReady,
    /// The Velero schedule `name` (default velero-daily-backup) fails from now on, and
    /// a backup runs now and fails.
    BackupFailure,
    /// The backup storage location `name` (default `default`) becomes unavailable.
    StorageUnavailable,
    /// The uptime probe `target` fails for `duration`.
    ProbeOutage,
    /// A Deployment (`namespace`, `name`) is scaled to `replicas`.
    Scale,
}

/// The schedule a backup failure hits, and the location that becomes unavailable, when
/// the incident names none.
const DEFAULT_SCHEDULE: &str = "velero-daily-backup";
const DEFAULT_BSL: &str = "default";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incident {
    pub at: String,
    pub kind: IncidentKind,
    pub environment: String,
    pub cluster: ClusterRole,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub duration: Option<String>,
    #[serde(default)]
    pub replicas: Option<u32>,
}

/// A server fault at a time: `fault = { service = "api", kind = "down", duration = "30s" }`
/// (see `faults::FaultSpec` for the kinds and their values).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledFault {
    pub at: String,
    pub environment: String,
    pub cluster: ClusterRole,
    pub fault: FaultSpec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default, rename = "incident")]
    pub incidents: Vec<Incident>,
    #[serde(default, rename = "fault")]
    pub faults: Vec<ScheduledFault>,
    /// The file it was read from, for errors.
    #[serde(skip)]
    pub path: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("reading scenario {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "scenario {path}: {message}\n  help: see the format in src/sim/scenario.rs or README.md (\"Scenarios\")"
    )]
    Invalid { path: String, message: String },
}

impl Incident {
    /// The object the incident acts on exists in `c`.
    fn target_exists(&self, c: &ClusterSim) -> Result<(), String> {
        let ns = self.namespace.as_deref().unwrap_or("");
        let name = self.name.as_deref().unwrap_or("");
        let (kind, ns, name, what) = match self.kind {
            IncidentKind::Crashloop | IncidentKind::Scale => {
                (*ids::DEPLOYMENTS, ns, name.to_string(), "Deployment")
            }
            IncidentKind::NodeNotReady | IncidentKind::NodeReady => {
                let node = node_name(c, self.name.as_deref()).map_err(|e| e.to_string())?;
                (*ids::NODES, "", node, "node")
            }
            IncidentKind::BackupFailure => (
                *ids::SCHEDULES,
                "velero",
                self.name.as_deref().unwrap_or(DEFAULT_SCHEDULE).to_string(),
                "Velero Schedule",
            ),
            IncidentKind::StorageUnavailable => (
                *ids::BSLS,
                "velero",
                self.name.as_deref().unwrap_or(DEFAULT_BSL).to_string(),
                "BackupStorageLocation",
            ),
            IncidentKind::ProbeOutage => {
                let target = self.target.as_deref().unwrap_or("");
                let probes = c.probes();
                return if probes.iter().any(|p| p.target == target) {
                    Ok(())
                } else {
                    let names: Vec<&str> = probes.iter().map(|p| p.target.as_str()).collect();
                    Err(format!(
                        "no probe target {target:?} in {} (it has: {})",
                        c.name(),
                        names.join(", ")
                    ))
                };
            }
        };
        match c.store.get(kind, ns, &name) {
            Some(_) => Ok(()),
            None if ns.is_empty() => Err(format!("no {what} {name:?} in {}", c.name())),
            None => Err(format!("no {what} {ns}/{name} in {}", c.name())),
        }
    }

    fn require<'a>(&self, field: &'a Option<String>, what: &str) -> Result<&'a str, String> {
        field
            .as_deref()
            .ok_or_else(|| format!("a {:?} incident needs `{what}`", self.kind))
    }

    fn validate(&self) -> Result<(), String> {
        config::parse_duration(&self.at).map_err(|e| format!("`at = {:?}`: {e}", self.at))?;
        match self.kind {
            IncidentKind::Crashloop | IncidentKind::Scale => {
                self.require(&self.namespace, "namespace")?;
                self.require(&self.name, "name")?;
            }
            IncidentKind::ProbeOutage => {
                self.require(&self.target, "target")?;
                let d = self.require(&self.duration, "duration")?;
                config::parse_duration(d).map_err(|e| format!("`duration = {d:?}`: {e}"))?;
            }
            _ => {}
        }
        if self.kind == IncidentKind::Scale && self.replicas.is_none() {
            return Err("a scale incident needs `replicas`".into());
        }
        Ok(())
    }
}

/// Reads and checks a scenario file; errors name the file and the incident.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        path: p.clone(),
        source,
    })?;
    let mut scenario: Scenario = toml::from_str(&text).map_err(|e| ScenarioError::Invalid {
        path: p.clone(),
        message: e.to_string(),
    })?;
    scenario.path = p.clone();
    for (i, inc) in scenario.incidents.iter().enumerate() {
        inc.validate()
            .map_err(|message| invalid(&scenario, i, inc, message))?;
    }
    for (i, f) in scenario.faults.iter().enumerate() {
        let valid = config::parse_duration(&f.at)
            .map_err(|e| format!("`at = {:?}`: {e}", f.at))
            .and_then(|_| f.fault.check().map(drop));
        valid.map_err(|message| ScenarioError::Invalid {
            path: p.clone(),
            message: format!(
                "fault {} ({:?} in {}-{}): {message}",
                i + 1,
                f.fault.kind,
                f.environment,
                f.cluster
            ),
        })?;
    }
    Ok(scenario)
}

fn invalid(scenario: &Scenario, i: usize, inc: &Incident, message: String) -> ScenarioError {
    ScenarioError::Invalid {
        path: scenario.path.clone(),
        message: format!(
            "incident {} ({:?} in {}-{}): {message}",
            i + 1,
            inc.kind,
            inc.environment,
            inc.cluster
        ),
    }
}

/// Checks that every incident names a cluster of the fleet and an object in it, so a
/// typo is refused at start instead of an incident that silently never happens.
pub fn check(
    scenario: &Scenario,
    find: impl Fn(&str) -> Option<Arc<ClusterSim>>,
) -> Result<(), ScenarioError> {
    for (i, inc) in scenario.incidents.iter().enumerate() {
        let name = format!("{}-{}", inc.environment, inc.cluster);
        let found = match find(&name) {
            None => Err(format!(
                "the simulated fleet has no cluster {name} (environment {:?})",
                inc.environment
            )),
            Some(c) => inc.target_exists(&c),
        };
        found.map_err(|message| invalid(scenario, i, inc, message))?;
    }
    for (i, f) in scenario.faults.iter().enumerate() {
        let name = format!("{}-{}", f.environment, f.cluster);
        if find(&name).is_none() {
            return Err(ScenarioError::Invalid {
                path: scenario.path.clone(),
                message: format!("fault {}: the simulated fleet has no cluster {name}", i + 1),
            });
        }
    }
    Ok(())
}

/// Runs every incident at its time against the cluster it names ([`check`] made sure it
/// exists at start). An incident that fails later (its object was deleted meanwhile) is
/// logged, not fatal: a scenario must not take the simulator down.
pub fn spawn(
    scenario: Scenario,
    find: impl Fn(&str) -> Option<Arc<ClusterSim>> + Send + Sync + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let find = Arc::new(find);
        let mut tasks = Vec::new();
        for inc in scenario.incidents {
            let find = find.clone();
            tasks.push(tokio::spawn(async move {
                let Some(cluster) = find(&format!("{}-{}", inc.environment, inc.cluster)) else {
                    tracing::warn!(env = %inc.environment, "scenario names an unknown cluster");
                    return;
                };
                let at = config::parse_duration(&inc.at).unwrap_or_default();
                // `at` counts from the fleet's start, not from this task's.
                cluster.clock.sleep_until_elapsed(at).await;
                match apply(&cluster, &inc) {
                    Ok(()) => tracing::info!(kind = ?inc.kind, cluster = %cluster.name(), "scenario incident injected"),
                    Err(e) => tracing::warn!(kind = ?inc.kind, cluster = %cluster.name(), error = %e, "scenario incident failed"),
                }
            }));
        }
        for f in scenario.faults {
            let find = find.clone();
            tasks.push(tokio::spawn(async move {
                let Some(cluster) = find(&format!("{}-{}", f.environment, f.cluster)) else {
                    return;
                };
                let at = config::parse_duration(&f.at).unwrap_or_default();
                // `at` counts from the fleet's start, not from this task's.
                cluster.clock.sleep_until_elapsed(at).await;
                match cluster.add_fault(f.fault) {
                    Ok(()) => tracing::info!(cluster = %cluster.name(), "scenario fault injected"),
                    Err(e) => tracing::warn!(cluster = %cluster.name(), error = %e, "scenario fault refused"),
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    })
}

fn annotate(
    c: &ClusterSim,
    kind: KindId,
    ns: &str,
    name: &str,
    path: &[&str],
    key: &str,
    value: Option<&str>,
) -> Result<(), ApiError> {
    c.store.replace(kind, ns, name, |o| {
        let mut o = o.clone();
        let target = path.iter().fold(&mut o, |v, p| &mut v[*p]);
        match value {
            Some(v) => target[key] = json!(v),
            None => {
                if let Some(m) = target.as_object_mut() {
                    m.remove(key);
                }
            }
        }
        Ok(o)
    })?;
    Ok(())
}

fn node_name(c: &ClusterSim, wanted: Option<&str>) -> Result<String, ApiError> {
    match wanted {
        Some(n) if n != "worker" => Ok(n.to_string()),
        _ => {
            let (nodes, _) = c.store.list(*ids::NODES, None);
            nodes
                .iter()
                .find(|n| {
                    n["metadata"]["labels"]
                        .get("node-role.kubernetes.io/control-plane")
                        .is_none()
                })
                .and_then(|n| n["metadata"]["name"].as_str().map(String::from))
                .ok_or_else(|| ApiError::not_found("", "nodes", "worker"))
        }
    }
}

fn apply(c: &ClusterSim, inc: &Incident) -> Result<(), ApiError> {
    let ns = inc.namespace.as_deref().unwrap_or("");
    let name = inc.name.as_deref().unwrap_or("");
    match inc.kind {
        IncidentKind::Crashloop => annotate(
            c,
            *ids::DEPLOYMENTS,
            ns,
            name,
            &["spec", "template", "metadata", "annotations"],
            "sim.ck8s.io/crashloop",
            Some("true"),
        ),
        IncidentKind::NodeNotReady | IncidentKind::NodeReady => {
            let node = node_name(c, inc.name.as_deref())?;
            let value = (inc.kind == IncidentKind::NodeNotReady).then_some("true");
            annotate(
                c,
                *ids::NODES,
                "",
                &node,
                &["metadata", "annotations"],
                "sim.ck8s.io/not-ready",
                value,
            )
        }
        IncidentKind::BackupFailure => {
            let schedule = inc.name.as_deref().unwrap_or(DEFAULT_SCHEDULE);
            annotate(
                c,
                *ids::SCHEDULES,
                "velero",
                schedule,
                &["metadata", "annotations"],
                "sim.ck8s.io/backup-outcome",
                Some("Failed"),
            )?;
            let spec = c
                .store
                .get(*ids::SCHEDULES, "velero", schedule)
                .map(|s| s["spec"]["template"].clone())
                .unwrap_or(Value::Null);
            let stamp = c.clock.now().format("%Y%m%d%H%M%S");
            c.store.create(
                *ids::BACKUPS,
                json!({
                    "metadata": {"name": format!("{schedule}-{stamp}"), "namespace": "velero",
                        "labels": {"velero.io/schedule-name": schedule},
                        "annotations": {"sim.ck8s.io/backup-outcome": "Failed"}},
                    "spec": spec,
                }),
            )?;
            Ok(())
        }
        IncidentKind::StorageUnavailable => {
            let bsl = inc.name.as_deref().unwrap_or(DEFAULT_BSL);
            annotate(
                c,
                *ids::BSLS,
                "velero",
                bsl,
                &["metadata", "annotations"],
                "sim.ck8s.io/unavailable",
                Some("true"),
            )
        }
        IncidentKind::ProbeOutage => {
            let target = inc.target.as_deref().unwrap_or("");
            let d = inc
                .duration
                .as_deref()
                .and_then(|d| config::parse_duration(d).ok())
                .unwrap_or(Duration::from_secs(600));
            // Probes sample once a minute; the outage covers the current minute's probe.
            let now = c.clock.now();
            let start =
                now - chrono::Duration::milliseconds(now.timestamp_millis().rem_euclid(60_000));
            let end = now + chrono::Duration::from_std(d).unwrap_or_default();
            if c.add_outage(target, Interval { start, end }) {
                Ok(())
            } else {
                Err(ApiError::not_found("", "probes", target))
            }
        }
        IncidentKind::Scale => {
            let replicas = inc.replicas.unwrap_or(1);
            c.store.replace(*ids::DEPLOYMENTS, ns, name, |d| {
                let mut d = d.clone();
                d["spec"]["replicas"] = json!(replicas);
                Ok(d)
            })?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::strategy::Strategy as _;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Any scenario file is loaded or refused with its path, never a panic.
        #[test]
        fn any_scenario_file_is_loaded_or_refused(
            text in proptest::collection::vec(proptest::prelude::any::<char>(), 0..1_500)
                .prop_map(String::from_iter),
            prefix in proptest::sample::select(vec![
                "",
                "[[incident]]\nat = \"1m\"\nenvironment = \"acme\"\ncluster = \"wc\"\n",
                "[[fault]]\nat = \"0s\"\nenvironment = \"acme\"\ncluster = \"wc\"\n",
            ]),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("s.toml");
            std::fs::write(&path, format!("{prefix}{text}")).unwrap();
            if let Err(e) = load(&path) {
                proptest::prop_assert!(e.to_string().contains("s.toml"), "{e}");
            }
        }
    }

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(&path, text).unwrap();
        load(&path)
    }

    #[test]
    fn a_valid_scenario_loads() {
        let s = parse("[[incident]]\nat = \"2m\"\nkind = \"node-not-ready\"\nenvironment = \"acme\"\ncluster = \"wc\"\n\n[[incident]]\nat = \"90s\"\nkind = \"probe-outage\"\nenvironment = \"acme\"\ncluster = \"sc\"\ntarget = \"dex\"\nduration = \"20m\"\n").unwrap();
        assert_eq!(s.incidents.len(), 2);
        assert_eq!(s.incidents[1].kind, IncidentKind::ProbeOutage);
    }

    #[test]
    fn errors_name_the_file_and_the_incident() {
        let err = parse("[[incident]]\nat = \"1m\"\nkind = \"crashloop\"\nenvironment = \"acme\"\ncluster = \"wc\"\n").unwrap_err().to_string();
        assert!(
            err.contains("s.toml")
                && err.contains("incident 1")
                && err.contains("needs `namespace`"),
            "{err}"
        );
        let err = parse("[[incident]]\nat = \"soon\"\nkind = \"scale\"\nenvironment = \"a\"\ncluster = \"wc\"\n").unwrap_err().to_string();
        assert!(err.contains("`at = \"soon\"`"), "{err}");
        let err = parse(
            "[[incident]]\nat = \"1m\"\nkind = \"meteor\"\nenvironment = \"a\"\ncluster = \"wc\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("meteor"), "{err}");
    }
}
