package handlers

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/geoetl/geoetl/db/dbtest"
	"github.com/geoetl/geoetl/service"
	"github.com/geoetl/geoetl/views/urls"
)

// An id with characters that must be escaped: unescaped, the slash would
// make the path one segment longer and miss the route.
const oddID = "a/b c?d#e"

// urlBuilderCalls calls every builder of views/urls with how the console
// uses its path (GET for links, POST for forms).
var urlBuilderCalls = map[string][]struct {
	method, path string
}{
	"Dashboard":           {{http.MethodGet, urls.Dashboard()}},
	"Login":               {{http.MethodGet, urls.Login()}, {http.MethodPost, urls.Login()}},
	"Logout":              {{http.MethodGet, urls.Logout()}, {http.MethodPost, urls.Logout()}},
	"CronPreview":         {{http.MethodGet, urls.CronPreview()}},
	"Events":              {{http.MethodGet, urls.Events()}},
	"Schedules":           {{http.MethodGet, urls.Schedules()}},
	"ScheduleNew":         {{http.MethodGet, urls.ScheduleNew()}, {http.MethodPost, urls.ScheduleNew()}},
	"ScheduleParams":      {{http.MethodGet, urls.ScheduleParams()}},
	"Schedule":            {{http.MethodGet, urls.Schedule(oddID)}, {http.MethodPost, urls.Schedule(oddID)}},
	"ScheduleEdit":        {{http.MethodGet, urls.ScheduleEdit(oddID)}, {http.MethodPost, urls.ScheduleEdit(oddID)}},
	"ScheduleRow":         {{http.MethodGet, urls.ScheduleRow(oddID)}},
	"ScheduleHistory":     {{http.MethodGet, urls.ScheduleHistory(oddID)}},
	"ScheduleDelete":      {{http.MethodGet, urls.ScheduleDelete(oddID)}, {http.MethodPost, urls.ScheduleDelete(oddID)}},
	"SchedulePause":       {{http.MethodPost, urls.SchedulePause(oddID)}},
	"ScheduleResume":      {{http.MethodPost, urls.ScheduleResume(oddID)}},
	"ScheduleRunNow":      {{http.MethodPost, urls.ScheduleRunNow(oddID)}},
	"ScheduleRestore":     {{http.MethodPost, urls.ScheduleRestore(oddID, 3)}},
	"Execution":           {{http.MethodGet, urls.Execution(oddID)}},
	"ExecutionCancel":     {{http.MethodPost, urls.ExecutionCancel(oddID)}},
	"Workflows":           {{http.MethodGet, urls.Workflows()}},
	"WorkflowNew":         {{http.MethodGet, urls.WorkflowNew()}, {http.MethodPost, urls.WorkflowNew()}},
	"Workflow":            {{http.MethodGet, urls.Workflow(oddID)}, {http.MethodPost, urls.Workflow(oddID)}},
	"WorkflowRun":         {{http.MethodPost, urls.WorkflowRun(oddID)}},
	"WorkflowDelete":      {{http.MethodPost, urls.WorkflowDelete(oddID)}},
	"Audit":               {{http.MethodGet, urls.Audit()}},
	"Account":             {{http.MethodGet, urls.Account()}},
	"AccountPassword":     {{http.MethodPost, urls.AccountPassword()}},
	"Settings":            {{http.MethodGet, urls.Settings()}},
	"Users":               {{http.MethodPost, urls.Users()}},
	"UserRole":            {{http.MethodPost, urls.UserRole(oddID)}},
	"UserDisabled":        {{http.MethodPost, urls.UserDisabled(oddID)}},
	"Tokens":              {{http.MethodPost, urls.Tokens()}},
	"TokenRevoke":         {{http.MethodPost, urls.TokenRevoke(oddID)}},
	"WebhookSecretRotate": {{http.MethodPost, urls.WebhookSecretRotate()}},
}

// routeMatches reports whether the registered pattern (echo syntax, with
// :param and a trailing *) matches the escaped path.
func routeMatches(pattern, path string) bool {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	for i, p := range ps {
		if p == "*" {
			return true
		}
		if i >= len(xs) {
			return false
		}
		if strings.HasPrefix(p, ":") {
			if xs[i] == "" {
				return false
			}
			continue
		}
		if p != xs[i] {
			return false
		}
	}
	return len(ps) == len(xs)
}

func TestURLs_ResolveToRoutes(t *testing.T) {
	t.Parallel()
	s := New(service.New(service.Service{Store: dbtest.SQLite(t)}), Config{})
	routes := s.Echo.Routes()

	for name, calls := range urlBuilderCalls {
		for _, call := range calls {
			u, err := url.Parse(call.path)
			if err != nil || u.RawQuery != "" || u.Fragment != "" {
				t.Errorf("urls.%s: %q is not a bare path (an id went unescaped?)", name, call.path)
				continue
			}
			found := slices.ContainsFunc(routes, func(r *echo.Route) bool {
				return r.Method == call.method && r.Method != echo.RouteNotFound && routeMatches(r.Path, u.EscapedPath())
			})
			if !found {
				t.Errorf("urls.%s: no route for %s %s", name, call.method, call.path)
			}
		}
	}

	t.Run("EveryBuilderIsChecked", func(t *testing.T) {
		f, err := parser.ParseFile(token.NewFileSet(), "../views/urls/urls.go", nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || !fn.Name.IsExported() || fn.Name.Name == "WithQuery" {
				continue
			}
			if _, ok := urlBuilderCalls[fn.Name.Name]; !ok {
				t.Errorf("urls.%s is not in urlBuilderCalls, so nothing checks it leads to a route", fn.Name.Name)
			}
		}
	})
}

func TestURLs_EscapeIDs(t *testing.T) {
	t.Parallel()
	if got, want := urls.ScheduleRestore(oddID, 2), "/geoetl/schedules/a%2Fb%20c%3Fd%23e/versions/2/restore"; got != want {
		t.Errorf("ScheduleRestore = %q, want %q", got, want)
	}
	if got, want := urls.WithQuery(urls.Schedules(), url.Values{"status": {"paused"}}), "/geoetl/schedules?status=paused"; got != want {
		t.Errorf("WithQuery = %q, want %q", got, want)
	}
	if got := urls.WithQuery(urls.Audit(), nil); got != urls.Audit() {
		t.Errorf("WithQuery without query = %q", got)
	}
}
