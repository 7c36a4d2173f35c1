package domain

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestPayloadDataDropsPersonalDataAtEveryDepth(t *testing.T) {
	payload := `{"memberId":"m1","email":"ada@example.org","member":{"id":"m1","displayName":"Ada","profile":{"city":"Berlin"},
		"contacts":[{"name":"Bob","phone":"+49 1","role":"buddy"}]},"seats":12345678901234567890,"occurredAt":"2026-12-06T10:00:00Z"}`
	got, err := PayloadData([]byte(payload), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, personal := range []string{"ada@example.org", "Ada", "Berlin", "Bob", "+49 1"} {
		if strings.Contains(string(got), personal) {
			t.Errorf("%q left in %s", personal, got)
		}
	}
	var back map[string]any
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	if back["memberId"] != "m1" || !strings.Contains(string(got), `"role":"buddy"`) || !strings.Contains(string(got), "12345678901234567890") {
		t.Errorf("ids, other fields and exact numbers must stay: %s", got)
	}
	full, err := PayloadData([]byte(payload), true)
	if err != nil || string(full) != payload {
		t.Errorf("a subscription that includes personal data gets the payload as it is: %s, %v", full, err)
	}
	if _, err := PayloadData([]byte(`[1,2]`), false); err == nil {
		t.Error("a payload that is not an object must be an error")
	}
}
