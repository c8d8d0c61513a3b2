package namespace

import (
	"fmt"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// progress is what one pass over a terminating namespace found.
type progress struct {
	remaining  map[string]int // "<resource>.<group>" → objects left
	finalizers map[string]int // finalizer → objects left carrying it
	failures   []string       // errors deleting or listing content
}

func (p progress) done() bool { return len(p.remaining) == 0 && len(p.failures) == 0 }

// conditionOrder and the OK wording follow Kubernetes' namespace deleter.
var conditionOrder = []v1.NamespaceConditionType{
	v1.NamespaceDeletionDiscoveryFailure,
	v1.NamespaceDeletionGVParsingFailure,
	v1.NamespaceDeletionContentFailure,
	v1.NamespaceContentRemaining,
	v1.NamespaceFinalizersRemaining,
}

var okCondition = map[v1.NamespaceConditionType][2]string{ // reason, message
	v1.NamespaceDeletionDiscoveryFailure: {"ResourcesDiscovered", "All resources successfully discovered"},
	v1.NamespaceDeletionGVParsingFailure: {"ParsedGroupVersions", "All legacy kube types successfully parsed"},
	v1.NamespaceDeletionContentFailure:   {"ContentDeleted", "All content successfully deleted, may be waiting on finalization"},
	v1.NamespaceContentRemaining:         {"ContentRemoved", "All content successfully removed"},
	v1.NamespaceFinalizersRemaining:      {"ContentHasNoFinalizers", "All content-preserving finalizers finished"},
}

// conditions returns the namespace conditions describing p, keeping the
// transition time of any condition whose status did not change.
func conditions(old []v1.NamespaceCondition, p progress, now metav1.Time) []v1.NamespaceCondition {
	bad := map[v1.NamespaceConditionType]v1.NamespaceCondition{}
	if len(p.failures) > 0 {
		bad[v1.NamespaceDeletionContentFailure] = v1.NamespaceCondition{
			Reason: "ContentDeletionFailed",
			Message: fmt.Sprintf("Failed to delete all resource types, %d remaining: %s",
				len(p.failures), strings.Join(p.failures, ", ")),
		}
	}
	if len(p.remaining) > 0 {
		bad[v1.NamespaceContentRemaining] = v1.NamespaceCondition{
			Reason:  "SomeResourcesRemain",
			Message: "Some resources are remaining: " + summarize(p.remaining, "%s has %d resource instances"),
		}
	}
	if len(p.finalizers) > 0 {
		bad[v1.NamespaceFinalizersRemaining] = v1.NamespaceCondition{
			Reason:  "SomeFinalizersRemain",
			Message: "Some content in the namespace has finalizers remaining: " + summarize(p.finalizers, "%s in %d resource instances"),
		}
	}
	out := make([]v1.NamespaceCondition, 0, len(conditionOrder))
	for _, t := range conditionOrder {
		c, failed := bad[t]
		c.Type, c.Status, c.LastTransitionTime = t, v1.ConditionTrue, now
		if !failed {
			c.Status, c.Reason, c.Message = v1.ConditionFalse, okCondition[t][0], okCondition[t][1]
		}
		for _, o := range old {
			if o.Type == t && o.Status == c.Status {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
		out = append(out, c)
	}
	return out
}

func summarize(counts map[string]int, format string) string {
	parts := make([]string, 0, len(counts))
	for k, n := range counts {
		parts = append(parts, fmt.Sprintf(format, k, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// sameConditions compares conditions ignoring transition times.
func sameConditions(a, b []v1.NamespaceCondition) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Type != b[i].Type || a[i].Status != b[i].Status || a[i].Reason != b[i].Reason || a[i].Message != b[i].Message {
			return false
		}
	}
	return true
}
