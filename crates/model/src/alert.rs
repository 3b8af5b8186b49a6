//! Alerts and silences as Alertmanager's API v2 defines them (`api/v2/openapi.yaml`), and
//! the fleet view that merges the alerts of many Alertmanagers. These are the domain's
//! words for "what is firing" and "what is muted"; the HTTP client lives in ck8s-fleet.
//!
//! The types follow the OpenAPI definitions field by field, camelCase on the wire. Unknown
//! fields are ignored and collections tolerate `null` (Go marshals a nil slice or map as
//! `null`), so a newer Alertmanager still decodes.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use crate::config::ClusterRole;

/// A silence that Alertmanager would refuse, found before any request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid silence: {0}")]
pub struct InvalidSilence(pub String);

// ---------------------------------------------------------------------------------------------
// Wire types
// ---------------------------------------------------------------------------------------------

/// `gettableAlert`: an alert as Alertmanager holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    #[serde(default, deserialize_with = "nullable")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "nullable")]
    pub annotations: BTreeMap<String, String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// 16 hex digits, a hash of the label set: the alert's identity in every Alertmanager.
    pub fingerprint: String,
    #[serde(default, deserialize_with = "nullable")]
    pub receivers: Vec<Receiver>,
    /// Empty when the sender gave none (Alertmanager then omits the field).
    #[serde(
        rename = "generatorURL",
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub generator_url: String,
    pub status: AlertStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertStatus {
    pub state: AlertState,
    #[serde(default, deserialize_with = "nullable")]
    pub silenced_by: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub inhibited_by: Vec<String>,
    /// Names of the time intervals muting the alert; Alertmanager 0.28 and newer only.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub muted_by: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    Unprocessed,
    Active,
    /// Silenced, inhibited or muted.
    Suppressed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Receiver {
    pub name: String,
}

/// `alertGroup`: the alerts one route groups together for one receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AlertGroup {
    #[serde(default, deserialize_with = "nullable")]
    pub labels: BTreeMap<String, String>,
    pub receiver: Receiver,
    #[serde(default, deserialize_with = "nullable")]
    pub alerts: Vec<Alert>,
}

/// `gettableSilence`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Silence {
    pub id: String,
    pub status: SilenceStatus,
    pub updated_at: DateTime<Utc>,
    #[serde(default, deserialize_with = "nullable")]
    pub matchers: Vec<Matcher>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    #[serde(default, deserialize_with = "nullable")]
    pub created_by: String,
    #[serde(default, deserialize_with = "nullable")]
    pub comment: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SilenceStatus {
    pub state: SilenceState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SilenceState {
    Expired,
    Active,
    Pending,
}

/// A label matcher of a silence or of an alert filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Matcher {
    pub name: String,
    pub value: String,
    pub is_regex: bool,
    /// `false` negates the matcher (`!=`, `!~`). Absent before Alertmanager 0.22, hence the
    /// default.
    #[serde(default = "default_true")]
    pub is_equal: bool,
}

impl Matcher {
    /// `name="value"`.
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Matcher {
            name: name.into(),
            value: value.into(),
            is_regex: false,
            is_equal: true,
        }
    }

    /// `name=~"pattern"`; Alertmanager anchors the pattern at both ends.
    pub fn regex(name: impl Into<String>, pattern: impl Into<String>) -> Self {
        Matcher {
            is_regex: true,
            ..Matcher::equal(name, pattern)
        }
    }

    fn operator(&self) -> &'static str {
        match (self.is_equal, self.is_regex) {
            (true, false) => "=",
            (false, false) => "!=",
            (true, true) => "=~",
            (false, true) => "!~",
        }
    }
}

/// The matcher syntax of the `filter` query parameter and of amtool: `name="value"`, with `\`,
/// `"` and newlines escaped the way Alertmanager's matcher parser unescapes them.
impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}\"", self.name, self.operator())?;
        for c in self.value.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '"' => f.write_str("\\\"")?,
                '\n' => f.write_str("\\n")?,
                c => fmt::Write::write_char(f, c)?,
            }
        }
        f.write_str("\"")
    }
}

/// `postableAlert`: what Prometheus (or a test) pushes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostableAlert {
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Alertmanager uses the time of receipt when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    /// Alertmanager resolves the alert after `resolve_timeout` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(
        rename = "generatorURL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub generator_url: Option<String>,
}

