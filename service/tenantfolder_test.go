package service

import (
	"context"
	"testing"

	"github.com/geoetl/geoetl"
)

func TestCreateTenant_RefusesANameThatDiffersOnlyInCase(t *testing.T) {
	eachStore(t, func(t *testing.T, b *bundle) {
		_, err := b.svc.CreateTenant(context.Background(), "ACME")
		if geoetl.ErrorCode(err) != geoetl.ECONFLICT {
			t.Fatalf("err = %v, want a conflict with acme", err)
		}
		for _, name := range []string{"..", ".acme"} {
			if _, err := b.svc.CreateTenant(context.Background(), name); geoetl.ErrorCode(err) != geoetl.EINVALID {
				t.Errorf("CreateTenant(%q) = %v, want invalid", name, err)
			}
		}
	})
}
