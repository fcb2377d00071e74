//! Outgoing HTTP from workflows, against a real HTTP service on 127.0.0.1
//! that counts the requests it receives: requests outside steps are recorded
//! and never sent again, requests inside steps belong to their steps, and the
//! host's allowlist, body cap and timeouts give the documented errors.

mod support;

use serde_json::{Value, json};
use support::{Cairn, HttpService, guest};

fn fetch_input(calls: Value) -> String {
    json!({ "calls": calls }).to_string()
}

/// `cairn run COMPONENT --input INPUT --allow-http SERVICE EXTRA...`.
fn run_allowed(
    cairn: &Cairn,
    component: &std::path::Path,
    input: &str,
    service: &HttpService,
    extra: &[&str],
) -> support::Run {
    let allow = service.authority();
    let mut args = vec![
        "run",
        component.to_str().unwrap(),
        "--input",
        input,
        "--allow-http",
        &allow,
    ];
    args.extend_from_slice(extra);
    cairn.run(&args)
}

fn result(run: &support::Run) -> Value {
    assert_eq!(run.code, 0, "cairn run failed: {}", run.stderr);
    serde_json::from_str(&run.stdout).unwrap_or_else(|_| panic!("not JSON: {}", run.stdout))
}

#[test]
fn recorded_requests_are_not_sent_again_after_a_kill_or_in_replay() {
    let service = HttpService::start();
    let cairn = Cairn::new();
    let fetch = guest("fetch");
    let fetch = fetch.to_str().unwrap();
    let input = fetch_input(json!([
        { "url": service.url("/echo/outside") },
        { "method": "POST", "url": service.url("/echo"), "body": "inside", "in_step": true },
        { "url": service.url("/binary") },
        { "url": service.url("/slow/3000") },
    ]));
    let allow = service.authority();
    let args = [
        "run",
        fetch,
        "--name",
        "h",
        "--input",
        &input,
        "--allow-http",
        &allow,
    ];
    // Killed while the last request is in flight: the three before it are recorded.
    let child = cairn.spawn(&args);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while service.count("/slow/3000") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the slow request never came"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut child = child;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let resumed = cairn.run(&args);
    let outcomes = result(&resumed);
    assert_eq!(outcomes[0], json!({ "status": 200, "body": "outside" }));
    assert_eq!(outcomes[1], json!({ "status": 200, "body": "inside" }));
    // Bytes that are not UTF-8 come back as they were sent, on the first
    // run and from the record alike.
    let hex: String = (0..=255u8).map(|b| format!("{b:02x}")).collect();
    assert_eq!(outcomes[2]["hex"], hex);
    assert_eq!(outcomes[3], json!({ "status": 200, "body": "slow" }));
    let counts = service.counts();
    assert_eq!(counts["/echo/outside"], 1, "{counts}");
    assert_eq!(counts["/echo"], 1, "{counts}");
    assert_eq!(counts["/binary"], 1, "{counts}");
    // The one in flight had no record: at least once, it went again.
    assert_eq!(counts["/slow/3000"], 2, "{counts}");

    // Running a finished execution again, and replaying it, send nothing.
    let again = cairn.run(&args);
    assert_eq!(result(&again), outcomes);
    let replay = cairn.run(&["replay", "h"]);
    assert_eq!(replay.code, 0, "{}", replay.stderr);
    assert!(
        replay.stdout.contains(r#"{"status":200,"body":"slow"}"#),
        "the recorded result, reproduced: {}",
        replay.stdout
    );
    assert!(
        replay.stdout.contains("GET http://127.0.0.1"),
        "replay shows the recorded requests: {}",
        replay.stdout
    );
    assert_eq!(service.counts(), counts);

    // The history table shows the exchanges as what they are.
    let table = cairn.run(&["history", "h"]);
    let http_rows = table
        .stdout
        .lines()
        .filter(|line| line.split_whitespace().nth(1) == Some("Http"))
        .count();
    assert_eq!(http_rows, 3, "{}", table.stdout);

    // Outside steps, each request is a step named after it, with its response.
    let history = cairn.history("h");
    let names: Vec<&str> = history
        .iter()
        .filter(|e| e["EventType"] == "StepSucceeded")
        .map(|e| e["Name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            format!("GET {}", service.url("/echo/outside")),
            "call-1".to_string(),
            format!("GET {}", service.url("/binary")),
            format!("GET {}", service.url("/slow/3000")),
        ]
    );
}

#[test]
fn allowlist_body_cap_timeouts_and_errors_are_reported() {
    let service = HttpService::start();
    let cairn = Cairn::new();
    let fetch = guest("fetch");
    let other_host = format!("http://localhost:{}/echo/elsewhere", service.port);
    let other_port = format!("http://127.0.0.1:{}/echo/elsewhere", service.port + 1);
    let input = fetch_input(json!([
        { "url": other_host },
        { "url": other_port },
        // No timeout of its own: the host's (--http-timeout) applies.
        { "url": service.url("/slow/2000") },
        { "url": service.url("/big/300000") },
        { "url": service.url("/slow/3000"), "timeout_ms": 300 },
        { "url": service.url("/fail"), "in_step": true, "attempts": 2 },
        { "url": service.url("/fail") },
        { "url": "http://127.0.0.1:1/closed" },
    ]));
    let run = run_allowed(
        &cairn,
        &fetch,
        &input,
        &service,
        &[
            "--name",
            "e",
            "--skip-time",
            "--allow-http",
            "127.0.0.1:1",
            "--http-timeout",
            "0.5",
        ],
    );
    let outcomes = result(&run);
    let expect = |i: usize, error_type: &str, words: &[&str]| {
        assert_eq!(
            outcomes[i]["error_type"], error_type,
            "call {i}: {}",
            outcomes[i]
        );
        let message = outcomes[i]["message"].as_str().unwrap();
        for word in words {
            assert!(
                message.contains(word),
                "call {i}: {message:?} lacks {word:?}"
            );
        }
    };
    expect(0, "Http.HttpRequestDenied", &["localhost", "not allowed"]);
    expect(1, "Http.HttpRequestDenied", &["not allowed"]);
    expect(
        2,
        "Http.ConnectionReadTimeout",
        &["/slow/2000", "timed out"],
    );
    expect(
        3,
        "Http.HttpResponseBodySize",
        &["/big/300000", "larger than"],
    );
    expect(
        4,
        "Http.ConnectionReadTimeout",
        &["/slow/3000", "timed out"],
    );
    // A 5xx fails the step's attempt: its retry strategy tries again.
    expect(5, "Http.Status", &["/fail", "500", "the service is broken"]);
    expect(6, "Http.Status", &["/fail", "500"]);
    expect(
        7,
        "Http.ConnectionRefused",
        &["127.0.0.1:1", "connection refused"],
    );

    let counts = service.counts();
    assert_eq!(counts.get("/echo/elsewhere"), None, "{counts}");
    assert_eq!(
        counts["/fail"], 3,
        "two attempts in the step, one outside: {counts}"
    );
    assert_eq!(counts["/big/300000"], 1, "{counts}");

    // The failures are recorded: running again answers from the record.
    let history = cairn.history("e");
    let failed: Vec<String> = history
        .iter()
        .filter(|e| e["EventType"] == "StepFailed")
        .map(Value::to_string)
        .collect();
    // Six failed exchanges outside steps and the step's two failed attempts
    // (the 500 outside a step is a response, recorded as one).
    assert_eq!(failed.len(), 8, "{failed:?}");
    // The record names what was refused, the port included.
    let port_refusal = format!("127.0.0.1:{} are not allowed", service.port + 1);
    assert!(
        failed.iter().any(|e| e.contains(&port_refusal)),
        "{failed:?}"
    );
    assert!(
        failed.iter().any(|e| e.contains("Http.HttpRequestDenied")),
        "{failed:?}"
    );
    assert!(
        failed.iter().any(|e| e.contains("Http.ConnectionRefused")),
        "{failed:?}"
    );
    let again = cairn.run(&[
        "run",
        fetch.to_str().unwrap(),
        "--name",
        "e",
        "--input",
        &input,
    ]);
    assert_eq!(result(&again), outcomes);
    assert_eq!(service.counts(), counts);
}

#[test]
fn the_http_example_restocks_through_the_service() {
    let service = HttpService::start();
    let cairn = Cairn::new();
    let example = guest("restock");
    let input = json!({ "service": service.url(""), "item": "widget" }).to_string();
    let run = run_allowed(&cairn, &example, &input, &service, &[]);
    let restocked = result(&run);
    assert_eq!(restocked["available"], 3);
    assert_eq!(restocked["reservation"]["quantity"], 17);
    assert_eq!(service.count("/stock/widget"), 1);
    assert_eq!(service.count("/reservations"), 1);

    // Without the allowlist, nothing leaves and the error names the host.
    let denied = cairn.run(&["run", example.to_str().unwrap(), "--input", &input]);
    assert_ne!(denied.code, 0);
    assert!(
        denied.stdout.contains("not allowed") || denied.stderr.contains("not allowed"),
        "{denied:?}"
    );
    assert_eq!(service.count("/stock/widget"), 1);
}

#[test]
fn standard_wasi_http_clients_work_unchanged_and_are_journaled() {
    let service = HttpService::start();
    let cairn = Cairn::new();
    let component = guest("fetch-std");
    let input = json!({ "get": service.url("/echo/hi"), "echo": service.url("/echo") }).to_string();
    let allow = service.authority();
    let args = [
        "run",
        component.to_str().unwrap(),
        "--name",
        "std",
        "--input",
        &input,
        "--allow-http",
        &allow,
    ];
    let run = cairn.run(&args);
    assert_eq!(
        result(&run),
        json!(["hi", "streamed by wstd", "sent by waki in a step"])
    );
    // waki's GET and wstd's POST (its body written after the request's head)
    // are steps named after their requests; waki's POST belongs to "post".
    let names: Vec<String> = cairn
        .history("std")
        .iter()
        .filter(|e| e["EventType"] == "StepSucceeded")
        .map(|e| e["Name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            format!("GET {}", service.url("/echo/hi")),
            format!("POST {}", service.url("/echo")),
            "post".to_string(),
        ]
    );
    let counts = service.counts();
    assert_eq!(counts["/echo/hi"], 1, "{counts}");
    assert_eq!(counts["/echo"], 2, "{counts}");
    let replay = cairn.run(&["replay", "std"]);
    assert_eq!(replay.code, 0, "{}", replay.stderr);
    assert_eq!(service.counts(), counts);
}

#[test]
fn a_deployed_workflow_carries_its_own_allowlist() {
    let service = HttpService::start();
    let cairn = Cairn::new();
    let example = guest("restock");
    let input = json!({ "service": service.url(""), "item": "bolt", "minimum": 1 }).to_string();
    // Through the server: deploy with the allowlist, start, and the server
    // (which allows nothing itself) runs it.
    let server = cairn.serve(&[]);
    let on_server =
        |args: &[&str]| cairn.run(&[&["--server", server.url.as_str()][..], args].concat());
    let allow = service.authority();
    let deploy = on_server(&[
        "deploy",
        "stock",
        example.to_str().unwrap(),
        "--allow-http",
        &allow,
    ]);
    assert_eq!(deploy.code, 0, "{}", deploy.stderr);
    let start = on_server(&["start", "stock", "--name", "s1", "--input", &input]);
    assert_eq!(start.code, 0, "{}", start.stderr);
    cairn.wait_for_history(
        "s1",
        |events| support::count(events, "ExecutionSucceeded") == 1,
        || {},
    );
    assert_eq!(
        cairn.get("s1")["Result"],
        r#"{"item":"bolt","available":3,"reservation":null}"#
    );
    assert_eq!(service.count("/stock/bolt"), 1);

    // Deployed again without it: the list is gone, and nothing leaves.
    let redeploy = on_server(&["deploy", "stock", example.to_str().unwrap()]);
    assert_eq!(redeploy.code, 0, "{}", redeploy.stderr);
    let start = on_server(&["start", "stock", "--name", "s2", "--input", &input]);
    assert_eq!(start.code, 0, "{}", start.stderr);
    cairn.wait_for_history(
        "s2",
        |events| support::count(events, "ExecutionFailed") == 1,
        || {},
    );
    let error = cairn.get("s2")["Error"].to_string();
    assert!(error.contains("not allowed"), "{error}");
    assert_eq!(service.count("/stock/bolt"), 1);
}

#[test]
fn a_response_read_outside_the_scope_of_its_request_fails_clearly() {
    let service = HttpService::start();
    let cairn = Cairn::new();
    let fetch = guest("fetch");
    for (flag, words) in [
        (
            "read_outside",
            ["sent inside the body of step", "read outside that step"],
        ),
        ("read_inside", ["sent outside any step", "read inside step"]),
        ("unfinished", ["asked for before", "body was finished"]),
    ] {
        let url = service.url(&format!("/echo/{flag}"));
        let input = fetch_input(json!([{ "url": url, flag: true }]));
        let run = run_allowed(&cairn, &fetch, &input, &service, &[]);
        assert_eq!(run.code, 1, "{flag}: {run:?}");
        assert!(
            run.stdout.contains("Runtime.InvalidOperation"),
            "{flag}: {}",
            run.stdout
        );
        for word in words {
            assert!(
                run.stdout.contains(word),
                "{flag}: {} lacks {word:?}",
                run.stdout
            );
        }
    }
}

#[test]
fn request_bodies_up_to_the_hosts_bound_are_sent_whole() {
    let service = HttpService::start();
    let cairn = Cairn::new();
    let fetch = guest("fetch");
    let mib = "x".repeat(1024);
    let input = fetch_input(json!([
        // 4 MiB outside a step (recorded) and inside one (live).
        { "method": "POST", "url": service.url("/size"), "body": mib, "body_repeat": 4096 },
        { "method": "POST", "url": service.url("/size"), "body": mib, "body_repeat": 4096, "in_step": true },
        // Over the host's 16 MiB: refused before anything is sent.
        { "method": "POST", "url": service.url("/size"), "body": mib, "body_repeat": 17 * 1024 },
    ]));
    let run = run_allowed(&cairn, &fetch, &input, &service, &[]);
    let outcomes = result(&run);
    assert_eq!(outcomes[0], json!({ "status": 200, "body": "4194304" }));
    assert_eq!(outcomes[1], json!({ "status": 200, "body": "4194304" }));
    assert_eq!(
        outcomes[2]["error_type"], "Http.HttpRequestBodySize",
        "{}",
        outcomes[2]
    );
    assert_eq!(service.count("/size"), 2);
}

#[test]
fn requests_sent_together_outside_steps_replay_in_their_order() {
    let service = HttpService::start();
    let cairn = Cairn::new();
    let component = guest("fetch-std");
    let input = json!({
        "get": service.url("/echo/hi"),
        "echo": service.url("/echo"),
        "together": true,
    })
    .to_string();
    // Several executions: the order in which two joined responses are read
    // must depend on the guest alone, or some replay would diverge.
    for name in ["t1", "t2", "t3", "t4"] {
        let run = run_allowed(&cairn, &component, &input, &service, &["--name", name]);
        let bodies = result(&run);
        assert_eq!(bodies[3], "first of two");
        assert_eq!(bodies[4], "second of two");
        let replay = cairn.run(&["replay", name]);
        assert_eq!(
            replay.code, 0,
            "{name}: {}\n{}",
            replay.stdout, replay.stderr
        );
    }
    assert_eq!(service.count("/echo"), 4 * 4);
}

#[test]
fn link_local_addresses_are_refused_by_address_and_by_name() {
    let service = HttpService::start();
    let cairn = Cairn::new();
    let fetch = guest("fetch");
    let fetch = fetch.to_str().unwrap();
    let metadata = fetch_input(json!([{ "url": "http://169.254.169.254/latest/meta-data/" }]));
    // Listing the metadata address is refused before anything runs.
    let listed = cairn.run(&[
        "run",
        fetch,
        "--input",
        &metadata,
        "--allow-http",
        "169.254.169.254:80",
    ]);
    assert_eq!(listed.code, 2, "{listed:?}");
    assert!(
        listed.stderr.contains("link-local") && listed.stderr.contains("--allow-http-link-local"),
        "{}",
        listed.stderr
    );
    // With the operator's consent the request goes out (whatever answers).
    let consented = cairn.run(&[
        "run",
        fetch,
        "--input",
        &metadata,
        "--allow-http",
        "169.254.169.254:80",
        "--allow-http-link-local",
        "--http-timeout",
        "0.5",
    ]);
    let outcome = &result(&consented)[0];
    assert_ne!(outcome["error_type"], "Http.HttpRequestDenied", "{outcome}");

    // A name that resolves to a link-local address is refused once
    // resolved: here, names from a hosts file of the process's own (a mount
    // namespace, as root).
    let hosts = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        hosts.path(),
        "169.254.169.254 metadata.test\n127.0.0.1 service.test\n",
    )
    .unwrap();
    let service_url = format!("http://service.test:{}/echo/by-name", service.port);
    let input = fetch_input(json!([
        { "url": service_url },
        { "url": "http://metadata.test/latest/meta-data/" },
        { "url": format!("http://service.test:{}/host", service.port) },
    ]));
    let in_namespace = cairn.command();
    let allowed_service = format!("service.test:{}", service.port);
    let run = std::process::Command::new("unshare")
        .args(["--mount", "--", "sh", "-c"])
        .arg(r#"mount --bind "$0" /etc/hosts && exec "$@""#)
        .arg(hosts.path())
        .arg(in_namespace.get_program())
        .args(in_namespace.get_args())
        .args(["run", fetch, "--name", "by-name", "--input", &input])
        .args([
            "--allow-http",
            &allowed_service,
            "--allow-http",
            "metadata.test",
        ])
        .output()
        .unwrap();
    let run = support::Run::from(run);
    if run.stderr.contains("unshare:") || run.stderr.contains("mount:") {
        eprintln!(
            "skipped: cannot make a mount namespace here (needs root): {}",
            run.stderr
        );
        return;
    }
    let outcomes = result(&run);
    assert_eq!(outcomes[0]["status"], 200, "{outcomes}");
    assert_eq!(
        outcomes[1]["error_type"], "Http.HttpRequestDenied",
        "{outcomes}"
    );
    // The record says why (the guest sees wasi:http's error code only).
    let refused: Vec<String> = cairn
        .history("by-name")
        .iter()
        .filter(|e| e["EventType"] == "StepFailed")
        .map(Value::to_string)
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0].contains("metadata.test resolves to 169.254.169.254, a link-local address"),
        "{refused:?}"
    );
    assert_eq!(service.count("/echo/by-name"), 1);
    // The host connects to the address it checked, and the service still
    // sees the name it was addressed by.
    assert_eq!(
        outcomes[2]["body"],
        format!("service.test:{}", service.port),
        "{outcomes}"
    );
}

