//! simhash (issue 3): being written.
