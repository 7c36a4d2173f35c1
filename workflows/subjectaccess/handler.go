package subjectaccess

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"go.temporal.io/sdk/client"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/validate"
)

// Auditor records the request in the worker's audit log.
type Auditor interface {
	RecordNow(ctx context.Context, community, action, targetType, targetID string) error
}

// Options configure a Handler.
type Options struct {
	Stores []Store
	// Temporal holds each community's client (its namespace); a community
	// without one leaves the journeys out, saying so.
	Temporal map[string]client.Client
	Audit    Auditor
	Logger   *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Handler implements SubjectAccessService.
type Handler struct {
	opts Options
}

var _ membersv1connect.SubjectAccessServiceHandler = (*Handler)(nil)

// New returns the subject-access API.
func New(opts Options) *Handler {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Handler{opts: opts}
}

// Policy is who may ask: organisers and platform admins for anyone in
// their community, everyone for themselves.
func Policy() auth.Policy {
	self := auth.ScopeSelf
	return auth.Policy{membersv1connect.SubjectAccessServiceExportSubjectDataProcedure: {Grants: map[auth.Role]auth.Scope{
		auth.Organiser: auth.ScopeCommunity, auth.PlatformAdmin: auth.ScopeCommunity, auth.Staff: self, auth.Ambassador: self, auth.Member: self}}}
}

// manifest is the archive's receipt.
type manifest struct {
	Community  string         `json:"community"`
	MemberID   string         `json:"member_id"`
	ExportedAt time.Time      `json:"exported_at"`
	Stores     []storeReceipt `json:"stores"`
}

type storeReceipt struct {
	Store    string `json:"store"`
	File     string `json:"file,omitempty"`
	Included bool   `json:"included"`
	Reason   string `json:"reason,omitempty"`
}

// chunkSize is how much of the archive one message carries.
const chunkSize = 64 << 10

// ExportSubjectData gathers the member's data from every store and streams
// it as a zip archive with its manifest.
func (h *Handler) ExportSubjectData(ctx context.Context, req *connect.Request[membersv1.ExportSubjectDataRequest], stream *connect.ServerStream[membersv1.ExportSubjectDataResponse]) error {
	community, err := auth.Confine(ctx, req.Msg.GetCommunity())
	if err != nil {
		return err
	}
	if _, ferr := validate.Community(community); ferr != nil {
		return rpc.InvalidArgument(ferr)
	}
	memberID := req.Msg.GetMemberId()
	if memberID == "" {
		p, _ := auth.FromContext(ctx)
		memberID = p.MemberID
	}
	if _, ferr := validate.Text("member_id", memberID, 1, 64); ferr != nil {
		return rpc.InvalidArgument(ferr)
	}
	if err := auth.RequireTarget(ctx, memberID); err != nil {
		return err
	}
	// Each store is asked with the caller's credentials. The members
	// service must know the member: a member of another community (or of
	// nobody) is NotFound there, and nothing is exported.
	ctx = withCredentials(ctx, req.Header().Get("Authorization"))
	m := manifest{Community: community, MemberID: memberID, ExportedAt: h.opts.Now().UTC()}
	files := map[string][]byte{}
	for _, s := range h.opts.Stores {
		r := storeReceipt{Store: s.Name}
		switch {
		case s.Export == nil:
			r.Reason = "not configured on this instance"
		default:
			data, err := s.Export(ctx, community, memberID)
			switch {
			case err == nil:
				r.File, r.Included = s.Name+".json", true
				files[r.File] = data
			case s.Name == "members" && connect.CodeOf(err) == connect.CodeNotFound:
				return connect.NewError(connect.CodeNotFound, err)
			case connect.CodeOf(err) == connect.CodePermissionDenied:
				r.Reason = "the caller may not read it"
			default:
				h.opts.Logger.WarnContext(ctx, "a store could not export", "store", s.Name, "community", community, "member_id", memberID,
					"code", connect.CodeOf(err).String())
				r.Reason = "unavailable (" + connect.CodeOf(err).String() + "); ask again later"
			}
		}
		m.Stores = append(m.Stores, r)
	}
	r := storeReceipt{Store: "journeys"}
	if c := h.opts.Temporal[community]; c == nil {
		r.Reason = "not configured on this instance"
	} else if states, err := journeys(ctx, c, community, memberID); err != nil {
		h.opts.Logger.WarnContext(ctx, "journeys could not be read", "community", community, "member_id", memberID, "error", err)
		r.Reason = "unavailable; ask again later"
	} else {
		raw, err := json.MarshalIndent(map[string]any{"member_id": memberID, "community": community, "workflows": states}, "", "  ")
		if err != nil {
			return rpc.ToConnect(ctx, h.opts.Logger, req.Spec().Procedure, err)
		}
		r.File, r.Included = "journeys.json", true
		files[r.File] = raw
	}
	m.Stores = append(m.Stores, r)

	archive, err := zipArchive(m, files)
	if err != nil {
		return rpc.ToConnect(ctx, h.opts.Logger, req.Spec().Procedure, err)
	}
	if h.opts.Audit != nil {
		if err := h.opts.Audit.RecordNow(ctx, community, "member.subject_access_exported", "member", memberID); err != nil {
			return rpc.ToConnect(ctx, h.opts.Logger, req.Spec().Procedure, err)
		}
	}
	receipt := &membersv1.SubjectAccessReceipt{Community: community, MemberId: memberID}
	for _, s := range m.Stores {
		receipt.Stores = append(receipt.Stores, &membersv1.StoreExport{Store: s.Store, File: s.File, Included: s.Included, Reason: s.Reason})
	}
	for len(archive) > 0 {
		n := min(len(archive), chunkSize)
		msg := &membersv1.ExportSubjectDataResponse{Chunk: archive[:n]}
		archive = archive[n:]
		if len(archive) == 0 {
			msg.Receipt = receipt
		}
		if err := stream.Send(msg); err != nil {
			return err
		}
	}
	h.opts.Logger.InfoContext(ctx, "subject access exported", "community", community, "member_id", memberID, "stores", len(m.Stores))
	return nil
}

// zipArchive writes manifest.json and the stores' files, in a stable
// order.
func zipArchive(m manifest, files map[string][]byte) ([]byte, error) {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	add := func(name string, data []byte) error {
		f, err := w.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: m.ExportedAt})
		if err != nil {
			return err
		}
		_, err = f.Write(data)
		return err
	}
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := add("manifest.json", raw); err != nil {
		return nil, err
	}
	for _, s := range m.Stores {
		if s.Included {
			if err := add(s.File, files[s.File]); err != nil {
				return nil, err
			}
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
