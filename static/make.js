// Making a file and carrying out the action: the form, the job's progress, and the result.
// Progress is polled with fetch, because EventSource can't send the Authorization header.

const POLL_MS = 400;
const POLL_MAX_MS = 5000; // when the app or the network hiccups, ask less and less often
const SUBMIT_LABELS = {
  post: 'Make the file and post it to this Thing',
  remix: 'Make the file and post a remix',
  download: 'Make the file and download it',
};

const $ = (id) => document.getElementById(id);

function option(value, label) {
  const el = document.createElement('option');
  el.value = value;
  el.textContent = label;
  return el;
}

// 684 -> "684 B", 9500 -> "9.5 KB", 4100000 -> "4.1 MB".
function humanSize(size) {
  if (typeof size !== 'number') return '';
  if (size < 1000) return ` (${size} B)`;
  return size < 1e6 ? ` (${(size / 1e3).toFixed(1)} KB)` : ` (${(size / 1e6).toFixed(1)} MB)`;
}

const form = $('make');

// The Thing's model files that the chosen tool takes.
function filesForTool(context) {
  const tool = context.tools.find((t) => t.id === chosenTool());
  const suffix = (name) => name.slice(name.lastIndexOf('.')).toLowerCase();
  return context.files.filter((f) => tool && tool.extensions.includes(suffix(f.name)));
}
// The chosen model's size and health, then its 3D preview (three.js loads only now). A tool's
// script hears of the size through a `thingapp:model` event on the form.
let previewing = 0;

async function showPreview() {
  const fileId = $('file').value;
  const shown = ++previewing;
  $('preview').hidden = !fileId;
  if (!fileId) return;
  const name = $('file').selectedOptions[0].textContent;
  const base = `/api/things/${current.thingId}/files/${encodeURIComponent(fileId)}/preview`;
  $('model-size').textContent = 'Measuring the model…';
  const info = await current.call('GET', base);
  if (shown !== previewing) return; // another file was chosen meanwhile
  if (info.status !== 200) {
    $('model-size').textContent = info.body.error || 'The model could not be measured.';
    return;
  }
  const size = info.body.size_mm.map((v) => Number(v.toFixed(1)));
  const health = info.body.watertight ? 'watertight' : 'not watertight (it has holes or gaps)';
  $('model-size').textContent = `Size ${size.join(' x ')} mm · ` +
    `${info.body.triangles.toLocaleString('en')} triangles · ${health}`;
  form.dispatchEvent(new CustomEvent('thingapp:model', {detail: info.body}));
  const glb = await current.call('GET', `${base}.glb`, undefined, 'blob');
  if (shown !== previewing || glb.status !== 200) return;
  const canvas = $('preview-canvas');
  const {showModel} = await import('./preview.js');
  await showModel(canvas, await glb.body.arrayBuffer());
  modelName = `${name}, ${size.join(' x ')} mm`;
  reframe();
}
$('file').addEventListener('change', showPreview);

// Before or after: the model as it is, or the tool's result (a tool's script tells its scale
// and the printer bed through a `thingapp:result` event), on that bed.
let result = {scale: null, bed: null, size: null};
let modelName = '';
form.addEventListener('thingapp:result', (event) => {
  result = event.detail;
  reframe();
});
$('preview-toggle').addEventListener('click', () => {
  const after = $('preview-toggle').getAttribute('aria-pressed') !== 'true';
  $('preview-toggle').setAttribute('aria-pressed', String(after));
  reframe();
});

async function reframe() {
  const after = $('preview-toggle').getAttribute('aria-pressed') === 'true' && result.scale;
  $('preview-toggle').hidden = !result.scale;
  if (!modelName) return;
  const {frame} = await import('./preview.js');
  frame({scale: after ? result.scale : 1, bed: result.bed});
  const what = after && result.size ? `the result, ${result.size} mm` : modelName;
  const bed = result.bed ? ` on a ${result.bed.join(' x ')} mm bed` : '';
  $('preview-canvas').setAttribute('aria-label', `3D preview of ${what}${bed}. Drag, or use ` +
                                   'the arrow keys, to turn it; scroll, or + and -, to zoom.');
}

function showFiles(context) {
  const files = filesForTool(context);
  $('file').replaceChildren(...files.map((f) => option(f.id, f.name + humanSize(f.size))));
  $('no-files').hidden = files.length > 0;
  $('go').disabled = files.length === 0; // nothing to make a file from with this tool
  showPreview();
}
const job = $('job');
let pollTimer = null;
let current = null; // {context, call, thingId} of the signed-in view shown now

