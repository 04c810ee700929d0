package gpkg

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/geoetl/geoetl/etl/internal/hilbert"
)

// rtreeBuilder fills the spatial index of a new GeoPackage table by
// writing a packed R-tree straight into the shadow tables of SQLite's
// rtree module (<name>_node, <name>_rowid, <name>_parent), as GDAL does
// for bulk loads, instead of inserting entry by entry. Entries arrive in
// chunks; each chunk is sorted along a Hilbert curve and packed into a
// subtree of fixed height, and the subtrees are joined under common
// parents at the end, so memory holds one chunk (about 6 MB) at a time.
// The result passes SQLite's rtreecheck().
type rtreeBuilder struct {
	ctx      context.Context
	tx       *sql.Tx
	name     string // rtree table, unquoted
	nodeSize int    // bytes per node blob, as the module created the root
	next     int64  // next free node number; 1 is the root
	roots    []rcell
	rowids   []any
	parents  []any
}

type rtreeEntry struct {
	fid                    int64
	minx, maxx, miny, maxy float64
}

// rcell is a cell of a node: a feature id (leaves) or a child node number,
// with its box in float32 as SQLite stores it.
type rcell struct {
	id  int64
	box [4]float32 // minx, maxx, miny, maxy
}

const (
	rtreeFanout = 51 // cells per node for 2-D boxes with 4 KiB pages
	// rtreeChunk entries fill a subtree of height 2 (51^3).
	rtreeChunk       = rtreeFanout * rtreeFanout * rtreeFanout
	rtreeChunkHeight = 2
	rtreeCellBytes   = 8 + 4*4
)

func newRtreeBuilder(ctx context.Context, tx *sql.Tx, name string) (*rtreeBuilder, error) {
	b := &rtreeBuilder{ctx: ctx, tx: tx, name: name, next: 2}
	if err := tx.QueryRowContext(ctx, "SELECT length(data) FROM "+quoteIdent(name+"_node")+" WHERE nodeno = 1").Scan(&b.nodeSize); err != nil {
		return nil, fmt.Errorf("spatial index: %v", err)
	}
	if b.nodeSize < 4+rtreeFanout*rtreeCellBytes {
		return nil, fmt.Errorf("spatial index: unexpected node size %d", b.nodeSize)
	}
	return b, nil
}

// SQLite rounds boxes outwards when it stores them as float32.
const (
	rndTowards = 1.0 - 1.0/8388608.0
	rndAway    = 1.0 + 1.0/8388608.0
)

func roundDown(d float64) float32 {
	f := float32(d)
	if float64(f) > d {
		if d < 0 {
			f = float32(d * rndAway)
		} else {
			f = float32(d * rndTowards)
		}
	}
	return f
}

func roundUp(d float64) float32 {
	f := float32(d)
	if float64(f) < d {
		if d < 0 {
			f = float32(d * rndTowards)
		} else {
			f = float32(d * rndAway)
		}
	}
	return f
}

// sortHilbert orders entries by the Hilbert index of their centres.
func sortHilbert(es []rtreeEntry) {
	minx, miny := math.Inf(1), math.Inf(1)
	maxx, maxy := math.Inf(-1), math.Inf(-1)
	for _, e := range es {
		minx, maxx = math.Min(minx, e.minx), math.Max(maxx, e.maxx)
		miny, maxy = math.Min(miny, e.miny), math.Max(maxy, e.maxy)
	}
	type keyed struct {
		key uint64
		e   rtreeEntry
	}
	ks := make([]keyed, len(es))
	for i, e := range es {
		ks[i] = keyed{hilbert.Index(((e.minx+e.maxx)/2-minx)/(maxx-minx+1e-300), ((e.miny+e.maxy)/2-miny)/(maxy-miny+1e-300)), e}
	}
	sort.Slice(ks, func(a, b int) bool { return ks[a].key < ks[b].key })
	for i := range ks {
		es[i] = ks[i].e
	}
}

// addChunk packs a full chunk of entries into a subtree.
func (b *rtreeBuilder) addChunk(es []rtreeEntry) error {
	root, err := b.subtree(es, rtreeChunkHeight, false)
	if err != nil {
		return err
	}
	b.roots = append(b.roots, root)
	return nil
}

// finish packs the remaining entries and writes the root (node 1).
func (b *rtreeBuilder) finish(rest []rtreeEntry) error {
	if len(b.roots) == 0 {
		if len(rest) == 0 {
			return nil // the empty root the module created stays
		}
		if _, err := b.subtree(rest, 0, true); err != nil {
			return err
		}
		return b.flushMaps()
	}
	if len(rest) > 0 {
		if err := b.addChunk(rest); err != nil {
			return err
		}
	}
	level, height := b.roots, rtreeChunkHeight
	for {
		height++
		if len(level) <= rtreeFanout {
			if err := b.writeNode(1, height, level); err != nil {
				return err
			}
			return b.flushMaps()
		}
		var err error
		if level, err = b.packLevel(level, height); err != nil {
			return err
		}
	}
}

