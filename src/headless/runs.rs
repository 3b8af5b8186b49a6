//! Headless workflows: `run` plans, asks the policy, starts a run and follows it to the
//! end; `runs` lists, shows, cancels and resumes runs and reads the audit log. Progress
//! goes to stderr as it happens; the result goes to stdout once, as a table or JSON.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;

use chrono_tz::Tz;
use std::sync::Arc;

use chrono::Utc;
use serde::Serialize;

use super::output::{self, Cell, TextTable, Tone};
use super::progress::StepBars;
use super::watch::{self, Event, Seen};
use crate::cli::{OutputFormat, RunArgs, RunsAction, RunsArgs};
use crate::config::Fleet;
use crate::engine::journal::{Outcome, RunSummary, StepState};
use crate::engine::policy::Decision;
use crate::engine::workflows::WorkflowKind;
use crate::engine::{
    self, AnchorCheck, Engine, EngineError, Hints, Mode, Plan, RunRequest, Tuning, audit,
};
use crate::exit;
use crate::paths::Paths;

pub(super) fn engine(fleet: Fleet, paths: &Paths, mode: Mode) -> Arc<Engine> {
    Engine::with_mode(
        Arc::new(fleet),
        paths,
        engine::actor_from_env(),
        Tuning::default(),
        mode,
    )
}

/// `KEY=VALUE` words into parameters; a word without `=` is an input error.
pub fn parse_params(words: &[String]) -> Result<BTreeMap<String, String>, EngineError> {
    let mut params = BTreeMap::new();
    for w in words {
        let (k, v) = w.split_once('=').ok_or_else(|| {
            EngineError::Usage(format!(
                "{w:?}: parameters are KEY=VALUE, for example workers=5"
            ))
        })?;
        let (k, v) = (k.trim(), v.trim());
        if let Some(first) = params.insert(k.to_owned(), v.to_owned()) {
            return Err(EngineError::Usage(format!(
                "{k} is given twice ({k}={first}, {k}={v}); give each parameter once"
            )));
        }
    }
    Ok(params)
}

/// Workflows of the design that this version does not run yet: named so that asking for
/// one says so plainly instead of "no such workflow".
const NOT_YET: [&str; 3] = ["provision", "upgrade", "decommission"];

fn workflow(name: &str) -> Result<WorkflowKind, EngineError> {
    WorkflowKind::parse(name).ok_or_else(|| {
        let known: Vec<_> = WorkflowKind::all().map(|k| k.name()).collect();
        let what = if NOT_YET.contains(&name) {
            format!("the {name} workflow is not available yet in this version")
        } else {
            format!("no workflow {name:?}")
        };
        EngineError::Usage(format!("{what}; this version runs: {}", known.join(", ")))
    })
}

/// `run` and `runs show`: the plan (`null` for `runs show`: the journal keeps the run, not
/// its plan) and the run (`null` while only planned or refused).
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct RunReport<'a> {
    plan: Option<&'a Plan>,
    run: Option<&'a RunSummary>,
}

/// `run --detach`: the same command again, as a process of its own session (so the
/// terminal's hangup does not reach it), which prints the run's id once it started. Its
/// errors before that come through on stderr, with its exit code.
pub fn detach() -> i32 {
    use std::io::BufRead;
    use std::os::unix::process::CommandExt;
    let args = std::env::args_os()
        .skip(1)
        .filter(|a| a != "--detach")
        .chain([std::ffi::OsString::from("--detached")]);
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            note!("error: cannot find this program to start it in the background: {e}");
            return exit::FAILURE;
        }
    };
    let mut cmd = std::process::Command::new(exe);
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped());
    // SAFETY: setsid(2) is async-signal-safe, and nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            note!("error: starting the background run: {e}");
            return exit::FAILURE;
        }
    };
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = std::io::BufReader::new(out).read_line(&mut line);
    }
    match line.trim() {
        // Refused or failed before it started: its message is on stderr already.
        "" => child
            .wait()
            .ok()
            .and_then(|s| s.code())
            .unwrap_or(exit::FAILURE),
        id => {
            let _ = output::print(&format!("{id}\n"));
            note!("run {id} goes on in the background; `ck8s-console runs watch {id}` follows it");
            exit::OK
        }
    }
}

