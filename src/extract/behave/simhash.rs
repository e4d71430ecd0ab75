//! 64-bit Charikar SimHash over weighted tokens (spec/behave-shell.md §4.4.4
//! steps 4–5), used by `motor.digraph_simhash`.
//!
//! Pure. Tokens are in the char model of §1.9; the per-token hash is the first
//! 8 bytes of MD5 of the token's UTF-8 bytes, read big-endian.

use md5::{Digest, Md5};

use crate::model::event::Char;

/// The byte a char that cannot be UTF-8 encoded (a lone surrogate, §1.9)
/// becomes: Python's `encode("utf-8", errors="replace")` gives `?`
/// (spec §4.4.4 step 4, A7).
const REPLACEMENT_BYTE: u8 = b'?';

/// Append the UTF-8 bytes of `token` to `out`, with every lone surrogate
/// replaced by `?` (spec §4.4.4 step 4).
fn encode_replace(token: &[Char], out: &mut Vec<u8>) {
    let mut buf = [0u8; 4];
    for &c in token {
        // `char::from_u32` is None exactly for surrogates (and values past
        // U+10FFFF, which the char model never holds).
        match char::from_u32(c) {
            Some(ch) => out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes()),
            None => out.push(REPLACEMENT_BYTE),
        }
    }
}

/// The 64-bit token hash: the first 8 bytes of MD5(utf8(token)) as a
/// big-endian integer (spec §4.4.4 step 4).
fn token_hash(bytes: &[u8]) -> u64 {
    let digest = Md5::digest(bytes);
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(head)
}

/// Charikar SimHash of weighted tokens (spec §4.4.4 step 4).
///
/// Tokens with weight `<= 0` are ignored. Bit `i` of the result is set iff
/// the weighted vote for bit `i` is strictly positive, so an empty or
/// all-nonpositive input gives `0`. The result does not depend on the order
/// of the tokens (step 7): the votes are exact integer sums.
///
/// The vote for bit `i` is `set_i - (total - set_i)`, where `set_i` sums the
/// weights of the tokens with bit `i` set.
pub fn simhash64<I, T>(tokens: I) -> u64
where
    I: IntoIterator<Item = (T, i64)>,
    T: AsRef<[Char]>,
{
    // u128 so that no realistic weight total can overflow (Python ints are
    // unbounded; i64 weights summed over many tokens could wrap).
    let mut total = 0u128;
    let weighted: Vec<(T, u64)> = tokens
        .into_iter()
        .filter(|&(_, w)| w > 0)
        .map(|(t, w)| {
            total += w as u128;
            (t, w as u64)
        })
        .collect();
    // All the cache reads in one loop of their own: the table is large and
    // mostly out of the near caches, and reads that do not wait on each
    // other's work overlap their misses.
    let mut bytes = Vec::new();
    let hashes: Vec<u64> = HASH_CACHE.with_borrow_mut(|cache| {
        weighted
            .iter()
            .map(|(t, _)| cached_hash(cache, t.as_ref(), &mut bytes))
            .collect()
    });
    let weights = weighted.iter().map(|&(_, w)| w);
    let set = match u32::try_from(total) {
        Ok(_) => set_votes_u32(&hashes, weights),
        Err(_) => set_votes_u128(&hashes, weights),
    };
    set.iter()
        .enumerate()
        .filter(|(_, &s)| s > total - s)
        .fold(0u64, |out, (i, _)| out | (1u64 << i))
}

/// `set_i` of [`simhash64`] for each bit `i`, exactly, for any weights.
fn set_votes_u128(hashes: &[u64], weights: impl Iterator<Item = u64>) -> [u128; 64] {
    let mut set = [0u128; 64];
    for (&h, w) in hashes.iter().zip(weights) {
        let mut h = h;
        while h != 0 {
            set[h.trailing_zeros() as usize] += u128::from(w);
            h &= h - 1;
        }
    }
    set
}

