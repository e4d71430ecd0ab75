//! DECNET `sessrec` shards → per-sid sessions (behave-shell.md §1.2–1.9).
//!
//! A shard interleaves the lines of many sessions (§1.2). The decoder reads
//! each line once, files it under its `sid`, and gives every sid exactly the
//! event list the reference reader (§1.8) gives for it: file order, rejected
//! lines dropped, header / resize / sentinel lines excluded, each `d` in the
//! char model of §1.9. The payload text of all sessions lives in one flat
//! `Vec<Char>`; events hold offsets into it (STYLE.md §7).
//!
//! Every line lands in exactly one bucket (lake.md §2):
//!
//! | bucket | lines |
//! |---|---|
//! | ok | an event the reference keeps; the first valid header of a sid |
//! | skipped | blank line, resize (`ch:"r"`), truncation sentinel, duplicate header, a sid'd object with no `t`/`ch`/`hdr` |
//! | dead | `json_syntax`, `not_an_object`, `bad_sid`, `bad_t`, `bad_ch`, `bad_d`, `bad_header`, `line_too_long` |
//!
//! Where our classification is stricter than the reference reader, the
//! line is one the reference would also drop, except for the deviations
//! listed on [`SessrecDecoder`].

use super::frame::{self, LineSink, MAX_LINE_BYTES};
use super::json::{chars_to_string, chars_to_string_lossy, Node, Tape};
use crate::model::dead_letter::{DeadLetter, Reason, RecordStats, SkipRule};
use crate::model::event::{is_surrogate, Channel, Char, Event};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A fast non-cryptographic hasher for the sid index (the Fx hash of
/// rustc). Sids come from the input, but a collision only costs time, and
/// a shard's sid count is small.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes([
                c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
            ]));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type SidIndex = HashMap<Box<[Char]>, usize, BuildHasherDefault<FxHasher>>;

/// The facts of a session's header line (§1.3). The extractor never reads
/// them (§1.5); the `sessions` table does.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    /// `hdr.version` (sessrec writes 2).
    pub version: u32,
    /// Terminal columns.
    pub width: u32,
    /// Terminal rows.
    pub height: u32,
    /// Wall-clock epoch seconds when the header was written; `None` when
    /// absent or `null`.
    pub timestamp: Option<f64>,
    /// `hdr.env.TERM`, lone surrogates replaced by U+FFFD. Client-controlled
    /// text: a label for display, never a path component.
    pub term: Option<String>,
}

/// One kept event: `d` is `chars[start..start + len]` of the shard buffer.
///
/// Equality compares `t` by its bits, so a NaN `t` (valid input, §1.8)
/// equals itself and `-0.0` differs from `0.0`: two decodes agree exactly.
#[derive(Clone, Copy, Debug)]
pub struct RawEvent {
    /// `float(t)`.
    pub t: f64,
    /// `i` or `o`.
    pub ch: Channel,
    /// Offset of `d` in the shard's char buffer.
    pub start: usize,
    /// Length of `d` in chars.
    pub len: usize,
}

impl PartialEq for RawEvent {
    fn eq(&self, other: &Self) -> bool {
        self.t.to_bits() == other.t.to_bits()
            && self.ch == other.ch
            && self.start == other.start
            && self.len == other.len
    }
}

/// Everything one shard says about one sid.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionRecord {
    /// The session id, exactly as in the lines.
    pub sid: String,
    /// The first valid header line of the sid, if any.
    pub header: Option<Header>,
    /// The events of §1.8, in file order.
    pub events: Vec<RawEvent>,
    /// A truncation sentinel was seen (§1.2 per-session cap).
    pub truncated: bool,
    /// The reference reader raises `OverflowError` for this sid: an
    /// otherwise valid event line has an int `t` too large for a float, and
    /// Python's `float(t)` raises instead of returning. The reference then
    /// yields nothing for the session, so parity means status `error`, no
    /// observations. The line itself is a `bad_t` dead letter.
    pub t_overflow: bool,
    /// Lines attributed to this sid (every bucket).
    pub lines: u64,
    /// The 1-based number of the last line attributed to this sid.
    pub last_line: u64,
}

