//! The Alertmanager client against the real thing: Debian's `prometheus-alertmanager` (0.25),
//! started on a free loopback port for each test. `scripts/setup-test-deps` installs it; a
//! missing binary fails the test rather than skipping it, so that CI cannot pass vacuously.

use std::fs::File;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use ck8s_fleet::sources::alertmanager::{AlertFilter, AlertmanagerClient, AmError};
use ck8s_model::alert::{
    Alert, AlertState, ClusterState, Matcher, PostableAlert, PostableSilence, Severity,
    SilenceState,
};

const BINARY: &str = "/usr/bin/prometheus-alertmanager";

const CONFIG: &str = "\
route: {receiver: 'null', group_by: ['alertname', 'cluster'], group_wait: 1s, group_interval: 1s, repeat_interval: 1h}
receivers: [{name: 'null'}]
";

/// A running Alertmanager, killed when dropped so that a failing test leaves nothing behind.
struct RealAlertmanager {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
}

impl Drop for RealAlertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl RealAlertmanager {
    async fn start() -> Self {
        assert!(
            Path::new(BINARY).exists(),
            "{BINARY} is missing: run scripts/setup-test-deps to install Debian's \
             prometheus-alertmanager"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("am.yml");
        std::fs::write(&config, CONFIG).expect("am.yml written");
        let log = File::create(dir.path().join("am.log")).expect("log file");
        let port = free_port();
        let child = Command::new(BINARY)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // Empty turns gossip off; otherwise it binds 0.0.0.0:9094 and settles for 5 s.
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {BINARY}: {err}"));
        let mut am = RealAlertmanager {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
        };
        am.wait_ready().await;
        am
    }

    async fn wait_ready(&mut self) {
        ck8s_fleet::install_crypto_provider();
        let http = ck8s_fleet::sources::http_client().expect("an HTTP client");
        let ready = format!("{}/-/ready", self.url);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("Alertmanager exited with {status}:\n{}", self.log());
            }
            if let Ok(response) = http.get(&ready).send().await
                && response.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("Alertmanager not ready within 20 s:\n{}", self.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("am.log")).unwrap_or_default()
    }

    fn client(&self) -> AlertmanagerClient {
        AlertmanagerClient::new(&self.url, None, Duration::from_secs(5)).expect("client")
    }
}

/// A port that was free a moment ago; the race with other processes is acceptable in tests.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

