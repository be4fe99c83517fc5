import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { quickstart } from "../../examples/quickstart.js";
import * as fl from "../../src/index.js";

test("the README's quickstart trains and saves PyTorch-keyed weights", async () => {
  const path = join(mkdtempSync(join(tmpdir(), "flint-qs-")), "net.safetensors");
  const acc = await quickstart(3, path);
  assert.ok(acc > 0.9, `accuracy ${acc}`);
  const sd = await fl.load(path);
  assert.deepEqual(Object.keys(sd).sort(), ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"]);
});
