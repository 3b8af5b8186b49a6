//! An optional bearer-token requirement in front of a simulated Prometheus or Alertmanager,
//! as an authenticating proxy (oauth2-proxy, an ingress with auth) puts in front of real
//! ones: a request without `Authorization: Bearer <token>` gets 401 and never reaches the
//! API.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

/// `router`, guarded by `token` when there is one.
pub fn require_bearer(router: Router, token: Option<&str>) -> Router {
    match token {
        Some(token) => router.layer(middleware::from_fn_with_state(
            Arc::<str>::from(token),
            check,
        )),
        None => router,
    }
}

async fn check(State(want): State<Arc<str>>, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if given == Some(&*want) {
        return next.run(req).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        "Unauthorized\n",
    )
        .into_response()
}
