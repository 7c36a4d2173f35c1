package controller

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
)

var (
	benchCommunities = flag.Int("bench-communities", 100, "Communities BenchmarkCommunities creates")
	benchSettle      = flag.Duration("bench-settle", 5*time.Second, "pause after the last Community is Ready before the idle window")
	benchIdle        = flag.Duration("bench-idle-window", time.Minute, "how long BenchmarkCommunities counts reconciles of idle Communities")
)

// BenchmarkCommunities creates Communities on envtest (Kafka, Temporal and
// PostgreSQL are the in-memory fakes; Deployments are made ready by the
// suite's stand-in for the deployment controller), measures the time until
// all are Ready, then counts the reconciles and API writes while nothing
// changes. It prints a markdown table. Run it with make bench.
func BenchmarkCommunities(b *testing.B) {
	for i := range b.N {
		benchOnce(b, i)
	}
}

func benchOnce(b *testing.B, iter int) {
	ctx := context.Background()
	n := *benchCommunities
	shared := newFixture(b, fmt.Sprintf("bench%d", iter))
	var communities []*kinshipv1alpha1.Community
	for i := range n {
		c := shared.community.DeepCopy()
		c.Name = fmt.Sprintf("bench%d-%03d", iter, i)
		communities = append(communities, c)
	}

	b.ResetTimer()
	reconcilesAtStart := reconciles(b)
	writesAtStart := len(env.writes.snapshot())
	start := time.Now()
	for _, c := range communities {
		if err := env.k8s.Create(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	created := time.Since(start)
	var ready int
	for {
		ready = countReady(b, iter)
		if ready == n {
			break
		}
		if time.Since(start) > 2*time.Minute {
			var list kinshipv1alpha1.CommunityList
			_ = env.k8s.List(ctx, &list)
			shown := 0
			for _, c := range list.Items {
				if cond := meta.FindStatusCondition(c.Status.Conditions, kinshipv1alpha1.ConditionReady); (cond == nil || cond.Status != "True") && shown < 5 {
					shown++
					b.Logf("%s: generation %d observed %d: %+v", c.Name, c.Generation, c.Status.ObservedGeneration, c.Status.Conditions)
				}
			}
			b.Fatalf("only %d of %d Communities Ready after 2 minutes", ready, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	toReady := time.Since(start)
	b.StopTimer()
	reconcilesToReady := reconciles(b) - reconcilesAtStart
	writesToReady := len(env.writes.snapshot()) - writesAtStart

	time.Sleep(*benchSettle)
	idleStart := reconciles(b)
	idleWrites := len(env.writes.snapshot())
	time.Sleep(*benchIdle)
	idleReconciles := reconciles(b) - idleStart
	idleWriteCount := len(env.writes.snapshot()) - idleWrites
	perMinute := idleReconciles / benchIdle.Minutes()

	b.ReportMetric(toReady.Seconds(), "s-to-all-ready")
	b.ReportMetric(perMinute, "idle-reconciles/min")
	fmt.Fprintf(os.Stdout, "\n| measure | value |\n| --- | --- |\n"+
		"| Communities | %d |\n"+
		"| time to create them | %.2f s |\n"+
		"| time until all Ready | %.2f s |\n"+
		"| reconciles until all Ready | %.0f |\n"+
		"| API writes until all Ready (operator) | %d |\n"+
		"| idle window (after %s settling) | %s |\n"+
		"| reconciles in the idle window | %.0f |\n"+
		"| reconciles per minute when idle | %.1f |\n"+
		"| API writes in the idle window (operator) | %d |\n\n",
		n, created.Seconds(), toReady.Seconds(), reconcilesToReady, writesToReady,
		*benchSettle, *benchIdle, idleReconciles, perMinute, idleWriteCount)

	for _, c := range communities {
		if err := env.k8s.Delete(ctx, c); client.IgnoreNotFound(err) != nil {
			b.Fatal(err)
		}
	}
	eventually(b, 2*time.Minute, func() error {
		var list kinshipv1alpha1.CommunityList
		if err := env.k8s.List(ctx, &list); err != nil {
			return err
		}
		left := 0
		for _, c := range list.Items {
			if len(c.Name) > len(shared.name) && c.Name[:len(shared.name)+1] == shared.name+"-" {
				left++
			}
		}
		if left > 0 {
			return fmt.Errorf("%d bench Communities left", left)
		}
		return nil
	})
}

func countReady(b *testing.B, iter int) int {
	var list kinshipv1alpha1.CommunityList
	if err := env.k8s.List(context.Background(), &list); err != nil {
		b.Fatal(err)
	}
	prefix := fmt.Sprintf("bench%d-", iter)
	n := 0
	for _, c := range list.Items {
		if len(c.Name) > len(prefix) && c.Name[:len(prefix)] == prefix && meta.IsStatusConditionTrue(c.Status.Conditions, kinshipv1alpha1.ConditionReady) {
			n++
		}
	}
	return n
}
