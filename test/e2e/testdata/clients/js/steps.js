// Drive a Kubernetes API server with the official JavaScript client (@kubernetes/client-node).
//
// Usage: node steps.js KUBECONFIG NAMESPACE STEP
//
// The step creates NAMESPACE, works only inside it, prints one line per check and exits
// non-zero (with the failing check and the server's answer) on the first failure. Every wait is
// bounded.

let k8s;
try {
  k8s = await import('@kubernetes/client-node');
} catch (e) {
  console.log('FAIL: @kubernetes/client-node is not installed (run npm ci in this directory):', e.message);
  process.exit(2);
}

const WAIT = 30_000; // milliseconds any one wait may take

class Failure extends Error {}

function check(cond, what, ...detail) {
  if (!cond) {
    throw new Failure([what, ...detail.map((d) => JSON.stringify(d))].join(' '));
  }
  console.log('ok  ', what);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually(what, cond) {
  const deadline = Date.now() + WAIT;
  let last;
  while (Date.now() < deadline) {
    try {
      if (await cond()) {
        console.log('ok  ', what);
        return;
      }
    } catch (e) {
      if (!(e instanceof k8s.ApiException)) throw e;
      last = e;
    }
    await sleep(100);
  }
  throw new Failure(`timed out after ${WAIT / 1000}s waiting for ${what}${last ? '; last error: ' + last.message : ''}`);
}

async function notFound(read) {
  try {
    await read();
  } catch (e) {
    if (e instanceof k8s.ApiException && e.code === 404) return true;
    throw e;
  }
  return false;
}

// status returns the HTTP status of the ApiException that fn throws, or fails when it throws none.
async function status(what, fn) {
  try {
    await fn();
  } catch (e) {
    if (e instanceof k8s.ApiException) return e;
    throw e;
  }
  throw new Failure(`${what} was accepted`);
}

function deployment(name, labels, { replicas = 1, containers } = {}) {
  return {
    metadata: { name, labels },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: containers ?? [{ name: 'app', image: 'example.com/app:v1' }] },
      },
    },
  };
}

const contentType = (strategy) => k8s.setHeaderOptions('Content-Type', strategy);
const names = (items) => items.map((o) => o.metadata.name).sort();
const sameMap = (a, b) => JSON.stringify(Object.entries(a ?? {}).sort()) === JSON.stringify(Object.entries(b).sort());

class Steps {
  constructor(kc, ns) {
    this.kc = kc;
    this.ns = ns;
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.apps = kc.makeApiClient(k8s.AppsV1Api);
  }

  async createNamespace() {
    await this.core.createNamespace({ body: { metadata: { name: this.ns } } });
    console.log('ok   created namespace', this.ns);
  }

  async ownedReplicaSets(name) {
    const rss = await this.apps.listNamespacedReplicaSet({ namespace: this.ns, labelSelector: 'app=' + name });
    return rss.items.filter((rs) => (rs.metadata.ownerReferences ?? []).some((o) => o.kind === 'Deployment' && o.name === name));
  }

  async deploymentWithReplicaSet(name) {
    await this.apps.createNamespacedDeployment({ namespace: this.ns, body: deployment(name, { app: name, delete: 'me' }) });
    let rs;
    await eventually(`deployment ${name} has a ReplicaSet it owns`, async () => {
      [rs] = await this.ownedReplicaSets(name);
      return rs !== undefined;
    });
    return rs.metadata.name;
  }

  async list() {
    const ns = this.ns;
    await this.apps.createNamespacedDeployment({ namespace: ns, body: deployment('web', { app: 'web', tier: 'front' }) });
    await this.apps.createNamespacedDeployment({ namespace: ns, body: deployment('db', { app: 'db', tier: 'back' }) });
    let got = await this.apps.listNamespacedDeployment({ namespace: ns, labelSelector: 'app=web' });
    check(names(got.items).join() === 'web', 'list app=web gives [web]:', names(got.items));
    check(got.metadata.resourceVersion, 'the list has a resourceVersion');
    got = await this.apps.listNamespacedDeployment({ namespace: ns, labelSelector: 'tier in (front,back)' });
    check(names(got.items).join() === 'db,web', 'list tier in (front,back) gives [db web]:', names(got.items));
    got = await this.apps.listNamespacedDeployment({ namespace: ns, labelSelector: 'app!=web' });
    check(names(got.items).join() === 'db', 'list app!=web gives [db]:', names(got.items));
    got = await this.apps.listDeploymentForAllNamespaces({ labelSelector: 'tier=back' });
    const mine = names(got.items.filter((d) => d.metadata.namespace === ns));
    check(mine.join() === 'db', 'list across namespaces tier=back gives [db] here:', mine);
    got = await this.apps.listNamespacedDeployment({ namespace: ns, fieldSelector: 'metadata.name=db' });
    check(names(got.items).join() === 'db', 'list metadata.name=db gives [db]:', names(got.items));
  }

