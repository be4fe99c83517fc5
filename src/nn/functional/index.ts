// fl.nn.functional (torch.nn.functional): activations, softmax, losses, attention.
export {};
