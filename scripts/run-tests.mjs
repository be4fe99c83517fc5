// Runs every test file under test/ with Node's test runner and tsx.
// Node 20's --test takes no globs, so the files are listed here.
// The TAP stream passes through as it comes; at the end the failing tests are
// printed again, because a CI log that keeps only the head and tail of a long
// run would otherwise show "fail 1" without saying which.
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...findTests(path));
    else if (name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

const filter = process.argv.slice(2);
let files = findTests("test").sort();
if (filter.length > 0) files = files.filter((f) => filter.some((p) => f.includes(p)));

// Failing subtests, each with the suite names above it and its YAML block.
const failures = [];
const suites = [];
let block = null;
let pending = "";

function takeLine(line) {
  if (block) {
    block.lines.push(line);
    if (/^\s*\.\.\.$/.test(line)) block = null;
    return;
  }
  const subtest = /^(\s*)# Subtest: (.*)$/.exec(line);
  if (subtest) {
    const depth = subtest[1].length / 4;
    suites.length = depth;
    suites.push(subtest[2]);
    return;
  }
  const notOk = /^(\s*)not ok \d+ - (.*)$/.exec(line);
  if (notOk) {
    const depth = notOk[1].length / 4;
    block = { path: [...suites.slice(0, depth), notOk[2]].join(" > "), lines: [] };
    failures.push(block);
  }
}

const child = spawn(process.execPath, ["--import", "tsx", "--test", ...files], {
  stdio: ["inherit", "pipe", "inherit"],
});
child.stdout.on("data", (chunk) => {
  process.stdout.write(chunk);
  const text = pending + chunk.toString("utf8");
  const lines = text.split("\n");
  pending = lines.pop() ?? "";
  for (const line of lines) takeLine(line);
});
child.on("close", (code, signal) => {
  if (pending) takeLine(pending);
  // A suite fails when a test inside it does; list the innermost failures.
  const leaves = failures.filter(
    (f) => !failures.some((g) => g !== f && g.path.startsWith(`${f.path} > `)),
  );
  if (leaves.length > 0) {
    process.stdout.write(`\n# ${leaves.length} failing test(s):\n`);
    for (const f of leaves) {
      process.stdout.write(`# not ok - ${f.path}\n`);
      for (const line of f.lines) process.stdout.write(`#   ${line.trim()}\n`);
    }
  }
  process.exit(code ?? (signal ? 1 : 0));
});
