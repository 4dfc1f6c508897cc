/**
 * Starts the Qdrant test server of the test suite (test/support/qdrant-server: the REST API checked
 * against Qdrant's OpenAPI, over Qdrant's own storage engine) and prints its URL, so the pipeline
 * benchmark can run against it: `QDRANT_URL=<url> npm run bench -- --scenario pipeline`.
 * Stops on SIGINT or SIGTERM and then prints any request that did not match the API.
 */
import { startQdrantServer } from '../test/support/qdrant-server/server.js';

const server = await startQdrantServer();
console.log(server.url);
const stop = async () => {
  await server.close();
  if (server.violations.length > 0) {
    console.error(`${server.violations.length} request(s) did not match Qdrant's API:\n${server.violations.slice(0, 20).join('\n')}`);
    process.exitCode = 1;
  }
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
