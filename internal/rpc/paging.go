package rpc

import (
	"encoding/base64"
	"strings"

	"github.com/kinshiphq/kinship/internal/validate"
)

// Page sizes of list calls.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// PageSize is a list call's page size: requested, or DefaultPageSize when
// 0; outside 0..MaxPageSize is an InvalidArgument on page_size.
func PageSize(requested int32) (int, error) {
	switch {
	case requested == 0:
		return DefaultPageSize, nil
	case requested < 0 || requested > MaxPageSize:
		return 0, validate.Field("page_size", "must be between 0 and %d", MaxPageSize)
	}
	return int(requested), nil
}

// EncodePageToken makes the opaque token of the page after last (such as
// the last id of this page) in community, so a token cannot be replayed
// against another community.
func EncodePageToken(community, last string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(community + "/" + last))
}

// DecodePageToken returns where the page of token starts in community;
// "" for the first page. A token that is not one of EncodePageToken's for
// community is an InvalidArgument on page_token.
func DecodePageToken(community, token string) (string, error) {
	if token == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", validate.Field("page_token", "is not a token this API issued")
	}
	c, last, ok := strings.Cut(string(raw), "/")
	if !ok || c != community || last == "" {
		return "", validate.Field("page_token", "is not a token this API issued for this community")
	}
	return last, nil
}
