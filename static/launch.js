// The launch page in Thingiverse's iframe: sign in, then show the Thing and the actions on offer.
//
// The app session is a Bearer token held in memory. A reloaded frame gets a fresh one by trading
// a partitioned cookie (HttpOnly: this script never sees it) at POST /api/session; where the
// browser keeps no partitioned cookie, the Storage Access API may let it keep an ordinary one,
// and where storage works, sessionStorage keeps the token for the tab. The Thingiverse token
// never reaches this page: it stays on the app's server.

import {setUpMaker, stopMaker} from './make.js';

const root = document.getElementById('launch');
const statusLine = document.getElementById('status');
const thingId = Number(root.dataset.thingId);

const SESSION_KEY = 'thingapp.session';
// An in-frame sign-in leaves this page and comes back. Its claim waits in a partitioned cookie
// the server sets (and in sessionStorage, where the browser allows it): both are the app's own.
// window.name, which pages of other origins in this frame can read, holds only the Thing's
// number, for the callback page's way back.
const PENDING_KEY = 'thingapp.pending';
const RETURN_PREFIX = 'thingapp.frame:';
const POLL_MS = 1500;
const POLL_LIMIT_MS = 10 * 60 * 1000;
const STILL_MAKING = 'A file is still being made for this Thing; connect to see it.';

let popup = null;
let login = null; // {login_id, claim}
let pollTimer = null;
let claiming = false;
let retryLoadsThing = false; // the Connect button's "Try again" after the Thing failed to load
let sessionToken = null;

const storage = (() => {
  try {
    window.sessionStorage.getItem(SESSION_KEY);
    return window.sessionStorage;
  } catch {
    return null; // third-party storage blocked: memory and the partitioned cookie only
  }
})();

function keepSession(token) {
  sessionToken = token;
  if (!storage) return;
  if (token) storage.setItem(SESSION_KEY, token); else storage.removeItem(SESSION_KEY);
}

// Only inside Thingiverse's frame (frame-ancestors admits no other parent) may a login be
// resumed, and only there does the app set cookies: at top level, another site could have
// opened the page with a ?code= to sign the visitor into the attacker's account.
const framed = window !== window.top;

