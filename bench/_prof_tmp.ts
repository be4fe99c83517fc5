import * as fl from "../src/index.js";
fl.setNumThreads(1);
const model = new fl.nn.Sequential(new fl.nn.Linear(784,512), new fl.nn.ReLU(), new fl.nn.Linear(512,256), new fl.nn.ReLU(), new fl.nn.Linear(256,10));
const opt = new fl.optim.Adam(model.parameters(), { lr: 1e-3 });
const x = fl.randn([128,784]); const y = fl.randint(0,10,[128]);
const step = () => { opt.zeroGrad(); const l = fl.nn.functional.crossEntropy(model.forward(x), y); l.backward(); opt.step(); return l.itemSync(); };
for (let i=0;i<5;i++) step();
const t0 = performance.now(); for (let i=0;i<40;i++) step(); console.log("mlp ms", (performance.now()-t0)/40);
