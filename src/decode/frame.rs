//! Line framing across chunk boundaries, and transparent decompression.
//!
//! Objects arrive as a stream of chunks (object_store) whose boundaries fall
//! anywhere, mid-line and mid-UTF-8 sequence included. [`LineFramer`] finds
//! `\n` with memchr and carries only the unfinished tail into the next chunk
//! (the arrow-json `Decoder::decode` + `flush` model, STYLE.md §7); lines that
//! lie inside one chunk are passed on as borrowed slices, never copied.
//!
//! Compression is recognised by magic bytes, never by file name: a gzip
//! file named `.jsonl` is still gzip (issue 2 acceptance). gzip may have
//! several members (`MultiGz`); zstd several frames. A corrupt or truncated
//! stream is an `Err` for that input; the run goes on (STYLE.md §3).
//!
//! Line numbers are 1-based and byte offsets count decompressed bytes from
//! the start of the object (lake.md §2 `line`, `byte_offset`).

use memchr::memchr;
use sha2::{Digest, Sha256};
use std::io::{self, Read, Write};

/// Longest line a decoder buffers: 16 MiB. sessrec aims at lines under
/// 4 KiB (behave-shell.md §1.2), so anything near this is not a recording;
/// a longer line becomes a `line_too_long` dead letter and is only hashed,
/// so one runaway line cannot take the process's memory.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Size of the pieces compressed input is fed to a decompressor in. It
/// bounds the output of one step (gzip expands at most ~1032×, zstd RLE
/// blocks more), so a small bomb cannot balloon one buffer.
const INFLATE_STEP: usize = 4 * 1024;

/// Where framed lines go.
pub trait LineSink {
    /// One line without its `\n` (a trailing `\r` is left for the decoder).
    fn line(&mut self, line: &[u8], line_no: u64, byte_offset: u64);
    /// A line longer than the framer's limit: only its length and SHA-256
    /// are known (the bytes were not kept).
    fn too_long(&mut self, len: u64, raw_sha256: [u8; 32], line_no: u64, byte_offset: u64);
}

/// Splits a byte stream into lines, whatever the chunk boundaries.
#[derive(Debug)]
pub struct LineFramer {
    max_line: usize,
    carry: Vec<u8>,
    /// Offset of the first byte of the unfinished line.
    line_start: u64,
    /// Bytes consumed so far.
    pos: u64,
    line_no: u64,
    /// The unfinished line outgrew `max_line`: hash it instead of keeping it.
    overlong: Option<(Sha256, u64)>,
}

impl Default for LineFramer {
    fn default() -> Self {
        LineFramer::new()
    }
}

impl LineFramer {
    /// A framer with the [`MAX_LINE_BYTES`] limit.
    pub fn new() -> Self {
        LineFramer::with_max_line(MAX_LINE_BYTES)
    }

    /// A framer with a custom line limit (tests).
    pub fn with_max_line(max_line: usize) -> Self {
        LineFramer {
            max_line,
            carry: Vec::new(),
            line_start: 0,
            pos: 0,
            line_no: 0,
            overlong: None,
        }
    }

    /// Bytes consumed so far.
    pub fn bytes(&self) -> u64 {
        self.pos
    }

    /// Lines emitted so far.
    pub fn lines(&self) -> u64 {
        self.line_no
    }

    /// Bytes up to the end of the last complete line (`\n` included): what
    /// has been consumed when an unfinished last line is left for later.
    pub fn complete_bytes(&self) -> u64 {
        if self.carry.is_empty() && self.overlong.is_none() {
            self.pos
        } else {
            self.line_start
        }
    }

