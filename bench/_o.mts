import { benchOracle } from './oracle.js';
for (let i = 0; i < 3; i++) {
  const f = await benchOracle(Number(process.argv[2] ?? 3000));
  console.log(JSON.stringify(f.medianNs), f.pairs.map((p) => `${p.a[0]}${p.b[0]} ${p.d.toFixed(3)}/${p.critical.toFixed(3)}`).join('  '));
}
