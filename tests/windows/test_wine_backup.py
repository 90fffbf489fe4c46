"""The Windows deliverables end to end under Wine: the real pstsnap.dll
backing up the shared PST samples through `emhost.exe fire`, and the same
DLL through its rundll32 entry (`rundll32 pstsnap.dll,BackupPsts`), as an
EM Execute action or PowerShell custom action runs it on an endpoint.

Wine has no VSS (CreateVssBackupComponents answers E_NOTIMPL), so "auto"
falls back to reading the files directly with the "none" provider's checks;
nothing holds these files, so every PST must be copied byte for byte.

Needs the Windows build (EMHOST ends in .exe) and, for the sample tests, the
samples (PSTSNAP_SAMPLES_DIR): skipped (exit 77), never passed, without them.
"""

import filecmp
import json
import os
import shutil
import subprocess
import sys
import time
import unittest

from emhost_support import (EMHOST, EMULATOR, EXIT_FAILED, EXIT_OK, PROCESS_START_OK,
                            PSTSNAP_PLUGIN, WINDOWS, EmhostTestCase, action_events, named,
                            read_audit)

SAMPLES = os.environ.get("PSTSNAP_SAMPLES_DIR", "")
SUMMARY, BACKED_UP, FALLBACK, BAD_PARAMETERS = 9800, 9801, 9814, 9820
RUNDLL_TIMEOUT = 120


def win(path):
    """The Z: form of a Linux path, as an admin would type it on Windows."""
    return "Z:" + os.path.abspath(path).replace("/", "\\")


def sample_files():
    """The samples' top-level files: (PSTs, OSTs)."""
    names = sorted(os.listdir(SAMPLES))
    psts = [n for n in names if n.lower().endswith(".pst")]
    osts = [n for n in names if n.lower().endswith(".ost")]
    return psts, osts


