import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import fp from 'fastify-plugin';
import { SpecError } from '../../core/errors.js';
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
    // bull-board's own handler answers every error 500 with `{error: {key}}`: a malformed body would
    // look like a server fault. Ours keeps the API's shape: 4xx with its message, `{error}`.
    board.setErrorHandler((error: Error) => {
      // A body our parsers refused (SpecError) is the client's fault, like any 4xx Fastify raised.
      const code = error instanceof SpecError ? 400 : ((error as { statusCode?: number }).statusCode ?? 500);
      const refused = code >= 400 && code < 500;
      if (!refused) app.log.error({ err: error }, 'queues board request failed');
      // bull-board types `status` as its own union of codes; any 4xx Fastify raised is passed on.
      return { status: (refused ? code : 500) as 400, body: { error: refused ? error.message : 'internal error' } };
    });
    board.setBasePath(QUEUES_PATH);
    await app.register(board.registerPlugin(), { prefix: QUEUES_PATH });
  },
  { name: 'queues-board', dependencies: ['farm-services', 'auth'] },
);
