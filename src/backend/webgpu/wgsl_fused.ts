import { HELPERS } from "./wgsl.js";

// WGSL for the fused kernels (./fused.ts): float32 programs over contiguous
// operands. Row kernels (softmax, layer norm, attention) give each row one
// workgroup of T invocations that stride over its columns and combine their
// partial results in workgroup memory; the rest are flat, one invocation
// per output element. Offsets, sizes and float constants (as bits) travel
// in `mt`, so one pipeline serves every shape.

/** Invocations per workgroup. */
export const T = 256;

/** The longest key sequence the attention kernel holds in workgroup memory. */
export const MAX_KEYS = 2048;

const rowEntry = /* wgsl */ `@compute @workgroup_size(${T})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = i32(wid.y * nwg.x + wid.x);
  let live = row < mt[0];`;

const flatEntry = /* wgsl */ `@compute @workgroup_size(${T})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let e = i32((wid.y * nwg.x + wid.x) * ${T}u + lid);
  if (e >= mt[0]) { return; }`;

/**
 * Binding declarations: `mt` at 0, then each [name, element type, writable]
 * in order, as GpuContext.run binds them.
 */
function bindings(list: readonly [string, string, boolean][]): string {
  const rest = list.map(
    ([name, type, rw], i) =>
      `@group(0) @binding(${i + 1}) var<storage, ${rw ? "read_write" : "read"}> ${name}: array<${type}>;`,
  );
  return ["@group(0) @binding(0) var<storage, read> mt: array<i32>;", ...rest, HELPERS].join("\n");
}

/**
 * Combines every invocation's `arr[lid]` into `arr[0]` by halving; callers
 * read arr[0] and then pass a barrier before writing arr again.
 */
function tree(arrays: readonly string[], combine: (a: string, b: string) => string): string {
  const steps = arrays.map((a) => `${a}[lid] = ${combine(`${a}[lid]`, `${a}[lid + s]`)};`);
  return /* wgsl */ `
  workgroupBarrier();
  for (var s = ${T / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { ${steps.join(" ")} }
    workgroupBarrier();
  }`;
}

const sum = (a: string, b: string) => `${a} + ${b}`;
const fmax = (a: string, b: string) => `f_max(${a}, ${b})`;

/**
 * softmax / log-softmax of rows. meta = [rows, cols, xOffset]. Each row is
 * shifted by its maximum (NaN propagates, as on the CPU) before exp.
 */
export function softmaxSource(log: boolean): string {
  const write = log
    ? `let lse = M + log(Z);
  for (var j = i32(lid); j < cols; j += ${T}) { out[ob + j] = x[xb + j] - lse; }`
    : `let inv = 1.0 / Z;
  for (var j = i32(lid); j < cols; j += ${T}) { out[ob + j] = exp(x[xb + j] - M) * inv; }`;
  return /* wgsl */ `${bindings([
    ["out", "f32", true],
    ["x", "f32", false],
  ])}
var<workgroup> red: array<f32, ${T}>;
${rowEntry}
  let cols = select(0, mt[1], live);
  let xb = mt[2] + row * cols;
  let ob = row * cols;
  var m = -f_inf();
  for (var j = i32(lid); j < cols; j += ${T}) { m = f_max(m, x[xb + j]); }
  red[lid] = m;${tree(["red"], fmax)}
  let M = red[0];
  workgroupBarrier();
  var z = 0.0;
  for (var j = i32(lid); j < cols; j += ${T}) { z = z + exp(x[xb + j] - M); }
  red[lid] = z;${tree(["red"], sum)}
  let Z = red[0];
  ${write}
}`;
}

/**
 * The input gradient of softmax (y·(g − Σg·y)) or log-softmax
 * (g − exp(y)·Σg) by rows. meta = [rows, cols, gOffset, yOffset].
 */
