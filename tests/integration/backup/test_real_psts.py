"""Real Outlook stores, held open and written while they are backed up, come
out byte for byte equal, and two independent PST readers agree on them.

Every *.pst of the shared samples (PSTSNAP_SAMPLES_DIR: files made by other
projects, see its MANIFEST.tsv for the source of each) is placed in the
profile, alternating between the two default source folders, together with
the sample OST. Each file is held open by a pstrewriter, which rewrites
random ranges with the bytes they already hold: the content stays the same
while the mtime keeps moving, as with a running Outlook. One run with the
default parameters must then:
- publish every PST, each equal to its source (size + sha256: the first
  check, because the readers do not verify block CRCs);
- leave libpff (pffinfo) and libpst (readpst) reading the copy exactly as
  they read the source;
- not back up the OST (excluded by default: Outlook rebuilds it).
"""
import glob
import hashlib
import os
import re
import shutil
import subprocess
import unittest

import backup_support as bs

REWRITE_RATE = 20  # per file per second: keeps mtimes moving without hogging two cores


def pffinfo_facts(path):
    """What pffinfo says about a store, as {section: {key: value}}, without
    its version banner. It may exit 0 on a damaged store and leave out the
    "Message store:" section, so the sections are compared, not just rc."""
    p = bs.run_tool(["pffinfo", path], check=False, timeout=60)
    facts, section = {}, None
    for line in p.stdout.splitlines():
        if not line.strip() or line.startswith("pffinfo "):
            continue
        if not line.startswith("\t") and line.rstrip().endswith(":"):
            section = line.strip().rstrip(":")
            facts[section] = {}
            continue
        if section is not None and ":" in line:
            key, value = line.strip().split(":", 1)
            facts[section][key.strip()] = value.strip()
    return p.returncode, facts


# readpst output that depends on the run, not on the store.
READPST_VOLATILE = [
    (re.compile(rb"--boundary-LibPST-iamunique-\d+_-_-"), b"--boundary-LibPST-N_-_-"),
    (re.compile(rb"boundary=\"?--boundary-LibPST-iamunique-\d+_-_-\"?"), b"boundary=N"),
    (re.compile(rb"^DTSTAMP:\d{8}T\d{6}Z", re.M), b"DTSTAMP:N"),
]


def readpst_view(path, out_dir):
    """libpst's reading of a store: the item counts it reports and the
    content of every file it writes (emails, one file per folder).

    -j 0 is required: readpst's default forks per folder and skips items at
    random. The store is read through a link named store.pst, because
    readpst names the top folder after the file when the store has none."""
    os.makedirs(out_dir)
    link = os.path.join(out_dir, "store.pst")
    os.symlink(os.path.abspath(path), link)
    tree = os.path.join(out_dir, "out")
    os.makedirs(tree)
    p = bs.run_tool(["readpst", "-j", "0", "-D", "-t", "e", "-o", tree, link], check=False,
                    timeout=120, stdin=subprocess.DEVNULL)
    done = sum(int(n) for n in re.findall(r"(\d+) items done", p.stdout + p.stderr))
    skipped = sum(int(n) for n in re.findall(r"(\d+) items skipped", p.stdout + p.stderr))
    files = {}
    for dirpath, _, names in os.walk(tree):
        for n in names:
            full = os.path.join(dirpath, n)
            with open(full, "rb") as f:
                data = f.read()
            for pattern, repl in READPST_VOLATILE:
                data = pattern.sub(repl, data)
            files[os.path.relpath(full, tree)] = hashlib.sha256(data).hexdigest()
    return {"rc": p.returncode, "done": done, "skipped": skipped, "files": files}


