package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Annotations the agent puts on its Node.
const (
	// AnnotationServingCertHash is the SHA-256 (hex) of the agent's log endpoint certificate;
	// the API server's log proxy accepts only that certificate.
	AnnotationServingCertHash = "skiff.dev/serving-cert-sha256"
	// AnnotationResourceLimits says whether containers' resources.limits are enforced.
	AnnotationResourceLimits = "skiff.dev/resource-limits"
)

// register creates the agent's Node, or takes over an existing one (keeping its spec: pod CIDR,
// taints, unschedulable) and refreshes its labels, annotations and status.
func (a *Agent) register(ctx context.Context) (*corev1.Node, error) {
	want := a.desiredNode()
	node, err := a.client.CoreV1().Nodes().Create(ctx, want, metav1.CreateOptions{})
	if err == nil {
		return node, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("agent: register node %s: %w", a.opts.NodeName, err)
	}
	patch := map[string]any{"metadata": map[string]any{"labels": want.Labels, "annotations": want.Annotations}}
	data, _ := json.Marshal(patch)
	node, err = a.client.CoreV1().Nodes().Patch(ctx, a.opts.NodeName, types.MergePatchType, data, metav1.PatchOptions{})
	if err != nil {
		return nil, fmt.Errorf("agent: update node %s: %w", a.opts.NodeName, err)
	}
	node.Status = a.nodeStatus(node, a.clock.Now())
	node, err = a.client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("agent: update node %s status: %w", a.opts.NodeName, err)
	}
	return node, nil
}

func (a *Agent) desiredNode() *corev1.Node {
	labels := map[string]string{
		"kubernetes.io/hostname":  a.opts.NodeName,
		"kubernetes.io/os":        runtime.GOOS,
		"kubernetes.io/arch":      runtime.GOARCH,
		"beta.kubernetes.io/os":   runtime.GOOS,
		"beta.kubernetes.io/arch": runtime.GOARCH,
	}
	for k, v := range a.opts.Labels {
		labels[k] = v
	}
	ann := map[string]string{AnnotationResourceLimits: "recorded-only"}
	if a.opts.LimitsEnforced {
		ann[AnnotationResourceLimits] = "enforced"
	}
	if a.opts.ServingCertHash != "" {
		ann[AnnotationServingCertHash] = a.opts.ServingCertHash
	}
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: a.opts.NodeName, Labels: labels, Annotations: ann}}
	n.Status = a.nodeStatus(n, a.clock.Now())
	return n
}

// nodeStatus is the node's status now: addresses, capacity, conditions, info and endpoint. A
// condition's lastTransitionTime is kept from old while its status does not change.
func (a *Agent) nodeStatus(old *corev1.Node, now time.Time) corev1.NodeStatus {
	nowT := metav1.NewTime(now.Truncate(time.Second))
	mem := memInfo()
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(runtime.NumCPU()), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(mem["MemTotal"], resource.BinarySI),
		corev1.ResourcePods:   *resource.NewQuantity(int64(a.opts.MaxPods), resource.DecimalSI),
	}
	var fs syscall.Statfs_t
	diskPressure := false
	if syscall.Statfs(a.opts.DataDir, &fs) == nil {
		total := int64(fs.Blocks) * fs.Bsize
		capacity[corev1.ResourceEphemeralStorage] = *resource.NewQuantity(total, resource.BinarySI)
		diskPressure = fs.Blocks > 0 && float64(fs.Bavail)/float64(fs.Blocks) < 0.10
	}
	memPressure := mem["MemAvailable"] > 0 && mem["MemAvailable"] < 100<<20
	pidPressure := pidPressure()

	cond := func(t corev1.NodeConditionType, bad bool, okReason, okMsg, badReason, badMsg string) corev1.NodeCondition {
		c := corev1.NodeCondition{Type: t, Status: corev1.ConditionFalse, Reason: okReason, Message: okMsg}
		if bad {
			c.Status, c.Reason, c.Message = corev1.ConditionTrue, badReason, badMsg
		}
		return c
	}
	conds := []corev1.NodeCondition{
		cond(corev1.NodeMemoryPressure, memPressure, "KubeletHasSufficientMemory", "kubelet has sufficient memory available", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available"),
		cond(corev1.NodeDiskPressure, diskPressure, "KubeletHasNoDiskPressure", "kubelet has no disk pressure", "KubeletHasDiskPressure", "kubelet has disk pressure"),
		cond(corev1.NodePIDPressure, pidPressure, "KubeletHasSufficientPID", "kubelet has sufficient PID available", "KubeletHasInsufficientPID", "kubelet has insufficient PID available"),
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status"},
	}
	for i := range conds {
		c := &conds[i]
		c.LastHeartbeatTime, c.LastTransitionTime = nowT, nowT
		for _, o := range old.Status.Conditions {
			if o.Type == c.Type && o.Status == c.Status {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
	}
	st := corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: capacity.DeepCopy(),
		Phase:       "",
		Conditions:  conds,
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: a.opts.NodeIP.String()},
			{Type: corev1.NodeHostName, Address: a.opts.NodeName},
		},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(a.opts.Port)}},
		NodeInfo:        a.nodeInfo(),
		Images:          old.Status.Images,
	}
	if st.Images == nil {
		if imgs, err := a.opts.Images.List(); err == nil {
			for _, img := range imgs {
				st.Images = append(st.Images, corev1.ContainerImage{Names: []string{img.ID, "docker.io/" + img.Ref}, SizeBytes: img.Size})
			}
		}
	}
	return st
}

