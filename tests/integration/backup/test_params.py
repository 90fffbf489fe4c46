"""Parameters and variables of Backup PSTs, through emhost.

- The destination's $(DataNowHome) comes from emhost --var (as EM sets the
  session variable at logon) and %VAR% from the user's environment
  (emhost --env): the backups land below the expanded folder.
- An unset variable in the destination or in a source fails the action:
  an error event 9820 naming the parameter (JSON pointer) and the
  variable, EM's failure event 9429, exit status 1, and nothing written:
  no backup, no folder in the destination, no manifest.
- Bad parameter values are refused when the policy is validated (emhost
  validate exits 2) with the policy file and the JSON pointer of the value,
  both by the schema (types, ranges, enums, patterns, unknown names) and by
  the action's own checks (glob patterns); fire refuses the policy too and
  runs nothing.
"""
import json
import os
import subprocess
import unittest

import backup_support as bs

PARAMS_PTR = "/triggers/processStarted/0/actions/0/parameters"


class Params(unittest.TestCase):
    def setUp(self):
        self.sb = sb = bs.Sandbox(self, "params")
        self.mail = os.path.join(sb.outlook_dir, "Mail.pst")
        bs.write_random_file(self.mail, 100 * 1024, "params")
        bs.set_mtime_past(self.mail, 3600)

    def nothing_written(self, run, where):
        self.assertEqual(os.listdir(where), [], f"something was written\n{run.describe()}")
        self.assertEqual(self.sb.manifest_paths(), [], run.describe())

    def assert_failed_for(self, run, pointer, variable):
        self.assertEqual(run.rc, 1, run.describe())
        bad = run.of(bs.EV_BAD_PARAMETERS)
        self.assertEqual(len(bad), 1, run.describe())
        self.assertEqual(bad[0]["level"], "error")
        self.assertEqual(bad[0]["detail"]["field"], pointer, run.describe())
        self.assertIn(pointer, bad[0]["message"])
        self.assertIn(variable, bad[0]["message"])
        self.assertTrue(run.has(bs.EV_ACTION_FAILED), run.describe())
        self.assertFalse(run.has(bs.EV_ACTION_OK), run.describe())
        self.assertFalse(run.has(bs.EV_BACKED_UP), run.describe())

    # --- variables --------------------------------------------------------------
    def test_data_now_home_comes_from_the_session_variable(self):
        run = self.sb.fire({"destination": "$(DataNowHome)\\PST Backups"})
        self.assertEqual(run.rc, 0, run.describe())
        final = os.path.join(self.sb.fd, "PST Backups", "Outlook", "Mail.pst")
        self.assertEqual(bs.sha256_of(final), bs.sha256_of(self.mail))
        self.assertEqual(run.summary()["destination"], os.path.join(self.sb.fd, "PST Backups"))

    def test_environment_variables_expand_for_the_user(self):
        other = os.path.join(self.sb.base, "elsewhere")
        run = self.sb.fire({"destination": "%PSTSNAP_TEST_ROOT%\\Mail\\%USERNAME%"},
                           args=("--env", f"PSTSNAP_TEST_ROOT={other}"))
        self.assertEqual(run.rc, 0, run.describe())
        user = run.events[0]["user"]
        final = os.path.join(other, "Mail", user, "Outlook", "Mail.pst")
        self.assertEqual(bs.sha256_of(final), bs.sha256_of(self.mail), run.describe())
        self.assertEqual(os.listdir(self.sb.fd), [])

    def test_an_unset_variable_in_the_destination_fails_and_writes_nothing(self):
        run = self.sb.fire({"destination": "$(NoSuchHome)\\Outlook Backup"})
        self.assert_failed_for(run, "/destination", "$(NoSuchHome)")
        self.nothing_written(run, self.sb.fd)
        # Never an empty path: nothing appeared at the root or in the cwd.
        self.assertFalse(os.path.exists("/Outlook Backup"))
        self.assertFalse(os.path.exists(os.path.join(os.getcwd(), "Outlook Backup")))

    def test_an_unset_variable_in_a_source_fails_and_writes_nothing(self):
        run = self.sb.fire({"sources": ["%LOCALAPPDATA%\\Microsoft\\Outlook",
                                        "%PSTSNAP_NO_SUCH_VAR%\\PSTs"]})
        self.assert_failed_for(run, "/sources/1", "%PSTSNAP_NO_SUCH_VAR%")
        self.nothing_written(run, self.sb.fd)

    # --- validation ----------------------------------------------------------------
    def validate(self, params):
        policy = self.sb.write_policy(params)
        p = subprocess.run([self.sb.emhost, "validate", policy, "--plugin-dir",
                            os.path.dirname(self.sb.plugin)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
        return policy, p

    def test_bad_values_are_refused_at_validation_with_their_pointer(self):
        cases = [
            ({"keepVersions": 101}, "/keepVersions"),
            ({"keepVersions": "3"}, "/keepVersions"),
            ({"minInterval": "5 minutes"}, "/minInterval"),
            ({"blockSize": 48}, "/blockSize"),
            ({"snapshot": "zfs"}, "/snapshot"),
            ({"verify": "paranoid"}, "/verify"),
            ({"recurse": "yes"}, "/recurse"),
            ({"maxBandwidth": -1}, "/maxBandwidth"),
            ({"destination": ""}, "/destination"),
            ({"sources": []}, None),  # valid: no folder searched is allowed
            ({"include": []}, "/include"),
            ({"include": ["C:\\Mail\\*.pst"]}, "/include/0"),
            ({"include": ["*.pst", "Archive\\a**b.pst"]}, "/include/1"),
            ({"exclude": ["..\\*.pst"]}, "/exclude/0"),
            ({"destinaton": "typo"}, ""),
        ]
        for params, pointer in cases:
            with self.subTest(params=params):
                policy, p = self.validate(params)
                if pointer is None:
                    self.assertEqual(p.returncode, 0, p.stdout)
                    continue
                self.assertEqual(p.returncode, 2, p.stdout)
                self.assertIn(f"{policy}: {PARAMS_PTR}{pointer}", p.stdout)
                if pointer == "":
                    self.assertIn("destinaton", p.stdout)

    def test_fire_refuses_an_invalid_policy_and_runs_nothing(self):
        run = self.sb.fire({"keepVersions": 1000})
        self.assertEqual(run.rc, 2, run.describe())
        self.assertIn(f"{PARAMS_PTR}/keepVersions", run.stderr)
        self.assertFalse(run.has(bs.EV_ACTION_OK) or run.has(bs.EV_ACTION_FAILED),
                         run.describe())
        self.assertEqual(os.listdir(self.sb.fd), [])

    def test_the_schema_describes_every_parameter(self):
        p = subprocess.run([self.sb.emhost, "describe", self.sb.plugin], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        actions = json.loads(p.stdout)["actions"]
        schema = [a for a in actions if a["id"] == bs.ACTION_ID][0]["parameterSchema"]
        self.assertEqual(schema["required"], ["destination"])
        for name, prop in schema["properties"].items():
            for key in ("title", "description", "examples"):
                self.assertTrue(prop.get(key), f"{name} has no {key}")
            if name != "destination":
                self.assertIn("default", prop, name)


if __name__ == "__main__":
    bs.main()
