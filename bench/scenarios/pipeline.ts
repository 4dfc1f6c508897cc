import { main as pipelineBench, type PipelineFigures } from '../pipeline.bench.js';
import { measureModel } from '../limits.js';
import type { Figure } from '../report/results.js';
import { limits } from './limits.js';
import type { BenchContext, Scenario } from './context.js';

const MB = 1024 * 1024;

/** The hashing pipeline run (bench/pipeline.bench.ts), once per run: other scenarios compare with it. */
export function hashingRun(context: BenchContext): Promise<PipelineFigures> {
  return context.once('pipeline-hashing', async () => {
    const count = context.quick ? 1_000 : 100_000;
    context.say(`pipeline-hashing: ${count.toLocaleString('en-US')} entities, run all, hashing embedder, LanceDB…`);
    const figures = await pipelineBench(['--count', String(count), '--alone', context.quick ? 'none' : 'store']);
    context.raw['pipeline-hashing'] = figures;
    return figures;
  });
}

export const pipelineHashingScenario: Scenario = {
  name: 'pipeline-hashing',
  about: 'the pipeline end to end, hashing embedder and LanceDB: steady-state events/s and the worker RSS',
  async run(context) {
    const f = await hashingRun(context);
    const l = await limits(context);
    const run = f.runAll!;
    const peak = Math.max(...run.processes.map((p) => p.hwm ?? p.peakRss));
    const steady = run.steadyPerSecond;
    const figures: Figure[] = [
      {
        scenario: 'pipeline-hashing',
        name: `${f.count.toLocaleString('en-US')} entities, events/s end to end in steady state`,
        ...(steady !== undefined ? { value: steady } : {}),
        unit: '/s',
        target: { op: '>=', value: 2000 },
        comparison: { name: 'Kafka raw consume', value: l.kafka.consumePerSecond },
        status: steady !== undefined ? 'ok' : 'not measured: no steady state at this size (the four stages were never busy together for 2 s)',
      },
      { scenario: 'pipeline-hashing', name: 'events/s from the first record mapped to the last stored', value: run.endToEndPerSecond, unit: '/s', target: { op: '>=', value: 2000 }, status: 'ok' },
      { scenario: 'pipeline-hashing', name: "seconds from the worker's start to every document searchable", value: run.secondsToNoLag, unit: 's', status: 'ok' },
      {
        scenario: 'pipeline-hashing',
        name: '`ragsync publish` events/s',
        value: f.publish?.perSecond ?? 0,
        unit: '/s',
        target: { op: '>=', value: 40_000 },
        comparison: { name: 'Kafka raw produce', value: l.kafka.producePerSecond },
        status: 'ok',
        ...(f.publish ? { note: `the rate the command's summary states; ${Math.round(f.publish.records / f.publish.wallSeconds).toLocaleString('en-US')}/s with the process's start (${f.publish.wallSeconds.toFixed(1)} s)` } : {}),
      },
      { scenario: 'worker RSS', name: 'run all, peak resident memory (kernel VmHWM)', value: peak / MB, unit: 'MB', target: { op: '<=', value: 512 }, status: 'ok' },
    ];
    for (const a of f.alone) figures.push({ scenario: 'pipeline-hashing', name: `${a.stage} alone, records/s while busy`, value: a.perSecond, unit: '/s', status: 'ok', note: `peak RSS ${Math.round((a.hwm ?? a.peakRss) / MB)} MB` });
    return figures;
  },
};

export const pipelineMiniLmScenario: Scenario = {
  name: 'pipeline-minilm',
  about: 'the pipeline end to end with MiniLM through the shared endpoint: texts/s against the raw model',
  async run(context) {
    const l = await limits(context);
    const count = context.quick ? 30 : 2_000;
    context.say(`pipeline-minilm: ${count.toLocaleString('en-US')} entities, run all, MiniLM through the endpoint, LanceDB…`);
    context.endpoint.reset();
    // The model is the limit: about 1.6 chunks per entity at its raw rate, ten times over, for a
    // loaded machine (on 2 cores MiniLM embeds tens of texts per second; three times over was not
    // enough for 2,000 entities at a load of 15).
    const timeoutSeconds = Math.max(120, Math.ceil((10 * 1.6 * count) / Math.max(1, l.minilm.textsPerSecond)));
    const f = await pipelineBench(['--count', String(count), '--timeout', String(timeoutSeconds), '--alone', 'none', '--env', 'EMBEDDER=openai', '--env', `EMBEDDING_URL=${context.endpoint.url}`, '--env', 'EMBEDDING_MODEL=minilm']);
    const sent = context.endpoint.texts('minilm');
    const counts = context.endpoint.reset().minilm;
    // The raw model again, on the texts this run sent (the cost of a text grows with its length,
    // and the chunks are not the limits scenario's texts): the same batch size, one call after the
    // other, in-process, with the worker stopped.
    const minilm = await context.endpoint.embedder('minilm');
    const sameTexts = await measureModel(minilm, { texts: sent.length > 0 ? sent.slice(0, context.quick ? 64 : 640) : context.quick ? 64 : 640, batchSize: l.minilm.batchSize, model: 'minilm' });
    context.say(`  MiniLM raw on ${sameTexts.texts} of the texts this run sent: ${sameTexts.textsPerSecond.toFixed(1)} texts/s`);
    context.raw['pipeline-minilm'] = { ...f, endpoint: counts, rawOnSameTexts: sameTexts };
    const run = f.runAll!;
    // The model's throughput in the pipeline: texts from the first endpoint call to the end of the
    // last one. (Not texts ÷ the embed stage's busy time from /metrics scrapes: with a slow model a
    // slice takes seconds, its counter moves in few scrapes, and that time was undercounted.)
    const span = counts.firstStarted !== undefined && counts.lastEnded !== undefined ? counts.lastEnded - counts.firstStarted : 0;
    const textsPerSecond = span > 0 ? counts.texts / span : 0;
    const whileComputing = counts.activeSeconds > 0 ? counts.texts / counts.activeSeconds : 0;
    const meanChars = counts.texts > 0 ? counts.chars / counts.texts : 0;
    return [
      { scenario: 'pipeline-minilm', name: `${count.toLocaleString('en-US')} entities, texts embedded per second from the first endpoint call to the last`, value: textsPerSecond, unit: 'texts/s', target: { op: '>=', value: 0.9 * sameTexts.textsPerSecond, unit: 'texts/s (0.9 × raw model on the same texts)' }, comparison: { name: 'raw model on the same texts', value: sameTexts.textsPerSecond }, status: 'ok', note: `${counts.texts} texts in ${counts.calls} endpoint calls over ${span.toFixed(1)} s; the model computing ${span > 0 ? Math.round((100 * counts.activeSeconds) / span) : 0} % of it` },
      { scenario: 'pipeline-minilm', name: 'texts embedded per second while the model was computing', value: whileComputing, unit: 'texts/s', comparison: { name: 'raw model on the same texts', value: sameTexts.textsPerSecond }, status: 'ok', note: `${Math.round(meanChars)} characters per text; the limits scenario's texts: ${Math.round(l.minilm.meanChars)}, raw ${l.minilm.textsPerSecond.toFixed(1)} texts/s` },
      { scenario: 'pipeline-minilm', name: 'documents/s from the first record mapped to the last stored', value: run.endToEndPerSecond, unit: '/s', status: 'ok' },
    ];
  },
};
