"""The bad-input catalogue: every kind of input an admin, a user or a
damaged disk can hand the action, each refused (or distrusted) with a
message that names the field or the path concerned, and none of them losing
anything.

A user with two PSTs has a finished backup. Each row of a table then breaks
one input and fires the action through emhost:

- policy files and action parameters (the admin's input): emhost exits 2
  with "FILE: POINTER: why" and runs nothing;
- environment and session variables and the folders they name (the user's
  and the session's input): the action fails with an error event
  (9820 bad parameters, 9821 destination) naming the variable or the path;
- the manifest (the state folder, damaged or planted): never trusted; the
  run warns (9809) with the manifest's path and the reason and copies every
  file in full, so nothing can be skipped on the word of a bad manifest;
- the resume journal of an interrupted copy (a logoff stops the copy; the
  journal is then damaged): never trusted; the run warns (9812) with the
  PST's path and the reason, starts that copy over and publishes the source;
- the blockmap of a backup (the block hashes a delta starts from; damaged
  or planted in the state folder): never trusted; the run warns (9812)
  with the PST's path and the reason and copies that PST in full;
- the apply marker of an in-place update (updateInPlace; planted or
  damaged in the state folder): never acted on unless it names a backup
  below the destination with a complete journal; the run warns (9812) with
  the marker's path and the reason, writes nothing anywhere, and drops it.

After every row: the sources are byte for byte what they were, every backup
is the previous one (refusals) or the source (fallbacks), nothing is left
behind, and the message is the one in the table. The test prints
"bad inputs: N, clear errors: N, lost: 0".
"""
import copy
import json
import os
import re
import shutil
import unittest

import backup_support as bs

EV_BAD_PARAMETERS = 9820
EV_DESTINATION_ERROR = 9821
EV_MANIFEST_UNTRUSTED = 9809
EV_JOURNAL_UNTRUSTED = 9812
PARAMS_PTR = "/triggers/processStarted/0/actions/0/parameters"
ACTION_PTR = "/triggers/processStarted/0/actions/0"
COND_PTR = "/triggers/processStarted/0/conditions/0"
BIG = 12 * bs.MiB       # long enough for a logoff to stop its copy half-way
SMALL = 300 * 1024 + 7


# --- damage done to a state file (journal, blockmap) -----------------------------------------
def flip(offset):
    """Flip one byte at `offset` (from the end when negative)."""
    def damage(path):
        with open(path, "r+b") as f:
            f.seek(offset, os.SEEK_SET if offset >= 0 else os.SEEK_END)
            b = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([b[0] ^ 0x5A]))
    return damage


def sparse_huge(path):
    os.unlink(path)
    with open(path, "wb") as f:
        f.truncate(1 << 30)


def make_link(path):
    os.unlink(path)
    os.symlink("/etc/passwd", path)


def make_folder(path):
    os.unlink(path)
    os.mkdir(path)


def base_policy(params):
    return {
        "version": 1, "plugins": ["pstsnap"],
        "triggers": {"processStarted": [{
            "name": "Outlook",
            "conditions": [{"type": "processName", "operator": "Equal", "value": "OUTLOOK.EXE"}],
            "actions": [{"action": bs.ACTION_ID, "runAs": "System", "parameters": params}],
        }]},
    }


def mutate(fn):
    """Policy text: the usual policy with `fn` applied to it."""
    def make(params):
        doc = copy.deepcopy(base_policy(params))
        fn(doc)
        return json.dumps(doc)
    return make


def raw(text):
    return lambda params: text


def with_params(**changes):
    def make(params):
        p = dict(params)
        for k, v in changes.items():
            if v is DELETE:
                p.pop(k, None)
            else:
                p[k] = v
        return json.dumps(base_policy(p))
    return make


DELETE = object()
A0 = lambda d: d["triggers"]["processStarted"][0]["actions"][0]  # noqa: E731
C0 = lambda d: d["triggers"]["processStarted"][0]["conditions"][0]  # noqa: E731
TRUNCATED = json.dumps(base_policy({"destination": "x"}))[:70]