/// [`set_votes_u128`] when the weights sum below 2^32, so that no vote can
/// overflow a u32: every bit of every token in 32-bit lanes, eight bits a
/// vector with AVX2.
fn set_votes_u32(hashes: &[u64], weights: impl Iterator<Item = u64>) -> [u128; 64] {
    let mut set = [0u32; 64];
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present (checked just above).
        unsafe { add_votes_avx2(hashes, weights, &mut set) };
        return set.map(u128::from);
    }
    add_votes(hashes, weights, &mut set);
    set.map(u128::from)
}

/// [`add_votes_avx2`] without SIMD.
fn add_votes(hashes: &[u64], weights: impl Iterator<Item = u64>, set: &mut [u32; 64]) {
    for (&h, w) in hashes.iter().zip(weights) {
        // Below 2^32: the caller checked the total.
        let w = w as u32;
        for (i, s) in set.iter_mut().enumerate() {
            *s += w & 0u32.wrapping_sub(((h >> i) & 1) as u32);
        }
    }
}

/// Add each token's weight to the lanes of its set bits: byte `j` of the
/// hash, broadcast, decides lanes `8j..8j + 8`.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn add_votes_avx2(hashes: &[u64], weights: impl Iterator<Item = u64>, set: &mut [u32; 64]) {
    use std::arch::x86_64::*;
    let lane_bits = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    let mut acc = [_mm256_setzero_si256(); 8];
    for (&h, w) in hashes.iter().zip(weights) {
        // Below 2^32: the caller checked the total.
        let w = _mm256_set1_epi32(w as u32 as i32);
        for (j, a) in acc.iter_mut().enumerate() {
            let byte = _mm256_set1_epi32(((h >> (8 * j)) & 0xFF) as i32);
            let on = _mm256_cmpeq_epi32(_mm256_and_si256(byte, lane_bits), lane_bits);
            *a = _mm256_add_epi32(*a, _mm256_and_si256(on, w));
        }
    }
    for (j, a) in acc.iter().enumerate() {
        // SAFETY: lanes 8j..8j + 8 of the 64 are in bounds for j < 8.
        unsafe { _mm256_storeu_si256(set.as_mut_ptr().add(8 * j).cast(), *a) };
    }
}

thread_local! {
    /// A thread's four-char token hashes (see [`cached_hash`]).
    static HASH_CACHE: std::cell::RefCell<TokenHashes> = std::cell::RefCell::default();
}

/// The token hashes one thread has computed (see [`cached_hash`]).
#[derive(Default)]
struct TokenHashes {
    /// Digraph tokens `"<a><b>:<d>"` with ASCII `a`, `b` and a digit `d`
    /// below 8, direct-mapped by [`digraph_slot`]; 0 is "not computed yet"
    /// (a token whose hash is 0 is just hashed again each time).
    digraphs: Vec<u64>,
    /// Other four-char tokens, up to [`HASH_CACHE_MAX`] of them (then it
    /// starts over).
    other: rustc_hash::FxHashMap<[Char; 4], u64>,
}

/// The index of a digraph of two ASCII chars among the [`ASCII_DIGRAPHS`],
/// if it is one: what per-digraph tables are indexed by.
#[inline]
pub fn ascii_digraph_index([a, b]: [Char; 2]) -> Option<usize> {
    (a < 0x80 && b < 0x80).then_some(((a as usize) << 7) | b as usize)
}

/// How many digraphs of two ASCII chars there are: 128 × 128.
pub const ASCII_DIGRAPHS: usize = 1 << 14;

/// The slot of a digraph token in [`TokenHashes::digraphs`], if it has one:
/// its digraph's index, then the bucket digit.
#[inline]
fn digraph_slot(t: [Char; 4]) -> Option<usize> {
    let [a, b, colon, d] = t;
    let d = d.wrapping_sub(Char::from(b'0'));
    ascii_digraph_index([a, b])
        .filter(|_| colon == Char::from(b':') && d < 8)
        .map(|g| (g << 3) | d as usize)
}

