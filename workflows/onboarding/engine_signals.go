package onboarding

import (
	"fmt"

	"go.temporal.io/sdk/workflow"
)

// listen folds signals into the state as they come, until the journey
// ends.
func (j *graphJourney) listen() {
	type handler struct {
		ch     workflow.ReceiveChannel
		handle func(ctx workflow.Context, c workflow.ReceiveChannel)
	}
	handlers := []handler{
		{workflow.GetSignalChannel(j.ctx, SignalProfileCompleted), func(ctx workflow.Context, c workflow.ReceiveChannel) {
			c.Receive(ctx, nil)
			if !j.state.ProfileCompleted {
				j.state.ProfileCompleted = true
				j.note(j.state.Step, EventProfileDone, "")
			}
		}},
		{workflow.GetSignalChannel(j.ctx, SignalCheckedIn), func(ctx workflow.Context, c workflow.ReceiveChannel) {
			var ci CheckIn
			c.Receive(ctx, &ci)
			if !j.state.Attended {
				j.state.Attended = true
				j.note(j.state.Step, EventCheckedIn, ci.EventID)
			}
		}},
		{workflow.GetSignalChannel(j.ctx, SignalRSVPed), func(ctx workflow.Context, c workflow.ReceiveChannel) {
			var r RSVP
			c.Receive(ctx, &r)
			if !j.state.RSVPed {
				j.state.RSVPed = true
				j.note(j.state.Step, EventRSVPed, r.EventID)
			}
		}},
		{workflow.GetSignalChannel(j.ctx, SignalEmailConfirmed), func(ctx workflow.Context, c workflow.ReceiveChannel) {
			c.Receive(ctx, nil)
			if !j.state.EmailConfirmed {
				j.state.EmailConfirmed = true
				j.note(j.state.Step, EventConfirmed, "")
			}
		}},
		{workflow.GetSignalChannel(j.ctx, SignalSkip), func(ctx workflow.Context, c workflow.ReceiveChannel) {
			var req SkipRequest
			c.Receive(ctx, &req)
			j.onSkip(req)
		}},
		{workflow.GetSignalChannel(j.ctx, SignalPause), func(ctx workflow.Context, c workflow.ReceiveChannel) {
			c.Receive(ctx, nil)
			j.onPause()
		}},
		{workflow.GetSignalChannel(j.ctx, SignalResume), func(ctx workflow.Context, c workflow.ReceiveChannel) {
			c.Receive(ctx, nil)
			j.onResume()
		}},
		{workflow.GetSignalChannel(j.ctx, SignalRestart), func(ctx workflow.Context, c workflow.ReceiveChannel) {
			var req RestartRequest
			c.Receive(ctx, &req)
			j.onRestart(req)
		}},
		{workflow.GetSignalChannel(j.ctx, SignalMigrate), func(ctx workflow.Context, c workflow.ReceiveChannel) {
			var m Migration
			c.Receive(ctx, &m)
			j.onMigrate(m)
		}},
	}
	workflow.Go(j.ctx, func(ctx workflow.Context) {
		for ctx.Err() == nil {
			sel := workflow.NewSelector(ctx)
			sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
			for _, h := range handlers {
				sel.AddReceive(h.ch, func(c workflow.ReceiveChannel, _ bool) { h.handle(ctx, c) })
			}
			sel.Select(ctx)
		}
	})
}

func (j *graphJourney) running() bool {
	return j.state.Status == StatusRunning || j.state.Status == StatusPaused
}

// onSkip marks a step to skip: the current one, or the next time the
// journey reaches it. A step the journey lacks is ignored (the journeys
// API refuses it before signalling), and so is the address confirmation.
func (j *graphJourney) onSkip(req SkipRequest) {
	step := req.Step
	if step == "" {
		step = j.state.Step
	}
	if !j.running() || !j.g.Has(step) {
		j.note(j.state.Step, EventNote, "skip of "+step+" ignored")
		return
	}
	j.skip[step] = true
	j.note(step, EventSkipQueued, "")
}

func (j *graphJourney) onPause() {
	if j.state.Paused || !j.running() {
		return
	}
	j.state.Paused, j.state.Status = true, StatusPaused
	j.pausedAt = workflow.Now(j.ctx)
	j.note(j.state.Step, EventPaused, "")
	j.upsertMemo()
}

func (j *graphJourney) onResume() {
	if !j.state.Paused {
		return
	}
	j.state.Paused, j.state.Status = false, StatusRunning
	j.stepStart = j.stepStart.Add(workflow.Now(j.ctx).Sub(j.pausedAt))
	j.note(j.state.Step, EventResumed, "")
	j.upsertMemo()
}

// onRestart leaves the current step for the one named (or runs the
// current one again).
func (j *graphJourney) onRestart(req RestartRequest) {
	step := req.Step
	if step == "" {
		step = j.state.Step
	}
	if !j.running() || !j.g.Has(step) {
		j.note(j.state.Step, EventNote, "restart from "+step+" ignored")
		return
	}
	j.jump, j.migration = step, nil
	j.note(step, EventRestartQueued, "")
}

// onMigrate moves the journey to another version of its definition, at
// the step named. A version that is not valid, or lacks the step, is
// ignored (the journeys API refuses both before signalling).
func (j *graphJourney) onMigrate(m Migration) {
	if !j.running() || m.Journey.Validate() != nil || !m.Journey.Has(m.Step) {
		j.note(j.state.Step, EventNote, fmt.Sprintf("migration to version %d at %s ignored", m.Version, m.Step))
		return
	}
	j.jump, j.migration = m.Step, &m
	j.note(j.state.Step, EventMigrationQueued, fmt.Sprintf("version %d at %s", m.Version, m.Step))
}
