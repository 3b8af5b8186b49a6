//! Scenarios inject incidents into the running simulated fleet at their time.

mod common;

use std::time::Duration;

use ck8s_fleet::sources::alertmanager::{AlertFilter, AlertmanagerClient};
use ck8s_sim::{SimOptions, scenario};

/// Each incident happens at its time, measured from the fleet's start in simulated time:
/// not before (checked until shortly before it is due) and not much after (the node's
/// Ready condition changes within the window). At 60 simulated seconds a second, `5m` is
/// five real seconds away.
/// One environment at 60 simulated seconds a second, running the scenario `incidents`.
fn at_sixty_times(incidents: &str) -> common::Sim {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("incidents.toml");
    std::fs::write(&file, incidents).unwrap();
    common::start(SimOptions {
        environments: 1,
        speed: 60.0,
        scenario: Some(scenario::load(&file).expect("the scenario loads")),
        ..SimOptions::default()
    })
}

#[test]
fn incidents_happen_at_their_time() {
    let sim = at_sixty_times(
        r#"
[[incident]]
at = "5m"
kind = "node-not-ready"
environment = "acme"
cluster = "wc"

[[incident]]
at = "5m"
kind = "probe-outage"
environment = "acme"
cluster = "sc"
target = "dex"
duration = "30m"

[[incident]]
at = "6m"
kind = "crashloop"
environment = "acme"
cluster = "wc"
namespace = "production"
name = "orders-api"
"#,
    );
    let clock = sim.fleet.clock();
    let due = clock.start() + chrono::Duration::minutes(5);
    // Not before: every look until 30 simulated seconds (half a real second) before it
    // is due finds every node Ready.
    let mut looks = 0;
    while clock.now() < due - chrono::Duration::seconds(30) {
        let nodes = sim.ok(&["--context", "acme-wc", "get", "nodes"]);
        assert!(
            !nodes.contains("NotReady"),
            "too early, at {}:\n{nodes}",
            clock.now()
        );
        looks += 1;
    }
    assert!(
        looks > 0,
        "the fleet took longer to build than the incident's time"
    );
    common::eventually("a NotReady worker", Duration::from_secs(30), || {
        sim.ok(&["--context", "acme-wc", "get", "nodes"])
            .contains("NotReady")
            .then_some(())
    });
    // Not much after: the Ready condition changed within 2 simulated minutes of its time
    // (the node controller's next passes), whatever the real load.
    let changed = sim.ok(&[
        "--context",
        "acme-wc",
        "get",
        "nodes",
        "-o",
        r#"jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].lastTransitionTime}{"\n"}{end}"#,
    ]);
    let at: chrono::DateTime<chrono::Utc> = changed
        .lines()
        .find(|l| !l.starts_with("True"))
        .and_then(|l| l.split_whitespace().nth(1))
        .expect("a node not Ready")
        .parse()
        .unwrap();
    assert!(
        at >= due && at <= due + chrono::Duration::minutes(2),
        "NotReady at {at}, due at {due}"
    );
    common::eventually("orders-api crash-looping", Duration::from_secs(60), || {
        let pods = sim.ok(&[
            "--context",
            "acme-wc",
            "get",
            "pods",
            "-n",
            "production",
            "-l",
            "app=orders-api",
        ]);
        pods.contains("CrashLoopBackOff").then_some(())
    });
    let am_url = format!(
        "http://{}",
        sim.fleet.cluster("acme-sc").unwrap().alertmanager
    );
    let am = AlertmanagerClient::new(&am_url, None, Duration::from_secs(5)).unwrap();
    common::eventually("EndpointDown for dex", Duration::from_secs(30), || {
        let alerts = sim.rt.block_on(am.alerts(&AlertFilter::default())).ok()?;
        alerts
            .iter()
            .any(|a| a.alertname() == "EndpointDown" && a.label("target") == Some("dex"))
            .then_some(())
    });
}

