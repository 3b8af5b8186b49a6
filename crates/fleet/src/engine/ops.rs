//! Small actions on objects: delete, restart, cordon, uncordon and scale, as the console's
//! keys and the headless verbs do them outside workflows. Each is one request per object,
//! takes no lock and journals nothing, and passes the gate runs pass: read-only, a cluster a
//! workflow holds, the permission (a SelfSubjectAccessReview for that verb on that very
//! object), the confirmation its danger asks for, and the audit log. Each leaves a
//! Kubernetes Event on its object, so `kubectl describe` shows who did it.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::Utc;
use kube::api::{Api, DeleteParams, DynamicObject, ObjectMeta, Patch, PatchParams, PostParams};
use serde::Serialize;
use serde_json::json;

use super::audit::NewRecord;
use super::{Engine, EngineError, lease, workflows};
use crate::access::{self, ResourceAttributes};
use crate::config::ClusterRole;
use crate::kinds::{Catalog, ServedKind};
use ck8s_model::access::Permission;

/// The annotation `kubectl rollout restart` sets on the pod template: changing it rolls out
/// new pods without any other change.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// Who the server records as the writer of what the console writes (managedFields).
pub const FIELD_MANAGER: &str = "ck8s-console";

/// What a small action does to each object it is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Delete,
    /// A rolling restart of a Deployment, StatefulSet or DaemonSet.
    Restart,
    Cordon,
    Uncordon,
    /// Set the replicas through the scale subresource.
    Scale(u32),
    /// Replace the object with an edited one ([`Engine::edit`]).
    Edit,
    /// Create an object from a text ([`Engine::create`]).
    Create,
    /// A shell in a pod (`kubectl exec`; [`Engine::shell`]).
    Shell,
    /// Ports of a pod forwarded to this machine (`kubectl port-forward`;
    /// [`Engine::port_forward`]).
    PortForward,
    /// One value of a Secret, shown ([`Engine::reveal`]).
    Reveal,
    /// A DownloadRequest, for a Velero backup's files ([`Engine::download`]).
    Download,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Delete => "delete",
            Op::Restart => "restart",
            Op::Cordon => "cordon",
            Op::Uncordon => "uncordon",
            Op::Scale(_) => "scale",
            Op::Edit => "edit",
            Op::Create => "create",
            Op::Shell => "shell",
            Op::PortForward => "port-forward",
            Op::Reveal => "reveal",
            Op::Download => "download",
        }
    }

    /// Whether it changes the cluster: only a change waits for a run's lock. A forward
    /// only reaches what the pod serves.
    fn is_change(self) -> bool {
        !matches!(self, Op::Reveal | Op::PortForward | Op::Download)
    }

    /// Done through an entry of its own, not [`Engine::act`]: an edit and a create carry
    /// the object, a shell is kubectl's, a reveal answers with a value.
    fn has_own_entry(self) -> bool {
        matches!(
            self,
            Op::Edit | Op::Create | Op::Shell | Op::PortForward | Op::Reveal | Op::Download
        )
    }

    /// Deleting cannot be undone, so it is done only when the caller confirmed it (the
    /// console's question, or `--yes` of a script).
    pub fn needs_confirmation(self) -> bool {
        matches!(self, Op::Delete)
    }

    /// The verb and subresource the permission check asks about.
    fn access(self) -> (&'static str, &'static str) {
        match self {
            Op::Delete => ("delete", ""),
            Op::Scale(_) => ("patch", "scale"),
            Op::Edit => ("update", ""),
            Op::Create | Op::Download => ("create", ""),
            Op::Shell => ("create", "exec"),
            Op::PortForward => ("create", "portforward"),
            Op::Reveal => ("get", ""),
            Op::Restart | Op::Cordon | Op::Uncordon => ("patch", ""),
        }
    }

    /// Why objects of `kind` cannot take this action, if they cannot.
    pub fn unfit(self, kind: &ServedKind) -> Option<String> {
        let restartable = kind.group == "apps"
            && matches!(
                kind.plural.as_str(),
                "deployments" | "statefulsets" | "daemonsets"
            );
        let node = kind.group.is_empty() && kind.plural == "nodes";
        match self {
            Op::Delete if !kind.serves("delete") => Some(format!(
                "{} cannot be deleted: the server offers no delete for them",
                kind.qualified()
            )),
            Op::Restart if !restartable => Some(format!(
                "{} do not restart: only Deployments, StatefulSets and DaemonSets roll out new \
                 pods (delete a pod to have its owner replace it)",
                kind.qualified()
            )),
            Op::Cordon | Op::Uncordon if !node => Some(format!(
                "only nodes are {}ed, not {}",
                self.name(),
                kind.qualified()
            )),
            Op::Scale(_) if !kind.has_subresource("scale") => Some(format!(
                "{} have no scale subresource, so they cannot be scaled",
                kind.qualified()
            )),
            Op::Edit if !kind.serves("update") => Some(format!(
                "{} cannot be edited: the server offers no update for them",
                kind.qualified()
            )),
            // Editing shows the values; a Secret's never reach the screen.
            Op::Shell if !(kind.group.is_empty() && kind.plural == "pods") => Some(format!(
                "a shell runs in a pod, not in {}",
                kind.qualified()
            )),
            Op::PortForward if !(kind.group.is_empty() && kind.plural == "pods") => Some(format!(
                "ports are forwarded from a pod, not from {}",
                kind.qualified()
            )),
            Op::Download if kind.plural != "downloadrequests" => Some(format!(
                "a backup's files are asked for with a DownloadRequest, not {}",
                kind.qualified()
            )),
            Op::Reveal if !kind.is_secret() => Some(format!(
                "only a Secret's values are revealed, not {}'s: the YAML shows them",
                kind.qualified()
            )),
            Op::Edit if kind.is_secret() => {
                Some("Secrets are not edited here: that would show their values".into())
            }
            Op::Create if !kind.serves("create") => Some(format!(
                "{} cannot be created: the server offers no create for them",
                kind.qualified()
            )),
            Op::Create if kind.is_secret() => Some(
                "Secrets are not created here: the diff would show their values (kubectl \
                 create secret keeps them off the screen)"
                    .into(),
            ),
            _ => None,
        }
    }

    fn event_reason(self) -> &'static str {
        match self {
            Op::Delete => "DeletedByConsole",
            Op::Restart => "RestartedByConsole",
            Op::Cordon => "CordonedByConsole",
            Op::Uncordon => "UncordonedByConsole",
            Op::Scale(_) => "ScaledByConsole",
            Op::Edit => "EditedByConsole",
            Op::Create => "CreatedByConsole",
            Op::Shell => "ShellByConsole",
            Op::PortForward => "PortForwardByConsole",
            Op::Reveal => "RevealedByConsole",
            Op::Download => "DownloadRequestedByConsole",
        }
    }
}

