// gradcheck for a module: its forward as a function of the inputs and of
// every parameter, which are swapped in for the duration of each call.
import * as fl from "../../src/index.js";

/**
 * Runs fl.autograd.gradcheck on run(...inputs) with respect to the
 * float inputs and all parameters of m (cast to float64 first).
 */
export function gradcheckModule(
  m: fl.nn.Module,
  inputs: fl.Tensor[],
  run: (...inputs: fl.Tensor[]) => fl.Tensor | fl.Tensor[],
  opts: { atol?: number; rtol?: number } = {},
): boolean {
  m.to("float64");
  const named = m.namedParameters();
  const owners = named.map(([name]) => {
    const i = name.lastIndexOf(".");
    return [
      m.getSubmodule(i < 0 ? "" : name.slice(0, i)) as unknown as Record<string, unknown>,
      name.slice(i + 1),
    ] as const;
  });
  const fn = (...all: fl.Tensor[]) => {
    const ins = all.slice(0, inputs.length);
    const params = all.slice(inputs.length);
    const saved = owners.map(([o, k]) => o[k]);
    owners.forEach(([o, k], i) => {
      o[k] = params[i];
    });
    try {
      return run(...ins);
    } finally {
      owners.forEach(([o, k], i) => {
        o[k] = saved[i];
      });
    }
  };
  const params = named.map(([, p]) => p.detach().requiresGrad_(true));
  return fl.autograd.gradcheck(fn, [...inputs, ...params], opts);
}

/** A float64 leaf that requires grad. */
export function leaf(shape: number[]): fl.Tensor {
  return fl.randn(shape, { dtype: "float64" }).requiresGrad_(true);
}
