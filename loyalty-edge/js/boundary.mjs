// The crossings between a loyalty-edge Worker's wasm and the Workers APIs on
// the hot path, one call each (loyalty-edge/src/http.rs imports them): every
// call from wasm into JavaScript goes through wasm-bindgen's glue, so reading a
// request, answering it and making a storage request are done here in one call
// apiece rather than in one call per header, chunk or getter.
//
// Headers travel as one string, "name\nvalue\nname\nvalue…": HTTP forbids a
// line break in a header's name or value, so the split is unambiguous.

/// Appends the pairs of `head` ("name\nvalue\n…") to `headers`.
function fill(headers, head) {
  if (head === "") return headers;
  const parts = head.split("\n");
  for (let i = 0; i + 1 < parts.length; i += 2) headers.append(parts[i], parts[i + 1]);
  return headers;
}

/// Reads at most `limit + 1` bytes of `stream` (enough for the engine to tell
/// that a body is too large), then lets the rest go.
async function readLimited(stream, limit) {
  const reader = stream.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size > limit) {
      reader.cancel().catch(() => {});
      break;
    }
  }
  const body = new Uint8Array(Math.min(size, limit + 1));
  let at = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, body.length - at);
    body.set(part, at);
    at += part.length;
    if (at === body.length) break;
  }
  return body;
}

/// The request as the engine takes it: `head` is "METHOD\n/path?query" and
/// then the header pairs; `body` is null when there is none or when its
/// `Content-Length` declares more than `limit` bytes (it is not read then: the
/// engine answers 413 from the header), else at most `limit + 1` bytes.
export async function readRequest(request, limit) {
  const url = request.url;
  const slash = url.indexOf("/", url.indexOf("//") + 2);
  let head = request.method + "\n" + (slash < 0 ? "/" : url.slice(slash));
  for (const [name, value] of request.headers) head += "\n" + name + "\n" + value;
  let body = null;
  if (request.body !== null) {
    const declared = (request.headers.get("content-length") ?? "").trim();
    if (!/^[0-9]+$/.test(declared)) body = await readLimited(request.body, limit);
    else if (Number(declared) <= limit) body = new Uint8Array(await request.arrayBuffer());
  }
  return { head, body };
}

/// A response of `status` with the header pairs of `head` and `body` (copied
/// out of the wasm memory it is a view of; an empty body is no body).
export function respond(status, head, body) {
  return new Response(body.length === 0 ? null : body.slice(), { status, headers: fill(new Headers(), head) });
}

/// POSTs `form` (a FormData) or else `body` to `url` with the header pairs of
/// `head`, giving up after `timeoutMs` (the answer's body included). `flags`:
/// 1 — do not follow redirects; 2 — do not read the answer's body (it is
/// cancelled). Resolves to `{ status, body, retryAfter }` (`body` null with
/// flag 2); rejects with an Error whose message says what failed.
export async function post(url, head, body, form, timeoutMs, flags) {
  const init = {
    method: "POST",
    headers: fill(new Headers(), head),
    body: form ?? body.slice(),
    signal: AbortSignal.timeout(timeoutMs),
  };
  if (flags & 1) init.redirect = "manual";
  try {
    const response = await fetch(url, init);
    const retryAfter = response.headers.get("retry-after");
    if (flags & 2) {
      response.body?.cancel().catch(() => {});
      return { status: response.status, body: null, retryAfter };
    }
    return { status: response.status, body: new Uint8Array(await response.arrayBuffer()), retryAfter };
  } catch (e) {
    if (e?.name === "TimeoutError") throw new Error(`timed out after ${timeoutMs} ms`);
    throw e instanceof Error ? e : new Error(String(e));
  }
}

/// Adds `delta` (1 or -1) to the count of `key` ("<bot>:<update id>") in the
/// global Map `__loyalty_claims` (created on first use), removing it at 0: the
/// claims of the updates being processed, kept where a panic cannot erase
/// them (loyalty-edge/src/claims.rs; entry.mjs reads them after a panic).
export function trackClaim(key, delta) {
  let claims = globalThis.__loyalty_claims;
  if (claims === undefined) claims = globalThis.__loyalty_claims = new Map();
  const left = (claims.get(key) ?? 0) + delta;
  if (left > 0) claims.set(key, left);
  else claims.delete(key);
}
