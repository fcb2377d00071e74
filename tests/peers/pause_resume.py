"""boto3, unchanged, pausing, resuming and deleting executions on `cairn serve`
(Lambda's PauseDurableExecution, ResumeDurableExecution and
DeleteDurableExecution). Run by tests/pause.rs after the workflows `approval`
and `steps` were deployed; asserts as it goes and prints a JSON summary.
"""

import json
import sys
import time

from lambda_client import callback_id, error_code, history, lam, status, wait_until

summary = {}


def start(function, name, payload):
    return lam.invoke(
        FunctionName=function,
        InvocationType="Event",
        DurableExecutionName=name,
        Payload=json.dumps(payload),
    )["DurableExecutionArn"]


def types(events):
    return [e["EventType"] for e in events]


# 1. Paused while it waits for its callback: the callback completes, but
#    the workflow is not invoked until it is resumed.
held = start("approval", "held", {"amount_cents": 7, "approver": "boto"})
wait_until("held to suspend", lambda: "InvocationCompleted" in types(history(held)))
cb = callback_id(held)
lam.pause_durable_execution(
    DurableExecutionArn=held, Reason="maintenance", ClientToken="pause-1"
)
paused = lam.get_durable_execution(DurableExecutionArn=held, IncludeExecutionData=True)
summary["held_status"] = paused["Status"]
summary["held_pause_details"] = {
    key: paused["PauseDetails"].get(key) for key in ("Reason", "ExecutionTimeoutPaused")
}
assert paused["PauseDetails"]["PauseRequestTimestamp"], paused
# The same request again (its token) is not an error; another pause is.
lam.pause_durable_execution(
    DurableExecutionArn=held, Reason="maintenance", ClientToken="pause-1"
)
summary["pause_twice"] = error_code(lam.pause_durable_execution, DurableExecutionArn=held)
summary["listed_paused"] = [
    e["DurableExecutionName"]
    for e in lam.list_durable_executions_by_function(
        FunctionName="approval", Statuses=["PAUSED"]
    )["DurableExecutions"]
]
lam.send_durable_execution_callback_success(
    CallbackId=cb, Result=json.dumps({"approved": True, "by": "boto"}).encode()
)
# Time for a server that ignored the pause to invoke the workflow: the
# history below would show it (this wait bounds nothing).
time.sleep(1)
summary["held_status_after_callback"] = status(held)
lam.resume_durable_execution(DurableExecutionArn=held, Reason="done")
summary["resume_twice"] = error_code(lam.resume_durable_execution, DurableExecutionArn=held)
wait_until("held to succeed", lambda: status(held) == "SUCCEEDED")
events = history(held, IncludeExecutionData=True)
summary["held_history"] = types(events)
pause_event = next(e for e in events if e["EventType"] == "ExecutionPaused")
resume_event = next(e for e in events if e["EventType"] == "ExecutionResumed")
summary["held_pause_event"] = {
    "Reason": pause_event["ExecutionPausedDetails"]["Reason"]["Payload"],
    "ExecutionTimeoutPaused": pause_event["ExecutionPausedDetails"]["ExecutionTimeoutPaused"],
}
summary["held_resume_reason"] = resume_event["ExecutionResumedDetails"]["Reason"]["Payload"]
summary["held_result"] = json.loads(lam.get_durable_execution(DurableExecutionArn=held)["Result"])
summary["pause_ended"] = error_code(lam.pause_durable_execution, DurableExecutionArn=held)

# 2. Paused in the middle of an invocation: PAUSING until it reaches its
#    next step, then PAUSED, with every step before it recorded.
cut = start("steps", "cut", {"count": 4, "sleep_ms": 1500})
wait_until(
    "step-1 to be recorded (step-2's body runs)",
    lambda: any(
        e["EventType"] == "StepSucceeded" and e["Name"] == "step-1" for e in history(cut)
    ),
)
lam.pause_durable_execution(DurableExecutionArn=cut)
summary["cut_status_at_once"] = status(cut)
summary["delete_running"] = error_code(lam.delete_durable_execution, DurableExecutionArn=cut)
wait_until("cut to pause", lambda: status(cut) == "PAUSED")
summary["cut_paused_history"] = [
    [e["EventType"], e.get("Name")]
    for e in history(cut)
    if e["EventType"] in ("StepSucceeded", "InvocationCompleted", "ExecutionPaused")
]
lam.resume_durable_execution(DurableExecutionArn=cut)
wait_until("cut to succeed", lambda: status(cut) == "SUCCEEDED")
done = lam.get_durable_execution(DurableExecutionArn=cut)
summary["cut_result"] = json.loads(done["Result"])
summary["cut_steps"] = [e["Name"] for e in history(cut) if e["EventType"] == "StepSucceeded"]

# 3. Deleted once it has ended: gone from get, history and lists.
deleted = lam.delete_durable_execution(DurableExecutionArn=cut)
assert deleted["DeletionRequestTimestamp"], deleted
summary["deleted_get"] = error_code(lam.get_durable_execution, DurableExecutionArn=cut)
summary["deleted_history"] = error_code(
    lam.get_durable_execution_history, DurableExecutionArn=cut
)
summary["deleted_again"] = error_code(lam.delete_durable_execution, DurableExecutionArn=cut)
summary["listed_steps"] = [
    e["DurableExecutionName"]
    for e in lam.list_durable_executions_by_function(FunctionName="steps")["DurableExecutions"]
]
summary["pause_unknown"] = error_code(
    lam.pause_durable_execution, DurableExecutionArn=cut + "-missing"
)

json.dump(summary, sys.stdout)
