//! SHA-256 (FIPS 180-4) of many messages at once, for evidence ids.
//!
//! Every evidence row's id is the SHA-256 of its own canonical JSON (about
//! 1 KiB a span). On a CPU with the SHA extensions (`sha_ni`) one message
//! at a time with them is fastest, and `ring` uses them. Without them the
//! compression function is a long chain of dependent scalar operations, so
//! eight messages are hashed side by side, one per 32-bit lane of an AVX2
//! register: the same rounds for eight messages with the same number of
//! instructions. Without either, each message is hashed alone with
//! `ring`. All give the standard digest; a test holds the AVX2 path to
//! `ring` over every length up to several blocks.

/// The SHA-256 digest of every message of `msgs`, in order, appended to
/// `out`.
pub fn digest_many(msgs: &[&[u8]], out: &mut Vec<[u8; 32]>) {
    #[cfg(target_arch = "x86_64")]
    {
        if !std::arch::is_x86_feature_detected!("sha") && lanes_avx2(msgs, out) {
            return;
        }
    }
    out.reserve(msgs.len());
    out.extend(msgs.iter().map(|m| digest_one(m)));
}

/// The AVX2 path of [`digest_many`]: false (nothing appended) without
/// AVX2.
#[cfg(target_arch = "x86_64")]
fn lanes_avx2(msgs: &[&[u8]], out: &mut Vec<[u8; 32]>) -> bool {
    if !std::arch::is_x86_feature_detected!("avx2") {
        return false;
    }
    out.reserve(msgs.len());
    let mut chunks = msgs.chunks_exact(LANES);
    for chunk in &mut chunks {
        let lanes: &[&[u8]; LANES] = chunk.try_into().expect("chunks_exact gives LANES");
        // SAFETY: AVX2 is present (checked just above).
        let digests = unsafe { avx2::digest8(lanes) };
        out.extend_from_slice(&digests);
    }
    out.extend(chunks.remainder().iter().map(|m| digest_one(m)));
    true
}

/// One message's digest, the scalar way.
fn digest_one(msg: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, msg);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Messages hashed side by side.
const LANES: usize = 8;

/// The round constants (FIPS 180-4 §4.2.2).
const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// The initial hash value (FIPS 180-4 §5.3.3).
const H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// One message cut into 64-byte blocks, padding included (§5.1.1): its
/// whole blocks are read in place, the last one or two from `tail`.
struct Padded<'a> {
    msg: &'a [u8],
    /// Whole 64-byte blocks of `msg`.
    full: usize,
    /// All blocks, padding included.
    blocks: usize,
    /// The bytes after the whole blocks, `0x80`, zeros and the bit length.
    tail: [u8; 128],
}

