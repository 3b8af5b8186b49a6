//! Clusters: provisioned and decommissioned through the fleet, with their kubeconfig
//! Secret, finalizer and status.

use base64::Engine;
use serde_json::{Value, json};

use super::conditions::Cond;
use super::{CLUSTER_LABEL, Pass, add_finalizer, has_finalizer, remove_finalizer};
use crate::controllers::objects::{
    annotation, is_terminating, owner_ref, phase, status_mut, str_at,
};
use crate::registry::ids;
use crate::store::{Obj, name_of, namespace_of};

pub(super) const CLUSTER_FINALIZER: &str = "cluster.cluster.x-k8s.io";
pub(super) const PROVISIONED_ANNOTATION: &str = "sim.ck8s.io/provisioned";

impl Pass<'_> {
    pub(super) fn clusters(&mut self) {
        for c in self.list(*ids::CLUSTERS) {
            if is_terminating(&c) {
                self.delete_cluster(&c);
                continue;
            }
            if !has_finalizer(&c, CLUSTER_FINALIZER) {
                self.patch(*ids::CLUSTERS, &c, |o| add_finalizer(o, CLUSTER_FINALIZER));
            }
            if self.fleet.cluster(name_of(&c)).is_none()
                && annotation(&c, PROVISIONED_ANNOTATION).is_none()
            {
                self.provision(&c);
            }
        }
    }

    /// The control plane a Cluster points at (or the conventional name).
    fn kcp_of(&self, c: &Value) -> Option<Obj> {
        let r = &c["spec"]["controlPlaneRef"];
        let ns = match str_at(&r["namespace"]) {
            "" => namespace_of(c),
            ns => ns,
        };
        let name = match str_at(&r["name"]) {
            "" => format!("{}-control-plane", name_of(c)),
            n => n.to_string(),
        };
        self.store().get(*ids::KCPS, ns, &name)
    }

    fn provision(&mut self, c: &Obj) {
        let failed = phase(c) == "Failed"
            && c["status"]["observedGeneration"] == c["metadata"]["generation"];
        if failed {
            return; // until the spec changes
        }
        self.patch(*ids::CLUSTERS, c, |o| {
            status_mut(o).insert("phase".into(), json!("Provisioning"));
        });
        let version = self
            .kcp_of(c)
            .and_then(|k| k["spec"]["version"].as_str().map(String::from))
            .or_else(|| c["spec"]["topology"]["version"].as_str().map(String::from));
        let Some(version) = version else {
            return; // the control plane is not there yet
        };
        let name = name_of(c).to_string();
        match self.fleet.provision(self.sc, &name, &version) {
            Ok(kubeconfig) => {
                self.changed = true;
                self.write_kubeconfig(c, &kubeconfig);
                self.patch(*ids::CLUSTERS, c, |o| {
                    o["metadata"]["annotations"][PROVISIONED_ANNOTATION] = json!("true");
                    let st = status_mut(o);
                    st.remove("failureReason");
                    st.remove("failureMessage");
                });
            }
            Err(message) => {
                let generation = c["metadata"]["generation"].clone();
                self.patch(*ids::CLUSTERS, c, |o| {
                    let st = status_mut(o);
                    st.insert("phase".into(), json!("Failed"));
                    st.insert("failureReason".into(), json!("CreateError"));
                    st.insert("failureMessage".into(), json!(message));
                    st.insert("observedGeneration".into(), generation);
                });
            }
        }
    }

    fn write_kubeconfig(&mut self, c: &Obj, kubeconfig: &str) {
        let value = base64::engine::general_purpose::STANDARD.encode(kubeconfig);
        let name = format!("{}-kubeconfig", name_of(c));
        let ns = namespace_of(c);
        let secret = json!({
            "metadata": {"name": name, "namespace": ns,
                "labels": {CLUSTER_LABEL: name_of(c)},
                "ownerReferences": [owner_ref(c)]},
            "type": "cluster.x-k8s.io/secret",
            "data": {"value": value},
        });
        if self.create(*ids::SECRETS, secret).is_none()
            && let Some(existing) = self.store().get(*ids::SECRETS, ns, &name)
        {
            self.patch(*ids::SECRETS, &existing, |o| {
                o["data"]["value"] = json!(value);
            });
        }
    }

    fn belongs(o: &Value, cluster: &str) -> bool {
        o["metadata"]["labels"][CLUSTER_LABEL] == cluster || o["spec"]["clusterName"] == cluster
    }

    fn delete_cluster(&mut self, c: &Obj) {
        let (ns, name) = (namespace_of(c).to_string(), name_of(c).to_string());
        self.patch(*ids::CLUSTERS, c, |o| {
            status_mut(o).insert("phase".into(), json!("Deleting"));
        });
        if let Some(kcp) = self.kcp_of(c) {
            self.delete(*ids::KCPS, &kcp);
        }
        for kind in [
            *ids::KCPS,
            *ids::MACHINEDEPLOYMENTS,
            *ids::MACHINESETS,
            *ids::MHCS,
            *ids::MACHINES,
        ] {
            for o in self.store().list(kind, Some(&ns)).0 {
                if Self::belongs(&o, &name) {
                    self.delete(kind, &o);
                }
            }
        }
        // Machines go through their own deletion (nodes removed, no drain); the
        // cluster goes once they are gone.
        let (machines, _) = self.store().list(*ids::MACHINES, Some(&ns));
        if machines.iter().any(|m| Self::belongs(m, &name)) {
            return;
        }
        if self.fleet.cluster(&name).is_some() {
            self.fleet.decommission(&name);
            self.changed = true;
        }
        if let Some(s) = self
            .store()
            .get(*ids::SECRETS, &ns, &format!("{name}-kubeconfig"))
        {
            self.delete(*ids::SECRETS, &s);
        }
        self.patch(*ids::CLUSTERS, c, |o| {
            remove_finalizer(o, CLUSTER_FINALIZER)
        });
    }

    pub(super) fn cluster_status(&mut self, c: &Obj) {
        if is_terminating(c) || phase(c) == "Failed" {
            return;
        }
        let provisioning = self.fleet.cluster(name_of(c)).is_none()
            && annotation(c, PROVISIONED_ANNOTATION).is_none();
        let kcp = self.kcp_of(c);
        let kcp_status = kcp.as_ref().map_or(&Value::Null, |k| &k["status"]);
        let initialized = kcp_status["initialized"] == true;
        let cp_ready = kcp_status["ready"] == true;
        let conds = vec![
            Cond::when("InfrastructureReady", !provisioning, || {
                Cond::no("", "WaitingForInfrastructure", "Info", "")
            }),
            Cond::when("ControlPlaneInitialized", initialized, || {
                Cond::no(
                    "",
                    "WaitingForControlPlaneProviderInitialized",
                    "Info",
                    "Waiting for control plane provider to indicate the control plane has been initialized",
                )
            }),
            Cond::when("ControlPlaneReady", cp_ready, || {
                Cond::no("", "WaitingForControlPlane", "Info", "")
            }),
        ];
        let status = json!({
            "phase": if provisioning { "Provisioning" } else { "Provisioned" },
            "infrastructureReady": !provisioning,
            "controlPlaneReady": cp_ready,
            "observedGeneration": c["metadata"]["generation"],
        });
        self.write_status(*ids::CLUSTERS, c, status, conds);
    }
}
