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
use std::mem::MaybeUninit;

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

/// The chars a block of [`narrow_strip_pieces`] narrows at most.
const NARROW_BLOCK: usize = 64;

/// How far ahead of the block being narrowed [`narrow_block_avx2`]
/// prefetches: 1,024 chars, one 4 KiB page. In the engine benchmark,
/// 512–2,048 made the engine about 2 % faster than no prefetch.
const PREFETCH_CHARS: usize = 1024;

/// What [`narrow_strip_pieces`] makes of a list of pieces (the output
/// events of a session).
#[derive(Clone, Debug, Default)]
pub struct NarrowStripped {
    /// `starts[i]..starts[i + 1]` is piece `i` in the pieces end to end,
    /// in chars; one more than the pieces.
    pub starts: Vec<usize>,
    /// Every ESC the strip tried a match at that starts a DCS (`ESC P`),
    /// an OSC (`ESC ]`) or a private-mode CSI (`ESC [ ?`) within its piece
    /// ([`starts_control_sequence`]), as (piece, offset in the piece), in
    /// order: where the markers of a terminal multiplexer start (§4.4.27).
    /// The ESCs the strip passes over are those of the `ESC \` that ends
    /// an OSC match, which start none of these.
    pub control_escapes: Vec<(usize, usize)>,
    /// The pieces end to end, narrowed ([`narrow_ascii`]) and stripped
    /// of every ANSI escape, with where each of `starts` lands in it.
    pub stripped: StrippedText,
}

/// The pieces end to end, narrowed to bytes ([`narrow_ascii`]) and
/// stripped of every ANSI escape ([`strip_ansi`] of the whole, §2.8.1), in
/// one pass over the chars: each block of up to 64 chars is
/// narrowed straight to where it lands in the stripped text, and at an
/// ESC the match is taken from the chars (across piece ends when it runs
/// past one) and the bytes after it move back over it. The narrowed text
/// before stripping is never built.
pub fn narrow_strip_pieces<P: AsRef<[Char]>>(pieces: &[P]) -> NarrowStripped {
    narrow_strip_pieces_into(pieces, NarrowStripped::default())
}

/// [`narrow_strip_pieces`] into the buffers of `into` (emptied first), so
/// a caller can reuse them.
pub fn narrow_strip_pieces_into<P: AsRef<[Char]>>(
    pieces: &[P],
    into: NarrowStripped,
) -> NarrowStripped {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present (checked just above).
        return unsafe { narrow_strip_avx2(pieces, into) };
    }
    // Every CSI is taken by the general matcher.
    narrow_strip_with(pieces, into, narrow_block_scalar, |_, _| None)
}

/// [`narrow_strip_pieces`] with AVX2 blocks and CSI matches.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn narrow_strip_avx2<P: AsRef<[Char]>>(
    pieces: &[P],
    into: NarrowStripped,
) -> NarrowStripped {
    narrow_strip_with(
        pieces,
        into,
        // SAFETY: AVX2 is present (this function's contract).
        |s, k, out| unsafe { narrow_block_avx2(s, k, out) },
        // SAFETY: as above.
        |s, p| unsafe { csi_end_avx2(s, p) },
    )
}

