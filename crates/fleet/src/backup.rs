//! Backup accounting for one cluster, judged against the service policy: daily Velero
//! backups in the backup window, the number kept, failures, storage locations, and the
//! Harbor and OpenSearch backup jobs of the service cluster.
//!
//! [`assess`] is a pure function of a cluster's state, the policy and the clock; the
//! `backups` report and the console's Backups pane both show its result. Its JSON is a
//! public contract: snake_case field names that do not change casually, RFC 3339 UTC times,
//! ages in whole seconds, and stable machine codes for findings (see [`code`]).
//!
//! # The rules
//! - **Window.** The latest backup window that has *ended* (today's once its end has
//!   passed, else yesterday's), in the policy time zone, must contain the
//!   `completionTimestamp` of a `Completed` backup; otherwise the cluster is late. A
//!   backup still running at the window's end, or completing after it, does not count
//!   (the service description promises backups *between* 00:00 and 03:00). "Late since"
//!   is the end of the first window of the current run of missed windows, as far back as
//!   the backups still present can tell.
//! - **Kept.** `Completed` backups present are compared with `backups_kept`: fewer is a
//!   finding, and so is more than twice as many, because Velero expires backups by TTL,
//!   not by count (ck8s-operations 1.11), so a long TTL silently keeps too much.
//! - **Failures.** `Failed` (and `FailedValidation`) and `PartiallyFailed` backups newer
//!   than the newest `Completed` one are findings; older ones are history.
//! - **Storage.** A `BackupStorageLocation` that is `Unavailable` is critical: nothing
//!   can be written or restored through it.
//! - **Jobs** (only where CronJobs are watched, i.e. the service cluster): the Harbor
//!   database backup must have succeeded within 26 h (it runs daily) and the OpenSearch
//!   snapshot within 3 h (it runs every 2 h); a failed newest Job is a finding.
//!
//! Until a table has been listed once, the checks that need it are skipped and one
//! `data_unavailable` finding says which tables are missing, so a cluster that is still
//! syncing is never reported as having no backups.

use chrono::{DateTime, LocalResult, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use ck8s_model::format;
use serde::Serialize;

use crate::config::{DailyWindow, Policy};
use crate::state::ClusterState;
use crate::state::health::Source;
use crate::state::rows::{BackupRow, CronJobRow, JobRow, ScheduleRow, StorageLocationRow};

/// The stable machine codes of [`Finding`]s. Scripts match on these; never rename one.
pub mod code {
    /// A backup newer than the newest Completed one failed.
    pub const BACKUP_FAILED: &str = "backup_failed";
    /// A backup newer than the newest Completed one partially failed.
    pub const BACKUP_PARTIALLY_FAILED: &str = "backup_partially_failed";
    /// A backup failed, but a later one completed.
    pub const EARLIER_BACKUP_FAILED: &str = "earlier_backup_failed";
    /// The latest ended backup window holds no Completed backup.
    pub const BACKUP_LATE: &str = "backup_late";
    /// Fewer Completed backups than the policy keeps.
    pub const TOO_FEW_BACKUPS: &str = "too_few_backups";
    /// More than twice the Completed backups the policy keeps: retention is not applied.
    pub const TOO_MANY_BACKUPS: &str = "too_many_backups";
    /// A BackupStorageLocation is Unavailable.
    pub const BSL_UNAVAILABLE: &str = "bsl_unavailable";
    /// A BackupStorageLocation has not reported a phase yet.
    pub const BSL_UNVALIDATED: &str = "bsl_unvalidated";
    /// There is no BackupStorageLocation at all.
    pub const NO_STORAGE_LOCATION: &str = "no_storage_location";
    /// There is no Velero Schedule.
    pub const NO_SCHEDULE: &str = "no_schedule";
    /// A Velero Schedule is paused.
    pub const SCHEDULE_PAUSED: &str = "schedule_paused";
    /// A Velero Schedule failed validation.
    pub const SCHEDULE_INVALID: &str = "schedule_invalid";
    /// The newest Job of a backup CronJob failed.
    pub const JOB_FAILED: &str = "job_failed";
    /// A backup CronJob has not succeeded within its allowed age.
    pub const JOB_LATE: &str = "job_late";
    /// A backup CronJob is suspended.
    pub const JOB_SUSPENDED: &str = "job_suspended";
    /// A backup CronJob is missing.
    pub const JOB_MISSING: &str = "job_missing";
    /// A backup CronJob has not had a successful run yet, and is too new to be late.
    pub const JOB_NO_HISTORY: &str = "job_no_history";
    /// Some tables have not been listed yet; the checks that need them were skipped.
    pub const DATA_UNAVAILABLE: &str = "data_unavailable";
}

/// How much a finding matters. Ordered from least to most severe.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing; needs no action.
    Info,
    /// Needs attention during working hours.
    Warning,
    /// Backups or restores are at risk now.
    Critical,
}

/// The one-word summary of an assessment: its worst finding.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Warning,
    Critical,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Critical => "critical",
        }
    }
}

/// One thing wrong (or worth knowing) about a cluster's backups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Finding {
    pub severity: Severity,
    /// A stable machine code from [`code`].
    pub code: &'static str,
    /// One line for people.
    pub message: String,
    /// The object it is about, `namespace/name`, when there is one.
    pub object: Option<String>,
}

/// The backup picture of one cluster.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct BackupAssessment {
    /// `ok`, `warning` or `critical`: the most severe finding (info findings count as ok).
    pub status: Status,
    /// The `now` the assessment was made at.
    pub evaluated_at: DateTime<Utc>,
    /// The newest `Completed` backup, by completion time.
    pub last_completed: Option<BackupInfo>,
    /// Seconds from the newest `Completed` backup's completion to `evaluated_at`.
    pub last_completed_age_seconds: Option<i64>,
    /// The newest backup of any phase, by creation time.
    pub latest: Option<BackupInfo>,
    /// The daily window check.
    pub window: WindowCheck,
    pub kept: Kept,
    /// `Failed`, `FailedValidation` and `PartiallyFailed` backups, newest first.
    pub failed_backups: Vec<BackupInfo>,
    /// Backups not finished yet (New, InProgress, Finalizing, ...), newest first.
    pub in_progress: Vec<BackupInfo>,
    pub schedules: Vec<ScheduleInfo>,
    pub storage_locations: Vec<LocationInfo>,
    /// The Harbor and OpenSearch backup jobs; empty where CronJobs are not watched (wc).
    pub jobs: Vec<JobCheck>,
    /// Most severe first.
    pub findings: Vec<Finding>,
}

/// A Velero backup as the assessment shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct BackupInfo {
    pub namespace: String,
    pub name: String,
    /// The `velero.io/schedule-name` label: the Schedule that made it.
    pub schedule: Option<String>,
    pub phase: String,
    pub created: DateTime<Utc>,
    pub started: Option<DateTime<Utc>>,
    pub completed: Option<DateTime<Utc>>,
    pub expires: Option<DateTime<Utc>>,
    pub errors: u32,
    pub warnings: u32,
    pub failure_reason: Option<String>,
    pub storage_location: Option<String>,
}

