//! engine: being written (issue 2).
