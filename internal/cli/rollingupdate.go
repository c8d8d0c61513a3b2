package cli

import (
	"context"
	"crypto/md5"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"
	"k8s.io/kubectl/pkg/util/podutils"
)

// Annotations `kubectl rolling-update` kept its progress in, so an interrupted update can be
// resumed by running the same command again.
const (
	annotationSourceID         = "kubectl.kubernetes.io/update-source-id"
	annotationDesiredReplicas  = "kubectl.kubernetes.io/desired-replicas"
	annotationOriginalReplicas = "kubectl.kubernetes.io/original-replicas"
	annotationNextController   = "kubectl.kubernetes.io/next-controller-id"
)

// rollingUpdateOptions are the flags of `skiff rolling-update`, as typed.
type rollingUpdateOptions struct {
	config *genericclioptions.ConfigFlags

	oldName, newName string
	image            string
	container        string
	pullPolicy       string
	deploymentKey    string

	updatePeriod time.Duration
	pollInterval time.Duration
	timeout      time.Duration
}

// NewRollingUpdateCommand returns `skiff rolling-update`: the client-side rolling update of a
// ReplicationController that kubectl had until 1.18, for following chapter 9.2 of Kubernetes in
// Action.
func NewRollingUpdateCommand() *cobra.Command {
	o := &rollingUpdateOptions{
		config:        genericclioptions.NewConfigFlags(true),
		deploymentKey: "deployment",
		updatePeriod:  time.Minute,
		pollInterval:  3 * time.Second,
		timeout:       5 * time.Minute,
	}
	cmd := &cobra.Command{
		Use:   "rolling-update OLD_CONTROLLER NEW_CONTROLLER --image=NEW_IMAGE",
		Short: "Replace a ReplicationController pod by pod, as the removed 'kubectl rolling-update' did (obsolete: use a Deployment)",
		Long: `Replace the ReplicationController OLD_CONTROLLER by a copy named NEW_CONTROLLER that runs
NEW_IMAGE, one pod at a time, as 'kubectl rolling-update' did before it was removed.

It copies OLD_CONTROLLER with the new image, gives both controllers a different value of the
label "deployment" (in their selectors and pod templates, and on OLD_CONTROLLER's existing pods)
so their selectors no longer overlap, then scales NEW_CONTROLLER up and OLD_CONTROLLER down one
pod at a time: at least as many pods as OLD_CONTROLLER had stay available and at most one more
exists. It waits --update-period between steps and for the new pods to be ready, and finally
deletes OLD_CONTROLLER. Running the same command again resumes an interrupted update.

This way is obsolete, which is why kubectl dropped it; use a Deployment instead:
  - It modifies objects you wrote: the "deployment" label appears in your controllers' selectors
    and templates and on your pods.
  - The client does all the work, request by request (--v=6 shows each one). If the command is
    interrupted or its connection lost, the update stops half done, with two controllers and a
    mix of versions, until someone runs it again.
  - It is imperative: it tells the cluster each step to take instead of declaring the state
    wanted and letting a controller in the cluster reach it, as a Deployment's does.`,
		Example: `  # Chapter 9.2: replace kubia-v1 by kubia-v2 running luksa/kubia:v2
  skiff rolling-update kubia-v1 kubia-v2 --image=luksa/kubia:v2

  # The same, showing every API request sent
  skiff rolling-update kubia-v1 kubia-v2 --image=luksa/kubia:v2 --v=6`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.oldName, o.newName = args[0], args[1]
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			err := o.run(ctx, cmd.OutOrStdout())
			if err != nil && ctx.Err() != nil {
				return fmt.Errorf("interrupted; run the same command again to continue the update: %w", err)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.image, "image", "", "Image for the new controller's pods; must differ from the current one unless --image-pull-policy is given")
	f.StringVar(&o.container, "container", "", "Container whose image is replaced; required when the pods have several")
	f.StringVar(&o.pullPolicy, "image-pull-policy", "", "Image pull policy for the new pods (Always, Never or IfNotPresent); required when --image is the current image")
	f.StringVar(&o.deploymentKey, "deployment-label-key", o.deploymentKey, "Label key that tells the two controllers' pods apart")
	f.DurationVar(&o.updatePeriod, "update-period", o.updatePeriod, "Time to wait between scaling steps")
	f.DurationVar(&o.pollInterval, "poll-interval", o.pollInterval, "Time between polls of a controller's status after scaling it")
	f.DurationVar(&o.timeout, "timeout", o.timeout, "Give up when a controller does not reach its replicas, or no step can be taken, for this long")
	_ = cmd.MarkFlagRequired("image")
	o.config.AddFlags(f)
	addKlogFlags(f) // --v=6 logs every request client-go sends
	return cmd
}

func (o *rollingUpdateOptions) run(ctx context.Context, out io.Writer) error {
	if o.oldName == o.newName {
		return fmt.Errorf("the new controller must have a name other than %q", o.oldName)
	}
	if o.deploymentKey == "" {
		return errors.New("--deployment-label-key must not be empty")
	}
	if *o.config.KubeConfig == "" {
		// As `skiff kubectl` does: the server's own kubeconfig when nothing else is configured.
		if path := fallbackKubeconfig(nil, os.Getenv, clientcmd.RecommendedHomeFile, defaultKubeconfig()); path != "" {
			*o.config.KubeConfig = path
		}
	}
	restConfig, err := o.config.ToRESTConfig()
	if err != nil {
		return fmt.Errorf("load kubeconfig: %w", err)
	}
	ns, _, err := o.config.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return fmt.Errorf("load kubeconfig: %w", err)
	}
	client, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	u := &rollingUpdater{
		client: client, ns: ns, out: out,
		period: o.updatePeriod, interval: o.pollInterval, timeout: o.timeout,
		limits: rollLimits{maxSurge: 1, maxUnavailable: 0}, // kubectl's fixed choice
	}
	return u.run(ctx, o)
}

