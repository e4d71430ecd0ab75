use super::*;
use crate::decode::frame::LineFramer;

fn decode_lines(bytes: &[u8]) -> AgentDecoder {
    let mut d = AgentDecoder::default();
    let mut f = LineFramer::new();
    f.push(&bytes[..complete_prefix(bytes)], &mut d);
    d
}

fn reasons(d: &AgentDecoder) -> Vec<&'static str> {
    d.dead.iter().map(|x| x.reason.as_str()).collect()
}

#[test]
fn decodes_events_with_defaults_and_targets() {
    let input =
        br#"{"type":"file_read","source":"a1","timestamp":1700000000,"data":{"path":"/etc/passwd"}}
{"timestamp":"2026-05-02T10:00:00.5Z","data":{"host":"h","url":"https://x"}}
{"type":"api_call","source":"a1","timestamp":1700000000.25,"data":[1,2]}
"#;
    let d = decode_lines(input);
    assert_eq!(
        d.stats,
        RecordStats {
            read: 3,
            ok: 3,
            skipped: 0,
            dead: 0
        }
    );
    let e = &d.events;
    assert_eq!(
        e.ts_us,
        vec![
            1_700_000_000_000_000,
            1_777_716_000_500_000,
            1_700_000_000_250_000
        ]
    );
    assert_eq!(e.agents, vec!["a1", UNKNOWN_AGENT]);
    assert_eq!(e.agent, vec![0, 1, 0]);
    assert_eq!(e.types, vec!["file_read", UNKNOWN_TYPE, "api_call"]);
    // url is preferred to host whatever the key order; no target in an array.
    assert_eq!(
        e.target_hash,
        vec![
            Some(target_hash("/etc/passwd")),
            Some(target_hash("https://x")),
            None
        ]
    );
    assert_eq!(e.line, vec![1, 2, 3]);
    let second = input.iter().position(|&b| b == b'\n').unwrap() as u64 + 1;
    assert_eq!(e.byte_offset[1], second);
}

#[test]
fn target_takes_the_first_string_of_path_url_host() {
    let d = decode_lines(
        br#"{"timestamp":1,"data":{"path":7,"url":"u","host":"h"}}
{"timestamp":1,"data":{"host":"h","path":null}}
{"timestamp":1,"data":{"path":"p1","path":"p2"}}
{"timestamp":1,"data":"just a string"}
{"timestamp":1,"data":{"path":{"nested":"x"}}}
"#,
    );
    assert_eq!(
        d.events.target_hash,
        vec![
            Some(target_hash("u")),
            Some(target_hash("h")),
            Some(target_hash("p2")),
            None,
            None
        ]
    );
}

#[test]
fn bad_records_become_dead_letters_with_reasons() {
    let input = b"{\"timestamp\":1}\r\n\
\n\
   \r\n\
{\"timestamp\":1,\n\
[1,2]\n\
\"str\"\n\
{\"type\":\"x\",\"timestamp\":\"2026-05-02T10:00:00\"}\n\
{\"timestamp\":\"1700000000\"}\n\
{\"timestamp\":null}\n\
{\"type\":\"x\"}\n\
{\"timestamp\":true}\n\
{\"timestamp\":1e300}\n\
{\"timestamp\":\"garbage\"}\n\
{\"type\":5,\"timestamp\":1}\n\
{\"source\":[\"a\"],\"timestamp\":1}\n\
{\"timestamp\":1,\"x\":\"\xff\"}\n\
{\"timestamp\":253402300800}\n";
    let d = decode_lines(input);
    assert_eq!(
        reasons(&d),
        vec![
            "json_syntax",
            "not_an_object",
            "not_an_object",
            "bad_timestamp",
            "bad_timestamp",
            "bad_timestamp",
            "bad_timestamp",
            "bad_timestamp",
            "bad_timestamp",
            "bad_timestamp",
            "bad_event",
            "bad_event",
            "invalid_utf8",
            "bad_timestamp",
        ]
    );
    assert_eq!(d.stats.ok, 1);
    assert_eq!(d.stats.skipped, 2);
    assert_eq!(d.stats.dead, 14);
    assert_eq!(d.stats.read, 17);
    assert!(d.stats.balanced());
    // Pointers, never payload: the detail of the invalid UTF-8 line does not quote it.
    let lines: Vec<Option<u64>> = d.dead.iter().map(|x| x.line).collect();
    assert_eq!(lines[0], Some(4));
    assert!(d.dead.iter().all(|x| !x.detail.contains("garbage")));
    assert_eq!(d.dead[4].detail, BadTimestamp::DigitString.to_string());
}

