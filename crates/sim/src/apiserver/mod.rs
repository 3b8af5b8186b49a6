//! The Kubernetes API server of one simulated cluster. Every resource goes through the
//! same generic handlers; what differs per kind is a row in the registry.

mod apply;
mod discovery;
mod exec;
mod logs;
pub mod patch;
mod protobuf;
pub mod rbac;
pub mod selectors;
pub mod table;
mod watch;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Value, json};

use self::patch::PatchType;
use self::selectors::FieldSelector;
use crate::clock::k8s_time;
use crate::cluster::{ClusterSim, Role};
use crate::labels::LabelSelector;
use crate::registry::{self, KINDS, Kind, KindId, Sub, ids};
use crate::status::{ApiError, success_status};
use crate::store::{DeleteOptions, Obj, Part, Propagation, Write, namespace_of};

/// Shared by every handler of one cluster's API server.
#[derive(Clone)]
pub struct ApiState {
    pub cluster: Arc<ClusterSim>,
}

type Params = HashMap<String, String>;
type ApiResult = Result<Response, ApiError>;

/// How the client asked for objects: whole, as metadata only, or as a printed Table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Full,
    Metadata,
    Table,
}

fn form(headers: &HeaderMap) -> Form {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // The first media type the client lists is its preference.
    let first = accept.split(',').next().unwrap_or("");
    if first.contains("as=Table") {
        Form::Table
    } else if first.contains("as=PartialObjectMetadata") {
        Form::Metadata
    } else {
        Form::Full
    }
}

pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/version", get(version))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
        .route("/livez", get(|| async { "ok" }))
        .route("/api", get(core_versions))
        .route("/apis", get(|| async { json_ok(discovery::group_list()) }))
        .route("/api/{version}", get(core_resources))
        .route("/apis/{group}/{version}", get(group_resources))
        .route("/openapi/v2", get(openapi_v2))
        .route(
            "/openapi/v3",
            get(|| async { json_ok(json!({"paths": {}})) }),
        )
        .route("/sim/v1/compact", post(compact))
        .route("/sim/v1/drop-watches", post(drop_watches))
        .route("/sim/v1/faults", post(add_fault).delete(clear_faults))
        .fallback(dispatch)
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .with_state(state)
}

fn json_ok(v: Value) -> Response {
    axum::Json(v).into_response()
}

/// Bearer-token authentication. Health and version are public, as on a real cluster.
async fn authenticate(State(st): State<ApiState>, mut req: Request, next: Next) -> Response {
    if st
        .cluster
        .stopped
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONNECTION, "close")],
            "the simulated cluster is stopped",
        )
            .into_response();
    }
    let path = req.uri().path();
    if matches!(path, "/healthz" | "/readyz" | "/livez" | "/version") {
        return next.run(req).await;
    }
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    // Expiry is wall-clock time, as an ExecCredential's is, not the simulated clock.
    match token.and_then(|t| st.cluster.credentials.role_at(t, chrono::Utc::now())) {
        Some(role) => {
            req.extensions_mut().insert(role);
            next.run(req).await
        }
        None => {
            st.cluster
                .unauthorized
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            ApiError::unauthorized().into_response()
        }
    }
}

/// The cluster's Kubernetes version: the newest control-plane kubelet, which is what an
/// HA apiserver mid-upgrade reports from its upgraded members.
fn git_version(st: &ApiState) -> String {
    let (nodes, _) = st.cluster.store.list(*ids::NODES, None);
    nodes
        .iter()
        .filter(|n| {
            n["metadata"]["labels"]
                .get("node-role.kubernetes.io/control-plane")
                .is_some()
        })
        .filter_map(|n| n["status"]["nodeInfo"]["kubeletVersion"].as_str())
        .max_by_key(|v| version_key(v))
        .unwrap_or("v1.33.4")
        .to_string()
}

fn version_key(v: &str) -> Vec<u32> {
    v.trim_start_matches('v')
        .split('.')
        .map(|p| p.parse().unwrap_or(0))
        .collect()
}

async fn version(State(st): State<ApiState>) -> Response {
    json_ok(discovery::version(&git_version(&st)))
}

async fn core_versions(headers: HeaderMap) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    json_ok(discovery::core_versions(host))
}

fn not_found_path() -> ApiError {
    ApiError {
        code: 404,
        reason: "NotFound",
        message: "the server could not find the requested resource".into(),
        details: None,
    }
}

async fn core_resources(axum::extract::Path(version): axum::extract::Path<String>) -> ApiResult {
    discovery::resource_list("", &version)
        .map(json_ok)
        .ok_or_else(not_found_path)
}