// Fill the form for a Thing; call(method, url, body, as) is the launch page's authenticated fetch.
// Returns a function that picks up a job still running (after a reload of the frame).
export function setUpMaker(options) {
  current = options;
  const {context} = options;
  clearTimeout(pollTimer);
  job.hidden = true;
  form.hidden = false;

  toolChanged(); // shows the files the chosen tool takes
  // No model file for any tool: a sentence instead of a form that can do nothing.
  form.hidden = context.files.length === 0;
  $('no-model').hidden = context.files.length > 0;

  // The actions, default first and selected.
  $('actions').replaceChildren(...context.actions.map((action, index) => {
    const label = document.createElement('label');
    const input = document.createElement('input');
    Object.assign(input, {type: 'radio', name: 'action', value: action.id, checked: index === 0});
    label.append(input, ` ${action.label}${index === 0 ? ' (recommended)' : ''}`);
    return label;
  }));
  if (context.remix) {
    $('remix-name').value = context.remix.name;
    $('remix-license').replaceChildren(...context.remix.licenses.map((l) => option(l.code, l.label)));
    $('remix-license-note').textContent = context.remix.license_note;
    $('remix-category').replaceChildren(...context.remix.categories.map((c) => option(c, c)));
    $('remix-category').value = context.remix.category; // the parent's, by default
  }

  actionChanged();
  return async function resumeRunningJob() {
    const r = await current.call('GET', `/api/jobs?thing_id=${options.thingId}`);
    if (r.status === 200 && r.body.job && r.body.job.status === 'running') follow(r.body.job.id);
  };
}

const chosenAction = () => form.querySelector('input[name=action]:checked').value;
function actionChanged() {
  $('remix-fields').hidden = chosenAction() !== 'remix';
  $('go').textContent = SUBMIT_LABELS[chosenAction()];
}
$('actions').addEventListener('change', actionChanged);

// The tool: with several, the user picks one; only its fieldset is shown and sent.
const toolFieldsets = [...form.querySelectorAll('fieldset[data-tool]')];
const chosenTool = () => {
  const picked = form.querySelector('input[name=tool]:checked');
  return picked ? picked.value : toolFieldsets[0].dataset.tool;
};
function toolChanged() {
  for (const fieldset of toolFieldsets) {
    const chosen = fieldset.dataset.tool === chosenTool();
    fieldset.hidden = !chosen;
    fieldset.disabled = !chosen;
  }
  if (current) showFiles(current.context);
}
form.querySelectorAll('input[name=tool]').forEach((el) => el.addEventListener('change', toolChanged));

function toolOptions(fieldset) {
  const options = {};
  for (const el of fieldset.querySelectorAll('[name]')) {
    if ((el.type === 'radio' || el.type === 'checkbox') && !el.checked) continue;
    if (!el.disabled) options[el.name] = el.value;
  }
  return options;
}

// A refused option: the field at fault is marked, described by the message, and focused.
function markInvalid(fieldset, name) {
  for (const el of form.querySelectorAll('[aria-invalid]')) {
    el.removeAttribute('aria-invalid');
    el.removeAttribute('aria-describedby');
  }
  const field = name && fieldset.querySelector(`[name="${CSS.escape(name)}"]`);
  if (!field) return;
  field.setAttribute('aria-invalid', 'true');
  field.setAttribute('aria-describedby', 'form-error');
  field.focus();
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  $('form-error').textContent = '';
  const {context, call, thingId} = current;
  if (!filesForTool(context).length) return;
  const fieldset = toolFieldsets.find((el) => el.dataset.tool === chosenTool());
  const body = {
    thing_id: thingId, file_id: Number($('file').value), tool: chosenTool(),
    options: toolOptions(fieldset), action: chosenAction(),
  };
  if (body.action === 'remix') {
    body.remix = {name: $('remix-name').value, license: $('remix-license').value,
                  category: $('remix-category').value, publish: $('remix-publish').checked};
  }
  $('go').disabled = true;
  const r = await call('POST', '/api/jobs', body);
  $('go').disabled = false;
  if (r.status !== 202) {
    $('form-error').textContent = r.body.error || 'The file could not be made.';
    markInvalid(fieldset, r.body.field);
    return;
  }
  markInvalid(fieldset, null);
  follow(r.body.job_id);
});

