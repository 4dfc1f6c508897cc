import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { DLQ_GROUPS, PUSH_STAGE_NAMES, STAGE_LIST, STAGE_NAMES, STAGES, TERMINAL_GROUPS, retryGroupOf } from '../../../src/core/stages.js';
import { retryTopicName, topicCatalogue } from '../../../src/kafka/topic-catalogue.js';

describe('the stage declarations', () => {
  // Every target configured, so every push stage is enabled and its topics are in the catalogue.
  const targets = {
    shopware: { url: 'https://shop.example.com', clientId: 'SWIAEXAMPLE', clientSecret: 'secret', taxId: 'a'.repeat(32) },
    woocommerce: { url: 'https://wc.example.com', consumerKey: 'ck_example', consumerSecret: 'cs_example' },
    webhooks: [{ name: 'receiver', url: 'https://receiver.example.com/hook', secret: 'secret' }],
  };
  const config = loadConfig({ env: {}, overrides: { tenants: { shop: { secrets: [], stores: [0], targets } } } });
  const topics = new Set(topicCatalogue(config).map((t) => t.logical));

  it('name every stage once, in pipeline order, each output read by the next stage', () => {
    expect(STAGE_LIST.map((s) => s.name)).toEqual([...STAGE_NAMES]);
    for (const name of STAGE_NAMES) expect(STAGES[name].name).toBe(name);
    const outputs = STAGE_LIST.flatMap((s) => (s.output ? [s.output] : []));
    for (const output of outputs) expect(STAGE_LIST.some((s) => s.inputs.includes(output))).toBe(true);
  });

  it('give terminal stages no output and the others one', () => {
    for (const stage of STAGE_LIST) expect(stage.output === undefined).toBe(stage.terminal);
  });

  it('read and write only topics the catalogue creates, with a DLQ per group and retry topics per terminal group', () => {
    for (const stage of STAGE_LIST) {
      for (const topic of [...stage.inputs, ...(stage.output ? [stage.output] : [])]) expect(topics, `${stage.name} uses ${topic}`).toContain(topic);
      expect(topics).toContain(`${stage.group}.dlq`);
    }
    expect(DLQ_GROUPS).toEqual(STAGE_LIST.map((s) => s.group));
    expect(TERMINAL_GROUPS).toEqual(['store', ...PUSH_STAGE_NAMES]);
    for (const group of TERMINAL_GROUPS) for (const delay of config.topics.retryDelaysMs) expect(topics).toContain(retryTopicName(group, delay));
    // Intermediate groups never get retry topics: they would reorder a key.
    for (const stage of STAGE_LIST.filter((s) => !s.terminal)) expect([...topics].some((t) => t.startsWith(`${stage.group}.retry.`))).toBe(false);
    expect(retryGroupOf('store')).toBe('store.retry');
  });

  it('keep the group names distinct from each other and from the retry groups', () => {
    const groups = [...DLQ_GROUPS, ...TERMINAL_GROUPS.map(retryGroupOf)];
    expect(new Set(groups).size).toBe(groups.length);
  });
});
