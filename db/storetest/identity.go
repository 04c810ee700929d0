package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

func (s *suite) identity(t *testing.T) {
	st, clk := s.fresh(t)

	t.Run("PingAndMigrationsCurrent", func(t *testing.T) {
		noErr(t, st.Ping(bg))
		ok, err := st.MigrationsCurrent(bg)
		noErr(t, err)
		if !ok {
			t.Fatal("MigrationsCurrent = false on a migrated store")
		}
	})

	t.Run("ReadinessDoesNotWaitForWriters", func(t *testing.T) {
		// /readyz asks this; under load the writer is always busy, and a
		// probe queued behind it would call a working server unready.
		err := st.Claim(bg, func(geoetl.ClaimTx) error {
			ctx, cancel := context.WithTimeout(bg, 2*time.Second)
			defer cancel()
			noErr(t, st.Ping(ctx))
			ok, err := st.MigrationsCurrent(ctx)
			if err != nil || !ok {
				t.Errorf("MigrationsCurrent during a write transaction = %v, %v; want true at once", ok, err)
			}
			return nil
		})
		noErr(t, err)
	})

	t.Run("NowFollowsInjectedClock", func(t *testing.T) {
		now, err := st.Now(bg)
		noErr(t, err)
		if !now.Equal(epoch.Truncate(time.Microsecond)) || now.Location() != time.UTC {
			t.Fatalf("Now = %v, want %v in UTC", now, epoch)
		}
	})

	t.Run("TenantCreateFindList", func(t *testing.T) {
		exp := epoch.Add(time.Hour)
		ten := &geoetl.Tenant{Name: unique("acme"), WebhookSecret: "a", PreviousWebhookSecret: "b", PreviousSecretExpiresAt: &exp}
		noErr(t, st.CreateTenant(bg, ten))
		if !geoetl.IsUUID(ten.ID) || !ten.CreatedAt.Equal(clk.Now().Truncate(time.Microsecond)) {
			t.Fatalf("CreateTenant did not fill id and createdAt: %+v", ten)
		}
		byID, err := st.FindTenantByID(bg, ten.ID)
		noErr(t, err)
		sameJSON(t, "by id", byID, ten)
		if byID.WebhookSecret != "a" || byID.PreviousWebhookSecret != "b" || !byID.PreviousSecretExpiresAt.Equal(exp) {
			t.Fatalf("secrets not kept: %+v", byID)
		}
		byName, err := st.FindTenantByName(bg, ten.Name)
		noErr(t, err)
		if byName.ID != ten.ID {
			t.Fatalf("by name = %s, want %s", byName.ID, ten.ID)
		}
		all, err := st.ListTenants(bg)
		noErr(t, err)
		found := false
		for i, x := range all {
			found = found || x.ID == ten.ID
			if i > 0 && all[i-1].Name > x.Name {
				t.Fatalf("ListTenants not by name: %q before %q", all[i-1].Name, x.Name)
			}
		}
		if !found {
			t.Fatal("ListTenants misses the new tenant")
		}
	})

	t.Run("TenantNameTakenConflicts", func(t *testing.T) {
		ten := mustTenant(t, st)
		wantCode(t, st.CreateTenant(bg, &geoetl.Tenant{Name: ten.Name}), geoetl.ECONFLICT)
	})

	t.Run("TenantMissingOrMalformedIsNotFound", func(t *testing.T) {
		for _, id := range badIDs {
			_, err := st.FindTenantByID(bg, id)
			wantCode(t, err, geoetl.ENOTFOUND)
		}
		_, err := st.FindTenantByName(bg, "no-such-tenant")
		wantCode(t, err, geoetl.ENOTFOUND)
		wantCode(t, st.SetWebhookSecrets(bg, badIDs[0], "x", "", nil), geoetl.ENOTFOUND)
	})

	t.Run("SetWebhookSecretsRotates", func(t *testing.T) {
		ten := mustTenant(t, st)
		exp := epoch.Add(24 * time.Hour)
		noErr(t, st.SetWebhookSecrets(bg, ten.ID, "new", ten.WebhookSecret, &exp))
		got, err := st.FindTenantByID(bg, ten.ID)
		noErr(t, err)
		if got.WebhookSecret != "new" || got.PreviousWebhookSecret != ten.WebhookSecret || !got.PreviousSecretExpiresAt.Equal(exp) {
			t.Fatalf("after rotation: %+v", got)
		}
	})

	t.Run("UserCRUD", func(t *testing.T) {
		ten := mustTenant(t, st)
		u := &geoetl.User{TenantID: ten.ID, Name: unique("bob"), Email: unique("bob") + "@Example.com", Role: geoetl.RoleEditor, PasswordHash: "h1"}
		noErr(t, st.CreateUser(bg, u))
		got, err := st.FindUserByID(bg, ten.ID, u.ID)
		noErr(t, err)
		sameJSON(t, "user", got, u)
		if got.PasswordHash != "h1" {
			t.Fatal("password hash not kept")
		}
		clk.Advance(time.Second)
		email, role, hash, disabled := "b@example.org", geoetl.RoleAdmin, "h2", true
		upd, err := st.UpdateUser(bg, ten.ID, u.ID, geoetl.UserUpdate{Email: &email, Role: &role, PasswordHash: &hash, Disabled: &disabled})
		noErr(t, err)
		if upd.Email != email || upd.Role != role || upd.PasswordHash != hash || !upd.Disabled || !upd.UpdatedAt.After(u.UpdatedAt) || upd.Name != u.Name {
			t.Fatalf("UpdateUser = %+v", upd)
		}
		got, err = st.FindUserByID(bg, ten.ID, u.ID)
		noErr(t, err)
		sameJSON(t, "updated user", got, upd)
		list, err := st.ListUsers(bg, ten.ID)
		noErr(t, err)
		sameIDs(t, "ListUsers", ids(list, func(u *geoetl.User) string { return u.ID }), []string{u.ID})
		noErr(t, st.DeleteUser(bg, ten.ID, u.ID))
		_, err = st.FindUserByID(bg, ten.ID, u.ID)
		wantCode(t, err, geoetl.ENOTFOUND)
		wantCode(t, st.DeleteUser(bg, ten.ID, u.ID), geoetl.ENOTFOUND)
	})

	t.Run("UserNameAndEmailUniqueAcrossTenants", func(t *testing.T) {
		a, b := mustTenant(t, st), mustTenant(t, st)
		name, email := unique("carol"), unique("carol")+"@example.com"
		noErr(t, st.CreateUser(bg, &geoetl.User{TenantID: a.ID, Name: name, Email: email, Role: geoetl.RoleViewer}))
		err := st.CreateUser(bg, &geoetl.User{TenantID: b.ID, Name: name, Role: geoetl.RoleViewer})
		wantCode(t, err, geoetl.ECONFLICT)
		if !containsFold(geoetl.ErrorMessage(err), "named") {
			t.Fatalf("name conflict message %q does not say the name is taken", geoetl.ErrorMessage(err))
		}
		err = st.CreateUser(bg, &geoetl.User{TenantID: b.ID, Name: unique("dave"), Email: upper(email), Role: geoetl.RoleViewer})
		wantCode(t, err, geoetl.ECONFLICT)
		if !containsFold(geoetl.ErrorMessage(err), "email") {
			t.Fatalf("email conflict message %q does not name the email", geoetl.ErrorMessage(err))
		}
		// Users without an email do not collide on the empty string.
		noErr(t, st.CreateUser(bg, &geoetl.User{TenantID: b.ID, Name: unique("erin"), Role: geoetl.RoleViewer}))
		noErr(t, st.CreateUser(bg, &geoetl.User{TenantID: b.ID, Name: unique("frank"), Role: geoetl.RoleViewer}))
		// Changing an email to a taken one conflicts too.
		other := &geoetl.User{TenantID: b.ID, Name: unique("gina"), Email: unique("gina") + "@example.com", Role: geoetl.RoleViewer}
		noErr(t, st.CreateUser(bg, other))
		_, err = st.UpdateUser(bg, b.ID, other.ID, geoetl.UserUpdate{Email: &email})
		wantCode(t, err, geoetl.ECONFLICT)
	})

	t.Run("FindUserByLoginNameOrCaseInsensitiveEmail", func(t *testing.T) {
		ten := mustTenant(t, st)
		u := &geoetl.User{TenantID: ten.ID, Name: unique("hank"), Email: unique("Hank") + "@Example.COM", Role: geoetl.RoleAdmin}
		noErr(t, st.CreateUser(bg, u))
		for _, login := range []string{u.Name, u.Email, lower(u.Email), upper(u.Email)} {
			got, err := st.FindUserByLogin(bg, login)
			noErr(t, err)
			if got.ID != u.ID {
				t.Fatalf("FindUserByLogin(%q) = %s, want %s", login, got.ID, u.ID)
			}
		}
		_, err := st.FindUserByLogin(bg, upper(u.Name))
		wantCode(t, err, geoetl.ENOTFOUND)
		_, err = st.FindUserByLogin(bg, "")
		wantCode(t, err, geoetl.ENOTFOUND)
		n, err := st.CountUsers(bg)
		noErr(t, err)
		if n < 1 {
			t.Fatalf("CountUsers = %d", n)
		}
	})

	t.Run("UserOfAnotherTenantIsNotFound", func(t *testing.T) {
		a, b := mustTenant(t, st), mustTenant(t, st)
		u := &geoetl.User{TenantID: a.ID, Name: unique("ivan"), Role: geoetl.RoleViewer}
		noErr(t, st.CreateUser(bg, u))
		_, err := st.FindUserByID(bg, b.ID, u.ID)
		wantCode(t, err, geoetl.ENOTFOUND)
		_, err = st.UpdateUser(bg, b.ID, u.ID, geoetl.UserUpdate{})
		wantCode(t, err, geoetl.ENOTFOUND)
		wantCode(t, st.DeleteUser(bg, b.ID, u.ID), geoetl.ENOTFOUND)
		list, err := st.ListUsers(bg, b.ID)
		noErr(t, err)
		if len(list) != 0 {
			t.Fatalf("ListUsers of another tenant = %d users", len(list))
		}
		for _, id := range badIDs {
			_, err := st.FindUserByID(bg, a.ID, id)
			wantCode(t, err, geoetl.ENOTFOUND)
		}
	})

	t.Run("TokenLifecycle", func(t *testing.T) {
		a, b := mustTenant(t, st), mustTenant(t, st)
		tok := &geoetl.APIToken{TenantID: a.ID, Name: "ci", Role: geoetl.RoleEditor, Hash: unique("hash"), Prefix: "geo_ab", CreatedBy: "alice"}
		noErr(t, st.CreateToken(bg, tok))
		got, err := st.FindTokenByHash(bg, tok.Hash)
		noErr(t, err)
		sameJSON(t, "token", got, tok)
		wantCode(t, st.CreateToken(bg, &geoetl.APIToken{TenantID: b.ID, Name: "dup", Role: geoetl.RoleViewer, Hash: tok.Hash}), geoetl.ECONFLICT)
		used := epoch.Add(time.Minute)
		noErr(t, st.TouchToken(bg, tok.ID, used))
		wantCode(t, st.RevokeToken(bg, b.ID, tok.ID, used), geoetl.ENOTFOUND)
		revoked := epoch.Add(2 * time.Minute)
		noErr(t, st.RevokeToken(bg, a.ID, tok.ID, revoked))
		got, err = st.FindTokenByHash(bg, tok.Hash)
		noErr(t, err)
		if got.LastUsedAt == nil || !got.LastUsedAt.Equal(used) || got.RevokedAt == nil || !got.RevokedAt.Equal(revoked) {
			t.Fatalf("after touch and revoke: %+v", got)
		}
		list, err := st.ListTokens(bg, a.ID)
		noErr(t, err)
		sameIDs(t, "ListTokens", ids(list, func(x *geoetl.APIToken) string { return x.ID }), []string{tok.ID})
		list, err = st.ListTokens(bg, b.ID)
		noErr(t, err)
		if len(list) != 0 {
			t.Fatal("ListTokens shows another tenant's token")
		}
		_, err = st.FindTokenByHash(bg, "no such hash")
		wantCode(t, err, geoetl.ENOTFOUND)
	})

	t.Run("SessionExpiresByStoreClock", func(t *testing.T) {
		ten := mustTenant(t, st)
		u := &geoetl.User{TenantID: ten.ID, Name: unique("judy"), Role: geoetl.RoleViewer}
		noErr(t, st.CreateUser(bg, u))
		se := &geoetl.Session{IDHash: unique("sess"), UserID: u.ID, TenantID: ten.ID, CSRFToken: "csrf", ExpiresAt: clk.Now().Add(time.Hour)}
		noErr(t, st.CreateSession(bg, se))
		got, err := st.FindSession(bg, se.IDHash)
		noErr(t, err)
		sameJSON(t, "session", got, se)
		clk.Advance(time.Hour)
		_, err = st.FindSession(bg, se.IDHash)
		wantCode(t, err, geoetl.ENOTFOUND)
		n, err := st.DeleteExpiredSessions(bg, clk.Now())
		noErr(t, err)
		if n < 1 {
			t.Fatalf("DeleteExpiredSessions = %d, want at least 1", n)
		}
		clk.Advance(-time.Hour)
		_, err = st.FindSession(bg, se.IDHash)
		wantCode(t, err, geoetl.ENOTFOUND)
	})

	t.Run("CredentialChangeEndsOtherSessions", func(t *testing.T) {
		ten := mustTenant(t, st)
		u := &geoetl.User{TenantID: ten.ID, Name: unique("max"), Role: geoetl.RoleViewer, PasswordHash: "old"}
		noErr(t, st.CreateUser(bg, u))
		other := &geoetl.User{TenantID: ten.ID, Name: unique("nia"), Role: geoetl.RoleViewer}
		noErr(t, st.CreateUser(bg, other))
		open := func(uid string) string {
			se := &geoetl.Session{IDHash: unique("sess"), UserID: uid, TenantID: ten.ID, ExpiresAt: clk.Now().Add(time.Hour)}
			noErr(t, st.CreateSession(bg, se))
			return se.IDHash
		}
		alive := func(h string) bool {
			_, err := st.FindSession(bg, h)
			return err == nil
		}
		keep, drop, bystander := open(u.ID), open(u.ID), open(other.ID)
		// A change of role or email keeps sessions.
		role := geoetl.RoleEditor
		_, err := st.UpdateUser(bg, ten.ID, u.ID, geoetl.UserUpdate{Role: &role})
		noErr(t, err)
		if !alive(keep) || !alive(drop) {
			t.Fatal("a role change ended sessions")
		}
		hash := "new"
		_, err = st.UpdateUser(bg, ten.ID, u.ID, geoetl.UserUpdate{PasswordHash: &hash, KeepSession: keep})
		noErr(t, err)
		if !alive(keep) || alive(drop) || !alive(bystander) {
			t.Fatalf("after a password change: kept %v, other %v, another user's %v; want true, false, true", alive(keep), alive(drop), alive(bystander))
		}
		later := open(u.ID)
		yes, no := true, false
		_, err = st.UpdateUser(bg, ten.ID, u.ID, geoetl.UserUpdate{Disabled: &yes})
		noErr(t, err)
		_, err = st.UpdateUser(bg, ten.ID, u.ID, geoetl.UserUpdate{Disabled: &no})
		noErr(t, err)
		if alive(keep) || alive(later) || !alive(bystander) {
			t.Fatal("disabling a user left their sessions, or ended another user's")
		}
	})

	t.Run("SessionGoesWithItsUser", func(t *testing.T) {
		ten := mustTenant(t, st)
		u := &geoetl.User{TenantID: ten.ID, Name: unique("kim"), Role: geoetl.RoleViewer}
		noErr(t, st.CreateUser(bg, u))
		se := &geoetl.Session{IDHash: unique("sess"), UserID: u.ID, TenantID: ten.ID, ExpiresAt: clk.Now().Add(time.Hour)}
		noErr(t, st.CreateSession(bg, se))
		noErr(t, st.DeleteSession(bg, unique("nothing")))
		noErr(t, st.DeleteUser(bg, ten.ID, u.ID))
		_, err := st.FindSession(bg, se.IDHash)
		wantCode(t, err, geoetl.ENOTFOUND)
		// A session must name the user's own tenant.
		v := &geoetl.User{TenantID: ten.ID, Name: unique("lee"), Role: geoetl.RoleViewer}
		noErr(t, st.CreateUser(bg, v))
		other := mustTenant(t, st)
		wantCode(t, st.CreateSession(bg, &geoetl.Session{IDHash: unique("sess"), UserID: v.ID, TenantID: other.ID, ExpiresAt: clk.Now().Add(time.Hour)}), geoetl.ENOTFOUND)
	})
}
