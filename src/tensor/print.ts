import { isFloating, type TypedArray } from "../dtype.js";
import { fmtShape } from "../errors.js";
import type { Tensor } from "./tensor.js";

// Printing as PyTorch 1.13 prints (torch/_tensor_str.py), with its default
// options: precision 4, summarise above 1000 elements with 3 edge items per
// dim, lines of 80 characters. Numbers are rounded the way Python's format()
// rounds them: exactly, ties to even.

const PRECISION = 4;
const THRESHOLD = 1000;
const EDGE = 3;
const LINEWIDTH = 80;

// ---- Python's "{:.Nf}" and "{:.Ne}" -----------------------------------------

/** |x| (finite) exactly as digits × 10^-scale. */
function exactDecimal(x: number): { digits: bigint; scale: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = hi >>> 20;
  const frac = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  // x = mantissa · 2^exp
  const mantissa = biased === 0 ? frac : frac | (1n << 52n);
  const exp = (biased === 0 ? 1 : biased) - 1075;
  if (exp >= 0) return { digits: mantissa << BigInt(exp), scale: 0 };
  // m · 2^-k = m · 5^k / 10^k
  return { digits: mantissa * 5n ** BigInt(-exp), scale: -exp };
}

/** digits / 10^drop rounded half to even (drop ≥ 0). */
function roundDigits(digits: bigint, drop: number): bigint {
  if (drop <= 0) return digits * 10n ** BigInt(-drop);
  const unit = 10n ** BigInt(drop);
  let q = digits / unit;
  const r2 = (digits % unit) * 2n;
  if (r2 > unit || (r2 === unit && q % 2n === 1n)) q += 1n;
  return q;
}

function nonFinite(x: number): string | null {
  if (Number.isNaN(x)) return "nan";
  if (x === Number.POSITIVE_INFINITY) return "inf";
  if (x === Number.NEGATIVE_INFINITY) return "-inf";
  return null;
}

function signOf(x: number): string {
  return x < 0 || Object.is(x, -0) ? "-" : "";
}

/** Python's `"{:.{p}f}".format(x)`. */
export function formatFixed(x: number, precision: number): string {
  const special = nonFinite(x);
  if (special) return special;
  const { digits, scale } = exactDecimal(x);
  const s = roundDigits(digits, scale - precision)
    .toString()
    .padStart(precision + 1, "0");
  const whole = s.slice(0, s.length - precision);
  return signOf(x) + (precision > 0 ? `${whole}.${s.slice(s.length - precision)}` : whole);
}

/** Python's `"{:.{p}e}".format(x)`: d.dddde±XX. */
export function formatExp(x: number, precision: number): string {
  const special = nonFinite(x);
  if (special) return special;
  let mant: string;
  let e: number;
  if (x === 0) {
    mant = "0".repeat(precision + 1);
    e = 0;
  } else {
    const { digits, scale } = exactDecimal(x);
    const len = digits.toString().length;
    e = len - 1 - scale;
    mant = roundDigits(digits, len - (precision + 1)).toString();
    if (mant.length > precision + 1) {
      // Rounded up to the next power of ten: 9.99996 → 1.0000e+01.
      mant = mant.slice(0, precision + 1);
      e += 1;
    }
  }
  const body = precision > 0 ? `${mant[0]}.${mant.slice(1)}` : mant;
  const ee = Math.abs(e).toString().padStart(2, "0");
  return `${signOf(x)}${body}e${e < 0 ? "-" : "+"}${ee}`;
}

// ---- the formatter: one width and one style for every element ---------------

class Formatter {
  private intMode = true;
  private sciMode = false;
  private maxWidth = 1;

  constructor(
    private readonly floating: boolean,
    private readonly bool: boolean,
    values: readonly number[],
  ) {
    if (!floating) {
      for (const v of values) this.maxWidth = Math.max(this.maxWidth, this.plain(v).length);
      return;
    }
    const finite = values.filter((v) => Number.isFinite(v) && v !== 0);
    if (finite.length === 0) return;
    let lo = Number.POSITIVE_INFINITY;
    let hi = 0;
    for (const v of finite) {
      lo = Math.min(lo, Math.abs(v));
      hi = Math.max(hi, Math.abs(v));
    }
    this.intMode = finite.every((v) => v === Math.ceil(v));
    // Integers in float tensors print as "1."; the point counts in the width.
    if (this.intMode) {
      this.sciMode = hi / lo > 1000 || hi > 1e8;
      for (const v of finite) {
        const w = this.sciMode ? formatExp(v, PRECISION).length : formatFixed(v, 0).length + 1;
        this.maxWidth = Math.max(this.maxWidth, w);
      }
    } else {
      this.sciMode = hi / lo > 1000 || hi > 1e8 || lo < 1e-4;
      for (const v of finite) {
        const s = this.sciMode ? formatExp(v, PRECISION) : formatFixed(v, PRECISION);
        this.maxWidth = Math.max(this.maxWidth, s.length);
      }
    }
  }

  private plain(v: number): string {
    return this.bool ? (v ? "True" : "False") : String(v);
  }

  get width(): number {
    return this.maxWidth;
  }

  format(v: number): string {
    let s: string;
    if (!this.floating) s = this.plain(v);
    else if (this.sciMode) s = formatExp(v, PRECISION);
    else if (this.intMode) s = formatFixed(v, 0) + (Number.isFinite(v) ? "." : "");
    else s = formatFixed(v, PRECISION);
    return s.padStart(this.maxWidth);
  }
}

// ---- layout ---------------------------------------------------------------

