//! asciicast decoder tests. Fixture counts in comments were computed
//! independently with Python's `json` module over the same files (events per
//! code, last i/o time with v1/v3 times accumulated in file order, and
//! `len(data)` summed, which counts code points like our chars).

use super::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/asciicast/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

struct Summary {
    version: u32,
    events: usize,
    inputs: usize,
    last_t: f64,
    chars: usize,
    read: u64,
    skipped: u64,
}

fn summary(s: &CastSession) -> Summary {
    assert!(s.dead.is_empty(), "{:?}", s.dead);
    assert!(s.stats.balanced());
    let evs = s.events();
    Summary {
        version: s.header.as_ref().unwrap().version,
        events: evs.len(),
        inputs: evs.iter().filter(|e| e.ch == Channel::Input).count(),
        last_t: evs.last().unwrap().t,
        chars: evs.iter().map(|e| e.data.len()).sum(),
        read: s.stats.read,
        skipped: s.stats.skipped,
    }
}

#[test]
fn upstream_fixtures_decode_cleanly() {
    // (file, version, i/o events, inputs, last i/o t, chars, records, skipped)
    type Row = (&'static str, u32, usize, usize, f64, usize, u64, u64);
    #[rustfmt::skip]
    let want: [Row; 10] = [
        // Python: 39 events {'o': 30, 'i': 9}, last t 11.89348, 3232 chars; 40 lines.
        ("demo.cast", 2, 39, 9, 11.89348, 3232, 40, 0),
        // Python: 25 frames, delays sum to 6.456541, 3991 chars; one document.
        ("demo.json", 1, 25, 0, 6.456541, 3991, 1, 0),
        // Python: 3 frames, 0.000001 + 10.00 + 0.5 = 10.500001, 6 chars.
        ("full-v1.json", 1, 3, 0, 10.500001, 6, 1, 0),
        // Python: 5 events {'o': 3, 'i': 1, 'r': 1}, last i/o t 10.5, 7 chars.
        ("full-v2.cast", 2, 4, 1, 10.5, 7, 6, 1),
        // Python: same codes; intervals 0.000001+1.0+0.3+1.600001+10.5 = 13.400002.
        ("full-v3.cast", 3, 4, 1, 13.400002, 7, 6, 1),
        ("minimal-v1.json", 1, 1, 0, 1.23, 5, 1, 0),
        ("minimal-v2.cast", 2, 1, 0, 1.23, 5, 2, 0),
        ("minimal-v3.cast", 3, 1, 0, 1.23, 5, 2, 0),
        ("nulls-v1.json", 1, 1, 0, 1.23, 5, 1, 0),
        ("nulls-v2.cast", 2, 1, 0, 1.23, 5, 2, 0),
    ];
    for (name, version, events, inputs, last_t, chars, read, skipped) in want {
        let s = summary(&decode_asciicast(&fixture(name)));
        assert_eq!(s.version, version, "{name}");
        assert_eq!(
            (s.events, s.inputs, s.chars),
            (events, inputs, chars),
            "{name}"
        );
        assert_eq!(s.last_t, last_t, "{name}");
        assert_eq!((s.read, s.skipped), (read, skipped), "{name}");
    }
}

#[test]
fn header_facts() {
    let h = decode_asciicast(&fixture("full-v3.cast")).header.unwrap();
    assert_eq!(
        h,
        CastHeader {
            version: 3,
            width: Some(100),
            height: Some(50),
            timestamp: Some(1509091818.0),
            term: Some("xterm-256color".into())
        }
    );
    let h = decode_asciicast(&fixture("full-v2.cast")).header.unwrap();
    assert_eq!(
        (h.width, h.height, h.timestamp, h.term.as_deref()),
        (
            Some(100),
            Some(50),
            Some(1509091818.0),
            Some("xterm-256color")
        )
    );
    let h = decode_asciicast(&fixture("nulls-v1.json")).header.unwrap();
    assert_eq!(
        (h.version, h.width, h.height, h.timestamp, h.term),
        (1, Some(100), Some(50), None, None)
    );
    let h = decode_asciicast(&fixture("minimal-v3.cast"))
        .header
        .unwrap();
    assert_eq!((h.width, h.term), (Some(100), None));
    // The data is decoded: full-v1's first frame is "ż" (U+017C).
    let s = decode_asciicast(&fixture("full-v1.json"));
    assert_eq!(s.events()[0].data, &[0x17C]);
    assert_eq!(s.events()[0].t, 0.000001);
}

#[test]
fn v3_comments_intervals_and_skips() {
    let cast = b"{\"version\":3,\"term\":{\"cols\":80,\"rows\":24,\"type\":\"xterm\"}}\n\
# a comment\n\
[0.5, \"o\", \"a\"]\n\
[0.25, \"m\", \"marker\"]\n\
\n\
[0.25, \"i\", \"b\"]\n\
[1, \"x\", \"0\"]\n";
    let s = decode_asciicast(cast);
    let evs = s.events();
    assert_eq!(evs.iter().map(|e| e.t).collect::<Vec<_>>(), [0.5, 1.0]);
    assert_eq!(evs[1].ch, Channel::Input);
    // header ok, 2 events ok; comment, marker, blank, exit skipped.
    assert_eq!(
        (s.stats.read, s.stats.ok, s.stats.skipped, s.stats.dead),
        (7, 3, 4, 0)
    );
    assert_eq!(s.chars, [0x61, 0x62]);
}

#[test]
fn bad_lines_are_dead_letters() {
    let mut cast = b"{\"version\":2,\"width\":80,\"height\":24}\r\n".to_vec();
    for l in [
        &b"[1.0, \"o\", \"ok\"]"[..],
        b"[1.0, \"o\"]",
        b"{\"t\":1}",
        b"[\"1\", \"o\", \"x\"]",
        b"[NaN, \"o\", \"x\"]",
        b"[1.0, 5, \"x\"]",
        b"[1.0, \"o\", null]",
        b"[1.0, \"o\", \"caf\xe9\"]",
        b"[1.0, \"o\", \"trunc",
        b"[2.0, \"i\", \"ok2\"]\r",
    ] {
        cast.extend_from_slice(l);
        cast.push(b'\n');
    }
    let s = decode_asciicast(&cast);
    let reasons: Vec<&str> = s.dead.iter().map(|d| d.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "bad_event",
            "bad_event",
            "bad_t",
            "bad_t",
            "bad_ch",
            "bad_d",
            "invalid_utf8",
            "json_syntax"
        ]
    );
    assert_eq!(s.dead[0].line, Some(3));
    assert_eq!(s.events().len(), 2);
    assert_eq!(s.chars.len(), 5);
    assert!(s.stats.balanced());
    assert_eq!(s.stats.ok, 3);
}

