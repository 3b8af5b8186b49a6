//! What Velero writes to its bucket for a backup besides the tarball, gzipped as Velero
//! writes them: the log (`<name>-logs.gz`), the results (`<name>-results.gz`: errors and
//! warnings of Velero, the cluster and each namespace) and the resource list
//! (`<name>-resource-list.json.gz`). They are made when read, from the backup's status
//! and what it holds, and agree with the counts in its status.

use std::collections::BTreeMap;
use std::io::Write;

use chrono::{DateTime, Duration, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};

use super::objects::{phase, str_at};
use super::velero::{Content, ObjectStorage};
use crate::clock::{k8s_time, parse_time};
use crate::cluster::ClusterSim;
use crate::hash::fnv64;
use crate::registry::{KINDS, ids};
use crate::store::{name_of, namespace_of, uid_of};

const NS: &str = "velero";

/// A file of a backup in the bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum File {
    Log,
    Results,
    ResourceList,
}

impl File {
    /// The file a DownloadRequest's `spec.target.kind` asks for.
    pub fn of_target(kind: &str) -> Option<File> {
        match kind {
            "BackupLog" => Some(File::Log),
            "BackupResults" => Some(File::Results),
            "BackupResourceList" => Some(File::ResourceList),
            _ => None,
        }
    }

    /// Its name in the backup's folder.
    pub fn name(self, backup: &str) -> String {
        match self {
            File::Log => format!("{backup}-logs.gz"),
            File::Results => format!("{backup}-results.gz"),
            File::ResourceList => format!("{backup}-resource-list.json.gz"),
        }
    }

    pub fn from_name(backup: &str, name: &str) -> Option<File> {
        [File::Log, File::Results, File::ResourceList]
            .into_iter()
            .find(|f| f.name(backup) == name)
    }
}

/// The gzipped bytes of `file` of backup `name`, or `None` when Velero has not written
/// it: the backup is unknown or not finished, or its storage was never reached.
pub fn object(cluster: &ClusterSim, name: &str, file: File) -> Option<Vec<u8>> {
    let backup = cluster.store.get(*ids::BACKUPS, NS, name)?;
    if !matches!(phase(&backup), "Completed" | "PartiallyFailed" | "Failed") {
        return None;
    }
    // A location that was unavailable took nothing, not even the log.
    if str_at(&backup["status"]["failureReason"]).contains("backup storage location") {
        return None;
    }
    let content = ObjectStorage::shared()
        .content(&cluster.store, uid_of(&backup))
        .unwrap_or_default();
    let findings = Findings::of(&backup, &content);
    let bytes = match file {
        File::Log => log(&backup, &content, &findings).into_bytes(),
        File::Results => findings.results().to_string().into_bytes(),
        File::ResourceList => resource_list(&content).to_string().into_bytes(),
    };
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    gz.write_all(&bytes).ok()?;
    gz.finish().ok()
}

/// `group/version/Kind` as Velero names a resource in its lists.
fn gvk(kind: usize) -> String {
    let k = &KINDS[kind];
    match k.group {
        "" => format!("{}/{}", k.version, k.kind),
        g => format!("{g}/{}/{}", k.version, k.kind),
    }
}

/// `plural.group`, as Velero's log names a resource.
fn resource(kind: usize) -> String {
    let k = &KINDS[kind];
    match k.group {
        "" => k.plural.to_owned(),
        g => format!("{}.{g}", k.plural),
    }
}

fn item_name(obj: &Value) -> String {
    match namespace_of(obj) {
        "" => name_of(obj).to_owned(),
        ns => format!("{ns}/{}", name_of(obj)),
    }
}

/// Every item by `group/version/Kind`, as `namespace/name` (a cluster-scoped one by name).
fn resource_list(content: &Content) -> Value {
    let mut list: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (kind, obj) in content.iter() {
        list.entry(gvk(*kind)).or_default().push(item_name(obj));
    }
    for items in list.values_mut() {
        items.sort();
    }
    json!(list)
}

/// One error or warning: of an item (its index in the content, and its namespace) or
/// of Velero itself.
struct Finding {
    item: Option<usize>,
    namespace: Option<String>,
    message: String,
}

impl Finding {
    fn of_velero(message: String) -> Finding {
        Finding {
            item: None,
            namespace: None,
            message,
        }
    }

    fn of_item(content: &Content, i: usize, message: String) -> Finding {
        Finding {
            item: Some(i),
            namespace: Some(namespace_of(&content[i].1).to_owned()),
            message,
        }
    }
}

/// The backup's errors and warnings, as many as its status counts.
struct Findings {
    errors: Vec<Finding>,
    warnings: Vec<Finding>,
}

