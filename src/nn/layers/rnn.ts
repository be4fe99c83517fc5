// Recurrent layers: RNN, LSTM, GRU and their single-step cells
// (torch.nn.modules.rnn), with PyTorch's parameter names, gate order and
// returns.
//
// Each layer and direction runs one loop over time. The input projection
// x·W_ihᵀ + b_ih is one matmul over the whole sequence before the loop;
// only h·W_hhᵀ + b_hh runs per step. Packed input (variable lengths) is
// handled by updating only the first batchSizes[t] rows of the state at
// step t: the others keep their last state (forward) or have not started
// yet (reverse). Gradients come from the ops used, so none is written here.
//
// That loop is the reference. Padded LSTM and GRU layers (no projSize) take
// the fused path of functional/rnn_fused.ts where the device has fused cell
// kernels: one autograd node per layer and direction, not a dozen per step.
import type { DType } from "../../dtype.js";
import { ArgumentError, fmtShape, ShapeError } from "../../errors.js";
import { Tensor } from "../../tensor/tensor.js";
import * as F from "../functional/index.js";
import { fusedGruLayer, fusedLstmLayer } from "../functional/rnn_fused.js";
import * as init from "../init.js";
import { Module, pyBool, pyFloat } from "../module.js";
import { Parameter } from "../parameter.js";
import { PackedSequence } from "../utils/rnn.js";

type Mode = "RNN_TANH" | "RNN_RELU" | "LSTM" | "GRU";

/** Gates per mode: the rows of weight_ih are [gate 0; gate 1; …], each hiddenSize tall. */
const GATES: Record<Mode, number> = { RNN_TANH: 1, RNN_RELU: 1, LSTM: 4, GRU: 3 };

export interface RNNOptions {
  /** Stacked layers, each feeding the next (1). */
  numLayers?: number;
  /** RNN only: "tanh" (default) or "relu". */
  nonlinearity?: "tanh" | "relu";
  /** Learn b_ih and b_hh (true). */
  bias?: boolean;
  /** Input and output are (N, L, H) instead of (L, N, H); hidden states are not affected (false). */
  batchFirst?: boolean;
  /** Dropout on each layer's output except the last, while training (0). */
  dropout?: number;
  /** Run a second pass from the end and concatenate both (false). */
  bidirectional?: boolean;
  /** LSTM only: project h to this size with weight_hr (0 = off). */
  projSize?: number;
  dtype?: DType;
  device?: string;
}

// ---- the step functions, shared by the layers and the cells -----------------

/** One step given the two projections gi = x·W_ihᵀ + b_ih and gh = h·W_hhᵀ + b_hh. */
function rnnStep(mode: "RNN_TANH" | "RNN_RELU", gi: Tensor, gh: Tensor): Tensor {
  const pre = gi.add(gh);
  return mode === "RNN_TANH" ? pre.tanh() : pre.relu();
}

/** LSTM gates in PyTorch's order i, f, g, o: c' = f·c + i·g, h' = o·tanh(c'). */
function lstmStep(gi: Tensor, gh: Tensor, c: Tensor): [Tensor, Tensor] {
  const [i, f, g, o] = gi.add(gh).chunk(4, -1) as [Tensor, Tensor, Tensor, Tensor];
  const c1 = f.sigmoid().mul(c).add(i.sigmoid().mul(g.tanh()));
  return [o.sigmoid().mul(c1.tanh()), c1];
}

/** GRU gates in PyTorch's order r, z, n: n = tanh(x_n + r·(h_n)), h' = (1 - z)·n + z·h. */
function gruStep(gi: Tensor, gh: Tensor, h: Tensor): Tensor {
  const [ir, iz, inn] = gi.chunk(3, -1) as [Tensor, Tensor, Tensor];
  const [hr, hz, hn] = gh.chunk(3, -1) as [Tensor, Tensor, Tensor];
  const r = ir.add(hr).sigmoid();
  const z = iz.add(hz).sigmoid();
  const n = inn.add(r.mul(hn)).tanh();
  // (1 - z)·n + z·h, written as n + z·(h - n)
  return n.add(z.mul(h.sub(n)));
}

