package registry

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// validDeployment is a valid apps/v1 deployment "web" in "default", selecting app=web.
func validDeployment() *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metaOf("web", "default", nil),
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: validPodTemplate(),
		},
	}
}

func TestDeploymentDefaults(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*appsv1.Deployment)
		check func(*appsv1.Deployment) bool
	}{
		{"deployment replicas default to 1", nil,
			func(d *appsv1.Deployment) bool { return *d.Spec.Replicas == 1 }},
		{"deployment strategy defaults to RollingUpdate", nil,
			func(d *appsv1.Deployment) bool {
				return d.Spec.Strategy.Type == appsv1.RollingUpdateDeploymentStrategyType
			}},
		{"deployment maxSurge defaults to 25%", nil,
			func(d *appsv1.Deployment) bool {
				return *d.Spec.Strategy.RollingUpdate.MaxSurge == intstr.FromString("25%")
			}},
		{"deployment maxUnavailable defaults to 25%", nil,
			func(d *appsv1.Deployment) bool {
				return *d.Spec.Strategy.RollingUpdate.MaxUnavailable == intstr.FromString("25%")
			}},
		{"deployment revisionHistoryLimit defaults to 10", nil,
			func(d *appsv1.Deployment) bool { return *d.Spec.RevisionHistoryLimit == 10 }},
		{"deployment progressDeadlineSeconds defaults to 600", nil,
			func(d *appsv1.Deployment) bool { return *d.Spec.ProgressDeadlineSeconds == 600 }},
		{"explicit maxSurge is kept and maxUnavailable still defaulted",
			func(d *appsv1.Deployment) {
				d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: new(intstr.FromInt32(1))}
			},
			func(d *appsv1.Deployment) bool {
				ru := d.Spec.Strategy.RollingUpdate
				return *ru.MaxSurge == intstr.FromInt32(1) && *ru.MaxUnavailable == intstr.FromString("25%")
			}},
		{"Recreate gets no rollingUpdate",
			func(d *appsv1.Deployment) { d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType },
			func(d *appsv1.Deployment) bool { return d.Spec.Strategy.RollingUpdate == nil }},
		{"template gets pod spec defaults",
			nil,
			func(d *appsv1.Deployment) bool {
				s := d.Spec.Template.Spec
				return s.RestartPolicy == corev1.RestartPolicyAlways && s.DNSPolicy == corev1.DNSClusterFirst &&
					s.SchedulerName == corev1.DefaultSchedulerName && *s.TerminationGracePeriodSeconds == 30 &&
					s.SecurityContext != nil && s.Containers[0].TerminationMessagePath == "/dev/termination-log"
			}},
		{"template does not get the pod-only enableServiceLinks default", nil,
			func(d *appsv1.Deployment) bool { return d.Spec.Template.Spec.EnableServiceLinks == nil }},
		{"apps/v1 does not default the selector from template labels",
			func(d *appsv1.Deployment) { d.Spec.Selector = nil },
			func(d *appsv1.Deployment) bool { return d.Spec.Selector == nil }},
	}
	r := rulesOf(t, "apps", "deployments")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := validDeployment()
			if tt.edit != nil {
				tt.edit(d)
			}
			r.Default(d)
			if !tt.check(d) {
				t.Errorf("defaults not applied: %+v", d.Spec)
			}
		})
	}
}

