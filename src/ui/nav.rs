//! Where the user is: the panes, the cluster scope, a list's selection and scroll, and
//! whether an action is available. The vocabulary that the state machine (`app`), the
//! registry (`keymap`), the `:` line, the widgets and the modals share, so that none of
//! them has to import the state machine.

use std::cell::Cell;

use crate::config::ClusterRole;

/// The registration of the panes, in tab order: number keys follow it.
///
/// One line per pane:
/// - its `Pane` variant;
/// - its module under `panes/`, which is also its `:` command, the field that holds its
///   data in `Views` and its list in `app::Lists`;
/// - the type of that data in the module, a `panes::PaneView`;
/// - its title;
/// - its [`Reach`];
/// - what it shows, for help (`:help`, `?`).
///
/// Adding a pane is a file under `panes/` and a line here. Each user of the list passes
/// the name of a macro that receives it (`pane_enum` below, `views::views`, `app::lists`,
/// `keymap::pane_keys`, `command::pane_commands`), so the list is written once and every
/// place that must know all the panes is generated from it.
macro_rules! with_panes {
    ($then:ident) => {
        $then! {
            Fleet   fleet:   FleetView,   "Fleet",   Fleet, "fleet overview";
            Pods    pods:    PodsIndex,   "Pods",    Env,   "pods";
            Alerts  alerts:  AlertsView,  "Alerts",  Any,   "alerts";
            Cluster cluster: ClusterView, "Cluster", Env,   "cluster: nodes, Cluster API, events";
            Backups backups: BackupsView, "Backups", Env,   "backups";
            Slo     slo:     SloView,     "SLO",     Env,   "SLO";
            Runs    runs:    RunsView,    "Runs",    Fleet, "runs and audit";
            Objects objects: ObjectsView, "Objects", Env,   "objects of any kind: :deploy, :svc …";
        }
    };
}
pub(crate) use with_panes;

/// Where a pane looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The whole fleet, never one environment's clusters (the overview, the runs).
    Fleet,
    /// One environment or the whole fleet, in the clusters of the scope (the alerts).
    Any,
    /// One environment, in the clusters of the scope.
    Env,
}

/// The `Pane` enum and what is known of a pane without its data.
macro_rules! pane_enum {
    ($($pane:ident $module:ident: $view:ident, $title:literal, $reach:ident, $about:literal;)*) => {
        /// The panes, in tab order. Number keys follow this order.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Pane {
            $($pane,)*
        }

        impl Pane {
            pub const ALL: [Pane; [$($title),*].len()] = [$(Pane::$pane),*];

            pub fn title(self) -> &'static str {
                match self {
                    $(Pane::$pane => $title,)*
                }
            }

            pub const fn reach(self) -> Reach {
                match self {
                    $(Pane::$pane => Reach::$reach,)*
                }
            }
        }
    };
}
with_panes!(pane_enum);

// Number keys reach the panes: nine at most.
const _: () = assert!(Pane::ALL.len() <= 9);

impl Pane {
    /// Its place in the tab order, from 0.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Its number key.
    pub const fn digit(self) -> char {
        (b'1' + self as u8) as char
    }

    /// Panes that show one environment; the others also work fleet-wide.
    pub fn needs_env(self) -> bool {
        self.reach() == Reach::Env
    }

    /// Whether it shows the clusters of the scope (sc, wc or both), so its title says
    /// which.
    pub fn scoped(self) -> bool {
        self.reach() != Reach::Fleet
    }
}

/// Which of an environment's clusters a pane shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Scope {
    Sc,
    Wc,
    #[default]
    Both,
}

impl Scope {
    /// The scope of one cluster.
    pub fn of(role: ClusterRole) -> Scope {
        match role {
            ClusterRole::Sc => Scope::Sc,
            ClusterRole::Wc => Scope::Wc,
        }
    }

    pub fn roles(self) -> &'static [ClusterRole] {
        match self {
            Scope::Sc => &[ClusterRole::Sc],
            Scope::Wc => &[ClusterRole::Wc],
            Scope::Both => &ClusterRole::ALL,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Scope::Sc => "sc",
            Scope::Wc => "wc",
            Scope::Both => "sc+wc",
        }
    }

    pub fn next(self) -> Scope {
        match self {
            Scope::Both => Scope::Sc,
            Scope::Sc => Scope::Wc,
            Scope::Wc => Scope::Both,
        }
    }

    pub fn parse(word: &str) -> Option<Scope> {
        match word {
            "sc" => Some(Scope::Sc),
            "wc" => Some(Scope::Wc),
            "both" | "all" | "sc+wc" => Some(Scope::Both),
            _ => None,
        }
    }
}

