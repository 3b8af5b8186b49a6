//! How durations read to a person, the same in the console and the headless reports.

/// A duration in the kubectl style, whole units rounded down: `42s` (up to 119s), `5m`, `3h`
/// (up to 47h), `4d`. Negative (clock skew) reads as `0s`. The console and the headless
/// reports both use this one, so a report and a pane never disagree about an age.
pub fn age(seconds: i64) -> String {
    // One unit, as kubectl's coarse ages, except under ten minutes, where minutes and
    // seconds (`1m41s`) read better than `101s`. At most five cells: the AGE columns and the
    // overview's backup column are that narrow.
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..600 if s % 60 == 0 => format!("{}m", s / 60),
        60..600 => format!("{}m{}s", s / 60, s % 60),
        600..7_200 => format!("{}m", s / 60),
        7_200..172_800 => format!("{}h", s / 3_600),
        _ => format!("{}d", s / 86_400),
    }
}

/// The candidate nearest to `word`, if it is close enough to be a likely typo: the "did you
/// mean" of every error that names something unknown (a config key, an environment, a kind).
pub fn closest<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let word = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&word, &c.to_lowercase()), c))
        .filter(|(distance, c)| *distance <= (word.len().max(c.len()) / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(age(42), "42s");
        assert_eq!(age(101), "1m41s", "not 101s");
        assert_eq!(age(120), "2m");
        assert_eq!(age(600), "10m");
        assert_eq!(age(3 * 3600), "3h");
        assert_eq!(age(5 * 86_400), "5d");
        assert_eq!(age(-5), "0s");
        // Every age fits a five-cell AGE column.
        for s in (0..400 * 86_400).step_by(61) {
            assert!(age(s).len() <= 5, "{s}: {}", age(s));
        }
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
