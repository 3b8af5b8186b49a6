//! How fresh each source of a cluster is: the console marks stale data instead of
//! blanking it, and says since when and why.

use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SourceHealth {
    /// Not started yet (a heavy source of an environment nobody has opened).
    Idle,
    /// The first list is under way.
    Syncing,
    /// Listed and watching.
    Connected { since: DateTime<Utc> },
    /// The data shown is from before `since`; the last attempt failed with `error`.
    Stale { since: DateTime<Utc>, error: String },
    /// The credentials were refused (401) or lack permission (403).
    Unauthorized { since: DateTime<Utc>, error: String },
}

impl SourceHealth {
    /// Orders health from best to worst, for summarising many sources as one.
    pub fn severity(&self) -> u8 {
        match self {
            SourceHealth::Connected { .. } | SourceHealth::Idle => 0,
            SourceHealth::Syncing => 1,
            SourceHealth::Stale { .. } => 2,
            SourceHealth::Unauthorized { .. } => 3,
        }
    }

    pub fn is_ok(&self) -> bool {
        matches!(self, SourceHealth::Connected { .. })
    }

    pub fn label(&self) -> &'static str {
        match self {
            SourceHealth::Idle => "idle",
            SourceHealth::Syncing => "syncing",
            SourceHealth::Connected { .. } => "connected",
            SourceHealth::Stale { .. } => "stale",
            SourceHealth::Unauthorized { .. } => "unauthorized",
        }
    }

    /// Moves to a failure state, keeping the original `since` if already failing, so
    /// "stale since" means since the data stopped being fresh.
    pub fn failed(&self, now: DateTime<Utc>, error: String, unauthorized: bool) -> SourceHealth {
        let since = match self {
            SourceHealth::Stale { since, .. } | SourceHealth::Unauthorized { since, .. } => *since,
            _ => now,
        };
        if unauthorized {
            SourceHealth::Unauthorized { since, error }
        } else {
            SourceHealth::Stale { since, error }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_again_keeps_the_first_failure_time() {
        let t0 = Utc::now();
        let t1 = t0 + chrono::Duration::seconds(30);
        let first = SourceHealth::Connected { since: t0 }.failed(t0, "refused".into(), false);
        let again = first.failed(t1, "timeout".into(), false);
        assert_eq!(
            again,
            SourceHealth::Stale {
                since: t0,
                error: "timeout".into()
            }
        );
        assert!(again.severity() > SourceHealth::Syncing.severity());
    }
}
