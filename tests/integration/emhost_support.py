"""Shared helpers for the emhost integration tests.

The tests drive emhost exactly as an admin's policy would: a policy is a
Python dict written to a temporary JSON file, emhost runs it, and the audit
JSON lines file is what the tests read back. Every test gets its own folder
(policy, --state-dir, --audit file) under PSTSNAP_TEST_TMP.

Environment (set by tests/integration/CMakeLists.txt): EMHOST,
PSTSNAP_EXAMPLE_PLUGIN_DIR, PSTSNAP_SOURCE_DIR, PSTSNAP_TEST_TMP; when run by
hand from a source tree with a build/ folder, those default to it.

A Windows build (emhost.exe) runs under Wine: PSTSNAP_EMULATOR names the
program that goes before it (the build's CMAKE_CROSSCOMPILING_EMULATOR),
and plugins end in PSTSNAP_PLUGIN_SUFFIX (".dll"). Paths stay the Linux
ones: Wine reads "/work/x" as "\\work\\x" on the current drive, Z:, which
is the root of the Linux file system.
"""

import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("PSTSNAP_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
_BUILD = os.environ.get("PSTSNAP_BINARY_DIR") or os.path.join(SOURCE_DIR, "build")
EMHOST = os.environ.get("EMHOST") or os.path.join(_BUILD, "sdk-shim", "emhost")
WINDOWS = EMHOST.lower().endswith(".exe")
EMULATOR = os.environ.get("PSTSNAP_EMULATOR") or ("wine" if WINDOWS else "")
EMHOST_COMMAND = ([EMULATOR] if EMULATOR else []) + [EMHOST]
PLUGIN_SUFFIX = os.environ.get("PSTSNAP_PLUGIN_SUFFIX") or (".dll" if WINDOWS else ".so")
EXAMPLE_DIR = os.environ.get("PSTSNAP_EXAMPLE_PLUGIN_DIR") or os.path.join(
    _BUILD, "tests", "example-plugin")
PSTSNAP_PLUGIN = os.environ.get("PSTSNAP_PLUGIN") or os.path.join(_BUILD, "plugin", "pstsnap" + PLUGIN_SUFFIX)
TEST_TMP = os.environ.get("PSTSNAP_TEST_TMP") or os.path.join(_BUILD, "tests", "tmp")
SCHEMA_DIR = os.path.join(SOURCE_DIR, "schemas")

EXAMPLE_PLUGIN = os.path.join(EXAMPLE_DIR, "example_plugin" + PLUGIN_SUFFIX)
TOO_NEW_PLUGIN = os.path.join(EXAMPLE_DIR, "example_plugin_too_new" + PLUGIN_SUFFIX)
NEEDS_NEWER_HOST_PLUGIN = os.path.join(EXAMPLE_DIR, "example_plugin_needs_newer_host" + PLUGIN_SUFFIX)
NOT_A_PLUGIN = os.path.join(EXAMPLE_DIR, "not_a_plugin" + PLUGIN_SUFFIX)

# Environment Manager's audit event ids (em-reference A3).
PROCESS_START_OK, PROCESS_START_FAILED = 9428, 9429
PROCESS_STOP_OK, PROCESS_STOP_FAILED = 9430, 9431
ACTION_EVENT_IDS = (PROCESS_START_OK, PROCESS_START_FAILED, PROCESS_STOP_OK, PROCESS_STOP_FAILED)

# emhost's exit codes (sdk-shim/emhost/main.c).
EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2

# What a sanitizer or a crash leaves on stderr.
CRASH_MARKERS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                 "ThreadSanitizer", "runtime error:", "Segmentation fault", "core dumped")


# --------------------------------------------------------------------------
# Policy building
# --------------------------------------------------------------------------
def node(name, actions=(), **extra):
    """A policy node; extra keys (conditions, timeoutMs, nodes, ...) as is."""
    n = {"name": name, "actions": list(actions)}
    n.update(extra)
    return n


def echo(message, description=None, sleep_ms=None, fail=None, **extra):
    """An example.Echo action: audits the expanded message (event 9700)."""
    params = {"message": message}
    if sleep_ms is not None:
        params["sleepMs"] = sleep_ms
    if fail is not None:
        params["fail"] = fail
    a = {"action": "example.Echo", "parameters": params}
    if description is not None:
        a["description"] = description
    a.update(extra)
    return a


def background(name, work_ms=100, fail=None, ignore_cancel=None, description=None, **extra):
    """An example.Background action: its worker writes <state>/example.Background/<name>.result."""
    params = {"name": name, "workMs": work_ms}
    if fail is not None:
        params["fail"] = fail
    if ignore_cancel is not None:
        params["ignoreCancel"] = ignore_cancel
    a = {"action": "example.Background", "parameters": params}
    if description is not None:
        a["description"] = description
    a.update(extra)
    return a


