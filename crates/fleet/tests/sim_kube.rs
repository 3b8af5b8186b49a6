//! kube-rs, the client the console uses, against the simulator: paging, watching, and
//! the console's own watchers surviving 410 Gone and dropped connections.

/// The simulator fixture shared with the console's tests, and the kube-rs and HTTPS
/// clients that only this crate's tests need.
#[path = "../../../tests/common/sim.rs"]
mod sim_fixture;

mod common {
    #![allow(dead_code)]

    pub use super::sim_fixture::*;

    /// An HTTPS client that trusts the sim's CA.
    pub fn sim_http(sim: &Sim) -> reqwest::Client {
        let text = std::fs::read_to_string(&sim.kubeconfig).expect("kubeconfig");
        let doc: serde_json::Value = serde_yaml_ng::from_str(&text).expect("kubeconfig is YAML");
        let ca_b64 = doc["clusters"][0]["cluster"]["certificate-authority-data"]
            .as_str()
            .expect("CA data");
        use base64::Engine;
        let ca = base64::engine::general_purpose::STANDARD
            .decode(ca_b64)
            .expect("CA is base64");
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA is PEM"))
            .build()
            .expect("http client")
    }

    /// POSTs a fault-injection endpoint of a cluster's API server.
    pub async fn inject(sim: &Sim, context: &str, fault: &str) {
        let (server, token) = admin_endpoint(sim, context);
        let resp = sim_http(sim)
            .post(format!("{server}/sim/v1/{fault}"))
            .bearer_auth(token)
            .send()
            .await
            .expect("fault endpoint answers");
        assert!(resp.status().is_success(), "{fault}: {}", resp.status());
    }

    /// A kube client for a context of the sim's kubeconfig.
    pub async fn kube_client(sim: &Sim, context: &str) -> kube::Client {
        let kc = kube::config::Kubeconfig::read_from(&sim.kubeconfig).expect("kubeconfig");
        let opts = kube::config::KubeConfigOptions {
            context: Some(context.to_string()),
            ..Default::default()
        };
        let cfg = kube::Config::from_custom_kubeconfig(kc, &opts)
            .await
            .expect("kube config");
        kube::Client::try_from(cfg).expect("kube client")
    }
}

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ck8s_fleet::sources::HTTP1_CONNECTIONS;
use ck8s_fleet::sources::live::{Intervals, LiveFleet, OVERVIEW};
use ck8s_fleet::state::health::Source;
use ck8s_model::config;
use ck8s_sim::SimOptions;
use ck8s_sim::faults::Service;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams};
use kube::runtime::watcher;

#[test]
fn paging_lists_five_thousand_pods_exactly_once() {
    let sim = common::start(SimOptions {
        environments: 1,
        pods_per_cluster: 5000,
        ..SimOptions::default()
    });
    let expected = sim
        .fleet
        .cluster("acme-wc")
        .unwrap()
        .sim
        .store
        .count(*ck8s_sim::testkit::ids::PODS);
    assert!(expected >= 5000, "the sim built {expected} pods");
    sim.rt.block_on(async {
        let pods: Api<Pod> = Api::all(common::kube_client(&sim, "acme-wc").await);
        let mut names = BTreeSet::new();
        let mut pages = 0;
        let mut params = ListParams::default().limit(500);
        loop {
            let page = pods.list(&params).await.expect("a page");
            assert!(page.items.len() <= 500);
            pages += 1;
            for p in &page.items {
                let key = format!(
                    "{}/{}",
                    p.metadata.namespace.as_deref().unwrap(),
                    p.metadata.name.as_deref().unwrap()
                );
                assert!(names.insert(key), "a pod listed twice");
            }
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(c) => params = params.continue_token(&c),
                None => break,
            }
        }
        assert_eq!(names.len(), expected);
        assert!(pages >= expected / 500, "{pages} pages");
    });
}