/// The pass of [`narrow_strip_pieces`]. `block(s, k, out)` narrows chars
/// `k..k + n` of `s` (`k < s.len()`, `n` = the chars left, at most
/// [`NARROW_BLOCK`]) into `out`'s first `n` bytes (it may write the rest)
/// and returns `n` and a mask of the ESCs among them (bit `q` for char
/// `k + q`). `csi_end(s, p)` is the end of the CSI match at `s[p] == ESC`
/// when `s` alone decides it ([`ansi_match_end`]'s value), else `None`
/// (see [`match_end_within`]).
#[inline(always)]
fn narrow_strip_with<P: AsRef<[Char]>>(
    pieces: &[P],
    into: NarrowStripped,
    mut block: impl FnMut(&[Char], usize, &mut [MaybeUninit<u8>; NARROW_BLOCK]) -> (usize, u64),
    mut csi_end: impl FnMut(&[Char], usize) -> Option<Option<usize>>,
) -> NarrowStripped {
    let total: usize = pieces.iter().map(|p| p.as_ref().len()).sum();
    // Room for a whole block written at any byte kept, and for the block's
    // worth of bytes a move over a match reads from as far as the pieces'
    // end (see the bounds at each copy), with a block to spare.
    let NarrowStripped {
        mut starts,
        mut control_escapes,
        stripped: StrippedText { mut text, mut at },
    } = into;
    text.clear();
    text.reserve(total + 2 * NARROW_BLOCK);
    starts.clear();
    starts.reserve(pieces.len() + 1);
    at.clear();
    at.reserve(pieces.len() + 1);
    // A prompt's and a command's bracketed-paste switches (`ESC [?2004h`,
    // `l`) are about one every two output events; fewer reallocations.
    control_escapes.clear();
    control_escapes.reserve(pieces.len() / 2);
    let spare = text.spare_capacity_mut();
    // Bytes kept; the piece's offset in the pieces end to end; the end of
    // the last match. `o <= g + k` throughout: stripping only deletes.
    let (mut o, mut g, mut matched_to) = (0, 0, 0usize);
    for (j, piece) in pieces.iter().enumerate() {
        let s = piece.as_ref();
        starts.push(g);
        // None when a match runs across the piece's start.
        at.push((matched_to <= g).then_some(o));
        // Blocks at fixed steps, whatever the matches: where the next
        // block's chars are read never waits on where a match ends (a
        // chain of dependent loads per ESC), so the CPU narrows the next
        // blocks while it works out the matches of this one.
        let mut k = 0;
        while k < s.len() {
            debug_assert!(o + NARROW_BLOCK <= spare.len());
            // SAFETY: o <= g + k < total, and `spare` holds total +
            // 2 * NARROW_BLOCK bytes, so the block's bytes lie in it
            // (and are borrowed only for this call).
            let out = unsafe { &mut *spare.as_mut_ptr().add(o).cast() };
            let (n, mut escs) = block(s, k, out);
            // Chars k..cur are dealt with, and the byte of each char from
            // `cur` to the block's end is at `o` plus its distance from
            // `cur`.
            let mut cur = k;
            if matched_to > g + k {
                // A match runs into the block: its chars here are dropped.
                let skip = (matched_to - g - k).min(n);
                cur = k + skip;
                // The source lies in the buffer: o + skip + 64 <= g + k +
                // n + 64 <= total + 64.
                spare.copy_within(o + skip..o + skip + NARROW_BLOCK, o);
            }
            // Every ESC of the block in turn: how many there are is known
            // from the block alone, so the loop's exit does not wait on the
            // matches either.
            while escs != 0 {
                let p = k + escs.trailing_zeros() as usize;
                escs &= escs - 1;
                if p < cur {
                    continue; // within the last match (its ESC \ end, say)
                }
                // The chars before the ESC are kept.
                o += p - cur;
                if starts_control_sequence(&s[p..]) {
                    control_escapes.push((j, p));
                }
                let end = match match_end_within(s, p, &mut csi_end) {
                    Some(end) => end.map(|x| g + x),
                    None => ansi_match_end_in(pieces, j, g, g + p),
                };
                match end {
                    Some(end) => {
                        matched_to = end;
                        cur = end - g;
                        // The block's bytes after the match move back over
                        // it (a whole block's worth: the copy holds the
                        // rest of the block, and what it overwrites past
                        // that is rewritten later). Done whether or not the
                        // match ends in the block, so no branch waits on
                        // it: the source lies in the buffer either way
                        // (o <= g + p, so from + 64 <= end + 64 <= total +
                        // 64), and what a move from past the block writes
                        // at `o` is rewritten later.
                        let from = o + (cur - p);
                        spare.copy_within(from..from + NARROW_BLOCK, o);
                    }
                    None => {
                        // No alternative matched: the ESC (at `o`) stays
                        // and the scan resumes after it, as `re.sub` does.
                        o += 1;
                        cur = p + 1;
                    }
                }
            }
            // The rest of the block (if any) is kept.
            o += (k + n).saturating_sub(cur);
            k += n;
        }
        g += s.len();
    }
    starts.push(g);
    at.push(Some(o));
    // SAFETY: text[..o] was written: each block wrote its bytes before
    // `o` was moved past them, and a move after a match wrote the bytes it
    // moved before `o` was moved past them.
    unsafe { text.set_len(o) };
    NarrowStripped {
        starts,
        control_escapes,
        stripped: StrippedText { text, at },
    }
}

