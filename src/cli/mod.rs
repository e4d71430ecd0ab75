//! cli: being written (issue 2).
pub fn main() -> std::process::ExitCode { std::process::ExitCode::SUCCESS }
