// Builds the widget's two served files from widget/src with esbuild (docs/widget.md,
// "Building the widget"):
//   src/loader.js -> static/messenger/widget.js      (every page view, ≤ 5 KB gzipped)
//   src/app.js    -> static/messenger/widget-app.js  (the chat, loaded on interest)
// Each is one minified IIFE for ES2019 browsers, without source maps.
//
//   node widget/build.mjs            write both files
//   node widget/build.mjs --outdir D write them into D instead (the tests compare)
import { build } from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const at = args.indexOf("--outdir");
const outdir = at >= 0 ? args[at + 1] : join(root, "static", "messenger");

const ENTRIES = { "widget.js": "loader.js", "widget-app.js": "app.js" };

for (const [out, entry] of Object.entries(ENTRIES)) {
  await build({
    entryPoints: [join(root, "widget", "src", entry)],
    outfile: join(outdir, out),
    bundle: true,
    format: "iife",
    target: "es2019",
    minify: true,
    legalComments: "none",
    charset: "utf8",
    banner: { js: `/* Profi Messenger ${out}: built from widget/src (docs/widget.md) */"use strict";` },
    logLevel: "warning",
  });
}
