//! Velero in a simulated cluster (namespace `velero`): Schedules create Backups on their
//! cron, Backups snapshot the cluster's objects into a simulated object-storage bucket
//! and finish after a while, Restores recreate what a backup holds, expired Backups are
//! garbage-collected, and BackupStorageLocations report their availability.
//!
//! Scenario knobs: `sim.ck8s.io/backup-outcome: Failed|PartiallyFailed|Completed` on a
//! Backup (or on a Schedule, whose new Backups inherit it) and
//! `sim.ck8s.io/unavailable: "true"` on a BackupStorageLocation.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock};

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::cron::Schedule;
use super::objects::{annotation, delete, is_terminating, patch, phase, status_mut, str_at};
use super::pacing::{self, Pacer};
use super::velero_files::File;
use super::{Controller, PerCluster};
use crate::clock::{k8s_time, parse_time};
use crate::cluster::{ClusterSim, FleetOps};
use crate::hash::fnv64;
use crate::labels::selector_matches;
use crate::registry::{KINDS, KindId, ids};
use crate::store::{Obj, Store, name_of, namespace_of, uid_of};

const NS: &str = "velero";
pub const OUTCOME_ANNOTATION: &str = "sim.ck8s.io/backup-outcome";
pub const UNAVAILABLE_ANNOTATION: &str = "sim.ck8s.io/unavailable";
const SCHEDULE_LABEL: &str = "velero.io/schedule-name";
const LOCATION_LABEL: &str = "velero.io/storage-location";
const BACKUP_LABEL: &str = "velero.io/backup-name";
const RESTORE_LABEL: &str = "velero.io/restore-name";
const DEFAULT_LOCATION: &str = "default";
const DEFAULT_TTL: &str = "720h0m0s";
const BACKUP_TIME: Duration = Duration::seconds(20);
const RESTORE_BASE_TIME: Duration = Duration::seconds(10);
const RESTORE_ITEMS_PER_SECOND: i64 = 20;
/// How long a DownloadRequest's signed URL is good for, and the request kept (Velero's
/// `signedURLTTL`).
const SIGNED_URL_TTL: Duration = Duration::minutes(10);
/// Skipped unless a backup names them in `includedNamespaces`.
const SYSTEM_NAMESPACES: [&str; 3] = ["kube-system", "velero", "kube-public"];
pub const ORPHANED_REASON: &str =
    r#"found a backup with status "InProgress" during the server starting, mark it as "Failed""#;

/// The namespaced kinds a backup holds, in the order a restore creates them (what
/// others depend on first), after the Namespace objects themselves.
fn backed_up_kinds() -> [KindId; 10] {
    [
        *ids::SERVICEACCOUNTS,
        *ids::SECRETS,
        *ids::CONFIGMAPS,
        *ids::PVCS,
        *ids::SERVICES,
        *ids::PDBS,
        *ids::DEPLOYMENTS,
        *ids::STATEFULSETS,
        *ids::DAEMONSETS,
        *ids::CRONJOBS,
    ]
}

/// What a backup holds: the objects as they were when it started, shared with the
/// store (unchanged objects cost a pointer) and cleaned up only when restored.
pub(crate) type Content = Arc<Vec<(KindId, Obj)>>;

/// The simulated object storage behind every BackupStorageLocation: backup contents
/// per cluster, keyed by Backup uid.
///
/// It outlives controller instances on purpose: the fleet settles clusters with one
/// set of controllers and then runs them with fresh ones, and a restarted Velero
/// server still finds its backups in the bucket.
#[derive(Clone, Default)]
pub struct ObjectStorage(Arc<PerCluster<HashMap<String, Content>>>);

impl ObjectStorage {
    /// The process-wide storage every [`Velero::new`] uses.
    pub fn shared() -> ObjectStorage {
        static SHARED: LazyLock<ObjectStorage> = LazyLock::new(ObjectStorage::default);
        SHARED.clone()
    }

    fn get(&self, store: &Arc<Store>, uid: &str) -> Option<Content> {
        self.0.with(store, |b| b.get(uid).cloned())
    }

    /// What the backup with `uid` holds, for the files Velero writes beside it.
    pub(crate) fn content(&self, store: &Arc<Store>, uid: &str) -> Option<Content> {
        self.get(store, uid)
    }

    fn put(&self, store: &Arc<Store>, uid: &str, content: Content) {
        self.0.with(store, |b| b.insert(uid.to_string(), content));
    }

    fn remove(&self, store: &Arc<Store>, uid: &str) {
        self.0.with(store, |b| b.remove(uid));
    }

    fn retain(&self, store: &Arc<Store>, uids: &HashSet<&str>) {
        self.0
            .with(store, |b| b.retain(|uid, _| uids.contains(uid.as_str())));
    }
}

/// Per-cluster bookkeeping of one controller instance.
#[derive(Default)]
struct ClusterState {
    pacer: Pacer,
    /// Backups this instance moved to InProgress. Any other InProgress backup was left
    /// behind by a previous server, which real Velero marks Failed on start.
    started: HashSet<String>,
}

pub struct Velero {
    storage: ObjectStorage,
    clusters: PerCluster<ClusterState>,
}

impl Default for Velero {
    fn default() -> Self {
        Velero::new()
    }
}

impl Velero {
    /// A Velero server on the shared object storage.
    pub fn new() -> Velero {
        Velero::with_storage(ObjectStorage::shared())
    }

    pub fn with_storage(storage: ObjectStorage) -> Velero {
        Velero {
            storage,
            clusters: PerCluster::default(),
        }
    }

    #[cfg(test)]
    /// The objects a backup holds, as a restore would create them (before namespace
    /// mapping); `None` when the backup or its content is unknown.
    pub fn backup_contents(&self, cluster: &ClusterSim, backup: &str) -> Option<Vec<Value>> {
        let b = cluster.store.get(*ids::BACKUPS, NS, backup)?;
        let content = self.storage.get(&cluster.store, uid_of(&b))?;
        Some(content.iter().map(|(_, o)| clean_for_restore(o)).collect())
    }
}

impl Controller for Velero {
    fn name(&self) -> &'static str {
        "velero"
    }

    fn reconcile(&self, cluster: &ClusterSim, _fleet: &dyn FleetOps) -> bool {
        self.clusters.with(&cluster.store, |state| {
            let pace = pacing::Pass::start(cluster.store.resource_version(), cluster);
            // Never skipped while the fleet boots.
            if !pace.booting && state.pacer.skips(&pace) {
                return false;
            }
            let mut pass = Pass {
                cluster,
                storage: &self.storage,
                started: &mut state.started,
                pace,
                changed: false,
            };
            pass.run();
            state.pacer.end(pass.pace);
            pass.changed
        })
    }
}

struct Pass<'a> {
    cluster: &'a ClusterSim,
    storage: &'a ObjectStorage,
    started: &'a mut HashSet<String>,
    pace: pacing::Pass,
    changed: bool,
}

