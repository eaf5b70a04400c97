// The parent-frame bridge of Thingiverse's old iframe SDK, as the sandbox's Thing page hosts it.
//
// The embedded app posts JSON strings {"cmd": NAME, "params": {..., "callback": ID}} to this
// page; the page answers {"callback": ID, "result": {...}} to the iframe, at the app's origin.
// Only messages from the app's origin (the iframe's data-app-origin) AND from the iframe's own
// window are read; anything else is ignored without a word. See thingapp/sandbox/bridge.py.

const frame = document.querySelector("iframe[data-app-origin]");
if (frame) {
  listen(frame, frame.dataset.appOrigin, Number(frame.dataset.thingId));
}

function listen(frame, appOrigin, pageThingId) {
  let dialogOpen = false;

  window.addEventListener("message", (event) => {
    if (event.origin !== appOrigin || event.source !== frame.contentWindow) return;
    const message = parseMessage(event.data);
    if (!message) return;
    answer(message).then((result) => {
      const reply = JSON.stringify({ callback: message.params.callback, result });
      frame.contentWindow.postMessage(reply, appOrigin);
    });
  });

  async function answer({ cmd, params }) {
    if (cmd === "echo") {
      const { access_token: _token, ...rest } = params;
      return rest;
    }
    const commands = { file_select: selectFile, address: chooseAddress, payment: pay };
    if (!Object.hasOwn(commands, cmd)) return { error: `Unknown command ${cmd}.` };
    if (dialogOpen) return { error: "Another dialog is open: answer it first." };
    dialogOpen = true;
    try {
      return await commands[cmd](params);
    } catch (error) {
      return { error: `The ${cmd} dialog failed: ${error.message}` };
    } finally {
      dialogOpen = false;
    }
  }

  async function selectFile(params) {
    const thingId = params.thing_id ?? pageThingId;
    const response = await fetch(`/sandbox/things/${encodeURIComponent(thingId)}/files`);
    if (!response.ok) return { error: (await response.json()).error };
    const extension = String(params.extension ?? "").replace(/^\./, "").toLowerCase();
    const files = (await response.json()).filter(
      (file) => !extension || file.name.toLowerCase().endsWith(`.${extension}`),
    );
    const dialog = document.getElementById("bridge-file-select");
    const list = dialog.querySelector(".bridge-files");
    list.querySelectorAll("label").forEach((label) => label.remove());
    files.forEach((file, index) => {
      const label = document.createElement("label");
      const radio = Object.assign(document.createElement("input"), {
        type: "radio", name: "bridge-file", value: String(file.id), checked: index === 0,
      });
      label.append(radio, ` ${file.name}`);
      list.append(label);
    });
    list.querySelector(".bridge-files-legend").textContent = `Files of Thing ${thingId}`;
    dialog.querySelector(".bridge-none").hidden = files.length > 0;
    dialog.querySelector("button[value=select]").disabled = files.length === 0;
    if ((await ask(dialog)) !== "select") return { status: "cancelled" };
    const chosen = list.querySelector("input:checked");
    return { thing_id: params.thing_id ?? pageThingId, file_id: Number(chosen.value) };
  }

  async function chooseAddress() {
    const dialog = document.getElementById("bridge-address");
    if ((await ask(dialog)) !== "use") return { status: "cancelled" };
    return JSON.parse(dialog.dataset.address);
  }

  async function pay(params) {
    const amount = String(params.amount ?? "");
    if (!/^\d{1,9}(\.\d{1,2})?$/.test(amount) || !(Number(amount) > 0)) {
      return { error: "amount must be a positive number of at most two decimals, e.g. 14.53." };
    }
    const dialog = document.getElementById("bridge-payment");
    dialog.querySelector(".bridge-amount").textContent = Number(amount).toFixed(2);
    const charges = dialog.querySelector(".bridge-charges");
    charges.replaceChildren(...chargeLines(params.charges).map((text) => {
      const item = document.createElement("li");
      item.textContent = text;
      return item;
    }));
    if ((await ask(dialog)) !== "pay") return { status: "cancelled" };
    const response = await fetch("/sandbox/orders", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        thing_id: params.thing_id ?? pageThingId, amount, charges: params.charges ?? null,
        address_id: params.address_id ?? null,
        app_transaction_code: params.app_transaction_code ?? null,
      }),
    });
    const body = await response.json();
    return response.ok ? { ok: true, order_id: body.order_id } : { error: body.error };
  }
}

function parseMessage(data) {
  if (typeof data !== "string") return null;
  let message;
  try {
    message = JSON.parse(data);
  } catch {
    return null;
  }
  const valid = message && typeof message === "object" && typeof message.cmd === "string"
    && message.params && typeof message.params === "object" && !Array.isArray(message.params)
    && message.params.callback !== undefined;
  return valid ? message : null;
}

// Show a dialog; resolve with the value of the button that closed it ("cancel" for Escape).
function ask(dialog) {
  return new Promise((resolve) => {
    dialog.returnValue = "";
    dialog.addEventListener("close", () => resolve(dialog.returnValue || "cancel"), { once: true });
    dialog.showModal();
    dialog.querySelector("button:not([disabled])").focus();
  });
}

// `charges` as lines: an object {"Shipping": "5.00", ...} or a list of {name, amount}.
function chargeLines(charges) {
  if (Array.isArray(charges)) {
    return charges.map((charge) => `${charge?.name ?? charge?.type ?? "Charge"}: ${charge?.amount ?? ""}`);
  }
  if (charges && typeof charges === "object") {
    return Object.entries(charges).map(([name, value]) => `${name}: ${value}`);
  }
  return [];
}