# Policy files: (name, policy text maker, the line emhost must print after "FILE")
POLICY_CASES = [
    ("empty policy file", raw(""), ":1:0: invalid JSON: '[' or '{' expected near end of file"),
    ("truncated policy", raw(TRUNCATED), ":1:70: invalid JSON: "),
    ("policy is a list", raw("[]"), ": /: expected object, got array"),
    ("policy version 2", mutate(lambda d: d.update(version=2)), ": /version: must equal 1"),
    ("version as text", mutate(lambda d: d.update(version="1")), ": /version: must equal 1"),
    ("triggers a list", mutate(lambda d: d.update(triggers=[])),
     ": /triggers: expected object, got array"),
    ("processStarted an object", mutate(lambda d: d["triggers"].update(processStarted={})),
     ": /triggers/processStarted: expected array, got object"),
    ("action id missing", mutate(lambda d: A0(d).pop("action")), f": {ACTION_PTR}/action: required"),
    ("unknown action", mutate(lambda d: A0(d).update(action="pstsnap.Nope")),
     f": {ACTION_PTR}/action: unknown action 'pstsnap.Nope' (loaded plugins provide: "
     "pstsnap.BackupPsts)"),
    ("plugin that is not there", mutate(lambda d: d.update(plugins=["no-such-plugin"])),
     ": /plugins/0: cannot load plugin"),
    ("duplicate key", raw(json.dumps(base_policy({"destination": "x"}))[:-1] + ', "version": 1}'),
     re.compile(r":1:\d+: invalid JSON: duplicate object key near '\"version\"'")),
    ("unknown operator", mutate(lambda d: C0(d).update(operator="Like")),
     f": {COND_PTR}/operator: must be one of: \"Equal\", \"NotEqual\", \"RegEx\""),
    ("bad regular expression", mutate(lambda d: C0(d).update(operator="RegEx", value="(OUT")),
     f": {COND_PTR}/value: invalid regular expression: unmatched '(' at offset 0 in '(OUT'"),
    ("unknown runAs", mutate(lambda d: A0(d).update(runAs="Root")),
     f": {ACTION_PTR}/runAs: must be one of: \"CurrentUser\", \"System\""),
    ("parameters a string", mutate(lambda d: A0(d).update(parameters="x")),
     f": {PARAMS_PTR}: expected object, got string"),
    ("negative timeout", mutate(lambda d: A0(d).update(timeoutMs=-5)),
     f": {ACTION_PTR}/timeoutMs: must be >= 0"),
    ("node timeout as text", mutate(lambda d: d.update(settings={"nodeTimeoutMs": "30"})),
     ": /settings/nodeTimeoutMs: expected integer, got string"),
    ("invalid UTF-8", raw('{"version": 1, "name": "\udcff"}'),
     re.compile(r":1:\d+: invalid JSON: unable to decode byte 0xff")),
    ("NUL in a string", raw('{"version": 1, "name": "a\\u0000b"}'),
     re.compile(r":1:\d+: invalid JSON: \\u0000 is not allowed")),
]

