package smtpsink

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"strings"
)

// readBodies returns the text and HTML bodies of a single-part or
// multipart message.
func readBodies(contentType, encoding string, body io.Reader) (text, html string) {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil || !strings.HasPrefix(mediaType, "multipart/") {
		raw, _ := io.ReadAll(body)
		decoded := decodeBody(encoding, raw)
		if mediaType == "text/html" {
			return "", decoded
		}
		return decoded, ""
	}
	mr := multipart.NewReader(body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err != nil {
			return text, html
		}
		t, h := readBodies(part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part)
		if text == "" {
			text = t
		}
		if html == "" {
			html = h
		}
	}
}

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
