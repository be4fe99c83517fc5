import {
  type Blocking,
  type GemmJob,
  type GemmScratch,
  JOB_FIELDS,
  runGemm,
} from "../wasm/blocked.js";
import type { GemmExports } from "../wasm/gemm_module.js";
import type { RunsExports } from "../wasm/runs.js";

// A program is a short list of kernel calls that one thread runs in order
// over wasm memory: a convolution's chunk of samples is "lay out its
// columns, multiply, move the product to the output", and a thread pool
// that can only hand out single GEMMs would leave the data movement on the
// calling thread. Programs are int32 words written into the (shared) wasm
// memory itself, so a worker needs nothing but their byte address; the
// kernels they call are the ones every thread already has, or modules
// emitted after the workers started (per-geometry kernels such as
// wasm/direct_conv.ts): their bytes travel in the program's memory too, and
// each thread compiles them on first use (a worker cannot be sent a module
// while it polls for jobs, and browsers have no synchronous message pull).

/** Op codes; each is followed by its operands. */
const OP = {
  end: 0,
  /** the 12 JOB_FIELDS of a GemmJob */
  gemm: 1,
  /** table, count, src, srcStride, dst, dstStride, samples (see runs.ts) */
  copyRuns: 2,
  addRuns: 3,
  /** byte address, float count, value (float32 bits) */
  fill: 4,
  /** module id, bytes address, byte count, export index, argument count, then the i32 arguments */
  call: 5,
} as const;

/** The kernels a thread runs programs with, over `memory`. */
export interface ProgramKernels {
  gemm: GemmExports;
  runs: RunsExports;
  blocking: Blocking;
  memory: WebAssembly.Memory;
}

const bits = new Int32Array(1);
const bitsAsFloat = new Float32Array(bits.buffer);

/**
 * A module emitted after the workers started, which programs call by id;
 * its bytes must sit in the memory at the address the call names.
 */
export class ShippedModule {
  private static next = 1;
  readonly id = ShippedModule.next++;
  /** The export names, in the order call() indexes them. */
  readonly names: string[];

  constructor(readonly bytes: Uint8Array) {
    this.names = WebAssembly.Module.exports(new WebAssembly.Module(bytes as BufferSource)).map(
      (e) => e.name,
    );
  }
}

/** This thread's instances of shipped modules, by memory and id. */
const shipped = new WeakMap<WebAssembly.Memory, Map<number, Array<(...args: number[]) => void>>>();

function shippedExports(
  memory: WebAssembly.Memory,
  id: number,
  at: number,
  length: number,
): Array<(...args: number[]) => void> {
  let byId = shipped.get(memory);
  if (!byId) shipped.set(memory, (byId = new Map()));
  let fns = byId.get(id);
  if (!fns) {
    // slice(): a copy out of the shared buffer (compiling takes unshared bytes only).
    const mod = new WebAssembly.Module(new Uint8Array(memory.buffer, at, length).slice());
    const ex = new WebAssembly.Instance(mod, { env: { memory } }).exports;
    fns = WebAssembly.Module.exports(mod).map((e) => ex[e.name] as (...args: number[]) => void);
    // The caller keeps few modules (and new ids when it drops them): so does this thread.
    if (byId.size >= 64) byId.clear();
    byId.set(id, fns);
  }
  return fns;
}

/** Builds one program's words. */
export class ProgramWriter {
  private readonly words: number[] = [];

  gemm(j: GemmJob): this {
    this.words.push(OP.gemm);
    for (const f of JOB_FIELDS) this.words.push(j[f] ?? 0);
    return this;
  }

  copyRuns(
    table: number,
    count: number,
    src: number,
    srcStride: number,
    dst: number,
    dstStride: number,
    samples: number,
  ): this {
    this.words.push(OP.copyRuns, table, count, src, srcStride, dst, dstStride, samples);
    return this;
  }

  addRuns(
    table: number,
    count: number,
    src: number,
    srcStride: number,
    dst: number,
    dstStride: number,
    samples: number,
  ): this {
    this.words.push(OP.addRuns, table, count, src, srcStride, dst, dstStride, samples);
    return this;
  }

  fill(at: number, floats: number, value: number): this {
    bitsAsFloat[0] = value;
    this.words.push(OP.fill, at, floats, bits[0]!);
    return this;
  }

  /** Calls export `name` of `m`, whose bytes sit at byte `at`, with i32 arguments. */
  call(m: ShippedModule, at: number, name: string, args: number[]): this {
    const fn = m.names.indexOf(name);
    if (fn < 0) throw new Error(`ProgramWriter.call: the module exports no ${name}`);
    this.words.push(OP.call, m.id, at, m.bytes.length, fn, args.length, ...args);
    return this;
  }

  /** The finished program (with its end mark). */
  finish(): Int32Array {
    this.words.push(OP.end);
    return new Int32Array(this.words);
  }
}

/** Runs the program at byte `at` with this thread's GEMM scratch. */
export function runProgram(k: ProgramKernels, at: number, scratch: GemmScratch): void {
  // Views are made per program: the memory may have grown since the last one.
  const words = new Int32Array(k.memory.buffer);
  const job = {} as GemmJob;
  for (let p = at >> 2; ; ) {
    const op = words[p++];
    switch (op) {
      case OP.end:
        return;
      case OP.gemm:
        for (const f of JOB_FIELDS) job[f] = words[p++]!;
        runGemm(k.gemm, k.blocking, job, scratch);
        break;
      case OP.copyRuns:
      case OP.addRuns: {
        const run = op === OP.copyRuns ? k.runs.copyRuns : k.runs.addRuns;
        run(
          words[p]!,
          words[p + 1]!,
          words[p + 2]!,
          words[p + 3]!,
          words[p + 4]!,
          words[p + 5]!,
          words[p + 6]!,
        );
        p += 7;
        break;
      }
      case OP.fill: {
        bits[0] = words[p + 2]!;
        const from = words[p]! >> 2;
        new Float32Array(k.memory.buffer).fill(bitsAsFloat[0]!, from, from + words[p + 1]!);
        p += 3;
        break;
      }
      case OP.call: {
        const fn = shippedExports(k.memory, words[p]!, words[p + 1]!, words[p + 2]!)[
          words[p + 3]!
        ]!;
        const argc = words[p + 4]!;
        fn(...words.subarray(p + 5, p + 5 + argc));
        p += 5 + argc;
        break;
      }
      default:
        throw new Error(`runProgram: unknown op ${op} at word ${p - 1}`);
    }
  }
}
