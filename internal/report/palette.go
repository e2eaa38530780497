package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// theme is the HTML report's colour palette for one colour scheme. Every
// foreground colour is used as text (and as bar fill) on both bg and
// surface, so each must reach a WCAG 2 contrast ratio of 4.5:1 against
// both; palette_test.go checks it.
type theme struct {
	BG, Surface, Border string
	FG, Muted, Accent   string
	Pass, Warn, Fail    string
	NotRun              string
	Critical, High      string
	Medium, Low, Info   string
}

var (
	lightTheme = theme{
		BG: "#ffffff", Surface: "#f6f8fa", Border: "#d1d9e0",
		FG: "#1f2328", Muted: "#59636e", Accent: "#0969da",
		Pass: "#1a7f37", Warn: "#9a6700", Fail: "#cf222e", NotRun: "#59636e",
		Critical: "#8e1b6b", High: "#c4201c", Medium: "#8a5a00", Low: "#0b62c4", Info: "#59636e",
	}
	darkTheme = theme{
		BG: "#0d1117", Surface: "#161b22", Border: "#3d444d",
		FG: "#e6edf3", Muted: "#9198a1", Accent: "#6cb6ff",
		Pass: "#3fb950", Warn: "#d29922", Fail: "#ff7b72", NotRun: "#9198a1",
		Critical: "#f09be0", High: "#ff8e86", Medium: "#e3b341", Low: "#6cb6ff", Info: "#9198a1",
	}
)

// foregrounds names the theme's text colours, for the CSS variables and the
// contrast test.
func (t theme) foregrounds() []struct{ Name, Color string } {
	return []struct{ Name, Color string }{
		{"fg", t.FG}, {"muted", t.Muted}, {"accent", t.Accent},
		{"pass", t.Pass}, {"warn", t.Warn}, {"fail", t.Fail}, {"not-run", t.NotRun},
		{"critical", t.Critical}, {"high", t.High}, {"medium", t.Medium}, {"low", t.Low}, {"info", t.Info},
	}
}

// vars writes the theme as CSS custom properties (--bg, --fg, --pass, …).
func (t theme) vars() string {
	var b strings.Builder
	fmt.Fprintf(&b, "--bg:%s;--surface:%s;--border:%s;", t.BG, t.Surface, t.Border)
	for _, f := range t.foregrounds() {
		fmt.Fprintf(&b, "--%s:%s;", f.Name, f.Color)
	}
	return b.String()
}

// contrast is the WCAG 2 contrast ratio of two "#rrggbb" colours, from 1
// to 21.
func contrast(a, b string) (float64, error) {
	la, err := luminance(a)
	if err != nil {
		return 0, err
	}
	lb, err := luminance(b)
	if err != nil {
		return 0, err
	}
	return (math.Max(la, lb) + 0.05) / (math.Min(la, lb) + 0.05), nil
}

// luminance is the WCAG 2 relative luminance of a "#rrggbb" colour.
func luminance(hex string) (float64, error) {
	if len(hex) != 7 || hex[0] != '#' {
		return 0, fmt.Errorf("colour %q: want #rrggbb", hex)
	}
	v, err := strconv.ParseUint(hex[1:], 16, 32)
	if err != nil {
		return 0, fmt.Errorf("colour %q: %w", hex, err)
	}
	lin := func(c uint64) float64 {
		s := float64(c) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(v>>16&0xff) + 0.7152*lin(v>>8&0xff) + 0.0722*lin(v&0xff), nil
}
