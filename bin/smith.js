#!/usr/bin/env node
// Runs the TypeScript CLI directly: one source of truth, no build step to forget. Each .ts file
// is transpiled once (TypeScript's transpileModule, as ts-node's transpile-only mode does) and the
// result cached under .smith/cache/ts by content hash, so a CLI run loads no compiler at all:
// `smith plan` must answer in well under a second (docs/scale.md). Types are checked by
// `npm run typecheck`, never here.
"use strict";
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

const root = path.join(__dirname, "..");
const cacheDir = process.env.SMITH_TS_CACHE || path.join(root, ".smith", "cache", "ts");
const tsconfigText = fs.readFileSync(path.join(root, "tsconfig.json"), "utf8");
const tsVersion = JSON.parse(fs.readFileSync(require.resolve("typescript/package.json"), "utf8")).version;
const salt = `${tsVersion}\0${tsconfigText}\0`;

let ts = null;
let compilerOptions = null;
function transpile(source, filename) {
  if (!ts) {
    ts = require("typescript");
    const parsed = ts.parseConfigFileTextToJson("tsconfig.json", tsconfigText);
    compilerOptions = ts.convertCompilerOptionsFromJson(parsed.config.compilerOptions, root).options;
    Object.assign(compilerOptions, { module: ts.ModuleKind.CommonJS, inlineSourceMap: true, inlineSources: false, sourceMap: false, declaration: false, noEmit: false });
  }
  return ts.transpileModule(source, { compilerOptions, fileName: filename }).outputText;
}

require.extensions[".ts"] = (module, filename) => {
  const source = fs.readFileSync(filename, "utf8");
  const key = crypto.createHash("sha256").update(salt).update(filename).update("\0").update(source).digest("hex");
  const cached = path.join(cacheDir, `${key}.js`);
  let js;
  try {
    js = fs.readFileSync(cached, "utf8");
  } catch {
    js = transpile(source, filename);
    try {
      fs.mkdirSync(cacheDir, { recursive: true });
      const tmp = `${cached}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, js);
      fs.renameSync(tmp, cached);
    } catch {
      // A read-only checkout still runs, just without the cache.
    }
  }
  module._compile(js, filename);
};
// Stack traces of bugs point at the .ts lines (the transpiled code carries inline source maps).
process.setSourceMapsEnabled(true);

require("../cli/main").main(process.argv).then(
  (code) => process.exit(code ?? 0),
  (err) => {
    console.error(err && err.stack ? err.stack : String(err));
    process.exit(70);
  },
);