/// True when `at` (from an ESC) starts a DCS (`ESC P`), an OSC (`ESC ]`)
/// or a private-mode CSI (`ESC [ ?`). Most ESCs of terminal output start
/// colour or mode sequences (`ESC [` then a digit), which this rules out
/// from the two chars after the ESC.
pub fn starts_control_sequence(at: &[Char]) -> bool {
    const P: Char = b'P' as Char;
    const QUESTION: Char = b'?' as Char;
    matches!(at.get(1..3), Some([P | RBRACKET, _] | [LBRACKET, QUESTION]))
}

/// [`ansi_match_end`] of the ESC at `s[p]` when `s` alone decides it,
/// else `None` (a match that may run past the end of `s`): the 2-char
/// and no-match cases from the char after the ESC, an OSC by a lane-wise
/// search for its BEL or ESC, and a CSI by `csi(s, p)` (which may also
/// give `None`).
#[inline(always)]
fn match_end_within(
    s: &[Char],
    p: usize,
    csi: &mut impl FnMut(&[Char], usize) -> Option<Option<usize>>,
) -> Option<Option<usize>> {
    match *s.get(p + 1)? {
        LBRACKET => csi(s, p),
        RBRACKET => {
            let q = p + 2 + position_by_lanes(&s[p + 2..], |c| c == BEL || c == ESC)?;
            Some(Some(if s[q] == BEL {
                q + 1
            } else if *s.get(q + 1)? == BACKSLASH {
                q + 2
            } else {
                q
            }))
        }
        0x40..=0x5A | 0x5C..=0x5F => Some(Some(p + 2)),
        _ => Some(None),
    }
}

/// [`ansi_match_end`] of the ESC at offset `i` of the pieces end to end,
/// which piece `j` (at offset `g`) holds; the match may read past the ends
/// of pieces.
fn ansi_match_end_in<P: AsRef<[Char]>>(
    pieces: &[P],
    mut j: usize,
    mut g: usize,
    i: usize,
) -> Option<usize> {
    ansi_match_end_by(i, |x| {
        // `x` never decreases, so it lies in piece `j` or a later one.
        while let Some(piece) = pieces.get(j) {
            let s = piece.as_ref();
            if x < g + s.len() {
                return Some(s[x - g]);
            }
            g += s.len();
            j += 1;
        }
        None
    })
}

/// One block of [`narrow_strip_with`], a char at a time.
fn narrow_block_scalar(
    s: &[Char],
    k: usize,
    out: &mut [MaybeUninit<u8>; NARROW_BLOCK],
) -> (usize, u64) {
    let chars = &s[k..s.len().min(k + NARROW_BLOCK)];
    let mut escs = 0;
    for (q, (o, &c)) in out.iter_mut().zip(chars).enumerate() {
        escs |= u64::from(c == ESC) << q;
        o.write(narrow_char(c));
    }
    (chars.len(), escs)
}

