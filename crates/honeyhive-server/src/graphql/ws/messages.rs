//! The messages of `graphql-transport-ws`, and what is read from them.

use async_graphql::{Response, ServerError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::{AuthError, bearer_token};

/// Longest close reason a WebSocket close frame carries, in bytes.
const MAX_CLOSE_REASON: usize = 123;

/// What a client sends.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<Value>,
    },
    Ping {},
    Pong {},
    Subscribe {
        id: String,
        payload: Box<async_graphql::Request>,
    },
    Complete {
        id: String,
    },
}

/// What the server sends.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ServerMessage<'a> {
    ConnectionAck,
    Ping,
    Pong,
    Next {
        id: &'a str,
        payload: &'a Response,
    },
    Error {
        id: &'a str,
        payload: &'a [ServerError],
    },
    Complete {
        id: &'a str,
    },
}

/// `reason` cut to what a close frame carries, at a character boundary.
pub(super) fn close_reason(mut reason: String) -> String {
    if reason.len() > MAX_CLOSE_REASON {
        let mut end = MAX_CLOSE_REASON;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    reason
}

/// The key a `connection_init` payload carries: `Authorization` (`Bearer
/// <key>`, any case of the name) or `apiKey`; `None` when it names none.
pub(super) fn payload_key(payload: &Value) -> Option<Result<&str, AuthError>> {
    let object = payload.as_object()?;
    if let Some((_, value)) = object
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
    {
        return Some(
            value
                .as_str()
                .and_then(bearer_token)
                .ok_or(AuthError::NotBearer),
        );
    }
    let key = object
        .get("apiKey")
        .or_else(|| object.get("api_key"))?
        .as_str()
        .map(str::trim)
        .filter(|key| !key.is_empty());
    Some(key.ok_or(AuthError::Missing))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_key_comes_from_authorization_or_api_key_and_nothing_else() {
        let key = |payload: Value| payload_key(&payload).map(|r| r.map(str::to_string).ok());
        assert_eq!(
            key(json!({"Authorization": "Bearer k1"})),
            Some(Some("k1".into()))
        );
        assert_eq!(
            key(json!({"authorization": "bearer k2"})),
            Some(Some("k2".into()))
        );
        assert_eq!(key(json!({"apiKey": " k3 "})), Some(Some("k3".into())));
        assert_eq!(
            key(json!({"Authorization": "k4"})),
            Some(None),
            "not bearer"
        );
        assert_eq!(key(json!({"apiKey": ""})), Some(None));
        assert_eq!(key(json!({"other": "k5"})), None);
        assert_eq!(key(json!("k6")), None);
    }

    #[test]
    fn close_reasons_fit_a_close_frame() {
        let long = "é".repeat(100);
        let cut = close_reason(long);
        assert!(cut.len() <= MAX_CLOSE_REASON && cut.chars().all(|c| c == 'é'));
        assert_eq!(close_reason("short".into()), "short");
    }

    #[test]
    fn client_messages_are_the_protocols_own() {
        let parse = |text: &str| serde_json::from_str::<ClientMessage>(text).is_ok();
        assert!(parse(r#"{"type":"connection_init"}"#));
        assert!(parse(
            r#"{"type":"connection_init","payload":{"apiKey":"k"}}"#
        ));
        assert!(parse(
            r#"{"type":"subscribe","id":"1","payload":{"query":"{ a }"}}"#
        ));
        assert!(parse(r#"{"type":"complete","id":"1"}"#));
        assert!(parse(r#"{"type":"ping","payload":{}}"#));
        assert!(!parse(
            r#"{"type":"start","id":"1","payload":{"query":"{ a }"}}"#
        ));
        assert!(!parse(
            r#"{"type":"subscribe","payload":{"query":"{ a }"}}"#
        ));
        assert!(!parse("not json"));
    }
}