function linear(x: Tensor, w: Tensor, b: Tensor | null): Tensor {
  const y = x.matmul(w.t());
  return b ? y.add(b) : y;
}

// ---- the multi-layer modules --------------------------------------------------

/** The state a layer carries: h, plus c for an LSTM. */
interface State {
  h: Tensor;
  c: Tensor | null;
}

/**
 * The shared machinery of RNN, LSTM and GRU (torch.nn.RNNBase): the
 * parameters weight_ih_l{k}[_reverse], weight_hh_l{k}, bias_ih_l{k},
 * bias_hh_l{k} (and weight_hr_l{k} with projSize), in PyTorch's order,
 * all drawn from U(-1/√hiddenSize, 1/√hiddenSize).
 */
export abstract class RNNBase extends Module {
  readonly numLayers: number;
  readonly bias: boolean;
  readonly batchFirst: boolean;
  readonly dropout: number;
  readonly bidirectional: boolean;
  readonly projSize: number;

  constructor(
    readonly mode: Mode,
    readonly inputSize: number,
    readonly hiddenSize: number,
    opts: RNNOptions = {},
  ) {
    super();
    const op = this.getName();
    this.numLayers = opts.numLayers ?? 1;
    this.bias = opts.bias ?? true;
    this.batchFirst = opts.batchFirst ?? false;
    this.dropout = opts.dropout ?? 0;
    this.bidirectional = opts.bidirectional ?? false;
    this.projSize = opts.projSize ?? 0;
    for (const [name, v] of [
      ["inputSize", inputSize],
      ["hiddenSize", hiddenSize],
      ["numLayers", this.numLayers],
    ] as const) {
      if (!Number.isInteger(v) || v <= 0)
        throw new ArgumentError(`${op}: ${name} must be a positive integer, got ${v}`);
    }
    if (!(this.dropout >= 0 && this.dropout <= 1)) {
      throw new ArgumentError(
        `${op}: dropout should be a number in range [0, 1], got ${this.dropout}`,
      );
    }
    const badProj =
      !Number.isInteger(this.projSize) || this.projSize < 0 || this.projSize >= hiddenSize;
    if (this.projSize !== 0 && (badProj || mode !== "LSTM")) {
      throw new ArgumentError(
        `${op}: projSize must be 0 or a positive integer below hiddenSize (${hiddenSize}), and LSTM only; got ${this.projSize}`,
      );
    }
    const dtype = opts.dtype ?? "float32";
    const device = opts.device ?? "cpu";
    const gates = GATES[mode] * hiddenSize;
    const realHidden = this.projSize > 0 ? this.projSize : hiddenSize;
    const dirs = this.bidirectional ? 2 : 1;
    const param = (shape: number[]) => new Parameter(Tensor.zeros(shape, dtype, device));
    for (let layer = 0; layer < this.numLayers; layer++) {
      for (let dir = 0; dir < dirs; dir++) {
        const inSize = layer === 0 ? inputSize : realHidden * dirs;
        const sfx = suffix(layer, dir);
        this.registerParameter(`weight_ih${sfx}`, param([gates, inSize]));
        this.registerParameter(`weight_hh${sfx}`, param([gates, realHidden]));
        if (this.bias) {
          this.registerParameter(`bias_ih${sfx}`, param([gates]));
          this.registerParameter(`bias_hh${sfx}`, param([gates]));
        }
        if (this.projSize > 0)
          this.registerParameter(`weight_hr${sfx}`, param([this.projSize, hiddenSize]));
      }
    }
    this.resetParameters();
  }

  /** Redraws every parameter from U(-1/√hiddenSize, 1/√hiddenSize), as PyTorch. */
  resetParameters(): void {
    const stdv = 1 / Math.sqrt(this.hiddenSize);
    for (const p of this.parameters({ recurse: false })) init.uniform_(p, -stdv, stdv);
  }