#[test]
fn whole_document_failures_are_one_dead_record() {
    for (doc, reason) in [
        (
            &b"{\"version\":1,\"width\":80,\"height\":24,\"stdout\":[[0.1,\"a\"],[0.2]]}"[..],
            "bad_event",
        ),
        (b"{\"version\":1,\"width\":80,\"height\":24}", "bad_header"),
        (
            b"{\"version\":1,\"width\":\"80\",\"stdout\":[]}",
            "bad_header",
        ),
        (b"{\n \"version\": 1,\n \"stdout\": [\n", "json_syntax"),
        (b"{\"version\": 7}\n[1, \"o\", \"x\"]\n", "json_syntax"),
        (
            b"{\"version\":1,\"stdout\":[[0.1,\"\xff\"]]}",
            "invalid_utf8",
        ),
        (b"not json at all", "json_syntax"),
    ] {
        let s = decode_asciicast(doc);
        assert_eq!(
            s.stats,
            RecordStats {
                read: 1,
                ok: 0,
                skipped: 0,
                dead: 1
            },
            "{}",
            String::from_utf8_lossy(doc)
        );
        assert_eq!(
            s.dead[0].reason.as_str(),
            reason,
            "{}",
            String::from_utf8_lossy(doc)
        );
        assert!(s.events.is_empty() && s.chars.is_empty());
    }
    // Compact one-line v1 also works.
    let s = decode_asciicast(
        b"{\"version\":1,\"width\":80,\"height\":24,\"stdout\":[[0.5,\"a\"],[0.25,\"bc\"]]}\n",
    );
    assert_eq!(
        s.events().iter().map(|e| e.t).collect::<Vec<_>>(),
        [0.5, 0.75]
    );
    assert_eq!(s.chars, [0x61, 0x62, 0x63]);
}

#[test]
fn empty_file_and_compressed_cast() {
    let s = decode_asciicast(b"");
    assert_eq!(s.stats, RecordStats::default());
    assert!(s.header.is_none());
    use std::io::Write;
    let plain = fixture("demo.json");
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(&plain).unwrap();
    let gz = e.finish().unwrap();
    assert_eq!(
        decode_asciicast_object(&gz).unwrap(),
        decode_asciicast(&plain)
    );
    let zs = zstd::encode_all(&fixture("demo.cast")[..], 1).unwrap();
    assert_eq!(
        decode_asciicast_object(&zs).unwrap(),
        decode_asciicast(&fixture("demo.cast"))
    );
    assert!(decode_asciicast_object(&gz[..gz.len() - 10]).is_err());
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
        let mut input = b"{\"version\":3}\n".to_vec();
        input.extend(&bytes);
        let s = decode_asciicast(&input);
        proptest::prop_assert!(s.stats.balanced());
        let s = decode_asciicast(&bytes);
        proptest::prop_assert!(s.stats.balanced());
    }
}
