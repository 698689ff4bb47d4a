import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { defineConfig, type Plugin } from 'vite';

// Dev only: the two services run on their own ports; the launcher serves everything from one origin.
const AUTH = process.env.AUTH_API_URL || 'http://127.0.0.1:3001';
const REALTIME = process.env.REALTIME_URL || 'http://127.0.0.1:3002';

/** Writes the list of built files (and a content hash as the cache version) into dist/sw.js. */
function precacheManifest(): Plugin {
  let outDir = 'dist';
  return {
    name: 'batiyoun-precache-manifest',
    apply: 'build',
    configResolved(c) {
      outDir = c.build.outDir;
    },
    closeBundle() {
      const files: string[] = [];
      const walk = (dir: string) => {
        for (const name of readdirSync(dir)) {
          const p = join(dir, name);
          if (statSync(p).isDirectory()) walk(p);
          else files.push(p);
        }
      };
      walk(outDir);
      const hash = createHash('sha256');
      const urls: string[] = ['/'];
      for (const f of files.sort()) {
        const rel = '/' + relative(outDir, f).split('\\').join('/');
        if (rel === '/sw.js' || rel.endsWith('.map')) continue;
        hash.update(rel).update(readFileSync(f));
        urls.push(rel);
      }
      const swPath = join(outDir, 'sw.js');
      const sw = readFileSync(swPath, 'utf8')
        .replace('self.__PRECACHE_URLS__', JSON.stringify(urls))
        .replace('self.__CACHE_VERSION__', JSON.stringify(hash.digest('hex').slice(0, 16)));
      writeFileSync(swPath, sw);
    },
  };
}

const proxy = {
  '/api/auth': { target: AUTH, changeOrigin: false },
  '/api/users': { target: AUTH, changeOrigin: false },
  '/.well-known': { target: AUTH, changeOrigin: false },
  '/api/chats': { target: REALTIME, changeOrigin: false },
  '/socket.io': { target: REALTIME, ws: true, changeOrigin: false },
};

export default defineConfig({
  plugins: [precacheManifest()],
  build: { target: 'es2022', sourcemap: false },
  // The services' default ALLOWED_ORIGINS include http://localhost:3000 and http://127.0.0.1:3000.
  server: { port: 3000, strictPort: true, proxy },
  // `npm run preview` serves the built dist (with the service worker) through the same proxy.
  preview: { port: 3000, strictPort: true, proxy },
});
