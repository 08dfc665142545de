//! GraphQL subscriptions over a real WebSocket (`graphql-transport-ws`):
//! events committed after subscribing arrive, keys are checked at
//! `connection_init` or on the upgrade, and the protocol's closing codes
//! answer what it refuses.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{post_event, start_session};
use crate::common::Harness;

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// Longest wait for one message: a bound to fail on, not a timing claim.
const PATIENCE: Duration = Duration::from_secs(20);

/// What the server sent next.
#[derive(Debug)]
enum Received {
    Json(Value),
    Closed(Option<u16>, String),
}

/// A client of `/graphql` over WebSocket, driven from the test thread.
struct Client<'h> {
    h: &'h Harness,
    socket: Socket,
}

/// Opens a WebSocket on `/graphql` offering `protocol`, with `authorization`
/// as the upgrade's header when given.
fn open<'h>(
    h: &'h Harness,
    protocol: Option<&str>,
    authorization: Option<&str>,
) -> Result<Client<'h>, tungstenite::Error> {
    let url = h.url("/graphql").replacen("http://", "ws://", 1);
    let mut request = url.into_client_request()?;
    let headers = request.headers_mut();
    if let Some(protocol) = protocol {
        headers.insert("Sec-WebSocket-Protocol", protocol.parse().expect("header"));
    }
    if let Some(authorization) = authorization {
        headers.insert("Authorization", authorization.parse().expect("header"));
    }
    let (socket, _) = h.rt.block_on(tokio_tungstenite::connect_async(request))?;
    Ok(Client { h, socket })
}

impl Client<'_> {
    fn send(&mut self, message: Value) {
        let text = message.to_string();
        self.h
            .rt
            .block_on(self.socket.send(Message::text(text)))
            .expect("sent");
    }

    /// The next message that is not a keep-alive `ping` (answered with `pong`).
    fn receive(&mut self) -> Received {
        loop {
            let socket = &mut self.socket;
            let next = self
                .h
                .rt
                .block_on(async { tokio::time::timeout(PATIENCE, socket.next()).await })
                .expect("the server answers in time");
            match next {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(text.as_str()).expect("json");
                    if value["type"] == "ping" {
                        self.send(json!({"type": "pong"}));
                        continue;
                    }
                    return Received::Json(value);
                }
                Some(Ok(Message::Close(frame))) => {
                    return Received::Closed(
                        frame.as_ref().map(|f| u16::from(f.code)),
                        frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                    );
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Received::Closed(None, e.to_string()),
                None => return Received::Closed(None, "ended".into()),
            }
        }
    }

    fn receive_json(&mut self) -> Value {
        match self.receive() {
            Received::Json(value) => value,
            other => panic!("a message, not {other:?}"),
        }
    }

    fn closed_with(&mut self) -> (Option<u16>, String) {
        match self.receive() {
            Received::Closed(code, reason) => (code, reason),
            other => panic!("a close, not {other:?}"),
        }
    }

    /// Sends `connection_init` with `payload`; true when acknowledged.
    fn init(&mut self, payload: Value) -> bool {
        self.send(json!({"type": "connection_init", "payload": payload}));
        match self.receive() {
            Received::Json(ack) => ack["type"] == "connection_ack",
            Received::Closed(..) => false,
        }
    }

    fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({"type": "subscribe", "id": id,
                         "payload": {"query": query, "variables": variables}}));
    }
}

const EVENTS: &str = "subscription($f: JSON) { events(filters: $f) {
    __typename
    ... on Ready { cursor }
    ... on LiveEvent { seq kind event { eventName eventType sessionId } }
    ... on Lagged { missed hint } } }";

const MODELS_ONLY: &str =
    r#"[{"field": "event_type", "operator": "is", "value": "model", "type": "string"}]"#;

