//! A byte-level JSON reader with CPython 3.11 `json.loads` semantics.
//!
//! Why not serde_json: the reference reads a shard as text with
//! `errors="surrogateescape"` and then calls `json.loads` on each line
//! (behave-shell.md §1.8 steps 1–2, §1.9). So a line may hold invalid UTF-8
//! inside a string, which must become lone surrogates `U+DC80 + (b - 0x80)`;
//! `\uD800`-style escapes must stay lone surrogates; and the literals `NaN`,
//! `Infinity`, `-Infinity` are valid. serde_json rejects all three.
//!
//! What matches CPython (each checked against the oracle, see the tests):
//! * whitespace is only space, `\t`, `\n`, `\r`, before and after the value;
//!   a leading UTF-8 BOM is an error (`json.loads` raises "Unexpected UTF-8 BOM");
//! * strings: raw chars below U+0020 are errors (strict mode); escapes
//!   `\" \\ \/ \b \f \n \r \t \uXXXX` (hex in either case); a high-surrogate
//!   escape directly followed by a low-surrogate escape joins into one code
//!   point, any other surrogate escape stays a lone surrogate;
//! * invalid UTF-8 bytes each become one lone surrogate (surrogateescape,
//!   which with CPython's maximal-subpart decoding is "every byte that is not
//!   part of a well-formed sequence");
//! * numbers follow `-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?`; a number with a
//!   fraction or exponent is a float, parsed correctly rounded (Rust's
//!   `str::parse`, like CPython's `float()`), overflowing to ±inf; otherwise it
//!   is an int, and an int literal of more than 4300 digits is an error
//!   (CPython 3.11's `int_max_str_digits`, so `json.loads` raises);
//! * duplicate keys are all kept on the tape; readers take the last one,
//!   which is what a Python `dict` keeps;
//! * nesting deeper than [`MAX_DEPTH`] is an error (CPython raises
//!   `RecursionError`; see [`MAX_DEPTH`] for the exact bound).
//!
//! The parser writes a flat tape of [`Node`]s (the arrow-json `tape.rs`
//! idea) and appends string contents to a caller-owned `Vec<Char>`, so a
//! shard's payload text lives in one buffer and no line allocates once the
//! buffers have grown (STYLE.md §7).

use crate::model::event::Char;
use std::fmt;

/// Deepest accepted nesting of objects and arrays, the outermost counted as 1.
///
/// CPython's scanner recurses per container and raises `RecursionError` near
/// the interpreter's recursion limit (1000) minus the frames already on the
/// stack. Run through the oracle (`shard` mode), a line `{"x":[[…]]}` with
/// 989 inner arrays (depth 990) is read and one with 993+ inner arrays is
/// dropped; 990–992 make the reference raise for the whole shard, because
/// its second parse runs a few frames deeper. We accept depth ≤ 990 and
/// reject anything deeper as a syntax error (a deliberate, documented
/// simplification of a stack-depth artefact).
pub const MAX_DEPTH: usize = 990;

/// Longest int literal CPython 3.11 converts (`sys.int_info.default_max_str_digits`).
pub const MAX_INT_DIGITS: usize = 4300;

/// One node of a parsed line. Containers record where their subtree ends so
/// readers can skip values they do not need.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Node {
    /// An object with `len` members; its members follow as (key `Str`,
    /// value subtree) pairs and `end` is the index just past the object.
    Object {
        /// Number of members (duplicates included).
        len: usize,
        /// Index of the first node after this object's subtree.
        end: usize,
    },
    /// An array with `len` items; `end` as for objects.
    Array {
        /// Number of items.
        len: usize,
        /// Index of the first node after this array's subtree.
        end: usize,
    },
    /// A string held in the caller's char buffer at `start..start + len`.
    Str {
        /// Offset into the char buffer.
        start: usize,
        /// Length in chars.
        len: usize,
    },
    /// An int literal (no fraction, no exponent).
    Int {
        /// `float(n)`, correctly rounded; `±inf` means CPython's `float(n)`
        /// raises `OverflowError`. `-0` is `+0.0`, as Python ints have no
        /// negative zero.
        value: f64,
        /// The exact value when it fits an `i64`.
        exact: Option<i64>,
    },
    /// A float literal, or `NaN` / `Infinity` / `-Infinity`.
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
}

