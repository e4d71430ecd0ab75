//! Agent telemetry events (spec/agent-monitor.md "Input"): JSON lines and
//! whole-file JSON documents → typed event columns, skips and dead letters.
//!
//! A pure stage: bytes in, [`AgentEvents`] out. Each record (a line of a
//! `.jsonl` object, or a whole `.json` object) lands in exactly one bucket
//! of lake.md §2's accounting:
//!
//! * **ok**: an object whose `timestamp` is Unix seconds (int or float) or
//!   an RFC 3339 string with an offset; `type` and `source` strings (or
//!   absent/null: `unknown`, `unknown_agent`).
//! * **skipped**: a blank line (JSON whitespace only, after the `\r` strip).
//! * **dead**: `invalid_utf8`, `json_syntax`, `not_an_object`,
//!   `bad_timestamp` (missing, null, digit-only string, no offset, out of
//!   range…), `bad_event` (`type` or `source` present but not a string),
//!   `line_too_long` (the framer's cap).
//!
//! The half-line rule (a last line without `\n` is not a record until it is
//! completed) belongs to the caller, which frames only up to the last `\n`
//! ([`complete_prefix`]).
//!
//! No payload is kept: the event's target (`data.path`, `data.url`,
//! `data.host`) becomes a 64-bit BLAKE3 digest, which is all the entropy term
//! needs (it tells symbols apart), so paths, URLs and hosts never reach the
//! lake.

use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::frame::LineSink;
use crate::model::dead_letter::{DeadLetter, Reason, RecordStats};

/// The `type` of an event without one (spec "Input").
pub const UNKNOWN_TYPE: &str = "unknown";
/// The agent id of an event without a `source`.
pub const UNKNOWN_AGENT: &str = "unknown_agent";

/// Latest instant accepted: 9999-12-31T23:59:59.999999Z in µs. Later (or
/// earlier than year 0) is `bad_timestamp`: no real telemetry is there, and
/// every table reader can hold the value.
const MAX_TS_US: i64 = 253_402_300_799_999_999;
/// 0000-01-01T00:00:00Z in µs.
const MIN_TS_US: i64 = -62_167_219_200_000_000;

/// The operation class of an event type (spec "Input").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpClass {
    /// `file_read`, `file_write`, `file_delete`, `file_create`.
    File,
    /// `network_request`, `network_response`, `api_call`.
    Network,
    /// Everything else.
    Other,
}

impl OpClass {
    /// Classify an event type (exact, case-sensitive).
    pub fn of(event_type: &str) -> OpClass {
        match event_type {
            "file_read" | "file_write" | "file_delete" | "file_create" => OpClass::File,
            "network_request" | "network_response" | "api_call" => OpClass::Network,
            _ => OpClass::Other,
        }
    }

    /// The `agent_events.op` value.
    pub fn as_str(self) -> &'static str {
        match self {
            OpClass::File => "file",
            OpClass::Network => "network",
            OpClass::Other => "other",
        }
    }
}

/// Decoded events of one input, column by column. Agent ids and event types
/// are interned (few distinct values, many rows).
#[derive(Clone, Debug, Default)]
pub struct AgentEvents {
    /// 1-based line number of each event (1 for a whole-file document).
    pub line: Vec<u64>,
    /// Byte offset of each event's record in the object.
    pub byte_offset: Vec<u64>,
    /// Index into [`AgentEvents::agents`].
    pub agent: Vec<u32>,
    /// Event time, µs since the Unix epoch (UTC).
    pub ts_us: Vec<i64>,
    /// Index into [`AgentEvents::types`].
    pub event_type: Vec<u32>,
    /// 64-bit digest of the target, when the event has one.
    pub target_hash: Vec<Option<i64>>,
    /// Distinct agent ids, in first-seen order.
    pub agents: Vec<String>,
    /// Distinct event types, in first-seen order.
    pub types: Vec<String>,
    agent_ix: FxHashMap<String, u32>,
    type_ix: FxHashMap<String, u32>,
}

