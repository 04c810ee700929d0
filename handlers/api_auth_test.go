package handlers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/geoetl/geoetl"
)

func TestAuth_MissingOrBadCredentialsAre401(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		cases := []struct {
			name   string
			header http.Header
			detail string
		}{
			{"NoCredentials", nil, "Authentication required"},
			{"UnknownToken", http.Header{"Authorization": {"Bearer geo_doesnotexist"}}, "Invalid or revoked token"},
			{"NotOurPrefix", http.Header{"Authorization": {"Bearer abc"}}, "Invalid or revoked token"},
			{"BasicScheme", http.Header{"Authorization": {"Basic YWRtaW46YWRtaW4="}}, "Invalid or revoked token"},
			{"EmptyBearer", http.Header{"Authorization": {"Bearer "}}, "Invalid or revoked token"},
			{"UnknownSession", http.Header{"Cookie": {SessionCookie + "=nope"}}, "Authentication required"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				for _, path := range []string{"/schedules", "/no/such/route", "/users"} {
					r := e.send(request{method: http.MethodGet, path: api(path), header: tc.header}).want(http.StatusUnauthorized)
					if p := r.problem(); !strings.Contains(p.Detail, tc.detail) {
						t.Errorf("%s: detail %q, want it to contain %q", path, p.Detail, tc.detail)
					}
					if r.Header.Get("WWW-Authenticate") == "" {
						t.Errorf("%s: no WWW-Authenticate header", path)
					}
				}
				e.send(request{method: http.MethodPost, path: api("/schedules"), header: tc.header, body: `{}`}).want(http.StatusUnauthorized)
			})
		}
		// With credentials, an unknown API route is a problem document 404.
		e.as(geoetl.RoleViewer).get("/no/such/route").want(http.StatusNotFound).problem()
	})
}

func TestAuth_TokenRecordsLastUse(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		e.as(geoetl.RoleViewer).get("/me").want(http.StatusOK)
		var toks struct {
			Items []geoetl.APIToken `json:"items"`
		}
		e.as(geoetl.RoleAdmin).get("/tokens").want(http.StatusOK).decode(&toks)
		for _, tk := range toks.Items {
			if tk.Role == geoetl.RoleViewer && tk.LastUsedAt == nil {
				t.Fatalf("viewer token used but lastUsedAt unset: %+v", tk)
			}
		}
	})
}

func TestAuth_SessionCookieNeedsCSRFForChanges(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		ctx := context.Background()
		u := &geoetl.User{Name: "eve", Email: "eve@example.com", Role: geoetl.RoleEditor, TenantID: e.tenant}
		if _, err := e.svc.CreateUserAsSystem(ctx, u, "long enough pw"); err != nil {
			t.Fatal(err)
		}
		sessID, _, _, err := e.svc.Login(ctx, "eve", "long enough pw")
		if err != nil {
			t.Fatal(err)
		}
		session := SessionCookie + "=" + sessID
		wf := e.createWorkflow("Parcels")
		body := map[string]any{"name": "From the console", "workflowId": wf, "cronExpression": "@daily"}

		// Reading needs no CSRF token and hands one out in a cookie.
		req := httptest.NewRequest(http.MethodGet, api("/me"), nil)
		req.Header.Set("Cookie", session)
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET with session: %d %s", rec.Code, rec.Body)
		}
		var csrf string
		for _, c := range rec.Result().Cookies() {
			if c.Name == "geoetl_csrf" {
				csrf = c.Value
			}
		}
		if csrf == "" {
			t.Fatal("no CSRF cookie handed out")
		}

		e.send(request{method: http.MethodPost, path: api("/schedules"), body: body, header: http.Header{"Cookie": {session}}}).want(http.StatusForbidden).problem()
		e.send(request{method: http.MethodPost, path: api("/schedules"), body: body,
			header: http.Header{"Cookie": {session}, "Sec-Fetch-Site": {"cross-site"}}}).want(http.StatusForbidden)
		e.send(request{method: http.MethodPost, path: api("/schedules"), body: body,
			header: http.Header{"Cookie": {session + "; geoetl_csrf=" + csrf}, "X-Csrf-Token": {csrf}}}).want(http.StatusCreated)
		body["name"] = "Same origin"
		created := e.send(request{method: http.MethodPost, path: api("/schedules"), body: body,
			header: http.Header{"Cookie": {session}, "Sec-Fetch-Site": {"same-origin"}}}).want(http.StatusCreated).object()
		if created["createdBy"] != "eve" {
			t.Fatalf("actor of a session change: %v", created["createdBy"])
		}
	})
}

func TestAuth_BearerCallersNeedNoCSRFToken(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		wf := e.createWorkflow("Parcels")
		e.send(request{method: http.MethodPost, path: api("/schedules"), token: e.token(geoetl.RoleEditor),
			body: map[string]any{"name": "S", "workflowId": wf, "cronExpression": "@daily"}, header: http.Header{"Sec-Fetch-Site": {"cross-site"}}}).want(http.StatusCreated)
	})
}
