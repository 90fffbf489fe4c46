"""Variable expansion end to end, through the host's expand_vars service.

example.Echo expands its `message` with the host and audits the result
(event 9700) or the host's error (9701) and fails. EM session variables are
written $(Name) and come from --var; environment variables %NAME% come from
--env, else emhost's environment, else the user's profile (em-reference V1-V4;
on Linux %USERPROFILE% is the home folder, %LOCALAPPDATA% ~/.local/share).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import emhost_support as s  # noqa: E402
from emhost_support import echo, node, policy  # noqa: E402


class Expansion(s.EmhostTestCase):
    def expand(self, message, extra=(), env=None):
        """Fire one Echo of `message`; returns (Result, its 9700 message or None)."""
        r = self.fire(policy([node("n", [echo(message, "e")])]), start="OUTLOOK.EXE",
                      extra=extra, env=env)
        msgs = s.echo_messages(r.events)
        self.assertLessEqual(len(msgs), 1)
        return r, (msgs[0] if msgs else None)

    def assertExpands(self, message, expected, extra=(), env=None):
        r, got = self.expand(message, extra, env)
        self.assertExit(r, s.EXIT_OK)
        self.assertEqual(got, expected, r)
        self.assertActionResult(r.events, "e", "success", s.PROCESS_START_OK)
        # The detail carries the same expanded text.
        detail = [e["detail"] for e in r.events if e.get("eventId") == 9700][0]
        self.assertEqual(detail, {"expanded": expected})
        return r

    def assertUnset(self, message, expected_error, extra=(), env=None):
        r, got = self.expand(message, extra, env)
        self.assertExit(r, s.EXIT_FAILED)
        self.assertIsNone(got, "an unset variable must never expand to an empty string")
        bad = [e for e in r.events if e.get("eventId") == 9701]
        self.assertEqual(len(bad), 1, r)
        self.assertEqual(bad[0]["message"], expected_error)
        self.assertEqual(bad[0]["level"], "error")
        self.assertEqual(bad[0]["action"], "e")
        self.assertActionResult(r.events, "e", "failure", s.PROCESS_START_FAILED)
        return r

    # -- $(Name): EM session variables ------------------------------------------------
    def test_session_variable_from_var(self):
        self.assertExpands("$(DataNowHome)\\Outlook Backup", "/srv/fd/alice\\Outlook Backup",
                           extra=["--var", "DataNowHome=/srv/fd/alice"])

    def test_session_variable_names_ignore_case_and_the_last_wins(self):
        self.assertExpands("$(datanowhome)", "/second",
                           extra=["--var", "DataNowHome=/first", "--var", "DATANOWHOME=/second"])

    def test_session_variable_value_may_hold_equals_and_spaces(self):
        self.assertExpands("[$(Opt)]", "[a=b c]", extra=["--var", "Opt=a=b c"])

    def test_session_variable_is_not_taken_from_the_environment(self):
        env = s.clean_env({"DataNowHome": "/from/env"})
        self.assertUnset("$(DataNowHome)", "session variable $(DataNowHome) is not set", env=env)

    def test_unset_session_variable_is_an_error_naming_it(self):
        self.assertUnset("$(DataNowHome)\\Outlook Backup",
                         "session variable $(DataNowHome) is not set",
                         extra=["--var", "Other=x"])

    # -- %NAME%: environment ------------------------------------------------------------
    def test_environment_variable_from_the_real_environment(self):
        env = s.clean_env({"PSTSNAP_H2_FOLDER": "/data/from-env"})
        self.assertExpands("%PSTSNAP_H2_FOLDER%\\x", "/data/from-env\\x", env=env)

    def test_environment_variable_names_ignore_case(self):
        env = s.clean_env({"PSTSNAP_H2_FOLDER": "/data/x"})
        self.assertExpands("%pstsnap_h2_folder%", "/data/x", env=env)

    def test_env_option_overrides_the_environment(self):
        env = s.clean_env({"PSTSNAP_H2_FOLDER": "/data/real"})
        self.assertExpands("%PSTSNAP_H2_FOLDER%", "/data/override", env=env,
                           extra=["--env", "PSTSNAP_H2_FOLDER=/data/override"])

    def test_env_option_sets_a_variable_the_environment_lacks(self):
        env = s.clean_env(drop=["PSTSNAP_H2_FOLDER"])
        self.assertExpands("%PSTSNAP_H2_FOLDER%", "/only/option", env=env,
                           extra=["--env", "PSTSNAP_H2_FOLDER=/only/option"])

    def test_env_option_is_not_a_session_variable(self):
        self.assertUnset("$(PSTSNAP_H2_FOLDER)", "session variable $(PSTSNAP_H2_FOLDER) is not set",
                         extra=["--env", "PSTSNAP_H2_FOLDER=/x"])

    def test_unset_environment_variable_is_an_error_naming_it(self):
        env = s.clean_env(drop=["PSTSNAP_H2_UNSET"])
        self.assertUnset("%PSTSNAP_H2_UNSET%\\Backup", "variable %PSTSNAP_H2_UNSET% is not set",
                         env=env)

    def test_profile_variables_come_from_the_users_profile(self):
        home = os.path.join(self.dir, "profile")
        env = s.clean_env({"HOME": home}, drop=["USERPROFILE", "LOCALAPPDATA", "APPDATA"])
        self.assertExpands("%USERPROFILE%|%LOCALAPPDATA%|%APPDATA%",
                           "%s|%s/.local/share|%s/.config" % (home, home, home), env=env)

    # -- both, and literal text -----------------------------------------------------------
    def test_both_kinds_in_one_value(self):
        env = s.clean_env({"PSTSNAP_H2_USER": "alice"})
        self.assertExpands("$(DataNowHome)/%PSTSNAP_H2_USER%/$(Sub)", "/fd/alice/pst",
                           extra=["--var", "DataNowHome=/fd", "--var", "Sub=pst"], env=env)

    def test_double_percent_is_a_literal_percent(self):
        self.assertExpands("100%% sure, $5 and a lone % sign", "100% sure, $5 and a lone % sign")

    def test_a_value_is_not_expanded_again(self):
        # A variable's value is data: a reference inside it stays as it is.
        self.assertExpands("$(A)", "%PATH%", extra=["--var", "A=%PATH%"])

    def test_the_first_unset_variable_is_named(self):
        self.assertUnset("$(Set)/$(Missing)/%ALSO_MISSING_H2%",
                         "session variable $(Missing) is not set", extra=["--var", "Set=1"])

    def test_unterminated_reference_is_an_error(self):
        r = self.assertUnset("$(DataNowHome\\x", "unterminated variable reference at offset 0 in "
                             "'$(DataNowHome\\x'")
        self.assertIn("1 action failed", r.stdout)

    def test_a_failing_expansion_fails_only_its_action(self):
        pol = policy([node("n", [echo("$(Missing)", "bad"), echo("$(Here)", "good")])])
        r = self.fire(pol, start="OUTLOOK.EXE", extra=["--var", "Here=yes"])
        self.assertExit(r, s.EXIT_FAILED)
        self.assertActionResult(r.events, "bad", "failure")
        self.assertActionResult(r.events, "good", "success")
        self.assertEqual(s.echo_messages(r.events), ["yes"])


if __name__ == "__main__":
    s.main()