impl AgentEvents {
    /// Events held.
    pub fn len(&self) -> usize {
        self.ts_us.len()
    }

    /// True when no event was decoded.
    pub fn is_empty(&self) -> bool {
        self.ts_us.is_empty()
    }

    fn intern(ix: &mut FxHashMap<String, u32>, list: &mut Vec<String>, s: &str) -> u32 {
        if let Some(&i) = ix.get(s) {
            return i;
        }
        let i = u32::try_from(list.len()).expect("fewer than 2^32 distinct values");
        list.push(s.to_string());
        ix.insert(s.to_string(), i);
        i
    }

    fn push(&mut self, line: u64, byte_offset: u64, ev: &Parsed<'_>, ts_us: i64) {
        let agent = Self::intern(
            &mut self.agent_ix,
            &mut self.agents,
            ev.source.as_deref().unwrap_or(UNKNOWN_AGENT),
        );
        let ty = Self::intern(
            &mut self.type_ix,
            &mut self.types,
            ev.event_type.as_deref().unwrap_or(UNKNOWN_TYPE),
        );
        self.line.push(line);
        self.byte_offset.push(byte_offset);
        self.agent.push(agent);
        self.ts_us.push(ts_us);
        self.event_type.push(ty);
        self.target_hash.push(ev.target.as_deref().map(target_hash));
    }
}

/// The 64-bit digest of a target (first 8 bytes of BLAKE3, little endian).
pub fn target_hash(target: &str) -> i64 {
    let h = blake3::hash(target.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&h.as_bytes()[..8]);
    i64::from_le_bytes(b)
}

/// The length of the part of `bytes` that ends with the last `\n`: the
/// complete lines (spec "a last line with no newline is not consumed").
pub fn complete_prefix(bytes: &[u8]) -> usize {
    memchr::memrchr(b'\n', bytes).map_or(0, |i| i + 1)
}

/// Decoder state: a [`LineSink`] for `.jsonl`, [`AgentDecoder::document`]
/// for `.json`.
#[derive(Debug, Default)]
pub struct AgentDecoder {
    /// Decoded events.
    pub events: AgentEvents,
    /// Dead letters, in input order.
    pub dead: Vec<DeadLetter>,
    /// The accounting of lake.md §2.
    pub stats: RecordStats,
    /// Added to every line number (lines already consumed by earlier runs).
    pub line_base: u64,
    /// Added to every byte offset (where this read started in the object).
    pub offset_base: u64,
}

impl AgentDecoder {
    /// Reserve room for `n` more events (e.g. the line count of the bytes
    /// about to be framed), sparing the column vectors their regrowth.
    pub fn reserve(&mut self, n: usize) {
        let e = &mut self.events;
        e.line.reserve(n);
        e.byte_offset.reserve(n);
        e.agent.reserve(n);
        e.ts_us.reserve(n);
        e.event_type.reserve(n);
        e.target_hash.reserve(n);
    }

    /// A decoder for a read that starts at byte `offset_base`, after
    /// `line_base` complete lines.
    pub fn starting_at(offset_base: u64, line_base: u64) -> Self {
        AgentDecoder {
            line_base,
            offset_base,
            ..AgentDecoder::default()
        }
    }

    /// One whole-file JSON document (`.json`): one record.
    pub fn document(&mut self, bytes: &[u8]) {
        self.record(bytes, 1, 0);
    }

    fn dead(&mut self, line: u64, off: u64, reason: Reason, detail: String, raw: &[u8]) {
        self.stats.add_dead();
        self.dead
            .push(DeadLetter::new(Some(line), off, reason, detail, raw));
    }

