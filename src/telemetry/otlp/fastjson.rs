//! OTLP/JSON spans and logs → [`Batch`] in one pass over the record's text.
//!
//! The common record (what the OpenTelemetry Collector's file exporter
//! writes: `resourceSpans` or `resourceLogs`, hex ids, 64-bit integers as
//! strings, integer enums, no unknown keys) is read here without building
//! the `opentelemetry-proto` structs: strings are borrowed from the text
//! unless they hold escapes, ids stay hex text, and nothing is allocated
//! but the views' lists.
//!
//! [`parse`] accepts only records on which it is certain to agree with the
//! serde path of [`super::json`] (what `opentelemetry-proto`'s derives
//! accept, and the same values). Anything else returns `None` and the
//! caller takes the serde path, which decides and explains: metrics,
//! unknown or repeated keys, `null` where the structs do not take it,
//! `bytesValue`, numbers outside the field's type, ids that are not plain
//! hex, surrogate escapes that do not pair, nesting deeper than
//! [`MAX_DEPTH`], and any JSON error. A test holds the two paths to the same
//! view on every record the fast path takes, and holds it to `None`
//! wherever serde fails.

use std::borrow::Cow;

use super::view::{Any, Batch, Event, Id, Kv, Link, Log, Resourced, Scope, Span, Text};

/// Deepest nesting of objects and arrays read here. serde_json stops at
/// 128; anything deeper than this goes to the serde path, which decides.
pub const MAX_DEPTH: u32 = 100;

/// The spans and logs of one record, or `None` when the serde path must
/// decide (see the module docs).
pub fn parse(text: &str) -> Option<Batch<'_>> {
    let mut p = P {
        s: text,
        b: text.as_bytes(),
        i: 0,
        depth: 0,
    };
    let mut out = Batch::default();
    p.fields(&[b"resourceSpans", b"resourceLogs"], |p, i| {
        if p.null() {
            return Some(());
        }
        p.array(|p| {
            if i == 0 {
                out.spans
                    .push(p.resourced(b"scopeSpans", b"spans", P::span)?);
            } else {
                out.logs
                    .push(p.resourced(b"scopeLogs", b"logRecords", P::log)?);
            }
            Some(())
        })
    })?;
    p.ws();
    (p.i == p.b.len()).then_some(out)
}

/// The parser: the text, its bytes, the position and the nesting depth.
struct P<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
    depth: u32,
}

impl<'a> P<'a> {
    fn ws(&mut self) {
        while self.b.get(self.i).is_some_and(|&c| super::json::is_ws(c)) {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        if self.peek()? == c {
            self.i += 1;
            Some(())
        } else {
            None
        }
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        if self.peek() == word.first().copied() && self.b[self.i..].starts_with(word) {
            self.i += word.len();
            true
        } else {
            false
        }
    }

    /// `null`, consumed; false (nothing consumed) for anything else.
    fn null(&mut self) -> bool {
        self.literal(b"null")
    }

    /// A sequence between `open` and `close`, items separated by commas:
    /// `item` reads each; one level of nesting deeper.
    fn seq(
        &mut self,
        open: u8,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        self.eat(open)?;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        if self.peek()? != close {
            loop {
                item(self)?;
                match self.peek()? {
                    b',' => self.i += 1,
                    c if c == close => break,
                    _ => return None,
                }
            }
        }
        self.i += 1;
        self.depth -= 1;
        Some(())
    }

    /// An object: `f` reads the value of each key (keys without escapes).
    fn object(&mut self, mut f: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        self.seq(b'{', b'}', |p| {
            p.eat(b'"')?;
            // A key we read is plain ASCII: a quote ends it; an escape
            // (or any key we do not know) refuses the record.
            let start = p.i;
            let end = start + memchr::memchr(b'"', &p.b[start..])?;
            p.i = end + 1;
            p.eat(b':')?;
            let b = p.b;
            f(p, &b[start..end])
        })
    }

    /// An array: `f` reads each item.
    fn array(&mut self, f: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.seq(b'[', b']', f)
    }

    /// The next run of plain string bytes from `self.i`: its end (at `"` or
    /// `\`), or `None` at a raw control char or the end of the text.
    fn plain_run(&self) -> Option<usize> {
        let start = self.i;
        let end = start + memchr::memchr2(b'"', b'\\', &self.b[start..])?;
        let ctl = self.b[start..end]
            .iter()
            .fold(false, |a, &c| a | (c < 0x20));
        (!ctl).then_some(end)
    }

    /// A string: borrowed when it holds no escape.
    fn string(&mut self) -> Option<Text<'a>> {
        self.eat(b'"')?;
        let s = self.s;
        let start = self.i;
        let mut end = self.plain_run()?;
        if self.b[end] == b'"' {
            self.i = end + 1;
            return Some(Cow::Borrowed(&s[start..end]));
        }
        let mut out = String::with_capacity(end - start + 16);
        loop {
            // Runs end at `"` or `\`: both ASCII, so every slice is on a
            // char boundary.
            out.push_str(&s[self.i..end]);
            self.i = end;
            if self.b[self.i] == b'"' {
                self.i += 1;
                return Some(Cow::Owned(out));
            }
            let e = *self.b.get(self.i + 1)?;
            self.i += 2;
            out.push(match e {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => self.unicode_escape()?,
                _ => return None,
            });
            end = self.plain_run()?;
        }
    }

