package journeysapi

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"connectrpc.com/connect"
	"golang.org/x/text/language"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	journeysv1 "github.com/kinshiphq/kinship/gen/kinship/journeys/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/workflows/definitions"
	"github.com/kinshiphq/kinship/workflows/onboarding"
)

// definitionKind is the kind of definition a request names; unspecified
// means onboarding.
func definitionKind(k journeysv1.JourneyKind) (string, error) {
	kind, err := kindOf(k)
	if err != nil {
		return "", err
	}
	if kind == journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR {
		return definitions.KindAmbassador, nil
	}
	return definitions.KindOnboarding, nil
}

func kindProto(kind string) journeysv1.JourneyKind {
	if kind == definitions.KindAmbassador {
		return journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR
	}
	return journeysv1.JourneyKind_JOURNEY_KIND_ONBOARDING
}

func versionProto(v definitions.Version) *journeysv1.DefinitionVersion {
	return &journeysv1.DefinitionVersion{Kind: kindProto(v.Kind), Version: int32(v.Version), Document: v.Document, Published: v.Published(),
		Current: v.Current, SavedAt: ts(v.SavedAt), SavedByKind: v.SavedByKind, SavedBy: v.SavedBy, Source: v.Source, PublishedAt: ts(v.PublishedAt)}
}

// storeError maps the store's errors to the codes a caller acts on.
func (h *Handler) storeError(ctx context.Context, procedure string, err error) error {
	switch {
	case errors.Is(err, definitions.ErrNotFound):
		return connect.NewError(connect.CodeNotFound, err)
	case errors.Is(err, definitions.ErrStale):
		return connect.NewError(connect.CodeAborted, fmt.Errorf("%w: reload, and save your changes on top of it", err))
	}
	return h.toConnect(ctx, procedure, err)
}

func requireVersion(field string, v int32) error {
	if v < 0 {
		return rpc.InvalidArgument(validate.Field(field, "must not be negative"))
	}
	return nil
}

// GetDefinition returns the current version or the one named.
func (h *Handler) GetDefinition(ctx context.Context, req *connect.Request[journeysv1.GetDefinitionRequest]) (*connect.Response[journeysv1.GetDefinitionResponse], error) {
	m := req.Msg
	if _, err := h.temporal(m.GetCommunity()); err != nil {
		return nil, err
	}
	kind, err := definitionKind(m.GetKind())
	if err != nil {
		return nil, err
	}
	if err := requireVersion("version", m.GetVersion()); err != nil {
		return nil, err
	}
	v, err := h.opts.Store.Get(ctx, m.GetCommunity(), kind, int(m.GetVersion()))
	if err != nil {
		return nil, h.storeError(ctx, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&journeysv1.GetDefinitionResponse{Definition: versionProto(v)}), nil
}

// SaveDefinition checks a document — its shape, then the templates and
// segments it names — and keeps it as the next version.
func (h *Handler) SaveDefinition(ctx context.Context, req *connect.Request[journeysv1.SaveDefinitionRequest]) (*connect.Response[journeysv1.SaveDefinitionResponse], error) {
	m := req.Msg
	if _, err := h.temporal(m.GetCommunity()); err != nil {
		return nil, err
	}
	kind, err := definitionKind(m.GetKind())
	if err != nil {
		return nil, err
	}
	if err := requireVersion("base_version", m.GetBaseVersion()); err != nil {
		return nil, err
	}
	doc, err := definitions.Parse(kind, m.GetDocument())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec().Procedure, err)
	}
	if kind == definitions.KindOnboarding {
		g, err := onboarding.ParseGraph(strings.NewReader(doc))
		if err != nil {
			return nil, h.toConnect(ctx, req.Spec().Procedure, err)
		}
		if err := h.checkReferences(ctx, m.GetCommunity(), g); err != nil {
			return nil, h.toConnect(ctx, req.Spec().Procedure, err)
		}
	}
	save := h.opts.Store.Save
	if p, ok := auth.FromContext(ctx); ok && p.Kind == auth.KindWorkload {
		// Only a workload token carries the workload kind, and the
		// workload that saves definitions is the operator, from the
		// Community resource: a seed, not an organiser's edit.
		save = h.opts.Store.SaveSeed
	}
	v, err := save(ctx, m.GetCommunity(), kind, doc, m.GetPublish(), int(m.GetBaseVersion()))
	if err != nil {
		return nil, h.storeError(ctx, req.Spec().Procedure, err)
	}
	h.opts.Logger.InfoContext(ctx, "journey definition saved", "community", m.GetCommunity(), "kind", kind, "version", v.Version, "published", v.Published())
	return connect.NewResponse(&journeysv1.SaveDefinitionResponse{Definition: versionProto(v)}), nil
}

