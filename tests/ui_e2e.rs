//! The real binary in a pseudo-terminal against the simulator, the way an on-call
//! engineer uses it: open the fleet, enter the troubled environment, filter its pods,
//! open an alert and silence it (the silence must then exist in the simulator's
//! Alertmanager), open help, quit; and leave the terminal as it was found.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

const BIN: &str = env!("CARGO_BIN_EXE_ck8s-console");
const ROWS: u16 = 30;
const COLS: u16 = 100;
/// Each screen must appear within this.
const SCREEN_TIMEOUT: Duration = Duration::from_secs(20);

/// `ck8s-console sim` in its own process, killed when the test ends however it ends.
struct Sim {
    child: Child,
    fleet_file: PathBuf,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_sim(dir: &Path) -> Sim {
    start_sim_with(dir, &[])
}

fn start_sim_with(dir: &Path, extra: &[&str]) -> Sim {
    start_sim_of(dir, 3, extra)
}

fn start_sim_of(dir: &Path, environments: usize, extra: &[&str]) -> Sim {
    let out = dir.join("sim");
    let child = Command::new(BIN)
        .args(["sim", "--environments", &environments.to_string()])
        .args(extra)
        .arg("--out")
        .arg(&out)
        .arg("--state-dir")
        .arg(dir.join("sim-state"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the simulator starts");
    let mut sim = Sim {
        child,
        fleet_file: out.join("fleet.toml"),
    };
    // Building and settling the fleet takes a few seconds in a debug build.
    let deadline = Instant::now() + Duration::from_secs(120);
    while ck8s_model::config::load(&sim.fleet_file).is_err() {
        if let Ok(Some(status)) = sim.child.try_wait() {
            panic!("the simulator exited early: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "the simulator wrote no fleet.toml in 120 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    sim
}

/// The console in a pseudo-terminal, with what it drew parsed by a terminal emulator.
struct Tui {
    master: Box<dyn portable_pty::MasterPty + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    screen: Arc<Mutex<vt100::Parser>>,
    /// What the console wrote, as bytes, the last [`RAW_KEPT`] of it: for what a terminal
    /// emulator does not show (OSC 52).
    raw: Arc<Mutex<Vec<u8>>>,
    reader: Option<JoinHandle<()>>,
}

const RAW_KEPT: usize = 1 << 20;

impl Drop for Tui {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

impl Tui {
    fn start(fleet_file: &Path, state_dir: &Path) -> Tui {
        Tui::start_with(fleet_file, state_dir, &[])
    }

    /// As [`Tui::start`], with more flags.
    fn start_with(fleet_file: &Path, state_dir: &Path, flags: &[&str]) -> Tui {
        let (fleet, state) = (fleet_file.to_str().unwrap(), state_dir.to_str().unwrap());
        let mut args = vec!["--config", fleet, "--state-dir", state];
        args.extend(flags);
        Tui::spawn(&args)
    }

    /// The binary with `args` in a pseudo-terminal.
    fn spawn(args: &[&str]) -> Tui {
        Tui::spawn_with(args, &[])
    }

    /// As [`Tui::start`], working in `cwd` (where files the console writes go).
    fn start_in(fleet_file: &Path, state_dir: &Path, cwd: &Path) -> Tui {
        let (fleet, state) = (fleet_file.to_str().unwrap(), state_dir.to_str().unwrap());
        Tui::spawn_full(&["--config", fleet, "--state-dir", state], &[], Some(cwd))
    }

    /// As [`Tui::spawn`], with more environment variables.
    fn spawn_with(args: &[&str], env: &[(&str, String)]) -> Tui {
        Tui::spawn_full(args, env, None)
    }

    fn spawn_full(args: &[&str], env: &[(&str, String)], cwd: Option<&Path>) -> Tui {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows: ROWS,
                cols: COLS,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("a pseudo-terminal");
        let mut cmd = CommandBuilder::new(BIN);
        cmd.args(args);
        cmd.env("TERM", "xterm-256color");
        cmd.env("USER", "e2e-tester");
        cmd.env_remove("NO_COLOR");
        for (k, v) in env {
            cmd.env(k, v);
        }
        if let Some(cwd) = cwd {
            cmd.cwd(cwd);
        }
        let child = pty.slave.spawn_command(cmd).expect("the console starts");
        drop(pty.slave);
        let mut reader = pty.master.try_clone_reader().expect("pty reader");
        let writer = pty.master.take_writer().expect("pty writer");
        let screen = Arc::new(Mutex::new(vt100::Parser::new(
            ROWS.try_into().unwrap(),
            COLS.try_into().unwrap(),
            0,
        )));
        let sink = screen.clone();
        let raw = Arc::new(Mutex::new(Vec::new()));
        let raw_sink = raw.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        sink.lock().unwrap().process(&buf[..n]);
                        let mut kept = raw_sink.lock().unwrap();
                        kept.extend_from_slice(&buf[..n]);
                        let excess = kept.len().saturating_sub(RAW_KEPT);
                        kept.drain(..excess);
                    }
                }
            }
        });
        Tui {
            master: pty.master,
            child,
            writer,
            screen,
            raw,
            reader: Some(reader),
        }
    }

    fn contents(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    /// Waits until the screen shows `text`; returns the screen.
    fn wait_for(&self, text: &str) -> String {
        self.wait_until(text, |s| s.contains(text))
    }

    fn wait_until(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + SCREEN_TIMEOUT;
        loop {
            let screen = self.contents();
            if ok(&screen) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("waited {SCREEN_TIMEOUT:?} for {what:?}; the screen shows:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn send(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    /// Esc, then waits until the screen shows what it did. A key sent right after a bare
    /// Esc can arrive in the same read and be taken as Alt+key: nothing is sent until the
    /// Esc has been handled, however slow the machine.
    fn esc_until(&mut self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        self.send("\x1b");
        self.wait_until(what, ok)
    }

    fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.send(&c.to_string());
        }
    }

    /// Waits for the process to exit and for its last output to be parsed.
    fn wait_exit(&mut self) -> u32 {
        let deadline = Instant::now() + SCREEN_TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the console did not exit; screen:\n{}",
                self.contents()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        status.exit_code()
    }

    /// Resizes the terminal, as dragging a window edge does.
    /// Resizes as a terminal emulator does: its own grid first, then the window size the
    /// program reads (and the SIGWINCH). The other way round, a program that redraws at
    /// once is parsed at the old size.
    fn resize(&mut self, rows: u16, cols: u16) {
        self.screen
            .lock()
            .unwrap()
            .set_size(rows.try_into().unwrap(), cols.try_into().unwrap());
        self.master
            .resize(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
    }

    fn pid(&self) -> i32 {
        self.child.process_id().expect("a running child") as i32
    }

    fn assert_restored(&self) {
        let parser = self.screen.lock().unwrap();
        let screen = parser.screen();
        assert!(!screen.alternate_screen(), "the alternate screen was left");
        assert!(!screen.hide_cursor(), "the cursor is visible again");
    }
}

/// The silences of one Alertmanager, through the console's own client.
fn silences(url: &str) -> Vec<ck8s_model::alert::Silence> {
    ck8s_fleet::install_crypto_provider();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = ck8s_fleet::sources::alertmanager::AlertmanagerClient::new(
        url,
        None,
        Duration::from_secs(10),
    )
    .unwrap();
    rt.block_on(client.silences())
        .expect("the simulator's Alertmanager answers")
}

/// The rows of the pods table: lines with a pod status in them.
fn pod_rows(screen: &str) -> Vec<&str> {
    screen
        .lines()
        .filter(|l| {
            [
                "Running",
                "CrashLoopBackOff",
                "Pending",
                "Completed",
                "ContainerCreating",
            ]
            .iter()
            .any(|s| l.contains(s))
        })
        .collect()
}

#[test]
fn an_on_call_session_from_fleet_to_silence() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(dir.path());
    let mut tui = Tui::start(&sim.fleet_file, &dir.path().join("state"));

    // The fleet overview lists every environment.
    let screen = tui.wait_for("initech");
    assert!(
        screen.contains("acme") && screen.contains("globex"),
        "{screen}"
    );
    tui.wait_until("acme's clusters answering", |s| {
        s.lines()
            .any(|l| l.contains("acme ") && l.matches(" up ").count() == 2)
    });

    // A bastion terminal is 80x24; the layout follows the window.
    tui.resize(24, 80);
    tui.wait_until("an 80-column frame", |s| {
        s.lines()
            .nth(2)
            .is_some_and(|l| l.trim_end().chars().count() == 80 && l.trim_end().ends_with('╮'))
    });
    tui.resize(ROWS, COLS);
    tui.wait_until("a 100-column frame", |s| {
        s.lines()
            .nth(2)
            .is_some_and(|l| l.trim_end().chars().count() == 100)
    });

    // Into the troubled environment, first by attention once its alerts are in: its
    // clusters side by side.
    tui.wait_until("globex sorted first", |s| {
        s.lines().nth(5).is_some_and(|l| l.contains("│globex "))
    });
    tui.send("\r");
    tui.wait_for("Cluster globex");

    // Its pods, filtered to the payments service.
    tui.send(":");
    tui.type_text("pods");
    tui.send("\r");
    tui.wait_for("Pods globex");
    tui.wait_until("pods listed", |s| !pod_rows(s).is_empty());
    tui.send("/");
    tui.type_text("payments");
    tui.send("\r");
    // Applied (the input line gone, the filter in the title), not merely being typed;
    // and the wc's pods listed too (on a loaded machine the sc's may come first).
    tui.wait_until("the payments filter applied to the wc's pods", |s| {
        let rows = pod_rows(s);
        s.contains("/payments ")
            && !s.contains("Enter keeps")
            && !rows.is_empty()
            && rows.iter().all(|r| r.contains("payments"))
    });

    // An alert, its details, and a silence for it.
    tui.send("3");
    tui.wait_for("Alerts globex");
    tui.wait_for("firing");
    tui.send("\r");
    tui.wait_for("Annotations");
    tui.send("s");
    tui.wait_for("Comment");
    // Backspace (DEL, as terminals send it) in the comment and in the duration: a typo
    // taken back, and the 2h default made 45m.
    tui.type_text("e2e: silenced by the end-to-end testz");
    tui.wait_for("end-to-end testz");
    tui.send("\x7f");
    tui.send("\x1b[Z");
    tui.send("\x7f");
    tui.send("\x7f");
    tui.type_text("45m");
    tui.wait_for("45m");
    tui.send("\r");
    tui.wait_for("created");

    let fleet = ck8s_model::config::load(&sim.fleet_file).unwrap();
    let globex = fleet.environment("globex").unwrap();
    let found = [&globex.sc.alertmanager, &globex.wc.alertmanager]
        .into_iter()
        .flat_map(|url| silences(url))
        .find(|s| s.comment == "e2e: silenced by the end-to-end test");
    let silence = found.expect("the silence exists in the simulator's Alertmanager");
    assert_eq!(silence.created_by, "e2e-tester");
    let minutes = (silence.ends_at - silence.starts_at).num_minutes();
    assert!(
        (44..=45).contains(&minutes),
        "45m, not 2h: {minutes} minutes"
    );
    assert!(silence.matchers.iter().any(|m| m.name == "alertname"));
    // Silencing changes who gets paged: it is in the audit log, chained like any change.
    let audit_log = dir.path().join("state").join("audit.jsonl");
    ck8s_fleet::engine::audit::verify(&audit_log).expect("an intact audit chain");
    let records = ck8s_fleet::engine::audit::read(&audit_log).unwrap();
    let created = records
        .iter()
        .find(|r| r.action == "silence.create")
        .expect("the silence is audited");
    assert_eq!(created.env, "globex");
    assert!(
        created.target.as_deref().unwrap().contains(&silence.id),
        "{created:?}"
    );
    assert_eq!(
        created.detail["comment"],
        "e2e: silenced by the end-to-end test"
    );

    // Help comes from the action registry.
    tui.esc_until("the alert details closed", |s| !s.contains("Annotations"));
    tui.send("?");
    let screen = tui.wait_for("action registry");
    assert!(screen.contains("silence"), "{screen}");
    tui.esc_until("help closed", |s| !s.contains("action registry"));

    tui.send("q");
    assert_eq!(tui.wait_exit(), 0);
    tui.assert_restored();
}

/// A workflow from the console: `:scale`, the plan with the policy's verdict (globex has
/// critical alerts firing, so it needs an override), a reason, the run followed in the
/// runs pane to its end; then the cluster, the journal and the audit log agree.
#[test]
fn scaling_workers_from_the_console_with_an_override_reason() {
    let dir = tempfile::tempdir().unwrap();
    // Fast simulated time: a new machine takes seconds instead of a quarter minute.
    let sim = start_sim_with(dir.path(), &["--speed", "10"]);
    let state = dir.path().join("state");
    let mut tui = Tui::start(&sim.fleet_file, &state);
    tui.wait_for("initech");

    tui.send(":");
    tui.type_text("scale globex wc 4");
    tui.send("\r");
    tui.wait_for("Run scale on globex-wc");
    tui.send("\r");
    let screen = tui.wait_for("needs an override reason");
    assert!(
        screen.contains("scale globex-wc from 3 to 4 workers"),
        "{screen}"
    );
    assert!(screen.contains("critical-alerts"), "{screen}");
    // globex-wc has a worker that stopped reporting, and a scale succeeds only when every
    // worker of the target is ready: the on-call engineer fixes that node first.
    let kubeconfig = sim.fleet_file.with_file_name("kubeconfig");
    let fixed = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["--context", "globex-wc", "annotate", "nodes", "--all"])
        .arg("sim.ck8s.io/not-ready-")
        .output()
        .expect("kubectl runs");
    assert!(fixed.status.success(), "{fixed:?}");
    // Too short a reason is refused inline; nothing starts. Backspace takes a typo back.
    tui.type_text("INC-4711");
    tui.send("\r");
    tui.wait_for("8 characters long");
    tui.type_text(" capacity for the saIe");
    tui.send("\x7f");
    tui.send("\x7f");
    tui.type_text("le");
    tui.send("\r");
    tui.wait_for("╭ Runs");
    let screen = tui.wait_until("the run succeeded", |s| s.contains("succeeded"));
    assert!(screen.contains("scale workers=4"), "{screen}");
    assert!(
        screen.contains("INC-4711 capacity for the sale"),
        "{screen}"
    );

    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["--context", "globex-sc", "-n", "capi-clusters", "get"])
        .args([
            "machinedeployment",
            "globex-wc-md-0",
            "-o",
            "jsonpath={.spec.replicas}",
        ])
        .output()
        .expect("kubectl runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "4", "{out:?}");
    let journals = ck8s_fleet::engine::journal::Journals::new(&state.join("runs"));
    let (runs, errors) = journals.list();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(runs.len(), 1);
    assert_eq!(
        runs[0].outcome,
        Some(ck8s_fleet::engine::journal::Outcome::Succeeded)
    );
    assert_eq!(
        runs[0].reason.as_deref(),
        Some("INC-4711 capacity for the sale")
    );
    let audited = ck8s_fleet::engine::audit::verify(&state.join("audit.jsonl")).unwrap();
    assert!(
        audited >= 3,
        "start, steps and finish are audited: {audited}"
    );

    tui.send("q");
    assert_eq!(tui.wait_exit(), 0);
    tui.assert_restored();
}

/// A run that fails while the engineer looks at another pane says so in the status line,
/// whatever the pane, until it is acknowledged.
#[test]
fn a_run_that_fails_elsewhere_says_so_until_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    // globex-wc's backups fail in the demo (its object storage "errors").
    let sim = start_sim_with(dir.path(), &["--speed", "10"]);
    let mut tui = Tui::start(&sim.fleet_file, &dir.path().join("state"));
    tui.wait_for("initech");
    tui.send(":");
    tui.type_text("backup globex wc");
    tui.send("\r");
    tui.wait_for("Run backup on globex-wc");
    tui.send("\r");
    tui.wait_for("Enter start run");
    tui.send("\r");
    tui.wait_for("╭ Runs");
    // Away to the fleet's alerts while the backup runs.
    tui.send("3");
    tui.wait_for("╭ Alerts");
    let screen = tui.wait_until("the failed-run notice", |s| {
        s.contains("! run backup on globex-wc FAILED")
    });
    assert!(
        screen.contains("╭ Alerts"),
        "still on the alerts:\n{screen}"
    );
    // It stays through other keys and panes, until Esc acknowledges it.
    tui.send("1");
    let screen = tui.wait_for("╭ Fleet");
    assert!(screen.contains("FAILED"), "{screen}");
    tui.esc_until("the notice acknowledged", |s| {
        s.contains("╭ Fleet") && !s.contains("FAILED")
    });
    tui.send("q");
    assert_eq!(tui.wait_exit(), 0);
    tui.assert_restored();
}

/// A kubeconfig whose users sign in through an exec plugin that asks the person, as
/// kubelogin's device-code flow does: the console runs each plugin once, on the plain
/// terminal before its full screen (so the prompt can be read and answered), and every
/// client of the cluster, the engine's too, reuses the token.
#[test]
fn an_exec_plugin_prompts_before_the_full_screen_and_runs_once_per_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim_of(dir.path(), 1, &[]);
    let kubeconfig = sim.fleet_file.with_file_name("kubeconfig");
    let calls = dir.path().join("calls.log");
    let plugin = dir.path().join("device-code-login.sh");
    std::fs::write(
        &plugin,
        format!(
            r#"#!/bin/sh
token=$1; cluster=$2
printf 'Sign in to %s: open https://dex.example/device and type the code WXYZ: ' "$cluster" >&2
read code
[ "$code" = WXYZ ] || {{ echo "wrong code" >&2; exit 1; }}
echo "$cluster" >> {calls}
exp=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
printf '{{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{{"token":"%s","expirationTimestamp":"%s"}}}}' "$token" "$exp"
"#,
            calls = calls.display()
        ),
    )
    .unwrap();
    // Every admin user of the kubeconfig signs in through the plugin instead.
    let mut doc: serde_json::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(&kubeconfig).unwrap()).unwrap();
    for user in doc["users"].as_array_mut().unwrap() {
        let name = user["name"].as_str().unwrap().to_owned();
        let Some(token) = user["user"]["token"].as_str().map(str::to_owned) else {
            continue;
        };
        user["user"] = serde_json::json!({"exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": "sh",
            "args": [plugin.to_str().unwrap(), token, name],
            "interactiveMode": "IfAvailable",
        }});
    }
    std::fs::write(&kubeconfig, serde_yaml_ng::to_string(&doc).unwrap()).unwrap();

    let mut tui = Tui::start(&sim.fleet_file, &dir.path().join("state"));
    for _ in 0..2 {
        let screen = tui.wait_until("a sign-in prompt not yet answered", |s| {
            s.lines()
                .any(|l| l.trim_end().ends_with("type the code WXYZ:"))
        });
        assert!(
            !tui.screen.lock().unwrap().screen().alternate_screen(),
            "the prompt is on the plain terminal, not under the full screen:\n{screen}"
        );
        tui.send("WXYZ\r");
        // The answered prompt scrolls up or gives way to the next one.
        tui.wait_until("the answer taken", |s| {
            !s.lines()
                .any(|l| l.trim_end().ends_with("type the code WXYZ:"))
                || s.matches("WXYZ: WXYZ").count() > screen.matches("WXYZ: WXYZ").count()
        });
    }
    tui.wait_for("╭ Fleet");
    tui.wait_until("both clusters up", |s| {
        s.lines()
            .any(|l| l.contains("acme") && l.matches(" up ").count() == 2)
    });
    // Into the environment: the heavy sources and the engine's permission checks build
    // more clients of both clusters.
    tui.send("\r");
    tui.wait_for("Cluster acme");
    tui.wait_for("ready");
    tui.send("q");
    assert_eq!(tui.wait_exit(), 0);
    tui.assert_restored();
    let log = std::fs::read_to_string(&calls).unwrap();
    let mut signed: Vec<&str> = log.lines().collect();
    signed.sort_unstable();
    assert_eq!(signed, ["acme-sc", "acme-wc"], "once per cluster");
}

