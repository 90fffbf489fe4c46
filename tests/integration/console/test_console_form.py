"""The console form (deploy/console/) in a real browser, end to end.

deploy/console/serve.py serves the repository and Debian's
/usr/share/javascript (json-editor) on 127.0.0.1. setUpClass plays one
admin's session in Debian's headless chromium, driven through Debian's
chromedriver with python3-selenium: it opens the page, reads the destination
field, fills it, types keepVersions -1, tries to export, fixes keepVersions,
exports and downloads the policy, and screenshots the form (into the test's
temporary folder; with PSTSNAP_UPDATE_SCREENSHOT=1 also over
deploy/console/screenshot.png, the README's picture). What the DOM showed at
each step goes into one report; the tests below assert on it, and `emhost
validate` must accept the downloaded policy with the real plugin.

Everything comes from Debian's packages (deploy/setup.sh installs them), so
the test runs offline. Skipped (exit 77) when chromium, chromedriver,
python3-selenium or libjs-json-editor is missing, or when this build has no
pstsnap plugin.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

try:
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.remote.remote_connection import RemoteConnection
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # reported as a skip by missing_prerequisite()
    webdriver = None

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import emhost_support as s  # noqa: E402

sys.path.insert(0, os.path.join(s.SOURCE_DIR, "deploy", "console"))
import serve  # noqa: E402

SKIPPED = 77
CHROMIUM = os.environ.get("PSTSNAP_CHROMIUM") or "/usr/bin/chromium"
CHROMEDRIVER = os.environ.get("PSTSNAP_CHROMEDRIVER") or "/usr/bin/chromedriver"
JSON_EDITOR = os.path.join(serve.SYSTEM_JAVASCRIPT_DIR, "json-editor", "jsoneditor.min.js")
SCREENSHOT = os.path.join(s.SOURCE_DIR, "deploy", "console", "screenshot.png")
PARAMETER_SCHEMA = os.path.join(s.SCHEMA_DIR, "backup-psts.parameters.schema.json")
VIEWPORT = (1000, 900)
STEP_TIMEOUT_S = 15
# One WebDriver command (a click, a script) never takes this long unless the
# browser hung: fail the test instead of waiting for ctest's timeout.
COMMAND_TIMEOUT_S = 60
KEY_DELAY_S = 0.03  # between keystrokes, as a person types

# What the session types.
DESTINATION = "$(DataNowHome)\\Outlook Backup"
KEEP_VERSIONS_BAD = "-1"
KEEP_VERSIONS_FIXED = 3
DOWNLOAD_NAME = "backup-psts.json"  # the download link's download attribute

# json-editor marks each field's container with data-schemapath.
DESTINATION_FIELD = '[data-schemapath="root.Destination.destination"]'
KEEP_VERSIONS_FIELD = '[data-schemapath="root.Destination.keepVersions"]'


def missing_prerequisite():
    """Why this machine cannot run the test, or None."""
    if not os.access(CHROMIUM, os.X_OK):
        return "%s is missing (deploy/setup.sh installs Debian's chromium)" % CHROMIUM
    if not os.access(CHROMEDRIVER, os.X_OK):
        return "%s is missing (deploy/setup.sh installs chromium-driver)" % CHROMEDRIVER
    if webdriver is None:
        return "python3-selenium is missing (deploy/setup.sh installs it)"
    if not os.path.isfile(JSON_EDITOR):
        return "%s is missing (deploy/setup.sh installs libjs-json-editor)" % JSON_EDITOR
    if os.environ.get("EMHOST") and not os.environ.get("PSTSNAP_PLUGIN"):
        return "this build has no pstsnap plugin (PSTSNAP_BUILD_PLUGIN is off)"
    return None


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# --------------------------------------------------------------------------
# The browser session. It only records what the page showed; a step that
# cannot be carried out at all (no page, no element, no download) raises.
# --------------------------------------------------------------------------
def start_chromium(profile_dir, download_dir, driver_log):
    """Debian's chromium under Debian's chromedriver, headless, private."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    options.add_argument("--headless=new")
    options.add_argument("--window-size=%d,%d" % VIEWPORT)
    options.add_argument("--user-data-dir=" + profile_dir)
    if os.geteuid() == 0:
        # Chromium's sandbox refuses to start as root (CI runs as root).
        options.add_argument("--no-sandbox")
    # Containers often give /dev/shm only 64 MB, too little for chromium.
    options.add_argument("--disable-dev-shm-usage")
    for flag in ("--no-first-run", "--no-default-browser-check", "--disable-background-networking"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {
        "download.default_directory": download_dir,
        "download.prompt_for_download": False,
    })
    # Console messages, script errors and failed requests, for the report.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # Everything here is on 127.0.0.1: a proxy from the environment must not
    # come between selenium and chromedriver.
    no_proxy = os.environ.get("no_proxy") or os.environ.get("NO_PROXY") or ""
    os.environ["no_proxy"] = ",".join(filter(None, [no_proxy, "localhost", "127.0.0.1"]))
    RemoteConnection.set_timeout(COMMAND_TIMEOUT_S)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER, log_path=driver_log), options=options)
    driver.set_page_load_timeout(STEP_TIMEOUT_S)
    driver.set_script_timeout(STEP_TIMEOUT_S)
    # The viewport itself, not the window, is 1000x900: the screenshot's size.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": VIEWPORT[0], "height": VIEWPORT[1], "deviceScaleFactor": 1, "mobile": False})
    return driver