#[test]
fn sim_refuses_a_bad_scenario_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[[incident]]\nat = \"1m\"\nkind = \"crashloop\"\nenvironment = \"acme\"\ncluster = \"wc\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ck8s-console"))
        .args(["sim", "--environments", "1", "--out"])
        .arg(dir.path().join("out"))
        .arg("--scenario")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("needs `namespace`"),
        "{err}"
    );
}

/// A scenario that names an environment, a cluster, a Deployment or a probe target the
/// simulated fleet does not have is refused at start (exit 2), naming the incident and
/// what is missing, instead of an incident that silently never happens.
#[test]
fn sim_refuses_a_scenario_naming_what_the_fleet_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let incident = |body: &str| format!("[[incident]]\nat = \"1m\"\n{body}");
    let cases = [
        (
            incident("kind = \"node-not-ready\"\nenvironment = \"nope\"\ncluster = \"wc\"\n"),
            "no cluster nope-wc",
        ),
        (
            incident(
                "kind = \"crashloop\"\nenvironment = \"acme\"\ncluster = \"wc\"\nnamespace = \"production\"\nname = \"no-such-app\"\n",
            ),
            "no Deployment production/no-such-app in acme-wc",
        ),
        (
            incident(
                "kind = \"probe-outage\"\nenvironment = \"acme\"\ncluster = \"sc\"\ntarget = \"nope\"\nduration = \"5m\"\n",
            ),
            "no probe target \"nope\" in acme-sc",
        ),
    ];
    for (i, (text, says)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("case{i}.toml"));
        std::fs::write(&file, text).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ck8s-console"))
            .args(["sim", "--environments", "1", "--out"])
            .arg(dir.path().join(format!("out{i}")))
            .arg("--scenario")
            .arg(&file)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{says}: {err}");
        assert!(
            err.contains(&format!("case{i}.toml"))
                && err.contains("incident 1")
                && err.contains(says),
            "{says}: {err}"
        );
    }
}

/// Every incident kind does what the README says it does.
#[test]
fn every_incident_kind_does_what_it_says() {
    let sim = at_sixty_times(
        r#"
[[incident]]
at = "0s"
kind = "node-not-ready"
environment = "acme"
cluster = "wc"

[[incident]]
at = "3m"
kind = "node-ready"
environment = "acme"
cluster = "wc"

[[incident]]
at = "0s"
kind = "backup-failure"
environment = "acme"
cluster = "wc"

[[incident]]
at = "0s"
kind = "storage-unavailable"
environment = "acme"
cluster = "sc"

[[incident]]
at = "0s"
kind = "scale"
environment = "acme"
cluster = "wc"
namespace = "production"
name = "orders-api"
replicas = 5
"#,
    );
    let wc = |args: &[&str]| sim.ok(&[&["--context", "acme-wc"][..], args].concat());
    common::eventually("a NotReady worker", Duration::from_secs(30), || {
        wc(&["get", "nodes"]).contains("NotReady").then_some(())
    });
    common::eventually("the worker Ready again", Duration::from_secs(60), || {
        (!wc(&["get", "nodes"]).contains("NotReady")).then_some(())
    });
    common::eventually("a failed backup", Duration::from_secs(30), || {
        wc(&[
            "-n",
            "velero",
            "get",
            "backups.velero.io",
            "-o",
            "jsonpath={.items[*].status.phase}",
        ])
        .contains("Failed")
        .then_some(())
    });
    common::eventually(
        "the storage location unavailable",
        Duration::from_secs(30),
        || {
            sim.ok(&[
                "--context",
                "acme-sc",
                "-n",
                "velero",
                "get",
                "backupstoragelocations",
                "-o",
                "jsonpath={.items[*].status.phase}",
            ])
            .contains("Unavailable")
            .then_some(())
        },
    );
    common::eventually(
        "orders-api at 5 ready replicas",
        Duration::from_secs(60),
        || {
            (wc(&[
                "-n",
                "production",
                "get",
                "deployment",
                "orders-api",
                "-o",
                "jsonpath={.spec.replicas}/{.status.readyReplicas}",
            ]) == "5/5")
                .then_some(())
        },
    );
}
