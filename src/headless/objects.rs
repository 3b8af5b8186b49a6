//! The small actions from the command line: `create`, `delete`, `restart`, `scale`,
//! `cordon` and `uncordon`. The engine gates them exactly as it gates the console's keys; this module
//! only turns words into objects and outcomes into a report.

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::output::{self, Cell, TextTable, Tone};
use super::runs::{engine, print_or_warn};
use crate::cli::{CreateArgs, NodeArgs, ObjectArgs, ObjectPlace, OutputFormat};
use crate::config::{ClusterRole, Fleet};
use crate::engine::ops::{ObjectRef, Op, OpOutcome};
use crate::engine::readiness::{READ_EVERY, RolloutEnd};
use crate::engine::{EngineError, Mode};
use crate::exit;
use crate::paths::Paths;

/// The `objects` document: the action and what it did to each object.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ObjectsReport {
    /// `create`, `delete`, `restart`, `scale`, `cordon` or `uncordon`.
    pub action: String,
    /// The replicas asked for, for `scale`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    pub items: Vec<OpOutcome>,
}

/// What to do, to which objects, confirmed or not.
pub struct Request {
    pub op: Op,
    pub objects: Vec<ObjectRef>,
    pub confirmed: bool,
    pub output: Option<OutputFormat>,
    /// After the action, wait this long at most for each object's rollout to be done.
    pub wait: Option<std::time::Duration>,
}

impl Request {
    /// `delete`, `restart` and `scale`: a kind and names, or KIND/NAME words.
    pub fn of_objects(op: Op, args: &ObjectArgs, confirmed: bool) -> Result<Request, EngineError> {
        let place = &args.place;
        let objects = parse_objects(&args.objects)?
            .into_iter()
            .map(|(kind, name)| object(place, kind, args.namespace.clone(), name))
            .collect();
        Ok(Request {
            op,
            objects,
            confirmed,
            output: place.output,
            wait: None,
        })
    }

    /// The same, waiting up to `patience` for the rollouts it starts.
    pub fn waiting(self, patience: Option<std::time::Duration>) -> Request {
        Request {
            wait: patience,
            ..self
        }
    }

    /// `cordon` and `uncordon`.
    pub fn of_nodes(op: Op, args: &NodeArgs) -> Request {
        let objects = args
            .nodes
            .iter()
            .map(|n| object(&args.place, "nodes".into(), None, n.clone()))
            .collect();
        Request {
            op,
            objects,
            confirmed: false,
            output: args.place.output,
            wait: None,
        }
    }
}

fn object(place: &ObjectPlace, kind: String, namespace: Option<String>, name: String) -> ObjectRef {
    ObjectRef {
        env: place.env.clone(),
        role: ClusterRole::from(place.cluster),
        kind,
        namespace,
        name,
    }
}

/// `deploy web api` or `deploy/web pod/x`, as kubectl reads them: (kind, name) pairs.
pub fn parse_objects(words: &[String]) -> Result<Vec<(String, String)>, EngineError> {
    let usage = |why: String| {
        EngineError::Usage(format!(
            "{why}: name the objects as KIND NAME... (`deploy web api`) or KIND/NAME... \
             (`deploy/web pod/web-1`)"
        ))
    };
    let Some(first) = words.first() else {
        return Err(usage("no objects".into()));
    };
    if first.contains('/') {
        return words
            .iter()
            .map(|w| match w.split_once('/') {
                Some((k, n)) if !k.is_empty() && !n.is_empty() && !n.contains('/') => {
                    Ok((k.to_owned(), n.to_owned()))
                }
                _ => Err(usage(format!("`{w}` is not KIND/NAME"))),
            })
            .collect();
    }
    if words.len() < 2 {
        return Err(usage(format!("which `{first}`? No name was given")));
    }
    if let Some(w) = words[1..].iter().find(|w| w.contains('/')) {
        return Err(usage(format!(
            "`{w}` mixes KIND/NAME with a kind given first"
        )));
    }
    Ok(words[1..]
        .iter()
        .map(|n| (first.clone(), n.clone()))
        .collect())
}

