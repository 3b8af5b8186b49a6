//! Kubernetes permissions as the console asks about them: what an action needs, and what
//! a SelfSubjectAccessReview answered.

/// The Kubernetes permission an action needs, checked with a SelfSubjectAccessReview.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rbac {
    pub verb: &'static str,
    pub group: &'static str,
    pub resource: &'static str,
    pub subresource: &'static str,
}

impl Rbac {
    /// `get pods/log`.
    pub fn describe(&self) -> String {
        let mut s = format!("{} {}", self.verb, self.resource);
        if !self.subresource.is_empty() {
            s.push('/');
            s.push_str(self.subresource);
        }
        if !self.group.is_empty() {
            s.push('.');
            s.push_str(self.group);
        }
        s
    }
}

/// Whether the user may do an action in a cluster, per SelfSubjectAccessReview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Permission {
    Allowed,
    Denied(String),
    /// The check itself failed; treated as denied (default-deny).
    Failed(String),
}
