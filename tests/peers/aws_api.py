"""boto3, unchanged, against `cairn serve`: Lambda's durable-execution API.

Run by tests/aws_api.rs with CAIRN_URL set to the server's address and
AWS_SHARED_CREDENTIALS_FILE to the credentials `cairn serve` wrote beside
its store (boto3 signs with them, as with any AWS credentials), after the
workflows `approval` and `order` were registered. Asserts as it goes and
prints a JSON summary for the Rust side to check against the store.
"""

import json
import os
import sys

import boto3
from botocore.config import Config

from lambda_client import callback_id, client, error_code, history, lam, wait_until

summary = {}

# Requests not signed with the server's credentials are refused, in AWS's terms.
known_id = lam._request_signer._credentials.access_key
summary["wrong_secret"] = error_code(
    client(aws_access_key_id=known_id, aws_secret_access_key="guessed").invoke,
    FunctionName="approval",
    InvocationType="Event",
    DurableExecutionName="forged",
    Payload=b"{}",
)
summary["unknown_key"] = error_code(
    client(aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="x").get_durable_execution,
    DurableExecutionArn="anything",
)
# The deployed workflows, as Lambda lists functions.
functions = lam.list_functions()["Functions"]
summary["functions"] = sorted(f["FunctionName"] for f in functions)
order_function = lam.get_function(FunctionName="order")["Configuration"]
summary["order_version"] = order_function["Version"]
summary["order_arn"] = order_function["FunctionArn"]
summary["order_versions"] = [
    v["Version"] for v in lam.list_versions_by_function(FunctionName="order")["Versions"]
]
summary["missing_function"] = error_code(lam.get_function, FunctionName="nobody")

approval_input = json.dumps({"amount_cents": 5, "approver": "boto"})

# Start, idempotently by name.
started = lam.invoke(
    FunctionName="approval",
    InvocationType="Event",
    DurableExecutionName="appr-1",
    Payload=approval_input,
)
assert started["StatusCode"] == 202, started
arn = started["DurableExecutionArn"]
again = lam.invoke(
    FunctionName="approval",
    InvocationType="Event",
    DurableExecutionName="appr-1",
    Payload=approval_input,
)
assert again["DurableExecutionArn"] == arn, again
summary["conflict"] = error_code(
    lam.invoke,
    FunctionName="approval",
    InvocationType="Event",
    DurableExecutionName="appr-1",
    Payload=json.dumps({"amount_cents": 6, "approver": "boto"}),
)
summary["other_function"] = error_code(
    lam.invoke,
    FunctionName="order",
    InvocationType="Event",
    DurableExecutionName="appr-1",
    Payload=approval_input,
)
summary["unknown_function"] = error_code(
    lam.invoke, FunctionName="nobody", InvocationType="Event", Payload=b"{}"
)

# The callback, completed through the API.
cb = wait_until("the callback to start", lambda: callback_id(arn))
lam.send_durable_execution_callback_heartbeat(CallbackId=cb)
lam.send_durable_execution_callback_success(
    CallbackId=cb, Result=json.dumps({"approved": True, "by": "boto"}).encode()
)
done = wait_until(
    "appr-1 to succeed",
    lambda: (e := lam.get_durable_execution(DurableExecutionArn=arn))["Status"] == "SUCCEEDED" and e,
)
summary["approval_result"] = json.loads(done["Result"])
summary["approval_name"] = done["DurableExecutionName"]
assert done["EndTimestamp"] >= done["StartTimestamp"], done
summary["closed_callback"] = error_code(
    lam.send_durable_execution_callback_success, CallbackId=cb, Result=b"1"
)
summary["unknown_callback"] = error_code(
    lam.send_durable_execution_callback_failure,
    CallbackId="no-such-callback",
    Error={"ErrorType": "X", "ErrorMessage": "y"},
)
summary["unknown_execution"] = error_code(
    lam.get_durable_execution, DurableExecutionArn=arn + "-missing"
)

# History: in full, without execution data, and page by page.
full = history(arn, IncludeExecutionData=True)
summary["history"] = [[e["EventId"], e["EventType"], e.get("Name")] for e in full]
assert full[0]["ExecutionStartedDetails"]["Input"]["Payload"] == json.dumps(
    json.loads(approval_input), separators=(",", ":"), sort_keys=True
), full[0]
bare = history(arn)
assert "Payload" not in bare[0]["ExecutionStartedDetails"]["Input"], bare[0]
assert bare[0]["ExecutionStartedDetails"]["Input"]["Truncated"] is True, bare[0]
pages, marker = [], None
while True:
    kwargs = {"MaxItems": 2, "IncludeExecutionData": True}
    if marker:
        kwargs["Marker"] = marker
    page = lam.get_durable_execution_history(DurableExecutionArn=arn, **kwargs)
    assert len(page["Events"]) <= 2
    pages.extend(page["Events"])
    marker = page.get("NextMarker")
    if not marker:
        break
