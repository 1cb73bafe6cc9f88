// Makes the vCPU block show the architectural state as of the start of the current instruction,
// for an exit taken in the middle of it (a device access the owner handles).

import { REG_RIP_U64 } from "../abi/layout";
import { storeFlags } from "./flags";
import { cpu, startEip } from "./state";

export function syncForExit(): void {
  store<u64>(cpu + REG_RIP_U64, <u64>startEip);
  storeFlags();
}
