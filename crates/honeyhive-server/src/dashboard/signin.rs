//! Signing in to the dashboard: an API key (or a one-time link) buys a signed,
//! `HttpOnly`, `SameSite=Strict` session cookie naming the key's hash; every
//! page checks the signature, the expiry and that the key still exists.
//! Forms carry a CSRF token kept inside the signed cookie (or, before sign-in,
//! in a cookie of its own) and compared on submit.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Form;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use cookie::{Cookie, CookieJar, Key, SameSite};
use maud::html;
use parking_lot::Mutex;
use serde::Deserialize;

use super::Dashboard;
use super::view::{Page, Viewer, error_page};
use crate::auth::{AuthError, hash_key};

const SESSION_COOKIE: &str = "hh_session";
const LOGIN_COOKIE: &str = "hh_login";
/// How long a sign-in lasts.
const SESSION_TTL: Duration = Duration::from_secs(12 * 60 * 60);
/// How long a one-time link works.
const LINK_TTL: Duration = Duration::from_secs(15 * 60);
/// One-time links waiting to be used; past this, the oldest are dropped.
const MAX_LINKS: usize = 256;
/// The signing key's file in the data dir.
const KEY_FILE: &str = "dashboard.key";

/// The dashboard's signing key and its unused one-time sign-in links.
///
/// ```
/// use honeyhive_server::dashboard::SignIn;
/// let dir = tempfile::tempdir().unwrap();
/// let sign_in = SignIn::open(dir.path()).unwrap();
/// let link_token = sign_in.one_time_token("the key's sha-256 hash");
/// assert_eq!(link_token.len(), 64);
/// assert!(dir.path().join("dashboard.key").exists());
/// ```
pub struct SignIn {
    key: Key,
    links: Mutex<HashMap<String, (String, Instant)>>,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn").finish_non_exhaustive()
    }
}

/// 64 random bytes (four UUIDv4s: 488 random bits).
fn random_bytes() -> Vec<u8> {
    (0..4)
        .flat_map(|_| uuid::Uuid::new_v4().into_bytes())
        .collect()
}

/// A random token for URLs and forms.
fn random_token() -> String {
    hex::encode(&random_bytes()[..32])
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl SignIn {
    /// The signing key of `data_dir` (created, readable by its owner only, on
    /// first start), so sign-ins survive a restart.
    pub fn open(data_dir: &Path) -> std::io::Result<SignIn> {
        let path = data_dir.join(KEY_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) if bytes.len() >= 64 => bytes,
            Ok(_) | Err(_) => {
                let bytes = random_bytes();
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create(true).truncate(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(&path)?;
                file.write_all(&bytes)?;
                file.sync_all()?;
                bytes
            }
        };
        Ok(SignIn {
            key: Key::from(&bytes),
            links: Mutex::new(HashMap::new()),
        })
    }

    /// A single-use token that signs in as the key whose hash is `key_hash`,
    /// for the next 15 minutes (`/login?token=…`).
    pub fn one_time_token(&self, key_hash: &str) -> String {
        let token = random_token();
        let mut links = self.links.lock();
        links.retain(|_, (_, issued)| issued.elapsed() < LINK_TTL);
        while links.len() >= MAX_LINKS {
            let oldest = links
                .iter()
                .min_by_key(|(_, (_, issued))| *issued)
                .map(|(token, _)| token.clone());
            match oldest {
                Some(oldest) => links.remove(&oldest),
                None => break,
            };
        }
        links.insert(token.clone(), (key_hash.to_string(), Instant::now()));
        token
    }

    /// The key hash of an unused, unexpired link; the link is spent.
    fn redeem(&self, token: &str) -> Option<String> {
        let (hash, issued) = self.links.lock().remove(token)?;
        (issued.elapsed() < LINK_TTL).then_some(hash)
    }

    /// The `Set-Cookie` value of a new session for `key_hash`.
    fn session_cookie(&self, key_hash: &str) -> String {
        let expires = unix_now() + SESSION_TTL.as_secs();
        let value = format!("{key_hash}.{expires}.{}", random_token());
        let mut jar = CookieJar::new();
        jar.signed_mut(&self.key).add(
            Cookie::build((SESSION_COOKIE, value))
                .http_only(true)
                .same_site(SameSite::Strict)
                .path("/")
                .max_age(cookie::time::Duration::seconds(SESSION_TTL.as_secs() as i64)),
        );
        jar.delta()
            .next()
            .map(|c| c.to_string())
            .unwrap_or_default()
    }

    /// The session a request's signed cookie carries, if valid and unexpired.
    fn session(&self, headers: &HeaderMap) -> Option<Session> {
        let value = signed_cookie(&self.key, headers, SESSION_COOKIE)?;
        let mut parts = value.splitn(3, '.');
        let (hash, expires, csrf) = (parts.next()?, parts.next()?, parts.next()?);
        let expires: u64 = expires.parse().ok()?;
        (expires > unix_now()).then(|| Session {
            key_hash: hash.to_string(),
            csrf: csrf.to_string(),
        })
    }
}

/// The value of the signed cookie `name` in `headers`, if its signature holds.
fn signed_cookie(key: &Key, headers: &HeaderMap, name: &str) -> Option<String> {
    let mut jar = CookieJar::new();
    for value in headers.get_all(header::COOKIE) {
        let Ok(value) = value.to_str() else { continue };
        for cookie in Cookie::split_parse(value.to_string()).flatten() {
            if cookie.name() == name {
                jar.add_original(cookie);
            }
        }
    }
    jar.signed(key).get(name).map(|c| c.value().to_string())
}

/// The plain cookie `name` in `headers`.
fn plain_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| {
            Cookie::split_parse(v.to_string())
                .flatten()
                .collect::<Vec<_>>()
        })
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

