//! The `drain` and `restore` workflows end to end: the `ck8s-console` binary runs them
//! against a simulated acme fleet, and kubectl is the independent witness of what changed.
//! The wait for a PodDisruptionBudget is driven through the engine library instead, since
//! only there can a test shorten the engine's patience.
//!
//! Every fleet moves its maintenance window three days away from today, so "outside the
//! window" holds whatever day the tests run on.

mod common;

use common::{array, code, parse, show, text};

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use chrono::Datelike;
use ck8s_fleet::engine::journal::{Outcome, RunSummary, StepState};
use ck8s_fleet::engine::workflows::WorkflowKind;
use ck8s_fleet::engine::workflows::run_tag;
use ck8s_fleet::engine::{Engine, EngineError, Hints, RunRequest, Tuning};
use ck8s_model::config::{self, ClusterRole};
use ck8s_model::paths::{PathEnv, Paths};
use ck8s_sim::SimOptions;
use serde_json::Value;

const ACTOR: &str = "oncall@workflow-tests";
const REASON: &str = "kernel CVE patch, ticket 4711, approved by the customer";
/// Long enough for anything the fleet does at speed 10; only reached when a test fails.
const WAIT: Duration = Duration::from_secs(30);

struct Fleet {
    sim: common::Sim,
    state: PathBuf,
}

/// acme alone at ten times real speed, with its maintenance window moved off today.
fn fleet() -> Fleet {
    let sim = common::start(SimOptions {
        environments: 1,
        speed: 10.0,
        ..SimOptions::default()
    });
    let mut cfg = config::load(&sim.fleet_file).expect("the sim's fleet config loads");
    let today = chrono::Utc::now()
        .with_timezone(&cfg.policy.timezone)
        .weekday();
    cfg.policy.maintenance_window.day = today.succ().succ().succ();
    std::fs::write(&sim.fleet_file, config::to_toml(&cfg)).expect("fleet config written");
    let state = sim.dir.path().join("state");
    Fleet { sim, state }
}

fn rules(plan: &Value) -> Vec<&str> {
    array(&plan["decision"]["findings"], "findings")
        .iter()
        .map(|f| text(&f["rule"], "rule"))
        .collect()
}

fn step_message<'v>(run: &'v Value, name: &str) -> &'v str {
    let step = array(&run["steps"], "steps")
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name:?}: {run:#}"));
    text(&step["message"], "step message")
}

fn owner_kind(pod: &Value) -> &str {
    pod["metadata"]["ownerReferences"][0]["kind"]
        .as_str()
        .unwrap_or("")
}

fn owner_name(pod: &Value) -> &str {
    pod["metadata"]["ownerReferences"][0]["name"]
        .as_str()
        .unwrap_or("")
}

fn is_running(pod: &Value) -> bool {
    pod["status"]["phase"] == "Running" && pod["metadata"]["deletionTimestamp"].is_null()
}

impl Fleet {
    fn command(&self, args: &[&str]) -> Command {
        common::console_command(&self.sim, &self.state, ACTOR, args)
    }

    fn console(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("ck8s-console runs")
    }

    /// `run <workflow> --env acme --cluster wc <extra>`.
    fn run(&self, workflow: &str, extra: &[&str]) -> Output {
        let base = ["run", workflow, "--env", "acme", "--cluster", "wc"];
        self.console(&[&base[..], extra].concat())
    }

