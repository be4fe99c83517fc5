// One LSTM or GRU layer (one direction, padded input) through a backend's
// fused cell kernels (src/backend/fused.ts), recorded as ONE autograd node
// for the whole recurrence instead of a dozen nodes per time step.
//
// Forward: the input projection of every step is one GEMM before the loop;
// each step is then one GEMM (h·W_hhᵀ) and one fused pointwise kernel.
// Backward (BPTT): each step, in reverse, is one fused pointwise kernel and
// one GEMM (dgates·W_hh); the weight gradient is one GEMM over all steps at
// the end. Where the backend has lstmSequence (CPU, float32) the whole
// LSTM loop, forward and backward, runs in one kernel call with W_hh
// packed once in the GEMM's memory (src/backend/cpu/rnn.ts); the per-step
// loops below are the path elsewhere.
// The layer's outputs are views of one tensor R, so the single
// node sees every output's gradient:
//   LSTM: R (T + 1, N, H) = [h_0 … h_{T-1}; c_last]   GRU: R (T, N, H)
//
// Under createGraph (grad mode on during backward) the node's backward is
// written with flint ops instead, recomputing the gates from the saved,
// graph-connected inputs, so gradients of gradients still work. The
// composite in src/nn/layers/rnn.ts stays the reference and the path
// wherever these kernels are missing (webgpu), for packed input and for
// LSTM with projSize.

import { isGradEnabled, noGrad } from "../../autograd/grad_mode.js";
import { record } from "../../autograd/node.js";
import { type FusedKernels, fusedKernels } from "../../backend/fused.js";
import { Tensor } from "../../tensor/tensor.js";
import { linear } from "./linear.js";

/** A layer's result: the outputs h_t for every t (T, N, H) and the final state. */
export interface FusedRecurrence {
  out: Tensor;
  h: Tensor;
  c: Tensor | null;
}

/** Whether the fused path can take these tensors (same float dtype and device, non-empty). */
function usable(x: Tensor, ...ts: (Tensor | null)[]): boolean {
  if (x.dtype !== "float32" && x.dtype !== "float64") return false;
  if (x.shape[0] === 0 || x.shape[1] === 0) return false;
  return ts.every((t) => !t || (t.dtype === x.dtype && t.device === x.device));
}

/** x (T, N, I) · wᵀ (+ b) as one GEMM over all T·N rows: (T, N, G). */
function projectAll(x: Tensor, w: Tensor, b: Tensor | null): Tensor {
  const [T, N, I] = x.shape as [number, number, number];
  // linear: the bias goes in with the GEMM (addmm), and its gradient comes
  // out of the same backward as the weight's.
  return linear(x.reshape([T * N, I]), w, b).view([T, N, w.shape[0]!]);
}

/** t of the s-th step a direction takes. */
function stepAt(s: number, T: number, reverse: boolean): number {
  return reverse ? T - 1 - s : s;
}

function stack(ts: readonly Tensor[]): Tensor {
  return Tensor.cat(
    ts.map((t) => t.unsqueeze(0)),
    0,
  );
}

/** The h each step started from, as (T, N, H): h0 for the first step, else the previous output. */
function previousStates(outs: Tensor, h0: Tensor, reverse: boolean): Tensor {
  const T = outs.shape[0]!;
  const first = h0.unsqueeze(0);
  return reverse
    ? Tensor.cat([outs.narrow(0, 1, T - 1), first], 0)
    : Tensor.cat([first, outs.narrow(0, 0, T - 1)], 0);
}

/** Σ_t dgates_tᵀ · hPrev_t as one GEMM: (G, T·N) · (T·N, H). */
function weightGrad(dgates: Tensor, hPrev: Tensor): Tensor {
  const [T, N, G] = dgates.shape as [number, number, number];
  const H = hPrev.shape[2]!;
  return dgates
    .reshape([T * N, G])
    .t()
    .matmul(hPrev.reshape([T * N, H]));
}

// ---- LSTM -----------------------------------------------------------------------

/**
 * One LSTM layer over x (T, N, I) from h0, c0 (N, H), or null when the
 * device has no fused LSTM cell. Gates in PyTorch's order i, f, g, o; both
 * biases fold into the input projection (they are only ever summed).
 */
