"""Bad input to emhost: one clear message, a non-zero exit, no crash.

Every policy problem is one stderr line "FILE: POINTER: why" (or
"FILE:LINE:COLUMN: invalid JSON: why"), followed by emhost's summary
"emhost: policy 'FILE' is invalid (N problems)", and exit 2 (issue 2,
"Done when"). fire runs nothing for an invalid policy. The tests check the
exact text of the diagnostic where it is ours, and the important parts
where the C library or the dynamic loader words it.
"""

import errno
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import emhost_support as s  # noqa: E402
from emhost_support import echo, node, policy, process_name  # noqa: E402

ACTION0 = "/triggers/processStarted/0/actions/0"


def one_echo(**action_extra):
    """A valid policy with one Echo action; tests break one part of it."""
    return policy([node("n", [echo("hello", **action_extra)])])


class UnreadablePolicy(s.EmhostTestCase):
    """The file itself cannot be read. Tests run as root, for whom a mode of
    000 is no obstacle, so these use failures root cannot get around."""

    def test_missing_file(self):
        path = os.path.join(self.dir, "missing.json")
        r = self.run_emhost(["validate", path])
        self.assertProblem(r, path, "%s: cannot open '%s': %s" % (
            path, path, os.strerror(errno.ENOENT)))

    def test_file_under_a_folder_that_does_not_exist(self):
        path = os.path.join(self.dir, "no-such-folder", "policy.json")
        r = self.run_emhost(["validate", path])
        self.assertProblem(r, path, "%s: cannot open '%s': %s" % (
            path, path, os.strerror(errno.ENOENT)))

    def test_path_through_a_regular_file(self):
        path = os.path.join(self.write_policy(one_echo()), "policy.json")
        r = self.run_emhost(["validate", path])
        self.assertProblem(r, path, "%s: cannot open '%s': %s" % (
            path, path, os.strerror(errno.ENOTDIR)))

    def test_a_folder_is_not_a_policy(self):
        r = self.run_emhost(["validate", self.dir])
        self.assertProblem(r, self.dir, "%s: cannot read '%s': not a regular file" % (
            self.dir, self.dir))

    def test_a_fifo_is_refused_without_waiting_for_a_writer(self):
        # Opening a FIFO for reading blocks until someone writes: emhost must
        # refuse it at once instead of hanging (run_emhost fails on timeout).
        path = os.path.join(self.dir, "policy.fifo")
        os.mkfifo(path)
        r = self.run_emhost(["validate", path], timeout=10)
        self.assertProblem(r, path, "%s: cannot read '%s': not a regular file" % (path, path))

    @unittest.skipUnless(os.path.exists("/proc/self/mem"), "needs Linux /proc")
    def test_read_error_after_a_successful_open(self):
        # /proc/self/mem opens as a regular file, but reading offset 0 fails
        # with EIO: the error of read() itself, with the file's name.
        path = "/proc/self/mem"
        r = self.run_emhost(["validate", path])
        self.assertProblem(r, path, "%s: cannot read '%s': %s" % (
            path, path, os.strerror(errno.EIO)))

    def test_file_without_read_permission(self):
        if os.geteuid() == 0:
            self.skipTest("root reads a file of mode 000; covered by the other cases")
        path = self.write_policy(one_echo())
        os.chmod(path, 0)
        r = self.run_emhost(["validate", path])
        self.assertProblem(r, path, "%s: cannot open '%s': %s" % (
            path, path, os.strerror(errno.EACCES)))

    def test_fire_with_an_unreadable_policy_runs_nothing(self):
        path = os.path.join(self.dir, "missing.json")
        r = self.run_emhost(["fire", path, "--process-start", "OUTLOOK.EXE", "--state-dir",
                             self.state_dir, "--audit", self.audit_path])
        self.assertOneProblem(r, path, "cannot open")
        self.assertEqual(r.stdout, "")
        self.assertEqual(r.events, [])


