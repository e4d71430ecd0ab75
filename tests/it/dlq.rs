//! Bad input (issue 2 acceptance): each case gets the spec's behaviour
//! (skip by rule, or a dead letter with a stable reason), the run never
//! panics, and `records_read = ok + skipped + dead` holds for every input.
//!
//! One shard per case, each under its own decky, so each case's `_inputs`
//! row, dlq rows and sessions rows can be checked on their own.

use std::collections::BTreeMap;
use std::io::Write;

use driftlake::pipeline::{InputSummary, RunSummary};
use driftlake::source::InputKind;

use crate::idempotency::support::*;

const SID: &str = "3f2a9c1e-7b4d-4e8a-9c0f-1a2b3c4d5e6f";
const SID2: &str = "4e3b0d2f-8c5e-4f9b-8d1a-2b3c4d5e6f70";

fn hdr(sid: &str) -> String {
    format!(
        "{{\"sid\":\"{sid}\",\"hdr\":{{\"version\":2,\"width\":120,\"height\":32,\"timestamp\":1777680000,\"env\":{{\"SHELL\":\"/bin/bash\",\"TERM\":\"xterm-256color\"}}}}}}\n"
    )
}

fn ev(sid: &str, t: &str, ch: &str, d: &str) -> String {
    format!("{{\"sid\":\"{sid}\",\"t\":{t},\"ch\":\"{ch}\",\"d\":{d}}}\n")
}

/// A normal short session: `id` typed, output, prompt.
fn good_session(sid: &str) -> String {
    let mut s = hdr(sid);
    s += &ev(sid, "0.500000", "o", "\"root@web-01:~# \"");
    s += &ev(sid, "1.000000", "i", "\"i\"");
    s += &ev(sid, "1.125000", "i", "\"d\"");
    s += &ev(sid, "1.250000", "i", "\"\\r\"");
    s += &ev(
        sid,
        "1.500000",
        "o",
        "\"\\r\\nuid=0(root)\\r\\nroot@web-01:~# \"",
    );
    s
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// The cases: decky name → shard bytes.
fn cases() -> BTreeMap<&'static str, Vec<u8>> {
    let mut m = BTreeMap::new();
    // Invalid UTF-8 in d: kept as surrogate-escaped chars (spec §1.9).
    let mut b = good_session(SID).into_bytes();
    b.extend_from_slice(
        format!("{{\"sid\":\"{SID}\",\"t\":2.0,\"ch\":\"o\",\"d\":\"caf").as_bytes(),
    );
    b.extend_from_slice(b"\xe9 \xff\"}\n");
    m.insert("invalid-utf8", b);
    // Truncated JSON and other syntax errors.
    let mut s = good_session(SID);
    s += &format!("{{\"sid\":\"{SID}\",\"t\":2.0,\"ch\":\"o\",\"d\":\"abc\n");
    s += "{not json}\n";
    m.insert("bad-json", s.into_bytes());
    // Valid JSON that is not an object.
    let mut s = good_session(SID);
    s += "[1,2,3]\n\"a string\"\n42\nnull\n";
    m.insert("non-object", s.into_bytes());
    // NaN, Infinity, -Infinity and true as t: Python accepts all (spec §1.8, A16).
    let mut s = good_session(SID);
    for t in ["NaN", "Infinity", "-Infinity", "true"] {
        s += &ev(SID, t, "o", "\"x\"");
    }
    m.insert("odd-t", s.into_bytes());
    // A null d rejects the line; a missing d is "".
    let mut s = good_session(SID);
    s += &ev(SID, "2.0", "o", "null");
    s += &format!("{{\"sid\":\"{SID}\",\"t\":2.5,\"ch\":\"o\"}}\n");
    m.insert("null-d", s.into_bytes());
    // Unknown ch.
    let mut s = good_session(SID);
    s += &ev(SID, "2.0", "x", "\"y\"");
    m.insert("unknown-ch", s.into_bytes());
    // A 1 MiB line: no line-length limit at that size (spec §1.2).
    let mut s = good_session(SID);
    s += &ev(SID, "2.0", "o", &format!("\"{}\"", "A".repeat(1 << 20)));
    m.insert("mib-line", s.into_bytes());
    // An empty file.
    m.insert("empty-file", Vec::new());
    // A gzip file named .jsonl.
    m.insert("gzip-named-jsonl", gzip(good_session(SID).as_bytes()));
    // CRLF line ends.
    m.insert("crlf", good_session(SID).replace('\n', "\r\n").into_bytes());
    // The truncation sentinel.
    let mut s = good_session(SID);
    s += &format!("{{\"sid\":\"{SID}\",\"trunc\":true}}\n");
    m.insert("trunc-sentinel", s.into_bytes());
    // Two sessions interleaved line by line.
    let (a, b) = (good_session(SID), good_session(SID2));
    let mut s = String::new();
    for (x, y) in a.lines().zip(b.lines()) {
        s += x;
        s += "\n";
        s += y;
        s += "\n";
    }
    m.insert("interleaved", s.into_bytes());
    // A first token holding an invalid byte: the whole session errors (A7).
    let mut b = hdr(SID).into_bytes();
    b.extend_from_slice(format!("{{\"sid\":\"{SID}\",\"t\":1.0,\"ch\":\"i\",\"d\":\"l").as_bytes());
    b.extend_from_slice(b"\xffs\\r\"}\n");
    b.extend_from_slice(ev(SID, "1.5", "o", "\"\\r\\n# \"").as_bytes());
    m.insert("first-token-invalid", b);
    m
}

