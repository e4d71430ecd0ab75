//! Tests of the OTLP decoder.
