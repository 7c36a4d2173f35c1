package domain

import (
	"bytes"
	"errors"
	htmltemplate "html/template"
	"io"
	"strings"
	texttemplate "text/template"
	"text/template/parse"
	"time"
)

// The one template runner: every rendering (SaveTemplate's trial,
// PreviewTemplate, every delivery, digests) compiles and runs bodies
// here, with these limits.
const (
	// MaxRenderBytes bounds what one part of a message renders to.
	MaxRenderBytes = 1 << 20
	// RenderTimeLimit bounds rendering one message, all parts together.
	RenderTimeLimit = time.Second
)

// Limit errors; their text names the limit.
var (
	errOutputLimit = errors.New("renders to more than 1 MiB (the limit)")
	errTimeLimit   = errors.New("takes more than 1s to render (the limit)")
)

// deadlineFunc is the function the runner calls at the start of every
// action and every range iteration. Templates cannot call it themselves:
// it is not among the allowed functions.
const deadlineFunc = "kinshipDeadline"

// runState is one rendering's time budget.
type runState struct {
	deadline time.Time
	now      func() time.Time
}

func newRun(now func() time.Time, limit time.Duration) *runState {
	return &runState{deadline: now().Add(limit), now: now}
}

// checkDeadline stops a rendering whose time is up: execution ends with
// the error at the next action or loop iteration, on the goroutine that
// runs it — nothing is left running.
func checkDeadline(data TemplateData) (string, error) {
	if data.run != nil && data.run.now().After(data.run.deadline) {
		return "", errTimeLimit
	}
	return "", nil
}

func templateFuncs() map[string]any { return map[string]any{deadlineFunc: checkDeadline} }

// deadlineAction is {{$kinshipDeadline := kinshipDeadline $}}: a variable
// declaration, so it prints nothing and html/template leaves the context
// of what follows alone.
func deadlineAction() *parse.ActionNode {
	t := texttemplate.Must(texttemplate.New("deadline").Funcs(templateFuncs()).Parse("{{$" + deadlineFunc + " := " + deadlineFunc + " $}}"))
	return t.Tree.Root.Nodes[0].(*parse.ActionNode)
}

// insertDeadlineChecks puts a deadline check before every action of l and
// at the start of every range body below it.
func insertDeadlineChecks(l *parse.ListNode, check *parse.ActionNode, loopBody bool) {
	if l == nil {
		return
	}
	out := make([]parse.Node, 0, 2*len(l.Nodes)+1)
	if loopBody {
		out = append(out, check.Copy())
	}
	for _, n := range l.Nodes {
		switch n := n.(type) {
		case *parse.ActionNode:
			out = append(out, check.Copy())
		case *parse.IfNode:
			insertDeadlineChecks(n.List, check, false)
			insertDeadlineChecks(n.ElseList, check, false)
		case *parse.WithNode:
			insertDeadlineChecks(n.List, check, false)
			insertDeadlineChecks(n.ElseList, check, false)
		case *parse.RangeNode:
			insertDeadlineChecks(n.List, check, true)
			insertDeadlineChecks(n.ElseList, check, false)
		}
		out = append(out, n)
	}
	l.Nodes = out
}

// partError says which part of a variant failed.
type partError struct {
	part string
	err  error
}

func (e *partError) Error() string { return e.part + ": " + e.err.Error() }
func (e *partError) Unwrap() error { return e.err }

// compiledVariant is a variant's parsed, checked and instrumented parts.
type compiledVariant struct {
	subject, text *texttemplate.Template
	html          *htmltemplate.Template // nil without an HTML body
}

func (v Variant) compile() (*compiledVariant, error) {
	check := deadlineAction()
	var cv compiledVariant
	var err error
	if cv.subject, err = compileText("subject", v.Subject, check); err != nil {
		return nil, err
	}
	if cv.text, err = compileText("text_body", v.Text, check); err != nil {
		return nil, err
	}
	if v.HTML != "" {
		if cv.html, err = compileHTML("html_body", v.HTML, check); err != nil {
			return nil, err
		}
	}
	return &cv, nil
}

func compileText(part, src string, check *parse.ActionNode) (*texttemplate.Template, error) {
	t, err := texttemplate.New(part).Funcs(templateFuncs()).Option("missingkey=zero").Parse(src)
	if err != nil {
		return nil, &partError{part, err}
	}
	if err := checkParsed(t.Tree, len(t.Templates())); err != nil {
		return nil, &partError{part, err}
	}
	insertDeadlineChecks(t.Tree.Root, check, false)
	return t, nil
}

func compileHTML(part, src string, check *parse.ActionNode) (*htmltemplate.Template, error) {
	t, err := htmltemplate.New(part).Funcs(templateFuncs()).Option("missingkey=zero").Parse(src)
	if err != nil {
		return nil, &partError{part, err}
	}
	if err := checkParsed(t.Tree, len(t.Templates())); err != nil {
		return nil, &partError{part, err}
	}
	insertDeadlineChecks(t.Tree.Root, check, false)
	return t, nil
}

func checkParsed(tree *parse.Tree, templates int) error {
	switch {
	case tree == nil || tree.Root == nil:
		return &ruleError{line: 1, msg: "is empty"}
	case templates > 1:
		return &ruleError{line: 1, msg: "{{define}} and {{block}} are not allowed"}
	}
	return checkTree(tree)
}

func (v Variant) render(data TemplateData, run *runState) (Rendered, error) {
	cv, err := v.compile()
	if err != nil {
		return Rendered{}, err
	}
	data.run = run
	return cv.render(data)
}

// trial renders v for the sample data, as SaveTemplate does.
func (v Variant) trial() (Rendered, error) {
	return v.render(sampleData(), newRun(time.Now, RenderTimeLimit))
}

func (cv *compiledVariant) render(data TemplateData) (Rendered, error) {
	var r Rendered
	var err error
	if r.Subject, err = execute("subject", cv.subject.Execute, data); err != nil {
		return r, err
	}
	if strings.ContainsAny(r.Subject, "\r\n") {
		return r, &partError{"subject", errors.New("line 1: renders with a line break")}
	}
	if r.Text, err = execute("text_body", cv.text.Execute, data); err != nil {
		return r, err
	}
	if cv.html != nil {
		if r.HTML, err = execute("html_body", cv.html.Execute, data); err != nil {
			return r, err
		}
	}
	return r, nil
}

func execute(part string, exec func(io.Writer, any) error, data TemplateData) (string, error) {
	var buf bytes.Buffer
	err := exec(&limitedBuffer{buf: &buf}, data)
	switch {
	case errors.Is(err, errTimeLimit):
		return "", &partError{part, errTimeLimit}
	case errors.Is(err, errOutputLimit):
		return "", &partError{part, errOutputLimit}
	case err != nil:
		return "", &partError{part, err}
	}
	return buf.String(), nil
}

// limitedBuffer fails the write that would take it past MaxRenderBytes,
// which stops the execution.
type limitedBuffer struct{ buf *bytes.Buffer }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if l.buf.Len()+len(p) > MaxRenderBytes {
		return 0, errOutputLimit
	}
	return l.buf.Write(p)
}
