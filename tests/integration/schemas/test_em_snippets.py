"""The EM integration snippets of deploy/em: every parameters example they
hold (each *.json file, and each JSON block of its README) validates against
schemas/backup-psts.parameters.schema.json with Debian's python3-jsonschema,
independently of our own validator; the PowerShell action starts rundll32
without waiting and passes the user's SID. PowerShell itself cannot run here
(Debian 12 has no package for it)."""

import glob
import json
import os
import re
import sys
import unittest

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("PSTSNAP_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
EM_DIR = os.path.join(SOURCE_DIR, "deploy", "em")
SCHEMA = os.path.join(SOURCE_DIR, "schemas", "backup-psts.parameters.schema.json")


class EmSnippetsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        with open(SCHEMA, encoding="utf-8") as f:
            cls.validator = jsonschema.Draft7Validator(json.load(f))

    def assert_valid(self, params, where):
        errors = sorted(self.validator.iter_errors(params), key=lambda e: list(e.path))
        self.assertEqual([], ["%s: /%s: %s" % (where, "/".join(map(str, e.path)), e.message)
                              for e in errors])

    def test_every_json_example_validates(self):
        files = sorted(glob.glob(os.path.join(EM_DIR, "*.json")))
        self.assertTrue(files, "no parameters example in deploy/em")
        for path in files:
            with open(path, encoding="utf-8") as f:
                self.assert_valid(json.load(f), os.path.basename(path))

    def test_the_schema_rejects_what_it_must(self):
        # So that the check above can fail: a missing destination, a wrong method.
        self.assertFalse(self.validator.is_valid({"snapshot": "auto"}))
        self.assertFalse(self.validator.is_valid({"destination": "x", "snapshot": "tape"}))

    def test_the_powershell_action_parameters_validate(self):
        with open(os.path.join(EM_DIR, "Backup-Psts.ps1"), encoding="utf-8") as f:
            script = f.read()
        block = re.search(r"\$parameters = @\{(.*?)\n\s*\}\n", script, re.S).group(1)
        params = {}
        for key, value in re.findall(r"^\s*(\w+)\s*=\s*(.+?)\s*$", block, re.M):
            if value.startswith("'"):
                params[key] = value.strip("'")
            elif value == "$destination":
                params[key] = re.search(r"\$destination\s*=\s*'([^']*)'", script).group(1)
            elif value.startswith("@("):
                params[key] = ["C:\\Users\\u\\x"]  # computed from the profile at run time
        self.assertIn("destination", params)
        self.assert_valid(params, "Backup-Psts.ps1")
        # Starts rundll32 without waiting, for the user the action runs for.
        start = re.search(r"Start-Process[^\n]*(?:`\n[^\n]*)*", script).group(0)
        self.assertNotIn("-Wait", start)
        self.assertIn("rundll32.exe", start)
        self.assertIn("--user-sid", script)
        self.assertIn(",BackupPsts", script)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)