fn shard_rel(decky: &str) -> String {
    format!("{decky}/ssh/transcripts/sessions-2026-05-02.jsonl")
}

struct Ran {
    summary: RunSummary,
    lake: tempfile::TempDir,
}

impl Ran {
    fn input(&self, decky: &str) -> &InputSummary {
        let tail = shard_rel(decky);
        self.summary
            .inputs
            .iter()
            .find(|i| i.source.ends_with(&tail))
            .unwrap_or_else(|| panic!("{decky}"))
    }

    /// dlq reasons of one case's shard.
    fn reasons(&self, decky: &str) -> Vec<String> {
        let srcs = column(self.lake.path(), "dlq", "source");
        let reasons = column(self.lake.path(), "dlq", "reason");
        let mut v: Vec<String> = srcs
            .iter()
            .zip(reasons)
            .filter(|(s, _)| s.ends_with(&shard_rel(decky)))
            .map(|(_, r)| r)
            .collect();
        v.sort();
        v
    }

    /// sessions rows of one case's shard, rendered.
    fn sessions(&self, decky: &str) -> Vec<String> {
        table_rows(self.lake.path(), "sessions", &["run_id"])
            .into_iter()
            .filter(|r| r.contains(&format!("shard:{decky}/")))
            .collect()
    }
}

fn run_cases() -> Ran {
    run_cases_streamed_from(driftlake::job::STREAM_SHARDS_FROM)
}

/// The cases, with shards of `stream_from` bytes or more read in two
/// streamed passes.
fn run_cases_streamed_from(stream_from: u64) -> Ran {
    let src = tempfile::tempdir().unwrap();
    for (decky, bytes) in cases() {
        write(src.path(), &shard_rel(decky), &bytes);
    }
    run_streamed_from(src.path(), stream_from)
}

/// The sessrec shards under `src` into a new lake, with shards of
/// `stream_from` bytes or more read in two streamed passes.
fn run_streamed_from(src: &std::path::Path, stream_from: u64) -> Ran {
    let lake = tempfile::tempdir().unwrap();
    let url = src.display().to_string();
    let mut p = plan(
        &[(InputKind::Sessrec, &url)],
        lake.path().to_str().unwrap(),
        false,
    );
    p.stream_shards_from = stream_from;
    let summary = run(&p, 2);
    Ran { summary, lake }
}