/// Slots of [`digraph_slot`]: eight bucket digits per ASCII digraph.
const DIGRAPH_SLOTS: usize = ASCII_DIGRAPHS << 3;

/// [`token_hash`] of a token's encoding. Digraph tokens (`"ab:3"`: four
/// chars) repeat across the sessions a thread extracts, so each thread keeps
/// the hashes of the four-char tokens it has seen: the ASCII digraph ones in
/// a direct-mapped table, others in a map of up to [`HASH_CACHE_MAX`]. Other
/// lengths are hashed every time.
fn cached_hash(cache: &mut TokenHashes, token: &[Char], scratch: &mut Vec<u8>) -> u64 {
    let mut hash = || {
        scratch.clear();
        encode_replace(token, scratch);
        token_hash(scratch)
    };
    let Ok(key) = <[Char; 4]>::try_from(token) else {
        return hash();
    };
    if let Some(slot) = digraph_slot(key) {
        if cache.digraphs.is_empty() {
            cache.digraphs = vec![0; DIGRAPH_SLOTS];
        }
        let h = cache.digraphs[slot];
        if h != 0 {
            return h;
        }
        let h = hash();
        cache.digraphs[slot] = h;
        return h;
    }
    if let Some(&h) = cache.other.get(&key) {
        return h;
    }
    let h = hash();
    if cache.other.len() >= HASH_CACHE_MAX {
        cache.other.clear();
    }
    cache.other.insert(key, h);
    h
}

/// How many other four-char token hashes a thread keeps.
const HASH_CACHE_MAX: usize = 8192;

