"""Python twins of Cairn's example workflows, run on AWS's own emulator.

Each twin reproduces the durable operations of one `examples/*/src/lib.rs`
(same names, order, kinds, nesting and inputs) with the AWS durable execution
SDK for Python, and runs in-process on the testing package's
`DurableFunctionTestRunner` (skip_time=True). The script prints one JSON
object on stdout:

    {"order": {"result": ..., "error": ..., "status": "...",
               "events": [[EventType, SubType, Name, ParentName], ...]},
     ..., "raw": {"order": [<order's full history events>]}}

ParentName is the Name of the operation whose Id is the event's ParentId
(null at top level). A Rust test compares these with Cairn's histories.
Not deterministic from run to run: the chained child's execution name (a
UUID the emulator picks, on the child's Execution* events) and the order's
ids and timestamp (the SDK does not journal workflow-code clock/random reads).

Run: python3 tests/peers/emulator_histories.py
Needs aws-durable-execution-sdk-python and aws-durable-execution-sdk-python-testing.
"""

import datetime
import json
import logging
import secrets
import sys
import time

from aws_durable_execution_sdk_python.config import (
    CompletionConfig,
    Duration,
    JitterStrategy,
    MapConfig,
    StepConfig,
    StepSemantics,
    WaitForCallbackConfig,
)
from aws_durable_execution_sdk_python.context import DurableContext
from aws_durable_execution_sdk_python.exceptions import (
    CallbackTimeoutError,
    InvokeError,
    StepInterruptedError,
)
from aws_durable_execution_sdk_python.execution import durable_execution
from aws_durable_execution_sdk_python.retries import (
    RetryPresets,
    RetryStrategyConfig,
    create_retry_strategy,
)
from aws_durable_execution_sdk_python.waits import (
    WaitForConditionConfig,
    WaitStrategyConfig,
    create_wait_strategy,
)
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner

logging.basicConfig(level=logging.CRITICAL, stream=sys.stderr)
log = logging.getLogger("twins")


def error_type(name):
    """An exception class whose wire ErrorType is exactly `name`: the SDK
    records `module.QualName`, leaving builtins unqualified, so these claim
    to be builtins to match Cairn's `Error::new(name, ...)`."""
    return type(name, (Exception,), {"__module__": "builtins"})


EmptyOrder = error_type("EmptyOrder")
PaymentDeclined = error_type("PaymentDeclined")
Unavailable = error_type("Unavailable")
ItemFailed = error_type("ItemFailed")
TooManyUnits = error_type("TooManyUnits")


def random_id(prefix):
    return f"{prefix}-{secrets.token_hex(8)}"


# --- order -------------------------------------------------------------------

CARD_LIMIT_CENTS = 100_000


@durable_execution
def order(event, ctx: DurableContext):
    # Cairn journals these two workflow-code reads; the Python SDK has no such
    # operation, so they are plain (non-replayed) reads and add no events.
    placed_at = int(time.time())
    order_id = random_id("ord")
    ctx.logger.info(f"order {order_id} for {event['customer']} placed at {placed_at}")
    items = event["items"]

    def price(_):
        if not items:
            raise EmptyOrder("an order needs at least one item")
        return sum(i["quantity"] * i["unit_cents"] for i in items)

    total_cents = ctx.step(price, name="price")
    reservation = ctx.step(lambda _: random_id("res"), name="reserve-stock")

    def charge_card(_):
        if total_cents > CARD_LIMIT_CENTS:
            raise PaymentDeclined(f"{total_cents} cents is over the card limit")
        return random_id("ch")

    try:
        charge = ctx.step(charge_card, name="charge-card")
    except Exception:
        ctx.logger.warning(f"payment declined, releasing {reservation}")
        ctx.step(lambda _: reservation, name="release-stock")
        raise
    ctx.wait(Duration.from_seconds(2), name="await-pickup")
    tracking = ctx.step(lambda _: random_id("trk"), name="ship")
    return {
        "order_id": order_id,
        "customer": event["customer"],
        "placed_at": placed_at,
        "total_cents": total_cents,
        "reservation": reservation,
        "charge": charge,
        "tracking": tracking,
    }


# --- flaky -------------------------------------------------------------------


