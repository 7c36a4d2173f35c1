package onboarding

import "go.temporal.io/sdk/workflow"

// listen folds signals into the state as they come, until the journey
// ends.
func (j *journey) listen() {
	profile := workflow.GetSignalChannel(j.ctx, SignalProfileCompleted)
	checkedIn := workflow.GetSignalChannel(j.ctx, SignalCheckedIn)
	skip := workflow.GetSignalChannel(j.ctx, SignalSkip)
	pause := workflow.GetSignalChannel(j.ctx, SignalPause)
	resume := workflow.GetSignalChannel(j.ctx, SignalResume)
	confirmed := workflow.GetSignalChannel(j.ctx, SignalEmailConfirmed)
	workflow.Go(j.ctx, func(ctx workflow.Context) {
		for ctx.Err() == nil {
			sel := workflow.NewSelector(ctx)
			sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
			sel.AddReceive(profile, func(c workflow.ReceiveChannel, _ bool) {
				c.Receive(ctx, nil)
				j.onProfileCompleted()
			})
			sel.AddReceive(checkedIn, func(c workflow.ReceiveChannel, _ bool) {
				var ci CheckIn
				c.Receive(ctx, &ci)
				j.onCheckedIn(ci)
			})
			sel.AddReceive(skip, func(c workflow.ReceiveChannel, _ bool) {
				var req SkipRequest
				c.Receive(ctx, &req)
				j.onSkip(req)
			})
			sel.AddReceive(pause, func(c workflow.ReceiveChannel, _ bool) {
				c.Receive(ctx, nil)
				j.onPause()
			})
			sel.AddReceive(resume, func(c workflow.ReceiveChannel, _ bool) {
				c.Receive(ctx, nil)
				j.onResume()
			})
			sel.AddReceive(confirmed, func(c workflow.ReceiveChannel, _ bool) {
				c.Receive(ctx, nil)
				j.onEmailConfirmed()
			})
			sel.Select(ctx)
		}
	})
}

func (j *journey) onProfileCompleted() {
	if j.state.ProfileCompleted {
		return
	}
	j.state.ProfileCompleted = true
	j.note(j.state.Step, EventProfileDone, "")
}

func (j *journey) onEmailConfirmed() {
	if j.state.EmailConfirmed {
		return // a redelivered EmailConfirmed, or a later address change
	}
	j.state.EmailConfirmed = true
	j.note(j.state.Step, EventConfirmed, "")
}

func (j *journey) onCheckedIn(ci CheckIn) {
	if j.state.Attended {
		return // a redelivered CheckedIn, or a second event
	}
	j.state.Attended = true
	j.note(j.state.Step, EventCheckedIn, ci.EventID)
}

// onSkip marks a step to skip: the current one, or one still to come.
// Skipping a step that already ran, or one the journey lacks, is ignored
// (the journeys API refuses both before signalling).
func (j *journey) onSkip(req SkipRequest) {
	step := req.Step
	if step == "" {
		step = j.state.Step
	}
	idx := -1
	for i, s := range j.state.Steps {
		if s == step {
			idx = i
		}
	}
	if idx < j.state.StepIndex || j.state.Status != StatusRunning && j.state.Status != StatusPaused {
		j.note(j.state.Step, EventNote, "skip of "+step+" ignored")
		return
	}
	j.skip[step] = true
	j.note(step, EventSkipQueued, "")
}

func (j *journey) onPause() {
	if j.state.Paused {
		return
	}
	j.state.Paused, j.state.Status = true, StatusPaused
	j.pausedAt = workflow.Now(j.ctx)
	j.note(j.state.Step, EventPaused, "")
	j.upsertMemo()
}

func (j *journey) onResume() {
	if !j.state.Paused {
		return
	}
	j.state.Paused, j.state.Status = false, StatusRunning
	j.stepStart = j.stepStart.Add(workflow.Now(j.ctx).Sub(j.pausedAt))
	j.note(j.state.Step, EventResumed, "")
	j.upsertMemo()
}
