/**
 * The VM handle API: `createVM(options)` boots a PC in a VMM worker of its own and returns a `VM`
 * to control it (pause, resume, reset, powerOff, stop, stats), listen to it (`on("state" |
 * "console" | "fate")`) and drive its console (`vm.console.text()`, `write()`, `waitFor()`).
 * The `<x86-vm>` element is in ./element.ts.
 */
export { createVM, VM, NOT_ISOLATED_MESSAGE } from "./vm";
export { ConsoleTimeoutError, VMConsole, VMEndedError } from "./console";
export { VMOptionsError } from "./options";
export type { ConsoleMatch, ImageSource, VMEvents, VMFate, VMOptions, VMState, VMStats, WaitForOptions } from "./types";
