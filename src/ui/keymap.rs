//! THE action registry: every action the console offers, declared once with its keys,
//! where it applies, how dangerous it is, the Kubernetes permission it needs and whether
//! it asks first. Help, the footer, read-only mode and permission checks are all derived
//! from this table, so a new action cannot forget one of them (k9s leaked write actions
//! into read-only mode through views that forgot their checks: k9s#857, #3822).

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use std::sync::LazyLock;

use super::nav::{Move, Pane, with_panes};
use crate::engine::workflows::WorkflowKind;

/// What a key asks for. Actions that need a target act on the selection of the pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Quit,
    Help,
    Command,
    Filter,
    Back,
    NextPane,
    PrevPane,
    Go(Pane),
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Open,
    CycleScope,
    SortNext,
    SortReverse,
    Logs,
    Silence,
    Silences,
    Expire,
    GroupBy,
    CancelRun,
    ResumeRun,
    /// Open the workflow form for scaling the workers of a cluster.
    ScaleWorkers,
    /// Open the workflow form for an on-demand backup.
    BackupNow,
    /// Open the workflow form for draining the selected node.
    DrainNode,
    /// Open the workflow form for restoring the selected backup.
    RestoreBackup,
    /// Runs pane: the audit history instead of the selected run's steps.
    ToggleAudit,
    /// Cluster pane: every warning event, whole.
    Events,
    /// A pod's YAML.
    Yaml,
    /// Mark or unmark the selected row; actions that take several rows act on the marked.
    Mark,
    /// Delete the marked pods, or the selected one.
    Delete,
    Cordon,
    Uncordon,
    /// A rolling restart of the selected Deployment, StatefulSet or DaemonSet.
    Restart,
    /// The object an event is about; in a description, what the object owns.
    Involved,
    /// `kubectl describe` of the selected object.
    Describe,
    /// The log of the pod's next container.
    Container,
    /// Timestamps on the log's lines on or off.
    Timestamps,
    /// The log since the next step of [`crate::ui::modals::pod::SINCE`].
    Since,
    /// The next line the log search finds.
    NextMatch,
    /// The previous line the log search finds.
    PrevMatch,
    /// The log's kept lines to a file.
    Save,
    /// The object that controls the selected one.
    Owner,
    /// The log of a restarted container's previous run.
    Previous,
    /// A shell in the pod: `kubectl exec -it`, with the terminal handed over.
    Shell,
    /// The pod's ports forwarded: `kubectl port-forward`, with the terminal handed over.
    PortForward,
    /// Edit the selected object in `$EDITOR`, then see the server's dry-run diff.
    Edit,
    /// The selected row's name to the terminal's clipboard (OSC 52).
    Copy,
    /// The object an alert is about: its pod, node, workload or namespace.
    Subject,
    NextTab,
    PrevTab,
    Follow,
    Wrap,
    Close,
    NextField,
    PrevField,
    Submit,
    Confirm,
    Complete,
}

impl Action {
    /// The step this action moves a list or a scroll position by, if it is a movement.
    pub fn movement(self) -> Option<Move> {
        Some(match self {
            Action::Up => Move::Up,
            Action::Down => Move::Down,
            Action::PageUp => Move::PageUp,
            Action::PageDown => Move::PageDown,
            Action::Top => Move::Top,
            Action::Bottom => Move::Bottom,
            _ => return None,
        })
    }

    /// The workflow whose form this action opens: the one pairing of keys and workflows,
    /// which the state machine follows and `:` commands are gated by.
    pub fn workflow(self) -> Option<WorkflowKind> {
        Some(match self {
            Action::ScaleWorkers => WorkflowKind::Scale,
            Action::BackupNow => WorkflowKind::Backup,
            Action::DrainNode => WorkflowKind::Drain,
            Action::RestoreBackup => WorkflowKind::Restore,
            _ => return None,
        })
    }
}

/// Where an action's keys apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Context {
    Global,
    /// Moving in any list or scrollable text.
    Navigation,
    Pane(Pane),
    /// The silence list inside the alerts pane.
    Silences,
    PodDetails,
    AlertDetails,
    /// A row's details.
    Details,
    Help,
    SilenceForm,
    RunForm,
    /// The in-app editor: every other key edits the text.
    Editor,
    Confirm,
    /// The `/` filter and `:` command line.
    Input,
    /// Closing any overlay.
    Overlay,
}

