//! Watch streams: newline-delimited JSON events from a resourceVersion on, with
//! bookmarks, server-side timeouts, selector transitions, and 410 Gone when the
//! requested history is gone.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::Form;
use super::selectors::FieldSelector;
use super::table;
use crate::labels::LabelSelector;
use crate::registry::{KINDS, KindId};
use crate::status::ApiError;
use crate::store::{Event, EventType, Store, namespace_of};

/// Everything that decides which events a watch sends and how.
pub struct WatchSpec {
    pub kind: KindId,
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    /// None: start with the current state as ADDED events.
    pub from_rv: Option<u64>,
    pub bookmarks: bool,
    /// Send the initial state, then a bookmark marking its end (`sendInitialEvents`).
    pub initial_events: bool,
    pub timeout: Duration,
    pub form: Form,
}

impl WatchSpec {
    fn selects(&self, obj: &Value) -> bool {
        self.namespace
            .as_deref()
            .is_none_or(|ns| namespace_of(obj) == ns)
            && self.labels.matches(obj)
            && self.fields.matches(obj)
    }

    /// The event type this watch sees for a change, or None if it is outside the
    /// selection before and after. An object moving out of the selection is DELETED
    /// for this watch, one moving in is ADDED, like the real watch cache does.
    fn translate(&self, ev: &Event) -> Option<EventType> {
        let now = self.selects(&ev.object);
        let before = ev.old.as_ref().is_some_and(|o| self.selects(o));
        match (ev.etype, before, now) {
            (EventType::Added, _, true) => Some(EventType::Added),
            (EventType::Deleted, true, _) => Some(EventType::Deleted),
            (EventType::Modified, true, true) => Some(EventType::Modified),
            (EventType::Modified, false, true) => Some(EventType::Added),
            (EventType::Modified, true, false) => Some(EventType::Deleted),
            _ => None,
        }
    }

    fn render(&self, etype: &str, obj: &Value, store: &Store) -> Bytes {
        let object = match self.form {
            Form::Full => obj.clone(),
            Form::Metadata => table::partial_metadata(obj),
            Form::Table => {
                let rv = obj["metadata"]["resourceVersion"].as_str().unwrap_or("");
                table::table(self.kind, &[obj], rv, store.clock.now())
            }
        };
        line(&json!({"type": etype, "object": object}))
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let k = &KINDS[self.kind];
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        line(
            &json!({"type": "BOOKMARK", "object": {"kind": k.kind, "apiVersion": k.api_version(), "metadata": meta}}),
        )
    }
}

fn line(v: &Value) -> Bytes {
    let mut b = serde_json::to_vec(v).unwrap_or_default();
    b.push(b'\n');
    Bytes::from(b)
}

/// A watch that only reports an error and ends.
fn error_stream(err: &ApiError) -> Response {
    let event = line(&json!({"type": "ERROR", "object": err.to_status()}));
    ([(header::CONTENT_TYPE, "application/json")], event).into_response()
}

/// Starts a watch. A compacted resourceVersion is reported as an ERROR event with a
/// 410 Status inside a successful response, as the real server does.
pub fn serve(store: Arc<Store>, spec: WatchSpec) -> Result<Response, ApiError> {
    let (initial, backlog, mut rx, start_rv) = match spec.from_rv {
        Some(rv) if !spec.initial_events => match store.watch_from(spec.kind, rv) {
            Ok((backlog, rx)) => (Vec::new(), backlog, rx, rv),
            // Like the real watch cache: the watch opens, then says the version is
            // gone in an ERROR event, which is what makes clients relist.
            Err(gone) => return Ok(error_stream(&gone)),
        },
        _ => {
            let (items, rv, rx) = store.snapshot_and_subscribe(spec.kind);
            (items, Vec::new(), rx, rv)
        }
    };
    let mut epoch = store.watch_epoch();
    let stream = async_stream::stream! {
        let mut last_rv = start_rv;
        for obj in initial.iter().filter(|o| spec.selects(o)) {
            yield Ok::<_, std::convert::Infallible>(spec.render("ADDED", obj, &store));
        }
        if spec.initial_events {
            yield Ok(spec.bookmark(start_rv, true));
        }
        for ev in &backlog {
            if let Some(t) = spec.translate(ev) {
                yield Ok(spec.render(t.as_str(), &ev.object, &store));
            }
            last_rv = ev.rv;
        }
        let deadline = tokio::time::sleep(spec.timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(store.bookmark_every());
        ticker.tick().await;
        loop {
            tokio::select! {
                ev = rx.recv() => match ev {
                    Ok(ev) => {
                        if ev.rv <= last_rv {
                            continue;
                        }
                        // Events of other kinds still move this watch's position, so its
                        // bookmarks keep up with the store even when its kind is quiet.
                        last_rv = ev.rv;
                        if ev.kind != spec.kind {
                            continue;
                        }
                        if let Some(t) = spec.translate(&ev) {
                            yield Ok(spec.render(t.as_str(), &ev.object, &store));
                        }
                    }
                    Err(RecvError::Lagged(_)) => {
                        // This watcher fell too far behind to be caught up: tell it to relist.
                        let status = ApiError::gone("the watch fell behind and its events are gone; relist").to_status();
                        yield Ok(line(&json!({"type": "ERROR", "object": status})));
                        break;
                    }
                    Err(RecvError::Closed) => break,
                },
                _ = ticker.tick(), if spec.bookmarks => {
                    yield Ok(spec.bookmark(last_rv, false));
                }
                _ = &mut deadline => break,
                _ = epoch.changed() => break,
            }
        }
    };
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response())
}
