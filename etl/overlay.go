package etl

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/geoetl/geoetl/etl/feature"
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

// geometryIntake checks each feature's geometry against the node's
// invalidGeometry mode and transforms it to the first CRS seen, for the
// nodes that combine geometries of several features. which names the
// features in errors ("feature", "overlay feature").
type geometryIntake struct {
	nc    *nodeCtx
	mode  string
	which string
	seen  int
	al    crsAligner
}

// take returns f with its checked geometry and that geometry in the
// common CRS; keep is false for a feature the mode skips.
func (in *geometryIntake) take(f Feature) (checked Feature, aligned geom.Geometry, keep bool, err error) {
	in.seen++
	g, keep, err := in.nc.checkFeature(in.mode, in.which, in.seen, f)
	if err != nil || !keep {
		return f, geom.Geometry{}, false, err
	}
	f = withGeometry(f, g)
	aligned, err = in.al.align(f)
	return f, aligned, err == nil, err
}

func (e *Engine) unionNode() *NodeType {
	return &NodeType{
		Type: "geoprocessing.union", Category: "transform", MinInputs: 1, MaxInputs: -1, HasOutput: true,
		InputNotes:  "Any number of inputs; all their features are merged.",
		Description: "Merges the geometries of all features of all inputs into one feature (attribute feature_count). Inputs in other CRSs are transformed to the first feature's CRS. Reads its whole input.",
		Parameters:  []ParamSpec{invalidGeometryParam},
		build: func(p params) (nodeFunc, error) {
			return logInvalid(unionOp{mode: invalidMode(p)}.run), nil
		},
	}
}

// unionOp is geoprocessing.union: one feature, the union of all.
type unionOp struct{ mode string }

func (o unionOp) run(ctx context.Context, nc *nodeCtx) error {
	r := unionRun{in: geometryIntake{nc: nc, mode: o.mode, which: "feature"}}
	if err := nc.each(ctx, r.add); err != nil {
		return err
	}
	if r.u.n == 0 {
		return nil
	}
	g, err := r.u.result()
	if err != nil {
		return err
	}
	return nc.emit(ctx, Feature{Geometry: g, CRS: r.in.al.crs, Props: Properties{{Key: "feature_count", Value: int64(r.u.n)}}})
}

// unionRun holds one run's union.
type unionRun struct {
	in geometryIntake
	u  unionFolder
}

func (r *unionRun) add(f Feature) error {
	_, g, keep, err := r.in.take(f)
	if err != nil || !keep {
		return err
	}
	return r.u.add(g)
}

func (e *Engine) dissolveNode() *NodeType {
	return withInvalidParam(oneInput(&NodeType{
		Type:        "geoprocessing.dissolve",
		Description: "Merges the geometries of features that share the values of the by attributes (all features when by is empty) into one feature per group, with the by attributes and feature_count. Reads its whole input.",
		Parameters: []ParamSpec{
			{Name: "by", Type: "strings", Description: "Attribute name or names to group by."},
		},
		build: func(p params) (nodeFunc, error) {
			return logInvalid(dissolveOp{by: p.strs("by"), mode: invalidMode(p)}.run), nil
		},
	}))
}

// dissolveOp is geoprocessing.dissolve: one feature per group of equal
// by values, in the order the groups first appear.
type dissolveOp struct {
	by   []string
	mode string
}

func (o dissolveOp) run(ctx context.Context, nc *nodeCtx) error {
	r := dissolveRun{by: o.by, in: geometryIntake{nc: nc, mode: o.mode, which: "feature"}, groups: map[string]*dissolveGroup{}}
	if err := nc.each(ctx, r.add); err != nil {
		return err
	}
	for _, k := range r.order {
		g := r.groups[k]
		res, err := g.u.result()
		if err != nil {
			return err
		}
		props := append(g.props, Property{Key: "feature_count", Value: int64(g.u.n)})
		if err := nc.emit(ctx, Feature{Geometry: res, CRS: r.in.al.crs, Props: props}); err != nil {
			return err
		}
		delete(r.groups, k)
	}
	return nil
}

// dissolveGroup is one group's by values and the union of its geometries.
type dissolveGroup struct {
	props Properties
	u     unionFolder
}

// dissolveRun holds one run's groups.
type dissolveRun struct {
	by     []string
	in     geometryIntake
	groups map[string]*dissolveGroup
	order  []string
}

func (r *dissolveRun) add(f Feature) error {
	f, g, keep, err := r.in.take(f)
	if err != nil || !keep {
		return err
	}
	props := make(Properties, len(r.by))
	var key strings.Builder
	for i, k := range r.by {
		v, _ := f.Props.Get(k)
		props[i] = Property{Key: k, Value: v}
		fmt.Fprintf(&key, "%T:%v\x00", v, v)
	}
	grp, ok := r.groups[key.String()]
	if !ok {
		grp = &dissolveGroup{props: props}
		r.groups[key.String()] = grp
		r.order = append(r.order, key.String())
	}
	return grp.u.add(g)
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
				return logInvalid(mapFeatures(guardGeometry(mode, featureHull))), nil
			}
			return logInvalid(hullOp{mode: mode}.run), nil
		},
	}))
}

