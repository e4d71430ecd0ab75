//! The session context of spec/behave-shell.md §2: every series the
//! primitives read, built once per session in one pass over the events.
//!
//! Pure: no I/O. The context holds first-token hashes, prompt lines and
//! lexical counters internally; none of it is ever serialised (spec §3.4).

use super::numeric::{py_max, Spread, SpreadSums};
use super::pychar::is_py_space;
use super::spare::Spare;
use super::text::{
    find_prompt_lines_bytes, fingerprint_within, has_error_fingerprint_bytes, narrow_ascii,
    narrow_strip_pieces_into, position_by_lanes, scan_marks_into, stripped, NarrowStripped,
    StrippedText, TextMarks,
};
use super::thresholds::{
    CLEANUP, DESTRUCTIVE, EXFIL, GRACEFUL_EXIT, HELP_FAMILY, IKI_THINK_MAX_S, LANDING_RITUAL,
    LATERAL, LAYOUT_BIGRAM_TOP_N, LEXEME_MAX_LEN, NEGATIVE, OBSCENITY, OPSEC_HISTORY,
    PASTE_MIN_CHARS_PER_EVENT, PERSISTENCE, POSITIVE, RECON, SHORTCUT_CTRL_BYTES,
};
use super::ExtractError;
use crate::model::event::{Channel, Char, Event};
use std::cell::{OnceCell, RefCell};

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
#[derive(Clone, Debug, Default, PartialEq)]
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
    /// The stripped line, cut to its last PROMPT_LINE_MAX_CHARS chars
    /// (inline up to 32 chars: most prompts are shorter).
    pub raw_line: smallvec::SmallVec<[Char; 32]>,
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
    pub typing_bursts: Series,
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
    pub intra_command_iats: Series,
    /// Prompt lines of every window, in command order (§2.8).
    pub prompt_lines: Vec<PromptLine>,
    /// Typed (non-paste) ASCII letter counts, `a`..`z` (§2.10).
    pub unigram: [u32; 26],
    /// Typed bigram counts after the top-64 cap (§2.10). Each key is two
    /// lowercase ASCII letters. Order mirrors the reference's dict: first-seen
    /// order when there are at most 64 distinct bigrams; after a cap, count
    /// descending with ties in first-seen order (the stable sort's output).
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
    /// The output narrowed to bytes, built on first use
    /// ([`SessionCtx::output_text`]).
    pub output_text: OnceCell<OutputText>,
    /// The CVs of the typing bursts (§4.4.3 step 2) and the mean of all
    /// their IATs (step 3), computed on first use by the two motor
    /// primitives that read them.
    pub burst_stats: OnceCell<BurstStats>,
    /// The commands' first tokens numbered, on first use
    /// ([`SessionCtx::token_ids`]).
    pub token_ids: OnceCell<TokenIds>,
    /// The pass of each command's intra-command IATs, `None` for fewer than
    /// two, on first use ([`SessionCtx::intra_spreads`]).
    pub intra_sums: OnceCell<Vec<Option<SpreadSums>>>,
    /// The pass of the inter-command IATs, on first use
    /// ([`SessionCtx::inter_cmd_spread`]).
    pub inter_cmd_sums: OnceCell<SpreadSums>,
    /// Buffers for the primitives' own series, from the sessions before
    /// on this thread ([`SessionCtx::take_f64s`]).
    pub(crate) spare: RefCell<Spare>,
}

/// What the keystroke primitives read of the typing bursts, from one pass
/// over each burst ([`SessionCtx::burst_stats`]).
#[derive(Clone, Debug, Default)]
pub struct BurstStats {
    /// The CVs of the bursts with a positive mean, in order; empty when a
    /// burst's statistics raise in the reference.
    pub cvs: Vec<f64>,
    /// `fmean` of every burst IAT end to end (§4.4.3 step 3); nan when
    /// `cvs` is empty (nothing reads it then).
    pub iat_mean: f64,
}

/// The commands' first tokens, numbered in order of first appearance: equal
/// ids are equal first-token hashes, so the primitives that count or
/// compare tools index by id instead of hashing 32 bytes each time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenIds {
    /// One id per command, in command order.
    pub ids: Vec<u32>,
    /// How many distinct first tokens there are (every id is below this).
    pub distinct: usize,
}

impl TokenIds {
    /// Number the first tokens of `commands`.
    pub fn of(commands: &[Command]) -> Self {
        Self::of_into(commands, Vec::new())
    }

    /// [`TokenIds::of`] into `ids` (emptied first).
    fn of_into(commands: &[Command], mut ids: Vec<u32>) -> Self {
        let mut seen: rustc_hash::FxHashMap<&[u8; 32], u32> = rustc_hash::FxHashMap::default();
        seen.reserve(commands.len());
        ids.clear();
        ids.extend(commands.iter().map(|c| {
            let next = seen.len() as u32;
            *seen.entry(&c.first_token_hash).or_insert(next)
        }));
        TokenIds {
            ids,
            distinct: seen.len(),
        }
    }
}

/// A list of `f64` series held end to end in one buffer: the typing bursts
/// and the per-command IATs, without an allocation per series.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    /// Every series' values, in order.
    values: Vec<f64>,
    /// `ends[i]` is where series `i` ends in `values`.
    ends: Vec<usize>,
}

impl Series {
    /// How many series.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when there is no series.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// All the values, series after series.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// The series in order.
    pub fn iter(&self) -> SeriesIter<'_> {
        SeriesIter {
            series: self,
            next: 0,
            end: self.ends.len(),
        }
    }

    /// Appends one series.
    fn push(&mut self, values: impl IntoIterator<Item = f64>) {
        self.values.extend(values);
        self.ends.push(self.values.len());
    }

    /// Empty, in buffers kept from an earlier session.
    fn from_spare(spare: &mut Spare) -> Self {
        Series {
            values: spare.f64s.take(),
            ends: spare.usizes.take(),
        }
    }

    /// Gives the buffers back for the next session.
    fn recycle(self, spare: &mut Spare) {
        spare.f64s.put(self.values);
        spare.usizes.put(self.ends);
    }

    /// Where the values after the last series begin.
    fn tail_start(&self) -> usize {
        self.ends.last().copied().unwrap_or(0)
    }

    /// Ends the series begun in place by pushing to `values`: kept when it
    /// holds at least `min` values, else its values are dropped.
    fn close_tail(&mut self, min: usize) {
        if self.values.len() - self.tail_start() >= min {
            self.ends.push(self.values.len());
        } else {
            self.values.truncate(self.tail_start());
        }
    }
}

impl std::ops::Index<usize> for Series {
    type Output = [f64];
    fn index(&self, i: usize) -> &[f64] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.values[start..self.ends[i]]
    }
}

impl<'s> IntoIterator for &'s Series {
    type Item = &'s [f64];
    type IntoIter = SeriesIter<'s>;
    fn into_iter(self) -> SeriesIter<'s> {
        self.iter()
    }
}

/// The series of a [`Series`], in order.
#[derive(Clone, Debug)]
pub struct SeriesIter<'s> {
    series: &'s Series,
    /// The next series from the front, and one past the last from the back.
    next: usize,
    end: usize,
}

impl<'s> Iterator for SeriesIter<'s> {
    type Item = &'s [f64];
    fn next(&mut self) -> Option<&'s [f64]> {
        (self.next < self.end).then(|| {
            self.next += 1;
            &self.series[self.next - 1]
        })
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.end - self.next, Some(self.end - self.next))
    }
}

impl DoubleEndedIterator for SeriesIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        (self.next < self.end).then(|| {
            self.end -= 1;
            &self.series[self.end]
        })
    }
}

impl ExactSizeIterator for SeriesIter<'_> {}

impl<V: AsRef<[f64]>> FromIterator<V> for Series {
    fn from_iter<I: IntoIterator<Item = V>>(series: I) -> Self {
        let mut out = Series::default();
        for v in series {
            out.push(v.as_ref().iter().copied());
        }
        out
    }
}

/// All output events end to end, narrowed to bytes by
/// [`narrow_ascii`] and ANSI-stripped, in one
/// pass ([`narrow_strip_pieces_into`]), with each event's offset and where it
/// lands in the stripped text. The ASCII-only scans (error fingerprints,
/// prompt lines, locale) run over the stripped bytes with SIMD search
/// instead of over the chars.
#[derive(Clone, Debug, Default)]
pub struct OutputText {
    /// `starts[i]..starts[i + 1]` is output event `i`, in chars of the
    /// events end to end; one more than events.
    pub starts: Vec<usize>,
    /// The ESCs that start a DCS, an OSC or a private-mode CSI, as (event,
    /// offset in its data): what the multiplexer scan visits (see
    /// [`NarrowStripped::control_escapes`]).
    pub control_escapes: Vec<(usize, usize)>,
    /// The events end to end, narrowed, with every ANSI escape removed,
    /// and where each event boundary lands in it.
    pub stripped: StrippedText,
    /// The error fingerprints and locale keys in `stripped.text`.
    pub marks: TextMarks,
}

