//! The policy gate: before a workflow runs, [`evaluate`] says whether the service commitments
//! allow it now, deny it, or let it run only with an override and a written reason.
//!
//! Pure: everything the gate looks at arrives as [`Facts`], gathered by the caller from state.
//!
//! # Rules
//! Deny (no override can help; the situation must change first):
//! - `cluster-locked`: another run holds the cluster.
//! - `upgrade-in-progress`: a Cluster API rollout or apps upgrade is running; scale, drain and
//!   upgrade never run together with one.
//! - `version-skew`, `downgrade`, `version-invalid`: Kubernetes moves one minor version at a
//!   time, forwards only.
//!
//! Needs an override:
//! - `worker-limit`, `no-workers`: the node count leaves what the service offers.
//! - `maintenance-window`: a planned update (drain, upgrade) outside the weekly window.
//! - `major-update-window`: a minor-version bump (a "major update" in the service description)
//!   outside the first window of the month, when the policy says so.
//! - `critical-alerts`: critical alerts are firing (everything but a backup or a restore).
//! - `backup-freshness`, `error-budget`: a disruptive change without a recent backup, or with
//!   an SLO that has no error budget left.
//!
//! Backups and restores are never disruptive and never planned updates: a restore is recovery,
//! often the answer to the very incident whose alerts fire, so neither firing alerts, an
//! upgrade in progress nor the maintenance window holds it back; only another run does.
//!
//! A deny wins over an override; every finding is reported either way, denies first, so the
//! engineer sees everything that stands in the way at once.
//!
//! # Time
//! Windows are wall-clock times in the policy time zone, so a 07:00 window is 06:00 UTC in
//! winter and 05:00 UTC in summer. On a day when the clocks change, a window edge that falls
//! in the skipped hour opens when the clock jumps past it, and one in the repeated hour means
//! its first occurrence.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::config::{MajorUpdates, Policy};

/// Findings with these rules deny the run; all others need an override.
const DENY_RULES: &[&str] = &[
    "read-only",
    "permission",
    "cluster-locked",
    "upgrade-in-progress",
    "version-skew",
    "downgrade",
    "version-invalid",
];

/// Minimum length, in characters, of an override reason after trimming.
pub const OVERRIDE_REASON_MIN_CHARS: usize = 15;
/// Minimum number of words of an override reason.
pub const OVERRIDE_REASON_MIN_WORDS: usize = 3;

// ---------------------------------------------------------------------------------------------
// Inputs and outputs
// ---------------------------------------------------------------------------------------------

/// What a workflow is about to do. A restore of a Velero backup is recovery, not a change
/// to the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    ScaleWorkers { from: u32, to: u32 },
    Backup,
    Restore { backup: String },
    Drain { node: String },
    UpgradeKubernetes { from: String, to: String },
}

impl Intent {
    pub fn name(&self) -> &'static str {
        match self {
            Intent::ScaleWorkers { .. } => "scale",
            Intent::Backup => "backup",
            Intent::Restore { .. } => "restore",
            Intent::Drain { .. } => "drain",
            Intent::UpgradeKubernetes { .. } => "upgrade",
        }
    }

    /// Recovery and safety nets (backup, restore), which alerts and upgrades never hold up.
    fn is_recovery(&self) -> bool {
        matches!(self, Intent::Backup | Intent::Restore { .. })
    }

    /// Whether the intent can take capacity or availability away from customer workloads.
    pub fn disruptive(&self) -> bool {
        match self {
            Intent::ScaleWorkers { from, to } => to < from,
            Intent::Backup | Intent::Restore { .. } => false,
            Intent::Drain { .. } | Intent::UpgradeKubernetes { .. } => true,
        }
    }

    /// Whether the service description makes this a planned update, bound to the maintenance
    /// window.
    pub fn planned_update(&self) -> bool {
        matches!(
            self,
            Intent::Drain { .. } | Intent::UpgradeKubernetes { .. }
        )
    }

    /// The intent as a phrase for messages, e.g. "draining node acme-wc-md-0-x".
    pub fn describe(&self) -> String {
        match self {
            Intent::ScaleWorkers { from, to } => format!("scaling workers from {from} to {to}"),
            Intent::Backup => "taking a backup".to_owned(),
            Intent::Restore { backup } => format!("restoring backup {backup}"),
            Intent::Drain { node } => format!("draining node {node}"),
            Intent::UpgradeKubernetes { from, to } => {
                format!("upgrading Kubernetes from {from} to {to}")
            }
        }
    }

    /// A run that would change nothing needs no gate.
    fn is_noop(&self) -> bool {
        match self {
            Intent::ScaleWorkers { from, to } => from == to,
            Intent::UpgradeKubernetes { from, to } => {
                from == to
                    || matches!(
                        (KubeVersion::parse(from), KubeVersion::parse(to)),
                        (Some(a), Some(b)) if a == b
                    )
            }
            Intent::Backup | Intent::Restore { .. } | Intent::Drain { .. } => false,
        }
    }
}

/// What the gate knows about the cluster and the world right now.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub now: DateTime<Utc>,
    /// The environment's limit, override already applied. 0 means "not set": the policy's
    /// `max_workers` applies, since a limit of no workers at all is never meant.
    pub max_workers: u32,
    /// Names of the firing alerts with severity critical.
    pub firing_critical: Vec<String>,
    pub last_good_backup: Option<DateTime<Utc>>,
    /// SLO targets with no error budget left.
    pub budget_exhausted: Vec<String>,
    /// Why an upgrade is in progress: apps upgrade lock, KCP/MD rollout.
    pub upgrade_in_progress: Option<String>,
    /// Id of the run holding the cluster.
    pub another_run: Option<String>,
    /// Why the cluster lock could not be read, when it could not: the plan then fails
    /// (exit 1) rather than reading an unreachable API as a lock someone holds.
    pub lock_unreadable: Option<String>,
    /// Other nodes of the cluster that are out of service (cordoned or not Ready), each
    /// with why: a drain would take a second node out.
    pub nodes_out: Vec<String>,
}

/// One reason a run cannot go ahead as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Finding {
    /// Stable kebab-case id, e.g. "worker-limit".
    pub rule: &'static str,
    /// A full sentence, with the numbers.
    pub message: String,
}

impl Finding {
    fn new(rule: &'static str, message: String) -> Finding {
        Finding { rule, message }
    }