impl SessionRecord {
    /// The events as the engine takes them, borrowing `d` from `chars` (the
    /// [`ShardSessions::chars`] buffer this record came with).
    pub fn events<'a>(&self, chars: &'a [Char]) -> Vec<Event<'a>> {
        self.events
            .iter()
            .map(|e| Event::new(e.t, e.ch, &chars[e.start..e.start + e.len]))
            .collect()
    }

    /// Number of input (`i`) events.
    pub fn input_events(&self) -> usize {
        self.events
            .iter()
            .filter(|e| e.ch == Channel::Input)
            .count()
    }

    /// Number of output (`o`) events.
    pub fn output_events(&self) -> usize {
        self.events
            .iter()
            .filter(|e| e.ch == Channel::Output)
            .count()
    }
}

/// The decoded shard: sessions in first-seen order plus the accounting.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ShardSessions {
    /// All event payloads of the shard, back to back.
    pub chars: Vec<Char>,
    /// One record per sid, in the order the sid first appeared.
    pub sessions: Vec<SessionRecord>,
    /// Dead letters, in line order.
    pub dead: Vec<DeadLetter>,
    /// Line accounting; `read == ok + skipped + dead`.
    pub stats: RecordStats,
}

/// Push decoder for one shard: feed it lines (from [`frame`] or your own
/// framing), then [`finish`](SessrecDecoder::finish).
///
/// Deviations from the reference reader, all on input sessrec never writes:
/// * an empty `sid` is `bad_sid` (the reference would group it; DECNET's
///   calibration loader skips non-truthy sids, and no trigger names it);
/// * a `sid` holding a lone surrogate (an invalid byte or a `\uD8xx`
///   escape) is `bad_sid`: it cannot be stored in a Utf8 column, and
///   sessrec writes UUIDs;
/// * a line longer than [`MAX_LINE_BYTES`] is `line_too_long` (memory bound);
/// * nesting deeper than [`super::json::MAX_DEPTH`], see there.
#[derive(Debug, Default)]
pub struct SessrecDecoder {
    chars: Vec<Char>,
    sessions: Vec<SessionRecord>,
    index: SidIndex,
    /// The sid chars of each session, parallel to `sessions`.
    keys: Vec<Box<[Char]>>,
    last: Option<usize>,
    dead: Vec<DeadLetter>,
    stats: RecordStats,
    tape: Tape,
}

/// The members of a line the reader looks at (last occurrence wins, §1.8).
#[derive(Default)]
struct Fields {
    sid: Option<usize>,
    hdr: Option<usize>,
    t: Option<usize>,
    ch: Option<usize>,
    d: Option<usize>,
    trunc: Option<usize>,
}

enum LineKind {
    Event {
        t: f64,
        ch: Channel,
        d: Option<(usize, usize)>,
    },
    Header(Header),
    Skip(SkipRule),
}

impl SessrecDecoder {
    /// A decoder with empty buffers.
    pub fn new() -> Self {
        SessrecDecoder::default()
    }

