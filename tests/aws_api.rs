//! `cairn serve`'s HTTP API driven by boto3, unchanged (tests/peers/aws_api.py):
//! start by Invoke, get, history, list, stop and the three callback calls,
//! with AWS's error codes; pause, resume and delete
//! (tests/peers/pause_resume.py); then the CLI's `--server` mode.

#[path = "support/signed.rs"]
mod signed;
mod support;

use serde_json::{Value, json};
use std::process::Command;
use support::{Cairn, guest, workspace};

/// Runs the boto3 peer `script` (in tests/peers) against the server;
/// returns its summary.
fn boto3_peer(server: &support::Server, script: &str) -> Value {
    // boto3 finds the server's credentials as it finds any: in the shared
    // credentials file named by the environment.
    let output = Command::new("python3")
        .arg(workspace().join("tests/peers").join(script))
        .env("CAIRN_URL", &server.url)
        .env("AWS_SHARED_CREDENTIALS_FILE", &server.credentials)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
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

    let summary = boto3_peer(&server, "aws_api.py");

    assert_eq!(summary["functions"], json!(["approval", "order"]));
    assert_eq!(summary["order_version"], "1");
    assert_eq!(
        summary["order_arn"],
        "arn:aws:lambda:local:000000000000:function:order"
    );
    assert_eq!(summary["order_versions"], json!(["1"]));
    assert_eq!(summary["missing_function"], "ResourceNotFoundException");
    assert_eq!(summary["wrong_secret"], "InvalidSignatureException");
    assert_eq!(summary["unknown_key"], "UnrecognizedClientException");
    assert_eq!(summary["approval_name"], "appr-1");
    assert_eq!(
        summary["approval_result"]["detail"],
        "paid 5 cents, approved by boto"
    );
    assert_eq!(summary["order_result"]["total_cents"], 900);
    // Its one line, logged once however often the workflow replayed, read
    // back through CloudWatch Logs' FilterLogEvents.
    let order_logs = summary["order_logs"].as_array().unwrap();
    assert_eq!(order_logs.len(), 1, "{order_logs:?}");
    assert_eq!(order_logs[0][0], "INFO");
    let line = order_logs[0][1].as_str().unwrap();
    assert!(
        line.starts_with("order ord-") && line.contains(" for boto placed at "),
        "{line}"
    );
    assert_eq!(
        summary["logs_elsewhere"],
        json!([]),
        "another function's log group"
    );
    assert_eq!(summary["logs_bad_pattern"], "InvalidParameterException");
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
fn boto3_pauses_resumes_and_deletes_executions() {
    let cairn = Cairn::new();
    let server = cairn.serve(&[]);
    for name in ["approval", "steps"] {
        let deploy = cairn.run(&[
            "--server",
            &server.url,
            "deploy",
            name,
            guest(name).to_str().unwrap(),
        ]);
        assert_eq!(deploy.code, 0, "{}", deploy.stderr);
    }

    let summary = boto3_peer(&server, "pause_resume.py");

    // Paused while it waited: the callback completed meanwhile, and the
    // workflow ran on only once resumed.
    assert_eq!(summary["held_status"], "PAUSED");
    assert_eq!(
        summary["held_pause_details"],
        json!({ "Reason": "maintenance", "ExecutionTimeoutPaused": true })
    );
    assert_eq!(summary["pause_twice"], "ResourceConflictException");
    assert_eq!(summary["listed_paused"], json!(["held"]));
    assert_eq!(summary["held_status_after_callback"], "PAUSED");
    assert_eq!(summary["resume_twice"], "ResourceConflictException");
    let held: Vec<&str> = summary["held_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    let paused_at = held.iter().position(|e| *e == "ExecutionPaused").unwrap();
    let resumed_at = held.iter().position(|e| *e == "ExecutionResumed").unwrap();
    assert_eq!(
        &held[paused_at..=resumed_at],
        ["ExecutionPaused", "CallbackSucceeded", "ExecutionResumed"],
        "nothing ran while paused: {held:?}"
    );
    assert_eq!(held.last(), Some(&"ExecutionSucceeded"), "{held:?}");
    assert_eq!(
        summary["held_pause_event"],
        json!({ "Reason": "maintenance", "ExecutionTimeoutPaused": true })
    );
    assert_eq!(summary["held_resume_reason"], "done");
    assert_eq!(summary["held_result"]["status"], "paid");
    assert_eq!(summary["pause_ended"], "ResourceConflictException");

    // Paused mid-invocation: pausing until its next step, which did not
    // start; resumed, each step ran once.
    assert_eq!(summary["cut_status_at_once"], "PAUSING");
    assert_eq!(summary["delete_running"], "ResourceConflictException");
    let cut: Vec<Value> = summary["cut_paused_history"].as_array().unwrap().clone();
    assert_eq!(
        cut.last().unwrap(),
        &json!(["ExecutionPaused", "cut"]),
        "{cut:?}"
    );
    assert_eq!(
        cut[cut.len() - 2][0],
        "InvocationCompleted",
        "the paused invocation ended: {cut:?}"
    );
    assert!(
        cut.len() >= 4 && !cut.contains(&json!(["StepSucceeded", "step-4"])),
        "it paused before its last step: {cut:?}"
    );
    assert_eq!(summary["cut_result"], 1 + 4 + 9 + 16);
    assert_eq!(
        summary["cut_steps"],
        json!(["step-1", "step-2", "step-3", "step-4"])
    );
    let bodies = server
        .log()
        .lines()
        .filter(|line| line.contains("[cut] ") && line.contains("body ran: "))
        .count();
    assert_eq!(bodies, 4, "each body ran once:\n{}", server.log());

    // Deleted: gone everywhere, and from the store.
    assert_eq!(summary["deleted_get"], "ResourceNotFoundException");
    assert_eq!(summary["deleted_history"], "ResourceNotFoundException");
    assert_eq!(summary["deleted_again"], "ResourceNotFoundException");
    assert_eq!(summary["listed_steps"], json!([]));
    assert_eq!(summary["pause_unknown"], "ResourceNotFoundException");
    let logs = cairn.run(&["logs", "cut"]);
    assert_ne!(logs.code, 0, "{}", logs.stdout);
    assert!(logs.stderr.contains("no execution"), "{}", logs.stderr);
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
    let steps = guest("steps");
    let body = std::fs::read(&steps).unwrap();
    let path = signed::request(
        &server,
        "PUT",
        "/cairn/workflows/..%2F..%2Fetc%2Fpasswd",
        &[],
        &body,
    );
    assert_eq!(path.status(), 400);
    assert_eq!(signed::error_type(&path), "InvalidParameterValueException");
    let local = cairn.run(&["deploy", "../x", steps.to_str().unwrap()]);
    assert_eq!(local.code, 2);
    assert!(
        local.stderr.contains("workflow name \"../x\""),
        "{}",
        local.stderr
    );
    let deployed = signed::request(&server, "PUT", "/cairn/workflows/steps", &[], &body);
    assert_eq!(deployed.status(), 200);
    // A path is not a component: the server opens nothing it is named.
    let named = signed::request(
        &server,
        "PUT",
        "/cairn/workflows/steps",
        &[],
        json!({ "ComponentPath": "/dev/zero" })
            .to_string()
            .as_bytes(),
    );
    assert_eq!(named.status(), 400);
    assert_eq!(signed::error_type(&named), "InvalidRequestContentException");
    assert!(
        named
            .into_body()
            .read_to_string()
            .unwrap()
            .contains("opens no path"),
        "a path is refused as a path"
    );
    // Bytes that are not a component are refused, and change nothing.
    let mut core_module = body[..8].to_vec();
    core_module[4..8].copy_from_slice(&[1, 0, 0, 0]);
    let junk = signed::request(&server, "PUT", "/cairn/workflows/steps", &[], &core_module);
    assert_eq!(junk.status(), 400);
    assert!(
        junk.into_body()
            .read_to_string()
            .unwrap()
            .contains("core WebAssembly module"),
        "the refusal says what the bytes are"
    );

    // A name that is not ASCII cannot be signed: it travels outside the
    // signature, and is refused all the same.
    let invoke = |name: &[u8], payload: &[u8]| {
        signed::request(
            &server,
            "POST",
            "/2015-03-31/functions/steps/invocations",
            &[
                ("X-Amz-Invocation-Type", b"Event"),
                ("X-Amz-Durable-Execution-Name", name),
            ],
            payload,
        )
    };
    let not_ascii = invoke("caf\u{e9}".as_bytes(), br#"{"count":1}"#);
    assert_eq!(not_ascii.status(), 400);
    assert_eq!(
        signed::error_type(&not_ascii),
        "InvalidParameterValueException"
    );
    // A body over the limit: the server may answer and close before it
    // has read it all, so this client writes what it can and then reads
    // the answer (a client library would stop at the broken pipe).
    let authority = server.url.trim_start_matches("http://").to_owned();
    let big = vec![b' '; 3 << 20];
    let send_big = |extra_headers: &str| {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&authority).unwrap();
        let head = format!(
            "POST /2015-03-31/functions/steps/invocations HTTP/1.1\r\nHost: {authority}\r\n\
             x-amz-invocation-type: Event\r\nx-amz-durable-execution-name: big\r\n{extra_headers}\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            big.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        let _ = stream.write_all(&big); // may be cut short by the answer
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    };
    // Unsigned, it is refused before the server reads any of it.
    let unsigned = send_big("");
    assert!(unsigned.starts_with("HTTP/1.1 403"), "{unsigned}");
    // Signed, it is refused for its size.
    let credentials = cairn_cli::auth::Credentials::read(&server.credentials).unwrap();
    let request = cairn_cli::auth::signed_request(
        "POST",
        &format!("{}/2015-03-31/functions/steps/invocations", server.url),
        &[
            ("x-amz-invocation-type", "Event"),
            ("x-amz-durable-execution-name", "big"),
        ],
        big.clone(),
        &credentials,
    )
    .unwrap();
    let signature: String = ["x-amz-date", "authorization"]
        .iter()
        .map(|name| format!("{name}: {}\r\n", request.headers()[*name].to_str().unwrap()))
        .collect();
    let answer = send_big(&signature);
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

/// An HTTP/1.1 exchange written by hand (a browser's cross-site request, a
/// page reached through a rebound name): the answer as text.
fn raw_exchange(url: &str, head: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let authority = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(authority).unwrap();
    let request = format!(
        "{head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

/// Authentication is on by default: the server writes credentials beside
/// its store (0600) at first start and keeps them across restarts, and
/// refuses every request not signed with them, before it reads anything
/// else; a request through another host name is refused even unsigned.
#[test]
fn the_server_refuses_what_is_not_signed_with_its_credentials() {
    use std::os::unix::fs::PermissionsExt as _;
    let cairn = Cairn::new();
    let server = cairn.serve(&[]);
    let mode = std::fs::metadata(&server.credentials)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let written = std::fs::read_to_string(&server.credentials).unwrap();
    assert!(
        written.contains("[default]\naws_access_key_id = AKCN"),
        "{written}"
    );
    let deploy = cairn.run(&[
        "--server",
        &server.url,
        "deploy",
        "steps",
        guest("steps").to_str().unwrap(),
    ]);
    assert_eq!(deploy.code, 0, "{}", deploy.stderr);
    let authority = server.url.trim_start_matches("http://").to_owned();

    // A web page's cross-site form post: no signature.
    let cross_site = raw_exchange(
        &server.url,
        &format!(
            "POST /2015-03-31/functions/steps/invocations HTTP/1.1\r\nHost: {authority}\r\n\
             Origin: http://evil.example\r\nContent-Type: text/plain\r\n\
             X-Amz-Durable-Execution-Name: forged"
        ),
        r#"{"count":1}"#,
    );
    assert!(cross_site.starts_with("HTTP/1.1 403"), "{cross_site}");
    assert!(
        cross_site
            .to_ascii_lowercase()
            .contains("x-amzn-errortype: missingauthenticationtokenexception"),
        "{cross_site}"
    );
    // The same through a name rebound to 127.0.0.1.
    let port = authority.rsplit(':').next().unwrap();
    let rebound = raw_exchange(
        &server.url,
        &format!("GET /2025-12-01/durable-executions/x HTTP/1.1\r\nHost: rebound.example:{port}"),
        "",
    );
    assert!(rebound.starts_with("HTTP/1.1 403"), "{rebound}");
    assert!(rebound.contains("DNS rebinding"), "{rebound}");
    // A request not addressed to a path (`OPTIONS *`), with a signature
    // header, is refused as such (the signing crate would panic on it).
    let written_id = written
        .lines()
        .find_map(|line| line.strip_prefix("aws_access_key_id = "))
        .unwrap();
    let now = cairn_core::history::iso8601(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64,
    );
    let amz_date: String = now[..19]
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect::<String>()
        + "Z";
    let star = raw_exchange(
        &server.url,
        &format!(
            "OPTIONS * HTTP/1.1\r\nHost: {authority}\r\nX-Amz-Date: {amz_date}\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential={written_id}/{}/us-east-1/lambda/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=00",
            &amz_date[..8]
        ),
        "",
    );
    assert!(star.starts_with("HTTP/1.1 403"), "{star}");
    assert!(star.contains("is not a path"), "{star}");
    // An unknown path is not told apart from a known one without a signature,
    let unknown = raw_exchange(
        &server.url,
        &format!("GET /admin HTTP/1.1\r\nHost: {authority}"),
        "",
    );
    assert!(unknown.starts_with("HTTP/1.1 403"), "{unknown}");
    // and with one it gets AWS's shape, as does a method a path does not take.
    let unknown = signed::request(&server, "GET", "/admin", &[], b"");
    assert_eq!(unknown.status(), 404);
    assert_eq!(signed::error_type(&unknown), "UnknownOperationException");
    let method = signed::request(&server, "DELETE", "/cairn/workflows/steps", &[], b"");
    assert_eq!(method.status(), 405);
    assert_eq!(signed::error_type(&method), "MethodNotAllowedException");

    // Restarted, the server keeps its credentials: the CLI signs as before.
    server.kill();
    let server = cairn.serve(&[]);
    assert_eq!(
        std::fs::read_to_string(&server.credentials).unwrap(),
        written
    );
    let start = cairn.run(&[
        "--server",
        &server.url,
        "start",
        "steps",
        "--name",
        "signed",
        "--input",
        r#"{"count":1}"#,
    ]);
    assert_eq!(start.code, 0, "{}", start.stderr);
    cairn.wait_for_status("signed", "SUCCEEDED");
    let listed = cairn.run(&["list", "--workflow", "steps", "--json"]);
    let listed: Value = serde_json::from_str(&listed.stdout).unwrap();
    let names: Vec<&Value> = listed["DurableExecutions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["DurableExecutionName"])
        .collect();
    assert_eq!(names, [&json!("signed")], "nothing unsigned was started");

    // A client without the credentials is told where they are.
    let stranger = Cairn::new();
    let refused = stranger.run(&["--server", &server.url, "get", "signed"]);
    assert_eq!(refused.code, 2);
    assert!(
        refused.stderr.contains("no credentials to sign requests"),
        "{}",
        refused.stderr
    );
    let credentials = server.credentials.clone();
    let log = server.kill();
    assert!(!log.contains("panicked"), "{log}");

    // Credentials others may read are refused, as ssh refuses a key.
    std::fs::set_permissions(&credentials, std::fs::Permissions::from_mode(0o644)).unwrap();
    let open = cairn.run(&["serve", "--port", "0"]);
    assert_eq!(open.code, 2);
    assert!(open.stderr.contains("chmod 600"), "{}", open.stderr);
}

/// Without authentication the server serves loopback only, and says so.
#[test]
fn no_auth_is_loopback_only() {
    let cairn = Cairn::new();
    let wide = cairn.run(&["serve", "--port", "0", "--listen", "0.0.0.0", "--no-auth"]);
    assert_eq!(wide.code, 2);
    assert!(
        wide.stderr.contains("--no-auth serves only loopback"),
        "{}",
        wide.stderr
    );
    let server = cairn.serve(&["--no-auth"]);
    assert!(
        server.log().contains("authentication is off"),
        "{}",
        server.log()
    );
    let authority = server.url.trim_start_matches("http://").to_owned();
    let unsigned = raw_exchange(
        &server.url,
        &format!("GET /2025-12-01/durable-executions/nobody HTTP/1.1\r\nHost: {authority}"),
        "",
    );
    assert!(unsigned.starts_with("HTTP/1.1 404"), "{unsigned}");
    assert!(
        unsigned
            .to_ascii_lowercase()
            .contains("x-amzn-errortype: resourcenotfoundexception"),
        "{unsigned}"
    );
    // The Host check stays on.
    let rebound = raw_exchange(
        &server.url,
        "GET /2025-12-01/durable-executions/nobody HTTP/1.1\r\nHost: rebound.example",
        "",
    );
    assert!(rebound.starts_with("HTTP/1.1 403"), "{rebound}");
}

/// `cairn deploy --server` uploads the component's bytes; each new build
/// is a new version, kept beside the store by its hash; an execution keeps
/// running on the version it started on after the file it came from is
/// gone and another version is deployed.
#[test]
fn deploys_upload_versions_that_executions_keep() {
    let cairn = Cairn::new();
    let server = cairn.serve(&[]);
    let run = |args: &[&str]| cairn.run(&[&["--server", server.url.as_str()][..], args].concat());
    let build = cairn.db().with_file_name("approval.wasm");
    std::fs::copy(guest("approval"), &build).unwrap();
    let first = run(&["deploy", "approval", build.to_str().unwrap()]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(first.stdout.len(), 64, "the hash: {}", first.stdout);
    assert!(first.stderr.contains("version 1"), "{}", first.stderr);
    let again = run(&["deploy", "approval", build.to_str().unwrap()]);
    assert_eq!(again.stdout, first.stdout);
    assert!(
        again.stderr.contains("version 1"),
        "the same bytes: {}",
        again.stderr
    );

    let input = r#"{"amount_cents":3,"approver":"v1"}"#;
    let start = run(&["start", "approval", "--name", "a1", "--input", input]);
    assert_eq!(start.code, 0, "{}", start.stderr);
    let history = cairn.wait_for_history(
        "a1",
        |events| support::count(events, "CallbackStarted") == 1,
        || {},
    );
    // The build is gone, and another component is deployed under the name.
    std::fs::remove_file(&build).unwrap();
    let second = run(&["deploy", "approval", guest("flow-v1").to_str().unwrap()]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(second.stderr.contains("version 2"), "{}", second.stderr);
    assert_ne!(second.stdout, first.stdout);

    let versions = run(&["workflows", "approval", "--json"]);
    assert_eq!(versions.code, 0, "{}", versions.stderr);
    let versions: Value = serde_json::from_str(&versions.stdout).unwrap();
    let listed: Vec<(&str, &str)> = versions["Versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["Version"].as_str().unwrap(),
                v["ComponentHash"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [("1", first.stdout.as_str()), ("2", second.stdout.as_str())]
    );
    // The store says the same without the server.
    let local = cairn.run(&["workflows"]);
    assert_eq!(local.code, 0, "{}", local.stderr);
    let row = local.stdout.lines().nth(1).unwrap_or_default().to_owned();
    assert!(
        row.starts_with("approval") && row.contains(&second.stdout[..16]),
        "{}",
        local.stdout
    );

    // A workflow's versions, newest first.
    let table = cairn.run(&["workflows", "approval"]);
    let versions: Vec<&str> = table
        .stdout
        .lines()
        .skip(1)
        .map(|row| row.split_whitespace().nth(1).unwrap_or_default())
        .collect();
    assert_eq!(versions, ["2", "1"], "{}", table.stdout);

    // a1 goes on, on version 1.
    let id = history
        .iter()
        .find(|e| e["EventType"] == "CallbackStarted")
        .unwrap()["CallbackStartedDetails"]["CallbackId"]
        .as_str()
        .unwrap()
        .to_owned();
    let approve = run(&["callback", "succeed", &id, r#"{"approved":true,"by":"v1"}"#]);
    assert_eq!(approve.code, 0, "{}", approve.stderr);
    let done = cairn.wait_for_status("a1", "SUCCEEDED");
    assert!(
        done["Result"].as_str().unwrap().contains("approved by v1"),
        "{done}"
    );
    let log = server.kill();
    assert!(!log.contains("panicked"), "{log}");
}

/// The AWS CLI, unchanged, with the server's credentials file: it lists
/// the deployed workflows, starts an execution and reads it; with other
/// credentials it is refused.
#[test]
fn the_aws_cli_works_with_the_credentials_and_is_refused_without() {
    let cairn = Cairn::new();
    let server = cairn.serve(&["--skip-time"]);
    let deploy = cairn.run(&[
        "--server",
        &server.url,
        "deploy",
        "steps",
        guest("steps").to_str().unwrap(),
    ]);
    assert_eq!(deploy.code, 0, "{}", deploy.stderr);
    let out = cairn.db().with_file_name("out.json");
    let aws = |credentials: Option<(&str, &str)>, args: &[&str]| {
        let mut command = Command::new("aws");
        command
            .args([
                "lambda",
                "--endpoint-url",
                &server.url,
                "--region",
                "us-east-1",
                "--output",
                "json",
            ])
            .args(args)
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_MAX_ATTEMPTS", "1")
            .env("AWS_SHARED_CREDENTIALS_FILE", &server.credentials);
        if let Some((id, secret)) = credentials {
            command
                .env("AWS_ACCESS_KEY_ID", id)
                .env("AWS_SECRET_ACCESS_KEY", secret);
        }
        let output = command
            .output()
            .expect("the AWS CLI runs (scripts/test installs awscli)");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (ok, listed, stderr) = aws(None, &["list-functions"]);
    assert!(ok, "{stderr}");
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed["Functions"][0]["FunctionName"], "steps", "{listed}");

    let (ok, invoked, stderr) = aws(
        None,
        &[
            "invoke",
            "--function-name",
            "steps",
            "--durable-execution-name",
            "by-cli",
            "--payload",
            r#"{"count":2}"#,
            out.to_str().unwrap(),
        ],
    );
    assert!(ok, "{stderr}");
    let invoked: Value = serde_json::from_str(&invoked).unwrap();
    assert_eq!(invoked["StatusCode"], 200, "{invoked}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "5");
    let arn = invoked["DurableExecutionArn"].as_str().unwrap().to_owned();
    let (ok, got, stderr) = aws(
        None,
        &["get-durable-execution", "--durable-execution-arn", &arn],
    );
    assert!(ok, "{stderr}");
    let got: Value = serde_json::from_str(&got).unwrap();
    assert_eq!(got["Status"], "SUCCEEDED", "{got}");

    let (ok, _, stderr) = aws(
        Some(("AKIAEXAMPLE", "guessed")),
        &["get-durable-execution", "--durable-execution-arn", &arn],
    );
    assert!(!ok);
    assert!(stderr.contains("UnrecognizedClientException"), "{stderr}");
    let credentials = std::fs::read_to_string(&server.credentials).unwrap();
    let id = credentials
        .lines()
        .find_map(|line| line.strip_prefix("aws_access_key_id = "))
        .unwrap();
    let (ok, _, stderr) = aws(
        Some((id, "guessed")),
        &["get-durable-execution", "--durable-execution-arn", &arn],
    );
    assert!(!ok);
    assert!(stderr.contains("InvalidSignatureException"), "{stderr}");
}
