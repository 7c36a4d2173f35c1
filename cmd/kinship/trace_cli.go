package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kinshiphq/kinship/internal/tracestore"
)

// runTrace prints one trace of the dev stack's trace viewer as a
// waterfall — `kinship trace <trace id>`, the id from an API answer's
// X-Trace-Id header or the viewer — or, without an id, the recent traces
// (-service, -operation, -status, -min-duration filter them).
func runTrace(ctx context.Context, args []string, env envFunc, stdout io.Writer) error {
	var base, service, operation, status string
	var minDuration time.Duration
	var attributes bool
	var width, limit int
	f := newFlags("trace", env)
	f.string(&base, "url", "KINSHIP_TRACES_URL", "http://127.0.0.1:16686", "trace viewer of `kinship dev`")
	f.fs.BoolVar(&attributes, "attributes", false, "print every span's attributes too")
	f.fs.IntVar(&width, "width", 40, "columns of the timeline")
	f.fs.StringVar(&service, "service", "", "list: traces with a span of this service (kinship-members, kinship-worker, ...)")
	f.fs.StringVar(&operation, "operation", "", "list: traces with a span whose name contains this")
	f.fs.StringVar(&status, "status", "", "list: error or ok")
	f.fs.DurationVar(&minDuration, "min-duration", 0, "list: traces at least this long")
	f.fs.IntVar(&limit, "limit", 20, "list: at most this many traces")
	// The id may come before or after the flags.
	var id string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	if err := f.fs.Parse(args); err != nil {
		return err
	}
	switch rest := f.fs.Args(); {
	case len(rest) == 1 && id == "":
		id = rest[0]
	case len(rest) > 0:
		return fmt.Errorf("unexpected arguments: %v", rest)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	base = strings.TrimSuffix(base, "/")
	if id == "" {
		q := url.Values{"limit": {fmt.Sprint(limit)}}
		for k, v := range map[string]string{"service": service, "operation": operation, "status": status} {
			if v != "" {
				q.Set(k, v)
			}
		}
		if minDuration > 0 {
			q.Set("min_duration", minDuration.String())
		}
		var list struct {
			Traces []tracestore.Summary `json:"traces"`
		}
		if err := getJSON(ctx, client, base+"/api/traces?"+q.Encode(), &list); err != nil {
			return err
		}
		return printTraceList(stdout, list.Traces)
	}
	if _, err := tracestore.ParseTraceID(id); err != nil {
		return err
	}
	var t tracestore.Trace
	if err := getJSON(ctx, client, base+"/api/traces/"+url.PathEscape(id), &t); err != nil {
		return err
	}
	return tracestore.WriteText(stdout, t, width, attributes)
}

// getJSON decodes the answer of GET u into v; an error answer's message
// becomes the error.
func getJSON(ctx context.Context, client *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("reach the trace viewer (is `kinship dev` running? -url sets where): %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.NewDecoder(io.LimitReader(res.Body, 64<<10)).Decode(&e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("trace viewer answered %s", res.Status)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		return fmt.Errorf("read the trace viewer's answer: %w", err)
	}
	return nil
}

func printTraceList(w io.Writer, traces []tracestore.Summary) error {
	if len(traces) == 0 {
		_, err := fmt.Fprintln(w, "no trace matches")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STARTED\tTRACE\tROOT\tSPANS\tERRORS\tDURATION")
	for _, t := range traces {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%.1f ms\n", t.Start.Format("15:04:05.000"), t.TraceID, t.Root, t.SpanCount, t.Errors, t.DurationMS)
	}
	return tw.Flush()
}
