// Package badinput proves that bad input is refused cleanly: fuzz targets
// for every JSON body of the API (beside the cron parser's in cron/, the
// workflow definitions' in etl/ and the schedule bodies' in handlers/),
// and a corpus of hostile inputs sent to every API route. Its code is all
// tests; `make fuzz` runs each target for FUZZTIME.
package badinput
