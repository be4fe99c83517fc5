import { isGradEnabled } from "../autograd/grad_mode.js";
import { needsGrad, record } from "../autograd/node.js";
import {
  type BinaryOp,
  isBoolBinary,
  isBoolUnary,
  type UnaryOp,
  type View,
} from "../backend/backend.js";
import { fusedKernels } from "../backend/fused.js";
import { type DType, isFloating, promoteTypes, scalarDType, toFloating } from "../dtype.js";
import { DeviceError, DTypeError, fmtShape } from "../errors.js";
import { broadcastShapes, sameShape } from "../shape.js";
import { Tensor, type TensorLike } from "../tensor/tensor.js";

// Elementwise ops. Each primitive has one row in a gradient table; the
// forward runs one backend kernel over broadcast, strided views.

/** A view of t with its shape broadcast to `shape` (stride 0 on repeated dims). */
export function broadcastView(t: Tensor, shape: readonly number[]): View {
  if (sameShape(t.shape, shape)) return t;
  const lead = shape.length - t.ndim;
  const strides = shape.map((d, i) => {
    const j = i - lead;
    if (j < 0) return 0;
    return t.shape[j] === 1 && d !== 1 ? 0 : t.strides[j]!;
  });
  return { storage: t.storage, dtype: t.dtype, shape, strides, offset: t.offset };
}

/** A JS scalar or tensor as a tensor on `like`'s device (a 0-d tensor for scalars). */
export function toTensor(v: TensorLike, like: Tensor, dtype?: DType): Tensor {
  if (v instanceof Tensor) return v;
  return Tensor.scalar(v, dtype ?? scalarDType(v), like.device);
}

function priority(v: TensorLike): 0 | 1 | 2 {
  return v instanceof Tensor ? (v.ndim > 0 ? 2 : 1) : 0;
}

export function resultType(...operands: TensorLike[]): DType {
  return promoteTypes(
    operands.map((v) => ({
      dtype: v instanceof Tensor ? v.dtype : scalarDType(v),
      priority: priority(v),
    })),
  );
}

function checkDevices(op: string, a: Tensor, b: Tensor): void {
  if (a.device !== b.device && a.ndim > 0 && b.ndim > 0) {
    throw new DeviceError(
      `${op}: expected all tensors on the same device, got ${a.device} and ${b.device}`,
    );
  }
}

type Saved = readonly Tensor[];

interface UnaryRule {
  name: string;
  /** Whether an integer input gives a float result (exp of int32 is float32). */
  floatResult: boolean;
  /** d/dx given the incoming gradient g, input x and output y; null = not differentiable. */
  grad: ((g: Tensor, x: Tensor, y: Tensor) => Tensor) | null;
}

const zeroGrad = (g: Tensor) => g.mul(0);

/**
 * d relu = y <= 0 ? 0 : g, PyTorch's threshold_backward: a NaN y passes g
 * (NaN <= 0 is false) and a flat element gives 0 even for g = NaN or ±∞.
 * A device's fused kernel does it in one pass without the bool mask; under
 * createGraph the rule must be recorded, so the ops.
 */
function reluGrad(g: Tensor, y: Tensor): Tensor {
  const k = fusedKernels(y.device);
  if (
    k.reluBackward &&
    !isGradEnabled() &&
    (y.dtype === "float32" || y.dtype === "float64") &&
    g.dtype === y.dtype &&
    sameShape(g.shape, y.shape)
  ) {
    return Tensor.fromStorage(k.reluBackward(g.contiguous(), y.contiguous()), y.shape, y.dtype);
  }
  return where(y.le(0), 0, g);
}

