//! The three roles a simulated cluster's tokens carry, as RBAC rules.

use serde_json::{Value, json};

use crate::cluster::Role;
use crate::registry::KINDS;

const READ: &[&str] = &["get", "list", "watch"];

/// What an operator may change beyond reading: the day-to-day actions of on-call work
/// (cordon, drain, scale, back up, restore, roll out), but not secrets or namespaces.
const OPERATOR_WRITES: &[(&str, &str, &[&str])] = &[
    ("", "nodes", &["patch", "update"]),
    ("", "pods", &["delete"]),
    ("", "pods/eviction", &["create"]),
    // A shell in a pod and its ports forwarded, as on-call work needs.
    ("", "pods/exec", &["create"]),
    ("", "pods/portforward", &["create"]),
    ("", "events", &["create", "patch", "update"]),
    ("", "configmaps", &["create", "patch", "update"]),
    ("apps", "deployments", &["patch", "update"]),
    ("apps", "deployments/scale", &["patch", "update"]),
    ("apps", "statefulsets", &["patch", "update"]),
    ("apps", "statefulsets/scale", &["patch", "update"]),
    ("apps", "daemonsets", &["patch", "update"]),
    ("batch", "jobs", &["create", "delete"]),
    (
        "coordination.k8s.io",
        "leases",
        &["create", "delete", "patch", "update"],
    ),
    ("velero.io", "backups", &["create", "delete"]),
    ("velero.io", "restores", &["create", "delete"]),
    // What `velero backup logs` and `describe --details` create to read the bucket.
    ("velero.io", "downloadrequests", &["create", "delete"]),
    ("velero.io", "schedules", &["patch", "update"]),
    (
        "cluster.x-k8s.io",
        "machinedeployments",
        &["patch", "update"],
    ),
    (
        "cluster.x-k8s.io",
        "machinedeployments/scale",
        &["patch", "update"],
    ),
    ("cluster.x-k8s.io", "machines", &["delete", "patch"]),
    (
        "controlplane.cluster.x-k8s.io",
        "kubeadmcontrolplanes",
        &["patch", "update"],
    ),
];

/// The reviews every authenticated user may create.
const REVIEWS: &[(&str, &str)] = &[
    ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectrulesreviews"),
    ("authentication.k8s.io", "selfsubjectreviews"),
];

/// The URLs outside the API that everyone may read (the `system:discovery` and
/// `system:public-info-viewer` roles of a real cluster).
const PUBLIC_URLS: &[&str] = &[
    "/api",
    "/api/*",
    "/apis",
    "/apis/*",
    "/healthz",
    "/livez",
    "/readyz",
    "/openapi",
    "/openapi/*",
    "/version",
    "/version/",
];

/// The status of a SelfSubjectRulesReview: the rules `role` holds, as RBAC would list
/// them (`kubectl auth can-i --list`). Built from the same tables [`allowed`] reads.
pub fn rules_review(role: Role) -> Value {
    let rule = |verbs: &[&str], group: &str, resources: Vec<&str>| json!({"verbs": verbs, "apiGroups": [group], "resources": resources});
    let mut rules: Vec<Value> = REVIEWS
        .iter()
        .map(|(g, r)| rule(&["create"], g, vec![r]))
        .collect();
    match role {
        Role::Admin => rules.push(json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})),
        Role::ReadOnly | Role::Operator => {
            let mut groups: Vec<&str> = KINDS.iter().map(|k| k.group).collect();
            groups.sort_unstable();
            groups.dedup();
            for group in groups {
                let readable: Vec<&str> = KINDS
                    .iter()
                    // What `allowed` grants for reading: a viewer never reads secrets.
                    .filter(|k| {
                        k.group == group
                            && !k.virtual_create
                            && allowed(role, "list", group, k.plural)
                    })
                    .map(|k| k.plural)
                    .collect();
                if !readable.is_empty() {
                    rules.push(rule(READ, group, readable));
                }
            }
            if role == Role::Operator {
                rules.extend(
                    OPERATOR_WRITES
                        .iter()
                        .map(|(g, r, verbs)| rule(verbs, g, vec![r])),
                );
            }
        }
    }
    json!({
        "resourceRules": rules,
        "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": PUBLIC_URLS}],
        "incomplete": false,
    })
}

/// Whether `role` may do `verb` on `resource` (plural, or `plural/sub`) in `group`.
pub fn allowed(role: Role, verb: &str, group: &str, resource: &str) -> bool {
    let is_review = REVIEWS.iter().any(|(_, r)| *r == resource);
    match role {
        Role::Admin => true,
        _ if is_review => verb == "create",
        // Secret values are the one thing a viewer never gets, not even as a list.
        _ if resource == "secrets" => false,
        Role::ReadOnly => READ.contains(&verb),
        Role::Operator => {
            READ.contains(&verb)
                || OPERATOR_WRITES
                    .iter()
                    .any(|(g, r, verbs)| *g == group && *r == resource && verbs.contains(&verb))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_grant_what_they_say() {
        assert!(allowed(Role::Admin, "delete", "", "namespaces"));
        assert!(allowed(Role::ReadOnly, "list", "", "pods"));
        assert!(!allowed(Role::ReadOnly, "patch", "", "nodes"));
        assert!(!allowed(Role::ReadOnly, "get", "", "secrets"));
        assert!(allowed(
            Role::ReadOnly,
            "create",
            "authorization.k8s.io",
            "selfsubjectaccessreviews"
        ));
        assert!(allowed(Role::Operator, "patch", "", "nodes"));
        assert!(allowed(Role::Operator, "create", "", "pods/eviction"));
        assert!(allowed(Role::Operator, "create", "velero.io", "backups"));
        assert!(!allowed(Role::Operator, "delete", "", "namespaces"));
        assert!(!allowed(Role::Operator, "list", "", "secrets"));
    }

    /// Every rule a rules review lists holds in `allowed`, so the two can't drift apart.
    #[test]
    fn the_rules_review_lists_what_allowed_grants() {
        for role in [Role::ReadOnly, Role::Operator] {
            let review = rules_review(role);
            let rules = review["resourceRules"].as_array().unwrap();
            for r in rules {
                let group = r["apiGroups"][0].as_str().unwrap();
                for res in r["resources"].as_array().unwrap() {
                    for verb in r["verbs"].as_array().unwrap() {
                        let (res, verb) = (res.as_str().unwrap(), verb.as_str().unwrap());
                        assert!(
                            allowed(role, verb, group, res),
                            "{role:?} {verb} {group}/{res}"
                        );
                    }
                }
            }
            let lists = |res: &str| {
                rules.iter().any(|r| {
                    r["resources"].as_array().unwrap().iter().any(|x| x == res)
                        && r["verbs"].as_array().unwrap().iter().any(|v| v == "list")
                })
            };
            assert!(lists("pods") && !lists("secrets"), "{role:?}");
        }
        let admin = rules_review(Role::Admin);
        assert!(
            admin["resourceRules"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["verbs"][0] == "*" && r["resources"][0] == "*"),
            "{admin}"
        );
    }
}
