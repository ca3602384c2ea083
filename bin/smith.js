#!/usr/bin/env node
// Runs the TypeScript CLI directly: one source of truth, no build step to forget.
require("ts-node").register({ transpileOnly: true, project: require("path").join(__dirname, "..", "tsconfig.json") });
require("../cli/main").main(process.argv).then(
  (code) => process.exit(code ?? 0),
  (err) => {
    console.error(err && err.stack ? err.stack : String(err));
    process.exit(70);
  },
);
