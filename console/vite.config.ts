import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `vite build console` → console/dist, served by the collector at `/` (relative asset paths, so it
// also works behind a path prefix).
export default defineConfig({
  base: './',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 1000 },
  server: { proxy: { '/api': 'http://127.0.0.1:8080' } },
});