  /** The parameters of each layer and direction, in PyTorch's order (all_weights). */
  get allWeights(): Parameter[][] {
    const dirs = this.bidirectional ? 2 : 1;
    const out: Parameter[][] = [];
    for (let layer = 0; layer < this.numLayers; layer++) {
      for (let dir = 0; dir < dirs; dir++) {
        const sfx = suffix(layer, dir);
        out.push(
          ["weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"]
            .map((n) => this.weight(`${n}${sfx}`))
            .filter((p): p is Parameter => p !== null),
        );
      }
    }
    return out;
  }

  private weight(name: string): Parameter | null {
    const p = (this as unknown as Record<string, unknown>)[name];
    return p instanceof Tensor ? (p as Parameter) : null;
  }

  /**
   * Runs every layer over input (L, N, Hin), (N, L, Hin) with batchFirst,
   * (L, Hin) unbatched, or a PackedSequence. h0 (and c0) are
   * (numLayers·dirs, N, H), zeros when absent.
   */
  protected run(
    input: Tensor | PackedSequence,
    h0: Tensor | null,
    c0: Tensor | null,
  ): [Tensor | PackedSequence, Tensor, Tensor | null] {
    const op = this.getName();
    const dirs = this.bidirectional ? 2 : 1;
    const realHidden = this.projSize > 0 ? this.projSize : this.hiddenSize;
    const packed = input instanceof PackedSequence ? input : null;
    let x: Tensor; // (L, N, Hin), or the packed rows (sum, Hin)
    let sizes: number[]; // rows that run at each step
    let batched = true;
    if (packed) {
      x = packed.data;
      sizes = packed.sizes();
      if (x.ndim !== 2)
        throw new ShapeError(
          `${op}: packed data must be 2-d (rows, input_size), got ${fmtShape(x.shape)}`,
        );
    } else {
      x = input as Tensor;
      if (x.ndim !== 2 && x.ndim !== 3) {
        throw new ShapeError(
          `${op}: expected input to be 2-d (unbatched) or 3-d, got ${fmtShape(x.shape)}`,
        );
      }
      batched = x.ndim === 3;
      if (!batched) x = x.unsqueeze(1);
      else if (this.batchFirst) x = x.transpose(0, 1);
      sizes = new Array<number>(x.shape[0]!).fill(x.shape[1]!);
    }
    if (x.shape[x.ndim - 1] !== this.inputSize) {
      throw new ShapeError(
        `${op}: input.size(-1) must be equal to input_size. Expected ${this.inputSize}, got ${x.shape[x.ndim - 1]} (input ${fmtShape(x.shape)})`,
      );
    }
    const N = sizes[0] ?? 0;
    const state = (given: Tensor | null, size: number, name: string): Tensor => {
      const want = [this.numLayers * dirs, N, size];
      if (!given) return Tensor.zeros(want, x.dtype, x.device);
      let s = batched ? given : given.ndim === 2 ? given.unsqueeze(1) : given;
      if (!batched && given.ndim !== 2) {
        throw new ShapeError(
          `${op}: for unbatched 2-d input, ${name} should also be 2-d but got ${given.ndim}-d tensor`,
        );
      }
      if (packed?.sortedIndices) s = s.indexSelect(1, packed.sortedIndices);
      if (s.shape.join() !== want.join()) {
        throw new ShapeError(
          `${op}: expected hidden size ${fmtShape(want)} for ${name}, got ${fmtShape(s.shape)}`,
        );
      }
      return s;
    };
    const hx = state(h0, realHidden, "hx");
    const cx = this.mode === "LSTM" ? state(c0, this.hiddenSize, "cx") : null;

    const hN: Tensor[] = [];
    const cN: Tensor[] = [];
    let layerIn = x;
    for (let layer = 0; layer < this.numLayers; layer++) {
      const outs: Tensor[] = [];
      for (let dir = 0; dir < dirs; dir++) {
        const k = layer * dirs + dir;
        const start: State = { h: hx.select(0, k), c: cx ? cx.select(0, k) : null };
        const [out, last] = this.runDirection(
          layerIn,
          sizes,
          packed !== null,
          start,
          suffix(layer, dir),
          dir === 1,
        );
        outs.push(out);
        hN.push(last.h);
        if (last.c) cN.push(last.c);
      }
      layerIn = dirs === 1 ? outs[0]! : Tensor.cat(outs, -1);
      if (this.dropout > 0 && this.training && layer < this.numLayers - 1) {
        layerIn = F.dropout(layerIn, { p: this.dropout, training: true });
      }
    }
    let h = Tensor.cat(
      hN.map((t) => t.unsqueeze(0)),
      0,
    ); // (layers·dirs, N, H)
    let c = cx
      ? Tensor.cat(
          cN.map((t) => t.unsqueeze(0)),
          0,
        )
      : null;
    if (packed?.unsortedIndices) {
      h = h.indexSelect(1, packed.unsortedIndices);
      if (c) c = c.indexSelect(1, packed.unsortedIndices);
    }
    if (packed)
      return [
        new PackedSequence(
          layerIn,
          packed.batchSizes,
          packed.sortedIndices,
          packed.unsortedIndices,
        ),
        h,
        c,
      ];
    let output = layerIn; // (L, N, dirs·H)
    if (!batched) {
      output = output.squeeze(1);
      h = h.squeeze(1);
      if (c) c = c.squeeze(1);
    } else if (this.batchFirst) {
      output = output.transpose(0, 1);
    }
    return [output, h, c];
  }

