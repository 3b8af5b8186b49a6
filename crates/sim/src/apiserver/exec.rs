//! `pods/exec` as kubectl reaches it by default: a WebSocket upgrade with the
//! `v5.channel.k8s.io` subprotocol (`v4` too), each binary frame's first byte naming its
//! channel (0 stdin, 1 stdout, 2 stderr, 3 the exit status, 4 terminal size, 255 the
//! client closing stdin). The shell writes all it says to stdout, as a terminal shows
//! both streams as one. Behind it, the container's small shell ([`crate::shell`]):
//! one command, or with `-it` an interactive prompt whose line editing (echo, Backspace,
//! Ctrl-C, Ctrl-D) the simulated terminal does, as a real pty would.
//!
//! `pods/attach` and `pods/portforward` are served as a kubelet that does not support
//! them answers: the upgrade is refused with a 400 that says so.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::cluster::ClusterSim;
use crate::registry::ids;
use crate::shell::{Outcome, Shell};
use crate::status::ApiError;

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const ERROR: u8 = 3;
const CLOSE: u8 = 255;
/// The longest line the terminal keeps; more is not taken.
const MAX_LINE: usize = 4096;

/// What kubectl asked for, from the query.
#[derive(Debug, Default)]
struct Options {
    command: Vec<String>,
    container: Option<String>,
    stdin: bool,
    tty: bool,
}

impl Options {
    /// The query as the apiserver reads it: `command` repeated, booleans as words.
    fn parse(query: &str) -> Options {
        let mut o = Options::default();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            let yes = v != "0" && !v.eq_ignore_ascii_case("false");
            match k.as_ref() {
                "command" => o.command.push(v.into_owned()),
                "container" => o.container = Some(v.into_owned()),
                "stdin" => o.stdin = yes,
                "tty" => o.tty = yes,
                _ => {}
            }
        }
        o
    }
}

/// `pods/exec` of pod `name` in `namespace`: checked, then upgraded to a WebSocket.
pub async fn serve(
    cluster: Arc<ClusterSim>,
    namespace: &str,
    name: &str,
    mut parts: Parts,
) -> Response {
    let opts = Options::parse(parts.uri.query().unwrap_or(""));
    let prepared = prepare(&cluster, namespace, name, &opts);
    let (pod, container) = match prepared {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let Ok(upgrade) = WebSocketUpgrade::from_request_parts(&mut parts, &()).await else {
        return ApiError::bad_request("Upgrade request required").into_response();
    };
    upgrade
        .protocols(["v5.channel.k8s.io", "v4.channel.k8s.io"])
        .on_upgrade(move |socket| session(socket, Shell::new(&pod, &container), opts))
}

/// What a kubelet without support for `what` answers.
pub fn unsupported(what: &str) -> Response {
    ApiError::bad_request(format!(
        "unable to upgrade connection: {what} is not supported by the simulated kubelet"
    ))
    .into_response()
}

/// The pod and container to run in, or the apiserver's answer why not.
fn prepare(
    cluster: &ClusterSim,
    namespace: &str,
    name: &str,
    opts: &Options,
) -> Result<(Value, String), ApiError> {
    let pod = cluster
        .store
        .get(*ids::PODS, namespace, name)
        .ok_or_else(|| ApiError::not_found("", "pods", name))?;
    if opts.command.is_empty() {
        return Err(ApiError::bad_request("you must specify at least 1 command"));
    }
    let phase = pod["status"]["phase"].as_str().unwrap_or("Pending");
    if matches!(phase, "Succeeded" | "Failed") {
        return Err(ApiError::bad_request(format!(
            "cannot exec into a container in a completed pod; current phase is {phase}"
        )));
    }
    let names: Vec<&str> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .collect();
    let container = match &opts.container {
        Some(c) if names.contains(&c.as_str()) => c.clone(),
        Some(c) => {
            return Err(ApiError::bad_request(format!(
                "container {c} is not valid for pod {name}"
            )));
        }
        None if names.len() == 1 => names[0].to_owned(),
        None => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                names.join(" ")
            )));
        }
    };
    let running = pod["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|s| s["name"] == container.as_str() && s["state"]["running"].is_object());
    if phase != "Running" || !running {
        return Err(ApiError::bad_request(format!(
            "unable to upgrade connection: container not found (\"{container}\")"
        )));
    }
    Ok((pod.as_ref().clone(), container))
}

