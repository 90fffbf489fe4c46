// console.js - the Backup PSTs node editor.
//
// json-editor (Debian's libjs-json-editor) renders and validates the form;
// this file only adapts the action's parameter schema for display and turns
// the form's value into a policy:
//
//   schemas/backup-psts.parameters.schema.json
//     -> display schema: one panel per x-group, the default and the examples
//        added to each description (json-editor 1.3 ignores "examples")
//     -> json-editor form, errors shown next to the field as the admin types
//     -> parameters (only those that differ from their default, unless the
//        admin asks for all) -> a policy valid against policy.schema.json.
(function () {
  'use strict';

  const PARAMETER_SCHEMA_URL = '../../schemas/backup-psts.parameters.schema.json';
  const POLICY_SCHEMA_URL = '../../schemas/policy.schema.json';
  const ACTION_ID = 'pstsnap.BackupPsts';
  const PLUGIN_NAME = 'pstsnap';
  const PROCESS_NAME = 'OUTLOOK.EXE';
  const UNGROUPED = 'Other';
  // json-editor validates on the input's change event (on leaving the
  // field); re-sending it after a short pause in typing shows the error while
  // the admin types, without rewriting the value under every keystroke.
  const TYPING_PAUSE_MS = 250;

  const page = {
    loadError: document.getElementById('load-error'),
    parametersHolder: document.getElementById('parameters-form'),
    nodeHolder: document.getElementById('node-form'),
    includeDefaults: document.getElementById('include-defaults'),
    exportButton: document.getElementById('export-button'),
    downloadLink: document.getElementById('download-link'),
    status: document.getElementById('export-status'),
    errorList: document.getElementById('export-errors'),
    policyText: document.getElementById('policy-json'),
  };

  async function fetchJson(url) {
    const response = await fetch(url, {cache: 'no-store'});
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${response.statusText}`);
    try {
      return await response.json();
    } catch (e) {
      throw new Error(`${url}: not JSON (${e.message})`);
    }
  }

  // json-editor's html theme puts descriptions in with innerHTML: every
  // schema text goes through here so it shows literally.
  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({
      '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
    })[c]);
  }

  // A value as the admin would type it: strings bare (no JSON quoting, so
  // backslashes stay single), lists as their items.
  function valueHtml(value) {
    if (Array.isArray(value)) {
      return value.length ? value.map(valueHtml).join(' ') : '<i>(none)</i>';
    }
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    return `<code>${escapeHtml(text)}</code>`;
  }

  function helpHtml(property) {
    let html = escapeHtml(property.description || '');
    if ('default' in property) {
      html += `<span class="param-default">Default: ${valueHtml(property.default)}</span>`;
    }
    if (Array.isArray(property.examples) && property.examples.length) {
      const examples = property.examples.map((e) => `<span class="example">${valueHtml(e)}</span>`);
      html += `<span class="param-examples">Examples: ${examples.join('')}</span>`;
    }
    return html;
  }

  function groupOf(property) {
    return property['x-group'] || UNGROUPED;
  }

  // The parameter schema as json-editor should show it: one object per
  // x-group (in order of first appearance), each field's help carrying its
  // default and examples. Constraints are kept as they are, so json-editor
  // checks exactly what the plugin will check.
  function displaySchema(parameterSchema) {
    const groups = {};
    for (const [name, property] of Object.entries(parameterSchema.properties)) {
      const group = groupOf(property);
      if (!groups[group]) {
        groups[group] = {
          type: 'object',
          title: group,
          properties: {},
          required: [],
          additionalProperties: false,
        };
      }
      const field = Object.assign({}, property, {description: helpHtml(property)});
      delete field['x-group'];
      delete field.examples;
      if (field.type === 'boolean') field.format = 'checkbox';
      if (field.type === 'array') field.format = 'table';
      groups[group].properties[name] = field;
      // Every field is required in the form (an emptied field is an error,
      // not a silent default); the export drops values equal to the default.
      groups[group].required.push(name);
    }
    return {
      type: 'object',
      title: parameterSchema.title,
      description: escapeHtml(parameterSchema.description || ''),
      properties: groups,
      required: Object.keys(groups),
      additionalProperties: false,
    };
  }

  // The node's own settings, from policy.schema.json's definitions so their
  // constraints and help are the host's.
  function nodeSchema(policySchema) {
    const node = policySchema.definitions.node.properties;
    const action = policySchema.definitions.action.properties;
    const field = (from, extra) => {
      const f = Object.assign({}, from, extra);
      f.description = helpHtml(f);
      return f;
    };
    return {
      type: 'object',
      title: 'Node',
      properties: {
        policyName: field(policySchema.properties.name,
                          {title: 'Policy name', minLength: 1, default: 'Backup PSTs when Outlook starts'}),
        nodeName: field(node.name, {title: 'Node name', default: 'Outlook started',
                                    description: 'The node under the Process Started trigger.'}),
        actionName: field(action.description, {title: 'Action name', minLength: 1,
                                               default: 'Backup PSTs'}),
        timeoutMs: field(node.timeoutMs, {
          title: 'Node timeout (ms)',
          default: 10000,
          description: node.timeoutMs.description +
            ' Backup PSTs hands the copy to a background worker and returns within milliseconds;' +
            ' the timeout only catches a stuck start.',
        }),
      },
      required: ['policyName', 'nodeName', 'actionName', 'timeoutMs'],
      additionalProperties: false,
    };
  }

  function sameJson(a, b) {
    return JSON.stringify(a) === JSON.stringify(b);
  }

  // Form value (grouped) -> the action's parameters, in the schema's order.
  //
  // By default only values that differ from the schema's default are
  // written: the defaults belong to the plugin version, so a policy that
  // never chose a value follows improved defaults, and the policy shows only
  // what the admin decided (as deploy/policies/backup-psts.json does).
  // "Also write parameters left at their defaults" pins every value.
  function toParameters(formValue, parameterSchema, includeDefaults) {
    const parameters = {};
    for (const [name, property] of Object.entries(parameterSchema.properties)) {
      const group = formValue[groupOf(property)] || {};
      const value = group[name];
      if (value === undefined) continue;
      if (!includeDefaults && 'default' in property && sameJson(value, property.default)) continue;
      parameters[name] = value;
    }
    return parameters;
  }

  function toPolicy(parameters, node, policySchema) {
    return {
      $schema: policySchema.$id,
      version: 1,
      name: node.policyName,
      plugins: [PLUGIN_NAME],
      settings: {nodeTimeoutMs: 30000},
      triggers: {
        processStarted: [{
          name: node.nodeName,
          conditions: [
            {type: 'processName', operator: 'Equal', value: PROCESS_NAME},
            {type: 'counter', max: 1},
          ],
          timeoutMs: node.timeoutMs,
          actions: [{
            action: ACTION_ID,
            description: node.actionName,
            runAs: 'System',
            parameters: parameters,
          }],
        }],
      },
    };
  }

  function makeEditor(holder, schema) {
    const editor = new JSONEditor(holder, {
      schema: schema,
      theme: 'html',
      show_errors: 'interaction',
      disable_edit_json: true,
      disable_properties: true,
      disable_collapse: true,
      disable_array_reorder: true,
      prompt_before_delete: false,
      no_additional_properties: true,
    });
    return new Promise((resolve) => editor.on('ready', () => resolve(editor)));
  }

  function validateWhileTyping(holder) {
    const timers = new WeakMap();
    holder.addEventListener('input', (event) => {
      const input = event.target;
      if (!(input instanceof HTMLInputElement || input instanceof HTMLTextAreaElement)) return;
      if (input.type === 'checkbox') return;
      clearTimeout(timers.get(input));
      timers.set(input, setTimeout(() => input.dispatchEvent(new Event('change')), TYPING_PAUSE_MS));
    });
  }

  function setDownload(text) {
    if (page.downloadLink.href) URL.revokeObjectURL(page.downloadLink.href);
    if (text === null) {
      page.downloadLink.removeAttribute('href');
      page.downloadLink.setAttribute('aria-disabled', 'true');
      return;
    }
    page.downloadLink.href = URL.createObjectURL(new Blob([text], {type: 'application/json'}));
    page.downloadLink.setAttribute('aria-disabled', 'false');
  }

  function showStatus(text, kind) {
    page.status.textContent = text;
    page.status.dataset.kind = kind;
  }

  function showExportErrors(errors) {
    page.errorList.replaceChildren(...errors.map((e) => {
      const item = document.createElement('li');
      item.textContent = `${e.path.replace(/^root\./, '')}: ${e.message}`;
      return item;
    }));
  }

  function start(parameterSchema, policySchema, parametersEditor, nodeEditor) {
    const policyText = () => {
      const parameters = toParameters(parametersEditor.getValue(), parameterSchema,
                                      page.includeDefaults.checked);
      const policy = toPolicy(parameters, nodeEditor.getValue(), policySchema);
      return {text: JSON.stringify(policy, null, 2) + '\n', count: Object.keys(parameters).length};
    };
    let exportedText = null;
    // json-editor also reports a change when a field merely loses focus, so
    // the export is only withdrawn when the policy it would write differs.
    const markStale = () => {
      if (exportedText === null || policyText().text === exportedText) return;
      exportedText = null;
      page.policyText.value = '';
      setDownload(null);
      showStatus('The form changed: export again.', 'stale');
    };
    parametersEditor.on('change', markStale);
    nodeEditor.on('change', markStale);
    page.includeDefaults.addEventListener('change', markStale);

    page.exportButton.addEventListener('click', () => {
      const errors = parametersEditor.validate().concat(nodeEditor.validate());
      if (errors.length) {
        // Show every error now, including fields never touched.
        parametersEditor.setOption('show_errors', 'always');
        nodeEditor.setOption('show_errors', 'always');
        page.policyText.value = '';
        setDownload(null);
        exportedText = null;
        showExportErrors(errors);
        showStatus(`Not exported: ${errors.length} field${errors.length > 1 ? 's need' : ' needs'} fixing.`,
                   'error');
        return;
      }
      const {text, count} = policyText();
      page.policyText.value = text;
      setDownload(text);
      showExportErrors([]);
      showStatus(`Exported: ${count} parameter${count === 1 ? '' : 's'}` +
                 (page.includeDefaults.checked ? '' : ' (defaults left to the plugin)') + '.', 'ok');
      exportedText = text;
    });

    page.exportButton.disabled = false;
    showStatus('Fill in the destination, then export.', 'idle');
    document.body.dataset.ready = 'true';
  }

  async function main() {
    try {
      if (typeof JSONEditor === 'undefined') {
        throw new Error('json-editor did not load from /javascript/json-editor/: ' +
                        'install libjs-json-editor and serve the page with deploy/console/serve.py');
      }
      const [parameterSchema, policySchema] = await Promise.all([
        fetchJson(PARAMETER_SCHEMA_URL), fetchJson(POLICY_SCHEMA_URL)]);
      validateWhileTyping(page.parametersHolder);
      validateWhileTyping(page.nodeHolder);
      const parametersEditor = await makeEditor(page.parametersHolder, displaySchema(parameterSchema));
      const nodeEditor = await makeEditor(page.nodeHolder, nodeSchema(policySchema));
      start(parameterSchema, policySchema, parametersEditor, nodeEditor);
    } catch (e) {
      page.loadError.textContent = `The form cannot be shown: ${e.message || e}`;
      page.loadError.hidden = false;
      showStatus('Not available.', 'error');
      document.body.dataset.ready = 'error';
    }
  }

  main();
})();
