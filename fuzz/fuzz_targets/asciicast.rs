//! The asciicast decoder (v1, v2, v3) on any bytes: no panic, every
//! record accounted for.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cast = driftlake::decode::decode_asciicast(data);
    assert!(cast.stats.balanced(), "{:?}", cast.stats);
    assert_eq!(cast.stats.dead as usize, cast.dead.len());
    let _ = cast.events();
});
