//! Text helpers with Python semantics over [`Char`] code points: ANSI
//! stripping (§2.8.1), error fingerprints (§2.8.2), prompt-line detection
//! (§2.8.3), `str.strip`/`str.split` (§2.7) and the locale scan (§4.4.28).
//!
//! Each regex of the spec is matched by hand, reproducing what Python's `re`
//! does (`re.sub`/`re.search`/`re.finditer`: left to right, alternatives in
//! order, no overlap). The char classes come from [`super::pychar`], so lone
//! surrogates (§1.9) are never `\w`/`\s` but do match negated classes.

use super::ctx::PromptLine;
use super::pychar::{is_ascii_alnum, is_ascii_alpha, is_py_alpha, is_py_space, is_py_word};
use super::thresholds::{LOCALE_MIN_VALUE_LENGTH, PROMPT_LINE_MAX_CHARS};
use crate::model::event::Char;

const BEL: Char = 0x07;
const ESC: Char = 0x1B;
const LF: Char = 0x0A;
const SPACE: Char = 0x20;
const LBRACKET: Char = b'[' as Char;
const RBRACKET: Char = b']' as Char;
const BACKSLASH: Char = b'\\' as Char;

/// One unit of text the scanners run over: a [`Char`], or the char
/// narrowed to a byte by [`narrow_ascii`] (ASCII as itself, anything else
/// `0xFF`). The ANSI and locale patterns only name ASCII chars, and `0xFF`
/// falls in exactly the classes a non-ASCII char falls in there (none, or
/// "not BEL/ESC"), so they match the same spans over either view.
pub trait Unit: Copy + Eq {
    /// The code point (`0xFF` for any non-ASCII char of a narrowed view).
    fn code(self) -> Char;
    /// Index of the first `c` in `hay`.
    fn find(hay: &[Self], c: u8) -> Option<usize>;
}

impl Unit for Char {
    fn code(self) -> Char {
        self
    }
    fn find(hay: &[Self], c: u8) -> Option<usize> {
        find_char(hay, Char::from(c))
    }
}

impl Unit for u8 {
    fn code(self) -> Char {
        Char::from(self)
    }
    fn find(hay: &[Self], c: u8) -> Option<usize> {
        memchr::memchr(c, hay)
    }
}

/// Appends `s` narrowed to bytes: ASCII chars as themselves, any other char
/// as `0xFF`. The byte view is what the hot scans search; this runs over
/// every output char, 32 at a time with AVX2 where the CPU has it.
pub fn narrow_ascii(s: &[Char], out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + s.len(), 0);
    let dst = &mut out[start..];
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present (checked just above).
        unsafe { narrow_avx2(s, dst) };
        return;
    }
    narrow_scalar(s, dst);
}

/// [`narrow_ascii`] of each piece in turn, end to end in `out`; pushes
/// the offset in `out` where each piece starts, then the end, and the
/// offset of every ESC byte written, in order (what the ANSI strip jumps
/// between). `total` is the pieces' summed length. One call for all the
/// output events of a session, so the CPU check and the call happen once,
/// not per event.
pub fn narrow_ascii_pieces<'s>(
    pieces: impl Iterator<Item = &'s [Char]>,
    total: usize,
    out: &mut Vec<u8>,
    starts: &mut Vec<usize>,
    escapes: &mut Vec<usize>,
) {
    out.reserve(total);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present (checked just above).
        unsafe { narrow_pieces_avx2(pieces, out, starts, escapes) };
        starts.push(out.len());
        return;
    }
    for piece in pieces {
        let at = out.len();
        starts.push(at);
        narrow_ascii(piece, out);
        escapes.extend(memchr::memchr_iter(ESC as u8, &out[at..]).map(|k| at + k));
    }
    starts.push(out.len());
}

/// How far ahead of the block being narrowed [`narrow_pieces_avx2`]
/// prefetches: 1,024 chars, one 4 KiB page. In the engine benchmark,
/// 512–2,048 made the engine about 2 % faster than no prefetch.
const PREFETCH_CHARS: usize = 1024;

/// [`narrow_ascii_pieces`] with AVX2. A piece of 32 chars or more is
/// narrowed 32 at a time, its last block overlapping the one before (the
/// overlap is written twice, with the same bytes, and its ESCs pushed
/// once; see [`narrow_blocks`]); one of 8 to 31 chars (an echoed line, a
/// prompt) 8 at a time in the same way; a shorter one (a typed key's echo,
/// mostly) one char at a time. Writes
/// into `out`'s spare capacity and extends its length over each piece once
/// written, so nothing is zeroed first.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn narrow_pieces_avx2<'s>(
    pieces: impl Iterator<Item = &'s [Char]>,
    out: &mut Vec<u8>,
    starts: &mut Vec<usize>,
    escapes: &mut Vec<usize>,
) {
    use std::arch::x86_64::*;
    let cap = _mm256_set1_epi32(0xFF);
    let zero = _mm256_setzero_si256();
    let esc = _mm256_set1_epi8(ESC as i8);
    let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    // Dwords 0 and 4 (the packed bytes of each 128-bit lane) to the bottom.
    let order8 = _mm256_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4);
    for s in pieces {
        let at = out.len();
        starts.push(at);
        out.reserve(s.len());
        let dst = out.spare_capacity_mut().as_mut_ptr().cast::<u8>();
        let src = s.as_ptr();
        if s.len() >= 32 {
            narrow_blocks::<32>(s.len(), at, escapes, |k| {
                // SAFETY: k + 32 <= s.len(): the four loads read chars
                // k..k + 32 of `s`; the store writes the same 32 bytes of
                // the spare capacity reserved for `s`.
                unsafe {
                    let from = src.add(k).cast::<__m256i>();
                    // The block PREFETCH_CHARS ahead (two cache lines): the
                    // chars were written by the decoder a whole shard ago,
                    // so they come from the outer caches, and the hardware
                    // prefetcher does not run ahead across pages. A
                    // prefetch past the piece's end is harmless.
                    let ahead = src.wrapping_add(k + PREFETCH_CHARS);
                    _mm_prefetch::<_MM_HINT_T0>(ahead.cast());
                    _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(16).cast());
                    let a = _mm256_min_epu32(_mm256_loadu_si256(from), cap);
                    let b = _mm256_min_epu32(_mm256_loadu_si256(from.add(1)), cap);
                    let c = _mm256_min_epu32(_mm256_loadu_si256(from.add(2)), cap);
                    let d = _mm256_min_epu32(_mm256_loadu_si256(from.add(3)), cap);
                    let bytes =
                        _mm256_packus_epi16(_mm256_packus_epi32(a, b), _mm256_packus_epi32(c, d));
                    let bytes = _mm256_permutevar8x32_epi32(bytes, order);
                    let high = _mm256_cmpgt_epi8(zero, bytes);
                    _mm256_storeu_si256(dst.add(k).cast(), _mm256_or_si256(bytes, high));
                    _mm256_movemask_epi8(_mm256_cmpeq_epi8(bytes, esc)) as u32
                }
            });
        } else if s.len() >= 8 {
            // Shorter output (a prompt, an echoed line) 8 chars a block.
            narrow_blocks::<8>(s.len(), at, escapes, |k| {
                // SAFETY: k + 8 <= s.len(): the load reads chars k..k + 8 of
                // `s`; the store writes the same 8 bytes of the spare
                // capacity reserved for `s`.
                unsafe {
                    let v = _mm256_min_epu32(_mm256_loadu_si256(src.add(k).cast()), cap);
                    let v = _mm256_packus_epi16(_mm256_packus_epi32(v, v), zero);
                    let bytes = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(v, order8));
                    let high = _mm_cmpgt_epi8(_mm256_castsi256_si128(zero), bytes);
                    _mm_storel_epi64(dst.add(k).cast(), _mm_or_si128(bytes, high));
                    let escs = _mm_cmpeq_epi8(bytes, _mm256_castsi256_si128(esc));
                    (_mm_movemask_epi8(escs) & 0xFF) as u32
                }
            });
        } else {
            for (k, &c) in s.iter().enumerate() {
                if c == ESC {
                    escapes.push(at + k);
                }
                // SAFETY: k < s.len(), within the spare capacity reserved.
                unsafe { dst.add(k).write(if c < 0x80 { c as u8 } else { 0xFF }) };
            }
        }
        // SAFETY: the s.len() bytes past the old length were written above.
        unsafe { out.set_len(out.len() + s.len()) };
    }
}

