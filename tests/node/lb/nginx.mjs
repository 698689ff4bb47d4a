// Runs Debian's nginx with the production routing (deploy/nginx/batiyoun.conf) in front of local
// processes: only the upstream addresses, the listen port and the static root differ from the
// docker-compose deployment, and those are exactly the parts that file leaves to its includes.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const NGINX = process.env.NGINX_BIN || '/usr/sbin/nginx';

async function freePort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

/**
 * Starts nginx; `realtime` is a list of `host:port`, `auth` one `host:port`.
 * Resolves with `{ url, stop }` once nginx answers.
 */
export async function startNginx({ repo, realtime, auth, webRoot }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batiyoun-nginx-'));
  // nginx's workers run as an unprivileged user, and write request bodies it buffers (an
  // attachment's) to client_body_temp_path below: they must reach it.
  fs.chmodSync(dir, 0o755);
  const port = await freePort();
  const routing = fs
    .readFileSync(path.join(repo, 'deploy/nginx/batiyoun.conf'), 'utf8')
    .replace(/listen 8080;/, `listen 127.0.0.1:${port};`)
    .replace(/root \/usr\/share\/nginx\/html;/, `root ${webRoot};`);
  const composeUpstreams = fs.readFileSync(path.join(repo, 'deploy/nginx/upstreams.conf'), 'utf8');
  // Same balancing directive as the compose file, local addresses.
  const hash = composeUpstreams.match(/upstream realtime \{\s*([^;]+;)/)[1];
  const upstreams = [
    `upstream auth_api { server ${auth}; }`,
    `upstream realtime { ${hash} ${realtime.map((a) => `server ${a};`).join(' ')} }`,
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'upstreams.conf'), upstreams);
  fs.writeFileSync(path.join(dir, 'batiyoun.conf'), routing);
  fs.writeFileSync(
    path.join(dir, 'nginx.conf'),
    `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 1024; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  include ${dir}/upstreams.conf;
  include ${dir}/batiyoun.conf;
}
`,
  );
  const check = spawnSync(NGINX, ['-t', '-p', dir, '-c', path.join(dir, 'nginx.conf')], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`nginx -t failed:\n${check.stderr}`);
  const child = spawn(NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (c) => (log += c));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await fetch(`${url}/healthz`);
      break;
    } catch {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`nginx did not start:\n${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGQUIT');
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return { url, stop, accessLog: () => fs.readFileSync(path.join(dir, 'access.log'), 'utf8') };
}