/// A kube-rs watcher and `kubectl get -w` see the same pods come and go.
#[test]
fn watcher_sees_what_kubectl_sees() {
    let sim = common::small();
    let mut kubectl = sim
        .kubectl_command(&[
            "--context",
            "acme-wc",
            "get",
            "pods",
            "-n",
            "production",
            "-w",
            "--output-watch-events",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl starts");
    let seen_by_kubectl = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let out = BufReader::new(kubectl.stdout.take().unwrap());
    let sink = seen_by_kubectl.clone();
    std::thread::spawn(move || {
        for line in out.lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    sim.rt.block_on(async {
        let client = common::kube_client(&sim, "acme-wc").await;
        let pods: Api<Pod> = Api::namespaced(client.clone(), "production");
        let mut stream = watcher::watcher(pods, watcher::Config::default()).boxed();
        // Drain the initial list.
        loop {
            if let watcher::Event::InitDone = stream.next().await.unwrap().unwrap() {
                break;
            }
        }
        let deploys: Api<Deployment> = Api::namespaced(client, "production");
        let patch = serde_json::json!({"spec": {"replicas": 0}});
        deploys
            .patch("search", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
        let mut deleted = BTreeSet::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while tokio::time::Instant::now() < deadline {
            let Ok(Some(ev)) = tokio::time::timeout(Duration::from_secs(5), stream.next()).await
            else {
                continue;
            };
            if let Ok(watcher::Event::Delete(p)) = ev {
                deleted.insert(p.metadata.name.unwrap());
            }
            let gone =
                Api::<Pod>::namespaced(common::kube_client(&sim, "acme-wc").await, "production")
                    .list(&ListParams::default().labels("app=search"))
                    .await
                    .unwrap()
                    .items
                    .is_empty();
            if gone && !deleted.is_empty() {
                break;
            }
        }
        assert!(!deleted.is_empty(), "the watcher saw the scale-down");
        // kubectl saw each of those deletions too.
        common::eventually(
            "kubectl to print the deletions",
            Duration::from_secs(30),
            || {
                let lines = seen_by_kubectl.lock().unwrap();
                deleted
                    .iter()
                    .all(|name| {
                        lines.iter().any(|l| {
                            let mut cols = l.split_whitespace();
                            cols.next() == Some("DELETED") && cols.next() == Some(name.as_str())
                        })
                    })
                    .then_some(())
            },
        );
    });
    let _ = kubectl.kill();
    let _ = kubectl.wait();
}

/// Connections each cluster's API server has accepted so far.
fn api_connections(sim: &common::Sim) -> Vec<(String, u64)> {
    ["acme-sc", "acme-wc"]
        .map(|name| {
            let cluster = sim.fleet.cluster(name).expect("the cluster runs");
            (name.to_owned(), cluster.sim.faults.accepted(Service::Api))
        })
        .to_vec()
}

/// Connections opened by `live` to each API server: what they accepted since `before`.
fn opened_since(sim: &common::Sim, before: &[(String, u64)]) -> Vec<(String, u64)> {
    api_connections(sim)
        .into_iter()
        .zip(before)
        .map(|((name, now), (_, then))| (name, now - then))
        .collect()
}

/// Over HTTP/2 every watch, list and poll of a cluster shares one connection: the light
/// sources, and the pods, workloads and events of an opened environment on top.
#[test]
fn every_watch_and_list_of_a_cluster_shares_one_http2_connection() {
    let sim = common::small();
    let before = api_connections(&sim);
    let live = live_fleet(&sim);
    sim.rt.block_on(async {
        assert!(live.wait_settled(&OVERVIEW, Duration::from_secs(60)).await);
    });
    for (name, opened) in opened_since(&sim, &before) {
        assert_eq!(opened, 1, "{name}: every source shares one connection");
    }
}

/// A server that offers only HTTP/1.1 (a proxy without HTTP/2 in front) still gets every
/// source, through at most HTTP1_CONNECTIONS connections: the slowly changing kinds are
/// listed in turn on one pooled connection instead of each holding a watch.
#[test]
fn a_server_without_http2_gets_every_source_over_capped_http1_connections() {
    let sim = common::start(SimOptions {
        environments: 1,
        http1_only: true,
        ..SimOptions::default()
    });
    let before = api_connections(&sim);
    let live = live_fleet(&sim);
    sim.rt.block_on(async {
        assert!(live.wait_settled(&OVERVIEW, Duration::from_secs(60)).await);
    });
    let sc = live.state.env("acme").unwrap().sc.clone();
    assert!(
        !sc.read().backup.schedules.is_empty(),
        "listed over HTTP/1.1"
    );
    for (name, opened) in opened_since(&sim, &before) {
        assert!(
            opened > 1 && opened <= HTTP1_CONNECTIONS as u64,
            "{name}: {opened} connections"
        );
    }
}

fn live_fleet(sim: &common::Sim) -> LiveFleet {
    let fleet = config::load(&sim.fleet_file).expect("the sim writes a valid fleet config");
    sim.rt.block_on(async {
        let live = LiveFleet::start(&fleet, Intervals::default()).await;
        live.open("acme").await;
        assert!(
            live.wait_settled(&[Source::Pods, Source::Nodes], Duration::from_secs(60))
                .await,
            "sources sync"
        );
        live
    })
}

/// After 410 Gone the console's watcher relists and ends with every row; and a relist is
/// routine, so the source never reads as failed meanwhile (a `status` would call the API
/// down).
#[test]
fn relist_after_gone_is_routine_and_keeps_every_row() {
    let sim = common::small();
    let live = live_fleet(&sim);
    let wc = live.state.env("acme").unwrap().wc.clone();
    let initial = wc.read().pods.len();
    assert!(initial > 50, "{initial} pods");
    let lists_before = wc.read().pods.lists();
    // The health as a status report would read it meanwhile. (That no row is ever
    // missing during a relist is proven deterministically in `sources::kube`'s tests.)
    let failed = Arc::new(std::sync::Mutex::new(None));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (wc, stop, failed) = (wc.clone(), stop.clone(), failed.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let h = wc.health(Source::Pods);
                if !h.is_ok() {
                    failed.lock().unwrap().get_or_insert(h);
                }
                std::thread::yield_now();
            }
        })
    };
    sim.rt.block_on(async {
        // History gone, then the connection dropped: the resume gets 410 and must relist.
        common::inject(&sim, "acme-wc", "compact").await;
        common::inject(&sim, "acme-wc", "drop-watches").await;
    });
    common::eventually("a relist", Duration::from_secs(60), || {
        (wc.read().pods.lists() > lists_before).then_some(())
    });
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    assert_eq!(wc.read().pods.len(), initial);
    assert_eq!(
        *failed.lock().unwrap(),
        None,
        "the pods source read as failed during a routine relist"
    );
    assert!(
        wc.health(Source::Pods).is_ok(),
        "{:?}",
        wc.health(Source::Pods)
    );
}

/// A source whose API server is unreachable is marked stale, and keeps its last rows.
#[test]
fn unreachable_cluster_goes_stale_and_keeps_its_rows() {
    let sim = common::small();
    let live = live_fleet(&sim);
    let wc = live.state.env("acme").unwrap().wc.clone();
    let nodes = wc.read().nodes.len();
    sim.fleet.stop_cluster("acme-wc");
    common::eventually(
        "the wc nodes source to go stale",
        Duration::from_secs(60),
        || {
            matches!(
                wc.health(Source::Nodes),
                ck8s_fleet::state::health::SourceHealth::Stale { .. }
            )
            .then_some(())
        },
    );
    assert_eq!(wc.read().nodes.len(), nodes, "stale rows stay visible");
}

/// Exec-plugin credentials (as cloud CLIs and OIDC helpers issue them) expire; the
/// sources renew them before they do and keep watching, without a restart. The plugin
/// issues tokens the simulator refuses from their expiry on, so an expired token that
/// was merely sent again would show as a 401.
#[test]
fn expired_exec_credentials_are_renewed_before_the_server_refuses_them() {
    let sim = common::small();
    let (server, token) = common::admin_endpoint(&sim, "acme-wc");
    let dir = sim.dir.path();
    let calls = dir.join("calls.log");
    let plugin = dir.join("credential-plugin.sh");
    // Tokens valid for 14 s; the console renews a token 10 s before it expires.
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\nexp=$(( $(date +%s) + 14 ))\ntok=\"$SIM_TOKEN.exp$exp\"\necho \"$exp\" >> {calls}\nprintf '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"%s\",\"expirationTimestamp\":\"%s\"}}}}' \"$tok\" \"$(date -u -d @$exp +%Y-%m-%dT%H:%M:%SZ)\"\n",
            calls = calls.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let original: serde_json::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(&sim.kubeconfig).unwrap()).unwrap();
    let ca = original["clusters"][0]["cluster"]["certificate-authority-data"].clone();
    let kubeconfig = dir.join("exec-kubeconfig");
    let doc = serde_json::json!({
        "apiVersion": "v1", "kind": "Config", "current-context": "acme-wc",
        "clusters": [{"name": "acme-wc", "cluster": {"server": server, "certificate-authority-data": ca}}],
        "users": [{"name": "exec", "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1", "command": plugin.to_str().unwrap(),
            "env": [{"name": "SIM_TOKEN", "value": token}], "interactiveMode": "Never"}}}],
        "contexts": [{"name": "acme-wc", "context": {"cluster": "acme-wc", "user": "exec"}}],
    });
    std::fs::write(&kubeconfig, serde_yaml_ng::to_string(&doc).unwrap()).unwrap();
    let mut fleet = config::load(&sim.fleet_file).unwrap();
    for env in &mut fleet.environments {
        env.wc.kubeconfig = kubeconfig.clone();
    }
    let expiries = || -> Vec<i64> {
        std::fs::read_to_string(&calls)
            .unwrap_or_default()
            .lines()
            .map(|l| l.parse().unwrap())
            .collect()
    };
    let wc_sim = sim.fleet.cluster("acme-wc").unwrap().sim.clone();
    let refused = || {
        wc_sim
            .unauthorized
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    sim.rt.block_on(async {
        let live = LiveFleet::start(&fleet, Intervals::default()).await;
        live.open("acme").await;
        assert!(
            live.wait_settled(&[Source::Pods, Source::Nodes], Duration::from_secs(60))
                .await
        );
        let wc = live.state.env("acme").unwrap().wc.clone();
        let first = expiries()[0];
        // Past the first token's expiry: the simulator refuses it now.
        let wait = (first + 1 - chrono::Utc::now().timestamp()).max(0) as u64;
        tokio::time::sleep(Duration::from_secs(wait)).await;
        let old = format!("{token}.exp{first}");
        let answer = common::sim_http(&sim)
            .get(format!("{server}/api/v1/nodes"))
            .bearer_auth(&old)
            .send()
            .await
            .unwrap();
        assert_eq!(
            answer.status(),
            401,
            "the simulator refuses an expired token"
        );
        let refused_before = refused();
        let lists = wc.read().pods.lists();
        // Reconnecting needs a valid token now.
        common::inject(&sim, "acme-wc", "compact").await;
        common::inject(&sim, "acme-wc", "drop-watches").await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while wc.read().pods.lists() <= lists {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no relist with renewed credentials: {:?}",
                wc.health(Source::Pods)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            wc.health(Source::Pods).is_ok(),
            "{:?}",
            wc.health(Source::Pods)
        );
        assert_eq!(
            refused(),
            refused_before,
            "no request went out with an expired token"
        );
    });
    let all = expiries();
    assert!(
        all.iter().any(|e| *e > all[0]),
        "the plugin issued a new token: {all:?}"
    );
}