/// Runs `block(k)` over a piece of `len >= N` chars in blocks of `N`
/// (`k` = 0, N, 2N, …), the last block overlapping the one before when `N`
/// does not divide `len`; `block(k)` narrows chars `k..k + N` and returns
/// a mask of the ESCs among them (bit `i` for char `k + i`). Pushes each
/// ESC's offset (`at` + its index) once: lanes of the last block that the
/// block before covered are masked off.
#[inline(always)]
fn narrow_blocks<const N: usize>(
    len: usize,
    at: usize,
    escapes: &mut Vec<usize>,
    mut block: impl FnMut(usize) -> u32,
) {
    let mut k = 0;
    // Chars before this are narrowed and their ESCs pushed.
    let mut done = 0;
    loop {
        // Lanes below `done` were pushed with the block before.
        let mut escs = block(k) & (u32::MAX << (done - k));
        while escs != 0 {
            escapes.push(at + k + escs.trailing_zeros() as usize);
            escs &= escs - 1;
        }
        done = k + N;
        if done == len {
            break;
        }
        // The next block, or the last N chars when fewer are left.
        k = done.min(len - N);
    }
}

/// [`narrow_ascii`] into `dst` (as long as `s`), one char at a time.
fn narrow_scalar(s: &[Char], dst: &mut [u8]) {
    for (o, &c) in dst.iter_mut().zip(s) {
        *o = if c < 0x80 { c as u8 } else { 0xFF };
    }
}

/// [`narrow_scalar`] with AVX2: clamp 32 chars to `0xFF`, pack them to
/// bytes, then turn every byte with its top bit set into `0xFF`.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn narrow_avx2(s: &[Char], dst: &mut [u8]) {
    use std::arch::x86_64::*;
    const BLOCK: usize = 32;
    let blocks = s.len() / BLOCK;
    let cap = _mm256_set1_epi32(0xFF);
    let zero = _mm256_setzero_si256();
    // packus works within 128-bit lanes; this puts the 4-byte groups back
    // in order (a0-3 a4-7 b0-3 b4-7 ...).
    let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for k in 0..blocks {
        let src = s[k * BLOCK..].as_ptr().cast::<__m256i>();
        // SAFETY: block k has 32 chars (k < blocks), read as four unaligned
        // 8-lane loads; the store writes 32 bytes of `dst`, which is as long
        // as `s`.
        unsafe {
            let a = _mm256_min_epu32(_mm256_loadu_si256(src), cap);
            let b = _mm256_min_epu32(_mm256_loadu_si256(src.add(1)), cap);
            let c = _mm256_min_epu32(_mm256_loadu_si256(src.add(2)), cap);
            let d = _mm256_min_epu32(_mm256_loadu_si256(src.add(3)), cap);
            let bytes = _mm256_packus_epi16(_mm256_packus_epi32(a, b), _mm256_packus_epi32(c, d));
            let bytes = _mm256_permutevar8x32_epi32(bytes, order);
            let high = _mm256_cmpgt_epi8(zero, bytes);
            let out = dst[k * BLOCK..].as_mut_ptr().cast::<__m256i>();
            _mm256_storeu_si256(out, _mm256_or_si256(bytes, high));
        }
    }
    narrow_scalar(&s[blocks * BLOCK..], &mut dst[blocks * BLOCK..]);
}

/// Appends `s` to `out` with every ANSI escape removed (spec §2.8.1).
///
/// Equivalent to Python
/// `re.sub(r'\x1B(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1B]*(?:\x07|\x1B\\)?|[@-Z\\-_])', '', s)`.
/// `out` is not cleared, so a caller can reuse one buffer.
pub fn strip_ansi<T: Unit>(s: &[T], out: &mut Vec<T>) {
    out.reserve(s.len());
    let mut i = 0;
    while i < s.len() {
        // Copy the run up to the next ESC in one go.
        let run_end = T::find(&s[i..], ESC as u8).map_or(s.len(), |p| i + p);
        out.extend_from_slice(&s[i..run_end]);
        i = run_end;
        if i < s.len() {
            match ansi_match_end(s, i) {
                Some(end) => i = end,
                None => {
                    // No alternative matched: the ESC stays and the scan
                    // resumes at the next char, as `re.sub` does.
                    out.push(s[i]);
                    i += 1;
                }
            }
        }
    }
}

/// `s` with every ANSI escape removed: `s` itself when it holds no ESC,
/// else its [`strip_ansi`] copy in `buf`.
pub fn stripped<'a, T: Unit>(s: &'a [T], buf: &'a mut Vec<T>) -> &'a [T] {
    if T::find(s, ESC as u8).is_none() {
        return s;
    }
    buf.clear();
    strip_ansi(s, buf);
    buf
}

/// The ANSI-stripped text of a whole output (§2.8.1), with where each piece
/// boundary of it lands; see [`strip_ansi_mapped_at`].
#[derive(Clone, Debug, Default)]
pub struct StrippedText {
    /// The text with every escape removed, as [`strip_ansi`] gives it.
    pub text: Vec<u8>,
    /// Per boundary `b` of the input: the offset in `text` where it lands,
    /// or `None` when an escape match runs across it (starts before it and
    /// ends after it).
    pub at: Vec<Option<usize>>,
}

impl StrippedText {
    /// The stripped text of the input's `bounds[a]..bounds[b]`, when that is
    /// a slice of the whole one: no match runs across either end. Then
    /// stripping that range alone gives the same text, because `re.sub`
    /// tries a match at its first position in both scans, and a match that
    /// looks past its end in the whole scan either fails there too or ends
    /// past its end (and so runs across it).
    pub fn range(&self, a: usize, b: usize) -> Option<std::ops::Range<usize>> {
        Some(self.at[a]?..self.at[b]?)
    }
}

/// [`strip_ansi_mapped_at`], finding the ESCs itself (the tests' form).
#[cfg(test)]
pub fn strip_ansi_mapped(s: &[u8], bounds: &[usize]) -> StrippedText {
    let escapes: Vec<usize> = memchr::memchr_iter(ESC as u8, s).collect();
    strip_ansi_mapped_at(s, bounds, &escapes)
}

/// [`strip_ansi`] of `s`, with the landing offset of each of `bounds`
/// (ascending offsets into `s`). `escapes` is
/// the offset of every ESC in `s`, ascending (as [`narrow_ascii_pieces`]
/// finds them): the scan jumps from one to the next instead of searching
/// the text for them.
pub fn strip_ansi_mapped_at(s: &[u8], bounds: &[usize], escapes: &[usize]) -> StrippedText {
    // Room for append_run's whole-chunk writes past the text's end.
    let mut text = Vec::with_capacity(s.len() + RUN_CHUNK);
    let mut at = Vec::with_capacity(bounds.len());
    let mut deleted = 0;
    let mut b = 0;
    let mut i = 0;
    let mut next_esc = escapes.iter().copied();
    while i < s.len() {
        // ESCs inside the last match (an OSC's `ESC \\`) are passed over.
        let run_end = next_esc.find(|&e| e >= i).unwrap_or(s.len());
        append_run(&mut text, s, i, run_end);
        i = run_end;
        if i == s.len() {
            break;
        }
        debug_assert_eq!(s[i], ESC as u8);
        match csi_end_bytes(s, i).unwrap_or_else(|| ansi_match_end(s, i)) {
            Some(end) => {
                while b < bounds.len() && bounds[b] <= i {
                    at.push(Some(bounds[b] - deleted));
                    b += 1;
                }
                while b < bounds.len() && bounds[b] < end {
                    at.push(None);
                    b += 1;
                }
                deleted += end - i;
                i = end;
            }
            None => {
                text.push(s[i]);
                i += 1;
            }
        }
    }
    at.extend(bounds[b..].iter().map(|&x| Some(x - deleted)));
    StrippedText { text, at }
}

/// [`ansi_match_end`] of a CSI escape (`ESC [`, parameter bytes
/// 0x30–0x3F, intermediate bytes 0x20–0x2F, a final byte 0x40–0x7E) at
/// `s[i] == ESC`, decided from the 16 bytes after the `[`: both classes
/// are a high nibble (3 and 2), so two compares and the trailing ones of
/// their masks find where each run ends, instead of a loop whose exit the
/// CPU mispredicts. Most escapes in terminal output are short CSIs
/// (colours, modes). `None` when this cannot decide: not a CSI, fewer
/// than 16 bytes left, or no room for the final byte in the block.
#[inline]
fn csi_end_bytes(s: &[u8], i: usize) -> Option<Option<usize>> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        let k0 = i + 2;
        if s.get(i + 1) != Some(&b'[') || k0 + 16 > s.len() {
            return None;
        }
        // SAFETY: k0 + 16 <= s.len(): the load reads 16 bytes of `s`; SSE2
        // is part of the x86_64 baseline.
        let (params, inter) = unsafe {
            let v = _mm_loadu_si128(s.as_ptr().add(k0).cast());
            let hi = _mm_and_si128(v, _mm_set1_epi8(0xF0u8 as i8));
            (
                _mm_movemask_epi8(_mm_cmpeq_epi8(hi, _mm_set1_epi8(0x30))) as u32,
                _mm_movemask_epi8(_mm_cmpeq_epi8(hi, _mm_set1_epi8(0x20))) as u32,
            )
        };
        // The parameter run, then the intermediate run after it (the
        // classes are disjoint, so the greedy match never backtracks).
        let n = (!params).trailing_zeros() as usize;
        let k = n + (!(inter >> n)).trailing_zeros() as usize;
        if k >= 16 {
            return None;
        }
        let end = k0 + k;
        // The final byte, or no match (the OSC and two-char alternatives
        // cannot match after `ESC [` either).
        Some((0x40..=0x7E).contains(&s[end]).then_some(end + 1))
    }
    #[cfg(not(target_arch = "x86_64"))]
    None
}

