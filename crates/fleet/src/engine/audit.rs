//! The audit log: one JSON object per line, append-only, each record hash-chained to the one
//! before it so that an edited, deleted or reordered line shows up in [`verify`].
//!
//! # Chain
//! `hash` is the hex SHA-256 of the record's canonical JSON: [`AuditRecord`] serialized with
//! `hash` set to `""` (serde keeps the struct's field order, and `detail`'s maps are sorted).
//! `prev` is the previous record's `hash`, 64 zeros for the first; `seq` counts from 1, so it
//! equals the line number.
//!
//! # Writers
//! The TUI and a headless run may append to the same file at once. Each append takes an
//! exclusive advisory lock on the file, reads the last record from disk (never from memory,
//! which another process may have made stale), and writes the new line with a single
//! `write_all` on a file opened for appending, then syncs it. The chain cannot fork while every
//! writer goes through [`AuditLog`].
//!
//! The chain shows accidental and casual changes; whoever can rewrite the whole file can also
//! recompute it, so the log is shipped elsewhere too (Kubernetes Events, backups).

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How much of the file's end is read at a time when looking for the last line.
const TAIL_CHUNK: u64 = 8 * 1024;

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditRecord {
    pub seq: u64,
    pub ts: DateTime<Utc>,
    pub actor: String,
    /// e.g. "run.start", "run.step", "run.finish", "silence.create".
    pub action: String,
    pub env: String,
    pub cluster: Option<String>,
    /// The object acted on, e.g. "MachineDeployment capi-clusters/acme-wc-md-0".
    pub target: Option<String>,
    pub run_id: Option<String>,
    /// The override reason, when a policy finding was overridden.
    pub reason: Option<String>,
    pub detail: serde_json::Value,
    pub prev: String,
    pub hash: String,
}

/// What the caller says about an action; [`AuditLog::append`] adds the sequence number, the
/// time and the chain.
#[derive(Debug, Clone, Default)]
pub struct NewRecord {
    pub actor: String,
    pub action: String,
    pub env: String,
    pub cluster: Option<String>,
    pub target: Option<String>,
    pub run_id: Option<String>,
    pub reason: Option<String>,
    pub detail: serde_json::Value,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(
        "audit log {}: {source}; check that the file and its directory exist and that you may \
         read and write them",
        path.display()
    )]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "audit log {}, line {line}: {reason}. The log is evidence: do not edit it; move it \
         aside, keep it for the investigation, and start a new log",
        path.display()
    )]
    Corrupt {
        path: PathBuf,
        line: u64,
        reason: String,
    },
    #[error(
        "audit log {}: cannot encode a record: {source}; this is a bug in ck8s-console, \
         please report it",
        path.display()
    )]
    Encode {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// A writer to one audit log file.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: File,
}

impl AuditLog {
    /// Opens or creates the log, and refuses one whose last line is not an intact record:
    /// appending to it would chain onto something that cannot be trusted.
    pub fn open(path: &Path) -> Result<AuditLog, AuditError> {
        create_parent(path)?;
        let file = open_for_append(path).map_err(|e| io_error(path, e))?;
        let log = AuditLog {
            path: path.to_owned(),
            file,
        };
        {
            let _lock = log.lock()?;
            log.last_record()?;
        }
        Ok(log)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record, chained to the last one on disk, and returns it as written.
    pub fn append(
        &mut self,
        rec: NewRecord,
        now: DateTime<Utc>,
    ) -> Result<AuditRecord, AuditError> {
        let _lock = self.lock()?;
        let last = self.last_record()?;
        let (seq, prev) = match last {
            Some(last) => (last.seq.saturating_add(1), last.hash),
            None => (1, GENESIS.to_owned()),
        };
        let mut record = AuditRecord {
            seq,
            ts: now,
            actor: rec.actor,
            action: rec.action,
            env: rec.env,
            cluster: rec.cluster,
            target: rec.target,
            run_id: rec.run_id,
            reason: rec.reason,
            detail: rec.detail,
            prev,
            hash: String::new(),
        };
        record.hash = record_hash(&record).map_err(|e| self.encode_error(e))?;
        let mut line = serde_json::to_vec(&record).map_err(|e| self.encode_error(e))?;
        line.push(b'\n');
        self.write_line(&line)?;
        Ok(record)
    }

    /// Writes one whole line or nothing: a short write (a full disk) is cut off again, so
    /// a torn line never blocks every later append. Callers hold the lock.
    fn write_line(&self, line: &[u8]) -> Result<(), AuditError> {
        let mut file = &self.file;
        let before = file.metadata().map_err(|e| io_error(&self.path, e))?.len();
        let written = file
            .write_all(line)
            .and_then(|()| file.flush())
            .and_then(|()| file.sync_data());
        if let Err(e) = written {
            let _ = self.file.set_len(before);
            return Err(io_error(&self.path, e));
        }
        Ok(())
    }

    fn lock(&self) -> Result<LockGuard<'_>, AuditError> {
        self.file.lock().map_err(|e| io_error(&self.path, e))?;
        Ok(LockGuard(&self.file))
    }

