#!/usr/bin/env node
// The installed `flint` command: runs the built CLI (npm run build first when working from source).
import { main } from "../dist/cli/main.js";

await main();