/// The chunk [`append_run`] copies at a time.
const RUN_CHUNK: usize = 32;

/// `text.extend_from_slice(&s[from..to])` for the runs between escapes
/// (about a line each), copied in whole [`RUN_CHUNK`]s while `s` has that
/// many bytes left, instead of a call to `memcpy` per run. The last chunk
/// may write up to `RUN_CHUNK - 1` bytes past the run into spare capacity,
/// which the next run or nothing overwrites; the length covers the run only.
/// `text` is never longer than `from` (stripping only deletes) and has
/// capacity for `s.len() + RUN_CHUNK` bytes.
#[inline]
fn append_run(text: &mut Vec<u8>, s: &[u8], from: usize, to: usize) {
    let len = to - from;
    let at = text.len();
    if at + len.next_multiple_of(RUN_CHUNK) > text.capacity() {
        text.extend_from_slice(&s[from..to]);
        return;
    }
    let dst = text.spare_capacity_mut().as_mut_ptr().cast::<u8>();
    let mut k = 0;
    while k < len {
        let Some(chunk) = s.get(from + k..from + k + RUN_CHUNK) else {
            // Fewer than a chunk left in `s`: the rest of the run exactly.
            // SAFETY: len - k bytes fit in the spare capacity (checked above).
            unsafe { std::ptr::copy_nonoverlapping(s[from + k..to].as_ptr(), dst.add(k), len - k) };
            break;
        };
        // SAFETY: k + RUN_CHUNK <= len rounded up to a chunk, which fits in
        // the spare capacity (checked above); `chunk` is RUN_CHUNK bytes.
        unsafe { std::ptr::copy_nonoverlapping(chunk.as_ptr(), dst.add(k), RUN_CHUNK) };
        k += RUN_CHUNK;
    }
    // SAFETY: text[at..at + len] was written above.
    unsafe { text.set_len(at + len) };
}

/// The end of the ANSI escape starting at `s[i] == ESC`, or `None` when no
/// alternative matches there. Alternatives in pattern order: CSI, OSC, 2-char.
fn ansi_match_end<T: Unit>(s: &[T], i: usize) -> Option<usize> {
    let at = |k: usize| s.get(k).map(|c| c.code());
    let j = i + 1;
    match at(j)? {
        LBRACKET => {
            // CSI: params 0x30-0x3F*, intermediates 0x20-0x2F*, final 0x40-0x7E.
            // The three classes are disjoint, so greedy matching never needs
            // to backtrack. On failure the OSC branch (needs `]`) and the
            // 2-char branch (excludes `[`) fail too.
            let mut k = j + 1;
            while at(k).is_some_and(|c| (0x30..=0x3F).contains(&c)) {
                k += 1;
            }
            while at(k).is_some_and(|c| (0x20..=0x2F).contains(&c)) {
                k += 1;
            }
            at(k)
                .is_some_and(|c| (0x40..=0x7E).contains(&c))
                .then_some(k + 1)
        }
        RBRACKET => {
            // OSC: any chars but BEL and ESC (newlines and surrogates too),
            // then an optional BEL or ESC `\`. Always matches (A12).
            let k = s[j + 1..]
                .iter()
                .position(|c| matches!(c.code(), BEL | ESC))
                .map_or(s.len(), |p| j + 1 + p);
            Some(match at(k) {
                Some(BEL) => k + 1,
                Some(ESC) if at(k + 1) == Some(BACKSLASH) => k + 2,
                _ => k,
            })
        }
        // 2-char: `[@-Z\\-_]` is 0x40-0x5A and 0x5C-0x5F.
        0x40..=0x5A | 0x5C..=0x5F => Some(j + 1),
        _ => None,
    }
}

/// The six case-sensitive error fingerprints of spec §2.8.2, in spec order.
const ERROR_FINGERPRINTS: [&str; 6] = [
    "command not found",
    "No such file or directory",
    "Permission denied",
    ": cannot ",
    "Operation not permitted",
    "syntax error near unexpected token",
];

/// True when the stripped window text holds any error fingerprint (§2.8.2).
/// The engine calls [`has_error_fingerprint_bytes`] on its byte view; this
/// char form is what the tests state cases in.
#[cfg(test)]
pub fn has_error_fingerprint(s: &[Char]) -> bool {
    let mut bytes = Vec::with_capacity(s.len());
    narrow_ascii(s, &mut bytes);
    has_error_fingerprint_bytes(&bytes)
}

/// `has_error_fingerprint` over the narrowed view: the fingerprints are
/// ASCII, so a match there is a match in the chars.
pub fn has_error_fingerprint_bytes(text: &[u8]) -> bool {
    !error_fingerprint_spans(text).is_empty()
}

/// Every occurrence of every error fingerprint in `text`, as `(start, end)`
/// sorted by start. No fingerprint overlaps itself or another, and none
/// holds another (a test checks), so one leftmost non-overlapping search
/// for all six finds every occurrence, and a slice of `text` holds a
/// fingerprint iff it holds one of these spans ([`fingerprint_within`]).
///
/// The search is [`scan_marks`]' (the locale keys it also finds are
/// dropped).
pub fn error_fingerprint_spans(text: &[u8]) -> Vec<(usize, usize)> {
    scan_marks(text).fingerprints
}

/// The marks [`scan_marks`] finds in a stripped output text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TextMarks {
    /// Every occurrence of every error fingerprint, as `(start, end)`
    /// sorted by start ([`error_fingerprint_spans`]).
    pub fingerprints: Vec<(usize, usize)>,
    /// Every occurrence of `LANG=` and of `LC_`, ascending: where a locale
    /// match can start ([`find_locale_tag_marked`]).
    pub locale_keys: Vec<usize>,
}

/// The locale key prefixes [`scan_marks`] looks for with the fingerprints.
const LOCALE_KEY_PREFIXES: [&str; 2] = ["LANG=", "LC_"];

/// The error fingerprints and the locale candidates of a text in one
/// SIMD pass (Teddy) where the CPU has it, else one `memmem` pass per
/// pattern. Neither locale prefix overlaps itself, the other or a
/// fingerprint (a test checks), so one leftmost non-overlapping search for
/// all eight still finds every occurrence of each.
pub fn scan_marks(text: &[u8]) -> TextMarks {
    use std::sync::LazyLock;
    static TEDDY: LazyLock<Option<aho_corasick::packed::Searcher>> =
        LazyLock::new(|| aho_corasick::packed::Searcher::new(MARK_PATTERNS));
    let Some(teddy) = TEDDY.as_ref() else {
        return scan_marks_by_memmem(text);
    };
    let mut marks = TextMarks::with_room();
    for m in teddy.find_iter(text) {
        marks.add(m.pattern().as_usize(), m.start(), m.end());
    }
    marks
}

/// The patterns of [`scan_marks`]: the fingerprints, then the locale keys.
const MARK_PATTERNS: [&str; 8] = [
    ERROR_FINGERPRINTS[0],
    ERROR_FINGERPRINTS[1],
    ERROR_FINGERPRINTS[2],
    ERROR_FINGERPRINTS[3],
    ERROR_FINGERPRINTS[4],
    ERROR_FINGERPRINTS[5],
    LOCALE_KEY_PREFIXES[0],
    LOCALE_KEY_PREFIXES[1],
];

/// [`scan_marks`] without Teddy: one `memmem` pass per pattern.
fn scan_marks_by_memmem(text: &[u8]) -> TextMarks {
    use memchr::memmem::Finder;
    use std::sync::LazyLock;
    static FINDERS: LazyLock<Vec<Finder<'static>>> =
        LazyLock::new(|| MARK_PATTERNS.iter().map(Finder::new).collect());
    let mut marks = TextMarks::with_room();
    for (k, f) in FINDERS.iter().enumerate() {
        let len = f.needle().len();
        for p in f.find_iter(text) {
            marks.add(k, p, p + len);
        }
    }
    marks.fingerprints.sort_unstable();
    marks.locale_keys.sort_unstable();
    marks
}

impl TextMarks {
    /// Empty, with room for the usual session: a few fingerprints, fewer
    /// locale keys.
    fn with_room() -> Self {
        TextMarks {
            fingerprints: Vec::with_capacity(16),
            locale_keys: Vec::with_capacity(4),
        }
    }

