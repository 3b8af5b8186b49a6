//! A Velero backup in depth, read as `velero backup describe --details` and `velero
//! backup logs` read it: the Backup and its storage location from the cluster, and the
//! files Velero wrote to the bucket (log, results, resource list) through a
//! `DownloadRequest`, whose signed URL is then fetched over HTTPS, trusting the
//! location's `caCert` as the velero CLI does, and inflated.
//!
//! A DownloadRequest is an object in the cluster, though it changes nothing Velero keeps
//! (it is deleted when read, and Velero deletes it anyway when its URL expires): the
//! console asks the engine's gate first (`Engine::download`: read-only, `create
//! downloadrequests`, audited), as for any object it creates.

use std::collections::BTreeMap;
use std::io::Read;
use std::time::Duration;

use base64::Engine as _;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, PostParams};
use serde_json::{Value, json};

use crate::config::ClusterRole;
use crate::inspect::sanitize;
use crate::objects::{client, timed};
use crate::sources::live::LiveFleet;

const NAMESPACE: &str = "velero";
/// How long Velero may take to sign a URL (the velero CLI waits a minute).
const SIGNING: Duration = Duration::from_secs(30);
/// How often the request is read while Velero signs it.
const SIGNING_POLL: Duration = Duration::from_millis(200);
/// How long the download itself may take.
const DOWNLOAD: Duration = Duration::from_secs(60);
/// The most a file may inflate to: a log beyond it is cut.
const MAX_BYTES: u64 = 32 << 20;
/// The most of a file read from the bucket, before it is inflated.
const MAX_FETCHED: usize = 64 << 20;
/// The lines of a log kept for the view: its end, where a backup's outcome is.
pub const MAX_LOG_LINES: usize = 10_000;
/// The width of a field's label in a description (`Phase:` and the spaces after it).
pub const LABEL_WIDTH: usize = 18;

/// A file of a backup in its bucket, as a DownloadRequest's `spec.target.kind` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    BackupLog,
    BackupResults,
    BackupResourceList,
}

impl Target {
    fn kind(self) -> &'static str {
        match self {
            Target::BackupLog => "BackupLog",
            Target::BackupResults => "BackupResults",
            Target::BackupResourceList => "BackupResourceList",
        }
    }
}

fn resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("velero.io", "v1", kind), plural)
}

/// A backup and the storage location it went to, read from the cluster.
struct Backup {
    client: kube::Client,
    object: Value,
    /// The location's CA (PEM), when it names one.
    ca: Option<Vec<u8>>,
}

impl Backup {
    async fn read(
        live: &LiveFleet,
        env: &str,
        role: ClusterRole,
        name: &str,
    ) -> Result<Backup, String> {
        let client = client(live, env, role).await?;
        let backups: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), NAMESPACE, &resource("Backup", "backups"));
        let object =
            serde_json::to_value(timed(backups.get(name)).await?).map_err(|e| e.to_string())?;
        let location = object["spec"]["storageLocation"]
            .as_str()
            .unwrap_or("default");
        let locations: Api<DynamicObject> = Api::namespaced_with(
            client.clone(),
            NAMESPACE,
            &resource("BackupStorageLocation", "backupstoragelocations"),
        );
        // Without its location the backup is still described; only its files are out of
        // reach, and the download says why.
        let ca = match timed(locations.get(location)).await {
            Ok(bsl) => bsl.data["spec"]["objectStorage"]["caCert"]
                .as_str()
                .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok()),
            Err(_) => None,
        };
        Ok(Backup { client, object, ca })
    }

    fn name(&self) -> &str {
        self.object["metadata"]["name"].as_str().unwrap_or_default()
    }

    fn phase(&self) -> &str {
        self.object["status"]["phase"].as_str().unwrap_or("New")
    }

    /// The file `target`: a DownloadRequest, its signed URL once Velero has processed
    /// it, and the file at that URL, inflated.
    async fn download(&self, target: Target) -> Result<String, String> {
        let requests: Api<DynamicObject> = Api::namespaced_with(
            self.client.clone(),
            NAMESPACE,
            &resource("DownloadRequest", "downloadrequests"),
        );
        let stamp = chrono::Utc::now().format("%Y%m%d%H%M%S%3f");
        // Within the 253 characters of a name, however long the backup's.
        let base: String = self.name().chars().take(200).collect();
        let name = format!("{base}-{}-{stamp}", target.kind().to_lowercase());
        let request: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "velero.io/v1", "kind": "DownloadRequest",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"target": {"kind": target.kind(), "name": self.name()}},
        }))
        .map_err(|e| e.to_string())?;
        timed(requests.create(&PostParams::default(), &request))
            .await
            .map_err(|e| format!("asking Velero for the {}: {e}", target.kind()))?;
        let url = signed_url(&requests, &name).await;
        // Read or not, the request has done its work; Velero would delete it later.
        let _ = timed(requests.delete(&name, &DeleteParams::default())).await;
        self.fetch(&url?).await
    }

    async fn fetch(&self, url: &str) -> Result<String, String> {
        let mut builder = crate::sources::http_client_builder().timeout(DOWNLOAD);
        if let Some(pem) = &self.ca {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| format!("the storage location's caCert is not PEM: {e}"))?;
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder.build().map_err(|e| e.to_string())?;
        let response = http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("the object storage did not answer: {e}"))?;
        let status = response.status();
        // Read chunk by chunk, so a huge object is refused, not held.
        let mut response = response;
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("reading from the object storage: {e}"))?
        {
            if body.len() + chunk.len() > MAX_FETCHED {
                return Err(format!(
                    "the file is larger than {} MiB; `velero backup logs` reads it whole",
                    MAX_FETCHED >> 20
                ));
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            return Err(storage_error(status.as_u16(), &body));
        }
        inflate(&body)
    }
}