// checkReferences refuses templates the community lacks (the journey's
// own count: they are made when first needed), templates without a
// variant for a locale the definition promises, and segments that are
// not saved segments of the community — each naming the step.
func (h *Handler) checkReferences(ctx context.Context, community string, g onboarding.Graph) error {
	var errs validate.Errors
	if refs := g.Templates(); len(refs) > 0 {
		res, err := h.opts.Templates.ListTemplates(ctx, connect.NewRequest(&communicationsv1.ListTemplatesRequest{Community: community}))
		if err != nil {
			return fmt.Errorf("list the community's templates: %w", err)
		}
		locales := map[string][]string{}
		for _, t := range res.Msg.GetTemplates() {
			for _, v := range t.GetVariants() {
				locales[t.GetName()] = append(locales[t.GetName()], v.GetLocale())
			}
		}
		for _, ref := range refs {
			have, ok := locales[ref.Name]
			if !ok {
				if _, builtIn := onboarding.DefaultTemplate(ref.Name); !builtIn {
					errs = append(errs, validate.Field("steps["+ref.Step+"]."+ref.Field, "template %q is not a template of the community", ref.Name))
					continue
				}
				have = []string{""} // made with its fallback text when first sent
			}
			if missing := missingLocales(g.Locales, have); len(missing) > 0 {
				errs = append(errs, validate.Field("steps["+ref.Step+"]."+ref.Field, "template %q has no variant for locale %s, which the definition promises",
					ref.Name, strings.Join(missing, ", ")))
			}
		}
	}
	if refs := g.Segments(); len(refs) > 0 {
		res, err := h.opts.Segments.ListSegments(ctx, connect.NewRequest(&membersv1.ListSegmentsRequest{Community: community}))
		if err != nil {
			return fmt.Errorf("list the community's segments: %w", err)
		}
		saved := map[string]bool{}
		for _, s := range res.Msg.GetSegments() {
			saved[s.GetId()] = true
		}
		for _, ref := range refs {
			if !saved[ref.Segment] {
				errs = append(errs, validate.Field("steps["+ref.Step+"].if.segment", "is not a saved segment of the community"))
			}
		}
	}
	return errs.Err()
}

// missingLocales are the locales of want that none of have serves: a
// variant of the locale or of its language ("fr" serves "fr-CA").
func missingLocales(want, have []string) []string {
	var out []string
	for _, w := range want {
		tag, err := language.Parse(w)
		if err != nil {
			out = append(out, w)
			continue
		}
		base, _ := tag.Base()
		served := false
		for _, h := range have {
			if h != "" && (strings.EqualFold(h, tag.String()) || strings.EqualFold(h, base.String())) {
				served = true
			}
		}
		if !served {
			out = append(out, w)
		}
	}
	return out
}

