package etl

import (
	"context"
	"errors"
	"fmt"

	"github.com/expr-lang/expr"
	"github.com/peterstace/simplefeatures/geom"

	"github.com/geoetl/geoetl/etl/crs"
	"github.com/geoetl/geoetl/etl/feature"
)

// mapFeatures builds a one-input transform that handles features one by
// one; fn returns keep false to drop a feature.
func mapFeatures(fn func(nc *nodeCtx, f Feature) (Feature, bool, error)) nodeFunc {
	return func(ctx context.Context, nc *nodeCtx) error {
		n := 0
		return nc.each(ctx, func(f Feature) error {
			n++
			out, keep, err := fn(nc, f)
			if err != nil {
				return fmt.Errorf("feature %d%s: %w", n, feature.IDSuffix(f), err)
			}
			if !keep {
				return nil
			}
			return nc.emit(ctx, out)
		})
	}
}

func withGeometry(f Feature, g geom.Geometry) Feature {
	f.Geometry = g
	return f
}

// transformerCache keeps one transformer per source CRS.
type transformerCache struct {
	to int
	m  map[int]*crs.Transformer
}

func (c *transformerCache) get(from int) (*crs.Transformer, error) {
	if t, ok := c.m[from]; ok {
		return t, nil
	}
	t, err := crs.NewTransformer(from, c.to)
	if err != nil {
		return nil, err
	}
	if c.m == nil {
		c.m = map[int]*crs.Transformer{}
	}
	c.m[from] = t
	return t, nil
}

func oneInput(t *NodeType) *NodeType {
	t.Category, t.MinInputs, t.MaxInputs, t.HasOutput = "transform", 1, 1, true
	return t
}

func (e *Engine) reprojectNode() *NodeType {
	return oneInput(&NodeType{
		Type:        "geoprocessing.reproject",
		Description: "Transforms coordinates to another CRS: any EPSG or ESRI geographic CRS, or projected CRS with a common method (transverse Mercator, Lambert conic, Albers, azimuthal equal area, stereographic, oblique Mercator, Mercator, Cassini, equidistant cylindrical, Krovak), a WKT or a PROJ string, with the datum transformation PROJ would choose; results agree with PROJ's cs2cs to 1 mm.",
		Parameters: []ParamSpec{
			{Name: "target_crs", Type: "crs", Required: true, Description: "CRS to transform to, e.g. \"EPSG:3857\"."},
			{Name: "source_crs", Type: "crs", Description: "CRS of the input when its own is wrong or missing; default: the input's."},
		},
		build: func(p params) (nodeFunc, error) {
			cache := &transformerCache{to: p.crsCode("target_crs")}
			override := p.crsCode("source_crs")
			noted := map[int]bool{}
			return mapFeatures(func(nc *nodeCtx, f Feature) (Feature, bool, error) {
				from := f.CRS
				if override != 0 {
					from = override
				}
				t, err := cache.get(from)
				if err != nil {
					return f, false, err
				}
				// A missing grid or a fallback without datum shift is
				// said once per source CRS in the run log.
				if n := t.Note(); n != "" && !noted[from] {
					noted[from] = true
					nc.r.log("warn", nc.id, n)
				}
				g := f.Geometry
				if !t.Identity() {
					if g, err = transformGeometry(g, t); err != nil {
						return f, false, err
					}
				}
				f.Geometry, f.CRS = g, cache.to
				return f, true, nil
			}), nil
		},
	})
}

func (e *Engine) simplifyNode() *NodeType {
	return withInvalidParam(oneInput(&NodeType{
		Type:        "geoprocessing.simplify",
		Description: "Simplifies lines and polygon rings with the Ramer-Douglas-Peucker algorithm. With preserve_topology (the default) a feature whose simplified geometry would be invalid or collapse keeps its original geometry.",
		Parameters: []ParamSpec{
			{Name: "tolerance", Type: "number", Required: true, Description: "Largest distance a removed vertex may lie from the result, in CRS units."},
			{Name: "preserve_topology", Type: "boolean", Default: true, Description: "Never produce invalid or collapsed geometries."},
		},
		check: func(p params, add func(string, string, ...any)) {
			if p.has("tolerance") && p.num("tolerance") < 0 {
				add("tolerance", "must not be negative")
			}
		},
		build: func(p params) (nodeFunc, error) {
			tol := p.num("tolerance")
			keep := p.boolean("preserve_topology")
			kept := 0
			fn := mapFeatures(guardGeometry(invalidMode(p), func(nc *nodeCtx, f Feature) (Feature, bool, error) {
				if keep {
					g, err := f.Geometry.Simplify(tol)
					if err != nil || (g.IsEmpty() && !f.Geometry.IsEmpty()) {
						kept++
						return f, true, nil
					}
					return withGeometry(f, g), true, nil
				}
				g, err := f.Geometry.Simplify(tol, geom.NoValidate{})
				if err != nil {
					return f, false, err
				}
				return withGeometry(f, g), true, nil
			}))
			return logInvalid(func(ctx context.Context, nc *nodeCtx) error {
				kept = 0
				err := fn(ctx, nc)
				if kept > 0 {
					nc.log("info", "%d geometries kept unsimplified to preserve topology", kept)
				}
				return err
			}), nil
		},
	}))
}

