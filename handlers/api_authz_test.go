package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/service"
)

// fixture holds one object of each kind in one tenant, for the path ids of
// the authorization matrix.
type fixture struct {
	workflow, schedule, execution, user, token string
}

// fixtureSeq numbers fixtures; tests run in parallel, hence atomic.
var fixtureSeq atomic.Int64

// newFixture creates a fresh set of objects in tenantID, so a case that
// deletes or changes one never affects the next. The user is only made
// when asked for: hashing its password is the slow part.
func (e *apiEnv) newFixture(tenantID string, withUser bool) fixture {
	e.t.Helper()
	ctx := context.Background()
	n := "f" + strconv.FormatInt(fixtureSeq.Add(1), 10)
	p := geoetl.Principal{TenantID: tenantID, Actor: "setup", ActorID: "setup", Role: geoetl.RoleAdmin}
	name := "Workflow " + n
	w, err := e.svc.CreateWorkflow(ctx, p, service.WorkflowInput{Name: &name, Definition: json.RawMessage(sampleDefinition)})
	if err != nil {
		e.t.Fatal(err)
	}
	sn, cr := "Schedule "+n, "0 2 * * *"
	sc, err := e.svc.CreateSchedule(ctx, p, geoetl.ScheduleUpdate{Name: &sn, WorkflowID: &w.ID, CronExpression: &cr})
	if err != nil {
		e.t.Fatal(err)
	}
	ex, err := e.svc.RunNow(ctx, p, sc.ID, nil, false)
	if err != nil {
		e.t.Fatal(err)
	}
	tk, _, err := e.svc.CreateTokenAsSystem(ctx, tenantID, "token-"+n, geoetl.RoleViewer)
	if err != nil {
		e.t.Fatal(err)
	}
	f := fixture{workflow: w.ID, schedule: sc.ID, execution: ex.ID, token: tk.ID}
	if withUser {
		u, err := e.svc.CreateUserAsSystem(ctx, &geoetl.User{TenantID: tenantID, Name: "user-" + n, Role: geoetl.RoleViewer}, "long enough pw")
		if err != nil {
			e.t.Fatal(err)
		}
		f.user = u.ID
	}
	return f
}

// fill puts the fixture's ids into a route's path.
func (f fixture) fill(r apiRoute) string {
	p := r.Path
	id := ""
	switch {
	case strings.HasPrefix(p, APIPrefix+"/schedules/"):
		id = f.schedule
	case strings.HasPrefix(p, APIPrefix+"/executions/"):
		id = f.execution
	case strings.HasPrefix(p, APIPrefix+"/workflows/"):
		id = f.workflow
	case strings.HasPrefix(p, APIPrefix+"/users/"):
		id = f.user
	case strings.HasPrefix(p, APIPrefix+"/tokens/"):
		id = f.token
	}
	p = strings.NewReplacer("{id}", id, "{workflowId}", f.workflow, "{version}", "1").Replace(p)
	if r.Method == http.MethodDelete && strings.HasPrefix(r.Path, APIPrefix+"/workflows/") {
		p += "?force=true" // the fixture's schedule uses the workflow
	}
	return p
}

// matrixBody returns a body that the route accepts, naming objects of the
// caller's own tenant (own).
func matrixBody(r apiRoute, own fixture) any {
	switch r.Method + " " + strings.TrimPrefix(r.Path, APIPrefix) {
	case "POST /schedules":
		return map[string]any{"name": "New " + geoetl.NewID(), "workflowId": own.workflow, "cronExpression": "@daily"}
	case "PUT /schedules/{id}":
		return map[string]any{"description": "changed"}
	case "POST /schedules/import":
		return map[string]any{"schedules": []any{map[string]any{"name": "Imported " + geoetl.NewID(), "workflowId": own.workflow, "cronExpression": "@daily"}}}
	case "POST /schedules/{id}/backfill":
		return map[string]any{"from": "2027-01-01T00:00:00Z", "to": "2027-01-02T00:00:00Z"}
	case "POST /cron/preview":
		return map[string]any{"cronExpression": "@hourly"}
	case "POST /workflows", "POST /workflows/validate":
		return map[string]any{"name": "New " + geoetl.NewID(), "definition": json.RawMessage(sampleDefinition)}
	case "PUT /workflows/{id}":
		return map[string]any{"description": "changed"}
	case "POST /users":
		return map[string]any{"name": "new-" + geoetl.NewID()[:8], "role": "viewer", "password": "long enough pw"}
	case "PUT /users/{id}":
		return map[string]any{"role": "editor"}
	case "POST /tokens":
		return map[string]any{"name": "new", "role": "viewer"}
	case "PUT /me/password":
		return map[string]any{"currentPassword": "long enough pw", "password": "another long one"}
	}
	return nil
}

// changesNothing lists the non-GET routes that only compute an answer.
var changesNothing = map[string]bool{"POST /cron/preview": true, "POST /workflows/validate": true}

