// Attention for feature maps: squeeze-and-excitation (channel attention,
// Hu et al. 2018, as torchvision.ops.SqueezeExcitation) and CBAM's channel
// and spatial attention (Woo et al. 2018). Each takes [N, C, H, W] and
// returns the same shape: the input rescaled by weights in (0, 1).
import { Tensor } from "../../tensor/tensor.js";
import { adaptiveAvgPool2d, adaptiveMaxPool2d } from "../functional/pooling.js";
import { Module } from "../module.js";
import { ReLU, Sigmoid } from "./activation.js";
import { Conv2d } from "./conv.js";

/**
 * Squeeze-and-excitation: global average pool → 1×1 conv C→S → ReLU →
 * 1×1 conv S→C → sigmoid, then x · scale.
 * Shapes: x [N, C, H, W] → scale [N, C, 1, 1] → output [N, C, H, W].
 * Keys as torchvision's: fc1.weight [S, C, 1, 1], fc1.bias, fc2.weight [C, S, 1, 1], fc2.bias.
 *
 * @example
 * const se = new nn.SqueezeExcitation(64, 16);
 * se.forward(fl.randn([2, 64, 8, 8])).shape; // [2, 64, 8, 8]
 */
export class SqueezeExcitation extends Module {
  fc1: Conv2d;
  fc2: Conv2d;
  activation = new ReLU();
  scaleActivation = new Sigmoid();

  constructor(
    readonly inputChannels: number,
    readonly squeezeChannels: number,
  ) {
    super();
    this.fc1 = new Conv2d(inputChannels, squeezeChannels, 1);
    this.fc2 = new Conv2d(squeezeChannels, inputChannels, 1);
  }

  /** The per-channel weights, [N, C, 1, 1]. */
  scale(x: Tensor): Tensor {
    const s = adaptiveAvgPool2d(x, 1); // [N, C, 1, 1]
    return this.scaleActivation.forward(
      this.fc2.forward(this.activation.forward(this.fc1.forward(s))),
    );
  }

  override forward(x: Tensor): Tensor {
    return x.mul(this.scale(x));
  }
}

/**
 * CBAM's channel attention: a shared MLP (1×1 convs C→C/r→C, no bias) over
 * both the average- and max-pooled descriptors, summed, then sigmoid.
 * Shapes: x [N, C, H, W] → weights [N, C, 1, 1] → output [N, C, H, W].
 *
 * @example
 * new nn.ChannelAttention(32, 8).forward(fl.randn([2, 32, 6, 6])).shape; // [2, 32, 6, 6]
 */
export class ChannelAttention extends Module {
  fc1: Conv2d;
  relu = new ReLU();
  fc2: Conv2d;

  constructor(
    readonly channels: number,
    readonly reduction = 16,
  ) {
    super();
    const hidden = Math.max(1, Math.floor(channels / reduction));
    this.fc1 = new Conv2d(channels, hidden, 1, { bias: false });
    this.fc2 = new Conv2d(hidden, channels, 1, { bias: false });
  }

  override forward(x: Tensor): Tensor {
    const mlp = (t: Tensor): Tensor => this.fc2.forward(this.relu.forward(this.fc1.forward(t)));
    const w = mlp(adaptiveAvgPool2d(x, 1))
      .add(mlp(adaptiveMaxPool2d(x, 1)))
      .sigmoid(); // [N, C, 1, 1]
    return x.mul(w);
  }
}

/**
 * CBAM's spatial attention: the channel-wise mean and max stacked as two
 * maps, a k×k conv (2→1, padding k/2, no bias), sigmoid.
 * Shapes: x [N, C, H, W] → maps [N, 2, H, W] → weights [N, 1, H, W] → output [N, C, H, W].
 *
 * @example
 * new nn.SpatialAttention(7).forward(fl.randn([2, 32, 6, 6])).shape; // [2, 32, 6, 6]
 */
export class SpatialAttention extends Module {
  conv: Conv2d;

  constructor(readonly kernelSize = 7) {
    super();
    this.conv = new Conv2d(2, 1, kernelSize, { padding: Math.floor(kernelSize / 2), bias: false });
  }

  override forward(x: Tensor): Tensor {
    const maps = Tensor.cat([x.mean(1, { keepdim: true }), x.amax(1, { keepdim: true })], 1); // [N, 2, H, W]
    return x.mul(this.conv.forward(maps).sigmoid());
  }
}

/**
 * CBAM: channel attention, then spatial attention, on [N, C, H, W].
 *
 * @example
 * new nn.CBAM(32).forward(fl.randn([1, 32, 8, 8])).shape; // [1, 32, 8, 8]
 */
export class CBAM extends Module {
  channelAttention: ChannelAttention;
  spatialAttention: SpatialAttention;

  constructor(channels: number, opts: { reduction?: number; kernelSize?: number } = {}) {
    super();
    this.channelAttention = new ChannelAttention(channels, opts.reduction ?? 16);
    this.spatialAttention = new SpatialAttention(opts.kernelSize ?? 7);
  }

  override forward(x: Tensor): Tensor {
    return this.spatialAttention.forward(this.channelAttention.forward(x));
  }
}
