//! The fleet configuration file: a versioned TOML file with the service policy and one
//! `[[environment]]` per customer, each with its service cluster (`sc`) and workload cluster
//! (`wc`). `assets/fleet.example.toml` documents every key.
//!
//! Loading runs in three passes so that every error can point at a line:
//! 1. parse the TOML into a spanned document tree: syntax errors, then the `version` gate, so a
//!    newer format is refused before its new keys cause confusing unknown-key errors;
//! 2. deserialize the tree into the `Raw*` structs: unknown keys, wrong types, missing keys;
//! 3. validate the raw structs into the model: names, URLs, windows, SLOs, paths.
//!
//! Errors of passes 2 and 3 are located by looking their span or key path up in the tree.
//! A fleet without environments is valid: a fresh install starts empty.

use crate::format::closest;
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, NaiveTime, SecondsFormat, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize, Serializer};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::slo::{self, ExclusionKind};

/// The newest config format this build understands.
pub const CURRENT_VERSION: u32 = 1;

/// Where the annotated example lives in the source tree; error messages point users at it.
pub const EXAMPLE_PATH: &str = "assets/fleet.example.toml";

/// The annotated example, embedded so the binary can print or install it without the sources.
pub const EXAMPLE: &str = include_str!("../../../assets/fleet.example.toml");

// ---------------------------------------------------------------------------------------------
// The validated model
// ---------------------------------------------------------------------------------------------

/// A validated fleet config.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fleet {
    pub version: u32,
    pub policy: Policy,
    pub environments: Vec<Environment>,
    /// Intervals the SLO leaves out, in file order.
    pub exclusions: Vec<ExclusionConfig>,
    /// The file the fleet was read from; `None` for a fleet built in memory.
    pub source: Option<PathBuf>,
}

impl Default for Fleet {
    fn default() -> Self {
        Fleet {
            version: CURRENT_VERSION,
            policy: Policy::default(),
            environments: Vec::new(),
            exclusions: Vec::new(),
            source: None,
        }
    }
}

impl Fleet {
    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|env| env.name == name)
    }

    /// The SLO exclusions for one probe target of one cluster. `slo::report` applies every
    /// exclusion it is given to the target it reports on, so the scoping happens here.
    pub fn slo_exclusions(
        &self,
        env: &str,
        role: ClusterRole,
        target: &str,
    ) -> Vec<slo::Exclusion> {
        self.exclusions
            .iter()
            .filter(|ex| ex.applies_to(env, role, target))
            .map(ExclusionConfig::to_slo)
            .collect()
    }

    /// `probes` of one cluster, each with the exclusions that apply to it.
    pub fn with_exclusions<'a>(
        &self,
        env: &str,
        role: ClusterRole,
        probes: impl IntoIterator<Item = &'a slo::Probe>,
    ) -> Vec<(slo::Probe, Vec<slo::Exclusion>)> {
        probes
            .into_iter()
            .map(|p| (p.clone(), self.slo_exclusions(env, role, &p.target)))
            .collect()
    }
}

/// An interval `[start, end)` left out of the SLO: planned maintenance or a declared
/// force-majeure event, for the whole fleet or narrowed to an environment, a cluster role
/// and a probe target. Every scope left out (`None`) means "all".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExclusionConfig {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    #[serde(serialize_with = "ser_exclusion_kind")]
    pub kind: ExclusionKind,
    pub reason: String,
    /// A known environment's name.
    pub environment: Option<String>,
    pub cluster: Option<ClusterRole>,
    /// A probe target of the clusters in scope.
    pub target: Option<String>,
}

impl ExclusionConfig {
    pub fn applies_to(&self, env: &str, role: ClusterRole, target: &str) -> bool {
        self.environment.as_deref().is_none_or(|e| e == env)
            && self.cluster.is_none_or(|c| c == role)
            && self.target.as_deref().is_none_or(|t| t == target)
    }

    /// Applies to every target of every cluster.
    pub fn is_fleet_wide(&self) -> bool {
        self.environment.is_none() && self.cluster.is_none() && self.target.is_none()
    }

    pub fn to_slo(&self) -> slo::Exclusion {
        slo::Exclusion {
            start: self.start,
            end: self.end,
            kind: self.kind,
            reason: self.reason.clone(),
        }
    }
}

/// One customer environment: a service cluster and a workload cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Environment {
    /// DNS label, unique in the fleet.
    pub name: String,
    /// UI colour: a colour name or `#rrggbb`.
    pub accent: Option<String>,
    /// Explicit override of the policy's worker limit for this environment.
    pub max_workers: Option<u32>,
    /// Nothing may change it from this console or its scripts (a production environment
    /// viewed from a shared bastion): the engine refuses its runs, the console its actions.
    pub read_only: bool,
    /// Free labels to filter the fleet by (`gold`, `eu-north`).
    pub tags: Vec<String>,
    pub sc: ClusterConfig,
    pub wc: ClusterConfig,
}

impl Environment {
    pub fn cluster(&self, role: ClusterRole) -> &ClusterConfig {
        match role {
            ClusterRole::Sc => &self.sc,
            ClusterRole::Wc => &self.wc,
        }
    }

    pub fn clusters(&self) -> impl Iterator<Item = (ClusterRole, &ClusterConfig)> {
        ClusterRole::ALL
            .into_iter()
            .map(|role| (role, self.cluster(role)))
    }

    /// The worker limit that applies: the environment's override, else the policy's.
    pub fn max_workers(&self, policy: &Policy) -> u32 {
        self.max_workers.unwrap_or(policy.max_workers)
    }
}

/// Which of an environment's two clusters.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ClusterRole {
    /// Service (management) cluster.
    Sc,
    /// Workload cluster.
    Wc,
}

impl ClusterRole {
    pub const ALL: [ClusterRole; 2] = [ClusterRole::Sc, ClusterRole::Wc];

    pub fn as_str(self) -> &'static str {
        match self {
            ClusterRole::Sc => "sc",
            ClusterRole::Wc => "wc",
        }
    }

    pub fn long_name(self) -> &'static str {
        match self {
            ClusterRole::Sc => "service cluster",
            ClusterRole::Wc => "workload cluster",
        }
    }
}

impl fmt::Display for ClusterRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown cluster role `{0}`: expected `sc` or `wc`")]
pub struct UnknownClusterRole(pub String);

impl FromStr for ClusterRole {
    type Err = UnknownClusterRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "sc" => Ok(ClusterRole::Sc),
            "wc" => Ok(ClusterRole::Wc),
            _ => Err(UnknownClusterRole(s.to_owned())),
        }
    }
}

/// How the console reaches one cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterConfig {
    /// Absolute or config-relative path, with `~` already expanded.
    pub kubeconfig: PathBuf,
    pub context: String,
    /// Validated absolute http(s) URL.
    pub prometheus: String,
    /// Validated absolute http(s) URL.
    pub alertmanager: String,
    /// The name of the credential (bearer token or basic auth) Prometheus asks for, kept in
    /// the credential store (`src/secrets.rs`); `None` when it asks for none.
    pub prometheus_credential: Option<String>,
    /// As `prometheus_credential`, for Alertmanager.
    pub alertmanager_credential: Option<String>,
    /// The label matchers that select this cluster's `probe_success` series, as written;
    /// `None` is CK8s' default, `cluster = "<env>-<sc|wc>"`. Each probe's resolved
    /// selector already includes them.
    pub slo_labels: Option<BTreeMap<String, String>>,
    pub probes: Vec<Probe>,
}

// Probes are the SLO's vocabulary; the config declares them.
pub use crate::slo::{Probe, ProbeKind};

/// When major updates may happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MajorUpdates {
    /// Only in the first maintenance window (Wednesday) of the month.
    FirstWednesday,
    /// In any maintenance window.
    AnyWednesday,
}

/// The weekly window for planned updates, in the policy time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MaintenanceWindow {
    #[serde(serialize_with = "ser_weekday")]
    pub day: Weekday,
    #[serde(serialize_with = "ser_time")]
    pub start: NaiveTime,
    #[serde(serialize_with = "ser_time")]
    pub end: NaiveTime,
}

/// A window that recurs every day, in the policy time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DailyWindow {
    #[serde(serialize_with = "ser_time")]
    pub start: NaiveTime,
    #[serde(serialize_with = "ser_time")]
    pub end: NaiveTime,
}

impl DailyWindow {
    /// How long the window lasts; one that ends at or before its start crosses midnight.
    pub fn length(&self) -> Duration {
        let minutes = (self.end - self.start).num_minutes().rem_euclid(24 * 60);
        let minutes = if minutes == 0 { 24 * 60 } else { minutes };
        Duration::from_secs(minutes as u64 * 60)
    }
}

impl Policy {
    /// How old the newest completed backup may be before a cluster has none to restore
    /// from: `backup_max_age` when the config sets it, else a day plus the backup window
    /// (27 h for the service description's 00:00-03:00). `status`, `check`, the Backups
    /// pane and the policy's backup-freshness rule all judge by it.
    pub fn backup_max_age(&self) -> Duration {
        self.backup_max_age
            .unwrap_or(Duration::from_secs(24 * 3600) + self.backup_window.length())
    }
}

/// The service commitments the console enforces or measures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policy {
    pub maintenance_window: MaintenanceWindow,
    /// Time zone of the maintenance and backup windows.
    #[serde(serialize_with = "ser_display")]
    pub timezone: Tz,
    pub major_updates: MajorUpdates,
    pub max_postponement_days: u32,
    pub control_plane_nodes: u32,
    pub max_workers: u32,
    pub backup_window: DailyWindow,
    pub backups_kept: u32,
    /// Set in the config: see [`Policy::backup_max_age`] for the default.
    #[serde(serialize_with = "ser_opt_duration")]
    pub backup_max_age: Option<Duration>,
    /// A certificate that expires sooner than this is a warning (and critical once expired).
    #[serde(serialize_with = "ser_duration")]
    pub certificate_warning: Duration,
    #[serde(serialize_with = "ser_duration")]
    pub recovery_within: Duration,
    /// Percent, for probes of kind `cluster`.
    pub slo_cluster: f64,
    /// Percent, for probes of kind `external`.
    pub slo_external: f64,
}

/// The numbers of the Compliant Kubernetes service description.
impl Default for Policy {
    fn default() -> Self {
        Policy {
            maintenance_window: MaintenanceWindow {
                day: Weekday::Wed,
                start: hm(7, 0),
                end: hm(12, 0),
            },
            timezone: chrono_tz::Europe::Stockholm,
            major_updates: MajorUpdates::FirstWednesday,
            max_postponement_days: 31,
            control_plane_nodes: 3,
            max_workers: 20,
            backup_window: DailyWindow {
                start: hm(0, 0),
                end: hm(3, 0),
            },
            backups_kept: 3,
            backup_max_age: None,
            certificate_warning: Duration::from_secs(14 * 86_400),
            recovery_within: Duration::from_secs(4 * 3600),
            slo_cluster: 99.95,
            slo_external: 99.5,
        }
    }
}

impl Policy {
    pub fn slo_for(&self, kind: ProbeKind) -> f64 {
        match kind {
            ProbeKind::Cluster => self.slo_cluster,
            ProbeKind::External => self.slo_external,
        }
    }
}

fn hm(hour: u32, minute: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(hour, minute, 0).expect("constant time of day is valid")
}

// The model serializes the way the config spells values, so JSON output reads like the file.

fn ser_display<T: fmt::Display, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

fn ser_time<S: Serializer>(time: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_time(*time))
}

fn ser_weekday<S: Serializer>(day: &Weekday, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(weekday_name(*day))
}

fn ser_duration<S: Serializer>(duration: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_duration(*duration))
}

fn ser_opt_duration<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&format_duration(*d)),
        None => s.serialize_none(),
    }
}

fn ser_exclusion_kind<S: Serializer>(kind: &ExclusionKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(RawExclusionKind::from(*kind).as_str())
}

/// RFC 3339 in UTC with a `Z`, the way exclusions are written back.
fn format_instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn format_time(time: NaiveTime) -> String {
    time.format("%H:%M").to_string()
}

fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "monday",
        Weekday::Tue => "tuesday",
        Weekday::Wed => "wednesday",
        Weekday::Thu => "thursday",
        Weekday::Fri => "friday",
        Weekday::Sat => "saturday",
        Weekday::Sun => "sunday",
    }
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/// Reads and validates the fleet config at `path`.
pub fn load(path: &Path) -> Result<Fleet, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|err| ConfigError::unreadable(path, &err))?;
    parse(&text, path)
}