class MalformedJson(s.EmhostTestCase):
    """jansson's line and column: the column is where the bad token ends."""

    def check(self, text, expected_suffix):
        path = self.write_policy(text)
        r = self.run_emhost(["validate", path])
        return self.assertProblem(r, path, path + expected_suffix)

    def test_stray_comma_names_line_and_column(self):
        self.check('{\n  "version": 1,\n  "triggers": {,}\n}\n',
                   ":3:16: invalid JSON: string or '}' expected near ','")

    def test_trailing_comma(self):
        self.check('{\n  "version": 1,\n  "triggers": {"processStarted": [],}\n}\n',
                   ":3:37: invalid JSON: string or '}' expected near '}'")

    def test_truncated_file(self):
        self.check('{\n  "version": 1,\n  "triggers": {"processStarted": [',
                   ":3:34: invalid JSON: ']' expected near end of file")

    def test_empty_file(self):
        self.check("", ":1:0: invalid JSON: '[' or '{' expected near end of file")

    def test_text_after_the_document(self):
        self.check('{"version": 1, "triggers": {}} trailing',
                   ":1:39: invalid JSON: end of file expected near 'trailing'")

    def test_duplicate_key_is_refused_not_silently_overwritten(self):
        self.check('{"version": 1,\n "triggers": {"processStarted": []},\n "version": 2}',
                   ":3:10: invalid JSON: duplicate object key near '\"version\"'")

    def test_invalid_utf8(self):
        path = os.path.join(self.dir, "policy.json")
        with open(path, "wb") as f:
            f.write(b'{\n  "name": "caf\xc3",\n  "version": 1}\n')
        r = self.run_emhost(["validate", path])
        self.assertProblem(r, path, path + ":2:14: invalid JSON: unable to decode byte 0xc3 "
                           "near '\"caf'")

    def test_fire_with_malformed_json_runs_nothing(self):
        path = self.write_policy('{"version": 1, "triggers": ')
        r = self.fire(path, start="OUTLOOK.EXE")
        self.assertOneProblem(r, path + ":1:", "invalid JSON")
        self.assertEqual(r.events, [])


