import { s } from './dom.js';
import { PLATFORMS } from './format.js';
import { bucketTotal, type UsageBucket } from './usage.js';

/** Tiny stacked bars, one per bucket, one colour per platform (colours come from the stylesheet). */
export function usageSparkline(buckets: readonly UsageBucket[], label: string): SVGSVGElement {
  const width = 144;
  const height = 36;
  const step = width / Math.max(1, buckets.length);
  const barWidth = Math.max(1, step - 1);
  const max = Math.max(1, ...buckets.map(bucketTotal));
  const svg = s(
    'svg',
    { class: 'sparkline', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label },
    s('title', {}, label),
  );
  buckets.forEach((bucket, i) => {
    const x = (i * step).toFixed(2);
    if (bucketTotal(bucket) === 0) {
      svg.append(s('rect', { class: 'bar-empty', x, y: height - 1, width: barWidth.toFixed(2), height: 1 }));
      return;
    }
    let y = height;
    for (const platform of PLATFORMS) {
      if (bucket[platform] === 0) continue;
      // A single verification among thousands still gets a visible sliver.
      const h = Math.max(1.5, (bucket[platform] / max) * (height - 2));
      y -= h;
      svg.append(
        s('rect', { class: `bar bar-${platform}`, x, y: y.toFixed(2), width: barWidth.toFixed(2), height: h.toFixed(2) }),
      );
    }
  });
  return svg;
}
