package registry

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// validPod is a minimal valid pod "web" in "default" with one container.
func validPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metaOf("web", "default", map[string]string{"app": "web"}),
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}}},
	}
}

func TestPodDefaults(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*corev1.Pod)
		check func(*corev1.Pod) bool
	}{
		{"restartPolicy defaults to Always", nil,
			func(p *corev1.Pod) bool { return p.Spec.RestartPolicy == corev1.RestartPolicyAlways }},
		{"dnsPolicy defaults to ClusterFirst", nil,
			func(p *corev1.Pod) bool { return p.Spec.DNSPolicy == corev1.DNSClusterFirst }},
		{"schedulerName defaults to default-scheduler", nil,
			func(p *corev1.Pod) bool { return p.Spec.SchedulerName == "default-scheduler" }},
		{"terminationGracePeriodSeconds defaults to 30", nil,
			func(p *corev1.Pod) bool { return *p.Spec.TerminationGracePeriodSeconds == 30 }},
		{"securityContext defaults to empty", nil,
			func(p *corev1.Pod) bool {
				return p.Spec.SecurityContext != nil && p.Spec.SecurityContext.String() == (&corev1.PodSecurityContext{}).String()
			}},
		{"enableServiceLinks defaults to true", nil,
			func(p *corev1.Pod) bool { return *p.Spec.EnableServiceLinks }},
		{"terminationMessagePath and policy default", nil,
			func(p *corev1.Pod) bool {
				c := p.Spec.Containers[0]
				return c.TerminationMessagePath == "/dev/termination-log" && c.TerminationMessagePolicy == corev1.TerminationMessageReadFile
			}},
		{"tagged image pulls IfNotPresent", nil,
			func(p *corev1.Pod) bool { return p.Spec.Containers[0].ImagePullPolicy == corev1.PullIfNotPresent }},
		{"image without tag pulls Always",
			func(p *corev1.Pod) { p.Spec.Containers[0].Image = "luksa/kubia" },
			func(p *corev1.Pod) bool { return p.Spec.Containers[0].ImagePullPolicy == corev1.PullAlways }},
		{"latest tag pulls Always",
			func(p *corev1.Pod) { p.Spec.Containers[0].Image = "registry:5000/kubia:latest" },
			func(p *corev1.Pod) bool { return p.Spec.Containers[0].ImagePullPolicy == corev1.PullAlways }},
		{"digest pulls IfNotPresent",
			func(p *corev1.Pod) {
				p.Spec.Containers[0].Image = "nginx@sha256:0000000000000000000000000000000000000000000000000000000000000000"
			},
			func(p *corev1.Pod) bool { return p.Spec.Containers[0].ImagePullPolicy == corev1.PullIfNotPresent }},
		{"explicit pull policy kept",
			func(p *corev1.Pod) { p.Spec.Containers[0].ImagePullPolicy = corev1.PullNever },
			func(p *corev1.Pod) bool { return p.Spec.Containers[0].ImagePullPolicy == corev1.PullNever }},
		{"container port protocol defaults to TCP",
			func(p *corev1.Pod) { p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080}} },
			func(p *corev1.Pod) bool { return p.Spec.Containers[0].Ports[0].Protocol == corev1.ProtocolTCP }},
		{"probe defaults",
			func(p *corev1.Pod) {
				p.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
					HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(8080)}}}
			},
			func(p *corev1.Pod) bool {
				pr := p.Spec.Containers[0].LivenessProbe
				return pr.TimeoutSeconds == 1 && pr.PeriodSeconds == 10 && pr.SuccessThreshold == 1 &&
					pr.FailureThreshold == 3 && pr.HTTPGet.Scheme == corev1.URISchemeHTTP && pr.HTTPGet.Path == "/"
			}},
		{"requests default to limits",
			func(p *corev1.Pod) {
				p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")}
			},
			func(p *corev1.Pod) bool {
				q := p.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU]
				return q.String() == "500m"
			}},
		{"hostNetwork hostPort defaults to containerPort",
			func(p *corev1.Pod) {
				p.Spec.HostNetwork = true
				p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080}}
			},
			func(p *corev1.Pod) bool { return p.Spec.Containers[0].Ports[0].HostPort == 8080 }},
		{"env fieldRef apiVersion defaults to v1",
			func(p *corev1.Pod) {
				p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "NODE", ValueFrom: &corev1.EnvVarSource{
					FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}}}
			},
			func(p *corev1.Pod) bool { return p.Spec.Containers[0].Env[0].ValueFrom.FieldRef.APIVersion == "v1" }},
		{"volume without a source is an emptyDir",
			func(p *corev1.Pod) { p.Spec.Volumes = []corev1.Volume{{Name: "data"}} },
			func(p *corev1.Pod) bool { return p.Spec.Volumes[0].EmptyDir != nil }},
		{"secret volume defaultMode is 0644",
			func(p *corev1.Pod) {
				p.Spec.Volumes = []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}}}
			},
			func(p *corev1.Pod) bool { return *p.Spec.Volumes[0].Secret.DefaultMode == 0644 }},
	}
	r := rulesOf(t, "", "pods")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validPod()
			if tt.edit != nil {
				tt.edit(p)
			}
			r.Default(p)
			if !tt.check(p) {
				t.Errorf("defaults not applied: %+v", p.Spec)
			}
		})
	}
}

