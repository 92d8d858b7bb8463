//! [`WalkStack`]: a stack of the handler's own for the walk. The handler runs on the thread's
//! alternate signal stack (SA_ONSTACK), which std makes only a few KiB large; a DWARF walk
//! needs more, so the handler moves onto this one, guarded below by an inaccessible page.

// Signals, timers and raw memory reads: the unsafe this module exists for.
#![allow(unsafe_code)]

use crate::error::Error;

/// Usable bytes of a walk stack.
const SIZE: usize = 256 * 1024;
const GUARD: usize = 4096;

/// An mmap'd stack with a guard page below it; unmapped on drop.
pub(crate) struct WalkStack {
    base: *mut libc::c_void,
}

// SAFETY: the mapping is plain memory, used by one handler at a time (see `Slot`).
unsafe impl Send for WalkStack {}
// SAFETY: as above.
unsafe impl Sync for WalkStack {}

impl WalkStack {
    /// Maps a new stack.
    pub(crate) fn new() -> Result<WalkStack, Error> {
        // SAFETY: an anonymous private mapping at an address of the kernel's choice.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                SIZE + GUARD,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(Error::last_os("mmap of a walk stack"));
        }
        let stack = WalkStack { base };
        // SAFETY: the first page of the mapping just made.
        if unsafe { libc::mprotect(base, GUARD, libc::PROT_NONE) } != 0 {
            return Err(Error::last_os("mprotect of a walk stack's guard page"));
        }
        Ok(stack)
    }

    /// Runs `f(arg)` with the stack pointer at the top of this stack.
    ///
    /// # Safety
    /// No other code may be running on this stack (one handler per slot, never nested), and
    /// `f` must not unwind.
    pub(crate) unsafe fn run(&self, f: extern "C" fn(*mut libc::c_void), arg: *mut libc::c_void) {
        // 16-byte aligned, as the call ABI wants at the call.
        let top = (self.base as usize + GUARD + SIZE) & !15;
        // SAFETY: `top` is the aligned end of a mapping owned by `self`, unused by anyone else
        // (the contract); r12 is callee-saved, so it still holds the old stack pointer after
        // the call, and is declared clobbered so the compiler saves its own value.
        unsafe {
            std::arch::asm!(
                "mov r12, rsp",
                "mov rsp, {top}",
                "call {f}",
                "mov rsp, r12",
                top = in(reg) top,
                f = in(reg) f,
                in("rdi") arg,
                out("r12") _,
                clobber_abi("C"),
            );
        }
    }
}

impl Drop for WalkStack {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once.
        unsafe {
            libc::munmap(self.base, SIZE + GUARD);
        }
    }
}