/// An idle watch that asked for bookmarks gets them, with the resourceVersion to resume
/// from; one that did not ask gets none. (About once a minute, as the watch cache sends
/// them; shortened here.)
#[test]
fn idle_watches_get_bookmarks_when_they_ask() {
    let sim = common::small();
    let (server, token) = common::admin_endpoint(&sim, "acme-wc");
    let store = sim.fleet.cluster("acme-wc").unwrap().sim.store.clone();
    store.set_bookmark_every(Duration::from_millis(300));
    let rv = store.resource_version();
    sim.rt.block_on(async {
        let http = common::sim_http(&sim);
        let watch = |bookmarks: bool| {
            http.get(format!(
                "{server}/api/v1/namespaces/kube-system/configmaps?watch=1&resourceVersion={rv}\
                 &allowWatchBookmarks={bookmarks}&timeoutSeconds=2"
            ))
            .bearer_auth(&token)
            .send()
        };
        let body = watch(true).await.unwrap().text().await.unwrap();
        let bookmark: serde_json::Value = body
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|e| e["type"] == "BOOKMARK")
            .unwrap_or_else(|| panic!("no bookmark in 2 s:\n{body}"));
        let at: u64 = bookmark["object"]["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(at >= rv, "{bookmark}");
        let body = watch(false).await.unwrap().text().await.unwrap();
        assert!(!body.contains("BOOKMARK"), "{body}");
    });
}

