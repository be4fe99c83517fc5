// fl.train: helpers for training loops.
export { type Checkpointable, EarlyStopping, type EarlyStoppingOptions } from "./early_stopping.js";