    /// The last record on disk, checked against its own hash. Callers hold the lock.
    fn last_record(&self) -> Result<Option<AuditRecord>, AuditError> {
        let mut file = &self.file;
        let Some(tail) = last_line(&mut file).map_err(|e| io_error(&self.path, e))? else {
            return Ok(None);
        };
        match check_tail(&tail.bytes) {
            Ok(record) => Ok(Some(record)),
            Err(reason) => {
                let line =
                    line_number_at(&mut file, tail.offset).map_err(|e| io_error(&self.path, e))?;
                Err(corrupt(&self.path, line, reason))
            }
        }
    }

    fn encode_error(&self, source: serde_json::Error) -> AuditError {
        AuditError::Encode {
            path: self.path.clone(),
            source,
        }
    }
}

/// Releases the advisory lock however the append ends.
struct LockGuard<'a>(&'a File);

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        // Closing the file would release it too; an error here leaves nothing to do.
        let _ = self.0.unlock();
    }
}

/// All records, without checking the chain; a missing file is an empty log.
pub fn read(path: &Path) -> Result<Vec<AuditRecord>, AuditError> {
    let mut records = Vec::new();
    for_each_line(path, |number, line| {
        records.push(parse_line(line).map_err(|reason| corrupt(path, number, reason))?);
        Ok(())
    })?;
    Ok(records)
}

/// The log as one pass reads it: the records up to the first line that is not one, and
/// what is wrong with it.
#[derive(Debug)]
pub struct Checked {
    pub records: Vec<AuditRecord>,
    /// The first line that is not a record (the reading stopped there).
    pub damaged: Option<AuditError>,
    /// The first break of the chain among the records read: a sequence number, a `prev`
    /// link or a hash that does not hold.
    pub broken: Option<AuditError>,
}

impl Checked {
    /// The first thing wrong, by line: a break in the chain comes before the damage that
    /// stopped the reading.
    pub fn problem(&self) -> Option<&AuditError> {
        self.broken.as_ref().or(self.damaged.as_ref())
    }
}

/// Reads the log once and checks its chain; a missing file is an empty, valid log.
pub fn read_checked(path: &Path) -> Checked {
    let mut records: Vec<AuditRecord> = Vec::new();
    let mut broken = None;
    let read = for_each_line(path, |number, line| {
        let record = parse_line(line).map_err(|reason| corrupt(path, number, reason))?;
        if broken.is_none() {
            let holds = check_link(records.last(), &record, number)
                .and_then(|()| check_hash(&record, line));
            broken = holds.err().map(|reason| corrupt(path, number, reason));
        }
        records.push(record);
        Ok(())
    });
    Checked {
        records,
        damaged: read.err(),
        broken,
    }
}

