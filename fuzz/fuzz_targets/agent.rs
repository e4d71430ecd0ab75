//! The agent event decoder on any bytes, as JSON lines (in two chunks, as
//! a streamed read gives them) and as one document: no panic, every record
//! accounted for.
#![no_main]
use driftlake::decode::agent::AgentDecoder;
use driftlake::decode::LineFramer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cut = data.first().map_or(0, |b| usize::from(*b) % (data.len() + 1));
    let mut lines = AgentDecoder::default();
    let mut framer = LineFramer::new();
    framer.push(&data[..cut], &mut lines);
    framer.push(&data[cut..], &mut lines);
    framer.finish(&mut lines);
    assert!(lines.stats.balanced(), "{:?}", lines.stats);
    assert_eq!(lines.stats.dead as usize, lines.dead.len());

    let mut doc = AgentDecoder::default();
    doc.document(data);
    assert!(doc.stats.balanced(), "{:?}", doc.stats);
});