class PolicyStructure(s.EmhostTestCase):
    """Violations of schemas/policy.schema.json, named by JSON pointer."""

    def check(self, pol, expected):
        path = self.write_policy(pol)
        r = self.run_emhost(["validate", path])
        return self.assertProblem(r, path, "%s: %s" % (path, expected))

    def test_unknown_trigger(self):
        pol = one_echo()
        pol["triggers"]["userLogon"] = []
        self.check(pol, "/triggers/userLogon: unknown property (additionalProperties is false)")

    def test_no_trigger_at_all(self):
        self.check(policy(), "/triggers: must have at least 1 property")

    def test_unknown_top_level_key(self):
        pol = one_echo()
        pol["pluggins"] = []
        self.check(pol, "/pluggins: unknown property (additionalProperties is false)")

    def test_unknown_action_key(self):
        self.check(one_echo(runas="System"),
                   ACTION0 + "/runas: unknown property (additionalProperties is false)")

    def test_unknown_node_key(self):
        self.check(policy([node("n", [echo("x")], timeout=5)]),
                   "/triggers/processStarted/0/timeout: unknown property "
                   "(additionalProperties is false)")

    def test_unsupported_policy_version(self):
        pol = one_echo()
        pol["version"] = 2
        self.check(pol, "/version: must equal 1")

    def test_top_level_must_be_an_object(self):
        self.check([one_echo()], "/: expected object, got array")

    def test_wrong_type_in_the_policy(self):
        self.check(policy([node("n", [echo("x")], timeoutMs="30s")]),
                   "/triggers/processStarted/0/timeoutMs: expected integer, got string")

    def test_run_as_must_be_a_known_context(self):
        self.check(one_echo(runAs="Administrator"),
                   ACTION0 + '/runAs: must be one of: "CurrentUser", "System"')

    def test_action_timeout_is_capped_at_60_s(self):
        self.check(one_echo(timeoutMs=60001), ACTION0 + "/timeoutMs: must be <= 60000")

    def test_node_without_a_name(self):
        self.check(policy([{"actions": [echo("x")]}]),
                   "/triggers/processStarted/0/name: required")

    def test_unknown_condition_type_is_one_problem(self):
        # A typo in the type names the type, not every field the other
        # condition kinds would have needed.
        self.check(policy([node("n", [echo("x")],
                                conditions=[{"type": "processname", "operator": "Equal",
                                             "value": "OUTLOOK.EXE"}])]),
                   '/triggers/processStarted/0/conditions/0/type: must be one of: '
                   '"processName", "counter"')

    def test_unknown_condition_operator(self):
        self.check(policy([node("n", [echo("x")],
                                conditions=[process_name("Contains", "OUTLOOK")])]),
                   '/triggers/processStarted/0/conditions/0/operator: must be one of: '
                   '"Equal", "NotEqual", "RegEx"')

    def test_counter_needs_a_positive_max(self):
        self.check(policy([node("n", [echo("x")], conditions=[{"type": "counter", "max": 0}])]),
                   "/triggers/processStarted/0/conditions/0/max: must be >= 1")

    def test_bad_regex_in_a_condition(self):
        self.check(policy([node("n", [echo("x")],
                                conditions=[process_name("RegEx", "^(OUTLOOK\\.EXE")])]),
                   "/triggers/processStarted/0/conditions/0/value: invalid regular expression: "
                   "unmatched '(' at offset 1 in '^(OUTLOOK\\.EXE'")

    def test_bad_regex_in_a_nested_node(self):
        inner = node("inner", [echo("x")], conditions=[process_name("RegEx", "[abc")])
        pol = policy([node("outer", [echo("y")], nodes=[inner])])
        path = self.write_policy(pol)
        r = self.run_emhost(["validate", path])
        self.assertOneProblem(r, path + ": /triggers/processStarted/0/nodes/0/conditions/0/value: "
                              "invalid regular expression: ")

    def test_every_problem_is_reported_and_counted(self):
        pol = one_echo(runAs="Admin")
        pol["triggers"]["processStopped"] = [node("s", [echo("x")], timeoutMs=-1)]
        path = self.write_policy(pol)
        r = self.run_emhost(["validate", path])
        self.assertExit(r, s.EXIT_INVALID)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        self.assertEqual(lines, [
            '%s: %s/runAs: must be one of: "CurrentUser", "System"' % (path, ACTION0),
            "%s: /triggers/processStopped/0/timeoutMs: must be >= 0" % path,
            "emhost: policy '%s' is invalid (2 problems)" % path,
        ])

    def test_fire_with_a_schema_violation_runs_nothing(self):
        pol = one_echo()
        pol["triggers"]["logon"] = []
        r = self.fire(pol, start="OUTLOOK.EXE")
        self.assertOneProblem(r, "/triggers/logon")
        self.assertEqual(r.events, [])
        self.assertEqual(r.stdout, "")


class Plugins(s.EmhostTestCase):
    def check(self, plugins, expected, pol=None):
        path = self.write_policy(pol or policy([node("n", [echo("x")])], plugins=plugins))
        r = self.run_emhost(["validate", path])
        line = self.assertOneProblem(r)
        self.assertTrue(line.startswith("%s: %s" % (path, expected)), repr(r))
        return r, line

    def test_missing_plugin_file(self):
        missing = os.path.join(self.dir, "no_such_plugin.so")
        _, line = self.check([missing], "/plugins/0: cannot load plugin '%s': " % missing)
        self.assertIn("No such file or directory", line)

    def test_missing_plugin_is_named_by_the_path_tried(self):
        # A bare name resolves against the policy's folder and gains ".so".
        tried = os.path.join(self.dir, "pstsnap_nowhere.so")
        self.check(["pstsnap_nowhere"], "/plugins/0: cannot load plugin '%s': " % tried)

    def test_a_file_that_is_not_a_shared_library(self):
        fake = os.path.join(self.dir, "fake.so")
        with open(fake, "w") as f:
            f.write("not an ELF file\n")
        self.check([fake], "/plugins/0: cannot load plugin '%s': " % fake)

    def test_plugin_without_the_entry_point(self):
        r, line = self.check([s.NOT_A_PLUGIN], "/plugins/0: '%s' is not an emhost plugin: "
                             "it does not export em_module_init" % s.NOT_A_PLUGIN)
        self.assertTrue(line.endswith("em_module_init"), line)

    def test_plugin_built_for_a_newer_abi(self):
        self.check([s.TOO_NEW_PLUGIN], "/plugins/0: plugin '%s' was built for plugin ABI "
                   % s.TOO_NEW_PLUGIN)

    def test_second_plugin_is_named_by_its_index(self):
        self.check([s.EXAMPLE_PLUGIN, s.NOT_A_PLUGIN], "/plugins/1: '%s' is not an emhost plugin"
                   % s.NOT_A_PLUGIN)

    def test_unknown_action_id_lists_what_is_available(self):
        pol = policy([node("n", [{"action": "example.Ecko", "parameters": {"message": "x"}}])])
        path = self.write_policy(pol)
        r = self.run_emhost(["validate", path])
        self.assertProblem(r, path, "%s: %s/action: unknown action 'example.Ecko' (loaded plugins "
                           "provide: example.Echo, example.Background, example.WhoAmI)"
                           % (path, ACTION0))

    def test_unknown_action_without_any_plugin(self):
        pol = policy([node("n", [echo("x")])], plugins=[])
        path = self.write_policy(pol)
        r = self.run_emhost(["validate", path])
        self.assertProblem(r, path, "%s: %s/action: unknown action 'example.Echo' (loaded plugins "
                           "provide: none)" % (path, ACTION0))

    def test_a_missing_plugin_does_not_add_unknown_action_noise(self):
        # The actions the missing plugin would have provided are not also
        # reported as unknown: one cause, one message.
        missing = os.path.join(self.dir, "gone.so")
        self.check([missing], "/plugins/0: cannot load plugin '%s'" % missing)