func TestPodCreate(t *testing.T) {
	cpu := func(q string) corev1.ResourceList {
		return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(q)}
	}
	both := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")}
	tests := []struct {
		name      string
		resources corev1.ResourceRequirements
		want      corev1.PodQOSClass
	}{
		{"no resources is BestEffort", corev1.ResourceRequirements{}, corev1.PodQOSBestEffort},
		{"a cpu request is Burstable", corev1.ResourceRequirements{Requests: cpu("100m")}, corev1.PodQOSBurstable},
		{"cpu and memory limits are Guaranteed", corev1.ResourceRequirements{Limits: both}, corev1.PodQOSGuaranteed},
		{"requests below limits are Burstable", corev1.ResourceRequirements{Limits: both, Requests: cpu("500m")}, corev1.PodQOSBurstable},
	}
	r := rulesOf(t, "", "pods")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validPod()
			p.Spec.Containers[0].Resources = tt.resources
			p.Status.Phase = corev1.PodRunning
			checkRuleErrs(t, runCreate(r, p), nil)
			if p.Status.Phase != corev1.PodPending || p.Status.QOSClass != tt.want || p.Generation != 1 {
				t.Errorf("status %+v generation %d, want Pending %s generation 1", p.Status, p.Generation, tt.want)
			}
		})
	}
}

