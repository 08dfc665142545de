//! The dashboard over real HTTP: signing in (one-time link, key form, CSRF,
//! forged cookies), the sessions and session pages, escaping of user content,
//! and project isolation.

use serde_json::{Value, json};

use crate::common::{Answer, Harness};

/// A client that shows redirects instead of following them, carrying one cookie.
pub(crate) struct Browser {
    agent: ureq::Agent,
    cookie: Option<String>,
}

impl Browser {
    pub(crate) fn new() -> Browser {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .build()
            .into();
        Browser {
            agent,
            cookie: None,
        }
    }

    fn send(&self, h: &Harness, method: &str, path: &str, form: Option<&str>) -> Answer {
        let mut builder = ureq::http::Request::builder()
            .method(method)
            .uri(h.url(path));
        if let Some(cookie) = &self.cookie {
            builder = builder.header("Cookie", cookie.as_str());
        }
        if form.is_some() {
            builder = builder.header("Content-Type", "application/x-www-form-urlencoded");
        }
        let request = builder
            .body(form.unwrap_or("").as_bytes().to_vec())
            .expect("request");
        let mut response = self.agent.run(request).expect("reaches the server");
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let body = response.body_mut().read_to_vec().expect("read the body");
        Answer {
            status,
            headers,
            body,
        }
    }

    pub(crate) fn get(&self, h: &Harness, path: &str) -> Answer {
        self.send(h, "GET", path, None)
    }

    /// Keeps the `name=value` of the answer's `Set-Cookie` for `name`.
    fn keep_cookie(&mut self, answer: &Answer, name: &str) {
        let set =
            set_cookie(answer, name).unwrap_or_else(|| panic!("no {name} cookie: {answer:?}"));
        self.cookie = Some(set.split(';').next().expect("name=value").to_string());
    }
}

fn set_cookie<'a>(answer: &'a Answer, name: &str) -> Option<&'a str> {
    answer
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.as_str())
        .find(|v| v.starts_with(&format!("{name}=")))
}

pub(crate) fn text(answer: &Answer) -> String {
    String::from_utf8_lossy(&answer.body).into_owned()
}

/// The value of the hidden `csrf` field of a page's first form that has one.
fn csrf_field(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    page[at..].split('"').next().expect("value").to_string()
}

/// Starts a session and records a model event with a chat in it; returns
/// (session id, event id).
fn ingest_chat(h: &Harness, key: &str, session_name: &str, user_says: &str) -> (String, String) {
    let started = h.post_json_as(
        key,
        "/session/start",
        &json!({"session": {"session_name": session_name, "source": "dashboard-test"}}),
    );
    assert_eq!(started.status, 200, "{}", text(&started));
    let session_id = started.json()["session_id"]
        .as_str()
        .expect("id")
        .to_string();
    let event = h.post_json_as(
        key,
        "/events",
        &json!({"event": {
            "session_id": session_id, "event_type": "model", "event_name": "answer the user",
            "config": {"model": "gpt-4o", "provider": "openai"},
            "inputs": {"chat_history": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": user_says}
            ]},
            "outputs": {"role": "assistant", "content": "Paris."},
            "metadata": {"prompt_tokens": 12, "completion_tokens": 3, "cost": 0.0021},
            "duration": 420.0
        }}),
    );
    assert_eq!(event.status, 200, "{}", text(&event));
    let event_id = event.json()["event_id"].as_str().expect("id").to_string();
    (session_id, event_id)
}

/// Signs `browser` in through the key form.
pub(crate) fn sign_in_with_key(h: &Harness, browser: &mut Browser, key: &str) {
    let form = browser.get(h, "/login");
    assert_eq!(form.status, 200);
    browser.keep_cookie(&form, "hh_login");
    let csrf = csrf_field(&text(&form));
    let signed_in = browser.send(
        h,
        "POST",
        "/login",
        Some(&format!("csrf={csrf}&api_key={key}")),
    );
    assert_eq!(signed_in.status, 303, "{}", text(&signed_in));
    browser.keep_cookie(&signed_in, "hh_session");
}

