package cron

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	robfig "github.com/robfig/cron/v3"
)

// The benchmarks compare Next with robfig/cron v3's Schedule.Next on the
// same expressions and starting instants. robfig has no L, so that case
// runs only here; and robfig reads "0 0 13 * FRI" as the 13th OR a Friday,
// so that pair measures different (Vixie) semantics.

var benchExprs = []struct{ name, expr string }{
	{"Every5Minutes", "*/5 * * * *"},
	{"Weekdays0200", "0 2 * * 1-5"},
	{"LastDayOfMonth", "0 0 L * *"},
	{"FridayThe13th", "0 0 13 * FRI"},
	{"EverySecond", "*/1 * * * * *"},
}

var benchZones = []string{"UTC", "America/New_York"}

// benchFroms are starting instants spread over 2027 to 2030, so that the
// benchmarks see ordinary days and transition days alike.
func benchFroms() []time.Time {
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	out := make([]time.Time, 1024)
	for i := range out {
		out[i] = time.Unix(start+rng.Int64N(4*365*86400), 0).UTC()
	}
	return out
}

var benchSink time.Time

func BenchmarkNext(b *testing.B) {
	froms := benchFroms()
	parser := robfig.NewParser(robfig.SecondOptional | robfig.Minute | robfig.Hour | robfig.Dom | robfig.Month | robfig.Dow | robfig.Descriptor)
	for _, zone := range benchZones {
		loc := mustLoad(b, zone)
		fromsIn := make([]time.Time, len(froms))
		for i, f := range froms {
			fromsIn[i] = f.In(loc)
		}
		for _, be := range benchExprs {
			b.Run("geoetl/"+zone+"/"+be.name, func(b *testing.B) {
				e := mustParse(b, be.expr)
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					benchSink = e.Next(froms[i&1023], loc)
				}
			})
			b.Run("robfig/"+zone+"/"+be.name, func(b *testing.B) {
				if strings.Contains(be.expr, "L") {
					b.Skip("robfig/cron has no L")
				}
				sched, err := parser.Parse(be.expr)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					benchSink = sched.Next(fromsIn[i&1023])
				}
			})
		}
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("0 2 * * 1-5"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNextN_SparseExpressionInADSTZone is the costliest search a
// valid expression asks for: occurrences decades apart (2044, 2072, 2112,
// ...) in a zone with two offset changes a year, 100 of them as the
// preview's largest count.
func BenchmarkNextN_SparseExpressionInADSTZone(b *testing.B) {
	e, err := Parse("0 0 29 2 MON")
	if err != nil {
		b.Fatal(err)
	}
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		b.Fatal(err)
	}
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for b.Loop() {
		e.NextN(from, loc, 100)
	}
}
