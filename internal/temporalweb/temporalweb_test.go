package temporalweb

import "testing"

func TestWorkflowURL(t *testing.T) {
	for _, tc := range []struct {
		name, base, namespace, id, run, want string
	}{
		{"a run's history, the id's slashes escaped", "http://127.0.0.1:8233", "demo", "onboarding/demo/m-1", "0192-run",
			"http://127.0.0.1:8233/namespaces/demo/workflows/onboarding%2Fdemo%2Fm-1/0192-run/history"},
		{"a base under a path, with a trailing slash", "https://ops.example.org/temporal/", "demo", "ambassador/demo/m 2?x#y", "",
			"https://ops.example.org/temporal/namespaces/demo/workflows/ambassador%2Fdemo%2Fm%202%3Fx%23y"},
		{"no base: no link", "", "demo", "onboarding/demo/m-1", "run", ""},
		{"no workflow: no link", "http://127.0.0.1:8233", "demo", "", "run", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := WorkflowURL(tc.base, tc.namespace, tc.id, tc.run); got != tc.want {
				t.Errorf("WorkflowURL = %q, want %q", got, tc.want)
			}
		})
	}
}
