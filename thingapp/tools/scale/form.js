// The scale tool's form: "Inches to mm" needs no number, and the number's label follows the mode.
const fieldset = document.querySelector('fieldset[data-tool="scale"]');
const value = fieldset.querySelector('#scale-value');
const label = fieldset.querySelector('#scale-value-label');
const LABELS = {percent: 'Scale (%)', target: 'Largest side (mm)', inch: 'Scale'};

fieldset.addEventListener('change', (event) => {
  if (event.target.name !== 'mode') return;
  const inch = event.target.value === 'inch';
  label.textContent = LABELS[event.target.value];
  value.disabled = inch || fieldset.disabled;
  value.hidden = inch;
  label.hidden = inch;
});

// The result's size, as the user types: the model's size (from the page's `thingapp:model`
// event) times the scale the mode and number give.
let modelSize = null;
const result = fieldset.querySelector('#scale-result');

function factor() {
  const mode = fieldset.querySelector('input[name=mode]:checked').value;
  if (mode === 'inch') return 25.4;
  const number = Number(value.value);
  if (!(number > 0)) return null;
  return mode === 'percent' ? number / 100 : number / Math.max(...modelSize);
}

const bed = fieldset.querySelector('#bed');
const customBed = fieldset.querySelector('#bed-custom');
const warning = fieldset.querySelector('#bed-warning');
const BED_KEY = 'thingapp.bed';
const mm = (values) => values.map((v) => Number(v.toFixed(1))).join(' x ');

// The bed chosen is remembered for the session, where the browser lets the frame keep it.
try {
  const kept = sessionStorage.getItem(BED_KEY);
  if (kept && [...bed.options].some((o) => o.value === kept)) bed.value = kept;
} catch {
  // storage blocked in this frame: the first preset it is
}

function bedSize() {
  if (bed.value !== 'custom') return bed.value.split('x').map(Number);
  return ['#bed-x', '#bed-y', '#bed-z'].map((id) => Number(fieldset.querySelector(id).value));
}

function showResult() {
  const scale = modelSize ? factor() : null;
  const size = scale ? modelSize.map((v) => v * scale) : null;
  result.textContent = size ? `The result: ${mm(size)} mm` : '';
  const limits = bedSize();
  const fits = !size || size.every((v, axis) => v <= limits[axis] + 1e-6);
  warning.textContent = fits ? '' : `The result (${mm(size)} mm) is larger than the bed ` +
    `(${mm(limits)} mm) and will not fit: Fit to bed scales it down to fit.`;
  // The page's 3D preview shows the result on this bed when asked to.
  fieldset.closest('form').dispatchEvent(new CustomEvent('thingapp:result', {
    detail: {scale, bed: limits, size: size ? mm(size) : null}}));
}

bed.addEventListener('change', () => {
  customBed.hidden = bed.value !== 'custom';
  try { sessionStorage.setItem(BED_KEY, bed.value); } catch { /* memory only */ }
  showResult();
});

// Fit to bed: the largest scale (in percent, rounded down) that keeps every side on the bed.
fieldset.querySelector('#fit-bed').addEventListener('click', () => {
  if (!modelSize) return;
  const limits = bedSize();
  const scale = Math.min(...modelSize.map((v, axis) => limits[axis] / v));
  fieldset.querySelector('input[name=mode][value=percent]').click();
  value.value = String(Math.floor(scale * 10000) / 100);
  showResult();
});

fieldset.closest('form').addEventListener('thingapp:model', (event) => {
  modelSize = event.detail.size_mm;
  showResult();
});
fieldset.addEventListener('input', showResult);
fieldset.addEventListener('change', showResult);
