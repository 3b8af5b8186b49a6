//! Run journals: one JSON-lines file per run under the state dir's `runs/`. The journal is
//! the run's only memory: what a run is, how far it got and how it ended is read back by
//! replaying it, so a run survives the process that started it (resume) and `runs` needs
//! no database.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::ClusterRole;

/// What is journaled. Field names are part of the on-disk format: add, never rename.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Entry {
    Started {
        workflow: String,
        env: String,
        cluster: ClusterRole,
        params: BTreeMap<String, String>,
        actor: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        steps: Vec<String>,
    },
    StepStarted {
        step: usize,
    },
    /// Progress a step observed, for the step log.
    Log {
        step: usize,
        message: String,
    },
    StepDone {
        step: usize,
        message: String,
    },
    StepFailed {
        step: usize,
        error: String,
    },
    Resumed {
        actor: String,
    },
    Finished {
        outcome: Outcome,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Succeeded,
    Failed,
    Cancelled,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    pub ts: DateTime<Utc>,
    #[serde(flatten)]
    pub entry: Entry,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}:{line}: not a journal record ({reason}); the run cannot be read back. Move the file aside to start over"
    )]
    Corrupt {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("no run {0}; `ck8s-console runs` lists the known runs")]
    UnknownRun(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> JournalError + '_ {
    move |source| JournalError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The step states a replay yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum StepState {
    Pending,
    Running,
    Done,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct StepSummary {
    pub name: String,
    pub state: StepState,
    /// The step's last message: what it did, or why it failed.
    pub message: Option<String>,
    pub log: Vec<LogLine>,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct LogLine {
    pub ts: DateTime<Utc>,
    pub message: String,
}

/// A run as its journal tells it.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct RunSummary {
    pub id: String,
    pub workflow: String,
    pub env: String,
    pub cluster: ClusterRole,
    pub params: BTreeMap<String, String>,
    pub actor: String,
    pub reason: Option<String>,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub outcome: Option<Outcome>,
    pub steps: Vec<StepSummary>,
}

impl RunSummary {
    /// Steps done, for progress bars.
    pub fn done_steps(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| s.state == StepState::Done)
            .count()
    }

    /// The first step that is not done: where a resume starts.
    pub fn resume_point(&self) -> usize {
        self.steps
            .iter()
            .position(|s| s.state != StepState::Done)
            .unwrap_or(self.steps.len())
    }

    pub fn finished(&self) -> bool {
        self.outcome.is_some()
    }

    fn apply(&mut self, line: &Line) {
        self.updated_at = line.ts;
        match &line.entry {
            Entry::Started { .. } => {}
            Entry::StepStarted { step: i } => {
                if let Some(s) = self.steps.get_mut(*i) {
                    s.state = StepState::Running;
                    s.message = None;
                }
            }
            Entry::Log { step: i, message } => {
                if let Some(s) = self.steps.get_mut(*i) {
                    s.log.push(LogLine {
                        ts: line.ts,
                        message: message.clone(),
                    });
                }
            }
            Entry::StepDone { step: i, message } => {
                if let Some(s) = self.steps.get_mut(*i) {
                    s.state = StepState::Done;
                    s.message = Some(message.clone());
                }
            }
            Entry::StepFailed { step: i, error } => {
                if let Some(s) = self.steps.get_mut(*i) {
                    s.state = StepState::Failed;
                    s.message = Some(error.clone());
                }
            }
            Entry::Resumed { .. } => {
                self.outcome = None;
            }
            Entry::Finished { outcome } => {
                self.outcome = Some(*outcome);
                // A step interrupted by a cancel or a lost lock did not finish; a resume
                // runs it again from the start.
                for s in &mut self.steps {
                    if s.state == StepState::Running {
                        s.state = StepState::Pending;
                    }
                }
            }
        }
    }
}

/// Replays a journal's lines into a summary.
pub fn replay(id: &str, lines: &[Line]) -> Option<RunSummary> {
    let (first, rest) = lines.split_first()?;
    let Entry::Started {
        workflow,
        env,
        cluster,
        params,
        actor,
        reason,
        steps,
    } = &first.entry
    else {
        return None;
    };
    let mut run = RunSummary {
        id: id.to_owned(),
        workflow: workflow.clone(),
        env: env.clone(),
        cluster: *cluster,
        params: params.clone(),
        actor: actor.clone(),
        reason: reason.clone(),
        started_at: first.ts,
        updated_at: first.ts,
        outcome: None,
        steps: steps
            .iter()
            .map(|name| StepSummary {
                name: name.clone(),
                state: StepState::Pending,
                message: None,
                log: Vec::new(),
            })
            .collect(),
    };
    for line in rest {
        run.apply(line);
    }
    Some(run)
}

/// The directory of all journals.
#[derive(Debug, Clone)]
pub struct Journals {
    dir: PathBuf,
}

impl Journals {
    pub fn new(dir: &Path) -> Journals {
        Journals {
            dir: dir.to_owned(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path_of(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.jsonl"))
    }

    /// Creates a new journal; fails if the id is taken.
    pub fn create(&self, id: &str) -> Result<JournalWriter, JournalError> {
        fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let path = self.path_of(id);
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        Ok(JournalWriter { path, file })
    }

    /// Opens an existing journal to append to it (resume).
    pub fn reopen(&self, id: &str) -> Result<JournalWriter, JournalError> {
        let path = self.path_of(id);
        if !path.exists() {
            return Err(JournalError::UnknownRun(id.to_owned()));
        }
        cut_torn_tail(&path)?;
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        Ok(JournalWriter { path, file })
    }

    pub fn read(&self, id: &str) -> Result<RunSummary, JournalError> {
        let path = self.path_of(id);
        if !path.exists() {
            return Err(JournalError::UnknownRun(id.to_owned()));
        }
        let lines = read_lines(&path)?;
        replay(id, &lines).ok_or_else(|| JournalError::Corrupt {
            path,
            line: 1,
            reason: "the first record is not `started`".into(),
        })
    }

    /// Every run, newest first. A journal that cannot be read is reported, not skipped
    /// silently, and does not hide the others.
    pub fn list(&self) -> (Vec<RunSummary>, Vec<JournalError>) {
        let mut runs = Vec::new();
        let mut errors = Vec::new();
        let Ok(dir) = fs::read_dir(&self.dir) else {
            return (runs, errors);
        };
        for entry in dir.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("jsonl") {
                continue;
            }
            let Some(id) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            match self.read(id) {
                Ok(run) => runs.push(run),
                Err(e) => errors.push(e),
            }
        }
        runs.sort_by(|a, b| b.started_at.cmp(&a.started_at).then(b.id.cmp(&a.id)));
        (runs, errors)
    }
}

/// Cuts a last line the process died writing, so what is appended next starts a line of
/// its own instead of joining the fragment.
fn cut_torn_tail(path: &Path) -> Result<(), JournalError> {
    let bytes = fs::read(path).map_err(io(path))?;
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return Ok(());
    }
    let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io(path))?;
    file.set_len(keep as u64).map_err(io(path))
}

/// Reads a journal. A torn last line (the process died mid-write) is ignored: everything
/// before it was flushed whole, and the step it described is re-run on resume.
pub fn read_lines(path: &Path) -> Result<Vec<Line>, JournalError> {
    let file = File::open(path).map_err(io(path))?;
    let raw: Vec<String> = BufReader::new(file)
        .lines()
        .collect::<Result<_, _>>()
        .map_err(io(path))?;
    let mut lines = Vec::with_capacity(raw.len());
    for (i, text) in raw.iter().enumerate() {
        if text.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Line>(text) {
            Ok(line) => lines.push(line),
            Err(_) if i + 1 == raw.len() => break,
            Err(e) => {
                return Err(JournalError::Corrupt {
                    path: path.to_owned(),
                    line: i + 1,
                    reason: e.to_string(),
                });
            }
        }
    }
    Ok(lines)
}

/// Appends records, each a whole line flushed to disk before the step goes on.
#[derive(Debug)]
pub struct JournalWriter {
    path: PathBuf,
    file: File,
}

impl JournalWriter {
    pub fn append(&mut self, ts: DateTime<Utc>, entry: Entry) -> Result<Line, JournalError> {
        let line = Line { ts, entry };
        let mut text = serde_json::to_string(&line).expect("journal records always serialize");
        text.push('\n');
        let before = self.file.metadata().map_err(io(&self.path))?.len();
        let written = self
            .file
            .write_all(text.as_bytes())
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // A torn line in the middle would make the whole journal unreadable.
            let _ = self.file.set_len(before);
            return Err(io(&self.path)(e));
        }
        Ok(line)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(min: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + chrono::TimeDelta::minutes(min)
    }

    fn started() -> Entry {
        Entry::Started {
            workflow: "scale".into(),
            env: "acme".into(),
            cluster: ClusterRole::Wc,
            params: BTreeMap::from([("workers".into(), "5".into())]),
            actor: "oncall@bastion".into(),
            reason: None,
            steps: vec!["find".into(), "patch".into(), "wait".into()],
        }
    }

    #[test]
    fn replay_tells_progress_and_where_to_resume() {
        let dir = tempfile::tempdir().unwrap();
        let journals = Journals::new(dir.path());
        let mut w = journals.create("r1").unwrap();
        w.append(t(0), started()).unwrap();
        w.append(t(1), Entry::StepStarted { step: 0 }).unwrap();
        w.append(
            t(2),
            Entry::StepDone {
                step: 0,
                message: "found".into(),
            },
        )
        .unwrap();
        w.append(t(3), Entry::StepStarted { step: 1 }).unwrap();
        w.append(
            t(4),
            Entry::Log {
                step: 1,
                message: "patched".into(),
            },
        )
        .unwrap();
        let run = journals.read("r1").unwrap();
        assert_eq!(run.done_steps(), 1);
        assert_eq!(run.resume_point(), 1);
        assert_eq!(run.steps[1].state, StepState::Running);
        assert_eq!(
            run.steps[1].log,
            vec![LogLine {
                ts: t(4),
                message: "patched".into()
            }]
        );
        assert_eq!(run.outcome, None);
        assert_eq!(run.updated_at, t(4));
    }

    #[test]
    fn a_torn_last_line_is_ignored_but_a_torn_middle_line_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let journals = Journals::new(dir.path());
        let mut w = journals.create("r2").unwrap();
        w.append(t(0), started()).unwrap();
        let path = w.path().to_owned();
        drop(w);
        let mut text = fs::read_to_string(&path).unwrap();
        text.push_str("{\"ts\":\"2026-11-25T08:0");
        fs::write(&path, &text).unwrap();
        assert_eq!(journals.read("r2").unwrap().steps.len(), 3);
        // Resuming cuts the fragment, so the next record is a line of its own.
        let mut w = journals.reopen("r2").unwrap();
        w.append(t(1), Entry::StepStarted { step: 0 }).unwrap();
        drop(w);
        assert_eq!(
            journals.read("r2").unwrap().steps[0].state,
            StepState::Running
        );
        let mut text = fs::read_to_string(&path).unwrap();
        text.push_str("{\"ts\":\"2026-11-25T08:0");
        text.push_str(
            "\n{\"ts\":\"2026-11-25T08:05:00Z\",\"event\":\"step-started\",\"step\":0}\n",
        );
        fs::write(&path, &text).unwrap();
        let err = journals.read("r2").unwrap_err().to_string();
        assert!(err.contains("r2.jsonl:3:"), "{err}");
    }

    #[test]
    fn list_is_newest_first_and_ids_are_never_reused() {
        let dir = tempfile::tempdir().unwrap();
        let journals = Journals::new(dir.path());
        for (id, at) in [("old", 0), ("new", 10)] {
            journals
                .create(id)
                .unwrap()
                .append(t(at), started())
                .unwrap();
        }
        assert!(journals.create("old").is_err());
        let (runs, errors) = journals.list();
        assert!(errors.is_empty());
        let ids: Vec<_> = runs.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["new", "old"]);
        assert!(matches!(
            journals.read("missing"),
            Err(JournalError::UnknownRun(_))
        ));
    }

    #[test]
    fn a_resumed_run_is_open_again_until_it_finishes() {
        let lines = [
            Line {
                ts: t(0),
                entry: started(),
            },
            Line {
                ts: t(1),
                entry: Entry::Finished {
                    outcome: Outcome::Cancelled,
                },
            },
            Line {
                ts: t(2),
                entry: Entry::Resumed { actor: "b".into() },
            },
        ];
        let run = replay("r", &lines).unwrap();
        assert_eq!(run.outcome, None);
        let interrupted = [
            lines[0].clone(),
            Line {
                ts: t(1),
                entry: Entry::StepStarted { step: 0 },
            },
            lines[1].clone(),
        ];
        let run = replay("r", &interrupted).unwrap();
        assert_eq!(run.steps[0].state, StepState::Pending, "cancelled mid-step");
        assert_eq!(run.resume_point(), 0);
        assert_eq!(
            replay("r", &lines[..2]).unwrap().outcome,
            Some(Outcome::Cancelled)
        );
    }
}