impl OutputText {
    fn new(outputs: &[Event<'_>], spare: &mut Spare) -> Self {
        let buffers = NarrowStripped {
            starts: spare.usizes.take(),
            control_escapes: spare.pairs.take(),
            stripped: StrippedText {
                text: spare.bytes.take(),
                at: spare.landings.take(),
            },
        };
        let NarrowStripped {
            starts,
            control_escapes,
            stripped,
        } = narrow_strip_pieces_into(outputs, buffers);
        let buffers = TextMarks {
            fingerprints: spare.pairs.take(),
            locale_keys: spare.usizes.take(),
        };
        let marks = scan_marks_into(&stripped.text, buffers);
        OutputText {
            starts,
            control_escapes,
            stripped,
            marks,
        }
    }

    /// Gives the buffers back for the next session.
    fn recycle(self, spare: &mut Spare) {
        spare.usizes.put(self.starts);
        spare.pairs.put(self.control_escapes);
        spare.bytes.put(self.stripped.text);
        spare.landings.put(self.stripped.at);
        spare.pairs.put(self.marks.fingerprints);
        spare.usizes.put(self.marks.locale_keys);
    }

    /// How many chars the output events hold in all.
    pub fn char_count(&self) -> usize {
        self.starts.last().copied().unwrap_or(0)
    }
}

impl SessionCtx<'_> {
    /// The commands' first-token ids; numbered once, on first use.
    pub fn token_ids(&self) -> &TokenIds {
        self.token_ids.get_or_init(|| {
            let ids = self.spare.borrow_mut().u32s.take();
            TokenIds::of_into(&self.commands, ids)
        })
    }

    /// The spread of each command's intra-command IATs, in command order,
    /// `None` for a command with fewer than two. Cognitive load reads their
    /// sample CVs and command chunking their population CVs (§4.4.15,
    /// §4.4.7), so each series' pass runs once, on first use.
    pub fn intra_spreads(&self) -> impl Iterator<Item = Option<Spread<'_>>> + '_ {
        let sums = self.intra_sums.get_or_init(|| {
            let mut sums = self.spare.borrow_mut().sums.take();
            sums.extend(
                self.intra_command_iats
                    .iter()
                    .map(|x| (x.len() >= 2).then(|| SpreadSums::of(x))),
            );
            sums
        });
        self.intra_command_iats
            .iter()
            .zip(sums)
            .map(|(x, s)| s.map(|s| Spread::with(x, s)))
    }

    /// The spread of the inter-command IATs, read by inter-command
    /// consistency and cognitive load (§4.4.14, §4.4.15); its pass runs
    /// once, on first use.
    pub fn inter_cmd_spread(&self) -> Spread<'_> {
        let sums = self
            .inter_cmd_sums
            .get_or_init(|| SpreadSums::of(&self.inter_cmd_iats));
        Spread::with(&self.inter_cmd_iats, *sums)
    }

    /// The output narrowed to bytes; built once, on first use.
    pub fn output_text(&self) -> &OutputText {
        self.output_text
            .get_or_init(|| OutputText::new(&self.outputs, &mut Spare::default()))
    }

    /// An empty buffer with room for `room` values, for a primitive's own
    /// series, kept from the sessions before on this thread (see
    /// [`Spare`]); give it back with [`SessionCtx::put_f64s`].
    pub(crate) fn take_f64s(&self, room: usize) -> Vec<f64> {
        let mut v = self.spare.borrow_mut().f64s.take();
        v.reserve(room);
        v
    }

    /// Keeps a buffer from [`SessionCtx::take_f64s`] for the next use.
    pub(crate) fn put_f64s(&self, v: Vec<f64>) {
        self.spare.borrow_mut().f64s.put(v);
    }

    /// Ends the context: its buffers are kept for the next session on this
    /// thread ([`Spare`]), which [`build`] takes them from.
    pub fn recycle(self) {
        let mut spare = self.spare.into_inner();
        spare.put_events(self.inputs);
        spare.put_events(self.outputs);
        spare.f64s.put(self.iats);
        self.typing_bursts.recycle(&mut spare);
        spare.f64s.put(self.backspace_iats);
        spare.commands.put(self.commands);
        spare.f64s.put(self.inter_cmd_iats);
        self.intra_command_iats.recycle(&mut spare);
        spare.prompt_lines.put(self.prompt_lines);
        if let Some(text) = self.output_text.into_inner() {
            text.recycle(&mut spare);
        }
        if let Some(ids) = self.token_ids.into_inner() {
            spare.u32s.put(ids.ids);
        }
        if let Some(sums) = self.intra_sums.into_inner() {
            spare.sums.put(sums);
        }
        spare.keep();
    }
}

/// Build the session context (spec §2.1–2.10, in that order).
///
/// The input-side steps (§2.2–2.7 and §2.10) share one walk over the input
/// events; the output windows (§2.8) and the per-command series (§2.9) follow
/// once the commands are known. Scratch buffers are reused across events and
/// windows, so the hot loops do not allocate per event, and the context's
/// buffers come from the sessions before on this thread ([`Spare`]; see
/// [`SessionCtx::recycle`]).
///
/// # Errors
/// [`super::ExtractError::FirstTokenNotUtf8`] when a first token cannot be
/// encoded (spec §1.9, A7).
pub fn build<'a>(events: &[Event<'a>]) -> Result<SessionCtx<'a>, super::ExtractError> {
    let mut spare = Spare::take();
    match build_from(events, &mut spare) {
        Ok(mut ctx) => {
            // What build did not use, for the primitives.
            *ctx.spare.get_mut() = spare;
            Ok(ctx)
        }
        Err(e) => {
            spare.keep();
            Err(e)
        }
    }
}

/// [`build`] with the buffers of `spare`.
fn build_from<'a>(
    events: &[Event<'a>],
    spare: &mut Spare,
) -> Result<SessionCtx<'a>, super::ExtractError> {
    // §2.1 partition and timeline. parity A3: t_start is the first event's t,
    // t_end the running max from 0.0 (Python `if t > t_end`), outputs included.
    // The partition fills local buffers, which stay in registers through
    // the loop, where the context's fields would be stored each event.
    let n_in = events.iter().filter(|e| e.ch == Channel::Input).count();
    let (mut inputs, mut outputs) = (spare.events(), spare.events());
    inputs.reserve_exact(n_in);
    outputs.reserve_exact(events.len() - n_in);
    // Input events that end a line: about one command each (a multi-line
    // paste makes more), so the commands are mostly placed once.
    let mut line_ends = 0;
    let mut t_end = 0.0;
    for e in events {
        t_end = py_max(t_end, e.t);
        match e.ch {
            Channel::Input => {
                line_ends += usize::from(matches!(e.data.last(), Some(0x0A | 0x0D)));
                inputs.push(*e);
            }
            Channel::Output => outputs.push(*e),
        }
    }
    let mut ctx = SessionCtx {
        t_start: events.first().map_or(0.0, |e| e.t),
        t_end,
        inputs,
        outputs,
        iats: spare.f64s.take(),
        backspace_iats: spare.f64s.take(),
        commands: spare.commands.take(),
        inter_cmd_iats: spare.f64s.take(),
        prompt_lines: spare.prompt_lines.take(),
        ..SessionCtx::default()
    };
    ctx.commands.reserve(line_ends);
    ctx.duration_s = py_max(0.0, ctx.t_end - ctx.t_start);

    // §2.2 iats over every input event, pastes included.
    ctx.iats
        .extend(ctx.inputs.windows(2).map(|w| py_max(0.0, w[1].t - w[0].t)));

    // §2.4 typing bursts: split at gaps > IKI_THINK_MAX_S (the gap is dropped).
    ctx.typing_bursts = typing_bursts(&ctx.iats, Series::from_spare(spare));

    // §2.3, §2.5, §2.7 and §2.10 in one walk over the input events.
    let mut seg = Segmenter::new();
    let mut typed = TypedText::default();
    let mut last_non_bs_t: Option<f64> = None;
    for e in &ctx.inputs {
        let paste = e.data.len() >= PASTE_MIN_CHARS_PER_EVENT;
        if paste {
            // §2.3 paste-class; §2.10: pastes add nothing and reset the typed state.
            ctx.paste_event_count += 1;
            typed.reset();
        }
        let mut rest = e.data;
        while let Some((&c, tail)) = rest.split_first() {
            rest = tail;
            if paste && is_plain(c) {
                // A run of plain chars in a paste: no correction signal, no
                // segmentation boundary, no counter, and no typed text, so
                // the whole run is one step.
                let n = plain_run(rest);
                last_non_bs_t = Some(e.t);
                seg.push_plain(c, &rest[..n], e.t);
                rest = &rest[n..];
                continue;
            }
            // §2.5 correction signals (every char, pastes included).
            match c {
                0x7F | 0x08 => {
                    ctx.backspace_count += 1;
                    if let Some(prev) = last_non_bs_t {
                        ctx.backspace_iats.push(py_max(0.0, e.t - prev));
                    }
                }
                0x15 | 0x17 => {
                    ctx.kill_line_count += 1;
                    last_non_bs_t = Some(e.t);
                }
                _ => last_non_bs_t = Some(e.t),
            }
            // §2.7 segmentation (every char, pastes included).
            seg.push(c, e.t, &mut ctx.commands)?;
            // §2.10 typed text (1..=3-char events only).
            if !paste {
                typed.push(c);
            }
        }
    }
    // §2.7: an unterminated buffer is dropped. §2.10: flush once more.
    typed.finish(&mut ctx);

    // §2.8 output windows [end_i, start_{i+1}), the last one open to +inf.
    output_windows(&mut ctx, spare);

    // §2.9 per-command series.
    let cmds = &ctx.commands;
    ctx.inter_cmd_iats.extend(
        cmds.windows(2)
            .map(|w| py_max(0.0, w[1].start_ts - w[0].end_ts)),
    );
    ctx.output_per_cmd = cmds
        .iter()
        .take(cmds.len().saturating_sub(1))
        .map(|c| c.output_chars)
        .collect();
    // parity A14: selected by time range over all inputs, not by command bytes.
    // A NaN input time is kept in every tuple (see TimeIndex::select_intra).
    let input_times = TimeIndex::new(ctx.inputs.iter().map(|e| e.t), spare.f64s.take());
    let mut sel = spare.usizes.take();
    sel.reserve(ctx.inputs.len());
    let mut intra = Series::from_spare(spare);
    intra.ends.reserve_exact(cmds.len());
    // Usually no more IATs than inputs: commands rarely overlap in time.
    intra.values.reserve(ctx.inputs.len());
    for c in cmds {
        input_times.select_intra(c.start_ts, c.end_ts, &mut sel);
        intra.push(
            sel.windows(2)
                .map(|w| py_max(0.0, ctx.inputs[w[1]].t - ctx.inputs[w[0]].t)),
        );
    }
    ctx.intra_command_iats = intra;
    spare.f64s.put(input_times.times);
    spare.usizes.put(sel);

    Ok(ctx)
}

