package podcontrol

import (
	"fmt"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// ControllerIndex names the pod informer index that maps a controller's UID
// to the pods it controls, and "orphan/<namespace>" to the pods of that
// namespace that have no controller.
const ControllerIndex = "podcontrol.controller"

func orphanKey(namespace string) string { return "orphan/" + namespace }

func indexByController(obj any) ([]string, error) {
	pod, ok := obj.(*v1.Pod)
	if !ok {
		return nil, nil
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		return []string{string(ref.UID)}, nil
	}
	return []string{orphanKey(pod.Namespace)}, nil
}

// AddControllerIndex adds ControllerIndex to a pod informer. Adding it twice
// (two controllers sharing one informer) is fine.
func AddControllerIndex(informer cache.SharedIndexInformer) error {
	if _, ok := informer.GetIndexer().GetIndexers()[ControllerIndex]; ok {
		return nil
	}
	if err := informer.AddIndexers(cache.Indexers{ControllerIndex: indexByController}); err != nil {
		return fmt.Errorf("podcontrol: adding pod index: %w", err)
	}
	return nil
}

// Candidates returns the pods in namespace controlled by the controller with
// the given UID, followed by the namespace's orphans: every pod that
// controller could own or must release.
func Candidates(indexer cache.Indexer, namespace string, controller types.UID) ([]*v1.Pod, error) {
	var pods []*v1.Pod
	for _, key := range []string{string(controller), orphanKey(namespace)} {
		objs, err := indexer.ByIndex(ControllerIndex, key)
		if err != nil {
			return nil, fmt.Errorf("podcontrol: listing pods of %s: %w", key, err)
		}
		for _, obj := range objs {
			if pod, ok := obj.(*v1.Pod); ok && pod.Namespace == namespace {
				pods = append(pods, pod)
			}
		}
	}
	return pods, nil
}
