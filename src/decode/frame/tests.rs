use super::*;
use proptest::prelude::*;

/// Records what the framer emits.
#[derive(Debug, Default, PartialEq)]
struct Collect {
    lines: Vec<(Vec<u8>, u64, u64)>,
    long: Vec<(u64, [u8; 32], u64, u64)>,
}

impl LineSink for Collect {
    fn line(&mut self, line: &[u8], line_no: u64, byte_offset: u64) {
        self.lines.push((line.to_vec(), line_no, byte_offset));
    }
    fn too_long(&mut self, len: u64, raw_sha256: [u8; 32], line_no: u64, byte_offset: u64) {
        self.long.push((len, raw_sha256, line_no, byte_offset));
    }
}

fn frame_chunks(data: &[u8], cuts: &[usize], max: usize) -> Collect {
    let mut f = LineFramer::with_max_line(max);
    let mut c = Collect::default();
    let mut prev = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|&x| x.min(data.len())).collect();
    cuts.sort_unstable();
    for cut in cuts {
        f.push(&data[prev..cut], &mut c);
        prev = cut;
    }
    f.push(&data[prev..], &mut c);
    f.finish(&mut c);
    c
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn lines_offsets_and_last_line_without_newline() {
    let c = frame_chunks(b"ab\n\ncd\r\nef", &[], 100);
    assert_eq!(
        c.lines,
        vec![
            (b"ab".to_vec(), 1, 0),
            (b"".to_vec(), 2, 3),
            (b"cd\r".to_vec(), 3, 4),
            (b"ef".to_vec(), 4, 8)
        ]
    );
    // A final newline does not make an extra empty line; an empty input has none.
    assert_eq!(frame_chunks(b"ab\n", &[], 100).lines.len(), 1);
    assert_eq!(frame_chunks(b"", &[], 100).lines.len(), 0);
    assert_eq!(
        frame_chunks(b"\n", &[], 100).lines,
        vec![(Vec::new(), 1, 0)]
    );
}

#[test]
fn split_chunks_give_the_same_lines() {
    let data = b"first line\nsecond\n\nthird without end";
    let whole = frame_chunks(data, &[], 100);
    for a in 0..data.len() {
        for b in a..data.len() {
            assert_eq!(frame_chunks(data, &[a, b], 100), whole, "cuts {a} {b}");
        }
    }
}

#[test]
fn too_long_lines_are_hashed_not_kept() {
    let data = b"0123456789\nabc\n0123456789abcdef";
    let c = frame_chunks(data, &[3, 12, 20], 8);
    assert_eq!(c.lines, vec![(b"abc".to_vec(), 2, 11)]);
    let h1: [u8; 32] = Sha256::digest(b"0123456789").into();
    let h3: [u8; 32] = Sha256::digest(b"0123456789abcdef").into();
    assert_eq!(c.long, vec![(10, h1, 1, 0), (16, h3, 3, 15)]);
    // Exactly at the limit is fine.
    let c = frame_chunks(b"12345678\n", &[4], 8);
    assert_eq!(c.lines.len(), 1);
    assert!(c.long.is_empty());
}

#[test]
fn sniffing_ignores_names_and_short_inputs() {
    assert_eq!(sniff(&[0x1f, 0x8b, 8, 0]), Compression::Gzip);
    assert_eq!(sniff(&[0x28, 0xb5, 0x2f, 0xfd]), Compression::Zstd);
    assert_eq!(sniff(b"{\"s"), Compression::None);
    assert_eq!(sniff(&[0x28, 0xb5]), Compression::None);
    assert_eq!(sniff(&[]), Compression::None);
}

#[test]
fn gzip_and_zstd_round_trip_in_any_chunking() {
    let mut plain = Vec::new();
    for i in 0..3000 {
        plain.extend_from_slice(
            format!(
                "{{\"sid\":\"s{}\",\"t\":{i}.5,\"ch\":\"o\",\"d\":\"x\"}}\n",
                i % 7
            )
            .as_bytes(),
        );
    }
    let want = frame_chunks(&plain, &[], MAX_LINE_BYTES);
    // Two gzip members concatenated (what `cat a.gz b.gz` gives).
    let half = plain.len() / 2;
    let half = half + memchr(b'\n', &plain[half..]).unwrap() + 1;
    let mut gz = gzip(&plain[..half]);
    gz.extend(gzip(&plain[half..]));
    let zs = zstd::encode_all(&plain[..], 3).unwrap();
    for (data, comp) in [
        (gz, Compression::Gzip),
        (zs, Compression::Zstd),
        (plain.clone(), Compression::None),
    ] {
        for step in [1usize, 3, 4, 5, 1000, usize::MAX] {
            let mut dec = StreamDecoder::new();
            let mut c = Collect::default();
            for piece in data.chunks(step.min(data.len())) {
                dec.push(piece, &mut c).unwrap();
            }
            let s = dec.finish(&mut c).unwrap();
            assert_eq!(s.compression, comp);
            assert_eq!(s.compressed_bytes, data.len() as u64);
            assert_eq!(s.decompressed_bytes, plain.len() as u64);
            assert_eq!(s.lines, 3000);
            assert_eq!(c, want, "{comp:?} step {step}");
        }
    }
}