/// The patch that cordons a node (`true`) or uncordons it, as kubectl sends it: uncordoning
/// removes the field.
pub(crate) fn cordon_patch(on: bool) -> serde_json::Value {
    json!({"spec": {"unschedulable": if on { json!(true) } else { json!(null) }}})
}

/// A Secret's value, revealed: its Debug form never shows it, so no log or panic message
/// can carry it.
pub struct Revealed(pub Vec<u8>);

impl std::fmt::Debug for Revealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Revealed({} bytes)", self.0.len())
    }
}

/// One object of one cluster, as a key, a `:` command or a script names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectRef {
    pub env: String,
    pub role: ClusterRole,
    /// Any name of the kind kubectl takes: `pod`, `deploy`, `backups.velero.io`.
    pub kind: String,
    /// Needed for namespaced kinds; ignored for cluster-scoped ones, as kubectl does.
    pub namespace: Option<String>,
    pub name: String,
}

/// What a small action did to one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct OpOutcome {
    pub env: String,
    pub cluster: ClusterRole,
    /// The kind as kubectl names it in full: `pods`, `deployments.apps`.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    pub ok: bool,
    /// What was done (`deleted`, `terminating`, `already cordoned`), or why it failed.
    pub message: String,
}

impl OpOutcome {
    /// `acme-wc deployments.apps production/web`.
    pub fn object(&self) -> String {
        let path = match &self.namespace {
            Some(ns) => format!("{ns}/{}", self.name),
            None => self.name.clone(),
        };
        format!("{}-{} {} {path}", self.env, self.cluster, self.kind)
    }
}

