// The JavaScript entry of a loyalty-edge Worker. scripts/build-workers.sh
// bundles it with the wasm-bindgen glue of the Worker's crate (`./index.js`).
//
// It forwards `fetch` and `scheduled` to the Rust exports of `#[event(...)]`,
// and isolates panics: Rust on wasm32 aborts on panic, which leaves the wasm
// instance unusable and the panicking request's promise unsettled. The Rust
// side (loyalty_edge's panic hook) calls `globalThis.__loyalty_on_panic`
// before the abort; this file then fails the requests that were running in
// the dead instance with a 500, replaces the instance
// (`__wbg_reset_state`, emitted by wasm-bindgen's
// `--experimental-reset-state-function`) before the next call, and reports
// the panic through the fresh instance, which also releases the claims of the
// updates whose processing died (so Telegram's retries are processed). Later
// requests are unaffected.
import * as glue from "./index.js";

const running = new Set();
let broken = false;
// Claims of updates whose processing died with an instance (taken from the
// `__loyalty_claims` map the Rust side keeps), released by the next report.
const orphaned = new Set();

globalThis.__loyalty_on_panic = () => {
  broken = true;
  const claims = globalThis.__loyalty_claims;
  if (claims) {
    for (const claim of claims.keys()) orphaned.add(claim);
    claims.clear();
  }
  for (const fail of running) fail(new Error("panic"));
  running.clear();
};

function usable() {
  if (broken) {
    broken = false;
    const state = globalThis.__worker_init_state;
    if (state) state.criticalError = false;
    glue.__wbg_reset_state();
  }
}

async function guarded(call) {
  let fail;
  const panicked = new Promise((_, reject) => {
    fail = reject;
  });
  running.add(fail);
  try {
    usable();
    return await Promise.race([call(), panicked]);
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError) globalThis.__loyalty_on_panic();
    throw e;
  } finally {
    running.delete(fail);
  }
}

function internalError() {
  const body = JSON.stringify({
    error: { code: "internal", message: "internal error; the team has been notified" },
  });
  return new Response(body, {
    status: 500,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

function report(path, env, ctx) {
  try {
    usable();
    const claims = [...orphaned].join(",");
    orphaned.clear();
    glue.__loyalty_report_panic(path, env, ctx, claims);
  } catch (e) {
    console.error("reporting a panic failed", e);
  }
}

const handler = {
  async fetch(request, env, ctx) {
    try {
      return await guarded(() => glue.fetch(request, env, ctx));
    } catch (e) {
      console.error("request failed", e);
      report(new URL(request.url).pathname, env, ctx);
      return internalError();
    }
  },
};

if (typeof glue.scheduled === "function") {
  handler.scheduled = async (event, env, ctx) => {
    try {
      await guarded(() => glue.scheduled(event, env, ctx));
    } catch (e) {
      console.error("scheduled run failed", e);
      report("(scheduled)", env, ctx);
    }
  };
}

export default handler;