export function fusedLstmLayer(
  x: Tensor,
  h0: Tensor,
  c0: Tensor,
  wIh: Tensor,
  wHh: Tensor,
  bIh: Tensor | null,
  bHh: Tensor | null,
  reverse: boolean,
): FusedRecurrence | null {
  const k = fusedKernels(x.device);
  if (!k.lstmCell || !k.lstmCellBackward || !usable(x, h0, c0, wIh, wHh, bIh, bHh)) return null;
  const bias = bIh && bHh ? bIh.add(bHh) : (bIh ?? bHh);
  const gi = projectAll(x, wIh, bias).contiguous(); // (T, N, 4H)
  const R = lstmRecurrence(k, gi, h0.contiguous(), c0.contiguous(), wHh, reverse);
  const T = gi.shape[0]!;
  return { out: R.narrow(0, 0, T), h: R.select(0, reverse ? 0 : T - 1), c: R.select(0, T) };
}

/** The recurrence as one node: R (T + 1, N, H) from gi (T, N, 4H), h0, c0, W_hh. */
function lstmRecurrence(
  k: FusedKernels,
  gi: Tensor,
  h0: Tensor,
  c0: Tensor,
  wHh: Tensor,
  reverse: boolean,
): Tensor {
  const [T, N] = gi.shape as [number, number];
  const H = wHh.shape[1]!;
  const { dtype, device } = gi;
  const R = Tensor.zeros([T + 1, N, H], dtype, device);
  // c_t of every step but the last, whose c' goes to R's last row: only
  // the backward reads these, as each next step's previous c.
  const C = Tensor.zeros([T, N, H], dtype, device);
  const act = Tensor.zeros([T, N, 5 * H], dtype, device); // gates and tanh c_t
  noGrad(() => {
    if (k.lstmSequence?.(gi, h0, c0, wHh.contiguous(), reverse, R, C, act)) return;
    const wT = wHh.t();
    let h = h0;
    let c = c0;
    for (let s = 0; s < T; s++) {
      const t = stepAt(s, T, reverse);
      const h1 = R.select(0, t);
      const c1 = s === T - 1 ? R.select(0, T) : C.select(0, t);
      k.lstmCell!(gi.select(0, t), h.matmul(wT), c, h1, c1, act.select(0, t));
      h = h1;
      c = c1;
    }
  });
  const wantW = wHh.requiresGrad;
  return record(
    "LstmLayerBackward0",
    R,
    [gi, h0, c0, wHh],
    (g, saved) => {
      const [giS, h0S, c0S, wS, RS, CS, actS] = saved as Tensor[] as [
        Tensor,
        Tensor,
        Tensor,
        Tensor,
        Tensor,
        Tensor,
        Tensor,
      ];
      if (isGradEnabled()) return lstmGradOps(g, giS, h0S, c0S, wS, reverse);
      const gc = g.contiguous();
      const dgi = Tensor.zeros([T, N, 4 * H], dtype, device);
      const dc = Tensor.zeros([N, H], dtype, device); // updated in place, step by step
      const dw = (): Tensor | null =>
        wantW ? weightGrad(dgi, previousStates(RS.narrow(0, 0, T), h0S, reverse)) : null;
      const dh0 = Tensor.zeros([N, H], dtype, device);
      if (k.lstmSequenceBackward?.(gc, actS, c0S, CS, wS.contiguous(), reverse, dgi, dh0, dc)) {
        return [dgi, dh0, dc, dw()];
      }
      let dh: Tensor | null = null;
      for (let s = T - 1; s >= 0; s--) {
        const t = stepAt(s, T, reverse);
        const cPrev = s === 0 ? c0S : CS.select(0, stepAt(s - 1, T, reverse));
        const dgt = dgi.select(0, t);
        const dcIn = s === T - 1 ? gc.select(0, T) : dc;
        k.lstmCellBackward!(gc.select(0, t), dh, dcIn, actS.select(0, t), cPrev, dgt, dc);
        dh = dgt.matmul(wS);
      }
      return [dgi, dh, dc, dw()];
    },
    [gi, h0, c0, wHh, R, C, act],
  );
}

/** 1 − x */
function oneMinus(x: Tensor): Tensor {
  return x.neg().add(1);
}

/**
 * The LSTM node's backward with flint ops (for createGraph): the gates are
 * recomputed from the inputs, then BPTT runs step by step in reverse.
 */
