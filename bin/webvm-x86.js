#!/usr/bin/env node
// The command-line entry (package.json "bin"): registers tsx so Node runs the TypeScript CLI
// (workers/cli.ts) as it is, then hands it the arguments and exits with its status.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../workers/cli.ts");
process.exit(await main(process.argv.slice(2)));