/// A redirect is the workflow's to follow, not the host's: the host hands
/// back the 302 as it came, and a request to where it points goes through
/// the allowlist like any other (here, to the metadata address: refused).
#[test]
fn redirects_are_handed_to_the_workflow_not_followed() {
    let service = HttpService::start();
    let cairn = Cairn::new();
    let input = fetch_input(json!([
        { "url": service.url("/redirect/169.254.169.254/latest/meta-data/") },
        { "url": "http://169.254.169.254/latest/meta-data/" },
        { "url": service.url("/redirect/example.test/x") },
    ]));
    let run = run_allowed(&cairn, &guest("fetch"), &input, &service, &[]);
    let outcomes = result(&run);
    assert_eq!(outcomes[0]["status"], 302, "{outcomes}");
    assert_eq!(
        outcomes[1]["error_type"], "Http.HttpRequestDenied",
        "{outcomes}"
    );
    assert_eq!(outcomes[2]["status"], 302, "{outcomes}");
    assert_eq!(
        service.count("/redirect/169.254.169.254/latest/meta-data/"),
        1
    );
    assert_eq!(service.count("/redirect/example.test/x"), 1);
}

#[test]
fn a_stop_interrupts_an_exchange_in_progress_and_frees_its_worker() {
    let service = HttpService::start();
    let cairn = Cairn::new();
    // An exchange outside any step that would take 10 minutes, on the one worker.
    let slow = json!({ "calls": [{ "url": service.url("/slow/600000") }] }).to_string();
    cairn.start("fetch", "waits-on-http", &slow);
    let server = cairn.serve(&[
        "--workers",
        "1",
        "--time-budget",
        "3600",
        "--allow-http",
        &service.authority(),
        // No timeout of its own cuts the exchange short: only the stop can.
        "--http-timeout",
        "3600",
    ]);
    while service.count("/slow/600000") == 0 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    cairn.start("steps", "after", r#"{"count":2}"#);
    let stop = cairn.run(&["--server", &server.url, "stop", "waits-on-http"]);
    assert_eq!(stop.code, 0, "{}", stop.stderr);
    // The worker is free: what waited behind the exchange runs.
    let after = cairn.wait_for_status("after", "SUCCEEDED");
    assert_eq!(after["Result"], "5", "1 + 4");
    assert_eq!(cairn.get("waits-on-http")["Status"], "STOPPED");
    let history = cairn.history("waits-on-http");
    assert_eq!(
        history.last().unwrap()["EventType"],
        "ExecutionStopped",
        "nothing was recorded after the stop: {history:?}"
    );
    assert!(
        !history.iter().any(|e| e["EventType"] == "StepSucceeded"
            && e["Name"].as_str().is_some_and(|n| n.contains("/slow/"))),
        "the interrupted exchange was not recorded: {history:?}"
    );
    server.kill();
}
