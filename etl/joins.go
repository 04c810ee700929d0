package etl

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"

	"github.com/geoetl/geoetl/etl/feature"
	"github.com/peterstace/simplefeatures/geom"
	"github.com/peterstace/simplefeatures/rtree"
)

// joinInputs checks a join's two inputs and reads them with
// secondThenFirst: the right side whole, then the left.
func joinInputs(ctx context.Context, nc *nodeCtx, right, left func([]Feature) error) error {
	if nc.inputCount() != 2 {
		return errors.New("needs exactly two inputs: the left features first, the right features second")
	}
	return secondThenFirst(ctx, nc, right, left)
}

// secondThenFirst reads the second input (the second edge) to its end with
// second, then hands the first input's batches to first. Meanwhile the
// first input is spooled, so that a source feeding both never blocks. On
// every return the first input's reader is stopped and waited for before
// the spool is closed.
func secondThenFirst(ctx context.Context, nc *nodeCtx, second, first func([]Feature) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	in := &firstInput{ctx: ctx, sp: newSpool(), live: make(chan []Feature), done: make(chan error, 1)}
	defer in.sp.close()
	go in.read(nc)
	defer in.stop(cancel)
	if err := nc.eachBatch(ctx, 1, second); err != nil {
		return err
	}
	in.goLive()
	if err := in.sp.replay(first); err != nil {
		return err
	}
	in.sp.close()
	for b := range in.live {
		if err := first(b); err != nil {
			return err
		}
	}
	return <-in.done
}

// firstInput reads the first input of secondThenFirst in its own
// goroutine: into the spool until the second input has been read, then
// on through live.
type firstInput struct {
	ctx   context.Context
	sp    *spool
	mu    sync.Mutex
	ready bool // batches go to live, not to the spool
	live  chan []Feature
	done  chan error
}

func (in *firstInput) read(nc *nodeCtx) {
	err := nc.eachBatch(in.ctx, 0, in.accept)
	close(in.live)
	in.done <- err
}

func (in *firstInput) accept(b []Feature) error {
	in.mu.Lock()
	if !in.ready {
		err := in.sp.add(b)
		in.mu.Unlock()
		return err
	}
	in.mu.Unlock()
	select {
	case in.live <- b:
		return nil
	case <-in.ctx.Done():
		return in.ctx.Err()
	}
}

func (in *firstInput) goLive() {
	in.mu.Lock()
	in.ready = true
	in.mu.Unlock()
}

// stop cancels the reader and waits for it to end.
func (in *firstInput) stop(cancel context.CancelFunc) {
	cancel()
	for range in.live {
	}
}

// joinKey gives equal keys to values that compare equal: integers and
// integral reals alike, text apart from numbers; null never matches.
func joinKey(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case int64:
		return "n" + strconv.FormatInt(x, 10), true
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<63 {
			return "n" + strconv.FormatInt(int64(x), 10), true
		}
		return "f" + strconv.FormatFloat(x, 'g', -1, 64), true
	case string:
		return "s" + x, true
	case bool:
		return "b" + strconv.FormatBool(x), true
	}
	return "j" + feature.FormatValue(v), true
}

// rightSide holds the right input's features and the union of their
// attribute names, in first-seen order.
type rightSide struct {
	feats []Feature
	names []string
	seen  map[string]bool
}

func (r *rightSide) add(f Feature) {
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	for _, kv := range f.Props {
		if !r.seen[kv.Key] {
			r.seen[kv.Key] = true
			r.names = append(r.names, kv.Key)
		}
	}
	r.feats = append(r.feats, f)
}

// merge appends the right feature's attributes (or nulls when right is
// nil) to the left's; a right name the left already has gets "_right".
func (r *rightSide) merge(left Feature, right *Feature, extra ...Property) Feature {
	props := make(Properties, len(left.Props), len(left.Props)+len(r.names)+len(extra))
	copy(props, left.Props)
	for _, name := range r.names {
		var v any
		if right != nil {
			v, _ = right.Props.Get(name)
		}
		key := name
		if _, clash := left.Props.Get(name); clash {
			key = name + "_right"
		}
		props = append(props, Property{Key: key, Value: v})
	}
	props = append(props, extra...)
	left.Props = props
	return left
}

func joinInputNotes() string {
	return "Two inputs, in edge order: the first edge brings the left features (kept with their geometry), the second the right features (held in memory)."
}

func (e *Engine) attributeJoinNode() *NodeType {
	return &NodeType{
		Type: "join.attribute", Category: "transform", MinInputs: 2, MaxInputs: 2, HasOutput: true,
		InputNotes: joinInputNotes(),
		Description: "Joins the right features' attributes to the left features whose left_key equals their right_key (1 equals 1.0; text never equals a number; null matches nothing). " +
			"Like a SQL join, a left feature matching several right features comes out once per match (the log counts such keys). how left keeps unmatched left features with null right attributes; inner drops them. " +
			"Right attributes whose names the left feature already has get the suffix _right. The geometry is the left feature's.",
		Parameters: []ParamSpec{
			{Name: "left_key", Type: "string", Required: true, Description: "Attribute of the left features."},
			{Name: "right_key", Type: "string", Required: true, Description: "Attribute of the right features."},
			{Name: "how", Type: "string", Default: "left", Enum: []string{"left", "inner"}, Description: "Keep unmatched left features (left) or not (inner)."},
		},
		build: func(p params) (nodeFunc, error) {
			return attributeJoin{leftKey: p.str("left_key"), rightKey: p.str("right_key"), inner: p.str("how") == "inner"}.run, nil
		},
	}
}

