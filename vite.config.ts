import { defineConfig } from "vite";

/** Cross-origin isolation, without which SharedArrayBuffer (the VM's memory) is unavailable. */
const isolationHeaders = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
};

export default defineConfig({
  root: "web",
  server: {
    headers: isolationHeaders,
    // The page imports workers/, assembly/ and build/ from the project root, outside "web".
    fs: { allow: [".."] },
  },
  preview: { headers: isolationHeaders },
  worker: { format: "es" },
  build: { outDir: "../dist", emptyOutDir: true },
});