/// The background process says its run's id, then lets go of the terminal: what it would
/// say goes to the log file and the journal, not to a shell that may be long gone.
fn detached(id: &str) {
    let _ = output::print(&format!("{id}\n"));
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        use std::os::fd::AsRawFd;
        // SAFETY: dup2(2) onto the standard descriptors, which stay open.
        unsafe {
            libc::dup2(null.as_raw_fd(), libc::STDOUT_FILENO);
            libc::dup2(null.as_raw_fd(), libc::STDERR_FILENO);
        }
    }
}

/// Runs have no figures to scrape: `-o openmetrics` is bad input here.
fn refuse_metrics(format: OutputFormat) -> Option<i32> {
    (format == OutputFormat::Openmetrics).then(|| {
        note!("error: `-o openmetrics` is for the status, slo and backups reports, not runs");
        exit::USAGE
    })
}

/// `ck8s-console run`.
pub async fn run(args: &RunArgs, fleet: Fleet, paths: &Paths, mode: Mode) -> i32 {
    let format = args.output.unwrap_or_else(output::default_format);
    if let Some(code) = refuse_metrics(format) {
        return code;
    }
    let engine = engine(fleet, paths, mode);
    let result = run_inner(args, &engine, format).await;
    // The run's audit records are on disk; let their anchors reach the cluster too.
    engine.settle().await;
    match result {
        Ok(code) => code,
        Err(e) => {
            note!("error: {e}");
            e.exit_code()
        }
    }
}

async fn run_inner(
    args: &RunArgs,
    engine: &Arc<Engine>,
    format: OutputFormat,
) -> Result<i32, EngineError> {
    let request = RunRequest {
        workflow: workflow(&args.workflow)?,
        env: args.env.clone(),
        role: args.cluster.into(),
        params: parse_params(&args.params)?,
        hints: Hints::default(),
    };
    let plan = engine.plan(request).await?;
    if args.plan {
        let printed = print_report(format, &plan, None);
        // The exit code says whether the real run would start; the error, why not.
        plan.admits(args.reason.clone())?;
        return Ok(written(printed, exit::OK));
    }
    let follow_as = match args.detached {
        true => Following::Detached,
        false => Following::of(format, args.follow),
    };
    if follow_as == Following::Steps {
        eprint!("{}", plan_text(&plan));
    }
    let id = match engine.start(plan.clone(), args.reason.clone()).await {
        Ok(id) => id,
        Err(e) => {
            // A script reading the document learns the plan that was refused.
            let document = matches!(format, OutputFormat::Json | OutputFormat::Yaml);
            if follow_as == Following::Quietly && document {
                let _ = print_report(format, &plan, None);
            }
            return Err(e);
        }
    };
    if follow_as == Following::Detached {
        detached(&id);
    }
    let (summary, signal) = follow(engine, &id, follow_as).await?;
    let reported = matches!(follow_as, Following::Steps | Following::Quietly);
    let printed = !reported || print_report(format, &plan, Some(&summary));
    Ok(written(printed, outcome_code(&summary, signal)))
}

/// 0 for a run that succeeded; 128 + the signal's number for one a signal stopped (it can
/// be resumed); 1 for any other end.
fn outcome_code(run: &RunSummary, signal: Option<i32>) -> i32 {
    match (run.outcome, signal) {
        (Some(Outcome::Succeeded), _) => exit::OK,
        // Stopped for the signal; one that failed by itself meanwhile failed.
        (Some(Outcome::Cancelled) | None, Some(code)) => code,
        _ => exit::FAILURE,
    }
}

/// How a followed run is told as it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Following {
    /// `--follow`: NDJSON events on stdout, and no report at the end.
    Events,
    /// Its steps and log lines on stderr, for a person at a table.
    Steps,
    /// Nothing until the report: stdout is a document a script reads whole.
    Quietly,
    /// The background process of `--detach`: nothing after the run's id.
    Detached,
}

impl Following {
    fn of(format: OutputFormat, events: bool) -> Following {
        match (events, format) {
            (true, _) => Following::Events,
            (false, OutputFormat::Table) => Following::Steps,
            (false, _) => Following::Quietly,
        }
    }
}

