//! Stack unwinding without frame pointers, safe to run inside a signal handler or a global
//! allocator.
//!
//! The unwind tables (`.eh_frame_hdr` and `.eh_frame` of every loaded object, through
//! `framehop`) and a snapshot of the process's mappings are built ahead of time by
//! [`refresh`], outside any handler, and published through an atomic pointer. A walk only reads
//! that snapshot and the interrupted thread's stack, each stack read bounded by the mapping that
//! holds the stack pointer; a stack mapped after the snapshot (a new thread's) is read through
//! `process_vm_readv`, which cannot fault, and counted, so that the samplers' threads take a
//! new snapshot.

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod maps;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod modules;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod tables;

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub(crate) use tables::{
    UnwindCache, capture_here, refresh, refresh_if_stale, stack_misses, stacks_missed, unwind_from,
    with_exec_regions,
};

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
mod unsupported {
    use crate::error::{Error, Kind};

    /// The current thread's stack: nothing off Linux x86_64.
    #[allow(dead_code)]
    pub(crate) fn capture_here(_buf: &mut [u64]) -> usize {
        0
    }

    /// Unwinding needs Linux on x86_64.
    #[allow(dead_code)]
    pub(crate) fn refresh() -> Result<(), Error> {
        Err(Error::new(
            Kind::Unsupported,
            "stack unwinding is implemented for Linux on x86_64 only",
        ))
    }

    /// As [`refresh`].
    #[allow(dead_code)]
    pub(crate) fn refresh_if_stale(_objects: bool) -> Result<(), Error> {
        refresh()
    }

    /// No walks, no misses.
    #[allow(dead_code)]
    pub(crate) fn stack_misses() -> u64 {
        0
    }
}
#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
#[allow(unused_imports)]
pub(crate) use unsupported::{capture_here, refresh, refresh_if_stale, stack_misses};
