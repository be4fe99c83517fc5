import type { DType } from "../../dtype.js";
import { NotImplementedError } from "../../errors.js";
import { type BinaryOp, isBoolBinary, isBoolUnary, type UnaryOp } from "../backend.js";

// The elementwise ops as WGSL expressions: one row per op, in the compute
// type `C` (f32 for floats, i32 for integers and bools), over the operands
// `a` and `b`. Rows marked `bool` give a WGSL bool.

export type WgslType = "f32" | "i32" | "u32";

/** The WGSL element type a dtype is stored as on the GPU (bool widened to u32). */
export function storageType(op: string, dtype: DType): WgslType {
  switch (dtype) {
    case "float32":
      return "f32";
    case "int32":
      return "i32";
    case "bool":
      return "u32";
    default:
      throw new NotImplementedError(
        `${op}: dtype ${dtype} is not supported on webgpu (WGSL has no 64-bit floats); use float32 there, or keep the tensor on cpu`,
      );
  }
}

/** `v` (of WGSL type `from`) as compute type `to`. */
export function convert(v: string, from: WgslType, to: WgslType): string {
  if (from === to) return v;
  if (to === "u32") return `select(0u, 1u, ${v} != ${from}(0))`;
  return `${to}(${v})`;
}

/** A value of compute type `from` (or a WGSL bool) stored as `to`. */
export function store(v: string, from: WgslType | "bool", to: WgslType): string {
  if (from === "bool")
    return to === "u32" ? `select(0u, 1u, ${v})` : `select(${to}(0), ${to}(1), ${v})`;
  return convert(v, from, to);
}

// Helpers the expressions call. NaN and ±inf are tested on the bits, so a
// compiler that assumes finite math cannot fold them away.
export const HELPERS = /* wgsl */ `
fn f_isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn f_isinf(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }
// Through a var: constant expressions may not be NaN or infinite.
fn f_nan() -> f32 { var u = 0x7fc00000u; return bitcast<f32>(u); }
fn f_inf() -> f32 { var u = 0x7f800000u; return bitcast<f32>(u); }
fn f_relu(x: f32) -> f32 { if (f_isnan(x)) { return x; } return select(0.0, x, x > 0.0); }
fn f_sign(x: f32) -> f32 { if (f_isnan(x)) { return x; } return select(select(0.0, -1.0, x < 0.0), 1.0, x > 0.0); }
fn f_sigmoid(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
  let e = exp(x);
  return e / (1.0 + e);
}
fn f_tanh(x: f32) -> f32 {
  // Builtin tanh may overflow inside for large |x|; it is ±1 there in f32.
  if (abs(x) > 10.0) { return sign(x); }
  return tanh(x);
}
fn f_log1p(x: f32) -> f32 {
  // log(1+x) corrected for the rounding of 1+x (Goldberg's trick).
  let u = 1.0 + x;
  if (u == 1.0) { return x; }
  if (f_isinf(u)) { return u; }
  return log(u) * x / (u - 1.0);
}
fn f_expm1(x: f32) -> f32 {
  // exp(x)-1 corrected for the rounding of exp(x) (Kahan's trick).
  if (abs(x) < 1e-5) { return x + 0.5 * x * x; }
  let u = exp(x);
  if (u == 1.0) { return x; }
  let um1 = u - 1.0;
  if (um1 == -1.0) { return -1.0; }
  if (f_isinf(u)) { return u; }
  return um1 * x / log(u);
}
fn f_erf(x: f32) -> f32 {
  // Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7) is enough for f32 away
  // from 0; near 0 the Maclaurin series keeps the relative error small.
  let ax = abs(x);
  if (ax < 0.5) {
    let x2 = x * x;
    return 1.1283791670955126 * x * (1.0 - x2 / 3.0 + x2 * x2 / 10.0 - x2 * x2 * x2 / 42.0 + x2 * x2 * x2 * x2 / 216.0);
  }
  let t = 1.0 / (1.0 + 0.3275911 * ax);
  let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-ax * ax);
  return select(y, -y, x < 0.0);
}
fn f_pow(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (f_isnan(a) || f_isnan(b)) { return f_nan(); }
  if (b == 1.0) { return a; }
  if (b == 2.0) { return a * a; }
  if (b == 0.5) { return sqrt(a); }
  if (b == -1.0) { return 1.0 / a; }
  let bInt = b == trunc(b);
  let bOdd = bInt && abs(b) < 16777216.0 && (i32(b) & 1) != 0;
  if (a == 0.0) {
    if (b > 0.0) { return select(0.0, a, bOdd); }
    return select(f_inf(), select(f_inf(), -f_inf(), bitcast<u32>(a) != 0u), bOdd);
  }
  if (a < 0.0 && !bInt) { return f_nan(); }
  let r = exp2(b * log2(abs(a)));
  return select(r, -r, a < 0.0 && bOdd);
}
fn i_pow(a: i32, b: i32) -> i32 {
  // Negative powers truncate toward zero, as storing the real power in an int does.
  if (b < 0) {
    if (a == 1) { return 1; }
    if (a == -1) { return select(-1, 1, (b & 1) == 0); }
    return 0;
  }
  var r = 1;
  var base = a;
  var e = b;
  loop {
    if (e == 0) { break; }
    if ((e & 1) != 0) { r = r * base; }
    base = base * base;
    e = e >> 1u;
  }
  return r;
}
// Some drivers' asin/acos are coarse (lavapipe: ~4e-4); atan2 is not.
fn f_asin(x: f32) -> f32 { if (abs(x) > 1.0) { return f_nan(); } return atan2(x, sqrt((1.0 - x) * (1.0 + x))); }
fn f_acos(x: f32) -> f32 { if (abs(x) > 1.0) { return f_nan(); } return atan2(sqrt((1.0 - x) * (1.0 + x)), x); }
fn f_max(a: f32, b: f32) -> f32 { if (f_isnan(a) || f_isnan(b)) { return f_nan(); } return max(a, b); }
fn f_min(a: f32, b: f32) -> f32 { if (f_isnan(a) || f_isnan(b)) { return f_nan(); } return min(a, b); }
fn f_fmod(a: f32, b: f32) -> f32 { return a - b * trunc(a / b); }
fn f_remainder(a: f32, b: f32) -> f32 {
  var r = f_fmod(a, b);
  if (r != 0.0 && ((r < 0.0) != (b < 0.0))) { r = r + b; }
  return r;
}
fn i_fmod(a: i32, b: i32) -> i32 { if (b == 0) { return 0; } return a % b; }
fn i_remainder(a: i32, b: i32) -> i32 {
  if (b == 0) { return 0; }
  var r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) { r = r + b; }
  return r;
}
`;

