//! Differential test against the Python reference (spec A25: full-output
//! parity is the acceptance gate).
//!
//! (a) `checked_in_sessions_match_reference`: a few hundred sessions
//!     (generator output read by the reference's own shard reader, hand-made
//!     edge cases, random fuzz) with the oracle's output recorded by
//!     `fixtures/regen.py`. Runs in plain `cargo test`, no Python needed.
//! (b) `live_oracle_random_sessions`: with `DRIFTLAKE_ORACLE=path/to/python`
//!     (the venv holding the reference; `make test-rust` sets it), fresh random
//!     sessions are generated here, run through `tools/oracle/behave_oracle.py
//!     events` and compared. `DRIFTLAKE_ORACLE_N` (default 300) and
//!     `DRIFTLAKE_ORACLE_SEED` (default fixed) steer it. Failing requests are
//!     written to the temp dir for replay.
//!
//! Compared per session (spec §0.2): the ordered primitives, values,
//! confidence bits and window bits; or, when the reference raises, that we
//! emit nothing (the A7 error exactly when it raised `UnicodeEncodeError`).
//! With `DRIFTLAKE_ORACLE` set, each failing session also gets a context diff.

use super::common::*;
use driftlake::extract::behave::{ctx, extract_session};
use driftlake::model::event::Char;
use std::io::Write;
use std::process::{Command, Stdio};

const SESSIONS: &str = include_str!("../../fixtures/golden/differential/sessions.jsonl");
const EXPECTED: &str = include_str!("../../fixtures/golden/differential/expected.jsonl");

/// How many failing sessions get a context diff in the report.
const CONTEXT_DIFFS_MAX: usize = 8;

fn oracle_python() -> Option<String> {
    std::env::var("DRIFTLAKE_ORACLE")
        .ok()
        .filter(|s| !s.is_empty())
}

