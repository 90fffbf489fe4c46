"""Run-as contexts and the user an action acts for.

EM runs an action as System or as the current user (its Run As tab) and
audits which; an elevated run must still act for the logged-on user: their
name, SID, profile and variables (issue 2, "Host services"). emhost models
the logged-on user with --user NAME. example.WhoAmI audits what the host
told it (event 9704, detail: name, sid, profileDir, sessionId, runAs,
elevated, stateDir).

For --user the test makes a throwaway account with its own profile folder
when it runs as root and useradd exists, and removes it afterwards;
otherwise it uses the existing 'nobody' account and skips what needs a
profile folder of its own.
"""

import os
import pwd
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import emhost_support as s  # noqa: E402
from emhost_support import background, echo, node, policy, whoami  # noqa: E402

WHOAMI_EVENT = 9704


def whoami_details(events):
    return {e["action"]: e["detail"] for e in events if e.get("eventId") == WHOAMI_EVENT}


class RunAsContext(s.EmhostTestCase):
    def test_run_as_is_recorded_on_every_event_of_the_action(self):
        pol = policy([node("n", [
            whoami("as system", runAs="System"),
            whoami("as user default"),
            echo("hi", "echo as user", runAs="CurrentUser"),
            background("job", work_ms=50, description="bg as system", runAs="System"),
        ])])
        r = self.fire(pol, start="OUTLOOK.EXE")
        self.assertExit(r, s.EXIT_OK)
        expected = {"as system": "System", "as user default": "CurrentUser",
                    "echo as user": "CurrentUser", "bg as system": "System"}
        for action, run_as in expected.items():
            events = [e for e in r.events if e.get("action") == action]
            # the 9428, the plugin's own events, the background result
            self.assertGreaterEqual(len(events), 2, action)
            for e in events:
                self.assertEqual(e.get("runAs"), run_as, "%s: %r" % (action, e))
        self.assertActionResult(r.events, "as system", "success", s.PROCESS_START_OK)
        self.assertEqual(len(s.named(r.events, "action.background.succeeded", "bg as system")), 1)
        details = whoami_details(r.events)
        self.assertEqual(details["as system"]["runAs"], "System")
        self.assertEqual(details["as user default"]["runAs"], "CurrentUser")
        # Both contexts act for the same user: only the context differs.
        a, b = dict(details["as system"]), dict(details["as user default"])
        del a["runAs"], b["runAs"]
        self.assertEqual(a, b)

    def test_run_as_under_process_stopped(self):
        pol = policy(stopped=[node("n", [whoami("stop sys", runAs="System")])])
        r = self.fire(pol, stop="OUTLOOK.EXE")
        self.assertExit(r, s.EXIT_OK)
        e = self.assertActionResult(r.events, "stop sys", "success", s.PROCESS_STOP_OK)
        self.assertEqual(e["runAs"], "System")
        self.assertEqual(e["trigger"], "processStopped")

    def test_without_user_the_action_acts_for_the_account_running_emhost(self):
        me = pwd.getpwuid(os.geteuid())
        home = os.path.join(self.dir, "home")
        r = self.fire(policy([node("n", [whoami("w")])]), start="OUTLOOK.EXE",
                      extra=["--session-id", "7"], env=s.clean_env({"HOME": home}))
        self.assertExit(r, s.EXIT_OK)
        self.assertEqual(whoami_details(r.events)["w"], {
            "name": me.pw_name, "sid": "uid:%d" % me.pw_uid, "profileDir": home,
            "sessionId": 7, "runAs": "CurrentUser", "elevated": os.geteuid() == 0,
            "stateDir": os.path.join(self.state_dir, "example.WhoAmI")})
        for e in r.events:
            self.assertEqual((e["user"], e.get("sid"), e["sessionId"]),
                             (me.pw_name, "uid:%d" % me.pw_uid, 7), e)