impl Context {
    pub fn title(self) -> &'static str {
        match self {
            Context::Global => "Global",
            Context::Navigation => "Moving",
            Context::Pane(p) => p.title(),
            Context::Silences => "Silences",
            Context::PodDetails => "Pod details",
            Context::AlertDetails => "Alert details",
            Context::Details => "Details",
            Context::Help => "Help",
            Context::SilenceForm => "Silence form",
            Context::RunForm => "Workflow form",
            Context::Editor => "Editor (no $VISUAL or $EDITOR)",
            Context::Confirm => "Confirmation",
            Context::Input => "Filter and command line",
            Context::Overlay => "Overlays",
        }
    }
}

/// How much harm an action can do. Read-only mode disables all but `Safe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Danger {
    Safe,
    /// Changes something that is easy to undo (a silence).
    Caution,
    /// Changes something that is hard to undo.
    Danger,
}

impl Danger {
    pub fn label(self) -> &'static str {
        match self {
            Danger::Safe => "",
            Danger::Caution => "caution",
            Danger::Danger => "danger",
        }
    }
}

pub use ck8s_model::access::Rbac;

/// A key as the registry names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    Char(char),
    Ctrl(char),
    Enter,
    Esc,
    Tab,
    BackTab,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Home,
    End,
    /// Bound to nothing outside a text field, where it deletes; named so that it reaches
    /// the field (and, elsewhere, gets a "no action here").
    Backspace,
    Delete,
}

impl Key {
    /// The registry key of a terminal key press; `None` for releases and keys the
    /// console does not bind.
    pub fn from_event(ev: &KeyEvent) -> Option<Key> {
        if ev.kind == KeyEventKind::Release {
            return None;
        }
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        Some(match ev.code {
            KeyCode::Char(c) if ctrl => Key::Ctrl(c.to_ascii_lowercase()),
            KeyCode::Char(c) => Key::Char(c),
            KeyCode::Enter => Key::Enter,
            KeyCode::Esc => Key::Esc,
            KeyCode::Tab => Key::Tab,
            KeyCode::BackTab => Key::BackTab,
            KeyCode::Up => Key::Up,
            KeyCode::Down => Key::Down,
            KeyCode::Left => Key::Left,
            KeyCode::Right => Key::Right,
            KeyCode::PageUp => Key::PageUp,
            KeyCode::PageDown => Key::PageDown,
            KeyCode::Home => Key::Home,
            KeyCode::End => Key::End,
            KeyCode::Backspace => Key::Backspace,
            KeyCode::Delete => Key::Delete,
            _ => return None,
        })
    }

    pub fn label(self) -> String {
        match self {
            Key::Char(' ') => "Space".into(),
            Key::Char(c) => c.to_string(),
            Key::Ctrl(c) => format!("Ctrl-{c}"),
            Key::Enter => "Enter".into(),
            Key::Esc => "Esc".into(),
            Key::Tab => "Tab".into(),
            Key::BackTab => "S-Tab".into(),
            Key::Up => "↑".into(),
            Key::Down => "↓".into(),
            Key::Left => "←".into(),
            Key::Right => "→".into(),
            Key::PageUp => "PgUp".into(),
            Key::PageDown => "PgDn".into(),
            Key::Home => "Home".into(),
            Key::End => "End".into(),
            Key::Backspace => "Backspace".into(),
            Key::Delete => "Del".into(),
        }
    }
}

/// The gate entry of a workflow started by name (`:NAME`) that has no key of its own.
static WORKFLOW_BY_NAME: ActionSpec = ActionSpec::new(
    "workflow.by-name",
    Action::Command,
    &[],
    Context::Global,
    "start a workflow",
)
.danger(Danger::Caution)
.engine();

/// The gate entry of `:replicas N`, which has no key of its own.
pub static REPLICAS_BY_COMMAND: ActionSpec = ActionSpec::new(
    "objects.replicas",
    Action::Command,
    &[],
    Context::Pane(Pane::Objects),
    "scale the selected object",
)
.danger(Danger::Caution)
.engine();

/// The gate entry of `:reveal`, which has no key of its own: a read, but one the engine
/// gates and audits.
pub static REVEAL_BY_COMMAND: ActionSpec = ActionSpec::new(
    "objects.reveal",
    Action::Command,
    &[],
    Context::Pane(Pane::Objects),
    "reveal one value of a Secret",
)
.engine();

/// The gate entry of `:create`, which has no key of its own.
pub static CREATE_BY_COMMAND: ActionSpec = ActionSpec::new(
    "objects.create",
    Action::Command,
    &[],
    Context::Pane(Pane::Objects),
    "create an object from YAML",
)
.danger(Danger::Caution)
.engine();

/// The registry entry whose key opens `kind`'s form, so that a `:` command starting a
/// workflow passes the same gate as the key; a workflow without a key passes as
/// [`WORKFLOW_BY_NAME`].
pub fn workflow_spec(kind: WorkflowKind) -> &'static ActionSpec {
    REGISTRY
        .iter()
        .find(|s| s.action.workflow() == Some(kind))
        .unwrap_or(&WORKFLOW_BY_NAME)
}

