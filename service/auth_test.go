package service

import (
	"context"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

func TestLogin_ByNameOrEmailAndSessionLifetime(t *testing.T) {
	eachStore(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		u, err := b.svc.CreateUserAsSystem(ctx, &geoetl.User{TenantID: b.tenant, Name: "ada", Email: "Ada@Example.com", Role: geoetl.RoleEditor}, "correct horse")
		if err != nil {
			t.Fatal(err)
		}
		for _, login := range []string{"ada", "ada@example.com", " ADA@EXAMPLE.COM "} {
			if _, _, _, err := b.svc.Login(ctx, login, "correct horse"); err != nil {
				t.Errorf("login as %q: %v", login, err)
			}
		}
		for _, tc := range [][2]string{{"ada", "wrong"}, {"nobody", "correct horse"}, {"", ""}} {
			if _, _, _, err := b.svc.Login(ctx, tc[0], tc[1]); err != ErrBadLogin {
				t.Errorf("login %v: %v, want the one bad-login error", tc, err)
			}
		}
		id, _, _, err := b.svc.Login(ctx, "ada", "correct horse")
		if err != nil {
			t.Fatal(err)
		}
		p, _, err := b.svc.AuthenticateSession(ctx, id)
		if err != nil || p.UserID != u.ID || p.Role != geoetl.RoleEditor || p.TenantID != b.tenant || p.Actor != "ada" {
			t.Fatalf("session principal: %+v %v", p, err)
		}
		b.clock.Advance(SessionLifetime + time.Second)
		if _, _, err := b.svc.AuthenticateSession(ctx, id); geoetl.ErrorCode(err) != geoetl.EUNAUTHORIZED {
			t.Fatalf("expired session: %v", err)
		}
		id, _, _, _ = b.svc.Login(ctx, "ada", "correct horse")
		if err := b.svc.Logout(ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, _, err := b.svc.AuthenticateSession(ctx, id); geoetl.ErrorCode(err) != geoetl.EUNAUTHORIZED {
			t.Fatalf("session after logout: %v", err)
		}
	})
}

func TestTokens_HashedRevocableAndTouchedAtMostOncePerMinute(t *testing.T) {
	eachStore(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		admin := geoetl.Principal{TenantID: b.tenant, ActorID: "a", Actor: "root", Role: geoetl.RoleAdmin}
		tk, secret, err := b.svc.CreateToken(ctx, admin, " deploy ", geoetl.RoleEditor)
		if err != nil {
			t.Fatal(err)
		}
		if tk.Name != "deploy" || tk.Hash != HashSecret(secret) || tk.Hash == secret || tk.Prefix != secret[:len(tk.Prefix)] {
			t.Fatalf("token: %+v", tk)
		}
		p, err := b.svc.AuthenticateToken(ctx, secret)
		if err != nil || p.Role != geoetl.RoleEditor || p.Actor != "token:deploy" || p.TokenID != tk.ID {
			t.Fatalf("token principal: %+v %v", p, err)
		}
		lastUsed := func() time.Time {
			ts, err := b.svc.ListTokens(ctx, admin)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range ts {
				if x.ID == tk.ID && x.LastUsedAt != nil {
					return *x.LastUsedAt
				}
			}
			return time.Time{}
		}
		if !lastUsed().Equal(t0) {
			t.Fatalf("last used %v, want %v", lastUsed(), t0)
		}
		b.clock.Advance(30 * time.Second)
		b.svc.AuthenticateToken(ctx, secret)
		if !lastUsed().Equal(t0) {
			t.Fatalf("touched again within a minute: %v", lastUsed())
		}
		b.clock.Advance(31 * time.Second)
		b.svc.AuthenticateToken(ctx, secret)
		if !lastUsed().Equal(t0.Add(61 * time.Second)) {
			t.Fatalf("not touched after a minute: %v", lastUsed())
		}
		if err := b.svc.RevokeToken(ctx, admin, tk.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := b.svc.AuthenticateToken(ctx, secret); geoetl.ErrorCode(err) != geoetl.EUNAUTHORIZED {
			t.Fatalf("revoked token: %v", err)
		}
		if _, _, err := b.svc.CreateToken(ctx, b.editor, "x", geoetl.RoleViewer); geoetl.ErrorCode(err) != geoetl.EFORBIDDEN {
			t.Fatalf("editor creating a token: %v", err)
		}
	})
}

func TestUpdateUser_AdminCannotDemoteOrDisableThemselves(t *testing.T) {
	eachStore(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		u, err := b.svc.CreateUserAsSystem(ctx, &geoetl.User{TenantID: b.tenant, Name: "root", Role: geoetl.RoleAdmin}, "long enough")
		if err != nil {
			t.Fatal(err)
		}
		self := geoetl.Principal{TenantID: b.tenant, ActorID: u.ID, Actor: "root", Role: geoetl.RoleAdmin, UserID: u.ID}
		viewer, yes := geoetl.RoleViewer, true
		if _, err := b.svc.UpdateUser(ctx, self, u.ID, geoetl.UserUpdate{Role: &viewer}, nil); !geoetl.IsConflict(err) {
			t.Fatalf("self-demotion: %v", err)
		}
		if _, err := b.svc.UpdateUser(ctx, self, u.ID, geoetl.UserUpdate{Disabled: &yes}, nil); !geoetl.IsConflict(err) {
			t.Fatalf("self-disable: %v", err)
		}
		if err := b.svc.DeleteUser(ctx, self, u.ID); !geoetl.IsConflict(err) {
			t.Fatalf("self-delete: %v", err)
		}
		pw := "a new password"
		if _, err := b.svc.UpdateUser(ctx, self, u.ID, geoetl.UserUpdate{}, &PasswordChange{New: pw}); geoetl.ErrorFields(err)["currentPassword"] == nil {
			t.Fatalf("own password changed without the current one: %v", err)
		}
		wrong := "not it at all"
		if _, err := b.svc.UpdateUser(ctx, self, u.ID, geoetl.UserUpdate{}, &PasswordChange{New: pw, Current: &wrong}); geoetl.ErrorFields(err)["currentPassword"] == nil {
			t.Fatalf("own password changed with a wrong current one: %v", err)
		}
		cur := "long enough"
		if _, err := b.svc.UpdateUser(ctx, self, u.ID, geoetl.UserUpdate{}, &PasswordChange{New: pw, Current: &cur}); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := b.svc.Login(ctx, "root", pw); err != nil {
			t.Fatalf("login with the changed password: %v", err)
		}
	})
}

