//! How an alert reads, in the alerts pane and in its details alike: the severity and
//! state words, where it fires, and what it is about.

use ck8s_model::alert::{AlertState, MergedAlert, Severity};

use crate::describe::Related;

/// The severity as a word.
pub fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::High => "high",
        Severity::Warning => "warning",
        Severity::Info => "info",
        Severity::None => "none",
    }
}

pub fn state_name(a: &MergedAlert) -> &'static str {
    let st = &a.alert.status;
    match st.state {
        AlertState::Active => "firing",
        AlertState::Unprocessed => "pending",
        AlertState::Suppressed if !st.silenced_by.is_empty() => "silenced",
        AlertState::Suppressed if !st.inhibited_by.is_empty() => "inhibited",
        AlertState::Suppressed => "muted",
    }
}

/// Where an alert came from: `wc`, `sc+wc` inside an environment, `globex-wc` in the
/// fleet view.
pub fn sources(a: &MergedAlert, in_env: bool) -> String {
    let parts: Vec<String> = a
        .sources
        .iter()
        .map(|(env, role)| {
            if in_env {
                role.to_string()
            } else {
                format!("{env}-{role}")
            }
        })
        .collect();
    parts.join(if in_env { "+" } else { ", " })
}

/// The object an alert is about, from its usual labels.
pub fn subject(a: &MergedAlert) -> String {
    let l = |k: &str| a.alert.label(k);
    match subject_object(a) {
        Some(o) => match o.namespace {
            Some(ns) => format!("{ns}/{}", o.name),
            None => o.name,
        },
        None => l("target")
            .or(l("instance"))
            .or(l("schedule"))
            .or(l("job"))
            .unwrap_or("-")
            .to_string(),
    }
}

/// The object an alert is about, when its labels name one: a pod, a node, a workload
/// (as kube-state-metrics and the kubernetes-mixin alerts label them), or a namespace.
pub fn subject_object(a: &MergedAlert) -> Option<Related> {
    let l = |k: &str| a.alert.label(k).map(str::to_owned);
    let subject = |(kind, group): (&str, &str), namespace, name| Related {
        kind: kind.to_owned(),
        group: group.to_owned(),
        namespace,
        name,
    };
    match (l("namespace"), l("pod"), l("node")) {
        (Some(ns), Some(pod), _) => Some(subject(("Pod", ""), Some(ns), pod)),
        (_, _, Some(node)) => Some(subject(("Node", ""), None, node)),
        (Some(ns), None, None) => {
            let workloads = [
                ("deployment", ("Deployment", "apps")),
                ("statefulset", ("StatefulSet", "apps")),
                ("daemonset", ("DaemonSet", "apps")),
                ("job_name", ("Job", "batch")),
                ("cronjob", ("CronJob", "batch")),
                ("schedule", ("Schedule", "velero.io")),
            ];
            let named = workloads
                .iter()
                .find_map(|(label, kind)| Some(subject(*kind, Some(ns.clone()), l(label)?)));
            Some(named.unwrap_or_else(|| subject(("Namespace", ""), None, ns)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClusterRole;

    fn about(labels: &[(&str, &str)]) -> MergedAlert {
        MergedAlert {
            alert: crate::testing::alert("A", "critical", false, labels),
            sources: vec![("acme".into(), ClusterRole::Wc)],
        }
    }

    #[test]
    fn an_alert_names_the_object_its_labels_name() {
        let o = |labels: &[(&str, &str)]| subject_object(&about(labels));
        let pod = o(&[("namespace", "prod"), ("pod", "web-1"), ("node", "w-1")]).unwrap();
        assert_eq!(
            (pod.kind_name(), pod.namespace.as_deref(), pod.name.as_str()),
            ("pod".to_owned(), Some("prod"), "web-1")
        );
        assert_eq!(o(&[("node", "w-1")]).unwrap().kind_name(), "node");
        let deploy = o(&[("namespace", "prod"), ("deployment", "web")]).unwrap();
        assert_eq!(
            (deploy.kind_name(), deploy.name.as_str()),
            ("deployment.apps".to_owned(), "web")
        );
        let ns = o(&[("namespace", "prod")]).unwrap();
        assert_eq!(
            (ns.kind_name(), ns.namespace, ns.name.as_str()),
            ("namespace".to_owned(), None, "prod")
        );
        assert_eq!(o(&[("instance", "10.0.0.1:9100")]), None);
        // The subject column reads the same.
        assert_eq!(
            subject(&about(&[("namespace", "prod"), ("deployment", "web")])),
            "prod/web"
        );
        assert_eq!(
            subject(&about(&[("instance", "10.0.0.1:9100")])),
            "10.0.0.1:9100"
        );
    }
}