class Parameters(s.EmhostTestCase):
    """Parameters against the action's own schema, and its validate()."""

    def check_echo(self, params, expected):
        pol = policy([node("n", [{"action": "example.Echo", "parameters": params}])])
        path = self.write_policy(pol)
        r = self.run_emhost(["validate", path])
        return self.assertProblem(r, path, "%s: %s/parameters%s" % (path, ACTION0, expected))

    def test_required_parameter(self):
        self.check_echo({}, "/message: required")

    def test_missing_parameters_object_counts_as_empty(self):
        pol = policy([node("n", [{"action": "example.Echo"}])])
        path = self.write_policy(pol)
        r = self.run_emhost(["validate", path])
        self.assertProblem(r, path, "%s: %s/parameters/message: required" % (path, ACTION0))

    def test_wrong_type(self):
        self.check_echo({"message": 42}, "/message: expected string, got integer")

    def test_wrong_type_boolean(self):
        self.check_echo({"message": "x", "fail": "yes"}, "/fail: expected boolean, got string")

    def test_below_minimum(self):
        self.check_echo({"message": "x", "sleepMs": -1}, "/sleepMs: must be >= 0")

    def test_too_short(self):
        self.check_echo({"message": ""}, "/message: must be at least 1 character")

    def test_unknown_parameter(self):
        self.check_echo({"message": "x", "colour": "red"},
                        "/colour: unknown property (additionalProperties is false)")

    def test_parameters_must_be_an_object(self):
        self.check_echo(["x"], ": expected object, got array")

    def test_the_actions_own_validate_names_the_field(self):
        self.check_echo({"message": "forbidden"}, "/message: the word 'forbidden' is not allowed")

    def test_pointer_inside_nested_nodes_and_children(self):
        bad = {"action": "example.Echo", "parameters": {"message": 1}}
        pol = policy([node("a", [echo("ok", children=[echo("ok2"), bad])],
                           nodes=[node("b", [echo("fine")])])])
        path = self.write_policy(pol)
        r = self.run_emhost(["validate", path])
        self.assertProblem(r, path, "%s: %s/children/1/parameters/message: expected string, got "
                           "integer" % (path, ACTION0))


