//! pychar (issue 3): being written.
