// The parent-frame bridge of Thingiverse's old iframe SDK (2012-2017): post a JSON command to
// the Thing page and await its answer, {"callback": ID, "result": {...}}.
//
// Only answers from the Thing page itself count: the message must come from `parentOrigin` and
// from window.parent. Whether today's Thingiverse still answers is unknown, so every call times
// out, and the app must work without it. No token is ever sent: it stays on the app's server.

export function createBridge(parentOrigin, {timeoutMs = 30000} = {}) {
  let next = 1;
  const waiting = new Map();

  window.addEventListener('message', (event) => {
    if (event.origin !== parentOrigin || event.source !== window.parent) return;
    let answer;
    try {
      answer = typeof event.data === 'string' ? JSON.parse(event.data) : event.data;
    } catch {
      return;
    }
    const pending = answer && waiting.get(answer.callback);
    if (!pending) return;
    clearTimeout(pending.timer);
    waiting.delete(answer.callback);
    pending.resolve(answer.result);
  });

  return {
    // call('echo', {...}), call('file_select', {thing_id, extension}), call('address'),
    // call('payment', {...}); a dialog the user closes resolves to {status: 'cancelled'}.
    call(cmd, params = {}) {
      const callback = `thingapp-${next++}`;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(callback);
          reject(new Error(`Thingiverse did not answer ${cmd}.`));
        }, timeoutMs);
        waiting.set(callback, {resolve, timer});
        window.parent.postMessage(JSON.stringify({cmd, params: {...params, callback}}), parentOrigin);
      });
    },
  };
}