// attributeJoin is join.attribute: right features indexed by right key,
// left features looked up by left key.
type attributeJoin struct {
	leftKey, rightKey string
	inner             bool
}

func (j attributeJoin) run(ctx context.Context, nc *nodeCtx) error {
	r := &attributeJoinRun{attributeJoin: j, ctx: ctx, nc: nc, index: map[string][]int{}}
	if err := joinInputs(ctx, nc, r.addRight, r.joinLeft); err != nil {
		return err
	}
	dup := 0
	for _, m := range r.index {
		if len(m) > 1 {
			dup++
		}
	}
	if dup > 0 {
		nc.log("warn", "%d right_key values occur more than once on the right; left features matching them came out once per match", dup)
	}
	return nil
}

// attributeJoinRun holds one run's right side and its key index.
type attributeJoinRun struct {
	attributeJoin
	ctx   context.Context
	nc    *nodeCtx
	rs    rightSide
	index map[string][]int // right key -> positions in rs.feats
}

func (r *attributeJoinRun) addRight(b []Feature) error {
	for _, f := range b {
		if k, ok := joinKey(propOrNil(f.Props, r.rightKey)); ok {
			r.index[k] = append(r.index[k], len(r.rs.feats))
		}
		r.rs.add(f)
	}
	return nil
}

func (r *attributeJoinRun) joinLeft(b []Feature) error {
	for _, f := range b {
		k, ok := joinKey(propOrNil(f.Props, r.leftKey))
		matches := r.index[k]
		if !ok || len(matches) == 0 {
			if r.inner {
				continue
			}
			if err := r.nc.emit(r.ctx, r.rs.merge(f, nil)); err != nil {
				return err
			}
			continue
		}
		for _, i := range matches {
			if err := r.nc.emit(r.ctx, r.rs.merge(f, &r.rs.feats[i])); err != nil {
				return err
			}
		}
	}
	return nil
}

func propOrNil(p Properties, k string) any {
	v, _ := p.Get(k)
	return v
}

func (e *Engine) spatialJoinNode() *NodeType {
	return &NodeType{
		Type: "join.spatial", Category: "transform", MinInputs: 2, MaxInputs: 2, HasOutput: true,
		InputNotes: joinInputNotes(),
		Description: "Joins the attributes of right features to the left features they relate to: intersects (within max_distance when it is given), within (left inside right), contains (left contains right), or nearest (the closest right feature, within max_distance when given; its distance is the attribute join_distance). " +
			"A left feature matching several right features comes out once per match (nearest: once, ties to the first right feature). how left keeps unmatched left features with null right attributes; inner drops them. " +
			"Both inputs must be in the same CRS (reproject one first); the right features are held in memory under an R-tree.",
		Parameters: []ParamSpec{
			{Name: "predicate", Type: "string", Default: "intersects", Enum: []string{"intersects", "within", "contains", "nearest"}, Description: "How left and right features relate."},
			{Name: "max_distance", Type: "number", Description: "For intersects and nearest: the largest distance, in CRS units, at which features still match."},
			{Name: "how", Type: "string", Default: "left", Enum: []string{"left", "inner"}, Description: "Keep unmatched left features (left) or not (inner)."},
		},
		check: func(p params, add func(string, string, ...any)) {
			if p.has("max_distance") {
				if p.num("max_distance") < 0 {
					add("max_distance", "must not be negative")
				}
				if pr := p.str("predicate"); pr == "within" || pr == "contains" {
					add("max_distance", "applies to intersects and nearest only, not %s", pr)
				}
			}
		},
		build: func(p params) (nodeFunc, error) {
			pred, inner := p.str("predicate"), p.str("how") == "inner"
			maxDist, hasMax := p.num("max_distance"), p.has("max_distance")
			if hasMax && (pred == "within" || pred == "contains") {
				return nil, fmt.Errorf("max_distance applies to intersects and nearest only")
			}
			return spatialJoin{pred: pred, inner: inner, maxDist: maxDist, hasMax: hasMax}.run, nil
		},
	}
}

// spatialJoin is join.spatial: right features under an R-tree, each left
// feature matched against it by pred.
type spatialJoin struct {
	pred    string
	inner   bool
	maxDist float64
	hasMax  bool
}

func (j spatialJoin) run(ctx context.Context, nc *nodeCtx) error {
	r := &spatialJoinRun{spatialJoin: j, ctx: ctx, nc: nc}
	return joinInputs(ctx, nc, r.addRight, r.joinLeft)
}

