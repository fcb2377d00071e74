//! The CLI's side of `cairn serve`'s HTTP API (`--server URL`): the same
//! calls the AWS SDKs make, plus Cairn's own workflow registration.

use anyhow::{Context as _, Result, bail};
use cairn_core::ErrorObject;
use cairn_core::history::error_json;
use cairn_engine::limits::AllowedHost;
use cairn_engine::sqlite::Completion;
use serde_json::{Value, json};
use std::path::Path;

pub struct Client {
    base: String,
    agent: ureq::Agent,
}

impl Client {
    pub fn new(server: &str) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Client {
            base: server.trim_end_matches('/').to_owned(),
            agent,
        }
    }

    /// Registers the component at `path` (on the server's machine) as `name`.
    /// Registers `path` as workflow `name`; with `allow_http`, replaces the
    /// hosts its HTTP requests may reach.
    pub fn deploy(
        &self,
        name: &str,
        path: &Path,
        allow_http: Option<&[AllowedHost]>,
    ) -> Result<()> {
        let mut body = json!({ "ComponentPath": path.to_string_lossy() });
        if let Some(hosts) = allow_http {
            let hosts: Vec<String> = hosts.iter().map(ToString::to_string).collect();
            body["AllowHttp"] = json!(hosts);
        }
        let body = body.to_string();
        let url = format!("{}/cairn/workflows/{}", self.base, encode(name));
        self.answer(self.agent.put(&url).send(body))?;
        Ok(())
    }

    /// Starts execution `name` of `function` without waiting for it; returns its ARN.
    pub fn start(&self, function: &str, name: &str, input: &str) -> Result<String> {
        let url = format!(
            "{}/2015-03-31/functions/{}/invocations",
            self.base,
            encode(function)
        );
        let request = self
            .agent
            .post(&url)
            .header("X-Amz-Invocation-Type", "Event")
            .header("X-Amz-Durable-Execution-Name", name);
        let (headers, _) = self.answer(request.send(input))?;
        headers
            .get("X-Amz-Durable-Execution-Arn")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
            .context("the server did not name the execution it started")
    }

    pub fn stop(&self, name: &str, error: &ErrorObject) -> Result<Value> {
        let url = format!(
            "{}/2025-12-01/durable-executions/{}/stop",
            self.base,
            encode(name)
        );
        let body = error_json(error).to_string();
        let (_, answer) = self.answer(self.agent.post(&url).send(body))?;
        Ok(answer)
    }

    pub fn callback(&self, id: &str, completion: Completion) -> Result<()> {
        let url = |action: &str| {
            format!(
                "{}/2025-12-01/durable-execution-callbacks/{}/{action}",
                self.base,
                encode(id)
            )
        };
        let sent = match completion {
            Completion::Succeed(result) => self.agent.post(&url("succeed")).send(result),
            Completion::Fail(error) => self
                .agent
                .post(&url("fail"))
                .send(error_json(&error).to_string()),
            Completion::Heartbeat => self.agent.post(&url("heartbeat")).send_empty(),
        };
        self.answer(sent)?;
        Ok(())
    }

    /// GetDurableExecution of the execution `name`.
    pub fn get(&self, name: &str) -> Result<Value> {
        let url = format!(
            "{}/2025-12-01/durable-executions/{}",
            self.base,
            encode(name)
        );
        Ok(self.answer(self.agent.get(&url).call())?.1)
    }

    /// Every event of GetDurableExecutionHistory, page after page.
    pub fn history(&self, name: &str) -> Result<Vec<Value>> {
        let url = format!(
            "{}/2025-12-01/durable-executions/{}/history",
            self.base,
            encode(name)
        );
        self.all_pages(&url, "Events", &[("IncludeExecutionData", "true")])
    }

    /// ListDurableExecutionsByFunction of `workflow`, newest first, every page.
    pub fn list(&self, workflow: &str, status: Option<&str>) -> Result<Vec<Value>> {
        let url = format!(
            "{}/2025-12-01/functions/{}/durable-executions",
            self.base,
            encode(workflow)
        );
        let mut query = vec![("ReverseOrder", "true")];
        query.extend(status.map(|status| ("Statuses", status)));
        self.all_pages(&url, "DurableExecutions", &query)
    }

    /// The items under `key` of every page of a paged GET.
    fn all_pages(&self, url: &str, key: &str, query: &[(&str, &str)]) -> Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let mut request = self.agent.get(url);
            for (name, value) in query {
                request = request.query(*name, *value);
            }
            if let Some(marker) = &marker {
                request = request.query("Marker", marker);
            }
            let (_, page) = self.answer(request.call())?;
            items.extend(page[key].as_array().into_iter().flatten().cloned());
            match page["NextMarker"].as_str() {
                Some(next) => marker = Some(next.to_owned()),
                None => return Ok(items),
            }
        }
    }

    /// The answer's headers and JSON body, or its error as the API named it.
    fn answer(
        &self,
        sent: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<(ureq::http::HeaderMap, Value)> {
        let mut response = sent.with_context(|| format!("cannot reach {}", self.base))?;
        let status = response.status();
        let text = response
            .body_mut()
            .read_to_string()
            .with_context(|| format!("cannot read the answer of {}", self.base))?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !status.is_success() {
            let kind = response
                .headers()
                .get("x-amzn-ErrorType")
                .and_then(|value| value.to_str().ok())
                .unwrap_or("error");
            let message = ["Message", "message"]
                .iter()
                .find_map(|key| body.get(key).and_then(Value::as_str))
                .unwrap_or(&text);
            bail!("{kind} ({status}): {message}");
        }
        Ok((response.headers().clone(), body))
    }
}

/// Percent-encodes one path segment (ARNs hold `:` and `/`).
fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