    /// An occurrence of [`MARK_PATTERNS`]`[pattern]` at `start..end`.
    fn add(&mut self, pattern: usize, start: usize, end: usize) {
        if pattern < ERROR_FINGERPRINTS.len() {
            self.fingerprints.push((start, end));
        } else {
            self.locale_keys.push(start);
        }
    }
}

/// True when one of `spans` (from [`error_fingerprint_spans`]) lies within
/// `range`.
pub fn fingerprint_within(spans: &[(usize, usize)], range: std::ops::Range<usize>) -> bool {
    let from = spans.partition_point(|&(start, _)| start < range.start);
    spans[from..]
        .iter()
        .take_while(|&&(start, _)| start < range.end)
        .any(|&(_, end)| end <= range.end)
}

/// Index of the first `c` in `hay`, scanning 16 chars at a time.
pub fn find_char(hay: &[Char], c: Char) -> Option<usize> {
    position_by_lanes(hay, |x| x == c)
}

/// Index of the first char of `hay` for which `hit` holds, testing 16
/// chars at a time with a branch-free fold (a loop the compiler vectorises
/// for simple tests).
#[inline]
pub fn position_by_lanes(hay: &[Char], hit: impl Fn(Char) -> bool) -> Option<usize> {
    const LANES: usize = 16;
    let mut chunks = hay.chunks_exact(LANES);
    let mut base = 0;
    for chunk in &mut chunks {
        if chunk.iter().fold(false, |acc, &x| acc | hit(x)) {
            return chunk.iter().position(|&x| hit(x)).map(|p| base + p);
        }
        base += LANES;
    }
    chunks
        .remainder()
        .iter()
        .position(|&x| hit(x))
        .map(|p| base + p)
}

/// Appends the prompt lines of one stripped output window to `out`
/// (spec §2.8.3). The caller sets each line's timestamp if it needs one.
///
/// Over chars, or over bytes when every byte is ASCII (a narrowed view
/// holds `0xFF` for any other char, which the classes here would misread).
pub fn find_prompt_lines<T: Unit>(stripped: &[T], out: &mut Vec<PromptLine>) {
    // Python `str.split('\n')`: a trailing `\r` stays on its piece.
    let mut rest = stripped;
    loop {
        let (raw, next) = match T::find(rest, LF as u8) {
            Some(p) => (&rest[..p], Some(&rest[p + 1..])),
            None => (rest, None),
        };
        if let Some(suffix_char) = prompt_suffix(raw) {
            let line = py_strip(raw);
            let cut = line.len().saturating_sub(PROMPT_LINE_MAX_CHARS);
            out.push(PromptLine {
                suffix_char,
                raw_line: line[cut..].iter().map(|c| c.code()).collect(),
            });
        }
        match next {
            Some(n) => rest = n,
            None => break,
        }
    }
}

/// [`find_prompt_lines`] over the narrowed view of a stripped window.
///
/// A line can only be a prompt when its last non-space byte is `$ # % >`
/// or non-ASCII (ASCII whitespace is exactly what Python strips there), so
/// the scan jumps between such bytes instead of visiting every line. A
/// candidate line that is all ASCII is its own chars; any other candidate
/// is checked on the chars of the stripped window, which `chars` builds on
/// first need (positions agree between the two views).
pub fn find_prompt_lines_bytes(
    text: &[u8],
    chars: &mut dyn FnMut() -> Vec<Char>,
    out: &mut Vec<PromptLine>,
) {
    let mut wide: Option<Vec<Char>> = None;
    let mut from = 0;
    while let Some(p) = find_suffix_byte(&text[from..]).map(|q| from + q) {
        // The line's end: the next `\n`, if only spaces come before it.
        let end = text[p + 1..]
            .iter()
            .position(|&b| b == b'\n' || !is_py_space(Char::from(b)))
            .map_or(text.len(), |q| p + 1 + q);
        if end < text.len() && text[end] != b'\n' {
            from = end; // a later non-space byte: `p` does not end its line
            continue;
        }
        let start = memchr::memrchr(b'\n', &text[..p]).map_or(0, |q| q + 1);
        let raw = &text[start..end];
        if raw.is_ascii() {
            find_prompt_lines(raw, out);
        } else {
            let w = wide.get_or_insert_with(&mut *chars);
            find_prompt_lines(&w[start..end], out);
        }
        from = end + 1;
        if from >= text.len() {
            break;
        }
    }
}

/// Index of the first byte that can end a prompt line: `$ # % >`, or a
/// non-ASCII char (`0xFF` in the narrowed view). Such bytes are rare in
/// terminal output (about one in 400), so this scan visits nearly every
/// output byte: 32 at a time with AVX2 where the CPU has it, else 16.
fn find_suffix_byte(hay: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if hay.len() >= 32 && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present (checked just above); hay has 32 bytes.
        return unsafe { find_suffix_byte_avx2(hay) };
    }
    find_suffix_byte_sse2(hay)
}

/// [`find_suffix_byte`] with AVX2, for `hay` of 32 bytes or more: 32
/// bytes a block, the last block overlapping the one before (whose bytes
/// held no suffix, so a hit in the overlap cannot come first).
///
/// # Safety
/// The CPU must support AVX2, and `hay.len() >= 32`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn find_suffix_byte_avx2(hay: &[u8]) -> Option<usize> {
    use std::arch::x86_64::*;
    let [dollar, hash, percent, gt] = [b'$', b'#', b'%', b'>'].map(|c| _mm256_set1_epi8(c as i8));
    let last = hay.len() - 32;
    let mut i = 0;
    loop {
        let at = i.min(last);
        // SAFETY: at + 32 <= hay.len(): the load reads 32 bytes of `hay`.
        let mask = unsafe {
            let v = _mm256_loadu_si256(hay.as_ptr().add(at).cast());
            let hit = _mm256_or_si256(
                _mm256_or_si256(_mm256_cmpeq_epi8(v, dollar), _mm256_cmpeq_epi8(v, hash)),
                _mm256_or_si256(_mm256_cmpeq_epi8(v, percent), _mm256_cmpeq_epi8(v, gt)),
            );
            // The top bit of a byte is its "non-ASCII" flag.
            _mm256_movemask_epi8(_mm256_or_si256(hit, v)) as u32
        };
        if mask != 0 {
            return Some(at + mask.trailing_zeros() as usize);
        }
        if at == last {
            return None;
        }
        i = at + 32;
    }
}

/// [`find_suffix_byte`] 16 bytes at a time (SSE2, the x86_64 baseline).
fn find_suffix_byte_sse2(hay: &[u8]) -> Option<usize> {
    let is_suffix = |b: u8| matches!(b, b'$' | b'#' | b'%' | b'>') || b >= 0x80;
    let mut i = 0;
    #[cfg(target_arch = "x86_64")]
    while let Some(block) = hay.get(i..i + 16) {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of the x86_64 baseline; the load reads the
        // 16 bytes of `block`.
        let mask = unsafe {
            let v = _mm_loadu_si128(block.as_ptr().cast());
            let eq = |c: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8));
            let hit = _mm_or_si128(
                _mm_or_si128(eq(b'$'), eq(b'#')),
                _mm_or_si128(eq(b'%'), eq(b'>')),
            );
            // The top bit of a byte is its "non-ASCII" flag.
            (_mm_movemask_epi8(hit) | _mm_movemask_epi8(v)) as u32
        };
        if mask != 0 {
            return Some(i + mask.trailing_zeros() as usize);
        }
        i += 16;
    }
    hay[i..].iter().position(|&b| is_suffix(b)).map(|p| i + p)
}

/// The prompt suffix char of one line, or `None` when it is not a prompt.
fn prompt_suffix<T: Unit>(raw: &[T]) -> Option<Char> {
    let stripped = py_rstrip(raw);
    let last = stripped.last()?.code();
    if !matches!(char::from_u32(last), Some('$' | '#' | '%' | '>')) {
        return None;
    }
    if raw.get(stripped.len()).map(|c| c.code()) == Some(SPACE) || ps1_shape_search(stripped) {
        Some(last)
    } else {
        None
    }
}

/// Python `re.search(r'(?:[\w.-]+@[\w.-]+|^\s*PS\s|[A-Za-z]:[\\/])', s)`
/// is not None (§2.8.3). Only existence matters, so each alternative reduces
/// to a local test.
fn ps1_shape_search<T: Unit>(s: &[T]) -> bool {
    let host_char = |c: Char| is_py_word(c) || c == Char::from(b'.') || c == Char::from(b'-');
    // `[\w.-]+@[\w.-]+` matches somewhere iff some `@` has a host char on
    // each side.
    let user_at_host = s.windows(3).any(|w| {
        w[1].code() == Char::from(b'@') && host_char(w[0].code()) && host_char(w[2].code())
    });
    // `^\s*PS\s`: `^` is the start of the piece only (no MULTILINE).
    let body = py_lstrip(s);
    let ps_prefix = body.len() >= 3
        && body[0].code() == Char::from(b'P')
        && body[1].code() == Char::from(b'S')
        && is_py_space(body[2].code());
    // `[A-Za-z]:[\\/]`: a drive letter (ASCII only).
    let drive = s.windows(3).any(|w| {
        is_ascii_alpha(w[0].code())
            && w[1].code() == Char::from(b':')
            && (w[2].code() == BACKSLASH || w[2].code() == Char::from(b'/'))
    });
    user_at_host || ps_prefix || drive
}