/// The console's flags take effect: `--env` opens that environment, `--read-only` turns
/// off every change (said in the bar, and refused when asked for), `--theme` paints the
/// screen, and `:theme` repaints it at once.
#[test]
fn console_flags_open_an_environment_read_only_in_a_theme() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(dir.path());
    let mut tui = Tui::start_with(
        &sim.fleet_file,
        &dir.path().join("state"),
        &["--env", "globex", "--read-only", "--theme", "light"],
    );
    let screen = tui.wait_for("Cluster globex");
    assert!(screen.contains("READ-ONLY"), "{screen}");
    let background = |tui: &Tui| {
        let parser = tui.screen.lock().unwrap();
        // A cell inside the pane, clear of text: the theme's own background.
        parser
            .screen()
            .cell(ROWS - 3, COLS - 3)
            .map(|c| c.bgcolor())
    };
    tui.wait_until("light paints its background", |_| {
        background(&tui).is_some_and(|c| c != vt100::Color::Default)
    });
    let light = background(&tui);
    // Scaling the workers changes the cluster: refused, and said why.
    tui.send("w");
    tui.wait_for("read-only");
    assert!(
        !tui.contents().contains("Run scale"),
        "no workflow form opens"
    );
    tui.send(":");
    tui.type_text("theme dark");
    tui.send("\r");
    tui.wait_until("the dark theme", |_| background(&tui) != light);
    tui.send("q");
    assert_eq!(tui.wait_exit(), 0);
    tui.assert_restored();
}