struct Session {
    key_hash: String,
    csrf: String,
}

impl FromRequestParts<Dashboard> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Dashboard) -> Result<Viewer, Response> {
        let to_login = || Redirect::to("/login").into_response();
        let session = state.sign_in.session(&parts.headers).ok_or_else(to_login)?;
        match state
            .keys
            .authenticate_hash(state.store.as_ref(), session.key_hash)
            .await
        {
            Ok(tenant) => Ok(Viewer {
                tenant,
                csrf: session.csrf,
            }),
            Err(AuthError::Unknown) => Err(to_login()),
            Err(e) => Err(error_page(crate::api::ApiError::from(e))),
        }
    }
}

#[derive(Deserialize)]
pub(super) struct LinkQuery {
    token: Option<String>,
}

/// `GET /login`: the sign-in form, or a one-time link spent.
pub(super) async fn page(State(state): State<Dashboard>, Query(q): Query<LinkQuery>) -> Response {
    if let Some(token) = q.token {
        return match state.sign_in.redeem(&token) {
            Some(hash) => signed_in(&state, &hash, Onward::Page),
            None => form(
                StatusCode::UNAUTHORIZED,
                Some(
                    "This sign-in link was already used or has expired: sign in with your API key.",
                ),
            ),
        };
    }
    form(StatusCode::OK, None)
}

/// The sign-in form with a fresh pre-session CSRF token in its own cookie.
fn form(status: StatusCode, problem: Option<&str>) -> Response {
    let csrf = random_token();
    let body = Page::new("Sign in").render(html! {
        section.signin {
            h1 { "Sign in to honeyhive-rs" }
            @if let Some(problem) = problem { p.problem role="alert" { (problem) } }
            form method="post" action="/login" {
                input type="hidden" name="csrf" value=(csrf);
                label for="api_key" { "API key" }
                input #api_key type="password" name="api_key" autocomplete="off" required autofocus;
                button type="submit" { "Sign in" }
            }
            p.hint { "The key of a project (HH_API_KEY). The dashboard shows that project only." }
        }
    });
    let cookie = Cookie::build((LOGIN_COOKIE, csrf.clone()))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/login")
        .max_age(cookie::time::Duration::hours(1))
        .build();
    let mut response = (status, body).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// How a new session goes on to the sessions page.
enum Onward {
    /// A redirect: the sign-in form, a navigation this site started.
    Redirect,
    /// A page that moves on itself: a one-time link may be opened from
    /// another site, and along a redirect chain another site started a
    /// browser does not send the `SameSite=Strict` cookie just set.
    Page,
}

/// The session cookie for `key_hash`, and on to the sessions page.
fn signed_in(state: &Dashboard, key_hash: &str, onward: Onward) -> Response {
    let mut response = match onward {
        Onward::Redirect => Redirect::to("/ui/sessions").into_response(),
        Onward::Page => Page::new("Signed in")
            .with_refresh("/ui/sessions")
            .render(html! {
                section.signin {
                    h1 { "Signed in" }
                    p { a href="/ui/sessions" { "Continue to the dashboard" } }
                }
            })
            .into_response(),
    };
    if let Ok(value) = HeaderValue::from_str(&state.sign_in.session_cookie(key_hash)) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    api_key: String,
    csrf: String,
}

/// `POST /login`: a key and the form's CSRF token.
pub(super) async fn submit(
    State(state): State<Dashboard>,
    headers: HeaderMap,
    Form(login): Form<LoginForm>,
) -> Response {
    let expected = plain_cookie(&headers, LOGIN_COOKIE);
    if expected.as_deref() != Some(login.csrf.as_str()) || login.csrf.is_empty() {
        return form(
            StatusCode::FORBIDDEN,
            Some("The form had expired: sign in again."),
        );
    }
    let key = login.api_key.trim();
    match state.keys.authenticate(state.store.as_ref(), key).await {
        Ok(_) => signed_in(&state, &hash_key(key), Onward::Redirect),
        Err(_) => form(
            StatusCode::UNAUTHORIZED,
            Some("That API key is not known to this server."),
        ),
    }
}

#[derive(Deserialize)]
pub(super) struct SignOutForm {
    csrf: String,
}

/// `POST /logout`: ends the session when the form's token is the session's.
pub(super) async fn sign_out(
    State(state): State<Dashboard>,
    headers: HeaderMap,
    Form(form): Form<SignOutForm>,
) -> Response {
    let Some(session) = state.sign_in.session(&headers) else {
        return Redirect::to("/login").into_response();
    };
    if session.csrf != form.csrf {
        return error_page(
            crate::api::ApiError::new(
                honeyhive_model::ErrorCode::Forbidden,
                "the sign-out form did not carry this session's token",
            )
            .with_hint("sign out from a page of this dashboard"),
        );
    }
    let mut response = Redirect::to("/login").into_response();
    let gone = Cookie::build((SESSION_COOKIE, ""))
        .path("/")
        .max_age(cookie::time::Duration::ZERO)
        .build();
    if let Ok(value) = HeaderValue::from_str(&gone.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}
