//! sink: being written (issue 2).