// subtree packs sorted entries into nodes up to at least minHeight; with
// asRoot the top node becomes node 1.
func (b *rtreeBuilder) subtree(es []rtreeEntry, minHeight int, asRoot bool) (rcell, error) {
	sortHilbert(es)
	cells := make([]rcell, len(es))
	for i, e := range es {
		cells[i] = rcell{id: e.fid, box: [4]float32{roundDown(e.minx), roundUp(e.maxx), roundDown(e.miny), roundUp(e.maxy)}}
	}
	if asRoot && len(cells) <= rtreeFanout {
		if err := b.writeNode(1, 0, cells); err != nil {
			return rcell{}, err
		}
		for _, c := range cells {
			b.rowids = append(b.rowids, c.id, int64(1))
		}
		return rcell{id: 1}, nil
	}
	level, err := b.packLevel(cells, 0)
	if err != nil {
		return rcell{}, err
	}
	for height := 1; len(level) > 1 || height <= minHeight; height++ {
		if asRoot && len(level) <= rtreeFanout {
			if err := b.writeNode(1, height, level); err != nil {
				return rcell{}, err
			}
			return rcell{id: 1}, nil
		}
		if level, err = b.packLevel(level, height); err != nil {
			return rcell{}, err
		}
	}
	return level[0], nil
}

// packLevel groups cells into nodes of up to rtreeFanout cells at the
// given height (0 for leaves) and returns the cells that point to them.
func (b *rtreeBuilder) packLevel(cells []rcell, height int) ([]rcell, error) {
	out := make([]rcell, 0, (len(cells)+rtreeFanout-1)/rtreeFanout)
	for start := 0; start < len(cells); start += rtreeFanout {
		group := cells[start:min(start+rtreeFanout, len(cells))]
		no := b.next
		b.next++
		if err := b.writeNode(no, 0, group); err != nil {
			return nil, err
		}
		for _, c := range group {
			if height == 0 {
				b.rowids = append(b.rowids, c.id, no)
			} else {
				b.parents = append(b.parents, c.id, no)
			}
		}
		out = append(out, rcell{id: no, box: unionBox(group)})
	}
	return out, b.flushMapsIfLarge()
}

func unionBox(cs []rcell) [4]float32 {
	box := cs[0].box
	for _, c := range cs[1:] {
		box[0] = min(box[0], c.box[0])
		box[1] = max(box[1], c.box[1])
		box[2] = min(box[2], c.box[2])
		box[3] = max(box[3], c.box[3])
	}
	return box
}

// writeNode stores a node; depth is written into the root only.
func (b *rtreeBuilder) writeNode(no int64, depth int, cells []rcell) error {
	data := make([]byte, b.nodeSize)
	if no == 1 {
		binary.BigEndian.PutUint16(data[0:], uint16(depth))
		for _, c := range cells {
			if c.id != 0 && depth > 0 {
				b.parents = append(b.parents, c.id, int64(1))
			}
		}
	}
	binary.BigEndian.PutUint16(data[2:], uint16(len(cells)))
	for i, c := range cells {
		off := 4 + i*rtreeCellBytes
		binary.BigEndian.PutUint64(data[off:], uint64(c.id))
		for j, v := range c.box {
			binary.BigEndian.PutUint32(data[off+8+4*j:], math.Float32bits(v))
		}
	}
	_, err := b.tx.ExecContext(b.ctx, "INSERT OR REPLACE INTO "+quoteIdent(b.name+"_node")+" (nodeno, data) VALUES (?, ?)", no, data)
	if err != nil {
		return fmt.Errorf("spatial index: %v", err)
	}
	return nil
}

func (b *rtreeBuilder) flushMapsIfLarge() error {
	if len(b.rowids) >= 20000 || len(b.parents) >= 20000 {
		return b.flushMaps()
	}
	return nil
}

// flushMaps writes the rowid-to-leaf and node-to-parent maps, 500 pairs
// per statement.
func (b *rtreeBuilder) flushMaps() error {
	for _, m := range []struct {
		table, cols string
		args        *[]any
	}{{b.name + "_rowid", "(rowid, nodeno)", &b.rowids}, {b.name + "_parent", "(nodeno, parentnode)", &b.parents}} {
		args := *m.args
		for start := 0; start < len(args); start += 1000 {
			part := args[start:min(start+1000, len(args))]
			q := "INSERT INTO " + quoteIdent(m.table) + " " + m.cols + " VALUES " + strings.TrimSuffix(strings.Repeat("(?, ?), ", len(part)/2), ", ")
			if _, err := b.tx.ExecContext(b.ctx, q, part...); err != nil {
				return fmt.Errorf("spatial index: %v", err)
			}
		}
		*m.args = args[:0]
	}
	return nil
}
