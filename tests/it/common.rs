//! Shared helpers for the engine integration tests (golden, differential,
//! engine_props).
//!
//! Fixtures hold Python's view of event data: lone surrogates (`\udcXX`),
//! `NaN`/`Infinity` literals and `true`/`false` times. `serde_json` keeps
//! none of these, so a tiny JSON reader here works on Python code points
//! (spec §1.9 char model) instead. It is a test helper for well-formed
//! fixtures, not the product decoder: decoding parity (dead letters, byte
//! accounting, chunked reads) is tested in the decode module.
#![allow(dead_code)]

use driftlake::extract::behave::{ExtractError, Extraction};
use driftlake::model::event::{Channel, Char, Event};
use std::path::PathBuf;

/// Repository root, from this file's location (works both in the main crate,
/// where `file!()` is relative to the package root, and when the scratch
/// crate includes this module by absolute `#[path]`).
pub fn repo_root() -> PathBuf {
    let here = std::path::Path::new(file!());
    let root = here
        .parent()
        .and_then(|p| p.parent())
        .and_then(|p| p.parent())
        .expect("tests/it/common.rs");
    if root.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        root.to_path_buf()
    }
}

/// Python's `bytes.decode("utf-8", "surrogateescape")` (spec §1.9): valid
/// UTF-8 gives one code point per char, every byte of an invalid sequence
/// gives `U+DC00 + byte`.
pub fn decode_surrogateescape(bytes: &[u8]) -> Vec<Char> {
    let mut out = Vec::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.extend(chunk.valid().chars().map(|c| c as Char));
        out.extend(chunk.invalid().iter().map(|&b| 0xDC00 + b as Char));
    }
    out
}

/// A JSON value as CPython's `json` module produces it, strings as code points.
#[derive(Clone, Debug, PartialEq)]
pub enum J {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// Any number, `NaN`, `Infinity`, `-Infinity`.
    Num(f64),
    /// A string, possibly with lone surrogates.
    Str(Vec<Char>),
    /// An array.
    Arr(Vec<J>),
    /// An object; duplicate keys kept, [`J::get`] takes the last (as Python does).
    Obj(Vec<(String, J)>),
}

