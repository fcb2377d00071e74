//! AWS's conformance suite for durable SDKs judges `cairn serve`: its
//! requirements and its validator, unchanged, driven by
//! `tests/peers/conformance.py` against handlers written with Cairn's SDK
//! (`tests/conformance/SUITE`, one component per suite). Every requirement a
//! handler expresses must pass, but for the known failures each suite's
//! `gaps.yaml` names, which must still fail (so that a fix is noticed and
//! the list shrinks).

mod support;

use serde_json::Value;
use std::process::Command;
use support::{guest, workspace};

#[test]
fn aws_conformance_suite_passes_on_cairn_serve() {
    let components = guest("conformance-wait").parent().unwrap().to_path_buf();
    let package = workspace().join("target/test-peers/conformance");
    assert!(
        package
            .join("aws_durable_execution_conformance_tests")
            .is_dir(),
        "AWS's conformance suite is not unpacked in {} (scripts/test does it)",
        package.display()
    );
    let output = Command::new("python3")
        .arg(workspace().join("tests/peers/conformance.py"))
        .arg("--cairn")
        .arg(env!("CARGO_BIN_EXE_cairn"))
        .arg("--components")
        .arg(&components)
        .arg("--suites")
        .arg(workspace().join("tests/conformance"))
        .arg("--package")
        .arg(&package)
        .env("RUST_LIB_BACKTRACE", "0")
        .output()
        .expect("python3 runs (scripts/test installs the peers)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // AWS's own report, for whoever reads the test's output.
    println!("{stdout}");
    let summary: Value = stdout
        .lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("the driver printed no summary:\n{stdout}\n{stderr}"));
    assert_eq!(
        summary["unexpected_failures"],
        Value::Array(vec![]),
        "requirements that fail and are not known to:\n{stdout}\n{stderr}"
    );
    assert_eq!(
        summary["known_failures_now_passing"],
        Value::Array(vec![]),
        "known failures that pass now: take them out of gaps.yaml"
    );
    assert_eq!(summary["uncovered"], Value::Array(vec![]), "{summary}");
    assert!(
        summary["counts"]["PASSED"].as_u64().unwrap_or(0) > 0,
        "{summary}"
    );
    assert!(output.status.success(), "{stdout}\n{stderr}");
}