/// Run the oracle in `mode` over request lines; one parsed output per line.
fn run_oracle(py: &str, mode: &str, requests: &[String]) -> Vec<J> {
    let script = repo_root().join("tools/oracle/behave_oracle.py");
    let mut child = Command::new(py)
        .arg(&script)
        .arg(mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start oracle {py} {}: {e}", script.display()));
    let mut stdin = child.stdin.take().expect("stdin");
    let body = requests.join("\n") + "\n";
    let writer = std::thread::spawn(move || stdin.write_all(body.as_bytes()));
    let out = child.wait_with_output().expect("oracle output");
    writer
        .join()
        .expect("writer thread")
        .expect("write requests");
    assert!(out.status.success(), "oracle failed: {}", out.status);
    let text = String::from_utf8(out.stdout).expect("oracle prints ASCII JSON");
    let res: Vec<J> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(parse_json_str)
        .collect();
    assert_eq!(res.len(), requests.len(), "one oracle answer per request");
    res
}

/// The oracle's full `events`-mode answer in the compact [`Expected`] form.
fn expected_from_oracle(r: &J) -> Expected {
    let obs = r.get("observations").map(J::arr).unwrap_or(&[]);
    let window = obs.first().map(|o| {
        (
            o.get("start_ts").and_then(J::num).expect("start_ts"),
            o.get("end_ts").and_then(J::num).expect("end_ts"),
        )
    });
    Expected {
        sid: r.get("sid").and_then(J::text).expect("sid"),
        error: r.get("error").and_then(J::text),
        window,
        observations: obs
            .iter()
            .map(|o| {
                (
                    o.get("primitive").and_then(J::text).expect("primitive"),
                    o.get("value").and_then(J::text).expect("value"),
                    o.get("confidence").and_then(J::num).expect("confidence"),
                )
            })
            .collect(),
    }
}

/// Context diffs for failing sessions, when the oracle is available.
fn explain(requests: &[(String, Vec<OwnedEvent>)]) -> Vec<String> {
    let Some(py) = oracle_python() else {
        return vec![
            "(set DRIFTLAKE_ORACLE=<venv python> for a context diff of each failing session)"
                .into(),
        ];
    };
    let take: Vec<_> = requests.iter().take(CONTEXT_DIFFS_MAX).collect();
    let lines: Vec<String> = take.iter().map(|(line, _)| line.clone()).collect();
    let answers = run_oracle(&py, "context", &lines);
    let mut out = Vec::new();
    for ((line, evs), a) in take.iter().zip(&answers) {
        let sid = parse_json_str(line)
            .get("sid")
            .and_then(J::text)
            .unwrap_or_default();
        let ev = events_of(evs);
        match (ctx::build(&ev), a.get("context")) {
            (Ok(c), Some(want)) => {
                let d = context_diffs(&c, want);
                if d.is_empty() {
                    out.push(format!(
                        "{sid}: context identical (difference is in a primitive rule)"
                    ));
                }
                out.extend(d.into_iter().map(|x| format!("{sid}: context.{x}")));
            }
            (Err(e), None) => out.push(format!(
                "{sid}: both fail to build a context ({})",
                e.as_str()
            )),
            (Err(e), Some(_)) => out.push(format!(
                "{sid}: our context fails ({}) but the oracle's builds",
                e.as_str()
            )),
            (Ok(_), None) => out.push(format!("{sid}: oracle context raised {:?}", a.get("error"))),
        }
    }
    out
}

fn check(requests: Vec<(String, Vec<OwnedEvent>)>, expected: Vec<Expected>, label: &str) {
    assert_eq!(requests.len(), expected.len());
    let mut diffs = Vec::new();
    let mut failing = Vec::new();
    for ((line, evs), want) in requests.into_iter().zip(&expected) {
        let ours = extract_session(&events_of(&evs));
        let d = compare(&ours, want);
        if !d.is_empty() {
            diffs.extend(d);
            failing.push((line, evs));
        }
    }
    if diffs.is_empty() {
        return;
    }
    let dump = std::env::temp_dir().join(format!("driftlake-differential-{label}.jsonl"));
    let _ = std::fs::write(
        &dump,
        failing
            .iter()
            .map(|(l, _)| l.as_str())
            .collect::<Vec<_>>()
            .join("\n")
            + "\n",
    );
    let n = failing.len();
    let why = explain(&failing);
    panic!(
        "{n} of {} sessions differ from the reference ({label}); failing requests in {}\n{}\n--- context ---\n{}",
        expected.len(),
        dump.display(),
        diffs.join("\n"),
        why.join("\n")
    );
}

#[test]
fn checked_in_sessions_match_reference() {
    let requests: Vec<(String, Vec<OwnedEvent>)> = SESSIONS
        .lines()
        .map(|l| (l.to_string(), request_events(&parse_json_str(l))))
        .collect();
    let expected: Vec<Expected> = EXPECTED
        .lines()
        .map(|l| parse_expected(&parse_json_str(l)))
        .collect();
    assert!(requests.len() >= 300, "a few hundred sessions");
    // The fixture must exercise what it claims to: A7 sessions, other
    // reference raises, and sessions with many observations.
    assert!(expected
        .iter()
        .any(|e| e.error.as_deref() == Some("UnicodeEncodeError")));
    assert!(expected.iter().any(|e| e.observations.len() >= 34));
    for (w, (l, _)) in expected.iter().zip(&requests) {
        assert!(
            l.contains(&format!("\"sid\": \"{}\"", w.sid)),
            "fixture lines out of step at {}",
            w.sid
        );
    }
    check(requests, expected, "checked-in");
}

// ------------------------------------------------------------------ live (b)

use crate::synthetic::Rng;

const WORDS: &[&str] = &[
    "ls",
    "ls -la",
    "cd /tmp",
    "cat /etc/passwd",
    "whoami",
    "id",
    "uname -a",
    "w",
    "history",
    "history -c",
    "exit",
    "rm -rf x",
    "wget http://x/y",
    "curl x | sh",
    "ps aux | grep a | wc -l",
    "man ls",
    "sl",
    "unset HISTFILE",
    "crontab -l",
    "ssh h",
    "env",
    "clear",
    "a|b|c",
    "echo thanks",
    "echo wtf damn",
    "FUCK",
    "!!!",
];
const OUTPUTS: &[&str] = &[
    "\r\n\x1b[?2004l\r",
    "\x1b[?2004hroot@h:~# ",
    "user@host:~$ ",
    "host% ",
    "user@h ~> ",
    "PS C:\\> ",
    "C:\\x>",
    "bash: sl: command not found\r\n",
    "Permission denied\r\n",
    "No such file or directory\r\n",
    "rm: cannot remove 'x'\r\n",
    "LANG=de_DE.UTF-8\r\n",
    "LC_ALL=C\r\n",
    "\x1b]0;title\x07",
    "\x1b]0;unterminated",
    "\x1bPtmux;",
    "\x1b[?1004h",
    "\x1b]83;",
    "logout\r\n",
    "total 0\r\n",
    "\u{1b}[01;34mdir\u{1b}[0m\r\n",
];

fn random_chars(r: &mut Rng, n: usize) -> Vec<Char> {
    const POOL: &[Char] = &[
        0x61, 0x62, 0x73, 0x6C, 0x20, 0x7C, 0x2F, 0x2D, 0x41, 0x21, 0x31, 0x32, 0x0D, 0x0A, 0x09,
        0x7F, 0x08, 0x15, 0x17, 0x01, 0x05, 0x12, 0x02, 0x06, 0x1B, 0x5B, 0x5D, 0x07, 0x00, 0x1C,
        0xA0, 0x3000, 0xB2, 0x663, 0xE9, 0x1F600, 0xDC80, 0xDCFF, 0xD800, 0x23, 0x24, 0x25, 0x3E,
        0x40,
    ];
    let mut v: Vec<Char> = (0..n).map(|_| *r.pick(POOL)).collect();
    // A high surrogate right before a low one would be joined by Python's
    // JSON reader into one char: keep the two programs' inputs identical.
    for i in 1..v.len() {
        if (0xD800..=0xDBFF).contains(&v[i - 1]) && (0xDC00..=0xDFFF).contains(&v[i]) {
            v[i] = 0x78;
        }
    }
    v
}

fn random_session(r: &mut Rng) -> Vec<OwnedEvent> {
    use driftlake::model::event::Channel::{Input, Output};
    let mut evs = Vec::new();
    let mut t = if r.below(4) == 0 { 0.0 } else { r.unit() * 3.0 };
    let commands = r.below(30);
    let iki = [0.004, 0.03, 0.06, 0.1, 0.125, 0.2, 0.4][r.below(7)];
    for _ in 0..commands {
        let word = *r.pick(WORDS);
        let pasted = r.below(5) == 0;
        if pasted {
            evs.push(OwnedEvent {
                t,
                ch: Input,
                data: word.chars().map(|c| c as Char).chain([0x0D]).collect(),
            });
        } else {
            for c in word.chars().chain(['\r']) {
                t += iki * (0.5 + r.unit());
                if r.below(40) == 0 {
                    evs.push(OwnedEvent {
                        t,
                        ch: Input,
                        data: vec![0x7F],
                    });
                    t += iki;
                }
                evs.push(OwnedEvent {
                    t,
                    ch: Input,
                    data: vec![c as Char],
                });
            }
        }
        for _ in 0..r.below(4) {
            t += r.unit() * 0.3;
            let mut d: Vec<Char> = r.pick(OUTPUTS).chars().map(|c| c as Char).collect();
            if r.below(5) == 0 {
                let k = r.below(20);
                d.extend(random_chars(r, k));
            }
            evs.push(OwnedEvent {
                t,
                ch: Output,
                data: d,
            });
        }
        t += [0.1, 0.3, 1.0, 1.5, 2.0, 5.0, 12.0, 40.0][r.below(8)] * (0.5 + r.unit());
        if r.below(25) == 0 {
            let n = r.below(6);
            let data = random_chars(r, n);
            evs.push(OwnedEvent {
                t,
                ch: if r.below(2) == 0 { Input } else { Output },
                data,
            });
        }
    }
    // Time oddities, rarely: NaN, infinities, going backwards.
    if !evs.is_empty() && r.below(10) == 0 {
        let i = r.below(evs.len());
        evs[i].t = *r.pick(&[f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0, 0.0, 1e300]);
    }
    evs
}

fn request_line(sid: &str, evs: &[OwnedEvent]) -> String {
    let mut s = format!("{{\"sid\": \"{sid}\", \"events\": [");
    for (i, e) in evs.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('[');
        py_json_float(e.t, &mut s);
        s.push_str(if e.ch == driftlake::model::event::Channel::Input {
            ", \"i\", "
        } else {
            ", \"o\", "
        });
        py_json_string(&e.data, &mut s);
        s.push(']');
    }
    s.push_str("]}");
    s
}

