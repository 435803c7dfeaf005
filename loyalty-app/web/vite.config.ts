import { defineConfig } from "vite";

// The page is served under /app/ by `loyalty serve` and the api Worker, or from any
// external host (FRONTEND_URL): a relative base makes the same files work everywhere.
export default defineConfig({
  base: "./",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "../dist/app",
    emptyOutDir: true,
    target: "es2020",
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
});