func featureHull(_ *nodeCtx, f Feature) (Feature, bool, error) {
	return withGeometry(f, f.Geometry.ConvexHull()), true, nil
}

// hullOp is geoprocessing.convex_hull over all features: one feature.
type hullOp struct{ mode string }

func (o hullOp) run(ctx context.Context, nc *nodeCtx) error {
	r := hullRun{in: geometryIntake{nc: nc, mode: o.mode, which: "feature"}}
	if err := nc.each(ctx, r.add); err != nil {
		return err
	}
	if r.n == 0 {
		return nil
	}
	r.fold()
	return nc.emit(ctx, Feature{Geometry: r.hull, CRS: r.in.al.crs, Props: Properties{{Key: "feature_count", Value: int64(r.n)}}})
}

// hullRun folds geometries into a running hull a chunk at a time.
type hullRun struct {
	in    geometryIntake
	hull  geom.Geometry
	chunk []geom.Geometry
	n     int
}

func (r *hullRun) add(f Feature) error {
	_, g, keep, err := r.in.take(f)
	if err != nil || !keep {
		return err
	}
	r.n++
	r.chunk = append(r.chunk, g)
	if len(r.chunk) >= foldChunk*5 {
		r.fold()
	}
	return nil
}

func (r *hullRun) fold() {
	if len(r.chunk) == 0 {
		return
	}
	r.hull = geom.NewGeometryCollection(append(r.chunk, r.hull)).AsGeometry().ConvexHull()
	r.chunk = r.chunk[:0]
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
			return logInvalid(overlayOp{mode: invalidMode(p), op: op, keepOutside: keepOutside}.run), nil
		},
	}
}

// overlayOp applies op to each subject feature and the union of the
// overlay layer; keepOutside passes on subjects the layer does not reach
// (difference) instead of dropping them (intersection).
type overlayOp struct {
	mode        string
	op          func(a, b geom.Geometry) (geom.Geometry, error)
	keepOutside bool
}

func (o overlayOp) run(ctx context.Context, nc *nodeCtx) error {
	if nc.inputCount() != 2 {
		return errors.New("needs exactly two inputs")
	}
	r := &overlayRun{overlayOp: o, ctx: ctx, nc: nc, layer: geometryIntake{nc: nc, mode: o.mode, which: "overlay feature"}}
	return secondThenFirst(ctx, nc, r.addLayer, r.subjects)
}

// overlayRun holds one run's overlay layer: its union while it is read,
// then that union in each CRS a subject came in.
type overlayRun struct {
	overlayOp
	ctx   context.Context
	nc    *nodeCtx
	layer geometryIntake
	u     unionFolder
	mask  geom.Geometry
	masks map[int]geom.Geometry // by CRS; nil until the layer is folded
	n     int                   // subject features seen
}

func (r *overlayRun) addLayer(b []Feature) error {
	for _, f := range b {
		_, g, keep, err := r.layer.take(f)
		if err != nil {
			return err
		}
		if !keep {
			continue
		}
		if err := r.u.add(g); err != nil {
			return err
		}
	}
	return nil
}

func (r *overlayRun) subjects(b []Feature) error {
	if r.masks == nil {
		// The overlay layer has been read whole: fold it once.
		var err error
		if r.mask, err = r.u.result(); err != nil {
			return err
		}
		r.masks = map[int]geom.Geometry{r.layer.al.crs: r.mask}
	}
	for _, f := range b {
		if err := r.subject(f); err != nil {
			return err
		}
	}
	return nil
}

func (r *overlayRun) subject(f Feature) error {
	r.n++
	checked, keep, err := r.nc.checkFeature(r.mode, "feature", r.n, f)
	if err != nil || !keep {
		return err
	}
	f = withGeometry(f, checked)
	m, err := r.maskIn(f.CRS)
	if err != nil {
		return err
	}
	g := f.Geometry
	switch {
	case m.IsEmpty() || !f.Geometry.Envelope().Intersects(m.Envelope()):
		if !r.keepOutside {
			return nil
		}
	default:
		if g, err = r.op(f.Geometry, m); err != nil {
			return fmt.Errorf("feature %d%s: %v", r.n, feature.IDSuffix(f), err)
		}
	}
	if g.IsEmpty() {
		return nil
	}
	return r.nc.emit(r.ctx, withGeometry(f, g))
}

// maskIn is the overlay layer's union in the given CRS.
func (r *overlayRun) maskIn(crs int) (geom.Geometry, error) {
	if m, ok := r.masks[crs]; ok {
		return m, nil
	}
	t, err := (&transformerCache{to: crs}).get(r.layer.al.crs)
	if err != nil {
		return geom.Geometry{}, err
	}
	m, err := transformGeometry(r.mask, t)
	if err != nil {
		return geom.Geometry{}, err
	}
	r.masks[crs] = m
	return m, nil
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
