//! The session context of spec/behave-shell.md §2: every series the
//! primitives read, built once per session in one pass over the events.
//!
//! Pure: no I/O. The context holds first-token hashes, prompt lines and
//! lexical counters internally; none of it is ever serialised (spec §3.4).

use crate::model::event::{Char, Event};

/// Token-set membership of a command's first token (spec §4.3), as bit flags.
/// Computed from the token text at segmentation time, so the primitives never
/// need the text itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokenSets(pub u16);

impl TokenSets {
    /// RECON set.
    pub const RECON: u16 = 1 << 0;
    /// EXFIL set.
    pub const EXFIL: u16 = 1 << 1;
    /// PERSISTENCE set.
    pub const PERSISTENCE: u16 = 1 << 2;
    /// LATERAL set.
    pub const LATERAL: u16 = 1 << 3;
    /// DESTRUCTIVE set.
    pub const DESTRUCTIVE: u16 = 1 << 4;
    /// OPSEC_HISTORY set.
    pub const OPSEC_HISTORY: u16 = 1 << 5;
    /// CLEANUP set.
    pub const CLEANUP: u16 = 1 << 6;
    /// GRACEFUL_EXIT set.
    pub const GRACEFUL_EXIT: u16 = 1 << 7;
    /// LANDING_RITUAL set.
    pub const LANDING_RITUAL: u16 = 1 << 8;
    /// HELP_FAMILY set.
    pub const HELP_FAMILY: u16 = 1 << 9;

    /// True when the token is in the set `flag`.
    #[inline]
    pub fn has(self, flag: u16) -> bool {
        self.0 & flag != 0
    }
}

/// One command found by segmentation (spec §2.7) with its output window
/// facts (§2.8).
#[derive(Clone, Debug, PartialEq)]
pub struct Command {
    /// `t` of the event holding the command's first buffered char.
    pub start_ts: f64,
    /// `t` of the event holding the terminating `\r` or `\n`.
    pub end_ts: f64,
    /// SHA-256 of the first token's UTF-8 bytes.
    pub first_token_hash: [u8; 32],
    /// Which token sets of §4.3 the first token belongs to.
    pub token_sets: TokenSets,
    /// `\t` chars in the command buffer.
    pub tab_count: u32,
    /// SHORTCUT_CTRL_BYTES chars in the buffer.
    pub shortcut_count: u32,
    /// `|` chars in the buffer.
    pub pipe_count: u32,
    /// An error fingerprint (§2.8.2) appears in the stripped output window.
    pub errored: bool,
    /// Sum of output `|d|` (chars) in the window, before ANSI stripping.
    pub output_chars: u64,
    /// At least one prompt line (§2.8.3) was found in the window.
    pub followed_by_prompt: bool,
}

/// A prompt line found in a command's output window (spec §2.8.3).
#[derive(Clone, Debug, PartialEq)]
pub struct PromptLine {
    /// The last char of the right-stripped line: one of `$ # % >`.
    pub suffix_char: Char,
    /// The stripped line, cut to its last PROMPT_LINE_MAX_CHARS chars.
    pub raw_line: Vec<Char>,
}

/// Everything the 38 primitives read (spec §2). Field names follow the spec.
#[derive(Clone, Debug, Default)]
pub struct SessionCtx<'a> {
    /// Input events, in list order (§2.1).
    pub inputs: Vec<Event<'a>>,
    /// Output events, in list order (§2.1).
    pub outputs: Vec<Event<'a>>,
    /// `t` of the first event of either kind (not the minimum).
    pub t_start: f64,
    /// `max(0.0, max t)` over all events.
    pub t_end: f64,
    /// `max(0.0, t_end - t_start)`.
    pub duration_s: f64,
    /// Input inter-arrival times, `|inputs| - 1` values (§2.2).
    pub iats: Vec<f64>,
    /// Input events with `|d| >= 4` (§2.3).
    pub paste_event_count: usize,
    /// Typing bursts: IAT segments of length >= 3 (§2.4).
    pub typing_bursts: Vec<Vec<f64>>,
    /// Backspace chars (DEL, BS) over all inputs (§2.5).
    pub backspace_count: usize,
    /// Delays from the last non-backspace char to each backspace (§2.5).
    pub backspace_iats: Vec<f64>,
    /// ^U and ^W chars (§2.5).
    pub kill_line_count: usize,
    /// Commands in order (§2.7, §2.8).
    pub commands: Vec<Command>,
    /// Gaps between consecutive commands, `K - 1` values (§2.9).
    pub inter_cmd_iats: Vec<f64>,
    /// Output chars per command window, `K - 1` values (§2.9).
    pub output_per_cmd: Vec<u64>,
    /// Per command: IATs of input events within `[start_ts, end_ts)` (§2.9).
    pub intra_command_iats: Vec<Vec<f64>>,
    /// Prompt lines of every window, in command order (§2.8).
    pub prompt_lines: Vec<PromptLine>,
    /// Typed (non-paste) ASCII letter counts, `a`..`z` (§2.10).
    pub unigram: [u32; 26],
    /// Typed bigram counts after the top-64 cap, in first-seen order (§2.10).
    /// Each key is two lowercase ASCII letters.
    pub bigrams: Vec<([u8; 2], u32)>,
    /// Typed ASCII letters (§2.10).
    pub typed_letter_count: u32,
    /// Lexeme hits (§2.10).
    pub obscenity_hits: u32,
    /// Lexeme hits (§2.10).
    pub positive_hits: u32,
    /// Lexeme hits (§2.10).
    pub negative_hits: u32,
    /// Longest run of typed ASCII capitals (§2.10).
    pub caps_run_max: u32,
    /// Longest run of typed `!` (§2.10).
    pub bang_run_max: u32,
}

/// Build the session context (spec §2.1–2.10, in that order).
///
/// # Errors
/// [`super::ExtractError::FirstTokenNotUtf8`] when a first token cannot be
/// encoded (spec §1.9, A7).
pub fn build<'a>(events: &[Event<'a>]) -> Result<SessionCtx<'a>, super::ExtractError> {
    let _ = events;
    todo!("ctx::build (issue 3)")
}
