import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pythonEnv, type PythonEnvSpec } from '../python-env.js';

/**
 * The Python the Qdrant test server runs its engine in: Qdrant's engine as an embeddable shard
 * (qdrant-edge-py) and numpy (see edge_filters.py for why), both pinned, installed from PyPI on
 * first use (test/support/python-env.ts).
 */
export const EDGE_PYTHON: PythonEnvSpec = {
  name: 'qdrant-edge',
  packages: ['qdrant-edge-py==0.9.0', 'numpy==2.4.6'],
  imports: ['qdrant_edge', 'numpy'],
};

const HERE = path.dirname(fileURLToPath(import.meta.url));

export interface EdgePython {
  /** The environment's interpreter. */
  python: string;
  /** The sidecar script it runs. */
  script: string;
}

/** Installs the environment unless it is there; later calls in the process reuse the answer. */
export async function edgePython(log: (line: string) => void = () => undefined): Promise<EdgePython> {
  return { python: await pythonEnv(EDGE_PYTHON, log), script: path.join(HERE, 'edge_shard.py') };
}
