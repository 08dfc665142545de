//! The lean, owned form of a finished span: what the recording path produces and the
//! export worker encodes. Kept small on purpose: static keys are not copied, session
//! and resource attributes are shared per session and added at encode time.

use std::borrow::Cow;
use std::sync::Arc;

use honeyhive_model::EventType;
use honeyhive_model::attributes as keys;

/// An attribute key; macro-generated keys are `'static` and never allocated.
pub(crate) type AttrKey = Cow<'static, str>;

/// An attribute value with the OTLP scalar types the HoneyHive ingest reads.
#[derive(Debug, Clone)]
pub(crate) enum AttrValue {
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(Cow<'static, str>),
    /// A short string copied inline: most captured `&str` arguments fit, and copying
    /// them here saves an allocation on the caller's thread and a free on the worker.
    Short(ShortStr),
}

impl PartialEq for AttrValue {
    fn eq(&self, other: &AttrValue) -> bool {
        match (self, other) {
            (AttrValue::Bool(a), AttrValue::Bool(b)) => a == b,
            (AttrValue::Int(a), AttrValue::Int(b)) => a == b,
            (AttrValue::Double(a), AttrValue::Double(b)) => a == b,
            _ => match (self.as_str(), other.as_str()) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            },
        }
    }
}

/// Up to [`ShortStr::CAPACITY`] bytes of UTF-8 stored inline.
#[derive(Clone, Copy)]
pub(crate) struct ShortStr {
    len: u8,
    bytes: [u8; ShortStr::CAPACITY],
}

impl ShortStr {
    /// Keeps [`AttrValue`] at 32 bytes, the size its `Cow` variant already needs.
    pub(crate) const CAPACITY: usize = 22;

    fn new(s: &str) -> Option<ShortStr> {
        if s.len() > Self::CAPACITY {
            return None;
        }
        let mut bytes = [0u8; Self::CAPACITY];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        Some(ShortStr {
            len: s.len() as u8,
            bytes,
        })
    }

    pub(crate) fn as_str(&self) -> &str {
        // Always valid: the bytes were copied from a `&str`.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl std::fmt::Debug for ShortStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl AttrValue {
    /// A string value copied from `s` (inline when short).
    pub(crate) fn string(s: &str) -> AttrValue {
        match ShortStr::new(s) {
            Some(short) => AttrValue::Short(short),
            None => AttrValue::Str(Cow::Owned(s.to_owned())),
        }
    }

    /// The value when it is a string.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            AttrValue::Str(s) => Some(s),
            AttrValue::Short(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// Approximate heap + inline cost, for the queue's byte budget.
    pub(crate) fn approx_bytes(&self) -> usize {
        match self {
            AttrValue::Str(Cow::Owned(s)) => 32 + s.len(),
            _ => 32,
        }
    }

    pub(crate) fn from_otel(value: opentelemetry::Value) -> AttrValue {
        use opentelemetry::Value;
        match value {
            Value::Bool(b) => AttrValue::Bool(b),
            Value::I64(i) => AttrValue::Int(i),
            Value::F64(f) => AttrValue::Double(f),
            Value::String(s) => AttrValue::string(s.as_str()),
            other => AttrValue::Str(Cow::Owned(other.to_string())),
        }
    }
}

/// Who a span belongs to: shared by all spans of one session.
#[derive(Debug)]
pub(crate) struct SessionInfo {
    pub(crate) session_id: Arc<str>,
    pub(crate) project: Option<Arc<str>>,
    pub(crate) source: Arc<str>,
}

/// Span status as OTLP knows it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SpanStatus {
    Unset,
    Ok,
    Error(String),
}

/// A span event (exceptions, or events added through the OpenTelemetry API).
#[derive(Debug, Clone)]
pub(crate) struct SpanEvent {
    pub(crate) name: Cow<'static, str>,
    pub(crate) time_unix_nano: u64,
    pub(crate) attributes: Vec<(AttrKey, AttrValue)>,
}

/// A span being recorded or finished.
#[derive(Debug)]
pub(crate) struct SpanRecord {
    pub(crate) trace_id: [u8; 16],
    pub(crate) span_id: [u8; 8],
    pub(crate) parent_span_id: Option<[u8; 8]>,
    pub(crate) name: Cow<'static, str>,
    /// Encoded as `honeyhive_event_type` (and mirrored into metadata) by the worker
    /// rather than stored as attributes on every span.
    pub(crate) event_type: EventType,
    /// The name given explicitly, encoded as `honeyhive_event_name` (and its mirror).
    pub(crate) event_name: Option<Cow<'static, str>>,
    pub(crate) start_unix_nano: u64,
    pub(crate) end_unix_nano: u64,
    pub(crate) session: Arc<SessionInfo>,
    pub(crate) attributes: Vec<(AttrKey, AttrValue)>,
    pub(crate) events: Vec<SpanEvent>,
    pub(crate) status: SpanStatus,
    /// Head-sampling decision; unsampled spans are only recorded to keep errors.
    pub(crate) sampled: bool,
}

/// Records whose buffers grew past these are not recycled (their memory is returned).
const MAX_RECYCLED_ATTRIBUTES: usize = 64;
const MAX_RECYCLED_EVENTS: usize = 8;

impl SpanRecord {
    /// An empty record for `session`, with room for `attributes` attributes.
    pub(crate) fn blank(session: Arc<SessionInfo>, attributes: usize) -> Box<SpanRecord> {
        Box::new(SpanRecord {
            trace_id: [0; 16],
            span_id: [0; 8],
            parent_span_id: None,
            name: Cow::Borrowed(""),
            event_type: EventType::Tool,
            event_name: None,
            start_unix_nano: 0,
            end_unix_nano: 0,
            session,
            attributes: Vec::with_capacity(attributes),
            events: Vec::new(),
            status: SpanStatus::Unset,
            sampled: true,
        })
    }