# Action parameters: (name, params change, the message after FILE: POINTER)
ONE_OF_BLOCKS = "must be one of: 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096"
PARAM_CASES = [
    ("destination missing", {"destination": DELETE}, "/destination: required"),
    ("destination empty", {"destination": ""}, "/destination: must be at least 1 character"),
    ("destination a number", {"destination": 5}, "/destination: expected string, got integer"),
    ("blockSize 3", {"blockSize": 3}, "/blockSize: " + ONE_OF_BLOCKS),
    ("blockSize not a power of two", {"blockSize": 96}, "/blockSize: " + ONE_OF_BLOCKS),
    ("blockSize hostile", {"blockSize": 1 << 40}, "/blockSize: " + ONE_OF_BLOCKS),
    ("blockSize as text", {"blockSize": "64"}, "/blockSize: expected integer, got string"),
    ("minInterval words", {"minInterval": "an hour"},
     "/minInterval: does not match pattern \"^[0-9]{1,6}[smhd]?$\""),
    ("minInterval negative", {"minInterval": "-1s"},
     "/minInterval: does not match pattern \"^[0-9]{1,6}[smhd]?$\""),
    ("minInterval hostile", {"minInterval": "99999999999d"},
     "/minInterval: does not match pattern \"^[0-9]{1,6}[smhd]?$\""),
    ("minInterval a number", {"minInterval": 5}, "/minInterval: expected string, got integer"),
    ("keepVersions negative", {"keepVersions": -1}, "/keepVersions: must be >= 0"),
    ("keepVersions hostile", {"keepVersions": 1000000}, "/keepVersions: must be <= 100"),
    ("unknown snapshot", {"snapshot": "zfs"},
     "/snapshot: must be one of: \"auto\", \"vss\", \"btrfs\", \"reflink\", \"none\""),
    ("unknown verify", {"verify": "maybe"}, "/verify: must be one of: \"none\", \"quick\", \"full\""),
    ("maxBandwidth negative", {"maxBandwidth": -5}, "/maxBandwidth: must be >= 0"),
    ("unknown ioPriority", {"ioPriority": "realtime"},
     "/ioPriority: must be one of: \"low\", \"normal\""),
    ("include empty", {"include": []}, "/include: must have at least 1 item"),
    ("include absolute", {"include": ["/etc/*.pst"]},
     "/include/0: pattern '/etc/*.pst' is absolute; patterns are relative to the folder being "
     "searched"),
    ("include drive", {"include": ["C:\\x\\*.pst"]},
     "/include/0: pattern 'C:\\x\\*.pst' is absolute"),
    ("include leaves the folder", {"include": ["../*.pst"]},
     "/include/0: pattern '../*.pst' has a '..' segment; patterns may not leave the folder"),
    ("include ** in a segment", {"include": ["a**b"]},
     "/include/0: pattern 'a**b' uses '**' inside a segment"),
    ("exclude a number", {"exclude": 5}, "/exclude: expected array, got integer"),
    ("sources a string", {"sources": "C:\\x"}, "/sources: expected array, got string"),
    ("source empty", {"sources": [""]}, "/sources/0: must be at least 1 character"),
    ("recurse as text", {"recurse": "yes"}, "/recurse: expected boolean, got string"),
    ("outlookProfiles a number", {"outlookProfiles": 1},
     "/outlookProfiles: expected boolean, got integer"),
    ("updateInPlace as text", {"updateInPlace": "true"},
     "/updateInPlace: expected boolean, got string"),
    ("unknown parameter", {"foo": 1}, "/foo: unknown property (additionalProperties is false)"),
]