    fn kube_json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--context", "acme-wc"];
        all.extend(args);
        all.extend(["-o", "json"]);
        serde_json::from_str(&self.sim.ok(&all)).expect("kubectl -o json prints JSON")
    }

    fn kubectl(&self, args: &[&str]) -> String {
        self.sim.ok(&[&["--context", "acme-wc"][..], args].concat())
    }

    fn pods_on(&self, node: &str) -> Vec<Value> {
        let selector = format!("spec.nodeName={node}");
        let pods = self.kube_json(&["get", "pods", "-A", "--field-selector", &selector]);
        array(&pods["items"], "pods").clone()
    }

    /// The worker of acme-wc running the most Deployment pods.
    fn busiest_worker(&self) -> String {
        let nodes = self.kube_json(&["get", "nodes"]);
        array(&nodes["items"], "nodes")
            .iter()
            .filter(|n| {
                n["metadata"]["labels"]
                    .get("node-role.kubernetes.io/control-plane")
                    .is_none()
            })
            .map(|n| text(&n["metadata"]["name"], "node name").to_owned())
            .max_by_key(|n| {
                self.pods_on(n)
                    .iter()
                    .filter(|p| owner_kind(p) == "ReplicaSet")
                    .count()
            })
            .expect("acme-wc has workers")
    }

    fn unschedulable(&self, node: &str) -> bool {
        self.kube_json(&["get", "node", node])["spec"]["unschedulable"] == true
    }
}