/// `demo` needs nothing set up: it builds its fleet, opens the console on it, and starts
/// with a clean slate, since the runs of a previous demo acted on a fleet that is gone.
#[test]
fn the_demo_starts_on_its_own_fleet_with_a_clean_slate() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let old_runs = state.join("demo").join("runs");
    std::fs::create_dir_all(&old_runs).unwrap();
    std::fs::write(old_runs.join("old-run.jsonl"), "{}\n").unwrap();
    std::fs::write(state.join("demo").join("audit.jsonl"), "{}\n").unwrap();
    let mut tui = Tui::spawn(&[
        "demo",
        "--state-dir",
        state.to_str().unwrap(),
        "--environments",
        "2",
    ]);
    tui.wait_for("╭ Fleet");
    tui.wait_until("both environments answering", |s| {
        ["acme ", "globex "].iter().all(|env| {
            s.lines()
                .any(|l| l.contains(env) && l.matches(" up ").count() >= 1)
        })
    });
    assert!(!old_runs.join("old-run.jsonl").exists(), "old runs cleared");
    assert!(
        !state.join("demo").join("audit.jsonl").exists(),
        "old audit cleared"
    );
    tui.send("7");
    tui.wait_for("No workflow runs yet");
    tui.send("q");
    assert_eq!(tui.wait_exit(), 0);
    tui.assert_restored();
}

