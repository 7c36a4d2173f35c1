package definitions

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Change is one setting that differs between two versions.
type Change struct {
	// Path names the setting, such as "steps[welcome].template" or
	// "quotas[0].count"; list items with an id are named by it.
	Path string
	// Kind is ChangeAdded, ChangeRemoved or ChangeChanged.
	Kind string
	// Before and After are the values as JSON; empty where absent.
	Before, After string
}

// Kinds of Change.
const (
	ChangeAdded   = "added"
	ChangeRemoved = "removed"
	ChangeChanged = "changed"
)

// Diff compares two documents setting by setting, in path order. A
// setting present on one side only is added or removed as a whole.
func Diff(before, after string) ([]Change, error) {
	var a, b any
	if err := json.Unmarshal([]byte(before), &a); err != nil {
		return nil, fmt.Errorf("diff: the earlier version is not JSON: %w", err)
	}
	if err := json.Unmarshal([]byte(after), &b); err != nil {
		return nil, fmt.Errorf("diff: the later version is not JSON: %w", err)
	}
	var out []Change
	diffValue("", a, b, &out)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func diffValue(path string, a, b any, out *[]Change) {
	switch {
	case a == nil && b == nil:
		return
	case a == nil:
		*out = append(*out, Change{Path: path, Kind: ChangeAdded, After: encode(b)})
		return
	case b == nil:
		*out = append(*out, Change{Path: path, Kind: ChangeRemoved, Before: encode(a)})
		return
	}
	am, aObj := a.(map[string]any)
	bm, bObj := b.(map[string]any)
	if aObj && bObj {
		for _, k := range keys(am, bm) {
			diffValue(join(path, k), am[k], bm[k], out)
		}
		return
	}
	al, aList := a.([]any)
	bl, bList := b.([]any)
	if aList && bList {
		ak, aok := byID(al)
		bk, bok := byID(bl)
		if aok && bok {
			for _, k := range keys(ak, bk) {
				diffValue(path+"["+k+"]", ak[k], bk[k], out)
			}
			return
		}
		for i := range max(len(al), len(bl)) {
			var x, y any
			if i < len(al) {
				x = al[i]
			}
			if i < len(bl) {
				y = bl[i]
			}
			diffValue(fmt.Sprintf("%s[%d]", path, i), x, y, out)
		}
		return
	}
	if ea, eb := encode(a), encode(b); ea != eb {
		*out = append(*out, Change{Path: path, Kind: ChangeChanged, Before: ea, After: eb})
	}
}

// byID keys a list of objects by their "id", when every item has a
// distinct one.
func byID(list []any) (map[string]any, bool) {
	out := make(map[string]any, len(list))
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, false
		}
		id, ok := m["id"].(string)
		if !ok || id == "" {
			return nil, false
		}
		if _, dup := out[id]; dup {
			return nil, false
		}
		out[id] = item
	}
	return out, true
}

func keys(a, b map[string]any) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range []map[string]any{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func encode(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(string(b))
}
