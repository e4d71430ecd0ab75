//! PII (lake.md §2, behave-shell.md §3.4): distinctive command strings,
//! arguments, credentials and output text planted in a shard (typed, pasted,
//! in output, in dead lines) never appear in any file under the lake: raw
//! bytes of every file, and every string value of every decoded Parquet
//! file, the dlq included.

use std::path::Path;

use driftlake::source::InputKind;

use crate::idempotency::support::*;

/// Planted strings: long, unique, and not made of registry words.
const PLANTED: [&str; 7] = [
    "zqxplantedcmd",
    "PLANTED-ARGUMENT-7781",
    "hunter2-PLANTEDPW",
    "PLANTED-OUTPUT-BODY-4411",
    "planted-host-9z",
    "PLANTED-DEAD-LINE-5150",
    "PLANTED-PASTE-0042",
];

fn esc(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// A shard whose sessions type, paste and print the planted strings.
fn planted_shard() -> Vec<u8> {
    let sid = "9b2e4c1a-5d6f-4a7b-8c9d-0e1f2a3b4c5d";
    let sid2 = "1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d";
    let mut lines = vec![format!(
        "{{\"sid\":\"{sid}\",\"hdr\":{{\"version\":2,\"width\":80,\"height\":24,\"timestamp\":1777680000,\"env\":{{\"SHELL\":\"/bin/bash\",\"TERM\":\"xterm\"}}}}}}"
    )];
    let mut t = 0.25;
    let ev = |lines: &mut Vec<String>, ch: &str, d: &str, t: f64| {
        lines.push(format!(
            "{{\"sid\":\"{sid}\",\"t\":{t:.6},\"ch\":\"{ch}\",\"d\":{}}}",
            esc(d)
        ));
    };
    ev(&mut lines, "o", "root@planted-host-9z:~# ", t);
    // Typed char by char: the command and its argument.
    for c in "zqxplantedcmd PLANTED-ARGUMENT-7781\r".chars() {
        t += 0.11;
        ev(&mut lines, "i", &c.to_string(), t);
    }
    t += 0.3;
    ev(
        &mut lines,
        "o",
        "\r\nPLANTED-OUTPUT-BODY-4411\r\nroot@planted-host-9z:~# ",
        t,
    );
    // A pasted credential-bearing command.
    t += 2.0;
    ev(
        &mut lines,
        "i",
        "mysql -p'hunter2-PLANTEDPW' PLANTED-PASTE-0042\r",
        t,
    );
    t += 0.4;
    ev(&mut lines, "o", "\r\nERROR 1045 (28000): Access denied for PLANTED-OUTPUT-BODY-4411\r\nroot@planted-host-9z:~# ", t);
    // Dead lines that carry payload: they must become pointers only.
    lines.push(format!(
        "{{\"sid\":\"{sid}\",\"t\":\"PLANTED-DEAD-LINE-5150\",\"ch\":\"i\",\"d\":\"x\"}}"
    ));
    lines.push(format!(
        "{{\"sid\":\"{sid}\",\"t\":1.0,\"ch\":\"PLANTED-DEAD-LINE-5150\",\"d\":\"x\"}}"
    ));
    lines.push(
        "{\"sid\":\"PLANTED-DEAD-LINE-5150\",\"t\":1.0,\"ch\":\"i\",\"d\":\"zqxplantedcmd\""
            .to_string(),
    );
    lines.push("[\"PLANTED-DEAD-LINE-5150\", \"hunter2-PLANTEDPW\"]".to_string());
    // A second session whose first token has an invalid byte (spec A7).
    lines.push(format!("{{\"sid\":\"{sid2}\",\"t\":0.1,\"ch\":\"i\",\"d\":\"zqxplantedcmd PLANTED-ARGUMENT-7781\\r\"}}"));
    let mut out = lines.join("\n").into_bytes();
    out.push(b'\n');
    out.extend_from_slice(
        format!("{{\"sid\":\"{sid2}\",\"t\":0.2,\"ch\":\"i\",\"d\":\"zqx").as_bytes(),
    );
    out.extend_from_slice(b"\xffPLANTED-PASTE-0042\\r\"}\n");
    out
}

fn assert_clean(lake: &Path) {
    let all = files(lake);
    assert!(
        all.keys().any(|k| k.starts_with("dlq/")),
        "the dlq must have been written: {:?}",
        all.keys()
    );
    for (rel, bytes) in &all {
        for p in PLANTED {
            assert!(
                !bytes.windows(p.len()).any(|w| w == p.as_bytes()),
                "{p} found in the raw bytes of {rel}"
            );
        }
        if rel.ends_with(".parquet") {
            for row in render(&read_parquet(bytes), &[]) {
                for p in PLANTED {
                    assert!(
                        !row.to_lowercase().contains(&p.to_lowercase()),
                        "{p} in a row of {rel}: {row}"
                    );
                }
            }
        }
    }
}

#[test]
fn planted_strings_never_reach_the_lake() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write(
        &src,
        "web-01/ssh/transcripts/sessions-2026-05-02.jsonl",
        &planted_shard(),
    );
    let cast = "{\"version\": 2, \"width\": 80, \"height\": 24, \"timestamp\": 1777680000}\n\
        [0.5, \"o\", \"user@planted-host-9z:~$ \"]\n\
        [1.0, \"i\", \"zqxplantedcmd PLANTED-ARGUMENT-7781\\r\"]\n\
        [1.2, \"o\", \"PLANTED-OUTPUT-BODY-4411\\r\\n$ \"]\n\
        [1.3, \"o\", PLANTED-DEAD-LINE-5150]\n";
    write(tmp.path(), "casts/planted.cast", cast.as_bytes());
    let lake = tmp.path().join("lake");
    let url = src.display().to_string();
    let casts = tmp.path().join("casts").display().to_string();
    let sources = [
        (InputKind::Sessrec, url.as_str()),
        (InputKind::Asciicast, casts.as_str()),
    ];
    let summary = run(&plan(&sources, lake.to_str().unwrap(), false), 2);
    // The inputs were really used: sessions were extracted and lines went dead.
    assert_eq!(summary.failed_inputs, 0, "{:?}", summary.inputs);
    assert_eq!(summary.sessions.ok, 2, "{summary:?}");
    assert_eq!(summary.sessions.error, 1, "{summary:?}");
    assert!(summary.observations > 0);
    assert_eq!(
        summary.dead_letters, 5,
        "{:?}",
        summary.dead_letters_by_reason
    );
    assert_clean(&lake);
    // The planted run summary (what --json prints) is clean as well.
    let json = serde_json::to_string(&summary).unwrap();
    for p in PLANTED {
        assert!(!json.contains(p), "{p} in the run summary");
    }
}
