package browsertest

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

//go:embed testdata/axe.min.js
var axeSource string

// chromiumPath finds Debian's chromium (the binary, not the wrapper
// script); KINSHIP_CHROMIUM names another.
func chromiumPath() string {
	for _, p := range []string{os.Getenv("KINSHIP_CHROMIUM"), "/usr/lib/chromium/chromium", "/usr/bin/chromium"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	return ""
}

// needChromium skips (with a notice) or, under KINSHIP_TEST_BROWSER=require,
// fails when no browser is installed.
func needChromium(t *testing.T) string {
	t.Helper()
	p := chromiumPath()
	if p != "" {
		return p
	}
	msg := "headless Chromium is not installed: apt-get install chromium (Debian) to run the console's browser tests"
	if os.Getenv("KINSHIP_TEST_BROWSER") == "require" {
		t.Fatal(msg)
	}
	t.Skip(msg + " (KINSHIP_TEST_BROWSER=require makes this a failure)")
	return ""
}

// newBrowser starts one headless browser for the whole test.
func newBrowser(t *testing.T, execPath string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(execPath), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.WindowSize(1280, 900),
		chromedp.Flag("lang", "en-GB"))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // start it now
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// person is one signed-in person's browser window: a browser context of
// its own, so each has its own cookies.
type person struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots string
}

func (b *person) run(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		loc, _ := chromedp.Run(b.ctx, chromedp.Location())
		body, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 2000) : ""`))
		b.t.Fatalf("browser at %s: %v\npage text:\n%s", loc, err, body)
	}
}

// open navigates to a console path and waits for its main landmark.
func (b *person) open(path string) {
	b.t.Helper()
	b.run(chromedp.Navigate(b.base+path), chromedp.WaitVisible(chromedp.CSS("main h1")))
}

// waitText waits until a fully loaded page shows text, across navigations
// (a form that redirects, an htmx swap): a click right after it must not
// find a half-parsed document that is about to be replaced.
func (b *person) waitText(text string) {
	b.t.Helper()
	q, _ := json.Marshal(text)
	expr := fmt.Sprintf(`document.readyState === "complete" && !!document.body && document.body.innerText.includes(%s)`, q)
	deadline := time.Now().Add(90 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		found, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && found {
			return
		}
		if time.Now().After(deadline) {
			ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
			body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 3000) : ""`))
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			cancel()
			b.t.Fatalf("%q never appeared at %s (last error %v)\npage text:\n%s", text, loc, err, body)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

func (b *person) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("read %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// attr reads an attribute of the first element sel finds.
func (b *person) attr(sel, name string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	r, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
	if err != nil || !r.Exists {
		b.t.Fatalf("read %s of %s: %v (exists %v)", name, sel, err, r.Exists)
	}
	return r.Value
}

func (b *person) location() string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	return loc
}

// check runs axe-core on the page and fails on serious or critical
// violations; with a name it also saves a screenshot for the docs.
func (b *person) check(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](axeSource)); err != nil {
		b.t.Fatalf("inject axe: %v", err)
	}
	found, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`axe.run(document, {resultTypes: ["violations"]}).then(r =>
		r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
		 .map(v => v.impact + " " + v.id + ": " + v.help + " — " + v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", ")))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("run axe: %v", err)
	}
	if len(found) > 0 {
		b.t.Errorf("accessibility violations on %s:\n  %s", b.location(), strings.Join(found, "\n  "))
	}
	if name == "" || b.shots == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}
