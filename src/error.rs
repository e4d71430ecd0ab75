//! The crate error type: module errors fold into it via `#[from]`.

/// Errors from the library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Anything not yet given its own variant.
    #[error("{0}")]
    Other(String),
}

/// Crate result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
