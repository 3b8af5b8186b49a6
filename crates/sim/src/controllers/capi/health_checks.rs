//! MachineHealthChecks: which machines they watch and whether remediation is allowed.

use serde_json::{Value, json};

use super::conditions::Cond;
use super::{Pass, is_ready};
use crate::controllers::objects::{is_terminating, phase};
use crate::labels::selector_matches;
use crate::registry::ids;
use crate::store::{Obj, name_of, namespace_of};

impl Pass<'_> {
    pub(super) fn health_check_status(&mut self, mhc: &Obj, machines: &[Obj]) {
        let cluster = &mhc["spec"]["clusterName"];
        let targets: Vec<&Obj> = machines
            .iter()
            .filter(|m| {
                namespace_of(m) == namespace_of(mhc)
                    && !is_terminating(m)
                    && m["spec"]["clusterName"] == *cluster
                    && selects(&mhc["spec"]["selector"], &m["metadata"]["labels"])
            })
            .collect();
        let expected = targets.len() as i64;
        let healthy = targets.iter().filter(|m| is_ready(m)).count() as i64;
        // Machines still coming up are neither healthy nor counted against the budget.
        let unhealthy = targets
            .iter()
            .filter(|m| phase(m) == "Running" && !is_ready(m))
            .count() as i64;
        let max = max_unhealthy(&mhc["spec"]["maxUnhealthy"], expected);
        let mut names: Vec<&str> = targets.iter().map(|m| name_of(m)).collect();
        names.sort_unstable();
        let conds = vec![Cond::when("RemediationAllowed", unhealthy <= max, || {
            Cond::no(
                "",
                "TooManyUnhealthy",
                "Warning",
                format!(
                    "Remediation is not allowed, the number of not started or unhealthy machines exceeds maxUnhealthy (total: {expected}, unhealthy: {unhealthy}, maxUnhealthy: {})",
                    mhc["spec"]["maxUnhealthy"]
                        .as_str()
                        .map_or_else(|| max.to_string(), String::from)
                ),
            )
        })];
        let status = json!({
            "expectedMachines": expected,
            "currentHealthy": healthy,
            "remediationsAllowed": (max - unhealthy).max(0),
            "targets": names,
            "observedGeneration": mhc["metadata"]["generation"],
        });
        self.write_status(*ids::MHCS, mhc, status, conds);
    }
}

fn max_unhealthy(v: &Value, total: i64) -> i64 {
    match (v.as_i64(), v.as_str()) {
        (Some(n), _) => n,
        (None, Some(p)) => p
            .trim_end_matches('%')
            .parse::<i64>()
            .map_or(total, |p| p * total / 100),
        _ => total,
    }
}

/// A MachineHealthCheck's selector; a missing one is empty (the field is not optional
/// in Cluster API), so it matches every machine.
fn selects(selector: &Value, labels: &Value) -> bool {
    !selector.is_object() || selector_matches(selector, labels)
}
