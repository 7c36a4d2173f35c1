package chart

import (
	"testing"

	"github.com/kinshiphq/kinship/operator/test/internal/repo"
)

func TestChartLintsStrictly(t *testing.T) {
	for name, args := range map[string][]string{
		"default values": nil,
		"full values":    {"--values", fullValues(t)},
	} {
		t.Run(name, func(t *testing.T) {
			base := []string{"lint", "--strict", "--kube-version", repo.KubeVersion, "--namespace", namespace, chartDir(t)}
			if out, err := repo.Helm(repo.Root(t), append(base, args...)...); err != nil {
				t.Fatalf("helm lint --strict: %v\n%s", err, out)
			}
		})
	}
}
