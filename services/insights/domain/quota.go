package domain

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Quota is a count of activities of one type an ambassador is asked for
// in a period, as the ambassador programme sets them.
type Quota struct {
	Activity string
	Count    int
}

// DefaultQuotas are the ambassador programme's default quotas.
func DefaultQuotas() []Quota {
	return []Quota{{Activity: "hosted_event", Count: 1}, {Activity: "referred_member", Count: 1}}
}

var activityPattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,39}$`)

// ParseQuotas reads quotas written as "hosted_event:1,referred_member:1".
func ParseQuotas(items []string) ([]Quota, error) {
	var out []Quota
	for _, item := range items {
		typ, n, ok := strings.Cut(strings.TrimSpace(item), ":")
		count, err := strconv.Atoi(n)
		if !ok || err != nil || count < 1 || count > 1000 || !activityPattern.MatchString(typ) {
			return nil, fmt.Errorf("ambassador quota %q must be <activity type>:<count>, such as hosted_event:1", item)
		}
		out = append(out, Quota{Activity: typ, Count: count})
	}
	return out, nil
}

// QuotaMet reports whether counts (activities by type) meet every quota.
func QuotaMet(quotas []Quota, counts map[string]int) bool {
	for _, q := range quotas {
		if counts[q.Activity] < q.Count {
			return false
		}
	}
	return true
}