    /// The char of a `\uXXXX` escape (after the `u`); a high surrogate
    /// must be followed by a low one (serde_json rejects lone ones).
    fn unicode_escape(&mut self) -> Option<char> {
        let c = self.hex4()?;
        if (0xD800..0xDC00).contains(&c) {
            if self.b.get(self.i..self.i + 2)? != b"\\u" {
                return None;
            }
            self.i += 2;
            let lo = self.hex4()?;
            if !(0xDC00..0xE000).contains(&lo) {
                return None;
            }
            return char::from_u32(0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00));
        }
        char::from_u32(c)
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.b.get(self.i..self.i + 4)?;
        let mut v = 0;
        for &c in h {
            v = (v << 4) | (c as char).to_digit(16)?;
        }
        self.i += 4;
        Some(v)
    }

    /// A number literal (RFC 8259 grammar): its text and whether it is an
    /// integer (no fraction, no exponent).
    fn number(&mut self) -> Option<(&'a str, bool)> {
        self.ws();
        let (b, s) = (self.b, self.s);
        let start = self.i;
        let mut i = start;
        let digits = |mut i: usize| {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            i
        };
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i)? {
            b'0' => i += 1,
            b'1'..=b'9' => i = digits(i + 1),
            _ => return None,
        }
        let mut int = true;
        if b.get(i) == Some(&b'.') {
            int = false;
            let d = digits(i + 1);
            if d == i + 1 {
                return None;
            }
            i = d;
        }
        if let Some(b'e' | b'E') = b.get(i) {
            int = false;
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            let d = digits(i);
            if d == i {
                return None;
            }
            i = d;
        }
        self.i = i;
        Some((&s[start..i], int))
    }

    /// An integer literal for a fixed-width field. `-0` is not one:
    /// serde_json reads it as a float.
    fn int_literal(&mut self) -> Option<&'a str> {
        let (t, int) = self.number()?;
        (int && t != "-0").then_some(t)
    }

    fn u32(&mut self) -> Option<u32> {
        self.int_literal()?.parse().ok()
    }

    fn i32(&mut self) -> Option<i32> {
        self.int_literal()?.parse().ok()
    }

    /// A 64-bit integer as `opentelemetry-proto` reads one: an integer
    /// literal in range, or a string that `T::from_str` reads.
    fn int64<T: std::str::FromStr>(&mut self) -> Option<T> {
        if self.peek()? == b'"' {
            return self.string()?.parse().ok();
        }
        self.int_literal()?.parse().ok()
    }

    /// A `fixed64` time.
    fn u64(&mut self) -> Option<u64> {
        self.int64()
    }

    fn bool(&mut self) -> Option<bool> {
        if self.literal(b"true") {
            Some(true)
        } else if self.literal(b"false") {
            Some(false)
        } else {
            None
        }
    }

    /// An id: hex digits, even in number.
    fn id(&mut self) -> Option<Id<'a>> {
        let t = self.string()?;
        let Cow::Borrowed(h) = t else { return None };
        (h.len() % 2 == 0 && h.bytes().all(|c| c.is_ascii_hexdigit())).then_some(Id::Hex(h))
    }

    /// An `AnyValue` object: exactly one known key.
    fn any(&mut self) -> Option<Any<'a>> {
        let mut out = None;
        self.object(|p, key| {
            if out.is_some() {
                return None;
            }
            out = Some(match key {
                b"stringValue" => Any::Str(p.string()?),
                b"boolValue" => Any::Bool(p.bool()?),
                b"intValue" => Any::Int(p.int64()?),
                b"doubleValue" => {
                    let v: f64 = p.number()?.0.parse().ok()?;
                    // serde_json rejects a literal that overflows.
                    Any::Double(v.is_finite().then_some(v)?)
                }
                b"arrayValue" => Any::Array(p.values(P::any)?),
                b"kvlistValue" => Any::Kvlist(p.values(P::kv)?),
                _ => return None,
            });
            Some(())
        })?;
        out
    }

    /// `{"values": [...]}`, the one required key.
    fn values<T>(&mut self, mut item: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        let mut out = None;
        self.fields(&[b"values"], |p, _| {
            out = Some(p.list(&mut item)?);
            Some(())
        })?;
        out
    }

    fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        let mut v = Vec::new();
        self.array(|p| {
            v.push(item(p)?);
            Some(())
        })?;
        Some(v)
    }

    /// An object of the keys `keys`: `read(p, i)` reads the value of
    /// `keys[i]`. An unknown or repeated key is `None`.
    fn fields(
        &mut self,
        keys: &[&[u8]],
        mut read: impl FnMut(&mut Self, usize) -> Option<()>,
    ) -> Option<()> {
        // serde's derives reject a repeated field.
        let mut seen = 0u32;
        self.object(|p, k| {
            let i = keys.iter().position(|x| *x == k)?;
            if seen & (1 << i) != 0 {
                return None;
            }
            seen |= 1 << i;
            read(p, i)
        })
    }

    /// A `KeyValue`: `key` required, `value` optional (or null).
    fn kv(&mut self) -> Option<Kv<'a>> {
        let (mut key, mut value) = (None, Any::Empty);
        self.fields(&[b"key", b"value"], |p, i| {
            match i {
                0 => key = Some(p.string()?),
                _ if p.null() => {}
                _ => value = p.any()?,
            }
            Some(())
        })?;
        Some(Kv { key: key?, value })
    }

    fn attrs(&mut self) -> Option<Vec<Kv<'a>>> {
        self.list(P::kv)
    }

    /// A `Resource` (or null): its attributes.
    fn resource(&mut self) -> Option<Vec<Kv<'a>>> {
        let mut attrs = Vec::new();
        if !self.null() {
            self.fields(&[b"attributes", b"droppedAttributesCount"], |p, i| {
                match i {
                    0 => attrs = p.attrs()?,
                    _ => drop(p.u32()?),
                }
                Some(())
            })?;
        }
        Some(attrs)
    }

    /// An `InstrumentationScope` (or null).
    fn scope(&mut self) -> Option<Scope<'a>> {
        let mut s = Scope::default();
        if !self.null() {
            let keys: [&[u8]; 4] = [
                b"name",
                b"version",
                b"attributes",
                b"droppedAttributesCount",
            ];
            self.fields(&keys, |p, i| {
                match i {
                    0 => s.name = p.string()?,
                    1 => s.version = p.string()?,
                    2 => s.attrs = p.attrs()?,
                    _ => drop(p.u32()?),
                }
                Some(())
            })?;
        }
        Some(s)
    }

    /// A `ResourceSpans` or `ResourceLogs`: the resource, then each scope
    /// (`scopes_key`) with its records (`records_key`, read by `record`).
    fn resourced<T>(
        &mut self,
        scopes_key: &[u8],
        records_key: &[u8],
        mut record: impl FnMut(&mut Self) -> Option<T>,
    ) -> Option<Resourced<'a, T>> {
        let mut out = Resourced {
            resource: Vec::new(),
            scopes: Vec::new(),
        };
        self.fields(&[b"resource", scopes_key, b"schemaUrl"], |p, i| {
            match i {
                0 => out.resource = p.resource()?,
                1 => p.array(|p| {
                    let mut scope = Scope::default();
                    let mut records = Vec::new();
                    p.fields(&[b"scope", records_key, b"schemaUrl"], |p, i| {
                        match i {
                            0 => scope = p.scope()?,
                            1 => records = p.list(&mut record)?,
                            _ => drop(p.string()?),
                        }
                        Some(())
                    })?;
                    out.scopes.push((scope, records));
                    Some(())
                })?,
                _ => drop(p.string()?),
            }
            Some(())
        })?;
        Some(out)
    }

    fn span(&mut self) -> Option<Span<'a>> {
        const KEYS: [&[u8]; 16] = [
            b"traceId",
            b"spanId",
            b"traceState",
            b"parentSpanId",
            b"flags",
            b"name",
            b"kind",
            b"startTimeUnixNano",
            b"endTimeUnixNano",
            b"attributes",
            b"droppedAttributesCount",
            b"events",
            b"droppedEventsCount",
            b"links",
            b"droppedLinksCount",
            b"status",
        ];
        let mut s = Span::default();
        self.fields(&KEYS, |p, i| {
            match i {
                0 => s.trace_id = p.id()?,
                1 => s.span_id = p.id()?,
                2 => s.trace_state = p.string()?,
                3 => s.parent_span_id = p.id()?,
                4 => s.flags = p.u32()?,
                5 => s.name = p.string()?,
                6 => s.kind = p.i32()?,
                7 => s.start = p.u64()?,
                8 => s.end = p.u64()?,
                9 => s.attrs = p.attrs()?,
                10 => s.dropped_attrs = p.u32()?,
                11 => s.events = p.list(P::event)?,
                12 => s.dropped_events = p.u32()?,
                13 => s.links = p.list(P::link)?,
                14 => s.dropped_links = p.u32()?,
                _ if p.null() => {}
                _ => p.fields(&[b"message", b"code"], |p, i| {
                    match i {
                        0 => s.status_message = p.string()?,
                        _ => s.status_code = p.i32()?,
                    }
                    Some(())
                })?,
            }
            Some(())
        })?;
        Some(s)
    }

    fn event(&mut self) -> Option<Event<'a>> {
        let mut e = Event::default();
        let keys: [&[u8]; 4] = [
            b"timeUnixNano",
            b"name",
            b"attributes",
            b"droppedAttributesCount",
        ];
        self.fields(&keys, |p, i| {
            match i {
                0 => e.time = p.u64()?,
                1 => e.name = p.string()?,
                2 => e.attrs = p.attrs()?,
                _ => e.dropped_attrs = p.u32()?,
            }
            Some(())
        })?;
        Some(e)
    }

    fn link(&mut self) -> Option<Link<'a>> {
        const KEYS: [&[u8]; 6] = [
            b"traceId",
            b"spanId",
            b"traceState",
            b"attributes",
            b"droppedAttributesCount",
            b"flags",
        ];
        let mut l = Link::default();
        self.fields(&KEYS, |p, i| {
            match i {
                0 => l.trace_id = p.id()?,
                1 => l.span_id = p.id()?,
                2 => l.trace_state = p.string()?,
                3 => l.attrs = p.attrs()?,
                4 => l.dropped_attrs = p.u32()?,
                _ => l.flags = p.u32()?,
            }
            Some(())
        })?;
        Some(l)
    }

    fn log(&mut self) -> Option<Log<'a>> {
        const KEYS: [&[u8]; 11] = [
            b"timeUnixNano",
            b"observedTimeUnixNano",
            b"severityNumber",
            b"severityText",
            b"body",
            b"attributes",
            b"droppedAttributesCount",
            b"flags",
            b"traceId",
            b"spanId",
            b"eventName",
        ];
        let mut l = Log::default();
        self.fields(&KEYS, |p, i| {
            match i {
                0 => l.time = p.u64()?,
                1 => l.observed = p.u64()?,
                2 => l.severity_number = p.i32()?,
                3 => l.severity_text = p.string()?,
                4 if p.null() => {}
                4 => l.body = p.any()?,
                5 => l.attrs = p.attrs()?,
                6 => l.dropped_attrs = p.u32()?,
                7 => l.flags = p.u32()?,
                8 => l.trace_id = p.id()?,
                9 => l.span_id = p.id()?,
                _ => l.event_name = p.string()?,
            }
            Some(())
        })?;
        Some(l)
    }
}

