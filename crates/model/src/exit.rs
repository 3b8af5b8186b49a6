//! Stable process exit codes. Scripts depend on these; never renumber them.

/// Everything worked.
pub const OK: i32 = 0;
/// The command ran but failed (API unreachable, workflow failed, ...).
pub const FAILURE: i32 = 1;
/// The invocation or its input is wrong: bad flags, bad config, or a command that is not
/// available yet. Fix the input and run again.
pub const USAGE: i32 = 2;
/// A workflow the policy refused: not allowed now (outside the maintenance window, an
/// override reason is missing, the console is read-only). Nothing was changed.
pub const REFUSED: i32 = 3;
/// Another run holds the cluster's lock; the message names the holder. Nothing was
/// changed: try again when it is done, or `runs cancel` it.
pub const LOCKED: i32 = 4;
/// A run stopped by SIGINT (Ctrl-C), SIGHUP or SIGTERM exits 128 + the signal's number,
/// as a shell reports death by that signal: 130, 129 and 143. The run stopped at a safe
/// point, released its lock, and `runs resume` goes on with it.
pub fn interrupted(signal: i32) -> i32 {
    128 + signal
}

/// The exit codes as `--help`, the man page and the README show them: one text, so they
/// cannot disagree.
pub const TABLE: &str = "\
Exit codes:
  0    success: a report is complete, a run succeeded
  1    failure: a run failed or was cancelled; a report is partial (a source failed)
  2    bad input: flags, config, parameters, an unknown environment or workflow
  3    refused by the policy, a missing permission or --read-only; nothing changed
  4    another run holds the cluster's lock (it is named); nothing changed
  130  interrupted by SIGINT (143 SIGTERM, 129 SIGHUP); a run stops at a safe point
       first (a second signal does not wait), and `runs resume ID` goes on with it
`check` follows the monitoring plugin convention instead: 0 OK, 1 WARNING, 2 CRITICAL,
3 UNKNOWN.";