export const UNARY_RULES: Record<UnaryOp, UnaryRule> = {
  neg: { name: "NegBackward0", floatResult: false, grad: (g) => g.neg() },
  abs: { name: "AbsBackward0", floatResult: false, grad: (g, x) => g.mul(x.sign()) },
  exp: { name: "ExpBackward0", floatResult: true, grad: (g, _x, y) => g.mul(y) },
  log: { name: "LogBackward0", floatResult: true, grad: (g, x) => g.div(x) },
  sqrt: { name: "SqrtBackward0", floatResult: true, grad: (g, _x, y) => g.div(y.mul(2)) },
  // d/dx x^-1/2 = -1/2 x^-3/2 = -1/2 y^3
  rsqrt: {
    name: "RsqrtBackward0",
    floatResult: true,
    grad: (g, _x, y) => g.mul(y.pow(3)).mul(-0.5),
  },
  reciprocal: {
    name: "ReciprocalBackward0",
    floatResult: true,
    grad: (g, _x, y) => g.mul(y.square()).neg(),
  },
  square: { name: "PowBackward0", floatResult: false, grad: (g, x) => g.mul(x).mul(2) },
  sin: { name: "SinBackward0", floatResult: true, grad: (g, x) => g.mul(x.cos()) },
  cos: { name: "CosBackward0", floatResult: true, grad: (g, x) => g.mul(x.sin()).neg() },
  tan: { name: "TanBackward0", floatResult: true, grad: (g, _x, y) => g.mul(y.square().add(1)) },
  // d tanh = 1 - tanh²
  tanh: {
    name: "TanhBackward0",
    floatResult: true,
    grad: (g, _x, y) => g.mul(y.square().neg().add(1)),
  },
  // d σ = σ (1 - σ)
  sigmoid: {
    name: "SigmoidBackward0",
    floatResult: true,
    grad: (g, _x, y) => g.mul(y.mul(y.neg().add(1))),
  },
  relu: { name: "ReluBackward0", floatResult: false, grad: (g, _x, y) => reluGrad(g, y) },
  sign: { name: "SignBackward0", floatResult: false, grad: zeroGrad },
  floor: { name: "FloorBackward0", floatResult: false, grad: zeroGrad },
  ceil: { name: "CeilBackward0", floatResult: false, grad: zeroGrad },
  round: { name: "RoundBackward0", floatResult: false, grad: zeroGrad },
  trunc: { name: "TruncBackward0", floatResult: false, grad: zeroGrad },
  // d erf = 2/√π e^{-x²}
  erf: {
    name: "ErfBackward0",
    floatResult: true,
    grad: (g, x) =>
      g.mul(
        x
          .square()
          .neg()
          .exp()
          .mul(2 / Math.sqrt(Math.PI)),
      ),
  },
  log1p: { name: "Log1PBackward0", floatResult: true, grad: (g, x) => g.div(x.add(1)) },
  expm1: { name: "Expm1Backward0", floatResult: true, grad: (g, _x, y) => g.mul(y.add(1)) },
  atan: { name: "AtanBackward0", floatResult: true, grad: (g, x) => g.div(x.square().add(1)) },
  asin: {
    name: "AsinBackward0",
    floatResult: true,
    grad: (g, x) => g.mul(x.square().neg().add(1).rsqrt()),
  },
  acos: {
    name: "AcosBackward0",
    floatResult: true,
    grad: (g, x) => g.mul(x.square().neg().add(1).rsqrt()).neg(),
  },
  sinh: { name: "SinhBackward0", floatResult: true, grad: (g, x) => g.mul(x.cosh()) },
  cosh: { name: "CoshBackward0", floatResult: true, grad: (g, x) => g.mul(x.sinh()) },
  logicalNot: { name: "LogicalNotBackward0", floatResult: false, grad: null },
  isnan: { name: "IsnanBackward0", floatResult: false, grad: null },
  isinf: { name: "IsinfBackward0", floatResult: false, grad: null },
};

export function unary(op: UnaryOp, x: Tensor): Tensor {
  const rule = UNARY_RULES[op];
  let outDtype: DType = isBoolUnary(op) ? "bool" : rule.floatResult ? toFloating(x.dtype) : x.dtype;
  if (outDtype === "bool" && !isBoolUnary(op)) outDtype = op === "neg" ? "bool" : "int32";
  if (op === "neg" && x.dtype === "bool") {
    throw new DTypeError("neg: negation of a bool tensor is not supported; use logicalNot()");
  }
  const y = Tensor.fromStorage(x.backend.unary(op, x, outDtype), x.shape, outDtype);
  if (rule.grad && isFloating(outDtype) && needsGrad(x)) {
    const grad = rule.grad;
    record(rule.name, y, [x], (g, [sx, sy]) => [grad(g, sx!, sy!)], [x, y]);
  }
  return y;
}

interface BinaryRule {
  name: string;
  grad: ((g: Tensor, a: Tensor, b: Tensor, y: Tensor) => [Tensor | null, Tensor | null]) | null;
}

