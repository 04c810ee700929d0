package views

import (
	"fmt"
	"time"

	"github.com/geoetl/geoetl"
)

// Chart is a bar chart of runs per hour, laid out on the server so the
// page needs no chart library.
type Chart struct {
	Width, Height int
	Bars          []ChartBar
	Max           int
	Summary       string // the whole chart in words, for screen readers
	Labels        []ChartLabel
}

// ChartBar is one hour's stacked bar.
type ChartBar struct {
	X, W                      int
	OkY, OkH, BadY, BadH      int
	OtherY, OtherH            int
	Title                     string
	Completed, Failed, Others int
}

// ChartLabel is a tick label under the bars.
type ChartLabel struct {
	X    int
	Text string
}

const (
	chartW      = 480
	chartH      = 120
	chartBottom = 18 // room for the hour labels
)

// NewChart lays out the last `hours` hours up to now from the hourly
// counts; hours without runs get an empty slot so time reads left to right
// evenly. Labels are in the given zone.
func NewChart(counts []geoetl.HourCount, now time.Time, hours int, zone string) Chart {
	c := Chart{Width: chartW, Height: chartH}
	end := now.UTC().Truncate(time.Hour)
	start := end.Add(-time.Duration(hours-1) * time.Hour)
	byHour := map[time.Time]geoetl.HourCount{}
	for _, h := range counts {
		byHour[h.Hour.UTC().Truncate(time.Hour)] = h
	}
	total, failed := 0, 0
	for i := 0; i < hours; i++ {
		h := byHour[start.Add(time.Duration(i)*time.Hour)]
		if n := h.Completed + h.Failed + h.Other; n > c.Max {
			c.Max = n
		}
	}
	scale := 1.0
	plot := chartH - chartBottom - 2
	if c.Max > 0 {
		scale = float64(plot) / float64(c.Max)
	}
	slot := chartW / hours
	for i := 0; i < hours; i++ {
		at := start.Add(time.Duration(i) * time.Hour)
		h := byHour[at]
		total += h.Completed + h.Failed + h.Other
		failed += h.Failed
		b := ChartBar{X: i*slot + 1, W: slot - 2, Completed: h.Completed, Failed: h.Failed, Others: h.Other}
		base := chartH - chartBottom
		b.OkH = int(float64(h.Completed)*scale + 0.5)
		b.OkY = base - b.OkH
		b.BadH = int(float64(h.Failed)*scale + 0.5)
		b.BadY = b.OkY - b.BadH
		b.OtherH = int(float64(h.Other)*scale + 0.5)
		b.OtherY = b.BadY - b.OtherH
		local := inZone(at, zone)
		b.Title = fmt.Sprintf("%s: %d completed, %d failed, %d other", local.Format("15:04"), h.Completed, h.Failed, h.Other)
		c.Bars = append(c.Bars, b)
		if i%6 == 0 {
			c.Labels = append(c.Labels, ChartLabel{X: i * slot, Text: local.Format("15:04")})
		}
	}
	c.Summary = fmt.Sprintf("Runs per hour over the last %d hours: %s, %d failed; at most %d in one hour.", hours, Count(total, "run", "runs"), failed, c.Max)
	return c
}
