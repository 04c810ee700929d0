package etl

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// Expressions (filter, calculate) are expr-lang programs over a feature's
// attributes. Each evaluation has a step budget and a memory budget, so
// that one expression can neither run forever nor take the process's
// memory:
//
//   - expr-lang's own VM budget counts the elements of ranges, array and
//     map literals and some builtins' results (1..1e9 is refused);
//   - every operation that can build a value (+, calls, builtins) and
//     every pass of a closure (map, filter, all, reduce, ...) is charged
//     one step and the size of what it built;
//   - every operation that reads through a value (in, contains, matches,
//     the builtins' arguments) is charged steps in proportion to its size
//     (an element of an array or map, or 256 bytes of a string, a step),
//     so a loop over a large attribute cannot hide its work;
//   - builtins whose output can outgrow their input (repeat, replace,
//     join, split, concat) are replaced by versions that check the size
//     of their result before they build it: expr-lang's repeat allocates
//     first and counts after, so repeat(repeat("a", 999999), 1000000)
//     would ask for a terabyte at once.
//
// A program is compiled once per node and evaluated by that node only;
// an expression is not safe for concurrent use.

const (
	// ExpressionStepBudget bounds the steps of one evaluation.
	ExpressionStepBudget = 1_000_000
	// ExpressionMemoryBudget bounds the bytes one evaluation builds.
	ExpressionMemoryBudget = 16 << 20
	// exprVMBudget is expr-lang's own budget, in elements.
	exprVMBudget = 1_000_000
	// exprMaxNodes bounds the size of an expression's syntax tree.
	exprMaxNodes = 5000
	// chargeFunc is the name under which charged operations are wrapped.
	chargeFunc = "_geoetl_charge"
	// scanFunc wraps the operands that an operation reads through.
	scanFunc = "_geoetl_scan"
	// scanStringBytes is how many bytes of a scanned string make a step.
	scanStringBytes = 256
)

// errBudget is the error of an evaluation that went over a budget.
var errBudget = errors.New("budget exceeded")

type budgetError struct{ msg string }

func (e *budgetError) Error() string { return e.msg }
func (e *budgetError) Unwrap() error { return errBudget }

func stepsExceeded() error {
	return &budgetError{fmt.Sprintf("expression exceeded its step budget (%d steps per feature)", ExpressionStepBudget)}
}

func memoryExceeded() error {
	return &budgetError{fmt.Sprintf("expression exceeded its memory budget (%d MiB per feature)", ExpressionMemoryBudget>>20)}
}

// meter counts the steps and bytes of one evaluation.
type meter struct {
	steps int
	bytes int
}

func (m *meter) step() error { return m.stepN(1) }

func (m *meter) stepN(n int) error {
	m.steps += n
	if n < 0 || m.steps > ExpressionStepBudget {
		return stepsExceeded()
	}
	return nil
}

// reserve charges n bytes before they are built.
func (m *meter) reserve(n int) error {
	if n < 0 || n > ExpressionMemoryBudget-m.bytes {
		return memoryExceeded()
	}
	m.bytes += n
	return nil
}

// sizeOf estimates the bytes of a value that an operation built: string
// bytes, and a word or two per element of slices and maps (the elements
// themselves were charged when they were built).
func sizeOf(v any) int {
	switch x := v.(type) {
	case nil, bool, int, int64, float64:
		return 0
	case string:
		return len(x)
	case []byte:
		return len(x)
	case []any:
		return 16 * len(x)
	case map[string]any:
		return 48 * len(x)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		return rv.Len()
	case reflect.Slice, reflect.Array:
		return 16 * rv.Len()
	case reflect.Map:
		return 48 * rv.Len()
	}
	return 0
}

// scanSize is the work, in steps, of reading through a value.
func scanSize(v any) int {
	switch x := v.(type) {
	case nil, bool, int, int64, float64:
		return 0
	case string:
		return len(x) / scanStringBytes
	case []any:
		return len(x)
	case map[string]any:
		return len(x)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		return rv.Len() / scanStringBytes
	case reflect.Slice, reflect.Array, reflect.Map:
		return rv.Len()
	}
	return 0
}

// expression is a compiled, bounded expr-lang program.
type expression struct {
	prog    *vm.Program
	m       *meter
	machine vm.VM
}