/// Runs the action and prints what it did. Exit 0 when every object took it, 1 when one
/// did not, and the engine's codes when the gate refused (nothing was changed then).
pub async fn run(
    request: Result<Request, EngineError>,
    fleet: Fleet,
    paths: &Paths,
    mode: Mode,
) -> i32 {
    let request = match request {
        Ok(r) => r,
        Err(e) => {
            note!("error: {e}");
            return e.exit_code();
        }
    };
    let format = request.output.unwrap_or_else(output::default_format);
    if format == OutputFormat::Openmetrics {
        note!("error: `-o openmetrics` is for the status, slo and backups reports");
        return exit::USAGE;
    }
    let engine = engine(fleet, paths, mode);
    let result = engine
        .act(request.op, &request.objects, request.confirmed)
        .await;
    // The audit records are on disk; let their anchors reach the cluster too.
    engine.settle().await;
    let items = match result {
        Ok(items) => items,
        Err(e) => {
            note!("error: {e}");
            return e.exit_code();
        }
    };
    let mut items = items;
    if let Some(patience) = request.wait {
        for (item, object) in items.iter_mut().zip(&request.objects) {
            if item.ok {
                wait_for(&engine, item, object, patience).await;
            }
        }
    }
    let failed = items.iter().any(|o| !o.ok);
    let report = ObjectsReport {
        action: request.op.name().into(),
        replicas: match request.op {
            Op::Scale(n) => Some(n),
            _ => None,
        },
        items,
    };
    let printed = print_or_warn(formatted(format, &report));
    match (printed, failed) {
        (true, false) => exit::OK,
        _ => exit::FAILURE,
    }
}

/// `create -f`: each object of the manifest created through the engine's gate, in
/// order. A refusal of the gate (read-only, permission, a run's lock) stops there with
/// its code; an object the server will not take (it exists, it is invalid) is reported
/// and the rest go on, as with kubectl.
pub async fn create(args: &CreateArgs, fleet: Fleet, paths: &Paths, mode: Mode) -> i32 {
    let format = args.place.output.unwrap_or_else(output::default_format);
    if format == OutputFormat::Openmetrics {
        note!("error: `-o openmetrics` is for the status, slo and backups reports");
        return exit::USAGE;
    }
    let documents = match read_manifest(&args.filename).and_then(|t| manifest_objects(&t)) {
        Ok(d) => d,
        Err(e) => {
            note!("error: {}: {e}", args.filename.display());
            return exit::USAGE;
        }
    };
    let engine = engine(fleet, paths, mode);
    if let Err(e) = engine.known_env(&args.place.env) {
        note!("error: {e}");
        return e.exit_code();
    }
    let mut items = Vec::new();
    for (value, kind, name) in documents {
        // The manifest's namespace, else -n, else `default`, as kubectl takes it.
        let named = value["metadata"]["namespace"].as_str().map(str::to_owned);
        let namespace = named
            .clone()
            .or_else(|| args.namespace.clone())
            .unwrap_or_else(|| "default".into());
        let object = object(&args.place, kind, Some(namespace), name);
        // As given: a cluster-scoped object's manifest names no namespace.
        let given = named.clone().or_else(|| args.namespace.clone());
        let kind = engine
            .qualified_kind(&object)
            .await
            .unwrap_or_else(|_| object.kind.clone());
        let outcome = |ok: bool, message: String| OpOutcome {
            env: object.env.clone(),
            cluster: object.role,
            kind: kind.clone(),
            namespace: given.clone(),
            name: object.name.clone(),
            ok,
            message,
        };
        if let (Some(named), Some(asked)) = (&named, &args.namespace)
            && named != asked
        {
            items.push(outcome(
                false,
                format!(
                    "the manifest's namespace {named:?} is not the one asked for ({asked:?}): \
                     pass -n {named}, or leave the namespace out of the manifest"
                ),
            ));
            continue;
        }
        match engine.create(&object, value.clone(), args.dry_run).await {
            Ok(stored) => items.push(OpOutcome {
                namespace: stored["metadata"]["namespace"].as_str().map(str::to_owned),
                ..outcome(
                    true,
                    if args.dry_run {
                        "would be created (the server's dry run)".into()
                    } else {
                        "created".into()
                    },
                )
            }),
            // The gate's refusals hold for the rest too.
            Err(
                e @ (EngineError::ReadOnly(_)
                | EngineError::Forbidden(_)
                | EngineError::Locked(_)
                | EngineError::Denied(_)),
            ) => {
                // What was made before is reported with the refusal, which stops the rest.
                engine.settle().await;
                note!("error: {e}");
                if !items.is_empty() {
                    items.push(outcome(false, e.to_string()));
                    let report = ObjectsReport {
                        action: "create".into(),
                        replicas: None,
                        items,
                    };
                    print_or_warn(formatted(format, &report));
                }
                return e.exit_code();
            }
            Err(e) => items.push(outcome(false, e.to_string())),
        }
    }
    engine.settle().await;
    let failed = items.iter().any(|o| !o.ok);
    let report = ObjectsReport {
        action: "create".into(),
        replicas: None,
        items,
    };
    match (print_or_warn(formatted(format, &report)), failed) {
        (true, false) => exit::OK,
        _ => exit::FAILURE,
    }
}

