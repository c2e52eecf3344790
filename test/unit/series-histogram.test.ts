import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram, Registry } from 'prom-client';
import { SeriesHistogram } from '../../src/metrics/series-histogram.js';

const BUCKETS = [0.001, 0.01, 0.1, 1, 10];
const OBSERVATIONS: ReadonlyArray<readonly [string, string, number]> = [
  ['manifest', 'GET', 0.0004],
  ['manifest', 'GET', 0.001],
  ['manifest', 'GET', 0.0011],
  ['blob', 'HEAD', 0.5],
  ['manifest', 'GET', 70],
  ['blob', 'HEAD', 0.00001],
  ['base', 'GET', 3],
];

function both(): { plain: Registry; series: Registry; observe(route: string, method: string, seconds: number): void; histogram: SeriesHistogram<'route' | 'method'> } {
  const plain = new Registry();
  const series = new Registry();
  const config = { name: 'x_seconds', help: 'X.', labelNames: ['route', 'method'] as const, buckets: BUCKETS };
  const a = new Histogram({ ...config, labelNames: [...config.labelNames], registers: [plain] });
  const b = new SeriesHistogram({ ...config, labelNames: [...config.labelNames], buckets: [...BUCKETS], registers: [series] });
  return {
    plain,
    series,
    histogram: b,
    observe(route, method, seconds) {
      a.observe({ route, method }, seconds);
      b.series({ route, method }).observe(seconds);
    },
  };
}

describe('SeriesHistogram', () => {
  // JSON: what http.workers' primary aggregates (sent between processes, so functions drop out).
  it("writes prom-client's exposition for the same observations, text and JSON", async () => {
    const h = both();
    for (const [route, method, seconds] of OBSERVATIONS) h.observe(route, method, seconds);
    assert.equal(await h.series.metrics(), await h.plain.metrics());
    const json = async (r: Registry): Promise<unknown> =>
      (await r.getMetricsAsJSON()).map((m) => ({ name: m.name, help: m.help, type: m.type, aggregator: m.aggregator, values: m.values.map((v) => ({ labels: v.labels, value: v.value, metricName: 'metricName' in v ? v.metricName : undefined })) }));
    assert.deepEqual(await json(h.series), await json(h.plain));
  });

  it('binds a series once per label set and empties every series on reset', async () => {
    const h = both();
    assert.equal(h.histogram.series({ route: 'a', method: 'GET' }), h.histogram.series({ route: 'a', method: 'GET' }));
    for (const [route, method, seconds] of OBSERVATIONS) h.observe(route, method, seconds);
    h.series.resetMetrics();
    assert.match(await h.series.metrics(), /x_seconds_count\{route="manifest",method="GET"\} 0/);
    h.histogram.series({ route: 'manifest', method: 'GET' }).observe(0.002);
    assert.match(await h.series.metrics(), /x_seconds_bucket\{le="0.01",route="manifest",method="GET"\} 1/);
  });
});
