// Variable-length batches for the recurrent layers (torch.nn.utils.rnn):
// PackedSequence, packPaddedSequence, padPackedSequence, padSequence,
// packSequence, unpadSequence, unpackSequence.
//
// A packed batch stores time step after time step, each holding only the
// sequences still running at that step, longest first: for lengths [3, 1]
// the rows are a0 b0 a1 a2 and batchSizes is [2, 1, 1]. A recurrent layer
// then updates only the first batchSizes[t] rows at step t.
import { ArgumentError, DTypeError, fmtShape, ShapeError } from "../../errors.js";
import { Tensor } from "../../tensor/tensor.js";

/**
 * A batch of sequences of different lengths, packed time step by time
 * step (torch.nn.utils.rnn.PackedSequence). Build it with
 * packPaddedSequence or packSequence; RNN, LSTM and GRU accept it and
 * return one.
 *
 * @example
 * const packed = nn.utils.packSequence([fl.randn([3, 2]), fl.randn([1, 2])]);
 * packed.batchSizes.tolistSync(); // [2, 1, 1]
 */
export class PackedSequence {
  constructor(
    /** (sum of lengths, *): the rows of every sequence, time step by time step. */
    readonly data: Tensor,
    /** int32 (maxLength,): how many sequences run at each step (non-increasing). */
    readonly batchSizes: Tensor,
    /** The batch order that sorts the sequences longest first (null when they came sorted). */
    readonly sortedIndices: Tensor | null = null,
    /** The inverse of sortedIndices: puts results back in the caller's order. */
    readonly unsortedIndices: Tensor | null = null,
  ) {}

  /** batchSizes as numbers. */
  sizes(): number[] {
    return Array.from(this.batchSizes.dataSync(), Number);
  }
}

function lengthsOf(op: string, lengths: Tensor | readonly number[]): number[] {
  const out = lengths instanceof Tensor ? Array.from(lengths.dataSync(), Number) : [...lengths];
  for (const l of out) {
    if (!Number.isInteger(l) || l <= 0) {
      throw new ArgumentError(
        `${op}: every length must be a positive integer, got ${JSON.stringify(out)}`,
      );
    }
  }
  return out;
}

function int32(values: readonly number[], device: string): Tensor {
  return Tensor.fromArray(Int32Array.from(values), [values.length], device);
}

/** Stable descending order of the lengths, and its inverse. */
function sortByLength(lengths: readonly number[]): [number[], number[]] {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[b]! - lengths[a]! || a - b);
  const inverse = new Array<number>(order.length);
  order.forEach((o, i) => {
    inverse[o] = i;
  });
  return [order, inverse];
}

export interface PackPaddedOptions {
  /** input is (B, T, *) instead of (T, B, *) (false). */
  batchFirst?: boolean;
  /** The lengths must already be in decreasing order (true); false sorts them here. */
  enforceSorted?: boolean;
}

/**
 * Packs a padded batch (T, B, *) (or (B, T, *) with batchFirst) whose
 * sequence b has lengths[b] valid steps.
 *
 * @example
 * const x = fl.randn([4, 2, 3]); // (T, B, features)
 * const packed = nn.utils.packPaddedSequence(x, [4, 2]);
 * packed.data.shape; // [6, 3]
 */
export function packPaddedSequence(
  input: Tensor,
  lengths: Tensor | readonly number[],
  opts: PackPaddedOptions = {},
): PackedSequence {
  const op = "packPaddedSequence";
  const batchFirst = opts.batchFirst ?? false;
  const enforceSorted = opts.enforceSorted ?? true;
  if (input.ndim < 2)
    throw new ShapeError(
      `${op}: input must be at least 2-d (T, B, *), got ${fmtShape(input.shape)}`,
    );
  let lens = lengthsOf(op, lengths);
  const batchDim = batchFirst ? 0 : 1;
  const [B, T] = [input.shape[batchDim]!, input.shape[1 - batchDim]!];
  if (lens.length !== B) {
    throw new ShapeError(
      `${op}: expected ${B} lengths (the batch size of input ${fmtShape(input.shape)}), got ${lens.length}`,
    );
  }
  if (Math.max(...lens) > T) {
    throw new ArgumentError(
      `${op}: a length ${Math.max(...lens)} exceeds the sequence length ${T} of input ${fmtShape(input.shape)}`,
    );
  }
  let sorted: Tensor | null = null;
  let unsorted: Tensor | null = null;
  let x = input;
  if (enforceSorted) {
    if (lens.some((l, i) => i > 0 && l > lens[i - 1]!)) {
      throw new ArgumentError(
        `${op}: lengths must be sorted in decreasing order when enforceSorted is true, got ${JSON.stringify(lens)}; pass { enforceSorted: false } to sort them here`,
      );
    }
  } else {
    const [order, inverse] = sortByLength(lens);
    sorted = int32(order, input.device);
    unsorted = int32(inverse, input.device);
    x = x.indexSelect(batchDim, sorted);
    lens = order.map((o) => lens[o]!);
  }
  if (batchFirst) x = x.transpose(0, 1); // (T, B, *)
  const maxLen = lens[0]!;
  const sizes: number[] = [];
  for (let t = 0; t < maxLen; t++) sizes.push(lens.filter((l) => l > t).length);
  const data = Tensor.cat(
    sizes.map((bs, t) => x.select(0, t).narrow(0, 0, bs)),
    0,
  );
  return new PackedSequence(data, int32(sizes, "cpu"), sorted, unsorted);
}

