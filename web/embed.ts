/**
 * The element's demo and test page (embed.html): declares `<x86-vm>` and adds one for the
 * default guest (or the URL's kernel, initrd and cmdline; web/boot-config.ts).
 */
import "./style.css";
import { bootImages } from "./boot-config";
import "./vm/element";

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const { options } = await bootImages(params);
  const element = document.createElement("x86-vm");
  element.id = "default";
  for (const name of ["kernel", "initrd", "vmlinux", "cmdline"] as const) {
    const value = options[name];
    if (typeof value === "string") element.setAttribute(name, value);
  }
  for (const name of ["memory", "cpus"]) {
    const value = params.get(name);
    if (value !== null) element.setAttribute(name, value);
  }
  document.getElementById("guest")?.append(element);
}

main().catch((error: unknown) => {
  const note = document.createElement("p");
  note.setAttribute("role", "alert");
  note.textContent = error instanceof Error ? error.message : String(error);
  document.getElementById("guest")?.append(note);
});