/// One block of [`narrow_strip_with`] with AVX2: up to 64 chars, each 32
/// clamped to `0xFF`, packed to bytes and every byte with its top bit set
/// made `0xFF`, as [`narrow_avx2`] does. Two halves a block halve the
/// bookkeeping per char of the pass over long outputs; a half of fewer
/// than 32 chars is loaded masked (the lanes past the piece read as 0,
/// which is no ESC), and a block of 32 chars or fewer (most output
/// events) narrows one half only.
///
/// # Safety
/// The CPU must support AVX2; `k < s.len()`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn narrow_block_avx2(
    s: &[Char],
    k: usize,
    out: &mut [MaybeUninit<u8>; NARROW_BLOCK],
) -> (usize, u64) {
    use std::arch::x86_64::*;
    let left = s.len() - k;
    let src = s[k..].as_ptr();
    let esc = _mm256_set1_epi8(ESC as i8);
    // The 32 chars from `src + 32 * h` (of which `live` are in the piece)
    // narrowed into `out[32 * h..]`, and the mask of their ESCs.
    // SAFETY (all the loads): a full half reads 32 chars of `s` after `k`;
    // a short one reads only its lanes below `live`, chars before
    // `s.len()` (a masked-off lane is not read and cannot fault).
    let half = |out: &mut [MaybeUninit<u8>; NARROW_BLOCK], h: usize, live: usize| {
        let from = src.wrapping_add(32 * h);
        let v = if live >= 32 {
            let from = from.cast::<__m256i>();
            [0, 1, 2, 3].map(|q| unsafe { _mm256_loadu_si256(from.add(q)) })
        } else {
            let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            [0, 1, 2, 3].map(|q| {
                let on = _mm256_cmpgt_epi32(_mm256_set1_epi32(live as i32 - 8 * q as i32), lanes);
                unsafe { _mm256_maskload_epi32(from.wrapping_add(8 * q).cast(), on) }
            })
        };
        let bytes = narrow_lanes_avx2(v);
        // SAFETY: `out` holds 64 bytes, and h is 0 or 1.
        unsafe { _mm256_storeu_si256(out.as_mut_ptr().add(32 * h).cast(), bytes) };
        _mm256_movemask_epi8(_mm256_cmpeq_epi8(bytes, esc)) as u32 as u64
    };
    if left >= NARROW_BLOCK {
        // The chars PREFETCH_CHARS ahead (four cache lines): the decoder
        // wrote them a whole shard ago, so they come from the outer
        // caches, and the hardware prefetcher does not run ahead across
        // pages. A prefetch past the piece's end is harmless.
        let ahead = src.wrapping_add(PREFETCH_CHARS);
        for line in 0..4 {
            _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(16 * line).cast());
        }
        let lo = half(out, 0, 32);
        (NARROW_BLOCK, lo | half(out, 1, 32) << 32)
    } else if left > 32 {
        let lo = half(out, 0, 32);
        (left, lo | half(out, 1, left - 32) << 32)
    } else {
        (left, half(out, 0, left))
    }
}

/// [`ansi_match_end`] of a CSI escape (`ESC [`, parameter chars
/// 0x30–0x3F, intermediate chars 0x20–0x2F, a final char 0x40–0x7E) at
/// `s[p] == ESC`, decided from the 16 chars after the `[`: both classes
/// are the chars whose value shifted right by 4 is 3 (or 2), so two
/// compares and the trailing ones of their masks find where each run
/// ends, instead of a loop whose exit the CPU mispredicts. Most escapes
/// in terminal output are short CSIs (colours, modes). `None` when `s`
/// does not decide it: not a CSI, a run that reaches the end of `s` (the
/// next piece continues it), or no final char within the 16.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn csi_end_avx2(s: &[Char], p: usize) -> Option<Option<usize>> {
    use std::arch::x86_64::*;
    if s.get(p + 1) != Some(&LBRACKET) {
        return None;
    }
    let k0 = p + 2;
    // Lanes past the end of `s` read as 0, in neither class.
    let left = (s.len() - k0).min(16) as i32;
    let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let src = s[k0..].as_ptr();
    // SAFETY: only the lanes below `left` are read: chars k0..k0 + left.
    let (a, b) = unsafe {
        (
            _mm256_maskload_epi32(
                src.cast(),
                _mm256_cmpgt_epi32(_mm256_set1_epi32(left), lanes),
            ),
            _mm256_maskload_epi32(
                src.wrapping_add(8).cast(),
                _mm256_cmpgt_epi32(_mm256_set1_epi32(left - 8), lanes),
            ),
        )
    };
    let class = |hi: i32| {
        let is = |v| {
            let eq = _mm256_cmpeq_epi32(_mm256_srli_epi32::<4>(v), _mm256_set1_epi32(hi));
            _mm256_movemask_ps(_mm256_castsi256_ps(eq)) as u32
        };
        is(a) | is(b) << 8
    };
    let (params, inter) = (class(3), class(2));
    // The parameter run, then the intermediate run after it (the classes
    // are disjoint, so the greedy match never backtracks).
    let n = (!params).trailing_zeros();
    let k = n + (!(inter >> n)).trailing_zeros();
    let end = k0 + k as usize;
    if k >= 16 || end >= s.len() {
        return None;
    }
    // The final char, or no match (the OSC and two-char alternatives
    // cannot match after `ESC [` either).
    Some((0x40..=0x7E).contains(&s[end]).then_some(end + 1))
}

