import { defineConfig } from "vite";

// The same UI with Tauri's IPC mocked by fixtures, for screen tests in a plain browser.
export default defineConfig({
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: "dist-mock",
    emptyOutDir: true,
    target: "es2022",
    chunkSizeWarningLimit: 1024,
    rollupOptions: { input: "mock.html" },
  },
});