class ActingForAnotherUser(s.EmhostTestCase):
    user = None      # pwd entry of the account --user names
    own_home = None  # its profile folder when this test created the account

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._created = None
        cls._home_root = None
        useradd = shutil.which("useradd") or ("/usr/sbin/useradd"
                                              if os.path.exists("/usr/sbin/useradd") else None)
        if os.geteuid() == 0 and useradd:
            name = "pstsnaph2%d" % os.getpid()
            cls._home_root = tempfile.mkdtemp(prefix="runas-", dir=s.TEST_TMP)
            home = os.path.join(cls._home_root, name)
            os.makedirs(home)
            p = subprocess.run([useradd, "--no-create-home", "--home-dir", home,
                                "--shell", "/usr/sbin/nologin", "--comment",
                                "pstsnap emhost test (temporary)", name],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               universal_newlines=True)
            if p.returncode == 0:
                cls._created = name
                u = pwd.getpwnam(name)
                os.chown(home, u.pw_uid, u.pw_gid)
                cls.user, cls.own_home = u, home
            else:
                sys.stderr.write("useradd failed (%s); using 'nobody'\n" % p.stdout.strip())
        if cls.user is None:
            try:
                cls.user = pwd.getpwnam("nobody")
            except KeyError:
                raise AssertionError("no 'nobody' account and cannot create one")

    @classmethod
    def tearDownClass(cls):
        if cls._created:
            userdel = shutil.which("userdel") or "/usr/sbin/userdel"
            subprocess.run([userdel, cls._created], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        if cls._home_root:
            shutil.rmtree(cls._home_root, ignore_errors=True)
        super().tearDownClass()

    def env_of_the_elevated_caller(self):
        """What an admin's elevated shell has: its own HOME and USERNAME."""
        me = pwd.getpwuid(os.geteuid())
        return s.clean_env({"HOME": me.pw_dir, "USERNAME": me.pw_name, "USER": me.pw_name},
                           drop=["USERPROFILE", "LOCALAPPDATA", "APPDATA"])

    def test_whoami_reports_the_named_users_identity_and_profile(self):
        u = self.user
        pol = policy([node("n", [whoami("sys", runAs="System"), whoami("usr")])])
        r = self.fire(pol, start="OUTLOOK.EXE", env=self.env_of_the_elevated_caller(),
                      extra=["--user", u.pw_name, "--session-id", "3"])
        self.assertExit(r, s.EXIT_OK)
        details = whoami_details(r.events)
        for action, run_as in (("sys", "System"), ("usr", "CurrentUser")):
            self.assertEqual(details[action], {
                "name": u.pw_name, "sid": "uid:%d" % u.pw_uid, "profileDir": u.pw_dir,
                "sessionId": 3, "runAs": run_as, "elevated": os.geteuid() == 0,
                "stateDir": os.path.join(self.state_dir, "example.WhoAmI")}, action)
        # Every audit line names the user the run acted for, not the caller.
        for e in r.events:
            self.assertEqual((e["user"], e.get("sid")), (u.pw_name, "uid:%d" % u.pw_uid), e)

    def test_variables_are_the_named_users_not_the_callers(self):
        u = self.user
        r = self.fire(policy([node("n", [echo("%USERNAME%|%USERPROFILE%|%HOME%|%LOCALAPPDATA%",
                                              "e", runAs="System")])]),
                      start="OUTLOOK.EXE", env=self.env_of_the_elevated_caller(),
                      extra=["--user", u.pw_name])
        self.assertExit(r, s.EXIT_OK)
        self.assertEqual(s.echo_messages(r.events), ["%s|%s|%s|%s/.local/share" % (
            u.pw_name, u.pw_dir, u.pw_dir, u.pw_dir)])

    def test_env_option_still_overrides_for_the_named_user(self):
        r = self.fire(policy([node("n", [echo("%USERPROFILE%", "e")])]), start="OUTLOOK.EXE",
                      env=self.env_of_the_elevated_caller(),
                      extra=["--user", self.user.pw_name, "--env", "USERPROFILE=/given"])
        self.assertExit(r, s.EXIT_OK)
        self.assertEqual(s.echo_messages(r.events), ["/given"])

    def test_default_state_folder_is_in_the_named_users_profile(self):
        if not self.own_home:
            self.skipTest("needs a throwaway account with its own profile folder "
                          "(root and useradd)")
        pol = self.write_policy(policy([node("n", [whoami("w")])]))
        r = self.run_emhost(["fire", pol, "--process-start", "OUTLOOK.EXE", "--user",
                             self.user.pw_name, "--audit", self.audit_path],
                            env=self.env_of_the_elevated_caller())
        self.assertExit(r, s.EXIT_OK)
        expected = os.path.join(self.own_home, ".local", "state", "emhost", "example.WhoAmI")
        self.assertEqual(whoami_details(r.events)["w"]["stateDir"], expected)
        self.assertTrue(os.path.isdir(expected))


if __name__ == "__main__":
    s.main()
