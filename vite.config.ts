import { createReadStream, statSync } from "node:fs";
import { extname, resolve, sep } from "node:path";
import { defineConfig, type Connect, type Plugin } from "vite";

/** Cross-origin isolation, without which SharedArrayBuffer (the VM's memory) is unavailable. */
const isolationHeaders = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
};

/** The git-ignored guest image cache that `npm run guest:fetch` fills. */
const GUEST_DIR = resolve(import.meta.dirname, "guest");

/**
 * Serves the guest image cache at /guest/ in development and preview, so the page boots whatever
 * `npm run guest:fetch` cached without copying images into the build. Only files inside the
 * cache are served.
 */
function guestImages(): Plugin {
  const serve: Connect.NextHandleFunction = (request, response, next) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    if (!url.pathname.startsWith("/guest/")) return next();
    const path = resolve(GUEST_DIR, decodeURIComponent(url.pathname.slice("/guest/".length)));
    if (!path.startsWith(GUEST_DIR + sep)) return next();
    let size: number;
    try {
      const stat = statSync(path);
      if (!stat.isFile()) return next();
      size = stat.size;
    } catch {
      response.statusCode = 404;
      response.end(`${url.pathname} is not in the guest cache: run "npm run guest:fetch"`);
      return;
    }
    response.setHeader("Content-Type", extname(path) === ".json" ? "application/json" : "application/octet-stream");
    response.setHeader("Content-Length", size);
    response.setHeader("Cache-Control", "no-cache");
    for (const [name, value] of Object.entries(isolationHeaders)) response.setHeader(name, value);
    createReadStream(path).pipe(response);
  };
  return {
    name: "guest-images",
    configureServer: (server) => void server.middlewares.use(serve),
    configurePreviewServer: (server) => void server.middlewares.use(serve),
  };
}

export default defineConfig({
  root: "web",
  plugins: [guestImages()],
  server: {
    headers: isolationHeaders,
    // The page imports workers/, assembly/ and build/ from the project root, outside "web".
    fs: { allow: [".."] },
  },
  preview: { headers: isolationHeaders },
  worker: { format: "es" },
  build: {
    outDir: "../dist",
    emptyOutDir: true,
    // The page, and the page that embeds the <x86-vm> element.
    rollupOptions: { input: { main: resolve(import.meta.dirname, "web/index.html"), embed: resolve(import.meta.dirname, "web/embed.html") } },
  },
});
