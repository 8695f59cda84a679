//! Readings every client reports the same way, whatever its language, so the
//! runner can compare them: the system's monotonic clock (shared across
//! processes, so "process start to first accepted mail" can be measured from
//! the runner's own reading) and the process's CPU time, all threads.

/// `CLOCK_MONOTONIC` in nanoseconds: the clock Python's `time.monotonic_ns`,
/// Node's `process.hrtime` and C's `clock_gettime` read too.
pub fn monotonic_ns() -> u128 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec for the call's duration.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    now.tv_sec as u128 * 1_000_000_000 + now.tv_nsec as u128
}

/// User plus system CPU time of the whole process (every thread), in µs.
pub fn cpu_us() -> u64 {
    // SAFETY: getrusage fills the zeroed struct it is given and nothing else.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    micros(usage.ru_utime) + micros(usage.ru_stime)
}
