package ambassador

import (
	"slices"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// ErrTypeNoRoom rejects a buddy reservation: the ambassador is not active
// or has no room.
const ErrTypeNoRoom = "NoRoom"

// handleBuddies answers reservations: an active ambassador takes members
// up to their tier's capacity, and a member asking again is told yes.
// Rejections are made by the validator, so they leave no history.
func (c *candidate) handleBuddies() error {
	return workflow.SetUpdateHandlerWithOptions(c.ctx, UpdateReserveBuddy,
		func(_ workflow.Context, req BuddyRequest) (bool, error) {
			if !slices.Contains(c.state.Buddies, req.MemberID) {
				c.state.Buddies = append(c.state.Buddies, req.MemberID)
				c.note(EventBuddy, "+"+req.MemberID)
				c.upsertMemo()
			}
			return true, nil
		},
		workflow.UpdateHandlerOptions{Validator: func(req BuddyRequest) error {
			switch {
			case req.MemberID == "":
				return temporal.NewApplicationError("a buddy request names a member", ErrTypeInvalidRequest)
			case slices.Contains(c.state.Buddies, req.MemberID):
				return nil
			case c.state.Stage != StageActive || c.offboard:
				return temporal.NewApplicationError("not an active ambassador", ErrTypeNoRoom)
			case len(c.state.Buddies) >= c.state.Capacity:
				return temporal.NewApplicationError("no room for another buddy", ErrTypeNoRoom)
			}
			return nil
		}})
}

// listen folds signals into the state as they come.
func (c *candidate) listen() {
	channels := c.channels()
	workflow.Go(c.ctx, func(ctx workflow.Context) {
		for ctx.Err() == nil {
			sel := workflow.NewSelector(ctx)
			sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
			for _, ch := range channels {
				sel.AddReceive(ch.ch, func(r workflow.ReceiveChannel, _ bool) { ch.handle(ctx, r) })
			}
			sel.Select(ctx)
		}
	})
}

// drain handles every signal already received, so none is lost when the
// workflow continues as new.
func (c *candidate) drain() {
	for _, ch := range c.channels() {
		for ch.ch.Len() > 0 {
			ch.handle(c.ctx, ch.ch)
		}
	}
}

type signalChannel struct {
	ch     workflow.ReceiveChannel
	handle func(ctx workflow.Context, r workflow.ReceiveChannel)
}

func (c *candidate) channels() []signalChannel {
	return []signalChannel{
		{workflow.GetSignalChannel(c.ctx, SignalReview), func(ctx workflow.Context, r workflow.ReceiveChannel) {
			var rv Review
			r.Receive(ctx, &rv)
			c.onReview(rv)
		}},
		{workflow.GetSignalChannel(c.ctx, SignalTaskCompleted), func(ctx workflow.Context, r workflow.ReceiveChannel) {
			var t TaskDone
			r.Receive(ctx, &t)
			c.onTaskDone(t)
		}},
		{workflow.GetSignalChannel(c.ctx, SignalOffboard), func(ctx workflow.Context, r workflow.ReceiveChannel) {
			r.Receive(ctx, nil)
			if !c.offboard {
				c.offboard = true
				c.note(EventNote, "offboarding requested")
			}
		}},
		{workflow.GetSignalChannel(c.ctx, SignalActivityRecorded), func(ctx workflow.Context, r workflow.ReceiveChannel) {
			var a ActivityCounted
			r.Receive(ctx, &a)
			c.onActivity(a)
		}},
		{workflow.GetSignalChannel(c.ctx, SignalReleaseBuddy), func(ctx workflow.Context, r workflow.ReceiveChannel) {
			var req BuddyRequest
			r.Receive(ctx, &req)
			if i := slices.Index(c.state.Buddies, req.MemberID); i >= 0 {
				c.state.Buddies = slices.Delete(c.state.Buddies, i, i+1)
				c.note(EventBuddy, "-"+req.MemberID)
				c.upsertMemo()
			}
		}},
	}
}

// onReview takes a reviewer's decision; a reviewer deciding again
// replaces their earlier decision. Reviews outside the review stage, and
// from members who are not reviewers when the programme names them, are
// ignored (the journeys API refuses both first).
func (c *candidate) onReview(r Review) {
	switch {
	case c.state.Stage != StageReview:
		c.note(EventNote, "review by "+r.ReviewerID+" ignored outside the review")
		return
	case !r.Override && len(c.state.Reviewers) > 0 && !slices.Contains(c.state.Reviewers, r.ReviewerID):
		c.note(EventNote, "review by "+r.ReviewerID+" ignored: not a reviewer")
		return
	}
	r.At = workflow.Now(c.ctx)
	c.state.Reviews = slices.DeleteFunc(c.state.Reviews, func(old Review) bool { return old.ReviewerID == r.ReviewerID })
	c.state.Reviews = append(c.state.Reviews, r)
	verdict := "approved"
	if !r.Approve {
		verdict = "rejected"
	}
	c.note(EventReviewed, r.ReviewerID+" "+verdict)
}

// onTaskDone marks a training task done; one done before training began
// counts once it begins.
func (c *candidate) onTaskDone(t TaskDone) {
	if len(c.state.Tasks) == 0 && slices.ContainsFunc(c.p.Training, func(task Task) bool { return task.Name == t.Task }) {
		if !slices.Contains(c.doneEarly, t.Task) {
			c.doneEarly = append(c.doneEarly, t.Task)
			c.note(EventTaskDone, t.Task)
		}
		return
	}
	for i := range c.state.Tasks {
		task := &c.state.Tasks[i]
		if task.Name == t.Task && !task.Done {
			task.Done, task.DoneAt = true, workflow.Now(c.ctx)
			c.note(EventTaskDone, t.Task)
			return
		}
	}
	c.note(EventNote, "task "+t.Task+" is not an open training task")
}

// maxCounted bounds the activities of one type a period keeps ids of.
const maxCounted = 100

// onActivity counts an activity towards the quotas of the period it
// happened in: once (a redelivered event names the same activity), only
// in the active stage and only for the types the quotas count.
func (c *candidate) onActivity(a ActivityCounted) {
	if c.state.Stage != StageActive || a.ID == "" || a.OccurredAt.Before(c.periodStart) {
		return
	}
	if !slices.ContainsFunc(c.p.Quotas, func(q Quota) bool { return q.Activity == a.Type }) {
		return
	}
	ids := c.counted[a.Type]
	if slices.Contains(ids, a.ID) || len(ids) >= maxCounted {
		return
	}
	c.counted[a.Type] = append(ids, a.ID)
}

// tally raises what the ledger's recent activities show to the
// activities reported in the period, which a busy ledger's most recent
// 20 may no longer hold.
func (c *candidate) tally(progress []QuotaProgress) []QuotaProgress {
	out := slices.Clone(progress)
	for i := range out {
		if n := len(c.counted[out[i].Activity]); n > out[i].Count {
			out[i].Count = n
		}
	}
	return out
}
