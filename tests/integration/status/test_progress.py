"""Progress of a long backup through the ABI's progress service: plain
lines at the interval when stderr is not a terminal, a bar redrawn in place
(bytes, rate, time left) on a terminal."""

import os
import pty
import re
import select
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from status_support import EMHOST, MiB, Profile  # noqa: E402

LINE = re.compile(r"^progress: pstsnap\.BackupPsts: ([\d.]+ \w+) of ([\d.]+ \w+) \((\d+)%\)(.*)$")


class Progress(unittest.TestCase):
    def setUp(self):
        self.p = Profile(self)
        # The copy reports per 4 MiB chunk; at 8 MiB/s this is 6 reports
        # over about 3 s, long enough for several intervals.
        self.p.write_pst("Mail.pst", 24 * MiB, 11)
        self.policy = self.p.policy(maxBandwidth=8)

    def test_plain_lines_at_the_interval_and_a_last_one_at_100_percent(self):
        r = self.p.fire(self.policy, "--progress", "--progress-interval", "300")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = [l for l in r.stderr.splitlines() if l.startswith("progress:")]
        self.assertNotIn("\r", r.stderr)
        for l in lines:
            self.assertRegex(l, LINE)
        percents = [int(LINE.match(l).group(3)) for l in lines]
        self.assertGreaterEqual(len(lines), 3, r.stderr)
        self.assertEqual(percents, sorted(percents))
        self.assertEqual(percents[-1], 100)
        self.assertEqual(LINE.match(lines[-1]).group(2), "24.0 MiB")
        # Lines in between carry a rate and an estimate of the time left.
        self.assertTrue(any(re.search(r", [\d.]+ \w+/s, \d+s left$", l) for l in lines[:-1]), lines)

    def test_default_interval_is_five_seconds(self):
        r = self.p.fire(self.policy, "--progress")
        lines = [l for l in r.stderr.splitlines() if l.startswith("progress:")]
        # A 3 s copy: only the line at its end.
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn("(100%)", lines[0])

    def test_no_progress_without_the_option(self):
        r = self.p.fire(self.policy)
        self.assertNotIn("progress", r.stderr)

    def test_bar_on_a_terminal(self):
        master, slave = pty.openpty()
        audit = os.path.join(self.p.root, "audit-tty.jsonl")
        proc = subprocess.Popen([EMHOST, "fire", self.policy, "--process-start", "OUTLOOK.EXE",
                                 "--audit", audit, "--progress", *self.p.common()],
                                env=self.p.env(), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=slave)
        os.close(slave)
        out = b""
        end = time.monotonic() + 60
        while time.monotonic() < end:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the other side closed: EIO on Linux
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
        proc.wait(timeout=30)
        os.close(master)
        text = out.decode("utf-8", "replace")
        self.assertEqual(proc.returncode, 0, text)
        draws = text.split("\r\x1b[K")[1:]
        self.assertGreaterEqual(len(draws), 3, repr(text))
        bar = re.compile(r"^\[([#-]{24})\] ([\d.]+ \w+) of 24\.0 MiB \((\d+)%\)(, [\d.]+ \w+/s)?"
                         r"(, \w+ left)?  pstsnap\.BackupPsts")
        for d in draws:
            self.assertRegex(d, bar)
        self.assertTrue(any(", " in d and "left" in d for d in draws[:-1]), repr(text))
        last = bar.match(draws[-1])
        self.assertEqual(last.group(1), "#" * 24)
        self.assertEqual(last.group(3), "100")
        self.assertTrue(draws[-1].endswith("\n") or draws[-1].endswith("\r\n"), repr(draws[-1]))
        self.assertNotIn("progress:", text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