/// Waits until Velero has signed the request's URL.
async fn signed_url(requests: &Api<DynamicObject>, name: &str) -> Result<String, String> {
    let wait = async {
        loop {
            let request = timed(requests.get(name)).await?;
            if let Some(url) = request.data["status"]["downloadURL"]
                .as_str()
                .filter(|u| !u.is_empty())
            {
                return Ok::<_, String>(url.to_owned());
            }
            tokio::time::sleep(SIGNING_POLL).await;
        }
    };
    match tokio::time::timeout(SIGNING, wait).await {
        Ok(url) => url,
        Err(_) => Err(format!(
            "Velero did not process download request {name} in {} s: is its server running \
             (kubectl -n velero get pods)?",
            SIGNING.as_secs()
        )),
    }
}

/// What an S3 error answer says: its code and message.
fn storage_error(status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let tag = |t: &str| {
        let open = format!("<{t}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find(&format!("</{t}>"))? + start;
        Some(sanitize(&text[start..end]))
    };
    match (tag("Code"), tag("Message")) {
        (Some(code), Some(message)) => {
            format!("the object storage answered {status} {code}: {message}")
        }
        _ => format!("the object storage answered {status}"),
    }
}

/// A gzipped file as text, at most [`MAX_BYTES`] of it; a longer one ends with a line
/// that says it was cut.
fn inflate(gz: &[u8]) -> Result<String, String> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .take(MAX_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("the file is not gzip: {e}"))?;
    let cut = out.len() as u64 > MAX_BYTES;
    out.truncate(MAX_BYTES as usize);
    let mut text = String::from_utf8_lossy(&out).into_owned();
    if cut {
        text.push_str(&format!(
            "\n(cut at {} MiB: `velero backup logs` shows the rest)",
            MAX_BYTES >> 20
        ));
    }
    Ok(text)
}

/// `velero backup logs`: the backup's log lines, made safe to print. Only a finished
/// backup has one, as Velero writes it at the end.
pub async fn backup_log(
    live: &LiveFleet,
    env: &str,
    role: ClusterRole,
    name: &str,
) -> Result<Vec<String>, String> {
    let backup = Backup::read(live, env, role, name).await?;
    if !is_finished(backup.phase()) {
        return Err(format!(
            "the log of backup {name} is not available until it is finished (it is {})",
            backup.phase()
        ));
    }
    let text = backup.download(Target::BackupLog).await?;
    Ok(last_lines(&text, MAX_LOG_LINES))
}

/// The last `keep` lines of `text`, made safe to print, after a line that says how many
/// were left out, if any.
fn last_lines(text: &str, keep: usize) -> Vec<String> {
    let total = text.lines().count();
    let skipped = total.saturating_sub(keep);
    let mut out = Vec::with_capacity(total.min(keep) + 1);
    if skipped > 0 {
        out.push(format!(
            "({skipped} earlier lines left out: `velero backup logs` shows them all)"
        ));
    }
    out.extend(text.lines().skip(skipped).map(sanitize));
    out
}

fn is_finished(phase: &str) -> bool {
    matches!(
        phase,
        "Completed" | "PartiallyFailed" | "Failed" | "FailedValidation"
    )
}

