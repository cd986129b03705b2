import { defineConfig } from 'vite';

// The inspector is served by the local gateway at /inspector/ (same origin as /api).
// `npm run dev` proxies /api to a running gateway (`make dev`, or STATEWAY_API).
export default defineConfig({
  base: '/inspector/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
  },
  server: {
    proxy: {
      '/api': process.env.STATEWAY_API ?? 'http://127.0.0.1:8080',
    },
  },
});
