package api

import (
	"context"
	"errors"
	"fmt"
	"io"

	"connectrpc.com/connect"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/services/members/domain"
)

// activityImportBatch is how many rows of an activities CSV go into one
// transaction.
const activityImportBatch = 500

// ImportActivities reads an activities CSV sent in chunks, with the rules
// of RecordActivities; bad rows are reported by line while good rows go in.
func (h Integrations) ImportActivities(ctx context.Context, stream *connect.ClientStream[membersv1.ImportActivitiesRequest]) (*connect.Response[membersv1.ImportActivitiesResponse], error) {
	spec := stream.Spec()
	if !stream.Receive() {
		if err := stream.Err(); err != nil {
			return nil, h.toConnect(ctx, spec, err)
		}
		return nil, h.toConnect(ctx, spec, fieldRequired("chunk"))
	}
	head := stream.Msg()
	community, err := auth.Confine(ctx, head.GetCommunity())
	if err != nil {
		return nil, err
	}
	settings, err := h.settings(ctx, community)
	if err != nil {
		return nil, h.toConnect(ctx, spec, err)
	}
	file, err := spool(&chunkReader[membersv1.ImportActivitiesRequest]{first: head.GetChunk(), stream: stream,
		chunk: (*membersv1.ImportActivitiesRequest).GetChunk})
	if err != nil {
		return nil, h.toConnect(ctx, spec, err)
	}
	defer file.Close()
	rr := domain.NewRecordReader(file)
	rec, line, err := rr.Next()
	var rowErr *domain.RowError
	switch {
	case errors.Is(err, io.EOF):
		return nil, h.toConnect(ctx, spec, fieldInvalid("chunk", "the CSV is empty; it needs a header row"))
	case errors.As(err, &rowErr):
		return nil, h.toConnect(ctx, spec, fieldInvalid("chunk", rowErr.Error()))
	case err != nil:
		return nil, h.toConnect(ctx, spec, err)
	}
	header, err := domain.ParseActivityHeader(rec)
	if err != nil {
		return nil, h.toConnect(ctx, spec, fieldInvalid("chunk", fmt.Sprintf("line %d: %v", line, err)))
	}
	res := &membersv1.ImportActivitiesResponse{}
	fail := func(r *membersv1.RowResult) {
		res.Failed++
		if len(res.Errors) < maxReportedErrors {
			res.Errors = append(res.Errors, r)
		}
	}
	var batch []domain.ActivityInput
	var lines []int64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		results, err := h.recordBulk(ctx, settings, batch, func(i int) int64 { return lines[i] })
		if err != nil {
			return err
		}
		for _, r := range results {
			if r.GetOutcome() == membersv1.RowOutcome_ROW_OUTCOME_FAILED {
				fail(r)
				continue
			}
			var ignored int64
			countOutcome(r.GetOutcome(), &res.Recorded, &res.Duplicates, &res.Unmatched, &ignored)
		}
		batch, lines = batch[:0], lines[:0]
		return nil
	}
	for {
		rec, line, err := rr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.As(err, &rowErr) {
			res.Rows++
			fail(&membersv1.RowResult{Row: rowErr.Line, Outcome: membersv1.RowOutcome_ROW_OUTCOME_FAILED, Field: rowErr.Field, Reason: rowErr.Reason})
			continue
		}
		if err != nil {
			return nil, h.toConnect(ctx, spec, err)
		}
		res.Rows++
		in, errs := header.Row(line, rec)
		if len(errs) > 0 {
			fail(&membersv1.RowResult{Row: line, Outcome: membersv1.RowOutcome_ROW_OUTCOME_FAILED, Field: errs[0].Field, Reason: errs[0].Reason})
			continue
		}
		batch, lines = append(batch, in), append(lines, line)
		if len(batch) == activityImportBatch {
			if err := flush(); err != nil {
				return nil, h.toConnect(ctx, spec, err)
			}
		}
	}
	if err := flush(); err != nil {
		return nil, h.toConnect(ctx, spec, err)
	}
	h.logger.InfoContext(ctx, "activities imported", "community", community, "rows", res.Rows, "recorded", res.Recorded,
		"duplicates", res.Duplicates, "unmatched", res.Unmatched, "failed", res.Failed)
	return connect.NewResponse(res), nil
}