/// How a finished backup ended.
struct Outcome {
    phase: &'static str,
    errors: u64,
    failure: Option<String>,
}

impl Pass<'_> {
    fn run(&mut self) {
        self.locations();
        self.schedules();
        self.backups();
        self.restores();
        self.downloads();
    }

    fn store(&self) -> &Arc<Store> {
        &self.cluster.store
    }

    fn now_str(&self) -> String {
        k8s_time(self.pace.now)
    }

    fn patch(&mut self, kind: KindId, obj: &Value, f: impl FnOnce(&mut Value)) {
        self.changed |= patch(self.store(), kind, obj, f).is_some();
    }

    fn refetch(&self, kind: KindId, name: &str) -> Option<Obj> {
        self.store().get(kind, NS, name)
    }

    // ---- BackupStorageLocations ----

    fn locations(&mut self) {
        // Validation runs every minute; at high speeds no more than once a real second,
        // so a fast demo does not flood watchers with timestamp updates.
        let every = Duration::seconds(60.max(self.cluster.clock.speed() as i64));
        let (bsls, _) = self.store().list(*ids::BSLS, Some(NS));
        for bsl in bsls {
            let name = name_of(&bsl).to_string();
            let unavailable = is_unavailable(&bsl);
            let phase = if unavailable {
                "Unavailable"
            } else {
                "Available"
            };
            let validated = parse_time(str_at(&bsl["status"]["lastValidationTime"]));
            if bsl["status"]["phase"] == phase
                && let Some(t) = validated
                && !self.pace.reached(t + every)
            {
                continue;
            }
            let now = self.now_str();
            let message = unavailable_message(&name);
            self.patch(*ids::BSLS, &bsl, |o| {
                let st = status_mut(o);
                st.insert("phase".into(), json!(phase));
                st.insert("lastValidationTime".into(), json!(now));
                if unavailable {
                    st.insert("message".into(), json!(message));
                } else {
                    st.insert("lastSyncedTime".into(), json!(now));
                    st.remove("message");
                }
            });
            self.pace.wake_at(self.pace.now + every);
        }
    }

    fn default_location(&self) -> String {
        let (bsls, _) = self.store().list(*ids::BSLS, Some(NS));
        bsls.iter()
            .find(|b| b["spec"]["default"] == true)
            .map_or(DEFAULT_LOCATION.to_string(), |b| name_of(b).to_string())
    }

    // ---- Schedules ----

    fn schedules(&mut self) {
        let (schedules, _) = self.store().list(*ids::SCHEDULES, Some(NS));
        for s in schedules {
            self.schedule(&s);
        }
    }

    fn schedule(&mut self, s: &Obj) {
        let spec = match Schedule::parse(str_at(&s["spec"]["schedule"]), None) {
            Ok(spec) => spec,
            Err(e) => {
                self.patch(*ids::SCHEDULES, s, |o| {
                    let st = status_mut(o);
                    st.insert("phase".into(), json!("FailedValidation"));
                    st.insert(
                        "validationErrors".into(),
                        json!([format!("invalid schedule: {e}")]),
                    );
                });
                return;
            }
        };
        self.patch(*ids::SCHEDULES, s, |o| {
            let st = status_mut(o);
            st.insert("phase".into(), json!("Enabled"));
            st.remove("validationErrors");
        });
        if s["spec"]["paused"] == true {
            return;
        }
        let mut from = parse_time(str_at(&s["status"]["lastBackup"]))
            .or_else(|| parse_time(str_at(&s["metadata"]["creationTimestamp"])))
            .unwrap_or(self.pace.now);
        // Like Velero, only the latest missed slot runs, not one backup per missed slot.
        if let Some(slot) = spec.latest_between(from, self.pace.now) {
            self.create_scheduled_backup(s, slot);
            let last = k8s_time(slot);
            self.patch(*ids::SCHEDULES, s, |o| {
                status_mut(o).insert("lastBackup".into(), json!(last));
            });
            from = slot;
        }
        if let Some(next) = spec.next_after(from.max(self.pace.now)) {
            self.pace.wake_at(next);
        }
    }

    fn create_scheduled_backup(&mut self, s: &Obj, slot: DateTime<Utc>) {
        let schedule = name_of(s);
        let name = format!("{schedule}-{}", slot.format("%Y%m%d%H%M%S"));
        let mut spec = s["spec"]["template"].clone();
        if !spec.is_object() {
            spec = json!({});
        }
        let location = match str_at(&spec["storageLocation"]) {
            "" => self.default_location(),
            l => l.to_string(),
        };
        let mut labels = s["metadata"]["labels"].clone();
        if let Some(extra) = spec["metadata"]["labels"].as_object() {
            for (k, v) in extra {
                labels[k] = v.clone();
            }
        }
        labels[SCHEDULE_LABEL] = json!(schedule);
        labels[LOCATION_LABEL] = json!(location);
        let mut metadata = json!({"name": name, "namespace": NS, "labels": labels});
        // The schedule's outcome knob applies to the backups it makes from now on.
        if let Some(outcome) = annotation(s, OUTCOME_ANNOTATION) {
            metadata["annotations"] = json!({OUTCOME_ANNOTATION: outcome});
        }
        if s["spec"]["useOwnerReferencesInBackup"] == true {
            metadata["ownerReferences"] = json!([{
                "apiVersion": "velero.io/v1", "kind": "Schedule", "name": schedule,
                "uid": uid_of(s), "controller": true,
            }]);
        }
        let backup = json!({"metadata": metadata, "spec": spec});
        // Already there means an earlier pass made it; the status update was lost.
        if self.store().create(*ids::BACKUPS, backup).is_ok() {
            self.changed = true;
        }
    }

    // ---- Backups ----

    fn backups(&mut self) {
        let (backups, _) = self.store().list(*ids::BACKUPS, Some(NS));
        for b in &backups {
            self.backup(b.clone());
        }
        let (left, _) = self.store().list(*ids::BACKUPS, Some(NS));
        let uids: HashSet<&str> = left.iter().map(|b| uid_of(b)).collect();
        self.storage.retain(self.store(), &uids);
        self.started.retain(|u| uids.contains(u.as_str()));
    }

    fn backup(&mut self, mut b: Obj) {
        let name = name_of(&b).to_string();
        if matches!(phase(&b), "" | "New") {
            self.start_backup(&b);
            let Some(next) = self.refetch(*ids::BACKUPS, &name) else {
                return;
            };
            b = next;
        }
        if phase(&b) == "InProgress" {
            self.progress_backup(&b);
            let Some(next) = self.refetch(*ids::BACKUPS, &name) else {
                return;
            };
            b = next;
        }
        if matches!(phase(&b), "Completed" | "PartiallyFailed") {
            self.adopt(&b);
        }
        self.expire(&b);
    }

    fn start_backup(&mut self, b: &Obj) {
        let spec = &b["spec"];
        let location = match str_at(&spec["storageLocation"]) {
            "" => self.default_location(),
            l => l.to_string(),
        };
        let now = self.now_str();
        let Some(bsl) = self.store().get(*ids::BSLS, NS, &location) else {
            let error = format!(
                "an existing backup storage location wasn't specified at backup creation time \
                 and the default '{location}' wasn't found. Please address this issue (see \
                 `velero backup-location -h` for options) and create a new backup. Error: \
                 backupstoragelocations.velero.io \"{location}\" not found"
            );
            self.patch(*ids::BACKUPS, b, |o| {
                let st = status_mut(o);
                st.insert("phase".into(), json!("FailedValidation"));
                st.insert("validationErrors".into(), json!([error]));
                st.insert("formatVersion".into(), json!("1.1.0"));
                st.insert("version".into(), json!(1));
            });
            return;
        };
        let ttl = str_at(&spec["ttl"]);
        let ttl_str = if ttl.is_empty() {
            DEFAULT_TTL.to_string()
        } else {
            ttl.to_string()
        };
        let expiration =
            k8s_time(self.pace.now + parse_go_duration(&ttl_str).unwrap_or(Duration::hours(720)));
        let fill_spec = |o: &mut Value| {
            o["spec"]["storageLocation"] = json!(location);
            o["spec"]["ttl"] = json!(ttl_str);
            o["metadata"]["labels"][LOCATION_LABEL] = json!(location);
        };
        if is_unavailable(&bsl) {
            let reason = format!("backup storage location {location} is unavailable");
            self.patch(*ids::BACKUPS, b, |o| {
                fill_spec(o);
                let st = status_mut(o);
                for (k, v) in [
                    ("phase", json!("Failed")),
                    ("failureReason", json!(reason)),
                    ("startTimestamp", json!(now)),
                    ("completionTimestamp", json!(now)),
                    ("expiration", json!(expiration)),
                    ("errors", json!(1)),
                    ("warnings", json!(0)),
                    ("formatVersion", json!("1.1.0")),
                    ("version", json!(1)),
                ] {
                    st.insert(k.into(), v);
                }
            });
            return;
        }
        let content = snapshot(self.store(), spec);
        let total = content.len();
        self.storage.put(self.store(), uid_of(b), Arc::new(content));
        self.started.insert(uid_of(b).to_string());
        self.patch(*ids::BACKUPS, b, |o| {
            fill_spec(o);
            let st = status_mut(o);
            for (k, v) in [
                ("phase", json!("InProgress")),
                ("startTimestamp", json!(now)),
                ("expiration", json!(expiration)),
                ("formatVersion", json!("1.1.0")),
                ("version", json!(1)),
                ("progress", json!({"totalItems": total, "itemsBackedUp": 0})),
            ] {
                st.insert(k.into(), v);
            }
        });
    }

    fn progress_backup(&mut self, b: &Obj) {
        let name = name_of(b).to_string();
        let uid = uid_of(b).to_string();
        let now = self.now_str();
        if !self.started.contains(&uid) {
            self.storage.remove(self.store(), &uid);
            self.patch(*ids::BACKUPS, b, |o| {
                let st = status_mut(o);
                st.insert("phase".into(), json!("Failed"));
                st.insert("failureReason".into(), json!(ORPHANED_REASON));
                st.insert("completionTimestamp".into(), json!(now));
            });
            return;
        }
        let start = parse_time(str_at(&b["status"]["startTimestamp"])).unwrap_or(self.pace.now);
        if !self.pace.elapsed(Some(start), BACKUP_TIME) {
            return;
        }
        let outcome = self.outcome(b);
        let total = b["status"]["progress"]["totalItems"].as_u64().unwrap_or(0);
        let backed_up = match outcome.phase {
            "Failed" => total / 2,
            _ => total.saturating_sub(outcome.errors),
        };
        if outcome.phase == "Failed" {
            self.storage.remove(self.store(), &uid);
        }
        let warnings = fnv64(name.as_bytes()) % 4;
        self.started.remove(&uid);
        self.patch(*ids::BACKUPS, b, |o| {
            let st = status_mut(o);
            st.insert("phase".into(), json!(outcome.phase));
            st.insert("completionTimestamp".into(), json!(now));
            st.insert("errors".into(), json!(outcome.errors));
            st.insert("warnings".into(), json!(warnings));
            st.insert(
                "progress".into(),
                json!({"totalItems": total, "itemsBackedUp": backed_up}),
            );
            if let Some(reason) = outcome.failure {
                st.insert("failureReason".into(), json!(reason));
            }
        });
    }

    fn outcome(&self, b: &Obj) -> Outcome {
        let location = str_at(&b["spec"]["storageLocation"]);
        let bsl = self.store().get(*ids::BSLS, NS, location);
        if bsl.as_deref().is_some_and(is_unavailable) {
            return Outcome {
                phase: "Failed",
                errors: 1,
                failure: Some(format!("backup storage location {location} is unavailable")),
            };
        }
        match annotation(b, OUTCOME_ANNOTATION).map(str::trim) {
            Some("Failed") => Outcome {
                phase: "Failed",
                errors: 1,
                failure: Some(format!(
                    "rpc error: code = Unknown desc = error putting object \
                     backups/{0}/{0}.tar.gz: simulated object storage failure \
                     ({OUTCOME_ANNOTATION})",
                    name_of(b)
                )),
            },
            Some("PartiallyFailed") => Outcome {
                phase: "PartiallyFailed",
                errors: 1 + fnv64(name_of(b).as_bytes()) % 3,
                failure: None,
            },
            _ => Outcome {
                phase: "Completed",
                errors: 0,
                failure: None,
            },
        }
    }

    /// A successful backup this server never ran (made by someone else, or before a
    /// restart without its storage) gets the cluster as it is now, as if synced
    /// from the bucket.
    fn adopt(&mut self, b: &Obj) {
        if self.storage.get(self.store(), uid_of(b)).is_none() {
            let content = snapshot(self.store(), &b["spec"]);
            self.storage.put(self.store(), uid_of(b), Arc::new(content));
        }
    }

    fn expire(&mut self, b: &Obj) {
        let Some(expiration) = parse_time(str_at(&b["status"]["expiration"])) else {
            return;
        };
        if !self.pace.reached(expiration) {
            return;
        }
        if delete(&self.cluster.store, *ids::BACKUPS, b) {
            self.storage.remove(self.store(), uid_of(b));
            self.changed = true;
        }
    }

    // ---- DownloadRequests ----

    /// What `velero backup logs` and `describe --details` ask for: a signed URL of one
    /// file of a backup, good for ten minutes, after which the request is deleted. A
    /// request for an unknown backup, or for a file of another kind, stays New, as Velero
    /// retries it.
    fn downloads(&mut self) {
        let (requests, _) = self.store().list(*ids::DOWNLOAD_REQUESTS, Some(NS));
        for dr in requests {
            match phase(&dr) {
                "" | "New" => self.process_download(&dr),
                _ => {
                    let expires = parse_time(str_at(&dr["status"]["expiration"]));
                    match expires {
                        Some(t) if !self.pace.reached(t) => self.pace.wake_at(t),
                        _ => self.changed |= delete(self.store(), *ids::DOWNLOAD_REQUESTS, &dr),
                    }
                }
            }
        }
    }

    fn process_download(&mut self, dr: &Obj) {
        let target = &dr["spec"]["target"];
        let (Some(file), Some(endpoint)) = (
            File::of_target(str_at(&target["kind"])),
            self.cluster.object_storage.get().cloned(),
        ) else {
            return;
        };
        let name = str_at(&target["name"]);
        let Some(backup) = self.refetch(*ids::BACKUPS, name) else {
            return;
        };
        let location = str_at(&backup["spec"]["storageLocation"]);
        let Some(bsl) = self.store().get(*ids::BSLS, NS, location) else {
            return;
        };
        let storage = &bsl["spec"]["objectStorage"];
        let folder = match str_at(&storage["prefix"]) {
            "" => format!("backups/{name}"),
            prefix => format!("{prefix}/backups/{name}"),
        };
        let now = self.pace.now;
        let url = endpoint.presign(
            str_at(&storage["bucket"]),
            &format!("{folder}/{}", file.name(name)),
            now,
            SIGNED_URL_TTL,
        );
        let expiration = k8s_time(now + SIGNED_URL_TTL);
        self.patch(*ids::DOWNLOAD_REQUESTS, dr, |o| {
            let st = status_mut(o);
            st.insert("phase".into(), json!("Processed"));
            st.insert("downloadURL".into(), json!(url));
            st.insert("expiration".into(), json!(expiration));
        });
        self.pace.wake_at(now + SIGNED_URL_TTL);
    }

    // ---- Restores ----

    fn restores(&mut self) {
        let (restores, _) = self.store().list(*ids::RESTORES, Some(NS));
        for r in restores {
            let name = name_of(&r).to_string();
            let mut r = r;
            if matches!(phase(&r), "" | "New") {
                self.start_restore(&r);
                let Some(next) = self.refetch(*ids::RESTORES, &name) else {
                    continue;
                };
                r = next;
            }
            if phase(&r) == "InProgress" {
                self.progress_restore(&r);
            }
        }
    }

    /// The backup a restore reads and its content, or why it cannot.
    fn source(&self, r: &Value) -> Result<(String, Content), String> {
        let spec = &r["spec"];
        let name = match (str_at(&spec["backupName"]), str_at(&spec["scheduleName"])) {
            ("", "") => return Err("either a backup or schedule must be specified as a source for the restore, but not both".into()),
            ("", schedule) => self
                .newest_completed(schedule)
                .ok_or_else(|| format!("no backups found for schedule {schedule}"))?,
            (backup, _) => backup.to_string(),
        };
        let backup = self
            .store()
            .get(*ids::BACKUPS, NS, &name)
            .ok_or_else(|| format!("backups.velero.io \"{name}\" not found"))?;
        let phase = phase(&backup);
        if !matches!(phase, "Completed" | "PartiallyFailed") {
            return Err(format!(
                "backup \"{name}\" is in phase \"{phase}\"; only Completed or PartiallyFailed backups can be restored"
            ));
        }
        let content = self
            .storage
            .get(self.store(), uid_of(&backup))
            .ok_or_else(|| {
                format!("error downloading backup \"{name}\": content not found in object storage")
            })?;
        Ok((name, content))
    }

    fn newest_completed(&self, schedule: &str) -> Option<String> {
        let (backups, _) = self.store().list(*ids::BACKUPS, Some(NS));
        backups
            .iter()
            .filter(|b| {
                b["metadata"]["labels"][SCHEDULE_LABEL] == schedule && phase(b) == "Completed"
            })
            .max_by_key(|b| {
                (
                    str_at(&b["status"]["startTimestamp"]).to_string(),
                    name_of(b).to_string(),
                )
            })
            .map(|b| name_of(b).to_string())
    }

    fn fail_restore(&mut self, r: &Value, reason: String) {
        let now = self.now_str();
        self.patch(*ids::RESTORES, r, |o| {
            let st = status_mut(o);
            st.insert("phase".into(), json!("Failed"));
            st.insert("failureReason".into(), json!(reason));
            st.entry("startTimestamp").or_insert_with(|| json!(now));
            st.insert("completionTimestamp".into(), json!(now));
            st.insert("errors".into(), json!(1));
            st.insert("warnings".into(), json!(0));
        });
    }

    fn start_restore(&mut self, r: &Obj) {
        let (backup, content) = match self.source(r) {
            Ok(s) => s,
            Err(reason) => return self.fail_restore(r, reason),
        };
        let total = plan_restore(r, &content).len();
        let now = self.now_str();
        self.patch(*ids::RESTORES, r, |o| {
            o["spec"]["backupName"] = json!(backup);
            o["metadata"]["labels"][BACKUP_LABEL] = json!(backup);
            let st = status_mut(o);
            st.insert("phase".into(), json!("InProgress"));
            st.insert("startTimestamp".into(), json!(now));
            st.insert(
                "progress".into(),
                json!({"totalItems": total, "itemsRestored": 0}),
            );
        });
    }

    fn progress_restore(&mut self, r: &Obj) {
        let name = name_of(r).to_string();
        let start = parse_time(str_at(&r["status"]["startTimestamp"])).unwrap_or(self.pace.now);
        let total = r["status"]["progress"]["totalItems"].as_i64().unwrap_or(0);
        let took = RESTORE_BASE_TIME + Duration::seconds(total / RESTORE_ITEMS_PER_SECOND);
        if !self.pace.elapsed(Some(start), took) {
            return;
        }
        let content = match self.source(r) {
            Ok((_, content)) => content,
            Err(reason) => return self.fail_restore(r, reason),
        };
        let result = execute_restore(self.store(), &name, plan_restore(r, &content));
        self.changed |= result.restored > 0;
        let now = self.now_str();
        let phase = if result.errors > 0 {
            "PartiallyFailed"
        } else {
            "Completed"
        };
        let planned = result.restored + result.skipped + result.errors;
        self.patch(*ids::RESTORES, r, |o| {
            let st = status_mut(o);
            st.insert("phase".into(), json!(phase));
            st.insert("completionTimestamp".into(), json!(now));
            st.insert("errors".into(), json!(result.errors));
            st.insert("warnings".into(), json!(result.skipped));
            st.insert(
                "progress".into(),
                json!({"totalItems": planned, "itemsRestored": result.restored + result.skipped}),
            );
        });
    }
}

