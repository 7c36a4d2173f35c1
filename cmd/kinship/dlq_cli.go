package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kinshiphq/kinship/internal/kafka"
)

// runDLQ lists a dead-letter topic or replays its records to the topic they
// came from: `kinship dlq list|replay -topic <topic>.dlq [-id ...]`.
func runDLQ(ctx context.Context, args []string, env envFunc, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "replay") {
		return errors.New("usage: kinship dlq list|replay -topic <topic>.dlq [-id <partition>:<offset> or event id, ...] [-brokers host:port,...]")
	}
	verb := args[0]
	var brokers, ids []string
	var topic string
	var timeout time.Duration
	var sec kafkaSecuritySettings
	f := newFlags("dlq "+verb, env)
	f.list(&brokers, "brokers", "KAFKA_BROKERS", "", "Kafka bootstrap servers")
	f.string(&topic, "topic", "KINSHIP_DLQ_TOPIC", "", "dead-letter topic, such as demo.members.v1.dlq")
	if err := defineKafkaSecurity(f, &sec); err != nil {
		return err
	}
	f.fs.DurationVar(&timeout, "timeout", time.Minute, "give up after this long")
	if verb == "replay" {
		f.fs.Func("id", "dead letters to replay, by position (<partition>:<offset>, as listed) or event id, comma-separated; unset replays them all", func(s string) error {
			ids = append(ids, splitList(s)...)
			return nil
		})
	}
	if err := f.parse(args[1:]); err != nil {
		return err
	}
	if len(brokers) == 0 {
		return errors.New("no brokers: set -brokers or KAFKA_BROKERS")
	}
	if topic == "" {
		return errors.New("name the dead-letter topic with -topic, such as demo.members.v1.dlq")
	}
	security, err := sec.build()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	letters, readErr := kafka.ReadDeadLetters(ctx, brokers, security, topic)
	if readErr != nil && letters == nil {
		return fmt.Errorf("dlq: %w", readErr)
	}
	if verb == "list" {
		if err := printDeadLetters(stdout, letters); err != nil {
			return err
		}
		return readErr // records refused as not of this topic, after the others
	}
	chosen, err := chooseDeadLetters(letters, ids)
	if err != nil {
		return err
	}
	w := kafka.NewWriter(kafka.WriterConfig{Brokers: brokers, Security: security})
	defer w.Close()
	if err := kafka.Replay(ctx, w, chosen); err != nil {
		return fmt.Errorf("dlq: %w", err)
	}
	source, _ := kafka.SourceTopic(topic)
	_, err = fmt.Fprintf(stdout, "replayed %d dead letters to %s\n", len(chosen), source)
	return errors.Join(err, readErr)
}

// chooseDeadLetters returns the letters ids name, in the topic's order, or
// all of them when ids is empty; an id naming none is an error, so a typo
// replays nothing.
func chooseDeadLetters(letters []kafka.DeadLetter, ids []string) ([]kafka.DeadLetter, error) {
	if len(ids) == 0 {
		return letters, nil
	}
	var chosen []kafka.DeadLetter
	found := map[string]bool{}
	for _, d := range letters {
		for _, id := range ids {
			if d.Matches(id) {
				chosen = append(chosen, d)
				found[id] = true
				break
			}
		}
	}
	var missing []string
	for _, id := range ids {
		if !found[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("no dead letter %s in the topic; nothing replayed", strings.Join(missing, ", "))
	}
	return chosen, nil
}

// printDeadLetters prints one line per dead letter: where it is, what it
// is and why it was given up on. Keys and payloads are not printed: they
// may hold personal data.
func printDeadLetters(w io.Writer, letters []kafka.DeadLetter) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME\tEVENT\tTYPE\tFROM\tCONSUMER\tREASON")
	for _, d := range letters {
		from := d.Topic
		if d.SourcePartition != "" {
			from += "/" + d.SourcePartition + "@" + d.SourceOffset
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Time.UTC().Format(time.RFC3339), orDash(d.EventID), orDash(d.EventType),
			from, orDash(d.Consumer), orDash(oneLine(d.Reason)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d dead letters\n", len(letters))
	return err
}

// oneLine keeps a reason on its line of the table.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
