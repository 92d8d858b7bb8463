//! Stack capture for the heap sampler and the lock wrappers: [`capture`], the crate's unwinder
//! (`unwind::capture_here`) with a frame-pointer walk bounded by the current thread's stack as
//! its fallback, and [`thread_id`]. Both the allocator's sampled path and the contended-lock
//! path call only [`capture`].

#![allow(unsafe_code)]

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
use std::cell::Cell;

/// Fills `buf` with return addresses, leaf first (`buf[0]` is in the caller of `capture`), and
/// returns how many. Never allocates; stops at the first frame pointer outside the thread's
/// stack, so frames built without frame pointers end the walk early rather than fault.
#[inline(never)]
pub(crate) fn capture(buf: &mut [u64]) -> usize {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    {
        // The unwind tables give complete stacks on any build; the frame-pointer walk is the
        // fallback while they are being built or all walk buffers are busy.
        match crate::unwind::capture_here(buf) {
            0 => walk(buf),
            n => n,
        }
    }
    #[cfg(all(target_os = "linux", target_arch = "aarch64"))]
    {
        walk(buf)
    }
    #[cfg(not(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    )))]
    {
        let _ = buf;
        0
    }
}

/// The kernel id of the calling thread (0 off Linux).
pub(crate) fn thread_id() -> u32 {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid has no preconditions and cannot fail.
        let tid = unsafe { libc::gettid() };
        u32::try_from(tid).unwrap_or(0)
    }
    #[cfg(not(target_os = "linux"))]
    {
        0
    }
}

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
thread_local! {
    // The top (highest address) of this thread's stack, 0 until first asked: asking costs a
    // pthread call (a /proc read on the main thread), so once per thread.
    static STACK_TOP: Cell<usize> = const { Cell::new(0) };
}

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
fn stack_top() -> usize {
    let cached = STACK_TOP.try_with(Cell::get).unwrap_or(0);
    if cached != 0 {
        return cached;
    }
    let mut top = 0;
    // SAFETY: attr is initialized by pthread_getattr_np before it is read and destroyed once;
    // the out-pointers point at live locals.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) == 0 {
            let mut addr: *mut libc::c_void = std::ptr::null_mut();
            let mut size: libc::size_t = 0;
            if libc::pthread_attr_getstack(&attr, &mut addr, &mut size) == 0 {
                top = (addr as usize).saturating_add(size);
            }
            libc::pthread_attr_destroy(&mut attr);
        }
    }
    let _ = STACK_TOP.try_with(|c| c.set(top));
    top
}

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
#[inline(always)]
fn walk(buf: &mut [u64]) -> usize {
    let mut fp: usize;
    // SAFETY: reads the frame-pointer register into a local; no memory is touched.
    unsafe {
        #[cfg(target_arch = "x86_64")]
        std::arch::asm!("mov {}, rbp", out(reg) fp, options(nomem, nostack, preserves_flags));
        #[cfg(target_arch = "aarch64")]
        std::arch::asm!("mov {}, x29", out(reg) fp, options(nomem, nostack, preserves_flags));
    }
    // Everything between this local and the stack's top is mapped: the lower bound.
    let marker = 0u8;
    let low = std::ptr::addr_of!(marker) as usize;
    let high = stack_top();
    let word = std::mem::size_of::<usize>();
    let mut n = 0;
    while n < buf.len() {
        if fp < low || !fp.is_multiple_of(word) || fp.saturating_add(2 * word) > high {
            break;
        }
        // SAFETY: fp and fp + word lie inside [low, high), the mapped part of this thread's
        // stack, and are word-aligned; a frame record is (saved frame pointer, return address).
        let (next, ret) = unsafe {
            let record = fp as *const usize;
            (record.read(), record.add(1).read())
        };
        if ret == 0 {
            break;
        }
        buf[n] = ret as u64;
        n += 1;
        // Frames go up the stack: a pointer that does not is the end, or garbage.
        if next <= fp {
            break;
        }
        fp = next;
    }
    n
}