export function softmaxBackwardSource(log: boolean): string {
  const term = log ? "g[gb + j]" : "g[gb + j] * y[yb + j]";
  const write = log ? "g[gb + j] - exp(y[yb + j]) * D" : "y[yb + j] * (g[gb + j] - D)";
  return /* wgsl */ `${bindings([
    ["out", "f32", true],
    ["g", "f32", false],
    ["y", "f32", false],
  ])}
var<workgroup> red: array<f32, ${T}>;
${rowEntry}
  let cols = select(0, mt[1], live);
  let gb = mt[2] + row * cols;
  let yb = mt[3] + row * cols;
  let ob = row * cols;
  var d = 0.0;
  for (var j = i32(lid); j < cols; j += ${T}) { d = d + ${term}; }
  red[lid] = d;${tree(["red"], sum)}
  let D = red[0];
  for (var j = i32(lid); j < cols; j += ${T}) { out[ob + j] = ${write}; }
}`;
}

/**
 * Layer norm of rows: y = (x − μ)·r·w + b, with μ and r = 1/√(var + eps)
 * from two passes (mean, then squared deviations) and stored per row.
 * meta = [rows, cols, xOffset, wOffset, bOffset, eps bits].
 */
export function layerNormSource(hasW: boolean, hasB: boolean): string {
  const list: [string, string, boolean][] = [
    ["y", "f32", true],
    ["mean", "f32", true],
    ["rstd", "f32", true],
    ["x", "f32", false],
  ];
  if (hasW) list.push(["w", "f32", false]);
  if (hasB) list.push(["b", "f32", false]);
  let v = "(x[xb + j] - mu) * rs";
  if (hasW) v = `${v} * w[mt[3] + j]`;
  if (hasB) v = `${v} + b[mt[4] + j]`;
  return /* wgsl */ `${bindings(list)}
var<workgroup> red: array<f32, ${T}>;
${rowEntry}
  let cols = select(0, mt[1], live);
  let xb = mt[2] + row * cols;
  let ob = row * cols;
  let n = f32(mt[1]);
  var s = 0.0;
  for (var j = i32(lid); j < cols; j += ${T}) { s = s + x[xb + j]; }
  red[lid] = s;${tree(["red"], sum)}
  let mu = red[0] / n;
  workgroupBarrier();
  var q = 0.0;
  for (var j = i32(lid); j < cols; j += ${T}) { let c = x[xb + j] - mu; q = q + c * c; }
  red[lid] = q;${tree(["red"], sum)}
  let rs = 1.0 / sqrt(red[0] / n + bitcast<f32>(mt[5]));
  for (var j = i32(lid); j < cols; j += ${T}) { y[ob + j] = ${v}; }
  if (live && lid == 0u) {
    mean[row] = mu;
    rstd[row] = rs;
  }
}`;
}

/**
 * Layer norm's input gradient by rows: with x̂ = (x − μ)·r and ĝ = g·w,
 * dx = r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)). meta = [rows, cols, gOffset,
 * xOffset, meanOffset, rstdOffset, wOffset].
 */
export function layerNormBackwardSource(hasW: boolean): string {
  const list: [string, string, boolean][] = [
    ["gx", "f32", true],
    ["g", "f32", false],
    ["x", "f32", false],
    ["mean", "f32", false],
    ["rstd", "f32", false],
  ];
  if (hasW) list.push(["w", "f32", false]);
  const gh = hasW ? "g[gb + j] * w[mt[6] + j]" : "g[gb + j]";
  return /* wgsl */ `${bindings(list)}
var<workgroup> red: array<f32, ${T}>;
var<workgroup> red2: array<f32, ${T}>;
${rowEntry}
  let cols = select(0, mt[1], live);
  let r = select(0, row, live);
  let gb = mt[2] + row * cols;
  let xb = mt[3] + row * cols;
  let ob = row * cols;
  let mu = mean[mt[4] + r];
  let rs = rstd[mt[5] + r];
  var sg = 0.0;
  var sgx = 0.0;
  for (var j = i32(lid); j < cols; j += ${T}) {
    let h = ${gh};
    sg = sg + h;
    sgx = sgx + h * (x[xb + j] - mu) * rs;
  }
  red[lid] = sg;
  red2[lid] = sgx;${tree(["red", "red2"], sum)}
  let n = f32(mt[1]);
  let mg = red[0] / n;
  let mgx = red2[0] / n;
  for (var j = i32(lid); j < cols; j += ${T}) {
    let xh = (x[xb + j] - mu) * rs;
    gx[ob + j] = rs * (${gh} - mg - xh * mgx);
  }
}`;
}

