//! The console's state machine: where the user is, what is selected, what overlays are
//! open. Keys become actions through the registry; actions change this state and return
//! the side effects to run (fetches, silences, log tails), which report back as
//! [`UiEvent`]s. Nothing here draws, blocks or does I/O, so every transition is
//! testable without a terminal.

use std::collections::HashMap;

use chrono::{DateTime, Local};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::command::ObjectsQuery;
use super::command::{self, Command, Vocabulary};
use super::keymap::{self, Action, ActionSpec, Context, Danger, Key};
use super::modals::Form;
use super::modals::alert::AlertModal;
use super::modals::confirm::{Confirm, Pending};
use super::modals::details::DetailsModal;
use super::modals::editor::EditorModal;
use super::modals::help::{HelpModal, HelpView};
use super::modals::pod::{LogOptions, PodDetails, PodModal, PodTab, PodTarget, SINCE};
use super::modals::run::{self, RunForm, Stage};
use super::modals::silence::{SilenceForm, Submit};
use super::nav::with_panes;
pub use super::nav::{Availability, ListState, Pane, Scope};
use super::panes::alerts::Grouping;
use super::panes::backups::BackupRead;
use super::panes::fleet::FleetSort;
use super::panes::objects::{
    Answer, Described, Edit, ObjectsData, Selected, describe_key, diff_key,
};
use super::panes::pods::PodSort;
use super::views::Views;
use super::widgets::field::{Edited, TextField};
use crate::config::ClusterRole;
use crate::engine::audit::AuditRecord;
use crate::engine::journal::RunSummary;
use crate::engine::ops::{ObjectRef, Op, OpOutcome};
use crate::engine::workflows::WorkflowKind;
use crate::engine::{Plan, RunRequest};
use crate::objects::parse_edit;
use ck8s_model::alert::PostableSilence;

/// `Lists`: one list per registered pane, named after its module, plus the two lists a
/// pane can switch to (the silences in the alerts pane, the audit history in the runs
/// pane).
macro_rules! lists {
    ($($pane:ident $module:ident: $view:ident, $title:literal, $reach:ident, $about:literal;)*) => {
        #[derive(Debug, Clone, Default)]
        pub struct Lists {
            $(pub $module: ListState,)*
            pub silences: ListState,
            pub audit: ListState,
        }

        impl Lists {
            /// The main list of `pane`.
            fn of(&self, pane: Pane) -> &ListState {
                match pane {
                    $(Pane::$pane => &self.$module,)*
                }
            }

            fn of_mut(&mut self, pane: Pane) -> &mut ListState {
                match pane {
                    $(Pane::$pane => &mut self.$module,)*
                }
            }
        }
    };
}
with_panes!(lists);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Location {
    pane: Pane,
    env: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Filter,
    Command,
    /// `/` in a pod's log or a details view (YAML, a description): found as typed,
    /// highlighted, `n`/`N` go from match to match.
    Search,
    /// `F` on a pod: the ports to forward, `LOCAL:REMOTE`.
    PortForward,
}

/// The line being typed after `/` or `:`.
#[derive(Debug, Clone)]
pub struct InputLine {
    pub kind: InputKind,
    pub text: TextField,
    /// The filter before editing began, restored by Esc.
    pub before: String,
    pub candidates: Vec<String>,
    /// What is wrong with the text as entered, shown beside it until it changes.
    pub error: Option<String>,
}

impl InputLine {
    fn new(kind: InputKind, initial: &str) -> InputLine {
        InputLine {
            kind,
            text: TextField::new(initial),
            before: initial.to_string(),
            candidates: Vec::new(),
            error: None,
        }
    }

    pub fn value(&self) -> &str {
        self.text.value()
    }
}

#[derive(Debug)]
pub enum Modal {
    Help(HelpModal),
    Pod(Box<PodModal>),
    Alert(Box<AlertModal>),
    Details(Box<DetailsModal>),
    Silence(Box<SilenceForm>),
    Run(Box<RunForm>),
    Editor(Box<EditorModal>),
    Confirm(Box<Confirm>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Success,
    Error,
}

/// A one-line message in the footer, until the next key or a few seconds pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub text: String,
    pub level: Level,
    /// Changes with every new message, so a timer clears only its own.
    pub seq: u64,
}

pub use ck8s_model::access::Permission;

/// Side effects for the runtime to perform.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Start an environment's heavy sources (pods, events, workloads).
    OpenEnv(String),
    /// Run the SelfSubjectAccessReviews of the registry's actions in an environment.
    CheckPermissions(String),
    FetchPod(PodTarget),
    TailLogs {
        id: u64,
        target: PodTarget,
        options: LogOptions,
    },
    StopLogs,
    /// Silences, each to the Alertmanagers named beside it.
    CreateSilence {
        id: u64,
        silences: Vec<(crate::ui::modals::silence::Targets, PostableSilence)>,
    },
    ExpireSilence {
        env: String,
        role: ClusterRole,
        id: String,
    },
    SetTheme(String),
    PlanRun {
        id: u64,
        request: RunRequest,
    },
    StartRun {
        id: u64,
        plan: Box<Plan>,
        reason: Option<String>,
    },
    CancelRun(String),
    ResumeRun(String),
    /// List `query` in `env`'s clusters now and every few seconds, until another query
    /// replaces it.
    WatchObjects {
        poll: u64,
        env: String,
        query: ObjectsQuery,
    },
    /// Stop listing: no environment is open.
    StopObjects,
    /// One object as YAML, for its details.
    FetchObjectYaml {
        key: String,
        env: String,
        object: Selected,
    },
    /// An editor on `edit` as it is: `$EDITOR`'s, else the console's own.
    OpenEditor(Edit),
    /// One value of a Secret, to show in the details `details_key`.
    Reveal {
        details_key: String,
        secret: ObjectRef,
        key: String,
    },
    /// A Velero backup read in depth (its description or its log), for the details
    /// `key`.
    ReadBackup {
        key: String,
        env: String,
        role: ClusterRole,
        name: String,
        read: BackupRead,
    },
    /// One object described, for its details.
    Describe {
        key: String,
        env: String,
        object: Selected,
    },
    /// Hand the terminal to `kubectl port-forward` of the pod's ports, and take it back
    /// when it ends.
    PortForward {
        target: PodTarget,
        ports: Vec<String>,
    },
    /// Hand the terminal to `kubectl exec -it` in the pod, and take it back after.
    /// In the named container, else the pod's default one.
    Shell {
        target: PodTarget,
        container: Option<String>,
    },
    /// Put the text on the terminal's clipboard.
    Copy(String),
    /// Write an export or a log; `what` says what it holds. A `fresh` file is a new one,
    /// private to the user (a log may hold what others should not read): one of that name
    /// is never overwritten.
    WriteFile {
        path: String,
        text: String,
        what: String,
        fresh: bool,
    },
    /// Hand the terminal to the editor on the object (or on the text kept from a failed
    /// edit of it), then ask for the server's dry run.
    EditObject {
        env: String,
        object: Selected,
        kept: Option<Edit>,
    },
    /// The server's dry run of an edit, for its diff.
    DryRunEdit(Edit),
    /// Make the edit whose diff was shown.
    ApplyEdit(Edit),
    /// A small action (delete, cordon, ...) through the engine's gate, confirmed.
    Act {
        op: Op,
        objects: Vec<ObjectRef>,
    },
}

/// What background tasks report.
#[derive(Debug)]
pub enum UiEvent {
    PodLoaded {
        target: PodTarget,
        result: Result<Box<PodDetails>, String>,
    },
    LogLines {
        id: u64,
        lines: Vec<String>,
    },
    LogEnded {
        id: u64,
        error: Option<String>,
    },
    SilenceCreated {
        id: u64,
        /// Per cluster name: the new silence's id, or why it failed.
        results: Vec<(String, Result<String, String>)>,
        /// What was made: the index of the form's silence, and the cluster it reached.
        done: Vec<(usize, String)>,
    },
    SilenceExpired {
        cluster: String,
        id: String,
        result: Result<(), String>,
    },
    Permission {
        env: String,
        role: ClusterRole,
        action: &'static str,
        result: Permission,
    },
    /// The journals and the audit log, re-read after a run changed.
    RunsLoaded(Box<RunsData>),
    RunPlanned {
        id: u64,
        result: Result<Plan, String>,
    },
    RunStarted {
        id: u64,
        result: Result<String, String>,
    },
    /// A cancel or resume was asked for: what happened, for the footer.
    RunControl(Result<String, String>),
    /// One cluster's answer to a poll of [`Effect::WatchObjects`].
    Objects {
        poll: u64,
        role: ClusterRole,
        result: Answer,
    },
    ObjectYaml {
        key: String,
        result: Result<Vec<String>, String>,
    },
    /// No editor is named: the edit opens in the console's own.
    EditInApp(Edit),
    /// A Secret's value (or what became of the asking).
    Revealed {
        details_key: String,
        result: Result<crate::engine::ops::Revealed, String>,
    },
    /// How a rollout the console started goes: `done` is `None` while it is followed,
    /// then whether it rolled out (not: stuck, too slow, or not readable).
    Rollout {
        label: String,
        text: String,
        done: Option<bool>,
    },
    Described {
        key: String,
        env: String,
        result: Result<crate::describe::Description, String>,
    },
    /// What [`Effect::ReadBackup`] read, as lines.
    BackupRead {
        key: String,
        env: String,
        result: Result<Vec<String>, String>,
    },
    /// An edit's dry-run diff, or why there is none.
    EditPlanned {
        /// The round of editing it answers ([`Edit::id`]).
        id: u64,
        result: Result<Vec<String>, String>,
    },
    /// An edit was made, or why not (the text is kept).
    Edited {
        key: String,
        /// A new object's (`:create`), not an edit's.
        creating: bool,
        result: Result<String, String>,
    },
    /// A program is ready to have the terminal (the gate passed, the object read).
    HandOver(super::handover::Handover),
    /// Why a shell or an editor was not opened.
    NotHandedOver(String),
    /// An export was written (where, what), or why not.
    Written(Result<String, String>),
    /// The names of the kinds an environment's clusters serve.
    Kinds {
        env: String,
        names: Vec<String>,
    },
    /// What a small action did to each object, or why the gate refused it.
    Acted {
        op: Op,
        result: Result<Vec<OpOutcome>, String>,
    },
}

/// What the runs pane shows, as last read from the journals and the audit log.
#[derive(Debug, Clone, Default)]
pub struct RunsData {
    pub runs: Vec<RunSummary>,
    /// The newest records, oldest first.
    pub audit: Vec<AuditRecord>,
    /// Journals or audit records that could not be read.
    pub errors: Vec<String>,
    /// Runs in progress in this console: driven by it and not ended (the others belong
    /// to other consoles or scripts, or are over).
    pub local: Vec<String>,
    /// The journals have been read at least once: "no runs" is then a fact, not a guess.
    pub loaded: bool,
}

/// What the status line says of a run of this console that ended: how, and for a failed
/// one, at which step and why.
fn ended_notice(run: &RunSummary, seq: u64) -> Flash {
    use crate::engine::journal::{Outcome, StepState};
    let what = format!("run {} on {}-{}", run.workflow, run.env, run.cluster);
    let (text, level) = match run.outcome {
        Some(Outcome::Succeeded) => (format!("{what} succeeded"), Level::Success),
        Some(Outcome::Cancelled) => (format!("{what} was cancelled"), Level::Error),
        _ => {
            let failed = run.steps.iter().find(|s| s.state == StepState::Failed);
            let why = failed.map_or(String::new(), |s| {
                format!(
                    " at “{}”: {}",
                    s.name,
                    s.message.as_deref().unwrap_or("no reason recorded")
                )
            });
            (format!("{what} FAILED{why}"), Level::Error)
        }
    };
    Flash { text, level, seq }
}

pub const NO_ENGINE: &str = "the console was started without the workflow engine";

