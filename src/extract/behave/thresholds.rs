//! Every extractor constant of spec/behave-shell.md §2.12, under its Python
//! name, plus the §4.3 token sets and the §2.10 lexicons.
//!
//! Pure data. Ratios and seconds are `f64`, counts are `usize`. The values are
//! written exactly as the spec's table writes them, so each `f64` literal parses
//! to the same double CPython gets from the same decimal text.

/// chars per input event; used by paste-class test (2.3, 2.10, 4.4.1, 4.4.2, 4.4.30) (spec §2.12).
pub const PASTE_MIN_CHARS_PER_EVENT: usize = 4;

/// s; used by paste bursts (unused downstream) (spec §2.12).
pub const PASTE_BURST_MAX_IAT_S: f64 = 0.20;

/// ratio; used by input_modality (spec §2.12).
pub const MODALITY_PASTED_MIN: f64 = 0.40;

/// ratio; used by input_modality (spec §2.12).
pub const MODALITY_TYPED_MAX: f64 = 0.05;

/// ratio; used by paste_burst_rate (spec §2.12).
pub const PASTE_RATE_HABITUAL_MIN: f64 = 0.50;

/// ratio; used by paste_burst_rate (spec §2.12).
pub const PASTE_RATE_OCCASIONAL_MIN: f64 = 0.10;

/// s; used by latency class, planning_depth (spec §2.12).
pub const INTER_CMD_INSTANT_MAX: f64 = 0.30;

/// s; used by latency class (spec §2.12).
pub const INTER_CMD_TYPING_MAX: f64 = 1.50;

/// s; used by latency class (spec §2.12).
pub const INTER_CMD_DELIBERATE_MAX: f64 = 2.00;

/// s; used by latency class (spec §2.12).
pub const INTER_CMD_LLM_LIGHTWEIGHT_MAX: f64 = 8.00;

/// s; used by latency class (spec §2.12).
pub const INTER_CMD_LLM_HEAVYWEIGHT_MAX: f64 = 30.00;

/// commands (or errored cmds, see rules); used by many (spec §2.12).
pub const MIN_COMMANDS_FOR_FULL_CONFIDENCE: usize = 5;

/// ratio; used by command_branch_diversity (spec §2.12).
pub const BRANCH_DIVERSITY_LINEAR_MIN: f64 = 0.70;

/// Pearson r; used by feedback_loop_engagement (spec §2.12).
pub const FEEDBACK_CORRELATION_MIN: f64 = 0.30;

/// pairs; used by feedback_loop_engagement (spec §2.12).
pub const FEEDBACK_MIN_PAIRS: usize = 5;

/// CV; used by inter_command_consistency (spec §2.12).
pub const PAUSE_CV_METRONOMIC_MAX: f64 = 0.40;

/// CV; used by inter_command_consistency (spec §2.12).
pub const PAUSE_CV_BIMODAL_MIN: f64 = 1.50;

/// CV; used by cognitive_load (spec §2.12).
pub const COGNITIVE_LOAD_CHUNKING_REF_CV: f64 = 1.00;

/// CV; used by cognitive_load (spec §2.12).
pub const COGNITIVE_LOAD_PACE_REF_CV: f64 = 1.50;

/// load; used by cognitive_load (spec §2.12).
pub const COGNITIVE_LOAD_LOW_MAX: f64 = 0.33;

/// load; used by cognitive_load (spec §2.12).
pub const COGNITIVE_LOAD_MEDIUM_MAX: f64 = 0.67;

/// ratio; used by exploration_style (spec §2.12).
pub const EXPLORATION_TARGETED_REP_MIN: f64 = 0.50;

/// ratio; used by exploration_style (spec §2.12).
pub const EXPLORATION_CHAOTIC_BACKTRACK_MIN: f64 = 0.30;

/// fraction; used by planning_depth (spec §2.12).
pub const PLANNING_DEEP_MIN: f64 = 0.40;

