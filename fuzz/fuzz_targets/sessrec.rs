//! The sessrec decoder on any bytes: no panic, every line accounted for,
//! and the events of every session buildable.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let shard = driftlake::decode::decode_shard(data);
    assert!(shard.stats.balanced(), "{:?}", shard.stats);
    assert_eq!(shard.stats.dead as usize, shard.dead.len());
    for s in &shard.sessions {
        let _ = s.events(&shard.chars);
    }
});
