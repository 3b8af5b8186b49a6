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

impl NameSource {
    /// The uid of an object: version 4 in form, drawn from the seed, the object's kind,
    /// namespace and name, and its `incarnation` (how many objects of that name were
    /// deleted before it), so a recreated object gets a new uid, as in Kubernetes, and
    /// the same seed gives the same uids whatever order controllers create objects in.
    pub fn uid(&self, kind: &str, namespace: &str, name: &str, incarnation: u64) -> String {
        let part = |half: &[u8]| {
            hash::fnv1a64(&[
                &self.seed.to_le_bytes(),
                half,
                kind.as_bytes(),
                b"/",
                namespace.as_bytes(),
                b"/",
                name.as_bytes(),
                &incarnation.to_le_bytes(),
            ])
        };
        let (hi, lo) = (part(b"uid-hi"), part(b"uid-lo"));
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            hi >> 32,
            (hi >> 16) & 0xffff,
            hi & 0x0fff,
            ((lo >> 48) & 0x3fff) | 0x8000,
            lo & 0xffff_ffff_ffff
        )
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

    #[test]
    fn uids_come_from_the_seed_and_the_object_and_change_on_recreation() {
        let (a, b) = (NameSource::new(7), NameSource::new(7));
        let uid = a.uid("pods", "shop", "web-0", 0);
        assert_eq!(uid, b.uid("pods", "shop", "web-0", 0));
        assert_ne!(uid, a.uid("pods", "shop", "web-0", 1), "a recreated object");
        assert_ne!(uid, a.uid("pods", "shop", "web-1", 0));
        assert_ne!(uid, a.uid("pods", "shop2", "web-0", 0));
        assert_ne!(uid, a.uid("services", "shop", "web-0", 0));
        assert_ne!(uid, NameSource::new(8).uid("pods", "shop", "web-0", 0));
        // The form of a version 4 UUID, as the apiserver's uids have.
        let groups: Vec<&str> = uid.split('-').collect();
        let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
        assert_eq!(lens, [8, 4, 4, 4, 12], "{uid}");
        assert!(groups[2].starts_with('4'), "{uid}");
        assert!("89ab".contains(&groups[3][..1]), "{uid}");
        assert!(uid.bytes().all(|c| c == b'-' || c.is_ascii_hexdigit()));
    }
}
