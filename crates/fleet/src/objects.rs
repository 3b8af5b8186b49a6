//! Objects of any kind, read the way kubectl reads them: a list as the server's own Table
//! (`Accept: application/json;as=Table`, the columns `kubectl get` prints), and one
//! object as YAML. Secrets are never read beyond their metadata here.

use std::time::Duration;

use kube::api::{Api, DynamicObject};
use serde_json::Value;

use crate::config::ClusterRole;
use crate::engine::ops::ObjectRef;
use crate::failure;
use crate::inspect::{sanitize, yaml_lines};
use crate::kinds::{Catalog, ServedKind};
use crate::sources::live::LiveFleet;

/// Where `kubectl apply` keeps the object it applied.
pub(crate) const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// How long one read may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// The most rows one table holds: a list beyond it says it was cut (the pods pane is the
/// place for tens of thousands of pods).
pub const MAX_ROWS: usize = 2_000;

/// What kubectl asks for: a Table of v1, else the plain list.
const TABLE_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

/// A kind's objects in one cluster, as the server's Table shows them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObjectTable {
    /// The columns kubectl shows by default (priority 0), NAME first.
    pub columns: Vec<String>,
    pub rows: Vec<ObjectRow>,
    /// More objects exist than [`MAX_ROWS`].
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectRow {
    pub namespace: Option<String>,
    pub name: String,
    /// One per column, made safe to print.
    pub cells: Vec<String>,
    /// For label filters (`app=web`).
    pub labels: Vec<(String, String)>,
    /// What controls it (`J` goes there).
    pub owner: Option<crate::describe::Related>,
}

pub(crate) async fn client(
    live: &LiveFleet,
    env: &str,
    role: ClusterRole,
) -> Result<kube::Client, String> {
    live.kube_client(env, role)
        .await
        .ok_or_else(|| format!("no Kubernetes client for {env}-{role} (see its source status)"))
}

/// The API of `kind`'s objects, in `namespace` for a namespaced kind.
pub(crate) fn api_of(
    client: kube::Client,
    kind: &ServedKind,
    namespace: Option<&str>,
) -> Api<DynamicObject> {
    let resource = kind.api_resource();
    match namespace.filter(|_| kind.namespaced) {
        Some(ns) => Api::namespaced_with(client, ns, &resource),
        None => Api::all_with(client, &resource),
    }
}

pub(crate) async fn timed<T>(
    what: impl std::future::Future<Output = Result<T, kube::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(REQUEST_TIMEOUT, what).await {
        Ok(r) => r.map_err(|e| failure::of_kube(&e).sentence),
        Err(_) => Err(format!("no answer in {} s", REQUEST_TIMEOUT.as_secs())),
    }
}

/// The kinds the cluster serves.
pub async fn catalog(live: &LiveFleet, env: &str, role: ClusterRole) -> Result<Catalog, String> {
    Catalog::fetch(&client(live, env, role).await?).await
}

/// The objects of `kind` (in `namespace`, or all) as the server's Table.
pub async fn table(
    live: &LiveFleet,
    env: &str,
    role: ClusterRole,
    kind: &ServedKind,
    namespace: Option<&str>,
) -> Result<ObjectTable, String> {
    let client = client(live, env, role).await?;
    let mut url = match kind.group.as_str() {
        "" => format!("/api/{}", kind.version),
        g => format!("/apis/{g}/{}", kind.version),
    };
    if let Some(ns) = namespace.filter(|_| kind.namespaced) {
        url.push_str(&format!("/namespaces/{ns}"));
    }
    // Metadata only with each row: a Secret's values never travel for a list.
    url.push_str(&format!(
        "/{}?limit={MAX_ROWS}&includeObject=Metadata",
        kind.plural
    ));
    let request = http::Request::get(&url)
        .header(http::header::ACCEPT, TABLE_ACCEPT)
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    let answer: Value = timed(client.request(request)).await?;
    Ok(parse_table(&answer))
}

