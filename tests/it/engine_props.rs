//! Property tests of the extraction engine (issue 3 acceptance): arbitrary
//! event lists — any chars (control, lone surrogates, non-BMP), any times
//! (NaN, ±inf, negative, decreasing) — never panic, and the result is
//! well-formed: at most 38 observations in `FEATURES` (= `Primitive::ALL`)
//! order, each primitive once, values the registry allows, confidences in
//! [0, 1], a valid window; or an error (A7 only when some input holds a
//! surrogate). Value-level correctness is the differential test's job.

use super::common::*;
use driftlake::extract::behave::{extract_session, Extraction, FEATURES};
use driftlake::model::event::{Channel, Char};
use driftlake::model::observation::{Primitive, ValueKind};
use proptest::prelude::*;

fn any_char() -> impl Strategy<Value = Char> {
    prop_oneof![
        6 => prop::sample::select(b"lsaidcwhoetr |/-\r\n\t".iter().map(|&b| Char::from(b)).collect::<Vec<_>>()),
        3 => 0u32..0x80,                                   // every ASCII char, controls included
        2 => prop::sample::select(vec![0x7F, 0x08, 0x15, 0x17, 0x01, 0x05, 0x12, 0x1B, 0x07, 0x00, 0x1C, 0x1F]),
        2 => 0xD800u32..=0xDFFF,                           // lone surrogates (surrogate-escaped bytes)
        1 => 0x80u32..0x3000,
        1 => prop::sample::select(vec![0xA0, 0x3000, 0x2028, 0x85, 0xB2, 0x663, 0xFF11, 0x1F600, 0x10FFFF]),
    ]
}

fn any_t() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => (0u32..4000).prop_map(|x| f64::from(x) / 64.0),  // dyadic, exact
        3 => 0.0f64..5000.0,
        1 => prop::sample::select(vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0, -1.5, 1e308, f64::MIN_POSITIVE]),
        1 => any::<f64>(),
    ]
}

/// Events with mostly increasing times (so sessions have structure), plus
/// arbitrary jumps.
fn any_session() -> impl Strategy<Value = Vec<OwnedEvent>> {
    prop::collection::vec(
        (
            any_t(),
            any::<bool>(),
            prop::collection::vec(any_char(), 0..12),
            prop::bool::weighted(0.85),
        ),
        0..120,
    )
    .prop_map(|raw| {
        let mut t = 0.0;
        raw.into_iter()
            .map(|(x, input, data, step)| {
                // `step`: advance from the previous time by a small amount
                // (keeps iats realistic); otherwise use x as-is (jumps,
                // non-finite, decreasing).
                t = if step && x.is_finite() {
                    t + (x % 3.0).abs()
                } else {
                    x
                };
                OwnedEvent {
                    t,
                    ch: if input {
                        Channel::Input
                    } else {
                        Channel::Output
                    },
                    data,
                }
            })
            .collect()
    })
}

