// The shop example's deployment (examples/shop): the real kube-apiserver with the CatgaCluster CRD
// accepts its CatgaCluster; the StatefulSet the operator builds from it runs the shop image with
// CATGA_HANDLERS set to the module list the manifest names; that path is where the example's
// Dockerfile puts src/index.ts, and the image's own defaults agree with it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import yaml from 'js-yaml';
import { resolveSpec } from '../src/api/defaults.js';
import type { CatgaCluster } from '../src/api/types.js';
import { ENV_HANDLERS } from '../src/specs/names.js';
import { statefulSet } from '../src/specs/statefulset.js';
import { startControlPlane, type ControlPlane } from './harness/control-plane.js';
import { CRD_PATH, REPO_ROOT } from './repo-paths.js';

const SHOP_DIR = resolve(REPO_ROOT, 'examples/shop');
const MANIFEST = resolve(SHOP_DIR, 'catgacluster.yaml');
const cluster = yaml.load(readFileSync(MANIFEST, 'utf8')) as CatgaCluster;
/** Where the Dockerfile copies the example's folder. */
const IMAGE_APP_DIR = '/app/shop';

let cp: ControlPlane;
before(async () => {
  cp = await startControlPlane({ crdFiles: [CRD_PATH] });
  await cp.createNamespace(cluster.metadata!.namespace!);
});
after(async () => { await cp?.stop(); });

test('the API server accepts the shop\'s CatgaCluster (server-side dry run)', () => {
  const out = execFileSync('kubectl', ['--kubeconfig', cp.kubeconfigPath, 'apply', '--dry-run=server', '-f', MANIFEST], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.match(out, /catgacluster\.catga\.io\/shop created \(server dry run\)/);
});

test('the shop\'s nodes load the module list the Dockerfile puts in the image', () => {
  const spec = resolveSpec(cluster.spec!);
  const sts = statefulSet({ ref: { name: 'shop', namespace: 'shop', uid: 'u' }, spec, replicas: spec.replicas, bootstrapExpect: spec.replicas, restoring: false, tls: { kind: 'disabled' } });
  const container = sts.spec!.template.spec!.containers[0]!;
  assert.equal(container.image, cluster.spec!.image);
  const handlers = container.env!.find((e) => e.name === ENV_HANDLERS)?.value;
  assert.equal(handlers, cluster.spec!.handlers);
  assert.ok(handlers!.startsWith(`${IMAGE_APP_DIR}/`), `${handlers} is inside ${IMAGE_APP_DIR}`);
  assert.ok(existsSync(resolve(SHOP_DIR, handlers!.slice(IMAGE_APP_DIR.length + 1))), `${handlers} is a file of the example`);
  const dockerfile = readFileSync(resolve(SHOP_DIR, 'Dockerfile'), 'utf8');
  assert.match(dockerfile, new RegExp(`^WORKDIR ${IMAGE_APP_DIR}$`, 'm'));
  assert.match(dockerfile, /^COPY src \.\/src$/m);
  assert.match(dockerfile, new RegExp(`CATGA_HANDLERS=${handlers}\\b`));
});
