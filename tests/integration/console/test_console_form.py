"""The console form (deploy/console/) in a real browser, end to end.

deploy/console/serve.py serves the repository and Debian's
/usr/share/javascript (json-editor) on 127.0.0.1; drive_form.js opens the page
in Debian's headless chromium through playwright-core, reads the destination
field, fills it, types keepVersions -1, tries to export, fixes keepVersions,
exports and downloads the policy, and screenshots the form (into the test's
temporary folder; with PSTSNAP_UPDATE_SCREENSHOT=1 also over
deploy/console/screenshot.png, the README's picture). The tests below assert on what the DOM showed
at each step, and `emhost validate` must accept the downloaded policy with
the real plugin.

Skipped (exit 77) when chromium, node, playwright-core (deploy/setup-console.sh
installs them), libjs-json-editor or the pstsnap plugin in this build are
missing.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import emhost_support as s  # noqa: E402

sys.path.insert(0, os.path.join(s.SOURCE_DIR, "deploy", "console"))
import serve  # noqa: E402

SKIPPED = 77
CHROMIUM = os.environ.get("PSTSNAP_CHROMIUM") or "/usr/bin/chromium"
NODE = shutil.which("node") or shutil.which("nodejs")
DRIVER = os.path.join(HERE, "drive_form.js")
PLAYWRIGHT = os.path.join(HERE, "node_modules", "playwright-core", "package.json")
JSON_EDITOR = os.path.join(serve.SYSTEM_JAVASCRIPT_DIR, "json-editor", "jsoneditor.min.js")
SCREENSHOT = os.path.join(s.SOURCE_DIR, "deploy", "console", "screenshot.png")
PARAMETER_SCHEMA = os.path.join(s.SCHEMA_DIR, "backup-psts.parameters.schema.json")
DRIVER_TIMEOUT_S = 180

# What drive_form.js types (keep in step with it).
DESTINATION = "$(DataNowHome)\\Outlook Backup"
KEEP_VERSIONS_FIXED = 3


def missing_prerequisite():
    """Why this machine cannot run the test, or None."""
    if not os.access(CHROMIUM, os.X_OK):
        return "%s is missing (deploy/setup-console.sh installs Debian's chromium)" % CHROMIUM
    if not NODE:
        return "node is missing (deploy/setup-console.sh)"
    if not os.path.isfile(PLAYWRIGHT):
        return "playwright-core is not installed in %s (deploy/setup-console.sh)" % HERE
    if not os.path.isfile(JSON_EDITOR):
        return "%s is missing (deploy/setup-console.sh installs libjs-json-editor)" % JSON_EDITOR
    if os.environ.get("EMHOST") and not os.environ.get("PSTSNAP_PLUGIN"):
        return "this build has no pstsnap plugin (PSTSNAP_BUILD_PLUGIN is off)"
    return None


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class ConsoleForm(unittest.TestCase):
    """One admin session in the browser; each test checks one part of it."""

    maxDiff = None

    @classmethod
    def setUpClass(cls):
        for path in (s.EMHOST, s.PSTSNAP_PLUGIN):
            if not os.path.exists(path):
                # A missing build is a failure, never a skip.
                raise AssertionError("%s does not exist: build first" % path)
        os.makedirs(s.TEST_TMP, exist_ok=True)
        cls.dir = tempfile.mkdtemp(prefix="console-form-", dir=s.TEST_TMP)
        cls.download = os.path.join(cls.dir, "downloaded-policy.json")
        shot = os.path.join(cls.dir, "screenshot.png")
        with serve.ConsoleServer() as server:
            r = subprocess.run([NODE, DRIVER, server.url, cls.download, shot],
                               cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               universal_newlines=True, timeout=DRIVER_TIMEOUT_S)
        try:
            cls.report = json.loads(r.stdout)
        except ValueError:
            cls.report = None
        if r.returncode != 0 or cls.report is None:
            raise AssertionError("drive_form.js exited %d\n--- stdout\n%s--- stderr\n%s"
                                 % (r.returncode, r.stdout, r.stderr))
        if cls.report.get("ready") != "true":
            raise AssertionError("the page did not load its form: %r\n%s"
                                 % (cls.report.get("loadError"), r.stdout))
        cls.screenshot = shot
        # The README's picture is refreshed only when asked: a test run must
        # not rewrite files of the source tree.
        if os.environ.get("PSTSNAP_UPDATE_SCREENSHOT") == "1":
            shutil.copyfile(shot, SCREENSHOT)
        cls.schema = load_json(PARAMETER_SCHEMA)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def field_schema(self, name):
        return self.schema["properties"][name]

    def test_page_loads_without_script_errors_or_missing_files(self):
        self.assertEqual(self.report["steps"][-1], "done", self.report["steps"])
        self.assertEqual(self.report["console"], [], "the browser reported problems")

    def test_form_has_one_panel_per_schema_group_in_schema_order(self):
        groups = []
        for prop in self.schema["properties"].values():
            if prop["x-group"] not in groups:
                groups.append(prop["x-group"])
        self.assertEqual(self.report["groups"], ["root." + g for g in groups])

    def test_destination_shows_title_description_and_examples(self):
        field = self.report["destinationBefore"]
        schema = self.field_schema("destination")
        self.assertEqual(field["label"], schema["title"])
        self.assertIn(schema["description"], field["description"])
        self.assertIn("Examples:", field["description"])
        for example in schema["examples"]:
            self.assertIn(example, field["description"])
        self.assertEqual(field["value"], "", "destination has no default: it starts empty")

    def test_a_field_with_a_default_shows_it_and_starts_with_it(self):
        field = self.report["keepVersionsBefore"]
        schema = self.field_schema("keepVersions")
        self.assertEqual(field["label"], schema["title"])
        self.assertIn(schema["description"], field["description"])
        self.assertIn("Default: %s" % schema["default"], field["description"])
        self.assertEqual(field["value"], str(schema["default"]))
        self.assertFalse(field["errorShown"], field)

    def test_filled_destination_is_accepted(self):
        field = self.report["destinationFilled"]
        self.assertEqual(field["value"], DESTINATION)
        self.assertFalse(field["errorShown"], field)

    def test_bad_value_shows_its_error_next_to_the_field_while_typing(self):
        field = self.report["keepVersionsBad"]
        self.assertEqual(field["value"], "-1")
        self.assertTrue(field["errorShown"], field)
        self.assertIn("at least %d" % self.field_schema("keepVersions")["minimum"], field["errorText"])
        self.assertTrue(field["errorBesideInput"], "the error is not in the field's own control")
        # Shown before the admin left the field: validated as typed.
        self.assertTrue(field["focused"], "the field lost focus before the error showed")
        # Only the bad field is marked.
        self.assertFalse(self.report["destinationWhileBad"]["errorShown"],
                         self.report["destinationWhileBad"])

    def test_export_is_refused_while_a_field_is_invalid(self):
        state = self.report["exportWhileBad"]
        self.assertEqual(state["policyText"], "")
        self.assertFalse(state["downloadEnabled"])
        self.assertEqual(state["statusKind"], "error", state)
        self.assertEqual(len(state["errors"]), 1, state["errors"])
        self.assertIn("keepVersions", state["errors"][0])

    def test_fixed_value_clears_the_error(self):
        field = self.report["keepVersionsFixed"]
        self.assertEqual(field["value"], str(KEEP_VERSIONS_FIXED))
        self.assertFalse(field["errorShown"], field)

    def test_exported_policy_is_the_outlook_node_with_the_changed_parameters(self):
        state = self.report["exported"]
        self.assertEqual(state["statusKind"], "ok", state)
        self.assertTrue(state["downloadEnabled"])
        policy = json.loads(state["policyText"])
        self.assertEqual(policy["version"], 1)
        self.assertEqual(policy["plugins"], ["pstsnap"])
        nodes = policy["triggers"]["processStarted"]
        self.assertEqual(len(nodes), 1)
        node = nodes[0]
        self.assertEqual(node["conditions"], [
            {"type": "processName", "operator": "Equal", "value": "OUTLOOK.EXE"},
            {"type": "counter", "max": 1}])
        self.assertGreater(node["timeoutMs"], 0)
        self.assertEqual(len(node["actions"]), 1)
        action = node["actions"][0]
        self.assertEqual(action["action"], "pstsnap.BackupPsts")
        self.assertEqual(action["runAs"], "System")
        # Values left at their default stay with the plugin.
        self.assertEqual(action["parameters"],
                         {"destination": DESTINATION, "keepVersions": KEEP_VERSIONS_FIXED})

    def test_download_is_the_exported_policy(self):
        self.assertEqual(self.report.get("downloadName"), "backup-psts.json")
        with open(self.download, encoding="utf-8") as f:
            self.assertEqual(f.read(), self.report["exported"]["policyText"])

    def test_emhost_validate_accepts_the_downloaded_policy(self):
        r = subprocess.run(s.EMHOST_COMMAND + ["validate", self.download, "--plugin-dir",
                                               os.path.dirname(s.PSTSNAP_PLUGIN)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=60)
        self.assertEqual(r.returncode, s.EXIT_OK,
                         "emhost validate: exit %d\n%s%s" % (r.returncode, r.stdout, r.stderr))
        self.assertIn("valid (1 plugin, 1 node, 1 action)", r.stdout)

    def test_screenshot_is_a_small_png(self):
        with open(self.screenshot, "rb") as f:
            data = f.read()
        self.assertEqual(data[:8], b"\x89PNG\r\n\x1a\n")
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        self.assertEqual((width, height), (1000, 900))
        self.assertLess(len(data), 400 * 1024)


if __name__ == "__main__":
    reason = missing_prerequisite()
    if reason:
        print("skipped: " + reason)
        sys.exit(SKIPPED)
    s.main()
