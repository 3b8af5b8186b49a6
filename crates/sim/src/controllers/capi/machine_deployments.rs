//! MachineDeployments: one MachineSet per machine template, rolled over one machine at
//! a time (surge one, wait for it, remove one old), and their status.

use serde_json::{Value, json};

use super::conditions::Cond;
use super::machine_sets::selector_string;
use super::{CLUSTER_LABEL, DEPLOYMENT_LABEL, Pass, SET_LABEL, is_ready, label, replicas};
use crate::clock::{k8s_time, parse_time};
use crate::controllers::objects::{
    age_key, condition_true, is_terminating, owner_ref, phase, safe_encode, str_at,
};
use crate::hash::fnv64;
use crate::registry::ids;
use crate::store::{Obj, name_of, namespace_of};

const HASH_LABEL: &str = "machine-template-hash";

impl Pass<'_> {
    pub(super) fn machine_deployments(&mut self) {
        let sets = self.list(*ids::MACHINESETS);
        let machines = self.list(*ids::MACHINES);
        for md in self.list(*ids::MACHINEDEPLOYMENTS) {
            let ns = namespace_of(&md);
            let cluster = str_at(&md["spec"]["clusterName"]);
            if is_terminating(&md) || md["spec"]["paused"] == true || !self.workable(ns, cluster) {
                continue;
            }
            let owned = |o: &&Obj| {
                namespace_of(o) == ns && label(o, DEPLOYMENT_LABEL) == Some(name_of(&md))
            };
            let md_sets: Vec<&Obj> = sets
                .iter()
                .filter(owned)
                .filter(|s| !is_terminating(s))
                .collect();
            let md_machines: Vec<&Obj> = machines.iter().filter(owned).collect();
            self.roll_machine_deployment(&md, &md_sets, &md_machines);
        }
    }

    /// One step of a MachineDeployment: make sure the MachineSet of the current
    /// template exists, then either scale it (nothing old left) or move one machine
    /// from the old sets to it (surge one, wait for it, remove one old).
    fn roll_machine_deployment(&mut self, md: &Obj, sets: &[&Obj], machines: &[&Obj]) {
        let desired = replicas(md);
        let hash = self.template_hash(md);
        let new_name = format!("{}-{hash}", name_of(md));
        let Some(new) = sets.iter().find(|s| name_of(s) == new_name) else {
            let rolling = sets.iter().any(|s| replicas(s) > 0);
            self.create_machine_set(md, &new_name, &hash, if rolling { 0 } else { desired });
            return;
        };
        let mut olds: Vec<&Obj> = sets
            .iter()
            .copied()
            .filter(|s| name_of(s) != new_name)
            .collect();
        olds.sort_by_key(|s| age_key(s));
        let old_total: i64 = olds.iter().map(|s| replicas(s)).sum();
        let new_replicas = replicas(new);
        if old_total == 0 {
            self.set_replicas(new, desired);
            for old in olds {
                if !machines
                    .iter()
                    .any(|m| label(m, SET_LABEL) == Some(name_of(old)))
                {
                    self.delete(*ids::MACHINESETS, old);
                }
            }
            return;
        }
        if machines
            .iter()
            .any(|m| is_terminating(m) || phase(m) != "Running")
        {
            return; // strictly one machine at a time
        }
        let (surge, unavailable) = rolling_params(md);
        if new_replicas > desired {
            self.set_replicas(new, desired);
        } else if new_replicas + old_total < desired + surge && new_replicas < desired {
            self.set_replicas(new, new_replicas + 1);
        } else {
            let ready = machines.iter().filter(|m| is_ready(m)).count() as i64;
            let in_old = |m: &&&Obj| olds.iter().any(|s| label(m, SET_LABEL) == Some(name_of(s)));
            // An unready old machine adds nothing to availability, so it may go anyway.
            let old_unready = machines.iter().filter(in_old).any(|m| !is_ready(m));
            if ready > desired - unavailable || old_unready {
                let old = olds.iter().find(|s| replicas(s) > 0).copied();
                if let Some(old) = old {
                    self.set_replicas(old, replicas(old) - 1);
                }
            }
        }
    }

    /// Names the MachineSet of the current template: what a change of version, machine
    /// template or bootstrap config (or a passed `rolloutAfter`) rolls out.
    fn template_hash(&mut self, md: &Value) -> String {
        let t = &md["spec"]["template"]["spec"];
        let mut key = format!(
            "{}|{}|{}|{}|{}",
            t["version"],
            t["infrastructureRef"]["kind"],
            t["infrastructureRef"]["name"],
            t["bootstrap"]["configRef"]["name"],
            t["failureDomain"]
        );
        if let Some(after) = parse_time(str_at(&md["spec"]["rolloutAfter"]))
            && self.pace.reached(after)
        {
            key.push_str(&k8s_time(after));
        }
        safe_encode(fnv64(key.as_bytes()), 5)
    }

    fn create_machine_set(&mut self, md: &Obj, name: &str, hash: &str, replicas: i64) {
        let cluster = str_at(&md["spec"]["clusterName"]);
        let selector =
            json!({CLUSTER_LABEL: cluster, DEPLOYMENT_LABEL: name_of(md), HASH_LABEL: hash});
        let mut labels = md["metadata"]["labels"].clone();
        let mut template = md["spec"]["template"].clone();
        for (k, v) in selector.as_object().into_iter().flatten() {
            labels[k] = v.clone();
            template["metadata"]["labels"][k] = v.clone();
        }
        let ms = json!({
            "metadata": {"name": name, "namespace": namespace_of(md), "labels": labels,
                "ownerReferences": [owner_ref(md)]},
            "spec": {"clusterName": cluster, "replicas": replicas,
                "selector": {"matchLabels": selector}, "template": template},
        });
        self.create(*ids::MACHINESETS, ms);
    }

    pub(super) fn machine_deployment_status(&mut self, md: &Obj, machines: &[Obj]) {
        let ns = namespace_of(md);
        let owned: Vec<&Obj> = machines
            .iter()
            .filter(|m| namespace_of(m) == ns && label(m, DEPLOYMENT_LABEL) == Some(name_of(md)))
            .collect();
        let (sets, _) = self.store().list(*ids::MACHINESETS, Some(ns));
        let sets: Vec<&Obj> = sets
            .iter()
            .filter(|s| label(s, DEPLOYMENT_LABEL) == Some(name_of(md)))
            .collect();
        let new_name = format!("{}-{}", name_of(md), self.template_hash(md));
        let desired = replicas(md);
        let spec_total: i64 = sets.iter().map(|s| replicas(s)).sum();
        let ready = owned.iter().filter(|m| is_ready(m)).count() as i64;
        let updated = owned
            .iter()
            .filter(|m| !is_terminating(m) && label(m, SET_LABEL) == Some(new_name.as_str()))
            .count();
        let (_, max_unavailable) = rolling_params(md);
        let phase = match ready.cmp(&desired) {
            std::cmp::Ordering::Less => "ScalingUp",
            std::cmp::Ordering::Greater => "ScalingDown",
            std::cmp::Ordering::Equal => "Running",
        };
        let new_ready = sets
            .iter()
            .find(|s| name_of(s) == new_name)
            .is_some_and(|s| condition_true(s, "Ready"));
        let conds = vec![
            Cond::when("Available", ready >= desired - max_unavailable, || {
                Cond::no(
                    "",
                    "WaitingForAvailableMachines",
                    "Warning",
                    format!(
                        "Minimum availability requires {} replicas, current {ready} available",
                        desired - max_unavailable
                    ),
                )
            }),
            Cond::when("MachineSetReady", new_ready, || {
                Cond::no(
                    "",
                    "WaitingForMachineSet",
                    "Info",
                    format!("MachineSet {new_name} is not ready"),
                )
            }),
        ];
        let status = json!({
            "replicas": owned.len(),
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "unavailableReplicas": (spec_total.max(desired) - ready).max(0),
            "observedGeneration": md["metadata"]["generation"],
            "phase": phase,
            "selector": selector_string(&md["spec"]["selector"]),
        });
        self.write_status(*ids::MACHINEDEPLOYMENTS, md, status, conds);
    }
}

/// maxSurge and maxUnavailable as integers (percentages of the replicas, rounded as
/// Kubernetes does); never both zero.
fn rolling_params(md: &Value) -> (i64, i64) {
    let desired = replicas(md);
    let ru = &md["spec"]["strategy"]["rollingUpdate"];
    let scaled = |v: &Value, default: i64, round_up: bool| match (v.as_i64(), v.as_str()) {
        (Some(n), _) => n,
        (None, Some(p)) => match p.trim_end_matches('%').parse::<i64>() {
            Ok(p) if round_up => (p * desired + 99) / 100,
            Ok(p) => p * desired / 100,
            Err(_) => default,
        },
        _ => default,
    };
    let surge = scaled(&ru["maxSurge"], 1, true).max(0);
    let unavailable = scaled(&ru["maxUnavailable"], 0, false).max(0);
    if surge == 0 && unavailable == 0 {
        (1, 0)
    } else {
        (surge, unavailable)
    }
}
