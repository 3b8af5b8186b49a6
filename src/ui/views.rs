//! What the panes draw, copied out of the fleet state before a frame. Only the current
//! pane's data is refreshed, each behind a key of (state generation, place, filter, ...)
//! so an unchanged pane costs nothing; read locks are held only while copying.

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::app::{App, Modal, Pane};
use super::panes::alerts::AlertsView;
use super::panes::backups::BackupsView;
use super::panes::cluster::ClusterView;
use super::panes::fleet::{self, FleetRow};
use super::panes::pods::PodsIndex;
use super::panes::slo::SloView;
use super::panes::{SourceNote, source_notes};
use crate::state::FleetState;

#[derive(Debug, Default)]
pub struct Views {
    fleet_key: Option<(u64, String, i64)>,
    pub fleet: Vec<FleetRow>,
    /// How many environments the fleet has, whatever the filter.
    pub environments: usize,
    /// The accent colour of each environment that has one.
    pub accents: HashMap<String, String>,
    /// The open pane's sources that are not fresh.
    pub sources: Vec<SourceNote>,
    pub pods: PodsIndex,
    pub alerts: AlertsView,
    pub cluster: ClusterView,
    pub backups: BackupsView,
    pub slo: SloView,
}

impl Views {
    /// Brings the current pane's data up to date. Returns when to refresh again if
    /// changed data was held back to coalesce a burst.
    pub fn refresh(
        &mut self,
        app: &mut App,
        state: &FleetState,
        now: DateTime<Utc>,
        clock: Instant,
    ) -> Option<Instant> {
        // The fleet list backs number keys and Enter from the overview, so keep it current
        // whatever the pane; it is one row per environment.
        let key = (
            state.changes.generation(),
            app.filter_of(Pane::Fleet).to_string(),
            now.timestamp() / 60,
        );
        if self.fleet_key.as_ref() != Some(&key) {
            self.fleet = fleet::rows(state, &key.1, now);
            self.environments = state.envs.len();
            self.accents = state
                .envs
                .iter()
                .filter_map(|e| Some((e.name.clone(), e.accent.clone()?)))
                .collect();
            self.fleet_key = Some(key);
            app.fleet_names = self.fleet.iter().map(|r| r.env.clone()).collect();
        }
        app.lists.fleet.set_len(self.fleet.len());
        self.sources = source_notes(state, app.pane, app.env.as_deref(), app.scope);
        match app.pane {
            Pane::Fleet | Pane::Runs => None,
            Pane::Pods => self.pods.refresh(app, state, clock).due,
            Pane::Alerts => {
                self.alerts.refresh(app, state);
                app.lists.alerts.set_len(self.alerts.len());
                app.lists.silences.set_len(self.alerts.silences_len());
                if let Some(Modal::Alert(m)) = app.modals.last_mut() {
                    m.remember(self.alerts.by_fingerprint(&m.fingerprint));
                }
                None
            }
            Pane::Cluster => {
                self.cluster.refresh(app, state);
                app.lists.nodes.set_len(self.cluster.nodes.len());
                None
            }
            Pane::Backups => {
                self.backups.refresh(app, state, now);
                app.lists.backups.set_len(self.backups.backups.len());
                None
            }
            Pane::Slo => {
                self.slo.refresh(app, state);
                app.lists.slo.set_len(self.slo.reports.len());
                None
            }
        }
    }
}
