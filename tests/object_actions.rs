//! Small actions from the command line (`delete`, `restart`, `scale`, `cordon`,
//! `uncordon`) against a simulated environment, with kubectl as the witness of what
//! changed: each goes through the engine's one gate (read-only, a run's lock, the
//! permission, the confirmation) and leaves an audit record and an Event.

mod common;

use common::{array, code, parse, show, text};

use std::path::PathBuf;
use std::process::Output;

use ck8s_sim::SimOptions;
use serde_json::Value;

const ACTOR: &str = "oncall@object-tests";
const NS: &str = "production";

struct Env {
    sim: common::Sim,
    state: PathBuf,
}

fn env() -> Env {
    let sim = common::start(SimOptions {
        environments: 1,
        speed: 10.0,
        ..SimOptions::default()
    });
    let state = sim.dir.path().join("state");
    Env { sim, state }
}

impl Env {
    fn console_on(&self, fleet: &std::path::Path, args: &[&str]) -> Output {
        common::console_command_on(fleet, &self.sim, &self.state, ACTOR, args)
            .output()
            .expect("ck8s-console runs")
    }

    /// The binary on acme's workload cluster: `<verb> <args> --env acme --cluster wc`.
    fn wc(&self, verb: &str, args: &[&str]) -> Output {
        self.wc_on(&self.sim.fleet_file, verb, args)
    }

    fn wc_on(&self, fleet: &std::path::Path, verb: &str, args: &[&str]) -> Output {
        let place = ["--env", "acme", "--cluster", "wc", "-o", "json"];
        self.console_on(fleet, &[&[verb][..], args, &place].concat())
    }

    fn get(&self, what: &[&str]) -> Value {
        let args = [&["--context", "acme-wc", "get"][..], what, &["-o", "json"]].concat();
        serde_json::from_str(&self.sim.ok(&args)).expect("kubectl prints JSON")
    }

    /// A Deployment of acme's workload cluster and a pod of it.
    fn deployment(&self) -> (String, String) {
        let pods = self.get(&["pods", "-n", NS]);
        let pod = array(&pods["items"], "pods")
            .iter()
            .find(|p| p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet")
            .expect("a pod of a Deployment");
        let rs = text(&pod["metadata"]["ownerReferences"][0]["name"], "owner");
        let rs = self.get(&["rs", "-n", NS, rs]);
        let deploy = text(&rs["metadata"]["ownerReferences"][0]["name"], "deployment");
        (
            deploy.to_owned(),
            text(&pod["metadata"]["name"], "pod").to_owned(),
        )
    }

    /// A running pod that no rollout of `deploy` replaces meanwhile.
    fn pod_not_of(&self, deploy: &str) -> String {
        let pods = self.get(&["pods", "-n", NS]);
        let pod = array(&pods["items"], "pods")
            .iter()
            .find(|p| {
                let name = text(&p["metadata"]["name"], "pod");
                !name.starts_with(&format!("{deploy}-"))
                    && p["metadata"]["deletionTimestamp"].is_null()
                    && p["status"]["phase"] == "Running"
            })
            .expect("another running pod");
        text(&pod["metadata"]["name"], "pod").to_owned()
    }

    fn worker(&self) -> String {
        let nodes = self.get(&["nodes", "-l", "!node-role.kubernetes.io/control-plane"]);
        text(
            &array(&nodes["items"], "nodes")[0]["metadata"]["name"],
            "node",
        )
        .to_owned()
    }

    fn audit(&self) -> Vec<Value> {
        let log = self.state.join("audit.jsonl");
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("audit lines are JSON"))
            .collect()
    }

    fn events_by_console(&self, namespace: &str) -> Vec<Value> {
        let events = self.get(&["events", "-n", namespace]);
        array(&events["items"], "events")
            .iter()
            .filter(|e| e["source"]["component"] == "ck8s-console")
            .cloned()
            .collect()
    }
}

fn item(out: &Output) -> Value {
    assert_eq!(code(out), 0, "{}", show(out));
    let doc = parse(out);
    common::conforms_to(&doc, "objects");
    let items = array(&doc["items"], "items");
    assert_eq!(items.len(), 1, "{doc}");
    assert_eq!(items[0]["ok"], true, "{doc}");
    items[0].clone()
}