// compileExpression compiles an expression over a feature's attributes
// (missing ones are nil) with the budgets above; extra options such as
// expr.AsBool() set the result type.
func compileExpression(src string, extra ...expr.Option) (*expression, error) {
	m := &meter{}
	opts := []expr.Option{
		expr.Env(map[string]any{}), expr.AllowUndefinedVariables(),
		expr.DisableBuiltin("now"), expr.MaxNodes(exprMaxNodes),
		expr.Patch(chargePatcher{}),
		expr.Function(chargeFunc, func(args ...any) (any, error) {
			if err := m.step(); err != nil {
				return nil, err
			}
			return args[0], m.reserve(sizeOf(args[0]))
		}, new(func(any) any)),
		expr.Function(scanFunc, func(args ...any) (any, error) {
			return args[0], m.stepN(1 + scanSize(args[0]))
		}, new(func(any) any)),
	}
	opts = append(opts, boundedBuiltins(m)...)
	opts = append(opts, extra...)
	prog, err := expr.Compile(src, opts...)
	if err != nil {
		msg := err.Error()
		if i := strings.Index(msg, "\n"); i > 0 {
			msg = msg[:i]
		}
		return nil, fmt.Errorf("invalid expression: %s", msg)
	}
	x := &expression{prog: prog, m: m}
	// An expression that goes over a budget for a feature without
	// attributes will for most features: refuse it now rather than on
	// every run. Other errors are left to the features, whose attributes
	// may well make them go away.
	if _, err := x.run(map[string]any{}); errors.Is(err, errBudget) {
		return nil, fmt.Errorf("%v even for a feature without attributes", err)
	}
	return x, nil
}

// run evaluates the expression for one feature's attributes.
func (x *expression) run(env map[string]any) (any, error) {
	*x.m = meter{}
	x.machine.MemoryBudget = exprVMBudget
	out, err := x.machine.Run(x.prog, env)
	if err != nil {
		var be *budgetError
		if errors.As(err, &be) {
			return nil, be
		}
		if strings.Contains(err.Error(), "memory budget exceeded") {
			return nil, &budgetError{fmt.Sprintf("expression exceeded its memory budget (%d elements of ranges, arrays and maps per feature)", exprVMBudget)}
		}
		msg := err.Error()
		if i := strings.Index(msg, "\n"); i > 0 {
			msg = msg[:i]
		}
		return nil, errors.New(msg)
	}
	return out, nil
}

// chargePatcher wraps every operation that can build a value, and every
// closure body, in a call to the charge function, and the operands that
// operations read through in a call to the scan function.
type chargePatcher struct{}

func (chargePatcher) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.BinaryNode:
		switch n.Operator {
		case "+":
			wrap(node, chargeFunc)
		case "in", "contains", "startsWith", "endsWith", "matches":
			wrap(&n.Left, scanFunc)
			wrap(&n.Right, scanFunc)
		}
	case *ast.CallNode:
		id, _ := n.Callee.(*ast.IdentifierNode)
		if id != nil && (id.Value == chargeFunc || id.Value == scanFunc) {
			return
		}
		for i := range n.Arguments {
			wrap(&n.Arguments[i], scanFunc)
		}
		// The bounded builtins reserve their own output.
		if id == nil || !selfCharged[id.Value] {
			wrap(node, chargeFunc)
		}
	case *ast.BuiltinNode:
		for i := range n.Arguments {
			switch n.Arguments[i].(type) {
			case *ast.PredicateNode:
			default:
				wrap(&n.Arguments[i], scanFunc)
			}
		}
		wrap(node, chargeFunc)
	case *ast.PredicateNode:
		wrap(&n.Node, chargeFunc)
	}
}

var selfCharged = map[string]bool{"repeat": true, "replace": true, "split": true, "splitAfter": true, "join": true, "concat": true}

func wrap(node *ast.Node, fn string) {
	ast.Patch(node, &ast.CallNode{Callee: &ast.IdentifierNode{Value: fn}, Arguments: []ast.Node{*node}})
}