#[cfg(test)]
mod tests {
    //! The fast path against the serde path: wherever [`parse`] answers,
    //! serde must accept the record and give the same views.

    use super::*;
    use crate::extract::xorshift;
    use crate::telemetry::otlp::json;

    /// Checks one record; true when the fast path took it.
    fn agree(text: &str) -> bool {
        records(text).is_some()
    }

    /// Checks one record; the spans and log records the fast path read,
    /// `None` when it did not take the record.
    fn records(text: &str) -> Option<usize> {
        let fast = parse(text)?;
        let slow = json::parse(text.as_bytes())
            .unwrap_or_else(|e| panic!("fast path took what serde rejects ({e:?}): {text}"));
        assert!(slow.metrics.is_empty());
        assert_eq!(fast, Batch::from_message(&slow), "{text}");
        let spans = fast.spans.iter().flat_map(|r| &r.scopes).map(|s| s.1.len());
        let logs = fast.logs.iter().flat_map(|r| &r.scopes).map(|s| s.1.len());
        Some(spans.chain(logs).sum())
    }

    fn fixture_lines() -> Vec<String> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let mut out = Vec::new();
        for dir in ["otlp/upstream", "demo/otlp"] {
            let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            files.sort();
            for f in files {
                let text = std::fs::read_to_string(&f).unwrap();
                if f.ends_with("upstream/trace.json")
                    || f.ends_with("upstream/logs.json")
                    || f.ends_with("upstream/metrics.json")
                    || f.ends_with("upstream/events.json")
                {
                    out.push(text);
                } else {
                    out.extend(text.lines().map(str::to_string));
                }
            }
        }
        out
    }

    #[test]
    fn fixtures_read_the_same_both_ways() {
        let lines = fixture_lines();
        let taken = lines.iter().filter(|l| agree(l)).count();
        // The demo's spans and logs all take the fast path; metrics never.
        assert!(taken * 2 > lines.len(), "{taken} of {}", lines.len());
        let metrics = lines.iter().filter(|l| l.contains("\"resourceMetrics\""));
        assert!(metrics.clone().count() > 0);
        for l in metrics {
            assert!(parse(l).is_none());
        }
    }

    /// A random piece of JSON for one field: usually valid for it, at a
    /// rate set per record one of the shapes the serde path treats
    /// differently (or rejects).
    struct Gen {
        rng: Box<dyn FnMut() -> u64>,
        /// Per mille of picks that take an odd shape.
        odd: u64,
    }

    impl Gen {
        fn next(&mut self) -> u64 {
            (self.rng)()
        }
        fn chance(&mut self, per_mille: u64) -> bool {
            self.next() % 1000 < per_mille
        }
        fn odd(&mut self) -> bool {
            let odd = self.odd;
            self.chance(odd)
        }
        fn choose(&mut self, good: &[&str], odd: &[&str]) -> String {
            let xs = if (self.odd() && !odd.is_empty()) || good.is_empty() {
                odd
            } else {
                good
            };
            xs[self.next() as usize % xs.len()].to_string()
        }
        fn string(&mut self) -> String {
            self.choose(
                &[
                    r#""""#,
                    r#""plain""#,
                    r#""é ü 日本""#,
                    r#""tab\tq\"b\\s\/""#,
                    r#""\u00e9\u65e5""#,
                    r#""\ud83d\ude00 pair""#,
                    r#""\uD83D\uDE00 upper""#,
                ],
                &[
                    r#""\ud83d lone""#,
                    r#""\ude00 low""#,
                    "\"raw\u{1}ctl\"",
                    r#""bad \x escape""#,
                    r#""\u12""#,
                    "null",
                    "5",
                    r#""unterminated"#,
                ],
            )
        }
        fn u64(&mut self) -> String {
            self.choose(
                &[
                    "0",
                    "1714557600000000000",
                    r#""1714557600000000000""#,
                    r#""18446744073709551615""#,
                    "18446744073709551615",
                    r#""007""#,
                    r#""+7""#,
                ],
                &[
                    r#""18446744073709551616""#,
                    "18446744073709551616",
                    r#""-1""#,
                    r#""""#,
                    r#"" 1""#,
                    "-1",
                    "-0",
                    "1.0",
                    "1e3",
                    "01",
                    "null",
                    "true",
                ],
            )
        }
        fn u32(&mut self) -> String {
            self.choose(
                &["0", "1", "4294967295"],
                &["4294967296", "-1", "-0", "2.5", "1e2", r#""3""#, "null"],
            )
        }
        fn i32(&mut self) -> String {
            self.choose(
                &["0", "1", "2", "-2147483648", "2147483647"],
                &["2147483648", "-0", "3.0", r#""SPAN_KIND_SERVER""#, "null"],
            )
        }
        fn id(&mut self, bytes: usize) -> String {
            let hex = "0123456789abcdefABCDEF0123456789abcdef";
            if !self.odd() {
                return match self.next() % 4 {
                    0 => r#""""#.to_string(),
                    _ => format!("\"{}\"", &hex[..bytes * 2]),
                };
            }
            match self.next() % 6 {
                0 => format!("\"0x{}\"", &hex[..bytes * 2 - 2]),
                1 => format!("\"{}\"", &hex[..bytes * 2 - 1]),
                2 => format!("\"{}g\"", &hex[..bytes * 2 - 1]),
                3 => format!("\"{}\"", &hex[..bytes * 2 + 2]),
                4 => "null".to_string(),
                _ => r#""\u0030\u0031""#.to_string(),
            }
        }
        fn number(&mut self) -> String {
            self.choose(
                &[
                    "0",
                    "-0",
                    "1.5",
                    "-2.25e-3",
                    "1e-400",
                    "9007199254740993",
                    "18446744073709551616",
                    "123456789012345678901234567890",
                    "0.1",
                    "1E5",
                ],
                &[
                    "1e400", "-1e400", ".5", "1.", "+1", "01", r#""NaN""#, r#""1.5""#,
                ],
            )
        }
        fn any(&mut self, depth: u32) -> String {
            if self.odd() {
                return self.choose(
                    &[],
                    &[
                        r#"{"bytesValue":"AQID"}"#,
                        "{}",
                        "null",
                        r#"{"stringValue":"a","intValue":1}"#,
                        r#"{"arrayValue":{}}"#,
                        r#"{"unknownValue":1}"#,
                        r#"{"boolValue":1}"#,
                        r#"{"intValue":"x"}"#,
                        r#"{"intValue":5.0}"#,
                        r#"{"intValue":-0}"#,
                        r#"{"intValue":9223372036854775808}"#,
                    ],
                );
            }
            let n = if depth > 3 { 4 } else { 7 };
            match self.next() % n {
                0 => format!("{{\"stringValue\":{}}}", self.string()),
                1 => format!("{{\"boolValue\":{}}}", self.choose(&["true", "false"], &[])),
                2 => format!(
                    "{{\"intValue\":{}}}",
                    self.choose(
                        &[
                            "5",
                            "-5",
                            "\"5\"",
                            "\"-0\"",
                            "\"+5\"",
                            "\"9223372036854775807\""
                        ],
                        &[]
                    )
                ),
                3 => format!("{{\"doubleValue\":{}}}", self.number()),
                4 => format!(
                    "{{\"arrayValue\":{{\"values\":[{}]}}}}",
                    self.list(|g| g.any(depth + 1))
                ),
                5 => format!(
                    "{{\"kvlistValue\":{{\"values\":[{}]}}}}",
                    self.list(|g| g.kv(depth + 1))
                ),
                _ => format!("{{\"stringValue\":{}}}", self.string()),
            }
        }
        fn kv(&mut self, depth: u32) -> String {
            if self.odd() {
                return match self.next() % 3 {
                    0 => format!("{{\"value\":{}}}", self.any(depth)),
                    1 => format!(
                        "{{\"key\":\"k\",\"key\":\"j\",\"value\":{}}}",
                        self.any(depth)
                    ),
                    _ => "{\"key\":\"k\",\"keyStrindex\":1}".to_string(),
                };
            }
            let key = self.choose(
                &[
                    "\"sea.domain\"",
                    "\"sea.concept\"",
                    "\"sea.flow\"",
                    "\"service.name\"",
                    "\"http.route\"",
                    "\"k\"",
                    "\"k\"",
                ],
                &[],
            );
            match self.next() % 8 {
                0 => format!("{{\"key\":{key}}}"),
                1 => format!("{{\"key\":{key},\"value\":null}}"),
                _ => format!("{{\"value\":{},\"key\":{key}}}", self.any(depth)),
            }
        }
        fn list(&mut self, mut item: impl FnMut(&mut Self) -> String) -> String {
            let n = self.next() % 4;
            (0..n).map(|_| item(self)).collect::<Vec<_>>().join(",")
        }
        /// An object of `fields`, each present or not, sometimes with an
        /// unknown or repeated key, in a shuffled order.
        fn object(&mut self, fields: Vec<(&str, String)>) -> String {
            let mut parts: Vec<String> = fields
                .into_iter()
                .filter(|_| !self.chance(200))
                .map(|(k, v)| format!("\"{k}\":{v}"))
                .collect();
            if self.odd() {
                parts.push("\"unknownKey\":1".to_string());
            }
            if self.odd() && !parts.is_empty() {
                let p = parts[0].clone();
                parts.push(p);
            }
            let n = parts.len();
            for i in (1..n).rev() {
                parts.swap(i, self.next() as usize % (i + 1));
            }
            let ws = self.choose(&["", "", "", " ", "\n\t"], &[]);
            format!("{{{ws}{}{ws}}}", parts.join(&format!(",{ws}")))
        }
        fn attrs(&mut self) -> String {
            if self.odd() {
                return "null".to_string();
            }
            format!("[{}]", self.list(|g| g.kv(0)))
        }
        fn scope(&mut self) -> String {
            if self.chance(50) {
                return "null".to_string();
            }
            let f = vec![
                ("name", self.string()),
                ("version", self.string()),
                ("attributes", self.attrs()),
                ("droppedAttributesCount", self.u32()),
            ];
            self.object(f)
        }
        fn resource(&mut self) -> String {
            if self.chance(50) {
                return "null".to_string();
            }
            let mut f = vec![
                ("attributes", self.attrs()),
                ("droppedAttributesCount", self.u32()),
            ];
            if self.odd() {
                f.push(("entityRefs", "[]".to_string()));
            }
            self.object(f)
        }
        fn span(&mut self) -> String {
            let event = |g: &mut Gen| {
                let f = vec![
                    ("timeUnixNano", g.u64()),
                    ("name", g.string()),
                    ("attributes", g.attrs()),
                    ("droppedAttributesCount", g.u32()),
                ];
                g.object(f)
            };
            let link = |g: &mut Gen| {
                let f = vec![
                    ("traceId", g.id(16)),
                    ("spanId", g.id(8)),
                    ("traceState", g.string()),
                    ("attributes", g.attrs()),
                    ("droppedAttributesCount", g.u32()),
                    ("flags", g.u32()),
                ];
                g.object(f)
            };
            let status = if self.chance(100) {
                "null".to_string()
            } else {
                let f = vec![("message", self.string()), ("code", self.i32())];
                self.object(f)
            };
            let f = vec![
                ("traceId", self.id(16)),
                ("spanId", self.id(8)),
                ("traceState", self.string()),
                ("parentSpanId", self.id(8)),
                ("flags", self.u32()),
                ("name", self.string()),
                ("kind", self.i32()),
                ("startTimeUnixNano", self.u64()),
                ("endTimeUnixNano", self.u64()),
                ("attributes", self.attrs()),
                ("droppedAttributesCount", self.u32()),
                ("events", format!("[{}]", self.list(event))),
                ("droppedEventsCount", self.u32()),
                ("links", format!("[{}]", self.list(link))),
                ("droppedLinksCount", self.u32()),
                ("status", status),
            ];
            self.object(f)
        }
        fn log(&mut self) -> String {
            let body = if self.chance(100) {
                "null".to_string()
            } else {
                self.any(0)
            };
            let f = vec![
                ("timeUnixNano", self.u64()),
                ("observedTimeUnixNano", self.u64()),
                ("severityNumber", self.i32()),
                ("severityText", self.string()),
                ("body", body),
                ("attributes", self.attrs()),
                ("droppedAttributesCount", self.u32()),
                ("flags", self.u32()),
                ("traceId", self.id(16)),
                ("spanId", self.id(8)),
                ("eventName", self.string()),
            ];
            self.object(f)
        }
        fn record(&mut self) -> String {
            let spans = |g: &mut Gen| {
                let ss = |g: &mut Gen| {
                    let f = vec![
                        ("scope", g.scope()),
                        ("spans", format!("[{}]", g.list(Gen::span))),
                        ("schemaUrl", g.string()),
                    ];
                    g.object(f)
                };
                let f = vec![
                    ("resource", g.resource()),
                    ("scopeSpans", format!("[{}]", g.list(ss))),
                    ("schemaUrl", g.string()),
                ];
                g.object(f)
            };
            let logs = |g: &mut Gen| {
                let sl = |g: &mut Gen| {
                    let f = vec![
                        ("scope", g.scope()),
                        ("logRecords", format!("[{}]", g.list(Gen::log))),
                        ("schemaUrl", g.string()),
                    ];
                    g.object(f)
                };
                let f = vec![
                    ("resource", g.resource()),
                    ("scopeLogs", format!("[{}]", g.list(sl))),
                    ("schemaUrl", g.string()),
                ];
                g.object(f)
            };
            let mut f = vec![
                ("resourceSpans", format!("[{}]", self.list(spans))),
                ("resourceLogs", format!("[{}]", self.list(logs))),
            ];
            if self.odd() {
                f.push(("resourceMetrics", "[]".to_string()));
            }
            if self.chance(30) {
                f[0].1 = "null".to_string();
            }
            let mut text = self.object(f);
            let tail = self.choose(&["", "", " ", "\n"], &["x", "{}", ","]);
            text.push_str(&tail);
            text
        }
    }

    /// Random records field by field: every one the fast path takes reads
    /// the same through serde, and it takes a fair share of them.
    #[test]
    fn random_records_read_the_same_both_ways() {
        for seed in 1..=3u64 {
            let mut g = Gen {
                rng: Box::new(xorshift(0x9E37_79B9_7F4A_7C15 ^ seed)),
                odd: 0,
            };
            let (mut taken, mut total, mut rows) = (0, 0, 0);
            for _ in 0..4000 {
                g.odd = [0, 0, 3, 10, 40, 200][g.next() as usize % 6];
                let text = g.record();
                total += 1;
                if let Some(n) = records(&text) {
                    taken += 1;
                    rows += n;
                }
            }
            eprintln!("seed {seed}: {taken} of {total} taken, {rows} spans and logs");
            assert!(
                taken * 10 > total && rows > 200,
                "seed {seed}: {taken} of {total} taken, {rows} rows"
            );
        }
    }

    /// Valid records with bytes cut, doubled or replaced: the fast path
    /// never takes what serde rejects, nor reads it differently.
    #[test]
    fn mutated_records_read_the_same_both_ways() {
        let mut rng = xorshift(42);
        let mut base: Vec<String> = fixture_lines()
            .into_iter()
            .filter(|l| parse(l).is_some() && l.len() < 20_000)
            .collect();
        assert!(!base.is_empty());
        base.truncate(20);
        let alphabet = b"{}[]:,\"\\ 0123456789-+.eEnulltrfasxu";
        let mut taken = 0;
        for i in 0..20_000 {
            let mut b = base[i % base.len()].clone().into_bytes();
            for _ in 0..1 + rng() % 3 {
                let at = rng() as usize % b.len();
                match rng() % 3 {
                    0 => {
                        b.remove(at);
                    }
                    1 => b.insert(at, alphabet[rng() as usize % alphabet.len()]),
                    _ => b[at] = alphabet[rng() as usize % alphabet.len()],
                }
            }
            if let Ok(text) = std::str::from_utf8(&b) {
                taken += usize::from(agree(text));
            }
        }
        eprintln!("{taken} of 20000 mutated records taken");
        assert!(taken > 1000, "{taken}");
    }

    #[test]
    fn nesting_past_the_limit_goes_to_serde() {
        let deep = |n: usize| {
            let open = r#"{"arrayValue":{"values":["#.repeat(n);
            let close = "]}}".repeat(n);
            format!(
                r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"body":{open}{{"stringValue":"x"}}{close}}}]}}]}}]}}"#
            )
        };
        assert!(agree(&deep(20)));
        // 7 levels above the body, 3 per array level: past 100 here.
        assert!(parse(&deep(40)).is_none());
        assert!(json::parse(deep(40).as_bytes()).is_err());
    }
}
