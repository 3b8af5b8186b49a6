//! The workflow engine end to end: the `ck8s-console` binary runs `run` and `runs` against a
//! simulated demo fleet, as an on-call engineer or a script would, and kubectl is the
//! independent witness of what changed in the clusters. Every test has its own fleet and
//! state directory, so tests run in parallel and no run's lock, journal or audit log leaks
//! into another test.
//!
//! Runs that must be caught while they wait for machines pause the Cluster API Cluster
//! first (as `clusterctl move` does): no machine is created until the test unpauses it, so
//! "still waiting" never depends on how fast the machine running the tests is.

mod common;

use common::{array, code, parse, show, text};

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use ck8s_fleet::engine::workflows::run_tag;
use ck8s_sim::SimOptions;
use serde_json::Value;

/// Who the runs are by (CK8S_CONSOLE_ACTOR): in journals, audit records and Events.
const ACTOR: &str = "oncall@engine-tests";
/// Long enough for anything the fleet does at speed 10; only reached when a test fails.
const PATIENCE: Duration = Duration::from_secs(30);

/// A simulated demo fleet (acme, globex in trouble, initech mid-upgrade) at ten times real
/// speed, so a machine provisions in about two seconds, and a state directory of its own.
struct Fleet {
    sim: common::Sim,
    state: PathBuf,
}

fn fleet() -> Fleet {
    fleet_of(3)
}

/// Only the first `environments` of the demo (1: acme alone), for tests that need no
/// more: a smaller fleet starts faster.
fn fleet_of(environments: u32) -> Fleet {
    let sim = common::start(SimOptions {
        environments,
        speed: 10.0,
        ..SimOptions::default()
    });
    let state = sim.dir.path().join("state");
    Fleet { sim, state }
}

fn step_states(run: &Value) -> Vec<&str> {
    array(&run["steps"], "steps")
        .iter()
        .map(|s| text(&s["state"], "step state"))
        .collect()
}

impl Fleet {
    /// The binary with this fleet's config, state dir and actor, and nothing inherited.
    fn command(&self, args: &[&str]) -> Command {
        common::console_command(&self.sim, &self.state, ACTOR, args)
    }

    fn console(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("ck8s-console runs")
    }

    /// `run scale --env acme --cluster wc <workers> <extra>`.
    fn scale_acme_wc(&self, workers: &str, extra: &[&str]) -> Output {
        let mut args = vec!["run", "scale", "--env", "acme", "--cluster", "wc", workers];
        args.extend_from_slice(extra);
        self.console(&args)
    }

    /// Starts the binary in the background; it is killed if the test ends first.
    fn spawn(&self, args: &[&str]) -> Running {
        let child = self
            .command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ck8s-console starts");
        Running(child)
    }

    /// `runs -o json`: every journaled run, newest first.
    fn runs(&self) -> Vec<Value> {
        let out = self.console(&["runs", "-o", "json"]);
        assert_eq!(code(&out), 0, "runs: {}", show(&out));
        let doc = parse(&out);
        array(&doc["runs"], "runs").clone()
    }

