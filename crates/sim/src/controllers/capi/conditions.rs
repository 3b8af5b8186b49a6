//! Conditions in Cluster API's v1beta1 shape, with a `Ready` summary.

use serde_json::{Value, json};

use crate::controllers::objects::{status_mut, str_at};

/// A condition in Cluster API's v1beta1 shape.
pub(super) struct Cond {
    kind: &'static str,
    ok: bool,
    reason: String,
    severity: &'static str,
    message: String,
}

impl Cond {
    pub(super) fn yes(kind: &'static str) -> Cond {
        Cond {
            kind,
            ok: true,
            reason: String::new(),
            severity: "",
            message: String::new(),
        }
    }

    pub(super) fn no(
        kind: &'static str,
        reason: &str,
        severity: &'static str,
        message: impl Into<String>,
    ) -> Cond {
        Cond {
            kind,
            ok: false,
            reason: reason.to_string(),
            severity,
            message: message.into(),
        }
    }

    pub(super) fn when(kind: &'static str, ok: bool, otherwise: impl FnOnce() -> Cond) -> Cond {
        if ok {
            Cond::yes(kind)
        } else {
            Cond {
                kind,
                ..otherwise()
            }
        }
    }

    /// `Ready`, summarising the others: the first false one says why.
    pub(super) fn summary(conds: &[Cond]) -> Cond {
        match conds.iter().find(|c| !c.ok) {
            None => Cond::yes("Ready"),
            Some(c) => Cond::no("Ready", &c.reason, c.severity, c.message.clone()),
        }
    }
}

pub(super) fn resized(actual: i64, desired: i64, what: &str) -> Cond {
    Cond::when("Resized", actual == desired, || {
        let reason = if actual < desired {
            "ScalingUp"
        } else {
            "ScalingDown"
        };
        let verb = if actual < desired { "up" } else { "down" };
        Cond::no(
            "",
            reason,
            "Warning",
            format!("Scaling {verb} {what} to {desired} replicas (actual {actual})"),
        )
    })
}

/// Sets conditions by type, keeping `lastTransitionTime` when the status did not
/// change (so an unchanged object is not rewritten), `Ready` first then by type.
pub(super) fn set_conditions(o: &mut Value, conds: &[Cond], now: &str) {
    let mut list: Vec<Value> = o["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for c in conds {
        let status = if c.ok { "True" } else { "False" };
        let prev = list.iter().position(|e| e["type"] == c.kind);
        let since = match prev {
            Some(i) if list[i]["status"] == status => list[i]["lastTransitionTime"].clone(),
            _ => json!(now),
        };
        let mut v = json!({"type": c.kind, "status": status, "lastTransitionTime": since});
        if !c.ok {
            v["reason"] = json!(&c.reason);
            v["severity"] = json!(c.severity);
            if !c.message.is_empty() {
                v["message"] = json!(&c.message);
            }
        }
        match prev {
            Some(i) => list[i] = v,
            None => list.push(v),
        }
    }
    list.sort_by_key(|c| (c["type"] != "Ready", str_at(&c["type"]).to_string()));
    status_mut(o).insert("conditions".into(), Value::Array(list));
}