/// fraction; used by planning_depth (spec §2.12).
pub const PLANNING_REACTIVE_MIN: f64 = 0.50;

/// distinct tokens; used by tool_vocabulary (spec §2.12).
pub const TOOL_VOCAB_NARROW_MAX: usize = 3;

/// distinct tokens; used by tool_vocabulary (spec §2.12).
pub const TOOL_VOCAB_BROAD_MIN: usize = 10;

/// relative delta; used by frustration_typing (spec §2.12).
pub const FRUSTRATION_LOW_MAX: f64 = 0.10;

/// relative delta; used by frustration_typing (spec §2.12).
pub const FRUSTRATION_MODERATE_MAX: f64 = 0.30;

/// s; used by session_duration (spec §2.12).
pub const SESSION_DURATION_SHORT_MAX: f64 = 60.0;

/// s; used by session_duration (spec §2.12).
pub const SESSION_DURATION_MEDIUM_MAX: f64 = 600.0;

/// s; used by session_duration (spec §2.12).
pub const SESSION_DURATION_LONG_MAX: f64 = 3600.0;

/// s; used by escalation_pattern (spec §2.12).
pub const ESCALATION_WINDOW_MIN_S: f64 = 10.0;

/// windows; used by escalation_pattern (spec §2.12).
pub const ESCALATION_WINDOW_TARGET: usize = 10;

/// fraction; used by escalation_pattern (spec §2.12).
pub const ESCALATION_BURSTY_ZERO_FRAC: f64 = 0.30;

/// CV; used by escalation_pattern (spec §2.12).
pub const ESCALATION_BURSTY_CV: f64 = 1.00;

/// CV; used by escalation_pattern (spec §2.12).
pub const ESCALATION_SUSTAINED_CV: f64 = 0.50;

/// windows; used by escalation_pattern (confidence) (spec §2.12).
pub const ESCALATION_MIN_WINDOWS: usize = 5;

/// commands; used by escalation_pattern (confidence) (spec §2.12).
pub const ESCALATION_MIN_COMMANDS: usize = 5;

/// commands; used by landing_ritual (spec §2.12).
pub const LANDING_RITUAL_FIRST_N: usize = 5;

/// hits; used by landing_ritual (spec §2.12).
pub const LANDING_RITUAL_HIT_MIN: usize = 2;

/// commands; used by landing_ritual (confidence) (spec §2.12).
pub const LANDING_RITUAL_MIN_COMMANDS: usize = 3;

/// chars; used by prompt lines (spec §2.12).
pub const PROMPT_LINE_MAX_CHARS: usize = 256;

/// prompt lines; used by shell_type (confidence) (spec §2.12).
pub const SHELL_TYPE_MIN_PROMPTS: usize = 3;

/// chars; used by locale (can never trigger, see 4.4.28) (spec §2.12).
pub const LOCALE_MIN_VALUE_LENGTH: usize = 2;

/// ASCII letters; used by keyboard_layout (spec §2.12).
pub const LAYOUT_MIN_TYPED_LETTERS: usize = 200;

/// bigrams; used by histogram cap (2.10) (spec §2.12).
pub const LAYOUT_BIGRAM_TOP_N: usize = 64;

/// fraction of letters; used by keyboard_layout (spec §2.12).
pub const LAYOUT_AZERTY_Q_MIN: f64 = 0.020;

/// fraction of bigrams; used by keyboard_layout (spec §2.12).
pub const LAYOUT_AZERTY_ENG_MAX: f64 = 0.050;

/// fraction of letters; used by keyboard_layout (spec §2.12).
pub const LAYOUT_QWERTZ_Z_MIN: f64 = 0.030;

/// fraction of letters; used by keyboard_layout (spec §2.12).
pub const LAYOUT_QWERTZ_Y_MAX: f64 = 0.010;

