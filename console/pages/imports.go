package pages

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"connectrpc.com/connect"

	"github.com/kinshiphq/kinship/console/apis"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/csvout"
)

// importChunk is how much CSV each message of the import stream carries.
const importChunk = 256 << 10

// importTimeout bounds one import, however large.
const importTimeout = 30 * time.Minute

func (s *Server) importForm(w http.ResponseWriter, r *http.Request, c *call) {
	s.render(w, r, c, http.StatusOK, "import", "Import members", "members", map[string]any{"Form": newForm(nil)})
}

// importStart reads the uploaded file and streams it to ImportMembers in
// the background; the page then polls the job for its progress.
func (s *Server) importStart(w http.ResponseWriter, r *http.Request, c *call) {
	form := newForm(nil)
	file, header, err := r.FormFile("file")
	if err != nil {
		form.Set("file", "choose a CSV file (at most 64 MiB)")
		s.render(w, r, c, http.StatusBadRequest, "import", "Import members", "members", map[string]any{"Form": form})
		return
	}
	defer file.Close()
	raw, err := io.ReadAll(file)
	if err != nil || len(raw) == 0 {
		form.Set("file", "the file is empty or could not be read")
		s.render(w, r, c, http.StatusBadRequest, "import", "Import members", "members", map[string]any{"Form": form})
		return
	}
	dryRun := r.PostFormValue("dry_run") == "on"
	j := s.jobs.start(c.ss.Key)
	j.progress(0, int64(len(raw)))
	ctx, cancel := context.WithTimeout(apis.WithToken(context.WithoutCancel(r.Context()), c.ss.AccessToken), importTimeout)
	go func() {
		defer cancel()
		res, err := s.streamImport(ctx, raw, dryRun, j)
		if err != nil {
			msg := "The import failed."
			var cerr *connect.Error
			if errors.As(err, &cerr) {
				msg = apiMessage(cerr)
			}
			j.finish(nil, msg)
			return
		}
		j.finish(importResult{Name: header.Filename, Response: res}, "")
	}()
	seeOther(w, r, "/members/import/"+j.id, "")
}

type importResult struct {
	Name     string
	Response *membersv1.ImportMembersResponse
}

func (s *Server) streamImport(ctx context.Context, raw []byte, dryRun bool, j *job) (*membersv1.ImportMembersResponse, error) {
	stream := s.api.Members.ImportMembers(ctx)
	for off := 0; off < len(raw); off += importChunk {
		end := min(off+importChunk, len(raw))
		msg := &membersv1.ImportMembersRequest{Chunk: raw[off:end]}
		if off == 0 {
			msg.Community, msg.DryRun = s.opts.Community, dryRun
		}
		if err := stream.Send(msg); err != nil {
			break // the answer tells why
		}
		j.progress(int64(end), int64(len(raw)))
	}
	res, err := stream.CloseAndReceive()
	if err != nil {
		return nil, err
	}
	return res.Msg, nil
}

// importStatus shows a job's progress; while it runs, the progress block
// asks again every second (htmx), and stops once the import is done.
func (s *Server) importStatus(w http.ResponseWriter, r *http.Request, c *call) {
	j, ok := s.jobs.get(r.PathValue("job"), c.ss.Key)
	if !ok {
		s.problem(w, r, c, http.StatusNotFound, "This import is not known here (imports are kept for an hour).")
		return
	}
	snap := j.snapshot()
	if r.Header.Get("HX-Request") != "" {
		s.fragment(w, r, c, "importstatus", "progress", snap)
		return
	}
	s.render(w, r, c, http.StatusOK, "importstatus", "Import members", "members", snap)
}

// importErrors downloads the rows that failed, as CSV for a spreadsheet.
func (s *Server) importErrors(w http.ResponseWriter, r *http.Request, c *call) {
	j, ok := s.jobs.get(r.PathValue("job"), c.ss.Key)
	if !ok {
		s.problem(w, r, c, http.StatusNotFound, "This import is not known here (imports are kept for an hour).")
		return
	}
	res, _ := j.snapshot().Result.(importResult)
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="import-errors.csv"`)
	out := csvout.NewWriter(func(chunk []byte) error { _, err := w.Write(chunk); return err })
	_ = out.Header("line", "field", "reason")
	for _, e := range res.Response.GetErrors() {
		_ = out.Row(strconv.FormatInt(e.GetLine(), 10), e.GetField(), e.GetReason())
	}
	_ = out.Flush()
}
