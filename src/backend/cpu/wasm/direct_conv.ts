import { copyOf } from "../../../dtype.js";
import { pool } from "../threads/pool.js";
import { type ProgramKernels, ProgramWriter, ShippedModule } from "../threads/program.js";
import { type Code, I32, ModuleBuilder, V128 } from "./emitter.js";
import { threadedGemm } from "./matmul.js";
import { memoryLimits, Scratch, wasmFeatures } from "./runtime.js";

// A direct float32 conv2d (stride 1, dilation 1, groups 1) for convolutions
// with few input taps C·kh·kw, such as a network's first layer (LeNet's
// 1→6 5×5). The im2col + GEMM engine (conv.ts) writes every tap of every
// output position as a column and the GEMM packs them again: for 25 taps
// and 6 output channels that data movement costs more than the arithmetic.
// Here each sample is copied once (zero-padded) into wasm memory and the
// kernel reads the taps straight from the padded plane: 4 output columns
// per v128, a block of output channels per pass, every tap's address an
// immediate offset. The module is emitted per geometry (plane size, kernel
// size, channels), so all loop bounds and offsets are constants.
//
// The backward computes the weight and bias gradients only (a first layer's
// input needs none): gw[o, tap] = Σ dy[o, p]·xpad[p + tap] as v128 partial
// sums per (channel, tap), flushed per sample into float64 memory, so long
// batches sum as accurately as the engine's chunked GEMM. The bias is one
// more "tap" that reads 1.
//
// With the thread pool up, a large enough batch runs in the pool's shared
// memory instead: the module (emitted for that memory) travels with the
// programs (threads/program.ts), each of which takes a contiguous range of
// samples; backward programs sum into float64 accumulators of their own,
// added in program order afterwards.

/** The geometry a direct kernel is emitted for (padding already in hp, wp). */
export interface DirectGeometry {
  c: number;
  o: number;
  kh: number;
  kw: number;
  /** The padded plane. */
  hp: number;
  wp: number;
  outH: number;
  outW: number;
}

/**
 * Register blocking, measured on LeNet's conv1 (CPU time, 1 thread): the
 * forward keeps 2 channels × 4 taps of weights in registers (0.23 ms of
 * kernel; weights loaded from memory at every tap cost 0.55 ms), the
 * backward 2 channels × 4 taps of accumulators (0.21 ms; 2 × 6 spills
 * registers and took 0.41 ms).
 */
const FWD_CHANNELS = 2;
const FWD_TAPS = 4;
const BWD_CHANNELS = 2;
const BWD_TAPS = 4;

/**
 * Most taps (C·kh·kw) the direct path takes. Measured against the engine
 * (batch 64, 1 thread): it wins at 25 taps (LeNet conv1), 27 (3×3 over RGB,
 * even forward), 50 and 75 (5×5 over 2–3 channels); at 144–150 taps the
 * engine's backward is faster (and its forward is on par, or faster).
 */
export const DIRECT_MAX_TAPS = 75;

/** acc ← acc + a·b, fused where relaxed SIMD is available; leaves nothing on the stack. */
function madd(c: Code, fma: boolean, acc: number, a: () => void, b: () => void): void {
  if (fma) {
    a();
    b();
    c.localGet(acc).simd(V128.f32x4RelaxedMadd).localSet(acc);
  } else {
    c.localGet(acc);
    a();
    b();
    c.simd(V128.f32x4Mul).simd(V128.f32x4Add).localSet(acc);
  }
}

/** A v128 constant whose first `skip` lanes are 0 and the rest all ones. */
function tailMask(c: Code, skip: number): Code {
  c.simd(V128.const);
  for (let lane = 0; lane < 4; lane++) for (let b = 0; b < 4; b++) c.op(lane < skip ? 0 : 0xff);
  return c;
}

interface Block {
  /** First output column. */
  at: number;
  /** Lanes an earlier block already computed (the overlapping tail). */
  masked: number;
}