impl Findings {
    fn of(backup: &Value, content: &Content) -> Findings {
        // Whoever may write a Backup may write its status: no more findings than items
        // (and one of Velero's own), however large the count written.
        let count = |field: &str| {
            let n = backup["status"][field].as_u64().unwrap_or(0);
            usize::try_from(n)
                .unwrap_or(usize::MAX)
                .min(content.len() + 1)
        };
        let seed = fnv64(name_of(backup).as_bytes()) as usize;
        // Items of a namespace, picked evenly and the same at every read.
        let namespaced: Vec<usize> = (0..content.len())
            .filter(|&i| !namespace_of(&content[i].1).is_empty())
            .collect();
        let pick = |k: usize| -> Option<usize> {
            (!namespaced.is_empty()).then(|| namespaced[(seed + k * 7919) % namespaced.len()])
        };
        let mut errors = Vec::new();
        let reason = str_at(&backup["status"]["failureReason"]);
        if !reason.is_empty() {
            errors.push(Finding::of_velero(reason.to_owned()));
        }
        for k in errors.len()..count("errors") {
            errors.push(match pick(k) {
                Some(i) => Finding::of_item(
                    content,
                    i,
                    format!(
                        "error executing custom action (groupResource={}, namespace={}, \
                         name={}): rpc error: code = Unknown desc = timed out waiting for the \
                         volume snapshot to become ready",
                        resource(content[i].0),
                        namespace_of(&content[i].1),
                        name_of(&content[i].1)
                    ),
                ),
                None => Finding::of_velero(
                    "error getting backup store for this location: timed out".to_owned(),
                ),
            });
        }
        let warnings = (0..count("warnings"))
            .map(|k| match pick(k + 1000) {
                Some(i) => Finding::of_item(
                    content,
                    i,
                    format!(
                        "{} {} has no volume snapshot location for provider aws: its volumes \
                         are not snapshotted",
                        resource(content[i].0),
                        item_name(&content[i].1)
                    ),
                ),
                None => Finding::of_velero("no volume snapshot location is configured".to_owned()),
            })
            .collect();
        Findings { errors, warnings }
    }

    /// The results file: per kind, Velero's own, the cluster's and each namespace's.
    fn results(&self) -> Value {
        json!({"errors": results_of(&self.errors), "warnings": results_of(&self.warnings)})
    }
}

/// Velero's `Result`: `velero`, `cluster` and `namespaces`, each left out when empty.
fn results_of(findings: &[Finding]) -> Value {
    let mut velero = Vec::new();
    let mut namespaces: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for f in findings {
        match &f.namespace {
            Some(ns) => namespaces.entry(ns.clone()).or_default().push(&f.message),
            None => velero.push(f.message.as_str()),
        }
    }
    let mut out = serde_json::Map::new();
    if !velero.is_empty() {
        out.insert("velero".into(), json!(velero));
    }
    if !namespaces.is_empty() {
        out.insert("namespaces".into(), json!(namespaces));
    }
    Value::Object(out)
}