/// Boolean query parameters read as the API server converts them (apimachinery's
/// Convert_Slice_string_To_bool): `watch=True` (or `yes`) is a watch, not a list; only
/// `0` and `false` in any case are false.
#[test]
fn boolean_parameters_convert_as_the_api_server_converts_them() {
    let sim = common::small();
    let (server, token) = common::admin_endpoint(&sim, "acme-wc");
    sim.rt.block_on(async {
        let http = common::sim_http(&sim);
        let get = |query: &str| {
            http.get(format!(
                "{server}/api/v1/namespaces/kube-system/pods?{query}"
            ))
            .bearer_auth(&token)
            .send()
        };
        for spelling in ["True", "t", "1", "TRUE", "yes"] {
            let r = get(&format!("watch={spelling}&timeoutSeconds=1"))
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "watch={spelling}");
            let body = r.text().await.unwrap();
            let first: serde_json::Value =
                serde_json::from_str(body.lines().next().unwrap()).unwrap();
            assert_eq!(
                first["type"], "ADDED",
                "watch={spelling} streams events: {body:.200}"
            );
        }
        for spelling in ["False", "FALSE", "0"] {
            let list: serde_json::Value = get(&format!("watch={spelling}"))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(list["kind"], "PodList", "watch={spelling}");
        }
    });
}