fn read_manifest(path: &std::path::Path) -> Result<String, String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| format!("reading stdin: {e}"))?;
        return Ok(text);
    }
    std::fs::read_to_string(path).map_err(|e| e.to_string())
}

/// The objects of a manifest, each with the kind (as the engine resolves it:
/// `deployment.apps`) and name it gives; empty documents are skipped. What is missing
/// or malformed is named with the document's number.
pub fn manifest_objects(text: &str) -> Result<Vec<(serde_json::Value, String, String)>, String> {
    let mut out = Vec::new();
    for (i, doc) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let n = i + 1;
        let value = serde_json::Value::deserialize(doc)
            .map_err(|e| format!("document {n} is not YAML or JSON: {e}"))?;
        if value.is_null() {
            continue;
        }
        let field = |path: &str, v: &serde_json::Value| -> Result<String, String> {
            v.as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| format!("document {n} has no {path}"))
        };
        let api_version = field("apiVersion", &value["apiVersion"])?;
        let kind = field("kind", &value["kind"])?;
        if kind == "List" || (kind.ends_with("List") && value["items"].is_array()) {
            return Err(format!(
                "document {n} is a {kind}; give its items as documents of their own"
            ));
        }
        let name = field("metadata.name", &value["metadata"]["name"]).map_err(|e| {
            if value["metadata"]["generateName"].is_string() {
                format!("{e} (metadata.generateName is not supported: name it)")
            } else {
                e
            }
        })?;
        let kind = match api_version.split_once('/') {
            Some((group, _)) => format!("{}.{group}", kind.to_lowercase()),
            None => kind.to_lowercase(),
        };
        out.push((value, kind, name));
    }
    if out.is_empty() {
        return Err("no object in it".into());
    }
    Ok(out)
}

/// Waits for `object`'s rollout, saying on stderr how it goes, and adds the end to
/// `item`: not done in time (or not readable) makes it a failure.
async fn wait_for(
    engine: &crate::engine::Engine,
    item: &mut OpOutcome,
    object: &ObjectRef,
    patience: std::time::Duration,
) {
    let label = item.object();
    let waited = engine
        .wait_ready(object, patience, READ_EVERY, |r| {
            note!("{label}: {}", r.summary())
        })
        .await;
    match RolloutEnd::of(waited, patience) {
        Some(end) => {
            item.ok = end.rolled_out;
            item.message.push_str(&format!("; {}", end.said));
        }
        None => item.message.push_str("; no rollout to wait for"),
    }
}

