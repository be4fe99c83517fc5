// fl.optim.lrScheduler (torch.optim.lr_scheduler): step() once per epoch, after optimizer.step().

export { CosineAnnealingLR } from "./cosine_lr.js";
export { LambdaLR, type LrLambda } from "./lambda_lr.js";
export { LinearLR, type LinearLROptions } from "./linear_lr.js";
export { OneCycleLR, type OneCycleLROptions } from "./one_cycle_lr.js";
export { ReduceLROnPlateau, type ReduceLROnPlateauOptions } from "./reduce_lr_on_plateau.js";
export { LRScheduler, type SchedulerStateDict } from "./scheduler.js";
export { SequentialLR } from "./sequential_lr.js";
export { ExponentialLR, MultiStepLR, StepLR } from "./step_lr.js";
