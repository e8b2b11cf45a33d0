/** Median and spread of a benchmark's rounds: the spread is (max - min) / median, so ±spread/2 around the median. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function spread(xs: readonly number[]): number {
  const m = median(xs);
  return m === 0 ? 0 : (Math.max(...xs) - Math.min(...xs)) / m;
}

/** "1234 ±5 %": the median and half the relative spread. */
export function medianAndSpread(xs: readonly number[], digits = 0): string {
  return `${median(xs).toFixed(digits)} ±${((spread(xs) / 2) * 100).toFixed(0)} %`;
}

/** The median of per-round ratios: each round's contenders ran back to back, so their ratio cancels the round's drift. */
export function medianRatio(ours: readonly number[], base: readonly number[]): number {
  return median(ours.map((x, i) => x / base[i]!));
}