/// [`narrow_ascii`] into `dst` (as long as `s`), one char at a time.
fn narrow_scalar(s: &[Char], dst: &mut [u8]) {
    for (o, &c) in dst.iter_mut().zip(s) {
        *o = narrow_char(c);
    }
}

/// One char narrowed: ASCII as itself, anything else `0xFF`.
fn narrow_char(c: Char) -> u8 {
    if c < 0x80 {
        c as u8
    } else {
        0xFF
    }
}

/// 32 chars, four vectors of 8, narrowed to 32 bytes as [`narrow_scalar`]
/// does: each clamped to `0xFF` and packed, then every byte with its top
/// bit set made `0xFF`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn narrow_lanes_avx2(v: [std::arch::x86_64::__m256i; 4]) -> std::arch::x86_64::__m256i {
    use std::arch::x86_64::*;
    let [a, b, c, d] = v.map(|x| _mm256_min_epu32(x, _mm256_set1_epi32(0xFF)));
    let bytes = _mm256_packus_epi16(_mm256_packus_epi32(a, b), _mm256_packus_epi32(c, d));
    // packus works within 128-bit lanes; this puts the 4-byte groups back
    // in order (a0-3 a4-7 b0-3 b4-7 ...).
    let bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    let high = _mm256_cmpgt_epi8(_mm256_setzero_si256(), bytes);
    _mm256_or_si256(bytes, high)
}

