//! The keyboard-driven console: the fleet, both clusters of each environment side by
//! side, pods, alerts, backups, SLO, runs.
//!
//! Layout of the module: [`app`] is the state machine (keys → actions → state and
//! effects), [`keymap`] the one action registry, [`views`] and [`panes`] copy and draw
//! the data, [`modals`] the overlays, [`tasks`] run the side effects, [`runtime`] is the
//! event loop, [`render`] the frame, [`theme`] the looks.

pub mod alert_text;
pub mod app;
pub mod bench;
pub mod command;
pub mod ctx;
pub use crate::filter;
pub mod export;
pub mod format;
pub mod handover;
pub mod keymap;
pub mod modals;
pub mod nav;
pub mod output;
pub mod panes;
pub mod render;
pub mod runtime;
pub mod tasks;
pub mod theme;
pub mod views;
pub mod widgets;

use std::path::PathBuf;
use std::sync::Arc;

use crate::sources::live::LiveFleet;

/// How the console starts.
#[derive(Debug, Clone, Default)]
pub struct UiOptions {
    /// User themes (`<name>.toml`), besides the built-in ones.
    pub themes_dir: PathBuf,
    /// A theme by name; `None` for the default (monochrome when `NO_COLOR` is set).
    pub theme: Option<String>,
    /// Disables every action the registry marks caution or danger.
    pub read_only: bool,
    /// The default author of silences; `$USER` when `None`.
    pub author: Option<String>,
    /// Open this environment at start instead of the fleet overview.
    pub env: Option<String>,
    /// The workflow engine; without it the console only watches.
    pub engine: Option<Arc<crate::engine::Engine>>,
}

/// Runs the console until the user quits or a signal arrives; returns the exit code
/// (0 on quit, 128 + the signal's number on SIGINT, SIGTERM or SIGHUP). The terminal is
/// restored on every way out, panics included.
pub async fn run(
    live: Arc<LiveFleet>,
    opts: UiOptions,
    theme: theme::Theme,
) -> anyhow::Result<i32> {
    runtime::run(live, opts, theme).await
}

/// The theme the options name (monochrome by default under `NO_COLOR`). Resolved before
/// anything starts, so a bad theme is reported while the terminal is still readable.
pub fn resolve_theme(opts: &UiOptions) -> Result<theme::Theme, theme::ThemeError> {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    theme::Theme::resolve(opts.theme.as_deref(), &opts.themes_dir, no_color)
}
