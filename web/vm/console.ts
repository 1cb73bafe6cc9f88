/**
 * A VM's console as automation sees it: the guest's output as plain text, waits for text to
 * appear, and typing. Expect-style: each wait searches from the end of the previous match, so
 * waiting for the prompt after a command finds the next prompt, not the last one.
 */
import type { ConsoleMatch, VMFate, WaitForOptions } from "./types";

export const DEFAULT_WAIT_MS = 30_000;

/** A console wait that ran out of time. */
export class ConsoleTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConsoleTimeoutError";
  }
}

/** A console wait or write on a VM that has ended. */
export class VMEndedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "VMEndedError";
  }
}

/**
 * Terminal control sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), charset
 * selection (ESC ( B) and the other two-byte escapes. Automation matches what a reader sees.
 */
const CONTROL = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()*+][0-~]|\x1b[=>78DEHMNOPZc\\]|\r/g;
/** The longest escape sequence held back while its end has not arrived yet. */
const MAX_HELD = 256;

interface Waiter {
  pattern: RegExp | string;
  from: number;
  resolve(match: ConsoleMatch): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

const describe = (pattern: RegExp | string): string => (typeof pattern === "string" ? JSON.stringify(pattern) : String(pattern));

export class VMConsole {
  private readonly decoder = new TextDecoder();
  private readonly encoder = new TextEncoder();
  private content = "";
  /** Decoded text whose escape sequence has not ended yet. */
  private held = "";
  /** Where the next wait starts searching: the end of the latest match. */
  private cursor = 0;
  private readonly waiters = new Set<Waiter>();
  private ended: VMFate | undefined;

  constructor(private readonly send: (bytes: Uint8Array) => void) {}

  /** Everything the guest wrote so far, as text: UTF-8, without terminal control sequences or carriage returns. */
  text(): string {
    return this.content;
  }

  /** Types `text` (or bytes) on the console's line; "\n" is Enter. */
  write(text: string | Uint8Array): void {
    if (this.ended) throw new VMEndedError(`the VM has ended (${this.ended.reason}): nobody reads its console`);
    if (typeof text !== "string" && !(text instanceof Uint8Array)) throw new TypeError("console.write takes a string or a Uint8Array");
    this.send(typeof text === "string" ? this.encoder.encode(text) : text);
  }

  /**
   * Resolves when `pattern` appears in the output after the previous match (or already has), and
   * moves the search start past it. Rejects with ConsoleTimeoutError after `timeout` ms, or
   * VMEndedError if the VM ends first.
   */
  waitFor(pattern: string | RegExp, options: WaitForOptions = {}): Promise<ConsoleMatch> {
    if (typeof pattern !== "string" && !(pattern instanceof RegExp)) return Promise.reject(new TypeError("console.waitFor takes a string or a RegExp"));
    if (pattern === "") return Promise.reject(new TypeError("console.waitFor: the text to wait for is empty"));
    const timeout = options.timeout ?? DEFAULT_WAIT_MS;
    if (!(timeout >= 0)) return Promise.reject(new RangeError(`console.waitFor: timeout must be a number of ms, not ${String(timeout)}`));
    // A global or sticky RegExp keeps state between searches; a copy without those flags does not.
    const search = typeof pattern === "string" ? pattern : new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ""));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        pattern: search,
        from: this.cursor,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new ConsoleTimeoutError(`console.waitFor(${describe(pattern)}) timed out after ${timeout} ms; the console ends with: ${JSON.stringify(this.content.slice(-200))}`));
        }, timeout),
      };
      if (this.check(waiter)) return;
      if (this.ended) return this.fail(waiter);
      this.waiters.add(waiter);
    });
  }

  /** The page side's entry for output bytes. */
  receive(bytes: Uint8Array): void {
    const text = this.held + this.decoder.decode(bytes, { stream: true });
    const escape = text.lastIndexOf("\x1b");
    let complete = text;
    this.held = "";
    if (escape >= 0 && text.length - escape < MAX_HELD) {
      CONTROL.lastIndex = escape;
      const found = CONTROL.exec(text);
      if (found?.index !== escape) {
        complete = text.slice(0, escape);
        this.held = text.slice(escape);
      }
    }
    this.content += complete.replace(CONTROL, "");
    for (const waiter of [...this.waiters]) this.check(waiter);
  }

  /** The VM ended: pending and later waits reject, writes throw. */
  end(fate: VMFate): void {
    this.ended = fate;
    this.content += this.held;
    this.held = "";
    for (const waiter of [...this.waiters]) this.check(waiter) || this.fail(waiter);
  }

  private check(waiter: Waiter): boolean {
    const rest = this.content.slice(waiter.from);
    let index: number;
    let text: string;
    let captures: (string | undefined)[] = [];
    if (typeof waiter.pattern === "string") {
      index = rest.indexOf(waiter.pattern);
      text = waiter.pattern;
    } else {
      const found = waiter.pattern.exec(rest);
      index = found ? found.index : -1;
      text = found?.[0] ?? "";
      captures = found ? found.slice(1) : [];
    }
    if (index < 0) return false;
    this.settle(waiter);
    const start = waiter.from + index;
    this.cursor = Math.max(this.cursor, start + text.length);
    waiter.resolve({ text, index: start, captures, before: rest.slice(0, index) });
    return true;
  }

  private fail(waiter: Waiter): void {
    this.settle(waiter);
    waiter.reject(new VMEndedError(`console.waitFor(${describe(waiter.pattern)}): the VM ended (${this.ended!.reason}${this.ended!.reason === "failed" ? `: ${this.ended!.message}` : ""}) first`));
  }

  private settle(waiter: Waiter): void {
    clearTimeout(waiter.timer);
    this.waiters.delete(waiter);
  }
}