#[test]
fn half_line_is_not_a_record() {
    let input = b"{\"timestamp\":1}\n{\"timestamp\":2";
    assert_eq!(complete_prefix(input), 16);
    let d = decode_lines(input);
    assert_eq!(d.stats.read, 1);
    assert_eq!(complete_prefix(b"no newline"), 0);
}

#[test]
fn bases_shift_lines_and_offsets() {
    let mut d = AgentDecoder::starting_at(100, 7);
    let mut f = LineFramer::new();
    f.push(b"{\"timestamp\":1}\n{\"timestamp\":\"x\"}\n", &mut d);
    assert_eq!(d.events.line, vec![8]);
    assert_eq!(d.events.byte_offset, vec![100]);
    assert_eq!(d.dead[0].line, Some(9));
    assert_eq!(d.dead[0].byte_offset, 116);
}

#[test]
fn whole_file_document_is_one_record() {
    let mut d = AgentDecoder::default();
    d.document(b"{\n  \"type\": \"file_write\",\n  \"source\": \"a\",\n  \"timestamp\": 5\n}\n");
    assert_eq!(
        d.stats,
        RecordStats {
            read: 1,
            ok: 1,
            skipped: 0,
            dead: 0
        }
    );
    let mut d = AgentDecoder::default();
    d.document(b"{\"timestamp\":1}\n{\"timestamp\":2}\n");
    assert_eq!(reasons(&d), vec!["json_syntax"]);
    let mut d = AgentDecoder::default();
    d.document(b"  \n");
    assert_eq!(d.stats.skipped, 1);
}

#[test]
fn timestamps_follow_the_spec() {
    let ok = |s: &str| rfc3339_us(s).unwrap();
    assert_eq!(ok("1970-01-01T00:00:00Z"), 0);
    assert_eq!(ok("1970-01-01T01:00:00+01:00"), 0);
    assert_eq!(ok("1970-01-01 00:00:01.0000019z"), 1_000_001);
    assert_eq!(ok("1969-12-31T23:59:59Z"), -1_000_000);
    assert_eq!(
        rfc3339_us("2026-05-02T10:00:00"),
        Err(BadTimestamp::NotRfc3339)
    );
    assert_eq!(rfc3339_us("2026-05-02"), Err(BadTimestamp::NotRfc3339));
    assert_eq!(rfc3339_us("42"), Err(BadTimestamp::DigitString));
    assert_eq!(timestamp_us(&Some(Ts::Float(1.5))), Ok(1_500_000));
    assert_eq!(timestamp_us(&Some(Ts::Int(-5))), Ok(-5_000_000));
    assert_eq!(
        timestamp_us(&Some(Ts::UInt(u64::MAX))),
        Err(BadTimestamp::OutOfRange)
    );
    assert_eq!(
        timestamp_us(&Some(Ts::Int(i64::MAX))),
        Err(BadTimestamp::OutOfRange)
    );
    assert_eq!(
        timestamp_us(&Some(Ts::Float(f64::MAX))),
        Err(BadTimestamp::OutOfRange)
    );
    assert_eq!(timestamp_us(&None), Err(BadTimestamp::Missing));
}

#[test]
fn op_classes_are_exact_and_case_sensitive() {
    for t in ["file_read", "file_write", "file_delete", "file_create"] {
        assert_eq!(OpClass::of(t), OpClass::File);
    }
    for t in ["network_request", "network_response", "api_call"] {
        assert_eq!(OpClass::of(t), OpClass::Network);
    }
    for t in ["File_read", "file_read ", "unknown", "process_spawn", ""] {
        assert_eq!(OpClass::of(t), OpClass::Other);
    }
}

#[test]
fn too_long_lines_are_dead_and_hashed() {
    let mut d = AgentDecoder::default();
    let mut f = LineFramer::with_max_line(16);
    f.push(b"{\"timestamp\":12345}\n{\"timestamp\":1}\n", &mut d);
    assert_eq!(reasons(&d), vec!["line_too_long"]);
    assert_eq!(d.stats.read, 2);
    assert_eq!(d.stats.ok, 1);
}