/// The daily backup window check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct WindowCheck {
    /// The policy time zone the window is defined in (IANA name).
    pub timezone: String,
    /// The latest window that has ended: `[start, end)`.
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The `Completed` backup that completed inside it, if any.
    pub backup: Option<String>,
    /// Set when no `Completed` backup completed inside it.
    pub late: Option<Late>,
    /// When the next window ends: the next deadline.
    pub next_window_end: DateTime<Utc>,
}

/// Since when backups have been late.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Late {
    /// The end of the first missed window of the current run of missed windows.
    pub since: DateTime<Utc>,
    /// How many consecutive windows, up to the latest ended one, were missed. Windows older
    /// than every backup still present are not counted, so this is a lower bound.
    pub missed_windows: u32,
}

/// Backups kept, compared with the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Kept {
    /// `Completed` backups present.
    pub completed: u32,
    /// `PartiallyFailed` backups present (restorable only with `--allow-partially-failed`).
    pub partially_failed: u32,
    /// The policy's `backups_kept`.
    pub expected: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ScheduleInfo {
    pub namespace: String,
    pub name: String,
    /// The cron expression, with any `CRON_TZ=` prefix.
    pub schedule: String,
    pub paused: bool,
    pub phase: String,
    pub last_backup: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct LocationInfo {
    pub namespace: String,
    pub name: String,
    /// `Available`, `Unavailable`, or `Unknown` before Velero validated it.
    pub phase: String,
    pub available: bool,
    pub default: bool,
    pub last_validated: Option<DateTime<Utc>>,
    pub message: Option<String>,
}

/// A backup CronJob outside Velero.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct JobCheck {
    pub namespace: String,
    pub name: String,
    /// What it backs up: `harbor` or `opensearch`.
    pub backs_up: &'static str,
    /// Whether the CronJob exists.
    pub present: bool,
    pub schedule: Option<String>,
    pub suspended: bool,
    /// The newest successful run: the CronJob's `lastSuccessfulTime` or a succeeded Job.
    pub last_success: Option<DateTime<Utc>>,
    pub last_success_age_seconds: Option<i64>,
    /// A success older than this is late.
    pub max_age_seconds: i64,
    /// The newest Job of the CronJob.
    pub last_run: Option<JobRun>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct JobRun {
    pub name: String,
    pub state: JobState,
    pub started: Option<DateTime<Utc>>,
    pub completed: Option<DateTime<Utc>>,
    /// The Failed condition's reason, e.g. `BackoffLimitExceeded`.
    pub failure: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Pending,
    Running,
    Succeeded,
    Failed,
}

/// A backup CronJob the service cluster must run, and how fresh its last success must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupJob {
    pub namespace: &'static str,
    pub name: &'static str,
    pub backs_up: &'static str,
    /// Daily plus two hours of slack for Harbor; every 2 h plus one for OpenSearch.
    pub max_age_hours: i64,
}

/// The backup CronJobs of CK8s (ck8s-operations 1.6).
pub const BACKUP_JOBS: [BackupJob; 2] = [
    BackupJob {
        namespace: "harbor",
        name: "harbor-backup-cronjob",
        backs_up: "harbor",
        max_age_hours: 26,
    },
    BackupJob {
        namespace: "opensearch-system",
        name: "opensearch-backup",
        backs_up: "opensearch",
        max_age_hours: 3,
    },
];

/// The longest run of missed windows looked back over; Velero's default TTL is 30 days.
const MAX_LOOKBACK_WINDOWS: u32 = 400;

// ---------------------------------------------------------------------------------------------
// The assessment
// ---------------------------------------------------------------------------------------------

/// Judges one cluster's backups against `policy` as of `now`.
pub fn assess(state: &ClusterState, policy: &Policy, now: DateTime<Utc>) -> BackupAssessment {
    let mut findings = Vec::new();
    let tables = &state.backup;
    let backups: Vec<BackupInfo> = sorted_newest_first(tables.backups.values());
    let backups_known = tables.backups.synced();

    let last_completed = newest_completed(&backups).cloned();
    let last_completed_age_seconds = last_completed
        .as_ref()
        .map(|b| (now - completion_of(b)).num_seconds());
    let window = window_check(&backups, backups_known, policy, now);
    let kept = kept(&backups, policy);
    if backups_known {
        let age = Age {
            seconds: last_completed_age_seconds,
            max: policy.backup_max_age(),
        };
        check_window(&window, policy.timezone, age, &mut findings);
        check_kept(&kept, &mut findings);
        check_failures(&backups, last_completed.as_ref(), &mut findings);
    }
    let schedules: Vec<ScheduleInfo> = tables.schedules.values().map(schedule_info).collect();
    if tables.schedules.synced() {
        check_schedules(&schedules, &mut findings);
    }
    let storage_locations: Vec<LocationInfo> =
        tables.locations.values().map(location_info).collect();
    if tables.locations.synced() {
        check_locations(&storage_locations, &mut findings);
    }
    let jobs = if watches_cronjobs(state) {
        job_checks(state, now, &mut findings)
    } else {
        Vec::new()
    };
    check_unsynced(state, &mut findings);

    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    BackupAssessment {
        status: status_of(&findings),
        evaluated_at: now,
        last_completed_age_seconds,
        last_completed,
        latest: backups.first().cloned(),
        window,
        kept,
        failed_backups: backups
            .iter()
            .filter(|b| {
                matches!(
                    outcome(&b.phase),
                    Outcome::Failed | Outcome::PartiallyFailed
                )
            })
            .cloned()
            .collect(),
        in_progress: backups
            .iter()
            .filter(|b| outcome(&b.phase) == Outcome::Running)
            .cloned()
            .collect(),
        schedules,
        storage_locations,
        jobs,
        findings,
    }
}

fn status_of(findings: &[Finding]) -> Status {
    match findings.iter().map(|f| f.severity).max() {
        Some(Severity::Critical) => Status::Critical,
        Some(Severity::Warning) => Status::Warning,
        _ => Status::Ok,
    }
}

fn finding(severity: Severity, code: &'static str, message: String) -> Finding {
    Finding {
        severity,
        code,
        message,
        object: None,
    }
}

fn finding_on(severity: Severity, code: &'static str, object: String, message: String) -> Finding {
    Finding {
        object: Some(object),
        ..finding(severity, code, message)
    }
}

// ---------------------------------------------------------------------------------------------
// Velero backups
// ---------------------------------------------------------------------------------------------

/// What a Velero phase means for the accounting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Completed,
    PartiallyFailed,
    Failed,
    Deleting,
    /// New, Queued, ReadyToStart, InProgress, WaitingForPluginOperations*, Finalizing*.
    Running,
}

fn outcome(phase: &str) -> Outcome {
    match phase {
        "Completed" => Outcome::Completed,
        "PartiallyFailed" => Outcome::PartiallyFailed,
        "Failed" | "FailedValidation" => Outcome::Failed,
        "Deleting" => Outcome::Deleting,
        _ => Outcome::Running,
    }
}

