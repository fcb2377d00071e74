"""Drives executions through AWS's emulator of the durable backend
(dex-local-runner), as a person with the AWS SDK would: start, complete
callbacks, wait for the end, read the history.

usage: python3 lambda_driver.py ENDPOINT JOBS_JSON
JOBS_JSON: [{"function": F, "input": JSON_TEXT, "name": N, "callback": RESULT_TEXT?,
             "until": EVENT_TYPE?}, ...]
  "until": return once the history holds such an event, the execution still running.
  {"arn": ARN, "name": N, "callback": ...}: go on with an execution started before.
Prints {N: {"status", "result", "error", "events": [[type, subtype, name, parent name]], "arns": {...}}}.
"""

import json
import os
import subprocess
import sys
import time

import boto3

endpoint, jobs = sys.argv[1], json.loads(sys.argv[2])
env = dict(os.environ, AWS_DEX_LOCAL_RUNNER_ENDPOINT=endpoint)
lam = boto3.client(
    "lambda",
    endpoint_url=endpoint,
    region_name="us-west-2",
    aws_access_key_id="x",
    aws_secret_access_key="x",
)


def normalize(events):
    names = {e.get("Id"): e.get("Name") for e in events if e.get("Id")}
    return [
        [e["EventType"], e.get("SubType"), e.get("Name"), names.get(e.get("ParentId"))]
        for e in events
    ]


def history(arn):
    events, marker = [], None
    while True:
        kwargs = {"DurableExecutionArn": arn, "IncludeExecutionData": True}
        if marker:
            kwargs["Marker"] = marker
        page = lam.get_durable_execution_history(**kwargs)
        events.extend(page["Events"])
        marker = page.get("NextMarker")
        if not marker:
            return events


out = {}
for job in jobs:
    if "arn" in job:
        arn = job["arn"]
    else:
        started = subprocess.run(
            ["dex-local-runner", "invoke", "--function-name", job["function"],
             "--input", job["input"], "--durable-execution-name", job["name"]],
            env=env, capture_output=True, text=True, check=True,
        )
        arn = json.loads(started.stdout)["ExecutionArn"]
    answered = set()
    deadline = time.time() + 120
    while True:
        execution = lam.get_durable_execution(DurableExecutionArn=arn)
        if execution["Status"] != "RUNNING":
            break
        if "until" in job and any(e["EventType"] == job["until"] for e in history(arn)):
            break
        assert time.time() < deadline, f"{job['name']} never ended"
        if "callback" in job:
            for event in history(arn):
                if event["EventType"] == "CallbackStarted":
                    callback = event["CallbackStartedDetails"]["CallbackId"]
                    if callback not in answered:
                        answered.add(callback)
                        lam.send_durable_execution_callback_success(
                            CallbackId=callback, Result=job["callback"].encode()
                        )
        time.sleep(0.1)
    events = history(arn)
    result = {
        "arn": arn,
        # As `aws lambda get-durable-execution-history` exports it.
        "history": json.loads(json.dumps(events, default=lambda t: t.timestamp())),
        "status": execution["Status"],
        "result": execution.get("Result"),
        "error": execution.get("Error"),
        "events": normalize(events),
    }
    # What the executions it invoked recorded.
    for event in events:
        if event["EventType"] == "ChainedInvokeStarted":
            child = event["ChainedInvokeStartedDetails"]["DurableExecutionArn"]
            result.setdefault("invoked", []).append(normalize(history(child)))
    out[job["name"]] = result
json.dump(out, sys.stdout)
