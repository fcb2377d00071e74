//! Store faults: a server whose disk fills stays up, answers its API (with
//! AWS's `ServiceException` for what it cannot write), and once space
//! returns goes on with nothing recorded lost. Runs as root (it mounts a
//! small filesystem for the store); skipped with a message otherwise.

#[path = "support/signed.rs"]
mod signed;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use support::{Cairn, count, guest, succeeded_steps};

/// A small tmpfs mounted over a directory, unmounted when dropped.
struct Mounted(PathBuf);

impl Mounted {
    fn over(dir: &Path, size: &str) -> Option<Mounted> {
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .ok()?;
        mounted.status.success().then(|| Mounted(dir.to_owned()))
    }
}

impl Mounted {
    /// `dir` seen read-only at `at` (a read-only bind mount).
    fn read_only_view(dir: &Path, at: &Path) -> Option<Mounted> {
        let bound = Command::new("mount")
            .arg("--bind")
            .arg(dir)
            .arg(at)
            .output()
            .ok()?;
        if !bound.status.success() {
            return None;
        }
        let mounted = Mounted(at.to_owned());
        let read_only = Command::new("mount")
            .args(["-o", "remount,bind,ro"])
            .arg(at)
            .output()
            .ok()?;
        read_only.status.success().then_some(mounted)
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Lambda's Invoke (`Event`) of `steps`: the status and body of the answer.
fn invoke(server: &support::Server, name: &str, input: &str) -> (u16, String) {
    let mut response = signed::request(
        server,
        "POST",
        "/2015-03-31/functions/steps/invocations",
        &[
            ("X-Amz-Invocation-Type", b"Event"),
            ("X-Amz-Durable-Execution-Name", name.as_bytes()),
        ],
        input.as_bytes(),
    );
    let status = response.status().as_u16();
    let error_type = signed::error_type(&response);
    let body = response.body_mut().read_to_string().unwrap_or_default();
    (status, format!("{error_type} {body}"))
}

/// Lambda's GetDurableExecution of `name`.
fn get(server: &support::Server, name: &str) -> ureq::http::Response<ureq::Body> {
    signed::request(
        server,
        "GET",
        &format!("/2025-12-01/durable-executions/{name}"),
        &[],
        b"",
    )
}

/// A server with `steps` deployed.
fn serve_steps(cairn: &Cairn) -> support::Server {
    let server = cairn.serve(&[]);
    let deploy = cairn.run(&[
        "--server",
        &server.url,
        "deploy",
        "steps",
        guest("steps").to_str().unwrap(),
    ]);
    assert_eq!(deploy.code, 0, "{}", deploy.stderr);
    server
}

#[test]
fn a_full_disk_keeps_the_server_answering_and_loses_nothing() {
    let cairn = Cairn::new();
    let store_dir = cairn.db().parent().unwrap().to_owned();
    let Some(_mounted) = Mounted::over(&store_dir, "24m") else {
        eprintln!("skipped: cannot mount a small filesystem for the store (needs root)");
        return;
    };
    let server = serve_steps(&cairn);
    assert_eq!(invoke(&server, "before", r#"{"count":2}"#).0, 202);
    // Falls due while the disk is full.
    let waiting = r#"{"count":3,"wait_after":1,"wait_seconds":3}"#;
    assert_eq!(invoke(&server, "waiting", waiting).0, 202);
    cairn.wait_for_status("before", "SUCCEEDED");
    cairn.wait_for_history("waiting", |events| count(events, "WaitStarted") == 1, || {});
    let before = cairn.history("before");

    // Fill the disk.
    let filler = store_dir.join("filler");
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 64 << 10];
        while file
            .write_all(&chunk)
            .and_then(|()| file.sync_all())
            .is_ok()
        {}
    }
    // Starts are refused with AWS's 5xx once the store cannot grow; those
    // answered 202 before are kept.
    let mut accepted = Vec::new();
    let mut refused = None;
    for i in 0..3000 {
        let name = format!("full-{i}");
        let (status, body) = invoke(&server, &name, r#"{"count":1}"#);
        match status {
            202 => accepted.push(name),
            _ => {
                refused = Some((name, status, body));
                break;
            }
        }
    }
    let (refused, status, body) = refused.expect("a start was refused while the disk was full");
    assert_eq!(status, 500, "{body}");
    assert!(body.starts_with("ServiceException"), "{body}");
    // The API still answers what it can read.
    let mut found = get(&server, "before");
    assert_eq!(found.status(), 200);
    assert!(
        found
            .body_mut()
            .read_to_string()
            .unwrap()
            .contains("SUCCEEDED")
    );

    // Space returns: everything goes on.
    std::fs::remove_file(&filler).unwrap();
    let done = cairn.wait_for_status("waiting", "SUCCEEDED");
    assert_eq!(done["Result"], "14");
    let history = cairn.history("waiting");
    assert_eq!(succeeded_steps(&history), ["step-1", "step-2", "step-3"]);
    assert_eq!(count(&history, "WaitSucceeded"), 1);
    for name in &accepted {
        cairn.wait_for_status(name, "SUCCEEDED");
    }
    let missing = cairn.run(&["get", &refused]);
    assert_eq!(missing.code, 2, "a refused start created nothing");
    assert_eq!(cairn.history("before"), before, "nothing recorded was lost");
    // Started again once there is room, as a client would retry.
    assert_eq!(invoke(&server, &refused, r#"{"count":1}"#).0, 202);
    cairn.wait_for_status(&refused, "SUCCEEDED");
    let log = server.kill();
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn a_store_locked_by_another_process_keeps_the_server_answering_and_loses_nothing() {
    let cairn = Cairn::new();
    let server = serve_steps(&cairn);
    // Falls due while the store is locked.
    let waiting = r#"{"count":3,"wait_after":1,"wait_seconds":2}"#;
    assert_eq!(invoke(&server, "waiting", waiting).0, 202);
    cairn.wait_for_history("waiting", |events| count(events, "WaitStarted") == 1, || {});
    let before = cairn.history("waiting");

    // Another process takes the store's write lock and keeps it until its
    // stdin closes.
    let mut holder = Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys\n\
             c = sqlite3.connect(sys.argv[1], isolation_level=None)\n\
             c.execute('BEGIN EXCLUSIVE')\n\
             print('locked', flush=True)\n\
             sys.stdin.read()\n",
        ])
        .arg(cairn.db())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "locked");

    // A start is refused with AWS's 5xx once the lock outlasts the busy
    // timeout; reads still answer.
    let (status, body) = invoke(&server, "locked-out", r#"{"count":1}"#);
    assert_eq!(status, 500, "{body}");
    assert!(body.starts_with("ServiceException"), "{body}");
    let found = get(&server, "waiting");
    assert_eq!(found.status(), 200);

    // The lock goes: everything goes on.
    drop(holder.stdin.take());
    holder.wait().unwrap();
    let done = cairn.wait_for_status("waiting", "SUCCEEDED");
    assert_eq!(done["Result"], "14");
    let history = cairn.history("waiting");
    assert_eq!(
        &history[..before.len()],
        &before[..],
        "nothing recorded was lost"
    );
    assert_eq!(succeeded_steps(&history), ["step-1", "step-2", "step-3"]);
    assert_eq!(
        cairn.run(&["get", "locked-out"]).code,
        2,
        "a refused start created nothing"
    );
    assert_eq!(invoke(&server, "locked-out", r#"{"count":1}"#).0, 202);
    cairn.wait_for_status("locked-out", "SUCCEEDED");
    let log = server.kill();
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn a_read_only_store_is_refused_clearly_and_loses_nothing() {
    let cairn = Cairn::new();
    let start = cairn.run(&[
        "start",
        guest("steps").to_str().unwrap(),
        "--name",
        "w",
        "--input",
        r#"{"count":2,"wait_after":1,"wait_seconds":1}"#,
    ]);
    assert_eq!(start.code, 0, "{}", start.stderr);
    let store_dir = cairn.db().parent().unwrap().to_owned();
    let view = tempfile::tempdir().unwrap();
    let Some(read_only) = Mounted::read_only_view(&store_dir, view.path()) else {
        eprintln!("skipped: cannot make a read-only bind mount of the store (needs root)");
        return;
    };
    let serve = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .arg("--db")
        .arg(view.path().join("cairn.db"))
        .args(["serve", "--port", "0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&serve.stderr);
    assert_eq!(serve.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is on a read-only filesystem"), "{stderr}");
    drop(read_only);
    // The store itself, writable: the execution goes on from its record.
    let server = cairn.serve(&[]);
    let done = cairn.wait_for_status("w", "SUCCEEDED");
    assert_eq!(done["Result"], "5");
    let history = cairn.history("w");
    assert_eq!(succeeded_steps(&history), ["step-1", "step-2"]);
    assert_eq!(count(&history, "WaitSucceeded"), 1);
    server.kill();
}