/// One exec: the command, then (when it hands over to `sh` and stdin is open) the
/// prompt, until `exit`, Ctrl-D or the client goes.
async fn session(mut socket: WebSocket, mut shell: Shell, opts: Options) {
    let argv: Vec<String> = opts.command.clone();
    let script = argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ");
    let first = shell.run(&script);
    let mut term = Terminal::new(opts.tty);
    let _ = send(&mut socket, STDOUT, &term.out(&first.output)).await;
    let code = if first.interactive && opts.stdin {
        interact(&mut socket, &mut shell, &mut term).await
    } else {
        Some(first.code)
    };
    if let Some(code) = code {
        let _ = send(&mut socket, ERROR, &status(code, &argv)).await;
    }
    // A normal closure: without its code, kubectl takes the end for a broken stream.
    let normal = CloseFrame {
        code: axum::extract::ws::close_code::NORMAL,
        reason: "".into(),
    };
    let _ = socket.send(Message::Close(Some(normal))).await;
}

/// The interactive shell; the exit code, or `None` when the client went away.
async fn interact(socket: &mut WebSocket, shell: &mut Shell, term: &mut Terminal) -> Option<i32> {
    // A shell reading a script from a pipe prompts for nothing; at a terminal it does.
    let tty = term.tty;
    let prompt = |shell: &Shell| if tty { shell.prompt() } else { String::new() };
    send(socket, STDOUT, &prompt(shell)).await.ok()?;
    while let Some(Ok(message)) = socket.recv().await {
        let data = match message {
            Message::Binary(b) => b.to_vec(),
            Message::Text(t) => t.as_bytes().to_vec(),
            Message::Close(_) => return None,
            _ => continue,
        };
        let Some((&channel, input)) = data.split_first() else {
            continue;
        };
        match channel {
            STDIN => {}
            // The client closed stdin: the shell reads its end.
            CLOSE => return Some(0),
            _ => continue,
        }
        for event in term.feed(input) {
            let text = match event {
                Input::Echo(text) => text,
                Input::Line(line) => {
                    let Outcome {
                        output, code, exit, ..
                    } = shell.run(&line);
                    if exit {
                        send(socket, STDOUT, &term.out(&output)).await.ok()?;
                        return Some(code);
                    }
                    format!("{}{}", term.out(&output), prompt(shell))
                }
                Input::Interrupt if tty => format!("^C\r\n{}", prompt(shell)),
                Input::Interrupt => String::new(),
                Input::End => {
                    send(socket, STDOUT, if tty { "\r\n" } else { "" })
                        .await
                        .ok()?;
                    return Some(0);
                }
            };
            send(socket, STDOUT, &text).await.ok()?;
        }
    }
    None
}

async fn send(socket: &mut WebSocket, channel: u8, text: &str) -> Result<(), axum::Error> {
    if text.is_empty() && channel != ERROR {
        return Ok(());
    }
    let mut frame = Vec::with_capacity(text.len() + 1);
    frame.push(channel);
    frame.extend_from_slice(text.as_bytes());
    socket.send(Message::Binary(frame.into())).await
}

/// The exit status as the kubelet reports it on the error channel.
fn status(code: i32, argv: &[String]) -> String {
    if code == 0 {
        return json!({"metadata": {}, "status": "Success"}).to_string();
    }
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!(
            "command terminated with non-zero exit code: error executing command [{}], exit code {code}",
            argv.join(" ")
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
    })
    .to_string()
}

/// A word as the shell reads it back: quoted when it has spaces or quotes.
fn quote(word: &str) -> String {
    if !word.is_empty() && !word.contains(|c: char| c.is_whitespace() || "'\";&|<>".contains(c)) {
        return word.to_owned();
    }
    format!("'{}'", word.replace('\'', "'\"'\"'"))
}

/// What a keystroke does on the terminal.
#[derive(Debug, PartialEq, Eq)]
enum Input {
    /// What the terminal shows back as typed.
    Echo(String),
    /// A line entered.
    Line(String),
    Interrupt,
    /// Ctrl-D on an empty line.
    End,
}

/// The terminal's line discipline: with a tty it echoes and edits the line, as the
/// kernel's does in canonical mode; without, lines are read as they come.
struct Terminal {
    tty: bool,
    line: String,
    /// Inside an escape sequence (arrow keys), which is not taken.
    escape: u8,
}

impl Terminal {
    fn new(tty: bool) -> Terminal {
        Terminal {
            tty,
            line: String::new(),
            escape: 0,
        }
    }

    /// Output as the terminal shows it: with a tty, each newline a carriage return too.
    fn out(&self, text: &str) -> String {
        if self.tty {
            text.replace('\n', "\r\n")
        } else {
            text.to_owned()
        }
    }