/**
 * The 4-column blocks of one output row; when the width is not a multiple
 * of 4, the last block ends at the row's end and overlaps the one before,
 * so no read or write leaves the row.
 */
function columnBlocks(outW: number): Block[] {
  const out: Block[] = [];
  let at = 0;
  for (; at + 4 <= outW; at += 4) out.push({ at, masked: 0 });
  if (at < outW) out.push({ at: outW - 4, masked: at - (outW - 4) });
  return out;
}

interface BlockRun {
  blk: Block;
  count: number;
}

/** Consecutive unmasked blocks as one run (a loop), the masked tail as another. */
function blockRuns(blocks: Block[]): BlockRun[] {
  const runs: BlockRun[] = [];
  for (const blk of blocks) {
    const last = runs[runs.length - 1];
    if (last && !blk.masked && !last.blk.masked) last.count++;
    else runs.push({ blk, count: 1 });
  }
  return runs;
}

/**
 * Emits a run of column blocks over the row pointers `ptrs` (byte
 * addresses, at column `pos.at` on entry): moves them to the run's first
 * block, then the body once per block, stepping them a block each time.
 */
function advance(
  c: Code,
  run: BlockRun,
  pos: { at: number },
  body: () => void,
  ptrs: number[],
  counter: number,
): void {
  const move = (cols: number) => {
    if (cols !== 0) for (const p of ptrs) c.inc(p, cols * 4);
  };
  move(run.blk.at - pos.at);
  const step = 4;
  if (run.count === 1) {
    body();
  } else {
    c.for(
      counter,
      () => c.i32Const(0),
      () => c.i32Const(run.count),
      1,
      () => {
        body();
        move(step);
      },
    );
    move(-step);
  }
  pos.at = run.blk.at + (run.count - 1) * step;
}

const up4 = (v: number) => Math.ceil(v / 4) * 4;

/**
 * Floats between padded planes in wasm memory: the plane, rounded up so
 * that planes do not start a multiple of 4 KiB apart, where the loads of
 * different channels' taps (and the stores of y) would contend for the
 * same L1 sets and trip 4K-aliasing stalls (a 32×32 plane ran 30% slower).
 */
function planeFloats(g: DirectGeometry): number {
  let p = up4(g.hp * g.wp);
  while (p % 1024 < 128 || p % 1024 > 896) p += 64;
  return p;
}

/** The byte offset of tap t (channel-major, then kernel row, then column) in a padded sample. */
function tapOffset(g: DirectGeometry, t: number): number {
  const k = g.kh * g.kw;
  const ci = Math.floor(t / k);
  const j = t % k;
  return (ci * planeFloats(g) + Math.floor(j / g.kw) * g.wp + (j % g.kw)) * 4;
}

/**
 * Emits `body` once per block of `per` output channels: a loop over the
 * full blocks, then the remainder block; `first` pushes the block's first
 * channel (i32), `ob` is its channel count.
 */
function channelBlocks(
  c: Code,
  o: number,
  per: number,
  counter: number,
  body: (first: () => void, ob: number) => void,
): void {
  const full = Math.floor(o / per);
  if (full > 0) {
    c.for(
      counter,
      () => c.i32Const(0),
      () => c.i32Const(full * per),
      per,
      () => body(() => c.localGet(counter), per),
    );
  }
  if (o % per) body(() => c.i32Const(full * per), o % per);
}

/** Sets local `into` = base + first()·scale (bytes). */
function offsetBy(c: Code, into: number, base: () => void, first: () => void, scale: number): void {
  base();
  first();
  c.i32Const(scale).op(I32.mul).op(I32.add).localSet(into);
}

/**
 * forward(x, w, b, y, n): x [n, C, hp, wp] padded samples, w [O, T] and
 * b [O] as splatted v128s, y [n, O, outH, outW]; all byte addresses.
 * Per sample and block of channels, the taps go in blocks whose weights
 * sit in registers: the first block starts from the bias, the others add
 * to what the previous ones stored in y (an L1-sized plane per channel).
 *
 * backward(x, dy, acc, n): acc [O, T + 1] float64 × 4 lanes (the last tap
 * is the bias) += the products of the n samples.
 */
