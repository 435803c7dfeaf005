// Runs built Workers in Miniflare — workerd as `wrangler dev --local` runs it,
// with Cloudflare's local bindings — for the tests: one D1 database (bound as
// `DB`, in memory) shared by every Worker, each Worker on its own loopback
// port. Usage: node miniflare.mjs <config.json>; stops when stdin closes.
// Every port is bound by workerd (port 0) and reported once ready, one line
// `{"event":"listen","socket":<worker name>,"port":<port>}` per Worker on
// stdout, as workerd's control messages are: no other server can take a port
// between choosing and binding it.
//
// config.json: { "nodeDir": <dir holding node_modules with miniflare>,
//                "workers": [{ "name", "build", "wrangler" (optional) }], "vars": { NAME: value },
//                "outbound": { "<host[:port]>": "http://127.0.0.1:<port>" } (optional) }
// A fetch to a host named in `outbound` goes to its loopback address instead
// (a webhook endpoint's https URL served by a local receiver); others go out as they are.
// A Worker whose `wrangler` (its wrangler.toml) has an `[assets]` table serves those static
// assets as Cloudflare does: the table as wrangler reads it, the directory relative to the
// file, `_headers` and `_redirects` in it, the Worker run for what matches no asset.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const require = createRequire(join(config.nodeDir, "package.json"));
const { Miniflare, Log, LogLevel, Response, fetch } = await import(pathToFileURL(require.resolve("miniflare")).href);

const text = (value) => ({ type: "text", value });
const env = Object.fromEntries(Object.entries(config.vars).map(([name, value]) => [name, text(value)]));
env.DB = { type: "d1", id: "loyalty-test" };

const outbound = config.outbound ?? {};
const reroute = async (request) => {
  const url = new URL(request.url);
  const target = outbound[url.host];
  if (target === undefined) return fetch(request);
  const body = request.method === "GET" || request.method === "HEAD" ? undefined : await request.arrayBuffer();
  const answer = await fetch(new URL(url.pathname + url.search, target), {
    method: request.method,
    headers: request.headers,
    body,
    redirect: "manual",
  });
  return new Response(await answer.arrayBuffer(), { status: answer.status, headers: answer.headers });
};

// The `[assets]` of a Worker's wrangler.toml, as Miniflare's `assets` option.
const assetsOf = async (wranglerToml) => {
  if (wranglerToml === undefined || !/^\[assets\]/m.test(readFileSync(wranglerToml, "utf8"))) return undefined;
  const wrangler = await import(pathToFileURL(require.resolve("wrangler")).href);
  const { assets, configPath } = wrangler.unstable_readConfig({ config: wranglerToml }, { hideWarnings: true });
  if (assets === undefined) return undefined;
  const directory = resolve(dirname(configPath), assets.directory);
  // Miniflare would serve a missing directory as an empty one: say so instead.
  if (!existsSync(directory)) throw new Error(`${wranglerToml}: [assets] directory ${directory} does not exist`);
  const options = {
    directory,
    htmlHandling: assets.html_handling,
    notFoundHandling: assets.not_found_handling,
    runWorkerFirst: assets.run_worker_first,
    hasUserWorker: true,
  };
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
};
const assets = await Promise.all(config.workers.map((w) => assetsOf(w.wrangler)));

const mf = new Miniflare({
  host: "127.0.0.1",
  port: 0,
  // The placeholder `request.cf`: no download from Cloudflare (tests run offline).
  cf: false,
  log: new Log(LogLevel.INFO),
  workers: config.workers.map((w, i) => ({
    config: {
      name: w.name,
      compatibilityDate: "2026-11-01",
      manifest: {
        mainModule: "worker.mjs",
        modules: {
          "worker.mjs": { type: "esm", contents: readFileSync(join(w.build, "worker.mjs"), "utf8") },
          "index_bg.wasm": { type: "wasm", contents: new Uint8Array(readFileSync(join(w.build, "index_bg.wasm"))) },
        },
      },
      env,
      ...(assets[i] !== undefined ? { assets: assets[i] } : {}),
    },
    dev: {
      unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
      ...(Object.keys(outbound).length > 0 ? { outboundService: { type: "fetcher", handler: reroute } } : {}),
    },
  })),
});
await mf.ready;
for (const w of config.workers) {
  const url = await mf.unsafeGetDirectURL(w.name);
  process.stdout.write(`${JSON.stringify({ event: "listen", socket: w.name, port: Number(url.port) })}\n`);
}
console.log("miniflare: ready");

const stop = async () => {
  await mf.dispose().catch(() => {});
  process.exit(0);
};
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();
process.on("SIGTERM", stop);