    /// Read one line (without its `\n`). `line_no` is 1-based and
    /// `byte_offset` is where the line starts in the (decompressed) shard.
    /// Returns the index of the session the line was attributed to (in
    /// first-seen order), if any.
    pub fn push_line(&mut self, line: &[u8], line_no: u64, byte_offset: u64) -> Option<usize> {
        if line.len() > MAX_LINE_BYTES {
            self.stats.add_dead();
            self.dead.push(DeadLetter::new(
                Some(line_no),
                byte_offset,
                Reason::LineTooLong,
                format!(
                    "line of {} bytes exceeds the {} byte limit",
                    line.len(),
                    MAX_LINE_BYTES
                ),
                line,
            ));
            return None;
        }
        let body = line.strip_suffix(b"\r").unwrap_or(line);
        if body.iter().all(|&b| matches!(b, b' ' | b'\t' | b'\r')) {
            self.stats.add_skipped();
            return None;
        }
        let mark = self.chars.len();
        let result = self.classify(body);
        let attributed = match &result {
            Ok((idx, _)) | Err((Some(idx), ..)) => Some(*idx),
            Err((None, ..)) => None,
        };
        if let Some(i) = attributed {
            let s = &mut self.sessions[i];
            s.lines += 1;
            s.last_line = line_no;
        }
        match result {
            Ok((idx, LineKind::Event { t, ch, d })) => {
                // Keep only d's chars, moved to where this line's text began.
                let len = match d {
                    Some((start, len)) => {
                        self.chars.copy_within(start..start + len, mark);
                        len
                    }
                    None => 0,
                };
                self.chars.truncate(mark + len);
                self.sessions[idx].events.push(RawEvent {
                    t,
                    ch,
                    start: mark,
                    len,
                });
                self.stats.add_ok();
            }
            Ok((idx, LineKind::Header(h))) => {
                self.chars.truncate(mark);
                let s = &mut self.sessions[idx];
                if s.header.is_some() {
                    self.stats.add_skipped();
                } else {
                    s.header = Some(h);
                    self.stats.add_ok();
                }
            }
            Ok((idx, LineKind::Skip(rule))) => {
                self.chars.truncate(mark);
                if rule == SkipRule::TruncationSentinel {
                    self.sessions[idx].truncated = true;
                }
                self.stats.add_skipped();
            }
            Err((_, reason, detail)) => {
                self.chars.truncate(mark);
                self.stats.add_dead();
                self.dead.push(DeadLetter::new(
                    Some(line_no),
                    byte_offset,
                    reason,
                    detail,
                    line,
                ));
            }
        }
        attributed
    }

    /// Record a line the framer found too long to buffer (it passes only the
    /// length and hash, see [`frame::LineSink::too_long`]).
    pub fn push_too_long(
        &mut self,
        len: u64,
        raw_sha256: [u8; 32],
        line_no: u64,
        byte_offset: u64,
    ) {
        self.stats.add_dead();
        self.dead.push(DeadLetter {
            line: Some(line_no),
            byte_offset,
            reason: Reason::LineTooLong,
            detail: format!("line of {len} bytes exceeds the {MAX_LINE_BYTES} byte limit"),
            raw_sha256,
        });
    }