/// Waits for the run, telling each step and log line as it is journaled. Returns
/// how it ended, and the exit code of the signal that stopped it, if one did.
async fn follow(
    engine: &Arc<Engine>,
    id: &str,
    follow_as: Following,
) -> Result<(RunSummary, Option<i32>), EngineError> {
    let mut rx = engine.subscribe();
    let mut seen = Seen::default();
    // A person at a terminal sees spinners; a log file gets the same steps as lines.
    let mut bars =
        (follow_as == Following::Steps && std::io::stderr().is_terminal()).then(StepBars::new);
    // Ctrl-C (or SIGTERM, or a dropped SSH session) stops the run at its next safe point
    // and releases its lock; a second one leaves it open for `runs resume`.
    let mut signals = crate::terminal::ShutdownSignals::new();
    let mut stopping: Option<i32> = None;
    loop {
        // The driver is gone once it is no longer local: whatever the journal says then is
        // how the run ended (a journal write that failed must not keep us waiting).
        let done = !engine.is_local(id);
        let run = engine.run(id)?;
        let events = seen.events(&run);
        match follow_as {
            // The events are the output, on stdout; a reader gone is no reason to stop the run.
            Following::Events => {
                let _ = watch::emit(&events);
            }
            Following::Steps => match bars.as_mut() {
                Some(bars) => events.iter().for_each(|e| bars.show(e)),
                None => events
                    .iter()
                    .filter_map(Event::text)
                    .for_each(|t| note!("{t}")),
            },
            Following::Quietly | Following::Detached => {}
        }
        if done {
            return Ok((run, stopping));
        }
        tokio::select! {
            _ = tokio::time::timeout(std::time::Duration::from_secs(1), rx.recv()) => {}
            code = signals.next() => {
                if stopping.is_some() {
                    drop(bars.take());
                    note!("left run {id} open; `ck8s-console runs resume {id}` goes on with it");
                    std::process::exit(code);
                }
                stopping = Some(code);
                let said = format!("stopping run {id} at its next safe point (again to leave it open)");
                match &bars {
                    Some(bars) => bars.println(&said),
                    None => note!("{said}"),
                }
                // It may have just ended by itself; either way, follow it to its end.
                if let Err(e) = engine.cancel(id).await {
                    note!("warning: {e}");
                }
            }
        }
    }
}

fn plan_text(plan: &Plan) -> String {
    let mut out = format!("plan: {}\n", plan.change);
    for c in &plan.checked {
        out.push_str(&format!("  checked {c}\n"));
    }
    out.push_str(&verdict_text(&plan.decision));
    out
}

fn verdict_text(decision: &Decision) -> String {
    let mut out = String::new();
    match decision {
        Decision::Allow => out.push_str("policy: allowed\n"),
        Decision::NeedsOverride { findings } => {
            out.push_str("policy: needs an override reason\n");
            for f in findings {
                out.push_str(&format!("  - [{}] {}\n", f.rule, f.message));
            }
        }
        Decision::Deny { findings } => {
            out.push_str("policy: refused\n");
            for f in findings {
                out.push_str(&format!("  - [{}] {}\n", f.rule, f.message));
            }
        }
    }
    out
}

fn print_report(format: OutputFormat, plan: &Plan, run: Option<&RunSummary>) -> bool {
    let doc = output::Doc {
        report: "run",
        generated_at: Utc::now(),
        body: &RunReport {
            plan: Some(plan),
            run,
        },
        errors: &[],
    };
    let table = || match run {
        None => plan_text(plan),
        Some(run) => run_text(run),
    };
    // A plan has no run to name yet.
    let names = || run.map(|r| r.id.clone()).into_iter().collect();
    print_or_warn(output::format(format, doc, table, names))
}

/// Prints a formatted report; one that cannot be encoded says why on stderr.
/// Prints a formatted report; `false`, said on stderr, when it could not be encoded or
/// written (a full disk), which makes the command fail. A reader gone (`| head`) is fine.
pub(super) fn print_or_warn(text: anyhow::Result<String>) -> bool {
    match text.and_then(|text| output::print(&text)) {
        Ok(()) => true,
        Err(e) => {
            note!("error: the output could not be written: {e:#}");
            false
        }
    }
}

