package sqlstore

import "context"

// valuesChunks are the row counts of the statements that write many rows
// through a VALUES list (Dialect.ValuesFrom): each size is one statement
// text, prepared once and cached, and any count of rows is written in a
// few of them (500 rows: 256, 3 × 64, 3 × 16 and 4).
var valuesChunks = []int{256, 64, 16, 4, 1}

// eachValuesChunk calls fn with the VALUES list of each chunk of args
// (rows of width arguments, numbered from $1) and the chunk's arguments,
// in order.
func eachValuesChunk(args [][]any, width int, fn func(values string, flat []any) error) error {
	for start := 0; start < len(args); {
		left := len(args) - start
		n := valuesChunks[len(valuesChunks)-1]
		for _, c := range valuesChunks {
			if c <= left {
				n = c
				break
			}
		}
		if err := fn(`(VALUES `+placeholders(n, width, 0)+`) AS u`, flatten(args[start:start+n])); err != nil {
			return err
		}
		start += n
	}
	return nil
}

// execValues runs the statement q builds around a VALUES list over args,
// in chunks.
func execValues(ctx context.Context, tx Tx, args [][]any, width int, q func(values string) string) error {
	return eachValuesChunk(args, width, func(values string, flat []any) error {
		_, err := tx.Exec(ctx, q(values), flat...)
		return err
	})
}

// flatten lays rows of arguments end to end, as a multi-row statement
// binds them.
func flatten(rows [][]any) []any {
	n := 0
	for _, r := range rows {
		n += len(r)
	}
	flat := make([]any, 0, n)
	for _, r := range rows {
		flat = append(flat, r...)
	}
	return flat
}
