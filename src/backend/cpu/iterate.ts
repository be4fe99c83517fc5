/**
 * Walking strided views. Adjacent dimensions that are laid out back to back
 * in every view are merged first, so most walks become one or two loops;
 * kernels then get one callback per innermost row, not per element.
 */

export interface Walk {
  shape: number[];
  strides: number[][];
}

/** Drops size-1 dims and merges dims that are contiguous with each other in every view. */
export function coalesce(shape: readonly number[], strides: readonly (readonly number[])[]): Walk {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const size = shape[d]!;
    if (size === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0) {
      let mergeable = true;
      for (let v = 0; v < strides.length; v++) {
        if (outStrides[v]![last] !== strides[v]![d]! * size) {
          mergeable = false;
          break;
        }
      }
      if (mergeable) {
        outShape[last] = outShape[last]! * size;
        for (let v = 0; v < strides.length; v++) outStrides[v]![last] = strides[v]![d]!;
        continue;
      }
    }
    outShape.push(size);
    for (let v = 0; v < strides.length; v++) outStrides[v]!.push(strides[v]![d]!);
  }
  if (outShape.length === 0) {
    outShape.push(1);
    for (const s of outStrides) s.push(0);
  }
  return { shape: outShape, strides: outStrides };
}

/**
 * Calls row(offsets, n, innerStrides) once per innermost row of a walk over
 * `shape`, where offsets[v] is the start of the row in view v.
 */
export function forEachRow(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
  offsets: readonly number[],
  row: (offsets: number[], n: number, inner: number[]) => void,
): void {
  for (const d of shape) if (d === 0) return;
  const w = coalesce(shape, strides);
  const nd = w.shape.length;
  const nv = strides.length;
  const n = w.shape[nd - 1]!;
  const inner = w.strides.map((s) => s[nd - 1]!);
  const pos = offsets.slice();
  if (nd === 1) {
    row(pos, n, inner);
    return;
  }
  const counter = new Array<number>(nd - 1).fill(0);
  let rows = 1;
  for (let d = 0; d < nd - 1; d++) rows *= w.shape[d]!;
  const cur = pos.slice();
  for (let r = 0; r < rows; r++) {
    for (let v = 0; v < nv; v++) cur[v] = pos[v]!;
    row(cur, n, inner);
    // Advance the odometer over the outer dims.
    for (let d = nd - 2; d >= 0; d--) {
      counter[d]!++;
      if (counter[d]! < w.shape[d]!) {
        for (let v = 0; v < nv; v++) pos[v] = pos[v]! + w.strides[v]![d]!;
        break;
      }
      counter[d] = 0;
      for (let v = 0; v < nv; v++) pos[v] = pos[v]! - w.strides[v]![d]! * (w.shape[d]! - 1);
    }
  }
}

/** The storage offset of every element of a view, in row-major order. */
export function elementOffsets(
  shape: readonly number[],
  strides: readonly number[],
  offset: number,
): Int32Array {
  let size = 1;
  for (const d of shape) size *= d;
  const out = new Int32Array(size);
  let k = 0;
  forEachRow(shape, [strides], [offset], (off, n, inner) => {
    let p = off[0]!;
    const s = inner[0]!;
    for (let i = 0; i < n; i++, p += s) out[k++] = p;
  });
  return out;
}