#[test]
fn each_action_changes_what_kubectl_sees_and_is_audited_with_an_event() {
    let e = env();
    let (deploy, _) = e.deployment();
    let pod = e.pod_not_of(&deploy);
    let node = e.worker();

    // restart: the template's restartedAt annotation, as `kubectl rollout restart`.
    let restarted = item(&e.wc("restart", &["deploy", &deploy, "-n", NS]));
    assert_eq!(restarted["kind"], "deployments.apps");
    let d = e.get(&["deploy", "-n", NS, &deploy]);
    let at = &d["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"];
    assert!(at.is_string(), "{d}");

    // scale, through the scale subresource.
    let scaled = item(&e.wc(
        "scale",
        &[
            &format!("deployments/{deploy}"),
            "--replicas",
            "1",
            "-n",
            NS,
        ],
    ));
    assert!(
        text(&scaled["message"], "message").ends_with("to 1 replicas"),
        "{scaled}"
    );
    assert_eq!(e.get(&["deploy", "-n", NS, &deploy])["spec"]["replicas"], 1);

    // cordon, again (nothing to do), uncordon.
    let cordoned = item(&e.wc("cordon", &[&node]));
    assert!(
        text(&cordoned["message"], "m").starts_with("cordoned"),
        "{cordoned}"
    );
    assert_eq!(e.get(&["node", &node])["spec"]["unschedulable"], true);
    let again = item(&e.wc("cordon", &[&node]));
    assert_eq!(again["message"], "already cordoned");
    item(&e.wc("uncordon", &[&node]));
    assert_eq!(
        e.get(&["node", &node])["spec"]["unschedulable"],
        Value::Null
    );

    // delete, confirmed.
    let deleted = item(&e.wc("delete", &["pod", &pod, "-n", NS, "--yes"]));
    assert!(
        ["terminating", "deleted"].contains(&text(&deleted["message"], "m")),
        "{deleted}"
    );
    common::eventually("the pod goes", std::time::Duration::from_secs(30), || {
        let out = e.sim.kubectl(&[
            "--context",
            "acme-wc",
            "get",
            "pod",
            "-n",
            NS,
            &pod,
            "-o",
            "json",
        ]);
        let terminating = serde_json::from_slice::<Value>(&out.stdout)
            .is_ok_and(|p| p["metadata"]["deletionTimestamp"].is_string());
        (!out.status.success() || terminating).then_some(())
    });

    // Every action is in the audit log, by the actor, naming its object.
    let audit = e.audit();
    let actions: Vec<&str> = audit.iter().map(|r| text(&r["action"], "action")).collect();
    assert_eq!(
        actions,
        [
            "object.restart",
            "object.scale",
            "object.cordon",
            "object.cordon",
            "object.uncordon",
            "object.delete"
        ]
    );
    for r in &audit {
        assert_eq!(r["actor"], ACTOR, "{r}");
        assert_eq!(r["env"], "acme", "{r}");
        assert_eq!(r["cluster"], "wc", "{r}");
    }
    assert!(
        text(&audit[0]["target"], "target")
            .contains(&format!("deployments.apps production/{deploy}")),
        "{}",
        audit[0]
    );
    let verified = e.console_on(&e.sim.fleet_file, &["runs", "audit", "--verify"]);
    assert_eq!(code(&verified), 0, "{}", show(&verified));

    // And each change is an Event on its object (nodes' go to `default`).
    let reasons = |ns: &str| -> Vec<String> {
        e.events_by_console(ns)
            .iter()
            .map(|ev| {
                format!(
                    "{} {}",
                    ev["reason"].as_str().unwrap(),
                    ev["involvedObject"]["name"].as_str().unwrap()
                )
            })
            .collect()
    };
    let in_ns = reasons(NS);
    for want in [
        format!("RestartedByConsole {deploy}"),
        format!("ScaledByConsole {deploy}"),
        format!("DeletedByConsole {pod}"),
    ] {
        assert!(in_ns.contains(&want), "{want} in {in_ns:?}");
    }
    let nodes = reasons("default");
    assert!(
        nodes.contains(&format!("CordonedByConsole {node}")),
        "{nodes:?}"
    );
    assert!(
        nodes.contains(&format!("UncordonedByConsole {node}")),
        "{nodes:?}"
    );
    assert_eq!(
        nodes.iter().filter(|r| r.starts_with("Cordoned")).count(),
        1,
        "no Event when nothing changed: {nodes:?}"
    );
}

