import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import type { Test } from 'tap';

/** A port nobody listens on at this moment. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A Redis server of the test's own (`redis-server` must be on PATH, as `.ci/run` makes sure),
 * for tests that measure the whole server (`used_memory`) or take it away, which the shared
 * Redis other tests are using cannot allow. Killed when the test process exits.
 */
export async function ownRedisServer(t: Test): Promise<{ url: string; child: ChildProcess; redis: Redis }> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  // Killed when the test file's process exits, not at the test's teardown: the farm under test
  // closes its connections in teardowns of its own, which may run after this one would.
  child.unref();
  process.once('exit', () => child.kill('SIGKILL'));
  const url = `redis://127.0.0.1:${port}`;
  const redis = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: true });
  // Refused connections while the server starts are expected; the loop below retries them.
  redis.on('error', () => {});
  t.teardown(() => redis.disconnect());
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      await redis.connect();
      await redis.ping();
      return { url, child, redis };
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer: ${String(error)}`);
      redis.disconnect();
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Redis's `used_memory` in bytes. */
export async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1]);
}
