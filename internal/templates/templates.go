// Package templates makes sure a community has the message templates a
// workflow or a service sends (journeys, the health report, partner
// reminders), creating a default one when an organiser has not made their
// own. An existing template is never overwritten.
package templates

import (
	"context"
	"fmt"
	"sync"
	"time"

	"connectrpc.com/connect"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
)

// Default is a template to create when the community has none by its name.
type Default struct {
	Name     string
	Subject  string
	TextBody string
}

// Ensure creates d in community unless a template of that name exists. It
// reports whether it created it. Errors are the API's, unclassified.
func Ensure(ctx context.Context, c communicationsv1connect.TemplatesServiceClient, community string, d Default) (bool, error) {
	_, err := c.GetTemplate(ctx, connect.NewRequest(&communicationsv1.GetTemplateRequest{Community: community, Name: d.Name}))
	switch {
	case err == nil:
		return false, nil
	case connect.CodeOf(err) != connect.CodeNotFound:
		return false, fmt.Errorf("look up template %s: %w", d.Name, err)
	}
	_, err = c.SaveTemplate(ctx, connect.NewRequest(&communicationsv1.SaveTemplateRequest{Community: community, Name: d.Name,
		Variants: []*communicationsv1.TemplateVariant{{Subject: d.Subject, TextBody: d.TextBody}}}))
	switch {
	case connect.CodeOf(err) == connect.CodeAlreadyExists: // made meanwhile by someone else
		return false, nil
	case err != nil:
		return false, fmt.Errorf("create template %s: %w", d.Name, err)
	}
	return true, nil
}

// Ensurer makes sure of templates before messages use them, and
// remembers for a while those it found or made, so that every message of
// a journey does not ask the communications service first. A template an
// organiser deletes comes back with its default text after at most the
// Ensurer's memory.
type Ensurer struct {
	client communicationsv1connect.TemplatesServiceClient
	memory time.Duration
	now    func() time.Time
	mu     sync.Mutex
	seen   map[string]time.Time
}

// NewEnsurer returns an Ensurer asking client, remembering for memory.
func NewEnsurer(client communicationsv1connect.TemplatesServiceClient, memory time.Duration) *Ensurer {
	return &Ensurer{client: client, memory: memory, now: time.Now, seen: map[string]time.Time{}}
}

// Ensure makes sure community has d (see Ensure). A nil Ensurer makes
// sure of nothing: the caller sends to templates it knows exist.
func (e *Ensurer) Ensure(ctx context.Context, community string, d Default) error {
	if e == nil {
		return nil
	}
	key := community + "/" + d.Name
	e.mu.Lock()
	at, ok := e.seen[key]
	e.mu.Unlock()
	if ok && e.now().Sub(at) < e.memory {
		return nil
	}
	if _, err := Ensure(ctx, e.client, community, d); err != nil {
		return err
	}
	e.mu.Lock()
	e.seen[key] = e.now()
	e.mu.Unlock()
	return nil
}