/// `code`, unless the output was lost: then the command failed.
fn written(printed: bool, code: i32) -> i32 {
    if printed { code } else { exit::FAILURE }
}

fn run_text(run: &RunSummary) -> String {
    let mut out = format!(
        "run {}: {} {} {}-{} by {}: {}\n",
        run.id,
        run.workflow,
        params_text(&run.params),
        run.env,
        run.cluster,
        run.actor,
        run.outcome.map(Outcome::as_str).unwrap_or("running")
    );
    if let Some(r) = &run.reason {
        out.push_str(&format!("override reason: {r}\n"));
    }
    let mut t = TextTable::new(&["STEP", "STATE", "RESULT"]);
    for (i, s) in run.steps.iter().enumerate() {
        let tone = match s.state {
            StepState::Done => Tone::Good,
            StepState::Failed => Tone::Bad,
            StepState::Running => Tone::Warn,
            StepState::Pending => Tone::Dim,
        };
        t.row(vec![
            Cell::new(format!("{}. {}", i + 1, s.name), Tone::Plain),
            Cell::new(state_name(s.state), tone),
            Cell::new(s.message.clone().unwrap_or_default(), Tone::Plain),
        ]);
    }
    t.render(&mut out, output::use_colour());
    out
}

fn state_name(s: StepState) -> &'static str {
    match s {
        StepState::Pending => "pending",
        StepState::Running => "running",
        StepState::Done => "done",
        StepState::Failed => "failed",
    }
}

fn params_text(params: &BTreeMap<String, String>) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct RunsList<'a> {
    runs: Vec<&'a RunSummary>,
}

/// `ck8s-console runs ...`. Without a fleet config (`fleet` is the reason why not), only
/// `runs audit` works, on the local log alone.
pub async fn runs(args: &RunsArgs, fleet: Result<Fleet, String>, paths: &Paths, mode: Mode) -> i32 {
    let format = args.output.unwrap_or_else(output::default_format);
    if let Some(code) = refuse_metrics(format) {
        return code;
    }
    let fleet = match (fleet, &args.action) {
        (Ok(fleet), _) => fleet,
        (Err(why), Some(RunsAction::Audit { verify })) => {
            let anchors = Anchors::NotChecked(why);
            let tz = crate::config::Policy::default().timezone;
            return audit_log(&paths.audit_log, *verify, anchors, format, tz).await;
        }
        (Err(why), _) => {
            note!("{why}");
            return exit::USAGE;
        }
    };
    let engine = engine(fleet, paths, mode);
    let result = match &args.action {
        None => Ok(list(&engine, args, format)),
        Some(RunsAction::Show { id }) => engine
            .run(id)
            .map(|run| written(print_run(format, &run, engine.timezone()), exit::OK)),
        Some(RunsAction::Cancel { id }) => engine.cancel(id).await.map(|stopped| {
            match stopped {
                engine::Cancelled::Requested => {
                    note!("asked run {id} to stop; it stops at its next safe point")
                }
                engine::Cancelled::Ended => {
                    note!("run {id} had no live process; it is marked cancelled")
                }
            }
            exit::OK
        }),
        Some(RunsAction::Resume { id }) => resume(&engine, id, format).await,
        Some(RunsAction::Watch { id }) => watch::watch(&engine, id.as_deref()).await,
        Some(RunsAction::Audit { verify }) => {
            let anchors = Anchors::Of(engine.clone());
            let tz = engine.timezone();
            Ok(audit_log(engine.audit_log(), *verify, anchors, format, tz).await)
        }
    };
    engine.settle().await;
    result.unwrap_or_else(|e| {
        note!("error: {e}");
        e.exit_code()
    })
}

async fn resume(engine: &Arc<Engine>, id: &str, format: OutputFormat) -> Result<i32, EngineError> {
    engine.resume(id).await?;
    let (run, signal) = follow(engine, id, Following::of(format, false)).await?;
    let printed = print_run(format, &run, engine.timezone());
    Ok(written(printed, outcome_code(&run, signal)))
}

