/**
 * apt-get and apt-cache over a private state (lists, cache, status, sources) under one folder,
 * for i386 only, so fetching guest packages never touches the host's apt state or needs the
 * host to have i386 enabled. The host's sources are copied with their architecture forced to
 * i386; its apt.conf (proxies, for instance) still applies.
 */
import { spawn } from "node:child_process";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface CommandResult { code: number; stdout: string; stderr: string }

/** The program is not installed (spawn gave ENOENT). */
export class MissingCommandError extends Error {
  constructor(readonly command: string) {
    super(`${command} is not installed`);
    this.name = "MissingCommandError";
  }
}

export async function run(command: string, args: readonly string[], cwd?: string): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => { stdout += s; });
    child.stderr.setEncoding("utf8").on("data", (s: string) => { stderr += s; });
    child.on("error", (error: NodeJS.ErrnoException) => reject(error.code === "ENOENT" ? new MissingCommandError(command) : error));
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** Host sources, each file's name and text. */
export interface SourceFile { name: string; text: string }

/**
 * The host's `deb` sources restricted to i386: one-line entries (`sources.list`, `*.list`) get
 * `arch=i386` in their options, deb822 stanzas (`*.sources`) get `Architectures: i386`.
 * deb-src entries and disabled stanzas are dropped.
 */
export function i386Sources(files: readonly SourceFile[]): { list: string; deb822: string } {
  const list: string[] = [];
  const stanzas: string[] = [];
  for (const file of files) {
    if (file.name.endsWith(".sources")) {
      stanzas.push(...file.text.split(/\n[ \t]*\n/).map(i386Stanza).filter((s): s is string => s !== undefined));
      continue;
    }
    for (const line of file.text.split("\n")) {
      const m = /^\s*deb\s+(?:\[([^\]]*)\]\s*)?(\S.*)$/.exec(line.replace(/#.*/, ""));
      if (!m) continue;
      const options = (m[1] ?? "").split(/\s+/).filter((o) => o !== "" && !/^arch(\+|-)?=/.test(o));
      list.push(`deb [${[...options, "arch=i386"].join(" ")}] ${m[2].trim()}`);
    }
  }
  return { list: list.map((l) => `${l}\n`).join(""), deb822: stanzas.join("\n\n") + (stanzas.length > 0 ? "\n" : "") };
}

function i386Stanza(text: string): string | undefined {
  // A field runs on over continuation lines (leading blank), e.g. an inline Signed-By key.
  const fields: { name: string; lines: string[] }[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    if (/^[ \t]/.test(line) && fields.length > 0) {
      fields[fields.length - 1].lines.push(line);
      continue;
    }
    const colon = line.indexOf(":");
    if (colon > 0) fields.push({ name: line.slice(0, colon).trim().toLowerCase(), lines: [line] });
  }
  const value = (name: string): string | undefined => fields.find((f) => f.name === name)?.lines[0].replace(/^[^:]*:/, "").trim();
  if (!(value("types") ?? "").split(/\s+/).includes("deb")) return undefined;
  if (/^(no|false|off|0)$/i.test(value("enabled") ?? "yes")) return undefined;
  const kept = fields.filter((f) => f.name !== "types" && f.name !== "architectures" && f.name !== "enabled");
  return ["Types: deb", "Architectures: i386", ...kept.flatMap((f) => f.lines)].join("\n");
}

/** Reads the host's sources the way apt does: sources.list plus *.list and *.sources in sources.list.d. */
export async function hostSources(etc = "/etc/apt"): Promise<SourceFile[]> {
  const files: SourceFile[] = [];
  const add = async (path: string): Promise<void> => {
    try {
      files.push({ name: path, text: await readFile(path, "utf8") });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  };
  await add(join(etc, "sources.list"));
  const parts = await readdir(join(etc, "sources.list.d")).catch(() => [] as string[]);
  for (const name of parts.sort()) {
    if (/^[\w.-]+\.(list|sources)$/.test(name)) await add(join(etc, "sources.list.d", name));
  }
  return files;
}

/**
 * The newest versioned image package for `flavour` among package names, by numeric comparison of
 * its ABI version (6.1.0-28 is newer than 6.1.0-9). A signed image wins over the same
 * version's "-unsigned" package (both hold the same kernel and modules).
 */
export function pickNewestKernel(names: Iterable<string>, flavour = "686"): string | undefined {
  const pattern = new RegExp(`^linux-image-(\\d+)\\.(\\d+)\\.(\\d+)-(\\d+)-${flavour.replace(/[^\w-]/g, "")}(-unsigned)?$`);
  let best: { name: string; key: number[] } | undefined;
  for (const name of names) {
    const m = pattern.exec(name);
    if (!m) continue;
    const key = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), m[5] ? 0 : 1];
    if (best === undefined || compareKeys(key, best.key) > 0) best = { name, key };
  }
  return best?.name;
}

