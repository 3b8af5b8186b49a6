//! MachineSets: worker Machines created and deleted one at a time to match replicas,
//! and their status.

use serde_json::{Value, json};

use super::conditions::{Cond, resized};
use super::machines::victim;
use super::{CLUSTER_LABEL, DEPLOYMENT_LABEL, Pass, SET_LABEL, is_ready, label, replicas};
use crate::controllers::objects::{is_terminating, phase, str_at};
use crate::registry::ids;
use crate::store::{Obj, name_of, namespace_of};

impl Pass<'_> {
    pub(super) fn machine_sets(&mut self) {
        let machines = self.list(*ids::MACHINES);
        for ms in self.list(*ids::MACHINESETS) {
            let ns = namespace_of(&ms);
            if is_terminating(&ms) || !self.workable(ns, str_at(&ms["spec"]["clusterName"])) {
                continue;
            }
            let owned: Vec<&Obj> = machines
                .iter()
                .filter(|m| namespace_of(m) == ns && label(m, SET_LABEL) == Some(name_of(&ms)))
                .collect();
            self.scale_machine_set(&ms, &owned);
        }
    }

    pub(super) fn set_replicas(&mut self, ms: &Obj, n: i64) {
        if replicas(ms) != n {
            self.patch(*ids::MACHINESETS, ms, |o| o["spec"]["replicas"] = json!(n));
        }
    }

    /// Creates one machine when short (all at once while booting) after the previous
    /// one is up, and deletes one when over, after the previous one is gone.
    fn scale_machine_set(&mut self, ms: &Obj, owned: &[&Obj]) {
        let desired = replicas(ms);
        let (deleting, active): (Vec<&Obj>, Vec<&Obj>) =
            owned.iter().partition(|m| is_terminating(m));
        let count = active.len() as i64;
        if count < desired {
            if !self.pace.booting
                && (!deleting.is_empty() || active.iter().any(|m| phase(m) != "Running"))
            {
                return;
            }
            self.add_machines(desired - count, &active, |p, siblings| {
                p.create_worker_machine(ms, siblings)
            });
        } else if count > desired
            && deleting.is_empty()
            && let Some(victim) = victim(&active)
        {
            self.delete(*ids::MACHINES, victim);
        }
    }

    fn create_worker_machine(&mut self, ms: &Obj, siblings: &[&Obj]) -> Option<Obj> {
        let cluster = str_at(&ms["spec"]["clusterName"]).to_string();
        let mut labels = ms["spec"]["template"]["metadata"]["labels"].clone();
        labels[CLUSTER_LABEL] = json!(cluster);
        labels[SET_LABEL] = json!(name_of(ms));
        let prefix = match label(ms, DEPLOYMENT_LABEL) {
            Some(md) => {
                labels[DEPLOYMENT_LABEL] = json!(md);
                md.to_string()
            }
            None => name_of(ms).to_string(),
        };
        let spec = ms["spec"]["template"]["spec"].clone();
        self.create_machine(ms, &prefix, &cluster, labels, spec, siblings)
    }

    pub(super) fn machine_set_status(&mut self, ms: &Obj, machines: &[Obj]) {
        let owned: Vec<&Obj> = machines
            .iter()
            .filter(|m| {
                namespace_of(m) == namespace_of(ms) && label(m, SET_LABEL) == Some(name_of(ms))
            })
            .collect();
        let desired = replicas(ms);
        let active = owned.iter().filter(|m| !is_terminating(m)).count() as i64;
        let ready = owned.iter().filter(|m| is_ready(m)).count() as i64;
        let conds = vec![
            Cond::yes("MachinesCreated"),
            Cond::when("MachinesReady", ready == active, || {
                Cond::no(
                    "",
                    "WaitingForMachines",
                    "Info",
                    format!("{} of {active} machines are not ready", active - ready),
                )
            }),
            resized(active, desired, "machines"),
        ];
        let status = json!({
            "replicas": owned.len(),
            "fullyLabeledReplicas": owned.len(),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": ms["metadata"]["generation"],
            "selector": selector_string(&ms["spec"]["selector"]),
        });
        self.write_status(*ids::MACHINESETS, ms, status, conds);
    }
}

pub(super) fn selector_string(selector: &Value) -> String {
    let mut pairs: Vec<String> = selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", str_at(v)))
        .collect();
    pairs.sort();
    pairs.join(",")
}
