package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/cron"
)

// cmdCronNext prints the next occurrences of an expression, one RFC 3339
// UTC time a line.
func cmdCronNext(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("cron next", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	tz := fs.String("tz", "UTC", "IANA time zone")
	from := fs.String("from", "", "start after this RFC 3339 time (default now)")
	count := fs.Int("count", 5, "how many occurrences (1-1000)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("cron next: expected one expression (quote it), got %d arguments", len(pos))
	}
	expr, err := cron.Parse(pos[0])
	if err != nil {
		return usagef("%v", err)
	}
	loc, err := geoetl.LoadLocation(*tz)
	if err != nil {
		return usagef("--tz: %v", err)
	}
	start := time.Now()
	if *from != "" {
		if start, err = time.Parse(time.RFC3339Nano, *from); err != nil {
			return usagef("--from: %q is not an RFC 3339 time like 2027-03-14T06:00:00Z", *from)
		}
	}
	if *count < 1 || *count > 1000 {
		return usagef("--count: must be between 1 and 1000")
	}
	for _, t := range expr.NextN(start, loc, *count) {
		fmt.Fprintln(stdout, t.UTC().Format(time.RFC3339))
	}
	return nil
}

// cmdCronDescribe prints the plain-English description of an expression.
func cmdCronDescribe(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("cron describe", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("cron describe: expected one expression (quote it), got %d arguments", len(pos))
	}
	expr, err := cron.Parse(pos[0])
	if err != nil {
		return usagef("%v", err)
	}
	fmt.Fprintln(stdout, expr.Describe())
	return nil
}
