//! The object store of one simulated cluster: JSON objects keyed by kind, namespace and
//! name, one global resourceVersion counter, and a bounded event log for watches. It is
//! the simulator's etcd plus the apiserver's generic registry logic (metadata, optimistic
//! concurrency, finalizers), so handlers and controllers share one set of rules.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::{Notify, broadcast};

use super::clock::{SimClock, k8s_time};
use super::names::NameSource;
use super::registry::{KINDS, KindId, ids};
use super::status::ApiError;

pub type Obj = Arc<Value>;

/// What a watch starts from: the events to replay and a receiver for what follows.
pub type WatchStart = (Vec<Arc<Event>>, broadcast::Receiver<Arc<Event>>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, as a watch sees it. `old` lets filtered watches tell an object entering
/// or leaving their selection.
#[derive(Debug)]
pub struct Event {
    pub rv: u64,
    /// When it happened, in wall-clock time: history older than the window is compacted.
    pub at: std::time::Instant,
    pub kind: KindId,
    pub etype: EventType,
    pub object: Obj,
    pub old: Option<Obj>,
}

/// Whether something still has to finish before the object may go: metadata finalizers,
/// or for namespaces the `kubernetes` finalizer in spec that the namespace controller
/// clears once the namespace is empty.
fn pending_finalizers(kind: KindId, obj: &Value) -> bool {
    let nonempty = |v: &Value| v.as_array().is_some_and(|f| !f.is_empty());
    nonempty(&obj["metadata"]["finalizers"])
        || (kind == *ids::NAMESPACES && nonempty(&obj["spec"]["finalizers"]))
}

/// Whether a write is kept, or only checked and answered (`dryRun=All`): a dry run
/// validates and answers as the write would, and persists nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Write {
    #[default]
    Commit,
    DryRun,
}

/// Which part of an object an update may change, as with the real `/status` split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Everything but `status` (for kinds with a status subresource).
    Main,
    /// Only `status`.
    Status,
}

#[derive(Debug, Default, Clone)]
pub struct DeleteOptions {
    pub grace_period_seconds: Option<i64>,
    /// What becomes of the object's dependents; `None`: the kind's default, Background.
    pub propagation: Option<Propagation>,
    /// The object is deleted only if it still has this uid and resourceVersion.
    pub uid: Option<String>,
    pub resource_version: Option<String>,
}

/// `propagationPolicy`: Background (the object goes, then the garbage collector takes its
/// dependents), Foreground (it stays, with the `foregroundDeletion` finalizer, until its
/// dependents are gone) or Orphan (its dependents lose their owner reference to it and
/// stay; it keeps the `orphan` finalizer until then).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Background,
    Foreground,
    Orphan,
}

impl Propagation {
    /// The finalizer that holds the object while the garbage collector works.
    pub fn finalizer(self) -> Option<&'static str> {
        match self {
            Propagation::Background => None,
            Propagation::Foreground => Some("foregroundDeletion"),
            Propagation::Orphan => Some("orphan"),
        }
    }
}

/// Default number of events kept for watch resumption before a resume gets 410 Gone.
pub const DEFAULT_LOG_CAPACITY: usize = 100_000;

/// Events a watch stream may fall behind by before it must relist, by default.
pub const WATCH_BUFFER: usize = 65_536;

/// How long events stay resumable: etcd compacts every 5 minutes, after which a watch
/// from an older resourceVersion gets 410 Gone and must relist, however few events
/// happened since.
pub const HISTORY_WINDOW: Duration = Duration::from_secs(300);

/// How often an idle watch gets a bookmark, so clients can resume close to now: about once
/// a minute, as the apiserver's watch cache sends them.
pub const BOOKMARK_EVERY: Duration = Duration::from_secs(60);

type Key = (String, String);

struct Inner {
    rv: u64,
    buckets: Vec<BTreeMap<Key, Obj>>,
    log: VecDeque<Arc<Event>>,
    /// Watches resuming from before this resourceVersion get 410 Gone.
    compacted_rv: u64,
    log_capacity: usize,
    history_window: Duration,
    bookmark_every: Duration,
    /// How many objects of each kind and key were deleted: a recreated object's uid
    /// differs from its predecessor's. Only names that were deleted have an entry.
    deleted: HashMap<(KindId, Key), u64>,
}

