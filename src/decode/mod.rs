//! decode: being written (issue 2).