impl J {
    /// Member lookup; the last occurrence of a duplicate key wins.
    pub fn get(&self, key: &str) -> Option<&J> {
        match self {
            J::Obj(m) => m.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    /// The string as Rust text (lossy for surrogates).
    pub fn text(&self) -> Option<String> {
        match self {
            J::Str(s) => Some(
                s.iter()
                    .map(|&c| char::from_u32(c).unwrap_or('\u{FFFD}'))
                    .collect(),
            ),
            _ => None,
        }
    }
    /// The number.
    pub fn num(&self) -> Option<f64> {
        match self {
            J::Num(x) => Some(*x),
            _ => None,
        }
    }
    /// The array items.
    pub fn arr(&self) -> &[J] {
        match self {
            J::Arr(a) => a,
            _ => &[],
        }
    }
}

/// Parse one JSON document (a line) the way `json.loads` does.
pub fn parse_json(s: &[Char]) -> Result<J, String> {
    let mut p = Parser { s, i: 0 };
    let v = p.value()?;
    p.ws();
    if p.i != s.len() {
        return Err(format!("trailing data at {}", p.i));
    }
    Ok(v)
}

/// Parse a `&str` line.
pub fn parse_json_str(s: &str) -> J {
    let chars: Vec<Char> = s.chars().map(|c| c as Char).collect();
    parse_json(&chars)
        .unwrap_or_else(|e| panic!("bad fixture JSON ({e}): {}", &s[..s.len().min(200)]))
}

struct Parser<'a> {
    s: &'a [Char],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], 0x20 | 0x09 | 0x0A | 0x0D) {
            self.i += 1;
        }
    }
    fn lit(&mut self, w: &str) -> bool {
        let n = w.chars().count();
        if self.s.len() >= self.i + n
            && w.chars()
                .zip(&self.s[self.i..])
                .all(|(a, &b)| a as Char == b)
        {
            self.i += n;
            true
        } else {
            false
        }
    }
    fn value(&mut self) -> Result<J, String> {
        self.ws();
        let c = *self.s.get(self.i).ok_or("unexpected end")?;
        match c {
            0x7B => {
                self.i += 1;
                let mut m = Vec::new();
                self.ws();
                if self.lit("}") {
                    return Ok(J::Obj(m));
                }
                loop {
                    self.ws();
                    let k = match self.value()? {
                        J::Str(k) => k
                            .iter()
                            .map(|&c| char::from_u32(c).unwrap_or('\u{FFFD}'))
                            .collect(),
                        _ => return Err("non-string key".into()),
                    };
                    self.ws();
                    if !self.lit(":") {
                        return Err("expected :".into());
                    }
                    m.push((k, self.value()?));
                    self.ws();
                    if self.lit("}") {
                        return Ok(J::Obj(m));
                    }
                    if !self.lit(",") {
                        return Err("expected , in object".into());
                    }
                }
            }
            0x5B => {
                self.i += 1;
                let mut a = Vec::new();
                self.ws();
                if self.lit("]") {
                    return Ok(J::Arr(a));
                }
                loop {
                    a.push(self.value()?);
                    self.ws();
                    if self.lit("]") {
                        return Ok(J::Arr(a));
                    }
                    if !self.lit(",") {
                        return Err("expected , in array".into());
                    }
                }
            }
            0x22 => self.string().map(J::Str),
            _ if self.lit("null") => Ok(J::Null),
            _ if self.lit("true") => Ok(J::Bool(true)),
            _ if self.lit("false") => Ok(J::Bool(false)),
            _ if self.lit("NaN") => Ok(J::Num(f64::NAN)),
            _ if self.lit("Infinity") => Ok(J::Num(f64::INFINITY)),
            _ if self.lit("-Infinity") => Ok(J::Num(f64::NEG_INFINITY)),
            _ => self.number(),
        }
    }
    fn number(&mut self) -> Result<J, String> {
        // JSON number grammar; Rust's f64 parser is correctly rounded, as
        // CPython's float() is (spec §1.8).
        let start = self.i;
        let digit = |c: Option<&Char>| c.is_some_and(|&c| (0x30..=0x39).contains(&c));
        if self.s.get(self.i) == Some(&0x2D) {
            self.i += 1;
        }
        if !digit(self.s.get(self.i)) {
            return Err(format!("bad token at {start}"));
        }
        while digit(self.s.get(self.i)) {
            self.i += 1;
        }
        if self.s.get(self.i) == Some(&0x2E) && digit(self.s.get(self.i + 1)) {
            self.i += 1;
            while digit(self.s.get(self.i)) {
                self.i += 1;
            }
        }
        if matches!(self.s.get(self.i), Some(&0x65) | Some(&0x45)) {
            let save = self.i;
            self.i += 1;
            if matches!(self.s.get(self.i), Some(&0x2B) | Some(&0x2D)) {
                self.i += 1;
            }
            if digit(self.s.get(self.i)) {
                while digit(self.s.get(self.i)) {
                    self.i += 1;
                }
            } else {
                self.i = save;
            }
        }
        let text: String = self.s[start..self.i]
            .iter()
            .map(|&c| c as u8 as char)
            .collect();
        text.parse::<f64>().map(J::Num).map_err(|e| e.to_string())
    }
    fn hex4(&mut self) -> Result<Char, String> {
        let h = self.s.get(self.i..self.i + 4).ok_or("short \\u")?;
        let t: String = h
            .iter()
            .map(|&c| char::from_u32(c).unwrap_or('?'))
            .collect();
        self.i += 4;
        Char::from_str_radix(&t, 16).map_err(|e| e.to_string())
    }
    fn string(&mut self) -> Result<Vec<Char>, String> {
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let c = *self.s.get(self.i).ok_or("unterminated string")?;
            self.i += 1;
            match c {
                0x22 => return Ok(out),
                0x5C => {
                    let e = *self.s.get(self.i).ok_or("bad escape")?;
                    self.i += 1;
                    match e {
                        0x22 | 0x5C | 0x2F => out.push(e),
                        0x62 => out.push(0x08),
                        0x66 => out.push(0x0C),
                        0x6E => out.push(0x0A),
                        0x72 => out.push(0x0D),
                        0x74 => out.push(0x09),
                        0x75 => {
                            let u = self.hex4()?;
                            // CPython joins a high-surrogate escape with an
                            // immediately following low-surrogate escape.
                            if (0xD800..=0xDBFF).contains(&u)
                                && self.s.get(self.i) == Some(&0x5C)
                                && self.s.get(self.i + 1) == Some(&0x75)
                            {
                                let save = self.i;
                                self.i += 2;
                                let lo = self.hex4()?;
                                if (0xDC00..=0xDFFF).contains(&lo) {
                                    out.push(0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00));
                                    continue;
                                }
                                self.i = save;
                            }
                            out.push(u);
                        }
                        _ => return Err("bad escape".into()),
                    }
                }
                c if c < 0x20 => return Err("control char in string".into()),
                c => out.push(c),
            }
        }
    }
}

