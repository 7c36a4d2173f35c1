package tracestore

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// WriteText prints t as a waterfall for a terminal: one line per span with
// its start, duration and a bar of width columns, then its log records;
// with attrs set, its attributes too.
func WriteText(w io.Writer, t Trace, width int, attrs bool) error {
	width = max(width, 10)
	var b strings.Builder
	fmt.Fprintf(&b, "trace %s  %s  %s, %d spans", t.TraceID, t.Start.Format("2006-01-02 15:04:05.000"), durationText(t.DurationMS), t.SpanCount)
	if t.Errors > 0 {
		fmt.Fprintf(&b, ", %d failed", t.Errors)
	}
	if t.Community != "" {
		fmt.Fprintf(&b, ", community %s", t.Community)
	}
	b.WriteString("\n\n")
	nameWidth := 0
	for _, s := range t.Spans {
		nameWidth = max(nameWidth, 2*s.Depth+utf8.RuneCountInString(s.Name))
	}
	nameWidth = min(nameWidth, 70)
	for _, s := range t.Spans {
		mark := " "
		if s.Status == "error" {
			mark = "!"
		}
		name := strings.Repeat("  ", s.Depth) + s.Name
		if n := utf8.RuneCountInString(name); n > nameWidth {
			name = string([]rune(name)[:nameWidth-1]) + "…"
		}
		fmt.Fprintf(&b, "%s %-*s  %10s %10s  %s  %s\n", mark, nameWidth, name, "+"+durationText(s.OffsetMS), durationText(s.DurationMS),
			bar(s.OffsetMS, s.DurationMS, t.DurationMS, width), s.Service)
		indent := strings.Repeat(" ", 2+2*s.Depth+2)
		if s.StatusMessage != "" {
			fmt.Fprintf(&b, "%sstatus: %s\n", indent, s.StatusMessage)
		}
		if s.WorkflowURL != "" {
			fmt.Fprintf(&b, "%sworkflow: %s\n", indent, s.WorkflowURL)
		}
		if attrs {
			for _, a := range s.Attributes {
				fmt.Fprintf(&b, "%s%s=%s\n", indent, a.Key, a.Value)
			}
		}
		for _, e := range s.Events {
			fmt.Fprintf(&b, "%sevent %s%s\n", indent, e.Name, pairs(e.Attributes))
		}
		for _, l := range s.Logs {
			fmt.Fprintf(&b, "%s%s %-5s %s%s\n", indent, l.Time.Format("15:04:05.000"), l.Level, l.Message, pairs(l.Attributes))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// bar draws [offset, offset+length) of total in width columns.
func bar(offset, length, total float64, width int) string {
	if total <= 0 {
		return strings.Repeat("█", width)
	}
	from := int(float64(width) * offset / total)
	n := max(1, int(float64(width)*length/total+0.5))
	from = min(from, width-1)
	n = min(n, width-from)
	return strings.Repeat("·", from) + strings.Repeat("█", n) + strings.Repeat("·", width-from-n)
}

func pairs(attrs []Attribute) string {
	var b strings.Builder
	for _, a := range attrs {
		fmt.Fprintf(&b, " %s=%s", a.Key, a.Value)
	}
	return b.String()
}