/// One entry of the registry.
#[derive(Debug, Clone, Copy)]
pub struct ActionSpec {
    /// Stable name, e.g. `pods.logs`: the key of permission results.
    pub id: &'static str,
    pub action: Action,
    pub keys: &'static [Key],
    pub context: Context,
    pub label: &'static str,
    pub danger: Danger,
    pub rbac: Option<Rbac>,
    /// Asks "are you sure?" before acting: the gate shows the question and acts only on
    /// yes.
    pub confirm: bool,
    /// Works only with the workflow engine; off (and said why) without it.
    pub needs_engine: bool,
    /// Listed in the footer of its context.
    pub footer: bool,
    /// The k9s key for the same action, where the console's differs (a k9s key that the
    /// console uses for something else): help shows it beside.
    pub k9s: Option<&'static str>,
}

impl ActionSpec {
    const fn new(
        id: &'static str,
        action: Action,
        keys: &'static [Key],
        context: Context,
        label: &'static str,
    ) -> ActionSpec {
        ActionSpec {
            id,
            action,
            keys,
            context,
            label,
            danger: Danger::Safe,
            rbac: None,
            confirm: false,
            needs_engine: false,
            footer: false,
            k9s: None,
        }
    }

    const fn danger(mut self, d: Danger) -> Self {
        self.danger = d;
        self
    }

    const fn rbac(
        mut self,
        verb: &'static str,
        resource: &'static str,
        subresource: &'static str,
    ) -> Self {
        self.rbac = Some(Rbac {
            verb,
            group: "",
            resource,
            subresource,
        });
        self
    }

    /// The API group of the resource [`Spec::rbac`] names (the core group otherwise).
    const fn in_group(mut self, group: &'static str) -> Self {
        if let Some(rbac) = self.rbac.as_mut() {
            rbac.group = group;
        }
        self
    }

    const fn confirm(mut self) -> Self {
        self.confirm = true;
        self
    }

    const fn engine(mut self) -> Self {
        self.needs_engine = true;
        self
    }

    const fn footer(mut self) -> Self {
        self.footer = true;
        self
    }

    const fn k9s(mut self, key: &'static str) -> Self {
        self.k9s = Some(key);
        self
    }