// ---- Backup content ----

/// The objects a backup spec selects, as they are now.
fn snapshot(store: &Store, spec: &Value) -> Vec<(KindId, Obj)> {
    let included = str_list(&spec["includedNamespaces"], "*");
    let excluded = str_list(&spec["excludedNamespaces"], "");
    let explicit = |ns: &str| included.iter().any(|p| p == ns);
    let (namespaces, _) = store.list(*ids::NAMESPACES, None);
    let mut out = Vec::new();
    for ns_obj in &namespaces {
        let ns = name_of(ns_obj);
        if is_terminating(ns_obj)
            || !selects(&included, &excluded, ns)
            || (SYSTEM_NAMESPACES.contains(&ns) && !explicit(ns))
        {
            continue;
        }
        if resource_selected(spec, *ids::NAMESPACES) {
            out.push((*ids::NAMESPACES, ns_obj.clone()));
        }
        for kind in backed_up_kinds() {
            if !resource_selected(spec, kind) {
                continue;
            }
            let (items, _) = store.list(kind, Some(ns));
            out.extend(
                items
                    .into_iter()
                    .filter(|o| labels_selected(spec, o))
                    .map(|o| (kind, o)),
            );
        }
    }
    out
}

/// An object as a restore creates it: no server-owned metadata, no status, and no
/// fields that belong to the old incarnation (cluster IPs, bound volumes).
fn clean_for_restore(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o["metadata"].as_object_mut() {
        for field in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "generation",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "ownerReferences",
            "managedFields",
            "selfLink",
        ] {
            m.remove(field);
        }
    }
    if let Some(m) = o.as_object_mut() {
        m.remove("status");
    }
    match o["kind"].as_str() {
        Some("Service") => {
            if let Some(spec) = o["spec"].as_object_mut()
                && spec.get("clusterIP").and_then(Value::as_str) != Some("None")
            {
                spec.remove("clusterIP");
                spec.remove("clusterIPs");
            }
        }
        Some("PersistentVolumeClaim") => {
            if let Some(spec) = o["spec"].as_object_mut() {
                spec.remove("volumeName");
            }
            if let Some(a) = o["metadata"]["annotations"].as_object_mut() {
                a.remove("pv.kubernetes.io/bind-completed");
                a.remove("pv.kubernetes.io/bound-by-controller");
            }
        }
        _ => {}
    }
    o
}

