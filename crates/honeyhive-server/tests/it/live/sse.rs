//! A server-sent events client for the tests: reads a stream on a thread of
//! its own and hands each message over a channel.

use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::common::Harness;

/// How long a test waits for a message it expects: generous, the machine is shared.
const EVENTUALLY: Duration = Duration::from_secs(60);

/// One message of a stream.
#[derive(Debug, Clone)]
pub struct Message {
    pub event: String,
    pub id: Option<u64>,
    pub data: String,
}

impl Message {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("not json ({e}): {self:?}"))
    }

    pub fn name(&self) -> String {
        self.json()["event_name"].as_str().unwrap_or("").to_string()
    }
}

/// A stream being read.
pub struct Stream {
    messages: mpsc::Receiver<Message>,
}

/// Percent-encodes a query parameter value.
pub fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Parses server-sent events from `reader` into `tx` until the stream ends.
fn read_messages(reader: impl Read, tx: &mpsc::Sender<Message>) {
    let mut message = Message {
        event: String::new(),
        id: None,
        data: String::new(),
    };
    for line in BufReader::new(reader).lines() {
        let Ok(line) = line else { return };
        if line.is_empty() {
            if !message.event.is_empty() || !message.data.is_empty() {
                let done = std::mem::replace(
                    &mut message,
                    Message {
                        event: String::new(),
                        id: None,
                        data: String::new(),
                    },
                );
                if tx.send(done).is_err() {
                    return;
                }
            }
        } else if let Some(value) = line.strip_prefix("event: ") {
            message.event = value.to_string();
        } else if let Some(value) = line.strip_prefix("id: ") {
            message.id = Some(value.parse().expect("ids are numbers"));
        } else if let Some(value) = line.strip_prefix("data: ") {
            message.data.push_str(value);
        }
    }
}

/// Opens `GET /v1/events/stream?{query}` with `key`, resuming after
/// `last_id` if given; the answer's status and body when it is not a stream.
pub fn open(
    h: &Harness,
    key: &str,
    query: &str,
    last_id: Option<u64>,
) -> Result<Stream, (u16, Value)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut request = agent
        .get(h.url(&format!("/v1/events/stream?{query}")))
        .header("Authorization", &format!("Bearer {key}"));
    if let Some(id) = last_id {
        request = request.header("Last-Event-ID", &id.to_string());
    }
    let mut response = request
        .call()
        .expect("the stream request reaches the server");
    let status = response.status().as_u16();
    if status != 200 {
        let body = response.body_mut().read_json().unwrap_or(Value::Null);
        return Err((status, body));
    }
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert_eq!(content_type, "text/event-stream");
    let (tx, messages) = mpsc::channel();
    let reader = response.into_body().into_reader();
    std::thread::spawn(move || read_messages(reader, &tx));
    Ok(Stream { messages })
}

impl Stream {
    /// The next message; panics if none comes within [`EVENTUALLY`].
    pub fn next(&self) -> Message {
        self.messages
            .recv_timeout(EVENTUALLY)
            .expect("a message arrives")
    }

    /// The first message, which must be `ready`; returns its cursor.
    pub fn ready(&self) -> u64 {
        let ready = self.next();
        assert_eq!(ready.event, "ready", "{ready:?}");
        let cursor = ready.json()["cursor"].as_u64().expect("cursor");
        assert_eq!(ready.id, Some(cursor));
        cursor
    }

    /// The next `n` messages.
    pub fn take(&self, n: usize) -> Vec<Message> {
        (0..n).map(|_| self.next()).collect()
    }

    /// Whether the stream ended (the server closed it) within [`EVENTUALLY`],
    /// skipping what it still sent.
    pub fn ends(&self) -> bool {
        loop {
            match self.messages.recv_timeout(EVENTUALLY) {
                Ok(_) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => return true,
                Err(mpsc::RecvTimeoutError::Timeout) => return false,
            }
        }
    }
}
