//! Hooks for the crate's integration tests (`tests/cpu.rs`, `tests/stress.rs`): the
//! unwinder as the CPU sampler uses it. Not part of the supported API.

/// The calling thread's stack, leaf first, from the return address into the caller of this
/// function (the crate's `capture_here`, after building the unwind tables).
pub fn capture_here(buf: &mut [u64]) -> usize {
    let _ = crate::unwind::refresh();
    crate::unwind::capture_here(buf)
}

/// The executable mappings of the unwinder's current snapshot, `(start, end)`.
pub fn executable_regions() -> Vec<(u64, u64)> {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    {
        let _ = crate::unwind::refresh();
        crate::unwind::with_exec_regions(<[(u64, u64)]>::to_vec)
    }
    #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
    Vec::new()
}
