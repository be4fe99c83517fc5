// Entry point when run from source: node --import tsx src/cli/run.ts train …
import { main } from "./main.js";

await main();
