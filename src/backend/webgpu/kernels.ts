import { HELPERS, type WgslType } from "./wgsl.js";

// WGSL programs, generated per (op, dtypes) and cached by their text. Shapes,
// strides and offsets travel in a small `meta` array of i32 rather than in
// the program text, so one compiled pipeline serves every layout. Every
// program starts by turning its workgroup id into a flat invocation index;
// large launches spread over a 2-d grid (a dimension stops at 65,535).

export const WG = 256;

const flatIndex = /* wgsl */ `
  let i = i32((wid.y * nwg.x + wid.x) * ${WG}u + lid);`;

const entry = /* wgsl */ `@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {`;

/**
 * Elementwise map over strided inputs. meta = [n, rank, shape…, then per
 * operand (inputs, then the output when `outStrided`): offset, strides…].
 * `body` reads the loaded inputs `v0, v1, …` and sets `r`, the stored value.
 */
function mapProgramSource(
  inputs: readonly WgslType[],
  out: WgslType,
  outStrided: boolean,
  body: string,
): string {
  const operands = inputs.length + (outStrided ? 1 : 0);
  const decls = inputs
    .map((t, k) => `@group(0) @binding(${k + 2}) var<storage, read> in${k}: array<${t}>;`)
    .join("\n");
  const offs = Array.from(
    { length: operands },
    (_, k) => `  var o${k} = mt[2 + rank + ${k} * (rank + 1)];`,
  ).join("\n");
  const steps = Array.from(
    { length: operands },
    (_, k) => `    o${k} = o${k} + c * mt[3 + rank + ${k} * (rank + 1) + d];`,
  ).join("\n");
  const loads = inputs.map((_, k) => `  let v${k} = in${k}[o${k}];`).join("\n");
  const target = outStrided ? `o${inputs.length}` : "i";
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> mt: array<i32>;
@group(0) @binding(1) var<storage, read_write> out: array<${out}>;
${decls}
${HELPERS}
${entry}
${flatIndex}
  if (i >= mt[0]) { return; }
  let rank = mt[1];
${offs}
  var rem = i;
  for (var d = rank - 1; d >= 0; d--) {
    let s = mt[2 + d];
    let c = rem % s;
    rem = rem / s;
${steps}
  }
${loads}
${body}
  out[${target}] = r;
}`;
}

export type ReduceKind = "sum" | "prod" | "max" | "min" | "argmax" | "argmin";

/**
 * Reduction of `x` over some dims. meta = [O, R, keptRank, redRank, offset,
 * keptShape…, keptStrides…, redShape…, redStrides…]. With `perThread`, one
 * invocation reduces one output (short reductions); otherwise a workgroup of
 * 64 shares one output and combines its partial results in a tree.
 */
function reduceProgramSource(
  kind: ReduceKind,
  x: WgslType,
  c: WgslType,
  out: WgslType,
  perThread: boolean,
): string {
  const isArg = kind === "argmax" || kind === "argmin";
  const isF = c === "f32";
  const init =
    kind === "sum"
      ? `${c}(0)`
      : kind === "prod"
        ? `${c}(1)`
        : kind === "max"
          ? isF
            ? "-f_inf()"
            : "-2147483647 - 1"
          : kind === "min"
            ? isF
              ? "f_inf()"
              : "2147483647"
            : `${c}(0)`;
  const combine = (a: string, b: string) =>
    kind === "sum"
      ? `${a} + ${b}`
      : kind === "prod"
        ? `${a} * ${b}`
        : kind === "max"
          ? isF
            ? `f_max(${a}, ${b})`
            : `max(${a}, ${b})`
          : isF
            ? `f_min(${a}, ${b})`
            : `min(${a}, ${b})`;
  const cmp = kind === "argmax" ? ">" : "<";
  // (v, i) beats (bv, bi): NaN wins (the first one), then the better value, then the lower index.
  const better = /* wgsl */ `