/// Checks the whole chain: sequence numbers, `prev` links and every hash. Returns the number
/// of records; a missing file is an empty, valid log.
pub fn verify(path: &Path) -> Result<u64, AuditError> {
    let checked = read_checked(path);
    match checked.broken.or(checked.damaged) {
        Some(e) => Err(e),
        None => Ok(checked.records.len() as u64),
    }
}

// ---------------------------------------------------------------------------------------------
// Chain
// ---------------------------------------------------------------------------------------------

/// Hex SHA-256 of the record's canonical JSON, which has `hash` empty.
fn record_hash(record: &AuditRecord) -> Result<String, serde_json::Error> {
    let canonical = AuditRecord {
        hash: String::new(),
        ..record.clone()
    };
    Ok(sha256_hex(&serde_json::to_vec(&canonical)?))
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    hex(digest.as_ref())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

fn check_hash(record: &AuditRecord, line: &[u8]) -> Result<(), String> {
    let canonical = record_hash(record).map_err(|e| format!("cannot re-encode the record: {e}"))?;
    if canonical == record.hash || raw_hash(line, &record.hash) {
        return Ok(());
    }
    Err("its hash does not match its content: the line was edited after it was written".into())
}

/// Whether the line exactly as written hashes to `hash`. Re-encoding a parsed record can differ
/// from what was written when `detail` holds floats that do not survive parsing bit for bit;
/// the bytes on disk are then the authority, and they are what was hashed.
fn raw_hash(line: &[u8], hash: &str) -> bool {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let written = format!(",\"hash\":\"{hash}\"}}");
    let Some(body) = line.strip_suffix(written.as_bytes()) else {
        return false;
    };
    let mut canonical = body.to_vec();
    canonical.extend_from_slice(b",\"hash\":\"\"}");
    sha256_hex(&canonical) == hash
}

fn check_link(
    previous: Option<&AuditRecord>,
    record: &AuditRecord,
    line: u64,
) -> Result<(), String> {
    let (want_seq, want_prev) = match previous {
        Some(p) => (p.seq.saturating_add(1), p.hash.as_str()),
        None => (1, GENESIS),
    };
    if record.seq != want_seq {
        return Err(format!(
            "seq is {} where {want_seq} was expected: a line was deleted, inserted or moved",
            record.seq
        ));
    }
    if record.prev != want_prev {
        return Err(match previous {
            Some(_) => format!(
                "prev does not match the hash of line {}: a line was deleted, inserted, moved \
                 or edited",
                line - 1
            ),
            None => "the first record's prev is not 64 zeros: the start of the log is missing"
                .to_owned(),
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Lines
// ---------------------------------------------------------------------------------------------

fn parse_line(line: &[u8]) -> Result<AuditRecord, String> {
    let Some(body) = line.strip_suffix(b"\n") else {
        return Err(
            "the last line is incomplete (no newline at its end): a write was \
                    interrupted"
                .to_owned(),
        );
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err("the line is empty, and the audit log never writes empty lines".to_owned());
    }
    serde_json::from_slice(body).map_err(|e| format!("not an audit record: {e}"))
}

fn check_tail(line: &[u8]) -> Result<AuditRecord, String> {
    let record = parse_line(line)?;
    check_hash(&record, line)?;
    Ok(record)
}

/// Calls `f` with each line's 1-based number and its bytes, newline included when present.
fn for_each_line(
    path: &Path,
    mut f: impl FnMut(u64, &[u8]) -> Result<(), AuditError>,
) -> Result<(), AuditError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error(path, e)),
    };
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let mut number = 0;
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| io_error(path, e))?;
        if read == 0 {
            return Ok(());
        }
        number += 1;
        f(number, &line)?;
    }
}

struct Tail {
    /// Where the last line starts in the file.
    offset: u64,
    /// The last line, with its newline when it has one.
    bytes: Vec<u8>,
}

