//! KubeadmControlPlanes: control-plane Machines created, rolled and removed one at a
//! time, and the control plane's status.

use serde_json::{Value, json};

use super::conditions::{Cond, resized};
use super::machines::victim;
use super::{
    CLUSTER_LABEL, CONTROL_PLANE_LABEL, CONTROL_PLANE_NAME_LABEL, Pass, condition, is_ready, label,
    replicas,
};
use crate::clock::parse_time;
use crate::controllers::objects::{is_terminating, phase, str_at};
use crate::registry::ids;
use crate::store::{Obj, name_of, namespace_of};

impl Pass<'_> {
    fn kcp_cluster(&self, kcp: &Value) -> String {
        if let Some(c) = label(kcp, CLUSTER_LABEL) {
            return c.to_string();
        }
        let (clusters, _) = self.store().list(*ids::CLUSTERS, Some(namespace_of(kcp)));
        clusters
            .iter()
            .find(|c| c["spec"]["controlPlaneRef"]["name"] == name_of(kcp))
            .map(|c| name_of(c).to_string())
            .unwrap_or_else(|| name_of(kcp).trim_end_matches("-control-plane").to_string())
    }

    pub(super) fn control_planes(&mut self) {
        for kcp in self.list(*ids::KCPS) {
            let cluster = self.kcp_cluster(&kcp);
            if is_terminating(&kcp) || !self.workable(namespace_of(&kcp), &cluster) {
                continue;
            }
            let owned = self.kcp_machines(&kcp);
            self.scale_control_plane(&kcp, &cluster, &owned);
        }
    }

    fn kcp_machines(&self, kcp: &Value) -> Vec<Obj> {
        let (machines, _) = self.store().list(*ids::MACHINES, Some(namespace_of(kcp)));
        machines
            .into_iter()
            .filter(|m| label(m, CONTROL_PLANE_NAME_LABEL) == Some(name_of(kcp)))
            .collect()
    }

    fn kcp_outdated(&self, kcp: &Value, m: &Value) -> bool {
        m["spec"]["version"] != kcp["spec"]["version"]
            || m["spec"]["infrastructureRef"]["name"]
                != kcp["spec"]["machineTemplate"]["infrastructureRef"]["name"]
            || self.rolled_out_after(kcp, m)
    }

    /// `spec.rolloutAfter` in the past makes older machines outdated.
    fn rolled_out_after(&self, owner: &Value, m: &Value) -> bool {
        let Some(after) = parse_time(str_at(&owner["spec"]["rolloutAfter"])) else {
            return false;
        };
        after <= self.pace.now
            && parse_time(str_at(&m["metadata"]["creationTimestamp"])).is_some_and(|c| c < after)
    }

    /// One step of the KCP algorithm: a rollout (create a new machine, then delete the
    /// oldest outdated one) takes precedence over scaling; both move one machine at a
    /// time and wait for the previous machine to be up or gone.
    fn scale_control_plane(&mut self, kcp: &Obj, cluster: &str, owned: &[Obj]) {
        let desired = replicas(kcp);
        let (deleting, active): (Vec<&Obj>, Vec<&Obj>) =
            owned.iter().partition(|m| is_terminating(m));
        if let Some(after) = parse_time(str_at(&kcp["spec"]["rolloutAfter"]))
            && after > self.pace.now
        {
            self.pace.wake_at(after);
        }
        if !deleting.is_empty()
            || (!self.pace.booting && active.iter().any(|m| phase(m) != "Running"))
        {
            return;
        }
        let outdated: Vec<&Obj> = active
            .iter()
            .copied()
            .filter(|m| self.kcp_outdated(kcp, m))
            .collect();
        let count = active.len() as i64;
        if !outdated.is_empty() {
            if count <= desired {
                self.create_cp_machine(kcp, cluster, &active);
            } else if let Some(victim) = victim(&outdated) {
                self.delete(*ids::MACHINES, victim);
            }
        } else if count < desired {
            self.add_machines(desired - count, &active, |p, siblings| {
                p.create_cp_machine(kcp, cluster, siblings)
            });
        } else if count > desired
            && let Some(victim) = victim(&active)
        {
            self.delete(*ids::MACHINES, victim);
        }
    }

    fn create_cp_machine(&mut self, kcp: &Obj, cluster: &str, siblings: &[&Obj]) -> Option<Obj> {
        let labels = json!({
            CLUSTER_LABEL: cluster,
            CONTROL_PLANE_LABEL: "",
            CONTROL_PLANE_NAME_LABEL: name_of(kcp),
        });
        let spec = json!({
            "version": kcp["spec"]["version"],
            "infrastructureRef": kcp["spec"]["machineTemplate"]["infrastructureRef"],
            "bootstrap": {"configRef": {"apiVersion": "bootstrap.cluster.x-k8s.io/v1beta1", "kind": "KubeadmConfig"}},
        });
        self.create_machine(kcp, name_of(kcp), cluster, labels, spec, siblings)
    }

    pub(super) fn control_plane_status(&mut self, kcp: &Obj) {
        let owned = self.kcp_machines(kcp);
        let desired = replicas(kcp);
        let active: Vec<&Obj> = owned.iter().filter(|m| !is_terminating(m)).collect();
        let ready = owned.iter().filter(|m| is_ready(m)).count() as i64;
        let outdated = active.iter().filter(|m| self.kcp_outdated(kcp, m)).count() as i64;
        let count = active.len() as i64;
        let version = owned
            .iter()
            .filter_map(|m| m["spec"]["version"].as_str())
            .min_by_key(|v| semver(v));
        let initialized = kcp["status"]["initialized"] == true || ready > 0;
        let not_ready = owned.iter().find(|m| !is_ready(m));
        let conds = vec![
            Cond::when("Available", initialized, || {
                Cond::no("", "WaitingForKubeadmInit", "Info", "")
            }),
            Cond::yes("CertificatesAvailable"),
            match not_ready {
                None => Cond::yes("MachinesReady"),
                Some(m) => {
                    let reason = match str_at(&condition(m, "Ready")["reason"]) {
                        "" => "WaitingForMachines",
                        r => r,
                    };
                    Cond::no(
                        "MachinesReady",
                        reason,
                        "Info",
                        format!("Machine {} is not ready", name_of(m)),
                    )
                }
            },
            Cond::when("MachinesSpecUpToDate", outdated == 0, || {
                Cond::no(
                    "",
                    "RollingUpdateInProgress",
                    "Warning",
                    format!(
                        "Rolling {count} replicas with outdated spec ({} replicas up to date)",
                        count - outdated
                    ),
                )
            }),
            resized(count, desired, "control plane"),
        ];
        let cluster = self.kcp_cluster(kcp);
        let mut status = json!({
            "replicas": owned.len(),
            "updatedReplicas": count - outdated,
            "readyReplicas": ready,
            "unavailableReplicas": owned.len() as i64 - ready,
            "initialized": initialized,
            "ready": ready > 0,
            "observedGeneration": kcp["metadata"]["generation"],
            "selector": format!("{CLUSTER_LABEL}={cluster},{CONTROL_PLANE_LABEL}"),
        });
        if let Some(v) = version {
            status["version"] = json!(v);
        }
        self.write_status(*ids::KCPS, kcp, status, conds);
    }
}

fn semver(v: &str) -> (u64, u64, u64) {
    let mut parts = v
        .trim_start_matches('v')
        .split(['.', '-', '+'])
        .map(|p| p.parse::<u64>().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}
