import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redisAnswers } from '../core/redis.js';

export interface LocalRedis {
  url: string;
  stop(): void;
}

/** A port nothing listens on right now (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * A private, throwaway redis-server for `sdf-farm run` when none answers at REDIS_URL: loopback
 * only, nothing kept on disk, stopped with the run.
 */
export async function startLocalRedis(): Promise<LocalRedis> {
  if (!hasRedisServer()) {
    throw new Error(
      'no Redis answers at REDIS_URL and there is no redis-server binary to start one.\n' +
        '  Debian/Ubuntu: sudo apt-get install -y redis-server   macOS: brew install redis\n' +
        '  or point REDIS_URL at a running Redis (redis://host:6379).',
    );
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sdf-redis-'));
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: 'ignore',
  });
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 50 && !(await redisAnswers(url, 200)); i++) await new Promise((r) => setTimeout(r, 100));
  if (!(await redisAnswers(url))) {
    child.kill('SIGKILL');
    throw new Error(`started redis-server on port ${port} but it does not answer`);
  }
  return {
    url,
    stop() {
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