func TestPodValidation(t *testing.T) {
	tcp80 := corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(80)}}
	tests := []struct {
		name string
		edit func(*corev1.Pod)
		want []string
	}{
		{"valid pod", nil, nil},
		{"unknown restartPolicy",
			func(p *corev1.Pod) { p.Spec.RestartPolicy = "Sometimes" },
			[]string{`spec.restartPolicy: Unsupported value: supported values: "Always", "OnFailure", "Never"`}},
		{"image with surrounding spaces",
			func(p *corev1.Pod) { p.Spec.Containers[0].Image = " nginx" },
			[]string{"spec.containers[0].image: Invalid value: must not have leading or trailing whitespace"}},
		{"mount of an unknown volume",
			func(p *corev1.Pod) {
				p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
			},
			[]string{"spec.containers[0].volumeMounts[0].name: Not found"}},
		{"duplicate volume names",
			func(p *corev1.Pod) { p.Spec.Volumes = []corev1.Volume{{Name: "a"}, {Name: "a"}} },
			[]string{"spec.volumes[1].name: Duplicate value"}},
		{"secret volume needs a secretName",
			func(p *corev1.Pod) {
				p.Spec.Volumes = []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{}}}}
			},
			[]string{"spec.volumes[0].secret.secretName: Required value"}},
		{"env valueFrom with two sources",
			func(p *corev1.Pod) {
				p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{
					FieldRef:        &corev1.ObjectFieldSelector{FieldPath: "metadata.name"},
					ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}, Key: "k"}}}}
			},
			[]string{"spec.containers[0].env[0].valueFrom: Invalid value: may not have more than one field specified at a time"}},
		{"env fieldRef to an unsupported field",
			func(p *corev1.Pod) {
				p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{
					FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.phase"}}}}
			},
			[]string{`spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: supported values: "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"`}},
		{"negative probe periodSeconds",
			func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: tcp80, PeriodSeconds: -1}
			},
			[]string{"spec.containers[0].readinessProbe.periodSeconds: Invalid value: must be greater than or equal to 0"}},
		{"readiness successThreshold may exceed 1",
			func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: tcp80, SuccessThreshold: 3}
			},
			nil},
		{"startup successThreshold must be 1",
			func(p *corev1.Pod) {
				p.Spec.Containers[0].StartupProbe = &corev1.Probe{ProbeHandler: tcp80, SuccessThreshold: 3}
			},
			[]string{"spec.containers[0].startupProbe.successThreshold: Invalid value: must be 1"}},
		{"probe without a handler",
			func(p *corev1.Pod) { p.Spec.Containers[0].LivenessProbe = &corev1.Probe{} },
			[]string{"spec.containers[0].livenessProbe: Required value: must specify a handler type"}},
		{"hostNetwork hostPort must match containerPort",
			func(p *corev1.Pod) {
				p.Spec.HostNetwork = true
				p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 81}}
			},
			[]string{"spec.containers[0].ports[0].hostPort: Invalid value: must match `containerPort` when `hostNetwork` is true"}},
		{"duplicate container port names",
			func(p *corev1.Pod) {
				p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 80}, {Name: "http", ContainerPort: 81}}
			},
			[]string{"spec.containers[0].ports[1].name: Duplicate value"}},
		{"init container probe needs restartPolicy Always",
			func(p *corev1.Pod) {
				p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox", ReadinessProbe: &corev1.Probe{ProbeHandler: tcp80}}}
			},
			[]string{"spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always"}},
		{"init container name clashes with a container",
			func(p *corev1.Pod) { p.Spec.InitContainers = []corev1.Container{{Name: "web", Image: "busybox"}} },
			[]string{"spec.initContainers[0].name: Duplicate value"}},
		{"request above limit",
			func(p *corev1.Pod) {
				p.Spec.Containers[0].Resources = corev1.ResourceRequirements{
					Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}}
			},
			[]string{"spec.containers[0].resources.requests: Invalid value: must be less than or equal to cpu limit of 1"}},
		{"unknown container resource",
			func(p *corev1.Pod) {
				p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{"gpu": resource.MustParse("1")}
			},
			[]string{
				"spec.containers[0].resources.requests[gpu]: Invalid value: must be a standard resource for containers",
				"spec.containers[0].resources.requests[gpu]: Invalid value: must be a standard resource type or fully qualified",
			}},
		{"toleration Exists with a value",
			func(p *corev1.Pod) {
				p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Value: "v"}}
			},
			[]string{"spec.tolerations[0].operator: Invalid value: value must be empty when `operator` is 'Exists'"}},
		{"activeDeadlineSeconds 0",
			func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = new(int64(0)) },
			[]string{"spec.activeDeadlineSeconds: Invalid value: must be between 1 and 2147483647, inclusive"}},
		{"ephemeral containers cannot be set on create",
			func(p *corev1.Pod) {
				p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "dbg", Image: "busybox"}}}
			},
			[]string{"spec.ephemeralContainers: Forbidden: cannot be set on create"}},
	}
	r := rulesOf(t, "", "pods")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validPod()
			if tt.edit != nil {
				tt.edit(p)
			}
			checkRuleErrs(t, runCreate(r, p), tt.want)
		})
	}
}

// storedPod is validPod as created and stored, with some status.
func storedPod(t *testing.T, r *Resource) *corev1.Pod {
	t.Helper()
	p := validPod()
	p.Spec.Tolerations = []corev1.Toleration{{Key: "a", Operator: corev1.TolerationOpExists}}
	if errs := runCreate(r, p); len(errs) != 0 {
		t.Fatalf("create: %v", errs)
	}
	markStored(&p.ObjectMeta)
	p.Spec.NodeName = "node-1"
	p.Status.Phase = corev1.PodRunning
	return p
}

