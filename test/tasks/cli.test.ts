import assert from "node:assert/strict";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { program } from "../../src/cli/main.js";
import { runTask } from "../../src/cli/tasks.js";

test("flint train --task names-bigram trains, logs and writes a checkpoint", async () => {
  const out = mkdtempSync(join(tmpdir(), "flint-task-"));
  const lines: string[] = [];
  const log = console.log;
  console.log = (l: string) => lines.push(l);
  try {
    await program().parseAsync([
      "node",
      "flint",
      "train",
      "--task",
      "names-bigram",
      "--out",
      out,
      "--no-progress",
    ]);
  } finally {
    console.log = log;
  }
  assert.ok(
    lines.some((l) => /val \d\.\d+ nats\/char/.test(l)),
    lines.join("\n"),
  );
  assert.ok(existsSync(join(out, "checkpoint.safetensors")));
});

test("runTask rejects unknown tasks", async () => {
  await assert.rejects(runTask("names-rnn"), /unknown task "names-rnn"/);
});
