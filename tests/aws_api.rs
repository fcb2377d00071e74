//! `cairn serve`'s HTTP API driven by boto3, unchanged (tests/peers/aws_api.py):
//! start by Invoke, get, history, list, stop and the three callback calls,
//! with AWS's error codes; then the CLI's `--server` mode.

mod support;

use serde_json::{Value, json};
use std::process::Command;
use support::{Cairn, guest, workspace};

/// Runs the boto3 peer against the server at `url`; returns its summary.
fn boto3_peer(url: &str) -> Value {
    let output = Command::new("python3")
        .arg(workspace().join("tests/peers/aws_api.py"))
        .env("CAIRN_URL", url)
        .output()
        .expect("python3 runs (.ci/run installs boto3)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the boto3 peer failed (pip install boto3 if it is missing):\n{stderr}"
    );
    serde_json::from_slice(&output.stdout).expect("the peer prints a JSON summary")
}

#[test]
fn boto3_runs_executions_through_the_server() {
    let cairn = Cairn::new();
    let server = cairn.serve(&["--skip-time"]);
    for (name, component) in [("approval", guest("approval")), ("order", guest("order"))] {
        let deploy = cairn.run(&[
            "--server",
            &server.url,
            "deploy",
            name,
            component.to_str().unwrap(),
        ]);
        assert_eq!(deploy.code, 0, "{}", deploy.stderr);
    }

    let summary = boto3_peer(&server.url);

    assert_eq!(summary["approval_name"], "appr-1");
    assert_eq!(
        summary["approval_result"]["detail"],
        "paid 5 cents, approved by boto"
    );
    assert_eq!(summary["order_result"]["total_cents"], 900);
    assert_eq!(
        summary["conflict"],
        "DurableExecutionAlreadyStartedException"
    );
    assert_eq!(summary["unknown_function"], "ResourceNotFoundException");
    assert_eq!(
        summary["other_function"], "DurableExecutionAlreadyStartedException",
        "a name taken by another function's execution"
    );
    assert_eq!(summary["closed_callback"], "CallbackTimeoutException");
    assert_eq!(summary["unknown_callback"], "ResourceNotFoundException");
    assert_eq!(summary["unknown_execution"], "ResourceNotFoundException");
    assert_eq!(
        summary["unknown_function_list"],
        "ResourceNotFoundException"
    );
    assert_eq!(
        summary["stopped"],
        json!(["STOPPED", "Cancelled", "no longer needed"])
    );
    assert_eq!(summary["listed"], json!(["appr-1", "appr-2"]));
    assert_eq!(summary["listed_stopped"], json!(["appr-2"]));
    assert_eq!(summary["listed_ended"], json!(["appr-2", "appr-1"]));
    assert_eq!(summary["listed_by_name"], json!(["appr-1"]));
    assert_eq!(summary["listed_by_arn"], json!(["appr-1", "appr-2"]));

    // What boto3 read is what the store holds.
    let stored: Vec<Value> = cairn
        .history("appr-1")
        .iter()
        .map(|e| json!([e["EventId"], e["EventType"], e["Name"]]))
        .collect();
    assert_eq!(summary["history"], json!(stored));
    assert_eq!(
        support::count(&cairn.history("appr-1"), "CallbackSucceeded"),
        1
    );
    assert_eq!(cairn.get("order-1")["Status"], "SUCCEEDED");
}

