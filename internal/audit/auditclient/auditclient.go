// Package auditclient reads a community's whole audit trail: it asks the
// AuditService of every component and merges their entries newest first,
// with one page token that remembers where each component's log stands.
package auditclient

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	auditv1 "github.com/kinshiphq/kinship/gen/kinship/audit/v1"
	"github.com/kinshiphq/kinship/gen/kinship/audit/v1/auditv1connect"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/validate"
)

// Reader merges the audit logs of several components.
type Reader struct {
	// Clients are each component's AuditService, by component name.
	Clients map[string]auditv1connect.AuditServiceClient
}

// Query selects a page of the merged trail.
type Query struct {
	Community    string
	PageSize     int32
	PageToken    string
	Since, Until *timestamppb.Timestamp
}

// Page is one page of the merged trail, newest first.
type Page struct {
	Entries       []*auditv1.AuditEntry
	NextPageToken string
}

// cursor is where each component's log stands: the id of the oldest entry
// already returned ("" for none yet), or done when the log is exhausted.
type cursor struct {
	Community string            `json:"c"`
	After     map[string]string `json:"a"`
	Done      map[string]bool   `json:"d,omitempty"`
}

// List returns one page of the community's merged audit trail.
func (r Reader) List(ctx context.Context, q Query) (Page, error) {
	size, err := rpc.PageSize(q.PageSize)
	if err != nil {
		return Page{}, err
	}
	cur, err := decode(q.Community, q.PageToken)
	if err != nil {
		return Page{}, err
	}
	names := make([]string, 0, len(r.Clients))
	for name := range r.Clients {
		names = append(names, name)
	}
	sort.Strings(names)
	var all []*auditv1.AuditEntry
	more := map[string]bool{}
	for _, name := range names {
		if cur.Done[name] {
			continue
		}
		token := ""
		if last := cur.After[name]; last != "" {
			token = rpc.EncodePageToken(q.Community, last)
		}
		res, err := r.Clients[name].ListAuditEntries(ctx, connect.NewRequest(&auditv1.ListAuditEntriesRequest{
			Community: q.Community, PageSize: int32(size), PageToken: token, Since: q.Since, Until: q.Until}))
		if err != nil {
			return Page{}, fmt.Errorf("read the %s audit log: %w", name, err)
		}
		for _, e := range res.Msg.GetEntries() {
			if e.GetService() == "" {
				e.Service = name
			}
			all = append(all, e)
		}
		more[name] = res.Msg.GetNextPageToken() != ""
	}
	// UUIDv7 ids order by time across components.
	sort.SliceStable(all, func(i, j int) bool { return all[i].GetId() > all[j].GetId() })
	page := Page{Entries: all[:min(size, len(all))]}
	next := cursor{Community: q.Community, After: map[string]string{}, Done: map[string]bool{}}
	for name, done := range cur.Done {
		next.Done[name] = done
	}
	for name, last := range cur.After {
		next.After[name] = last
	}
	taken := map[string]int{}
	for _, e := range page.Entries {
		next.After[e.GetService()] = e.GetId()
		taken[e.GetService()]++
	}
	remaining := false
	for _, name := range names {
		if cur.Done[name] {
			continue
		}
		fetched := 0
		for _, e := range all {
			if e.GetService() == name {
				fetched++
			}
		}
		if taken[name] == fetched && !more[name] {
			next.Done[name] = true
			continue
		}
		remaining = true
	}
	if remaining {
		page.NextPageToken = encode(next)
	}
	return page, nil
}

func encode(c cursor) string {
	raw, _ := json.Marshal(c) // a struct of strings and bools always encodes
	return base64.RawURLEncoding.EncodeToString(raw)
}

func decode(community, token string) (cursor, error) {
	c := cursor{Community: community, After: map[string]string{}, Done: map[string]bool{}}
	if token == "" {
		return c, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || json.Unmarshal(raw, &c) != nil || c.Community != community {
		return cursor{}, validate.Field("page_token", "is not a token this reader issued for this community")
	}
	if c.After == nil {
		c.After = map[string]string{}
	}
	if c.Done == nil {
		c.Done = map[string]bool{}
	}
	return c, nil
}
