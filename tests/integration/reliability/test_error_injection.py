"""I/O errors at the worst moments: short writes and reads, EIO, ENOSPC and
EACCES injected into reads, writes, flushes, opens and renames of the
source, the staging file, the resume journal and the manifest.

Needs a build with PSTSNAP_FAULT_INJECTION: the POSIX platform layer then
reads PSTSNAP_FAULT_ERROR=CALL[@PART]:ERROR:NTH[+] (see
plugin/platform/posix/pf_fault_posix.c) and fails the NTH matching call.

The initial state is a finished backup of version A of two PSTs after which
both changed (version B). For each row of the table the test restores that
state, runs with the fault and checks:
- a failing fault: emhost exits 1, an error event with the expected id
  whose message names the file concerned and the system's reason; every
  final name holds the previous backup (A) or, for a file published before
  the fault struck, the source (B); the file the fault hit still holds A;
- a harmless fault (a short transfer, which the platform layer must finish):
  exit 0 and the backups equal the sources;
then that a run without the fault succeeds, every backup equals its source
and nothing is left behind.
"""
import os
import shutil
import unittest

import backup_support as bs

BLOCK_KIB = 64
BIG = 3 * bs.MiB + 4321  # several blocks, a partial last one
SMALL = 200 * 1024
EV_COPY_FAILED = 9822  # plugin/core/events.h

EIO = "Input/output error"
ENOSPC = "No space left on device"
EACCES = "Permission denied"

# (name, PSTSNAP_FAULT_ERROR, expected event id or None for success,
#  text the event's message must hold, the file that must keep its old backup)
CASES = [
    ("source read EIO", "read@Big.pst:EIO:1", EV_COPY_FAILED, ["Big.pst", EIO], "big"),
    ("source read EACCES", "read@Big.pst:EACCES:1", EV_COPY_FAILED, ["Big.pst", EACCES], "big"),
    ("source read short", "read@Big.pst:short:1+", None, [], None),
    ("source open EACCES", "open@Big.pst:EACCES:1", EV_COPY_FAILED, ["Big.pst", EACCES], "big"),
    ("staging write EIO", "write@Big.pst.pstsnap.partial:EIO:3", EV_COPY_FAILED,
     ["Big.pst.pstsnap.partial", EIO], "big"),
    ("staging write ENOSPC", "write@Big.pst.pstsnap.partial:ENOSPC:2+", bs.EV_NO_SPACE,
     ["Big.pst.pstsnap.partial", ENOSPC], "big"),
    ("staging write EACCES", "write@Small.pst.pstsnap.partial:EACCES:1", EV_COPY_FAILED,
     ["Small.pst.pstsnap.partial", EACCES], "small"),
    ("staging write short", "write@.pstsnap.partial:short:1+", None, [], None),
    ("staging open EACCES", "open@Big.pst.pstsnap.partial:EACCES:1", EV_COPY_FAILED,
     ["Big.pst.pstsnap.partial", EACCES], "big"),
    ("staging flush EIO", "sync@Big.pst.pstsnap.partial:EIO:1", EV_COPY_FAILED,
     ["Big.pst.pstsnap.partial", EIO], "big"),
    ("staging read-back EIO (verify)", "read@Big.pst.pstsnap.partial:EIO:1", EV_COPY_FAILED,
     ["Big.pst.pstsnap.partial", EIO], "big"),
    ("publish rename EIO", "rename@Outlook/Big.pst:EIO:1", EV_COPY_FAILED,
     ["Big.pst", EIO], "big"),
    ("publish rename EACCES", "rename@Outlook/Small.pst:EACCES:1", EV_COPY_FAILED,
     ["Small.pst", EACCES], "small"),
    ("publish rename ENOSPC", "rename@Outlook/Big.pst:ENOSPC:1", bs.EV_NO_SPACE,
     ["Big.pst", ENOSPC], "big"),
    ("journal write ENOSPC", "write@/journals/:ENOSPC:1+", bs.EV_NO_SPACE,
     ["journals", ENOSPC], "both"),
    ("journal write EIO", "write@/journals/:EIO:2", EV_COPY_FAILED, ["journals", EIO], "one"),
    ("journal flush EIO", "sync@/journals/:EIO:1", EV_COPY_FAILED, ["journals", EIO], "one"),
    ("manifest write ENOSPC", "write@/manifests/:ENOSPC:1+", bs.EV_NO_SPACE,
     ["manifests", ENOSPC], None),
    ("manifest write EIO", "write@/manifests/:EIO:1", EV_COPY_FAILED, ["manifests", EIO], None),
    ("manifest write EACCES", "write@/manifests/:EACCES:1", EV_COPY_FAILED,
     ["manifests", EACCES], None),
    ("manifest write short", "write@/manifests/:short:1+", None, [], None),
    ("manifest rename EIO", "rename@/manifests/:EIO:1", EV_COPY_FAILED, ["manifests", EIO],
     None),
    ("manifest rename EACCES", "rename@/manifests/:EACCES:1", EV_COPY_FAILED,
     ["manifests", EACCES], None),
]


