//! Where one input record went: used, skipped by a spec rule, or dead.
//!
//! lake.md §2 ("Accounting", "Dead letters"): every record of an input object
//! (a JSON-lines line, a framed message, a whole-file document) lands in
//! exactly one bucket, so `read == ok + skipped + dead` always holds. A dead
//! record becomes a [`DeadLetter`]: a pointer (line, byte offset, hash of the
//! raw bytes) plus a stable reason code, **never** the payload itself
//! (lake.md "PII", behave-shell.md §3.4, STYLE.md §3).
//!
//! Pure data: no I/O, no clock. The stage and source path are added by the
//! sink when it writes the `dlq` row.

use sha2::{Digest, Sha256};
use std::fmt;

/// Why a record became a dead letter. The [`Reason::as_str`] codes are stable:
/// they are written to the `dlq.reason` column and queried by users, so a code
/// is never renamed or reused (lake.md §2 lists the shared ones).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Reason {
    /// The line is not valid JSON (Python `json.loads` would raise).
    JsonSyntax,
    /// Valid JSON, but not an object (sessrec lines are objects, §1.3).
    NotAnObject,
    /// `sid` missing, not a string, empty, or not representable as UTF-8.
    BadSid,
    /// `t` missing or not a JSON number (behave-shell §1.8 step 4).
    BadT,
    /// `ch` missing or not one of the codes the format allows.
    BadCh,
    /// `d` present but not a string (`null` included, §1.8 step 4).
    BadD,
    /// The record is longer than the decoder's safety cap.
    LineTooLong,
    /// An object name (decky, service, shard basename) fails validation (§1.2).
    BadName,
    /// A session or file header that is malformed.
    BadHeader,
    /// A `src_ip` that is not an IPv4/IPv6 address.
    BadIp,
    /// RFC 5424 structured data that cannot be parsed.
    BadSd,
    /// Invalid UTF-8 in a format that requires UTF-8 (asciicast, syslog).
    InvalidUtf8,
    /// An event record of the wrong shape (asciicast `[t, code, data]`).
    BadEvent,
    /// An OTLP payload that does not fit the OTLP schema.
    OtlpSchema,
    /// A corrupt zstd frame inside a framed stream.
    ZstdFrame,
    /// A framed message cut short.
    TruncatedFrame,
    /// A protobuf message that does not decode.
    ProtoDecode,
    /// A timestamp that is missing, out of range or unparsable.
    BadTimestamp,
    /// Length-prefixed protobuf whose signal neither the job nor the file
    /// name gives (telemetry-correlation.md §1).
    ProtoSignalUnknown,
}

impl Reason {
    /// Every reason, in declaration order (tests, docs, dlq summaries).
    pub const ALL: [Reason; 19] = [
        Reason::JsonSyntax,
        Reason::NotAnObject,
        Reason::BadSid,
        Reason::BadT,
        Reason::BadCh,
        Reason::BadD,
        Reason::LineTooLong,
        Reason::BadName,
        Reason::BadHeader,
        Reason::BadIp,
        Reason::BadSd,
        Reason::InvalidUtf8,
        Reason::BadEvent,
        Reason::OtlpSchema,
        Reason::ZstdFrame,
        Reason::TruncatedFrame,
        Reason::ProtoDecode,
        Reason::BadTimestamp,
        Reason::ProtoSignalUnknown,
    ];

    /// The stable snake_case code written to `dlq.reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::JsonSyntax => "json_syntax",
            Reason::NotAnObject => "not_an_object",
            Reason::BadSid => "bad_sid",
            Reason::BadT => "bad_t",
            Reason::BadCh => "bad_ch",
            Reason::BadD => "bad_d",
            Reason::LineTooLong => "line_too_long",
            Reason::BadName => "bad_name",
            Reason::BadHeader => "bad_header",
            Reason::BadIp => "bad_ip",
            Reason::BadSd => "bad_sd",
            Reason::InvalidUtf8 => "invalid_utf8",
            Reason::BadEvent => "bad_event",
            Reason::OtlpSchema => "otlp_schema",
            Reason::ZstdFrame => "zstd_frame",
            Reason::TruncatedFrame => "truncated_frame",
            Reason::ProtoDecode => "proto_decode",
            Reason::BadTimestamp => "bad_timestamp",
            Reason::ProtoSignalUnknown => "proto_signal_unknown",
        }
    }

    /// The reason for a code, `None` for an unknown code (reading a dlq back).
    pub fn from_code(code: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == code)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A spec rule that drops a record on purpose. Skips are counted
/// (`records_skipped`) but produce no row and no dead letter (lake.md §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SkipRule {
    /// An empty line, or one holding only JSON whitespace.
    BlankLine,
    /// A sessrec resize line (`ch:"r"`, behave-shell §1.3): not an event.
    Resize,
    /// The sessrec truncation sentinel `{"sid":S,"trunc":true}` (§1.3).
    TruncationSentinel,
    /// A second header line for a sid that already has one.
    DuplicateHeader,
    /// A well-formed object of no line kind the format defines (no `t`,
    /// no `ch`, no `hdr`): forward compatible, nothing to read.
    NonEventLine,
    /// An asciicast v3 `#` comment line.
    CommentLine,
    /// An asciicast event whose code is not `i` or `o` (`r` resize, `m`
    /// marker, `x` exit, or a code from a later version).
    NonIoEvent,
    /// A syslog line that is not a `session_recorded` record.
    OtherSyslog,
}

