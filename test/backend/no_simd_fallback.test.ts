// Without WebAssembly SIMD every CPU op must fall back to the TypeScript
// reference kernels and train the same models to the same losses. Node 20
// cannot switch SIMD off, so FLINT_NO_SIMD=1 (wasm/runtime.ts) makes flint
// see a runtime without it; the same child runs with SIMD for comparison.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

interface ChildResult {
  simd: boolean;
  wasmGemm: boolean;
  losses: Record<string, number[]>;
}

function runChild(noSimd: boolean): ChildResult {
  const script = fileURLToPath(new URL("./no_simd_child.ts", import.meta.url));
  const env = { ...process.env };
  if (noSimd) env.FLINT_NO_SIMD = "1";
  else delete env.FLINT_NO_SIMD;
  const r = spawnSync(process.execPath, ["--import", "tsx", script], {
    encoding: "utf8",
    env,
    timeout: 120_000,
  });
  assert.equal(r.status, 0, `child failed: ${r.stderr}`);
  const line = r.stdout.split("\n").find((l) => l.startsWith("{"));
  assert.ok(line, `no result from the child: ${r.stdout} ${r.stderr}`);
  return JSON.parse(line) as ChildResult;
}

test("FLINT_NO_SIMD=1: the TypeScript kernels train MLP, CNN, LSTM and Transformer to the SIMD kernels' losses", () => {
  const plain = runChild(true);
  const fast = runChild(false);
  assert.equal(plain.simd, false);
  assert.equal(plain.wasmGemm, false, "no wasm GEMM without SIMD");
  assert.equal(fast.simd, true);
  assert.equal(fast.wasmGemm, true);
  for (const [model, losses] of Object.entries(fast.losses)) {
    const other = plain.losses[model]!;
    assert.equal(other.length, losses.length);
    losses.forEach((l, i) => {
      assert.ok(Number.isFinite(l), `${model} step ${i}: ${l}`);
      // float32 kernels that sum in different orders: agreement to ~1e-4.
      assert.ok(
        Math.abs(l - other[i]!) <= 2e-4 * Math.max(1, Math.abs(l)),
        `${model} step ${i}: SIMD ${l}, TypeScript ${other[i]}`,
      );
    });
    assert.ok(losses.at(-1)! < losses[0]!, `${model} trains: ${losses.join(", ")}`);
  }
});