class ErrorInjection(unittest.TestCase):
    def setUp(self):
        self.sb = sb = bs.Sandbox(self, "errinj")
        self.big = os.path.join(sb.outlook_dir, "Big.pst")
        self.small = os.path.join(sb.outlook_dir, "Small.pst")
        self.params = {"blockSize": BLOCK_KIB, "snapshot": "btrfs", "verify": "full"}
        self.golden = os.path.join(sb.work, "golden")
        bs.write_random_file(self.big, BIG, "big-A")
        bs.write_random_file(self.small, SMALL, "small-A")
        for p in (self.big, self.small):
            bs.set_mtime_past(p, 7200)
        run = sb.fire(self.params)
        self.assertEqual(run.rc, 0, run.describe())
        self.previous = {p: bs.sha256_of(sb.final_for(p)) for p in (self.big, self.small)}
        bs.write_random_file(self.big, BIG, "big-B")
        bs.write_random_file(self.small, SMALL, "small-B")
        for p in (self.big, self.small):
            bs.set_mtime_past(p, 3600)
        self.source = {p: bs.sha256_of(p) for p in (self.big, self.small)}
        os.makedirs(self.golden)
        for d in (sb.fd, sb.state):
            bs.run_tool(["cp", "-a", d, self.golden])

    def restore(self):
        sb = self.sb
        for d in (sb.fd, sb.state):
            shutil.rmtree(d)
            bs.run_tool(["cp", "-a", os.path.join(self.golden, os.path.basename(d)),
                         os.path.dirname(d)])

    def check_case(self, name, spec, event, texts, kept):
        sb = self.sb
        problems = []
        self.restore()
        run = sb.fire(self.params, env={"PSTSNAP_FAULT_ERROR": spec})
        finals = {p: (bs.sha256_of(sb.final_for(p)) if os.path.exists(sb.final_for(p)) else None)
                  for p in (self.big, self.small)}
        if event is None:
            if run.rc != 0:
                problems.append(f"expected success, exit {run.rc}")
            for p, got in finals.items():
                if got != self.source[p]:
                    problems.append(f"{os.path.basename(p)} does not equal its source")
        else:
            if run.rc != 1:
                problems.append(f"expected exit 1, got {run.rc}")
            errors = [e for e in run.of(event) if e.get("level") == "error"]
            if not errors:
                problems.append(f"no error event {event}")
            elif not any(all(t in e.get("message", "") for t in texts) for e in errors):
                problems.append(f"no event {event} names {texts}: "
                                f"{[e.get('message') for e in errors]}")
            for p, got in finals.items():
                if got not in (self.previous[p], self.source[p]):
                    problems.append(f"{os.path.basename(p)} is torn or missing")
            hit = {"big": [self.big], "small": [self.small], "both": [self.big, self.small],
                   None: []}.get(kept, [])
            for p in hit:
                if finals[p] != self.previous[p]:
                    problems.append(f"the previous backup of {os.path.basename(p)} was not kept")
            if kept == "one" and all(finals[p] != self.previous[p] for p in finals):
                problems.append("no previous backup was kept although a file failed")
        again = sb.fire(self.params)
        if again.rc != 0:
            problems.append(f"the next run failed:\n{again.describe()}")
        for p in (self.big, self.small):
            if bs.sha256_of(sb.final_for(p)) != self.source[p]:
                problems.append(f"after the next run {os.path.basename(p)} is not its source")
        left = sb.leftovers()
        if left:
            problems.append(f"left behind: {left}")
        sb.load_manifest()
        if problems:
            return f"{name} ({spec}): " + "; ".join(problems) + "\n" + run.describe()
        return None

    def test_injected_errors_fail_cleanly_and_the_next_run_succeeds(self):
        probe = self.sb.fire(self.params, env={"PSTSNAP_FAULT_ERROR": "read@Big.pst:EIO:1"})
        if probe.rc == 0:
            bs.skip("build without PSTSNAP_FAULT_INJECTION (an injected error had no effect; "
                    "configure with -DPSTSNAP_FAULT_INJECTION=ON)")
        failures = []
        for case in CASES:
            why = self.check_case(*case)
            print(f"{'FAIL' if why else 'ok  '} {case[0]}")
            if why:
                failures.append(why)
        print(f"error cases: {len(CASES)}, failed: {len(failures)}")
        self.assertEqual(failures, [], "\n\n".join(failures))


if __name__ == "__main__":
    bs.main()