// PublishDefinition makes a saved version current.
func (h *Handler) PublishDefinition(ctx context.Context, req *connect.Request[journeysv1.PublishDefinitionRequest]) (*connect.Response[journeysv1.PublishDefinitionResponse], error) {
	m := req.Msg
	if _, err := h.temporal(m.GetCommunity()); err != nil {
		return nil, err
	}
	kind, err := definitionKind(m.GetKind())
	if err != nil {
		return nil, err
	}
	if m.GetVersion() < 1 {
		return nil, rpc.InvalidArgument(validate.Field("version", "must name a saved version"))
	}
	v, err := h.opts.Store.Publish(ctx, m.GetCommunity(), kind, int(m.GetVersion()))
	if err != nil {
		return nil, h.storeError(ctx, req.Spec().Procedure, err)
	}
	h.opts.Logger.InfoContext(ctx, "journey definition published", "community", m.GetCommunity(), "kind", kind, "version", v.Version)
	return connect.NewResponse(&journeysv1.PublishDefinitionResponse{Definition: versionProto(v)}), nil
}

// ListDefinitionVersions pages through the saved versions, newest first.
func (h *Handler) ListDefinitionVersions(ctx context.Context, req *connect.Request[journeysv1.ListDefinitionVersionsRequest]) (*connect.Response[journeysv1.ListDefinitionVersionsResponse], error) {
	m := req.Msg
	if _, err := h.temporal(m.GetCommunity()); err != nil {
		return nil, err
	}
	kind, err := definitionKind(m.GetKind())
	if err != nil {
		return nil, err
	}
	size, err := rpc.PageSize(m.GetPageSize())
	if err != nil {
		return nil, rpc.InvalidArgument(err)
	}
	before := 0
	if m.GetPageToken() != "" {
		last, err := rpc.DecodePageToken(m.GetCommunity(), m.GetPageToken())
		if err != nil {
			return nil, rpc.InvalidArgument(err)
		}
		if before, err = strconv.Atoi(last); err != nil || before < 1 {
			return nil, rpc.InvalidArgument(validate.Field("page_token", "is not a token this API issued"))
		}
	}
	versions, err := h.opts.Store.List(ctx, m.GetCommunity(), kind, before, size+1)
	if err != nil {
		return nil, h.storeError(ctx, req.Spec().Procedure, err)
	}
	res := &journeysv1.ListDefinitionVersionsResponse{}
	if len(versions) > size {
		versions = versions[:size]
		res.NextPageToken = rpc.EncodePageToken(m.GetCommunity(), strconv.Itoa(versions[size-1].Version))
	}
	for _, v := range versions {
		res.Versions = append(res.Versions, versionProto(v))
	}
	return connect.NewResponse(res), nil
}

// DiffDefinitions compares two versions setting by setting.
func (h *Handler) DiffDefinitions(ctx context.Context, req *connect.Request[journeysv1.DiffDefinitionsRequest]) (*connect.Response[journeysv1.DiffDefinitionsResponse], error) {
	m := req.Msg
	if _, err := h.temporal(m.GetCommunity()); err != nil {
		return nil, err
	}
	kind, err := definitionKind(m.GetKind())
	if err != nil {
		return nil, err
	}
	if m.GetFromVersion() < 1 {
		return nil, rpc.InvalidArgument(validate.Field("from_version", "must name a saved version"))
	}
	if err := requireVersion("to_version", m.GetToVersion()); err != nil {
		return nil, err
	}
	from, err := h.opts.Store.Get(ctx, m.GetCommunity(), kind, int(m.GetFromVersion()))
	if err != nil {
		return nil, h.storeError(ctx, req.Spec().Procedure, err)
	}
	to, err := h.opts.Store.Get(ctx, m.GetCommunity(), kind, int(m.GetToVersion()))
	if err != nil {
		return nil, h.storeError(ctx, req.Spec().Procedure, err)
	}
	changes, err := definitions.Diff(from.Document, to.Document)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec().Procedure, err)
	}
	res := &journeysv1.DiffDefinitionsResponse{FromVersion: int32(from.Version), ToVersion: int32(to.Version)}
	for _, c := range changes {
		res.Changes = append(res.Changes, &journeysv1.DefinitionChange{Path: c.Path, Change: c.Kind, Before: c.Before, After: c.After})
	}
	return connect.NewResponse(res), nil
}
