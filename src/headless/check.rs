//! `check`: the fleet's health as one verdict for a monitoring system, in the plugin
//! convention that Nagios, Icinga, Sensu and Zabbix read: the exit code (0 OK, 1 WARNING,
//! 2 CRITICAL, 3 UNKNOWN), a status line, one line per finding, and performance data after
//! `|`. The judgment is `status`'s, so the two never disagree; `check` only adds UNKNOWN for
//! what could not be read.

use chrono::Utc;

use super::status::{self, ClusterStatus, EnvStatus, Health, Topic};
use super::{ReportKind, Selection, SourceError, output, settle, start_live};
use crate::cli::CheckArgs;
use crate::config::{self, Policy};

/// A monitoring plugin's states, ordered from best to worst: a known CRITICAL outranks an
/// UNKNOWN, which may hide one, which outranks a WARNING.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    Ok,
    Warning,
    Unknown,
    Critical,
}

impl State {
    fn word(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Warning => "WARNING",
            State::Unknown => "UNKNOWN",
            State::Critical => "CRITICAL",
        }
    }

    /// The plugin convention's exit code.
    pub fn exit_code(self) -> i32 {
        match self {
            State::Ok => 0,
            State::Warning => 1,
            State::Critical => 2,
            State::Unknown => 3,
        }
    }
}

impl From<Health> for State {
    fn from(h: Health) -> State {
        match h {
            Health::Ok => State::Ok,
            Health::Warning => State::Warning,
            Health::Critical => State::Critical,
        }
    }
}

/// One finding about one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    state: State,
    env: String,
    /// `<env>-<sc|wc>`.
    cluster: String,
    text: String,
}

/// What `check` prints and exits with.
#[derive(Debug)]
pub(super) struct Verdict {
    pub state: State,
    lines: Vec<Line>,
    /// Environments and clusters looked at, for the line that says all is well.
    envs: usize,
    clusters: usize,
    /// Each cluster's performance data.
    perf: Vec<Vec<String>>,
}

/// How many findings of one environment the status line names before `+N more`; the
/// lines below name them all.
const NAMED: usize = 3;

impl Verdict {
    /// The plugin output: the status line, the findings, the performance data.
    pub fn text(&self) -> String {
        let mut out = format!("CK8S {} - {}\n", self.state.word(), self.summary());
        for l in &self.lines {
            out.push_str(&format!("{} {}: {}\n", l.state.word(), l.cluster, l.text));
        }
        // Performance data may span lines after the `|`: one cluster a line.
        for (i, cluster) in self.perf.iter().enumerate() {
            let lead = if i == 0 { "| " } else { "" };
            out.push_str(&format!("{lead}{}\n", cluster.join(" ")));
        }
        out
    }

    /// Per environment with a problem, its worst findings: `globex: wc 2 critical alert(s)
    /// firing, wc backups critical (backup_failed); acme: ...`.
    fn summary(&self) -> String {
        if self.state == State::Ok {
            return format!(
                "{} environment(s), {} cluster(s): no problems",
                self.envs, self.clusters
            );
        }
        // Environments in the order of their worst finding.
        let mut envs: Vec<&str> = Vec::new();
        for l in &self.lines {
            if !envs.contains(&l.env.as_str()) {
                envs.push(&l.env);
            }
        }
        let parts: Vec<String> = envs.into_iter().map(|env| self.env_summary(env)).collect();
        parts.join("; ")
    }

    /// One environment's findings at its worst state, the first few named.
    fn env_summary(&self, env: &str) -> String {
        let mine = || self.lines.iter().filter(move |l| l.env == env);
        let worst = mine().map(|l| l.state).max();
        let named: Vec<String> = mine()
            .filter(|l| Some(l.state) == worst)
            .map(|l| {
                let role = l.cluster.rsplit('-').next().unwrap_or_default();
                format!("{role} {}", l.text)
            })
            .collect();
        let more = named.len().saturating_sub(NAMED);
        let mut text = named[..named.len().min(NAMED)].join(", ");
        if more > 0 {
            text.push_str(&format!(", +{more} more"));
        }
        format!("{env}: {text}")
    }
}

