//! decode: bytes in, events / skips / dead letters out (issue 2).
//!
//! A pure stage: nothing here touches object storage, files, the
//! environment or the clock. Callers hand over bytes (whole objects or
//! chunks) and get back sessions plus the accounting of lake.md §2: every
//! record lands in exactly one of ok / skipped / dead.
//!
//! * [`frame`]: line framing across chunk boundaries, compression sniffing
//!   (gzip, zstd) and streaming decompression.
//! * [`json`]: a JSON reader with CPython `json.loads` semantics over bytes
//!   that may hold invalid UTF-8 (behave-shell.md §1.8–1.9).
//! * [`sessrec`]: DECNET sessrec shards → per-sid sessions (§1.2–1.8).
//! * [`agent`]: agent telemetry events (JSON lines, JSON documents).
//! * [`asciicast`]: asciinema recordings v1/v2/v3 → one session.
//! * [`syslog`]: the recorder's `session_recorded` RFC 5424 lines (§1.10).

pub mod agent;
pub mod asciicast;
pub mod frame;
pub mod json;
pub mod sessrec;
pub mod syslog;

pub use asciicast::{decode_asciicast, decode_asciicast_object, CastHeader, CastSession};
pub use frame::{Compression, FrameError, LineFramer, LineSink, StreamDecoder, MAX_LINE_BYTES};
pub use sessrec::{
    decode_shard, Header, RawEvent, SessionRecord, SessionStream, SessrecDecoder, SessrecScan,
    ShardSessions,
};
pub use syslog::{decode_syslog, SessionRecorded, SyslogDecoder, SyslogRecords};

/// Decode a whole sessrec object held in memory, gzip/zstd or plain
/// (sniffed by magic bytes, never by name).
pub fn decode_sessrec_object(bytes: &[u8]) -> Result<ShardSessions, FrameError> {
    let mut dec = SessrecDecoder::new();
    frame::decode_bytes(bytes, &mut dec)?;
    Ok(dec.finish())
}

/// Bytes handed to a [`StreamDecoder`] at a time when an object already in
/// memory is decoded as a stream.
pub const MEMORY_CHUNK: usize = 1 << 20;

/// [`decode_sessrec_object`], unless the object's (decompressed) text
/// passes `cap` bytes: then `None`, having held no more than about `cap`
/// bytes of it (a compressed shard too large to decode whole is read in
/// two streamed passes instead, see [`SessionStream`]).
///
/// # Errors
/// As [`decode_sessrec_object`].
pub fn decode_sessrec_object_capped(
    bytes: &[u8],
    cap: u64,
) -> Result<Option<ShardSessions>, FrameError> {
    /// Passes lines on until their bytes pass `cap`.
    struct Capped {
        dec: SessrecDecoder,
        seen: u64,
        cap: u64,
    }
    impl Capped {
        fn over(&mut self, len: u64) -> bool {
            self.seen = self.seen.saturating_add(len + 1);
            self.seen > self.cap
        }
    }
    impl LineSink for Capped {
        fn line(&mut self, line: &[u8], line_no: u64, byte_offset: u64) {
            if !self.over(line.len() as u64) {
                let _ = self.dec.push_line(line, line_no, byte_offset);
            }
        }
        fn too_long(&mut self, len: u64, raw_sha256: [u8; 32], line_no: u64, byte_offset: u64) {
            if !self.over(len) {
                self.dec
                    .push_too_long(len, raw_sha256, line_no, byte_offset);
            }
        }
    }
    let mut sink = Capped {
        dec: SessrecDecoder::new(),
        seen: 0,
        cap,
    };
    let mut sd = StreamDecoder::new();
    // A chunk at a time, so a large text is given up early.
    for chunk in bytes.chunks(MEMORY_CHUNK) {
        sd.push(chunk, &mut sink)?;
        if sink.seen > cap {
            return Ok(None);
        }
    }
    sd.finish(&mut sink)?;
    Ok((sink.seen <= cap).then(|| sink.dec.finish()))
}

/// Decode a whole syslog object held in memory, gzip/zstd or plain.
pub fn decode_syslog_object(bytes: &[u8]) -> Result<SyslogRecords, FrameError> {
    let mut dec = SyslogDecoder::new();
    frame::decode_bytes(bytes, &mut dec)?;
    Ok(dec.finish())
}
