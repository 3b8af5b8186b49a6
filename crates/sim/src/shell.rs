//! The small shell of a simulated container, for `kubectl exec`: enough of busybox `sh`
//! to look around a pod (`ls`, `cat` of a few files, `env`, `ps`, `cd`, `echo`,
//! `hostname`, `id`, `uname`, `date`, `exit`), with `;`, `&&` and `||`, and `sh -c`.
//! The files are made from the pod: its hostname, hosts, resolver, namespace and
//! environment. Nothing in it is a secret: the service account token cannot be read.

use serde_json::Value;

/// What a command line did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub output: String,
    pub code: i32,
    /// `exit`, or `exec` of something that ends the session.
    pub exit: bool,
    /// `exec sh`: the script hands over to an interactive shell.
    pub interactive: bool,
}

/// One container's shell: where it is and what it knows of its pod.
#[derive(Debug, Clone)]
pub struct Shell {
    pod: Value,
    container: String,
    cwd: String,
    /// The code of the last command (`$?`).
    last: i32,
    /// How many `sh -c` deep it is.
    depth: usize,
}

/// Nested `sh -c` it runs, at most.
const MAX_DEPTH: usize = 16;

const DIRS: &[(&str, &[&str])] = &[
    (
        "/",
        &[
            "bin", "dev", "etc", "home", "proc", "root", "sys", "tmp", "usr", "var",
        ],
    ),
    (
        "/etc",
        &["hostname", "hosts", "os-release", "passwd", "resolv.conf"],
    ),
    (
        "/bin",
        &["cat", "date", "echo", "hostname", "ls", "ps", "sh"],
    ),
    ("/var", &["run"]),
    ("/var/run", &["secrets"]),
    ("/var/run/secrets", &["kubernetes.io"]),
    ("/var/run/secrets/kubernetes.io", &["serviceaccount"]),
    (
        "/var/run/secrets/kubernetes.io/serviceaccount",
        &["ca.crt", "namespace", "token"],
    ),
    ("/home", &[]),
    ("/root", &[]),
    ("/tmp", &[]),
    ("/dev", &["null", "stderr", "stdin", "stdout", "tty"]),
    ("/proc", &["1", "cpuinfo", "meminfo", "self"]),
    ("/sys", &["fs", "kernel"]),
    ("/usr", &["bin", "lib", "local", "share"]),
];

/// The commands it has, where `command -v` finds them.
const COMMANDS: &[&str] = &[
    "cat", "cd", "command", "date", "echo", "env", "exec", "exit", "false", "hostname", "id", "ls",
    "ps", "pwd", "sh", "true", "uname", "whoami",
];

impl Shell {
    pub fn new(pod: &Value, container: &str) -> Shell {
        Shell {
            pod: pod.clone(),
            container: container.to_owned(),
            cwd: "/".to_owned(),
            last: 0,
            depth: 0,
        }
    }

    /// busybox's prompt for root: the directory and `#`.
    pub fn prompt(&self) -> String {
        format!("{} # ", self.cwd)
    }

    fn name(&self) -> &str {
        self.pod["metadata"]["name"].as_str().unwrap_or("pod")
    }

    fn namespace(&self) -> &str {
        self.pod["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
    }

    fn container_spec(&self) -> &Value {
        self.pod["spec"]["containers"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["name"] == self.container.as_str()))
            .unwrap_or(&Value::Null)
    }

    /// Runs one command line: `;`, `&&` and `||` between simple commands.
    pub fn run(&mut self, line: &str) -> Outcome {
        let mut out = Outcome {
            output: String::new(),
            code: self.last,
            exit: false,
            interactive: false,
        };
        for (op, command) in split_list(line) {
            // `a && b || c`: a skipped command leaves the status as it was.
            let skip = match op {
                Joint::Then => false,
                Joint::And => out.code != 0,
                Joint::Or => out.code == 0,
            };
            if skip || command.trim().is_empty() {
                continue;
            }
            let (argv, quiet) = words(&command);
            let mut one = self.simple(&argv);
            if quiet {
                one.output.clear();
            }
            out.output.push_str(&one.output);
            out.code = one.code;
            self.last = one.code;
            if one.exit || one.interactive {
                out.exit = one.exit;
                out.interactive = one.interactive;
                return out;
            }
        }
        out
    }

