//! The CLI as a newcomer meets it: the store found as git finds its
//! repository, errors that name the store, callback results checked as
//! JSON, a resume that keeps its input, a check that checked nothing
//! failing, reads (log lines included) through `--server`, and output cut
//! short by `| head`.

mod support;

use serde_json::Value;
use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use support::{Cairn, Run, guest};

/// `cairn ARGS` in `dir`, with no `--db` and no `CAIRN_DB`.
fn cairn_in(dir: &Path, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .current_dir(dir)
        .env_remove("CAIRN_DB")
        .env_remove("CAIRN_SERVER")
        .args(args)
        .output()
        .expect("run cairn");
    Run::from(output)
}

#[test]
fn the_store_is_found_in_a_directory_above_and_a_missing_one_is_named() {
    let project = tempfile::tempdir().unwrap();
    let steps = guest("steps");
    let run = cairn_in(
        project.path(),
        &[
            "run",
            steps.to_str().unwrap(),
            "--name",
            "found",
            "--input",
            r#"{"count":1}"#,
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(project.path().join(".cairn/cairn.db").is_file());

    let deeper = project.path().join("src/deeper");
    std::fs::create_dir_all(&deeper).unwrap();
    let get = cairn_in(&deeper, &["get", "found"]);
    assert_eq!(get.code, 0, "{}", get.stderr);
    let summary: Value = serde_json::from_str(&get.stdout).unwrap();
    assert_eq!(summary["Status"], "SUCCEEDED");
    // Not found there: the message names the store it looked in.
    let missing = cairn_in(&deeper, &["get", "lost"]);
    assert_eq!(missing.code, 2);
    let store = project.path().join(".cairn/cairn.db");
    assert!(
        missing
            .stderr
            .contains("no execution named \"lost\" in the store")
            && missing.stderr.contains(store.to_str().unwrap()),
        "{}",
        missing.stderr
    );

    let stop = cairn_in(&deeper, &["stop", "lost"]);
    assert_eq!(stop.code, 2);
    assert!(
        stop.stderr.contains("in the store") && stop.stderr.contains(store.to_str().unwrap()),
        "{}",
        stop.stderr
    );

    // Elsewhere, reading commands say there is no store and make none.
    let elsewhere = tempfile::tempdir().unwrap();
    for args in [
        &["list"][..],
        &["get", "found"],
        &["history", "found"],
        &["stop", "found"],
    ] {
        let read = cairn_in(elsewhere.path(), args);
        assert_eq!(read.code, 2, "{args:?}");
        assert!(
            read.stderr.contains("there is no store at .cairn/cairn.db"),
            "{args:?}: {}",
            read.stderr
        );
    }
    assert!(!elsewhere.path().join(".cairn").exists());
}

#[test]
fn a_callback_result_that_is_not_json_is_refused_before_anything_is_sent() {
    let cairn = Cairn::new();
    // Any run makes the store.
    let steps = guest("steps");
    let run = cairn.run(&["run", steps.to_str().unwrap(), "--input", r#"{"count":1}"#]);
    assert_eq!(run.code, 0, "{}", run.stderr);

    let refused = cairn.run(&["callback", "succeed", "some-id", "{approved:true}"]);
    assert_eq!(refused.code, 2);
    assert!(
        refused.stderr.contains("the result is not JSON") && refused.stderr.contains("--raw"),
        "{}",
        refused.stderr
    );
    // With --raw it is sent (and the unknown id is reported, naming the store).
    let raw = cairn.run(&["callback", "succeed", "some-id", "{approved:true}", "--raw"]);
    assert_eq!(raw.code, 2);
    assert!(
        raw.stderr.contains("no callback has the id")
            && raw.stderr.contains(cairn.db().to_str().unwrap()),
        "{}",
        raw.stderr
    );
}

#[test]
fn a_resumed_run_keeps_its_input_and_an_upgrade_check_of_nothing_fails() {
    let cairn = Cairn::new();
    let steps = guest("steps");
    let start = cairn.run(&[
        "start",
        steps.to_str().unwrap(),
        "--name",
        "later",
        "--input",
        r#"{"count":3}"#,
    ]);
    assert_eq!(start.code, 0, "{}", start.stderr);
    // Run by name alone: the recorded input, not null.
    let run = cairn.run(&["run", steps.to_str().unwrap(), "--name", "later"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.trim(), "14");

    // No running executions of the workflow the file name suggests.
    let check = cairn.run(&["check-upgrade", "--component", steps.to_str().unwrap()]);
    assert_eq!(check.code, 1, "{}", check.stdout);
    assert!(
        check.stderr.contains("nothing was checked"),
        "{}",
        check.stderr
    );
    let all = cairn.run(&[
        "check-upgrade",
        "--component",
        steps.to_str().unwrap(),
        "--executions",
        "all",
    ]);
    assert_eq!(all.code, 0, "{}", all.stderr);
    assert!(
        all.stdout
            .contains("1 of 1 execution(s) would resume cleanly"),
        "{}",
        all.stdout
    );
}

#[test]
fn reads_go_through_the_server_and_listings_print_json() {
    let cairn = Cairn::new();
    let server = cairn.serve(&["--skip-time"]);
    let steps = guest("steps");
    let via = ["--server", server.url.as_str()];
    let start = cairn.run(
        &[
            &via[..],
            &[
                "start",
                steps.to_str().unwrap(),
                "--name",
                "remote",
                "--input",
                r#"{"count":2}"#,
            ],
        ]
        .concat(),
    );
    assert_eq!(start.code, 0, "{}", start.stderr);
    cairn.wait_for_status("remote", "SUCCEEDED");

    let get = cairn.run(&[&via[..], &["get", "remote"]].concat());
    assert_eq!(get.code, 0, "{}", get.stderr);
    let remote: Value = serde_json::from_str(&get.stdout).unwrap();
    assert_eq!(
        remote,
        cairn.get("remote"),
        "the server's answer is the store's"
    );

    let history = cairn.run(&[&via[..], &["history", "remote", "--json"]].concat());
    assert_eq!(history.code, 0, "{}", history.stderr);
    let events: Value = serde_json::from_str(&history.stdout).unwrap();
    assert_eq!(
        events["Events"].as_array().unwrap(),
        &cairn.history("remote")
    );

    // What it logged: from the store, and through the server (CloudWatch
    // Logs' FilterLogEvents), the same records in the order they were logged.
    let local_logs = cairn.run(&["logs", "remote", "--json"]);
    assert_eq!(local_logs.code, 0, "{}", local_logs.stderr);
    let remote_logs = cairn.run(&[&via[..], &["logs", "remote", "--json"]].concat());
    assert_eq!(remote_logs.code, 0, "{}", remote_logs.stderr);
    assert_eq!(local_logs.stdout, remote_logs.stdout);
    let messages: Vec<String> = local_logs
        .stdout
        .lines()
        .map(|line| {
            let record: Value = serde_json::from_str(line).unwrap();
            assert_eq!(record["executionName"], "remote");
            record["message"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(messages, ["body ran: step-1", "body ran: step-2"]);
    let text = cairn.run(&["logs", "remote"]);
    assert!(
        text.stdout
            .lines()
            .all(|line| line.contains(" INFO  body ran: step-")),
        "{}",
        text.stdout
    );

    let unnamed = cairn.run(&[&via[..], &["list"]].concat());
    assert_eq!(unnamed.code, 2);
    assert!(unnamed.stderr.contains("--workflow"), "{}", unnamed.stderr);
    let listed = cairn.run(&[&via[..], &["list", "--workflow", "steps", "--json"]].concat());
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let local = cairn.run(&["list", "--workflow", "steps", "--json"]);
    assert_eq!(local.code, 0, "{}", local.stderr);
    let listed: Value = serde_json::from_str(&listed.stdout).unwrap();
    let names: Vec<&str> = listed["DurableExecutions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["DurableExecutionName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["remote"]);
    let local: Value = serde_json::from_str(&local.stdout).unwrap();
    assert_eq!(local, listed, "the store's listing is the server's");
    let log = server.kill();
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn output_cut_short_by_its_reader_ends_quietly() {
    let cairn = Cairn::new();
    let steps = guest("steps");
    // A history far larger than a pipe's buffer.
    let run = cairn.run(&[
        "run",
        steps.to_str().unwrap(),
        "--name",
        "long",
        "--durability",
        "process",
        "--input",
        r#"{"count":600}"#,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut child = cairn
        .command()
        .args(["history", "long", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap(); // the reader goes away here, as `| head -1` does
    assert_eq!(first.trim(), "{");
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

#[test]
fn a_suspended_run_says_what_it_awaits() {
    let cairn = Cairn::new();
    // A retry delay: the step, the failed attempt and its error.
    let flaky = cairn.run(&[
        "run",
        guest("flaky").to_str().unwrap(),
        "--skip-time",
        "--input",
        r#"{"failures":1}"#,
    ]);
    assert_eq!(flaky.code, 0, "{}", flaky.stderr);
    let line = flaky
        .stderr
        .lines()
        .find(|line| line.starts_with("cairn: suspended until"))
        .unwrap_or_else(|| panic!("no suspension line: {}", flaky.stderr));
    assert!(
        line.contains("awaiting step ") && line.contains("attempt 1 failed (Unavailable"),
        "{line}"
    );
    // A wait, by its name.
    let mut child = cairn
        .command()
        .args([
            "run",
            guest("steps").to_str().unwrap(),
            "--input",
            r#"{"count":1,"wait_after":1,"wait_seconds":3600}"#,
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let line = std::io::BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map(Result::unwrap)
        .find(|line| line.starts_with("cairn: suspended until"))
        .expect("a suspension line");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(line.contains(r#"awaiting wait "pause""#), "{line}");
}

#[test]
fn a_crate_that_does_not_compile_is_reported_as_such() {
    let cairn = Cairn::new();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"broken\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         [lib]\ncrate-type = [\"cdylib\"]\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    std::fs::write(
        dir.path().join("src/lib.rs"),
        "pub fn answer() -> u32 { \"forty-two\" }\n",
    )
    .unwrap();
    let run = cairn.run(&["run", dir.path().to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("it does not compile (cargo's errors are above)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("mismatched types"), "{}", run.stderr);
    assert!(!run.stderr.contains("not installed"), "{}", run.stderr);
}