  /**
   * One layer, one direction. x is (L, N, Hin) padded or (rows, Hin)
   * packed; returns the outputs in the same layout and the final state.
   */
  private runDirection(
    x: Tensor,
    sizes: number[],
    packed: boolean,
    start: State,
    sfx: string,
    reverse: boolean,
  ): [Tensor, State] {
    const wIh = this.weight(`weight_ih${sfx}`)!;
    const wHh = this.weight(`weight_hh${sfx}`)!;
    const bIh = this.weight(`bias_ih${sfx}`);
    const bHh = this.weight(`bias_hh${sfx}`);
    const wHr = this.weight(`weight_hr${sfx}`);
    if (!packed && !wHr) {
      const fused =
        this.mode === "LSTM"
          ? fusedLstmLayer(x, start.h, start.c!, wIh, wHh, bIh, bHh, reverse)
          : this.mode === "GRU"
            ? fusedGruLayer(x, start.h, wIh, wHh, bIh, bHh, reverse)
            : null;
      if (fused) return [fused.out, { h: fused.h, c: fused.c }];
    }
    const gi = linear(x, wIh, bIh); // (L, N, G·H) or (rows, G·H)
    const T = sizes.length;
    const N = sizes[0] ?? 0;
    const offsets: number[] = []; // where step t starts in the packed rows
    let acc = 0;
    for (const bs of sizes) {
      offsets.push(acc);
      acc += bs;
    }
    let { h, c } = start; // (N, H)
    const outs = new Array<Tensor>(T);
    for (let s = 0; s < T; s++) {
      const t = reverse ? T - 1 - s : s;
      const bs = sizes[t]!;
      const git = packed ? gi.narrow(0, offsets[t]!, bs) : gi.select(0, t); // (bs, G·H)
      // Only the first bs sequences run at this step.
      const hPrev = bs < N ? h.narrow(0, 0, bs) : h;
      const gh = linear(hPrev, wHh, bHh);
      let hNew: Tensor;
      let cNew: Tensor | null = null;
      if (this.mode === "LSTM") {
        const cPrev = bs < N ? c!.narrow(0, 0, bs) : c!;
        [hNew, cNew] = lstmStep(git, gh, cPrev);
        if (wHr) hNew = hNew.matmul(wHr.t());
      } else if (this.mode === "GRU") {
        hNew = gruStep(git, gh, hPrev);
      } else {
        hNew = rnnStep(this.mode, git, gh);
      }
      outs[t] = hNew;
      h = bs < N ? Tensor.cat([hNew, h.narrow(0, bs, N - bs)], 0) : hNew;
      if (cNew) c = bs < N ? Tensor.cat([cNew, c!.narrow(0, bs, N - bs)], 0) : cNew;
    }
    const out = packed
      ? Tensor.cat(outs, 0)
      : Tensor.cat(
          outs.map((o) => o.unsqueeze(0)),
          0,
        );
    return [out, { h, c }];
  }

