//! Following runs as their journals grow: the step and log lines a `run` tells on stderr,
//! and the NDJSON events of `runs watch` and `run --follow`, one JSON object a line. The
//! journal is the one source, whichever process drives the run: it is read again when this
//! process's engine says a run changed, and twice a second for the runs of other processes.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::ClusterRole;
use crate::engine::journal::{Outcome, RunSummary, StepState};
use crate::engine::{Engine, EngineError};

/// How often the journals of runs driven elsewhere are read again.
const LOOK_EVERY: Duration = Duration::from_millis(500);
/// Every how many looks a watched run's driver is checked (through its lease, a request
/// to the service cluster): about every 5 s.
const DRIVER_EVERY: u32 = 10;

/// One thing that happened to a run.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The run is followed from here on: what it is, and who drives it.
    Run {
        run: String,
        workflow: String,
        env: String,
        cluster: ClusterRole,
        params: std::collections::BTreeMap<String, String>,
        actor: String,
        started_at: DateTime<Utc>,
        steps: usize,
    },
    StepStarted {
        run: String,
        /// From 1.
        step: usize,
        /// How many steps the run has.
        of: usize,
        name: String,
    },
    Log {
        run: String,
        step: usize,
        ts: DateTime<Utc>,
        message: String,
    },
    StepFinished {
        run: String,
        step: usize,
        name: String,
        /// `done` or `failed`.
        state: StepState,
        message: Option<String>,
    },
    /// The run ended (it may be resumed later, and then goes on).
    Outcome {
        run: String,
        outcome: Outcome,
        steps_done: usize,
        steps: usize,
    },
}

impl Event {
    /// The line a person reads on stderr while a `run` is followed, if any: the report at
    /// the end says what the run is and how it ended.
    pub fn text(&self) -> Option<String> {
        match self {
            Event::StepStarted { step, of, name, .. } => Some(format!("  [{step}/{of}] {name}")),
            Event::Log { message, .. } => Some(format!("      {message}")),
            Event::StepFinished { state, message, .. } => {
                let label = match state {
                    StepState::Failed => "FAILED",
                    _ => "done",
                };
                Some(format!("  {label}: {}", message.as_deref().unwrap_or("")))
            }
            Event::Run { .. } | Event::Outcome { .. } => None,
        }
    }

    /// One NDJSON line.
    pub fn json_line(&self) -> String {
        let mut line = serde_json::to_string(self).unwrap_or_default();
        line.push('\n');
        line
    }
}

/// What has been told of one run so far.
#[derive(Debug, Default)]
pub struct Seen {
    announced: bool,
    states: Vec<StepState>,
    logs: Vec<usize>,
    ended: bool,
}

impl Seen {
    /// What happened since the last look, in order: per step its start, its new log lines,
    /// its end; then the run's end.
    pub fn events(&mut self, run: &RunSummary) -> Vec<Event> {
        let mut events = Vec::new();
        let id = || run.id.clone();
        if !self.announced {
            self.announced = true;
            events.push(Event::Run {
                run: id(),
                workflow: run.workflow.clone(),
                env: run.env.clone(),
                cluster: run.cluster,
                params: run.params.clone(),
                actor: run.actor.clone(),
                started_at: run.started_at,
                steps: run.steps.len(),
            });
        }
        self.states.resize(run.steps.len(), StepState::Pending);
        self.logs.resize(run.steps.len(), 0);
        for (i, step) in run.steps.iter().enumerate() {
            let (was, now) = (self.states[i], step.state);
            let ended = |s| matches!(s, StepState::Done | StepState::Failed);
            // A step seen only once it was over still started; a resumed one starts again.
            if (now == StepState::Running && was != StepState::Running)
                || (ended(now) && was == StepState::Pending)
            {
                events.push(Event::StepStarted {
                    run: id(),
                    step: i + 1,
                    of: run.steps.len(),
                    name: step.name.clone(),
                });
            }
            for line in step.log.iter().skip(self.logs[i]) {
                events.push(Event::Log {
                    run: id(),
                    step: i + 1,
                    ts: line.ts,
                    message: line.message.clone(),
                });
            }
            self.logs[i] = self.logs[i].max(step.log.len());
            if ended(now) && now != was {
                events.push(Event::StepFinished {
                    run: id(),
                    step: i + 1,
                    name: step.name.clone(),
                    state: now,
                    message: step.message.clone(),
                });
            }
            self.states[i] = now;
        }
        match run.outcome {
            Some(outcome) if !self.ended => {
                self.ended = true;
                events.push(Event::Outcome {
                    run: id(),
                    outcome,
                    steps_done: run.done_steps(),
                    steps: run.steps.len(),
                });
            }
            // Resumed: its next end is news again.
            None => self.ended = false,
            Some(_) => {}
        }
        events
    }
}

