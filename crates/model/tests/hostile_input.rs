//! Hostile input to the model's parsers (the fleet config, label selectors, durations):
//! whatever the bytes, a parser answers with a value or an error, never a panic. Inputs are
//! bounded in size, so each case is bounded in time and memory.

use std::path::{Path, PathBuf};

use ck8s_model::{config, labels};
use proptest::prelude::*;

/// Any text up to `max` characters, control characters and all.
fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..max).prop_map(String::from_iter)
}

fn fixtures() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/config/valid");
    let mut all: Vec<String> = std::fs::read_dir(&dir)
        .expect("the config fixtures")
        .map(|e| std::fs::read_to_string(e.expect("entry").path()).expect("fixture"))
        .collect();
    all.sort();
    all
}

/// A valid fleet config with a few bytes inserted, deleted or replaced: input that gets
/// past the TOML parser into the checks, which random text rarely does.
fn mutated_config() -> impl Strategy<Value = String> {
    let edits = prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..8);
    (prop::sample::select(fixtures()), edits).prop_map(|(base, edits)| {
        let mut bytes = base.into_bytes();
        for (at, byte, op) in edits {
            let i = at.index(bytes.len() + 1);
            match op {
                0 => bytes.insert(i, byte),
                1 if i < bytes.len() => {
                    bytes.remove(i);
                }
                _ if i < bytes.len() => bytes[i] = byte,
                _ => bytes.push(byte),
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_fleet_config_parser_never_panics_on_any_text(text in text(2_000)) {
        let _ = config::parse(&text, Path::new("fuzz.toml"));
    }

    #[test]
    fn the_fleet_config_parser_never_panics_on_near_valid_configs(text in mutated_config()) {
        if let Err(e) = config::parse(&text, Path::new("fuzz.toml")) {
            // An error names the file, so the user knows where to look.
            prop_assert!(e.to_string().contains("fuzz.toml"), "{e}");
        }
    }

    #[test]
    fn label_selectors_and_durations_never_panic(text in text(300)) {
        let _ = labels::LabelSelector::parse(&text);
        let _ = labels::LabelSelector::parse_any_labels(&text);
        let _ = config::parse_duration(&text);
    }
}
