"""Plugin ABI version negotiation, both ways (em_action.h, "Loading and versioning").

A host refuses a plugin built for a newer ABI than it speaks; a plugin
refuses a host older than it needs; a plugin of the host's own ABI loads.
"""

import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import emhost_support as s  # noqa: E402


def host_abi():
    """EM_ABI_VERSION as the header says, so the test follows a bump."""
    with open(os.path.join(s.SOURCE_DIR, "sdk-shim", "include", "em_action.h")) as f:
        m = re.search(r"#define\s+EM_ABI_VERSION\s+(\d+)u?", f.read())
    assert m, "EM_ABI_VERSION not found in em_action.h"
    return int(m.group(1))


class VersionNegotiation(s.EmhostTestCase):
    def test_plugin_of_the_host_abi_loads_and_says_so(self):
        r = self.run_emhost(["describe", s.EXAMPLE_PLUGIN])
        self.assertExit(r, s.EXIT_OK)
        d = json.loads(r.stdout)
        self.assertEqual(d["module"], {"name": "example", "version": "1.0.0",
                                       "abiVersion": host_abi()})
        r = self.fire(s.policy([s.node("n", [s.echo("loaded")])]), start="OUTLOOK.EXE")
        self.assertExit(r, s.EXIT_OK)
        self.assertEqual(s.echo_messages(r.events), ["loaded"])

    def test_host_refuses_a_plugin_built_for_a_newer_abi(self):
        path = self.write_policy(s.policy([s.node("n", [s.echo("never")])],
                                          plugins=[s.TOO_NEW_PLUGIN]))
        r = self.run_emhost(["validate", path])
        line = self.assertOneProblem(r, path, "/plugins/0", s.TOO_NEW_PLUGIN)
        # Both versions and what to do about it.
        self.assertIn("ABI %d" % (host_abi() + 1), line)
        self.assertIn("ABI %d" % host_abi(), line)
        self.assertIn("upgrade emhost", line)

    def test_plugin_refuses_a_host_that_is_too_old(self):
        path = self.write_policy(s.policy([s.node("n", [s.echo("never")])],
                                          plugins=[s.NEEDS_NEWER_HOST_PLUGIN]))
        r = self.run_emhost(["validate", path])
        line = self.assertOneProblem(r, path, "/plugins/0", s.NEEDS_NEWER_HOST_PLUGIN,
                                     "refused to load")
        # The plugin's own reason is passed on word for word.
        self.assertIn("needs host ABI >= %d, host has %d" % (host_abi() + 1, host_abi()), line)

    def test_describe_reports_both_refusals(self):
        r = self.run_emhost(["describe", s.TOO_NEW_PLUGIN])
        self.assertExit(r, s.EXIT_INVALID)
        self.assertIn(s.TOO_NEW_PLUGIN, r.stderr)
        self.assertIn("ABI %d" % (host_abi() + 1), r.stderr)
        self.assertEqual(r.stdout, "")
        r = self.run_emhost(["describe", s.NEEDS_NEWER_HOST_PLUGIN])
        self.assertExit(r, s.EXIT_INVALID)
        self.assertIn(s.NEEDS_NEWER_HOST_PLUGIN, r.stderr)
        self.assertIn("needs host ABI >= %d" % (host_abi() + 1), r.stderr)
        self.assertEqual(r.stdout, "")

    def test_fire_runs_nothing_when_one_plugin_is_refused(self):
        # A good plugin next to a refused one: the policy as a whole is
        # invalid, so not even the good plugin's actions run.
        pol = s.policy([s.node("n", [s.echo("must not run")])],
                       plugins=[s.EXAMPLE_PLUGIN, s.TOO_NEW_PLUGIN])
        r = self.fire(pol, start="OUTLOOK.EXE")
        self.assertOneProblem(r, "/plugins/1", s.TOO_NEW_PLUGIN)
        self.assertEqual(r.events, [])


if __name__ == "__main__":
    s.main()
