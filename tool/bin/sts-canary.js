#!/usr/bin/env node
// The sts-canary tool: runs the compiled tool (dist/, built by `npm run build`), never TypeScript.
const path = require("path");
const fs = require("fs");
const main = path.join(__dirname, "..", "dist", "main.js");
if (!fs.existsSync(main)) {
    process.stderr.write(`error: ${main} is missing: build the tool first (\`npm run build\` at the repository root)\n`);
    process.exit(1);
}
// Exits explicitly: stdout/stderr are synchronous for files and pipes on Linux, and a watch or
// socket the client library keeps open must not keep a finished command alive.
require(main).main(process.argv).then((code) => process.exit(code), (err) => {
    process.stderr.write(`error: ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
});