    /// Frame the next chunk, emitting every line it completes.
    pub fn push(&mut self, chunk: &[u8], sink: &mut impl LineSink) {
        let base = self.pos;
        self.pos += chunk.len() as u64;
        let mut off = 0;
        while let Some(nl) = memchr(b'\n', &chunk[off..]) {
            let piece = &chunk[off..off + nl];
            let piece_start = base + off as u64;
            self.line_no += 1;
            if let Some((mut h, len)) = self.overlong.take() {
                h.update(piece);
                sink.too_long(
                    len + piece.len() as u64,
                    h.finalize().into(),
                    self.line_no,
                    self.line_start,
                );
            } else if !self.carry.is_empty() {
                if self.carry.len() + piece.len() > self.max_line {
                    let mut h = Sha256::new();
                    h.update(&self.carry);
                    h.update(piece);
                    let len = (self.carry.len() + piece.len()) as u64;
                    sink.too_long(len, h.finalize().into(), self.line_no, self.line_start);
                } else {
                    self.carry.extend_from_slice(piece);
                    sink.line(&self.carry, self.line_no, self.line_start);
                }
                self.carry.clear();
            } else if piece.len() > self.max_line {
                sink.too_long(
                    piece.len() as u64,
                    Sha256::digest(piece).into(),
                    self.line_no,
                    piece_start,
                );
            } else {
                sink.line(piece, self.line_no, piece_start);
            }
            off += nl + 1;
        }
        let tail = &chunk[off..];
        if tail.is_empty() {
            return;
        }
        if let Some((h, len)) = &mut self.overlong {
            h.update(tail);
            *len += tail.len() as u64;
            return;
        }
        if self.carry.is_empty() {
            self.line_start = base + off as u64;
        }
        if self.carry.len() + tail.len() > self.max_line {
            let mut h = Sha256::new();
            h.update(&self.carry);
            h.update(tail);
            self.overlong = Some((h, (self.carry.len() + tail.len()) as u64));
            self.carry = Vec::new();
        } else {
            self.carry.extend_from_slice(tail);
        }
    }

    /// End of input: an unterminated last line is still a line.
    pub fn finish(&mut self, sink: &mut impl LineSink) {
        if let Some((h, len)) = self.overlong.take() {
            self.line_no += 1;
            sink.too_long(len, h.finalize().into(), self.line_no, self.line_start);
        } else if !self.carry.is_empty() {
            self.line_no += 1;
            sink.line(&self.carry, self.line_no, self.line_start);
            self.carry.clear();
        }
    }
}

/// Frame a whole in-memory (uncompressed) buffer.
pub fn frame_all(bytes: &[u8], sink: &mut impl LineSink) {
    let mut f = LineFramer::new();
    f.push(bytes, sink);
    f.finish(sink);
}

/// How an object's bytes are compressed, from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Plain bytes.
    None,
    /// gzip (magic `1f 8b`), possibly several members.
    Gzip,
    /// zstd (magic `28 b5 2f fd`), possibly several frames.
    Zstd,
}

impl Compression {
    /// A short name for logs and the input ledger.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// Bytes needed to tell the formats apart.
pub const SNIFF_BYTES: usize = 4;

/// Recognise compression by magic bytes. `prefix` should hold the first
/// [`SNIFF_BYTES`] bytes of the object (fewer only when the object is shorter).
pub fn sniff(prefix: &[u8]) -> Compression {
    if prefix.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if prefix.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// A compressed stream that cannot be read to its end. It fails the one
/// input it belongs to, not the run (STYLE.md §3).
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The decompressor rejected the data.
    #[error("corrupt {format} stream near compressed byte {offset}")]
    Corrupt {
        /// `gzip` or `zstd`.
        format: &'static str,
        /// Compressed bytes fed before the failure.
        offset: u64,
        /// What the decompressor said.
        #[source]
        source: io::Error,
    },
    /// The input ended inside a gzip member or zstd frame.
    #[error("{format} stream ends early after {offset} compressed bytes")]
    Truncated {
        /// `gzip` or `zstd`.
        format: &'static str,
        /// Compressed bytes in the input.
        offset: u64,
    },
    /// Reading the input failed.
    #[error("cannot read input")]
    Read(#[source] io::Error),
}

enum Inflater {
    Sniffing(Vec<u8>),
    Plain,
    Gzip(Box<flate2::write::MultiGzDecoder<Vec<u8>>>),
    Zstd(Box<zstd::stream::write::Decoder<'static, Vec<u8>>>),
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Inflater::Sniffing(_) => "Sniffing",
            Inflater::Plain => "Plain",
            Inflater::Gzip(_) => "Gzip",
            Inflater::Zstd(_) => "Zstd",
        })
    }
}