/// Why a line is not JSON. Carries a byte offset and a fixed message: never
/// any of the line's content (STYLE.md §3, lake.md PII).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JsonError {
    /// Byte offset in the line where parsing failed.
    pub offset: usize,
    /// What was wrong, as fixed text.
    pub what: &'static str,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.offset)
    }
}

impl std::error::Error for JsonError {}

fn err<T>(offset: usize, what: &'static str) -> Result<T, JsonError> {
    Err(JsonError { offset, what })
}

/// A reusable parse tape: parse one line, read it, parse the next.
#[derive(Debug, Default)]
pub struct Tape {
    nodes: Vec<Node>,
    stack: Vec<usize>,
}

#[inline]
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

#[inline]
fn skip_ws(b: &[u8], mut p: usize) -> usize {
    while p < b.len() && is_ws(b[p]) {
        p += 1;
    }
    p
}

#[inline]
fn hex4(b: &[u8], p: usize) -> Option<u32> {
    let s = b.get(p..p + 4)?;
    let mut v = 0u32;
    for &c in s {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return None,
        };
        v = (v << 4) | u32::from(d);
    }
    Some(v)
}

/// Length of the well-formed UTF-8 sequence starting at `b[p]` (a byte of
/// 0x80 or more) and its code point, or `None` when no well-formed sequence starts
/// there (Unicode Table 3-7, which CPython's decoder follows).
#[inline]
fn utf8_seq(b: &[u8], p: usize) -> Option<(usize, Char)> {
    let b0 = b[p];
    let cont = |i: usize, lo: u8, hi: u8| -> Option<u32> {
        let c = *b.get(p + i)?;
        (lo..=hi).contains(&c).then_some(u32::from(c & 0x3F))
    };
    match b0 {
        0xC2..=0xDF => Some((2, (u32::from(b0 & 0x1F) << 6) | cont(1, 0x80, 0xBF)?)),
        0xE0..=0xEF => {
            let (lo, hi) = match b0 {
                0xE0 => (0xA0, 0xBF),
                0xED => (0x80, 0x9F),
                _ => (0x80, 0xBF),
            };
            let c1 = cont(1, lo, hi)?;
            let c2 = cont(2, 0x80, 0xBF)?;
            Some((3, (u32::from(b0 & 0x0F) << 12) | (c1 << 6) | c2))
        }
        0xF0..=0xF4 => {
            let (lo, hi) = match b0 {
                0xF0 => (0x90, 0xBF),
                0xF4 => (0x80, 0x8F),
                _ => (0x80, 0xBF),
            };
            let c1 = cont(1, lo, hi)?;
            let c2 = cont(2, 0x80, 0xBF)?;
            let c3 = cont(3, 0x80, 0xBF)?;
            Some((
                4,
                (u32::from(b0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3,
            ))
        }
        _ => None,
    }
}

/// Decode `bytes` (no JSON involved) into chars with surrogateescape, as
/// Python's `bytes.decode("utf-8", "surrogateescape")` does.
pub fn decode_surrogateescape(bytes: &[u8], out: &mut Vec<Char>) {
    let mut p = 0;
    while p < bytes.len() {
        let c = bytes[p];
        if c < 0x80 {
            out.push(Char::from(c));
            p += 1;
        } else if let Some((n, cp)) = utf8_seq(bytes, p) {
            out.push(cp);
            p += n;
        } else {
            out.push(0xDC00 + Char::from(c));
            p += 1;
        }
    }
}

/// True when any byte of `w` is `"`, `\\`, below 0x20 or 0x80 and above.
#[inline]
fn swar_special(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte is zero iff (x - 1) & !x has its high bit set (the classic
    // "has zero byte" test, exact when no byte has its high bit set, which
    // the `w & HIGH` term already covers).
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    (w & HIGH) | below_space | zero(w ^ (ONES * 0x22)) | zero(w ^ (ONES * 0x5C)) != 0
}

/// Parse a JSON string body starting just after its opening quote; append
/// its chars to `out`; return the offset just past the closing quote.
fn parse_string(b: &[u8], mut p: usize, out: &mut Vec<Char>) -> Result<usize, JsonError> {
    let n = b.len();
    loop {
        let run = p;
        // Eight bytes at a time while none is special (SWAR): a quote, a
        // backslash, a control char or a non-ASCII byte stops the fast path.
        while let Some(w) = b.get(p..p + 8) {
            let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
            if swar_special(w) {
                break;
            }
            p += 8;
        }
        while p < n {
            let c = b[p];
            if c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c) {
                break;
            }
            p += 1;
        }
        out.extend(b[run..p].iter().map(|&c| Char::from(c)));
        let Some(&c) = b.get(p) else {
            return err(p, "unterminated string");
        };
        match c {
            b'"' => return Ok(p + 1),
            b'\\' => {
                let Some(&e) = b.get(p + 1) else {
                    return err(p, "unterminated string");
                };
                let simple = match e {
                    b'"' => Some(0x22),
                    b'\\' => Some(0x5C),
                    b'/' => Some(0x2F),
                    b'b' => Some(0x08),
                    b'f' => Some(0x0C),
                    b'n' => Some(0x0A),
                    b'r' => Some(0x0D),
                    b't' => Some(0x09),
                    b'u' => None,
                    _ => return err(p, "invalid \\escape"),
                };
                if let Some(ch) = simple {
                    out.push(ch);
                    p += 2;
                    continue;
                }
                let Some(u) = hex4(b, p + 2) else {
                    return err(p, "invalid \\uXXXX escape");
                };
                p += 6;
                if (0xD800..=0xDBFF).contains(&u)
                    && b.get(p) == Some(&b'\\')
                    && b.get(p + 1) == Some(&b'u')
                {
                    let Some(u2) = hex4(b, p + 2) else {
                        return err(p, "invalid \\uXXXX escape");
                    };
                    if (0xDC00..=0xDFFF).contains(&u2) {
                        out.push(0x10000 + ((u - 0xD800) << 10) + (u2 - 0xDC00));
                        p += 6;
                        continue;
                    }
                }
                out.push(u);
            }
            c if c < 0x20 => return err(p, "invalid control character in string"),
            c => {
                if let Some((len, cp)) = utf8_seq(b, p) {
                    out.push(cp);
                    p += len;
                } else {
                    // surrogateescape: one lone surrogate per invalid byte.
                    out.push(0xDC00 + Char::from(c));
                    p += 1;
                }
            }
        }
    }
}

/// Parse a number at `p` (a `-` or a digit). Returns the node and the offset
/// just past it.
fn parse_number(b: &[u8], start: usize) -> Result<(Node, usize), JsonError> {
    let n = b.len();
    let mut p = start;
    let neg = b[p] == b'-';
    if neg {
        if b[p + 1..].starts_with(b"Infinity") {
            return Ok((Node::Float(f64::NEG_INFINITY), p + 9));
        }
        p += 1;
    }
    match b.get(p) {
        Some(b'0') => p += 1,
        Some(b'1'..=b'9') => {
            p += 1;
            while p < n && b[p].is_ascii_digit() {
                p += 1;
            }
        }
        _ => return err(start, "expecting value"),
    }
    let int_end = p;
    let mut is_float = false;
    if p + 1 < n && b[p] == b'.' && b[p + 1].is_ascii_digit() {
        p += 2;
        while p < n && b[p].is_ascii_digit() {
            p += 1;
        }
        is_float = true;
    }
    if p < n && (b[p] == b'e' || b[p] == b'E') {
        let mut q = p + 1;
        if q < n && (b[q] == b'+' || b[q] == b'-') {
            q += 1;
        }
        if q < n && b[q].is_ascii_digit() {
            while q < n && b[q].is_ascii_digit() {
                q += 1;
            }
            p = q;
            is_float = true;
        }
        // else: CPython backs off to before the `e`; the caller then fails
        // on the leftover `e`, as `json.loads` does.
    }
    let text = std::str::from_utf8(&b[start..p]).expect("number literal bytes are ASCII");
    if is_float {
        let v: f64 = match text.parse() {
            Ok(v) => v,
            Err(_) => return err(start, "bad number"),
        };
        return Ok((Node::Float(v), p));
    }
    let digits = int_end - start - usize::from(neg);
    if digits > MAX_INT_DIGITS {
        return err(start, "int literal longer than 4300 digits");
    }
    let v: f64 = match text.parse() {
        Ok(v) => v,
        Err(_) => return err(start, "bad number"),
    };
    // Python ints have no -0: `float(json.loads("-0"))` is 0.0.
    let value = if v == 0.0 { 0.0 } else { v };
    Ok((
        Node::Int {
            value,
            exact: text.parse::<i64>().ok(),
        },
        p,
    ))
}

impl Tape {
    /// An empty tape.
    pub fn new() -> Self {
        Tape::default()
    }

    /// Parse one complete JSON text. String contents are appended to
    /// `chars`; on error `chars` may have grown and the caller truncates it.
    pub fn parse(&mut self, line: &[u8], chars: &mut Vec<Char>) -> Result<(), JsonError> {
        self.nodes.clear();
        self.stack.clear();
        let b = line;
        let n = b.len();
        if b.starts_with(&[0xEF, 0xBB, 0xBF]) {
            return err(0, "unexpected UTF-8 BOM");
        }
        let mut p = skip_ws(b, 0);
        'value: loop {
            // A value starts at p.
            let Some(&c) = b.get(p) else {
                return err(p, "expecting value");
            };
            let literal =
                |word: &[u8], node: Node, nodes: &mut Vec<Node>| -> Result<usize, JsonError> {
                    if b[p..].starts_with(word) {
                        nodes.push(node);
                        Ok(p + word.len())
                    } else {
                        err(p, "expecting value")
                    }
                };
            match c {
                b'{' | b'[' => {
                    let idx = self.nodes.len();
                    self.nodes.push(if c == b'{' {
                        Node::Object { len: 0, end: 0 }
                    } else {
                        Node::Array { len: 0, end: 0 }
                    });
                    self.stack.push(idx);
                    if self.stack.len() > MAX_DEPTH {
                        return err(p, "nesting too deep");
                    }
                    p = skip_ws(b, p + 1);
                    let close = if c == b'{' { b'}' } else { b']' };
                    if b.get(p) == Some(&close) {
                        p += 1;
                        self.close_top();
                    } else {
                        if c == b'{' {
                            p = self.member_key(b, p, chars)?;
                        } else {
                            self.bump_len();
                        }
                        continue 'value;
                    }
                }
                b'"' => {
                    let start = chars.len();
                    p = parse_string(b, p + 1, chars)?;
                    self.nodes.push(Node::Str {
                        start,
                        len: chars.len() - start,
                    });
                }
                b'-' | b'0'..=b'9' => {
                    let (node, q) = parse_number(b, p)?;
                    self.nodes.push(node);
                    p = q;
                }
                b'n' => p = literal(b"null", Node::Null, &mut self.nodes)?,
                b't' => p = literal(b"true", Node::Bool(true), &mut self.nodes)?,
                b'f' => p = literal(b"false", Node::Bool(false), &mut self.nodes)?,
                b'N' => p = literal(b"NaN", Node::Float(f64::NAN), &mut self.nodes)?,
                b'I' => p = literal(b"Infinity", Node::Float(f64::INFINITY), &mut self.nodes)?,
                _ => return err(p, "expecting value"),
            }
            // A value ended at p: close containers or move to the next member.
            loop {
                let Some(&top) = self.stack.last() else {
                    p = skip_ws(b, p);
                    if p != n {
                        return err(p, "extra data");
                    }
                    return Ok(());
                };
                p = skip_ws(b, p);
                let is_obj = matches!(self.nodes[top], Node::Object { .. });
                match b.get(p) {
                    Some(b',') => {
                        p = skip_ws(b, p + 1);
                        if is_obj {
                            p = self.member_key(b, p, chars)?;
                        } else {
                            self.bump_len();
                        }
                        continue 'value;
                    }
                    Some(b'}') if is_obj => {
                        p += 1;
                        self.close_top();
                    }
                    Some(b']') if !is_obj => {
                        p += 1;
                        self.close_top();
                    }
                    _ => {
                        return err(
                            p,
                            if is_obj {
                                "expecting ',' or '}'"
                            } else {
                                "expecting ',' or ']'"
                            },
                        );
                    }
                }
            }
        }
    }

    /// Parse `"key" ws : ws` at `p` inside the object on top of the stack.
    fn member_key(
        &mut self,
        b: &[u8],
        p: usize,
        chars: &mut Vec<Char>,
    ) -> Result<usize, JsonError> {
        if b.get(p) != Some(&b'"') {
            return err(p, "expecting property name in double quotes");
        }
        let start = chars.len();
        let q = parse_string(b, p + 1, chars)?;
        self.nodes.push(Node::Str {
            start,
            len: chars.len() - start,
        });
        let q = skip_ws(b, q);
        if b.get(q) != Some(&b':') {
            return err(q, "expecting ':' delimiter");
        }
        self.bump_len();
        Ok(skip_ws(b, q + 1))
    }

    fn bump_len(&mut self) {
        if let Some(&top) = self.stack.last() {
            if let Node::Object { len, .. } | Node::Array { len, .. } = &mut self.nodes[top] {
                *len += 1;
            }
        }
    }

    fn close_top(&mut self) {
        if let Some(top) = self.stack.pop() {
            let after = self.nodes.len();
            if let Node::Object { end, .. } | Node::Array { end, .. } = &mut self.nodes[top] {
                *end = after;
            }
        }
    }

    /// Node `i` (0 is the root after a successful parse).
    ///
    /// # Panics
    /// If `i` is out of range: indices come from this tape's own accessors.
    pub fn node(&self, i: usize) -> Node {
        self.nodes[i]
    }

    /// Number of nodes on the tape.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True before the first successful parse.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Index just past the subtree rooted at `i`.
    pub fn skip(&self, i: usize) -> usize {
        match self.nodes[i] {
            Node::Object { end, .. } | Node::Array { end, .. } => end,
            _ => i + 1,
        }
    }

    /// The (key node, value node) pairs of object `obj`, in text order,
    /// duplicates included. Empty if `obj` is not an object.
    pub fn members(&self, obj: usize) -> Members<'_> {
        let (pos, end) = match self.nodes.get(obj) {
            Some(Node::Object { end, .. }) => (obj + 1, *end),
            _ => (0, 0),
        };
        Members {
            tape: self,
            pos,
            end,
        }
    }

    /// The item nodes of array `arr`. Empty if `arr` is not an array.
    pub fn items(&self, arr: usize) -> Items<'_> {
        let (pos, end) = match self.nodes.get(arr) {
            Some(Node::Array { end, .. }) => (arr + 1, *end),
            _ => (0, 0),
        };
        Items {
            tape: self,
            pos,
            end,
        }
    }

    /// The value of the **last** member of `obj` named `key` (Python dict
    /// semantics for duplicate keys).
    pub fn get(&self, obj: usize, key: &str, chars: &[Char]) -> Option<usize> {
        let mut found = None;
        for (k, v) in self.members(obj) {
            if self.str_is(k, chars, key) {
                found = Some(v);
            }
        }
        found
    }

    /// The chars of string node `i`, `None` if it is not a string.
    pub fn str_chars<'c>(&self, i: usize, chars: &'c [Char]) -> Option<&'c [Char]> {
        match self.nodes.get(i) {
            Some(Node::Str { start, len }) => chars.get(*start..*start + *len),
            _ => None,
        }
    }

    /// True when node `i` is a string equal to `s`.
    pub fn str_is(&self, i: usize, chars: &[Char], s: &str) -> bool {
        match self.str_chars(i, chars) {
            Some(cs) => {
                cs.len() == s.len() && cs.iter().zip(s.bytes()).all(|(&c, b)| c == Char::from(b))
            }
            None => false,
        }
    }
}