    /// Look up (or create) the session of a sid whose chars are in `cs`.
    fn session_of(&mut self, cs_start: usize, cs_len: usize) -> Result<usize, &'static str> {
        let cs = &self.chars[cs_start..cs_start + cs_len];
        // Lines of one session usually come in runs: try the last sid first.
        if let Some(i) = self.last {
            if *self.keys[i] == *cs {
                return Ok(i);
            }
        }
        if let Some(&i) = self.index.get(cs) {
            self.last = Some(i);
            return Ok(i);
        }
        if cs.iter().any(|&c| is_surrogate(c)) {
            return Err("sid holds a lone surrogate (invalid UTF-8 or a surrogate escape)");
        }
        let sid = chars_to_string(cs).ok_or("sid is not valid Unicode")?;
        let i = self.sessions.len();
        let key: Box<[Char]> = cs.into();
        self.index.insert(key.clone(), i);
        self.keys.push(key);
        self.sessions.push(SessionRecord {
            sid,
            header: None,
            events: Vec::new(),
            truncated: false,
            t_overflow: false,
            lines: 0,
            last_line: 0,
        });
        self.last = Some(i);
        Ok(i)
    }

    #[allow(clippy::type_complexity)]
    fn classify(
        &mut self,
        body: &[u8],
    ) -> Result<(usize, LineKind), (Option<usize>, Reason, String)> {
        if let Err(e) = self.tape.parse(body, &mut self.chars) {
            return Err((None, Reason::JsonSyntax, format!("invalid JSON: {e}")));
        }
        let tape = &self.tape;
        if !matches!(tape.node(0), Node::Object { .. }) {
            return Err((
                None,
                Reason::NotAnObject,
                format!("top-level value is {}", kind_name(tape.node(0))),
            ));
        }
        let mut f = Fields::default();
        for (k, v) in tape.members(0) {
            let key = match tape.str_chars(k, &self.chars) {
                Some(key) => key,
                None => continue,
            };
            let slot = match key {
                [0x73, 0x69, 0x64] => &mut f.sid,               // "sid"
                [0x68, 0x64, 0x72] => &mut f.hdr,               // "hdr"
                [0x74] => &mut f.t,                             // "t"
                [0x63, 0x68] => &mut f.ch,                      // "ch"
                [0x64] => &mut f.d,                             // "d"
                [0x74, 0x72, 0x75, 0x6E, 0x63] => &mut f.trunc, // "trunc"
                _ => continue,
            };
            *slot = Some(v);
        }
        let Some(sid) = f.sid else {
            return Err((None, Reason::BadSid, "no sid member".into()));
        };
        let (ss, sl) = match tape.node(sid) {
            Node::Str { start, len } => (start, len),
            other => return Err((None, Reason::BadSid, format!("sid is {}", kind_name(other)))),
        };
        if sl == 0 {
            return Err((None, Reason::BadSid, "sid is empty".into()));
        }
        let idx = self
            .session_of(ss, sl)
            .map_err(|m| (None, Reason::BadSid, m.to_string()))?;
        let tape = &self.tape;
        let chars = &self.chars;

        if let Some(h) = f.hdr {
            return match parse_header(tape, h, chars) {
                Ok(h) => Ok((idx, LineKind::Header(h))),
                Err(m) => Err((Some(idx), Reason::BadHeader, m)),
            };
        }
        let dead = |reason, detail: String| Err((Some(idx), reason, detail));
        let (t, ch) = match (f.t, f.ch) {
            (None, None) => {
                let sentinel = f.trunc.is_some_and(|i| tape.node(i) == Node::Bool(true));
                let rule = if sentinel {
                    SkipRule::TruncationSentinel
                } else {
                    SkipRule::NonEventLine
                };
                return Ok((idx, LineKind::Skip(rule)));
            }
            (None, Some(_)) => return dead(Reason::BadT, "no t member".into()),
            (Some(_), None) => return dead(Reason::BadCh, "no ch member".into()),
            (Some(t), Some(ch)) => (t, ch),
        };
        // Python: isinstance(t, (int, float)) and bool is an int subclass.
        let (t, t_overflow) = match tape.node(t) {
            Node::Int { value, .. } => (value, value.is_infinite()),
            Node::Float(v) => (v, false),
            Node::Bool(b) => (if b { 1.0 } else { 0.0 }, false),
            other => return dead(Reason::BadT, format!("t is {}", kind_name(other))),
        };
        let ch = match tape.str_chars(ch, chars) {
            Some([0x69]) => Channel::Input,
            Some([0x6F]) => Channel::Output,
            Some([0x72]) => return Ok((idx, LineKind::Skip(SkipRule::Resize))),
            Some(_) => return dead(Reason::BadCh, "ch is not \"i\" or \"o\"".into()),
            None => return dead(Reason::BadCh, format!("ch is {}", kind_name(tape.node(ch)))),
        };
        let d = match f.d {
            None => None,
            Some(d) => match tape.node(d) {
                Node::Str { start, len } => Some((start, len)),
                other => return dead(Reason::BadD, format!("d is {}", kind_name(other))),
            },
        };
        if t_overflow {
            self.sessions[idx].t_overflow = true;
            return dead(Reason::BadT, T_OVERFLOW.into());
        }
        Ok((idx, LineKind::Event { t, ch, d }))
    }

    /// Close the shard and hand back its sessions.
    pub fn finish(self) -> ShardSessions {
        debug_assert!(
            self.stats.balanced(),
            "accounting identity broken: {:?}",
            self.stats
        );
        debug_assert_eq!(self.stats.dead, self.dead.len() as u64);
        ShardSessions {
            chars: self.chars,
            sessions: self.sessions,
            dead: self.dead,
            stats: self.stats,
        }
    }

    /// Counts so far.
    pub fn stats(&self) -> RecordStats {
        self.stats
    }
}

/// Detail of the `bad_t` dead letter for an int `t` that overflows a float
/// (see [`SessionRecord::t_overflow`]).
const T_OVERFLOW: &str =
    "int t too large for a float (the reference raises OverflowError for the session)";

impl LineSink for SessrecDecoder {
    fn line(&mut self, line: &[u8], line_no: u64, byte_offset: u64) {
        let _ = self.push_line(line, line_no, byte_offset);
    }
    fn too_long(&mut self, len: u64, raw_sha256: [u8; 32], line_no: u64, byte_offset: u64) {
        self.push_too_long(len, raw_sha256, line_no, byte_offset);
    }
}