/// One event with owned data.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnedEvent {
    /// `float(t)`.
    pub t: f64,
    /// Channel.
    pub ch: Channel,
    /// Python chars.
    pub data: Vec<Char>,
}

/// Borrow owned events as engine events.
pub fn events_of(evs: &[OwnedEvent]) -> Vec<Event<'_>> {
    evs.iter().map(|e| Event::new(e.t, e.ch, &e.data)).collect()
}

/// `float(x)` for a JSON value Python accepts as `t` (numbers and bools).
fn py_float(v: &J) -> Option<f64> {
    match v {
        J::Num(x) => Some(*x),
        J::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

/// The spec §1.8 event validator on a parsed line (for well-formed fixtures).
fn shard_event(obj: &J) -> Option<OwnedEvent> {
    if obj.get("hdr").is_some() {
        return None;
    }
    let t = py_float(obj.get("t")?)?;
    let ch = match obj.get("ch")?.text()?.as_str() {
        "i" => Channel::Input,
        "o" => Channel::Output,
        _ => return None,
    };
    let data = match obj.get("d") {
        None => Vec::new(),
        Some(J::Str(s)) => s.clone(),
        Some(_) => return None,
    };
    Some(OwnedEvent { t, ch, data })
}

/// Every session of a shard, in first-appearance order of its sid, read the
/// way spec §1.8 (and the oracle's `shard` mode) reads them.
pub fn shard_sessions(bytes: &[u8]) -> Vec<(String, Vec<OwnedEvent>)> {
    let text = decode_surrogateescape(bytes);
    let mut out: Vec<(String, Vec<OwnedEvent>)> = Vec::new();
    for line in text.split(|&c| c == 0x0A) {
        let Ok(obj) = parse_json(line) else { continue };
        if !matches!(obj, J::Obj(_)) || obj.get("hdr").is_some() {
            continue;
        }
        let Some(sid) = obj.get("sid").and_then(J::text) else {
            continue;
        };
        let idx = match out.iter().position(|(s, _)| *s == sid) {
            Some(i) => i,
            None => {
                out.push((sid, Vec::new()));
                out.len() - 1
            }
        };
        if let Some(ev) = shard_event(&obj) {
            out[idx].1.push(ev);
        }
    }
    out
}

/// The events of an oracle `events`-mode request line (`[[t, ch, d], ...]`).
pub fn request_events(req: &J) -> Vec<OwnedEvent> {
    req.get("events")
        .expect("events")
        .arr()
        .iter()
        .map(|e| {
            let a = e.arr();
            let ch = match a[1].text().as_deref() {
                Some("i") => Channel::Input,
                Some("o") => Channel::Output,
                other => panic!("fixture channel {other:?}"),
            };
            let data = match &a[2] {
                J::Str(s) => s.clone(),
                other => panic!("fixture data {other:?}"),
            };
            OwnedEvent {
                t: py_float(&a[0]).expect("t"),
                ch,
                data,
            }
        })
        .collect()
}

/// What the oracle said for one session (compact form written by
/// fixtures/regen.py).
#[derive(Clone, Debug)]
pub struct Expected {
    /// Session id.
    pub sid: String,
    /// The exception class name when the reference raised.
    pub error: Option<String>,
    /// Window, present when there are observations.
    pub window: Option<(f64, f64)>,
    /// `(primitive, value, confidence)` in emission order.
    pub observations: Vec<(String, String, f64)>,
}

/// Parse a compact expected line.
pub fn parse_expected(line: &J) -> Expected {
    let obs = line
        .get("observations")
        .map(|o| {
            o.arr()
                .iter()
                .map(|t| {
                    let a = t.arr();
                    (
                        a[0].text().expect("primitive"),
                        a[1].text().expect("value"),
                        a[2].num().expect("conf"),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let window = match (
        line.get("start_ts").and_then(J::num),
        line.get("end_ts").and_then(J::num),
    ) {
        (Some(a), Some(b)) => Some((a, b)),
        _ => None,
    };
    Expected {
        sid: line.get("sid").and_then(J::text).expect("sid"),
        error: line.get("error").and_then(J::text),
        window,
        observations: obs,
    }
}

/// Bit-identical, except that any NaN equals any NaN (Python and Rust may
/// pick different NaN payloads; both mean "not a number").
pub fn same_f64(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Compare our result with the oracle's, value for value (spec §0.2).
/// Returns one human-readable line per difference.
pub fn compare(ours: &Result<Extraction, ExtractError>, want: &Expected) -> Vec<String> {
    let sid = &want.sid;
    let mut diffs = Vec::new();
    match (ours, &want.error) {
        (Err(e), Some(err)) => {
            let a7 = err == "UnicodeEncodeError";
            if a7 != (e.as_str() == "first_token_not_utf8") {
                diffs.push(format!(
                    "{sid}: ours Err({}) vs oracle raised {err}",
                    e.as_str()
                ));
            }
        }
        (Err(e), None) => diffs.push(format!(
            "{sid}: ours Err({}) vs oracle {} observations",
            e.as_str(),
            want.observations.len()
        )),
        (Ok(x), Some(err)) => diffs.push(format!(
            "{sid}: ours Ok({} observations) vs oracle raised {err} (reference emits nothing)",
            x.observations.len()
        )),
        (Ok(x), None) => {
            let got: Vec<(String, String, f64)> = x
                .observations
                .iter()
                .map(|o| {
                    (
                        o.primitive.as_str().to_string(),
                        o.value.as_str().to_string(),
                        o.confidence,
                    )
                })
                .collect();
            let n = got.len().max(want.observations.len());
            for i in 0..n {
                match (got.get(i), want.observations.get(i)) {
                    (Some(g), Some(w))
                        if g.0 == w.0 && g.1 == w.1 && g.2.to_bits() == w.2.to_bits() => {}
                    (g, w) => {
                        diffs.push(format!("{sid}: #{i} ours {g:?} vs oracle {w:?}"));
                        break; // later positions are shifted; the first difference says it all
                    }
                }
            }
            if let (Some((a, b)), false) = (want.window, x.observations.is_empty()) {
                if !same_f64(x.t_start, a) || !same_f64(x.t_end, b) {
                    diffs.push(format!(
                        "{sid}: window ours ({:?}, {:?}) vs oracle ({a:?}, {b:?})",
                        x.t_start, x.t_end
                    ));
                }
            }
        }
    }
    diffs
}

/// Python's `json.dumps` (ensure_ascii) of a code-point string: lone
/// surrogates as `\udcXX`, non-BMP as a pair.
pub fn py_json_string(s: &[Char], out: &mut String) {
    use std::fmt::Write;
    out.push('"');
    for &c in s {
        match c {
            0x22 => out.push_str("\\\""),
            0x5C => out.push_str("\\\\"),
            0x0A => out.push_str("\\n"),
            0x0D => out.push_str("\\r"),
            0x09 => out.push_str("\\t"),
            0x20..=0x7E => out.push(c as u8 as char),
            0x10000.. => {
                let v = c - 0x10000;
                let _ = write!(
                    out,
                    "\\u{:04x}\\u{:04x}",
                    0xD800 + (v >> 10),
                    0xDC00 + (v & 0x3FF)
                );
            }
            _ => {
                let _ = write!(out, "\\u{c:04x}");
            }
        }
    }
    out.push('"');
}

/// A float as Python's json module writes it (`NaN`, `Infinity`, repr).
pub fn py_json_float(x: f64, out: &mut String) {
    if x.is_nan() {
        out.push_str("NaN");
    } else if x.is_infinite() {
        out.push_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        // Debug gives the shortest round-trip digits, always a valid JSON number.
        out.push_str(&format!("{x:?}"));
    }
}

/// Compare our session context with the oracle's `context` output (spec §2).
/// Returns one line per differing field.
pub fn context_diffs(
    ctx: &driftlake::extract::behave::ctx::SessionCtx<'_>,
    want: &J,
) -> Vec<String> {
    let mut d = Vec::new();
    let f = |k: &str| {
        want.get(k)
            .and_then(J::num)
            .unwrap_or_else(|| panic!("context.{k}"))
    };
    let fl = |k: &str| -> Vec<f64> {
        want.get(k)
            .expect(k)
            .arr()
            .iter()
            .map(|x| x.num().expect(k))
            .collect()
    };
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let mut chk = |name: &str, ok: bool, ours: String, theirs: String| {
        if !ok {
            d.push(format!("{name}: ours {ours} vs oracle {theirs}"));
        }
    };
    chk(
        "inputs",
        ctx.inputs.len() as f64 == f("inputs"),
        ctx.inputs.len().to_string(),
        f("inputs").to_string(),
    );
    chk(
        "outputs",
        ctx.outputs.len() as f64 == f("outputs"),
        ctx.outputs.len().to_string(),
        f("outputs").to_string(),
    );
    for (k, v) in [
        ("t_start", ctx.t_start),
        ("t_end", ctx.t_end),
        ("duration_s", ctx.duration_s),
    ] {
        chk(
            k,
            same_f64(v, f(k)),
            format!("{v:?}"),
            format!("{:?}", f(k)),
        );
    }
    for (k, v) in [
        ("iats", &ctx.iats),
        ("backspace_iats", &ctx.backspace_iats),
        ("inter_cmd_iats", &ctx.inter_cmd_iats),
    ] {
        chk(
            k,
            bits(v) == bits(&fl(k)),
            format!("{v:?}"),
            format!("{:?}", fl(k)),
        );
    }
    let opc: Vec<f64> = ctx.output_per_cmd.iter().map(|&x| x as f64).collect();
    chk(
        "output_per_cmd",
        opc == fl("output_per_cmd"),
        format!("{opc:?}"),
        format!("{:?}", fl("output_per_cmd")),
    );
    for (k, v) in [
        ("paste_event_count", ctx.paste_event_count as f64),
        ("backspace_count", ctx.backspace_count as f64),
        ("kill_line_count", ctx.kill_line_count as f64),
        ("typed_letter_count", f64::from(ctx.typed_letter_count)),
        ("obscenity_hits", f64::from(ctx.obscenity_hits)),
        ("positive_lex_hits", f64::from(ctx.positive_hits)),
        ("negative_lex_hits", f64::from(ctx.negative_hits)),
        ("caps_run_max", f64::from(ctx.caps_run_max)),
        ("bang_run_max", f64::from(ctx.bang_run_max)),
    ] {
        chk(k, v == f(k), v.to_string(), f(k).to_string());
    }
    let nested = |k: &str| -> Vec<Vec<u64>> {
        want.get(k)
            .expect(k)
            .arr()
            .iter()
            .map(|b| {
                b.arr()
                    .iter()
                    .map(|x| x.num().expect(k).to_bits())
                    .collect()
            })
            .collect()
    };
    let tb: Vec<Vec<u64>> = ctx.typing_bursts.iter().map(&bits).collect();
    chk(
        "typing_bursts",
        tb == nested("typing_bursts"),
        format!("{:?}", ctx.typing_bursts),
        "(see fixture)".into(),
    );
    let ic: Vec<Vec<u64>> = ctx.intra_command_iats.iter().map(&bits).collect();
    chk(
        "intra_command_iats",
        ic == nested("intra_command_iats"),
        format!("{:?}", ctx.intra_command_iats),
        "(see fixture)".into(),
    );
    let cmds = want.get("commands").expect("commands").arr();
    chk(
        "commands.len",
        ctx.commands.len() == cmds.len(),
        ctx.commands.len().to_string(),
        cmds.len().to_string(),
    );
    for (i, (c, w)) in ctx.commands.iter().zip(cmds).enumerate() {
        let hash: String = c
            .first_token_hash
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let fields = [
            (
                "start_ts",
                same_f64(
                    c.start_ts,
                    w.get("start_ts").and_then(J::num).expect("start_ts"),
                ),
            ),
            (
                "end_ts",
                same_f64(c.end_ts, w.get("end_ts").and_then(J::num).expect("end_ts")),
            ),
            (
                "hash",
                Some(hash.clone()) == w.get("hash").and_then(J::text),
            ),
            (
                "tabs",
                Some(f64::from(c.tab_count)) == w.get("tabs").and_then(J::num),
            ),
            (
                "shortcuts",
                Some(f64::from(c.shortcut_count)) == w.get("shortcuts").and_then(J::num),
            ),
            (
                "pipes",
                Some(f64::from(c.pipe_count)) == w.get("pipes").and_then(J::num),
            ),
            ("errored", Some(&J::Bool(c.errored)) == w.get("errored")),
            (
                "output_bytes",
                Some(c.output_chars as f64) == w.get("output_bytes").and_then(J::num),
            ),
            (
                "prompt",
                Some(&J::Bool(c.followed_by_prompt)) == w.get("prompt"),
            ),
        ];
        for (name, ok) in fields {
            chk(
                &format!("commands[{i}].{name}"),
                ok,
                format!("{c:?} hash {hash}"),
                format!("{w:?}"),
            );
        }
    }
    let pls = want.get("prompt_lines").expect("prompt_lines").arr();
    let ours: Vec<(Char, Vec<Char>)> = ctx
        .prompt_lines
        .iter()
        .map(|p| (p.suffix_char, p.raw_line.to_vec()))
        .collect();
    let theirs: Vec<(Char, Vec<Char>)> = pls
        .iter()
        .map(|p| {
            let J::Str(s) = p.get("suffix").expect("suffix") else {
                panic!("suffix")
            };
            let J::Str(r) = p.get("raw_line").expect("raw_line") else {
                panic!("raw_line")
            };
            (s[0], r.clone())
        })
        .collect();
    chk(
        "prompt_lines",
        ours == theirs,
        format!("{} lines", ours.len()),
        format!("{} lines", theirs.len()),
    );
    let mut uni = [0u32; 26];
    if let Some(J::Obj(m)) = want.get("unigram") {
        for (k, v) in m {
            let b = k.as_bytes()[0];
            uni[usize::from(b - b'a')] = v.num().expect("unigram") as u32;
        }
    }
    chk(
        "unigram",
        ctx.unigram == uni,
        format!("{:?}", ctx.unigram),
        format!("{uni:?}"),
    );
    let bi: Vec<([u8; 2], u32)> = want
        .get("bigram")
        .expect("bigram")
        .arr()
        .iter()
        .map(|p| {
            let a = p.arr();
            let k = a[0].text().expect("bigram key");
            let kb = k.as_bytes();
            ([kb[0], kb[1]], a[1].num().expect("bigram count") as u32)
        })
        .collect();
    // Order is irrelevant downstream (sums and lookups only); compare as sets.
    let (mut ob, mut wb) = (ctx.bigrams.clone(), bi);
    ob.sort_unstable();
    wb.sort_unstable();
    chk("bigrams", ob == wb, format!("{ob:?}"), format!("{wb:?}"));
    d
}