#[test]
fn the_gate_refuses_read_only_a_read_only_user_and_a_held_cluster() {
    let e = env();
    let (deploy, pod) = e.deployment();
    let node = e.worker();
    let restart = ["deploy", deploy.as_str(), "-n", NS];
    let template = |e: &Env| e.get(&["deploy", "-n", NS, &deploy])["spec"]["template"].clone();
    let before = template(&e);

    // --read-only, before or after the verb: 3, saying why.
    for args in [
        [
            &["--read-only", "restart"][..],
            &restart,
            &["--env", "acme", "--cluster", "wc"],
        ]
        .concat(),
        [
            &["restart"][..],
            &restart,
            &["--env", "acme", "--cluster", "wc", "--read-only"],
        ]
        .concat(),
    ] {
        let out = e.console_on(&e.sim.fleet_file, &args);
        assert_eq!(code(&out), 3, "{args:?}: {}", show(&out));
        assert!(show(&out).contains("read-only"), "{}", show(&out));
    }

    // The simulator's read-only user: the SelfSubjectAccessReview says no, for the very
    // verb and object.
    let viewer = common::fleet_as(&e.sim, "readonly");
    let out = e.wc_on(&viewer, "restart", &restart);
    assert_eq!(code(&out), 3, "{}", show(&out));
    assert!(
        show(&out).contains(&format!(
            "you may not patch acme-wc deployments.apps production/{deploy}"
        )),
        "{}",
        show(&out)
    );
    let out = e.wc_on(&viewer, "cordon", &[&node]);
    assert_eq!(code(&out), 3, "{}", show(&out));
    // The operator may delete pods but not Deployments: one refusal refuses them all.
    let operator = common::fleet_as(&e.sim, "operator");
    let both = [
        &format!("pod/{pod}")[..],
        &format!("deploy/{deploy}"),
        "-n",
        NS,
        "--yes",
    ];
    let out = e.wc_on(&operator, "delete", &both);
    assert_eq!(code(&out), 3, "{}", show(&out));
    assert!(
        show(&out).contains("you may not delete acme-wc deployments.apps"),
        "{}",
        show(&out)
    );
    assert!(
        !show(&out).contains("you may not delete acme-wc pods"),
        "{}",
        show(&out)
    );

    // A cluster a run holds: 4, naming the holder.
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let lease = serde_json::json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "ck8s-console-acme-wc", "namespace": "kube-system"},
        "spec": {"holderIdentity": "run/20261207T100000Z-drain-acme-wc-1a2b@bastion-2",
                 "leaseDurationSeconds": 60, "acquireTime": now, "renewTime": now},
    });
    let file = e.sim.dir.path().join("lease.json");
    std::fs::write(&file, lease.to_string()).unwrap();
    e.sim.ok(&[
        "--context",
        "acme-sc",
        "apply",
        "-f",
        file.to_str().unwrap(),
    ]);
    let out = e.wc("restart", &restart);
    assert_eq!(code(&out), 4, "{}", show(&out));
    assert!(
        show(&out).contains("20261207T100000Z-drain-acme-wc-1a2b"),
        "{}",
        show(&out)
    );
    // The other cluster is not held.
    let sc_node = {
        let nodes: Value = serde_json::from_str(&e.sim.ok(&[
            "--context",
            "acme-sc",
            "get",
            "nodes",
            "-o",
            "json",
        ]))
        .unwrap();
        text(
            &array(&nodes["items"], "nodes")[0]["metadata"]["name"],
            "node",
        )
        .to_owned()
    };
    let place = ["--env", "acme", "--cluster", "sc", "-o", "json"];
    let out = e.console_on(
        &e.sim.fleet_file,
        &[&["cordon", sc_node.as_str()][..], &place].concat(),
    );
    assert_eq!(code(&out), 0, "{}", show(&out));

    // Nothing in acme-wc changed, and only the sc cordon was audited.
    assert_eq!(template(&e), before, "the Deployment was not restarted");
    assert_eq!(
        e.get(&["node", &node])["spec"]["unschedulable"],
        Value::Null
    );
    let audited: Vec<String> = e
        .audit()
        .iter()
        .map(|r| format!("{} {}", r["action"], r["cluster"]))
        .collect();
    assert_eq!(audited, ["\"object.cordon\" \"sc\""]);
}