/**
 * Layer norm's weight and bias gradients: one workgroup per column sums
 * g·x̂ and g over the rows. meta = [cols, rows, gOffset, xOffset,
 * meanOffset, rstdOffset] (the column count first: it is the launch size).
 */
export function layerNormAffineSource(): string {
  return /* wgsl */ `${bindings([
    ["gw", "f32", true],
    ["gb", "f32", true],
    ["g", "f32", false],
    ["x", "f32", false],
    ["mean", "f32", false],
    ["rstd", "f32", false],
  ])}
var<workgroup> red: array<f32, ${T}>;
var<workgroup> red2: array<f32, ${T}>;
${rowEntry}
  let col = row;
  let cols = mt[0];
  let rows = select(0, mt[1], live);
  var sw = 0.0;
  var sb = 0.0;
  for (var r = i32(lid); r < rows; r += ${T}) {
    let gv = g[mt[2] + r * cols + col];
    sw = sw + gv * (x[mt[3] + r * cols + col] - mean[mt[4] + r]) * rstd[mt[5] + r];
    sb = sb + gv;
  }
  red[lid] = sw;
  red2[lid] = sb;${tree(["red", "red2"], sum)}
  if (live && lid == 0u) {
    gw[col] = red[0];
    gb[col] = red2[0];
  }
}`;
}

const GELU_CONSTS = /* wgsl */ `
const SQRT1_2 = 0.7071067811865476;
const SQRT_2_OVER_PI = 0.7978845608028654;
const INV_SQRT_2PI = 0.3989422804014327;
const GELU_C = 0.044715;`;

/** GELU, exact (erf) or tanh-approximated. meta = [n, xOffset]. */
export function geluSource(approximate: "none" | "tanh"): string {
  const y =
    approximate === "tanh"
      ? "0.5 * v * (1.0 + f_tanh(SQRT_2_OVER_PI * (v + GELU_C * v * v * v)))"
      : "0.5 * v * (1.0 + f_erf(v * SQRT1_2))";
  return /* wgsl */ `${bindings([
    ["out", "f32", true],
    ["x", "f32", false],
  ])}
${GELU_CONSTS}
${flatEntry}
  let v = x[mt[1] + e];
  out[e] = ${y};
}`;
}

/** g·GELU'(x). meta = [n, gOffset, xOffset]. */
export function geluBackwardSource(approximate: "none" | "tanh"): string {
  const d =
    approximate === "tanh"
      ? `let t = f_tanh(SQRT_2_OVER_PI * (v + GELU_C * v * v * v));
  let du = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_C * v * v);
  let d = 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * du;`
      : `let d = 0.5 * (1.0 + f_erf(v * SQRT1_2)) + v * INV_SQRT_2PI * exp(-0.5 * v * v);`;
  return /* wgsl */ `${bindings([
    ["out", "f32", true],
    ["g", "f32", false],
    ["x", "f32", false],
  ])}
${GELU_CONSTS}
${flatEntry}
  let v = x[mt[2] + e];
  ${d}
  out[e] = g[mt[1] + e] * d;
}`;
}

/**
 * im2col: out[(c·k + j)·N·l + n·l + p] = x[n, c, tab[j·l + p]], 0 where the
 * table says -1. meta = [total, N, C, k, l, hw, xOffset].
 */
