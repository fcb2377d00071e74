//! Restate run beside `cairn serve` on the same rounds: its server (from
//! npm, RocksDB with its default durability) and a Node service doing what
//! the `steps` guest does (`service.mjs`), driven through Restate's ingress
//! as the bench drives Cairn's API: `send` with an idempotency key then
//! `attach` for throughput, a request-response call for latency, `sleep`
//! for the suspended. `scripts/bench-restate` installs it and sets
//! `CAIRN_RESTATE` to the directory holding `service.mjs` and `node_modules`.

use super::{Options, Round, on_clients, percentiles, process_cpu_seconds, process_rss_kib};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn measure(dir: &Path, options: &Options) -> Round {
    let data = tempfile::tempdir().unwrap();
    let restate = Restate::start(dir, data.path());
    let ingress = &restate.ingress;

    // Throughput.
    let started = Instant::now();
    let names: Vec<String> = (0..options.executions).map(|i| format!("t-{i}")).collect();
    let ten = r#"{"count":10}"#;
    on_clients(&names, options.clients, agent, |agent, name| {
        send(agent, ingress, name, ten);
    });
    on_clients(&names, options.clients, agent, |agent, name| {
        let url = format!("{ingress}/restate/invocation/steps/run/{name}/attach");
        assert_eq!(read(agent.get(&url).call()), "385", "{name}");
    });
    let steps_per_second = (options.executions * 10) as f64 / started.elapsed().as_secs_f64();

    // Idle cost.
    let names: Vec<String> = (0..options.suspended).map(|i| format!("s-{i}")).collect();
    let wait = r#"{"count":1,"wait_after":1,"wait_seconds":3600}"#;
    on_clients(&names, options.clients, agent, |agent, name| {
        send(agent, ingress, name, wait);
    });
    let cpu = || restate.cpu_seconds();
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline && cpu_over(cpu, Duration::from_secs(1)) > 0.05 {}
    let idle_cpu = cpu_over(cpu, Duration::from_secs(10));
    let rss_mib = restate.rss_kib() as f64 / 1024.0;

    // Latency.
    let agent = agent();
    let mut samples: Vec<f64> = (0..options.latency_samples)
        .map(|_| {
            let started = Instant::now();
            let response = agent
                .post(&format!("{ingress}/steps/run"))
                .header("content-type", "application/json")
                .send(r#"{"count":1}"#);
            assert_eq!(read(response), "1");
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    let (p50_ms, p99_ms) = percentiles(&mut samples);
    Round {
        steps_per_second,
        first_page_ms: f64::NAN,
        newest_page_ms: f64::NAN,
        idle_cpu,
        rss_mib,
        p50_ms,
        p99_ms,
        p50_beside_loop_ms: f64::NAN,
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// Starts `steps.run` on `input`, once per `name` (its idempotency key).
fn send(agent: &ureq::Agent, ingress: &str, name: &str, input: &str) {
    let response = agent
        .post(&format!("{ingress}/steps/run/send"))
        .header("content-type", "application/json")
        .header("idempotency-key", name)
        .send(input);
    read(response);
}

fn read(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> String {
    let mut response = response.expect("reach Restate's ingress");
    let status = response.status();
    let body = response.body_mut().read_to_string().unwrap();
    assert!(status.is_success(), "{status}: {body}");
    body
}

fn cpu_over(cpu: impl Fn() -> f64, window: Duration) -> f64 {
    let before = cpu();
    std::thread::sleep(window);
    (cpu() - before) / window.as_secs_f64()
}

/// Restate's server and the service, both counted in its CPU and RSS.
struct Restate {
    server: Child,
    service: Child,
    ingress: String,
}

impl Restate {
    fn start(dir: &Path, data: &Path) -> Restate {
        let binary = std::fs::read_dir(dir.join("node_modules/@restatedev"))
            .expect("Restate is installed (scripts/bench-restate)")
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.path().join("bin/restate-server"))
            .find(|path| path.exists())
            .expect("the restate-server binary for this platform");
        let [ingress, admin, fabric, service_port] = free_ports();
        let server = Command::new(binary)
            .current_dir(data)
            .env("RESTATE_BASE_DIR", data)
            .env(
                "RESTATE_INGRESS__BIND_ADDRESS",
                format!("127.0.0.1:{ingress}"),
            )
            .env("RESTATE_ADMIN__BIND_ADDRESS", format!("127.0.0.1:{admin}"))
            .env("RESTATE_BIND_ADDRESS", format!("127.0.0.1:{fabric}"))
            .env(
                "RESTATE_ADVERTISED_ADDRESS",
                format!("http://127.0.0.1:{fabric}"),
            )
            .env("RESTATE_LOG_FILTER", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start restate-server");
        let service = Command::new("node")
            .arg(dir.join("service.mjs"))
            .env("PORT", service_port.to_string())
            .env("RESTATE_LOGGING", "WARN")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the Node service");
        let restate = Restate {
            server,
            service,
            ingress: format!("http://127.0.0.1:{ingress}"),
        };
        // Register the service once both answer.
        let agent = agent();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let registered = agent
                .post(&format!("http://127.0.0.1:{admin}/deployments"))
                .header("content-type", "application/json")
                .send(format!(r#"{{"uri":"http://127.0.0.1:{service_port}"}}"#));
            match registered {
                Ok(response) if response.status().is_success() => break,
                _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(200)),
                other => panic!("cannot register the service with Restate: {other:?}"),
            }
        }
        restate
    }

    fn cpu_seconds(&self) -> f64 {
        process_cpu_seconds(self.server.id()) + process_cpu_seconds(self.service.id())
    }

    fn rss_kib(&self) -> u64 {
        process_rss_kib(self.server.id()) + process_rss_kib(self.service.id())
    }
}

impl Drop for Restate {
    fn drop(&mut self) {
        for child in [&mut self.server, &mut self.service] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Four ports free at the moment (released for Restate to bind).
fn free_ports() -> [u16; 4] {
    let listeners: Vec<TcpListener> = (0..4)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().unwrap().port())
}
