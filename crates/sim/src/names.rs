//! Generated object names: the suffixes of `generateName`, of a ReplicaSet's or a Job's
//! pods and of Machines. Each is drawn from the cluster's seed, the prefix and how many
//! names that prefix has had, so the same seed builds the same fleet, name for name
//! (a thread-local random generator gave different node names on every start).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::hash;

/// The apiserver's alphabet for generated suffixes: no vowels, no look-alikes.
const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
const SUFFIX_LEN: usize = 5;

#[derive(Debug)]
pub struct NameSource {
    seed: u64,
    /// How many suffixes each prefix has been given.
    issued: Mutex<HashMap<String, u64>>,
}

impl NameSource {
    pub fn new(seed: u64) -> NameSource {
        NameSource {
            seed,
            issued: Mutex::default(),
        }
    }

    /// The name of a new child of `parent`: `web-7d9f` gives `web-7d9f-x2k4q`.
    pub fn child(&self, parent: &str) -> String {
        format!("{parent}-{}", self.suffix(parent))
    }

    /// The next suffix for `prefix`: five characters of the apiserver's alphabet.
    pub fn suffix(&self, prefix: &str) -> String {
        let n = {
            let mut issued = self.issued.lock().unwrap_or_else(|e| e.into_inner());
            let count = issued.entry(prefix.to_string()).or_default();
            *count += 1;
            *count
        };
        let mut h = hash::fnv1a64(&[
            &self.seed.to_le_bytes(),
            prefix.as_bytes(),
            &n.to_le_bytes(),
        ]);
        let base = ALPHABET.len() as u64;
        (0..SUFFIX_LEN)
            .map(|_| {
                let c = ALPHABET[(h % base) as usize] as char;
                h /= base;
                c
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_names_and_a_prefix_never_repeats_one() {
        let (a, b) = (NameSource::new(7), NameSource::new(7));
        let first: Vec<String> = (0..50).map(|_| a.suffix("web-")).collect();
        let again: Vec<String> = (0..50).map(|_| b.suffix("web-")).collect();
        assert_eq!(first, again);
        let distinct: std::collections::HashSet<_> = first.iter().collect();
        assert_eq!(distinct.len(), first.len());
        assert!(
            first
                .iter()
                .all(|s| s.len() == SUFFIX_LEN && s.bytes().all(|c| ALPHABET.contains(&c)))
        );
        assert_ne!(NameSource::new(8).suffix("web-"), first[0]);
    }
}