def whoami(description=None, **extra):
    """An example.WhoAmI action: audits the identity it runs for (event 9704)."""
    a = {"action": "example.WhoAmI", "parameters": {}}
    if description is not None:
        a["description"] = description
    a.update(extra)
    return a


def process_name(operator, value):
    return {"type": "processName", "operator": operator, "value": value}


def counter(max_runs):
    return {"type": "counter", "max": max_runs}


def policy(started=None, stopped=None, plugins=None, **extra):
    """A policy that loads the example plugin, with the given node lists."""
    triggers = {}
    if started is not None:
        triggers["processStarted"] = list(started)
    if stopped is not None:
        triggers["processStopped"] = list(stopped)
    p = {"version": 1, "plugins": [EXAMPLE_PLUGIN] if plugins is None else list(plugins),
         "triggers": triggers}
    p.update(extra)
    return p


# --------------------------------------------------------------------------
# Audit output
# --------------------------------------------------------------------------
def parse_time(text):
    """Audit 'time' (2024-01-02T03:04:05.678Z) as seconds since the epoch."""
    dt = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
    return dt.replace(tzinfo=datetime.timezone.utc).timestamp()


def parse_audit_lines(text, source="audit"):
    """Parse JSON lines; every non-empty line must be one JSON object."""
    events = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError as e:
            raise AssertionError("%s line %d is not JSON (%s): %r" % (source, number, e, line))
        if not isinstance(event, dict):
            raise AssertionError("%s line %d is not a JSON object: %r" % (source, number, line))
        events.append(event)
    return events