/// An object whose kind the cluster was asked about: what the gate checks and the action
/// changes.
struct Resolved {
    env: String,
    role: ClusterRole,
    kind: ServedKind,
    namespace: Option<String>,
    name: String,
}

impl Resolved {
    fn outcome(&self, result: Result<String, String>) -> OpOutcome {
        let ok = result.is_ok();
        OpOutcome {
            env: self.env.clone(),
            cluster: self.role,
            kind: self.kind.qualified(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            ok,
            message: result.unwrap_or_else(|e| e),
        }
    }

    fn label(&self) -> String {
        self.outcome(Ok(String::new())).object()
    }

    fn api(&self, client: kube::Client) -> Api<DynamicObject> {
        crate::objects::api_of(client, &self.kind, self.namespace.as_deref())
    }

    /// The metadata an Event names the object by, when the server returned none.
    fn meta(&self) -> ObjectMeta {
        ObjectMeta {
            name: Some(self.name.clone()),
            namespace: self.namespace.clone(),
            ..ObjectMeta::default()
        }
    }
}

/// The kinds each cluster serves, asked once per engine.
pub(super) type Catalogs = tokio::sync::Mutex<HashMap<(String, ClusterRole), Arc<Catalog>>>;

impl Engine {
    /// The kinds `role` of `env` serves, from discovery: kept, and asked again when
    /// `fresh` (a kind was not found: a CRD may have been installed since).
    async fn catalog(
        &self,
        env: &str,
        role: ClusterRole,
        fresh: bool,
    ) -> Result<Arc<Catalog>, EngineError> {
        let key = (env.to_owned(), role);
        if !fresh && let Some(c) = self.catalogs.lock().await.get(&key) {
            return Ok(c.clone());
        }
        let client = self.client(env, role).await?;
        let catalog = Catalog::fetch(&client)
            .await
            .map_err(|e| EngineError::Observe(format!("{env}-{role}: {e}")))?;
        let catalog = Arc::new(catalog);
        self.catalogs.lock().await.insert(key, catalog.clone());
        Ok(catalog)
    }

    /// The kind `name` names in `role` of `env`.
    pub(super) async fn kind(
        &self,
        env: &str,
        role: ClusterRole,
        name: &str,
    ) -> Result<ServedKind, EngineError> {
        let kept = self.catalog(env, role, false).await?;
        if let Ok(kind) = kept.resolve(name) {
            return Ok(kind.clone());
        }
        let fresh = self.catalog(env, role, true).await?;
        fresh
            .resolve(name)
            .cloned()
            .map_err(|e| EngineError::Usage(format!("{env}-{role}: {e}")))
    }

    /// Does `op` to each of `objects`, after the gate. All objects pass the gate or none is
    /// touched; then each is acted on in turn, and each outcome says what happened to it.
    pub async fn act(
        &self,
        op: Op,
        objects: &[ObjectRef],
        confirmed: bool,
    ) -> Result<Vec<OpOutcome>, EngineError> {
        if op.has_own_entry() {
            return Err(EngineError::Usage(format!(
                "{} is not done here: it goes through Engine::{}",
                op.name(),
                op.name()
            )));
        }
        if op.needs_confirmation() && !confirmed {
            return Err(EngineError::Usage(format!(
                "{} cannot be undone and was not confirmed (answer the question, or pass \
                 --yes); nothing was changed",
                op.name()
            )));
        }
        let resolved = self.admit(op, objects).await?;
        let mut outcomes = Vec::with_capacity(resolved.len());
        for r in &resolved {
            outcomes.push(self.act_on(op, r).await);
        }
        Ok(outcomes)
    }

