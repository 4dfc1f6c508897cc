import { getHeapStatistics } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../../src/observability/metrics.js';

const lagSamples = (text: string) => text.split('\n').filter((l) => l.startsWith('ragsync_consumer_lag{'));

describe('the consumer lag gauge', () => {
  it('has no samples in a process that runs no stage', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    expect(lagSamples(await metrics.registry.metrics())).toEqual([]);
  });

  it('shows what its source reads, replacing the previous reading', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    let reading = [
      { stage: 'map', group: 'ragsync.map', lag: 12 },
      { stage: 'chunk', group: 'ragsync.chunk', lag: 0 },
    ];
    metrics.setLagSource(async () => reading);
    expect(lagSamples(await metrics.registry.metrics())).toEqual(['ragsync_consumer_lag{stage="map",group="ragsync.map"} 12', 'ragsync_consumer_lag{stage="chunk",group="ragsync.chunk"} 0']);
    reading = [{ stage: 'map', group: 'ragsync.map', lag: 3 }];
    expect(lagSamples(await metrics.registry.metrics())).toEqual(['ragsync_consumer_lag{stage="map",group="ragsync.map"} 3']);
  });

  it('still answers the scrape, without lag samples, when Kafka cannot be read', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    metrics.setLagSource(async () => [{ stage: 'map', group: 'ragsync.map', lag: 5 }]);
    await metrics.registry.metrics();
    metrics.setLagSource(async () => {
      throw new Error('There is no leader for this topic-partition');
    });
    const text = await metrics.registry.metrics();
    expect(text).toContain('# TYPE ragsync_consumer_lag gauge');
    expect(lagSamples(text)).toEqual([]);
    expect(text).toContain('# TYPE ragsync_records_total counter');
  });
});

describe('the resident memory gauge', () => {
  const rss = (text: string) => text.split('\n').find((l) => l.startsWith('ragsync_process_resident_memory_bytes '));

  it.each([true, false])('reads the RSS at scrape time (default metrics %s)', async (defaultMetrics) => {
    const metrics = createMetrics({ defaultMetrics });
    const line = rss(await metrics.registry.metrics());
    expect(line).toBeDefined();
    const bytes = Number(line!.split(' ')[1]);
    // Close to what the process reports right after the scrape (RSS moves a little in between).
    expect(Math.abs(bytes - process.memoryUsage.rss())).toBeLessThan(64 * 1024 * 1024);
    expect(bytes).toBeGreaterThan(1024 * 1024);
  });
});

describe('the heap gauge of each thread', () => {
  it('reads this thread\'s V8 heap at scrape time, labelled with the thread', async () => {
    const text = await createMetrics({ processMetrics: false, thread: 'chunk,embed' }).registry.metrics();
    const value = (kind: string) => Number(text.split('\n').find((l) => l.startsWith(`ragsync_thread_heap_bytes{thread="chunk,embed",kind="${kind}"} `))?.split(' ')[1]);
    const heap = getHeapStatistics();
    expect(value('used')).toBeGreaterThan(1024 * 1024);
    expect(Math.abs(value('used') - heap.used_heap_size)).toBeLessThan(64 * 1024 * 1024);
    expect(value('total')).toBeGreaterThanOrEqual(value('used'));
    expect(Number.isFinite(value('external'))).toBe(true);
  });

  it('names the main thread when no thread is given', async () => {
    expect(await createMetrics().registry.metrics()).toMatch(/^ragsync_thread_heap_bytes\{thread="main",kind="used"\} \d+/m);
  });
});