FIELD_STATE_JS = """
const container = arguments[0];
const visible = (el) => !!el && el.offsetParent !== null && el.textContent.trim() !== '';
const input = container.querySelector('input, select, textarea');
const error = container.querySelector('.errmsg');
const label = container.querySelector('label');
const description = container.querySelector('p');
return {
  label: label ? label.textContent.trim() : null,
  description: description ? description.textContent.trim() : null,
  value: input ? input.value : null,
  inputType: input ? input.type : null,
  errorShown: visible(error),
  errorText: visible(error) ? error.textContent.trim() : null,
  // The error sits in the field's own form control, beside its input.
  errorBesideInput: !!error && !!input && error.parentElement === input.closest('.form-control'),
};
"""

ERROR_SHOWN_JS = """
const e = arguments[0].querySelector('.errmsg');
return !!e && e.offsetParent !== null && e.textContent.trim() !== '';
"""

EXPORT_STATE_JS = """
const link = document.getElementById('download-link');
return {
  status: document.getElementById('export-status').textContent.trim(),
  statusKind: document.getElementById('export-status').dataset.kind || null,
  errors: [...document.querySelectorAll('#export-errors li')].map((li) => li.textContent.trim()),
  policyText: document.getElementById('policy-json').value,
  downloadEnabled: link.getAttribute('aria-disabled') === 'false' && link.hasAttribute('href'),
};
"""

# The top-level panels of the parameter form, in page order.
GROUPS_JS = """
return [...document.querySelectorAll('#parameters-form [data-schemapath^="root."]')]
  .filter((e) => e.dataset.schemapath.split('.').length === 2)
  .map((e) => e.dataset.schemapath);
"""


def field_state(driver, selector):
    return driver.execute_script(FIELD_STATE_JS, driver.find_element(By.CSS_SELECTOR, selector))


def field_input(driver, selector):
    return driver.find_element(By.CSS_SELECTOR, selector + " input")


def type_into(driver, selector, text):
    """Types like a person, key by key, and stays in the field."""
    field = field_input(driver, selector)
    field.click()
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(Keys.BACKSPACE)
    for key in text:
        field.send_keys(key)
        time.sleep(KEY_DELAY_S)