// TestAuthorizationMatrix checks every API route with every role against
// objects of the caller's own and of another tenant: anonymous is 401, a
// role below the route's is 403, another tenant's object is 404, and an
// allowed call on one's own objects succeeds and, if it changes anything,
// leaves an audit entry.
func TestAuthorizationMatrix(t *testing.T) {
	roles := []geoetl.Role{"", geoetl.RoleViewer, geoetl.RoleEditor, geoetl.RoleAdmin}
	eachBackend(t, Config{Catalog: []string{"node types"}}, func(t *testing.T, e *apiEnv) {
		sharedOwn, sharedOther := e.newFixture(e.tenant, true), e.newFixture(e.other, true)
		for _, r := range apiRoutes() {
			if r.Role == "" || r.External {
				continue
			}
			hasIDs := strings.Contains(r.Path, "{")
			for _, role := range roles {
				for _, tenant := range []string{"own", "other"} {
					if tenant == "other" && !hasIDs {
						continue
					}
					name := r.Method + " " + strings.TrimPrefix(r.Path, APIPrefix) + "/" + string(role) + "/" + tenant
					if role == "" {
						name = r.Method + " " + strings.TrimPrefix(r.Path, APIPrefix) + "/anonymous/" + tenant
					}
					t.Run(name, func(t *testing.T) {
						// Refused calls change nothing, so they share one set of
						// objects; an allowed call on our own tenant gets fresh
						// ones, since it may delete or change them.
						own, target := sharedOwn, sharedOwn
						if tenant == "other" {
							target = sharedOther
						} else if role.Allows(r.Role) {
							own = e.newFixture(e.tenant, strings.Contains(r.Path, "/users/"))
							target = own
						}
						token := ""
						if role != "" {
							token = e.token(role)
						}
						auditBefore := e.auditCount()
						res := e.send(request{method: r.Method, path: target.fill(r), token: token, body: matrixBody(r, own)})
						var want int
						switch {
						case role == "":
							want = http.StatusUnauthorized
						case !role.Allows(r.Role):
							want = http.StatusForbidden
						case tenant == "other":
							want = http.StatusNotFound
						case r.Method+" "+strings.TrimPrefix(r.Path, APIPrefix) == "PUT /me/password":
							// Only a signed-in user has a password; these are
							// tokens (TestChangeOwnPassword covers sessions).
							want = http.StatusForbidden
						default:
							want = r.Status
						}
						if res.Code != want {
							t.Fatalf("status %d, want %d: %s", res.Code, want, res.Body)
						}
						if want >= 400 {
							res.problem()
						} else if loc := res.Header.Get("Location"); (loc != "") != r.Location {
							t.Errorf("Location %q, but the route table says Location=%v", loc, r.Location)
						} else if loc != "" && e.send(request{method: http.MethodGet, path: loc, token: e.token(geoetl.RoleAdmin)}).Code != http.StatusOK {
							t.Errorf("Location %q cannot be read", loc)
						}
						key := r.Method + " " + strings.TrimPrefix(r.Path, APIPrefix)
						changed := e.auditCount() > auditBefore
						switch {
						case want < 400 && r.Method != http.MethodGet && !changesNothing[key] && !changed:
							t.Errorf("a change without an audit entry")
						case (want >= 400 || r.Method == http.MethodGet) && changed:
							t.Errorf("an audit entry for a refused or read-only call")
						}
					})
				}
			}
		}
	})
}

// auditCount is the number of audit entries of our tenant.
func (e *apiEnv) auditCount() int {
	e.t.Helper()
	_, n, _, err := e.store.FindAudit(context.Background(), geoetl.AuditFilter{TenantID: e.tenant, Page: geoetl.Page{Limit: 1}})
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestRouteRoles_FollowTheContract checks the route table's roles against
// the rule of API.md, written out independently: reading needs viewer,
// changing schedules and workflows and running them needs editor, users,
// tokens and tenant settings need admin. Previews that change nothing are
// reading.
func TestRouteRoles_FollowTheContract(t *testing.T) {
	t.Parallel()
	for _, r := range apiRoutes() {
		if r.External || !strings.HasPrefix(r.Path, APIPrefix) {
			if r.Role != "" {
				t.Errorf("%s %s: operational routes are public", r.Method, r.Path)
			}
			continue
		}
		p := strings.TrimPrefix(r.Path, APIPrefix)
		var want geoetl.Role
		switch {
		case strings.HasPrefix(p, "/users") || strings.HasPrefix(p, "/tokens") || strings.HasPrefix(p, "/settings"):
			want = geoetl.RoleAdmin
		case r.Method == http.MethodGet || changesNothing[r.Method+" "+p] || p == "/me/password":
			// Reading, and changing one's own password.
			want = geoetl.RoleViewer
		default:
			want = geoetl.RoleEditor
		}
		if r.Role != want {
			t.Errorf("%s %s needs %q, the contract says %q", r.Method, r.Path, r.Role, want)
		}
	}
}

// TestMalformedIDsAre404 sends every route with ids that are not UUIDs
// (text, a NUL, invalid UTF-8, very long): each is simply an object that
// does not exist, never a 400 or a 500.
func TestMalformedIDsAre404(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		f := e.newFixture(e.tenant, false)
		for _, bad := range []string{"not-a-uuid", "%00", "%FF%FE", strings.Repeat("9", 5000), "00000000-0000-0000-0000-00000000000g"} {
			for _, r := range apiRoutes() {
				if r.External || !strings.Contains(r.Path, "{") {
					continue
				}
				path := strings.NewReplacer("{id}", bad, "{workflowId}", bad, "{version}", "1").Replace(r.Path)
				if strings.Contains(r.Path, "{version}") {
					// The schedule exists; the version is what is malformed.
					path = strings.NewReplacer("{id}", f.schedule, "{version}", bad).Replace(r.Path)
				}
				res := e.send(request{method: r.Method, path: path, token: e.token(geoetl.RoleAdmin), body: matrixBody(r, f)})
				if res.Code != http.StatusNotFound {
					t.Errorf("%s %s: status %d, want 404: %.200s", r.Method, path[:min(len(path), 80)], res.Code, res.Body)
				}
			}
		}
	})
}
