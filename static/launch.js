// The launch page in Thingiverse's iframe: sign in, then show the Thing and the actions on offer.
//
// Cookies don't work here (third-party), so the app session is a bearer token held in memory and
// in sessionStorage (so reloading the Thing page keeps you signed in). The Thingiverse token
// never reaches this page: it stays on the app's server.

const root = document.getElementById('launch');
const statusLine = document.getElementById('status');
const thingId = Number(root.dataset.thingId);

const SESSION_KEY = 'thingapp.session';
const PENDING_KEY = 'thingapp.pending'; // an in-frame sign-in on its way back from Thingiverse
const POLL_MS = 1500;
const POLL_LIMIT_MS = 10 * 60 * 1000;

let popup = null;
let login = null; // {login_id, claim}: only this frame holds the claim
let pollTimer = null;
let claiming = false;
let retryLoadsThing = false; // the Connect button's "Try again" after the Thing failed to load

function show(view) {
  for (const el of root.querySelectorAll('[data-view]')) el.hidden = el.dataset.view !== view;
}

function say(text, isError = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle('error', isError);
}

async function call(method, url, body, sessionToken) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (sessionToken) headers.Authorization = `Bearer ${sessionToken}`;
  let response;
  try {
    response = await fetch(url, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit', cache: 'no-store',
    });
  } catch {
    return {status: 0, body: {error: 'The app could not be reached. Check your connection and try again.'}};
  }
  const data = await response.json().catch(() => ({}));
  return {status: response.status, body: data};
}

function offerConnect(message = '', isError = false, label = 'Connect Thingiverse') {
  stopPolling();
  login = null;
  retryLoadsThing = false;
  document.getElementById('connect').textContent = label;
  say(message, isError);
  show('connect');
}

function stopPolling() {
  clearTimeout(pollTimer);
  pollTimer = null;
}

async function startLogin(mode) {
  show('waiting');
  say(mode === 'popup' ? 'Approve access in the Thingiverse window…' : 'Opening Thingiverse…');
  const r = await call('POST', '/api/logins', {thing_id: thingId, mode});
  if (r.status !== 201) {
    if (popup) popup.close();
    offerConnect(r.body.error || 'The sign-in could not start.', true, 'Try again');
    return;
  }
  login = {login_id: r.body.login_id, claim: r.body.claim};
  if (mode === 'popup') {
    popup.location.href = r.body.authorize_url;
    schedulePoll(Date.now());
  } else {
    sessionStorage.setItem(PENDING_KEY, JSON.stringify({...login, thing_id: thingId}));
    location.assign(r.body.authorize_url);
  }
}

// When the popup can't tell us (its opener link was cut), we ask the server now and then.
function schedulePoll(startedAt) {
  stopPolling();
  pollTimer = setTimeout(async () => {
    if (Date.now() - startedAt > POLL_LIMIT_MS) {
      offerConnect('The sign-in took too long.', true, 'Try again');
      return;
    }
    if (await claim() === 'pending') schedulePoll(startedAt);
  }, POLL_MS);
}

async function claim() {
  if (!login || claiming) return 'pending';
  claiming = true;
  const r = await call('POST', `/api/logins/${encodeURIComponent(login.login_id)}/claim`,
                       {claim: login.claim});
  claiming = false;
  if (r.status === 202) return 'pending';
  stopPolling();
  sessionStorage.removeItem(PENDING_KEY);
  login = null;
  if (r.status === 200) {
    sessionStorage.setItem(SESSION_KEY, r.body.session_token);
    await loadContext();
  } else if (r.body.reason === 'denied') {
    offerConnect('You declined access.', true, 'Try again');
  } else {
    offerConnect(r.body.error || 'The sign-in failed.', true, 'Try again');
  }
  return 'done';
}

async function loadContext() {
  const token = sessionStorage.getItem(SESSION_KEY);
  show('waiting');
  say('Loading the Thing…');
  const r = await call('GET', `/api/context?thing_id=${thingId}`, undefined, token);
  if (r.status === 401) {
    sessionStorage.removeItem(SESSION_KEY);
    offerConnect(r.body.error || 'Please connect again.', true);
    return;
  }
  if (r.status !== 200) {
    offerConnect(r.body.error || 'The Thing could not be loaded.', true, 'Try again');
    retryLoadsThing = true;
    return;
  }
  renderSignedIn(r.body);
}

function renderSignedIn({user, thing, actions, reason}) {
  document.getElementById('user-name').textContent = user.name;
  document.getElementById('thing-name').textContent = thing.name;
  document.getElementById('thing-creator').textContent = thing.creator;
  document.getElementById('thing-license').textContent = thing.license;
  document.getElementById('thing-link').href = thing.url;
  document.getElementById('reason').textContent = reason;
  const box = document.getElementById('actions');
  box.replaceChildren(...actions.map((action, index) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.action = action.id;
    button.className = index === 0 ? 'primary' : 'secondary';
    button.textContent = action.label;
    button.disabled = true; // the actions themselves arrive with the file tool
    return button;
  }));
  say('');
  show('signed-in');
}

document.getElementById('connect').addEventListener('click', () => {
  if (retryLoadsThing) {
    loadContext();
    return;
  }
  // Open the popup inside the click handler itself: after any await, browsers block it.
  popup = window.open('', 'thingapp-signin', 'popup,width=520,height=680');
  startLogin(popup ? 'popup' : 'frame');
});

document.getElementById('restart').addEventListener('click', () => {
  if (popup) popup.close();
  sessionStorage.removeItem(PENDING_KEY);
  offerConnect();
});

document.getElementById('sign-out').addEventListener('click', async () => {
  const token = sessionStorage.getItem(SESSION_KEY);
  sessionStorage.removeItem(SESSION_KEY);
  if (token) await call('POST', '/api/logout', undefined, token);
  offerConnect('You are signed out.');
});

window.addEventListener('message', (event) => {
  // Only our own callback page, in the popup this frame opened, may wake us.
  if (event.origin !== location.origin || !popup || event.source !== popup) return;
  if (event.data && event.data.type === 'thingapp:signin') claim();
});

function resume() {
  if (root.dataset.loginId) { // launched with ?code=: the server already signed us in
    login = {login_id: root.dataset.loginId, claim: root.dataset.claim};
    history.replaceState(null, '', `${location.pathname}?thing_id=${thingId}`);
    show('waiting');
    claim();
    return;
  }
  if (statusLine.textContent.trim()) {
    offerConnect(statusLine.textContent.trim(), true);
    return;
  }
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) || 'null');
  if (pending) { // back from an in-frame sign-in
    login = {login_id: pending.login_id, claim: pending.claim};
    show('waiting');
    say('Finishing sign-in…');
    claim().then((result) => { if (result === 'pending') schedulePoll(Date.now()); });
    return;
  }
  if (sessionStorage.getItem(SESSION_KEY)) {
    loadContext();
    return;
  }
  offerConnect();
}

resume();