    async fn admit(&self, op: Op, objects: &[ObjectRef]) -> Result<Vec<Resolved>, EngineError> {
        if objects.is_empty() {
            return Err(EngineError::Usage(format!(
                "nothing to {}: name at least one object",
                op.name()
            )));
        }
        for env in objects.iter().map(|o| &o.env).collect::<BTreeSet<_>>() {
            self.fleet
                .environment(env)
                .ok_or_else(|| super::unknown_env(&self.fleet, env))?;
            self.writable(env, op.name())?;
        }
        let mut resolved = Vec::with_capacity(objects.len());
        for o in objects {
            resolved.push(self.resolve(op, o).await?);
        }
        let now = Utc::now();
        let clusters: BTreeSet<(&str, ClusterRole)> =
            objects.iter().map(|o| (o.env.as_str(), o.role)).collect();
        if op.is_change() {
            for (env, role) in clusters {
                let sc = self.client(env, ClusterRole::Sc).await?;
                lease::ensure_free(sc, env, role, now).await?;
            }
        }
        self.permitted(op, &resolved).await?;
        Ok(resolved)
    }

    /// The kind `o` names as kubectl names it in full (`deployments.apps`), for reports.
    pub async fn qualified_kind(&self, o: &ObjectRef) -> Result<String, EngineError> {
        Ok(self.kind(&o.env, o.role, &o.kind).await?.qualified())
    }

    async fn resolve(&self, op: Op, o: &ObjectRef) -> Result<Resolved, EngineError> {
        let cluster = format!("{}-{}", o.env, o.role);
        let kind = self.kind(&o.env, o.role, &o.kind).await?;
        if let Some(why) = op.unfit(&kind) {
            return Err(EngineError::Usage(format!("{cluster}: {why}")));
        }
        if o.name.is_empty() {
            return Err(EngineError::Usage(format!(
                "{cluster}: which {} to {}? Name it",
                kind.singular,
                op.name()
            )));
        }
        let namespace = match (&o.namespace, kind.namespaced) {
            (Some(ns), true) if !ns.is_empty() => Some(ns.clone()),
            (_, true) => {
                return Err(EngineError::Usage(format!(
                    "{cluster}: {} are namespaced; say in which namespace {} is (-n)",
                    kind.qualified(),
                    o.name
                )));
            }
            (_, false) => None,
        };
        Ok(Resolved {
            env: o.env.clone(),
            role: o.role,
            kind,
            namespace,
            name: o.name.clone(),
        })
    }

    /// One SelfSubjectAccessReview per object, all at once; any "no" refuses them all.
    async fn permitted(&self, op: Op, resolved: &[Resolved]) -> Result<(), EngineError> {
        let (verb, subresource) = op.access();
        let mut reviews = Vec::with_capacity(resolved.len());
        for r in resolved {
            let client = self.client(&r.env, r.role).await?;
            let attributes = ResourceAttributes {
                verb: Some(verb.into()),
                group: Some(r.kind.group.clone()),
                resource: Some(r.kind.plural.clone()),
                subresource: (!subresource.is_empty()).then(|| subresource.into()),
                namespace: r.namespace.clone(),
                // RBAC cannot limit a create by name, so the question names none.
                name: (!matches!(op, Op::Create | Op::Download)).then(|| r.name.clone()),
                ..Default::default()
            };
            reviews.push(access::review_attributes(client, attributes));
        }
        let answers = futures::future::join_all(reviews).await;
        let what = match subresource {
            "" => verb.to_owned(),
            sub => format!("{verb} the {sub} of"),
        };
        let (mut refusals, mut unknown) = (Vec::new(), Vec::new());
        for (r, answer) in resolved.iter().zip(answers) {
            match answer {
                Permission::Allowed => {}
                Permission::Denied(why) if why.is_empty() => {
                    refusals.push(format!("you may not {what} {}", r.label()))
                }
                Permission::Denied(why) => {
                    refusals.push(format!("you may not {what} {} ({why})", r.label()))
                }
                Permission::Failed(e) => unknown.push(format!(
                    "whether you may {what} {} could not be checked ({e})",
                    r.label()
                )),
            }
        }
        if !refusals.is_empty() {
            return Err(EngineError::Forbidden(format!(
                "{}; ask for it in RBAC, or act as a user who has it",
                refusals.join("; ")
            )));
        }
        // Not a refusal: nothing is known to forbid it. Nothing is done until it is known.
        if !unknown.is_empty() {
            return Err(EngineError::Observe(format!(
                "{}; nothing was changed, try again",
                unknown.join("; ")
            )));
        }
        Ok(())
    }

