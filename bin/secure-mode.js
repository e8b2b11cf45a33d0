#!/usr/bin/env node
// Runs the TypeScript CLI directly (tsx is a runtime dependency), so `npx secure-mode` works from a clone without a build.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/index.ts');
