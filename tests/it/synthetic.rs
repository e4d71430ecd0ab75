//! Synthetic `observations` batches for the attribution benchmark and the
//! memory-limit tests (benches/attribution.rs includes this file).
//!
//! The data is generated, deterministic (a fixed xorshift seed) and free of
//! session content: per identity, sessions with increasing `ts`, each
//! emitting ten primitives, mostly categorical with a usual label (so states
//! mix stable, drifting and conflicted) plus the digraph hashes drawn from a
//! small per-identity pool (so rotations are counted).

// The attribution bench includes this file and uses only part of it.
#![allow(dead_code)]

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, Int32Array, RecordBatch, StringArray};
use driftlake::model::observation::{Primitive, ValueKind};
use driftlake::model::schema::observations_schema;

/// Rows per generated batch (DataFusion's default batch size, STYLE §7).
const BATCH_ROWS: usize = 8192;
/// Primitives each synthetic session emits.
const PER_SESSION: usize = 10;

/// xorshift64*: small, seedable, deterministic, no `rand` dependency (the
/// tests' generators use it too).
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// One of `xs`.
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// Column buffers for one batch of `observations`.
#[derive(Default)]
struct Cols {
    id: Vec<String>,
    primitive: Vec<&'static str>,
    value_kind: Vec<&'static str>,
    value: Vec<String>,
    value_str: Vec<String>,
    ts: Vec<f64>,
    evidence_ref: Vec<String>,
    identity_ref: Vec<String>,
    sid: Vec<String>,
}

impl Cols {
    fn len(&self) -> usize {
        self.id.len()
    }

    fn finish(&mut self) -> RecordBatch {
        let c = std::mem::take(self);
        let n = c.id.len();
        let s = |v: Vec<String>| Arc::new(StringArray::from(v)) as ArrayRef;
        let st = |v: Vec<&'static str>| Arc::new(StringArray::from(v)) as ArrayRef;
        let same = |x: &str| Arc::new(StringArray::from(vec![x; n])) as ArrayRef;
        let f = |v: Vec<f64>| Arc::new(Float64Array::from(v)) as ArrayRef;
        let ts = c.ts;
        let cols = vec![
            s(c.id),
            st(c.primitive),
            st(c.value_kind),
            s(c.value),
            s(c.value_str),
            Arc::new(Float64Array::from(vec![None::<f64>; n])) as ArrayRef,
            f(vec![0.8; n]),
            f(ts.iter().map(|t| t - 60.0).collect()),
            f(ts.clone()),
            f(vec![0.0; n]),
            f(vec![60.0; n]),
            same("behave-shell"),
            s(c.evidence_ref),
            s(c.identity_ref),
            Arc::new(Int32Array::from(vec![1; n])) as ArrayRef,
            f(ts),
            same("decky1"),
            same("ssh"),
            s(c.sid),
            same("bench"),
        ];
        RecordBatch::try_new(observations_schema(), cols).expect("columns follow the schema")
    }
}

/// `identities × per_identity` observations, in batches.
pub fn generate(identities: usize, per_identity: usize) -> Vec<RecordBatch> {
    let categorical: Vec<Primitive> = Primitive::ALL
        .iter()
        .copied()
        .filter(|p| p.value_kind() == ValueKind::Categorical && !p.labels().is_empty())
        .collect();
    let hashes: Vec<Primitive> = Primitive::ALL
        .iter()
        .copied()
        .filter(|p| p.value_kind() == ValueKind::Hash)
        .collect();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut out = Vec::new();
    let mut cols = Cols::default();
    let mut row = 0u64;
    for who in 0..identities {
        let identity = format!("198.51.{}.{}", who / 256, who % 256);
        let hash_pool: Vec<String> = (0..3).map(|_| format!("{:016x}", rng.next())).collect();
        let sessions = per_identity.div_ceil(PER_SESSION);
        let mut emitted = 0;
        for k in 0..sessions {
            let sid = format!("s{who:06}-{k:04}");
            let evidence_ref = format!("sessrec:bench/{sid}");
            let ts = 1_767_225_600.0 + (k as f64) * 3600.0 + rng.below(600) as f64;
            // Ten distinct primitives per session: one (evidence_ref,
            // primitive) row at most (lake.md §2 uniqueness).
            let start = rng.below(categorical.len() + hashes.len());
            for j in 0..PER_SESSION.min(per_identity - emitted) {
                let idx = (start + j) % (categorical.len() + hashes.len());
                let (prim, label) = if idx < categorical.len() {
                    let p = categorical[idx];
                    let labels = p.labels();
                    // A usual label most of the time, so states vary.
                    let l = if rng.below(10) < 8 {
                        labels[(who + idx) % labels.len()]
                    } else {
                        labels[rng.below(labels.len())]
                    };
                    (p, l.to_owned())
                } else {
                    let p = hashes[idx - categorical.len()];
                    (p, hash_pool[rng.below(hash_pool.len())].clone())
                };
                cols.id.push(format!("{row:032x}"));
                cols.primitive.push(prim.as_str());
                cols.value_kind.push(prim.value_kind().as_str());
                cols.value.push(format!("\"{label}\""));
                cols.value_str.push(label);
                cols.ts.push(ts);
                cols.evidence_ref.push(evidence_ref.clone());
                cols.identity_ref.push(identity.clone());
                cols.sid.push(sid.clone());
                row += 1;
                emitted += 1;
                if cols.len() == BATCH_ROWS {
                    out.push(cols.finish());
                }
            }
        }
    }
    if cols.len() > 0 {
        out.push(cols.finish());
    }
    out
}