function directModule(g: DirectGeometry, fma: boolean, shared: boolean): Uint8Array {
  const { c: ch, o, kh, kw, wp, outH, outW } = g;
  const taps = ch * kh * kw;
  const plane = outH * outW * 4;
  const sampleX = ch * planeFloats(g) * 4;
  const sampleY = o * plane;
  const blocks = blockRuns(columnBlocks(outW));
  /** row = base + ni·sample + oy·rowBytes */
  const rowAt = (
    c: Code,
    into: number,
    base: number,
    ni: number,
    sample: number,
    oy: number,
    rowBytes: number,
  ) => {
    c.localGet(base).localGet(ni).i32Const(sample).op(I32.mul).op(I32.add);
    c.localGet(oy).i32Const(rowBytes).op(I32.mul).op(I32.add).localSet(into);
  };
  const m = new ModuleBuilder();
  m.func("forward", ["i32", "i32", "i32", "i32", "i32"], [], (c) => {
    const [X, W, B, Y, N] = [0, 1, 2, 3, 4];
    const [ni, oc, oy, col, wAt, bAt, yAt, xrow, yrow] = Array.from({ length: 9 }, () =>
      c.local("i32"),
    );
    const xv = c.local("v128");
    const acc = Array.from({ length: FWD_CHANNELS }, () => c.local("v128"));
    const wreg = Array.from({ length: FWD_CHANNELS * FWD_TAPS }, () => c.local("v128"));
    c.for(
      ni,
      () => c.i32Const(0),
      () => c.localGet(N),
      1,
      () => {
        channelBlocks(c, o, FWD_CHANNELS, oc, (first, ob) => {
          offsetBy(c, wAt, () => c.localGet(W), first, taps * 16);
          offsetBy(c, bAt, () => c.localGet(B), first, 16);
          offsetBy(c, yAt, () => c.localGet(Y), first, plane);
          for (let t0 = 0; t0 < taps; t0 += FWD_TAPS) {
            const tb = Math.min(FWD_TAPS, taps - t0);
            for (let b = 0; b < ob; b++) {
              for (let t = 0; t < tb; t++) {
                c.localGet(wAt)
                  .simdMem(V128.load, (b * taps + t0 + t) * 16, 2)
                  .localSet(wreg[b * FWD_TAPS + t]!);
              }
            }
            c.for(
              oy,
              () => c.i32Const(0),
              () => c.i32Const(outH),
              1,
              () => {
                rowAt(c, xrow, X, ni, sampleX, oy, wp * 4);
                rowAt(c, yrow, yAt, ni, sampleY, oy, outW * 4);
                const pos = { at: 0 };
                for (const run of blocks) {
                  const body = () => {
                    for (let b = 0; b < ob; b++) {
                      if (t0 === 0) c.localGet(bAt).simdMem(V128.load, b * 16, 2);
                      else c.localGet(yrow).simdMem(V128.load, b * plane, 2);
                      c.localSet(acc[b]!);
                    }
                    for (let t = t0; t < t0 + tb; t++) {
                      c.localGet(xrow).simdMem(V128.load, tapOffset(g, t), 2).localSet(xv);
                      for (let b = 0; b < ob; b++) {
                        madd(
                          c,
                          fma,
                          acc[b]!,
                          () => c.localGet(xv),
                          () => c.localGet(wreg[b * FWD_TAPS + t - t0]!),
                        );
                      }
                    }
                    for (let b = 0; b < ob; b++) {
                      c.localGet(yrow).localGet(acc[b]!);
                      // The tail's first lanes overlap the previous block: they keep what it wrote.
                      if (run.blk.masked) {
                        c.localGet(yrow).simdMem(V128.load, b * plane, 2);
                        tailMask(c, run.blk.masked);
                        c.simd(V128.v128Bitselect);
                      }
                      c.simdMem(V128.store, b * plane, 2);
                    }
                  };
                  advance(c, run, pos, body, [xrow, yrow], col);
                }
              },
            );
          }
        });
      },
    );
  });
  m.func("backward", ["i32", "i32", "i32", "i32"], [], (c) => {
    const [X, DY, ACC, N] = [0, 1, 2, 3];
    const [ni, oc, oy, col, dyAt, accAt, xrow, dyrow] = Array.from({ length: 8 }, () =>
      c.local("i32"),
    );
    const xv = c.local("v128");
    const dyv = Array.from({ length: BWD_CHANNELS }, () => c.local("v128"));
    const acc = Array.from({ length: BWD_CHANNELS * BWD_TAPS }, () => c.local("v128"));
    // Tap `taps` is the bias (reads 1).
    const all = taps + 1;
    c.for(
      ni,
      () => c.i32Const(0),
      () => c.localGet(N),
      1,
      () => {
        channelBlocks(c, o, BWD_CHANNELS, oc, (first, ob) => {
          offsetBy(c, dyAt, () => c.localGet(DY), first, plane);
          offsetBy(c, accAt, () => c.localGet(ACC), first, all * 32);
          for (let t0 = 0; t0 < all; t0 += BWD_TAPS) {
            const tb = Math.min(BWD_TAPS, all - t0);
            for (let a = 0; a < ob * BWD_TAPS; a++) c.f32x4Zero().localSet(acc[a]!);
            c.for(
              oy,
              () => c.i32Const(0),
              () => c.i32Const(outH),
              1,
              () => {
                rowAt(c, xrow, X, ni, sampleX, oy, wp * 4);
                rowAt(c, dyrow, dyAt, ni, sampleY, oy, outW * 4);
                const pos = { at: 0 };
                for (const run of blocks) {
                  const masked = run.blk.masked;
                  const body = () => {
                    for (let b = 0; b < ob; b++) {
                      c.localGet(dyrow).simdMem(V128.load, b * plane, 2);
                      // Lanes an earlier vector already counted add 0.
                      if (masked) tailMask(c, masked).simd(V128.v128And);
                      c.localSet(dyv[b]!);
                    }
                    for (let t = t0; t < t0 + tb; t++) {
                      if (t === taps) {
                        for (let b = 0; b < ob; b++) {
                          const a = acc[b * BWD_TAPS + (t - t0)]!;
                          c.localGet(a).localGet(dyv[b]!).simd(V128.f32x4Add).localSet(a);
                        }
                        continue;
                      }
                      c.localGet(xrow).simdMem(V128.load, tapOffset(g, t), 2);
                      // Masked x too: 0·NaN would be NaN.
                      if (masked) tailMask(c, masked).simd(V128.v128And);
                      c.localSet(xv);
                      for (let b = 0; b < ob; b++) {
                        madd(
                          c,
                          fma,
                          acc[b * BWD_TAPS + (t - t0)]!,
                          () => c.localGet(xv),
                          () => c.localGet(dyv[b]!),
                        );
                      }
                    }
                  };
                  advance(c, run, pos, body, [xrow, dyrow], col);
                }
              },
            );
            // The sample's partial sums into float64: lanes 0–1, then 2–3.
            for (let b = 0; b < ob; b++) {
              for (let t = t0; t < t0 + tb; t++) {
                const a = acc[b * BWD_TAPS + (t - t0)]!;
                for (const high of [false, true]) {
                  const at = (b * all + t) * 32 + (high ? 16 : 0);
                  c.localGet(accAt);
                  c.localGet(accAt).simdMem(V128.load, at, 3);
                  c.localGet(a);
                  if (high) {
                    c.localGet(a).simd(V128.i8x16Shuffle);
                    for (let i = 8; i < 24; i++) c.op(i);
                  }
                  c.simd(V128.f64x2PromoteLowF32x4).simd(V128.f64x2Add).simdMem(V128.store, at, 3);
                }
              }
            }
          }
        });
      },
    );
  });
  return m.bytes(memoryLimits(shared));
}