    /// The journal files in the state dir.
    fn journals(&self) -> Vec<PathBuf> {
        match std::fs::read_dir(self.state.join("runs")) {
            Ok(dir) => dir
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    fn journal(&self, id: &str) -> PathBuf {
        self.state.join("runs").join(format!("{id}.jsonl"))
    }

    fn audit_log(&self) -> PathBuf {
        self.state.join("audit.jsonl")
    }

    /// Starts `run scale` of `env`'s wc to `to` workers with its Cluster API cluster paused,
    /// so the run is sure to be waiting for its machines when the test acts on it; returns
    /// the process and the run id. The test unpauses the cluster when it wants it to go on.
    fn scale_held(&self, env: &str, to: i64) -> (Running, String) {
        self.pause(env, "wc", true);
        let workers = format!("workers={to}");
        let mut child = self.spawn(&[
            "run",
            "scale",
            "--env",
            env,
            "--cluster",
            "wc",
            &workers,
            "-o",
            "json",
        ]);
        let id = self.waiting_for_machines(env, &mut child);
        (child, id)
    }

    /// Waits until the only run of `env` is in its third step ("wait for the machines"),
    /// and returns its id. Fails at once if the run's process ended instead.
    fn waiting_for_machines(&self, env: &str, running: &mut Running) -> String {
        common::eventually("the run to wait for its machines", PATIENCE, || {
            if let Some(status) = running.0.try_wait().expect("try_wait") {
                let mut err = String::new();
                if let Some(mut e) = running.0.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!("the run ended ({status}) before it waited for machines:\n{err}");
            }
            self.runs().into_iter().find_map(|r| {
                (r["env"] == env && r["steps"][2]["state"] == "running")
                    .then(|| text(&r["id"], "run id").to_owned())
            })
        })
    }

    // --- kubectl, the witness -----------------------------------------------------------

    fn kube_json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        serde_json::from_str(&self.sim.ok(&all)).expect("kubectl -o json prints JSON")
    }

    /// `spec.replicas` of the cluster's MachineDeployment, in its service cluster.
    fn replicas(&self, env: &str, role: &str) -> i64 {
        let md = self.kube_json(&[
            "--context",
            &format!("{env}-sc"),
            "-n",
            "capi-clusters",
            "get",
            "machinedeployments.cluster.x-k8s.io",
            &format!("{env}-{role}-md-0"),
        ]);
        md["spec"]["replicas"]
            .as_i64()
            .unwrap_or_else(|| panic!("no spec.replicas: {md}"))
    }

    /// Worker nodes (not control plane) that are Ready, in the cluster itself.
    fn ready_workers(&self, env: &str, role: &str) -> usize {
        let nodes = self.kube_json(&["--context", &format!("{env}-{role}"), "get", "nodes"]);
        array(&nodes["items"], "nodes")
            .iter()
            .filter(|n| {
                n["metadata"]["labels"]
                    .get("node-role.kubernetes.io/control-plane")
                    .is_none()
            })
            .filter(|n| {
                n["status"]["conditions"].as_array().is_some_and(|c| {
                    c.iter()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                })
            })
            .count()
    }

    /// The ScaledByConsole Events that name `run_id`, in the service cluster.
    fn scaled_events(&self, env: &str, run_id: &str) -> Vec<Value> {
        let events = self.kube_json(&[
            "--context",
            &format!("{env}-sc"),
            "-n",
            "capi-clusters",
            "get",
            "events",
        ]);
        array(&events["items"], "events")
            .iter()
            .filter(|e| e["reason"] == "ScaledByConsole")
            .filter(|e| e["message"].as_str().is_some_and(|m| m.contains(run_id)))
            .cloned()
            .collect()
    }

    /// The run lock of a cluster: the Lease in its environment's service cluster.
    fn lease(&self, env: &str, role: &str) -> Option<Value> {
        let leases = self.kube_json(&[
            "--context",
            &format!("{env}-sc"),
            "-n",
            "kube-system",
            "get",
            "leases",
        ]);
        let name = format!("ck8s-console-{env}-{role}");
        array(&leases["items"], "leases")
            .iter()
            .find(|l| l["metadata"]["name"] == name.as_str())
            .cloned()
    }

    fn backup(&self, context: &str, name: &str) -> Value {
        self.kube_json(&[
            "--context",
            context,
            "-n",
            "velero",
            "get",
            "backups.velero.io",
            name,
        ])
    }

    /// Pauses or unpauses the Cluster API Cluster: while paused, no machine is created.
    fn pause(&self, env: &str, role: &str, paused: bool) {
        let annotation = if paused {
            "cluster.x-k8s.io/paused=true"
        } else {
            "cluster.x-k8s.io/paused-"
        };
        self.sim.ok(&[
            "--context",
            &format!("{env}-sc"),
            "-n",
            "capi-clusters",
            "annotate",
            "clusters.cluster.x-k8s.io",
            &format!("{env}-{role}"),
            annotation,
        ]);
    }
}

/// A background `ck8s-console`, killed and reaped if the test ends before it does.
struct Running(Child);

impl Running {
    /// Waits for the process to end by itself and returns what it printed.
    fn finish(mut self) -> Output {
        let status = common::eventually("the run's process to exit", PATIENCE, || {
            self.0.try_wait().expect("try_wait")
        });
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        if let Some(mut o) = self.0.stdout.take() {
            o.read_to_end(&mut stdout).expect("child stdout");
        }
        if let Some(mut e) = self.0.stderr.take() {
            e.read_to_end(&mut stderr).expect("child stderr");
        }
        Output {
            status,
            stdout,
            stderr,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn scale_through_the_binary_changes_the_machine_deployment_and_is_journaled_and_audited() {
    let f = fleet();
    assert_eq!(
        f.replicas("acme", "wc"),
        3,
        "the demo's acme-wc has 3 workers"
    );

    let out = f.scale_acme_wc("workers=5", &["-o", "json"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let doc = parse(&out);
    assert_eq!(doc["schema"], "ck8s-console.run/v1");
    assert_eq!(doc["plan"]["change"], "scale acme-wc from 3 to 5 workers");
    assert_eq!(doc["plan"]["decision"]["verdict"], "allow");
    let run = &doc["run"];
    assert_eq!(run["outcome"], "succeeded", "{run:#}");
    assert_eq!(step_states(run), ["done"; 4], "{run:#}");
    assert_eq!(run["actor"], ACTOR);
    assert_eq!(run["params"]["workers"], "5");
    let id = text(&run["id"], "run id");

    // The clusters, as kubectl sees them.
    assert_eq!(f.replicas("acme", "wc"), 5);
    assert_eq!(f.ready_workers("acme", "wc"), 5);
    let events = f.scaled_events("acme", id);
    assert_eq!(
        events.len(),
        1,
        "one ScaledByConsole Event for {id}: {events:#?}"
    );
    let event = &events[0];
    assert_eq!(event["type"], "Normal");
    assert_eq!(event["involvedObject"]["kind"], "MachineDeployment");
    assert_eq!(event["involvedObject"]["name"], "acme-wc-md-0");
    assert!(
        text(&event["message"], "message").contains(ACTOR),
        "{event:#}"
    );
    assert!(
        f.lease("acme", "wc").is_none(),
        "the run released its lock: {:#?}",
        f.lease("acme", "wc")
    );

    // The journal.
    assert!(f.journal(id).is_file());
    let runs = f.runs();
    let listed = runs
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("`runs` does not list {id}: {runs:#?}"));
    assert_eq!(listed["outcome"], "succeeded");
    assert_eq!(listed["workflow"], "scale");
    assert_eq!(
        (&listed["env"], &listed["cluster"]),
        (&"acme".into(), &"wc".into())
    );

    // The audit log: intact, and it tells the run from start to finish.
    let out = f.console(&["runs", "audit", "--verify", "-o", "json"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert!(
        common::stderr(&out).contains("hash chain intact"),
        "{}",
        show(&out)
    );
    let audit = parse(&out);
    assert_eq!(audit["verified"], true);
    let actions: Vec<&str> = array(&audit["records"], "records")
        .iter()
        .filter(|r| r["run_id"] == id)
        .inspect(|r| assert_eq!(r["actor"], ACTOR, "{r:#}"))
        .map(|r| text(&r["action"], "action"))
        .collect();
    assert_eq!(
        actions,
        [
            "run.start",
            "run.step",
            "run.step",
            "run.step",
            "run.step",
            "run.finish"
        ]
    );
}

/// Success means the MachineDeployment has as many ready workers as asked for, whatever
/// machines exist: a worker that went NotReady before the run holds it back as much as
/// one the run added. The run finishes once that worker is Ready again.
#[test]
fn scale_succeeds_only_when_the_ready_workers_equal_the_target() {
    let f = fleet();
    let before = f.replicas("acme", "wc");
    let nodes = f.kube_json(&[
        "--context",
        "acme-wc",
        "get",
        "nodes",
        "-l",
        "!node-role.kubernetes.io/control-plane",
    ]);
    let worker = nodes["items"][0]["metadata"]["name"]
        .as_str()
        .expect("a worker")
        .to_owned();
    let not_ready = |on: bool| {
        let annotation = if on {
            "sim.ck8s.io/not-ready=true".to_string()
        } else {
            "sim.ck8s.io/not-ready-".to_string()
        };
        f.sim.ok(&[
            "--context",
            "acme-wc",
            "annotate",
            "node",
            &worker,
            &annotation,
        ]);
    };
    not_ready(true);
    let ready_replicas = || {
        f.kube_json(&[
            "--context",
            "acme-sc",
            "-n",
            "capi-clusters",
            "get",
            "machinedeployments.cluster.x-k8s.io",
            "acme-wc-md-0",
        ])["status"]["readyReplicas"]
            .as_i64()
            .unwrap_or(0)
    };
    common::eventually("the worker's machine to be not ready", PATIENCE, || {
        (ready_replicas() == before - 1).then_some(())
    });
    let workers = format!("workers={}", before + 1);
    let running = f.spawn(&[
        "run",
        "scale",
        "--env",
        "acme",
        "--cluster",
        "wc",
        &workers,
        "-o",
        "json",
    ]);
    // The new machine becomes ready, but one worker of the target is not.
    common::eventually("the run to wait for ready workers", PATIENCE, || {
        let run = f.runs().into_iter().next()?;
        let last = run["steps"][3]["log"].as_array()?.last()?.clone();
        last["message"]
            .as_str()
            .is_some_and(|m| m.contains(&format!("{before} of {} workers ready", before + 1)))
            .then_some(())
    });
    assert_eq!(f.runs()[0]["outcome"], Value::Null, "not succeeded yet");
    not_ready(false);
    let out = running.finish();
    assert_eq!(code(&out), 0, "{}", show(&out));
    let doc = parse(&out);
    assert_eq!(doc["run"]["outcome"], "succeeded", "{doc:#}");
    assert_eq!(ready_replicas(), before + 1);
}

/// A server that goes down while a run waits pauses the wait, which says why and goes on
/// once the server is back; the run still ends as it would have.
#[test]
fn a_run_waits_out_an_api_outage() {
    let f = fleet();
    let before = f.replicas("acme", "wc");
    let (running, id) = f.scale_held("acme", before + 1);
    f.pause("acme", "wc", false);
    // 30 s of simulated time: 3 s at the fleet's speed.
    let down = ck8s_sim::faults::FaultSpec {
        service: ck8s_sim::faults::Service::Api,
        kind: ck8s_sim::faults::FaultKind::Down,
        duration: "30s".into(),
        latency_ms: 0,
        jitter_ms: 0,
        code: None,
        retry_after: None,
        fraction: 1.0,
    };
    f.sim
        .fleet
        .inject_fault("acme-sc", down)
        .expect("a valid fault");
    let out = running.finish();
    assert_eq!(code(&out), 0, "{}", show(&out));
    let run = f
        .runs()
        .into_iter()
        .find(|r| r["id"] == id.as_str())
        .expect("the run is listed");
    assert_eq!(run["outcome"], "succeeded", "{run:#}");
    let log = run["steps"].to_string();
    assert!(
        ["could not be reached", "closed the connection", "was reset"]
            .iter()
            .any(|why| log.contains(why))
            && log.contains("retrying"),
        "the wait said why it paused: {log}"
    );
}

/// Tables show times in the fleet's time zone (the service's Europe/Stockholm), and say
/// which; JSON stays UTC.
#[test]
fn run_tables_show_the_fleet_time_zone_and_say_so() {
    let f = fleet();
    let workers = format!("workers={}", f.replicas("acme", "wc"));
    let out = f.scale_acme_wc(&workers, &[]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let run = f.runs().remove(0);
    let started: chrono::DateTime<chrono::Utc> =
        text(&run["started_at"], "started_at").parse().unwrap();
    let local = started.with_timezone(&chrono_tz::Europe::Stockholm);
    let table = common::stdout(&f.console(&["runs", "-o", "table"]));
    assert!(
        table.contains(&format!(
            "STARTED ({})",
            chrono::Utc::now()
                .with_timezone(&chrono_tz::Europe::Stockholm)
                .format("%Z")
        )) && table.contains(&local.format("%Y-%m-%d %H:%M").to_string()),
        "{table}"
    );
    let audit = common::stdout(&f.console(&["runs", "audit", "-o", "table"]));
    assert!(audit.contains("TIME (CE"), "{audit}");
}

#[test]
fn the_policy_refuses_without_a_reason_and_changes_nothing() {
    let f = fleet();
    let before = f.replicas("globex", "wc");
    let scale = [
        "run",
        "scale",
        "--env",
        "globex",
        "--cluster",
        "wc",
        "workers=24",
    ];
    let with = |extra: &[&str]| f.console(&[&scale[..], extra].concat());

    // The real run, without a reason.
    let out = with(&[]);
    assert_eq!(code(&out), 3, "{}", show(&out));
    let err = common::stderr(&out);
    for rule in ["worker-limit", "critical-alerts"] {
        assert!(err.contains(rule), "stderr names {rule}: {err}");
    }
    assert!(
        err.contains("--reason"),
        "stderr says how to give a reason: {err}"
    );

    // The plan says why.
    let out = with(&["--plan", "-o", "json"]);
    assert_eq!(
        code(&out),
        3,
        "the real run would be refused: {}",
        show(&out)
    );
    let doc = parse(&out);
    assert!(doc["run"].is_null());
    let decision = &doc["plan"]["decision"];
    assert_eq!(decision["verdict"], "needs-override", "{decision:#}");
    let rules: Vec<&str> = array(&decision["findings"], "findings")
        .iter()
        .map(|f| text(&f["rule"], "rule"))
        .collect();
    for rule in ["worker-limit", "critical-alerts"] {
        assert!(rules.contains(&rule), "{rule} in {decision:#}");
    }

    // A reason that says why would let it start.
    let out = with(&[
        "--plan",
        "--reason",
        "customer order 4711 approved by the CTO",
        "-o",
        "json",
    ]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert_eq!(parse(&out)["plan"]["decision"]["verdict"], "needs-override");

    // One that does not is refused, real run or plan, with what a good one needs.
    for extra in [&["--reason", "ok"][..], &["--plan", "--reason", "ok"]] {
        let out = with(extra);
        assert_eq!(code(&out), 3, "{extra:?}: {}", show(&out));
        let err = common::stderr(&out);
        assert!(
            err.contains("at least 15 characters"),
            "{extra:?}: stderr says how to fix the reason: {err}"
        );
    }

    // Nothing changed, nothing was journaled or audited.
    assert_eq!(f.replicas("globex", "wc"), before);
    assert_eq!(f.journals(), Vec::<PathBuf>::new());
    assert!(
        !f.audit_log().exists(),
        "a refused run is not audited as a change"
    );
    assert!(f.lease("globex", "wc").is_none());
}

/// Of runs started at the same time on one cluster, one wins the lock, and every loser
/// names the winner's run, however it lost (its plan saw the lock, the plan again at start
/// did, or the lease was taken under it).
#[test]
fn every_loser_of_a_race_names_the_winning_run() {
    let f = fleet();
    f.pause("acme", "wc", true);
    let workers = format!("workers={}", f.replicas("acme", "wc") + 1);
    let racers: Vec<Running> = (0..3)
        .map(|_| f.spawn(&["run", "scale", "--env", "acme", "--cluster", "wc", &workers]))
        .collect();
    let winner = common::eventually("one run to hold the cluster", PATIENCE, || {
        let runs = f.runs();
        (runs.len() == 1).then(|| text(&runs[0]["id"], "id").to_owned())
    });
    // The winner waits for machines that never come while the cluster is paused; the
    // losers end.
    let mut racers = racers;
    common::eventually("the two losers to end", PATIENCE, || {
        let mut ended = 0;
        for r in &mut racers {
            ended += usize::from(r.0.try_wait().expect("try_wait").is_some());
        }
        (ended == 2).then_some(())
    });
    let mut losers = 0;
    for mut racer in racers {
        if racer.0.try_wait().expect("try_wait").is_none() {
            continue;
        }
        let out = racer.finish();
        losers += 1;
        assert_eq!(code(&out), 4, "{}", show(&out));
        assert!(
            common::stderr(&out).contains(&winner),
            "the loser names the winner {winner}: {}",
            show(&out)
        );
    }
    assert_eq!(losers, 2, "exactly one run holds the cluster");
    assert_eq!(f.runs().len(), 1);
    f.pause("acme", "wc", false);
}

#[test]
fn a_cluster_held_by_another_run_is_refused() {
    let f = fleet();
    let renewed = chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    let lease = serde_json::json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "ck8s-console-acme-wc", "namespace": "kube-system"},
        "spec": {
            "holderIdentity": "someone-else otherhost:1",
            "leaseDurationSeconds": 600,
            "acquireTime": renewed,
            "renewTime": renewed,
        },
    });
    let file = f.sim.dir.path().join("lease.json");
    std::fs::write(&file, lease.to_string()).expect("lease file");
    f.sim.ok(&[
        "--context",
        "acme-sc",
        "create",
        "-f",
        file.to_str().expect("utf-8 path"),
    ]);

    // The policy sees the lock: busy, exit 4, not refused for good (3).
    let out = f.console(&[
        "run",
        "backup",
        "--env",
        "acme",
        "--cluster",
        "wc",
        "-o",
        "json",
    ]);
    assert_eq!(code(&out), 4, "{}", show(&out));
    assert!(
        common::stderr(&out).contains("someone-else"),
        "{}",
        show(&out)
    );
    let doc = parse(&out);
    assert_eq!(doc["plan"]["decision"]["verdict"], "deny");
    assert_eq!(
        doc["plan"]["decision"]["findings"][0]["rule"],
        "cluster-locked"
    );
    assert!(doc["run"].is_null());

    // And so does the lock itself: a no-op scale passes the policy whatever the facts, and
    // only the lease stops it.
    let workers = format!("workers={}", f.replicas("acme", "wc"));
    let out = f.scale_acme_wc(&workers, &[]);
    assert_eq!(code(&out), 4, "{}", show(&out));
    let err = common::stderr(&out);
    assert!(
        err.contains("locked by run someone-else otherhost:1"),
        "{}",
        show(&out)
    );

    // Nothing was created, and the other run still holds the cluster.
    let backups = f.kube_json(&[
        "--context",
        "acme-wc",
        "-n",
        "velero",
        "get",
        "backups.velero.io",
    ]);
    let ours: Vec<&str> = array(&backups["items"], "backups")
        .iter()
        .map(|b| text(&b["metadata"]["name"], "name"))
        .filter(|n| n.contains("-console-"))
        .collect();
    assert!(ours.is_empty(), "backups made anyway: {ours:?}");
    assert_eq!(f.journals(), Vec::<PathBuf>::new());
    assert!(!f.audit_log().exists());
    let held = f.lease("acme", "wc").expect("the lease is still there");
    assert_eq!(held["spec"]["holderIdentity"], "someone-else otherhost:1");
}

#[test]
fn cancel_then_resume_from_another_process() {
    let f = fleet();
    // initech's apps upgrade holds the upgrade lock, which no scale may run beside: it ends.
    f.sim.ok(&[
        "--context",
        "initech-wc",
        "-n",
        "kube-system",
        "delete",
        "configmap",
        "welkin-apps-upgrade",
    ]);
    let to = f.replicas("initech", "wc") + 2;
    let (child, id) = f.scale_held("initech", to);
    assert_eq!(f.replicas("initech", "wc"), to, "patched before the wait");

    let out = f.console(&["runs", "cancel", &id]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let out = child.finish();
    assert_eq!(code(&out), 1, "a cancelled run exits 1: {}", show(&out));
    let run = &parse(&out)["run"];
    assert_eq!(run["id"], id.as_str());
    assert_eq!(run["outcome"], "cancelled", "{run:#}");
    let out = f.console(&["runs", "show", &id, "-o", "json"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert_eq!(parse(&out)["run"]["outcome"], "cancelled");
    assert!(
        f.lease("initech", "wc").is_none(),
        "a cancelled run lets go"
    );

    f.pause("initech", "wc", false);
    let out = f.console(&["runs", "resume", &id, "-o", "json"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let run = &parse(&out)["run"];
    assert_eq!(run["outcome"], "succeeded", "{run:#}");
    assert_eq!(step_states(run), ["done"; 4], "{run:#}");

    let journal = std::fs::read_to_string(f.journal(&id)).expect("journal");
    let events: Vec<Value> = journal
        .lines()
        .map(|l| serde_json::from_str(l).expect("journal lines are JSON"))
        .collect();
    let at = |what: &str| events.iter().position(|e| e["event"] == what);
    let resumed = at("resumed").unwrap_or_else(|| panic!("no resumed record:\n{journal}"));
    assert_eq!(events[resumed]["actor"], ACTOR);
    assert!(
        events[..resumed]
            .iter()
            .any(|e| e["event"] == "finished" && e["outcome"] == "cancelled"),
        "cancelled, then resumed:\n{journal}"
    );
    assert_eq!(
        events.last().map(|e| (&e["event"], &e["outcome"])),
        Some((&"finished".into(), &"succeeded".into())),
        "{journal}"
    );

    assert_eq!(f.replicas("initech", "wc"), to);
    assert_eq!(f.ready_workers("initech", "wc"), to as usize);
    let scaled = f.scaled_events("initech", &id);
    assert_eq!(scaled.len(), 1, "patched exactly once: {scaled:#?}");
    assert!(f.lease("initech", "wc").is_none());
}

/// A scale-down is disruptive: with an error budget spent the policy asks for an override
/// and names the target, read from the cluster's Prometheus. globex's Grafana has 18 % of
/// its 99.5 % budget left in the demo; held to 99.9 % its budget is long gone.
#[test]
fn a_spent_error_budget_needs_an_override_for_a_scale_down() {
    let f = fleet();
    let file = f.sim.fleet_file.clone();
    let config = std::fs::read_to_string(&file).unwrap();
    let strict = config.replacen(
        "target = \"grafana\"\nkind = \"external\"",
        "target = \"grafana\"\nkind = \"external\"\nslo = 99.9",
        2,
    );
    assert_ne!(strict, config, "the demo fleet config has grafana probes");
    std::fs::write(&file, strict).unwrap();
    let plan = |workers: i64| {
        let workers = format!("workers={workers}");
        let out = f.console(&[
            "run",
            "scale",
            "--env",
            "globex",
            "--cluster",
            "sc",
            &workers,
            "--plan",
            "-o",
            "json",
        ]);
        assert_eq!(
            code(&out),
            3,
            "globex has critical alerts too: {}",
            show(&out)
        );
        parse(&out)["plan"].clone()
    };
    let rules = |plan: &Value| -> Vec<String> {
        array(&plan["decision"]["findings"], "findings")
            .iter()
            .map(|f| text(&f["rule"], "rule").to_owned())
            .collect()
    };
    let now = f.replicas("globex", "sc");
    let down = plan(now - 1);
    assert!(
        rules(&down).contains(&"error-budget".to_string()),
        "{down:#}"
    );
    let checked: Vec<&str> = array(&down["checked"], "checked")
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert!(
        checked
            .iter()
            .any(|c| c.contains("exhausted") && c.contains("grafana")),
        "{checked:?}"
    );
    // Adding capacity is not disruptive: the spent budget does not hold it back.
    let up = plan(now + 1);
    assert!(!rules(&up).contains(&"error-budget".to_string()), "{up:#}");
}

/// Ctrl-C on a headless run (or SIGTERM, or the SSH session dropping) does not leave the
/// cluster locked by a dead process: the run stops at its next safe point, says so, lets go
/// of its lock, and can be resumed.
#[test]
fn ctrl_c_stops_a_headless_run_at_a_safe_point() {
    let f = fleet_of(1);
    let to = f.replicas("acme", "wc") + 1;
    let (child, id) = f.scale_held("acme", to);
    // SAFETY: kill(2) on our own child's pid.
    let rc = unsafe { libc::kill(child.0.id() as i32, libc::SIGINT) };
    assert_eq!(rc, 0);
    let out = child.finish();
    assert_eq!(code(&out), 130, "stopped by SIGINT: {}", show(&out));
    assert!(show(&out).contains("next safe point"), "{}", show(&out));
    assert_eq!(parse(&out)["run"]["outcome"], "cancelled");
    assert!(f.lease("acme", "wc").is_none(), "the lock is released");
    let out = f.console(&["runs", "show", &id, "-o", "json"]);
    assert_eq!(parse(&out)["run"]["outcome"], "cancelled", "{}", show(&out));
    // And it goes on from where it stopped.
    f.pause("acme", "wc", false);
    let out = f.console(&["runs", "resume", &id, "-o", "json"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert_eq!(parse(&out)["run"]["outcome"], "succeeded", "{}", show(&out));
    assert_eq!(f.replicas("acme", "wc"), to);
}

/// A run whose process was killed is not left "open" by a cancel nobody would read: with
/// no live driver holding its lock, it is marked cancelled at once.
#[test]
fn cancelling_a_run_whose_process_died_ends_it_at_once() {
    let f = fleet_of(1);
    let to = f.replicas("acme", "wc") + 1;
    let (mut child, id) = f.scale_held("acme", to);
    child.0.kill().expect("kill");
    child.0.wait().expect("reaped");
    let out = f.console(&["runs", "cancel", &id]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert!(show(&out).contains("no live process"), "{}", show(&out));
    let out = f.console(&["runs", "show", &id, "-o", "json"]);
    assert_eq!(parse(&out)["run"]["outcome"], "cancelled", "{}", show(&out));
    // Its lock goes with it: the cluster is free at once, not when the lease lapses.
    let lease = f.sim.kubectl(&[
        "--context",
        "acme-sc",
        "-n",
        "kube-system",
        "get",
        "lease",
        "ck8s-console-acme-wc",
    ]);
    assert!(
        common::stderr(&lease).contains("NotFound"),
        "the dead run's lease is released: {}",
        common::stdout(&lease)
    );
    let workers = format!("workers={to}");
    let plan = f.scale_acme_wc(&workers, &["--plan"]);
    assert_eq!(code(&plan), 0, "{}", show(&plan));
    assert!(
        show(&plan).contains("cluster lock: free"),
        "{}",
        show(&plan)
    );
    f.pause("acme", "wc", false);
}

#[test]
fn a_killed_run_resumes_at_once() {
    let f = fleet_of(1);
    let to = f.replicas("acme", "wc") + 2;
    let (mut child, id) = f.scale_held("acme", to);

    // While its process lives, the lock is that process's: a resume elsewhere is refused.
    let out = f.console(&["runs", "resume", &id, "-o", "json"]);
    assert_eq!(code(&out), 4, "{}", show(&out));
    assert!(common::stderr(&out).contains(&id), "{}", show(&out));

    let pid = child.0.id();
    child.0.kill().expect("SIGKILL");
    child.0.wait().expect("reaped");
    // Its lease is still there, and has not lapsed.
    let lease = f
        .lease("acme", "wc")
        .expect("a killed run cannot release its lease");
    let holder = text(&lease["spec"]["holderIdentity"], "holderIdentity");
    assert!(
        holder.starts_with(&format!("{id} ")) && holder.ends_with(&format!(":{pid}")),
        "{holder}"
    );
    let renewed =
        chrono::DateTime::parse_from_rfc3339(text(&lease["spec"]["renewTime"], "renewTime"))
            .expect("renewTime is RFC 3339");
    let lapses = renewed
        + chrono::TimeDelta::seconds(
            lease["spec"]["leaseDurationSeconds"]
                .as_i64()
                .expect("duration"),
        );
    assert!(
        lapses > chrono::Utc::now(),
        "the lease lapsed already ({lapses}); the takeover would prove nothing"
    );
    // Watching it does not wait forever for an end that will not come.
    let out = f.console(&["runs", "watch", &id]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    assert!(
        common::stderr(&out).contains("has no live process any more"),
        "{}",
        show(&out)
    );
    assert!(
        common::stdout(&out).starts_with("{\"event\":\"run\""),
        "{}",
        show(&out)
    );

    f.pause("acme", "wc", false);
    let out = f.console(&["runs", "resume", &id, "-o", "json"]);
    assert_eq!(
        code(&out),
        0,
        "the dead process's lease is taken over: {}",
        show(&out)
    );
    let run = &parse(&out)["run"];
    assert_eq!(run["outcome"], "succeeded", "{run:#}");

    assert_eq!(f.replicas("acme", "wc"), to);
    assert_eq!(f.ready_workers("acme", "wc"), to as usize);
    assert_eq!(f.scaled_events("acme", &id).len(), 1);
    assert!(f.lease("acme", "wc").is_none());
}

#[test]
fn backups_complete_from_the_schedule_and_a_failing_one_fails_the_run() {
    let f = fleet();

    let out = f.console(&[
        "run",
        "backup",
        "--env",
        "acme",
        "--cluster",
        "sc",
        "-o",
        "json",
    ]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let run = &parse(&out)["run"];
    assert_eq!(run["outcome"], "succeeded", "{run:#}");
    assert_eq!(step_states(run), ["done"; 3], "{run:#}");
    let id = text(&run["id"], "run id");
    let name = format!("velero-daily-backup-console-{}", run_tag(id));
    let backup = f.backup("acme-sc", &name);
    assert_eq!(backup["status"]["phase"], "Completed", "{backup:#}");
    assert_eq!(
        backup["metadata"]["labels"]["velero.io/schedule-name"],
        "velero-daily-backup"
    );
    assert!(f.lease("acme", "sc").is_none());

    // globex's workload cluster cannot write to its object storage.
    let out = f.console(&[
        "run",
        "backup",
        "--env",
        "globex",
        "--cluster",
        "wc",
        "-o",
        "json",
    ]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let run = &parse(&out)["run"];
    assert_eq!(run["outcome"], "failed", "{run:#}");
    let id = text(&run["id"], "run id");
    let name = format!("velero-daily-backup-console-{}", run_tag(id));
    let failed = array(&run["steps"], "steps")
        .iter()
        .find(|s| s["state"] == "failed")
        .unwrap_or_else(|| panic!("no failed step: {run:#}"));
    assert_eq!(failed["name"], "wait for the backup");
    let backup = f.backup("globex-wc", &name);
    assert_eq!(backup["status"]["phase"], "Failed", "{backup:#}");
    let reason = text(&backup["status"]["failureReason"], "failureReason");
    let message = text(&failed["message"], "message");
    assert!(
        message.contains(&name) && message.contains("Failed") && message.contains(reason),
        "the step names the backup and Velero's reason ({reason}): {message}"
    );
    assert!(f.lease("globex", "wc").is_none());
}

#[test]
fn a_tampered_audit_log_fails_verification() {
    let f = fleet();
    let workers = format!("workers={}", f.replicas("acme", "wc"));
    let out = f.scale_acme_wc(&workers, &[]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let out = f.console(&["runs", "audit", "--verify"]);
    assert_eq!(code(&out), 0, "{}", show(&out));

    let log = std::fs::read_to_string(f.audit_log()).expect("audit log");
    let mut lines: Vec<String> = log.lines().map(str::to_owned).collect();
    assert!(lines.len() >= 3, "{log}");
    let actor = format!("\"actor\":\"{ACTOR}\"");
    assert!(lines[2].contains(&actor), "{}", lines[2]);
    lines[2] = lines[2].replace(&actor, "\"actor\":\"mallory@engine-tests\"");
    std::fs::write(f.audit_log(), lines.join("\n") + "\n").expect("audit log written");

    let out = f.console(&["runs", "audit", "--verify"]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let err = common::stderr(&out);
    assert!(
        err.contains("line 3"),
        "stderr names the edited line: {err}"
    );
    assert!(err.contains("edited"), "{err}");
}

/// The chain is anchored in the service cluster: cutting the log short, or rewriting it
/// whole with fresh hashes, passes the local chain check but not the anchor. Without a
/// fleet config, --verify checks the local chain and says the anchors were not checked.
/// A line that is not a record is reported once.
#[test]
fn the_audit_chain_is_anchored_in_the_cluster() {
    let f = fleet();
    let workers = format!("workers={}", f.replicas("acme", "wc"));
    let out = f.scale_acme_wc(&workers, &[]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let log = std::fs::read_to_string(f.audit_log()).expect("audit log");
    let lines: Vec<&str> = log.lines().collect();
    let last: Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    // The head is in acme's service cluster, as the command left it.
    let cm = f.kube_json(&[
        "--context",
        "acme-sc",
        "-n",
        "kube-system",
        "get",
        "configmap",
        "ck8s-console-audit",
    ]);
    let anchored: Vec<&str> = cm["data"]
        .as_object()
        .expect("anchor data")
        .values()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        anchored,
        [format!("{} {}", last["seq"], text(&last["hash"], "hash")).as_str()],
        "{cm:#}"
    );
    let out = f.console(&["runs", "audit", "--verify"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert!(
        common::stderr(&out).contains(&format!("acme-sc anchors record {}", last["seq"])),
        "{}",
        show(&out)
    );

    // The last line deleted: the chain alone is intact, the anchor is not.
    let cut = lines[..lines.len() - 1].join("\n") + "\n";
    std::fs::write(f.audit_log(), &cut).unwrap();
    let out = f.console(&["runs", "audit", "--verify"]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let err = common::stderr(&out);
    assert!(err.contains("hash chain intact"), "{err}");
    assert!(
        err.contains("acme-sc anchor") && err.contains("removed from its end"),
        "{err}"
    );

    // Without a fleet config: the local chain only, and it says so.
    let no_config = common::console_command_on(
        &f.sim.dir.path().join("no-such-fleet.toml"),
        &f.sim,
        &f.state,
        ACTOR,
        &["runs", "audit", "--verify"],
    )
    .output()
    .unwrap();
    assert_eq!(code(&no_config), 0, "{}", show(&no_config));
    let err = common::stderr(&no_config);
    assert!(
        err.contains("hash chain intact")
            && err.contains("anchors in the clusters were not checked"),
        "{err}"
    );

    // A line that is not a record: named once, not once per reader.
    std::fs::write(f.audit_log(), cut + "not json\n").unwrap();
    let out = f.console(&["runs", "audit", "--verify"]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let err = common::stderr(&out);
    assert_eq!(err.matches("not an audit record").count(), 1, "{err}");
}

#[test]
fn bad_input_exits_2() {
    let f = fleet();
    let before = f.replicas("acme", "wc");
    let scale = ["run", "scale", "--env", "acme", "--cluster", "wc"];
    let cases: &[(Vec<&str>, &[&str])] = &[
        (
            vec!["run", "frobnicate", "--env", "acme", "--cluster", "wc"],
            &["frobnicate", "scale, backup"],
        ),
        (
            vec![
                "run",
                "scale",
                "--env",
                "umbrella",
                "--cluster",
                "wc",
                "workers=5",
            ],
            &["umbrella", "acme, globex, initech"],
        ),
        (
            [&scale[..], &["workers=many"]].concat(),
            &["workers", "\"many\""],
        ),
        (
            [&scale[..], &["workers=5", "flavour=large"]].concat(),
            &["flavour", "no such parameter"],
        ),
        (scale.to_vec(), &["workers", "required"]),
        // Names reach URLs: a value that is not an object name never gets that far.
        (
            [&scale[..], &["workers=5", "machinedeployment=../../etc"]].concat(),
            &["machinedeployment", "not a Kubernetes object name"],
        ),
        (
            vec![
                "run",
                "backup",
                "--env",
                "acme",
                "--cluster",
                "wc",
                "schedule=../../secrets",
            ],
            &["schedule", "not a Kubernetes object name"],
        ),
        (
            [&scale[..], &["workers=5", "workers=6"]].concat(),
            &["workers is given twice"],
        ),
        ([&scale[..], &["workers"]].concat(), &["KEY=VALUE"]),
        (
            vec!["runs", "show", "20990101T000000Z-scale-acme-wc-0000"],
            &["no run 20990101T000000Z-scale-acme-wc-0000"],
        ),
        (
            vec!["runs", "resume", "20990101T000000Z-scale-acme-wc-0000"],
            &["no run 20990101T000000Z-scale-acme-wc-0000"],
        ),
    ];
    for (args, names) in cases {
        let out = f.console(args);
        assert_eq!(code(&out), 2, "{args:?}: {}", show(&out));
        let err = common::stderr(&out);
        for name in *names {
            assert!(err.contains(name), "{args:?}: stderr names {name}: {err}");
        }
    }
    assert_eq!(f.replicas("acme", "wc"), before);
    assert_eq!(f.journals(), Vec::<PathBuf>::new());
    assert!(!f.audit_log().exists());
}

#[test]
fn read_only_refuses_every_change_from_the_command_line() {
    let f = fleet();
    let before = f.replicas("acme", "wc");
    let workers = format!("workers={}", before + 1);
    let scale = ["run", "scale", "--env", "acme", "--cluster", "wc", &workers];
    // Before the subcommand, as a global flag, and after it.
    for args in [
        [&["--read-only"][..], &scale[..]].concat(),
        [&scale[..], &["--read-only"]].concat(),
    ] {
        let out = f.console(&args);
        assert_eq!(code(&out), 3, "{args:?}: {}", show(&out));
        let all = show(&out);
        assert!(all.contains("read-only"), "{args:?} says why: {all}");
    }
    // The plan still shows, and says the run would be refused.
    let plan = f.console(&[&["--read-only"][..], &scale[..], &["--plan", "-o", "json"]].concat());
    assert_eq!(code(&plan), 3, "{}", show(&plan));
    assert!(
        common::stdout(&plan).contains("read-only"),
        "{}",
        show(&plan)
    );
    // Nothing changed, nothing was journaled or audited.
    assert_eq!(f.replicas("acme", "wc"), before);
    assert_eq!(f.journals(), Vec::<PathBuf>::new());
    assert!(!f.audit_log().exists());

    // A run that exists cannot be cancelled or resumed read-only either.
    let (mut held, id) = f.scale_held("acme", before + 1);
    for verb in ["cancel", "resume"] {
        let out = f.console(&["--read-only", "runs", verb, &id]);
        assert_eq!(code(&out), 3, "runs {verb}: {}", show(&out));
    }
    let run = f
        .runs()
        .into_iter()
        .find(|r| r["id"] == id.as_str())
        .expect("the held run is listed");
    assert_eq!(run["outcome"], Value::Null, "still running: {run}");
    f.pause("acme", "wc", false);
    held.0.kill().expect("kill the held run");
}

/// `read_only = true` on an environment in the fleet config: its changes are refused for
/// every caller, and the other environments are not affected.
#[test]
fn an_environment_read_only_in_the_fleet_config_refuses_every_change() {
    let f = fleet();
    let before = f.replicas("acme", "wc");
    // A run started before the environment was made read-only, held mid-way.
    let (mut held, id) = f.scale_held("acme", before + 1);
    let text = std::fs::read_to_string(&f.sim.fleet_file).unwrap();
    let marked = text.replacen(
        "name = \"acme\"\n",
        "name = \"acme\"\nread_only = true\n",
        1,
    );
    assert_ne!(marked, text, "the fleet file names acme");
    let fleet_file = f.sim.dir.path().join("acme-read-only.toml");
    std::fs::write(&fleet_file, marked).unwrap();
    let console = |args: &[&str]| {
        common::console_command_on(&fleet_file, &f.sim, &f.state, ACTOR, args)
            .output()
            .unwrap()
    };
    let workers = format!("workers={}", before + 2);
    let scale = ["run", "scale", "--env", "acme", "--cluster", "wc", &workers];
    let out = console(&scale);
    assert_eq!(code(&out), 3, "{}", show(&out));
    assert!(
        show(&out).contains("environment acme is read-only in the fleet config"),
        "says why and where: {}",
        show(&out)
    );
    // The plan shows, with the refusal first.
    let plan = console(&[&scale[..], &["--plan", "-o", "json"]].concat());
    assert_eq!(code(&plan), 3, "{}", show(&plan));
    let plan: Value = serde_json::from_slice(&plan.stdout).unwrap();
    assert_eq!(
        plan["plan"]["decision"]["findings"][0]["rule"], "read-only",
        "{plan}"
    );
    for verb in ["cancel", "resume"] {
        let out = console(&["runs", verb, &id]);
        assert_eq!(code(&out), 3, "runs {verb}: {}", show(&out));
    }
    // Another environment is not read-only.
    let other = console(&[
        "run",
        "backup",
        "--env",
        "globex",
        "--cluster",
        "wc",
        "--plan",
    ]);
    assert_ne!(code(&other), 3, "globex is not read-only: {}", show(&other));
    f.pause("acme", "wc", false);
    held.0.kill().expect("kill the held run");
}

#[test]
fn a_run_id_is_never_a_path() {
    let f = fleet();
    // A file the ids below would reach if they were joined to the runs directory.
    let outside = f.sim.dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let victim = outside.join("victim.jsonl");
    std::fs::write(&victim, "precious\n").unwrap();
    for id in ["../../outside/victim", "../audit", "../../../../etc/passwd"] {
        for verb in ["show", "cancel", "resume"] {
            let out = f.console(&["runs", verb, id]);
            assert_eq!(code(&out), 2, "runs {verb} {id}: {}", show(&out));
            assert!(
                common::stderr(&out).contains("not a run id"),
                "runs {verb} {id}: {}",
                show(&out)
            );
        }
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(!f.audit_log().exists(), "nothing was audited");
}

/// The plan asks a SelfSubjectAccessReview for every permission the run needs: a user who
/// may only read is refused at the plan (exit 3, naming the verb and the resource) instead
/// of failing on a 403 halfway through, after taking the lock.
#[test]
fn the_plan_refuses_what_the_user_may_not_do() {
    let f = fleet();
    // The same fleet through the simulator's read-only users.
    let ro_fleet = common::fleet_as(&f.sim, "readonly");

    let before = f.replicas("acme", "wc");
    let workers = format!("workers={}", before + 1);
    let run = |extra: &[&str]| {
        let scale = ["run", "scale", "--env", "acme", "--cluster", "wc", &workers];
        common::console_command_on(
            &ro_fleet,
            &f.sim,
            &f.state,
            "read-only-tester",
            &[&scale[..], extra].concat(),
        )
        .output()
        .unwrap()
    };
    let plan = run(&["--plan", "-o", "json"]);
    assert_eq!(code(&plan), 3, "{}", show(&plan));
    let shown = show(&plan);
    assert!(shown.contains("permission"), "{shown}");
    assert!(
        shown.contains("patch machinedeployments.cluster.x-k8s.io in acme-sc"),
        "the refusal names the verb, the resource and the cluster: {shown}"
    );
    assert!(
        shown.contains("create leases.coordination.k8s.io"),
        "{shown}"
    );
    let started = run(&[]);
    assert_eq!(code(&started), 3, "{}", show(&started));
    assert_eq!(f.replicas("acme", "wc"), before, "nothing changed");
    assert_eq!(f.journals(), Vec::<PathBuf>::new(), "no run was started");

    // The admin may: the same check passes, and the plan says it was made.
    let ok = f.scale_acme_wc(&workers, &["--plan", "-o", "json"]);
    assert_eq!(code(&ok), 0, "{}", show(&ok));
    assert!(show(&ok).contains("permissions: all"), "{}", show(&ok));
}

/// With the service cluster's API down, nothing is known about the lock: that is a
/// failure to plan (exit 1, saying so), not a refusal because "someone" holds the lock.
#[test]
fn an_unreachable_api_is_a_failure_not_a_lock() {
    let f = fleet();
    // The same fleet, with every API server at a port nothing listens on.
    let down = common::fleet_with_kubeconfig(&f.sim, "down", |kubeconfig| {
        for cluster in common::each(kubeconfig, "clusters") {
            cluster["cluster"]["server"] = Value::from("https://127.0.0.1:1");
        }
    });
    let plan = [
        "run",
        "backup",
        "--env",
        "acme",
        "--cluster",
        "wc",
        "--plan",
    ];
    let out = common::console_command_on(&down, &f.sim, &f.state, "tester", &plan)
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", show(&out));
    let said = show(&out);
    assert!(said.contains("could not be read"), "{said}");
    assert!(said.contains("reachable"), "{said}");
    assert!(!said.contains("holds the cluster"), "{said}");
}

/// SIGTERM (a service manager) and SIGHUP (the SSH session dropping) stop a headless run
/// at its next safe point, as Ctrl-C does: cancelled, its lock released.
#[test]
fn sigterm_and_sighup_stop_a_headless_run_at_a_safe_point() {
    let f = fleet_of(1);
    for signal in [libc::SIGTERM, libc::SIGHUP] {
        let to = f.replicas("acme", "wc") + 1;
        let (child, id) = f.scale_held("acme", to);
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(child.0.id() as i32, signal) }, 0);
        let out = child.finish();
        assert!(
            show(&out).contains("next safe point"),
            "{signal}: {}",
            show(&out)
        );
        assert_eq!(
            code(&out),
            128 + signal,
            "as a shell says death by it: {}",
            show(&out)
        );
        let out = f.console(&["runs", "show", &id, "-o", "json"]);
        assert_eq!(
            parse(&out)["run"]["outcome"],
            "cancelled",
            "{signal}: {}",
            show(&out)
        );
        assert!(
            f.lease("acme", "wc").is_none(),
            "{signal}: the lock is released"
        );
        f.pause("acme", "wc", false);
    }
}

/// A second Ctrl-C does not wait for the safe point: the process ends at once, the run
/// stays open (its lease names it), and it resumes from where it was.
#[test]
fn a_second_ctrl_c_leaves_the_run_resumable() {
    let f = fleet_of(1);
    let to = f.replicas("acme", "wc") + 1;
    let (mut child, id) = f.scale_held("acme", to);
    // A slow management API: the run's next poll takes seconds, so its next safe point
    // is seconds away when Ctrl-C comes.
    f.sim
        .fleet
        .inject_fault(
            "acme-sc",
            ck8s_sim::faults::FaultSpec {
                service: ck8s_sim::faults::Service::Api,
                kind: ck8s_sim::faults::FaultKind::Latency,
                duration: "10m".into(),
                latency_ms: 4_000,
                jitter_ms: 0,
                code: None,
                retry_after: None,
                fraction: 1.0,
            },
        )
        .unwrap();
    let rx = lines_from(child.0.stderr.take().unwrap());
    let pid = child.0.id() as i32;
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let said = rx
        .iter()
        .find(|l| l.contains("next safe point"))
        .expect("the first Ctrl-C is acknowledged");
    assert!(said.contains("again to leave it open"), "{said}");
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let out = child.finish();
    assert_eq!(code(&out), 128 + libc::SIGINT, "{}", show(&out));
    let left: Vec<String> = rx.iter().collect();
    assert!(
        left.iter()
            .any(|l| l.contains(&format!("runs resume {id}"))),
        "{left:?}"
    );
    f.sim.fleet.clear_faults("acme-sc");
    let out = f.console(&["runs", "show", &id, "-o", "json"]);
    assert_eq!(
        parse(&out)["run"]["outcome"],
        Value::Null,
        "still open: {}",
        show(&out)
    );
    let lease = f.lease("acme", "wc").expect("the lock is still the run's");
    let holder = text(&lease["spec"]["holderIdentity"], "holderIdentity");
    assert!(holder.starts_with(&format!("{id} ")), "{holder}");
    f.pause("acme", "wc", false);
    let out = f.console(&["runs", "resume", &id, "-o", "json"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert_eq!(parse(&out)["run"]["outcome"], "succeeded");
}

/// Reads a child's stdout lines as they come.
fn lines_of(child: &mut Running) -> std::sync::mpsc::Receiver<String> {
    lines_from(child.0.stdout.take().expect("piped stdout"))
}

/// Reads lines as they come, on a thread, into a channel.
fn lines_from(pipe: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

/// Waits for the NDJSON event that `want` accepts; returns every event up to it.
fn until(
    rx: &std::sync::mpsc::Receiver<String>,
    what: &str,
    want: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let line = rx
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|e| panic!("no {what} ({e}); saw {seen:#?}"));
        let event: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not one JSON object a line ({e}): {line}"));
        common::conforms_to(&event, "run-event");
        let done = want(&event);
        seen.push(event);
        if done {
            return seen;
        }
    }
}

/// A run started headless shows live in another process's `runs watch`, step by step and
/// log line by log line, through the journal; `runs watch ID` of an ended run tells it whole
/// and exits with its outcome; `run --follow` streams the same events.
#[test]
fn runs_watch_follows_a_run_another_process_drives() {
    let f = fleet_of(1);
    let mut watcher = f.spawn(&["runs", "watch"]);
    let events = lines_of(&mut watcher);
    let to = f.replicas("acme", "wc") + 1;
    let (child, id) = f.scale_held("acme", to);
    let started = until(&events, "the wait step", |e| {
        e["event"] == "step_started" && e["step"] == 3
    });
    assert_eq!(started[0]["event"], "run", "{started:#?}");
    assert_eq!(started[0]["run"], id.as_str());
    assert_eq!(started[0]["workflow"], "scale");
    assert_eq!(started[0]["cluster"], "wc");
    assert!(
        started
            .iter()
            .any(|e| e["event"] == "step_finished" && e["step"] == 1 && e["state"] == "done"),
        "{started:#?}"
    );
    f.pause("acme", "wc", false);
    let out = child.finish();
    assert_eq!(code(&out), 0, "{}", show(&out));
    let ended = until(&events, "the outcome", |e| e["event"] == "outcome");
    let outcome = ended.last().unwrap();
    assert_eq!(outcome["outcome"], "succeeded");
    assert_eq!(outcome["run"], id.as_str());
    assert!(
        ended.iter().any(|e| e["event"] == "log" && e["step"] == 3),
        "the wait step's log lines: {ended:#?}"
    );
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(
        unsafe { libc::kill(watcher.0.id() as i32, libc::SIGINT) },
        0
    );
    let out = watcher.finish();
    assert_eq!(code(&out), 130, "{}", show(&out));

    let out = f.console(&["runs", "watch", &id]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let whole: Vec<Value> = common::stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("NDJSON"))
        .collect();
    assert_eq!(whole.first().unwrap()["event"], "run");
    assert_eq!(whole.last().unwrap()["outcome"], "succeeded");
    assert_eq!(
        whole
            .iter()
            .filter(|e| e["event"] == "step_finished")
            .count(),
        started[0]["steps"].as_u64().unwrap() as usize,
        "every step, told once"
    );

    let workers = format!("workers={to}");
    let mut following = f.spawn(&[
        "run",
        "scale",
        "--env",
        "acme",
        "--cluster",
        "wc",
        &workers,
        "--follow",
    ]);
    let followed = lines_of(&mut following);
    let streamed = until(&followed, "the followed run's outcome", |e| {
        e["event"] == "outcome"
    });
    assert_eq!(streamed[0]["event"], "run");
    assert_eq!(streamed.last().unwrap()["outcome"], "succeeded");
    let out = following.finish();
    assert_eq!(code(&out), 0, "{}", show(&out));

    let out = f.console(&["runs", "watch", "no-such-run"]);
    assert_eq!(code(&out), 2, "{}", show(&out));
}

/// `run --detach` prints the id of a run that goes on without the shell; `runs watch ID`
/// then sees it to its end. A refused one says why and exits as the run would.
#[test]
fn a_detached_run_goes_on_without_its_shell() {
    let f = fleet_of(1);
    let to = f.replicas("acme", "wc") + 1;
    let workers = format!("workers={to}");
    let out = f.scale_acme_wc(&workers, &["--detach"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let id = common::stdout(&out).trim().to_owned();
    assert!(id.contains("scale"), "one id: {id:?}");
    assert!(
        common::stderr(&out).contains(&format!("runs watch {id}")),
        "{}",
        show(&out)
    );
    let out = f.console(&["runs", "watch", &id]);
    assert_eq!(
        code(&out),
        0,
        "it succeeded without its shell: {}",
        show(&out)
    );
    assert_eq!(f.replicas("acme", "wc"), to);

    let out = f.scale_acme_wc("workers=99", &["--detach"]);
    assert_eq!(code(&out), 3, "{}", show(&out));
    assert!(
        common::stdout(&out).is_empty(),
        "no id for a run that did not start"
    );
    assert!(
        common::stderr(&out).contains("worker-limit"),
        "{}",
        show(&out)
    );
    // Followed, a refusal leaves the NDJSON stream empty too: the reason is on stderr.
    let out = f.scale_acme_wc("workers=99", &["--follow"]);
    assert_eq!(code(&out), 3, "{}", show(&out));
    assert!(common::stdout(&out).is_empty(), "{}", show(&out));
}

/// Followed with stderr a file or a pipe (cron, CI), a run tells its steps as plain lines:
/// no spinner, no escape sequences.
#[test]
fn a_run_tells_a_log_file_its_steps_as_plain_lines() {
    let f = fleet_of(1);
    let out = f.console(&[
        "run",
        "backup",
        "--env",
        "acme",
        "--cluster",
        "sc",
        "-o",
        "table",
    ]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let err = common::stderr(&out);
    for line in ["  [1/3] read the schedule", "  [3/3] wait for the backup"] {
        assert!(err.lines().any(|l| l == line), "{line}: {err}");
    }
    assert!(
        err.lines().any(|l| l.starts_with("  done: Backup ")),
        "{err}"
    );
    assert!(!err.contains('\r') && !err.contains('\x1b'), "{err:?}");
}