    fn simple(&mut self, argv: &[String]) -> Outcome {
        let done = |output: String, code: i32| Outcome {
            output,
            code,
            exit: false,
            interactive: false,
        };
        // `exec CMD` runs CMD in the shell's place: its end is the session's.
        let execs = argv.iter().take_while(|a| *a == "exec").count();
        let argv: Vec<&str> = argv[execs..].iter().map(String::as_str).collect();
        let Some((&cmd, args)) = argv.split_first() else {
            return done(String::new(), 0);
        };
        let mut one = match cmd {
            "true" | ":" => done(String::new(), 0),
            "false" => done(String::new(), 1),
            "echo" => done(format!("{}\n", args.join(" ")), 0),
            "pwd" => done(format!("{}\n", self.cwd), 0),
            "hostname" => done(format!("{}\n", self.name()), 0),
            "whoami" => done("root\n".into(), 0),
            "id" => done("uid=0(root) gid=0(root) groups=0(root)\n".into(), 0),
            "uname" if args.contains(&"-a") => done(
                format!("Linux {} 6.1.0-ck8s-sim #1 SMP x86_64 Linux\n", self.name()),
                0,
            ),
            "uname" => done("Linux\n".into(), 0),
            "date" => done(
                format!(
                    "{}\n",
                    chrono::Utc::now().format("%a %b %e %H:%M:%S UTC %Y")
                ),
                0,
            ),
            "env" => done(self.env(), 0),
            "ps" => done(self.ps(), 0),
            "ls" => self.ls(args),
            "cat" => self.cat(args),
            "cd" => self.cd(args.first().copied().unwrap_or("/root")),
            "command" if args.first() == Some(&"-v") => match args.get(1) {
                Some(c) if COMMANDS.contains(c) => done(format!("/bin/{c}\n"), 0),
                _ => done(String::new(), 1),
            },
            "exit" => Outcome {
                output: String::new(),
                // As with any shell, the exit status is the code's low eight bits.
                code: args
                    .first()
                    .and_then(|c| c.parse::<i64>().ok())
                    .map_or(self.last, |c| (c & 0xff) as i32),
                exit: true,
                interactive: false,
            },
            "sh" if args.is_empty() || args == ["-i"] => Outcome {
                output: String::new(),
                code: 0,
                exit: false,
                interactive: true,
            },
            "sh" if args.first() == Some(&"-c") && self.depth < MAX_DEPTH => {
                let script = args.get(1).copied().unwrap_or("");
                // Its `exit` ends that shell, not this one.
                self.depth += 1;
                let mut one = self.run(script);
                self.depth -= 1;
                one.exit = false;
                one
            }
            "sh" if args.first() == Some(&"-c") => done("sh: too many nested shells\n".into(), 2),
            other => done(format!("sh: {other}: not found\n"), 127),
        };
        if execs > 0 && !one.interactive {
            one.exit = true;
        }
        one
    }

    fn path(&self, arg: &str) -> String {
        let joined = if arg.starts_with('/') {
            arg.to_owned()
        } else {
            format!("{}/{arg}", self.cwd.trim_end_matches('/'))
        };
        let mut parts: Vec<&str> = Vec::new();
        for p in joined.split('/') {
            match p {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                p => parts.push(p),
            }
        }
        format!("/{}", parts.join("/"))
    }

