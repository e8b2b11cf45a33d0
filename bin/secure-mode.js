#!/usr/bin/env node
// The compiled CLI; `npm install` in a clone builds it (prepare), an installed package ships it.
await import('../dist/cli/index.js');