/// §2.4: segments of `iats` between values `> IKI_THINK_MAX_S`, kept when
/// they hold at least 3 values.
fn typing_bursts(iats: &[f64], mut bursts: Series) -> Series {
    bursts.values.clear();
    bursts.ends.clear();
    bursts.values.reserve(iats.len());
    // The current segment is built in place after the last kept burst.
    for &x in iats {
        if x > IKI_THINK_MAX_S {
            // An empty segment is never kept, so a burst of gaps is one split.
            bursts.close_tail(3);
        } else {
            bursts.values.push(x);
        }
    }
    bursts.close_tail(3);
    bursts
}

/// §2.7 command segmentation state. No line editing is applied (parity A8).
///
/// Of a command's chars only its first token is ever read ([`first_token`]
/// of the buffer), so the segmenter keeps that token as the chars arrive
/// instead of the whole buffer: a long paste is not copied.
#[derive(Default)]
struct Segmenter {
    /// Whether the buffer holds any char (the command's start is set).
    started: bool,
    /// Where the first token is: not begun, being read, or complete.
    phase: TokenPhase,
    /// The first token's chars so far.
    token: Vec<Char>,
    start: f64,
    tabs: u32,
    shortcuts: u32,
    pipes: u32,
    /// Scratch for the token's UTF-8 bytes.
    utf8: Vec<u8>,
}

/// How far [`Segmenter`] has read the first token of its buffer.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum TokenPhase {
    /// Only whitespace so far.
    #[default]
    Leading,
    /// Inside the token.
    Token,
    /// Past it: later chars cannot change it.
    Done,
}

impl Segmenter {
    /// An empty buffer, with room for a first token: they are short, so one
    /// allocation serves a whole session.
    fn new() -> Self {
        Segmenter {
            token: Vec::with_capacity(64),
            ..Segmenter::default()
        }
    }

    /// A char added to the buffer, as far as the first token goes.
    #[inline]
    fn add(&mut self, c: Char, t: f64) {
        if !self.started {
            self.started = true;
            self.start = t;
        }
        match (self.phase, is_py_space(c)) {
            (TokenPhase::Leading, true) | (TokenPhase::Done, _) => {}
            (TokenPhase::Leading | TokenPhase::Token, false) => {
                self.phase = TokenPhase::Token;
                self.token.push(c);
            }
            (TokenPhase::Token, true) => self.phase = TokenPhase::Done,
        }
    }

    /// [`Segmenter::push`] of `first` then `rest`, all [`is_plain`] chars at
    /// one `t`: they only extend the buffer.
    fn push_plain(&mut self, first: Char, rest: &[Char], t: f64) {
        self.add(first, t);
        for &c in rest {
            if self.phase == TokenPhase::Done {
                break;
            }
            self.add(c, t);
        }
    }

    fn push(&mut self, c: Char, t: f64, out: &mut Vec<Command>) -> Result<(), ExtractError> {
        if c == u32::from(b'\r') || c == u32::from(b'\n') {
            if self.started {
                let token = &self.token;
                let (first_token_hash, token_sets) = token_facts(token, out.len(), &mut self.utf8)?;
                out.push(Command {
                    start_ts: self.start,
                    end_ts: t,
                    first_token_hash,
                    token_sets,
                    tab_count: self.tabs,
                    shortcut_count: self.shortcuts,
                    pipe_count: self.pipes,
                    errored: false,
                    output_chars: 0,
                    followed_by_prompt: false,
                });
            }
            self.started = false;
            self.phase = TokenPhase::Leading;
            self.token.clear();
            self.tabs = 0;
            self.shortcuts = 0;
            self.pipes = 0;
        } else {
            self.add(c, t);
            if c == u32::from(b'\t') {
                self.tabs += 1;
            } else if c == u32::from(b'|') {
                self.pipes += 1;
            } else if SHORTCUT_CTRL_BYTES.contains(&c) {
                self.shortcuts += 1;
            }
        }
        Ok(())
    }
}

/// True for a char that no per-char rule of §2.5, §2.7 or §2.10 singles
/// out in a paste: not a control char, DEL, or `|`.
#[inline]
fn is_plain(c: Char) -> bool {
    c >= 0x20 && c != 0x7F && c != u32::from(b'|')
}

/// The length of the run of [`is_plain`] chars that starts `s`.
fn plain_run(s: &[Char]) -> usize {
    #[cfg(target_arch = "x86_64")]
    if s.len() >= 32 && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present (checked just above).
        return unsafe { plain_run_avx2(s) };
    }
    position_by_lanes(s, |c| !is_plain(c)).unwrap_or(s.len())
}

/// [`plain_run`] with AVX2, 32 chars at a time (pastes run to thousands).
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn plain_run_avx2(s: &[Char]) -> usize {
    use std::arch::x86_64::*;
    let space = _mm256_set1_epi32(0x20);
    let del = _mm256_set1_epi32(0x7F);
    let bar = _mm256_set1_epi32(i32::from(b'|'));
    let mut k = 0;
    while k + 32 <= s.len() {
        let mut stops = 0u32;
        for j in 0..4 {
            // SAFETY: k + 32 <= s.len(): the load reads chars
            // k + 8j..k + 8j + 8 of `s`.
            let v = unsafe { _mm256_loadu_si256(s.as_ptr().add(k + 8 * j).cast()) };
            // Unsigned `c >= 0x20`: the max of the two is `c` itself.
            let ge_space = _mm256_cmpeq_epi32(_mm256_max_epu32(v, space), v);
            let stop = _mm256_or_si256(
                _mm256_andnot_si256(ge_space, _mm256_set1_epi32(-1)),
                _mm256_or_si256(_mm256_cmpeq_epi32(v, del), _mm256_cmpeq_epi32(v, bar)),
            );
            stops |= (_mm256_movemask_ps(_mm256_castsi256_ps(stop)) as u32) << (8 * j);
        }
        if stops != 0 {
            return k + stops.trailing_zeros() as usize;
        }
        k += 32;
    }
    k + position_by_lanes(&s[k..], |c| !is_plain(c)).unwrap_or(s.len() - k)
}

/// The facts of a first token the primitives read: the SHA-256 of its
/// UTF-8 ([`hash_token`]) and its token-set membership ([`token_sets`]).
///
/// First tokens repeat across a shard's sessions (`ls`, `cd`, `wget`), so
/// each thread keeps the facts of the tokens it has seen: up to
/// [`TOKEN_CACHE_MAX`] short ASCII ones ([`short_key`]) and as many others
/// (then that kind starts over).
fn token_facts(
    token: &[Char],
    command: usize,
    utf8: &mut Vec<u8>,
) -> Result<([u8; 32], TokenSets), ExtractError> {
    thread_local! {
        static CACHE: std::cell::RefCell<TokenCache> = std::cell::RefCell::default();
    }
    let key = short_key(token);
    let cached = CACHE.with_borrow(|c| match key {
        Some(k) => c.short.get(&k).copied(),
        None => c.long.get(token).copied(),
    });
    if let Some(facts) = cached {
        return Ok(facts);
    }
    let facts = (hash_token(token, command, utf8)?, token_sets(token));
    CACHE.with_borrow_mut(|c| match key {
        Some(k) => {
            if c.short.len() >= TOKEN_CACHE_MAX {
                c.short.clear();
            }
            c.short.insert(k, facts);
        }
        None if token.len() <= TOKEN_CACHE_MAX_LEN => {
            if c.long.len() >= TOKEN_CACHE_MAX {
                c.long.clear();
            }
            c.long.insert(token.into(), facts);
        }
        None => {}
    });
    Ok(facts)
}

/// A first token of at most 15 ASCII chars as one number: char `i` in
/// byte `i`, the length in the top byte, so no two tokens share a key.
/// Most first tokens are such (`ls`, `cd`, `wget`): their cache lookup
/// hashes and compares the number instead of the chars behind a pointer.
fn short_key(token: &[Char]) -> Option<u128> {
    if token.len() > 15 {
        return None;
    }
    let mut key = (token.len() as u128) << 120;
    for (i, &c) in token.iter().enumerate() {
        if c >= 0x80 {
            return None;
        }
        key |= u128::from(c) << (8 * i);
    }
    Some(key)
}

/// SHA-256 of the token's UTF-8, using `utf8` as scratch. parity A7: a lone
/// surrogate makes Python's encode raise, which ends the whole session.
fn hash_token(
    token: &[Char],
    command: usize,
    utf8: &mut Vec<u8>,
) -> Result<[u8; 32], ExtractError> {
    utf8.clear();
    for &c in token {
        let ch = char::from_u32(c).ok_or(ExtractError::FirstTokenNotUtf8 { command })?;
        let mut b = [0u8; 4];
        utf8.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
    }
    let d = ring::digest::digest(&ring::digest::SHA256, utf8);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    Ok(out)
}

/// A thread's first-token facts (see [`token_facts`]): up to
/// [`TOKEN_CACHE_MAX`] tokens with a [`short_key`], and as many others.
#[derive(Default)]
struct TokenCache {
    short: rustc_hash::FxHashMap<u128, ([u8; 32], TokenSets)>,
    long: rustc_hash::FxHashMap<Box<[Char]>, ([u8; 32], TokenSets)>,
}