    /// Empty the record so the export worker can hand it back to a producer thread:
    /// the box and the attribute list are reused, so the steady state allocates
    /// nothing per span and frees nothing across threads (glibc arena contention).
    /// `false` when its buffers grew too large to keep around.
    pub(crate) fn clear_for_reuse(&mut self) -> bool {
        self.attributes.clear();
        self.events.clear();
        self.name = Cow::Borrowed("");
        self.event_name = None;
        self.status = SpanStatus::Unset;
        self.attributes.capacity() <= MAX_RECYCLED_ATTRIBUTES
            && self.events.capacity() <= MAX_RECYCLED_EVENTS
    }

    /// The event type and name attributes as the Python SDK sets them, in its order;
    /// an attribute recorded under the same key (through the OpenTelemetry API) wins.
    pub(crate) fn event_attributes(&self) -> impl Iterator<Item = (&'static str, &str)> {
        let name = self.event_name.as_deref();
        [
            Some((keys::EVENT_TYPE, self.event_type.as_str())),
            name.map(|name| (keys::EVENT_NAME, name)),
            // The Python SDK mirrors these into metadata; the ingest and UI read them there.
            Some((keys::METADATA_EVENT_TYPE, self.event_type.as_str())),
            name.map(|name| (keys::METADATA_EVENT_NAME, name)),
        ]
        .into_iter()
        .flatten()
        .filter(|(key, _)| !self.attributes.iter().any(|(k, _)| k == key))
    }

    /// Set `honeyhive_duration_ms` from the start and end times (done by the export
    /// worker, off the caller's thread).
    pub(crate) fn set_duration(&mut self) {
        let duration_ms =
            self.end_unix_nano.saturating_sub(self.start_unix_nano) as f64 / 1_000_000.0;
        self.set(
            Cow::Borrowed(keys::DURATION_MS),
            AttrValue::Double(duration_ms),
        );
    }

    /// Set an attribute, replacing an earlier value for the same key (OTel semantics).
    pub(crate) fn set(&mut self, key: AttrKey, value: AttrValue) {
        if let Some(slot) = self.attributes.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
        } else {
            self.attributes.push((key, value));
        }
    }

    /// Approximate size in memory, for the queue's byte cap.
    pub(crate) fn approx_bytes(&self) -> usize {
        let mut total = 160 + self.name.len();
        for (key, value) in &self.attributes {
            total += value.approx_bytes()
                + match key {
                    Cow::Owned(k) => k.len() + 24,
                    Cow::Borrowed(_) => 24,
                };
        }
        for event in &self.events {
            total += 64
                + event
                    .attributes
                    .iter()
                    .map(|(_, v)| v.approx_bytes() + 24)
                    .sum::<usize>();
        }
        total
    }
}