/// Python `s.strip()`: removes §2.7 whitespace from both ends.
pub fn py_strip<T: Unit>(s: &[T]) -> &[T] {
    py_rstrip(py_lstrip(s))
}

/// Python `s.lstrip()`: removes §2.7 whitespace from the start.
pub fn py_lstrip<T: Unit>(s: &[T]) -> &[T] {
    let start = s
        .iter()
        .position(|c| !is_py_space(c.code()))
        .unwrap_or(s.len());
    &s[start..]
}

/// Python `s.rstrip()`: removes §2.7 whitespace from the end.
pub fn py_rstrip<T: Unit>(s: &[T]) -> &[T] {
    let end = s
        .iter()
        .rposition(|c| !is_py_space(c.code()))
        .map_or(0, |p| p + 1);
    &s[..end]
}

/// The first piece of Python `s.strip().split()`, or `""` when there is none
/// (the command token of §2.7): the reference the segmenter's token, kept
/// as the chars arrive, is tested against.
#[cfg(test)]
pub fn first_token(s: &[Char]) -> &[Char] {
    let text = py_lstrip(s);
    let end = text
        .iter()
        .position(|&c| is_py_space(c))
        .unwrap_or(text.len());
    &text[..end]
}

/// The locale keys of §4.4.28 in pattern order, with their priorities.
const LOCALE_KEYS: [(&str, u8); 3] = [("LC_ALL", 3), ("LANG", 2), ("LC_CTYPE", 1)];

/// The locale tag of §4.4.28 steps 2-3 for a session's stripped output text:
/// the first normalisable value of the highest-priority key, or `None`.
///
/// Scans like Python `re.finditer` over
/// `(?P<key>LC_ALL|LANG|LC_CTYPE)=(?P<val>[A-Za-z]{2,3}(?:_[A-Za-z]{2,3})?(?:\.[A-Za-z0-9-]+)?(?:@[A-Za-z0-9]+)?|C|POSIX)`
/// (no word boundary, no end anchor, A6).
pub fn find_locale_tag<T: Unit>(text: &[T]) -> Option<String> {
    // Every key starts with `L`: each `L` is a candidate.
    let mut i = 0;
    let candidates = std::iter::from_fn(|| {
        let p = i + T::find(text.get(i..)?, b'L')?;
        i = p + 1;
        Some(p)
    });
    locale_tag_at(text, candidates)
}

/// [`find_locale_tag`] over the narrowed view, whose candidates are the
/// occurrences of `LANG=` and `LC_` (SIMD `memmem`): every match starts at
/// one, and neither overlaps itself, so their searches miss none. What the
/// tests compare [`find_locale_tag_marked`] with.
#[cfg(test)]
pub fn find_locale_tag_bytes(text: &[u8]) -> Option<String> {
    use memchr::memmem::Finder;
    use std::sync::LazyLock;
    static LANG: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"LANG="));
    static LC: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"LC_"));
    let mut lang = LANG.find_iter(text).peekable();
    let mut lc = LC.find_iter(text).peekable();
    let candidates = std::iter::from_fn(|| match (lang.peek(), lc.peek()) {
        (Some(a), Some(b)) if a < b => lang.next(),
        (_, Some(_)) => lc.next(),
        (Some(_), None) => lang.next(),
        (None, None) => None,
    });
    locale_tag_at(text, candidates)
}

/// [`find_locale_tag`] over the narrowed view, given the ascending
/// `locale_keys` of [`scan_marks`] over the same text: every match starts at
/// an occurrence of `LANG=` or `LC_`.
pub fn find_locale_tag_marked(text: &[u8], keys: &[usize]) -> Option<String> {
    locale_tag_at(text, keys.iter().copied())
}

/// The scan of [`find_locale_tag`] over ascending candidate positions, a
/// superset of where a match can start: like `re.finditer`, a match is
/// tried at each candidate not inside the previous match.
fn locale_tag_at<T: Unit>(text: &[T], candidates: impl Iterator<Item = usize>) -> Option<String> {
    let mut best = 0u8;
    let mut tag = None;
    let mut resume = 0;
    for i in candidates {
        if i < resume {
            continue;
        }
        if let Some((priority, val, end)) = locale_match_at(text, i) {
            if priority > best {
                if let Some(t) = normalise_locale(&text[val..end]) {
                    best = priority;
                    tag = Some(t);
                }
            }
            // finditer resumes after the match; matches are never empty.
            resume = end;
        }
    }
    tag
}

/// A locale match starting exactly at `i`: `(priority, val_start, end)`.
fn locale_match_at<T: Unit>(text: &[T], i: usize) -> Option<(u8, usize, usize)> {
    LOCALE_KEYS.iter().find_map(|&(key, priority)| {
        let after_key = i + key.len();
        let key_hit = text
            .get(i..after_key)?
            .iter()
            .zip(key.bytes())
            .all(|(c, k)| c.code() == Char::from(k));
        if !key_hit || text.get(after_key).map(|c| c.code()) != Some(Char::from(b'=')) {
            return None;
        }
        let val = after_key + 1;
        locale_val_end(text, val).map(|end| (priority, val, end))
    })
}

/// The end of the `val` group starting at `j`, alternatives in order.
fn locale_val_end<T: Unit>(text: &[T], j: usize) -> Option<usize> {
    // Count chars from `at` matching `class`, at most `max`.
    let run = |at: usize, max: usize, class: fn(Char) -> bool| {
        text.get(at..).map_or(0, |t| {
            t.iter().take(max).take_while(|c| class(c.code())).count()
        })
    };
    let is_char = |at: usize, want: u8| text.get(at).map(|c| c.code()) == Some(Char::from(want));
    let dash_alnum = |c: Char| is_ascii_alnum(c) || c == Char::from(b'-');

    // Branch 1. Nothing follows the group in the pattern, so the first,
    // fully greedy path always succeeds and no backtracking is needed.
    let lang = run(j, 3, is_ascii_alpha);
    if lang >= 2 {
        let mut p = j + lang;
        if is_char(p, b'_') {
            let region = run(p + 1, 3, is_ascii_alpha);
            if region >= 2 {
                p += 1 + region;
            }
        }
        if is_char(p, b'.') {
            let codeset = run(p + 1, usize::MAX, dash_alnum);
            if codeset >= 1 {
                p += 1 + codeset;
            }
        }
        if is_char(p, b'@') {
            let modifier = run(p + 1, usize::MAX, is_ascii_alnum);
            if modifier >= 1 {
                p += 1 + modifier;
            }
        }
        return Some(p);
    }
    // Branch 2: `C`. Branch 3, `POSIX`, is unreachable (branch 1 takes
    // `POS`) but kept for fidelity with the pattern.
    if is_char(j, b'C') {
        return Some(j + 1);
    }
    let posix = "POSIX".bytes().enumerate().all(|(k, b)| is_char(j + k, b));
    posix.then_some(j + 5)
}