/// How many first tokens' facts a thread keeps.
const TOKEN_CACHE_MAX: usize = 4096;

/// Longer first tokens are hashed every time (they rarely repeat).
const TOKEN_CACHE_MAX_LEN: usize = 64;

/// §4.3 membership of a first token, by exact string equality.
fn token_sets(token: &[Char]) -> TokenSets {
    let is =
        |w: &str| w.len() == token.len() && w.bytes().zip(token).all(|(b, &c)| u32::from(b) == c);
    let any = |set: &[&str]| set.iter().any(|w| is(w));
    let mut bits = 0u16;
    for (set, flag) in [
        (RECON, TokenSets::RECON),
        (EXFIL, TokenSets::EXFIL),
        (PERSISTENCE, TokenSets::PERSISTENCE),
        (LATERAL, TokenSets::LATERAL),
        (DESTRUCTIVE, TokenSets::DESTRUCTIVE),
        (OPSEC_HISTORY, TokenSets::OPSEC_HISTORY),
        (CLEANUP, TokenSets::CLEANUP),
        (GRACEFUL_EXIT, TokenSets::GRACEFUL_EXIT),
        (LANDING_RITUAL, TokenSets::LANDING_RITUAL),
        (HELP_FAMILY, TokenSets::HELP_FAMILY),
    ] {
        if any(set) {
            bits |= flag;
        }
    }
    TokenSets(bits)
}

/// §2.10 typed-text state: histograms, lexeme buffer, caps and bang runs.
struct TypedText {
    unigram: [u32; 26],
    /// Count per bigram, indexed `first * 26 + second`.
    bigram: [u32; 26 * 26],
    /// Distinct bigrams in first-seen order.
    bigram_order: Vec<u16>,
    letters: u32,
    last_letter: Option<u8>,
    /// The last LEXEME_MAX_LEN lowercase letters typed.
    word: [u8; LEXEME_MAX_LEN],
    word_len: usize,
    obscenity: u32,
    positive: u32,
    negative: u32,
    caps_cur: u32,
    caps_max: u32,
    bang_cur: u32,
    bang_max: u32,
}

impl Default for TypedText {
    fn default() -> Self {
        TypedText {
            unigram: [0; 26],
            bigram: [0; 26 * 26],
            // Room for the top-N a typed session usually reaches.
            bigram_order: Vec::with_capacity(LAYOUT_BIGRAM_TOP_N),
            letters: 0,
            last_letter: None,
            word: [0; LEXEME_MAX_LEN],
            word_len: 0,
            obscenity: 0,
            positive: 0,
            negative: 0,
            caps_cur: 0,
            caps_max: 0,
            bang_cur: 0,
            bang_max: 0,
        }
    }
}

impl TypedText {
    /// A paste-class event: close the chain, flush the word, zero the runs.
    fn reset(&mut self) {
        self.last_letter = None;
        self.flush();
        self.caps_cur = 0;
        self.bang_cur = 0;
    }

    fn push(&mut self, c: Char) {
        if (u32::from(b'A')..=u32::from(b'Z')).contains(&c) {
            self.caps_cur += 1;
            self.caps_max = self.caps_max.max(self.caps_cur);
        } else {
            self.caps_cur = 0;
        }
        if c == u32::from(b'!') {
            self.bang_cur += 1;
            self.bang_max = self.bang_max.max(self.bang_cur);
        } else {
            self.bang_cur = 0;
        }
        let lower = c | 0x20;
        if (u32::from(b'a')..=u32::from(b'z')).contains(&lower) {
            let l = (lower - u32::from(b'a')) as u8;
            self.unigram[usize::from(l)] += 1;
            self.letters += 1;
            if let Some(prev) = self.last_letter {
                let k = usize::from(prev) * 26 + usize::from(l);
                if self.bigram[k] == 0 {
                    self.bigram_order.push(k as u16);
                }
                self.bigram[k] += 1;
            }
            self.last_letter = Some(l);
            if self.word_len == LEXEME_MAX_LEN {
                self.word.copy_within(1.., 0);
                self.word_len -= 1;
            }
            self.word[self.word_len] = b'a' + l;
            self.word_len += 1;
        } else {
            self.last_letter = None;
            self.flush();
        }
    }

    /// Score at most one lexeme: longest suffix first, then obscenity,
    /// positive, negative at each length. Clears the buffer.
    fn flush(&mut self) {
        let word = &self.word[..self.word_len];
        let lexemes = &*LEXEMES;
        for n in (1..=word.len()).rev() {
            let key = lexeme_key(&word[word.len() - n..]);
            if let Ok(i) = lexemes.binary_search_by_key(&key, |&(k, _)| k) {
                *match lexemes[i].1 {
                    Lexicon::Obscenity => &mut self.obscenity,
                    Lexicon::Positive => &mut self.positive,
                    Lexicon::Negative => &mut self.negative,
                } += 1;
                break;
            }
        }
        self.word_len = 0;
    }

    /// Final flush, the top-N bigram cap, and the move into the context.
    fn finish(&mut self, ctx: &mut SessionCtx<'_>) {
        self.flush();
        let key = |k: u16| [b'a' + (k / 26) as u8, b'a' + (k % 26) as u8];
        let mut bigrams: Vec<([u8; 2], u32)> = self
            .bigram_order
            .iter()
            .map(|&k| (key(k), self.bigram[usize::from(k)]))
            .collect();
        if bigrams.len() > LAYOUT_BIGRAM_TOP_N {
            // Stable: ties keep first-seen order, as Python's sorted() does.
            bigrams.sort_by_key(|b| std::cmp::Reverse(b.1));
            bigrams.truncate(LAYOUT_BIGRAM_TOP_N);
        }
        ctx.bigrams = bigrams;
        ctx.unigram = self.unigram;
        ctx.typed_letter_count = self.letters;
        ctx.obscenity_hits = self.obscenity;
        ctx.positive_hits = self.positive;
        ctx.negative_hits = self.negative;
        ctx.caps_run_max = self.caps_max;
        ctx.bang_run_max = self.bang_max;
    }
}

/// Which lexicon of spec §2.10 a lexeme is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lexicon {
    Obscenity,
    Positive,
    Negative,
}

/// Every lexeme of the three lexicons by [`lexeme_key`], sorted, with the
/// first lexicon that holds it (obscenity, positive, negative: the order
/// [`TypedText::flush`] tries them in at each length).
static LEXEMES: std::sync::LazyLock<Vec<(u64, Lexicon)>> = std::sync::LazyLock::new(|| {
    let mut all: Vec<(u64, Lexicon)> = Vec::new();
    for (set, lexicon) in [
        (OBSCENITY, Lexicon::Obscenity),
        (POSITIVE, Lexicon::Positive),
        (NEGATIVE, Lexicon::Negative),
    ] {
        for w in set {
            let key = lexeme_key(w.as_bytes());
            if all.iter().all(|&(k, _)| k != key) {
                all.push((key, lexicon));
            }
        }
    }
    all.sort_unstable_by_key(|&(k, _)| k);
    all
});

/// Up to [`LEXEME_MAX_LEN`] (< 8) bytes as one integer: the bytes
/// little-endian, the length in the top byte, so that equal keys are
/// equal byte strings.
fn lexeme_key(w: &[u8]) -> u64 {
    w.iter()
        .enumerate()
        .fold((w.len() as u64) << 56, |k, (i, &b)| {
            k | u64::from(b) << (8 * i)
        })
}

/// Finds the events whose `t` lies in a half-open time window, in list order.
///
/// Shards are written in time order, so the times are almost always
/// non-decreasing and a window is a contiguous run found by binary search.
/// The reference never sorts (§1.8), so out-of-order times fall back to a
/// stably sorted index: the window's members are a run of it, put back into
/// list order. NaN times are kept aside (see [`TimeIndex::select_intra`]).
struct TimeIndex {
    times: Vec<f64>,
    /// `None` when `times` is already non-decreasing without NaN.
    order: Option<Vec<usize>>,
    /// Indices of NaN times, ascending.
    nans: Vec<usize>,
    /// Where the last search of sorted `times` started: windows move
    /// forward through a session, so the next one gallops on from here.
    cursor: std::cell::Cell<usize>,
}

/// The first index at or after `from` whose time is not below `bound`,
/// given sorted `times` whose entries before `from` are all below it:
/// galloping forward, then a binary search of the last step.
fn first_not_below(times: &[f64], from: usize, bound: f64) -> usize {
    let (mut lo, mut hi, mut step) = (from, from, 1);
    while hi < times.len() && times[hi] < bound {
        lo = hi + 1;
        hi = from + step;
        step *= 2;
    }
    let hi = hi.min(times.len());
    lo + times[lo..hi].partition_point(|&t| t < bound)
}

impl TimeIndex {
    /// The index of `times`, held in `buffer` (emptied first).
    fn new(times: impl Iterator<Item = f64>, mut buffer: Vec<f64>) -> Self {
        buffer.clear();
        buffer.extend(times);
        let times = buffer;
        // Both checks visit every time without an early exit (the usual
        // list is sorted and has no NaN), so they are vectorised.
        let any_nan = times.iter().fold(false, |any, t| any | t.is_nan());
        let nans: Vec<usize> = if any_nan {
            (0..times.len()).filter(|&i| times[i].is_nan()).collect()
        } else {
            Vec::new()
        };
        let sorted = !any_nan && times.windows(2).fold(true, |ok, w| ok & (w[0] <= w[1]));
        let order = (!sorted).then(|| {
            let mut idx: Vec<usize> = (0..times.len()).filter(|&i| !times[i].is_nan()).collect();
            idx.sort_by(|&a, &b| times[a].partial_cmp(&times[b]).expect("NaN filtered out"));
            idx
        });
        TimeIndex {
            times,
            order,
            nans,
            cursor: std::cell::Cell::new(0),
        }
    }

