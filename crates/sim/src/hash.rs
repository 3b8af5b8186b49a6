//! FNV-1a 64: the one stable hash the simulator derives names, addresses and
//! pseudo-random values from (and the one Prometheus and Alertmanager use for label
//! fingerprints). Stable across runs, unlike the standard library's hasher.

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// A fresh hash state.
pub fn start() -> u64 {
    OFFSET
}

/// Feeds bytes into a running hash.
pub fn feed(h: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *h ^= u64::from(*b);
        *h = h.wrapping_mul(PRIME);
    }
}

/// The hash of several byte strings, one after another.
pub fn fnv1a64(parts: &[&[u8]]) -> u64 {
    let mut h = OFFSET;
    for part in parts {
        feed(&mut h, part);
    }
    h
}

/// The hash of one byte string.
pub fn fnv64(bytes: &[u8]) -> u64 {
    fnv1a64(&[bytes])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_published_test_vectors() {
        assert_eq!(fnv64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(&[b"fo", b"obar"]), fnv64(b"foobar"));
    }
}