fn time(unix: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(unix, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn backup_info(row: &BackupRow) -> BackupInfo {
    BackupInfo {
        namespace: row.namespace.to_string(),
        name: row.name.to_string(),
        schedule: row.schedule.as_deref().map(str::to_owned),
        phase: row.phase.to_string(),
        created: time(row.created),
        started: row.started.map(time),
        completed: row.completed.map(time),
        expires: row.expires.map(time),
        errors: row.errors,
        warnings: row.warnings,
        failure_reason: row.failure_reason.as_deref().map(str::to_owned),
        storage_location: row.storage_location.as_deref().map(str::to_owned),
    }
}

fn sorted_newest_first<'a>(rows: impl Iterator<Item = &'a BackupRow>) -> Vec<BackupInfo> {
    let mut out: Vec<BackupInfo> = rows.map(backup_info).collect();
    out.sort_by(|a, b| (b.created, &b.name).cmp(&(a.created, &a.name)));
    out
}

/// When a Completed backup counts as made: its completion, or (should Velero not have
/// written one) its start or creation.
fn completion_of(b: &BackupInfo) -> DateTime<Utc> {
    b.completed.or(b.started).unwrap_or(b.created)
}

fn newest_completed(backups: &[BackupInfo]) -> Option<&BackupInfo> {
    backups
        .iter()
        .filter(|b| outcome(&b.phase) == Outcome::Completed)
        .max_by_key(|b| (completion_of(b), b.name.as_str()))
}

fn kept(backups: &[BackupInfo], policy: &Policy) -> Kept {
    let count = |want: Outcome| backups.iter().filter(|b| outcome(&b.phase) == want).count();
    Kept {
        completed: count(Outcome::Completed) as u32,
        partially_failed: count(Outcome::PartiallyFailed) as u32,
        expected: policy.backups_kept,
    }
}

fn check_kept(kept: &Kept, findings: &mut Vec<Finding>) {
    if kept.completed < kept.expected {
        findings.push(finding(
            Severity::Warning,
            code::TOO_FEW_BACKUPS,
            format!(
                "{} Completed backup(s) kept; the policy keeps {}",
                kept.completed, kept.expected
            ),
        ));
    } else if kept.completed > 2 * kept.expected {
        findings.push(finding(
            Severity::Warning,
            code::TOO_MANY_BACKUPS,
            format!(
                "{} Completed backups kept, more than twice the {} the policy keeps: retention \
                 is not applied (Velero expires backups by TTL; about {}h keeps {})",
                kept.completed,
                kept.expected,
                24 * kept.expected,
                kept.expected
            ),
        ));
    }
}

fn counts(b: &BackupInfo) -> String {
    format!("{} error(s), {} warning(s)", b.errors, b.warnings)
}

fn check_failures(
    backups: &[BackupInfo],
    last_completed: Option<&BackupInfo>,
    findings: &mut Vec<Finding>,
) {
    let superseded = |b: &BackupInfo| last_completed.is_some_and(|c| c.created > b.created);
    for b in backups {
        let reason = b
            .failure_reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        let object = format!("{}/{}", b.namespace, b.name);
        let found = match (outcome(&b.phase), superseded(b)) {
            (Outcome::Failed, false) => finding_on(
                Severity::Critical,
                code::BACKUP_FAILED,
                object,
                format!("backup {} {} ({}){reason}", b.name, b.phase, counts(b)),
            ),
            (Outcome::PartiallyFailed, false) => finding_on(
                Severity::Warning,
                code::BACKUP_PARTIALLY_FAILED,
                object,
                format!(
                    "backup {} PartiallyFailed ({}){reason}; a restore from it needs \
                     --allow-partially-failed",
                    b.name,
                    counts(b)
                ),
            ),
            (Outcome::Failed | Outcome::PartiallyFailed, true) => finding_on(
                Severity::Info,
                code::EARLIER_BACKUP_FAILED,
                object,
                format!(
                    "backup {} {} ({}){reason}; a later backup completed",
                    b.name,
                    b.phase,
                    counts(b)
                ),
            ),
            _ => continue,
        };
        findings.push(found);
    }
}

// ---------------------------------------------------------------------------------------------
// The daily window
// ---------------------------------------------------------------------------------------------

/// The instant of a wall-clock time in `tz`. A time that occurs twice (the autumn change)
/// resolves to its first occurrence for a window's start and its second for its end, so the
/// window never shrinks; a time the spring change skips resolves to the first instant
/// after the gap.
fn resolve(date: NaiveDate, time: NaiveTime, tz: Tz, is_start: bool) -> DateTime<Utc> {
    let local = date.and_time(time);
    let instant = match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t),
        LocalResult::Ambiguous(first, second) => Some(if is_start { first } else { second }),
        LocalResult::None => (1..=24 * 60).find_map(|m| {
            tz.from_local_datetime(&(local + TimeDelta::minutes(m)))
                .earliest()
        }),
    };
    instant.map_or_else(|| Utc.from_utc_datetime(&local), |t| t.with_timezone(&Utc))
}

/// The window of the local day `date`: `[start, end)` in UTC.
pub fn window_on(date: NaiveDate, window: &DailyWindow, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    (
        resolve(date, window.start, tz, true),
        resolve(date, window.end, tz, false),
    )
}

/// The local day of the latest window that has ended by `now`, and that window.
fn latest_ended(
    now: DateTime<Utc>,
    window: &DailyWindow,
    tz: Tz,
) -> (NaiveDate, DateTime<Utc>, DateTime<Utc>) {
    let today = now.with_timezone(&tz).date_naive();
    let (start, end) = window_on(today, window, tz);
    if now >= end {
        return (today, start, end);
    }
    let yesterday = today.pred_opt().unwrap_or(today);
    let (start, end) = window_on(yesterday, window, tz);
    (yesterday, start, end)
}

/// The latest backup window that has ended by `now`: `[start, end)` in UTC.
pub fn latest_ended_window(
    now: DateTime<Utc>,
    window: &DailyWindow,
    tz: Tz,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let (_, start, end) = latest_ended(now, window, tz);
    (start, end)
}

/// The end of the next backup window that has not ended by `now`: the next deadline.
pub fn next_window_end(now: DateTime<Utc>, window: &DailyWindow, tz: Tz) -> DateTime<Utc> {
    let today = now.with_timezone(&tz).date_naive();
    let (_, end) = window_on(today, window, tz);
    if now < end {
        return end;
    }
    let tomorrow = today.succ_opt().unwrap_or(today);
    window_on(tomorrow, window, tz).1
}

