//! API errors as Kubernetes `metav1.Status` objects, with the real codes and reasons.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    fn with_details(mut self, group: &str, kind: &str, name: &str) -> ApiError {
        self.details = Some(json!({"name": name, "group": group, "kind": kind}));
        self
    }

    /// `kind` is the plural resource, as the real server words it.
    pub fn not_found(group: &str, plural: &str, name: &str) -> ApiError {
        let what = qualified(group, plural);
        ApiError::new(404, "NotFound", format!("{what} \"{name}\" not found"))
            .with_details(group, plural, name)
    }

    pub fn already_exists(group: &str, plural: &str, name: &str) -> ApiError {
        let what = qualified(group, plural);
        ApiError::new(
            409,
            "AlreadyExists",
            format!("{what} \"{name}\" already exists"),
        )
        .with_details(group, plural, name)
    }

    pub fn conflict(group: &str, plural: &str, name: &str) -> ApiError {
        let what = qualified(group, plural);
        ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {what} \"{name}\": the object has been \
                 modified; please apply your changes to the latest version and try again"
            ),
        )
        .with_details(group, plural, name)
    }

    /// A delete whose preconditions (uid, resourceVersion) no longer hold: a 409 naming
    /// the object by its Kind (`Deployment.apps`), as the apiserver's check words it.
    pub fn precondition_failed(group: &str, kind: &str, name: &str, what: &str) -> ApiError {
        let whole = qualified(group, kind);
        ApiError::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {whole} \"{name}\": {what}"),
        )
        .with_details(group, kind, name)
    }

    /// A server-side apply that would change fields other managers own: 409 with one
    /// cause per field, as the apiserver answers it.
    pub fn field_conflict(message: String, causes: Vec<Value>) -> ApiError {
        let mut e = ApiError::new(409, "Conflict", message);
        e.details = Some(json!({"causes": causes}));
        e
    }

    pub fn invalid(kind: &str, name: &str, message: impl Into<String>) -> ApiError {
        let message = message.into();
        ApiError::new(
            422,
            "Invalid",
            format!("{kind} \"{name}\" is invalid: {message}"),
        )
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn forbidden(
        user: &str,
        verb: &str,
        group: &str,
        plural: &str,
        ns: Option<&str>,
    ) -> ApiError {
        let scope = match ns {
            Some(ns) => format!(" in the namespace \"{ns}\""),
            None => " at the cluster scope".to_string(),
        };
        ApiError::new(
            403,
            "Forbidden",
            format!(
                "{plural} is forbidden: User \"{user}\" cannot {verb} resource \"{plural}\" \
                 in API group \"{group}\"{scope}"
            ),
        )
    }

    pub fn gone(message: impl Into<String>) -> ApiError {
        ApiError::new(410, "Expired", message)
    }

    /// A list or watch at a resourceVersion the server has not reached: 504 with the
    /// cause and retry hint client-go looks for (`storage.NewTooLargeResourceVersionError`).
    pub fn too_large_resource_version(rv: u64, current: u64) -> ApiError {
        let mut e = ApiError::new(
            504,
            "Timeout",
            format!("Timeout: Too large resource version: {rv}, current: {current}"),
        );
        e.details = Some(json!({
            "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
            "retryAfterSeconds": 1,
        }));
        e
    }

    pub fn too_many_requests(message: impl Into<String>) -> ApiError {
        ApiError::new(429, "TooManyRequests", message)
    }

    pub fn method_not_allowed() -> ApiError {
        ApiError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    /// 415, listing the media types the request could have used, as the apiserver does.
    pub fn unsupported_media(accepted: &[&str]) -> ApiError {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types \
                 include: {}",
                accepted.join(", ")
            ),
        )
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(500, "InternalError", message)
    }

    /// The `Status` object the real API server sends.
    pub fn to_status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        s
    }
}

fn qualified(group: &str, plural: &str) -> String {
    if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (code, axum::Json(self.to_status())).into_response()
    }
}

/// The success `Status` the server answers some deletes with.
pub fn success_status(details: Value) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}