#[test]
fn tiny_inputs() {
    for data in [&b""[..], b"a", b"\x1f", b"\x1f\x8b", b"\x28\xb5\x2f"] {
        let mut c = Collect::default();
        let r = decode_bytes(data, &mut c);
        // Fewer than 4 bytes are not enough for a gzip or zstd stream: a
        // 2-byte gzip magic alone is a truncated gzip.
        if data == b"\x1f\x8b" {
            assert!(
                matches!(r, Err(FrameError::Truncated { format: "gzip", .. })),
                "{r:?}"
            );
        } else {
            let s = r.unwrap();
            assert_eq!(s.compression, Compression::None);
            assert_eq!(c.lines.len(), usize::from(!data.is_empty()));
        }
    }
}

#[test]
fn corrupt_and_truncated_streams_are_errors() {
    let plain: Vec<u8> = (0..20000u32)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    let gz = gzip(&plain);
    let zs = zstd::encode_all(&plain[..], 3).unwrap();

    for cut in [5, 11, gz.len() / 2, gz.len() - 9] {
        let mut c = Collect::default();
        let r = decode_bytes(&gz[..cut], &mut c);
        assert!(
            matches!(r, Err(FrameError::Truncated { format: "gzip", .. })),
            "cut {cut}: {r:?}"
        );
    }
    // Cut inside the 8-byte CRC/ISIZE trailer: flate2 reports a checksum
    // mismatch rather than an early end; either way the input fails.
    for cut in [gz.len() - 8, gz.len() - 4, gz.len() - 1] {
        let mut c = Collect::default();
        assert!(decode_bytes(&gz[..cut], &mut c).is_err(), "cut {cut}");
    }
    for cut in [5, zs.len() / 2, zs.len() - 1] {
        let mut c = Collect::default();
        let r = decode_bytes(&zs[..cut], &mut c);
        assert!(
            matches!(r, Err(FrameError::Truncated { format: "zstd", .. })),
            "cut {cut}: {r:?}"
        );
    }
    // Flipped bytes in the body.
    let mut bad = gz.clone();
    let mid = bad.len() / 2;
    for b in &mut bad[mid..mid + 16] {
        *b ^= 0x5a;
    }
    let mut c = Collect::default();
    assert!(decode_bytes(&bad, &mut c).is_err());
    let mut bad = zs.clone();
    let mid = bad.len() / 2;
    for b in &mut bad[mid..mid + 16] {
        *b ^= 0x5a;
    }
    let mut c = Collect::default();
    assert!(decode_bytes(&bad, &mut c).is_err());
    // Wrong CRC trailer.
    let mut bad = gz.clone();
    let n = bad.len();
    bad[n - 8] ^= 1;
    let mut c = Collect::default();
    assert!(matches!(
        decode_bytes(&bad, &mut c),
        Err(FrameError::Corrupt { format: "gzip", .. })
    ));
    // Garbage after a complete gzip member is not a gzip member.
    let mut bad = gz.clone();
    bad.extend_from_slice(b"trailing junk");
    let mut c = Collect::default();
    assert!(decode_bytes(&bad, &mut c).is_err());
    // The error message says what we were doing, without content.
    let msg = FrameError::Truncated {
        format: "gzip",
        offset: 9,
    }
    .to_string();
    assert_eq!(msg, "gzip stream ends early after 9 compressed bytes");
}

#[test]
fn reader_matches_bytes() {
    let plain = b"a\nb\nc".to_vec();
    let gz = gzip(&plain);
    let mut c1 = Collect::default();
    let mut c2 = Collect::default();
    decode_reader(&gz[..], &mut c1).unwrap();
    decode_bytes(&plain, &mut c2).unwrap();
    assert_eq!(c1, c2);
    assert_eq!(c1.lines.len(), 3);
}

proptest! {
    #[test]
    fn framing_is_chunking_invariant(data in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'\r'), any::<u8>()], 0..300),
                                     cuts in proptest::collection::vec(0usize..300, 0..8),
                                     max in 1usize..40) {
        let whole = frame_chunks(&data, &[], max);
        let split = frame_chunks(&data, &cuts, max);
        prop_assert_eq!(&split, &whole);
        // Every byte is accounted for: line bytes + newlines = input length.
        let line_bytes: u64 = whole.lines.iter().map(|l| l.0.len() as u64).sum::<u64>()
            + whole.long.iter().map(|l| l.0).sum::<u64>();
        let newlines = data.iter().filter(|&&b| b == b'\n').count() as u64;
        prop_assert_eq!(line_bytes + newlines, data.len() as u64);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_stream_decoder(data in proptest::collection::vec(any::<u8>(), 0..400),
                                                      prefix in prop_oneof![Just(vec![]), Just(vec![0x1f, 0x8b]), Just(vec![0x28, 0xb5, 0x2f, 0xfd])],
                                                      step in 1usize..50) {
        let mut all = prefix;
        all.extend(data);
        let mut dec = StreamDecoder::new();
        let mut c = Collect::default();
        let mut ok = true;
        for piece in all.chunks(step) {
            if dec.push(piece, &mut c).is_err() { ok = false; break; }
        }
        if ok { let _ = dec.finish(&mut c); }
    }
}