/// Current wall-clock time in nanoseconds since the Unix epoch.
pub(crate) fn now_unix_nano() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Fast thread-local id generator (xorshift128+, seeded per thread from the std
/// hasher's random keys). Ids only need to be unique, not unpredictable.
pub(crate) mod ids {
    use std::cell::Cell;
    use std::hash::{BuildHasher, Hasher};

    thread_local! {
        static STATE: Cell<(u64, u64)> = Cell::new(seed());
    }

    fn seed() -> (u64, u64) {
        let random = std::collections::hash_map::RandomState::new();
        let mut h1 = random.build_hasher();
        h1.write_u64(super::now_unix_nano());
        let mut h2 = random.build_hasher();
        h2.write_usize(&h1 as *const _ as usize);
        h2.write_u64(h1.finish());
        (h1.finish() | 1, h2.finish() | 1)
    }

    fn next() -> u64 {
        STATE.with(|cell| {
            let (mut s1, s0) = cell.get();
            let result = s0.wrapping_add(s1);
            s1 ^= s1 << 23;
            let s1 = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
            cell.set((s0, s1));
            result
        })
    }

    /// A non-zero 8-byte span id.
    pub(crate) fn span_id() -> [u8; 8] {
        loop {
            let v = next();
            if v != 0 {
                return v.to_be_bytes();
            }
        }
    }

    /// A non-zero 16-byte trace id: the time in milliseconds, then random bits.
    ///
    /// A span's event id starts with the trace id's first 8 bytes, and a store
    /// indexes events by id. Random ids land each new event on a random leaf of
    /// that index; time-first ids land on the last few (as AWS X-Ray's and UUIDv7
    /// do). The low 8 bytes, which trace-id-ratio sampling reads, stay random.
    pub(crate) fn trace_id() -> [u8; 16] {
        let millis = super::now_unix_nano() / 1_000_000;
        let high = (millis << 16) | (next() & 0xffff);
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&high.to_be_bytes());
        out[8..].copy_from_slice(&span_id());
        out
    }

    /// A new session id: a UUIDv7, time first, for the same reason as [`trace_id`]
    /// (a session's events are indexed by session id).
    ///
    /// Its random bits come from this thread's generator: `Uuid::now_v7` asks the
    /// OS (a `getrandom` call) for every id.
    pub(crate) fn session_id() -> String {
        let millis = super::now_unix_nano() / 1_000_000;
        let mut random = [0u8; 10];
        random[..8].copy_from_slice(&next().to_be_bytes());
        random[8..].copy_from_slice(&next().to_be_bytes()[..2]);
        uuid::Builder::from_unix_timestamp_millis(millis, &random)
            .into_uuid()
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Arc<SessionInfo> {
        Arc::new(SessionInfo {
            session_id: Arc::from("s"),
            project: None,
            source: Arc::from("dev"),
        })
    }

    #[test]
    fn ids_minted_later_sort_later_and_keep_random_low_halves() {
        let first = ids::trace_id();
        let first_session = ids::session_id();
        std::thread::sleep(std::time::Duration::from_millis(3));
        let later: Vec<[u8; 16]> = (0..64).map(|_| ids::trace_id()).collect();
        assert!(later.iter().all(|id| id[..8] > first[..8]));
        // Sampling reads the low half: it must not repeat between ids.
        let lows: std::collections::HashSet<&[u8]> = later.iter().map(|id| &id[8..]).collect();
        assert_eq!(lows.len(), later.len());
        // The high half starts with the time in milliseconds.
        let millis = u64::from_be_bytes(later[0][..8].try_into().unwrap()) >> 16;
        let now = now_unix_nano() / 1_000_000;
        assert!(now - millis < 60_000, "{millis} vs {now}");
        assert!(ids::session_id() > first_session);
        assert_eq!(
            uuid::Uuid::parse_str(&first_session)
                .unwrap()
                .get_version_num(),
            7
        );
    }

    #[test]
    fn a_recycled_record_keeps_nothing_of_its_previous_span() {
        let mut record = SpanRecord::blank(session(), 4);
        record.name = Cow::Owned("first".to_owned());
        record.event_type = EventType::Tool;
        record.event_name = Some(Cow::Borrowed("first"));
        record.set(Cow::Borrowed("honeyhive_inputs.a"), AttrValue::Int(1));
        record.status = SpanStatus::Error("boom".to_owned());
        record.events.push(SpanEvent {
            name: Cow::Borrowed("exception"),
            time_unix_nano: 1,
            attributes: Vec::new(),
        });
        assert!(record.clear_for_reuse());
        assert!(record.attributes.is_empty());
        assert!(record.events.is_empty());
        assert_eq!(record.status, SpanStatus::Unset);
        assert_eq!(record.name, "");
        assert_eq!(record.event_name, None);
        assert!(record.attributes.capacity() >= 4, "the buffer is kept");
    }

    #[test]
    fn records_that_grew_large_are_not_recycled() {
        let mut record = SpanRecord::blank(session(), 1);
        for i in 0..=MAX_RECYCLED_ATTRIBUTES {
            record.set(Cow::Owned(format!("k{i}")), AttrValue::Int(1));
        }
        assert!(!record.clear_for_reuse());
    }

    #[test]
    fn event_attributes_follow_the_python_order_and_yield_to_explicit_ones() {
        let mut record = SpanRecord::blank(session(), 1);
        record.event_type = EventType::Model;
        record.event_name = Some(Cow::Borrowed("call"));
        let keys: Vec<_> = record.event_attributes().collect();
        assert_eq!(
            keys,
            [
                ("honeyhive_event_type", "model"),
                ("honeyhive_event_name", "call"),
                ("honeyhive_metadata.event_type", "model"),
                ("honeyhive_metadata.event_name", "call"),
            ]
        );
        record.set(
            Cow::Borrowed("honeyhive_event_type"),
            AttrValue::Str(Cow::Borrowed("chain")),
        );
        record.event_name = None;
        let keys: Vec<_> = record.event_attributes().map(|(k, _)| k).collect();
        assert_eq!(keys, ["honeyhive_metadata.event_type"]);
    }

    #[test]
    fn the_duration_is_derived_from_start_and_end() {
        let mut record = SpanRecord::blank(session(), 1);
        record.start_unix_nano = 1_000_000;
        record.end_unix_nano = 3_500_000;
        record.set_duration();
        assert_eq!(
            record.attributes,
            [(
                Cow::Borrowed("honeyhive_duration_ms"),
                AttrValue::Double(2.5)
            )]
        );
    }
}
