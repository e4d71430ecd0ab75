//! The `environmental` primitives (spec/behave-shell.md §4.4.26–4.4.30).
//!
//! Pure: each function reads the shared [`SessionCtx`] and emits at most one
//! observation. Prompt text and output bytes are inspected here but never
//! copied into an observation (spec §3.4); only labels and the locale tag
//! leave.

use crate::extract::behave::ctx::SessionCtx;
use crate::extract::behave::pychar::is_py_digit;
use crate::extract::behave::text::{find_locale_tag_marked, py_lstrip};
use crate::extract::behave::thresholds::{
    LAYOUT_AZERTY_ENG_MAX, LAYOUT_AZERTY_Q_MIN, LAYOUT_MIN_TYPED_LETTERS, LAYOUT_QWERTY_ENG_MIN,
    LAYOUT_QWERTZ_Y_MAX, LAYOUT_QWERTZ_Z_MIN, LAYOUT_TOP_ENG_BIGRAMS, NUMPAD_FAST_IAT_S,
    NUMPAD_MIN_TYPED_CHARS, NUMPAD_RUN_MIN, PASTE_MIN_CHARS_PER_EVENT, SHELL_TYPE_MIN_PROMPTS,
};
use crate::model::event::Char;
use crate::model::observation::{Observation, Primitive};

/// The shell a single prompt line suggests (spec §4.4.26 step 2).
fn prompt_shell(suffix: Char, raw_line: &[Char]) -> &'static str {
    const PS: [Char; 3] = ['P' as Char, 'S' as Char, ' ' as Char];
    const DRIVE_UPPER: [Char; 3] = ['C' as Char, ':' as Char, '\\' as Char];
    const DRIVE_LOWER: [Char; 3] = ['c' as Char, ':' as Char, '\\' as Char];
    match char::from_u32(suffix) {
        Some('$') | Some('#') => "bash",
        Some('%') => "zsh",
        // `raw_line` is already stripped, but the 256-char cut (§2.8.3) can
        // expose leading whitespace again, so the lstrip still matters.
        _ if py_lstrip(raw_line).starts_with(&PS) => "powershell",
        _ if contains(raw_line, &DRIVE_UPPER) || contains(raw_line, &DRIVE_LOWER) => "cmd.exe",
        _ => "fish",
    }
}