/// Times in tables are in the fleet's time zone (the policy's, Europe/Stockholm unless
/// set), which the header names; JSON keeps RFC 3339 in UTC.
fn print_run(format: OutputFormat, run: &RunSummary, tz: Tz) -> bool {
    let doc = output::Doc {
        report: "run",
        generated_at: Utc::now(),
        body: &RunReport {
            plan: None,
            run: Some(run),
        },
        errors: &[],
    };
    let table = || {
        let mut t = run_text(run);
        for (i, s) in run.steps.iter().enumerate() {
            for line in &s.log {
                let ts = line.ts.with_timezone(&tz).format("%H:%M:%S %Z");
                t.push_str(&format!("{ts} [{}] {}\n", i + 1, line.message));
            }
        }
        t
    };
    print_or_warn(output::format(format, doc, table, || vec![run.id.clone()]))
}

/// A time column's header, naming the zone its times are in now (`TIME (CET)`).
fn time_header(tz: Tz) -> String {
    format!("TIME ({})", Utc::now().with_timezone(&tz).format("%Z"))
}

fn list(engine: &Engine, args: &RunsArgs, format: OutputFormat) -> i32 {
    let tz = engine.timezone();
    let (all, errors) = engine.runs();
    let runs: Vec<&RunSummary> = all
        .iter()
        .filter(|r| args.envs.is_empty() || args.envs.contains(&r.env))
        .collect();
    for e in &errors {
        note!("warning: {e}");
    }
    let doc = output::Doc {
        report: "runs",
        generated_at: Utc::now(),
        body: &RunsList { runs: runs.clone() },
        errors: &[],
    };
    let table = || {
        let started = time_header(tz).replace("TIME", "STARTED");
        let mut t = TextTable::new(&[
            "RUN", "WORKFLOW", "CLUSTER", "PROGRESS", "STATE", "BY", &started,
        ]);
        for r in &runs {
            let (state, tone) = match r.outcome {
                Some(Outcome::Succeeded) => ("succeeded", Tone::Good),
                Some(Outcome::Failed) => ("failed", Tone::Bad),
                Some(Outcome::Cancelled) => ("cancelled", Tone::Warn),
                None => ("running or stopped", Tone::Warn),
            };
            t.row(vec![
                Cell::new(r.id.clone(), Tone::Plain),
                Cell::new(
                    format!("{} {}", r.workflow, params_text(&r.params)),
                    Tone::Plain,
                ),
                Cell::new(format!("{}-{}", r.env, r.cluster), Tone::Plain),
                Cell::new(format!("{}/{}", r.done_steps(), r.steps.len()), Tone::Plain),
                Cell::new(state, tone),
                Cell::new(r.actor.clone(), Tone::Dim),
                Cell::new(
                    r.started_at
                        .with_timezone(&tz)
                        .format("%Y-%m-%d %H:%M")
                        .to_string(),
                    Tone::Dim,
                ),
            ]);
        }
        let mut out = String::new();
        if t.is_empty() {
            out.push_str("no runs yet\n");
        } else {
            t.render(&mut out, output::use_colour());
        }
        out
    };
    let names = || runs.iter().map(|r| r.id.clone()).collect();
    let printed = print_or_warn(output::format(format, doc, table, names));
    written(printed && errors.is_empty(), exit::OK)
}

#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct AuditReport {
    records: Vec<audit::AuditRecord>,
    verified: Option<bool>,
    /// With --verify: what each environment's service cluster anchors of this log; `null`
    /// when the anchors could not be checked (no fleet config).
    anchors: Option<Vec<AnchorCheck>>,
}

/// Where `runs audit --verify` finds the anchors of the chain.
enum Anchors {
    Of(Arc<Engine>),
    /// Without a fleet config the clusters are unknown: the local chain alone is checked.
    NotChecked(String),
}