    fn record(&mut self, raw: &[u8], line: u64, off: u64) {
        let body = raw.strip_suffix(b"\r").unwrap_or(raw);
        if body
            .iter()
            .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.stats.add_skipped();
            return;
        }
        let text = match std::str::from_utf8(body) {
            Ok(t) => t,
            Err(e) => {
                let detail = format!("invalid UTF-8 at byte {}", e.valid_up_to());
                return self.dead(line, off, Reason::InvalidUtf8, detail, raw);
            }
        };
        let fast = fast::parse(text);
        let parsed: Parsed<'_> =
            match fast.map_or_else(|| serde_json::from_str::<Top<'_>>(text), Ok) {
                Ok(Top::Object(p)) => p,
                Ok(Top::NotObject(kind)) => {
                    let detail = format!("the record is a JSON {kind}, not an object");
                    return self.dead(line, off, Reason::NotAnObject, detail, raw);
                }
                Err(e) => {
                    let detail = format!("{} at column {}", classify_json_error(&e), e.column());
                    return self.dead(line, off, Reason::JsonSyntax, detail, raw);
                }
            };
        if parsed.bad_type || parsed.bad_source {
            let field = if parsed.bad_type { "type" } else { "source" };
            let detail = format!("`{field}` is not a string");
            return self.dead(line, off, Reason::BadEvent, detail, raw);
        }
        match timestamp_us(&parsed.timestamp) {
            Ok(ts) => {
                self.stats.add_ok();
                self.events.push(line, off, &parsed, ts);
            }
            Err(why) => self.dead(line, off, Reason::BadTimestamp, why.to_string(), raw),
        }
    }
}

impl LineSink for AgentDecoder {
    fn line(&mut self, line: &[u8], line_no: u64, byte_offset: u64) {
        self.record(
            line,
            self.line_base + line_no,
            self.offset_base + byte_offset,
        );
    }

    fn too_long(&mut self, len: u64, raw_sha256: [u8; 32], line_no: u64, byte_offset: u64) {
        self.stats.add_dead();
        self.dead.push(DeadLetter {
            line: Some(self.line_base + line_no),
            byte_offset: self.offset_base + byte_offset,
            reason: Reason::LineTooLong,
            detail: format!("line of {len} bytes exceeds the decoder's cap"),
            raw_sha256,
        });
    }
}

/// serde_json's error text without its position suffix (kept apart).
fn classify_json_error(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Why a timestamp is not accepted (the `dlq.detail` text).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadTimestamp {
    /// No `timestamp` key.
    Missing,
    /// `null`.
    Null,
    /// A string of digits (ambiguous unit; spec: a dead letter).
    DigitString,
    /// A string that is not RFC 3339 with an offset.
    NotRfc3339,
    /// A number or instant outside years 0–9999.
    OutOfRange,
    /// Not a number or a string (bool, array, object).
    WrongType,
}

impl fmt::Display for BadTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BadTimestamp::Missing => "no timestamp",
            BadTimestamp::Null => "timestamp is null",
            BadTimestamp::DigitString => {
                "timestamp is a digit-only string (use a number for Unix seconds)"
            }
            BadTimestamp::NotRfc3339 => "timestamp is not RFC 3339 with an offset",
            BadTimestamp::OutOfRange => "timestamp is outside years 0-9999",
            BadTimestamp::WrongType => "timestamp is neither a number nor a string",
        })
    }
}

/// The event time in µs since the epoch (spec "Input": numbers are Unix
/// seconds in UTC; strings are RFC 3339 with an offset).
pub fn timestamp_us(ts: &Option<Ts<'_>>) -> Result<i64, BadTimestamp> {
    let us = match ts {
        None => return Err(BadTimestamp::Missing),
        Some(Ts::Null) => return Err(BadTimestamp::Null),
        Some(Ts::Other) => return Err(BadTimestamp::WrongType),
        Some(Ts::Int(s)) => s.checked_mul(1_000_000).ok_or(BadTimestamp::OutOfRange)?,
        Some(Ts::UInt(s)) => i64::try_from(*s)
            .ok()
            .and_then(|s| s.checked_mul(1_000_000))
            .ok_or(BadTimestamp::OutOfRange)?,
        Some(Ts::Float(s)) => {
            let us = (s * 1e6).round();
            if !(us.is_finite() && us.abs() < 9.2e18) {
                return Err(BadTimestamp::OutOfRange);
            }
            us as i64
        }
        Some(Ts::Str(s)) => rfc3339_us(s)?,
    };
    if (MIN_TS_US..=MAX_TS_US).contains(&us) {
        Ok(us)
    } else {
        Err(BadTimestamp::OutOfRange)
    }
}

