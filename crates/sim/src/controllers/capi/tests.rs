//! Cluster API end to end: a service cluster managing its workload cluster.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use base64::Engine;
use chrono::{TimeZone, Utc};

use super::clusters::{CLUSTER_FINALIZER, PROVISIONED_ANNOTATION};
use super::nodes::NODE_ROLE_CONTROL_PLANE;
use super::*;
use crate::clock::SimClock;
use crate::controllers::objects::str_at;
use crate::controllers::readiness::node_ready;
use crate::store::{DeleteOptions, EventType};

const NS: &str = "capi-clusters";
const MD: &str = "acme-wc-md-0";
const KCP: &str = "acme-wc-control-plane";

#[derive(Debug, Default)]
struct TestFleet {
    clusters: Mutex<HashMap<String, Arc<ClusterSim>>>,
    decommissioned: Mutex<Vec<String>>,
    refuse: bool,
}

impl TestFleet {
    fn add(&self, name: &str, c: Arc<ClusterSim>) {
        self.clusters.lock().unwrap().insert(name.into(), c);
    }
}

impl FleetOps for TestFleet {
    fn cluster(&self, name: &str) -> Option<Arc<ClusterSim>> {
        self.clusters.lock().unwrap().get(name).cloned()
    }
    fn provision(&self, manager: &ClusterSim, name: &str, version: &str) -> Result<String, String> {
        if self.refuse {
            return Err("quota exceeded".into());
        }
        let env = name.trim_end_matches("-wc");
        self.add(
            name,
            Arc::new(sim(env, ClusterRole::Wc, manager.clock.clone(), false)),
        );
        Ok(format!(
            "apiVersion: v1\nkind: Config\n# {name} {version}\n"
        ))
    }
    fn decommission(&self, name: &str) {
        self.clusters.lock().unwrap().remove(name);
        self.decommissioned.lock().unwrap().push(name.into());
    }
}

fn sim(env: &str, role: ClusterRole, clock: SimClock, booting: bool) -> ClusterSim {
    let c = ClusterSim::for_test(env, role, clock, booting);
    for ns in ["default", "kube-system", NS] {
        c.store
            .create(*ids::NAMESPACES, json!({"metadata": {"name": ns}}))
            .unwrap();
    }
    c
}