export function im2colSource(): string {
  return /* wgsl */ `${bindings([
    ["out", "f32", true],
    ["x", "f32", false],
    ["tab", "i32", false],
  ])}
${flatEntry}
  let N = mt[1];
  let C = mt[2];
  let k = mt[3];
  let l = mt[4];
  let rowLen = N * l;
  let rw = e / rowLen;
  let rem = e % rowLen;
  let n = rem / l;
  let p = rem % l;
  let c = rw / k;
  let j = rw % k;
  let i = tab[j * l + p];
  var v = 0.0;
  if (i >= 0) { v = x[mt[6] + (n * C + c) * mt[5] + i]; }
  out[e] = v;
}`;
}

/**
 * col2im without atomics: each plane position i sums the columns that read
 * it, listed by an inverse table inv = [start (hw + 1)…, entries…] whose
 * entries j·l + p run in the CPU's order (window element, then position).
 * meta = [total, N, C, k, l, hw, colsOffset].
 */
export function col2imSource(): string {
  return /* wgsl */ `${bindings([
    ["out", "f32", true],
    ["cols", "f32", false],
    ["inv", "i32", false],
  ])}
${flatEntry}
  let N = mt[1];
  let C = mt[2];
  let k = mt[3];
  let l = mt[4];
  let hw = mt[5];
  let i = e % hw;
  let plane = e / hw;
  let n = plane / C;
  let c = plane % C;
  let base = mt[6] + c * k * N * l + n * l;
  var acc = 0.0;
  for (var q = inv[i]; q < inv[i + 1]; q++) {
    let t = inv[hw + 1 + q];
    acc = acc + cols[base + (t / l) * N * l + t % l];
  }
  out[e] = acc;
}`;
}

/**
 * Max pooling over a window table: each window's maximum and the flat
 * plane index of its first maximum (NaN wins; padding reads -inf).
 * meta = [total, k, l, hw, xOffset].
 */
export function maxPoolSource(): string {
  return /* wgsl */ `${bindings([
    ["values", "f32", true],
    ["indices", "i32", true],
    ["x", "f32", false],
    ["tab", "i32", false],
  ])}
fn at(src: i32, j: i32, p: i32) -> f32 {
  let i = tab[j * mt[2] + p];
  if (i < 0) { return -f_inf(); }
  return x[src + i];
}
${flatEntry}
  let k = mt[1];
  let l = mt[2];
  let plane = e / l;
  let p = e % l;
  let src = mt[4] + plane * mt[3];
  var best = at(src, 0, p);
  var arg = 0;
  if (!f_isnan(best)) {
    for (var j = 1; j < k; j++) {
      let v = at(src, j, p);
      if (f_isnan(v)) { best = v; arg = j; break; }
      if (v > best) { best = v; arg = j; }
    }
  }
  values[e] = best;
  indices[e] = tab[arg * l + p];
}`;
}

/**
 * Max pooling's adjoint: grad added at the indices into zeroed planes,
 * through a compare-and-swap loop (overlapping windows may share a
 * maximum). meta = [total, l, hw, gOffset, indicesOffset].
 */
export function maxPoolBackwardSource(): string {
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> mt: array<i32>;
@group(0) @binding(1) var<storage, read_write> out: array<atomic<u32>>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read> indices: array<i32>;
${flatEntry}
  let i = indices[mt[4] + e];
  if (i < 0) { return; }
  let t = (e / mt[1]) * mt[2] + i;
  let add = g[mt[3] + e];
  var old = atomicLoad(&out[t]);
  loop {
    let res = atomicCompareExchangeWeak(&out[t], old, bitcast<u32>(bitcast<f32>(old) + add));
    if (res.exchanged) { break; }
    old = res.old_value;
  }
}`;
}

/**
 * Scaled-dot-product attention, one workgroup per query row (b, i): the
 * row's scores q·kⱼ·scale (keys j > i hidden when causal) are kept in
 * workgroup memory, turned into softmax weights there, optionally written
 * out, and multiplied into v. meta = [B·L, L, S, E, Ev, qOffset, kOffset,
 * vOffset, scale bits, causal].
 */
export function attentionSource(wantProbs: boolean): string {
  const list: [string, string, boolean][] = [["out", "f32", true]];
  if (wantProbs) list.push(["probs", "f32", true]);
  list.push(["q", "f32", false], ["k", "f32", false], ["v", "f32", false]);
  return /* wgsl */ `${bindings(list)}
