//! One module per pane: the data it copies out of the state, and how it draws.

pub mod alerts;
pub mod backups;
pub mod cluster;
pub mod fleet;
pub mod pods;
pub mod runs;
pub mod slo;

use std::sync::Arc;

use ratatui::text::{Line, Span};

use super::app::{App, Pane, Scope};
use super::ctx::Ctx;
use super::filter::Filter;
use super::format;
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

/// The sources a pane's data comes from, per cluster.
pub fn sources(pane: Pane, role: ClusterRole) -> &'static [Source] {
    match (pane, role) {
        (Pane::Pods, _) => &[Source::Kubernetes, Source::Pods, Source::Metrics],
        (Pane::Alerts, _) => &[Source::Alertmanager],
        (Pane::Cluster, ClusterRole::Sc) => &[
            Source::Kubernetes,
            Source::Nodes,
            Source::CapiClusters,
            Source::ControlPlanes,
            Source::MachineDeployments,
            Source::Machines,
            Source::Events,
            Source::Metrics,
        ],
        (Pane::Cluster, ClusterRole::Wc) => &[
            Source::Kubernetes,
            Source::Nodes,
            Source::Events,
            Source::Metrics,
        ],
        (Pane::Backups, ClusterRole::Sc) => &[
            Source::Kubernetes,
            Source::Backups,
            Source::Schedules,
            Source::BackupStorageLocations,
            Source::CronJobs,
            Source::Jobs,
        ],
        (Pane::Backups, ClusterRole::Wc) => &[
            Source::Kubernetes,
            Source::Backups,
            Source::Schedules,
            Source::BackupStorageLocations,
        ],
        (Pane::Slo, _) => &[Source::Slo],
        (Pane::Fleet | Pane::Runs, _) => &[],
    }
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

/// The sources of `pane` (in `env`, or fleet-wide for the alerts) that are not fresh.
pub fn source_notes(
    state: &FleetState,
    pane: Pane,
    env: Option<&str>,
    scope: Scope,
) -> Vec<SourceNote> {
    let envs: Vec<_> = match env {
        Some(name) => state.env(name).into_iter().cloned().collect(),
        None if pane == Pane::Alerts => state.envs.clone(),
        None => Vec::new(),
    };
    let mut out = Vec::new();
    for env in &envs {
        for role in scope.roles() {
            let s = env.cluster(*role).read();
            for source in sources(pane, *role) {
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
