export { startSim, type RunningSim, type SimStats } from './server.js';
export { BATCH_OUTCOMES, DEFAULT_SIM_OPTIONS, resolveSimOptions, type BatchOutcome, type SimOptions } from './options.js';
export { PLANTED_PATTERNS, detectPatterns, type PlantedPattern } from './patterns.js';
