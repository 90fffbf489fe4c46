"""deploy/ADMIN.md explains every event the action can emit: each id
defined in plugin/core/events.h and used by plugin code has a row in the
guide's troubleshooting table, with a cause and a fix."""

import os
import re
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("PSTSNAP_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
EVENTS_H = os.path.join(SOURCE_DIR, "plugin", "core", "events.h")
PLUGIN_DIR = os.path.join(SOURCE_DIR, "plugin")
GUIDE = os.path.join(SOURCE_DIR, "deploy", "ADMIN.md")


def defined_events():
    """name -> id of every PS_EV_* in events.h."""
    with open(EVENTS_H, encoding="utf-8") as f:
        return {m.group(1): int(m.group(2))
                for m in re.finditer(r"^#define\s+(PS_EV_\w+)\s+(\d+)u?\b", f.read(), re.M)}


def emitted_names(names):
    """The PS_EV_* names some plugin source (not events.h) uses."""
    used = set()
    pattern = re.compile(r"\b(PS_EV_\w+)\b")
    for dirpath, _, files in os.walk(PLUGIN_DIR):
        for name in files:
            path = os.path.join(dirpath, name)
            if not name.endswith((".c", ".h")) or os.path.samefile(path, EVENTS_H):
                continue
            with open(path, encoding="utf-8", errors="replace") as f:
                used |= set(pattern.findall(f.read())) & set(names)
    return used


def troubleshooting_rows():
    """id -> (level, cause, fix) from the table of the Troubleshooting section."""
    with open(GUIDE, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^## [^\n]*Troubleshooting[^\n]*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    if not m:
        raise AssertionError(f"{GUIDE} has no '## ... Troubleshooting' section")
    rows = {}
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not re.match(r"^\d{4}", cells[0]):
            continue
        for event_id in re.findall(r"\d{4}", cells[0]):
            rows[int(event_id)] = tuple(cells[1:])
    return rows


class AdminGuideCoversEveryEvent(unittest.TestCase):
    def test_the_sources_are_read(self):
        names = defined_events()
        self.assertGreaterEqual(len(names), 20, names)
        self.assertIn("PS_EV_COPY_FAILED", emitted_names(names))

    def test_every_emitted_event_has_a_row_with_cause_and_fix(self):
        names = defined_events()
        rows = troubleshooting_rows()
        missing, empty = [], []
        for name in sorted(emitted_names(names)):
            event_id = names[name]
            if event_id not in rows:
                missing.append(f"{event_id} ({name})")
            elif not rows[event_id][1] or not rows[event_id][2]:
                empty.append(f"{event_id} ({name})")
        self.assertEqual(missing, [], f"events without a row in the troubleshooting table of {GUIDE}")
        self.assertEqual(empty, [], "rows without a cause or a fix")

    def test_errors_and_warnings_say_what_to_do(self):
        """A warning or error row needs a real fix, not a dash."""
        for event_id, (level, cause, fix) in troubleshooting_rows().items():
            if "error" in level or "warning" in level:
                self.assertNotIn(fix, ("", "-", "—"), f"event {event_id}: no fix given")

    def test_the_guide_has_the_sections_admins_need(self):
        with open(GUIDE, encoding="utf-8") as f:
            text = f.read()
        for needle in ("msiexec", "Run As: System", "OUTLOOK.EXE", "$(DataNowHome)", "OneDrive",
                       "UNC", "Outlook Files", "Restore", "emhost status", "emhost verify",
                       "--max-age", "Timeout"):
            self.assertIn(needle, text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
