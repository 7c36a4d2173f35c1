package pages

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
)

// Form is what a person typed and what the API said about it: on an
// error the form is shown again with every value kept and each message
// next to the field it names.
type Form struct {
	Values url.Values
	// Errors by field name, as the API names fields.
	Errors map[string]string
	// Order of Errors, for the summary.
	Fields []string
	// Problem is an error that names no field.
	Problem string
}

func newForm(v url.Values) *Form {
	if v == nil {
		v = url.Values{}
	}
	return &Form{Values: v, Errors: map[string]string{}}
}

// Value returns the value typed for name.
func (f *Form) Value(name string) string {
	if f == nil {
		return ""
	}
	return f.Values.Get(name)
}

// Checked reports whether value is among those sent for name.
func (f *Form) Checked(name, value string) bool {
	if f == nil {
		return false
	}
	return slices.Contains(f.Values[name], value)
}

// Err returns the message for name.
func (f *Form) Err(name string) string {
	if f == nil {
		return ""
	}
	return f.Errors[name]
}

// Failed reports whether anything is wrong.
func (f *Form) Failed() bool { return f != nil && (len(f.Errors) > 0 || f.Problem != "") }

// Set records a message for a field (the console's own checks).
func (f *Form) Set(field, msg string) {
	if _, ok := f.Errors[field]; !ok {
		f.Fields = append(f.Fields, field)
	}
	f.Errors[field] = msg
}

// Field is one labelled input, for the "field" template.
type Field struct {
	Name, Label, Type, Value, Error, Hint string
	Required                              bool
}

// fld describes an input of form f: name, label, type ("text", "email",
// "textarea", "datetime-local", ...) and an optional hint; a label ending
// in " *" marks it required.
func fld(f *Form, name, label, typ string, hint ...string) Field {
	x := Field{Name: name, Label: label, Type: typ, Value: f.Value(name), Error: f.Err(name)}
	if strings.HasSuffix(label, " *") {
		x.Label, x.Required = strings.TrimSuffix(label, " *"), true
	}
	if len(hint) > 0 {
		x.Hint = hint[0]
	}
	return x
}

// apply turns an API error into messages on the form. aliases map the
// API's field names to the form's where they differ.
func (f *Form) apply(err error, aliases map[string]string) {
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		f.Problem = "The request failed. Try again."
		return
	}
	if cerr.Code() == connect.CodeInvalidArgument {
		found := false
		for _, d := range cerr.Details() {
			v, derr := d.Value()
			if derr != nil {
				continue
			}
			br, ok := v.(*errdetails.BadRequest)
			if !ok {
				continue
			}
			for _, fv := range br.GetFieldViolations() {
				name := fv.GetField()
				if a, ok := aliases[name]; ok {
					name = a
				}
				f.Set(name, fv.GetDescription())
				found = true
			}
		}
		if found {
			return
		}
	}
	f.Problem = apiMessage(cerr)
}

// apiMessage says in a sentence what an API error means to a person.
func apiMessage(cerr *connect.Error) string {
	switch cerr.Code() {
	case connect.CodePermissionDenied:
		return "Your role does not allow this."
	case connect.CodeUnauthenticated:
		return "Your session has ended: sign in again."
	case connect.CodeNotFound:
		return "It no longer exists, or never did."
	case connect.CodeUnavailable, connect.CodeDeadlineExceeded:
		return "A service is not answering right now. Your input is kept: try again in a moment."
	case connect.CodeInternal, connect.CodeUnknown:
		return "Something went wrong on the server. Your input is kept: try again."
	}
	if m := cerr.Message(); m != "" {
		return sentence(m)
	}
	return "The request was refused."
}

func sentence(m string) string {
	m = strings.TrimSpace(m)
	if m == "" {
		return m
	}
	m = strings.ToUpper(m[:1]) + m[1:]
	if !strings.HasSuffix(m, ".") {
		m += "."
	}
	return m
}

// apiFailed writes the page for an API error outside a form.
func (s *Server) apiFailed(w http.ResponseWriter, r *http.Request, c *call, err error) {
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		s.opts.Logger.ErrorContext(r.Context(), "console: api call failed", "error", err)
		s.problem(w, r, c, http.StatusBadGateway, "A service is not answering right now. Try again in a moment.")
		return
	}
	status := http.StatusBadGateway
	switch cerr.Code() {
	case connect.CodeNotFound:
		status = http.StatusNotFound
	case connect.CodePermissionDenied:
		status = http.StatusForbidden
	case connect.CodeInvalidArgument, connect.CodeFailedPrecondition, connect.CodeAlreadyExists:
		status = http.StatusBadRequest
	case connect.CodeUnauthenticated:
		s.needSignIn(w, r)
		return
	}
	if status == http.StatusBadGateway {
		s.opts.Logger.WarnContext(r.Context(), "console: api call failed", "code", cerr.Code().String())
	}
	s.problem(w, r, c, status, apiMessage(cerr))
}

// parseForm reads a posted form; a body over the route's limit is refused.
func parseForm(r *http.Request) (url.Values, error) {
	if err := r.ParseForm(); err != nil {
		return nil, err
	}
	return r.PostForm, nil
}

// seeOther redirects after a successful post (post/redirect/get), naming
// a notice.
func seeOther(w http.ResponseWriter, r *http.Request, path, notice string) {
	if notice != "" {
		base, frag, _ := strings.Cut(path, "#")
		sep := "?"
		if strings.Contains(base, "?") {
			sep = "&"
		}
		path = base + sep + "notice=" + url.QueryEscape(notice)
		if frag != "" {
			path += "#" + frag
		}
	}
	if r.Header.Get("HX-Request") != "" {
		w.Header().Set("HX-Redirect", path)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// splitTags reads a comma- or semicolon-separated list.
func splitTags(s string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == '\n' }) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