async fn group_resources(
    axum::extract::Path((group, version)): axum::extract::Path<(String, String)>,
) -> ApiResult {
    discovery::resource_list(&group, &version)
        .map(json_ok)
        .ok_or_else(not_found_path)
}

async fn openapi_v2(State(st): State<ApiState>, headers: HeaderMap) -> Response {
    // An empty schema set: clients then validate nothing client-side, as with CRDs that
    // publish no schema, and rely on the server.
    let version = git_version(&st);
    let wants_protobuf = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("protobuf"));
    if wants_protobuf {
        return (
            [(
                header::CONTENT_TYPE,
                "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
            )],
            protobuf::empty_openapi_v2(&version),
        )
            .into_response();
    }
    json_ok(json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": version},
        "paths": {},
        "definitions": {},
    }))
}

fn require_admin(role: &Role) -> Result<(), ApiError> {
    if *role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            role.user(),
            "create",
            "sim",
            "faults",
            None,
        ))
    }
}

/// Fault injection for tests: forget watch history so resumes get 410 Gone.
async fn compact(State(st): State<ApiState>, req: Request) -> ApiResult {
    require_admin(req.extensions().get::<Role>().unwrap_or(&Role::ReadOnly))?;
    st.cluster.store.compact();
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Fault injection for tests: end every open watch, as a dropped connection does.
async fn drop_watches(State(st): State<ApiState>, req: Request) -> ApiResult {
    require_admin(req.extensions().get::<Role>().unwrap_or(&Role::ReadOnly))?;
    st.cluster.store.drop_watches();
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Fault injection: one fault (JSON, as `faults::FaultSpec`) on a server of this cluster.
async fn add_fault(State(st): State<ApiState>, req: Request) -> ApiResult {
    require_admin(req.extensions().get::<Role>().unwrap_or(&Role::ReadOnly))?;
    let body = axum::body::to_bytes(req.into_body(), 64 * 1024)
        .await
        .map_err(|e| ApiError::bad_request(format!("reading the fault: {e}")))?;
    let spec: crate::faults::FaultSpec = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("not a fault: {e}")))?;
    st.cluster.add_fault(spec).map_err(ApiError::bad_request)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Fault injection: every fault of this cluster ends now.
async fn clear_faults(State(st): State<ApiState>, req: Request) -> ApiResult {
    require_admin(req.extensions().get::<Role>().unwrap_or(&Role::ReadOnly))?;
    st.cluster.faults.clear();
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A resource path, parsed: `/api/v1/namespaces/ns/pods/name/log` and the like.
#[derive(Debug)]
struct Target {
    kind: KindId,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<Sub>,
}

impl Target {
    fn k(&self) -> &'static Kind {
        &KINDS[self.kind]
    }

    fn ns(&self) -> &str {
        self.namespace.as_deref().unwrap_or("")
    }

    fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }
}

fn parse_target(path: &str) -> Result<Target, ApiError> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(not_found_path()),
    };
    let namespaced_kind =
        |p: &str| registry::find(group, version, p).filter(|k| KINDS[*k].namespaced);
    let (namespace, rest) = match rest {
        ["namespaces", ns, plural, ..] if namespaced_kind(plural).is_some() => {
            (Some(ns.to_string()), &rest[2..])
        }
        _ => (None, rest),
    };
    let (plural, name, sub) = match rest {
        [p] => (*p, None, None),
        [p, n] => (*p, Some(n.to_string()), None),
        [p, n, s] => (*p, Some(n.to_string()), Some(*s)),
        _ => return Err(not_found_path()),
    };
    let kind = registry::find(group, version, plural).ok_or_else(not_found_path)?;
    let k = &KINDS[kind];
    if k.namespaced && name.is_some() && namespace.is_none() {
        return Err(not_found_path());
    }
    let sub = match sub {
        None => None,
        Some(s) => Some(
            k.subresources
                .iter()
                .copied()
                .find(|x| x.name() == s)
                .ok_or_else(not_found_path)?,
        ),
    };
    Ok(Target {
        kind,
        namespace,
        name,
        sub,
    })
}

/// The RBAC verb of a request.
fn verb(method: &Method, t: &Target, params: &Params) -> &'static str {
    // Streaming into a pod is authorized as `create`, whether it comes as a WebSocket's
    // GET or a POST, so `get` on pods never opens a shell.
    if matches!(t.sub, Some(Sub::Exec | Sub::Attach | Sub::PortForward)) {
        return "create";
    }
    let watching = param_bool(params, "watch");
    match (method.as_str(), t.name.is_some()) {
        ("GET", false) if watching => "watch",
        ("GET", false) => "list",
        ("GET", true) => "get",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", false) => "deletecollection",
        ("DELETE", true) => "delete",
        _ => "unknown",
    }
}