#[test]
fn a_drain_outside_the_window_needs_a_reason_then_empties_the_node() {
    let f = fleet();
    let node = f.busiest_worker();
    let param = format!("node={node}");
    let before = f.pods_on(&node);
    // The ReplicaSets whose pods the drain moves, and the namespaces they are in.
    let moved: BTreeMap<String, String> = before
        .iter()
        .filter(|p| owner_kind(p) == "ReplicaSet")
        .map(|p| {
            (
                owner_name(p).to_owned(),
                text(&p["metadata"]["namespace"], "namespace").to_owned(),
            )
        })
        .collect();
    assert!(!moved.is_empty(), "{node} runs Deployment pods");

    // The plan says why not now, and the exit code that the real run would be refused.
    let out = f.run("drain", &[&param, "--plan", "-o", "json"]);
    assert_eq!(code(&out), 3, "{}", show(&out));
    let doc = parse(&out);
    let plan = &doc["plan"];
    assert_eq!(plan["decision"]["verdict"], "needs-override", "{plan:#}");
    assert!(rules(plan).contains(&"maintenance-window"), "{plan:#}");
    assert_eq!(plan["change"], format!("drain node {node} of acme-wc"));
    assert_eq!(
        plan["steps"],
        serde_json::json!([
            "check the node",
            "cordon",
            "evict the pods",
            "wait for the node to empty"
        ])
    );

    // The real run without a reason is refused and changes nothing.
    let out = f.run("drain", &[&param, "-o", "json"]);
    assert_eq!(code(&out), 3, "{}", show(&out));
    let err = common::stderr(&out);
    assert!(
        err.contains("maintenance-window") && err.contains("--reason"),
        "{err}"
    );
    assert!(!f.unschedulable(&node), "a refused drain cordons nothing");

    // With a reason it runs to the end.
    let out = f.run("drain", &[&param, "--reason", REASON, "-o", "json"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let run = &parse(&out)["run"];
    assert_eq!(run["outcome"], "succeeded", "{run:#}");
    assert_eq!(run["reason"], REASON);
    let id = text(&run["id"], "run id");
    assert!(
        step_message(run, "check the node").contains(&format!("node {node} (worker, Ready")),
        "{run:#}"
    );
    assert_eq!(
        step_message(run, "cordon"),
        format!("cordoned node {node}: no new pods are scheduled on it")
    );
    let evicted = step_message(run, "evict the pods");
    assert!(
        evicted.starts_with("evicted ") && evicted.contains(&node),
        "{evicted}"
    );
    assert!(
        step_message(run, "wait for the node to empty").contains("is drained"),
        "{run:#}"
    );

    // kubectl: cordoned, only DaemonSet pods left, and the Event that says who did it.
    assert!(f.unschedulable(&node));
    let table = f.kubectl(&["get", "node", &node]);
    assert!(table.contains("SchedulingDisabled"), "{table}");
    let left = f.pods_on(&node);
    assert!(
        left.iter().all(|p| owner_kind(p) == "DaemonSet"),
        "only DaemonSet pods are left on {node}: {:?}",
        left.iter()
            .map(|p| text(&p["metadata"]["name"], "name"))
            .collect::<Vec<_>>()
    );
    assert!(left.len() < before.len(), "{} pods before", before.len());
    let events = f.kube_json(&["get", "events", "-n", "default"]);
    let cordoned: Vec<&Value> = array(&events["items"], "events")
        .iter()
        .filter(|e| {
            e["reason"] == "CordonedByConsole" && e["involvedObject"]["name"] == node.as_str()
        })
        .collect();
    assert_eq!(cordoned.len(), 1, "{events:#}");
    let message = text(&cordoned[0]["message"], "event message");
    assert!(message.contains(id) && message.contains(ACTOR), "{message}");

    // The evicted Deployment pods run again, elsewhere.
    for (rs, ns) in &moved {
        common::eventually(
            &format!("ReplicaSet {ns}/{rs} back at full strength"),
            WAIT,
            || {
                let want = f.kube_json(&["get", "replicaset", "-n", ns, rs])["spec"]["replicas"]
                    .as_u64()
                    .unwrap_or(0) as usize;
                let pods = f.kube_json(&["get", "pods", "-n", ns]);
                let running: Vec<&Value> = array(&pods["items"], "pods")
                    .iter()
                    .filter(|p| owner_name(p) == rs.as_str() && is_running(p))
                    .collect();
                assert!(
                    running
                        .iter()
                        .all(|p| p["spec"]["nodeName"] != node.as_str()),
                    "{ns}/{rs} runs on the drained node"
                );
                (running.len() == want).then_some(())
            },
        );
    }
}

const GUARDED: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: ledger, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: ledger}}
  template:
    metadata: {labels: {app: ledger}}
    spec:
      containers: [{name: ledger, image: \"harbor.acme.example/shop/ledger:1.0\"}]
      volumes: [{name: scratch, emptyDir: {}}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: ledger, namespace: default}
spec:
  minAvailable: 2
  selector: {matchLabels: {app: ledger}}
";

fn engine(f: &Fleet, poll: Duration, patience: Duration) -> Arc<Engine> {
    let paths = Paths::resolve(Some(&f.sim.fleet_file), Some(&f.state), &PathEnv::default());
    let cfg = config::load(&f.sim.fleet_file).expect("fleet config");
    Engine::new(
        Arc::new(cfg),
        &paths,
        ACTOR.into(),
        Tuning { poll, patience },
    )
}

/// Waits until the run has finished and its task has let go.
async fn finished(engine: &Engine, id: &str) -> RunSummary {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let run = engine.run(id).expect("the run's journal reads");
        if run.finished() && !engine.is_local(id) {
            return run;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "run {id} did not finish: {run:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn a_drain_held_by_a_disruption_budget_gives_up_after_its_patience_and_resumes() {
    let f = fleet();
    let manifest = f.sim.dir.path().join("ledger.yaml");
    std::fs::write(&manifest, GUARDED).expect("manifest written");
    f.kubectl(&["apply", "-f", manifest.to_str().expect("utf-8 path")]);
    let ledger_nodes = || {
        let pods = f.kube_json(&["get", "pods", "-n", "default", "-l", "app=ledger"]);
        array(&pods["items"], "pods")
            .iter()
            .filter(|p| is_running(p))
            .map(|p| text(&p["spec"]["nodeName"], "nodeName").to_owned())
            .collect::<Vec<_>>()
    };
    let nodes = common::eventually("both ledger pods running", WAIT, || {
        let n = ledger_nodes();
        (n.len() == 2).then_some(n)
    });
    common::eventually("the ledger budget computed", WAIT, || {
        let pdb = f.kube_json(&["get", "pdb", "-n", "default", "ledger"]);
        (pdb["status"]["currentHealthy"] == 2).then_some(())
    });
    let node = nodes[0].clone();
    let request = RunRequest {
        workflow: WorkflowKind::Drain,
        env: "acme".into(),
        role: ClusterRole::Wc,
        params: BTreeMap::from([("node".to_owned(), node.clone())]),
        hints: Hints::default(),
    };

    let impatient = engine(&f, Duration::from_millis(200), Duration::from_secs(2));
    let run = f.sim.rt.block_on(async {
        let plan = impatient.plan(request).await.expect("plan");
        assert!(plan.needs_override(), "{:?}", plan.decision);
        let id = impatient
            .start(plan, Some(REASON.into()))
            .await
            .expect("the run starts with a reason");
        finished(&impatient, &id).await
    });
    assert_eq!(run.outcome, Some(Outcome::Failed), "{run:#?}");
    let states: Vec<StepState> = run.steps.iter().map(|s| s.state).collect();
    assert_eq!(
        states,
        [
            StepState::Done,
            StepState::Done,
            StepState::Failed,
            StepState::Pending
        ],
        "{run:#?}"
    );
    let evict = &run.steps[2];
    let error = evict.message.as_deref().unwrap_or("");
    assert!(
        error.starts_with("gave up after 2s:")
            && error.contains("default/ledger-")
            && error.contains("The disruption budget ledger needs 2 healthy pods")
            && error.contains(&format!("node {node} stays cordoned")),
        "{error}"
    );
    let log: Vec<&str> = evict.log.iter().map(|l| l.message.as_str()).collect();
    assert!(
        log.iter().any(|l| l.contains("cannot be evicted yet")
            && l.contains("retrying every 200ms")
            && l.contains("ledger")),
        "the log says which pods wait for which budget: {log:#?}"
    );
    assert!(
        log.iter()
            .any(|l| l.contains("emptyDir") && l.contains("default/ledger-")),
        "the log warns about emptyDir data: {log:#?}"
    );
    assert!(f.unschedulable(&node));
    assert!(
        ledger_nodes().contains(&node),
        "the guarded pod stays where it was"
    );

    // Once the budget allows it, the run resumes at the eviction and finishes.
    f.kubectl(&[
        "patch",
        "pdb",
        "ledger",
        "-n",
        "default",
        "--type=merge",
        "-p",
        "{\"spec\":{\"minAvailable\":1}}",
    ]);
    let patient = engine(&f, Duration::from_millis(200), WAIT);
    // But the policy is asked again at resume: while an apps upgrade holds its lock
    // (the ConfigMap Welkin's upgrade writes), the resume is refused and nothing moves.
    f.kubectl(&[
        "create",
        "configmap",
        "welkin-apps-upgrade",
        "-n",
        "kube-system",
        "--from-literal=version=v0.52",
    ]);
    let refused = f.sim.rt.block_on(patient.resume(&run.id));
    match refused {
        Err(EngineError::Denied(decision)) => {
            // (This fleet's window is moved away from today: outside it too.)
            let rules: Vec<&str> = decision.findings().iter().map(|f| f.rule).collect();
            assert_eq!(
                rules,
                ["upgrade-in-progress", "maintenance-window"],
                "{decision:?}"
            );
        }
        other => panic!("the upgrade lock refuses the resume: {other:?}"),
    }
    assert!(
        ledger_nodes().contains(&node),
        "the refused resume evicted nothing"
    );
    assert_eq!(patient.run(&run.id).unwrap().outcome, Some(Outcome::Failed));
    f.kubectl(&[
        "delete",
        "configmap",
        "welkin-apps-upgrade",
        "-n",
        "kube-system",
    ]);
    let resumed = f.sim.rt.block_on(async {
        patient.resume(&run.id).await.expect("resume");
        finished(&patient, &run.id).await
    });
    assert_eq!(resumed.outcome, Some(Outcome::Succeeded), "{resumed:#?}");
    assert!(
        resumed.steps[3]
            .message
            .as_deref()
            .is_some_and(|m| m.contains("is drained")),
        "{resumed:#?}"
    );
    let nodes = common::eventually("both ledger pods running elsewhere", WAIT, || {
        let n = ledger_nodes();
        (n.len() == 2).then_some(n)
    });
    assert!(!nodes.contains(&node), "{nodes:?}");
}

#[test]
fn a_restore_brings_back_a_deleted_deployment_within_the_recovery_objective() {
    let f = fleet();

    // Bad input is refused before anything is looked at.
    for (args, names) in [
        (vec![], &["backup", "required"][..]),
        (
            vec!["backup=b1", "namespaces=Prod_1"],
            &["namespaces", "Prod_1"],
        ),
    ] {
        let out = f.run("restore", &args);
        assert_eq!(code(&out), 2, "{args:?}: {}", show(&out));
        let err = common::stderr(&out);
        for name in names {
            assert!(err.contains(name), "{args:?}: {err}");
        }
    }
    let out = f.run("drain", &[]);
    assert_eq!(code(&out), 2, "{}", show(&out));
    assert!(common::stderr(&out).contains("node"), "{}", show(&out));

    // A backup to restore from.
    let out = f.run("backup", &["-o", "json"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let id = text(&parse(&out)["run"]["id"], "run id").to_owned();
    let backup = format!("velero-daily-backup-console-{}", run_tag(&id));

    // A customer Deployment is lost.
    let deployments = f.kube_json(&["get", "deployments", "-n", "production"]);
    let lost = text(
        &array(&deployments["items"], "deployments")[0]["metadata"]["name"],
        "name",
    )
    .to_owned();
    f.kubectl(&["delete", "deployment", "-n", "production", &lost]);
    let gone = f.sim.kubectl(&[
        "--context",
        "acme-wc",
        "get",
        "deployment",
        "-n",
        "production",
        &lost,
    ]);
    assert!(!gone.status.success(), "{lost} is deleted");

    // Restored, outside the maintenance window and without a reason: it is recovery.
    let out = f.run(
        "restore",
        &[
            &format!("backup={backup}"),
            "namespaces=production",
            "-o",
            "json",
        ],
    );
    assert_eq!(code(&out), 0, "{}", show(&out));
    let doc = parse(&out);
    assert_eq!(doc["plan"]["decision"]["verdict"], "allow", "{doc:#}");
    assert_eq!(
        doc["plan"]["change"],
        format!("restore Velero backup {backup} into acme-wc")
    );
    let run = &doc["run"];
    assert_eq!(run["outcome"], "succeeded", "{run:#}");
    let created = step_message(run, "create the restore");
    let restore = created
        .strip_prefix("created Restore velero/")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("{created}"))
        .to_owned();
    let suffix = format!("-restore-{}", run_tag(text(&run["id"], "run id")));
    assert!(
        restore.ends_with(&suffix) && restore.len() <= 63,
        "a valid object name of this run: {restore}"
    );
    assert!(
        created.ends_with(&format!(
            "from Backup velero/{backup} for namespace(s) production"
        )),
        "{run:#}"
    );
    let done = step_message(run, "wait for the restore");
    assert!(
        done.starts_with(&format!("Restore velero/{restore} Completed in "))
            && done.contains("(recovery objective 4h: met)"),
        "{done}"
    );

    // kubectl: the Deployment is back, and so are its pods.
    let restored = f.kube_json(&["get", "restores.velero.io", "-n", "velero", &restore]);
    assert_eq!(restored["spec"]["backupName"], backup.as_str());
    assert_eq!(
        restored["spec"]["includedNamespaces"],
        serde_json::json!(["production"])
    );
    common::eventually(&format!("{lost} available again"), WAIT, || {
        let d = f.kube_json(&["get", "deployment", "-n", "production", &lost]);
        let want = d["spec"]["replicas"].as_u64()?;
        (d["status"]["availableReplicas"].as_u64() == Some(want)).then_some(())
    });

    // A backup that does not exist fails the run's first step, naming it.
    let out = f.run(
        "restore",
        &["backup=velero-daily-backup-nope", "-o", "json"],
    );
    assert_eq!(code(&out), 1, "{}", show(&out));
    let run = &parse(&out)["run"];
    assert_eq!(run["outcome"], "failed", "{run:#}");
    let failed = &run["steps"][0];
    assert_eq!(failed["state"], "failed", "{run:#}");
    let message = text(&failed["message"], "message");
    assert!(
        message.contains("acme-wc has no Backup velero/velero-daily-backup-nope"),
        "{message}"
    );

    // Nor is a failed backup restored: the step says its phase and Velero's reason.
    f.kubectl(&[
        "annotate",
        "schedules.velero.io",
        "-n",
        "velero",
        "velero-daily-backup",
        "sim.ck8s.io/backup-outcome=Failed",
    ]);
    let out = f.run("backup", &["-o", "json"]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let id = text(&parse(&out)["run"]["id"], "run id").to_owned();
    let failed_backup = format!("velero-daily-backup-console-{}", run_tag(&id));
    let out = f.run(
        "restore",
        &[&format!("backup={failed_backup}"), "-o", "json"],
    );
    assert_eq!(code(&out), 1, "{}", show(&out));
    let message = step_message(&parse(&out)["run"], "check the backup").to_owned();
    assert!(
        message.starts_with(&format!(
            "Backup velero/{failed_backup} is Failed; only Completed or PartiallyFailed backups can be restored (Velero says: "
        )),
        "{message}"
    );
}

/// What was approved must still hold when the run starts: a plan to scale 3 → 4 made
/// before someone else scaled to 6 would be a scale-down by now, which the plan never
/// showed, so the start is refused and nothing changes.
#[test]
fn a_plan_that_no_longer_holds_is_refused_at_start() {
    let f = fleet();
    let request = RunRequest {
        workflow: WorkflowKind::Scale,
        env: "acme".into(),
        role: ClusterRole::Wc,
        params: BTreeMap::from([("workers".to_owned(), "4".to_owned())]),
        hints: Hints::default(),
    };
    let engine = engine(&f, Duration::from_millis(200), WAIT);
    let plan = f.sim.rt.block_on(engine.plan(request)).expect("the plan");
    assert_eq!(plan.change, "scale acme-wc from 3 to 4 workers");
    f.sim.ok(&[
        "--context",
        "acme-sc",
        "-n",
        "capi-clusters",
        "patch",
        "machinedeployment",
        "acme-wc-md-0",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"replicas":6}}"#,
    ]);
    let err = f
        .sim
        .rt
        .block_on(engine.start(plan, None))
        .expect_err("a stale plan does not start");
    assert!(
        err.to_string().contains("changed since the plan")
            && err.to_string().contains("from 6 to 4"),
        "{err}"
    );
    assert_eq!(err.exit_code(), 3);
    let (runs, _) = engine.runs();
    assert!(runs.is_empty(), "nothing was journaled: {runs:#?}");
}

/// A pod no controller recreates is lost for good when evicted: like `kubectl drain`
/// without `--force`, the drain refuses it before cordoning anything, and takes it only
/// with `force=true`.
#[test]
fn a_drain_refuses_a_pod_without_a_controller_unless_forced() {
    let f = fleet();
    let node = f.busiest_worker();
    let manifest = f.sim.dir.path().join("scratch.yaml");
    std::fs::write(
        &manifest,
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: scratch\n  namespace: default\n\
             spec:\n  nodeName: {node}\n  containers:\n  - name: sh\n    image: busybox\n"
        ),
    )
    .unwrap();
    f.kubectl(&["apply", "-f", manifest.to_str().expect("utf-8 path")]);
    let engine = engine(&f, Duration::from_millis(200), WAIT);
    let drain = |force: bool| {
        let mut params = BTreeMap::from([("node".to_owned(), node.clone())]);
        if force {
            params.insert("force".into(), "true".into());
        }
        let request = RunRequest {
            workflow: WorkflowKind::Drain,
            env: "acme".into(),
            role: ClusterRole::Wc,
            params,
            hints: Hints::default(),
        };
        f.sim.rt.block_on(async {
            let plan = engine.plan(request).await.expect("plan");
            let id = engine
                .start(plan, Some(REASON.into()))
                .await
                .expect("the run starts");
            finished(&engine, &id).await
        })
    };
    let refused = drain(false);
    assert_eq!(refused.outcome, Some(Outcome::Failed), "{refused:#?}");
    let why = refused.steps[0].message.as_deref().unwrap_or("");
    assert!(
        why.contains("default/scratch") && why.contains("force=true"),
        "{why}"
    );
    let node_now = f.kube_json(&["get", "node", &node]);
    assert_ne!(
        node_now["spec"]["unschedulable"], true,
        "nothing was cordoned"
    );
    let forced = drain(true);
    assert_eq!(forced.outcome, Some(Outcome::Succeeded), "{forced:#?}");
    assert!(
        f.pods_on(&node)
            .iter()
            .all(|p| p["metadata"]["name"] != "scratch"),
        "the bare pod is gone"
    );
}

/// A port-forward and a backup's DownloadRequest pass the engine's one gate and leave an
/// audit record (with the ports, the backup): refused in read-only mode and for a user
/// who may not create them, allowed (and audited) for the admin.
#[test]
fn a_port_forward_and_a_backup_download_pass_the_gate_and_are_audited() {
    use ck8s_fleet::engine::Mode;
    use ck8s_fleet::engine::ops::ObjectRef;
    let f = fleet();
    let pods: Value = serde_json::from_str(&f.sim.ok(&[
        "--context",
        "acme-wc",
        "-n",
        "production",
        "get",
        "pods",
        "-o",
        "json",
    ]))
    .unwrap();
    let name = text(&array(&pods["items"], "pods")[0]["metadata"]["name"], "pod").to_owned();
    let pod = ObjectRef {
        env: "acme".into(),
        role: ClusterRole::Wc,
        kind: "pods".into(),
        namespace: Some("production".into()),
        name: name.clone(),
    };
    let ports = vec!["8080:80".to_owned()];
    let backup_name = f.sim.ok(&[
        "--context",
        "acme-wc",
        "-n",
        "velero",
        "get",
        "backups.velero.io",
        "-o",
        "jsonpath={.items[0].metadata.name}",
    ]);
    let backup = ObjectRef {
        kind: "backups.velero.io".into(),
        namespace: Some("velero".into()),
        name: backup_name.trim().to_owned(),
        ..pod.clone()
    };
    let paths = Paths::resolve(Some(&f.sim.fleet_file), Some(&f.state), &PathEnv::default());
    let load = |file: &std::path::Path| Arc::new(config::load(file).expect("fleet config"));
    let tuning = Tuning {
        poll: Duration::from_millis(100),
        patience: WAIT,
    };
    f.sim.rt.block_on(async {
        let read_only = Engine::with_mode(
            load(&f.sim.fleet_file),
            &paths,
            ACTOR.into(),
            tuning,
            Mode::ReadOnly,
        );
        let refused = read_only.port_forward(&pod, &ports).await.unwrap_err();
        assert!(refused.to_string().contains("read-only"), "{refused}");
        let refused = read_only.download(&backup, "log").await.unwrap_err();
        assert!(refused.to_string().contains("read-only"), "{refused}");

        let viewer = Engine::new(
            load(&common::fleet_as(&f.sim, "readonly")),
            &paths,
            ACTOR.into(),
            tuning,
        );
        let denied = viewer.port_forward(&pod, &ports).await.unwrap_err();
        assert!(denied.to_string().contains("portforward"), "{denied}");
        let denied = viewer.download(&backup, "log").await.unwrap_err();
        assert!(denied.to_string().contains("downloadrequests"), "{denied}");

        let admin = engine(&f, tuning.poll, tuning.patience);
        admin
            .port_forward(&pod, &ports)
            .await
            .expect("the admin may");
        admin.download(&backup, "log").await.expect("the admin may");
    });
    let records = ck8s_fleet::engine::audit::read(&paths.audit_log).unwrap();
    let forwards: Vec<_> = records
        .iter()
        .filter(|r| r.action == "pod.port-forward")
        .collect();
    assert_eq!(forwards.len(), 1, "only the allowed one is recorded");
    assert_eq!(forwards[0].detail["ports"], serde_json::json!(["8080:80"]));
    assert_eq!(forwards[0].detail["name"], name.as_str());
    let downloads: Vec<_> = records
        .iter()
        .filter(|r| r.action == "backup.download")
        .collect();
    assert_eq!(downloads.len(), 1);
    assert_eq!(downloads[0].detail["backup"], backup.name.as_str());
}
