//! Subscriptions over a WebSocket, with the `graphql-transport-ws` protocol
//! on `GET /graphql`:
//!
//! ```text
//! client                                        server
//! connection_init {payload: {Authorization}} ─> connection_ack, or close 4403 (bad key)
//! subscribe {id, payload: {query, variables}} ─> next {id, payload}* then complete {id},
//!                                                or error {id, payload: [errors]}
//! complete {id}                               ─> (the subscription ends)
//! ping / pong                                 <─> pong / (the server pings every 15 s)
//! ```
//!
//! The key comes in `connection_init`'s payload (`{"Authorization": "Bearer
//! <key>"}` or `{"apiKey": "<key>"}`) or in the upgrade request's
//! `Authorization` header (checked before upgrading: a bad one is a 401).
//! Closing codes are the protocol's: 4400 a message that is not one of its
//! own, 4401 a subscription before `connection_ack`, 4403 a refused key,
//! 4408 no `connection_init` in time, 4409 a subscription id in use, 4429 a
//! second `connection_init`, 4500 a server fault; 1001 when the server stops.
//! A connection holds at most `graphql.max_subscriptions_per_connection`
//! subscriptions, and each is a live subscriber like an SSE stream. A client
//! that does not read what it is sent is dropped after the idle timeout, and
//! one that sends nothing, not even a `pong` to the pings, is closed (1008)
//! after the idle timeout or two pings, whichever is longer.

mod messages;

use std::collections::HashMap;
use std::time::Duration;

use async_graphql::Response;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, header};
use axum::response::Response as HttpResponse;
use futures_util::stream::{self, AbortHandle, BoxStream, SelectAll, StreamExt};
use honeyhive_model::ErrorCode;
use serde_json::Value;

use super::errors::request_error;
use super::{Graphql, Scope};
use crate::api::admission::authenticate;
use crate::api::{ApiError, AppState};
use crate::auth::AuthError;
use crate::store::Tenant;
use messages::{ClientMessage, ServerMessage, close_reason, payload_key};

/// The one subprotocol spoken.
const PROTOCOL: &str = "graphql-transport-ws";
/// Longest silence from the server: a `ping` is sent after it (or after half
/// the idle timeout, if shorter).
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Longest wait to say goodbye to a client that is not reading.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Accepts a WebSocket that speaks `graphql-transport-ws`; a bad
/// `Authorization` header is answered 401 before upgrading.
pub(super) async fn upgrade(
    graphql: Graphql,
    upgrade: WebSocketUpgrade,
    headers: &HeaderMap,
) -> Result<HttpResponse, ApiError> {
    let upgrade = upgrade.protocols([PROTOCOL]);
    if upgrade.selected_protocol().is_none() {
        return Err(ApiError::bad_request(
            "the websocket does not offer the graphql-transport-ws subprotocol",
        )
        .with_hint("open it with `Sec-WebSocket-Protocol: graphql-transport-ws`"));
    }
    let header_tenant = if headers.contains_key(header::AUTHORIZATION) {
        Some(authenticate(&graphql.state, headers).await?)
    } else {
        None
    };
    let limit = graphql.state.config.graphql.max_body_bytes;
    Ok(upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| serve(socket, graphql, header_tenant)))
}

/// What one subscription's stream yields, tagged with its id and the
/// number it was started as (a client may reuse an id it completed while
/// the old stream's end is still on its way).
enum Output {
    Next(String, u64, Response),
    Done(String, u64),
}

/// A running subscription.
struct Running {
    abort: AbortHandle,
    /// Which subscription under its id this is.
    started: u64,
    /// Whether it sent an answer yet: errors before any are an `error` message.
    answered: bool,
}

/// What the connection does next.
enum Step {
    Continue,
    Close(u16, String),
    /// The client left, or stopped reading.
    Gone,
}

/// What woke the connection.
enum Wake {
    InitTimeout,
    Stop,
    KeepAlive,
    Output(Output),
    Received(Option<Result<Message, axum::Error>>),
}

struct Connection {
    socket: WebSocket,
    graphql: Graphql,
    header_tenant: Option<Tenant>,
    initialised: bool,
    tenant: Option<Tenant>,
    running: HashMap<String, Running>,
    started: u64,
    outputs: SelectAll<BoxStream<'static, Output>>,
}

