package crs

import (
	"errors"
	"strings"
)

func looksLikeWKT(u string) bool {
	for _, k := range []string{"PROJCS[", "GEOGCS[", "PROJCRS[", "GEOGCRS[", "GEODCRS[", "BASEGEOGCRS["} {
		if strings.HasPrefix(u, k) {
			return true
		}
	}
	return false
}

func parseWKT(s string) (int, error) { return 0, errors.New("WKT CRS definitions are not supported yet") }

func parseProjString(s string) (int, error) {
	return 0, errors.New("PROJ string CRS definitions are not supported yet")
}
