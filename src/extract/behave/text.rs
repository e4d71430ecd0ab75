//! text (issue 3): being written.