/// A Table answer, or a plain list from a server that serves no Table for the kind.
fn parse_table(answer: &Value) -> ObjectTable {
    let truncated = answer["metadata"]["continue"]
        .as_str()
        .is_some_and(|c| !c.is_empty());
    if answer["kind"] != "Table" {
        let rows = answer["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|item| row_of(&item["metadata"], vec![text(&item["metadata"]["name"])]))
            .collect();
        return ObjectTable {
            columns: vec!["Name".into()],
            rows,
            truncated,
        };
    }
    let definitions: Vec<&Value> = answer["columnDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let shown: Vec<usize> = (0..definitions.len())
        .filter(|i| definitions[*i]["priority"].as_i64().unwrap_or(0) == 0)
        .collect();
    let columns = shown
        .iter()
        .map(|i| text(&definitions[*i]["name"]))
        .collect();
    let rows = answer["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let cells = shown.iter().map(|i| text(&r["cells"][*i])).collect();
            row_of(&r["object"]["metadata"], cells)
        })
        .collect();
    ObjectTable {
        columns,
        rows,
        truncated,
    }
}

fn row_of(meta: &Value, cells: Vec<String>) -> ObjectRow {
    let labels = meta["labels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    ObjectRow {
        namespace: meta["namespace"].as_str().map(sanitize),
        name: sanitize(meta["name"].as_str().unwrap_or_default()),
        cells,
        labels,
        owner: crate::describe::owner_of(meta),
    }
}

/// A cell as kubectl prints it: strings as they are, numbers and booleans in JSON, and
/// nothing for null.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => sanitize(s),
        Value::Null => String::new(),
        other => sanitize(&other.to_string()),
    }
}

/// One object as YAML lines. A Secret shows its metadata alone: its values are not
/// fetched.
pub async fn yaml(
    live: &LiveFleet,
    env: &str,
    role: ClusterRole,
    kind: &ServedKind,
    namespace: Option<&str>,
    name: &str,
) -> Result<Vec<String>, String> {
    let api = api_of(client(live, env, role).await?, kind, namespace);
    if kind.is_secret() {
        return Ok(secret_lines(timed(api.get_metadata(name)).await?));
    }
    let object = timed(api.get(name)).await?;
    Ok(yaml_lines(&object))
}

/// A Secret as its metadata alone, without what `kubectl apply` keeps of the whole
/// applied object (values and all).
fn secret_lines(mut meta: kube::core::PartialObjectMeta<DynamicObject>) -> Vec<String> {
    if let Some(a) = meta.metadata.annotations.as_mut() {
        a.remove(LAST_APPLIED);
    }
    let mut lines = vec!["# a Secret: its metadata only; the values are not fetched".into()];
    lines.extend(yaml_lines(&meta));
    lines
}

/// One object as text to edit: YAML without `metadata.managedFields` (server
/// bookkeeping). Its resourceVersion stays, so that an edit of an object someone changed
/// meanwhile is a conflict, not an overwrite.
pub async fn for_edit(
    live: &LiveFleet,
    env: &str,
    role: ClusterRole,
    kind: &ServedKind,
    namespace: Option<&str>,
    name: &str,
) -> Result<String, String> {
    let api = api_of(client(live, env, role).await?, kind, namespace);
    let object = timed(api.get(name)).await?;
    edit_text(&serde_json::to_value(object).map_err(|e| e.to_string())?)
}

/// An object as the YAML text that is edited, managedFields left out.
pub fn edit_text(object: &Value) -> Result<String, String> {
    let mut object = object.clone();
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    serde_yaml_ng::to_string(&object).map_err(|e| e.to_string())
}

/// The edited text as an object; what is wrong with it, with its line, if it is none.
pub fn parse_edit(text: &str) -> Result<Value, String> {
    let value: Value = serde_yaml_ng::from_str(text).map_err(|e| match e.location() {
        Some(at) => format!("line {}, column {}: {e}", at.line(), at.column()),
        None => e.to_string(),
    })?;
    if !value.is_object() {
        return Err("the text is no object (a mapping with apiVersion, kind, metadata)".into());
    }
    Ok(value)
}

/// The changes made from `original` to `text` (as read, as edited), made again on the
/// object as it is now (`fresh`): a three-way merge, so that what someone else changed
/// meanwhile stays, and the edit is judged (and its diff shown) against what the server
/// holds now. Fails, saying why, when a change no longer fits (what it changed is gone).
pub fn rebase(original: &str, text: &str, fresh: &str) -> Result<String, String> {
    let (before, after) = (parse_edit(original)?, parse_edit(text)?);
    let mut now = parse_edit(fresh)?;
    let changes = json_patch::diff(&before, &after);
    json_patch::patch(&mut now, &changes)
        .map_err(|e| format!("your change does not fit the object as it is now ({e})"))?;
    serde_yaml_ng::to_string(&now).map_err(|e| e.to_string())
}

/// The text a new object of `kind` starts from: what every object needs, its name left
/// to fill in.
pub fn new_object_text(kind: &ServedKind, namespace: Option<&str>) -> String {
    let mut metadata = serde_json::Map::new();
    metadata.insert("name".into(), Value::String(String::new()));
    if let Some(ns) = namespace.filter(|_| kind.namespaced) {
        metadata.insert("namespace".into(), Value::String(ns.to_owned()));
    }
    let object = serde_json::json!({
        "apiVersion": kind.api_version(),
        "kind": kind.kind,
        "metadata": metadata,
    });
    let yaml = serde_yaml_ng::to_string(&object).unwrap_or_default();
    format!("# a new {}: name it, add what it needs\n{yaml}", kind.kind)
}