#[test]
fn live_oracle_random_sessions() {
    let Some(py) = oracle_python() else {
        eprintln!("live_oracle_random_sessions: skipped (set DRIFTLAKE_ORACLE=<venv python>)");
        return;
    };
    let n: usize = std::env::var("DRIFTLAKE_ORACLE_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let seed: u64 = std::env::var("DRIFTLAKE_ORACLE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_D1FF);
    let mut r = Rng(seed | 1);
    let requests: Vec<(String, Vec<OwnedEvent>)> = (0..n)
        .map(|i| {
            let evs = random_session(&mut r);
            (request_line(&format!("live-{seed}-{i}"), &evs), evs)
        })
        .collect();
    // Our serialisation must read back to the very same events.
    for (line, evs) in &requests {
        let back = request_events(&parse_json_str(line));
        assert!(
            back.len() == evs.len()
                && back
                    .iter()
                    .zip(evs)
                    .all(|(a, b)| same_f64(a.t, b.t) && a.ch == b.ch && a.data == b.data),
            "request round trip: {line}"
        );
    }
    let lines: Vec<String> = requests.iter().map(|(l, _)| l.clone()).collect();
    let expected: Vec<Expected> = run_oracle(&py, "events", &lines)
        .iter()
        .map(expected_from_oracle)
        .collect();
    eprintln!("live oracle: {n} sessions, seed {seed}");
    check(requests, expected, &format!("live-{seed}"));
}
