// The launch page in Thingiverse's iframe: sign in, then show the Thing and the actions on offer.
//
// Cookies don't work here (third-party), and browsers that block them often block this frame's
// storage too. So the app session is a bearer token held in memory, and in sessionStorage only
// where the browser allows it (then reloading the Thing page keeps you signed in). The
// Thingiverse token never reaches this page: it stays on the app's server.

import {setUpMaker, stopMaker} from './make.js';

const root = document.getElementById('launch');
const statusLine = document.getElementById('status');
const thingId = Number(root.dataset.thingId);

const SESSION_KEY = 'thingapp.session';
// An in-frame sign-in leaves this page and comes back; its claim travels in the frame's own
// window.name, which survives the round trip even where storage is blocked.
const PENDING_PREFIX = 'thingapp.pending:';
const POLL_MS = 1500;
const POLL_LIMIT_MS = 10 * 60 * 1000;

let popup = null;
let login = null; // {login_id, claim}: only this frame holds the claim
let pollTimer = null;
let claiming = false;
let retryLoadsThing = false; // the Connect button's "Try again" after the Thing failed to load
let sessionToken = null;

const storage = (() => {
  try {
    window.sessionStorage.getItem(SESSION_KEY);
    return window.sessionStorage;
  } catch {
    return null; // third-party storage blocked: memory only
  }
})();

function keepSession(token) {
  sessionToken = token;
  if (!storage) return;
  if (token) storage.setItem(SESSION_KEY, token); else storage.removeItem(SESSION_KEY);
}

// Only inside Thingiverse's frame (frame-ancestors admits no other parent) may a login be
// resumed: at top level, another site could have set window.name, or a ?code=, to sign the
// visitor into the attacker's account.
const framed = window !== window.top;

function takePendingLogin() {
  if (!window.name.startsWith(PENDING_PREFIX)) return null;
  const text = window.name.slice(PENDING_PREFIX.length);
  window.name = '';
  if (!framed) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function show(view) {
  for (const el of root.querySelectorAll('[data-view]')) el.hidden = el.dataset.view !== view;
}

function say(text, isError = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle('error', isError);
}

async function call(method, url, body, as = 'json') {
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
  if (as === 'blob' && response.ok) return {status: response.status, body: await response.blob()};
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
    window.name = PENDING_PREFIX + JSON.stringify({...login, thing_id: thingId});
    location.assign(r.body.authorize_url);
  }
}

// When the popup can't tell us (its opener link was cut), we ask the server now and then.
// A popup closed without an answer ends the wait after a grace period (a window whose opener
// link was cut can look closed while the user is still in it).
const CLOSED_GRACE_MS = 5000;

function schedulePoll(startedAt, closedAt = null) {
  stopPolling();
  pollTimer = setTimeout(async () => {
    if (Date.now() - startedAt > POLL_LIMIT_MS) {
      offerConnect('The sign-in took too long.', true, 'Try again');
      return;
    }
    if (await claim() !== 'pending') return;
    const closed = popup && popup.closed ? (closedAt ?? Date.now()) : null;
    if (closed && Date.now() - closed > CLOSED_GRACE_MS) {
      offerConnect('The Thingiverse window was closed before you agreed.', true, 'Try again');
      return;
    }
    schedulePoll(startedAt, closed);
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
  login = null;
  if (r.status === 200) {
    keepSession(r.body.session_token);
    await loadContext();
  } else if (r.body.reason === 'denied') {
    offerConnect('You declined access.', true, 'Try again');
  } else {
    offerConnect(r.body.error || 'The sign-in failed.', true, 'Try again');
  }
  return 'done';
}

async function loadContext() {
  show('waiting');
  say('Loading the Thing…');
  const r = await call('GET', `/api/context?thing_id=${thingId}`);
  if (r.status === 401) {
    keepSession(null);
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

function renderSignedIn(context) {
  const {user, thing, reason} = context;
  document.getElementById('user-name').textContent = user.name;
  document.getElementById('thing-name').textContent = thing.name;
  document.getElementById('thing-creator').textContent = thing.creator;
  document.getElementById('thing-license').textContent = thing.license;
  document.getElementById('thing-link').href = thing.url;
  document.getElementById('reason').textContent = reason;
  const resumeRunningJob = setUpMaker({context, call, thingId});
  say('');
  show('signed-in');
  resumeRunningJob();
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
  offerConnect();
});

document.getElementById('sign-out').addEventListener('click', async () => {
  stopMaker();
  if (sessionToken) await call('POST', '/api/logout');
  keepSession(null);
  offerConnect('You are signed out.');
});

window.addEventListener('message', (event) => {
  // Only our own callback page, in the popup this frame opened, may wake us.
  if (event.origin !== location.origin || !popup || event.source !== popup) return;
  if (event.data && event.data.type === 'thingapp:signin') claim();
});

function resume() {
  if (root.dataset.loginId && framed) { // launched with ?code=: the server already signed us in
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
  const pending = takePendingLogin();
  if (pending) { // back from an in-frame sign-in
    login = {login_id: pending.login_id, claim: pending.claim};
    show('waiting');
    say('Finishing sign-in…');
    claim().then((result) => { if (result === 'pending') schedulePoll(Date.now()); });
    return;
  }
  sessionToken = storage ? storage.getItem(SESSION_KEY) : null;
  if (sessionToken) {
    loadContext();
    return;
  }
  offerConnect();
}

resume();
performance.mark('thingapp-interactive'); // the Connect button works from here on