func TestPodUpdate(t *testing.T) {
	tests := []struct {
		name           string
		edit           func(*corev1.Pod)
		wantGeneration int64
		want           []string
	}{
		{"label change is allowed", func(p *corev1.Pod) { p.Labels["v"] = "2" }, 1, nil},
		{"image change is allowed and bumps generation",
			func(p *corev1.Pod) { p.Spec.Containers[0].Image = "nginx:1.28" }, 2, nil},
		{"adding a toleration is allowed",
			func(p *corev1.Pod) {
				p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: "b", Operator: corev1.TolerationOpExists})
			}, 2, nil},
		{"removing a toleration is forbidden",
			func(p *corev1.Pod) { p.Spec.Tolerations = nil }, 2,
			[]string{"spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"}},
		{"adding a container is forbidden",
			func(p *corev1.Pod) {
				p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "b", Image: "b:1"})
			}, 2,
			[]string{"spec.containers: Forbidden: pod updates may not add or remove containers"}},
		{"raising activeDeadlineSeconds is invalid",
			func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = new(int64(1)) }, 2,
			[]string{"spec.activeDeadlineSeconds: Invalid value: must be less than or equal to previous value"}},
	}
	r := rulesOf(t, "", "pods")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := storedPod(t, r)
			if strings.Contains(tt.name, "activeDeadlineSeconds") {
				old.Spec.ActiveDeadlineSeconds = new(int64(0))
			}
			p := old.DeepCopy()
			p.Status = corev1.PodStatus{}
			tt.edit(p)
			checkRuleErrs(t, runUpdate(r, p, old), tt.want)
			if p.Generation != tt.wantGeneration {
				t.Errorf("generation = %d, want %d", p.Generation, tt.wantGeneration)
			}
			if p.Status.Phase != corev1.PodRunning {
				t.Errorf("status not kept: %+v", p.Status)
			}
		})
	}
}

func TestPodUpdateOfOtherFieldsIsForbidden(t *testing.T) {
	r := rulesOf(t, "", "pods")
	old := storedPod(t, r)
	p := old.DeepCopy()
	p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", Value: "1"}}
	errs := runUpdate(r, p, old)
	if len(errs) != 1 || errs[0].Field != "spec" || errs[0].Type != "FieldValueForbidden" ||
		!strings.HasPrefix(errs[0].Detail, "pod updates may not change fields other than `spec.containers[*].image`,") ||
		!strings.Contains(errs[0].Detail, "spec.containers:") {
		t.Errorf("errors = %v", errs)
	}
}

func TestPodStatusUpdate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*corev1.Pod)
		check func(p, old *corev1.Pod) bool
		want  []string
	}{
		{"status update keeps the spec",
			func(p *corev1.Pod) { p.Spec.Containers[0].Image = "other"; p.Status.PodIP = "127.3.0.5" },
			func(p, old *corev1.Pod) bool { return p.Spec.Containers[0].Image == old.Spec.Containers[0].Image }, nil},
		{"status update backfills qosClass",
			func(p *corev1.Pod) { p.Status.QOSClass = "" },
			func(p, old *corev1.Pod) bool { return p.Status.QOSClass == corev1.PodQOSBestEffort }, nil},
		{"qosClass is immutable",
			func(p *corev1.Pod) { p.Status.QOSClass = corev1.PodQOSGuaranteed },
			func(p, old *corev1.Pod) bool { return true },
			[]string{"status.qosClass: Invalid value: field is immutable"}},
		{"pod IPs must be IPs",
			func(p *corev1.Pod) { p.Status.PodIPs = []corev1.PodIP{{IP: "nope"}} },
			func(p, old *corev1.Pod) bool { return true },
			[]string{"status.podIPs[0]: Invalid value: must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"}},
		{"a terminated container does not run again under restartPolicy Never",
			func(p *corev1.Pod) {
				p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "web", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
			},
			func(p, old *corev1.Pod) bool { return true },
			[]string{"status.containerStatuses[0].state: Forbidden: may not be transitioned to non-terminated state"}},
	}
	r := rulesOf(t, "", "pods")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := storedPod(t, r)
			if strings.Contains(tt.name, "terminated") {
				old.Spec.RestartPolicy = corev1.RestartPolicyNever
				old.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "web", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}}}
			}
			p := old.DeepCopy()
			tt.edit(p)
			checkRuleErrs(t, runStatusUpdate(r, p, old), tt.want)
			if !tt.check(p, old) {
				t.Errorf("unexpected result %+v", p)
			}
		})
	}
}
