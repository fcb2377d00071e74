"""AWS's conformance suite for durable SDKs, its validator unchanged, against
`cairn serve` or against Cairn's Lambda host under AWS's emulator.

The suite is `aws-durable-execution-conformance-tests` 1.0.0 (scripts/test
unpacks its wheel into target/test-peers/conformance): requirements in YAML
(a handler in prose, an input, the expected result and history, callbacks
to send) and the validator AWS's own SDKs are held to, which drives a
deployed function with boto3. Here each suite's handlers are one component
(tests/conformance/SUITE, built for wasm32-wasip2), deployed under one
function name per requirement (`SUITE-ID`); the handler reads that name
from its execution. Only what ties the validator to AWS is replaced:
SAM's build and deploy (the components are deployed into the store
instead) and the CloudFormation lookups of a function's name (the name is
the function's). CloudWatch Logs' FilterLogEvents, which the validator
reads expected log lines with, is served by `cairn serve` too. boto3 talks to the server through AWS_ENDPOINT_URL,
signing with the credentials the server wrote beside its store.

With `--backend lambda` the functions are `bootstrap` processes that the
caller started under AWS's emulator (dex-local-runner, through
cargo-lambda: tests/lambda.rs, which asks `--list-functions` which to
start); boto3 talks to tests/peers/lambda_front.py, which serves Lambda's
Invoke and CloudWatch Logs' FilterLogEvents in front of the emulator.

Each suite's gaps.yaml names what its handlers cannot express
(`not_implemented`: NOT_IMPLEMENTED in AWS's report), what is known to fail
(`failing`, and on the Lambda backend also `failing_on_lambda`), and what
the emulator cannot judge (`not_judged_on_lambda`). The run passes when
every other requirement passes and exactly the known failures fail: a fix,
or a new failure, is reported either way.

usage: conformance.py --components DIR --suites DIR --package DIR
                      (--cairn BIN | --backend lambda --emulator URL --logs DIR | --list-functions)
                      [--suite NAME ...] [--max-workers N] [--out DIR]
Prints AWS's console report, then one JSON line: counts by status,
unexpected_failures, known_failures_now_passing, uncovered, each
requirement's status, and ok. `--list-functions` prints the functions to
serve instead, as JSON: [[NAME, COMPONENT], ...].
"""

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import threading
import traceback
from pathlib import Path

import yaml

parser = argparse.ArgumentParser()
parser.add_argument("--cairn", help="the cairn binary (backend serve)")
parser.add_argument("--backend", choices=["serve", "lambda"], default="serve")
parser.add_argument("--emulator", help="dex-local-runner's endpoint (backend lambda)")
parser.add_argument("--logs", help="where the bootstraps' FUNCTION.log are (backend lambda)")
parser.add_argument("--list-functions", action="store_true", help="print the functions to serve")
parser.add_argument("--components", required=True, help="where conformance_SUITE.wasm are")
parser.add_argument("--suites", required=True, help="tests/conformance: SUITE/gaps.yaml")
parser.add_argument("--package", required=True, help="the unpacked conformance wheel")
parser.add_argument("--suite", nargs="+", default=None, help="only these suites")
parser.add_argument("--max-workers", type=int, default=16)
parser.add_argument("--out", default=None, help="keep histories and the report here")
args = parser.parse_args()
on_lambda = args.backend == "lambda"
if not args.list_functions and (args.emulator is None or args.logs is None if on_lambda else args.cairn is None):
    sys.exit("give --cairn BIN, or --backend lambda with --emulator URL and --logs DIR")

sys.path.insert(0, args.package)
from aws_durable_execution_conformance_tests import app, cloudwatch, sam, validate  # noqa: E402
from aws_durable_execution_conformance_tests.config import TESTS_DIR  # noqa: E402

suites_dir = Path(args.suites)
suites = sorted(p.name for p in suites_dir.iterdir() if (p / "gaps.yaml").is_file())
if args.suite:
    unknown = set(args.suite) - set(suites)
    if unknown:
        sys.exit(f"no handlers for suite(s) {sorted(unknown)} in {suites_dir}")
    suites = args.suite

work = Path(args.out or tempfile.mkdtemp(prefix="cairn-conformance-"))
work.mkdir(parents=True, exist_ok=True)
db = work / "cairn.db"


def cairn(*argv):
    done = subprocess.run([args.cairn, "--db", str(db), *argv], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"cairn {' '.join(argv)} failed: {done.stderr}")
    return done.stdout


