//! Which framing an OTLP file uses, and cutting it into records
//! (spec/telemetry-correlation.md §1, §7).
//!
//! Detected from the bytes, never from the file name:
//!
//! 1. zstd magic `28 b5 2f fd` at byte 0 → one native zstd stream (one or
//!    many frames). Its decompressed content is JSON lines when it starts
//!    with `{` or whitespace, else length-prefixed messages. Dead letters
//!    point into the decompressed stream, except a frame error, which gives
//!    the compressed offset of the frame (`line` null).
//! 2. `{` or whitespace at byte 0 → JSON lines; but when the first non-blank
//!    line alone ends early and the whole file is one JSON value, the file
//!    is one pretty-printed document: one record (`line` 1).
//! 3. a 4-byte big-endian length that fits in the file → length-prefixed
//!    messages; each payload is a zstd frame (per-message compression) or
//!    raw, and JSON (`{` first) or protobuf. `line` is null and
//!    `byte_offset` is the offset of the prefix.
//! 4. anything else → JSON lines (each bad line becomes its dead letter).
//!
//! Records over [`MAX_LINE_BYTES`] (after decompression) are
//! `line_too_long`, hashed without being kept whole.

use memchr::memchr;
use sha2::{Digest, Sha256};
use zstd::zstd_safe::{self, DCtx, InBuffer, OutBuffer, ResetDirective};

use super::{json, Reader};
use crate::decode::frame::{LineFramer, LineSink, MAX_LINE_BYTES};
use crate::model::dead_letter::Reason;

/// The zstd frame magic number, little-endian on disk.
pub const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Output step of native zstd decompression.
const OUT_STEP: usize = 64 * 1024;

/// The framings of §1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// Nothing to read.
    Empty,
    /// One zstd stream of JSON lines or length-prefixed messages.
    NativeZstd,
    /// JSON lines (or one whole-file document).
    JsonLines,
    /// 4-byte big-endian length, then the message.
    LengthPrefixed,
}

/// Tell the framing from the first bytes.
pub fn detect(bytes: &[u8]) -> Framing {
    match bytes.first() {
        None => Framing::Empty,
        Some(_) if bytes.starts_with(&ZSTD_MAGIC) => Framing::NativeZstd,
        Some(b) if *b == b'{' || json::is_ws(*b) => Framing::JsonLines,
        Some(_) if plausible_prefix(bytes) => Framing::LengthPrefixed,
        Some(_) => Framing::JsonLines,
    }
}

fn prefix(bytes: &[u8]) -> Option<usize> {
    let p: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
    usize::try_from(u32::from_be_bytes(p)).ok()
}

fn plausible_prefix(bytes: &[u8]) -> bool {
    prefix(bytes).is_some_and(|n| n <= bytes.len() - 4)
}

/// Decode every record of `bytes` into `r`.
pub(crate) fn read_all(r: &mut Reader<'_>, bytes: &[u8]) {
    match detect(bytes) {
        Framing::Empty => {}
        Framing::NativeZstd => read_native_zstd(r, bytes),
        Framing::JsonLines => read_json(r, bytes),
        Framing::LengthPrefixed => read_messages(r, bytes),
    }
}

/// Lines of an in-memory buffer go to the reader.
struct Lines<'r, 'a>(&'r mut Reader<'a>);

impl LineSink for Lines<'_, '_> {
    fn line(&mut self, line: &[u8], line_no: u64, byte_offset: u64) {
        self.0.json_line(line, Some(line_no), byte_offset);
    }

    fn too_long(&mut self, len: u64, raw_sha256: [u8; 32], line_no: u64, byte_offset: u64) {
        self.0
            .dead_hashed(Some(line_no), byte_offset, len, raw_sha256);
    }
}

/// JSON lines, or one whole-file document.
fn read_json(r: &mut Reader<'_>, bytes: &[u8]) {
    if is_whole_document(bytes) {
        if bytes.len() > MAX_LINE_BYTES {
            r.dead_hashed(Some(1), 0, bytes.len() as u64, Sha256::digest(bytes).into());
        } else {
            r.json_record(bytes, Some(1), 0);
        }
        return;
    }
    let mut f = LineFramer::new();
    let mut sink = Lines(r);
    f.push(bytes, &mut sink);
    f.finish(&mut sink);
}

/// The first non-blank line ends early, and the whole file is one value.
fn is_whole_document(bytes: &[u8]) -> bool {
    let mut start = 0;
    while start < bytes.len() {
        let end = memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i);
        let line = &bytes[start..end];
        if !json::is_blank(line) {
            return end < bytes.len()
                && line.len() <= MAX_LINE_BYTES
                && json::ends_early(line)
                && json::is_complete(bytes);
        }
        start = end + 1;
    }
    false
}

