import { s } from './dom.js';
import { PLATFORMS, formatTick } from './format.js';
import { bucketTotal, type ShareBucket, type UsageBucket } from './usage.js';

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

/** 100%-stacked bars: the new secret's share from the bottom, the old one's above it. */
export function shareChart(
  shares: readonly ShareBucket[],
  windowSeconds: number,
  label: string,
  compact: boolean,
): SVGSVGElement {
  // The viewBox is chosen for the screen so axis text stays readable when the chart scales to fit.
  const width = compact ? 400 : 960;
  const height = compact ? 220 : 260;
  const left = 40;
  const bottom = 24;
  const plotW = width - left - 8;
  const plotH = height - bottom - 8;
  const top = 8;
  const step = plotW / Math.max(1, shares.length);
  const barWidth = Math.max(1, step - 2);
  const svg = s(
    'svg',
    { class: 'share-chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label },
    s('title', {}, label),
  );

  for (const fraction of [0, 0.5, 1]) {
    const y = top + plotH * (1 - fraction);
    svg.append(s('line', { class: 'grid', x1: left, x2: width - 8, y1: y, y2: y }));
    svg.append(s('text', { class: 'axis', x: left - 6, y: y + 4, 'text-anchor': 'end' }, `${fraction * 100}%`));
  }
  shares.forEach((bucket, i) => {
    const x = left + i * step + 1;
    if (bucket.newShare === null) {
      svg.append(s('rect', { class: 'share-empty', x, y: top + plotH - 2, width: barWidth, height: 2 }));
      return;
    }
    const newH = plotH * bucket.newShare;
    svg.append(s('rect', { class: 'share-old', x, y: top, width: barWidth, height: plotH - newH }));
    svg.append(s('rect', { class: 'share-new', x, y: top + plotH - newH, width: barWidth, height: newH }));
  });
  const ticks = shares.length <= 1 ? [0] : [0, Math.floor((shares.length - 1) / 2), shares.length - 1];
  for (const i of ticks) {
    const bucket = shares[i];
    if (!bucket) continue;
    const anchor = i === 0 ? 'start' : i === shares.length - 1 ? 'end' : 'middle';
    const x = left + i * step + (anchor === 'start' ? 1 : anchor === 'end' ? step - 1 : step / 2);
    svg.append(s('text', { class: 'axis', x, y: height - 6, 'text-anchor': anchor }, formatTick(bucket.start, windowSeconds)));
  }
  return svg;
}
