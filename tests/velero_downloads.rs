//! A backup in depth, as `velero backup describe --details` and `velero backup logs` read
//! it: through a DownloadRequest that the simulated Velero signs, and the signed URL
//! fetched over HTTPS from the simulated object storage, trusting the storage
//! location's CA. kubectl is the witness that no DownloadRequest is left behind.

mod common;

use std::time::Duration;

use ck8s_fleet::sources::live::{Intervals, LiveFleet};
use ck8s_fleet::velero::{backup_log, describe_backup};
use ck8s_model::config::{self, ClusterRole};
use ck8s_sim::SimOptions;
use serde_json::Value;

fn backups(sim: &common::Sim) -> Vec<Value> {
    let out = sim.ok(&[
        "--context",
        "acme-wc",
        "-n",
        "velero",
        "get",
        "backups.velero.io",
        "-o",
        "json",
    ]);
    let list: Value = serde_json::from_str(&out).unwrap();
    list["items"].as_array().unwrap().clone()
}

fn phase_of(sim: &common::Sim, name: &str) -> String {
    let out = sim.ok(&[
        "--context",
        "acme-wc",
        "-n",
        "velero",
        "get",
        "backups.velero.io",
        name,
        "-o",
        "jsonpath={.status.phase}",
    ]);
    out.trim().to_owned()
}

#[test]
fn a_backup_is_described_and_its_log_read_through_download_requests() {
    let sim = common::start(SimOptions {
        environments: 1,
        speed: 10.0,
        ..SimOptions::default()
    });
    // A backup that partly fails, so that its results have errors and warnings to show.
    let manifest = sim.dir.path().join("backup.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: velero.io/v1\nkind: Backup\nmetadata:\n  name: partly\n  namespace: velero\n  \
         annotations:\n    sim.ck8s.io/backup-outcome: PartiallyFailed\nspec:\n  \
         includedNamespaces: [\"*\"]\n",
    )
    .unwrap();
    sim.ok(&[
        "--context",
        "acme-wc",
        "create",
        "-f",
        manifest.to_str().unwrap(),
    ]);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while phase_of(&sim, "partly") != "PartiallyFailed" {
        assert!(
            std::time::Instant::now() < deadline,
            "the backup never finished"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let partly = backups(&sim)
        .into_iter()
        .find(|b| b["metadata"]["name"] == "partly")
        .unwrap();
    let errors = partly["status"]["errors"].as_u64().unwrap();
    let warnings = partly["status"]["warnings"].as_u64().unwrap();
    assert!(errors > 0);

    let fleet = config::load(&sim.fleet_file).unwrap();
    let readonly = config::load(&common::fleet_as(&sim, "readonly")).unwrap();
    sim.rt.block_on(async {
        let live = LiveFleet::start(&fleet, Intervals::default()).await;
        let lines = describe_backup(&live, "acme", ClusterRole::Wc, "partly")
            .await
            .unwrap();
        let text = lines.join("\n");
        assert!(text.contains("Phase:            PartiallyFailed"), "{text}");
        assert!(text.contains("Items by namespace ("), "{text}");
        assert!(text.contains("apps/v1/Deployment"), "{text}");
        // As many errors and warnings as the status counts, each filed under its namespace.
        let section = |title: &str| -> Vec<String> {
            lines
                .iter()
                .skip_while(|l| l.as_str() != title)
                .skip(1)
                .take_while(|l| !l.is_empty())
                .cloned()
                .collect()
        };
        let found_errors = section("Errors:");
        assert_eq!(found_errors.len() as u64, errors, "{text}");
        assert!(
            found_errors[0].contains("error executing custom action"),
            "{text}"
        );
        if warnings > 0 {
            assert_eq!(section("Warnings:").len() as u64, warnings, "{text}");
        }

        let log = backup_log(&live, "acme", ClusterRole::Wc, "partly")
            .await
            .unwrap();
        assert!(log.iter().any(|l| l.contains("msg=\"Backing up item\"")));
        assert_eq!(
            log.iter().filter(|l| l.contains("level=error")).count() as u64,
            errors
        );
        assert!(log.last().unwrap().contains("Backup completed"));

        // The cluster's RBAC decides who may ask Velero: a read-only user may not.
        let live_ro = LiveFleet::start(&readonly, Intervals::default()).await;
        let refused = backup_log(&live_ro, "acme", ClusterRole::Wc, "partly")
            .await
            .unwrap_err();
        assert!(
            refused.contains("forbidden") || refused.contains("Forbidden"),
            "{refused}"
        );
    });
    // Every request read was deleted after reading.
    let left = sim.ok(&[
        "--context",
        "acme-wc",
        "-n",
        "velero",
        "get",
        "downloadrequests.velero.io",
        "-o",
        "name",
    ]);
    assert_eq!(left.trim(), "", "{left}");
}