/// spec §4.4.26: the shell family, by majority vote over the prompt lines.
pub fn shell_type(ctx: &SessionCtx<'_>) -> Option<Observation> {
    if ctx.prompt_lines.is_empty() {
        return None;
    }
    // Tallies in first-seen order, so a strict `>` below keeps the earliest
    // label on a tie (parity A4: no fixed precedence).
    let mut tally: Vec<(&'static str, usize)> = Vec::with_capacity(5);
    for p in &ctx.prompt_lines {
        let label = prompt_shell(p.suffix_char, &p.raw_line);
        match tally.iter_mut().find(|(l, _)| *l == label) {
            Some((_, n)) => *n += 1,
            None => tally.push((label, 1)),
        }
    }
    let mut best = tally[0];
    for &entry in &tally[1..] {
        if entry.1 > best.1 {
            best = entry;
        }
    }
    let conf = if ctx.prompt_lines.len() < SHELL_TYPE_MIN_PROMPTS {
        0.40
    } else {
        0.75
    };
    Some(Observation::label(Primitive::ShellType, best.0, conf))
}

/// True when `needle` occurs in `hay` (plain substring test on chars).
fn contains(hay: &[Char], needle: &[Char]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Markers of spec §4.4.27 (ASCII, matched against the output's chars).
const TMUX_DCS: &[u8] = b"\x1bPtmux;";
const TMUX_FOCUS: &[u8] = b"\x1b[?1004";
const TMUX_TITLE: &[u8] = b"\x1b]2;tmux";
const SCREEN_DCS: &[u8] = b"\x1bP=";
const SCREEN_OSC: &[u8] = b"\x1b]83;";

/// True when the chars `at` start with the ASCII `marker`.
fn starts_with_marker(at: &[Char], marker: &[u8]) -> bool {
    at.len() >= marker.len() && at.iter().zip(marker).all(|(&c, &m)| c == Char::from(m))
}

/// spec §4.4.27: tmux or screen control sequences in the raw output.
///
/// Each output event is searched on its own, before ANSI stripping (which
/// would remove the markers); a marker split across events is missed
/// (parity A20).
pub fn terminal_multiplexer(ctx: &SessionCtx<'_>) -> Option<Observation> {
    if ctx.commands.is_empty() {
        return None;
    }
    // Every marker starts with ESC then `P`, `]` or `[?`, and is ASCII:
    // visit the ESCs the strip found that start such a sequence (it passes
    // over only the ends of OSC matches, `ESC \\`), each matched within
    // its own event's chars (parity A20).
    let ot = ctx.output_text();
    let (mut tmux, mut screen) = (false, false);
    for &(j, p) in &ot.control_escapes {
        let at = &ctx.outputs[j].data[p..];
        if [TMUX_DCS, TMUX_FOCUS, TMUX_TITLE]
            .iter()
            .any(|m| starts_with_marker(at, m))
        {
            tmux = true;
            break;
        }
        screen |= [SCREEN_DCS, SCREEN_OSC]
            .iter()
            .any(|m| starts_with_marker(at, m));
    }
    let (label, conf) = if tmux {
        ("tmux", 0.85)
    } else if screen {
        ("screen", 0.85)
    } else {
        ("none", 0.55)
    };
    Some(Observation::label(
        Primitive::TerminalMultiplexer,
        label,
        conf,
    ))
}

/// spec §4.4.28: the locale tag assigned anywhere in the session's output.
///
/// The whole output is scanned, not only command windows, so the login
/// banner's environment dump counts.
pub fn locale(ctx: &SessionCtx<'_>) -> Option<Observation> {
    if ctx.commands.is_empty() {
        return None;
    }
    // The whole output joined and stripped, in the narrowed view (the
    // pattern is ASCII).
    let ot = ctx.output_text();
    if ot.char_count() == 0 {
        return None;
    }
    let tag = find_locale_tag_marked(&ot.stripped.text, &ot.marks.locale_keys)?;
    Some(Observation::text(Primitive::Locale, tag, 0.80))
}

/// spec §4.4.29: keyboard layout from typed letter and bigram rates.
pub fn keyboard_layout(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let letters = ctx.typed_letter_count as usize;
    if letters < LAYOUT_MIN_TYPED_LETTERS {
        return None;
    }
    // spec §2.10: only the capped top-64 bigrams exist from here on.
    let total: u64 = ctx.bigrams.iter().map(|&(_, n)| u64::from(n)).sum();
    let eng_hits: u64 = ctx
        .bigrams
        .iter()
        .filter(|(k, _)| LAYOUT_TOP_ENG_BIGRAMS.iter().any(|b| b.as_bytes() == k))
        .map(|&(_, n)| u64::from(n))
        .sum();
    // Counts are far below 2^53, so each f64 division is Python's correctly
    // rounded int / int.
    let eng = if total == 0 {
        0.0
    } else {
        eng_hits as f64 / total as f64
    };
    let rate = |c: u8| f64::from(ctx.unigram[usize::from(c - b'a')]) / letters as f64;
    let (q, z, y) = (rate(b'q'), rate(b'z'), rate(b'y'));
    let label = if q > LAYOUT_AZERTY_Q_MIN && eng < LAYOUT_AZERTY_ENG_MAX {
        "azerty"
    } else if z > LAYOUT_QWERTZ_Z_MIN && y < LAYOUT_QWERTZ_Y_MAX {
        "qwertz"
    } else if eng >= LAYOUT_QWERTY_ENG_MIN {
        "qwerty"
    } else {
        "other"
    };
    let conf = if letters < 500 { 0.40 } else { 0.55 };
    Some(Observation::label(Primitive::KeyboardLayout, label, conf))
}

/// spec §4.4.30: runs of fast single-digit keystrokes.
pub fn numpad_usage(ctx: &SessionCtx<'_>) -> Option<Observation> {
    if ctx.commands.is_empty() {
        return None;
    }
    let mut typed = 0usize;
    let mut digit_ts: Vec<f64> = Vec::new();
    for e in ctx
        .inputs
        .iter()
        .filter(|e| e.data.len() < PASTE_MIN_CHARS_PER_EVENT)
    {
        typed += e.data.len();
        if let [c] = e.data {
            if is_py_digit(*c) {
                digit_ts.push(e.t);
            }
        }
    }
    if typed < NUMPAD_MIN_TYPED_CHARS {
        return None;
    }
    // Parity A5: consecutive entries of the digit-only list; letters typed
    // between the digits do not break a run. Differences are not clamped, so
    // a decreasing time still counts as fast.
    let detected = digit_ts
        .windows(NUMPAD_RUN_MIN)
        .any(|w| w.windows(2).all(|p| p[1] - p[0] <= NUMPAD_FAST_IAT_S));
    let label = if detected { "detected" } else { "not_detected" };
    Some(Observation::label(Primitive::NumpadUsage, label, 0.50))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::behave::ctx::{Command, PromptLine, TokenSets};
    use crate::extract::behave::text::starts_control_sequence;
    use crate::model::event::{chars_of, Channel, Event};

    #[test]
    fn every_marker_passes_the_prefilter() {
        let chars = |b: &[u8]| b.iter().map(|&x| Char::from(x)).collect::<Vec<_>>();
        for m in [TMUX_DCS, TMUX_FOCUS, TMUX_TITLE, SCREEN_DCS, SCREEN_OSC] {
            assert!(starts_control_sequence(&chars(m)), "{m:?}");
            assert!(starts_with_marker(&chars(m), m), "{m:?}");
            assert!(!starts_with_marker(&chars(&m[..m.len() - 1]), m), "{m:?}");
        }
        assert!(!starts_control_sequence(&chars(b"\x1b[0m")));
        assert!(!starts_control_sequence(&chars(b"\x1bP")));
        // A char that narrows to a marker byte is not that byte.
        assert!(!starts_with_marker(&[0x1B, 0x150, 0x3D], SCREEN_DCS));
    }

    fn cmd() -> Command {
        Command {
            start_ts: 0.0,
            end_ts: 0.0,
            first_token_hash: [0; 32],
            token_sets: TokenSets(0),
            tab_count: 0,
            shortcut_count: 0,
            pipe_count: 0,
            errored: false,
            output_chars: 0,
            followed_by_prompt: true,
        }
    }

    fn val(o: Option<Observation>) -> Option<(String, f64)> {
        o.map(|o| (o.value.as_str().to_string(), o.confidence))
    }

    fn some(label: &str, conf: f64) -> Option<(String, f64)> {
        Some((label.to_string(), conf))
    }

    // ---- shell_type -------------------------------------------------------

    fn prompt(line: &str) -> PromptLine {
        let raw_line = chars_of(line);
        let suffix_char = *raw_line.last().expect("non-empty prompt");
        PromptLine {
            suffix_char,
            raw_line: raw_line.into(),
        }
    }

    fn shell_of(lines: &[&str]) -> Option<(String, f64)> {
        let ctx = SessionCtx {
            prompt_lines: lines.iter().map(|l| prompt(l)).collect(),
            ..Default::default()
        };
        val(shell_type(&ctx))
    }

    #[test]
    fn shell_type_skips_without_prompt_lines() {
        assert_eq!(shell_of(&[]), None);
    }

    #[test]
    fn shell_type_classifies_each_suffix() {
        assert_eq!(shell_of(&["root@h:~#"]), some("bash", 0.40));
        assert_eq!(shell_of(&["user@h:~$"]), some("bash", 0.40));
        assert_eq!(shell_of(&["h%"]), some("zsh", 0.40));
        assert_eq!(shell_of(&["PS C:\\Users\\x>"]), some("powershell", 0.40));
        assert_eq!(shell_of(&["C:\\Users\\x>"]), some("cmd.exe", 0.40));
        assert_eq!(shell_of(&["c:\\>"]), some("cmd.exe", 0.40));
        assert_eq!(shell_of(&["C:/Users>"]), some("fish", 0.40)); // forward slash is not cmd
        assert_eq!(shell_of(&["user@h ~>"]), some("fish", 0.40));
        assert_eq!(shell_of(&["PS>"]), some("fish", 0.40)); // "PS" needs the space
        assert_eq!(shell_of(&["ps C:\\>"]), some("cmd.exe", 0.40)); // case-sensitive PS
    }

    #[test]
    fn shell_type_powershell_test_ignores_leading_whitespace() {
        // The 256-char cut can leave leading whitespace on raw_line.
        assert_eq!(shell_of(&["  \u{3000}PS C:\\>"]), some("powershell", 0.40));
    }

    #[test]
    fn shell_type_majority_wins() {
        assert_eq!(shell_of(&["a%", "b$", "c$"]), some("bash", 0.75));
        assert_eq!(shell_of(&["a%", "b%", "c$"]), some("zsh", 0.75));
    }

    #[test]
    fn shell_type_tie_goes_to_first_seen() {
        // parity A4: no precedence order; earliest first occurrence wins.
        assert_eq!(shell_of(&["a%", "b$"]), some("zsh", 0.40));
        assert_eq!(shell_of(&["b$", "a%"]), some("bash", 0.40));
        assert_eq!(
            shell_of(&["x>", "a%", "b$", "a%", "b$", "x>"]),
            some("fish", 0.75)
        );
    }

    #[test]
    fn shell_type_confidence_edges() {
        assert_eq!(shell_of(&["a$", "b$"]), some("bash", 0.40));
        assert_eq!(shell_of(&["a$", "b$", "c$"]), some("bash", 0.75));
        assert_eq!(shell_of(&["a$", "b$", "c$", "d$"]), some("bash", 0.75));
    }

    // ---- terminal_multiplexer ---------------------------------------------

    fn mux_of(outputs: &[&str], with_cmd: bool) -> Option<(String, f64)> {
        let bufs: Vec<Vec<Char>> = outputs.iter().map(|s| chars_of(s)).collect();
        let ctx = SessionCtx {
            outputs: bufs
                .iter()
                .map(|b| Event::new(0.0, Channel::Output, b))
                .collect(),
            commands: if with_cmd { vec![cmd()] } else { vec![] },
            ..Default::default()
        };
        val(terminal_multiplexer(&ctx))
    }

    #[test]
    fn terminal_multiplexer_skips_without_commands() {
        assert_eq!(mux_of(&["\x1bPtmux;x"], false), None);
    }

    #[test]
    fn terminal_multiplexer_each_marker() {
        assert_eq!(mux_of(&["a\x1bPtmux;b"], true), some("tmux", 0.85));
        assert_eq!(mux_of(&["\x1b[?1004h"], true), some("tmux", 0.85));
        assert_eq!(mux_of(&["\x1b]2;tmux-main\x07"], true), some("tmux", 0.85));
        assert_eq!(mux_of(&["\x1bP=1s\x1b\\"], true), some("screen", 0.85));
        assert_eq!(mux_of(&["\x1b]83;cmd\x07"], true), some("screen", 0.85));
        assert_eq!(mux_of(&["plain tmux screen"], true), some("none", 0.55));
        assert_eq!(mux_of(&[], true), some("none", 0.55));
    }

    #[test]
    fn terminal_multiplexer_near_misses() {
        assert_eq!(mux_of(&["\x1b[?100h"], true), some("none", 0.55));
        assert_eq!(mux_of(&["\x1b]2;tmu"], true), some("none", 0.55));
        assert_eq!(mux_of(&["\x1bPtmux:"], true), some("none", 0.55));
        assert_eq!(mux_of(&["\x1b]8;"], true), some("none", 0.55));
    }

    #[test]
    fn terminal_multiplexer_tmux_beats_screen_in_any_event() {
        assert_eq!(
            mux_of(&["\x1b]83;x", "\x1b[?1004h"], true),
            some("tmux", 0.85)
        );
    }

    #[test]
    fn terminal_multiplexer_marker_split_across_events_is_missed() {
        // parity A20.
        assert_eq!(mux_of(&["\x1b[?10", "04h"], true), some("none", 0.55));
    }

    #[test]
    fn terminal_multiplexer_equals_a_search_of_each_event() {
        // Random outputs of marker pieces and near misses, cut into events
        // (empty ones too) at random: the answer is that of a plain search
        // of each event's own text, tmux before screen.
        const PIECES: [&str; 14] = [
            "\x1b[?1004h",
            "\x1bPtmux;",
            "\x1b]2;tmux",
            "\x1bP=",
            "\x1b]83;",
            "\x1b[0m",
            "\x1b[?2004h",
            "ab\n",
            "\x1b",
            "[?",
            "P",
            "]",
            "é",
            "$ ",
        ];
        let mut next = crate::extract::xorshift(0x6A09_E667_F3BC_C908);
        let (mut found, mut missed) = (0, 0);
        for round in 0..3000 {
            let text: String = (0..next() % 12)
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect();
            let chars: Vec<char> = text.chars().collect();
            let mut cuts: Vec<usize> = (0..next() % 5)
                .map(|_| (next() % (chars.len() as u64 + 1)) as usize)
                .chain([0, chars.len()])
                .collect();
            cuts.sort_unstable();
            let events: Vec<String> = cuts
                .windows(2)
                .map(|w| chars[w[0]..w[1]].iter().collect())
                .collect();
            let any =
                |markers: &[&str]| events.iter().any(|e| markers.iter().any(|m| e.contains(m)));
            let want = if any(&["\x1bPtmux;", "\x1b[?1004", "\x1b]2;tmux"]) {
                some("tmux", 0.85)
            } else if any(&["\x1bP=", "\x1b]83;"]) {
                some("screen", 0.85)
            } else {
                some("none", 0.55)
            };
            let refs: Vec<&str> = events.iter().map(String::as_str).collect();
            assert_eq!(mux_of(&refs, true), want, "round {round}: {events:?}");
            if want == some("none", 0.55) {
                missed += 1;
            } else {
                found += 1;
            }
        }
        assert!(
            found > 1000 && missed > 500,
            "found {found} missed {missed}"
        );
    }

    // ---- locale -----------------------------------------------------------

    fn locale_of(outputs: &[&str], with_cmd: bool) -> Option<(String, f64)> {
        let bufs: Vec<Vec<Char>> = outputs.iter().map(|s| chars_of(s)).collect();
        let ctx = SessionCtx {
            outputs: bufs
                .iter()
                .map(|b| Event::new(0.0, Channel::Output, b))
                .collect(),
            commands: if with_cmd { vec![cmd()] } else { vec![] },
            ..Default::default()
        };
        val(locale(&ctx))
    }

    #[test]
    fn locale_skips_without_commands_or_output() {
        assert_eq!(locale_of(&["LANG=en_US.UTF-8\n"], false), None);
        assert_eq!(locale_of(&[], true), None);
        assert_eq!(locale_of(&["", ""], true), None);
        assert_eq!(locale_of(&["no locale here"], true), None);
    }

    #[test]
    fn locale_reads_the_whole_output_across_events() {
        assert_eq!(
            locale_of(&["LANG=en_US.UTF-8\n"], true),
            some("en-US", 0.80)
        );
        // A match split across events is found: the events are joined first.
        assert_eq!(
            locale_of(&["LA", "NG=de_DE@euro\n"], true),
            some("de-DE", 0.80)
        );
        assert_eq!(locale_of(&["LANG=POSIX"], true), some("pos", 0.80));
    }

    #[test]
    fn locale_strips_ansi_before_matching() {
        // An SGR sequence between key and value disappears before the match.
        assert_eq!(
            locale_of(&["LANG\x1b[0m=fr_FR\n"], true),
            some("fr-FR", 0.80)
        );
    }

    #[test]
    fn locale_priority_across_keys() {
        assert_eq!(
            locale_of(&["LC_CTYPE=de_DE LANG=fr_FR LC_ALL=C"], true),
            some("und", 0.80)
        );
        assert_eq!(
            locale_of(&["LANG=fr_FR LC_CTYPE=de_DE"], true),
            some("fr-FR", 0.80)
        );
    }

    // ---- keyboard_layout --------------------------------------------------

    fn layout_ctx(letters: u32, uni: &[(u8, u32)], bi: &[(&str, u32)]) -> SessionCtx<'static> {
        let mut unigram = [0u32; 26];
        for &(c, n) in uni {
            unigram[usize::from(c - b'a')] = n;
        }
        let bigrams = bi
            .iter()
            .map(|(k, n)| {
                let b = k.as_bytes();
                ([b[0], b[1]], *n)
            })
            .collect();
        SessionCtx {
            typed_letter_count: letters,
            unigram,
            bigrams,
            ..Default::default()
        }
    }

    fn layout(letters: u32, uni: &[(u8, u32)], bi: &[(&str, u32)]) -> Option<(String, f64)> {
        val(keyboard_layout(&layout_ctx(letters, uni, bi)))
    }

    #[test]
    fn keyboard_layout_skip_edge() {
        assert_eq!(layout(199, &[], &[]), None);
        assert_eq!(layout(200, &[], &[]), some("other", 0.40));
    }

    #[test]
    fn keyboard_layout_confidence_edge() {
        assert_eq!(layout(499, &[], &[]), some("other", 0.40));
        assert_eq!(layout(500, &[], &[]), some("other", 0.55));
    }

    #[test]
    fn keyboard_layout_azerty_q_edges() {
        // 1000 letters: q = 20 is exactly 0.020 (not > 0.020); 21 is above.
        assert_eq!(
            layout(1000, &[(b'q', 19)], &[("xx", 100)]),
            some("other", 0.55)
        );
        assert_eq!(
            layout(1000, &[(b'q', 20)], &[("xx", 100)]),
            some("other", 0.55)
        );
        assert_eq!(
            layout(1000, &[(b'q', 21)], &[("xx", 100)]),
            some("azerty", 0.55)
        );
    }

    #[test]
    fn keyboard_layout_azerty_eng_edges() {
        // eng = 4/100 < 0.05 azerty; 5/100 == 0.05 not azerty; 6/100 not.
        let q = [(b'q', 30)];
        assert_eq!(
            layout(1000, &q, &[("th", 4), ("xx", 96)]),
            some("azerty", 0.55)
        );
        assert_eq!(
            layout(1000, &q, &[("th", 5), ("xx", 95)]),
            some("other", 0.55)
        );
        assert_eq!(
            layout(1000, &q, &[("th", 6), ("xx", 94)]),
            some("other", 0.55)
        );
    }

    #[test]
    fn keyboard_layout_qwertz_edges() {
        // z: 30/1000 == 0.030 is not > 0.030; 31 is.
        assert_eq!(
            layout(1000, &[(b'z', 30)], &[("xx", 1)]),
            some("other", 0.55)
        );
        assert_eq!(
            layout(1000, &[(b'z', 31)], &[("xx", 1)]),
            some("qwertz", 0.55)
        );
        // y: 9/1000 < 0.010 qwertz; 10/1000 == 0.010 not; 11 not.
        assert_eq!(
            layout(1000, &[(b'z', 40), (b'y', 9)], &[]),
            some("qwertz", 0.55)
        );
        assert_eq!(
            layout(1000, &[(b'z', 40), (b'y', 10)], &[]),
            some("other", 0.55)
        );
        assert_eq!(
            layout(1000, &[(b'z', 40), (b'y', 11)], &[]),
            some("other", 0.55)
        );
    }

    #[test]
    fn keyboard_layout_qwerty_eng_edges() {
        // Every listed English bigram counts.
        let eng: Vec<(&str, u32)> = LAYOUT_TOP_ENG_BIGRAMS.iter().map(|b| (*b, 1)).collect();
        let mut bi = eng.clone();
        bi.push(("xx", 115)); // 10 / 125 = 0.08 exactly
        assert_eq!(layout(1000, &[], &bi), some("qwerty", 0.55));
        let mut bi = eng.clone();
        bi.push(("xx", 116)); // 10 / 126 < 0.08
        assert_eq!(layout(1000, &[], &bi), some("other", 0.55));
        let mut bi = eng;
        bi.push(("xx", 114)); // 10 / 124 > 0.08
        assert_eq!(layout(1000, &[], &bi), some("qwerty", 0.55));
        // Not in the list: "ht" is th reversed.
        assert_eq!(layout(1000, &[], &[("ht", 50)]), some("other", 0.55));
    }

    #[test]
    fn keyboard_layout_rule_order() {
        // Both azerty and qwertz conditions hold: azerty is checked first.
        let uni = [(b'q', 30), (b'z', 40)];
        assert_eq!(layout(1000, &uni, &[("xx", 10)]), some("azerty", 0.55));
        // Qwertz and qwerty conditions hold: qwertz first.
        assert_eq!(
            layout(1000, &[(b'z', 40)], &[("th", 10)]),
            some("qwertz", 0.55)
        );
    }

    // ---- numpad_usage -----------------------------------------------------

    /// Build inputs from `(t, text)` pairs, plus filler typing to reach `typed`.
    fn numpad(events: &[(f64, &str)], with_cmd: bool) -> Option<(String, f64)> {
        let bufs: Vec<(f64, Vec<Char>)> = events.iter().map(|(t, s)| (*t, chars_of(s))).collect();
        let ctx = SessionCtx {
            inputs: bufs
                .iter()
                .map(|(t, b)| Event::new(*t, Channel::Input, b))
                .collect(),
            commands: if with_cmd { vec![cmd()] } else { vec![] },
            ..Default::default()
        };
        val(numpad_usage(&ctx))
    }

    /// `n` slow single-letter events starting at `t0`.
    fn filler(n: usize, t0: f64) -> Vec<(f64, &'static str)> {
        (0..n).map(|i| (t0 + i as f64, "a")).collect()
    }

    fn digits(ts: &[f64]) -> Vec<(f64, &'static str)> {
        ts.iter().map(|&t| (t, "7")).collect()
    }

    #[test]
    fn numpad_skips_without_commands() {
        let mut ev = filler(50, 100.0);
        ev.extend(digits(&[0.0, 0.01, 0.02, 0.03]));
        assert_eq!(numpad(&ev, false), None);
    }

    #[test]
    fn numpad_typed_chars_edge() {
        // 49 typed chars: skip; 50: emit. Multi-char (2-3) events count fully.
        let mut ev = filler(47, 100.0);
        ev.push((200.0, "ab"));
        assert_eq!(numpad(&ev, true), None);
        ev.push((201.0, "c"));
        assert_eq!(numpad(&ev, true), some("not_detected", 0.50));
        let mut ev = filler(47, 100.0);
        ev.push((200.0, "abc"));
        assert_eq!(numpad(&ev, true), some("not_detected", 0.50));
    }

    #[test]
    fn numpad_paste_class_events_do_not_count_as_typed() {
        let mut ev = filler(40, 100.0);
        ev.push((200.0, "abcdefghijklmnop"));
        assert_eq!(numpad(&ev, true), None);
    }

    #[test]
    fn numpad_run_of_four_fast_digits() {
        let mut ev = filler(46, 100.0);
        ev.extend(digits(&[0.0, 0.05, 0.10, 0.15]));
        assert_eq!(numpad(&ev, true), some("detected", 0.50));
    }

    #[test]
    fn numpad_difference_edges() {
        // Just below: gaps of 0.046875 (exact in binary).
        let mut ev = filler(46, 100.0);
        ev.extend(digits(&[0.0, 0.046875, 0.09375, 0.140625]));
        assert_eq!(numpad(&ev, true), some("detected", 0.50));
        // At: 0.05 - 0.0 and 0.1 - 0.05 are exactly the f64 0.05 (`<=` holds).
        let mut ev = filler(46, 100.0);
        ev.extend(digits(&[0.0, 0.05, 0.1, 0.1]));
        assert_eq!(numpad(&ev, true), some("detected", 0.50));
        // Just above: one gap of 0.0625 breaks every window of four.
        let mut ev = filler(46, 100.0);
        ev.extend(digits(&[0.0, 0.046875, 0.109375, 0.15625]));
        assert_eq!(numpad(&ev, true), some("not_detected", 0.50));
    }

    #[test]
    fn numpad_run_found_later_in_the_list() {
        let mut ev = filler(44, 100.0);
        ev.extend(digits(&[0.0, 1.0, 1.01, 1.02, 1.03, 9.0]));
        assert_eq!(numpad(&ev, true), some("detected", 0.50));
    }

    #[test]
    fn numpad_three_fast_digits_are_not_a_run() {
        let mut ev = filler(47, 100.0);
        ev.extend(digits(&[0.0, 0.01, 0.02]));
        assert_eq!(numpad(&ev, true), some("not_detected", 0.50));
    }

    #[test]
    fn numpad_letters_between_digits_do_not_break_a_run() {
        // parity A5: the run is over the digit-only list.
        let mut ev = filler(44, 100.0);
        ev.extend([
            (0.0, "1"),
            (0.01, "x"),
            (0.02, "2"),
            (0.03, "3"),
            (0.035, "y"),
            (0.04, "4"),
        ]);
        assert_eq!(numpad(&ev, true), some("detected", 0.50));
    }

    #[test]
    fn numpad_differences_are_not_clamped() {
        // Decreasing times give negative differences, which are <= 0.05.
        let mut ev = filler(46, 100.0);
        ev.extend(digits(&[5.0, 4.0, 3.0, 2.0]));
        assert_eq!(numpad(&ev, true), some("detected", 0.50));
    }

    #[test]
    fn numpad_nan_time_breaks_the_run() {
        let mut ev = filler(46, 100.0);
        ev.extend(digits(&[0.0, f64::NAN, 0.01, 0.02]));
        assert_eq!(numpad(&ev, true), some("not_detected", 0.50));
    }

    #[test]
    fn numpad_digits_in_python_sense_only_single_char_events() {
        // Superscript two is a Python digit; "12" as one event is not a digit event.
        let mut ev = filler(46, 100.0);
        ev.extend([
            (0.0, "\u{b2}"),
            (0.01, "\u{b2}"),
            (0.02, "\u{b2}"),
            (0.03, "\u{b2}"),
        ]);
        assert_eq!(numpad(&ev, true), some("detected", 0.50));
        let mut ev = filler(42, 100.0);
        ev.extend([(0.0, "12"), (0.01, "34"), (0.02, "56"), (0.03, "78")]);
        assert_eq!(numpad(&ev, true), some("not_detected", 0.50));
        // Roman numerals are Numeric_Type=Numeric, not isdigit.
        let mut ev = filler(46, 100.0);
        ev.extend([
            (0.0, "\u{2160}"),
            (0.01, "\u{2161}"),
            (0.02, "\u{2162}"),
            (0.03, "\u{2163}"),
        ]);
        assert_eq!(numpad(&ev, true), some("not_detected", 0.50));
    }
}
