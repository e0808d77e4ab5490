// The calendar's build: the `polyarch` package's Worker is an ES module, and its wasm is an
// asset Vite copies next to the bundle (found through `new URL(..., import.meta.url)`).
import { defineConfig } from 'vite';

export default defineConfig({
  worker: { format: 'es' },
  optimizeDeps: { exclude: ['polyarch'] },
  build: { target: 'es2022' },
});
