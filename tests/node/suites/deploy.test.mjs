// What can be checked of the deployment without a Docker engine: docker-compose.yml parses and
// has the promised topology, every file the Dockerfiles and compose file reference exists, the
// binaries the Dockerfiles build are the workspace's, and every variable the services read is
// documented in .env.example.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const read = (p) => fs.readFileSync(path.join(REPO, p), 'utf8');
const exists = (p) => fs.existsSync(path.join(REPO, p));

/** `[[bin]] name = "…"` entries of a crate manifest. */
const binsOf = (manifest) => [...read(manifest).matchAll(/\[\[bin\]\]\s*name\s*=\s*"([^"]+)"/g)].map((m) => m[1]);

describe('deployment files', () => {
  const compose = YAML.parse(read('docker-compose.yml'), { merge: true });

  test('docker-compose.yml has the promised services, healthchecks and named volumes', () => {
    const services = Object.keys(compose.services).sort();
    assert.deepEqual(services, ['auth-api', 'lb', 'mailpit', 'mongo', 'postgres', 'realtime-1', 'realtime-2', 'redis']);
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const dep of Object.keys(svc.depends_on ?? {})) {
        assert.equal(svc.depends_on[dep].condition, 'service_healthy', `${name} waits for ${dep} to be healthy`);
        const target = compose.services[dep];
        const healthchecked = target.healthcheck || (target.build && read(target.build.dockerfile).includes('HEALTHCHECK'));
        assert.ok(healthchecked, `${dep} has a healthcheck`);
      }
      for (const v of svc.volumes ?? []) {
        const [source] = v.split(':');
        assert.ok(compose.volumes[source] !== undefined, `${name}: volume ${source} is a named volume`);
      }
    }
    for (const r of ['realtime-1', 'realtime-2']) {
      const env = compose.services[r].environment;
      assert.match(env.REDIS_URL, /^redis:\/\//, `${r} fans out through Redis`);
      assert.match(env.MONGODB_URL, /^mongodb:\/\//, `${r} shares MongoDB`);
    }
  });

  test('every file referenced by compose and the Dockerfiles exists', () => {
    for (const svc of Object.values(compose.services)) {
      if (!svc.build) continue;
      assert.ok(exists(svc.build.dockerfile), svc.build.dockerfile);
      const dockerfile = read(svc.build.dockerfile);
      for (const m of dockerfile.matchAll(/^COPY\s+(?!--from)(?:--\S+\s+)*(.+)\s+\S+$/gm)) {
        for (const src of m[1].split(/\s+/)) {
          if (src === '.') continue;
          assert.ok(exists(src), `${svc.build.dockerfile}: COPY ${src}`);
        }
      }
    }
    assert.ok(exists('.env.example'), 'compose reads .env created from .env.example');
    assert.ok(exists('.dockerignore'));
  });

  test('the Dockerfiles build the workspace binaries and run them as non-root with a healthcheck', () => {
    const cases = [
      ['Dockerfile.auth', 'crates/auth-api/Cargo.toml', 'auth-api'],
      ['Dockerfile.realtime', 'crates/realtime/Cargo.toml', 'realtime'],
    ];
    for (const [file, manifest, bin] of cases) {
      const text = read(file);
      assert.ok(binsOf(manifest).includes(bin), `${manifest} defines the ${bin} binary`);
      assert.match(text, new RegExp(`cargo build --release --locked --package \\S+ --bin ${bin}\\b`), `${file} builds ${bin}`);
      assert.match(text, new RegExp(`target/release/${bin} `), `${file} copies ${bin}`);
      assert.match(text, /cargo chef cook/, `${file} caches dependencies in their own layer`);
      assert.match(text, /^USER (?!root|0\b)\S+/m, `${file} runs as non-root`);
      assert.match(text, new RegExp(`HEALTHCHECK[\\s\\S]*${bin}", "--healthcheck"`), `${file} has a HEALTHCHECK`);
      // The binary's body is the library's `main` (compiled once, with the library).
      const srcDir = `crates/${manifest.split('/')[1]}/src`;
      const lib = bin.replace('-', '_');
      assert.match(read(`${srcDir}/main.rs`), new RegExp(`\\b${lib}::main\\(\\)`), `${bin}'s main.rs runs ${lib}::main`);
      assert.match(read(`${srcDir}/lib.rs`), /run_service\(/, `${bin} implements --healthcheck through common::server::run_service`);
    }
  });

  test('every variable the services read is documented in .env.example', () => {
    const documented = new Set([...read('.env.example').matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
    const sources = [];
    const walk = (dir) => {
      for (const e of fs.readdirSync(path.join(REPO, dir), { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith('.rs')) sources.push(p);
      }
    };
    for (const c of ['crates/common/src', 'crates/auth-api/src', 'crates/realtime/src']) walk(c);
    const read_vars = new Set();
    for (const p of sources) {
      for (const m of read(p).matchAll(/env\s*\.\s*(?:or|opt|required|secret|list|flag)(?:::<[^>]+>)?\(\s*"([A-Z][A-Z0-9_]+)"/g)) read_vars.add(m[1]);
    }
    assert.ok(read_vars.size > 20, `found ${read_vars.size} variables`);
    const missing = [...read_vars].filter((v) => !documented.has(v)).sort();
    assert.deepEqual(missing, [], `undocumented variables: ${missing.join(', ')}`);
    for (const [name, svc] of Object.entries(compose.services)) {
      if (!svc.build || svc.build.dockerfile.includes('nginx')) continue;
      for (const v of Object.keys(svc.environment ?? {})) {
        assert.ok(documented.has(v), `${name} sets ${v}, which .env.example must document`);
      }
    }
  });
});
