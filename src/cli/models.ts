// The models the `flint train` command knows, with the attribute names a
// PyTorch user would give them, so state_dict keys match (fc1.weight, …).
import * as nn from "../nn/index.js";
import type { Tensor } from "../tensor/tensor.js";

/** The tutorial's fully connected net: Linear → ReLU → Linear. */
export class FCNet extends nn.Module {
  fc1: nn.Linear;
  relu = new nn.ReLU();
  fc2: nn.Linear;

  constructor(inFeatures: number, hidden: number, classes: number) {
    super();
    this.fc1 = new nn.Linear(inFeatures, hidden);
    this.fc2 = new nn.Linear(hidden, classes);
  }

  override forward(x: Tensor): Tensor {
    return this.fc2.forward(this.relu.forward(this.fc1.forward(x)));
  }
}

/** A deeper MLP: in → 256 → 128 → classes with ReLU (and optional dropout). */
export class MLP extends nn.Module {
  layers: nn.Sequential;

  constructor(inFeatures: number, classes: number, opts: { hidden?: number[]; dropout?: number } = {}) {
    super();
    const sizes = [inFeatures, ...(opts.hidden ?? [256, 128])];
    const mods: nn.Module[] = [];
    for (let i = 0; i + 1 < sizes.length; i++) {
      mods.push(new nn.Linear(sizes[i]!, sizes[i + 1]!), new nn.ReLU());
      if (opts.dropout) mods.push(new nn.Dropout(opts.dropout));
    }
    mods.push(new nn.Linear(sizes[sizes.length - 1]!, classes));
    this.layers = new nn.Sequential(...mods);
  }

  override forward(x: Tensor): Tensor {
    return this.layers.forward(x) as Tensor;
  }
}

export type ModelName = "fcnet" | "mlp";

export function buildModel(name: ModelName, inFeatures: number, classes: number, opts: { hidden?: number; dropout?: number } = {}): nn.Module {
  if (name === "fcnet") return new FCNet(inFeatures, opts.hidden ?? 128, classes);
  return new MLP(inFeatures, classes, { dropout: opts.dropout });
}