/// Entering an environment asks each cluster, with SelfSubjectAccessReviews, what this
/// user may do: with a read-only user in globex-wc, help says which actions are denied
/// there, and the key is refused.
#[test]
fn entering_an_environment_checks_what_the_user_may_do() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(dir.path());
    let kubeconfig = sim.fleet_file.with_file_name("kubeconfig");
    let mut doc: serde_json::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(&kubeconfig).unwrap()).unwrap();
    for ctx in doc["contexts"].as_array_mut().unwrap() {
        if ctx["name"] == "globex-wc" {
            ctx["context"]["user"] = "globex-wc-readonly".into();
        }
    }
    std::fs::write(&kubeconfig, serde_yaml_ng::to_string(&doc).unwrap()).unwrap();
    let mut tui = Tui::start(&sim.fleet_file, &dir.path().join("state"));
    tui.wait_for("initech");
    tui.send(":");
    tui.type_text("cluster globex");
    tui.send("\r");
    tui.wait_for("Cluster globex");
    tui.send("?");
    let screen = tui.wait_until("the reviews answered", |s| {
        s.contains("action registry") && s.contains("denied in wc") && !s.contains("checking…")
    });
    // The sc's admin may drain; the wc's viewer may not.
    let drain = screen
        .lines()
        .find(|l| l.contains("drain node"))
        .unwrap_or_else(|| panic!("{screen}"));
    assert!(drain.contains("denied in wc"), "{drain}");
    tui.esc_until("help closed", |s| !s.contains("action registry"));
    tui.send("c");
    tui.send("c");
    tui.wait_for("Cluster globex · wc");
    // The first worker row selected: a wc node, where the viewer may not evict.
    tui.send("d");
    let screen = tui.wait_for("you may not create pods/eviction in globex-wc");
    assert!(!screen.contains("Run drain"), "no form opens:\n{screen}");
    tui.send("q");
    assert_eq!(tui.wait_exit(), 0);
    tui.assert_restored();
}

/// Quitting with a run in progress asks first; yes stops the run at its next safe point
/// and releases its lock, so the cluster is free for the next engineer at once.
#[test]
fn quitting_stops_the_consoles_runs_and_releases_their_locks() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim_with(dir.path(), &["--speed", "10"]);
    let kubeconfig = sim.fleet_file.with_file_name("kubeconfig");
    let kubectl = |args: &[&str]| {
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(args)
            .output()
            .expect("kubectl runs")
    };
    // acme-wc's machines wait while its Cluster is paused: the run stays in progress.
    let paused = kubectl(&[
        "--context",
        "acme-sc",
        "-n",
        "capi-clusters",
        "annotate",
        "clusters.cluster.x-k8s.io",
        "acme-wc",
        "cluster.x-k8s.io/paused=true",
    ]);
    assert!(paused.status.success(), "{paused:?}");
    let state = dir.path().join("state");
    let mut tui = Tui::start(&sim.fleet_file, &state);
    tui.wait_for("initech");
    tui.send(":");
    tui.type_text("scale acme wc 4");
    tui.send("\r");
    tui.wait_for("Run scale on acme-wc");
    tui.send("\r");
    tui.wait_for("Enter start run");
    tui.send("\r");
    tui.wait_until("the run waiting for its machines", |s| {
        s.contains("3. wait for the machines") && s.contains("running")
    });
    let lease = || {
        kubectl(&[
            "--context",
            "acme-sc",
            "-n",
            "kube-system",
            "get",
            "lease",
            "ck8s-console-acme-wc",
        ])
    };
    assert!(lease().status.success(), "the run holds acme-wc's lock");
    tui.send("q");
    tui.wait_for("1 run(s) of this console are in progress");
    tui.send("y");
    assert_eq!(tui.wait_exit(), 0);
    tui.assert_restored();
    let gone = lease();
    assert!(
        String::from_utf8_lossy(&gone.stderr).contains("NotFound"),
        "the lock is released: {gone:?}"
    );
    let journals = ck8s_fleet::engine::journal::Journals::new(&state.join("runs"));
    let (runs, _) = journals.list();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        runs[0].outcome,
        Some(ck8s_fleet::engine::journal::Outcome::Cancelled),
        "{:?}",
        runs[0]
    );
}

/// SIGTERM (a service manager, a closing tmux pane) restores the terminal and exits with
/// 128 + 15, the shell's convention for death by that signal.
#[test]
fn sigterm_restores_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(dir.path());
    let mut tui = Tui::start(&sim.fleet_file, &dir.path().join("state"));
    tui.wait_for("initech");
    assert!(tui.screen.lock().unwrap().screen().alternate_screen());
    // SAFETY: kill(2) on our own child's pid.
    let rc = unsafe { libc::kill(tui.pid(), libc::SIGTERM) };
    assert_eq!(rc, 0);
    assert_eq!(tui.wait_exit(), 128 + 15);
    tui.assert_restored();
}

/// Backspace as most terminals send it (DEL, 0x7f; `stty` shows `erase = ^?`) edits the
/// `/` filter and the `:` line, and a command that fails leaves the line empty for the
/// next one.
#[test]
fn backspace_edits_the_filter_and_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(dir.path());
    let mut tui = Tui::start(&sim.fleet_file, &dir.path().join("state"));
    tui.wait_for("initech");

    // A typo in the filter, taken back with Backspace: only the fixed filter remains.
    tui.send("/");
    tui.type_text("acmx");
    tui.wait_for("/acmx");
    tui.send("\x7f");
    tui.type_text("e");
    tui.send("\r");
    let screen = tui.wait_until("the fleet filtered to acme", |s| {
        s.contains("/acme") && !s.contains("initech")
    });
    assert!(!screen.contains("acmx"), "{screen}");

    // A command with a typo fails; its error goes to the status line and the next `:`
    // starts empty.
    tui.send(":");
    tui.type_text("theme nope");
    tui.send("\r");
    tui.wait_for("theme nope:");
    tui.send(":");
    tui.type_text("heml");
    tui.send("\x7f");
    tui.send("\x7f");
    tui.type_text("lp");
    tui.send("\r");
    tui.wait_for("action registry");
    tui.esc_until("help closed", |s| !s.contains("action registry"));
    tui.send("q");
    assert_eq!(tui.wait_exit(), 0);
    tui.assert_restored();
}

/// A `run` followed at a terminal draws a line per step that settles to its result; with
/// stderr a pipe the same steps come as plain lines (`tests/engine.rs` reads those).
#[test]
fn a_run_at_a_terminal_shows_its_steps_as_they_go() {
    let dir = tempfile::tempdir().unwrap();
    // At 60x the simulator's Velero finishes a backup in about a second.
    let sim = start_sim_of(dir.path(), 1, &["--speed", "60"]);
    let mut tui = Tui::start_with(
        &sim.fleet_file,
        &dir.path().join("state"),
        &[
            "run",
            "backup",
            "--env",
            "acme",
            "--cluster",
            "sc",
            "-o",
            "table",
        ],
    );
    tui.wait_for(": succeeded");
    assert_eq!(tui.wait_exit(), 0, "{}", tui.contents());
    let screen = tui.contents();
    // One line per step, its result beside it: the spinner's line, finished.
    for step in [
        "[1/3] read the schedule  done: ",
        "[3/3] wait for the backup  done: ",
    ] {
        assert!(screen.contains(step), "{step}: {screen}");
    }
    assert!(screen.contains(": succeeded"), "{screen}");
}

