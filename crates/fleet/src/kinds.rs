//! The resource kinds a cluster serves, found through discovery, and named the way kubectl
//! names them: by plural (`deployments`), singular (`deployment`), short name (`deploy`) or
//! Kind (`Deployment`), optionally qualified by group (`backups.velero.io`) or by version
//! and group (`deployments.v1.apps`). CRDs are found like built-in kinds.

use std::time::Duration;

use kube::discovery::ApiResource;

use ck8s_model::format::closest;

/// How long discovery may take.
pub const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(15);

/// One kind as the cluster serves it, in its group's preferred version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedKind {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub short_names: Vec<String>,
    pub namespaced: bool,
    pub verbs: Vec<String>,
    /// The subresources served (`scale`, `status`, `log`, `eviction`, ...).
    pub subresources: Vec<String>,
}

impl ServedKind {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn api_resource(&self) -> ApiResource {
        ApiResource {
            group: self.group.clone(),
            version: self.version.clone(),
            api_version: self.api_version(),
            kind: self.kind.clone(),
            plural: self.plural.clone(),
        }
    }

    /// `deployments.apps`, or `pods` for the core group: the name kubectl prints.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// A core Secret: its values are never read beyond metadata, shown or edited here.
    pub fn is_secret(&self) -> bool {
        self.group.is_empty() && self.plural == "secrets"
    }

    pub fn serves(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }

    pub fn has_subresource(&self, name: &str) -> bool {
        self.subresources.iter().any(|s| s == name)
    }

    /// Whether `name` (lower case, unqualified) names this kind.
    fn is_named(&self, name: &str) -> bool {
        self.plural == name
            || self.singular == name
            || self.kind.eq_ignore_ascii_case(name)
            || self.short_names.iter().any(|s| s == name)
    }

    /// Whether `qualifier` (after the first dot) fits the group, or `version.group`.
    fn in_group(&self, qualifier: &str) -> bool {
        qualifier == self.group || qualifier == format!("{}.{}", self.version, self.group)
    }
}

/// A name that names no kind the cluster serves.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the server has no resource kind `{name}`{}; `kubectl api-resources` lists them", .nearest.as_ref().map(|n| format!(" (did you mean `{n}`?)")).unwrap_or_default())]
pub struct UnknownKind {
    pub name: String,
    pub nearest: Option<String>,
}

/// Every kind a cluster serves: the core group first, then the groups in the order the
/// server lists them, as kubectl resolves an ambiguous name.
#[derive(Debug, Clone, Default)]
pub struct Catalog(Vec<ServedKind>);

impl Catalog {
    pub fn new(kinds: Vec<ServedKind>) -> Catalog {
        Catalog(kinds)
    }

    /// [`Catalog::discover`] within [`DISCOVERY_TIMEOUT`], its failure in words.
    pub async fn fetch(client: &kube::Client) -> Result<Catalog, String> {
        match tokio::time::timeout(DISCOVERY_TIMEOUT, Catalog::discover(client)).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(format!(
                "discovery failed, so the kinds it serves are unknown: {}",
                crate::failure::of_kube(&e).sentence
            )),
            Err(_) => Err(format!(
                "discovery had no answer in {} s",
                DISCOVERY_TIMEOUT.as_secs()
            )),
        }
    }

    /// Asks the API server: `/api/v1`, `/apis`, then each group's preferred version, all
    /// groups at once. A group that does not answer (an aggregated API whose service is
    /// down, as metrics-server often is) is left out, as kubectl leaves it out with a
    /// warning: its kinds are unknown until it answers.
    pub async fn discover(client: &kube::Client) -> Result<Catalog, kube::Error> {
        let core = client.list_core_api_resources("v1").await?;
        let groups = client.list_api_groups().await?;
        let versions: Vec<String> = groups
            .groups
            .iter()
            .filter_map(|g| {
                g.preferred_version
                    .as_ref()
                    .or(g.versions.first())
                    .map(|v| v.group_version.clone())
            })
            .collect();
        let lists = futures::future::join_all(
            versions
                .iter()
                .map(|gv| client.list_api_group_resources(gv)),
        )
        .await;
        let mut kinds = kinds_of("", "v1", &core);
        for (gv, list) in versions.iter().zip(lists) {
            let (group, version) = gv.split_once('/').unwrap_or(("", gv));
            match list {
                Ok(list) => kinds.extend(kinds_of(group, version, &list)),
                Err(e) => {
                    tracing::warn!(group_version = %gv, error = %e, "discovery of a group failed; its kinds are left out")
                }
            }
        }
        Ok(Catalog(kinds))
    }

    /// The kind `name` names, as kubectl would pick it.
    pub fn resolve(&self, name: &str) -> Result<&ServedKind, UnknownKind> {
        let wanted = name.trim().to_lowercase();
        let found = self.0.iter().find(|k| k.is_named(&wanted)).or_else(|| {
            let (resource, qualifier) = wanted.split_once('.')?;
            self.0
                .iter()
                .find(|k| k.is_named(resource) && k.in_group(qualifier))
        });
        found.ok_or_else(|| UnknownKind {
            name: name.to_owned(),
            nearest: closest(&wanted, self.names()).map(str::to_owned),
        })
    }

    /// Every name a kind answers to, for completion and suggestions.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().flat_map(|k| {
            [k.plural.as_str(), k.singular.as_str()]
                .into_iter()
                .chain(k.short_names.iter().map(String::as_str))
                .filter(|n| !n.is_empty())
        })
    }

    pub fn kinds(&self) -> &[ServedKind] {
        &self.0
    }
}