#[test]
fn a_subscription_receives_the_events_committed_after_it_subscribed() {
    let h = Harness::start();
    let key = h.key();
    let mut client = open(&h, Some("graphql-transport-ws"), None).expect("upgraded");
    assert!(client.init(json!({"Authorization": format!("Bearer {key}")})));
    client.subscribe("models", EVENTS, json!({"f": MODELS_ONLY}));
    let ready = client.receive_json();
    assert_eq!(ready["type"], "next", "{ready}");
    assert_eq!(ready["id"], "models");
    assert_eq!(ready["payload"]["data"]["events"]["__typename"], "Ready");
    let cursor = ready["payload"]["data"]["events"]["cursor"]
        .as_u64()
        .expect("cursor");

    // Subscribed: what commits from now on and matches arrives; the session
    // and the tool call do not match.
    let session = start_session(&h, &key, "live");
    post_event(
        &h,
        &key,
        json!({"session_id": session, "event_type": "tool", "event_name": "lookup"}),
    );
    post_event(
        &h,
        &key,
        json!({"session_id": session, "event_type": "model", "event_name": "answer"}),
    );
    let next = client.receive_json();
    assert_eq!(next["type"], "next", "{next}");
    assert_eq!(next["id"], "models");
    let live = &next["payload"]["data"]["events"];
    assert_eq!(live["__typename"], "LiveEvent", "{next}");
    assert_eq!(live["kind"], "CREATED");
    assert_eq!(
        live["event"],
        json!({"eventName": "answer", "eventType": "MODEL", "sessionId": session})
    );
    assert!(live["seq"].as_u64().expect("seq") > cursor);

    // Another project's events never reach it.
    let other = h.server().create_project_key("another-project");
    let theirs = start_session(&h, &other, "theirs");
    post_event(
        &h,
        &other,
        json!({"session_id": theirs, "event_type": "model", "event_name": "theirs"}),
    );
    post_event(
        &h,
        &key,
        json!({"session_id": session, "event_type": "model", "event_name": "second"}),
    );
    let next = client.receive_json();
    assert_eq!(
        next["payload"]["data"]["events"]["event"]["eventName"], "second",
        "{next}"
    );

    // Completing it ends it, and frees its id; the connection stays open
    // for more subscriptions and for queries.
    client.send(json!({"type": "complete", "id": "models"}));
    client.subscribe("models", EVENTS, json!({"f": MODELS_ONLY}));
    let again = client.receive_json();
    assert_eq!(
        (&again["type"], &again["id"]),
        (&json!("next"), &json!("models")),
        "{again}"
    );
    assert_eq!(again["payload"]["data"]["events"]["__typename"], "Ready");
    client.subscribe("q", "{ sessions { total } }", json!({}));
    let answer = client.receive_json();
    assert_eq!(answer["type"], "next", "{answer}");
    assert_eq!(answer["payload"]["data"]["sessions"]["total"], 1);
    assert_eq!(
        client.receive_json(),
        json!({"type": "complete", "id": "q"})
    );
}