fn better(v: ${c}, i: i32, bv: ${c}, bi: i32) -> bool {
  if (i < 0) { return false; }
  if (bi < 0) { return true; }
  ${isF ? "if (f_isnan(bv)) { return f_isnan(v) && i < bi; }\n  if (f_isnan(v)) { return true; }" : ""}
  if (v ${cmp} bv) { return true; }
  return v == bv && i < bi;
}`;
  const loadOffsets = /* wgsl */ `
  let O = mt[0];
  let R = mt[1];
  let kr = mt[2];
  let rr = mt[3];
  var base = mt[4];
  var rem = o;
  for (var d = kr - 1; d >= 0; d--) {
    let s = mt[5 + d];
    base = base + (rem % s) * mt[5 + kr + d];
    rem = rem / s;
  }
  var acc: ${c} = ${init};
  var accI: i32 = -1;`;
  const loopBody = /* wgsl */ `
    var off = base;
    var q = r;
    for (var d = rr - 1; d >= 0; d--) {
      let s = mt[5 + 2 * kr + d];
      off = off + (q % s) * mt[5 + 2 * kr + rr + d];
      q = q / s;
    }
    let v = ${c}(x[off]);
    ${isArg ? "if (better(v, r, acc, accI)) { acc = v; accI = r; }" : `acc = ${combine("acc", "v")};`}`;
  const result = isArg ? "max(accI, 0)" : "acc";
  const head = /* wgsl */ `
@group(0) @binding(0) var<storage, read> mt: array<i32>;
@group(0) @binding(1) var<storage, read_write> out: array<${out}>;
@group(0) @binding(2) var<storage, read> x: array<${x}>;
${HELPERS}
${isArg ? better : ""}`;
  if (perThread) {
    return /* wgsl */ `${head}
${entry}
  let o = i32((wid.y * nwg.x + wid.x) * ${WG}u + lid);
  if (o >= mt[0]) { return; }
${loadOffsets}
  for (var r = 0; r < R; r++) {${loopBody}
  }
  out[o] = ${out}(${result});
}`;
  }
  const T = 64;
  return /* wgsl */ `${head}
