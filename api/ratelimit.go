package api

import (
	"math"
	"sync"
	"time"
)

// tenantLimiter is a token bucket per tenant for ingest (events.tenant_rate_limit):
// rate events per second, bursts of up to one second's worth.
type tenantLimiter struct {
	rate    float64
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newTenantLimiter(rate int) *tenantLimiter {
	if rate <= 0 {
		return nil
	}
	return &tenantLimiter{rate: float64(rate), buckets: map[string]*bucket{}}
}

// take spends n tokens of tenant's bucket at now. When there are not
// enough it spends nothing and says how long until there will be.
func (l *tenantLimiter) take(tenant string, n int, now time.Time) (ok bool, wait time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[tenant]
	if b == nil {
		b = &bucket{tokens: l.rate, at: now}
		l.buckets[tenant] = b
	}
	b.tokens = math.Min(l.rate, b.tokens+now.Sub(b.at).Seconds()*l.rate)
	b.at = now
	need := float64(n)
	if need > l.rate {
		need = l.rate // a request larger than the burst waits for a full bucket
	}
	if b.tokens >= need {
		b.tokens -= float64(n)
		return true, 0
	}
	return false, time.Duration((need - b.tokens) / l.rate * float64(time.Second))
}