impl PostableAlert {
    pub fn new<K: Into<String>, V: Into<String>>(labels: impl IntoIterator<Item = (K, V)>) -> Self {
        PostableAlert {
            labels: collect_labels(labels),
            ..PostableAlert::default()
        }
    }

    pub fn with_annotations<K: Into<String>, V: Into<String>>(
        mut self,
        annotations: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.annotations.extend(collect_labels(annotations));
        self
    }
}

/// `postableSilence`: a new silence, or with `id` the replacement of an existing one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostableSilence {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub matchers: Vec<Matcher>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub created_by: String,
    pub comment: String,
}

impl PostableSilence {
    /// A silence of `alert` from now for `duration`, with one equality matcher per label,
    /// `alertname` first.
    ///
    /// No label is left out: Alertmanager identifies an alert by its complete label set, so
    /// matching all of them silences exactly this alert and its later re-firings, and nothing
    /// else. A label whose value changes makes a new alert anyway (Prometheus alert labels
    /// are templated from the rule's output, not from sample values). Widen the matchers
    /// before posting to silence a whole family.
    pub fn for_alert(alert: &Alert, duration: TimeDelta, author: &str, comment: &str) -> Self {
        let starts_at = Utc::now();
        PostableSilence {
            id: None,
            matchers: alert_matchers(&alert.labels),
            starts_at,
            ends_at: starts_at
                .checked_add_signed(duration)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
            created_by: author.to_owned(),
            comment: comment.to_owned(),
        }
    }

    /// The checks Alertmanager would make, done locally so that the user gets a clear message
    /// without a round trip.
    pub fn validate(&self) -> Result<(), InvalidSilence> {
        self.validate_at(Utc::now())
    }

    fn validate_at(&self, now: DateTime<Utc>) -> Result<(), InvalidSilence> {
        let invalid = |reason: &str| Err(InvalidSilence(reason.to_owned()));
        if self.matchers.is_empty() {
            return invalid("a silence needs at least one matcher");
        }
        if self.matchers.iter().any(|m| m.name.trim().is_empty()) {
            return invalid("every matcher needs a label name");
        }
        if self.ends_at <= self.starts_at {
            return invalid("the end must be after the start");
        }
        if self.ends_at <= now {
            return invalid("the end is in the past");
        }
        if self.created_by.trim().is_empty() {
            return invalid("the author (createdBy) is empty");
        }
        if self.comment.trim().is_empty() {
            return invalid("the comment is empty: say why the alert is silenced");
        }
        Ok(())
    }
}

fn alert_matchers(labels: &BTreeMap<String, String>) -> Vec<Matcher> {
    let (first, rest): (Vec<_>, Vec<_>) = labels
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| Matcher::equal(name, value))
        .partition(|m| m.name == "alertname");
    first.into_iter().chain(rest).collect()
}

/// What `GET /status` says about the Alertmanager itself. The running configuration is left
/// out on purpose: it can hold receiver credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct AmStatus {
    pub version: String,
    pub cluster: ClusterStatus,
    /// The wire's `uptime`, which is the time the process started.
    pub started_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClusterStatus {
    /// Absent when clustering is disabled.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    pub status: ClusterState,
    #[serde(default, deserialize_with = "nullable")]
    pub peers: Vec<PeerStatus>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClusterState {
    Ready,
    Settling,
    /// Gossip is off (`--cluster.listen-address=`): a single Alertmanager.
    Disabled,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PeerStatus {
    pub name: String,
    pub address: String,
}

/// Go marshals nil slices, maps and strings-behind-pointers as `null`; read that as empty.
fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Option::unwrap_or_default)
}

fn default_true() -> bool {
    true
}

fn collect_labels<K: Into<String>, V: Into<String>>(
    pairs: impl IntoIterator<Item = (K, V)>,
) -> BTreeMap<String, String> {
    pairs
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Alert conveniences
// ---------------------------------------------------------------------------------------------

/// The `severity` label as CK8s uses it (`critical`, `high`, `warning`, `none`), plus the
/// `info` of the upstream kube-prometheus rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
    Warning,
    Info,
    /// `none`, no `severity` label, or a value the console does not know.
    None,
}

impl Severity {
    pub fn from_label(value: Option<&str>) -> Self {
        match value.map(str::to_ascii_lowercase).as_deref() {
            Some("critical") => Severity::Critical,
            Some("high") => Severity::High,
            Some("warning") => Severity::Warning,
            Some("info") => Severity::Info,
            _ => Severity::None,
        }
    }