    /// Fills `out` with the indices (ascending) of the non-NaN times in
    /// `[lo, hi)`; `lo`, `hi` are not NaN.
    fn range(&self, lo: f64, hi: f64, out: &mut Vec<usize>) {
        if lo >= hi {
            return; // bounds are not NaN here
        }
        match &self.order {
            None => {
                let t = &self.times;
                let c = self.cursor.get();
                let from = if c > 0 && t[c - 1] < lo { c } else { 0 };
                let a = first_not_below(t, from, lo);
                let b = first_not_below(t, a, hi); // lo < hi
                self.cursor.set(a);
                out.extend(a..b);
            }
            Some(idx) => {
                let a = idx.partition_point(|&i| self.times[i] < lo);
                let b = idx.partition_point(|&i| self.times[i] < hi);
                out.extend_from_slice(&idx[a..b]);
            }
        }
    }

    /// §2.8 output window: the events with `lo <= t < hi` (a NaN `t` or bound
    /// makes the comparison false, so it selects nothing).
    fn select_window(&self, lo: f64, hi: f64, out: &mut Vec<usize>) {
        out.clear();
        if lo.is_nan() || hi.is_nan() {
            return;
        }
        self.range(lo, hi, out);
        if self.order.is_some() {
            out.sort_unstable();
        }
    }

    /// §2.9 intra-command selection. The reference skips an event when
    /// `t < start or t >= end`, so a NaN `t` is never skipped, and a NaN
    /// bound disables its side of the test (observed on the oracle).
    fn select_intra(&self, start: f64, end: f64, out: &mut Vec<usize>) {
        out.clear();
        if start.is_nan() || end.is_nan() {
            out.extend(
                (0..self.times.len()).filter(|&i| !(self.times[i] < start || self.times[i] >= end)),
            );
            return;
        }
        self.range(start, end, out);
        out.extend_from_slice(&self.nans);
        if self.order.is_some() {
            out.sort_unstable();
        }
    }
}