async fn serve(socket: WebSocket, graphql: Graphql, header_tenant: Option<Tenant>) {
    let config = graphql.state.config.clone();
    let mut stopped = graphql.stopped.clone();
    let mut connection = Connection {
        socket,
        graphql,
        header_tenant,
        initialised: false,
        tenant: None,
        running: HashMap::new(),
        started: 0,
        outputs: SelectAll::new(),
    };
    let init_deadline = tokio::time::sleep(config.graphql.connection_init_timeout);
    tokio::pin!(init_deadline);
    let period = KEEP_ALIVE
        .min(config.idle_timeout / 2)
        .max(Duration::from_millis(10));
    let mut keep_alive = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    let send_timeout = config.idle_timeout;
    // A client that answers nothing, not even the pings, for this long is
    // gone or not reading: its socket would hold a connection slot for as
    // long as the kernel buffers the pings.
    let silence_limit = config.idle_timeout.max(period * 2);
    let mut last_heard = tokio::time::Instant::now();
    loop {
        let wake = tokio::select! {
            () = &mut init_deadline, if !connection.initialised => Wake::InitTimeout,
            _ = stopped.wait_for(|stop| *stop) => Wake::Stop,
            _ = keep_alive.tick() => Wake::KeepAlive,
            Some(output) = connection.outputs.next(), if !connection.outputs.is_empty() => {
                Wake::Output(output)
            }
            message = connection.socket.recv() => Wake::Received(message),
        };
        if matches!(wake, Wake::Received(Some(Ok(_)))) {
            last_heard = tokio::time::Instant::now();
        }
        let step = match wake {
            Wake::InitTimeout => Step::Close(4408, "Connection initialisation timeout".into()),
            Wake::Stop => Step::Close(1001, "the server is shutting down".into()),
            Wake::KeepAlive if last_heard.elapsed() > silence_limit => Step::Close(
                1008,
                format!(
                    "nothing heard from the client, not even a pong, for {} s",
                    silence_limit.as_secs()
                ),
            ),
            Wake::KeepAlive => connection.send(&ServerMessage::Ping, send_timeout).await,
            Wake::Output(output) => connection.output(output, send_timeout).await,
            Wake::Received(Some(Ok(Message::Text(text)))) => {
                connection.receive(text.as_str(), send_timeout).await
            }
            Wake::Received(Some(Ok(Message::Binary(_)))) => {
                Step::Close(4400, "binary messages are not graphql-transport-ws".into())
            }
            Wake::Received(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => Step::Continue,
            Wake::Received(Some(Ok(Message::Close(_)) | Err(_)) | None) => Step::Gone,
        };
        match step {
            Step::Continue => {}
            Step::Close(code, reason) => return connection.close(code, reason).await,
            Step::Gone => return,
        }
    }
}

/// The tenant of the key in a `connection_init` `payload`, else the one the
/// upgrade's header named.
async fn authenticate_init(
    state: &AppState,
    header_tenant: Option<&Tenant>,
    payload: Option<&Value>,
) -> Result<Tenant, ApiError> {
    match payload.and_then(payload_key) {
        Some(Ok(key)) => Ok(state.keys.authenticate(state.store.as_ref(), key).await?),
        Some(Err(e)) => Err(e.into()),
        None => header_tenant.cloned().ok_or_else(|| {
            ApiError::from(AuthError::Missing).with_hint(
                "send {\"Authorization\": \"Bearer <key>\"} as connection_init's payload",
            )
        }),
    }
}

impl Connection {
    async fn send(&mut self, message: &ServerMessage<'_>, timeout: Duration) -> Step {
        let text = match serde_json::to_string(message) {
            Ok(text) => text,
            Err(e) => {
                tracing::error!(error = %e, "a graphql-transport-ws message would not encode");
                return Step::Close(4500, "an answer would not encode".into());
            }
        };
        match tokio::time::timeout(timeout, self.socket.send(Message::Text(text.into()))).await {
            Ok(Ok(())) => Step::Continue,
            Ok(Err(_)) | Err(_) => Step::Gone,
        }
    }

    async fn close(mut self, code: u16, reason: String) {
        let frame = CloseFrame {
            code,
            reason: close_reason(reason).into(),
        };
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.socket.send(Message::Close(Some(frame))))
            .await;
    }

    async fn receive(&mut self, text: &str, timeout: Duration) -> Step {
        let message = match serde_json::from_str::<ClientMessage>(text) {
            Ok(message) => message,
            Err(e) => return Step::Close(4400, close_reason(format!("Invalid message: {e}"))),
        };
        match message {
            ClientMessage::ConnectionInit { payload } => {
                if self.initialised {
                    return Step::Close(4429, "Too many initialisation requests".into());
                }
                self.initialised = true;
                let state = &self.graphql.state;
                match authenticate_init(state, self.header_tenant.as_ref(), payload.as_ref()).await
                {
                    Ok(tenant) => {
                        self.tenant = Some(tenant);
                        self.send(&ServerMessage::ConnectionAck, timeout).await
                    }
                    Err(e) if e.code == ErrorCode::Unauthenticated => {
                        Step::Close(4403, format!("Forbidden: {}", e.message))
                    }
                    Err(e) => Step::Close(4500, e.message),
                }
            }
            ClientMessage::Ping {} => self.send(&ServerMessage::Pong, timeout).await,
            ClientMessage::Pong {} => Step::Continue,
            ClientMessage::Subscribe { id, payload } => self.subscribe(id, *payload, timeout).await,
            ClientMessage::Complete { id } => {
                if let Some(running) = self.running.remove(&id) {
                    running.abort.abort();
                }
                Step::Continue
            }
        }
    }

    async fn subscribe(
        &mut self,
        id: String,
        request: async_graphql::Request,
        timeout: Duration,
    ) -> Step {
        let Some(tenant) = self.tenant.clone() else {
            return Step::Close(4401, "Unauthorized".into());
        };
        if self.running.contains_key(&id) {
            return Step::Close(
                4409,
                close_reason(format!("Subscriber for {id} already exists")),
            );
        }
        let most = self
            .graphql
            .state
            .config
            .graphql
            .max_subscriptions_per_connection;
        if self.running.len() >= most {
            let refusal = request_error(
                ApiError::new(
                    ErrorCode::OverBudget,
                    format!("this connection holds its most subscriptions ({most})"),
                )
                .with_hint("complete subscriptions you no longer read, or open another connection"),
            );
            let message = ServerMessage::Error {
                id: &id,
                payload: std::slice::from_ref(&refusal),
            };
            return self.send(&message, timeout).await;
        }
        let request = request.data(Scope {
            state: self.graphql.state.clone(),
            tenant,
        });
        let (answers, abort) = stream::abortable(self.graphql.schema.execute_stream(request));
        self.started += 1;
        let started = self.started;
        let next_id = id.clone();
        let outputs = answers
            .map(move |answer| Output::Next(next_id.clone(), started, answer))
            .chain(stream::once(std::future::ready(Output::Done(
                id.clone(),
                started,
            ))));
        self.running.insert(
            id,
            Running {
                abort,
                started,
                answered: false,
            },
        );
        self.outputs.push(outputs.boxed());
        Step::Continue
    }

    async fn output(&mut self, output: Output, timeout: Duration) -> Step {
        match output {
            Output::Next(id, started, answer) => {
                // Gone: the client completed it; what was on its way is dropped.
                let Some(running) = self.running.get_mut(&id).filter(|r| r.started == started)
                else {
                    return Step::Continue;
                };
                let refused = !running.answered
                    && answer.data == async_graphql::Value::Null
                    && !answer.errors.is_empty();
                if refused {
                    if let Some(running) = self.running.remove(&id) {
                        running.abort.abort();
                    }
                    let message = ServerMessage::Error {
                        id: &id,
                        payload: &answer.errors,
                    };
                    return self.send(&message, timeout).await;
                }
                running.answered = true;
                let message = ServerMessage::Next {
                    id: &id,
                    payload: &answer,
                };
                self.send(&message, timeout).await
            }
            Output::Done(id, started) => {
                if self.running.get(&id).is_none_or(|r| r.started != started) {
                    return Step::Continue;
                }
                self.running.remove(&id);
                self.send(&ServerMessage::Complete { id: &id }, timeout)
                    .await
            }
        }
    }
}
