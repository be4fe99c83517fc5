// fl.nn: modules, layers, init and utils (torch.nn).
export * as functional from "./functional/index.js";
export * as utils from "./utils/index.js";