def wait_for_error(driver, selector, shown):
    """Waits until the field's error is shown (or gone).

    The page validates a pause after the last keystroke and json-editor
    draws the error on a later frame. A field that never gets there is not a
    session failure: its state is reported as it is and the assertion below
    says what was wrong.
    """
    container = driver.find_element(By.CSS_SELECTOR, selector)
    try:
        WebDriverWait(driver, STEP_TIMEOUT_S).until(
            lambda d: d.execute_script(ERROR_SHOWN_JS, container) is shown)
    except TimeoutException:
        pass


def wait_for_download(download_dir):
    """The one finished file chromium saved in download_dir."""
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while time.monotonic() < deadline:
        # Chromium writes a hidden temporary file, then NAME.crdownload, and
        # renames that to NAME when the download is complete.
        names = os.listdir(download_dir)
        done = [n for n in names if not n.startswith(".") and not n.endswith(".crdownload")]
        if done and len(done) == len(names):
            if len(done) != 1:
                raise AssertionError("more than one download: %r" % done)
            return done[0]
        time.sleep(0.1)
    raise AssertionError("no download arrived in %s within %d s" % (download_dir, STEP_TIMEOUT_S))


def admin_session(driver, url, download_dir, download_path, screenshot_path, report):
    step = report["steps"].append

    step("open")
    driver.get(url)
    WebDriverWait(driver, STEP_TIMEOUT_S).until(
        lambda d: d.execute_script("return document.body.dataset.ready || null"))
    report["ready"] = driver.execute_script("return document.body.dataset.ready")
    if report["ready"] != "true":
        report["loadError"] = driver.find_element(By.ID, "load-error").text
        return
    report["groups"] = driver.execute_script(GROUPS_JS)
    report["destinationBefore"] = field_state(driver, DESTINATION_FIELD)
    report["keepVersionsBefore"] = field_state(driver, KEEP_VERSIONS_FIELD)

    step("fill destination")
    type_into(driver, DESTINATION_FIELD, DESTINATION)
    field_input(driver, DESTINATION_FIELD).send_keys(Keys.TAB)
    wait_for_error(driver, DESTINATION_FIELD, False)
    report["destinationFilled"] = field_state(driver, DESTINATION_FIELD)

    step("type a bad keepVersions")
    type_into(driver, KEEP_VERSIONS_FIELD, KEEP_VERSIONS_BAD)
    wait_for_error(driver, KEEP_VERSIONS_FIELD, True)
    report["keepVersionsBad"] = field_state(driver, KEEP_VERSIONS_FIELD)
    report["keepVersionsBad"]["focused"] = driver.execute_script(
        "return document.activeElement === arguments[0]", field_input(driver, KEEP_VERSIONS_FIELD))
    report["destinationWhileBad"] = field_state(driver, DESTINATION_FIELD)

    step("export while invalid")
    driver.find_element(By.ID, "export-button").click()
    report["exportWhileBad"] = driver.execute_script(EXPORT_STATE_JS)

    step("fix keepVersions")
    type_into(driver, KEEP_VERSIONS_FIELD, str(KEEP_VERSIONS_FIXED))
    wait_for_error(driver, KEEP_VERSIONS_FIELD, False)
    report["keepVersionsFixed"] = field_state(driver, KEEP_VERSIONS_FIELD)

    step("export")
    driver.find_element(By.ID, "export-button").click()
    report["exported"] = driver.execute_script(EXPORT_STATE_JS)

    step("download")
    if report["exported"]["downloadEnabled"]:
        driver.find_element(By.ID, "download-link").click()
        report["downloadName"] = wait_for_download(download_dir)
        shutil.move(os.path.join(download_dir, report["downloadName"]), download_path)
        report["downloadPath"] = download_path

    step("screenshot")
    driver.execute_script("window.scrollTo(0, 0)")
    if not driver.get_screenshot_as_file(screenshot_path):
        raise AssertionError("cannot write the screenshot to %s" % screenshot_path)
    report["screenshotPath"] = screenshot_path
    step("done")


