package etl

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/peterstace/simplefeatures/geom"
)

// The nodes in this file need more than one feature at a time. union,
// dissolve and convex_hull (unless per feature) read their whole input:
// their result depends on every feature. They fold geometries in chunks
// so memory holds one chunk plus the running result, not the data set.
// intersection and difference read their second input (the overlay
// layer) completely, since each subject feature is compared with all of
// it, while the subject input is spooled (see spool.go) and then streamed.

// foldChunk is how many geometries are merged into a running result at a
// time.
const foldChunk = 2000

// unionFolder accumulates the union of many geometries.
type unionFolder struct {
	acc   geom.Geometry
	chunk []geom.Geometry
	n     int
}

func (u *unionFolder) add(g geom.Geometry) error {
	u.n++
	if g.IsEmpty() {
		return nil
	}
	u.chunk = append(u.chunk, g)
	if len(u.chunk) >= foldChunk {
		return u.fold()
	}
	return nil
}

func (u *unionFolder) fold() error {
	if len(u.chunk) == 0 {
		return nil
	}
	gs := u.chunk
	if !u.acc.IsEmpty() {
		gs = append(gs, u.acc)
	}
	r, err := unionAll(gs)
	if err != nil {
		return fmt.Errorf("union: %v", err)
	}
	u.acc, u.chunk = r, u.chunk[:0]
	return nil
}

func (u *unionFolder) result() (geom.Geometry, error) {
	err := u.fold()
	return u.acc, err
}

// crsAligner transforms geometries to the first CRS it sees.
type crsAligner struct {
	crs   int
	cache *transformerCache
}

func (a *crsAligner) align(f Feature) (geom.Geometry, error) {
	if a.crs == 0 {
		a.crs = f.CRS
		a.cache = &transformerCache{to: f.CRS}
	}
	if f.CRS == a.crs {
		return f.Geometry, nil
	}
	t, err := a.cache.get(f.CRS)
	if err != nil {
		return geom.Geometry{}, err
	}
	return transformGeometry(f.Geometry, t)
}

func (e *Engine) unionNode() *NodeType {
	return &NodeType{
		Type: "geoprocessing.union", Category: "transform", MinInputs: 1, MaxInputs: -1, HasOutput: true,
		InputNotes:  "Any number of inputs; all their features are merged.",
		Description: "Merges the geometries of all features of all inputs into one feature (attribute feature_count). Inputs in other CRSs are transformed to the first feature's CRS. Reads its whole input.",
		Parameters:  []ParamSpec{invalidGeometryParam},
		build: func(p params) (nodeFunc, error) {
			mode := invalidMode(p)
			return logInvalid(func(ctx context.Context, nc *nodeCtx) error {
				var u unionFolder
				var al crsAligner
				seen := 0
				if err := nc.each(ctx, func(f Feature) error {
					seen++
					g, keep, err := nc.checkFeature(mode, "feature", seen, f)
					if err != nil || !keep {
						return err
					}
					if g, err = al.align(withGeometry(f, g)); err != nil {
						return err
					}
					return u.add(g)
				}); err != nil {
					return err
				}
				if u.n == 0 {
					return nil
				}
				g, err := u.result()
				if err != nil {
					return err
				}
				return nc.emit(ctx, Feature{Geometry: g, CRS: al.crs, Props: Properties{{Key: "feature_count", Value: int64(u.n)}}})
			}), nil
		},
	}
}

func (e *Engine) dissolveNode() *NodeType {
	return withInvalidParam(oneInput(&NodeType{
		Type:        "geoprocessing.dissolve",
		Description: "Merges the geometries of features that share the values of the by attributes (all features when by is empty) into one feature per group, with the by attributes and feature_count. Reads its whole input.",
		Parameters: []ParamSpec{
			{Name: "by", Type: "strings", Description: "Attribute name or names to group by."},
		},
		build: func(p params) (nodeFunc, error) {
			by := p.strs("by")
			mode := invalidMode(p)
			return logInvalid(func(ctx context.Context, nc *nodeCtx) error {
				type group struct {
					props Properties
					u     unionFolder
				}
				groups := map[string]*group{}
				var order []string
				var al crsAligner
				seen := 0
				if err := nc.each(ctx, func(f Feature) error {
					seen++
					checked, keep, err := nc.checkFeature(mode, "feature", seen, f)
					if err != nil || !keep {
						return err
					}
					f = withGeometry(f, checked)
					props := make(Properties, len(by))
					var key strings.Builder
					for i, k := range by {
						v, _ := f.Props.Get(k)
						props[i] = Property{Key: k, Value: v}
						fmt.Fprintf(&key, "%T:%v\x00", v, v)
					}
					g, ok := groups[key.String()]
					if !ok {
						g = &group{props: props}
						groups[key.String()] = g
						order = append(order, key.String())
					}
					geomv, err := al.align(f)
					if err != nil {
						return err
					}
					return g.u.add(geomv)
				}); err != nil {
					return err
				}
				for _, k := range order {
					g := groups[k]
					res, err := g.u.result()
					if err != nil {
						return err
					}
					props := append(g.props, Property{Key: "feature_count", Value: int64(g.u.n)})
					if err := nc.emit(ctx, Feature{Geometry: res, CRS: al.crs, Props: props}); err != nil {
						return err
					}
					delete(groups, k)
				}
				return nil
			}), nil
		},
	}))
}

