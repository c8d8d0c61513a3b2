"""Drive a Kubernetes API server with the official Python client (the `kubernetes` package).

Usage: steps.py KUBECONFIG NAMESPACE STEP

The step creates NAMESPACE, works only inside it, prints one line per check and exits non-zero
(with the failing check and the server's answer) on the first failure. Every wait is bounded.
"""

import json
import sys
import time

try:
    from kubernetes import client, config, dynamic, watch
    from kubernetes.client.rest import ApiException
except ImportError as e:
    print("FAIL: the Python Kubernetes client is not installed (Debian: python3-kubernetes):", e)
    sys.exit(2)

WAIT = 30  # seconds any one wait may take


class Failure(Exception):
    pass


def check(cond, what, *detail):
    if not cond:
        raise Failure(" ".join([what] + [str(d) for d in detail]))
    print("ok  ", what, flush=True)


def eventually(what, cond):
    deadline = time.monotonic() + WAIT
    last = None
    while time.monotonic() < deadline:
        try:
            if cond():
                print("ok  ", what, flush=True)
                return
        except ApiException as e:
            last = e
        time.sleep(0.1)
    raise Failure("timed out after %ds waiting for %s%s" % (WAIT, what, "; last error: %s" % last if last else ""))


def not_found(read):
    try:
        read()
    except ApiException as e:
        if e.status == 404:
            return True
        raise
    return False


def deployment(name, labels, replicas=1, containers=None):
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels={"app": name}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": name}),
                spec=client.V1PodSpec(containers=containers or [
                    client.V1Container(name="app", image="example.com/app:v1")]))))