/// `object` (a kind, a cluster and a namespace) named as `value` names itself: its
/// `metadata.name`, and its `metadata.namespace` when it gives one.
pub fn named_by(object: &ObjectRef, value: &Value) -> ObjectRef {
    let meta = &value["metadata"];
    ObjectRef {
        name: meta["name"].as_str().unwrap_or_default().to_owned(),
        namespace: meta["namespace"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| object.namespace.clone()),
        ..object.clone()
    }
}

/// The editor the user chose: `$VISUAL`, else `$EDITOR` (with its arguments, such as
/// `code -w`); `None` when neither names one, and the console's own editor serves.
pub fn editor() -> Option<Vec<String>> {
    editor_of(["VISUAL", "EDITOR"].map(|v| std::env::var(v).ok()))
}

/// The editor command `$VISUAL` or else `$EDITOR` names, split into words; `None` when
/// both are unset or blank.
fn editor_of(vars: [Option<String>; 2]) -> Option<Vec<String>> {
    vars.into_iter()
        .flatten()
        .map(|e| e.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .find(|words| !words.is_empty())
}

/// A private file (0600, removed when dropped) holding `text`, for an editor to open.
pub fn edit_file(text: &str) -> std::io::Result<tempfile::NamedTempFile> {
    use std::io::Write;
    let mut file = tempfile::Builder::new()
        .prefix("ck8s-edit-")
        .suffix(".yaml")
        .tempfile()?;
    file.write_all(text.as_bytes())?;
    file.flush()?;
    Ok(file)
}

/// The lines that differ between two texts, with three lines of context around each
/// change: ` ` kept, `-` removed, `+` added; `@@` starts a hunk. Empty when equal.
pub fn diff(before: &str, after: &str) -> Vec<String> {
    let diff = similar::TextDiff::from_lines(before, after);
    let mut lines = Vec::new();
    for group in diff.grouped_ops(3) {
        lines.push("@@".to_owned());
        for op in group {
            for change in diff.iter_changes(&op) {
                let sign = match change.tag() {
                    similar::ChangeTag::Equal => ' ',
                    similar::ChangeTag::Delete => '-',
                    similar::ChangeTag::Insert => '+',
                };
                let text = change.value().trim_end_matches('\n');
                lines.push(format!("{sign}{}", sanitize(text)));
            }
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_object_starts_from_its_kind_and_is_named_by_its_text() {
        let kind = ServedKind {
            group: "apps".into(),
            version: "v1".into(),
            kind: "Deployment".into(),
            plural: "deployments".into(),
            singular: "deployment".into(),
            short_names: Vec::new(),
            namespaced: true,
            verbs: vec!["create".into()],
            subresources: Vec::new(),
        };
        let text = new_object_text(&kind, Some("shop"));
        let value = parse_edit(&text).unwrap();
        assert_eq!(value["apiVersion"], "apps/v1");
        assert_eq!(value["kind"], "Deployment");
        assert_eq!(value["metadata"]["namespace"], "shop");
        assert_eq!(value["metadata"]["name"], "");
        let place = ObjectRef {
            env: "acme".into(),
            role: ClusterRole::Wc,
            kind: "deployments.apps".into(),
            namespace: Some("shop".into()),
            name: String::new(),
        };
        let named = named_by(&place, &serde_json::json!({"metadata": {"name": "web"}}));
        assert_eq!(
            (named.name.as_str(), named.namespace.as_deref()),
            ("web", Some("shop"))
        );
        let elsewhere = serde_json::json!({"metadata": {"name": "web", "namespace": "ops"}});
        assert_eq!(
            named_by(&place, &elsewhere).namespace.as_deref(),
            Some("ops")
        );
    }

    #[test]
    fn the_editor_is_visual_else_editor_else_none() {
        let of = |v: Option<&str>, e: Option<&str>| editor_of([v, e].map(|x| x.map(String::from)));
        assert_eq!(
            of(Some("code -w"), Some("vim")),
            Some(vec!["code".into(), "-w".into()])
        );
        assert_eq!(of(None, Some("nano")), Some(vec!["nano".into()]));
        assert_eq!(
            of(Some("  "), Some("nano")),
            Some(vec!["nano".into()]),
            "blank is unset"
        );
        assert_eq!(of(None, None), None);
        assert_eq!(of(Some(""), Some("")), None);
    }
    use serde_json::json;

    #[test]
    fn a_table_keeps_the_default_columns_and_names_each_row() {
        let answer = json!({
            "kind": "Table", "apiVersion": "meta.k8s.io/v1",
            "metadata": {"continue": "abc"},
            "columnDefinitions": [
                {"name": "Name", "type": "string", "priority": 0},
                {"name": "Ready", "type": "string", "priority": 0},
                {"name": "Containers", "type": "string", "priority": 1},
                {"name": "Age", "type": "string", "priority": 0},
            ],
            "rows": [{"cells": ["web", "2/2", "nginx", "3d"],
                      "object": {"metadata": {"name": "web", "namespace": "prod", "labels": {"app": "web"}}}},
                     {"cells": ["api\u{1b}[2J", 3, null, "1h"],
                      "object": {"metadata": {"name": "api", "namespace": "prod"}}}],
        });
        let t = parse_table(&answer);
        assert_eq!(t.columns, ["Name", "Ready", "Age"]);
        assert!(t.truncated);
        assert_eq!(t.rows[0].cells, ["web", "2/2", "3d"]);
        assert_eq!(t.rows[0].namespace.as_deref(), Some("prod"));
        assert_eq!(t.rows[0].labels, [("app".to_string(), "web".to_string())]);
        assert_eq!(
            t.rows[1].cells,
            ["api", "3", "1h"],
            "made safe, numbers as text"
        );
    }

    #[test]
    fn a_secret_shows_no_value_even_where_kubectl_apply_kept_one() {
        let meta: kube::core::PartialObjectMeta<DynamicObject> = serde_json::from_value(json!({
            "apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
            "metadata": {"name": "db", "namespace": "prod", "annotations": {
                LAST_APPLIED: "{\"data\":{\"password\":\"aHVudGVyMg==\"}}",
                "owner": "team-a"}},
        }))
        .unwrap();
        let text = secret_lines(meta).join("\n");
        assert!(!text.contains("aHVudGVyMg"), "{text}");
        assert!(!text.contains("last-applied"), "{text}");
        assert!(text.contains("owner: team-a"), "{text}");
    }

    #[test]
    fn an_edit_diff_shows_what_changes_with_context_and_nothing_when_equal() {
        let before = "a: 1\nb: 2\nc: 3\nd: 4\ne: 5\nf: 6\ng: 7\nh: 8\n";
        let after = before.replace("b: 2", "b: 3");
        let d = diff(before, &after);
        assert_eq!(d[0], "@@");
        assert!(
            d.contains(&"-b: 2".to_string()) && d.contains(&"+b: 3".to_string()),
            "{d:?}"
        );
        assert!(
            !d.contains(&" h: 8".to_string()),
            "only three lines of context: {d:?}"
        );
        assert!(diff(before, before).is_empty());
    }

    #[test]
    fn edited_text_parses_or_says_where_it_is_wrong() {
        let object = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "managedFields": [{"manager": "x"}], "resourceVersion": "7"}});
        let text = edit_text(&object).unwrap();
        assert!(
            !text.contains("managedFields") && text.contains("resourceVersion"),
            "{text}"
        );
        assert_eq!(parse_edit(&text).unwrap()["metadata"]["name"], "a");
        let e = parse_edit("kind: [unclosed\n").unwrap_err();
        assert!(e.starts_with("line "), "{e}");
        assert!(parse_edit("- a\n").unwrap_err().contains("no object"));
    }

    #[test]
    fn a_kept_edit_is_made_again_on_the_current_version_keeping_what_others_changed() {
        let read = "metadata:\n  name: a\n  resourceVersion: '7'\ndata:\n  k: old\n  x: '1'\n";
        let kept = "metadata:\n  name: a\n  resourceVersion: '7'\ndata:\n  k: mine\n  x: '1'\n";
        let fresh = "metadata:\n  name: a\n  resourceVersion: '9'\ndata:\n  k: old\n  x: '2'\n";
        let moved = parse_edit(&rebase(read, kept, fresh).unwrap()).unwrap();
        assert_eq!(moved["metadata"]["resourceVersion"], "9");
        assert_eq!(moved["data"]["k"], "mine", "the edit is made again");
        assert_eq!(moved["data"]["x"], "2", "what someone else changed stays");
        assert!(
            rebase(read, "a: [", fresh).is_err(),
            "a broken text cannot be moved"
        );
        let gone = "metadata:\n  name: a\n  resourceVersion: '9'\n";
        let removed = read.replace("  x: '1'\n", "");
        assert!(
            rebase(read, &removed, gone).is_err(),
            "what it removed is gone"
        );
    }

    #[test]
    fn a_plain_list_is_read_when_the_server_has_no_table() {
        let answer = json!({"kind": "ThingList", "items": [{"metadata": {"name": "a"}}]});
        let t = parse_table(&answer);
        assert_eq!(t.columns, ["Name"]);
        assert_eq!(t.rows[0].name, "a");
        assert_eq!(t.rows[0].namespace, None);
        assert!(!t.truncated);
    }
}