/// The verdict on judged environments and the sources that did not answer.
pub(super) fn verdict(envs: &[EnvStatus], errors: &[SourceError], policy: &Policy) -> Verdict {
    let mut lines = Vec::new();
    let mut perf = Vec::new();
    for env in envs {
        for c in &env.clusters {
            lines.extend(cluster_lines(&env.name, c, errors));
            perf.push(perf_data(c, policy));
        }
    }
    // Worst first; otherwise in the fleet's order, which the sort keeps.
    lines.sort_by_key(|l| std::cmp::Reverse(l.state));
    Verdict {
        state: lines.first().map_or(State::Ok, |l| l.state),
        envs: envs.len(),
        clusters: envs.iter().map(|e| e.clusters.len()).sum(),
        lines,
        perf,
    }
}

fn cluster_lines(env: &str, c: &ClusterStatus, errors: &[SourceError]) -> Vec<Line> {
    let line = |state, text: String| Line {
        state,
        env: env.to_owned(),
        cluster: c.name.clone(),
        text,
    };
    // Stale sources are UNKNOWN below, with their own errors.
    let mut lines: Vec<Line> = c
        .findings
        .iter()
        .filter(|f| f.topic != Topic::Stale)
        .map(|f| line(f.health.into(), f.text.clone()))
        .collect();
    // An API that is down is CRITICAL already; what could not be read through it says
    // nothing more.
    if c.api_down() {
        return lines;
    }
    let unread: Vec<&SourceError> = errors
        .iter()
        .filter(|e| e.env == env && e.cluster == c.cluster)
        .collect();
    lines.extend(
        unread
            .iter()
            .map(|e| line(State::Unknown, format!("{}: {}", e.source, e.error))),
    );
    // Sources the check does not wait for (Cluster API objects, metrics) can fail too.
    let stale: Vec<&str> = c
        .failing_sources()
        .into_iter()
        .filter(|s| !unread.iter().any(|e| e.source == *s))
        .collect();
    if !stale.is_empty() {
        lines.push(line(
            State::Unknown,
            format!("{}: failing, the data shown is stale", stale.join(", ")),
        ));
    }
    lines
}

/// Performance data in the plugin format, `label=value[unit];warn;crit;min;max`, with `U`
/// for a value not known.
fn perf_data(c: &ClusterStatus, policy: &Policy) -> Vec<String> {
    let known = |v: Option<usize>| v.map_or("U".to_owned(), |v| v.to_string());
    let name = &c.name;
    // Nodes come through the API: with it down, the last list is not a figure of now.
    let ready = c.nodes.ready.filter(|_| !c.api_down());
    let mut perf = vec![format!(
        "{name}_nodes_ready={};;;0;{}",
        known(ready),
        c.nodes.total.map(|t| t.to_string()).unwrap_or_default()
    )];
    let (critical, warning) = match &c.alerts {
        Some(a) => (Some(a.critical), Some(a.high + a.warning)),
        None => (None, None),
    };
    // Plugin ranges: `0` alerts above 0, `0:` below 0.
    perf.push(format!("{name}_alerts_critical={};;0;0", known(critical)));
    perf.push(format!("{name}_alerts_warning={};0;;0", known(warning)));
    let age = c.backup.last_completed_age_seconds;
    perf.push(format!(
        "{name}_backup_age={};;{};0",
        age.map_or("U".to_owned(), |s| format!("{s}s")),
        policy.backup_max_age().as_secs()
    ));
    if let Some(certs) = &c.certificates
        && let Some(soonest) = certs.soonest_expires_at
    {
        // Warning below the policy's days, critical once expired.
        let days = |s: i64| s as f64 / 86_400.0;
        let left = (soonest - chrono::Utc::now()).num_seconds();
        perf.push(format!(
            "{name}_certificate_days_left={:.1};{:.0}:;0:",
            days(left),
            days(certs.warning_seconds)
        ));
    }
    if let Some(left) = c.slo.as_ref().and_then(|s| s.budget_left_fraction) {
        perf.push(format!("{name}_slo_budget_left={:.1}%;;0:", left * 100.0));
    }
    perf
}