func (e *Engine) bufferNode() *NodeType {
	return withInvalidParam(oneInput(&NodeType{
		Type:        "geoprocessing.buffer",
		Description: "Replaces each geometry by the area within distance of it (round joins and caps). Distance is in CRS units (degrees for EPSG:4326: reproject to a metric CRS first); a negative distance shrinks polygons.",
		Parameters: []ParamSpec{
			{Name: "distance", Type: "number", Required: true, Description: "Buffer distance in CRS units."},
			{Name: "segments", Type: "integer", Default: int64(8), Description: "Segments per quarter circle."},
		},
		check: func(p params, add func(string, string, ...any)) {
			if p.has("segments") && (p.integer("segments") < 1 || p.integer("segments") > 100) {
				add("segments", "must be between 1 and 100")
			}
		},
		build: func(p params) (nodeFunc, error) {
			d, segs := p.num("distance"), int(p.integer("segments"))
			if segs < 1 {
				segs = 8
			}
			return logInvalid(mapFeatures(guardGeometry(invalidMode(p), func(_ *nodeCtx, f Feature) (Feature, bool, error) {
				g, err := bufferGeometry(f.Geometry, d, segs)
				if err != nil {
					return f, false, err
				}
				return withGeometry(f, g), true, nil
			}))), nil
		},
	}))
}

func (e *Engine) clipNode() *NodeType {
	return withInvalidParam(oneInput(&NodeType{
		Type:        "geoprocessing.clip",
		Description: "Keeps the part of each geometry inside a rectangle or a polygon; features entirely outside are dropped.",
		Parameters: []ParamSpec{
			{Name: "bbox", Type: "bbox", Description: "[minx, miny, maxx, maxy] in the clip CRS."},
			{Name: "geometry", Type: "geometry", Description: "Clip polygon as GeoJSON or WKT, in the clip CRS."},
			{Name: "crs", Type: "crs", Description: "CRS of bbox or geometry; default: the features' CRS."},
		},
		check: func(p params, add func(string, string, ...any)) {
			if p.has("bbox") && p.has("geometry") {
				add("geometry", "give bbox or geometry, not both")
			}
			if p.has("geometry") && p["geometry"].(geom.Geometry).Dimension() != 2 {
				add("geometry", "must be a polygon or multipolygon")
			}
		},
		build: func(p params) (nodeFunc, error) {
			var clip geom.Geometry
			switch {
			case p.has("bbox"):
				b := p["bbox"].([]float64)
				clip = geom.NewEnvelope(geom.XY{X: b[0], Y: b[1]}, geom.XY{X: b[2], Y: b[3]}).AsGeometry()
			case p.has("geometry"):
				clip = p["geometry"].(geom.Geometry)
			default:
				return nil, errors.New("one of bbox and geometry is required")
			}
			clipCRS := p.crsCode("crs")
			perCRS := map[int]geom.Geometry{}
			return logInvalid(mapFeatures(guardGeometry(invalidMode(p), func(_ *nodeCtx, f Feature) (Feature, bool, error) {
				c, ok := perCRS[f.CRS]
				if !ok {
					c = clip
					if clipCRS != 0 && clipCRS != f.CRS {
						t, err := crs.NewTransformer(clipCRS, f.CRS)
						if err != nil {
							return f, false, err
						}
						if c, err = transformGeometry(densify(clip), t); err != nil {
							return f, false, err
						}
					}
					perCRS[f.CRS] = c
				}
				if f.Geometry.IsEmpty() {
					return f, false, nil
				}
				fe, ce := f.Geometry.Envelope(), c.Envelope()
				if !fe.Intersects(ce) {
					return f, false, nil
				}
				if p.has("bbox") && clipCRS == 0 && ce.Covers(fe) {
					return f, true, nil
				}
				g, err := geom.Intersection(f.Geometry, c)
				if err != nil {
					return f, false, err
				}
				if g.IsEmpty() {
					return f, false, nil
				}
				return withGeometry(f, g), true, nil
			}))), nil
		},
	}))
}