/// The objects a restore creates, in creation order, already renamed and labelled.
fn plan_restore(r: &Value, content: &[(KindId, Obj)]) -> Vec<(KindId, Value)> {
    let spec = &r["spec"];
    let included = str_list(&spec["includedNamespaces"], "*");
    let excluded = str_list(&spec["excludedNamespaces"], "");
    let backup = str_at(&spec["backupName"]);
    let mapping = &spec["namespaceMapping"];
    let mut plan: Vec<(KindId, Value)> = content
        .iter()
        .filter(|(kind, o)| {
            let ns = if *kind == *ids::NAMESPACES {
                name_of(o)
            } else {
                namespace_of(o)
            };
            selects(&included, &excluded, ns)
                && resource_selected(spec, *kind)
                && labels_selected(spec, o)
        })
        .map(|(kind, o)| {
            let mut o = clean_for_restore(o);
            let field = if *kind == *ids::NAMESPACES {
                "name"
            } else {
                "namespace"
            };
            if let Some(to) = mapping[str_at(&o["metadata"][field])].as_str() {
                o["metadata"][field] = json!(to);
            }
            if !o["metadata"]["labels"].is_object() {
                o["metadata"]["labels"] = json!({});
            }
            o["metadata"]["labels"][BACKUP_LABEL] = json!(backup);
            o["metadata"]["labels"][RESTORE_LABEL] = json!(name_of(r));
            (*kind, o)
        })
        .collect();
    let order = |k: KindId| {
        std::iter::once(*ids::NAMESPACES)
            .chain(backed_up_kinds())
            .position(|x| x == k)
            .unwrap_or(usize::MAX)
    };
    plan.sort_by_key(|(k, _)| order(*k));
    plan
}