class RealPluginParameters(s.EmhostTestCase):
    """The pointer from the issue, with the real Backup PSTs action."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not os.path.exists(s.PSTSNAP_PLUGIN):
            raise AssertionError("%s does not exist: build first" % s.PSTSNAP_PLUGIN)

    def nested(self, params):
        backup = {"action": "pstsnap.BackupPsts", "parameters": params}
        return policy([node("outer", nodes=[node("inner", [backup])])], plugins=[s.PSTSNAP_PLUGIN])

    def test_destination_required_names_the_exact_pointer(self):
        path = self.write_policy(self.nested({}))
        r = self.run_emhost(["validate", path])
        self.assertProblem(r, path, "%s: /triggers/processStarted/0/nodes/0/actions/0/parameters/"
                           "destination: required" % path)

    def test_each_bad_parameter_is_named(self):
        path = self.write_policy(self.nested({"destination": "/x", "keepVersions": "3",
                                              "snapshot": "zfs", "verfy": "full"}))
        r = self.run_emhost(["validate", path])
        self.assertExit(r, s.EXIT_INVALID)
        base = "%s: /triggers/processStarted/0/nodes/0/actions/0/parameters" % path
        lines = [l for l in r.stderr.splitlines() if l.startswith(path + ":")]
        self.assertEqual(sorted(lines), sorted([
            base + "/keepVersions: expected integer, got string",
            base + '/snapshot: must be one of: "auto", "vss", "btrfs", "reflink", "none"',
            base + "/verfy: unknown property (additionalProperties is false)",
        ]), repr(r))
        self.assertIn("is invalid (3 problems)", r.stderr)

    def test_fire_refuses_before_touching_anything(self):
        r = self.fire(self.nested({"destination": ""}), start="OUTLOOK.EXE")
        self.assertOneProblem(r, "/parameters/destination: ")
        self.assertEqual(r.events, [])
        self.assertFalse(os.path.exists(os.path.join(self.state_dir, "pstsnap.BackupPsts")))


class CommandLine(s.EmhostTestCase):
    """Usage errors: exit 2 and a message naming the option."""

    def setUp(self):
        super().setUp()
        self.policy_path = self.write_policy(one_echo())

    def first_line(self, r):
        self.assertExit(r, s.EXIT_INVALID)
        self.assertEqual(r.events, [])
        return r.stderr.splitlines()[0]

    def test_unknown_command(self):
        r = self.run_emhost(["frie", self.policy_path])
        self.assertEqual(self.first_line(r), "emhost: unknown command 'frie'")

    def test_unknown_option(self):
        r = self.run_emhost(["fire", self.policy_path, "--process-start", "X", "--wait"])
        self.assertEqual(self.first_line(r), "emhost: unknown option '--wait'")

    def test_option_without_its_value(self):
        r = self.run_emhost(["fire", self.policy_path, "--process-start"])
        self.assertEqual(self.first_line(r), "emhost: --process-start needs a value")

    def test_fire_needs_a_process(self):
        r = self.fire(self.policy_path)
        self.assertEqual(self.first_line(r), "emhost: fire needs exactly one of --process-start "
                         "NAME or --process-stop NAME")

    def test_bad_number(self):
        r = self.run_emhost(["watch", self.policy_path, "--interval", "0"])
        self.assertEqual(self.first_line(r),
                         "emhost: --interval: '0' is not a number between 1 and 60000")
        r = self.fire(self.policy_path, start="X", extra=["--session-id", "-3"])
        self.assertEqual(self.first_line(r),
                         "emhost: --session-id: '-3' is not a number between 0 and 4294967295")

    def test_variable_without_equals(self):
        r = self.fire(self.policy_path, start="X", extra=["--var", "DataNowHome"])
        self.assertEqual(self.first_line(r),
                         "emhost: --var 'DataNowHome' must be written NAME=VALUE")
        r = self.fire(self.policy_path, start="X", extra=["--env", "=x"])
        self.assertEqual(self.first_line(r), "emhost: --env '=x' must be written NAME=VALUE")

    def test_unknown_user(self):
        r = self.fire(self.policy_path, start="X", extra=["--user", "no-such-user-pstsnap"])
        self.assertEqual(self.first_line(r), "emhost: no such user account 'no-such-user-pstsnap'")

    def test_audit_file_that_cannot_be_opened(self):
        audit = os.path.join(self.dir, "missing-folder", "audit.jsonl")
        r = self.run_emhost(["fire", self.policy_path, "--process-start", "X", "--audit", audit,
                             "--state-dir", self.state_dir])
        self.assertEqual(self.first_line(r),
                         "emhost: cannot open audit file '%s' for appending" % audit)
        self.assertEqual(r.stdout, "")


if __name__ == "__main__":
    s.main()