/// Polls `probe` until it yields a value or `timeout` passes.
async fn eventually<T>(
    timeout: Duration,
    what: &str,
    mut probe: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn critical() -> PostableAlert {
    PostableAlert::new([
        ("alertname", "EndpointDown"),
        ("cluster", "acme-wc"),
        ("severity", "critical"),
        ("target", "https://app.acme.example"),
    ])
    .with_annotations([
        ("summary", "Endpoint https://app.acme.example is down"),
        ("runbook_url", "https://runbooks.example/EndpointDown"),
    ])
}

fn warning() -> PostableAlert {
    let mut alert = PostableAlert::new([
        ("alertname", "VeleroBackupHaveFailed24Hours"),
        ("cluster", "acme-sc"),
        ("severity", "warning"),
    ])
    .with_annotations([("description", "No successful backup in 24 h")]);
    alert.starts_at = Some(Utc::now() - TimeDelta::minutes(30));
    alert.generator_url = Some("http://thanos-ruler.example/graph".into());
    alert
}

/// Posts both alerts and waits until Alertmanager lists them.
async fn post_two(client: &AlertmanagerClient) -> (Alert, Alert) {
    client
        .post_alerts(&[critical(), warning()])
        .await
        .expect("alerts posted");
    let alerts = eventually(Duration::from_secs(5), "both alerts", async || {
        let alerts = client
            .alerts(&AlertFilter::default())
            .await
            .expect("alerts");
        (alerts.len() == 2).then_some(alerts)
    })
    .await;
    let find = |name: &str| {
        alerts
            .iter()
            .find(|a| a.alertname() == name)
            .unwrap_or_else(|| panic!("{name} in {alerts:#?}"))
            .clone()
    };
    (find("EndpointDown"), find("VeleroBackupHaveFailed24Hours"))
}

async fn alert_by_fingerprint(client: &AlertmanagerClient, fingerprint: &str) -> Alert {
    let alerts = client
        .alerts(&AlertFilter::default())
        .await
        .expect("alerts");
    alerts
        .into_iter()
        .find(|a| a.fingerprint == fingerprint)
        .expect("the alert is still listed")
}

#[tokio::test]
async fn posted_alerts_read_back_field_by_field() {
    let am = RealAlertmanager::start().await;
    let client = am.client();
    let (crit, warn) = post_two(&client).await;

    assert_eq!(crit.labels["cluster"], "acme-wc");
    assert_eq!(crit.labels["target"], "https://app.acme.example");
    assert_eq!(crit.severity(), Severity::Critical);
    assert_eq!(
        crit.summary(),
        Some("Endpoint https://app.acme.example is down")
    );
    assert_eq!(
        crit.runbook_url(),
        Some("https://runbooks.example/EndpointDown")
    );
    assert_eq!(crit.generator_url, "");
    for alert in [&crit, &warn] {
        assert_eq!(alert.fingerprint.len(), 16, "{}", alert.fingerprint);
        assert!(alert.fingerprint.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(alert.status.state, AlertState::Active);
        assert!(alert.status.silenced_by.is_empty() && alert.status.inhibited_by.is_empty());
        assert!(
            alert.receivers.iter().any(|r| r.name == "null"),
            "{:?}",
            alert.receivers
        );
        // Without endsAt, Alertmanager resolves after resolve_timeout (5 m).
        assert!(alert.ends_at > Utc::now());
    }
    assert_ne!(crit.fingerprint, warn.fingerprint);
    assert_eq!(warn.labels["cluster"], "acme-sc");
    assert_eq!(warn.summary(), Some("No successful backup in 24 h"));
    assert_eq!(warn.generator_url, "http://thanos-ruler.example/graph");
    assert!(warn.starts_at < crit.starts_at);

    // Server-side filtering through the repeatable `filter` parameter.
    let filtered = client
        .alerts(&AlertFilter::default().with_matcher(Matcher::equal("severity", "critical")))
        .await
        .expect("filtered alerts");
    assert_eq!(filtered.len(), 1);
    assert_eq!(filtered[0].fingerprint, crit.fingerprint);

    // Grouped by alertname and cluster, per the route: one group per alert here.
    let groups = client.groups().await.expect("groups");
    assert_eq!(groups.len(), 2, "{groups:#?}");
    assert!(
        groups
            .iter()
            .all(|g| g.receiver.name == "null" && g.alerts.len() == 1)
    );
    assert!(
        groups
            .iter()
            .any(|g| g.labels.get("cluster").map(String::as_str) == Some("acme-wc"))
    );

    let status = client.status().await.expect("status");
    assert!(status.version.starts_with("0."), "{}", status.version);
    assert_eq!(status.cluster.status, ClusterState::Disabled);
    assert!(status.started_at.is_some());
}

#[tokio::test]
async fn filter_values_with_quotes_and_backslashes_round_trip() {
    let am = RealAlertmanager::start().await;
    let client = am.client();
    let odd = r#"say "hi" \ bye"#;
    client
        .post_alerts(&[PostableAlert::new([("alertname", "Odd"), ("text", odd)])])
        .await
        .expect("posted");
    let filter = AlertFilter::default().with_matcher(Matcher::equal("text", odd));
    let found = eventually(Duration::from_secs(5), "the odd alert", async || {
        let alerts = client.alerts(&filter).await.expect("alerts");
        (!alerts.is_empty()).then_some(alerts)
    })
    .await;
    assert_eq!(found[0].labels["text"], odd);
}

#[tokio::test]
async fn a_silence_suppresses_the_alert_until_it_is_expired() {
    let am = RealAlertmanager::start().await;
    let client = am.client();
    let (crit, warn) = post_two(&client).await;

    let silence =
        PostableSilence::for_alert(&crit, TimeDelta::hours(2), "alice", "fix rolling out");
    let id = client
        .create_silence(&silence)
        .await
        .expect("silence created");
    assert!(!id.is_empty());

    let listed = client.silences().await.expect("silences");
    let created = listed
        .iter()
        .find(|s| s.id == id)
        .expect("new silence listed");
    assert_eq!(created.status.state, SilenceState::Active);
    assert_eq!(created.created_by, "alice");
    assert_eq!(created.comment, "fix rolling out");
    assert_eq!(created.matchers, silence.matchers);

    let suppressed = eventually(
        Duration::from_secs(5),
        "the alert to be silenced",
        async || {
            let alert = alert_by_fingerprint(&client, &crit.fingerprint).await;
            (alert.status.state == AlertState::Suppressed).then_some(alert)
        },
    )
    .await;
    assert_eq!(suppressed.status.silenced_by, vec![id.clone()]);
    // The silence matches every label of the critical alert, so the warning stays active.
    assert_eq!(
        alert_by_fingerprint(&client, &warn.fingerprint)
            .await
            .status
            .state,
        AlertState::Active
    );

    let notifying = client
        .alerts(&AlertFilter::active_only())
        .await
        .expect("active alerts");
    let fingerprints: Vec<&str> = notifying.iter().map(|a| a.fingerprint.as_str()).collect();
    assert_eq!(fingerprints, [warn.fingerprint.as_str()]);

    client.expire_silence(&id).await.expect("silence expired");
    let listed = client.silences().await.expect("silences");
    let expired = listed
        .iter()
        .find(|s| s.id == id)
        .expect("expired silence listed");
    assert_eq!(expired.status.state, SilenceState::Expired);
    eventually(
        Duration::from_secs(5),
        "the alert to be active again",
        async || {
            let alert = alert_by_fingerprint(&client, &crit.fingerprint).await;
            (alert.status.state == AlertState::Active && alert.status.silenced_by.is_empty())
                .then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn server_errors_carry_the_status_and_the_message() {
    let am = RealAlertmanager::start().await;
    let client = am.client();
    // A well-formed id of a silence that does not exist.
    let err = client
        .expire_silence("6f9ba1f0-0000-0000-0000-000000000000")
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, AmError::Http { .. }), "{text}");
    assert!(text.contains("DELETE"), "{text}");
    assert!(
        text.contains(&format!("{}/api/v2/silence/6f9ba1f0", am.url)),
        "{text}"
    );
    assert!(
        text.contains("500") && text.contains("silence not found"),
        "{text}"
    );
}

#[tokio::test]
async fn invalid_silences_are_refused_without_a_request() {
    // Nothing listens there: a request would fail with a connection error instead.
    let url = format!("http://127.0.0.1:{}", free_port());
    let client = AlertmanagerClient::new(&url, None, Duration::from_secs(2)).expect("client");
    let alert: Alert = serde_json::from_value(serde_json::json!({
        "labels": {"alertname": "EndpointDown"}, "annotations": {},
        "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2026-01-01T00:05:00Z",
        "updatedAt": "2026-01-01T00:00:00Z", "fingerprint": "0123456789abcdef",
        "receivers": [], "status": {"state": "active", "silencedBy": [], "inhibitedBy": []}
    }))
    .expect("alert");

    for (author, comment, expected) in [("alice", "", "comment"), ("", "why", "author")] {
        let silence = PostableSilence::for_alert(&alert, TimeDelta::hours(1), author, comment);
        let err = client.create_silence(&silence).await.unwrap_err();
        assert!(matches!(err, AmError::InvalidSilence(_)), "{err}");
        assert!(err.to_string().contains(expected), "{err}");
    }
}

#[tokio::test]
async fn an_unreachable_alertmanager_is_named_in_the_error() {
    let url = format!("http://127.0.0.1:{}", free_port());
    let client = AlertmanagerClient::new(&url, Some("t0ken".into()), Duration::from_secs(2))
        .expect("client");
    let err = client.alerts(&AlertFilter::default()).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, AmError::Request { .. }), "{text}");
    assert!(text.contains(&format!("GET {url}/api/v2/alerts")), "{text}");
    assert!(text.to_lowercase().contains("connect"), "{text}");
    assert!(!text.contains("t0ken"), "{text}");
}

#[tokio::test]
async fn a_wrong_path_prefix_gives_the_http_status_and_url() {
    let am = RealAlertmanager::start().await;
    let wrong = format!("{}/not-alertmanager", am.url);
    let client = AlertmanagerClient::new(&wrong, None, Duration::from_secs(5)).expect("client");
    let err = client.silences().await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&format!("{wrong}/api/v2/silences")), "{text}");
    assert!(
        matches!(err, AmError::Http { status, .. } if status.as_u16() == 404),
        "{text}"
    );
    assert!(text.contains("404 Not Found"), "{text}");
}