/// `ck8s-console check`: prints the verdict; returns its exit code. A fleet config or an
/// `--env` that cannot be used is UNKNOWN, as the convention asks.
pub async fn run(args: &CheckArgs, fleet: Result<config::Fleet, String>) -> i32 {
    let unknown = |why: &str| {
        let _ = output::print(&format!("CK8S UNKNOWN - {}\n", one_line(why)));
        State::Unknown.exit_code()
    };
    let fleet = match fleet {
        Ok(f) => f,
        Err(why) => return unknown(&why),
    };
    let selection = match Selection::new(&args.reach, &fleet) {
        Ok(s) => s,
        Err(why) => return unknown(&why),
    };
    let kind = ReportKind::Status;
    let timeout = args.reach.timeout;
    let live = start_live(&kind, &selection, timeout).await;
    let errors = settle(&live, &kind, &selection, timeout).await;
    let envs = status::environments(&live.state, &selection, Utc::now());
    let verdict = verdict(&envs, &errors, &selection.fleet.policy);
    let _ = output::print(&verdict.text());
    verdict.state.exit_code()
}

/// The status line is one line: a multi-line config error keeps its first.
fn one_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The finding lines of a check's text: after the first line, before the perf data.
    fn findings(text: &str) -> Vec<&str> {
        text.lines()
            .skip(1)
            .take_while(|l| !l.starts_with('|'))
            .collect()
    }
    use crate::config::ClusterRole;
    use crate::headless::testing::selection;
    use crate::state::health::Source;
    use crate::state::rows::NodeRow;
    use crate::state::{ClusterHandle, test_fleet};
    use crate::testing::{alert, firing, listed_nodes, node, stale};
    use chrono::DateTime;

    fn healthy() -> Vec<NodeRow> {
        let mut nodes: Vec<NodeRow> = (1..=3)
            .map(|i| node(&format!("cp-{i}"), true, Some(true)))
            .collect();
        nodes.push(node("w-1", false, Some(true)));
        nodes
    }

    /// The verdict on globex after `fill` set each cluster, with `errors` unanswered.
    fn check(fill: impl Fn(&ClusterHandle, DateTime<Utc>), errors: &[SourceError]) -> Verdict {
        let state = test_fleet("globex");
        let now = Utc::now();
        for c in state.clusters() {
            listed_nodes(c, healthy(), now);
            firing(c, vec![]);
            fill(c, now);
        }
        let sel = selection("globex");
        let envs = status::environments(&state, &sel, now);
        verdict(&envs, errors, &sel.fleet.policy)
    }

    fn error(cluster: ClusterRole, source: &str, error: &str) -> SourceError {
        SourceError {
            env: "globex".into(),
            cluster,
            source: source.into(),
            error: error.into(),
        }
    }

    #[test]
    fn a_healthy_fleet_is_ok_with_its_figures() {
        let v = check(|_, _| {}, &[]);
        assert_eq!(v.state.exit_code(), 0);
        let text = v.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "CK8S OK - 1 environment(s), 2 cluster(s): no problems"
        );
        assert!(
            lines[1].starts_with("| globex-sc_nodes_ready=4;;;0;4 "),
            "{text}"
        );
        assert!(
            lines[2].starts_with("globex-wc_nodes_ready=4;;;0;4 "),
            "{text}"
        );
        assert!(
            lines[2].contains(" globex-wc_alerts_critical=0;;0;0 "),
            "{text}"
        );
        assert!(
            lines[2].ends_with(" globex-wc_backup_age=U;;97200;0"),
            "no backup listed is unknown, against 27 h: {text}"
        );
        assert_eq!(lines.len(), 3);
    }

    #[test]
    fn a_critical_finding_leads_and_every_finding_has_its_line() {
        let v = check(
            |c, now| {
                if c.role == ClusterRole::Wc {
                    firing(c, vec![alert("KubeAPIDown", "critical", false, &[])]);
                } else {
                    let mut nodes = healthy();
                    nodes[3].ready = Some(false);
                    listed_nodes(c, nodes, now);
                }
            },
            &[],
        );
        assert_eq!(v.state, State::Critical);
        assert_eq!(v.state.exit_code(), 2);
        let text = v.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[..3],
            [
                "CK8S CRITICAL - globex: wc 1 critical alert(s) firing",
                "CRITICAL globex-wc: 1 critical alert(s) firing",
                "WARNING globex-sc: 1 worker node(s) not Ready: w-1",
            ]
        );
        assert!(lines[3].starts_with("| "), "{text}");
    }

    #[test]
    fn a_source_that_did_not_answer_is_unknown_and_outranks_a_warning() {
        let v = check(
            |c, _| {
                if c.role == ClusterRole::Sc {
                    firing(c, vec![alert("CPUThrottlingHigh", "warning", false, &[])]);
                }
            },
            &[error(
                ClusterRole::Wc,
                "alertmanager",
                "no answer within 20s",
            )],
        );
        assert_eq!(v.state, State::Unknown);
        assert_eq!(v.state.exit_code(), 3);
        let text = v.text();
        assert!(
            text.starts_with("CK8S UNKNOWN - globex: wc alertmanager: no answer within 20s\n"),
            "{text}"
        );
        assert!(
            text.contains("\nWARNING globex-sc: 1 warning alert(s) firing\n"),
            "{text}"
        );
    }

    #[test]
    fn an_unreachable_api_is_critical_once_not_unknown_for_each_source() {
        let v = check(
            |c, now| {
                if c.role == ClusterRole::Wc {
                    stale(c, Source::Nodes, now, "connection refused");
                }
            },
            &[
                error(ClusterRole::Wc, "nodes", "connection refused"),
                error(ClusterRole::Wc, "backups", "connection refused"),
            ],
        );
        assert_eq!(v.state, State::Critical);
        let text = v.text();
        let findings = findings(&text);
        assert_eq!(
            findings,
            ["CRITICAL globex-wc: API: connection refused"],
            "{text}"
        );
        assert!(
            text.contains("\nglobex-wc_nodes_ready=U;;;0;4 "),
            "what the API said before it went is not a figure of now: {text}"
        );
    }

    #[test]
    fn a_failing_source_the_check_does_not_wait_for_is_unknown_once() {
        let v = check(
            |c, now| {
                if c.role == ClusterRole::Wc {
                    for source in [Source::Machines, Source::Alertmanager] {
                        stale(c, source, now, "503");
                    }
                }
            },
            &[error(ClusterRole::Wc, "alertmanager", "503")],
        );
        assert_eq!(v.state, State::Unknown);
        let text = v.text();
        let findings = findings(&text);
        assert_eq!(
            findings,
            [
                "UNKNOWN globex-wc: alertmanager: 503",
                "UNKNOWN globex-wc: machines: failing, the data shown is stale",
            ],
            "{text}"
        );
    }

    #[test]
    fn the_status_line_names_a_few_findings_and_counts_the_rest() {
        let v = check(
            |c, _| {
                let alerts = ["A", "B", "C", "D"]
                    .iter()
                    .map(|n| alert(n, "warning", false, &[]))
                    .collect();
                firing(c, alerts);
                c.update(|s| s.version = Some("v1.31.4".into()));
            },
            &[
                error(ClusterRole::Sc, "slo", "no answer within 20s"),
                error(ClusterRole::Wc, "slo", "no answer within 20s"),
                error(ClusterRole::Wc, "backups", "forbidden"),
                error(ClusterRole::Wc, "schedules", "forbidden"),
            ],
        );
        let first = v.text().lines().next().unwrap().to_owned();
        assert_eq!(
            first,
            "CK8S UNKNOWN - globex: sc slo: no answer within 20s, wc slo: no answer within 20s, \
             wc backups: forbidden, +1 more"
        );
    }
}
