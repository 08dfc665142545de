//! The dashboard in a real browser (Debian's headless Chromium, which
//! `.ci/run` installs): the one-time link signs in and the cookie carries the
//! next pages, the session page renders its tree and conversation, the
//! compare page a metric delta, the monitoring page its charts, and a
//! script hidden in user content neither shows as markup nor runs. Each page
//! is saved as a screenshot under `target/ui-screenshots/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use crate::common::Harness;

/// The browser: `HH_CHROMIUM`, or `chromium` on the PATH.
fn chromium() -> String {
    std::env::var("HH_CHROMIUM").unwrap_or_else(|_| "chromium".to_string())
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/ui-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

/// One headless browser run in `profile` (which keeps its cookies between
/// runs): loads `url`, then saves a screenshot as `shot` or prints the DOM.
fn browse(profile: &Path, url: &str, shot: Option<&str>) -> String {
    let mut command = Command::new(chromium());
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--no-first-run",
        "--window-size=1400,1000",
    ]);
    command.arg(format!("--user-data-dir={}", profile.display()));
    match shot {
        Some(name) => command.arg(format!(
            "--screenshot={}",
            screenshots().join(name).display()
        )),
        None => command.arg("--dump-dom"),
    };
    let output = command.arg(url).output().unwrap_or_else(|e| {
        panic!(
            "cannot start {} ({e}): install Debian's chromium (`apt-get install chromium`, as \
             .ci/run does) or set HH_CHROMIUM",
            chromium()
        )
    });
    assert!(
        output.status.success(),
        "chromium failed on {url}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn a_browser_signs_in_with_the_link_and_reads_the_session_and_its_chat() {
    let h = Harness::start();
    let key = h.key();
    let started = h.post_json_as(
        &key,
        "/session/start",
        &json!({"session": {"session_name": "travel agent", "source": "browser-test"}}),
    );
    let session_id = started.json()["session_id"]
        .as_str()
        .expect("id")
        .to_string();
    let event = h.post_json_as(
        &key,
        "/events",
        &json!({"event": {
            "session_id": session_id, "event_type": "model", "event_name": "plan the trip",
            "config": {"model": "gpt-4o", "provider": "openai"},
            "inputs": {"chat_history": [{"role": "user", "content": "Three days in Lisbon?"}]},
            "outputs": {"role": "assistant", "content": "Day one: Alfama."},
            "metadata": {"prompt_tokens": 40, "completion_tokens": 12},
            "duration": 850.0
        }}),
    );
    let event_id = event.json()["event_id"].as_str().expect("id").to_string();
    let payload = "<img src=x onerror=\"document.title='pwned'\">";
    h.post_json_as(
        &key,
        "/session/start",
        &json!({"session": {"session_name": payload, "source": "browser-test"}}),
    );

    let profile = tempfile::tempdir().expect("browser profile");
    let link = h.server().server().sign_in_link().expect("a bootstrap key");
    browse(profile.path(), &link, None);
    browse(profile.path(), &h.url("/ui/sessions"), Some("sessions.png"));

    let sessions = browse(profile.path(), &h.url("/ui/sessions"), None);
    assert!(
        sessions.contains("travel agent"),
        "signed in by the link: {sessions}"
    );
    assert!(
        sessions.contains("&lt;img src=x"),
        "the payload shows as text: {sessions}"
    );
    assert!(!sessions.contains("<img"), "no image element: {sessions}");
    assert!(
        sessions.contains("<title>Sessions · honeyhive-rs</title>"),
        "the payload's handler never ran (it would retitle the page): {sessions}"
    );

    let page = h.url(&format!("/ui/sessions/{session_id}?event={event_id}"));
    browse(profile.path(), &page, Some("session.png"));
    let session = browse(profile.path(), &page, None);
    for shown in [
        "plan the trip",
        "gpt-4o",
        "Three days in Lisbon?",
        "Day one: Alfama.",
        "850 ms",
    ] {
        assert!(session.contains(shown), "{shown} in the browser: {session}");
    }
    assert!(session.contains("<svg"), "the waterfall is drawn");

    let (old_id, new_id) = (
        "22222222-2222-4222-8222-222222222222",
        "33333333-3333-4333-8333-333333333333",
    );
    crate::api_experiments::replay_evaluate(&h, old_id, Some([0.0, 0.0, 1.0]));
    crate::api_experiments::replay_evaluate(&h, new_id, Some([1.0, 1.0, 1.0]));
    let compare = h.url(&format!("/ui/runs/{new_id}/compare?with={old_id}"));
    browse(profile.path(), &compare, Some("compare.png"));
    let compared = browse(profile.path(), &compare, None);
    assert!(
        compared.contains("+0.667") && compared.contains("2 improved"),
        "{compared}"
    );

    let monitoring = h.url("/ui/monitoring?range=1h&group_by=model");
    browse(profile.path(), &monitoring, Some("monitoring.png"));
    let charted = browse(profile.path(), &monitoring, None);
    assert!(
        charted.contains("Latency p95") && charted.contains("gpt-4o"),
        "{charted}"
    );
    assert!(
        charted.contains("path class=\"series s0\""),
        "a line is drawn: {charted}"
    );

    // Signed out (a fresh profile), the browser lands on the sign-in form.
    let fresh = tempfile::tempdir().expect("browser profile");
    let signed_out = browse(fresh.path(), &h.url("/ui/sessions"), None);
    assert!(
        signed_out.contains("Sign in to honeyhive-rs"),
        "{signed_out}"
    );
}
