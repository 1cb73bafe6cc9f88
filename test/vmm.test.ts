// The VMM (web/vm/vmm.ts) on worker_threads, as the VMM worker runs it, and createVM's option
// checks (web/vm/options.ts): bad input fails with a message naming what is wrong.
import assert from "node:assert/strict";
import { test } from "node:test";
import { resolveOptions } from "../web/vm/options";
import { Vmm } from "../web/vm/vmm";
import { loadCore, spawnChipset, spawnUart, spawnVcpu } from "../workers/node-host";

const BASE = "http://localhost/page/";

test("options resolve URLs against the page and check memory, cpus and the kernel", () => {
  const request = resolveOptions({ kernel: "../guest/bzImage", initrd: new Uint8Array(4), memory: 64 }, BASE);
  assert.equal(request.kernel, "http://localhost/guest/bzImage");
  assert.equal(request.memoryBytes, 64 << 20);
  assert.equal(request.cmdline, "console=ttyS0");
  assert.equal(request.onGuestReset, "restart");
  assert.throws(() => resolveOptions({ kernel: "k", cpus: 2 }, BASE), /cpus: only 1 vCPU is supported for now, not 2/);
  assert.throws(() => resolveOptions({ kernel: "k", memory: 16 }, BASE), /memory must be a whole number of MiB from 32 to 2048, not 16/);
  assert.throws(() => resolveOptions({ kernel: "k", memory: 100.5 }, BASE), /memory must be a whole number/);
  assert.throws(() => resolveOptions({} as never, BASE), /kernel is required/);
  assert.throws(() => resolveOptions({ kernel: new Uint8Array(0) }, BASE), /kernel: the image is empty/);
  assert.throws(() => resolveOptions({ kernel: 42 } as never, BASE), /kernel must be a URL, a Uint8Array, an ArrayBuffer or a Blob/);
});

test("the VMM rejects a kernel that is not a bzImage with the loader's reason, and a missing image by its URL", async () => {
  const host = { loadCore, spawnVcpu, spawnUart, spawnChipset };
  const { port1, port2 } = new MessageChannel();
  const request = resolveOptions({ kernel: new TextEncoder().encode("not a kernel at all"), memory: 32 }, BASE);
  await assert.rejects(new Vmm(host).boot(request, port2), /the kernel image is 19 bytes: too short to hold a Linux boot header/);
  port1.close();

  const server = await import("node:http").then(({ createServer }) => createServer((_, response) => {
    response.writeHead(404, { "Content-Type": "text/plain" });
    response.end('not in the guest cache: run "npm run guest:fetch"');
  }));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const { port } = server.address() as { port: number };
    const missing = new MessageChannel();
    const url = `http://127.0.0.1:${port}/guest/nothing`;
    await assert.rejects(new Vmm(host).boot(resolveOptions({ kernel: url }, BASE), missing.port2), {
      message: `the kernel ${url} is missing (404 Not Found): not in the guest cache: run "npm run guest:fetch"`,
    });
    missing.port1.close();
  } finally {
    server.close();
  }
});