/// `velero backup describe --details`: the backup's spec and status, then (when
/// finished) its items counted by namespace and by kind, the resource list, and every
/// error and warning.
pub async fn describe_backup(
    live: &LiveFleet,
    env: &str,
    role: ClusterRole,
    name: &str,
) -> Result<Vec<String>, String> {
    let backup = Backup::read(live, env, role, name).await?;
    let files = if is_finished(backup.phase()) {
        let (list, results) = tokio::join!(
            backup.download(Target::BackupResourceList),
            backup.download(Target::BackupResults)
        );
        Some((
            list.and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string())),
            results.and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string())),
        ))
    } else {
        None
    };
    Ok(description(&backup.object, files))
}

/// The lines of [`describe_backup`], from the Backup and, once it is finished, its
/// resource list and results as read (or why not).
pub fn description(
    backup: &Value,
    files: Option<(Result<Value, String>, Result<Value, String>)>,
) -> Vec<String> {
    let mut out = Vec::new();
    let (meta, spec, st) = (&backup["metadata"], &backup["spec"], &backup["status"]);
    let s = |v: &Value| sanitize(v.as_str().unwrap_or_default());
    let or_none = |v: String| if v.is_empty() { "<none>".to_owned() } else { v };
    let list = |v: &Value, default: &str| match v.as_array().filter(|a| !a.is_empty()) {
        Some(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(sanitize)
            .collect::<Vec<_>>()
            .join(", "),
        None => default.to_owned(),
    };
    let mut field = |label: &str, value: String| {
        out.push(format!("{:<LABEL_WIDTH$}{value}", format!("{label}:")))
    };
    field("Name", s(&meta["name"]));
    field("Namespace", s(&meta["namespace"]));
    // `k=v` pairs of a label map.
    let pairs = |v: &Value, sep: &str| {
        let joined = v
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k}={}", s(v)))
                    .collect::<Vec<_>>()
                    .join(sep)
            })
            .unwrap_or_default();
        or_none(sanitize(&joined))
    };
    // What the backup takes and leaves of namespaces or resources.
    let scope = |what: &str| {
        format!(
            "included {}; excluded {}",
            list(&spec[format!("included{what}")], "*"),
            list(&spec[format!("excluded{what}")], "<none>")
        )
    };
    field("Labels", pairs(&meta["labels"], ", "));
    field("Phase", s(&st["phase"]));
    if let Some(reason) = st["failureReason"].as_str().filter(|r| !r.is_empty()) {
        field("Failure", sanitize(reason));
    }
    for e in st["validationErrors"].as_array().into_iter().flatten() {
        field("Validation error", s(e));
    }
    field("Errors", st["errors"].as_u64().unwrap_or(0).to_string());
    field("Warnings", st["warnings"].as_u64().unwrap_or(0).to_string());
    field("Namespaces", scope("Namespaces"));
    field("Resources", scope("Resources"));
    field(
        "Label selector",
        pairs(&spec["labelSelector"]["matchLabels"], ","),
    );
    field("Storage location", or_none(s(&spec["storageLocation"])));
    field("TTL", or_none(s(&spec["ttl"])));
    field("Started", or_none(s(&st["startTimestamp"])));
    field("Completed", or_none(s(&st["completionTimestamp"])));
    field("Expiration", or_none(s(&st["expiration"])));
    let progress = &st["progress"];
    if let Some(total) = progress["totalItems"].as_u64() {
        field(
            "Items",
            format!(
                "{} of {total} backed up",
                progress["itemsBackedUp"].as_u64().unwrap_or(0)
            ),
        );
    }
    let Some((list, results)) = files else {
        out.push(String::new());
        out.push("Its resource list, errors and warnings are written when it finishes.".into());
        return out;
    };
    match list {
        Ok(list) => resource_sections(&mut out, &list),
        Err(e) => {
            out.push(String::new());
            out.push(format!("Resource list: <error getting it: {e}>"));
        }
    }
    for (title, key) in [("Errors:", "errors"), ("Warnings:", "warnings")] {
        out.push(String::new());
        out.push(title.to_owned());
        match &results {
            Ok(r) => findings(&mut out, &r[key]),
            Err(e) => out.push(format!("  <error getting the results: {e}>")),
        }
    }
    out
}