/// kubectl on the simulator the console runs against: stdout, and whether it succeeded.
fn kubectl(sim: &Sim, args: &[&str]) -> (bool, String) {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(sim.fleet_file.with_file_name("kubeconfig"))
        .args(args)
        .output()
        .expect("kubectl runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Space marks two pods, one question deletes both; `y` shows a pod's YAML; `C` and `U`
/// cordon and uncordon a node. kubectl sees each change, and each is audited.
#[test]
fn marked_pods_are_deleted_together_and_a_node_is_cordoned_and_uncordoned() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim_of(dir.path(), 1, &[]);
    let state = dir.path().join("state");
    let mut tui = Tui::start(&sim.fleet_file, &state);
    tui.wait_for("acme");
    tui.send("\r");
    tui.wait_for("╭ Cluster");
    tui.send("2");
    tui.send("/");
    tui.type_text("falco");
    tui.send("\r");
    tui.wait_until("falco pods only", |s| {
        let rows = pod_rows(s);
        rows.len() > 2 && rows.iter().all(|r| r.contains("falco"))
    });

    tui.send(" ");
    tui.send(" ");
    let screen = tui.wait_for("2 marked");
    let name = regex::Regex::new(r"● (falco-[a-z0-9]+)").unwrap();
    let marked: Vec<String> = name
        .captures_iter(&screen)
        .map(|c| c[1].to_owned())
        .collect();
    assert_eq!(marked.len(), 2, "{screen}");
    tui.send("x");
    let question = tui.wait_for("Delete these 2 pods?");
    for pod in &marked {
        assert!(question.contains(&format!("falco/{pod}")), "{question}");
    }
    tui.send("y");
    tui.wait_for("delete: done for all 2 pods");
    for pod in &marked {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(sim.fleet_file.with_file_name("kubeconfig"))
            .args(["--context", "acme-wc", "get", "pod", "-n", "falco", pod])
            .args(["-o", "jsonpath={.metadata.deletionTimestamp}"])
            .output()
            .expect("kubectl runs");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        let gone = !out.status.success() && stderr.contains("NotFound");
        let going = out.status.success() && !stdout.is_empty();
        assert!(gone || going, "{pod} is going: {stdout} {stderr}");
    }

    // The selected pod's YAML, managedFields folded away.
    tui.send("y");
    let screen = tui.wait_for("kind: Pod");
    assert!(screen.contains("YAML"), "{screen}");
    assert!(!screen.contains("managedFields:"), "{screen}");
    tui.esc_until("the pod closed", |s| !s.contains("kind: Pod"));

    // The last node of the cluster pane is a worker of the workload cluster.
    tui.send("4");
    tui.wait_for("╭ Cluster");
    tui.send("G");
    tui.send("C");
    let question = tui.wait_for("Cordon this node?");
    let node = regex::Regex::new(r"acme-wc node (acme-wc-[a-z0-9-]+)")
        .unwrap()
        .captures(&question)
        .unwrap_or_else(|| panic!("the node is named: {question}"))[1]
        .to_owned();
    tui.send("y");
    tui.wait_for("cordoned: no new pods");
    let unschedulable = || {
        let args = ["--context", "acme-wc", "get", "node", &node];
        let args = [&args[..], &["-o", "jsonpath={.spec.unschedulable}"]].concat();
        kubectl(&sim, &args).1
    };
    assert_eq!(unschedulable(), "true");
    tui.send("U");
    tui.wait_for("Uncordon this node?");
    tui.send("y");
    tui.wait_for("uncordoned: new pods may be scheduled");
    assert_eq!(unschedulable(), "");

    let records = ck8s_fleet::engine::audit::read(&state.join("audit.jsonl")).unwrap();
    let actions: Vec<&str> = records.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "object.delete",
            "object.delete",
            "object.cordon",
            "object.uncordon"
        ]
    );
    tui.send("q");
    assert_eq!(tui.wait_exit(), 0);
    tui.assert_restored();
}

