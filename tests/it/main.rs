//! The one integration-test binary (STYLE.md §5): one link of the
//! DataFusion-sized crate instead of one per test file.
