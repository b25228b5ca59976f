// Worker-thread entry for `ser predict --jobs N`: a worker does not inherit loader hooks registered at run
// time (bin/ser.js), so register tsx here before loading the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./predict-worker.ts');