/// §2.8: output chars, error fingerprint and prompt lines per command window.
///
/// Each window is scanned in the narrowed byte view; chars are gathered only
/// for a prompt candidate that is not plain ASCII.
fn output_windows(ctx: &mut SessionCtx<'_>, spare: &mut Spare) {
    let times = TimeIndex::new(ctx.outputs.iter().map(|e| e.t), spare.f64s.take());
    // Taken out of `ctx` for the loop, which writes other fields of it.
    let cell = std::mem::take(&mut ctx.output_text);
    let ot = cell.get_or_init(|| OutputText::new(&ctx.outputs, spare));
    let mut sel = spare.usizes.take();
    sel.reserve(ctx.outputs.len());
    let mut joined = spare.bytes.take();
    let mut stripped_buf = spare.bytes.take();
    let k = ctx.commands.len();
    // A window usually ends at one prompt line.
    ctx.prompt_lines.reserve(k);
    for i in 0..k {
        let lo = ctx.commands[i].end_ts;
        let hi = ctx
            .commands
            .get(i + 1)
            .map_or(f64::INFINITY, |c| c.start_ts);
        times.select_window(lo, hi, &mut sel);
        let (Some(&first), Some(&last)) = (sel.first(), sel.last()) else {
            continue; // not errored, 0 chars, no prompt lines
        };
        // `sel` is ascending; a run of consecutive events is one slice, and
        // its stripped text is a slice of the whole output's unless an
        // escape runs across either end.
        let run = last - first + 1 == sel.len();
        let (window_chars, text, errored) =
            match run.then(|| ot.stripped.range(first, last + 1)).flatten() {
                Some(r) => (
                    ot.starts[last + 1] - ot.starts[first],
                    &ot.stripped.text[r.clone()],
                    fingerprint_within(&ot.marks.fingerprints, r),
                ),
                None => {
                    // An escape runs across an end of the window, or the
                    // window's events are not consecutive: its own text.
                    joined.clear();
                    for &j in &sel {
                        narrow_ascii(ctx.outputs[j].data, &mut joined);
                    }
                    let text = stripped(&joined, &mut stripped_buf);
                    (joined.len(), text, has_error_fingerprint_bytes(text))
                }
            };
        let outputs = &ctx.outputs;
        let mut wide = || {
            let mut w: Vec<Char> = Vec::new();
            for &j in &sel {
                w.extend_from_slice(outputs[j].data);
            }
            // Stripping only deletes, so an unchanged length is unchanged text.
            let mut s = Vec::new();
            if stripped(&w, &mut s).len() == w.len() {
                w
            } else {
                s
            }
        };
        let before = ctx.prompt_lines.len();
        find_prompt_lines_bytes(text, &mut wide, &mut ctx.prompt_lines);
        let c = &mut ctx.commands[i];
        c.output_chars = window_chars as u64;
        c.errored = errored;
        c.followed_by_prompt = ctx.prompt_lines.len() > before;
    }
    ctx.output_text = cell;
    spare.f64s.put(times.times);
    spare.usizes.put(sel);
    spare.bytes.put(joined);
    spare.bytes.put(stripped_buf);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::event::chars_of;
    use Channel::{Input as I, Output as O};

    #[test]
    fn lexeme_lookup_equals_the_lexicon_scan() {
        // The definition: longest suffix first, then obscenity, positive,
        // negative at each length.
        let naive = |word: &[u8]| {
            for n in (1..=word.len()).rev() {
                let suffix = &word[word.len() - n..];
                for (set, lexicon) in [
                    (OBSCENITY, Lexicon::Obscenity),
                    (POSITIVE, Lexicon::Positive),
                    (NEGATIVE, Lexicon::Negative),
                ] {
                    if set.iter().any(|w| w.as_bytes() == suffix) {
                        return Some(lexicon);
                    }
                }
            }
            None
        };
        let counts = |t: &TypedText| (t.obscenity, t.positive, t.negative);
        let mut words: Vec<Vec<u8>> = OBSCENITY
            .iter()
            .chain(POSITIVE)
            .chain(NEGATIVE)
            .map(|w| w.as_bytes().to_vec())
            .collect();
        let mut next = crate::extract::xorshift(0x1E8E_3E5E_ED00_0001);
        for _ in 0..20_000 {
            // Letters of the lexemes, so suffixes often match.
            let len = 1 + (next() % LEXEME_MAX_LEN as u64) as usize;
            words.push(
                (0..len)
                    .map(|_| b"fuckingshtassolewrdbyp"[(next() % 22) as usize])
                    .collect(),
            );
        }
        for w in &words {
            let mut t = TypedText::default();
            t.word[..w.len()].copy_from_slice(w);
            t.word_len = w.len();
            t.flush();
            let want = match naive(w) {
                None => (0, 0, 0),
                Some(Lexicon::Obscenity) => (1, 0, 0),
                Some(Lexicon::Positive) => (0, 1, 0),
                Some(Lexicon::Negative) => (0, 0, 1),
            };
            assert_eq!(counts(&t), want, "{}", String::from_utf8_lossy(w));
            assert_eq!(t.word_len, 0);
        }
    }

    /// Owns the char buffers so tests can build `Event`s from `&str`.
    fn owned(evs: &[(f64, Channel, &str)]) -> Vec<(f64, Channel, Vec<Char>)> {
        evs.iter().map(|&(t, ch, d)| (t, ch, chars_of(d))).collect()
    }

    fn events(o: &[(f64, Channel, Vec<Char>)]) -> Vec<Event<'_>> {
        o.iter().map(|(t, ch, d)| Event::new(*t, *ch, d)).collect()
    }

    fn ctx_of(evs: &[(f64, Channel, &str)]) -> SessionCtx<'static> {
        // Leak the small test buffers so the context can outlive this call.
        let o: &'static [(f64, Channel, Vec<Char>)] = Box::leak(owned(evs).into_boxed_slice());
        build(&events(o)).expect("test sessions have UTF-8 tokens")
    }

    #[test]
    fn galloping_search_equals_partition_point() {
        let mut next = crate::extract::xorshift(0x510E_527F_ADE6_82D1);
        for _ in 0..3000 {
            let mut times: Vec<f64> = (0..(next() % 40)).map(|_| (next() % 30) as f64).collect();
            times.sort_by(f64::total_cmp);
            let index = TimeIndex::new(times.iter().copied(), Vec::new());
            // Windows mostly moving forward, sometimes back.
            for _ in 0..10 {
                let lo = (next() % 32) as f64 - 1.0;
                let hi = lo + (next() % 8) as f64;
                let mut got = Vec::new();
                index.range(lo, hi, &mut got);
                let want: Vec<usize> = (0..times.len())
                    .filter(|&i| times[i] >= lo && times[i] < hi)
                    .collect();
                assert_eq!(got, want, "{times:?} [{lo}, {hi})");
            }
            for from in 0..=times.len() {
                let bound = (next() % 32) as f64;
                if times[..from].iter().all(|&t| t < bound) {
                    let want = times.partition_point(|&t| t < bound);
                    assert_eq!(first_not_below(&times, from, bound), want);
                }
            }
        }
    }

    #[test]
    fn token_ids_number_first_appearances() {
        let mut next = crate::extract::xorshift(0x6A09_E667_F3BC_C908);
        for _ in 0..500 {
            let commands: Vec<Command> = (0..(next() % 30))
                .map(|_| Command {
                    first_token_hash: [(next() % 6) as u8; 32],
                    ..Command::default()
                })
                .collect();
            let t = TokenIds::of(&commands);
            assert_eq!(t.ids.len(), commands.len());
            for (i, a) in commands.iter().enumerate() {
                // The id is the number of distinct tokens before the first
                // command with this token.
                let first = commands
                    .iter()
                    .position(|c| c.first_token_hash == a.first_token_hash)
                    .expect("a itself");
                let before: std::collections::HashSet<_> = commands[..first]
                    .iter()
                    .map(|c| c.first_token_hash)
                    .collect();
                assert_eq!(t.ids[i] as usize, before.len());
            }
            let all: std::collections::HashSet<_> =
                commands.iter().map(|c| c.first_token_hash).collect();
            assert_eq!(t.distinct, all.len());
        }
    }

    #[test]
    fn plain_run_equals_the_scalar_scan() {
        // Runs ending at every offset of a 16-char block and in the tail,
        // with each kind of stop char (control, DEL, `|`) and none, over
        // ASCII filler and (for the unsigned compare) the largest chars.
        for len in 0..100 {
            for stop_at in 0..=len {
                for (stop, wide) in [0x01, 0x1F, 0x7F, u32::from(b'|'), 0x20]
                    .into_iter()
                    .flat_map(|stop| [(stop, false), (stop, true)])
                {
                    let mut s: Vec<Char> = (0..len)
                        .map(|i| match (wide, i % 3) {
                            (true, 0) => 0x10_FFFF,
                            (true, 1) => u32::MAX,
                            _ => 0x21 + (i as Char % 90),
                        })
                        .collect();
                    s.iter_mut().for_each(|c| {
                        if *c == u32::from(b'|') || *c == 0x7F {
                            *c = u32::from(b'a');
                        }
                    });
                    if stop_at < len {
                        s[stop_at] = stop;
                    }
                    let want = s.iter().position(|&d| !is_plain(d)).unwrap_or(s.len());
                    assert_eq!(plain_run(&s), want, "len {len} stop {stop:#x} at {stop_at}");
                }
            }
        }
    }

    fn hex(h: &[u8; 32]) -> String {
        h.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Spec Appendix A.1: the 90 events of the golden session (the header
    /// and the resize line are not events, §1.8).
    const APPENDIX_A: &[(f64, Channel, &str)] = &[
        (0.0, I, "w"),
        (0.125, I, "h"),
        (0.25, I, "o"),
        (0.375, I, "a"),
        (0.5, I, "m"),
        (0.625, I, "i"),
        (0.75, I, "\r"),
        (1.0, O, "\r\n\x1b[?2004l\rroot\r\n\x1b[?2004hroot@web-01:~# "),
        (3.25, I, "i"),
        (3.375, I, "d"),
        (3.5, I, "\r"),
        (3.75, O, "\r\n\x1b[?2004l\ruid=0(root) gid=0(root) groups=0(root)\r\n\x1b[?2004hroot@web-01:~# "),
        (7.0, I, "u"),
        (7.09375, I, "n"),
        (7.1875, I, "m"),
        (7.28125, I, "a"),
        (7.375, I, "e"),
        (7.46875, I, "\x7f"),
        (7.5625, I, "\x7f"),
        (7.65625, I, "\x7f"),
        (7.75, I, "a"),
        (7.84375, I, "m"),
        (7.9375, I, "e"),
        (8.03125, I, " "),
        (8.125, I, "-"),
        (8.21875, I, "a"),
        (8.3125, I, "\r"),
        (8.75, O, "\r\n\x1b[?2004l\rLinux web-01 6.1.0 x86_64 GNU/Linux\r\n\x1b[?2004hroot@web-01:~# "),
        (12.0, I, "c"),
        (12.078125, I, "a"),
        (12.15625, I, "t"),
        (12.234375, I, " "),
        (12.3125, I, "/"),
        (12.390625, I, "e"),
        (12.46875, I, "t"),
        (12.546875, I, "c"),
        (12.625, I, "/"),
        (12.703125, I, "s"),
        (12.78125, I, "h"),
        (12.859375, I, "a"),
        (12.9375, I, "d"),
        (13.015625, I, "w"),
        (13.09375, I, "o"),
        (13.171875, I, " "),
        (13.25, I, "|"),
        (13.328125, I, " "),
        (13.40625, I, "h"),
        (13.484375, I, "e"),
        (13.5625, I, "a"),
        (13.640625, I, "d"),
        (13.71875, I, "\r"),
        (14.0, O, "\r\n\x1b[?2004l\rcat: /etc/shadwo: No such file or directory\r\n\x1b[?2004hroot@web-01:~# "),
        (19.5, I, "cat /etc/passwd | grep bash | cut -d: -f1\r"),
        (19.625, O, "\r\n\x1b[?2004l\rroot\r\nubuntu\r\n\x1b[?2004hroot@web-01:~# "),
        (26.0, I, "e"),
        (26.125, I, "n"),
        (26.25, I, "v"),
        (26.375, I, "\r"),
        (26.5, O, "\r\n\x1b[?2004l\rSHELL=/bin/bash\r\nLANG=en_US.UTF-8\r\nTERM=xterm\r\n\x1b[?2004hroot@web-01:~# "),
        (31.0, I, "l"),
        (31.09375, I, "s"),
        (31.1875, I, "\t"),
        (31.28125, I, "-"),
        (31.375, I, "l"),
        (31.46875, I, "a"),
        (31.5625, I, " "),
        (31.65625, I, "/"),
        (31.75, I, "t"),
        (31.84375, I, "m"),
        (31.9375, I, "p"),
        (32.03125, I, "\r"),
        (32.25, O, "\r\n\x1b[?2004l\rtotal 0\r\n\x1b[?2004hroot@web-01:~# "),
        (40.0, I, "h"),
        (40.125, I, "i"),
        (40.25, I, "s"),
        (40.375, I, "t"),
        (40.5, I, "o"),
        (40.625, I, "r"),
        (40.75, I, "y"),
        (40.875, I, " "),
        (41.0, I, "-"),
        (41.125, I, "c"),
        (41.25, I, "\r"),
        (41.5, O, "\r\n\x1b[?2004l\r\x1b[?2004hroot@web-01:~# "),
        (44.0, I, "e"),
        (44.125, I, "x"),
        (44.25, I, "i"),
        (44.375, I, "t"),
        (44.5, I, "\r"),
        (44.75, O, "\r\n\x1b[?2004l\rlogout\r\n"),
    ];

    #[test]
    fn appendix_a_context() {
        let c = ctx_of(APPENDIX_A);
        let paste = c
            .inputs
            .iter()
            .filter(|e| e.data.len() >= PASTE_MIN_CHARS_PER_EVENT)
            .count();
        assert_eq!(
            (c.inputs.len(), c.outputs.len(), c.paste_event_count),
            (81, 9, 1)
        );
        assert_eq!(paste, 1);
        assert_eq!((c.t_start, c.t_end, c.duration_s), (0.0, 44.75, 44.75));
        assert_eq!(c.iats.len(), 80);
        let lens: Vec<usize> = c.typing_bursts.iter().map(<[f64]>::len).collect();
        assert_eq!(lens, [6, 14, 22, 3, 11, 10, 4]);
        assert_eq!(c.backspace_count, 3);
        assert_eq!(c.backspace_iats, [0.09375, 0.1875, 0.28125]);
        assert_eq!(c.kill_line_count, 0);
        assert_eq!(c.prompt_lines.len(), 8);
        assert!(c
            .prompt_lines
            .iter()
            .all(|p| p.suffix_char == u32::from(b'#')));
        assert_eq!(c.prompt_lines[0].raw_line[..], chars_of("root@web-01:~#"));
        assert_eq!(c.typed_letter_count, 55);
        assert_eq!(c.unigram.iter().sum::<u32>(), 55);
        let lex = (
            c.obscenity_hits,
            c.positive_hits,
            c.negative_hits,
            c.caps_run_max,
            c.bang_run_max,
        );
        assert_eq!(lex, (0, 0, 0, 0, 0));
        assert_eq!(
            c.inter_cmd_iats,
            [2.5, 3.5, 3.6875, 5.78125, 6.5, 4.625, 7.96875, 2.75]
        );
        assert_eq!(c.output_per_cmd, [40, 74, 71, 79, 48, 81, 43, 34]);
        // The A.2 per-command table.
        type Row = (f64, f64, &'static str, u32, u32, u32, bool, u64, bool);
        #[rustfmt::skip]
        let want: [Row; 9] = [
            (0.0, 0.75, "f25297859cf0a70a", 0, 0, 0, false, 40, true),
            (3.25, 3.5, "a56145270ce6b3be", 0, 0, 0, false, 74, true),
            (7.0, 8.3125, "4532029d72114c42", 0, 0, 0, false, 71, true),
            (12.0, 13.71875, "77af778b51abd4a3", 0, 0, 1, true, 79, true),
            (19.5, 19.5, "77af778b51abd4a3", 0, 0, 2, false, 48, true),
            (26.0, 26.375, "b77349bf1fa9b26d", 0, 0, 0, false, 81, true),
            (31.0, 32.03125, "c7b68ac37f364473", 1, 0, 0, false, 43, true),
            (40.0, 41.25, "259aa8ef98a8b91d", 0, 0, 0, false, 34, true),
            (44.0, 44.5, "e596899f114b5162", 0, 0, 0, false, 19, false),
        ];
        assert_eq!(c.commands.len(), want.len());
        for (i, (cmd, w)) in c.commands.iter().zip(want).enumerate() {
            let got = (
                cmd.start_ts,
                cmd.end_ts,
                &hex(&cmd.first_token_hash)[..16],
                cmd.tab_count,
                cmd.shortcut_count,
                cmd.pipe_count,
                cmd.errored,
                cmd.output_chars,
                cmd.followed_by_prompt,
            );
            assert_eq!(got, w, "command {i}");
        }
        // Token sets: whoami/id land, the backspace-polluted uname does not (A8).
        let sets: Vec<u16> = c.commands.iter().map(|m| m.token_sets.0).collect();
        let (r, l, o, cl, g) = (
            TokenSets::RECON,
            TokenSets::LANDING_RITUAL,
            TokenSets::OPSEC_HISTORY,
            TokenSets::CLEANUP,
            TokenSets::GRACEFUL_EXIT,
        );
        assert_eq!(sets, [r | l, r | l, 0, r, r, r, r, o | cl, g]);
        // §2.9: the paste (#4) has no intra-command IATs; `id` has one.
        assert_eq!(c.intra_command_iats[4], Vec::<f64>::new());
        assert_eq!(c.intra_command_iats[1], [0.125]);
        assert_eq!(c.intra_command_iats.len(), 9);
        // First-seen order with 37 distinct bigrams (no cap).
        assert_eq!(c.bigrams.len(), 37);
        assert_eq!(
            c.bigrams[..4],
            [(*b"wh", 1), (*b"ho", 1), (*b"oa", 1), (*b"am", 2)]
        );
    }

    #[test]
    fn appendix_b_token_hashes() {
        let c = ctx_of(&[(0.0, I, "ls -la\r"), (1.0, I, " \t \r")]);
        assert_eq!(
            hex(&c.commands[0].first_token_hash),
            "c7b68ac37f364473e922936708e7f43c293dd07b295171566c07ff5fe024fab9"
        );
        // A whitespace-only buffer is a command with the empty token (§2.7).
        assert_eq!(
            hex(&c.commands[1].first_token_hash),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(c.commands[1].tab_count, 1);
    }

    #[test]
    fn appendix_b_paste_of_two_commands() {
        let c = ctx_of(&[
            (0.0, I, "ls\rpwd\r"),
            (0.1, O, "x: command not found\nroot@h:~# "),
        ]);
        assert_eq!(c.commands.len(), 2);
        let [a, b] = [&c.commands[0], &c.commands[1]];
        assert_eq!(
            (a.start_ts, a.end_ts, b.start_ts, b.end_ts),
            (0.0, 0.0, 0.0, 0.0)
        );
        // parity A13: the first window [0, 0) is empty.
        assert_eq!(
            (a.errored, a.output_chars, a.followed_by_prompt),
            (false, 0, false)
        );
        assert_eq!(
            (b.errored, b.output_chars, b.followed_by_prompt),
            (true, 31, true)
        );
        assert_eq!(c.output_per_cmd, [0]);
        assert_eq!(c.paste_event_count, 1);
    }

    #[test]
    fn appendix_b_output_only_session() {
        let c = ctx_of(&[(0.0, O, "a"), (5.0, O, "b")]);
        assert_eq!((c.t_start, c.t_end, c.duration_s), (0.0, 5.0, 5.0));
        assert!(c.inputs.is_empty() && c.commands.is_empty() && c.iats.is_empty());
    }

    #[test]
    fn appendix_b_backspace_first() {
        let c = ctx_of(&[(0.0, I, "\x7f"), (0.1, I, "a"), (0.2, I, "b")]);
        assert_eq!(c.backspace_count, 1);
        assert!(
            c.backspace_iats.is_empty(),
            "no non-backspace char before it"
        );
    }

    #[test]
    fn appendix_b_pipes() {
        let c = ctx_of(&[(0.0, I, "a|b|c\r")]);
        assert_eq!(c.commands[0].pipe_count, 2);
    }

    #[test]
    fn appendix_b_surrogate_token_is_an_error() {
        let o = vec![(
            0.0,
            I,
            vec![u32::from(b'l'), 0xDCFF, u32::from(b's'), u32::from(b'\r')],
        )];
        assert_eq!(
            build(&events(&o)).err(),
            Some(ExtractError::FirstTokenNotUtf8 { command: 0 })
        );
        // Only the first token is encoded: a raw byte in an argument is fine.
        let o = vec![(
            0.0,
            I,
            vec![u32::from(b'x'), 0x20, 0xDCFF, u32::from(b'\r')],
        )];
        assert!(build(&events(&o)).is_ok());
        // The index is the command's.
        let o = vec![
            (0.0, I, chars_of("ls\r")),
            (1.0, I, vec![0xDC80, u32::from(b'\n')]),
        ];
        assert_eq!(
            build(&events(&o)).err(),
            Some(ExtractError::FirstTokenNotUtf8 { command: 1 })
        );
    }

    #[test]
    fn timeline_uses_first_event_and_floored_max() {
        let c = ctx_of(&[(3.0, O, "x"), (1.0, I, "a"), (2.0, O, "y")]);
        assert_eq!((c.t_start, c.t_end, c.duration_s), (3.0, 3.0, 0.0));
        let c = ctx_of(&[(-5.0, I, "a"), (-2.0, I, "b")]);
        assert_eq!((c.t_start, c.t_end, c.duration_s), (-5.0, 0.0, 5.0));
        let c = ctx_of(&[]);
        assert_eq!((c.t_start, c.t_end, c.duration_s), (0.0, 0.0, 0.0));
        // Out-of-order inputs floor their IAT at 0.
        assert_eq!(ctx_of(&[(1.0, I, "a"), (0.5, I, "b")]).iats, [0.0]);
    }

    #[test]
    fn typing_bursts_split_on_think_gaps() {
        // Into buffers that held bursts before, as a context's do.
        let held = typing_bursts(&[0.7; 5], Series::default());
        let b = typing_bursts(
            &[
                0.1, 0.2, 0.3, 1.5, 1.6, 0.1, 0.1, 2.0, 3.0, 0.1, 0.2, 0.3, 0.4,
            ],
            held,
        );
        // 1.5 is not > 1.5, so it stays in the first burst; [0.1, 0.1] is too short.
        let want = [vec![0.1, 0.2, 0.3, 1.5], vec![0.1, 0.2, 0.3, 0.4]];
        assert_eq!(b, want.iter().collect());
        assert_eq!(b.iter().collect::<Vec<_>>(), want);
        assert_eq!(b.iter().next_back(), Some(&want[1][..]));
        assert!(typing_bursts(&[], Series::default()).is_empty());
    }

    #[test]
    fn bursts_built_in_place_equal_the_split_definition() {
        // Gaps drawn around the 1.5 s split, so short and long segments,
        // runs of gaps and a leading or trailing gap all occur.
        let mut next = crate::extract::xorshift(0x2545_F491_4F6C_DD1D);
        for _ in 0..5000 {
            let iats: Vec<f64> = (0..(next() % 16))
                .map(|_| [0.1, 0.5, 1.5, 1.6, 3.0][(next() % 5) as usize])
                .collect();
            let want: Vec<&[f64]> = iats
                .split(|&x| x > IKI_THINK_MAX_S)
                .filter(|b| b.len() >= 3)
                .collect();
            let got = typing_bursts(&iats, Series::default());
            assert_eq!(got.iter().collect::<Vec<_>>(), want, "{iats:?}");
            assert_eq!(
                got.values().len(),
                want.iter().map(|b| b.len()).sum::<usize>()
            );
        }
    }

    #[test]
    fn correction_signals() {
        let c = ctx_of(&[
            (1.0, I, "a"),
            (1.5, I, "\x7f"),
            (2.0, I, "\x08"),
            (3.0, I, "\x15"),
            (3.25, I, "\x7f"),
        ]);
        assert_eq!((c.backspace_count, c.kill_line_count), (3, 1));
        // A run measures from the last non-backspace char; ^U resets it.
        assert_eq!(c.backspace_iats, [0.5, 1.0, 0.25]);
    }

    #[test]
    fn segmenter_token_is_the_first_token_of_the_buffer() {
        // Buffers of spaces (ASCII, U+001C, U+3000), token chars and pipes,
        // fed as plain runs and single chars: the token kept is the buffer's
        // first_token, and the start is the first char's time.
        use crate::extract::behave::text::first_token;
        const ALPHABET: &[Char] = &[0x20, 0x20, 0x09, 0x1C, 0x3000, 0x61, 0x62, 0x7C, 0xE9, 0x01];
        let mut next = crate::extract::xorshift(0x2545_F491_4F6C_DD1D);
        let mut commands = Vec::new();
        let mut with_token = 0;
        for round in 0..3000 {
            let len = (next() % 30) as usize + 1;
            let buf: Vec<Char> = (0..len)
                .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
                .collect();
            let mut seg = Segmenter::new();
            let mut i = 0;
            while i < len {
                let t = i as f64;
                let n = plain_run(&buf[i + 1..]);
                if is_plain(buf[i]) && next().is_multiple_of(2) {
                    seg.push_plain(buf[i], &buf[i + 1..i + 1 + n], t);
                    i += 1 + n;
                } else {
                    seg.push(buf[i], t, &mut commands).expect("no surrogates");
                    i += 1;
                }
            }
            assert_eq!(seg.token, first_token(&buf), "{round} {buf:?}");
            assert!(seg.started && seg.start == 0.0);
            with_token += usize::from(!seg.token.is_empty());
        }
        assert!(commands.is_empty());
        assert!(with_token > 2000, "{with_token}");
    }

    #[test]
    fn segmentation_keeps_raw_bytes_and_counts() {
        let c = ctx_of(&[
            (0.0, I, "lsx\x7f\r"),
            (1.0, I, "\x1b[A\r\n"),
            (2.0, I, "\t\x01\x05\x17\x15\x12\x02\x06|"),
            (3.0, I, "\r"),
            (4.0, I, "tail"),
        ]);
        assert_eq!(
            c.commands.len(),
            3,
            "\\r\\n is one command; an unterminated buffer is dropped"
        );
        let want = |s: &str| hash_token(&chars_of(s), 0, &mut Vec::new()).unwrap();
        assert_eq!(c.commands[0].first_token_hash, want("lsx\x7f"));
        assert_eq!(c.commands[1].first_token_hash, want("\x1b[A"));
        let m = &c.commands[2];
        assert_eq!(
            (
                m.start_ts,
                m.end_ts,
                m.tab_count,
                m.shortcut_count,
                m.pipe_count
            ),
            (2.0, 3.0, 1, 7, 1)
        );
        // U+001C is Python whitespace (A17): it ends the token.
        let c = ctx_of(&[(0.0, I, "\u{3000}ls\u{1c}x\r")]);
        assert_eq!(
            hex(&c.commands[0].first_token_hash)[..16],
            *"c7b68ac37f364473"
        );
        assert_eq!(c.commands[0].token_sets, TokenSets(TokenSets::RECON));
    }

    #[test]
    fn token_sets_are_exact_matches() {
        let sets = |s: &str| token_sets(&chars_of(s)).0;
        assert_eq!(sets("rm"), TokenSets::DESTRUCTIVE | TokenSets::CLEANUP);
        assert_eq!(
            sets("history"),
            TokenSets::OPSEC_HISTORY | TokenSets::CLEANUP
        );
        assert_eq!(sets("w"), TokenSets::RECON | TokenSets::LANDING_RITUAL);
        assert_eq!(sets("update-rc.d"), TokenSets::PERSISTENCE);
        assert_eq!(sets("man"), TokenSets::HELP_FAMILY);
        assert_eq!(sets("exit"), TokenSets::GRACEFUL_EXIT);
        assert_eq!(sets("LS"), 0);
        assert_eq!(sets("ls\x7f"), 0);
        assert_eq!(sets(""), 0);
    }

    #[test]
    fn token_facts_are_the_same_from_the_cache() {
        // The first call computes and caches, the second reads the cache;
        // a token over TOKEN_CACHE_MAX_LEN is computed every time.
        // Short ASCII tokens are keyed inline: "ls" and "ls\0" must not
        // share a key, nor 15 and 16 chars of the same letters.
        let long = "x".repeat(TOKEN_CACHE_MAX_LEN + 1);
        let (x15, x16) = ("y".repeat(15), "y".repeat(16));
        for s in [
            "rm",
            "history",
            "wget",
            "ls",
            "ls\0",
            "\0",
            "",
            x15.as_str(),
            x16.as_str(),
            "\u{3000}ls",
            long.as_str(),
        ] {
            let token = chars_of(s);
            let want = (
                hash_token(&token, 0, &mut Vec::new()).unwrap(),
                token_sets(&token),
            );
            for _ in 0..2 {
                assert_eq!(
                    token_facts(&token, 0, &mut Vec::new()).unwrap(),
                    want,
                    "{s:?}"
                );
            }
        }
        // A lone surrogate is an error every time, never cached.
        for _ in 0..2 {
            assert_eq!(
                token_facts(&[0x6C, 0xDC80], 3, &mut Vec::new()),
                Err(ExtractError::FirstTokenNotUtf8 { command: 3 })
            );
        }
    }

    #[test]
    fn windows_select_by_time_in_list_order() {
        // Window 0 is [1, 3): "x$ " (t=2) and "ab\n" (t=1.5) join in list
        // order to "x$ ab\n", which holds no prompt. Oracle:
        // [(6, False, False), (17, True, False)].
        let c = ctx_of(&[
            (0.0, I, "a"),
            (1.0, I, "\r"),
            (2.0, O, "x$ "),
            (0.5, O, "zz"),
            (1.5, O, "ab\n"),
            (3.0, I, "b"),
            (4.0, I, "\r"),
            (9.0, O, "Permission denied"),
        ]);
        let facts: Vec<_> = c
            .commands
            .iter()
            .map(|m| (m.output_chars, m.errored, m.followed_by_prompt))
            .collect();
        assert_eq!(facts, [(6, false, false), (17, true, false)]);
        assert!(c.prompt_lines.is_empty());
        assert_eq!(c.output_per_cmd, [6]);
        // The same outputs in time order do end in a prompt (oracle: "x$").
        let c = ctx_of(&[
            (0.0, I, "a"),
            (1.0, I, "\r"),
            (1.5, O, "ab\n"),
            (2.0, O, "x$ "),
            (0.5, O, "zz"),
        ]);
        assert!(c.commands[0].followed_by_prompt);
        assert_eq!(
            c.prompt_lines,
            [PromptLine {
                suffix_char: u32::from(b'$'),
                raw_line: chars_of("x$").into()
            }]
        );
    }

    #[test]
    fn intra_command_iats_by_time_range() {
        // parity A14: the stray "q" at 2.5 (after the Enter, in list order)
        // still counts for the command spanning [-1, 3).
        let c = ctx_of(&[
            (-1.0, I, "z"),
            (0.0, I, "a"),
            (1.0, I, "b"),
            (2.0, I, "d"),
            (3.0, I, "\r"),
            (2.5, I, "q"),
        ]);
        assert_eq!(
            c.intra_command_iats,
            [vec![1.0, 1.0, 1.0, 0.5]].iter().collect()
        );
        // A NaN input time is never skipped (oracle: [[1.0, 0.0, 0.0]]).
        let c = ctx_of(&[
            (0.0, I, "a"),
            (1.0, I, "b"),
            (f64::NAN, I, "c"),
            (2.0, I, "d"),
            (3.0, I, "\r"),
        ]);
        assert_eq!(c.intra_command_iats, [vec![1.0, 0.0, 0.0]].iter().collect());
        // ... but never lands in an output window.
        let c = ctx_of(&[
            (0.0, I, "a\r"),
            (f64::NAN, O, "xyz"),
            (1.0, I, "b\r"),
            (f64::NAN, O, "x"),
        ]);
        assert_eq!(c.output_per_cmd, [0]);
        assert_eq!(c.commands[1].output_chars, 0);
    }

    #[test]
    fn lexemes_score_the_longest_suffix_once() {
        let typed = |s: &str| -> Vec<(f64, Channel, String)> {
            s.chars()
                .enumerate()
                .map(|(i, ch)| (i as f64, I, ch.to_string()))
                .collect()
        };
        let run = |s: &str| {
            let evs = typed(s);
            let evs: Vec<(f64, Channel, &str)> =
                evs.iter().map(|(t, c, d)| (*t, *c, d.as_str())).collect();
            let c = ctx_of(&evs);
            (c.obscenity_hits, c.positive_hits, c.negative_hits)
        };
        assert_eq!(run("glass pass"), (2, 0, 0));
        assert_eq!(run("laugh through"), (0, 0, 2));
        assert_eq!(run("fucking"), (1, 0, 0));
        assert_eq!(run("THANKS"), (0, 1, 0), "letters are lowercased");
        assert_eq!(
            run("thanksgiving"),
            (0, 0, 0),
            "only the last 7 letters count"
        );
        assert_eq!(
            run("xxwtf"),
            (0, 0, 1),
            "the buffer keeps the last 7 letters"
        );
        // Letters carry across events of 1..=3 chars but a paste breaks them.
        let c = ctx_of(&[(0.0, I, "da"), (1.0, I, "mn"), (2.0, I, " ")]);
        assert_eq!(c.negative_hits, 1);
        let c = ctx_of(&[(0.0, I, "da"), (1.0, I, "long"), (2.0, I, "mn")]);
        assert_eq!((c.negative_hits, c.typed_letter_count), (0, 4));
    }

    #[test]
    fn caps_and_bang_runs() {
        let c = ctx_of(&[
            (0.0, I, "ABC"),
            (1.0, I, "DE!"),
            (2.0, I, "!!a"),
            (3.0, I, "FGHIJKL"),
            (4.0, I, "Z"),
        ]);
        // The 7-char paste resets the runs; it adds no letters.
        assert_eq!((c.caps_run_max, c.bang_run_max), (5, 3));
        assert_eq!(c.typed_letter_count, 7);
        assert_eq!(c.unigram[0], 2);
        assert_eq!(
            c.bigrams,
            [(*b"ab", 1), (*b"bc", 1), (*b"cd", 1), (*b"de", 1)]
        );
    }

    #[test]
    fn bigram_cap_keeps_top_64_ties_first_seen() {
        // 81 distinct pairs "aa ab .. ii" once each, then "zz" three times:
        // 82 distinct. Oracle: [zz 4, aa 1, ab 1, ac 1, ..., gh 1, gi 1], 64 kept.
        let mut s: String = (b'a'..=b'i')
            .flat_map(|x| (b'a'..=b'i').map(move |y| format!("{}{} ", x as char, y as char)))
            .collect();
        s.push_str("zzz zzz");
        let evs: Vec<(f64, Channel, String)> = s
            .chars()
            .enumerate()
            .map(|(i, ch)| (i as f64, I, ch.to_string()))
            .collect();
        let evs: Vec<(f64, Channel, &str)> =
            evs.iter().map(|(t, c, d)| (*t, *c, d.as_str())).collect();
        let c = ctx_of(&evs);
        assert_eq!(c.bigrams.len(), LAYOUT_BIGRAM_TOP_N);
        assert_eq!(
            c.bigrams[..4],
            [(*b"zz", 4), (*b"aa", 1), (*b"ab", 1), (*b"ac", 1)]
        );
        assert_eq!(c.bigrams[62..], [(*b"gh", 1), (*b"gi", 1)]);
        // Unigrams are never capped.
        assert_eq!(c.unigram[usize::from(b'i' - b'a')], 18);
    }
}
