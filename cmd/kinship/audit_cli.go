package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kinshiphq/kinship/gen/kinship/audit/v1/auditv1connect"
	"github.com/kinshiphq/kinship/internal/audit/auditclient"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/rpc"
)

// runAudit prints a community's audit trail across every service, newest
// first: `kinship audit [-since 24h] [-limit 100]`.
func runAudit(ctx context.Context, args []string, env envFunc, stdout io.Writer) error {
	var o organiserFlags
	var eventsURL, communicationsURL, partnersURL string
	var since time.Duration
	var limit int
	f := newFlags("audit", env)
	o.define(f)
	f.string(&eventsURL, "events-url", "KINSHIP_EVENTS_URL", "http://127.0.0.1:8085", "events API base URL")
	f.string(&communicationsURL, "communications-url", "KINSHIP_COMMUNICATIONS_URL", "http://127.0.0.1:8082", "communications API base URL")
	f.string(&partnersURL, "partners-url", "KINSHIP_PARTNERS_URL", "http://127.0.0.1:8086", "partners API base URL")
	f.fs.DurationVar(&since, "since", 0, "only entries this recent, such as 24h; 0 means all")
	f.fs.IntVar(&limit, "limit", 100, "print at most this many entries")
	if err := f.parse(args); err != nil {
		return err
	}
	if o.token == "" {
		return errors.New("no credentials: set -token or KINSHIP_TOKEN (an organiser's token or API key)")
	}
	if limit <= 0 {
		return errors.New("-limit must be positive")
	}
	httpClient, bearer := rpc.HTTPClient(0), bearerOption(o.token)
	reader := auditclient.Reader{Clients: map[string]auditv1connect.AuditServiceClient{
		"members":        auditv1connect.NewAuditServiceClient(httpClient, o.url, bearer),
		"events":         auditv1connect.NewAuditServiceClient(httpClient, eventsURL, bearer),
		"communications": auditv1connect.NewAuditServiceClient(httpClient, communicationsURL, bearer),
		"partners":       auditv1connect.NewAuditServiceClient(httpClient, partnersURL, bearer),
	}}
	q := auditclient.Query{Community: o.community, PageSize: int32(min(limit, rpc.MaxPageSize))}
	if since > 0 {
		q.Since = timestamppb.New(time.Now().Add(-since))
	}
	if q.Community == "" {
		return errors.New("name the community with -community or KINSHIP_COMMUNITY")
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tSERVICE\tACTOR\tACTION\tTARGET")
	printed := 0
	for printed < limit {
		page, err := reader.List(ctx, q)
		if err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		for _, e := range page.Entries {
			if printed == limit {
				break
			}
			actor := e.GetActorKind()
			if e.GetActorId() != "" {
				actor += ":" + e.GetActorId()
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s:%s\n", e.GetOccurredAt().AsTime().Format(time.RFC3339), e.GetService(), actor,
				e.GetAction(), e.GetTargetType(), e.GetTargetId())
			printed++
		}
		if page.NextPageToken == "" {
			break
		}
		q.PageToken = page.NextPageToken
	}
	return tw.Flush()
}

// bearerOption makes a Connect client present token on every call.
func bearerOption(token string) connect.ClientOption {
	return connect.WithInterceptors(auth.NewClientInterceptor(auth.StaticToken(token)))
}
