import { pythonEnv, type PythonEnvSpec } from '../../../test/support/python-env.js';

/**
 * Pathway from PyPI, in a virtual environment built on first use under node_modules/.cache (as the
 * test suite builds its own), with fastavro to read the Confluent-framed Avro values of the change
 * topics and requests to call the shared embedding endpoint.
 */
export const PATHWAY_ENV: PythonEnvSpec = {
  name: 'pathway',
  packages: ['pathway==0.33.0', 'fastavro==1.13.1', 'requests==2.34.2'],
  imports: ['pathway', 'fastavro', 'requests'],
};

/** The interpreter of the environment, installed unless it is there. */
export function pathwayPython(log: (line: string) => void = () => undefined): Promise<string> {
  return pythonEnv(PATHWAY_ENV, log);
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await pathwayPython((line) => console.error(line)));