impl Inner {
    fn check_not_newer(&self, rv: u64) -> Result<(), ApiError> {
        // The apiserver first waits up to 3 s for its cache to catch up; here the store
        // is the cache, so a version it has not reached is not coming.
        if rv > self.rv {
            return Err(ApiError::too_large_resource_version(rv, self.rv));
        }
        Ok(())
    }
}

pub struct Store {
    inner: RwLock<Inner>,
    tx: broadcast::Sender<Arc<Event>>,
    changed: Notify,
    /// Bumped to end every open watch (a fault the tests inject).
    watch_epoch: tokio::sync::watch::Sender<u64>,
    pub clock: SimClock,
    /// Where generated names come from.
    pub names: NameSource,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("rv", &self.resource_version())
            .finish()
    }
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj["metadata"][field].as_str().unwrap_or("")
}

pub fn name_of(obj: &Value) -> &str {
    meta_str(obj, "name")
}

pub fn namespace_of(obj: &Value) -> &str {
    meta_str(obj, "namespace")
}

pub fn uid_of(obj: &Value) -> &str {
    meta_str(obj, "uid")
}

impl Store {
    /// A store whose generated names are drawn from `seed`.
    pub fn new(clock: SimClock, seed: u64) -> Arc<Store> {
        Store::with_log_capacity(clock, seed, DEFAULT_LOG_CAPACITY)
    }

    pub fn with_log_capacity(clock: SimClock, seed: u64, log_capacity: usize) -> Arc<Store> {
        Store::with_capacities(clock, seed, log_capacity, WATCH_BUFFER)
    }