/// Length-prefixed messages in memory.
fn read_messages(r: &mut Reader<'_>, bytes: &[u8]) {
    let mut pos = 0usize;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        let Some(len) = prefix(rest) else {
            r.dead(
                None,
                pos as u64,
                Reason::TruncatedFrame,
                format!("{} trailing bytes, too few for a length prefix", rest.len()),
                rest,
            );
            r.fail(format!(
                "length-prefixed framing broken at byte {pos}: the input ends inside a prefix"
            ));
            return;
        };
        if len > rest.len() - 4 {
            r.dead(
                None,
                pos as u64,
                Reason::TruncatedFrame,
                format!("length prefix says {len} bytes, {} remain", rest.len() - 4),
                rest,
            );
            r.fail(format!(
                "length-prefixed framing broken at byte {pos}: a length prefix points past the end"
            ));
            return;
        }
        let payload = &rest[4..4 + len];
        if len > MAX_LINE_BYTES {
            r.dead_hashed(None, pos as u64, len as u64, Sha256::digest(payload).into());
        } else {
            r.framed(payload, None, pos as u64);
        }
        pos += 4 + len;
    }
}

/// Why [`unzstd`] failed.
#[derive(Debug)]
pub enum Unzstd {
    /// The output would exceed the limit.
    TooLong,
    /// A corrupt or truncated frame (detail without payload).
    Bad(String),
}

/// Decompress `src` (one or more whole zstd frames) into `out`, at most
/// `limit` bytes.
///
/// # Errors
///
/// [`Unzstd::TooLong`] past `limit`, [`Unzstd::Bad`] for a corrupt or
/// truncated frame.
pub fn unzstd(
    dctx: &mut DCtx<'_>,
    src: &[u8],
    out: &mut Vec<u8>,
    limit: usize,
) -> Result<(), Unzstd> {
    dctx.reset(ResetDirective::SessionOnly)
        .map_err(|c| Unzstd::Bad(format!("zstd: {}", zstd_safe::get_error_name(c))))?;
    let mut input = InBuffer::around(src);
    let finished = loop {
        if out.capacity() - out.len() < OUT_STEP {
            out.reserve(OUT_STEP);
        }
        let before = out.len();
        let pos = out.len();
        let res = {
            let mut ob = OutBuffer::around_pos(out, pos);
            dctx.decompress_stream(&mut ob, &mut input)
        };
        let res = match res {
            Err(c) => {
                return Err(Unzstd::Bad(format!(
                    "corrupt zstd frame: {}",
                    zstd_safe::get_error_name(c)
                )))
            }
            Ok(hint) => hint,
        };
        if out.len() > limit {
            return Err(Unzstd::TooLong);
        }
        if input.pos() == src.len() && (res == 0 || out.len() == before) {
            break res == 0;
        }
    };
    if finished {
        Ok(())
    } else {
        Err(Unzstd::Bad("zstd frame ends early".to_string()))
    }
}

/// What the decompressed native stream holds.
enum Inner {
    Unknown,
    Json(LineFramer),
    Proto(ProtoStream),
}

/// One native zstd stream, frame by frame, streamed (never decompressed
/// whole into memory).
fn read_native_zstd(r: &mut Reader<'_>, bytes: &[u8]) {
    let mut dctx = DCtx::create();
    let mut out = vec![0u8; OUT_STEP];
    let mut inner = Inner::Unknown;
    let mut pos = 0usize;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        let flen = match zstd_safe::find_frame_compressed_size(rest) {
            Ok(n) if n > 0 && n <= rest.len() => n,
            Ok(_) | Err(_) => {
                r.dead(
                    None,
                    pos as u64,
                    Reason::ZstdFrame,
                    "zstd frame whose end cannot be found (truncated or corrupt header)",
                    rest,
                );
                r.fail(format!(
                    "native zstd stream broken at compressed byte {pos}: the rest of the input is lost"
                ));
                break;
            }
        };
        let frame = &rest[..flen];
        if let Err(why) = stream_frame(&mut dctx, frame, &mut out, |chunk| {
            feed(r, &mut inner, chunk)
        }) {
            r.dead(None, pos as u64, Reason::ZstdFrame, why, frame);
        }
        pos += flen;
    }
    match inner {
        Inner::Unknown => {}
        Inner::Json(mut f) => f.finish(&mut Lines(r)),
        Inner::Proto(p) => p.finish(r),
    }
}

