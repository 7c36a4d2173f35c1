package domain

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
)

// fields returns the fields named by err's field errors.
func fields(err error) []string {
	var out []string
	for _, fe := range validate.FieldErrors(err) {
		out = append(out, fe.Field)
	}
	return out
}

var now = time.Date(2026, 3, 15, 10, 30, 0, 0, time.UTC)

func TestMoney(t *testing.T) {
	tests := []struct {
		name     string
		in       Money
		positive bool
		want     Money
		fields   []string
	}{
		{"euros in cents", Money{"EUR", 125050}, true, Money{"EUR", 125050}, nil},
		{"code is upper-cased", Money{" usd", 1}, true, Money{"USD", 1}, nil},
		{"zero allowed unless positive", Money{"JPY", 0}, false, Money{"JPY", 0}, nil},
		{"zero refused when positive", Money{"JPY", 0}, true, Money{}, []string{"value.amount_minor"}},
		{"negative amount", Money{"EUR", -1}, false, Money{}, []string{"value.amount_minor"}},
		{"unknown currency", Money{"EUX", 100}, false, Money{}, []string{"value.currency_code"}},
		{"missing currency", Money{"", 100}, false, Money{}, []string{"value.currency_code"}},
		{"withdrawn currency", Money{"DEM", 100}, false, Money{}, []string{"value.currency_code"}},
		{"absurd amount", Money{"EUR", MaxAmountMinor + 1}, false, Money{}, []string{"value.amount_minor"}},
		{"both wrong at once", Money{"XXX", -5}, false, Money{}, []string{"value.currency_code", "value.amount_minor"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := ValidateMoney("value", tt.in, tt.positive)
			if f := fields(errs.Err()); !slices.Equal(f, tt.fields) {
				t.Fatalf("fields = %v, want %v", f, tt.fields)
			}
			if tt.fields == nil && got != tt.want {
				t.Errorf("ValidateMoney = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestFormatMinorUsesTheCurrencyExponent(t *testing.T) {
	for _, tt := range []struct {
		minor    int64
		currency string
		want     string
	}{
		{125050, "EUR", "1250.50"}, {5, "EUR", "0.05"}, {0, "EUR", "0.00"}, {100, "GBP", "1.00"},
		{500, "JPY", "500"}, {0, "KRW", "0"}, {7, "KWD", "0.007"}, {12345, "BHD", "12.345"}, {-250, "USD", "-2.50"},
		{9_223_372_036_854_775_807, "EUR", "92233720368547758.07"}, {-9_223_372_036_854_775_808, "EUR", "-92233720368547758.08"},
	} {
		if got := FormatMinor(tt.minor, tt.currency); got != tt.want {
			t.Errorf("FormatMinor(%d, %s) = %q, want %q", tt.minor, tt.currency, got, tt.want)
		}
	}
	for code, exp := range map[string]int{"EUR": 2, "USD": 2, "JPY": 0, "KWD": 3, "ISK": 0, "CLP": 0, "TND": 3, "CHF": 2} {
		if got, ok := CurrencyExponent(code); !ok || got != exp {
			t.Errorf("CurrencyExponent(%s) = %d, %v; want %d", code, got, ok, exp)
		}
	}
}

func TestTotalsStayPerCurrencyAndRefuseOverflow(t *testing.T) {
	tot := Totals{}
	for _, m := range []Money{{"EUR", 100}, {"USD", 250}, {"EUR", 50}} {
		if err := tot.Add(m.Currency, m.Minor); err != nil {
			t.Fatal(err)
		}
	}
	if got := tot.Sorted(); !slices.Equal(got, []Money{{"EUR", 150}, {"USD", 250}}) {
		t.Errorf("totals = %v", got)
	}
	if err := tot.Add("EUR", 1<<63-1); !errors.Is(err, ErrOverflow) {
		t.Errorf("overflowing add = %v, want ErrOverflow", err)
	}
	if tot["EUR"] != 150 {
		t.Errorf("a refused add changed the total to %d", tot["EUR"])
	}
}

func TestCheckMoveKeepsToThePipeline(t *testing.T) {
	allowed := map[[2]Status]bool{
		{StatusProspect, StatusInConversation}: true,
		{StatusInConversation, StatusActive}:   true,
		{StatusActive, StatusLapsed}:           true,
		{StatusLapsed, StatusInConversation}:   true,
	}
	for _, from := range Statuses() {
		for _, to := range Statuses() {
			ferr := CheckMove(from, to)
			if got := ferr == nil; got != allowed[[2]Status{from, to}] {
				t.Errorf("CheckMove(%s, %s) = %v, want allowed=%v", from, to, ferr, allowed[[2]Status{from, to}])
			}
			if ferr != nil && ferr.Field != "status" {
				t.Errorf("CheckMove(%s, %s) names %s, want status", from, to, ferr.Field)
			}
		}
	}
	if ferr := CheckMove(StatusProspect, StatusActive); ferr == nil || !containsAll(ferr.Reason, "prospect", "active", "in_conversation") {
		t.Errorf("skipping the pipeline explains = %v", ferr)
	}
	if ferr := CheckMove(StatusProspect, "won"); ferr == nil {
		t.Error("an unknown status was accepted")
	}
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

func TestQuadrants(t *testing.T) {
	for _, tt := range []struct {
		influence, interest int
		want                Quadrant
	}{
		{5, 5, QuadrantManageClosely}, {4, 4, QuadrantManageClosely}, {5, 1, QuadrantKeepSatisfied}, {4, 3, QuadrantKeepSatisfied},
		{3, 4, QuadrantKeepInformed}, {1, 5, QuadrantKeepInformed}, {3, 3, QuadrantMonitor}, {1, 1, QuadrantMonitor}, {0, 0, QuadrantNone},
	} {
		if got := (Stakeholder{Influence: tt.influence, Interest: tt.interest}).Quadrant(); got != tt.want {
			t.Errorf("influence %d, interest %d → %q, want %q", tt.influence, tt.interest, got, tt.want)
		}
	}
}

func validPartner() PartnerInput {
	return PartnerInput{Name: "Solar Co-op", Kind: KindBusiness, Sector: "energy", Website: "https://solar.example.org", CountryCode: "de",
		Influence: 4, Interest: 2, OwnerID: "organiser-1", NextReviewDate: "2026-04-01"}
}

func TestNewPartner(t *testing.T) {
	p, err := NewPartner("demo", validPartner(), "p1", now)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != StatusProspect || p.CountryCode != "DE" || p.Stakeholder.Quadrant() != QuadrantKeepSatisfied ||
		p.Stakeholder.NextReview != MustDate("2026-04-01") || !p.AddedAt.Equal(now) {
		t.Errorf("NewPartner = %+v", p)
	}
	tests := []struct {
		name   string
		mutate func(*PartnerInput)
		fields []string
	}{
		{"no name", func(in *PartnerInput) { in.Name = " " }, []string{"name"}},
		{"unknown kind", func(in *PartnerInput) { in.Kind = "club" }, []string{"kind"}},
		{"influence above 5", func(in *PartnerInput) { in.Influence = 6 }, []string{"stakeholder.influence"}},
		{"negative interest", func(in *PartnerInput) { in.Interest = -1 }, []string{"stakeholder.interest"}},
		{"influence without interest", func(in *PartnerInput) { in.Interest = 0 }, []string{"stakeholder.interest"}},
		{"not a website", func(in *PartnerInput) { in.Website = "javascript:alert(1)" }, []string{"website"}},
		{"not a country", func(in *PartnerInput) { in.CountryCode = "XX" }, []string{"country_code"}},
		{"not a date", func(in *PartnerInput) { in.NextReviewDate = "01/04/2026" }, []string{"stakeholder.next_review_date"}},
		{"several at once", func(in *PartnerInput) { in.Name, in.Influence = "", 9 }, []string{"name", "stakeholder.influence"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := validPartner()
			tt.mutate(&in)
			_, err := NewPartner("demo", in, "p1", now)
			if got := fields(err); !slices.Equal(got, tt.fields) {
				t.Errorf("fields = %v (%v), want %v", got, err, tt.fields)
			}
		})
	}
	unassessed := validPartner()
	unassessed.Influence, unassessed.Interest = 0, 0
	if p, err := NewPartner("demo", unassessed, "p1", now); err != nil || p.Stakeholder.Quadrant() != QuadrantNone {
		t.Errorf("unassessed partner = %+v, %v", p, err)
	}
}

func TestMergePartnerChangesOnlyMaskedPaths(t *testing.T) {
	p, _ := NewPartner("demo", validPartner(), "p1", now)
	merged, err := MergePartner(p.Input(), PartnerInput{Name: "ignored", Influence: 5, Interest: 5}, []string{"stakeholder.influence", "stakeholder.interest"})
	if err != nil {
		t.Fatal(err)
	}
	next, err := p.Update(merged)
	if err != nil {
		t.Fatal(err)
	}
	if next.Name != "Solar Co-op" || next.Stakeholder.Quadrant() != QuadrantManageClosely {
		t.Errorf("merged = %+v", next)
	}
	if got := ChangedPartner(p, next); !slices.Equal(got, []string{"stakeholder.influence", "stakeholder.interest"}) {
		t.Errorf("changed = %v", got)
	}
	for _, paths := range [][]string{nil, {"status"}, {"shoe_size"}} {
		if _, err := MergePartner(p.Input(), PartnerInput{}, paths); !slices.Equal(fields(err), []string{"update_mask"}) {
			t.Errorf("mask %v: %v, want an update_mask error", paths, err)
		}
	}
}

func validAgreement() AgreementInput {
	return AgreementInput{Kind: AgreementSponsorship, Title: "Sponsorship 2026", StartDate: "2026-01-01", EndDate: "2026-12-31",
		Value: Money{"EUR", 500000}, DocumentURL: "https://docs.example.org/a.pdf"}
}

func TestNewAgreement(t *testing.T) {
	a, err := NewAgreement("demo", "p1", validAgreement(), "a1", now)
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != AgreementDraft || a.End != MustDate("2026-12-31") || a.Value != (Money{"EUR", 500000}) {
		t.Errorf("NewAgreement = %+v", a)
	}
	tests := []struct {
		name   string
		mutate func(*AgreementInput)
		fields []string
	}{
		{"end before start", func(in *AgreementInput) { in.EndDate = "2025-12-31" }, []string{"end_date"}},
		{"no start", func(in *AgreementInput) { in.StartDate = "" }, []string{"start_date"}},
		{"sponsorship without value", func(in *AgreementInput) { in.Value = Money{} }, []string{"value"}},
		{"negative value", func(in *AgreementInput) { in.Value.Minor = -100 }, []string{"value.amount_minor"}},
		{"unknown currency", func(in *AgreementInput) { in.Value.Currency = "ABC" }, []string{"value.currency_code"}},
		{"unknown kind", func(in *AgreementInput) { in.Kind = "lease" }, []string{"kind"}},
		{"bad document link", func(in *AgreementInput) { in.DocumentURL = "ftp://x" }, []string{"document_url"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := validAgreement()
			tt.mutate(&in)
			_, err := NewAgreement("demo", "p1", in, "a1", now)
			if got := fields(err); !slices.Equal(got, tt.fields) {
				t.Errorf("fields = %v (%v), want %v", got, err, tt.fields)
			}
		})
	}
	mou := validAgreement()
	mou.Kind, mou.Value, mou.EndDate = AgreementMoU, Money{}, ""
	if a, err := NewAgreement("demo", "p1", mou, "a1", now); err != nil || !a.End.IsZero() || !a.Value.IsZero() {
		t.Errorf("open-ended MoU without value = %+v, %v", a, err)
	}
}

func TestAgreementLifecycle(t *testing.T) {
	today := DateOf(now)
	a, _ := NewAgreement("demo", "p1", validAgreement(), "a1", now)
	if _, err := a.Activate(now); !IsStateError(err) {
		t.Errorf("activating a draft = %v, want a state error", err)
	}
	if _, err := a.Sign("2026-03-16", today, now); !slices.Equal(fields(err), []string{"signed_on"}) {
		t.Errorf("signing tomorrow = %v, want a signed_on error", err)
	}
	signed, err := a.Sign("", today, now)
	if err != nil || signed.Status != AgreementSigned || signed.SignedOn != today {
		t.Fatalf("Sign = %+v, %v", signed, err)
	}
	if _, err := signed.Sign("", today, now); !IsStateError(err) {
		t.Errorf("signing twice = %v, want a state error", err)
	}
	if _, err := signed.Update(AgreementInput{Title: "New"}, []string{"title"}, now); !IsStateError(err) {
		t.Errorf("retitling a signed agreement = %v, want a state error", err)
	}
	if u, err := signed.Update(AgreementInput{DocumentURL: "https://docs.example.org/signed.pdf"}, []string{"document_url"}, now); err != nil ||
		u.DocumentURL != "https://docs.example.org/signed.pdf" {
		t.Errorf("relinking the signed document = %+v, %v", u, err)
	}
	if _, _, err := signed.Renew(RenewInput{EndDate: "2026-06-30"}, "o1", now); !slices.Equal(fields(err), []string{"end_date"}) {
		t.Errorf("renewing to an earlier end = %v, want an end_date error", err)
	}
	renewed, r, err := signed.Renew(RenewInput{EndDate: "2027-12-31", Value: Money{"EUR", 600000}}, "o1", now)
	if err != nil || renewed.End != MustDate("2027-12-31") || renewed.Value.Minor != 600000 || r.PreviousEnd != MustDate("2026-12-31") ||
		r.PreviousValue.Minor != 500000 || renewed.Status != AgreementSigned {
		t.Errorf("Renew = %+v, %+v, %v", renewed, r, err)
	}
	if _, err := renewed.Terminate("", "", today, now); !slices.Equal(fields(err), []string{"reason"}) {
		t.Errorf("terminating without a reason = %v", err)
	}
	ended, err := renewed.Terminate("Sponsor withdrew", "", today, now)
	if err != nil || ended.Status != AgreementTerminated || ended.EndedOn != today {
		t.Errorf("Terminate = %+v, %v", ended, err)
	}
	if _, _, err := ended.Renew(RenewInput{EndDate: "2028-01-01"}, "o1", now); !IsStateError(err) {
		t.Errorf("renewing a terminated agreement = %v, want a state error", err)
	}
}

func TestPlanSweep(t *testing.T) {
	thresholds := []int{30, 7}
	at := func(status AgreementStatus, start, end string) Agreement {
		a := Agreement{Status: status, Start: MustDate(start)}
		if end != "" {
			a.End = MustDate(end)
		}
		return a
	}
	today := MustDate("2026-03-15")
	tests := []struct {
		name string
		a    Agreement
		want SweepPlan
	}{
		{"draft is left alone", at(AgreementDraft, "2026-01-01", "2026-03-20"), SweepPlan{}},
		{"signed, term begun, far end", at(AgreementSigned, "2026-03-15", "2026-12-31"), SweepPlan{Activate: true, DaysLeft: 291}},
		{"signed, term ahead", at(AgreementSigned, "2026-03-16", "2026-12-31"), SweepPlan{DaysLeft: 291}},
		{"31 days left", at(AgreementActive, "2026-01-01", "2026-04-15"), SweepPlan{DaysLeft: 31}},
		{"30 days left", at(AgreementActive, "2026-01-01", "2026-04-14"), SweepPlan{Announce: []int{30}, DaysLeft: 30}},
		{"7 days left", at(AgreementActive, "2026-01-01", "2026-03-22"), SweepPlan{Announce: []int{30, 7}, DaysLeft: 7}},
		{"last day", at(AgreementActive, "2026-01-01", "2026-03-15"), SweepPlan{Announce: []int{30, 7}, DaysLeft: 0}},
		{"ended yesterday", at(AgreementActive, "2026-01-01", "2026-03-14"), SweepPlan{Expire: true}},
		{"signed and already over", at(AgreementSigned, "2026-01-01", "2026-02-01"), SweepPlan{Expire: true}},
		{"open-ended", at(AgreementActive, "2026-01-01", ""), SweepPlan{}},
		{"terminated", at(AgreementTerminated, "2026-01-01", "2026-03-20"), SweepPlan{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PlanSweep(tt.a, today, thresholds)
			if got.Activate != tt.want.Activate || got.Expire != tt.want.Expire || !slices.Equal(got.Announce, tt.want.Announce) || got.DaysLeft != tt.want.DaysLeft {
				t.Errorf("PlanSweep = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestValidateThresholds(t *testing.T) {
	if got, err := ValidateThresholds([]int{7, 30, 1}); err != nil || !slices.Equal(got, []int{30, 7, 1}) {
		t.Errorf("ValidateThresholds = %v, %v", got, err)
	}
	for _, bad := range [][]int{{0}, {400}, {7, 7}, {-1}} {
		if _, err := ValidateThresholds(bad); err == nil {
			t.Errorf("ValidateThresholds(%v) accepted", bad)
		}
	}
}

func TestNewContribution(t *testing.T) {
	base := ContributionInput{PartnerID: "p1", Kind: ContributionMoney, Date: "2026-03-01", Value: Money{"EUR", 10000}, Goal: "solar-roofs"}
	c, err := NewContribution("demo", base, "c1", "o1", now)
	if err != nil || c.Date != MustDate("2026-03-01") || c.Goal != "solar-roofs" {
		t.Fatalf("NewContribution = %+v, %v", c, err)
	}
	tests := []struct {
		name   string
		mutate func(*ContributionInput)
		fields []string
	}{
		{"negative amount", func(in *ContributionInput) { in.Value.Minor = -1 }, []string{"value.amount_minor"}},
		{"zero money", func(in *ContributionInput) { in.Value.Minor = 0 }, []string{"value.amount_minor"}},
		{"money without value", func(in *ContributionInput) { in.Value = Money{} }, []string{"value"}},
		{"unknown currency", func(in *ContributionInput) { in.Value.Currency = "BTC" }, []string{"value.currency_code"}},
		{"future date", func(in *ContributionInput) { in.Date = "2026-03-16" }, []string{"date"}},
		{"no date", func(in *ContributionInput) { in.Date = "" }, []string{"date"}},
		{"in kind without description", func(in *ContributionInput) { in.Kind = ContributionInKind }, []string{"description"}},
		{"volunteer hours without minutes", func(in *ContributionInput) { in.Kind, in.Value = ContributionVolunteer, Money{} }, []string{"volunteer_minutes"}},
		{"volunteer hours valued", func(in *ContributionInput) { in.Kind, in.VolunteerMinutes = ContributionVolunteer, 60 }, []string{"value"}},
		{"minutes on money", func(in *ContributionInput) { in.VolunteerMinutes = 60 }, []string{"volunteer_minutes"}},
		{"bad goal", func(in *ContributionInput) { in.Goal = "Solar Roofs" }, []string{"goal"}},
		{"no partner", func(in *ContributionInput) { in.PartnerID = "" }, []string{"partner_id"}},
		{"unknown kind", func(in *ContributionInput) { in.Kind = "shares" }, []string{"kind"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := base
			tt.mutate(&in)
			_, err := NewContribution("demo", in, "c1", "o1", now)
			if got := fields(err); !slices.Equal(got, tt.fields) {
				t.Errorf("fields = %v (%v), want %v", got, err, tt.fields)
			}
		})
	}
	venue := ContributionInput{PartnerID: "p1", Kind: ContributionVenue, Date: "2026-03-01", Description: "Town hall"}
	if _, err := NewContribution("demo", venue, "c2", "o1", now); err != nil {
		t.Errorf("unvalued venue: %v", err)
	}
}

func TestGroupContributions(t *testing.T) {
	d := MustDate
	sums := []ContributionSum{
		{PartnerID: "p1", Goal: "solar", Date: d("2026-01-10"), Kind: ContributionMoney, Currency: "EUR", AmountMinor: 10000, Count: 2},
		{PartnerID: "p1", Goal: "", Date: d("2026-02-10"), Kind: ContributionInKind, Currency: "EUR", AmountMinor: 2500, Count: 1},
		{PartnerID: "p2", Goal: "solar", Date: d("2026-04-01"), Kind: ContributionMoney, Currency: "USD", AmountMinor: 700, Count: 1},
		{PartnerID: "p2", Goal: "trees", Date: d("2026-04-02"), Kind: ContributionVolunteer, Count: 1, VolunteerMinutes: 90},
	}
	names := map[string]string{"p1": "Zeta Bank", "p2": "Alpha School"}

	byPartner, overall, err := GroupContributions(sums, ByPartner, "", names)
	if err != nil {
		t.Fatal(err)
	}
	if len(byPartner) != 2 || byPartner[0].Label != "Alpha School" || byPartner[1].Key != "p1" {
		t.Fatalf("by partner = %+v", byPartner)
	}
	p1 := byPartner[1]
	if p1.Count != 3 || p1.Money["EUR"] != 10000 || p1.InKind["EUR"] != 2500 || p1.Total["EUR"] != 12500 {
		t.Errorf("p1 = %+v", p1)
	}
	if overall.Count != 5 || overall.Total["EUR"] != 12500 || overall.Total["USD"] != 700 || overall.VolunteerMinutes != 90 || len(overall.Total) != 2 {
		t.Errorf("overall = %+v; currencies must never be added together", overall)
	}

	byQuarter, _, _ := GroupContributions(sums, ByPeriod, PeriodQuarter, names)
	if len(byQuarter) != 2 || byQuarter[0].Key != "2026-Q1" || byQuarter[1].Key != "2026-Q2" || byQuarter[1].Total["USD"] != 700 {
		t.Errorf("by quarter = %+v", byQuarter)
	}
	byMonth, _, _ := GroupContributions(sums, ByPeriod, PeriodMonth, names)
	var months []string
	for _, g := range byMonth {
		months = append(months, g.Key)
	}
	if !slices.Equal(months, []string{"2026-01", "2026-02", "2026-04"}) {
		t.Errorf("months = %v", months)
	}
	byGoal, _, _ := GroupContributions(sums, ByGoal, "", names)
	var goals []string
	for _, g := range byGoal {
		goals = append(goals, g.Label)
	}
	if !slices.Equal(goals, []string{"solar", "trees", "no goal"}) {
		t.Errorf("goals = %v", goals)
	}

	huge := []ContributionSum{{PartnerID: "p1", Kind: ContributionMoney, Currency: "EUR", AmountMinor: 1<<63 - 1, Count: 1, Date: d("2026-01-01")},
		{PartnerID: "p1", Kind: ContributionMoney, Currency: "EUR", AmountMinor: 1, Count: 1, Date: d("2026-01-02")}}
	if _, _, err := GroupContributions(huge, ByPartner, "", names); !errors.Is(err, ErrOverflow) {
		t.Errorf("overflowing totals = %v, want ErrOverflow", err)
	}
}

func TestNewInteraction(t *testing.T) {
	in := InteractionInput{PartnerID: "p1", Kind: InteractionMeeting, OccurredAt: now.Add(-time.Hour), OrganiserIDs: []string{"o2", "o1", "o1"},
		Notes: "Agreed next steps.\nFollow up in May."}
	i, err := NewInteraction("demo", in, "i1", "o1", now)
	if err != nil || !slices.Equal(i.OrganiserIDs, []string{"o1", "o2"}) || i.Notes != in.Notes {
		t.Fatalf("NewInteraction = %+v, %v", i, err)
	}
	for name, tt := range map[string]struct {
		mutate func(*InteractionInput)
		fields []string
	}{
		"nobody took part": {func(in *InteractionInput) { in.OrganiserIDs = nil }, []string{"organiser_ids"}},
		"in two days":      {func(in *InteractionInput) { in.OccurredAt = now.Add(48 * time.Hour) }, []string{"occurred_at"}},
		"unknown kind":     {func(in *InteractionInput) { in.Kind = "letter" }, []string{"kind"}},
		"control chars":    {func(in *InteractionInput) { in.Notes = "a\x00b" }, []string{"notes"}},
		"blank contact id": {func(in *InteractionInput) { in.ContactIDs = []string{" "} }, []string{"contact_ids"}},
	} {
		t.Run(name, func(t *testing.T) {
			x := in
			tt.mutate(&x)
			_, err := NewInteraction("demo", x, "i1", "o1", now)
			if got := fields(err); !slices.Equal(got, tt.fields) {
				t.Errorf("fields = %v (%v), want %v", got, err, tt.fields)
			}
		})
	}
}

func TestContacts(t *testing.T) {
	c, err := NewContact("demo", "p1", ContactInput{Name: "Grace Hopper", Email: " Grace@Example.org ", Phone: "+49  30 1234567", Role: "CSR lead"}, "c1", now)
	if err != nil || c.Email != "grace@example.org" || c.Phone != "+49 30 1234567" {
		t.Fatalf("NewContact = %+v, %v", c, err)
	}
	_, err = NewContact("demo", "p1", ContactInput{Name: "", Email: "not-an-address", Phone: "call me"}, "c1", now)
	if got := fields(err); !slices.Equal(got, []string{"name", "email", "phone"}) {
		t.Errorf("fields = %v", got)
	}
	for _, phone := range []string{"+1 (555) 010-0199", "030 1234567", "+44.20.7946.0958"} {
		if _, ferr := ValidatePhone("phone", phone); ferr != nil {
			t.Errorf("ValidatePhone(%q) = %v", phone, ferr)
		}
	}
	for _, phone := range []string{"12345", "+1234567890123456", "phone", "++49 30 123456"} {
		if _, ferr := ValidatePhone("phone", phone); ferr == nil {
			t.Errorf("ValidatePhone(%q) accepted", phone)
		}
	}
	erased := c
	erased.Erased = true
	if _, err := erased.Update(ContactInput{Name: "X"}); !errors.Is(err, ErrContactErased) {
		t.Errorf("updating an erased contact = %v", err)
	}
	if _, err := NewConsentAtAdd("c1", "", "v1", now); !slices.Equal(fields(err), []string{"consent_source"}) {
		t.Errorf("consent without a source = %v", err)
	}
}

func TestDates(t *testing.T) {
	d := MustDate("2026-02-28")
	if d.AddDays(1).String() != "2026-03-01" || d.DaysUntil(MustDate("2026-03-30")) != 30 || MustDate("2026-03-30").DaysUntil(d) != -30 {
		t.Errorf("date arithmetic is off")
	}
	if DateOf(time.Date(2026, 3, 1, 23, 30, 0, 0, time.FixedZone("UTC-2", -2*3600))).String() != "2026-03-02" {
		t.Error("DateOf does not take the UTC day")
	}
	if PeriodKey(d, PeriodQuarter) != "2026-Q1" || PeriodKey(MustDate("2026-10-01"), PeriodQuarter) != "2026-Q4" || PeriodKey(d, PeriodYear) != "2026" {
		t.Error("period keys are off")
	}
	if _, ferr := ParseDate("start_date", "2026-02-30"); ferr == nil || ferr.Field != "start_date" {
		t.Errorf("an impossible day was accepted: %v", ferr)
	}
}
