"""A run killed at any point (SIGKILL: a power cut, a task-manager kill)
never leaves a torn backup, loses nothing and leaks nothing once the next
run has finished.

Needs a build with PSTSNAP_FAULT_INJECTION: the engine then counts the
fault points it passes (plugin/core/fault.h), logs them with
PSTSNAP_FAULT_TRACE=FILE and kills itself at the Nth with
PSTSNAP_FAULT_KILL_AT=N.

The initial state is a finished backup of version A of two PSTs, after which
both changed (version B: Big.pst grew to 40 MiB, Small.pst changed in place)
and a third PST appeared that was never backed up. With 64 KiB blocks Big.pst
has 640 blocks and a checkpoint at 32 MiB, so a kill can land before any
checkpoint, between two, or after the last; Big.pst's copy is a delta, its
staging file a clone of the backup. One full run is traced; then, for a
spread of its points that covers every point name, the test restores the
initial state (from btrfs snapshots, which keep file ids and change times,
so every killed run takes the same delta path), runs with a kill at that
point and checks:
- after the kill: every file under a final name is absent (only if it had no
  backup before), the previous backup (A), or the source (B); the manifest,
  if there is one, parses;
- after a run without the kill: every final equals its source, the manifest
  parses and names all three, and nothing is left behind (staging files,
  journals, snapshot subvolumes, reflink clones, snapshot records);
- a run after that finds nothing to do (the manifest tells the truth).
The same is done for the snapshot points with the reflink provider. Finally
the source changes between the killed run and the resume (same size, and
shorter): the resume must publish the new content.

Prints "points: N, torn: T, lost: L, leaked: K" and fails unless all three
counts are zero.
"""
import os
import unittest

import backup_support as bs

BLOCK_KIB = 64
BIG_A = 24 * bs.MiB
BIG_B = 40 * bs.MiB  # > 32 MiB: one checkpoint inside the copy
SMALL = 640 * 1024 + 123  # a partial last block
OTHER = 1 * bs.MiB
MIN_POINTS = 100
AIM_POINTS = 90  # btrfs; with the reflink snapshot points, over 100 (the test takes < 60 s)
POINT_NAMES = {
    "journal.created", "journal.before-flush", "journal.committed", "copy.block.written",
    "copy.staging.before-flush", "copy.staging.flushed", "publish.before-rename",
    "publish.after-rename", "manifest.before-write", "atomic-file.written",
    "manifest.after-write", "snapshot.before-create", "snapshot.after-create",
    "snapshot.before-release", "snapshot.after-release",
    # The delta: Big.pst's staging file starts as a clone of its backup.
    "copy.base.cloned",
    # Half of a write's bytes are on disk (a staged block, journal records,
    # a snapshot record line, the manifest's temporary file): a torn write.
    "write.torn",
}
# The bulk of a run: each staged block is a torn write then a written block.
BULK = "copy.block.written"
SIGKILL_STATUS = -9


def is_bulk(trace, i):
    """A staged block's write: the block written, or the torn half before it."""
    name = trace[i][1]
    return name == BULK or (name == "write.torn" and i + 1 < len(trace)
                            and trace[i + 1][1] == BULK)