fn kind_name(n: Node) -> &'static str {
    match n {
        Node::Object { .. } => "an object",
        Node::Array { .. } => "an array",
        Node::Str { .. } => "a string",
        Node::Int { .. } | Node::Float(_) => "a number",
        Node::Bool(_) => "a bool",
        Node::Null => "null",
    }
}

fn uint_field(tape: &Tape, obj: usize, key: &str, chars: &[Char]) -> Result<u32, String> {
    match tape.get(obj, key, chars).map(|i| tape.node(i)) {
        Some(Node::Int { exact: Some(v), .. }) => {
            u32::try_from(v).map_err(|_| format!("hdr.{key} out of range"))
        }
        Some(other) => Err(format!(
            "hdr.{key} is {}, not an unsigned int",
            kind_name(other)
        )),
        None => Err(format!("hdr.{key} missing")),
    }
}

fn parse_header(tape: &Tape, h: usize, chars: &[Char]) -> Result<Header, String> {
    if !matches!(tape.node(h), Node::Object { .. }) {
        return Err(format!("hdr is {}, not an object", kind_name(tape.node(h))));
    }
    let version = uint_field(tape, h, "version", chars)?;
    let width = uint_field(tape, h, "width", chars)?;
    let height = uint_field(tape, h, "height", chars)?;
    let timestamp = match tape.get(h, "timestamp", chars).map(|i| tape.node(i)) {
        None | Some(Node::Null) => None,
        Some(Node::Int { value, .. } | Node::Float(value)) if value.is_finite() => Some(value),
        Some(Node::Int { .. } | Node::Float(_)) => return Err("hdr.timestamp is not finite".into()),
        Some(other) => return Err(format!("hdr.timestamp is {}", kind_name(other))),
    };
    let term = match tape.get(h, "env", chars) {
        None => None,
        Some(env) => match tape.node(env) {
            Node::Object { .. } => match tape.get(env, "TERM", chars) {
                None => None,
                Some(i) => match tape.node(i) {
                    Node::Null => None,
                    Node::Str { .. } => tape.str_chars(i, chars).map(chars_to_string_lossy),
                    other => return Err(format!("hdr.env.TERM is {}", kind_name(other))),
                },
            },
            Node::Null => None,
            other => return Err(format!("hdr.env is {}", kind_name(other))),
        },
    };
    Ok(Header {
        version,
        width,
        height,
        timestamp,
        term,
    })
}

/// The first of two passes over a shard too large to hold (see
/// [`SessionStream`]): reads every line as [`SessrecDecoder`] does but keeps
/// no payload, events or dead letters, only each sid's last line.
#[derive(Debug, Default)]
pub struct SessrecScan {
    dec: SessrecDecoder,
}

impl SessrecScan {
    /// An empty scan.
    pub fn new() -> Self {
        SessrecScan::default()
    }

    /// The number of the last line of each session, in first-seen order.
    pub fn last_lines(self) -> Vec<u64> {
        self.dec.sessions.iter().map(|s| s.last_line).collect()
    }

    fn forget(&mut self, session: Option<usize>) {
        self.dec.chars.clear();
        self.dec.dead.clear();
        if let Some(i) = session {
            self.dec.sessions[i].events.clear();
        }
    }
}

impl LineSink for SessrecScan {
    fn line(&mut self, line: &[u8], line_no: u64, byte_offset: u64) {
        let s = self.dec.push_line(line, line_no, byte_offset);
        self.forget(s);
    }
    fn too_long(&mut self, len: u64, raw_sha256: [u8; 32], line_no: u64, byte_offset: u64) {
        self.dec
            .push_too_long(len, raw_sha256, line_no, byte_offset);
        self.forget(None);
    }
}

/// The second pass over a shard too large to hold: the same decoding as
/// [`SessrecDecoder`], but each session is handed over
/// ([`SessionStream::drain_ready`]) as soon as its last line, known from a
/// [`SessrecScan`] of the same bytes, has been read, and its payload is
/// then dropped. What it holds is the payload of the sessions still open
/// (one at a time for a shard written session after session, as sessrec
/// writes), a few bytes per session seen, and the dead letters not yet
/// taken ([`SessionStream::take_dead`]).
#[derive(Debug)]
pub struct SessionStream {
    dec: SessrecDecoder,
    last_lines: Vec<u64>,
    ready: Vec<usize>,
    /// Payload chars of the sessions already handed over.
    dead_chars: usize,
    /// Compact past this many [`Self::dead_chars`].
    compact_at: usize,
    mismatch: Option<String>,
}