    /// Replaces `object` with `edited`, after the gate (as `update`): with `dry_run`, the
    /// server says what it would store and keeps nothing (`dryRun=All`); else the edit
    /// is audited, made, and left as an Event. The object as the server stored (or would
    /// store) it. A conflict (someone changed it since it was read) is [`EngineError::Stale`]
    /// and an object the server refuses is [`EngineError::Usage`]: the edited text is the
    /// caller's to keep.
    pub async fn edit(
        &self,
        object: &ObjectRef,
        edited: serde_json::Value,
        dry_run: bool,
    ) -> Result<serde_json::Value, EngineError> {
        self.write(Op::Edit, object, edited, dry_run).await
    }

    /// Creates `object` from `value` (which names it), after the gate (as `create`), as
    /// [`Engine::edit`] replaces one: a dry run first, then audited, made and left as an
    /// Event. One that exists already is [`EngineError::Stale`].
    pub async fn create(
        &self,
        object: &ObjectRef,
        value: serde_json::Value,
        dry_run: bool,
    ) -> Result<serde_json::Value, EngineError> {
        self.write(Op::Create, object, value, dry_run).await
    }

    /// An edit or a create: the object sent whole.
    async fn write(
        &self,
        op: Op,
        object: &ObjectRef,
        value: serde_json::Value,
        dry_run: bool,
    ) -> Result<serde_json::Value, EngineError> {
        let resolved = self.admit(op, std::slice::from_ref(object)).await?;
        let r = &resolved[0];
        let mut obj: DynamicObject = serde_json::from_value(value)
            .map_err(|e| EngineError::Usage(format!("the text is no {}: {e}", r.kind.kind)))?;
        // A manifest without a namespace goes to the one it is created in, as with
        // `kubectl create -f`.
        if op == Op::Create && r.kind.namespaced && obj.metadata.namespace.is_none() {
            obj.metadata.namespace = r.namespace.clone();
        }
        if obj.metadata.name.as_deref() != Some(r.name.as_str())
            || (r.kind.namespaced && obj.metadata.namespace != r.namespace)
        {
            return Err(EngineError::Usage(format!(
                "the edited object is another one (metadata.name or namespace changed); \
                 {} keeps its name: create a new object instead",
                r.label()
            )));
        }
        let client = self.client(&r.env, r.role).await?;
        let params = PostParams {
            dry_run,
            field_manager: Some(FIELD_MANAGER.into()),
        };
        let refused = |e: kube::Error| match &e {
            kube::Error::Api(s) if s.code == 409 && op == Op::Create => {
                EngineError::Stale(format!("{} exists already: edit it instead", r.label()))
            }
            kube::Error::Api(s) if s.code == 409 => EngineError::Stale(format!(
                "{} changed since it was read (someone else edited it); nothing was \
                 changed, and your text is kept: edit again to redo it on the new version",
                r.label()
            )),
            kube::Error::Api(s) if matches!(s.code, 400 | 422) => EngineError::Usage(format!(
                "the server refuses the {} {}: {}",
                if op == Op::Create { "new" } else { "edited" },
                r.kind.kind,
                s.message
            )),
            _ => EngineError::Observe(crate::failure::of_kube(&e).sentence),
        };
        let api = r.api(client.clone());
        let send = || async {
            match op {
                Op::Create => api.create(&params, &obj).await,
                _ => api.replace(&r.name, &params, &obj).await,
            }
        };
        if dry_run {
            let would = send().await.map_err(refused)?;
            return serde_json::to_value(would).map_err(|e| EngineError::Observe(e.to_string()));
        }
        let action = format!("object.{}", op.name());
        let detail = json!({"kind": r.kind.qualified(), "namespace": r.namespace, "name": r.name});
        self.record(self.object_record(r, action.clone(), detail.clone()))?;
        match send().await {
            Ok(stored) => {
                let done = if op == Op::Create {
                    "created"
                } else {
                    "edited"
                };
                let note = format!("{done} (by {} through ck8s-console)", self.actor);
                let api_version = r.kind.api_version();
                let type_meta = (api_version.as_str(), r.kind.kind.as_str());
                workflows::record_event(
                    &client,
                    &stored.metadata,
                    type_meta,
                    op.event_reason(),
                    &note,
                )
                .await;
                serde_json::to_value(stored).map_err(|e| EngineError::Observe(e.to_string()))
            }
            Err(e) => {
                let mut detail = detail;
                detail["error"] = json!(crate::failure::of_kube(&e).sentence);
                let failed = self.object_record(r, format!("{action}.failed"), detail);
                if let Err(audit) = self.record(failed) {
                    tracing::warn!(error = %audit, "auditing a failed {} failed", op.name());
                }
                Err(refused(e))
            }
        }
    }