    /// Whether this finding denies the run outright rather than asking for an override.
    pub fn is_deny(&self) -> bool {
        DENY_RULES.contains(&self.rule)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Decision {
    Allow,
    NeedsOverride {
        findings: Vec<Finding>,
    },
    /// Carries every finding, the denying ones first.
    Deny {
        findings: Vec<Finding>,
    },
}

impl Decision {
    /// Refused only because another run holds the cluster: the same command once it is
    /// done may succeed, which scripts tell by the exit code. Any other finding, even one an
    /// override reason would clear, makes it a refusal.
    pub fn only_locked(&self) -> bool {
        matches!(self, Decision::Deny { .. })
            && self.findings().iter().all(|f| f.rule == CLUSTER_LOCKED)
    }

    /// The refusal for another run holding the cluster alone, when that is among the
    /// findings: it explains the others, which may be its doing.
    pub fn lock_refusal(&self) -> Option<Decision> {
        let findings: Vec<Finding> = self
            .findings()
            .iter()
            .filter(|f| f.rule == CLUSTER_LOCKED)
            .cloned()
            .collect();
        (!findings.is_empty()).then_some(Decision::Deny { findings })
    }

    pub fn findings(&self) -> &[Finding] {
        match self {
            Decision::Allow => &[],
            Decision::NeedsOverride { findings } | Decision::Deny { findings } => findings,
        }
    }

    fn from_findings(mut findings: Vec<Finding>) -> Decision {
        if findings.is_empty() {
            return Decision::Allow;
        }
        // Stable: within each group the rules keep the order they were checked in.
        findings.sort_by_key(|f| !f.is_deny());
        if findings[0].is_deny() {
            Decision::Deny { findings }
        } else {
            Decision::NeedsOverride { findings }
        }
    }
}

impl Decision {
    /// This decision, denied first of all because nothing may change (`why`): the plan
    /// shows what would be done and why it will not be.
    pub fn read_only(self, why: String) -> Decision {
        self.refused_by("read-only", [format!("Read-only: {why}.")])
    }

    /// This decision with findings of a denying `rule` added (`read-only`, `permission`),
    /// which the engine finds itself rather than the policy.
    pub fn refused_by(
        self,
        rule: &'static str,
        messages: impl IntoIterator<Item = String>,
    ) -> Decision {
        debug_assert!(DENY_RULES.contains(&rule), "{rule} is not a denying rule");
        let mut findings: Vec<Finding> = messages
            .into_iter()
            .map(|m| Finding::new(rule, m))
            .collect();
        if findings.is_empty() {
            return self;
        }
        findings.extend(self.findings().iter().cloned());
        Decision::from_findings(findings)
    }
}

// ---------------------------------------------------------------------------------------------
// The gate
// ---------------------------------------------------------------------------------------------

pub fn evaluate(policy: &Policy, intent: &Intent, facts: &Facts) -> Decision {
    if intent.is_noop() {
        return Decision::Allow;
    }
    let mut findings = Vec::new();
    findings.extend(cluster_locked(facts));
    findings.extend(upgrade_in_progress(intent, facts));
    findings.extend(worker_count(policy, intent, facts));
    findings.extend(version_change(policy, intent, facts));
    findings.extend(maintenance_window(policy, intent, facts));
    findings.extend(critical_alerts(intent, facts));
    findings.extend(backup_freshness(policy, intent, facts));
    findings.extend(error_budget(intent, facts));
    findings.extend(one_node_at_a_time(intent, facts));
    Decision::from_findings(findings)
}

/// The service replaces nodes one at a time: a drain while another node is already out
/// (cordoned by an earlier drain, or not Ready) leaves the cluster two nodes short.
fn one_node_at_a_time(intent: &Intent, facts: &Facts) -> Option<Finding> {
    let Intent::Drain { node } = intent else {
        return None;
    };
    if facts.nodes_out.is_empty() {
        return None;
    }
    Some(Finding::new(
        "one-node-at-a-time",
        format!(
            "{} already out of service ({}); nodes are replaced one at a time, so bring it \
             back (or remove it) before draining {node}, or override.",
            if facts.nodes_out.len() == 1 {
                "Another node is"
            } else {
                "Other nodes are"
            },
            facts.nodes_out.join(", ")
        ),
    ))
}

/// The rule of a run refused because another run holds the cluster.
pub const CLUSTER_LOCKED: &str = "cluster-locked";

fn cluster_locked(facts: &Facts) -> Option<Finding> {
    let run = facts.another_run.as_deref()?;
    Some(Finding::new(
        CLUSTER_LOCKED,
        format!("Run {run} holds the cluster; wait for it to finish or cancel it, then try again."),
    ))
}

fn upgrade_in_progress(intent: &Intent, facts: &Facts) -> Option<Finding> {
    if intent.is_recovery() {
        return None;
    }
    let why = facts.upgrade_in_progress.as_deref()?;
    Some(Finding::new(
        "upgrade-in-progress",
        format!(
            "An upgrade is in progress ({why}); {} must wait until it has finished, \
             because scaling, draining and upgrading never run together with an upgrade.",
            intent.describe()
        ),
    ))
}

fn worker_count(policy: &Policy, intent: &Intent, facts: &Facts) -> Option<Finding> {
    let Intent::ScaleWorkers { to, .. } = intent else {
        return None;
    };
    let max = effective_max_workers(policy, facts);
    if *to > max {
        return Some(Finding::new(
            "worker-limit",
            format!(
                "{max} workers is the most the service allows; {to} needs an explicit override."
            ),
        ));
    }
    if *to == 0 {
        return Some(Finding::new(
            "no-workers",
            "Scaling to 0 workers leaves no node for customer workloads; \
             that needs an explicit override."
                .to_owned(),
        ));
    }
    None
}

fn effective_max_workers(policy: &Policy, facts: &Facts) -> u32 {
    if facts.max_workers == 0 {
        policy.max_workers
    } else {
        facts.max_workers
    }
}

fn version_change(policy: &Policy, intent: &Intent, facts: &Facts) -> Vec<Finding> {
    let Intent::UpgradeKubernetes { from, to } = intent else {
        return Vec::new();
    };
    let (old, new) = match (KubeVersion::parse(from), KubeVersion::parse(to)) {
        (Some(old), Some(new)) => (old, new),
        (old, new) => {
            let bad = [(from, old), (to, new)]
                .into_iter()
                .filter(|(_, parsed)| parsed.is_none())
                .map(|(text, _)| format!("{text:?}"))
                .collect::<Vec<_>>();
            return vec![Finding::new(
                "version-invalid",
                format!(
                    "{} is not a Kubernetes version; write it like v1.31.2.",
                    bad.join(" and ")
                ),
            )];
        }
    };
    if new < old {
        return vec![Finding::new(
            "downgrade",
            format!(
                "Kubernetes cannot be downgraded in place: {to} is older than {from}; \
                 restore from a backup instead."
            ),
        )];
    }
    if new.major != old.major || new.minor > old.minor + 1 {
        return vec![Finding::new(
            "version-skew",
            format!(
                "Kubernetes upgrades go one minor version at a time: {from} to {to} skips a \
                 version; upgrade to {}.{} first.",
                old.major,
                old.minor + 1
            ),
        )];
    }
    if new.minor == old.minor + 1 {
        return major_update_window(policy, from, to, facts.now)
            .into_iter()
            .collect();
    }
    Vec::new()
}

/// A minor-version bump is a "major update" in the service description's words.
fn major_update_window(
    policy: &Policy,
    from: &str,
    to: &str,
    now: DateTime<Utc>,
) -> Option<Finding> {
    if policy.major_updates != MajorUpdates::FirstWednesday
        || is_first_wednesday_window(policy, now)
    {
        return None;
    }
    let next = next_major_update_window(policy, now);
    Some(Finding::new(
        "major-update-window",
        format!(
            "{from} to {to} is a major update, which the policy allows only in the first \
             maintenance window of the month; the next one is {}.",
            format_window(policy.timezone, next)
        ),
    ))
}

fn maintenance_window(policy: &Policy, intent: &Intent, facts: &Facts) -> Option<Finding> {
    if !intent.planned_update() || in_maintenance_window(policy, facts.now) {
        return None;
    }
    let next = next_maintenance_window(policy, facts.now);
    Some(Finding::new(
        "maintenance-window",
        format!(
            "It is outside the maintenance window; the next one is {}. {} is a planned \
             update and runs in the window unless overridden.",
            format_window(policy.timezone, next),
            capitalize(&intent.describe())
        ),
    ))
}

fn critical_alerts(intent: &Intent, facts: &Facts) -> Option<Finding> {
    if intent.is_recovery() {
        return None;
    }
    let names = unique(&facts.firing_critical);
    if names.is_empty() {
        return None;
    }
    let (count, them) = match names.len() {
        1 => ("1 critical alert is".to_owned(), "it"),
        n => (format!("{n} critical alerts are"), "them"),
    };
    Some(Finding::new(
        "critical-alerts",
        format!(
            "{count} firing ({}); resolve {them} before {}, or override.",
            names.join(", "),
            intent.describe()
        ),
    ))
}

fn backup_freshness(policy: &Policy, intent: &Intent, facts: &Facts) -> Option<Finding> {
    if !intent.disruptive() {
        return None;
    }
    let max_age = TimeDelta::from_std(policy.backup_max_age()).unwrap_or(TimeDelta::MAX);
    let why = match policy.backup_max_age {
        Some(_) => "the policy's backup_max_age".to_owned(),
        None => format!(
            "a day plus the backup window of {}",
            format_age(TimeDelta::from_std(policy.backup_window.length()).unwrap_or_default())
        ),
    };
    let limit = format!(
        "a disruptive change needs one from the last {} ({why}); take a backup first or \
         override.",
        format_age(max_age),
    );
    match facts.last_good_backup {
        None => Some(Finding::new(
            "backup-freshness",
            format!("There is no successful backup; {limit}"),
        )),
        Some(at) => {
            let age = facts.now - at;
            (age > max_age).then(|| {
                Finding::new(
                    "backup-freshness",
                    format!("The last good backup is {} old; {limit}", format_age(age)),
                )
            })
        }
    }
}

fn error_budget(intent: &Intent, facts: &Facts) -> Option<Finding> {
    if !intent.disruptive() {
        return None;
    }
    let targets = unique(&facts.budget_exhausted);
    if targets.is_empty() {
        return None;
    }
    Some(Finding::new(
        "error-budget",
        format!(
            "No error budget is left for {}; {} risks breaching the SLO, so it needs an override.",
            targets.join(", "),
            intent.describe()
        ),
    ))
}

/// Keeps the first occurrence of each name, in order: the sources may report an alert once
/// per firing instance.
fn unique(names: &[String]) -> Vec<&str> {
    let mut seen: Vec<&str> = Vec::new();
    for name in names {
        if !seen.contains(&name.as_str()) {
            seen.push(name);
        }
    }
    seen
}

// ---------------------------------------------------------------------------------------------
// Kubernetes versions
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct KubeVersion {
    major: u32,
    minor: u32,
    patch: u32,
}

impl KubeVersion {
    /// Accepts "v1.31.2", "1.31.2" and "1.31"; build and pre-release suffixes are ignored
    /// because only major.minor.patch decide skew.
    fn parse(text: &str) -> Option<KubeVersion> {
        let text = text.trim();
        let text = text.strip_prefix('v').unwrap_or(text);
        let core = text.split(['-', '+']).next()?;
        let mut parts = core.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let patch = match parts.next() {
            Some(p) => p.parse().ok()?,
            None => 0,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(KubeVersion {
            major,
            minor,
            patch,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Maintenance windows
// ---------------------------------------------------------------------------------------------

/// One occurrence of the weekly window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Occurrence {
    /// The local date the window starts on.
    date: NaiveDate,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

pub fn in_maintenance_window(policy: &Policy, at: DateTime<Utc>) -> bool {
    current_or_next(policy, at).is_some_and(|w| w.start <= at && at < w.end)
}

/// The window `[start, end)` that contains `after`, or else the next one to start.
pub fn next_maintenance_window(
    policy: &Policy,
    after: DateTime<Utc>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    current_or_next(policy, after).map_or((after, after), |w| (w.start, w.end))
}

/// For [`MajorUpdates::FirstWednesday`]: whether `at` is inside a maintenance window that
/// falls on the first such weekday of its month, in the policy time zone.
pub fn is_first_wednesday_window(policy: &Policy, at: DateTime<Utc>) -> bool {
    current_or_next(policy, at)
        .is_some_and(|w| w.start <= at && at < w.end && is_first_of_month(w.date))
}

/// The window `[start, end)` that contains `after`, or else the next one to start, in which a
/// major update may run under the policy's `major_updates`.
pub fn next_major_update_window(
    policy: &Policy,
    after: DateTime<Utc>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    if policy.major_updates == MajorUpdates::AnyWednesday {
        return next_maintenance_window(policy, after);
    }
    let mut from = after;
    // A first weekday of the month comes at least every fifth week.
    for _ in 0..6 {
        let Some(w) = current_or_next(policy, from) else {
            break;
        };
        if is_first_of_month(w.date) {
            return (w.start, w.end);
        }
        from = w.end;
    }
    (after, after)
}

fn is_first_of_month(date: NaiveDate) -> bool {
    date.day() <= 7
}

fn current_or_next(policy: &Policy, after: DateTime<Utc>) -> Option<Occurrence> {
    let tz = policy.timezone;
    let today = after.with_timezone(&tz).date_naive();
    // Starting a day early catches a window that began yesterday and runs past midnight.
    let first = today.pred_opt()?;
    first
        .iter_days()
        .take(16)
        .filter(|d| d.weekday() == policy.maintenance_window.day)
        .map(|d| occurrence(policy, d))
        .find(|w| w.end > after)
}

fn occurrence(policy: &Policy, date: NaiveDate) -> Occurrence {
    let tz = policy.timezone;
    let window = policy.maintenance_window;
    let start = resolve_local(tz, date.and_time(window.start));
    // The config refuses windows across midnight; should one arrive anyway, read it as
    // ending the next day rather than as never open.
    let end_date = if window.end <= window.start {
        date.succ_opt().unwrap_or(date)
    } else {
        date
    };
    let end = resolve_local(tz, end_date.and_time(window.end));
    Occurrence { date, start, end }
}

/// The instant the wall clock in `tz` first shows `local`, or the moment it jumps past it
/// when `local` falls in a skipped hour.
fn resolve_local(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    if let Some(t) = tz.from_local_datetime(&local).earliest() {
        return t.with_timezone(&Utc);
    }
    // Gaps are whole minutes and at most a day long (Samoa, 2011).
    let mut probe = local;
    for _ in 0..(24 * 60) {
        probe += TimeDelta::minutes(1);
        if let Some(t) = tz.from_local_datetime(&probe).earliest() {
            return t.with_timezone(&Utc);
        }
    }
    local.and_utc()
}

/// "Wed 2026-12-02 07:00-12:00 Europe/Stockholm".
fn format_window(tz: Tz, (start, end): (DateTime<Utc>, DateTime<Utc>)) -> String {
    format!(
        "{}-{} {tz}",
        start.with_timezone(&tz).format("%a %Y-%m-%d %H:%M"),
        end.with_timezone(&tz).format("%H:%M")
    )
}

// ---------------------------------------------------------------------------------------------
// Wording
// ---------------------------------------------------------------------------------------------

/// "45 minutes", "31 hours", "3 days": coarse enough to read at a glance.
fn format_age(age: TimeDelta) -> String {
    let minutes = age.num_minutes().max(0);
    if minutes < 120 {
        return plural(minutes, "minute");
    }
    let hours = age.num_hours();
    if hours < 72 {
        return plural(hours, "hour");
    }
    plural(age.num_days(), "day")
}

fn plural(n: i64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Inline validation of an override reason, for the prompt and for `--override-reason`: says
/// how to fix it, or `None` when it will do.
pub fn override_reason_problem(reason: &str) -> Option<String> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Some(
            "An override needs a reason: say why the policy should not apply this time, \
             e.g. \"customer approved emergency patch in ticket 4711\"."
                .to_owned(),
        );
    }
    if reason.chars().any(char::is_control) {
        return Some(
            "The reason contains a control character (a tab or line break, perhaps); \
             write it as one line of plain text."
                .to_owned(),
        );
    }
    let chars = reason.chars().count();
    if chars < OVERRIDE_REASON_MIN_CHARS {
        return Some(format!(
            "The reason is {chars} characters long; write at least {OVERRIDE_REASON_MIN_CHARS} \
             characters and {OVERRIDE_REASON_MIN_WORDS} words saying why the policy should \
             not apply."
        ));
    }
    let words = reason.split_whitespace().count();
    if words < OVERRIDE_REASON_MIN_WORDS {
        return Some(format!(
            "The reason has {words} word{}; write at least {OVERRIDE_REASON_MIN_WORDS} words \
             saying why the policy should not apply.",
            if words == 1 { "" } else { "s" }
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveTime, Weekday};

    use crate::config::{DailyWindow, MaintenanceWindow};

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .with_timezone(&Utc)
    }

    fn hm(hour: u32, minute: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(hour, minute, 0).unwrap()
    }

    fn policy() -> Policy {
        Policy::default()
    }

    /// Wed 2026-12-02 is the first Wednesday of December; 07:00-12:00 CET is 06:00-11:00 UTC.
    const FIRST_WED_IN_WINDOW: &str = "2026-12-02T08:00:00Z";
    /// Wed 2026-12-09, second Wednesday, inside the window.
    const SECOND_WED_IN_WINDOW: &str = "2026-12-09T08:00:00Z";
    /// Thursday 2026-11-26, outside any window.
    const OUTSIDE: &str = "2026-11-26T10:00:00Z";

    /// Facts under which every intent is allowed at `now`.
    fn clear(now: &str) -> Facts {
        let now = utc(now);
        Facts {
            now,
            max_workers: 20,
            last_good_backup: Some(now - TimeDelta::hours(5)),
            ..Facts::default()
        }
    }

    fn rules(decision: &Decision) -> Vec<&'static str> {
        decision.findings().iter().map(|f| f.rule).collect()
    }

    fn message<'a>(decision: &'a Decision, rule: &str) -> &'a str {
        decision
            .findings()
            .iter()
            .find(|f| f.rule == rule)
            .map(|f| f.message.as_str())
            .unwrap_or_else(|| panic!("no {rule} finding in {decision:?}"))
    }

    fn drain() -> Intent {
        Intent::Drain {
            node: "acme-wc-md-0-abc".to_owned(),
        }
    }

    fn upgrade(from: &str, to: &str) -> Intent {
        Intent::UpgradeKubernetes {
            from: from.to_owned(),
            to: to.to_owned(),
        }
    }

    fn scale(from: u32, to: u32) -> Intent {
        Intent::ScaleWorkers { from, to }
    }

    fn restore() -> Intent {
        Intent::Restore {
            backup: "velero-daily-backup-20261125010000".to_owned(),
        }
    }

    // --- Restores ----------------------------------------------------------------------------

    #[test]
    fn a_restore_is_recovery_not_a_planned_update() {
        let r = restore();
        assert_eq!(r.name(), "restore");
        assert!(!r.disruptive());
        assert!(!r.planned_update());
        assert!(!r.is_noop());
        assert_eq!(
            r.describe(),
            "restoring backup velero-daily-backup-20261125010000"
        );
    }

    #[test]
    fn a_restore_runs_outside_the_window_during_an_incident() {
        let mut facts = clear(OUTSIDE);
        facts.firing_critical = vec!["KubeDeploymentReplicasMismatch".to_owned()];
        facts.budget_exhausted = vec!["grafana".to_owned()];
        facts.last_good_backup = None;
        facts.upgrade_in_progress = Some("apps upgrade to v0.50".to_owned());
        assert_eq!(evaluate(&policy(), &restore(), &facts), Decision::Allow);
        // The same facts stop a drain on every count.
        assert_eq!(
            rules(&evaluate(&policy(), &drain(), &facts)),
            [
                "upgrade-in-progress",
                "maintenance-window",
                "critical-alerts",
                "backup-freshness",
                "error-budget"
            ]
        );
    }

    #[test]
    fn a_restore_still_waits_for_another_run() {
        let mut facts = clear(OUTSIDE);
        facts.another_run = Some("20261126T100000Z-scale-acme-wc-3f9a".to_owned());
        let d = evaluate(&policy(), &restore(), &facts);
        assert!(matches!(d, Decision::Deny { .. }), "{d:?}");
        assert_eq!(rules(&d), ["cluster-locked"]);
        assert!(d.only_locked(), "busy, not forbidden: exit 4");
        let mut late = clear(OUTSIDE);
        late.another_run = facts.another_run.clone();
        let with_more = evaluate(&policy(), &scale(3, 25), &late);
        assert!(
            rules(&with_more).contains(&"cluster-locked") && !with_more.only_locked(),
            "the same command would still be refused: {with_more:?}"
        );
        let read_only = d.read_only("--read-only".into());
        assert!(!read_only.only_locked(), "waiting would not help");
        assert!(!Decision::Allow.only_locked());
        // At start, the lock alone is said: the other findings may be the holder's doing.
        let alone = with_more.lock_refusal().unwrap();
        assert_eq!(rules(&alone), ["cluster-locked"]);
        assert!(alone.only_locked());
        assert!(alone.findings()[0].message.contains("3f9a"), "{alone:?}");
        assert_eq!(Decision::Allow.lock_refusal(), None);
        assert_eq!(
            evaluate(&policy(), &scale(3, 25), &clear(OUTSIDE)).lock_refusal(),
            None
        );
    }

    // --- Intent ------------------------------------------------------------------------------

    #[test]
    fn intent_names_and_classes() {
        assert_eq!(scale(3, 4).name(), "scale");
        assert_eq!(Intent::Backup.name(), "backup");
        assert_eq!(drain().name(), "drain");
        assert_eq!(upgrade("1.31.0", "1.31.1").name(), "upgrade");

        assert!(!scale(3, 4).disruptive());
        assert!(scale(4, 3).disruptive());
        assert!(!Intent::Backup.disruptive());
        assert!(drain().disruptive());
        assert!(upgrade("1.31.0", "1.31.1").disruptive());

        assert!(!scale(4, 3).planned_update());
        assert!(!Intent::Backup.planned_update());
        assert!(drain().planned_update());
        assert!(upgrade("1.31.0", "1.31.1").planned_update());
    }

    // --- Allow -------------------------------------------------------------------------------

    #[test]
    fn everything_clear_is_allowed() {
        let facts = clear(SECOND_WED_IN_WINDOW);
        for intent in [
            scale(3, 5),
            scale(5, 3),
            Intent::Backup,
            drain(),
            upgrade("v1.31.2", "v1.31.4"),
        ] {
            assert_eq!(
                evaluate(&policy(), &intent, &facts),
                Decision::Allow,
                "{intent:?}"
            );
        }
    }

    #[test]
    fn no_op_scale_and_upgrade_are_allowed_whatever_the_facts() {
        let mut facts = clear(OUTSIDE);
        facts.another_run = Some("run-1".to_owned());
        facts.upgrade_in_progress = Some("KCP rollout".to_owned());
        facts.firing_critical = vec!["KubeAPIDown".to_owned()];
        assert_eq!(evaluate(&policy(), &scale(30, 30), &facts), Decision::Allow);
        assert_eq!(
            evaluate(&policy(), &upgrade("v1.31.2", "1.31.2"), &facts),
            Decision::Allow
        );
    }

    #[test]
    fn scale_up_and_backup_ignore_the_window() {
        let facts = clear(OUTSIDE);
        assert_eq!(evaluate(&policy(), &scale(3, 6), &facts), Decision::Allow);
        assert_eq!(evaluate(&policy(), &scale(6, 3), &facts), Decision::Allow);
        assert_eq!(
            evaluate(&policy(), &Intent::Backup, &facts),
            Decision::Allow
        );
    }

    // --- Deny --------------------------------------------------------------------------------

    #[test]
    fn another_run_denies_every_intent() {
        let mut facts = clear(SECOND_WED_IN_WINDOW);
        facts.another_run = Some("20261209-0800-scale-acme".to_owned());
        for intent in [
            scale(3, 5),
            Intent::Backup,
            drain(),
            upgrade("1.31.2", "1.31.3"),
        ] {
            let d = evaluate(&policy(), &intent, &facts);
            assert!(matches!(d, Decision::Deny { .. }), "{intent:?}: {d:?}");
            assert!(message(&d, "cluster-locked").contains("20261209-0800-scale-acme"));
        }
    }

    #[test]
    fn upgrade_in_progress_denies_all_but_backup() {
        let mut facts = clear(SECOND_WED_IN_WINDOW);
        facts.upgrade_in_progress = Some("MachineDeployment acme-wc-md-0 is rolling out".into());
        for intent in [scale(3, 5), drain(), upgrade("1.31.2", "1.31.3")] {
            let d = evaluate(&policy(), &intent, &facts);
            assert_eq!(rules(&d), ["upgrade-in-progress"], "{intent:?}");
            assert!(matches!(d, Decision::Deny { .. }));
            assert!(message(&d, "upgrade-in-progress").contains("acme-wc-md-0 is rolling out"));
        }
        assert_eq!(
            evaluate(&policy(), &Intent::Backup, &facts),
            Decision::Allow
        );
    }

    #[test]
    fn skipping_a_minor_version_is_denied() {
        let d = evaluate(
            &policy(),
            &upgrade("v1.31.4", "v1.33.0"),
            &clear(FIRST_WED_IN_WINDOW),
        );
        assert!(matches!(d, Decision::Deny { .. }));
        assert_eq!(rules(&d), ["version-skew"]);
        let msg = message(&d, "version-skew");
        assert!(msg.contains("one minor version at a time"), "{msg}");
        assert!(msg.contains("upgrade to 1.32 first"), "{msg}");
    }

    #[test]
    fn a_major_version_change_is_skew() {
        let d = evaluate(
            &policy(),
            &upgrade("1.31.0", "2.0.0"),
            &clear(FIRST_WED_IN_WINDOW),
        );
        assert_eq!(rules(&d), ["version-skew"]);
    }

    #[test]
    fn downgrades_are_denied() {
        let facts = clear(FIRST_WED_IN_WINDOW);
        for (from, to) in [("1.32.1", "1.31.4"), ("1.31.4", "1.31.2")] {
            let d = evaluate(&policy(), &upgrade(from, to), &facts);
            assert!(matches!(d, Decision::Deny { .. }), "{from} -> {to}");
            assert_eq!(rules(&d), ["downgrade"]);
            assert!(message(&d, "downgrade").contains(&format!("{to} is older than {from}")));
        }
    }

    #[test]
    fn unparsable_versions_are_denied_and_named() {
        let d = evaluate(
            &policy(),
            &upgrade("1.31", "latest"),
            &clear(FIRST_WED_IN_WINDOW),
        );
        assert!(matches!(d, Decision::Deny { .. }));
        let msg = message(&d, "version-invalid");
        assert!(msg.contains("\"latest\""), "{msg}");
        assert!(!msg.contains("\"1.31\""), "{msg}");
    }

    #[test]
    fn versions_parse_with_and_without_prefix_and_suffix() {
        let v = |s| KubeVersion::parse(s);
        let k = |major, minor, patch| {
            Some(KubeVersion {
                major,
                minor,
                patch,
            })
        };
        assert_eq!(v("v1.31.2"), k(1, 31, 2));
        assert_eq!(v(" 1.31.2 "), k(1, 31, 2));
        assert_eq!(v("1.31"), k(1, 31, 0));
        assert_eq!(v("v1.32.0-rc.1"), k(1, 32, 0));
        assert_eq!(v("v1.30.5+rke2r1"), k(1, 30, 5));
        for bad in ["", "v", "1", "1.x.0", "1.31.2.3", "one.two", "-1.31.0"] {
            assert_eq!(v(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn deny_wins_and_keeps_every_finding_denies_first() {
        let mut facts = clear(OUTSIDE);
        facts.firing_critical = vec!["KubeNodeNotReady".to_owned()];
        facts.another_run = Some("run-7".to_owned());
        let d = evaluate(&policy(), &drain(), &facts);
        assert!(matches!(d, Decision::Deny { .. }), "{d:?}");
        assert_eq!(
            rules(&d),
            ["cluster-locked", "maintenance-window", "critical-alerts"]
        );
        assert!(d.findings()[0].is_deny());
        assert!(!d.findings()[1].is_deny());
    }

    // --- Needs an override -------------------------------------------------------------------

    #[test]
    fn scaling_beyond_the_limit_needs_an_override() {
        let facts = clear(OUTSIDE);
        let d = evaluate(&policy(), &scale(18, 24), &facts);
        assert!(matches!(d, Decision::NeedsOverride { .. }), "{d:?}");
        assert_eq!(rules(&d), ["worker-limit"]);
        assert_eq!(
            message(&d, "worker-limit"),
            "20 workers is the most the service allows; 24 needs an explicit override."
        );
        assert_eq!(evaluate(&policy(), &scale(18, 20), &facts), Decision::Allow);
    }

    #[test]
    fn the_environment_limit_overrides_the_policy() {
        let mut facts = clear(OUTSIDE);
        facts.max_workers = 40;
        assert_eq!(evaluate(&policy(), &scale(18, 24), &facts), Decision::Allow);
        let d = evaluate(&policy(), &scale(18, 41), &facts);
        assert!(message(&d, "worker-limit").starts_with("40 workers is the most"));
    }

    #[test]
    fn an_unset_limit_falls_back_to_the_policy() {
        let mut facts = clear(OUTSIDE);
        facts.max_workers = 0;
        assert_eq!(evaluate(&policy(), &scale(3, 20), &facts), Decision::Allow);
        assert_eq!(
            rules(&evaluate(&policy(), &scale(3, 21), &facts)),
            ["worker-limit"]
        );
    }

    #[test]
    fn scaling_to_zero_needs_an_override() {
        let d = evaluate(&policy(), &scale(3, 0), &clear(OUTSIDE));
        assert_eq!(rules(&d), ["no-workers"]);
        assert!(matches!(d, Decision::NeedsOverride { .. }));
    }

    #[test]
    fn planned_updates_outside_the_window_name_the_next_one() {
        let d = evaluate(&policy(), &drain(), &clear(OUTSIDE));
        assert!(matches!(d, Decision::NeedsOverride { .. }));
        assert_eq!(rules(&d), ["maintenance-window"]);
        let msg = message(&d, "maintenance-window");
        assert!(
            msg.contains(
                "outside the maintenance window; the next one is \
                 Wed 2026-12-02 07:00-12:00 Europe/Stockholm"
            ),
            "{msg}"
        );
        assert!(
            msg.contains("Draining node acme-wc-md-0-abc is a planned update"),
            "{msg}"
        );

        let d = evaluate(&policy(), &upgrade("1.31.2", "1.31.3"), &clear(OUTSIDE));
        assert_eq!(rules(&d), ["maintenance-window"]);
    }

    #[test]
    fn window_edges_are_half_open() {
        let p = policy();
        // 07:00-12:00 CET is 06:00-11:00 UTC in December.
        let at = |t| evaluate(&p, &drain(), &clear(t));
        assert_eq!(rules(&at("2026-12-09T05:59:59Z")), ["maintenance-window"]);
        assert_eq!(at("2026-12-09T06:00:00Z"), Decision::Allow);
        assert_eq!(at("2026-12-09T10:59:59Z"), Decision::Allow);
        assert_eq!(rules(&at("2026-12-09T11:00:00Z")), ["maintenance-window"]);
    }

    #[test]
    fn minor_bump_needs_the_first_wednesday() {
        let p = policy();
        let bump = upgrade("v1.31.4", "v1.32.0");
        assert_eq!(
            evaluate(&p, &bump, &clear(FIRST_WED_IN_WINDOW)),
            Decision::Allow
        );

        let d = evaluate(&p, &bump, &clear(SECOND_WED_IN_WINDOW));
        assert!(matches!(d, Decision::NeedsOverride { .. }));
        assert_eq!(rules(&d), ["major-update-window"]);
        let msg = message(&d, "major-update-window");
        // December's first Wednesday has passed; January 2027 starts on a Friday.
        assert!(
            msg.contains("the next one is Wed 2027-01-06 07:00-12:00 Europe/Stockholm"),
            "{msg}"
        );
        assert!(
            msg.contains("v1.31.4 to v1.32.0 is a major update"),
            "{msg}"
        );
    }

    #[test]
    fn minor_bump_outside_any_window_reports_both_windows() {
        let d = evaluate(&policy(), &upgrade("1.31.4", "1.32.0"), &clear(OUTSIDE));
        assert_eq!(rules(&d), ["major-update-window", "maintenance-window"]);
    }

    #[test]
    fn minor_bump_in_any_window_when_the_policy_allows_it() {
        let p = Policy {
            major_updates: MajorUpdates::AnyWednesday,
            ..policy()
        };
        let bump = upgrade("1.31.4", "1.32.0");
        assert_eq!(
            evaluate(&p, &bump, &clear(SECOND_WED_IN_WINDOW)),
            Decision::Allow
        );
        assert_eq!(
            rules(&evaluate(&p, &bump, &clear(OUTSIDE))),
            ["maintenance-window"]
        );
    }

    #[test]
    fn patch_bumps_need_only_the_window() {
        let bump = upgrade("1.31.2", "1.31.5");
        assert_eq!(
            evaluate(&policy(), &bump, &clear(SECOND_WED_IN_WINDOW)),
            Decision::Allow
        );
    }

    #[test]
    fn a_drain_while_another_node_is_out_needs_an_override() {
        let policy = Policy::default();
        let in_window = Utc.with_ymd_and_hms(2026, 12, 2, 8, 0, 0).unwrap();
        let drain = Intent::Drain { node: "w2".into() };
        let mut facts = Facts {
            now: in_window,
            last_good_backup: Some(in_window - TimeDelta::hours(6)),
            ..Facts::default()
        };
        assert_eq!(evaluate(&policy, &drain, &facts), Decision::Allow);
        facts.nodes_out = vec!["w1 (cordoned)".into()];
        let decision = evaluate(&policy, &drain, &facts);
        let rules: Vec<_> = decision.findings().iter().map(|f| f.rule).collect();
        assert_eq!(rules, ["one-node-at-a-time"], "{decision:?}");
        assert!(decision.findings()[0].message.contains("w1 (cordoned)"));
        let scale = Intent::ScaleWorkers { from: 3, to: 4 };
        assert_eq!(
            evaluate(&policy, &scale, &facts),
            Decision::Allow,
            "not a drain"
        );
    }

    #[test]
    fn critical_alerts_need_an_override_except_for_backups() {
        let mut facts = clear(SECOND_WED_IN_WINDOW);
        facts.firing_critical = vec![
            "KubeNodeNotReady".to_owned(),
            "TargetDown".to_owned(),
            "KubeNodeNotReady".to_owned(),
        ];
        for intent in [
            scale(3, 5),
            scale(5, 3),
            drain(),
            upgrade("1.31.2", "1.31.3"),
        ] {
            let d = evaluate(&policy(), &intent, &facts);
            assert_eq!(rules(&d), ["critical-alerts"], "{intent:?}");
            let msg = message(&d, "critical-alerts");
            assert!(
                msg.starts_with("2 critical alerts are firing (KubeNodeNotReady, TargetDown)"),
                "{msg}"
            );
        }
        assert_eq!(
            evaluate(&policy(), &Intent::Backup, &facts),
            Decision::Allow
        );
    }

    #[test]
    fn a_single_critical_alert_reads_singular() {
        let mut facts = clear(SECOND_WED_IN_WINDOW);
        facts.firing_critical = vec!["KubeAPIDown".to_owned()];
        let d = evaluate(&policy(), &scale(3, 4), &facts);
        assert!(
            message(&d, "critical-alerts").starts_with("1 critical alert is firing (KubeAPIDown)")
        );
    }

    #[test]
    fn stale_backup_blocks_disruptive_intents_only() {
        let mut facts = clear(SECOND_WED_IN_WINDOW);
        // 24 h plus the 3 h backup window is the limit.
        facts.last_good_backup = Some(facts.now - TimeDelta::hours(27));
        assert_eq!(evaluate(&policy(), &drain(), &facts), Decision::Allow);

        facts.last_good_backup = Some(facts.now - TimeDelta::hours(31));
        let d = evaluate(&policy(), &drain(), &facts);
        assert_eq!(rules(&d), ["backup-freshness"]);
        let msg = message(&d, "backup-freshness");
        assert!(
            msg.contains("The last good backup is 31 hours old"),
            "{msg}"
        );
        assert!(msg.contains("from the last 27 hours"), "{msg}");
        assert!(
            msg.contains("(a day plus the backup window of 3 hours)"),
            "{msg}"
        );

        assert_eq!(evaluate(&policy(), &scale(3, 5), &facts), Decision::Allow);
        assert_eq!(
            evaluate(&policy(), &Intent::Backup, &facts),
            Decision::Allow
        );
        assert_eq!(
            rules(&evaluate(&policy(), &scale(5, 3), &facts)),
            ["backup-freshness"]
        );
    }

    #[test]
    fn missing_backup_blocks_disruptive_intents() {
        let mut facts = clear(SECOND_WED_IN_WINDOW);
        facts.last_good_backup = None;
        let d = evaluate(&policy(), &upgrade("1.31.2", "1.31.3"), &facts);
        assert_eq!(rules(&d), ["backup-freshness"]);
        assert!(message(&d, "backup-freshness").starts_with("There is no successful backup"));
        assert_eq!(
            evaluate(&policy(), &Intent::Backup, &facts),
            Decision::Allow
        );
    }

    #[test]
    fn backup_limit_follows_the_backup_window_length() {
        let p = Policy {
            backup_window: DailyWindow {
                start: hm(1, 0),
                end: hm(7, 0),
            },
            ..policy()
        };
        let mut facts = clear(SECOND_WED_IN_WINDOW);
        facts.last_good_backup = Some(facts.now - TimeDelta::hours(29));
        assert_eq!(evaluate(&p, &drain(), &facts), Decision::Allow);
        facts.last_good_backup = Some(facts.now - TimeDelta::hours(31));
        assert!(message(&evaluate(&p, &drain(), &facts), "backup-freshness").contains("30 hours"));
    }

    #[test]
    fn a_backup_from_the_future_counts_as_fresh() {
        let mut facts = clear(SECOND_WED_IN_WINDOW);
        facts.last_good_backup = Some(facts.now + TimeDelta::minutes(3));
        assert_eq!(evaluate(&policy(), &drain(), &facts), Decision::Allow);
    }

    #[test]
    fn exhausted_budget_blocks_disruptive_intents_only() {
        let mut facts = clear(SECOND_WED_IN_WINDOW);
        facts.budget_exhausted = vec!["kube-apiserver".to_owned(), "grafana".to_owned()];
        let d = evaluate(&policy(), &drain(), &facts);
        assert_eq!(rules(&d), ["error-budget"]);
        assert!(message(&d, "error-budget").contains("kube-apiserver, grafana"));
        assert_eq!(evaluate(&policy(), &scale(3, 5), &facts), Decision::Allow);
        assert_eq!(
            evaluate(&policy(), &Intent::Backup, &facts),
            Decision::Allow
        );
    }

    #[test]
    fn every_override_finding_is_collected() {
        let mut facts = clear(OUTSIDE);
        facts.firing_critical = vec!["TargetDown".to_owned()];
        facts.budget_exhausted = vec!["grafana".to_owned()];
        facts.last_good_backup = None;
        let d = evaluate(&policy(), &upgrade("1.31.2", "1.32.0"), &facts);
        assert!(matches!(d, Decision::NeedsOverride { .. }));
        assert_eq!(
            rules(&d),
            [
                "major-update-window",
                "maintenance-window",
                "critical-alerts",
                "backup-freshness",
                "error-budget"
            ]
        );
        assert!(d.findings().iter().all(|f| f.message.ends_with('.')));
    }

    #[test]
    fn decisions_serialize_with_a_verdict_tag() {
        let allow = serde_json::to_value(Decision::Allow).unwrap();
        assert_eq!(allow, serde_json::json!({"verdict": "allow"}));
        let d = evaluate(&policy(), &scale(3, 24), &clear(OUTSIDE));
        let value = serde_json::to_value(&d).unwrap();
        assert_eq!(value["verdict"], "needs-override");
        assert_eq!(value["findings"][0]["rule"], "worker-limit");
    }

    // --- Windows and time zones --------------------------------------------------------------

    #[test]
    fn window_in_winter_time_is_one_hour_behind_utc() {
        let p = policy();
        let (start, end) = next_maintenance_window(&p, utc("2026-01-12T00:00:00Z"));
        assert_eq!(start, utc("2026-01-14T06:00:00Z"));
        assert_eq!(end, utc("2026-01-14T11:00:00Z"));
        assert!(!in_maintenance_window(&p, utc("2026-01-14T05:30:00Z")));
        assert!(in_maintenance_window(&p, utc("2026-01-14T06:00:00Z")));
        assert!(in_maintenance_window(&p, utc("2026-01-14T10:30:00Z")));
        assert!(!in_maintenance_window(&p, utc("2026-01-14T11:00:00Z")));
    }

    #[test]
    fn window_in_summer_time_is_two_hours_behind_utc() {
        let p = policy();
        let (start, end) = next_maintenance_window(&p, utc("2026-07-13T00:00:00Z"));
        assert_eq!(start, utc("2026-07-15T05:00:00Z"));
        assert_eq!(end, utc("2026-07-15T10:00:00Z"));
        assert!(in_maintenance_window(&p, utc("2026-07-15T05:00:00Z")));
        // 10:30 UTC is 12:30 CEST, past the window, though inside it by CET.
        assert!(!in_maintenance_window(&p, utc("2026-07-15T10:30:00Z")));
    }

    #[test]
    fn windows_around_the_spring_dst_weekend() {
        let p = policy();
        // Clocks go forward on Sun 2026-03-29; the Wednesday before is CET, the one after CEST.
        assert_eq!(
            next_maintenance_window(&p, utc("2026-03-24T12:00:00Z")),
            (utc("2026-03-25T06:00:00Z"), utc("2026-03-25T11:00:00Z"))
        );
        assert_eq!(
            next_maintenance_window(&p, utc("2026-03-28T12:00:00Z")),
            (utc("2026-04-01T05:00:00Z"), utc("2026-04-01T10:00:00Z"))
        );
        assert_eq!(
            next_maintenance_window(&p, utc("2026-03-29T01:30:00Z")),
            (utc("2026-04-01T05:00:00Z"), utc("2026-04-01T10:00:00Z"))
        );
    }

    #[test]
    fn windows_around_the_autumn_dst_weekend() {
        let p = policy();
        // Clocks go back on Sun 2026-10-25.
        assert_eq!(
            next_maintenance_window(&p, utc("2026-10-20T12:00:00Z")),
            (utc("2026-10-21T05:00:00Z"), utc("2026-10-21T10:00:00Z"))
        );
        assert_eq!(
            next_maintenance_window(&p, utc("2026-10-24T12:00:00Z")),
            (utc("2026-10-28T06:00:00Z"), utc("2026-10-28T11:00:00Z"))
        );
    }

    fn sunday_window(start: NaiveTime, end: NaiveTime) -> Policy {
        Policy {
            maintenance_window: MaintenanceWindow {
                day: Weekday::Sun,
                start,
                end,
            },
            ..policy()
        }
    }

    #[test]
    fn a_window_starting_in_the_skipped_hour_opens_when_the_clock_jumps() {
        // 02:30 does not exist on 2026-03-29 in Stockholm: 02:00 CET becomes 03:00 CEST
        // (01:00 UTC).
        let p = sunday_window(hm(2, 30), hm(4, 0));
        let (start, end) = next_maintenance_window(&p, utc("2026-03-28T00:00:00Z"));
        assert_eq!(start, utc("2026-03-29T01:00:00Z"));
        assert_eq!(end, utc("2026-03-29T02:00:00Z"));
        assert!(!in_maintenance_window(&p, utc("2026-03-29T00:59:59Z")));
        assert!(in_maintenance_window(&p, utc("2026-03-29T01:00:00Z")));
        assert!(!in_maintenance_window(&p, utc("2026-03-29T02:00:00Z")));
    }

    #[test]
    fn a_window_in_the_repeated_hour_uses_its_first_occurrence() {
        // 02:00-02:30 happens twice on 2026-10-25; the first time is CEST (00:00 UTC).
        let p = sunday_window(hm(2, 0), hm(2, 30));
        let (start, end) = next_maintenance_window(&p, utc("2026-10-24T00:00:00Z"));
        assert_eq!(start, utc("2026-10-25T00:00:00Z"));
        assert_eq!(end, utc("2026-10-25T00:30:00Z"));
    }

    #[test]
    fn a_window_across_the_dst_change_is_an_hour_shorter() {
        let p = sunday_window(hm(1, 0), hm(5, 0));
        let (start, end) = next_maintenance_window(&p, utc("2026-03-28T00:00:00Z"));
        assert_eq!(start, utc("2026-03-29T00:00:00Z"));
        assert_eq!(end, utc("2026-03-29T03:00:00Z"));
    }

    #[test]
    fn inside_a_window_the_current_one_is_returned() {
        let p = policy();
        let at = utc("2026-12-09T10:59:00Z");
        assert_eq!(
            next_maintenance_window(&p, at),
            (utc("2026-12-09T06:00:00Z"), utc("2026-12-09T11:00:00Z"))
        );
        // At the end instant the window is over; the next is a week later.
        assert_eq!(
            next_maintenance_window(&p, utc("2026-12-09T11:00:00Z")).0,
            utc("2026-12-16T06:00:00Z")
        );
    }

    #[test]
    fn the_window_day_is_taken_in_the_policy_zone() {
        // Tuesday 23:30 UTC is already Wednesday in Tokyo.
        let p = Policy {
            timezone: chrono_tz::Asia::Tokyo,
            maintenance_window: MaintenanceWindow {
                day: Weekday::Wed,
                start: hm(0, 0),
                end: hm(12, 0),
            },
            ..policy()
        };
        assert!(in_maintenance_window(&p, utc("2026-12-08T23:30:00Z")));
        assert!(!in_maintenance_window(&p, utc("2026-12-08T14:30:00Z")));
    }

    #[test]
    fn a_window_across_midnight_is_read_as_ending_the_next_day() {
        let p = Policy {
            timezone: chrono_tz::UTC,
            maintenance_window: MaintenanceWindow {
                day: Weekday::Wed,
                start: hm(22, 0),
                end: hm(2, 0),
            },
            ..policy()
        };
        assert!(in_maintenance_window(&p, utc("2026-12-10T01:00:00Z")));
        assert_eq!(
            next_maintenance_window(&p, utc("2026-12-10T01:00:00Z")),
            (utc("2026-12-09T22:00:00Z"), utc("2026-12-10T02:00:00Z"))
        );
    }

    #[test]
    fn first_wednesday_windows() {
        let p = policy();
        assert!(is_first_wednesday_window(&p, utc(FIRST_WED_IN_WINDOW)));
        assert!(!is_first_wednesday_window(&p, utc(SECOND_WED_IN_WINDOW)));
        // The first Wednesday, but before the window opens.
        assert!(!is_first_wednesday_window(&p, utc("2026-12-02T05:00:00Z")));
        // 2026-04-01 is a Wednesday, the first of April; 2026-07-01 too, in summer time.
        assert!(is_first_wednesday_window(&p, utc("2026-04-01T05:00:00Z")));
        assert!(is_first_wednesday_window(&p, utc("2026-07-01T09:59:00Z")));
        // 2026-04-08 is the second.
        assert!(!is_first_wednesday_window(&p, utc("2026-04-08T06:00:00Z")));
    }

    #[test]
    fn first_wednesday_is_the_first_in_the_policy_zone() {
        // 2027-09-01 is a Wednesday; 23:30 UTC on Tue 2027-08-31 is already Sep 1 in Tokyo.
        let p = Policy {
            timezone: chrono_tz::Asia::Tokyo,
            maintenance_window: MaintenanceWindow {
                day: Weekday::Wed,
                start: hm(7, 0),
                end: hm(12, 0),
            },
            ..policy()
        };
        assert_eq!(
            next_major_update_window(&p, utc("2027-08-31T12:00:00Z")),
            (utc("2027-08-31T22:00:00Z"), utc("2027-09-01T03:00:00Z"))
        );
        assert!(is_first_wednesday_window(&p, utc("2027-08-31T23:30:00Z")));
    }

    #[test]
    fn next_major_update_window_skips_to_the_next_month() {
        let p = policy();
        assert_eq!(
            next_major_update_window(&p, utc(SECOND_WED_IN_WINDOW)),
            (utc("2027-01-06T06:00:00Z"), utc("2027-01-06T11:00:00Z"))
        );
        assert_eq!(
            next_major_update_window(&p, utc(FIRST_WED_IN_WINDOW)),
            (utc("2026-12-02T06:00:00Z"), utc("2026-12-02T11:00:00Z"))
        );
        let any = Policy {
            major_updates: MajorUpdates::AnyWednesday,
            ..policy()
        };
        assert_eq!(
            next_major_update_window(&any, utc(OUTSIDE)).0,
            utc("2026-12-02T06:00:00Z")
        );
    }

    #[test]
    fn ages_read_at_a_glance() {
        assert_eq!(format_age(TimeDelta::minutes(1)), "1 minute");
        assert_eq!(format_age(TimeDelta::minutes(45)), "45 minutes");
        assert_eq!(format_age(TimeDelta::minutes(119)), "119 minutes");
        assert_eq!(format_age(TimeDelta::hours(31)), "31 hours");
        assert_eq!(format_age(TimeDelta::hours(80)), "3 days");
        assert_eq!(format_age(TimeDelta::hours(-2)), "0 minutes");
    }

    // --- Override reasons --------------------------------------------------------------------

    #[test]
    fn good_override_reasons_pass() {
        assert_eq!(
            override_reason_problem("customer approved in ticket 4711"),
            None
        );
        assert_eq!(
            override_reason_problem("  emergency CVE-2026-1234 patch  "),
            None
        );
    }

    #[test]
    fn override_reasons_say_how_to_fix_them() {
        let problem = |r| override_reason_problem(r).unwrap_or_else(|| panic!("{r:?} passed"));
        assert!(problem("").contains("needs a reason"));
        assert!(problem("   \n ").contains("needs a reason"));
        assert!(problem("approved by\tthe customer").contains("control character"));
        assert!(problem("approved by\nthe customer").contains("control character"));
        let short = problem("  ok go now  ");
        assert!(short.contains("is 9 characters long"), "{short}");
        assert!(short.contains("at least 15 characters"), "{short}");
        let words = problem("customer-approved ticket-4711");
        assert!(words.contains("has 2 words"), "{words}");
        assert!(words.contains("at least 3 words"), "{words}");
        assert!(problem("supercalifragilistic").contains("has 1 word;"));
    }

    #[test]
    fn override_reasons_count_characters_not_bytes() {
        // 14 characters, 27 bytes.
        assert!(override_reason_problem("åäö åäö åäö åä").is_some());
        assert_eq!(override_reason_problem("åäö åäö åäö åäö"), None);
    }
}