// densify adds vertices to a clip shape before it is transformed, so that
// its straight edges stay close to straight in the other CRS.
func densify(g geom.Geometry) geom.Geometry {
	env := g.Envelope()
	w, h := env.Width(), env.Height()
	step := max(w, h) / 64
	if step <= 0 {
		return g
	}
	return g.Densify(step)
}

func (e *Engine) filterNode() *NodeType {
	return oneInput(&NodeType{
		Type:        "geoprocessing.filter",
		Description: "Keeps the features whose attributes satisfy an expression, e.g. kind == \"a\" && id > 10 (expr language: ==, !=, <, >, and/&&, or/||, not, in, matches, contains, startsWith, lower(), len(), ...). A missing attribute is nil. Each feature's evaluation has a budget of 1,000,000 steps and 16 MiB; going over it fails the node.",
		Parameters: []ParamSpec{
			{Name: "expression", Type: "string", Required: true, Description: "Boolean expression over the feature's attributes."},
		},
		check: func(p params, add func(string, string, ...any)) {
			if p.has("expression") {
				if _, err := compileExpression(p.str("expression"), expr.AsBool()); err != nil {
					add("expression", "%v", err)
				}
			}
		},
		build: func(p params) (nodeFunc, error) {
			x, err := compileExpression(p.str("expression"), expr.AsBool())
			if err != nil {
				return nil, err
			}
			return mapFeatures(func(_ *nodeCtx, f Feature) (Feature, bool, error) {
				out, err := x.run(f.Props.Map())
				if errors.Is(err, errBudget) {
					return f, false, err
				}
				if err != nil {
					return f, false, fmt.Errorf("expression: %v", err)
				}
				b, _ := out.(bool)
				return f, b, nil
			}), nil
		},
	})
}

func (e *Engine) centroidNode() *NodeType {
	return withInvalidParam(oneInput(&NodeType{
		Type:        "geoprocessing.centroid",
		Description: "Replaces each geometry by its centroid (of the highest-dimension parts).",
		Parameters:  []ParamSpec{},
		build: func(p params) (nodeFunc, error) {
			return logInvalid(mapFeatures(guardGeometry(invalidMode(p), func(_ *nodeCtx, f Feature) (Feature, bool, error) {
				return withGeometry(f, f.Geometry.Centroid().AsGeometry()), true, nil
			}))), nil
		},
	}))
}

func (e *Engine) validateNode() *NodeType {
	return oneInput(&NodeType{
		Type:        "geoprocessing.validate_geometry",
		Description: "Checks every geometry against the OGC simple-feature rules. action drop removes invalid features, fail stops the node at the first one, repair fixes them as PostGIS's ST_MakeValid does (rings are split at their self-intersections and the area rebuilt by the even-odd rule, so overlapping multipolygon parts leave out their overlap; collapsed spikes are dropped).",
		Parameters: []ParamSpec{
			{Name: "action", Type: "string", Default: "repair", Enum: []string{"drop", "fail", "repair"}, Description: "What to do with an invalid geometry."},
		},
		build: func(p params) (nodeFunc, error) {
			action := p.str("action")
			var dropped, repaired int
			fn := mapFeatures(func(_ *nodeCtx, f Feature) (Feature, bool, error) {
				verr := f.Geometry.Validate()
				if verr == nil {
					return f, true, nil
				}
				switch action {
				case "drop":
					dropped++
					return f, false, nil
				case "fail":
					return f, false, fmt.Errorf("invalid geometry: %v", verr)
				}
				g, err := repairGeometry(f.Geometry)
				if err != nil {
					return f, false, err
				}
				repaired++
				return withGeometry(f, g), true, nil
			})
			return func(ctx context.Context, nc *nodeCtx) error {
				dropped, repaired = 0, 0
				err := fn(ctx, nc)
				if dropped > 0 {
					nc.log("warn", "%d features with invalid geometries dropped", dropped)
				}
				if repaired > 0 {
					nc.log("info", "%d invalid geometries repaired", repaired)
				}
				return err
			}, nil
		},
	})
}
