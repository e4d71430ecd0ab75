//! Session events in the char model of spec/behave-shell.md §1.8–1.9.
//!
//! Pure data: no I/O. A session's payload text is held by the caller in one
//! flat `Vec<Char>` per shard; events borrow slices of it.

/// One char of event data, as a Python `str` would hold it after reading the
/// shard with `errors="surrogateescape"` and JSON-decoding the line.
///
/// It is a Unicode code point, except that each byte 0x80..=0xFF of an invalid
/// UTF-8 sequence becomes the lone surrogate `0xDC80 + (byte - 0x80)` (spec
/// §1.9). A JSON `\uD8xx` escape without its pair also stays a lone surrogate,
/// exactly as CPython's `json` leaves it. A Rust `char` cannot hold these, so
/// event data is a slice of `u32`.
pub type Char = u32;

/// First code point of the surrogate range (U+D800).
pub const SURROGATE_MIN: Char = 0xD800;
/// Last code point of the surrogate range (U+DFFF).
pub const SURROGATE_MAX: Char = 0xDFFF;

/// True when `c` is a lone surrogate: it cannot be encoded to UTF-8 (spec §1.9, A7).
#[inline]
pub fn is_surrogate(c: Char) -> bool {
    (SURROGATE_MIN..=SURROGATE_MAX).contains(&c)
}

/// Which side of the pty a chunk came from (`ch` in the shard line).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    /// `"i"`: bytes received from the client (keystrokes or pastes).
    Input,
    /// `"o"`: bytes the pty produced (shell output, echo included).
    Output,
}

impl Channel {
    /// The shard's one-letter code.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Input => "i",
            Channel::Output => "o",
        }
    }
}

/// One input or output event of a session, in file order (spec §1.8 step 5).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Event<'a> {
    /// Seconds since the relay started (`float(t)`); may be NaN or infinite
    /// because Python's JSON reader accepts those literals.
    pub t: f64,
    /// Input or output.
    pub ch: Channel,
    /// The decoded `d` payload, one element per Python char.
    pub data: &'a [Char],
}

impl<'a> Event<'a> {
    /// Build an event.
    pub fn new(t: f64, ch: Channel, data: &'a [Char]) -> Self {
        Event { t, ch, data }
    }
}

/// An event's payload, so text helpers can take events or plain slices.
impl AsRef<[Char]> for Event<'_> {
    fn as_ref(&self) -> &[Char] {
        self.data
    }
}

/// Convert a Rust string to the char model (tests and fixtures).
pub fn chars_of(s: &str) -> Vec<Char> {
    s.chars().map(|c| c as Char).collect()
}
