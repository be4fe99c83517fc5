// fl.autograd: the autograd namespace, as torch.autograd.
export { backward, grad } from "./engine.js";
export type { BackwardOptions, GradOptions } from "./engine.js";
export { gradcheck, gradgradcheck } from "./gradcheck.js";
export type { GradcheckOptions } from "./gradcheck.js";
export { detectAnomaly, setDetectAnomaly, isAnomalyEnabled, noGrad, enableGrad, isGradEnabled, setGradEnabled } from "./grad_mode.js";
export { Node } from "./node.js";
