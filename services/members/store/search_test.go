package store_test

import (
	"slices"
	"testing"

	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/services/members/domain"
)

func TestSearch(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) { testSearch(t, engine) })
	}
}

// search returns the display names query finds in community, all pages of
// size 2 walked.
func (f fixture) search(t *testing.T, community, query string) []string {
	t.Helper()
	q, err := domain.ParseSearchQuery("query", query)
	if err != nil {
		t.Fatalf("query %q: %v", query, err)
	}
	var names []string
	for after := ""; ; {
		page, err := f.s.SearchMembers(f.ctx, community, q, after, 2)
		if err != nil {
			t.Fatalf("search %q: %v", query, err)
		}
		for _, m := range page {
			if m.Community != community {
				t.Fatalf("search in %s found member %s of %s", community, m.ID, m.Community)
			}
			names = append(names, m.DisplayName)
		}
		if len(page) < 2 {
			return names
		}
		after = page[len(page)-1].ID
	}
}

func named(name string) func(*domain.Profile) {
	return func(p *domain.Profile) { p.DisplayName = name }
}

func testSearch(t *testing.T, engine string) {
	f := newStore(t, engine, nil)
	ada := f.create(t, newMember(t, "demo", "ada@example.org", named("Ada Lovelace")))
	f.create(t, newMember(t, "demo", "grace.hopper@navy.example", named("Grace Hopper")))
	f.create(t, newMember(t, "demo", "adam@example.hu", named("Ádám Ölveczky")))
	f.create(t, newMember(t, "demo", "mj@example.org", named("Mary-Jane Watson")))
	for i, name := range []string{"Sam One", "Sam Two", "Sam Three", "Sam Four", "Sam Five"} {
		country := func(p *domain.Profile) {
			if i >= 3 {
				p.Location.CountryCode, p.Interests = "FR", []string{"bikes"}
			}
		}
		f.create(t, newMember(t, "demo", name[4:]+"@sams.example", named(name), country))
	}
	f.create(t, newMember(t, "other", "ada@other.example", named("Ada Byron")))

	tests := []struct {
		name, query string
		want        []string
	}{
		{"a name or an address prefix", "ad", []string{"Ada Lovelace", "Ádám Ölveczky"}},
		{"case does not matter", "LoveLACE", []string{"Ada Lovelace"}},
		{"a later word", "lovel", []string{"Ada Lovelace"}},
		{"the name from its start, spaces collapsed", "  ada   lov ", []string{"Ada Lovelace"}},
		{"address prefix", "grace.h", []string{"Grace Hopper"}},
		{"whole address", "ADA@example.org", []string{"Ada Lovelace"}},
		{"non-ASCII letters, any case", "ÖLV", []string{"Ádám Ölveczky"}},
		{"a hyphenated part", "jane", []string{"Mary-Jane Watson"}},
		{"the middle of a word finds nothing", "velace", nil},
		{"the address domain alone finds nothing", "navy", nil},
		{"words out of order find nothing", "lovelace ada", nil},
		{"many pages in join order", "sam", []string{"Sam One", "Sam Two", "Sam Three", "Sam Four", "Sam Five"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := f.search(t, "demo", tt.query); !slices.Equal(got, tt.want) {
				t.Errorf("search %q = %q, want %q", tt.query, got, tt.want)
			}
		})
	}

	t.Run("a search within a segment lists and counts what both select", func(t *testing.T) {
		sam, _ := domain.ParseSearchQuery("query", "sam")
		adaQ, _ := domain.ParseSearchQuery("query", "ada")
		for _, tt := range []struct {
			name   string
			filter domain.Filter
			want   []string
		}{
			{"a column filter", domain.Filter{CountryCodes: []string{"FR"}, Search: sam}, []string{"Sam Four", "Sam Five"}},
			{"a tag filter alone (not counted from the tag index)", domain.Filter{Interests: []string{"solar"}, Search: sam}, []string{"Sam One", "Sam Two", "Sam Three"}},
			{"nothing both select", domain.Filter{CountryCodes: []string{"FR"}, Search: adaQ}, nil},
			{"the search alone", domain.Filter{Search: sam}, []string{"Sam One", "Sam Two", "Sam Three", "Sam Four", "Sam Five"}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				var got []string
				for after := ""; ; {
					page, err := f.s.SegmentMembers(f.ctx, "demo", tt.filter, after, 2)
					if err != nil {
						t.Fatal(err)
					}
					for _, m := range page {
						got = append(got, m.DisplayName)
					}
					if len(page) < 2 {
						break
					}
					after = page[len(page)-1].ID
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("listed %q, want %q", got, tt.want)
				}
				if n, err := f.s.CountSegment(f.ctx, "demo", tt.filter); err != nil || n != int64(len(tt.want)) {
					t.Errorf("counted %d, %v; want %d", n, err, len(tt.want))
				}
				if n, _ := f.s.CountSegment(f.ctx, "other", tt.filter); n != 0 {
					t.Errorf("the same in another community counted %d", n)
				}
			})
		}
	})

	t.Run("another community's members are never found", func(t *testing.T) {
		if got := f.search(t, "other", "ada"); !slices.Equal(got, []string{"Ada Byron"}) {
			t.Errorf("search in other = %q, want only their Ada", got)
		}
		if got := f.search(t, "other", "lovelace"); got != nil {
			t.Errorf("search in other found demo's member: %q", got)
		}
	})

	t.Run("a renamed member is found by the new name only", func(t *testing.T) {
		renamed := ada
		renamed.DisplayName = "Augusta King"
		if err := f.s.UpdateProfile(f.ctx, renamed, f.log); err != nil {
			t.Fatal(err)
		}
		if got := f.search(t, "demo", "lovelace"); got != nil {
			t.Errorf("old name still found: %q", got)
		}
		if got := f.search(t, "demo", "king"); !slices.Equal(got, []string{"Augusta King"}) {
			t.Errorf("new name: %q", got)
		}
	})

	t.Run("terms of members stored before search are indexed once", func(t *testing.T) {
		if _, err := f.db.Exec("DELETE FROM member_search_terms"); err != nil {
			t.Fatal(err)
		}
		if got := f.search(t, "demo", "grace"); got != nil {
			t.Fatalf("found without terms: %q", got)
		}
		n, err := f.s.IndexSearchTerms(f.ctx)
		if err != nil || n != 10 {
			t.Fatalf("IndexSearchTerms = %d, %v; want the 10 members", n, err)
		}
		if got := f.search(t, "demo", "grace"); !slices.Equal(got, []string{"Grace Hopper"}) {
			t.Errorf("after indexing: %q", got)
		}
		if n, err := f.s.IndexSearchTerms(f.ctx); err != nil || n != 0 {
			t.Errorf("second IndexSearchTerms = %d, %v; want nothing to do", n, err)
		}
	})

	t.Run("an erased member is not found and leaves no terms", func(t *testing.T) {
		if err := f.s.Erase(f.ctx, "demo", ada.ID, f.log); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{"augusta", "ada@", "erased"} {
			if got := f.search(t, "demo", q); got != nil {
				t.Errorf("search %q found %q after erasure", q, got)
			}
		}
		var terms int
		if err := f.db.QueryRow(f.db.Rebind("SELECT count(*) FROM member_search_terms WHERE member_id = ?"), ada.ID).Scan(&terms); err != nil || terms != 0 {
			t.Errorf("erased member keeps %d search terms (%v)", terms, err)
		}
		if n, err := f.s.IndexSearchTerms(f.ctx); err != nil || n != 0 {
			t.Errorf("IndexSearchTerms after erasure = %d, %v; want the erased member left out", n, err)
		}
	})
}
