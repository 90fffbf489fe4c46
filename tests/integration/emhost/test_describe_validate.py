"""emhost describe (a plugin describes itself) and emhost validate on the
policies we ship.

describe prints JSON: the module, and each action's id, display name,
version and parameter schema, which is embedded in the plugin at build time
and so must equal the file in schemas/ (issue 2, "The ABI").
"""

import glob
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import emhost_support as s  # noqa: E402

DEPLOY_POLICIES = sorted(glob.glob(os.path.join(s.SOURCE_DIR, "deploy", "policies", "*.json")))


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class RealPluginCase(s.EmhostTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not os.path.exists(s.PSTSNAP_PLUGIN):
            raise AssertionError("%s does not exist: build first" % s.PSTSNAP_PLUGIN)


class Describe(RealPluginCase):
    def describe(self, plugin):
        r = self.run_emhost(["describe", plugin])
        self.assertExit(r, s.EXIT_OK)
        try:
            d = json.loads(r.stdout)
        except ValueError as e:
            self.fail("describe did not print JSON (%s):\n%s" % (e, r.stdout))
        self.assertEqual(sorted(d), ["actions", "module", "plugin"], r.stdout)
        return d

    def test_real_plugin_describes_backup_psts_with_its_schema_file(self):
        d = self.describe(s.PSTSNAP_PLUGIN)
        self.assertEqual(d["plugin"], s.PSTSNAP_PLUGIN)
        self.assertEqual(d["module"]["name"], "pstsnap")
        self.assertRegex(d["module"]["version"], r"^\d+\.\d+\.\d+")
        self.assertIsInstance(d["module"]["abiVersion"], int)
        self.assertEqual([a["id"] for a in d["actions"]], ["pstsnap.BackupPsts"])
        action = d["actions"][0]
        self.assertEqual(sorted(action), ["displayName", "id", "parameterSchema", "version"])
        self.assertEqual(action["displayName"], "Backup PSTs")
        self.assertRegex(action["version"], r"^\d+\.\d+\.\d+")
        expected = load_json(os.path.join(s.SCHEMA_DIR, "backup-psts.parameters.schema.json"))
        # Compared as parsed JSON: the embedded copy may be re-serialised.
        self.assertEqual(action["parameterSchema"], expected,
                         "the schema built into pstsnap.so differs from "
                         "schemas/backup-psts.parameters.schema.json: rebuild, or the embedding "
                         "is broken")
        self.assertEqual(action["parameterSchema"]["required"], ["destination"])

    def test_example_plugin_lists_every_action(self):
        d = self.describe(s.EXAMPLE_PLUGIN)
        self.assertEqual(d["module"]["name"], "example")
        self.assertEqual([(a["id"], a["displayName"], a["version"]) for a in d["actions"]], [
            ("example.Echo", "Echo", "1.0.0"),
            ("example.Background", "Background work", "1.0.0"),
            ("example.WhoAmI", "Who am I", "1.0.0"),
        ])
        echo = d["actions"][0]["parameterSchema"]
        self.assertEqual(echo["required"], ["message"])
        self.assertEqual(sorted(echo["properties"]), ["fail", "message", "sleepMs"])
        self.assertEqual(echo["properties"]["sleepMs"]["default"], 0)
        for a in d["actions"]:
            self.assertEqual(a["parameterSchema"]["$schema"],
                             "http://json-schema.org/draft-07/schema#", a["id"])

    def test_describe_keeps_the_schemas_key_order(self):
        # The console renders parameters in schema order: describe must not
        # sort them.
        d = self.describe(s.PSTSNAP_PLUGIN)
        with open(os.path.join(s.SCHEMA_DIR, "backup-psts.parameters.schema.json")) as f:
            expected = list(json.load(f)["properties"])
        self.assertEqual(list(d["actions"][0]["parameterSchema"]["properties"]), expected)

    def test_describe_by_name_adds_the_suffix(self):
        r = self.run_emhost(["describe", os.path.splitext(s.EXAMPLE_PLUGIN)[0]])
        self.assertExit(r, s.EXIT_OK)
        self.assertEqual(json.loads(r.stdout)["plugin"], s.EXAMPLE_PLUGIN)

    def test_describe_refuses_what_is_not_a_plugin(self):
        for plugin, why in ((s.NOT_A_PLUGIN, "it does not export em_module_init"),
                            (os.path.join(self.dir, "nothing.so"), "cannot load plugin"),
                            (s.TOO_NEW_PLUGIN, "upgrade emhost")):
            r = self.run_emhost(["describe", plugin])
            self.assertExit(r, s.EXIT_INVALID)
            self.assertEqual(r.stdout, "", "nothing on stdout for a refused plugin")
            lines = r.stderr.splitlines()
            self.assertEqual(len(lines), 1, r)
            self.assertTrue(lines[0].startswith("emhost: "), r)
            self.assertIn(plugin, lines[0])
            self.assertIn(why, lines[0])


class ValidateShippedPolicies(RealPluginCase):
    """Every policy in deploy/policies/ is valid as the demo runs it:
    plugins by name, found with --plugin-dir (deploy/demo.sh)."""

    def test_there_are_policies_to_check(self):
        self.assertTrue(DEPLOY_POLICIES, "no deploy/policies/*.json found")

    def test_every_shipped_policy_is_valid(self):
        plugin_dir = os.path.dirname(s.PSTSNAP_PLUGIN)
        for path in DEPLOY_POLICIES:
            with self.subTest(policy=os.path.basename(path)):
                r = self.run_emhost(["validate", path, "--plugin-dir", plugin_dir])
                self.assertExit(r, s.EXIT_OK)
                self.assertEqual(r.stderr, "")
                m = re.fullmatch(r"(.*): valid \((\d+) plugins?, (\d+) nodes?, (\d+) actions?\)\n",
                                 r.stdout)
                self.assertIsNotNone(m, r.stdout)
                self.assertEqual(m.group(1), path)
                pol = load_json(path)
                self.assertEqual(int(m.group(2)), len(pol.get("plugins", [])))
                self.assertGreaterEqual(int(m.group(4)), 1)

    def test_backup_psts_policy_names_its_plugin_without_a_path(self):
        # Without --plugin-dir the name resolves beside the policy, where no
        # plugin is: validate says where it looked, and exits 2.
        path = os.path.join(s.SOURCE_DIR, "deploy", "policies", "backup-psts.json")
        r = self.run_emhost(["validate", path])
        self.assertOneProblem(r, path + ": /plugins/0: cannot load plugin '%s'" % os.path.join(
            os.path.dirname(path), "pstsnap" + s.PLUGIN_SUFFIX))

    def test_validate_counts_what_it_loaded(self):
        pol = s.policy([s.node("a", [s.echo("x", children=[s.echo("y")])],
                               nodes=[s.node("b", [s.whoami()])]),
                        s.node("off", [s.echo("z")], enabled=False)],
                       stopped=[s.node("c", [s.echo("w"), s.echo("v", enabled=False)])])
        path = self.write_policy(pol)
        r = self.run_emhost(["validate", path])
        self.assertExit(r, s.EXIT_OK)
        # Disabled nodes and actions are not passed to the agent (T13).
        self.assertEqual(r.stdout, "%s: valid (1 plugin, 3 nodes, 4 actions)\n" % path)


if __name__ == "__main__":
    s.main()
