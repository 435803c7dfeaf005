// Runs built Workers in Miniflare — workerd as `wrangler dev --local` runs it,
// with Cloudflare's local bindings — for the tests: one D1 database (bound as
// `DB`, in memory) shared by every Worker, each Worker on its own loopback
// port. Usage: node miniflare.mjs <config.json>; stops when stdin closes.
//
// config.json: { "nodeDir": <dir holding node_modules with miniflare>,
//                "workers": [{ "name", "build", "port" }], "vars": { NAME: value } }
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const require = createRequire(join(config.nodeDir, "package.json"));
const { Miniflare, Log, LogLevel } = await import(pathToFileURL(require.resolve("miniflare")).href);

const text = (value) => ({ type: "text", value });
const env = Object.fromEntries(Object.entries(config.vars).map(([name, value]) => [name, text(value)]));
env.DB = { type: "d1", id: "loyalty-test" };

const mf = new Miniflare({
  host: "127.0.0.1",
  port: 0,
  // The placeholder `request.cf`: no download from Cloudflare (tests run offline).
  cf: false,
  log: new Log(LogLevel.INFO),
  workers: config.workers.map((w) => ({
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
    },
    dev: { unsafeDirectSockets: [{ host: "127.0.0.1", port: w.port }] },
  })),
});
await mf.ready;
console.log("miniflare: ready");

const stop = async () => {
  await mf.dispose().catch(() => {});
  process.exit(0);
};
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();
process.on("SIGTERM", stop);