#[derive(Debug, Default)]
struct RestoreResult {
    restored: u64,
    skipped: u64,
    errors: u64,
}

/// Creates what does not exist; Velero never overwrites, it warns.
fn execute_restore(store: &Store, restore: &str, plan: Vec<(KindId, Value)>) -> RestoreResult {
    let mut result = RestoreResult::default();
    for (kind, obj) in plan {
        let name = name_of(&obj).to_string();
        if kind == *ids::NAMESPACES {
            let ok = store.get(kind, "", &name).is_some() || store.create(kind, obj).is_ok();
            if ok {
                result.restored += 1
            } else {
                result.errors += 1
            }
            continue;
        }
        let ns = namespace_of(&obj).to_string();
        if !ensure_namespace(
            store,
            &ns,
            &obj["metadata"]["labels"][BACKUP_LABEL],
            restore,
        ) {
            result.errors += 1;
        } else if store.get(kind, &ns, &name).is_some() {
            result.skipped += 1;
        } else if store.create(kind, obj).is_ok() {
            result.restored += 1;
        } else {
            result.errors += 1;
        }
    }
    result
}

/// Makes sure a restore target namespace exists and is not going away.
fn ensure_namespace(store: &Store, ns: &str, backup: &Value, restore: &str) -> bool {
    match store.get(*ids::NAMESPACES, "", ns) {
        Some(n) => !is_terminating(&n),
        None => store
            .create(
                *ids::NAMESPACES,
                json!({"metadata": {"name": ns, "labels": {BACKUP_LABEL: backup, RESTORE_LABEL: restore}}}),
            )
            .is_ok(),
    }
}

// ---- Selection ----

fn str_list(v: &Value, default: &str) -> Vec<String> {
    match v.as_array() {
        Some(a) if !a.is_empty() => a
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        _ if default.is_empty() => Vec::new(),
        _ => vec![default.to_string()],
    }
}

fn selects(included: &[String], excluded: &[String], name: &str) -> bool {
    included.iter().any(|p| glob(p, name)) && !excluded.iter().any(|p| glob(p, name))
}