function lstmGradOps(
  g: Tensor,
  gi: Tensor,
  h0: Tensor,
  c0: Tensor,
  w: Tensor,
  reverse: boolean,
): Tensor[] {
  const T = gi.shape[0]!;
  const wT = w.t();
  const steps: { hPrev: Tensor; cPrev: Tensor; gates: Tensor[]; tc: Tensor }[] = [];
  let h = h0;
  let c = c0;
  for (let s = 0; s < T; s++) {
    const t = stepAt(s, T, reverse);
    const [ai, af, ag, ao] = gi.select(0, t).add(h.matmul(wT)).chunk(4, -1) as [
      Tensor,
      Tensor,
      Tensor,
      Tensor,
    ];
    const gates = [ai.sigmoid(), af.sigmoid(), ag.tanh(), ao.sigmoid()];
    const [i, f, gg, o] = gates as [Tensor, Tensor, Tensor, Tensor];
    const c1 = f.mul(c).add(i.mul(gg));
    const tc = c1.tanh();
    steps[t] = { hPrev: h, cPrev: c, gates, tc };
    h = o.mul(tc);
    c = c1;
  }
  const dG = new Array<Tensor>(T);
  let dhRec: Tensor | null = null;
  let dc = g.select(0, T);
  let dw: Tensor | null = null;
  for (let s = T - 1; s >= 0; s--) {
    const t = stepAt(s, T, reverse);
    const { hPrev, cPrev, gates, tc } = steps[t]!;
    const [i, f, gg, o] = gates as [Tensor, Tensor, Tensor, Tensor];
    const dh: Tensor = dhRec ? g.select(0, t).add(dhRec) : g.select(0, t);
    // c' feeds h' = o·tanh c' and the next step's c.
    const dcn = dc.add(dh.mul(o).mul(oneMinus(tc.square())));
    const dgt = Tensor.cat(
      [
        dcn.mul(gg).mul(i.mul(oneMinus(i))),
        dcn.mul(cPrev).mul(f.mul(oneMinus(f))),
        dcn.mul(i).mul(oneMinus(gg.square())),
        dh.mul(tc).mul(o.mul(oneMinus(o))),
      ],
      -1,
    );
    dG[t] = dgt;
    dc = dcn.mul(f);
    dhRec = dgt.matmul(w);
    const dwt = dgt.t().matmul(hPrev);
    dw = dw ? dw.add(dwt) : dwt;
  }
  return [stack(dG), dhRec!, dc, dw!];
}

// ---- GRU ------------------------------------------------------------------------

/**
 * One GRU layer over x (T, N, I) from h0 (N, H), or null when the device
 * has no fused GRU cell. Gates in PyTorch's order r, z, n; b_hh stays apart
 * because its n part is multiplied by r.
 */
export function fusedGruLayer(
  x: Tensor,
  h0: Tensor,
  wIh: Tensor,
  wHh: Tensor,
  bIh: Tensor | null,
  bHh: Tensor | null,
  reverse: boolean,
): FusedRecurrence | null {
  const k = fusedKernels(x.device);
  if (!k.gruCell || !k.gruCellBackward || !usable(x, h0, wIh, wHh, bIh, bHh)) return null;
  const gi = projectAll(x, wIh, bIh).contiguous(); // (T, N, 3H)
  const R = gruRecurrence(k, gi, h0.contiguous(), wHh, bHh, reverse);
  const T = gi.shape[0]!;
  return { out: R, h: R.select(0, reverse ? 0 : T - 1), c: null };
}

