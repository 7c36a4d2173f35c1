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
		groups, err := client.ListGroups(ctx, &kafkago.ListGroupsRequest{})
		switch {
		case err != nil:
			unsettled = append(unsettled, err.Error())
		case len(groups.Groups) == 0:
			unsettled = append(unsettled, "no group yet")
		}
		if groups != nil {
			for _, g := range groups.Groups {
				desc, err := client.DescribeGroups(ctx, &kafkago.DescribeGroupsRequest{GroupIDs: []string{g.GroupID}})
				switch {
				case err != nil:
					unsettled = append(unsettled, g.GroupID+": "+err.Error())
				case len(desc.Groups) != 1 || desc.Groups[0].GroupState != "Stable":
					state := "?"
					if len(desc.Groups) == 1 {
						state = desc.Groups[0].GroupState
					}
					unsettled = append(unsettled, g.GroupID+" "+state)
				}
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
