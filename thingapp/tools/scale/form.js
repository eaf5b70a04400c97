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