#[test]
fn a_one_time_link_signs_in_once_and_the_pages_show_the_session() {
    let h = Harness::start();
    let (session_id, event_id) = ingest_chat(&h, &h.key(), "trip planner", "Capital of France?");
    let link = h.server().server().sign_in_link().expect("a bootstrap key");
    let path = link
        .split_once("/login")
        .map(|(_, rest)| format!("/login{rest}"))
        .expect("path");

    let mut browser = Browser::new();
    assert_eq!(
        browser.get(&h, "/ui/sessions").status,
        303,
        "signed out goes to /login"
    );
    let used = browser.get(&h, &path);
    assert_eq!(
        used.status, 200,
        "a page that moves on itself, not a redirect"
    );
    assert!(
        text(&used).contains("<meta http-equiv=\"refresh\" content=\"0; url=/ui/sessions\">"),
        "{}",
        text(&used)
    );
    let cookie = set_cookie(&used, "hh_session").expect("session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    browser.keep_cookie(&used, "hh_session");
    assert_eq!(
        Browser::new().get(&h, &path).status,
        401,
        "a link works once"
    );

    let sessions = browser.get(&h, "/ui/sessions");
    assert_eq!(sessions.status, 200);
    let csp = sessions.header("content-security-policy").expect("a CSP");
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("unsafe"),
        "{csp}"
    );
    let page = text(&sessions);
    assert!(page.contains("trip planner"), "{page}");
    assert!(page.contains(&format!("/ui/sessions/{session_id}")));
    assert!(
        page.contains("$0.0021") && page.contains(">15<"),
        "roll-ups: {page}"
    );

    let session = browser.get(&h, &format!("/ui/sessions/{session_id}?event={event_id}"));
    assert_eq!(session.status, 200);
    let page = text(&session);
    for shown in [
        "answer the user",
        "gpt-4o",
        "openai",
        "role-system",
        "Be brief.",
        "role-user",
        "Capital of France?",
        "role-assistant",
        "Paris.",
        "<svg",
        "420 ms",
    ] {
        assert!(page.contains(shown), "{shown} on the session page: {page}");
    }
    assert!(
        page.contains("<tr class=\"selected\""),
        "the selected event is marked"
    );

    let css = browser.get(&h, "/ui/assets/app.css");
    assert_eq!(
        (css.status, css.header("content-type")),
        (200, Some("text/css; charset=utf-8"))
    );
}

#[test]
fn the_key_form_checks_its_csrf_token_and_sign_out_needs_the_sessions() {
    let h = Harness::start();
    let mut browser = Browser::new();
    let form = browser.get(&h, "/login");
    browser.keep_cookie(&form, "hh_login");
    let csrf = csrf_field(&text(&form));
    let key = h.key();

    let forged = browser.send(
        &h,
        "POST",
        "/login",
        Some(&format!("csrf=forged&api_key={key}")),
    );
    assert_eq!(forged.status, 403);
    assert!(set_cookie(&forged, "hh_session").is_none());
    let wrong_key = browser.send(
        &h,
        "POST",
        "/login",
        Some(&format!("csrf={csrf}&api_key=hh_wrong")),
    );
    assert_eq!(wrong_key.status, 401);
    assert!(text(&wrong_key).contains("not known"));

    sign_in_with_key(&h, &mut browser, &key);
    let sessions = browser.get(&h, "/ui/sessions");
    assert_eq!(sessions.status, 200);
    let session_csrf = csrf_field(&text(&sessions));

    let forged_out = browser.send(&h, "POST", "/logout", Some("csrf=forged"));
    assert_eq!(forged_out.status, 403);
    assert_eq!(
        browser.get(&h, "/ui/sessions").status,
        200,
        "still signed in"
    );
    let out = browser.send(&h, "POST", "/logout", Some(&format!("csrf={session_csrf}")));
    assert_eq!(out.status, 303);
    assert!(
        set_cookie(&out, "hh_session")
            .expect("cleared")
            .contains("Max-Age=0")
    );

    // A cookie whose value was changed fails its signature.
    let mut tampered = Browser::new();
    sign_in_with_key(&h, &mut tampered, &key);
    let cookie = tampered.cookie.clone().expect("cookie");
    let flipped = if cookie.ends_with('0') { "1" } else { "0" };
    tampered.cookie = Some(format!("{}{flipped}", &cookie[..cookie.len() - 1]));
    assert_eq!(tampered.get(&h, "/ui/sessions").status, 303);
}

#[test]
fn user_content_renders_as_text_never_as_markup() {
    let h = Harness::start();
    let script = "<script>alert(1)</script>";
    let image = "<img src=x onerror=alert(1)>";
    let (session_id, event_id) = ingest_chat(&h, &h.key(), script, image);
    let mut browser = Browser::new();
    sign_in_with_key(&h, &mut browser, &h.key());
    for path in [
        "/ui/sessions".to_string(),
        format!("/ui/sessions/{session_id}?event={event_id}"),
        format!("/ui/sessions?q={}", "%3Cscript%3E"),
    ] {
        let page = text(&browser.get(&h, &path));
        assert!(
            !page.contains(script) && !page.contains(image),
            "raw payload on {path}: {page}"
        );
        assert!(
            !page.contains("<script") && !page.contains("<img"),
            "markup on {path}"
        );
    }
    let page = text(&browser.get(&h, &format!("/ui/sessions/{session_id}?event={event_id}")));
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(
        page.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{page}"
    );
}

#[test]
fn a_key_sees_only_its_own_projects_sessions() {
    let h = Harness::start();
    let (session_id, _) = ingest_chat(&h, &h.key(), "first project's secret", "hello");
    let other_key = h.server().create_project_key("other-project");
    ingest_chat(&h, &other_key, "other project's session", "hi");

    let mut browser = Browser::new();
    sign_in_with_key(&h, &mut browser, &other_key);
    let page = text(&browser.get(&h, "/ui/sessions"));
    assert!(
        page.contains("other project&#39;s session") || page.contains("other project's session"),
        "{page}"
    );
    assert!(!page.contains("first project"), "{page}");
    assert!(page.contains("other-project"), "the project is named");
    let foreign = browser.get(&h, &format!("/ui/sessions/{session_id}"));
    assert_eq!(foreign.status, 404);
    assert!(!text(&foreign).contains("first project"));
    let value: Value = h.get_as(&other_key, "/events").json();
    assert!(
        !value.to_string().contains("first project"),
        "the REST API agrees"
    );
}