var<workgroup> red: array<f32, ${T}>;
var<workgroup> sc: array<f32, ${MAX_KEYS}>;
${rowEntry}
  let L = mt[1];
  let S = select(0, mt[2], live);
  let E = mt[3];
  let Ev = mt[4];
  let b = row / L;
  let i = row % L;
  let qb = mt[5] + row * E;
  let kb = mt[6] + b * S * E;
  let vb = mt[7] + b * S * Ev;
  let scale = bitcast<f32>(mt[8]);
  var hi = S;
  if (mt[9] != 0) { hi = min(S, i + 1); }
  var m = -f_inf();
  for (var j = i32(lid); j < S; j += ${T}) {
    var s = -f_inf();
    if (j < hi) {
      var d = 0.0;
      for (var t = 0; t < E; t++) { d = d + q[qb + t] * k[kb + j * E + t]; }
      s = d * scale;
    }
    sc[j] = s;
    m = f_max(m, s);
  }
  red[lid] = m;${tree(["red"], fmax)}
  let M = red[0];
  workgroupBarrier();
  var z = 0.0;
  for (var j = i32(lid); j < S; j += ${T}) {
    let p = exp(sc[j] - M);
    sc[j] = p;
    z = z + p;
  }
  red[lid] = z;${tree(["red"], sum)}
  let inv = 1.0 / red[0];
  ${wantProbs ? `for (var j = i32(lid); j < S; j += ${T}) { probs[row * S + j] = sc[j] * inv; }` : ""}
  let cols = select(0, Ev, live);
  for (var t = i32(lid); t < cols; t += ${T}) {
    var acc = 0.0;
    for (var j = 0; j < hi; j++) { acc = acc + sc[j] * v[vb + j * Ev + t]; }
    out[row * Ev + t] = acc * inv;
  }
}`;
}

/**
 * Attention's softmax in place over scores [N, H, L, S] (rows of S):
 * softmax(s·scale + mask), mask an additive view with strides m0…m3 (0
 * where it broadcasts); under `causal` row i keeps its first i + 1 entries
 * and the rest are 0. A row whose maximum is not finite becomes NaN, as
 * the composite gives. meta = [rows, H, L, S, scale bits, causal,
 * maskOffset, m0, m1, m2, m3].
 */
export function attentionSoftmaxSource(hasMask: boolean): string {
  const list: [string, string, boolean][] = [["sc", "f32", true]];
  if (hasMask) list.push(["mask", "f32", false]);
  const add = hasMask ? " + mask[mb + j * mt[10]]" : "";
  return /* wgsl */ `${bindings(list)}