#[test]
fn framer_reports_the_end_of_the_last_complete_line_across_chunks() {
    let mut d = AgentDecoder::default();
    let mut f = LineFramer::new();
    f.push(b"{\"timestamp\":1}\n{\"time", &mut d);
    assert_eq!(f.complete_bytes(), 16);
    f.push(b"stamp\":2}\n{\"timestamp\"", &mut d);
    assert_eq!(f.complete_bytes(), 32);
    f.push(b":3}", &mut d);
    assert_eq!((f.complete_bytes(), d.stats.read), (32, 2));
    let mut f = LineFramer::with_max_line(8);
    f.push(b"{}\n0123456789", &mut d);
    assert_eq!(
        f.complete_bytes(),
        3,
        "an unfinished overlong line is not consumed"
    );
}

mod fast_path {
    use super::super::fast;
    use proptest::prelude::*;

    /// JSON snippets for values, common and odd.
    const VALUES: &[&str] = &[
        "\"file_read\"",
        "\"a1\"",
        "\"\"",
        "\"\\u0041\"",
        "\"a\\\"b\"",
        "\"é ☃\"",
        "\"\u{7f}\"",
        "\"2026-05-02T10:00:00Z\"",
        "\"1700000000\"",
        "null",
        "true",
        "false",
        "0",
        "-0",
        "1",
        "-5",
        "1700000000",
        "1700000000.25",
        "1.5e3",
        "1E-2",
        "-0.0",
        "01",
        "1.",
        ".5",
        "-",
        "1e",
        "1e400",
        "-1e400",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "-9223372036854775809",
        "18446744073709551616",
        "{}",
        "[]",
        "[1,\"x\"]",
        "{\"path\":\"/p\",\"url\":\"u\",\"host\":\"h\"}",
        "{\"host\":\"h\",\"url\":7}",
        "{\"host\":\"h\",\"url\":\"u\"}",
        "{\"path\":null,\"path\":\"/q\"}",
        "{\"path\":{\"a\":1}}",
        "{\"url\":[1]}",
        "{\"pa\\u0074h\":\"x\"}",
        "{\"path\":\"a\",}",
        "{\"path\" \"a\"}",
        "nul",
        "tru",
        "\"unterminated",
    ];
    const KEYS: &[&str] = &[
        "\"type\"",
        "\"source\"",
        "\"timestamp\"",
        "\"data\"",
        "\"x\"",
        "\"path\"",
        "\"typ\\u0065\"",
        "\"\"",
        "type",
    ];
    const WS: &[&str] = &["", " ", "\t", "\r\n ", "\n"];

    fn line() -> impl Strategy<Value = String> {
        let member = (0..KEYS.len(), 0..VALUES.len(), 0..WS.len(), 0..WS.len());
        (
            proptest::collection::vec(member, 0..6),
            0..WS.len(),
            0..8usize,
        )
            .prop_map(|(members, w, mangle)| {
                let body: Vec<String> = members
                    .iter()
                    .map(|&(k, v, a, b)| format!("{}{}:{}{}", KEYS[k], WS[a], WS[b], VALUES[v]))
                    .collect();
                let mut s = format!("{}{{{}}}{}", WS[w], body.join(","), WS[w]);
                match mangle {
                    0 => s.push(','),
                    1 => s = s.replacen(':', "", 1),
                    2 => s.push_str("{}"),
                    3 => s = s.replacen('}', ",}", 1),
                    _ => {}
                }
                s
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        /// When the fast path answers, serde_json's visitor gives the same.
        #[test]
        fn fast_path_agrees_with_serde(s in line()) {
            if let Some(f) = fast::parse(&s) {
                prop_assert_eq!(Some(f), fast::serde(&s), "{}", s);
            }
        }
    }

    #[test]
    fn fast_path_takes_the_usual_shapes() {
        for s in [
            r#"{"type":"file_read","source":"a","timestamp":1700000000,"data":{"path":"/x","bytes":5}}"#,
            r#"{"type":"api_call","source":"a","timestamp":"2026-05-02T10:00:00.5Z","data":{"url":"https://h/x","status":200}}"#,
            r#" { "type" : "heartbeat" , "timestamp" : 1.25 , "data" : { } } "#,
        ] {
            assert!(fast::parse(s).is_some(), "{s}");
            assert_eq!(fast::parse(s), fast::serde(s), "{s}");
        }
        for s in [
            r#"{"type":"a\"b","timestamp":1}"#,
            r#"{"meta":{"k":1},"timestamp":1}"#,
        ] {
            assert!(fast::parse(s).is_none(), "{s}");
        }
    }
}
