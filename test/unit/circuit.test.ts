import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Circuit, type CircuitMetrics } from '../../src/cache/circuit.js';
import { createLogger } from '../../src/log/logger.js';
import { until } from '../helpers/wait.js';

function recorder(): { metrics: CircuitMetrics; up: boolean[]; outages: number } {
  const state = { up: [] as boolean[], outages: 0 };
  return {
    get up() {
      return state.up;
    },
    get outages() {
      return state.outages;
    },
    metrics: {
      cacheBackendUp: (_backend, up) => state.up.push(up),
      cacheBackendOutage: () => state.outages++,
    },
  };
}

describe('Circuit', () => {
  it('opens on the first failure (logged and counted once), probes in the background, and closes when the probe answers', async () => {
    const logs: string[] = [];
    const logger = createLogger({ level: 'info', formatter: 'json', destination: { write: (l: string) => logs.push(l) } });
    const rec = recorder();
    let healthy = false;
    let probes = 0;
    const circuit = new Circuit({
      name: 'redis',
      logger,
      metrics: rec.metrics,
      probeIntervalMs: 5,
      probe: async () => {
        probes++;
        if (!healthy) throw new Error('still down');
      },
    });
    assert.equal(circuit.closed, true);
    assert.deepEqual(rec.up, [true]);
    circuit.trip(new Error('ECONNREFUSED'));
    circuit.trip(new Error('ECONNREFUSED again'));
    circuit.trip(new Error('connection closed'));
    assert.equal(circuit.closed, false);
    assert.equal(rec.outages, 1);
    assert.deepEqual(rec.up, [true, false]);
    assert.equal(logs.filter((l) => l.includes('redis unavailable')).length, 1);
    await until('a few failed probes', () => probes >= 3);
    assert.equal(circuit.closed, false, 'a failed probe keeps it open');
    healthy = true;
    await until('the circuit to close', () => circuit.closed);
    assert.deepEqual(rec.up, [true, false, true]);
    assert.equal(logs.filter((l) => l.includes('redis available again')).length, 1);
    circuit.trip(new Error('down again'));
    assert.equal(rec.outages, 2, 'a new outage counts again');
    await until('the circuit to close again', () => circuit.closed);
    circuit.close();
    circuit.trip(new Error('after shutdown'));
    assert.equal(circuit.closed, true, 'after close(), failures no longer open it (nor start a probe)');
    assert.equal(rec.outages, 2);
  });
});