  override extraRepr(): string {
    let s = `${this.inputSize}, ${this.hiddenSize}`;
    if (this.projSize !== 0) s += `, proj_size=${this.projSize}`;
    if (this.numLayers !== 1) s += `, num_layers=${this.numLayers}`;
    if (this.mode === "RNN_RELU") s += ", nonlinearity='relu'";
    if (!this.bias) s += `, bias=${pyBool(false)}`;
    if (this.batchFirst) s += `, batch_first=${pyBool(true)}`;
    if (this.dropout !== 0) s += `, dropout=${pyFloat(this.dropout)}`;
    if (this.bidirectional) s += `, bidirectional=${pyBool(true)}`;
    return s;
  }
}

function suffix(layer: number, dir: number): string {
  return `_l${layer}${dir === 1 ? "_reverse" : ""}`;
}

/**
 * An Elman RNN: h_t = tanh(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh)
 * (relu with { nonlinearity: "relu" }). Returns [output, hN]: output
 * (L, N, dirs·H) holds the last layer's h_t for every t, hN
 * (numLayers·dirs, N, H) every layer's last h.
 *
 * @example
 * const rnn = new nn.RNN(10, 20, { numLayers: 2 });
 * const [output, hN] = rnn.forward(fl.randn([5, 3, 10])); // [5, 3, 20], [2, 3, 20]
 */
export class RNN extends RNNBase {
  constructor(inputSize: number, hiddenSize: number, opts: RNNOptions = {}) {
    const nl = opts.nonlinearity ?? "tanh";
    if (nl !== "tanh" && nl !== "relu") {
      throw new ArgumentError(`RNN: unknown nonlinearity '${nl}'; select from 'tanh' or 'relu'`);
    }
    super(nl === "tanh" ? "RNN_TANH" : "RNN_RELU", inputSize, hiddenSize, opts);
  }

  override forward(input: Tensor, hx?: Tensor | null): [Tensor, Tensor];
  override forward(input: PackedSequence, hx?: Tensor | null): [PackedSequence, Tensor];
  override forward(
    input: Tensor | PackedSequence,
    hx: Tensor | null = null,
  ): [Tensor | PackedSequence, Tensor] {
    const [out, h] = this.run(input, hx, null);
    return [out, h];
  }
}

/**
 * Long short-term memory. Per step, with gates in PyTorch's order:
 * i, f, g, o = σ, σ, tanh, σ of (x W_ihᵀ + b_ih + h W_hhᵀ + b_hh);
 * c' = f·c + i·g; h' = o·tanh(c'). Returns [output, [hN, cN]].
 *
 * @example
 * const lstm = new nn.LSTM(10, 20, { batchFirst: true });
 * const [out, [h, c]] = lstm.forward(fl.randn([3, 5, 10])); // [3, 5, 20], [1, 3, 20], [1, 3, 20]
 */
export class LSTM extends RNNBase {
  constructor(inputSize: number, hiddenSize: number, opts: RNNOptions = {}) {
    super("LSTM", inputSize, hiddenSize, opts);
  }

  override forward(input: Tensor, hx?: [Tensor, Tensor] | null): [Tensor, [Tensor, Tensor]];
  override forward(
    input: PackedSequence,
    hx?: [Tensor, Tensor] | null,
  ): [PackedSequence, [Tensor, Tensor]];
  override forward(
    input: Tensor | PackedSequence,
    hx: [Tensor, Tensor] | null = null,
  ): [Tensor | PackedSequence, [Tensor, Tensor]] {
    if (hx !== null && (!Array.isArray(hx) || hx.length !== 2)) {
      throw new ArgumentError("LSTM: hx must be a pair [h0, c0] of tensors");
    }
    const [out, h, c] = this.run(input, hx?.[0] ?? null, hx?.[1] ?? null);
    return [out, [h, c!]];
  }
}