/// Writes NDJSON lines to stdout; `false` once the reader has gone (`| head -1`).
pub fn emit(events: &[Event]) -> bool {
    let mut out = std::io::stdout().lock();
    let text: String = events.iter().map(Event::json_line).collect();
    !matches!(
        out.write_all(text.as_bytes()).and_then(|()| out.flush()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe
    )
}

/// `runs watch [ID]`: the events of one run until it ends (the exit code is then its
/// outcome's) or its process is found gone (1), or of every run open now or started later,
/// until a signal (its exit code) or the reader going away (0).
pub async fn watch(engine: &Arc<Engine>, id: Option<&str>) -> Result<i32, EngineError> {
    if let Some(id) = id {
        // An unknown or malformed id is bad input, said before anything is printed.
        engine.run(id)?;
    }
    let mut changes = engine.subscribe();
    let mut signals = crate::terminal::ShutdownSignals::new();
    let mut seen: HashMap<String, Seen> = HashMap::new();
    let mut looks: u32 = 0;
    // Every run is followed from its start, but runs already over when the watch began are
    // history, not news: `runs` lists them.
    let mut past: HashSet<String> = match id {
        Some(_) => HashSet::new(),
        None => engine
            .runs()
            .0
            .into_iter()
            .filter(RunSummary::finished)
            .map(|r| r.id)
            .collect(),
    };
    loop {
        let runs = match id {
            Some(id) => vec![engine.run(id)?],
            None => engine.runs().0,
        };
        for run in &runs {
            if run.finished() && past.contains(&run.id) {
                continue;
            }
            past.remove(&run.id);
            let events = seen.entry(run.id.clone()).or_default().events(run);
            if !emit(&events) {
                return Ok(crate::exit::OK);
            }
        }
        if let Some(run) = runs.first().filter(|r| id.is_some() && r.finished()) {
            return Ok(match run.outcome {
                Some(Outcome::Succeeded) => crate::exit::OK,
                _ => crate::exit::FAILURE,
            });
        }
        // A run whose process died never ends by itself: say so rather than wait forever.
        looks += 1;
        if let Some(run) = runs
            .first()
            .filter(|_| id.is_some() && looks.is_multiple_of(DRIVER_EVERY))
            && engine.driverless(run).await
        {
            let _ = writeln!(
                std::io::stderr(),
                "run {} has no live process any more; `ck8s-console runs resume {}` goes on with it",
                run.id,
                run.id
            );
            return Ok(crate::exit::FAILURE);
        }
        tokio::select! {
            _ = tokio::time::timeout(LOOK_EVERY, changes.recv()) => {}
            code = signals.next() => return Ok(code),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::journal::{LogLine, StepSummary};

    fn run(states: &[(StepState, usize)], outcome: Option<Outcome>) -> RunSummary {
        let t = Utc::now();
        RunSummary {
            id: "r1".into(),
            workflow: "scale".into(),
            env: "acme".into(),
            cluster: ClusterRole::Wc,
            params: Default::default(),
            actor: "alice".into(),
            reason: None,
            started_at: t,
            updated_at: t,
            outcome,
            steps: states
                .iter()
                .enumerate()
                .map(|(i, (state, logs))| StepSummary {
                    name: format!("step{}", i + 1),
                    state: *state,
                    message: Some(format!("said by {}", i + 1)),
                    log: (0..*logs)
                        .map(|n| LogLine {
                            ts: t,
                            message: format!("{}.{n}", i + 1),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// The events as short words: `run`, `start 1`, `log 1.0`, `done 1`, `failed 2`,
    /// `outcome succeeded`.
    fn words(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                Event::Run { .. } => "run".to_owned(),
                Event::StepStarted { step, .. } => format!("start {step}"),
                Event::Log { message, .. } => format!("log {message}"),
                Event::StepFinished { step, state, .. } => format!("{state:?} {step}"),
                Event::Outcome { outcome, .. } => format!("outcome {}", outcome.as_str()),
            })
            .collect()
    }

    use StepState::*;

    #[test]
    fn each_change_is_told_once_in_order() {
        let mut seen = Seen::default();
        let first = seen.events(&run(&[(Running, 1), (Pending, 0)], None));
        assert_eq!(words(&first), ["run", "start 1", "log 1.0"]);
        assert!(
            seen.events(&run(&[(Running, 1), (Pending, 0)], None))
                .is_empty()
        );
        let next = seen.events(&run(&[(Done, 2), (Running, 0)], None));
        assert_eq!(words(&next), ["log 1.1", "Done 1", "start 2"]);
        let end = seen.events(&run(&[(Done, 2), (Failed, 1)], Some(Outcome::Failed)));
        assert_eq!(words(&end), ["log 2.0", "Failed 2", "outcome failed"]);
        assert!(
            seen.events(&run(&[(Done, 2), (Failed, 1)], Some(Outcome::Failed)))
                .is_empty()
        );
    }

    #[test]
    fn a_run_seen_late_is_told_whole_and_a_resumed_one_goes_on() {
        let mut seen = Seen::default();
        let whole = seen.events(&run(&[(Done, 1), (Failed, 0)], Some(Outcome::Failed)));
        assert_eq!(
            words(&whole),
            [
                "run",
                "start 1",
                "log 1.0",
                "Done 1",
                "start 2",
                "Failed 2",
                "outcome failed"
            ]
        );
        // Resumed: the failed step runs again and the run ends anew.
        let resumed = seen.events(&run(&[(Done, 1), (Running, 0)], None));
        assert_eq!(words(&resumed), ["start 2"]);
        let again = seen.events(&run(&[(Done, 1), (Done, 1)], Some(Outcome::Succeeded)));
        assert_eq!(words(&again), ["log 2.0", "Done 2", "outcome succeeded"]);
    }

    #[test]
    fn events_are_one_json_object_a_line_and_people_read_the_steps() {
        let mut seen = Seen::default();
        let events = seen.events(&run(&[(Failed, 1)], Some(Outcome::Failed)));
        for e in &events {
            let line = e.json_line();
            assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'));
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            assert_eq!(v["run"], "r1");
        }
        let v: serde_json::Value = serde_json::from_str(&events[3].json_line()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"event": "step_finished", "run": "r1", "step": 1,
                "name": "step1", "state": "failed", "message": "said by 1"})
        );
        let text: Vec<String> = events.iter().filter_map(Event::text).collect();
        assert_eq!(text, ["  [1/1] step1", "      1.0", "  FAILED: said by 1"]);
    }
}