interface DirectExports {
  forward(x: number, w: number, b: number, y: number, n: number): void;
  backward(x: number, dy: number, acc: number, n: number): void;
}

const geometryKey = (g: DirectGeometry) =>
  `${g.c},${g.o},${g.kh},${g.kw},${g.hp},${g.wp},${g.outH},${g.outW}`;

let scratch: Scratch | null | undefined;
const modules = new Map<string, DirectExports>();

function kernelsFor(g: DirectGeometry): { k: DirectExports; mem: Scratch } | null {
  if (scratch === undefined) scratch = wasmFeatures().simd ? new Scratch(false, 16) : null;
  if (!scratch) return null;
  const fma = wasmFeatures().relaxedSimd;
  const key = geometryKey(g);
  let k = modules.get(key);
  if (!k) {
    const mod = new WebAssembly.Module(directModule(g, fma, false) as BufferSource);
    k = new WebAssembly.Instance(mod, { env: { memory: scratch.memory } })
      .exports as unknown as DirectExports;
    // Geometries of one model are few; a long-running process with many keeps the last ones.
    if (modules.size >= 64) modules.clear();
    modules.set(key, k);
  }
  return { k, mem: scratch };
}

/**
 * Below this many multiply-adds a batch stays on the calling thread:
 * handing out programs costs some µs (LeNet's conv1 at batch 64 is 5.5M).
 */
