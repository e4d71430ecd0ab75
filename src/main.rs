fn main() -> std::process::ExitCode {
    tune_allocator();
    driftlake::cli::main()
}

/// glibc serves blocks over its (dynamic) mmap threshold with fresh
/// mappings and unmaps them when freed, and trims the heap's free top
/// back to the kernel: a run that builds and drops many large buffers
/// (input files, Arrow columns, Parquet pages) pays for zeroed pages again
/// and again. On the telemetry benchmark a fifth of the wall time was the
/// kernel's. Here blocks up to 256 MiB come from the heap and up to 1 GiB
/// of freed memory is kept for reuse: a quarter fewer page faults, about
/// 0.3 s of 7 s, peak RSS 2–3 % higher (README, "Telemetry").
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    // SAFETY: mallopt only sets the allocator's parameters; it runs before
    // any other thread exists or any allocation is held.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}
