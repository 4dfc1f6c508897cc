import { filterMatches, type Payload } from './filter.js';

/**
 * An in-memory Qdrant engine for one test server: collections of points with one unnamed dense
 * vector (or none, for a collection created with `vectors: {}`), payload, filters and exact
 * (brute-force) scoring. Behaviour follows Qdrant where the stores depend on it: cosine vectors are
 * normalised on write, euclid scores are distances (ascending), ids are unsigned integers or UUIDs
 * returned in canonical form, a wrong vector size is a 400, a missing collection a 404.
 */
export class QdrantHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export type DistanceName = 'Cosine' | 'Dot' | 'Euclid' | 'Manhattan';
export type PointId = string | number;

export interface StoredPoint {
  id: PointId;
  vector: number[] | undefined;
  payload: Payload;
  version: number;
}

export interface Collection {
  name: string;
  /** Undefined for a collection without dense vectors. */
  vectors: { size: number; distance: DistanceName } | undefined;
  points: Map<string, StoredPoint>;
  indexes: Map<string, unknown>;
  operationId: number;
}

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** Qdrant accepts simple or hyphenated UUIDs and unsigned integers, and returns canonical ids. */
export function canonicalId(id: unknown): PointId {
  if (typeof id === 'number' && Number.isSafeInteger(id) && id >= 0) return id;
  if (typeof id === 'string' && UUID.test(id)) {
    const hex = id.replaceAll('-', '').toLowerCase();
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  throw new QdrantHttpError(400, `Format error in JSON body: value ${JSON.stringify(id)} is not a valid point ID, valid values are either an unsigned integer or a UUID`);
}

const keyOf = (id: PointId): string => (typeof id === 'number' ? `n:${String(id).padStart(20, '0')}` : `u:${id}`);

export class Engine {
  readonly collections = new Map<string, Collection>();

  collection(name: string): Collection {
    const found = this.collections.get(name);
    if (found === undefined) throw new QdrantHttpError(404, `Not found: Collection \`${name}\` doesn't exist!`);
    return found;
  }

  create(name: string, vectors: Collection['vectors']): void {
    if (this.collections.has(name)) throw new QdrantHttpError(409, `Wrong input: Collection \`${name}\` already exists!`);
    this.collections.set(name, { name, vectors, points: new Map(), indexes: new Map(), operationId: 0 });
  }

  private checkVector(collection: Collection, vector: unknown): number[] | undefined {
    if (collection.vectors === undefined) {
      if (vector !== null && typeof vector === 'object' && !Array.isArray(vector) && Object.keys(vector).length === 0) return undefined;
      throw new QdrantHttpError(400, `Wrong input: Not existing vector name error: collection ${collection.name} has no dense vectors`);
    }
    if (!Array.isArray(vector) || vector.some((value) => typeof value !== 'number')) {
      throw new QdrantHttpError(400, 'Wrong input: the test server supports one unnamed dense vector per point');
    }
    const { size, distance } = collection.vectors;
    if (vector.length !== size) {
      throw new QdrantHttpError(400, `Wrong input: Vector dimension error: expected dim: ${size}, got ${vector.length}`);
    }
    // Qdrant stores float32 and normalises cosine vectors on write.
    const stored = Array.from(Float32Array.from(vector as number[]));
    if (distance !== 'Cosine') return stored;
    const norm = Math.hypot(...stored);
    return norm === 0 ? stored : Array.from(Float32Array.from(stored.map((value) => value / norm)));
  }

  upsert(name: string, points: Array<{ id: unknown; vector: unknown; payload?: Payload | null }>): number {
    const collection = this.collection(name);
    // Validate every point before writing any: a rejected batch changes nothing.
    const prepared = points.map((point) => ({ id: canonicalId(point.id), vector: this.checkVector(collection, point.vector), payload: point.payload ?? {} }));
    const version = ++collection.operationId;
    for (const point of prepared) collection.points.set(keyOf(point.id), { ...point, payload: structuredClone(point.payload), version });
    return version;
  }

  select(name: string, filter: unknown): StoredPoint[] {
    return [...this.collection(name).points.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, point]) => point)
      .filter((point) => filterMatches(point, filter));
  }

  byIds(name: string, ids: unknown[]): StoredPoint[] {
    const collection = this.collection(name);
    return ids.map((id) => collection.points.get(keyOf(canonicalId(id)))).filter((point): point is StoredPoint => point !== undefined);
  }

  remove(name: string, points: StoredPoint[]): number {
    const collection = this.collection(name);
    for (const point of points) collection.points.delete(keyOf(point.id));
    return ++collection.operationId;
  }

  setPayload(name: string, points: StoredPoint[], payload: Payload): number {
    const collection = this.collection(name);
    const version = ++collection.operationId;
    for (const point of points) {
      point.payload = { ...point.payload, ...structuredClone(payload) };
      point.version = version;
    }
    return version;
  }

  /** Exact nearest neighbours; scores as Qdrant reports them. */
  nearest(name: string, query: number[], filter: unknown, limit: number, offset: number): Array<{ point: StoredPoint; score: number }> {
    const collection = this.collection(name);
    const vectors = collection.vectors;
    if (vectors === undefined) throw new QdrantHttpError(400, `Wrong input: collection ${name} has no dense vectors to query`);
    if (query.length !== vectors.size) {
      throw new QdrantHttpError(400, `Wrong input: Vector dimension error: expected dim: ${vectors.size}, got ${query.length}`);
    }
    let q = Array.from(Float32Array.from(query));
    if (vectors.distance === 'Cosine') {
      const norm = Math.hypot(...q);
      if (norm > 0) q = q.map((value) => value / norm);
    }
    const score = (v: number[]): number => {
      if (vectors.distance === 'Euclid') return Math.sqrt(v.reduce((sum, value, i) => sum + (value - q[i]!) ** 2, 0));
      if (vectors.distance === 'Manhattan') return v.reduce((sum, value, i) => sum + Math.abs(value - q[i]!), 0);
      return v.reduce((sum, value, i) => sum + value * q[i]!, 0);
    };
    const ascending = vectors.distance === 'Euclid' || vectors.distance === 'Manhattan';
    return this.select(name, filter)
      .map((point) => ({ point, score: score(point.vector ?? []) }))
      .sort((a, b) => (ascending ? a.score - b.score : b.score - a.score))
      .slice(offset, offset + limit);
  }
}