# Requirements, gaps and the template AWS's runner reads (SAM's form:
# TestingMetadata.TestDescription per function, NotImplemented with reasons).
resources = {}
expected_failures = {}
functions = []
for suite in suites:
    gaps = yaml.safe_load((suites_dir / suite / "gaps.yaml").read_text()) or {}
    not_implemented = dict(gaps.get("not_implemented") or {})
    failing = dict(gaps.get("failing") or {})
    if on_lambda:
        not_implemented.update(gaps.get("not_judged_on_lambda") or {})
        failing.update(gaps.get("failing_on_lambda") or {})
    ids = sorted(p.stem for p in (TESTS_DIR / suite).glob("*.yaml"))
    for gap in [*not_implemented, *failing]:
        if gap not in ids:
            sys.exit(f"{suite}/gaps.yaml names {gap}, which is not a requirement of {suite}")
    covered = [i for i in ids if i not in not_implemented]
    component = Path(args.components) / f"conformance_{suite}.wasm"
    if covered and not component.is_file():
        sys.exit(f"no component {component}: build tests/conformance/{suite} first")
    for i in covered:
        functions.append((f"{suite}-{i}", component))
        resources[f"{suite}-{i}"] = {
            "Type": "AWS::Serverless::Function",
            "TestingMetadata": {"TestDescription": [i]},
        }
    # Functions the handlers invoke (the invoke suite's callees).
    for extra in gaps.get("functions") or []:
        functions.append((extra, component))
    if not_implemented:
        resources[f"{suite}-not-implemented"] = {
            "Type": "AWS::Serverless::Function",
            "TestingMetadata": {
                "NotImplemented": [{"id": i, "reason": r} for i, r in not_implemented.items()]
            },
        }
    expected_failures.update(failing)

if args.list_functions:
    print(json.dumps([[name, str(component)] for name, component in functions]))
    sys.exit(0)

template = work / "template.yaml"
template.write_text(yaml.safe_dump({"Resources": resources}))