/// Parses and validates fleet config text. `origin` names the file in messages, and relative
/// kubeconfig paths resolve against its directory.
pub fn parse(text: &str, origin: &Path) -> Result<Fleet, ConfigError> {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from);
    parse_with_home(text, origin, home.as_deref())
}

/// [`parse`] with an explicit home directory for `~` expansion, so tests need not touch the
/// process environment.
pub fn parse_with_home(
    text: &str,
    origin: &Path,
    home: Option<&Path>,
) -> Result<Fleet, ConfigError> {
    let root = DeTable::parse(text).map_err(|err| ConfigError::syntax(text, origin, &err))?;
    let doc = Doc {
        text,
        origin,
        root: root.get_ref(),
        home,
    };
    doc.check_version()?;
    let raw = RawFleet::deserialize(toml::Deserializer::from(root.clone()))
        .map_err(|err| doc.serde_error(&err))?;
    doc.validate(raw)
}

/// Renders a fleet as config text that [`parse`] reads back to the same fleet (except
/// `source`). Policy values equal to the service description are left out, as are probe SLOs
/// equal to their kind's default. Paths are written as stored, i.e. already expanded.
pub fn to_toml(fleet: &Fleet) -> String {
    let raw = RawFleet::from_model(fleet);
    let body = toml::to_string(&raw).expect("the raw config types always serialize to TOML");
    format!(
        "# Fleet config written by ck8s-console; the format is documented in {EXAMPLE_PATH}.\n{body}"
    )
}

// ---------------------------------------------------------------------------------------------
// Raw serde structs: the file's shape, before validation
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawFleet {
    version: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<RawPolicy>,
    #[serde(default, rename = "environment", skip_serializing_if = "Vec::is_empty")]
    environments: Vec<RawEnvironment>,
    #[serde(default, rename = "exclusion", skip_serializing_if = "Vec::is_empty")]
    exclusions: Vec<RawExclusion>,
}

#[derive(Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(skip_serializing_if = "Option::is_none")]
    maintenance_window: Option<RawMaintenanceWindow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timezone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    major_updates: Option<MajorUpdates>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_postponement_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    control_plane_nodes: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_workers: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    backup_window: Option<RawDailyWindow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    backups_kept: Option<u32>,
    /// Durations are a string or a number of minutes; checked by hand for a clearer
    /// message than an untagged enum would give.
    #[serde(skip_serializing_if = "Option::is_none")]
    backup_max_age: Option<toml::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate_warning: Option<toml::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_within: Option<toml::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    slo: Option<RawSlo>,
}

#[derive(Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawMaintenanceWindow {
    day: String,
    start: String,
    end: String,
}

#[derive(Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawDailyWindow {
    start: String,
    end: String,
}

#[derive(Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawSlo {
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    external: Option<f64>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawEnvironment {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    accent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_workers: Option<u32>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    read_only: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
    sc: RawCluster,
    wc: RawCluster,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawCluster {
    kubeconfig: String,
    context: String,
    prometheus: String,
    alertmanager: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    prometheus_credential: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alertmanager_credential: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    slo_labels: Option<BTreeMap<String, String>>,
    #[serde(default, rename = "probe", skip_serializing_if = "Vec::is_empty")]
    probes: Vec<RawProbe>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawProbe {
    target: String,
    kind: ProbeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    slo: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    selector: Option<String>,
}

/// Start and end are an RFC 3339 string or a bare TOML offset datetime; checked by hand so
/// both spellings get the same message.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawExclusion {
    start: toml::Value,
    end: toml::Value,
    kind: RawExclusionKind,
    reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    environment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<ClusterRole>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<String>,
}

/// The file spells kinds in kebab-case like every other enumerated value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
enum RawExclusionKind {
    PlannedMaintenance,
    ForceMajeure,
}

impl RawExclusionKind {
    fn as_str(self) -> &'static str {
        match self {
            RawExclusionKind::PlannedMaintenance => "planned-maintenance",
            RawExclusionKind::ForceMajeure => "force-majeure",
        }
    }
}

impl From<ExclusionKind> for RawExclusionKind {
    fn from(kind: ExclusionKind) -> Self {
        match kind {
            ExclusionKind::PlannedMaintenance => RawExclusionKind::PlannedMaintenance,
            ExclusionKind::ForceMajeure => RawExclusionKind::ForceMajeure,
        }
    }
}

impl From<RawExclusionKind> for ExclusionKind {
    fn from(kind: RawExclusionKind) -> Self {
        match kind {
            RawExclusionKind::PlannedMaintenance => ExclusionKind::PlannedMaintenance,
            RawExclusionKind::ForceMajeure => ExclusionKind::ForceMajeure,
        }
    }
}

impl RawExclusion {
    fn from_model(ex: &ExclusionConfig) -> RawExclusion {
        RawExclusion {
            start: toml::Value::String(format_instant(ex.start)),
            end: toml::Value::String(format_instant(ex.end)),
            kind: ex.kind.into(),
            reason: ex.reason.clone(),
            environment: ex.environment.clone(),
            cluster: ex.cluster,
            target: ex.target.clone(),
        }
    }
}

impl RawFleet {
    fn from_model(fleet: &Fleet) -> RawFleet {
        let policy = RawPolicy::from_model(&fleet.policy);
        RawFleet {
            version: CURRENT_VERSION,
            policy: (policy != RawPolicy::default()).then_some(policy),
            environments: fleet
                .environments
                .iter()
                .map(|env| RawEnvironment {
                    name: env.name.clone(),
                    accent: env.accent.clone(),
                    max_workers: env.max_workers,
                    read_only: env.read_only,
                    tags: env.tags.clone(),
                    sc: RawCluster::from_model(&env.sc, &fleet.policy),
                    wc: RawCluster::from_model(&env.wc, &fleet.policy),
                })
                .collect(),
            exclusions: fleet
                .exclusions
                .iter()
                .map(RawExclusion::from_model)
                .collect(),
        }
    }
}

/// `Some(value)` when it differs from the default, so written configs show only deviations.
fn differs<T: PartialEq + Clone>(value: &T, default: &T) -> Option<T> {
    (value != default).then(|| value.clone())
}

impl RawPolicy {
    fn from_model(p: &Policy) -> RawPolicy {
        let d = Policy::default();
        let slo = RawSlo {
            cluster: differs(&p.slo_cluster, &d.slo_cluster),
            external: differs(&p.slo_external, &d.slo_external),
        };
        RawPolicy {
            maintenance_window: differs(&p.maintenance_window, &d.maintenance_window).map(|w| {
                RawMaintenanceWindow {
                    day: weekday_name(w.day).to_owned(),
                    start: format_time(w.start),
                    end: format_time(w.end),
                }
            }),
            timezone: differs(&p.timezone, &d.timezone).map(|tz| tz.name().to_owned()),
            major_updates: differs(&p.major_updates, &d.major_updates),
            max_postponement_days: differs(&p.max_postponement_days, &d.max_postponement_days),
            control_plane_nodes: differs(&p.control_plane_nodes, &d.control_plane_nodes),
            max_workers: differs(&p.max_workers, &d.max_workers),
            backup_window: differs(&p.backup_window, &d.backup_window).map(|w| RawDailyWindow {
                start: format_time(w.start),
                end: format_time(w.end),
            }),
            backups_kept: differs(&p.backups_kept, &d.backups_kept),
            backup_max_age: p
                .backup_max_age
                .map(|r| toml::Value::String(format_duration(r))),
            certificate_warning: differs(&p.certificate_warning, &d.certificate_warning)
                .map(|r| toml::Value::String(format_duration(r))),
            recovery_within: differs(&p.recovery_within, &d.recovery_within)
                .map(|r| toml::Value::String(format_duration(r))),
            slo: (slo.cluster.is_some() || slo.external.is_some()).then_some(slo),
        }
    }
}

impl RawCluster {
    fn from_model(cluster: &ClusterConfig, policy: &Policy) -> RawCluster {
        RawCluster {
            kubeconfig: cluster.kubeconfig.to_string_lossy().into_owned(),
            context: cluster.context.clone(),
            prometheus: cluster.prometheus.clone(),
            alertmanager: cluster.alertmanager.clone(),
            prometheus_credential: cluster.prometheus_credential.clone(),
            alertmanager_credential: cluster.alertmanager_credential.clone(),
            slo_labels: cluster.slo_labels.clone(),
            probes: cluster
                .probes
                .iter()
                .map(|probe| RawProbe {
                    target: probe.target.clone(),
                    kind: probe.kind,
                    slo: differs(&probe.slo, &policy.slo_for(probe.kind)),
                    selector: probe.custom_selector.then(|| probe.selector.clone()),
                })
                .collect(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// A 1-based position in the config file; the column counts characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

/// A config the console cannot use. `Display` renders the full message, e.g.
///
/// ```text
/// error: /home/me/.config/ck8s-console/fleet.toml:12:1: unknown key `prometeus` in environment "acme" cluster sc
///   help: did you mean `prometheus`? Valid keys here: kubeconfig, context, prometheus, alertmanager, prometheus_credential, alertmanager_credential, slo_labels, probe
/// ```
#[derive(Debug, Clone)]
pub struct ConfigError(Box<Details>);

/// Boxed so that `Result<_, ConfigError>` stays small on the happy path.
#[derive(Debug, Clone)]
struct Details {
    file: PathBuf,
    location: Option<Location>,
    key_path: Option<String>,
    problem: Problem,
    help: String,
}

/// What is wrong, without the where and the fix. `key` is the key's own name, `section` a
/// readable name of the table that holds it, e.g. `environment "acme" cluster sc`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    #[error("cannot read the fleet config: {reason}")]
    Unreadable { reason: String },
    #[error("TOML syntax error: {reason}")]
    Syntax { reason: String },
    #[error("the config has no `version` key")]
    MissingVersion,
    #[error(
        "this config is format version {found}, but this ck8s-console understands up to version {CURRENT_VERSION}"
    )]
    FutureVersion { found: i64 },
    #[error("unknown key `{key}` in {section}")]
    UnknownKey {
        key: String,
        section: String,
        suggestion: Option<String>,
        valid: Vec<String>,
    },
    #[error("`{key}` in {section} must be {expected}, found {found}")]
    WrongType {
        key: String,
        section: String,
        expected: String,
        found: String,
    },
    #[error("{section} is missing `{key}`")]
    MissingKey { key: String, section: String },
    #[error("`{key}` in {section} has an invalid value {value}: {reason}")]
    InvalidValue {
        key: String,
        section: String,
        value: String,
        reason: String,
    },
    #[error("`name` {name:?} is used by two environments (first on line {first_line})")]
    DuplicateEnvironment { name: String, first_line: usize },
    /// A deserializer message this module does not rephrase.
    #[error("{section}: {message}")]
    Other { section: String, message: String },
}

impl ConfigError {
    /// The process exit code for a bad config: the input is wrong, fix it and run again.
    pub fn exit_code(&self) -> i32 {
        crate::exit::USAGE
    }

    /// The config file the error is about.
    pub fn file(&self) -> &Path {
        &self.0.file
    }

    pub fn location(&self) -> Option<Location> {
        self.0.location
    }

    pub fn line(&self) -> Option<usize> {
        self.0.location.map(|l| l.line)
    }

    /// Dotted key path with array indices, e.g. `environment[0].wc.prometheus`.
    pub fn key_path(&self) -> Option<&str> {
        self.0.key_path.as_deref()
    }

    pub fn problem(&self) -> &Problem {
        &self.0.problem
    }

    /// How to fix it; may span several lines (e.g. a table to add).
    pub fn help(&self) -> &str {
        &self.0.help
    }

    fn unreadable(path: &Path, err: &std::io::Error) -> ConfigError {
        let help = if err.kind() == std::io::ErrorKind::NotFound {
            format!(
                "create it by copying {EXAMPLE_PATH} there and editing it; \
                 `ck8s-console info` shows where the console looks for its config"
            )
        } else {
            "check that the file is readable UTF-8 text; \
             `ck8s-console info` shows where the console looks for its config"
                .to_owned()
        };
        ConfigError(Box::new(Details {
            file: path.to_path_buf(),
            location: None,
            key_path: None,
            problem: Problem::Unreadable {
                reason: err.to_string(),
            },
            help,
        }))
    }

