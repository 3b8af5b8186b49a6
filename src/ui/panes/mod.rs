//! One module per pane: the data it copies out of the state, and how it draws. Each
//! pane's data is a [`PaneView`]; `nav::with_panes!` registers it.

pub mod alerts;
pub mod backups;
pub mod cluster;
pub mod fleet;
pub mod objects;
pub mod pods;
pub mod runs;
pub mod slo;

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::app::{App, Pane, Scope};
use super::ctx::Ctx;
use super::filter::Filter;
use super::format;
use super::modals::details::Details;
use crate::config::ClusterRole;
use crate::state::health::{Source, SourceHealth};
use crate::state::{EnvHandle, FleetState};

/// What the data of a pane about one environment depends on: the state, the place, the
/// filter, and anything else the pane names in `extra`.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvKey<E = ()> {
    pub generation: u64,
    pub env: String,
    pub scope: Scope,
    pub filter: String,
    pub extra: E,
}

impl<E: PartialEq> EnvKey<E> {
    /// The key of `pane`'s data now, with the open environment and the parsed filter, or
    /// `None` when nothing is to be recopied: no environment is open, the key equals
    /// `last`, or the environment is gone. Store the key once the data is copied.
    pub fn changed<'s>(
        last: Option<&Self>,
        app: &App,
        state: &'s FleetState,
        pane: Pane,
        extra: E,
    ) -> Option<(Self, &'s Arc<EnvHandle>, Filter)> {
        let env_name = app.env.clone()?;
        let key = EnvKey {
            generation: state.changes.generation(),
            env: env_name,
            scope: app.scope,
            filter: app.filter_of(pane).to_string(),
            extra,
        };
        if last == Some(&key) {
            return None;
        }
        let env = state.env(&key.env)?;
        let filter = Filter::parse(&key.filter).unwrap_or_default();
        Some((key, env, filter))
    }
}

/// A pane: the data it copies out of the state before a frame, and how it draws that
/// data. Drawing works from `&self` and `&App` only, and takes no lock.
pub trait PaneView: std::fmt::Debug {
    /// The sources its data comes from, in a cluster of `role`; the pane notes those that
    /// are not fresh above its data.
    fn sources(&self, role: ClusterRole) -> &'static [Source] {
        let _ = role;
        &[]
    }

    /// Recopies the data if what it depends on changed (see [`EnvKey`]), and sets the
    /// length of the pane's lists. Returns when to refresh again if changed data was held
    /// back to coalesce a burst.
    fn refresh(&mut self, app: &mut App, state: &FleetState, now: Now) -> Option<Instant>;

    /// Whether it has something to show, whatever the filter. Until it has, the sources
    /// still loading are noted too.
    fn has_data(&self) -> bool {
        true
    }

    /// Why the pane's filter could not be applied.
    fn filter_error(&self) -> Option<&str> {
        None
    }

    /// Its title when not the registered one (the alerts pane showing silences).
    fn title(&self, app: &App) -> Option<&'static str> {
        let _ = app;
        None
    }

    /// The summary at the right of its title.
    fn summary(&self, app: &App, width: u16, ctx: &Ctx<'_>) -> Vec<Span<'static>> {
        let _ = (app, width, ctx);
        Vec::new()
    }

    /// Whether its list's position (`12/340`) shows on the bottom border.
    fn shows_position(&self) -> bool {
        true
    }

    fn render(&self, f: &mut Frame, area: Rect, app: &App, ctx: &Ctx<'_>);

    /// Enter on the selected row: a key naming it for [`PaneView::details`] that
    /// survives re-sorting, or `None` when nothing is selected.
    fn detail_key(&self, app: &App) -> Option<String> {
        let _ = app;
        None
    }

    /// The row `key` shown whole, from the current data; `None` once it is gone.
    fn details(&self, app: &App, key: &str, ctx: &Ctx<'_>) -> Option<Details> {
        let _ = (app, key, ctx);
        None
    }
}

/// The two clocks of a refresh: the wall clock the data is judged by, and the monotonic
/// one that paces coalescing.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub wall: DateTime<Utc>,
    pub clock: Instant,
}

/// `globex-wc pods: stale since 12:03:04 (3m) — connection refused`.
pub fn health_line(
    cluster: &str,
    source: Source,
    h: &SourceHealth,
    ctx: &Ctx<'_>,
) -> Line<'static> {
    let s = &ctx.theme.s;
    let (text, style) = match h {
        SourceHealth::Idle => (format!("{cluster} {source}: not loaded"), s.muted),
        SourceHealth::Syncing => (format!("{cluster} {source}: loading…"), s.muted),
        SourceHealth::Connected { .. } => (format!("{cluster} {source}: fresh"), s.ok),
        SourceHealth::Stale { since, error } => (
            format!(
                "{cluster} {source}: stale since {} ({} ago), showing the last data — {error}",
                format::clock(*since, ctx.tz),
                format::age((ctx.now - *since).num_seconds())
            ),
            s.stale,
        ),
        SourceHealth::Unauthorized { since, error } => (
            format!(
                "{cluster} {source}: access refused since {} — {error}",
                format::clock(*since, ctx.tz)
            ),
            s.critical,
        ),
    };
    // A plain `!`: symbols like ⚠ are drawn two cells wide by some terminals.
    Line::from(vec![Span::styled("! ", style), Span::styled(text, style)])
}

/// A source of the open pane that is not fresh, as copied out of the state.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceNote {
    /// `<env>-<sc|wc>`.
    pub cluster: String,
    pub source: Source,
    pub health: SourceHealth,
}

/// The sources of `view`, the data of `pane`, that are not fresh: in `env`, or in every
/// environment when none is open and the pane works fleet-wide.
pub fn source_notes(
    state: &FleetState,
    pane: Pane,
    view: &dyn PaneView,
    env: Option<&str>,
    scope: Scope,
) -> Vec<SourceNote> {
    let envs: Vec<_> = match env {
        Some(name) => state.env(name).into_iter().cloned().collect(),
        None if !pane.needs_env() => state.envs.clone(),
        None => Vec::new(),
    };
    let mut out = Vec::new();
    for env in &envs {
        for role in scope.roles() {
            let sources = view.sources(*role);
            if sources.is_empty() {
                continue; // no lock to take
            }
            let s = env.cluster(*role).read();
            for source in sources {
                match s.health.get(source) {
                    Some(h) if !h.is_ok() => out.push(SourceNote {
                        cluster: format!("{}-{role}", env.name),
                        source: *source,
                        health: h.clone(),
                    }),
                    _ => {}
                }
            }
        }
    }
    out
}

/// The lines a pane shows above its data about sources that are not fresh: stale and
/// refused ones always, loading ones only while the pane has nothing to show yet.
pub fn health_lines(notes: &[SourceNote], ctx: &Ctx<'_>, empty: bool) -> Vec<Line<'static>> {
    notes
        .iter()
        .filter(|n| match n.health {
            SourceHealth::Stale { .. } | SourceHealth::Unauthorized { .. } => true,
            SourceHealth::Syncing | SourceHealth::Idle => empty,
            SourceHealth::Connected { .. } => false,
        })
        .map(|n| health_line(&n.cluster, n.source, &n.health, ctx))
        .collect()
}
