//! [`TaskDir`]: `/proc/self/task` kept open, for a sampler that lists the process's threads
//! every few milliseconds: rewinding an open directory lists the live threads again without
//! the path lookup and open that otherwise cost most of a listing. [`ThreadCount`]: the
//! process's thread count from `/proc/self/stat`, kept open, one read: cheaper still, to
//! list only when the count moved.

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

/// `/proc/self/stat` kept open: the process's thread count in one read.
#[derive(Debug)]
pub(crate) struct ThreadCount(std::fs::File);

impl ThreadCount {
    /// Opens `/proc/self/stat`.
    pub(crate) fn open() -> Result<ThreadCount, Error> {
        std::fs::File::open("/proc/self/stat")
            .map(ThreadCount)
            .map_err(|e| Error::last_os(&format!("opening /proc/self/stat ({e})")))
    }

    /// The number of threads now; `None` if it cannot be read.
    pub(crate) fn now(&self) -> Option<u32> {
        use std::os::unix::fs::FileExt;
        let mut buf = [0u8; 1024];
        let n = self.0.read_at(&mut buf, 0).ok()?;
        let stat = std::str::from_utf8(buf.get(..n)?).ok()?;
        // The name, in parentheses, may hold anything: the fields start after the last `)`,
        // with the state (field 3); the thread count is field 20.
        let fields = stat.get(stat.rfind(')')? + 1..)?;
        fields.split_ascii_whitespace().nth(17)?.parse().ok()
    }
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
        dir.list(&mut tids);
        assert_eq!(tids, crate::threads::list());
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
        let count = ThreadCount::open().expect("open /proc/self/stat");
        // Other tests start and end threads meanwhile: the count agrees with a listing taken
        // right after it, give or take a retry.
        let agrees = || {
            (0..50).any(|_| count.now().map(|n| n as usize) == Some(crate::threads::list().len()))
        };
        assert!(agrees());
        let stop = std::sync::mpsc::channel::<()>();
        let (started, up) = std::sync::mpsc::channel();
        let handle = std::thread::spawn(move || {
            started.send(()).expect("say it started");
            stop.1.recv().expect("wait to end");
        });
        up.recv().expect("started");
        assert!(count.now().is_some_and(|n| n >= 2));
        assert!(agrees());
        stop.0.send(()).expect("tell it to end");
        handle.join().expect("join");
        assert!(agrees());
    }
}