def run_admin_session(url, work_dir, download_path, screenshot_path):
    """The report of one session; raises (with the report so far) when a
    step could not be carried out."""
    report = {"url": url, "steps": [], "console": []}
    profile_dir = os.path.join(work_dir, "chromium-profile")
    download_dir = os.path.join(work_dir, "downloads")
    driver_log = os.path.join(work_dir, "chromedriver.log")
    os.makedirs(download_dir)
    driver = start_chromium(profile_dir, download_dir, driver_log)
    try:
        admin_session(driver, url, download_dir, download_path, screenshot_path, report)
        report["console"] = ["%s: %s" % (e["level"], e["message"]) for e in driver.get_log("browser")]
    except Exception as e:
        raise AssertionError("the session failed at step %r: %s\nreport so far: %s\nchromedriver log: %s"
                             % (report["steps"][-1] if report["steps"] else None, e,
                                json.dumps(report, indent=2), driver_log)) from e
    finally:
        driver.quit()
    return report


class ConsoleForm(unittest.TestCase):
    """One admin session in the browser; each test checks one part of it."""

    maxDiff = None

    @classmethod
    def setUpClass(cls):
        for path in (s.EMHOST, s.PSTSNAP_PLUGIN):
            if not os.path.exists(path):
                # A missing build is a failure, never a skip.
                raise AssertionError("%s does not exist: build first" % path)
        os.makedirs(s.TEST_TMP, exist_ok=True)
        cls.dir = tempfile.mkdtemp(prefix="console-form-", dir=s.TEST_TMP)
        cls.download = os.path.join(cls.dir, "downloaded-policy.json")
        shot = os.path.join(cls.dir, "screenshot.png")
        with serve.ConsoleServer() as server:
            cls.report = run_admin_session(server.url, cls.dir, cls.download, shot)
        if cls.report.get("ready") != "true":
            raise AssertionError("the page did not load its form: %r\n%s"
                                 % (cls.report.get("loadError"), json.dumps(cls.report, indent=2)))
        cls.screenshot = shot
        # The README's picture is refreshed only when asked: a test run must
        # not rewrite files of the source tree.
        if os.environ.get("PSTSNAP_UPDATE_SCREENSHOT") == "1":
            shutil.copyfile(shot, SCREENSHOT)
        cls.schema = load_json(PARAMETER_SCHEMA)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def field_schema(self, name):
        return self.schema["properties"][name]

    def test_page_loads_without_script_errors_or_missing_files(self):
        self.assertEqual(self.report["steps"][-1], "done", self.report["steps"])
        self.assertEqual(self.report["console"], [], "the browser reported problems")

    def test_form_has_one_panel_per_schema_group_in_schema_order(self):
        groups = []
        for prop in self.schema["properties"].values():
            if prop["x-group"] not in groups:
                groups.append(prop["x-group"])
        self.assertEqual(self.report["groups"], ["root." + g for g in groups])

    def test_destination_shows_title_description_and_examples(self):
        field = self.report["destinationBefore"]
        schema = self.field_schema("destination")
        self.assertEqual(field["label"], schema["title"])
        self.assertIn(schema["description"], field["description"])
        self.assertIn("Examples:", field["description"])
        for example in schema["examples"]:
            self.assertIn(example, field["description"])
        self.assertEqual(field["value"], "", "destination has no default: it starts empty")

    def test_a_field_with_a_default_shows_it_and_starts_with_it(self):
        field = self.report["keepVersionsBefore"]
        schema = self.field_schema("keepVersions")
        self.assertEqual(field["label"], schema["title"])
        self.assertIn(schema["description"], field["description"])
        self.assertIn("Default: %s" % schema["default"], field["description"])
        self.assertEqual(field["value"], str(schema["default"]))
        self.assertFalse(field["errorShown"], field)

    def test_filled_destination_is_accepted(self):
        field = self.report["destinationFilled"]
        self.assertEqual(field["value"], DESTINATION)
        self.assertFalse(field["errorShown"], field)

    def test_bad_value_shows_its_error_next_to_the_field_while_typing(self):
        field = self.report["keepVersionsBad"]
        self.assertEqual(field["value"], "-1")
        self.assertTrue(field["errorShown"], field)
        self.assertIn("at least %d" % self.field_schema("keepVersions")["minimum"], field["errorText"])
        self.assertTrue(field["errorBesideInput"], "the error is not in the field's own control")
        # Shown before the admin left the field: validated as typed.
        self.assertTrue(field["focused"], "the field lost focus before the error showed")
        # Only the bad field is marked.
        self.assertFalse(self.report["destinationWhileBad"]["errorShown"],
                         self.report["destinationWhileBad"])

    def test_export_is_refused_while_a_field_is_invalid(self):
        state = self.report["exportWhileBad"]
        self.assertEqual(state["policyText"], "")
        self.assertFalse(state["downloadEnabled"])
        self.assertEqual(state["statusKind"], "error", state)
        self.assertEqual(len(state["errors"]), 1, state["errors"])
        self.assertIn("keepVersions", state["errors"][0])

    def test_fixed_value_clears_the_error(self):
        field = self.report["keepVersionsFixed"]
        self.assertEqual(field["value"], str(KEEP_VERSIONS_FIXED))
        self.assertFalse(field["errorShown"], field)

    def test_exported_policy_is_the_outlook_node_with_the_changed_parameters(self):
        state = self.report["exported"]
        self.assertEqual(state["statusKind"], "ok", state)
        self.assertTrue(state["downloadEnabled"])
        policy = json.loads(state["policyText"])
        self.assertEqual(policy["version"], 1)
        self.assertEqual(policy["plugins"], ["pstsnap"])
        nodes = policy["triggers"]["processStarted"]
        self.assertEqual(len(nodes), 1)
        node = nodes[0]
        self.assertEqual(node["conditions"], [
            {"type": "processName", "operator": "Equal", "value": "OUTLOOK.EXE"},
            {"type": "counter", "max": 1}])
        self.assertGreater(node["timeoutMs"], 0)
        self.assertEqual(len(node["actions"]), 1)
        action = node["actions"][0]
        self.assertEqual(action["action"], "pstsnap.BackupPsts")
        self.assertEqual(action["runAs"], "System")
        # Values left at their default stay with the plugin.
        self.assertEqual(action["parameters"],
                         {"destination": DESTINATION, "keepVersions": KEEP_VERSIONS_FIXED})

    def test_download_is_the_exported_policy(self):
        self.assertEqual(self.report.get("downloadName"), "backup-psts.json")
        with open(self.download, encoding="utf-8") as f:
            self.assertEqual(f.read(), self.report["exported"]["policyText"])

    def test_emhost_validate_accepts_the_downloaded_policy(self):
        r = subprocess.run(s.EMHOST_COMMAND + ["validate", self.download, "--plugin-dir",
                                               os.path.dirname(s.PSTSNAP_PLUGIN)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=60)
        self.assertEqual(r.returncode, s.EXIT_OK,
                         "emhost validate: exit %d\n%s%s" % (r.returncode, r.stdout, r.stderr))
        self.assertIn("valid (1 plugin, 1 node, 1 action)", r.stdout)

    def test_screenshot_is_a_small_png(self):
        with open(self.screenshot, "rb") as f:
            data = f.read()
        self.assertEqual(data[:8], b"\x89PNG\r\n\x1a\n")
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        self.assertEqual((width, height), (1000, 900))
        self.assertLess(len(data), 400 * 1024)


if __name__ == "__main__":
    reason = missing_prerequisite()
    if reason:
        print("skipped: " + reason)
        sys.exit(SKIPPED)
    s.main()