/// Items counted by namespace and by kind, then every item by kind.
fn resource_sections(out: &mut Vec<String>, list: &Value) {
    let Some(kinds) = list.as_object() else {
        return;
    };
    let mut by_namespace: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_kind: Vec<(String, usize)> = Vec::new();
    for (kind, items) in kinds {
        let items = items.as_array().map(Vec::as_slice).unwrap_or_default();
        by_kind.push((sanitize(kind), items.len()));
        for item in items.iter().filter_map(Value::as_str) {
            let namespace = match item.split_once('/') {
                Some((ns, _)) => sanitize(ns),
                None => "<cluster>".to_owned(),
            };
            *by_namespace.entry(namespace).or_default() += 1;
        }
    }
    let total: usize = by_kind.iter().map(|(_, n)| n).sum();
    if total == 0 {
        out.push(String::new());
        out.push("Resource list:".to_owned());
        out.push("  <none>".to_owned());
        return;
    }
    out.push(String::new());
    out.push(format!("Items by namespace ({total} in all):"));
    for (ns, n) in &by_namespace {
        out.push(format!("  {ns:<32} {n:>6}"));
    }
    out.push(String::new());
    out.push("Items by kind:".to_owned());
    for (kind, n) in &by_kind {
        out.push(format!("  {kind:<32} {n:>6}"));
    }
    out.push(String::new());
    out.push("Resource list:".to_owned());
    for (kind, items) in kinds {
        out.push(format!("  {}:", sanitize(kind)));
        for item in items
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            out.push(format!("    - {}", sanitize(item)));
        }
    }
}

/// One kind of result (errors or warnings): Velero's, the cluster's, each namespace's.
fn findings(out: &mut Vec<String>, result: &Value) {
    let start = out.len();
    let messages = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(sanitize)
            .collect()
    };
    for (who, key) in [("Velero", "velero"), ("Cluster", "cluster")] {
        for m in messages(&result[key]) {
            out.push(format!("  {who}: {m}"));
        }
    }
    for (ns, list) in result["namespaces"].as_object().into_iter().flatten() {
        for m in messages(list) {
            out.push(format!("  {}: {m}", sanitize(ns)));
        }
    }
    if out.len() == start {
        out.push("  <none>".to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backup() -> Value {
        json!({
            "metadata": {"name": "daily-1", "namespace": "velero", "labels": {"velero.io/schedule-name": "daily"}},
            "spec": {"includedNamespaces": ["*"], "storageLocation": "default", "ttl": "720h0m0s"},
            "status": {"phase": "PartiallyFailed", "errors": 1, "warnings": 1,
                "startTimestamp": "2026-12-08T01:00:00Z", "completionTimestamp": "2026-12-08T01:00:20Z",
                "progress": {"totalItems": 3, "itemsBackedUp": 3}}
        })
    }

    #[test]
    fn a_finished_backup_is_described_with_its_counts_and_findings() {
        let list = json!({"v1/Namespace": ["shop"], "apps/v1/Deployment": ["shop/web"], "v1/ConfigMap": ["shop/cfg", "db/x"]});
        let results = json!({"errors": {"namespaces": {"shop": ["error executing custom action"]}},
            "warnings": {"velero": ["no volume snapshot location"]}});
        let lines = description(&backup(), Some((Ok(list), Ok(results))));
        let text = lines.join("\n");
        for expected in [
            "Phase:            PartiallyFailed",
            "Labels:           velero.io/schedule-name=daily",
            "Items:            3 of 3 backed up",
            "Items by namespace (4 in all):",
            "  <cluster>                             1",
            "  shop                                  2",
            "  apps/v1/Deployment                    1",
            "    - shop/web",
            "Errors:\n  shop: error executing custom action",
            "Warnings:\n  Velero: no volume snapshot location",
        ] {
            assert!(text.contains(expected), "{expected:?} in\n{text}");
        }
    }

    #[test]
    fn what_could_not_be_read_is_said_where_it_would_be() {
        let lines = description(
            &backup(),
            Some((
                Err("NoSuchKey".into()),
                Ok(json!({"errors": {}, "warnings": {}})),
            )),
        );
        let text = lines.join("\n");
        assert!(
            text.contains("Resource list: <error getting it: NoSuchKey>"),
            "{text}"
        );
        assert!(text.contains("Errors:\n  <none>"), "{text}");
        let mut running = backup();
        running["status"]["phase"] = json!("InProgress");
        let text = description(&running, None).join("\n");
        assert!(text.contains("written when it finishes"), "{text}");
    }

    #[test]
    fn storage_errors_and_gzip_are_read_as_s3_writes_them() {
        let xml = b"<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>";
        assert_eq!(
            storage_error(403, xml),
            "the object storage answered 403 AccessDenied: Request has expired"
        );
        assert_eq!(
            storage_error(502, b"bad gateway"),
            "the object storage answered 502"
        );
        assert!(inflate(b"not gzip").unwrap_err().contains("not gzip"));
        let lines = last_lines("a\nb\nc\nd", 2);
        assert_eq!(
            lines,
            [
                "(2 earlier lines left out: `velero backup logs` shows them all)",
                "c",
                "d"
            ]
        );
        assert_eq!(last_lines("a\nb", 2), ["a", "b"]);
    }
}
