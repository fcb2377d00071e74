//! The CLI's side of `cairn serve`'s HTTP API (`--server URL`): the same
//! calls the AWS SDKs make, plus Cairn's own workflow registration.

use anyhow::{Context as _, Result, bail};
use cairn_cli::auth::{self, Credentials};
use cairn_core::ErrorObject;
use cairn_core::history::error_json;
use cairn_engine::limits::AllowedHost;
use cairn_engine::sqlite::Completion;
use serde_json::Value;

pub struct Client {
    base: String,
    agent: ureq::Agent,
    credentials: Credentials,
}

/// The hosts a deployed workflow's HTTP requests may reach, comma-separated
/// (empty: none); absent, a deploy keeps the list it had.
pub const ALLOW_HTTP_HEADER: &str = "x-cairn-allow-http";

impl Client {
    pub fn new(server: &str, credentials: Credentials) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Client {
            base: server.trim_end_matches('/').to_owned(),
            agent,
            credentials,
        }
    }

    /// Uploads a component as workflow `name` (a new version when its bytes
    /// are new); with `allow_http`, replaces the hosts its HTTP requests may
    /// reach. Returns the server's answer (`Version`, `ComponentHash`).
    pub fn deploy(
        &self,
        name: &str,
        component: &[u8],
        allow_http: Option<&[AllowedHost]>,
    ) -> Result<Value> {
        let hosts = allow_http.map(|hosts| {
            hosts
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        });
        let mut headers = vec![("content-type", "application/wasm")];
        if let Some(hosts) = &hosts {
            headers.push((ALLOW_HTTP_HEADER, hosts));
        }
        let path = format!("/cairn/workflows/{}", encode(name));
        Ok(self
            .call("PUT", &path, &[], &headers, component.to_vec())?
            .1)
    }

    /// Lambda's ListFunctions: the deployed workflows, latest versions.
    pub fn functions(&self) -> Result<Vec<Value>> {
        let (_, answer) = self.call("GET", "/2015-03-31/functions/", &[], &[], Vec::new())?;
        Ok(answer["Functions"].as_array().cloned().unwrap_or_default())
    }

    /// Lambda's ListVersionsByFunction: `name`'s versions, oldest first.
    pub fn versions(&self, name: &str) -> Result<Vec<Value>> {
        let path = format!("/2015-03-31/functions/{}/versions", encode(name));
        let (_, answer) = self.call("GET", &path, &[], &[], Vec::new())?;
        Ok(answer["Versions"].as_array().cloned().unwrap_or_default())
    }

    /// Starts execution `name` of `function` without waiting for it; returns its ARN.
    pub fn start(&self, function: &str, name: &str, input: &str) -> Result<String> {
        let path = format!("/2015-03-31/functions/{}/invocations", encode(function));
        let headers = [
            ("x-amz-invocation-type", "Event"),
            ("x-amz-durable-execution-name", name),
        ];
        let (headers, _) = self.call("POST", &path, &[], &headers, input.to_owned())?;
        headers
            .get("X-Amz-Durable-Execution-Arn")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
            .context("the server did not name the execution it started")
    }

    pub fn stop(&self, name: &str, error: &ErrorObject) -> Result<Value> {
        let path = format!("/2025-12-01/durable-executions/{}/stop", encode(name));
        let body = error_json(error).to_string();
        Ok(self.call("POST", &path, &[], &[], body)?.1)
    }

    /// PauseDurableExecution (`timeout_paused`: hold the timeout still).
    pub fn pause(&self, name: &str, reason: Option<&str>, timeout_paused: bool) -> Result<()> {
        let path = format!("/2025-12-01/durable-executions/{}/pause", encode(name));
        let body =
            serde_json::json!({ "Reason": reason, "ExecutionTimeoutPaused": timeout_paused });
        self.call("POST", &path, &[], &[], body.to_string())?;
        Ok(())
    }

    /// ResumeDurableExecution.
    pub fn resume(&self, name: &str, reason: Option<&str>) -> Result<()> {
        let path = format!("/2025-12-01/durable-executions/{}/resume", encode(name));
        let body = serde_json::json!({ "Reason": reason });
        self.call("POST", &path, &[], &[], body.to_string())?;
        Ok(())
    }

    /// DeleteDurableExecution.
    pub fn delete(&self, name: &str) -> Result<()> {
        let path = format!("/2025-12-01/durable-executions/{}", encode(name));
        self.call("DELETE", &path, &[], &[], String::new())?;
        Ok(())
    }

    pub fn callback(&self, id: &str, completion: Completion) -> Result<()> {
        let path = |action: &str| {
            format!(
                "/2025-12-01/durable-execution-callbacks/{}/{action}",
                encode(id)
            )
        };
        let (path, body) = match completion {
            Completion::Succeed(result) => (path("succeed"), result),
            Completion::Fail(error) => (path("fail"), error_json(&error).to_string()),
            Completion::Heartbeat => (path("heartbeat"), String::new()),
        };
        self.call("POST", &path, &[], &[], body)?;
        Ok(())
    }

    /// GetDurableExecution of the execution `name`.
    pub fn get(&self, name: &str) -> Result<Value> {
        let path = format!("/2025-12-01/durable-executions/{}", encode(name));
        Ok(self.call("GET", &path, &[], &[], String::new())?.1)
    }

    /// Every event of GetDurableExecutionHistory, page after page.
    pub fn history(&self, name: &str) -> Result<Vec<Value>> {
        let path = format!("/2025-12-01/durable-executions/{}/history", encode(name));
        self.all_pages(&path, "Events", &[("IncludeExecutionData", "true")])
    }

    /// ListDurableExecutionsByFunction of `workflow`, newest first, every page.
    pub fn list(&self, workflow: &str, status: Option<&str>) -> Result<Vec<Value>> {
        let path = format!(
            "/2025-12-01/functions/{}/durable-executions",
            encode(workflow)
        );
        let mut query = vec![("ReverseOrder", "true")];
        query.extend(status.map(|status| ("Statuses", status)));
        self.all_pages(&path, "DurableExecutions", &query)
    }

    /// The log records of the execution `name` (CloudWatch Logs'
    /// FilterLogEvents on its workflow's log group, by its ARN), every page.
    pub fn logs(&self, name: &str) -> Result<Vec<Value>> {
        let arn = self.get(name)?["DurableExecutionArn"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let workflow = cairn_core::history::function_of(&arn);
        let mut request = serde_json::json!({
            "logGroupName": format!("/aws/lambda/{workflow}"),
            "filterPattern": format!("{{ $.durableExecutionArn = {} }}", Value::from(arn.clone())),
        });
        let mut records = Vec::new();
        loop {
            let (_, page) = self.call(
                "POST",
                "/",
                &[],
                &[
                    ("x-amz-target", "Logs_20140328.FilterLogEvents"),
                    ("content-type", "application/x-amz-json-1.1"),
                ],
                request.to_string(),
            )?;
            for event in page["events"].as_array().into_iter().flatten() {
                let message = event["message"].as_str().unwrap_or_default();
                records.push(serde_json::from_str(message).unwrap_or(Value::from(message)));
            }
            match page["nextToken"].as_str() {
                Some(token) => request["nextToken"] = Value::from(token),
                None => return Ok(records),
            }
        }
    }

    /// The items under `key` of every page of a paged GET.
    fn all_pages(&self, path: &str, key: &str, query: &[(&str, &str)]) -> Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let mut query = query.to_vec();
            query.extend(marker.as_deref().map(|marker| ("Marker", marker)));
            let (_, page) = self.call("GET", path, &query, &[], String::new())?;
            items.extend(page[key].as_array().into_iter().flatten().cloned());
            match page["NextMarker"].as_str() {
                Some(next) => marker = Some(next.to_owned()),
                None => return Ok(items),
            }
        }
    }

    /// Sends one signed request; returns the answer's headers and JSON
    /// body, or its error as the API named it.
    fn call(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: impl Into<Vec<u8>>,
    ) -> Result<(ureq::http::HeaderMap, Value)> {
        let mut url = format!("{}{path}", self.base);
        for (i, (name, value)) in query.iter().enumerate() {
            let separator = if i == 0 { '?' } else { '&' };
            url.push_str(&format!("{separator}{}={}", encode(name), encode(value)));
        }
        let request = auth::signed_request(method, &url, headers, body.into(), &self.credentials)?;
        let sent = self.agent.run(request);
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