  async watch() {
    const ns = this.ns;
    const listed = await this.core.listNamespacedConfigMap({ namespace: ns, labelSelector: 'watched=yes' });
    await this.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'w1', labels: { watched: 'yes' } }, data: { k: '1' } } });
    await this.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'unwatched' }, data: { k: '1' } } });
    // ADDED comes from the watch's start at the list's resourceVersion; each later change is
    // made on seeing the event before it, so MODIFIED and DELETED arrive on the open watch.
    const want = [['ADDED', '1'], ['MODIFIED', '2'], ['DELETED', '2']];
    const seen = [];
    let watcher;
    const finished = new Promise((resolve) => {
      const fail = (e) => resolve(e);
      new k8s.Watch(this.kc).watch(
        `/api/v1/namespaces/${ns}/configmaps`,
        { labelSelector: 'watched=yes', resourceVersion: listed.metadata.resourceVersion, timeoutSeconds: WAIT / 1000 },
        (type, obj) => {
          try {
            if (seen.length === want.length) throw new Failure(`an event after DELETED: ${type} ${JSON.stringify(obj)}`);
            const [wtype, wk] = want[seen.length];
            seen.push(type);
            check(type === wtype && obj?.metadata?.name === 'w1' && obj?.data?.k === wk,
              `watch sees ${wtype} w1 with k=${wk}:`, type, obj?.metadata?.name, obj?.data);
          } catch (e) {
            fail(e);
            return;
          }
          if (type === 'ADDED') {
            this.core.patchNamespacedConfigMap({ name: 'w1', namespace: ns, body: { data: { k: '2' } } },
              contentType(k8s.PatchStrategy.MergePatch)).catch(fail);
          } else if (type === 'MODIFIED') {
            this.core.deleteNamespacedConfigMap({ name: 'w1', namespace: ns }).catch(fail);
          } else if (type === 'DELETED') {
            watcher?.abort();
          }
        },
        (err) => resolve(err),
      ).then((c) => { watcher = c; }, fail);
    });
    const err = await finished;
    watcher?.abort();
    if (err instanceof Error && !(err.name === 'AbortError' && seen.length === want.length)) throw err;
    check(seen.length === want.length, 'the watch gave ADDED, MODIFIED, DELETED before it ended:', seen);
  }

  async patch() {
    const ns = this.ns;
    await this.apps.createNamespacedDeployment({
      namespace: ns,
      body: deployment('p', { app: 'p', drop: 'me' }, {
        containers: [{ name: 'app', image: 'example.com/app:v1' }, { name: 'sidecar', image: 'example.com/sidecar:v1' }],
      }),
    });

    // A strategic merge patch merges containers by name.
    let d = await this.apps.patchNamespacedDeployment({
      name: 'p', namespace: ns,
      body: { spec: { template: { spec: { containers: [{ name: 'app', image: 'example.com/app:v2' }] } } } },
    }, contentType(k8s.PatchStrategy.StrategicMergePatch));
    let images = d.spec.template.spec.containers.map((c) => `${c.name}=${c.image}`);
    check(images.join() === 'app=example.com/app:v2,sidecar=example.com/sidecar:v1',
      "strategic merge patch changes app's image and keeps the sidecar:", images);

    // The generated client's default for a patch is a JSON patch.
    d = await this.apps.patchNamespacedDeployment({
      name: 'p', namespace: ns,
      body: [
        { op: 'replace', path: '/spec/replicas', value: 2 },
        { op: 'add', path: '/metadata/annotations', value: { patched: 'json-patch' } },
      ],
    });
    check(d.spec.replicas === 2 && d.metadata.annotations?.patched === 'json-patch',
      'JSON patch sets replicas 2 and an annotation:', d.spec.replicas, d.metadata.annotations);

    // A JSON merge patch: null removes a key, a list is replaced whole.
    d = await this.apps.patchNamespacedDeployment({
      name: 'p', namespace: ns,
      body: {
        metadata: { labels: { drop: null, added: 'yes' } },
        spec: { template: { spec: { containers: [{ name: 'app', image: 'example.com/app:v3' }] } } },
      },
    }, contentType(k8s.PatchStrategy.MergePatch));
    check(sameMap(d.metadata.labels, { app: 'p', added: 'yes' }), 'merge patch removes label drop and adds added:', d.metadata.labels);
    images = d.spec.template.spec.containers.map((c) => `${c.name}=${c.image}`);
    check(images.join() === 'app=example.com/app:v3', 'merge patch replaces the container list:', images);

    // The generic object API finds the resource by discovery.
    const objects = k8s.KubernetesObjectApi.makeApiClient(this.kc);
    const o = await objects.patch(
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'p', namespace: ns, annotations: { generic: 'yes' } } },
      undefined, undefined, undefined, undefined, k8s.PatchStrategy.MergePatch);
    check(o.metadata.annotations?.generic === 'yes' && o.metadata.annotations?.patched === 'json-patch',
      'the generic object API merge-patches an annotation:', o.metadata.annotations);

    await this.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'c' }, data: { a: '1', b: '2' } } });
    const cm = await this.core.patchNamespacedConfigMap({ name: 'c', namespace: ns, body: { data: { b: null, c: '3' } } },
      contentType(k8s.PatchStrategy.StrategicMergePatch));
    check(sameMap(cm.data, { a: '1', c: '3' }), 'strategic merge patch on a ConfigMap:', cm.data);
    const e = await status('a patch to replicas -1', () => this.apps.patchNamespacedDeployment(
      { name: 'p', namespace: ns, body: { spec: { replicas: -1 } } }, contentType(k8s.PatchStrategy.StrategicMergePatch)));
    check(e.code === 422 && JSON.parse(e.body).reason === 'Invalid', 'a patch to replicas -1 is 422 Invalid:', e.code, e.body);
  }

  async scale() {
    const ns = this.ns;
    await this.apps.createNamespacedDeployment({ namespace: ns, body: deployment('s', { app: 's' }) });
    let sc = await this.apps.readNamespacedDeploymentScale({ name: 's', namespace: ns });
    check(sc.kind === 'Scale' && sc.apiVersion === 'autoscaling/v1' && sc.spec.replicas === 1,
      'read scale is an autoscaling/v1 Scale of 1:', sc.kind, sc.apiVersion, sc.spec.replicas);
    sc = await this.apps.patchNamespacedDeploymentScale({ name: 's', namespace: ns, body: { spec: { replicas: 3 } } },
      contentType(k8s.PatchStrategy.MergePatch));
    check(sc.spec.replicas === 3, 'patch scale answers replicas 3:', sc.spec.replicas);
    const d = await this.apps.readNamespacedDeployment({ name: 's', namespace: ns });
    check(d.spec.replicas === 3, "the deployment's spec.replicas is 3:", d.spec.replicas);

    // Read, modify, replace: the controller's status writes move the resourceVersion, so retry
    // on 409 as client-go's RetryOnConflict does.
    for (let attempt = 0; ; attempt++) {
      sc = await this.apps.readNamespacedDeploymentScale({ name: 's', namespace: ns });
      sc.spec.replicas = 2;
      try {
        sc = await this.apps.replaceNamespacedDeploymentScale({ name: 's', namespace: ns, body: sc });
        break;
      } catch (e) {
        if (!(e instanceof k8s.ApiException) || e.code !== 409 || attempt === 9) throw e;
        console.log('ok   replace scale conflicted with a status write; retrying');
      }
    }
    check(sc.spec.replicas === 2, 'replace scale answers replicas 2:', sc.spec.replicas);
    await eventually('scale status.replicas 2 with selector app=s', async () => {
      const s = await this.apps.readNamespacedDeploymentScale({ name: 's', namespace: ns });
      return s.status.replicas === 2 && s.status.selector === 'app=s';
    });

    const stale = await this.apps.readNamespacedDeploymentScale({ name: 's', namespace: ns });
    stale.metadata.resourceVersion = '1';
    stale.spec.replicas = 5;
    const e = await status('replace scale with a stale resourceVersion',
      () => this.apps.replaceNamespacedDeploymentScale({ name: 's', namespace: ns, body: stale }));
    check(e.code === 409, 'replace scale with a stale resourceVersion is 409:', e.code, e.body);
  }

  // deleteBothWays deletes two new Deployments with policy, one in the body and one in the
  // query, and returns a Map of name to its ReplicaSet.
  async deleteBothWays(prefix, policy) {
    const rss = new Map();
    for (const via of ['body', 'query']) {
      rss.set(prefix + via, await this.deploymentWithReplicaSet(prefix + via));
    }
    for (const name of rss.keys()) {
      if (name.endsWith('body')) {
        await this.apps.deleteNamespacedDeployment({ name, namespace: this.ns, body: { propagationPolicy: policy } });
        console.log(`ok   deleted ${name} with propagationPolicy ${policy} in the body`);
      } else {
        await this.apps.deleteNamespacedDeployment({ name, namespace: this.ns, propagationPolicy: policy });
        console.log(`ok   deleted ${name} with propagationPolicy ${policy} in the query`);
      }
    }
    return rss;
  }

  async deleteForeground() {
    const ns = this.ns;
    const rss = await this.deleteBothWays('fg-', 'Foreground');
    for (const name of rss.keys()) {
      try {
        const d = await this.apps.readNamespacedDeployment({ name, namespace: ns });
        check(d.metadata.deletionTimestamp && (d.metadata.finalizers ?? []).includes('foregroundDeletion'),
          `${name} is marked for deletion with the foregroundDeletion finalizer:`, d.metadata.deletionTimestamp, d.metadata.finalizers);
      } catch (e) {
        if (!(e instanceof k8s.ApiException) || e.code !== 404) throw e;
        console.log(`ok   ${name} is already gone`);
      }
    }
    for (const [name, rs] of rss) {
      await eventually(`ReplicaSet ${rs} gone`, () => notFound(() => this.apps.readNamespacedReplicaSet({ name: rs, namespace: ns })));
      await eventually(`deployment ${name} gone after its ReplicaSet`, () => notFound(() => this.apps.readNamespacedDeployment({ name, namespace: ns })));
    }
  }

  async deleteOrphan() {
    const ns = this.ns;
    const rss = await this.deleteBothWays('or-', 'Orphan');
    for (const [name, rs] of rss) {
      await eventually(`deployment ${name} gone`, () => notFound(() => this.apps.readNamespacedDeployment({ name, namespace: ns })));
      const got = await this.apps.readNamespacedReplicaSet({ name: rs, namespace: ns });
      check(!got.metadata.ownerReferences?.length, `ReplicaSet ${rs} stays, with no owner:`, got.metadata.ownerReferences);
    }
  }

  async deleteBackground() {
    const ns = this.ns;
    const rss = await this.deleteBothWays('bg-', 'Background');
    for (const [name, rs] of rss) {
      check(await notFound(() => this.apps.readNamespacedDeployment({ name, namespace: ns })), `deployment ${name} is gone at once`);
      await eventually(`ReplicaSet ${rs} gone`, () => notFound(() => this.apps.readNamespacedReplicaSet({ name: rs, namespace: ns })));
    }
  }

  async deleteCollection() {
    const ns = this.ns;
    for (const [name, batch] of [['a', 'old'], ['b', 'old'], ['c', 'old'], ['d', 'new']]) {
      await this.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name, labels: { batch } } } });
    }
    await this.core.deleteCollectionNamespacedConfigMap({ namespace: ns, labelSelector: 'batch=old' });
    let left = names((await this.core.listNamespacedConfigMap({ namespace: ns, labelSelector: 'batch' })).items);
    check(left.join() === 'd', 'delete collection batch=old leaves [d]:', left);
    await this.core.deleteCollectionNamespacedConfigMap({ namespace: ns, labelSelector: 'batch=new', body: { propagationPolicy: 'Background' } });
    left = names((await this.core.listNamespacedConfigMap({ namespace: ns, labelSelector: 'batch' })).items);
    check(left.length === 0, 'delete collection batch=new with DeleteOptions in the body leaves none:', left);
  }
}

async function main(argv) {
  if (argv.length !== 3) {
    console.log('usage: node steps.js KUBECONFIG NAMESPACE STEP');
    return 2;
  }
  const [kubeconfig, ns, step] = argv;
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const steps = new Steps(kc, ns);
  const run = {
    'list': () => steps.list(),
    'watch': () => steps.watch(),
    'patch': () => steps.patch(),
    'scale': () => steps.scale(),
    'delete-foreground': () => steps.deleteForeground(),
    'delete-orphan': () => steps.deleteOrphan(),
    'delete-background': () => steps.deleteBackground(),
    'delete-collection': () => steps.deleteCollection(),
  }[step];
  if (run === undefined) {
    console.log('FAIL: no step', step);
    return 2;
  }
  try {
    await steps.createNamespace();
    await run();
  } catch (e) {
    if (e instanceof Failure) {
      console.log('FAIL', e.message);
    } else if (e instanceof k8s.ApiException) {
      console.log(`FAIL: the server answered ${e.code}: ${e.body}`);
      console.log(e.stack);
    } else {
      console.log('FAIL', e.stack ?? e);
    }
    return 1;
  }
  console.log('PASS', step);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
