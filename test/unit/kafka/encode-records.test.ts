import { describe, expect, it, vi } from 'vitest';
import { PermanentError } from '../../../src/core/errors.js';
import type { OutputRecord } from '../../../src/core/stage.js';
import { encodeRecords, RecordsRefusedError } from '../../../src/kafka/producer.js';
import type { RegistryClient } from '../../../src/kafka/registry.js';
import { mayHoldLoneSurrogate, RegistrySerde } from '../../../src/kafka/serde.js';
import { CHANGE_SCHEMAS } from '../../../src/schemas/catalogue.js';
import { SAMPLES } from '../schemas/samples.js';

const PREFIX = 'unit.';
const SCHEMA_ID = 7;

function serde(): { serde: RegistrySerde; register: ReturnType<typeof vi.fn> } {
  const register = vi.fn(async () => SCHEMA_ID);
  return { serde: new RegistrySerde({ register } as unknown as RegistryClient, { prefix: PREFIX }), register };
}

const product = SAMPLES.product.full as Record<string, unknown>;

function output(value: Record<string, unknown>, key = 'north-wind_2/product/1/1'): OutputRecord {
  return { topic: 'changes.product', key, value, sourceVersion: 1n, occurredAt: 1_767_350_400_000 };
}

/** Lone surrogates at the start, inside and at the end of strings shorter and longer than 64 bytes. */
function textsWithLoneSurrogates(): string[] {
  const texts: string[] = [];
  for (const lone of ['\ud800', '\udbff', '\udc00', '\udfff']) {
    for (const length of [0, 1, 20, 62, 63, 64, 65, 200]) {
      const base = 'é'.repeat(length >> 1) + 'a'.repeat(length - (length >> 1));
      texts.push(lone + base, base + lone, base.slice(0, length >> 1) + lone + base.slice(length >> 1), `${base}😀${lone}`);
    }
  }
  return texts;
}

describe('mayHoldLoneSurrogate', () => {
  it('says maybe for every string field, list entry, map key and map value that holds a lone surrogate', async () => {
    const { serde: codec } = serde();
    const topic = `${PREFIX}changes.product`;
    for (const text of textsWithLoneSurrogates()) {
      for (const value of [
        { ...product, name: text },
        { ...product, description: text },
        { ...product, categories: ['Lights', text] },
        { ...product, attributes: { finish: text } },
        { ...product, attributes: { [text]: 'brass' } },
      ]) {
        expect(mayHoldLoneSurrogate(await codec.encode(topic, value)), JSON.stringify(text)).toBe(true);
      }
    }
  });

  it('says no for well-formed text in every script', async () => {
    const { serde: codec } = serde();
    const topic = `${PREFIX}changes.product`;
    for (const text of ['Trail lantern', 'Lampe à poser ü', '登山ランタン', 'مصباح', '😀 lantern 🏕️', 'x'.repeat(500), '한국어 손전등']) {
      const value = { ...product, name: text, description: text.repeat(3), categories: [text], attributes: { [text]: text } };
      expect(mayHoldLoneSurrogate(await codec.encode(topic, value)), text).toBe(false);
    }
  });
});

describe('encodeRecords with a RegistrySerde', () => {
  it('refuses a lone surrogate naming its field, in short and long text, list entries and map keys', async () => {
    const { serde: codec } = serde();
    const outputs = [
      output({ ...product, name: 'Lamp \ud800' }),
      output({ ...product, description: `${'long text '.repeat(20)}\udc00` }),
      output({ ...product, categories: ['Lights', '\udbff'] }),
      output({ ...product, attributes: { 'fin\ud800ish': 'brass' } }),
      output(product),
    ];
    const error = await encodeRecords(codec, PREFIX, outputs).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RecordsRefusedError);
    expect((error as RecordsRefusedError).refusals.map((r) => [r.index, r.code, r.path])).toEqual([
      [0, 'invalid_text', 'name'],
      [1, 'invalid_text', 'description'],
      [2, 'invalid_text', 'categories.1'],
      [3, 'invalid_text', 'attributes.fin\ud800ish'],
    ]);
  });

  it('names a lone surrogate before a schema mismatch of the same value', async () => {
    const { serde: codec } = serde();
    const error = (await encodeRecords(codec, PREFIX, [output({ ...product, name: 'Lamp \ud800', status: 'gone' })]).catch((e: unknown) => e)) as RecordsRefusedError;
    expect(error.refusals.map((r) => [r.code, r.path])).toEqual([['invalid_text', 'name']]);
  });

  it('refuses a value its schema refuses, naming the fields', async () => {
    const { serde: codec } = serde();
    const error = (await encodeRecords(codec, PREFIX, [output(product), output({ ...product, tenant: 'No Spaces', price: 'cheap' })]).catch((e: unknown) => e)) as RecordsRefusedError;
    expect(error.refusals).toEqual([
      expect.objectContaining({ index: 1, code: 'schema_mismatch', reason: expect.stringMatching(/invalid field\(s\) tenant, price$/) }),
    ]);
  });

  it('encodes valid values, U+FFFD included, so that they decode to themselves', async () => {
    const { serde: codec } = serde();
    const values = [product, { ...product, name: 'Replacement \ufffd kept', description: 'x'.repeat(300_000) }];
    const records = await encodeRecords(codec, PREFIX, values.map((v) => output(v)));
    const type = CHANGE_SCHEMAS.product.avro();
    for (const [i, record] of records.entries()) {
      expect(record.value!.readInt32BE(1)).toBe(SCHEMA_ID);
      expect(type.fromBuffer(record.value!.subarray(5))).toEqual({ ...values[i] });
    }
  });
});

describe('RegistrySerde.encode', () => {
  it('refuses a value its schema refuses before registering anything', async () => {
    const { serde: codec, register } = serde();
    const error = await codec.encode(`${PREFIX}changes.product`, { ...product, visibility: 9, source_version: 5 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ code: 'schema_mismatch', message: expect.stringMatching(/invalid field\(s\) source_version, visibility$/) });
    expect(register).not.toHaveBeenCalled();
  });

  it('refuses what is no record at all', async () => {
    const { serde: codec } = serde();
    for (const value of [null, 'text', 42, []]) {
      await expect(codec.encode(`${PREFIX}changes.product`, value)).rejects.toMatchObject({ code: 'schema_mismatch' });
    }
  });
});