/// Decompress one frame, handing each output chunk to `sink`.
fn stream_frame(
    dctx: &mut DCtx<'_>,
    frame: &[u8],
    out: &mut [u8],
    mut sink: impl FnMut(&[u8]),
) -> Result<(), String> {
    dctx.reset(ResetDirective::SessionOnly)
        .map_err(|c| format!("zstd: {}", zstd_safe::get_error_name(c)))?;
    let mut input = InBuffer::around(frame);
    loop {
        let (res, n) = {
            let mut ob = OutBuffer::around(out);
            let res = dctx.decompress_stream(&mut ob, &mut input);
            (res, ob.pos())
        };
        if n > 0 {
            sink(&out[..n]);
        }
        match res {
            Err(c) => {
                return Err(format!(
                    "corrupt zstd frame: {}",
                    zstd_safe::get_error_name(c)
                ))
            }
            Ok(0) => return Ok(()),
            Ok(_) if n == 0 && input.pos() == frame.len() => {
                return Err("zstd frame ends early".to_string())
            }
            Ok(_) => {}
        }
    }
}

/// Decompressed bytes of a native stream go to the right framer.
fn feed(r: &mut Reader<'_>, inner: &mut Inner, chunk: &[u8]) {
    if let Inner::Unknown = inner {
        *inner = match chunk.first() {
            None => return,
            Some(b) if *b == b'{' || json::is_ws(*b) => Inner::Json(LineFramer::new()),
            Some(_) => Inner::Proto(ProtoStream::default()),
        };
    }
    match inner {
        Inner::Unknown => {}
        Inner::Json(f) => f.push(chunk, &mut Lines(r)),
        Inner::Proto(p) => p.push(r, chunk),
    }
}

/// Length-prefixed messages across decompressed chunks.
#[derive(Default)]
struct ProtoStream {
    /// Unconsumed bytes; `buf[0]` is at stream offset `base`.
    buf: Vec<u8>,
    base: u64,
    /// Skipping an over-long message: (prefix offset, length, bytes left,
    /// running hash).
    skip: Option<(u64, u64, u64, Sha256)>,
}

impl ProtoStream {
    fn push(&mut self, r: &mut Reader<'_>, mut chunk: &[u8]) {
        if let Some((off, len, left, h)) = &mut self.skip {
            let take = chunk
                .len()
                .min(usize::try_from(*left).unwrap_or(usize::MAX));
            h.update(&chunk[..take]);
            *left -= take as u64;
            self.base += take as u64;
            chunk = &chunk[take..];
            if *left > 0 {
                return;
            }
            let (off, len) = (*off, *len);
            let h = std::mem::take(h);
            self.skip = None;
            r.dead_hashed(None, off, len, h.finalize().into());
        }
        self.buf.extend_from_slice(chunk);
        let mut cur = 0usize;
        loop {
            let rest = &self.buf[cur..];
            let Some(len) = prefix(rest) else { break };
            let off = self.base + cur as u64;
            if len > MAX_LINE_BYTES {
                if rest.len() - 4 >= len {
                    r.dead_hashed(
                        None,
                        off,
                        len as u64,
                        Sha256::digest(&rest[4..4 + len]).into(),
                    );
                    cur += 4 + len;
                    continue;
                }
                let avail = rest.len() - 4;
                let mut h = Sha256::new();
                h.update(&rest[4..]);
                self.base += self.buf.len() as u64;
                self.buf.clear();
                self.skip = Some((off, len as u64, (len - avail) as u64, h));
                return;
            }
            if rest.len() - 4 < len {
                break;
            }
            r.framed(&rest[4..4 + len], None, off);
            cur += 4 + len;
        }
        self.buf.drain(..cur);
        self.base += cur as u64;
    }

    fn finish(self, r: &mut Reader<'_>) {
        let off = self.base;
        if let Some((off, len, left, _)) = self.skip {
            r.dead(
                None,
                off,
                Reason::TruncatedFrame,
                format!("length prefix says {len} bytes, {} are missing", left),
                &[],
            );
        } else if self.buf.is_empty() {
            return;
        } else {
            r.dead(
                None,
                off,
                Reason::TruncatedFrame,
                format!(
                    "{} trailing bytes do not make a whole message",
                    self.buf.len()
                ),
                &self.buf,
            );
        }
        r.fail(format!(
            "length-prefixed framing broken at decompressed byte {off}: the input ends inside a message"
        ));
    }
}