/// fraction of bigrams; used by keyboard_layout (spec §2.12).
pub const LAYOUT_QWERTY_ENG_MIN: f64 = 0.080;

/// s; used by numpad_usage (spec §2.12).
pub const NUMPAD_FAST_IAT_S: f64 = 0.050;

/// digit events; used by numpad_usage (spec §2.12).
pub const NUMPAD_RUN_MIN: usize = 4;

/// chars; used by numpad_usage (spec §2.12).
pub const NUMPAD_MIN_TYPED_CHARS: usize = 50;

/// commands; used by exit_behavior, opsec_discipline (spec §2.12).
pub const EXIT_BEHAVIOR_LOOKBACK_K: usize = 3;

/// s; used by typing bursts, digraphs, planning_depth (spec §2.12).
pub const IKI_THINK_MAX_S: f64 = 1.50;

/// s; used by keystroke_cadence (spec §2.12).
pub const IKI_MACHINE_MAX_S: f64 = 0.005;

/// CV; used by keystroke_cadence (spec §2.12).
pub const CV_MACHINE_MAX: f64 = 0.05;

/// CV; used by keystroke_cadence, motor_stability (spec §2.12).
pub const CV_STEADY_MAX: f64 = 0.50;

/// CV; used by keystroke_cadence (spec §2.12).
pub const CV_BURSTY_MAX: f64 = 1.50;

/// input events; used by keystroke_cadence (spec §2.12).
pub const MIN_INPUTS_FOR_CADENCE: usize = 5;

/// distinct digraphs; used by digraph_simhash (spec §2.12).
pub const MIN_DIGRAPHS_FOR_SIMHASH: usize = 8;

/// flight samples; used by digraph_simhash (spec §2.12).
pub const MIN_DIGRAPH_SAMPLES: usize = 20;

/// s; used by motor_stability (spec §2.12).
pub const TREMOR_FAST_FLOOR_S: f64 = 0.030;

/// fraction; used by motor_stability (spec §2.12).
pub const TREMOR_RATE_MIN: f64 = 0.10;

/// s; used by error_correction (spec §2.12).
pub const BACKSPACE_IMMEDIATE_MAX_S: f64 = 0.50;

/// CV; used by command_chunking (spec §2.12).
pub const CMD_CHUNKING_FLUENT_CV_MAX: f64 = 0.50;

/// ratio; used by tab_completion (spec §2.12).
pub const TAB_COMPLETION_OCCASIONAL_MAX: f64 = 0.30;

/// ratio; used by tab_completion (spec §2.12).
pub const TAB_COMPLETION_HABITUAL_MIN: f64 = 0.50;

/// shortcuts per command; used by shortcut_usage (spec §2.12).
pub const SHORTCUT_USAGE_MODERATE_MIN: f64 = 0.05;

/// shortcuts per command; used by shortcut_usage (spec §2.12).
pub const SHORTCUT_USAGE_HEAVY_MIN: f64 = 0.30;

/// pipes; used by pipe_chaining_depth (spec §2.12).
pub const PIPE_CHAINING_MODERATE_MEDIAN: usize = 2;

/// pipes; used by pipe_chaining_depth (spec §2.12).
pub const PIPE_CHAINING_DEEP_MEDIAN: usize = 3;

/// commands; used by shell_mastery.* (confidence) (spec §2.12).
pub const SHELL_MASTERY_MIN_COMMANDS: usize = 5;

/// relative; used by `near()` (spec §2.12).
pub const SHELL_MASTERY_BOUNDARY_BAND: f64 = 0.10;

/// classified commands; used by objective (spec §2.12).
pub const INTENT_MIN_COMMANDS: usize = 3;

/// classified commands; used by objective (confidence) (spec §2.12).
pub const INTENT_FULL_CONFIDENCE_MIN: usize = 6;

/// commands; used by cleanup_behavior (spec §2.12).
pub const CLEANUP_TAIL_K: usize = 5;

