import { GoogleGenAI } from '@google/genai';

export interface GeminiClientOptions {
  /** A real key; without one the client can only talk to a simulator. */
  apiKey?: string;
  /** Where requests go instead of Google (a simulator: `http://127.0.0.1:8090`). */
  baseUrl?: string;
  /** Per-request timeout. @defaultValue 600000 */
  timeoutMs?: number;
}

/** Placeholder key for a simulator (the SDK refuses to start without one; the simulator only checks it is there). */
export const SIMULATOR_API_KEY = 'sdf-farm-simulator';

/**
 * The real `@google/genai` client. With a key and no base URL it talks to Gemini; with a base
 * URL it talks to whatever is there (the simulator) through the very same code. SDK retries stay
 * off (`retryOptions.attempts: 1`): the farm's own layer retries, with quota awareness.
 */
export function createGeminiClient(options: GeminiClientOptions): GoogleGenAI {
  if (!options.apiKey && !options.baseUrl) throw new Error('Gemini client: set GEMINI_API_KEY (real Gemini) or GEMINI_BASE_URL (a simulator)');
  return new GoogleGenAI({
    apiKey: options.apiKey ?? SIMULATOR_API_KEY,
    httpOptions: {
      ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
      timeout: options.timeoutMs ?? 600_000,
      retryOptions: { attempts: 1 },
    },
  });
}