#[test]
fn refused_connections_get_the_protocols_closing_codes() {
    let h = Harness::start();
    let key = h.key();

    // A key no project has, or none at all: 4403 at connection_init.
    let mut client = open(&h, Some("graphql-transport-ws"), None).expect("upgraded");
    assert!(!client.init(json!({"Authorization": "Bearer hh_not_a_key"})));
    let mut client = open(&h, Some("graphql-transport-ws"), None).expect("upgraded");
    client.send(json!({"type": "connection_init", "payload": {"apiKey": "hh_not_a_key"}}));
    let (code, reason) = client.closed_with();
    assert_eq!(code, Some(4403), "{reason}");
    assert!(reason.starts_with("Forbidden"), "{reason}");
    let mut client = open(&h, Some("graphql-transport-ws"), None).expect("upgraded");
    client.send(json!({"type": "connection_init"}));
    assert_eq!(client.closed_with().0, Some(4403));

    // A subscription before connection_ack: 4401.
    let mut client = open(&h, Some("graphql-transport-ws"), None).expect("upgraded");
    client.subscribe("early", EVENTS, json!({}));
    assert_eq!(client.closed_with().0, Some(4401));

    // Not one of the protocol's messages: 4400; a second init: 4429; an id in use: 4409.
    let mut client = open(&h, Some("graphql-transport-ws"), None).expect("upgraded");
    client.send(json!({"type": "start", "id": "1"}));
    assert_eq!(client.closed_with().0, Some(4400));
    let mut client = open(&h, Some("graphql-transport-ws"), None).expect("upgraded");
    assert!(client.init(json!({"apiKey": key})));
    client.send(json!({"type": "connection_init"}));
    assert_eq!(client.closed_with().0, Some(4429));
    let mut client = open(&h, Some("graphql-transport-ws"), None).expect("upgraded");
    assert!(client.init(json!({"apiKey": key})));
    client.subscribe("same", EVENTS, json!({}));
    assert_eq!(
        client.receive_json()["payload"]["data"]["events"]["__typename"],
        "Ready"
    );
    client.subscribe("same", EVENTS, json!({}));
    assert_eq!(client.closed_with().0, Some(4409));

    // The key may come on the upgrade instead; a bad one there is a 401.
    let mut client = open(
        &h,
        Some("graphql-transport-ws"),
        Some(&format!("Bearer {key}")),
    )
    .expect("upgraded");
    assert!(client.init(json!({})));
    let refused = open(
        &h,
        Some("graphql-transport-ws"),
        Some("Bearer hh_not_a_key"),
    );
    match refused {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("a 401, not {:?}", other.map(|_| "an upgrade")),
    }
    // Without the subprotocol there is no upgrade.
    match open(&h, None, None) {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 400),
        other => panic!("a 400, not {:?}", other.map(|_| "an upgrade")),
    }

    // A subscription the query or the live limits refuse is an `error` message.
    client.subscribe("bad", "subscription { events { nope } }", json!({}));
    let error = client.receive_json();
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(error["id"], "bad");
    assert_eq!(error["payload"][0]["extensions"]["code"], "bad_request");
}

#[test]
fn the_live_subscriber_limit_counts_websocket_subscriptions_as_it_counts_streams() {
    let h = Harness::start_with(|cfg| cfg.live.max_subscribers_per_project = 1);
    let key = h.key();
    let mut client = open(&h, Some("graphql-transport-ws"), None).expect("upgraded");
    assert!(client.init(json!({"apiKey": key})));
    client.subscribe("first", EVENTS, json!({}));
    assert_eq!(
        client.receive_json()["payload"]["data"]["events"]["__typename"],
        "Ready"
    );
    client.subscribe("second", EVENTS, json!({}));
    let refused = client.receive_json();
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "over_budget");
    // The SSE stream shares the same limit.
    let sse = h.get("/v1/events/stream");
    assert_eq!(sse.status, 429);
    let metrics = String::from_utf8_lossy(&h.get("/metrics").body).to_string();
    assert!(metrics.contains("hh_live_subscribers 1\n"), "{metrics}");
}