    /// A shell in `pod`: the gate (read-only, a run's lock, `create pods/exec` for that
    /// pod) and the audit record, before the terminal is handed to kubectl, which does
    /// the rest. A shell can change anything the user may, so it is gated as a change.
    pub async fn shell(&self, pod: &ObjectRef) -> Result<(), EngineError> {
        let resolved = self.admit(Op::Shell, std::slice::from_ref(pod)).await?;
        let r = &resolved[0];
        let detail = json!({"kind": r.kind.qualified(), "namespace": r.namespace, "name": r.name});
        self.record(self.object_record(r, "pod.shell".into(), detail))
    }

    /// Ports of `pod` forwarded to this machine (`ports` as kubectl takes them,
    /// `8080:80`): the gate (read-only, `create pods/portforward` for that pod) and the
    /// audit record naming the ports, before the terminal is handed to kubectl. No run's
    /// lock stops it: a forward changes nothing in the cluster.
    pub async fn port_forward(&self, pod: &ObjectRef, ports: &[String]) -> Result<(), EngineError> {
        let resolved = self
            .admit(Op::PortForward, std::slice::from_ref(pod))
            .await?;
        let r = &resolved[0];
        let detail = json!({"kind": r.kind.qualified(), "namespace": r.namespace, "name": r.name, "ports": ports});
        self.record(self.object_record(r, "pod.port-forward".into(), detail))
    }

    /// Velero's files of `backup` (`what`: its log, or its description's), asked for with a
    /// DownloadRequest in its namespace: the gate (read-only, as the request is an object
    /// in the cluster; `create downloadrequests`) and the audit record, before the request
    /// is made. No run's lock stops it: it changes nothing Velero keeps.
    pub async fn download(&self, backup: &ObjectRef, what: &str) -> Result<(), EngineError> {
        let request = ObjectRef {
            kind: "downloadrequests.velero.io".into(),
            ..backup.clone()
        };
        let resolved = self
            .admit(Op::Download, std::slice::from_ref(&request))
            .await?;
        let r = &resolved[0];
        let detail = json!({"backup": backup.name, "namespace": r.namespace, "what": what});
        self.record(self.object_record(r, "backup.download".into(), detail))
    }

    /// One value of a Secret, for the user who asked to see it: the gate (read-only, since
    /// the audit record is kept in the cluster too, and `get secrets` on that Secret),
    /// then the audit record, naming the key and never the value, before it is read. No
    /// run's lock stops it: reading changes nothing.
    pub async fn reveal(&self, secret: &ObjectRef, key: &str) -> Result<Revealed, EngineError> {
        let resolved = self.admit(Op::Reveal, std::slice::from_ref(secret)).await?;
        let r = &resolved[0];
        let detail = json!({"kind": r.kind.qualified(), "namespace": r.namespace, "name": r.name, "key": key});
        self.record(self.object_record(r, "secret.reveal".into(), detail))?;
        let client = self.client(&r.env, r.role).await?;
        let object = r
            .api(client)
            .get(&r.name)
            .await
            .map_err(|e| EngineError::Observe(crate::failure::of_kube(&e).sentence))?;
        let data = &object.data["data"];
        let Some(encoded) = data[key].as_str() else {
            let keys: Vec<&str> = data
                .as_object()
                .map(|m| m.keys().map(String::as_str).collect())
                .unwrap_or_default();
            return Err(EngineError::Usage(format!(
                "{} has no key `{key}`; its keys: {}",
                r.label(),
                if keys.is_empty() {
                    "none".to_owned()
                } else {
                    keys.join(", ")
                }
            )));
        };
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|e| EngineError::Observe(format!("the value is no base64: {e}")))?;
        Ok(Revealed(bytes))
    }

