//! The Node each Machine owns in its target cluster: created not Ready, made Ready when
//! the machine is up.

use serde_json::{Value, json};

use super::{CONTROL_PLANE_LABEL, Pass, label};
use crate::cluster::ClusterSim;
use crate::controllers::objects::{patch, status_mut, str_at};
use crate::hash::fnv64;
use crate::registry::ids;
use crate::store::{Obj, name_of, namespace_of, uid_of};

pub(super) const NODE_ROLE_CONTROL_PLANE: &str = "node-role.kubernetes.io/control-plane";

impl Pass<'_> {
    pub(super) fn mark_node_ready(&mut self, target: &ClusterSim, node: &Value) {
        let now = self.now_str();
        self.changed |= patch(&target.store, *ids::NODES, node, |n| {
            set_node_condition(
                n,
                "Ready",
                true,
                "KubeletReady",
                "kubelet is posting ready status",
                &now,
            );
        })
        .is_some();
    }

    /// The machine's Node in its target cluster, created (not yet Ready) if missing.
    pub(super) fn ensure_node(&mut self, m: &Obj, target: &ClusterSim) -> Option<Obj> {
        if let Some(n) = target.store.get(*ids::NODES, "", name_of(m)) {
            return Some(n);
        }
        let node = self.node_for(m, target);
        let created = target.store.create(*ids::NODES, node).ok();
        self.changed |= created.is_some();
        created
    }

    fn node_for(&self, m: &Obj, target: &ClusterSim) -> Value {
        let name = name_of(m);
        let control_plane = label(m, CONTROL_PLANE_LABEL).is_some();
        let infra = &m["spec"]["infrastructureRef"];
        let template = self.store().get(
            *ids::MACHINE_TEMPLATES,
            match str_at(&infra["namespace"]) {
                "" => namespace_of(m),
                ns => ns,
            },
            str_at(&infra["name"]),
        );
        let t = template
            .as_ref()
            .map_or(&Value::Null, |t| &t["spec"]["template"]["spec"]);
        let (cpu, memory) = if control_plane {
            ("4", "16Gi")
        } else {
            ("8", "32Gi")
        };
        let cpu = t["cpu"].as_str().unwrap_or(cpu);
        let memory = t["memory"].as_str().unwrap_or(memory);
        let instance = t["flavor"]
            .as_str()
            .or(t["instanceType"].as_str())
            .unwrap_or("sim.standard");
        let zone = str_at(&m["spec"]["failureDomain"]);
        let version = str_at(&m["spec"]["version"]);
        let cluster = str_at(&m["spec"]["clusterName"]);
        let now = self.now_str();
        let mut labels = json!({
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "node.kubernetes.io/instance-type": instance,
            "topology.kubernetes.io/zone": zone,
        });
        let mut taints = json!([]);
        if control_plane {
            labels[NODE_ROLE_CONTROL_PLANE] = json!("");
            taints = json!([{"key": NODE_ROLE_CONTROL_PLANE, "effect": "NoSchedule"}]);
        }
        let owner = m["metadata"]["ownerReferences"][0].clone();
        let resources =
            json!({"cpu": cpu, "memory": memory, "pods": "110", "ephemeral-storage": "100Gi"});
        let pressure = |kind: &str, reason: &str, message: &str| {
            json!({"type": kind, "status": "False", "reason": reason, "message": message,
                "lastHeartbeatTime": now, "lastTransitionTime": now})
        };
        json!({
            "metadata": {"name": name, "labels": labels, "annotations": {
                "cluster.x-k8s.io/machine": name,
                "cluster.x-k8s.io/cluster-name": cluster,
                "cluster.x-k8s.io/cluster-namespace": namespace_of(m),
                "cluster.x-k8s.io/owner-kind": owner["kind"],
                "cluster.x-k8s.io/owner-name": owner["name"],
            }},
            "spec": {"providerID": format!("sim://{cluster}/{name}"), "taints": taints},
            "status": {
                "capacity": resources,
                "allocatable": resources,
                "addresses": [
                    {"type": "InternalIP", "address": free_ip(target)},
                    {"type": "Hostname", "address": name},
                ],
                "conditions": [
                    pressure("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                    pressure("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                    pressure("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                    {"type": "Ready", "status": "False", "reason": "KubeletNotReady",
                        "message": "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized",
                        "lastHeartbeatTime": now, "lastTransitionTime": now},
                ],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {
                    "kubeletVersion": version,
                    "kubeProxyVersion": version,
                    "containerRuntimeVersion": "containerd://1.7.27",
                    "osImage": "Ubuntu 24.04.2 LTS",
                    "kernelVersion": "6.8.0-60-generic",
                    "operatingSystem": "linux",
                    "architecture": "amd64",
                    "machineID": format!("{:032x}", u128::from(fnv64(name.as_bytes())) << 64 | u128::from(fnv64(cluster.as_bytes()))),
                    "systemUUID": uid_of(m),
                    "bootID": uid_of(m),
                },
            },
        })
    }
}

pub(super) fn node_ref(node: &Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Node", "name": name_of(node), "uid": uid_of(node)})
}

/// An unused 10.0.x.y address in the target cluster.
fn free_ip(target: &ClusterSim) -> String {
    let (nodes, _) = target.store.list(*ids::NODES, None);
    let used: Vec<&str> = nodes
        .iter()
        .flat_map(|n| n["status"]["addresses"].as_array().into_iter().flatten())
        .filter_map(|a| a["address"].as_str())
        .collect();
    loop {
        let ip = format!(
            "10.0.{}.{}",
            rand::random_range(0..=255u8),
            rand::random_range(2..=254u8)
        );
        if !used.contains(&ip.as_str()) {
            return ip;
        }
    }
}

fn set_node_condition(n: &mut Value, kind: &str, ok: bool, reason: &str, message: &str, now: &str) {
    let status = if ok { "True" } else { "False" };
    let v = json!({"type": kind, "status": status, "reason": reason, "message": message,
        "lastHeartbeatTime": now, "lastTransitionTime": now});
    let conds = status_mut(n)
        .entry("conditions")
        .or_insert_with(|| json!([]));
    if let Some(list) = conds.as_array_mut() {
        match list.iter().position(|c| c["type"] == kind) {
            Some(i) if list[i]["status"] == status => {}
            Some(i) => list[i] = v,
            None => list.push(v),
        }
    }
}
