//! The process's threads from `/proc/self/task`: their ids, names and scheduler states.

// Only the samplers use it, and they need Linux on x86_64.
#![cfg_attr(
    not(all(target_os = "linux", target_arch = "x86_64")),
    allow(dead_code)
)]

/// A thread's scheduler state, as `/proc/<pid>/task/<tid>/stat` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ThreadState {
    /// Running or runnable (`R`).
    Running,
    /// Sleeping, interruptibly (`S`).
    Sleeping,
    /// Waiting uninterruptibly, usually on I/O (`D`).
    DiskWait,
    /// Stopped or traced (`T`, `t`).
    Stopped,
    /// Exiting (`Z`, `X`) or any other state.
    Other,
}

impl ThreadState {
    fn from_code(code: u8) -> Self {
        match code {
            b'R' => ThreadState::Running,
            b'S' | b'I' => ThreadState::Sleeping,
            b'D' => ThreadState::DiskWait,
            b'T' | b't' => ThreadState::Stopped,
            _ => ThreadState::Other,
        }
    }

    /// The value of the `thread.state` attribute.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ThreadState::Running => "running",
            ThreadState::Sleeping => "sleeping",
            ThreadState::DiskWait => "disk_wait",
            ThreadState::Stopped => "stopped",
            ThreadState::Other => "other",
        }
    }
}

/// The ids of the process's threads (empty off Linux or if `/proc` cannot be read): the
/// reference the samplers' kept-open listing (`cpu::tasks`) is checked against.
#[cfg(test)]
pub(crate) fn list() -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    let mut tids: Vec<u32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    tids.sort_unstable();
    tids
}

/// The name of thread `tid` (`comm`, at most 15 bytes), if it still exists.
pub(crate) fn name(tid: u32) -> Option<String> {
    let comm = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm")).ok()?;
    Some(comm.trim_end_matches('\n').to_owned())
}

/// The state of thread `tid`, if it still exists.
pub(crate) fn state(tid: u32) -> Option<ThreadState> {
    let stat = std::fs::read(format!("/proc/self/task/{tid}/stat")).ok()?;
    parse_state(&stat)
}

/// The state letter follows the name, which is in parentheses and may itself hold ") ".
fn parse_state(stat: &[u8]) -> Option<ThreadState> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    stat.get(close + 2).map(|&c| ThreadState::from_code(c))
}

/// The calling thread's kernel id.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub(crate) fn current() -> u32 {
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    u32::try_from(tid).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_after_a_name_with_parentheses() {
        assert_eq!(
            parse_state(b"12 (a) b) S 1 2 3"),
            Some(ThreadState::Sleeping)
        );
        assert_eq!(parse_state(b"12 (x) R 1"), Some(ThreadState::Running));
        assert_eq!(parse_state(b"garbage"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn lists_this_thread_with_its_name() {
        let handle = std::thread::Builder::new()
            .name("named-probe".into())
            .spawn(|| {
                let tid = current();
                (list().contains(&tid), name(tid), state(tid))
            })
            .unwrap();
        let (listed, name, state) = handle.join().unwrap();
        assert!(listed);
        assert_eq!(name.as_deref(), Some("named-probe"));
        assert_eq!(state, Some(ThreadState::Running));
    }
}