fn window_check(
    backups: &[BackupInfo],
    backups_known: bool,
    policy: &Policy,
    now: DateTime<Utc>,
) -> WindowCheck {
    let (tz, daily) = (policy.timezone, &policy.backup_window);
    let (day, start, end) = latest_ended(now, daily, tz);
    let completed: Vec<(&BackupInfo, DateTime<Utc>)> = backups
        .iter()
        .filter(|b| outcome(&b.phase) == Outcome::Completed)
        .map(|b| (b, completion_of(b)))
        .collect();
    let inside = |s: DateTime<Utc>, e: DateTime<Utc>| {
        completed
            .iter()
            .filter(|(_, at)| s <= *at && *at < e)
            .max_by_key(|(_, at)| *at)
            .map(|(b, _)| b.name.clone())
    };
    let backup = inside(start, end);
    let late = match (&backup, backups_known) {
        (None, true) => {
            let horizon = backups.iter().map(|b| b.created).min();
            Some(late_since(day, daily, tz, horizon, |s, e| {
                inside(s, e).is_some()
            }))
        }
        _ => None,
    };
    WindowCheck {
        timezone: tz.name().to_owned(),
        start,
        end,
        backup,
        late,
        next_window_end: next_window_end(now, daily, tz),
    }
}

/// Walks back from the missed window of `day` over the run of missed windows. A window
/// ending before the oldest backup present was created cannot be judged (its backups may
/// have expired), so the walk stops there.
fn late_since(
    day: NaiveDate,
    daily: &DailyWindow,
    tz: Tz,
    horizon: Option<DateTime<Utc>>,
    covered: impl Fn(DateTime<Utc>, DateTime<Utc>) -> bool,
) -> Late {
    let mut late = Late {
        since: window_on(day, daily, tz).1,
        missed_windows: 1,
    };
    let mut earlier = day;
    for _ in 1..MAX_LOOKBACK_WINDOWS {
        let Some(d) = earlier.pred_opt() else { break };
        earlier = d;
        let (start, end) = window_on(earlier, daily, tz);
        if covered(start, end) || horizon.is_none_or(|h| h >= end) {
            break;
        }
        late = Late {
            since: end,
            missed_windows: late.missed_windows + 1,
        };
    }
    late
}

fn local(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz)
        .format("%Y-%m-%d %H:%M %Z")
        .to_string()
}

/// How old the newest completed backup is, against the policy's `backup_max_age`.
#[derive(Clone, Copy)]
struct Age {
    seconds: Option<i64>,
    max: std::time::Duration,
}

/// A missed window is a warning while the newest completed backup is younger than the
/// policy's maximum age (it completed, only not in the window), and critical after: then
/// there is no backup of the last day to restore from.
fn check_window(window: &WindowCheck, tz: Tz, age: Age, findings: &mut Vec<Finding>) {
    let Some(late) = window.late else { return };
    let max = age.max.as_secs() as i64;
    let (severity, newest) = match age.seconds {
        Some(s) if s <= max => (
            Severity::Warning,
            format!("; the newest completed backup is {} old", format::age(s)),
        ),
        Some(s) => (
            Severity::Critical,
            format!(
                "; the newest completed backup is {} old, more than {}",
                format::age(s),
                format::age(max)
            ),
        ),
        None => (Severity::Critical, "; no backup has completed".to_owned()),
    };
    let span = format!(
        "{} to {}",
        local(window.start, tz),
        window.end.with_timezone(&tz).format("%H:%M %Z")
    );
    let missed = match late.missed_windows {
        1 => String::new(),
        n => format!(", {n} windows in a row"),
    };
    findings.push(finding(
        severity,
        code::BACKUP_LATE,
        format!(
            "no Completed backup in the backup window {span} ({}); late since {}{missed}{newest}",
            tz.name(),
            local(late.since, tz)
        ),
    ));
}

// ---------------------------------------------------------------------------------------------
// Schedules and storage locations
// ---------------------------------------------------------------------------------------------

fn schedule_info(row: &ScheduleRow) -> ScheduleInfo {
    ScheduleInfo {
        namespace: row.namespace.to_string(),
        name: row.name.to_string(),
        schedule: row.schedule.to_string(),
        paused: row.paused,
        phase: row.phase.to_string(),
        last_backup: row.last_backup.map(time),
    }
}

fn check_schedules(schedules: &[ScheduleInfo], findings: &mut Vec<Finding>) {
    if schedules.is_empty() {
        findings.push(finding(
            Severity::Warning,
            code::NO_SCHEDULE,
            "no Velero Schedule: daily backups are not scheduled".to_owned(),
        ));
    }
    for s in schedules {
        let object = format!("{}/{}", s.namespace, s.name);
        if s.phase == "FailedValidation" {
            findings.push(finding_on(
                Severity::Critical,
                code::SCHEDULE_INVALID,
                object,
                format!("schedule {} failed validation: it makes no backups", s.name),
            ));
        } else if s.paused {
            findings.push(finding_on(
                Severity::Warning,
                code::SCHEDULE_PAUSED,
                object,
                format!("schedule {} is paused", s.name),
            ));
        }
    }
}

fn location_info(row: &StorageLocationRow) -> LocationInfo {
    LocationInfo {
        namespace: row.namespace.to_string(),
        name: row.name.to_string(),
        phase: row.phase.to_string(),
        available: &*row.phase == "Available",
        default: row.default,
        last_validated: row.last_validated.map(time),
        message: row.message.as_deref().map(str::to_owned),
    }
}

