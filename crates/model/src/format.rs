//! How durations read to a person, the same in the console and the headless reports.

/// A duration in the kubectl style, whole units rounded down: `42s` (up to 119s), `5m`, `3h`
/// (up to 47h), `4d`. Negative (clock skew) reads as `0s`. The console and the headless
/// reports both use this one, so a report and a pane never disagree about an age.
pub fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..120 => format!("{s}s"),
        120..7_200 => format!("{}m", s / 60),
        7_200..172_800 => format!("{}h", s / 3_600),
        _ => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(age(42), "42s");
        assert_eq!(age(119), "119s");
        assert_eq!(age(600), "10m");
        assert_eq!(age(3 * 3600), "3h");
        assert_eq!(age(5 * 86_400), "5d");
        assert_eq!(age(-5), "0s");
    }

    #[test]
    fn headless_reports_and_the_console_read_ages_alike() {
        assert_eq!(age(-5), "0s");
        assert_eq!(age(59), "59s");
        assert_eq!(age(600), "10m");
        assert_eq!(age(7200), "2h");
        assert_eq!(age(47 * 3600), "47h");
        assert_eq!(age(3 * 86_400 + 5), "3d");
    }
}
