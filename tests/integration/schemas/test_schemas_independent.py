"""Our schemas, policies and audit output, checked by an independent
validator: Debian's python3-jsonschema (Draft7Validator), not emhost's own.

- every schemas/*.json is a valid draft-07 schema, and every default and
  example in it is valid against the schema it belongs to;
- every deploy/policies/*.json validates against policy.schema.json, and
  the parameters of each Backup PSTs action in it against
  backup-psts.parameters.schema.json;
- emhost and jsonschema agree on which policies are valid;
- every audit line emhost writes (example plugin: every kind of outcome;
  the real plugin: a backup of a temporary profile) validates against
  audit-event.schema.json.
"""

import glob
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import emhost_support as s  # noqa: E402
from emhost_support import background, echo, node, policy, process_name, whoami  # noqa: E402

try:
    import jsonschema
    from jsonschema import Draft7Validator
except ImportError:  # a missing dependency is a failure, not a skip
    sys.stderr.write("python3-jsonschema is not installed (deploy/setup.sh installs it)\n")
    sys.exit(1)

SCHEMA_FILES = sorted(glob.glob(os.path.join(s.SCHEMA_DIR, "*.json")))
DEPLOY_POLICIES = sorted(glob.glob(os.path.join(s.SOURCE_DIR, "deploy", "policies", "*.json")))
BACKUP_ACTION = "pstsnap.BackupPsts"


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def validator(name):
    schema = load_json(os.path.join(s.SCHEMA_DIR, name))
    return Draft7Validator(schema)


def error_list(v, instance):
    """Readable errors: '/json/pointer: message' per error."""
    out = []
    for e in sorted(v.iter_errors(instance),
                    key=lambda e: [str(p) for p in e.absolute_path]):
        ptr = "".join("/" + str(p) for p in e.absolute_path) or "/"
        out.append("%s: %s" % (ptr, e.message))
    return out


def subschemas(schema, where=""):
    """Every (pointer, subschema) in a schema document."""
    if isinstance(schema, dict):
        yield where or "/", schema
        for key, value in schema.items():
            if key in ("properties", "definitions", "patternProperties"):
                for name, sub in value.items():
                    yield from subschemas(sub, "%s/%s/%s" % (where, key, name))
            elif key in ("items", "additionalProperties", "not", "if", "then", "else",
                         "contains", "propertyNames", "additionalItems"):
                if isinstance(value, list):
                    for i, sub in enumerate(value):
                        yield from subschemas(sub, "%s/%s/%d" % (where, key, i))
                else:
                    yield from subschemas(value, "%s/%s" % (where, key))
            elif key in ("allOf", "anyOf", "oneOf"):
                for i, sub in enumerate(value):
                    yield from subschemas(sub, "%s/%s/%d" % (where, key, i))


def actions_in(nodes, pointer):
    """(pointer, action) of every action under a node list, children included."""
    for i, n in enumerate(nodes or []):
        npath = "%s/%d" % (pointer, i)
        stack = [("%s/actions/%d" % (npath, k), a) for k, a in enumerate(n.get("actions", []))]
        while stack:
            apath, a = stack.pop(0)
            yield apath, a
            stack += [("%s/children/%d" % (apath, k), c)
                      for k, c in enumerate(a.get("children", []))]
        yield from actions_in(n.get("nodes"), npath + "/nodes")


class SchemaFiles(unittest.TestCase):
    def test_there_are_the_three_schemas(self):
        names = sorted(os.path.basename(p) for p in SCHEMA_FILES)
        for name in ("audit-event.schema.json", "backup-psts.parameters.schema.json",
                     "policy.schema.json"):
            self.assertIn(name, names)

    def test_every_schema_is_valid_draft_07(self):
        for path in SCHEMA_FILES:
            with self.subTest(schema=os.path.basename(path)):
                schema = load_json(path)
                self.assertEqual(schema.get("$schema"), "http://json-schema.org/draft-07/schema#")
                try:
                    Draft7Validator.check_schema(schema)
                except jsonschema.exceptions.SchemaError as e:
                    self.fail("%s is not a valid draft-07 schema: %s at %s" % (
                        path, e.message, "/".join(str(p) for p in e.absolute_path)))

    def test_defaults_and_examples_are_valid_against_their_own_schema(self):
        checked = 0
        for path in SCHEMA_FILES:
            schema = load_json(path)
            for where, sub in subschemas(schema):
                if "$ref" in sub:
                    continue
                samples = ([("default", sub["default"])] if "default" in sub else []) + \
                          [("examples/%d" % i, x) for i, x in enumerate(sub.get("examples", []))]
                v = Draft7Validator(dict(sub, definitions=schema.get("definitions", {})))
                for label, value in samples:
                    checked += 1
                    with self.subTest(schema=os.path.basename(path), at=where, sample=label):
                        self.assertEqual(error_list(v, value), [],
                                         "%s %s %r" % (where, label, value))
        self.assertGreater(checked, 10, "expected defaults and examples to check")


