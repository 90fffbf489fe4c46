// drive_form.js - an admin's session with deploy/console/ in Debian's
// headless chromium, driven by playwright-core (which never downloads a
// browser). test_console_form.py runs it and asserts on what it reports.
//
//   node drive_form.js URL DOWNLOAD_PATH SCREENSHOT_PATH
//
// It opens the page, reads the destination field, fills it, types a bad
// keepVersions (-1), tries to export, fixes keepVersions (3), exports,
// downloads the policy to DOWNLOAD_PATH and screenshots the filled form.
// What the DOM showed at each step goes to stdout as one JSON object; the
// assertions live in the Python test. Exit 0 when every step could be
// carried out, 1 (with the reason on stderr) when one could not.
'use strict';

const {chromium} = require('playwright-core');

const CHROMIUM = process.env.PSTSNAP_CHROMIUM || '/usr/bin/chromium';
const VIEWPORT = {width: 1000, height: 900};
const STEP_TIMEOUT_MS = 15000;
const DESTINATION = '$(DataNowHome)\\Outlook Backup';

// json-editor marks each field's container with data-schemapath.
const field = (path) => `[data-schemapath="${path}"]`;
const DESTINATION_FIELD = field('root.Destination.destination');
const KEEP_VERSIONS_FIELD = field('root.Destination.keepVersions');

async function fieldState(page, selector) {
  return page.$eval(selector, (container) => {
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
  });
}

async function exportState(page) {
  return page.evaluate(() => ({
    status: document.getElementById('export-status').textContent.trim(),
    statusKind: document.getElementById('export-status').dataset.kind || null,
    errors: [...document.querySelectorAll('#export-errors li')].map((li) => li.textContent.trim()),
    policyText: document.getElementById('policy-json').value,
    downloadEnabled: document.getElementById('download-link').getAttribute('aria-disabled') === 'false' &&
      document.getElementById('download-link').hasAttribute('href'),
  }));
}

// Types like a person (key by key) and waits for the field's error to be
// shown or gone, without leaving the field: the page validates as one types.
async function typeInto(page, selector, text) {
  const input = page.locator(`${selector} input`);
  await input.click();
  await input.press('Control+A');
  await input.press('Backspace');
  await input.pressSequentially(text, {delay: 30});
}

// json-editor redraws errors on the next animation frame after a change:
// wait until the field's error is shown (or gone). A field that never gets
// there is not a driver failure: its state is reported as it is and the
// Python test's assertion says what was wrong.
async function waitForError(page, selector, shown) {
  try {
    await page.waitForFunction(([sel, want]) => {
      const e = document.querySelector(`${sel} .errmsg`);
      const isShown = !!e && e.offsetParent !== null && e.textContent.trim() !== '';
      return isShown === want;
    }, [selector, shown], {timeout: STEP_TIMEOUT_MS});
  } catch (e) {
    if (e.name !== 'TimeoutError') throw e;
  }
}

async function session(page, downloadPath, screenshotPath, report) {
  const step = (name) => { report.steps.push(name); };

  step('open');
  await page.goto(report.url);
  await page.waitForFunction(() => document.body.dataset.ready, null, {timeout: STEP_TIMEOUT_MS});
  report.ready = await page.evaluate(() => document.body.dataset.ready);
  if (report.ready !== 'true') {
    report.loadError = await page.textContent('#load-error');
    return;
  }
  report.groups = await page.$$eval('#parameters-form [data-schemapath^="root."]',
    (els) => els.filter((e) => e.dataset.schemapath.split('.').length === 2)
                .map((e) => e.dataset.schemapath));
  report.destinationBefore = await fieldState(page, DESTINATION_FIELD);
  report.keepVersionsBefore = await fieldState(page, KEEP_VERSIONS_FIELD);

  step('fill destination');
  await typeInto(page, DESTINATION_FIELD, DESTINATION);
  await page.locator(`${DESTINATION_FIELD} input`).press('Tab');
  await waitForError(page, DESTINATION_FIELD, false);
  report.destinationFilled = await fieldState(page, DESTINATION_FIELD);

  step('type a bad keepVersions');
  await typeInto(page, KEEP_VERSIONS_FIELD, '-1');
  await waitForError(page, KEEP_VERSIONS_FIELD, true);
  report.keepVersionsBad = await fieldState(page, KEEP_VERSIONS_FIELD);
  report.keepVersionsBad.focused = await page.$eval(`${KEEP_VERSIONS_FIELD} input`,
    (input) => document.activeElement === input);
  report.destinationWhileBad = await fieldState(page, DESTINATION_FIELD);

  step('export while invalid');
  await page.click('#export-button');
  report.exportWhileBad = await exportState(page);

  step('fix keepVersions');
  await typeInto(page, KEEP_VERSIONS_FIELD, '3');
  await waitForError(page, KEEP_VERSIONS_FIELD, false);
  report.keepVersionsFixed = await fieldState(page, KEEP_VERSIONS_FIELD);

  step('export');
  await page.click('#export-button');
  report.exported = await exportState(page);

  step('download');
  if (report.exported.downloadEnabled) {
    const [download] = await Promise.all([
      page.waitForEvent('download', {timeout: STEP_TIMEOUT_MS}),
      page.click('#download-link'),
    ]);
    report.downloadName = download.suggestedFilename();
    await download.saveAs(downloadPath);
    report.downloadPath = downloadPath;
  }

  step('screenshot');
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({path: screenshotPath, type: 'png'});
  report.screenshotPath = screenshotPath;
  step('done');
}

async function main() {
  const [url, downloadPath, screenshotPath] = process.argv.slice(2);
  if (!url || !downloadPath || !screenshotPath) {
    console.error('usage: node drive_form.js URL DOWNLOAD_PATH SCREENSHOT_PATH');
    process.exit(2);
  }
  const report = {url, steps: [], console: []};
  // Chromium's sandbox refuses to start as root (CI containers run as root).
  const args = process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [];
  const browser = await chromium.launch({executablePath: CHROMIUM, headless: true, args});
  let failure = null;
  try {
    const context = await browser.newContext({viewport: VIEWPORT, acceptDownloads: true});
    const page = await context.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    page.on('console', (m) => report.console.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => report.console.push(`pageerror: ${e.message}`));
    page.on('requestfailed', (r) => report.console.push(`requestfailed: ${r.url()}`));
    await session(page, downloadPath, screenshotPath, report);
  } catch (e) {
    failure = e;
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  if (failure) {
    console.error(`drive_form.js: step '${report.steps[report.steps.length - 1]}' failed: ${failure.message}`);
    process.exit(1);
  }
}

main().catch((e) => {
  console.error(`drive_form.js: ${e.stack || e}`);
  process.exit(1);
});