class Steps:
    def __init__(self, api_client, ns):
        self.api_client = api_client
        self.ns = ns
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)

    def create_namespace(self):
        self.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=self.ns)))
        print("ok   created namespace", self.ns, flush=True)

    def owned_replicasets(self, name):
        rss = self.apps.list_namespaced_replica_set(self.ns, label_selector="app=" + name).items
        return [rs for rs in rss if any(o.kind == "Deployment" and o.name == name
                                        for o in rs.metadata.owner_references or [])]

    def deployment_with_replicaset(self, name):
        self.apps.create_namespaced_deployment(self.ns, deployment(name, {"app": name, "delete": "me"}))
        eventually("deployment %s has a ReplicaSet it owns" % name, lambda: self.owned_replicasets(name))
        return self.apps.list_namespaced_replica_set(self.ns, label_selector="app=" + name).items[0].metadata.name

    def step_list(self):
        self.apps.create_namespaced_deployment(self.ns, deployment("web", {"app": "web", "tier": "front"}))
        self.apps.create_namespaced_deployment(self.ns, deployment("db", {"app": "db", "tier": "back"}))
        names = lambda items: sorted(d.metadata.name for d in items)
        got = self.apps.list_namespaced_deployment(self.ns, label_selector="app=web")
        check(names(got.items) == ["web"], "list app=web gives [web]:", names(got.items))
        check(got.metadata.resource_version, "the list has a resourceVersion")
        got = self.apps.list_namespaced_deployment(self.ns, label_selector="tier in (front,back)")
        check(names(got.items) == ["db", "web"], "list tier in (front,back) gives [db web]:", names(got.items))
        got = self.apps.list_namespaced_deployment(self.ns, label_selector="app!=web")
        check(names(got.items) == ["db"], "list app!=web gives [db]:", names(got.items))
        got = self.apps.list_deployment_for_all_namespaces(label_selector="tier=back")
        mine = [d.metadata.name for d in got.items if d.metadata.namespace == self.ns]
        check(mine == ["db"], "list across namespaces tier=back gives [db] here:", mine)
        got = self.apps.list_namespaced_deployment(self.ns, field_selector="metadata.name=db")
        check(names(got.items) == ["db"], "list metadata.name=db gives [db]:", names(got.items))

    def step_watch(self):
        rv = self.core.list_namespaced_config_map(self.ns, label_selector="watched=yes").metadata.resource_version
        self.core.create_namespaced_config_map(self.ns, client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="w1", labels={"watched": "yes"}), data={"k": "1"}))
        self.core.create_namespaced_config_map(self.ns, client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="unwatched"), data={"k": "1"}))
        # ADDED comes from the watch's start at the list's resourceVersion; each later change is
        # made on seeing the event before it, so MODIFIED and DELETED arrive on the open watch.
        want = [("ADDED", "1"), ("MODIFIED", "2"), ("DELETED", "2")]
        seen = []
        w = watch.Watch()
        for e in w.stream(self.core.list_namespaced_config_map, self.ns, label_selector="watched=yes",
                          resource_version=rv, timeout_seconds=WAIT):
            typ, obj = e["type"], e["object"]
            if len(seen) == len(want):
                raise Failure("an event after DELETED: %s %s" % (typ, e["raw_object"]))
            wtyp, wk = want[len(seen)]
            seen.append(typ)
            check(typ == wtyp and isinstance(obj, client.V1ConfigMap) and obj.metadata.name == "w1"
                  and (obj.data or {}).get("k") == wk, "watch sees %s of V1ConfigMap w1 with k=%s:" % (wtyp, wk),
                  typ, type(obj).__name__, e["raw_object"].get("metadata", {}).get("name"), e["raw_object"].get("data"))
            if typ == "ADDED":
                self.core.patch_namespaced_config_map("w1", self.ns, {"data": {"k": "2"}})
            elif typ == "MODIFIED":
                self.core.delete_namespaced_config_map("w1", self.ns)
            elif typ == "DELETED":
                w.stop()
        check(len(seen) == len(want), "the watch gave ADDED, MODIFIED, DELETED before it ended:", seen)

    def step_patch(self):
        self.apps.create_namespaced_deployment(self.ns, deployment("p", {"app": "p", "drop": "me"}, containers=[
            client.V1Container(name="app", image="example.com/app:v1"),
            client.V1Container(name="sidecar", image="example.com/sidecar:v1")]))

        # The typed client sends a dict as a strategic merge patch: containers merge by name.
        d = self.apps.patch_namespaced_deployment("p", self.ns, {"spec": {"template": {"spec": {
            "containers": [{"name": "app", "image": "example.com/app:v2"}]}}}})
        images = [(c.name, c.image) for c in d.spec.template.spec.containers]
        check(images == [("app", "example.com/app:v2"), ("sidecar", "example.com/sidecar:v1")],
              "strategic merge patch changes app's image and keeps the sidecar:", images)

        # A list is sent as a JSON patch.
        d = self.apps.patch_namespaced_deployment("p", self.ns, [
            {"op": "replace", "path": "/spec/replicas", "value": 2},
            {"op": "add", "path": "/metadata/annotations", "value": {"patched": "json-patch"}}])
        check(d.spec.replicas == 2 and d.metadata.annotations.get("patched") == "json-patch",
              "JSON patch sets replicas 2 and an annotation:", d.spec.replicas, d.metadata.annotations)

        # JSON merge patch through the dynamic client: null removes a key, a list is replaced whole.
        dyn = dynamic.DynamicClient(self.api_client)
        deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
        d = deployments.patch(name="p", namespace=self.ns, content_type="application/merge-patch+json", body={
            "metadata": {"labels": {"drop": None, "added": "yes"}},
            "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "example.com/app:v3"}]}}}})
        labels = dict(d.metadata.labels)
        check(labels == {"app": "p", "added": "yes"}, "merge patch removes label drop and adds added:", labels)
        images = [(c.name, c.image) for c in d.spec.template.spec.containers]
        check(images == [("app", "example.com/app:v3")], "merge patch replaces the container list:", images)

        # The typed client on a ConfigMap, and a patch that fails validation.
        self.core.create_namespaced_config_map(self.ns, client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="c"), data={"a": "1", "b": "2"}))
        cm = self.core.patch_namespaced_config_map("c", self.ns, {"data": {"b": None, "c": "3"}})
        check(cm.data == {"a": "1", "c": "3"}, "strategic merge patch on a ConfigMap:", cm.data)
        try:
            self.apps.patch_namespaced_deployment("p", self.ns, {"spec": {"replicas": -1}})
            raise Failure("a patch to replicas -1 was accepted")
        except ApiException as e:
            check(e.status == 422 and json.loads(e.body).get("reason") == "Invalid",
                  "a patch to replicas -1 is 422 Invalid:", e.status, e.body)

    def step_scale(self):
        self.apps.create_namespaced_deployment(self.ns, deployment("s", {"app": "s"}))
        sc = self.apps.read_namespaced_deployment_scale("s", self.ns)
        check(sc.kind == "Scale" and sc.api_version == "autoscaling/v1" and sc.spec.replicas == 1,
              "read scale is an autoscaling/v1 Scale of 1:", sc.kind, sc.api_version, sc.spec.replicas)
        sc = self.apps.patch_namespaced_deployment_scale("s", self.ns, {"spec": {"replicas": 3}})
        check(sc.spec.replicas == 3, "patch scale answers replicas 3:", sc.spec.replicas)
        d = self.apps.read_namespaced_deployment("s", self.ns)
        check(d.spec.replicas == 3, "the deployment's spec.replicas is 3:", d.spec.replicas)

        # Read, modify, replace: the controller's status writes move the resourceVersion, so
        # retry on 409 as client-go's RetryOnConflict does.
        for attempt in range(10):
            sc = self.apps.read_namespaced_deployment_scale("s", self.ns)
            sc.spec.replicas = 2
            try:
                sc = self.apps.replace_namespaced_deployment_scale("s", self.ns, sc)
                break
            except ApiException as e:
                if e.status != 409 or attempt == 9:
                    raise
                print("ok   replace scale conflicted with a status write; retrying", flush=True)
        check(sc.spec.replicas == 2, "replace scale answers replicas 2:", sc.spec.replicas)
        eventually("scale status.replicas 2 with selector app=s", lambda: (
            lambda s: s.status.replicas == 2 and s.status.selector == "app=s")(
                self.apps.read_namespaced_deployment_scale("s", self.ns)))

        stale = self.apps.read_namespaced_deployment_scale("s", self.ns)
        stale.metadata.resource_version = "1"
        stale.spec.replicas = 5
        try:
            self.apps.replace_namespaced_deployment_scale("s", self.ns, stale)
            raise Failure("replace scale with a stale resourceVersion was accepted")
        except ApiException as e:
            check(e.status == 409, "replace scale with a stale resourceVersion is 409:", e.status, e.body)

    def delete_both_ways(self, prefix, policy):
        """Deletes two new Deployments with policy, one in the body and one in the query, and
        returns {name: its ReplicaSet}."""
        rss = {}
        for via in ("body", "query"):
            name = prefix + via
            rss[name] = self.deployment_with_replicaset(name)
        for name in rss:
            if name.endswith("body"):
                self.apps.delete_namespaced_deployment(
                    name, self.ns, body=client.V1DeleteOptions(propagation_policy=policy))
                print("ok   deleted %s with propagationPolicy %s in the body" % (name, policy), flush=True)
            else:
                self.apps.delete_namespaced_deployment(name, self.ns, propagation_policy=policy)
                print("ok   deleted %s with propagationPolicy %s in the query" % (name, policy), flush=True)
        return rss

    def step_delete_foreground(self):
        rss = self.delete_both_ways("fg-", "Foreground")
        for name in rss:
            try:
                d = self.apps.read_namespaced_deployment(name, self.ns)
                check(d.metadata.deletion_timestamp and "foregroundDeletion" in (d.metadata.finalizers or []),
                      "%s is marked for deletion with the foregroundDeletion finalizer:" % name,
                      d.metadata.deletion_timestamp, d.metadata.finalizers)
            except ApiException as e:
                if e.status != 404:
                    raise
                print("ok   %s is already gone" % name, flush=True)
        for name, rs in rss.items():
            eventually("ReplicaSet %s gone" % rs, lambda: not_found(
                lambda: self.apps.read_namespaced_replica_set(rs, self.ns)))
            eventually("deployment %s gone after its ReplicaSet" % name, lambda: not_found(
                lambda: self.apps.read_namespaced_deployment(name, self.ns)))

    def step_delete_orphan(self):
        rss = self.delete_both_ways("or-", "Orphan")
        for name, rs in rss.items():
            eventually("deployment %s gone" % name, lambda: not_found(
                lambda: self.apps.read_namespaced_deployment(name, self.ns)))
            got = self.apps.read_namespaced_replica_set(rs, self.ns)
            check(not got.metadata.owner_references, "ReplicaSet %s stays, with no owner:" % rs,
                  got.metadata.owner_references)

    def step_delete_background(self):
        rss = self.delete_both_ways("bg-", "Background")
        for name, rs in rss.items():
            check(not_found(lambda: self.apps.read_namespaced_deployment(name, self.ns)),
                  "deployment %s is gone at once" % name)
            eventually("ReplicaSet %s gone" % rs, lambda: not_found(
                lambda: self.apps.read_namespaced_replica_set(rs, self.ns)))

    def step_delete_collection(self):
        for name, batch in (("a", "old"), ("b", "old"), ("c", "old"), ("d", "new")):
            self.core.create_namespaced_config_map(self.ns, client.V1ConfigMap(
                metadata=client.V1ObjectMeta(name=name, labels={"batch": batch})))
        self.core.delete_collection_namespaced_config_map(self.ns, label_selector="batch=old")
        left = sorted(c.metadata.name for c in
                      self.core.list_namespaced_config_map(self.ns, label_selector="batch").items)
        check(left == ["d"], "delete collection batch=old leaves [d]:", left)
        self.core.delete_collection_namespaced_config_map(
            self.ns, label_selector="batch=new", body=client.V1DeleteOptions(propagation_policy="Background"))
        left = [c.metadata.name for c in
                self.core.list_namespaced_config_map(self.ns, label_selector="batch").items]
        check(left == [], "delete collection batch=new with DeleteOptions in the body leaves none:", left)


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    kubeconfig, ns, step = sys.argv[1:]
    api_client = config.new_client_from_config(config_file=kubeconfig)
    steps = Steps(api_client, ns)
    fn = getattr(steps, "step_" + step.replace("-", "_"), None)
    if fn is None:
        print("FAIL: no step", step)
        return 2
    try:
        steps.create_namespace()
        fn()
    except Failure as e:
        print("FAIL", e)
        return 1
    except ApiException as e:
        print("FAIL: the server answered %s %s: %s" % (e.status, e.reason, e.body))
        raise
    print("PASS", step)
    return 0


if __name__ == "__main__":
    sys.exit(main())