/** The recurrence as one node: R (T, N, H) from gi (T, N, 3H), h0, W_hh, b_hh. */
function gruRecurrence(
  k: FusedKernels,
  gi: Tensor,
  h0: Tensor,
  wHh: Tensor,
  bHh: Tensor | null,
  reverse: boolean,
): Tensor {
  const [T, N] = gi.shape as [number, number];
  const H = wHh.shape[1]!;
  const { dtype, device } = gi;
  const R = Tensor.zeros([T, N, H], dtype, device);
  const act = Tensor.zeros([T, N, 4 * H], dtype, device); // r, z, n, gh_n
  noGrad(() => {
    const wT = wHh.t();
    let h = h0;
    for (let s = 0; s < T; s++) {
      const t = stepAt(s, T, reverse);
      const gh = bHh ? h.matmul(wT).add(bHh) : h.matmul(wT);
      const h1 = R.select(0, t);
      k.gruCell!(gi.select(0, t), gh, h, h1, act.select(0, t));
      h = h1;
    }
  });
  const wantW = wHh.requiresGrad;
  const wantB = bHh?.requiresGrad ?? false;
  return record(
    "GruLayerBackward0",
    R,
    [gi, h0, wHh, bHh],
    (g, saved) => {
      const [giS, h0S, wS, RS, actS] = saved as Tensor[] as [
        Tensor,
        Tensor,
        Tensor,
        Tensor,
        Tensor,
      ];
      const bS = saved[5] ?? null;
      if (isGradEnabled()) return gruGradOps(g, giS, h0S, wS, bS, reverse);
      const gc = g.contiguous();
      const dgi = Tensor.zeros([T, N, 3 * H], dtype, device);
      const dgh = Tensor.zeros([T, N, 3 * H], dtype, device);
      const direct = Tensor.zeros([N, H], dtype, device);
      let dh: Tensor | null = null;
      for (let s = T - 1; s >= 0; s--) {
        const t = stepAt(s, T, reverse);
        const hPrev = s === 0 ? h0S : RS.select(0, stepAt(s - 1, T, reverse));
        const dght = dgh.select(0, t);
        k.gruCellBackward!(
          gc.select(0, t),
          dh,
          actS.select(0, t),
          hPrev,
          dgi.select(0, t),
          dght,
          direct,
        );
        dh = dght.matmul(wS).add(direct);
      }
      const dw = wantW ? weightGrad(dgh, previousStates(RS, h0S, reverse)) : null;
      const db = wantB ? dgh.sum([0, 1]) : null;
      return [dgi, dh, dw, db];
    },
    bHh ? [gi, h0, wHh, R, act, bHh] : [gi, h0, wHh, R, act],
  );
}

/** The GRU node's backward with flint ops (for createGraph), gates recomputed from the inputs. */
function gruGradOps(
  g: Tensor,
  gi: Tensor,
  h0: Tensor,
  w: Tensor,
  b: Tensor | null,
  reverse: boolean,
): (Tensor | null)[] {
  const T = gi.shape[0]!;
  const wT = w.t();
  const steps: { hPrev: Tensor; r: Tensor; z: Tensor; n: Tensor; hn: Tensor }[] = [];
  let h = h0;
  for (let s = 0; s < T; s++) {
    const t = stepAt(s, T, reverse);
    const gh = b ? h.matmul(wT).add(b) : h.matmul(wT);
    const [ir, iz, inn] = gi.select(0, t).chunk(3, -1) as [Tensor, Tensor, Tensor];
    const [hr, hz, hn] = gh.chunk(3, -1) as [Tensor, Tensor, Tensor];
    const r = ir.add(hr).sigmoid();
    const z = iz.add(hz).sigmoid();
    const n = inn.add(r.mul(hn)).tanh();
    steps[t] = { hPrev: h, r, z, n, hn };
    h = n.add(z.mul(h.sub(n)));
  }
  const dGi = new Array<Tensor>(T);
  const dGh = new Array<Tensor>(T);
  let dhRec: Tensor | null = null;
  let dw: Tensor | null = null;
  for (let s = T - 1; s >= 0; s--) {
    const t = stepAt(s, T, reverse);
    const { hPrev, r, z, n, hn } = steps[t]!;
    const dh: Tensor = dhRec ? g.select(0, t).add(dhRec) : g.select(0, t);
    // h' = n + z·(h − n)
    const dan = dh.mul(oneMinus(z)).mul(oneMinus(n.square()));
    const dar = dan.mul(hn).mul(r.mul(oneMinus(r)));
    const daz = dh.mul(hPrev.sub(n)).mul(z.mul(oneMinus(z)));
    dGi[t] = Tensor.cat([dar, daz, dan], -1);
    const dgh = Tensor.cat([dar, daz, dan.mul(r)], -1);
    dGh[t] = dgh;
    dhRec = dgh.matmul(w).add(dh.mul(z));
    const dwt = dgh.t().matmul(hPrev);
    dw = dw ? dw.add(dwt) : dwt;
  }
  const dgh = stack(dGh);
  return [stack(dGi), dhRec, dw, b ? dgh.sum([0, 1]) : null];
}