func (e *Engine) convexHullNode() *NodeType {
	return withInvalidParam(oneInput(&NodeType{
		Type:        "geoprocessing.convex_hull",
		Description: "The smallest convex polygon around all features' geometries, as one feature (attribute feature_count); with per_feature, the hull of each feature's own geometry instead.",
		Parameters: []ParamSpec{
			{Name: "per_feature", Type: "boolean", Default: false, Description: "Hull each feature separately, keeping its attributes."},
		},
		build: func(p params) (nodeFunc, error) {
			mode := invalidMode(p)
			if p.boolean("per_feature") {
				return logInvalid(mapFeatures(guardGeometry(mode, func(_ *nodeCtx, f Feature) (Feature, bool, error) {
					return withGeometry(f, f.Geometry.ConvexHull()), true, nil
				}))), nil
			}
			return logInvalid(func(ctx context.Context, nc *nodeCtx) error {
				var al crsAligner
				var hull geom.Geometry
				var chunk []geom.Geometry
				n := 0
				fold := func() {
					if len(chunk) == 0 {
						return
					}
					hull = geom.NewGeometryCollection(append(chunk, hull)).AsGeometry().ConvexHull()
					chunk = chunk[:0]
				}
				seen := 0
				if err := nc.each(ctx, func(f Feature) error {
					seen++
					g, keep, err := nc.checkFeature(mode, "feature", seen, f)
					if err != nil || !keep {
						return err
					}
					n++
					if g, err = al.align(withGeometry(f, g)); err != nil {
						return err
					}
					chunk = append(chunk, g)
					if len(chunk) >= foldChunk*5 {
						fold()
					}
					return nil
				}); err != nil {
					return err
				}
				if n == 0 {
					return nil
				}
				fold()
				return nc.emit(ctx, Feature{Geometry: hull, CRS: al.crs, Props: Properties{{Key: "feature_count", Value: int64(n)}}})
			}), nil
		},
	}))
}

// overlayNode builds intersection and difference: the first input (by edge
// order) is the subject, the second the overlay layer.
func (e *Engine) overlayNode(typ, desc string, op func(a, b geom.Geometry) (geom.Geometry, error), keepOutside bool) *NodeType {
	return &NodeType{
		Type: typ, Category: "transform", MinInputs: 2, MaxInputs: 2, HasOutput: true,
		InputNotes:  "Two inputs, in edge order: the first edge brings the subject features, the second the overlay layer.",
		Description: desc,
		Parameters:  []ParamSpec{invalidGeometryParam},
		build: func(p params) (nodeFunc, error) {
			mode := invalidMode(p)
			return logInvalid(func(ctx context.Context, nc *nodeCtx) error {
				if nc.inputCount() != 2 {
					return errors.New("needs exactly two inputs")
				}
				var u unionFolder
				var al crsAligner
				seen := 0
				var masks map[int]geom.Geometry
				var mask geom.Geometry
				readOverlay := func(b []Feature) error {
					for _, f := range b {
						seen++
						g, keep, err := nc.checkFeature(mode, "overlay feature", seen, f)
						if err != nil {
							return err
						}
						if !keep {
							continue
						}
						if g, err = al.align(withGeometry(f, g)); err != nil {
							return err
						}
						if err := u.add(g); err != nil {
							return err
						}
					}
					return nil
				}
				n := 0
				process := func(b []Feature) error {
					if masks == nil {
						// The overlay layer has been read whole: fold it once.
						var err error
						if mask, err = u.result(); err != nil {
							return err
						}
						masks = map[int]geom.Geometry{al.crs: mask}
					}
					for _, f := range b {
						n++
						checked, keep, err := nc.checkFeature(mode, "feature", n, f)
						if err != nil {
							return err
						}
						if !keep {
							continue
						}
						f = withGeometry(f, checked)
						m, ok := masks[f.CRS]
						if !ok {
							t, err := (&transformerCache{to: f.CRS}).get(al.crs)
							if err != nil {
								return err
							}
							if m, err = transformGeometry(mask, t); err != nil {
								return err
							}
							masks[f.CRS] = m
						}
						var g geom.Geometry
						switch {
						case m.IsEmpty() || !f.Geometry.Envelope().Intersects(m.Envelope()):
							if !keepOutside {
								continue
							}
							g = f.Geometry
						default:
							var err error
							if g, err = op(f.Geometry, m); err != nil {
								return fmt.Errorf("feature %d%s: %v", n, idSuffix(f), err)
							}
						}
						if g.IsEmpty() {
							continue
						}
						if err := nc.emit(ctx, withGeometry(f, g)); err != nil {
							return err
						}
					}
					return nil
				}
				return secondThenFirst(ctx, nc, readOverlay, process)
			}), nil
		},
	}
}

func (e *Engine) intersectionNode() *NodeType {
	return e.overlayNode("geoprocessing.intersection",
		"Keeps the part of each subject feature (first input) that lies inside the union of the overlay features (second input); subject attributes are kept, empty results dropped.",
		geom.Intersection, false)
}

func (e *Engine) differenceNode() *NodeType {
	return e.overlayNode("geoprocessing.difference",
		"Removes from each subject feature (first input) the part inside the union of the overlay features (second input); subject attributes are kept, empty results dropped.",
		geom.Difference, true)
}