    /// As [`Store::new`], with room for `watch_buffer` events between a write and the
    /// slowest watch stream reading it (one further behind is told to relist). Every slot
    /// is allocated at once: a fleet of a thousand small clusters needs small buffers.
    pub fn with_capacities(
        clock: SimClock,
        seed: u64,
        log_capacity: usize,
        watch_buffer: usize,
    ) -> Arc<Store> {
        let (tx, _) = broadcast::channel(watch_buffer);
        Arc::new(Store {
            inner: RwLock::new(Inner {
                rv: 1,
                buckets: KINDS.iter().map(|_| BTreeMap::new()).collect(),
                log: VecDeque::new(),
                compacted_rv: 1,
                log_capacity,
                history_window: HISTORY_WINDOW,
                bookmark_every: BOOKMARK_EVERY,
                deleted: HashMap::new(),
            }),
            tx,
            changed: Notify::new(),
            watch_epoch: tokio::sync::watch::channel(0).0,
            clock,
            names: NameSource::new(seed),
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data (we never panic
        // mid-mutation), so recover from poisoning instead of propagating it.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn resource_version(&self) -> u64 {
        self.read().rv
    }

    /// Woken after every change; controllers wait on it.
    pub fn changed(&self) -> &Notify {
        &self.changed
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }

    pub fn watch_epoch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.watch_epoch.subscribe()
    }

    /// Ends every open watch stream, as a restarting apiserver or a dropped connection does.
    pub fn drop_watches(&self) {
        self.watch_epoch.send_modify(|e| *e += 1);
    }

    /// Forgets the event log without moving the resourceVersion: for a store nobody has
    /// watched yet (a cluster built before it serves), whose history of intermediate
    /// versions would only hold memory.
    pub fn forget_history(&self) {
        let mut inner = self.write();
        inner.log = VecDeque::new();
        inner.compacted_rv = inner.rv;
    }

    /// Forgets the event log and moves past the current resourceVersion, so every
    /// resume from a version a client already holds gets 410 Gone and must relist (as
    /// after an etcd compaction followed by a write).
    pub fn compact(&self) {
        let mut inner = self.write();
        inner.log.clear();
        inner.rv += 1;
        inner.compacted_rv = inner.rv;
    }

    pub fn get(&self, kind: KindId, ns: &str, name: &str) -> Option<Obj> {
        self.read().buckets[kind]
            .get(&(ns.to_string(), name.to_string()))
            .cloned()
    }

    /// All objects of a kind (in one namespace, or all), in key order, with the
    /// resourceVersion of the snapshot.
    pub fn list(&self, kind: KindId, ns: Option<&str>) -> (Vec<Obj>, u64) {
        let inner = self.read();
        let items = match ns {
            Some(ns) => inner.buckets[kind]
                .range((ns.to_string(), String::new())..)
                .take_while(|((n, _), _)| n == ns)
                .map(|(_, o)| o.clone())
                .collect(),
            None => inner.buckets[kind].values().cloned().collect(),
        };
        (items, inner.rv)
    }

    /// One page of a list: objects after `after` (exclusive) that pass `keep`, at most
    /// `limit` of them, plus whether more follow.
    pub fn list_page(
        &self,
        kind: KindId,
        ns: Option<&str>,
        after: Option<(&str, &str)>,
        limit: usize,
        keep: &dyn Fn(&Value) -> bool,
    ) -> (Vec<Obj>, u64, Option<Key>, usize) {
        let inner = self.read();
        let bucket = &inner.buckets[kind];
        let start = match after {
            Some((n, name)) => std::ops::Bound::Excluded((n.to_string(), name.to_string())),
            None => std::ops::Bound::Unbounded,
        };
        let mut items = Vec::new();
        let mut last = None;
        let mut remaining = 0usize;
        for (key, obj) in bucket.range((start, std::ops::Bound::Unbounded)) {
            if let Some(ns) = ns
                && key.0 != ns
            {
                continue;
            }
            if !keep(obj) {
                continue;
            }
            if items.len() < limit {
                items.push(obj.clone());
                last = Some(key.clone());
            } else {
                remaining += 1;
            }
        }
        let next = if remaining > 0 { last } else { None };
        (items, inner.rv, next, remaining)
    }

    /// The current objects of a kind, their resourceVersion and a receiver for every
    /// change after them, taken under one lock (for watches that start from "now").
    pub fn snapshot_and_subscribe(
        &self,
        kind: KindId,
    ) -> (Vec<Obj>, u64, broadcast::Receiver<Arc<Event>>) {
        let inner = self.read();
        let items = inner.buckets[kind].values().cloned().collect();
        (items, inner.rv, self.tx.subscribe())
    }

    /// Events after `rv` for a watch to replay, and a receiver for what follows, taken
    /// under one lock so nothing falls between them. 410 Gone when `rv` is compacted.
    pub fn watch_from(&self, kind: KindId, rv: u64) -> Result<WatchStart, ApiError> {
        let mut inner = self.write();
        Store::forget_stale(&mut inner);
        inner.check_not_newer(rv)?;
        if rv < inner.compacted_rv {
            return Err(ApiError::gone(format!(
                "too old resource version: {rv} ({})",
                inner.compacted_rv
            )));
        }
        let backlog = inner
            .log
            .iter()
            .filter(|e| e.rv > rv && e.kind == kind)
            .cloned()
            .collect();
        Ok((backlog, self.tx.subscribe()))
    }

    fn commit(
        &self,
        inner: &mut Inner,
        kind: KindId,
        etype: EventType,
        object: Obj,
        old: Option<Obj>,
    ) {
        let ev = Arc::new(Event {
            rv: inner.rv,
            at: Instant::now(),
            kind,
            etype,
            object,
            old,
        });
        if inner.log.len() >= inner.log_capacity
            && let Some(dropped) = inner.log.pop_front()
        {
            inner.compacted_rv = dropped.rv;
        }
        inner.log.push_back(ev.clone());
        Store::forget_stale(inner);
        let _ = self.tx.send(ev);
        self.changed.notify_waiters();
    }

    /// Drops the history older than the window, as etcd's compaction does.
    fn forget_stale(inner: &mut Inner) {
        while let Some(front) = inner.log.front()
            && front.at.elapsed() > inner.history_window
        {
            inner.compacted_rv = front.rv;
            inner.log.pop_front();
        }
    }

    /// How often an idle watch of this store gets a bookmark.
    pub fn bookmark_every(&self) -> Duration {
        self.read().bookmark_every
    }

    /// Sets how often idle watches get bookmarks (tests shorten it).
    pub fn set_bookmark_every(&self, every: Duration) {
        self.write().bookmark_every = every;
    }

    /// Sets how long history stays resumable (tests shorten it).
    pub fn set_history_window(&self, window: Duration) {
        self.write().history_window = window;
    }

    /// 504 for a resourceVersion the store has not reached, as the apiserver answers a
    /// list or watch "not older than" a version from the future.
    pub fn check_not_newer(&self, rv: u64) -> Result<(), ApiError> {
        self.read().check_not_newer(rv)
    }

    fn next_rv(inner: &mut Inner) -> u64 {
        inner.rv += 1;
        inner.rv
    }

    /// Creates an object, filling in name (from generateName), uid, resourceVersion,
    /// generation and creationTimestamp.
    pub fn create(&self, kind: KindId, obj: Value) -> Result<Obj, ApiError> {
        self.create_as(kind, obj, Write::Commit)
    }

    /// As [`Store::create`]; a dry run answers with the object as it would be stored
    /// (uid, creationTimestamp; no resourceVersion) and stores nothing.
    pub fn create_as(&self, kind: KindId, mut obj: Value, write: Write) -> Result<Obj, ApiError> {
        let k = &KINDS[kind];
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the request body must be a JSON object",
            ));
        }
        obj["apiVersion"] = json!(k.api_version());
        obj["kind"] = json!(k.kind);
        if !obj["metadata"].is_object() {
            obj["metadata"] = json!({});
        }
        let ns = if k.namespaced {
            let ns = namespace_of(&obj).to_string();
            if ns.is_empty() {
                return Err(ApiError::bad_request(
                    "the namespace of the object must be set",
                ));
            }
            ns
        } else {
            if let Some(m) = obj["metadata"].as_object_mut() {
                m.remove("namespace");
            }
            String::new()
        };
        if name_of(&obj).is_empty() {
            match obj["metadata"]["generateName"].as_str() {
                Some(prefix) if !prefix.is_empty() => {
                    obj["metadata"]["name"] =
                        json!(format!("{prefix}{}", self.names.suffix(prefix)))
                }
                _ => {
                    return Err(ApiError::invalid(
                        k.kind,
                        "",
                        "metadata.name: Required value: name or generateName is required",
                    ));
                }
            }
        }
        let name = name_of(&obj).to_string();
        validate_name(k.kind, &name)?;
        let now = k8s_time(self.clock.now());
        let mut inner = self.write();
        if k.namespaced
            && kind != *ids::NAMESPACES
            && !inner.buckets[*ids::NAMESPACES].contains_key(&(String::new(), ns.clone()))
        {
            return Err(ApiError::not_found("", "namespaces", &ns));
        }
        let key = (ns, name.clone());
        if inner.buckets[kind].contains_key(&key) {
            return Err(ApiError::already_exists(k.group, k.plural, &name));
        }
        let incarnation = inner.deleted.get(&(kind, key.clone())).copied();
        let uid = self
            .names
            .uid(k.plural, &key.0, &key.1, incarnation.unwrap_or(0));
        let m = &mut obj["metadata"];
        m["uid"] = json!(uid);
        m["creationTimestamp"] = json!(now);
        if k.has(super::registry::Sub::Status) {
            m["generation"] = json!(1);
        }
        if let Some(m) = m.as_object_mut() {
            m.remove("deletionTimestamp");
            m.remove("resourceVersion");
        }
        if write == Write::DryRun {
            return Ok(Arc::new(obj));
        }
        obj["metadata"]["resourceVersion"] = json!(Self::next_rv(&mut inner).to_string());
        let obj: Obj = Arc::new(obj);
        inner.buckets[kind].insert(key, obj.clone());
        self.commit(&mut inner, kind, EventType::Added, obj.clone(), None);
        Ok(obj)
    }

    /// Replaces an object (PUT). A resourceVersion in `obj` must match the stored one.
    pub fn update(&self, kind: KindId, obj: Value, part: Part) -> Result<Obj, ApiError> {
        self.update_as(kind, obj, part, Write::Commit)
    }

    pub fn update_as(
        &self,
        kind: KindId,
        obj: Value,
        part: Part,
        write: Write,
    ) -> Result<Obj, ApiError> {
        let k = &KINDS[kind];
        let ns = if k.namespaced {
            namespace_of(&obj).to_string()
        } else {
            String::new()
        };
        let name = name_of(&obj).to_string();
        let expected_rv = meta_str(&obj, "resourceVersion").to_string();
        self.replace_as(kind, &ns, &name, write, |current| {
            if !expected_rv.is_empty() && expected_rv != meta_str(current, "resourceVersion") {
                return Err(ApiError::conflict(k.group, k.plural, &name));
            }
            Ok(split_status(
                current,
                obj,
                part,
                k.has(super::registry::Sub::Status),
            ))
        })
    }

    /// Read-modify-write under the store lock, for controllers and patches. The closure
    /// gets the current object and returns the new one (or an error). A result equal to
    /// the current object is not written and produces no event.
    pub fn replace(
        &self,
        kind: KindId,
        ns: &str,
        name: &str,
        f: impl FnOnce(&Value) -> Result<Value, ApiError>,
    ) -> Result<Obj, ApiError> {
        self.replace_as(kind, ns, name, Write::Commit, f)
    }

    /// As [`Store::replace`]; a dry run answers with the object as it would be, and
    /// keeps the stored one.
    pub fn replace_as(
        &self,
        kind: KindId,
        ns: &str,
        name: &str,
        write: Write,
        f: impl FnOnce(&Value) -> Result<Value, ApiError>,
    ) -> Result<Obj, ApiError> {
        let k = &KINDS[kind];
        let mut inner = self.write();
        let key = (ns.to_string(), name.to_string());
        let current = inner.buckets[kind]
            .get(&key)
            .cloned()
            .ok_or_else(|| ApiError::not_found(k.group, k.plural, name))?;
        let mut next = f(&current)?;
        // Identity and bookkeeping fields are the server's, whatever the client sent.
        for field in [
            "uid",
            "creationTimestamp",
            "name",
            "namespace",
            "deletionTimestamp",
            "generation",
        ] {
            match current["metadata"].get(field) {
                Some(v) => next["metadata"][field] = v.clone(),
                None => {
                    if let Some(m) = next["metadata"].as_object_mut() {
                        m.remove(field);
                    }
                }
            }
        }
        next["apiVersion"] = json!(k.api_version());
        next["kind"] = json!(k.kind);
        next["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"].clone();
        if next == *current {
            return Ok(current);
        }
        if next.get("spec") != current.get("spec")
            && let Some(g) = current["metadata"]["generation"].as_i64()
        {
            next["metadata"]["generation"] = json!(g + 1);
        }
        if write == Write::DryRun {
            return Ok(Arc::new(next));
        }
        let rv = Self::next_rv(&mut inner);
        next["metadata"]["resourceVersion"] = json!(rv.to_string());
        let finalized = current["metadata"].get("deletionTimestamp").is_some()
            && !pending_finalizers(kind, &next)
            && kind != *ids::PODS;
        let next: Obj = Arc::new(next);
        if finalized {
            inner.buckets[kind].remove(&key);
            *inner.deleted.entry((kind, key.clone())).or_default() += 1;
            self.commit(
                &mut inner,
                kind,
                EventType::Deleted,
                next.clone(),
                Some(current),
            );
        } else {
            inner.buckets[kind].insert(key, next.clone());
            self.commit(
                &mut inner,
                kind,
                EventType::Modified,
                next.clone(),
                Some(current),
            );
        }
        Ok(next)
    }

    /// Deletes an object. Objects with finalizers, and pods given a grace period, are
    /// only marked (deletionTimestamp) and go when their finalizers or kubelet let them.
    /// Returns the object as it now is (terminating) or as it was last (deleted), and
    /// whether it is gone.
    pub fn delete(
        &self,
        kind: KindId,
        ns: &str,
        name: &str,
        opts: DeleteOptions,
    ) -> Result<(Obj, bool), ApiError> {
        self.delete_as(kind, ns, name, opts, Write::Commit)
    }

    /// As [`Store::delete`]; a dry run answers as the delete would (terminating or
    /// gone) and keeps the object.
    pub fn delete_as(
        &self,
        kind: KindId,
        ns: &str,
        name: &str,
        opts: DeleteOptions,
        write: Write,
    ) -> Result<(Obj, bool), ApiError> {
        let k = &KINDS[kind];
        let now = k8s_time(self.clock.now());
        let mut inner = self.write();
        let key = (ns.to_string(), name.to_string());
        let mut current = inner.buckets[kind]
            .get(&key)
            .cloned()
            .ok_or_else(|| ApiError::not_found(k.group, k.plural, name))?;
        let meta = &current["metadata"];
        // As the apiserver's check before a delete words it.
        for (field, wanted, have, why) in [
            (
                "UID",
                &opts.uid,
                meta["uid"].as_str(),
                "The object might have been deleted and then recreated",
            ),
            (
                "ResourceVersion",
                &opts.resource_version,
                meta["resourceVersion"].as_str(),
                "The object might have been modified",
            ),
        ] {
            if let Some(wanted) = wanted.as_deref().filter(|w| Some(*w) != have) {
                return Err(ApiError::precondition_failed(
                    k.group,
                    k.kind,
                    name,
                    &format!(
                        "the {field} in the precondition ({wanted}) does not match the {field} \
                         in record ({}). {why}",
                        have.unwrap_or_default()
                    ),
                ));
            }
        }
        // Foreground and Orphan hold the object with a finalizer of their own, which the
        // garbage collector removes once the dependents are gone or let go.
        let terminating = current["metadata"].get("deletionTimestamp").is_some();
        if let Some(finalizer) = opts.propagation.and_then(Propagation::finalizer)
            && !terminating
        {
            let mut held = (*current).clone();
            let list = held["metadata"]["finalizers"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if !list.iter().any(|f| f == finalizer) {
                let mut list = list;
                list.push(json!(finalizer));
                held["metadata"]["finalizers"] = json!(list);
            }
            current = Arc::new(held);
        }
        let has_finalizers = pending_finalizers(kind, &current);
        let grace = if kind == *ids::PODS {
            opts.grace_period_seconds.unwrap_or_else(|| {
                current["spec"]["terminationGracePeriodSeconds"]
                    .as_i64()
                    .unwrap_or(30)
            })
        } else {
            0
        };
        let remove_now = !has_finalizers && grace <= 0;
        if terminating && !remove_now {
            return Ok((current, false));
        }
        if write == Write::DryRun {
            let mut next = (*current).clone();
            if !remove_now {
                next["metadata"]["deletionTimestamp"] = json!(now);
                next["metadata"]["deletionGracePeriodSeconds"] = json!(grace.max(0));
            }
            return Ok((Arc::new(next), remove_now));
        }
        let rv = Self::next_rv(&mut inner);
        let mut next = (*current).clone();
        next["metadata"]["resourceVersion"] = json!(rv.to_string());
        if !remove_now {
            next["metadata"]["deletionTimestamp"] = json!(now);
            next["metadata"]["deletionGracePeriodSeconds"] = json!(grace.max(0));
            if kind == *ids::NAMESPACES {
                next["status"]["phase"] = json!("Terminating");
            }
            let next: Obj = Arc::new(next);
            inner.buckets[kind].insert(key, next.clone());
            self.commit(
                &mut inner,
                kind,
                EventType::Modified,
                next.clone(),
                Some(current),
            );
            return Ok((next, false));
        }
        inner.buckets[kind].remove(&key);
        *inner.deleted.entry((kind, key.clone())).or_default() += 1;
        let next: Obj = Arc::new(next);
        self.commit(
            &mut inner,
            kind,
            EventType::Deleted,
            next.clone(),
            Some(current),
        );
        Ok((next, true))
    }

    /// Rewrites an object's creationTimestamp, for building a fleet with history (backups
    /// from past days). Not an API operation: real clients cannot do this.
    pub fn backdate(
        &self,
        kind: KindId,
        ns: &str,
        name: &str,
        created: chrono::DateTime<chrono::Utc>,
    ) {
        let mut inner = self.write();
        let key = (ns.to_string(), name.to_string());
        if let Some(cur) = inner.buckets[kind].get(&key).cloned() {
            let rv = Self::next_rv(&mut inner);
            let mut next = (*cur).clone();
            next["metadata"]["creationTimestamp"] = json!(k8s_time(created));
            next["metadata"]["resourceVersion"] = json!(rv.to_string());
            let next: Obj = Arc::new(next);
            inner.buckets[kind].insert(key, next.clone());
            self.commit(&mut inner, kind, EventType::Modified, next, Some(cur));
        }
    }

    /// Edits every object of a kind in place, without new resourceVersions or events.
    /// Only for building a fleet before anything watches it.
    pub fn rewrite_unwatched(&self, kind: KindId, mut f: impl FnMut(&mut Value)) {
        let mut inner = self.write();
        for obj in inner.buckets[kind].values_mut() {
            let mut v = (**obj).clone();
            f(&mut v);
            *obj = Arc::new(v);
        }
    }

    /// Removes every object of a kind without events (before anything watches).
    pub fn clear_unwatched(&self, kind: KindId) {
        self.write().buckets[kind].clear();
    }

    /// Number of objects of a kind, for status pages and benchmarks.
    pub fn count(&self, kind: KindId) -> usize {
        self.read().buckets[kind].len()
    }
}

