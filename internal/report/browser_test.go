package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/shipshape-dev/shipshape/internal/cli"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// EnvArtifacts names a directory where the browser tests keep their
// screenshots; by default they go to a temporary directory that the test
// removes (its path is logged either way).
const EnvArtifacts = "SHIPSHAPE_TEST_ARTIFACTS"

// demoRef is the README's demo image, scanned through the real pipeline.
const demoRef = "docker-archive:../../testdata/demo/demo.tar"

// scanDemo runs `shipshape scan -f FORMAT` on the demo image with empty
// cache and database directories, so that nothing on this machine changes
// the result.
func scanDemo(t *testing.T, format string) []byte {
	t.Helper()
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), []string{"scan", "--no-cache", "-q",
		"--cache-dir", filepath.Join(dir, "cache"), "--db-dir", filepath.Join(dir, "db"),
		"-f", format, demoRef}, nil, &out, &errb)
	if code != 0 {
		t.Fatalf("scan -f %s: exit %d: %s", format, code, errb.String())
	}
	return out.Bytes()
}

// demoPage is the demo's HTML page, made from its JSON report with the
// volatile fields (scan time, tool version) fixed.
func demoPage(t *testing.T) []byte {
	var r scorecard.Report
	if err := json.Unmarshal(scanDemo(t, "json"), &r); err != nil {
		t.Fatal(err)
	}
	r.CreatedAt = time.Date(2026, 5, 4, 3, 2, 1, 0, time.UTC)
	r.Tool.Version = "test"
	return renderHTML(t, &r)
}

var scanned = regexp.MustCompile(`(<dt>scanned</dt><dd>)[^<]*|(content=")shipshape [^"]*|(<footer><p>)shipshape [^·]*`)

// TestScanFormatHTML: `scan -f html` writes the same page as the JSON
// report of the same scan rendered to HTML, apart from the scan time and
// the version.
func TestScanFormatHTML(t *testing.T) {
	direct := scanned.ReplaceAll(scanDemo(t, "html"), []byte("$1$2$3X"))
	viaJSON := scanned.ReplaceAll(demoPage(t), []byte("$1$2$3X"))
	if !bytes.Equal(direct, viaJSON) {
		t.Errorf("scan -f html differs from the page of its JSON report")
	}
	if !bytes.HasPrefix(direct, []byte("<!DOCTYPE html>")) || !bytes.Contains(direct, []byte(`aria-label="overall grade F"`)) {
		t.Errorf("not the report page:\n%.300s", direct)
	}
}

// loaded is what a page did while it loaded.
type loaded struct {
	ctx context.Context
	url string

	mu       sync.Mutex // the listener runs on chromedp's goroutine
	requests []string   // every request but the page itself
	console  []string   // errors and warnings: console, exceptions, browser log
}

type browser struct {
	ctx context.Context
}

// startBrowser starts headless Chromium (Debian's chromium package); a
// missing browser skips, or fails under SHIPSHAPE_REQUIRE_INTEGRATION.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	exe := testenv.Binary(t, "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("font-render-hinting", "none"),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses its sandbox as root
	}
	// A bound for a hung browser, not a timing assertion.
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	if err := chromedp.Do(bctx); err != nil {
		testenv.Require(t, "chromium", fmt.Errorf("start %s: %w", exe, err))
	}
	return &browser{ctx: bctx}
}

// open loads page from a file in a new tab of width × 900 pixels, with
// JavaScript on or off, and records the requests and console messages.
func (b *browser) open(t *testing.T, html []byte, width int64, js bool) *loaded {
	t.Helper()
	path := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(path, html, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := chromedp.NewContext(b.ctx)
	t.Cleanup(cancel)
	l := &loaded{ctx: ctx, url: "file://" + path}
	err := chromedp.Listen(ctx, func(ev any) {
		l.mu.Lock()
		defer l.mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			if e.Request.URL != l.url {
				l.requests = append(l.requests, e.Request.URL)
			}
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				l.console = append(l.console, fmt.Sprintf("console.%s: %s", e.Type, strings.Join(args, " ")))
			}
		case *runtime.EventExceptionThrown:
			l.console = append(l.console, "exception: "+e.ExceptionDetails.Text)
		case *cdplog.EventEntryAdded:
			// The browser's own log: errors (a Content-Security-Policy
			// violation, a failed load); its warnings are about the
			// browser, not the page.
			if e.Entry.Level == cdplog.EntryLevelError || e.Entry.Source == cdplog.EntrySourceSecurity {
				l.console = append(l.console, fmt.Sprintf("log %s %s: %s", e.Entry.Source, e.Entry.Level, e.Entry.Text))
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: !js})
			return err
		}),
		chromedp.EmulateViewport(width, 900),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			// A tab in the background does not paint.
			_, err := chromedp.Call(ctx, page.BringToFront, cdp.Empty{})
			return err
		}),
		chromedp.Navigate(l.url),
	); err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	return l
}