/// Compact the payload buffer when it holds more than this many chars of
/// sessions already handed over (and they are at least half of it).
const COMPACT_CHARS: usize = 16 << 20;

impl SessionStream {
    /// A second pass for a shard whose scan gave `last_lines`.
    pub fn new(last_lines: Vec<u64>) -> Self {
        SessionStream {
            dec: SessrecDecoder::new(),
            last_lines,
            ready: Vec::new(),
            dead_chars: 0,
            compact_at: COMPACT_CHARS,
            mismatch: None,
        }
    }

    /// Hand every session whose last line has been read to `each` (with the
    /// payload buffer its events point into), in the order they completed,
    /// then drop their events and payload.
    pub fn drain_ready(&mut self, mut each: impl FnMut(&SessionRecord, &[Char])) {
        for i in std::mem::take(&mut self.ready) {
            let s = &mut self.dec.sessions[i];
            each(s, &self.dec.chars);
            self.dead_chars += s.events.iter().map(|e| e.len).sum::<usize>();
            s.events = Vec::new();
        }
        if self.dead_chars > self.compact_at && self.dead_chars * 2 > self.dec.chars.len() {
            self.compact();
        }
    }

    /// Move the payload of the sessions still open to a new buffer.
    fn compact(&mut self) {
        let live = self.dec.chars.len() - self.dead_chars;
        let mut chars = Vec::with_capacity(live);
        for s in &mut self.dec.sessions {
            for e in &mut s.events {
                let start = chars.len();
                chars.extend_from_slice(&self.dec.chars[e.start..e.start + e.len]);
                e.start = start;
            }
        }
        self.dec.chars = chars;
        self.dead_chars = 0;
    }

    /// The dead letters read since the last call, in line order.
    pub fn take_dead(&mut self) -> Vec<DeadLetter> {
        std::mem::take(&mut self.dec.dead)
    }

    /// Close the pass: the shard's line accounting, or why the bytes read
    /// were not those the scan read (the object changed in between).
    ///
    /// # Errors
    /// A description of the first difference from the scan.
    pub fn finish(self) -> Result<RecordStats, String> {
        if let Some(m) = self.mismatch {
            return Err(m);
        }
        if self.dec.sessions.len() != self.last_lines.len() {
            return Err(format!(
                "the second pass read {} sessions, the first {}",
                self.dec.sessions.len(),
                self.last_lines.len()
            ));
        }
        if !self.ready.is_empty() || self.dec.sessions.iter().any(|s| !s.events.is_empty()) {
            return Err("sessions were left open at the end of the second pass".into());
        }
        Ok(self.dec.stats)
    }

    fn attributed(&mut self, session: Option<usize>, line_no: u64) {
        let Some(i) = session else { return };
        match self.last_lines.get(i) {
            Some(&last) if line_no == last => self.ready.push(i),
            Some(&last) if line_no < last => {}
            _ => {
                self.mismatch.get_or_insert_with(|| {
                    format!("line {line_no} differs from the first pass (the object changed while it was read)")
                });
            }
        }
    }
}

impl LineSink for SessionStream {
    fn line(&mut self, line: &[u8], line_no: u64, byte_offset: u64) {
        let s = self.dec.push_line(line, line_no, byte_offset);
        self.attributed(s, line_no);
    }
    fn too_long(&mut self, len: u64, raw_sha256: [u8; 32], line_no: u64, byte_offset: u64) {
        self.dec
            .push_too_long(len, raw_sha256, line_no, byte_offset);
    }
}

/// Decode a whole uncompressed shard held in memory.
pub fn decode_shard(bytes: &[u8]) -> ShardSessions {
    let mut dec = SessrecDecoder::new();
    frame::frame_all(bytes, &mut dec);
    dec.finish()
}

#[cfg(test)]
mod tests;
