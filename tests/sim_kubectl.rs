//! The simulator speaks real Kubernetes: the real kubectl, an independent client,
//! drives it through the operations on-call engineers use.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use common::{eventually, small, stderr, stdout};

const WAIT: Duration = Duration::from_secs(60);

#[test]
fn get_nodes_shows_control_plane_and_workers() {
    let sim = small();
    let out = sim.ok(&["--context", "acme-wc", "get", "nodes"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0]
            .split_whitespace()
            .eq(["NAME", "STATUS", "ROLES", "AGE", "VERSION"]),
        "{out}"
    );
    let cp = lines.iter().filter(|l| l.contains("control-plane")).count();
    assert_eq!(cp, 3, "three control-plane nodes:\n{out}");
    assert!(lines.len() - 1 > cp, "and some workers:\n{out}");
    assert!(
        lines[1..].iter().all(|l| l.contains(" Ready ")),
        "all Ready:\n{out}"
    );
    // Short names resolve through discovery.
    assert_eq!(
        sim.ok(&["--context", "acme-wc", "get", "no", "-o", "name"])
            .lines()
            .count(),
        lines.len() - 1
    );
}

#[test]
fn get_pods_all_namespaces_wide() {
    let sim = small();
    let out = sim.ok(&["--context", "acme-sc", "get", "pods", "-A", "-o", "wide"]);
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        &header[..8],
        [
            "NAMESPACE",
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE"
        ],
        "{out}"
    );
    let rows: Vec<&str> = out.lines().skip(1).collect();
    assert!(rows.len() > 40, "a living cluster:\n{out}");
    for ns in ["harbor", "opensearch-system", "dex", "monitoring", "velero"] {
        assert!(rows.iter().any(|r| r.starts_with(ns)), "no pods in {ns}");
    }
    // Long-running pods run; the backup CronJobs' pods may have completed.
    assert!(
        rows.iter()
            .all(|r| r.contains("Running") || r.contains("Completed")),
        "{out}"
    );
    // The wide columns carry pod IP and node name.
    assert!(
        rows.iter().filter(|r| r.contains("Running")).all(|r| r
            .split_whitespace()
            .nth(6)
            .is_some_and(|ip| ip.starts_with("10."))),
        "{out}"
    );
}

#[test]
fn api_resources_lists_core_apps_velero_and_cluster_api() {
    let sim = small();
    let out = sim.ok(&["--context", "acme-sc", "api-resources"]);
    let has = |name: &str, short: &str, version: &str, kind: &str| {
        out.lines().any(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.first() == Some(&name)
                && w.contains(&short)
                && w.contains(&version)
                && w.last() == Some(&kind)
        })
    };
    assert!(has("pods", "po", "v1", "Pod"), "{out}");
    assert!(has("nodes", "no", "v1", "Node"), "{out}");
    assert!(has("namespaces", "ns", "v1", "Namespace"), "{out}");
    assert!(
        has("deployments", "deploy", "apps/v1", "Deployment"),
        "{out}"
    );
    assert!(
        out.contains("velero.io/v1") && out.contains("BackupStorageLocation"),
        "{out}"
    );
    assert!(
        out.contains("cluster.x-k8s.io/v1beta1") && out.contains("MachineDeployment"),
        "{out}"
    );
    assert!(
        out.contains("KubeadmControlPlane") && out.contains("leases"),
        "{out}"
    );
}

