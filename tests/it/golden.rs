//! Golden tests: spec/behave-shell.md Appendix A (golden shard), Appendix B
//! (small vectors) and the §5 calibration grid.
//!
//! Expected outputs are the oracle's (the unmodified reference), recorded by
//! `fixtures/regen.py` (see fixtures/README.md); Appendix B rows are the
//! spec's own table, which the reference produced. Shard lines are read with
//! the test helper in `common` (well-formed fixtures only); decoding parity
//! itself is tested in the decode module.

use super::common::*;
use driftlake::extract::behave::{ctx, extract_session, simhash, ExtractError, Extraction};
use driftlake::model::event::{chars_of, Channel};
use driftlake::model::observation::Primitive;

const A_INPUT: &[u8] = include_bytes!("../../fixtures/golden/appendix_a/input.jsonl");
const A_OBS: &str = include_str!("../../fixtures/golden/appendix_a/observations.jsonl");
const A_CTX: &str = include_str!("../../fixtures/golden/appendix_a/context.json");
const A_SID: &str = "3f2a9c1e-7b4d-4e8a-9c0f-1a2b3c4d5e6f";

fn appendix_a_events() -> Vec<OwnedEvent> {
    let mut sessions = shard_sessions(A_INPUT);
    assert_eq!(sessions.len(), 1);
    let (sid, evs) = sessions.remove(0);
    assert_eq!(sid, A_SID);
    evs
}

#[test]
fn appendix_a_input_is_the_spec_block() {
    // 92 lines: header, resize and 90 events; the reader keeps the 90 (§1.8).
    assert_eq!(A_INPUT.iter().filter(|&&b| b == b'\n').count(), 92);
    let evs = appendix_a_events();
    assert_eq!(evs.len(), 90);
    assert_eq!(evs.iter().filter(|e| e.ch == Channel::Input).count(), 81);
}

#[test]
fn appendix_a_observations_value_for_value() {
    let evs = appendix_a_events();
    let got = extract_session(&events_of(&evs)).expect("Appendix A extracts");
    let want: Vec<J> = A_OBS.lines().map(parse_json_str).collect();
    assert_eq!(want.len(), 35, "fixture holds the spec's 35 observations");
    let key = |p: &str, v: &str, c: f64| (p.to_string(), v.to_string(), c.to_bits());
    let got_keys: Vec<_> = got
        .observations
        .iter()
        .map(|o| key(o.primitive.as_str(), o.value.as_str(), o.confidence))
        .collect();
    let want_keys: Vec<_> = want
        .iter()
        .map(|o| {
            key(
                &o.get("primitive").and_then(J::text).expect("primitive"),
                &o.get("value").and_then(J::text).expect("value"),
                o.get("confidence").and_then(J::num).expect("confidence"),
            )
        })
        .collect();
    assert_eq!(got_keys, want_keys);
    for o in &want {
        let w = o.get("window").expect("window");
        assert_eq!(
            got.t_start.to_bits(),
            w.get("start_ts").and_then(J::num).expect("start").to_bits()
        );
        assert_eq!(
            got.t_end.to_bits(),
            w.get("end_ts").and_then(J::num).expect("end").to_bits()
        );
        // Envelope constants the sink adds (spec §3.1, §1.10): pinned here so
        // a sink test can reuse this fixture.
        assert_eq!(
            o.get("evidence_ref").and_then(J::text).as_deref(),
            Some(format!("shard:web-01/ssh/sessions-2026-05-02.jsonl#{A_SID}").as_str())
        );
        assert_eq!(
            o.get("source").and_then(J::text).as_deref(),
            Some("decnet/profiler/behave_shell/extract.py")
        );
        assert_eq!(o.get("identity_ref"), Some(&J::Null));
        assert_eq!(o.get("v").and_then(J::num), Some(1.0));
    }
    assert_eq!(got.commands, 9);
}