export const BINARY_RULES: Record<BinaryOp, BinaryRule> = {
  add: { name: "AddBackward0", grad: (g) => [g, g] },
  sub: { name: "SubBackward0", grad: (g) => [g, g.neg()] },
  mul: { name: "MulBackward0", grad: (g, a, b) => [g.mul(b), g.mul(a)] },
  // d(a/b) = da/b - a db/b²
  div: { name: "DivBackward0", grad: (g, a, b) => [g.div(b), g.mul(a).div(b.square()).neg()] },
  pow: {
    name: "PowBackward1",
    grad: (g, a, b, y) => [
      // b a^(b-1); where b == 0 the term is 0 even at a == 0
      g
        .mul(b)
        .mul(a.pow(b.sub(1)))
        .maskedFill(b.eq(0), 0),
      // a^b log a, defined as 0 where a == 0 and b >= 0
      g
        .mul(y)
        .mul(a.log())
        .maskedFill(a.eq(0).logicalAnd(b.ge(0)), 0),
    ],
  },
  // Ties split the gradient evenly, as PyTorch does.
  maximum: {
    name: "MaximumBackward0",
    grad: (g, a, b) => {
      const half = a.eq(b).mul(0.5);
      return [g.mul(a.gt(b).add(half)), g.mul(b.gt(a).add(half))];
    },
  },
  minimum: {
    name: "MinimumBackward0",
    grad: (g, a, b) => {
      const half = a.eq(b).mul(0.5);
      return [g.mul(a.lt(b).add(half)), g.mul(b.lt(a).add(half))];
    },
  },
  atan2: {
    name: "Atan2Backward0",
    grad: (g, a, b) => {
      const r = a.square().add(b.square());
      return [g.mul(b).div(r), g.mul(a).neg().div(r)];
    },
  },
  fmod: { name: "FmodBackward0", grad: (g, a, b) => [g, g.mul(a.div(b).trunc()).neg()] },
  remainder: { name: "RemainderBackward0", grad: (g, a, b) => [g, g.mul(a.div(b).floor()).neg()] },
  eq: { name: "EqBackward0", grad: null },
  ne: { name: "NeBackward0", grad: null },
  lt: { name: "LtBackward0", grad: null },
  le: { name: "LeBackward0", grad: null },
  gt: { name: "GtBackward0", grad: null },
  ge: { name: "GeBackward0", grad: null },
  logicalAnd: { name: "LogicalAndBackward0", grad: null },
  logicalOr: { name: "LogicalOrBackward0", grad: null },
  logicalXor: { name: "LogicalXorBackward0", grad: null },
};

export function binary(op: BinaryOp, a: TensorLike, b: TensorLike): Tensor {
  const ref = a instanceof Tensor ? a : (b as Tensor);
  let computeDtype = resultType(a, b);
  // True division and real powers of integers give floats, as in PyTorch
  // (for pow only when the exponent is a float scalar or tensor).
  if ((op === "div" || op === "atan2") && !isFloating(computeDtype)) computeDtype = "float32";
  if (computeDtype === "bool" && !isBoolBinary(op)) {
    if (op === "sub")
      throw new DTypeError("sub: subtraction of bool tensors is not supported; use logicalXor()");
    computeDtype =
      op === "add" || op === "mul" || op === "maximum" || op === "minimum" ? "bool" : "int32";
    // True + True is True: bool addition is logical or (a kernel's 1 + 1 would store 2).
    if (op === "add" && computeDtype === "bool") op = "logicalOr";
  }
  const ta = toTensor(a, ref, a instanceof Tensor ? undefined : computeDtype);
  const tb = toTensor(b, ref, b instanceof Tensor ? undefined : computeDtype);
  checkDevices(op, ta, tb);
  const shape = sameShape(ta.shape, tb.shape) ? ta.shape : broadcastShapes(op, ta.shape, tb.shape);
  const outDtype = isBoolBinary(op) ? "bool" : computeDtype;
  // A CPU 0-d operand may meet a device tensor (as in PyTorch); the device's backend runs it.
  const runner = ta.device === "cpu" ? tb : ta;
  const storage = runner.backend.binary(
    op,
    broadcastView(ta, shape),
    broadcastView(tb, shape),
    outDtype,
  );
  const y = Tensor.fromStorage(storage, shape, outDtype);
  const rule = BINARY_RULES[op];
  if (rule.grad && isFloating(outDtype) && needsGrad(ta, tb)) {
    const grad = rule.grad;
    const saved: Saved = op === "add" || op === "sub" ? [] : [ta, tb, y];
    record(
      rule.name,
      y,
      [ta, tb],
      (g, s) => (s.length === 0 ? grad(g, ta, tb, y) : grad(g, s[0]!, s[1]!, s[2]!)),
      saved,
    );
  }
  return y;
}

