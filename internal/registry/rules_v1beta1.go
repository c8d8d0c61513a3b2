package registry

import (
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	appsv1beta1 "k8s.io/api/apps/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// deploymentV1beta1 serves Deployments at apps/v1beta1 as well (the version older manifests and
// books use), stored as apps/v1. The two versions share their field names, so conversion is a
// JSON round trip; spec.rollbackTo, which apps/v1 lacks, is dropped on the way in.
func deploymentV1beta1() AltVersion {
	return AltVersion{
		GroupVersion: appsv1beta1.SchemeGroupVersion,
		New:          func() runtime.Object { return &appsv1beta1.Deployment{} },
		NewList:      func() runtime.Object { return &appsv1beta1.DeploymentList{} },
		Default: func(obj runtime.Object) {
			if d, ok := obj.(*appsv1beta1.Deployment); ok {
				defaultDeploymentV1beta1(d)
			}
		},
		ToStorage:   deploymentV1beta1ToStorage,
		FromStorage: deploymentV1beta1FromStorage,
	}
}

// defaultDeploymentV1beta1 is apps/v1beta1's SetDefaults_Deployment. Unlike apps/v1 it takes the
// selector (when missing) and the deployment's labels (when it has none) from the template's
// labels, and keeps 2 old replica sets instead of 10.
func defaultDeploymentV1beta1(d *appsv1beta1.Deployment) {
	if l := d.Spec.Template.Labels; l != nil {
		if d.Spec.Selector == nil {
			d.Spec.Selector = &metav1.LabelSelector{MatchLabels: l}
		}
		if len(d.Labels) == 0 {
			d.Labels = l
		}
	}
	if d.Spec.Replicas == nil {
		d.Spec.Replicas = new(int32(1))
	}
	s := &d.Spec.Strategy
	if s.Type == "" {
		s.Type = appsv1beta1.RollingUpdateDeploymentStrategyType
	}
	if s.Type == appsv1beta1.RollingUpdateDeploymentStrategyType {
		if s.RollingUpdate == nil {
			s.RollingUpdate = &appsv1beta1.RollingUpdateDeployment{}
		}
		if s.RollingUpdate.MaxUnavailable == nil {
			s.RollingUpdate.MaxUnavailable = new(intstr.FromString("25%"))
		}
		if s.RollingUpdate.MaxSurge == nil {
			s.RollingUpdate.MaxSurge = new(intstr.FromString("25%"))
		}
	}
	if d.Spec.RevisionHistoryLimit == nil {
		d.Spec.RevisionHistoryLimit = new(int32(2))
	}
	if d.Spec.ProgressDeadlineSeconds == nil {
		d.Spec.ProgressDeadlineSeconds = new(int32(600))
	}
	defaultPodTemplate(&d.Spec.Template)
}

// deploymentV1beta1ToStorage converts an apps/v1beta1 Deployment to apps/v1.
func deploymentV1beta1ToStorage(obj runtime.Object) (runtime.Object, error) {
	in, ok := obj.(*appsv1beta1.Deployment)
	if !ok {
		return nil, fmt.Errorf("registry: apps/v1beta1 deployment: unexpected object type %T", obj)
	}
	in = in.DeepCopy()
	in.Spec.RollbackTo = nil
	out := &appsv1.Deployment{}
	if err := convertJSON(in, out); err != nil {
		return nil, fmt.Errorf("registry: convert apps/v1beta1 deployment %q to apps/v1: %w", in.Name, err)
	}
	out.TypeMeta = metav1.TypeMeta{APIVersion: appsv1.SchemeGroupVersion.String(), Kind: "Deployment"}
	return out, nil
}

// deploymentV1beta1FromStorage converts an apps/v1 Deployment or DeploymentList to apps/v1beta1.
// List items carry no apiVersion or kind, as in upstream list responses.
func deploymentV1beta1FromStorage(obj runtime.Object) (runtime.Object, error) {
	switch in := obj.(type) {
	case *appsv1.Deployment:
		out := &appsv1beta1.Deployment{}
		if err := convertJSON(in, out); err != nil {
			return nil, fmt.Errorf("registry: convert apps/v1 deployment %q to apps/v1beta1: %w", in.Name, err)
		}
		out.TypeMeta = metav1.TypeMeta{APIVersion: appsv1beta1.SchemeGroupVersion.String(), Kind: "Deployment"}
		return out, nil
	case *appsv1.DeploymentList:
		out := &appsv1beta1.DeploymentList{}
		if err := convertJSON(in, out); err != nil {
			return nil, fmt.Errorf("registry: convert apps/v1 deployment list to apps/v1beta1: %w", err)
		}
		out.TypeMeta = metav1.TypeMeta{APIVersion: appsv1beta1.SchemeGroupVersion.String(), Kind: "DeploymentList"}
		for i := range out.Items {
			out.Items[i].TypeMeta = metav1.TypeMeta{}
		}
		return out, nil
	}
	return nil, fmt.Errorf("registry: apps/v1beta1 deployment: unexpected object type %T", obj)
}

// convertJSON copies in to out through JSON, for versions whose field names match.
func convertJSON(in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}