func TestDeploymentValidation(t *testing.T) {
	tests := []struct {
		name string
		edit func(*appsv1.Deployment)
		want []string
	}{
		{"valid deployment", nil, nil},
		{"maxSurge and maxUnavailable both 0 is invalid",
			func(d *appsv1.Deployment) {
				d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{
					MaxSurge: new(intstr.FromInt32(0)), MaxUnavailable: new(intstr.FromString("0%"))}
			},
			[]string{"spec.strategy.rollingUpdate.maxUnavailable: Invalid value: may not be 0 when `maxSurge` is 0"}},
		{"maxUnavailable above 100% is invalid",
			func(d *appsv1.Deployment) {
				d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxUnavailable: new(intstr.FromString("110%"))}
			},
			[]string{"spec.strategy.rollingUpdate.maxUnavailable: Invalid value: must not be greater than 100%"}},
		{"negative maxSurge is invalid",
			func(d *appsv1.Deployment) {
				d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: new(intstr.FromInt32(-1))}
			},
			[]string{"spec.strategy.rollingUpdate.maxSurge: Invalid value: must be greater than or equal to 0"}},
		{"maxSurge that is not a percentage is invalid",
			func(d *appsv1.Deployment) {
				d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: new(intstr.FromString("ten"))}
			},
			[]string{"spec.strategy.rollingUpdate.maxSurge: Invalid value: a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"}},
		{"Recreate forbids rollingUpdate",
			func(d *appsv1.Deployment) {
				d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType,
					RollingUpdate: &appsv1.RollingUpdateDeployment{}}
			},
			[]string{"spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"}},
		{"selector not matching template labels",
			func(d *appsv1.Deployment) { d.Spec.Selector.MatchLabels = map[string]string{"app": "db"} },
			[]string{"spec.template.metadata.labels: Invalid value: `selector` does not match template `labels`"}},
		{"selector is required",
			func(d *appsv1.Deployment) { d.Spec.Selector = nil },
			[]string{"spec.selector: Required value",
				"spec.template.metadata.labels: Invalid value: `selector` does not match template `labels`"}},
		{"empty selector is invalid",
			func(d *appsv1.Deployment) { d.Spec.Selector = &metav1.LabelSelector{} },
			[]string{"spec.selector: Invalid value: empty selector is invalid for deployment"}},
		{"negative replicas",
			func(d *appsv1.Deployment) { d.Spec.Replicas = new(int32(-1)) },
			[]string{"spec.replicas: Invalid value: must be greater than or equal to 0"}},
		{"negative minReadySeconds",
			func(d *appsv1.Deployment) { d.Spec.MinReadySeconds = -1 },
			[]string{"spec.minReadySeconds: Invalid value: must be greater than or equal to 0"}},
		{"negative revisionHistoryLimit",
			func(d *appsv1.Deployment) { d.Spec.RevisionHistoryLimit = new(int32(-1)) },
			[]string{"spec.revisionHistoryLimit: Invalid value: must be greater than or equal to 0"}},
		{"progressDeadlineSeconds must exceed minReadySeconds",
			func(d *appsv1.Deployment) { d.Spec.MinReadySeconds = 600 },
			[]string{"spec.progressDeadlineSeconds: Invalid value: must be greater than minReadySeconds"}},
		{"template restartPolicy must be Always",
			func(d *appsv1.Deployment) { d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever },
			[]string{`spec.template.spec.restartPolicy: Unsupported value: supported values: "Always"`}},
		{"container name must be a DNS label",
			func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Name = "Web_1" },
			[]string{"spec.template.spec.containers[0].name: Invalid value: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"}},
		{"container names must be unique",
			func(d *appsv1.Deployment) {
				c := d.Spec.Template.Spec.Containers[0]
				d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, c)
			},
			[]string{"spec.template.spec.containers[1].name: Duplicate value"}},
		{"containers are required",
			func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers = nil },
			[]string{"spec.template.spec.containers: Required value"}},
		{"container image is required",
			func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "" },
			[]string{"spec.template.spec.containers[0].image: Required value"}},
		{"container port out of range",
			func(d *appsv1.Deployment) {
				d.Spec.Template.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 70000}}
			},
			[]string{"spec.template.spec.containers[0].ports[0].containerPort: Invalid value: must be between 1 and 65535, inclusive"}},
		{"liveness probe successThreshold must be 1",
			func(d *appsv1.Deployment) {
				d.Spec.Template.Spec.Containers[0].LivenessProbe = &corev1.Probe{SuccessThreshold: 2,
					ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(80)}}}
			},
			[]string{"spec.template.spec.containers[0].livenessProbe.successThreshold: Invalid value: must be 1"}},
		{"bad template label",
			func(d *appsv1.Deployment) { d.Spec.Template.Labels["bad key!"] = "x" },
			[]string{"spec.template.labels: Invalid value: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"}},
		{"name must be a DNS subdomain",
			func(d *appsv1.Deployment) { d.Name = "Web" },
			[]string{"metadata.name: Invalid value: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"}},
		{"namespace is required",
			func(d *appsv1.Deployment) { d.Namespace = "" },
			[]string{"metadata.namespace: Required value"}},
		{"canary and rollback annotations are accepted",
			func(d *appsv1.Deployment) {
				d.Annotations = map[string]string{"skiff.dev/canary-steps": "1,25%,50%", "skiff.dev/step-pause": "2m",
					"skiff.dev/auto-rollback": "true", "skiff.dev/max-restarts": "3", "skiff.dev/max-unready": "2m"}
			},
			nil},
		{"canary step above 100% is invalid",
			func(d *appsv1.Deployment) { d.Annotations = map[string]string{"skiff.dev/canary-steps": "1,150%"} },
			[]string{`metadata.annotations[skiff.dev/canary-steps]: Invalid value: must be a comma-separated list of pod counts or percentages of spec.replicas, each above 0 and below 100%, strictly increasing, with counts before percentages (e.g. "1,25%,50%")`}},
		{"decreasing canary steps are invalid",
			func(d *appsv1.Deployment) { d.Annotations = map[string]string{"skiff.dev/canary-steps": "50%,25%"} },
			[]string{`metadata.annotations[skiff.dev/canary-steps]: Invalid value: must be a comma-separated list of pod counts or percentages of spec.replicas, each above 0 and below 100%, strictly increasing, with counts before percentages (e.g. "1,25%,50%")`}},
		{"step-pause must be a duration",
			func(d *appsv1.Deployment) { d.Annotations = map[string]string{"skiff.dev/step-pause": "soon"} },
			[]string{`metadata.annotations[skiff.dev/step-pause]: Invalid value: must be a positive Go duration (e.g. "30s", "2m", "1h30m")`}},
		{"auto-rollback must be true or false",
			func(d *appsv1.Deployment) { d.Annotations = map[string]string{"skiff.dev/auto-rollback": "maybe"} },
			[]string{`metadata.annotations[skiff.dev/auto-rollback]: Invalid value: must be "true" or "false"`}},
		{"max-restarts must not be negative",
			func(d *appsv1.Deployment) { d.Annotations = map[string]string{"skiff.dev/max-restarts": "-3"} },
			[]string{`metadata.annotations[skiff.dev/max-restarts]: Invalid value: must be a non-negative integer (e.g. "3")`}},
		{"canary steps are forbidden with Recreate",
			func(d *appsv1.Deployment) {
				d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
				d.Annotations = map[string]string{"skiff.dev/canary-steps": "1"}
			},
			[]string{"metadata.annotations[skiff.dev/canary-steps]: Forbidden: may not be set when strategy `type` is 'Recreate': canary steps hold a share of a RollingUpdate"}},
		{"generateName prefix may end with a dash",
			func(d *appsv1.Deployment) { d.GenerateName = "web-" },
			nil},
	}
	r := rulesOf(t, "apps", "deployments")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := validDeployment()
			if tt.edit != nil {
				tt.edit(d)
			}
			checkRuleErrs(t, runCreate(r, d), tt.want)
		})
	}
}

