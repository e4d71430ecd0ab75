//! source: being written (issue 2).
