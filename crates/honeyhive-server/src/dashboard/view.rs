//! The page frame every dashboard page shares, the error page, and how values
//! are shown (times, durations, tokens, cost, JSON).

use super::filters::MAX_PAGE;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use serde_json::{Map, Value};

use crate::api::ApiError;
use crate::store::Tenant;

/// Who is looking: the tenant of a signed-in key, and the CSRF token its
/// forms carry. A page taking a `Viewer` sends anyone else to `/login`
/// (the extractor is in `signin.rs`).
pub struct Viewer {
    /// The key's project: every page shows only its data.
    pub tenant: Tenant,
    /// The token this session's forms carry.
    pub csrf: String,
}

/// A page under construction: its title and, once signed in, who looks.
pub(super) struct Page<'a> {
    title: &'a str,
    viewer: Option<&'a Viewer>,
    script: Option<&'a str>,
    refresh: Option<&'a str>,
}

impl<'a> Page<'a> {
    pub(super) fn new(title: &'a str) -> Page<'a> {
        Page {
            title,
            viewer: None,
            script: None,
            refresh: None,
        }
    }

    pub(super) fn signed_in(title: &'a str, viewer: &'a Viewer) -> Page<'a> {
        Page {
            title,
            viewer: Some(viewer),
            script: None,
            refresh: None,
        }
    }

    /// Moves on to `url` (one of ours) as soon as the page has loaded.
    pub(super) fn with_refresh(mut self, url: &'a str) -> Page<'a> {
        self.refresh = Some(url);
        self
    }

    /// Loads the script at `src` (one of ours) after the page.
    pub(super) fn with_script(mut self, src: &'a str) -> Page<'a> {
        self.script = Some(src);
        self
    }

    /// The whole document around `main`.
    pub(super) fn render(&self, main: Markup) -> Html<String> {
        let markup = html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (self.title) " · honeyhive-rs" }
                    link rel="stylesheet" href="/ui/assets/app.css";
                    @if let Some(url) = self.refresh {
                        meta http-equiv="refresh" content=(format!("0; url={url}"));
                    }
                }
                body {
                    header.top {
                        a.brand href="/ui/sessions" { "honeyhive-rs" }
                        @if let Some(viewer) = self.viewer {
                            nav {
                                a href="/ui/sessions" { "Sessions" }
                                a href="/ui/events" { "Events" }
                                a href="/ui/runs" { "Experiments" }
                                a href="/ui/datasets" { "Datasets" }
                                a href="/ui/monitoring" { "Monitoring" }
                                a href="/ui/live" { "Live" }
                            }
                            span.project title="the project of your API key" { (viewer.tenant.project_name) }
                            form.signout method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(viewer.csrf);
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                    main { (main) }
                    @if let Some(src) = self.script { script src=(src) defer {} }
                }
            }
        };
        Html(markup.into_string())
    }
}

/// An error as a page, with the status, code and hint of the API's errors.
pub(super) fn error_page(error: ApiError) -> Response {
    let status =
        StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = Page::new("Error").render(html! {
        section.error {
            h1 { (status.canonical_reason().unwrap_or("Error")) }
            p { (error.message) }
            @if let Some(hint) = &error.hint { p.hint { (hint) } }
            p.code { "code: " code { (error.code.as_str()) } }
        }
    });
    (status, body).into_response()
}

/// Newer/older links around "page N" for the list at `base` with `params`;
/// `total` is [`crate::store::Page::total`], exact or counted one row past.
pub(super) fn pager(
    base: &str,
    params: &[(&str, &str)],
    page: u64,
    page_size: u64,
    total: u64,
) -> Markup {
    let more = total > page.saturating_mul(page_size);
    let link = |page: u64| {
        let mut query = format!("page={page}");
        for (name, value) in params {
            query.push_str(&format!("&{name}={}", url_encode(value)));
        }
        format!("{base}?{query}")
    };
    html! {
        nav.pager {
            @if page > 1 { a rel="prev" href=(link(page - 1)) { "← newer" } }
            span { "page " (page) }
            @if more && page < MAX_PAGE { a rel="next" href=(link(page + 1)) { "older →" } }
            @if more && page >= MAX_PAGE { span.hint { "narrow the filters to see older rows" } }
        }
    }
}

/// "21–40, newest first" for rows `shown` of page `page` (1-based): lists
/// that do not count every match say where they are instead.
pub(super) fn listed(page: u64, page_size: u64, shown: usize) -> String {
    if shown == 0 {
        return "nothing here".into();
    }
    let first = (page - 1) * page_size + 1;
    format!("{first}–{}, newest first", first + shown as u64 - 1)
}

/// `2026-12-07 23:10:05` (UTC) for a time in milliseconds since the epoch.
pub(super) fn time(ms: f64) -> String {
    honeyhive_model::filter::format_datetime_ms(ms)
        .replace('T', " ")
        .trim_end_matches('Z')
        .split('.')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// `0.4 ms`, `850 ms`, `2.40 s`, `3 min 05 s`.
pub(super) fn duration(ms: f64) -> String {
    if !ms.is_finite() || ms < 0.0 {
        return "—".into();
    }
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else if ms < 1_000.0 {
        format!("{ms:.0} ms")
    } else if ms < 60_000.0 {
        format!("{:.2} s", ms / 1_000.0)
    } else {
        let seconds = (ms / 1_000.0).round() as u64;
        format!("{} min {:02} s", seconds / 60, seconds % 60)
    }
}

/// `$0.0042`, or a dash for none.
pub(super) fn cost(cost: f64) -> String {
    if cost > 0.0 {
        format!("${cost:.4}")
    } else {
        "—".into()
    }
}

/// A count, or a dash for none.
pub(super) fn count(n: u64) -> String {
    if n > 0 { n.to_string() } else { "—".into() }
}

/// A number in `map[key]`, if it is one.
pub(super) fn number(map: &Map<String, Value>, key: &str) -> Option<f64> {
    map.get(key).and_then(Value::as_f64)
}

/// A JSON object, pretty-printed; long ones fold away.
pub(super) fn json_block(label: &str, map: &Map<String, Value>) -> Markup {
    let text = serde_json::to_string_pretty(map).unwrap_or_default();
    html! {
        @if !map.is_empty() {
            details.json open[text.len() < 2_000] {
                summary { (label) }
                pre { code { (text) } }
            }
        }
    }
}

/// Percent-encodes everything but unreserved characters.
pub(super) fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
