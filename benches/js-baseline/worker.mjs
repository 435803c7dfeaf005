// A hand-written JavaScript Worker for `/balance`, the floor the client bot's
// wasm Worker is measured against in `benches/benches/edge_load.rs`.
//
// It does the same work on the same path as the wasm Worker, and no more:
// checks the webhook secret (derived from TOKEN_CLIENT as loyalty-core's
// `webhook_secret` does, once per isolate, or WEBHOOK_SECRET), parses the
// update, makes the same one storage request (PostgREST's
// `/rest/v1/rpc/call_claimed` with the update's claim, its body and the
// updates answered before it carried as finished, and the `customer_summary`
// use case), parses the answer and replies in the webhook
// response with the balance and the recent entries. It has none of the
// program's other work (no language, no outbox, no logs, no Sentry, no other
// commands) — it is a measuring device, never deployed.
//
// The answers are checked: a `/balance` it cannot answer from storage fails
// the request (HTTP 502), so the load run counts it as an error.

const SECRET_HEADER = "x-telegram-bot-api-secret-token";
const DERIVATION_PREFIX = "loyalty-rs webhook secret v1:";
const TIMEOUT_MS = 10_000;

let secret; // Promise<string>, per isolate
// The updates answered since the last claim, finished by the next one's claim (as the wasm Worker
// carries its finished updates: `UpdateClaim::finished`, at most 100).
const carried = [];

function hex(buffer) {
  return [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function derive(token) {
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey("raw", enc.encode(token), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return hex(await crypto.subtle.sign("HMAC", key, enc.encode(DERIVATION_PREFIX + "client")));
}

function sameText(a, b) {
  if (typeof a !== "string" || a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

function json(value, status = 200) {
  return new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json" } });
}

async function balance(request, env) {
  secret ??= env.WEBHOOK_SECRET ? Promise.resolve(env.WEBHOOK_SECRET) : derive(env.TOKEN_CLIENT);
  if (!sameText(request.headers.get(SECRET_HEADER), await secret)) {
    return new Response("forbidden", { status: 403 });
  }
  const body = await request.text();
  let update;
  try {
    update = JSON.parse(body);
  } catch {
    return new Response("bad update", { status: 400 });
  }
  const message = update.message;
  if (!message || message.text !== "/balance" || !message.from) return new Response(null, { status: 200 });
  const bot = Number(env.TOKEN_CLIENT.split(":")[0]);
  const claim = { bot, update_id: update.update_id, now: Math.floor(Date.now() / 1000), body };
  if (carried.length > 0) claim.finished = carried.splice(0, 100);
  const req = { who: { by: "telegram", value: message.from.id }, recent: 3 };
  const key = env.SUPABASE_KEY;
  const answer = await fetch(`${env.SUPABASE_URL}/rest/v1/rpc/call_claimed`, {
    method: "POST",
    headers: {
      apikey: key,
      authorization: `Bearer ${key}`,
      "content-profile": "loyalty",
      "content-type": "application/json",
      accept: "application/json",
    },
    body: JSON.stringify({ req: { claim, function: "customer_summary", req } }),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  if (!answer.ok) return new Response("storage failed", { status: 502 });
  const summary = await answer.json();
  if (summary && summary.duplicate_update === true) return new Response(null, { status: 200 });
  if (!summary || !summary.customer) return new Response("not signed up", { status: 502 });
  const lines = [`💰 Balance: ${summary.customer.balance} points`];
  for (const entry of summary.recent ?? []) lines.push(`${entry.kind}: ${entry.amount}`);
  const chat = message.chat.id;
  carried.push({ bot, update_id: update.update_id });
  return json({ method: "sendMessage", chat_id: chat, text: lines.join("\n") });
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (request.method === "GET" && url.pathname === "/health") return json({ status: "ok" });
    if (request.method === "POST" && url.pathname === "/webhook/client") return balance(request, env);
    return new Response("not found", { status: 404 });
  },
};