/// What [`StreamDecoder::finish`] reports about one input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamSummary {
    /// The sniffed compression.
    pub compression: Compression,
    /// Bytes of the object as stored.
    pub compressed_bytes: u64,
    /// Bytes after decompression (what line offsets count).
    pub decompressed_bytes: u64,
    /// Lines framed.
    pub lines: u64,
}

/// Push decoder for one object: sniff, decompress, frame.
#[derive(Debug)]
pub struct StreamDecoder {
    inflater: Inflater,
    framer: LineFramer,
    fed: u64,
}

impl Default for StreamDecoder {
    fn default() -> Self {
        StreamDecoder::new()
    }
}

impl StreamDecoder {
    /// A decoder with the default line limit.
    pub fn new() -> Self {
        StreamDecoder::with_framer(LineFramer::new())
    }

    /// A decoder using `framer` (e.g. a custom line limit).
    pub fn with_framer(framer: LineFramer) -> Self {
        StreamDecoder {
            inflater: Inflater::Sniffing(Vec::with_capacity(SNIFF_BYTES)),
            framer,
            fed: 0,
        }
    }

    /// The compression, once known (after [`SNIFF_BYTES`] bytes or `finish`).
    pub fn compression(&self) -> Option<Compression> {
        match self.inflater {
            Inflater::Sniffing(_) => None,
            Inflater::Plain => Some(Compression::None),
            Inflater::Gzip(_) => Some(Compression::Gzip),
            Inflater::Zstd(_) => Some(Compression::Zstd),
        }
    }

    /// Feed the next chunk of the stored object.
    pub fn push(&mut self, chunk: &[u8], sink: &mut impl LineSink) -> Result<(), FrameError> {
        if let Inflater::Sniffing(head) = &mut self.inflater {
            let need = SNIFF_BYTES - head.len();
            if chunk.len() < need {
                head.extend_from_slice(chunk);
                return Ok(());
            }
            let mut head = std::mem::take(head);
            head.extend_from_slice(&chunk[..need]);
            self.start(&head)?;
            self.feed(&head, sink)?;
            return self.feed(&chunk[need..], sink);
        }
        self.feed(chunk, sink)
    }

    fn start(&mut self, head: &[u8]) -> Result<(), FrameError> {
        self.inflater = match sniff(head) {
            Compression::None => Inflater::Plain,
            Compression::Gzip => {
                Inflater::Gzip(Box::new(flate2::write::MultiGzDecoder::new(Vec::new())))
            }
            Compression::Zstd => Inflater::Zstd(Box::new(
                zstd::stream::write::Decoder::new(Vec::new()).map_err(|e| FrameError::Corrupt {
                    format: "zstd",
                    offset: 0,
                    source: e,
                })?,
            )),
        };
        Ok(())
    }

    fn feed(&mut self, data: &[u8], sink: &mut impl LineSink) -> Result<(), FrameError> {
        match &mut self.inflater {
            Inflater::Sniffing(_) => Ok(()),
            Inflater::Plain => {
                self.fed += data.len() as u64;
                self.framer.push(data, sink);
                Ok(())
            }
            Inflater::Gzip(d) => {
                for piece in data.chunks(INFLATE_STEP) {
                    d.write_all(piece).and_then(|_| d.flush()).map_err(|e| {
                        FrameError::Corrupt {
                            format: "gzip",
                            offset: self.fed,
                            source: e,
                        }
                    })?;
                    self.fed += piece.len() as u64;
                    let out = d.get_mut();
                    self.framer.push(out, sink);
                    out.clear();
                }
                Ok(())
            }
            Inflater::Zstd(d) => {
                for piece in data.chunks(INFLATE_STEP) {
                    d.write_all(piece).and_then(|_| d.flush()).map_err(|e| {
                        FrameError::Corrupt {
                            format: "zstd",
                            offset: self.fed,
                            source: e,
                        }
                    })?;
                    self.fed += piece.len() as u64;
                    let out = d.get_mut();
                    self.framer.push(out, sink);
                    out.clear();
                }
                Ok(())
            }
        }
    }