/// `scale --wait` waits for every replica to be updated and ready, saying how it goes on
/// stderr; one whose pods cannot be placed is a failure (exit 1) once --timeout passes.
#[test]
fn scaling_with_wait_follows_the_rollout_to_its_end() {
    let e = env();
    let (deploy, _) = e.deployment();
    let replicas = |e: &Env| e.get(&["deploy", "-n", NS, &deploy])["spec"]["replicas"].clone();
    let want = replicas(&e).as_i64().unwrap() + 2;
    let n = want.to_string();
    let args = ["deploy", &deploy, "--replicas", &n, "-n", NS, "--wait"];
    let out = e.wc("scale", &args);
    let scaled = item(&out);
    let message = text(&scaled["message"], "message");
    assert!(
        message.ends_with(&format!("; rolled out: {want}/{want} ready")),
        "{message}"
    );
    let progress = common::stderr(&out);
    assert!(
        progress.contains(&format!("{want}/{want} ready")),
        "{progress}"
    );
    let d = e.get(&["deploy", "-n", NS, &deploy]);
    assert_eq!(d["status"]["readyReplicas"], want, "{d}");

    // Pods that fit no node never become ready: the wait gives up and says where it was.
    let nowhere = r#"{"spec":{"template":{"spec":{"nodeSelector":{"ck8s.io/nowhere":"true"}}}}}"#;
    e.sim.ok(&[
        "--context",
        "acme-wc",
        "-n",
        NS,
        "patch",
        "deploy",
        &deploy,
        "-p",
        nowhere,
    ]);
    let more = (want + 1).to_string();
    let out = e.wc(
        "scale",
        &[
            "deploy",
            &deploy,
            "--replicas",
            &more,
            "-n",
            NS,
            "--wait",
            "--timeout",
            "2s",
        ],
    );
    assert_eq!(code(&out), 1, "{}", show(&out));
    let doc = parse(&out);
    let message = text(&doc["items"][0]["message"], "message");
    assert!(message.contains("not rolled out within 2 s"), "{message}");
    assert!(
        common::stderr(&out).contains(&format!("/{more} ready")),
        "{}",
        show(&out)
    );
    // --timeout without --wait is a usage error.
    let out = e.wc(
        "scale",
        &[
            "deploy",
            &deploy,
            "--replicas",
            "1",
            "-n",
            NS,
            "--timeout",
            "2s",
        ],
    );
    assert_eq!(code(&out), 2, "{}", show(&out));
}

