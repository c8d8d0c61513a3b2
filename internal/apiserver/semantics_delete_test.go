package apiserver_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// deleteOptions is a DeleteOptions request body with the given fields.
func deleteOptions(fields string) string {
	if fields != "" {
		fields = "," + fields
	}
	return `{"kind":"DeleteOptions","apiVersion":"v1"` + fields + `}`
}

// TestDeletePodSemantics: graceful deletion of pods.
//
// Upstream: core/pod/strategy.go (CheckGracefulDelete: the pod's terminationGracePeriodSeconds, 0
// for a pod on no node or a finished one), registry/rest/delete.go (BeforeDelete: deletionTimestamp
// and deletionGracePeriodSeconds, a negative grace period counts as 1s, a second delete may only
// shorten it, the generation is bumped), registry/generic/registry/store.go (Delete, pods return
// the deleted object), endpoints/handlers/delete.go (200 unless orphanDependents=false).
func TestDeletePodSemantics(t *testing.T) {
	scheduled := func(t *testing.T, s *apiServer) map[string]string { return vars(s.pod(t, "default", "p", "node-1")) }
	gone := func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
		if p := decode[corev1.Pod](t, r); p.Kind != "Pod" || p.Name != "p" {
			t.Errorf("answered %s %q, want the deleted Pod p", p.Kind, p.Name)
		}
		if s.exists(t, pods+"/p") {
			t.Error("the pod is still stored")
		}
	}
	marked := func(grace int64) func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
		return func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
			for _, p := range []corev1.Pod{decode[corev1.Pod](t, r), get[corev1.Pod](t, s, pods+"/p")} {
				if p.DeletionTimestamp == nil || p.DeletionGracePeriodSeconds == nil || *p.DeletionGracePeriodSeconds != grace {
					t.Fatalf("deletionTimestamp %v, deletionGracePeriodSeconds %v: want set and %d", p.DeletionTimestamp, p.DeletionGracePeriodSeconds, grace)
				}
				if d := time.Until(p.DeletionTimestamp.Time); d > time.Duration(grace+1)*time.Second || d < time.Duration(grace-5)*time.Second {
					t.Errorf("deletionTimestamp is %v away, want about %ds", d, grace)
				}
			}
		}
	}
	runCases(t, []apiCase{
		{
			name:  "delete of a pod on a node marks it: 200 with the pod, its grace period and deletionTimestamp",
			setup: scheduled, method: http.MethodDelete, path: pods + "/p",
			want:  want{code: http.StatusOK},
			check: marked(corev1.DefaultTerminationGracePeriodSeconds),
		},
		{
			name:  "graceful deletion bumps the pod's generation",
			setup: scheduled, method: http.MethodDelete, path: pods + "/p",
			want: want{code: http.StatusOK},
			check: func(t *testing.T, s *apiServer, _ *reply, _ map[string]string) {
				if g := get[corev1.Pod](t, s, pods+"/p").Generation; g != 2 {
					t.Errorf("generation = %d, want 2", g)
				}
			},
		},
		{
			name:  "gracePeriodSeconds in the body sets the grace period",
			setup: scheduled, method: http.MethodDelete, path: pods + "/p",
			body: deleteOptions(`"gracePeriodSeconds":10`),
			want: want{code: http.StatusOK}, check: marked(10),
		},
		{
			name:  "gracePeriodSeconds=0 in the body removes a pod on a node at once",
			setup: scheduled, method: http.MethodDelete, path: pods + "/p",
			body: deleteOptions(`"gracePeriodSeconds":0`),
			want: want{code: http.StatusOK}, check: gone,
		},
		{
			name:  "?gracePeriodSeconds=0 removes a pod on a node at once",
			setup: scheduled, method: http.MethodDelete, path: pods + "/p?gracePeriodSeconds=0",
			want: want{code: http.StatusOK}, check: gone,
		},
		{
			name:  "a negative grace period counts as one second",
			setup: scheduled, method: http.MethodDelete, path: pods + "/p?gracePeriodSeconds=-5",
			want: want{code: http.StatusOK}, check: marked(1),
		},
		{
			name: "delete of a pod on no node removes it at once",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				return vars(s.pod(t, "default", "p", ""))
			},
			method: http.MethodDelete, path: pods + "/p",
			want: want{code: http.StatusOK}, check: gone,
		},
		{
			name: "a second delete with a shorter grace period shortens it",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				v := scheduled(t, s)
				s.mustDo(t, http.MethodDelete, pods+"/p", "", "")
				return v
			},
			method: http.MethodDelete, path: pods + "/p?gracePeriodSeconds=5",
			want: want{code: http.StatusOK}, check: marked(5),
		},
		{
			name: "a second delete without a grace period answers 200 with the pod still marked",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				v := scheduled(t, s)
				s.mustDo(t, http.MethodDelete, pods+"/p", "", "")
				return v
			},
			method: http.MethodDelete, path: pods + "/p",
			want: want{code: http.StatusOK}, check: marked(corev1.DefaultTerminationGracePeriodSeconds),
		},
		{
			name:  "dryRun=All leaves a pod on a node unmarked",
			setup: scheduled, method: http.MethodDelete, path: pods + "/p?dryRun=All",
			want: want{code: http.StatusOK},
			check: func(t *testing.T, s *apiServer, _ *reply, v map[string]string) {
				if p := get[corev1.Pod](t, s, pods+"/p"); p.DeletionTimestamp != nil || p.ResourceVersion != v["rv"] {
					t.Errorf("a dry-run delete changed the pod: deletionTimestamp %v, rv %s -> %s", p.DeletionTimestamp, v["rv"], p.ResourceVersion)
				}
			},
		},
	})
}