#[test]
fn the_experiment_pages_show_scores_and_the_compare_page_their_deltas() {
    let h = Harness::start();
    let old_id = "22222222-2222-4222-8222-222222222222";
    let new_id = "33333333-3333-4333-8333-333333333333";
    crate::api_experiments::replay_evaluate(&h, old_id, Some([0.0, 0.0, 1.0]));
    crate::api_experiments::replay_evaluate(&h, new_id, Some([1.0, 1.0, 1.0]));
    let mut browser = Browser::new();
    sign_in_with_key(&h, &mut browser, &h.key());

    let runs = text(&browser.get(&h, "/ui/runs"));
    assert!(
        runs.contains(&format!("/ui/runs/{old_id}"))
            && runs.contains(&format!("/ui/runs/{new_id}")),
        "{runs}"
    );

    let run = browser.get(&h, &format!("/ui/runs/{old_id}"));
    assert_eq!(run.status, 200, "{}", text(&run));
    let run = text(&run);
    assert!(
        run.contains("exact_match") && run.contains("0.333 (average)"),
        "{run}"
    );
    assert!(
        run.contains(&format!("<option value=\"{new_id}\"")),
        "offers the other run: {run}"
    );
    for shown in [
        "2/3 (67%)",
        "<td class=\"io\">{&quot;question&quot;:&quot;abc&quot;}</td>",
        "<td class=\"io\">{&quot;answer&quot;:&quot;HELLO!&quot;}</td>",
        "<span class=\"fail\">fail</span>",
    ] {
        assert!(run.contains(shown), "{shown} on the run page: {run}");
    }

    let compare = browser.get(&h, &format!("/ui/runs/{new_id}/compare?with={old_id}"));
    assert_eq!(compare.status, 200, "{}", text(&compare));
    let compare = text(&compare);
    for shown in [
        "+0.667",
        "2 improved",
        "1 unchanged",
        "0.000 → 1.000",
        "1.000 → 1.000",
    ] {
        assert!(
            compare.contains(shown),
            "{shown} on the compare page: {compare}"
        );
    }
    let missing = browser.get(&h, &format!("/ui/runs/{new_id}/compare"));
    assert_eq!(missing.status, 400);
    let unknown = browser.get(&h, &format!("/ui/runs/{new_id}/compare?with=nope"));
    assert_eq!(unknown.status, 404);
}

#[test]
fn the_events_and_dataset_pages_list_what_the_project_holds() {
    let h = Harness::start();
    let (session_id, event_id) = ingest_chat(&h, &h.key(), "support run", "Where is my order?");
    let dataset = h.post_json(
        "/v1/datasets",
        &json!({"project": "test-project", "name": "golden questions", "description": "the <b>hard</b> ones"}),
    );
    assert_eq!(dataset.status, 200, "{}", text(&dataset));
    let dataset_id = dataset.json()["result"]["insertedId"]
        .as_str()
        .expect("dataset id")
        .to_string();
    let datapoint = h.post_json(
        "/v1/datapoints",
        &json!({"project": "test-project", "inputs": {"question": "What is 2+2?"},
            "ground_truth": {"answer": "4"}, "linked_datasets": [dataset_id]}),
    );
    assert_eq!(datapoint.status, 200, "{}", text(&datapoint));
    let mut browser = Browser::new();
    sign_in_with_key(&h, &mut browser, &h.key());

    let events = text(&browser.get(&h, "/ui/events?event_type=model"));
    assert!(events.contains("answer the user"), "{events}");
    assert!(
        events.contains(&format!("/ui/sessions/{session_id}?event={event_id}")),
        "{events}"
    );
    assert!(
        events.contains("1–1, newest first") && !events.contains("class=\"type type-session\""),
        "only model events: {events}"
    );
    let bad = browser.get(&h, "/ui/events?event_type=spaceship");
    assert_eq!(bad.status, 400);
    assert!(text(&bad).contains("bad_request"));

    let datasets = text(&browser.get(&h, "/ui/datasets"));
    assert!(
        datasets.contains("golden questions")
            && datasets.contains("the &lt;b&gt;hard&lt;/b&gt; ones"),
        "{datasets}"
    );
    let one = browser.get(&h, &format!("/ui/datasets/{dataset_id}"));
    assert_eq!(one.status, 200);
    let one = text(&one);
    assert!(
        one.contains("What is 2+2?") && one.contains("1 datapoints"),
        "{one}"
    );
    assert_eq!(browser.get(&h, "/ui/datasets/nope").status, 404);
}
