package domain

import (
	"fmt"
	"strconv"
	"strings"
	"text/template/parse"
)

// What a template may do. Bodies run for every recipient of an
// announcement, so a template must not be able to keep a core busy, fill
// memory or reach beyond its data: these rules are checked on the parse
// tree when a template is saved (and again whenever one is compiled).
const (
	// MaxRangeNesting bounds ranges inside ranges.
	MaxRangeNesting = 2
	// MaxNesting bounds if, with and range blocks inside each other.
	MaxNesting = 6
	// maxPrintfWidth bounds a printf width or precision: "%0999999999d"
	// would allocate a gigabyte before the output limit could stop it.
	maxPrintfWidth = 100
)

// allowedFuncs are the functions a template may call: text/template's
// builtins that run in time proportional to their input. call, and the
// template, define and block actions, are not allowed.
var allowedFuncs = map[string]bool{
	"and": true, "or": true, "not": true, "len": true, "index": true, "slice": true,
	"eq": true, "ne": true, "lt": true, "le": true, "gt": true, "ge": true,
	"html": true, "js": true, "urlquery": true, "print": true, "println": true, "printf": true,
}

// ruleError is a template breaking one of the rules, at a line.
type ruleError struct {
	line int
	msg  string
}

func (e *ruleError) Error() string { return "line " + strconv.Itoa(e.line) + ": " + e.msg }

// checker walks one parse tree.
type checker struct {
	tree *parse.Tree
	// indexVars are variables that may hold a range's index (a number):
	// ranging over them would range over an integer.
	indexVars map[string]bool
}

// checkTree reports the first rule tree breaks.
func checkTree(tree *parse.Tree) error {
	c := &checker{tree: tree, indexVars: map[string]bool{}}
	return c.list(tree.Root, 0, 0)
}

func (c *checker) fail(n parse.Node, format string, args ...any) error {
	loc, _ := c.tree.ErrorContext(n)
	line := 1
	if parts := strings.Split(loc, ":"); len(parts) >= 2 {
		if n, err := strconv.Atoi(parts[1]); err == nil {
			line = n
		}
	}
	return &ruleError{line: line, msg: fmt.Sprintf(format, args...)}
}

func (c *checker) list(l *parse.ListNode, depth, ranges int) error {
	if l == nil {
		return nil
	}
	for _, n := range l.Nodes {
		if err := c.node(n, depth, ranges); err != nil {
			return err
		}
	}
	return nil
}

func (c *checker) node(n parse.Node, depth, ranges int) error {
	switch n := n.(type) {
	case *parse.TextNode, *parse.CommentNode, *parse.BreakNode, *parse.ContinueNode:
		return nil
	case *parse.ActionNode:
		return c.pipe(n.Pipe)
	case *parse.IfNode:
		return c.branch(n, &n.BranchNode, depth, ranges, false)
	case *parse.WithNode:
		return c.branch(n, &n.BranchNode, depth, ranges, false)
	case *parse.RangeNode:
		return c.branch(n, &n.BranchNode, depth, ranges, true)
	case *parse.TemplateNode:
		return c.fail(n, "{{template}} and {{block}} are not allowed")
	}
	return c.fail(n, "this action is not allowed")
}

func (c *checker) branch(n parse.Node, b *parse.BranchNode, depth, ranges int, isRange bool) error {
	depth++
	if depth > MaxNesting {
		return c.fail(n, "blocks nest deeper than %d (the limit)", MaxNesting)
	}
	if isRange {
		ranges++
		if ranges > MaxRangeNesting {
			return c.fail(n, "ranges nest deeper than %d (the limit)", MaxRangeNesting)
		}
		if !c.chain(b.Pipe) {
			return c.fail(n, "{{range}} must range over a field of the data, such as .Events, not %s (the limit: no range over numbers or computed values)", b.Pipe)
		}
		for i, v := range b.Pipe.Decl {
			// With two variables the first is the index or key.
			if len(b.Pipe.Decl) == 2 && i == 0 {
				c.indexVars[v.Ident[0]] = true
			}
		}
	}
	if err := c.pipe(b.Pipe); err != nil {
		return err
	}
	if err := c.list(b.List, depth, ranges); err != nil {
		return err
	}
	return c.list(b.ElseList, depth, ranges)
}

// chain reports whether p is a field or variable chain of the data (.X.Y,
// $v.X, $, .): the only values a range may iterate or a variable hold.
func (c *checker) chain(p *parse.PipeNode) bool {
	if p == nil || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return false
	}
	arg := p.Cmds[0].Args[0]
	if ch, ok := arg.(*parse.ChainNode); ok {
		arg = ch.Node
	}
	switch a := arg.(type) {
	case *parse.FieldNode, *parse.DotNode:
		return true
	case *parse.VariableNode:
		return len(a.Ident) > 1 || a.Ident[0] == "$" || !c.indexVars[a.Ident[0]]
	}
	return false
}

// pipe checks a pipeline: variables are declared only from chains, and
// only allowed functions are called.
func (c *checker) pipe(p *parse.PipeNode) error {
	if p == nil {
		return nil
	}
	if len(p.Decl) > 0 {
		if !c.chain(p) {
			return c.fail(p, "variables may only hold fields of the data, not %s", p)
		}
	}
	for _, cmd := range p.Cmds {
		if err := c.command(cmd); err != nil {
			return err
		}
	}
	return nil
}

func (c *checker) command(cmd *parse.CommandNode) error {
	for i, arg := range cmd.Args {
		switch a := arg.(type) {
		case *parse.IdentifierNode:
			if !allowedFuncs[a.Ident] {
				return c.fail(a, "function %q is not allowed", a.Ident)
			}
			if a.Ident == "printf" && i == 0 {
				if err := c.printf(cmd); err != nil {
					return err
				}
			}
		case *parse.PipeNode:
			if err := c.pipe(a); err != nil {
				return err
			}
		case *parse.ChainNode:
			if p, ok := a.Node.(*parse.PipeNode); ok {
				if err := c.pipe(p); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// printf needs a literal format without widths or precisions above the
// limit.
func (c *checker) printf(cmd *parse.CommandNode) error {
	if len(cmd.Args) < 2 {
		return c.fail(cmd, "printf needs a literal format")
	}
	format, ok := cmd.Args[1].(*parse.StringNode)
	if !ok {
		return c.fail(cmd, "printf needs a literal format")
	}
	if !safeFormat(format.Text) {
		return c.fail(cmd, "printf widths and precisions are limited to %d and cannot be *", maxPrintfWidth)
	}
	return nil
}

// safeFormat reports whether every verb of format has a width and
// precision of at most maxPrintfWidth, given literally.
func safeFormat(format string) bool {
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		i++
		for i < len(format) && strings.IndexByte("+-# 0", format[i]) >= 0 {
			i++
		}
		for part := 0; part < 2 && i < len(format); part++ {
			if format[i] == '*' || format[i] == '[' {
				return false
			}
			start := i
			for i < len(format) && format[i] >= '0' && format[i] <= '9' {
				i++
			}
			if i > start {
				if n, err := strconv.Atoi(format[start:i]); err != nil || n > maxPrintfWidth {
					return false
				}
			}
			if part == 0 && i < len(format) && format[i] == '.' {
				i++
				continue
			}
			break
		}
	}
	return true
}