// TestDeleteSemantics: DELETE of objects without graceful deletion, finalizers, propagation,
// preconditions, dry runs and DeleteOptions from the body or the query.
//
// Upstream: endpoints/handlers/delete.go (DeleteOptions come from the body when there is one and
// from the query only when there is none; ValidateDeleteOptions → 422 DeleteOptions.meta.k8s.io),
// registry/rest/delete.go (BeforeDelete: precondition messages, on the object's Kind),
// registry/generic/registry/store.go (finalizeDelete: a Success Status naming the object for
// kinds that do not return it; markAsDeleting: deletionTimestamp now, deletionGracePeriodSeconds 0
// while finalizers remain; deletionFinalizersForGarbageCollection: "orphan" and
// "foregroundDeletion"; Update: an object marked for deletion goes when its last finalizer goes;
// DeleteCollection: the list of what was deleted).
func TestDeleteSemantics(t *testing.T) {
	configMap := func(t *testing.T, s *apiServer) map[string]string { return vars(s.configMap(t, "default", "c")) }
	held := func(t *testing.T, s *apiServer) map[string]string {
		return vars(s.configMap(t, "default", "c", withFinalizers("example.com/a")))
	}
	deletedNow := func(t *testing.T, s *apiServer, r *reply, v map[string]string) {
		st := decode[metav1.Status](t, r)
		if st.Kind != "Status" || st.Status != metav1.StatusSuccess || st.Details == nil ||
			st.Details.Name != "c" || st.Details.Kind != "configmaps" || string(st.Details.UID) != v["uid"] {
			t.Errorf("answered %s, want a Success Status with details name c, kind configmaps, uid %s", r.body, v["uid"])
		}
		if s.exists(t, configMaps+"/c") {
			t.Error("the configmap is still stored")
		}
	}
	kept := func(finalizers ...string) func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
		return func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
			for _, cm := range []corev1.ConfigMap{decode[corev1.ConfigMap](t, r), get[corev1.ConfigMap](t, s, configMaps+"/c")} {
				if cm.DeletionTimestamp == nil || cm.DeletionGracePeriodSeconds == nil || *cm.DeletionGracePeriodSeconds != 0 {
					t.Errorf("deletionTimestamp %v, deletionGracePeriodSeconds %v: want set and 0", cm.DeletionTimestamp, cm.DeletionGracePeriodSeconds)
				}
				if !slices.Equal(cm.Finalizers, finalizers) {
					t.Errorf("finalizers = %q, want %q", cm.Finalizers, finalizers)
				}
			}
		}
	}
	untouched := func(t *testing.T, s *apiServer, _ *reply, v map[string]string) {
		cm := get[corev1.ConfigMap](t, s, configMaps+"/c")
		if cm.DeletionTimestamp != nil || len(cm.Finalizers) > 0 || cm.ResourceVersion != v["rv"] {
			t.Errorf("the configmap changed: deletionTimestamp %v, finalizers %q, rv %s -> %s",
				cm.DeletionTimestamp, cm.Finalizers, v["rv"], cm.ResourceVersion)
		}
	}
	runCases(t, []apiCase{
		{
			name:  "delete of a configmap answers 200 with a Success Status naming it",
			setup: configMap, method: http.MethodDelete, path: configMaps + "/c",
			want: want{code: http.StatusOK}, check: deletedNow,
		},
		{
			name:   "delete of a missing object is 404",
			method: http.MethodDelete, path: configMaps + "/nope",
			want: want{code: http.StatusNotFound, reason: metav1.StatusReasonNotFound, message: `configmaps "nope" not found`},
		},
		{
			name:  "a finalizer keeps a deleted object: 200 with deletionTimestamp and grace period 0",
			setup: held, method: http.MethodDelete, path: configMaps + "/c",
			want: want{code: http.StatusOK}, check: kept("example.com/a"),
		},
		{
			name: "removing the last finalizer of a deleted object removes it",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				v := held(t, s)
				s.mustDo(t, http.MethodDelete, configMaps+"/c", "", "")
				return v
			},
			method: http.MethodPatch, path: configMaps + "/c", contentType: jsonMerge, body: `{"metadata":{"finalizers":null}}`,
			want: want{code: http.StatusOK},
			check: func(t *testing.T, s *apiServer, _ *reply, _ map[string]string) {
				if s.exists(t, configMaps+"/c") {
					t.Error("the configmap is still stored without finalizers")
				}
			},
		},
		{
			name: "removing one of two finalizers keeps a deleted object",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				v := vars(s.configMap(t, "default", "c", withFinalizers("example.com/a", "example.com/b")))
				s.mustDo(t, http.MethodDelete, configMaps+"/c", "", "")
				return v
			},
			method: http.MethodPatch, path: configMaps + "/c", contentType: jsonMerge, body: `{"metadata":{"finalizers":["example.com/b"]}}`,
			want: want{code: http.StatusOK}, check: kept("example.com/b"),
		},
		{
			name:  "propagationPolicy Orphan in the body adds the orphan finalizer",
			setup: configMap, method: http.MethodDelete, path: configMaps + "/c",
			body: deleteOptions(`"propagationPolicy":"Orphan"`),
			want: want{code: http.StatusOK}, check: kept(metav1.FinalizerOrphanDependents),
		},
		{
			name:  "?propagationPolicy=Orphan adds the orphan finalizer",
			setup: configMap, method: http.MethodDelete, path: configMaps + "/c?propagationPolicy=Orphan",
			want: want{code: http.StatusOK}, check: kept(metav1.FinalizerOrphanDependents),
		},
		{
			name:  "propagationPolicy Foreground adds the foregroundDeletion finalizer",
			setup: configMap, method: http.MethodDelete, path: configMaps + "/c",
			body: deleteOptions(`"propagationPolicy":"Foreground"`),
			want: want{code: http.StatusOK}, check: kept(metav1.FinalizerDeleteDependents),
		},
		{
			name:  "?propagationPolicy=Background deletes at once",
			setup: configMap, method: http.MethodDelete, path: configMaps + "/c?propagationPolicy=Background",
			want: want{code: http.StatusOK}, check: deletedNow,
		},
		{
			name:  "an unknown propagationPolicy is 422 naming propagationPolicy",
			setup: configMap, method: http.MethodDelete, path: configMaps + "/c",
			body: deleteOptions(`"propagationPolicy":"Bogus"`),
			want: want{code: http.StatusUnprocessableEntity, reason: metav1.StatusReasonInvalid,
				message: `DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "Bogus": supported values: "Foreground", "Background", "Orphan", "nil"`,
				causes:  []string{"propagationPolicy"}},
			check: untouched,
		},
		{
			name:  "an unknown ?propagationPolicy is 422 naming propagationPolicy",
			setup: configMap, method: http.MethodDelete, path: configMaps + "/c?propagationPolicy=Bogus",
			want: want{code: http.StatusUnprocessableEntity, reason: metav1.StatusReasonInvalid,
				causes: []string{"propagationPolicy"}},
			check: untouched,
		},
		{
			name:  "orphanDependents with a propagationPolicy is 422",
			setup: configMap, method: http.MethodDelete, path: configMaps + "/c",
			body: deleteOptions(`"orphanDependents":true,"propagationPolicy":"Orphan"`),
			want: want{code: http.StatusUnprocessableEntity, reason: metav1.StatusReasonInvalid,
				message: `DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Invalid value: "Orphan": orphanDependents and deletionPropagation cannot be both set`},
			check: untouched,
		},
		{
			name:  "a uid precondition that does not match is 409 and keeps the object",
			setup: configMap, method: http.MethodDelete, path: configMaps + "/c",
			body: deleteOptions(`"preconditions":{"uid":"6a1b2c3d-0000-4000-8000-000000000000"}`),
			want: want{code: http.StatusConflict, reason: metav1.StatusReasonConflict,
				message: `Operation cannot be fulfilled on ConfigMap "c": the UID in the precondition (6a1b2c3d-0000-4000-8000-000000000000) does not match the UID in record ({uid}). The object might have been deleted and then recreated`},
			check: untouched,
		},
		{
			name: "a stale resourceVersion precondition is 409 and keeps the object",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				cm := s.configMap(t, "default", "c")
				v := vars(s.updateConfigMap(t, cm, "2"))
				v["stale"] = cm.ResourceVersion
				return v
			},
			method: http.MethodDelete, path: configMaps + "/c",
			body: deleteOptions(`"preconditions":{"resourceVersion":"{stale}"}`),
			want: want{code: http.StatusConflict, reason: metav1.StatusReasonConflict,
				message: `Operation cannot be fulfilled on ConfigMap "c": the ResourceVersion in the precondition ({stale}) does not match the ResourceVersion in record ({rv}). The object might have been modified`},
			check: untouched,
		},
		{
			name:  "preconditions that match delete the object",
			setup: configMap, method: http.MethodDelete, path: configMaps + "/c",
			body: deleteOptions(`"preconditions":{"uid":"{uid}","resourceVersion":"{rv}"}`),
			want: want{code: http.StatusOK}, check: deletedNow,
		},
		{
			name:  "?dryRun=All changes nothing",
			setup: configMap, method: http.MethodDelete, path: configMaps + "/c?dryRun=All",
			want: want{code: http.StatusOK}, check: untouched,
		},
		{
			name:  "dryRun All in the body changes nothing",
			setup: configMap, method: http.MethodDelete, path: configMaps + "/c",
			body: deleteOptions(`"dryRun":["All"]`),
			want: want{code: http.StatusOK}, check: untouched,
		},
		{
			name:  "dryRun All with a finalizer leaves the object unmarked",
			setup: held, method: http.MethodDelete, path: configMaps + "/c?dryRun=All",
			want: want{code: http.StatusOK},
			check: func(t *testing.T, s *apiServer, _ *reply, v map[string]string) {
				if cm := get[corev1.ConfigMap](t, s, configMaps+"/c"); cm.DeletionTimestamp != nil || cm.ResourceVersion != v["rv"] {
					t.Errorf("a dry-run delete marked the object: %v, rv %s -> %s", cm.DeletionTimestamp, v["rv"], cm.ResourceVersion)
				}
			},
		},
		{
			name:  "an unknown dryRun value is 422 naming dryRun",
			setup: configMap, method: http.MethodDelete, path: configMaps + "/c",
			body: deleteOptions(`"dryRun":["Bogus"]`),
			want: want{code: http.StatusUnprocessableEntity, reason: metav1.StatusReasonInvalid,
				message: `DeleteOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: ["Bogus"]: supported values: "All"`,
				causes:  []string{"dryRun"}},
			check: untouched,
		},
		{
			name:  "query options are ignored when the body carries DeleteOptions",
			setup: configMap, method: http.MethodDelete, path: configMaps + "/c?propagationPolicy=Orphan",
			body: deleteOptions(""),
			want: want{code: http.StatusOK}, check: deletedNow,
		},
		{
			name: "deletecollection with a label selector deletes the matching objects and lists them",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				s.configMap(t, "default", "web-1", withLabels("app", "web"))
				s.configMap(t, "default", "web-2", withLabels("app", "web"))
				s.configMap(t, "default", "db", withLabels("app", "db"))
				return nil
			},
			method: http.MethodDelete, path: configMaps + "?labelSelector=app%3Dweb",
			want: want{code: http.StatusOK},
			check: func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
				list := decode[corev1.ConfigMapList](t, r)
				var names []string
				for _, cm := range list.Items {
					names = append(names, cm.Name)
				}
				slices.Sort(names)
				if list.Kind != "ConfigMapList" || !slices.Equal(names, []string{"web-1", "web-2"}) {
					t.Errorf("answered %s %q, want a ConfigMapList of web-1 and web-2", list.Kind, names)
				}
				if s.exists(t, configMaps+"/web-1") || s.exists(t, configMaps+"/web-2") || !s.exists(t, configMaps+"/db") {
					t.Error("deletecollection removed the wrong objects")
				}
			},
		},
		{
			name: "deletecollection with ?dryRun=All deletes nothing",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				s.configMap(t, "default", "web-1", withLabels("app", "web"))
				return nil
			},
			method: http.MethodDelete, path: configMaps + "?labelSelector=app%3Dweb&dryRun=All",
			want: want{code: http.StatusOK},
			check: func(t *testing.T, s *apiServer, _ *reply, _ map[string]string) {
				if !s.exists(t, configMaps+"/web-1") {
					t.Error("a dry-run deletecollection deleted web-1")
				}
			},
		},
	})
}

// TestStatusUpdateOfAPodBeingDeleted: the node agent keeps writing a terminating pod's status;
// the pod status strategy clears deletionTimestamp from the request, and the update keeps the
// stored one (upstream's rest.BeforeUpdate restores it after the strategy's preparation).
func TestStatusUpdateOfAPodBeingDeleted(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	s.pod(t, "default", "p", "node-1")
	pods := s.client.CoreV1().Pods("default")
	if err := pods.Delete(ctx, "p", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	pod, err := pods.Get(ctx, "p", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.Phase = corev1.PodRunning
	updated, err := pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("status update of a terminating pod: %v", err)
	}
	if updated.DeletionTimestamp == nil || !updated.DeletionTimestamp.Equal(pod.DeletionTimestamp) || updated.Status.Phase != corev1.PodRunning {
		t.Errorf("after the status update: deletionTimestamp %v (was %v), phase %s", updated.DeletionTimestamp, pod.DeletionTimestamp, updated.Status.Phase)
	}
}
