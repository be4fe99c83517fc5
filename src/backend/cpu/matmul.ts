import { allocArray, type DType } from "../../dtype.js";
import type { View } from "../backend.js";
import { elementOffsets } from "./iterate.js";
import { dataOf } from "./storage.js";

/**
 * Reference batched matmul: a [..., M, K] @ b [..., K, N]. Each batch packs
 * its operands row-major into float64 scratch (so any stride, transposed or
 * broadcast, costs one pass) and runs an i-k-j loop over four rows of A at
 * a time, which reuses each row of B four times from cache.
 */
export function matmulKernel(a: View, b: View, outDtype: DType) {
  const nd = a.shape.length;
  const M = a.shape[nd - 2]!;
  const K = a.shape[nd - 1]!;
  const N = b.shape[nd - 1]!;
  const batchShape = a.shape.slice(0, nd - 2);
  const aBatch = elementOffsets(batchShape, a.strides.slice(0, nd - 2), a.offset);
  const bBatch = elementOffsets(batchShape, b.strides.slice(0, nd - 2), b.offset);
  const B = aBatch.length;
  const out = allocArray(outDtype, B * M * N);
  const ad = dataOf(a);
  const bd = dataOf(b);
  const sam = a.strides[nd - 2]!;
  const sak = a.strides[nd - 1]!;
  const sbk = b.strides[nd - 2]!;
  const sbn = b.strides[nd - 1]!;
  const A = new Float64Array(M * K);
  const Bm = new Float64Array(K * N);
  const C = new Float64Array(M * N);
  for (let bi = 0; bi < B; bi++) {
    const oa = aBatch[bi]!;
    const ob = bBatch[bi]!;
    for (let i = 0; i < M; i++)
      for (let k = 0; k < K; k++) A[i * K + k] = ad[oa + i * sam + k * sak]!;
    for (let k = 0; k < K; k++)
      for (let j = 0; j < N; j++) Bm[k * N + j] = bd[ob + k * sbk + j * sbn]!;
    C.fill(0);
    let i = 0;
    for (; i + 4 <= M; i += 4) {
      const c0 = i * N;
      const c1 = c0 + N;
      const c2 = c1 + N;
      const c3 = c2 + N;
      for (let k = 0; k < K; k++) {
        const a0 = A[i * K + k]!;
        const a1 = A[(i + 1) * K + k]!;
        const a2 = A[(i + 2) * K + k]!;
        const a3 = A[(i + 3) * K + k]!;
        const bk = k * N;
        for (let j = 0; j < N; j++) {
          const bv = Bm[bk + j]!;
          C[c0 + j] += a0 * bv;
          C[c1 + j] += a1 * bv;
          C[c2 + j] += a2 * bv;
          C[c3 + j] += a3 * bv;
        }
      }
    }
    for (; i < M; i++) {
      const c0 = i * N;
      for (let k = 0; k < K; k++) {
        const a0 = A[i * K + k]!;
        const bk = k * N;
        for (let j = 0; j < N; j++) C[c0 + j] += a0 * Bm[bk + j]!;
      }
    }
    out.set(C as never, bi * M * N);
  }
  return out;
}
