//! Discovery documents: what kubectl and kube-rs read to learn which resources exist.

use serde_json::{Value, json};

use crate::registry::{KINDS, Kind, Sub, groups};

fn resource_entry(k: &Kind) -> Value {
    let mut e = json!({
        "name": k.plural,
        "singularName": k.singular,
        "namespaced": k.namespaced,
        "kind": k.kind,
        "verbs": k.verbs(),
    });
    if !k.short_names.is_empty() {
        e["shortNames"] = json!(k.short_names);
    }
    if k.in_all {
        e["categories"] = json!(["all"]);
    }
    e
}

fn subresource_entry(k: &Kind, sub: Sub) -> Value {
    let (group, version, kind, verbs): (Option<&str>, Option<&str>, &str, &[&str]) = match sub {
        Sub::Status => (None, None, k.kind, &["get", "patch", "update"]),
        Sub::Scale => (
            Some("autoscaling"),
            Some("v1"),
            "Scale",
            &["get", "patch", "update"],
        ),
        Sub::Log => (None, None, k.kind, &["get"]),
        Sub::Eviction => (Some("policy"), Some("v1"), "Eviction", &["create"]),
        Sub::Exec => (None, None, "PodExecOptions", &["create", "get"]),
        Sub::Attach => (None, None, "PodAttachOptions", &["create", "get"]),
        Sub::PortForward => (None, None, "PodPortForwardOptions", &["create", "get"]),
    };
    let mut e = json!({
        "name": format!("{}/{}", k.plural, sub.name()),
        "singularName": "",
        "namespaced": k.namespaced,
        "kind": kind,
        "verbs": verbs,
    });
    if let (Some(g), Some(v)) = (group, version) {
        e["group"] = json!(g);
        e["version"] = json!(v);
    }
    e
}

/// `APIResourceList` for one group version (`""` is core).
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let kinds: Vec<&Kind> = KINDS
        .iter()
        .filter(|k| k.group == group && k.version == version)
        .collect();
    if kinds.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for k in kinds {
        resources.push(resource_entry(k));
        resources.extend(k.subresources.iter().map(|s| subresource_entry(k, *s)));
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": resources,
    }))
}

pub fn group_list() -> Value {
    let groups: Vec<Value> = groups()
        .into_iter()
        .map(|(g, v)| {
            let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
            json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

/// `/version` for a cluster running `git_version` (e.g. `v1.33.4`).
pub fn version(git_version: &str) -> Value {
    let mut parts = git_version.trim_start_matches('v').split('.');
    let major = parts.next().unwrap_or("1");
    let minor = parts.next().unwrap_or("0");
    json!({
        "major": major,
        "minor": minor,
        "gitVersion": git_version,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.24.5",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_list_has_pods_with_subresources_and_short_names() {
        let l = resource_list("", "v1").unwrap();
        let names: Vec<&str> = l["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        for n in [
            "pods",
            "pods/log",
            "pods/eviction",
            "pods/status",
            "nodes",
            "namespaces",
            "secrets",
        ] {
            assert!(names.contains(&n), "{n} missing");
        }
        let pods = &l["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "pods")
            .unwrap();
        assert_eq!(pods["shortNames"], json!(["po"]));
        let ev = l["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "pods/eviction")
            .unwrap();
        assert_eq!(
            (ev["group"].as_str(), ev["kind"].as_str()),
            (Some("policy"), Some("Eviction"))
        );
    }

    #[test]
    fn groups_include_velero_and_capi() {
        let g = group_list();
        let names: Vec<&str> = g["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap())
            .collect();
        assert!(
            names.contains(&"velero.io")
                && names.contains(&"cluster.x-k8s.io")
                && names.contains(&"apps")
        );
        assert!(resource_list("nope", "v1").is_none());
    }

    #[test]
    fn version_splits_major_minor() {
        let v = version("v1.33.4");
        assert_eq!(
            (v["major"].as_str(), v["minor"].as_str()),
            (Some("1"), Some("33"))
        );
    }
}