/// Format a SimHash as 16 lowercase hex digits, zero-padded (spec §4.4.4
/// step 5).
pub fn hex16(h: u64) -> String {
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::event::chars_of;

    fn sh(pairs: &[(&str, i64)]) -> String {
        hex16(simhash64(pairs.iter().map(|&(t, w)| (chars_of(t), w))))
    }

    #[test]
    fn single_token_is_md5_prefix() {
        // Appendix B: {"ab:2": 5}
        assert_eq!(sh(&[("ab:2", 5)]), "2db9606810a54cbc");
    }

    #[test]
    fn three_digraph_vector() {
        // Appendix B: {"th": 3, "he": 2, "er": 1}
        assert_eq!(sh(&[("th", 3), ("he", 2), ("er", 1)]), "0f9c0f892402ce45");
    }

    #[test]
    fn bucketed_digraphs_with_cr() {
        // Appendix B, `\r` is the CR char.
        let v = [
            ("ls:3", 2),
            ("s\r:3", 1),
            ("wh:3", 1),
            ("ho:3", 1),
            ("oa:3", 1),
            ("am:3", 1),
            ("mi:3", 1),
            ("i\r:3", 1),
        ];
        assert_eq!(sh(&v), "919bb6910d4f924c");
        // Step 7: order does not matter.
        let mut rev = v;
        rev.reverse();
        assert_eq!(sh(&rev), "919bb6910d4f924c");
    }

    #[test]
    fn empty_map_is_zero() {
        assert_eq!(simhash64(Vec::<(Vec<Char>, i64)>::new()), 0);
        assert_eq!(hex16(0), "0000000000000000");
    }

    #[test]
    fn nonpositive_weights_are_ignored() {
        assert_eq!(sh(&[("ab:2", 0), ("th", -3)]), "0000000000000000");
        // A non-positive token does not disturb a positive one.
        assert_eq!(
            sh(&[("ab:2", 5), ("th", -3), ("he", 0)]),
            "2db9606810a54cbc"
        );
    }

    #[test]
    fn ties_give_zero_bits() {
        // Two equal-weight tokens: bits where they disagree sum to 0 → unset;
        // bits where both are 1 stay set. So the result is the AND of the two hashes.
        let a = simhash64([(chars_of("ab:2"), 1)]);
        let b = simhash64([(chars_of("th"), 1)]);
        assert_eq!(
            simhash64([(chars_of("ab:2"), 1), (chars_of("th"), 1)]),
            a & b
        );
    }

    #[test]
    fn surrogate_encodes_as_question_mark() {
        let with_surrogate = vec![0xDCFF, 'a' as Char];
        assert_eq!(
            simhash64([(with_surrogate, 1)]),
            simhash64([(chars_of("?a"), 1)])
        );
        // Non-ASCII non-surrogate chars encode as UTF-8, not as '?'.
        assert_ne!(
            simhash64([(chars_of("é"), 1)]),
            simhash64([(chars_of("?"), 1)])
        );
        assert_eq!(simhash64([(chars_of("é"), 1)]), token_hash("é".as_bytes()));
    }

    /// The definition, vote by vote, with a fresh MD5 for every token.
    fn naive(tokens: &[(Vec<Char>, i64)]) -> u64 {
        let mut acc = [0i128; 64];
        for (t, w) in tokens.iter().filter(|(_, w)| *w > 0) {
            let mut b = Vec::new();
            encode_replace(t, &mut b);
            let h = token_hash(&b);
            for (i, a) in acc.iter_mut().enumerate() {
                *a += if (h >> i) & 1 == 1 {
                    *w as i128
                } else {
                    -(*w as i128)
                };
            }
        }
        (0..64).filter(|&i| acc[i] > 0).fold(0, |o, i| o | (1 << i))
    }

    #[test]
    fn cached_hashes_and_set_bit_votes_equal_the_definition() {
        // Tokens of 1..=6 chars (four-char ones go through the cache), drawn
        // from a small alphabet with a surrogate and a non-ASCII char, so
        // tokens repeat across rounds; weights up to i64::MAX.
        // `9` and DEL make four-char tokens that miss the digraph table.
        let alphabet: [Char; 8] = [
            'a' as Char,
            'b' as Char,
            ':' as Char,
            '3' as Char,
            '9' as Char,
            0x7F,
            0xDC80,
            0xE9,
        ];
        let mut next = crate::extract::xorshift(0x9E37_79B9_7F4A_7C15u64);
        for round in 0..400 {
            let n = (next() % 12) as usize;
            let tokens: Vec<(Vec<Char>, i64)> = (0..n)
                .map(|_| {
                    let len = 1 + (next() % 6) as usize;
                    let t = (0..len).map(|_| alphabet[(next() % 8) as usize]).collect();
                    let w = match next() % 4 {
                        0 => i64::MAX - (next() % 3) as i64,
                        1 => -((next() % 5) as i64),
                        _ => (next() % 9) as i64,
                    };
                    (t, w)
                })
                .collect();
            assert_eq!(simhash64(tokens.clone()), naive(&tokens), "round {round}");
        }
    }

    #[test]
    fn vote_paths_agree() {
        // Random hashes and weights whose total stays below 2^32: the u32
        // lanes (with and without AVX2) count what the u128 sums count.
        let mut next = crate::extract::xorshift(0x005E_ED0F_B175_u64);
        for round in 0..500 {
            let n = (next() % 40) as usize;
            let hashes: Vec<u64> = (0..n).map(|_| next()).collect();
            let weights: Vec<u64> = (0..n).map(|_| next() % (1 << 26)).collect();
            let want = set_votes_u128(&hashes, weights.iter().copied());
            let mut scalar = [0u32; 64];
            add_votes(&hashes, weights.iter().copied(), &mut scalar);
            assert_eq!(scalar.map(u128::from), want, "round {round}");
            assert_eq!(
                set_votes_u32(&hashes, weights.iter().copied()),
                want,
                "round {round}"
            );
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                let mut simd = [0u32; 64];
                // SAFETY: AVX2 is present (checked just above).
                unsafe { add_votes_avx2(&hashes, weights.iter().copied(), &mut simd) };
                assert_eq!(simd.map(u128::from), want, "round {round}");
            }
        }
    }

    #[test]
    fn hex16_pads_and_lowercases() {
        assert_eq!(hex16(0xAB), "00000000000000ab");
        assert_eq!(hex16(u64::MAX), "ffffffffffffffff");
    }
}
