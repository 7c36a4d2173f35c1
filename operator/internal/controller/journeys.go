package controller

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
	"github.com/kinshiphq/kinship/operator/internal/external"
	"github.com/kinshiphq/kinship/operator/internal/resources"
)

// Reasons of the JourneysSynced condition, and of the Event recorded for
// each version published.
const (
	reasonJourneysSynced      = "Synced"
	reasonInvalidDefinition   = "InvalidDefinition"
	reasonWorkerNotReady      = "WorkerNotReady"
	reasonWorkerUnreached     = "WorkerUnavailable"
	reasonJourneysSuspended   = "Suspended"
	reasonDefinitionPublished = "JourneyDefinitionPublished"
)

// journeysOutcome is what the journeys step found for status.journeys.
type journeysOutcome struct {
	journeys []kinshipv1alpha1.JourneyStatus
}

// namedDefinition is one definition spec.journeys names.
type namedDefinition struct {
	kind     string
	field    string // spec.journeys.<kind>
	document string // compact JSON, keys sorted
	digest   string
}

// reconcileJourneys makes the worker's current version of each definition
// spec.journeys names the resource's, and reports it (status.journeys, the
// JourneysSynced condition). Like goals, it never fails the reconcile and
// returns how soon to look again, or 0 when only a change should wake the
// controller.
//
// A definition is saved (and published) only when its document differs
// from the one status.journeys says the worker already holds, or, with no
// record, from the worker's current version: an unchanged resource makes
// no new version. When an organiser has made another version current
// since, the resource's version is published again — the resource wins
// for the kinds it names; the kinds it leaves out are not touched.
// workerReady says whether the worker Deployment has a ready replica.
func (r *CommunityReconciler) reconcileJourneys(ctx context.Context, c *kinshipv1alpha1.Community, workerReady bool, st *statusBuilder) time.Duration {
	if r.Journeys == nil {
		return 0
	}
	named, err := namedDefinitions(c.Spec.Journeys)
	switch {
	case err == nil && len(named) == 0:
		st.journeys = &journeysOutcome{} // nothing named: no condition, no record
		st.clearJourneys = true
		return 0
	case c.Spec.Suspend:
		st.set(kinshipv1alpha1.ConditionJourneysSynced, metav1.ConditionUnknown, reasonJourneysSuspended,
			"the worker is scaled to zero; journeys are synced once the community resumes")
		return 0
	case err != nil:
		st.set(kinshipv1alpha1.ConditionJourneysSynced, metav1.ConditionFalse, reasonInvalidDefinition, err.Error())
		return 0
	case !workerReady:
		st.set(kinshipv1alpha1.ConditionJourneysSynced, metav1.ConditionUnknown, reasonWorkerNotReady,
			"waiting for a ready replica of the worker")
		return 0
	}
	// The record decides whether to save: read it as the API server has
	// it, not from a cache that may not show the last write yet.
	cur, err := r.currentStatus(ctx, c)
	if err != nil {
		st.set(kinshipv1alpha1.ConditionJourneysSynced, metav1.ConditionUnknown, reasonWorkerUnreached, err.Error())
		return min(goalsRetry, r.goalsResync())
	}
	records := map[string]kinshipv1alpha1.JourneyStatus{}
	for _, j := range cur.Journeys {
		records[string(j.Kind)] = j
	}
	target := external.JourneysTarget{URL: workerURL(c), Community: c.Name, Audience: c.Spec.Auth.WorkloadAudience}
	out := &journeysOutcome{}
	var refused, synced []string
	var unreached error
	for _, d := range named {
		rec, known := records[d.kind]
		next, err := r.syncDefinition(ctx, c, target, d, rec, known)
		var refusal *external.DefinitionRefusedError
		switch {
		case errors.As(err, &refusal):
			refused = append(refused, d.field+": "+refusal.Message)
		case err != nil:
			unreached = errors.Join(unreached, err)
		default:
			synced = append(synced, fmt.Sprintf("%s version %d", d.kind, next.Version))
		}
		if err != nil && known && rec.Digest == d.digest {
			next = rec // the record still holds for the next try
		}
		if next.Version > 0 {
			out.journeys = append(out.journeys, next)
		}
	}
	st.journeys = out
	switch {
	case len(refused) > 0:
		st.set(kinshipv1alpha1.ConditionJourneysSynced, metav1.ConditionFalse, reasonInvalidDefinition, clip(strings.Join(refused, "; ")))
	case unreached != nil:
		st.set(kinshipv1alpha1.ConditionJourneysSynced, metav1.ConditionUnknown, reasonWorkerUnreached, clip(unreached.Error()))
	default:
		st.set(kinshipv1alpha1.ConditionJourneysSynced, metav1.ConditionTrue, reasonJourneysSynced,
			strings.Join(synced, ", ")+" current, from spec.journeys")
	}
	switch {
	case unreached != nil:
		r.Logger.Info("journeys not synced; retrying", "community", c.Name, "error", unreached.Error())
		return min(goalsRetry, r.goalsResync())
	case len(synced) == 0:
		return 0 // refused: only a new spec helps
	}
	// An organiser may make another version current at any time: look
	// again now and then.
	return r.goalsResync()
}

