export { startSim, type RunningSim, type SimStats } from './server.js';
export { DEFAULT_SIM_OPTIONS, resolveSimOptions, type SimOptions } from './options.js';
export { PLANTED_PATTERNS, detectPatterns, type PlantedPattern } from './patterns.js';