const THREAD_MIN_MACS = 1 << 19;

let threadsOn = true;

/** Calls the thread pool has served (tests check that the path is taken). */
export const directThreadedCalls = { forward: 0, backward: 0 };

/**
 * Whether large batches run on the thread pool (when it is up); on by
 * default, off for tests and A/B timing. Returns the previous setting.
 */
export function setDirectThreads(on: boolean): boolean {
  const was = threadsOn;
  threadsOn = on;
  return was;
}

/** The pool's memory, kernels and threads, and this geometry's module emitted for that memory. */
interface Threaded {
  mem: Scratch;
  kernels: ProgramKernels;
  module: ShippedModule;
  /** Programs (contiguous sample ranges): two per thread, so a thread that starts late takes fewer. */
  jobs: number;
}

const shippedModules = new Map<string, ShippedModule>();

function threadedFor(g: DirectGeometry, n: number): Threaded | null {
  const gemm = threadsOn && n > 1 ? threadedGemm() : null;
  if (!gemm) return null;
  const threads = pool.threadsOver(gemm.scratch.memory);
  if (threads < 2 || n * g.o * g.outH * g.outW * g.c * g.kh * g.kw < THREAD_MIN_MACS) return null;
  const key = geometryKey(g);
  let module = shippedModules.get(key);
  if (!module) {
    module = new ShippedModule(directModule(g, wasmFeatures().relaxedSimd, true));
    if (shippedModules.size >= 64) shippedModules.clear();
    shippedModules.set(key, module);
  }
  const kernels = {
    gemm: gemm.kernels,
    runs: gemm.runs,
    blocking: gemm.blocking,
    memory: gemm.scratch.memory,
  };
  return { mem: gemm.scratch, kernels, module, jobs: Math.min(n, 2 * threads) };
}

/** Bytes a threaded call needs past its data: the module's bytes and one program per job. */
const PROGRAM_BYTES = 64;
const shippedBytes = (t: Threaded) => up4(t.module.bytes.length) + t.jobs * PROGRAM_BYTES;

/**
 * Runs export `name` of t's module on the pool, one program per range of
 * the n samples; args(j, n0, s) gives job j's arguments for samples
 * [n0, n0 + s). The module's bytes go at byte `end` (memory reserved).
 */