    fn dir(path: &str) -> Option<&'static [&'static str]> {
        DIRS.iter().find(|(d, _)| *d == path).map(|(_, e)| *e)
    }

    fn cd(&mut self, arg: &str) -> Outcome {
        let path = self.path(arg);
        match Shell::dir(&path) {
            Some(_) => {
                self.cwd = path;
                Outcome {
                    output: String::new(),
                    code: 0,
                    exit: false,
                    interactive: false,
                }
            }
            None => Outcome {
                output: format!("sh: cd: can't cd to {arg}: No such file or directory\n"),
                code: 2,
                exit: false,
                interactive: false,
            },
        }
    }

    fn ls(&self, args: &[&str]) -> Outcome {
        let targets: Vec<&str> = args
            .iter()
            .copied()
            .filter(|a| !a.starts_with('-'))
            .collect();
        let targets = if targets.is_empty() {
            vec!["."]
        } else {
            targets
        };
        let mut output = String::new();
        let mut code = 0;
        for t in &targets {
            let path = self.path(t);
            match Shell::dir(&path) {
                Some(entries) => {
                    if targets.len() > 1 {
                        output.push_str(&format!("{t}:\n"));
                    }
                    if !entries.is_empty() {
                        output.push_str(&entries.join("  "));
                        output.push('\n');
                    }
                }
                None if self.file(&path).is_some() => output.push_str(&format!("{t}\n")),
                None => {
                    output.push_str(&format!("ls: {t}: No such file or directory\n"));
                    code = 1;
                }
            }
        }
        Outcome {
            output,
            code,
            exit: false,
            interactive: false,
        }
    }

    fn cat(&self, args: &[&str]) -> Outcome {
        let mut output = String::new();
        let mut code = 0;
        for a in args {
            let path = self.path(a);
            match self.file(&path) {
                Some(Ok(text)) => output.push_str(&text),
                Some(Err(why)) => {
                    output.push_str(&format!("cat: can't open '{a}': {why}\n"));
                    code = 1;
                }
                None if Shell::dir(&path).is_some() => {
                    output.push_str("cat: read error: Is a directory\n");
                    code = 1;
                }
                None => {
                    output.push_str(&format!(
                        "cat: can't open '{a}': No such file or directory\n"
                    ));
                    code = 1;
                }
            }
        }
        Outcome {
            output,
            code,
            exit: false,
            interactive: false,
        }
    }

    /// A file's text, or why it cannot be read; `None` when there is no such file.
    fn file(&self, path: &str) -> Option<Result<String, &'static str>> {
        let ip = self.pod["status"]["podIP"].as_str().unwrap_or("10.244.0.2");
        let ns = self.namespace();
        Some(Ok(match path {
            "/etc/hostname" => format!("{}\n", self.name()),
            "/etc/hosts" => format!(
                "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n{ip}\t{}\n",
                self.name()
            ),
            "/etc/resolv.conf" => format!(
                "search {ns}.svc.cluster.local svc.cluster.local cluster.local\nnameserver \
                 10.96.0.10\noptions ndots:5\n"
            ),
            "/etc/os-release" => "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\n\
                                  PRETTY_NAME=\"Alpine Linux v3.20\"\n"
                .to_owned(),
            "/etc/passwd" => {
                "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n"
                    .to_owned()
            }
            "/var/run/secrets/kubernetes.io/serviceaccount/namespace" => ns.to_owned(),
            "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt" => {
                "-----BEGIN CERTIFICATE-----\n(the cluster's CA)\n-----END CERTIFICATE-----\n"
                    .to_owned()
            }
            "/var/run/secrets/kubernetes.io/serviceaccount/token" => {
                return Some(Err("Permission denied"));
            }
            _ => return None,
        }))
    }

    fn env(&self) -> String {
        let mut vars = vec![
            (
                "PATH".to_owned(),
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
            ),
            ("HOSTNAME".to_owned(), self.name().to_owned()),
            ("HOME".to_owned(), "/root".to_owned()),
            ("KUBERNETES_SERVICE_HOST".to_owned(), "10.96.0.1".to_owned()),
            ("KUBERNETES_SERVICE_PORT".to_owned(), "443".to_owned()),
        ];
        for e in self.container_spec()["env"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let name = e["name"].as_str().unwrap_or_default().to_owned();
            // A value from a Secret or ConfigMap is resolved by the kubelet; the
            // simulator shows no values it does not have.
            let value = e["value"].as_str().unwrap_or_default().to_owned();
            vars.push((name, value));
        }
        vars.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
    }

    fn ps(&self) -> String {
        let spec = self.container_spec();
        let main = spec["command"]
            .as_array()
            .or(spec["args"].as_array())
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| {
                let image = spec["image"].as_str().unwrap_or(&self.container);
                let base = image.rsplit('/').next().unwrap_or(image);
                base.split(':').next().unwrap_or(base).to_owned()
            });
        format!(
            "PID   USER     TIME  COMMAND\n    1 root      0:00 {main}\n   27 root      0:00 sh\n   \
             34 root      0:00 ps\n"
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Joint {
    Then,
    And,
    Or,
}

/// A command line split at `;`, `&&` and `||` outside quotes.
fn split_list(line: &str) -> Vec<(Joint, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut joint = Joint::Then;
    let mut quote: Option<char> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                current.push(c);
            }
            (Some(_), c) => current.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                current.push(c);
            }
            (None, ';') => {
                out.push((joint, std::mem::take(&mut current)));
                joint = Joint::Then;
            }
            (None, '&') if chars.peek() == Some(&'&') => {
                chars.next();
                out.push((joint, std::mem::take(&mut current)));
                joint = Joint::And;
            }
            (None, '|') if chars.peek() == Some(&'|') => {
                chars.next();
                out.push((joint, std::mem::take(&mut current)));
                joint = Joint::Or;
            }
            (None, c) => current.push(c),
        }
    }
    out.push((joint, current));
    out
}