/// `:deploy production` lists Deployments with the server's columns; `r` restarts one
/// (kubectl sees the rollout's annotation, then new pods), Enter shows its YAML, `d`
/// describes it and leads to what it owns and back to its owner, and deleting a namespace
/// waits for its name to be typed.
#[test]
fn any_kind_is_listed_restarted_and_shown_as_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim_of(dir.path(), 1, &[]);
    let state = dir.path().join("state");
    let mut tui = Tui::start(&sim.fleet_file, &state);
    tui.wait_for("acme");
    tui.send("\r");
    tui.wait_for("╭ Cluster");
    tui.send(":");
    tui.type_text("deploy production");
    tui.send("\r");
    let screen = tui.wait_for("wc production");
    assert!(screen.contains("UP-TO-DATE"), "kubectl's columns: {screen}");
    assert!(
        screen.contains("deployments.apps in production"),
        "{screen}"
    );

    let pods = || {
        let (ok, names) = kubectl(
            &sim,
            &[
                "--context",
                "acme-wc",
                "get",
                "pods",
                "-n",
                "production",
                "-o",
                "jsonpath={.items[*].metadata.name}",
            ],
        );
        assert!(ok, "{names}");
        names
            .split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let before = pods();
    tui.send("r");
    tui.wait_for("Restart this deployment?");
    tui.send("y");
    let screen = tui.wait_for("restarted: a rollout");
    let name = regex::Regex::new(r"production/([a-z0-9-]+): restarted")
        .unwrap()
        .captures(&screen.replace('\n', ""))
        .unwrap_or_else(|| panic!("the flash names it: {screen}"))[1]
        .to_owned();
    let (ok, at) = kubectl(
        &sim,
        &[
            "--context",
            "acme-wc",
            "get",
            "deploy",
            "-n",
            "production",
            &name,
            "-o",
            r"jsonpath={.spec.template.metadata.annotations.kubectl\.kubernetes\.io/restartedAt}",
        ],
    );
    assert!(ok && !at.is_empty(), "restartedAt is set on {name}: {at:?}");
    // The changed template rolls out: pods of a new ReplicaSet replace the old ones.
    let deadline = Instant::now() + SCREEN_TIMEOUT;
    loop {
        let now = pods();
        if now
            .iter()
            .any(|p| p.starts_with(&format!("{name}-")) && !before.contains(p))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no new pod of {name}: {before:?} then {now:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // :replicas scales the selected one, after a question.
    tui.send(":");
    tui.type_text("replicas 2");
    tui.send("\r");
    tui.wait_for("Scale this deployment to 2?");
    tui.send("y");
    tui.wait_for("to 2 replicas");
    // The console follows the rollout to its end, as `kubectl rollout status` does.
    tui.wait_for("rolled out: 2/2 ready");
    let args = [
        "--context",
        "acme-wc",
        "get",
        "deploy",
        "-n",
        "production",
        &name,
    ];
    let (_, replicas) = kubectl(
        &sim,
        &[&args[..], &["-o", "jsonpath={.spec.replicas}"]].concat(),
    );
    assert_eq!(replicas, "2");

    tui.send("\r");
    let screen = tui.wait_for("kind: Deployment");
    assert!(
        screen.contains("YAML wc/deployments.apps/production/"),
        "{screen}"
    );
    tui.esc_until("the YAML closed", |s| !s.contains("kind: Deployment"));

    // d describes it; o goes to the ReplicaSets it owns, and from one of them to its
    // pods in the pods pane; J goes back up to the ReplicaSet.
    tui.send("d");
    let screen = tui.wait_for("Owns (");
    assert!(screen.contains("Replicas:"), "{screen}");
    assert!(screen.contains("ReplicaSet/"), "{screen}");
    // Its events end the description, the console's own restart and scale among them.
    tui.send("G");
    tui.wait_for("ck8s-console");
    tui.send("o");
    tui.wait_for("DESIRED");
    // The restart left an old ReplicaSet, scaled to nothing: describe the one with pods.
    let mut owning = false;
    for _ in 0..3 {
        tui.send("d");
        let screen = tui.wait_for("Events:");
        assert!(
            screen.contains(&format!("Controlled By:   Deployment/{name}")),
            "the ReplicaSet names its Deployment: {screen}"
        );
        if screen.contains("Pod/") {
            owning = true;
            break;
        }
        tui.esc_until("the description closed", |s| !s.contains("Events:"));
        tui.send("j");
    }
    assert!(owning, "a ReplicaSet of {name} owns its pods");
    tui.send("o");
    tui.wait_for("Pods acme");
    tui.send("J");
    tui.wait_for("1 replicaset");

    tui.send(":");
    tui.type_text("ns wc");
    tui.send("\r");
    tui.wait_for("velero ");
    tui.send("G");
    tui.send("x");
    let screen = tui.wait_for("Delete this namespace?");
    assert!(screen.contains("and Enter to go on"), "{screen}");
    tui.type_text("y");
    tui.send("\r");
    tui.wait_for("exactly to go on");
    tui.esc_until("the question closed", |s| {
        !s.contains("Delete this namespace?")
    });
    let records = ck8s_fleet::engine::audit::read(&state.join("audit.jsonl")).unwrap();
    let actions: Vec<&str> = records.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(
        actions,
        ["object.restart", "object.scale"],
        "nothing was deleted"
    );

    tui.send("q");
    assert_eq!(tui.wait_exit(), 0);
    tui.assert_restored();
}

/// `p` on the crash-looping pod shows its previous run's log, which ends in what it died
/// of; `p` again goes back to the current log.
#[test]
fn the_previous_runs_log_of_a_crash_looping_pod() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim_of(dir.path(), 2, &[]);
    let state = dir.path().join("state");
    let cwd = dir.path().join("cwd");
    std::fs::create_dir(&cwd).unwrap();
    let mut tui = Tui::start_in(&sim.fleet_file, &state, &cwd);
    tui.wait_for("globex");
    tui.send(":");
    tui.type_text("pods globex wc");
    tui.send("\r");
    tui.send("/");
    tui.type_text("payments-worker");
    tui.send("\r");
    tui.wait_until("the crash-looping pod alone", |s| {
        let rows = pod_rows(s);
        rows.len() == 1 && rows[0].contains("CrashLoopBackOff")
    });
    tui.send("p");
    let screen = tui.wait_for("previous run (p: the current one)");
    assert!(screen.contains("exit=1"), "{screen}");
    tui.send("p");
    tui.wait_for("following");

    // `/` finds as typed (Backspace mends it), Enter goes to the first match, and the
    // status counts them; `t` restarts the tail with timestamps, the search kept.
    tui.send("/");
    tui.type_text("DATABASx");
    tui.send("\x7f");
    tui.type_text("E");
    tui.send("\r");
    let screen = tui.wait_for("/DATABASE: in 0 lines");
    assert!(
        screen.contains("paused") || screen.contains("following"),
        "{screen}"
    );
    tui.send("/");
    for _ in 0.."DATABASE".len() {
        tui.send("\x7f");
    }
    tui.type_text("database");
    tui.send("\r");
    // Counted as typed, case-blind; Enter goes to one, which stops the following.
    tui.wait_until("matches counted, and Enter gone to one", |s| {
        regex::Regex::new(r"/database: in [1-9][0-9]* lines")
            .unwrap()
            .is_match(s)
            && s.contains("paused (G or f follows)")
    });
    tui.send("t");
    tui.wait_until("a timestamp begins each line", |s| {
        s.contains("timestamps")
            && regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
                .unwrap()
                .is_match(s)
    });
    // Ctrl-S keeps what the tail holds in a file of the working directory.
    tui.send("\x13");
    tui.wait_for("log lines to production_payments-worker");
    let saved: Vec<_> = std::fs::read_dir(&cwd).unwrap().flatten().collect();
    assert_eq!(saved.len(), 1, "{saved:?}");
    let text = std::fs::read_to_string(saved[0].path()).unwrap();
    assert!(text.lines().count() > 1, "{text}");
    assert!(text.contains("database"), "{text}");
    tui.esc_until("the pod closed", |s| !s.contains("timestamps"));
    tui.send("q");
    assert_eq!(tui.wait_exit(), 0);
    tui.assert_restored();
}

/// With no `$EDITOR`, `e` opens the console's own editor: typed text (Backspace mends it)
/// is kept when Esc closes it, `e` brings it back, and Ctrl-S shows the server's dry-run
/// diff, which Enter applies. `:create` makes a new object the same way.
#[test]
fn without_an_editor_the_consoles_own_edits_keeps_and_creates() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim_of(dir.path(), 1, &[]);
    let state = dir.path().join("state");
    let (fleet, state_arg) = (sim.fleet_file.to_str().unwrap(), state.to_str().unwrap());
    let mut tui = Tui::spawn_with(
        &["--config", fleet, "--state-dir", state_arg],
        &[("EDITOR", String::new()), ("VISUAL", String::new())],
    );
    tui.wait_for("acme");
    tui.send(":");
    tui.type_text("cm kube-system wc");
    tui.send("\r");
    tui.wait_for("kube-root-ca.crt");
    tui.send("e");
    let screen = tui.wait_for("Ctrl-S dry run");
    assert!(
        screen.contains("configmaps/kube-system/kube-root-ca.crt"),
        "{screen}"
    );
    // The line after `data:`, by its number in the editor's margin.
    let data_line: usize = regex::Regex::new(r"(\d+)\s+data:")
        .unwrap()
        .captures(&screen)
        .unwrap_or_else(|| panic!("the YAML has data: {screen}"))[1]
        .parse()
        .unwrap();
    for _ in 0..data_line {
        tui.send("\x1b[B");
    }
    tui.send("\x1b[H");
    tui.type_text("  note: \"editedX");
    tui.send("\x7f");
    tui.type_text("\"\r");
    tui.wait_for("note: \"edited\"");
    tui.send("\x1b");
    tui.wait_for("your text is kept");
    // Kept, and made again on the object as it is now (so written as the server has it).
    tui.send("e");
    tui.wait_for("note: edited");
    tui.send("\x13");
    tui.wait_for("+  note: edited");
    tui.send("\r");
    tui.wait_for("edited: the server stored it");
    let (ok, note) = kubectl(
        &sim,
        &[
            "--context",
            "acme-wc",
            "get",
            "cm",
            "-n",
            "kube-system",
            "kube-root-ca.crt",
            "-o",
            "jsonpath={.data.note}",
        ],
    );
    assert!(ok);
    assert_eq!(note, "edited");

    // :create starts from what every ConfigMap needs; named, it is dry-run, then made.
    tui.send(":");
    tui.type_text("create");
    tui.send("\r");
    let screen = tui.wait_for("a new ConfigMap");
    let name_line: usize = regex::Regex::new(r"(\d+)\s+name: ''")
        .unwrap()
        .captures(&screen)
        .unwrap_or_else(|| panic!("the template names nothing yet: {screen}"))[1]
        .parse()
        .unwrap();
    for _ in 1..name_line {
        tui.send("\x1b[B");
    }
    tui.send("\x1b[F");
    tui.send("\x7f\x7f");
    tui.type_text("runbook-notes");
    tui.send("\x13");
    tui.wait_for("+  name: runbook-notes");
    tui.send("\r");
    tui.wait_for("created: the server stored it");
    let (ok, made) = kubectl(
        &sim,
        &[
            "--context",
            "acme-wc",
            "get",
            "cm",
            "-n",
            "kube-system",
            "runbook-notes",
            "-o",
            "jsonpath={.metadata.name}",
        ],
    );
    assert!(ok && made == "runbook-notes", "{made}");
    let records = ck8s_fleet::engine::audit::read(&state.join("audit.jsonl")).unwrap();
    let actions: Vec<&str> = records.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["object.edit", "object.create"]);
    tui.send("q");
    assert_eq!(tui.wait_exit(), 0);
    tui.assert_restored();
}