def read_audit(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return parse_audit_lines(f.read(), path)


def action_events(events, action=None):
    """The host's per-action result events (9428-9431), optionally of one action description."""
    return [e for e in events if e.get("eventId") in ACTION_EVENT_IDS and e.get("source") == "emhost"
            and (action is None or e.get("action") == action)]


def named(events, name, action=None):
    return [e for e in events if e.get("name") == name and (action is None or e.get("action") == action)]


def echo_messages(events):
    """Messages of example.Echo's own events (9700), in audit order."""
    return [e["message"] for e in events if e.get("eventId") == 9700]


def action_span(event):
    """(start, end) in epoch seconds of a 9428-9431 event: it is written when the
    action ends and carries how long it took."""
    end = parse_time(event["time"])
    return end - event["durationMs"] / 1000.0, end


# --------------------------------------------------------------------------
# Running emhost
# --------------------------------------------------------------------------
class Result(object):
    def __init__(self, args, returncode, stdout, stderr, elapsed, events):
        self.args, self.returncode, self.stdout, self.stderr = args, returncode, stdout, stderr
        self.elapsed, self.events = elapsed, events

    def __repr__(self):
        return "emhost %s -> %s after %.2fs\n--- stdout\n%s--- stderr\n%s" % (
            " ".join(self.args), self.returncode, self.elapsed, self.stdout, self.stderr)


def clean_env(extra=None, drop=()):
    """The environment emhost runs in: ours, minus variables a test wants unset."""
    env = dict(os.environ)
    for name in drop:
        for key in [k for k in env if k.upper() == name.upper()]:
            del env[key]
    if extra:
        env.update(extra)
    return env


class EmhostTestCase(unittest.TestCase):
    """Each test gets a private folder with its own state dir and audit file."""

    maxDiff = None

    @classmethod
    def setUpClass(cls):
        for path in (EMHOST, EXAMPLE_PLUGIN):
            if not os.path.exists(path):
                # A missing build is a failure, never a skip.
                raise AssertionError("%s does not exist: build first (cmake --build build)" % path)
        os.makedirs(TEST_TMP, exist_ok=True)

    def setUp(self):
        short = self.id().split(".")[-1][:40]
        self.dir = tempfile.mkdtemp(prefix="emhost-%s-" % short, dir=TEST_TMP)
        self.state_dir = os.path.join(self.dir, "state")
        self.audit_path = os.path.join(self.dir, "audit.jsonl")
        self._procs = []

    def tearDown(self):
        for p in self._procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- files --------------------------------------------------------------
    def write_policy(self, pol, name="policy.json"):
        path = os.path.join(self.dir, name)
        with open(path, "w", encoding="utf-8") as f:
            if isinstance(pol, str):
                f.write(pol)
            else:
                json.dump(pol, f, indent=2)
        return path

    def result_file(self, name, state_dir=None):
        return os.path.join(state_dir or self.state_dir, "example.Background", name + ".result")

    def read_result_file(self, name, state_dir=None):
        path = self.result_file(name, state_dir)
        if not os.path.exists(path):
            return None
        with open(path, encoding="utf-8") as f:
            return f.read()

    def audit_events(self):
        return read_audit(self.audit_path)

    # -- running -------------------------------------------------------------
    def run_emhost(self, args, env=None, timeout=30, check_crash=True):
        """Run emhost to completion; returns a Result with the audit events."""
        args = [str(a) for a in args]
        start = time.monotonic()
        try:
            p = subprocess.run(EMHOST_COMMAND + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=env if env is not None else clean_env(), timeout=timeout,
                               universal_newlines=True)
        except subprocess.TimeoutExpired as e:
            self.fail("emhost %s did not exit within %s s; stderr so far:\n%s" % (
                " ".join(args), timeout, e.stderr))
        r = Result(args, p.returncode, p.stdout, p.stderr, time.monotonic() - start,
                   self.audit_events())
        if check_crash:
            self.assertNoCrash(r)
        return r

    def fire(self, pol, start=None, stop=None, extra=(), env=None, timeout=30, state_dir=None,
             audit=None):
        """Write `pol` and run `emhost fire` with a fresh state dir and audit file."""
        path = pol if isinstance(pol, str) and os.path.exists(pol) else self.write_policy(pol)
        args = ["fire", path]
        if start is not None:
            args += ["--process-start", start]
        if stop is not None:
            args += ["--process-stop", stop]
        args += ["--state-dir", state_dir or self.state_dir, "--audit", audit or self.audit_path]
        args += list(extra)
        return self.run_emhost(args, env=env, timeout=timeout)

    def start_emhost(self, args, env=None):
        """Start emhost in the background (for signals and watch)."""
        p = subprocess.Popen(EMHOST_COMMAND + [str(a) for a in args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env if env is not None else clean_env(),
                             universal_newlines=True)
        self._procs.append(p)
        return p

    def send_stop_request(self, proc):
        """Ask a background emhost to stop as the OS would: SIGTERM on POSIX.
        Under Wine, SIGINT: Wine delivers it to the Windows program as the
        console's Ctrl+C event (CTRL_C_EVENT), while SIGTERM ends it at once,
        as TerminateProcess would."""
        proc.send_signal(signal.SIGINT if WINDOWS else signal.SIGTERM)

    def finish(self, proc, timeout):
        """Wait for a background emhost; returns (returncode, stdout, stderr)."""
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            self.fail("emhost did not exit within %s s; stderr:\n%s" % (timeout, err))
        for marker in CRASH_MARKERS:
            self.assertNotIn(marker, err)
        self.assertGreaterEqual(proc.returncode, 0,
                                "emhost died of signal %d; stderr:\n%s" % (-proc.returncode, err))
        return proc.returncode, out, err

    def wait_for_event(self, predicate, timeout=10.0, what="an audit event"):
        """Poll the audit file until an event satisfies predicate; returns it."""
        end = time.monotonic() + timeout
        while True:
            for e in self.audit_events():
                if predicate(e):
                    return e
            if time.monotonic() > end:
                self.fail("no %s within %.1f s; audit so far:\n%s" % (
                    what, timeout, "\n".join(json.dumps(e) for e in self.audit_events())))
            time.sleep(0.05)

    # -- assertions ----------------------------------------------------------
    def assertNoCrash(self, r):
        self.assertGreaterEqual(r.returncode, 0,
                                "emhost died of signal %d\n%r" % (-r.returncode, r))
        for marker in CRASH_MARKERS:
            self.assertNotIn(marker, r.stderr, repr(r))
        self.assertIn(r.returncode, (EXIT_OK, EXIT_FAILED, EXIT_INVALID), repr(r))

    def assertExit(self, r, code):
        self.assertEqual(r.returncode, code, repr(r))

    def assertOneProblem(self, r, *fragments):
        """Exit 2 and exactly one diagnostic line on stderr holding every fragment
        (the file, the pointer or field, the reason), besides emhost's summary."""
        self.assertExit(r, EXIT_INVALID)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        problems = [l for l in lines if not l.startswith("emhost: policy ")]
        self.assertEqual(len(problems), 1, "expected one diagnostic line\n%r" % r)
        for fragment in fragments:
            self.assertIn(fragment, problems[0], repr(r))
        return problems[0]

    def assertProblem(self, r, path, expected):
        """Exit 2, the one diagnostic is exactly `expected`, and emhost's
        summary names `path` and counts one problem."""
        line = self.assertOneProblem(r)
        self.assertEqual(line, expected, repr(r))
        self.assertIn("emhost: policy '%s' is invalid (1 problem)" % path, r.stderr, repr(r))
        return line

    def assertActionResult(self, events, action, result, event_id=None):
        """The single 9428-9431 event of `action` has `result`; returns it."""
        found = action_events(events, action)
        self.assertEqual(len(found), 1, "one result event for %r expected:\n%s" % (
            action, "\n".join(json.dumps(e) for e in events)))
        self.assertEqual(found[0].get("result"), result, json.dumps(found[0]))
        if event_id is not None:
            self.assertEqual(found[0]["eventId"], event_id, json.dumps(found[0]))
        return found[0]

    def assertNotRun(self, events, action):
        self.assertEqual([e for e in events if e.get("action") == action], [],
                         "%r should not have run" % action)


def main():
    """Run the calling module's tests; exit 0 on success, 1 on failure."""
    unittest.main(module="__main__", verbosity=2)