/** A row-major array viewed as a nested tensor: element offsets per dim. */
interface Flat {
  data: TypedArray;
  shape: readonly number[];
  /** Row-major strides of shape. */
  strides: readonly number[];
}

/** The rows a summary keeps along a dim of this size: all, or the edges. */
function keptRows(size: number, summarize: boolean): number[] | null {
  if (!summarize || size <= 2 * EDGE) return null;
  return [
    ...Array.from({ length: EDGE }, (_, i) => i),
    ...Array.from({ length: EDGE }, (_, i) => size - EDGE + i),
  ];
}

/** The values the formatter sizes itself on: all, or only those a summary shows. */
function shownValues(t: Flat, summarize: boolean): number[] {
  const out: number[] = [];
  const walk = (dim: number, offset: number) => {
    if (dim === t.shape.length) {
      out.push(t.data[offset]!);
      return;
    }
    const size = t.shape[dim]!;
    const rows = keptRows(size, summarize) ?? Array.from({ length: size }, (_, i) => i);
    for (const i of rows) walk(dim + 1, offset + i * t.strides[dim]!);
  };
  walk(0, 0);
  return out;
}

function vectorStr(
  t: Flat,
  offset: number,
  indent: number,
  summarize: boolean,
  f: Formatter,
): string {
  const size = t.shape[t.shape.length - 1]!;
  const stride = t.strides[t.strides.length - 1]!;
  const perLine = Math.max(1, Math.floor((LINEWIDTH - indent) / (f.width + 2)));
  const at = (i: number) => f.format(t.data[offset + i * stride]!);
  const rows = keptRows(size, summarize);
  const items = rows
    ? [...rows.slice(0, EDGE).map(at), " ...", ...rows.slice(EDGE).map(at)]
    : Array.from({ length: size }, (_, i) => at(i));
  const lines: string[] = [];
  for (let i = 0; i < items.length; i += perLine)
    lines.push(items.slice(i, i + perLine).join(", "));
  return `[${lines.join(`,\n${" ".repeat(indent + 1)}`)}]`;
}

function tensorStr(
  t: Flat,
  dim: number,
  offset: number,
  indent: number,
  summarize: boolean,
  f: Formatter,
): string {
  const ndim = t.shape.length - dim;
  if (ndim === 0) return f.format(t.data[offset]!);
  if (ndim === 1) return vectorStr(t, offset, indent, summarize, f);
  const size = t.shape[dim]!;
  const sub = (i: number) =>
    tensorStr(t, dim + 1, offset + i * t.strides[dim]!, indent + 1, summarize, f);
  const rows = keptRows(size, summarize);
  const slices = rows
    ? [...rows.slice(0, EDGE).map(sub), "...", ...rows.slice(EDGE).map(sub)]
    : Array.from({ length: size }, (_, i) => sub(i));
  return `[${slices.join(`,${"\n".repeat(ndim - 1)}${" ".repeat(indent + 1)}`)}]`;
}

/** Appends ", suffix" to the last line, or starts a new line when it would pass the line width. */
function addSuffixes(text: string, suffixes: readonly string[], indent: number): string {
  const parts = [text];
  // As PyTorch counts it (2 more than the last line's length).
  let lastLine = text.length - text.lastIndexOf("\n") + 1;
  for (const s of suffixes) {
    if (lastLine + s.length + 2 > LINEWIDTH) {
      parts.push(`,\n${" ".repeat(indent)}${s}`);
      lastLine = indent + s.length;
    } else {
      parts.push(`, ${s}`);
      lastLine += s.length + 2;
    }
  }
  parts.push(")");
  return parts.join("");
}

function pyTuple(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
}

function readValues(t: Tensor): TypedArray | null {
  try {
    return t.dataSync();
  } catch {
    return null;
  }
}

/**
 * The tensor as PyTorch prints it, e.g. `tensor([[1., 2.],\n        [3., 4.]],
 * requires_grad=True)`. Off the CPU the values cannot be read synchronously:
 * pass them (`formatTensor(t, await t.data())`) or they are left out.
 *
 * @example
 * formatTensor(fl.tensor([0.5, 2])); // "tensor([0.5000, 2.0000])"
 */
export function formatTensor(t: Tensor, data?: TypedArray): string {
  const prefix = "tensor(";
  const indent = prefix.length;
  const suffixes: string[] = [];
  if (t.device !== "cpu") suffixes.push(`device='${t.device}'`);
  let body: string;
  if (t.numel() === 0) {
    if (t.ndim !== 1) suffixes.push(`size=${pyTuple(t.shape)}`);
    if (t.dtype !== "float32") suffixes.push(`dtype=torch.${t.dtype}`);
    body = "[]";
  } else {
    if (t.dtype !== "float32" && t.dtype !== "bool") suffixes.push(`dtype=torch.${t.dtype}`);
    const values = data ?? readValues(t);
    if (values === null) {
      body = `<${fmtShape(t.shape)} on ${t.device}: print with formatTensor(t, await t.data())>`;
    } else {
      const strides: number[] = [];
      let s = 1;
      for (let i = t.ndim - 1; i >= 0; i--) {
        strides[i] = s;
        s *= t.shape[i]!;
      }
      const flat: Flat = { data: values, shape: t.shape, strides };
      const summarize = t.numel() > THRESHOLD;
      const f = new Formatter(
        isFloating(t.dtype),
        t.dtype === "bool",
        shownValues(flat, summarize),
      );
      body = tensorStr(flat, 0, 0, indent, summarize, f);
    }
  }
  if (t.gradFn) suffixes.push(`grad_fn=<${t.gradFn.name}>`);
  else if (t.requiresGrad) suffixes.push("requires_grad=True");
  return addSuffixes(prefix + body, suffixes, indent);
}