/// Reads backwards from the end, so that appending stays cheap however long the log is.
fn last_line(file: &mut &File) -> io::Result<Option<Tail>> {
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(None);
    }
    let mut start = len;
    let mut tail: Vec<u8> = Vec::new();
    loop {
        let chunk = TAIL_CHUNK.min(start);
        start -= chunk;
        let mut buf = vec![0; usize::try_from(chunk).unwrap_or(usize::MAX)];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut buf)?;
        buf.extend_from_slice(&tail);
        tail = buf;
        // The file's last byte ends the last line rather than starting it; only the chunk
        // just read can hold a newline not yet seen.
        let searched = usize::try_from(chunk)
            .unwrap_or(usize::MAX)
            .min(tail.len() - 1);
        if let Some(i) = tail[..searched].iter().rposition(|&b| b == b'\n') {
            let offset = start + u64::try_from(i + 1).unwrap_or(u64::MAX);
            return Ok(Some(Tail {
                offset,
                bytes: tail.split_off(i + 1),
            }));
        }
        if start == 0 {
            return Ok(Some(Tail {
                offset: 0,
                bytes: tail,
            }));
        }
    }
}

/// The 1-based number of the line starting at `offset`; only needed to word an error.
fn line_number_at(file: &mut &File, offset: u64) -> io::Result<u64> {
    file.seek(SeekFrom::Start(0))?;
    let mut newlines = 0u64;
    let mut buf = [0u8; 8192];
    let mut remaining = offset;
    while remaining > 0 {
        let want = usize::try_from(remaining.min(buf.len() as u64)).unwrap_or(buf.len());
        let n = file.read(&mut buf[..want])?;
        if n == 0 {
            break;
        }
        newlines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        remaining -= n as u64;
    }
    Ok(newlines + 1)
}

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

fn create_parent(path: &Path) -> Result<(), AuditError> {
    let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(());
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(parent).map_err(|e| io_error(parent, e))
}

