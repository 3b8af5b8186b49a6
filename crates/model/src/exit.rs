//! Stable process exit codes. Scripts depend on these; never renumber them.

/// Everything worked.
pub const OK: i32 = 0;
/// The command ran but failed (API unreachable, workflow failed, ...).
pub const FAILURE: i32 = 1;
/// The invocation or its input is wrong: bad flags, bad config, or a command that is not
/// available yet. Fix the input and run again.
pub const USAGE: i32 = 2;
/// A workflow the policy or a lock refused: not allowed now (outside the maintenance
/// window, another run holds the cluster, an override reason is missing). Nothing was
/// changed.
pub const REFUSED: i32 = 3;
