//! What every drawing function is given besides its data: the theme, the frame's clock
//! and the time zone times are shown in.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::theme::Theme;
use crate::state::FleetState;

/// What every drawing function may read besides its views. It holds no reference to the
/// live state: drawing works from the copies in `Views` and takes no locks.
pub struct Ctx<'a> {
    pub theme: &'a Theme,
    /// The frame's clock.
    pub now: DateTime<Utc>,
    /// The policy time zone, for wall-clock times.
    pub tz: Tz,
}

impl<'a> Ctx<'a> {
    /// The context of a frame of `state`'s fleet (for its time zone) at `now`.
    pub fn new(state: &FleetState, theme: &'a Theme, now: DateTime<Utc>) -> Ctx<'a> {
        Ctx {
            theme,
            now,
            tz: state.policy.timezone,
        }
    }
}