// rollingUpdater performs one rolling update through the API, as kubectl's RollingUpdater did.
type rollingUpdater struct {
	client kubernetes.Interface
	ns     string
	out    io.Writer

	period   time.Duration // between scaling up and scaling down
	interval time.Duration // between polls
	timeout  time.Duration // for each wait, and for a pass that makes no progress
	limits   rollLimits
}

func (u *rollingUpdater) rcs() corev1client.ReplicationControllerInterface {
	return u.client.CoreV1().ReplicationControllers(u.ns)
}

func (u *rollingUpdater) run(ctx context.Context, o *rollingUpdateOptions) error {
	oldRC, err := u.rcs().Get(ctx, o.oldName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get replicationcontroller %q: %w", o.oldName, err)
	}

	// The new controller: the one a previous, interrupted run created, or a copy of the old one.
	newRC, err := u.rcs().Get(ctx, o.newName, metav1.GetOptions{})
	switch {
	case err == nil:
		// Only a controller a rolling update from oldRC created is taken over, before anything
		// is changed.
		if newRC.Annotations[annotationSourceID] != sourceID(oldRC) || newRC.Annotations[annotationDesiredReplicas] == "" {
			return fmt.Errorf("%s exists but was not created by a rolling update from %s", newRC.Name, oldRC.Name)
		}
		if img := containerImage(newRC, o.container); img != o.image {
			return fmt.Errorf("found an update in progress to image %s: continue it with --image=%s", img, img)
		}
		fmt.Fprintf(u.out, "Found existing update in progress (%s), resuming.\n", newRC.Name)
	case apierrors.IsNotFound(err):
		newRC, err = nextController(oldRC, o.newName, o.image, o.container, corev1.PullPolicy(o.pullPolicy), o.deploymentKey)
		if err != nil {
			return err
		}
	default:
		return fmt.Errorf("get replicationcontroller %q: %w", o.newName, err)
	}

	// Tell the old controller's pods apart from the new one's: same image or not, the old hash
	// carries a suffix the new one cannot have.
	oldHash := objectHash(oldRC) + "-orig"
	if oldRC, err = u.labelOldController(ctx, oldRC, o.newName, o.deploymentKey, oldHash); err != nil {
		return err
	}
	if !selectorsDiffer(oldRC.Spec.Selector, newRC.Spec.Selector) {
		return fmt.Errorf("%s must have a selector key whose value differs from %s's", newRC.Name, oldRC.Name)
	}

	if err := u.update(ctx, oldRC, newRC); err != nil {
		return err
	}
	fmt.Fprintf(u.out, "replicationcontroller %q rolling updated to %q\n", oldRC.Name, newRC.Name)
	return nil
}