/// Applies the `/status` split: a main update keeps the stored status, a status update
/// keeps everything but status.
pub fn split_status(current: &Value, mut incoming: Value, part: Part, has_status: bool) -> Value {
    match part {
        Part::Main if has_status => {
            match current.get("status") {
                Some(s) => incoming["status"] = s.clone(),
                None => {
                    if let Some(o) = incoming.as_object_mut() {
                        o.remove("status");
                    }
                }
            }
            incoming
        }
        Part::Main => incoming,
        Part::Status => {
            let mut next = current.clone();
            next["status"] = incoming.get("status").cloned().unwrap_or(Value::Null);
            next
        }
    }
}

/// DNS-1123 subdomain rules, as the apiserver applies to most names.
fn validate_name(kind: &str, name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            kind,
            name,
            format!(
                "metadata.name: Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must \
                 consist of lower case alphanumeric characters, '-' or '.', and must start and \
                 end with an alphanumeric character"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Arc<Store> {
        let s = Store::new(SimClock::realtime(1.0), 1);
        s.create(*ids::NAMESPACES, json!({"metadata": {"name": "default"}}))
            .unwrap();
        s
    }

    fn pod(name: &str) -> Value {
        json!({"metadata": {"name": name, "namespace": "default"}, "spec": {"containers": []}})
    }

    #[test]
    fn create_fills_metadata_and_rejects_duplicates() {
        let s = store();
        let p = s.create(*ids::PODS, pod("a")).unwrap();
        assert_eq!(p["kind"], "Pod");
        assert_eq!(p["apiVersion"], "v1");
        assert!(!uid_of(&p).is_empty());
        assert_eq!(p["metadata"]["generation"], 1);
        let err = s.create(*ids::PODS, pod("a")).unwrap_err();
        assert_eq!((err.code, err.reason), (409, "AlreadyExists"));
    }

    #[test]
    fn uids_follow_the_seed_and_a_recreated_object_gets_a_new_one() {
        let (a, b) = (store(), store());
        // Created in another order: the uid belongs to the object, not to the sequence.
        let a1 = uid_of(&a.create(*ids::PODS, pod("one")).unwrap()).to_owned();
        let a2 = uid_of(&a.create(*ids::PODS, pod("two")).unwrap()).to_owned();
        let b2 = uid_of(&b.create(*ids::PODS, pod("two")).unwrap()).to_owned();
        let b1 = uid_of(&b.create(*ids::PODS, pod("one")).unwrap()).to_owned();
        assert_eq!((&a1, &a2), (&b1, &b2));
        assert_ne!(a1, a2);
        // A pod waits for its kubelet; a ConfigMap goes at once.
        let cm = || json!({"metadata": {"name": "one", "namespace": "default"}});
        let first = uid_of(&a.create(*ids::CONFIGMAPS, cm()).unwrap()).to_owned();
        a.delete(*ids::CONFIGMAPS, "default", "one", DeleteOptions::default())
            .unwrap();
        let again = a.create(*ids::CONFIGMAPS, cm()).unwrap();
        assert_ne!(uid_of(&again), first, "a new object of the same name");
        assert_ne!(first, a1, "nor the same uid as a pod of that name");
        let other_seed = Store::new(SimClock::realtime(1.0), 2);
        other_seed
            .create(*ids::NAMESPACES, json!({"metadata": {"name": "default"}}))
            .unwrap();
        let c1 = other_seed.create(*ids::PODS, pod("one")).unwrap();
        assert_ne!(uid_of(&c1), a1);
    }

    #[test]
    fn create_in_missing_namespace_is_not_found() {
        let s = store();
        let mut p = pod("a");
        p["metadata"]["namespace"] = json!("nope");
        assert_eq!(s.create(*ids::PODS, p).unwrap_err().code, 404);
    }

    #[test]
    fn generate_name_appends_a_suffix() {
        let s = store();
        let p = s
            .create(
                *ids::PODS,
                json!({"metadata": {"generateName": "web-", "namespace": "default"}}),
            )
            .unwrap();
        assert!(name_of(&p).starts_with("web-") && name_of(&p).len() == 9);
    }

    #[test]
    fn stale_update_conflicts_and_spec_change_bumps_generation() {
        let s = store();
        let p = s
            .create(
                *ids::DEPLOYMENTS,
                json!({"metadata": {"name": "d", "namespace": "default"}, "spec": {"replicas": 1}}),
            )
            .unwrap();
        let mut v = (*p).clone();
        v["spec"]["replicas"] = json!(2);
        let updated = s.update(*ids::DEPLOYMENTS, v.clone(), Part::Main).unwrap();
        assert_eq!(updated["metadata"]["generation"], 2);
        let err = s.update(*ids::DEPLOYMENTS, v, Part::Main).unwrap_err();
        assert_eq!((err.code, err.reason), (409, "Conflict"));
    }

    #[test]
    fn main_update_keeps_status_and_status_update_keeps_spec() {
        let s = store();
        s.create(
            *ids::DEPLOYMENTS,
            json!({"metadata": {"name": "d", "namespace": "default"}, "spec": {"replicas": 1}}),
        )
        .unwrap();
        let st = s.update(*ids::DEPLOYMENTS, json!({"metadata": {"name": "d", "namespace": "default"}, "spec": {"replicas": 9}, "status": {"replicas": 1}}), Part::Status).unwrap();
        assert_eq!(st["spec"]["replicas"], 1);
        assert_eq!(st["status"]["replicas"], 1);
        let main = s.update(*ids::DEPLOYMENTS, json!({"metadata": {"name": "d", "namespace": "default"}, "spec": {"replicas": 3}, "status": {"replicas": 7}}), Part::Main).unwrap();
        assert_eq!(main["status"]["replicas"], 1);
        assert_eq!(main["spec"]["replicas"], 3);
    }

    #[test]
    fn finalizers_hold_deletion_until_removed() {
        let s = store();
        s.create(
            *ids::BACKUPS,
            json!({"metadata": {"name": "b", "namespace": "default", "finalizers": ["x"]}}),
        )
        .unwrap();
        let (obj, gone) = s
            .delete(*ids::BACKUPS, "default", "b", DeleteOptions::default())
            .unwrap();
        assert!(!gone && obj["metadata"]["deletionTimestamp"].is_string());
        s.replace(*ids::BACKUPS, "default", "b", |o| {
            let mut o = o.clone();
            o["metadata"]["finalizers"] = json!([]);
            Ok(o)
        })
        .unwrap();
        assert!(s.get(*ids::BACKUPS, "default", "b").is_none());
    }

    #[test]
    fn watch_replays_from_rv_and_compaction_gives_gone() {
        let s = store();
        let rv = s.resource_version();
        s.create(*ids::PODS, pod("a")).unwrap();
        s.create(*ids::PODS, pod("b")).unwrap();
        let (backlog, _) = s.watch_from(*ids::PODS, rv).unwrap();
        assert_eq!(backlog.len(), 2);
        s.compact();
        assert_eq!(s.watch_from(*ids::PODS, rv).unwrap_err().code, 410);
        assert!(s.watch_from(*ids::PODS, s.resource_version()).is_ok());
        let future = s
            .watch_from(*ids::PODS, s.resource_version() + 10)
            .unwrap_err();
        assert_eq!((future.code, future.reason), (504, "Timeout"));
    }

    #[test]
    fn history_older_than_the_window_is_compacted() {
        let s = store();
        // Wide enough that the "still in the window" check holds on a loaded machine.
        s.set_history_window(Duration::from_millis(500));
        s.create(*ids::NAMESPACES, json!({"metadata": {"name": "a"}}))
            .unwrap();
        let before = s.resource_version();
        s.create(*ids::NAMESPACES, json!({"metadata": {"name": "b"}}))
            .unwrap();
        assert!(
            s.watch_from(*ids::NAMESPACES, before).is_ok(),
            "still in the window"
        );
        std::thread::sleep(Duration::from_millis(600));
        // Nothing was written since: the window alone makes the resume 410.
        assert_eq!(
            s.watch_from(*ids::NAMESPACES, before).unwrap_err().code,
            410
        );
        assert!(s.watch_from(*ids::NAMESPACES, s.resource_version()).is_ok());
    }

    #[test]
    fn pages_continue_after_the_last_key() {
        let s = store();
        for i in 0..5 {
            s.create(*ids::PODS, pod(&format!("p{i}"))).unwrap();
        }
        let (page, _, next, remaining) = s.list_page(*ids::PODS, None, None, 2, &|_| true);
        assert_eq!(page.len(), 2);
        assert_eq!(remaining, 3);
        let next = next.unwrap();
        let (page2, _, _, _) =
            s.list_page(*ids::PODS, None, Some((&next.0, &next.1)), 10, &|_| true);
        assert_eq!(
            page2
                .iter()
                .map(|p| name_of(p).to_string())
                .collect::<Vec<_>>(),
            ["p2", "p3", "p4"]
        );
    }
}