assert pages == full, (pages, full)
newest_first = history(arn, ReverseOrder=True)
assert [e["EventId"] for e in newest_first] == [e["EventId"] for e in reversed(full)]

# A synchronous invoke answers with the result (the server skips time).
order = lam.invoke(
    FunctionName="order",
    DurableExecutionName="order-1",
    Payload=json.dumps(
        {"customer": "boto", "items": [{"sku": "tea", "quantity": 2, "unit_cents": 450}]}
    ),
)
assert order["StatusCode"] == 200 and "FunctionError" not in order, order
summary["order_result"] = json.loads(order["Payload"].read())

# What it logged, through CloudWatch Logs' own client (the log group of
# the function, the records filtered on the execution's ARN as AWS's
# tools do), and a page of one line at a time.
logs = boto3.client(
    "logs",
    endpoint_url=os.environ["CAIRN_URL"],
    region_name="us-east-1",
    config=Config(retries={"max_attempts": 1}),
)
order_arn = lam.get_durable_execution(
    DurableExecutionArn=lam.list_durable_executions_by_function(
        FunctionName="order", DurableExecutionName="order-1"
    )["DurableExecutions"][0]["DurableExecutionArn"]
)["DurableExecutionArn"]
pattern = f'{{ $.durableExecutionArn = "{order_arn}" }}'
records = [
    json.loads(e["message"])
    for e in logs.filter_log_events(logGroupName="/aws/lambda/order", filterPattern=pattern)["events"]
]
summary["order_logs"] = [[r["level"], r["message"]] for r in records]
assert all(r["durableExecutionArn"] == order_arn for r in records), records
paged, token = [], None
while True:
    page = logs.filter_log_events(
        logGroupName="/aws/lambda/order", filterPattern=pattern, limit=1, **({"nextToken": token} if token else {})
    )
    paged += [json.loads(e["message"])["message"] for e in page["events"]]
    token = page.get("nextToken")
    if not token:
        break
assert paged == [r["message"] for r in records], (paged, records)
summary["logs_elsewhere"] = logs.filter_log_events(
    logGroupName="/aws/lambda/approval", filterPattern=pattern
)["events"]
summary["logs_bad_pattern"] = error_code(
    logs.filter_log_events, logGroupName="/aws/lambda/order", filterPattern="?maybe"
)

# Stop a waiting execution with an error of our own.
second = lam.invoke(
    FunctionName="approval",
    InvocationType="Event",
    DurableExecutionName="appr-2",
    Payload=approval_input,
)["DurableExecutionArn"]
wait_until("the second callback to start", lambda: callback_id(second))
stopped = lam.stop_durable_execution(
    DurableExecutionArn=second,
    Error={"ErrorType": "Cancelled", "ErrorMessage": "no longer needed"},
)
assert stopped["StopTimestamp"], stopped
after = lam.get_durable_execution(DurableExecutionArn=second)
summary["stopped"] = [after["Status"], after["Error"]["ErrorType"], after["Error"]["ErrorMessage"]]
restopped = lam.stop_durable_execution(DurableExecutionArn=second)
assert restopped["StopTimestamp"] == stopped["StopTimestamp"], (restopped, stopped)

# Listing by function, with filters and in both orders.
def names(**kwargs):
    listed = lam.list_durable_executions_by_function(FunctionName="approval", **kwargs)
    return [e["DurableExecutionName"] for e in listed["DurableExecutions"]]


summary["listed"] = names()
summary["listed_stopped"] = names(Statuses=["STOPPED"])
summary["listed_ended"] = names(Statuses=["STOPPED", "SUCCEEDED"], ReverseOrder=True)
summary["listed_by_name"] = names(DurableExecutionName="appr-1")
summary["listed_by_arn"] = [
    e["DurableExecutionName"]
    for e in lam.list_durable_executions_by_function(
        FunctionName=done["FunctionArn"]
    )["DurableExecutions"]
]
summary["unknown_function_list"] = error_code(
    lam.list_durable_executions_by_function, FunctionName="nobody"
)

json.dump(summary, sys.stdout)