// boundedBuiltins replaces the builtins whose output can outgrow their
// input by versions that reserve the output's size before building it.
func boundedBuiltins(m *meter) []expr.Option {
	str := func(name string, v any) (string, error) {
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("%s: expected a string, got %T", name, v)
		}
		return s, nil
	}
	integer := func(name string, v any) (int, error) {
		switch x := v.(type) {
		case int:
			return x, nil
		case int64:
			return int(x), nil
		case float64:
			if x == float64(int(x)) {
				return int(x), nil
			}
		}
		return 0, fmt.Errorf("%s: expected an integer, got %v", name, v)
	}
	count := func(s, sep string) int {
		if sep == "" {
			return utf8.RuneCountInString(s) + 1
		}
		return strings.Count(s, sep)
	}
	return []expr.Option{
		expr.Function("repeat", func(args ...any) (any, error) {
			s, err := str("repeat", args[0])
			if err != nil {
				return nil, err
			}
			n, err := integer("repeat", args[1])
			if err != nil {
				return nil, err
			}
			if n < 0 {
				return nil, fmt.Errorf("repeat: count %d is negative", n)
			}
			if len(s) > 0 && n > ExpressionMemoryBudget/len(s) {
				return nil, memoryExceeded()
			}
			if err := m.reserve(len(s) * n); err != nil {
				return nil, err
			}
			return strings.Repeat(s, n), nil
		}, new(func(string, int) string)),
		expr.Function("replace", func(args ...any) (any, error) {
			var s [3]string
			for i := range s {
				var err error
				if s[i], err = str("replace", args[i]); err != nil {
					return nil, err
				}
			}
			n := count(s[0], s[1])
			if d := len(s[2]) - len(s[1]); d > 0 && n > (ExpressionMemoryBudget-len(s[0]))/d {
				return nil, memoryExceeded()
			} else if err := m.reserve(len(s[0]) + n*d); err != nil {
				return nil, err
			}
			return strings.ReplaceAll(s[0], s[1], s[2]), nil
		}, new(func(string, string, string) string)),
		expr.Function("split", func(args ...any) (any, error) {
			return boundedSplit(m, "split", args, strings.SplitN, count)
		}, new(func(string, string) []string), new(func(string, string, int) []string)),
		expr.Function("splitAfter", func(args ...any) (any, error) {
			return boundedSplit(m, "splitAfter", args, strings.SplitAfterN, count)
		}, new(func(string, string) []string), new(func(string, string, int) []string)),
		expr.Function("join", func(args ...any) (any, error) {
			sep := ""
			if len(args) == 2 {
				s, err := str("join", args[1])
				if err != nil {
					return nil, err
				}
				sep = s
			}
			parts, err := stringList("join", args[0])
			if err != nil {
				return nil, err
			}
			size := 0
			for _, p := range parts {
				size += len(p) + len(sep)
				if size > ExpressionMemoryBudget {
					return nil, memoryExceeded()
				}
			}
			if err := m.reserve(size); err != nil {
				return nil, err
			}
			return strings.Join(parts, sep), nil
		}, new(func([]any) string), new(func([]any, string) string), new(func([]string) string), new(func([]string, string) string)),
		expr.Function("concat", func(args ...any) (any, error) {
			n := 0
			for _, a := range args {
				rv := reflect.ValueOf(a)
				if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
					return nil, fmt.Errorf("concat: expected arrays, got %T", a)
				}
				n += rv.Len()
			}
			if n > ExpressionMemoryBudget/16 {
				return nil, memoryExceeded()
			}
			if err := m.reserve(16 * n); err != nil {
				return nil, err
			}
			out := make([]any, 0, n)
			for _, a := range args {
				rv := reflect.ValueOf(a)
				for i := range rv.Len() {
					out = append(out, rv.Index(i).Interface())
				}
			}
			return out, nil
		}),
	}
}

func boundedSplit(m *meter, name string, args []any, split func(string, string, int) []string, count func(string, string) int) (any, error) {
	if len(args) < 2 || len(args) > 3 {
		return nil, fmt.Errorf("%s: expected 2 or 3 arguments", name)
	}
	s, ok1 := args[0].(string)
	sep, ok2 := args[1].(string)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%s: expected strings", name)
	}
	n := -1
	if len(args) == 3 {
		switch x := args[2].(type) {
		case int:
			n = x
		case int64:
			n = int(x)
		default:
			return nil, fmt.Errorf("%s: expected an integer count", name)
		}
	}
	parts := count(s, sep) + 1
	if n >= 0 && n < parts {
		parts = n
	}
	if err := m.reserve(16*parts + len(s)); err != nil {
		return nil, err
	}
	return split(s, sep, n), nil
}

func stringList(name string, v any) ([]string, error) {
	switch x := v.(type) {
	case []string:
		return x, nil
	case []any:
		out := make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%s: element %d is a %T, not a string", name, i, e)
			}
			out[i] = s
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s: expected an array of strings, got %T", name, v)
}
