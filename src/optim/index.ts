// fl.optim (torch.optim): optimizers and lrScheduler.
export {};
