// Saving and loading: safetensors, PyTorch state_dict files, checkpoints.
export {};