func (a *Agent) nodeInfo() corev1.NodeSystemInfo {
	read := func(path string) string {
		b, _ := os.ReadFile(path)
		return strings.TrimSpace(string(b))
	}
	var uts syscall.Utsname
	_ = syscall.Uname(&uts)
	kernel := utsString(uts.Release[:])
	osImage := "Linux"
	if f, err := os.Open("/etc/os-release"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "PRETTY_NAME="); ok {
				osImage = strings.Trim(v, `"`)
			}
		}
		f.Close()
	}
	machineID := read("/etc/machine-id")
	systemUUID := read("/sys/class/dmi/id/product_uuid")
	if systemUUID == "" {
		systemUUID = machineID
	}
	return corev1.NodeSystemInfo{
		MachineID:               machineID,
		SystemUUID:              systemUUID,
		BootID:                  read("/proc/sys/kernel/random/boot_id"),
		KernelVersion:           kernel,
		OSImage:                 osImage,
		ContainerRuntimeVersion: "skiff-process://" + a.opts.Version,
		KubeletVersion:          a.opts.Version,
		KubeProxyVersion:        "",
		OperatingSystem:         runtime.GOOS,
		Architecture:            runtime.GOARCH,
	}
}

func utsString(b []int8) string {
	var sb strings.Builder
	for _, c := range b {
		if c == 0 {
			break
		}
		sb.WriteByte(byte(c))
	}
	return sb.String()
}

// memInfo reads /proc/meminfo in bytes.
func memInfo() map[string]int64 {
	out := map[string]int64{}
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			continue
		}
		if len(fields) > 1 && fields[1] == "kB" {
			n *= 1024
		}
		out[k] = n
	}
	return out
}

// pidPressure: more than 90% of pid_max in use.
func pidPressure() bool {
	b, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		return false
	}
	max, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || max == 0 {
		return false
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	n := 0
	for _, e := range entries {
		if c := e.Name()[0]; c >= '0' && c <= '9' {
			n++
		}
	}
	return float64(n) > 0.9*float64(max)
}

// reportNodeStatus checks the node's status every StatusInterval and writes it when a
// condition or the capacity changed, or ReportInterval passed since the last write.
func (a *Agent) reportNodeStatus(ctx context.Context) {
	tick := a.clock.NewTicker(a.opts.StatusInterval)
	defer tick.Stop()
	last := a.clock.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C():
		}
		node, err := a.client.CoreV1().Nodes().Get(ctx, a.opts.NodeName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			// Deleted from under us: register again, as kubelets do on restart.
			if _, err := a.register(ctx); err != nil && ctx.Err() == nil {
				a.log.Warn("re-registering node", "err", err)
			}
			continue
		}
		if err != nil {
			if ctx.Err() == nil {
				a.log.Warn("reading node", "err", err)
			}
			continue
		}
		now := a.clock.Now()
		st := a.nodeStatus(node, now)
		if !nodeStatusChanged(node.Status, st) && now.Sub(last) < a.opts.ReportInterval {
			continue
		}
		node.Status = st
		if _, err := a.client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
			if ctx.Err() == nil {
				a.log.Warn("updating node status", "err", err)
			}
			continue
		}
		last = now
	}
}

// nodeStatusChanged compares two statuses ignoring heartbeat times.
func nodeStatusChanged(old, cur corev1.NodeStatus) bool {
	strip := func(s corev1.NodeStatus) corev1.NodeStatus {
		s = *s.DeepCopy()
		for i := range s.Conditions {
			s.Conditions[i].LastHeartbeatTime = metav1.Time{}
		}
		s.Images = nil
		return s
	}
	return !apiequality.Semantic.DeepEqual(strip(old), strip(cur))
}

// renewLease keeps the node's Lease in kube-node-lease fresh: the node lifecycle controller
// marks the node unreachable when it lapses.
func (a *Agent) renewLease(ctx context.Context, node *corev1.Node) {
	leases := a.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	tick := a.clock.NewTicker(a.opts.RenewInterval)
	defer tick.Stop()
	dur := int32(a.opts.LeaseDuration / time.Second)
	for {
		now := metav1.NewMicroTime(a.clock.Now())
		lease, err := leases.Get(ctx, a.opts.NodeName, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			yes := true
			_, err = leases.Create(ctx, &coordinationv1.Lease{
				ObjectMeta: metav1.ObjectMeta{Name: a.opts.NodeName, Namespace: corev1.NamespaceNodeLease,
					OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID, Controller: &yes}}},
				Spec: coordinationv1.LeaseSpec{HolderIdentity: &a.opts.NodeName, LeaseDurationSeconds: &dur, RenewTime: &now},
			}, metav1.CreateOptions{})
		case err == nil:
			lease.Spec.HolderIdentity = &a.opts.NodeName
			lease.Spec.LeaseDurationSeconds = &dur
			lease.Spec.RenewTime = &now
			_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
		}
		if err != nil && ctx.Err() == nil {
			a.log.Warn("renewing node lease", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C():
		}
	}
}

// kubeVersion is the Kubernetes version of the k8s.io/api module skiff is built with.
func kubeVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "k8s.io/api" && strings.HasPrefix(d.Version, "v0.") {
				return "v1." + strings.TrimPrefix(d.Version, "v0.")
			}
		}
	}
	return "v1.37.0"
}
