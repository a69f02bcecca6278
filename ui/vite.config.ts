import { defineConfig } from "vite";

// The desktop UI: Preact through esbuild's automatic JSX runtime, no framework plugin needed.
export default defineConfig({
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", chunkSizeWarningLimit: 1024 },
  test: { include: ["tests/**/*.test.ts"], environment: "node" },
} as any);
