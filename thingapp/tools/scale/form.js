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

function showResult() {
  const scale = modelSize ? factor() : null;
  result.textContent = scale
    ? `The result: ${modelSize.map((v) => Number((v * scale).toFixed(1))).join(' x ')} mm` : '';
}

fieldset.closest('form').addEventListener('thingapp:model', (event) => {
  modelSize = event.detail.size_mm;
  showResult();
});
fieldset.addEventListener('input', showResult);
fieldset.addEventListener('change', showResult);