/// A Secret's description lists its keys by size; `:reveal KEY` shows one value, once it
/// has passed the engine's gate (refused with --read-only) and been audited by its key; the
/// value is written nowhere.
#[test]
fn one_value_of_a_secret_is_revealed_on_request_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim_of(dir.path(), 1, &[]);
    let state = dir.path().join("state");
    let value = "s3cr3t-value-91";
    let (ok, said) = kubectl(
        &sim,
        &[
            "--context",
            "acme-wc",
            "-n",
            "default",
            "create",
            "secret",
            "generic",
            "db-creds",
            &format!("--from-literal=password={value}"),
            "--from-literal=user=admin",
        ],
    );
    assert!(ok, "{said}");
    let open_secret = |tui: &mut Tui| {
        tui.wait_for("acme");
        tui.send(":");
        tui.type_text("secrets default wc");
        tui.send("\r");
        tui.send("/");
        tui.type_text("db-creds");
        tui.send("\r");
        // Its row, not just the filter in the title.
        tui.wait_for("db-creds Opaque");
    };

    let mut tui = Tui::start_with(&sim.fleet_file, &state, &["--read-only"]);
    open_secret(&mut tui);
    tui.send(":");
    tui.type_text("reveal password");
    tui.send("\r");
    let screen = tui.wait_for("not revealed: read-only");
    assert!(!screen.contains(value), "{screen}");
    tui.send("q");
    assert_eq!(tui.wait_exit(), 0);

    let mut tui = Tui::start(&sim.fleet_file, &state);
    open_secret(&mut tui);
    tui.send("d");
    let screen = tui.wait_for("password: 15 bytes");
    assert!(screen.contains("user: 5 bytes"), "{screen}");
    assert!(
        !screen.contains(value) && !screen.contains("admin"),
        "{screen}"
    );
    tui.esc_until("the description closed", |s| {
        !s.contains("password: 15 bytes")
    });
    tui.send(":");
    tui.type_text("reveal nope");
    tui.send("\r");
    tui.wait_for("has no key `nope`");
    tui.send(":");
    tui.type_text("reveal password");
    tui.send("\r");
    tui.wait_for(value);
    tui.esc_until("the value closed", |s| !s.contains(value));
    tui.send("q");
    assert_eq!(tui.wait_exit(), 0);
    tui.assert_restored();

    let records = ck8s_fleet::engine::audit::read(&state.join("audit.jsonl")).unwrap();
    let reveals: Vec<_> = records
        .iter()
        .filter(|r| r.action == "secret.reveal")
        .collect();
    assert_eq!(reveals.len(), 2, "both asks are audited, by key");
    assert_eq!(reveals[1].detail["key"], "password");
    // The value is in no file the console wrote.
    let mut files = vec![state.clone()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(
                std::fs::read_dir(&path)
                    .unwrap()
                    .flatten()
                    .map(|e| e.path()),
            );
        } else {
            let bytes = std::fs::read(&path).unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains(value), "{} holds the value", path.display());
        }
    }
}

