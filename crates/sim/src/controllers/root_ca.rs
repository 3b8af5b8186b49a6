//! The root-CA publisher: every namespace holds a ConfigMap `kube-root-ca.crt` with the
//! cluster's CA, as on a real cluster (pods mount it to trust the API server).

use serde_json::json;

use super::Controller;
use super::objects::is_terminating;
use super::pacing::Pacer;
use crate::cluster::{ClusterSim, FleetOps};
use crate::registry::ids;
use crate::store::name_of;

const NAME: &str = "kube-root-ca.crt";

#[derive(Debug, Default)]
pub struct RootCaPublisher {
    pacer: Pacer,
}

impl Controller for RootCaPublisher {
    fn name(&self) -> &'static str {
        "root-ca-cert-publisher"
    }

    fn reconcile(&self, cluster: &ClusterSim, _fleet: &dyn FleetOps) -> bool {
        let Some(ca) = cluster.ca_pem.get() else {
            return false;
        };
        self.pacer.run(cluster, |_| {
            let (namespaces, _) = cluster.store.list(*ids::NAMESPACES, None);
            let mut changed = false;
            for ns in namespaces.iter().filter(|n| !is_terminating(n)) {
                let ns = name_of(ns);
                if cluster.store.get(*ids::CONFIGMAPS, ns, NAME).is_some() {
                    continue;
                }
                let cm = json!({
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": NAME, "namespace": ns},
                    "data": {"ca.crt": ca},
                });
                changed |= cluster.store.create(*ids::CONFIGMAPS, cm).is_ok();
            }
            changed
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_namespace_gets_the_root_ca() {
        let cluster = super::super::testkit::cluster(0);
        let _ = cluster.ca_pem.set("-----BEGIN CERTIFICATE-----\n".into());
        for ns in ["default", "shop"] {
            cluster
                .store
                .create(
                    *ids::NAMESPACES,
                    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
                )
                .ok();
        }
        let publisher = RootCaPublisher::default();
        let fleet = super::super::testkit::NoFleet;
        publisher.reconcile(&cluster, &fleet);
        for ns in ["default", "shop"] {
            let cm = cluster
                .store
                .get(*ids::CONFIGMAPS, ns, NAME)
                .unwrap_or_else(|| panic!("{ns} has the root CA"));
            assert_eq!(cm["data"]["ca.crt"], "-----BEGIN CERTIFICATE-----\n");
        }
    }
}
