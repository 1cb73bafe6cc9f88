// Debian's kernel and busybox initramfs booted by the command line (`webvm-x86 run`) with the
// console on stdio, driven as a user would: commands typed into the shell, answers read back and
// checked against what a PC running Linux reports.
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { GUEST_READY_MARKER } from "../workers/boot/initramfs";

const manifest = new URL("../guest/default.json", import.meta.url);
const cli = new URL("../bin/webvm-x86.js", import.meta.url).pathname;
/** The shell's prompt, then its line editor asking the terminal where the cursor is (ESC [ 6 n). */
const PROMPT = /\/root # (\x1b\[6n)?$/;
/** Boot to the shell takes minutes on the interpreter; the whole suite gets this long. */
const BOOT_TIMEOUT_MS = 600_000;

/** The serial console as a test sees it: everything printed so far, and a way to wait for more. */
class SerialConsole {
  text = "";
  private waiters: (() => void)[] = [];
  private commands = 0;

  constructor(readonly process: ChildProcessWithoutNullStreams) {
    process.stdout.on("data", (chunk: Buffer) => {
      this.text += chunk.toString("latin1");
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  /** Resolves with the text from `from` up to the end of the first match of `pattern` after it. */
  async waitFor(pattern: RegExp, timeoutMs: number, from = 0): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.text.slice(from));
      if (match) return this.text.slice(from, from + match.index + match[0].length);
      if (this.process.exitCode !== null) throw new Error(`the VM exited (${this.process.exitCode}) before ${pattern}:\n${this.text.slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`no ${pattern} within ${timeoutMs} ms:\n${this.text.slice(-2000)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 1000);
      });
    }
  }

  /** Types a command line at the prompt and returns what it printed (the echoed line excluded). */
  async run(command: string, timeoutMs = 60_000): Promise<string> {
    await this.waitFor(PROMPT, timeoutMs, this.text.length - 16);
    const marker = `done-${++this.commands}`;
    const from = this.text.length;
    // The marker is split in the typed line, so the terminal's echo of it does not match; the
    // echo may wrap, so the output starts after the line that ends with the typed marker.
    const typedMarker = `"${marker.slice(0, 3)}""${marker.slice(3)}"`;
    this.process.stdin.write(`${command}; echo ${typedMarker}\n`);
    const output = await this.waitFor(new RegExp(`\\r?\\n${marker}\\r?\\n`), timeoutMs, from);
    const echoed = output.indexOf(typedMarker);
    return output.slice(output.indexOf("\n", echoed) + 1, output.lastIndexOf(marker)).replace(/\r?\n$/, "").replace(/\r/g, "");
  }
}