func TestDeploymentCreateClearsStatusAndSetsGeneration(t *testing.T) {
	r := rulesOf(t, "apps", "deployments")
	d := validDeployment()
	d.Generation = 5
	d.Status.Replicas = 3
	checkRuleErrs(t, runCreate(r, d), nil)
	if d.Generation != 1 || d.Status.Replicas != 0 {
		t.Errorf("generation %d, status %+v; want 1 and empty", d.Generation, d.Status)
	}
}

// storedDeployment is testDeployment as created and stored, at generation 3 with some status.
func storedDeployment(t *testing.T, r *Resource) *appsv1.Deployment {
	t.Helper()
	d := validDeployment()
	if errs := runCreate(r, d); len(errs) != 0 {
		t.Fatalf("create: %v", errs)
	}
	markStored(&d.ObjectMeta)
	d.Generation = 3
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 1, ReadyReplicas: 1}
	return d
}

func TestDeploymentUpdate(t *testing.T) {
	tests := []struct {
		name           string
		edit           func(*appsv1.Deployment)
		wantGeneration int64
		want           []string
	}{
		{"no change keeps generation", nil, 3, nil},
		{"spec change bumps generation",
			func(d *appsv1.Deployment) { d.Spec.Replicas = new(int32(5)) }, 4, nil},
		{"template change bumps generation",
			func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "nginx:1.28" }, 4, nil},
		{"annotation change bumps generation",
			func(d *appsv1.Deployment) { d.Annotations = map[string]string{"note": "x"} }, 4, nil},
		{"label change keeps generation",
			func(d *appsv1.Deployment) { d.Labels = map[string]string{"tier": "front"} }, 3, nil},
		{"client cannot set generation",
			func(d *appsv1.Deployment) { d.Generation = 42 }, 3, nil},
		{"selector change on update is immutable",
			func(d *appsv1.Deployment) {
				d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "v": "2"}}
				d.Spec.Template.Labels["v"] = "2"
			},
			4, []string{"spec.selector: Invalid value: field is immutable"}},
		{"update needs a resourceVersion",
			func(d *appsv1.Deployment) { d.ResourceVersion = "" }, 3,
			[]string{"metadata.resourceVersion: Invalid value: must be specified for an update"}},
		{"name is immutable",
			func(d *appsv1.Deployment) { d.Name = "other" }, 3,
			[]string{"metadata.name: Invalid value: field is immutable"}},
	}
	r := rulesOf(t, "apps", "deployments")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := storedDeployment(t, r)
			d := old.DeepCopy()
			d.Status = appsv1.DeploymentStatus{} // a client's PUT without status
			if tt.edit != nil {
				tt.edit(d)
			}
			checkRuleErrs(t, runUpdate(r, d, old), tt.want)
			if d.Generation != tt.wantGeneration {
				t.Errorf("generation = %d, want %d", d.Generation, tt.wantGeneration)
			}
			if !apiequality.Semantic.DeepEqual(d.Status, old.Status) {
				t.Errorf("status = %+v, want the stored %+v", d.Status, old.Status)
			}
		})
	}
}

