package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// envFunc reads one environment variable; tests pass a map's lookup.
type envFunc func(string) string

// flags defines command-line flags whose defaults come from the
// environment, so every setting can be given either way.
type flags struct {
	fs  *flag.FlagSet
	env envFunc
}

func newFlags(name string, env envFunc) *flags {
	return &flags{fs: flag.NewFlagSet("kinship "+name, flag.ContinueOnError), env: env}
}

func (f *flags) string(p *string, name, envName, def, help string) {
	if v := f.env(envName); v != "" {
		def = v
	}
	f.fs.StringVar(p, name, def, help+" ($"+envName+")")
}

// secret defines a flag whose value may come from the environment but is
// never shown: -h names the variable, not its content.
func (f *flags) secret(p *string, name, envName, help string) {
	*p = f.env(envName)
	shown := " ($" + envName + ", never printed)"
	f.fs.Func(name, help+shown, func(s string) error {
		*p = s
		return nil
	})
}

func (f *flags) list(p *[]string, name, envName, def, help string) {
	raw := def
	if v := f.env(envName); v != "" {
		raw = v
	}
	*p = splitList(raw)
	f.fs.Func(name, help+", comma-separated ($"+envName+")", func(s string) error {
		*p = splitList(s)
		return nil
	})
}

func (f *flags) bool(p *bool, name, envName string, def bool, help string) error {
	if v := f.env(envName); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("$%s: %q is not true or false", envName, v)
		}
		def = b
	}
	f.fs.BoolVar(p, name, def, help+" ($"+envName+")")
	return nil
}

func (f *flags) duration(p *time.Duration, name, envName string, def time.Duration, help string) error {
	if v := f.env(envName); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("$%s: %w", envName, err)
		}
		def = d
	}
	f.fs.DurationVar(p, name, def, help+" ($"+envName+")")
	return nil
}

func (f *flags) float(p *float64, name, envName string, def float64, help string) error {
	if v := f.env(envName); v != "" {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("$%s: %q is not a number", envName, v)
		}
		def = n
	}
	f.fs.Float64Var(p, name, def, help+" ($"+envName+")")
	return nil
}

func (f *flags) int(p *int, name, envName string, def int, help string) error {
	if v := f.env(envName); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("$%s: %q is not a whole number", envName, v)
		}
		def = n
	}
	f.fs.IntVar(p, name, def, help+" ($"+envName+")")
	return nil
}

func (f *flags) parse(args []string) error {
	if err := f.fs.Parse(args); err != nil {
		return err
	}
	if f.fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", f.fs.Args())
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}
