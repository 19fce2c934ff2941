import type { FastifyInstance } from 'fastify';

export interface RouteEntry {
  method: string;
  /** Fastify form, e.g. `/v1/runs/:id/export`. */
  url: string;
}

/**
 * Every route a built app serves, read back from `printRoutes({ commonPrefix: false })`: a tree
 * whose lines are `<indent><branch>/segment (METHODS)`, each level four columns deeper. Read from
 * the app itself so a route added later is covered without editing the test that walks them.
 */
export function routeTable(app: FastifyInstance): RouteEntry[] {
  const lines = app.printRoutes({ commonPrefix: false }).split('\n').filter((line) => line.trim() !== '');
  const stack: string[] = [];
  const routes: RouteEntry[] = [];
  for (const line of lines) {
    const match = /^([\s│├└─]*?)(?:[├└]── )(.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) throw new Error(`unexpected printRoutes line: ${JSON.stringify(line)}`);
    const depth = match[1]!.length / 4;
    stack.length = depth;
    stack.push(match[2]!);
    const url = stack.join('');
    for (const method of (match[3] ?? '').split(',').map((m) => m.trim()).filter(Boolean)) {
      if (method !== 'HEAD' && method !== 'OPTIONS') routes.push({ method, url });
    }
  }
  return routes;
}