/// [`narrow_scalar`] with AVX2, 32 chars a block ([`narrow_lanes_avx2`]).
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn narrow_avx2(s: &[Char], dst: &mut [u8]) {
    use std::arch::x86_64::*;
    const BLOCK: usize = 32;
    let blocks = s.len() / BLOCK;
    for k in 0..blocks {
        let src = s[k * BLOCK..].as_ptr().cast::<__m256i>();
        // SAFETY: block k has 32 chars (k < blocks), read as four unaligned
        // 8-lane loads; the store writes 32 bytes of `dst`, which is as long
        // as `s`.
        unsafe {
            let bytes = narrow_lanes_avx2([0, 1, 2, 3].map(|q| _mm256_loadu_si256(src.add(q))));
            _mm256_storeu_si256(dst[k * BLOCK..].as_mut_ptr().cast(), bytes);
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
/// boundary of it lands; see [`narrow_strip_pieces`].
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

/// The end of the ANSI escape starting at `s[i] == ESC`, or `None` when no
/// alternative matches there. Alternatives in pattern order: CSI, OSC, 2-char.
fn ansi_match_end<T: Unit>(s: &[T], i: usize) -> Option<usize> {
    ansi_match_end_by(i, |k| s.get(k).map(|c| c.code()))
}

/// [`ansi_match_end`] over a text read through `at` (the char at an
/// offset, `None` past the end), which is asked for offsets that never
/// decrease.
fn ansi_match_end_by(i: usize, mut at: impl FnMut(usize) -> Option<Char>) -> Option<usize> {
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
            // then an optional BEL or ESC `\\`. Always matches (A12).
            let mut k = j + 1;
            loop {
                match at(k) {
                    None => return Some(k),
                    Some(BEL) => return Some(k + 1),
                    Some(ESC) => {
                        return Some(if at(k + 1) == Some(BACKSLASH) {
                            k + 2
                        } else {
                            k
                        })
                    }
                    Some(_) => k += 1,
                }
            }
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
    scan_marks_into(text, TextMarks::default())
}

/// [`scan_marks`] into the buffers of `into` (emptied first), so a caller
/// can reuse them.
pub fn scan_marks_into(text: &[u8], into: TextMarks) -> TextMarks {
    use std::sync::LazyLock;
    static TEDDY: LazyLock<Option<aho_corasick::packed::Searcher>> =
        LazyLock::new(|| aho_corasick::packed::Searcher::new(MARK_PATTERNS));
    let mut marks = into.emptied();
    let Some(teddy) = TEDDY.as_ref() else {
        return scan_marks_by_memmem(text, marks);
    };
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
fn scan_marks_by_memmem(text: &[u8], mut marks: TextMarks) -> TextMarks {
    use memchr::memmem::Finder;
    use std::sync::LazyLock;
    static FINDERS: LazyLock<Vec<Finder<'static>>> =
        LazyLock::new(|| MARK_PATTERNS.iter().map(Finder::new).collect());
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
    /// Emptied, with room for the usual session's few fingerprints; most
    /// sessions show no locale key, so that list is left as it is.
    fn emptied(mut self) -> Self {
        self.fingerprints.clear();
        self.fingerprints.reserve(16);
        self.locale_keys.clear();
        self
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

    /// What [`narrow_strip_pieces`] must give, from the definitions: each
    /// piece narrowed, the whole stripped by [`strip_ansi`], each start
    /// mapped by stripping the text before it (`None` when a match of the
    /// whole runs across it), and the ESCs a left-to-right scan tries that
    /// start a control sequence in their piece.
    fn narrow_strip_reference(pieces: &[Vec<Char>]) -> NarrowStripped {
        let (mut bytes, mut starts) = (Vec::new(), Vec::new());
        for p in pieces {
            starts.push(bytes.len());
            narrow_ascii(p, &mut bytes);
        }
        starts.push(bytes.len());
        let (mut escapes, mut matches) = (Vec::new(), Vec::new());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] != 0x1B {
                i += 1;
                continue;
            }
            // Which piece holds the ESC, and where in it.
            let j = starts.partition_point(|&b| b <= i) - 1;
            if starts_control_sequence(&pieces[j][i - starts[j]..]) {
                escapes.push((j, i - starts[j]));
            }
            match ansi_match_end(&bytes, i) {
                Some(end) => {
                    matches.push(i..end);
                    i = end;
                }
                None => i += 1,
            }
        }
        let mut text = Vec::new();
        strip_ansi(&bytes, &mut text);
        let at = starts
            .iter()
            .map(|&b| {
                let inside = matches.iter().any(|m| m.start < b && b < m.end);
                let deleted: usize = matches.iter().filter(|m| m.end <= b).map(|m| m.len()).sum();
                (!inside).then(|| b - deleted)
            })
            .collect();
        NarrowStripped {
            starts,
            control_escapes: escapes,
            stripped: StrippedText { text, at },
        }
    }

    /// Asserts `got` is `want`, field by field.
    fn assert_narrow_stripped(
        got: &NarrowStripped,
        want: &NarrowStripped,
        what: &dyn Fn() -> String,
    ) {
        assert_eq!(got.stripped.text, want.stripped.text, "{}", what());
        assert_eq!(got.stripped.at, want.stripped.at, "{}", what());
        assert_eq!(got.starts, want.starts, "{}", what());
        assert_eq!(got.control_escapes, want.control_escapes, "{}", what());
    }

    #[test]
    fn narrow_strip_equals_narrowing_then_stripping() {
        // Pieces dense in escape material and in chars around the edges of
        // the narrowing, of every length around the 32-char block, cut at
        // random: escapes run across piece ends, past whole pieces, and to
        // the end of the text; both block kinds give the same.
        const UNITS: [Char; 23] = [
            0x1B, 0x1B, 0x1B, 0x1B, 0x5B, 0x5B, 0x5D, 0x5C, 0x07, 0x3B, 0x3F, 0x30, 0x31, 0x20,
            0x21, 0x40, 0x50, 0x6D, 0x41, 0x7F, 0x80, 0xDC9B, 0x10FFFF,
        ];
        let mut next = crate::extract::xorshift(0x51_7CC1_B727_220A);
        let (mut cut, mut passed, mut control) = (0, 0, 0);
        // Buffers reused from the round before, as a context's are.
        let mut reused = NarrowStripped::default();
        for round in 0..6000 {
            let n = (next() % 8) as usize;
            let pieces: Vec<Vec<Char>> = (0..n)
                .map(|_| {
                    let len = match next() % 4 {
                        0 => (next() % 4) as usize,
                        1 => 28 + (next() % 10) as usize,
                        _ => (next() % 80) as usize,
                    };
                    (0..len)
                        .map(|_| match next() % 3 {
                            // Plain text half the time in long pieces.
                            0 if round % 2 == 0 => 0x61 + (next() % 26) as Char,
                            _ => UNITS[(next() % UNITS.len() as u64) as usize],
                        })
                        .collect()
                })
                .collect();
            let want = narrow_strip_reference(&pieces);
            let what = || format!("{pieces:?}");
            assert_narrow_stripped(&narrow_strip_pieces(&pieces), &want, &what);
            reused = narrow_strip_pieces_into(&pieces, reused);
            assert_narrow_stripped(&reused, &want, &what);
            let scalar = narrow_strip_with(
                &pieces,
                NarrowStripped::default(),
                narrow_block_scalar,
                |_, _| None,
            );
            assert_narrow_stripped(&scalar, &want, &what);
            let at = &want.stripped.at;
            control += want.control_escapes.len();
            cut += at.iter().filter(|a| a.is_none()).count();
            // Pieces that a match runs into and out of.
            passed += (1..at.len().saturating_sub(1))
                .filter(|&j| at[j].is_none() && at[j + 1].is_none() && !pieces[j].is_empty())
                .count();
        }
        assert!(
            cut > 600 && passed > 60 && control > 1000,
            "cut {cut} passed {passed} control {control}"
        );
        // No pieces, and empty ones.
        for pieces in [vec![], vec![vec![]], vec![vec![], vec![]]] {
            let want = narrow_strip_reference(&pieces);
            assert_narrow_stripped(&narrow_strip_pieces(&pieces), &want, &|| {
                format!("{pieces:?}")
            });
        }
    }

    #[test]
    fn csi_block_match_equals_the_pattern() {
        // ESC [ then runs of parameter and intermediate chars of every
        // length around the 16-char block, any char after them (a final
        // or not), other chars after the ESC, and the piece cut anywhere.
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            const PARAM: &[u8] = b"0123456789:;<=>?";
            const INTER: &[u8] = b" !\"#$%&'()*+,-./";
            const NEXT: [Char; 13] = [
                0x6D, 0x40, 0x7E, 0x41, 0x5A, 0x5B, 0x7F, 0x1B, 0x30, 0x20, 0xFF, 0x07, 0x10030,
            ];
            let mut next = crate::extract::xorshift(0xC51_B10C);
            let (mut decided, mut matched, mut short) = (0, 0, 0);
            for _ in 0..30_000 {
                let mut s: Vec<Char> = vec![0x61, 0x62, 0x1B];
                s.push(if next().is_multiple_of(8) { 0x5D } else { 0x5B });
                for _ in 0..next() % 18 {
                    s.push(Char::from(PARAM[(next() % 16) as usize]));
                }
                for _ in 0..next() % 4 {
                    s.push(Char::from(INTER[(next() % 16) as usize]));
                }
                for _ in 0..next() % 3 {
                    s.push(NEXT[(next() % NEXT.len() as u64) as usize]);
                }
                s.extend((0..next() % 20).map(|_| 0x78));
                if next().is_multiple_of(3) {
                    s.truncate(3 + (next() % s.len() as u64) as usize);
                }
                let want = ansi_match_end(&s, 2);
                // SAFETY: AVX2 is present (checked above).
                if let Some(got) = unsafe { csi_end_avx2(&s, 2) } {
                    assert_eq!(got, want, "{s:?}");
                    decided += 1;
                    matched += usize::from(got.is_some());
                    short += usize::from(s.len() < 20);
                }
            }
            assert!(
                decided > 5_000 && matched > 1_000 && short > 500,
                "{decided} decided, {matched} matched, {short} short"
            );
        }
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
        // Buffers reused from the text before, as a context's are.
        let (mut reused, mut reused_memmem) = (TextMarks::default(), TextMarks::default());
        for _ in 0..2000 {
            let text: Vec<u8> = (0..(next() % 60))
                .flat_map(|_| PIECES[(next() % 12) as usize].bytes())
                .collect();
            let marks = scan_marks(&text);
            reused = scan_marks_into(&text, reused);
            assert_eq!(reused, marks);
            // The fallback without Teddy finds the same.
            reused_memmem = scan_marks_by_memmem(&text, reused_memmem.emptied());
            assert_eq!(reused_memmem, marks);
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
        const ALPHABET: [Char; 19] = [
            0x1B, 0x1B, 0x1B, 0x5B, 0x5D, 0x5C, 0x07, 0x3B, 0x3F, 0x30, 0x31, 0x32, 0x33, 0x40,
            0x41, 0x5A, 0x5F, 0x20, 0xDCFF,
        ];
        let mut next = crate::extract::xorshift(0xD1B5_4A32_D192_ED03);
        let (mut sliced, mut cut) = (0, 0);
        for _ in 0..3000 {
            let len = (next() % 40) as usize;
            let s: Vec<Char> = (0..len)
                .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
                .collect();
            let mut bounds: Vec<usize> = (0..(next() % 6))
                .map(|_| (next() % (len as u64 + 1)) as usize)
                .chain([0, len])
                .collect();
            bounds.sort_unstable();
            let pieces: Vec<&[Char]> = bounds.windows(2).map(|w| &s[w[0]..w[1]]).collect();
            let m = narrow_strip_pieces(&pieces).stripped;
            let mut narrow = Vec::new();
            narrow_ascii(&s, &mut narrow);
            let mut whole = Vec::new();
            strip_ansi(&narrow, &mut whole);
            assert_eq!(m.text, whole, "{s:?}");
            assert_eq!(m.at.len(), bounds.len());
            for a in 0..bounds.len() {
                for b in a..bounds.len() {
                    let mut alone = Vec::new();
                    strip_ansi(&narrow[bounds[a]..bounds[b]], &mut alone);
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
    fn whole_strip_keeps_long_runs_exactly() {
        // Runs between escapes of every length around the 32-char block,
        // and texts ending inside a block, as one piece.
        let mut next = crate::extract::xorshift(0x2545_F491_4F6C_DD1D);
        for round in 0..2000 {
            let len = if round < 200 {
                round
            } else {
                (next() % 400) as usize
            };
            let s: Vec<Char> = (0..len)
                .map(|_| match next() % 60 {
                    0 => 0x1B,
                    1 => 0x5B,
                    2 => 0x6D,
                    3 => 0xE9,
                    k => 0x20 + (k % 90) as Char,
                })
                .collect();
            let got = narrow_strip_pieces(&[&s[..]]);
            assert_narrow_stripped(
                &got,
                &narrow_strip_reference(std::slice::from_ref(&s)),
                &|| format!("{s:?}"),
            );
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