@durable_execution
def flaky(event, ctx: DurableContext):
    failures = event["failures"]
    failure_type = error_type(event.get("error_type", "Unavailable"))
    if failure_type.__name__ == "Unavailable":
        failure_type = Unavailable
    first_call_ms = event.get("first_call_ms", 0)
    config = StepConfig(
        retry_strategy=create_retry_strategy(
            RetryStrategyConfig(
                max_attempts=event.get("max_attempts", 5),
                initial_delay=Duration.from_seconds(1),
                max_delay=Duration.from_seconds(10),
                backoff_rate=2.0,
                jitter_strategy=JitterStrategy.NONE,
                retryable_error_types=[Unavailable, StepInterruptedError],
            )
        ),
        step_semantics=(
            StepSemantics.AT_MOST_ONCE_PER_RETRY
            if event.get("at_most_once", False)
            else StepSemantics.AT_LEAST_ONCE_PER_RETRY
        ),
    )

    def call_dependency(step_ctx):
        attempt = step_ctx.attempt
        step_ctx.logger.info(f"body ran: attempt {attempt}")
        if attempt == 1:
            time.sleep(first_call_ms / 1000)
        if attempt <= failures:
            raise failure_type(f"attempt {attempt}: the dependency is down")
        return f"answered on attempt {attempt}"

    return ctx.step(call_dependency, name="call-dependency", config=config)


# --- poller ------------------------------------------------------------------


@durable_execution
def poller(event, ctx: DurableContext):
    step_percent = event["step_percent"]
    strategy = create_wait_strategy(
        WaitStrategyConfig(
            should_continue_polling=lambda job: job["percent"] < 100,
            max_attempts=event.get("max_polls", 10),
            initial_delay=Duration.from_seconds(1),
            max_delay=Duration.from_seconds(30),
            backoff_rate=1.5,
            jitter_strategy=JitterStrategy.FULL,
        )
    )

    def check(job, check_ctx):
        check_ctx.logger.info(f"poll {check_ctx.attempt}: {job['percent']}%")
        return {
            "percent": min(job["percent"] + step_percent, 100),
            "polls": job["polls"] + 1,
        }

    job = ctx.wait_for_condition(
        check,
        WaitForConditionConfig(
            wait_strategy=strategy, initial_state={"percent": 0, "polls": 0}
        ),
        name="export-finished",
    )
    ctx.logger.info(f"export finished after {job['polls']} polls")
    return job


# --- approval ----------------------------------------------------------------


@durable_execution
def approval(event, ctx: DurableContext):
    approver = event["approver"]
    heartbeat = event.get("heartbeat_seconds", 0)
    config = WaitForCallbackConfig(
        timeout=Duration.from_seconds(event.get("timeout_seconds", 24 * 3600)),
        heartbeat_timeout=Duration.from_seconds(heartbeat),
    )

    def submitter(callback_id, cb_ctx):
        cb_ctx.logger.info(
            f"asking {approver}: cairn callback succeed {callback_id} "
            "'{\"approved\":true}'"
        )

    try:
        raw = ctx.wait_for_callback(submitter, name="approval", config=config)
        decision = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
    except CallbackTimeoutError as error:
        return {"status": "expired", "detail": str(error)}
    by = decision.get("by", "")
    if decision["approved"]:
        receipt = ctx.step(
            lambda _: f"paid {event['amount_cents']} cents, approved by {by}",
            name="pay",
        )
        return {"status": "paid", "detail": receipt}
    return {"status": "rejected", "detail": f"rejected by {by}"}


# --- fanout ------------------------------------------------------------------


@durable_execution
def fanout(event, ctx: DurableContext):
    once = create_retry_strategy(
        RetryStrategyConfig(
            max_attempts=2,
            initial_delay=Duration.from_seconds(1),
            jitter_strategy=JitterStrategy.NONE,
        )
    )
    retry = once if event.get("retry_once", False) else RetryPresets.none()

    def process(item_ctx: DurableContext, item, index, _items):
        if item.startswith("slow-") and item[5:].isdigit():
            item_ctx.wait(Duration.from_seconds(int(item[5:])), name="pause")

        def work(step_ctx):
            step_ctx.logger.info(f"body ran: {item}")
            if item.startswith("fail-"):
                raise ItemFailed(f"{item} cannot be processed")
            return f"{item} done"

        return item_ctx.step(work, name="work", config=StepConfig(retry_strategy=retry))

    batch = ctx.map(
        event["items"],
        process,
        name="process",
        config=MapConfig(
            max_concurrency=event.get("max_concurrency"),
            completion_config=CompletionConfig(
                min_successful=event.get("min_successful"),
                tolerated_failure_count=event.get("tolerated_failures"),
            ),
            # Cairn names items "{map}-{index}"; the SDK's default is "map-item-{index}".
            item_namer=lambda _item, index: f"process-{index}",
        ),
    )
    return {
        "processed": batch.get_results(),
        "failed": [e.message if e else None for e in batch.get_errors()],
        "not_finished": [i.index for i in batch.started()],
        "started": batch.total_count,
        "reason": batch.completion_reason.value,
    }


# --- parent / child ----------------------------------------------------------


@durable_execution
def child(event, ctx: DurableContext):
    units = event["units"]
    if units > 100:
        raise TooManyUnits(f"{units} units is more than 100")
    if event.get("wait_seconds", 0) > 0:
        ctx.wait(Duration.from_seconds(event["wait_seconds"]), name="settle")

    def price(step_ctx):
        step_ctx.logger.info("body ran: price")
        return units * 250

    cents = ctx.step(price, name="price")
    return {"units": units, "cents": cents}