class ShippedPolicies(unittest.TestCase):
    def test_there_are_policies(self):
        self.assertTrue(DEPLOY_POLICIES)

    def test_every_policy_validates(self):
        v = validator("policy.schema.json")
        for path in DEPLOY_POLICIES:
            with self.subTest(policy=os.path.basename(path)):
                self.assertEqual(error_list(v, load_json(path)), [])

    def test_every_backup_action_has_valid_parameters(self):
        v = validator("backup-psts.parameters.schema.json")
        found = 0
        for path in DEPLOY_POLICIES:
            pol = load_json(path)
            for trigger, nodes in pol.get("triggers", {}).items():
                for ptr, action in actions_in(nodes, "/triggers/" + trigger):
                    if action.get("action") != BACKUP_ACTION:
                        continue
                    found += 1
                    with self.subTest(policy=os.path.basename(path), action=ptr):
                        self.assertEqual(error_list(v, action.get("parameters", {})), [])
        self.assertGreaterEqual(found, 1, "no %s action in deploy/policies" % BACKUP_ACTION)

    def test_the_validators_are_live(self):
        # A negative control: broken copies are refused, so a green result
        # above means something.
        v = validator("policy.schema.json")
        pol = load_json(os.path.join(s.SOURCE_DIR, "deploy", "policies", "backup-psts.json"))
        pol["triggers"]["logon"] = []
        self.assertEqual(error_list(v, pol),
                         ["/triggers: Additional properties are not allowed ('logon' was "
                          "unexpected)"])
        p = validator("backup-psts.parameters.schema.json")
        self.assertEqual(error_list(p, {"destination": "x", "snapshot": "zfs"}),
                         ["/snapshot: 'zfs' is not one of ['auto', 'vss', 'btrfs', 'reflink', "
                          "'none']"])
        self.assertEqual(error_list(p, {}), ["/: 'destination' is a required property"])


class HostAgreesWithJsonschema(s.EmhostTestCase):
    """emhost's own validator and jsonschema give the same verdict."""

    CASES = {
        "valid": policy([node("n", [echo("x")], conditions=[process_name("Equal", "A.EXE"),
                                                           {"type": "counter", "max": 2}])]),
        "unknown trigger": dict(policy([node("n")]), triggers={"logon": []}),
        "unknown key": dict(policy([node("n")]), extra=1),
        "condition type typo": policy([node("n", conditions=[{"type": "processname",
                                                              "operator": "Equal",
                                                              "value": "A"}])]),
        "counter with operator": policy([node("n", conditions=[{"type": "counter", "max": 1,
                                                                "operator": "Equal"}])]),
        "timeout too long": policy([node("n", [echo("x", timeoutMs=60001)])]),
        "version 2": dict(policy([node("n")]), version=2),
        "empty triggers": policy(),
    }

    def test_same_verdict(self):
        v = validator("policy.schema.json")
        for name, pol in self.CASES.items():
            with self.subTest(case=name):
                path = self.write_policy(pol, name.replace(" ", "-") + ".json")
                r = self.run_emhost(["validate", path])
                errors = error_list(v, pol)
                self.assertEqual(r.returncode == s.EXIT_OK, errors == [],
                                 "emhost exit %d, jsonschema: %s\n%r" % (r.returncode, errors, r))