function takePendingLogin() {
  if (!storage) return null;
  const text = storage.getItem(PENDING_KEY);
  storage.removeItem(PENDING_KEY);
  try {
    return text ? JSON.parse(text) : null;
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
  statusLine.classList.remove('visually-hidden');
}

// For screen readers only: the same live region, not shown (the page shows it otherwise).
function announce(text) {
  say(text);
  statusLine.classList.add('visually-hidden');
}

async function call(method, url, body, as = 'json') {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (sessionToken) headers.Authorization = `Bearer ${sessionToken}`;
  if (framed) headers['X-Thingapp-Framed'] = '1'; // the server sets its cookies only then
  let response;
  try {
    response = await fetch(url, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin', cache: 'no-store',
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
    if (storage) storage.setItem(PENDING_KEY, JSON.stringify(login));
    window.name = RETURN_PREFIX + thingId; // not a secret: where the callback page leads back
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
    performance.mark('thingapp-signed-in'); // the benchmark times the first preview from here
    keepSession(r.body.session_token);
    await loadContext({justSignedIn: true});
    offerToStaySignedIn();
  } else if (r.body.reason === 'denied') {
    offerConnect('You declined access.', true, 'Try again');
  } else {
    offerConnect(r.body.error || 'The sign-in failed.', true, 'Try again');
  }
  return 'done';
}

async function loadContext({justSignedIn = false} = {}) {
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
  renderSignedIn(r.body, justSignedIn);
}

function renderSignedIn(context, justSignedIn) {
  const {user, thing, reason} = context;
  document.getElementById('user-name').textContent = user.name;
  document.getElementById('thing-name').textContent = thing.name;
  document.getElementById('thing-creator').textContent = thing.creator;
  document.getElementById('thing-license').textContent = thing.license;
  document.getElementById('thing-link').href = thing.url;
  // Download alone: say what the user can do, not only what the licence forbids.
  const onlyDownload = context.actions.length === 1 && context.actions[0].id === 'download';
  const reasonLine = document.getElementById('reason');
  reasonLine.textContent = onlyDownload
    ? 'You can download a resized copy (the licence does not allow remixes).' : reason;
  reasonLine.classList.toggle('plain', onlyDownload);
  document.getElementById('actions-fieldset').hidden = onlyDownload;
  const resumeRunningJob = setUpMaker({context, call, thingId});
  show('signed-in');
  if (justSignedIn) { // after a reload, focus stays where the Thing page has it
    announce(`Signed in as ${user.name}.`);
    document.getElementById('thing-name').focus();
  } else {
    say('');
  }
  resumeRunningJob();
}

// Trade the frame's cookie for a session token: 200 with the token (kept), 202 while an
// in-frame sign-in waits for Thingiverse, 401 with what the server says of a session that is
// gone (or of none at all).
async function trade() {
  const r = await call('POST', '/api/session', {thing_id: thingId});
  if (r.status === 200) keepSession(r.body.session_token);
  return r;
}

// Where the browser keeps no partitioned cookie, the Storage Access API may let this frame keep
// an ordinary one: asked for on a click (the browser may show a prompt), and, once granted,
// taken again without one after a reload.
const storageAccess = framed && typeof document.requestStorageAccess === 'function';
const stay = document.getElementById('stay');

async function offerToStaySignedIn() {
  if (!storageAccess || !sessionToken) return;
  const token = sessionToken;
  const kept = await call('POST', '/api/session', {thing_id: thingId});
  sessionToken = token; // the one in use goes on; the answer only says the cookie was kept
  stay.hidden = kept.status === 200;
}

stay.addEventListener('click', async () => {
  stay.hidden = true;
  try {
    await document.requestStorageAccess();
    await call('POST', '/api/session/remember');
    if ((await call('POST', '/api/session', {thing_id: thingId})).status === 200) {
      say('This browser will keep you signed in.');
      return;
    }
  } catch {
    // refused: said below
  }
  say('This browser does not let the app remember you: you will connect again after a reload.');
});

async function grantedBefore() {
  if (!storageAccess || await document.hasStorageAccess()) return false;
  try {
    const permission = await navigator.permissions.query({name: 'storage-access'});
    if (permission.state !== 'granted') return false;
    await document.requestStorageAccess();
    return true;
  } catch {
    return false;
  }
}

document.getElementById('connect').addEventListener('click', () => {
  if (retryLoadsThing) {
    loadContext();
    return;
  }
  // Open the popup inside the click handler itself: after any await, browsers block it.
  // A frame that may not open popups gets null here, or in Firefox an InvalidAccessError.
  try {
    popup = window.open('', 'thingapp-signin', 'popup,width=520,height=680');
  } catch {
    popup = null;
  }
  startLogin(popup ? 'popup' : 'frame');
});

document.getElementById('restart').addEventListener('click', () => {
  if (popup) popup.close();
  offerConnect();
});

document.getElementById('sign-out').addEventListener('click', async () => {
  stopMaker();
  if (sessionToken) await call('POST', '/api/logout'); // also removes the cookie
  keepSession(null);
  offerConnect('You are signed out.');
});

window.addEventListener('message', (event) => {
  // Only our own callback page, in the popup this frame opened, may wake us.
  if (event.origin !== location.origin || !popup || event.source !== popup) return;
  if (event.data && event.data.type === 'thingapp:signin') claim();
});

async function resume() {
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
  if (window.name.startsWith(RETURN_PREFIX)) window.name = '';
  const pending = takePendingLogin();
  if (pending && framed) { // back from an in-frame sign-in, where storage works
    login = pending;
    show('waiting');
    say('Finishing sign-in…');
    claim().then((result) => { if (result === 'pending') schedulePoll(Date.now()); });
    return;
  }
  if (framed) {
    show('waiting');
    let r = await trade();
    if (r.status === 401 && !r.body.error && await grantedBefore()) r = await trade();
    // 200: the session from before a reload, or an in-frame sign-in's (its claim in the cookie).
    // 202: an in-frame sign-in left unfinished (the user came back without answering).
    if (r.status === 200) {
      await loadContext({justSignedIn: r.body.signed_in_now});
      if (r.body.signed_in_now) offerToStaySignedIn();
      return;
    }
    if (r.body.making_file) {
      offerConnect(STILL_MAKING);
      return;
    }
    if (r.body.error) {
      offerConnect(r.body.error, true);
      return;
    }
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
