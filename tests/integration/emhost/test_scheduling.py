"""How emhost schedules nodes and actions, against Environment Manager's rules.

em-reference T10 (siblings in parallel, children in sequence after success),
T13 (disabled nodes), T14/C2 (timeouts: late work finishes but counts as
failed and its children do not run; an action's timeout overrides the
node's; 0 is infinite), T21 (Stop Sub Nodes on Fail), T8/T9 (process name
conditions), T18 (counter: N runs per session), A3 (9428-9431).

Timings use the audit events: each 9428-9431 event is written when the
action ends and carries its duration, so start = time - durationMs. Sleeps
are 500 ms and the limits leave room for a loaded machine while still
telling parallel from sequential.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import emhost_support as s  # noqa: E402
from emhost_support import echo, node, policy, process_name, counter  # noqa: E402

# Audit times have millisecond resolution and come from the wall clock while
# durations come from the monotonic clock: allow a few ms of rounding.
ROUNDING = 0.005


class Ordering(s.EmhostTestCase):
    def test_nodes_under_a_trigger_run_one_after_another_in_policy_order(self):
        r = self.fire(policy([node("first", [echo("1", "a1", sleep_ms=300)]),
                              node("second", [echo("2", "a2")]),
                              node("third", [echo("3", "a3", sleep_ms=100)])]),
                      start="OUTLOOK.EXE")
        self.assertExit(r, s.EXIT_OK)
        self.assertEqual(s.echo_messages(r.events), ["1", "2", "3"])
        a1 = s.action_span(self.assertActionResult(r.events, "a1", "success"))
        a2 = s.action_span(self.assertActionResult(r.events, "a2", "success"))
        a3 = s.action_span(self.assertActionResult(r.events, "a3", "success"))
        self.assertGreaterEqual(a2[0], a1[1] - ROUNDING)
        self.assertGreaterEqual(a3[0], a2[1] - ROUNDING)

    def test_sibling_actions_run_in_parallel(self):
        r = self.fire(policy([node("n", [echo("x", "p%d" % i, sleep_ms=500) for i in range(3)])]),
                      start="OUTLOOK.EXE")
        self.assertExit(r, s.EXIT_OK)
        spans = [s.action_span(self.assertActionResult(r.events, "p%d" % i, "success"))
                 for i in range(3)]
        for start, end in spans:
            self.assertGreaterEqual(end - start, 0.5 - ROUNDING)
        total = max(e for _, e in spans) - min(b for b, _ in spans)
        # In sequence this would be 1.5 s.
        self.assertLess(total, 0.9, "siblings took %.3f s in all: not parallel" % total)
        self.assertLess(r.elapsed, 1.4)

    def test_child_actions_run_in_sequence_after_their_parent(self):
        parent = echo("parent", "parent", sleep_ms=500,
                      children=[echo("c1", "c1", sleep_ms=500), echo("c2", "c2")])
        r = self.fire(policy([node("n", [parent])]), start="OUTLOOK.EXE")
        self.assertExit(r, s.EXIT_OK)
        self.assertEqual(s.echo_messages(r.events), ["parent", "c1", "c2"])
        p = s.action_span(self.assertActionResult(r.events, "parent", "success"))
        c1 = s.action_span(self.assertActionResult(r.events, "c1", "success"))
        c2 = s.action_span(self.assertActionResult(r.events, "c2", "success"))
        self.assertGreaterEqual(c1[0], p[1] - ROUNDING, "c1 started before its parent ended")
        self.assertGreaterEqual(c2[0], c1[1] - ROUNDING, "c2 started before c1 ended")
        self.assertGreaterEqual(c1[1] - p[0], 1.0 - ROUNDING)
        self.assertGreaterEqual(r.elapsed, 1.0)

    def test_parallel_chains_each_keep_their_children_in_sequence(self):
        chains = [echo("a", "a", sleep_ms=500, children=[echo("a1", "a1", sleep_ms=500)]),
                  echo("b", "b", sleep_ms=500, children=[echo("b1", "b1", sleep_ms=500)])]
        r = self.fire(policy([node("n", chains)]), start="OUTLOOK.EXE")
        self.assertExit(r, s.EXIT_OK)
        spans = {d: s.action_span(self.assertActionResult(r.events, d, "success"))
                 for d in ("a", "a1", "b", "b1")}
        self.assertGreaterEqual(spans["a1"][0], spans["a"][1] - ROUNDING)
        self.assertGreaterEqual(spans["b1"][0], spans["b"][1] - ROUNDING)
        total = max(e for _, e in spans.values()) - min(b for b, _ in spans.values())
        self.assertGreaterEqual(total, 1.0 - ROUNDING)
        self.assertLess(total, 1.4, "two 1 s chains took %.3f s: not parallel" % total)

    def test_a_failed_action_does_not_run_its_children_but_its_sibling_runs(self):
        r = self.fire(policy([node("n", [echo("bad", "bad", fail=True,
                                              children=[echo("never", "child")]),
                                         echo("good", "sibling")])]),
                      start="OUTLOOK.EXE")
        self.assertExit(r, s.EXIT_FAILED)
        self.assertActionResult(r.events, "bad", "failure", s.PROCESS_START_FAILED)
        self.assertActionResult(r.events, "sibling", "success", s.PROCESS_START_OK)
        self.assertNotRun(r.events, "child")
        self.assertIn("1 action failed", r.stdout)

    def test_child_node_runs_after_its_parent_node(self):
        r = self.fire(policy([node("parent", [echo("p", "p", sleep_ms=300)],
                                   nodes=[node("child", [echo("c", "c")])])]),
                      start="OUTLOOK.EXE")
        self.assertExit(r, s.EXIT_OK)
        p = s.action_span(self.assertActionResult(r.events, "p", "success"))
        c = s.action_span(self.assertActionResult(r.events, "c", "success"))
        self.assertGreaterEqual(c[0], p[1] - ROUNDING)
        self.assertEqual([e["node"] for e in s.action_events(r.events)], ["parent", "child"])


class Timeouts(s.EmhostTestCase):
    def test_late_action_finishes_but_counts_as_failed_and_its_children_do_not_run(self):
        slow = echo("slow done", "slow", sleep_ms=1000, children=[echo("never", "child")])
        r = self.fire(policy([node("n", [slow], timeoutMs=300),
                              node("next", [echo("next", "next")])]),
                      start="OUTLOOK.EXE")
        self.assertExit(r, s.EXIT_FAILED)
        late = self.assertActionResult(r.events, "slow", "timeout", s.PROCESS_START_FAILED)
        # The node's deadline runs from the node's start, a moment before the
        # action's own clock starts.
        self.assertGreaterEqual(late["durationMs"], 280)
        self.assertLess(late["durationMs"], 900, "counted at the deadline, not at the end")
        self.assertIn("300 ms", late["message"])
        # It still ran to completion (T14) ...
        self.assertIn("slow done", s.echo_messages(r.events))
        finished = s.named(r.events, "action.finishedLate")
        self.assertEqual(len(finished), 1, r)
        self.assertIn("'slow'", finished[0]["message"])
        self.assertEqual(finished[0].get("node"), "n")
        # ... but its child never ran, and the next node did not wait for it.
        self.assertNotRun(r.events, "child")
        nxt = s.action_span(self.assertActionResult(r.events, "next", "success"))
        slow_end = s.parse_time(s.named(r.events, "example.echo", "slow")[0]["time"])
        self.assertLess(nxt[0], slow_end, "the next node waited for the late action")
        # emhost itself waits for the late action before it exits.
        self.assertGreaterEqual(r.elapsed, 1.0)

    def test_node_timeout_applies_to_the_whole_chain(self):
        # 250 + 250 ms in sequence do not fit in a 400 ms node.
        chain = echo("a", "a", sleep_ms=250, children=[echo("b", "b", sleep_ms=250,
                                                           children=[echo("c", "c")])])
        r = self.fire(policy([node("n", [chain], timeoutMs=400)]), start="OUTLOOK.EXE")
        self.assertExit(r, s.EXIT_FAILED)
        self.assertActionResult(r.events, "a", "success")
        b = self.assertActionResult(r.events, "b", "timeout")
        self.assertLess(b["durationMs"], 250)
        self.assertNotRun(r.events, "c")

    def test_action_timeout_overrides_a_shorter_node_timeout(self):
        r = self.fire(policy([node("n", [echo("x", "a", sleep_ms=600, timeoutMs=2000)],
                                   timeoutMs=200)]),
                      start="OUTLOOK.EXE")
        self.assertExit(r, s.EXIT_OK)
        self.assertActionResult(r.events, "a", "success")

    def test_action_timeout_overrides_a_longer_node_timeout(self):
        r = self.fire(policy([node("n", [echo("x", "a", sleep_ms=1000, timeoutMs=300)],
                                   timeoutMs=20000)]),
                      start="OUTLOOK.EXE")
        self.assertExit(r, s.EXIT_FAILED)
        e = self.assertActionResult(r.events, "a", "timeout")
        self.assertGreaterEqual(e["durationMs"], 300)
        self.assertLess(e["durationMs"], 900)

    def test_action_timeout_zero_is_infinite(self):
        r = self.fire(policy([node("n", [echo("x", "a", sleep_ms=600, timeoutMs=0)],
                                   timeoutMs=200)]),
                      start="OUTLOOK.EXE")
        self.assertExit(r, s.EXIT_OK)
        self.assertGreaterEqual(self.assertActionResult(r.events, "a", "success")["durationMs"], 600)

    def test_node_timeout_zero_is_infinite(self):
        r = self.fire(policy([node("n", [echo("x", "a", sleep_ms=600)], timeoutMs=0)],
                             settings={"nodeTimeoutMs": 200}),
                      start="OUTLOOK.EXE")
        self.assertExit(r, s.EXIT_OK)
        self.assertActionResult(r.events, "a", "success")

    def test_settings_node_timeout_is_the_default(self):
        r = self.fire(policy([node("n", [echo("x", "a", sleep_ms=800)])],
                             settings={"nodeTimeoutMs": 300}),
                      start="OUTLOOK.EXE")
        self.assertExit(r, s.EXIT_FAILED)
        self.assertLess(self.assertActionResult(r.events, "a", "timeout")["durationMs"], 750)

    def test_settings_node_timeout_zero_is_infinite(self):
        r = self.fire(policy([node("n", [echo("x", "a", sleep_ms=500)])],
                             settings={"nodeTimeoutMs": 0}),
                      start="OUTLOOK.EXE")
        self.assertExit(r, s.EXIT_OK)

    def test_huge_settings_node_timeout_is_not_truncated(self):
        # 2^32 + 1 ms: must mean "about 50 days", never 1 ms.
        r = self.fire(policy([node("n", [echo("x", "a", sleep_ms=200)])],
                             settings={"nodeTimeoutMs": 4294967297}),
                      start="OUTLOOK.EXE")
        self.assertExit(r, s.EXIT_OK)
        self.assertActionResult(r.events, "a", "success")


class StopSubNodesOnFail(s.EmhostTestCase):
    def tree(self, stop, parent_action):
        return policy([node("parent", [parent_action], stopSubNodesOnFail=stop,
                            nodes=[node("child", [echo("child ran", "c")],
                                        nodes=[node("grandchild", [echo("gc", "gc")])])]),
                       node("after", [echo("after", "after")])])

    def test_on_failed_node_skips_its_child_nodes(self):
        r = self.fire(self.tree(True, echo("x", "p", fail=True)), start="OUTLOOK.EXE")
        self.assertExit(r, s.EXIT_FAILED)
        self.assertNotRun(r.events, "c")
        self.assertNotRun(r.events, "gc")
        skipped = s.named(r.events, "node.childrenSkipped")
        self.assertEqual(len(skipped), 1)
        self.assertIn("'parent'", skipped[0]["message"])
        # Only the failed node's subtree is skipped, not the next node.
        self.assertActionResult(r.events, "after", "success")

    def test_on_timed_out_node_skips_its_child_nodes(self):
        r = self.fire(policy([node("parent", [echo("x", "p", sleep_ms=800)], timeoutMs=200,
                                   stopSubNodesOnFail=True,
                                   nodes=[node("child", [echo("child ran", "c")])])]),
                      start="OUTLOOK.EXE")
        self.assertExit(r, s.EXIT_FAILED)
        self.assertActionResult(r.events, "p", "timeout")
        self.assertNotRun(r.events, "c")

    def test_on_succeeding_node_runs_its_child_nodes(self):
        r = self.fire(self.tree(True, echo("x", "p")), start="OUTLOOK.EXE")
        self.assertExit(r, s.EXIT_OK)
        self.assertEqual(s.echo_messages(r.events), ["x", "child ran", "gc", "after"])
        self.assertEqual(s.named(r.events, "node.childrenSkipped"), [])

    def test_off_failed_node_still_runs_its_child_nodes(self):
        r = self.fire(self.tree(False, echo("x", "p", fail=True)), start="OUTLOOK.EXE")
        self.assertExit(r, s.EXIT_FAILED)
        self.assertActionResult(r.events, "p", "failure")
        self.assertActionResult(r.events, "c", "success")
        self.assertActionResult(r.events, "gc", "success")
        self.assertEqual(s.named(r.events, "node.childrenSkipped"), [])


class Disabled(s.EmhostTestCase):
    def test_disabled_nodes_and_actions_are_not_run(self):
        pol = policy([
            node("off", [echo("x", "in disabled node")], enabled=False,
                 nodes=[node("under off", [echo("x", "under disabled node")])]),
            node("on", [echo("x", "disabled action", enabled=False,
                             children=[echo("x", "child of disabled action")]),
                        echo("x", "enabled action", enabled=True)],
                 enabled=True, nodes=[node("child off", [echo("x", "in disabled child")],
                                           enabled=False)]),
        ])
        r = self.fire(pol, start="OUTLOOK.EXE")
        self.assertExit(r, s.EXIT_OK)
        self.assertEqual([e["action"] for e in s.action_events(r.events)], ["enabled action"])
        v = self.run_emhost(["validate", self.write_policy(pol, "again.json")])
        self.assertExit(v, s.EXIT_OK)
        self.assertIn("(1 plugin, 1 node, 1 action)", v.stdout)


class Conditions(s.EmhostTestCase):
    def runs_for(self, conditions, image, **kw):
        """Fire once for `image` (own audit file); True when the node ran."""
        audit = os.path.join(self.dir, "audit-%s-%d.jsonl" % (image, len(os.listdir(self.dir))))
        r = self.fire(policy([node("n", [echo(image, "a")], conditions=conditions)]),
                      start=image, audit=audit, **kw)
        self.assertExit(r, s.EXIT_OK)
        events = s.read_audit(audit)
        ran = len(s.action_events(events, "a"))
        self.assertIn(ran, (0, 1))
        return ran == 1

    def test_equal_is_case_insensitive_and_exact(self):
        cond = [process_name("Equal", "outlook.exe")]
        self.assertTrue(self.runs_for(cond, "OUTLOOK.EXE"))
        self.assertTrue(self.runs_for(cond, "Outlook.Exe"))
        self.assertFalse(self.runs_for(cond, "OUTLOOK.EXE2"))
        self.assertFalse(self.runs_for(cond, "OUTLOOK"))
        self.assertFalse(self.runs_for(cond, "notepad.exe"))

    def test_not_equal_is_case_insensitive(self):
        cond = [process_name("NotEqual", "notepad.exe")]
        self.assertTrue(self.runs_for(cond, "OUTLOOK.EXE"))
        self.assertFalse(self.runs_for(cond, "NOTEPAD.EXE"))
        self.assertFalse(self.runs_for(cond, "notepad.exe"))

    def test_regex_negation_as_documented(self):
        cond = [process_name("RegEx", "^!(notepad.exe)")]
        self.assertTrue(self.runs_for(cond, "OUTLOOK.EXE"))
        self.assertTrue(self.runs_for(cond, "wordpad.exe"))
        self.assertFalse(self.runs_for(cond, "notepad.exe"))

    def test_regex_is_case_sensitive_and_supports_alternation(self):
        self.assertFalse(self.runs_for([process_name("RegEx", "^[a-f]+")], "Alice"))
        self.assertTrue(self.runs_for([process_name("RegEx", "^[a-f]+")], "alice"))
        alt = [process_name("RegEx", "^(notepad)|(winword)|(calc).exe$")]
        self.assertTrue(self.runs_for(alt, "winword.exe"))
        self.assertTrue(self.runs_for(alt, "calc.exe"))
        self.assertFalse(self.runs_for(alt, "excel.exe"))

    def test_all_conditions_of_a_node_must_hold(self):
        cond = [process_name("RegEx", "\\.EXE$"), process_name("NotEqual", "WINWORD.EXE")]
        self.assertTrue(self.runs_for(cond, "OUTLOOK.EXE"))
        self.assertFalse(self.runs_for(cond, "WINWORD.EXE"))
        self.assertFalse(self.runs_for(cond, "outlook.exe"))

    def test_counter_runs_once_per_session_across_emhost_processes(self):
        cond = [process_name("Equal", "OUTLOOK.EXE"), counter(1)]
        session = ["--session-id", "4242"]
        self.assertTrue(self.runs_for(cond, "OUTLOOK.EXE", extra=session))
        self.assertFalse(self.runs_for(cond, "OUTLOOK.EXE", extra=session))
        self.assertFalse(self.runs_for(cond, "OUTLOOK.EXE", extra=session))
        # A new session (next logon) starts counting again.
        self.assertTrue(self.runs_for(cond, "OUTLOOK.EXE", extra=["--session-id", "4243"]))

    def test_counter_allows_n_runs(self):
        cond = [counter(2)]
        session = ["--session-id", "77"]
        self.assertTrue(self.runs_for(cond, "OUTLOOK.EXE", extra=session))
        self.assertTrue(self.runs_for(cond, "OUTLOOK.EXE", extra=session))
        self.assertFalse(self.runs_for(cond, "OUTLOOK.EXE", extra=session))

    def test_counter_is_not_used_up_when_other_conditions_fail(self):
        cond = [counter(1), process_name("Equal", "OUTLOOK.EXE")]
        session = ["--session-id", "99"]
        self.assertFalse(self.runs_for(cond, "notepad.exe", extra=session))
        self.assertTrue(self.runs_for(cond, "OUTLOOK.EXE", extra=session))
        self.assertFalse(self.runs_for(cond, "OUTLOOK.EXE", extra=session))


class ProcessStopped(s.EmhostTestCase):
    def pol(self):
        return policy(started=[node("on start", [echo("start", "start action")])],
                      stopped=[node("on stop", [echo("stop", "stop ok"),
                                                echo("stop", "stop fails", fail=True)],
                                    conditions=[process_name("Equal", "OUTLOOK.EXE")])])

    def test_process_stopped_runs_its_nodes_and_audits_9430_9431(self):
        r = self.fire(self.pol(), stop="outlook.exe")
        self.assertExit(r, s.EXIT_FAILED)
        ok = self.assertActionResult(r.events, "stop ok", "success", s.PROCESS_STOP_OK)
        bad = self.assertActionResult(r.events, "stop fails", "failure", s.PROCESS_STOP_FAILED)
        for e in (ok, bad):
            self.assertEqual(e["trigger"], "processStopped")
            self.assertEqual(e["node"], "on stop")
        self.assertNotRun(r.events, "start action")
        self.assertIn("processStopped outlook.exe", r.stdout)

    def test_process_started_does_not_run_process_stopped_nodes(self):
        r = self.fire(self.pol(), start="OUTLOOK.EXE")
        self.assertExit(r, s.EXIT_OK)
        e = self.assertActionResult(r.events, "start action", "success", s.PROCESS_START_OK)
        self.assertEqual(e["trigger"], "processStarted")
        self.assertNotRun(r.events, "stop ok")
        self.assertNotRun(r.events, "stop fails")


if __name__ == "__main__":
    s.main()
