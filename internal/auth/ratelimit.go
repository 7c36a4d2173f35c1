package auth

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limits bound how often one IP address or one credential may call public
// endpoints.
type Limits struct {
	// PerIP is the sustained rate per client address; Burst how many calls
	// may come at once. 0 means 5/s with bursts of 20.
	PerIP float64
	// PerToken is the same per credential; 0 means 10/s with bursts of 20.
	PerToken float64
	Burst    int
	// TrustedProxies are the proxies in front of the service (load
	// balancers, ingress controllers). A call whose direct peer is one of
	// them is limited by the client address it forwards in
	// X-Forwarded-For; every other call by its peer's address. Empty
	// trusts no proxy: behind one, every caller shares the proxy's limit.
	TrustedProxies []netip.Prefix
}

// limiter keeps one token bucket per key, forgetting keys idle for a while
// so memory stays bounded.
type limiter struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// maxBuckets caps the keys kept; beyond it idle keys are dropped early.
const maxBuckets = 100_000

func newLimiter(perSecond float64, burst int) *limiter {
	return &limiter{limit: rate.Limit(perSecond), burst: burst, buckets: map[string]*bucket{}, swept: time.Now()}
}

// allow reports whether key may make one more call now.
func (l *limiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute || len(l.buckets) >= maxBuckets {
		for k, b := range l.buckets {
			if now.Sub(b.seen) > 10*time.Minute || len(l.buckets) >= maxBuckets && now.Sub(b.seen) > time.Second {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	return b.lim.AllowN(now, 1)
}