    /// The audit record of an action on one object.
    fn object_record(&self, r: &Resolved, action: String, detail: serde_json::Value) -> NewRecord {
        NewRecord {
            actor: self.actor.clone(),
            action,
            env: r.env.clone(),
            cluster: Some(r.role.to_string()),
            target: Some(r.label()),
            run_id: None,
            reason: None,
            detail,
        }
    }

    /// Audits, acts, and leaves an Event. Nothing is done without its audit record.
    async fn act_on(&self, op: Op, r: &Resolved) -> OpOutcome {
        let record =
            |action: String, detail: serde_json::Value| self.object_record(r, action, detail);
        let mut detail =
            json!({"kind": r.kind.qualified(), "namespace": r.namespace, "name": r.name});
        if let Op::Scale(replicas) = op {
            detail["replicas"] = json!(replicas);
        }
        let action = format!("object.{}", op.name());
        // The client first: the record says it was asked for, and then it is tried.
        let client = match self.client(&r.env, r.role).await {
            Ok(c) => c,
            Err(e) => return r.outcome(Err(format!("not done: {e}"))),
        };
        if let Err(e) = self.record(record(action.clone(), detail.clone())) {
            return r.outcome(Err(format!("not done: {e}")));
        }
        match self.change(op, r, client.clone()).await {
            Ok((message, meta)) => {
                if let Some(meta) = meta {
                    let api_version = r.kind.api_version();
                    let note = format!("{message} (by {} through ck8s-console)", self.actor);
                    let type_meta = (api_version.as_str(), r.kind.kind.as_str());
                    workflows::record_event(&client, &meta, type_meta, op.event_reason(), &note)
                        .await;
                }
                r.outcome(Ok(message))
            }
            Err(why) => {
                detail["error"] = json!(why);
                // The first record says it was asked for; this one that it did not happen.
                if let Err(audit) = self.record(record(format!("{action}.failed"), detail)) {
                    tracing::warn!(error = %audit, "auditing a failed {action} failed");
                }
                r.outcome(Err(why))
            }
        }
    }

    /// The change itself: what it did, and the object to leave an Event on (none when
    /// nothing changed); or why it was not made.
    async fn change(
        &self,
        op: Op,
        r: &Resolved,
        client: kube::Client,
    ) -> Result<(String, Option<ObjectMeta>), String> {
        let said = |e: kube::Error| crate::failure::of_kube(&e).sentence;
        if op == Op::Restart {
            // As kubectl: a paused rollout would not roll; say so instead of "restarted".
            let current = r.api(client.clone()).get(&r.name).await.map_err(said)?;
            if current.data["spec"]["paused"] == json!(true) {
                return Err(format!(
                    "its rollout is paused, so a restart would not roll: resume it first \
                     (kubectl rollout resume {} {})",
                    r.kind.singular, r.name
                ));
            }
        }
        self.apply_op(op, r, client).await.map_err(said)
    }

