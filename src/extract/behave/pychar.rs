//! CPython 3.11 character predicates over [`Char`] code points (spec §1.9,
//! §2.7, §2.8.3, §4.4.30, A17).
//!
//! Rust's `char` methods disagree with Python in ways that change outputs:
//! `char::is_whitespace` leaves out U+001C..U+001F, `char::is_alphanumeric`
//! uses different Unicode properties than `str.isalnum`, and `char` cannot
//! hold the lone surrogates that surrogate-escaped bytes become (§1.9). So
//! every predicate here takes a raw `u32` and answers exactly as CPython 3.11
//! (Unicode 14.0.0) does for a one-char string. Lone surrogates are never
//! space, word, alpha or digit.
//!
//! The range tables come from `tools/gen_pychar_tables.py`, which asks Python
//! itself for every code point; regenerate them with that script, never by
//! hand.

use crate::model::event::Char;

include!("pychar_tables.rs");

/// True when `c` is in a sorted table of inclusive ranges.
fn in_table(table: &[(u32, u32)], c: Char) -> bool {
    table
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Python `str.isspace()` for one char, which is also `re`'s `\s` and the set
/// `str.strip()` / `str.split()` use: exactly the §2.7 list.
pub fn is_py_space(c: Char) -> bool {
    matches!(
        c,
        0x09..=0x0D
            | 0x1C..=0x20
            | 0x85
            | 0xA0
            | 0x1680
            | 0x2000..=0x200A
            | 0x2028
            | 0x2029
            | 0x202F
            | 0x205F
            | 0x3000
    )
}

/// Python `str.isalpha()` for one char.
pub fn is_py_alpha(c: Char) -> bool {
    if c < 0x80 {
        return is_ascii_alpha(c);
    }
    in_table(&ALPHA, c)
}

/// Python `str.isalnum()` for one char (alpha, decimal, digit or numeric).
pub fn is_py_alnum(c: Char) -> bool {
    if c < 0x80 {
        return is_ascii_alpha(c) || is_ascii_digit(c);
    }
    in_table(&ALNUM, c)
}

/// Python `re` `\w` for str patterns: `str.isalnum()` or `_` (§2.8.3, A17).
pub fn is_py_word(c: Char) -> bool {
    c == u32::from(b'_') || is_py_alnum(c)
}

/// Python `str.isdigit()` for one char: Numeric_Type Decimal or Digit, so
/// `²` and Arabic-Indic digits count (§4.4.30).
pub fn is_py_digit(c: Char) -> bool {
    if c < 0x80 {
        return is_ascii_digit(c);
    }
    in_table(&DIGIT, c)
}

/// `A`-`Z` or `a`-`z` (regex `[A-Za-z]`, which is ASCII-only without flags).
pub fn is_ascii_alpha(c: Char) -> bool {
    matches!(c, 0x41..=0x5A | 0x61..=0x7A)
}

/// `0`-`9`.
pub fn is_ascii_digit(c: Char) -> bool {
    matches!(c, 0x30..=0x39)
}

/// `A`-`Z`, `a`-`z` or `0`-`9` (regex `[A-Za-z0-9]`).
pub fn is_ascii_alnum(c: Char) -> bool {
    is_ascii_alpha(c) || is_ascii_digit(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generated tables must be sorted, non-overlapping, non-adjacent
    /// (the generator merges runs) and inside the code-point space, or the
    /// binary search silently answers wrong.
    #[test]
    fn tables_are_sorted_disjoint_ranges() {
        for table in [&ALPHA[..], &ALNUM[..], &DIGIT[..]] {
            assert!(!table.is_empty());
            for &(lo, hi) in table {
                assert!(lo <= hi && hi <= 0x10FFFF, "{lo:#x}..{hi:#x}");
            }
            for w in table.windows(2) {
                assert!(w[0].1 + 1 < w[1].0, "{:x?} then {:x?}", w[0], w[1]);
            }
        }
    }

    /// The ASCII fast paths agree with the tables.
    #[test]
    fn ascii_fast_path_matches_tables() {
        for c in 0..0x80u32 {
            assert_eq!(is_py_alpha(c), in_table(&ALPHA, c), "{c:#x}");
            assert_eq!(is_py_alnum(c), in_table(&ALNUM, c), "{c:#x}");
            assert_eq!(is_py_digit(c), in_table(&DIGIT, c), "{c:#x}");
        }
    }

    /// Expected values below were checked with CPython 3.11.7, e.g.
    /// `python3 -c "print('\u00b2'.isdigit())"`.
    #[test]
    fn space_matches_python() {
        for c in [
            0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85, 0xA0,
        ] {
            assert!(is_py_space(c), "{c:#x}");
        }
        for c in [
            0x1680, 0x2000, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000,
        ] {
            assert!(is_py_space(c), "{c:#x}");
        }
        // U+200B ZERO WIDTH SPACE, U+180E MONGOLIAN VOWEL SEPARATOR, U+FEFF,
        // U+0008, U+001B, U+0000 are not Python whitespace.
        for c in [0x200B, 0x180E, 0xFEFF, 0x08, 0x1B, 0x00, 0x7F, 0x0E, 0x21] {
            assert!(!is_py_space(c), "{c:#x}");
        }
    }

    #[test]
    fn digit_matches_python() {
        for c in ['0', '9', '²', '³', '¹', '٠', '٩', '۵', '०', '①', '０', '𝟎'] {
            assert!(is_py_digit(c as u32), "{c:?}");
        }
        // '½' and '一' and 'Ⅷ' are numeric but not digits; 'a' and '.' are not.
        for c in ['a', '.', '½', '一', 'Ⅷ', '/', ':', '⑩'] {
            assert!(!is_py_digit(c as u32), "{c:?}");
        }
    }

    #[test]
    fn alpha_and_word_match_python() {
        for c in ['a', 'Z', 'é', 'ß', 'Ж', '中', 'ㄱ', 'ª', 'µ', 'ǅ'] {
            assert!(is_py_alpha(c as u32) && is_py_word(c as u32), "{c:?}");
        }
        // Numeric chars are alnum (so `\w`) without being alpha.
        for c in ['½', '²', '一', 'Ⅷ', '٣', '⑩'] {
            assert_eq!(
                (is_py_alpha(c as u32), is_py_alnum(c as u32)),
                (c == '一', true),
                "{c:?}"
            );
        }
        // Combining marks (Mn/Mc) are neither alpha nor `\w` in Python:
        // U+0301 COMBINING ACUTE, U+0903 DEVANAGARI SIGN VISARGA, U+200D ZWJ.
        for c in [0x0301, 0x0903, 0x200D, 0x2D, 0x2E, 0x40, 0x7F, 0xA0, 0xD7] {
            assert!(!is_py_alpha(c) && !is_py_word(c), "{c:#x}");
        }
        assert!(is_py_word(u32::from(b'_')) && !is_py_alpha(u32::from(b'_')));
        assert!(is_py_word(u32::from(b'7')) && !is_py_alpha(u32::from(b'7')));
    }

    /// §1.9: surrogate-escaped bytes (U+DC80..U+DCFF) and every other lone
    /// surrogate are never space, word, alpha or digit.
    #[test]
    fn surrogates_are_nothing() {
        for c in (0xD800..=0xDFFF).step_by(7).chain([0xDC80, 0xDCFF, 0xDFFF]) {
            assert!(
                !is_py_space(c) && !is_py_word(c) && !is_py_alpha(c),
                "{c:#x}"
            );
            assert!(!is_py_digit(c) && !is_py_alnum(c), "{c:#x}");
        }
    }

    #[test]
    fn out_of_range_is_nothing() {
        for c in [0x110000, 0x7FFF_FFFF, u32::MAX] {
            assert!(!is_py_space(c) && !is_py_word(c) && !is_py_alpha(c) && !is_py_digit(c));
        }
    }
}
