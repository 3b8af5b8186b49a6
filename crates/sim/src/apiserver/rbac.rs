//! The three roles a simulated cluster's tokens carry, as RBAC rules.

use crate::cluster::Role;

const READ: &[&str] = &["get", "list", "watch"];

/// What an operator may change beyond reading: the day-to-day actions of on-call work
/// (cordon, drain, scale, back up, restore, roll out), but not secrets or namespaces.
const OPERATOR_WRITES: &[(&str, &str, &[&str])] = &[
    ("", "nodes", &["patch", "update"]),
    ("", "pods", &["delete"]),
    ("", "pods/eviction", &["create"]),
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

/// Whether `role` may do `verb` on `resource` (plural, or `plural/sub`) in `group`.
pub fn allowed(role: Role, verb: &str, group: &str, resource: &str) -> bool {
    let is_review = matches!(
        resource,
        "selfsubjectaccessreviews" | "selfsubjectreviews" | "selfsubjectrulesreviews"
    );
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
}
