import type { GoogleGenAI } from '@google/genai';
import type { FarmConfig } from '../core/config.js';
import { createGeminiClient } from '../core/gemini/create-gemini-client.js';

/**
 * Real Gemini when a key is set and no base URL overrides it; otherwise the simulator at
 * GEMINI_BASE_URL. Returns undefined when neither is configured (the caller may start a simulator).
 */
export function geminiFromConfig(config: FarmConfig, simUrl?: string): GoogleGenAI | undefined {
  const baseUrl = config.geminiBaseUrl ?? simUrl;
  if (!config.geminiApiKey && !baseUrl) return undefined;
  return createGeminiClient({
    ...(config.geminiApiKey ? { apiKey: config.geminiApiKey } : {}),
    ...(baseUrl ? { baseUrl } : {}),
    timeoutMs: config.requestTimeoutMs,
  });
}
