//! What every drawing function is given besides its data: the theme, the frame's clock
//! and the time zone times are shown in.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::theme::Theme;
use crate::state::FleetState;

/// What every drawing function may read.
pub struct Ctx<'a> {
    pub state: &'a FleetState,
    pub theme: &'a Theme,
    /// The frame's clock.
    pub now: DateTime<Utc>,
    /// The policy time zone, for wall-clock times.
    pub tz: Tz,
}

impl<'a> Ctx<'a> {
    pub fn new(state: &'a FleetState, theme: &'a Theme, now: DateTime<Utc>) -> Ctx<'a> {
        Ctx {
            state,
            theme,
            now,
            tz: state.policy.timezone,
        }
    }
}
