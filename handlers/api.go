package handlers

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/service"
)

// apiRoute is one route of the REST API. The table of these (apiRoutes)
// both registers the routes and produces /openapi.json, so the document
// cannot drift from what is served.
type apiRoute struct {
	Method string
	Path   string // OpenAPI style: /admin/api/geoetl/schedules/{id}
	// Role is the least role the route needs; "" makes it public.
	Role    geoetl.Role
	Handle  func(*Server, echo.Context) error
	Tag     string
	Summary string
	Query   []queryParam
	// Body names the request body's schema in the OpenAPI components;
	// BodyOptional lets the body be left out.
	Body         string
	BodyOptional bool
	Status       int    // the success status
	Result       string // the success answer's schema; "" for no content
	ResultType   string // its media type; "" means application/json
	Errors       []int  // statuses besides the ones every route of its kind has
	// Location says the answer carries a Location header naming the
	// created (or started) object.
	Location bool
	// External marks an operational route, which registerOperationsRoutes
	// adds; the table only documents it.
	External bool
}

// queryParam documents a query parameter.
type queryParam struct {
	Name   string
	Schema map[string]any
	Doc    string
}

// registerAPIRoutes adds every route of the API table (apiRoutes) that is
// not an operational one, behind authentication and its role.
func (s *Server) registerAPIRoutes() {
	for _, r := range apiRoutes() {
		if r.External {
			continue
		}
		var mw []echo.MiddlewareFunc
		if r.Role != "" {
			mw = append(mw, s.requireAuth, requireRole(r.Role))
		}
		handle := r.Handle
		s.Echo.Add(r.Method, echoPath(r.Path), func(c echo.Context) error { return handle(s, c) }, mw...)
	}
	// Unknown paths under the API answer like the API: anonymous callers
	// learn nothing but 401, others get a problem document 404.
	s.Echo.RouteNotFound(APIPrefix+"/*", func(c echo.Context) error {
		return geoetl.Errorf(geoetl.ENOTFOUND, "No such API route: %s %s.", c.Request().Method, c.Request().URL.Path)
	}, s.requireAuth)
}

// echoPath turns /x/{id} into echo's /x/:id.
func echoPath(p string) string {
	return strings.NewReplacer("{", ":", "}", "").Replace(p)
}

// requireRole refuses callers whose role is below min with 403. It runs
// after requireAuth, so the caller is known.
func requireRole(min geoetl.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !principal(c).Role.Allows(min) {
				return geoetl.Errorf(geoetl.EFORBIDDEN, "This needs the %s role.", min)
			}
			return next(c)
		}
	}
}

// writeJSON encodes v into a buffer before writing, so an encoding failure
// becomes a clean error answer instead of half a body.
func writeJSON(c echo.Context, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.JSONBlob(status, b)
}

// listAnswer is the shape of every paged list.
type listAnswer struct {
	Items      any     `json:"items"`
	NextCursor *string `json:"nextCursor"`
	Total      int     `json:"total"`
}

func writeList(c echo.Context, items any, total int, next string) error {
	a := listAnswer{Items: items, Total: total}
	if next != "" {
		a.NextCursor = &next
	}
	return writeJSON(c, http.StatusOK, a)
}

// readBody reads the request body. The body limit turns an oversized body
// into a *http.MaxBytesError here, which the error handler answers 413.
func readBody(c echo.Context) ([]byte, error) {
	if c.Request().Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, geoetl.Errorf(geoetl.EINVALID, "The request body could not be read.")
	}
	return b, nil
}

// readObject reads a JSON object body. An empty body is an empty object
// when optional, else a 400 naming "body". A tenantId that is not the
// caller's is 403, whatever the route.
func readObject(c echo.Context, optional bool) (*service.Object, []byte, error) {
	b, err := readBody(c)
	if err != nil {
		return nil, nil, err
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		if optional {
			return service.EmptyObject(), nil, nil
		}
		return nil, nil, fieldError("body", "is required: send a JSON object")
	}
	o, err := service.ParseObject(b)
	if err != nil {
		return nil, nil, err
	}
	if err := service.CheckTenantClaim(principal(c), o.String("tenantId")); err != nil {
		return nil, nil, err
	}
	return o, b, nil
}

func fieldError(field, msg string) error {
	return &geoetl.Error{Code: geoetl.EINVALID, Message: "Validation failed.", Fields: map[string][]string{field: {msg}}}
}

// query returns a query parameter checked to be text the stores can
// compare (UTF-8, no NUL) and at most max bytes.
func query(c echo.Context, name string, max int) (string, error) {
	v := c.QueryParam(name)
	if err := service.CheckText(name, v); err != nil {
		return "", err
	}
	if len(v) > max {
		return "", fieldError(name, "must be at most "+strconv.Itoa(max)+" characters")
	}
	return v, nil
}

// queryInt reads an integer query parameter within [min, max], def when
// absent.
func queryInt(c echo.Context, name string, def, min, max int) (int, error) {
	v := c.QueryParam(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		return 0, fieldError(name, "must be an integer between "+strconv.Itoa(min)+" and "+strconv.Itoa(max))
	}
	return n, nil
}

// queryBool reads true/false, def when absent.
func queryBool(c echo.Context, name string, def bool) (bool, error) {
	switch c.QueryParam(name) {
	case "":
		return def, nil
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, fieldError(name, "must be true or false")
}

// queryTime reads an RFC 3339 time, nil when absent.
func queryTime(c echo.Context, name string) (*time.Time, error) {
	v := c.QueryParam(name)
	if v == "" {
		return nil, nil
	}
	t, err := service.ParseTime(v)
	if err != nil {
		return nil, fieldError(name, "must be an RFC 3339 time, e.g. 2027-01-31T23:00:00Z")
	}
	return &t, nil
}

// pageParams reads limit (default 50, 1-500), cursor and offset.
func pageParams(c echo.Context) (geoetl.Page, error) {
	var p geoetl.Page
	fe := geoetl.FieldErrors{}
	var err error
	if p.Limit, err = queryInt(c, "limit", geoetl.DefaultPageLimit, 1, geoetl.MaxPageLimit); err != nil {
		fe.Add("limit", "must be an integer between 1 and %d", geoetl.MaxPageLimit)
	}
	if p.Offset, err = queryInt(c, "offset", 0, 0, 1_000_000_000); err != nil {
		fe.Add("offset", "must be a non-negative integer")
	}
	if p.Cursor, err = query(c, "cursor", 1000); err != nil {
		fe.Add("cursor", "is not a valid cursor for this list")
	}
	return p, fe.Err()
}

// expectedVersion reads the lost-update guard: If-Match ("4", W/"4" or 4)
// or else the body's version. If-Match: * asks for no check.
func expectedVersion(c echo.Context, body *int) (*int, error) {
	h := strings.TrimSpace(c.Request().Header.Get("If-Match"))
	if h == "" {
		return body, nil
	}
	if h == "*" {
		return nil, nil
	}
	h = strings.Trim(strings.TrimPrefix(h, "W/"), `"`)
	n, err := strconv.Atoi(h)
	if err != nil || n < 1 {
		return nil, fieldError("If-Match", `must be the version as an entity tag, e.g. "4"`)
	}
	return &n, nil
}

// setVersionTag sets the ETag of a versioned object, for If-Match.
func setVersionTag(c echo.Context, version int) {
	c.Response().Header().Set("ETag", `"`+strconv.Itoa(version)+`"`)
}