def choose_points(trace, min_points):
    """Every point that is not part of a block write, the block writes next
    to a checkpoint, then block writes spread evenly until min_points,
    alternating between a whole block written and a block torn in half."""
    chosen = set()
    for i, (n, name) in enumerate(trace):
        if not is_bulk(trace, i):
            chosen.add(n)
            # The writes on either side of a checkpoint, and the first and
            # last of a file: where resume logic changes its mind.
            for j in (i - 2, i - 1, i + 1, i + 2):
                if 0 <= j < len(trace) and is_bulk(trace, j):
                    chosen.add(trace[j][0])
    bulk = [i for i in range(len(trace)) if is_bulk(trace, i) and trace[i][0] not in chosen]
    # Index of the torn write of each block (the whole block is the next).
    blocks = [i for i in bulk if trace[i][1] == "write.torn"]
    want = max(min_points - len(chosen), 12)
    if blocks:
        step = max(1, len(blocks) // want)
        for k, i in enumerate(blocks[step // 2::step][:want]):
            chosen.add(trace[i + (k % 2)][0])
    return sorted(chosen)


def snapshot_neighbourhood(trace, names):
    """The points named in `names`, and the torn writes (snapshot record
    lines) right beside the snapshot points."""
    out = set()
    for i, (n, name) in enumerate(trace):
        if name in names:
            out.add(n)
            for j in ((i - 1, i + 1) if name.startswith("snapshot.") else ()):
                if 0 <= j < len(trace) and trace[j][1] == "write.torn" and not is_bulk(trace, j):
                    out.add(trace[j][0])
    return sorted(out)


class KillResume(unittest.TestCase):
    def setUp(self):
        self.sb = sb = bs.Sandbox(self, "kill")
        self.big = os.path.join(sb.outlook_dir, "Big.pst")
        self.small = os.path.join(sb.outlook_dir, "Small.pst")
        self.other = os.path.join(sb.files_dir, "Other.pst")
        self.params = {"blockSize": BLOCK_KIB}
        # The destination and the state folder are subvolumes, restored from
        # snapshots: a snapshot keeps every file id and change time, so the
        # blockmaps still describe the restored backups and each killed run
        # takes the delta path (a clone of the backup) as the traced one did.
        # A copy would give new file ids, and every run a full write.
        for d in (sb.fd, sb.state):
            os.rmdir(d)
            bs.run_tool(["btrfs", "subvolume", "create", d])
            self.addCleanup(self.delete_subvolume, d)
        self.golden = os.path.join(sb.work, "golden")
        self.torn = self.lost = self.leaked = self.stale = self.missed = 0
        self.points = 0
        self.problems = []

    # --- the initial state -------------------------------------------------------
    def build_initial_state(self, provider):
        sb = self.sb
        bs.write_random_file(self.big, BIG_A, "big-A")
        bs.write_random_file(self.small, SMALL, "small-A")
        for p in (self.big, self.small):
            bs.set_mtime_past(p, 7200)
        run = sb.fire(dict(self.params, snapshot=provider))
        self.assertEqual(run.rc, 0, run.describe())
        self.assertEqual(run.summary().get("copied"), 2, run.describe())
        self.previous = {p: bs.sha256_of(sb.final_for(p)) for p in (self.big, self.small)}
        self.previous[self.other] = None  # never backed up
        # Version B: Big grows and changes at its start, Small changes in
        # place, Other is new. Old mtimes: the run must see them as changed
        # because they are, not because they were just written.
        bs.write_random_file(self.big, BIG_B, "big-B")
        bs.write_random_file(self.small, SMALL, "small-B")
        bs.write_random_file(self.other, OTHER, "other-B")
        for p in (self.big, self.small, self.other):
            bs.set_mtime_past(p, 3600)
        self.source = {p: bs.sha256_of(p) for p in (self.big, self.small, self.other)}
        os.makedirs(self.golden, exist_ok=True)
        for d in (sb.fd, sb.state):
            g = os.path.join(self.golden, os.path.basename(d))
            self.delete_subvolume(g)
            bs.run_tool(["btrfs", "subvolume", "snapshot", d, g])
            self.addCleanup(self.delete_subvolume, g)

    @staticmethod
    def delete_subvolume(path):
        if os.path.isdir(path):
            bs.run_tool(["btrfs", "subvolume", "delete", path], check=False)

    def restore(self):
        """Back to the initial state: destination and state as they were,
        the same files (ids, change times) and not copies of them."""
        sb = self.sb
        for d in (sb.fd, sb.state):
            self.delete_subvolume(d)
        # A deleted subvolume's space comes back when btrfs's cleaner has
        # dropped it, in the background, at the next commit (up to 30 s
        # away): commit now and wait, or a hundred restores fill the
        # fixture's small volume.
        bs.run_tool(["btrfs", "filesystem", "sync", sb.mnt], check=False)
        bs.run_tool(["btrfs", "subvolume", "sync", sb.mnt], check=False)
        for d in (sb.fd, sb.state):
            bs.run_tool(["btrfs", "subvolume", "snapshot",
                         os.path.join(self.golden, os.path.basename(d)), d])
        self.clear_artifacts()

    def clear_artifacts(self):
        """Remove snapshots and clones a failed check left, so that one
        problem is counted once and not again at every later point."""
        for sub in bs.subvolumes_below(self.sb.profile):
            bs.run_tool(["btrfs", "subvolume", "delete", sub], check=False)
        for dirpath, _, files in os.walk(self.sb.profile):
            for f in files:
                if f.startswith(bs.CLONE_PREFIX):
                    os.unlink(os.path.join(dirpath, f))

    # --- checks ---------------------------------------------------------------------
    def problem(self, counter, text):
        setattr(self, counter, getattr(self, counter) + 1)
        self.problems.append(f"[{counter}] {text}")
        print(f"  {counter.upper()}: {text}")

    def manifest_problem(self):
        try:
            paths = self.sb.manifest_paths()
            if paths:
                self.sb.load_manifest()
        except (AssertionError, ValueError) as e:
            return str(e)
        return None

    def check_after_kill(self, label):
        sb = self.sb
        torn = []
        for src in (self.big, self.small, self.other):
            final = sb.final_for(src)
            allowed = {self.previous[src], self.source[src]}
            got = bs.sha256_of(final) if os.path.exists(final) else None
            if got not in allowed:
                torn.append(f"{os.path.basename(final)} is "
                            f"{'missing' if got is None else 'neither the old backup nor the source'}")
        for rel in sb.dest_files():
            name = os.path.basename(rel)
            if not (name.endswith(".pst") or name.endswith(bs.STAGING_SUFFIX)):
                torn.append(f"unexpected file '{rel}' in the destination")
        why = self.manifest_problem()
        if why:
            torn.append(f"manifest after the kill: {why}")
        if torn:
            self.problem("torn", f"{label}: " + "; ".join(torn))

    def check_resumed(self, label, provider):
        sb = self.sb
        run = sb.fire(dict(self.params, snapshot=provider))
        lost = []
        if run.rc != 0:
            lost.append(f"the run after the kill failed:\n{run.describe()}")
        for src in (self.big, self.small, self.other):
            final = sb.final_for(src)
            if not os.path.exists(final) or bs.sha256_of(final) != bs.sha256_of(src):
                lost.append(f"{os.path.basename(final)} does not equal its source")
        why = self.manifest_problem()
        if why or not sb.manifest_paths():
            lost.append(f"manifest: {why or 'missing'}")
        else:
            keys = {e.get("key") for e in sb.load_manifest().get("files", [])}
            want = {"Outlook/Big.pst", "Outlook/Small.pst", "Outlook Files/Other.pst"}
            if keys != want:
                lost.append(f"manifest names {sorted(keys)}, not {sorted(want)}")
        if lost:
            self.problem("lost", f"{label}: " + "; ".join(lost))
        left = sb.leftovers()
        if left:
            self.problem("leaked", f"{label}: left behind: {left}")
            self.clear_artifacts()
        if not lost:
            again = sb.fire(dict(self.params, snapshot=provider))
            if again.rc != 0 or again.summary().get("copied") != 0 or \
                    again.has(bs.EV_SNAPSHOT_CREATED):
                self.problem("stale", f"{label}: the run after the resume did work again:\n"
                                      f"{again.describe()}")
        return run

    def trace_reference(self, provider):
        trace_path = os.path.join(self.sb.work, f"trace-{provider}.txt")
        run = self.sb.fire(dict(self.params, snapshot=provider),
                           env={"PSTSNAP_FAULT_TRACE": trace_path})
        trace = bs.read_trace(trace_path)
        if not trace:
            bs.skip("build without PSTSNAP_FAULT_INJECTION (no fault point was traced; "
                    "configure with -DPSTSNAP_FAULT_INJECTION=ON)")
        self.assertEqual(run.rc, 0, run.describe())
        self.assertEqual(run.summary().get("copied"), 3, run.describe())
        for src in (self.big, self.small, self.other):
            self.assertEqual(bs.sha256_of(self.sb.final_for(src)), self.source[src])
        self.assertEqual(self.sb.leftovers(), {})
        return trace

    def kill_at(self, target, provider, label_extra="", may_miss=False):
        """Run with a kill at `target`, "NAME#K" (the Kth point called NAME:
        the number of other points, such as the checkpoints taken every
        second, varies from run to run); the name of the point it died at,
        or None when the run passed fewer such points and finished
        (`may_miss`)."""
        trace_path = os.path.join(self.sb.work, f"trace-kill-{provider}.txt")
        if os.path.exists(trace_path):
            os.unlink(trace_path)
        run = self.sb.fire(dict(self.params, snapshot=provider),
                           env={"PSTSNAP_FAULT_TRACE": trace_path,
                                "PSTSNAP_FAULT_KILL_AT": target})
        trace = bs.read_trace(trace_path)
        died_at = trace[-1] if trace else (None, None)
        name = target.rpartition("#")[0]
        if may_miss and run.rc == 0 and sum(1 for _, n in trace if n == name) < \
                int(target.rpartition("#")[2]):
            return None
        if run.rc != SIGKILL_STATUS or died_at[1] != name:
            self.fail(f"{target}{label_extra}: expected emhost to die by SIGKILL there, "
                      f"it exited {run.rc} after point {died_at}\n{run.describe()}")
        return died_at[1]

    def run_matrix(self, provider, only=None):
        self.build_initial_state(provider)
        trace = self.trace_reference(provider)
        names_in_trace = {name for _, name in trace}
        if only is None:
            missing = POINT_NAMES - names_in_trace
            self.assertEqual(missing, set(), f"the traced run never reached {missing}")
            points = choose_points(trace, AIM_POINTS)
        else:
            points = snapshot_neighbourhood(trace, only)
        kinds, name_of = {}, dict(trace)
        for n in points:
            kinds[name_of[n]] = kinds.get(name_of[n], 0) + 1
        print(f"{provider}: {len(trace)} points in a full run; killing at {len(points)} of them: "
              + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
        covered = set()
        occurrence, seen = {}, {}
        for n, name in trace:
            seen[name] = seen.get(name, 0) + 1
            occurrence[n] = f"{name}#{seen[name]}"
        for n in points:
            self.restore()
            name = self.kill_at(occurrence[n], provider, may_miss=True)
            if name is None:
                self.missed += 1
                continue
            covered.add(name)
            label = f"{provider} kill at {occurrence[n]} (point {n} of the traced run)"
            self.points += 1
            self.check_after_kill(label)
            self.check_resumed(label, provider)
        if only is None:
            self.assertEqual(POINT_NAMES - covered, set(), "points never killed at")
        return trace

    def report(self):
        line = f"points: {self.points}, torn: {self.torn}, lost: {self.lost}, leaked: {self.leaked}"
        print(line)
        if self.missed:
            print(f"not reached (that run passed fewer points of the kind): {self.missed}")
        self.assertGreaterEqual(self.points, MIN_POINTS, "too few kill points")
        if self.stale:
            print(f"stale manifests: {self.stale}")
        self.assertEqual((self.torn, self.lost, self.leaked, self.stale), (0, 0, 0, 0),
                         line + "\n" + "\n".join(self.problems))

    # --- the tests ------------------------------------------------------------------------
    def test_kill_at_every_kind_of_point_then_resume(self):
        self.run_matrix("btrfs")
        snapshot_points = {n for n in POINT_NAMES if n.startswith("snapshot.")} | \
            {"publish.after-rename", "copy.staging.flushed"}
        self.clear_artifacts()
        self.run_matrix("reflink", only=snapshot_points)
        self.report()

    def test_resume_after_the_source_changed_publishes_the_new_content(self):
        self.build_initial_state("btrfs")
        trace = self.trace_reference("btrfs")
        # Die a few blocks after the checkpoint inside Big.pst's copy: the
        # staging file then holds blocks the journal vouches for and some it
        # does not.
        names = [name for _, name in trace]
        first = names.index("journal.committed")
        blocks_after = [i for i in range(first, len(names)) if names[i] == "copy.block.written"]
        self.assertGreater(len(blocks_after), 5, "no checkpoint inside Big.pst's copy")
        at = blocks_after[5]
        n = f"copy.block.written#{names[:at + 1].count('copy.block.written')}"
        for variant in ("same size", "shorter"):
            bs.write_random_file(self.big, BIG_B, "big-B")
            bs.set_mtime_past(self.big, 3600)
            self.restore()
            self.assertEqual(self.kill_at(n, "btrfs", f" ({variant})"), "copy.block.written")
            self.assertTrue(os.path.exists(self.sb.staging_for(self.big)), "nothing was staged")
            with open(self.big, "r+b") as f:
                for block in (0, 100, 511):  # all three inside the checkpointed part
                    f.seek(block * BLOCK_KIB * 1024 + 77)
                    f.write(os.urandom(4096))
                if variant == "shorter":
                    f.truncate(BIG_B - 5 * bs.MiB - 999)
            bs.set_mtime_past(self.big, 600)
            run = self.sb.fire(dict(self.params, snapshot="btrfs"))
            self.assertEqual(run.rc, 0, run.describe())
            resumed = [e for e in run.of(bs.EV_RESUMED) if e["detail"]["path"] == self.big]
            self.assertEqual(len(resumed), 1, f"no resume event for Big.pst\n{run.describe()}")
            self.assertGreater(resumed[0]["detail"]["stagedBlocks"], 0, run.describe())
            self.assertFalse(resumed[0]["detail"]["sourceUnchanged"], run.describe())
            for src in (self.big, self.small, self.other):
                self.assertEqual(bs.sha256_of(self.sb.final_for(src)), bs.sha256_of(src),
                                 f"{variant}: the backup of {os.path.basename(src)} is not the "
                                 f"current source\n{run.describe()}")
            self.assertEqual(self.sb.leftovers(), {}, variant)
            print(f"source changed ({variant}) after a kill at {n}: resumed, "
                  f"{resumed[0]['detail']['stagedBlocks']} staged blocks re-checked; the backup "
                  "equals the new source")


if __name__ == "__main__":
    bs.main()
