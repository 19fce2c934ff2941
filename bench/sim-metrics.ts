/** Reads the simulator's Prometheus counters: requests by HTTP code and tokens by kind. */
export interface SimCounters {
  byCode: Record<string, number>;
  promptTokens: number;
  outputTokens: number;
}

export async function readSimCounters(simUrl: string): Promise<SimCounters> {
  const text = await (await fetch(`${simUrl}/metrics`)).text();
  const counters: SimCounters = { byCode: {}, promptTokens: 0, outputTokens: 0 };
  for (const line of text.split('\n')) {
    const request = /^sdf_sim_requests_total\{([^}]*)\} ([\d.e+]+)/.exec(line);
    if (request) {
      const code = /code="([^"]+)"/.exec(request[1]!)?.[1] ?? 'other';
      counters.byCode[code] = (counters.byCode[code] ?? 0) + Number(request[2]);
    }
    const tokens = /^sdf_sim_tokens_total\{([^}]*)\} ([\d.e+]+)/.exec(line);
    if (tokens) {
      if (/kind="prompt"/.test(tokens[1]!)) counters.promptTokens += Number(tokens[2]);
      if (/kind="output"/.test(tokens[1]!)) counters.outputTokens += Number(tokens[2]);
    }
  }
  return counters;
}

export function delta(a: SimCounters, b: SimCounters): SimCounters {
  const byCode: Record<string, number> = {};
  for (const code of new Set([...Object.keys(a.byCode), ...Object.keys(b.byCode)])) byCode[code] = (b.byCode[code] ?? 0) - (a.byCode[code] ?? 0);
  return { byCode, promptTokens: b.promptTokens - a.promptTokens, outputTokens: b.outputTokens - a.outputTokens };
}
