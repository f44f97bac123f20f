//! Process hardening at start-up: no core dumps, so a crash cannot write a secret to disk.
//! Best-effort and silent where the platform does not allow it.

/// Disable core dumps (`RLIMIT_CORE` = 0) and, on Linux, mark the process non-dumpable so
/// other processes of the same user cannot ptrace it or read its memory.
pub fn disable_core_dumps() {
    use rustix::process::{Resource, Rlimit, setrlimit};
    let _ = setrlimit(Resource::Core, Rlimit { current: Some(0), maximum: Some(0) });
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let _ = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    }
}
