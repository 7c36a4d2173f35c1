package chaos

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"connectrpc.com/connect"
	kafkago "github.com/segmentio/kafka-go"
	"google.golang.org/protobuf/types/known/timestamppb"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/kafka"
	commsevents "github.com/kinshiphq/kinship/services/communications/events"
	memberevents "github.com/kinshiphq/kinship/services/members/events"
)

// announcement is what the load log keeps of one announcement: the
// window of join times its segment takes (every member who joined before
// JoinedBefore, or only those who joined from JoinedAfter on: a small
// segment), and whether the barrier held before it was created.
type announcement struct {
	N            int       `json:"n"`
	ID           string    `json:"id,omitempty"`
	JoinedAfter  time.Time `json:"joined_after,omitzero"`
	JoinedBefore time.Time `json:"joined_before"`
	// Barrier: before the announcement was created, every acknowledged
	// join with consent from before JoinedBefore was on members.v1 and
	// the communications service's recipients projection had handled
	// members.v1 past it. Without it the accounting cannot say who had to
	// be in the audience, and judges only who must not have been.
	Barrier bool `json:"barrier"`
	// Waited: how long the barrier took (or gave up after): for the
	// joins to be on the topic, then for the projection.
	Waited string `json:"waited"`
}

// announcementsFor is how many announcements a load of ops sends: the
// first to every member with consent, the others to those who joined
// since the one before.
func announcementsFor(ops int) int { return 2 + ops/5000 }

func announcementTemplate(n int) string { return "chaos-announcement-" + strconv.Itoa(n) }

func announcementSubject(n int) string { return "Chaos announcement " + strconv.Itoa(n) }

// barrierWait bounds how long an announcement waits for the projection.
const barrierWait = 2 * time.Minute

// announcer sends n announcements spread over span while the load runs.
func (l *loader) announcer(ctx context.Context, n int, span time.Duration) {
	start := time.Now()
	var after time.Time
	for i := 1; i <= n; i++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(start.Add(span * time.Duration(i) / time.Duration(n+1)))):
		}
		before := time.Now().UTC()
		a := &announcement{N: i, JoinedAfter: after, JoinedBefore: before}
		after = before
		var berr error
		a.Waited, berr = l.barrier(ctx, before)
		a.Barrier = berr == nil
		filter := &membersv1.SegmentFilter{JoinedBefore: timestamppb.New(a.JoinedBefore)}
		if !a.JoinedAfter.IsZero() {
			filter.JoinedAfter = timestamppb.New(a.JoinedAfter)
		}
		sent := time.Now().UTC()
		err := retry(ctx, func() error {
			res, err := l.announcements.CreateAnnouncement(ctx, connect.NewRequest(&communicationsv1.CreateAnnouncementRequest{
				Community: community, Template: announcementTemplate(i), Kind: communicationsv1.AnnouncementKind_ANNOUNCEMENT_KIND_ANNOUNCEMENT,
				Filter: filter, IdempotencyKey: fmt.Sprintf("chaos-%d-announcement-%d", l.seed, i)}))
			if err == nil {
				a.ID = res.Msg.GetAnnouncement().GetId()
			}
			return err
		})
		e := entry{Op: "announce", Sent: sent, Announcement: a, Replica: "front", Outcome: ok}
		if err != nil {
			e.Outcome, e.Error = classify(err), err.Error()
		}
		if berr != nil {
			e.Error = "barrier: " + berr.Error() + "; " + e.Error
		}
		l.log.add(e)
	}
}

// barrier waits until every acknowledged join with consent from before
// before is on members.v1 and the recipients projection's consumer group
// has committed past the end the topic had then, or barrierWait passes.
// It says how long each half took.
func (l *loader) barrier(ctx context.Context, before time.Time) (string, error) {
	began := time.Now()
	deadline := began.Add(barrierWait)
	var want []string
	l.log.mu.Lock()
	for _, e := range l.log.entries {
		if e.Op == "join" && e.Outcome == ok && e.Consent && e.At.Before(before) {
			want = append(want, e.Member)
		}
	}
	l.log.mu.Unlock()
	broker, topic := l.c.kafka.Addr(), memberevents.Topic(community)
	for {
		byKey, _, err := readTopic(ctx, broker, topic)
		missing := len(want)
		if err == nil {
			missing = 0
			for _, id := range want {
				if len(byKey[id]) == 0 {
					missing++
				}
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%d joins not on %s after %v (%v)", missing, topic, barrierWait, err)
		}
		time.Sleep(time.Second)
	}
	onTopic := time.Now()
	waited := func() string {
		return fmt.Sprintf("topic %v, projection %v", onTopic.Sub(began).Round(time.Millisecond), time.Since(onTopic).Round(time.Millisecond))
	}
	group := kafka.Group(commsevents.ProjectionGroup, []string{community})
	var ends map[int]int64
	for {
		var behind int
		var err error
		if ends == nil {
			ends, err = endOffsets(ctx, broker, topic)
		}
		if err == nil {
			behind, err = partitionsBehind(ctx, broker, group, topic, ends)
		}
		if err == nil && behind == 0 {
			return waited(), nil
		}
		if time.Now().After(deadline) {
			return waited(), fmt.Errorf("%s: %d partitions of %s not handled after %v (%v)", group, behind, topic, barrierWait, err)
		}
		time.Sleep(time.Second)
	}
}

// endOffsets returns each partition's end offset of topic.
func endOffsets(ctx context.Context, broker, topic string) (map[int]int64, error) {
	client := &kafkago.Client{Addr: kafkago.TCP(broker), Timeout: 10 * time.Second}
	meta, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, err
	}
	if len(meta.Topics) != 1 || meta.Topics[0].Error != nil {
		return nil, fmt.Errorf("topic %s not found", topic)
	}
	req := &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{}}
	for _, p := range meta.Topics[0].Partitions {
		req.Topics[topic] = append(req.Topics[topic], kafkago.LastOffsetOf(p.ID))
	}
	offs, err := client.ListOffsets(ctx, req)
	if err != nil {
		return nil, err
	}
	ends := map[int]int64{}
	for _, p := range offs.Topics[topic] {
		if p.Error != nil {
			return nil, p.Error
		}
		ends[p.Partition] = p.LastOffset
	}
	return ends, nil
}

// partitionsBehind counts the partitions of topic holding records that
// group has not committed up to ends.
func partitionsBehind(ctx context.Context, broker, group, topic string, ends map[int]int64) (int, error) {
	client := &kafkago.Client{Addr: kafkago.TCP(broker), Timeout: 10 * time.Second}
	res, err := client.OffsetFetch(ctx, &kafkago.OffsetFetchRequest{GroupID: group})
	if err != nil {
		return 0, err
	}
	if res.Error != nil {
		return 0, res.Error
	}
	committed := map[int]int64{}
	for _, p := range res.Topics[topic] {
		committed[p.Partition] = p.CommittedOffset
	}
	behind := 0
	for p, end := range ends {
		if end > 0 && committed[p] < end {
			behind++
		}
	}
	return behind, nil
}
