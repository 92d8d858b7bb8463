//! Tests of settings read from the process environment: the test runs again in a child
//! process with the variables set, so that no test changes its own process's environment.

use std::process::Command;

const CHILD: &str = "OTLP_TEST_CHILD";

/// True in the child, where the test body runs. In the parent, runs test `name` (its full path
/// in the test binary) in a child process with `vars` set, asserts that it passed, and
/// returns false.
pub fn in_child(name: &str, vars: &[(&str, &str)]) -> bool {
    if std::env::var_os(CHILD).is_some() {
        return true;
    }
    let exe = std::env::current_exe().expect("test binary");
    let output = Command::new(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .envs(vars.iter().copied())
        .output()
        .expect("child test runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child {name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("1 passed"), "child ran no test:\n{stdout}");
    false
}