/// §4.4.28 step 3 normalisation of one `val`, or `None` when rejected.
fn normalise_locale<T: Unit>(val: &[T]) -> Option<String> {
    // The pattern admits ASCII only, so `val` is ASCII in either view, and
    // ASCII case mapping is exact.
    let is = |w: &str| {
        val.len() == w.len()
            && val
                .iter()
                .zip(w.bytes())
                .all(|(c, b)| c.code() == Char::from(b))
    };
    if is("C") || is("POSIX") {
        return Some("und".to_owned());
    }
    let cut_at = |cs: &[T], stop: u8| {
        cs.iter()
            .position(|c| c.code() == Char::from(stop))
            .unwrap_or(cs.len())
    };
    let base = &val[..cut_at(val, b'.')];
    let base = &base[..cut_at(base, b'@')];
    let mut parts = base.split(|c| c.code() == Char::from(b'_'));
    let lang = parts.next().unwrap_or(&[]);
    // Python `isalpha()` on a string is false when it is empty.
    let alpha = |cs: &[T]| !cs.is_empty() && cs.iter().all(|c| is_py_alpha(c.code()));
    if !alpha(lang) || lang.len() < 2 {
        return None;
    }
    fn ascii<T: Unit>(cs: &[T]) -> impl Iterator<Item = char> + '_ {
        cs.iter().filter_map(|c| char::from_u32(c.code()))
    }
    let mut tag = String::with_capacity(base.len());
    tag.extend(ascii(lang).map(|c| c.to_ascii_lowercase()));
    if let Some(region) = parts.next() {
        if !alpha(region) {
            return None;
        }
        tag.push('-');
        tag.extend(ascii(region).map(|c| c.to_ascii_uppercase()));
    }
    (tag.chars().count() >= LOCALE_MIN_VALUE_LENGTH).then_some(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cs(s: &str) -> Vec<Char> {
        s.chars().map(|c| c as Char).collect()
    }

    fn strip(s: &[Char]) -> Vec<Char> {
        let mut out = Vec::new();
        strip_ansi(s, &mut out);
        out
    }

    #[test]
    fn narrowing_equals_the_scalar_rule_at_every_length() {
        // Chars around each edge of the rule and of the clamp, at every
        // offset of a 32-char block and in the tail.
        const EDGES: [Char; 10] = [
            0, 0x1B, 0x7F, 0x80, 0xFF, 0x100, 0xDC80, 0xFFFF, 0x10000, 0x10FFFF,
        ];
        let mut next = crate::extract::xorshift(0x9E6C_63D0_676A_9A99);
        for len in 0..100 {
            let s: Vec<Char> = (0..len).map(|_| EDGES[(next() % 10) as usize]).collect();
            let mut got = vec![7u8];
            narrow_ascii(&s, &mut got);
            let mut want = vec![7u8; len + 1];
            narrow_scalar(&s, &mut want[1..]);
            assert_eq!(got, want, "{s:?}");
            assert!(got[1..]
                .iter()
                .zip(&s)
                .all(|(&b, &c)| b == if c < 0x80 { c as u8 } else { 0xFF }));
        }
    }

    #[test]
    fn narrowing_pieces_equals_narrowing_each() {
        // Pieces of every length around the 32-char block and the 8-lane
        // quarter, one after another, so a piece's slack write is always
        // overwritten by the next one.
        const EDGES: [Char; 6] = [0x41, 0x1B, 0x7F, 0x80, 0xDC80, 0x10FFFF];
        let mut next = crate::extract::xorshift(0x51_7CC1_B727_220A);
        let pieces: Vec<Vec<Char>> = (0..300)
            .map(|i| {
                let len = if i < 100 { i } else { (next() % 70) as usize };
                (0..len).map(|_| EDGES[(next() % 6) as usize]).collect()
            })
            .collect();
        let total = pieces.iter().map(Vec::len).sum();
        let (mut got, mut starts, mut escapes) = (vec![9u8], Vec::new(), Vec::new());
        narrow_ascii_pieces(
            pieces.iter().map(Vec::as_slice),
            total,
            &mut got,
            &mut starts,
            &mut escapes,
        );
        let (mut want, mut want_starts) = (vec![9u8], Vec::new());
        for p in &pieces {
            want_starts.push(want.len());
            narrow_ascii(p, &mut want);
        }
        want_starts.push(want.len());
        assert_eq!(got, want);
        assert_eq!(starts, want_starts);
        // Every ESC once, in order (the blocks that overlap included).
        let want_escapes: Vec<usize> = (1..want.len()).filter(|&k| want[k] == 0x1B).collect();
        assert!(want_escapes.len() > 500, "{} ESCs", want_escapes.len());
        assert_eq!(escapes, want_escapes);
        // No pieces at all.
        let (mut got, mut starts, mut escapes) = (Vec::new(), Vec::new(), Vec::new());
        narrow_ascii_pieces(std::iter::empty(), 0, &mut got, &mut starts, &mut escapes);
        assert_eq!((got, starts, escapes), (vec![], vec![0], vec![]));
    }

    #[test]
    fn csi_block_match_equals_the_pattern() {
        // ESC [ then runs of parameter and intermediate bytes of every
        // length around the 16-byte block, any byte after them (a final
        // or not), and other bytes after the ESC.
        const PARAM: &[u8] = b"0123456789:;<=>?";
        const INTER: &[u8] = b" !\"#$%&'()*+,-./";
        const NEXT: &[u8] = b"m@~AZ[\x7f\x1b0 \xff\x07";
        let mut next = crate::extract::xorshift(0xC51_B10C);
        let (mut decided, mut matched) = (0, 0);
        for _ in 0..20_000 {
            let mut s = b"ab".to_vec();
            s.push(0x1B);
            s.push(if next().is_multiple_of(8) { b']' } else { b'[' });
            for _ in 0..next() % 18 {
                s.push(PARAM[(next() % 16) as usize]);
            }
            for _ in 0..next() % 4 {
                s.push(INTER[(next() % 16) as usize]);
            }
            for _ in 0..next() % 3 {
                s.push(NEXT[(next() % NEXT.len() as u64) as usize]);
            }
            s.extend((0..next() % 20).map(|_| b'x'));
            let want = ansi_match_end(&s, 2);
            if let Some(got) = csi_end_bytes(&s, 2) {
                assert_eq!(got, want, "{s:?}");
                decided += 1;
                matched += usize::from(got.is_some());
            }
        }
        assert!(
            decided > 5_000 && matched > 1_000,
            "{decided} decided, {matched} matched"
        );
    }

    #[test]
    fn suffix_byte_search_equals_the_scalar_rule() {
        // Every length around the 16- and 32-byte blocks, hits anywhere
        // (none, one, several: the first one counts), each suffix byte and
        // non-ASCII bytes.
        let is_suffix = |b: u8| matches!(b, b'$' | b'#' | b'%' | b'>') || b >= 0x80;
        const FILL: &[u8] = b"ab c/-\n=:[";
        const HITS: [u8; 6] = [b'$', b'#', b'%', b'>', 0x80, 0xFF];
        let mut next = crate::extract::xorshift(0x5EED_5AFF_1C5E);
        let mut found = 0;
        for len in 0..100 {
            for round in 0..30 {
                let hay: Vec<u8> = (0..len)
                    .map(|_| match next() % (8 * (round % 4 + 1)) {
                        0 => HITS[(next() % 6) as usize],
                        r => FILL[r as usize % FILL.len()],
                    })
                    .collect();
                let want = hay.iter().position(|&b| is_suffix(b));
                found += usize::from(want.is_some());
                assert_eq!(find_suffix_byte(&hay), want, "{hay:?}");
                assert_eq!(find_suffix_byte_sse2(&hay), want, "{hay:?}");
            }
        }
        assert!(found > 1000 && found < 2900, "{found} of 3000 with a hit");
    }

    /// No pattern's end is another's (or its own) start, and none holds
    /// another: a leftmost non-overlapping search finds every occurrence.
    fn assert_never_overlap(patterns: &[&str]) {
        for a in patterns.iter().map(|p| p.as_bytes()) {
            for b in patterns.iter().map(|p| p.as_bytes()) {
                let k_max = a.len().min(b.len()) - usize::from(a == b);
                assert!(
                    (1..=k_max).all(|k| a[a.len() - k..] != b[..k]),
                    "{a:?} {b:?}"
                );
                assert!(a == b || !a.windows(b.len()).any(|w| w == b));
            }
        }
    }

    #[test]
    fn fingerprint_spans_answer_for_every_slice() {
        // No fingerprint's end is another's (or its own) start, and none
        // holds another, so occurrences never overlap.
        assert_never_overlap(&ERROR_FINGERPRINTS);
        let text = b"x: cannot y command not found\nPermission denied: cannot zNo such file or directory: cannot ";
        let spans = error_fingerprint_spans(text);
        assert_eq!(spans.len(), 6);
        // The same spans as one search per fingerprint.
        let mut each: Vec<(usize, usize)> = ERROR_FINGERPRINTS
            .iter()
            .flat_map(|f| memchr::memmem::find_iter(text, f.as_bytes()).map(|p| (p, p + f.len())))
            .collect();
        each.sort_unstable();
        assert_eq!(spans, each);
        // A long text, so the SIMD search runs over whole blocks.
        let long: Vec<u8> = text.iter().cycle().take(text.len() * 40).copied().collect();
        assert_eq!(error_fingerprint_spans(&long).len(), 6 * 40);
        for a in 0..=text.len() {
            for b in a..=text.len() {
                assert_eq!(
                    fingerprint_within(&spans, a..b),
                    has_error_fingerprint_bytes(&text[a..b]),
                    "{a}..{b}"
                );
            }
        }
    }

    #[test]
    fn scan_marks_finds_what_the_separate_searches_find() {
        // No two of the eight patterns overlap (an end of one is never a
        // start of one) and none holds another.
        assert_never_overlap(&MARK_PATTERNS);
        // Random texts of patterns, their pieces and filler.
        const PIECES: [&str; 12] = [
            "LANG=",
            "LC_",
            "LC_ALL=C ",
            "LAN",
            "L",
            "command not found",
            "command not",
            ": cannot ",
            "Permission denied",
            "No such file",
            "x",
            "\r\n",
        ];
        let mut next = crate::extract::xorshift(0x1F83_D9AB_FB41_BD6B);
        for _ in 0..2000 {
            let text: Vec<u8> = (0..(next() % 60))
                .flat_map(|_| PIECES[(next() % 12) as usize].bytes())
                .collect();
            let marks = scan_marks(&text);
            // The fallback without Teddy finds the same.
            assert_eq!(scan_marks_by_memmem(&text), marks);
            // One search per fingerprint finds the same spans.
            let mut each: Vec<(usize, usize)> = ERROR_FINGERPRINTS
                .iter()
                .flat_map(|f| {
                    memchr::memmem::find_iter(&text, f.as_bytes()).map(|p| (p, p + f.len()))
                })
                .collect();
            each.sort_unstable();
            assert_eq!(marks.fingerprints, each);
            let mut keys: Vec<usize> = LOCALE_KEY_PREFIXES
                .iter()
                .flat_map(|k| memchr::memmem::find_iter(&text, k.as_bytes()))
                .collect();
            keys.sort_unstable();
            assert_eq!(marks.locale_keys, keys);
            assert_eq!(
                find_locale_tag_marked(&text, &marks.locale_keys),
                find_locale_tag_bytes(&text)
            );
        }
    }

    #[test]
    fn locale_scan_over_bytes_equals_the_char_scan() {
        // Texts dense in keys, near-keys and value chars, so matches chain,
        // overlap candidates and fail at every step.
        const PIECES: [&str; 14] = [
            "LANG=",
            "LC_ALL=",
            "LC_CTYPE=",
            "LC_",
            "LANG",
            "L",
            "en",
            "_US",
            ".UTF-8",
            "@euro",
            "C",
            "POSIX",
            "de",
            "x\n",
        ];
        let mut next = crate::extract::xorshift(0x3C6E_F372_FE94_F82B);
        let mut found = 0;
        for _ in 0..20_000 {
            let text: String = (0..(next() % 10))
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect();
            found += usize::from(locale(&text).is_some());
        }
        assert!(found > 5000, "{found} texts with a tag");
    }

    /// The definition [`find_prompt_lines_bytes`] implements: every line
    /// whose last non-space byte could end a prompt goes to
    /// [`find_prompt_lines`] on its chars.
    fn prompt_lines_by_line(chars: &[Char]) -> Vec<PromptLine> {
        let mut out = Vec::new();
        for line in chars.split(|&c| c == LF) {
            let last = line.iter().rev().find(|&&c| c >= 0x80 || !is_py_space(c));
            if last.is_some_and(|&c| c >= 0x80 || b"$#%>".contains(&(c as u8))) {
                find_prompt_lines(line, &mut out);
            }
        }
        out
    }

    #[test]
    fn prompt_scan_over_bytes_equals_the_line_by_line_scan() {
        const PIECES: [&str; 16] = [
            "$", "#", "%", ">", " ", "\r", "\n", "\t", "\x1c", "root@h:~", "PS C:\\", "a",
            "\u{e9}", "\u{3000}", "x@y", "C:/",
        ];
        let mut next = crate::extract::xorshift(0xA54F_F53A_5F1D_36F1);
        let mut found = 0;
        for _ in 0..20_000 {
            let text: String = (0..(next() % 24))
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect();
            let chars = cs(&text);
            let mut bytes = Vec::new();
            narrow_ascii(&chars, &mut bytes);
            let mut got = Vec::new();
            find_prompt_lines_bytes(&bytes, &mut || chars.clone(), &mut got);
            let want = prompt_lines_by_line(&chars);
            assert_eq!(got, want, "{text:?}");
            found += want.len();
        }
        assert!(found > 5000, "{found} prompt lines");
    }

    #[test]
    fn whole_strip_slices_are_the_ranges_stripped_alone() {
        // Random text dense in escape material, cut into random pieces: a
        // range whose ends no match runs across strips to the same text on
        // its own; every range the whole scan cuts is reported as such.
        const ALPHABET: &[u8] = b"\x1b\x1b\x1b[]\\\x07;?0123@AZ_ m\n\r\xff";
        let mut next = crate::extract::xorshift(0xD1B5_4A32_D192_ED03);
        let (mut sliced, mut cut) = (0, 0);
        for _ in 0..3000 {
            let len = (next() % 40) as usize;
            let s: Vec<u8> = (0..len)
                .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
                .collect();
            let mut bounds: Vec<usize> = (0..(next() % 6))
                .map(|_| (next() % (len as u64 + 1)) as usize)
                .chain([0, len])
                .collect();
            bounds.sort_unstable();
            let m = strip_ansi_mapped(&s, &bounds);
            let mut whole = Vec::new();
            strip_ansi(&s, &mut whole);
            assert_eq!(m.text, whole, "{s:?}");
            assert_eq!(m.at.len(), bounds.len());
            for a in 0..bounds.len() {
                for b in a..bounds.len() {
                    let mut alone = Vec::new();
                    strip_ansi(&s[bounds[a]..bounds[b]], &mut alone);
                    match m.range(a, b) {
                        Some(r) => {
                            assert_eq!(&m.text[r], &alone[..], "{s:?} {bounds:?} {a}..{b}");
                            sliced += 1;
                        }
                        None => cut += 1,
                    }
                }
            }
        }
        assert!(sliced > 10_000 && cut > 500, "sliced {sliced} cut {cut}");
    }

    #[test]
    fn whole_strip_copies_long_runs_exactly() {
        // Runs between escapes of every length around the copy chunk, and
        // texts ending inside a chunk: the mapped strip copies the runs in
        // whole chunks, the plain one byte for byte.
        let mut next = crate::extract::xorshift(0x2545_F491_4F6C_DD1D);
        for round in 0..2000 {
            let len = if round < 200 {
                round
            } else {
                (next() % 400) as usize
            };
            let s: Vec<u8> = (0..len)
                .map(|_| match next() % 60 {
                    0 => 0x1B,
                    1 => b'[',
                    2 => b'm',
                    k => b' ' + (k % 90) as u8,
                })
                .collect();
            let m = strip_ansi_mapped(&s, &[0, len]);
            let mut whole = Vec::new();
            strip_ansi(&s, &mut whole);
            assert_eq!(m.text, whole, "{s:?}");
        }
    }

    fn strip_str(s: &str) -> String {
        strip(&cs(s))
            .into_iter()
            .map(|c| char::from_u32(c).unwrap())
            .collect()
    }

    fn prompts(s: &str) -> Vec<(char, String)> {
        let mut out = Vec::new();
        find_prompt_lines(&cs(s), &mut out);
        out.into_iter()
            .map(|p| {
                (
                    char::from_u32(p.suffix_char).unwrap(),
                    p.raw_line
                        .iter()
                        .map(|&c| char::from_u32(c).unwrap())
                        .collect(),
                )
            })
            .collect()
    }

    fn locale(s: &str) -> Option<String> {
        let mut bytes = Vec::new();
        narrow_ascii(&cs(s), &mut bytes);
        let tag = find_locale_tag(&cs(s));
        assert_eq!(find_locale_tag_bytes(&bytes), tag, "{s:?}");
        tag
    }

    #[test]
    fn strip_ansi_removes_csi_osc_and_two_char() {
        assert_eq!(strip_str("a\x1b[0;32mgreen\x1b[0m b"), "agreen b");
        assert_eq!(strip_str("\x1b[?2004h$ "), "$ ");
        assert_eq!(strip_str("x\x1b]0;title\x07y"), "xy");
        assert_eq!(strip_str("x\x1b]0;title\x1b\\y"), "xy");
        assert_eq!(strip_str("\x1bMa\x1b_b\x1b\\c\x1b@"), "abc");
    }

    #[test]
    fn strip_ansi_appends_without_clearing() {
        let mut out = cs("keep");
        strip_ansi(&cs("\x1b[1m!"), &mut out);
        assert_eq!(out, cs("keep!"));
    }

    /// §2.8.1: a failed CSI leaves `ESC [` in place; the scan resumes right
    /// after the ESC, so a later ESC inside the failed attempt still matches.
    #[test]
    fn strip_ansi_failed_csi_keeps_esc_bracket() {
        assert_eq!(strip_str("\x1b[12"), "\x1b[12");
        assert_eq!(strip_str("\x1b[1;2\x1b[0m"), "\x1b[1;2");
        assert_eq!(strip_str("\x1b[ \x7f"), "\x1b[ \x7f");
        // Intermediate then param is not a CSI shape; `0` is not final.
        assert_eq!(strip_str("\x1b[ 0m"), "\x1b[ 0m");
        assert_eq!(strip_str("\x1b[\x1b[A"), "\x1b[");
        assert_eq!(strip_str("\x1b["), "\x1b[");
        assert_eq!(strip_str("\x1b"), "\x1b");
    }

    /// §2.8.1 / A12: an unterminated OSC swallows to the end, newlines and
    /// surrogates included; an ESC without `\` ends the OSC before it.
    #[test]
    fn strip_ansi_osc_edges() {
        assert_eq!(strip_str("a\x1b]0;t\nPermission denied\n$ "), "a");
        let mut s = cs("a\x1b]x");
        s.push(0xDC80);
        s.extend(cs("y"));
        assert_eq!(strip(&s), cs("a"));
        // ESC not followed by `\`: the OSC stops there; `ESC [m` is then a CSI.
        assert_eq!(strip_str("\x1b]0;t\x1b[mz"), "z");
        // ESC followed by `(` is left alone after the OSC stops.
        assert_eq!(strip_str("\x1b]0;t\x1b(Bz"), "\x1b(Bz");
        assert_eq!(strip_str("\x1b]\x1b"), "\x1b");
        assert_eq!(strip_str("\x1b]\x07\x07"), "\x07");
    }

    #[test]
    fn strip_ansi_leaves_other_escapes() {
        assert_eq!(
            strip_str("\x1b(B\x1b=\x1b7\x1ba\x1b[A"),
            "\x1b(B\x1b=\x1b7\x1ba"
        );
        assert_eq!(strip_str("\x1bPq#0\x1b\\"), "q#0");
        assert_eq!(strip_str("\x1b\x1bZ"), "\x1b");
        // 0x5B `[` and 0x60 `` ` `` bound the 2-char class.
        assert_eq!(strip_str("\x1b`\x1b^\x1b\\"), "\x1b`");
    }

    #[test]
    fn error_fingerprints_are_case_sensitive_substrings() {
        assert!(has_error_fingerprint(&cs(
            "bash: foo: command not found\r\n"
        )));
        assert!(has_error_fingerprint(&cs("ls: cannot access 'x'")));
        assert!(has_error_fingerprint(&cs(
            "xsyntax error near unexpected token"
        )));
        assert!(has_error_fingerprint(&cs("Operation not permitted")));
        assert!(has_error_fingerprint(&cs("No such file or directory")));
        assert!(has_error_fingerprint(&cs("Permission denied")));
        assert!(!has_error_fingerprint(&cs("permission denied")));
        assert!(!has_error_fingerprint(&cs(":cannot ")));
        assert!(!has_error_fingerprint(&cs(": cannot")));
        assert!(!has_error_fingerprint(&cs("Permission denie")));
        assert!(!has_error_fingerprint(&[]));
    }

    #[test]
    fn prompt_with_trailing_space() {
        assert_eq!(
            prompts("out\r\nroot@h:~# "),
            vec![('#', "root@h:~#".into())]
        );
        // A space after a `\r`-ended rstrip still counts: the char right after
        // the stripped text is what matters.
        assert_eq!(prompts("  $ \r"), vec![('$', "$".into())]);
        assert_eq!(prompts("> x"), vec![]);
        assert_eq!(prompts("#\t"), vec![]);
        assert_eq!(prompts("%\u{a0} "), vec![]);
    }

    #[test]
    fn prompt_by_ps1_shape() {
        assert_eq!(prompts("user@host:~$"), vec![('$', "user@host:~$".into())]);
        assert_eq!(prompts("[é@ü]#\r"), vec![('#', "[é@ü]#".into())]);
        assert_eq!(
            prompts("  PS\u{2003}C>"),
            vec![('>', "PS\u{2003}C>".into())]
        );
        assert_eq!(prompts("C:\\Users>"), vec![('>', "C:\\Users>".into())]);
        assert_eq!(prompts("x z:/>"), vec![('>', "x z:/>".into())]);
        // Near misses.
        assert_eq!(prompts("@host$"), vec![]);
        assert_eq!(prompts("user@ $"), vec![]);
        assert_eq!(prompts("a PS x>"), vec![]);
        assert_eq!(prompts("PS>"), vec![]);
        assert_eq!(prompts("1:\\>"), vec![]);
        assert_eq!(prompts("é:\\>"), vec![]);
        assert_eq!(prompts("root@h:~# ex"), vec![]);
        // Surrogates are not `\w`; `²` is.
        assert_eq!(
            prompts("\u{b2}@\u{b2}$"),
            vec![('$', "\u{b2}@\u{b2}$".into())]
        );
        let mut s = vec![0xDC80];
        s.extend(cs("@a$"));
        let mut out = Vec::new();
        find_prompt_lines(&s, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn prompt_lines_split_on_newline_only() {
        assert_eq!(
            prompts("a@b$\rc@d#\nx\n\ne@f% \n"),
            vec![('#', "a@b$\rc@d#".into()), ('%', "e@f%".into())]
        );
        // U+001C..U+001F are Python whitespace for rstrip.
        assert_eq!(prompts("a@b$\u{1c}"), vec![('$', "a@b$".into())]);
        assert_eq!(prompts(""), vec![]);
    }

    #[test]
    fn prompt_raw_line_keeps_last_256_chars() {
        let long = format!("  {}user@host$  ", "x".repeat(300));
        let got = prompts(&long);
        assert_eq!(got.len(), 1);
        let line = &got[0].1;
        assert_eq!(line.chars().count(), PROMPT_LINE_MAX_CHARS);
        assert!(line.ends_with("xuser@host$"));
    }

    #[test]
    fn strip_and_first_token_use_python_whitespace() {
        assert_eq!(py_strip(&cs("\u{1f} a b\u{3000}")), &cs("a b")[..]);
        assert_eq!(py_lstrip(&cs("\u{85}a ")), &cs("a ")[..]);
        assert_eq!(py_rstrip(&cs(" a\u{200a}")), &cs(" a")[..]);
        // U+200B is not whitespace.
        assert_eq!(py_strip(&cs("\u{200b}a")), &cs("\u{200b}a")[..]);
        assert_eq!(first_token(&cs("  ls\u{1c}-la x")), &cs("ls")[..]);
        assert_eq!(first_token(&cs("\t \t")), &[] as &[Char]);
        assert_eq!(first_token(&cs("\0ls -l")), &cs("\0ls")[..]);
        assert_eq!(first_token(&cs("lsx\x7f")), &cs("lsx\x7f")[..]);
    }

    #[test]
    fn locale_examples_from_spec() {
        assert_eq!(locale("LANG=en_US.UTF-8\n"), Some("en-US".into()));
        assert_eq!(locale("LANG=de_DE@euro"), Some("de-DE".into()));
        assert_eq!(locale("LANG=C.UTF-8"), Some("und".into()));
        assert_eq!(locale("LC_ALL=POSIX"), Some("pos".into()));
        assert_eq!(locale("LANG=english"), Some("eng".into()));
        assert_eq!(locale("XLANG=fr_FR"), Some("fr-FR".into()));
        assert_eq!(locale("LANG=en_US:en"), Some("en-US".into()));
    }

    #[test]
    fn locale_priority_first_highest_wins() {
        assert_eq!(
            locale("LC_CTYPE=ja_JP LANG=fr_FR LANG=de_DE LC_ALL=it_IT LC_ALL=es"),
            Some("it-IT".into())
        );
        assert_eq!(locale("LANG=fr_FR LC_CTYPE=ja_JP"), Some("fr-FR".into()));
        assert_eq!(locale("LC_CTYPE=ja_JP"), Some("ja-JP".into()));
        assert_eq!(locale("LANG= LANG=1 LANG=x"), None);
        assert_eq!(locale(""), None);
    }

    /// Regex edge cases checked against Python's `re.finditer`.
    #[test]
    fn locale_regex_edges() {
        // `{2,3}` is greedy and ASCII-only; the region needs 2 letters.
        assert_eq!(locale("LANG=abcd_EFGH"), Some("abc".into()));
        assert_eq!(locale("LANG=ab_c.x"), Some("ab".into()));
        assert_eq!(locale("LANG=ab_cde.x"), Some("ab-CDE".into()));
        assert_eq!(locale("LANG=éa_FR"), None);
        // `C` only when branch 1 fails: `Ca` is a language.
        assert_eq!(locale("LANG=Ca"), Some("ca".into()));
        assert_eq!(locale("LANG=C"), Some("und".into()));
        assert_eq!(locale("LANG=c"), None);
        // The match resumes after `LANG=LANG`, so the inner `LANG=` is not
        // seen: `=LANG=...` only yields the outer value.
        assert_eq!(locale("LANG=LANG=fr_FR"), Some("lan".into()));
        // A failed key at one position does not hide a key one char later.
        assert_eq!(locale("LC_LC_ALL=ru"), Some("ru".into()));
        assert_eq!(locale("LC_ALL=\u{1b}LANG=ko_KR"), Some("ko-KR".into()));
    }
}