function compareKeys(a: readonly number[], b: readonly number[]): number {
  const i = a.findIndex((v, j) => v !== b[j]);
  return i < 0 ? 0 : a[i] - b[i];
}

/** The kernel release (`uname -r`) an image package installs: its name without prefix and "-unsigned". */
export function kernelRelease(imagePackage: string): string {
  return imagePackage.replace(/^linux-image-/, "").replace(/-unsigned$/, "");
}

/** The fields of the first stanza of `apt-cache show` output. */
export function parseStanza(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line.trim() === "") break;
    const m = /^([\w-]+):\s*(.*)$/.exec(line);
    if (m) fields.set(m[1].toLowerCase(), m[2]);
  }
  return fields;
}

/** Package names after "Depends:" in `apt-cache depends` output (alternatives included). */
export function parseDepends(text: string): string[] {
  return [...text.matchAll(/^\s*\|?Depends:\s*<?([\w.+-]+)>?/gm)].map((m) => m[1]);
}

/** apt over a private state folder. */
export class PrivateApt {
  constructor(readonly root: string) {}

  private get options(): string[] {
    const dir = (name: string): string => join(this.root, name);
    const options = [
      `Dir::State=${dir("state")}`, `Dir::State::Lists=${dir("lists")}`, `Dir::State::status=${dir("status")}`,
      `Dir::Cache=${dir("cache")}`, `Dir::Etc::SourceList=${dir("sources.list")}`,
      `Dir::Etc::SourceParts=${dir("sources.list.d")}`, `Dir::Etc::Preferences=${dir("preferences")}`,
      `Dir::Etc::PreferencesParts=${dir("preferences.d")}`, "APT::Architecture=i386", "APT::Architectures=i386",
      "Acquire::Languages=none",
    ];
    // As root apt downloads as the unprivileged _apt user, who cannot write into our folders.
    if (process.getuid?.() === 0) options.push("APT::Sandbox::User=root");
    return options.flatMap((o) => ["-o", o]);
  }

  /** Creates the state folders and writes the host's sources, restricted to i386. */
  async prepare(sources: readonly SourceFile[]): Promise<void> {
    for (const d of ["state", "lists/partial", "cache/archives/partial", "sources.list.d", "preferences.d", "debs"]) {
      await mkdir(join(this.root, d), { recursive: true });
    }
    const { list, deb822 } = i386Sources(sources);
    await writeFile(join(this.root, "status"), "");
    await writeFile(join(this.root, "preferences"), "");
    await writeFile(join(this.root, "sources.list"), list);
    await writeFile(join(this.root, "sources.list.d", "host.sources"), deb822);
  }

  /** `apt-get update`. A mirror caught mid-sync fails one index and not others, so the exit status is only reported. */
  update(): Promise<CommandResult> {
    return run("apt-get", [...this.options, "update"]);
  }

  /** The candidate stanza of `name`, or undefined when no index has it. */
  async show(name: string): Promise<Map<string, string> | undefined> {
    const r = await run("apt-cache", [...this.options, "show", "--no-all-versions", name]);
    const fields = parseStanza(r.stdout);
    return r.code === 0 && fields.has("filename") ? fields : undefined;
  }

  async packageNames(prefix: string): Promise<string[]> {
    return (await run("apt-cache", [...this.options, "pkgnames", prefix])).stdout.split("\n").filter((n) => n !== "");
  }

  async depends(name: string): Promise<string[]> {
    return parseDepends((await run("apt-cache", [...this.options, "depends", name])).stdout);
  }

  /** Downloads packages at their candidate versions into `debs/`; returns each package's .deb path. */
  async download(names: readonly string[]): Promise<Map<string, string>> {
    const debs = join(this.root, "debs");
    const r = await run("apt-get", [...this.options, "download", ...names], debs);
    if (r.code !== 0) throw new Error(`apt-get download ${names.join(" ")} failed:\n${r.stderr.trim()}`);
    const files = await readdir(debs);
    const found = new Map<string, string>();
    for (const name of names) {
      const file = files.find((f) => f.startsWith(`${name}_`) && f.endsWith(".deb"));
      if (!file) throw new Error(`apt-get download left no ${name}_*.deb in ${debs}`);
      found.set(name, join(debs, file));
    }
    return found;
  }
}
