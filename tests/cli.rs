//! The command line as users and scripts meet it: help, `info` and where it looks for
//! files, broken configs refused with exit code 2, commands not built yet, completions.
//! Every run gets a temporary HOME and no inherited ck8s/XDG variables.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use clap::CommandFactory;
use serde_json::Value;

const KUBECONFIG: &str = "apiVersion: v1
kind: Config
clusters:
- name: acme
  cluster: {server: \"https://127.0.0.1:1\"}
users:
- name: acme
  user: {token: fixture}
contexts:
- name: acme-sc
  context: {cluster: acme, user: acme}
- name: acme-wc
  context: {cluster: acme, user: acme}
";

struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    /// A fresh HOME with the kubeconfig the config fixtures name (`~/.kube/acme.yaml`):
    /// its contexts exist, and nothing listens where they point.
    fn new() -> Home {
        let dir = tempfile::tempdir().expect("temp HOME");
        std::fs::create_dir(dir.path().join(".kube")).unwrap();
        std::fs::write(dir.path().join(".kube/acme.yaml"), KUBECONFIG).unwrap();
        Home { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The binary with only PATH and this HOME from the environment.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ck8s-console"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("ck8s-console runs")
    }

    fn info(&self, cmd: &mut Command) -> Value {
        let out = cmd.output().expect("ck8s-console runs");
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("info -o json prints JSON")
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn fixture(kind: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config")
        .join(kind)
        .join(name)
}

fn path(v: &Value) -> PathBuf {
    PathBuf::from(v.as_str().expect("a path string"))
}

/// One table of exit codes, the same in `--help` and the README.
#[test]
fn help_and_readme_give_the_same_exit_codes() {
    let table = ck8s_model::exit::TABLE;
    let help = text(&Home::new().run(&["--help"]).stdout);
    assert!(help.contains(table), "--help:\n{help}");
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    assert!(
        readme.contains(table),
        "the README's exit code table differs from:\n{table}"
    );
    for code in ["0", "1", "2", "3", "4", "130"] {
        assert!(
            table
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{code} "))),
            "{code} is in the table"
        );
    }
}

/// `ck8s-console man | man -l -` renders, with the exit codes in their own section, and
/// `man --dir` writes a page per command.
#[test]
fn man_pages_render() {
    use std::io::Write;
    let home = Home::new();
    let page = home.run(&["man"]);
    assert!(page.status.success(), "{}", text(&page.stderr));
    let mut man = Command::new("man")
        .args(["-l", "-"])
        .env("MANWIDTH", "100")
        .env("MANPAGER", "cat")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("man(1) is installed (Debian: apt install man-db)");
    man.stdin.take().unwrap().write_all(&page.stdout).unwrap();
    let shown = man.wait_with_output().unwrap();
    assert!(shown.status.success(), "{}", text(&shown.stderr));
    // Rendered text, bold and underline overstrikes taken out.
    let plain = strip_overstrike(&text(&shown.stdout));
    assert!(plain.contains("EXIT STATUS"), "{plain}");
    assert!(
        plain.contains("4    another run holds the cluster's lock (it is named); nothing changed"),
        "the table keeps its columns: {plain}"
    );
    assert!(plain.contains("ck8s-console-check(1)"), "{plain}");

    let dir = home.dir.path().join("man1");
    let out = home.run(&["man", "--dir", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for page in [
        "ck8s-console.1",
        "ck8s-console-check.1",
        "ck8s-console-runs-resume.1",
    ] {
        assert!(dir.join(page).is_file(), "{page}");
    }
}

/// `a\x08a` (bold) and `_\x08a` (underline) as `a`.
fn strip_overstrike(text: &str) -> String {
    let mut out: Vec<char> = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if chars.peek() == Some(&'\u{8}') {
            chars.next();
            continue;
        }
        out.push(c);
    }
    out.into_iter().collect()
}

/// Output that cannot be written (a full disk) fails the command rather than exit 0 with
/// nothing written; a reader that went away (`| head`) is not a failure.
#[test]
fn lost_output_is_a_failure() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let out = Home::new()
        .command(&["runs", "audit", "-o", "json"])
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("the output could not be written"),
        "{}",
        text(&out.stderr)
    );
}

/// Every command's `--help` ends with examples to copy.
#[test]
fn every_command_has_examples() {
    let home = Home::new();
    let cli = ck8s_console::cli::Cli::command();
    for sub in cli.get_subcommands().filter(|c| !c.is_hide_set()) {
        let name = sub.get_name();
        let help = text(&home.run(&[name, "--help"]).stdout);
        let examples = help
            .split_once("Examples:")
            .map(|(_, e)| e)
            .unwrap_or_else(|| panic!("`{name} --help` has no examples:\n{help}"));
        assert!(
            examples.contains(&format!("ck8s-console {name}")),
            "`{name}`'s examples use it:\n{examples}"
        );
    }
}

#[test]
fn help_lists_every_subcommand() {
    let out = Home::new().run(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    let cli = ck8s_console::cli::Cli::command();
    let names: Vec<&str> = cli
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| c.get_name())
        .collect();
    for name in [
        "demo",
        "sim",
        "status",
        "check",
        "pods",
        "alerts",
        "backups",
        "slo",
        "run",
        "runs",
        "info",
        "completions",
        "bench",
    ] {
        assert!(names.contains(&name), "{name} is a subcommand");
    }
    for name in names {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(name)),
            "`{name}` missing from --help:\n{help}"
        );
    }
}

