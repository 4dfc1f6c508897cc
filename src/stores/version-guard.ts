import { PermanentError } from '../core/errors.js';
import type { Aspect, AspectState, AspectUpdate, HeadRecord } from './vector-store.js';

/**
 * The version guard's decisions (docs/design.md §2), pure so both stores share them and unit tests pin
 * them down: each store reads the head, asks here, writes, and stores the head returned here.
 */

/** A save or delete at `version` applies unless the head already holds a newer one (equal applies). */
export function isStale(head: HeadRecord | undefined, version: bigint): boolean {
  return head !== undefined && head.version > version;
}

function emptyHead(docKey: string): HeadRecord {
  return { doc_key: docKey, version: 0n, deleted: false, deleted_at: null, aspects: {} };
}

export function headAfterSave(head: HeadRecord | undefined, docKey: string, version: bigint): HeadRecord {
  return { ...(head ?? emptyHead(docKey)), version, deleted: false, deleted_at: null };
}

export function headAfterDelete(head: HeadRecord | undefined, docKey: string, version: bigint, deletedAt: number): HeadRecord {
  return { ...(head ?? emptyHead(docKey)), version, deleted: true, deleted_at: deletedAt };
}

/** A document with points: saved at least once and not deleted since (aspect-only heads are not). */
export function isLive(head: HeadRecord): boolean {
  return !head.deleted && head.version > 0n;
}

/** An aspect update is stale only against the same aspect's newer version. */
export function isAspectStale(head: HeadRecord | undefined, aspect: Aspect, version: bigint): boolean {
  const current = head?.aspects[aspect];
  return current !== undefined && current.version > version;
}

export function headAfterAspect(head: HeadRecord | undefined, update: AspectUpdate): HeadRecord {
  const base = head ?? emptyHead(update.docKey);
  return { ...base, aspects: { ...base.aspects, [update.aspect]: { version: update.version, fields: update.fields } } };
}

/**
 * Aspect fields a save at `version` carries over its own payload: those of aspects at least as new
 * as the save. An older aspect's values are already in the newer full entity.
 */
export function aspectOverlay(head: HeadRecord | undefined, version: bigint): Record<string, unknown> {
  const overlay: Record<string, unknown> = {};
  for (const state of Object.values(head?.aspects ?? {})) {
    if (state !== undefined && state.version >= version) Object.assign(overlay, state.fields);
  }
  return overlay;
}

/** The JSON form of a head, as both stores keep it (versions as decimal strings). */
export interface EncodedHead {
  doc_key: string;
  version: string;
  deleted: boolean;
  deleted_at: number | null;
  aspects: Partial<Record<Aspect, { version: string; fields: Record<string, unknown> }>>;
}

export function encodeHead(head: HeadRecord): EncodedHead {
  const aspects: EncodedHead['aspects'] = {};
  for (const [name, state] of Object.entries(head.aspects) as Array<[Aspect, AspectState | undefined]>) {
    if (state !== undefined) aspects[name] = { version: state.version.toString(), fields: state.fields };
  }
  return { doc_key: head.doc_key, version: head.version.toString(), deleted: head.deleted, deleted_at: head.deleted_at, aspects };
}

export function decodeHead(value: unknown): HeadRecord {
  const encoded = value as Partial<EncodedHead> | null;
  if (encoded === null || typeof encoded !== 'object' || typeof encoded.doc_key !== 'string' || typeof encoded.version !== 'string') {
    throw new PermanentError('unreadable head record in the vector store', { code: 'store_head_invalid' });
  }
  const aspects: HeadRecord['aspects'] = {};
  for (const [name, state] of Object.entries(encoded.aspects ?? {}) as Array<[Aspect, { version: string; fields: Record<string, unknown> }]>) {
    aspects[name] = { version: BigInt(state.version), fields: state.fields };
  }
  return {
    doc_key: encoded.doc_key,
    version: BigInt(encoded.version),
    deleted: encoded.deleted === true,
    deleted_at: encoded.deleted_at ?? null,
    aspects,
  };
}