class WineBackupTest(EmhostTestCase):

    def setUp(self):
        if not WINDOWS:
            raise unittest.SkipTest("not a Windows build (EMHOST=%s)" % EMHOST)
        super().setUp()

    def stage_samples(self):
        """The samples in a user's "Outlook Files" folder; skip without them."""
        if not SAMPLES or not os.path.isdir(SAMPLES):
            raise unittest.SkipTest("PST samples folder PSTSNAP_SAMPLES_DIR='%s' is missing"
                                    % SAMPLES)
        psts, osts = sample_files()
        if not psts or not osts:
            raise unittest.SkipTest("the samples hold no .pst or no .ost")
        src = os.path.join(self.dir, "profile", "Documents", "Outlook Files")
        os.makedirs(src)
        hour_ago = time.time() - 3600
        for name in psts + osts:
            path = os.path.join(src, name)
            shutil.copyfile(os.path.join(SAMPLES, name), path)
            # Last written an hour ago: a file written just before its
            # backup is "racy" and is looked at again next time.
            os.utime(path, (hour_ago, hour_ago))
        return src, psts, osts

    def assert_backed_up(self, src, dest, psts, osts):
        backup_dir = os.path.join(dest, "Outlook Files")
        for name in psts:
            copy = os.path.join(backup_dir, name)
            self.assertTrue(os.path.exists(copy), "%s was not backed up" % name)
            self.assertTrue(filecmp.cmp(os.path.join(src, name), copy, shallow=False),
                            "%s differs from its backup" % name)
        for name in osts:
            self.assertFalse(os.path.exists(os.path.join(backup_dir, name)),
                             "%s (an OST) was copied" % name)
        leftovers = [n for n in os.listdir(backup_dir) if n not in psts]
        self.assertEqual(leftovers, [], "unexpected files in the backup folder")

    # -- emhost.exe fire -------------------------------------------------------
    def test_emhost_fire_backs_up_the_samples_byte_for_byte_and_not_the_ost(self):
        src, psts, osts = self.stage_samples()
        dest = os.path.join(self.dir, "FileDirector", "Outlook Backup")
        pol = {"version": 1, "plugins": [PSTSNAP_PLUGIN], "triggers": {"processStarted": [{
            "name": "Outlook started",
            "conditions": [{"type": "processName", "operator": "Equal", "value": "OUTLOOK.EXE"}],
            "actions": [{"action": "pstsnap.BackupPsts", "description": "Backup PSTs",
                         "parameters": {"destination": win(dest), "sources": [win(src)],
                                        "outlookProfiles": False, "minInterval": "0",
                                        "verify": "full"}}]}]}}
        r = self.fire(pol, start="outlook.exe", timeout=300)
        self.assertEqual(r.returncode, EXIT_OK, r)
        results = action_events(r.events, "Backup PSTs")
        self.assertEqual([e["eventId"] for e in results], [PROCESS_START_OK], r)
        # No VSS under Wine: "auto" says so and reads the files directly.
        fallback = [e for e in r.events if e.get("eventId") == FALLBACK]
        self.assertEqual(len(fallback), 1, r)
        self.assertEqual(fallback[0]["level"], "warning")
        self.assertIn("vss", fallback[0]["message"])
        backed_up = [e for e in r.events if e.get("eventId") == BACKED_UP]
        self.assertEqual(len(backed_up), len(psts), r)
        summary = [e for e in r.events if e.get("eventId") == SUMMARY]
        self.assertEqual(len(summary), 1, r)
        self.assertIn("%d found, %d copied" % (len(psts), len(psts)), summary[0]["message"])
        self.assertIn("0 failed", summary[0]["message"])
        self.assertEqual(summary[0]["level"], "info")
        self.assert_backed_up(src, dest, psts, osts)

        # Fired again: nothing changed, so nothing is copied or snapshotted.
        os.remove(self.audit_path)
        r = self.fire(pol, start="OUTLOOK.EXE", timeout=120)
        self.assertEqual(r.returncode, EXIT_OK, r)
        summary = [e for e in r.events if e.get("eventId") == SUMMARY]
        self.assertIn("0 copied, %d unchanged" % len(psts), summary[0]["message"],
                      "\n".join(json.dumps(e) for e in r.events if e.get("eventId") != BACKED_UP))
        self.assertEqual([e for e in r.events if e.get("eventId") == FALLBACK], [])

    # -- rundll32 ------------------------------------------------------------
    def rundll32(self, *args):
        """wine rundll32.exe pstsnap.dll,BackupPsts ARGS; (exit code, stderr)."""
        cmd = [EMULATOR or "wine", "rundll32.exe", win(PSTSNAP_PLUGIN) + ",BackupPsts"]
        cmd += list(args)
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=RUNDLL_TIMEOUT)
        return p.returncode, p.stderr

    def write_params(self, params):
        path = os.path.join(self.dir, "backup-psts.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(params, f)
        return path

    def test_rundll32_entry_backs_up_and_exits_0(self):
        src, psts, osts = self.stage_samples()
        dest = os.path.join(self.dir, "Backup")
        log = os.path.join(self.dir, "run.jsonl")
        # The destination in the file is overridden by --destination, as
        # EM's Execute action passes $(DataNowHome) on the command line.
        params = self.write_params({"destination": "$(DataNowHome)\\Outlook Backup",
                                    "sources": [win(src)], "outlookProfiles": False,
                                    "minInterval": "0"})
        code, err = self.rundll32(win(params), "--destination", win(dest),
                                  "--state-dir", win(os.path.join(self.dir, "state")),
                                  "--log", win(log))
        self.assertEqual(code, 0, err)
        events = read_audit(log)
        summary = [e for e in events if e.get("eventId") == SUMMARY]
        self.assertEqual(len(summary), 1, err)
        self.assertIn("%d copied" % len(psts), summary[0]["message"])
        self.assertEqual(len([e for e in events if e.get("eventId") == BACKED_UP]), len(psts))
        # The same events also went to stderr, one JSON object a line.
        self.assertIn('"eventId":%d' % SUMMARY, err)
        self.assert_backed_up(src, dest, psts, osts)

    def test_rundll32_refuses_an_em_variable_it_cannot_expand_with_exit_2(self):
        log = os.path.join(self.dir, "run.jsonl")
        params = self.write_params({"destination": "$(DataNowHome)\\Outlook Backup",
                                    "outlookProfiles": False})
        code, err = self.rundll32(win(params), "--state-dir",
                                  win(os.path.join(self.dir, "state")), "--log", win(log))
        self.assertEqual(code, 2, err)
        bad = [e for e in read_audit(log) if e.get("eventId") == BAD_PARAMETERS]
        self.assertEqual(len(bad), 1, err)
        self.assertEqual(bad[0]["level"], "error")
        self.assertIn("/destination", bad[0]["message"])
        self.assertIn("--destination", bad[0]["message"])

    def test_rundll32_rejects_invalid_parameters_and_a_bad_command_line(self):
        log = os.path.join(self.dir, "run.jsonl")
        params = self.write_params({"destination": win(self.dir), "snapshot": "tape"})
        code, err = self.rundll32(win(params), "--log", win(log))
        self.assertEqual(code, 2, err)
        bad = [e for e in read_audit(log) if e.get("eventId") == BAD_PARAMETERS]
        self.assertEqual(len(bad), 1, err)
        self.assertIn("snapshot", bad[0]["message"])
        code, err = self.rundll32()
        self.assertEqual(code, 2, err)
        self.assertIn("usage: rundll32 pstsnap.dll,BackupPsts PARAMS.json", err)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    if not result.wasSuccessful():
        sys.exit(1)
    sys.exit(77 if result.skipped and not result.testsRun - len(result.skipped) else 0)