describe("Debian's kernel on the PC, from the command line", { skip: !existsSync(manifest) && "no cached guest (npm run guest:fetch)", timeout: BOOT_TIMEOUT_MS }, () => {
  let vm: SerialConsole;
  let bootSeconds = 0;

  before(async () => {
    const started = Date.now();
    vm = new SerialConsole(spawn(process.execPath, [cli, "run"], { stdio: "pipe" }));
    await vm.waitFor(new RegExp(GUEST_READY_MARKER), BOOT_TIMEOUT_MS);
    await vm.waitFor(PROMPT, 60_000);
    bootSeconds = (Date.now() - started) / 1000;
    // A pipe has no window size: tell the line editor the line is long, so no echo wraps.
    await vm.run("stty cols 250");
  });

  after(() => {
    vm?.process.kill();
  });

  it("reaches the busybox shell", () => {
    assert.ok(bootSeconds > 0, `booted in ${bootSeconds.toFixed(1)} s`);
  });

  it("uname -a names Debian's 686 kernel on an i686", async () => {
    const uname = await vm.run("uname -a");
    assert.match(uname, /^Linux \S+ 6\.1\.0-\d+-686 #1 SMP PREEMPT_DYNAMIC Debian .* i686 GNU\/Linux$/m);
  });

  it("/proc/cpuinfo shows the x87 and the features the core offers", async () => {
    const cpuinfo = await vm.run("cat /proc/cpuinfo");
    assert.match(cpuinfo, /^processor\s*: 0$/m);
    assert.match(cpuinfo, /^fpu\s*: yes$/m);
    const flags = /^flags\s*: (.*)$/m.exec(cpuinfo)?.[1].split(" ") ?? [];
    for (const flag of ["fpu", "tsc", "pae", "cx8", "apic", "sep", "pge", "cmov", "fxsr", "hypervisor", "tsc_deadline_timer"]) assert.ok(flags.includes(flag), `flag ${flag} in ${flags.join(" ")}`);
  });

  it("/proc/interrupts: the timer and ttyS0 through the IO-APIC, ttyS0 counting", async () => {
    const interrupts = await vm.run("cat /proc/interrupts");
    assert.match(interrupts, /^\s*0:\s+\d+\s+IO-APIC\s+2-edge\s+timer$/m);
    const serial = /^\s*4:\s+(\d+)\s+IO-APIC\s+4-edge\s+ttyS0$/m.exec(interrupts);
    assert.ok(serial && Number(serial[1]) > 0, `ttyS0 interrupts in:\n${interrupts}`);
    assert.match(interrupts, /^\s*LOC:\s+[1-9]\d*\s+Local timer interrupts$/m);
  });

  it("kvm-clock is the clocksource", async () => {
    assert.match(await vm.run("dmesg | grep -i clocksource"), /Switched to clocksource kvm-clock/);
    assert.equal(await vm.run("cat /sys/devices/system/clocksource/clocksource0/current_clocksource"), "kvm-clock");
  });

  it("date agrees with the host's clock", async () => {
    const guest = Number(await vm.run("date +%s"));
    assert.ok(Math.abs(guest - Date.now() / 1000) < 30, `guest ${guest}, host ${Date.now() / 1000}`);
  });

  it("a file written to tmpfs reads back", async () => {
    assert.match(await vm.run("mount | grep ' /tmp '"), /^tmpfs on \/tmp type tmpfs/m);
    await vm.run("echo written by the guest > /tmp/file");
    assert.equal(await vm.run("cat /tmp/file"), "written by the guest");
  });

  it("ACPI: tables found without complaint, the MADT used, the SCI on IRQ 9, the PM timer registered", async (t) => {
    const acpi = await vm.run("dmesg | grep -i -e acpi -e rsdp -e pm-timer");
    assert.doesNotMatch(acpi, /error|warning|RSDP was not found|Interpreter disabled/i);
    assert.match(acpi, /ACPI: Using ACPI \(MADT\) for SMP configuration information/);
    assert.match(acpi, /ACPI: INT_SRC_OVR \(bus 0 bus_irq 0 global_irq 2 dfl dfl\)/);
    assert.match(acpi, /ACPI: PM-Timer IO Port: 0x608/);
    assert.match(acpi, /ACPI: Interpreter enabled/);
    assert.match(acpi, /ACPI: PM: \(supports S0 S5\)/);
    // A 32-bit kernel times the PM timer against the PIT over 20 ms and wants 5% (verify_pmtmr_rate):
    // a host busy enough to stall the vCPU for 1 ms there makes it refuse the timer, and no more.
    const refused = /PM-Timer running at invalid rate: \d+% of normal/.exec(acpi);
    if (refused) t.diagnostic(`the host stalled the guest while it timed the PM timer: ${refused[0]}`);
    else assert.match(acpi, /clocksource: acpi_pm: mask: 0xffffff /);
    assert.match(await vm.run("cat /proc/interrupts"), /^\s*9:\s+\d+\s+IO-APIC\s+9-fasteoi\s+acpi$/m);
  });

  // Last: it ends the VM.
  it("poweroff turns the PC off through ACPI S5, and the command exits 0", async () => {
    const exited = new Promise<number | null>((resolve) => vm.process.once("exit", resolve));
    vm.process.stdin.write("poweroff\n");
    assert.equal(await exited, 0);
    assert.match(vm.text, /reboot: Power down/);
  });
});

describe("a kernel panic, from the command line", { skip: !existsSync(manifest) && "no cached guest (npm run guest:fetch)", timeout: BOOT_TIMEOUT_MS }, () => {
  it("reaches the pvpanic device and ends the command with status 5", async () => {
    const vm = new SerialConsole(spawn(process.execPath, [cli, "run"], { stdio: "pipe" }));
    try {
      await vm.waitFor(PROMPT, BOOT_TIMEOUT_MS);
      assert.match(await vm.run("ls /sys/bus/acpi/devices"), /QEMU0001:00/, "the DSDT's pvpanic device");
      assert.match(await vm.run("cat /proc/modules"), /^pvpanic_mmio /m, "its driver, loaded by /init");
      const exited = new Promise<number | null>((resolve) => vm.process.once("exit", resolve));
      vm.process.stdin.write("echo c > /proc/sysrq-trigger\n");
      assert.equal(await exited, 5);
      assert.match(vm.text, /Kernel panic - not syncing: sysrq triggered crash/);
    } finally {
      vm.process.kill();
    }
  });
});
