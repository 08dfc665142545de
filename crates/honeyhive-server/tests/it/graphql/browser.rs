//! The GraphQL explorer in a real browser (Debian's headless Chromium over
//! chromedriver, as the dashboard's live test drives it): the key typed in
//! stays in the tab's session storage, Run shows the answer, Schema lists the
//! types, and a script hidden in stored data shows as text and never runs.

use serde_json::{Value, json};

use super::start_session;
use crate::common::Harness;
use crate::dashboard_live::Driver;

/// Types `text` into the field `id` as a person would (an `input` event follows).
fn type_into(driver: &Driver, id: &str, text: &str) {
    driver.script(&format!(
        "const field = document.getElementById({id}); field.value = {text}; \
         field.dispatchEvent(new Event('input')); return true",
        id = json!(id),
        text = json!(text),
    ));
}

#[test]
fn the_explorer_runs_a_query_with_the_key_typed_in_and_lists_the_schema() {
    let h = Harness::start();
    let key = h.key();
    let payload = "<img src=x onerror=\"document.title='pwned'\">";
    start_session(&h, &key, payload);
    start_session(&h, &key, "checkout flow");

    let driver = Driver::start();
    driver.go(&h.url("/graphql"));
    type_into(&driver, "key", &key);
    type_into(
        &driver,
        "query",
        "{ sessions { total items { eventName source } } }",
    );
    driver.script("document.getElementById('run').click(); return true");
    driver.wait_for(
        "the answer",
        "return document.getElementById('result').textContent.includes('\"total\"')",
    );
    let shown = driver.script("return document.getElementById('result').textContent");
    let answer: Value = serde_json::from_str(shown.as_str().expect("text")).expect("json shown");
    assert_eq!(answer["data"]["sessions"]["total"], 2, "{answer}");
    let names: Vec<&Value> = answer["data"]["sessions"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|s| &s["eventName"])
        .collect();
    assert!(names.contains(&&json!(payload)), "{names:?}");
    assert_eq!(
        driver.script("return document.querySelectorAll('#result img').length"),
        json!(0),
        "the payload is text, not markup"
    );
    assert_ne!(driver.script("return document.title"), json!("pwned"));
    assert_eq!(
        driver.script("return sessionStorage.getItem('hh.graphql.key')"),
        json!(key),
        "the key stays in the tab"
    );
    driver.screenshot("graphql-explorer.png");

    driver.script("document.getElementById('schema').click(); return true");
    driver.wait_for(
        "the schema",
        "return document.getElementById('result').textContent.includes('type SessionTree {')",
    );
    let schema = driver.script("return document.getElementById('result').textContent");
    let schema = schema.as_str().expect("text");
    for shown in [
        "type Query {",
        "union LiveUpdate = ",
        "enum EventType {",
        "scalar JSON",
    ] {
        assert!(schema.contains(shown), "{shown} in {schema}");
    }
}