// maxConditionMessage bounds a condition message taken from the worker,
// well inside the 32768 characters the API server allows.
const maxConditionMessage = 4096

// clip shortens msg to maxConditionMessage bytes, on a rune boundary.
func clip(msg string) string {
	if len(msg) <= maxConditionMessage {
		return msg
	}
	cut := maxConditionMessage
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + "…"
}

// syncDefinition makes d the worker's current version of its kind and
// returns the record of it. rec is the record status.journeys holds for
// the kind, if known.
func (r *CommunityReconciler) syncDefinition(ctx context.Context, c *kinshipv1alpha1.Community, target external.JourneysTarget,
	d namedDefinition, rec kinshipv1alpha1.JourneyStatus, known bool) (kinshipv1alpha1.JourneyStatus, error) {
	record := func(v external.Definition) kinshipv1alpha1.JourneyStatus {
		return kinshipv1alpha1.JourneyStatus{Kind: kinshipv1alpha1.JourneyKind(d.kind), Version: v.Version, Digest: d.digest, WorkerDigest: digest(v.Document)}
	}
	current, err := r.Journeys.CurrentDefinition(ctx, target, d.kind)
	switch {
	case errors.Is(err, external.ErrNoDefinition):
		current = external.Definition{}
	case err != nil:
		return kinshipv1alpha1.JourneyStatus{}, err
	}
	holds := func(v external.Definition) bool {
		return v.Version == rec.Version && digest(v.Document) == rec.WorkerDigest
	}
	if known && rec.Digest == d.digest {
		if holds(current) {
			return rec, nil // the worker's current version is the resource's
		}
		if current.Version != rec.Version {
			// An organiser made another version current: the resource's
			// comes back, unless the worker no longer has it.
			v, err := r.Journeys.PublishDefinition(ctx, target, d.kind, rec.Version)
			switch {
			case err == nil && holds(v):
				r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, reasonDefinitionPublished, "Reconcile",
					"published %s definition version %d again from %s (version %d was current)", d.kind, v.Version, d.field, current.Version)
				return record(v), nil
			case err != nil && !errors.Is(err, external.ErrNoDefinition):
				return kinshipv1alpha1.JourneyStatus{}, err
			}
			// The version of that number is another document now (a new
			// database): save the resource's anew.
			if current, err = r.Journeys.CurrentDefinition(ctx, target, d.kind); err != nil && !errors.Is(err, external.ErrNoDefinition) {
				return kinshipv1alpha1.JourneyStatus{}, err
			}
		}
	}
	if current.Version > 0 && sameJSON(current.Document, d.document) {
		return record(current), nil // already current: no new version
	}
	v, err := r.Journeys.SaveDefinition(ctx, target, d.kind, d.document)
	if err != nil {
		return kinshipv1alpha1.JourneyStatus{}, err
	}
	r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, reasonDefinitionPublished, "Reconcile",
		"published %s definition version %d from %s", d.kind, v.Version, d.field)
	return record(v), nil
}

// digest is the SHA-256 of document, hex.
func digest(document string) string {
	sum := sha256.Sum256([]byte(document))
	return hex.EncodeToString(sum[:])
}

// namedDefinitions are the documents spec.journeys names, onboarding
// first, each as compact JSON with sorted keys and its digest.
func namedDefinitions(j kinshipv1alpha1.JourneysSpec) ([]namedDefinition, error) {
	var out []namedDefinition
	for _, k := range []struct {
		kind string
		raw  *runtime.RawExtension
	}{{external.KindOnboarding, j.Onboarding}, {external.KindAmbassador, j.Ambassador}} {
		if k.raw == nil || len(k.raw.Raw) == 0 {
			continue
		}
		field := "spec.journeys." + k.kind
		doc, err := canonicalJSON(k.raw.Raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		if len(doc) > kinshipv1alpha1.MaxJourneyDocument {
			return nil, fmt.Errorf("%s: must be at most %d KiB of JSON", field, kinshipv1alpha1.MaxJourneyDocument>>10)
		}
		out = append(out, namedDefinition{kind: k.kind, field: field, document: doc, digest: digest(doc)})
	}
	return out, nil
}

// canonicalJSON is raw as compact JSON with the keys of every object
// sorted, so that the same document always has the same digest.
func canonicalJSON(raw []byte) (string, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("not JSON: %w", err)
	}
	if _, ok := v.(map[string]any); !ok {
		return "", errors.New("must be a JSON object")
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// sameJSON reports whether a and b are the same JSON value, whatever
// their layout and key order.
func sameJSON(a, b string) bool {
	decode := func(s string) (any, bool) {
		var v any
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		return v, true
	}
	va, okA := decode(a)
	vb, okB := decode(b)
	return okA && okB && reflect.DeepEqual(va, vb)
}

// workerURL is the in-cluster URL of c's worker, which serves the
// journeys API.
func workerURL(c *kinshipv1alpha1.Community) string {
	comp, _ := resources.ComponentByName("worker")
	return comp.URL(c)
}
