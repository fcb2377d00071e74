"""Lambda's front door for AWS's emulator of the durable backend, as AWS's
conformance validator needs it (tests/peers/conformance.py --backend lambda).

dex-local-runner serves the durable-execution API (GetDurableExecution, its
history, the callback calls) as Lambda does, but not Lambda's Invoke: it
starts executions through a call of its own (`POST /start-durable-execution`,
which needs a name and answers at once), and it does not serve CloudWatch
Logs. This server answers those two as Lambda and CloudWatch Logs would and
forwards every other request to the emulator unchanged:

- Invoke starts an execution under a fresh name and answers with its ARN
  (`X-Amz-Durable-Execution-Arn`); a `RequestResponse` invoke waits for its
  end and answers its result, or its error with `X-Amz-Function-Error`.
- FilterLogEvents answers from what the functions' bootstraps printed (one
  log file a function, `FUNCTION.log`): Lambda's JSON log records, filtered
  by the execution ARN the validator asks for.
"""

import datetime
import http.server
import json
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import unquote, urlsplit

INVOKE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")
ARN_FILTER = re.compile(r'\$\.(?:durableExecutionArn|executionArn) = "((?:[^"\\]|\\.)*)"')
# Longer than any requirement runs; the emulator needs one.
EXECUTION_TIMEOUT_SECONDS = 900


class Front(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, emulator, logs_dir):
        super().__init__(("127.0.0.1", 0), Handler)
        self.emulator = emulator.rstrip("/")
        self.logs_dir = Path(logs_dir)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self


def emulator_call(front, method, path, body=None, headers=None):
    request = urllib.request.Request(
        front.emulator + path, data=body, method=method, headers=headers or {}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def log_records(front, function):
    """The JSON log records a function's bootstrap printed, in order."""
    path = front.logs_dir / f"{function}.log"
    records = []
    if not path.exists():
        return records
    for line in path.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "durableExecutionArn" in record:
            records.append((line, record))
    return records


def millis(iso):
    return int(datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_):
        pass

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def json_answer(self, status, value, headers=()):
        self.answer(
            status, json.dumps(value).encode(), [("Content-Type", "application/json"), *headers]
        )

    def do_GET(self):
        self.forward(b"")

    def do_DELETE(self):
        self.forward(self.body())

    def do_POST(self):
        body = self.body()
        path = urlsplit(self.path).path
        invoke = INVOKE.match(path)
        if invoke:
            return self.invoke(unquote(invoke.group(1)), body)
        if path == "/" and self.headers.get("X-Amz-Target", "").endswith(".FilterLogEvents"):
            return self.filter_log_events(json.loads(body or b"{}"))
        self.forward(body)

    def forward(self, body):
        headers = {
            name: value
            for name, value in self.headers.items()
            if name.lower() not in ("host", "content-length", "connection")
        }
        status, answer_headers, answer = emulator_call(
            self.server, self.command, self.path, body or None, headers
        )
        kept = [
            (name, value)
            for name, value in answer_headers.items()
            if name.lower() not in ("content-length", "connection", "transfer-encoding", "date", "server")
        ]
        self.answer(status, answer, kept)

    def invoke(self, function, payload):
        function = function.split(":function:")[-1].split(":")[0]
        start = {
            "AccountId": "123456789012",
            "FunctionName": function,
            "FunctionQualifier": "$LATEST",
            "ExecutionName": f"conformance-{uuid.uuid4().hex[:16]}",
            "ExecutionTimeoutSeconds": EXECUTION_TIMEOUT_SECONDS,
            "ExecutionRetentionPeriodDays": 1,
            "Input": payload.decode() or "{}",
        }
        status, _, answer = emulator_call(
            self.server,
            "POST",
            "/start-durable-execution",
            json.dumps(start).encode(),
            {"Content-Type": "application/json"},
        )
        if status >= 300:
            return self.answer(status, answer, [("Content-Type", "application/json")])
        arn = json.loads(answer)["ExecutionArn"]
        headers = [("X-Amz-Durable-Execution-Arn", arn), ("X-Amz-Executed-Version", "$LATEST")]
        if self.headers.get("X-Amz-Invocation-Type") == "Event":
            return self.answer(202, b"", headers)
        quoted = urllib.request.quote(arn, safe="")
        while True:
            status, _, answer = emulator_call(
                self.server, "GET", f"/2025-12-01/durable-executions/{quoted}"
            )
            execution = json.loads(answer)
            if status != 200 or execution.get("Status") not in ("RUNNING", None):
                break
            time.sleep(0.1)
        if execution.get("Status") == "SUCCEEDED":
            return self.answer(200, (execution.get("Result") or "null").encode(), headers)
        error = execution.get("Error") or {}
        self.json_answer(
            200,
            {"errorType": error.get("ErrorType"), "errorMessage": error.get("ErrorMessage")},
            [*headers, ("X-Amz-Function-Error", "Unhandled")],
        )

    def filter_log_events(self, request):
        group = request.get("logGroupName", "")
        function = group.removeprefix("/aws/lambda/")
        wanted = {
            match.encode().decode("unicode_escape")
            for match in ARN_FILTER.findall(request.get("filterPattern") or "")
        }
        start, end = request.get("startTime"), request.get("endTime")
        events = []
        for number, (line, record) in enumerate(log_records(self.server, function)):
            if wanted and record.get("durableExecutionArn") not in wanted:
                continue
            at = millis(record["timestamp"])
            if (start is not None and at < start) or (end is not None and at > end):
                continue
            events.append(
                {
                    "logStreamName": f"{function}-bootstrap",
                    "timestamp": at,
                    "message": line,
                    "ingestionTime": at,
                    "eventId": str(number),
                }
            )
        self.json_answer(200, {"events": events, "searchedLogStreams": []})