function runOnThreads(
  t: Threaded,
  end: number,
  n: number,
  name: string,
  args: (j: number, n0: number, s: number) => number[],
): void {
  const { bytes } = t.module;
  new Uint8Array(t.mem.memory.buffer, end, bytes.length).set(bytes);
  const words = new Int32Array(t.mem.memory.buffer);
  const ats: number[] = [];
  for (let j = 0, at = end + up4(bytes.length); j < t.jobs; j++, at += PROGRAM_BYTES) {
    const n0 = Math.floor((j * n) / t.jobs);
    const s = Math.floor(((j + 1) * n) / t.jobs) - n0;
    words.set(new ProgramWriter().call(t.module, end, name, args(j, n0, s)).finish(), at / 4);
    ats.push(at);
  }
  // The programs use no GEMM scratch.
  pool.runPrograms(t.kernels, ats, { bytes: 0, aPanel: 0, bPanel: 0 });
  directThreadedCalls[name === "forward" ? "forward" : "backward"]++;
}

/** Past this many floats in wasm memory the engine (which chunks samples) is kinder to memory. */
const MAX_FLOATS = 1 << 26;

/** Whether the direct kernels apply to a geometry (stride 1, dilation 1 assumed). */
export function directApplies(g: DirectGeometry): boolean {
  return g.c * g.kh * g.kw <= DIRECT_MAX_TAPS && g.outW >= 4 && g.outH >= 1 && g.o >= 1;
}

/** Padding as [top, bottom, left, right]. */
export type Padding4 = readonly [number, number, number, number];

/** Writes n samples of x [n, C, H, W] zero-padded into mem from float `at`, planeFloats apart. */
function padInto(
  mem: Float32Array,
  at: number,
  x: Float32Array,
  n: number,
  g: DirectGeometry,
  pad: Padding4,
): void {
  const { hp, wp } = g;
  const h = hp - pad[0] - pad[1];
  const w = wp - pad[2] - pad[3];
  const stride = planeFloats(g);
  const planes = n * g.c;
  if (hp === h && wp === w && stride === h * w) {
    mem.set(x.subarray(0, planes * stride), at);
    return;
  }
  // Padding, and the gaps between planes (read by no tap, but kept finite).
  mem.fill(0, at, at + planes * stride);
  for (let p = 0; p < planes; p++) {
    const dst = at + p * stride + pad[0] * wp + pad[2];
    const src = p * h * w;
    if (wp === w) mem.set(x.subarray(src, src + h * w), dst);
    else
      for (let r = 0; r < h; r++) mem.set(x.subarray(src + r * w, src + r * w + w), dst + r * wp);
  }
}

/**
 * y [N, O, outH, outW] = conv2d(x [N, C, H, W], w [O, C, kh, kw]) + b
 * with stride 1 and zero padding `pad`, on the direct kernels; null where
 * they do not apply (no SIMD, too many taps, outputs narrower than 4).
 *
 * @example
 * const y = directConv2d(x, w, b, 64, g, [0, 0, 0, 0]); // LeNet conv1: g = {c: 1, o: 6, kh: 5, kw: 5, hp: 28, wp: 28, outH: 24, outW: 24}
 */