// A remix saved as a work in progress can be published from the done screen.
$('publish-now').addEventListener('click', async () => {
  $('publish-now').disabled = true;
  const r = await current.call('POST', `/api/jobs/${encodeURIComponent(followed)}/publish`);
  $('publish-now').disabled = false;
  if (r.status === 200) {
    render(r.body);
    return;
  }
  $('job-message').textContent = r.body.error || 'The remix could not be published.';
  showList('publish-errors', r.body.reasons || []);
});

function showList(id, lines) {
  $(id).replaceChildren(...lines.map((text) => {
    const li = document.createElement('li');
    li.textContent = text;
    return li;
  }));
}

function heading(view, result) {
  if (view.status === 'failed') return 'The file was not made';
  if (result.thing_id) return result.published ? 'Remix published' : 'Remix created';
  if (result.download) return 'Your file is ready';
  return 'Posted';
}

$('again').addEventListener('click', () => {
  document.querySelectorAll('a.download').forEach((link) => {
    URL.revokeObjectURL(link.href);
    link.remove();
  });
  job.hidden = true;
  form.hidden = false;
});

function render(view) {
  form.hidden = true;
  job.hidden = false;
  job.classList.toggle('failed', view.status === 'failed');
  let progressText = '';
  if (view.status === 'running' && view.percent != null && view.step !== 'upload') {
    progressText = ` ${view.percent} %`; // an upload says how much is sent in its own words
  }
  const text = view.message + progressText;
  // A live region is read out on every change: write it only when the words change.
  if ($('job-message').textContent !== text) $('job-message').textContent = text;
  const bar = $('job-progress');
  bar.hidden = view.status !== 'running';
  if (view.percent == null) bar.removeAttribute('value'); else bar.value = view.percent;
  const result = view.result || {};
  const finished = view.status !== 'running';
  $('job-heading').hidden = !finished;
  $('job-heading').textContent = finished ? heading(view, result) : '';
  showList('publish-errors', result.publish_errors || []);
  const linked = finished && result.url; // a removed remix leaves no link behind
  $('job-result').hidden = !linked;
  if (linked) {
    $('job-link').href = result.url;
    $('job-link').textContent = `View ${result.name || 'it'} on Thingiverse`;
  }
  $('publish-now').hidden = !(view.status === 'done' && result.thing_id && !result.published);
  $('again').hidden = !finished;
  $('again').textContent = view.status === 'failed' ? 'Try again' : 'Make another file';
}

// Stop following a job (signing out): the job itself goes on on the server.
export function stopMaker() {
  clearTimeout(pollTimer);
}

let followed = null; // the id of the job shown

async function follow(jobId, wait = POLL_MS) {
  clearTimeout(pollTimer);
  followed = jobId;
  const r = await current.call('GET', `/api/jobs/${encodeURIComponent(jobId)}`);
  if (r.status === 0 || r.status === 429 || r.status >= 500) { // a blip: the job goes on
    $('job-message').textContent = 'Checking on the job again…';
    pollTimer = setTimeout(() => follow(jobId, Math.min(wait * 2, POLL_MAX_MS)), wait);
    return;
  }
  if (r.status === 401) {
    location.reload(); // the session ended: the page offers Connect again
    return;
  }
  if (r.status !== 200) {
    render({status: 'failed', message: r.body.error || 'The job was lost.'});
    return;
  }
  render(r.body);
  if (r.body.status !== 'running') $('job-heading').focus(); // the result, for keyboard users
  if (r.body.status === 'running') {
    pollTimer = setTimeout(() => follow(jobId), POLL_MS);
  } else if (r.body.status === 'done' && r.body.result && r.body.result.download) {
    await download(jobId, r.body.result.download);
  }
}

async function download(jobId, name) {
  const blob = await current.call('GET', `/api/jobs/${encodeURIComponent(jobId)}/file`, undefined, 'blob');
  if (blob.status !== 200) {
    render({status: 'failed', message: 'The file could not be downloaded. Make it again.'});
    return;
  }
  document.querySelectorAll('a.download').forEach((old) => {
    URL.revokeObjectURL(old.href);
    old.remove();
  });
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob.body);
  link.download = name;
  link.textContent = `Download ${name} again`;
  link.className = 'download';
  $('job-message').after(link);
  link.click();
}