/**
 * Gated recurrent unit. Per step, gates r, z, n in PyTorch's order:
 * r = σ(x_r + h_r), z = σ(x_z + h_z), n = tanh(x_n + r·h_n) (each
 * projection with its bias), h' = (1 - z)·n + z·h. Returns [output, hN].
 *
 * @example
 * const gru = new nn.GRU(4, 3, { bidirectional: true });
 * const [out, h] = gru.forward(fl.randn([5, 2, 4])); // [5, 2, 6], [2, 2, 3]
 */
export class GRU extends RNNBase {
  constructor(inputSize: number, hiddenSize: number, opts: RNNOptions = {}) {
    super("GRU", inputSize, hiddenSize, opts);
  }

  override forward(input: Tensor, hx?: Tensor | null): [Tensor, Tensor];
  override forward(input: PackedSequence, hx?: Tensor | null): [PackedSequence, Tensor];
  override forward(
    input: Tensor | PackedSequence,
    hx: Tensor | null = null,
  ): [Tensor | PackedSequence, Tensor] {
    const [out, h] = this.run(input, hx, null);
    return [out, h];
  }
}

// ---- cells ------------------------------------------------------------------------

export interface RNNCellOptions {
  bias?: boolean;
  /** RNNCell only: "tanh" (default) or "relu". */
  nonlinearity?: "tanh" | "relu";
  dtype?: DType;
  device?: string;
}

/** Parameters weight_ih, weight_hh, bias_ih, bias_hh of a cell, U(-1/√H, 1/√H). */
abstract class RNNCellBase extends Module {
  weight_ih: Parameter;
  weight_hh: Parameter;
  bias_ih: Parameter | null;
  bias_hh: Parameter | null;

  constructor(
    readonly inputSize: number,
    readonly hiddenSize: number,
    gates: number,
    opts: RNNCellOptions,
  ) {
    super();
    const dtype = opts.dtype ?? "float32";
    const device = opts.device ?? "cpu";
    const param = (shape: number[]) => new Parameter(Tensor.zeros(shape, dtype, device));
    this.weight_ih = param([gates * hiddenSize, inputSize]);
    this.weight_hh = param([gates * hiddenSize, hiddenSize]);
    const bias = opts.bias ?? true;
    this.bias_ih = bias ? param([gates * hiddenSize]) : null;
    this.bias_hh = bias ? param([gates * hiddenSize]) : null;
    this.resetParameters();
  }

  resetParameters(): void {
    const stdv = 1 / Math.sqrt(this.hiddenSize);
    for (const p of this.parameters()) init.uniform_(p, -stdv, stdv);
  }

  /** input (N, Hin) or (Hin) → [input, batched]; checks the size. */
  protected prepare(input: Tensor): [Tensor, boolean] {
    const op = this.getName();
    if (input.ndim !== 1 && input.ndim !== 2) {
      throw new ShapeError(
        `${op}: Expected input to be 1-d or 2-d but received ${input.ndim}-d tensor ${fmtShape(input.shape)}`,
      );
    }
    if (input.shape[input.ndim - 1] !== this.inputSize) {
      throw new ShapeError(
        `${op}: input has inconsistent input_size: got ${input.shape[input.ndim - 1]} expected ${this.inputSize}`,
      );
    }
    return input.ndim === 1 ? [input.unsqueeze(0), false] : [input, true];
  }

