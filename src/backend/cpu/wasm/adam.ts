// Adam/AdamW steps on the vmath module's SIMD kernel: simdAdam stages all
// four arrays through scratch memory; AdamMoments keeps a parameter's two
// moments resident in a wasm arena, so a step copies only p and g in and p
// out.
import { VMATH_MIN, type VmathExports, vmath, vmathModule } from "./vmath.js";

/** Scalars of one Adam/AdamW step, in the order the wasm kernel takes them. */
export interface AdamScalars {
  shrink: number;
  sign: number;
  l2: number;
  beta1: number;
  beta2: number;
  stepSize: number;
  bias2Sqrt: number;
  eps: number;
}

/** The wasm Adam kernel over len floats at byte offsets p, g, m, v of k's memory. */
function adamKernel(
  k: VmathExports,
  p: number,
  g: number,
  m: number,
  v: number,
  len: number,
  s: AdamScalars,
): void {
  k.adam(
    p,
    g,
    m,
    v,
    Math.ceil(len / 4) * 16,
    s.shrink,
    s.sign,
    s.l2,
    s.beta1,
    1 - s.beta1,
    s.beta2,
    1 - s.beta2,
    s.stepSize,
    s.bias2Sqrt,
    s.eps,
  );
}

/** Elements per chunk: four 64 KiB slices of p, g, m, v stay in cache between copy and update. */
const ADAM_CHUNK = 16384;

/**
 * Adam/AdamW on float32 arrays in place (p, m, v updated from g), on SIMD,
 * chunk by chunk through scratch memory. False (nothing touched) without
 * SIMD or below the size where the copies pay.
 */
export function simdAdam(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  s: AdamScalars,
): boolean {
  const n = p.length;
  const vm = n >= VMATH_MIN ? vmath() : null;
  if (!vm) return false;
  const bytes = ADAM_CHUNK * 4;
  vm.scratch.reserve(4 * bytes);
  const mem = vm.scratch.floats;
  const [P, G, M, V] = [0, ADAM_CHUNK, 2 * ADAM_CHUNK, 3 * ADAM_CHUNK];
  for (let i = 0; i < n; i += ADAM_CHUNK) {
    const len = Math.min(ADAM_CHUNK, n - i);
    mem.set(p.subarray(i, i + len), P);
    mem.set(g.subarray(i, i + len), G);
    mem.set(m.subarray(i, i + len), M);
    mem.set(v.subarray(i, i + len), V);
    adamKernel(vm.k, 0, bytes, 2 * bytes, 3 * bytes, len, s);
    p.set(mem.subarray(P, P + len), i);
    m.set(mem.subarray(M, M + len), i);
    v.set(mem.subarray(V, V + len), i);
  }
  return true;
}

/**
 * Wasm memory that Adam moments are carved from: sized once and never
 * grown, so views into it stay valid. Its first 2·ADAM_CHUNK floats stage
 * p and g. One arena serves many parameters: each wasm memory reserves a
 * large stretch of address space, so one per parameter would not scale.
 */
class AdamArena {
  readonly k: VmathExports;
  readonly mem: Float32Array;
  used = 2 * ADAM_CHUNK;

  constructor(readonly floats: number) {
    const memory = new WebAssembly.Memory({ initial: Math.ceil((floats * 4) / 65536) });
    vmathCompiled ??= new WebAssembly.Module(vmathModule() as BufferSource);
    const inst = new WebAssembly.Instance(vmathCompiled, { env: { memory } });
    this.k = inst.exports as unknown as VmathExports;
    this.mem = new Float32Array(memory.buffer);
  }

  /** n floats (a whole number of vectors), or −1 when the arena is full. */
  take(n: number): number {
    const padded = Math.ceil(n / 4) * 4;
    if (this.used + padded > this.floats) return -1;
    this.used += padded;
    return this.used - padded;
  }
}

/** Floats per arena (64 MiB): the moments of ~8M parameters. */
const ARENA_FLOATS = 1 << 24;

let arena: AdamArena | null = null;

/**
 * Adam's two moments for one float32 parameter of n elements, in an
 * AdamArena: a step copies only p and g in and p out, chunk by chunk
 * (simdAdam copies all four in and three out), and the kernel updates the
 * moments in place. m and v are plain Float32Array views.
 */
export class AdamMoments {
  readonly m: Float32Array;
  readonly v: Float32Array;
  private readonly mAt: number;
  private readonly vAt: number;
  private readonly arena: AdamArena;

  constructor(readonly n: number) {
    let a = arena;
    let mAt = a ? a.take(n) : -1;
    let vAt = a && mAt >= 0 ? a.take(n) : -1;
    if (!a || vAt < 0) {
      // A fresh arena (the rest of the old one is left unused).
      a = new AdamArena(Math.max(ARENA_FLOATS, 2 * ADAM_CHUNK + 2 * Math.ceil(n / 4) * 4));
      arena = a;
      mAt = a.take(n);
      vAt = a.take(n);
    }
    this.arena = a;
    this.mAt = mAt;
    this.vAt = vAt;
    this.m = a.mem.subarray(mAt, mAt + n);
    this.v = a.mem.subarray(vAt, vAt + n);
  }

  /** One Adam/AdamW step of p (in place) from g, updating m and v. */
  step(p: Float32Array, g: Float32Array, s: AdamScalars): void {
    const { mem, k } = this.arena;
    const G = ADAM_CHUNK;
    for (let i = 0; i < this.n; i += ADAM_CHUNK) {
      const len = Math.min(ADAM_CHUNK, this.n - i);
      mem.set(p.subarray(i, i + len), 0);
      mem.set(g.subarray(i, i + len), G);
      adamKernel(k, 0, G * 4, (this.mAt + i) * 4, (this.vAt + i) * 4, len, s);
      p.set(mem.subarray(0, len), i);
    }
  }
}

let vmathCompiled: WebAssembly.Module | undefined;

/** Arena-resident moments for an n-element parameter, or null without SIMD or below VMATH_MIN. */
export function adamMoments(n: number): AdamMoments | null {
  return n >= VMATH_MIN && vmath() ? new AdamMoments(n) : null;
}