class BadInputCatalogue(unittest.TestCase):
    def setUp(self):
        self.sb = sb = bs.Sandbox(self, "badinput")
        self.big = os.path.join(sb.outlook_dir, "Big.pst")
        self.small = os.path.join(sb.files_dir, "Small.pst")
        self.sources = (self.big, self.small)
        bs.write_random_file(self.big, BIG, "big")
        bs.write_random_file(self.small, SMALL, "small")
        for p in self.sources:
            bs.set_mtime_past(p, 7200)
        self.params = {"destination": "$(DataNowHome)\\Outlook Backup", "minInterval": "0",
                       "snapshot": "btrfs"}
        run = sb.fire(self.params)
        self.assertEqual(run.rc, 0, run.describe())
        self.source_sums = {p: bs.sha256_of(p) for p in self.sources}
        self.backup_sums = {p: bs.sha256_of(sb.final_for(p)) for p in self.sources}
        self.golden = os.path.join(sb.work, "golden")
        os.makedirs(self.golden)
        for d in (sb.fd, sb.state):
            bs.run_tool(["cp", "-a", d, self.golden])
        self.tried = self.clear = self.lost = 0
        self.failures = []

    # --- bookkeeping ------------------------------------------------------------------
    def restore(self):
        sb = self.sb
        for d in (sb.fd, sb.state):
            shutil.rmtree(d)
            bs.run_tool(["cp", "-a", os.path.join(self.golden, os.path.basename(d)),
                         os.path.dirname(d)])

    def nothing_lost(self, name):
        """Sources untouched, each backup the same bytes as the source."""
        lost = []
        for p in self.sources:
            if bs.sha256_of(p) != self.source_sums[p]:
                lost.append(f"source {os.path.basename(p)} changed")
            final = self.sb.final_for(p)
            if not os.path.exists(final) or bs.sha256_of(final) != self.backup_sums[p]:
                lost.append(f"backup of {os.path.basename(p)} is not the previous backup")
        left = self.sb.leftovers()
        if left:
            lost.append(f"left behind: {left}")
        if lost:
            self.lost += 1
            self.failures.append(f"LOST {name}: " + "; ".join(lost))
        return not lost

    def nothing_lost_with_big_changed(self, name):
        """nothing_lost after a row that changed Big.pst and backed it up:
        its backup must hold the new version. Then back to version A for
        the next row (its golden backup is of A)."""
        self.source_sums[self.big] = self.backup_sums[self.big] = bs.sha256_of(self.big)
        self.nothing_lost(name)
        bs.write_random_file(self.big, BIG, "big")
        bs.set_mtime_past(self.big, 7200)
        self.source_sums[self.big] = self.backup_sums[self.big] = bs.sha256_of(self.big)

    def record(self, name, ok, detail):
        self.tried += 1
        if ok:
            self.clear += 1
        else:
            self.failures.append(f"UNCLEAR {name}: {detail}")
        print(f"{'ok  ' if ok else 'FAIL'} {name}")

    def fire_policy_text(self, text):
        sb = self.sb
        sb.runs += 1
        path = os.path.join(sb.work, "policy.json")
        with open(path, "wb") as f:
            f.write(text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text)
        audit = os.path.join(sb.work, f"audit-{sb.runs}.jsonl")
        p = bs.run_tool([sb.emhost, "fire", path, "--plugin-dir", os.path.dirname(sb.plugin),
                         "--process-start", "OUTLOOK.EXE", "--var", f"DataNowHome={sb.fd}",
                         "--state-dir", sb.state, "--audit", audit], check=False,
                        env=dict(os.environ, HOME=sb.profile))
        return path, p, bs.read_events(audit)

    # --- the tables ------------------------------------------------------------------------
    def check_refused_policy(self, name, make, expect):
        path, p, events = self.fire_policy_text(make(self.params))
        if isinstance(expect, re.Pattern):
            want = re.escape(path) + expect.pattern
            found = re.search(want, p.stderr)
        else:
            want = path + expect
            found = want in p.stderr
        ok = p.returncode == 2 and found and not events
        self.record(name, ok, f"exit {p.returncode}, wanted '{want}' in:\n{p.stderr}")
        self.nothing_lost(name)

    def check_runtime_refusal(self, name, params=None, var=None, env=None, event=None,
                              texts=(), prepare=None):
        sb = self.sb
        self.restore()
        if prepare:
            prepare()
        args = []
        for k, v in (var or {}).items():
            args += ["--var", f"{k}={v}"]
        p = dict(self.params, **(params or {}))
        run = sb.fire(p, env=env, args=args)
        hits = [e for e in run.of(event) if all(t in e.get("message", "") for t in texts)]
        ok = run.rc == 1 and bool(hits) and not run.has(bs.EV_BACKED_UP)
        self.record(name, ok, f"wanted event {event} with {list(texts)}:\n{run.describe()}")
        self.nothing_lost(name)

    def check_untrusted_manifest(self, name, damage, reason):
        sb = self.sb
        self.restore()
        [manifest] = sb.manifest_paths()
        damage(manifest)
        run = sb.fire(self.params)
        warned = [e for e in run.of(EV_MANIFEST_UNTRUSTED)
                  if manifest in e.get("message", "") and reason in e.get("message", "")]
        full = run.rc == 0 and sorted(run.backed_up()) == sorted(self.sources)
        ok = bool(warned) and full
        self.record(name, ok, f"wanted 9809 naming '{manifest}' and '{reason}', and both PSTs "
                              f"copied in full:\n{run.describe()}")
        self.nothing_lost(name)
        if full:
            sb.load_manifest()  # the new manifest is sound

    # --- manifest damage ---------------------------------------------------------------
    @staticmethod
    def rewrite_json(fn):
        def damage(path):
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
            fn(doc)
            with open(path, "w", encoding="utf-8") as f:
                json.dump(doc, f)
        return damage

    @staticmethod
    def truncate_to(n):
        def damage(path):
            with open(path, "r+b") as f:
                f.truncate(n)
        return damage

    @staticmethod
    def replace_text(text):
        def damage(path):
            with open(path, "wb") as f:
                f.write(text)
        return damage

    def manifest_cases(self):
        first = lambda d: d["files"][0]  # noqa: E731

        def sparse_65_mib(path):
            os.unlink(path)
            with open(path, "wb") as f:
                f.truncate(65 * bs.MiB)

        R = self.rewrite_json
        return [
            ("manifest empty", self.replace_text(b""), "is not valid JSON"),
            ("manifest truncated", self.truncate_to(100), "is not valid JSON"),
            ("manifest not JSON", self.replace_text(b"PSTSNAP\x00\xff"), "is not valid JSON"),
            ("manifest of another format", R(lambda d: d.update(format="other")),
             "is not a pstsnap manifest"),
            ("manifest version 2", R(lambda d: d.update(version=2)), "has version 2; this build reads 1"),
            ("manifest version as text", R(lambda d: d.update(version="1")), "has version"),
            ("manifest checksum mismatch", R(lambda d: first(d).update(size=first(d)["size"] + 1)),
             "checksum mismatch (damaged or edited)"),
            ("manifest checksum missing", R(lambda d: d.pop("checksum")), "checksum mismatch"),
            ("manifest checksum wrong type", R(lambda d: d.update(checksum=12345)),
             "checksum mismatch"),
            ("manifest files a string (checksum kept)", R(lambda d: d.update(files="x")),
             "checksum mismatch"),
            ("manifest hostile size (65 MiB)", sparse_65_mib, "more than the"),
            ("manifest is a symbolic link", make_link, "symbolic link"),
        ]

    # --- journal damage ---------------------------------------------------------------------
    def interrupt_big_copy(self):
        """Change Big.pst and stop its copy half-way with a logoff: its
        staging file and resume journal stay for the next run."""
        sb = self.sb
        bs.write_random_file(self.big, BIG, "big-B")
        bs.set_mtime_past(self.big, 3600)
        run = sb.fire(dict(self.params, maxBandwidth=8), args=["--logoff-after", "600",
                                                               "--shutdown-deadline", "5000"])
        journals = os.path.join(sb.action_state, "journals")
        found = sorted(os.path.join(journals, n) for n in os.listdir(journals)
                       if not n.endswith(".target")) if os.path.isdir(journals) else []
        self.assertEqual(len(found), 1, f"no journal after the logoff:\n{run.describe()}")
        self.assertTrue(os.path.exists(sb.staging_for(self.big)), run.describe())
        return found[0]

    def journal_cases(self):
        return [
            ("journal empty", self.truncate_to(0), "is truncated (0 bytes)"),
            ("journal truncated header", self.truncate_to(40), "is truncated (40 bytes)"),
            ("journal wrong magic", flip(0), "is not a pstsnap resume journal"),
            ("journal wrong version", flip(8), "header checksum mismatch"),
            ("journal hostile block size", flip(13), "header checksum mismatch"),
            ("journal hostile source size", flip(23), "header checksum mismatch"),
            ("journal header checksum", flip(60), "header checksum mismatch"),
            ("journal hostile file size (1 GiB)", sparse_huge, "has an impossible size"),
            ("journal is a symbolic link", make_link, "is not a file"),
        ]

    def check_untrusted_journal(self, name, damage, reason):
        sb = self.sb
        self.restore()
        journal = self.interrupt_big_copy()
        damage(journal)
        run = sb.fire(self.params)
        warned = [e for e in run.of(EV_JOURNAL_UNTRUSTED)
                  if self.big in e.get("message", "") and reason in e.get("message", "")]
        resumed = [e for e in run.of(bs.EV_RESUMED) if e["detail"]["path"] == self.big]
        equal = run.rc == 0 and bs.sha256_of(sb.final_for(self.big)) == bs.sha256_of(self.big)
        ok = bool(warned) and not resumed and equal
        self.record(name, ok, f"wanted 9812 naming '{self.big}' and '{reason}', a fresh copy "
                              f"and a backup equal to the source:\n{run.describe()}")
        self.nothing_lost_with_big_changed(name)

    # --- blockmap damage --------------------------------------------------------------------
    def blockmap_cases(self):
        return [
            ("blockmap empty", self.truncate_to(0), "is not a pstsnap blockmap"),
            ("blockmap wrong magic", flip(0), "is not a pstsnap blockmap"),
            ("blockmap hash changed", flip(100), "checksum mismatch"),
            ("blockmap checksum changed", flip(-1), "checksum mismatch"),
            ("blockmap hostile file size (1 GiB)", sparse_huge, "is larger than any of ours"),
            ("blockmap is a symbolic link", make_link, "is not a file"),
            ("blockmap is a folder", make_folder, "is not a file"),
        ]

    def check_untrusted_blockmap(self, name, damage, reason):
        sb = self.sb
        self.restore()
        maps = os.path.join(sb.action_state, "blockmaps")
        # Big.pst's is the larger of the two (8 bytes per 64 KiB block).
        blockmap = max((os.path.join(maps, n) for n in os.listdir(maps)), key=os.path.getsize)
        damage(blockmap)
        bs.change_pages(self.big, 0.01, 5)
        bs.set_mtime_past(self.big, 3600)
        run = sb.fire(self.params)
        warned = [e for e in run.of(EV_JOURNAL_UNTRUSTED)
                  if self.big in e.get("message", "") and reason in e.get("message", "")]
        copied = [e["detail"] for e in run.of(bs.EV_BACKED_UP) if e["detail"]["path"] == self.big]
        full = bool(copied) and not copied[0]["cloned"] and copied[0]["bytesWritten"] == BIG
        equal = run.rc == 0 and bs.sha256_of(sb.final_for(self.big)) == bs.sha256_of(self.big)
        # The damaged one is gone (a link removed, never followed), and the
        # new backup has a blockmap of its own again; a folder is left as it
        # is (nothing in the state folder is deleted with what it holds), and
        # the warning repeats until it is removed.
        renewed = (os.path.isfile(blockmap) and not os.path.islink(blockmap)
                   or name.endswith("is a folder") and os.path.isdir(blockmap))
        ok = bool(warned) and full and equal and renewed and os.path.exists("/etc/passwd")
        self.record(name, ok, f"wanted 9812 naming '{self.big}' and '{reason}', a full copy, "
                              f"a backup equal to the source and a new blockmap:\n"
                              f"{run.describe()}")
        self.nothing_lost_with_big_changed(name)

    # --- apply markers ---------------------------------------------------------------------
    def check_untrusted_marker(self, name, marker_text, reason, with_journal=True):
        """Plant an apply marker (and a journal it could belong to) the way a
        user who owns the state folder could, aiming the elevated run's
        writes at a file that is not a backup."""
        sb = self.sb
        self.restore()
        victim = os.path.join(sb.work, "victim")
        with open(victim, "wb") as f:
            f.write(b"not a backup" * 100)
        os.chmod(victim, 0o600)
        victim_sum = bs.sha256_of(victim)
        journals = os.path.join(sb.action_state, "journals")
        os.makedirs(journals, exist_ok=True)
        journal = os.path.join(journals, "00000000deadbeef.journal")
        staging = os.path.join(sb.dest, "Outlook", "Ghost.pst" + bs.STAGING_SUFFIX)
        with open(journal + ".target", "w") as f:
            f.write(staging)
        if with_journal:
            with open(journal, "wb") as f:
                f.write(b"PSTSNAPJ" + b"\0" * 56)
        with open(journal + ".apply", "w") as f:
            f.write(marker_text(victim))
        run = sb.fire(self.params)
        marker = journal + ".apply"
        warned = [e for e in run.of(EV_JOURNAL_UNTRUSTED)
                  if marker in e.get("message", "") or reason in e.get("message", "")]
        warned = [e for e in warned if reason in e.get("message", "")]
        ok = (run.rc == 0 and bool(warned) and bs.sha256_of(victim) == victim_sum
              and not os.path.exists(marker))
        self.record(name, ok, f"wanted 9812 with '{reason}', '{victim}' untouched and the marker "
                              f"gone:\n{run.describe()}")
        self.nothing_lost(name)

    def marker_cases(self):
        dest = self.sb.dest

        def marker(backup):
            return lambda victim: json.dumps({
                "format": 1, "backup": backup(victim), "key": "Outlook/Mail.pst",
                "source": self.big, "snapshot": "btrfs", "frozen": 1})
        return [
            ("apply marker naming a file outside the destination", marker(lambda v: v),
             "which is not a file below the destination", True),
            ("apply marker climbing out with '..'",
             marker(lambda v: os.path.join(dest, "..", "..", "work", os.path.basename(v))),
             "which is not a file below the destination", True),
            ("apply marker that is not JSON", lambda v: "{" + v, "is not JSON", True),
            ("apply marker without a backup", lambda v: json.dumps({"format": 1, "frozen": 1}),
             "/backup is missing", True),
            ("apply marker whose journal is damaged",
             marker(lambda v: os.path.join(dest, "Outlook", "Big.pst")),
             "header checksum mismatch", True),
            ("apply marker whose journal is gone",
             marker(lambda v: os.path.join(dest, "Outlook", "Big.pst")),
             "No such file or directory", False),
        ]

    # --- the test ------------------------------------------------------------------------------
    def test_every_bad_input_is_refused_clearly_and_loses_nothing(self):
        for name, make, expect in POLICY_CASES:
            self.check_refused_policy(name, make, expect)
        for name, change, expect in PARAM_CASES:
            self.check_refused_policy(name, with_params(**change), ": " + PARAMS_PTR + expect)

        sb = self.sb
        # Environment and session variables, and where they point.
        not_a_folder = os.path.join(sb.work, "a-file")
        with open(not_a_folder, "w") as f:
            f.write("x")
        runtime = [
            ("session variable unset", {"destination": "$(NoSuchVar)\\Backup"}, None, None,
             EV_BAD_PARAMETERS, ["$(NoSuchVar)", "is not set"]),
            ("environment variable unset in the destination",
             {"destination": "%NO_SUCH_VAR%\\Backup"}, None, None, EV_BAD_PARAMETERS,
             ["%NO_SUCH_VAR%", "is not set"]),
            ("environment variable unset in a source", {"sources": ["%NO_SUCH_VAR%\\Outlook"]},
             None, None, EV_BAD_PARAMETERS, ["%NO_SUCH_VAR%", "is not set"]),
            ("unterminated variable", {"destination": "%LOCALAPPDATA\\Backup"}, None, None,
             EV_BAD_PARAMETERS, ["unterminated variable reference"]),
            ("empty variable name", {"destination": "$()\\Backup"}, None, None,
             EV_BAD_PARAMETERS, ["empty variable name"]),
            # Empty, "\\Outlook Backup" would be a folder at the root.
            ("session variable empty", None, {"DataNowHome": ""}, None, EV_BAD_PARAMETERS,
             ["variable $(DataNowHome) is empty"]),
            ("session variable relative", None, {"DataNowHome": "relative/dir"}, None,
             EV_BAD_PARAMETERS, ["relative/dir"]),
            ("session variable names a file", None, {"DataNowHome": not_a_folder}, None,
             EV_DESTINATION_ERROR, [not_a_folder]),
            ("environment variable empty", {"destination": "%PSTSNAP_EMPTY%\\Backup"}, None,
             {"PSTSNAP_EMPTY": ""}, EV_BAD_PARAMETERS, ["variable %PSTSNAP_EMPTY% is empty"]),
        ]
        for name, params, var, env, event, texts in runtime:
            self.check_runtime_refusal(name, params=params, var=var, env=env, event=event,
                                       texts=texts)

        for name, damage, reason in self.manifest_cases():
            self.check_untrusted_manifest(name, damage, reason)
        for name, damage, reason in self.journal_cases():
            self.check_untrusted_journal(name, damage, reason)
        for name, damage, reason in self.blockmap_cases():
            self.check_untrusted_blockmap(name, damage, reason)
        for name, text, reason, with_journal in self.marker_cases():
            self.check_untrusted_marker(name, text, reason, with_journal)

        line = f"bad inputs: {self.tried}, clear errors: {self.clear}, lost: {self.lost}"
        print(line)
        self.assertGreaterEqual(self.tried, 60)
        self.assertEqual((self.clear, self.lost), (self.tried, 0),
                         line + "\n" + "\n\n".join(self.failures))


if __name__ == "__main__":
    bs.main()