    /// Position in the fleet view, most urgent first; `info` and `none` share the last place
    /// because neither pages anyone.
    pub fn urgency_rank(self) -> u8 {
        match self {
            Severity::Critical => 0,
            Severity::High => 1,
            Severity::Warning => 2,
            Severity::Info | Severity::None => 3,
        }
    }
}

impl Alert {
    pub fn severity(&self) -> Severity {
        Severity::from_label(self.label("severity"))
    }

    /// Empty when the alert has no `alertname` (Alertmanager accepts such alerts).
    pub fn alertname(&self) -> &str {
        self.label("alertname").unwrap_or_default()
    }

    /// The one-line text for a list: the `summary` annotation, else `description`, else the
    /// `message` that older kube-prometheus rules used.
    pub fn summary(&self) -> Option<&str> {
        ["summary", "description", "message"]
            .into_iter()
            .find_map(|key| self.annotation(key))
    }

    pub fn runbook_url(&self) -> Option<&str> {
        self.annotation("runbook_url")
    }

    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.get(name).map(String::as_str)
    }

    fn annotation(&self, name: &str) -> Option<&str> {
        self.annotations
            .get(name)
            .map(String::as_str)
            .filter(|text| !text.trim().is_empty())
    }
}

// ---------------------------------------------------------------------------------------------
// Fleet view
// ---------------------------------------------------------------------------------------------

/// An alert as one cluster's Alertmanager reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterAlert {
    pub env: String,
    pub cluster: ClusterRole,
    pub alert: Alert,
}

/// One alert of the fleet view, with every Alertmanager that reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedAlert {
    pub alert: Alert,
    /// Sorted by environment, then cluster.
    pub sources: Vec<(String, ClusterRole)>,
}

impl MergedAlert {
    fn absorb(&mut self, source: (String, ClusterRole), alert: Alert) {
        if !self.sources.contains(&source) {
            self.sources.push(source);
        }
        // An alert muted in one Alertmanager but still notifying through another still pages
        // someone, so the view shows the loudest copy; among equals, the freshest.
        let louder = loudness(alert.status.state) > loudness(self.alert.status.state);
        let same_and_newer = loudness(alert.status.state) == loudness(self.alert.status.state)
            && alert.updated_at > self.alert.updated_at;
        if louder || same_and_newer {
            self.alert = alert;
        }
    }
}

/// Severity, then `startsAt`, then alertname; the fingerprint breaks the remaining ties so
/// that rows never swap places between refreshes.
fn fleet_order(m: &MergedAlert) -> (u8, DateTime<Utc>, &str, &str) {
    (
        m.alert.severity().urgency_rank(),
        m.alert.starts_at,
        m.alert.alertname(),
        &m.alert.fingerprint,
    )
}

fn loudness(state: AlertState) -> u8 {
    match state {
        AlertState::Suppressed => 0,
        AlertState::Unprocessed => 1,
        AlertState::Active => 2,
    }
}

/// The fleet's alerts, one row per fingerprint: the same alert seen by two Alertmanagers (say
/// the sc's Thanos ruler alert about the wc, routed to both) appears once, with both sources.
/// Sorted by severity (critical first), then `startsAt` (oldest first), then alertname.
pub fn merge_alerts(per_cluster: Vec<(String, ClusterRole, Vec<Alert>)>) -> Vec<MergedAlert> {
    merge_cluster_alerts(per_cluster.into_iter().flat_map(|(env, cluster, alerts)| {
        alerts.into_iter().map(move |alert| ClusterAlert {
            env: env.clone(),
            cluster,
            alert,
        })
    }))
}

/// [`merge_alerts`] over alerts already tagged with their cluster.
pub fn merge_cluster_alerts(alerts: impl IntoIterator<Item = ClusterAlert>) -> Vec<MergedAlert> {
    let mut by_fingerprint: HashMap<String, MergedAlert> = HashMap::new();
    for ClusterAlert {
        env,
        cluster,
        alert,
    } in alerts
    {
        match by_fingerprint.get_mut(&alert.fingerprint) {
            Some(merged) => merged.absorb((env, cluster), alert),
            None => {
                let merged = MergedAlert {
                    sources: vec![(env, cluster)],
                    alert,
                };
                by_fingerprint.insert(merged.alert.fingerprint.clone(), merged);
            }
        }
    }
    let mut merged: Vec<MergedAlert> = by_fingerprint.into_values().collect();
    for row in &mut merged {
        row.sources.sort();
    }
    merged.sort_by(|a, b| fleet_order(a).cmp(&fleet_order(b)));
    merged
}
