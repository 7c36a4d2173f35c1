package store_test

import (
	"testing"

	"github.com/kinshiphq/kinship/internal/db/dbtest"
)

// TestHostsOccurrence: a host of an event hosts each of its occurrences,
// and nothing else — not another event's, not an organiser's role, not
// the same ids asked for in another community.
func TestHostsOccurrence(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			f := newStore(t, engine)
			_, occs := f.event(t, 5, "FREQ=WEEKLY;COUNT=2", "hana")
			_, others := f.event(t, 5, "", "mo")
			for _, tc := range []struct {
				name                          string
				community, occurrence, member string
				want                          bool
			}{
				{"first occurrence of her event", "demo", occs[0].ID, "hana", true},
				{"second occurrence of her event", "demo", occs[1].ID, "hana", true},
				{"another event's occurrence", "demo", others[0].ID, "hana", false},
				{"someone else on her event", "demo", occs[0].ID, "mo", false},
				{"her event asked for in another community", "other", occs[0].ID, "hana", false},
				{"an occurrence that does not exist", "demo", "01a21500-0000-7000-8000-000000000000", "hana", false},
			} {
				t.Run(tc.name, func(t *testing.T) {
					got, err := f.s.HostsOccurrence(f.ctx, tc.community, tc.occurrence, tc.member)
					if err != nil {
						t.Fatal(err)
					}
					if got != tc.want {
						t.Errorf("HostsOccurrence = %v, want %v", got, tc.want)
					}
				})
			}
		})
	}
}
