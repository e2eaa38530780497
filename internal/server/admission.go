package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/shipshape-dev/shipshape/internal/policy"
)

// The AdmissionReview of admission.k8s.io/v1, reduced to what the webhook
// reads and writes.
type admissionReview struct {
	APIVersion string             `json:"apiVersion"`
	Kind       string             `json:"kind"`
	Request    *admissionRequest  `json:"request,omitempty"`
	Response   *admissionResponse `json:"response,omitempty"`
}

type groupVersionKind struct {
	Group   string `json:"group"`
	Version string `json:"version"`
	Kind    string `json:"kind"`
}

type admissionRequest struct {
	UID       string           `json:"uid"`
	Kind      groupVersionKind `json:"kind"`
	Namespace string           `json:"namespace,omitempty"`
	Name      string           `json:"name,omitempty"`
	Operation string           `json:"operation,omitempty"`
	Object    json.RawMessage  `json:"object,omitempty"`
}

type admissionStatus struct {
	Code    int    `json:"code,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

type admissionResponse struct {
	UID      string           `json:"uid"`
	Allowed  bool             `json:"allowed"`
	Status   *admissionStatus `json:"status,omitempty"`
	Warnings []string         `json:"warnings,omitempty"`
}

type container struct {
	Name  string `json:"name"`
	Image string `json:"image"`
}

type podSpec struct {
	Containers          []container `json:"containers"`
	InitContainers      []container `json:"initContainers"`
	EphemeralContainers []container `json:"ephemeralContainers"`
}

type podTemplate struct {
	Spec podSpec `json:"spec"`
}

// workload holds the shapes a pod spec comes in: a Pod's own spec, a
// controller's template, a CronJob's job template.
type workload struct {
	Spec struct {
		podSpec
		Template    *podTemplate `json:"template"`
		JobTemplate *struct {
			Spec struct {
				Template *podTemplate `json:"template"`
			} `json:"spec"`
		} `json:"jobTemplate"`
	} `json:"spec"`
}

// podSpecOf finds the pod spec of an object of kind, with the path of
// the spec for messages. ok is false for kinds without one.
func podSpecOf(kind string, raw json.RawMessage) (spec podSpec, path string, ok bool, err error) {
	var w workload
	switch kind {
	case "Pod", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicationController":
	default:
		return podSpec{}, "", false, nil
	}
	if len(raw) == 0 || string(raw) == "null" {
		return podSpec{}, "", false, fmt.Errorf("%s: the request has no object", kind)
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		return podSpec{}, "", false, fmt.Errorf("%s object: %w", kind, err)
	}
	switch kind {
	case "Pod":
		return w.Spec.podSpec, "spec", true, nil
	case "CronJob":
		if w.Spec.JobTemplate == nil || w.Spec.JobTemplate.Spec.Template == nil {
			return podSpec{}, "", false, fmt.Errorf("CronJob object: no spec.jobTemplate.spec.template")
		}
		return w.Spec.JobTemplate.Spec.Template.Spec, "spec.jobTemplate.spec.template.spec", true, nil
	default:
		if w.Spec.Template == nil {
			return podSpec{}, "", false, fmt.Errorf("%s object: no spec.template", kind)
		}
		return w.Spec.Template.Spec, "spec.template.spec", true, nil
	}
}

// admit judges every container image of the pod spec by the P9 policy:
// from a trusted registry, pinned by digest when required. It returns one
// actionable message per refused image. The P6 policy (required signers)
// is checked by Server.admitTrust.
func admit(pol *policy.Policy, requireDigest bool, spec podSpec, path string) []string {
	var denials []string
	trusted := strings.Join(pol.Trusted, ", ")
	where := "the default list"
	if pol.File != "" {
		where = "registries.trusted in " + pol.File
	}
	check := func(field string, cs []container) {
		for i, c := range cs {
			at := fmt.Sprintf("%s.%s[%d] (%q)", path, field, i, c.Name)
			if c.Image == "" {
				denials = append(denials, at+": no image")
				continue
			}
			r, err := policy.ParseRef(c.Image)
			if err != nil {
				denials = append(denials, fmt.Sprintf("%s: image %q is not a valid reference: %v", at, c.Image, err))
				continue
			}
			if !pol.TrustedRef(r) {
				denials = append(denials, fmt.Sprintf("%s: image %q comes from %s, which is not a trusted registry (trusted: %s, from %s); push the image to a trusted registry or add its repository there", at, c.Image, r.Name, trusted, where))
			}
			if (requireDigest || pol.PinDigest) && r.Digest == "" {
				denials = append(denials, fmt.Sprintf("%s: image %q is not pinned by digest; use %s@sha256:… (the digest `docker buildx imagetools inspect %s` prints) so the pod runs the image that was checked", at, c.Image, r.Name, c.Image))
			}
		}
	}
	check("initContainers", spec.InitContainers)
	check("containers", spec.Containers)
	check("ephemeralContainers", spec.EphemeralContainers)
	return denials
}

func (s *Server) admission(w http.ResponseWriter, r *http.Request) {
	var rev admissionReview
	if !s.decodeBodyLax(w, r, &rev, s.writeError) {
		s.metrics.admission.WithLabelValues("error").Inc()
		return
	}
	if rev.APIVersion != "admission.k8s.io/v1" || rev.Kind != "AdmissionReview" || rev.Request == nil || rev.Request.UID == "" {
		s.metrics.admission.WithLabelValues("error").Inc()
		s.writeError(w, http.StatusBadRequest, "want an AdmissionReview of admission.k8s.io/v1 with request.uid")
		return
	}
	req := rev.Request
	resp := &admissionResponse{UID: req.UID, Allowed: true}
	decision := "allowed"
	if req.Operation == "DELETE" || req.Operation == "CONNECT" {
		// Nothing to run.
	} else if spec, path, ok, err := podSpecOf(req.Kind.Kind, req.Object); err != nil {
		// The object could not be read: the flag decides.
		resp.Allowed = s.cfg.AdmissionFailOpen
		msg := s.redacted("shipshape cannot check this object: " + err.Error())
		if resp.Allowed {
			resp.Warnings = []string{msg + " (allowed: the webhook fails open)"}
		} else {
			resp.Status = &admissionStatus{Code: http.StatusForbidden, Reason: "Forbidden", Message: msg + " (denied: the webhook fails closed)"}
			decision = "denied"
		}
	} else if ok {
		d := admit(s.cfg.Policy, s.cfg.RequireDigest, spec, path)
		td, undecided := s.admitTrust(r.Context(), spec, path)
		d = append(d, td...)
		if len(undecided) > 0 && s.cfg.AdmissionFailOpen {
			for _, u := range undecided {
				resp.Warnings = append(resp.Warnings, s.redacted(u)+" (allowed: the webhook fails open)")
			}
		} else {
			d = append(d, undecided...)
		}
		if len(d) > 0 {
			resp.Allowed = false
			decision = "denied"
			resp.Status = &admissionStatus{Code: http.StatusForbidden, Reason: "Forbidden",
				Message: s.redacted(fmt.Sprintf("shipshape denied %s %s/%s: %s", req.Kind.Kind, req.Namespace, req.Name, strings.Join(d, "; ")))}
		}
	}
	s.metrics.admission.WithLabelValues(decision).Inc()
	s.log.Info("admission review", "uid", req.UID, "kind", req.Kind.Kind, "namespace", req.Namespace, "name", req.Name, "decision", decision)
	writeJSON(w, http.StatusOK, "application/json", admissionReview{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview", Response: resp})
}
