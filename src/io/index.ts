// Saving and loading: safetensors, PyTorch state_dict files, checkpoints.

export type { CheckpointValue } from "./checkpoint.js";
export {
  checkpointFromBytes,
  loadCheckpoint,
  loadCheckpointSync,
  saveCheckpoint,
  saveCheckpointSync,
} from "./checkpoint.js";
export type { Metadata, StateDict } from "./safetensors.js";
export { deserialize, deserializeWithMetadata, serialize } from "./safetensors.js";
export type { SaveOptions } from "./save_load.js";
export { load, loadFromBytes, loadSync, save, saveSync } from "./save_load.js";
export { loadTorchStateDict } from "./torch_pt.js";