/** a + alpha * b */
export function add(a: TensorLike, b: TensorLike, alpha = 1): Tensor {
  return binary("add", a, alpha === 1 ? b : mulScalarLike(b, alpha));
}

/** a - alpha * b */
export function sub(a: TensorLike, b: TensorLike, alpha = 1): Tensor {
  return binary("sub", a, alpha === 1 ? b : mulScalarLike(b, alpha));
}

function mulScalarLike(b: TensorLike, alpha: number): TensorLike {
  return b instanceof Tensor ? binary("mul", b, alpha) : (b as number) * alpha;
}

/** x ** exponent, with PowBackward0 for a scalar exponent. */
export function pow(x: TensorLike, exponent: TensorLike): Tensor {
  if (x instanceof Tensor && !(exponent instanceof Tensor)) {
    const e = exponent as number;
    let outDtype = resultType(x, e);
    if (outDtype === "bool") outDtype = "int32";
    const y = Tensor.fromStorage(
      x.backend.binary(
        "pow",
        x,
        broadcastView(Tensor.scalar(e, outDtype, x.device), x.shape),
        outDtype,
      ),
      x.shape,
      outDtype,
    );
    if (isFloating(outDtype) && needsGrad(x)) {
      // d x^e = e x^(e-1)
      record(
        "PowBackward0",
        y,
        [x],
        (g, [sx]) => [e === 0 ? g.mul(0) : g.mul(sx!.pow(e - 1)).mul(e)],
        [x],
      );
    }
    return y;
  }
  return binary("pow", x, exponent);
}

/** clamp(x, min, max): gradient flows where min ≤ x ≤ max. */
export function clamp(x: Tensor, min?: TensorLike | null, max?: TensorLike | null): Tensor {
  if ((min === undefined || min === null) && (max === undefined || max === null)) {
    throw new DTypeError("clamp: at least one of min and max must be given");
  }
  let y = x.detach();
  let mask: Tensor | null = null;
  if (min !== undefined && min !== null) {
    y = binary("maximum", y, min);
    mask = x.ge(min);
  }
  if (max !== undefined && max !== null) {
    y = binary("minimum", y, max);
    const m = x.le(max);
    mask = mask ? mask.logicalAnd(m) : m;
  }
  // NaN stays NaN as in PyTorch.
  y = where(x.isnan(), x.detach(), y);
  if (isFloating(y.dtype) && needsGrad(x)) {
    record("ClampBackward1", y, [x], (g, [m]) => [g.mul(m!)], [mask!]);
  }
  return y;
}

/** where(cond, a, b): a where cond is true, else b (broadcast). */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  if (cond.dtype !== "bool") {
    throw new DTypeError(`where: condition must be a bool tensor, got ${cond.dtype}`);
  }
  const dtype = resultType(a, b);
  const ta = toTensor(a, cond, a instanceof Tensor ? undefined : dtype);
  const tb = toTensor(b, cond, b instanceof Tensor ? undefined : dtype);
  const shape = broadcastShapes("where", cond.shape, ta.shape, tb.shape);
  checkDevices("where", cond, ta);
  checkDevices("where", cond, tb);
  checkDevices("where", ta, tb);
  // A 0-d CPU operand may meet device tensors; the device's kernel runs.
  const on = [cond, ta, tb].find((t) => t.device !== "cpu") ?? cond;
  const storage = on.backend.where(
    broadcastView(cond, shape),
    broadcastView(ta, shape),
    broadcastView(tb, shape),
    dtype,
  );
  const y = Tensor.fromStorage(storage, shape, dtype);
  if (isFloating(dtype) && needsGrad(ta, tb)) {
    record("WhereBackward0", y, [ta, tb], (g, [c]) => [where(c!, g, 0), where(c!, 0, g)], [cond]);
  }
  return y;
}

/** Copies x into a new tensor of another dtype (ToCopyBackward0). */
export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  const y = Tensor.fromStorage(x.backend.copy(x, dtype), x.shape, dtype);
  if (isFloating(dtype) && isFloating(x.dtype) && needsGrad(x)) {
    const from = x.dtype;
    record("ToCopyBackward0", y, [x], (g) => [cast(g, from)]);
  }
  return y;
}

export function describe(t: Tensor): string {
  return `${t.dtype} tensor of shape ${fmtShape(t.shape)}`;
}
