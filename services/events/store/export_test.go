package store

import (
	"context"

	"github.com/kinshiphq/kinship/services/events/domain"
)

// Call is one caller's answer for one occurrence, for AnswerTogether.
type Call struct {
	Ctx                                        context.Context
	Community, EventID, OccurrenceID, MemberID string
	Answer                                     domain.Answer
}

// Result is what a caller of AnswerTogether gets back.
type Result struct {
	RSVP domain.RSVP
	Err  error
}

// AnswerTogether answers calls as one batch, in order, as the group
// commit does with answers that arrive while a batch runs.
func (s *Store) AnswerTogether(calls []Call) []Result {
	batch := make([]*answerCall, len(calls))
	for i, c := range calls {
		batch[i] = &answerCall{ctx: c.Ctx, community: c.Community, eventID: c.EventID, occurrenceID: c.OccurrenceID,
			memberID: c.MemberID, answer: c.Answer, wake: make(chan bool, 1)}
	}
	s.answerBatch(batch)
	out := make([]Result, len(batch))
	for i, c := range batch {
		out[i] = Result{RSVP: c.rsvp, Err: c.err}
	}
	return out
}
