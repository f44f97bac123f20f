// What the web page's bundle is made of: minified bytes by npm package (ours: "ours"), from
// esbuild's metafile for the same entry point `web/build.mjs` bundles. Run from the repository:
//   node bench/bundle.mjs
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const web = join(dirname(fileURLToPath(import.meta.url)), "..", "web");
const esbuild = await import(join(web, "node_modules/esbuild/lib/main.js"));
const result = await esbuild.build({
  entryPoints: [join(web, "src/main.ts")],
  bundle: true,
  minify: true,
  format: "esm",
  platform: "browser",
  write: false,
  metafile: true,
});
const [output] = Object.values(result.metafile.outputs);
const bytes = {};
for (const [path, input] of Object.entries(output.inputs)) {
  const pkg = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(path)?.[1] ?? "ours";
  bytes[pkg] = (bytes[pkg] ?? 0) + input.bytesInOutput;
}
const total = Object.values(bytes).reduce((a, b) => a + b, 0);
for (const [pkg, n] of Object.entries(bytes).sort((a, b) => b[1] - a[1])) {
  console.log(`${String(n).padStart(8)} B  ${((100 * n) / total).toFixed(1).padStart(5)} %  ${pkg}`);
}
