/**
 * An xterm.js terminal as a VM's console, for the page and the <x86-vm> element alike: output
 * into the terminal, keys to the guest, the terminal sized to its container, its text for tests.
 */
import type { Terminal } from "@xterm/xterm";
import type { VM } from "./vm";

/** Width xterm.js keeps for its vertical scrollbar when there is scrollback (its default). */
const SCROLLBAR_PX = 14;

/** Connects a VM's console to a terminal; returns a function that disconnects it. */
export function attachConsole(terminal: Terminal, vm: VM): () => void {
  const output = vm.on("console", (bytes) => terminal.write(bytes));
  const input = terminal.onData((data) => {
    if (vm.state() !== "ended") vm.console.write(data);
  });
  return () => {
    output();
    input.dispose();
  };
}

/** The terminal's text: one line per line the guest wrote (rows it wrapped are joined), trailing blanks trimmed. */
export function terminalText(terminal: Terminal): string {
  const buffer = terminal.buffer.active;
  const lines: string[] = [];
  for (let row = 0; row < buffer.length; row++) {
    const line = buffer.getLine(row);
    const text = line?.translateToString(true) ?? "";
    if (line?.isWrapped && lines.length > 0) lines[lines.length - 1] += text;
    else lines.push(text);
  }
  return lines.join("\n").trimEnd();
}

/**
 * Keeps the terminal's columns and rows filling `container` as it resizes. The cell size comes
 * from the rendered screen (its size over the current columns and rows), so fonts need not be
 * measured here. Returns a function that stops following.
 */
export function fitToContainer(terminal: Terminal, container: HTMLElement): () => void {
  const fit = (): void => {
    const screen = terminal.element?.querySelector<HTMLElement>(".xterm-screen");
    if (!screen || screen.offsetWidth === 0 || screen.offsetHeight === 0) return;
    const cellWidth = screen.offsetWidth / terminal.cols;
    const cellHeight = screen.offsetHeight / terminal.rows;
    const style = getComputedStyle(container);
    const width = container.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - (terminal.options.scrollback ? SCROLLBAR_PX : 0);
    const height = container.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
    const cols = Math.max(2, Math.floor(width / cellWidth));
    const rows = Math.max(1, Math.floor(height / cellHeight));
    if (cols !== terminal.cols || rows !== terminal.rows) terminal.resize(cols, rows);
  };
  const observer = new ResizeObserver(() => fit());
  observer.observe(container);
  fit();
  return () => observer.disconnect();
}