// spatialJoinRun holds one run's right side: its features and CRS, their
// boxes while they are read, then the R-tree built from them.
type spatialJoinRun struct {
	spatialJoin
	ctx      context.Context
	nc       *nodeCtx
	rs       rightSide
	rightCRS int
	items    []rtree.BulkItem
	tree     *rtree.RTree
	n        int // left features seen
}

func (r *spatialJoinRun) addRight(b []Feature) error {
	for _, f := range b {
		if len(r.rs.feats) == 0 {
			r.rightCRS = f.CRS
		} else if f.CRS != r.rightCRS {
			return fmt.Errorf("right feature %d%s is in %s, earlier ones in %s", len(r.rs.feats)+1, feature.IDSuffix(f), crsName(f.CRS), crsName(r.rightCRS))
		}
		if box, ok := f.Geometry.Envelope().AsBox(); ok {
			r.items = append(r.items, rtree.BulkItem{Box: box, RecordID: len(r.rs.feats)})
		}
		r.rs.add(f)
	}
	return nil
}

func (r *spatialJoinRun) joinLeft(b []Feature) error {
	if r.tree == nil {
		r.tree = rtree.BulkLoad(r.items)
		r.items = nil
	}
	for _, f := range b {
		if err := r.joinOne(f); err != nil {
			return err
		}
	}
	return nil
}

func (r *spatialJoinRun) joinOne(f Feature) error {
	r.n++
	if len(r.rs.feats) > 0 && f.CRS != r.rightCRS {
		return fmt.Errorf("left feature %d%s is in %s but the right features are in %s; add geoprocessing.reproject to one side", r.n, feature.IDSuffix(f), crsName(f.CRS), crsName(r.rightCRS))
	}
	matched, err := spatialMatches(r.tree, r.rs.feats, f.Geometry, r.pred, r.maxDist, r.hasMax, func(i int, d float64) error {
		return r.emit(f, &r.rs.feats[i], d)
	})
	if err != nil {
		return fmt.Errorf("left feature %d%s: %w", r.n, feature.IDSuffix(f), err)
	}
	if !matched && !r.inner {
		return r.emit(f, nil, nil)
	}
	return nil
}

// emit passes on left joined with right (nil: unmatched), with the
// distance as join_distance for nearest.
func (r *spatialJoinRun) emit(left Feature, right *Feature, distance any) error {
	var extra []Property
	if r.pred == "nearest" {
		extra = []Property{{Key: "join_distance", Value: distance}}
	}
	return r.nc.emit(r.ctx, r.rs.merge(left, right, extra...))
}

// spatialMatches calls emit for every right feature that relates to g,
// in right-input order (nearest: the single closest).
func spatialMatches(tree *rtree.RTree, right []Feature, g geom.Geometry, pred string, maxDist float64, hasMax bool, emit func(i int, d float64) error) (bool, error) {
	if g.IsEmpty() || tree == nil {
		return false, nil
	}
	env := g.Envelope()
	if pred == "nearest" {
		box, _ := env.AsBox()
		best, bestD := -1, math.Inf(1)
		stop := errors.New("stop")
		err := tree.PrioritySearch(box, func(i int) error {
			boxD, _ := env.Distance(right[i].Geometry.Envelope())
			if boxD > bestD || (hasMax && boxD > maxDist) {
				return stop
			}
			d, ok := geom.Distance(g, right[i].Geometry)
			if !ok {
				return nil
			}
			if d < bestD || (d == bestD && i < best) {
				best, bestD = i, d
			}
			return nil
		})
		if err != nil && !errors.Is(err, stop) {
			return false, err
		}
		if best < 0 || (hasMax && bestD > maxDist) {
			return false, nil
		}
		return true, emit(best, bestD)
	}
	if hasMax {
		lo, _ := env.Min().XY()
		hi, _ := env.Max().XY()
		env = geom.NewEnvelope(geom.XY{X: lo.X - maxDist, Y: lo.Y - maxDist}, geom.XY{X: hi.X + maxDist, Y: hi.Y + maxDist})
	}
	box, _ := env.AsBox()
	var cands []int
	if err := tree.RangeSearch(box, func(i int) error { cands = append(cands, i); return nil }); err != nil {
		return false, err
	}
	slices.Sort(cands)
	matched := false
	for _, i := range cands {
		r := right[i].Geometry
		var ok bool
		var err error
		switch pred {
		case "intersects":
			if hasMax && maxDist > 0 {
				d, has := geom.Distance(g, r)
				ok = has && d <= maxDist
			} else {
				ok = geom.Intersects(g, r)
			}
		case "within":
			ok, err = geom.Within(g, r)
		case "contains":
			ok, err = geom.Contains(g, r)
		}
		if err != nil {
			return matched, fmt.Errorf("%s with right feature %d: %v", pred, i+1, err)
		}
		if ok {
			matched = true
			if err := emit(i, 0); err != nil {
				return matched, err
			}
		}
	}
	return matched, nil
}