/// RFC 3339 (`T`, `t` or space between date and time; `Z`, `z` or
/// `±hh:mm`; any fraction, cut to µs) → µs since the epoch.
pub fn rfc3339_us(s: &str) -> Result<i64, BadTimestamp> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BadTimestamp::DigitString);
    }
    let dt = chrono::DateTime::parse_from_rfc3339(s).map_err(|_| BadTimestamp::NotRfc3339)?;
    Ok(dt.timestamp_micros())
}

/// A `timestamp` value as written.
#[derive(Clone, Debug, PartialEq)]
pub enum Ts<'a> {
    /// A JSON integer that fits i64.
    Int(i64),
    /// A JSON integer above i64::MAX.
    UInt(u64),
    /// Any other JSON number.
    Float(f64),
    /// A string.
    Str(Cow<'a, str>),
    /// `null`.
    Null,
    /// A bool, array or object.
    Other,
}

/// The fields of one event object the monitor reads; everything else is
/// skipped without being materialised. Duplicate keys: the last one wins
/// (as Python's `json.loads`).
#[derive(Debug, Default, PartialEq)]
struct Parsed<'a> {
    event_type: Option<Cow<'a, str>>,
    source: Option<Cow<'a, str>>,
    timestamp: Option<Ts<'a>>,
    target: Option<Cow<'a, str>>,
    /// `type` present with a non-string, non-null value.
    bad_type: bool,
    /// `source` present with a non-string, non-null value.
    bad_source: bool,
}

/// A top-level JSON value: an event object, or the kind of what it was.
#[derive(Debug, PartialEq)]
enum Top<'a> {
    Object(Parsed<'a>),
    NotObject(&'static str),
}

impl<'de> de::Deserialize<'de> for Top<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TopVisitor)
    }
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Top<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Top::NotObject("bool"))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Top::NotObject("number"))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Top::NotObject("number"))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Top::NotObject("number"))
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Top::NotObject("string"))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Top::NotObject("null"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Top::NotObject("array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut p = Parsed::default();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match key.as_ref() {
                "type" => {
                    let (v, bad) = map.next_value::<Str<'de>>()?.split();
                    p.event_type = v;
                    p.bad_type = bad;
                }
                "source" => {
                    let (v, bad) = map.next_value::<Str<'de>>()?.split();
                    p.source = v;
                    p.bad_source = bad;
                }
                "timestamp" => p.timestamp = Some(map.next_value::<TsDe<'de>>()?.0),
                "data" => p.target = map.next_value::<Target<'de>>()?.0,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Top::Object(p))
    }
}

/// A value that should be a string: the string, `null`, or anything else.
enum Str<'a> {
    Text(Cow<'a, str>),
    Null,
    Other,
}

impl<'a> Str<'a> {
    /// The string (none for null or a wrong type) and whether the type was wrong.
    fn split(self) -> (Option<Cow<'a, str>>, bool) {
        match self {
            Str::Text(s) => (Some(s), false),
            Str::Null => (None, false),
            Str::Other => (None, true),
        }
    }
}

impl<'de> de::Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(Str::Text(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
                Ok(Str::Text(Cow::Owned(s.to_string())))
            }
            fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
                Ok(Str::Text(Cow::Owned(s)))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Str::Null)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Str::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Str::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Str::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Str::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Str::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Str::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// A `timestamp` value (see [`Ts`]).
struct TsDe<'a>(Ts<'a>);

impl<'de> de::Deserialize<'de> for TsDe<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TsDe<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(TsDe(Ts::Int(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(TsDe(i64::try_from(v).map_or(Ts::UInt(v), Ts::Int)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(TsDe(Ts::Float(v)))
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(TsDe(Ts::Str(Cow::Borrowed(s))))
            }
            fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
                Ok(TsDe(Ts::Str(Cow::Owned(s.to_string()))))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(TsDe(Ts::Null))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(TsDe(Ts::Other))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(TsDe(Ts::Other))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(TsDe(Ts::Other))
            }
        }
        d.deserialize_any(V)
    }
}

