import { defineConfig } from "@playwright/test";

/** The preview server's port, fixed so the test never talks to another server by mistake. */
const PORT = 4317;

export default defineConfig({
  testDir: "e2e",
  outputDir: "test-results",
  timeout: 30_000,
  forbidOnly: true,
  use: {
    baseURL: `http://localhost:${PORT}`,
    headless: true,
    launchOptions: {
      // Debian's Chromium: Playwright's own browser downloads do not work on this machine.
      executablePath: "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    },
  },
  webServer: {
    // build/core.wasm comes from `npm run build:wasm`, which `npm test` runs first.
    command: `npx vite build && npx vite preview --port ${PORT} --strictPort`,
    url: `http://localhost:${PORT}`,
    reuseExistingServer: false,
    timeout: 120_000,
  },
});