func TestBootstrap_CreatesDefaultTenantAndAdminOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		tn, generated, created, err := b.svc.Bootstrap(ctx, "")
		if err != nil || !created || generated == "" || tn.Name != geoetl.DefaultTenantName {
			t.Fatalf("first bootstrap: %v %q %v %v", tn, generated, created, err)
		}
		if _, _, _, err := b.svc.Login(ctx, geoetl.AdminUserName, generated); err != nil {
			t.Fatalf("admin login with the generated password: %v", err)
		}
		_, _, created, err = b.svc.Bootstrap(ctx, "")
		if err != nil || created {
			t.Fatalf("second bootstrap: %v %v", created, err)
		}
	})
}

func TestWebhookSecret_StableUntilRotated(t *testing.T) {
	eachStore(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		admin := geoetl.Principal{TenantID: b.tenant, ActorID: "a", Actor: "root", Role: geoetl.RoleAdmin}
		s1, err := b.svc.WebhookSecret(ctx, admin)
		if err != nil || len(s1) < 32 {
			t.Fatalf("secret: %q %v", s1, err)
		}
		s2, _ := b.svc.WebhookSecret(ctx, admin)
		s3, err := b.svc.RotateWebhookSecret(ctx, admin)
		if err != nil || s1 != s2 || s3 == s1 {
			t.Fatalf("secrets %q %q %q (%v)", s1, s2, s3, err)
		}
		if _, err := b.svc.WebhookSecret(ctx, b.editor); geoetl.ErrorCode(err) != geoetl.EFORBIDDEN {
			t.Fatalf("editor reading the secret: %v", err)
		}
	})
}