fn authorize(role: Role, verb: &str, t: &Target) -> Result<(), ApiError> {
    let k = t.k();
    let resource = match t.sub {
        Some(s) => format!("{}/{}", k.plural, s.name()),
        None => k.plural.to_string(),
    };
    if rbac::allowed(role, verb, k.group, &resource) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            role.user(),
            verb,
            k.group,
            &resource,
            t.namespace.as_deref(),
        ))
    }
}

async fn dispatch(
    State(st): State<ApiState>,
    method: Method,
    Query(params): Query<Params>,
    headers: HeaderMap,
    req: Request,
) -> Response {
    let role = req
        .extensions()
        .get::<Role>()
        .copied()
        .unwrap_or(Role::ReadOnly);
    let path = req.uri().path().to_string();
    let result = (|| {
        let target = parse_target(&path)?;
        let verb = verb(&method, &target, &params);
        authorize(role, verb, &target)?;
        Ok::<_, ApiError>((target, verb))
    })();
    let (target, verb) = match result {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    // Streams take the connection over rather than a body.
    match target.sub {
        Some(Sub::Exec) => {
            let (parts, _) = req.into_parts();
            return exec::serve(st.cluster.clone(), target.ns(), target.name(), parts).await;
        }
        Some(Sub::Attach) => return exec::unsupported("attach"),
        Some(Sub::PortForward) => return exec::unsupported("port forwarding"),
        _ => {}
    }
    let body = match axum::body::to_bytes(req.into_body(), 64 * 1024 * 1024).await {
        Ok(b) => b,
        Err(e) => return ApiError::bad_request(format!("reading the body: {e}")).into_response(),
    };
    let ctx = Ctx {
        st: &st,
        role,
        params: &params,
        headers: &headers,
        body: &body,
        t: &target,
        verb,
    };
    let result = match (verb, target.sub) {
        ("watch", _) => ctx.watch(),
        ("list", _) => ctx.list(),
        ("create", None) if target.k().virtual_create => ctx.review(),
        ("create", None) => ctx.create(),
        ("deletecollection", None) => ctx.delete_collection(),
        ("get", None | Some(Sub::Status)) => ctx.get(),
        ("update", None) => ctx.update(Part::Main),
        ("update", Some(Sub::Status)) => ctx.update(Part::Status),
        ("patch", None) => ctx.patch(Part::Main),
        ("patch", Some(Sub::Status)) => ctx.patch(Part::Status),
        ("delete", None) => ctx.delete(),
        ("get", Some(Sub::Scale)) => ctx.get_scale(),
        ("update" | "patch", Some(Sub::Scale)) => ctx.write_scale(verb == "patch"),
        ("get", Some(Sub::Log)) => {
            return logs::serve(st.cluster.clone(), &target_ref(&target), &params);
        }
        ("create", Some(Sub::Eviction)) => ctx.evict(),
        _ => Err(ApiError::method_not_allowed()),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

fn target_ref(t: &Target) -> (String, String) {
    (t.ns().to_string(), t.name().to_string())
}

/// One request's context, so the handlers stay small.
struct Ctx<'a> {
    st: &'a ApiState,
    role: Role,
    params: &'a Params,
    headers: &'a HeaderMap,
    body: &'a Bytes,
    t: &'a Target,
    /// The RBAC verb of the request (`create`, `delete`, ...).
    verb: &'static str,
}

/// PatchOptions as the apiserver validates them: apply needs a field manager, and only
/// apply takes `force`; the answer is whether to force.
fn patch_options(ptype: PatchType, params: &Params) -> Result<bool, ApiError> {
    let invalid = |m: &str| ApiError::invalid("PatchOptions.meta.k8s.io", "", m);
    let manager = params.get("fieldManager").is_some_and(|m| !m.is_empty());
    match ptype {
        PatchType::Apply if !manager => Err(invalid(
            "fieldManager: Required value: is required for apply patch",
        )),
        PatchType::Apply => Ok(param_bool(params, "force")),
        _ if params.contains_key("force") => Err(invalid(
            "force: Forbidden: may not be specified for non-apply patch",
        )),
        _ => Ok(false),
    }
}

/// A boolean query parameter as the API server converts it (apimachinery's
/// `Convert_Slice_string_To_bool`): absent is false, `0` and any case of `false` are
/// false, and every other value, `True` and `yes` and the empty one included, is true.
pub(crate) fn param_bool(params: &Params, key: &str) -> bool {
    params
        .get(key)
        .is_some_and(|v| v != "0" && !v.eq_ignore_ascii_case("false"))
}

fn param_u64(params: &Params, key: &str) -> Result<Option<u64>, ApiError> {
    match params.get(key).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("invalid {key} {v:?}"))),
    }
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    rv: u64,
    ns: String,
    name: String,
}