#[test]
fn a_subscriber_that_reads_too_slowly_is_told_what_it_missed() {
    const REQUESTS: u64 = 32;
    const SPANS_PER_REQUEST: u64 = 4;
    let h = Harness::start_with(|cfg| {
        cfg.live.buffer_events = 8;
        cfg.live.buffer_bytes = 256 * 1024;
    });
    // A small receive window: the server's writes stall once a few big
    // events are on their way, and its subscriber's buffer fills behind them.
    let addr = h.server().server().http_addr();
    let tcp =
        h.rt.block_on(async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.set_recv_buffer_size(4096)?;
            socket.connect(addr).await
        })
        .expect("connect");
    let mut request = format!("ws://{addr}/graphql")
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let (socket, _) =
        h.rt.block_on(tokio_tungstenite::client_async(
            request,
            MaybeTlsStream::Plain(tcp),
        ))
        .expect("upgraded");
    let mut client = Client { h: &h, socket };
    assert!(client.init(json!({"apiKey": h.key()})));
    let query = "subscription { events(filters: [{field: \"event_name\", operator: \"is\", value: \"big\"}]) {
        __typename ... on LiveEvent { seq event { inputs } } ... on Lagged { missed hint } } }";
    client.subscribe("big", query, json!({}));
    assert_eq!(
        client.receive_json()["payload"]["data"]["events"]["__typename"],
        "Ready"
    );

    // Not read while 32 MiB of matching events commit.
    let input = "x".repeat(256 * 1024);
    for r in 0..REQUESTS {
        let spans: Vec<Value> = (1..=SPANS_PER_REQUEST)
            .map(|s| {
                let mut span = crate::live::span(r * 10 + s, "big", "model", "slow");
                span["attributes"]
                    .as_array_mut()
                    .expect("attributes")
                    .push(json!({"key": "honeyhive_inputs.text", "value": {"stringValue": input}}));
                span
            })
            .collect();
        let answer = h.post_json("/opentelemetry/v1/traces", &crate::live::otlp(spans));
        assert_eq!(answer.status, 200, "request {r} is acknowledged");
    }

    // Read at last: every event arrives or is announced missed, in its place.
    let (mut delivered, mut missed, mut notices, mut last_seq) = (0u64, 0u64, 0u64, 0u64);
    while delivered + missed < REQUESTS * SPANS_PER_REQUEST {
        let next = client.receive_json();
        assert_eq!(next["type"], "next", "{next}");
        let item = &next["payload"]["data"]["events"];
        match item["__typename"].as_str() {
            Some("LiveEvent") => {
                let seq = item["seq"].as_u64().expect("seq");
                assert!(seq > last_seq, "seq rises");
                last_seq = seq;
                assert_eq!(
                    item["event"]["inputs"]["text"].as_str().map(str::len),
                    Some(input.len())
                );
                delivered += 1;
            }
            Some("Lagged") => {
                let count = item["missed"].as_u64().expect("missed");
                assert!(count > 0);
                assert!(
                    item["hint"].as_str().is_some_and(|h| h.contains("`after`")),
                    "{item}"
                );
                missed += count;
                notices += 1;
            }
            other => panic!("{other:?} in {next}"),
        }
    }
    assert!(
        notices > 0 && missed > 0,
        "a reader this slow misses events"
    );
    assert_eq!(delivered + missed, REQUESTS * SPANS_PER_REQUEST);
    let metrics = String::from_utf8_lossy(&h.get("/metrics").body).to_string();
    assert!(
        metrics.contains(&format!("hh_live_events_missed_total {missed}\n")),
        "{metrics}"
    );
}

#[test]
fn a_client_that_answers_nothing_is_closed_after_the_idle_timeout() {
    let h = Harness::start_with(|cfg| cfg.idle_timeout = Duration::from_secs(1));
    let key = h.key();
    let mut client = open(&h, Some("graphql-transport-ws"), None).expect("upgrade");
    assert!(client.init(json!({"Authorization": format!("Bearer {key}")})));
    // Read nothing and answer no ping: the frames wait in the socket.
    std::thread::sleep(Duration::from_millis(3_000));
    let socket = &mut client.socket;
    let close = h.rt.block_on(async {
        loop {
            match tokio::time::timeout(PATIENCE, socket.next()).await {
                Ok(Some(Ok(Message::Close(frame)))) => return frame,
                Ok(Some(Ok(_))) => continue,
                other => panic!("a close frame, not {other:?}"),
            }
        }
    });
    let frame = close.expect("a close frame with a code");
    assert_eq!(u16::from(frame.code), 1008, "{frame:?}");
    assert!(frame.reason.contains("not even a pong"), "{frame:?}");

    // A client that answers the pings stays open.
    let mut steady = open(&h, Some("graphql-transport-ws"), None).expect("upgrade");
    assert!(steady.init(json!({"Authorization": format!("Bearer {key}")})));
    let started = std::time::Instant::now();
    let mut pings = 0;
    while started.elapsed() < Duration::from_millis(3_000) {
        let socket = &mut steady.socket;
        let next = h.rt.block_on(async {
            tokio::time::timeout(Duration::from_millis(200), socket.next()).await
        });
        match next {
            Ok(Some(Ok(Message::Text(text)))) if text.as_str().contains("\"ping\"") => {
                pings += 1;
                steady.send(json!({"type": "pong"}));
            }
            Ok(Some(Ok(Message::Close(frame)))) => panic!("closed: {frame:?}"),
            Ok(None | Some(Err(_))) => panic!("the socket ended"),
            Ok(Some(Ok(_))) | Err(_) => {}
        }
    }
    assert!(pings >= 3, "pinged while it answered: {pings}");
}