/// The target of a `data` value: the first string of `path`, `url`, `host`
/// (in that order of preference, whatever the key order); none when `data`
/// is not an object or has none of them as a string.
struct Target<'a>(Option<Cow<'a, str>>);

impl<'de> de::Deserialize<'de> for Target<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Target<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                // Slots for path, url, host; a later duplicate key replaces
                // an earlier one (last wins), a non-string clears the slot.
                let mut slots: [Option<Cow<'de, str>>; 3] = [None, None, None];
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    let slot = match key.as_ref() {
                        "path" => 0,
                        "url" => 1,
                        "host" => 2,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    slots[slot] = map.next_value::<Str<'de>>()?.split().0;
                }
                let [p, u, h] = slots;
                Ok(Target(p.or(u).or(h)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Target(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Target(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Target(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Target(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Target(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Target(None))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Target(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A fast path for the usual event shape: a flat object whose strings have
/// no escapes, and whose `data` is a flat object. It returns `None` for
/// anything else (escapes, nesting, any syntax it does not accept), and
/// serde_json then decides, so every error and every unusual document gets
/// serde's treatment; when it returns a value it is the one serde's visitor
/// would give (a property test checks this).
mod fast {
    use std::borrow::Cow;

    use super::{Parsed, Top, Ts};

    struct Cur<'a> {
        s: &'a str,
        b: &'a [u8],
        i: usize,
    }

    enum Scalar<'a> {
        Text(&'a str),
        Null,
        Other,
    }

    impl<'a> Cur<'a> {
        fn ws(&mut self) {
            while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
                self.i += 1;
            }
        }
        fn peek(&self) -> Option<u8> {
            self.b.get(self.i).copied()
        }
        fn eat(&mut self, c: u8) -> Option<()> {
            (self.peek() == Some(c)).then(|| self.i += 1)
        }
        fn lit(&mut self, w: &[u8]) -> Option<()> {
            self.b[self.i..].starts_with(w).then(|| self.i += w.len())
        }
        /// A string without escapes or control characters.
        fn string(&mut self) -> Option<&'a str> {
            self.eat(b'"')?;
            let start = self.i;
            let end = start + memchr::memchr2(b'"', b'\\', &self.b[start..])?;
            if self.b[end] != b'"' || self.b[start..end].iter().any(|&c| c < 0x20) {
                return None;
            }
            self.i = end + 1;
            // Both ends sit next to an ASCII quote: char boundaries.
            Some(&self.s[start..end])
        }
        fn digits(&mut self) -> usize {
            let st = self.i;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.i += 1;
            }
            self.i - st
        }
        /// A number in strict JSON grammar; `true` when it is an integer.
        fn number(&mut self) -> Option<(&'a str, bool)> {
            let st = self.i;
            let _ = self.eat(b'-');
            match self.peek()? {
                b'0' => self.i += 1,
                b'1'..=b'9' => {
                    self.digits();
                }
                _ => return None,
            }
            let mut int = true;
            if self.eat(b'.').is_some() {
                int = false;
                (self.digits() > 0).then_some(())?;
            }
            if let Some(b'e' | b'E') = self.peek() {
                int = false;
                self.i += 1;
                if let Some(b'+' | b'-') = self.peek() {
                    self.i += 1;
                }
                (self.digits() > 0).then_some(())?;
            }
            Some((&self.s[st..self.i], int))
        }
        /// A string, null, bool or number; nested values are not handled.
        fn scalar(&mut self) -> Option<Scalar<'a>> {
            match self.peek()? {
                b'"' => self.string().map(Scalar::Text),
                b'n' => self.lit(b"null").map(|()| Scalar::Null),
                b't' => self.lit(b"true").map(|()| Scalar::Other),
                b'f' => self.lit(b"false").map(|()| Scalar::Other),
                b'-' | b'0'..=b'9' => {
                    let (n, int) = self.number()?;
                    // serde_json refuses floats out of f64 range.
                    (int || n.parse::<f64>().ok()?.is_finite()).then_some(Scalar::Other)
                }
                _ => None,
            }
        }
        fn timestamp(&mut self) -> Option<Ts<'a>> {
            match self.peek()? {
                b'"' => self.string().map(|s| Ts::Str(Cow::Borrowed(s))),
                b'n' => self.lit(b"null").map(|()| Ts::Null),
                b't' => self.lit(b"true").map(|()| Ts::Other),
                b'f' => self.lit(b"false").map(|()| Ts::Other),
                b'-' | b'0'..=b'9' => {
                    let (n, int) = self.number()?;
                    if int {
                        // Beyond i64: leave it to serde (u64 or f64 there);
                        // serde_json reads `-0` as the float -0.0.
                        let v = n.parse::<i64>().ok()?;
                        Some(if v == 0 && n.starts_with('-') {
                            Ts::Float(-0.0)
                        } else {
                            Ts::Int(v)
                        })
                    } else {
                        let f = n.parse::<f64>().ok()?;
                        f.is_finite().then_some(Ts::Float(f))
                    }
                }
                _ => None,
            }
        }
        /// `data`: a flat object (its first string of path, url, host), or
        /// a scalar (no target).
        fn data(&mut self) -> Option<Option<&'a str>> {
            if self.peek()? != b'{' {
                return self.scalar().map(|_| None);
            }
            self.i += 1;
            let mut slots: [Option<&'a str>; 3] = [None, None, None];
            self.ws();
            if self.eat(b'}').is_none() {
                loop {
                    let key = self.string()?;
                    self.ws();
                    self.eat(b':')?;
                    self.ws();
                    let v = match self.scalar()? {
                        Scalar::Text(s) => Some(s),
                        Scalar::Null | Scalar::Other => None,
                    };
                    match key {
                        "path" => slots[0] = v,
                        "url" => slots[1] = v,
                        "host" => slots[2] = v,
                        _ => {}
                    }
                    self.ws();
                    match self.peek()? {
                        b',' => {
                            self.i += 1;
                            self.ws();
                        }
                        b'}' => {
                            self.i += 1;
                            break;
                        }
                        _ => return None,
                    }
                }
            }
            let [p, u, h] = slots;
            Some(p.or(u).or(h))
        }
    }

    /// The event, or `None`: let serde_json decide.
    pub(super) fn parse(s: &str) -> Option<Top<'_>> {
        let mut c = Cur {
            s,
            b: s.as_bytes(),
            i: 0,
        };
        let mut p = Parsed::default();
        c.ws();
        c.eat(b'{')?;
        c.ws();
        if c.eat(b'}').is_none() {
            loop {
                let key = c.string()?;
                c.ws();
                c.eat(b':')?;
                c.ws();
                match key {
                    "type" | "source" => {
                        let (v, bad) = match c.scalar()? {
                            Scalar::Text(s) => (Some(Cow::Borrowed(s)), false),
                            Scalar::Null => (None, false),
                            Scalar::Other => (None, true),
                        };
                        if key == "type" {
                            (p.event_type, p.bad_type) = (v, bad);
                        } else {
                            (p.source, p.bad_source) = (v, bad);
                        }
                    }
                    "timestamp" => p.timestamp = Some(c.timestamp()?),
                    "data" => p.target = c.data()?.map(Cow::Borrowed),
                    _ => {
                        c.scalar()?;
                    }
                }
                c.ws();
                match c.peek()? {
                    b',' => {
                        c.i += 1;
                        c.ws();
                    }
                    b'}' => {
                        c.i += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        c.ws();
        (c.i == c.b.len()).then_some(Top::Object(p))
    }

    #[cfg(test)]
    pub(super) fn serde(s: &str) -> Option<Top<'_>> {
        serde_json::from_str(s).ok()
    }
}

#[cfg(test)]
mod tests;