fn infra_ref(template: &str) -> Value {
    json!({"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "SimMachineTemplate", "name": template, "namespace": NS})
}

/// The Cluster API objects of a cluster `name` (3 control-plane machines at
/// v1.33.4, `workers` workers), as the fleet builder makes them.
fn seed(sc: &ClusterSim, name: &str, workers: i64, provisioned: bool) {
    let labels = json!({CLUSTER_LABEL: name});
    let annotations = if provisioned {
        json!({PROVISIONED_ANNOTATION: "true"})
    } else {
        json!({})
    };
    let md = format!("{name}-md-0");
    let objects = [
        (
            *ids::MACHINE_TEMPLATES,
            json!({"metadata": {"name": "tmpl-v1", "namespace": NS},
            "spec": {"template": {"spec": {"flavor": "v2c-8gb"}}}}),
        ),
        (
            *ids::CLUSTERS,
            json!({"metadata": {"name": name, "namespace": NS, "labels": labels, "annotations": annotations},
            "spec": {"controlPlaneRef": {"kind": "KubeadmControlPlane", "name": format!("{name}-control-plane"), "namespace": NS}}}),
        ),
        (
            *ids::KCPS,
            json!({"metadata": {"name": format!("{name}-control-plane"), "namespace": NS, "labels": labels},
            "spec": {"replicas": 3, "version": "v1.33.4", "machineTemplate": {"infrastructureRef": infra_ref("tmpl-v1")}}}),
        ),
        (
            *ids::MACHINEDEPLOYMENTS,
            json!({"metadata": {"name": md, "namespace": NS, "labels": labels},
            "spec": {"clusterName": name, "replicas": workers,
                "selector": {"matchLabels": {CLUSTER_LABEL: name, DEPLOYMENT_LABEL: md}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "template": {"metadata": {"labels": {CLUSTER_LABEL: name, DEPLOYMENT_LABEL: md}},
                    "spec": {"clusterName": name, "version": "v1.33.4", "infrastructureRef": infra_ref("tmpl-v1"),
                        "bootstrap": {"configRef": {"kind": "KubeadmConfigTemplate", "name": md}}}}}}),
        ),
        (
            *ids::MHCS,
            json!({"metadata": {"name": format!("{name}-workers"), "namespace": NS, "labels": labels},
            "spec": {"clusterName": name, "maxUnhealthy": "40%", "selector": {"matchLabels": {DEPLOYMENT_LABEL: md}}}}),
        ),
    ];
    for (kind, o) in objects {
        let _ = sc.store.create(kind, o);
    }
}

/// An sc managing `acme-wc` (3 control-plane machines, 2 workers), booted.
fn booted(speed: f64) -> (Arc<ClusterSim>, Arc<ClusterSim>, TestFleet, Capi) {
    let clock = SimClock::new(Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap(), speed);
    let sc = Arc::new(sim("acme", ClusterRole::Sc, clock.clone(), true));
    let wc = Arc::new(sim("acme", ClusterRole::Wc, clock, true));
    let fleet = TestFleet::default();
    fleet.add("acme-sc", sc.clone());
    fleet.add("acme-wc", wc.clone());
    seed(&sc, "acme-wc", 2, true);
    let capi = Capi::new();
    settle(&capi, &sc, &fleet);
    sc.booting.store(false, Ordering::Relaxed);
    wc.booting.store(false, Ordering::Relaxed);
    (sc, wc, fleet, capi)
}

fn settle(capi: &Capi, sc: &ClusterSim, fleet: &TestFleet) {
    for _ in 0..50 {
        if !capi.reconcile(sc, fleet) {
            return;
        }
    }
    panic!("did not settle");
}

/// Passes over sped-up real time until `done` holds; `check` runs after each pass.
fn run_until(
    capi: &Capi,
    sc: &ClusterSim,
    fleet: &TestFleet,
    mut check: impl FnMut(),
    done: impl Fn() -> bool,
) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done() {
        assert!(std::time::Instant::now() < until, "condition not reached");
        capi.reconcile(sc, fleet);
        check();
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

fn get(c: &ClusterSim, kind: KindId, ns: &str, name: &str) -> Obj {
    c.store
        .get(kind, ns, name)
        .unwrap_or_else(|| panic!("{name} missing"))
}

fn machines(sc: &ClusterSim, owner_label: &str, owner: &str) -> Vec<Obj> {
    let (all, _) = sc.store.list(*ids::MACHINES, Some(NS));
    all.into_iter()
        .filter(|m| label(m, owner_label) == Some(owner))
        .collect()
}

fn ready_nodes(wc: &ClusterSim, control_plane: bool) -> usize {
    let (nodes, _) = wc.store.list(*ids::NODES, None);
    nodes
        .iter()
        .filter(|n| label(n, NODE_ROLE_CONTROL_PLANE).is_some() == control_plane && node_ready(n))
        .count()
}

fn set_spec(sc: &ClusterSim, kind: KindId, name: &str, f: impl FnOnce(&mut Value)) {
    let o = get(sc, kind, NS, name);
    assert!(patch(&sc.store, kind, &o, f).is_some());
}

#[test]
fn boot_brings_up_machines_nodes_and_statuses_then_stays_quiet() {
    let (sc, wc, fleet, capi) = booted(1.0);
    let cps = machines(&sc, CONTROL_PLANE_NAME_LABEL, KCP);
    let workers = machines(&sc, DEPLOYMENT_LABEL, MD);
    assert_eq!((cps.len(), workers.len()), (3, 2));
    for m in cps.iter().chain(&workers) {
        assert_eq!(phase(m), "Running");
        assert!(is_ready(m), "{m}");
        let node = get(&wc, *ids::NODES, "", name_of(m));
        assert_eq!(m["status"]["nodeRef"]["name"], name_of(&node));
        assert_eq!(node["status"]["nodeInfo"]["kubeletVersion"], "v1.33.4");
        assert_eq!(
            node["metadata"]["labels"]["kubernetes.io/hostname"],
            name_of(m)
        );
        assert!(
            node["status"]["addresses"][0]["address"]
                .as_str()
                .unwrap()
                .starts_with("10.0.")
        );
    }
    assert!(
        name_of(&cps[0]).starts_with("acme-wc-control-plane-")
            && name_of(&workers[0]).starts_with("acme-wc-md-0-")
    );
    let cp_node = get(&wc, *ids::NODES, "", name_of(&cps[0]));
    assert_eq!(cp_node["metadata"]["labels"][NODE_ROLE_CONTROL_PLANE], "");
    assert_eq!(cp_node["spec"]["taints"][0]["effect"], "NoSchedule");
    assert_eq!(cp_node["status"]["capacity"]["cpu"], "4");
    let worker_node = get(&wc, *ids::NODES, "", name_of(&workers[0]));
    assert_eq!(worker_node["status"]["allocatable"]["memory"], "32Gi");
    assert_eq!(
        worker_node["metadata"]["labels"]["node.kubernetes.io/instance-type"],
        "v2c-8gb"
    );
    let zones: HashSet<&str> = cps
        .iter()
        .map(|m| str_at(&m["spec"]["failureDomain"]))
        .collect();
    assert_eq!(zones.len(), 3, "control plane spread over the zones");

    let kcp = get(&sc, *ids::KCPS, NS, KCP);
    assert_eq!(kcp["status"]["version"], "v1.33.4");
    assert_eq!(
        (
            kcp["status"]["readyReplicas"].as_i64(),
            kcp["status"]["ready"].as_bool()
        ),
        (Some(3), Some(true))
    );
    assert!(condition_true(&kcp, "Ready") && condition_true(&kcp, "MachinesSpecUpToDate"));
    let md = get(&sc, *ids::MACHINEDEPLOYMENTS, NS, MD);
    assert_eq!(md["status"]["phase"], "Running");
    assert_eq!(md["status"]["updatedReplicas"], 2);
    assert_eq!(md["status"]["unavailableReplicas"], 0);
    let cluster = get(&sc, *ids::CLUSTERS, NS, "acme-wc");
    assert_eq!(cluster["status"]["phase"], "Provisioned");
    assert!(condition_true(&cluster, "Ready") && cluster["status"]["controlPlaneReady"] == true);
    assert!(has_finalizer(&cluster, CLUSTER_FINALIZER));
    let mhc = get(&sc, *ids::MHCS, NS, "acme-wc-workers");
    assert_eq!(
        (
            mhc["status"]["expectedMachines"].as_i64(),
            mhc["status"]["currentHealthy"].as_i64()
        ),
        (Some(2), Some(2))
    );
    assert_eq!(mhc["status"]["targets"].as_array().unwrap().len(), 2);

    let (rv_sc, rv_wc) = (sc.store.resource_version(), wc.store.resource_version());
    assert!(!capi.reconcile(&sc, &fleet));
    assert_eq!(
        (sc.store.resource_version(), wc.store.resource_version()),
        (rv_sc, rv_wc)
    );
    assert!(
        !capi.reconcile(&wc, &fleet),
        "a workload cluster runs no Cluster API"
    );
}

#[test]
fn scaling_a_machine_deployment_up_adds_one_machine_and_node() {
    let (sc, wc, fleet, capi) = booted(2000.0);
    set_spec(&sc, *ids::MACHINEDEPLOYMENTS, MD, |o| {
        o["spec"]["replicas"] = json!(3)
    });
    let before: Vec<String> = machines(&sc, DEPLOYMENT_LABEL, MD)
        .iter()
        .map(|m| name_of(m).to_string())
        .collect();
    let mut phases = Vec::new();
    run_until(
        &capi,
        &sc,
        &fleet,
        || {
            let machines = machines(&sc, DEPLOYMENT_LABEL, MD);
            for m in machines
                .iter()
                .filter(|m| !before.contains(&name_of(m).to_string()))
            {
                let p = phase(m).to_string();
                if !phases.contains(&p) {
                    phases.push(p);
                }
            }
        },
        || get(&sc, *ids::MACHINEDEPLOYMENTS, NS, MD)["status"]["readyReplicas"] == 3,
    );
    assert_eq!(machines(&sc, DEPLOYMENT_LABEL, MD).len(), 3);
    assert_eq!(ready_nodes(&wc, false), 3);
    assert_eq!(
        phases,
        ["Pending", "Provisioning", "Provisioned", "Running"]
    );
    run_until(
        &capi,
        &sc,
        &fleet,
        || {},
        || get(&sc, *ids::MACHINEDEPLOYMENTS, NS, MD)["status"]["phase"] == "Running",
    );
}

/// A pod on each worker: one the drain evicts, one of a DaemonSet it leaves.
fn worker_pods(wc: &ClusterSim) {
    let (nodes, _) = wc.store.list(*ids::NODES, None);
    for n in nodes
        .iter()
        .filter(|n| label(n, NODE_ROLE_CONTROL_PLANE).is_none())
    {
        let node = name_of(n);
        wc.store
            .create(*ids::PODS, json!({"metadata": {"name": format!("app-{node}"), "namespace": "default"},
                "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0, "containers": [{"name": "c", "image": "x"}]}}))
            .unwrap();
        wc.store
            .create(*ids::PODS, json!({"metadata": {"name": format!("ds-{node}"), "namespace": "default",
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "ds", "uid": "1", "controller": true}]},
                "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x"}]}}))
            .unwrap();
    }
}

#[test]
fn a_version_change_replaces_workers_one_at_a_time_with_cordon_and_drain() {
    let (sc, wc, fleet, capi) = booted(2000.0);
    worker_pods(&wc);
    let old: Vec<String> = machines(&sc, DEPLOYMENT_LABEL, MD)
        .iter()
        .map(|m| name_of(m).to_string())
        .collect();
    let mut events = wc.store.subscribe();
    set_spec(&sc, *ids::MACHINEDEPLOYMENTS, MD, |o| {
        o["spec"]["template"]["spec"]["version"] = json!("v1.33.5")
    });
    let done = || {
        let md = get(&sc, *ids::MACHINEDEPLOYMENTS, NS, MD);
        let st = &md["status"];
        st["observedGeneration"] == md["metadata"]["generation"]
            && st["updatedReplicas"] == 2
            && st["readyReplicas"] == 2
            && st["replicas"] == 2
            && st["phase"] == "Running"
    };
    let mut max_machines = 0;
    run_until(
        &capi,
        &sc,
        &fleet,
        || {
            let n = machines(&sc, DEPLOYMENT_LABEL, MD).len();
            max_machines = max_machines.max(n);
            assert!(n <= 3, "more than replicas + 1 machines");
            assert!(
                ready_nodes(&wc, false) >= 2,
                "fewer than replicas Ready nodes"
            );
        },
        done,
    );
    assert_eq!(max_machines, 3);
    let now: Vec<Obj> = machines(&sc, DEPLOYMENT_LABEL, MD);
    assert!(
        now.iter()
            .all(|m| m["spec"]["version"] == "v1.33.5" && !old.contains(&name_of(m).to_string()))
    );
    for m in &now {
        assert_eq!(
            get(&wc, *ids::NODES, "", name_of(m))["status"]["nodeInfo"]["kubeletVersion"],
            "v1.33.5"
        );
    }
    let (sets, _) = sc.store.list(*ids::MACHINESETS, Some(NS));
    assert_eq!(sets.iter().filter(|s| replicas(s) > 0).count(), 1);
    capi.reconcile(&sc, &fleet);
    assert_eq!(
        sc.store.count(*ids::MACHINESETS),
        1,
        "the old MachineSet is gone"
    );

    // Each old node was cordoned before it was deleted, and replaced one at a time.
    let mut cordoned = HashSet::new();
    let mut order = Vec::new();
    while let Ok(e) = events.try_recv() {
        if e.kind != *ids::NODES {
            continue;
        }
        let name = name_of(&e.object).to_string();
        match e.etype {
            EventType::Modified if e.object["spec"]["unschedulable"] == true => {
                cordoned.insert(name);
            }
            EventType::Deleted => {
                assert!(cordoned.contains(&name), "{name} deleted without cordon");
                order.push(format!("-{name}"));
            }
            EventType::Added => order.push(format!("+{name}")),
            _ => {}
        }
    }
    let signs: String = order.iter().map(|o| &o[..1]).collect();
    assert_eq!(signs, "+-+-");
    for node in &old {
        assert!(
            wc.store
                .get(*ids::PODS, "default", &format!("app-{node}"))
                .is_none(),
            "app pod evicted"
        );
        let ds = get(&wc, *ids::PODS, "default", &format!("ds-{node}"));
        assert!(!is_terminating(&ds), "DaemonSet pods are not evicted");
    }
}

#[test]
fn a_drain_blocked_by_a_disruption_budget_waits_and_says_why() {
    let (sc, wc, fleet, capi) = booted(2000.0);
    let victim = name_of(&machines(&sc, DEPLOYMENT_LABEL, MD)[0]).to_string();
    wc.store
        .create(*ids::PODS, json!({"metadata": {"name": "db-0", "namespace": "default", "labels": {"app": "db"}},
            "spec": {"nodeName": victim, "terminationGracePeriodSeconds": 0, "containers": [{"name": "c", "image": "x"}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}))
        .unwrap();
    wc.store
        .create(*ids::PDBS, json!({"metadata": {"name": "db", "namespace": "default"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "db"}}},
            "status": {"disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 1, "expectedPods": 1}}))
        .unwrap();
    sc.store
        .delete(*ids::MACHINES, NS, &victim, DeleteOptions::default())
        .unwrap();
    run_until(
        &capi,
        &sc,
        &fleet,
        || {},
        || {
            let m = get(&sc, *ids::MACHINES, NS, &victim);
            condition(&m, "DrainingSucceeded")["status"] == "False"
        },
    );
    let m = get(&sc, *ids::MACHINES, NS, &victim);
    let drained = condition(&m, "DrainingSucceeded");
    assert_eq!(drained["reason"], "Draining");
    assert!(
        str_at(&drained["message"]).contains("default/db-0"),
        "{drained}"
    );
    assert_eq!(phase(&m), "Deleting");
    let node = get(&wc, *ids::NODES, "", &victim);
    assert_eq!(node["spec"]["unschedulable"], true);

    wc.store
        .delete(*ids::PDBS, "default", "db", DeleteOptions::default())
        .unwrap();
    run_until(
        &capi,
        &sc,
        &fleet,
        || {},
        || sc.store.get(*ids::MACHINES, NS, &victim).is_none(),
    );
    assert!(wc.store.get(*ids::NODES, "", &victim).is_none());
    // The MachineSet replaces it.
    run_until(
        &capi,
        &sc,
        &fleet,
        || {},
        || get(&sc, *ids::MACHINEDEPLOYMENTS, NS, MD)["status"]["readyReplicas"] == 2,
    );
}

#[test]
fn a_control_plane_upgrade_rolls_one_machine_at_a_time_reporting_the_minimum_version() {
    let (sc, wc, fleet, capi) = booted(2000.0);
    set_spec(&sc, *ids::KCPS, KCP, |o| {
        o["spec"]["version"] = json!("v1.34.1")
    });
    let mut saw_rolling = false;
    let done = || {
        let kcp = get(&sc, *ids::KCPS, NS, KCP);
        kcp["status"]["version"] == "v1.34.1"
            && kcp["status"]["updatedReplicas"] == 3
            && kcp["status"]["replicas"] == 3
            && condition_true(&kcp, "Ready")
    };
    run_until(
        &capi,
        &sc,
        &fleet,
        || {
            let ms = machines(&sc, CONTROL_PLANE_NAME_LABEL, KCP);
            assert!(ms.len() <= 4);
            assert!(ready_nodes(&wc, true) >= 3);
            let kcp = get(&sc, *ids::KCPS, NS, KCP);
            if ms.iter().any(|m| m["spec"]["version"] == "v1.33.4")
                && kcp["status"]["replicas"].as_u64() == Some(ms.len() as u64)
            {
                assert_eq!(
                    kcp["status"]["version"], "v1.33.4",
                    "the minimum while old machines remain"
                );
            }
            let up_to_date = condition(&kcp, "MachinesSpecUpToDate");
            if up_to_date["status"] == "False" {
                assert_eq!(up_to_date["reason"], "RollingUpdateInProgress");
                saw_rolling = true;
            }
        },
        done,
    );
    assert!(saw_rolling);
    let (nodes, _) = wc.store.list(*ids::NODES, None);
    let versions: Vec<&str> = nodes
        .iter()
        .filter(|n| label(n, NODE_ROLE_CONTROL_PLANE).is_some())
        .map(|n| str_at(&n["status"]["nodeInfo"]["kubeletVersion"]))
        .collect();
    assert_eq!(versions, ["v1.34.1"; 3]);
}

#[test]
fn a_new_cluster_is_provisioned_through_the_fleet_with_a_kubeconfig_secret() {
    let (sc, _wc, fleet, capi) = booted(1.0);
    sc.booting.store(true, Ordering::Relaxed);
    seed(&sc, "beta-wc", 1, false);
    settle(&capi, &sc, &fleet);
    let new = fleet.cluster("beta-wc").expect("provisioned");
    let secret = get(&sc, *ids::SECRETS, NS, "beta-wc-kubeconfig");
    assert_eq!(secret["type"], "cluster.x-k8s.io/secret");
    assert_eq!(secret["metadata"]["labels"][CLUSTER_LABEL], "beta-wc");
    let kubeconfig = base64::engine::general_purpose::STANDARD
        .decode(str_at(&secret["data"]["value"]))
        .unwrap();
    assert!(
        String::from_utf8(kubeconfig)
            .unwrap()
            .contains("# beta-wc v1.33.4")
    );
    let cluster = get(&sc, *ids::CLUSTERS, NS, "beta-wc");
    assert_eq!(annotation(&cluster, PROVISIONED_ANNOTATION), Some("true"));
    assert_eq!(cluster["status"]["phase"], "Provisioned");
    assert_eq!(
        new.store.count(*ids::NODES),
        4,
        "3 control-plane nodes and a worker"
    );

    let refusing = TestFleet {
        refuse: true,
        ..TestFleet::default()
    };
    seed(&sc, "gamma-wc", 1, false);
    settle(&capi, &sc, &refusing);
    let gamma = get(&sc, *ids::CLUSTERS, NS, "gamma-wc");
    assert_eq!(gamma["status"]["phase"], "Failed");
    assert_eq!(gamma["status"]["failureMessage"], "quota exceeded");
}

#[test]
fn deleting_a_cluster_removes_its_machines_and_decommissions_it() {
    let (sc, wc, fleet, capi) = booted(1.0);
    sc.booting.store(true, Ordering::Relaxed);
    sc.store
        .delete(*ids::CLUSTERS, NS, "acme-wc", DeleteOptions::default())
        .unwrap();
    settle(&capi, &sc, &fleet);
    assert!(sc.store.get(*ids::CLUSTERS, NS, "acme-wc").is_none());
    for kind in [
        *ids::MACHINES,
        *ids::MACHINESETS,
        *ids::MACHINEDEPLOYMENTS,
        *ids::KCPS,
        *ids::MHCS,
    ] {
        assert_eq!(
            sc.store.count(kind),
            0,
            "{}",
            crate::registry::KINDS[kind].kind
        );
    }
    assert_eq!(wc.store.count(*ids::NODES), 0);
    assert_eq!(*fleet.decommissioned.lock().unwrap(), ["acme-wc"]);
}