    pub fn keys_label(&self) -> String {
        self.keys
            .iter()
            .map(|k| k.label())
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The shortest key, for the footer.
    pub fn first_key(&self) -> String {
        self.keys.first().map(|k| k.label()).unwrap_or_default()
    }
}

use Action as A;
use Context as C;
use Key as K;

const fn spec(
    id: &'static str,
    action: Action,
    keys: &'static [Key],
    context: Context,
    label: &'static str,
) -> ActionSpec {
    ActionSpec::new(id, action, keys, context, label)
}

/// Every action, by context, in the order of help and footer: the actions below, then
/// one number key per registered pane.
pub static REGISTRY: LazyLock<Vec<ActionSpec>> =
    LazyLock::new(|| ACTIONS.iter().chain(&PANE_KEYS).copied().collect());

/// `PANE_KEYS`: the number key of each registered pane (`nav::with_panes!`).
macro_rules! pane_keys {
    ($($pane:ident $module:ident: $view:ident, $title:literal, $reach:ident, $about:literal;)*) => {
        const PANE_KEYS: [ActionSpec; Pane::ALL.len()] = [$(
            spec(
                concat!("global.", stringify!($module)),
                A::Go(Pane::$pane),
                &[K::Char(Pane::$pane.digit())],
                C::Global,
                $about,
            ),
        )*];
    };
}
with_panes!(pane_keys);

/// The actions other than going to a pane.
static ACTIONS: &[ActionSpec] = &[
    // Fleet overview.
    spec(
        "fleet.open",
        A::Open,
        &[K::Enter],
        C::Pane(Pane::Fleet),
        "open environment",
    )
    .footer(),
    // Pods.
    spec(
        "pods.details",
        A::Open,
        &[K::Enter],
        C::Pane(Pane::Pods),
        "details",
    )
    .footer()
    .rbac("get", "pods", ""),
    spec(
        "pods.logs",
        A::Logs,
        &[K::Char('l')],
        C::Pane(Pane::Pods),
        "logs",
    )
    .footer()
    .rbac("get", "pods", "log"),
    spec(
        "fleet.sort",
        A::SortNext,
        &[K::Char('s')],
        C::Pane(Pane::Fleet),
        "sort by attention or name",
    )
    .footer(),
    spec(
        "pods.copy",
        A::Copy,
        &[K::Char('Y')],
        C::Pane(Pane::Pods),
        "copy the name (namespace/name)",
    )
    .k9s("c"),
    spec(
        "pods.shell",
        A::Shell,
        &[K::Char('a')],
        C::Pane(Pane::Pods),
        "shell (kubectl exec)",
    )
    .engine()
    .danger(Danger::Caution)
    .rbac("create", "pods", "exec")
    .k9s("s"),
    spec(
        "pods.port-forward",
        A::PortForward,
        &[K::Char('F')],
        C::Pane(Pane::Pods),
        "port-forward (kubectl port-forward)",
    )
    .engine()
    .danger(Danger::Caution)
    .rbac("create", "pods", "portforward"),
    spec(
        "pod.port-forward",
        A::PortForward,
        &[K::Char('F')],
        C::PodDetails,
        "port-forward (kubectl port-forward)",
    )
    .engine()
    .danger(Danger::Caution)
    .rbac("create", "pods", "portforward"),
    spec(
        "pod.shell",
        A::Shell,
        &[K::Char('a')],
        C::PodDetails,
        "shell (kubectl exec)",
    )
    .engine()
    .danger(Danger::Caution)
    .rbac("create", "pods", "exec")
    .k9s("s"),
    spec(
        "pods.previous",
        A::Previous,
        &[K::Char('p')],
        C::Pane(Pane::Pods),
        "previous run's log",
    )
    .rbac("get", "pods", "log"),
    spec(
        "pods.yaml",
        A::Yaml,
        &[K::Char('y')],
        C::Pane(Pane::Pods),
        "YAML",
    )
    .rbac("get", "pods", ""),
    spec(
        "pods.owner",
        A::Owner,
        &[K::Char('J')],
        C::Pane(Pane::Pods),
        "the pod's owner (ReplicaSet, StatefulSet…)",
    ),
    spec(
        "pods.mark",
        A::Mark,
        &[K::Char(' ')],
        C::Pane(Pane::Pods),
        "mark / unmark",
    ),
    spec(
        "objects.mark",
        A::Mark,
        &[K::Char(' ')],
        C::Pane(Pane::Objects),
        "mark / unmark",
    ),
    spec(
        "alerts.mark",
        A::Mark,
        &[K::Char(' ')],
        C::Pane(Pane::Alerts),
        "mark / unmark",
    ),
    spec(
        "pods.delete",
        A::Delete,
        &[K::Char('x'), K::Delete],
        C::Pane(Pane::Pods),
        "delete pods…",
    )
    .engine()
    .danger(Danger::Danger)
    .rbac("delete", "pods", "")
    .confirm()
    .k9s("Ctrl-D"),
    spec(
        "pods.sort",
        A::SortNext,
        &[K::Char('s')],
        C::Pane(Pane::Pods),
        "sort by next column",
    )
    .footer(),
    spec(
        "pods.reverse",
        A::SortReverse,
        &[K::Char('S')],
        C::Pane(Pane::Pods),
        "reverse sort",
    ),
    // Alerts.
    spec(
        "alerts.details",
        A::Open,
        &[K::Enter],
        C::Pane(Pane::Alerts),
        "details",
    )
    .footer(),
    spec(
        "alerts.silence",
        A::Silence,
        &[K::Char('s')],
        C::Pane(Pane::Alerts),
        "silence",
    )
    .footer()
    .danger(Danger::Caution),
    spec(
        "alerts.silences",
        A::Silences,
        &[K::Char('S')],
        C::Pane(Pane::Alerts),
        "list silences",
    )
    .footer(),
    spec(
        "alerts.subject",
        A::Subject,
        &[K::Char('O')],
        C::Pane(Pane::Alerts),
        "open its pod, node or workload",
    ),
    spec(
        "alert.subject",
        A::Subject,
        &[K::Char('O')],
        C::AlertDetails,
        "open its pod, node or workload",
    ),
    spec(
        "alerts.copy",
        A::Copy,
        &[K::Char('Y')],
        C::Pane(Pane::Alerts),
        "copy its link (the rule's graph)",
    )
    .k9s("c"),
    spec(
        "alert.copy",
        A::Copy,
        &[K::Char('Y')],
        C::AlertDetails,
        "copy its link (the rule's graph)",
    )
    .k9s("c"),
    spec(
        "alerts.group",
        A::GroupBy,
        &[K::Char('o')],
        C::Pane(Pane::Alerts),
        "group by name/severity",
    ),
    spec(
        "silences.expire",
        A::Expire,
        &[K::Char('x')],
        C::Silences,
        "expire silence",
    )
    .footer()
    .danger(Danger::Caution)
    .confirm(),
    spec(
        "silences.details",
        A::Open,
        &[K::Enter],
        C::Silences,
        "details",
    )
    .footer(),
    spec(
        "silences.alerts",
        A::Silences,
        &[K::Char('S')],
        C::Silences,
        "back to alerts",
    )
    .footer(),
    // Cluster.
    spec(
        "cluster.details",
        A::Open,
        &[K::Enter],
        C::Pane(Pane::Cluster),
        "node details",
    )
    .footer(),
    spec(
        "cluster.events",
        A::Events,
        &[K::Char('e')],
        C::Pane(Pane::Cluster),
        "all warning events",
    )
    .footer(),
    spec(
        "objects.yaml",
        A::Yaml,
        &[K::Enter, K::Char('y')],
        C::Pane(Pane::Objects),
        "YAML",
    )
    .footer(),
    spec(
        "objects.describe",
        A::Describe,
        &[K::Char('d')],
        C::Pane(Pane::Objects),
        "describe",
    )
    .footer(),
    spec(
        "objects.owner",
        A::Owner,
        &[K::Char('J')],
        C::Pane(Pane::Objects),
        "its owner (what controls it)",
    ),
    spec(
        "objects.edit",
        A::Edit,
        &[K::Char('e')],
        C::Pane(Pane::Objects),
        "edit ($EDITOR), diff, apply",
    )
    .engine()
    .danger(Danger::Caution),
    spec(
        "objects.copy",
        A::Copy,
        &[K::Char('Y')],
        C::Pane(Pane::Objects),
        "copy the name (namespace/name)",
    )
    .k9s("c"),
    spec(
        "objects.involved",
        A::Involved,
        &[K::Char('o')],
        C::Pane(Pane::Objects),
        "an event's object",
    ),
    spec(
        "objects.sort",
        A::SortNext,
        &[K::Char('s')],
        C::Pane(Pane::Objects),
        "sort by next column",
    ),
    spec(
        "objects.reverse",
        A::SortReverse,
        &[K::Char('S')],
        C::Pane(Pane::Objects),
        "reverse sort",
    ),
    spec(
        "objects.delete",
        A::Delete,
        &[K::Char('x'), K::Delete],
        C::Pane(Pane::Objects),
        "delete…",
    )
    .engine()
    .danger(Danger::Danger)
    .confirm()
    .k9s("Ctrl-D"),
    spec(
        "objects.restart",
        A::Restart,
        &[K::Char('r')],
        C::Pane(Pane::Objects),
        "restart (rollout)…",
    )
    .engine()
    .danger(Danger::Caution)
    .confirm(),
    spec(
        "cluster.cordon",
        A::Cordon,
        &[K::Char('C')],
        C::Pane(Pane::Cluster),
        "cordon node",
    )
    .engine()
    .danger(Danger::Caution)
    .rbac("patch", "nodes", "")
    .confirm()
    .k9s("c"),
    spec(
        "cluster.uncordon",
        A::Uncordon,
        &[K::Char('U'), K::Char('u')],
        C::Pane(Pane::Cluster),
        "uncordon node",
    )
    .engine()
    .danger(Danger::Caution)
    .rbac("patch", "nodes", "")
    .confirm(),
    spec(
        "cluster.scale",
        A::ScaleWorkers,
        &[K::Char('w')],
        C::Pane(Pane::Cluster),
        "scale workers…",
    )
    .engine()
    .footer()
    .danger(Danger::Caution),
    spec(
        "cluster.drain",
        A::DrainNode,
        &[K::Char('d')],
        C::Pane(Pane::Cluster),
        "drain node…",
    )
    .engine()
    .footer()
    .danger(Danger::Danger)
    // Evictions happen in the node's own cluster; the plan checks the rest.
    .rbac("create", "pods", "eviction"),
    // Backups.
    spec(
        "backups.details",
        A::Open,
        &[K::Enter],
        C::Pane(Pane::Backups),
        "details",
    )
    .footer(),
    spec(
        "backups.describe",
        A::Describe,
        &[K::Char('d')],
        C::Pane(Pane::Backups),
        "describe",
    )
    .footer()
    .rbac("create", "downloadrequests", "")
    .in_group("velero.io")
    .engine()
    .danger(Danger::Caution),
    spec(
        "backups.logs",
        A::Logs,
        &[K::Char('l')],
        C::Pane(Pane::Backups),
        "log",
    )
    .footer()
    .rbac("create", "downloadrequests", "")
    .in_group("velero.io")
    .engine()
    .danger(Danger::Caution),
    spec(
        "backups.restore",
        A::RestoreBackup,
        &[K::Char('R')],
        C::Pane(Pane::Backups),
        "restore backup…",
    )
    .engine()
    .footer()
    .danger(Danger::Danger),
    spec(
        "backups.backup-now",
        A::BackupNow,
        &[K::Char('b')],
        C::Pane(Pane::Backups),
        "back up now…",
    )
    .engine()
    .footer()
    .danger(Danger::Caution),
    // SLO.
    spec(
        "slo.details",
        A::Open,
        &[K::Enter],
        C::Pane(Pane::Slo),
        "details",
    )
    .footer(),
    // Runs.
    spec(
        "runs.details",
        A::Open,
        &[K::Enter],
        C::Pane(Pane::Runs),
        "details",
    )
    .footer(),
    spec(
        "runs.audit",
        A::ToggleAudit,
        &[K::Char('a')],
        C::Pane(Pane::Runs),
        "audit history / run steps",
    )
    .footer(),
    spec(
        "runs.cancel",
        A::CancelRun,
        &[K::Char('x')],
        C::Pane(Pane::Runs),
        "cancel run",
    )
    .engine()
    .footer()
    .danger(Danger::Danger)
    .confirm(),
    spec(
        "runs.resume",
        A::ResumeRun,
        &[K::Char('r')],
        C::Pane(Pane::Runs),
        "resume run",
    )
    .engine()
    .footer()
    .danger(Danger::Caution)
    .confirm(),
    // Pod details.
    spec(
        "pod.next-tab",
        A::NextTab,
        &[K::Tab, K::Right],
        C::PodDetails,
        "next tab",
    )
    .footer(),
    spec(
        "pod.prev-tab",
        A::PrevTab,
        &[K::BackTab, K::Left],
        C::PodDetails,
        "previous tab",
    ),
    spec("pod.logs", A::Logs, &[K::Char('l')], C::PodDetails, "logs").rbac("get", "pods", "log"),
    spec("pod.yaml", A::Yaml, &[K::Char('y')], C::PodDetails, "YAML").footer(),
    spec(
        "pod.previous",
        A::Previous,
        &[K::Char('p')],
        C::PodDetails,
        "previous run's log / current log",
    )
    .rbac("get", "pods", "log"),
    spec(
        "pod.container",
        A::Container,
        &[K::Char('c')],
        C::PodDetails,
        "log and shell of the next container",
    )
    .rbac("get", "pods", "log"),
    spec(
        "pod.timestamps",
        A::Timestamps,
        &[K::Char('t')],
        C::PodDetails,
        "timestamps on/off",
    )
    .rbac("get", "pods", "log"),
    spec(
        "pod.since",
        A::Since,
        &[K::Char('s')],
        C::PodDetails,
        "log since: last 200 lines, 1m, 5m, 15m, 1h, 1d",
    )
    .rbac("get", "pods", "log"),
    spec(
        "pod.search",
        A::Filter,
        &[K::Char('/')],
        C::PodDetails,
        "search the log",
    )
    .rbac("get", "pods", "log"),
    spec(
        "pod.next-match",
        A::NextMatch,
        &[K::Char('n')],
        C::PodDetails,
        "next match",
    ),
    spec(
        "pod.prev-match",
        A::PrevMatch,
        &[K::Char('N')],
        C::PodDetails,
        "previous match",
    ),
    spec(
        "pod.save",
        A::Save,
        &[K::Ctrl('s')],
        C::PodDetails,
        "save the log to a file",
    ),
    spec(
        "pod.follow",
        A::Follow,
        &[K::Char('f')],
        C::PodDetails,
        "follow logs on/off",
    )
    .footer(),
    spec(
        "pod.wrap",
        A::Wrap,
        &[K::Char('w')],
        C::PodDetails,
        "wrap long log lines on/off",
    )
    .footer(),
    // A row's details.
    spec(
        "details.wrap",
        A::Wrap,
        &[K::Char('w')],
        C::Details,
        "wrap long lines on/off",
    )
    .footer(),
    spec(
        "details.open",
        A::Open,
        &[K::Enter],
        C::Details,
        "next level (a node's pods); apply an edit",
    ),
    spec(
        "details.owner",
        A::Owner,
        &[K::Char('J')],
        C::Details,
        "a described object's owner",
    ),
    spec(
        "details.owned",
        A::Involved,
        &[K::Char('o')],
        C::Details,
        "what a described object owns",
    ),
    spec(
        "details.search",
        A::Filter,
        &[K::Char('/')],
        C::Details,
        "search",
    )
    .footer(),
    spec(
        "details.next-match",
        A::NextMatch,
        &[K::Char('n')],
        C::Details,
        "next match",
    ),
    spec(
        "details.prev-match",
        A::PrevMatch,
        &[K::Char('N')],
        C::Details,
        "previous match",
    ),
    spec(
        "details.copy",
        A::Copy,
        &[K::Char('Y')],
        C::Details,
        "copy an object's YAML shown",
    ),
    // Alert details.
    spec(
        "alert.silence",
        A::Silence,
        &[K::Char('s')],
        C::AlertDetails,
        "silence",
    )
    .footer()
    .danger(Danger::Caution),
    // Silence form.
    spec(
        "form.next",
        A::NextField,
        &[K::Tab, K::Down],
        C::SilenceForm,
        "next field",
    )
    .footer(),
    spec(
        "form.prev",
        A::PrevField,
        &[K::BackTab, K::Up],
        C::SilenceForm,
        "previous field",
    ),
    spec(
        "form.submit",
        A::Submit,
        &[K::Ctrl('s'), K::Enter],
        C::SilenceForm,
        "create silence",
    )
    .footer()
    .danger(Danger::Caution),
    spec("form.cancel", A::Close, &[K::Esc], C::SilenceForm, "cancel").footer(),
    // The in-app editor.
    spec(
        "editor.save",
        A::Submit,
        &[K::Ctrl('s')],
        C::Editor,
        "the server's dry run, then its diff",
    )
    .footer(),
    spec(
        "editor.close",
        A::Close,
        &[K::Esc],
        C::Editor,
        "close, keeping your text",
    )
    .footer(),
    // Workflow form.
    spec(
        "run-form.next",
        A::NextField,
        &[K::Tab, K::Down],
        C::RunForm,
        "next field",
    )
    .footer(),
    spec(
        "run-form.prev",
        A::PrevField,
        &[K::BackTab, K::Up],
        C::RunForm,
        "previous field",
    ),
    spec(
        "run-form.submit",
        A::Submit,
        &[K::Ctrl('s'), K::Enter],
        C::RunForm,
        "check the plan, then start the run",
    )
    .footer()
    .danger(Danger::Caution),
    spec("run-form.cancel", A::Close, &[K::Esc], C::RunForm, "cancel").footer(),
    spec(
        "run-form.plan-down",
        A::PageDown,
        &[K::PageDown],
        C::RunForm,
        "scroll the plan down",
    ),
    spec(
        "run-form.plan-up",
        A::PageUp,
        &[K::PageUp],
        C::RunForm,
        "scroll the plan up",
    ),
    // Confirmation.
    spec(
        "confirm.yes",
        A::Confirm,
        &[K::Char('y'), K::Enter],
        C::Confirm,
        "yes",
    )
    .footer(),
    spec(
        "confirm.no",
        A::Close,
        &[K::Char('n'), K::Esc],
        C::Confirm,
        "no",
    )
    .footer(),
    // Filter and command line.
    spec("input.apply", A::Submit, &[K::Enter], C::Input, "apply").footer(),
    spec(
        "input.complete",
        A::Complete,
        &[K::Tab],
        C::Input,
        "complete command",
    )
    .footer(),
    spec("input.cancel", A::Close, &[K::Esc], C::Input, "cancel").footer(),
    // Overlays.
    spec(
        "overlay.close",
        A::Close,
        &[K::Esc, K::Char('q')],
        C::Overlay,
        "close",
    )
    .footer(),
    // Moving.
    spec(
        "nav.down",
        A::Down,
        &[K::Char('j'), K::Down],
        C::Navigation,
        "down",
    ),
    spec("nav.up", A::Up, &[K::Char('k'), K::Up], C::Navigation, "up"),
    spec(
        "nav.page-down",
        A::PageDown,
        &[K::PageDown, K::Ctrl('d')],
        C::Navigation,
        "page down",
    ),
    spec(
        "nav.page-up",
        A::PageUp,
        &[K::PageUp, K::Ctrl('u')],
        C::Navigation,
        "page up",
    ),
    spec(
        "nav.top",
        A::Top,
        &[K::Char('g'), K::Home],
        C::Navigation,
        "first",
    ),
    spec(
        "nav.bottom",
        A::Bottom,
        &[K::Char('G'), K::End],
        C::Navigation,
        "last",
    ),
    // Global.
    spec(
        "global.filter",
        A::Filter,
        &[K::Char('/')],
        C::Global,
        "filter",
    )
    .footer(),
    spec(
        "global.scope",
        A::CycleScope,
        &[K::Char('c')],
        C::Global,
        "cluster sc/wc/both",
    )
    .footer(),
    spec(
        "global.command",
        A::Command,
        &[K::Char(':')],
        C::Global,
        "command",
    )
    .footer(),
    spec("global.help", A::Help, &[K::Char('?')], C::Global, "help").footer(),
    spec(
        "global.quit",
        A::Quit,
        &[K::Char('q'), K::Ctrl('c')],
        C::Global,
        "quit",
    )
    .footer(),
    spec(
        "global.back",
        A::Back,
        &[K::Esc],
        C::Global,
        "back / clear filter",
    ),
    spec(
        "global.next-pane",
        A::NextPane,
        &[K::Tab],
        C::Global,
        "next pane",
    ),
    spec(
        "global.prev-pane",
        A::PrevPane,
        &[K::BackTab],
        C::Global,
        "previous pane",
    ),
];

/// The first action bound to `key` in the first of `contexts` that binds it.
pub fn resolve(contexts: &[Context], key: Key) -> Option<&'static ActionSpec> {
    contexts.iter().find_map(|ctx| {
        REGISTRY
            .iter()
            .find(|s| s.context == *ctx && s.keys.contains(&key))
    })
}

