//! The live page in a real browser, driven over WebDriver (Debian's
//! `chromedriver` and headless Chromium, which `.ci/run` installs): an event
//! ingested while the page is open appears as a row without a reload, pause
//! holds rows back and resume shows them; a browser signed in with another
//! project's key (through the key form) sees none of the first project.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use crate::common::Harness;

/// Generous: the machine is shared. How fast rows appear is printed, not asserted.
const EVENTUALLY: Duration = Duration::from_secs(20);

/// A chromedriver process and one browser session in it (the GraphQL
/// explorer's browser test drives one too).
pub(crate) struct Driver {
    process: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self
            .agent
            .delete(&format!("{}/session/{}", self.base, self.session))
            .call();
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Driver {
    pub(crate) fn start() -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let program = std::env::var("HH_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let process = Command::new(&program)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {program} ({e}): install Debian's chromium-driver (as .ci/run \
                     does) or set HH_CHROMEDRIVER"
                )
            });
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + EVENTUALLY;
        while agent.get(&format!("{base}/status")).call().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let binary = std::env::var("HH_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": binary, "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--no-first-run", "--window-size=1400,1000"
            ]}
        }}});
        let mut answer = agent
            .post(&format!("{base}/session"))
            .send_json(&capabilities)
            .expect("new session");
        let created: Value = answer.body_mut().read_json().expect("json");
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {created}"))
            .to_string();
        Driver {
            process,
            base,
            session,
            agent,
        }
    }

    fn command(&self, path: &str, body: &Value) -> Value {
        let mut answer = self
            .agent
            .post(&format!("{}/session/{}/{path}", self.base, self.session))
            .send_json(body)
            .expect("webdriver command");
        let value: Value = answer.body_mut().read_json().expect("json");
        assert!(value["value"].get("error").is_none(), "{path}: {value}");
        value["value"].clone()
    }

    pub(crate) fn go(&self, url: &str) {
        self.command("url", &json!({"url": url}));
    }

    pub(crate) fn script(&self, source: &str) -> Value {
        self.command("execute/sync", &json!({"script": source, "args": []}))
    }

    pub(crate) fn wait_for(&self, what: &str, source: &str) -> Duration {
        let started = Instant::now();
        while self.script(source) != json!(true) {
            assert!(
                started.elapsed() < EVENTUALLY,
                "the page never showed {what}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        started.elapsed()
    }

    pub(crate) fn screenshot(&self, name: &str) {
        let mut answer = self
            .agent
            .get(&format!(
                "{}/session/{}/screenshot",
                self.base, self.session
            ))
            .call()
            .expect("screenshot");
        let value: Value = answer.body_mut().read_json().expect("json");
        let png = base64::engine::general_purpose::STANDARD
            .decode(value["value"].as_str().expect("base64 png"))
            .expect("a png");
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/ui-screenshots");
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join(name), png).expect("write screenshot");
    }
}

fn post_event(h: &Harness, name: &str) {
    let answer = h.post_json(
        "/events",
        &json!({"event": {"event_type": "tool", "event_name": name, "duration": 12.0,
            "inputs": {"q": "<b>not bold</b>"}}}),
    );
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
}

fn has_row(name: &str) -> String {
    format!(
        "return Array.from(document.querySelectorAll('#live tbody td.name')).some(td => td.textContent === {})",
        json!(name)
    )
}

#[test]
fn the_live_page_shows_new_events_without_a_reload_and_pauses() {
    let h = Harness::start();
    let driver = Driver::start();
    driver.go(&h.server().server().sign_in_link().expect("a bootstrap key"));
    driver.go(&h.url("/ui/live"));
    driver.wait_for(
        "the stream open",
        "return document.getElementById('live').dataset.state === 'open'",
    );
    driver.script("window.sameDocument = 'still here'; return true");

    let shown = Instant::now();
    post_event(&h, "<i>first live event</i>");
    driver.wait_for("the first event", &has_row("<i>first live event</i>"));
    let latency = shown.elapsed();
    eprintln!("ingest acknowledged → row on the live page: {latency:?} (target ≤ 1 s)");
    assert_eq!(
        driver.script("return window.sameDocument"),
        json!("still here"),
        "no reload"
    );
    assert_eq!(
        driver.script("return document.querySelectorAll('#live tbody i').length"),
        json!(0),
        "the name is text, not markup"
    );

    driver.script("document.getElementById('pause').click(); return true");
    post_event(&h, "held while paused");
    driver.wait_for(
        "the event held",
        "return Number(document.getElementById('live').dataset.held) >= 1",
    );
    assert_eq!(
        driver.script(&has_row("held while paused")),
        json!(false),
        "paused"
    );
    driver.script("document.getElementById('pause').click(); return true");
    driver.wait_for("the held event after resume", &has_row("held while paused"));
    driver.screenshot("live.png");
}

#[test]
fn a_browser_signed_in_with_another_projects_key_sees_none_of_the_first_projects_sessions() {
    let h = Harness::start();
    let first = h.post_json(
        "/session/start",
        &json!({"session": {"session_name": "first project's secret plan", "source": "browser"}}),
    );
    assert_eq!(first.status, 200);
    let other_key = h.server().create_project_key("other-project");
    let theirs = h.post_json_as(
        &other_key,
        "/session/start",
        &json!({"session": {"session_name": "other project's own session", "source": "browser"}}),
    );
    assert_eq!(theirs.status, 200);

    let driver = Driver::start();
    driver.go(&h.url("/login"));
    driver.script(&format!(
        "document.getElementById('api_key').value = {}; \
         document.getElementById('api_key').form.submit(); return true",
        json!(other_key)
    ));
    driver.wait_for(
        "the sessions page after signing in",
        "return location.pathname === '/ui/sessions'",
    );
    driver.screenshot("other-project-sessions.png");
    let text = driver.script("return document.body.textContent");
    let text = text.as_str().expect("text");
    assert!(text.contains("other project's own session"), "{text}");
    assert!(
        text.contains("other-project"),
        "the project is named: {text}"
    );
    assert!(!text.contains("first project"), "{text}");
    driver.go(&h.url("/ui/events"));
    let events = driver.script("return document.body.textContent");
    assert!(!events.as_str().expect("text").contains("first project"));
}
