//! thresholds (issue 3): being written.