class RealPsts(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        bs.require_btrfs()
        cls.samples = bs.require_samples()
        cls.pstrewriter = bs.require_env_file("PSTREWRITER")
        bs.require_tool("pffinfo")
        bs.require_tool("readpst")
        cls.psts = sorted(glob.glob(os.path.join(cls.samples, "*.pst")))
        cls.osts = sorted(glob.glob(os.path.join(cls.samples, "*.ost")))
        if not cls.psts:
            bs.skip(f"no *.pst samples in '{cls.samples}'")
        if not cls.osts:
            bs.skip(f"no *.ost sample in '{cls.samples}' (the OST exclusion cannot be shown)")

    def test_open_real_psts_are_backed_up_exactly_and_the_ost_is_not(self):
        sb = bs.Sandbox(self, "real")
        sources = []
        for i, sample in enumerate(self.psts):
            folder = sb.outlook_dir if i % 2 == 0 else sb.files_dir
            dst = os.path.join(folder, os.path.basename(sample))
            shutil.copyfile(sample, dst)
            sources.append((sample, dst))
        osts = []
        for sample in self.osts:
            dst = os.path.join(sb.outlook_dir, os.path.basename(sample))
            shutil.copyfile(sample, dst)
            osts.append(dst)
        writers = [sb.start([self.pstrewriter, path, "--rate", str(REWRITE_RATE)],
                            f"pstrewriter-{n}")
                   for n, path in enumerate([d for _, d in sources] + osts)]

        run = sb.fire()
        for w in writers:
            self.assertTrue(w.alive(), f"a pstrewriter stopped early:\n{w.output()}")
        sb.stop_background()
        for w in writers:
            self.assertEqual(w.returncode, 0, w.output())
            self.assertRegex(w.output(), r"pstrewriter: [1-9]\d* rewrites",
                             "a writer never wrote: the files were not really in use")

        self.assertEqual(run.rc, 0, run.describe())
        summary = run.summary()
        self.assertEqual(summary.get("seen"), len(sources), run.describe())
        self.assertEqual(summary.get("copied"), len(sources), run.describe())
        self.assertEqual(summary.get("failed"), 0, run.describe())
        self.assertNotIn("none", summary.get("snapshot", ""), run.describe())
        self.assertEqual(sorted(run.backed_up()), sorted(d for _, d in sources), run.describe())

        # The OST: never discovered, never copied, nothing of it anywhere.
        for ost in osts:
            self.assertNotIn(ost, str(run.events), "the OST appears in the run's events")
        ost_copies = [p for p in sb.dest_files() if p.lower().endswith(".ost")]
        self.assertEqual(ost_copies, [], "the OST was backed up")

        for sample, source in sources:
            name = os.path.basename(sample)
            with self.subTest(sample=name):
                final = sb.final_for(source)
                self.assertTrue(os.path.isfile(final), f"no backup of {name}")
                self.assertEqual(os.path.getsize(final), os.path.getsize(source), name)
                want = bs.sha256_of(sample)
                self.assertEqual(bs.sha256_of(source), want, f"pstrewriter changed {name}")
                self.assertEqual(bs.sha256_of(final), want, f"the backup of {name} differs")

                rc_src, facts_src = pffinfo_facts(source)
                rc_copy, facts_copy = pffinfo_facts(final)
                self.assertEqual(rc_copy, rc_src, f"pffinfo exit status on {name}")
                self.assertIn("Message store", facts_src, f"pffinfo cannot read {name} at all")
                self.assertEqual(facts_copy, facts_src, f"pffinfo reads the backup of {name} "
                                                        "differently")

                view_src = readpst_view(source, os.path.join(sb.work, "rp-src-" + name))
                view_copy = readpst_view(final, os.path.join(sb.work, "rp-copy-" + name))
                self.assertEqual(view_copy, view_src, f"readpst reads the backup of {name} "
                                                      "differently")
                print(f"{name}: sha256 equal; pffinfo {facts_src['Message store']}; readpst "
                      f"{view_src['done']} done, {view_src['skipped']} skipped, "
                      f"{len(view_src['files'])} files")

        self.assertEqual(sb.leftovers(), {}, "left behind after the run")


if __name__ == "__main__":
    bs.main()