/// Everything about the console's state except the fleet data itself.
#[derive(Debug)]
pub struct App {
    pub envs: Vec<String>,
    /// The environments in the order the fleet list shows them (filtered).
    pub fleet_names: Vec<String>,
    pub env: Option<String>,
    pub pane: Pane,
    pub scope: Scope,
    history: Vec<Location>,
    pub lists: Lists,
    filters: [String; Pane::ALL.len()],
    pub pod_sort: PodSort,
    pub fleet_sort: FleetSort,
    /// The user has picked an environment in the overview (moved to it, or entered one):
    /// the cursor then stays on it when the order changes. Until then it stays on the first
    /// row, the environment that most needs a look.
    pub fleet_chosen: bool,
    pub grouping: Grouping,
    pub show_silences: bool,
    pub input: Option<InputLine>,
    pub modals: Vec<Modal>,
    pub flash: Option<Flash>,
    /// A run of this console ended: said in the status line, whatever the pane, until
    /// acknowledged (Esc, or opening the runs pane).
    pub notice: Option<Flash>,
    /// The runs this console started or drives that have not been seen to end, and
    /// whether each was seen open: a run seen open gets the notice once it has ended. A
    /// run started here counts as seen open (one that fails within a second ends before
    /// the journals are next read); a failed run being resumed is not, until its resume
    /// is journaled, so its old outcome is not news.
    watched_runs: Vec<(String, bool)>,
    pub read_only: bool,
    /// Environments that are read-only in the fleet config (`read_only = true`).
    pub read_only_envs: std::collections::HashSet<String>,
    /// The default author of silences.
    pub author: String,
    pub permissions: HashMap<(String, ClusterRole, &'static str), Permission>,
    pub themes: Vec<String>,
    /// Whether workflows can be run from this console.
    pub engine: bool,
    pub runs: RunsData,
    /// The runs pane shows the audit history instead of the selected run.
    pub show_audit: bool,
    /// Set when the console should exit, with its exit code.
    pub quit: Option<i32>,
    /// Pods marked with Space; delete acts on those of the open environment.
    pub marks: std::collections::HashSet<PodTarget>,
    /// The pod whose ports the `F` line forwards, and the ports last forwarded.
    pub forward: (Option<PodTarget>, String),
    /// Alerts marked with Space, by fingerprint: `s` silences them all.
    pub alert_marks: std::collections::BTreeSet<String>,
    /// The kind the objects pane lists, and what the clusters answered.
    pub objects: ObjectsData,
    /// A backup's description or log, as last asked for with `d` or `l`.
    pub backup_read: Option<crate::ui::panes::backups::Fetched>,
    /// The kinds the open environment's clusters serve, for completing `:`.
    pub kinds: (String, Vec<String>),
    /// An edit under way, its text kept until it is made.
    pub edit: Option<Edit>,
    /// A program to hand the terminal to, prepared and waiting for the event loop.
    pub handover: Option<super::handover::Handover>,
    next_id: u64,
}

impl App {
    pub fn new(envs: Vec<String>) -> App {
        App {
            fleet_names: envs.clone(),
            envs,
            env: None,
            pane: Pane::Fleet,
            scope: Scope::Both,
            history: Vec::new(),
            lists: Lists::default(),
            filters: Default::default(),
            pod_sort: PodSort::default(),
            fleet_sort: FleetSort::default(),
            fleet_chosen: false,
            grouping: Grouping::default(),
            show_silences: false,
            input: None,
            modals: Vec::new(),
            flash: None,
            notice: None,
            watched_runs: Vec::new(),
            read_only: false,
            read_only_envs: Default::default(),
            author: String::new(),
            permissions: HashMap::new(),
            themes: Vec::new(),
            engine: false,
            runs: RunsData::default(),
            show_audit: false,
            quit: None,
            marks: Default::default(),
            forward: (None, String::new()),
            alert_marks: Default::default(),
            objects: ObjectsData::default(),
            backup_read: None,
            kinds: Default::default(),
            edit: None,
            handover: None,
            next_id: 1,
        }
    }

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The filter of the current pane (the silence list shares the alerts' filter).
    pub fn filter(&self) -> &str {
        &self.filters[self.pane.index()]
    }

    pub fn filter_of(&self, pane: Pane) -> &str {
        &self.filters[pane.index()]
    }

    pub fn set_filter(&mut self, pane: Pane, text: &str) {
        self.filters[pane.index()] = text.to_string();
        self.list_mut(pane).selected = 0;
    }

    /// The list `pane` shows now.
    pub fn list(&self, pane: Pane) -> &ListState {
        match pane {
            Pane::Alerts if self.show_silences => &self.lists.silences,
            Pane::Runs if self.show_audit => &self.lists.audit,
            _ => self.lists.of(pane),
        }
    }

    pub fn list_mut(&mut self, pane: Pane) -> &mut ListState {
        match pane {
            Pane::Alerts if self.show_silences => &mut self.lists.silences,
            Pane::Runs if self.show_audit => &mut self.lists.audit,
            _ => self.lists.of_mut(pane),
        }
    }

    pub fn flash(&mut self, level: Level, text: impl Into<String>) {
        let seq = self.next_id();
        self.flash = Some(Flash {
            text: text.into(),
            level,
            seq,
        });
    }

    /// A warning in the status line, whatever the pane, until acknowledged (Esc).
    pub fn warn_until_acknowledged(&mut self, text: impl Into<String>) {
        let seq = self.next_id();
        self.notice = Some(Flash {
            text: text.into(),
            level: Level::Error,
            seq,
        });
    }

    /// Where keys go now, most specific first.
    pub fn contexts(&self) -> Vec<Context> {
        if self.input.is_some() {
            return vec![Context::Input];
        }
        match self.modals.last() {
            Some(Modal::Help(_)) => vec![Context::Help, Context::Navigation, Context::Overlay],
            Some(Modal::Pod(_)) => vec![Context::PodDetails, Context::Navigation, Context::Overlay],
            Some(Modal::Alert(_)) => {
                vec![Context::AlertDetails, Context::Navigation, Context::Overlay]
            }
            Some(Modal::Details(_)) => {
                vec![Context::Details, Context::Navigation, Context::Overlay]
            }
            Some(Modal::Silence(_)) => vec![Context::SilenceForm],
            Some(Modal::Editor(_)) => vec![Context::Editor],
            Some(Modal::Run(_)) => vec![Context::RunForm],
            // A name is typed: y and n are letters of it, and only Esc closes.
            Some(Modal::Confirm(c)) if c.typed.is_some() => vec![Context::Overlay],
            Some(Modal::Confirm(_)) => vec![Context::Confirm],
            None => {
                // The silence list replaces the alert list and its keys.
                let pane = if self.pane == Pane::Alerts && self.show_silences {
                    Context::Silences
                } else {
                    Context::Pane(self.pane)
                };
                vec![pane, Context::Navigation, Context::Global]
            }
        }
    }

    // -----------------------------------------------------------------------------------
    // Keys
    // -----------------------------------------------------------------------------------

    /// Whether Alt-keys are keys of their own now: in the console's editor, whose
    /// emacs-like keys use them (elsewhere an Alt-key is an Esc typed just before a key).
    pub fn takes_alt_keys(&self) -> bool {
        self.input.is_none() && matches!(self.modals.last(), Some(Modal::Editor(_)))
    }

    pub fn on_key(&mut self, ev: KeyEvent, views: &Views) -> Vec<Effect> {
        let effects = self.dispatch_key(ev, views);
        self.forget_unseen_secret();
        effects
    }

    /// A revealed value lives only as long as the details that show it: whatever took
    /// them away (Esc, a form that closed what was above it), it goes too.
    fn forget_unseen_secret(&mut self) {
        let shown = |app: &App, key: &str| {
            app.modals
                .iter()
                .any(|m| matches!(m, Modal::Details(d) if d.key == key))
        };
        if let Some((key, _)) = &self.objects.revealed
            && !shown(self, key)
        {
            self.objects.revealed = None;
        }
    }

    fn dispatch_key(&mut self, ev: KeyEvent, views: &Views) -> Vec<Effect> {
        let Some(key) = Key::from_event(&ev) else {
            return Vec::new();
        };
        // A key press acknowledges the message shown.
        self.flash = None;
        if self.input.is_some() {
            return self.on_input_key(ev, key, views);
        }
        if matches!(self.modals.last(), Some(Modal::Silence(_))) {
            return self.on_form_key(ev, key);
        }
        if matches!(self.modals.last(), Some(Modal::Run(_))) {
            return self.on_run_form_key(ev, key);
        }
        if matches!(self.modals.last(), Some(Modal::Editor(_))) {
            return self.on_editor_key(ev, key);
        }
        if matches!(self.modals.last(), Some(Modal::Confirm(c)) if c.typed.is_some()) {
            return self.on_typed_confirm_key(ev, key);
        }
        match keymap::resolve(&self.contexts(), key) {
            Some(spec) => self.run(spec, views),
            None => {
                // Say so, briefly: a key that does nothing silently reads as a hung console.
                self.flash(
                    Level::Info,
                    format!("{}: no action here; ? for help", key.label()),
                );
                Vec::new()
            }
        }
    }

    /// The in-app editor: Ctrl-S goes on as saving in `$EDITOR` does, Esc keeps the text
    /// for the next `e` (or `:create`), every other key edits.
    fn on_editor_key(&mut self, ev: KeyEvent, key: Key) -> Vec<Effect> {
        let action = keymap::resolve(&[Context::Editor], key).map(|s| s.action);
        let Some(Modal::Editor(m)) = self.modals.last_mut() else {
            return Vec::new();
        };
        match action {
            Some(Action::Submit) => {
                let edit = m.edited();
                self.modals.pop();
                self.after_editor(edit)
            }
            Some(Action::Close) => {
                let edit = m.edited();
                self.modals.pop();
                if edit.text != edit.original {
                    self.flash(
                        Level::Info,
                        format!("{}: your text is kept; {}", edit.key, edit.reopened_by()),
                    );
                    self.edit = Some(Edit { diff: None, ..edit });
                }
                Vec::new()
            }
            _ => {
                m.input(ev);
                Vec::new()
            }
        }
    }

    /// A confirmation that wants a name typed: keys edit it, Enter goes on only when it
    /// is the name, Esc keeps everything as it is.
    fn on_typed_confirm_key(&mut self, ev: KeyEvent, key: Key) -> Vec<Effect> {
        let Some(Modal::Confirm(c)) = self.modals.last_mut() else {
            return Vec::new();
        };
        match key {
            Key::Esc => {
                self.modals.pop();
                Vec::new()
            }
            Key::Enter if c.typed_right() => match self.modals.pop() {
                Some(Modal::Confirm(c)) => self.execute(c.pending),
                _ => Vec::new(),
            },
            Key::Enter => {
                let want = c.typed.as_ref().map(|(w, _)| w.clone()).unwrap_or_default();
                self.flash(
                    Level::Error,
                    format!("type {want} exactly to go on, or Esc"),
                );
                Vec::new()
            }
            _ => {
                if let Some((_, field)) = c.typed.as_mut() {
                    field.edit(ev);
                }
                Vec::new()
            }
        }
    }

    /// Runs a registry action through the gate: it must be available (engine, read-only,
    /// permission), and an action the registry marks `confirm` asks first and acts only
    /// on yes. Keys and `:` commands both come through here.
    pub fn run(&mut self, spec: &'static ActionSpec, views: &Views) -> Vec<Effect> {
        let target = self.action_target(spec, views);
        if !self.admit(spec, target.as_ref().map(|(e, r)| (e.as_str(), *r))) {
            return Vec::new();
        }
        if spec.confirm {
            if let Some(confirm) = self.confirmation(spec.action, views) {
                self.modals.push(Modal::Confirm(Box::new(confirm)));
            }
            return Vec::new();
        }
        self.apply(spec.action, views)
    }

    /// Whether `spec` may run in `target` now; says why not in the status line.
    fn admit(&mut self, spec: &ActionSpec, target: Option<(&str, ClusterRole)>) -> bool {
        match self.availability(spec, target) {
            Availability::Available => true,
            Availability::ReadOnly => {
                let why = if self.read_only {
                    "read-only mode (--read-only)".to_string()
                } else {
                    let env = target.map(|(env, _)| env).or(self.env.as_deref());
                    format!(
                        "{} is read-only in the fleet config",
                        env.unwrap_or("this environment")
                    )
                };
                self.flash(Level::Error, format!("{why}: “{}” is disabled", spec.label));
                false
            }
            Availability::Denied(why) | Availability::Unavailable(why) => {
                self.flash(Level::Error, format!("{}: {why}", spec.label));
                false
            }
        }
    }

    /// The question an action asks before it acts, about what is selected now; `None`
    /// (with a message) when there is nothing to act on.
    fn confirmation(&mut self, action: Action, views: &Views) -> Option<Confirm> {
        match action {
            Action::Expire => self.confirm_expire(views),
            Action::CancelRun => self.confirm_run_control(true),
            Action::ResumeRun => self.confirm_run_control(false),
            Action::Delete if self.pane == Pane::Objects => self.confirm_object(Op::Delete, views),
            Action::Restart => self.confirm_object(Op::Restart, views),
            Action::Delete => self.confirm_delete(views),
            Action::Cordon | Action::Uncordon => self.confirm_cordon(action, views),
            other => {
                self.flash(
                    Level::Error,
                    format!("{other:?} has no confirmation to ask; nothing was done"),
                );
                None
            }
        }
    }

    /// Acts on what [`Self::confirmation`] would ask about, without asking: for actions
    /// the registry does not mark `confirm`.
    fn act_unasked(&mut self, action: Action, views: &Views) -> Vec<Effect> {
        match self.confirmation(action, views) {
            // A change to objects is made only once asked and answered.
            Some(Confirm {
                pending: Pending::Act { .. },
                ..
            }) => {
                self.flash(
                    Level::Error,
                    format!("{action:?} asks first; nothing was done"),
                );
                Vec::new()
            }
            Some(confirm) => self.execute(confirm.pending),
            None => Vec::new(),
        }
    }

    /// The cluster an action would act in, for its permission and read-only checks: the
    /// selected alert's, silence's or run's own, which in the fleet-wide panes need not be
    /// the open environment.
    pub fn action_target(&self, spec: &ActionSpec, views: &Views) -> Option<(String, ClusterRole)> {
        match spec.action {
            Action::Silence => {
                let sources = &views.alerts.alert(self.lists.alerts.selected)?.sources;
                // An alert several clusters fire is silenced in each: a read-only one decides.
                return sources
                    .iter()
                    .find(|(env, _)| self.read_only_envs.contains(env))
                    .or(sources.first())
                    .cloned();
            }
            Action::Expire => {
                let s = views.alerts.silence(self.lists.silences.selected)?;
                return Some((s.env.clone(), s.role));
            }
            Action::CancelRun | Action::ResumeRun => {
                let run = self.selected_run()?;
                return Some((run.env.clone(), run.cluster));
            }
            // The selected node's cluster: where its pods are evicted.
            Action::DrainNode | Action::Cordon | Action::Uncordon => {
                let (role, _) = views.cluster.node(self.lists.cluster.selected)?;
                return Some((self.env.clone()?, role));
            }
            _ => {}
        }
        spec.rbac?;
        if let Some(Modal::Pod(m)) = self.modals.last() {
            return Some((m.target.env.clone(), m.target.role));
        }
        views
            .pods
            .target(self.lists.pods.selected, self.env.as_deref()?)
            .map(|t| (t.env, t.role))
    }

    /// The order of the sections: what applies here first.
    fn help_sections(&self) -> Vec<Context> {
        let mut here = self.contexts();
        here.retain(|c| !matches!(c, Context::Help | Context::Overlay));
        // Help itself covers the pane underneath it.
        if here.is_empty() || here == [Context::Navigation] {
            here = vec![
                Context::Pane(self.pane),
                Context::Navigation,
                Context::Global,
            ];
        }
        let mut all = here.clone();
        for s in keymap::REGISTRY.iter() {
            if !all.contains(&s.context) {
                all.push(s.context);
            }
        }
        all
    }

    /// Why an action is not available in the current environment, if it is not.
    fn help_status(&self, spec: &ActionSpec) -> (String, bool) {
        match self.availability(spec, None) {
            Availability::ReadOnly => return ("off: read-only mode".into(), true),
            Availability::Unavailable(why) => return (format!("off: {why}"), true),
            _ => {}
        }
        let (Some(_), Some(env)) = (spec.rbac, self.env.as_deref()) else {
            return (String::new(), false);
        };
        let roles: &[ClusterRole] = Scope::Both.roles();
        let mut denied = Vec::new();
        let mut unknown = 0;
        for role in roles {
            match self.permissions.get(&(env.to_string(), *role, spec.id)) {
                Some(Permission::Allowed) => {}
                Some(Permission::Denied(_)) | Some(Permission::Failed(_)) => {
                    denied.push(role.as_str())
                }
                None => unknown += 1,
            }
        }
        if !denied.is_empty() {
            (format!("denied in {}", denied.join(", ")), true)
        } else if unknown > 0 {
            ("checking…".into(), false)
        } else {
            ("allowed".into(), false)
        }
    }

    /// What the help screen shows here and now.
    pub fn help_view(&self) -> HelpView {
        HelpView {
            sections: self.help_sections(),
            status: keymap::REGISTRY
                .iter()
                .map(|spec| (spec.id, self.help_status(spec)))
                .collect(),
            read_only: self.read_only,
        }
    }

    /// Whether `spec` may run in `target` (env, cluster).
    pub fn availability(
        &self,
        spec: &ActionSpec,
        target: Option<(&str, ClusterRole)>,
    ) -> Availability {
        if spec.needs_engine && !self.engine {
            return Availability::Unavailable(NO_ENGINE.into());
        }
        if spec.danger > Danger::Safe {
            // An action without a target of its own acts where the user is.
            let env = target.map(|(env, _)| env).or(self.env.as_deref());
            if self.read_only || env.is_some_and(|e| self.read_only_envs.contains(e)) {
                return Availability::ReadOnly;
            }
        }
        let (Some(rbac), Some((env, role))) = (spec.rbac, target) else {
            return Availability::Available;
        };
        match self.permissions.get(&(env.to_string(), role, spec.id)) {
            Some(Permission::Denied(reason)) => Availability::Denied(format!(
                "RBAC: you may not {} in {env}-{role}{}",
                rbac.describe(),
                if reason.is_empty() {
                    String::new()
                } else {
                    format!(" ({reason})")
                }
            )),
            Some(Permission::Failed(e)) => Availability::Denied(format!(
                "permission check for {} in {env}-{role} failed: {e}",
                rbac.describe()
            )),
            // Unknown yet: let the API server decide; it refuses what RBAC forbids.
            Some(Permission::Allowed) | None => Availability::Available,
        }
    }

    pub fn apply(&mut self, action: Action, views: &Views) -> Vec<Effect> {
        if let Some(effects) = self.apply_to_modal(action, views) {
            return effects;
        }
        if let Some(step) = action.movement() {
            self.list_mut(self.pane).apply(step);
            self.fleet_chosen |= self.pane == Pane::Fleet;
            return Vec::new();
        }
        match action {
            Action::Quit => self.confirm_quit(),
            Action::Help => {
                self.modals.push(Modal::Help(HelpModal::default()));
                Vec::new()
            }
            Action::Command => {
                self.input = Some(InputLine::new(InputKind::Command, ""));
                Vec::new()
            }
            Action::Filter => {
                self.input = Some(InputLine::new(InputKind::Filter, self.filter()));
                Vec::new()
            }
            Action::Back => self.back(),
            Action::NextPane | Action::PrevPane => {
                let n = Pane::ALL.len();
                let step = if action == Action::NextPane { 1 } else { n - 1 };
                self.go(Pane::ALL[(self.pane.index() + step) % n], None)
            }
            Action::Go(pane) => self.go(pane, None),
            Action::CycleScope if !self.pane.scoped() => {
                // Said, not silently stored: a scope set here would filter the next pane.
                let scoped: Vec<&str> = Pane::ALL
                    .iter()
                    .filter(|p| p.scoped())
                    .map(|p| p.title())
                    .collect();
                self.flash(
                    Level::Info,
                    format!(
                        "{} shows both clusters; c applies in {}",
                        self.pane.title(),
                        scoped.join(", ")
                    ),
                );
                Vec::new()
            }
            Action::CycleScope => {
                self.scope = self.scope.next();
                self.flash(Level::Info, format!("showing {}", self.scope.label()));
                Vec::new()
            }
            Action::Open => self.open(views),
            Action::SortNext if self.pane == Pane::Fleet => {
                self.fleet_sort = self.fleet_sort.next();
                self.flash(Level::Info, format!("sorted {}", self.fleet_sort.label()));
                Vec::new()
            }
            Action::Edit => {
                let (Some(env), Some(object)) = (self.env.clone(), views.objects.selected(self))
                else {
                    self.flash(Level::Info, "no object selected");
                    return Vec::new();
                };
                if let Some(why) = Op::Edit.unfit(&object.kind) {
                    self.flash(Level::Info, why);
                    return Vec::new();
                }
                // The text of an edit of this very object that failed comes back, not the
                // object anew.
                let kept = self
                    .edit
                    .clone()
                    .filter(|e| e.key == object.key() && e.object.env == env);
                vec![Effect::EditObject { env, object, kept }]
            }
            Action::Subject => self.open_subject(views),
            Action::Copy if self.pane == Pane::Alerts && !self.show_silences => {
                let link = views
                    .alerts
                    .alert(self.lists.alerts.selected)
                    .map(|a| a.alert.generator_url.clone());
                self.copy_link(link)
            }
            Action::Copy => {
                let name = match self.pane {
                    Pane::Objects => views.objects.selected(self).map(|o| match o.namespace {
                        Some(ns) => format!("{ns}/{}", o.name),
                        None => o.name,
                    }),
                    _ => self
                        .selected_pod(views)
                        .map(|t| format!("{}/{}", t.namespace, t.name)),
                };
                match name {
                    Some(name) => {
                        self.flash(Level::Info, format!("copied {name}"));
                        vec![Effect::Copy(name)]
                    }
                    None => {
                        self.flash(Level::Info, "nothing selected to copy");
                        Vec::new()
                    }
                }
            }
            Action::Involved => match views.objects.involved(self) {
                Some(query) => self.open_objects(query),
                None => {
                    self.flash(
                        Level::Info,
                        "o goes from an event to its object; d describes this one, and o \
                         there lists what it owns",
                    );
                    Vec::new()
                }
            },
            Action::SortNext if self.pane == Pane::Objects => {
                self.objects.sort_next();
                Vec::new()
            }
            Action::SortReverse if self.pane == Pane::Objects => {
                self.objects.sort_reverse();
                Vec::new()
            }
            Action::SortNext => {
                self.pod_sort = self.pod_sort.next_column();
                Vec::new()
            }
            Action::SortReverse => {
                self.pod_sort.descending = !self.pod_sort.descending;
                Vec::new()
            }
            Action::Logs | Action::Describe if self.pane == Pane::Backups => {
                self.read_backup(action, views)
            }
            Action::Logs => self.open_pod(views, PodTab::Logs),
            Action::Previous => self.open_pod_logs(views, PodTab::Logs, true),
            Action::Shell => {
                let target = self.selected_pod(views);
                match target {
                    Some(target) => vec![Effect::Shell {
                        target,
                        container: None,
                    }],
                    None => {
                        self.flash(Level::Info, "no pod selected");
                        Vec::new()
                    }
                }
            }
            Action::PortForward => {
                let target = self.selected_pod(views);
                self.ask_ports(target)
            }
            Action::Yaml if self.pane == Pane::Objects => self.open_object_yaml(views),
            Action::Describe => self.open_description(views),
            Action::Owner => self.open_owner(views),
            Action::Yaml => self.open_pod(views, PodTab::Yaml),
            Action::Mark if self.pane == Pane::Objects => self.toggle_object_mark(views),
            Action::Mark if self.pane == Pane::Alerts => self.toggle_alert_mark(views),
            Action::Mark => self.toggle_mark(views),
            Action::Silence => self.open_silence_form(views),
            Action::Silences => {
                self.show_silences = !self.show_silences;
                Vec::new()
            }
            Action::Expire => self.act_unasked(Action::Expire, views),
            Action::GroupBy => {
                self.grouping = self.grouping.next();
                Vec::new()
            }
            action @ (Action::ScaleWorkers
            | Action::BackupNow
            | Action::DrainNode
            | Action::RestoreBackup) => self.open_workflow(action, views),
            Action::ToggleAudit => {
                self.show_audit = !self.show_audit;
                Vec::new()
            }
            Action::Events => {
                self.modals.push(Modal::Details(Box::new(DetailsModal::new(
                    self.pane,
                    crate::ui::panes::cluster::EVENTS_KEY.to_owned(),
                ))));
                Vec::new()
            }
            Action::CancelRun | Action::ResumeRun => self.act_unasked(action, views),
            _ => Vec::new(),
        }
    }

    /// Actions aimed at the top overlay; `None` when there is none.
    fn apply_to_modal(&mut self, action: Action, views: &Views) -> Option<Vec<Effect>> {
        let modal = self.modals.last_mut()?;
        let effects = match (modal, action) {
            (_, Action::Close) => return Some(self.close_modal()),
            (Modal::Help(h), a) => {
                h.scroll.apply(a);
                Vec::new()
            }
            (Modal::Alert(m), Action::Silence) => {
                let fingerprint = m.fingerprint.clone();
                return Some(self.silence_form_for(&fingerprint, views));
            }
            (Modal::Alert(_), Action::Subject) => return Some(self.open_subject(views)),
            (Modal::Alert(m), Action::Copy) => {
                let link = views
                    .alerts
                    .by_fingerprint(&m.fingerprint)
                    .map(|a| a.alert.generator_url.clone());
                return Some(self.copy_link(link));
            }
            (Modal::Alert(m), a) => {
                m.scroll.apply(a);
                Vec::new()
            }
            (Modal::Details(m), Action::Wrap) => {
                m.wrap = !m.wrap;
                Vec::new()
            }
            (Modal::Details(m), Action::Filter) => {
                let text = m.search.text().unwrap_or_default().to_owned();
                self.input = Some(InputLine::new(InputKind::Search, &text));
                Vec::new()
            }
            (Modal::Details(m), Action::NextMatch | Action::PrevMatch) => {
                if !m.seek(action == Action::NextMatch) {
                    self.flash(Level::Info, "/ searches first");
                }
                Vec::new()
            }
            (Modal::Details(m), Action::Copy) => {
                let key = m.key.clone();
                return Some(self.copy_yaml(&key));
            }
            (Modal::Details(m), Action::Owner | Action::Involved)
                if m.key.starts_with("describe:") =>
            {
                return Some(self.follow_description(action));
            }
            (Modal::Details(m), Action::Open) if m.key.starts_with("edit:") => {
                let key = m.key.trim_start_matches("edit:").to_owned();
                let ready = self.edit.as_ref().filter(|e| {
                    e.key == key
                        && e.diff
                            .as_ref()
                            .is_some_and(|d| d.as_ref().is_ok_and(|d| !d.is_empty()))
                });
                match ready.cloned() {
                    Some(edit) => {
                        self.modals.pop();
                        self.flash(Level::Info, format!("applying the edit of {key}…"));
                        vec![Effect::ApplyEdit(edit)]
                    }
                    None => {
                        self.flash(Level::Info, "nothing to apply; Esc closes");
                        Vec::new()
                    }
                }
            }
            (Modal::Details(m), Action::Open) => {
                // Only a node has a next level (its pods); elsewhere Enter keeps the view.
                let key = m.key.clone();
                if crate::ui::panes::cluster::node_of_key(&key).is_none() {
                    self.flash(Level::Info, "Enter: nothing further here; Esc closes");
                    return Some(Vec::new());
                }
                self.modals.pop();
                return Some(self.descend(&key));
            }
            (Modal::Details(m), a) => {
                m.scroll.apply(a);
                Vec::new()
            }
            (Modal::Pod(m), Action::PortForward) => {
                let target = Some(m.target.clone());
                return Some(self.ask_ports(target));
            }
            (Modal::Pod(m), Action::Shell) => vec![Effect::Shell {
                target: m.target.clone(),
                container: m.logs.options.container.clone(),
            }],
            (Modal::Pod(m), Action::Filter) => {
                let text = m.logs.search.text().unwrap_or_default().to_owned();
                self.input = Some(InputLine::new(InputKind::Search, &text));
                // The search is of the log: to its tab, its tail started if it was not.
                return self.apply_to_modal(Action::Logs, views);
            }
            (Modal::Pod(m), Action::NextMatch | Action::PrevMatch) => {
                if !m.logs.find(action == Action::NextMatch) {
                    self.flash(Level::Info, "no line of the log holds it (/ searches)");
                }
                Vec::new()
            }
            (Modal::Pod(m), Action::Container) if m.container_count() < 2 => {
                let why = match m.container_count() {
                    0 => "the pod is still being read",
                    _ => "this pod has one container",
                };
                self.flash(Level::Info, why);
                Vec::new()
            }
            (Modal::Pod(m), Action::Save) if m.tab != PodTab::Logs || m.logs.is_empty() => {
                self.flash(Level::Info, "Ctrl-S saves the log's lines: l shows them");
                Vec::new()
            }
            (Modal::Pod(m), Action::Save) => {
                let path = log_file_name(&m.target, &m.logs.options, Local::now());
                let text = m.logs.text();
                let what = format!("{} log lines", m.logs.len());
                vec![Effect::WriteFile {
                    path,
                    text,
                    what,
                    fresh: true,
                }]
            }
            (Modal::Pod(m), a) => {
                let tab = match a {
                    Action::NextTab => Some(m.tab.next()),
                    Action::PrevTab => Some(m.tab.prev()),
                    Action::Logs => Some(PodTab::Logs),
                    Action::Yaml => Some(PodTab::Yaml),
                    Action::Previous | Action::Container | Action::Timestamps | Action::Since => {
                        // Another log: the old tail stops, the new one starts empty.
                        let mut options = m.logs.options.clone();
                        match a {
                            Action::Previous => options.previous = !options.previous,
                            Action::Container => options.container = m.next_container(),
                            Action::Timestamps => options.timestamps = !options.timestamps,
                            _ => options.since_seconds = next_since(options.since_seconds),
                        }
                        m.logs = m.logs.restarted(options);
                        m.log_task = None;
                        Some(PodTab::Logs)
                    }
                    Action::Follow => {
                        m.logs.toggle_follow();
                        None
                    }
                    Action::Wrap => {
                        m.logs.wrap = !m.logs.wrap;
                        None
                    }
                    other => {
                        m.scroll(other);
                        None
                    }
                };
                match tab {
                    Some(t) => {
                        let target = m.target.clone();
                        m.tab = t;
                        if t == PodTab::Logs && m.log_task.is_none() {
                            let options = m.logs.options.clone();
                            let id = self.next_id();
                            if let Some(Modal::Pod(m)) = self.modals.last_mut() {
                                m.log_task = Some(id);
                            }
                            vec![Effect::TailLogs {
                                id,
                                target,
                                options,
                            }]
                        } else {
                            Vec::new()
                        }
                    }
                    None => Vec::new(),
                }
            }
            (Modal::Confirm(_), Action::Confirm) => {
                let Some(Modal::Confirm(c)) = self.modals.pop() else {
                    return Some(Vec::new());
                };
                return Some(self.execute(c.pending));
            }
            (Modal::Confirm(_), _)
            | (Modal::Silence(_), _)
            | (Modal::Run(_), _)
            | (Modal::Editor(_), _) => Vec::new(),
        };
        Some(effects)
    }

    fn close_modal(&mut self) -> Vec<Effect> {
        match self.modals.pop() {
            Some(Modal::Pod(m)) if m.log_task.is_some() => vec![Effect::StopLogs],
            // A backup's log can be long: it is not kept once its view is closed.
            Some(Modal::Details(d))
                if self.backup_read.as_ref().is_some_and(|f| f.key == d.key) =>
            {
                self.backup_read = None;
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    // -----------------------------------------------------------------------------------
    // Navigation
    // -----------------------------------------------------------------------------------

    /// Esc: clears the pane's filter first, then goes back where the user came from.
    fn back(&mut self) -> Vec<Effect> {
        if self.notice.take().is_some() {
            return Vec::new();
        }
        if !self.filter().is_empty() {
            let pane = self.pane;
            self.set_filter(pane, "");
            return Vec::new();
        }
        if self.pane == Pane::Alerts && self.show_silences {
            self.show_silences = false;
            return Vec::new();
        }
        match self.history.pop() {
            Some(loc) => {
                let effects = self.enter(loc.env.as_deref());
                self.pane = loc.pane;
                effects
            }
            None if self.pane != Pane::Fleet => {
                self.pane = Pane::Fleet;
                Vec::new()
            }
            None => Vec::new(),
        }
    }

    /// Switches to `pane`, in `env` or the current one. A pane that shows one
    /// environment, asked for from the fleet overview, opens the selected environment.
    pub fn go(&mut self, pane: Pane, env: Option<String>) -> Vec<Effect> {
        if pane == Pane::Runs {
            self.notice = None;
        }
        let env = env.or_else(|| self.env.clone()).or_else(|| {
            pane.needs_env()
                .then(|| self.fleet_names.get(self.lists.fleet.selected).cloned())
                .flatten()
        });
        let here = Location {
            pane: self.pane,
            env: self.env.clone(),
        };
        let there = Location {
            pane,
            env: env.clone(),
        };
        if here == there {
            return Vec::new();
        }
        self.history.push(here);
        // Long sessions hop between panes all day; the way back needs no more than this.
        if self.history.len() > 64 {
            self.history.remove(0);
        }
        let effects = self.enter(env.as_deref());
        self.pane = pane;
        effects
    }

    /// Makes `env` the current environment (or none: the fleet).
    fn enter(&mut self, env: Option<&str>) -> Vec<Effect> {
        if self.env.as_deref() == env {
            return Vec::new();
        }
        self.env = env.map(String::from);
        self.lists.pods = ListState::default();
        self.lists.cluster = ListState::default();
        self.lists.backups = ListState::default();
        self.lists.slo = ListState::default();
        self.lists.objects = ListState::default();
        // Marks name pods and alerts of the environment left; nothing may act on them
        // from here.
        self.marks.clear();
        self.alert_marks.clear();
        let query = self.objects.query.take();
        self.objects = ObjectsData::default();
        // An edit's text belongs to the object it was made on, in the environment left.
        self.edit = None;
        match env {
            Some(e) => {
                if let Some(i) = self.fleet_names.iter().position(|n| n == e) {
                    self.lists.fleet.selected = i;
                    self.fleet_chosen = true;
                }
                let mut effects = vec![
                    Effect::OpenEnv(e.to_string()),
                    Effect::CheckPermissions(e.to_string()),
                ];
                // The kind listed follows into the new environment, as k9s's view does.
                effects.extend(query.map(|q| self.watch_objects(e.to_string(), q)));
                effects
            }
            None => vec![Effect::StopObjects],
        }
    }

    /// Enter: the selected row's next level.
    fn open(&mut self, views: &Views) -> Vec<Effect> {
        match self.pane {
            Pane::Fleet => match self.fleet_names.get(self.lists.fleet.selected).cloned() {
                Some(env) => self.go(Pane::Cluster, Some(env)),
                None => Vec::new(),
            },
            Pane::Pods => self.open_pod(views, PodTab::Overview),
            Pane::Alerts if !self.show_silences => {
                match views.alerts.alert(self.lists.alerts.selected) {
                    Some(a) => {
                        let fingerprint = a.alert.fingerprint.clone();
                        self.modals
                            .push(Modal::Alert(Box::new(AlertModal::new(fingerprint))));
                    }
                    None => self.flash(Level::Info, "no alert selected"),
                }
                Vec::new()
            }
            _ => {
                match views.pane(self.pane).detail_key(self) {
                    Some(key) => self
                        .modals
                        .push(Modal::Details(Box::new(DetailsModal::new(self.pane, key)))),
                    None => self.flash(Level::Info, "nothing selected"),
                }
                Vec::new()
            }
        }
    }

    /// Enter in a row's details: its next level, where it has one (a node's pods).
    fn descend(&mut self, key: &str) -> Vec<Effect> {
        let Some((role, node)) = crate::ui::panes::cluster::node_of_key(key) else {
            return Vec::new();
        };
        let effects = self.go(Pane::Pods, None);
        self.scope = Scope::of(role);
        self.set_filter(Pane::Pods, node);
        effects
    }

    fn open_pod(&mut self, views: &Views, tab: PodTab) -> Vec<Effect> {
        self.open_pod_logs(views, tab, false)
    }

    /// The pod overlay on `tab`; on its logs, the previous run's when `previous`.
    fn open_pod_logs(&mut self, views: &Views, tab: PodTab, previous: bool) -> Vec<Effect> {
        if let Some(Modal::Pod(_)) = self.modals.last() {
            let switch = if tab == PodTab::Yaml {
                Action::Yaml
            } else {
                Action::Logs
            };
            return self.apply(switch, views);
        }
        if self.env.is_none() {
            return Vec::new();
        }
        let Some(target) = self.selected_pod(views) else {
            self.flash(Level::Info, "no pod selected");
            return Vec::new();
        };
        let mut modal = PodModal::new(target.clone(), tab);
        modal.logs.options.previous = previous;
        let mut effects = vec![Effect::FetchPod(target.clone())];
        if tab == PodTab::Logs {
            let id = self.next_id();
            modal.log_task = Some(id);
            effects.push(Effect::TailLogs {
                id,
                target,
                options: modal.logs.options.clone(),
            });
        }
        self.modals.push(Modal::Pod(Box::new(modal)));
        effects
    }

    // -----------------------------------------------------------------------------------
    // Silences
    // -----------------------------------------------------------------------------------

    fn open_silence_form(&mut self, views: &Views) -> Vec<Effect> {
        if self.show_silences {
            return Vec::new();
        }
        // Marks of alerts that have stopped firing have nothing left to silence.
        self.alert_marks
            .retain(|f| views.alerts.by_fingerprint(f).is_some());
        if !self.alert_marks.is_empty() {
            return self.silence_marked(views);
        }
        match views.alerts.alert(self.lists.alerts.selected) {
            Some(a) => {
                let fingerprint = a.alert.fingerprint.clone();
                self.silence_form_for(&fingerprint, views)
            }
            None => {
                self.flash(Level::Info, "no alert selected");
                Vec::new()
            }
        }
    }

    /// `s` with alerts marked: one form for all of them that still fire, leaving out
    /// those of a read-only environment (and saying so).
    fn silence_marked(&mut self, views: &Views) -> Vec<Effect> {
        let spec = keymap::by_id("alerts.silence");
        let mut alerts = Vec::new();
        let mut refused = 0;
        for fingerprint in &self.alert_marks {
            let Some(a) = views.alerts.by_fingerprint(fingerprint) else {
                continue;
            };
            let target = a.sources.first().map(|(e, r)| (e.as_str(), *r));
            match spec.map(|spec| self.availability(spec, target)) {
                Some(Availability::Available) | None => alerts.push(a),
                Some(_) => refused += 1,
            }
        }
        if alerts.is_empty() {
            self.flash(
                Level::Info,
                "none of the marked alerts can be silenced here (no longer firing, or read-only)",
            );
            return Vec::new();
        }
        if refused > 0 {
            self.flash(
                Level::Info,
                format!("{refused} marked alert(s) left out: read-only or not allowed"),
            );
        }
        let form = SilenceForm::new(&alerts, &self.author);
        self.modals.push(Modal::Silence(Box::new(form)));
        Vec::new()
    }

    /// Space in the alerts pane: marks the selected alert (silence acts on the marked).
    fn toggle_alert_mark(&mut self, views: &Views) -> Vec<Effect> {
        let Some(a) = views.alerts.alert(self.lists.alerts.selected) else {
            self.flash(Level::Info, "no alert selected");
            return Vec::new();
        };
        let fingerprint = a.alert.fingerprint.clone();
        if !self.alert_marks.remove(&fingerprint) {
            self.alert_marks.insert(fingerprint);
        }
        self.list_mut(Pane::Alerts).apply(super::nav::Move::Down);
        Vec::new()
    }

    fn silence_form_for(&mut self, fingerprint: &str, views: &Views) -> Vec<Effect> {
        match views.alerts.by_fingerprint(fingerprint) {
            Some(a) => {
                let form = SilenceForm::new(&[a], &self.author);
                self.modals.push(Modal::Silence(Box::new(form)));
            }
            None => self.flash(Level::Info, "the alert is no longer firing"),
        }
        Vec::new()
    }

    /// The keys every form handles alike: cancel, move between fields, type. `None` for
    /// Submit, which each form handles itself.
    fn on_form_common(&mut self, ev: KeyEvent, action: Option<Action>) -> Option<Vec<Effect>> {
        if action == Some(Action::Close) {
            self.modals.pop();
            return Some(Vec::new());
        }
        let form: &mut dyn Form = match self.modals.last_mut()? {
            Modal::Silence(f) => f.as_mut(),
            Modal::Run(f) => f.as_mut(),
            _ => return None,
        };
        match action {
            Some(Action::Submit) => return None,
            Some(Action::NextField) => form.focus_next(),
            Some(Action::PrevField) => form.focus_prev(),
            _ => form.input(ev),
        }
        Some(Vec::new())
    }

    fn on_form_key(&mut self, ev: KeyEvent, key: Key) -> Vec<Effect> {
        let action = keymap::resolve(&[Context::SilenceForm], key).map(|s| s.action);
        if let Some(effects) = self.on_form_common(ev, action) {
            return effects;
        }
        // The form opens only through the gate (`alerts.silence` is off in read-only mode),
        // so what it submits has passed it.
        let id = self.next_id();
        let Some(Modal::Silence(form)) = self.modals.last_mut() else {
            return Vec::new();
        };
        match form.submit() {
            Submit::Invalid => Vec::new(),
            Submit::Ready(silences) => {
                form.pending = Some(id);
                vec![Effect::CreateSilence { id, silences }]
            }
        }
    }

    fn confirm_expire(&mut self, views: &Views) -> Option<Confirm> {
        let Some(s) = views.alerts.silence(self.lists.silences.selected) else {
            self.flash(Level::Info, "no silence selected");
            return None;
        };
        if s.silence.status.state == ck8s_model::alert::SilenceState::Expired {
            self.flash(Level::Info, "that silence has already expired");
            return None;
        }
        let pending = Pending::ExpireSilence {
            env: s.env.clone(),
            role: s.role,
            id: s.silence.id.clone(),
        };
        let matchers: Vec<String> = s.silence.matchers.iter().map(|m| m.to_string()).collect();
        Some(Confirm::new(
            "Expire silence?",
            vec![
                format!(
                    "Silence {} on {}-{}",
                    super::format::short_id(&s.silence.id),
                    s.env,
                    s.role
                ),
                format!("matching {}", matchers.join(", ")),
                format!("by {}: {}", s.silence.created_by, s.silence.comment),
                String::new(),
                "The alerts it mutes will notify again.".into(),
            ],
            pending,
        ))
    }

    fn execute(&mut self, pending: Pending) -> Vec<Effect> {
        match pending {
            Pending::ExpireSilence { env, role, id } => {
                vec![Effect::ExpireSilence { env, role, id }]
            }
            Pending::CancelRun(id) => vec![Effect::CancelRun(id)],
            Pending::Quit => {
                self.quit = Some(crate::exit::OK);
                Vec::new()
            }
            Pending::ResumeRun(id) => vec![Effect::ResumeRun(id)],
            Pending::Act { op, objects } => vec![Effect::Act { op, objects }],
        }
    }

    // -----------------------------------------------------------------------------------
    // Small actions: marks, delete, cordon
    // -----------------------------------------------------------------------------------

    /// Space: marks the selected pod, or unmarks it, and moves on to the next row so that
    /// several can be marked in a row.
    fn toggle_mark(&mut self, views: &Views) -> Vec<Effect> {
        let target = self.selected_pod(views);
        let Some(target) = target else {
            self.flash(Level::Info, "no pod selected");
            return Vec::new();
        };
        if !self.marks.remove(&target) {
            self.marks.insert(target);
        }
        self.list_mut(Pane::Pods).apply(super::nav::Move::Down);
        Vec::new()
    }

    /// Space in the objects pane: as for pods, of the kind listed.
    fn toggle_object_mark(&mut self, views: &Views) -> Vec<Effect> {
        let Some(object) = views.objects.selected(self) else {
            self.flash(Level::Info, "no object selected");
            return Vec::new();
        };
        let key = object.key();
        if self.objects.marks.remove(&key).is_none() {
            self.objects.marks.insert(key, object);
        }
        self.list_mut(Pane::Objects).apply(super::nav::Move::Down);
        Vec::new()
    }

    /// The pod selected in the pods pane of the open environment.
    fn selected_pod(&self, views: &Views) -> Option<PodTarget> {
        views
            .pods
            .target(self.lists.pods.selected, self.env.as_deref()?)
    }

    /// How many pods of the open environment are marked.
    pub fn marked_here(&self) -> usize {
        let env = self.env.as_deref();
        self.marks
            .iter()
            .filter(|t| Some(t.env.as_str()) == env)
            .count()
    }

    /// The pods delete acts on: the marked ones of the open environment, else the
    /// selected one.
    fn pods_to_act_on(&self, views: &Views) -> Vec<PodTarget> {
        let Some(env) = self.env.as_deref() else {
            return Vec::new();
        };
        let mut marked: Vec<PodTarget> = self
            .marks
            .iter()
            .filter(|t| t.env == env)
            .cloned()
            .collect();
        marked
            .sort_by(|a, b| (a.role, &a.namespace, &a.name).cmp(&(b.role, &b.namespace, &b.name)));
        if marked.is_empty() {
            marked.extend(self.selected_pod(views));
        }
        marked
    }

    fn confirm_delete(&mut self, views: &Views) -> Option<Confirm> {
        let pods = self.pods_to_act_on(views);
        if pods.is_empty() {
            self.flash(Level::Info, "no pod selected");
            return None;
        }
        const SHOWN: usize = 8;
        let mut body: Vec<String> = pods
            .iter()
            .take(SHOWN)
            .map(|t| format!("  {} {}/{}", t.cluster(), t.namespace, t.name))
            .collect();
        if pods.len() > SHOWN {
            body.push(format!("  … and {} more", pods.len() - SHOWN));
        }
        body.push(String::new());
        body.push(
            "A pod with an owner (ReplicaSet, StatefulSet, Job) is replaced; one without is \
             gone for good."
                .into(),
        );
        let objects = pods
            .into_iter()
            .map(|t| ObjectRef {
                env: t.env,
                role: t.role,
                kind: "pods".into(),
                namespace: Some(t.namespace),
                name: t.name,
            })
            .collect::<Vec<_>>();
        let title = match objects.len() {
            1 => "Delete this pod?".to_string(),
            n => format!("Delete these {n} pods?"),
        };
        Some(Confirm::new(
            &title,
            body,
            Pending::Act {
                op: Op::Delete,
                objects,
            },
        ))
    }

    fn confirm_cordon(&mut self, action: Action, views: &Views) -> Option<Confirm> {
        let (env, node) = match (&self.env, views.cluster.node(self.lists.cluster.selected)) {
            (Some(env), Some(node)) => (env.clone(), node),
            _ => {
                self.flash(Level::Info, "no node selected");
                return None;
            }
        };
        let (role, name) = (node.0, node.1.to_owned());
        let (op, title, what) = if action == Action::Cordon {
            (
                Op::Cordon,
                "Cordon this node?",
                "No new pods are scheduled on it; its pods keep running (d drains them, U \
                 uncordons).",
            )
        } else {
            (
                Op::Uncordon,
                "Uncordon this node?",
                "New pods may be scheduled on it again.",
            )
        };
        Some(Confirm::new(
            title,
            vec![
                format!("  {env}-{role} node {name}"),
                String::new(),
                what.into(),
            ],
            Pending::Act {
                op,
                objects: vec![ObjectRef {
                    env,
                    role,
                    kind: "nodes".into(),
                    namespace: None,
                    name,
                }],
            },
        ))
    }

    /// What the editor left: nothing to do, a text to fix (kept), or a dry run to ask
    /// for, whose diff shows in the details.
    pub fn after_editor(&mut self, edit: Edit) -> Vec<Effect> {
        // Another object's kept text stays kept.
        let forget = |app: &mut App| {
            if app.edit.as_ref().is_some_and(|e| e.key == edit.key) {
                app.edit = None;
            }
        };
        if edit.text.trim().is_empty() {
            forget(self);
            self.flash(Level::Info, "the text was emptied: the edit is cancelled");
            return Vec::new();
        }
        if edit.text == edit.original {
            forget(self);
            self.flash(Level::Info, format!("{}: no change", edit.key));
            return Vec::new();
        }
        let key = edit.key.clone();
        if let Err(e) = parse_edit(&edit.text) {
            self.flash(
                Level::Error,
                format!("{key}: {e}; your text is kept: {}", edit.reopened_by()),
            );
            self.edit = Some(Edit {
                diff: Some(Err(e)),
                ..edit
            });
            return Vec::new();
        }
        let edit = Edit {
            diff: None,
            id: self.next_id(),
            ..edit
        };
        self.edit = Some(edit.clone());
        self.modals.push(Modal::Details(Box::new(DetailsModal::new(
            Pane::Objects,
            diff_key(&key),
        ))));
        vec![Effect::DryRunEdit(edit)]
    }

    /// `Y` in an object's YAML: the YAML shown, to the terminal's clipboard. Nothing else
    /// in details is copied (a revealed value least of all).
    fn copy_yaml(&mut self, key: &str) -> Vec<Effect> {
        let shown = self
            .objects
            .yaml
            .as_ref()
            .filter(|(k, _)| k == key)
            .and_then(|(_, lines)| lines.as_ref().ok())
            // The YAML, not the word shown while it comes.
            .filter(|lines| lines.as_slice() != [YAML_LOADING]);
        match shown {
            Some(lines) => {
                let text = lines.join("\n") + "\n";
                let said = format!("copied the YAML of {key} ({} lines)", lines.len());
                self.flash(Level::Info, said);
                vec![Effect::Copy(text)]
            }
            None => {
                self.flash(
                    Level::Info,
                    "Y copies an object's YAML (Enter or y shows it)",
                );
                Vec::new()
            }
        }
    }

    /// `:reveal KEY`: one value of the selected Secret, through the engine's gate.
    fn reveal(&mut self, key: String, views: &Views) -> Vec<Effect> {
        let selected = views.objects.selected(self).filter(|o| o.kind.is_secret());
        let (Some(env), Some(secret), Pane::Objects) = (self.env.clone(), selected, self.pane)
        else {
            self.flash(
                Level::Info,
                ":reveal KEY shows a value of the selected Secret (:secrets)",
            );
            return Vec::new();
        };
        if !self.admit(&keymap::REVEAL_BY_COMMAND, Some((&env, secret.role))) {
            return Vec::new();
        }
        let details_key = format!("reveal:{}/{key}", secret.key());
        vec![Effect::Reveal {
            details_key,
            secret: secret.object_ref(&env),
            key,
        }]
    }

    /// `:create`: an editor on a new object of the kind listed, in the namespace listed
    /// (else `default`), in the one cluster shown.
    fn open_create(&mut self) -> Vec<Effect> {
        let role = match self.scope {
            Scope::Sc => ClusterRole::Sc,
            _ => ClusterRole::Wc,
        };
        // The kind as the cluster it is made in serves it.
        let kind = self
            .objects
            .answers
            .get(&role)
            .and_then(|a| a.as_ref().ok());
        let kind = kind.map(|(k, _)| k.clone());
        let (Some(env), Some(kind), Pane::Objects) = (self.env.clone(), kind, self.pane) else {
            self.flash(
                Level::Info,
                ":create makes an object of the kind the objects pane lists (:deploy, :cm…)",
            );
            return Vec::new();
        };
        if self.scope == Scope::Both {
            self.flash(
                Level::Info,
                "in which cluster? c shows the sc or the wc alone",
            );
            return Vec::new();
        }
        if !self.admit(&keymap::CREATE_BY_COMMAND, Some((&env, role))) {
            return Vec::new();
        }
        if let Some(why) = Op::Create.unfit(&kind) {
            self.flash(Level::Info, why);
            return Vec::new();
        }
        let namespace = kind.namespaced.then(|| {
            self.objects
                .query
                .as_ref()
                .and_then(|q| q.namespace.clone())
                .unwrap_or_else(|| "default".into())
        });
        // A new object's text that failed comes back, as an edit's does.
        let kept = self.edit.clone().filter(|e| {
            e.creating
                && e.object.env == env
                && e.object.role == role
                && e.object.kind == kind.qualified()
        });
        if let Some(kept) = kept {
            return vec![Effect::OpenEditor(Edit { diff: None, ..kept })];
        }
        let text = crate::objects::new_object_text(&kind, namespace.as_deref());
        let edit = Edit {
            id: 0,
            key: format!("a new {} in {env}-{role}", kind.singular),
            object: ObjectRef {
                env,
                role,
                kind: kind.qualified(),
                namespace,
                name: String::new(),
            },
            original: text.clone(),
            text,
            diff: None,
            creating: true,
        };
        vec![Effect::OpenEditor(edit)]
    }

    /// The selected object described, in its details.
    /// `Y` on an alert: its link (the generator URL: the rule's expression in
    /// Prometheus's graph), to paste into an incident channel.
    fn copy_link(&mut self, link: Option<String>) -> Vec<Effect> {
        match link {
            None => {
                self.flash(Level::Info, "no alert selected");
                Vec::new()
            }
            Some(link) if link.is_empty() => {
                self.flash(
                    Level::Info,
                    "the alert carries no link (generatorURL); nothing copied",
                );
                Vec::new()
            }
            Some(link) => {
                self.flash(Level::Info, format!("copied {link}"));
                vec![Effect::Copy(link)]
            }
        }
    }

    /// `F` on a pod: the line for the ports to forward, with those forwarded last.
    fn ask_ports(&mut self, target: Option<PodTarget>) -> Vec<Effect> {
        let Some(target) = target else {
            self.flash(Level::Info, "no pod selected");
            return Vec::new();
        };
        self.forward.0 = Some(target);
        let last = self.forward.1.clone();
        self.input = Some(InputLine::new(InputKind::PortForward, &last));
        Vec::new()
    }

    /// `d` or `l` on a backup: what `velero backup describe --details` or `velero backup
    /// logs` shows, read through Velero's DownloadRequest.
    fn read_backup(&mut self, action: Action, views: &Views) -> Vec<Effect> {
        let (Some(env), Some((role, backup))) = (
            self.env.clone(),
            views.backups.backups.get(self.lists.backups.selected),
        ) else {
            self.flash(Level::Info, "no backup selected");
            return Vec::new();
        };
        let read = if action == Action::Logs {
            BackupRead::Log
        } else {
            BackupRead::Describe
        };
        let key = read.key(*role, &backup.name);
        self.backup_read = Some(crate::ui::panes::backups::Fetched {
            key: key.clone(),
            env: env.clone(),
            result: None,
        });
        let mut modal = DetailsModal::new(Pane::Backups, key.clone());
        modal.wrap = read == BackupRead::Describe;
        self.modals.push(Modal::Details(Box::new(modal)));
        vec![Effect::ReadBackup {
            key,
            env,
            role: *role,
            name: backup.name.to_string(),
            read,
        }]
    }

    fn open_description(&mut self, views: &Views) -> Vec<Effect> {
        let (Some(env), Some(object)) = (self.env.clone(), views.objects.selected(self)) else {
            self.flash(Level::Info, "no object selected");
            return Vec::new();
        };
        let key = describe_key(&object.key());
        self.objects.described = Some(Described {
            key: key.clone(),
            env: env.clone(),
            role: object.role,
            result: None,
        });
        self.modals.push(Modal::Details(Box::new(DetailsModal::new(
            Pane::Objects,
            key.clone(),
        ))));
        vec![Effect::Describe { key, env, object }]
    }

    /// `J`: what controls the selected pod or object, in the objects pane.
    fn open_owner(&mut self, views: &Views) -> Vec<Effect> {
        let owner = match self.pane {
            Pane::Pods => views.pods.owner(self.lists.pods.selected),
            Pane::Objects => views.objects.owner(self),
            _ => None,
        };
        match (self.env.clone(), owner) {
            (Some(env), Some((role, owner))) => self.show_related(env, role, &[owner]),
            _ => {
                self.flash(Level::Info, "J: nothing controls it");
                Vec::new()
            }
        }
    }

    /// `J` or `o` in a description: its owner, or what it owns.
    fn follow_description(&mut self, action: Action) -> Vec<Effect> {
        let Some(Described {
            env, role, result, ..
        }) = self.objects.described.clone()
        else {
            return Vec::new();
        };
        let d = match result {
            Some(Ok(d)) => d,
            Some(Err(_)) => {
                self.flash(Level::Info, "the object could not be described; Esc closes");
                return Vec::new();
            }
            None => {
                self.flash(Level::Info, "the description is still being read");
                return Vec::new();
            }
        };
        let related = match action {
            Action::Owner => d.owner.into_iter().collect(),
            _ => d.owned,
        };
        if related.is_empty() {
            let what = match action {
                Action::Owner => "J: nothing controls it",
                _ => "o: it owns nothing",
            };
            self.flash(Level::Info, what);
            return Vec::new();
        }
        self.modals.pop();
        self.show_related(env, role, &related)
    }

    /// Objects one names another by (an owner, what it owns, an alert's subject): pods
    /// in the pods pane, anything else in the objects pane, filtered to exactly them.
    /// Those of the first kind are shown when they are of several.
    fn show_related(
        &mut self,
        env: String,
        role: ClusterRole,
        related: &[crate::describe::Related],
    ) -> Vec<Effect> {
        let Some(first) = related.first() else {
            return Vec::new();
        };
        let names: Vec<String> = related
            .iter()
            .filter(|r| r.kind == first.kind && r.group == first.group)
            // A dash needs no escape outside a class; unescaped, the filter reads plainly.
            .map(|r| regex::escape(&r.name).replace("\\-", "-"))
            .collect();
        let exactly = format!("~^({})$", names.join("|"));
        let scope = Scope::of(role);
        if first.kind == "Pod" && first.group.is_empty() {
            self.scope = scope;
            let effects = self.go(Pane::Pods, Some(env));
            self.set_filter(Pane::Pods, &exactly);
            return effects;
        }
        self.open_objects(ObjectsQuery {
            kind: first.kind_name(),
            namespace: first.namespace.clone(),
            filter: Some(exactly),
            env: Some(env),
            scope: Some(scope),
        })
    }

    /// The selected object's YAML in its details.
    fn open_object_yaml(&mut self, views: &Views) -> Vec<Effect> {
        let (Some(env), Some(object)) = (self.env.clone(), views.objects.selected(self)) else {
            self.flash(Level::Info, "no object selected");
            return Vec::new();
        };
        let key = object.key();
        self.objects.yaml = Some((key.clone(), Ok(vec![YAML_LOADING.into()])));
        self.modals.push(Modal::Details(Box::new(DetailsModal::new(
            Pane::Objects,
            key.clone(),
        ))));
        vec![Effect::FetchObjectYaml { key, env, object }]
    }

    /// Delete or restart the selected object. A namespace, or anything cluster-scoped,
    /// is deleted only once its name is typed.
    /// Delete, restart or scale: the marked objects (all of the kind listed; scaling
    /// takes the selected one alone), else the selected one, after one question that
    /// lists them.
    fn confirm_object(&mut self, op: Op, views: &Views) -> Option<Confirm> {
        let marked: Vec<Selected> = self.objects.marks.values().cloned().collect();
        let objects = match (op, views.objects.selected(self)) {
            (Op::Delete | Op::Restart, _) if !marked.is_empty() => marked,
            (_, Some(o)) => vec![o],
            (_, None) => {
                self.flash(Level::Info, "no object selected");
                return None;
            }
        };
        let env = self.env.clone()?;
        let kind = objects[0].kind.clone();
        if let Some(why) = op.unfit(&kind) {
            self.flash(Level::Info, why);
            return None;
        }
        const SHOWN: usize = 8;
        let mut body: Vec<String> = objects
            .iter()
            .take(SHOWN)
            .map(|o| {
                let path = match &o.namespace {
                    Some(ns) => format!("{ns}/{}", o.name),
                    None => o.name.clone(),
                };
                // Several: their kind is in the title.
                match objects.len() {
                    1 => format!("  {env}-{} {} {path}", o.role, o.kind.qualified()),
                    _ => format!("  {env}-{} {path}", o.role),
                }
            })
            .collect();
        if objects.len() > SHOWN {
            body.push(format!("  … and {} more", objects.len() - SHOWN));
        }
        let n = objects.len();
        let these = match n {
            1 => format!("this {}", kind.singular),
            n => format!("these {n} {}", kind.plural),
        };
        let (title, note) = match op {
            Op::Delete => (
                format!("Delete {these}?"),
                "Deleting cannot be undone; what it owns goes with it.",
            ),
            Op::Scale(n) => (
                format!("Scale {these} to {n}?"),
                "Through its scale subresource, as kubectl scale does.",
            ),
            _ => (
                format!("Restart {these}?"),
                "A rollout replaces its pods one by one, as `kubectl rollout restart` does.",
            ),
        };
        body.push(String::new());
        body.push(note.into());
        // What cannot be scoped by a namespace asks for its name typed; several, for
        // their number and kind.
        let typed = op == Op::Delete && (!kind.namespaced || kind.plural == "namespaces");
        let typed = typed.then(|| match objects.as_slice() {
            [one] => one.name.clone(),
            _ => format!("{n} {}", kind.plural),
        });
        let confirm = Confirm::new(
            &title,
            body,
            Pending::Act {
                op,
                objects: objects.iter().map(|o| o.object_ref(&env)).collect(),
            },
        );
        Some(match typed {
            Some(text) => confirm.typing(&text),
            None => confirm,
        })
    }

    fn acted(&mut self, op: Op, result: Result<Vec<OpOutcome>, String>) {
        let outcomes = match result {
            Ok(o) => o,
            Err(e) => return self.flash(Level::Error, format!("{}: {e}", op.name())),
        };
        // A mark has done its job once its object is acted on; a refused one stays.
        for done in outcomes.iter().filter(|o| o.ok) {
            self.objects.marks.retain(|_, o| !o.is(done));
        }
        for done in outcomes.iter().filter(|o| o.ok && o.kind == "pods") {
            self.marks.retain(|t| {
                !(t.env == done.env
                    && t.role == done.cluster
                    && Some(&t.namespace) == done.namespace.as_ref()
                    && t.name == done.name)
            });
        }
        let failed: Vec<&OpOutcome> = outcomes.iter().filter(|o| !o.ok).collect();
        match (failed.first(), outcomes.as_slice()) {
            (None, [one]) => {
                self.flash(Level::Success, format!("{}: {}", one.object(), one.message))
            }
            (None, all) => self.flash(
                Level::Success,
                format!("{}: done for all {} {}", op.name(), all.len(), all[0].kind),
            ),
            (Some(first), all) => self.flash(
                Level::Error,
                format!(
                    "{}: {} of {} failed; {}: {}",
                    op.name(),
                    failed.len(),
                    all.len(),
                    first.object(),
                    first.message
                ),
            ),
        }
    }

    // -----------------------------------------------------------------------------------
    // Workflows
    // -----------------------------------------------------------------------------------

    /// The cluster a workflow started from a pane acts on: the pane's scope, the workload
    /// cluster when it shows both (that is where customers' capacity lives).
    fn scope_role(&self) -> ClusterRole {
        match self.scope {
            Scope::Sc => ClusterRole::Sc,
            Scope::Wc | Scope::Both => ClusterRole::Wc,
        }
    }

    /// Opens the form of the workflow `action` starts, preset with the selected target
    /// for the workflows that act on one.
    fn open_workflow(&mut self, action: Action, views: &Views) -> Vec<Effect> {
        let Some(kind) = action.workflow() else {
            return Vec::new();
        };
        let (role, preset) = match action {
            Action::DrainNode => match views.cluster.node(self.lists.cluster.selected) {
                Some((role, node)) => (role, vec![("node", node.to_string())]),
                None => {
                    self.flash(Level::Info, "no node selected");
                    return Vec::new();
                }
            },
            Action::RestoreBackup => match views.backups.backups.get(self.lists.backups.selected) {
                Some((role, backup)) => (*role, vec![("backup", backup.name.to_string())]),
                None => {
                    self.flash(Level::Info, "no backup selected");
                    return Vec::new();
                }
            },
            _ => (self.scope_role(), Vec::new()),
        };
        self.open_run_form(kind, None, role, &preset)
    }

    pub fn open_run_form(
        &mut self,
        kind: WorkflowKind,
        env: Option<String>,
        role: ClusterRole,
        preset: &[(&str, String)],
    ) -> Vec<Effect> {
        // Callers come through the gate (`run` for keys, `run_command` for `:`).
        let Some(env) = env.or_else(|| self.env.clone()) else {
            self.flash(
                Level::Info,
                "open an environment first (Enter on the fleet, or :env NAME)",
            );
            return Vec::new();
        };
        let form = RunForm::new(kind, &env, role, preset);
        self.modals.push(Modal::Run(Box::new(form)));
        Vec::new()
    }

    fn on_run_form_key(&mut self, ev: KeyEvent, key: Key) -> Vec<Effect> {
        let action = keymap::resolve(&[Context::RunForm], key).map(|s| s.action);
        if let Some(a @ (Action::PageUp | Action::PageDown)) = action {
            if let Some(Modal::Run(form)) = self.modals.last_mut() {
                form.scroll_plan(a);
            }
            return Vec::new();
        }
        if let Some(effects) = self.on_form_common(ev, action) {
            return effects;
        }
        let id = self.next_id();
        let Some(Modal::Run(form)) = self.modals.last_mut() else {
            return Vec::new();
        };
        match form.submit() {
            run::Next::Nothing => Vec::new(),
            run::Next::Plan(request) => {
                form.stage = Stage::Planning(id);
                vec![Effect::PlanRun { id, request }]
            }
            run::Next::Start(plan, reason) => {
                form.stage = Stage::Starting(id);
                vec![Effect::StartRun { id, plan, reason }]
            }
        }
    }

    fn run_form(&mut self) -> Option<&mut RunForm> {
        self.modals.iter_mut().find_map(|m| match m {
            Modal::Run(f) => Some(f.as_mut()),
            _ => None,
        })
    }

    /// The run under the cursor of the runs pane.
    pub fn selected_run(&self) -> Option<&RunSummary> {
        self.runs.runs.get(self.lists.runs.selected)
    }

    /// Runs live in this process: quitting stops them, so it asks first when there are any.
    fn confirm_quit(&mut self) -> Vec<Effect> {
        if self.runs.local.is_empty() {
            self.quit = Some(crate::exit::OK);
            return Vec::new();
        }
        let mut body: Vec<String> = vec![format!(
            "{} run(s) of this console are in progress:",
            self.runs.local.len()
        )];
        body.extend(self.runs.local.iter().map(|id| format!("  {id}")));
        body.push(String::new());
        body.push(
            "Quitting stops them at their next safe point and releases their locks; \
             `ck8s-console runs resume ID` goes on later."
                .into(),
        );
        self.modals.push(Modal::Confirm(Box::new(Confirm::new(
            "Quit?",
            body,
            Pending::Quit,
        ))));
        Vec::new()
    }

    fn confirm_run_control(&mut self, cancel: bool) -> Option<Confirm> {
        let Some(run) = self.selected_run() else {
            self.flash(Level::Info, "no run selected");
            return None;
        };
        let id = run.id.clone();
        let what = format!(
            "{} {} on {}-{}, {} of {} steps done",
            run.workflow,
            run.params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" "),
            run.env,
            run.cluster,
            run.done_steps(),
            run.steps.len()
        );
        let finished = run.outcome;
        let (title, body, pending) = if cancel {
            if finished.is_some() {
                self.flash(Level::Info, "that run has ended already");
                return None;
            }
            (
                "Cancel run?",
                "The run stops at its next safe point; the step it is in is re-run if you resume it.",
                Pending::CancelRun(id.clone()),
            )
        } else {
            if finished == Some(crate::engine::journal::Outcome::Succeeded) {
                self.flash(
                    Level::Info,
                    "that run succeeded; there is nothing to resume",
                );
                return None;
            }
            (
                "Resume run?",
                "The run goes on at its first unfinished step, which looks at the cluster before it acts.",
                Pending::ResumeRun(id.clone()),
            )
        };
        Some(Confirm::new(
            title,
            vec![format!("Run {id}"), what, String::new(), body.into()],
            pending,
        ))
    }

    // -----------------------------------------------------------------------------------
    // The filter and command line
    // -----------------------------------------------------------------------------------

    fn on_input_key(&mut self, ev: KeyEvent, key: Key, views: &Views) -> Vec<Effect> {
        let action = keymap::resolve(&[Context::Input], key).map(|s| s.action);
        let pane = self.pane;
        let Some(input) = self.input.as_mut() else {
            return Vec::new();
        };
        match (action, input.kind) {
            (Some(Action::Close), InputKind::Filter) => {
                let before = input.before.clone();
                self.input = None;
                self.set_filter(pane, &before);
                Vec::new()
            }
            (Some(Action::Close), InputKind::Command) => {
                self.input = None;
                Vec::new()
            }
            (Some(Action::Close), InputKind::Search) => {
                let before = input.before.clone();
                self.input = None;
                self.set_search(&before);
                Vec::new()
            }
            (Some(Action::Submit), InputKind::Search) => {
                self.input = None;
                let missed = match self.modals.last_mut() {
                    Some(Modal::Pod(m)) => m.logs.search.is_active() && !m.logs.find(true),
                    // Whether a line holds it is said on the border, once drawn.
                    Some(Modal::Details(m)) => {
                        m.seek(true);
                        false
                    }
                    _ => false,
                };
                if missed {
                    self.flash(Level::Info, "no line of the log holds it");
                }
                Vec::new()
            }
            (Some(Action::Close), InputKind::PortForward) => {
                self.input = None;
                self.forward.0 = None;
                Vec::new()
            }
            (Some(Action::Submit), InputKind::PortForward) => {
                let text = input.value().to_owned();
                match (
                    ck8s_fleet::inspect::forward_ports(&text),
                    self.forward.0.clone(),
                ) {
                    (Ok(ports), Some(target)) => {
                        self.input = None;
                        self.forward = (None, text);
                        vec![Effect::PortForward { target, ports }]
                    }
                    // The line stays as typed, to be mended, and says what is wrong.
                    (Err(e), _) => {
                        input.error = Some(e);
                        Vec::new()
                    }
                    (Ok(_), None) => {
                        self.input = None;
                        Vec::new()
                    }
                }
            }
            (Some(Action::Submit), InputKind::Filter) => {
                self.input = None;
                Vec::new()
            }
            (Some(Action::Submit), InputKind::Command) => {
                let line = input.value().to_string();
                let vocab = Vocabulary {
                    envs: &self.envs,
                    themes: &self.themes,
                    kinds: kinds_of(self.env.as_deref(), &self.kinds),
                };
                match command::parse(&line, &vocab) {
                    Ok(cmd) => {
                        self.input = None;
                        self.run_command(cmd, views)
                    }
                    Err(e) => {
                        // The line is done either way: what went wrong goes to the status
                        // line, and the next `:` starts empty.
                        self.input = None;
                        self.flash(Level::Error, format!(":{line}: {e}"));
                        Vec::new()
                    }
                }
            }
            (Some(Action::Complete), InputKind::Command) => {
                let kinds = kinds_of(self.env.as_deref(), &self.kinds);
                let vocab = Vocabulary {
                    envs: &self.envs,
                    themes: &self.themes,
                    kinds,
                };
                let (line, candidates) = command::complete(input.value(), &vocab);
                input.text = TextField::new(&line);
                input.candidates = candidates;
                Vec::new()
            }
            _ => {
                // Enter and Tab never reach the single-line text.
                if matches!(ev.code, KeyCode::Enter | KeyCode::Tab)
                    || (ev.code == KeyCode::Char('m')
                        && ev.modifiers.contains(KeyModifiers::CONTROL))
                {
                    return Vec::new();
                }
                if input.text.edit(ev) == Edited::Changed {
                    input.candidates.clear();
                    input.error = None;
                    let (kind, text) = (input.kind, input.value().to_string());
                    self.typed(kind, &text, pane);
                }
                Vec::new()
            }
        }
    }

    /// `/` in the top overlay: the pod's log or the details view searches for `text`.
    fn set_search(&mut self, text: &str) {
        match self.modals.last_mut() {
            Some(Modal::Pod(m)) => m.logs.set_search(text),
            Some(Modal::Details(m)) => m.set_search(text),
            _ => {}
        }
    }

    /// What typing in the line does at once: a filter filters, a search finds.
    fn typed(&mut self, kind: InputKind, text: &str, pane: Pane) {
        match kind {
            InputKind::Filter => self.set_filter(pane, text),
            InputKind::Search => self.set_search(text),
            InputKind::Command | InputKind::PortForward => {}
        }
    }

    /// Pasted text goes to the line or field being edited; single-line inputs take the
    /// first line.
    pub fn on_paste(&mut self, text: &str) {
        let line = text.lines().next().unwrap_or("");
        let pane = self.pane;
        if let Some(input) = self.input.as_mut() {
            input.text.insert_str(line);
            let (kind, value) = (input.kind, input.value().to_string());
            self.typed(kind, &value, pane);
        } else if let Some(Modal::Silence(form)) = self.modals.last_mut() {
            form.paste(line);
        } else if let Some(Modal::Run(form)) = self.modals.last_mut() {
            form.paste(line);
        } else if let Some(Modal::Editor(editor)) = self.modals.last_mut() {
            editor.paste(text);
        } else if let Some(Modal::Confirm(c)) = self.modals.last_mut()
            && let Some((_, field)) = c.typed.as_mut()
        {
            // The name asked for, pasted from elsewhere, as a shell line takes it.
            field.insert_str(line);
        }
    }

    pub fn run_command(&mut self, cmd: Command, views: &Views) -> Vec<Effect> {
        match cmd {
            Command::Go { pane, env, scope } => {
                if let Some(s) = scope {
                    self.scope = s;
                }
                if pane == Pane::Alerts {
                    self.show_silences = false;
                }
                self.go(pane, env)
            }
            Command::Env(env) => self.go(Pane::Cluster, Some(env)),
            Command::Silences => {
                let effects = self.go(Pane::Alerts, None);
                self.show_silences = true;
                effects
            }
            Command::Sort(column) => {
                self.pod_sort = PodSort {
                    column,
                    descending: column.default_descending(),
                };
                self.go(Pane::Pods, None)
            }
            Command::Theme(name) => vec![Effect::SetTheme(name)],
            Command::Workflow {
                kind,
                env,
                role,
                params,
            } => {
                let role = role.unwrap_or_else(|| self.scope_role());
                let place = env.clone().or_else(|| self.env.clone());
                let spec = keymap::workflow_spec(kind);
                if !self.admit(spec, place.as_deref().map(|e| (e, role))) {
                    return Vec::new();
                }
                let preset: Vec<(&str, String)> = params
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.clone()))
                    .collect();
                self.open_run_form(kind, env, role, &preset)
            }
            Command::Help => self.apply(Action::Help, views),
            Command::Quit => self.apply(Action::Quit, views),
            Command::Objects(query) => self.open_objects(query),
            Command::Export { format, path } => self.export(format, path, views),
            Command::Create => self.open_create(),
            Command::Reveal(key) => self.reveal(key, views),
            Command::Replicas(n) => {
                let spec = &keymap::REPLICAS_BY_COMMAND;
                let target = self.env.clone().map(|env| {
                    let role = views
                        .objects
                        .selected(self)
                        .map_or(ClusterRole::Wc, |o| o.role);
                    (env, role)
                });
                if self.pane != Pane::Objects {
                    self.flash(
                        Level::Info,
                        ":replicas scales the selected object of the objects pane",
                    );
                    return Vec::new();
                }
                if !self.admit(spec, target.as_ref().map(|(e, r)| (e.as_str(), *r))) {
                    return Vec::new();
                }
                if let Some(confirm) = self.confirm_object(Op::Scale(n), views) {
                    self.modals.push(Modal::Confirm(Box::new(confirm)));
                }
                Vec::new()
            }
        }
    }

    /// `O` on an alert: the pod (in the pods pane) or the node, workload or namespace (in
    /// the objects pane) its labels name, in the cluster that fires it.
    fn open_subject(&mut self, views: &Views) -> Vec<Effect> {
        let alert = match self.modals.last() {
            Some(Modal::Alert(m)) => views.alerts.by_fingerprint(&m.fingerprint),
            _ => views.alerts.alert(self.lists.alerts.selected),
        };
        let Some(alert) = alert else {
            self.flash(Level::Info, "no alert selected");
            return Vec::new();
        };
        let here = alert
            .sources
            .iter()
            .find(|(env, _)| Some(env) == self.env.as_ref())
            .or(alert.sources.first())
            .cloned();
        let (Some(subject), Some((env, role))) = (super::alert_text::subject_object(alert), here)
        else {
            self.flash(
                Level::Info,
                "its labels name no pod, node, workload or namespace",
            );
            return Vec::new();
        };
        if matches!(self.modals.last(), Some(Modal::Alert(_))) {
            self.modals.pop();
        }
        self.show_related(env, role, &[subject])
    }

    /// `:export`: the pods or objects shown, to `path` (else a new file named after the
    /// pane, the environment and the time, in the working directory).
    fn export(
        &mut self,
        format: super::export::Format,
        path: Option<String>,
        views: &Views,
    ) -> Vec<Effect> {
        let sheet = match self.pane {
            Pane::Pods => views.pods.sheet(chrono::Utc::now()),
            Pane::Objects => views.objects.sheet(self),
            _ => {
                self.flash(Level::Info, ":export works in the pods and objects panes");
                return Vec::new();
            }
        };
        let path = path.unwrap_or_else(|| {
            let what = match (self.pane, self.objects.kind()) {
                (Pane::Objects, Some(kind)) => kind.plural.clone(),
                _ => "pods".to_owned(),
            };
            format!(
                "{what}-{}-{}.{}",
                self.env.as_deref().unwrap_or("fleet"),
                chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
                format.extension()
            )
        });
        let rows = sheet.rows.len();
        vec![Effect::WriteFile {
            path,
            text: sheet.render(format),
            what: format!("{rows} rows"),
            fresh: false,
        }]
    }

    /// `:KIND …`: the objects pane on that kind, in the named or open environment.
    fn open_objects(&mut self, query: ObjectsQuery) -> Vec<Effect> {
        if let Some(s) = query.scope {
            self.scope = s;
        }
        // The old kind does not follow into the environment named here: this one does.
        self.objects = ObjectsData::default();
        let mut effects = self.go(Pane::Objects, query.env.clone());
        let Some(env) = self.env.clone() else {
            self.flash(
                Level::Info,
                "open an environment first (:env NAME), or name one",
            );
            return effects;
        };
        self.set_filter(Pane::Objects, query.filter.as_deref().unwrap_or(""));
        effects.push(self.watch_objects(env, query));
        effects
    }

    /// Lists `query` in `env` from now on; answers of an earlier poll are dropped.
    fn watch_objects(&mut self, env: String, query: ObjectsQuery) -> Effect {
        let poll = self.next_id();
        self.objects = ObjectsData {
            env: Some(env.clone()),
            query: Some(query.clone()),
            poll,
            ..ObjectsData::default()
        };
        Effect::WatchObjects { poll, env, query }
    }

    // -----------------------------------------------------------------------------------
    // Reports from background tasks
    // -----------------------------------------------------------------------------------

    pub fn on_event(&mut self, event: UiEvent) {
        self.dispatch_event(event);
        self.forget_unseen_secret();
    }

    fn dispatch_event(&mut self, event: UiEvent) {
        match event {
            UiEvent::PodLoaded { target, result } => {
                if let Some(m) = self.pod_modal(|m| m.target == target) {
                    m.details = result.into();
                }
            }
            UiEvent::LogLines { id, lines } => {
                if let Some(m) = self.pod_modal(|m| m.log_task == Some(id)) {
                    m.logs.push(lines);
                }
            }
            UiEvent::LogEnded { id, error } => {
                if let Some(m) = self.pod_modal(|m| m.log_task == Some(id)) {
                    m.logs.ended(error);
                }
            }
            UiEvent::SilenceCreated { id, results, done } => {
                self.silence_created(id, results, &done)
            }
            UiEvent::SilenceExpired {
                cluster,
                id,
                result,
            } => match result {
                Ok(()) => self.flash(
                    Level::Success,
                    format!(
                        "silence {} expired on {cluster}",
                        super::format::short_id(&id)
                    ),
                ),
                Err(e) => self.flash(
                    Level::Error,
                    format!("expiring the silence on {cluster} failed: {e}"),
                ),
            },
            UiEvent::Permission {
                env,
                role,
                action,
                result,
            } => {
                self.permissions.insert((env, role, action), result);
            }
            UiEvent::Acted { op, result } => self.acted(op, result),
            UiEvent::Objects { poll, role, result } => {
                if poll == self.objects.poll {
                    // A marked object no longer listed (deleted meanwhile) is unmarked: it
                    // could not be unmarked by hand, and acting on it would only fail.
                    // A list cut at its first rows says nothing of the rest.
                    if let Ok((_, table)) = &result
                        && !table.truncated
                    {
                        self.objects.marks.retain(|_, m| {
                            m.role != role
                                || table
                                    .rows
                                    .iter()
                                    .any(|r| r.name == m.name && r.namespace == m.namespace)
                        });
                    }
                    self.objects.answers.insert(role, result);
                    self.objects.generation += 1;
                }
            }
            UiEvent::ObjectYaml { key, result } => {
                if self.objects.yaml.as_ref().is_some_and(|(k, _)| *k == key) {
                    self.objects.yaml = Some((key, result));
                }
            }
            UiEvent::BackupRead { key, env, result } => {
                let asked =
                    |f: &&mut crate::ui::panes::backups::Fetched| f.key == key && f.env == env;
                if let Some(f) = self.backup_read.as_mut().filter(asked) {
                    f.result = Some(result);
                }
            }
            UiEvent::Described { key, env, result } => {
                let asked = |d: &&mut Described| d.key == key && d.env == env;
                if let Some(d) = self.objects.described.as_mut().filter(asked) {
                    d.result = Some(result);
                }
            }
            UiEvent::Kinds { env, names } => self.kinds = (env, names),
            UiEvent::HandOver(h) => self.handover = Some(h),
            UiEvent::Revealed {
                details_key,
                result,
            } => match result {
                // Shown only where it was asked for; otherwise dropped, never kept.
                Ok(_) if self.pane != Pane::Objects || !self.modals.is_empty() => self.flash(
                    Level::Info,
                    "the value came after you had moved on, and was dropped: :reveal again",
                ),
                Ok(value) => {
                    self.objects.revealed = Some((details_key.clone(), value));
                    self.modals.push(Modal::Details(Box::new(DetailsModal::new(
                        Pane::Objects,
                        details_key,
                    ))));
                }
                Err(why) => self.flash(Level::Error, format!("not revealed: {why}")),
            },
            UiEvent::Rollout { label, text, done } => {
                let level = match done {
                    None => Level::Info,
                    Some(true) => Level::Success,
                    Some(false) => Level::Error,
                };
                self.flash(level, format!("{label}; {text}"));
            }
            // One editor at a time: a second `e` before the first opened asks again.
            UiEvent::EditInApp(_) if matches!(self.modals.last(), Some(Modal::Editor(_))) => {}
            UiEvent::EditInApp(edit) => {
                self.modals
                    .push(Modal::Editor(Box::new(EditorModal::new(edit))));
            }
            UiEvent::NotHandedOver(why) => self.flash(Level::Error, why),
            UiEvent::Written(Ok(said)) => self.flash(Level::Success, said),
            UiEvent::Written(Err(why)) => self.flash(Level::Error, why),
            UiEvent::EditPlanned { id, result } => {
                if let Some(edit) = self.edit.as_mut().filter(|e| e.id == id) {
                    edit.diff = Some(result);
                }
            }
            UiEvent::Edited {
                key,
                creating,
                result,
            } => match result {
                Ok(done) => {
                    // Another object's kept text stays kept.
                    if self.edit.as_ref().is_some_and(|e| e.key == key) {
                        self.edit = None;
                    }
                    self.flash(Level::Success, format!("{key}: {done}"));
                }
                Err(e) => {
                    let what = if creating { "created" } else { "changed" };
                    let again = super::panes::objects::reopened_by(creating);
                    self.flash(Level::Error, format!("{key} was not {what}: {e} ({again})"));
                }
            },
            UiEvent::RunsLoaded(data) => {
                for id in &data.local {
                    if !self.watched_runs.iter().any(|(w, _)| w == id) {
                        self.watched_runs.push((id.clone(), false));
                    }
                }
                for (id, seen_open) in &mut self.watched_runs {
                    if data.runs.iter().any(|r| &r.id == id && r.outcome.is_none()) {
                        *seen_open = true;
                    }
                }
                let ended: Vec<&RunSummary> = data
                    .runs
                    .iter()
                    .filter(|r| {
                        r.outcome.is_some()
                            && self
                                .watched_runs
                                .iter()
                                .any(|(w, open)| *open && w == &r.id)
                    })
                    .collect();
                // The worst news first: a failure outweighs a success that ended with it.
                if let Some(run) = ended
                    .iter()
                    .max_by_key(|r| r.outcome != Some(crate::engine::journal::Outcome::Succeeded))
                {
                    let seq = self.next_id();
                    self.notice = Some(ended_notice(run, seq));
                }
                // Done with: the ended, and the ones no longer driven here that were never
                // seen open (a resume that was refused).
                self.watched_runs.retain(|(id, open)| {
                    !ended.iter().any(|r| &r.id == id) && (*open || data.local.contains(id))
                });
                self.runs = *data;
                self.lists.runs.set_len(self.runs.runs.len());
                self.lists.audit.set_len(self.runs.audit.len());
            }
            UiEvent::RunPlanned { id, result } => {
                if let Some(form) = self.run_form() {
                    form.planned(id, result);
                }
            }
            UiEvent::RunStarted { id, result } => self.run_started(id, result),
            UiEvent::RunControl(Ok(message)) => self.flash(Level::Success, message),
            UiEvent::RunControl(Err(message)) => self.flash(Level::Error, message),
        }
    }

    fn run_started(&mut self, id: u64, result: Result<String, String>) {
        let index = self
            .modals
            .iter()
            .position(|m| matches!(m, Modal::Run(f) if f.stage == Stage::Starting(id)));
        match result {
            Ok(run_id) => {
                if let Some(i) = index {
                    self.modals.truncate(i);
                }
                self.watched_runs.push((run_id.clone(), true));
                self.show_audit = false;
                self.go(Pane::Runs, None);
                self.lists.runs.selected = 0;
                self.flash(Level::Success, format!("run {run_id} started"));
            }
            Err(e) => {
                if let Some(Modal::Run(form)) = index.and_then(|i| self.modals.get_mut(i)) {
                    form.start_failed(id, e);
                } else {
                    self.flash(Level::Error, e);
                }
            }
        }
    }

    fn pod_modal(&mut self, pick: impl Fn(&PodModal) -> bool) -> Option<&mut PodModal> {
        self.modals.iter_mut().find_map(|m| match m {
            Modal::Pod(p) if pick(p) => Some(p.as_mut()),
            _ => None,
        })
    }

    fn silence_created(
        &mut self,
        id: u64,
        results: Vec<(String, Result<String, String>)>,
        done: &[(usize, String)],
    ) {
        let failures: Vec<String> = results
            .iter()
            .filter_map(|(c, r)| r.as_ref().err().map(|e| format!("{c}: {e}")))
            .collect();
        let created: Vec<String> = results
            .iter()
            .filter_map(|(c, r)| {
                r.as_ref()
                    .ok()
                    .map(|sid| format!("{} on {c}", super::format::short_id(sid)))
            })
            .collect();
        let form_index = self
            .modals
            .iter()
            .position(|m| matches!(m, Modal::Silence(f) if f.pending == Some(id)));
        if failures.is_empty() {
            if let Some(i) = form_index {
                // The marks of what was silenced have done their job; others stay.
                if let Some(Modal::Silence(f)) = self.modals.get(i) {
                    for fingerprint in f.fingerprints() {
                        self.alert_marks.remove(&fingerprint);
                    }
                }
                self.modals.truncate(i);
            }
            self.flash(
                Level::Success,
                format!(
                    "silence {} created; the alert list updates at the next poll",
                    created.join(", ")
                ),
            );
        } else if let Some(i) = form_index {
            if let Modal::Silence(f) = &mut self.modals[i] {
                f.pending = None;
                // Sent again, the form makes only what failed.
                f.drop_done(done);
                let mut msg = format!("failed: {}", failures.join("; "));
                if !created.is_empty() {
                    msg.push_str(&format!(" (created {})", created.join(", ")));
                }
                f.submit_error = Some(msg);
            }
        } else {
            self.flash(
                Level::Error,
                format!("silence failed: {}", failures.join("; ")),
            );
        }
    }
}

/// What an object's YAML shows until it has been read.
const YAML_LOADING: &str = "Loading…";

/// The step of [`SINCE`] after `since`.
fn next_since(since: Option<i64>) -> Option<i64> {
    let at = SINCE.iter().position(|s| *s == since).unwrap_or(0);
    SINCE[(at + 1) % SINCE.len()]
}

/// Where `Ctrl-S` saves a log: a new file in the working directory named after the pod,
/// the container, the run and the time (`production_web-1_app-20261207-230102.log`).
fn log_file_name(target: &PodTarget, options: &LogOptions, now: DateTime<Local>) -> String {
    let mut name = format!("{}_{}", target.namespace, target.name);
    if let Some(c) = &options.container {
        name.push_str(&format!("_{c}"));
    }
    if options.previous {
        name.push_str("_previous");
    }
    format!("{name}-{}.log", now.format("%Y%m%d-%H%M%S"))
}

/// The kind names of `env`'s clusters, once discovered (`kinds` holds the last
/// environment's).
fn kinds_of<'a>(env: Option<&str>, kinds: &'a (String, Vec<String>)) -> &'a [String] {
    match env {
        Some(env) if env == kinds.0 => &kinds.1,
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> App {
        App::new(vec!["acme".into(), "globex".into(), "initech".into()])
    }

    fn key(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    fn code(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    /// The console's own editor keeps every key but Ctrl-S and Esc: Esc keeps a changed
    /// text for the next `e`, Ctrl-S asks for the dry run of what was typed.
    #[test]
    fn the_consoles_own_editor_keeps_what_is_typed() {
        let mut a = app();
        let views = Views::default();
        let text = "data:\n  a: '1'\n";
        let edit = Edit::sample(text);
        a.on_event(UiEvent::EditInApp(edit.clone()));
        assert!(matches!(a.modals.last(), Some(Modal::Editor(_))));
        assert!(a.on_key(key('q'), &views).is_empty(), "q is a letter here");
        let Some(Modal::Editor(m)) = a.modals.last() else {
            panic!("the editor stays open")
        };
        assert!(m.edited().text.starts_with("qdata:"), "{}", m.edited().text);
        assert!(a.takes_alt_keys(), "Alt-keys are the editor's");
        a.on_key(code(KeyCode::Backspace), &views);
        a.on_key(code(KeyCode::Esc), &views);
        assert!(a.modals.is_empty());
        assert!(a.edit.is_none(), "a text as it was is not kept");
        assert!(!a.takes_alt_keys());

        a.on_event(UiEvent::EditInApp(edit.clone()));
        for c in "b: '2'".chars() {
            a.on_key(key(c), &views);
        }
        a.on_key(code(KeyCode::Enter), &views);
        a.on_key(code(KeyCode::Esc), &views);
        let kept = a.edit.clone().expect("the text is kept");
        assert_eq!(kept.text, "b: '2'\ndata:\n  a: '1'\n");
        assert!(a.flash.as_ref().unwrap().text.contains("kept"));

        a.on_event(UiEvent::EditInApp(kept));
        let save = KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL);
        let effects = a.on_key(save, &views);
        assert!(
            matches!(effects.as_slice(), [Effect::DryRunEdit(e)] if e.text.starts_with("b: '2'")),
            "{effects:?}"
        );
    }

    /// `:create` opens an editor on a new object of the kind listed, in the namespace
    /// listed and the one cluster shown; it passes the gate of a change first, and a text
    /// that failed comes back.
    #[test]
    fn create_starts_from_the_kind_listed_and_passes_the_gate() {
        let mut a = app();
        a.engine = true;
        a.env = Some("acme".into());
        a.pane = Pane::Objects;
        a.objects.env = Some("acme".into());
        a.objects.query = Some(ObjectsQuery {
            kind: "cm".into(),
            namespace: Some("shop".into()),
            ..ObjectsQuery::default()
        });
        let kind = crate::kinds::ServedKind {
            group: String::new(),
            version: "v1".into(),
            kind: "ConfigMap".into(),
            plural: "configmaps".into(),
            singular: "configmap".into(),
            short_names: vec!["cm".into()],
            namespaced: true,
            verbs: vec!["create".into(), "list".into()],
            subresources: Vec::new(),
        };
        let table = crate::objects::ObjectTable::default();
        a.objects
            .answers
            .insert(ClusterRole::Wc, Ok((kind.clone(), table)));
        a.scope = Scope::Both;
        assert!(a.open_create().is_empty());
        assert!(a.flash.as_ref().unwrap().text.contains("in which cluster"));
        a.scope = Scope::Wc;
        let effects = a.open_create();
        let [Effect::OpenEditor(edit)] = effects.as_slice() else {
            panic!("{effects:?}");
        };
        assert!(edit.creating && edit.original == edit.text);
        assert_eq!(edit.object.namespace.as_deref(), Some("shop"));
        assert_eq!(edit.object.role, ClusterRole::Wc);
        assert!(edit.text.contains("kind: ConfigMap"), "{}", edit.text);
        assert!(edit.text.contains("namespace: shop"), "{}", edit.text);
        // A text that failed is what :create opens next.
        a.edit = Some(Edit {
            text: "kept".into(),
            ..edit.clone()
        });
        let effects = a.open_create();
        assert!(
            matches!(effects.as_slice(), [Effect::OpenEditor(e)] if e.text == "kept"),
            "{effects:?}"
        );
        a.read_only = true;
        assert!(a.open_create().is_empty(), "read-only refuses it");
    }

    /// In a pod's logs, `s` steps through since-when, each step a new tail; `c` goes from
    /// container to container; Ctrl-S names its file after the pod, container and run.
    #[test]
    fn the_log_keys_start_the_tail_they_name() {
        let mut a = app();
        a.env = Some("acme".into());
        let target = PodTarget {
            env: "acme".into(),
            role: ClusterRole::Wc,
            namespace: "production".into(),
            name: "postgres-0".into(),
        };
        let mut modal = PodModal::new(target.clone(), PodTab::Logs);
        modal.details = super::super::modals::pod::Loading::Ready(Box::new(PodDetails {
            containers: ["postgres", "metrics"]
                .map(|n| super::super::modals::pod::ContainerInfo {
                    name: n.into(),
                    ..Default::default()
                })
                .to_vec(),
            default_container: Some("postgres".into()),
            ..Default::default()
        }));
        a.modals.push(Modal::Pod(Box::new(modal)));
        let views = Views::default();
        let tail = |effects: Vec<Effect>| match effects.as_slice() {
            [Effect::TailLogs { options, .. }] => options.clone(),
            other => panic!("{other:?}"),
        };
        let mut seen = Vec::new();
        for _ in 0..SINCE.len() {
            seen.push(tail(a.on_key(key('s'), &views)).since_seconds);
        }
        assert_eq!(seen.last(), Some(&None), "back to the last lines");
        assert_eq!(seen[0], Some(60));
        let options = tail(a.on_key(key('c'), &views));
        assert_eq!(options.container.as_deref(), Some("metrics"));
        let options = tail(a.on_key(key('c'), &views));
        assert_eq!(options.container.as_deref(), Some("postgres"));
        assert!(tail(a.on_key(key('t'), &views)).timestamps);
        let at = chrono::TimeZone::with_ymd_and_hms(&Local, 2026, 12, 7, 23, 1, 2).unwrap();
        let previous = LogOptions {
            container: Some("postgres".into()),
            previous: true,
            ..LogOptions::default()
        };
        assert_eq!(
            log_file_name(&target, &previous, at),
            "production_postgres-0_postgres_previous-20261207-230102.log"
        );
        let ctrl_s = KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL);
        assert!(a.on_key(ctrl_s, &views).is_empty(), "no lines, no file");
        if let Some(Modal::Pod(m)) = a.modals.last_mut() {
            m.logs.push(vec!["a line".into()]);
        }
        let save = a.on_key(ctrl_s, &views);
        assert!(
            matches!(save.as_slice(), [Effect::WriteFile { path, fresh: true, .. }] if path.starts_with("production_postgres-0_postgres-")),
            "{save:?}"
        );
    }

    #[test]
    fn enter_on_the_fleet_opens_the_selected_environment() {
        let mut a = app();
        let v = Views::default();
        a.lists.fleet.set_len(3);
        a.on_key(key('j'), &v);
        let effects = a.on_key(code(KeyCode::Enter), &v);
        assert_eq!(a.env.as_deref(), Some("globex"));
        assert_eq!(a.pane, Pane::Cluster);
        assert_eq!(
            effects,
            [
                Effect::OpenEnv("globex".into()),
                Effect::CheckPermissions("globex".into())
            ]
        );
        a.on_key(key('2'), &v);
        assert_eq!(a.pane, Pane::Pods);
        a.on_key(code(KeyCode::Esc), &v);
        assert_eq!(a.pane, Pane::Cluster);
        a.on_key(code(KeyCode::Esc), &v);
        assert_eq!((a.pane, a.env.as_deref()), (Pane::Fleet, None));
    }

    /// The kind listed follows into the next environment, and nothing selected or marked
    /// in the one left can be acted on from the next.
    #[test]
    fn switching_environments_lists_the_same_kind_there_and_forgets_marks() {
        let mut a = app();
        let v = Views::default();
        let q = ObjectsQuery {
            kind: "deploy".into(),
            ..ObjectsQuery::default()
        };
        a.go(Pane::Cluster, Some("acme".into()));
        let effects = a.run_command(Command::Objects(q.clone()), &v);
        let first = a.objects.poll;
        assert!(effects.contains(&Effect::WatchObjects {
            poll: first,
            env: "acme".into(),
            query: q.clone()
        }));
        a.marks.insert(PodTarget {
            env: "acme".into(),
            role: ClusterRole::Wc,
            namespace: "production".into(),
            name: "web-1".into(),
        });
        let effects = a.go(Pane::Objects, Some("globex".into()));
        assert!(a.objects.poll > first, "answers of acme's poll are dropped");
        assert!(effects.contains(&Effect::WatchObjects {
            poll: a.objects.poll,
            env: "globex".into(),
            query: q
        }));
        assert_eq!(a.objects.env.as_deref(), Some("globex"));
        assert!(a.objects.answers.is_empty());
        assert!(a.marks.is_empty());
        assert_eq!(a.enter(None), [Effect::StopObjects]);
    }

    #[test]
    fn number_keys_from_the_fleet_enter_the_selected_environment() {
        let mut a = app();
        let v = Views::default();
        a.lists.fleet.set_len(3);
        a.on_key(key('G'), &v);
        a.on_key(key('2'), &v);
        assert_eq!((a.pane, a.env.as_deref()), (Pane::Pods, Some("initech")));
        a.on_key(key('3'), &v);
        assert_eq!(a.pane, Pane::Alerts);
        a.on_key(code(KeyCode::Tab), &v);
        assert_eq!(a.pane, Pane::Cluster);
        a.on_key(code(KeyCode::BackTab), &v);
        assert_eq!(a.pane, Pane::Alerts);
    }

    #[test]
    fn the_filter_applies_live_and_esc_restores_it() {
        let mut a = app();
        let v = Views::default();
        a.go(Pane::Pods, Some("globex".into()));
        a.on_key(key('/'), &v);
        for c in "pay".chars() {
            a.on_key(key(c), &v);
        }
        assert_eq!(a.filter(), "pay");
        a.on_key(code(KeyCode::Enter), &v);
        assert!(a.input.is_none());
        assert_eq!(a.filter(), "pay");
        a.on_key(key('/'), &v);
        a.on_key(key('x'), &v);
        assert_eq!(a.filter(), "payx");
        a.on_key(code(KeyCode::Esc), &v);
        assert_eq!(a.filter(), "pay");
        // Esc outside the line clears the filter before going back.
        a.on_key(code(KeyCode::Esc), &v);
        assert_eq!((a.filter(), a.pane), ("", Pane::Pods));
    }

    #[test]
    fn commands_switch_panes_and_scope() {
        let mut a = app();
        let v = Views::default();
        a.on_key(key(':'), &v);
        for c in "pods wc globex".chars() {
            a.on_key(key(c), &v);
        }
        let effects = a.on_key(code(KeyCode::Enter), &v);
        assert_eq!(
            (a.pane, a.scope, a.env.as_deref()),
            (Pane::Pods, Scope::Wc, Some("globex"))
        );
        assert!(effects.contains(&Effect::OpenEnv("globex".into())));
        a.on_key(key(':'), &v);
        a.on_key(key('%'), &v);
        a.on_key(code(KeyCode::Enter), &v);
        assert!(a.input.is_none(), "a failed command closes the line");
        let flash = a.flash.clone().expect("the error is in the status line");
        assert!(flash.text.contains("unknown command"), "{flash:?}");
        a.on_key(key(':'), &v);
        a.on_key(key('s'), &v);
        a.on_key(key('l'), &v);
        a.on_key(code(KeyCode::Tab), &v);
        assert_eq!(a.input.as_ref().unwrap().value(), "slo ");
    }

    #[test]
    fn movement_is_clamped_to_the_list() {
        let mut a = app();
        let v = Views::default();
        a.lists.fleet.set_len(3);
        a.lists.fleet.drawn(0, 2);
        for _ in 0..5 {
            a.on_key(key('j'), &v);
        }
        assert_eq!(a.lists.fleet.selected, 2);
        a.on_key(code(KeyCode::PageUp), &v);
        assert_eq!(a.lists.fleet.selected, 0);
        a.on_key(code(KeyCode::End), &v);
        assert_eq!(a.lists.fleet.selected, 2);
        a.on_key(key('g'), &v);
        assert_eq!(a.lists.fleet.selected, 0);
    }

    #[test]
    fn help_opens_and_closes_and_q_quits_only_outside_overlays() {
        let mut a = app();
        let v = Views::default();
        a.on_key(key('?'), &v);
        assert!(matches!(a.modals.last(), Some(Modal::Help(_))));
        a.on_key(key('q'), &v);
        assert!(a.modals.is_empty() && a.quit.is_none());
        a.on_key(key('q'), &v);
        assert_eq!(a.quit, Some(0));
    }

    #[test]
    fn read_only_disables_caution_actions_with_a_reason() {
        let mut a = app();
        a.read_only = true;
        let spec = keymap::by_id("alerts.silence").unwrap();
        assert_eq!(a.availability(spec, None), Availability::ReadOnly);
        let v = Views::default();
        a.go(Pane::Alerts, None);
        a.on_key(key('s'), &v);
        assert!(a.modals.is_empty());
        assert!(a.flash.as_ref().unwrap().text.contains("read-only"));
        let details = keymap::by_id("alerts.details").unwrap();
        assert_eq!(a.availability(details, None), Availability::Available);
    }

    #[test]
    fn an_environment_read_only_in_the_fleet_config_disables_changes_there_only() {
        let mut a = app();
        a.read_only_envs.insert("globex".into());
        let silence = keymap::by_id("alerts.silence").unwrap();
        let in_globex = Some(("globex", ClusterRole::Wc));
        assert_eq!(a.availability(silence, in_globex), Availability::ReadOnly);
        assert_eq!(
            a.availability(silence, Some(("acme", ClusterRole::Wc))),
            Availability::Available
        );
        // Without a target of its own, an action acts where the user is.
        let scale = keymap::by_id("cluster.scale").unwrap();
        a.engine = true;
        a.env = Some("globex".into());
        assert_eq!(a.availability(scale, None), Availability::ReadOnly);
        assert!(!a.admit(scale, None));
        let flash = &a.flash.as_ref().unwrap().text;
        assert!(
            flash.contains("globex is read-only in the fleet config"),
            "{flash}"
        );
    }

    #[test]
    fn denied_permissions_make_an_action_unavailable() {
        let mut a = app();
        let spec = keymap::by_id("pods.logs").unwrap();
        let target = Some(("globex", ClusterRole::Wc));
        assert_eq!(a.availability(spec, target), Availability::Available);
        a.on_event(UiEvent::Permission {
            env: "globex".into(),
            role: ClusterRole::Wc,
            action: "pods.logs",
            result: Permission::Denied(String::new()),
        });
        assert_eq!(
            a.availability(spec, target),
            Availability::Denied("RBAC: you may not get pods/log in globex-wc".into())
        );
        assert_eq!(
            a.availability(spec, Some(("globex", ClusterRole::Sc))),
            Availability::Available
        );
        let cancel = keymap::by_id("runs.cancel").unwrap();
        assert!(matches!(
            a.availability(cancel, None),
            Availability::Unavailable(_)
        ));
    }

    fn run(id: &str, outcome: Option<crate::engine::journal::Outcome>) -> RunSummary {
        RunSummary {
            id: id.into(),
            workflow: "backup".into(),
            env: "acme".into(),
            cluster: ClusterRole::Wc,
            params: Default::default(),
            actor: "op".into(),
            reason: None,
            started_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            outcome,
            steps: Vec::new(),
        }
    }

    fn loaded(runs: Vec<RunSummary>, local: &[&str]) -> UiEvent {
        UiEvent::RunsLoaded(Box::new(RunsData {
            runs,
            local: local.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }))
    }

    /// The notice is for news: a run started here that ended (even before it was ever
    /// seen running), never the old outcome of a failed run whose resume is starting.
    #[test]
    fn a_run_ending_is_news_and_an_old_outcome_is_not() {
        use crate::engine::journal::Outcome;
        let mut a = app();
        a.run_started(0, Ok("fast".into()));
        a.on_event(loaded(vec![run("fast", Some(Outcome::Failed))], &[]));
        assert!(a.notice.take().is_some_and(|n| n.text.contains("FAILED")));
        // A resume of an old failure: driven here, still Failed in the journal.
        a.on_event(loaded(vec![run("old", Some(Outcome::Failed))], &["old"]));
        assert!(a.notice.is_none(), "the old outcome is not news");
        a.on_event(loaded(vec![run("old", None)], &["old"]));
        assert!(a.notice.is_none());
        a.on_event(loaded(vec![run("old", Some(Outcome::Succeeded))], &[]));
        assert!(
            a.notice
                .take()
                .is_some_and(|n| n.text.contains("succeeded"))
        );
        // A refused resume: driven here a moment, never open, then let go.
        a.on_event(loaded(vec![run("no", Some(Outcome::Failed))], &["no"]));
        a.on_event(loaded(vec![run("no", Some(Outcome::Failed))], &[]));
        assert!(a.notice.is_none());
        assert!(a.watched_runs.is_empty(), "nothing left to watch");
    }

    /// `x` and `r` in the Runs pane and `b` in Backups reach the engine, through the
    /// confirmation the registry asks for.
    #[test]
    fn the_runs_and_backups_keys_reach_the_engine() {
        use crate::engine::journal::Outcome;
        let v = Views::default();
        let mut a = app();
        a.engine = true;
        a.on_event(loaded(
            vec![run("open", None), run("stopped", Some(Outcome::Cancelled))],
            &["open"],
        ));
        a.on_key(key('7'), &v);
        assert_eq!(a.pane, Pane::Runs);
        assert!(a.on_key(key('x'), &v).is_empty(), "asks first");
        assert!(matches!(a.modals.last(), Some(Modal::Confirm(_))));
        assert_eq!(a.on_key(key('y'), &v), [Effect::CancelRun("open".into())]);
        a.on_key(key('j'), &v);
        assert!(a.on_key(key('r'), &v).is_empty(), "asks first");
        assert_eq!(
            a.on_key(key('y'), &v),
            [Effect::ResumeRun("stopped".into())]
        );
        // A run that ended cannot be cancelled: said, nothing sent.
        assert!(a.on_key(key('x'), &v).is_empty());
        assert!(a.modals.is_empty() && a.flash.is_some());

        a.go(Pane::Backups, Some("acme".into()));
        a.on_key(key('b'), &v);
        match a.modals.last() {
            Some(Modal::Run(form)) => assert_eq!(form.kind, WorkflowKind::Backup),
            other => panic!("the backup form: {other:?}"),
        }
    }

    #[test]
    fn scope_cycles_through_both_clusters() {
        let mut a = app();
        let v = Views::default();
        assert_eq!(a.scope, Scope::Both);
        // The fleet overview shows both clusters: `c` says so and changes nothing that
        // would silently filter the next pane.
        a.on_key(key('c'), &v);
        assert_eq!(a.scope, Scope::Both);
        assert!(
            a.flash
                .as_ref()
                .is_some_and(|f| f.text.contains("c applies in Pods"))
        );
        a.pane = Pane::Pods;
        a.on_key(key('c'), &v);
        assert_eq!(a.scope, Scope::Sc);
        a.on_key(key('c'), &v);
        assert_eq!(a.scope, Scope::Wc);
        a.on_key(key('c'), &v);
        assert_eq!(a.scope, Scope::Both);
    }

    /// Types `line` on the `:` line and presses Enter.
    fn command(a: &mut App, line: &str, v: &Views) -> Vec<Effect> {
        a.on_key(key(':'), v);
        for c in line.chars() {
            a.on_key(key(c), v);
        }
        a.on_key(code(KeyCode::Enter), v)
    }

    #[test]
    fn workflow_commands_pass_the_same_gate_as_keys() {
        let v = Views::default();
        let run_form_open = |a: &App| matches!(a.modals.last(), Some(Modal::Run(_)));
        // No engine: the command is refused with the registry entry's reason.
        let mut a = app();
        command(&mut a, "scale acme wc 5", &v);
        assert!(!run_form_open(&a));
        let flash = a.flash.clone().expect("a message says why");
        assert!(flash.text.contains(NO_ENGINE), "{flash:?}");
        // Read-only: refused as the key is.
        let mut a = app();
        a.engine = true;
        a.read_only = true;
        command(&mut a, "drain acme wc", &v);
        assert!(!run_form_open(&a));
        assert!(a.flash.clone().unwrap().text.contains("read-only"));
        // Both allowed: the form opens.
        let mut a = app();
        a.engine = true;
        command(&mut a, "scale acme wc 5", &v);
        assert!(run_form_open(&a), "{:?}", a.flash);
    }

    #[test]
    fn the_registry_says_which_actions_need_the_engine_and_ask_first() {
        let a = app();
        for spec in keymap::REGISTRY.iter() {
            let engine_action = matches!(
                spec.action,
                Action::CancelRun
                    | Action::ResumeRun
                    | Action::ScaleWorkers
                    | Action::BackupNow
                    | Action::DrainNode
                    | Action::RestoreBackup
                    | Action::Delete
                    | Action::Cordon
                    | Action::Uncordon
                    | Action::Restart
                    | Action::Edit
                    | Action::Shell
                    | Action::PortForward
            ) || matches!(spec.id, "backups.describe" | "backups.logs");
            assert_eq!(spec.needs_engine, engine_action, "{}", spec.id);
            if spec.needs_engine {
                assert_eq!(
                    a.availability(spec, None),
                    Availability::Unavailable(NO_ENGINE.into()),
                    "{}",
                    spec.id
                );
            }
            // Every action that asks first has a question to ask.
            if spec.confirm {
                assert!(
                    matches!(
                        spec.action,
                        Action::Expire
                            | Action::CancelRun
                            | Action::ResumeRun
                            | Action::Delete
                            | Action::Cordon
                            | Action::Uncordon
                            | Action::Restart
                    ),
                    "{} is marked confirm but App::confirmation has no question for it",
                    spec.id
                );
            }
        }
    }

    /// Types `text` into whatever has the focus.
    fn type_in(a: &mut App, text: &str, v: &Views) {
        for c in text.chars() {
            a.on_key(key(c), v);
        }
    }

    #[test]
    fn backspace_and_delete_edit_every_text_field() {
        let v = Views::default();
        // Most terminals send 0x7f, which crossterm reads as Backspace.
        let backspace = code(KeyCode::Backspace);
        // The / filter.
        let mut a = app();
        a.on_key(key('/'), &v);
        type_in(&mut a, "payx", &v);
        a.on_key(backspace, &v);
        assert_eq!(a.filter(), "pay");
        a.on_key(code(KeyCode::Home), &v);
        a.on_key(code(KeyCode::Delete), &v);
        assert_eq!(a.filter(), "ay");
        // The : line.
        let mut a = app();
        a.on_key(key(':'), &v);
        type_in(&mut a, "slx", &v);
        a.on_key(backspace, &v);
        type_in(&mut a, "o", &v);
        assert_eq!(a.input.as_ref().unwrap().value(), "slo");
        // The silence form: the comment has the focus.
        let mut a = app();
        a.modals.push(Modal::Silence(Box::new(SilenceForm::new(
            &[&super::super::modals::silence::test_alert()],
            "op",
        ))));
        type_in(&mut a, "fixx", &v);
        a.on_key(backspace, &v);
        let Some(Modal::Silence(form)) = a.modals.last() else {
            panic!("the form closed")
        };
        assert_eq!(form.value(super::super::modals::silence::COMMENT), "fix");
        // The workflow form's parameter.
        let mut a = app();
        a.engine = true;
        command(&mut a, "scale acme wc", &v);
        type_in(&mut a, "57", &v);
        a.on_key(backspace, &v);
        let Some(Modal::Run(form)) = a.modals.last() else {
            panic!("the workflow form is open: {:?}", a.flash)
        };
        assert_eq!(form.param("workers"), "5");
    }

    #[test]
    fn a_key_that_does_nothing_says_so() {
        let v = Views::default();
        let mut a = app();
        a.on_key(key('y'), &v);
        let flash = a.flash.clone().expect("a message");
        assert_eq!(flash.text, "y: no action here; ? for help");
    }

    #[test]
    fn a_failed_command_leaves_an_empty_line_for_the_next() {
        let v = Views::default();
        let mut a = app();
        a.themes = vec!["dark".into(), "light".into()];
        command(&mut a, "theme nope", &v);
        assert!(a.input.is_none());
        assert!(a.flash.clone().unwrap().text.contains("theme nope"));
        a.on_key(key(':'), &v);
        type_in(&mut a, "theme dark", &v);
        assert_eq!(a.input.as_ref().unwrap().value(), "theme dark");
        let effects = a.on_key(code(KeyCode::Enter), &v);
        assert_eq!(effects, vec![Effect::SetTheme("dark".into())]);
    }
}
