// Package temporalweb builds links into the Temporal Web UI: the trace
// viewer and the journeys API link a workflow to its page there.
package temporalweb

import (
	"net/url"
	"strings"
)

// WorkflowURL is the page of a workflow in the Temporal Web UI at base
// (such as "http://127.0.0.1:8233" or "https://ops.example.org/temporal"):
// the run's history when runID is set, the workflow's latest run
// otherwise. Each part is escaped as one path segment, so the slashes of
// an id such as "onboarding/demo/m-1" stay inside it. It is empty when
// base, namespace or workflowID is.
func WorkflowURL(base, namespace, workflowID, runID string) string {
	if base == "" || namespace == "" || workflowID == "" {
		return ""
	}
	u := strings.TrimSuffix(base, "/") + "/namespaces/" + url.PathEscape(namespace) + "/workflows/" + url.PathEscape(workflowID)
	if runID != "" {
		return u + "/" + url.PathEscape(runID) + "/history"
	}
	return u
}