    /// End of the object: flush the decompressor, check the stream is
    /// complete, and frame the last line.
    pub fn finish(mut self, sink: &mut impl LineSink) -> Result<StreamSummary, FrameError> {
        if let Inflater::Sniffing(head) = &mut self.inflater {
            let head = std::mem::take(head);
            self.start(&head)?;
            self.feed(&head, sink)?;
        }
        let compression = self.compression().unwrap_or(Compression::None);
        let fed = self.fed;
        match std::mem::replace(&mut self.inflater, Inflater::Plain) {
            Inflater::Gzip(mut d) => {
                d.try_finish().map_err(|e| gz_end_error(e, fed))?;
                self.framer.push(d.get_ref(), sink);
            }
            Inflater::Zstd(mut d) => {
                match d.do_finish() {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                        return Err(FrameError::Truncated {
                            format: "zstd",
                            offset: fed,
                        })
                    }
                    Err(e) => {
                        return Err(FrameError::Corrupt {
                            format: "zstd",
                            offset: fed,
                            source: e,
                        })
                    }
                }
                self.framer.push(d.get_ref(), sink);
            }
            Inflater::Plain | Inflater::Sniffing(_) => {}
        }
        self.framer.finish(sink);
        Ok(StreamSummary {
            compression,
            compressed_bytes: fed,
            decompressed_bytes: self.framer.bytes(),
            lines: self.framer.lines(),
        })
    }
}

fn gz_end_error(e: io::Error, fed: u64) -> FrameError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        FrameError::Truncated {
            format: "gzip",
            offset: fed,
        }
    } else {
        FrameError::Corrupt {
            format: "gzip",
            offset: fed,
            source: e,
        }
    }
}

/// Read a whole object from `reader` (blocking), decompressing as sniffed.
pub fn decode_reader<R: Read>(
    mut reader: R,
    sink: &mut impl LineSink,
) -> Result<StreamSummary, FrameError> {
    let mut dec = StreamDecoder::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(FrameError::Read(e)),
        };
        dec.push(&buf[..n], sink)?;
    }
    dec.finish(sink)
}

/// Decompress a whole in-memory object as sniffed, up to `limit` bytes of
/// output (a larger result is an error, so a bomb cannot take the memory).
/// For formats that need the whole document (asciicast v1).
pub fn decompress_all(bytes: &[u8], limit: u64) -> Result<Vec<u8>, FrameError> {
    let (format, mut reader): (&'static str, Box<dyn Read + '_>) = match sniff(bytes) {
        Compression::None => return Ok(bytes.to_vec()),
        Compression::Gzip => ("gzip", Box::new(flate2::read::MultiGzDecoder::new(bytes))),
        Compression::Zstd => (
            "zstd",
            Box::new(
                zstd::stream::read::Decoder::with_buffer(bytes).map_err(|e| {
                    FrameError::Corrupt {
                        format: "zstd",
                        offset: 0,
                        source: e,
                    }
                })?,
            ),
        ),
    };
    let mut out = Vec::new();
    let fed = bytes.len() as u64;
    match (&mut reader).take(limit).read_to_end(&mut out) {
        Ok(_) if out.len() as u64 >= limit => Err(FrameError::Corrupt {
            format,
            offset: fed,
            source: io::Error::new(
                io::ErrorKind::InvalidData,
                format!("decompressed size exceeds {limit} bytes"),
            ),
        }),
        Ok(_) => Ok(out),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(FrameError::Truncated {
            format,
            offset: fed,
        }),
        Err(e) => Err(FrameError::Corrupt {
            format,
            offset: fed,
            source: e,
        }),
    }
}

/// Decode a whole in-memory object (compressed or not).
pub fn decode_bytes(bytes: &[u8], sink: &mut impl LineSink) -> Result<StreamSummary, FrameError> {
    let mut dec = StreamDecoder::new();
    dec.push(bytes, sink)?;
    dec.finish(sink)
}

#[cfg(test)]
mod tests;
