package etl

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// The expression from the field: expr-lang's repeat builds its result
// before it counts it, so unbounded it asks for a terabyte at once.
const terabyteExpression = `len(repeat(repeat("a", 999999), 1000000)) > 0`

func TestExpression_TerabyteRepeatIsRefusedAtSaveWithoutAllocating(t *testing.T) {
	// Not parallel: it measures the process's allocations.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := compileExpression(terabyteExpression, expr.AsBool())
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "memory budget (16 MiB per feature)") {
		t.Fatalf("compile error = %v, want the memory budget named", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Errorf("checking the expression allocated %d MiB", grew>>20)
	}
}

func TestExpression_BudgetsStopRunawayEvaluations(t *testing.T) {
	// Not parallel: it measures the process's allocations.
	cases := []struct {
		name, src, want string
	}{
		{"repeat of an attribute", `len(repeat(name, 100000000)) > 0`, "memory budget"},
		{"nested repeat of an attribute", `len(repeat(repeat(name, 999999), 1000000)) > 0`, "memory budget"},
		{"doubling with let", `let a = name + name; let b = a + a; let c = b + b; let d = c + c; let e = d + d; let f = e + e; let g = f + f; let h = g + g; let i = h + h; let j = i + i; let k = j + j; let l = k + k; let m = l + l; let n = m + m; let o = n + n; let p = o + o; let q = p + p; let r = q + q; let s = r + r; let t = s + s; let u = t + t; let v = u + u; let w = v + v; let x = w + w; let y = x + x; len(y) > 0`, "memory budget"},
		{"replace with an empty pattern", `len(replace(replace(replace(name, "", name), "", name), "", name)) > 0`, "memory budget"},
		{"huge range", `len(1..size) > 0`, "memory budget"},
		{"nested loops over a range", `all(1..items, {all(1..items, {all(1..items, {# > 0})})})`, "step budget"},
		{"reduce that doubles", `len(reduce(1..100, #acc + #acc, name)) > 0`, "memory budget"},
		{"join of a long array", `len(join(map(1..9999, {name}), name)) > 0`, "memory budget"},
		{"nested loops over a large attribute", `all(big, {all(big, {not (0 in big)})})`, "step budget"},
		{"scans of a long string in a loop", `all(big, {not (long contains "needle")})`, "step budget"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x, err := compileExpression(c.src, expr.AsBool())
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			big := make([]any, 100_000)
			for i := range big {
				big[i] = int64(-i - 1)
			}
			env := map[string]any{"name": strings.Repeat("x", 1000), "size": int64(1_000_000_000), "items": int64(999),
				"big": big, "long": strings.Repeat("y", 10<<20)}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err = x.run(env)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, errBudget) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("run error = %v, want the %s", err, c.want)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<20 {
				t.Errorf("the evaluation allocated %d MiB before it stopped", grew>>20)
			}
		})
	}
}

func TestExpression_OrdinaryExpressionsStillWork(t *testing.T) {
	t.Parallel()
	cases := []struct {
		src  string
		want bool
	}{
		{`population >= 1000000`, true},
		{`kind == "a" && id > 10`, false},
		{`upper(name) startsWith "BER"`, true},
		{`len(repeat(name, 3)) == 18`, true},
		{`replace(name, "r", "R") == "BeRlin"`, true},
		{`join(split("a,b,c", ","), "-") == "a-b-c"`, true},
		{`any(tags, {# == "capital"})`, true},
		{`len(concat(tags, tags)) == 4`, true},
		{`sum(map(1..10, {# * 2})) == 110`, true},
		{`missing == nil`, true},
	}
	for _, c := range cases {
		x, err := compileExpression(c.src, expr.AsBool())
		if err != nil {
			t.Errorf("%s: compile: %v", c.src, err)
			continue
		}
		got, err := x.run(map[string]any{"population": int64(3_600_000), "name": "Berlin", "kind": "b", "id": int64(3), "tags": []any{"capital", "city"}})
		if err != nil || got != c.want {
			t.Errorf("%s = %v, %v; want %v", c.src, got, err, c.want)
		}
	}
}

// BenchmarkExpression measures one evaluation of typical filters under the
// budgets; plain is expr-lang without them, for comparison.
func BenchmarkExpression(b *testing.B) {
	env := map[string]any{"population": int64(3_600_000), "name": "Berlin", "kind": "b", "id": int64(3), "tags": []any{"capital", "city"}}
	for _, src := range []string{`population >= 1000000`, `kind == "a" && id > 10`, `name contains "erl" || lower(name) startsWith "ber"`, `any(tags, {# == "capital"})`} {
		b.Run(src+"/bounded", func(b *testing.B) {
			x, err := compileExpression(src, expr.AsBool())
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := x.run(env); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(src+"/plain", func(b *testing.B) {
			p, err := expr.Compile(src, expr.Env(map[string]any{}), expr.AllowUndefinedVariables(), expr.AsBool())
			if err != nil {
				b.Fatal(err)
			}
			var m vm.VM
			for b.Loop() {
				if _, err := m.Run(p, env); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