fn check_locations(locations: &[LocationInfo], findings: &mut Vec<Finding>) {
    if locations.is_empty() {
        findings.push(finding(
            Severity::Critical,
            code::NO_STORAGE_LOCATION,
            "no BackupStorageLocation: Velero has nowhere to write backups".to_owned(),
        ));
    }
    for l in locations {
        let object = format!("{}/{}", l.namespace, l.name);
        let message = l
            .message
            .as_deref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        match l.phase.as_str() {
            "Available" => {}
            "Unavailable" => findings.push(finding_on(
                Severity::Critical,
                code::BSL_UNAVAILABLE,
                object,
                format!("storage location {} is Unavailable{message}", l.name),
            )),
            _ => findings.push(finding_on(
                Severity::Info,
                code::BSL_UNVALIDATED,
                object,
                format!("storage location {} has not been validated yet", l.name),
            )),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Harbor and OpenSearch backup jobs
// ---------------------------------------------------------------------------------------------

/// Only the service cluster's sources watch CronJobs; elsewhere the jobs are not expected.
fn watches_cronjobs(state: &ClusterState) -> bool {
    state.health.contains_key(&Source::CronJobs) || state.backup.cronjobs.synced()
}

fn job_checks(
    state: &ClusterState,
    now: DateTime<Utc>,
    findings: &mut Vec<Finding>,
) -> Vec<JobCheck> {
    BACKUP_JOBS
        .iter()
        .filter_map(|job| {
            let cronjob = state.backup.cronjobs.get(job.namespace, job.name);
            if cronjob.is_none() && !state.backup.cronjobs.synced() {
                return None;
            }
            let runs: Vec<&JobRow> = state
                .backup
                .jobs
                .values()
                .filter(|j| {
                    &*j.namespace == job.namespace && j.cronjob.as_deref() == Some(job.name)
                })
                .collect();
            let check = job_check(job, cronjob, &runs, now);
            judge_job(&check, &runs, now, findings);
            Some(check)
        })
        .collect()
}

fn job_state(j: &JobRow) -> JobState {
    if j.succeeded > 0 {
        JobState::Succeeded
    } else if j.failure.is_some() || (j.active == 0 && j.failed > 0) {
        JobState::Failed
    } else if j.active > 0 {
        JobState::Running
    } else {
        JobState::Pending
    }
}

fn job_run(j: &JobRow) -> JobRun {
    JobRun {
        name: j.name.to_string(),
        state: job_state(j),
        started: j.started.map(time),
        completed: j.completed.map(time),
        failure: j.failure.as_deref().map(str::to_owned),
    }
}

fn job_check(
    job: &BackupJob,
    cronjob: Option<&CronJobRow>,
    runs: &[&JobRow],
    now: DateTime<Utc>,
) -> JobCheck {
    // A Job not started yet is the newest.
    let newest = runs
        .iter()
        .max_by_key(|j| (j.started.unwrap_or(i64::MAX), j.name.as_ref()));
    let succeeded = runs
        .iter()
        .filter(|j| j.succeeded > 0)
        .filter_map(|j| j.completed.or(j.started));
    let last_success = cronjob
        .and_then(|c| c.last_success)
        .into_iter()
        .chain(succeeded)
        .max()
        .map(time);
    JobCheck {
        namespace: job.namespace.to_owned(),
        name: job.name.to_owned(),
        backs_up: job.backs_up,
        present: cronjob.is_some(),
        schedule: cronjob.map(|c| c.schedule.to_string()),
        suspended: cronjob.is_some_and(|c| c.suspended),
        last_success,
        last_success_age_seconds: last_success.map(|t| (now - t).num_seconds()),
        max_age_seconds: job.max_age_hours * 3600,
        last_run: newest.map(|j| job_run(j)),
    }
}

fn hours(seconds: i64) -> String {
    format!("{}h", seconds / 3600)
}

fn judge_job(check: &JobCheck, runs: &[&JobRow], now: DateTime<Utc>, findings: &mut Vec<Finding>) {
    let object = format!("{}/{}", check.namespace, check.name);
    let what = match check.backs_up {
        "harbor" => "Harbor database backup",
        _ => "OpenSearch snapshot",
    };
    let mut push = |severity, code, message| {
        findings.push(finding_on(severity, code, object.clone(), message));
    };
    if !check.present {
        push(
            Severity::Warning,
            code::JOB_MISSING,
            format!("the {what} CronJob {object} is missing"),
        );
        return;
    }
    if check.suspended {
        push(
            Severity::Warning,
            code::JOB_SUSPENDED,
            format!("the {what} CronJob {object} is suspended"),
        );
    }
    if let Some(run) = check
        .last_run
        .as_ref()
        .filter(|r| r.state == JobState::Failed)
    {
        let reason = run.failure.as_deref().unwrap_or("Failed");
        push(
            Severity::Warning,
            code::JOB_FAILED,
            format!("the newest {what} Job {} failed ({reason})", run.name),
        );
    }
    let limit = hours(check.max_age_seconds);
    match check.last_success_age_seconds {
        Some(age) if age > check.max_age_seconds => push(
            Severity::Warning,
            code::JOB_LATE,
            format!(
                "no successful {what} for {} (expected within {limit})",
                hours(age)
            ),
        ),
        Some(_) => {}
        None => {
            let first_run = runs.iter().filter_map(|j| j.started).min().map(time);
            match first_run.filter(|t| (now - *t).num_seconds() > check.max_age_seconds) {
                Some(t) => push(
                    Severity::Warning,
                    code::JOB_LATE,
                    format!(
                        "no successful {what} since its first recorded run {} ago (expected within {limit})",
                        hours((now - t).num_seconds())
                    ),
                ),
                None => push(
                    Severity::Info,
                    code::JOB_NO_HISTORY,
                    format!("no successful {what} recorded yet"),
                ),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tables not listed yet
// ---------------------------------------------------------------------------------------------

fn check_unsynced(state: &ClusterState, findings: &mut Vec<Finding>) {
    let t = &state.backup;
    let mut missing: Vec<&str> = [
        ("backups", t.backups.synced()),
        ("schedules", t.schedules.synced()),
        ("backupstoragelocations", t.locations.synced()),
    ]
    .into_iter()
    .filter(|(_, synced)| !synced)
    .map(|(name, _)| name)
    .collect();
    if watches_cronjobs(state) {
        missing.extend(
            [("cronjobs", t.cronjobs.synced()), ("jobs", t.jobs.synced())]
                .into_iter()
                .filter(|(_, synced)| !synced)
                .map(|(name, _)| name),
        );
    }
    if !missing.is_empty() {
        findings.push(finding(
            Severity::Warning,
            code::DATA_UNAVAILABLE,
            format!("not listed yet, checks skipped: {}", missing.join(", ")),
        ));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::NaiveDateTime;

    use super::*;
    use crate::state::health::SourceHealth;
    use crate::state::table::Table;

    const TZ: Tz = chrono_tz::Europe::Stockholm;

    /// A wall-clock time in Stockholm, e.g. "2026-11-28 03:01:00".
    fn sthlm(s: &str) -> DateTime<Utc> {
        let local = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("fixture time");
        TZ.from_local_datetime(&local)
            .earliest()
            .expect("fixture time exists")
            .with_timezone(&Utc)
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().expect("fixture time")
    }

    fn synced<R>(rows: Vec<(&str, R)>) -> Table<R> {
        let mut t = Table::default();
        t.begin_relist();
        for (name, row) in rows {
            t.stage((Arc::from("velero"), Box::from(name)), row);
        }
        t.commit_relist();
        t
    }

    fn backup(
        name: &str,
        phase: &str,
        created: DateTime<Utc>,
        completed: Option<DateTime<Utc>>,
    ) -> BackupRow {
        BackupRow {
            namespace: Arc::from("velero"),
            name: Box::from(name),
            schedule: Some(Arc::from("velero-daily-backup")),
            phase: Arc::from(phase),
            created: created.timestamp(),
            started: Some(created.timestamp() + 2),
            completed: completed.map(|t| t.timestamp()),
            expires: Some((created + TimeDelta::hours(72)).timestamp()),
            errors: if phase == "Completed" { 0 } else { 3 },
            warnings: 1,
            failure_reason: (phase == "Failed")
                .then(|| Box::from("rpc error: object storage unreachable")),
            storage_location: Some(Arc::from("default")),
        }
    }

    /// A completed backup that completed at `at` (created five minutes before).
    fn completed(name: &str, at: DateTime<Utc>) -> BackupRow {
        backup(name, "Completed", at - TimeDelta::minutes(5), Some(at))
    }

    fn location(phase: &str) -> StorageLocationRow {
        StorageLocationRow {
            namespace: Arc::from("velero"),
            name: Box::from("default"),
            phase: Arc::from(phase),
            default: true,
            last_validated: None,
            message: (phase == "Unavailable").then(|| Box::from("bucket not found")),
        }
    }

    fn schedule(paused: bool) -> ScheduleRow {
        ScheduleRow {
            namespace: Arc::from("velero"),
            name: Box::from("velero-daily-backup"),
            schedule: Box::from("CRON_TZ=Europe/Stockholm 0 1 * * *"),
            paused,
            phase: Arc::from("Enabled"),
            last_backup: None,
        }
    }

    /// A workload cluster with the given backups, one schedule and an Available location.
    fn cluster(backups: Vec<BackupRow>) -> ClusterState {
        let mut s = ClusterState::default();
        let named: Vec<(String, BackupRow)> = backups
            .into_iter()
            .map(|b| (b.name.to_string(), b))
            .collect();
        s.backup.backups = synced(named.iter().map(|(n, b)| (n.as_str(), b.clone())).collect());
        s.backup.schedules = synced(vec![("velero-daily-backup", schedule(false))]);
        s.backup.locations = synced(vec![("default", location("Available"))]);
        s
    }

    /// A backup completed at 01:05 Stockholm on each of `days`.
    fn daily(days: &[&str]) -> Vec<BackupRow> {
        days.iter()
            .map(|d| completed(&format!("daily-{d}"), sthlm(&format!("{d} 01:05:00"))))
            .collect()
    }

    fn codes(a: &BackupAssessment) -> Vec<&'static str> {
        a.findings.iter().map(|f| f.code).collect()
    }

    fn assess_at(state: &ClusterState, now: DateTime<Utc>) -> BackupAssessment {
        assess(state, &Policy::default(), now)
    }

    #[test]
    fn healthy_cluster_is_ok() {
        let state = cluster(daily(&["2026-11-26", "2026-11-27", "2026-11-28"]));
        let a = assess_at(&state, sthlm("2026-11-28 10:00:00"));
        assert_eq!(a.status, Status::Ok, "{:#?}", a.findings);
        assert!(a.findings.is_empty(), "{:#?}", a.findings);
        assert_eq!(a.window.backup.as_deref(), Some("daily-2026-11-28"));
        assert_eq!(a.last_completed.as_ref().unwrap().name, "daily-2026-11-28");
        assert_eq!(a.last_completed_age_seconds, Some((8 * 60 + 55) * 60));
        assert_eq!(
            a.kept,
            Kept {
                completed: 3,
                partially_failed: 0,
                expected: 3
            }
        );
        assert_eq!(a.window.start, sthlm("2026-11-28 00:00:00"));
        assert_eq!(a.window.end, sthlm("2026-11-28 03:00:00"));
        assert_eq!(a.window.timezone, "Europe/Stockholm");
    }

    #[test]
    fn the_window_judged_is_the_latest_that_has_ended() {
        // Yesterday's window had no backup; today's backup completed at midnight sharp.
        let mut backups = daily(&["2026-11-25", "2026-11-26"]);
        backups.push(completed("midnight", sthlm("2026-11-28 00:00:00")));
        let state = cluster(backups);

        // 02:59: today's window is still open, so yesterday's is judged, and it was missed.
        let a = assess_at(&state, sthlm("2026-11-28 02:59:00"));
        assert_eq!(a.window.start, sthlm("2026-11-27 00:00:00"));
        let late = a.window.late.expect("late");
        assert_eq!(late.since, sthlm("2026-11-27 03:00:00"));
        assert_eq!(late.missed_windows, 1);
        // Missed, but a backup completed 3 h ago: late, not yet without a backup.
        assert_eq!(a.status, Status::Warning);
        assert!(codes(&a).contains(&code::BACKUP_LATE), "{:?}", codes(&a));
        assert_eq!(a.window.next_window_end, sthlm("2026-11-28 03:00:00"));

        // 03:01: today's window has ended and holds the 00:00:00 completion (start inclusive).
        let a = assess_at(&state, sthlm("2026-11-28 03:01:00"));
        assert_eq!(a.window.late, None);
        assert_eq!(a.window.backup.as_deref(), Some("midnight"));
        assert_eq!(a.window.next_window_end, sthlm("2026-11-29 03:00:00"));
        assert_eq!(a.status, Status::Ok, "{:#?}", a.findings);
    }

    #[test]
    fn a_backup_completing_after_the_window_is_late() {
        let mut backups = daily(&["2026-11-26", "2026-11-27"]);
        backups.push(completed("slow", sthlm("2026-11-28 03:05:00")));
        let state = cluster(backups);
        let a = assess_at(&state, sthlm("2026-11-28 10:00:00"));
        let late = a.window.late.expect("03:05 is after the window");
        assert_eq!(late.since, sthlm("2026-11-28 03:00:00"));
        assert_eq!(late.missed_windows, 1);
        assert_eq!(
            a.last_completed.unwrap().name,
            "slow",
            "it still is the newest backup"
        );
        let message = &a.findings[0].message;
        assert!(
            message.contains("2026-11-28 00:00 CET to 03:00 CET (Europe/Stockholm); late since 2026-11-28 03:00 CET"),
            "{message}"
        );
        assert!(
            message.ends_with("; the newest completed backup is 6h old"),
            "{message}"
        );
        assert_eq!(
            a.findings[0].severity,
            Severity::Warning,
            "a backup of today exists"
        );
        // The window end itself is outside: [start, end).
        let state = cluster(vec![completed("edge", sthlm("2026-11-28 03:00:00"))]);
        assert!(
            assess_at(&state, sthlm("2026-11-28 10:00:00"))
                .window
                .late
                .is_some()
        );
    }

    #[test]
    fn late_since_walks_back_over_missed_windows_as_far_as_backups_tell() {
        let mut backups = daily(&["2026-11-24", "2026-11-25"]);
        backups.push(backup(
            "f1",
            "Failed",
            sthlm("2026-11-26 01:00:00"),
            Some(sthlm("2026-11-26 01:10:00")),
        ));
        backups.push(backup(
            "f2",
            "Failed",
            sthlm("2026-11-27 01:00:00"),
            Some(sthlm("2026-11-27 01:10:00")),
        ));
        let state = cluster(backups);
        let a = assess_at(&state, sthlm("2026-11-28 09:00:00"));
        let late = a.window.late.expect("late");
        assert_eq!(late.missed_windows, 3, "the 26th, 27th and 28th");
        assert_eq!(late.since, sthlm("2026-11-26 03:00:00"));
        assert_eq!(a.findings[0].severity, Severity::Critical);
        assert!(
            a.findings[0]
                .message
                .ends_with("the newest completed backup is 3d old, more than 27h"),
            "{}",
            a.findings[0].message
        );
        assert!(
            a.findings[0].message.contains("3 windows in a row"),
            "{}",
            a.findings[0].message
        );

        // Without any backup, only the latest window can be judged.
        let a = assess_at(&cluster(vec![]), sthlm("2026-11-28 09:00:00"));
        assert_eq!(
            a.window.late,
            Some(Late {
                since: sthlm("2026-11-28 03:00:00"),
                missed_windows: 1
            })
        );
        assert_eq!(codes(&a), [code::BACKUP_LATE, code::TOO_FEW_BACKUPS]);
    }

    #[test]
    fn spring_forward_shortens_the_window_to_two_hours() {
        // 2026-03-29: 02:00 CET jumps to 03:00 CEST. The window is 23:00Z-01:00Z.
        let day = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
        let (start, end) = window_on(day, &Policy::default().backup_window, TZ);
        assert_eq!(start, utc("2026-03-28T23:00:00Z"));
        assert_eq!(end, utc("2026-03-29T01:00:00Z"));

        let inside = cluster(vec![completed("ok", utc("2026-03-29T00:30:00Z"))]);
        let after = cluster(vec![completed("late", utc("2026-03-29T01:05:00Z"))]);
        let now = utc("2026-03-29T08:00:00Z");
        assert_eq!(assess_at(&inside, now).window.late, None);
        assert_eq!(
            assess_at(&after, now).window.late.map(|l| l.since),
            Some(utc("2026-03-29T01:00:00Z")),
            "03:05 CEST is after the window"
        );
        // At 00:59Z (01:59 CET, a minute before the jump) today's window is still open, so
        // the latest ended window is yesterday's.
        assert_eq!(
            latest_ended_window(
                utc("2026-03-29T00:59:00Z"),
                &Policy::default().backup_window,
                TZ
            )
            .1,
            utc("2026-03-28T02:00:00Z")
        );

        // A window ending inside the gap ends at the first instant after it.
        let window = DailyWindow {
            start: NaiveTime::from_hms_opt(0, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(2, 30, 0).unwrap(),
        };
        assert_eq!(window_on(day, &window, TZ).1, utc("2026-03-29T01:00:00Z"));
    }

    #[test]
    fn fall_back_lengthens_the_window_to_four_hours() {
        // 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:00-03:00 happens twice.
        let day = NaiveDate::from_ymd_opt(2026, 10, 25).unwrap();
        let (start, end) = window_on(day, &Policy::default().backup_window, TZ);
        assert_eq!(start, utc("2026-10-24T22:00:00Z"));
        assert_eq!(end, utc("2026-10-25T02:00:00Z"));
        // 01:30Z is the second 02:30, inside the window.
        let state = cluster(vec![completed("second-0230", utc("2026-10-25T01:30:00Z"))]);
        let a = assess_at(&state, utc("2026-10-25T02:01:00Z"));
        assert_eq!(a.window.backup.as_deref(), Some("second-0230"));
        assert_eq!(a.window.late, None);
        // At 01:59Z (02:59 CET, the second time round) the window is still open.
        assert_eq!(
            next_window_end(
                utc("2026-10-25T01:59:00Z"),
                &Policy::default().backup_window,
                TZ
            ),
            end
        );
        // A window ending at an ambiguous time ends at its second occurrence.
        let window = DailyWindow {
            start: NaiveTime::from_hms_opt(2, 15, 0).unwrap(),
            end: NaiveTime::from_hms_opt(2, 45, 0).unwrap(),
        };
        assert_eq!(
            window_on(day, &window, TZ),
            (utc("2026-10-25T00:15:00Z"), utc("2026-10-25T01:45:00Z"))
        );
    }

    #[test]
    fn kept_is_compared_with_the_policy() {
        let days = [
            "2026-11-22",
            "2026-11-23",
            "2026-11-24",
            "2026-11-25",
            "2026-11-26",
            "2026-11-27",
            "2026-11-28",
        ];
        let now = sthlm("2026-11-28 10:00:00");
        let a = assess_at(&cluster(daily(&days[5..])), now);
        assert_eq!(codes(&a), [code::TOO_FEW_BACKUPS]);
        assert_eq!(a.status, Status::Warning);
        assert_eq!(
            a.findings[0].message,
            "2 Completed backup(s) kept; the policy keeps 3"
        );
        assert!(
            assess_at(&cluster(daily(&days[1..])), now)
                .findings
                .is_empty(),
            "6 is at most twice 3"
        );
        let a = assess_at(&cluster(daily(&days)), now);
        assert_eq!(codes(&a), [code::TOO_MANY_BACKUPS]);
        assert!(
            a.findings[0].message.contains("about 72h keeps 3"),
            "{}",
            a.findings[0].message
        );

        let mut backups = daily(&days[4..]);
        backups.push(backup(
            "partial",
            "PartiallyFailed",
            sthlm("2026-11-20 01:00:00"),
            None,
        ));
        let a = assess_at(&cluster(backups), now);
        assert_eq!(
            a.kept,
            Kept {
                completed: 3,
                partially_failed: 1,
                expected: 3
            }
        );
    }

    #[test]
    fn a_failed_newest_backup_is_critical_and_an_old_one_is_history() {
        let mut backups = daily(&["2026-11-26", "2026-11-27"]);
        backups.push(backup(
            "newest",
            "Failed",
            sthlm("2026-11-28 01:00:00"),
            Some(sthlm("2026-11-28 01:07:00")),
        ));
        backups.push(backup(
            "old",
            "PartiallyFailed",
            sthlm("2026-11-25 01:00:00"),
            Some(sthlm("2026-11-25 01:07:00")),
        ));
        let a = assess_at(&cluster(backups), sthlm("2026-11-28 10:00:00"));
        assert_eq!(a.status, Status::Critical);
        assert_eq!(
            codes(&a),
            [
                code::BACKUP_LATE,
                code::BACKUP_FAILED,
                code::TOO_FEW_BACKUPS,
                code::EARLIER_BACKUP_FAILED
            ]
        );
        let failed = &a.findings[1];
        assert_eq!(failed.object.as_deref(), Some("velero/newest"));
        assert_eq!(
            failed.message,
            "backup newest Failed (3 error(s), 1 warning(s)): rpc error: object storage unreachable"
        );
        assert_eq!(a.latest.as_ref().unwrap().name, "newest");
        let names: Vec<&str> = a.failed_backups.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["newest", "old"]);
        assert_eq!(a.failed_backups[0].errors, 3);

        let mut backups = daily(&["2026-11-26", "2026-11-27", "2026-11-28"]);
        backups.push(backup(
            "retried",
            "PartiallyFailed",
            sthlm("2026-11-28 00:10:00"),
            None,
        ));
        let a = assess_at(&cluster(backups), sthlm("2026-11-28 10:00:00"));
        assert_eq!(codes(&a), [code::EARLIER_BACKUP_FAILED]);
        assert_eq!(a.status, Status::Ok, "a later backup completed");
    }

    #[test]
    fn storage_locations_and_schedules_are_checked() {
        let now = sthlm("2026-11-28 10:00:00");
        let mut state = cluster(daily(&["2026-11-26", "2026-11-27", "2026-11-28"]));
        state.backup.locations = synced(vec![("default", location("Unavailable"))]);
        state.backup.schedules = synced(vec![("velero-daily-backup", schedule(true))]);
        let a = assess_at(&state, now);
        assert_eq!(codes(&a), [code::BSL_UNAVAILABLE, code::SCHEDULE_PAUSED]);
        assert_eq!(
            a.findings[0].message,
            "storage location default is Unavailable: bucket not found"
        );
        assert!(!a.storage_locations[0].available);

        state.backup.locations = synced(vec![]);
        state.backup.schedules = synced(vec![]);
        let a = assess_at(&state, now);
        assert_eq!(codes(&a), [code::NO_STORAGE_LOCATION, code::NO_SCHEDULE]);
    }

    fn cronjob(ns: &str, name: &str, last_success: Option<DateTime<Utc>>) -> CronJobRow {
        CronJobRow {
            namespace: Arc::from(ns),
            name: Box::from(name),
            schedule: Box::from("30 0 * * *"),
            suspended: false,
            last_schedule: None,
            last_success: last_success.map(|t| t.timestamp()),
        }
    }

    fn job(ns: &str, cronjob: &str, name: &str, started: DateTime<Utc>, ok: bool) -> JobRow {
        JobRow {
            namespace: Arc::from(ns),
            name: Box::from(name),
            cronjob: Some(Box::from(cronjob)),
            succeeded: u32::from(ok),
            failed: u32::from(!ok),
            active: 0,
            started: Some(started.timestamp()),
            completed: ok.then(|| (started + TimeDelta::minutes(3)).timestamp()),
            failure: (!ok).then(|| Box::from("BackoffLimitExceeded")),
        }
    }

    /// A service cluster with healthy Velero and the given CronJobs and Jobs.
    fn service_cluster(cronjobs: Vec<CronJobRow>, jobs: Vec<JobRow>) -> ClusterState {
        let mut s = cluster(daily(&["2026-11-26", "2026-11-27", "2026-11-28"]));
        let mut cj = Table::default();
        cj.begin_relist();
        for c in cronjobs {
            cj.stage((c.namespace.clone(), c.name.clone()), c);
        }
        cj.commit_relist();
        s.backup.cronjobs = cj;
        let mut jt = Table::default();
        jt.begin_relist();
        for j in jobs {
            jt.stage((j.namespace.clone(), j.name.clone()), j);
        }
        jt.commit_relist();
        s.backup.jobs = jt;
        s.health.insert(
            Source::CronJobs,
            SourceHealth::Connected {
                since: utc("2026-11-28T00:00:00Z"),
            },
        );
        s
    }

    #[test]
    fn backup_jobs_must_succeed_in_time() {
        let now = utc("2026-11-28T10:00:00Z");
        let state = service_cluster(
            vec![
                cronjob(
                    "harbor",
                    "harbor-backup-cronjob",
                    Some(now - TimeDelta::hours(30)),
                ),
                cronjob("opensearch-system", "opensearch-backup", None),
            ],
            vec![
                job(
                    "harbor",
                    "harbor-backup-cronjob",
                    "h-1",
                    now - TimeDelta::hours(9),
                    false,
                ),
                job(
                    "opensearch-system",
                    "opensearch-backup",
                    "o-1",
                    now - TimeDelta::hours(3),
                    true,
                ),
                job(
                    "opensearch-system",
                    "opensearch-backup",
                    "o-2",
                    now - TimeDelta::hours(1),
                    true,
                ),
            ],
        );
        let a = assess_at(&state, now);
        assert_eq!(
            codes(&a),
            [code::JOB_FAILED, code::JOB_LATE],
            "{:#?}",
            a.findings
        );
        assert_eq!(a.status, Status::Warning);
        assert_eq!(
            a.findings[0].message,
            "the newest Harbor database backup Job h-1 failed (BackoffLimitExceeded)"
        );
        assert_eq!(
            a.findings[1].message,
            "no successful Harbor database backup for 30h (expected within 26h)"
        );
        assert_eq!(
            a.findings[1].object.as_deref(),
            Some("harbor/harbor-backup-cronjob")
        );
        let opensearch = &a.jobs[1];
        assert_eq!(opensearch.last_run.as_ref().unwrap().name, "o-2");
        assert_eq!(opensearch.last_success, Some(now - TimeDelta::minutes(57)));
        assert_eq!(opensearch.max_age_seconds, 3 * 3600);
    }

    #[test]
    fn a_new_or_missing_backup_job_is_said_so() {
        let now = utc("2026-11-28T10:00:00Z");
        let state = service_cluster(
            vec![cronjob("harbor", "harbor-backup-cronjob", None)],
            vec![],
        );
        let a = assess_at(&state, now);
        assert_eq!(codes(&a), [code::JOB_MISSING, code::JOB_NO_HISTORY]);
        assert_eq!(a.status, Status::Warning);
        assert!(!a.jobs[1].present);

        // Never succeeded, and the first run is older than the allowed age: late.
        let state = service_cluster(
            vec![
                cronjob("harbor", "harbor-backup-cronjob", None),
                cronjob("opensearch-system", "opensearch-backup", Some(now)),
            ],
            vec![job(
                "harbor",
                "harbor-backup-cronjob",
                "h-1",
                now - TimeDelta::hours(27),
                false,
            )],
        );
        assert_eq!(
            codes(&assess_at(&state, now)),
            [code::JOB_FAILED, code::JOB_LATE]
        );
    }

    #[test]
    fn jobs_are_not_expected_where_cronjobs_are_not_watched() {
        let state = cluster(daily(&["2026-11-26", "2026-11-27", "2026-11-28"]));
        let a = assess_at(&state, sthlm("2026-11-28 10:00:00"));
        assert!(a.jobs.is_empty());
    }

    #[test]
    fn tables_not_listed_yet_skip_their_checks() {
        let mut state = ClusterState::default();
        state.health.insert(Source::CronJobs, SourceHealth::Syncing);
        let a = assess_at(&state, sthlm("2026-11-28 10:00:00"));
        assert_eq!(
            codes(&a),
            [code::DATA_UNAVAILABLE],
            "no false alarm while syncing"
        );
        assert_eq!(
            a.findings[0].message,
            "not listed yet, checks skipped: backups, schedules, backupstoragelocations, cronjobs, jobs"
        );
        assert_eq!(a.window.late, None);
        assert_eq!(a.status, Status::Warning);
    }

    #[test]
    fn json_has_stable_snake_case_names() {
        let mut backups = daily(&["2026-11-26", "2026-11-27"]);
        backups.push(backup(
            "newest",
            "Failed",
            sthlm("2026-11-28 01:00:00"),
            None,
        ));
        let a = assess_at(&cluster(backups), sthlm("2026-11-28 10:00:00"));
        let json = serde_json::to_value(&a).unwrap();
        // serde_json orders keys by name.
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "evaluated_at",
                "failed_backups",
                "findings",
                "in_progress",
                "jobs",
                "kept",
                "last_completed",
                "last_completed_age_seconds",
                "latest",
                "schedules",
                "status",
                "storage_locations",
                "window",
            ]
        );
        assert_eq!(json["status"], "critical");
        assert_eq!(json["findings"][0]["severity"], "critical");
        assert_eq!(json["findings"][1]["code"], "backup_failed");
        assert_eq!(json["window"]["late"]["since"], "2026-11-28T02:00:00Z");
        assert_eq!(json["window"]["next_window_end"], "2026-11-29T02:00:00Z");
        assert_eq!(json["kept"]["expected"], 3);
        assert_eq!(
            json["failed_backups"][0]["failure_reason"],
            "rpc error: object storage unreachable"
        );
    }
}