fn encode_continue(tok: &ContinueToken) -> String {
    let raw = serde_json::to_vec(tok).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn decode_continue(s: &str) -> Result<ContinueToken, ApiError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()
        .and_then(|raw| serde_json::from_slice(&raw).ok())
        .ok_or_else(|| ApiError::bad_request("continue key is not valid: invalid continue token"))
}

/// As the apiserver writes a Secret: `Opaque` when no type is given, and `stringData`
/// folded into `data` (base64), where it is never read back from.
fn secret_defaults(obj: &mut Value) {
    if obj["type"].as_str().is_none_or(str::is_empty) {
        obj["type"] = json!("Opaque");
    }
    if let Some(Value::Object(plain)) = obj.as_object_mut().and_then(|o| o.remove("stringData")) {
        use base64::Engine;
        for (k, v) in plain {
            let text = v.as_str().unwrap_or_default();
            obj["data"][k] = json!(base64::engine::general_purpose::STANDARD.encode(text));
        }
    }
}

impl Ctx<'_> {
    fn store(&self) -> &crate::store::Store {
        &self.st.cluster.store
    }

    fn selectors(&self) -> Result<(LabelSelector, FieldSelector), ApiError> {
        let labels =
            LabelSelector::parse(self.params.get("labelSelector").map_or("", String::as_str))?;
        let fields = FieldSelector::parse(
            self.params.get("fieldSelector").map_or("", String::as_str),
            self.t.kind,
        )?;
        Ok((labels, fields))
    }

    fn render_one(&self, obj: &Value) -> Response {
        match form(self.headers) {
            Form::Full => json_ok(obj.clone()),
            Form::Metadata => json_ok(table::partial_metadata(obj)),
            Form::Table => {
                let rv = obj["metadata"]["resourceVersion"].as_str().unwrap_or("");
                json_ok(table::table(
                    self.t.kind,
                    &[obj],
                    rv,
                    self.st.cluster.clock.now(),
                ))
            }
        }
    }

    fn list(&self) -> ApiResult {
        let (labels, fields) = self.selectors()?;
        let limit = param_u64(self.params, "limit")?
            .filter(|l| *l > 0)
            .map_or(usize::MAX, |l| l as usize);
        let token = match self.params.get("continue").filter(|c| !c.is_empty()) {
            Some(c) => Some(decode_continue(c)?),
            None => None,
        };
        // "Not older than" this version (the default match): one the store has not
        // reached is a 504, never data from the past.
        if token.is_none()
            && let Some(rv) = param_u64(self.params, "resourceVersion")?
        {
            self.store().check_not_newer(rv)?;
        }
        let after = token.as_ref().map(|t| (t.ns.as_str(), t.name.as_str()));
        let keep = |o: &Value| labels.matches(o) && fields.matches(o);
        let (items, rv, next, remaining) = self.store().list_page(
            self.t.kind,
            self.t.namespace.as_deref(),
            after,
            limit,
            &keep,
        );
        // A continued list reports the resourceVersion of its first page, so the client
        // watches from a point that covers every page.
        let rv = token.as_ref().map_or(rv, |t| t.rv);
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if let Some((ns, name)) = next {
            meta["continue"] = json!(encode_continue(&ContinueToken { rv, ns, name }));
            meta["remainingItemCount"] = json!(remaining);
        }
        let k = self.t.k();
        Ok(match form(self.headers) {
            Form::Table => {
                let refs: Vec<&Value> = items.iter().map(|o| o.as_ref()).collect();
                let mut t = table::table(
                    self.t.kind,
                    &refs,
                    &rv.to_string(),
                    self.st.cluster.clock.now(),
                );
                t["metadata"] = meta;
                json_ok(t)
            }
            Form::Metadata => json_ok(json!({
                "kind": "PartialObjectMetadataList",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": meta,
                "items": items.iter().map(|o| table::partial_metadata(o)).collect::<Vec<_>>(),
            })),
            Form::Full => json_ok(json!({
                "kind": format!("{}List", k.kind),
                "apiVersion": k.api_version(),
                "metadata": meta,
                "items": items.iter().map(|o| o.as_ref()).collect::<Vec<_>>(),
            })),
        })
    }

    fn watch(&self) -> ApiResult {
        let (labels, fields) = self.selectors()?;
        let timeout = param_u64(self.params, "timeoutSeconds")?.unwrap_or(1800);
        let from_rv = param_u64(self.params, "resourceVersion")?.filter(|rv| *rv > 0);
        watch::serve(
            self.st.cluster.store.clone(),
            watch::WatchSpec {
                kind: self.t.kind,
                namespace: self.t.namespace.clone(),
                labels,
                fields,
                from_rv,
                bookmarks: param_bool(self.params, "allowWatchBookmarks"),
                initial_events: param_bool(self.params, "sendInitialEvents"),
                timeout: Duration::from_secs(timeout),
                form: form(self.headers),
            },
        )
    }

    fn body_json(&self) -> Result<Value, ApiError> {
        let ct = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json");
        if ct.contains("protobuf") {
            return protobuf::decode(self.body);
        }
        let parsed = if ct.contains("yaml") {
            serde_yaml_ng::from_slice::<Value>(self.body).map_err(|e| e.to_string())
        } else {
            serde_json::from_slice::<Value>(self.body).map_err(|e| e.to_string())
        };
        parsed.map_err(|e| ApiError::bad_request(format!("the request body is not valid: {e}")))
    }

    /// Puts the URL's namespace into the object, rejecting a conflicting one.
    fn place(&self, mut obj: Value) -> Result<Value, ApiError> {
        if let Some(ns) = &self.t.namespace {
            let body_ns = namespace_of(&obj);
            if !body_ns.is_empty() && body_ns != ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            obj["metadata"]["namespace"] = json!(ns);
        }
        Ok(obj)
    }

    /// `dryRun=All` checks and answers without persisting, on every verb that writes; any
    /// other value is refused, as the apiserver refuses it.
    /// A DELETE (and an eviction's `deleteOptions`) may say it in the body instead, as
    /// kubectl does: `"dryRun": ["All"]`.
    fn write(&self) -> Result<Write, ApiError> {
        // Only DeleteOptions bodies say it: any other body is the object itself, whose own
        // fields (a custom resource may have a `dryRun`) say nothing about the request.
        let options_body = matches!(self.verb, "delete" | "deletecollection")
            || (self.verb == "create" && self.t.sub == Some(Sub::Eviction));
        let body = (options_body && !self.body.is_empty())
            .then(|| serde_json::from_slice::<Value>(self.body).ok())
            .flatten()
            .unwrap_or_default();
        let in_body = body["dryRun"]
            .as_array()
            .or(body["deleteOptions"]["dryRun"].as_array())
            .and_then(|values| values.first())
            .map(|v| v.as_str().unwrap_or_default().to_owned());
        match self.params.get("dryRun").cloned().or(in_body).as_deref() {
            None => Ok(Write::Commit),
            Some("All") => Ok(Write::DryRun),
            Some(other) => Err(ApiError::bad_request(format!(
                "dryRun: Unsupported value: \"{other}\": supported values: \"All\""
            ))),
        }
    }

    fn create(&self) -> ApiResult {
        let mut obj = self.place(self.body_json()?)?;
        if self.t.kind == *ids::NAMESPACES {
            obj["spec"]["finalizers"] = json!(["kubernetes"]);
            obj["status"] = json!({"phase": "Active"});
        }
        if self.t.kind == *ids::SECRETS {
            secret_defaults(&mut obj);
        }
        apply::update(None, &mut obj, &self.writer());
        let created = self.store().create_as(self.t.kind, obj, self.write()?)?;
        Ok((StatusCode::CREATED, axum::Json(created.as_ref().clone())).into_response())
    }

    fn current(&self) -> Result<Obj, ApiError> {
        let k = self.t.k();
        self.store()
            .get(self.t.kind, self.t.ns(), self.t.name())
            .ok_or_else(|| ApiError::not_found(k.group, k.plural, self.t.name()))
    }

    fn get(&self) -> ApiResult {
        let obj = self.current()?;
        Ok(self.render_one(&obj))
    }

    fn update(&self, part: Part) -> ApiResult {
        let mut obj = self.place(self.body_json()?)?;
        if obj["metadata"]["name"].as_str() != Some(self.t.name()) {
            obj["metadata"]["name"] = json!(self.t.name());
        }
        if part == Part::Main {
            let current = self.store().get(self.t.kind, self.t.ns(), self.t.name());
            apply::update(current.as_deref(), &mut obj, &self.writer());
        }
        let updated = self
            .store()
            .update_as(self.t.kind, obj, part, self.write()?)?;
        Ok(json_ok(updated.as_ref().clone()))
    }

    fn patch_type(&self) -> Result<PatchType, ApiError> {
        let ct = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        PatchType::from_content_type(ct, self.t.k().group)
    }

    /// Who writes: `fieldManager`, else the client's name from its User-Agent
    /// (`kubectl-edit/v1.32...` is `kubectl-edit`), as the apiserver names managers.
    fn writer(&self) -> apply::Writer {
        let manager = self
            .params
            .get("fieldManager")
            .map(String::as_str)
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| {
                self.headers
                    .get(header::USER_AGENT)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|ua| ua.split('/').next())
                    .filter(|m| !m.is_empty())
                    .unwrap_or("unknown")
            });
        let k = self.t.k();
        apply::Writer {
            manager: manager.to_owned(),
            api_version: match k.group {
                "" => k.version.to_owned(),
                g => format!("{g}/{}", k.version),
            },
            now: k8s_time(self.st.cluster.clock.now()),
        }
    }

    fn patch(&self, part: Part) -> ApiResult {
        let write = self.write()?;
        let ptype = self.patch_type()?;
        let force = patch_options(ptype, self.params)?;
        let patch = patch::parse_body(ptype, self.body)?;
        let t = self.t;
        let owned = ptype == PatchType::Apply && part == Part::Main;
        if ptype == PatchType::Apply && self.store().get(t.kind, t.ns(), t.name()).is_none() {
            // Server-side apply creates what does not exist yet.
            let mut obj = self.place(patch)?;
            obj["metadata"]["name"] = json!(t.name());
            let obj = apply::apply(None, &obj, &self.writer(), force)?;
            let created = self.store().create_as(t.kind, obj, write)?;
            return Ok((StatusCode::CREATED, axum::Json(created.as_ref().clone())).into_response());
        }
        let has_status = t.k().has(Sub::Status);
        let updated = self
            .store()
            .replace_as(t.kind, t.ns(), t.name(), write, |cur| {
                let patched = if owned {
                    apply::apply(Some(cur), &patch, &self.writer(), force)?
                } else {
                    let mut patched = patch::apply(ptype, cur, &patch)?;
                    if part == Part::Main {
                        apply::update(Some(cur), &mut patched, &self.writer());
                    }
                    patched
                };
                let wanted_rv = patched["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap_or("");
                if patch["metadata"]["resourceVersion"].is_string()
                    && wanted_rv != cur["metadata"]["resourceVersion"].as_str().unwrap_or("")
                {
                    let k = t.k();
                    return Err(ApiError::conflict(k.group, k.plural, t.name()));
                }
                Ok(crate::store::split_status(cur, patched, part, has_status))
            })?;
        Ok(self.render_one(&updated))
    }

    /// The DeleteOptions of the request: from the query (as kubectl sends them), else from
    /// the body; an empty or unreadable body means the defaults, as on the real server.
    /// A propagation policy that is not one of the three, or one set beside the old
    /// `orphanDependents`, is a 422, as the apiserver validates them.
    fn delete_options(&self) -> Result<DeleteOptions, ApiError> {
        // The body when there is one, else the query: never both, as the apiserver reads
        // them.
        let body = self.delete_body();
        let query = |key: &str| self.params.get(key).filter(|_| body.is_null());
        let grace = match body.is_null() {
            true => query("gracePeriodSeconds").and_then(|g| g.parse().ok()),
            false => body["gracePeriodSeconds"].as_i64(),
        };
        let policy = match body.is_null() {
            true => query("propagationPolicy").cloned(),
            false => body["propagationPolicy"].as_str().map(str::to_owned),
        };
        let orphan = self.orphan_dependents(&body);
        let invalid = |message: String| ApiError::invalid("DeleteOptions.meta.k8s.io", "", message);
        let propagation = match (policy.as_deref(), orphan) {
            (Some(p), Some(_)) => {
                return Err(invalid(format!(
                    "propagationPolicy: Invalid value: {p:?}: orphanDependents and \
                     deletionPropagation cannot be both set"
                )));
            }
            (Some("Background"), None) => Some(Propagation::Background),
            (Some("Foreground"), None) => Some(Propagation::Foreground),
            (Some("Orphan"), None) => Some(Propagation::Orphan),
            (Some(other), None) => {
                return Err(invalid(format!(
                    "propagationPolicy: Unsupported value: {other:?}: supported values: \
                     \"Foreground\", \"Background\", \"Orphan\", \"nil\""
                )));
            }
            (None, Some(true)) => Some(Propagation::Orphan),
            (None, Some(false)) => Some(Propagation::Background),
            (None, None) => None,
        };
        let precondition = |field: &str| body["preconditions"][field].as_str().map(str::to_owned);
        Ok(DeleteOptions {
            grace_period_seconds: grace,
            propagation,
            uid: precondition("uid"),
            resource_version: precondition("resourceVersion"),
        })
    }

    /// A DELETE's body (DeleteOptions), or null.
    fn delete_body(&self) -> Value {
        (!self.body.is_empty())
            .then(|| self.body_json().ok())
            .flatten()
            .unwrap_or(Value::Null)
    }

    /// The old `orphanDependents` option, from the body, else the query.
    fn orphan_dependents(&self, body: &Value) -> Option<bool> {
        match (body.is_null(), self.params.contains_key("orphanDependents")) {
            (true, true) => Some(param_bool(self.params, "orphanDependents")),
            _ => body["orphanDependents"].as_bool(),
        }
    }

    fn delete(&self) -> ApiResult {
        let opts = self.delete_options()?;
        let (obj, gone) =
            self.store()
                .delete_as(self.t.kind, self.t.ns(), self.t.name(), opts, self.write()?)?;
        let k = self.t.k();
        // As the apiserver: an object removed at once is answered with a Status naming
        // it (a pod, with the pod); one that stays (finalizers, a pod's grace period) as
        // it is now: 200, or 202 when the client asked for cascading with the old
        // `orphanDependents=false` (the apiserver keeps that quirk for old clients).
        if gone && self.t.kind != *ids::PODS {
            let details = json!({
                "name": self.t.name(),
                "group": k.group,
                "kind": k.plural,
                "uid": obj["metadata"]["uid"],
            });
            return Ok(json_ok(success_status(details)));
        }
        let code = if !gone && self.orphan_dependents(&self.delete_body()) == Some(false) {
            StatusCode::ACCEPTED
        } else {
            StatusCode::OK
        };
        Ok((code, axum::Json(obj.as_ref().clone())).into_response())
    }

    fn delete_collection(&self) -> ApiResult {
        let write = self.write()?;
        let (labels, fields) = self.selectors()?;
        let (items, _) = self.store().list(self.t.kind, self.t.namespace.as_deref());
        let opts = self.delete_options()?;
        for o in items
            .iter()
            .filter(|o| labels.matches(o) && fields.matches(o))
        {
            let name = o["metadata"]["name"].as_str().unwrap_or("");
            // Already gone is fine: another client or the GC was faster.
            let _ = self
                .store()
                .delete_as(self.t.kind, namespace_of(o), name, opts.clone(), write);
        }
        Ok(json_ok(success_status(json!({}))))
    }

    /// The Scale of `obj`; a selector that cannot be converted is a 400, as in the real
    /// registry.
    fn scale_of(&self, obj: &Value) -> Result<Value, ApiError> {
        let selector = LabelSelector::from_object(&obj["spec"]["selector"])?.to_query();
        Ok(json!({
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": obj["metadata"]["name"],
                "namespace": obj["metadata"]["namespace"],
                "uid": obj["metadata"]["uid"],
                "resourceVersion": obj["metadata"]["resourceVersion"],
                "creationTimestamp": obj["metadata"]["creationTimestamp"],
            },
            "spec": {"replicas": obj["spec"]["replicas"].as_i64().unwrap_or(1)},
            "status": {"replicas": obj["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector},
        }))
    }

    fn get_scale(&self) -> ApiResult {
        let obj = self.current()?;
        Ok(json_ok(self.scale_of(&obj)?))
    }

    fn write_scale(&self, is_patch: bool) -> ApiResult {
        let write = self.write()?;
        let current = self.current()?;
        let scale = self.scale_of(&current)?;
        let desired = if is_patch {
            let ptype = self.patch_type()?;
            patch::apply(ptype, &scale, &patch::parse_body(ptype, self.body)?)?
        } else {
            self.body_json()?
        };
        let replicas = desired["spec"]["replicas"]
            .as_i64()
            .filter(|r| *r >= 0)
            .ok_or_else(|| {
                ApiError::invalid(
                    "Scale",
                    self.t.name(),
                    "spec.replicas: Invalid value: must be greater than or equal to 0",
                )
            })?;
        let expected_rv = desired["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let k = self.t.k();
        let updated =
            self.store()
                .replace_as(self.t.kind, self.t.ns(), self.t.name(), write, |cur| {
                    if !is_patch
                        && !expected_rv.is_empty()
                        && cur["metadata"]["resourceVersion"].as_str() != Some(expected_rv.as_str())
                    {
                        return Err(ApiError::conflict(k.group, k.plural, self.t.name()));
                    }
                    let mut next = cur.clone();
                    next["spec"]["replicas"] = json!(replicas);
                    Ok(next)
                })?;
        Ok(json_ok(self.scale_of(&updated)?))
    }

    fn evict(&self) -> ApiResult {
        let body = self.body_json().unwrap_or(json!({}));
        let grace = body["deleteOptions"]["gracePeriodSeconds"].as_i64();
        let write = self.write()?;
        crate::controllers::disruption::evict(
            &self.st.cluster,
            self.t.ns(),
            self.t.name(),
            grace,
            write,
        )?;
        Ok((
            StatusCode::CREATED,
            axum::Json(json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201})),
        )
            .into_response())
    }

    /// SelfSubjectAccessReview, SelfSubjectRulesReview and SelfSubjectReview: answered,
    /// never stored.
    fn review(&self) -> ApiResult {
        let mut review = self.body_json()?;
        let k = self.t.k();
        review["apiVersion"] = json!(k.api_version());
        review["kind"] = json!(k.kind);
        if self.t.kind == *ids::SSR {
            review["status"] =
                json!({"userInfo": {"username": self.role.user(), "groups": self.role.groups()}});
        } else if self.t.kind == *ids::SSRR {
            review["status"] = rbac::rules_review(self.role);
        } else {
            let attrs = &review["spec"]["resourceAttributes"];
            let allowed = if attrs.is_object() {
                let mut resource = attrs["resource"].as_str().unwrap_or("").to_string();
                if let Some(sub) = attrs["subresource"].as_str().filter(|s| !s.is_empty()) {
                    resource = format!("{resource}/{sub}");
                }
                let verb = attrs["verb"].as_str().unwrap_or("");
                let group = attrs["group"].as_str().unwrap_or("");
                verb == "*" && self.role == Role::Admin
                    || rbac::allowed(self.role, verb, group, &resource)
            } else {
                // Non-resource URLs (/healthz, /version, ...) are readable by everyone.
                review["spec"]["nonResourceAttributes"]["verb"] == "get"
            };
            let reason = if allowed {
                format!("allowed by the {} role", self.role.user())
            } else {
                String::new()
            };
            review["status"] = json!({"allowed": allowed, "reason": reason});
        }
        Ok((StatusCode::CREATED, axum::Json(review)).into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_needs_a_field_manager_and_only_apply_takes_force() {
        let params = |pairs: &[(&str, &str)]| -> Params {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let e = patch_options(PatchType::Apply, &params(&[])).unwrap_err();
        assert_eq!(e.code, 422);
        assert_eq!(
            e.message,
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
        );
        assert!(!patch_options(PatchType::Apply, &params(&[("fieldManager", "ci")])).unwrap());
        assert!(
            patch_options(
                PatchType::Apply,
                &params(&[("fieldManager", "ci"), ("force", "true")])
            )
            .unwrap()
        );
        let e = patch_options(PatchType::Merge, &params(&[("force", "true")])).unwrap_err();
        assert!(
            e.message
                .ends_with("force: Forbidden: may not be specified for non-apply patch")
        );
        assert!(!patch_options(PatchType::Merge, &params(&[])).unwrap());
    }

    #[test]
    fn paths_parse_into_targets() {
        let t = parse_target("/api/v1/namespaces/default/pods/web-1/log").unwrap();
        assert_eq!(
            (KINDS[t.kind].plural, t.ns(), t.name(), t.sub),
            ("pods", "default", "web-1", Some(Sub::Log))
        );
        let t = parse_target("/api/v1/namespaces/default").unwrap();
        assert_eq!((KINDS[t.kind].plural, t.name()), ("namespaces", "default"));
        let t = parse_target("/apis/apps/v1/deployments").unwrap();
        assert!(t.namespace.is_none() && t.name.is_none());
        let t = parse_target("/apis/velero.io/v1/namespaces/velero/backups").unwrap();
        assert_eq!(t.ns(), "velero");
        assert!(
            parse_target("/api/v1/pods/x").is_err(),
            "namespaced item without a namespace"
        );
        assert!(parse_target("/api/v1/namespaces/x/pods/y/nope").is_err());
        assert!(parse_target("/apis/nope/v1/things").is_err());
    }

    #[test]
    fn accept_header_picks_the_form() {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT,
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
                .parse()
                .unwrap(),
        );
        assert_eq!(form(&h), Form::Table);
        h.insert(
            header::ACCEPT,
            "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
                .parse()
                .unwrap(),
        );
        assert_eq!(form(&h), Form::Metadata);
        h.insert(header::ACCEPT, "application/json, */*".parse().unwrap());
        assert_eq!(form(&h), Form::Full);
    }

    #[test]
    fn continue_tokens_round_trip_and_reject_garbage() {
        let tok = ContinueToken {
            rv: 9,
            ns: "a".into(),
            name: "b".into(),
        };
        let back = decode_continue(&encode_continue(&tok)).unwrap();
        assert_eq!((back.rv, back.ns, back.name), (9, "a".into(), "b".into()));
        assert_eq!(decode_continue("!!").unwrap_err().code, 400);
    }
}