fn formatted(format: OutputFormat, report: &ObjectsReport) -> anyhow::Result<String> {
    let doc = output::Doc {
        report: "objects",
        generated_at: Utc::now(),
        body: report,
        errors: &[],
    };
    let names = || {
        report
            .items
            .iter()
            .filter(|o| o.ok)
            .map(|o| format!("{}/{}", o.kind, o.name))
            .collect()
    };
    output::format(format, doc, || table(report), names)
}

fn table(report: &ObjectsReport) -> String {
    let mut t = TextTable::new(&["CLUSTER", "KIND", "NAMESPACE", "NAME", "RESULT"]);
    for o in &report.items {
        let tone = if o.ok { Tone::Good } else { Tone::Bad };
        t.row(vec![
            format!("{}-{}", o.env, o.cluster).into(),
            o.kind.as_str().into(),
            o.namespace.as_deref().unwrap_or("-").into(),
            o.name.as_str().into(),
            Cell::new(o.message.as_str(), tone),
        ]);
    }
    let mut out = String::new();
    t.render(&mut out, output::use_colour());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn objects_are_read_as_kubectl_reads_them() {
        let pairs = |w: &[&str]| parse_objects(&words(w)).unwrap();
        assert_eq!(
            pairs(&["deploy", "web", "api"]),
            [
                ("deploy".into(), "web".into()),
                ("deploy".into(), "api".into())
            ]
        );
        assert_eq!(
            pairs(&["deploy/web", "pod/web-1"]),
            [
                ("deploy".into(), "web".into()),
                ("pod".into(), "web-1".into())
            ]
        );
    }

    #[test]
    fn malformed_objects_are_input_errors_that_say_the_forms() {
        for bad in [
            &["deploy"][..],
            &["deploy/web", "api"],
            &["deploy", "pod/x"],
            &["deploy/"],
            &["/web"],
            &["a/b/c"],
        ] {
            let e = parse_objects(&words(bad)).unwrap_err();
            assert_eq!(e.exit_code(), exit::USAGE, "{bad:?}");
            assert!(e.to_string().contains("KIND/NAME"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn a_manifest_is_read_document_by_document() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n---\n\
                    ---\n{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"cfg\", \"namespace\": \"x\"}}\n";
        let objects = manifest_objects(text).unwrap();
        let names: Vec<(&str, &str)> = objects
            .iter()
            .map(|(_, k, n)| (k.as_str(), n.as_str()))
            .collect();
        assert_eq!(names, [("deployment.apps", "web"), ("configmap", "cfg")]);
        // A custom kind whose name ends in List is no list of objects.
        let allow = "apiVersion: policy.example.com/v1\nkind: AllowList\nmetadata: {name: a}\n";
        assert_eq!(
            manifest_objects(allow).unwrap()[0].1,
            "allowlist.policy.example.com"
        );
        for (bad, why) in [
            (
                "kind: ConfigMap\nmetadata: {name: a}",
                "document 1 has no apiVersion",
            ),
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: a-}",
                "generateName is not supported",
            ),
            (
                "apiVersion: v1\nkind: List\nitems: []",
                "document 1 is a List",
            ),
            (
                "apiVersion: v1\nkind: PodList\nitems: []",
                "document 1 is a PodList",
            ),
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n: : :",
                "document 2 is not YAML",
            ),
            ("", "no object in it"),
        ] {
            let e = manifest_objects(bad).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }

    #[test]
    fn the_table_says_what_happened_to_each_object() {
        let report = ObjectsReport {
            action: "delete".into(),
            replicas: None,
            items: vec![OpOutcome {
                env: "acme".into(),
                cluster: ClusterRole::Wc,
                kind: "pods".into(),
                namespace: Some("production".into()),
                name: "web-1".into(),
                ok: true,
                message: "terminating".into(),
            }],
        };
        let text = table(&report);
        assert!(text.starts_with("CLUSTER"), "{text}");
        assert!(
            text.contains("acme-wc  pods  production  web-1  terminating"),
            "{text}"
        );
    }
}
