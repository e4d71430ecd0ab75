//! job: being written (issue 2).
