import { GoogleGenAI, type BatchJob } from '@google/genai';
import { startSim, type RunningSim, type SimOptions } from '../../sim/index.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** A simulator on a free port and the real SDK pointed at it, as core/gemini/create-gemini-client.ts does; closed at teardown. */
export async function simAndClient(t: Teardown, options: Partial<SimOptions> = {}): Promise<{ sim: RunningSim; ai: GoogleGenAI }> {
  const sim = await startSim({ port: 0, ...options });
  t.teardown(() => sim.close());
  const ai = new GoogleGenAI({ apiKey: 'sim', httpOptions: { baseUrl: sim.url, retryOptions: { attempts: 1 } } });
  return { sim, ai };
}

export const FINAL_STATES = ['JOB_STATE_SUCCEEDED', 'JOB_STATE_FAILED', 'JOB_STATE_CANCELLED', 'JOB_STATE_EXPIRED'];

/** Polls `ai.batches.get` until the batch ends; returns it and every state seen on the way. */
export async function waitForBatch(ai: GoogleGenAI, name: string, everyMs = 20, timeoutMs = 20_000): Promise<{ job: BatchJob; states: string[] }> {
  const states: string[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await ai.batches.get({ name });
    if (states[states.length - 1] !== job.state) states.push(job.state!);
    if (FINAL_STATES.includes(job.state!)) return { job, states };
    if (Date.now() > deadline) throw new Error(`batch ${name} still ${job.state} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Text of a GenerateContentResponse as JSON (inlined batch responses are plain objects: no `.text` getter). */
export function textOfResponse(response: unknown): string {
  const parts = (response as { candidates?: { content?: { parts?: { text?: string }[] } }[] }).candidates?.[0]?.content?.parts ?? [];
  return parts.map((p) => p.text ?? '').join('');
}
