/// Crash-test hook: if the environment variable `CUSTOS_FAILPOINT` equals `name`, the
/// process aborts on the spot, as a power cut would, without unwinding or cleaning up.
///
/// Tests use it to prove that a crash between two steps of a commit leaves the previous state
/// readable and that a rerun completes the work. Unset, it costs one environment lookup per
/// commit step.
pub fn failpoint(name: &str) {
    if std::env::var_os("CUSTOS_FAILPOINT").is_some_and(|v| v == name) {
        eprintln!("custos: failpoint {name} reached, aborting");
        std::process::abort();
    }
}

/// Error-test hook: true if the environment variable `CUSTOS_FAILPOINT` equals `name`; the
/// caller then fails as an I/O error would at that point, and the test checks that the
/// failure is reported and nothing half-done is committed.
pub fn failpoint_error(name: &str) -> bool {
    std::env::var_os("CUSTOS_FAILPOINT").is_some_and(|v| v == name)
}
