//! Anchors of the audit chain in the clusters.
//!
//! A hash chain on one disk detects an edited line, but not a log cut short at its end or
//! rewritten whole with fresh hashes. So every appended record also moves the chain head
//! (its sequence number and hash) into a ConfigMap in the service cluster of the record's
//! environment, beside the cluster lock. `runs audit --verify` compares the local log with
//! every anchor it can reach: a log that no longer holds an anchored record, or holds a
//! different one, was tampered with.
//!
//! Each bastion's log has its own key in the ConfigMap, so consoles on several hosts do not
//! overwrite each other's anchors.

use std::path::Path;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};

use super::audit::AuditRecord;
use super::lease::{NAMESPACE, console_object};
use crate::failure;

/// The ConfigMap, in `kube-system` of each environment's service cluster.
pub const CONFIG_MAP: &str = "ck8s-console-audit";

/// A chain head: the newest record's sequence number and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub seq: u64,
    pub hash: String,
}

impl Anchor {
    fn encode(&self) -> String {
        format!("{} {}", self.seq, self.hash)
    }

    fn decode(text: &str) -> Option<Anchor> {
        let (seq, hash) = text.trim().split_once(' ')?;
        Some(Anchor {
            seq: seq.parse().ok()?,
            hash: hash.to_owned(),
        })
    }
}

/// The key of one audit log: this host and the log's path, as a ConfigMap key
/// (`[-._a-zA-Z0-9]+`).
pub fn log_key(audit_path: &Path) -> String {
    // The directory, not the file: a deleted log must keep its key, or its anchors would
    // read as "nothing anchored yet".
    let dir = audit_path.parent().unwrap_or(Path::new("."));
    let dir = dir
        .canonicalize()
        .or_else(|_| std::path::absolute(dir))
        .unwrap_or_else(|_| dir.to_owned());
    let path = dir.join(audit_path.file_name().unwrap_or_default());
    let digest = ring::digest::digest(&ring::digest::SHA256, path.to_string_lossy().as_bytes());
    let short: String = digest.as_ref()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let host: String = super::host_name()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{host}.{short}")
}

/// How many times a write that lost a race for the ConfigMap is tried again.
const ATTEMPTS: usize = 5;

/// Moves the anchor of `key` forward to `head`. An anchor already at or past it stays:
/// appends are anchored concurrently, and a late write must not move the head back.
pub async fn advance(sc: kube::Client, key: &str, head: &Anchor) -> Result<(), String> {
    let api: Api<ConfigMap> = Api::namespaced(sc, NAMESPACE);
    let failed = |e: kube::Error| failure::of_kube(&e).sentence;
    for _ in 0..ATTEMPTS {
        let written = match api.get_opt(CONFIG_MAP).await.map_err(failed)? {
            None => {
                let cm = ConfigMap {
                    metadata: console_object(CONFIG_MAP),
                    data: Some([(key.to_owned(), head.encode())].into()),
                    ..ConfigMap::default()
                };
                api.create(&PostParams::default(), &cm).await
            }
            Some(mut cm) => {
                let data = cm.data.get_or_insert_with(Default::default);
                let current = data.get(key).and_then(|v| Anchor::decode(v));
                if current.is_some_and(|c| c.seq >= head.seq) {
                    return Ok(());
                }
                data.insert(key.to_owned(), head.encode());
                // Conditional on the version read: a concurrent write is a 409, not lost.
                api.replace(CONFIG_MAP, &PostParams::default(), &cm).await
            }
        };
        match written {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) => return Err(failed(e)),
        }
    }
    Err("the anchor kept changing under this write".into())
}

/// The anchor of `key`, if the cluster holds one.
pub async fn read(sc: kube::Client, key: &str) -> Result<Option<Anchor>, String> {
    let api: Api<ConfigMap> = Api::namespaced(sc, NAMESPACE);
    let cm = api
        .get_opt(CONFIG_MAP)
        .await
        .map_err(|e| failure::of_kube(&e).sentence)?;
    Ok(cm
        .and_then(|cm| cm.data)
        .and_then(|d| d.get(key).cloned())
        .and_then(|v| Anchor::decode(&v)))
}

/// Whether the local `records` (as read, in order) hold the anchored record. Says what is
/// wrong if not. `damaged` says the log has a line that is not a record after the ones
/// read: an anchor past them cannot be checked, which is [`Checked::Unreadable`].
pub fn check(records: &[AuditRecord], anchor: &Anchor, damaged: bool) -> Checked {
    let last = records.last().map_or(0, |r| r.seq);
    if damaged && anchor.seq > last {
        return Checked::Unreadable(format!(
            "record {} lies past the damaged line, so it cannot be compared",
            anchor.seq
        ));
    }
    match records.iter().find(|r| r.seq == anchor.seq) {
        Some(r) if r.hash == anchor.hash => Checked::Holds,
        Some(_) => Checked::Differs(format!(
            "record {} differs from the one anchored: the log was rewritten",
            anchor.seq
        )),
        None => Checked::Differs(format!(
            "the log ends at record {last}, but record {} was anchored: records were removed \
             from its end",
            anchor.seq
        )),
    }
}

/// What an anchor says of the local log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    Holds,
    /// The log was cut short or rewritten.
    Differs(String),
    Unreadable(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64, hash: &str) -> AuditRecord {
        AuditRecord {
            seq,
            ts: chrono::Utc::now(),
            actor: "a".into(),
            action: "run.start".into(),
            env: "acme".into(),
            cluster: None,
            target: None,
            run_id: None,
            reason: None,
            detail: serde_json::Value::Null,
            prev: String::new(),
            hash: hash.into(),
        }
    }

    #[test]
    fn a_log_cut_short_or_rewritten_fails_its_anchor() {
        let log = [record(1, "h1"), record(2, "h2"), record(3, "h3")];
        let anchor = |seq, hash: &str| Anchor {
            seq,
            hash: hash.into(),
        };
        assert_eq!(check(&log, &anchor(3, "h3"), false), Checked::Holds);
        assert_eq!(
            check(&log, &anchor(2, "h2"), false),
            Checked::Holds,
            "later records are fine"
        );
        let Checked::Differs(cut) = check(&log[..2], &anchor(3, "h3"), false) else {
            panic!("a cut log differs from its anchor");
        };
        assert!(
            cut.contains("ends at record 2") && cut.contains("removed"),
            "{cut}"
        );
        let Checked::Differs(rewritten) = check(&log, &anchor(3, "other"), false) else {
            panic!("a rewritten log differs from its anchor");
        };
        assert!(rewritten.contains("rewritten"), "{rewritten}");
        // A damaged line before the anchored record: not checkable, not "removed".
        assert!(matches!(
            check(&log[..2], &anchor(3, "h3"), true),
            Checked::Unreadable(_)
        ));
    }

    #[test]
    fn anchors_round_trip_and_keys_are_config_map_keys() {
        let a = Anchor {
            seq: 42,
            hash: "ab".repeat(32),
        };
        assert_eq!(Anchor::decode(&a.encode()), Some(a));
        assert_eq!(Anchor::decode("x y"), None);
        let key = log_key(Path::new("/var/lib/ck8s/audit.jsonl"));
        // The key of a log does not change when the file is gone.
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("audit.jsonl");
        std::fs::write(&log, "x").unwrap();
        let present = log_key(&log);
        std::fs::remove_file(&log).unwrap();
        assert_eq!(log_key(&log), present);
        assert!(
            key.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')),
            "{key}"
        );
    }
}
