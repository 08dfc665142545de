//! `hh tail` against a real `hh serve`: a line per committed event that
//! matches its filter, plain text when stdout is not a terminal.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{ServerProcess, TEST_KEY};

/// How long the test waits for a line it expects: generous, the machine is shared.
const EVENTUALLY: Duration = Duration::from_secs(60);

/// Each line `from` writes, over a channel.
fn lines(from: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

fn post_event(server: &ServerProcess, event: Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    agent
        .post(format!("{}/events", server.base_url()))
        .header("Authorization", format!("Bearer {TEST_KEY}"))
        .send_json(json!({ "event": event }))
        .expect("POST /events");
}

/// Kills the `hh tail` child when the test ends, however it ends.
struct Tail(Child);

impl Drop for Tail {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn hh_tail_prints_a_line_for_each_ingested_event_its_filter_keeps() {
    let dir = tempfile::tempdir().expect("data dir");
    let server = ServerProcess::start(dir.path(), "tail-project");
    let mut tail = Tail(
        Command::new(env!("CARGO_BIN_EXE_hh"))
            .args(["tail", "--filter", "event_type=model"])
            .args(["--server", &server.base_url(), "--api-key", TEST_KEY])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn hh tail"),
    );
    let stdout = lines(tail.0.stdout.take().expect("stdout"));
    let stderr = lines(tail.0.stderr.take().expect("stderr"));
    let following = stderr.recv_timeout(EVENTUALLY).expect("hh tail starts");
    assert!(following.contains("following"), "{following}");

    post_event(
        &server,
        json!({"event_type": "tool", "event_name": "lookup", "session_id": "tail-session"}),
    );
    post_event(
        &server,
        json!({
            "event_type": "model", "event_name": "chat-completion", "session_id": "tail-session",
            "duration": 812, "error": "rate limited",
            "metadata": {"total_tokens": 120, "cost": 0.002},
        }),
    );
    let line = stdout
        .recv_timeout(EVENTUALLY)
        .expect("a line for the event");
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        words[1..],
        [
            "model",
            "chat-completion",
            "812ms",
            "120",
            "tok",
            "$0.0020",
            "✗",
            "rate",
            "limited"
        ],
        "{line}"
    );
    assert!(!line.contains('\u{1b}'), "no colours into a pipe: {line:?}");
}