    async fn apply_op(
        &self,
        op: Op,
        r: &Resolved,
        client: kube::Client,
    ) -> Result<(String, Option<ObjectMeta>), kube::Error> {
        let api = r.api(client);
        let params = PatchParams::default();
        match op {
            Op::Delete => {
                // Background propagation, as kubectl: owned objects go after their owner.
                let params = DeleteParams::background();
                Ok(match api.delete(&r.name, &params).await? {
                    either::Either::Left(obj) if obj.metadata.deletion_timestamp.is_some() => {
                        ("terminating".into(), Some(obj.metadata))
                    }
                    either::Either::Left(obj) => ("deleted".into(), Some(obj.metadata)),
                    either::Either::Right(status) => {
                        let mut meta = r.meta();
                        meta.uid = status
                            .details
                            .and_then(|d| (!d.uid.is_empty()).then_some(d.uid));
                        ("deleted".into(), Some(meta))
                    }
                })
            }
            Op::Restart => {
                let at = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                let patch = json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: at}}}}});
                let obj = api.patch(&r.name, &params, &Patch::Merge(&patch)).await?;
                Ok((
                    "restarted: a rollout replaces its pods".into(),
                    Some(obj.metadata),
                ))
            }
            Op::Cordon | Op::Uncordon => {
                let on = op == Op::Cordon;
                let node = api.get(&r.name).await?;
                if (node.data["spec"]["unschedulable"] == json!(true)) == on {
                    return Ok((format!("already {}ed", op.name()), None));
                }
                let obj = api
                    .patch(&r.name, &params, &Patch::Merge(&cordon_patch(on)))
                    .await?;
                let message = if on {
                    "cordoned: no new pods are scheduled on it"
                } else {
                    "uncordoned: new pods may be scheduled on it again"
                };
                Ok((message.into(), Some(obj.metadata)))
            }
            // Each has its own entry ([`Op::has_own_entry`]), which act refuses first.
            Op::Edit | Op::Create | Op::Shell | Op::PortForward | Op::Reveal | Op::Download => {
                Ok((format!("not changed: {} has its own way", op.name()), None))
            }
            Op::Scale(replicas) => {
                let before = api.get_scale(&r.name).await?;
                let from = before.spec.and_then(|s| s.replicas).unwrap_or(0);
                let patch = json!({"spec": {"replicas": replicas}});
                api.patch_scale(&r.name, &params, &Patch::Merge(&patch))
                    .await?;
                let message = match u32::try_from(from) {
                    Ok(from) if from == replicas => format!("already at {replicas} replicas"),
                    _ => format!("scaled from {from} to {replicas} replicas"),
                };
                Ok((message, Some(r.meta())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(group: &str, plural: &str, verbs: &[&str], subresources: &[&str]) -> ServedKind {
        ServedKind {
            group: group.into(),
            version: "v1".into(),
            kind: "K".into(),
            plural: plural.into(),
            singular: plural.trim_end_matches('s').into(),
            short_names: Vec::new(),
            namespaced: true,
            verbs: verbs.iter().map(|v| v.to_string()).collect(),
            subresources: subresources.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn each_action_takes_only_the_kinds_it_fits() {
        let deploy = kind("apps", "deployments", &["delete", "patch"], &["scale"]);
        let rs = kind("apps", "replicasets", &["delete", "patch"], &["scale"]);
        let node = kind("", "nodes", &["delete", "patch"], &[]);
        let events = kind("", "componentstatuses", &["get"], &[]);
        assert_eq!(Op::Restart.unfit(&deploy), None);
        assert!(Op::Restart.unfit(&rs).unwrap().contains("only Deployments"));
        assert_eq!(Op::Cordon.unfit(&node), None);
        assert!(Op::Uncordon.unfit(&deploy).unwrap().contains("only nodes"));
        assert_eq!(Op::Scale(2).unfit(&rs), None);
        assert!(Op::Scale(2).unfit(&node).is_some());
        assert!(Op::Delete.unfit(&events).unwrap().contains("no delete"));
        assert_eq!(Op::Delete.unfit(&node), None);
    }

    #[test]
    fn only_delete_asks_to_be_confirmed_and_permissions_name_the_subresource() {
        assert!(Op::Delete.needs_confirmation());
        assert!(!Op::Restart.needs_confirmation() && !Op::Scale(1).needs_confirmation());
        assert_eq!(Op::Scale(3).access(), ("patch", "scale"));
        assert_eq!(Op::Delete.access(), ("delete", ""));
    }

    #[test]
    fn uncordoning_removes_the_field_as_kubectl_does() {
        assert_eq!(cordon_patch(true), json!({"spec": {"unschedulable": true}}));
        assert_eq!(
            cordon_patch(false),
            json!({"spec": {"unschedulable": null}})
        );
    }
}
