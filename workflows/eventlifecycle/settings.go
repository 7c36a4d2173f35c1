package eventlifecycle

import (
	"errors"
	"time"
)

// Settings tune the lifecycle of every event; zero fields take the
// defaults.
type Settings struct {
	// ReminderOffsets are how long before each occurrence members holding
	// a seat are reminded; nil means 24 hours and 1 hour.
	ReminderOffsets []time.Duration
	// ReminderGrace lets a reminder whose time has just passed when it is
	// planned (the event was published or moved late) still go out.
	ReminderGrace time.Duration
	// FeedbackAfter is how long after an occurrence ends its attendees
	// are asked for feedback.
	FeedbackAfter time.Duration
	// NoShowsAfter is how long after an occurrence ends the seats not
	// checked in become no-shows.
	NoShowsAfter time.Duration
	// OfferGrace is how long after a seat offer's expiry the workflow
	// asks the events service to pass it on, so clocks a little apart
	// never expire it early.
	OfferGrace time.Duration
	// MaxHistoryEvents makes a long series continue as new once its
	// history holds this many events.
	MaxHistoryEvents int
}

// Defaults of Settings.
const (
	DefaultReminderGrace    = 10 * time.Minute
	DefaultFeedbackAfter    = time.Hour
	DefaultNoShowsAfter     = 2 * time.Hour // the events service's own sweep waits as long
	DefaultOfferGrace       = 5 * time.Second
	DefaultMaxHistoryEvents = 5000
)

// DefaultReminderOffsets are 24 hours and 1 hour before the start.
func DefaultReminderOffsets() []time.Duration { return []time.Duration{24 * time.Hour, time.Hour} }

// withDefaults fills the zero fields.
func (s Settings) withDefaults() Settings {
	if len(s.ReminderOffsets) == 0 {
		s.ReminderOffsets = DefaultReminderOffsets()
	}
	if s.ReminderGrace <= 0 {
		s.ReminderGrace = DefaultReminderGrace
	}
	if s.FeedbackAfter <= 0 {
		s.FeedbackAfter = DefaultFeedbackAfter
	}
	if s.NoShowsAfter <= 0 {
		s.NoShowsAfter = DefaultNoShowsAfter
	}
	if s.OfferGrace <= 0 {
		s.OfferGrace = DefaultOfferGrace
	}
	if s.MaxHistoryEvents <= 0 {
		s.MaxHistoryEvents = DefaultMaxHistoryEvents
	}
	return s
}

// Validate refuses negative durations and reminders at or after the
// start.
func (s Settings) Validate() error {
	for _, d := range []time.Duration{s.ReminderGrace, s.FeedbackAfter, s.NoShowsAfter, s.OfferGrace} {
		if d < 0 {
			return errors.New("event lifecycle: durations must not be negative")
		}
	}
	for _, d := range s.ReminderOffsets {
		if d <= 0 {
			return errors.New("event lifecycle: reminders go out before the start: offsets must be positive")
		}
	}
	return nil
}
