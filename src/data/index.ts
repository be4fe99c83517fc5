// fl.data (torch.utils.data): datasets, samplers, DataLoader, bundled data sets.
export {};