class AuditOutput(s.EmhostTestCase):
    """Every line emhost writes to the audit file (or stderr) is a valid event."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.audit_validator = validator("audit-event.schema.json")

    def assertValidEvents(self, events, at_least_ids=()):
        self.assertTrue(events, "no audit events")
        for i, e in enumerate(events):
            self.assertEqual(error_list(self.audit_validator, e), [],
                             "audit line %d: %s" % (i + 1, json.dumps(e)))
        ids = {e["eventId"] for e in events}
        for wanted in at_least_ids:
            self.assertIn(wanted, ids, "expected event %d among %s" % (wanted, sorted(ids)))

    def test_example_plugin_every_kind_of_outcome(self):
        pol = policy(
            started=[
                node("mixed", [
                    echo("$(Who) ok", "ok"),
                    echo("fails", "fails", fail=True),
                    echo("$(Unset)", "bad variable"),
                    whoami("who", runAs="System"),
                    background("bg-ok", work_ms=30, description="bg ok"),
                    background("bg-fail", work_ms=30, fail=True, description="bg fail"),
                ]),
                node("late", [echo("slow", "slow", sleep_ms=400,
                                   children=[echo("never", "never")])], timeoutMs=100),
                node("stopper", [echo("x", "x", fail=True)], stopSubNodesOnFail=True,
                     nodes=[node("skipped", [echo("y", "y")])]),
                node("cancelled", [background("long", work_ms=5000, description="long")]),
            ],
            stopped=[node("on stop", [echo("stopped", "stop ok"), echo("s", "stop fails",
                                                                       fail=True)])])
        r = self.fire(pol, start="OUTLOOK.EXE", extra=["--var", "Who=alice",
                                                       "--logoff-after", "600",
                                                       "--shutdown-deadline", "3000"])
        self.assertExit(r, s.EXIT_FAILED)
        r2 = self.fire(pol, stop="OUTLOOK.EXE")
        self.assertExit(r2, s.EXIT_FAILED)
        events = self.audit_events()
        self.assertValidEvents(events, at_least_ids=(
            s.PROCESS_START_OK, s.PROCESS_START_FAILED, s.PROCESS_STOP_OK, s.PROCESS_STOP_FAILED,
            0, 9700, 9701, 9702, 9703, 9704))
        names = {e["name"] for e in events}
        for wanted in ("action.finishedLate", "node.childrenSkipped", "host.shutdown",
                       "action.background.succeeded", "action.background.failed"):
            self.assertIn(wanted, names)
        self.assertEqual({e.get("result") for e in events} - {None},
                         {"success", "failure", "started", "timeout"})

    def test_audit_lines_on_stderr_are_valid_events_too(self):
        path = self.write_policy(policy([node("n", [echo("to stderr", "e"), whoami("w")])]))
        r = self.run_emhost(["fire", path, "--process-start", "OUTLOOK.EXE",
                             "--state-dir", self.state_dir])
        self.assertExit(r, s.EXIT_OK)
        events = s.parse_audit_lines(r.stderr, "stderr")
        self.assertValidEvents(events, at_least_ids=(s.PROCESS_START_OK, 9700, 9704))

    def test_real_plugin_backup_of_a_temporary_profile(self):
        if not os.path.exists(s.PSTSNAP_PLUGIN):
            self.fail("%s does not exist: build first" % s.PSTSNAP_PLUGIN)
        profile = os.path.join(self.dir, "profile")
        outlook = os.path.join(profile, ".local", "share", "Microsoft", "Outlook")
        documents = os.path.join(profile, "Documents", "Outlook Files")
        fd = os.path.join(self.dir, "FileDirector")
        for d in (outlook, documents, fd):
            os.makedirs(d)
        with open(os.path.join(outlook, "Mail.pst"), "wb") as f:
            f.write(os.urandom(200 * 1024))
        with open(os.path.join(outlook, "cache.ost"), "wb") as f:
            f.write(os.urandom(4096))
        with open(os.path.join(documents, "Archive 2024.pst"), "wb") as f:
            f.write(os.urandom(100 * 1024))
        backup = {"action": BACKUP_ACTION, "description": "Backup PSTs", "runAs": "System",
                  "parameters": {"destination": "$(DataNowHome)/Outlook Backup",
                                 "minInterval": "0", "snapshot": "none", "verify": "full"}}
        broken = {"action": BACKUP_ACTION, "description": "Broken destination",
                  "parameters": {"destination": "$(NotSet)/Outlook Backup"}}
        pol = policy([node("Outlook started", [backup],
                           conditions=[process_name("Equal", "OUTLOOK.EXE")]),
                      node("broken", [broken])],
                     plugins=[s.PSTSNAP_PLUGIN])
        env = s.clean_env({"HOME": profile}, drop=["USERPROFILE", "LOCALAPPDATA"])
        extra = ["--var", "DataNowHome=" + fd]
        first = self.fire(pol, start="outlook.exe", extra=extra, env=env)
        # The broken action fails (its background work or itself); the backup works.
        self.assertExit(first, s.EXIT_FAILED)
        copied = os.path.join(fd, "Outlook Backup", "Outlook", "Mail.pst")
        self.assertTrue(os.path.exists(copied), first)
        second = self.fire(pol, start="OUTLOOK.EXE", extra=extra, env=env)  # nothing changed
        self.assertExit(second, s.EXIT_FAILED)
        events = self.audit_events()
        self.assertValidEvents(events, at_least_ids=(s.PROCESS_START_OK, 9800, 9801))
        plugin_events = [e for e in events if e["source"] == "pstsnap"]
        self.assertTrue(plugin_events)
        self.assertTrue(any(e["level"] == "error" for e in plugin_events),
                        "the broken destination should have audited an error")


class DescribedSchemas(s.EmhostTestCase):
    def test_every_described_parameter_schema_is_valid_draft_07(self):
        for plugin in (s.EXAMPLE_PLUGIN, s.PSTSNAP_PLUGIN):
            r = self.run_emhost(["describe", plugin])
            self.assertExit(r, s.EXIT_OK)
            for a in json.loads(r.stdout)["actions"]:
                with self.subTest(action=a["id"]):
                    Draft7Validator.check_schema(a["parameterSchema"])


if __name__ == "__main__":
    s.main()