/// The selection and scroll position of one list.
///
/// Drawing works from a shared view of the console (`&App`), and records only the
/// geometry it found: the first row shown and how many rows fit. Those two live in cells
/// so that the next key (PgDn, say) steps by what the user saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListState {
    pub selected: usize,
    pub len: usize,
    offset: Cell<usize>,
    page: Cell<usize>,
}

impl ListState {
    pub fn set_len(&mut self, len: usize) {
        self.len = len;
        self.selected = self.selected.min(len.saturating_sub(1));
    }

    /// Moves the selection, within the list.
    pub fn apply(&mut self, step: Move) {
        let last = self.len.saturating_sub(1);
        let page = self.page().max(1);
        self.selected = match step {
            Move::Up => self.selected.saturating_sub(1),
            Move::Down => (self.selected + 1).min(last),
            Move::PageUp => self.selected.saturating_sub(page),
            Move::PageDown => (self.selected + page).min(last),
            Move::Top => 0,
            Move::Bottom => last,
        };
    }

    /// The first row shown at the last frame.
    pub fn offset(&self) -> usize {
        self.offset.get()
    }

    /// The rows shown at the last frame: the step of PgUp/PgDn.
    pub fn page(&self) -> usize {
        self.page.get()
    }

    /// Records what the renderer drew: the first row and the rows that fit.
    pub fn drawn(&self, offset: usize, page: usize) {
        self.offset.set(offset);
        self.page.set(page);
    }

    /// The rows to draw in `height` lines, scrolling to keep the selection visible.
    pub fn window(&self, height: usize) -> std::ops::Range<usize> {
        let offset = scroll(self.offset(), self.selected, height, self.len);
        self.drawn(offset, height);
        offset..(offset + height).min(self.len)
    }
}

/// One step of a selection or a scroll position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
}

/// The first row to show so that `selected` stays visible, moving as little as possible.
pub fn scroll(offset: usize, selected: usize, height: usize, len: usize) -> usize {
    if height == 0 || len == 0 {
        return 0;
    }
    let max_offset = len.saturating_sub(height);
    let offset = if selected < offset {
        selected
    } else if selected >= offset + height {
        selected + 1 - height
    } else {
        offset
    };
    offset.min(max_offset)
}

/// Why an action cannot run now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Availability {
    Available,
    ReadOnly,
    Denied(String),
    Unavailable(String),
}

/// A column of the pods pane, by which it can be sorted (`:sort`, `s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PodColumn {
    Cluster,
    Namespace,
    Name,
    Ready,
    Status,
    Restarts,
    Age,
    Node,
    Cpu,
    Memory,
}

impl PodColumn {
    pub const ALL: [PodColumn; 10] = [
        PodColumn::Namespace,
        PodColumn::Name,
        PodColumn::Ready,
        PodColumn::Status,
        PodColumn::Restarts,
        PodColumn::Age,
        PodColumn::Node,
        PodColumn::Cpu,
        PodColumn::Memory,
        PodColumn::Cluster,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PodColumn::Cluster => "cluster",
            PodColumn::Namespace => "namespace",
            PodColumn::Name => "name",
            PodColumn::Ready => "ready",
            PodColumn::Status => "status",
            PodColumn::Restarts => "restarts",
            PodColumn::Age => "age",
            PodColumn::Node => "node",
            PodColumn::Cpu => "cpu",
            PodColumn::Memory => "memory",
        }
    }

    pub fn parse(word: &str) -> Option<PodColumn> {
        let word = word.to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|c| c.name() == word || (word == "mem" && *c == PodColumn::Memory))
    }

    /// Counts and usage read best largest first.
    pub fn default_descending(self) -> bool {
        matches!(
            self,
            PodColumn::Restarts | PodColumn::Cpu | PodColumn::Memory
        )
    }

    /// The column's position in [`COLUMNS`].
    pub fn index(self) -> usize {
        match self {
            PodColumn::Cluster => 0,
            PodColumn::Namespace => 1,
            PodColumn::Name => 2,
            PodColumn::Ready => 3,
            PodColumn::Status => 4,
            PodColumn::Restarts => 5,
            PodColumn::Age => 6,
            PodColumn::Node => 7,
            PodColumn::Cpu => 8,
            PodColumn::Memory => 9,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodSort {
    pub column: PodColumn,
    pub descending: bool,
}

impl Default for PodSort {
    fn default() -> Self {
        PodSort {
            column: PodColumn::Namespace,
            descending: false,
        }
    }
}

impl PodSort {
    pub fn next_column(self) -> PodSort {
        let all = PodColumn::ALL;
        let i = all.iter().position(|c| *c == self.column).unwrap_or(0);
        let column = all[(i + 1) % all.len()];
        PodSort {
            column,
            descending: column.default_descending(),
        }
    }
}