/// The registry entry of `action` in the first of `contexts` that has it.
pub fn spec_of(contexts: &[Context], action: Action) -> Option<&'static ActionSpec> {
    contexts.iter().find_map(|ctx| {
        REGISTRY
            .iter()
            .find(|s| s.context == *ctx && s.action == action)
    })
}

pub fn by_id(id: &str) -> Option<&'static ActionSpec> {
    REGISTRY.iter().find(|s| s.id == id)
}

/// The actions that need a permission check.
pub fn with_rbac() -> impl Iterator<Item = &'static ActionSpec> {
    REGISTRY.iter().filter(|s| s.rbac.is_some())
}

/// The footer entries for `contexts`, most specific first.
pub fn footer(contexts: &[Context]) -> Vec<&'static ActionSpec> {
    contexts
        .iter()
        .flat_map(|ctx| {
            REGISTRY
                .iter()
                .filter(move |s| s.context == *ctx && s.footer)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_and_keys_do_not_clash_within_a_context() {
        let mut ids = HashSet::new();
        let mut keys = HashSet::new();
        for s in REGISTRY.iter() {
            assert!(ids.insert(s.id), "duplicate id {}", s.id);
            for k in s.keys {
                assert!(
                    keys.insert((s.context, *k)),
                    "{} reuses {k:?} in {:?}",
                    s.id,
                    s.context
                );
            }
        }
    }

    /// The registration of a pane (`nav::with_panes!`) is all it takes for its number
    /// key, which is its place in the tab strip.
    #[test]
    fn every_registered_pane_has_its_number_key() {
        for (i, pane) in Pane::ALL.into_iter().enumerate() {
            let digit = char::from_digit(i as u32 + 1, 10).expect("nine panes at most");
            let spec = resolve(&[Context::Global], Key::Char(digit)).expect("a key per pane");
            assert_eq!(spec.action, Action::Go(pane), "{digit}");
        }
    }

    #[test]
    fn pane_keys_win_over_global_ones() {
        let pods = [
            Context::Pane(Pane::Pods),
            Context::Navigation,
            Context::Global,
        ];
        assert_eq!(resolve(&pods, Key::Char('s')).unwrap().id, "pods.sort");
        assert_eq!(resolve(&pods, Key::Char('j')).unwrap().action, Action::Down);
        assert_eq!(resolve(&pods, Key::Char('q')).unwrap().action, Action::Quit);
        let alerts = [Context::Pane(Pane::Alerts), Context::Global];
        assert_eq!(
            resolve(&alerts, Key::Char('s')).unwrap().id,
            "alerts.silence"
        );
    }

    #[test]
    fn every_mutating_action_is_marked_and_confirms_or_has_a_form() {
        for s in REGISTRY.iter() {
            if matches!(s.action, Action::Expire | Action::CancelRun) {
                assert!(s.danger > Danger::Safe && s.confirm, "{}", s.id);
            }
            if matches!(s.action, Action::DrainNode | Action::RestoreBackup) {
                assert_eq!(s.danger, Danger::Danger, "{}", s.id);
            }
            if matches!(
                s.action,
                Action::Silence | Action::ScaleWorkers | Action::BackupNow
            ) || s.action == Action::Submit
                && matches!(s.context, Context::SilenceForm | Context::RunForm)
            {
                assert_eq!(s.danger, Danger::Caution, "{}", s.id);
            }
        }
    }

    #[test]
    fn key_events_map_to_registry_keys() {
        let ev = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(Key::from_event(&ev), Some(Key::Ctrl('c')));
        let ev = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(Key::from_event(&ev), Some(Key::Char('G')));
        assert_eq!(
            Rbac {
                verb: "get",
                group: "",
                resource: "pods",
                subresource: "log"
            }
            .describe(),
            "get pods/log"
        );
    }
}