/// Iterator over an object's (key, value) node indices.
#[derive(Debug)]
pub struct Members<'t> {
    tape: &'t Tape,
    pos: usize,
    end: usize,
}

impl Iterator for Members<'_> {
    type Item = (usize, usize);
    fn next(&mut self) -> Option<(usize, usize)> {
        if self.pos >= self.end {
            return None;
        }
        let k = self.pos;
        let v = k + 1;
        self.pos = self.tape.skip(v);
        Some((k, v))
    }
}

/// Iterator over an array's item node indices.
#[derive(Debug)]
pub struct Items<'t> {
    tape: &'t Tape,
    pos: usize,
    end: usize,
}

impl Iterator for Items<'_> {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        if self.pos >= self.end {
            return None;
        }
        let i = self.pos;
        self.pos = self.tape.skip(i);
        Some(i)
    }
}

/// Chars to a Rust `String`, lone surrogates becoming U+FFFD (for header
/// metadata such as TERM, never for event payloads).
pub fn chars_to_string_lossy(cs: &[Char]) -> String {
    cs.iter()
        .map(|&c| char::from_u32(c).unwrap_or('\u{FFFD}'))
        .collect()
}

/// Chars to a `String` when every char is a Unicode scalar value.
pub fn chars_to_string(cs: &[Char]) -> Option<String> {
    cs.iter().map(|&c| char::from_u32(c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &[u8]) -> Result<(Tape, Vec<Char>), JsonError> {
        let mut t = Tape::new();
        let mut c = Vec::new();
        t.parse(s, &mut c)?;
        Ok((t, c))
    }

    fn string_of(s: &[u8]) -> Vec<Char> {
        let (t, c) = parse(s).unwrap();
        t.str_chars(0, &c).unwrap().to_vec()
    }

    fn num(s: &str) -> Node {
        let (t, _) = parse(s.as_bytes()).unwrap();
        t.node(0)
    }

    // Expected values below were confirmed with CPython 3.11.7's json.loads
    // (the oracle's interpreter), e.g. `json.loads(b'"\xff"'.decode('utf-8',
    // 'surrogateescape'))`.

    #[test]
    fn surrogateescape_of_invalid_bytes() {
        // FF; E2 82 (cut sequence) then 'A'; ED A0 80 (encoded surrogate,
        // ill-formed); F0 9F 98 80 (U+1F600); trailing C3.
        let got = string_of(b"\"\xff\xe2\x82A\xed\xa0\x80\xf0\x9f\x98\x80\xc3\"");
        assert_eq!(
            got,
            vec![0xDCFF, 0xDCE2, 0xDC82, 0x41, 0xDCED, 0xDCA0, 0xDC80, 0x1F600, 0xDCC3]
        );
        let mut v = Vec::new();
        decode_surrogateescape(b"\xc3\xa9\xc0\xaf", &mut v);
        assert_eq!(v, vec![0xE9, 0xDCC0, 0xDCAF]);
    }

    #[test]
    fn escapes_and_surrogate_pairs() {
        assert_eq!(
            string_of(br#""\/\b\f\n\r\t\"\\\u00e9\u00E9""#),
            vec![0x2F, 8, 0xC, 0xA, 0xD, 9, 0x22, 0x5C, 0xE9, 0xE9]
        );
        assert_eq!(string_of(br#""\ud83d\ude00""#), vec![0x1F600]);
        assert_eq!(string_of(br#""\ud800\u0041""#), vec![0xD800, 0x41]);
        assert_eq!(
            string_of(br#""\udbff\udfff\ud800""#),
            vec![0x10FFFF, 0xD800]
        );
        assert_eq!(string_of(br#""\ud800\ud800\udc00""#), vec![0xD800, 0x10000]);
        assert_eq!(string_of(br#""\udc00\ud800""#), vec![0xDC00, 0xD800]);
        // An escape is not joined with a following raw (surrogate-escaped) byte.
        assert_eq!(
            string_of(b"\"\\ud800\xed\xb0\x80\""),
            vec![0xD800, 0xDCED, 0xDCB0, 0xDC80]
        );
        for bad in [
            &br#""\x""#[..],
            br#""\u12""#,
            br#""\u12G4""#,
            br#""\ud800\uZZZZ""#,
            b"\"a\tb\"",
            b"\"a\x00\"",
            b"\"abc",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        // DEL is not a control char for json.
        assert_eq!(string_of(b"\"a\x7f\""), vec![0x61, 0x7F]);
    }

    #[test]
    fn numbers() {
        assert_eq!(num("1E5"), Node::Float(1e5));
        assert_eq!(
            num("-0"),
            Node::Int {
                value: 0.0,
                exact: Some(0)
            }
        );
        assert!(matches!(num("-0"), Node::Int { value, .. } if value.is_sign_positive()));
        assert!(matches!(num("-0.0"), Node::Float(v) if v == 0.0 && v.is_sign_negative()));
        assert!(matches!(num("-1e-400"), Node::Float(v) if v == 0.0 && v.is_sign_negative()));
        assert_eq!(num("1e400"), Node::Float(f64::INFINITY));
        assert_eq!(num("-Infinity"), Node::Float(f64::NEG_INFINITY));
        assert!(matches!(num("NaN"), Node::Float(v) if v.is_nan()));
        assert_eq!(num("4.9e-324"), Node::Float(5e-324));
        // Correct rounding of a long decimal (the default serde_json parser is
        // allowed to be an ulp off here, spec §1.8).
        assert_eq!(num("2.4183070000000000000000001"), Node::Float(2.418307));
        assert_eq!(
            num("9007199254740993"),
            Node::Int {
                value: 9007199254740992.0,
                exact: Some(9007199254740993)
            }
        );
        let big = format!("1{}", "0".repeat(400));
        assert!(matches!(num(&big), Node::Int { value, exact: None } if value == f64::INFINITY));
        let ok = "1".repeat(4300);
        assert!(parse(ok.as_bytes()).is_ok());
        assert!(parse(format!("-{ok}").as_bytes()).is_ok());
        assert!(parse(format!("{ok}1").as_bytes()).is_err());
        // The digit limit is for ints only.
        assert!(parse(format!("{ok}1.5").as_bytes()).is_ok());
        for bad in [
            "01", "1.", "-", "+1", ".5", "1e", "1e+", "-NaN", "nan", "infinity", "1.e5", "--1",
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn structure_and_whitespace() {
        let (t, c) = parse(b" \t{\"a\" : [1, {\"b\":null}, true] , \"a\":\"x\"} \r\n").unwrap();
        assert!(matches!(t.node(0), Node::Object { len: 2, .. }));
        let v = t.get(0, "a", &c).unwrap();
        assert_eq!(t.str_chars(v, &c).unwrap(), &[0x78]);
        let first = t.members(0).next().unwrap().1;
        let items: Vec<Node> = t.items(first).map(|i| t.node(i)).collect();
        assert_eq!(items.len(), 3);
        assert!(matches!(items[1], Node::Object { len: 1, .. }));
        assert_eq!(items[2], Node::Bool(true));
        assert_eq!(t.skip(0), t.len());
        for bad in [
            &b"\xef\xbb\xbf{}"[..],
            b"\x0c{}",
            b"{}\x0b",
            b"{,}",
            b"{\"a\":1,}",
            b"[1,]",
            b"[1 2]",
            b"{\"a\" 1}",
            b"{'a':1}",
            b"{} {}",
            b"",
            b"   ",
            b"{\"a\":1",
            b"[",
            b"tru",
            b"nul",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert!(parse(b"[]").is_ok());
        assert!(parse(b"\"s\"").is_ok());
    }

    proptest::proptest! {
        #[test]
        fn swar_matches_bytewise(w in proptest::prelude::any::<[u8; 8]>()) {
            let slow = w.iter().any(|&c| c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c));
            proptest::prop_assert_eq!(swar_special(u64::from_le_bytes(w)), slow);
        }
    }

    #[test]
    fn swar_edges() {
        for c in 0u8..=255 {
            let special = c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c);
            for pos in 0..8 {
                let mut w = [b'a'; 8];
                w[pos] = c;
                assert_eq!(
                    swar_special(u64::from_le_bytes(w)),
                    special,
                    "byte {c:#x} at {pos}"
                );
            }
        }
    }

    #[test]
    fn depth_limit() {
        let ok = format!(
            "{{\"x\":{}{}}}",
            "[".repeat(MAX_DEPTH - 1),
            "]".repeat(MAX_DEPTH - 1)
        );
        assert!(parse(ok.as_bytes()).is_ok());
        let deep = format!(
            "{{\"x\":{}{}}}",
            "[".repeat(MAX_DEPTH),
            "]".repeat(MAX_DEPTH)
        );
        assert_eq!(parse(deep.as_bytes()).unwrap_err().what, "nesting too deep");
        // Far deeper input must not overflow our stack either.
        let huge = "[".repeat(1_000_000);
        assert!(parse(huge.as_bytes()).is_err());
    }
}