@durable_execution
def parent(event, ctx: DurableContext):
    # Cairn serializes its Request with the defaulted field filled in.
    request = {"units": event["units"], "wait_seconds": event.get("wait_seconds", 0)}
    try:
        quote = ctx.invoke("child", request, name="quote")
    except InvokeError as error:
        if error.error_type == "TooManyUnits":
            return f"no quote: {error.message}"
        raise
    return f"{quote['units']} units for {quote['cents']} cents"


# --- running and normalizing ---------------------------------------------------


def iso(value):
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: iso(v) for k, v in value.items()}
    if isinstance(value, list):
        return [iso(v) for v in value]
    return value


def raw_events(runner, arn):
    response = runner.get_execution_history(arn, include_execution_data=True)
    assert response.next_marker is None, "history was paginated"
    return [iso(event.to_dict()) for event in response.events]


def normalize(events):
    names = {}
    for event in events:
        if event.get("Id") is not None and event.get("Name") is not None:
            names.setdefault(event["Id"], event["Name"])
    out = []
    for event in events:
        parent_id = event.get("ParentId")
        out.append(
            [
                event["EventType"],
                event.get("SubType"),
                event.get("Name"),
                names.get(parent_id) if parent_id is not None else None,
            ]
        )
    return out


def summary(result, events):
    parsed = None
    if result.result is not None:
        parsed = json.loads(result.result)
    status = result.status
    return {
        "result": parsed,
        "error": result.error.to_dict() if result.error is not None else None,
        "status": getattr(status, "value", status),
        "events": normalize(events),
    }


def new_runner(handler):
    return DurableFunctionTestRunner(handler, skip_time=True, poll_interval=0.05)


def run_simple(name, handler, payload):
    with new_runner(handler) as runner:
        arn = runner.run_async(
            input=json.dumps(payload, separators=(",", ":")), execution_name=name, function_name=name
        )
        result = runner.wait_for_result(arn, timeout=30)
        events = raw_events(runner, arn)
    return summary(result, events), events


def run_approval(payload, answer):
    with new_runner(approval) as runner:
        arn = runner.run_async(
            input=json.dumps(payload, separators=(",", ":")), execution_name="approval", function_name="approval"
        )
        callback_id = runner.wait_for_callback(arn, timeout=30)
        runner.send_callback_success(callback_id, json.dumps(answer).encode())
        result = runner.wait_for_result(arn, timeout=30)
        events = raw_events(runner, arn)
    return summary(result, events)


def run_parent_child(payload):
    with new_runner(parent) as runner:
        runner.register_durable_function("child", child)
        arn = runner.run_async(
            input=json.dumps(payload, separators=(",", ":")), execution_name="parent", function_name="parent"
        )
        result = runner.wait_for_result(arn, timeout=30)
        parent_events = raw_events(runner, arn)
        started = [e for e in parent_events if e["EventType"] == "ChainedInvokeStarted"]
        child_arn = started[0]["ChainedInvokeStartedDetails"]["DurableExecutionArn"]
        child_result = runner.wait_for_result(child_arn, timeout=30)
        child_events = raw_events(runner, child_arn)
    return summary(result, parent_events), summary(child_result, child_events)


INPUTS = {
    "order": {"customer": "ada", "items": [{"sku": "tea", "quantity": 2, "unit_cents": 450}]},
    "flaky": {"failures": 2},
    "poller": {"step_percent": 30},
    "approval": {"amount_cents": 12000, "approver": "ada"},
    # max_concurrency 1: the SDK runs map items on threads, so with more than
    # one in flight their events interleave differently from run to run.
    "fanout": {"items": ["fail-a", "b", "c"], "tolerated_failures": 1, "max_concurrency": 1},
    # No failure tolerated: the first one completes the batch, and the items
    # after it never start (they are not in its result).
    "fanout-early": {"items": ["fail-a", "b", "c"], "max_concurrency": 1},
    "parent": {"units": 4},
}


def main():
    out = {}
    out["order"], order_events = run_simple("order", order, INPUTS["order"])
    out["flaky"], _ = run_simple("flaky", flaky, INPUTS["flaky"])
    out["poller"], _ = run_simple("poller", poller, INPUTS["poller"])
    out["approval"] = run_approval(INPUTS["approval"], {"approved": True, "by": "ada"})
    out["fanout"], _ = run_simple("fanout", fanout, INPUTS["fanout"])
    out["fanout-early"], _ = run_simple("fanout-early", fanout, INPUTS["fanout-early"])
    out["parent"], out["child"] = run_parent_child(INPUTS["parent"])
    for name, payload in INPUTS.items():
        out[name]["input"] = json.dumps(payload, separators=(",", ":"))
    out["raw"] = {"order": order_events}
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