#[test]
fn watch_sees_a_scale_up() {
    let sim = small();
    let mut child = sim
        .kubectl_command(&[
            "--context",
            "acme-wc",
            "get",
            "pods",
            "-n",
            "production",
            "-l",
            "app=search",
            "-w",
            "--output-watch-events",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl get -w starts");
    let (tx, rx) = mpsc::channel();
    let reader = BufReader::new(child.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in reader.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // The initial listing arrives first.
    let first = rx
        .recv_timeout(WAIT)
        .expect("watch prints the current pods");
    assert!(
        first.contains("EVENT") || first.contains("ADDED"),
        "{first}"
    );
    let before: Vec<String> = rx.try_iter().collect();
    let existing = sim.ok(&[
        "--context",
        "acme-wc",
        "get",
        "pods",
        "-n",
        "production",
        "-l",
        "app=search",
        "-o",
        "name",
    ]);
    let target = (existing.lines().count() + 2).to_string();
    sim.ok(&[
        "--context",
        "acme-wc",
        "scale",
        "deployment",
        "search",
        "-n",
        "production",
        &format!("--replicas={target}"),
    ]);
    let new_pod = eventually("a new pod in the watch", WAIT, || {
        let line = rx.recv_timeout(Duration::from_millis(500)).ok()?;
        let name = line.split_whitespace().nth(1)?.to_string();
        (line.starts_with("ADDED")
            && !existing.contains(&name)
            && !before.iter().any(|b| b.contains(&name)))
        .then_some(name)
    });
    assert!(new_pod.starts_with("search-"), "{new_pod}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn scale_deployment_reaches_ready_replicas() {
    let sim = small();
    sim.ok(&[
        "--context",
        "acme-wc",
        "scale",
        "deploy/orders-api",
        "-n",
        "production",
        "--replicas=5",
    ]);
    eventually("5 ready replicas", WAIT, || {
        let ready = sim.ok(&[
            "--context",
            "acme-wc",
            "get",
            "deploy",
            "orders-api",
            "-n",
            "production",
            "-o",
            "jsonpath={.status.readyReplicas}",
        ]);
        (ready.trim() == "5").then_some(())
    });
    sim.ok(&[
        "--context",
        "acme-wc",
        "scale",
        "deploy/orders-api",
        "-n",
        "production",
        "--replicas=1",
    ]);
    eventually("one pod left", WAIT, || {
        let pods = sim.ok(&[
            "--context",
            "acme-wc",
            "get",
            "pods",
            "-n",
            "production",
            "-l",
            "app=orders-api",
            "-o",
            "name",
        ]);
        (pods.lines().count() == 1).then_some(())
    });
}

fn a_worker(sim: &common::Sim, ctx: &str) -> String {
    let out = sim.ok(&[
        "--context",
        ctx,
        "get",
        "nodes",
        "-l",
        "!node-role.kubernetes.io/control-plane",
        "-o",
        "name",
    ]);
    out.lines()
        .next()
        .expect("a worker node")
        .trim_start_matches("node/")
        .to_string()
}

#[test]
fn cordon_and_uncordon() {
    let sim = small();
    let node = a_worker(&sim, "acme-wc");
    let tainted = || {
        sim.ok(&[
            "--context",
            "acme-wc",
            "get",
            "node",
            &node,
            "-o",
            "jsonpath={.spec.taints[*].key}",
        ])
        .contains("node.kubernetes.io/unschedulable")
    };
    sim.ok(&["--context", "acme-wc", "cordon", &node]);
    let row = sim.ok(&["--context", "acme-wc", "get", "node", &node]);
    assert!(row.contains("Ready,SchedulingDisabled"), "{row}");
    eventually("the unschedulable taint", WAIT, || tainted().then_some(()));
    sim.ok(&["--context", "acme-wc", "uncordon", &node]);
    let row = sim.ok(&["--context", "acme-wc", "get", "node", &node]);
    assert!(!row.contains("SchedulingDisabled"), "{row}");
    eventually("the taint gone with the cordon", WAIT, || {
        (!tainted()).then_some(())
    });
}

const PDB_DEMO: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: pdb-demo, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: pdb-demo}}
  template:
    metadata: {labels: {app: pdb-demo}}
    spec:
      containers: [{name: nginx, image: \"nginx:1.27\"}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: pdb-demo, namespace: default}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: pdb-demo}}
";

#[test]
fn drain_waits_for_the_disruption_budget() {
    let sim = small();
    let ctx = ["--context", "acme-sc"];
    let k = |args: &[&str]| sim.ok(&[&ctx[..], args].concat());
    // kubectl's generator commands (`create deployment`, `create pdb`) send protobuf
    // bodies; manifests go as JSON, which the simulator decodes.
    let manifest = sim.dir.path().join("pdb-demo.yaml");
    std::fs::write(&manifest, PDB_DEMO).unwrap();
    k(&["apply", "-f", manifest.to_str().unwrap()]);
    let node = eventually("pdb-demo running", WAIT, || {
        let n = k(&[
            "get",
            "pods",
            "-n",
            "default",
            "-l",
            "app=pdb-demo",
            "-o",
            "jsonpath={.items[?(@.status.phase==\"Running\")].spec.nodeName}",
        ]);
        (!n.trim().is_empty()).then(|| n.trim().to_string())
    });
    eventually("the budget to be computed", WAIT, || {
        let allowed = k(&[
            "get",
            "pdb",
            "pdb-demo",
            "-n",
            "default",
            "-o",
            "jsonpath={.status.currentHealthy}",
        ]);
        (allowed.trim() == "1").then_some(())
    });
    let blocked = sim.kubectl(
        &[
            &ctx[..],
            &[
                "drain",
                &node,
                "--ignore-daemonsets",
                "--delete-emptydir-data",
                "--timeout=12s",
            ],
        ]
        .concat(),
    );
    assert!(
        !blocked.status.success(),
        "drain must not pass a budget that allows nothing"
    );
    let msg = stderr(&blocked) + &stdout(&blocked);
    assert!(msg.contains("disruption budget"), "{msg}");
    assert!(msg.contains("pdb-demo"), "{msg}");
    // The node stays cordoned, and the guarded pod stays where it was.
    assert!(k(&["get", "node", &node]).contains("SchedulingDisabled"));
    k(&[
        "patch",
        "pdb",
        "pdb-demo",
        "-n",
        "default",
        "--type=merge",
        "-p",
        "{\"spec\":{\"minAvailable\":0}}",
    ]);
    let done = sim.kubectl(
        &[
            &ctx[..],
            &[
                "drain",
                &node,
                "--ignore-daemonsets",
                "--delete-emptydir-data",
                "--timeout=90s",
            ],
        ]
        .concat(),
    );
    assert!(
        done.status.success(),
        "drain once the budget allows it: {}",
        stderr(&done)
    );
    assert!(stdout(&done).contains("drained"), "{}", stdout(&done));
    let moved = eventually("pdb-demo back on another node", WAIT, || {
        let n = k(&[
            "get",
            "pods",
            "-n",
            "default",
            "-l",
            "app=pdb-demo",
            "-o",
            "jsonpath={.items[?(@.status.phase==\"Running\")].spec.nodeName}",
        ]);
        (!n.trim().is_empty()).then(|| n.trim().to_string())
    });
    assert_ne!(moved, node);
    let left = k(&[
        "get",
        "pods",
        "-A",
        "--field-selector",
        &format!("spec.nodeName={node}"),
        "-o",
        "jsonpath={.items[*].metadata.ownerReferences[0].kind}",
    ]);
    assert!(
        left.split_whitespace().all(|kind| kind == "DaemonSet"),
        "only DaemonSet pods remain: {left}"
    );
}

#[test]
fn auth_can_i_answers_per_role() {
    let sim = small();
    let can = |user: &str, args: &[&str]| {
        let out = sim.kubectl(
            &[
                &["--context", "acme-wc", "--user", user, "auth", "can-i"][..],
                args,
            ]
            .concat(),
        );
        stdout(&out).trim().to_string()
    };
    assert_eq!(can("acme-wc", &["delete", "namespaces"]), "yes");
    assert_eq!(can("acme-wc", &["*", "*"]), "yes");
    assert_eq!(can("acme-wc-operator", &["patch", "nodes"]), "yes");
    assert_eq!(
        can(
            "acme-wc-operator",
            &["create", "pods", "--subresource=eviction"]
        ),
        "yes"
    );
    assert_eq!(
        can(
            "acme-wc-readonly",
            &["create", "pods", "--subresource=eviction"]
        ),
        "no"
    );
    assert_eq!(can("acme-wc-operator", &["get", "secrets"]), "no");
    assert_eq!(can("acme-wc-operator", &["delete", "namespaces"]), "no");
    assert_eq!(can("acme-wc-readonly", &["list", "pods"]), "yes");
    assert_eq!(can("acme-wc-readonly", &["patch", "nodes"]), "no");
    let who = sim.ok(&[
        "--context",
        "acme-wc",
        "--user",
        "acme-wc-operator",
        "auth",
        "whoami",
    ]);
    assert!(who.contains("operator"), "{who}");
    // The role is enforced, not only reported. (kubectl exits 0 after a refused
    // cordon, so check what happened to the node.)
    let node = a_worker(&sim, "acme-wc");
    let denied = sim.kubectl(&[
        "--context",
        "acme-wc",
        "--user",
        "acme-wc-readonly",
        "cordon",
        &node,
    ]);
    assert!(stderr(&denied).contains("forbidden"), "{}", stderr(&denied));
    let row = sim.ok(&["--context", "acme-wc", "get", "node", &node]);
    assert!(!row.contains("SchedulingDisabled"), "{row}");
}

/// `kubectl auth can-i --list` reads a SelfSubjectRulesReview, as it does from a real
/// apiserver: a viewer reads pods but not secrets, an operator may also evict.
#[test]
fn auth_can_i_list_shows_each_roles_rules() {
    let sim = small();
    let list = |user: &str| {
        sim.ok(&[
            "--context",
            "acme-wc",
            "--user",
            user,
            "auth",
            "can-i",
            "--list",
        ])
    };
    let row = |out: &str, resource: &str| {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(resource))
            .map(str::to_string)
    };
    let viewer = list("acme-wc-readonly");
    assert!(viewer.starts_with("Resources"), "a table:\n{viewer}");
    let pods = row(&viewer, "pods").unwrap_or_else(|| panic!("pods listed:\n{viewer}"));
    assert!(pods.contains("[get list watch]"), "{pods}");
    assert_eq!(
        row(&viewer, "secrets"),
        None,
        "no secrets for a viewer:\n{viewer}"
    );
    assert_eq!(row(&viewer, "pods/eviction"), None, "{viewer}");
    let operator = list("acme-wc-operator");
    let evict = row(&operator, "pods/eviction").unwrap_or_else(|| panic!("{operator}"));
    assert!(evict.contains("[create]"), "{evict}");
    let admin = list("acme-wc");
    assert!(
        row(&admin, "*.*").is_some_and(|r| r.contains("[*]")),
        "{admin}"
    );
}

/// The same seed builds the same fleet, name for name: node and pod names are drawn
/// from the seed, not from a random generator.
#[test]
fn the_same_seed_builds_the_same_names() {
    let names = || {
        let sim = small();
        let mut out = String::new();
        for ctx in ["acme-sc", "acme-wc"] {
            out += &sim.ok(&["--context", ctx, "get", "nodes,pods", "-A", "-o", "name"]);
        }
        out
    };
    let (first, second) = (names(), names());
    assert!(first.contains("control-plane-"), "{first}");
    assert_eq!(first, second);
}

/// A list at a resourceVersion the server has not reached is a 504, as the apiserver
/// answers it, not data from an older version.
#[test]
fn a_list_from_the_future_is_too_large_a_resource_version() {
    let sim = small();
    let raw = |rv: &str| {
        sim.kubectl(&[
            "--context",
            "acme-wc",
            "get",
            "--raw",
            &format!("/api/v1/namespaces/default/pods?resourceVersion={rv}"),
        ])
    };
    let out = raw("999999999");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Too large resource version: 999999999"),
        "{}",
        stderr(&out)
    );
    let now = raw("0");
    assert!(now.status.success(), "{}", stderr(&now));
}

#[test]
fn unknown_token_is_unauthorized() {
    let sim = small();
    let out = sim.kubectl(&[
        "--context",
        "acme-wc",
        "--token",
        "not-a-token",
        "get",
        "pods",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Unauthorized") || stderr(&out).contains("provide credentials"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn velero_backups_list_and_a_created_backup_completes() {
    let sim = small();
    let list = sim.ok(&["--context", "acme-wc", "get", "backups.velero.io", "-A"]);
    let daily = list
        .lines()
        .filter(|l| l.contains("velero-daily-backup-"))
        .count();
    assert_eq!(daily, 3, "three daily backups kept:\n{list}");
    assert!(
        list.lines().skip(1).all(|l| l.contains("Completed")),
        "{list}"
    );
    let manifest = sim.dir.path().join("backup.yaml");
    std::fs::write(&manifest, "apiVersion: velero.io/v1\nkind: Backup\nmetadata:\n  name: before-upgrade\n  namespace: velero\nspec:\n  includedNamespaces: [production]\n  storageLocation: default\n  ttl: 72h0m0s\n").unwrap();
    sim.ok(&[
        "--context",
        "acme-wc",
        "create",
        "-f",
        manifest.to_str().unwrap(),
    ]);
    eventually("the backup to complete", WAIT, || {
        let phase = sim.ok(&[
            "--context",
            "acme-wc",
            "get",
            "backup",
            "before-upgrade",
            "-n",
            "velero",
            "-o",
            "jsonpath={.status.phase}",
        ]);
        (phase.trim() == "Completed").then_some(())
    });
    let done = sim.ok(&[
        "--context",
        "acme-wc",
        "get",
        "backup",
        "before-upgrade",
        "-n",
        "velero",
        "-o",
        "jsonpath={.status.completionTimestamp}",
    ]);
    assert!(done.trim().ends_with('Z'), "{done}");

    // A custom resource takes no strategic merge patch (kubectl's default): the server
    // answers 415, and kubectl says which types it takes; a merge patch goes through.
    let strategic = sim.kubectl(&[
        "--context",
        "acme-wc",
        "-n",
        "velero",
        "patch",
        "schedules.velero.io",
        "velero-daily-backup",
        "-p",
        r#"{"spec":{"paused":true}}"#,
    ]);
    assert!(!strategic.status.success());
    let err = stderr(&strategic);
    assert!(
        err.contains("application/strategic-merge-patch+json is not supported")
            && err.contains("application/merge-patch+json"),
        "{err}"
    );
    sim.ok(&[
        "--context",
        "acme-wc",
        "-n",
        "velero",
        "patch",
        "schedules.velero.io",
        "velero-daily-backup",
        "--type=merge",
        "-p",
        r#"{"spec":{"paused":true}}"#,
    ]);
}

#[test]
fn deleted_pod_is_recreated_by_its_owner() {
    let sim = small();
    let ctx = ["--context", "acme-wc", "-n", "production"];
    let k = |args: &[&str]| sim.ok(&[&ctx[..], args].concat());
    let names = k(&[
        "get",
        "pods",
        "-l",
        "app=payments",
        "-o",
        "jsonpath={.items[*].metadata.name}",
    ]);
    let names: Vec<&str> = names.split_whitespace().collect();
    let victim = names[0].to_string();
    k(&["delete", "pod", &victim]);
    let after = eventually("the owner to replace the pod", WAIT, || {
        let now = k(&[
            "get",
            "pods",
            "-l",
            "app=payments",
            "--field-selector=status.phase=Running",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ]);
        let now: Vec<String> = now.split_whitespace().map(String::from).collect();
        (now.len() == names.len() && !now.contains(&victim)).then_some(now)
    });
    assert!(after.iter().all(|n| n.starts_with("payments-")));
}

/// `kubectl create configmap` and `create secret` send protobuf, as they do to a real
/// apiserver; what they create reads back as they meant it.
#[test]
fn kubectl_creates_configmaps_and_secrets() {
    let sim = small();
    let ctx = ["--context", "acme-wc", "-n", "default"];
    let run = |args: &[&str]| sim.ok(&[&ctx[..], args].concat());
    run(&[
        "create",
        "configmap",
        "settings",
        "--from-literal=mode=fast",
        "--from-literal=empty=",
    ]);
    run(&["label", "configmap", "settings", "team=payments"]);
    let cm: serde_json::Value =
        serde_json::from_str(&run(&["get", "configmap", "settings", "-o", "json"])).unwrap();
    assert_eq!(
        cm["data"],
        serde_json::json!({"mode": "fast", "empty": ""}),
        "{cm}"
    );
    assert_eq!(cm["metadata"]["labels"]["team"], "payments");
    run(&[
        "create",
        "secret",
        "generic",
        "token",
        "--from-literal=key=s3cret",
    ]);
    let secret: serde_json::Value =
        serde_json::from_str(&run(&["get", "secret", "token", "-o", "json"])).unwrap();
    assert_eq!(secret["type"], "Opaque");
    assert_eq!(
        secret["data"]["key"], "czNjcmV0",
        "base64 of s3cret: {secret}"
    );
}

/// Deletes as the apiserver takes them: kubectl's `--cascade=orphan` leaves the
/// ReplicaSet without its owner, `--cascade=foreground` returns once the Deployment and
/// what it owns are gone; stale preconditions are a 409, an unknown propagation policy a
/// 422, each with the apiserver's words.
#[test]
fn deletes_propagate_and_check_their_preconditions_as_the_apiserver_does() {
    let sim = small();
    let dir = sim.dir.path();
    let wc = |args: &[&str]| {
        sim.kubectl(&[&["--context", "acme-wc", "-n", "default"][..], args].concat())
    };
    for name in ["fg", "orph"] {
        let file = dir.join(format!("{name}.yaml"));
        std::fs::write(
            &file,
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec:\n  \
                 replicas: 1\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    \
                 metadata: {{labels: {{app: {name}}}}}\n    spec: {{containers: [{{name: c, image: nginx}}]}}\n"
            ),
        )
        .unwrap();
        assert!(
            wc(&["create", "-f", file.to_str().unwrap()])
                .status
                .success()
        );
    }
    let sets = |app: &str| -> Vec<serde_json::Value> {
        let out = wc(&["get", "rs", "-l", &format!("app={app}"), "-o", "json"]);
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        list["items"].as_array().unwrap().clone()
    };
    eventually("both ReplicaSets", WAIT, || {
        (!sets("fg").is_empty() && !sets("orph").is_empty()).then_some(())
    });

    let out = wc(&["delete", "deployment", "orph", "--cascade=orphan"]);
    assert!(out.status.success(), "{}", stderr(&out));
    eventually("the ReplicaSet let go", WAIT, || {
        let rs = sets("orph");
        (rs.len() == 1 && rs[0]["metadata"].get("ownerReferences").is_none()).then_some(())
    });

    let out = wc(&["delete", "deployment", "fg", "--cascade=foreground"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(sets("fg").is_empty(), "kubectl waited for what it owns too");

    assert!(
        wc(&["create", "configmap", "pre", "--from-literal=a=b"])
            .status
            .success()
    );
    let body = |json: &str| {
        let path = dir.join("options.json");
        std::fs::write(&path, json).unwrap();
        path
    };
    let raw = |options: &std::path::Path| {
        sim.kubectl(&[
            "--context",
            "acme-wc",
            "delete",
            "--raw",
            "/api/v1/namespaces/default/configmaps/pre",
            "-f",
            options.to_str().unwrap(),
        ])
    };
    let stale = raw(&body(
        r#"{"kind":"DeleteOptions","apiVersion":"v1","preconditions":{"uid":"nope"}}"#,
    ));
    assert!(!stale.status.success());
    assert!(
        stderr(&stale).contains("(Conflict): Operation cannot be fulfilled on ConfigMap \"pre\": the UID in the precondition (nope) does not match the UID in record"),
        "{}",
        stderr(&stale)
    );
    let bogus = raw(&body(
        r#"{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Bogus"}"#,
    ));
    assert!(
        stderr(&bogus).contains(r#"propagationPolicy: Unsupported value: "Bogus": supported values: "Foreground", "Background", "Orphan", "nil""#),
        "{}",
        stderr(&bogus)
    );
    let uid = sim.ok(&[
        "--context",
        "acme-wc",
        "-n",
        "default",
        "get",
        "cm",
        "pre",
        "-o",
        "jsonpath={.metadata.uid}",
    ]);
    let ok = raw(&body(&format!(
        r#"{{"kind":"DeleteOptions","apiVersion":"v1","preconditions":{{"uid":"{}"}}}}"#,
        uid.trim()
    )));
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(
        stdout(&ok).contains(r#""status":"Success""#),
        "{}",
        stdout(&ok)
    );
}

/// `kubectl exec` over WebSocket (`v5.channel.k8s.io`, kubectl's default) reaches the
/// container's small shell: a command's output and exit code, a script on stdin, the
/// apiserver's refusals; and port-forward is refused as a kubelet without it refuses.
#[test]
fn kubectl_exec_runs_in_the_containers_shell() {
    let sim = small();
    let pods = sim.ok(&[
        "--context",
        "acme-wc",
        "-n",
        "production",
        "get",
        "pods",
        "-o",
        "json",
    ]);
    let pods: serde_json::Value = serde_json::from_str(&pods).unwrap();
    let pod = pods["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| {
            p["status"]["phase"] == "Running"
                && p["spec"]["containers"].as_array().unwrap().len() == 1
        })
        .expect("a running pod of one container");
    let name = pod["metadata"]["name"].as_str().unwrap();
    let exec = |args: &[&str]| {
        sim.kubectl(
            &[
                &["--context", "acme-wc", "-n", "production", "exec", name][..],
                args,
            ]
            .concat(),
        )
    };
    let out = exec(&["--", "cat", "/etc/hostname"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{name}\n"));
    let out = exec(&["--", "sh", "-c", "echo 'two  words'; exit 3"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(stdout(&out), "two  words\n");
    assert!(
        stderr(&out).contains("command terminated with exit code 3"),
        "{}",
        stderr(&out)
    );

    // A script on stdin, without a terminal: read line by line, no prompt echoed.
    let mut child = sim
        .kubectl_command(&[
            "--context",
            "acme-wc",
            "-n",
            "production",
            "exec",
            "-i",
            name,
            "--",
            "sh",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"cd /etc\ncat hostname\nexit 5\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("{name}\n"),
        "no prompt without a terminal"
    );

    let wrong = exec(&["-c", "nope", "--", "ls"]);
    assert!(
        stderr(&wrong).contains(&format!("container nope is not valid for pod {name}")),
        "{}",
        stderr(&wrong)
    );
    // Who may only read may not open a shell.
    let denied = sim.kubectl(&[
        "--context",
        "acme-wc",
        "--user",
        "acme-wc-readonly",
        "-n",
        "production",
        "exec",
        name,
        "--",
        "ls",
    ]);
    assert!(!denied.status.success());
    assert!(stderr(&denied).contains("forbidden"), "{}", stderr(&denied));

    let forward = sim.kubectl(&[
        "--context",
        "acme-wc",
        "-n",
        "production",
        "port-forward",
        name,
        "18080:80",
    ]);
    assert!(!forward.status.success());
    assert!(
        stderr(&forward).contains("port forwarding is not supported"),
        "{}",
        stderr(&forward)
    );
}

/// `kubectl apply --server-side` as against the apiserver: the manager's fields in
/// managedFields, a field it stops applying pruned, another manager changing a field it
/// owns refused with 409 naming the field and manager, `--force-conflicts` taking it over.
#[test]
fn server_side_apply_tracks_ownership_prunes_and_conflicts() {
    let sim = small();
    let dir = sim.dir.path();
    let manifest = |name: &str, data: &str| {
        let path = dir.join(format!("{name}.yaml"));
        std::fs::write(
            &path,
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: ssa, namespace: default}}\ndata: {data}\n"),
        )
        .unwrap();
        path.to_str().unwrap().to_owned()
    };
    let k = |args: &[&str]| sim.kubectl(&[&["--context", "acme-wc"][..], args].concat());
    let get = || -> serde_json::Value {
        let out = k(&[
            "get",
            "cm",
            "ssa",
            "-n",
            "default",
            "-o",
            "json",
            "--show-managed-fields",
        ]);
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let two = manifest("two", "{mode: fast, extra: \"1\"}");
    assert!(k(&["apply", "--server-side", "-f", &two]).status.success());
    let cm = get();
    let fields = &cm["metadata"]["managedFields"][0];
    assert_eq!(
        (fields["manager"].as_str(), fields["operation"].as_str()),
        (Some("kubectl"), Some("Apply"))
    );
    assert_eq!(
        fields["fieldsV1"],
        serde_json::json!({"f:data": {"f:mode": {}, "f:extra": {}}})
    );

    let one = manifest("one", "{mode: fast}");
    assert!(k(&["apply", "--server-side", "-f", &one]).status.success());
    assert_eq!(
        get()["data"],
        serde_json::json!({"mode": "fast"}),
        "extra was pruned"
    );

    let slow = manifest("slow", "{mode: slow}");
    let refused = k(&[
        "apply",
        "--server-side",
        "--field-manager=other",
        "-f",
        &slow,
    ]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused)
            .contains("Apply failed with 1 conflict: conflict with \"kubectl\": .data.mode"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(get()["data"]["mode"], "fast");
    let forced = k(&[
        "apply",
        "--server-side",
        "--field-manager=other",
        "--force-conflicts",
        "-f",
        &slow,
    ]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    let cm = get();
    assert_eq!(cm["data"]["mode"], "slow");
    let managers: Vec<&str> = cm["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["manager"].as_str().unwrap())
        .collect();
    assert_eq!(managers, ["other"], "the field was taken over");

    // An update by another client takes the field it changes: kubectl's merge patch.
    assert!(
        k(&[
            "patch",
            "cm",
            "ssa",
            "-n",
            "default",
            "--type=merge",
            "-p",
            r#"{"data":{"mode":"medium"}}"#
        ])
        .status
        .success()
    );
    let cm = get();
    let patcher = cm["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["operation"] == "Update")
        .expect("an Update entry");
    assert_eq!(patcher["manager"], "kubectl-patch");
    assert_eq!(
        patcher["fieldsV1"],
        serde_json::json!({"f:data": {"f:mode": {}}})
    );
}

/// `--dry-run=server` on every verb answers as the write would and keeps nothing, as
/// the apiserver does; an unknown `dryRun` is a 400; and a ConfigMap deleted at once is
/// answered with a `Status` naming it.
#[test]
fn server_side_dry_runs_keep_nothing_and_a_delete_answers_with_a_status() {
    let sim = small();
    let wc = |args: &[&str]| sim.ok(&[&["--context", "acme-wc"][..], args].concat());
    let created: serde_json::Value = serde_json::from_str(&wc(&[
        "create",
        "configmap",
        "dry",
        "-n",
        "default",
        "--from-literal=a=b",
        "--dry-run=server",
        "-o",
        "json",
    ]))
    .unwrap();
    assert!(
        created["metadata"]["uid"].is_string(),
        "as it would be stored: {created}"
    );
    let missing = sim.kubectl(&["--context", "acme-wc", "get", "cm", "dry", "-n", "default"]);
    assert!(!missing.status.success(), "a dry-run create stores nothing");

    wc(&[
        "create",
        "configmap",
        "real",
        "-n",
        "default",
        "--from-literal=a=b",
    ]);
    wc(&[
        "label",
        "cm",
        "real",
        "-n",
        "default",
        "x=y",
        "--dry-run=server",
    ]);
    let labels = wc(&[
        "get",
        "cm",
        "real",
        "-n",
        "default",
        "-o",
        "jsonpath={.metadata.labels}",
    ]);
    assert!(!labels.contains("\"x\""), "{labels}");
    wc(&["delete", "cm", "real", "-n", "default", "--dry-run=server"]);
    wc(&["get", "cm", "real", "-n", "default"]);

    let replicas = || {
        wc(&[
            "get",
            "deploy",
            "coredns",
            "-n",
            "kube-system",
            "-o",
            "jsonpath={.spec.replicas}",
        ])
    };
    let before = replicas();
    wc(&[
        "scale",
        "deploy",
        "coredns",
        "-n",
        "kube-system",
        "--replicas=9",
        "--dry-run=server",
    ]);
    assert_eq!(replicas(), before);

    let node = a_worker(&sim, "acme-wc");
    wc(&[
        "drain",
        &node,
        "--ignore-daemonsets",
        "--delete-emptydir-data",
        "--dry-run=server",
    ]);
    let spec = wc(&["get", "node", &node, "-o", "jsonpath={.spec.unschedulable}"]);
    assert_eq!(spec, "", "the cordon of a dry-run drain is not kept");
    let going = wc(&[
        "get",
        "pods",
        "-A",
        "--field-selector",
        &format!("spec.nodeName={node}"),
        "-o",
        "jsonpath={.items[*].metadata.deletionTimestamp}",
    ]);
    assert_eq!(going.trim(), "", "no pod was evicted");

    let bogus = sim.kubectl(&[
        "--context",
        "acme-wc",
        "delete",
        "--raw",
        "/api/v1/namespaces/default/configmaps/real?dryRun=Bogus",
    ]);
    assert!(!bogus.status.success());
    let said = String::from_utf8_lossy(&bogus.stderr);
    assert!(
        said.contains("Unsupported value") || said.contains("400"),
        "{said}"
    );

    let status: serde_json::Value = serde_json::from_str(&wc(&[
        "delete",
        "--raw",
        "/api/v1/namespaces/default/configmaps/real",
    ]))
    .unwrap();
    assert_eq!(status["kind"], "Status", "{status}");
    assert_eq!(status["status"], "Success", "{status}");
    assert_eq!(status["details"]["name"], "real", "{status}");
    assert_eq!(status["details"]["kind"], "configmaps", "{status}");
}

/// `kubectl logs --previous` reads a restarted container's last run, which differs from
/// the current one; a container that never restarted has none (400); `--limit-bytes`
/// and `--since` cut the log as the kubelet does.
#[test]
fn logs_of_the_previous_run_and_limits() {
    let sim = common::start(ck8s_sim::SimOptions {
        environments: 2,
        ..ck8s_sim::SimOptions::default()
    });
    let wc = |args: &[&str]| sim.kubectl(&[&["--context", "globex-wc"][..], args].concat());
    let pods = sim.ok(&[
        "--context", "globex-wc", "get", "pods", "-n", "production", "-o",
        "jsonpath={range .items[*]}{.metadata.name} {.status.containerStatuses[0].restartCount}{\"\\n\"}{end}",
    ]);
    let restarted = pods
        .lines()
        .find(|l| l.split(' ').nth(1).is_some_and(|r| r != "0"))
        .and_then(|l| l.split(' ').next())
        .expect("a crash-looping pod")
        .to_owned();
    let fresh = pods
        .lines()
        .find(|l| l.ends_with(" 0"))
        .and_then(|l| l.split(' ').next())
        .expect("a pod that never restarted")
        .to_owned();

    let previous = wc(&["logs", "-n", "production", &restarted, "--previous"]);
    assert!(previous.status.success(), "{previous:?}");
    let previous = String::from_utf8_lossy(&previous.stdout).into_owned();
    assert!(
        previous.trim_end().ends_with("exit=1"),
        "it died of something: {previous}"
    );
    let current =
        String::from_utf8_lossy(&wc(&["logs", "-n", "production", &restarted]).stdout).into_owned();
    assert_ne!(previous, current);

    let none = wc(&["logs", "-n", "production", &fresh, "--previous"]);
    assert!(!none.status.success());
    let said = String::from_utf8_lossy(&none.stderr);
    assert!(said.contains("previous terminated container"), "{said}");

    let limited = wc(&["logs", "-n", "production", &fresh, "--limit-bytes=20"]);
    assert_eq!(limited.stdout.len(), 20, "{limited:?}");
    let path = format!("/api/v1/namespaces/production/pods/{fresh}/log?sinceSeconds=-5");
    let refused = wc(&["get", "--raw", &path]);
    assert!(
        !refused.status.success(),
        "a negative sinceSeconds is invalid"
    );
    let recent = wc(&["logs", "-n", "production", &fresh, "--since=30s"]);
    let lines = String::from_utf8_lossy(&recent.stdout).lines().count();
    assert!((1..=5).contains(&lines), "a line every 7 s: {lines}");
}

const TWO_CONTAINERS: &str = "\
apiVersion: v1
kind: Pod
metadata: {name: two, namespace: default}
spec:
  initContainers: [{name: setup, image: busybox:1.37}]
  containers: [{name: app, image: app:1}, {name: sidecar, image: sidecar:1}]
";

/// A pod of several containers: the log of each by name, an init container's too; none
/// named is a 400 that lists them (kubectl itself picks the annotated default), and an
/// unknown name is a 400.
#[test]
fn logs_of_each_container_of_a_pod() {
    let sim = small();
    let k = |args: &[&str]| sim.kubectl(&[&["--context", "acme-wc"][..], args].concat());
    let manifest = sim.dir.path().join("two.yaml");
    std::fs::write(&manifest, TWO_CONTAINERS).unwrap();
    sim.ok(&[
        "--context",
        "acme-wc",
        "apply",
        "-f",
        manifest.to_str().unwrap(),
    ]);
    eventually("the pod running", WAIT, || {
        let phase = sim.ok(&[
            "--context",
            "acme-wc",
            "get",
            "pod",
            "two",
            "-o",
            "jsonpath={.status.phase}",
        ]);
        (phase == "Running").then_some(())
    });
    let text = |out: std::process::Output| {
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let app = text(k(&["logs", "two", "-c", "app", "--tail", "5"]));
    let sidecar = text(k(&["logs", "two", "-c", "sidecar", "--tail", "5"]));
    let setup = text(k(&["logs", "two", "-c", "setup", "--tail", "5"]));
    assert!(
        !app.is_empty() && app != sidecar && setup != app,
        "each its own log"
    );
    let path = "/api/v1/namespaces/default/pods/two/log?tailLines=1";
    let unnamed = k(&["get", "--raw", path]);
    assert!(!unnamed.status.success());
    let said = String::from_utf8_lossy(&unnamed.stderr);
    assert!(
        said.contains("choose one of: [app sidecar] or one of the init containers: [setup]"),
        "{said}"
    );
    let unknown = k(&["logs", "two", "-c", "nope"]);
    assert!(!unknown.status.success());
    let said = String::from_utf8_lossy(&unknown.stderr);
    assert!(said.contains("container nope is not valid"), "{said}");
}