/// A pod of two containers: the log is the annotated default container's, `c` goes to
/// the other one's, whose lines differ.
#[test]
fn c_moves_the_log_from_the_default_container_to_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim_of(dir.path(), 1, &[]);
    let state = dir.path().join("state");
    let mut tui = Tui::start(&sim.fleet_file, &state);
    tui.wait_for("acme");
    tui.send(":");
    tui.type_text("pods acme wc");
    tui.send("\r");
    tui.send("/");
    tui.type_text("postgres-0");
    tui.send("\r");
    tui.wait_until("the database pod alone", |s| {
        let rows = pod_rows(s);
        rows.len() == 1 && rows[0].contains("2/2")
    });
    // The log lines on screen (as far as they fit), and the container's log by kubectl.
    let shown = |screen: &str| -> Vec<String> {
        screen
            .lines()
            .filter_map(|l| l.find("level=").map(|i| &l[i..]))
            .map(|l| l.trim_end_matches(['│', ' ']).to_owned())
            .filter(|l| l.len() > 20)
            .collect()
    };
    let log_of = |container: &str| {
        let (ok, text) = kubectl(
            &sim,
            &[
                "--context",
                "acme-wc",
                "logs",
                "-n",
                "production",
                "postgres-0",
                "-c",
                container,
                "--tail",
                "400",
            ],
        );
        assert!(ok, "{text}");
        text
    };
    // The lines of `container`'s log on screen, once every one shown is in kubectl's
    // log of it: a screen read while a frame is half drawn may still hold the last ones.
    let lines_of = |tui: &Tui, container: &str| -> (Vec<String>, String) {
        let deadline = Instant::now() + SCREEN_TIMEOUT;
        loop {
            let screen = tui.contents();
            let lines = shown(&screen);
            if screen.contains(&format!("container {container}")) && !lines.is_empty() {
                let log = log_of(container);
                if lines.iter().all(|l| log.contains(l.as_str())) {
                    return (lines, log);
                }
            }
            assert!(
                Instant::now() < deadline,
                "{container}'s log lines never showed: {screen}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    tui.send("l");
    let (_, database_log) = lines_of(&tui, "postgres");
    tui.send("c");
    let (metrics, _) = lines_of(&tui, "metrics");
    assert!(
        metrics.iter().any(|l| !database_log.contains(l.as_str())),
        "the other container's own lines: {metrics:?}"
    );
    tui.send("c");
    tui.wait_for("container postgres");
    tui.esc_until("the pod closed", |s| !s.contains("container postgres"));
    tui.send("q");
    assert_eq!(tui.wait_exit(), 0);
    tui.assert_restored();
}

/// `Y` copies the pod's name to the clipboard (OSC 52). `a` hands the terminal to
/// `kubectl exec -it` in the pod, with the cluster's kubeconfig and context, and takes it
/// back after, and `F` to `kubectl port-forward`: a fake kubectl on PATH records what it
/// was asked, and the console draws again and is audited.
#[test]
fn copy_a_pods_name_and_hand_the_terminal_to_a_shell_and_back() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim_of(dir.path(), 1, &[]);
    let state = dir.path().join("state");
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let recorded = dir.path().join("kubectl-args");
    let fake = bin.join("kubectl");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\necho 'a shell would be here'\nsleep 0.3\n",
            recorded.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let (fleet, state_arg) = (sim.fleet_file.to_str().unwrap(), state.to_str().unwrap());
    let mut tui = Tui::spawn_with(
        &["--config", fleet, "--state-dir", state_arg],
        &[("PATH", path)],
    );
    tui.wait_for("acme");
    tui.send(":");
    tui.type_text("pods acme wc");
    tui.send("\r");
    let screen = tui.wait_until("pods", |s| !pod_rows(s).is_empty());
    // NAMESPACE, NAME, READY, ...: one cluster, so no cluster column.
    let pod = pod_rows(&screen)[0]
        .split_whitespace()
        .nth(1)
        .expect("a pod name")
        .to_owned();
    // Y copies the pod's name to the terminal's clipboard (OSC 52), which works over SSH.
    tui.send("Y");
    let copied = tui.wait_for("copied ");
    let name = regex::Regex::new(r"copied ([a-z0-9-]+/[a-z0-9-]+)")
        .unwrap()
        .captures(&copied)
        .unwrap_or_else(|| panic!("the flash names it: {copied}"))[1]
        .to_owned();
    let osc52 = {
        use base64::Engine as _;
        format!(
            "\x1b]52;c;{}\x07",
            base64::engine::general_purpose::STANDARD.encode(&name)
        )
    };
    // The clipboard's bytes may reach the terminal just after the frame that says so.
    let deadline = Instant::now() + SCREEN_TIMEOUT;
    while !tui
        .raw
        .lock()
        .unwrap()
        .windows(osc52.len())
        .any(|w| w == osc52.as_bytes())
    {
        assert!(Instant::now() < deadline, "the clipboard got {name}");
        std::thread::sleep(Duration::from_millis(50));
    }

    tui.send("a");
    tui.wait_for("back from the shell in acme-wc");
    let args = std::fs::read_to_string(&recorded).expect("kubectl was run");
    let args: Vec<&str> = args.lines().collect();
    let at = |flag: &str| args.iter().position(|a| *a == flag).map(|i| args[i + 1]);
    assert_eq!(at("--context"), Some("acme-wc"), "{args:?}");
    assert!(
        at("--kubeconfig").is_some_and(|k| k.ends_with("kubeconfig")),
        "{args:?}"
    );
    assert!(args.contains(&"exec") && args.contains(&"-it"), "{args:?}");
    let shown = pod.trim_end_matches('…');
    assert!(
        shown.len() > 3 && args.iter().any(|a| a.starts_with(shown)),
        "{pod} in {args:?}"
    );
    // The console draws again on its own screen.
    tui.wait_for("╭ Pods acme");
    let records = ck8s_fleet::engine::audit::read(&state.join("audit.jsonl")).unwrap();
    assert_eq!(records.last().map(|r| r.action.as_str()), Some("pod.shell"));

    // F: the ports to forward, checked as typed (a bad one says why and stays to be
    // mended, Backspace and all), then kubectl port-forward with the terminal, audited.
    tui.send("F");
    tui.wait_for("LOCAL:REMOTE");
    tui.type_text("8080:99999");
    tui.send("\r");
    tui.wait_for("is not a port");
    for _ in 0..5 {
        tui.send("\x7f");
    }
    tui.type_text("80");
    tui.send("\r");
    tui.wait_for("port-forward 8080:80 to acme-wc");
    tui.wait_for("╭ Pods acme");
    let args = std::fs::read_to_string(&recorded).expect("kubectl was run");
    let args: Vec<&str> = args.lines().collect();
    assert!(
        args.contains(&"port-forward") && args.contains(&"8080:80"),
        "{args:?}"
    );
    assert!(
        args.iter().any(|a| a.starts_with(&format!("pod/{shown}"))),
        "{args:?}"
    );
    let records = ck8s_fleet::engine::audit::read(&state.join("audit.jsonl")).unwrap();
    let last = records.last().unwrap();
    assert_eq!(last.action, "pod.port-forward");
    assert_eq!(last.detail["ports"], serde_json::json!(["8080:80"]));
    tui.send("q");
    assert_eq!(tui.wait_exit(), 0);
    tui.assert_restored();
}

/// `e` on a Deployment: the editor (a script here, as $EDITOR) changes its replicas; the
/// server's dry-run diff shows the change; Enter applies it (kubectl sees it). An edit
/// that meets a change someone else made is refused and the text kept: `e` again puts it
/// on the new version, and it applies.
#[test]
fn an_edit_in_the_editor_shows_the_servers_diff_then_applies_and_a_conflict_keeps_the_text() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim_of(dir.path(), 1, &[]);
    let state = dir.path().join("state");
    let editor = dir.path().join("editor");
    std::fs::write(
        &editor,
        "#!/bin/sh\nsed -i 's/^  replicas: .*/  replicas: 2/' \"$1\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (fleet, state_arg) = (sim.fleet_file.to_str().unwrap(), state.to_str().unwrap());
    let mut tui = Tui::spawn_with(
        &["--config", fleet, "--state-dir", state_arg],
        &[
            ("EDITOR", editor.display().to_string()),
            ("VISUAL", String::new()),
        ],
    );
    tui.wait_for("acme");
    tui.send(":");
    tui.type_text("deploy production wc");
    tui.send("\r");
    let row = regex::Regex::new(r"│production\s+([a-z0-9-]+)\s").unwrap();
    let screen = tui.wait_until("a deployment row", |s| row.is_match(s));
    let name = row
        .captures(&screen)
        .unwrap_or_else(|| panic!("a deployment: {screen}"))[1]
        .to_owned();
    let replicas = || {
        let args = [
            "--context",
            "acme-wc",
            "get",
            "deploy",
            "-n",
            "production",
            &name,
        ];
        kubectl(
            &sim,
            &[&args[..], &["-o", "jsonpath={.spec.replicas}"]].concat(),
        )
        .1
    };
    let before = replicas();
    assert_ne!(before, "2");

    // An edit meets a change made meanwhile: refused, the text kept.
    tui.send("e");
    let diff = tui.wait_for("+  replicas: 2");
    assert!(diff.contains(&format!("-  replicas: {before}")), "{diff}");
    let args = [
        "--context",
        "acme-wc",
        "scale",
        "deploy",
        "-n",
        "production",
        &name,
    ];
    assert!(kubectl(&sim, &[&args[..], &["--replicas=5"]].concat()).0);
    tui.send("\r");
    tui.wait_for("changed since it was read");
    assert_eq!(replicas(), "5", "nothing was overwritten");

    // Again: on the new version, the diff is against it, and it applies.
    tui.send("e");
    let diff = tui.wait_for("+  replicas: 2");
    assert!(diff.contains("-  replicas: 5"), "{diff}");
    tui.send("\r");
    tui.wait_for("edited: the server stored it");
    assert_eq!(replicas(), "2");
    let records = ck8s_fleet::engine::audit::read(&state.join("audit.jsonl")).unwrap();
    let actions: Vec<&str> = records.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(
        actions,
        ["object.edit", "object.edit.failed", "object.edit"]
    );
    tui.send("q");
    assert_eq!(tui.wait_exit(), 0);
    tui.assert_restored();
}

/// `:events` lists the events of both clusters newest first, `o` goes to an event's
/// object; `O` on an alert opens the pod its labels name.
#[test]
fn the_events_view_and_from_an_alert_to_its_pod() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim_of(dir.path(), 2, &[]);
    let state = dir.path().join("state");
    let mut tui = Tui::start(&sim.fleet_file, &state);
    tui.wait_for("globex");
    tui.send(":");
    tui.type_text("events globex");
    tui.send("\r");
    // Not the fleet's "KubeNodeNotReady": the event's own row, in the events table.
    let screen = tui.wait_until("the NodeNotReady event", |s| {
        s.contains("LAST SEEN")
            && s.lines()
                .any(|l| l.contains("NodeNotReady") && l.contains("node/"))
    });
    assert!(screen.contains("by last seen ▲"), "newest first: {screen}");
    assert!(
        screen.contains("LAST SEEN") && screen.contains("REASON"),
        "{screen}"
    );
    let row = screen
        .lines()
        .position(|l| l.contains("NodeNotReady"))
        .unwrap();
    let first = screen
        .lines()
        .position(|l| l.contains("LAST SEEN"))
        .unwrap();
    for _ in first + 1..row {
        tui.send("j");
    }
    tui.send("o");
    let screen = tui.wait_for(" 1 node ");
    assert!(
        screen.contains("NotReady"),
        "the node of the event: {screen}"
    );

    tui.send(":");
    tui.type_text("alerts globex");
    tui.send("\r");
    tui.wait_for("FalcoRuntimeEvent");
    tui.send("/");
    tui.type_text("Falco");
    tui.send("\r");
    tui.wait_until("the falco alert alone", |s| !s.contains("EndpointDown"));
    tui.send("j");
    tui.send("O");
    let screen = tui.wait_for("╭ Pods globex · wc");
    let rows = pod_rows(&screen);
    assert_eq!(rows.len(), 1, "the pod the alert names: {screen}");
    assert!(rows[0].contains("legacy-admi"), "{screen}");
    tui.send("q");
    assert_eq!(tui.wait_exit(), 0);
    tui.assert_restored();
}