impl SkipRule {
    /// Every rule, in declaration order.
    pub const ALL: [SkipRule; 8] = [
        SkipRule::BlankLine,
        SkipRule::Resize,
        SkipRule::TruncationSentinel,
        SkipRule::DuplicateHeader,
        SkipRule::NonEventLine,
        SkipRule::CommentLine,
        SkipRule::NonIoEvent,
        SkipRule::OtherSyslog,
    ];

    /// The stable snake_case name of the rule (logs, run summaries).
    pub fn as_str(self) -> &'static str {
        match self {
            SkipRule::BlankLine => "blank_line",
            SkipRule::Resize => "resize",
            SkipRule::TruncationSentinel => "truncation_sentinel",
            SkipRule::DuplicateHeader => "duplicate_header",
            SkipRule::NonEventLine => "non_event_line",
            SkipRule::CommentLine => "comment_line",
            SkipRule::NonIoEvent => "non_io_event",
            SkipRule::OtherSyslog => "other_syslog",
        }
    }
}

impl fmt::Display for SkipRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One dead record: where it was and why, never what it said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    /// 1-based line number; `None` for binary framing (lake.md §2).
    pub line: Option<u64>,
    /// Offset of the record's first byte in the (decompressed) input.
    pub byte_offset: u64,
    /// The stable reason code.
    pub reason: Reason,
    /// Human text about the failure (e.g. "expected ':' at column 17").
    /// It must not quote the payload: session content is PII (§3.4).
    pub detail: String,
    /// SHA-256 of the raw record bytes, so an operator holding the input can
    /// find the record without the lake storing it.
    pub raw_sha256: [u8; 32],
}

impl DeadLetter {
    /// A dead letter for the record `raw`, hashing it.
    pub fn new(
        line: Option<u64>,
        byte_offset: u64,
        reason: Reason,
        detail: impl Into<String>,
        raw: &[u8],
    ) -> Self {
        DeadLetter {
            line,
            byte_offset,
            reason,
            detail: detail.into(),
            raw_sha256: Sha256::digest(raw).into(),
        }
    }

    /// The raw hash as 64 lowercase hex chars (the `dlq.raw_sha256` column).
    pub fn raw_sha256_hex(&self) -> String {
        hex::encode(self.raw_sha256)
    }
}

/// Where one record went (STYLE.md §3). Every record gets exactly one.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome<T> {
    /// Used: it produced (or contributed to) a row.
    Row(T),
    /// Dropped by a spec rule: counted, no row.
    Skipped(SkipRule),
    /// A dead letter.
    Dead(DeadLetter),
}

/// Per-input record counts (the `_inputs` ledger columns, lake.md §7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordStats {
    /// Records seen (`records_read`).
    pub read: u64,
    /// Records used (`records_ok`).
    pub ok: u64,
    /// Records dropped by a spec rule (`records_skipped`).
    pub skipped: u64,
    /// Records that became dead letters (`records_dead`).
    pub dead: u64,
}

impl RecordStats {
    /// Count one used record.
    pub fn add_ok(&mut self) {
        self.read += 1;
        self.ok += 1;
    }

    /// Count one skipped record.
    pub fn add_skipped(&mut self) {
        self.read += 1;
        self.skipped += 1;
    }

    /// Count one dead record.
    pub fn add_dead(&mut self) {
        self.read += 1;
        self.dead += 1;
    }

    /// Add another input's (or chunk's) counts.
    pub fn merge(&mut self, other: RecordStats) {
        self.read += other.read;
        self.ok += other.ok;
        self.skipped += other.skipped;
        self.dead += other.dead;
    }

    /// The accounting identity of lake.md §2: `read == ok + skipped + dead`.
    pub fn balanced(&self) -> bool {
        self.ok
            .checked_add(self.skipped)
            .and_then(|s| s.checked_add(self.dead))
            == Some(self.read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_snake_case_and_round_trip() {
        let mut seen = HashSet::new();
        for r in Reason::ALL {
            let c = r.as_str();
            assert!(seen.insert(c), "duplicate code {c}");
            assert!(
                c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{c}"
            );
            assert_eq!(Reason::from_code(c), Some(r));
        }
        assert_eq!(Reason::from_code("nope"), None);
        let mut seen = HashSet::new();
        for s in SkipRule::ALL {
            let c = s.as_str();
            assert!(seen.insert(c), "duplicate rule {c}");
            assert!(
                c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{c}"
            );
        }
    }

    #[test]
    fn lake_md_codes_exist() {
        for c in [
            "json_syntax",
            "not_an_object",
            "bad_t",
            "invalid_utf8",
            "line_too_long",
            "bad_name",
            "otlp_schema",
            "zstd_frame",
            "truncated_frame",
            "proto_decode",
            "bad_timestamp",
        ] {
            assert!(Reason::from_code(c).is_some(), "{c}");
        }
    }

    #[test]
    fn dead_letter_hashes_raw_bytes() {
        let d = DeadLetter::new(Some(3), 10, Reason::BadT, "t is a string", b"abc");
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            d.raw_sha256_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d.line, Some(3));
        assert_eq!(d.reason.to_string(), "bad_t");
    }

    #[test]
    fn stats_identity() {
        let mut s = RecordStats::default();
        s.add_ok();
        s.add_skipped();
        s.add_dead();
        s.add_dead();
        assert_eq!((s.read, s.ok, s.skipped, s.dead), (4, 1, 1, 2));
        assert!(s.balanced());
        let mut t = RecordStats::default();
        t.merge(s);
        t.merge(s);
        assert_eq!(t.read, 8);
        assert!(t.balanced());
        t.read += 1;
        assert!(!t.balanced());
    }
}
