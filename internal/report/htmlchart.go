package report

import (
	"fmt"
	"html"
	"html/template"
	"strings"

	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// The charts are plain inline SVG: one bar per row of a table, whose text
// cells carry the numbers, so that the chart reads without colour, without
// JavaScript and in print. Bars are drawn on a 1000-unit wide view box that
// stretches to the cell.
const chartWidth = 1000

// bar is one row of a bar chart.
type bar struct {
	Label string
	Value int64
	Text  string
}

// barChart draws one horizontal bar per value, scaled to the largest.
func barChart(title string, bars []bar) template.HTML {
	var top int64
	for _, b := range bars {
		top = max(top, b.Value)
	}
	var s strings.Builder
	fmt.Fprintf(&s, `<figure class="chart"><table class="bars"><caption>%s</caption><tbody>`, html.EscapeString(title))
	for _, b := range bars {
		w := scale(b.Value, top)
		fmt.Fprintf(&s, `<tr><th scope="row">%s</th><td class="bar-cell"><svg class="bar" viewBox="0 0 %d 16" preserveAspectRatio="none" aria-hidden="true" focusable="false"><rect class="track" x="0" y="0" width="%d" height="16"/><rect class="fill" x="0" y="0" width="%d" height="16"/></svg></td><td class="num">%s</td></tr>`,
			html.EscapeString(b.Label), chartWidth, chartWidth, w, html.EscapeString(b.Text))
	}
	s.WriteString(`</tbody></table></figure>`)
	return template.HTML(s.String())
}

// severityChart draws, per practice with findings, a bar split by
// severity; bars share one scale so that practices compare.
func severityChart(practices []scorecard.PracticeResult) template.HTML {
	var top int64
	rows := 0
	for _, p := range practices {
		var n int64
		for _, c := range p.Counts {
			n += int64(c)
		}
		if n > 0 {
			rows++
		}
		top = max(top, n)
	}
	if rows == 0 {
		return ""
	}
	var s strings.Builder
	s.WriteString(`<figure class="chart"><table class="bars sev-chart"><caption>Findings by severity, per practice</caption><tbody>`)
	for _, p := range practices {
		var n int64
		for _, c := range p.Counts {
			n += int64(c)
		}
		if n == 0 {
			continue
		}
		fmt.Fprintf(&s, `<tr><th scope="row"><a href="#%s">%s</a></th><td class="bar-cell"><svg class="bar" viewBox="0 0 %d 16" preserveAspectRatio="none" aria-hidden="true" focusable="false"><rect class="track" x="0" y="0" width="%d" height="16"/>`,
			p.ID, p.ID, chartWidth, chartWidth)
		x := 0
		for _, sev := range scorecard.Severities {
			c := int64(p.Counts[sev])
			if c == 0 {
				continue
			}
			w := scale(c, top)
			fmt.Fprintf(&s, `<rect class="sev-%s" x="%d" y="0" width="%d" height="16"/>`, sev, x, max(w-3, 1))
			x += w
		}
		fmt.Fprintf(&s, `</svg></td><td class="num">%s</td></tr>`, html.EscapeString(countsText(p.Counts)))
	}
	s.WriteString(`</tbody></table>`)
	s.WriteString(`<figcaption class="legend">`)
	for _, sev := range scorecard.Severities {
		fmt.Fprintf(&s, `<span><svg class="swatch" viewBox="0 0 10 10" aria-hidden="true" focusable="false"><rect class="sev-%s" width="10" height="10"/></svg>%s</span> `, sev, sev)
	}
	s.WriteString(`</figcaption></figure>`)
	return template.HTML(s.String())
}

// scale maps v to a bar width in [0, chartWidth]; a non-zero value gets at
// least a sliver so that it stays visible.
func scale(v, top int64) int {
	if v <= 0 || top <= 0 {
		return 0
	}
	return min(chartWidth, max(int(v*chartWidth/top), 6))
}
