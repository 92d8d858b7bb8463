//! The chaos soak: two workloads (gRPC, HTTP/protobuf) at a steady rate against a receiver
//! restarted, made slow, answering 503/`UNAVAILABLE` and partial success on a schedule; every
//! item accounted for, memory flat. Two minutes by default; `OTLP_SOAK_SECONDS=3600` makes it
//! the one-hour soak (`docs/soak.md`). `OTLP_SOAK_REPORT=path` writes the report there too.

use otlp_soak::{SoakConfig, report, run};
use std::path::PathBuf;

#[test]
fn soak_under_chaos_accounts_for_every_item_with_flat_memory() {
    let workload = PathBuf::from(env!("CARGO_BIN_EXE_soak-workload"));
    let config = SoakConfig::from_env(workload).expect("soak settings");
    let outcome = run(&config).expect("the soak runs");
    let text = report::text(&outcome);
    eprintln!("{text}");
    if let Ok(path) = std::env::var("OTLP_SOAK_REPORT") {
        std::fs::write(&path, &text).expect("write the report");
    }
    let problems = outcome.problems();
    assert!(problems.is_empty(), "{problems:#?}\n{text}");
}
