package etl

import (
	"fmt"
	"slices"
	"strings"

	geoetl "github.com/geoetl/geoetl"
)

// Connections are named in configuration, and each is usable only by the
// tenants it is granted to: GEOETL_CONNECTION_<NAME>_TENANTS=a,b. A
// connection without a grant is usable by the default tenant only, so
// that adding a tenant never hands it the install's databases.

const (
	connEnvPrefix  = "GEOETL_CONNECTION_"
	grantEnvSuffix = "_TENANTS"
)

// ConnectionsFromEnv reads GEOETL_CONNECTION_<NAME>=postgres://... entries
// (as from os.Environ) into a map keyed by the lower-cased name. Variables
// ending in _TENANTS are grants (see ConnectionGrantsFromEnv), not
// connections.
func ConnectionsFromEnv(environ []string) map[string]string {
	out := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, connEnvPrefix) || len(k) == len(connEnvPrefix) || v == "" || strings.HasSuffix(k, grantEnvSuffix) {
			continue
		}
		out[strings.ToLower(k[len(connEnvPrefix):])] = v
	}
	return out
}

// ConnectionGrantsFromEnv reads GEOETL_CONNECTION_<NAME>_TENANTS=a,b
// entries into a map from the lower-cased connection name to the tenant
// names (exact, case-sensitive) it is granted to.
func ConnectionGrantsFromEnv(environ []string) map[string][]string {
	out := map[string][]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, connEnvPrefix) || !strings.HasSuffix(k, grantEnvSuffix) || len(k) <= len(connEnvPrefix)+len(grantEnvSuffix) {
			continue
		}
		name := strings.ToLower(k[len(connEnvPrefix) : len(k)-len(grantEnvSuffix)])
		tenants := []string{}
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				tenants = append(tenants, t)
			}
		}
		out[name] = tenants
	}
	return out
}

// granted reports whether a tenant may use a connection name. The answer
// is the same whether or not the connection exists, so that a tenant
// cannot probe for the install's connection names.
func (e *Engine) granted(tenant, conn string) bool {
	tenants, ok := e.cfg.ConnectionGrants[strings.ToLower(conn)]
	if !ok {
		return tenant == geoetl.DefaultTenantName
	}
	return slices.Contains(tenants, tenant)
}

func notGranted(conn string) string {
	return fmt.Sprintf("connection %q is not granted to this tenant", conn)
}

// checkGrants adds a field error for every node whose connection, as far
// as it is known, is not granted to the tenant. Templated connection
// names are left to the run, which checks them after substitution.
func (e *Engine) checkGrants(tenant string, d *Definition, fe geoetl.FieldErrors) {
	for i := range d.Nodes {
		n := &d.Nodes[i]
		nt := e.cat.byType[n.Type]
		if nt == nil || nt.spec("connection") == nil {
			continue
		}
		raw, ok := n.Parameters["connection"]
		if !ok {
			continue
		}
		var name string
		if err := unmarshalJSON(raw, &name); err != nil || hasTemplate(name) {
			continue
		}
		if !e.granted(tenant, name) {
			fe.Add(nodeField(i, n)+".parameters.connection", "%s", notGranted(name))
		}
	}
}
