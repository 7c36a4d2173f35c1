package smtpsink

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime/quotedprintable"
	"strings"
)

// decodeBody undoes the transfer encoding of a single-part body.
func decodeBody(encoding string, body []byte) string {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		if b, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body))); err == nil {
			return string(b)
		}
	case "base64":
		clean := strings.Map(func(r rune) rune {
			if r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, string(body))
		if b, err := base64.StdEncoding.DecodeString(clean); err == nil {
			return string(b)
		}
	}
	return string(body)
}