/// The log as Velero's server writes it (logrus text format): set-up, each item backed
/// up, progress every tenth, errors and warnings where they happened, and the end.
fn log(backup: &Value, content: &Content, findings: &Findings) -> String {
    let name = name_of(backup);
    let st = &backup["status"];
    let start = parse_time(str_at(&st["startTimestamp"])).unwrap_or_else(Utc::now);
    let end = parse_time(str_at(&st["completionTimestamp"])).unwrap_or(start);
    let total = content.len();
    let at = |i: usize| -> DateTime<Utc> {
        let span = (end - start).num_milliseconds().max(0);
        start + Duration::milliseconds(span * i as i64 / (total.max(1) as i64 + 1))
    };
    let mut out = String::new();
    let mut line = |t: DateTime<Utc>, level: &str, msg: &str, source: &str, extra: &str| {
        out.push_str(&format!(
            "time=\"{}\" level={level} msg=\"{}\" backup={NS}/{name} logSource=\"{source}\"{extra}\n",
            k8s_time(t),
            msg.replace('"', "\\\"")
        ));
    };
    const CONTROLLER: &str = "pkg/controller/backup_controller.go:617";
    const BACKUPPER: &str = "pkg/backup/backup.go:435";
    const ITEM: &str = "pkg/backup/item_backupper.go:179";
    line(start, "info", "Setting up backup temp file", CONTROLLER, "");
    line(start, "info", "Setting up plugin manager", CONTROLLER, "");
    line(start, "info", "Getting backup item actions", CONTROLLER, "");
    line(
        start,
        "info",
        "Setting up backup store to check for backup existence",
        CONTROLLER,
        "",
    );
    line(start, "info", "Writing backup version file", BACKUPPER, "");
    let spec = &backup["spec"];
    let list = |v: &Value, default: &str| match v.as_array() {
        Some(a) if !a.is_empty() => a
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        _ => default.to_owned(),
    };
    line(
        start,
        "info",
        &format!(
            "Including namespaces: {}",
            list(&spec["includedNamespaces"], "*")
        ),
        BACKUPPER,
        "",
    );
    line(
        start,
        "info",
        &format!(
            "Excluding namespaces: {}",
            list(&spec["excludedNamespaces"], "<none>")
        ),
        BACKUPPER,
        "",
    );
    for (i, (kind, obj)) in content.iter().enumerate() {
        let t = at(i + 1);
        let item = format!(
            " name={} namespace={} resource={}",
            name_of(obj),
            namespace_of(obj),
            resource(*kind)
        );
        line(t, "info", "Backing up item", ITEM, &item);
        for f in findings.warnings.iter().filter(|f| f.item == Some(i)) {
            line(t, "warning", &f.message, ITEM, &item);
        }
        for f in findings.errors.iter().filter(|f| f.item == Some(i)) {
            line(t, "error", &f.message, ITEM, &item);
        }
        if (i + 1) % (total / 10).max(1) == 0 && i + 1 < total {
            line(
                t,
                "info",
                &format!(
                    "Backed up {} items out of an estimated total of {total} (estimate will \
                     change throughout the backup)",
                    i + 1
                ),
                BACKUPPER,
                "",
            );
        }
    }
    for f in findings.errors.iter().filter(|f| f.item.is_none()) {
        line(end, "error", &f.message, CONTROLLER, "");
    }
    let backed_up = st["progress"]["itemsBackedUp"]
        .as_u64()
        .unwrap_or(total as u64);
    line(
        end,
        "info",
        &format!("Backed up a total of {backed_up} items"),
        BACKUPPER,
        "",
    );
    line(end, "info", "Backup completed", CONTROLLER, "");
    out
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::sync::Arc;

    use super::*;

    fn backup(phase: &str, errors: u64, warnings: u64, reason: &str) -> Value {
        json!({
            "metadata": {"name": "daily-1", "namespace": "velero"},
            "spec": {"includedNamespaces": ["*"]},
            "status": {"phase": phase, "errors": errors, "warnings": warnings,
                "failureReason": reason,
                "startTimestamp": "2026-12-08T01:00:00Z", "completionTimestamp": "2026-12-08T01:00:20Z",
                "progress": {"totalItems": 3, "itemsBackedUp": 3}}
        })
    }

    fn content() -> Content {
        Arc::new(vec![
            (
                *ids::NAMESPACES,
                Arc::new(json!({"metadata": {"name": "shop"}})),
            ),
            (
                *ids::DEPLOYMENTS,
                Arc::new(json!({"metadata": {"name": "web", "namespace": "shop"}})),
            ),
            (
                *ids::CONFIGMAPS,
                Arc::new(json!({"metadata": {"name": "cfg", "namespace": "shop"}})),
            ),
        ])
    }

    #[test]
    fn the_resource_list_names_every_item_by_its_kind() {
        assert_eq!(
            resource_list(&content()),
            json!({"v1/Namespace": ["shop"], "apps/v1/Deployment": ["shop/web"], "v1/ConfigMap": ["shop/cfg"]})
        );
    }

    #[test]
    fn results_and_log_agree_with_the_counts_of_the_status() {
        let b = backup("PartiallyFailed", 2, 1, "");
        let f = Findings::of(&b, &content());
        assert_eq!((f.errors.len(), f.warnings.len()), (2, 1));
        let results = f.results();
        let errors = results["errors"]["namespaces"]["shop"].as_array().unwrap();
        assert_eq!(errors.len(), 2, "{results}");
        assert_eq!(
            results["warnings"]["namespaces"]["shop"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert!(
            results["errors"].get("velero").is_none(),
            "empty parts are left out"
        );
        let log = log(&b, &content(), &f);
        assert_eq!(log.matches("level=error").count(), 2, "{log}");
        assert_eq!(log.matches("level=warning").count(), 1);
        assert_eq!(log.matches("msg=\"Backing up item\"").count(), 3);
        assert!(log.contains("name=web namespace=shop resource=deployments.apps"));
        assert!(log.lines().last().unwrap().contains("Backup completed"));

        // A failure of Velero itself is Velero's error, not a namespace's.
        let failed = backup("Failed", 1, 0, "error putting object");
        let results = Findings::of(&failed, &content()).results();
        assert_eq!(
            results["errors"],
            json!({"velero": ["error putting object"]})
        );
    }

    #[test]
    fn files_are_named_as_velero_names_them_and_gzipped() {
        assert_eq!(File::Log.name("b"), "b-logs.gz");
        assert_eq!(
            File::from_name("b", "b-resource-list.json.gz"),
            Some(File::ResourceList)
        );
        assert_eq!(File::from_name("b", "c-logs.gz"), None);
        assert_eq!(File::of_target("BackupResults"), Some(File::Results));
        assert_eq!(File::of_target("RestoreLog"), None);
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(b"x").unwrap();
        let bytes = gz.finish().unwrap();
        let mut out = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "x");
    }
}
