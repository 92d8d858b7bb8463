//! Helpers shared by the integration tests: commands isolated from the caller's OpenTelemetry
//! settings, child processes that are killed on drop, and waits that are always bounded.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A command running `program` without the caller's `OTEL_*` variables, which would change what
/// an OpenTelemetry exporter (ours or the Python SDK's) does.
pub fn command(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("OTEL_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// A fresh, empty directory under the target directory's temp space, unique per test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("otlp-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// A running child process, killed (and reaped) when dropped, with its stdout delivered line by
/// line and its stderr collected.
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

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {} failed", self.id());
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
                panic!(
                    "{}: did not exit within {timeout:?}; stderr:\n{}",
                    self.name,
                    self.stderr()
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

/// Runs `cmd` to completion, killing it and panicking if it takes longer than `timeout`.
pub fn run(name: &str, cmd: Command, timeout: Duration) -> Finished {
    let started = Instant::now();
    let mut spawned = Spawned::start(name, cmd);
    let (status, lines) = spawned.wait_exit(timeout);
    let mut stdout = lines.join("\n");
    if !stdout.is_empty() {
        stdout.push('\n');
    }
    // Give the stderr reader a moment to see EOF.
    let stderr_deadline = Instant::now() + Duration::from_secs(2);
    let mut stderr = spawned.stderr();
    while Instant::now() < stderr_deadline && Arc::strong_count(&spawned.stderr) > 1 {
        std::thread::sleep(Duration::from_millis(10));
        stderr = spawned.stderr();
    }
    Finished {
        name: name.to_owned(),
        status,
        stdout,
        stderr,
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
            self.stdout,
            self.stderr
        );
    }
}

/// A loopback port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Parses `listening grpc=ADDR http=ADDR` into the two addresses.
pub fn parse_listening(line: &str) -> (String, String) {
    let mut grpc = None;
    let mut http = None;
    let mut words = line.split_whitespace();
    assert_eq!(words.next(), Some("listening"), "{line}");
    for word in words {
        match word.split_once('=') {
            Some(("grpc", a)) => grpc = Some(a.to_owned()),
            Some(("http", a)) => http = Some(a.to_owned()),
            _ => panic!("unexpected field {word:?} in {line:?}"),
        }
    }
    (
        grpc.unwrap_or_else(|| panic!("no grpc= in {line:?}")),
        http.unwrap_or_else(|| panic!("no http= in {line:?}")),
    )
}