/// The kinds of one group version's resource list; subresources (`deployments/scale`) are
/// attached to their kind.
fn kinds_of(
    group: &str,
    version: &str,
    list: &k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResourceList,
) -> Vec<ServedKind> {
    let mut kinds: Vec<ServedKind> = list
        .resources
        .iter()
        .filter(|r| !r.name.contains('/'))
        .map(|r| ServedKind {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: r.kind.clone(),
            plural: r.name.clone(),
            // Servers before 1.27 leave the singular empty; kubectl then uses the Kind.
            singular: if r.singular_name.is_empty() {
                r.kind.to_lowercase()
            } else {
                r.singular_name.clone()
            },
            short_names: r.short_names.clone().unwrap_or_default(),
            namespaced: r.namespaced,
            verbs: r.verbs.clone(),
            subresources: Vec::new(),
        })
        .collect();
    for r in &list.resources {
        if let Some((parent, sub)) = r.name.split_once('/')
            && let Some(k) = kinds.iter_mut().find(|k| k.plural == parent)
        {
            k.subresources.push(sub.to_owned());
        }
    }
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(group: &str, kind: &str, plural: &str, short: &[&str]) -> ServedKind {
        ServedKind {
            group: group.into(),
            version: "v1".into(),
            kind: kind.into(),
            plural: plural.into(),
            singular: kind.to_lowercase(),
            short_names: short.iter().map(|s| s.to_string()).collect(),
            namespaced: true,
            verbs: vec!["get".into(), "list".into()],
            subresources: Vec::new(),
        }
    }

    fn catalog() -> Catalog {
        Catalog::new(vec![
            kind("", "Event", "events", &["ev"]),
            kind("apps", "Deployment", "deployments", &["deploy"]),
            kind("events.k8s.io", "Event", "events", &[]),
            kind("velero.io", "Backup", "backups", &[]),
        ])
    }

    #[test]
    fn kinds_are_found_by_every_name_kubectl_takes() {
        let c = catalog();
        for name in [
            "deploy",
            "deployment",
            "deployments",
            "Deployment",
            "DEPLOY",
            "deployments.apps",
            "deploy.apps",
            "deployments.v1.apps",
        ] {
            assert_eq!(
                c.resolve(name).unwrap().qualified(),
                "deployments.apps",
                "{name}"
            );
        }
        assert_eq!(c.resolve("backups.velero.io").unwrap().group, "velero.io");
        assert_eq!(c.resolve("backup").unwrap().kind, "Backup");
    }

    #[test]
    fn an_ambiguous_name_picks_the_core_group_unless_qualified() {
        let c = catalog();
        assert_eq!(c.resolve("events").unwrap().group, "");
        assert_eq!(
            c.resolve("events.events.k8s.io").unwrap().group,
            "events.k8s.io"
        );
    }

    #[test]
    fn an_unknown_name_suggests_the_nearest_and_a_wrong_group_is_unknown() {
        let c = catalog();
        let e = c.resolve("deplyo").unwrap_err();
        assert_eq!(e.nearest.as_deref(), Some("deploy"));
        assert!(e.to_string().contains("did you mean `deploy`?"), "{e}");
        assert!(c.resolve("deployments.batch").is_err());
        assert!(c.resolve("").is_err());
    }

    #[test]
    fn subresources_attach_to_their_kind() {
        let list = serde_json::from_value(serde_json::json!({
            "groupVersion": "apps/v1",
            "resources": [
                {"name": "deployments", "singularName": "", "namespaced": true, "kind": "Deployment",
                 "verbs": ["get", "patch"], "shortNames": ["deploy"]},
                {"name": "deployments/scale", "singularName": "", "namespaced": true,
                 "kind": "Scale", "verbs": ["get", "patch"]},
            ]
        }))
        .unwrap();
        let kinds = kinds_of("apps", "v1", &list);
        assert_eq!(kinds.len(), 1);
        assert!(kinds[0].has_subresource("scale"));
        assert_eq!(kinds[0].singular, "deployment", "from the Kind when empty");
        assert!(kinds[0].serves("patch") && !kinds[0].serves("delete"));
    }
}