    fn syntax(text: &str, origin: &Path, err: &toml::de::Error) -> ConfigError {
        ConfigError(Box::new(Details {
            file: origin.to_path_buf(),
            location: err.span().map(|span| location(text, span.start)),
            key_path: None,
            problem: Problem::Syntax {
                reason: err.message().trim().replace('\n', "; "),
            },
            help: format!("fix the TOML syntax at this position; {EXAMPLE_PATH} shows the format"),
        }))
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.0;
        write!(f, "error: {}", d.file.display())?;
        if let Some(Location { line, column }) = d.location {
            write!(f, ":{line}:{column}")?;
        }
        write!(f, ": {}\n  help: ", d.problem)?;
        for (i, line) in d.help.lines().enumerate() {
            if i > 0 {
                f.write_str("\n        ")?;
            }
            f.write_str(line)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

fn location(text: &str, offset: usize) -> Location {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Location {
        line: before.matches('\n').count() + 1,
        column: before[line_start..].chars().count() + 1,
    }
}

// ---------------------------------------------------------------------------------------------
// Key paths and the schema used in messages
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// A path into the document, e.g. `environment[0].sc.prometheus`.
#[derive(Debug, Clone, Default, PartialEq)]
struct KeyPath(Vec<Seg>);

impl KeyPath {
    fn key(&self, key: &str) -> KeyPath {
        let mut path = self.clone();
        path.0.push(Seg::Key(key.to_owned()));
        path
    }

    fn index(&self, index: usize) -> KeyPath {
        let mut path = self.clone();
        path.0.push(Seg::Index(index));
        path
    }

    /// The path without its last key (and any indices after it), and that key.
    fn split_leaf(&self) -> (KeyPath, Option<&str>) {
        let Some(pos) = self.0.iter().rposition(|s| matches!(s, Seg::Key(_))) else {
            return (self.clone(), None);
        };
        let Seg::Key(key) = &self.0[pos] else {
            unreachable!("rposition found a key")
        };
        (KeyPath(self.0[..pos].to_vec()), Some(key))
    }

    /// The keys without indices, with `sc`/`wc` folded into `cluster`: the section's shape.
    fn shape(&self) -> Vec<&str> {
        let keys: Vec<&str> = self
            .0
            .iter()
            .filter_map(|s| match s {
                Seg::Key(k) => Some(k.as_str()),
                Seg::Index(_) => None,
            })
            .collect();
        keys.iter()
            .enumerate()
            .map(|(i, k)| match (i, *k) {
                (1, "sc" | "wc") if keys[0] == "environment" => "cluster",
                (_, k) => k,
            })
            .collect()
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => f.write_str(k)?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A valid key and an example line for help texts. `{env}` and `{role}` in the example are
/// filled in from the environment and cluster the help is about.
struct KeySpec {
    key: &'static str,
    example: &'static str,
}

const fn spec(key: &'static str, example: &'static str) -> KeySpec {
    KeySpec { key, example }
}

/// The valid keys of one table. A unit test checks these against the `Raw*` structs.
struct Section {
    title: &'static str,
    keys: &'static [KeySpec],
}

static ROOT: Section = Section {
    title: "the top-level table",
    keys: &[
        spec("version", "version = 1"),
        spec("policy", "[policy]"),
        spec("environment", "[[environment]]"),
        spec("exclusion", "[[exclusion]]"),
    ],
};

static POLICY: Section = Section {
    title: "[policy]",
    keys: &[
        spec(
            "maintenance_window",
            r#"maintenance_window = { day = "wednesday", start = "07:00", end = "12:00" }"#,
        ),
        spec("timezone", r#"timezone = "Europe/Stockholm""#),
        spec("major_updates", r#"major_updates = "first-wednesday""#),
        spec("max_postponement_days", "max_postponement_days = 31"),
        spec("control_plane_nodes", "control_plane_nodes = 3"),
        spec("max_workers", "max_workers = 20"),
        spec(
            "backup_window",
            r#"backup_window = { start = "00:00", end = "03:00" }"#,
        ),
        spec("backups_kept", "backups_kept = 3"),
        spec("backup_max_age", r#"backup_max_age = "27h""#),
        spec("certificate_warning", r#"certificate_warning = "14d""#),
        spec("recovery_within", r#"recovery_within = "4h""#),
        spec("slo", "slo = { cluster = 99.95, external = 99.5 }"),
    ],
};

static MAINTENANCE_WINDOW: Section = Section {
    title: "policy.maintenance_window",
    keys: &[
        spec("day", r#"day = "wednesday""#),
        spec("start", r#"start = "07:00""#),
        spec("end", r#"end = "12:00""#),
    ],
};

static BACKUP_WINDOW: Section = Section {
    title: "policy.backup_window",
    keys: &[
        spec("start", r#"start = "00:00""#),
        spec("end", r#"end = "03:00""#),
    ],
};

static SLO: Section = Section {
    title: "[policy.slo]",
    keys: &[
        spec("cluster", "cluster = 99.95"),
        spec("external", "external = 99.5"),
    ],
};

static ENVIRONMENT: Section = Section {
    title: "[[environment]]",
    keys: &[
        spec("name", r#"name = "{env}""#),
        spec("accent", r#"accent = "magenta""#),
        spec("max_workers", "max_workers = 25"),
        spec("read_only", "read_only = true"),
        spec("tags", r#"tags = ["gold", "eu-north"]"#),
        spec("sc", "[environment.sc]"),
        spec("wc", "[environment.wc]"),
    ],
};

static CLUSTER: Section = Section {
    title: "[environment.sc] or [environment.wc]",
    keys: &[
        spec("kubeconfig", r#"kubeconfig = "~/.kube/{env}.yaml""#),
        spec("context", r#"context = "{env}-{role}""#),
        spec(
            "prometheus",
            r#"prometheus = "https://prometheus.ops.{env}.example""#,
        ),
        spec(
            "alertmanager",
            r#"alertmanager = "https://alertmanager.ops.{env}.example""#,
        ),
        spec(
            "prometheus_credential",
            r#"prometheus_credential = "{env}-{role}-metrics""#,
        ),
        spec(
            "alertmanager_credential",
            r#"alertmanager_credential = "{env}-{role}-metrics""#,
        ),
        spec("slo_labels", r#"slo_labels = { cluster = "{role}" }"#),
        spec("probe", "[[environment.{role}.probe]]"),
    ],
};

static PROBE: Section = Section {
    title: "[[environment.sc.probe]] or [[environment.wc.probe]]",
    keys: &[
        spec("target", r#"target = "kube-apiserver""#),
        spec("kind", r#"kind = "cluster""#),
        spec("slo", "slo = 99.95"),
        spec(
            "selector",
            r#"selector = 'probe_success{job="blackbox",target="kube-apiserver"}'"#,
        ),
    ],
};

static EXCLUSION: Section = Section {
    title: "[[exclusion]]",
    keys: &[
        spec("start", r#"start = "2026-11-11T06:00:00Z""#),
        spec("end", r#"end = "2026-11-11T11:00:00Z""#),
        spec("kind", r#"kind = "planned-maintenance""#),
        spec("reason", r#"reason = "Kubernetes patch upgrade""#),
        spec("environment", r#"environment = "acme""#),
        spec("cluster", r#"cluster = "sc""#),
        spec("target", r#"target = "grafana""#),
    ],
};

static SECTIONS: [&Section; 9] = [
    &ROOT,
    &POLICY,
    &MAINTENANCE_WINDOW,
    &BACKUP_WINDOW,
    &SLO,
    &ENVIRONMENT,
    &CLUSTER,
    &PROBE,
    &EXCLUSION,
];

/// What can be told about a PromQL selector without Prometheus: it is one instant-vector
/// selector (a metric name and/or `{matchers}`), with no range or function around it,
/// since the console appends `[range]` and wraps it in `*_over_time`.
fn check_selector(selector: &str) -> Result<(), &'static str> {
    let s = selector.trim();
    if s.is_empty() {
        return Err("the selector is empty");
    }
    if s.ends_with(']') {
        return Err("a range vector: the console adds the ranges itself");
    }
    let (name, matchers) = s.split_at(s.find('{').unwrap_or(s.len()));
    if !name.is_empty() && !is_name(name, true) {
        return Err("not a selector: a metric name, then label matchers in {...}");
    }
    if matchers.is_empty() {
        return if name.is_empty() {
            Err("the selector names neither a metric nor labels")
        } else {
            Ok(())
        };
    }
    let body = matchers
        .strip_prefix('{')
        .and_then(|m| m.strip_suffix('}'))
        .ok_or("the label matchers are not closed with '}'")?;
    let matchers = split_outside_quotes(body)?;
    if name.is_empty() && matchers.iter().all(|m| m.trim().is_empty()) {
        return Err("the selector names neither a metric nor labels");
    }
    for m in matchers.iter().map(|m| m.trim()).filter(|m| !m.is_empty()) {
        let op = m
            .find(['=', '!'])
            .ok_or("a label matcher is not label=\"value\"")?;
        let (label, rest) = m.split_at(op);
        let value = ["=~", "!~", "!=", "="]
            .iter()
            .find_map(|o| rest.strip_prefix(o))
            .ok_or("a label matcher's operator is not =, !=, =~ or !~")?
            .trim();
        let quoted = value.len() >= 2
            && ['"', '\'', '`']
                .iter()
                .any(|q| value.starts_with(*q) && value.ends_with(*q));
        if !is_name(label.trim(), false) || !quoted {
            return Err("a label matcher is not label=\"value\"");
        }
    }
    Ok(())
}

/// A Prometheus label name (letters, digits and '_', not starting with a digit), or with
/// `metric` a metric name, which may have ':' too.
fn is_name(s: &str, metric: bool) -> bool {
    !s.is_empty()
        && s.chars().enumerate().all(|(i, c)| {
            c == '_'
                || (metric && c == ':')
                || c.is_ascii_alphabetic()
                || (i > 0 && c.is_ascii_digit())
        })
}

/// `a="x,y",b!="z"` split at the commas outside quoted strings.
fn split_outside_quotes(body: &str) -> Result<Vec<&str>, &'static str> {
    let mut parts = Vec::new();
    let (mut start, mut quote, mut escaped) = (0, None, false);
    for (i, c) in body.char_indices() {
        match (quote, c) {
            (Some(_), '\\') if !escaped => {
                escaped = true;
                continue;
            }
            (Some(q), c) if c == q && !escaped => quote = None,
            (None, '"' | '\'' | '`') => quote = Some(c),
            (None, ',') => {
                parts.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        escaped = false;
    }
    if quote.is_some() {
        return Err("a quoted label value is not closed");
    }
    parts.push(&body[start..]);
    Ok(parts)
}

/// The schema of the table at `path`.
fn section_of(path: &KeyPath) -> Option<&'static Section> {
    match path.shape().as_slice() {
        [] => Some(&ROOT),
        ["policy"] => Some(&POLICY),
        ["policy", "maintenance_window"] => Some(&MAINTENANCE_WINDOW),
        ["policy", "backup_window"] => Some(&BACKUP_WINDOW),
        ["policy", "slo"] => Some(&SLO),
        ["environment"] => Some(&ENVIRONMENT),
        ["environment", "cluster"] => Some(&CLUSTER),
        ["environment", "cluster", "probe"] => Some(&PROBE),
        ["exclusion"] => Some(&EXCLUSION),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// The parsed document: locating errors and naming sections
// ---------------------------------------------------------------------------------------------

type Node<'a> = Spanned<DeValue<'a>>;

struct Doc<'a> {
    text: &'a str,
    origin: &'a Path,
    root: &'a DeTable<'a>,
    home: Option<&'a Path>,
}

impl<'a> Doc<'a> {
    fn error(&self, path: &KeyPath, problem: Problem, help: impl Into<String>) -> ConfigError {
        let location = self
            .span_of(path)
            .map(|span| location(self.text, span.start));
        self.error_located(path, location, problem, help)
    }

    fn error_located(
        &self,
        path: &KeyPath,
        location: Option<Location>,
        problem: Problem,
        help: impl Into<String>,
    ) -> ConfigError {
        ConfigError(Box::new(Details {
            file: self.origin.to_path_buf(),
            location,
            key_path: (!path.0.is_empty()).then(|| path.to_string()),
            problem,
            help: help.into(),
        }))
    }

    /// An invalid value at `path`, which ends in the offending key.
    fn invalid(
        &self,
        path: &KeyPath,
        value: impl fmt::Debug,
        reason: impl Into<String>,
        help: impl Into<String>,
    ) -> ConfigError {
        self.invalid_shown(path, format!("{value:?}"), reason, help)
    }

    /// [`Doc::invalid`] with the value already rendered as it appears in the file.
    fn invalid_shown(
        &self,
        path: &KeyPath,
        shown: String,
        reason: impl Into<String>,
        help: impl Into<String>,
    ) -> ConfigError {
        let (table, key) = path.split_leaf();
        let problem = Problem::InvalidValue {
            key: key.unwrap_or_default().to_owned(),
            section: self.describe(&table),
            value: shown,
            reason: reason.into(),
        };
        self.error(path, problem, help)
    }

    /// The nodes along `path` that exist, outermost first.
    fn walk(&self, path: &KeyPath) -> Vec<&Node<'a>> {
        let mut nodes: Vec<&Node<'a>> = Vec::new();
        for seg in &path.0 {
            let child = match (seg, nodes.last()) {
                (Seg::Key(k), None) => self.root.get(k.as_str()),
                (Seg::Key(k), Some(n)) => n.get_ref().as_table().and_then(|t| t.get(k.as_str())),
                (Seg::Index(i), Some(n)) => n.get_ref().as_array().and_then(|a| a.get(*i)),
                (Seg::Index(_), None) => None,
            };
            match child {
                Some(child) => nodes.push(child),
                None => break,
            }
        }
        nodes
    }

    /// The span of the deepest node along `path` that exists, so that a missing key is
    /// reported at the table that lacks it.
    fn span_of(&self, path: &KeyPath) -> Option<Range<usize>> {
        self.walk(path).last().map(|node| node.span())
    }

    fn str_at(&self, path: &KeyPath) -> Option<&str> {
        let nodes = self.walk(path);
        match nodes.last() {
            Some(node) if nodes.len() == path.0.len() => node.get_ref().as_str(),
            _ => None,
        }
    }

    /// The path of the innermost key or value whose span covers `span`. Children are searched
    /// before their parent because a `[table]` header's span does not cover the table's keys.
    fn path_at(&self, span: &Range<usize>) -> KeyPath {
        let mut path = Vec::new();
        // An empty span at the start is what the deserializer reports for the root table.
        if *span != (0..0) {
            find_in_table(self.root, span, &mut path);
        }
        KeyPath(path)
    }

    fn env_name(&self, index: usize) -> Option<&str> {
        self.str_at(
            &KeyPath::default()
                .key("environment")
                .index(index)
                .key("name"),
        )
    }

    /// A readable name for the table at `path`, e.g. `environment "acme" cluster sc`.
    fn describe(&self, path: &KeyPath) -> String {
        let key = |s: &Seg, want: &str| matches!(s, Seg::Key(k) if k == want);
        match path.0.as_slice() {
            [] => ROOT.title.to_owned(),
            [p] if key(p, "policy") => POLICY.title.to_owned(),
            [p, Seg::Key(sub)] if key(p, "policy") => format!("[policy.{sub}]"),
            [e] if key(e, "environment") => "the environment list".to_owned(),
            [x] if key(x, "exclusion") => "the exclusion list".to_owned(),
            [x, Seg::Index(i), ..] if key(x, "exclusion") => format!("exclusion #{}", i + 1),
            [e, Seg::Index(i), rest @ ..] if key(e, "environment") => {
                let env = match self.env_name(*i) {
                    Some(name) => format!("environment {name:?}"),
                    None => format!("environment #{}", i + 1),
                };
                match rest {
                    [] => env,
                    [Seg::Key(c)] => format!("{env} cluster {c}"),
                    [Seg::Key(c), p, Seg::Index(j)] if key(p, "probe") => {
                        let target = self
                            .str_at(&path.key("target"))
                            .map_or_else(|| format!("#{}", j + 1), |t| format!("{t:?}"));
                        format!("{env} cluster {c} probe {target}")
                    }
                    _ => format!("{env}: {}", KeyPath(rest.to_vec())),
                }
            }
            _ => format!("`{path}`"),
        }
    }

    /// The example line for `key` in the table at `table`, for this environment and cluster.
    fn example(&self, table: &KeyPath, key: &str) -> Option<String> {
        let spec = section_of(table)?.keys.iter().find(|s| s.key == key)?;
        Some(self.fill(spec.example, table))
    }

    fn fill(&self, example: &str, path: &KeyPath) -> String {
        let (env, role) = match path.0.as_slice() {
            [_, Seg::Index(i), rest @ ..] => (
                self.env_name(*i),
                match rest.first() {
                    Some(Seg::Key(role)) => role.as_str(),
                    _ => "sc",
                },
            ),
            _ => (None, "sc"),
        };
        let env = env
            .filter(|name| check_dns_label(name).is_ok())
            .unwrap_or("acme");
        example.replace("{env}", env).replace("{role}", role)
    }

    /// Refuses configs of an unknown format version before anything else is read.
    fn check_version(&self) -> Result<(), ConfigError> {
        let path = KeyPath::default().key("version");
        let Some(node) = self.root.get("version") else {
            return Err(self.error_located(
                &path,
                Some(Location { line: 1, column: 1 }),
                Problem::MissingVersion,
                format!("add `version = {CURRENT_VERSION}` as the first line of the file"),
            ));
        };
        let number = node
            .get_ref()
            .as_integer()
            .and_then(|n| i64::from_str_radix(n.as_str(), n.radix()).ok());
        match number {
            Some(n) if n > i64::from(CURRENT_VERSION) => Err(self.error(
                &path,
                Problem::FutureVersion { found: n },
                format!(
                    "upgrade ck8s-console, or use a config written for format version \
                     {CURRENT_VERSION} ({EXAMPLE_PATH} shows it)"
                ),
            )),
            Some(n) if n < 1 => Err(self.invalid(
                &path,
                n,
                "format versions start at 1",
                format!("write `version = {CURRENT_VERSION}`"),
            )),
            Some(_) => Ok(()),
            None => Err(self.error(
                &path,
                Problem::WrongType {
                    key: "version".to_owned(),
                    section: ROOT.title.to_owned(),
                    expected: "an integer".to_owned(),
                    found: describe_value(node.get_ref()),
                },
                format!("write `version = {CURRENT_VERSION}`, a bare number without quotes"),
            )),
        }
    }

    /// Turns a deserializer error into a located message with a fix.
    fn serde_error(&self, err: &toml::de::Error) -> ConfigError {
        let path = err.span().map(|s| self.path_at(&s)).unwrap_or_default();
        let message = err.message();
        let location = err.span().map(|s| location(self.text, s.start));
        let (problem, help) = if let Some(rest) = message.strip_prefix("unknown field `") {
            let key = rest.split('`').next().unwrap_or_default();
            self.unknown_key(&path.split_leaf().0, key)
        } else if let Some(rest) = message.strip_prefix("missing field `") {
            let key = rest.split('`').next().unwrap_or_default();
            self.missing_key(&path, key)
        } else if let Some(rest) = message
            .strip_prefix("invalid type: ")
            .or_else(|| message.strip_prefix("invalid value: "))
        {
            self.wrong_type(&path, rest)
        } else if let Some(rest) = message.strip_prefix("unknown variant `") {
            self.unknown_variant(&path, rest)
        } else {
            let problem = Problem::Other {
                section: self.describe(&path),
                message: message.to_owned(),
            };
            (problem, format!("{EXAMPLE_PATH} shows the expected format"))
        };
        self.error_located(&path, location, problem, help)
    }

    fn unknown_key(&self, table: &KeyPath, key: &str) -> (Problem, String) {
        let valid: Vec<String> = section_of(table)
            .map(|s| s.keys.iter().map(|k| k.key.to_owned()).collect())
            .unwrap_or_default();
        let suggestion = closest(key, valid.iter().map(String::as_str)).map(str::to_owned);
        let list = valid.join(", ");
        let help = match &suggestion {
            Some(s) => format!("did you mean `{s}`? Valid keys here: {list}"),
            // The key is unknown here, so any section that has it is another one.
            None => match home_of(key) {
                Some(home) => format!("`{key}` belongs in {}; valid keys here: {list}", home.title),
                None => format!("remove it; valid keys here: {list}"),
            },
        };
        let problem = Problem::UnknownKey {
            key: key.to_owned(),
            section: self.describe(table),
            suggestion,
            valid,
        };
        (problem, help)
    }

    fn missing_key(&self, table: &KeyPath, key: &str) -> (Problem, String) {
        let problem = Problem::MissingKey {
            key: key.to_owned(),
            section: self.describe(table),
        };
        let help = match (table.shape().as_slice(), key) {
            (["environment"], "sc" | "wc") => self.cluster_snippet(table, key),
            _ => match self.example(table, key) {
                Some(example) => format!("add `{example}` to {}", self.describe(table)),
                None => format!("add `{key}`; {EXAMPLE_PATH} shows the format"),
            },
        };
        (problem, help)
    }

    /// The table to paste for a missing `sc` or `wc`.
    fn cluster_snippet(&self, env: &KeyPath, role: &str) -> String {
        let cluster = env.key(role);
        let long = role
            .parse::<ClusterRole>()
            .map_or("cluster", ClusterRole::long_name);
        let mut help = format!(
            "add the {long} to this environment, below its [[environment]] header \
             and before the next one:\n[environment.{role}]"
        );
        let optional = [
            "probe",
            "prometheus_credential",
            "alertmanager_credential",
            "slo_labels",
        ];
        for spec in CLUSTER.keys.iter().filter(|s| !optional.contains(&s.key)) {
            help.push('\n');
            help.push_str(&self.fill(spec.example, &cluster));
        }
        help
    }

    /// `rest` is serde's "<found>, expected <expected>".
    fn wrong_type(&self, path: &KeyPath, rest: &str) -> (Problem, String) {
        let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, "?"));
        let (table, key) = path.split_leaf();
        let key = key.unwrap_or_default();
        let help = match self.example(&table, key) {
            Some(example) if example.starts_with("[[") => {
                format!("start each entry with its own `{example}` header (double brackets)")
            }
            Some(example) if example.starts_with('[') => {
                format!("write it as a table: `{example}`")
            }
            Some(example) => format!("write it like `{example}`"),
            None => format!("{EXAMPLE_PATH} shows the expected format"),
        };
        let problem = Problem::WrongType {
            key: key.to_owned(),
            section: self.describe(&table),
            expected: friendly_expected(expected),
            found: friendly_found(found),
        };
        (problem, help)
    }

    /// `rest` is serde's "x`, expected `a` or `b`".
    fn unknown_variant(&self, path: &KeyPath, rest: &str) -> (Problem, String) {
        let (value, expected) = rest.split_once("`, expected ").unwrap_or((rest, ""));
        let choices = backticked(expected);
        let (table, key) = path.split_leaf();
        let list = choices.join(", ");
        let help = match closest(value, choices.iter().copied()) {
            Some(s) => format!("did you mean `{s}`? Use one of: {list}"),
            None => format!("use one of: {list}"),
        };
        let problem = Problem::InvalidValue {
            key: key.unwrap_or_default().to_owned(),
            section: self.describe(&table),
            value: format!("{value:?}"),
            reason: format!("expected one of {list}"),
        };
        (problem, help)
    }
}

fn find_in_table(table: &DeTable<'_>, span: &Range<usize>, path: &mut Vec<Seg>) -> bool {
    for (key, value) in table.iter() {
        path.push(Seg::Key(key.get_ref().to_string()));
        if find_in_value(value, span, path) || covers(&key.span(), span) {
            return true;
        }
        path.pop();
    }
    false
}

fn find_in_value(value: &Node<'_>, span: &Range<usize>, path: &mut Vec<Seg>) -> bool {
    let in_child = match value.get_ref() {
        DeValue::Table(table) => find_in_table(table, span, path),
        DeValue::Array(items) => items.iter().enumerate().any(|(i, item)| {
            path.push(Seg::Index(i));
            let found = find_in_value(item, span, path);
            if !found {
                path.pop();
            }
            found
        }),
        _ => false,
    };
    in_child || covers(&value.span(), span)
}

fn covers(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

/// The section where `key` is valid, for "belongs in" hints.
fn home_of(key: &str) -> Option<&'static Section> {
    SECTIONS
        .into_iter()
        .find(|s| s.keys.iter().any(|k| k.key == key))
}

fn backticked(s: &str) -> Vec<&str> {
    s.split('`').skip(1).step_by(2).collect()
}

fn describe_value(value: &DeValue<'_>) -> String {
    match value {
        DeValue::String(s) => format!("string {s:?}"),
        DeValue::Integer(n) => format!("integer `{n}`"),
        DeValue::Float(x) => format!("float `{x}`"),
        DeValue::Boolean(b) => format!("boolean `{b}`"),
        DeValue::Datetime(d) => format!("datetime `{d}`"),
        DeValue::Array(_) => "an array".to_owned(),
        DeValue::Table(_) => "a table".to_owned(),
    }
}

/// Serde names Rust types ("u32", "struct RawCluster"); users think in TOML types.
fn friendly_expected(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a non-negative whole number".to_owned(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "a string" => "a string in quotes".to_owned(),
        "a sequence" => "an array (for tables, a `[[...]]` header per entry)".to_owned(),
        "a boolean" => "true or false".to_owned(),
        e if e.starts_with("struct ") || e == "a map" => "a table".to_owned(),
        e if e.starts_with("enum ") => "a string".to_owned(),
        e => e.to_owned(),
    }
}

fn friendly_found(found: &str) -> String {
    match found {
        "map" => "a table".to_owned(),
        "sequence" => "an array".to_owned(),
        f => f.replace("floating point", "float"),
    }
}

// ---------------------------------------------------------------------------------------------
// Validation: raw structs into the model
// ---------------------------------------------------------------------------------------------

impl Doc<'_> {
    fn validate(&self, raw: RawFleet) -> Result<Fleet, ConfigError> {
        let policy = self.policy(raw.policy.unwrap_or_default())?;
        let list = KeyPath::default().key("environment");
        let environments = raw
            .environments
            .into_iter()
            .enumerate()
            .map(|(i, env)| self.environment(&list.index(i), env, &policy))
            .collect::<Result<Vec<_>, _>>()?;
        self.check_unique_names(&environments)?;
        let list = KeyPath::default().key("exclusion");
        let exclusions = raw
            .exclusions
            .into_iter()
            .enumerate()
            .map(|(i, ex)| self.exclusion(&list.index(i), ex, &environments))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Fleet {
            version: raw.version,
            policy,
            environments,
            exclusions,
            source: Some(self.origin.to_path_buf()),
        })
    }

    fn policy(&self, raw: RawPolicy) -> Result<Policy, ConfigError> {
        let d = Policy::default();
        let at = KeyPath::default().key("policy");
        let slo = raw.slo.unwrap_or(RawSlo {
            cluster: None,
            external: None,
        });
        let slo_at = at.key("slo");
        Ok(Policy {
            maintenance_window: match raw.maintenance_window {
                Some(w) => self.maintenance_window(&at.key("maintenance_window"), w)?,
                None => d.maintenance_window,
            },
            timezone: match raw.timezone {
                Some(tz) => self.timezone(&at.key("timezone"), &tz)?,
                None => d.timezone,
            },
            major_updates: raw.major_updates.unwrap_or(d.major_updates),
            max_postponement_days: raw.max_postponement_days.unwrap_or(d.max_postponement_days),
            control_plane_nodes: match raw.control_plane_nodes {
                Some(n) => self.control_plane_nodes(&at.key("control_plane_nodes"), n)?,
                None => d.control_plane_nodes,
            },
            max_workers: raw.max_workers.unwrap_or(d.max_workers),
            backup_window: match raw.backup_window {
                Some(w) => self.daily_window(&at.key("backup_window"), w)?,
                None => d.backup_window,
            },
            backups_kept: match raw.backups_kept {
                Some(0) => {
                    return Err(self.invalid(
                        &at.key("backups_kept"),
                        0,
                        "at least one backup must be kept",
                        "the service description keeps 3: `backups_kept = 3`",
                    ));
                }
                Some(n) => n,
                None => d.backups_kept,
            },
            backup_max_age: match raw.backup_max_age {
                Some(value) => Some(self.duration(&at.key("backup_max_age"), &value)?),
                None => d.backup_max_age,
            },
            certificate_warning: match raw.certificate_warning {
                Some(value) => self.duration(&at.key("certificate_warning"), &value)?,
                None => d.certificate_warning,
            },
            recovery_within: match raw.recovery_within {
                Some(value) => self.duration(&at.key("recovery_within"), &value)?,
                None => d.recovery_within,
            },
            slo_cluster: match slo.cluster {
                Some(v) => self.slo(&slo_at.key("cluster"), v)?,
                None => d.slo_cluster,
            },
            slo_external: match slo.external {
                Some(v) => self.slo(&slo_at.key("external"), v)?,
                None => d.slo_external,
            },
        })
    }

    fn maintenance_window(
        &self,
        at: &KeyPath,
        raw: RawMaintenanceWindow,
    ) -> Result<MaintenanceWindow, ConfigError> {
        let day = raw.day.parse::<Weekday>().map_err(|_| {
            self.invalid(
                &at.key("day"),
                &raw.day,
                "not a day of the week",
                r#"write a day name, e.g. `day = "wednesday"`"#,
            )
        })?;
        let (start, end) = self.window_times(at, &raw.start, &raw.end)?;
        Ok(MaintenanceWindow { day, start, end })
    }

    fn daily_window(&self, at: &KeyPath, raw: RawDailyWindow) -> Result<DailyWindow, ConfigError> {
        let (start, end) = self.window_times(at, &raw.start, &raw.end)?;
        Ok(DailyWindow { start, end })
    }

    fn window_times(
        &self,
        at: &KeyPath,
        start: &str,
        end: &str,
    ) -> Result<(NaiveTime, NaiveTime), ConfigError> {
        let start_time = self.time_of_day(&at.key("start"), start)?;
        let end_time = self.time_of_day(&at.key("end"), end)?;
        if end_time <= start_time {
            return Err(self.invalid(
                &at.key("end"),
                end,
                format!("the window ends before it starts at {start}"),
                format!(
                    "a window cannot cross midnight; set `end` to a time after {start}, \
                     or move `start` earlier"
                ),
            ));
        }
        Ok((start_time, end_time))
    }

    fn time_of_day(&self, path: &KeyPath, text: &str) -> Result<NaiveTime, ConfigError> {
        NaiveTime::parse_from_str(text, "%H:%M").map_err(|_| {
            self.invalid(
                path,
                text,
                "not a time of day",
                r#"write a 24-hour time as "HH:MM", e.g. "07:00""#,
            )
        })
    }

    fn timezone(&self, path: &KeyPath, name: &str) -> Result<Tz, ConfigError> {
        name.parse::<Tz>().map_err(|_| {
            let help = match closest(name, chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())) {
                Some(tz) => format!(r#"did you mean "{tz}"? Time zones are IANA names"#),
                None => r#"use an IANA time zone name, e.g. "Europe/Stockholm""#.to_owned(),
            };
            self.invalid(path, name, "unknown time zone", help)
        })
    }

    fn control_plane_nodes(&self, path: &KeyPath, n: u32) -> Result<u32, ConfigError> {
        if n % 2 == 1 {
            return Ok(n);
        }
        Err(self.invalid(
            path,
            n,
            "the control plane needs an odd number of nodes",
            "etcd keeps quorum only with an odd number of members; \
             the service description says `control_plane_nodes = 3`",
        ))
    }

    /// A duration of the policy: a string such as "4h", or a number of minutes.
    fn duration(&self, path: &KeyPath, value: &toml::Value) -> Result<Duration, ConfigError> {
        let help = r#"write a duration such as "4h", "90m" or "1h30m", or a number of minutes"#;
        let duration = match value {
            toml::Value::Integer(minutes) => u64::try_from(*minutes)
                .map(|m| Duration::from_secs(m.saturating_mul(60)))
                .map_err(|_| self.invalid(path, minutes, "a duration cannot be negative", help))?,
            toml::Value::String(text) => {
                parse_duration(text).map_err(|reason| self.invalid(path, text, reason, help))?
            }
            other => {
                let (table, key) = path.split_leaf();
                let problem = Problem::WrongType {
                    key: key.unwrap_or_default().to_owned(),
                    section: self.describe(&table),
                    expected: "a duration string or a number of minutes".to_owned(),
                    found: format!("{} `{other}`", other.type_str()),
                };
                return Err(self.error(path, problem, help));
            }
        };
        if duration.is_zero() {
            let shown = value.to_string();
            return Err(self.invalid_shown(path, shown, "must be longer than zero", help));
        }
        Ok(duration)
    }

    fn slo(&self, path: &KeyPath, percent: f64) -> Result<f64, ConfigError> {
        if percent > 0.0 && percent < 100.0 {
            return Ok(percent);
        }
        Err(self.invalid(
            path,
            percent,
            "an SLO is a percentage above 0 and below 100",
            "write the target in percent, e.g. 99.95 (the cluster SLO) or 99.5 (external services)",
        ))
    }

    fn environment(
        &self,
        at: &KeyPath,
        raw: RawEnvironment,
        policy: &Policy,
    ) -> Result<Environment, ConfigError> {
        check_dns_label(&raw.name).map_err(|reason| {
            let example = suggest_dns_label(&raw.name).unwrap_or_else(|| "acme".to_owned());
            self.invalid(
                &at.key("name"),
                &raw.name,
                reason,
                format!(
                    "a name is a DNS label: 1-63 lowercase letters, digits and '-', not starting \
                     or ending with '-', e.g. `name = \"{example}\"`"
                ),
            )
        })?;
        if let Some(accent) = &raw.accent {
            self.accent(&at.key("accent"), accent)?;
        }
        for (i, tag) in raw.tags.iter().enumerate() {
            self.tag(&at.key("tags").index(i), tag)?;
        }
        Ok(Environment {
            sc: self.cluster(&at.key("sc"), raw.sc, policy, &format!("{}-sc", raw.name))?,
            wc: self.cluster(&at.key("wc"), raw.wc, policy, &format!("{}-wc", raw.name))?,
            name: raw.name,
            accent: raw.accent,
            max_workers: raw.max_workers,
            read_only: raw.read_only,
            tags: raw.tags,
        })
    }

    /// A tag is one word the fleet filter can match: letters, digits, `-`, `_` and `.`.
    fn tag(&self, path: &KeyPath, tag: &str) -> Result<(), ConfigError> {
        let word = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if !tag.is_empty() && tag.len() <= 63 && tag.chars().all(word) {
            return Ok(());
        }
        Err(self.invalid(
            path,
            tag,
            "not a tag",
            r#"a tag is 1-63 letters, digits, '-', '_' or '.', e.g. `tags = ["gold", "eu-north"]`"#,
        ))
    }

    fn accent(&self, path: &KeyPath, accent: &str) -> Result<(), ConfigError> {
        // The colour parser mirrors the UI's (ratatui's), so accept exactly what it draws.
        match crate::colour::parse(accent) {
            Some(_) => Ok(()),
            None => Err(self.invalid(
                path,
                accent,
                "not a colour",
                r##"use a colour name such as "magenta" or "light-blue", or "#rrggbb""##,
            )),
        }
    }

    /// `name` is the cluster's name, `<env>-<sc|wc>`: its series' default `cluster` label.
    fn cluster(
        &self,
        at: &KeyPath,
        raw: RawCluster,
        policy: &Policy,
        name: &str,
    ) -> Result<ClusterConfig, ConfigError> {
        let kubeconfig = self.kubeconfig(&at.key("kubeconfig"), &raw.kubeconfig)?;
        if raw.context.trim().is_empty() {
            return Err(self.invalid(
                &at.key("context"),
                &raw.context,
                "the context name is empty",
                "set it to the context for this cluster in the kubeconfig \
                 (`kubectl config get-contexts` lists them)",
            ));
        }
        for key in ["prometheus", "alertmanager"] {
            let url = if key == "prometheus" {
                &raw.prometheus
            } else {
                &raw.alertmanager
            };
            check_url(url).map_err(|reason| {
                self.invalid(
                    &at.key(key),
                    url,
                    reason,
                    format!(
                        "use an absolute http:// or https:// URL, e.g. `{}`",
                        self.example(at, key).unwrap_or_default()
                    ),
                )
            })?;
        }
        for (key, name) in [
            ("prometheus_credential", &raw.prometheus_credential),
            ("alertmanager_credential", &raw.alertmanager_credential),
        ] {
            if let Some(name) = name {
                self.credential_name(&at.key(key), name)?;
            }
        }
        if let Some(labels) = &raw.slo_labels {
            self.slo_labels(&at.key("slo_labels"), labels)?;
        }
        let labels = raw
            .slo_labels
            .clone()
            .unwrap_or_else(|| slo::default_cluster_labels(name));
        let probes_at = at.key("probe");
        let mut probes: Vec<Probe> = Vec::with_capacity(raw.probes.len());
        for (i, probe) in raw.probes.into_iter().enumerate() {
            let probe = self.probe(&probes_at.index(i), probe, policy, &labels)?;
            if let Some(first) = probes.iter().position(|p| p.target == probe.target) {
                return Err(self.invalid(
                    &probes_at.index(i).key("target"),
                    &probe.target,
                    format!("probe #{} already has this target", first + 1),
                    "list each probe target once per cluster",
                ));
            }
            probes.push(probe);
        }
        Ok(ClusterConfig {
            kubeconfig,
            context: raw.context,
            prometheus: raw.prometheus,
            alertmanager: raw.alertmanager,
            prometheus_credential: raw.prometheus_credential,
            alertmanager_credential: raw.alertmanager_credential,
            slo_labels: raw.slo_labels,
            probes,
        })
    }

    /// Label names as Prometheus allows them; `target` is each probe's own.
    fn slo_labels(
        &self,
        at: &KeyPath,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), ConfigError> {
        for name in labels.keys() {
            let valid = is_name(name, false);
            if !valid {
                return Err(self.invalid(
                    at,
                    name,
                    "not a Prometheus label name",
                    "use letters, digits and '_', not starting with a digit, e.g. \
                     `slo_labels = { cluster = \"wc\" }`",
                ));
            }
            if name == "target" {
                return Err(self.invalid(
                    at,
                    name,
                    "the label `target` is each probe's own",
                    "leave `target` out here; to match a probe's series differently, give \
                     that probe a `selector`",
                ));
            }
        }
        Ok(())
    }

    /// A credential name: the key the secret is stored under, never the secret itself. The
    /// value is not quoted back: someone may have pasted the token here.
    fn credential_name(&self, path: &KeyPath, name: &str) -> Result<(), ConfigError> {
        crate::credential::check_name(name).map_err(|reason| {
            let (table, key) = path.split_leaf();
            let example = self
                .example(&table, key.unwrap_or_default())
                .unwrap_or_default();
            self.invalid_shown(
                path,
                "(not shown, in case it is a secret)".to_owned(),
                reason,
                format!(
                    "name a credential here, not the secret itself: lowercase letters, digits \
                     and '-', e.g. `{example}`; store the secret under that name with \
                     `ck8s-console credentials set NAME`"
                ),
            )
        })
    }

    fn kubeconfig(&self, path: &KeyPath, raw: &str) -> Result<PathBuf, ConfigError> {
        let help = r#"write the kubeconfig's path, e.g. `kubeconfig = "~/.kube/acme.yaml"`"#;
        if raw.trim().is_empty() {
            return Err(self.invalid(path, raw, "the path is empty", help));
        }
        let base = self.origin.parent().unwrap_or(Path::new(""));
        resolve_path(raw, base, self.home)
            .map_err(|reason| self.invalid(path, raw, reason, "write an absolute path instead"))
    }

    fn probe(
        &self,
        at: &KeyPath,
        raw: RawProbe,
        policy: &Policy,
        labels: &BTreeMap<String, String>,
    ) -> Result<Probe, ConfigError> {
        if raw.target.trim().is_empty() {
            return Err(self.invalid(
                &at.key("target"),
                &raw.target,
                "the probe target is empty",
                r#"name the probed service, e.g. `target = "kube-apiserver"`"#,
            ));
        }
        let slo = match raw.slo {
            Some(v) => self.slo(&at.key("slo"), v)?,
            None => policy.slo_for(raw.kind),
        };
        if let Some(selector) = &raw.selector {
            check_selector(selector).map_err(|reason| {
                self.invalid(
                    &at.key("selector"),
                    selector,
                    reason,
                    "write one instant-vector selector of 0/1 probe results, e.g. \
                     `selector = 'probe_success{job=\"blackbox\",instance=\"https://dex.example\"}'`; \
                     the console adds the time ranges",
                )
            })?;
        }
        Ok(Probe {
            selector: raw
                .selector
                .clone()
                .unwrap_or_else(|| slo::probe_selector(labels, &raw.target)),
            custom_selector: raw.selector.is_some(),
            target: raw.target,
            kind: raw.kind,
            slo,
        })
    }

    fn exclusion(
        &self,
        at: &KeyPath,
        raw: RawExclusion,
        environments: &[Environment],
    ) -> Result<ExclusionConfig, ConfigError> {
        let start = self.instant(&at.key("start"), &raw.start)?;
        let end = self.instant(&at.key("end"), &raw.end)?;
        if end <= start {
            return Err(self.invalid_shown(
                &at.key("end"),
                raw.end.to_string(),
                format!(
                    "the interval ends before it starts at {}",
                    format_instant(start)
                ),
                "an exclusion covers [start, end); set `end` to a time after `start`",
            ));
        }
        if raw.reason.trim().is_empty() {
            return Err(self.invalid(
                &at.key("reason"),
                &raw.reason,
                "the reason is empty",
                r#"say why the interval does not count, e.g. `reason = "Kubernetes patch upgrade"`; SLO reports show it"#,
            ));
        }
        if let Some(name) = &raw.environment {
            self.known_environment(&at.key("environment"), name, environments)?;
        }
        if let Some(target) = &raw.target {
            let in_scope = environments
                .iter()
                .filter(|env| raw.environment.as_deref().is_none_or(|e| e == env.name))
                .flat_map(|env| env.clusters())
                .filter(|(role, _)| raw.cluster.is_none_or(|c| c == *role))
                .flat_map(|(_, cluster)| cluster.probes.iter().map(|p| p.target.as_str()));
            self.probed_target(&at.key("target"), target, in_scope)?;
        }
        Ok(ExclusionConfig {
            start,
            end,
            kind: raw.kind.into(),
            reason: raw.reason,
            environment: raw.environment,
            cluster: raw.cluster,
            target: raw.target,
        })
    }

    /// An RFC 3339 time, quoted or as a bare TOML datetime; it must carry its UTC offset so
    /// that it means the same instant on every host.
    fn instant(&self, path: &KeyPath, value: &toml::Value) -> Result<DateTime<Utc>, ConfigError> {
        let help = r#"write an RFC 3339 time with its UTC offset, e.g. "2026-11-11T06:00:00Z" or "2026-11-11T07:00:00+01:00""#;
        let text = match value {
            toml::Value::String(text) => text.clone(),
            toml::Value::Datetime(datetime) => datetime.to_string(),
            other => {
                let (table, key) = path.split_leaf();
                let problem = Problem::WrongType {
                    key: key.unwrap_or_default().to_owned(),
                    section: self.describe(&table),
                    expected: "an RFC 3339 time".to_owned(),
                    found: format!("{} `{other}`", other.type_str()),
                };
                return Err(self.error(path, problem, help));
            }
        };
        DateTime::parse_from_rfc3339(&text)
            .map(|at| at.with_timezone(&Utc))
            .map_err(|_| {
                let local = NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
                    || NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S%.f").is_ok();
                let reason = if local {
                    "the time has no UTC offset"
                } else {
                    "not an RFC 3339 time"
                };
                self.invalid_shown(path, value.to_string(), reason, help)
            })
    }

    fn known_environment(
        &self,
        path: &KeyPath,
        name: &str,
        environments: &[Environment],
    ) -> Result<(), ConfigError> {
        if environments.iter().any(|env| env.name == name) {
            return Ok(());
        }
        let names = environments.iter().map(|env| env.name.as_str());
        let list = names.clone().collect::<Vec<_>>().join(", ");
        let help = match (closest(name, names), list.is_empty()) {
            (Some(s), _) => format!("did you mean `{s}`? Environments: {list}"),
            (None, false) => {
                format!("use the `name` of an [[environment]] ({list}), or leave `environment` out to exclude the interval fleet-wide")
            }
            (None, true) => {
                "the fleet has no environments yet; leave `environment` out to exclude the interval fleet-wide".to_owned()
            }
        };
        Err(self.invalid(path, name, "no environment has this name", help))
    }

    fn probed_target<'t>(
        &self,
        path: &KeyPath,
        target: &str,
        in_scope: impl Iterator<Item = &'t str>,
    ) -> Result<(), ConfigError> {
        let mut targets: Vec<&str> = in_scope.collect();
        if targets.contains(&target) {
            return Ok(());
        }
        targets.sort_unstable();
        targets.dedup();
        let help = match closest(target, targets.iter().copied()) {
            Some(s) => format!(
                "did you mean `{s}`? Probe targets in scope: {}",
                targets.join(", ")
            ),
            None => format!(
                "use the `target` of a probe of the clusters in scope ({}), or leave `target` out to exclude every target",
                if targets.is_empty() {
                    "none".to_owned()
                } else {
                    targets.join(", ")
                }
            ),
        };
        Err(self.invalid(path, target, "no probe in scope has this target", help))
    }

    fn check_unique_names(&self, environments: &[Environment]) -> Result<(), ConfigError> {
        for (i, env) in environments.iter().enumerate() {
            let Some(first) = environments[..i].iter().position(|e| e.name == env.name) else {
                continue;
            };
            let list = KeyPath::default().key("environment");
            let first_line = self
                .span_of(&list.index(first).key("name"))
                .map_or(0, |span| location(self.text, span.start).line);
            return Err(self.error(
                &list.index(i).key("name"),
                Problem::DuplicateEnvironment {
                    name: env.name.clone(),
                    first_line,
                },
                "environment names must be unique in the fleet; rename or remove one of them",
            ));
        }
        Ok(())
    }
}

/// Expands a leading `~` and resolves relative paths against the config's directory, so a
/// config works the same from any working directory.
fn resolve_path(raw: &str, base: &Path, home: Option<&Path>) -> Result<PathBuf, String> {
    let tilde_rest = match raw {
        "~" => Some(""),
        _ => raw.strip_prefix("~/"),
    };
    if let Some(rest) = tilde_rest {
        let home = home.ok_or("`~` cannot be expanded because $HOME is not set")?;
        return Ok(home.join(rest));
    }
    if raw.starts_with('~') {
        return Err("`~user` paths are not supported".to_owned());
    }
    let path = Path::new(raw);
    Ok(if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    })
}

// ---------------------------------------------------------------------------------------------
// Small parsers, public so the CLI can accept the same formats in flags
// ---------------------------------------------------------------------------------------------

/// Parses a duration such as `4h`, `90m`, `1h30m` or `1d 2h` (units d, h, m, s).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err("the duration is empty".to_owned());
    }
    let mut seconds: u64 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("expected a number at `{rest}`"));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| "the number is too large".to_owned())?;
        rest = rest[digits..].trim_start();
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "d" => 86_400,
            "h" => 3_600,
            "m" | "min" => 60,
            "s" => 1,
            "" => return Err(format!("`{number}` has no unit; use d, h, m or s")),
            other => return Err(format!("unknown unit `{other}`; use d, h, m or s")),
        };
        seconds = number
            .checked_mul(unit)
            .and_then(|s| seconds.checked_add(s))
            .ok_or("the duration is too long")?;
        rest = rest[unit_len..].trim_start();
    }
    Ok(Duration::from_secs(seconds))
}

/// Formats a duration the way [`parse_duration`] reads it, e.g. `1h30m`. Drops sub-seconds.
pub fn format_duration(duration: Duration) -> String {
    let mut seconds = duration.as_secs();
    if seconds == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if seconds >= size {
            let _ = write!(out, "{}{unit}", seconds / size);
            seconds %= size;
        }
    }
    out
}

/// Checks that `name` is a DNS label (RFC 1123): 1-63 of `a-z`, `0-9`, `-`, with no `-` at
/// either end.
pub fn check_dns_label(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name is empty".to_owned());
    }
    if name.len() > 63 {
        return Err(format!(
            "the name has {} characters, at most 63 are allowed",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!("{c:?} is not allowed in a DNS label"));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err("a DNS label cannot start or end with '-'".to_owned());
    }
    Ok(())
}

/// Checks that `name` is a Kubernetes object name, a DNS subdomain (RFC 1123) as the API
/// server validates it: at most 253 characters of DNS labels joined by `.`. Such a name
/// can never be a path: it has no `/` and no empty or `..` part.
pub fn check_object_name(name: &str) -> Result<(), String> {
    if name.len() > 253 {
        return Err(format!(
            "the name has {} characters, at most 253 are allowed",
            name.len()
        ));
    }
    name.split('.').try_for_each(check_dns_label)
}

/// The DNS label closest to `name`, e.g. `Acme Corp` -> `acme-corp`.
fn suggest_dns_label(name: &str) -> Option<String> {
    let mut label = String::new();
    for c in name.to_lowercase().chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            label.push(c);
        } else if !label.is_empty() && !label.ends_with('-') {
            label.push('-');
        }
    }
    label.truncate(63);
    let label = label.trim_end_matches('-');
    (!label.is_empty()).then(|| label.to_owned())
}

/// Checks that `url` is an absolute `http`/`https` URL: `scheme://host[:port][/path]`, without
/// spaces or credentials (credentials belong in the credential store, not in a config file).
pub fn check_url(url: &str) -> Result<(), String> {
    if url.chars().any(char::is_whitespace) {
        return Err("a URL cannot contain spaces".to_owned());
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("the URL has no http:// or https:// scheme".to_owned());
    };
    if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
        return Err(format!("the scheme `{scheme}` is not http or https"));
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    if authority.contains('@') {
        return Err("the URL contains credentials; remove the `user:password@` part".to_owned());
    }
    if let Some(port) = check_authority(authority)? {
        match port.parse::<u32>() {
            Ok(1..=65535) if port.bytes().all(|b| b.is_ascii_digit()) => {}
            _ => return Err(format!("the port `{port}` is not a number from 1 to 65535")),
        }
    }
    Ok(())
}

/// Checks `host[:port]` or `[ipv6][:port]` and returns the port, if any.
fn check_authority(authority: &str) -> Result<Option<&str>, String> {
    if let Some(v6) = authority.strip_prefix('[') {
        let (addr, after) = v6
            .split_once(']')
            .ok_or("the IPv6 address has no closing `]`")?;
        addr.parse::<std::net::Ipv6Addr>()
            .map_err(|_| format!("`{addr}` is not a valid IPv6 address"))?;
        return match after {
            "" => Ok(None),
            _ => after
                .strip_prefix(':')
                .map(Some)
                .ok_or_else(|| format!("unexpected `{after}` after the IPv6 address")),
        };
    }
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    check_host_name(host)?;
    Ok(port)
}

fn check_host_name(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("the URL has no host".to_owned());
    }
    // A trailing dot marks a fully qualified name.
    let name = host.strip_suffix('.').unwrap_or(host);
    let valid = name.split('.').all(|label| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    });
    if valid {
        Ok(())
    } else {
        Err(format!("`{host}` is not a valid host name"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
version = 1

[[environment]]
name = "acme"
[environment.sc]
kubeconfig = "kube/acme.yaml"
context = "acme-sc"
prometheus = "https://prometheus.ops.acme.example"
alertmanager = "https://alertmanager.ops.acme.example"
[[environment.sc.probe]]
target = "grafana"
kind = "external"
[environment.wc]
kubeconfig = "~/.kube/acme.yaml"
context = "acme-wc"
prometheus = "http://10.0.0.1:9090"
alertmanager = "http://[::1]:9093/am"
"#;

    fn parse_test(text: &str) -> Result<Fleet, ConfigError> {
        parse_with_home(
            text,
            Path::new("/etc/ck8s/fleet.toml"),
            Some(Path::new("/home/me")),
        )
    }

    #[test]
    fn defaults_are_the_service_description() {
        let p = Policy::default();
        assert_eq!(p.maintenance_window.day, Weekday::Wed);
        assert_eq!(p.maintenance_window.start, hm(7, 0));
        assert_eq!(p.maintenance_window.end, hm(12, 0));
        assert_eq!(p.timezone, chrono_tz::Europe::Stockholm);
        assert_eq!(p.major_updates, MajorUpdates::FirstWednesday);
        assert_eq!(p.max_postponement_days, 31);
        assert_eq!(p.control_plane_nodes, 3);
        assert_eq!(p.max_workers, 20);
        assert_eq!(p.backup_window.start, hm(0, 0));
        assert_eq!(p.backup_window.end, hm(3, 0));
        assert_eq!(p.backups_kept, 3);
        assert_eq!(p.recovery_within, Duration::from_secs(4 * 60 * 60));
        assert_eq!(p.slo_cluster, 99.95);
        assert_eq!(p.slo_external, 99.5);
    }

    #[test]
    fn minimal_config_gets_default_policy_and_resolved_paths() {
        let fleet = parse_test(MINIMAL).unwrap();
        assert_eq!(fleet.policy, Policy::default());
        let env = fleet.environment("acme").unwrap();
        assert_eq!(env.sc.kubeconfig, Path::new("/etc/ck8s/kube/acme.yaml"));
        assert_eq!(env.wc.kubeconfig, Path::new("/home/me/.kube/acme.yaml"));
        assert_eq!(env.sc.probes[0].slo, 99.5);
        assert_eq!(env.max_workers(&fleet.policy), 20);
        assert_eq!(env.cluster(ClusterRole::Wc).context, "acme-wc");
        assert_eq!(
            fleet.source.as_deref(),
            Some(Path::new("/etc/ck8s/fleet.toml"))
        );
    }

    #[test]
    fn zero_environments_is_valid() {
        let fleet = parse_test("version = 1\n").unwrap();
        assert!(fleet.environments.is_empty());
    }

    #[test]
    fn credential_names_are_validated_and_round_trip() {
        let text = MINIMAL.replace(
            "context = \"acme-sc\"",
            "context = \"acme-sc\"\nprometheus_credential = \"acme-metrics\"",
        );
        let fleet = parse_test(&text).unwrap();
        let sc = &fleet.environment("acme").unwrap().sc;
        assert_eq!(sc.prometheus_credential.as_deref(), Some("acme-metrics"));
        assert_eq!(sc.alertmanager_credential, None);
        assert_eq!(
            parse_test(&to_toml(&fleet)).unwrap().environments,
            fleet.environments
        );

        let bad = text.replace("\"acme-metrics\"", "\"Bearer abc.DEF\"");
        let err = parse_test(&bad).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(":9:25: `prometheus_credential`"), "{msg}");
        assert!(!msg.contains("abc.DEF"), "the value may be a secret: {msg}");
        assert_eq!(err.exit_code(), crate::exit::USAGE);
    }

    #[test]
    fn a_missing_cluster_snippet_leaves_out_optional_keys() {
        let text = "version = 1\n[[environment]]\nname = \"acme\"\n[environment.sc]\nkubeconfig = \"k\"\ncontext = \"c\"\nprometheus = \"http://p\"\nalertmanager = \"http://a\"\n";
        let msg = parse_test(text).unwrap_err().to_string();
        assert!(msg.contains("[environment.wc]"), "{msg}");
        assert!(!msg.contains("_credential"), "{msg}");
    }

    #[test]
    fn dns_labels() {
        for ok in ["a", "acme", "acme-prod-1", "0abc", &"a".repeat(63)] {
            assert_eq!(check_dns_label(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "-acme",
            "acme-",
            "Acme",
            "ac_me",
            "ac.me",
            "åke",
            &"a".repeat(64),
        ] {
            assert!(check_dns_label(bad).is_err(), "{bad}");
        }
        assert_eq!(
            suggest_dns_label("Acme Corp!").as_deref(),
            Some("acme-corp")
        );
        assert_eq!(suggest_dns_label("--"), None);
    }

    #[test]
    fn durations() {
        let cases = [
            ("4h", 4 * 3600),
            ("90m", 90 * 60),
            ("1h30m", 5400),
            ("1h 30m", 5400),
            ("45s", 45),
            ("1d", 86_400),
            ("2min", 120),
        ];
        for (text, secs) in cases {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_secs(secs)),
                "{text}"
            );
        }
        for bad in ["", "4", "h", "4x", "1.5h", "-1h", "99999999999999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        for secs in [1, 59, 60, 5400, 4 * 3600, 86_400 + 61] {
            let d = Duration::from_secs(secs);
            assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
    }

    #[test]
    fn recovery_within_accepts_minutes() {
        let text = "version = 1\n[policy]\nrecovery_within = 90\n";
        let fleet = parse_test(text).unwrap();
        assert_eq!(fleet.policy.recovery_within, Duration::from_secs(90 * 60));
        let err = parse_test("version = 1\n[policy]\nrecovery_within = \"0m\"\n").unwrap_err();
        assert!(err.to_string().contains(":3:19:"), "{err}");
    }

    #[test]
    fn urls() {
        for ok in [
            "https://prometheus.ops.acme.example",
            "http://prometheus:9090",
            "https://prometheus.example./api/v1?x=1",
            "http://10.0.0.1:65535/",
            "http://[::1]:9093",
            "HTTPS://Example.COM",
        ] {
            assert_eq!(check_url(ok), Ok(()), "{ok}");
        }
        for bad in [
            "prometheus.example",
            "ftp://prometheus.example",
            "https://",
            "https:///path",
            "https://prom example",
            "https://prometheus.example:65536",
            "https://prometheus.example:0",
            "https://prometheus.example:+80",
            "https://prometheus.example:",
            "https://user:pw@prometheus.example",
            "https://a..b",
            "https://-a.b",
            "https://[zz]:80",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn selectors_are_checked_as_far_as_can_be_without_prometheus() {
        for good in [
            "probe_success",
            r#"probe_success{job="blackbox",instance="https://a.example/x,y"}"#,
            r#"{__name__="probe_success", target=~"dex|grafana"}"#,
            r#"up{a!="\"q\"",b!~'x'}"#,
            "job:probe_success:max{cluster=\"wc\",}",
        ] {
            assert_eq!(check_selector(good), Ok(()), "{good}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("probe_success[5m]", "range"),
            ("{}", "neither"),
            (r#"a{x="}"#, "not closed"),
            (r#"a{x="y""#, "not closed with '}'"),
            ("a{x}", "not label="),
            ("a{x=y}", "not label="),
            ("sum(a)", "not a selector"),
            (r#"a{1x="y"}"#, "not label="),
        ] {
            let err = check_selector(bad).expect_err(bad);
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn to_toml_round_trips() {
        let mut fleet = parse_test(EXAMPLE).unwrap();
        fleet.policy.timezone = chrono_tz::UTC;
        fleet.policy.recovery_within = Duration::from_secs(5400);
        fleet.policy.slo_external = 99.0;
        fleet.policy.maintenance_window.day = Weekday::Thu;
        fleet.policy.backup_window.end = hm(4, 30);
        // A cluster with its own SLO labels, and a probe with its own selector.
        let acme = &mut fleet.environments[0];
        let labels = BTreeMap::from([("cluster".to_owned(), "wc".to_owned())]);
        for probe in &mut acme.wc.probes {
            probe.selector = slo::probe_selector(&labels, &probe.target);
        }
        acme.wc.slo_labels = Some(labels);
        acme.sc.probes[0].selector = r#"up{job="apiserver"}"#.to_owned();
        acme.sc.probes[0].custom_selector = true;
        let text = to_toml(&fleet);
        let mut back = parse_test(&text).unwrap_or_else(|e| panic!("{e}\n---\n{text}"));
        back.source = fleet.source.clone();
        assert_eq!(back, fleet, "\n{text}");
    }

    #[test]
    fn to_toml_of_default_fleet_round_trips() {
        let fleet = Fleet::default();
        let mut back = parse_test(&to_toml(&fleet)).unwrap();
        back.source = None;
        assert_eq!(back, fleet);
    }

    #[test]
    fn cluster_roles() {
        assert_eq!("sc".parse::<ClusterRole>(), Ok(ClusterRole::Sc));
        assert_eq!("WC".parse::<ClusterRole>(), Ok(ClusterRole::Wc));
        assert!("mc".parse::<ClusterRole>().is_err());
        assert_eq!(ClusterRole::Wc.to_string(), "wc");
        assert_eq!(ClusterRole::ALL, [ClusterRole::Sc, ClusterRole::Wc]);
    }

    #[test]
    fn model_serializes_like_the_file() {
        let json = serde_json::to_value(Policy::default()).unwrap();
        assert_eq!(json["maintenance_window"]["day"], "wednesday");
        assert_eq!(json["maintenance_window"]["start"], "07:00");
        assert_eq!(json["timezone"], "Europe/Stockholm");
        assert_eq!(json["major_updates"], "first-wednesday");
        assert_eq!(json["recovery_within"], "4h");
    }

    /// The schema tables used for messages must list exactly the keys serde accepts.
    #[test]
    fn schema_matches_the_raw_structs() {
        let cases: [(&str, &Section); 9] = [
            ("bogus = 1\nversion = 1", &ROOT),
            ("version = 1\n[policy]\nbogus = 1", &POLICY),
            (
                "version = 1\n[policy]\nmaintenance_window = { bogus = 1 }",
                &MAINTENANCE_WINDOW,
            ),
            (
                "version = 1\n[policy]\nbackup_window = { bogus = 1 }",
                &BACKUP_WINDOW,
            ),
            ("version = 1\n[policy.slo]\nbogus = 1", &SLO),
            ("version = 1\n[[environment]]\nbogus = 1", &ENVIRONMENT),
            (
                "version = 1\n[[environment]]\n[environment.sc]\nbogus = 1",
                &CLUSTER,
            ),
            (
                "version = 1\n[[environment]]\n[[environment.sc.probe]]\nbogus = 1",
                &PROBE,
            ),
            ("version = 1\n[[exclusion]]\nbogus = 1", &EXCLUSION),
        ];
        for (text, section) in cases {
            let err = toml::from_str::<RawFleet>(text).unwrap_err();
            let message = err.message();
            let serde_keys = backticked(message.split_once("expected").unwrap().1);
            let ours: Vec<&str> = section.keys.iter().map(|k| k.key).collect();
            assert_eq!(serde_keys, ours, "{}", section.title);
        }
    }

    #[test]
    fn misplaced_key_names_its_home() {
        let text = "version = 1\n[policy]\nkubeconfig = \"x\"\n";
        let msg = parse_test(text).unwrap_err().to_string();
        assert!(
            msg.contains("`kubeconfig` belongs in [environment.sc] or [environment.wc]"),
            "{msg}"
        );
    }

    #[test]
    fn unknown_enum_value_suggests() {
        let text = MINIMAL.replace("kind = \"external\"", "kind = \"externall\"");
        let msg = parse_test(&text).unwrap_err().to_string();
        assert!(
            msg.contains(":13:8: `kind` in environment \"acme\" cluster sc probe \"grafana\""),
            "{msg}"
        );
        assert!(msg.contains("did you mean `external`?"), "{msg}");
    }

    #[test]
    fn errors_in_inline_tables_are_located() {
        let text = "version = 1\n[policy]\nmaintenance_window = { day = \"wed\", start = 7, end = \"12:00\" }\n";
        let msg = parse_test(text).unwrap_err().to_string();
        assert!(
            msg.contains(":3:45: `start` in [policy.maintenance_window] must be a string"),
            "{msg}"
        );
    }

    #[test]
    fn even_control_plane_is_refused() {
        let msg = parse_test("version = 1\n[policy]\ncontrol_plane_nodes = 4\n")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains(":3:23:") && msg.contains("odd number"),
            "{msg}"
        );
    }

    #[test]
    fn misspelt_timezone_is_suggested() {
        let msg = parse_test("version = 1\n[policy]\ntimezone = \"Europe/Stokholm\"\n")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("did you mean \"Europe/Stockholm\"?"), "{msg}");
    }

    #[test]
    fn duplicate_probe_targets_are_refused() {
        let text = MINIMAL.replace(
            "kind = \"external\"",
            "kind = \"external\"\n[[environment.sc.probe]]\ntarget = \"grafana\"\nkind = \"external\"",
        );
        let msg = parse_test(&text).unwrap_err().to_string();
        assert!(
            msg.contains(":15:10:") && msg.contains("probe #1 already has this target"),
            "{msg}"
        );
    }

    #[test]
    fn tags_are_read_written_and_checked_one_by_one() {
        let text = MINIMAL.replace(
            "name = \"acme\"",
            "name = \"acme\"\ntags = [\"gold\", \"eu-north\"]",
        );
        let fleet = parse_test(&text).unwrap();
        assert_eq!(fleet.environments[0].tags, ["gold", "eu-north"]);
        let written = to_toml(&fleet);
        assert_eq!(
            parse_test(&written).unwrap().environments[0].tags,
            ["gold", "eu-north"]
        );
        // The second tag is pointed at, with what a tag may hold.
        let text = MINIMAL.replace(
            "name = \"acme\"",
            "name = \"acme\"\ntags = [\"gold\", \"eu north\"]",
        );
        let msg = parse_test(&text).unwrap_err().to_string();
        assert!(
            msg.contains(":6:17: `tags`") && msg.contains("\"eu north\""),
            "{msg}"
        );
        assert!(msg.contains("1-63 letters, digits"), "{msg}");
    }

    #[test]
    fn bad_accent_is_refused() {
        let text = MINIMAL.replace("name = \"acme\"", "name = \"acme\"\naccent = \"magneta\"");
        let msg = parse_test(&text).unwrap_err().to_string();
        assert!(
            msg.contains(":6:10: `accent`") && msg.contains("#rrggbb"),
            "{msg}"
        );
    }

    #[test]
    fn missing_key_help_uses_the_environment_and_role() {
        let text = MINIMAL.replace("context = \"acme-wc\"\n", "");
        let msg = parse_test(&text).unwrap_err().to_string();
        assert!(
            msg.contains(":14:1: environment \"acme\" cluster wc is missing `context`"),
            "{msg}"
        );
        assert!(
            msg.contains("add `context = \"acme-wc\"` to environment \"acme\" cluster wc"),
            "{msg}"
        );
    }

    #[test]
    fn empty_file_asks_for_a_version() {
        let err = parse_test("").unwrap_err();
        assert_eq!(err.problem(), &Problem::MissingVersion);
        assert_eq!(err.line(), Some(1));
    }

    const EXCLUSIONS: &str = r#"
[[exclusion]]
start = "2026-11-11T07:00:00+01:00"
end = 2026-11-11T11:00:00Z
kind = "planned-maintenance"
reason = "patch upgrade"

[[exclusion]]
start = "2026-10-21T10:00:00Z"
end = "2026-10-21T14:00:00Z"
kind = "force-majeure"
reason = "power loss"
environment = "acme"
cluster = "sc"
target = "grafana"
"#;

    #[test]
    fn exclusions_parse_in_both_time_spellings_and_scope() {
        let fleet = parse_test(&format!("{MINIMAL}{EXCLUSIONS}")).unwrap();
        let [maintenance, power] = fleet.exclusions.as_slice() else {
            panic!("{:?}", fleet.exclusions)
        };
        assert_eq!(maintenance.start.to_rfc3339(), "2026-11-11T06:00:00+00:00");
        assert_eq!(maintenance.end.to_rfc3339(), "2026-11-11T11:00:00+00:00");
        assert_eq!(maintenance.kind, ExclusionKind::PlannedMaintenance);
        assert!(maintenance.is_fleet_wide());
        assert_eq!(power.kind, ExclusionKind::ForceMajeure);
        assert!(!power.is_fleet_wide());

        let reasons = |env, role, target| -> Vec<String> {
            fleet
                .slo_exclusions(env, role, target)
                .into_iter()
                .map(|ex| ex.reason)
                .collect()
        };
        assert_eq!(
            reasons("acme", ClusterRole::Sc, "grafana"),
            ["patch upgrade", "power loss"]
        );
        assert_eq!(reasons("acme", ClusterRole::Sc, "dex"), ["patch upgrade"]);
        assert_eq!(
            reasons("acme", ClusterRole::Wc, "grafana"),
            ["patch upgrade"]
        );
        assert_eq!(
            reasons("globex", ClusterRole::Sc, "grafana"),
            ["patch upgrade"]
        );

        let json = serde_json::to_value(&fleet.exclusions[1]).unwrap();
        assert_eq!(json["kind"], "force-majeure");
        assert_eq!(json["cluster"], "sc");
        assert_eq!(json["start"], "2026-10-21T10:00:00Z");
    }

    #[test]
    fn exclusions_round_trip_through_to_toml() {
        let fleet = parse_test(&format!("{MINIMAL}{EXCLUSIONS}")).unwrap();
        let text = to_toml(&fleet);
        let mut back = parse_test(&text).unwrap_or_else(|e| panic!("{e}\n---\n{text}"));
        back.source = fleet.source.clone();
        assert_eq!(back, fleet, "\n{text}");
    }

    fn exclusion_error(body: &str) -> String {
        let text = format!("{MINIMAL}\n[[exclusion]]\n{body}");
        parse_test(&text).unwrap_err().to_string()
    }

    #[test]
    fn exclusion_times_need_an_offset() {
        let msg = exclusion_error(
            "start = 2026-11-11T06:00:00\nend = \"2026-11-11T07:00:00Z\"\nkind = \"force-majeure\"\nreason = \"x\"",
        );
        assert!(msg.contains(":21:9: `start` in exclusion #1"), "{msg}");
        assert!(msg.contains("the time has no UTC offset"), "{msg}");
        assert!(msg.contains("\"2026-11-11T06:00:00Z\""), "{msg}");
        let msg = exclusion_error(
            "start = 7\nend = \"2026-11-11T07:00:00Z\"\nkind = \"force-majeure\"\nreason = \"x\"",
        );
        assert!(
            msg.contains("`start` in exclusion #1 must be an RFC 3339 time, found integer `7`"),
            "{msg}"
        );
    }

    #[test]
    fn exclusion_target_must_be_probed_in_scope() {
        let msg = exclusion_error(
            "start = \"2026-11-11T06:00:00Z\"\nend = \"2026-11-11T07:00:00Z\"\nkind = \"planned-maintenance\"\nreason = \"x\"\ncluster = \"wc\"\ntarget = \"grafana\"",
        );
        assert!(msg.contains("`target` in exclusion #1"), "{msg}");
        assert!(msg.contains("no probe in scope has this target"), "{msg}");
        assert!(msg.contains("leave `target` out"), "{msg}");
    }

    #[test]
    fn exclusion_kind_and_keys_are_checked() {
        let msg = exclusion_error(
            "start = \"2026-11-11T06:00:00Z\"\nend = \"2026-11-11T07:00:00Z\"\nkind = \"planned_maintenance\"\nreason = \"x\"",
        );
        assert!(msg.contains("`kind` in exclusion #1"), "{msg}");
        assert!(msg.contains("did you mean `planned-maintenance`?"), "{msg}");
        let msg = exclusion_error(
            "start = \"2026-11-11T06:00:00Z\"\nend = \"2026-11-11T07:00:00Z\"\nkind = \"force-majeure\"",
        );
        assert!(msg.contains("exclusion #1 is missing `reason`"), "{msg}");
        assert!(
            msg.contains("add `reason = \"Kubernetes patch upgrade\"` to exclusion #1"),
            "{msg}"
        );
        let msg = exclusion_error(
            "start = \"2026-11-11T06:00:00Z\"\nend = \"2026-11-11T07:00:00Z\"\nkind = \"force-majeure\"\nreason = \"x\"\nenviroment = \"acme\"",
        );
        assert!(
            msg.contains("unknown key `enviroment` in exclusion #1"),
            "{msg}"
        );
        assert!(msg.contains("did you mean `environment`?"), "{msg}");
    }

    #[test]
    fn locations_count_characters() {
        assert_eq!(location("ab\nåäx", 7), Location { line: 2, column: 3 });
        assert_eq!(location("", 5), Location { line: 1, column: 1 });
    }

    #[test]
    fn backups_may_be_a_day_plus_the_window_old_unless_the_policy_says() {
        let mut p = Policy::default();
        assert_eq!(p.backup_window.length(), Duration::from_secs(3 * 3600));
        assert_eq!(p.backup_max_age(), Duration::from_secs(27 * 3600));
        // A window across midnight, and one of the whole day.
        p.backup_window = DailyWindow {
            start: hm(22, 0),
            end: hm(2, 0),
        };
        assert_eq!(p.backup_max_age(), Duration::from_secs(28 * 3600));
        p.backup_window.end = hm(22, 0);
        assert_eq!(p.backup_window.length(), Duration::from_secs(24 * 3600));
        p.backup_max_age = Some(Duration::from_secs(30 * 3600));
        assert_eq!(p.backup_max_age(), Duration::from_secs(30 * 3600));
    }
}
