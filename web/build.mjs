// Builds the sender page into dist/ (committed, embedded in the binary): the page for request
// links and for /send, the main bundle, the lazily loaded pattern analysis, the stylesheet,
// and a manifest of their SHA-256. `node build.mjs DIR` builds into DIR instead (CI compares).
// Also bundles the tests into dist-test/ with `node build.mjs --tests`.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const tests = process.argv.includes("--tests");
const out = tests ? "dist-test" : (process.argv.slice(2).find((a) => !a.startsWith("-")) ?? "dist");
mkdirSync(out, { recursive: true });

const common = {
  bundle: true,
  format: "esm",
  target: ["es2022", "chrome120", "firefox120", "safari17"],
  legalComments: "none",
  logLevel: "warning",
};

if (tests) {
  const entries = readdirSync("test").filter((f) => f.endsWith(".test.ts")).map((f) => join("test", f));
  await build({ ...common, target: "node20", entryPoints: entries, outdir: out, platform: "node", outExtension: { ".js": ".mjs" }, packages: "external" });
} else {
  await build({ ...common, entryPoints: { sender: "src/main.ts" }, outdir: out, minify: true, platform: "browser" });
  await build({ ...common, entryPoints: { patterns: "src/patterns.ts" }, outdir: out, minify: true, platform: "browser" });
  const css = readFileSync("static/sender.css", "utf8");
  writeFileSync(join(out, "sender.css"), css);
  const page = readFileSync("static/page.html", "utf8");
  // /r/<id> is one level deeper than /send: the assets are next to the page's base.
  writeFileSync(join(out, "request.html"), page.replaceAll("{{base}}", "../"));
  writeFileSync(join(out, "send.html"), page.replaceAll("{{base}}", ""));
  // Precompressed copies for clients that accept gzip (zlib writes no time stamp: reproducible).
  for (const f of ["sender.js", "patterns.js"]) {
    writeFileSync(join(out, `${f}.gz`), gzipSync(readFileSync(join(out, f)), { level: 9 }));
  }
  const files = ["request.html", "send.html", "sender.js", "patterns.js", "sender.css"];
  const manifest = files
    .map((f) => `${createHash("sha256").update(readFileSync(join(out, f))).digest("hex")}  ${f}`)
    .join("\n");
  writeFileSync(join(out, "SHA256SUMS"), `${manifest}\n`);
}
