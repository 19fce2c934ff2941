import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import fp from 'fastify-plugin';
import { QUEUES_PATH } from './route-roles.js';

/**
 * bull-board at /queues: every stage queue, its jobs, retries and failures. Admin only, like
 * everything outside /v1 (route-roles.ts); a browser signs in with HTTP Basic, the admin token
 * as password (any user name).
 */
export const queuesBoardPlugin = fp(
  async (app) => {
    const board = new FastifyAdapter();
    createBullBoard({
      queues: Object.values(app.farm.queues).map((queue) => new BullMQAdapter(queue)),
      serverAdapter: board,
      options: { uiConfig: { boardTitle: 'sdf-farm' } },
    });
    board.setBasePath(QUEUES_PATH);
    await app.register(board.registerPlugin(), { prefix: QUEUES_PATH });
  },
  { name: 'queues-board', dependencies: ['farm-services', 'auth'] },
);
