package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"connectrpc.com/connect"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/rpc"
)

// organiserFlags are what the organiser commands need to reach the API.
type organiserFlags struct {
	url, token, community string
}

func (o *organiserFlags) define(f *flags) {
	f.string(&o.url, "url", "KINSHIP_MEMBERS_URL", "http://127.0.0.1:8081", "members API base URL")
	f.secret(&o.token, "token", "KINSHIP_TOKEN", "bearer token or API key of an organiser")
	f.string(&o.community, "community", "KINSHIP_COMMUNITY", "", "community slug; empty means the token's")
}

func (o *organiserFlags) client() (membersv1connect.MembersServiceClient, error) {
	if o.token == "" {
		return nil, errors.New("no credentials: set -token or KINSHIP_TOKEN (an organiser's token or API key)")
	}
	return membersv1connect.NewMembersServiceClient(rpc.HTTPClient(0), o.url,
		connect.WithInterceptors(auth.NewClientInterceptor(auth.StaticToken(o.token)))), nil
}

// runMembersImport streams a CSV file to ImportMembers with a progress bar
// on stderr, then prints a summary. It fails when any row failed.
func runMembersImport(ctx context.Context, args []string, env envFunc, stdout, stderr io.Writer) error {
	var o organiserFlags
	var dryRun bool
	f := newFlags("members import", env)
	o.define(f)
	f.fs.BoolVar(&dryRun, "dry-run", false, "validate and count without changing anything")
	if err := f.fs.Parse(args); err != nil {
		return err
	}
	if f.fs.NArg() != 1 {
		return errors.New("usage: kinship members import [flags] FILE.csv")
	}
	client, err := o.client()
	if err != nil {
		return err
	}
	file, err := os.Open(f.fs.Arg(0))
	if err != nil {
		return err
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return err
	}
	stream := client.ImportMembers(ctx)
	progress := newProgress(stderr, info.Size())
	buf := make([]byte, 256<<10)
	first := true
	for {
		n, rerr := file.Read(buf)
		if n > 0 || first {
			req := &membersv1.ImportMembersRequest{Chunk: buf[:n]}
			if first {
				req.Community, req.DryRun, first = o.community, dryRun, false
			}
			if err := stream.Send(req); err != nil {
				break // the server ended the call; CloseAndReceive says why
			}
			progress.add(n)
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	res, err := stream.CloseAndReceive()
	progress.done()
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	r := res.Msg
	mode := ""
	if r.GetDryRun() {
		mode = " (dry run: nothing changed)"
	}
	fmt.Fprintf(stdout, "rows %d: %d created, %d updated, %d unchanged, %d failed%s\n",
		r.GetRows(), r.GetCreated(), r.GetUpdated(), r.GetUnchanged(), r.GetFailed(), mode)
	for _, e := range r.GetErrors() {
		field := ""
		if e.GetField() != "" {
			field = e.GetField() + ": "
		}
		fmt.Fprintf(stdout, "  line %d: %s%s\n", e.GetLine(), field, e.GetReason())
	}
	if r.GetFailed() > int64(len(r.GetErrors())) {
		fmt.Fprintf(stdout, "  ... and %d more\n", r.GetFailed()-int64(len(r.GetErrors())))
	}
	if r.GetFailed() > 0 {
		return fmt.Errorf("%d rows were not imported; the others were", r.GetFailed())
	}
	return nil
}

// runMembersExport writes a segment (or everyone) as CSV.
func runMembersExport(ctx context.Context, args []string, env envFunc, stdout io.Writer) error {
	var o organiserFlags
	var segment, out string
	f := newFlags("members export", env)
	o.define(f)
	f.fs.StringVar(&segment, "segment", "", "id of a saved segment; empty exports everyone")
	f.fs.StringVar(&out, "o", "", "file to write; empty writes to standard output")
	if err := f.parse(args); err != nil {
		return err
	}
	client, err := o.client()
	if err != nil {
		return err
	}
	stream, err := client.ExportMembers(ctx, connect.NewRequest(&membersv1.ExportMembersRequest{Community: o.community, SegmentId: segment}))
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	w := bufio.NewWriter(stdout)
	if out != "" {
		file, err := os.Create(out)
		if err != nil {
			return err
		}
		defer file.Close()
		w = bufio.NewWriter(file)
	}
	for stream.Receive() {
		if _, err := w.Write(stream.Msg().GetChunk()); err != nil {
			return err
		}
	}
	if err := stream.Err(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return w.Flush()
}

// progress draws a progress bar on a terminal line.
type progress struct {
	w           io.Writer
	total, sent int64
	last        time.Time
}

func newProgress(w io.Writer, total int64) *progress { return &progress{w: w, total: total} }

func (p *progress) add(n int) {
	p.sent += int64(n)
	if time.Since(p.last) < 100*time.Millisecond && p.sent < p.total {
		return
	}
	p.last = time.Now()
	pct := 100.0
	if p.total > 0 {
		pct = float64(p.sent) * 100 / float64(p.total)
	}
	filled := int(pct / 5)
	bar := make([]byte, 20)
	for i := range bar {
		bar[i] = '.'
		if i < filled {
			bar[i] = '#'
		}
	}
	fmt.Fprintf(p.w, "\rimporting [%s] %3.0f%%  %.1f / %.1f MB", bar, pct, float64(p.sent)/1e6, float64(p.total)/1e6)
}

func (p *progress) done() { fmt.Fprintln(p.w) }