#[test]
fn appendix_a_context_matches_reference() {
    let evs = appendix_a_events();
    let ev = events_of(&evs);
    let c = ctx::build(&ev).expect("context");
    let diffs = context_diffs(&c, &parse_json_str(A_CTX));
    assert!(
        diffs.is_empty(),
        "context differs from the reference:\n{}",
        diffs.join("\n")
    );
}

// ----------------------------------------------------------------- Appendix B

fn run(evs: &[(f64, Channel, &str)]) -> Result<Extraction, ExtractError> {
    let owned: Vec<OwnedEvent> = evs
        .iter()
        .map(|&(t, ch, d)| OwnedEvent {
            t,
            ch,
            data: chars_of(d),
        })
        .collect();
    extract_session(&events_of(&owned))
}

fn obs_of(x: &Extraction, p: Primitive) -> Option<(String, u64)> {
    x.observations
        .iter()
        .find(|o| o.primitive == p)
        .map(|o| (o.value.as_str().to_string(), o.confidence.to_bits()))
}

fn typed_commands(lines: &[&str]) -> Vec<(f64, Channel, String)> {
    // Each command typed at 0.125 s per key, 2 s between commands, with a
    // prompt after each Enter (dyadic times, exact arithmetic).
    let mut out = Vec::new();
    let mut t = 0.0;
    for l in lines {
        for c in format!("{l}\r").chars() {
            out.push((t, Channel::Input, c.to_string()));
            t += 0.125;
        }
        out.push((t, Channel::Output, "\r\nok\r\nroot@h:~# ".to_string()));
        t += 2.0;
    }
    out
}

fn run_owned(evs: &[(f64, Channel, String)]) -> Extraction {
    let v: Vec<(f64, Channel, &str)> = evs.iter().map(|(t, c, d)| (*t, *c, d.as_str())).collect();
    run(&v).expect("extracts")
}