// nextController returns the controller replacing old: a copy named name whose pods run image
// (in container, or the only container), with key=<hash of the copy> added to its selector and
// template labels. It is not created yet.
func nextController(old *corev1.ReplicationController, name, image, container string, pullPolicy corev1.PullPolicy, key string) (*corev1.ReplicationController, error) {
	if replicas(old) <= 0 {
		return nil, fmt.Errorf("%s has no replicas: scale it up, or just change its template", old.Name)
	}
	rc := old.DeepCopy()
	containers := rc.Spec.Template.Spec.Containers
	i := -1
	switch {
	case container != "":
		for j := range containers {
			if containers[j].Name == container {
				i = j
			}
		}
		if i < 0 {
			return nil, fmt.Errorf("container %s not found in %s's pod template", container, old.Name)
		}
	case len(containers) == 1:
		i = 0
	case len(containers) == 0:
		return nil, fmt.Errorf("%s's pod template has no containers", old.Name)
	default:
		return nil, fmt.Errorf("%s's pods have %d containers: say which one with --container", old.Name, len(containers))
	}
	if containers[i].Image == image && pullPolicy == "" {
		return nil, fmt.Errorf("%s already runs %s: give --image-pull-policy (Always, Never or IfNotPresent) to update it anyway", old.Name, image)
	}
	containers[i].Image = image
	if pullPolicy != "" {
		containers[i].ImagePullPolicy = pullPolicy
	}
	hash := objectHash(rc)

	rc.ObjectMeta = metav1.ObjectMeta{
		Name:        name,
		Namespace:   old.Namespace,
		Labels:      old.Labels,
		Annotations: map[string]string{},
	}
	for k, v := range old.Annotations {
		switch k {
		case corev1.LastAppliedConfigAnnotation, annotationOriginalReplicas, annotationNextController:
		default:
			rc.Annotations[k] = v
		}
	}
	rc.Status = corev1.ReplicationControllerStatus{}
	if rc.Spec.Selector == nil {
		rc.Spec.Selector = map[string]string{}
	}
	if rc.Spec.Template.Labels == nil {
		rc.Spec.Template.Labels = map[string]string{}
	}
	rc.Spec.Selector[key] = hash
	rc.Spec.Template.Labels[key] = hash
	return rc, nil
}

// sourceID is how a new controller names the one it replaces, so a rerun finds its own.
func sourceID(old *corev1.ReplicationController) string { return old.Name + ":" + string(old.UID) }

// containerImage is the image of the named container, or of the first when name is "".
func containerImage(rc *corev1.ReplicationController, name string) string {
	for _, c := range rc.Spec.Template.Spec.Containers {
		if name == "" || c.Name == name {
			return c.Image
		}
	}
	return ""
}

// objectHash is an MD5 of obj's JSON, as kubectl's label values were.
func objectHash(obj any) string {
	data, _ := json.Marshal(obj) // API types always encode
	return fmt.Sprintf("%x", md5.Sum(data))
}

func selectorsDiffer(old, next map[string]string) bool {
	for k, v := range old {
		if w, ok := next[k]; ok && w != v {
			return true
		}
	}
	return false
}

// labelOldController points old at the controller replacing it and, unless done before, adds
// key=value to its template, its pods and its selector, in that order, so the controller never
// loses sight of its pods. It returns old as stored.
func (u *rollingUpdater) labelOldController(ctx context.Context, old *corev1.ReplicationController, next, key, value string) (*corev1.ReplicationController, error) {
	if _, done := old.Spec.Selector[key]; done {
		return u.updateRC(ctx, old.Name, func(rc *corev1.ReplicationController) {
			setAnnotation(&rc.ObjectMeta, annotationNextController, next)
		})
	}
	origSelector := labels.SelectorFromSet(old.Spec.Selector).String()
	old, err := u.updateRC(ctx, old.Name, func(rc *corev1.ReplicationController) {
		setAnnotation(&rc.ObjectMeta, annotationNextController, next)
		if rc.Spec.Template.Labels == nil {
			rc.Spec.Template.Labels = map[string]string{}
		}
		rc.Spec.Template.Labels[key] = value
	})
	if err != nil {
		return nil, err
	}

	pods, err := u.client.CoreV1().Pods(u.ns).List(ctx, metav1.ListOptions{LabelSelector: origSelector})
	if err != nil {
		return nil, fmt.Errorf("list pods of %s: %w", old.Name, err)
	}
	for _, p := range pods.Items {
		if err := u.updatePod(ctx, p.Name, func(p *corev1.Pod) {
			if p.Labels == nil {
				p.Labels = map[string]string{}
			}
			p.Labels[key] = value
		}); err != nil {
			return nil, err
		}
	}

	old, err = u.updateRC(ctx, old.Name, func(rc *corev1.ReplicationController) {
		rc.Spec.Selector[key] = value
	})
	if err != nil {
		return nil, err
	}

	// A pod the controller created from the unlabelled template before it saw the labelled one
	// is now outside its selector and would stay, orphaned but still behind the Services that
	// select it: delete it.
	pods, err = u.client.CoreV1().Pods(u.ns).List(ctx, metav1.ListOptions{LabelSelector: origSelector})
	if err != nil {
		return nil, fmt.Errorf("list pods of %s: %w", old.Name, err)
	}
	for _, p := range pods.Items {
		if p.Labels[key] == value || !ownedBy(&p, old) {
			continue
		}
		if err := u.client.CoreV1().Pods(u.ns).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("delete unlabelled pod %s: %w", p.Name, err)
		}
	}
	return old, nil
}