export interface Expr {
  code: string;
  /** The expression is a WGSL bool (comparisons, logical ops, isnan…). */
  bool: boolean;
}

const F_UNARY: Record<UnaryOp, string> = {
  neg: "-a",
  abs: "abs(a)",
  exp: "exp(a)",
  log: "log(a)",
  sqrt: "sqrt(a)",
  rsqrt: "1.0 / sqrt(a)",
  reciprocal: "1.0 / a",
  square: "a * a",
  sin: "sin(a)",
  cos: "cos(a)",
  tan: "tan(a)",
  tanh: "f_tanh(a)",
  sigmoid: "f_sigmoid(a)",
  relu: "f_relu(a)",
  sign: "f_sign(a)",
  floor: "floor(a)",
  ceil: "ceil(a)",
  // WGSL's round() rounds half to even, as PyTorch does.
  round: "round(a)",
  trunc: "trunc(a)",
  erf: "f_erf(a)",
  log1p: "f_log1p(a)",
  expm1: "f_expm1(a)",
  atan: "atan(a)",
  asin: "f_asin(a)",
  acos: "f_acos(a)",
  sinh: "sinh(a)",
  cosh: "cosh(a)",
  logicalNot: "a == 0.0",
  isnan: "f_isnan(a)",
  isinf: "f_isinf(a)",
};

// Integer rows; ops that make floats of ints (exp, sqrt…) never reach here,
// because their output dtype is float32 and they compute in f32.
const I_UNARY: Partial<Record<UnaryOp, string>> = {
  neg: "-a",
  abs: "abs(a)",
  square: "a * a",
  relu: "max(a, 0)",
  sign: "sign(a)",
  floor: "a",
  ceil: "a",
  round: "a",
  trunc: "a",
  logicalNot: "a == 0",
  isnan: "false",
  isinf: "false",
};

export function unaryExpr(op: UnaryOp, c: WgslType): Expr {
  const code = c === "f32" ? F_UNARY[op] : I_UNARY[op];
  if (code === undefined)
    throw new NotImplementedError(`${op}: no webgpu kernel for integer inputs`);
  return { code, bool: isBoolUnary(op) };
}

const F_BINARY: Record<BinaryOp, string> = {
  add: "a + b",
  sub: "a - b",
  mul: "a * b",
  div: "a / b",
  pow: "f_pow(a, b)",
  maximum: "f_max(a, b)",
  minimum: "f_min(a, b)",
  atan2: "atan2(a, b)",
  fmod: "f_fmod(a, b)",
  remainder: "f_remainder(a, b)",
  eq: "a == b",
  ne: "a != b",
  lt: "a < b",
  le: "a <= b",
  gt: "a > b",
  ge: "a >= b",
  logicalAnd: "(a != 0.0) && (b != 0.0)",
  logicalOr: "(a != 0.0) || (b != 0.0)",
  logicalXor: "(a != 0.0) != (b != 0.0)",
};

const I_BINARY: Partial<Record<BinaryOp, string>> = {
  add: "a + b",
  sub: "a - b",
  mul: "a * b",
  pow: "i_pow(a, b)",
  maximum: "max(a, b)",
  minimum: "min(a, b)",
  fmod: "i_fmod(a, b)",
  remainder: "i_remainder(a, b)",
  eq: "a == b",
  ne: "a != b",
  lt: "a < b",
  le: "a <= b",
  gt: "a > b",
  ge: "a >= b",
  logicalAnd: "(a != 0) && (b != 0)",
  logicalOr: "(a != 0) || (b != 0)",
  logicalXor: "(a != 0) != (b != 0)",
};

export function binaryExpr(op: BinaryOp, c: WgslType): Expr {
  const code = c === "f32" ? F_BINARY[op] : I_BINARY[op];
  if (code === undefined)
    throw new NotImplementedError(`${op}: no webgpu kernel for integer inputs`);
  return { code, bool: isBoolBinary(op) };
}