/// distinct tokens; used by cleanup_behavior (spec §2.12).
pub const CLEANUP_THOROUGH_MIN_DISTINCT: usize = 3;

/// commands; used by multi_actor_indicators (spec §2.12).
pub const MULTI_ACTOR_MIN_COMMANDS: usize = 8;

/// commands per half; used by multi_actor_indicators (spec §2.12).
pub const MULTI_ACTOR_HALF_MIN_COMMANDS: usize = 4;

/// relative delta; used by multi_actor_indicators (spec §2.12).
pub const MULTI_ACTOR_HANDOFF_DELTA: f64 = 0.50;

/// confidence; used by emotional_valence.* (spec §2.12).
pub const EMOTIONAL_VALENCE_CONFIDENCE_CAP: f64 = 0.50;

/// ASCII letters; used by valence (spec §2.12).
pub const VALENCE_MIN_TYPED_CHARS: usize = 80;

/// ASCII letters; used by valence (confidence) (spec §2.12).
pub const VALENCE_FULL_CONFIDENCE_MIN: usize = 200;

/// lexeme hits; used by valence (spec §2.12).
pub const VALENCE_MIN_HITS: usize = 2;

/// s; used by arousal (spec §2.12).
pub const AROUSAL_FAST_IAT_S: f64 = 0.06;

/// s; used by arousal (spec §2.12).
pub const AROUSAL_CALM_IAT_S: f64 = 0.30;

/// IATs; used by arousal (spec §2.12).
pub const AROUSAL_MIN_IATS: usize = 30;

/// chars; used by arousal (spec §2.12).
pub const AROUSAL_CAPS_RUN_MIN: usize = 5;

/// chars; used by arousal (spec §2.12).
pub const AROUSAL_BANG_RUN_MIN: usize = 3;

/// ratio; used by stress_response (spec §2.12).
pub const STRESS_EUSTRESS_RATIO_MIN: f64 = 1.20;

/// ratio (the test is `<= 1/1.20`); used by stress_response (spec §2.12).
pub const STRESS_DISTRESS_RATIO_MIN: f64 = 1.20;

/// errored commands; used by stress_response (confidence) (spec §2.12).
pub const STRESS_MIN_ERRORED_WITH_IATS: usize = 2;

/// ASCII letters; used by frustration_venting (spec §2.12).
pub const FRUST_VENT_MIN_TYPED_CHARS: usize = 30;

/// ASCII letters; used by frustration_venting (confidence) (spec §2.12).
pub const FRUST_VENT_FULL_CONFIDENCE_MIN: usize = 200;

/// s, upper bucket edges (exclusive) for digraph flight times; used by
/// digraph_simhash (spec §2.12, §4.4.4).
pub const DIGRAPH_FLIGHT_BUCKETS_S: [f64; 6] = [0.03, 0.06, 0.12, 0.25, 0.5, 1.0];

/// The ten most frequent English bigrams (lowercase); used by keyboard_layout
/// (spec §2.12).
pub const LAYOUT_TOP_ENG_BIGRAMS: [&str; 10] =
    ["th", "he", "in", "er", "an", "re", "on", "at", "nd", "ha"];

/// chars: ^A ^E ^W ^U ^R ^B ^F, counted as shortcuts by command segmentation
/// (spec §2.7, §2.12).
pub const SHORTCUT_CTRL_BYTES: [u32; 7] = [0x01, 0x05, 0x17, 0x15, 0x12, 0x02, 0x06];

/// chars `$ # % >`. Defined upstream but unused (spec §2.6, A19); prompt
/// detection hard-codes the same chars (§2.8.3).
pub const PROMPT_SUFFIX_CHARS: [u32; 4] = ['$' as u32, '#' as u32, '%' as u32, '>' as u32];

// ---- spec §4.3: shared token sets (exact first-token equality) ----

