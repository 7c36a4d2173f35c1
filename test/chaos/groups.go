package chaos

import (
	"context"
	"fmt"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// waitGroupsStable waits until every consumer group at broker has been
// Stable for three polls in a row, a second apart, so the faults meet
// groups that have formed: a replica killed while its groups still form
// their first generation leaves the in-process broker rebalancing for
// minutes (each member that joins or expires restarts its rebalance
// timer), and the run would measure that rather than Kinship.
func waitGroupsStable(ctx context.Context, broker string, within time.Duration) error {
	client := &kafkago.Client{Addr: kafkago.TCP(broker), Timeout: 10 * time.Second}
	deadline := time.Now().Add(within)
	stable, last := 0, ""
	for stable < 3 {
		if time.Now().After(deadline) {
			return fmt.Errorf("consumer groups not stable within %v: %s", within, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
		var unsettled []string
		groups, err := describeGroups(ctx, client)
		switch {
		case err != nil:
			unsettled = append(unsettled, err.Error())
		case len(groups) == 0:
			unsettled = append(unsettled, "no group yet")
		}
		for _, g := range groups {
			if g.state != "Stable" {
				unsettled = append(unsettled, g.id+" "+g.state)
			}
		}
		if len(unsettled) > 0 {
			stable, last = 0, strings.Join(unsettled, ", ")
			continue
		}
		stable++
	}
	return nil
}

// groupState is a consumer group as the broker describes it.
type groupState struct {
	id, state string
	members   int
}

// describeGroups lists the broker's consumer groups with their states
// ("?" when a group could not be described).
func describeGroups(ctx context.Context, client *kafkago.Client) ([]groupState, error) {
	groups, err := client.ListGroups(ctx, &kafkago.ListGroupsRequest{})
	if err != nil {
		return nil, err
	}
	out := make([]groupState, 0, len(groups.Groups))
	for _, g := range groups.Groups {
		st := groupState{id: g.GroupID, state: "?"}
		desc, err := client.DescribeGroups(ctx, &kafkago.DescribeGroupsRequest{GroupIDs: []string{g.GroupID}})
		if err == nil && len(desc.Groups) == 1 {
			st.state, st.members = desc.Groups[0].GroupState, len(desc.Groups[0].Members)
		}
		out = append(out, st)
	}
	return out, nil
}