// check asserts what every load must satisfy: no request beyond the page,
// no console error or warning (a Content-Security-Policy violation is one).
func (l *loaded) check(t *testing.T) {
	t.Helper()
	requests, console := l.problems(t)
	if len(requests) > 0 {
		t.Errorf("the page requested %d URLs: %q", len(requests), requests)
	}
	if len(console) > 0 {
		t.Errorf("console errors or warnings: %q", console)
	}
}

// problems returns the requests and console messages recorded so far.
func (l *loaded) problems(t *testing.T) (requests, console []string) {
	t.Helper()
	// Events arrive on another goroutine: a round trip lets those queued
	// before it be handled.
	if _, err := chromedp.Run(l.ctx, chromedp.Evaluate[int]("1")); err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.requests), slices.Clone(l.console)
}

func eval[T any](t *testing.T, l *loaded, expr string) T {
	t.Helper()
	v, err := chromedp.Run(l.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// screenshot saves a full-page PNG of the tab at width and logs its path.
func screenshot(t *testing.T, l *loaded, name string, width int64) {
	t.Helper()
	if err := chromedp.Do(l.ctx, chromedp.EmulateViewport(width, 900)); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(l.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := os.Getenv(EnvArtifacts)
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%d bytes)", p, len(png))
}

// firstPaint logs the first contentful paint and the load time the page's
// own Performance API measured. They are logged, never asserted: the
// machine's load decides them.
func firstPaint(t *testing.T, l *loaded, what string, weight int) {
	t.Helper()
	// The paint may come after the load event: wait for it (5 s at most;
	// -1 when the page never painted).
	fcp, err := chromedp.Run(l.ctx, chromedp.Evaluate[float64](`new Promise(resolve => {
		new PerformanceObserver(list => {
			for (const e of list.getEntries()) if (e.name === "first-contentful-paint") resolve(e.startTime);
		}).observe({type: "paint", buffered: true});
		setTimeout(() => resolve(-1), 5000);
	})`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	load := eval[float64](t, l, `performance.getEntriesByType("navigation")[0].loadEventEnd`)
	t.Logf("%s: %d bytes (%.1f KiB); first contentful paint %.0f ms, load %.0f ms (target < 1000 ms, not asserted)", what, weight, float64(weight)/1024, fcp, load)
}

func TestHTMLInChromium(t *testing.T) {
	b := startBrowser(t)

	t.Run("demo", func(t *testing.T) {
		page := demoPage(t)
		if len(page) >= maxPageBytes {
			t.Errorf("page weighs %d bytes, want < %d", len(page), maxPageBytes)
		}
		l := b.open(t, page, 1440, true)
		firstPaint(t, l, "demo", len(page))
		l.check(t)
		text := eval[string](t, l, "document.body.innerText")
		golden(t, "html/demo.txt", []byte(text))
		screenshot(t, l, "demo-1440", 1440)
		screenshot(t, l, "demo-360", 360)
		// Nothing is wider than a 360 px screen: wide tables scroll in
		// their own box.
		if w := eval[int](t, l, "document.documentElement.scrollWidth"); w > 360 {
			t.Errorf("at 360 px the page is %d px wide", w)
		}
		// Dark mode follows the system's preference.
		if err := chromedp.Do(l.ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
			return err
		})); err != nil {
			t.Fatal(err)
		}
		if bg := eval[string](t, l, "getComputedStyle(document.body).backgroundColor"); bg != "rgb(13, 17, 23)" {
			t.Errorf("dark mode background %s", bg)
		}
		screenshot(t, l, "demo-dark-1440", 1440)
		l.check(t)
	})

	t.Run("demo without JavaScript", func(t *testing.T) {
		page := demoPage(t)
		l := b.open(t, page, 1440, false)
		l.check(t)
		if eval[bool](t, l, `document.documentElement.classList.length > 0 || document.querySelector("button.sort") !== null`) {
			t.Error("the script ran")
		}
		text := eval[string](t, l, "document.body.innerText")
		for _, want := range []string{"Grade F", "/app/build-cache.bin", "removed in layer 3, still recoverable from layer 2", "ghp_…gH8j", "Bytes per layer"} {
			if !strings.Contains(text, want) {
				t.Errorf("without JavaScript the page lacks %q", want)
			}
		}
		screenshot(t, l, "demo-nojs-360", 360)
	})

	t.Run("large", func(t *testing.T) {
		r := largeReport(1000, 200)
		page := renderHTML(t, r)
		if len(page) >= maxPageBytes {
			t.Errorf("page weighs %d bytes, want < %d", len(page), maxPageBytes)
		}
		l := b.open(t, page, 1440, true)
		firstPaint(t, l, "1,000 packages, 200 vulnerabilities", len(page))
		l.check(t)

		text := eval[string](t, l, "document.body.innerText")
		for _, want := range []string{"vendored SDK, replaced in Q3", "clamped to /etc/shadow", "Slim: before and after", "2.0 GiB · 48211 files", "Packages per ecosystem"} {
			if !strings.Contains(text, want) {
				t.Errorf("the page lacks %q", want)
			}
		}
		visible := `[...document.querySelectorAll("#P5-table tbody tr")].filter(r => !r.hidden).length`
		if n := eval[int](t, l, visible); n != 200 {
			t.Fatalf("%d vulnerability rows, want 200", n)
		}
		// The filter box narrows the table to the rows that contain every
		// term; the expected rows are counted from the report itself.
		count := map[string]int{}
		firstID := map[string]string{}
		var name string
		for _, f := range r.Findings {
			if f.Practice == scorecard.P5 && strings.HasPrefix(f.Package.Name, "npm-") {
				count[f.Package.Name]++
				if firstID[f.Package.Name] == "" {
					firstID[f.Package.Name] = f.Evidence["id"].(string)
				}
				if count[f.Package.Name] == 2 && name == "" {
					name = f.Package.Name
				}
			}
		}
		if name == "" {
			t.Fatal("fixture: no npm package with two vulnerabilities")
		}
		// Case does not matter.
		if err := chromedp.Do(l.ctx, chromedp.SendKeys("#P5-filter", strings.ToUpper(name))); err != nil {
			t.Fatal(err)
		}
		if n := eval[int](t, l, visible); n != count[name] {
			t.Errorf("filter %s: %d rows shown, want %d", name, n, count[name])
		}
		if got := eval[string](t, l, `document.getElementById("P5-count").textContent`); got != fmt.Sprintf("%d of 200 shown", count[name]) {
			t.Errorf("filter count says %q", got)
		}
		// Every term must match: the package and one advisory id.
		if err := chromedp.Do(l.ctx, chromedp.SendKeys("#P5-filter", " "+firstID[name])); err != nil {
			t.Fatal(err)
		}
		if n := eval[int](t, l, visible); n != 1 {
			t.Errorf("filter %s %s: %d rows shown, want 1", name, firstID[name], n)
		}
		clearFilter(t, l, "P5-filter")
		if n := eval[int](t, l, visible); n != 200 {
			t.Errorf("cleared filter: %d rows shown", n)
		}

		// Sorting: by package (ascending), then by severity (most severe
		// first), then back to priority.
		column := func(i int) []string {
			return eval[[]string](t, l, fmt.Sprintf(`[...document.querySelectorAll("#P5-table tbody tr")].map(r => r.cells[%d].textContent.trim())`, i))
		}
		if p := column(0); p[0] != "1" || p[1] != "2" {
			t.Errorf("not in priority order at first: %q", p[:2])
		}
		click := func(label string) {
			t.Helper()
			if err := chromedp.Do(l.ctx, chromedp.Click(`#P5-table thead th:nth-child(`+label+`) button`)); err != nil {
				t.Fatalf("click header %s: %v", label, err)
			}
		}
		click("5")
		pk := column(4)
		for i := 1; i < len(pk); i++ {
			if strings.Compare(packageName(pk[i-1]), packageName(pk[i])) > 0 {
				t.Fatalf("package column not sorted at row %d: %q > %q", i, pk[i-1], pk[i])
			}
		}
		click("3")
		sev := column(2)
		rank := map[string]int{"critical": 4, "high": 3, "medium": 2, "low": 1}
		for i := 1; i < len(sev); i++ {
			if rank[sev[i-1]] < rank[sev[i]] {
				t.Fatalf("severity column not most severe first at row %d: %q then %q", i, sev[i-1], sev[i])
			}
		}
		if got := eval[string](t, l, `document.querySelector("#P5-table thead th:nth-child(3)").getAttribute("aria-sort")`); got != "descending" {
			t.Errorf("aria-sort %q", got)
		}

		// The inventory filter opens the ecosystem that matches.
		if err := chromedp.Do(l.ctx, chromedp.SendKeys("#P4-filter", "pypi-lib-042")); err != nil {
			t.Fatal(err)
		}
		if got := eval[[]string](t, l, `[...document.querySelectorAll("table.inv tbody tr")].filter(r => !r.hidden).map(r => r.cells[0].textContent)`); len(got) != 1 || got[0] != "pypi-lib-042" {
			t.Errorf("inventory filter shows %q", got)
		}
		if !eval[bool](t, l, `document.getElementById("P4-PyPI").open`) {
			t.Error("the matching ecosystem stayed closed")
		}
		clearFilter(t, l, "P4-filter")
		if n := eval[int](t, l, `document.querySelectorAll("details.eco[open]").length`); n != 0 {
			t.Errorf("clearing the filter left %d ecosystems open", n)
		}
		screenshot(t, l, "large-1440", 1440)
		screenshot(t, l, "large-360", 360)
		if w := eval[int](t, l, "document.documentElement.scrollWidth"); w > 360 {
			t.Errorf("at 360 px the page is %d px wide", w)
		}
		l.check(t)
	})

	// The checks above can fail: a page that loads an image and runs a
	// script of its own is caught.
	t.Run("negative control", func(t *testing.T) {
		page := bytes.Replace(demoPage(t), []byte("</body>"), []byte(`<img src="http://127.0.0.1:9/tracker.png" alt=""><script>console.error("injected")</script></body>`), 1)
		l := b.open(t, page, 1440, true)
		requests, console := l.problems(t)
		if len(requests)+len(console) == 0 {
			t.Fatal("an external image and an inline script went unnoticed")
		}
		t.Logf("caught: requests %q, console %q", requests, console)
	})

	t.Run("print", func(t *testing.T) {
		// Printed, without JavaScript: the closed inventory is laid out and
		// the filter box is not.
		l := b.open(t, renderHTML(t, largeReport(1000, 200)), 1440, false)
		if err := chromedp.Do(l.ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"})
			return err
		})); err != nil {
			t.Fatal(err)
		}
		if h := eval[float64](t, l, `document.querySelector("table.inv tbody tr").getBoundingClientRect().height`); h <= 0 {
			t.Error("printed, the inventory in a closed <details> is not laid out")
		}
		if d := eval[string](t, l, `getComputedStyle(document.querySelector("[data-tools]")).display`); d != "none" {
			t.Errorf("printed, the filter box is shown (display %s)", d)
		}
		screenshot(t, l, "large-print", 800)
		pdf, err := chromedp.Run(l.ctx, chromedp.PrintToPDF())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(pdf, []byte("%PDF")) {
			t.Fatalf("not a PDF: %.20q", pdf)
		}
		t.Logf("printed: %d bytes of PDF", len(pdf))
		l.check(t)
	})
}

func clearFilter(t *testing.T, l *loaded, id string) {
	t.Helper()
	if !eval[bool](t, l, `(() => { const i = document.getElementById("`+id+`"); i.value = ""; return i.dispatchEvent(new Event("input")); })()`) {
		t.Fatalf("clear %s", id)
	}
}

// packageName is the package cell's first line (its name, without the
// ecosystem shown under it).
func packageName(cell string) string {
	name, _, _ := strings.Cut(cell, "\n")
	return strings.TrimSpace(strings.TrimSuffix(name, "(declared)"))
}

// golden compares got with testdata/NAME, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/report -run HTML -update)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs from the page's text (run go test ./internal/report -run HTML -update and review the diff):\n%s", p, got)
	}
}
