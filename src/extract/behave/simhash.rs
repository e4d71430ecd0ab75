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
/// weights of the tokens with bit `i` set, so only set bits are visited.
pub fn simhash64<I, T>(tokens: I) -> u64
where
    I: IntoIterator<Item = (T, i64)>,
    T: AsRef<[Char]>,
{
    // u128 so that no realistic weight total can overflow (Python ints are
    // unbounded; i64 weights summed over many tokens could wrap).
    let mut set = [0u128; 64];
    let mut total = 0u128;
    let mut bytes = Vec::new();
    HASH_CACHE.with_borrow_mut(|cache| {
        for (token, w) in tokens {
            if w <= 0 {
                continue;
            }
            let mut h = cached_hash(cache, token.as_ref(), &mut bytes);
            let w = w as u128;
            total += w;
            while h != 0 {
                set[h.trailing_zeros() as usize] += w;
                h &= h - 1;
            }
        }
    });
    set.iter()
        .enumerate()
        .filter(|(_, &s)| s > total - s)
        .fold(0u64, |out, (i, _)| out | (1u64 << i))
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
    fn hex16_pads_and_lowercases() {
        assert_eq!(hex16(0xAB), "00000000000000ab");
        assert_eq!(hex16(u64::MAX), "ffffffffffffffff");
    }
}