async fn audit_log(
    path: &Path,
    verify: bool,
    anchors: Anchors,
    format: OutputFormat,
    tz: Tz,
) -> i32 {
    // The anchors first: a record appended meanwhile then makes the log longer than its
    // anchor, which is fine, instead of shorter, which would read as tampering.
    let anchored = match (&anchors, verify) {
        (Anchors::Of(engine), true) => Some(engine.read_anchors().await),
        _ => None,
    };
    // One read: the records up to the first line that is not one (named once), and
    // whether their chain holds.
    let read = audit::read_checked(path);
    let mut verified = None;
    let mut checks = None;
    if verify {
        let mut ok = match read.problem() {
            None => {
                let n = read.records.len();
                note!("{}: {n} records, hash chain intact", path.display());
                true
            }
            Some(e) => {
                note!("error: {e}");
                false
            }
        };
        match (anchors, anchored) {
            (Anchors::NotChecked(why), _) => {
                note!("the anchors in the clusters were not checked: {why}");
            }
            (_, Some(anchored)) => {
                let found = anchored.check(&read.records, read.damaged.is_some());
                ok &= tell_anchors(&found);
                checks = Some(found);
            }
            (Anchors::Of(_), None) => {}
        }
        verified = Some(ok);
    } else if let Some(e) = &read.damaged {
        note!("error: {e}");
    }
    let broken = read.damaged.is_some();
    let report = AuditReport {
        records: read.records,
        verified,
        anchors: checks,
    };
    let doc = output::Doc {
        report: "audit",
        generated_at: Utc::now(),
        body: &report,
        errors: &[],
    };
    let table = || audit_table(&report.records, tz);
    let names = || report.records.iter().map(|r| r.seq.to_string()).collect();
    let printed = print_or_warn(output::format(format, doc, table, names));
    written(
        printed && verified != Some(false) && (verify || !broken),
        exit::OK,
    )
}

/// Says what each cluster anchors; false when one shows the log was tampered with.
fn audit_table(records: &[audit::AuditRecord], tz: Tz) -> String {
    let time = time_header(tz);
    let mut t = TextTable::new(&["SEQ", &time, "ACTOR", "ACTION", "CLUSTER", "RUN", "REASON"]);
    for r in records {
        t.row(vec![
            Cell::new(r.seq.to_string(), Tone::Dim),
            Cell::new(
                r.ts.with_timezone(&tz)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string(),
                Tone::Plain,
            ),
            Cell::new(r.actor.clone(), Tone::Plain),
            Cell::new(r.action.clone(), Tone::Plain),
            Cell::new(
                format!("{}-{}", r.env, r.cluster.as_deref().unwrap_or("")),
                Tone::Plain,
            ),
            Cell::new(r.run_id.clone().unwrap_or_default(), Tone::Dim),
            Cell::new(r.reason.clone().unwrap_or_default(), Tone::Plain),
        ]);
    }
    let mut out = String::new();
    t.render(&mut out, output::use_colour());
    out
}

