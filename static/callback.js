// Thingiverse redirects here with the token in the URL fragment. Take it out of the URL at once,
// hand it to the app's server in one POST, then tell the frame that started the sign-in.
// This page makes no other request and loads nothing from another origin.

const message = document.getElementById('message');
const back = document.getElementById('back');
const params = new URLSearchParams(location.hash.slice(1));
history.replaceState(null, '', location.pathname);

// Set by the launch page before an in-frame sign-in: the Thing's number, nothing secret (any
// page in this frame can read and write window.name, so it is checked to be a number).
const RETURN_TO = /^thingapp\.frame:([0-9]{1,10})$/.exec(window.name);

function fail(text) {
  message.textContent = text;
  if (RETURN_TO) { // in-frame sign-in: offer the way back
    window.name = '';
    back.href = `/?thing_id=${RETURN_TO[1]}`;
    back.hidden = false;
  }
}

async function finish() {
  const body = {state: params.get('state') || ''};
  if (params.has('access_token')) {
    body.access_token = params.get('access_token');
    if (params.has('token_type')) body.token_type = params.get('token_type');
  } else if (params.has('error')) {
    body.error = params.get('error');
  }
  if (!body.state || !(body.access_token || body.error)) {
    fail('This page is where Thingiverse returns after sign-in; there is nothing to do here.');
    return;
  }
  let response;
  try {
    response = await fetch('/api/callback', {
      method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body),
      credentials: 'omit', cache: 'no-store',
    });
  } catch {
    fail('The app could not be reached. Close this window and try again.');
    return;
  }
  const result = await response.json().catch(() => ({}));
  if (!response.ok) {
    fail(result.error || 'The sign-in failed. Close this window and try again.');
    if (window.opener) window.opener.postMessage({type: 'thingapp:signin'}, location.origin);
    return;
  }
  if (result.mode === 'frame') {
    location.replace(result.return_to);
  } else if (window.opener) {
    window.opener.postMessage({type: 'thingapp:signin'}, location.origin);
    window.close();
  } else {
    message.textContent = result.status === 'denied'
      ? 'You declined access. You can close this window.'
      : 'You are signed in. You can close this window and return to Thingiverse.';
  }
}

finish();