/// Appending mode makes each `write_all` land at the end even with other writers; the file
/// is private because it names people, clusters and reasons.
fn open_for_append(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

fn io_error(path: &Path, source: io::Error) -> AuditError {
    AuditError::Io {
        path: path.to_owned(),
        source,
    }
}

fn corrupt(path: &Path, line: u64, reason: String) -> AuditError {
    AuditError::Corrupt {
        path: path.to_owned(),
        line,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(minute: u32) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("2026-12-02T07:{minute:02}:00.123456789+01:00"))
            .unwrap()
            .with_timezone(&Utc)
    }

    fn new(action: &str, n: u64) -> NewRecord {
        NewRecord {
            actor: "alice@example.com".to_owned(),
            action: action.to_owned(),
            env: "acme".to_owned(),
            cluster: Some("wc".to_owned()),
            target: Some("MachineDeployment capi-clusters/acme-wc-md-0".to_owned()),
            run_id: Some("20261202-0700-scale".to_owned()),
            reason: n
                .is_multiple_of(2)
                .then(|| "customer approved in ticket 4711".to_owned()),
            detail: json!({"step": n, "replicas": {"from": 3, "to": 5}}),
        }
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        path: PathBuf,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state").join("audit").join("audit.jsonl");
        Fixture { _dir: dir, path }
    }

    /// A log with `n` records.
    fn written(n: u64) -> Fixture {
        let f = fixture();
        let mut log = AuditLog::open(&f.path).unwrap();
        for i in 1..=n {
            log.append(new("run.step", i), at(i as u32)).unwrap();
        }
        f
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn write_lines(path: &Path, lines: &[String]) {
        let mut text = lines.join("\n");
        text.push('\n');
        std::fs::write(path, text).unwrap();
    }

    /// Asserts `err` is a corruption at `line` whose reason mentions `what`.
    fn assert_corrupt(err: AuditError, line: u64, what: &str) {
        match &err {
            AuditError::Corrupt {
                line: got, reason, ..
            } => {
                assert_eq!(*got, line, "{err}");
                assert!(reason.contains(what), "{reason:?} lacks {what:?}");
            }
            other => panic!("expected corruption at line {line}, got {other}"),
        }
    }

    fn edit_line(path: &Path, number: usize, edit: impl FnOnce(&mut serde_json::Value)) {
        let mut all = lines(path);
        let mut value: serde_json::Value = serde_json::from_str(&all[number - 1]).unwrap();
        edit(&mut value);
        all[number - 1] = serde_json::to_string(&value).unwrap();
        write_lines(path, &all);
    }

    #[test]
    fn a_chain_of_records_verifies() {
        let f = written(5);
        assert_eq!(verify(&f.path).unwrap(), 5);
        let records = read(&f.path).unwrap();
        assert_eq!(records.len(), 5);
        assert_eq!(records[0].prev, GENESIS);
        for (i, r) in records.iter().enumerate() {
            assert_eq!(r.seq, i as u64 + 1);
            assert_eq!(r.hash.len(), 64);
            if i > 0 {
                assert_eq!(r.prev, records[i - 1].hash);
            }
        }
        assert_eq!(records[2].ts, at(3));
        assert_eq!(records[2].detail["step"], 3);
    }

    #[test]
    fn append_returns_the_record_as_written() {
        let f = fixture();
        let mut log = AuditLog::open(&f.path).unwrap();
        let rec = log.append(new("run.start", 2), at(0)).unwrap();
        assert_eq!(read(&f.path).unwrap(), vec![rec.clone()]);
        assert_eq!(
            rec.reason.as_deref(),
            Some("customer approved in ticket 4711")
        );
        assert_eq!(log.path(), f.path);
    }

    #[test]
    fn the_hash_is_sha256_of_the_canonical_json_with_an_empty_hash() {
        let f = written(2);
        for record in read(&f.path).unwrap() {
            let mut canonical = record.clone();
            canonical.hash = String::new();
            let bytes = serde_json::to_vec(&canonical).unwrap();
            let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
            assert_eq!(record.hash, hex(digest.as_ref()));
        }
    }

    #[test]
    fn the_written_bytes_are_an_accepted_hash_form() {
        let f = written(1);
        let line = format!("{}\n", lines(&f.path)[0]);
        let hash = read(&f.path).unwrap()[0].hash.clone();
        assert!(raw_hash(line.as_bytes(), &hash));
        assert!(!raw_hash(line.replace("alice", "alicf").as_bytes(), &hash));
        assert!(!raw_hash(line.as_bytes(), &"0".repeat(64)));
    }

    #[test]
    fn hex_encodes_lowercase() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
    }

    #[test]
    fn lines_are_compact_json_in_field_order() {
        let f = written(1);
        let line = &lines(&f.path)[0];
        assert!(
            line.starts_with("{\"seq\":1,\"ts\":\"2026-12-02T06:01:00.123456789Z\","),
            "{line}"
        );
        assert!(line.contains("\"actor\":\"alice@example.com\",\"action\":\"run.step\""));
        assert!(line.ends_with(&format!(
            ",\"hash\":\"{}\"}}",
            read(&f.path).unwrap()[0].hash
        )));
    }

    #[test]
    fn editing_any_field_of_a_middle_line_fails_at_that_line() {
        let edits: Vec<(&str, serde_json::Value, &str)> = vec![
            ("actor", json!("mallory@example.com"), "hash does not match"),
            ("action", json!("run.finish"), "hash does not match"),
            ("env", json!("other"), "hash does not match"),
            ("cluster", json!(null), "hash does not match"),
            ("target", json!("Node acme-wc-1"), "hash does not match"),
            ("run_id", json!("forged"), "hash does not match"),
            ("reason", json!("because I said so"), "hash does not match"),
            ("detail", json!({"step": 3}), "hash does not match"),
            ("ts", json!("2026-12-02T06:03:00Z"), "hash does not match"),
            ("seq", json!(7), "seq is 7 where 3 was expected"),
            (
                "prev",
                json!(GENESIS),
                "prev does not match the hash of line 2",
            ),
            ("hash", json!("ab".repeat(32)), "hash does not match"),
        ];
        for (field, value, what) in edits {
            let f = written(5);
            edit_line(&f.path, 3, |v| v[field] = value);
            let err = verify(&f.path).expect_err(field);
            assert_corrupt(err, 3, what);
        }
    }

    #[test]
    fn a_textual_edit_fails_at_that_line() {
        let f = written(5);
        let mut all = lines(&f.path);
        all[3] = all[3].replace("alice", "alicf");
        write_lines(&f.path, &all);
        assert_corrupt(verify(&f.path).unwrap_err(), 4, "hash does not match");
    }

    #[test]
    fn deleting_a_line_fails_where_it_was() {
        let f = written(5);
        let mut all = lines(&f.path);
        all.remove(2);
        write_lines(&f.path, &all);
        assert_corrupt(
            verify(&f.path).unwrap_err(),
            3,
            "seq is 4 where 3 was expected",
        );
    }

    #[test]
    fn deleting_the_first_line_fails_at_line_1() {
        let f = written(3);
        let mut all = lines(&f.path);
        all.remove(0);
        write_lines(&f.path, &all);
        assert_corrupt(
            verify(&f.path).unwrap_err(),
            1,
            "seq is 2 where 1 was expected",
        );
    }

    #[test]
    fn reordering_lines_fails_at_the_first_moved_line() {
        let f = written(5);
        let mut all = lines(&f.path);
        all.swap(1, 3);
        write_lines(&f.path, &all);
        assert_corrupt(
            verify(&f.path).unwrap_err(),
            2,
            "seq is 4 where 2 was expected",
        );
    }

    #[test]
    fn renumbered_lines_still_fail_on_the_links() {
        let f = written(4);
        let mut all = lines(&f.path);
        all.remove(1);
        write_lines(&f.path, &all);
        for (n, seq) in [(2, 2), (3, 3)] {
            edit_line(&f.path, n, |v| v["seq"] = json!(seq));
        }
        assert_corrupt(
            verify(&f.path).unwrap_err(),
            2,
            "prev does not match the hash of line 1",
        );
    }

    #[test]
    fn an_empty_line_in_the_middle_fails() {
        let f = written(3);
        let mut all = lines(&f.path);
        all.insert(1, String::new());
        write_lines(&f.path, &all);
        assert_corrupt(verify(&f.path).unwrap_err(), 2, "empty");
    }

    #[test]
    fn reopening_continues_the_chain() {
        let f = written(2);
        let mut log = AuditLog::open(&f.path).unwrap();
        let rec = log.append(new("run.finish", 3), at(3)).unwrap();
        assert_eq!(rec.seq, 3);
        assert_eq!(rec.prev, read(&f.path).unwrap()[1].hash);
        assert_eq!(verify(&f.path).unwrap(), 3);
    }

    #[test]
    fn two_handles_appending_alternately_keep_one_chain() {
        let f = fixture();
        let mut a = AuditLog::open(&f.path).unwrap();
        let mut b = AuditLog::open(&f.path).unwrap();
        for i in 1..=6u64 {
            let log = if i.is_multiple_of(2) { &mut a } else { &mut b };
            assert_eq!(log.append(new("run.step", i), at(i as u32)).unwrap().seq, i);
        }
        assert_eq!(verify(&f.path).unwrap(), 6);
    }

    #[test]
    fn concurrent_writers_never_fork_the_chain() {
        let f = fixture();
        AuditLog::open(&f.path).unwrap();
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let path = f.path.clone();
                std::thread::spawn(move || {
                    let mut log = AuditLog::open(&path).unwrap();
                    for i in 0..25 {
                        log.append(new(&format!("writer.{w}"), i), at(0)).unwrap();
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        assert_eq!(verify(&f.path).unwrap(), 100);
    }

    #[test]
    fn open_refuses_a_corrupt_last_line() {
        let f = written(3);
        let mut all = lines(&f.path);
        all.push("{\"seq\":4,".to_owned());
        write_lines(&f.path, &all);
        let err = AuditLog::open(&f.path).unwrap_err();
        let text = err.to_string();
        assert_corrupt(err, 4, "not an audit record");
        assert!(text.contains(&f.path.display().to_string()), "{text}");
        assert!(text.contains("line 4"), "{text}");
        assert!(text.contains("move it aside"), "{text}");
    }

    #[test]
    fn open_refuses_an_incomplete_last_line() {
        let f = written(3);
        let text = std::fs::read_to_string(&f.path).unwrap();
        std::fs::write(&f.path, &text[..text.len() - 10]).unwrap();
        assert_corrupt(AuditLog::open(&f.path).unwrap_err(), 3, "incomplete");
        assert_corrupt(verify(&f.path).unwrap_err(), 3, "incomplete");
    }

    #[test]
    fn open_refuses_an_edited_last_line() {
        let f = written(3);
        edit_line(&f.path, 3, |v| v["actor"] = json!("mallory"));
        assert_corrupt(
            AuditLog::open(&f.path).unwrap_err(),
            3,
            "hash does not match",
        );
    }

    #[test]
    fn open_refuses_a_trailing_empty_line() {
        let f = written(2);
        let mut file = OpenOptions::new().append(true).open(&f.path).unwrap();
        file.write_all(b"\n").unwrap();
        assert_corrupt(AuditLog::open(&f.path).unwrap_err(), 3, "empty");
    }

    #[test]
    fn append_rereads_the_tail_and_refuses_corruption_from_elsewhere() {
        let f = written(2);
        let mut log = AuditLog::open(&f.path).unwrap();
        let mut file = OpenOptions::new().append(true).open(&f.path).unwrap();
        file.write_all(b"garbage\n").unwrap();
        assert_corrupt(
            log.append(new("run.step", 3), at(3)).unwrap_err(),
            3,
            "not an audit record",
        );
        assert_eq!(lines(&f.path).len(), 3, "nothing was appended");
    }

    #[test]
    fn a_long_last_line_is_found_across_chunks() {
        let f = fixture();
        let mut log = AuditLog::open(&f.path).unwrap();
        let mut big = new("run.step", 1);
        big.detail = json!({"output": "x".repeat(3 * TAIL_CHUNK as usize)});
        log.append(big.clone(), at(1)).unwrap();
        log.append(big, at(2)).unwrap();
        let mut log = AuditLog::open(&f.path).unwrap();
        assert_eq!(log.append(new("run.finish", 3), at(3)).unwrap().seq, 3);
        assert_eq!(verify(&f.path).unwrap(), 3);
    }

    #[test]
    fn floats_in_detail_verify() {
        let f = fixture();
        let mut log = AuditLog::open(&f.path).unwrap();
        for x in [
            0.1,
            1e-7,
            123.456_789_012_345_68,
            f64::MAX,
            2.225_073_858_507_201e-308,
        ] {
            let mut rec = new("run.step", 1);
            rec.detail = json!({ "x": x });
            log.append(rec, at(1)).unwrap();
        }
        assert_eq!(verify(&f.path).unwrap(), 5);
    }

    #[test]
    fn missing_log_is_empty_and_valid() {
        let f = fixture();
        assert_eq!(read(&f.path).unwrap(), Vec::new());
        assert_eq!(verify(&f.path).unwrap(), 0);
    }

    #[test]
    fn open_creates_the_directories_and_an_empty_file() {
        let f = fixture();
        AuditLog::open(&f.path).unwrap();
        assert_eq!(std::fs::read(&f.path).unwrap(), b"");
    }

    #[cfg(unix)]
    #[test]
    fn the_log_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let f = written(1);
        let mode = std::fs::metadata(&f.path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn io_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should be.
        let err = AuditLog::open(dir.path()).unwrap_err();
        assert!(matches!(err, AuditError::Io { .. }));
        assert!(err.to_string().contains(&dir.path().display().to_string()));
    }
}