fn well_formed(x: &Extraction) -> Result<(), String> {
    if x.observations.len() > FEATURES.len() || FEATURES.len() != Primitive::ALL.len() {
        return Err(format!("{} observations", x.observations.len()));
    }
    let mut last: Option<usize> = None;
    for o in &x.observations {
        let idx = Primitive::ALL
            .iter()
            .position(|p| *p == o.primitive)
            .ok_or("unknown primitive")?;
        if last.is_some_and(|l| idx <= l) {
            return Err(format!(
                "{} out of emission order or repeated",
                o.primitive.as_str()
            ));
        }
        last = Some(idx);
        let v = o.value.as_str();
        let ok = match o.primitive.value_kind() {
            ValueKind::Categorical => o.primitive.labels().contains(&v),
            ValueKind::Hash => {
                v.len() == 16
                    && v.bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            }
            // locale: `und` or a normalised tag of 2+ ASCII letters, at most one `-` part (§4.4.28)
            ValueKind::FreeString => {
                let mut parts = v.split('-');
                let lang = parts.next().unwrap_or("");
                lang.len() >= 2
                    && lang.bytes().all(|b| b.is_ascii_lowercase())
                    && parts.all(|p| {
                        !p.is_empty() && p.chars().all(|c| c.is_alphabetic() && !c.is_lowercase())
                    })
                    && v.split('-').count() <= 2
            }
            _ => false,
        };
        if !ok {
            return Err(format!(
                "{} = {v:?} is not a registry value",
                o.primitive.as_str()
            ));
        }
        if !(0.0..=1.0).contains(&o.confidence) {
            return Err(format!(
                "{} confidence {}",
                o.primitive.as_str(),
                o.confidence
            ));
        }
    }
    if x.t_start.is_finite() && x.t_end.is_finite() && x.t_end < x.t_start {
        return Err(format!("window end {} < start {}", x.t_end, x.t_start));
    }
    if !x.observations.is_empty() && x.t_end.is_nan() {
        return Err("t_end is NaN (it is a max floored at 0.0, spec §2.1)".into());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, max_shrink_iters: 4096, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_sessions_never_panic_and_stay_well_formed(session in any_session()) {
        let ev = events_of(&session);
        match extract_session(&ev) {
            Ok(x) => {
                if let Err(e) = well_formed(&x) {
                    prop_assert!(false, "{e}");
                }
                if session.is_empty() {
                    prop_assert!(x.observations.is_empty(), "no events, no observations (§4.2)");
                }
                // Pure: the same input gives the same output (bit for bit; NaN
                // windows make `==` useless here).
                let again = extract_session(&ev).expect("same input, same result");
                let key = |x: &Extraction| -> Vec<(Primitive, String, u64)> {
                    x.observations.iter().map(|o| (o.primitive, o.value.as_str().to_string(), o.confidence.to_bits())).collect()
                };
                prop_assert_eq!(key(&x), key(&again));
                prop_assert!(same_f64(x.t_start, again.t_start) && same_f64(x.t_end, again.t_end));
            }
            Err(e) => {
                if e.as_str() == "first_token_not_utf8" {
                    prop_assert!(
                        session.iter().any(|s| s.ch == Channel::Input && s.data.iter().any(|&c| (0xD800..=0xDFFF).contains(&c))),
                        "A7 without any surrogate in the input"
                    );
                }
            }
        }
    }

    #[test]
    fn results_do_not_depend_on_the_sessions_before_on_the_thread(
        session in any_session(),
        before in any_session(),
    ) {
        // A thread keeps a finished session's buffers for the next one
        // (`extract::behave::spare`): extracting after another session must
        // give what a fresh thread, with no kept buffers, gives.
        let key = |r: &Result<Extraction, driftlake::extract::behave::ExtractError>| match r {
            Ok(x) => Ok((
                x.observations.iter().map(|o| (o.primitive, o.value.as_str().to_string(), o.confidence.to_bits())).collect::<Vec<_>>(),
                x.t_start.to_bits(),
                x.t_end.to_bits(),
                x.commands,
            )),
            Err(e) => Err(e.as_str()),
        };
        let owned = session.clone();
        let fresh = std::thread::spawn(move || key(&extract_session(&events_of(&owned))))
            .join()
            .expect("the extraction thread does not panic");
        let _ = extract_session(&events_of(&before));
        let after = key(&extract_session(&events_of(&session)));
        prop_assert_eq!(fresh, after);
    }

    #[test]
    fn surrogates_in_output_never_cause_a7(session in any_session()) {
        // Only input chars reach first tokens (§2.7): with surrogates scrubbed
        // from the inputs, A7 cannot happen.
        let clean: Vec<OwnedEvent> = session
            .into_iter()
            .map(|mut e| {
                if e.ch == Channel::Input {
                    for c in &mut e.data {
                        if (0xD800..=0xDFFF).contains(c) {
                            *c = 0x78;
                        }
                    }
                }
                e
            })
            .collect();
        let r = extract_session(&events_of(&clean));
        if let Err(e) = &r {
            prop_assert_ne!(e.as_str(), "first_token_not_utf8");
        }
    }
}