fn hex(h: &[u8; 32]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn b_sha256_of_ls_and_empty_token() {
    let owned = [
        OwnedEvent {
            t: 0.0,
            ch: Channel::Input,
            data: chars_of("ls\r"),
        },
        OwnedEvent {
            t: 1.0,
            ch: Channel::Input,
            data: chars_of(" \t \r"),
        },
    ];
    let ev = events_of(&owned);
    let c = ctx::build(&ev).expect("context");
    assert_eq!(
        hex(&c.commands[0].first_token_hash),
        "c7b68ac37f364473e922936708e7f43c293dd07b295171566c07ff5fe024fab9"
    );
    assert_eq!(
        hex(&c.commands[1].first_token_hash),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

fn sh(pairs: &[(&str, i64)]) -> String {
    simhash::hex16(simhash::simhash64(
        pairs.iter().map(|&(t, w)| (chars_of(t), w)),
    ))
}

#[test]
fn b_simhash_vectors() {
    assert_eq!(sh(&[("ab:2", 5)]), "2db9606810a54cbc");
    assert_eq!(sh(&[("th", 3), ("he", 2), ("er", 1)]), "0f9c0f892402ce45");
    assert_eq!(
        sh(&[
            ("ls:3", 2),
            ("s\r:3", 1),
            ("wh:3", 1),
            ("ho:3", 1),
            ("oa:3", 1),
            ("am:3", 1),
            ("mi:3", 1),
            ("i\r:3", 1)
        ]),
        "919bb6910d4f924c"
    );
    assert_eq!(sh(&[]), "0000000000000000");
    assert_eq!(sh(&[("ab:2", 0), ("cd:1", -3)]), "0000000000000000");
}

#[test]
fn b_digraph_confidence_by_distinct_count() {
    // A cycle over k distinct letters has exactly k distinct digraphs; 40
    // keys at 0.1 s give 39 samples (>= 20).
    let letters: Vec<char> = "abcdefghijklmnop".chars().collect();
    for (k, want) in [
        (8, 0.8),
        (9, 0.8500000000000001),
        (10, 0.9),
        (11, 0.95),
        (12, 0.95),
    ] {
        let evs: Vec<(f64, Channel, String)> = (0..40)
            .map(|i| {
                (
                    f64::from(i) * 0.1,
                    Channel::Input,
                    letters[i as usize % k].to_string(),
                )
            })
            .collect();
        let x = run_owned(&evs);
        let (_, c) = obs_of(&x, Primitive::DigraphSimhash).expect("digraph emitted");
        assert_eq!(c, f64::to_bits(want), "k = {k}");
    }
}

#[test]
fn b_paste_of_two_commands_windows() {
    let owned = [
        OwnedEvent {
            t: 0.0,
            ch: Channel::Input,
            data: chars_of("ls\rpwd\r"),
        },
        OwnedEvent {
            t: 0.1,
            ch: Channel::Output,
            data: chars_of("x: command not found\nroot@h:~# "),
        },
    ];
    let ev = events_of(&owned);
    let c = ctx::build(&ev).expect("context");
    assert_eq!(c.commands.len(), 2);
    for cmd in &c.commands {
        assert_eq!((cmd.start_ts, cmd.end_ts), (0.0, 0.0));
    }
    let (a, b) = (&c.commands[0], &c.commands[1]);
    assert!(!a.errored && !a.followed_by_prompt && a.output_chars == 0);
    assert!(b.errored && b.followed_by_prompt);
    assert_eq!(b.output_chars, 31);
}

#[test]
fn b_output_only_session_emits_only_duration() {
    let x = run(&[(0.0, Channel::Output, "a"), (5.0, Channel::Output, "b")]).expect("extracts");
    assert_eq!(x.observations.len(), 1);
    assert_eq!(
        obs_of(&x, Primitive::SessionDuration),
        Some(("short".into(), 0.85f64.to_bits()))
    );
}

#[test]
fn b_backspace_before_any_char_is_deferred() {
    let x = run(&[
        (0.0, Channel::Input, "\x7f"),
        (0.1, Channel::Input, "a"),
        (0.2, Channel::Input, "b"),
    ])
    .expect("extracts");
    assert_eq!(
        obs_of(&x, Primitive::ErrorCorrection),
        Some(("deferred".into(), 0.55f64.to_bits()))
    );
}

#[test]
fn b_median_two_pipes_is_moderate() {
    let x = run_owned(&typed_commands(&["a|b|c"; 5]));
    assert_eq!(
        obs_of(&x, Primitive::PipeChainingDepth),
        Some(("moderate".into(), 0.55f64.to_bits()))
    );
}

#[test]
fn b_lang_posix_gives_pos() {
    let x = run(&[
        (0.0, Channel::Input, "env\r"),
        (0.5, Channel::Output, "LANG=POSIX\r\n"),
    ])
    .expect("extracts");
    assert_eq!(
        obs_of(&x, Primitive::Locale),
        Some(("pos".into(), 0.80f64.to_bits()))
    );
}

#[test]
fn b_objective_ties_go_to_first_seen() {
    let x = run_owned(&typed_commands(&["ls", "rm x", "ls", "rm y"]));
    assert_eq!(
        obs_of(&x, Primitive::Objective),
        Some(("recon".into(), 0.40f64.to_bits()))
    );
    let x = run_owned(&typed_commands(&["rm x", "ls", "rm y", "ls"]));
    assert_eq!(
        obs_of(&x, Primitive::Objective),
        Some(("destructive".into(), 0.40f64.to_bits()))
    );
}

#[test]
fn b_surrogate_in_first_token_is_a7() {
    let owned = [OwnedEvent {
        t: 0.0,
        ch: Channel::Input,
        data: vec![0x6C, 0xDCFF, 0x73, 0x0D],
    }];
    match extract_session(&events_of(&owned)) {
        Err(e) => assert_eq!(e.as_str(), "first_token_not_utf8"),
        Ok(x) => panic!("A7 session extracted {} observations", x.observations.len()),
    }
    // The same byte outside the first token is harmless.
    let owned = [OwnedEvent {
        t: 0.0,
        ch: Channel::Input,
        data: vec![0x6C, 0x73, 0x20, 0xDCFF, 0x0D],
    }];
    assert!(extract_session(&events_of(&owned)).is_ok());
}

// ----------------------------------------------------------- calibration (§5)

struct Class {
    name: &'static str,
    shard: &'static [u8],
    expected: &'static str,
    pinned: &'static [(&'static str, &'static str)],
}

const CLASSES: [Class; 5] = [
    Class {
        name: "human",
        shard: include_bytes!(
            "../../fixtures/calibration/human/cal-01/ssh/transcripts/sessions-2026-05-02.jsonl"
        ),
        expected: include_str!("../../fixtures/calibration/human/expected.jsonl"),
        pinned: &[
            ("motor.input_modality", "typed"),
            ("cognitive.command_branch_diversity", "adaptive_branching"),
            ("cognitive.feedback_loop_engagement", "closed_loop"),
            // §5.1 note: `bimodal` is unreachable with v0.1 thresholds; parity gives `variable`.
            ("cognitive.inter_command_consistency", "variable"),
        ],
    },
    Class {
        name: "you-sim",
        shard: include_bytes!(
            "../../fixtures/calibration/you-sim/cal-01/ssh/transcripts/sessions-2026-05-02.jsonl"
        ),
        expected: include_str!("../../fixtures/calibration/you-sim/expected.jsonl"),
        pinned: &[
            ("motor.input_modality", "pasted"),
            ("motor.paste_burst_rate", "occasional"),
            ("cognitive.inter_command_latency_class", "typing_speed"),
            ("cognitive.command_branch_diversity", "linear_playbook"),
        ],
    },
    Class {
        name: "lw-sim",
        shard: include_bytes!(
            "../../fixtures/calibration/lw-sim/cal-01/ssh/transcripts/sessions-2026-05-02.jsonl"
        ),
        expected: include_str!("../../fixtures/calibration/lw-sim/expected.jsonl"),
        pinned: &[
            ("motor.input_modality", "pasted"),
            ("motor.paste_burst_rate", "habitual"),
            ("cognitive.inter_command_latency_class", "llm_lightweight"),
            ("cognitive.command_branch_diversity", "linear_playbook"),
        ],
    },
    Class {
        name: "claude-ff",
        shard: include_bytes!(
            "../../fixtures/calibration/claude-ff/cal-01/ssh/transcripts/sessions-2026-05-02.jsonl"
        ),
        expected: include_str!("../../fixtures/calibration/claude-ff/expected.jsonl"),
        pinned: &[
            ("motor.input_modality", "pasted"),
            ("motor.paste_burst_rate", "habitual"),
            ("cognitive.inter_command_latency_class", "llm_heavyweight"),
            ("cognitive.command_branch_diversity", "linear_playbook"),
            ("cognitive.feedback_loop_engagement", "fire_and_forget"),
        ],
    },
    Class {
        name: "claude-cl",
        shard: include_bytes!(
            "../../fixtures/calibration/claude-cl/cal-01/ssh/transcripts/sessions-2026-05-02.jsonl"
        ),
        expected: include_str!("../../fixtures/calibration/claude-cl/expected.jsonl"),
        pinned: &[
            ("motor.input_modality", "pasted"),
            ("motor.paste_burst_rate", "habitual"),
            ("cognitive.inter_command_latency_class", "long"),
            ("cognitive.command_branch_diversity", "adaptive_branching"),
            ("cognitive.feedback_loop_engagement", "closed_loop"),
        ],
    },
];

/// The 27 hard-gate primitives of spec §5.2.
const HARD_GATE: [Primitive; 27] = [
    Primitive::InputModality,
    Primitive::PasteBurstRate,
    Primitive::InterCommandLatencyClass,
    Primitive::CommandBranchDiversity,
    Primitive::FeedbackLoopEngagement,
    Primitive::InterCommandConsistency,
    Primitive::KeystrokeCadence,
    Primitive::MotorStability,
    Primitive::ErrorCorrection,
    Primitive::CommandChunking,
    Primitive::TabCompletion,
    Primitive::ShortcutUsage,
    Primitive::PipeChainingDepth,
    Primitive::CognitiveLoad,
    Primitive::ExplorationStyle,
    Primitive::PlanningDepth,
    Primitive::ToolVocabulary,
    Primitive::SessionDuration,
    Primitive::EscalationPattern,
    Primitive::LandingRitual,
    Primitive::ExitBehavior,
    Primitive::ShellType,
    Primitive::TerminalMultiplexer,
    Primitive::NumpadUsage,
    Primitive::OpsecDiscipline,
    Primitive::CleanupBehavior,
    Primitive::StressResponse,
];

/// Our per-session results for one calibration shard.
fn calibrate(c: &Class) -> Vec<(String, Extraction)> {
    shard_sessions(c.shard)
        .into_iter()
        .map(|(sid, evs)| {
            let x = extract_session(&events_of(&evs))
                .unwrap_or_else(|e| panic!("{} {sid}: {}", c.name, e.as_str()));
            (sid, x)
        })
        .collect()
}

#[test]
fn calibration_parity_with_reference() {
    let mut diffs = Vec::new();
    for c in &CLASSES {
        let ours = calibrate(c);
        let want: Vec<Expected> = c
            .expected
            .lines()
            .map(|l| parse_expected(&parse_json_str(l)))
            .collect();
        assert_eq!(
            ours.iter().map(|(s, _)| s.clone()).collect::<Vec<_>>(),
            want.iter().map(|w| w.sid.clone()).collect::<Vec<_>>()
        );
        for ((_, x), w) in ours.into_iter().zip(&want) {
            diffs.extend(
                compare(&Ok(x), w)
                    .into_iter()
                    .map(|d| format!("[{}] {d}", c.name)),
            );
        }
    }
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

#[test]
fn calibration_pinned_values_hard_gate_and_discrimination() {
    let mut majorities: Vec<Vec<(Primitive, String)>> = Vec::new();
    for c in &CLASSES {
        let ours = calibrate(c);
        assert!(ours.len() >= 2, "{}: a few sessions per shard", c.name);
        // §5.1 pinned cells hold for every session of the class.
        for (sid, x) in &ours {
            for &(p, v) in c.pinned {
                let p = Primitive::parse(p).expect("registry primitive");
                assert_eq!(
                    obs_of(x, p).map(|o| o.0).as_deref(),
                    Some(v),
                    "{} {sid}: {}",
                    c.name,
                    p.as_str()
                );
            }
        }
        // §5.2 hard gate: every primitive at least once per shard.
        for p in HARD_GATE {
            assert!(
                ours.iter().any(|(_, x)| obs_of(x, p).is_some()),
                "{}: hard-gate primitive {} never emitted",
                c.name,
                p.as_str()
            );
        }
        // Majority value per primitive (first-seen order breaks ties).
        let mut maj = Vec::new();
        for p in HARD_GATE {
            let mut counts: Vec<(String, usize)> = Vec::new();
            for (_, x) in &ours {
                if let Some((v, _)) = obs_of(x, p) {
                    match counts.iter_mut().find(|(k, _)| *k == v) {
                        Some(e) => e.1 += 1,
                        None => counts.push((v, 1)),
                    }
                }
            }
            let mut best = &counts[0];
            for e in &counts[1..] {
                if e.1 > best.1 {
                    best = e;
                }
            }
            maj.push((p, best.0.clone()));
        }
        majorities.push(maj);
    }
    // §5.2 discrimination smoke test: some hard-gate primitive has >= 2
    // different majority values across the classes.
    let discriminating: Vec<&str> = HARD_GATE
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            let mut vals: Vec<&String> = majorities.iter().map(|m| &m[*i].1).collect();
            vals.sort();
            vals.dedup();
            vals.len() >= 2
        })
        .map(|(_, p)| p.as_str())
        .collect();
    assert!(
        discriminating.contains(&"motor.input_modality"),
        "discriminating: {discriminating:?}"
    );
    assert!(
        discriminating.contains(&"cognitive.inter_command_latency_class"),
        "discriminating: {discriminating:?}"
    );
}
