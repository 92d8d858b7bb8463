//! Child processes with bounded waits: [`run`] to completion, [`Spawned`] with its stdout read
//! line by line, [`Process`] for a long-running peer logging to a file.

use crate::tail;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a command that ran to completion did.
#[derive(Debug)]
pub struct Finished {
    /// What the command was called in messages.
    pub name: String,
    /// Its exit status.
    pub status: ExitStatus,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
    /// How long it ran.
    pub elapsed: Duration,
}

/// Runs `cmd` to completion, killing it and panicking (with what it printed) if it takes longer
/// than `timeout`.
pub fn run(name: &str, cmd: Command, timeout: Duration) -> Finished {
    let started = Instant::now();
    let mut spawned = Spawned::start(name, cmd);
    let (status, lines) = spawned.wait_exit(timeout);
    let mut stdout = lines.join("\n");
    if !stdout.is_empty() {
        stdout.push('\n');
    }
    // The stderr reader ends at EOF, just after the exit: give it a moment.
    let stderr_deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < stderr_deadline && Arc::strong_count(&spawned.stderr) > 1 {
        std::thread::sleep(Duration::from_millis(10));
    }
    Finished {
        name: name.to_owned(),
        status,
        stdout,
        stderr: spawned.stderr(),
        elapsed: started.elapsed(),
    }
}

impl Finished {
    /// Panics, with what the command printed, unless it exited successfully.
    pub fn assert_success(&self) {
        assert!(
            self.status.success(),
            "{} failed ({}):\nstdout:\n{}\nstderr:\n{}",
            self.name,
            self.status,
            tail(&self.stdout, 60),
            tail(&self.stderr, 60)
        );
    }

    /// The rest of the first stdout line starting with `prefix` (a `KEY=` a script printed).
    /// Panics, with the output, if there is none.
    pub fn line_value(&self, prefix: &str) -> &str {
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| {
                panic!(
                    "{} printed no {prefix} line; stdout:\n{}\nstderr:\n{}",
                    self.name, self.stdout, self.stderr
                )
            })
    }
}

/// A running child process, killed (and reaped) when dropped, with its stdout delivered line by
/// line and its stderr collected.
#[derive(Debug)]
pub struct Spawned {
    name: String,
    child: Option<Child>,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Spawned {
    /// Starts `cmd` with piped stdout and stderr.
    pub fn start(name: &str, mut cmd: Command) -> Spawned {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let collected = Arc::new(Mutex::new(String::new()));
        let sink = collected.clone();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stderr);
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .expect("stderr lock")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Spawned {
            name: name.to_owned(),
            child: Some(child),
            lines,
            stderr: collected,
        }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.as_ref().expect("child").id()
    }

    /// What the process wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr lock").clone()
    }

    /// Waits (at most `timeout`) for the next stdout line for which `want` holds, returning it;
    /// the lines skipped on the way are returned too. Panics with the process's stderr otherwise.
    pub fn wait_line(
        &self,
        timeout: Duration,
        want: impl Fn(&str) -> bool,
    ) -> (String, Vec<String>) {
        let deadline = Instant::now() + timeout;
        let mut skipped = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if want(&line) => return (line, skipped),
                Ok(line) => skipped.push(line),
                Err(RecvTimeoutError::Timeout) => panic!(
                    "{}: no expected stdout line within {timeout:?}; other lines: {skipped:?}; \
                     stderr:\n{}",
                    self.name,
                    self.stderr()
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "{}: stdout closed before the expected line; other lines: {skipped:?}; \
                     stderr:\n{}",
                    self.name,
                    self.stderr()
                ),
            }
        }
    }

    /// The exit status if the process has exited (it is reaped then), without waiting.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        let status = self.child.as_mut()?.try_wait().expect("try_wait")?;
        self.child = None;
        Some(status)
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        assert!(terminate(self.id()), "kill -TERM {} failed", self.id());
    }

    /// Stops the process with SIGTERM, checks that it exits successfully within `timeout`, and
    /// returns the stdout lines not consumed yet.
    pub fn stop(mut self, timeout: Duration) -> Vec<String> {
        self.terminate();
        let (status, rest) = self.wait_exit(timeout);
        assert!(
            status.success(),
            "{} exited with {status}; stderr:\n{}",
            self.name,
            self.stderr()
        );
        rest
    }

    /// Waits (at most `timeout`) for the process to exit; returns its status and the stdout lines
    /// not consumed yet. Kills it and panics if it does not exit in time.
    pub fn wait_exit(&mut self, timeout: Duration) -> (ExitStatus, Vec<String>) {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut().expect("child");
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.child = None;
                // The reader thread ends at EOF; collect what it still has.
                let mut rest = Vec::new();
                while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
                    rest.push(line);
                }
                return (status, rest);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                self.child = None;
                let mut stdout = Vec::new();
                while let Ok(line) = self.lines.try_recv() {
                    stdout.push(line);
                }
                panic!(
                    "{}: did not exit within {timeout:?}\nstdout:\n{}\nstderr:\n{}",
                    self.name,
                    tail(&stdout.join("\n"), 40),
                    tail(&self.stderr(), 40)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sends SIGTERM to `pid`; whether `kill` succeeded.
fn terminate(pid: u32) -> bool {
    Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .is_ok_and(|s| s.success())
}

/// A long-running child process with stdout and stderr going to one log file. Dropping it stops
/// the process: SIGTERM, then SIGKILL if it has not exited within five seconds.
#[derive(Debug)]
pub struct Process {
    name: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Process {
    /// Starts `cmd`, appending its output to `log`.
    pub fn start(name: &str, mut cmd: Command, log: &Path) -> Process {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("open the log file");
        let err = file.try_clone().expect("clone the log file handle");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        Process {
            name: name.to_owned(),
            child: Some(child),
            log: log.to_owned(),
        }
    }

    /// The process id, while it has not been stopped.
    pub fn id(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Everything the process logged so far.
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned()
    }

    /// The exit status if the process has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().expect("try_wait"))
    }

    /// Sends SIGTERM and waits (at most `timeout`) for the process to exit; kills it if it does
    /// not. Returns the exit status.
    pub fn stop(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        let _ = terminate(child.id());
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!(
            "{}: no exit {timeout:?} after SIGTERM; killing it",
            self.name
        );
        let _ = child.kill();
        child.wait().ok()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(5));
    }
}
