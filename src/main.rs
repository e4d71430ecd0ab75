fn main() -> std::process::ExitCode {
    driftlake::cli::main()
}
