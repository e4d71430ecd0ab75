//! The OTLP decoder on any bytes, with the framing detected from them and
//! the signal taken from the first byte: no panic, every record accounted
//! for.
#![no_main]
use driftlake::telemetry::model::Signal;
use driftlake::telemetry::otlp::{read_otlp, OtlpInput};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (signal, bytes) = match data.split_first() {
        Some((b, rest)) => (
            match b % 4 {
                0 => None,
                1 => Some(Signal::Span),
                2 => Some(Signal::Log),
                _ => Some(Signal::Metric),
            },
            rest,
        ),
        None => (None, data),
    };
    let r = read_otlp(&OtlpInput {
        bytes,
        source: "memory://fuzz/x",
        file_name: "x",
        signal,
        run_id: "fuzz",
    });
    assert!(r.stats.balanced(), "{:?}", r.stats);
    assert_eq!(r.stats.dead as usize, r.dead.len());
});
