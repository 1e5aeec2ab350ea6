#!/usr/bin/env node
// Launcher of the sts-canary CLI: runs the TypeScript sources with ts-node (no build step).
const path = require("path");
require("ts-node").register({ transpileOnly: true, project: path.join(__dirname, "..", "tsconfig.json") });
require("./main.ts").main(process.argv).then((code) => process.exit(code), (err) => {
    process.stderr.write(`error: ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
});
