// fl.nn.utils: clipGradNorm_, clipGradValue_, parametrizations.
export {};
