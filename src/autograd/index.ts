// fl.autograd: the autograd namespace, as torch.autograd.

export type { BackwardOptions, GradOptions } from "./engine.js";
export { backward, grad } from "./engine.js";
export {
  detectAnomaly,
  enableGrad,
  isAnomalyEnabled,
  isGradEnabled,
  noGrad,
  setDetectAnomaly,
  setGradEnabled,
} from "./grad_mode.js";
export type { GradcheckOptions } from "./gradcheck.js";
export { gradcheck, gradgradcheck } from "./gradcheck.js";
export { Node } from "./node.js";
