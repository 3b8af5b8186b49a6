//! What the panes draw, copied out of the fleet state before a frame. Only the current
//! pane's data is refreshed, each behind a key of (state generation, place, filter, ...)
//! so an unchanged pane costs nothing; read locks are held only while copying.

use std::time::Instant;

use chrono::{DateTime, Utc};

use super::app::App;
use super::nav::{Pane, with_panes};
use super::panes::{Now, PaneView, SourceNote, source_notes};
use crate::state::FleetState;

/// `Views`: the data of every registered pane, one field each, plus the open pane's
/// sources that are not fresh.
macro_rules! views {
    ($($pane:ident $module:ident: $view:ident, $title:literal, $reach:ident, $about:literal;)*) => {
        #[derive(Debug, Default)]
        pub struct Views {
            /// The open pane's sources that are not fresh.
            pub sources: Vec<SourceNote>,
            $(pub $module: super::panes::$module::$view,)*
        }

        impl Views {
            /// The data of `pane`.
            pub fn pane(&self, pane: Pane) -> &dyn PaneView {
                match pane {
                    $(Pane::$pane => &self.$module,)*
                }
            }

            fn pane_mut(&mut self, pane: Pane) -> &mut dyn PaneView {
                match pane {
                    $(Pane::$pane => &mut self.$module,)*
                }
            }
        }
    };
}
with_panes!(views);

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
        let now = Now { wall: now, clock };
        // The fleet list backs number keys and Enter from any pane, and the environments'
        // accents colour every pane: keep it current whatever the pane. It is one row per
        // environment, and recopied only when it changed.
        self.fleet.refresh(app, state, now);
        self.sources = source_notes(
            state,
            app.pane,
            self.pane(app.pane),
            app.env.as_deref(),
            app.scope,
        );
        match app.pane {
            Pane::Fleet => None,
            pane => self.pane_mut(pane).refresh(app, state, now),
        }
    }

    /// The title of the open pane.
    pub fn title(&self, app: &App) -> &'static str {
        self.pane(app.pane)
            .title(app)
            .unwrap_or_else(|| app.pane.title())
    }
}
