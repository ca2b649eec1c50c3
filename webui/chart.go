package webui

import (
	"context"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/linkmonitor/lms"
)

// The chart of a client's link states over time: the daily counts the
// stores keep (lms.DailyCountStore), today's bar from the live counts,
// drawn here as inline SVG: stacked bars per day, a labelled value axis,
// the first and last days named, a legend, and a title and description
// that screen readers read. No script.

// chartDays is how many days the chart shows at most.
const chartDays = 90

// Chart geometry, in SVG units.
const (
	chartW, chartH      = 760, 250
	chartLeft, chartTop = 56, 14
	plotW, plotH        = chartW - chartLeft - 12, 170
	chartAxisY          = chartTop + plotH
	chartLegendY        = chartAxisY + 52
)

// chartOrder stacks the states bottom up: the failing ones on top, where
// they are seen.
var chartOrder = [5]lms.State{lms.StateOK, lms.StateUnknown, lms.StateUnsupported, lms.StateTemporary, lms.StateUnavailable}

// chartColor is the colour of a state, as the badges of style.css.
func chartColor(s lms.State) string {
	switch s {
	case lms.StateOK:
		return "#2a7"
	case lms.StateTemporary:
		return "#e90"
	case lms.StateUnavailable:
		return "#c33"
	case lms.StateUnsupported:
		return "#36c"
	}
	return "#999"
}

// chartOf returns the chart of client c's last chartDays days.
func (u *UI) chartOf(ctx context.Context, c lms.Client) (template.HTML, error) {
	ds, err := u.e.DailyCounts(ctx, c.ID, chartDays)
	if err != nil {
		return "", err
	}
	return drawChart(c.ID, ds, c.Counts, time.Now()), nil
}

// drawChart draws the days ds (oldest first) and today's counts now.
func drawChart(clientID string, ds []lms.DailyCounts, today lms.StateCounts, now time.Time) template.HTML {
	day := now.UTC().Truncate(24 * time.Hour)
	first := day
	if len(ds) > 0 && ds[0].Day.Before(day) {
		first = ds[0].Day.UTC()
	}
	n := int(day.Sub(first)/(24*time.Hour)) + 1
	bars := make([]*lms.StateCounts, n)
	for i := range ds {
		if k := int(ds[i].Day.UTC().Sub(first) / (24 * time.Hour)); k >= 0 && k < n-1 {
			bars[k] = &ds[i].Counts
		}
	}
	bars[n-1] = &today
	top := 0
	for _, b := range bars {
		if b != nil {
			top = max(top, b.Total())
		}
	}
	top, step := niceScale(top)

	var b strings.Builder
	esc := template.HTMLEscapeString
	title := fmt.Sprintf("Link states of %s, %s to today", clientID, first.Format("2 Jan 2006"))
	if n == 1 {
		title = "Link states of " + clientID + " today"
	}
	fmt.Fprintf(&b, `<svg class="chart" id="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-labelledby="chart-title chart-desc">`, chartW, chartH, chartW, chartH)
	fmt.Fprintf(&b, `<title id="chart-title">%s</title><desc id="chart-desc">%s</desc>`, esc(title), esc(chartDesc(first, bars)))
	// Value axis: a label and a grid line every step.
	for v := 0; v <= top; v += step {
		y := chartAxisY - float64(v)*plotH/float64(top)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>`, chartLeft, chartLeft+plotW, y, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" font-size="12" fill="#555">%d</text>`, chartLeft-6, y+4, v)
	}
	fmt.Fprintf(&b, `<text x="12" y="%d" font-size="12" fill="#555" transform="rotate(-90 12 %d)" text-anchor="middle">links</text>`, chartTop+plotH/2, chartTop+plotH/2)
	w := float64(plotW) / float64(n)
	gap := min(w*0.15, 2)
	for i, c := range bars {
		if c == nil {
			continue
		}
		x := float64(chartLeft) + float64(i)*w
		d := first.AddDate(0, 0, i)
		fmt.Fprintf(&b, `<g><title>%s</title>`, esc(dayLabel(d, i == n-1)+": "+countsText(*c)))
		y := float64(chartAxisY)
		for _, s := range chartOrder {
			h := float64(c.Get(s)) * plotH / float64(top)
			if h <= 0 {
				continue
			}
			y -= h
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`, x+gap/2, y, w-gap, h, chartColor(s))
		}
		b.WriteString(`</g>`)
	}
	// Day axis: the first, middle and last days.
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#555"/>`, chartLeft, chartLeft+plotW, chartAxisY, chartAxisY)
	labels := map[int]bool{0: true, n - 1: true}
	if n >= 5 {
		labels[n/2] = true
	}
	for i := range n {
		if !labels[i] {
			continue
		}
		anchor := "middle"
		switch {
		case i == 0 && n > 1:
			anchor = "start"
		case i == n-1 && n > 1:
			anchor = "end"
		}
		x := float64(chartLeft) + (float64(i)+0.5)*w
		if anchor == "start" {
			x = float64(chartLeft)
		} else if anchor == "end" {
			x = float64(chartLeft + plotW)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="%s" font-size="12" fill="#555">%s</text>`, x, chartAxisY+18, anchor, esc(dayLabel(first.AddDate(0, 0, i), i == n-1)))
	}
	x := chartLeft
	for _, s := range lms.States() {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d" font-size="12" fill="#222">%s</text>`,
			x, chartLegendY-10, chartColor(s), x+17, chartLegendY, esc(string(s)))
		x += 17 + 7*len(s) + 24 // about 7 units a character at size 12
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every text in it went through esc
}

func dayLabel(d time.Time, today bool) string {
	if today {
		return "today"
	}
	return d.Format("2 Jan 2006")
}

func countsText(c lms.StateCounts) string {
	parts := make([]string, 0, 5)
	for _, s := range lms.States() {
		parts = append(parts, fmt.Sprintf("%d %s", c.Get(s), s))
	}
	return strings.Join(parts, ", ")
}

// chartDesc says in words what the chart shows: the first and the last
// day's counts, and the days without a record.
func chartDesc(first time.Time, bars []*lms.StateCounts) string {
	n := len(bars)
	var parts []string
	if n > 1 && bars[0] != nil {
		parts = append(parts, "On "+first.Format("2 Jan 2006")+": "+countsText(*bars[0])+".")
	}
	parts = append(parts, "Today: "+countsText(*bars[n-1])+".")
	missing := 0
	for _, b := range bars {
		if b == nil {
			missing++
		}
	}
	if missing > 0 {
		parts = append(parts, fmt.Sprintf("%d of the %d days have no record.", missing, n))
	}
	return strings.Join(parts, " ")
}

// niceScale returns the top of the value axis for a largest value v, and
// the step of its labels: 1, 2 or 5 times a power of ten, at most four
// steps to the top.
func niceScale(v int) (top, step int) {
	v = max(v, 1)
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if step = m * p; step*4 >= v {
				return (v + step - 1) / step * step, step
			}
		}
	}
}