#[test]
fn report_help_shows_the_report_flags() {
    let home = Home::new();
    let help = text(&home.run(&["pods", "--help"]).stdout);
    for flag in [
        "--env",
        "--cluster",
        "--output",
        "--timeout",
        "--namespace",
        "--status",
        "--selector",
        "--node",
        "--filter",
    ] {
        assert!(help.contains(flag), "pods --help lacks {flag}:\n{help}");
    }
    let help = text(&home.run(&["alerts", "--help"]).stdout);
    assert!(
        help.contains("--severity") && help.contains("--silenced"),
        "{help}"
    );
    assert!(
        !help.contains("--selector"),
        "pods' filters stay with pods:\n{help}"
    );
    assert!(text(&home.run(&["backups", "--help"]).stdout).contains("--problems"));
    let help = text(&home.run(&["slo", "--help"]).stdout);
    assert!(help.contains("--target") && help.contains("--at"), "{help}");
}

#[test]
fn info_prints_every_path_under_a_fresh_home() {
    let home = Home::new();
    let out = home.run(&["info"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    for label in [
        "config file",
        "state dir",
        "run journals",
        "audit log",
        "log file",
        "user themes",
        "config status",
    ] {
        assert!(
            table.lines().any(|l| l.starts_with(label)),
            "{label}:\n{table}"
        );
    }
    assert!(table.contains("not found"), "{table}");

    let json = home.info(&mut home.command(&["info", "-o", "json"]));
    let config = home.path().join(".config/ck8s-console");
    let state = home.path().join(".local/state/ck8s-console");
    assert_eq!(path(&json["config_file"]), config.join("fleet.toml"));
    assert_eq!(path(&json["config_dir"]), config);
    assert_eq!(path(&json["themes_dir"]), config.join("themes"));
    assert_eq!(path(&json["state_dir"]), state);
    assert_eq!(path(&json["runs_dir"]), state.join("runs"));
    assert_eq!(path(&json["audit_log"]), state.join("audit.jsonl"));
    assert_eq!(path(&json["log_dir"]), state.join("logs"));
    assert!(path(&json["log_file"]).starts_with(state.join("logs")));
    assert!(
        json["config_status"]
            .as_str()
            .unwrap()
            .starts_with("not found")
    );
    for key in [
        "config_file",
        "state_dir",
        "runs_dir",
        "audit_log",
        "themes_dir",
    ] {
        let p = path(&json[key]).display().to_string();
        assert!(table.contains(&p), "{key} {p}:\n{table}");
    }
}

#[test]
fn info_honours_xdg_variables() {
    let home = Home::new();
    let xdg_config = home.path().join("xdg-config");
    let xdg_state = home.path().join("xdg-state");
    let json = home.info(
        home.command(&["info", "-o", "json"])
            .env("XDG_CONFIG_HOME", &xdg_config)
            .env("XDG_STATE_HOME", &xdg_state),
    );
    assert_eq!(
        path(&json["config_file"]),
        xdg_config.join("ck8s-console/fleet.toml")
    );
    assert_eq!(path(&json["state_dir"]), xdg_state.join("ck8s-console"));
    // A relative XDG path is invalid per the spec and ignored.
    let json = home.info(
        home.command(&["info", "-o", "json"])
            .env("XDG_CONFIG_HOME", "relative/dir"),
    );
    assert_eq!(
        path(&json["config_file"]),
        home.path().join(".config/ck8s-console/fleet.toml")
    );
}

#[test]
fn info_honours_config_and_state_dir_flags_over_variables() {
    let home = Home::new();
    let valid = fixture("valid", "minimal.toml");
    let from_env = home.path().join("env-fleet.toml");
    let state_env = home.path().join("env-state");
    let state_flag = home.path().join("flag-state");

    let json = home.info(
        home.command(&["info", "-o", "json"])
            .env("CK8S_CONSOLE_CONFIG", &from_env)
            .env("CK8S_CONSOLE_STATE_DIR", &state_env),
    );
    assert_eq!(path(&json["config_file"]), from_env);
    assert_eq!(path(&json["state_dir"]), state_env);
    assert_eq!(path(&json["runs_dir"]), state_env.join("runs"));

    let flags = [
        "--config",
        valid.to_str().unwrap(),
        "--state-dir",
        state_flag.to_str().unwrap(),
        "info",
        "-o",
        "json",
    ];
    let json = home.info(
        home.command(&flags)
            .env("CK8S_CONSOLE_CONFIG", &from_env)
            .env("CK8S_CONSOLE_STATE_DIR", &state_env),
    );
    assert_eq!(path(&json["config_file"]), valid);
    assert_eq!(path(&json["state_dir"]), state_flag);
    assert_eq!(json["config_status"], "valid, 1 environment(s)");
}

#[test]
fn broken_configs_exit_2_naming_file_line_and_fix() {
    // Positions as counted in tests/config_errors.rs.
    let cases = [
        ("missing_wc.toml", "19:1", "is missing `wc`"),
        ("bad_url.toml", "15:14", "no http:// or https:// scheme"),
        ("unknown_key.toml", "9:1", "unknown key `prometeus`"),
        (
            "wrong_type.toml",
            "5:16",
            "must be a non-negative whole number",
        ),
        ("future_version.toml", "2:11", "format version 2"),
    ];
    let home = Home::new();
    for (name, position, problem) in cases {
        let file = fixture("invalid", name);
        let out = home.run(&["--config", file.to_str().unwrap(), "status"]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(
            err.contains(&format!("error: {}:{position}: ", file.display())),
            "{name}: {err}"
        );
        assert!(err.contains(problem), "{name}: {err}");
        assert!(err.contains("\n  help: "), "{name}: {err}");
        assert!(out.stdout.is_empty(), "{name}: nothing on stdout");
    }
    // Every report refuses before asking any cluster.
    let file = fixture("invalid", "bad_url.toml");
    for report in ["pods", "alerts", "backups", "slo"] {
        let out = home.run(&["--config", file.to_str().unwrap(), report]);
        assert_eq!(out.status.code(), Some(2), "{report}");
        assert!(text(&out.stderr).contains("bad_url.toml:15:14"), "{report}");
    }
}

#[test]
fn missing_config_exits_2_and_points_at_info() {
    let home = Home::new();
    let out = home.run(&["status"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("cannot read the fleet config"), "{err}");
    assert!(err.contains("ck8s-console info"), "{err}");
}

#[test]
fn workflows_not_built_yet_say_so_and_exit_2() {
    let home = Home::new();
    let valid = fixture("valid", "minimal.toml");
    for (workflow, says) in [
        ("provision", "not available yet"),
        ("upgrade", "not available yet"),
        ("reboot", "no workflow"),
    ] {
        let config = valid.to_str().unwrap();
        let args = [
            "--config",
            config,
            "run",
            workflow,
            "--env",
            "x",
            "--cluster",
            "wc",
        ];
        let out = home.run(&args);
        assert_eq!(out.status.code(), Some(2), "{workflow}");
        let err = text(&out.stderr);
        assert!(err.contains(says), "{workflow}: {err}");
        assert!(err.contains("scale, backup, drain, restore"), "{err}");
    }
}

#[test]
fn bad_report_flags_are_usage_errors() {
    let home = Home::new();
    let valid = fixture("valid", "minimal.toml");
    let config = valid.to_str().unwrap();
    // Each names the flag, the value and what is wrong with it.
    for (args, says) in [
        (
            vec!["status", "--timeout", "0s"],
            "the timeout must be longer than zero",
        ),
        (vec!["status", "--timeout", "soon"], "expected a number"),
        (
            vec!["status", "--cluster", "mc"],
            "[possible values: sc, wc]",
        ),
        // `app` alone is a valid selector (the label exists); these are not.
        (
            vec!["pods", "--selector", "app in dex"],
            "invalid label selector",
        ),
        (
            vec!["pods", "--selector", "=web"],
            "a label selector needs a key",
        ),
        (vec!["pods", "--filter", "~["], "invalid regex `[`"),
        (
            vec!["alerts", "--severity", "loud"],
            "[possible values: critical, high, warning, info, none]",
        ),
        (vec!["slo", "--at", "yesterday"], "write an RFC 3339 time"),
    ] {
        let mut all = vec!["--config", config];
        all.extend(&args);
        let out = home.run(&all);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        let (flag, value) = (args[1], args[2]);
        assert!(
            err.contains(&format!("invalid value '{value}' for '{flag}")) && err.contains(says),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn bad_console_flags_are_usage_errors_before_anything_starts() {
    let home = Home::new();
    let valid = fixture("valid", "minimal.toml");
    let config = valid.to_str().unwrap();
    let out = home.run(&["--config", config, "--env", "nope"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("no such environment"),
        "{}",
        text(&out.stderr)
    );
    let out = home.run(&["--config", config, "--theme", "neon"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("\"neon\" not found") && err.contains("high-contrast"),
        "{err}"
    );
}

/// The bash script completes: bash itself, asked as it asks when Tab is pressed, offers
/// the subcommands that match and the values of a flag.
/// What bash completes for the command line `words` (the word being completed last), with
/// the completion `script` sourced, in `bash`.
fn bash_complete(script: &Path, words: &str, bash: &mut Command) -> String {
    let line = format!(
        "source {}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
         COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}; \
         f=$(complete -p ck8s-console | sed -E 's/.*-F ([^ ]+).*/\\1/'); \
         $f ck8s-console \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
         echo \"${{COMPREPLY[*]}}\"",
        script.display()
    );
    let out = bash.args(["-c", &line]).output().expect("bash runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).trim().to_owned()
}

#[test]
fn completions_complete_in_bash() {
    let out = Home::new().run(&["completions", "bash"]);
    assert!(out.status.success());
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("ck8s-console.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    let complete = |words: &str| bash_complete(&script, words, &mut Command::new("bash"));
    assert_eq!(complete("ck8s-console st"), "status");
    let subs = complete("ck8s-console b");
    assert!(subs.split_whitespace().any(|w| w == "backups"), "{subs}");
    assert_eq!(complete("ck8s-console status --cluster ''"), "sc wc");
    let workflows = complete("ck8s-console run ''");
    for w in ["scale", "backup", "drain", "restore"] {
        assert!(
            workflows.split_whitespace().any(|x| x == w),
            "{w}: {workflows}"
        );
    }
}

/// With a fleet config, completion offers its environments; bash also offers the run ids
/// the state dir holds where a `runs` action takes one.
#[test]
fn completions_offer_environments_and_run_ids() {
    let home = Home::new();
    let config = home.path().join(".config/ck8s-console");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::copy(fixture("valid", "minimal.toml"), config.join("fleet.toml")).unwrap();
    let runs = home.path().join(".local/state/ck8s-console/runs");
    std::fs::create_dir_all(&runs).unwrap();
    let id = "20261207T120000Z-scale-acme-wc-abcd";
    std::fs::write(
        runs.join(format!("{id}.jsonl")),
        r#"{"ts":"2026-12-07T12:00:00Z","event":"started","workflow":"scale","env":"acme","cluster":"wc","params":{"workers":"4"},"actor":"a@b","steps":["a","b"]}"#
            .to_owned()
            + "\n",
    )
    .unwrap();
    let out = home.run(&["completions", "bash"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let script = home.path().join("ck8s-console.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_ck8s-console"))
        .parent()
        .unwrap();
    // The script asks `ck8s-console` itself for run ids: the one built here.
    let complete = |words: &str| {
        let mut bash = Command::new("bash");
        bash.env_clear()
            .env("HOME", home.path())
            .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()));
        bash_complete(&script, words, &mut bash)
    };
    assert_eq!(complete("ck8s-console status --env ''"), "acme");
    assert_eq!(complete("ck8s-console run scale --env ''"), "acme");
    assert_eq!(complete("ck8s-console --env ''"), "acme");
    assert_eq!(complete("ck8s-console runs show ''"), id);
    assert_eq!(complete("ck8s-console runs watch 2026"), id);
    // The other shells, run for real: fish completes a command line itself (`complete -C`);
    // zsh's completion needs a terminal, so its run id function is called directly with
    // `compadd` standing in, and the arguments are checked to use it.
    let shell = |name: &str, line: &str| {
        let out = home.run(&["completions", name]);
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        let file = home.path().join(format!("completions.{name}"));
        std::fs::write(&file, &out.stdout).unwrap();
        let run = Command::new(name)
            .args(["-c", &line.replace("SCRIPT", &file.display().to_string())])
            .env_clear()
            .env("HOME", home.path())
            .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
            .output()
            .unwrap_or_else(|e| panic!("{name} runs ({e}; Debian: apt install {name})"));
        assert!(run.status.success(), "{name}: {}", text(&run.stderr));
        (text(&out.stdout), text(&run.stdout).trim().to_owned())
    };
    // Candidates, without the descriptions fish puts after a tab.
    let fish = |words: &str| {
        let out = shell("fish", &format!("source SCRIPT; complete -C '{words}'")).1;
        let names: Vec<&str> = out.lines().map(|l| l.split('\t').next().unwrap()).collect();
        names.join(" ")
    };
    assert_eq!(fish("ck8s-console runs show "), id);
    assert_eq!(fish("ck8s-console runs watch 2026"), id);
    assert_eq!(fish("ck8s-console status --env "), "acme");
    let (zsh_script, ids) = shell(
        "zsh",
        "autoload -U compinit; compinit -u -D; source SCRIPT; \
         words=(ck8s-console runs show ''); \
         compadd() { [[ $1 == -a ]] && print -l -- ${(P)2} }; _ck8s_console_run_ids",
    );
    assert_eq!(ids, id);
    assert_eq!(
        zsh_script.matches("id:_ck8s_console_run_ids'").count(),
        4,
        "show, cancel, resume and watch take run ids"
    );
    assert!(zsh_script.contains("acme"), "zsh offers the environments");
}

/// Journals, the audit log and logs say who changed what for which customer: the state
/// dir is the user's alone, whatever the umask, and one left open is tightened.
#[test]
fn the_state_dir_and_its_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let home = Home::new();
    let state = home.path().join("state");
    std::fs::create_dir_all(state.join("runs")).unwrap();
    std::fs::write(state.join("audit.jsonl"), "").unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        state.join("audit.jsonl"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let out = home
        .command(&["--state-dir", state.to_str().unwrap(), "info"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&state), 0o700);
    assert_eq!(mode(&state.join("runs")), 0o700);
    assert_eq!(mode(&state.join("audit.jsonl")), 0o600);
    let logs: Vec<PathBuf> = std::fs::read_dir(state.join("logs"))
        .expect("the log dir was made")
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!logs.is_empty());
    assert_eq!(mode(&state.join("logs")), 0o700);
    for log in logs {
        assert_eq!(mode(&log), 0o600, "{}", log.display());
    }
}

/// A token on the command line is visible to every user of the host (`ps`); the
/// simulator takes its metrics token from the environment too.
#[test]
fn the_simulators_metrics_token_comes_from_the_environment() {
    let home = Home::new();
    let sim = SimProcess::start(
        &home,
        "sim",
        &["--environments", "1"],
        &[("CK8S_CONSOLE_SIM_METRICS_TOKEN", "t0ken-from-env")],
    );
    let banner = sim.banner.clone();
    let out_dir = sim.out.clone();
    drop(sim);
    assert!(
        banner.contains("api https://127.0.0.1:"),
        "the API servers speak HTTPS:\n{banner}"
    );
    assert!(!banner.contains("api http://"), "{banner}");
    let written = std::fs::read_to_string(out_dir.join("fleet.toml")).unwrap();
    assert!(
        written.contains("prometheus_credential = \"sim-metrics\""),
        "the fleet config names the token's credential:\n{written}"
    );
    assert!(
        !written.contains("t0ken-from-env"),
        "the token is not written out"
    );
    let help = text(&home.run(&["sim", "--help"]).stdout);
    assert!(help.contains("CK8S_CONSOLE_SIM_METRICS_TOKEN"), "{help}");
}

/// A `sim` process of `home` with `args`, serving once its banner's last line is out;
/// killed when dropped.
struct SimProcess {
    child: std::process::Child,
    out: PathBuf,
    banner: String,
}

impl SimProcess {
    fn start(home: &Home, name: &str, args: &[&str], env: &[(&str, &str)]) -> SimProcess {
        let out = home.path().join(name);
        let mut all = vec!["sim", "--out", out.to_str().unwrap()];
        all.extend(args);
        let mut child = home
            .command(&all)
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        use std::io::BufRead;
        let stdout = child.stdout.take().unwrap();
        let mut banner = Vec::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let done = line.starts_with("fleet config:");
            banner.push(line);
            if done {
                break;
            }
        }
        SimProcess {
            child,
            out,
            banner: banner.join("\n"),
        }
    }

    fn kubectl(&self, args: &[&str]) -> String {
        let out = std::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.out.join("kubeconfig"))
            .args(args)
            .env("KUBECACHEDIR", self.out.join("kube-cache"))
            .output()
            .expect("kubectl runs (scripts/setup-test-deps installs it)");
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// The first `http://` address the banner gives for `what` (prometheus, alertmanager).
    fn url(&self, what: &str) -> String {
        let at = self.banner.find(&format!("{what} http://")).expect(what);
        let rest = &self.banner[at + what.len() + 1..];
        rest.split_whitespace().next().unwrap().to_owned()
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `sim`'s flags as the README gives them: the kubeconfig is private (0600), the same
/// `--seed` builds the same fleet (names and uids) and another seed another, `--pods-per-cluster` fills
/// the workload cluster to that count, and `--metrics-token` puts Prometheus and
/// Alertmanager behind that token.
#[test]
fn the_simulators_flags_shape_its_fleet() {
    use std::os::unix::fs::PermissionsExt;
    let home = Home::new();
    // Names and uids of the nodes and of the Deployments' pods, as kubectl reads them.
    let names = |sim: &SimProcess| {
        let columns = "-o=custom-columns=NAME:.metadata.name,UID:.metadata.uid";
        let get = |what: &str| sim.kubectl(&["--context", "acme-wc", "get", what, "-A", columns]);
        format!("{}{}", get("nodes"), get("replicasets"))
    };
    let a = SimProcess::start(
        &home,
        "a",
        &[
            "--environments",
            "1",
            "--seed",
            "7",
            "--pods-per-cluster",
            "300",
            "--metrics-token",
            "t0k",
        ],
        &[],
    );
    let mode = std::fs::metadata(a.out.join("kubeconfig"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the kubeconfig holds admin tokens");
    let pods = a
        .kubectl(&["--context", "acme-wc", "get", "pods", "-A", "--no-headers"])
        .lines()
        .count();
    assert!((300..320).contains(&pods), "{pods} pods in the wc");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    ck8s_fleet::install_crypto_provider();
    let http = ck8s_fleet::sources::http_client().unwrap();
    for what in ["prometheus", "alertmanager"] {
        let url = format!(
            "{}/{}",
            a.url(what),
            if what == "prometheus" {
                "api/v1/query?query=up"
            } else {
                "api/v2/status"
            }
        );
        let status = |token: Option<&str>| {
            rt.block_on(async {
                let mut req = http.get(&url);
                if let Some(t) = token {
                    req = req.bearer_auth(t);
                }
                req.send().await.unwrap().status().as_u16()
            })
        };
        assert_eq!(status(None), 401, "{what} without the token");
        assert_eq!(status(Some("t0k")), 200, "{what} with it");
    }
    let first = names(&a);
    drop(a);
    let again = SimProcess::start(
        &home,
        "b",
        &[
            "--environments",
            "1",
            "--seed",
            "7",
            "--pods-per-cluster",
            "300",
        ],
        &[],
    );
    assert_eq!(names(&again), first, "the same seed, the same fleet");
    drop(again);
    let other = SimProcess::start(
        &home,
        "c",
        &[
            "--environments",
            "1",
            "--seed",
            "8",
            "--pods-per-cluster",
            "300",
        ],
        &[],
    );
    assert_ne!(names(&other), first, "another seed, other names");
    assert!(
        first.lines().count() > 10 && first.contains("-4"),
        "{first}"
    );
}

/// `completions bash | head -c 10` closes the pipe early: that is the reader's choice, not
/// a crash (it used to panic with exit 101).
#[test]
fn a_closed_pipe_is_not_a_panic() {
    let home = Home::new();
    for args in [&["completions", "bash"][..], &["info"][..]] {
        // A pipe whose reader is already gone: every write fails with EPIPE.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = home
            .command(args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    }
}

/// Without a terminal the console says what it needs and what to use instead, rather
/// than an OS error.
#[test]
fn the_console_without_a_terminal_points_at_the_headless_commands() {
    let home = Home::new();
    let valid = fixture("valid", "minimal.toml");
    let out = home.run(&["--config", valid.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("needs a terminal"), "{err}");
    assert!(err.contains("status, pods"), "{err}");
    assert!(!err.contains("os error"), "{err}");
}

/// `bench` (small) runs against its own simulated fleet and reports every figure with
/// its target and whether it was met, as the README's table does.
#[test]
fn bench_reports_every_figure_against_its_target() {
    let home = Home::new();
    let out = home.run(&["bench", "--pods", "1000", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert!(report["pods_synced"].as_u64().unwrap() > 500, "{report}");
    let met = report["met"].as_object().expect("a `met` object");
    let targets = report["targets"].as_object().expect("a `targets` object");
    for key in [
        "sync",
        "rss",
        "relist_peak",
        "events",
        "frame",
        "keystroke",
        "key_to_frame",
        "fault_frame",
    ] {
        assert!(met[key].is_boolean(), "{key}: {report}");
    }
    assert_eq!(met.len(), targets.len(), "a verdict per target: {report}");
    for figure in [
        "sync_seconds",
        "rss_after_sync_mib",
        "frame_p99_ms",
        "key_to_frame_p99_ms",
    ] {
        assert!(
            report[figure].as_f64().is_some_and(|v| v > 0.0),
            "{figure}: {report}"
        );
    }
}