export interface PadPackedOptions {
  /** Return (B, T, *) instead of (T, B, *) (false). */
  batchFirst?: boolean;
  /** The value of the padding (0). */
  paddingValue?: number;
  /** Pad to this many steps instead of the longest sequence. */
  totalLength?: number | null;
}

/**
 * Unpacks a PackedSequence into a padded batch and the lengths (int32),
 * in the caller's original batch order: the inverse of packPaddedSequence.
 *
 * @example
 * const [padded, lengths] = nn.utils.padPackedSequence(packed, { batchFirst: true });
 */
export function padPackedSequence(
  sequence: PackedSequence,
  opts: PadPackedOptions = {},
): [Tensor, Tensor] {
  const op = "padPackedSequence";
  const sizes = sequence.sizes();
  const T = sizes.length;
  const B = sizes[0] ?? 0;
  const total = opts.totalLength ?? T;
  if (total < T) {
    throw new ArgumentError(`${op}: totalLength ${total} is less than the longest sequence (${T})`);
  }
  const data = sequence.data;
  const feat = data.shape.slice(1);
  const pad = opts.paddingValue ?? 0;
  const steps: Tensor[] = [];
  let offset = 0;
  for (const bs of sizes) {
    const rows = data.narrow(0, offset, bs);
    offset += bs;
    steps.push(bs < B ? Tensor.cat([rows, filled([B - bs, ...feat], pad, data)], 0) : rows);
  }
  for (let t = T; t < total; t++) steps.push(filled([B, ...feat], pad, data));
  let padded = Tensor.cat(
    steps.map((s) => s.unsqueeze(0)),
    0,
  ); // (total, B, *)
  let lengths = Array.from({ length: B }, (_, b) => sizes.filter((s) => s > b).length);
  if (sequence.unsortedIndices) {
    padded = padded.indexSelect(1, sequence.unsortedIndices);
    const inv = Array.from(sequence.unsortedIndices.dataSync(), Number);
    lengths = inv.map((i) => lengths[i]!);
  }
  if (opts.batchFirst) padded = padded.transpose(0, 1);
  return [padded, int32(lengths, "cpu")];
}

function filled(shape: number[], value: number, like: Tensor): Tensor {
  const t = Tensor.zeros(shape, like.dtype, like.device);
  return value === 0 ? t : t.fill_(value);
}

export interface PadSequenceOptions {
  batchFirst?: boolean;
  paddingValue?: number;
  /** Pad after each sequence ("right", default) or before it ("left"). */
  paddingSide?: "right" | "left";
}

/**
 * Stacks sequences of shape (L_i, *) into one (T, B, *) batch (or
 * (B, T, *) with batchFirst), padding the shorter ones.
 *
 * @example
 * nn.utils.padSequence([fl.ones([3, 2]), fl.ones([1, 2])], { batchFirst: true }).shape; // [2, 3, 2]
 */
export function padSequence(sequences: readonly Tensor[], opts: PadSequenceOptions = {}): Tensor {
  const op = "padSequence";
  if (sequences.length === 0) throw new ArgumentError(`${op}: expected at least one sequence`);
  const feat = sequences[0]!.shape.slice(1);
  for (const s of sequences) {
    if (s.ndim < 1 || s.shape.slice(1).join() !== feat.join()) {
      throw new ShapeError(
        `${op}: every sequence must be (L, ${feat.join(", ")}), got ${fmtShape(s.shape)} after ${fmtShape(sequences[0]!.shape)}`,
      );
    }
  }
  const T = Math.max(...sequences.map((s) => s.shape[0]!));
  const pad = opts.paddingValue ?? 0;
  const left = opts.paddingSide === "left";
  const rows = sequences.map((s) => {
    const n = T - s.shape[0]!;
    if (n === 0) return s;
    const fill = filled([n, ...feat], pad, s);
    return Tensor.cat(left ? [fill, s] : [s, fill], 0);
  });
  return Tensor.cat(
    rows.map((r) => r.unsqueeze(opts.batchFirst ? 0 : 1)),
    opts.batchFirst ? 0 : 1,
  );
}

/**
 * Packs a list of sequences (L_i, *): padSequence, then packPaddedSequence.
 *
 * @example
 * nn.utils.packSequence([fl.ones([2]), fl.ones([3])], { enforceSorted: false }).data.shape; // [5]
 */
export function packSequence(
  sequences: readonly Tensor[],
  opts: { enforceSorted?: boolean } = {},
): PackedSequence {
  const lengths = sequences.map((s) => s.shape[0]!);
  return packPaddedSequence(padSequence(sequences), lengths, {
    enforceSorted: opts.enforceSorted ?? true,
  });
}

/**
 * Splits a padded batch back into its sequences.
 *
 * @example
 * nn.utils.unpadSequence(padded, fl.tensor([3, 1], { dtype: "int32" })); // [(3, *), (1, *)]
 */
export function unpadSequence(
  padded: Tensor,
  lengths: Tensor | readonly number[],
  opts: { batchFirst?: boolean } = {},
): Tensor[] {
  const lens = lengthsOf("unpadSequence", lengths);
  if (lengths instanceof Tensor && lengths.dtype !== "int32") {
    throw new DTypeError(`unpadSequence: lengths must be int32, got ${lengths.dtype}`);
  }
  const x = opts.batchFirst ? padded : padded.transpose(0, 1); // (B, T, *)
  return lens.map((l, b) => x.select(0, b).narrow(0, 0, l));
}

/** Splits a PackedSequence into its sequences, in the caller's order. */
export function unpackSequence(packed: PackedSequence): Tensor[] {
  const [padded, lengths] = padPackedSequence(packed, { batchFirst: true });
  return unpadSequence(padded, lengths, { batchFirst: true });
}