var<workgroup> red: array<f32, ${T}>;
${rowEntry}
  let H = mt[1];
  let L = mt[2];
  let S = select(0, mt[3], live);
  let i = row % L;
  let h = (row / L) % H;
  let n = row / (L * H);
  let mb = mt[6] + n * mt[7] + h * mt[8] + i * mt[9];
  let scale = bitcast<f32>(mt[4]);
  var len = S;
  if (mt[5] != 0) { len = min(S, i + 1); }
  let base = row * mt[3];
  var m = -f_inf();
  for (var j = i32(lid); j < len; j += ${T}) {
    let v = sc[base + j] * scale${add};
    sc[base + j] = v;
    m = f_max(m, v);
  }
  red[lid] = m;${tree(["red"], fmax)}
  let M = red[0];
  workgroupBarrier();
  let bad = f_isnan(M) || f_isinf(M);
  var z = 0.0;
  for (var j = i32(lid); j < len; j += ${T}) {
    let p = exp(sc[base + j] - M);
    sc[base + j] = p;
    z = z + p;
  }
  red[lid] = z;${tree(["red"], sum)}
  let inv = 1.0 / red[0];
  for (var j = i32(lid); j < S; j += ${T}) {
    var p = 0.0;
    if (bad) { p = f_nan(); } else if (j < len) { p = sc[base + j] * inv; }
    sc[base + j] = p;
  }
}`;
}

/**
 * Its adjoint in place over the weights' gradient g [N, H, L, S]:
 * scale·p·(g − Σ g·p) by row, 0 past a causal row's length.
 * meta = [rows, L, S, probsOffset, scale bits, causal].
 */
export function attentionSoftmaxBackwardSource(): string {
  return /* wgsl */ `${bindings([
    ["g", "f32", true],
    ["p", "f32", false],
  ])}
var<workgroup> red: array<f32, ${T}>;
${rowEntry}
  let L = mt[1];
  let S = select(0, mt[2], live);
  let i = row % L;
  var len = S;
  if (mt[5] != 0) { len = min(S, i + 1); }
  let base = row * mt[2];
  let pb = mt[3] + base;
  var d = 0.0;
  for (var j = i32(lid); j < len; j += ${T}) { d = d + g[base + j] * p[pb + j]; }
  red[lid] = d;${tree(["red"], sum)}
  let D = red[0];
  let scale = bitcast<f32>(mt[4]);
  for (var j = i32(lid); j < S; j += ${T}) {
    var r = 0.0;
    if (j < len) { r = scale * p[pb + j] * (g[base + j] - D); }
    g[base + j] = r;
  }
}`;
}

/** Rows up to this long are walked by one invocation each (a workgroup per row would idle). */
export const SHORT_ROW = 32;

/** softmax / log-softmax with one invocation per short row. meta = [rows, cols, xOffset]. */
export function softmaxShortSource(log: boolean): string {
  const write = log
    ? `let lse = m + log(z);
  for (var j = 0; j < cols; j++) { out[ob + j] = x[xb + j] - lse; }`
    : `let inv = 1.0 / z;
  for (var j = 0; j < cols; j++) { out[ob + j] = exp(x[xb + j] - m) * inv; }`;
  return /* wgsl */ `${bindings([
    ["out", "f32", true],
    ["x", "f32", false],
  ])}
${flatEntry}
  let cols = mt[1];
  let xb = mt[2] + e * cols;
  let ob = e * cols;
  var m = -f_inf();
  for (var j = 0; j < cols; j++) { m = f_max(m, x[xb + j]); }
  var z = 0.0;
  for (var j = 0; j < cols; j++) { z = z + exp(x[xb + j] - m); }
  ${write}
}`;
}

/** softmaxBackward with one invocation per short row. meta = [rows, cols, gOffset, yOffset]. */
export function softmaxBackwardShortSource(log: boolean): string {
  const term = log ? "g[gb + j]" : "g[gb + j] * y[yb + j]";
  const write = log ? "g[gb + j] - exp(y[yb + j]) * d" : "y[yb + j] * (g[gb + j] - d)";
  return /* wgsl */ `${bindings([
    ["out", "f32", true],
    ["g", "f32", false],
    ["y", "f32", false],
  ])}
${flatEntry}
  let cols = mt[1];
  let gb = mt[2] + e * cols;
  let yb = mt[3] + e * cols;
  let ob = e * cols;
  var d = 0.0;
  for (var j = 0; j < cols; j++) { d = d + ${term}; }
  for (var j = 0; j < cols; j++) { out[ob + j] = ${write}; }
}`;
}