def serve_backend():
    """`cairn serve` on a store with every function deployed; its URL and
    a way to stop it."""
    for name, component in functions:
        cairn("deploy", name, str(component))
    # The server, on a port of its own; its log goes to a file.
    log = open(work / "serve.log", "w")
    server = subprocess.Popen(
        [args.cairn, "--db", str(db), "serve", "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    listening = threading.Event()
    found = []

    def read_log():
        for line in server.stderr:
            log.write(line)
            log.flush()
            if not found and " at http://" in line:
                found.append(line.split(" at ", 1)[1].split()[0])
                listening.set()
        listening.set()

    threading.Thread(target=read_log, daemon=True).start()
    if not listening.wait(60) or not found:
        server.kill()
        sys.exit(f"cairn serve never listened; see {work / 'serve.log'}")
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(db.with_suffix(".credentials"))
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        os.environ.pop(variable, None)

    def stop():
        server.kill()
        server.wait()

    return found[0], stop


def lambda_backend():
    """Lambda's front door before the emulator (the bootstraps run already)."""
    from lambda_front import Front

    front = Front(args.emulator, args.logs).start()
    for variable in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE"):
        os.environ.pop(variable, None)
    os.environ.update(AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x")
    return front.url, front.shutdown


url, stop_backend = lambda_backend() if on_lambda else serve_backend()
os.environ["AWS_ENDPOINT_URL"] = url


class Deployed:
    """SAM's build and deploy: done already, into the store."""

    def __init__(self, **_):
        pass

    def build(self):
        pass

    def deploy(self, **_):
        pass


app.Deployer = Deployed

# One requirement whose validation raises (an answer botocore cannot parse)
# fails alone, instead of ending the run.
validate_one = app._validate_test_description


def validate_guarded(function_name, description_id, **kwargs):
    try:
        return validate_one(function_name, description_id, **kwargs)
    except Exception as error:  # noqa: BLE001
        return validate.DescriptionResult(
            description_id=description_id,
            function_name=function_name,
            passed=False,
            errors=[f"the validator raised {error!r} at {traceback.format_exc(limit=-3)}"],
        )


def validate_racing(function_name, description_id, **kwargs):
    for attempt in range(1, RACE_ATTEMPTS + 1):
        result = validate_guarded(function_name, description_id, **kwargs)
        if attempt == RACE_ATTEMPTS or not lost_the_race(result):
            return result
        retried.append(description_id)


app._validate_test_description = validate_racing if on_lambda else validate_guarded


# What AWS's emulator never records in its histories (its executor renders
# an operation's details from the update that started it only for RETRY,
# FAIL and chained invokes, and records invocations without details): on
# the Lambda backend the expected histories leave these fields out, and
# the requirement is judged on everything else (cairn serve judges them
# all). Each entry: the event type, the path to the field, why.
EMULATOR_OMITS = [
    ("InvocationCompleted", ["InvocationCompletedDetails"],
     "records an invocation's end without its start, end and request id"),
    ("CallbackStarted", ["CallbackStartedDetails", "Timeout"],
     "renders a callback's start without the options it was created with"),
    ("CallbackStarted", ["CallbackStartedDetails", "HeartbeatTimeout"],
     "renders a callback's start without the options it was created with"),
    ("StepSucceeded", ["StepSucceededDetails", "RetryDetails"],
     "renders a step's success without the attempts before it"),
    ("ChainedInvokeStarted", ["ChainedInvokeStartedDetails", "ExecutedVersion"],
     "records a chained invoke without the version it ran"),
    ("ChainedInvokeStarted", ["ChainedInvokeStartedDetails", "TenantId"],
     "records a chained invoke without its tenant"),
]

# The emulator records an invocation's end when the function's answer
# reaches it, and a chained invoke's end when the callee's does: a callee
# that ends fast may be recorded before its caller's invocation ended (a
# race AWS's service does not have). A requirement that fails on that
# order alone is validated again, at most this many times in all.
RACE_ATTEMPTS = 3
retried = []


def lost_the_race(result):
    return not result.passed and any("'InvocationCompleted'" in error for error in result.errors)


def without_emulator_omissions(expected):
    expected = copy.deepcopy(expected)
    for index, event in enumerate(expected):
        kind = event.get("EventType")
        for event_type, path, _ in EMULATOR_OMITS:
            if kind != event_type:
                continue
            holder = event
            for key in path[:-1]:
                holder = holder.get(key) if isinstance(holder, dict) else None
            if isinstance(holder, dict):
                holder.pop(path[-1], None)
        # A poll that did not finish a wait_for_condition (a RETRY without
        # an error) is rendered without the state it carried.
        later_attempt = any(
            other.get("EventType") == "StepStarted" and other.get("Id") == event.get("Id")
            for other in expected[index + 1:]
        )
        if kind == "StepSucceeded" and event.get("SubType") == "WaitForCondition" and later_attempt:
            details = event.get("StepSucceededDetails")
            result = details.get("Result") if isinstance(details, dict) else None
            if isinstance(result, dict):
                result.pop("Payload", None)
    return expected


if on_lambda:
    from aws_durable_execution_conformance_tests import history as history_matching  # noqa: E402

    match_all = history_matching.EventHistoryMatcher.match

    def match_recorded(self, expected, actual, *rest, **kwargs):
        return match_all(self, without_emulator_omissions(expected), actual, *rest, **kwargs)

    history_matching.EventHistoryMatcher.match = match_recorded
# CloudFormation's lookups of a function's name: the name is the function's.
sam.Invoker._resolve_function = lambda self, logical_id: logical_id
cloudwatch.CloudWatchLogRetriever.get_log_group_name = (
    lambda self, stack_name, logical_id: self.log_group_for_function(logical_id)
)

report_base = work / "report"
try:
    app.run(
        [
            "--template", str(template),
            "--region", "us-east-1",
            "--name", "cairn",
            "--language", "rust",
            "--history-dir", str(work / "histories"),
            "--max-workers", str(args.max_workers),
            "--no-cleanup",
            "--report", "console", "json",
            "--report-file", str(report_base),
            "--suite", *suites,
        ]
    )
except SystemExit:
    pass  # judged below, against the known failures
finally:
    stop_backend()

report = json.loads(report_base.with_suffix(".json").read_text())
statuses = {entry["id"]: entry["status"] for entry in report["results"]}
failed = sorted(i for i, s in statuses.items() if s in ("FAILED", "OPTIONAL_FAILED"))
summary = {
    "counts": {s: list(statuses.values()).count(s) for s in sorted(set(statuses.values()))},
    "unexpected_failures": [i for i in failed if i not in expected_failures],
    "known_failures_now_passing": sorted(i for i in expected_failures if statuses.get(i) == "PASSED"),
    "uncovered": sorted(i for i, s in statuses.items() if s == "UNCOVERED"),
    "validated_again": sorted(retried),
    "statuses": statuses,
}
# A table per suite, for the backend judged.
by_suite = {}
for entry in report["results"]:
    row = by_suite.setdefault(entry["suite"], {})
    row[entry["status"]] = row.get(entry["status"], 0) + 1
columns = ["PASSED", "FAILED", "OPTIONAL_FAILED", "NOT_IMPLEMENTED", "UNCOVERED"]
print(f"\n{'suite (' + args.backend + ')':<24}" + "".join(f"{c:>17}" for c in columns))
for suite_name, row in sorted(by_suite.items()):
    print(f"{suite_name:<24}" + "".join(f"{row.get(c, 0):>17}" for c in columns))
summary["ok"] = not (
    summary["unexpected_failures"] or summary["known_failures_now_passing"] or summary["uncovered"]
)
print(json.dumps(summary))
sys.exit(0 if summary["ok"] else 1)