#[test]
fn every_bad_input_case_reads_the_same_when_streamed() {
    let whole = run_cases();
    let streamed = run_cases_streamed_from(0);
    let accounts = |r: &Ran| {
        let mut v: Vec<String> = r
            .summary
            .inputs
            .iter()
            .map(|i| {
                format!(
                    "{} {} {} {} {} {} {} {:?}",
                    i.source
                        .split('/')
                        .rev()
                        .take(4)
                        .collect::<Vec<_>>()
                        .join("/"),
                    i.status,
                    i.records_read,
                    i.records_ok,
                    i.records_skipped,
                    i.records_dead,
                    i.rows_out,
                    i.error
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(accounts(&whole), accounts(&streamed));
    assert!(whole.summary.inputs.len() > 10);
    for t in ["sessions", "observations", "dlq"] {
        // The shard URLs differ by their temporary directory only.
        let rows = |r: &Ran| table_rows(r.lake.path(), t, &["run_id", "shard", "source"]);
        let a = rows(&whole);
        assert!(t == "dlq" || !a.is_empty(), "{t}");
        assert_eq!(a, rows(&streamed), "{t}");
    }
}

#[test]
fn every_bad_input_case_gets_its_spec_behaviour() {
    let r = run_cases();
    let s = &r.summary;
    assert_eq!(s.failed_inputs, 0, "{:?}", s.inputs);
    // The accounting identity, per input, and dlq rows = records_dead.
    for i in &s.inputs {
        assert_eq!(
            i.records_read,
            i.records_ok + i.records_skipped + i.records_dead,
            "{i:?}"
        );
        let decky = i.source.split('/').rev().nth(3).unwrap();
        assert_eq!(r.reasons(decky).len() as u64, i.records_dead, "{decky}");
    }
    let good = r.input("gzip-named-jsonl");
    // A clean session: header + 5 events.
    assert_eq!(
        (
            good.records_read,
            good.records_ok,
            good.records_skipped,
            good.records_dead
        ),
        (6, 6, 0, 0)
    );

    let i = r.input("invalid-utf8");
    assert_eq!((i.records_read, i.records_dead), (7, 0));
    assert!(r.sessions("invalid-utf8")[0].contains("status=ok"));

    assert_eq!(r.reasons("bad-json"), ["json_syntax", "json_syntax"]);
    assert_eq!(r.reasons("non-object"), ["not_an_object"; 4]);

    let i = r.input("odd-t");
    assert_eq!(
        (i.records_ok, i.records_dead),
        (10, 0),
        "NaN/Infinity/true are numbers to Python"
    );
    assert!(r.sessions("odd-t")[0].contains("output_events=6"));

    assert_eq!(r.reasons("null-d"), ["bad_d"]);
    assert_eq!(
        r.input("null-d").records_ok,
        7,
        "a missing d is an empty string"
    );

    assert_eq!(r.reasons("unknown-ch"), ["bad_ch"]);

    let i = r.input("mib-line");
    assert_eq!((i.records_ok, i.records_dead), (7, 0));

    let i = r.input("empty-file");
    assert_eq!((i.status, i.records_read, i.rows_out), ("ok", 0, 0));

    assert!(r.sessions("gzip-named-jsonl")[0].contains("status=ok"));
    let crlf = r.input("crlf");
    assert_eq!((crlf.records_ok, crlf.records_dead), (6, 0));
    assert_eq!(
        r.sessions("crlf")[0].replace("crlf", "X"),
        r.sessions("gzip-named-jsonl")[0].replace("gzip-named-jsonl", "X"),
        "CRLF must read like LF"
    );

    let i = r.input("trunc-sentinel");
    assert_eq!((i.records_skipped, i.records_dead), (1, 0));
    assert!(r.sessions("trunc-sentinel")[0].contains("truncated=true"));

    let inter = r.sessions("interleaved");
    assert_eq!(inter.len(), 2);
    assert!(inter
        .iter()
        .all(|row| row.contains("status=ok") && row.contains("input_events=3")));

    let a7 = r.sessions("first-token-invalid");
    assert_eq!(a7.len(), 1);
    assert!(
        a7[0].contains("status=error") && a7[0].contains("error_reason=first_token_not_utf8"),
        "{a7:?}"
    );
    let obs_refs = column(r.lake.path(), "observations", "evidence_ref");
    assert!(
        !obs_refs.iter().any(|e| e.contains("first-token-invalid")),
        "A7 sessions emit nothing"
    );
    assert!(obs_refs.iter().any(|e| e.contains("gzip-named-jsonl")));
}

#[test]
fn bad_names_become_dead_letters_not_paths() {
    let src = tempfile::tempdir().unwrap();
    write(
        src.path(),
        &shard_rel("good-1"),
        good_session(SID).as_bytes(),
    );
    write(
        src.path(),
        "Evil_Decky/ssh/sessions-2026-05-02.jsonl",
        good_session(SID).as_bytes(),
    );
    write(
        src.path(),
        "good-1/ftp/sessions-2026-05-02.jsonl",
        good_session(SID).as_bytes(),
    );
    let lake = tempfile::tempdir().unwrap();
    let url = src.path().display().to_string();
    let s = run(
        &plan(
            &[(InputKind::Sessrec, &url)],
            lake.path().to_str().unwrap(),
            false,
        ),
        1,
    );
    assert_eq!(s.inputs.len(), 1);
    assert_eq!(s.dead_letters_by_reason.get("bad_name"), Some(&2));
    let reasons = column(lake.path(), "dlq", "reason");
    assert_eq!(reasons.iter().filter(|r| *r == "bad_name").count(), 2);
    // The bad names are data (dlq.source), never a directory of the lake.
    for rel in files(lake.path()).keys() {
        assert!(!rel.contains("Evil_Decky") && !rel.contains("ftp"), "{rel}");
    }
}

#[test]
fn corrupt_gzip_fails_one_input_and_the_run_goes_on() {
    let src = tempfile::tempdir().unwrap();
    write(
        src.path(),
        &shard_rel("good-1"),
        good_session(SID).as_bytes(),
    );
    let mut gz = gzip(good_session(SID2).as_bytes());
    let n = gz.len();
    gz[n / 2..].iter_mut().for_each(|b| *b ^= 0x5a);
    // Another day, so the good shard's partition is not held back.
    write(src.path(), "bad-1/ssh/sessions-2026-05-03.jsonl.gz", &gz);
    let lake = tempfile::tempdir().unwrap();
    let url = src.path().display().to_string();
    let s = run(
        &plan(
            &[(InputKind::Sessrec, &url)],
            lake.path().to_str().unwrap(),
            false,
        ),
        2,
    );
    assert_eq!(s.failed_inputs, 1);
    let bad = s.inputs.iter().find(|i| i.status == "failed").unwrap();
    assert!(bad.source.ends_with("sessions-2026-05-03.jsonl.gz"));
    assert!(bad.error.as_deref().unwrap().contains("gzip"), "{bad:?}");
    assert_eq!(s.sessions.ok, 1);
    assert_eq!(
        column(lake.path(), "_inputs", "status")
            .iter()
            .filter(|s| *s == "failed")
            .count(),
        1
    );
    assert_eq!(column(lake.path(), "_runs", "status"), ["committed"]);
}

#[test]
fn failed_input_keeps_the_rows_it_committed_before() {
    let src = tempfile::tempdir().unwrap();
    write(
        src.path(),
        &shard_rel("good-1"),
        good_session(SID).as_bytes(),
    );
    let gz_rel = "gz-1/ssh/sessions-2026-05-02.jsonl.gz";
    write(src.path(), gz_rel, &gzip(good_session(SID2).as_bytes()));
    let lake = tempfile::tempdir().unwrap();
    let url = src.path().display().to_string();
    let p = plan(
        &[(InputKind::Sessrec, &url)],
        lake.path().to_str().unwrap(),
        false,
    );
    let first = run(&p, 2);
    assert_eq!(first.sessions.ok, 2);
    let before = table_files(lake.path());
    // The gzip object breaks: its sessions must not vanish from the lake,
    // while the good shard is still recomputed.
    write(src.path(), gz_rel, b"\x1f\x8b\x08\x00garbage");
    let second = run_full(&p, 2);
    assert_eq!(second.failed_inputs, 1);
    assert_eq!((second.sessions.ok, second.sessions.carried), (1, 1));
    assert_eq!(
        table_files(lake.path()),
        before,
        "same rows, so the same files"
    );
    // The object is repaired and changed: its rows are replaced, not doubled.
    write(src.path(), gz_rel, &gzip(good_session(SID).as_bytes()));
    let third = run(&p, 2);
    // Only the changed object is read; the good shard's session is kept.
    assert_eq!((third.failed_inputs, third.sessions.carried), (0, 1));
    assert_eq!(third.inputs.len(), 1);
    let rows = table_rows(lake.path(), "sessions", &[]);
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter().all(|r| r.contains(SID) && !r.contains(SID2)),
        "{rows:?}"
    );
}

#[test]
fn a_run_over_a_subset_keeps_the_other_inputs_rows() {
    let src = tempfile::tempdir().unwrap();
    write(
        src.path(),
        &shard_rel("good-1"),
        good_session(SID).as_bytes(),
    );
    write(
        src.path(),
        &shard_rel("good-2"),
        good_session(SID2).as_bytes(),
    );
    write(src.path(), "bad-3/ssh/sessions-2026-05-02.jsonl", b"[1]\n");
    let lake = tempfile::tempdir().unwrap();
    let all = src.path().display().to_string();
    run(
        &plan(
            &[(InputKind::Sessrec, &all)],
            lake.path().to_str().unwrap(),
            false,
        ),
        2,
    );
    let before = table_files(lake.path());
    let sessions_before = table_rows(lake.path(), "sessions", &["run_id"]);
    assert_eq!(sessions_before.len(), 2);
    // Only one shard this time (e.g. `--source sessrec=<one shard>`).
    let one = src.path().join(shard_rel("good-2")).display().to_string();
    let s = run_full(
        &plan(
            &[(InputKind::Sessrec, &one)],
            lake.path().to_str().unwrap(),
            false,
        ),
        2,
    );
    assert_eq!((s.sessions.ok, s.sessions.carried), (1, 1));
    assert_eq!(table_files(lake.path()), before);
    assert_eq!(
        table_rows(lake.path(), "sessions", &["run_id"]),
        sessions_before
    );
    assert_eq!(column(lake.path(), "dlq", "reason"), ["not_an_object"]);
}

#[test]
fn a_compressed_shard_too_large_decompressed_is_streamed_from_its_bytes() {
    // Twenty sessions gzipped: small as an object, larger as text.
    let text: String = (0..20)
        .map(|i| good_session(&format!("00000000-0000-4000-8000-{i:012}")))
        .collect();
    let gz = gzip(text.as_bytes());
    let cap = 2 * gz.len() as u64;
    assert!(text.len() as u64 > 2 * cap, "{} / {}", gz.len(), text.len());
    let src = tempfile::tempdir().unwrap();
    write(src.path(), "gz-1/ssh/sessions-2026-05-02.jsonl.gz", &gz);
    // A bad line too, so the dlq is compared as well.
    write(
        src.path(),
        "gz-2/ssh/sessions-2026-05-02.jsonl.gz",
        &gzip(format!("{text}not json\n").as_bytes()),
    );
    let whole = run_streamed_from(src.path(), driftlake::job::STREAM_SHARDS_FROM);
    let streamed = run_streamed_from(src.path(), cap);
    for r in [&whole, &streamed] {
        let s = &r.summary;
        assert_eq!(s.failed_inputs, 0, "{:?}", s.inputs);
        assert_eq!((s.sessions.ok, s.dead_letters), (40, 1));
    }
    for t in ["sessions", "observations", "dlq", "_inputs"] {
        let rows = table_rows(whole.lake.path(), t, &["run_id"]);
        assert!(!rows.is_empty(), "{t}");
        assert_eq!(
            rows,
            table_rows(streamed.lake.path(), t, &["run_id"]),
            "{t}"
        );
    }
}
