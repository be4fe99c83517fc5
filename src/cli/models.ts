// The models the `flint train` command knows, with the attribute names a
// PyTorch user would give them, so state_dict keys match (fc1.weight, …).
import { ArgumentError } from "../errors.js";
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

  constructor(
    inFeatures: number,
    classes: number,
    opts: { hidden?: number[]; dropout?: number } = {},
  ) {
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

/**
 * LeNet-5 for 28×28 grey images (Fashion-MNIST); flat [N, 784] rows are
 * viewed as [N, 1, 28, 28]. conv(6, 5×5, pad 2) → pool → conv(16, 5×5) →
 * pool → 120 → 84 → classes, as in examples/lenet.ts.
 */
export class LeNet5 extends nn.Module {
  conv1 = new nn.Conv2d(1, 6, 5, { padding: 2 });
  conv2 = new nn.Conv2d(6, 16, 5);
  fc1 = new nn.Linear(16 * 5 * 5, 120);
  fc2 = new nn.Linear(120, 84);
  fc3: nn.Linear;

  constructor(classes = 10) {
    super();
    this.fc3 = new nn.Linear(84, classes);
  }

  override forward(x: Tensor): Tensor {
    const F = nn.functional;
    let h = x.ndim === 2 ? x.view([-1, 1, 28, 28]) : x;
    h = F.maxPool2d(F.relu(this.conv1.forward(h)), 2); // [N, 6, 14, 14]
    h = F.maxPool2d(F.relu(this.conv2.forward(h)), 2).flatten(1); // [N, 400]
    return this.fc3.forward(F.relu(this.fc2.forward(F.relu(this.fc1.forward(h)))));
  }
}

export type ModelName = "fcnet" | "mlp" | "lenet";

export function buildModel(
  name: ModelName,
  inFeatures: number,
  classes: number,
  opts: { hidden?: number; dropout?: number } = {},
): nn.Module {
  if (name === "fcnet") return new FCNet(inFeatures, opts.hidden ?? 128, classes);
  if (name === "lenet") {
    if (inFeatures !== 784)
      throw new ArgumentError(`train: lenet needs 28×28 images (784 features), got ${inFeatures}`);
    return new LeNet5(classes);
  }
  return new MLP(inFeatures, classes, { dropout: opts.dropout });
}