func TestDeploymentStatusUpdate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*appsv1.Deployment)
		check func(d, old *appsv1.Deployment) bool
		want  []string
	}{
		{"status update keeps spec",
			func(d *appsv1.Deployment) {
				d.Spec.Replicas = new(int32(9))
				d.Status.Replicas = 2
				d.Status.ReadyReplicas = 2
			},
			func(d, old *appsv1.Deployment) bool {
				return *d.Spec.Replicas == *old.Spec.Replicas && d.Status.Replicas == 2
			},
			nil},
		{"status update keeps labels",
			func(d *appsv1.Deployment) { d.Labels = map[string]string{"x": "y"} },
			func(d, old *appsv1.Deployment) bool { return d.Labels == nil },
			nil},
		{"status update may change annotations",
			func(d *appsv1.Deployment) { d.Annotations = map[string]string{"x": "y"} },
			func(d, old *appsv1.Deployment) bool {
				return d.Annotations["x"] == "y" && d.Generation == old.Generation
			},
			nil},
		{"ready replicas above replicas is invalid",
			func(d *appsv1.Deployment) { d.Status.ReadyReplicas = 5 },
			func(d, old *appsv1.Deployment) bool { return true },
			[]string{"status.readyReplicas: Invalid value: cannot be greater than status.replicas"}},
		{"collisionCount cannot be decremented",
			func(d *appsv1.Deployment) { d.Status.CollisionCount = nil },
			func(d, old *appsv1.Deployment) bool { return true },
			[]string{"status.collisionCount: Invalid value: cannot be decremented"}},
	}
	r := rulesOf(t, "apps", "deployments")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := storedDeployment(t, r)
			old.Status.CollisionCount = new(int32(1))
			d := old.DeepCopy()
			tt.edit(d)
			checkRuleErrs(t, runStatusUpdate(r, d, old), tt.want)
			if !tt.check(d, old) {
				t.Errorf("unexpected result %+v", d)
			}
		})
	}
}
