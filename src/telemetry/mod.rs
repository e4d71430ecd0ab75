//! The telemetry side (spec/telemetry-correlation.md): OTLP files from the
//! OTel Collector's file exporter become `evidence`, spec manifests become
//! `kg_nodes`/`kg_edges`, evidence is correlated with the spec truth chain
//! (`correlations`) and summarised into drift per context, spec node and day
//! (`behavior_summary`).
//!
//! * `model` — the types the parts share (signals, statuses, spec nodes,
//!   one evidence row as the summary sees it).
//! * `otlp` — bytes → framed records → OTLP messages → evidence rows
//!   (§1, §2, §7); pure.
//! * `evidence` — the `evidence` and `correlations` tables' schemas and the
//!   Arrow builder the decoder appends to.
//! * `specs` — manifests → the spec graph, `kg_nodes`, `kg_edges` (§3).
//! * `correlate` — the rule table, noisy-OR, and the DataFusion UDF that
//!   scores evidence against candidate nodes (§4).
//! * `summary` — `behavior_summary` rows, their rule components, gating,
//!   no-match and stale rows, and the findings drift events are made of
//!   (§5, §6); pure.

pub mod correlate;
pub mod evidence;
pub mod model;
pub mod otlp;
pub mod specs;
pub mod stage;
pub mod summary;