/// A paused rollout would not roll: the restart says so, as kubectl does, and the audit
/// log says it failed.
#[test]
fn restarting_a_paused_deployment_says_to_resume_it_first() {
    let e = env();
    let (deploy, _) = e.deployment();
    e.sim.ok(&[
        "--context",
        "acme-wc",
        "rollout",
        "pause",
        "deploy",
        &deploy,
        "-n",
        NS,
    ]);
    let out = e.wc("restart", &["deploy", &deploy, "-n", NS]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let doc = parse(&out);
    let message = text(&doc["items"][0]["message"], "message");
    assert!(message.contains("rollout resume"), "{message}");
    let d = e.get(&["deploy", "-n", NS, &deploy]);
    assert!(
        d["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
            .is_null(),
        "{d}"
    );
    let actions: Vec<String> = e.audit().iter().map(|r| r["action"].to_string()).collect();
    assert_eq!(actions, ["\"object.restart\"", "\"object.restart.failed\""]);
}

#[test]
fn bad_input_exits_2_and_says_how_to_fix_it() {
    let e = env();
    let (deploy, pod) = e.deployment();
    let cases: [(&str, Vec<&str>, &str); 7] = [
        ("delete", vec!["pod", &pod, "-n", NS], "--yes"),
        (
            "restart",
            vec!["deplyo", &deploy, "-n", NS],
            "did you mean `deploy`?",
        ),
        ("restart", vec!["pod", &pod, "-n", NS], "only Deployments"),
        ("restart", vec!["deploy", &deploy], "say in which namespace"),
        ("restart", vec!["deploy"], "No name was given"),
        (
            "restart",
            vec!["deploy/web", "api", "-n", NS],
            "is not KIND/NAME",
        ),
        (
            "scale",
            vec!["nodes", "x", "--replicas", "2"],
            "no scale subresource",
        ),
    ];
    for (verb, args, says) in cases {
        let out = e.wc(verb, &args);
        assert_eq!(code(&out), 2, "{verb} {args:?}: {}", show(&out));
        assert!(
            common::stderr(&out).contains(says),
            "{verb} {args:?}: {}",
            show(&out)
        );
    }
    // An unknown environment, and flags clap refuses.
    let out = e.console_on(
        &e.sim.fleet_file,
        &["cordon", "x", "--env", "acmee", "--cluster", "wc"],
    );
    assert_eq!(code(&out), 2, "{}", show(&out));
    assert!(
        common::stderr(&out).contains("Did you mean `acme`?"),
        "{}",
        show(&out)
    );
    for args in [
        &[
            "scale",
            "deploy",
            "x",
            "--replicas",
            "-1",
            "--env",
            "acme",
            "--cluster",
            "wc",
        ][..],
        &["scale", "deploy", "x", "--env", "acme", "--cluster", "wc"],
        &["cordon", "--env", "acme", "--cluster", "wc"],
        &["cordon", "x", "--env", "acme", "--cluster", "mc"],
    ] {
        let out = e.console_on(&e.sim.fleet_file, args);
        assert_eq!(code(&out), 2, "{args:?}: {}", show(&out));
    }
    // A missing object is a failure of that object (1), not of the input.
    let out = e.wc("delete", &["pod", "no-such-pod", "-n", NS, "--yes"]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    assert!(common::stdout(&out).contains("not found"), "{}", show(&out));
    assert!(
        e.audit()
            .iter()
            .any(|r| r["action"] == "object.delete.failed")
    );
}

/// `create -f`: each object of a manifest through the gate, as kubectl creates them; a
/// dry run keeps nothing; an object that exists fails alone (exit 1) while the rest are
/// made; read-only and a read-only user are refused (3) before anything is made; a
/// malformed manifest is bad input (2) naming the document.
#[test]
fn create_from_a_manifest_goes_through_the_gate() {
    let e = env();
    let manifest = e.sim.dir.path().join("objects.yaml");
    let write = |text: &str| std::fs::write(&manifest, text).unwrap();
    let file = manifest.to_str().unwrap().to_owned();
    write(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: made-by-cli}\ndata: {mode: fast}\n---\n\
         apiVersion: v1\nkind: Namespace\nmetadata: {name: made-by-cli}\n",
    );
    let cms = |e: &Env| {
        e.sim
            .kubectl(&["--context", "acme-wc", "-n", NS, "get", "cm", "made-by-cli"])
    };

    let dry = e.wc("create", &["-f", &file, "-n", NS, "--dry-run"]);
    assert_eq!(code(&dry), 0, "{}", show(&dry));
    assert!(
        show(&dry).contains("the server's dry run"),
        "{}",
        show(&dry)
    );
    assert!(!cms(&e).status.success(), "a dry run keeps nothing");

    let ro = e.console_on(
        &e.sim.fleet_file,
        &[
            "--read-only",
            "create",
            "-f",
            &file,
            "-n",
            NS,
            "--env",
            "acme",
            "--cluster",
            "wc",
        ],
    );
    assert_eq!(code(&ro), 3, "{}", show(&ro));
    let viewer = common::fleet_as(&e.sim, "readonly");
    let denied = e.wc_on(&viewer, "create", &["-f", &file, "-n", NS]);
    assert_eq!(code(&denied), 3, "{}", show(&denied));
    assert!(
        show(&denied).contains("you may not create"),
        "{}",
        show(&denied)
    );
    assert!(!cms(&e).status.success(), "nothing was made");

    let made = parse(&e.wc("create", &["-f", &file, "-n", NS]));
    let items = array(&made["items"], "items");
    let kinds: Vec<&str> = items.iter().map(|i| text(&i["kind"], "kind")).collect();
    assert_eq!(kinds, ["configmaps", "namespaces"]);
    assert!(items.iter().all(|i| i["ok"] == true), "{made}");
    assert_eq!(
        e.get(&["cm", "-n", NS, "made-by-cli"])["data"]["mode"],
        "fast"
    );
    assert!(e.get(&["ns", "made-by-cli"])["metadata"]["uid"].is_string());

    // Again: both exist, each says so, exit 1.
    let again = e.wc("create", &["-f", &file, "-n", NS]);
    assert_eq!(code(&again), 1, "{}", show(&again));
    assert!(show(&again).contains("exists already"), "{}", show(&again));

    // Each attempt is audited before it is sent, and a failed one again with its error.
    let audit = e.audit();
    let count = |action: &str| audit.iter().filter(|r| r["action"] == action).count();
    assert_eq!(count("object.create"), 4);
    assert_eq!(count("object.create.failed"), 2, "the two that existed");

    let nowhere = e.console_on(
        &e.sim.fleet_file,
        &["create", "-f", &file, "--env", "acmee", "--cluster", "wc"],
    );
    assert_eq!(code(&nowhere), 2, "{}", show(&nowhere));
    assert!(
        show(&nowhere).contains("Did you mean `acme`?"),
        "{}",
        show(&nowhere)
    );
    write("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\nkind: ConfigMap\n");
    let bad = e.wc("create", &["-f", &file]);
    assert_eq!(code(&bad), 2, "{}", show(&bad));
    assert!(
        show(&bad).contains("document 2 has no apiVersion"),
        "{}",
        show(&bad)
    );
    let missing = e.wc("create", &["-f", "/nonexistent.yaml"]);
    assert_eq!(code(&missing), 2, "{}", show(&missing));
    assert!(
        show(&missing).contains("/nonexistent.yaml"),
        "{}",
        show(&missing)
    );
}