export function directConv2d(
  x: Float32Array,
  w: Float32Array,
  b: Float32Array | null,
  n: number,
  g: DirectGeometry,
  pad: Padding4,
): Float32Array | null {
  if (!directApplies(g)) return null;
  const taps = g.c * g.kh * g.kw;
  const xs = n * g.c * planeFloats(g);
  const ws = g.o * taps * 4;
  const bs = g.o * 4;
  const ys = n * g.o * g.outH * g.outW;
  if (xs + ws + bs + ys > MAX_FLOATS) return null;
  const t = threadedFor(g, n);
  const r = t ? null : kernelsFor(g);
  const scratchOf = t?.mem ?? r?.mem;
  if (!scratchOf) return null;
  const end = (xs + ws + bs + ys) * 4;
  scratchOf.reserve(end + (t ? shippedBytes(t) : 0));
  const mem = scratchOf.floats;
  padInto(mem, 0, x, n, g, pad);
  for (let i = 0; i < g.o * taps; i++) mem.fill(w[i]!, xs + 4 * i, xs + 4 * i + 4);
  for (let i = 0; i < g.o; i++) mem.fill(b ? b[i]! : 0, xs + ws + 4 * i, xs + ws + 4 * i + 4);
  const yAt = xs + ws + bs;
  const sampleX = g.c * planeFloats(g) * 4;
  const sampleY = g.o * g.outH * g.outW * 4;
  if (t) {
    runOnThreads(t, end, n, "forward", (_, n0, s) => [
      n0 * sampleX,
      xs * 4,
      (xs + ws) * 4,
      yAt * 4 + n0 * sampleY,
      s,
    ]);
  } else r!.k.forward(0, xs * 4, (xs + ws) * 4, yAt * 4, n);
  return copyOf(mem.subarray(yAt, yAt + ys));
}

/**
 * The weight and bias gradients of directConv2d from dy [N, O, outH, outW]:
 * gw [O, C, kh, kw] and gb [O], summed in float64; null where the direct
 * kernels do not apply.
 *
 * @example
 * const r = directConv2dBackward(dy, x, 64, g, [0, 0, 0, 0]); // r.gw, r.gb
 */
export function directConv2dBackward(
  dy: Float32Array,
  x: Float32Array,
  n: number,
  g: DirectGeometry,
  pad: Padding4,
): { gw: Float64Array; gb: Float64Array } | null {
  if (!directApplies(g)) return null;
  const taps = g.c * g.kh * g.kw;
  const all = taps + 1;
  const xs = n * g.c * planeFloats(g);
  const ys = up4(n * g.o * g.outH * g.outW);
  // Two floats per double, 4 lanes per (channel, tap).
  const accFloats = g.o * all * 8;
  const t = threadedFor(g, n);
  // One accumulator per program, added in program order below.
  const jobs = t ? t.jobs : 1;
  if (xs + ys + jobs * accFloats > MAX_FLOATS) return null;
  const r = t ? null : kernelsFor(g);
  const scratchOf = t?.mem ?? r?.mem;
  if (!scratchOf) return null;
  const end = (xs + ys + jobs * accFloats) * 4;
  scratchOf.reserve(end + (t ? shippedBytes(t) : 0));
  const mem = scratchOf.floats;
  padInto(mem, 0, x, n, g, pad);
  mem.set(dy.subarray(0, n * g.o * g.outH * g.outW), xs);
  const accAt = xs + ys;
  mem.fill(0, accAt, accAt + jobs * accFloats);
  const sampleX = g.c * planeFloats(g) * 4;
  const sampleY = g.o * g.outH * g.outW * 4;
  if (t) {
    runOnThreads(t, end, n, "backward", (j, n0, s) => [
      n0 * sampleX,
      xs * 4 + n0 * sampleY,
      (accAt + j * accFloats) * 4,
      s,
    ]);
  } else r!.k.backward(0, xs * 4, accAt * 4, n);
  const acc = new Float64Array(mem.buffer, accAt * 4, jobs * g.o * all * 4);
  for (let j = 1; j < jobs; j++) {
    for (let i = 0, from = j * g.o * all * 4; i < g.o * all * 4; i++) acc[i]! += acc[from + i]!;
  }
  const gw = new Float64Array(g.o * taps);
  const gb = new Float64Array(g.o);
  for (let oc = 0; oc < g.o; oc++) {
    for (let t = 0; t < all; t++) {
      const a = (oc * all + t) * 4;
      const s = acc[a]! + acc[a + 1]! + acc[a + 2]! + acc[a + 3]!;
      if (t === taps) gb[oc] = s;
      else gw[oc * taps + t] = s;
    }
  }
  return { gw, gb };
}