/// The words of a simple command, quotes removed, and whether its output goes
/// elsewhere. Redirections (`>/dev/null`, `2> file`), which a script here only uses to
/// keep quiet, are taken out of the words; a quoted `>` is a word.
fn words(command: &str) -> (Vec<String>, bool) {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut quote: Option<char> = None;
    let mut skip_next = false;
    let mut quiet = false;
    let mut end = |word: &mut String, quoted: bool, out: &mut Vec<String>| {
        let w = std::mem::take(word);
        let redirect = !quoted && (w.starts_with('>') || w.starts_with("2>"));
        quiet |= !quoted && (w.starts_with('>') || w.starts_with("1>"));
        if skip_next {
            skip_next = false;
        } else if redirect {
            // `>` alone takes the next word as its file.
            skip_next = w == ">" || w == "2>";
        } else {
            out.push(w);
        }
    };
    for c in command.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                quoted = true;
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    end(&mut word, quoted, &mut out);
                    in_word = false;
                    quoted = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        end(&mut word, quoted, &mut out);
    }
    (out, quiet)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shell() -> Shell {
        let pod = json!({
            "metadata": {"name": "web-1", "namespace": "shop"},
            "spec": {"containers": [{"name": "web", "image": "registry.example/shop/web:1.2",
                "env": [{"name": "MODE", "value": "fast"}, {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}]}]},
            "status": {"podIP": "10.244.1.7"}
        });
        Shell::new(&pod, "web")
    }

    #[test]
    fn the_consoles_shell_script_becomes_an_interactive_sh() {
        let mut sh = shell();
        let out = sh.run("command -v bash >/dev/null && exec bash || exec sh");
        assert!(out.interactive && !out.exit, "{out:?}");
        assert_eq!(out.output, "");
    }

    #[test]
    fn commands_look_around_the_pod() {
        let mut sh = shell();
        assert_eq!(sh.run("hostname").output, "web-1\n");
        assert_eq!(sh.run("cat /etc/hostname").output, "web-1\n");
        assert!(
            sh.run("cat /etc/hosts")
                .output
                .contains("10.244.1.7\tweb-1")
        );
        assert!(
            sh.run("cat /etc/resolv.conf")
                .output
                .contains("search shop.svc.cluster.local")
        );
        assert_eq!(
            sh.run("cat /var/run/secrets/kubernetes.io/serviceaccount/namespace")
                .output,
            "shop"
        );
        let token = sh.run("cat /var/run/secrets/kubernetes.io/serviceaccount/token");
        assert_eq!(token.code, 1);
        assert!(token.output.contains("Permission denied"));
        let env = sh.run("env").output;
        assert!(
            env.contains("MODE=fast\n") && env.contains("HOSTNAME=web-1\n"),
            "{env}"
        );
        assert!(
            env.contains("DB_PASSWORD=\n"),
            "no value it does not have: {env}"
        );
        assert!(sh.run("ps").output.contains("    1 root      0:00 web\n"));
        assert!(sh.run("ls /").output.starts_with("bin  dev  etc"));
        assert_eq!(sh.run("cd /etc && pwd").output, "/etc\n");
        assert_eq!(sh.prompt(), "/etc # ");
        assert_eq!(
            sh.run("cat hostname").output,
            "web-1\n",
            "relative to the directory"
        );
        assert_eq!(sh.run("cd ..; pwd").output, "/\n");
        let missing = sh.run("bash");
        assert_eq!(
            (missing.output.as_str(), missing.code),
            ("sh: bash: not found\n", 127)
        );
        assert_eq!(sh.run("false || echo 'a  b'").output, "a  b\n");
        assert_eq!(sh.run("false && echo no; echo yes").output, "yes\n");
        assert_eq!(sh.run("sh -c 'echo inner; exit 3'").code, 3);
        assert_eq!(sh.run("echo '>x' > /dev/null").output, "");
        assert_eq!(sh.run("echo '>x'").output, ">x\n", "a quoted > is a word");
        assert_eq!(sh.run("exit 256").code, 0, "eight bits");
        assert_eq!(sh.clone().run("exit -1").code, 255);
        let deep = "exec ".repeat(50_000) + "true";
        assert!(
            sh.clone().run(&deep).exit,
            "exec after exec, without recursion"
        );
        let mut deepest = sh.clone();
        deepest.depth = MAX_DEPTH;
        assert_eq!(deepest.run("sh -c true").code, 2, "nesting has a bound");
        let exit = sh.run("exit 4");
        assert!(exit.exit);
        assert_eq!(exit.code, 4);
    }
}