var<workgroup> sv: array<${c}, ${T}>;
var<workgroup> si: array<i32, ${T}>;
@compute @workgroup_size(${T})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let o = i32(wid.y * nwg.x + wid.x);
${loadOffsets}
  for (var r = i32(lid); r < R; r += ${T}) {${loopBody}
  }
  sv[lid] = acc;
  si[lid] = accI;
  workgroupBarrier();
  for (var s = ${T / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      ${
        isArg
          ? "if (better(sv[lid + s], si[lid + s], sv[lid], si[lid])) { sv[lid] = sv[lid + s]; si[lid] = si[lid + s]; }"
          : `sv[lid] = ${combine("sv[lid]", "sv[lid + s]")};`
      }
    }
    workgroupBarrier();
  }
  if (lid == 0u && o < O) {
    acc = sv[0];
    accI = si[0];
    out[o] = ${out}(${result});
  }
}`;
}

/**
 * Batched matrix product with 64×64 output tiles: a workgroup of 16×16
 * invocations stages 64×16 slices of A and 16×64 of B in workgroup memory
 * and each invocation accumulates a 4×4 block. A and B may be any strided
 * views (a transposed operand needs no copy). meta = [M, N, K, batchRank,
 * aOffset, bOffset, aRowStride, aColStride, bRowStride, bColStride,
 * batchStart, batchShape…, aBatchStrides…, bBatchStrides…].
 */
function matmulProgramSource(a: WgslType, b: WgslType, c: WgslType, out: WgslType): string {
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> mt: array<i32>;
@group(0) @binding(1) var<storage, read_write> out: array<${out}>;
@group(0) @binding(2) var<storage, read> A: array<${a}>;
@group(0) @binding(3) var<storage, read> B: array<${b}>;
var<workgroup> As: array<${c}, 1024>;
var<workgroup> Bs: array<${c}, 1024>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid3: vec3u, @builtin(local_invocation_index) tid: u32) {
  let M = mt[0];
  let N = mt[1];
  let K = mt[2];
  let br = mt[3];
  let batch = mt[10] + i32(wid.z);
  var aBase = mt[4];
  var bBase = mt[5];
  var rem = batch;
  for (var d = br - 1; d >= 0; d--) {
    let s = mt[11 + d];
    let q = rem % s;
    rem = rem / s;
    aBase = aBase + q * mt[11 + br + d];
    bBase = bBase + q * mt[11 + 2 * br + d];
  }
  let aRs = mt[6];
  let aCs = mt[7];
  let bRs = mt[8];
  let bCs = mt[9];
  let row0 = i32(wid.y) * 64;
  let col0 = i32(wid.x) * 64;
  let tx = i32(lid3.x);
  let ty = i32(lid3.y);
  var acc: array<${c}, 16>;
  for (var k0 = 0; k0 < K; k0 += 16) {
    for (var l = 0; l < 4; l++) {
      let e = l * 256 + i32(tid);
      // A slice: 64 rows × 16 columns, stored k-major.
      let m = e / 16;
      let ka = e % 16;
      var va = ${c}(0);
      if (row0 + m < M && k0 + ka < K) { va = ${c}(A[aBase + (row0 + m) * aRs + (k0 + ka) * aCs]); }
      As[ka * 64 + m] = va;
      // B slice: 16 rows × 64 columns.
      let kb = e / 64;
      let n = e % 64;
      var vb = ${c}(0);
      if (k0 + kb < K && col0 + n < N) { vb = ${c}(B[bBase + (k0 + kb) * bRs + (col0 + n) * bCs]); }
      Bs[kb * 64 + n] = vb;
    }
    workgroupBarrier();
    for (var kk = 0; kk < 16; kk++) {
      var av: array<${c}, 4>;
      var bv: array<${c}, 4>;
      for (var u = 0; u < 4; u++) {
        av[u] = As[kk * 64 + ty * 4 + u];
        bv[u] = Bs[kk * 64 + tx * 4 + u];
      }
      for (var u = 0; u < 4; u++) {
        for (var w = 0; w < 4; w++) {
          acc[u * 4 + w] = acc[u * 4 + w] + av[u] * bv[w];
        }
      }
    }
    workgroupBarrier();
  }
  let obase = batch * M * N;
  for (var u = 0; u < 4; u++) {
    let r = row0 + ty * 4 + u;
    for (var w = 0; w < 4; w++) {
      let cc = col0 + tx * 4 + w;
      if (r < M && cc < N) { out[obase + r * N + cc] = ${out}(acc[u * 4 + w]); }
    }
  }
}`;
}

// Index faults (an index out of range) cannot throw from a kernel; they are
// recorded in a small buffer that the next read checks: [op code, index, size].
const faultDecl = (binding: number) => /* wgsl */ `
@group(0) @binding(${binding}) var<storage, read_write> fault: array<atomic<u32>, 4>;
fn report(code: u32, v: i32, size: i32) {
  if (atomicCompareExchangeWeak(&fault[0], 0u, code).exchanged) {
    atomicStore(&fault[1], bitcast<u32>(v));
    atomicStore(&fault[2], u32(size));
  }
}`;

export const FAULT_CODES = ["", "gather", "scatter", "scatterAdd"] as const;

/**
 * out[p] = x[… index[p] along dim …]; out has index's shape. meta = [n, rank,
 * dim, size, xOffset, indexOffset, shape…, indexStrides…, xStrides…].
 */