  /** A state (N, H) or (H) to (N, H), zeros when absent. */
  protected stateOf(hx: Tensor | null, x: Tensor, batched: boolean, name: string): Tensor {
    const N = x.shape[0]!;
    if (!hx) return Tensor.zeros([N, this.hiddenSize], x.dtype, x.device);
    const h = batched ? hx : hx.unsqueeze(0);
    if (h.ndim !== 2 || h.shape[0] !== N || h.shape[1] !== this.hiddenSize) {
      throw new ShapeError(
        `${this.getName()}: ${name} must be ${fmtShape([N, this.hiddenSize])}, got ${fmtShape(hx.shape)}`,
      );
    }
    return h;
  }

  protected projections(x: Tensor, h: Tensor): [Tensor, Tensor] {
    return [linear(x, this.weight_ih, this.bias_ih), linear(h, this.weight_hh, this.bias_hh)];
  }

  override extraRepr(): string {
    let s = `${this.inputSize}, ${this.hiddenSize}`;
    if (this.bias_ih === null) s += `, bias=${pyBool(false)}`;
    return s;
  }
}

/**
 * One Elman RNN step: h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh).
 *
 * @example
 * const cell = new nn.RNNCell(10, 20);
 * let h = fl.zeros([3, 20]);
 * for (const x of fl.randn([6, 3, 10]).unbind(0)) h = cell.forward(x, h);
 */
export class RNNCell extends RNNCellBase {
  readonly nonlinearity: "tanh" | "relu";

  constructor(inputSize: number, hiddenSize: number, opts: RNNCellOptions = {}) {
    super(inputSize, hiddenSize, 1, opts);
    this.nonlinearity = opts.nonlinearity ?? "tanh";
    if (this.nonlinearity !== "tanh" && this.nonlinearity !== "relu") {
      throw new ArgumentError(
        `RNNCell: unknown nonlinearity '${this.nonlinearity}'; select from 'tanh' or 'relu'`,
      );
    }
  }

  override forward(input: Tensor, hx: Tensor | null = null): Tensor {
    const [x, batched] = this.prepare(input);
    const h = this.stateOf(hx, x, batched, "hx");
    const [gi, gh] = this.projections(x, h);
    const out = rnnStep(this.nonlinearity === "tanh" ? "RNN_TANH" : "RNN_RELU", gi, gh);
    return batched ? out : out.squeeze(0);
  }

  override extraRepr(): string {
    return (
      super.extraRepr() +
      (this.nonlinearity !== "tanh" ? `, nonlinearity='${this.nonlinearity}'` : "")
    );
  }
}

/**
 * One LSTM step: returns [h', c'].
 *
 * @example
 * const cell = new nn.LSTMCell(10, 20);
 * const [h, c] = cell.forward(fl.randn([3, 10])); // [3, 20], [3, 20]
 */
export class LSTMCell extends RNNCellBase {
  constructor(inputSize: number, hiddenSize: number, opts: RNNCellOptions = {}) {
    super(inputSize, hiddenSize, 4, opts);
  }

  override forward(input: Tensor, hx: [Tensor, Tensor] | null = null): [Tensor, Tensor] {
    const [x, batched] = this.prepare(input);
    const h = this.stateOf(hx?.[0] ?? null, x, batched, "hx[0]");
    const c = this.stateOf(hx?.[1] ?? null, x, batched, "hx[1]");
    const [gi, gh] = this.projections(x, h);
    const [h1, c1] = lstmStep(gi, gh, c);
    return batched ? [h1, c1] : [h1.squeeze(0), c1.squeeze(0)];
  }
}

/**
 * One GRU step: returns h'.
 *
 * @example
 * const cell = new nn.GRUCell(10, 20);
 * const h = cell.forward(fl.randn([3, 10])); // [3, 20]
 */
export class GRUCell extends RNNCellBase {
  constructor(inputSize: number, hiddenSize: number, opts: RNNCellOptions = {}) {
    super(inputSize, hiddenSize, 3, opts);
  }

  override forward(input: Tensor, hx: Tensor | null = null): Tensor {
    const [x, batched] = this.prepare(input);
    const h = this.stateOf(hx, x, batched, "hx");
    const [gi, gh] = this.projections(x, h);
    const out = gruStep(gi, gh, h);
    return batched ? out : out.squeeze(0);
  }
}