fn tell_anchors(checks: &[AnchorCheck]) -> bool {
    let mut intact = true;
    for c in checks {
        match c {
            AnchorCheck::Holds { env, seq } => {
                note!("{env}-sc anchors record {seq}: the log holds it")
            }
            AnchorCheck::Absent { env, records: 0 } => {
                note!("{env}-sc anchors nothing of this log yet")
            }
            AnchorCheck::Absent { env, records } => note!(
                "warning: {env}-sc anchors nothing of this log, which holds {records} record(s) \
                 of {env}: anchoring failed when they were written, or the log came from \
                 another host"
            ),
            AnchorCheck::Broken { env, why } => {
                intact = false;
                note!("error: {env}-sc anchor: {why}");
            }
            AnchorCheck::Unchecked { env, why } => {
                note!("{env}-sc anchor not checked: {why}")
            }
        }
    }
    intact
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::journal::StepSummary;
    use crate::engine::policy::Finding;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn parameters_are_key_value_words_each_given_once() {
        let p = parse_params(&words(&["workers=5", " reason = nightly fix "])).unwrap();
        assert_eq!(p["workers"], "5");
        assert_eq!(p["reason"], "nightly fix", "spaces around key and value go");
        assert_eq!(
            parse_params(&words(&["selector=a=b"])).unwrap()["selector"],
            "a=b"
        );

        let bare = parse_params(&words(&["workers"])).unwrap_err();
        assert!(matches!(bare, EngineError::Usage(_)));
        assert_eq!(
            bare.to_string(),
            "\"workers\": parameters are KEY=VALUE, for example workers=5"
        );
        let twice = parse_params(&words(&["workers=5", "workers=6"])).unwrap_err();
        assert_eq!(
            twice.to_string(),
            "workers is given twice (workers=5, workers=6); give each parameter once"
        );
    }

    #[test]
    fn a_planned_workflow_says_it_is_not_here_yet_an_unknown_one_is_unknown() {
        assert_eq!(
            workflow("scale").unwrap(),
            WorkflowKind::parse("scale").unwrap()
        );
        let known: Vec<_> = WorkflowKind::all().map(|k| k.name()).collect();
        let later = workflow("provision").unwrap_err().to_string();
        assert_eq!(
            later,
            format!(
                "the provision workflow is not available yet in this version; this version runs: {}",
                known.join(", ")
            )
        );
        let typo = workflow("scal").unwrap_err().to_string();
        assert!(
            typo.starts_with("no workflow \"scal\"; this version runs: "),
            "{typo}"
        );
    }

    fn summary(outcome: Option<Outcome>) -> RunSummary {
        let step = |name: &str, state, message: Option<&str>| StepSummary {
            name: name.into(),
            state,
            message: message.map(str::to_owned),
            log: Vec::new(),
        };
        RunSummary {
            id: "r-20261207-1".into(),
            workflow: "scale".into(),
            env: "globex".into(),
            cluster: ClusterRole::Wc,
            params: [("workers".to_owned(), "5".to_owned())].into(),
            actor: "alice".into(),
            reason: Some("customer asked".into()),
            started_at: Utc::now(),
            updated_at: Utc::now(),
            outcome,
            steps: vec![
                step("check", StepState::Done, Some("policy allows 5 workers")),
                step(
                    "scale",
                    StepState::Failed,
                    Some("MachineDeployment not found"),
                ),
                step("wait", StepState::Pending, None),
            ],
        }
    }

    use crate::config::ClusterRole;

    #[test]
    fn only_a_succeeded_run_exits_zero_and_one_a_signal_stopped_says_which() {
        assert_eq!(
            outcome_code(&summary(Some(Outcome::Succeeded)), None),
            exit::OK
        );
        for outcome in [Some(Outcome::Failed), Some(Outcome::Cancelled), None] {
            assert_eq!(
                outcome_code(&summary(outcome), None),
                exit::FAILURE,
                "{outcome:?}"
            );
        }
        let sigint = exit::interrupted(libc::SIGINT);
        assert_eq!(sigint, 130);
        assert_eq!(
            outcome_code(&summary(Some(Outcome::Cancelled)), Some(sigint)),
            130
        );
        // It ended by itself before the safe point came: as it ended.
        assert_eq!(
            outcome_code(&summary(Some(Outcome::Failed)), Some(sigint)),
            1
        );
        assert_eq!(
            outcome_code(&summary(Some(Outcome::Succeeded)), Some(sigint)),
            0
        );
    }

    #[test]
    fn the_run_table_names_who_what_where_and_every_step() {
        let text = run_text(&summary(Some(Outcome::Failed)));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "run r-20261207-1: scale workers=5 globex-wc by alice: failed"
        );
        assert_eq!(lines[1], "override reason: customer asked");
        assert!(lines[2].starts_with("STEP"), "{text}");
        let step = |n: usize| lines[n].split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(step(3), "1. check done policy allows 5 workers");
        assert_eq!(step(4), "2. scale failed MachineDeployment not found");
        assert_eq!(step(5), "3. wait pending");
    }

    #[test]
    fn the_verdict_lists_every_finding_with_its_rule() {
        assert_eq!(verdict_text(&Decision::Allow), "policy: allowed\n");
        let finding = Finding {
            rule: "maintenance-window",
            message: "Upgrades run on Wednesdays 02:00-06:00 UTC.".into(),
        };
        let needs = Decision::NeedsOverride {
            findings: vec![finding.clone()],
        };
        assert_eq!(
            verdict_text(&needs),
            "policy: needs an override reason\n  - [maintenance-window] Upgrades run on Wednesdays 02:00-06:00 UTC.\n"
        );
        let deny = Decision::Deny {
            findings: vec![finding],
        };
        assert!(verdict_text(&deny).starts_with("policy: refused\n  - [maintenance-window]"));
    }
}