/// `*` and `?` wildcards, as Velero accepts in namespace filters.
fn glob(pattern: &str, s: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], s) || (!s.is_empty() && go(p, &s[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &s[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), s.as_bytes())
}

/// `includedResources`/`excludedResources` name resources by plural, `plural.group`
/// or `*`.
fn resource_selected(spec: &Value, kind: KindId) -> bool {
    let k = &KINDS[kind];
    let qualified = if k.group.is_empty() {
        k.plural.to_string()
    } else {
        format!("{}.{}", k.plural, k.group)
    };
    let names = |v: &Value| str_list(v, "");
    let hit = |list: &[String]| {
        list.iter()
            .any(|r| r == "*" || r == k.plural || *r == qualified)
    };
    let included = names(&spec["includedResources"]);
    (included.is_empty() || hit(&included)) && !hit(&names(&spec["excludedResources"]))
}

fn labels_selected(spec: &Value, obj: &Value) -> bool {
    let labels = &obj["metadata"]["labels"];
    // A selector that is not given selects everything here.
    let selects = |s: &Value| !s.is_object() || selector_matches(s, labels);
    let any = match spec["orLabelSelectors"].as_array() {
        Some(or) if !or.is_empty() => or.iter().any(selects),
        _ => true,
    };
    selects(&spec["labelSelector"]) && any
}

// ---- Small helpers ----

fn is_unavailable(bsl: &Value) -> bool {
    annotation(bsl, UNAVAILABLE_ANNOTATION) == Some("true")
}

fn unavailable_message(name: &str) -> String {
    format!(
        "BackupStorageLocation \"{name}\" is unavailable: rpc error: code = Unknown desc = \
         operation error S3: ListObjectsV2, https response error StatusCode: 503, api error \
         ServiceUnavailable: Service Unavailable"
    )
}

/// A Go `time.Duration` string: `720h0m0s`, `72h`, `1h30m`, `1.5h`, `300ms`.
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    let mut rest = s.trim();
    if rest == "0" {
        return Some(Duration::zero());
    }
    if rest.is_empty() {
        return None;
    }
    let mut nanos = 0f64;
    while !rest.is_empty() {
        let split = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let (number, tail) = rest.split_at(split);
        let number: f64 = number.parse().ok()?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale = match unit {
            "h" => 3.6e12,
            "m" => 6e10,
            "s" => 1e9,
            "ms" => 1e6,
            "us" | "µs" => 1e3,
            "ns" => 1.0,
            _ => return None,
        };
        nanos += number * scale;
        rest = tail;
    }
    Some(Duration::nanoseconds(nanos as i64))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use chrono::TimeZone;

    use super::*;
    use crate::clock::SimClock;
    use crate::config::ClusterRole;
    use crate::controllers::testkit::{NoFleet, edit};
    use crate::store::DeleteOptions;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, h, m, s).unwrap()
    }

    /// A cluster with namespaces `default`, `kube-system`, `velero` and `app` (a
    /// Deployment, a ConfigMap and a Secret), and the `default` location.
    fn cluster(start: DateTime<Utc>, speed: f64, booting: bool) -> ClusterSim {
        let c = ClusterSim::for_test(
            "test",
            ClusterRole::Wc,
            SimClock::new(start, speed),
            booting,
        );
        for ns in ["default", "kube-system", "velero", "app"] {
            c.store
                .create(*ids::NAMESPACES, json!({"metadata": {"name": ns}}))
                .unwrap();
        }
        let objects = [
            (
                *ids::DEPLOYMENTS,
                json!({"metadata": {"name": "web", "namespace": "app"},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}},
                "status": {"replicas": 2}}),
            ),
            (
                *ids::CONFIGMAPS,
                json!({"metadata": {"name": "cfg", "namespace": "app"}, "data": {"k": "v"}}),
            ),
            (
                *ids::SECRETS,
                json!({"metadata": {"name": "creds", "namespace": "app"}, "data": {"password": "c2VjcmV0"}}),
            ),
            (
                *ids::CONFIGMAPS,
                json!({"metadata": {"name": "sys", "namespace": "kube-system"}}),
            ),
            (
                *ids::BSLS,
                json!({"metadata": {"name": "default", "namespace": NS},
                "spec": {"provider": "aws", "default": true, "objectStorage": {"bucket": "velero"}}}),
            ),
        ];
        for (kind, o) in objects {
            c.store.create(kind, o).unwrap();
        }
        c
    }

    fn velero() -> Velero {
        Velero::with_storage(ObjectStorage::default())
    }

    fn get(c: &ClusterSim, kind: KindId, ns: &str, name: &str) -> Obj {
        c.store
            .get(kind, ns, name)
            .unwrap_or_else(|| panic!("{name} missing"))
    }

    fn create_backup(c: &ClusterSim, name: &str, annotations: Value) {
        c.store
            .create(
                *ids::BACKUPS,
                json!({"metadata": {"name": name, "namespace": NS, "annotations": annotations},
                "spec": {"ttl": "72h0m0s", "includedNamespaces": ["*"]}}),
            )
            .unwrap();
    }

    /// Passes until `done` holds, or panics after a few real seconds.
    fn run_until(v: &Velero, c: &ClusterSim, done: impl Fn(&ClusterSim) -> bool) {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !done(c) {
            assert!(std::time::Instant::now() < until, "condition not reached");
            v.reconcile(c, &NoFleet);
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }

    fn phase_of(c: &ClusterSim, kind: KindId, name: &str) -> String {
        c.store
            .get(kind, NS, name)
            .map(|o| phase(&o).to_string())
            .unwrap_or_default()
    }

    fn time_at(o: &Value, field: &str) -> DateTime<Utc> {
        parse_time(str_at(&o["status"][field])).unwrap_or_else(|| panic!("no {field}"))
    }

    #[test]
    fn backup_goes_new_in_progress_completed_with_its_content() {
        let c = cluster(at(10, 0, 0), 1000.0, false);
        let v = velero();
        create_backup(&c, "b1", json!({}));
        assert!(v.reconcile(&c, &NoFleet));
        let b = get(&c, *ids::BACKUPS, NS, "b1");
        assert_eq!(phase(&b), "InProgress");
        assert_eq!(b["spec"]["storageLocation"], "default");
        assert_eq!(b["metadata"]["labels"][LOCATION_LABEL], "default");
        let start = time_at(&b, "startTimestamp");
        assert_eq!(time_at(&b, "expiration"), start + Duration::hours(72));
        // Namespaces default and app, and web, cfg, creds; not kube-system or velero.
        assert_eq!(
            b["status"]["progress"],
            json!({"totalItems": 5, "itemsBackedUp": 0})
        );

        run_until(&v, &c, |c| phase_of(c, *ids::BACKUPS, "b1") == "Completed");
        let b = get(&c, *ids::BACKUPS, NS, "b1");
        assert!(time_at(&b, "completionTimestamp") >= start + BACKUP_TIME);
        assert_eq!(b["status"]["formatVersion"], "1.1.0");
        assert_eq!(b["status"]["errors"], 0);
        assert_eq!(b["status"]["warnings"], fnv64(b"b1") % 4);
        assert_eq!(b["status"]["progress"]["itemsBackedUp"], 5);

        let content = v.backup_contents(&c, "b1").unwrap();
        let names: HashSet<&str> = content.iter().map(name_of).collect();
        assert_eq!(
            names,
            HashSet::from(["default", "app", "web", "cfg", "creds"])
        );
        assert!(
            content
                .iter()
                .all(|o| o["metadata"].get("uid").is_none() && o.get("status").is_none())
        );

        // Settled: a pass with nothing due writes nothing.
        v.reconcile(&c, &NoFleet);
        let rv = c.store.resource_version();
        assert!(!v.reconcile(&c, &NoFleet));
        assert_eq!(c.store.resource_version(), rv);
    }

    /// A DownloadRequest of a finished backup gets a URL signed for its file in the
    /// location's bucket, good for ten minutes, and is deleted when that runs out; one of
    /// an unknown backup stays New.
    #[test]
    fn download_requests_are_signed_then_expire() {
        let c = cluster(at(10, 0, 0), 1000.0, false);
        let _ = c.object_storage.set(crate::object_storage::Endpoint::new(
            "https://127.0.0.1:9".into(),
        ));
        let v = velero();
        create_backup(&c, "b1", json!({}));
        run_until(&v, &c, |c| phase_of(c, *ids::BACKUPS, "b1") == "Completed");
        for (name, backup) in [("b1-log", "b1"), ("gone-log", "gone")] {
            c.store
                .create(
                    *ids::DOWNLOAD_REQUESTS,
                    json!({"metadata": {"name": name, "namespace": NS},
                        "spec": {"target": {"kind": "BackupLog", "name": backup}}}),
                )
                .unwrap();
        }
        v.reconcile(&c, &NoFleet);
        let dr = get(&c, *ids::DOWNLOAD_REQUESTS, NS, "b1-log");
        assert_eq!(phase(&dr), "Processed");
        let url = str_at(&dr["status"]["downloadURL"]);
        assert!(
            url.starts_with("https://127.0.0.1:9/velero/backups/b1/b1-logs.gz?X-Amz-"),
            "{url}"
        );
        let processed = c.clock.now();
        let expires = time_at(&dr, "expiration");
        assert!(
            expires > processed + Duration::minutes(9) && expires <= processed + SIGNED_URL_TTL
        );
        assert_eq!(phase_of(&c, *ids::DOWNLOAD_REQUESTS, "gone-log"), "");
        run_until(&v, &c, |c| {
            c.store.get(*ids::DOWNLOAD_REQUESTS, NS, "b1-log").is_none()
        });
        assert!(c.clock.now() >= expires);
        assert_eq!(phase_of(&c, *ids::DOWNLOAD_REQUESTS, "gone-log"), "");
    }

    #[test]
    fn outcome_annotation_and_unavailable_location_decide_failures() {
        let c = cluster(at(10, 0, 0), 1.0, true);
        let v = velero();
        create_backup(&c, "bad", json!({OUTCOME_ANNOTATION: "Failed"}));
        create_backup(
            &c,
            "partial",
            json!({OUTCOME_ANNOTATION: "PartiallyFailed"}),
        );
        v.reconcile(&c, &NoFleet);
        let bad = get(&c, *ids::BACKUPS, NS, "bad");
        assert_eq!(phase(&bad), "Failed");
        assert!(str_at(&bad["status"]["failureReason"]).contains("simulated"));
        assert!(bad["status"]["completionTimestamp"].is_string());
        assert!(
            v.backup_contents(&c, "bad").is_none(),
            "a failed backup holds nothing"
        );
        let partial = get(&c, *ids::BACKUPS, NS, "partial");
        assert_eq!(phase(&partial), "PartiallyFailed");
        assert!(partial["status"]["errors"].as_u64().unwrap() >= 1);

        edit(&c, *ids::BSLS, NS, "default", |o| {
            o["metadata"]["annotations"][UNAVAILABLE_ANNOTATION] = json!("true");
        });
        create_backup(&c, "nowhere", json!({}));
        v.reconcile(&c, &NoFleet);
        let bsl = get(&c, *ids::BSLS, NS, "default");
        assert_eq!(phase(&bsl), "Unavailable");
        assert!(str_at(&bsl["status"]["message"]).contains("unavailable"));
        let b = get(&c, *ids::BACKUPS, NS, "nowhere");
        assert_eq!(phase(&b), "Failed");
        assert_eq!(
            b["status"]["failureReason"],
            "backup storage location default is unavailable"
        );
    }

    #[test]
    fn schedule_creates_a_backup_at_its_slot() {
        let c = cluster(at(0, 59, 58), 200.0, false);
        let v = velero();
        c.store
            .create(*ids::SCHEDULES, json!({"metadata": {"name": "daily", "namespace": NS,
                "annotations": {OUTCOME_ANNOTATION: "PartiallyFailed"}},
                "spec": {"schedule": "0 1 * * *", "template": {"ttl": "72h0m0s", "includedNamespaces": ["app"]}}}))
            .unwrap();
        c.store
            .create(
                *ids::SCHEDULES,
                json!({"metadata": {"name": "broken", "namespace": NS},
                "spec": {"schedule": "61 * * * *", "template": {}}}),
            )
            .unwrap();
        v.reconcile(&c, &NoFleet);
        assert_eq!(phase_of(&c, *ids::SCHEDULES, "daily"), "Enabled");
        assert_eq!(c.store.count(*ids::BACKUPS), 0);
        let broken = get(&c, *ids::SCHEDULES, NS, "broken");
        assert_eq!(phase(&broken), "FailedValidation");
        assert!(str_at(&broken["status"]["validationErrors"][0]).starts_with("invalid schedule"));

        let name = "daily-20261125010000";
        run_until(&v, &c, |c| c.store.get(*ids::BACKUPS, NS, name).is_some());
        let b = get(&c, *ids::BACKUPS, NS, name);
        assert_eq!(b["metadata"]["labels"][SCHEDULE_LABEL], "daily");
        assert_eq!(b["metadata"]["labels"][LOCATION_LABEL], "default");
        assert_eq!(
            b["metadata"]["annotations"][OUTCOME_ANNOTATION],
            "PartiallyFailed"
        );
        assert_eq!(b["spec"]["includedNamespaces"], json!(["app"]));
        assert_eq!(
            get(&c, *ids::SCHEDULES, NS, "daily")["status"]["lastBackup"],
            "2026-11-25T01:00:00Z"
        );
        assert_eq!(c.store.count(*ids::BACKUPS), 1);
    }

    #[test]
    fn a_schedule_runs_only_its_latest_missed_slot() {
        let c = cluster(at(5, 30, 0), 1.0, true);
        let v = velero();
        c.store
            .create(
                *ids::SCHEDULES,
                json!({"metadata": {"name": "daily", "namespace": NS},
                "spec": {"schedule": "CRON_TZ=Europe/Stockholm 0 1 * * *", "template": {}}}),
            )
            .unwrap();
        c.store.backdate(
            *ids::SCHEDULES,
            NS,
            "daily",
            at(5, 30, 0) - Duration::days(3),
        );
        v.reconcile(&c, &NoFleet);
        let (backups, _) = c.store.list(*ids::BACKUPS, Some(NS));
        // 01:00 in Stockholm is 00:00 UTC in November.
        assert_eq!(
            backups.iter().map(|b| name_of(b)).collect::<Vec<_>>(),
            ["daily-20261125000000"]
        );
        assert_eq!(phase(&backups[0]), "Completed", "no delays while booting");
    }

    #[test]
    fn expired_backups_are_deleted_with_their_content() {
        let c = cluster(at(10, 0, 0), 1.0, true);
        let v = velero();
        create_backup(&c, "old", json!({}));
        v.reconcile(&c, &NoFleet);
        assert!(v.backup_contents(&c, "old").is_some());
        let uid = uid_of(&get(&c, *ids::BACKUPS, NS, "old")).to_string();
        edit(&c, *ids::BACKUPS, NS, "old", |o| {
            o["status"]["expiration"] = json!("2026-11-25T09:00:00Z");
        });
        v.reconcile(&c, &NoFleet);
        assert!(c.store.get(*ids::BACKUPS, NS, "old").is_none());
        assert!(v.storage.get(&c.store, &uid).is_none());
    }

    #[test]
    fn restore_recreates_deleted_objects_and_skips_existing_ones() {
        let c = cluster(at(10, 0, 0), 1000.0, true);
        let v = velero();
        create_backup(&c, "b", json!({}));
        v.reconcile(&c, &NoFleet);
        assert_eq!(phase_of(&c, *ids::BACKUPS, "b"), "Completed");
        for (kind, name) in [(*ids::DEPLOYMENTS, "web"), (*ids::CONFIGMAPS, "cfg")] {
            c.store
                .delete(kind, "app", name, DeleteOptions::default())
                .unwrap();
        }
        c.booting.store(false, Ordering::Relaxed);
        c.store
            .create(
                *ids::RESTORES,
                json!({"metadata": {"name": "r", "namespace": NS}, "spec": {"backupName": "b"}}),
            )
            .unwrap();
        v.reconcile(&c, &NoFleet);
        let r = get(&c, *ids::RESTORES, NS, "r");
        assert_eq!(phase(&r), "InProgress");
        assert_eq!(r["metadata"]["labels"][BACKUP_LABEL], "b");
        assert_eq!(r["status"]["progress"]["totalItems"], 5);
        let start = time_at(&r, "startTimestamp");

        run_until(&v, &c, |c| phase_of(c, *ids::RESTORES, "r") == "Completed");
        let r = get(&c, *ids::RESTORES, NS, "r");
        assert!(time_at(&r, "completionTimestamp") >= start + RESTORE_BASE_TIME);
        assert_eq!(
            (
                r["status"]["errors"].as_u64(),
                r["status"]["warnings"].as_u64()
            ),
            (Some(0), Some(1))
        );
        assert_eq!(
            r["status"]["progress"],
            json!({"totalItems": 5, "itemsRestored": 5})
        );
        let web = get(&c, *ids::DEPLOYMENTS, "app", "web");
        assert_eq!(web["metadata"]["labels"][RESTORE_LABEL], "r");
        assert_eq!(web["spec"]["replicas"], 2);
        assert!(
            web.get("status").is_none(),
            "status is the controllers' to rebuild"
        );
        assert_eq!(get(&c, *ids::CONFIGMAPS, "app", "cfg")["data"]["k"], "v");
        assert!(
            get(&c, *ids::SECRETS, "app", "creds")["metadata"]["labels"]
                .get(RESTORE_LABEL)
                .is_none()
        );
    }

    #[test]
    fn restore_from_a_schedule_maps_namespaces_and_fails_without_a_backup() {
        let c = cluster(at(10, 0, 0), 1.0, true);
        let v = velero();
        c.store
            .create(*ids::BACKUPS, json!({"metadata": {"name": "daily-1", "namespace": NS, "labels": {SCHEDULE_LABEL: "daily"}},
                "spec": {"includedNamespaces": ["app"]}}))
            .unwrap();
        v.reconcile(&c, &NoFleet);
        c.store
            .create(
                *ids::RESTORES,
                json!({"metadata": {"name": "copy", "namespace": NS},
                "spec": {"scheduleName": "daily", "namespaceMapping": {"app": "app-copy"}}}),
            )
            .unwrap();
        c.store
            .create(*ids::RESTORES, json!({"metadata": {"name": "lost", "namespace": NS}, "spec": {"backupName": "nope"}}))
            .unwrap();
        v.reconcile(&c, &NoFleet);
        let r = get(&c, *ids::RESTORES, NS, "copy");
        assert_eq!(
            (phase(&r), r["spec"]["backupName"].as_str()),
            ("Completed", Some("daily-1"))
        );
        assert_eq!(r["status"]["warnings"], 0);
        assert!(c.store.get(*ids::NAMESPACES, "", "app-copy").is_some());
        assert_eq!(
            get(&c, *ids::DEPLOYMENTS, "app-copy", "web")["metadata"]["namespace"],
            "app-copy"
        );
        let lost = get(&c, *ids::RESTORES, NS, "lost");
        assert_eq!(phase(&lost), "Failed");
        assert_eq!(
            lost["status"]["failureReason"],
            "backups.velero.io \"nope\" not found"
        );
    }

    #[test]
    fn a_new_server_fails_backups_left_in_progress() {
        let c = cluster(at(10, 0, 0), 1.0, false);
        let storage = ObjectStorage::default();
        let first = Velero::with_storage(storage.clone());
        create_backup(&c, "b", json!({}));
        first.reconcile(&c, &NoFleet);
        assert_eq!(phase_of(&c, *ids::BACKUPS, "b"), "InProgress");
        first.reconcile(&c, &NoFleet);
        assert_eq!(
            phase_of(&c, *ids::BACKUPS, "b"),
            "InProgress",
            "its own backup is not an orphan"
        );

        let restarted = Velero::with_storage(storage);
        restarted.reconcile(&c, &NoFleet);
        let b = get(&c, *ids::BACKUPS, NS, "b");
        assert_eq!(phase(&b), "Failed");
        assert_eq!(b["status"]["failureReason"], ORPHANED_REASON);
    }

    #[test]
    fn go_durations_parse() {
        assert_eq!(parse_go_duration("720h0m0s"), Some(Duration::hours(720)));
        assert_eq!(parse_go_duration("1h30m"), Some(Duration::minutes(90)));
        assert_eq!(parse_go_duration("1.5h"), Some(Duration::minutes(90)));
        assert_eq!(
            parse_go_duration("300ms"),
            Some(Duration::milliseconds(300))
        );
        assert_eq!(parse_go_duration("0"), Some(Duration::zero()));
        assert_eq!(parse_go_duration("3d"), None);
        assert_eq!(parse_go_duration("h"), None);
    }

    #[test]
    fn selectors_and_globs() {
        let labels = json!({"app": "web", "tier": "front"});
        assert!(selector_matches(
            &json!({"matchLabels": {"app": "web"}}),
            &labels
        ));
        assert!(!selector_matches(
            &json!({"matchExpressions": [{"key": "compliantkubernetes.io/nobackup", "operator": "Exists"}]}),
            &labels
        ));
        assert!(selector_matches(
            &json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "back"]}]}),
            &labels
        ));
        assert!(glob("team-*", "team-a") && glob("*", "x") && !glob("team-?", "team-ab"));
    }
}
