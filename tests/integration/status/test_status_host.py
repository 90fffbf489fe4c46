"""emhost status / verify against the example plugin: the host side of the
ABI's query, independent of pstsnap. example.Echo answers "status" from
its last run; example.Background has no query at all."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from emhost_support import (EXIT_FAILED, EXIT_INVALID, EXIT_OK, EmhostTestCase, background, echo,  # noqa: E402
                            main, node, policy)


class StatusThroughTheAbi(EmhostTestCase):
    def status(self, path, *extra):
        return self.run_emhost(["status", path, "--state-dir", self.state_dir, *extra])

    def echo_policy(self, fail=False):
        return self.write_policy(policy(started=[node("N", [
            echo("hello", description="Say hello", fail=fail),
            background("b", work_ms=10, description="Work")])]))

    def test_never_run_needs_attention_and_an_action_without_query_is_listed(self):
        r = self.status(self.echo_policy())
        self.assertExit(r, EXIT_FAILED)
        self.assertIn("never backed up successfully", r.stdout)
        self.assertIn("Work (example.Background) in node 'N'", r.stdout)
        self.assertIn("this action has no status", r.stdout)

    def test_success_then_failure_sets_the_exit_code_and_keeps_the_last_success(self):
        path = self.echo_policy()
        self.fire(path, start="x.exe")
        r = self.status(path, "--json")
        self.assertExit(r, EXIT_OK)
        doc = json.loads(r.stdout)
        self.assertTrue(doc["healthy"])
        echo_answer = [a for a in doc["actions"] if a["actionId"] == "example.Echo"][0]
        item = echo_answer["result"]["items"][0]
        self.assertEqual(item["lastResult"], "ok")
        first_success = item["lastSuccess"]
        self.assertIsNotNone(first_success)
        bg = [a for a in doc["actions"] if a["actionId"] == "example.Background"][0]
        self.assertEqual(bg["outcome"], "unsupported")
        self.assertEqual(bg["error"], "this action has no status")

        self.fire(self.echo_policy(fail=True), start="x.exe")
        r = self.status(path, "--json")
        self.assertExit(r, EXIT_FAILED)
        item = [a for a in json.loads(r.stdout)["actions"]
                if a["actionId"] == "example.Echo"][0]["result"]["items"][0]
        self.assertEqual(item["lastResult"], "failed")
        self.assertEqual(item["lastSuccess"], first_success)
        human = self.status(path)
        self.assertExit(human, EXIT_FAILED)
        self.assertIn("last attempt failed", human.stdout)

    def test_max_age_is_judged_by_the_host(self):
        path = self.echo_policy()
        self.fire(path, start="x.exe")
        self.assertExit(self.status(path, "--max-age", "1h"), EXIT_OK)
        time.sleep(2.2)
        r = self.status(path, "--max-age", "1s")
        self.assertExit(r, EXIT_FAILED)
        self.assertIn("more than --max-age 1 s", r.stdout)
        self.assertExit(self.status(path, "--max-age", "0"), EXIT_OK)

    def test_bad_usage_and_policies_exit_2(self):
        path = self.echo_policy()
        r = self.status(path, "--max-age", "soon")
        self.assertExit(r, EXIT_INVALID)
        self.assertIn("--max-age", r.stderr)
        only_background = self.write_policy(policy(started=[node("N", [background("b")])]), "bg.json")
        r = self.status(only_background)
        self.assertExit(r, EXIT_INVALID)
        self.assertIn("answers 'status'", r.stderr)
        broken = self.write_policy('{"version": 1, "triggers": 3}', "broken.json")
        self.assertExit(self.status(broken), EXIT_INVALID)

    def test_verify_that_no_action_offers_is_exit_2(self):
        r = self.run_emhost(["verify", self.echo_policy(), "--state-dir", self.state_dir])
        self.assertExit(r, EXIT_INVALID)
        self.assertIn("example.Echo answers only 'status', not 'verify'", r.stdout)


if __name__ == "__main__":
    main()