impl<'a> Padded<'a> {
    fn new(msg: &'a [u8]) -> Padded<'a> {
        let full = msg.len() / 64;
        let rest = &msg[full * 64..];
        let blocks = full + if rest.len() < 56 { 1 } else { 2 };
        let mut tail = [0u8; 128];
        tail[..rest.len()].copy_from_slice(rest);
        tail[rest.len()] = 0x80;
        let end = (blocks - full) * 64;
        let bits = (msg.len() as u64).wrapping_mul(8);
        tail[end - 8..end].copy_from_slice(&bits.to_be_bytes());
        Padded {
            msg,
            full,
            blocks,
            tail,
        }
    }

    /// Block `j` (zeros past the last block).
    fn block(&self, j: usize) -> &[u8] {
        const ZERO: [u8; 64] = [0; 64];
        if j < self.full {
            &self.msg[j * 64..j * 64 + 64]
        } else if j < self.blocks {
            let k = j - self.full;
            &self.tail[k * 64..k * 64 + 64]
        } else {
            &ZERO
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{Padded, H0, K, LANES};
    use std::arch::x86_64::{
        __m256i, _mm256_add_epi32, _mm256_and_si256, _mm256_andnot_si256, _mm256_loadu_si256,
        _mm256_or_si256, _mm256_set1_epi32, _mm256_slli_epi32, _mm256_srli_epi32,
        _mm256_storeu_si256, _mm256_xor_si256,
    };

    macro_rules! rotr {
        ($x:expr, $n:literal) => {
            _mm256_or_si256(
                _mm256_srli_epi32::<$n>($x),
                _mm256_slli_epi32::<{ 32 - $n }>($x),
            )
        };
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    fn add(a: __m256i, b: __m256i) -> __m256i {
        _mm256_add_epi32(a, b)
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    fn xor3(a: __m256i, b: __m256i, c: __m256i) -> __m256i {
        _mm256_xor_si256(_mm256_xor_si256(a, b), c)
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    fn load(words: &[u32; LANES]) -> __m256i {
        // SAFETY: `words` is 32 readable bytes; the load is unaligned.
        unsafe { _mm256_loadu_si256(words.as_ptr().cast()) }
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    fn store(v: __m256i) -> [u32; LANES] {
        let mut out = [0u32; LANES];
        // SAFETY: `out` is 32 writable bytes; the store is unaligned.
        unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast(), v) };
        out
    }

    /// The digests of eight messages, lane `l` hashing `msgs[l]`.
    #[target_feature(enable = "avx2")]
    pub(super) fn digest8(msgs: &[&[u8]; LANES]) -> [[u8; 32]; LANES] {
        let padded: [Padded<'_>; LANES] = std::array::from_fn(|l| Padded::new(msgs[l]));
        let most = padded.iter().map(|p| p.blocks).max().unwrap_or(0);
        let mut state: [__m256i; 8] = std::array::from_fn(|i| _mm256_set1_epi32(H0[i] as i32));
        let mut out = [[0u8; 32]; LANES];
        for j in 0..most {
            // The block's sixteen big-endian words, lane by lane.
            let blocks: [&[u8]; LANES] = std::array::from_fn(|l| padded[l].block(j));
            let mut w = [_mm256_set1_epi32(0); 16];
            for (t, wt) in w.iter_mut().enumerate() {
                let words: [u32; LANES] = std::array::from_fn(|l| {
                    let b = blocks[l];
                    u32::from_be_bytes([b[4 * t], b[4 * t + 1], b[4 * t + 2], b[4 * t + 3]])
                });
                *wt = load(&words);
            }
            compress(&mut state, &mut w);
            // A lane whose last block this was has its digest now; its later
            // (zero) blocks change nothing that is read.
            if padded.iter().any(|p| p.blocks == j + 1) {
                let words: [[u32; LANES]; 8] = std::array::from_fn(|i| store(state[i]));
                for (l, p) in padded.iter().enumerate() {
                    if p.blocks == j + 1 {
                        for (i, word) in words.iter().enumerate() {
                            out[l][4 * i..4 * i + 4].copy_from_slice(&word[l].to_be_bytes());
                        }
                    }
                }
            }
        }
        out
    }

    /// One compression (FIPS 180-4 §6.2.2) of all lanes; `w` holds the
    /// block and is used as the schedule's 16-word window.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn compress(state: &mut [__m256i; 8], w: &mut [__m256i; 16]) {
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
        for (t, k) in K.iter().enumerate() {
            let wt = if t < 16 {
                w[t]
            } else {
                let w15 = w[(t + 1) & 15];
                let w2 = w[(t + 14) & 15];
                let s0 = xor3(rotr!(w15, 7), rotr!(w15, 18), _mm256_srli_epi32::<3>(w15));
                let s1 = xor3(rotr!(w2, 17), rotr!(w2, 19), _mm256_srli_epi32::<10>(w2));
                let v = add(add(w[t & 15], s0), add(w[(t + 9) & 15], s1));
                w[t & 15] = v;
                v
            };
            let big_s1 = xor3(rotr!(e, 6), rotr!(e, 11), rotr!(e, 25));
            let ch = _mm256_xor_si256(_mm256_and_si256(e, f), _mm256_andnot_si256(e, g));
            let t1 = add(
                add(h, big_s1),
                add(ch, add(_mm256_set1_epi32(*k as i32), wt)),
            );
            let big_s0 = xor3(rotr!(a, 2), rotr!(a, 13), rotr!(a, 22));
            let maj = xor3(
                _mm256_and_si256(a, b),
                _mm256_and_si256(a, c),
                _mm256_and_si256(b, c),
            );
            let t2 = add(big_s0, maj);
            h = g;
            g = f;
            f = e;
            e = add(d, t1);
            d = c;
            c = b;
            b = a;
            a = add(t1, t2);
        }
        for (s, v) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
            *s = add(*s, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AVX2 lanes where the CPU has AVX2 (whether or not
    /// [`digest_many`] would pick them), else [`digest_many`].
    fn lanes(msgs: &[&[u8]], out: &mut Vec<[u8; 32]>) {
        #[cfg(target_arch = "x86_64")]
        if lanes_avx2(msgs, out) {
            return;
        }
        digest_many(msgs, out);
    }

    fn message(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    #[test]
    fn every_length_up_to_five_blocks_matches_ring() {
        // Lengths 0..=320 cover every padding case (tail < 56, 56..64, exact
        // blocks) several times; groups of 8 with mixed lengths cover lanes
        // finishing at different blocks, and the odd count the remainder.
        let msgs: Vec<Vec<u8>> = (0..=320).map(|n| message(n, n as u8)).collect();
        let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        let mut got = Vec::new();
        lanes(&refs, &mut got);
        assert_eq!(got.len(), refs.len());
        for (m, d) in refs.iter().zip(&got) {
            assert_eq!(*d, digest_one(m), "length {}", m.len());
        }
    }

    #[test]
    fn mixed_long_and_short_lanes_match_ring() {
        let lens = [1200usize, 0, 55, 56, 64, 3000, 119, 120, 1, 700, 63, 2048];
        let msgs: Vec<Vec<u8>> = lens
            .iter()
            .enumerate()
            .map(|(i, &n)| message(n, i as u8))
            .collect();
        let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        let mut got = vec![[7u8; 32]];
        lanes(&refs, &mut got);
        assert_eq!(got[0], [7u8; 32], "appends, keeps what was there");
        for (m, d) in refs.iter().zip(&got[1..]) {
            assert_eq!(*d, digest_one(m), "length {}", m.len());
        }
    }

    #[test]
    fn known_answer_abc() {
        // FIPS 180-4 example: SHA-256("abc").
        let mut got = Vec::new();
        lanes(&[&b"abc"[..]; 9], &mut got);
        digest_many(&[&b"abc"[..]; 3], &mut got);
        assert_eq!(got.len(), 12);
        let want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        for d in got {
            assert_eq!(hex::encode(d), want);
        }
    }
}