/// Reconnaissance first tokens (spec §4.3).
pub const RECON: &[&str] = &[
    "ls", "pwd", "whoami", "id", "uname", "ps", "netstat", "ss", "cat", "find", "which", "env",
    "printenv", "hostname", "w", "who", "date", "uptime", "df", "du", "free", "lsof", "lsblk",
];

/// Exfiltration / transfer first tokens (spec §4.3).
pub const EXFIL: &[&str] = &[
    "curl", "wget", "scp", "rsync", "nc", "ncat", "socat", "tar", "base64", "xxd", "python",
    "python3", "openssl",
];

/// Persistence first tokens (spec §4.3).
pub const PERSISTENCE: &[&str] = &[
    "crontab",
    "systemctl",
    "useradd",
    "usermod",
    "passwd",
    "chsh",
    "at",
    "service",
    "chkconfig",
    "update-rc.d",
    "authorized_keys",
];

/// Lateral-movement first tokens (spec §4.3).
pub const LATERAL: &[&str] = &[
    "ssh",
    "telnet",
    "rsh",
    "rlogin",
    "ftp",
    "sftp",
    "mosh",
    "kubectl",
    "docker",
    "psql",
    "mysql",
    "redis-cli",
];

/// Destructive first tokens (spec §4.3).
pub const DESTRUCTIVE: &[&str] = &[
    "rm", "dd", "mkfs", "shred", "wipe", "kill", "pkill", "killall", "truncate", "fdisk",
];

/// History / environment OPSEC first tokens (spec §4.3).
pub const OPSEC_HISTORY: &[&str] = &["history", "unset", "export", "set", "script"];

/// Cleanup first tokens (spec §4.3).
pub const CLEANUP: &[&str] = &["history", "unset", "rm", "shred", "clear", "kill"];

/// Graceful-exit first tokens (spec §4.3).
pub const GRACEFUL_EXIT: &[&str] = &["exit", "logout", "quit", "logoff"];

/// Landing-ritual first tokens (spec §4.3).
pub const LANDING_RITUAL: &[&str] = &["uname", "id", "whoami", "pwd", "hostname", "w", "who"];

/// Help-family first tokens (spec §4.3).
pub const HELP_FAMILY: &[&str] = &["man", "help", "info"];

// ---- spec §2.10: lexicons (already lowercase) ----

/// chars: longest lexeme; the typed-word buffer keeps this many letters (spec §2.10).
pub const LEXEME_MAX_LEN: usize = 7;

/// Obscenity lexemes, checked first at each suffix length (spec §2.10).
pub const OBSCENITY: &[&str] = &[
    "fuck", "fucking", "fucked", "shit", "bitch", "ass", "cunt", "dick", "asshole",
];

/// Positive lexemes, checked second (spec §2.10).
pub const POSITIVE: &[&str] = &[
    "thanks", "nice", "cool", "great", "okay", "perfect", "love", "awesome",
];

/// Negative lexemes, checked third (spec §2.10).
pub const NEGATIVE: &[&str] = &[
    "wtf", "damn", "crap", "ugh", "broken", "stupid", "hate", "stuck", "wrong",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexemes_fit_the_word_buffer() {
        // The flush tries suffixes up to LEXEME_MAX_LEN; a longer lexeme could never match.
        for w in OBSCENITY.iter().chain(POSITIVE).chain(NEGATIVE) {
            assert!(w.len() <= LEXEME_MAX_LEN, "{w}");
            assert!(w.bytes().all(|b| b.is_ascii_lowercase()), "{w}");
        }
        assert_eq!(
            OBSCENITY.iter().map(|w| w.len()).max(),
            Some(LEXEME_MAX_LEN)
        );
    }

    #[test]
    fn buckets_ascend() {
        assert!(DIGRAPH_FLIGHT_BUCKETS_S.windows(2).all(|w| w[0] < w[1]));
    }
}