#[test]
fn the_cli_talks_to_the_server() {
    let cairn = Cairn::new();
    let server = cairn.serve(&[]);
    let approval = guest("approval");
    let server_args = ["--server", server.url.as_str()];
    let run = |args: &[&str]| cairn.run(&[&server_args[..], args].concat());

    // A path is registered under its workflow's name, then started.
    let input = r#"{"amount_cents":7,"approver":"cli"}"#;
    let start = run(&[
        "start",
        approval.to_str().unwrap(),
        "--name",
        "c1",
        "--input",
        input,
    ]);
    assert_eq!(
        (start.code, start.stdout.as_str()),
        (0, "c1"),
        "{}",
        start.stderr
    );
    // A registered name starts too, idempotently.
    let again = run(&["start", "approval", "--name", "c1", "--input", input]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    let conflict = run(&["start", "approval", "--name", "c1", "--input", "{}"]);
    assert_eq!(conflict.code, 2);
    assert!(
        conflict
            .stderr
            .contains("DurableExecutionAlreadyStartedException"),
        "{}",
        conflict.stderr
    );

    let history = cairn.wait_for_history(
        "c1",
        |events| support::count(events, "CallbackStarted") == 1,
        || {},
    );
    let id = history
        .iter()
        .find(|e| e["EventType"] == "CallbackStarted")
        .unwrap()["CallbackStartedDetails"]["CallbackId"]
        .as_str()
        .unwrap()
        .to_owned();
    let heartbeat = run(&["callback", "heartbeat", &id]);
    assert_eq!(heartbeat.code, 0, "{}", heartbeat.stderr);
    let fail = run(&[
        "callback",
        "fail",
        &id,
        "--type",
        "Rejected",
        "--message",
        "too dear",
    ]);
    assert_eq!(fail.code, 0, "{}", fail.stderr);
    let closed = run(&["callback", "succeed", &id, "true"]);
    assert_eq!(closed.code, 2);
    assert!(
        closed.stderr.contains("CallbackTimeoutException")
            && closed.stderr.contains("already closed"),
        "{}",
        closed.stderr
    );
    cairn.wait_for_history(
        "c1",
        |events| {
            events
                .last()
                .is_some_and(|e| e["EventType"] == "ExecutionFailed")
        },
        || {},
    );
    let outcome = cairn.get("c1");
    assert_eq!(outcome["Error"]["ErrorType"], "Rejected", "{outcome}");
    assert_eq!(outcome["Error"]["ErrorMessage"], "too dear", "{outcome}");

    let start = run(&["start", "approval", "--name", "c2", "--input", input]);
    assert_eq!(start.code, 0, "{}", start.stderr);
    let stop = run(&["stop", "c2", "--message", "enough"]);
    assert_eq!(stop.code, 0, "{}", stop.stderr);
    assert_eq!(cairn.get("c2")["Status"], "STOPPED");
    assert_eq!(cairn.get("c2")["Error"]["ErrorMessage"], "enough");
    let unknown = run(&["stop", "nobody"]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("ResourceNotFoundException"),
        "{}",
        unknown.stderr
    );
}

/// What a client sends wrong gets AWS's error shape and creates nothing:
/// a workflow name that is a path, an execution name header that is not
/// ASCII (never replaced by a random name: a retry would start another),
/// a body over the limit.
#[test]
fn bad_names_and_oversized_bodies_are_refused_in_aws_shape() {
    let cairn = Cairn::new();
    let server = cairn.serve(&[]);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let error_type = |response: &ureq::http::Response<ureq::Body>| {
        response
            .headers()
            .get("x-amzn-ErrorType")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let steps = guest("steps");
    let body = json!({ "ComponentPath": steps }).to_string();
    let path = agent
        .put(&format!(
            "{}/cairn/workflows/..%2F..%2Fetc%2Fpasswd",
            server.url
        ))
        .send(&body)
        .unwrap();
    assert_eq!(path.status(), 400);
    assert_eq!(error_type(&path), "InvalidParameterValueException");
    let local = cairn.run(&["deploy", "../x", steps.to_str().unwrap()]);
    assert_eq!(local.code, 2);
    assert!(
        local.stderr.contains("workflow name \"../x\""),
        "{}",
        local.stderr
    );
    let deployed = agent
        .put(&format!("{}/cairn/workflows/steps", server.url))
        .send(&body)
        .unwrap();
    assert_eq!(deployed.status(), 200);

    let invoke = |name: &[u8], payload: &[u8]| {
        agent
            .post(&format!(
                "{}/2015-03-31/functions/steps/invocations",
                server.url
            ))
            .header("X-Amz-Invocation-Type", "Event")
            .header(
                "X-Amz-Durable-Execution-Name",
                ureq::http::HeaderValue::from_bytes(name).unwrap(),
            )
            .send(payload)
            .unwrap()
    };
    let not_ascii = invoke("caf\u{e9}".as_bytes(), br#"{"count":1}"#);
    assert_eq!(not_ascii.status(), 400);
    assert_eq!(error_type(&not_ascii), "InvalidParameterValueException");
    // A body over the limit: the server may answer and close before it
    // has read it all, so this client writes what it can and then reads
    // the answer (a client library would stop at the broken pipe).
    let answer = {
        use std::io::{Read, Write};
        let authority = server.url.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(authority).unwrap();
        let big = vec![b' '; 3 << 20];
        let head = format!(
            "POST /2015-03-31/functions/steps/invocations HTTP/1.1\r\nHost: {authority}\r\n\
             X-Amz-Invocation-Type: Event\r\nX-Amz-Durable-Execution-Name: big\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            big.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        let _ = stream.write_all(&big); // may be cut short by the answer
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    };
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("x-amzn-errortype: requesttoolargeexception"),
        "{answer}"
    );
    assert!(answer.contains("larger than"), "{answer}");
    // Nothing was started by either.
    let listed = cairn.run(&["list", "--workflow", "steps", "--json"]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let listed: Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(listed["DurableExecutions"], json!([]));
    let log = server.kill();
    assert!(!log.contains("panicked"), "{log}");
}
