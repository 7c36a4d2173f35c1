package pages

import "testing"

// The camera is allowed on an event's check-in screen (QR codes at the
// door) and nowhere else; microphone and location nowhere.
func TestOnlyTheCheckInScreenMayUseTheCamera(t *testing.T) {
	for path, camera := range map[string]bool{
		"/events/ev-1/checkin":         true,
		"/events/ev-1/attendees":       false,
		"/members":                     false,
		"/events/ev-1/checkin/extra":   false,
		"/members/events/ev-1/checkin": false,
		"/communications/x/checkin":    false,
		"/events/ev-1/checkin?x=1":     false, // a path, never a query, reaches here
	} {
		got := permissionsFor(path)
		if allowed := got == "camera=(self), microphone=(), geolocation=()"; allowed != camera {
			t.Errorf("%s: %q, camera allowed = %v, want %v", path, got, allowed, camera)
		}
		if got != "camera=(self), microphone=(), geolocation=()" && got != "camera=(), microphone=(), geolocation=()" {
			t.Errorf("%s: unexpected policy %q", path, got)
		}
	}
}