function gatherProgramSource(x: WgslType): string {
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> mt: array<i32>;
@group(0) @binding(1) var<storage, read_write> out: array<${x}>;
@group(0) @binding(2) var<storage, read> x: array<${x}>;
@group(0) @binding(3) var<storage, read> index: array<i32>;
${faultDecl(4)}
${entry}
${flatIndex}
  if (i >= mt[0]) { return; }
  let rank = mt[1];
  let dim = mt[2];
  let size = mt[3];
  var ox = mt[4];
  var oi = mt[5];
  var rem = i;
  for (var d = rank - 1; d >= 0; d--) {
    let s = mt[6 + d];
    let c = rem % s;
    rem = rem / s;
    oi = oi + c * mt[6 + rank + d];
    if (d != dim) { ox = ox + c * mt[6 + 2 * rank + d]; }
  }
  var v = index[oi];
  if (v < 0) { v = v + size; }
  if (v < 0 || v >= size) {
    report(1u, index[oi], size);
    out[i] = ${x}(0);
    return;
  }
  out[i] = x[ox + v * mt[6 + 2 * rank + dim]];
}`;
}

/**
 * Writes src into `out` (already a contiguous copy of the base) at index
 * along dim; with `accumulate`, adds instead, through atomics (a
 * compare-and-swap loop for f32, which WGSL cannot add atomically).
 * meta = [n, rank, dim, size, indexOffset, srcOffset, shape…, indexStrides…,
 * srcStrides…, outStrides…].
 */
function scatterProgramSource(out: WgslType, src: WgslType, accumulate: boolean): string {
  const outDecl = accumulate ? `array<atomic<${out === "i32" ? "i32" : "u32"}>>` : `array<${out}>`;
  let write: string;
  const value = out === src ? "sv" : out === "u32" ? "select(0u, 1u, sv != 0)" : `${out}(sv)`;
  if (!accumulate) write = `out[t] = ${value};`;
  else if (out === "i32") write = `atomicAdd(&out[t], ${value});`;
  else if (out === "u32")
    write = `atomicOr(&out[t], ${src === "u32" ? "select(0u, 1u, sv != 0u)" : "select(0u, 1u, sv != 0)"});`;
  else
    write = /* wgsl */ `var old = atomicLoad(&out[t]);
  loop {
    let next = bitcast<u32>(bitcast<f32>(old) + ${value});
    let res = atomicCompareExchangeWeak(&out[t], old, next);
    if (res.exchanged) { break; }
    old = res.old_value;
  }`;
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> mt: array<i32>;
@group(0) @binding(1) var<storage, read_write> out: ${outDecl};
@group(0) @binding(2) var<storage, read> index: array<i32>;
@group(0) @binding(3) var<storage, read> src: array<${src}>;
${faultDecl(4)}
${entry}
${flatIndex}
  if (i >= mt[0]) { return; }
  let rank = mt[1];
  let dim = mt[2];
  let size = mt[3];
  var oi = mt[4];
  var os = mt[5];
  var t = 0;
  var rem = i;
  for (var d = rank - 1; d >= 0; d--) {
    let s = mt[6 + d];
    let c = rem % s;
    rem = rem / s;
    oi = oi + c * mt[6 + rank + d];
    os = os + c * mt[6 + 2 * rank + d];
    if (d != dim) { t = t + c * mt[6 + 3 * rank + d]; }
  }
  var v = index[oi];
  if (v < 0) { v = v + size; }
  if (v < 0 || v >= size) {
    report(${accumulate ? 3 : 2}u, index[oi], size);
    return;
  }
  t = t + v * mt[6 + 3 * rank + dim];
  let sv = src[os];
  ${write}
}`;
}

// Each program's text is made once per distinct arguments and then shared:
// the pipeline cache is keyed by the text, and a string V8 has hashed once
// is looked up at once, where a freshly built copy would be hashed again.
function memo<A extends unknown[]>(make: (...args: A) => string): (...args: A) => string {
  const made = new Map<string, string>();
  return (...args: A) => {
    const key = JSON.stringify(args);
    let code = made.get(key);
    if (code === undefined) made.set(key, (code = make(...args)));
    return code;
  };
}

export const mapProgram = memo(mapProgramSource);
export const reduceProgram = memo(reduceProgramSource);
export const matmulProgram = memo(matmulProgramSource);
export const gatherProgram = memo(gatherProgramSource);
export const scatterProgram = memo(scatterProgramSource);
