"""What the boto3 peers share: a Lambda client for `cairn serve` (CAIRN_URL,
credentials from AWS_SHARED_CREDENTIALS_FILE, as for any AWS endpoint),
and small helpers over it."""

import os
import time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def client(**credentials):
    return boto3.client(
        "lambda",
        endpoint_url=os.environ["CAIRN_URL"],
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}),
        **credentials,
    )


lam = client()

assert hasattr(lam, "get_durable_execution"), (
    f"botocore {boto3.__version__} predates Lambda's durable executions: pip install --upgrade boto3"
)


def error_code(call, **kwargs):
    """The AWS error code a call fails with (it must fail)."""
    try:
        call(**kwargs)
    except ClientError as error:
        return error.response["Error"]["Code"]
    raise AssertionError(f"{call.__name__}({kwargs}) should have failed")


def wait_until(what, probe, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def history(arn, **kwargs):
    return lam.get_durable_execution_history(DurableExecutionArn=arn, **kwargs)["Events"]


def callback_id(arn):
    started = [e for e in history(arn) if e["EventType"] == "CallbackStarted"]
    return started[0]["CallbackStartedDetails"]["CallbackId"] if started else None


def status(arn):
    return lam.get_durable_execution(DurableExecutionArn=arn)["Status"]
