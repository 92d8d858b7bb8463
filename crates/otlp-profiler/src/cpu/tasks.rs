//! [`TaskDir`]: `/proc/self/task` kept open, for a sampler that lists the process's threads
//! every few milliseconds: rewinding an open directory lists the live threads again without
//! the path lookup and open that otherwise cost most of a listing; and its link count, the
//! number of threads, cheaper still, to list only when the count moved.

// A directory stream through libc: the unsafe this module exists for.
#![allow(unsafe_code)]

use crate::error::Error;
use std::ffi::CStr;

/// An open `/proc/self/task`; closed on drop.
pub(crate) struct TaskDir(std::ptr::NonNull<libc::DIR>);

// SAFETY: the stream is used by one thread at a time (`list` takes `&mut self`); nothing in it
// is tied to the thread that opened it.
unsafe impl Send for TaskDir {}

impl std::fmt::Debug for TaskDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TaskDir")
    }
}

impl TaskDir {
    /// Opens `/proc/self/task`.
    pub(crate) fn open() -> Result<TaskDir, Error> {
        // SAFETY: a NUL-terminated path; opendir returns a stream or null.
        let dir = unsafe { libc::opendir(c"/proc/self/task".as_ptr()) };
        std::ptr::NonNull::new(dir)
            .map(TaskDir)
            .ok_or_else(|| Error::last_os("opendir of /proc/self/task"))
    }

    /// The number of threads now, from the directory's link count (two plus one per thread,
    /// as procfs counts it): one `fstat`, much cheaper than a listing; `None` if it fails.
    #[cfg(test)]
    pub(crate) fn count(&self) -> Option<u64> {
        self.links().and_then(|links| links.checked_sub(2))
    }

    /// The directory's link count now; `None` if `fstat` fails.
    pub(crate) fn links(&self) -> Option<u64> {
        links_of(self.fd())
    }

    /// The stream's descriptor, valid while `self` lives.
    pub(crate) fn fd(&self) -> i32 {
        // SAFETY: the stream is open.
        unsafe { libc::dirfd(self.0.as_ptr()) }
    }

    /// The ids of the process's threads now, sorted, into `out` (cleared first).
    pub(crate) fn list(&mut self, out: &mut Vec<u32>) {
        out.clear();
        // SAFETY: the stream is open and ours alone (`&mut self`); each entry readdir returns
        // is valid until the next readdir on the stream, and its name is NUL-terminated.
        unsafe {
            libc::rewinddir(self.0.as_ptr());
            loop {
                let entry = libc::readdir(self.0.as_ptr());
                if entry.is_null() {
                    break;
                }
                let name = CStr::from_ptr((*entry).d_name.as_ptr());
                // "." and ".." do not parse.
                if let Some(tid) = name.to_str().ok().and_then(|n| n.parse().ok()) {
                    out.push(tid);
                }
            }
        }
        out.sort_unstable();
    }
}

/// The link count of the directory open as `fd`; `None` if `fstat` fails. Async-signal-safe
/// (one `fstat`), for the SIGPROF handler too (`watch`).
pub(crate) fn links_of(fd: i32) -> Option<u64> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat fills `st` when it returns 0, and `st` is read only then. A descriptor
    // closed (and reused) meanwhile gives an error or another file's count, never UB.
    let st = unsafe { (libc::fstat(fd, st.as_mut_ptr()) == 0).then(|| st.assume_init()) }?;
    // `st_nlink`'s width differs between targets.
    #[allow(clippy::useless_conversion)]
    Some(u64::from(st.st_nlink))
}

impl Drop for TaskDir {
    fn drop(&mut self) {
        // SAFETY: the stream opened in `open`, closed once, here.
        unsafe {
            libc::closedir(self.0.as_ptr());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_threads_started_and_ended_after_it_opened() {
        let mut dir = TaskDir::open().expect("open /proc/self/task");
        let mut tids = Vec::new();
        // Other tests start and end threads meanwhile: the listing agrees with a fresh one
        // taken right after it, give or take a retry.
        let agrees = (0..50).any(|_| {
            dir.list(&mut tids);
            tids == crate::threads::list()
        });
        assert!(agrees, "{tids:?} against {:?}", crate::threads::list());
        let (told, stop) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
        let handle = std::thread::spawn(move || {
            told.0.send(crate::threads::current()).expect("send the id");
            stop.1.recv().expect("wait to end");
        });
        let new = told.1.recv().expect("the thread's id");
        dir.list(&mut tids);
        assert!(tids.contains(&new), "a new thread is listed");
        stop.0.send(()).expect("tell it to end");
        handle.join().expect("join");
        dir.list(&mut tids);
        assert!(!tids.contains(&new), "an ended thread is not");
        assert!(tids.is_sorted());
    }

    #[test]
    fn counts_threads_as_they_come_and_go() {
        let count = TaskDir::open().expect("open /proc/self/task");
        // Other tests start and end threads meanwhile: the count agrees with a listing taken
        // right after it, give or take a retry.
        let agrees = || {
            (0..50).any(|_| count.count().map(|n| n as usize) == Some(crate::threads::list().len()))
        };
        assert!(agrees());
        let stop = std::sync::mpsc::channel::<()>();
        let (started, up) = std::sync::mpsc::channel();
        let handle = std::thread::spawn(move || {
            started.send(()).expect("say it started");
            stop.1.recv().expect("wait to end");
        });
        up.recv().expect("started");
        assert!(count.count().is_some_and(|n| n >= 2));
        assert!(agrees());
        stop.0.send(()).expect("tell it to end");
        handle.join().expect("join");
        assert!(agrees());
    }
}