    fn feed(&mut self, input: &[u8]) -> Vec<Input> {
        let mut events = Vec::new();
        let mut echo = String::new();
        let flush = |echo: &mut String, events: &mut Vec<Input>| {
            if !echo.is_empty() {
                events.push(Input::Echo(std::mem::take(echo)));
            }
        };
        for ch in String::from_utf8_lossy(input).chars() {
            if self.escape > 0 {
                // ESC [ then the final letter.
                self.escape = if ch == '[' || ch.is_ascii_digit() || ch == ';' {
                    2
                } else {
                    0
                };
                continue;
            }
            match ch {
                '\r' | '\n' => {
                    if self.tty {
                        echo.push_str("\r\n");
                    }
                    flush(&mut echo, &mut events);
                    events.push(Input::Line(std::mem::take(&mut self.line)));
                }
                '\u{7f}' | '\u{8}' => {
                    let erased = self.line.pop().is_some();
                    if erased && self.tty {
                        echo.push_str("\u{8} \u{8}");
                    }
                }
                '\u{3}' => {
                    flush(&mut echo, &mut events);
                    self.line.clear();
                    events.push(Input::Interrupt);
                }
                '\u{4}' if self.line.is_empty() => {
                    flush(&mut echo, &mut events);
                    events.push(Input::End);
                    return events;
                }
                '\u{15}' => {
                    if self.tty {
                        for _ in 0..self.line.chars().count() {
                            echo.push_str("\u{8} \u{8}");
                        }
                    }
                    self.line.clear();
                }
                '\u{1b}' => self.escape = 1,
                c if c.is_control() => {}
                c if self.line.len() < MAX_LINE => {
                    self.line.push(c);
                    if self.tty {
                        echo.push(c);
                    }
                }
                _ => {}
            }
        }
        flush(&mut echo, &mut events);
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_is_read_as_the_apiserver_reads_it() {
        let o = Options::parse(
            "command=sh&command=-c&command=echo%20hi%3B%20exit%203&container=web&stdin=true&stdout=true&tty=1",
        );
        assert_eq!(o.command, ["sh", "-c", "echo hi; exit 3"]);
        assert_eq!(o.container.as_deref(), Some("web"));
        assert!(o.stdin && o.tty);
        assert!(!Options::parse("stdin=false&tty=0").stdin);
    }

    #[test]
    fn argv_survives_the_trip_through_the_shell() {
        let mut sh = Shell::new(&json!({"metadata": {"name": "p"}}), "c");
        let echo = ["echo", ">x"].map(String::from);
        let script = echo.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ");
        assert_eq!(
            sh.run(&script).output,
            ">x\n",
            "an argument is never a redirection"
        );
        let argv = ["sh", "-c", "echo 'a b'; exit 3"].map(String::from);
        let script = argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ");
        let out = sh.run(&script);
        assert_eq!((out.output.as_str(), out.code), ("a b\n", 3));
        let failed: Value = serde_json::from_str(&status(3, &argv)).unwrap();
        assert_eq!(failed["details"]["causes"][0]["message"], "3");
        assert_eq!(failed["reason"], "NonZeroExitCode");
        let ok: Value = serde_json::from_str(&status(0, &argv)).unwrap();
        assert_eq!(ok["status"], "Success");
    }

    #[test]
    fn the_terminal_echoes_and_edits_the_line() {
        let mut t = Terminal::new(true);
        assert_eq!(t.feed(b"lx"), [Input::Echo("lx".into())]);
        assert_eq!(
            t.feed(b"\x7f"),
            [Input::Echo("\x08 \x08".into())],
            "Backspace takes it back"
        );
        assert_eq!(
            t.feed(b"s\r"),
            [Input::Echo("s\r\n".into()), Input::Line("ls".into())]
        );
        assert_eq!(
            t.feed(b"\x1b[Aab\x03"),
            [Input::Echo("ab".into()), Input::Interrupt]
        );
        assert_eq!(
            t.feed(b"\x04"),
            [Input::End],
            "Ctrl-D on an empty line ends it"
        );
        assert_eq!(t.out("a\nb\n"), "a\r\nb\r\n");
        let mut plain = Terminal::new(false);
        assert_eq!(
            plain.feed(b"ls\n"),
            [Input::Line("ls".into())],
            "no echo without a tty"
        );
        assert_eq!(t.feed(&vec![b'x'; MAX_LINE + 10]).len(), 1);
        assert_eq!(t.line.len(), MAX_LINE, "a line has a bound");
    }
}