func ownedBy(p *corev1.Pod, rc *corev1.ReplicationController) bool {
	ref := metav1.GetControllerOf(p)
	return ref == nil || ref.UID == rc.UID
}

func setAnnotation(m *metav1.ObjectMeta, k, v string) {
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[k] = v
}

// updateRC reads the controller name, applies mutate and writes it back, again on conflict.
func (u *rollingUpdater) updateRC(ctx context.Context, name string, mutate func(*corev1.ReplicationController)) (*corev1.ReplicationController, error) {
	var out *corev1.ReplicationController
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		rc, err := u.rcs().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		mutate(rc)
		out, err = u.rcs().Update(ctx, rc, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update replicationcontroller %s: %w", name, err)
	}
	return out, nil
}

func (u *rollingUpdater) updatePod(ctx context.Context, name string, mutate func(*corev1.Pod)) error {
	pods := u.client.CoreV1().Pods(u.ns)
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		p, err := pods.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		mutate(p)
		_, err = pods.Update(ctx, p, metav1.UpdateOptions{})
		return err
	})
	if err != nil && !apierrors.IsNotFound(err) { // a pod deleted meanwhile needs no label
		return fmt.Errorf("label pod %s: %w", name, err)
	}
	return nil
}

// update creates newRC with no replicas (or takes over the one a previous run created), scales
// it up and oldRC down step by step within the limits, and deletes oldRC.
func (u *rollingUpdater) update(ctx context.Context, oldRC, newRC *corev1.ReplicationController) error {
	if newRC.UID != "" {
		fmt.Fprintf(u.out, "Continuing update with existing controller %s.\n", newRC.Name)
	} else {
		setAnnotation(&newRC.ObjectMeta, annotationDesiredReplicas, strconv.Itoa(int(replicas(newRC))))
		setAnnotation(&newRC.ObjectMeta, annotationSourceID, sourceID(oldRC))
		zero := int32(0)
		newRC.Spec.Replicas = &zero
		created, err := u.rcs().Create(ctx, newRC, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create replicationcontroller %s: %w", newRC.Name, err)
		}
		newRC = created
		fmt.Fprintf(u.out, "Created %s\n", newRC.Name)
	}
	desired, err := strconv.Atoi(newRC.Annotations[annotationDesiredReplicas])
	if err != nil {
		return fmt.Errorf("%s: annotation %s=%q is not a number", newRC.Name, annotationDesiredReplicas, newRC.Annotations[annotationDesiredReplicas])
	}
	if _, ok := oldRC.Annotations[annotationOriginalReplicas]; !ok {
		n := strconv.Itoa(int(replicas(oldRC)))
		if oldRC, err = u.updateRC(ctx, oldRC.Name, func(rc *corev1.ReplicationController) {
			setAnnotation(&rc.ObjectMeta, annotationOriginalReplicas, n)
		}); err != nil {
			return err
		}
	}

	s := rollState{desired: int32(desired), oldReplicas: replicas(oldRC), newReplicas: replicas(newRC)}
	minAvailable, maxTotal := u.limits.bounds(s)
	fmt.Fprintf(u.out, "Scaling up %s from %d to %d, scaling down %s from %d to 0 (keep %d pods available, don't exceed %d pods)\n",
		newRC.Name, s.newReplicas, s.desired, oldRC.Name, s.oldReplicas, minAvailable, maxTotal)

	lastProgress := time.Now()
	for s.newReplicas != s.desired || s.oldReplicas != 0 {
		before := s
		if n := planScaleUp(s, u.limits); n != s.newReplicas {
			fmt.Fprintf(u.out, "Scaling %s up to %d\n", newRC.Name, n)
			if err := u.scaleAndWait(ctx, newRC.Name, n); err != nil {
				return err
			}
			s.newReplicas = n
		}
		if err := sleepCtx(ctx, u.period); err != nil {
			return err
		}
		if s.oldReplicas > 0 {
			if s.newAvailable, err = u.availablePods(ctx, newRC); err != nil {
				return err
			}
			if n := planScaleDown(s, u.limits); n != s.oldReplicas {
				fmt.Fprintf(u.out, "Scaling %s down to %d\n", oldRC.Name, n)
				if err := u.scaleAndWait(ctx, oldRC.Name, n); err != nil {
					return err
				}
				s.oldReplicas = n
			}
		}
		if s.newReplicas != before.newReplicas || s.oldReplicas != before.oldReplicas {
			lastProgress = time.Now()
		} else if time.Since(lastProgress) > u.timeout {
			return fmt.Errorf("timed out waiting for any update progress to be made: %d of %s's %d pods available",
				s.newAvailable, newRC.Name, s.newReplicas)
		}
	}

	// Done: the new controller keeps no trace of the update; the old one goes.
	if _, err := u.updateRC(ctx, newRC.Name, func(rc *corev1.ReplicationController) {
		delete(rc.Annotations, annotationSourceID)
		delete(rc.Annotations, annotationDesiredReplicas)
	}); err != nil {
		return err
	}
	if err := u.waitReplicas(ctx, newRC.Name); err != nil {
		return err
	}
	fmt.Fprintf(u.out, "Update succeeded. Deleting %s\n", oldRC.Name)
	// Background: the pods (none by now but terminating ones) go with it; v1 would orphan them.
	bg := metav1.DeletePropagationBackground
	if err := u.rcs().Delete(ctx, oldRC.Name, metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil {
		return fmt.Errorf("delete replicationcontroller %s: %w", oldRC.Name, err)
	}
	return nil
}

func replicas(rc *corev1.ReplicationController) int32 {
	if rc.Spec.Replicas == nil {
		return 1 // the API's default
	}
	return *rc.Spec.Replicas
}

// scaleAndWait sets the controller's replicas through its scale subresource and waits until
// its status has caught up.
func (u *rollingUpdater) scaleAndWait(ctx context.Context, name string, n int32) error {
	rcs := u.rcs()
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		sc, err := rcs.GetScale(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		sc.Spec.Replicas = n
		_, err = rcs.UpdateScale(ctx, name, sc, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("scale replicationcontroller %s to %d: %w", name, n, err)
	}
	return u.waitReplicas(ctx, name)
}

// waitReplicas waits until the controller has observed its latest spec and has as many pods as
// it wants.
func (u *rollingUpdater) waitReplicas(ctx context.Context, name string) error {
	err := wait.PollUntilContextTimeout(ctx, u.interval, u.timeout, true, func(ctx context.Context) (bool, error) {
		rc, err := u.rcs().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return rc.Status.ObservedGeneration >= rc.Generation && rc.Status.Replicas == replicas(rc), nil
	})
	if err != nil {
		return fmt.Errorf("wait for replicationcontroller %s to reach its replicas: %w", name, err)
	}
	return nil
}

// availablePods counts rc's pods that are not being deleted and have been ready for its
// minReadySeconds.
func (u *rollingUpdater) availablePods(ctx context.Context, rc *corev1.ReplicationController) (int32, error) {
	sel := labels.SelectorFromSet(rc.Spec.Selector).String()
	pods, err := u.client.CoreV1().Pods(u.ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return 0, fmt.Errorf("list pods of %s: %w", rc.Name, err)
	}
	n := int32(0)
	now := metav1.Now()
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp == nil && podutils.IsPodAvailable(p, rc.Spec.MinReadySeconds, now) {
			n++
		}
	}
	return n, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
