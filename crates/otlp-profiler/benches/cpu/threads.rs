//! The profiler's own threads, found by name in `/proc/self/task`, and their CPU time.

use std::time::Duration;

/// The kernel ids of this process's threads whose name starts with `prefix`.
pub fn named(prefix: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|entry| {
            let tid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let comm = std::fs::read_to_string(entry.path().join("comm")).ok()?;
            comm.starts_with(prefix).then_some(tid)
        })
        .collect()
}

/// A thread's name (empty once it exited).
pub fn name(tid: u32) -> String {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/comm"))
        .map(|n| n.trim_end().to_owned())
        .unwrap_or_default()
}

/// [`named`], waiting (up to a second) until `count` such threads are named: a new thread
/// names itself when it starts running.
pub fn wait_named(prefix: &str, count: usize) -> Vec<u32> {
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    loop {
        let tids = named(prefix);
        if tids.len() >= count || std::time::Instant::now() > deadline {
            return tids;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The CPU time of `tids` together (threads gone since count nothing).
pub fn cpu(tids: &[u32]) -> Duration {
    tids.iter()
        .filter_map(|&t| super::workload::tid_cpu(t))
        .sum()
}

/// Waits (up to two seconds) until `tids` are idle: less than 0.1 ms of CPU over 50 ms, so a
/// profiler's one-time start work (on its own threads, after its start returned) stays out of
/// what is measured next. Returns the CPU they used meanwhile.
pub fn settle(tids: &[u32]) -> Duration {
    let first = cpu(tids);
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    let mut last = first;
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let now = cpu(tids);
        if now - last < Duration::from_micros(100) || std::time::Instant::now() > deadline {
            return now - first;
        }
        last = now;
    }
}
